// The operator's commands (`get`, `list`, the controls) as a user runs
// them, from the package's bin against a real `serve` with a controller
// stepping the entity: what they print, their exit status, `--wait-for`
// and `--timeout`, and `get --watch` redrawing in a real terminal (tmux),
// read back from its final screen.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

import { MemoryStore } from "orchestrator-engine/stores";
import { startServer } from "orchestrator-engine/server/node";

const BIN = fileURLToPath(new URL("../../bin/orchestrator-engine.mjs", import.meta.url));
let server;
let driving;

/** The CLI with `args`, token from the environment: `{ code, stdout, stderr }`. */
function cli(args, token = "w") {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args, "--server", server.url], { env: { ...process.env, ORCHESTRATOR_TOKEN: token }, timeout: 120_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? (error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const call = async (method, path, body) => {
  const response = await fetch(`${server.url}/v1/orchestrate/prod/api${path}`, { method, headers: { authorization: "Bearer w" }, body: body && JSON.stringify(body) });
  return response.json();
};

/** A controller in this process: 10 hosts stepped every 100 ms, installing what they are told; `broken` versions report errors. */
function drive(broken) {
  let hosts = Array.from({ length: 10 }, (_, i) => ({ name: `h${i}`, group: "", version: "v1", message: "", isError: false }));
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const answer = await call("POST", "", hosts.map((h) => ({ ...h, isError: broken.includes(h.version) })));
      if (Array.isArray(answer)) hosts = hosts.map((h) => ({ ...h, version: answer.find((a) => a.name === h.name)?.version ?? h.version }));
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  return { stop: () => ((stopped = true), loop) };
}

before(async () => {
  server = await startServer({ port: 0, store: new MemoryStore(), token: "w", readToken: "r", log: () => {} });
  await call("PUT", "/options", { batchPercent: 50, successTimeoutSecs: 0, durationTimeoutSecs: 2 });
  await call("POST", "/version", { version: "v1" });
  driving = drive(["v3"]);
  for (let i = 0; i < 100 && (await call("GET", "/info")).lastKnownGoodVersion !== "v1"; i++) await new Promise((resolve) => setTimeout(resolve, 100));
});

after(async () => {
  await driving?.stop();
  await server?.stop();
});

test("get shows the entity; list every entity; the controls say what they did, and when nothing changed, why", async () => {
  const got = await cli(["get", "prod/api"]);
  assert.equal(got.code, 0, got.stderr);
  assert.match(got.stdout, /^Entity: {4}prod\/api\nState: {5}rolled out\nVersions: {2}target v1 · rolling v1 · good v1 · bad -\nTargets: {3}10 targets: 0 in flight, 10 succeeded, 0 failed \(the version is bad at 1\)\nPlan: {6}no plan: batches of 50%\nRevisions:\n {2}v1 +succeeded +\d{4}-\d\d-\d\d [\d:]+ UTC, took 0s, 0 moved, 0 failed\nEvents:\n/);
  assert.match(got.stdout, /version_good v1/);
  const listed = await cli(["list"]);
  assert.deepEqual(listed.stdout.trim().split("\n"), ["ENTITY    STATE       TARGET  GOOD  BAD", "prod/api  rolled out  v1      v1    -"]);

  assert.equal((await cli(["pause", "prod/api"])).stdout, "prod/api: pause done\n");
  assert.equal((await cli(["pause", "prod/api"])).stdout, "prod/api: pause changed nothing; the rollout was already paused\n");
  assert.equal((await cli(["get", "prod/api"])).stdout.split("\n")[1], "State:     paused");
  assert.equal((await cli(["resume", "prod/api"])).stdout, "prod/api: resume done\n");
  // The read token reads, and is refused the controls, with the API's code.
  assert.equal((await cli(["get", "prod/api"], "r")).code, 0);
  const refused = await cli(["pause", "prod/api"], "r");
  assert.deepEqual([refused.code, refused.stdout], [1, ""]);
  assert.match(refused.stderr, /^orchestrator-engine pause: FORBIDDEN: /);
  const missing = await cli(["get", "prod/nope"]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /NOT_FOUND/);
});

test("--wait-for ends 0 on the state waited for, 1 on the other, 3 past --timeout; bad flags are 2", async () => {
  assert.equal((await cli(["set", "prod/api", "v2"])).stdout, "prod/api: set v2 done\n");
  const out = await cli(["get", "prod/api", "--wait-for", "rolled-out", "--timeout", "60"]);
  assert.equal(out.code, 0, out.stdout + out.stderr);
  assert.match(out.stdout.trim().split("\n").at(-1), /prod\/api rolled out target=v2 good=v2 bad=- 10 targets/);

  // v3 reports errors: rolled back, which is not what was waited for.
  await cli(["set", "prod/api", "v3"]);
  const bad = await cli(["get", "prod/api", "--wait-for", "rolled-out", "--timeout", "60"]);
  assert.equal(bad.code, 1, bad.stdout + bad.stderr);
  assert.match(bad.stdout, /prod\/api (rolling back|rolled back) target=v3 good=v2 bad=v3/);
  assert.equal((await cli(["get", "prod/api", "--wait-for", "rolled-back", "--timeout", "60"])).code, 0);

  // Paused mid-rollout: nothing ends it within the timeout.
  await cli(["pause", "prod/api"]);
  await cli(["set", "prod/api", "v4"]);
  const late = await cli(["get", "prod/api", "--wait-for", "rolled-out", "--timeout", "1"]);
  assert.equal(late.code, 3);
  assert.match(late.stdout, /prod\/api: not rolled-out within 1 s \((paused|rolled back)\)/);
  await cli(["resume", "prod/api"]);

  for (const args of [["get"], ["get", "prod/api", "--wait-for", "done"], ["get", "prod/api", "--timeout", "5"], ["pause", "prod/api", "--watch"], ["set", "prod/api"], ["list", "extra"], ["get", "prod/api", "--nope"]]) {
    const { code, stderr } = await cli(args);
    assert.equal(code, 2, args.join(" "));
    assert.match(stderr, /\(--help lists every flag\)\n$/, args.join(" "));
  }
  assert.match((await cli(["get", "--help"])).stdout, /--wait-for STATE/);
});

test("get --watch redraws in place in a terminal (tmux) on each event, and prints one line per change when piped", async () => {
  const session = `oe-${process.pid}`;
  const tmux = (...args) => execFileSync("tmux", args, { encoding: "utf8" });
  await call("POST", "/version", { version: "v4" });
  for (let i = 0; i < 200 && (await call("GET", "/info")).lastKnownGoodVersion !== "v4"; i++) await new Promise((resolve) => setTimeout(resolve, 100));
  const command = `ORCHESTRATOR_TOKEN=w ${process.execPath} ${BIN} get prod/api --watch --server ${server.url}`;
  tmux("new-session", "-d", "-s", session, "-x", "160", "-y", "50", command);
  try {
    const screen = () => tmux("capture-pane", "-p", "-t", session);
    const until = async (pattern) => {
      for (let i = 0; i < 200; i++) {
        if (pattern.test(screen())) return;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.fail(`the screen never showed ${pattern}:\n${screen()}`);
    };
    await until(/State: {5}rolled out\nVersions: {2}target v4/);
    // A new version: the same screen follows it to the end, redrawn in place.
    await call("POST", "/version", { version: "v5" });
    await until(/State: {5}rolled out\nVersions: {2}target v5 · rolling v5 · good v5 · bad v3/);
    const final = screen();
    assert.equal(final.match(/^Entity:/gm).length, 1, "one view on the screen, not one per redraw");
    assert.match(final, /version_good v5/);
  } finally {
    tmux("kill-session", "-t", session);
  }

  // Piped: one line per change, each a full summary.
  const child = execFile(process.execPath, [BIN, "get", "prod/api", "--watch", "--server", server.url], { env: { ...process.env, ORCHESTRATOR_TOKEN: "w" } });
  let piped = "";
  child.stdout.on("data", (d) => (piped += d));
  await new Promise((resolve) => setTimeout(resolve, 1000));
  await call("POST", "/version", { version: "v6" });
  for (let i = 0; i < 200 && !/rolled out target=v6 good=v6/.test(piped); i++) await new Promise((resolve) => setTimeout(resolve, 100));
  child.kill();
  const lines = piped.trim().split("\n");
  assert.match(lines[0], /^\d{4}-\d\d-\d\dT[\d:.]+Z prod\/api rolled out target=v5 /);
  assert.match(lines.at(-1), /prod\/api rolled out target=v6 good=v6 /);
  assert.ok(lines.some((l) => / rolling target=v6 /.test(l)), piped);
  assert.equal(new Set(lines.map((l) => l.slice(25))).size, lines.length, "a line only when something changed");
});

test("stop-line and start-line steer a namespace's line with a reason; pipeline shows the stages and why the entity waits", async () => {
  const stopped = await cli(["stop-line", "prod", "--reason", "incident 4711"]);
  assert.deepEqual([stopped.code, stopped.stdout], [0, "prod: the line is stopped\n"]);
  assert.equal((await cli(["stop-line", "prod", "--reason", "again"])).stdout, "prod: the line was stopped already\n");
  const line = await (await fetch(`${server.url}/v1/orchestrate/namespaces/prod/line`, { headers: { authorization: "Bearer r" } })).json();
  assert.equal(line.stopped.reason, "incident 4711");
  assert.equal((await cli(["stop-line", "prod", "--reason", "x"], "r")).code, 1, "the read token may not");
  assert.equal((await cli(["stop-line", "prod"])).code, 2, "a reason is needed");
  assert.deepEqual((await cli(["start-line", "prod"])).stdout, "prod: the line is started\n");
  assert.equal((await cli(["pipeline", "prod/api"])).stdout, "prod/api takes its versions from no other entity\n");
  await fetch(`${server.url}/v1/orchestrate/canary/api/version`, { method: "POST", headers: { authorization: "Bearer w" }, body: JSON.stringify({ version: "c1" }) });
  await fetch(`${server.url}/v1/orchestrate/canary/api/pipeline`, { method: "PUT", headers: { authorization: "Bearer w" }, body: JSON.stringify({ from: ["prod/api"], approval: true }) });
  const shown = await cli(["pipeline", "canary/api"]);
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, /^prod\/api {2}(runs|rolls out) /m);
  assert.match(shown.stdout, /^canary\/api {2}.*\(from prod\/api\)$/m);
  assert.equal((await cli(["approve-promotion", "canary/api", "v9"])).stdout, "canary/api: approve-promotion v9 done\n");
});
