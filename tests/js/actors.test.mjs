// Who did it: named tokens, and each control's actor on its events and on
// the revision it concerns, through Rollouts, the handler and `serve`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { MemoryStore } from "orchestrator-engine/stores";
import { Rollouts } from "orchestrator-engine/rollouts";
import { createHandler } from "orchestrator-engine/server";
import { Fleet, T0 } from "./fleet.mjs";

const BIN = fileURLToPath(new URL("../../bin/orchestrator-engine.mjs", import.meta.url));
const options = { batchPercent: 50, successPercent: 100, successTimeoutSecs: 30, durationTimeoutSecs: 120, steps: [{ size: 1, approval: true }, { size: "100%" }] };

/** Steps `fleet` through `rollouts` (as a controller would, 10 s apart) until `done`. */
async function drive(rollouts, fleet, clock, done, max = 60) {
  for (let i = 0; i < max; i++) {
    fleet.apply(await rollouts.orchestrate("prod", "api", fleet.reports()));
    if (await done()) return;
    clock.now += 10_000;
  }
  assert.fail("not done");
}

test("Rollouts.as names the actor of each control on its events and its revision; steps name no one", async () => {
  const clock = { now: T0 };
  const rollouts = new Rollouts({ store: new MemoryStore(), now: () => clock.now });
  const fleet = new Fleet(4, "v1");
  await rollouts.setRolloutOptions("prod", "api", { ...options, steps: [] });
  await rollouts.setTargetVersion("prod", "api", "v1");
  await drive(rollouts, fleet, clock, async () => (await rollouts.rolloutInfo("prod", "api")).lastKnownGoodVersion === "v1");
  await rollouts.setRolloutOptions("prod", "api", options);

  await rollouts.as("alice").setTargetVersion("prod", "api", "v2");
  await drive(rollouts, fleet, clock, async () => (await rollouts.rolloutInfo("prod", "api")).awaitingApproval);
  assert.equal(await rollouts.as("bob").approve("prod", "api"), true);
  assert.equal(await rollouts.as("bob").approve("prod", "api"), false, "nothing to approve: no event, no action");
  assert.deepEqual(await rollouts.as("carol").applyOnce("k1", "pause", "prod", "api"), { replayed: false, result: true });
  assert.equal(await rollouts.resume("prod", "api"), true);
  await drive(rollouts, fleet, clock, async () => (await rollouts.rolloutInfo("prod", "api")).lastKnownGoodVersion === "v2");

  const events = await rollouts.events("prod", "api");
  const named = events.filter((e) => e.actor !== undefined).map((e) => [e.kind, e.actor]);
  assert.deepEqual(named, [["version_set", "alice"], ["approved", "bob"], ["paused", "carol"]]);
  assert.ok(events.some((e) => e.kind === "resumed" && e.actor === undefined), "a control made as no one names no one");
  assert.ok(events.filter((e) => e.kind.startsWith("target_")).every((e) => e.actor === undefined));

  const v2 = (await rollouts.history("prod", "api")).find((r) => r.version === "v2");
  assert.deepEqual(v2.actions.map((a) => [a.kind, a.by]), [["version_set", "alice"], ["approved", "bob"], ["paused", "carol"]]);
  assert.deepEqual([v2.outcome, v2.stepsReached, v2.targetsMoved, v2.failures], ["succeeded", 2, 4, 0]);
  assert.ok(v2.firstEvent > 0 && events.find((e) => e.seq === v2.firstEvent));

  for (const bad of ["", "a\nb", "x".repeat(201), 7]) assert.throws(() => rollouts.as(bad), { code: /INVALID_NAME|INVALID_ARGUMENT/ });
});

test("named tokens: each request's actor is its token's name, read tokens only read, and /access says who", async () => {
  const clock = { now: T0 };
  const tokens = [
    { name: "alice", role: "write", token: "alice-secret" },
    { name: "Ünïcode viewer", role: "read", token: "view-secret" },
  ];
  const handler = createHandler({ store: new MemoryStore(), tokens, token: "plain-secret", now: () => clock.now });
  const call = (method, path, token, body) =>
    handler.fetch(
      new Request(`http://x/v1/orchestrate${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
    );
  assert.deepEqual(await (await call("GET", "/access", "alice-secret")).json(), { access: "write", actor: "alice" });
  assert.deepEqual(await (await call("GET", "/access", "view-secret")).json(), { access: "read", actor: "Ünïcode viewer" });
  assert.deepEqual(await (await call("GET", "/access", "plain-secret")).json(), { access: "write", actor: null });
  assert.deepEqual(await (await call("GET", "/access", "nobody")).json(), { access: null, actor: null });

  assert.equal((await call("POST", "/prod/api/version", "alice-secret", { version: "v1" })).status, 200);
  assert.equal((await call("POST", "/prod/api/version", "view-secret", { version: "v2" })).status, 403);
  assert.equal((await call("POST", "/prod/api/version", "plain-secret", { version: "v2" })).status, 200);
  const events = await (await call("GET", "/prod/api/events", "view-secret")).json();
  assert.deepEqual(
    events.map((e) => [e.kind, e.version, e.actor]),
    [
      ["version_set", "v1", "alice"],
      ["version_set", "v2", undefined],
    ],
  );
  // A step names no one, whoever's token made it.
  assert.equal((await call("POST", "/prod/api", "alice-secret", [{ name: "h1", group: "", version: "v1", message: "", isError: false }])).status, 200);
  const after = await (await call("GET", "/prod/api/events?since=2", "alice-secret")).json();
  assert.ok(after.length > 0 && after.every((e) => e.actor === undefined));

  // Named tokens are checked when the handler is made.
  const refusals = [
    [[{ name: "a", role: "admin", token: "t" }], /role must be "write" or "read"/],
    [[{ name: "", role: "read", token: "t" }], /name must be 1 to 200 bytes/],
    [[{ name: "a", role: "read", token: " t" }], /without whitespace/],
    [
      [
        { name: "a", role: "read", token: "t1" },
        { name: "a", role: "write", token: "t2" },
      ],
      /appears twice/,
    ],
    [
      [
        { name: "a", role: "read", token: "t1" },
        { name: "b", role: "write", token: "t1" },
      ],
      /also another entry's token/,
    ],
    [{ alice: "t" }, /must be an array/],
  ];
  for (const [bad, message] of refusals) assert.throws(() => createHandler({ store: new MemoryStore(), tokens: bad }), { code: "INVALID_ARGUMENT", message });
  // Named tokens alone secure a handler.
  assert.doesNotThrow(() => createHandler({ store: new MemoryStore(), tokens }));
});

test("serve --tokens-file: an approval over HTTP is its token's name's, on the event and the revision", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "actors-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "tokens.json");
  writeFileSync(file, JSON.stringify([{ name: "release-bot", role: "write", token: "bot-token" }]));
  const child = spawn(process.execPath, [BIN, "serve", "--port", "0", "--store", "memory:", "--tokens-file", file], { stdio: ["ignore", "pipe", "pipe"] });
  t.after(() => child.kill("SIGTERM"));
  const url = await new Promise((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (chunk) => {
      out += chunk;
      const line = out.split("\n").find((l) => l.includes('"listening"'));
      if (line) resolve(JSON.parse(line).url);
    });
    child.on("exit", (code) => reject(new Error(`serve exited ${code}`)));
  });
  const call = async (method, path, body) => {
    const response = await fetch(`${url}/v1/orchestrate${path}`, { method, headers: { authorization: "Bearer bot-token" }, body: body && JSON.stringify(body) });
    return [response.status, await response.json()];
  };
  assert.deepEqual(await call("GET", "/access"), [200, { access: "write", actor: "release-bot" }]);
  assert.equal((await call("PUT", "/prod/api/options", { steps: [{ size: 1, approval: true }, { size: "100%" }] }))[0], 200);
  assert.equal((await call("POST", "/prod/api/version", { version: "v1" }))[0], 200);
  const report = (version) => [0, 1].map((i) => ({ name: `h${i}`, group: "", version, message: "", isError: false }));
  await call("POST", "/prod/api", report("v1"));
  assert.equal((await call("POST", "/prod/api/version", { version: "v2" }))[0], 200);
  await call("POST", "/prod/api", report("v1"));
  const [, approved] = await call("POST", "/prod/api/approve");
  assert.equal(approved.changed, true);
  const [, history] = await call("GET", "/prod/api/history");
  const v2 = history.find((r) => r.version === "v2");
  assert.deepEqual(v2.actions.map((a) => [a.kind, a.by]), [["version_set", "release-bot"], ["approved", "release-bot"]]);
  // A tokens file that is not named tokens stops serve before it listens.
  writeFileSync(file, "[{}]");
  const bad = spawn(process.execPath, [BIN, "serve", "--port", "0", "--store", "memory:", "--tokens-file", file], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  bad.stderr.on("data", (chunk) => (stderr += chunk));
  const code = await new Promise((resolve) => bad.on("exit", resolve));
  assert.equal(code, 2);
  assert.match(stderr, /tokens-file .*\[0\] must be an object|name must be/);
});
