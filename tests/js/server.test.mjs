// The HTTP API (js/server): the Go engine's routes and JSON, driven as its
// own client drives them, against the Node server over every store on real
// servers; a restart mid-rollout; tokens; hostile requests; `serve`.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { Orchestrator } from "orchestrator-engine";
import { FileStore } from "orchestrator-engine/stores/file";
import { MemoryStore } from "orchestrator-engine/stores";
import { Rollouts } from "orchestrator-engine/rollouts";
import { createHandler } from "orchestrator-engine/server";
import { startServer } from "../../js/server/node.mjs";
import { storeKinds } from "./servers/stores.mjs";
import { clientStates, hostileLeaveStateAlone, hosts, loop, rolloutAndRollback } from "./servers/api-suite.mjs";
import { openStore } from "../../js/server/store-url.mjs";
import { readEvents as readServerSentEvents } from "../../www/dashboard/sse.mjs";

const T0 = 1_700_000_000_000;
const servers = await storeKinds();
const cleanups = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  await servers.stop();
});

/** The API on a free loopback port over `store`, in virtual time (`clock.now`). */
async function api(store, { clock = { now: T0 }, ...options } = {}) {
  const server = await startServer({ port: 0, store, now: () => clock.now, log: () => {}, ...options });
  cleanups.push(() => server.stop());
  const call = async (method, path, body, headers = {}) => {
    const response = await fetch(`${server.url}${path}`, {
      method,
      headers: { "content-type": "application/json", ...headers },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    }).catch((error) => {
      throw new Error(`${method} ${path}: ${error.cause?.message ?? error.message}`);
    });
    const text = await response.text();
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      json = text;
    }
    return { status: response.status, body: json };
  };
  return { server, call, clock };
}

describe("the Go engine's API over every store", () => {
  for (const [kind, open] of Object.entries(servers.kinds)) {
    test(`${kind}: a rollout and a rollback${kind === "memory" || kind.startsWith("postgres (pg") ? ", through a monitoring endpoint" : ""}`, async () => {
      const { store } = await open();
      await rolloutAndRollback(await api(store), { viaController: kind === "memory" || kind.startsWith("postgres (pg") });
    });
  }
});

test("a server restarted mid-rollout goes on where it stood (file store)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "api-restart-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const clock = { now: T0 };
  let handle = await api(new FileStore(dir), { clock });
  await handle.call("POST", "/v1/orchestrate/prod/api/options", { batchpercent: 25, successpercent: 100, successtimeoutsecs: 20, durationtimeoutsecs: 300 });
  const fleet = hosts(8, "v1");
  await handle.call("POST", "/v1/orchestrate/prod/api/version", { version: "v1" });
  await loop(handle, fleet, (r) => r.lastknowngoodversion === "v1");
  await handle.call("POST", "/v1/orchestrate/prod/api/version", { version: "v2" });
  await loop(handle, fleet, () => fleet.filter((h) => h.running === "v2").length >= 2);
  const before = (await handle.call("GET", "/v1/orchestrate/prod/api/events")).body;
  await handle.server.stop();
  handle = await api(new FileStore(dir), { clock });
  assert.deepEqual((await handle.call("GET", "/v1/orchestrate/prod/api/events")).body, before, "the new server reads the state the old one left");
  const moved = fleet.filter((h) => h.running === "v2").length;
  clock.now += 10_000;
  await loop(handle, fleet, (r) => r.lastknowngoodversion === "v2");
  const after = (await handle.call("GET", "/v1/orchestrate/prod/api/events")).body;
  assert.ok(moved < 8 && after.length > before.length);
  assert.ok(fleet.every((h) => h.running === "v2"));
  assert.ok(!after.some((e) => e.kind === "rollback_started"));
});

test("the Go options route refuses this package's own options (a Go client never sends them) and changes nothing", async () => {
  const { call } = await api(new MemoryStore());
  await call("PUT", "/v1/orchestrate/p/e/options", { batchPercent: 10, successTimeoutSecs: 30 });
  const before = (await call("GET", "/v1/orchestrate/p/e/info")).body.options;
  for (const body of [{ batchPercent: 20, steps: [1, "50%", "100%"] }, { batchpercent: 20, MAXFAILURES: "10%", watchSecs: 60 }, { rollbackBatchPercent: 50 }]) {
    const { status, body: answer } = await call("POST", "/v1/orchestrate/p/e/options", body);
    assert.equal(status, 400, JSON.stringify(body));
    assert.equal(answer.code, "INVALID_OPTIONS");
    assert.match(answer.message, /PUT \.\.\.\/options/);
    assert.match(answer.message, body.steps ? /^steps is an option/ : /are options|is an option/);
  }
  assert.deepEqual((await call("GET", "/v1/orchestrate/p/e/info")).body.options, before);
  // The Go engine's own four fields still decode as Go does.
  assert.equal((await call("POST", "/v1/orchestrate/p/e/options", { batchPercent: 20 })).status, 200);
  assert.equal((await call("GET", "/v1/orchestrate/p/e/info")).body.options.successTimeoutSecs, 0);
});

test("__proto__ in a Go-style body is an unknown field, as the Go engine reads it: it sets no version and makes no target", async () => {
  const { call } = await api(new MemoryStore());
  await call("POST", "/v1/orchestrate/p/e/version", { version: "v1" });
  const hostile = await call("POST", "/v1/orchestrate/p/e/version", '{"__proto__":{"version":"v-proto"}}');
  assert.deepEqual([hostile.status, hostile.body.code], [400, "INVALID_VERSION"]);
  assert.equal((await call("GET", "/v1/orchestrate/p/e/rollout")).body.targetversion, "v1");
  const report = await call("POST", "/v1/orchestrate/p/e", '[{"name":"h1","version":"v1"},{"__proto__":{"name":"ghost","version":"v1"}}]');
  assert.deepEqual([report.status, report.body.code], [400, "INVALID_TARGET"]);
  assert.equal((await call("GET", "/v1/orchestrate/p/e/targets")).body.length, 0, "no target was made");
  const options = await call("POST", "/v1/orchestrate/p/e/options", '{"__proto__":{"batchpercent":100},"successpercent":50}');
  assert.equal(options.status, 200);
  assert.equal((await call("GET", "/v1/orchestrate/p/e/info")).body.options.batchPercent, 0);
});

test("Go's decoding: a field the body leaves out is zero, names match in any case, output uses the Go engine's names", async () => {
  const { call } = await api(new MemoryStore());
  await call("POST", "/v1/orchestrate/p/e/options", { BATCHPERCENT: 100 });
  await call("POST", "/v1/orchestrate/p/e/version", { VeRsIoN: "v1" });
  assert.deepEqual((await call("GET", "/v1/orchestrate/p/e/rollout")).body, {
    targetversion: "v1",
    rollingversion: "",
    lastknowngoodversion: "",
    lastknownbadversion: "",
    options: { batchpercent: 100, successpercent: 0, successtimeoutsecs: 0, durationtimeoutsecs: 0 },
  });
  const answer = (await call("POST", "/v1/orchestrate/p/e", [{ NAME: "h1", Group: "g", TAGS: "a,b", Version: "v0", IsError: false, unknownField: 1 }])).body;
  // The message is the engine's own, for the same calls made in memory.
  const engine = new Orchestrator({ now: () => T0 });
  engine.setRolloutOptions("p", "e", { batchPercent: 100, successPercent: 0, successTimeoutSecs: 0, durationTimeoutSecs: 0 });
  engine.setTargetVersion("p", "e", "v1");
  const [inMemory] = engine.orchestrate("p", "e", [{ name: "h1", group: "g", tags: ["a", "b"], version: "v0" }]);
  assert.match(inMemory.message, /v1/);
  assert.deepEqual(answer, [{ name: "h1", group: "g", tags: "a,b", version: "v1", message: inMemory.message, isError: false }]);
  // The engine keeps the tags: every read answers them, as the Go engine
  // does; a report may send this package's array too.
  await call("POST", "/v1/orchestrate/p/e/status", [{ name: "h2", group: "g", tags: ["x", "y"], version: "v1" }]);
  for (const route of ["targets", "status", "g/status"]) {
    const targets = (await call("GET", `/v1/orchestrate/p/e/${route}`)).body;
    assert.deepEqual(targets.map((t) => [t.name, t.tags]), [["h1", "a,b"], ["h2", "x,y"]], route);
  }
  const expected = (await call("GET", "/v1/orchestrate/p/e/expected")).body;
  assert.deepEqual(expected.map((t) => t.tags), [["a", "b"], ["x", "y"]]);
  const comma = await call("POST", "/v1/orchestrate/p/e/status", [{ name: "h3", tags: ["a,b"], version: "v1" }]);
  assert.deepEqual([comma.status, comma.body.code], [400, "INVALID_ARGUMENT"]);
  assert.match(comma.body.message, /holds a comma/);
});

test("a fleet reported in parts: ?answer=reported answers each part's targets alone, as the whole answer says them; anything else is refused", async () => {
  const { call } = await api(new MemoryStore());
  await call("POST", "/v1/orchestrate/p/e/options", { batchpercent: 50, successpercent: 100, successtimeoutsecs: 0, durationtimeoutsecs: 60 });
  await call("POST", "/v1/orchestrate/p/e/version", { version: "v1" });
  const fleet = hosts(40, "v1");
  const parts = [fleet.slice(0, 25), fleet.slice(25)];
  // Tags go through the columns; an idempotency key through the objects: both answer the part alone.
  for (const [i, part] of parts.entries()) {
    const headers = i === 1 ? { "idempotency-key": "part-2" } : {};
    const { status, body } = await call("POST", "/v1/orchestrate/p/e?answer=reported", clientStates(part), headers);
    assert.equal(status, 200);
    assert.deepEqual(body.map((t) => t.name).sort(), part.map((h) => h.name).sort());
  }
  const again = (await call("POST", "/v1/orchestrate/p/e?answer=reported", clientStates(parts[0]))).body;
  const whole = (await call("GET", "/v1/orchestrate/p/e/status")).body;
  assert.equal(again.length, 25);
  const said = new Map(whole.map((t) => [t.name, t.version]));
  assert.ok(again.every((t) => said.get(t.name) === t.version));
  assert.equal((await call("POST", "/v1/orchestrate/p/e?answer=all", clientStates(parts[0]))).body.length, 40);
  const before = (await call("GET", "/v1/orchestrate/p/e/info")).body;
  const refused = await call("POST", "/v1/orchestrate/p/e?answer=some", clientStates(parts[0]));
  assert.deepEqual([refused.status, refused.body.code], [400, "INVALID_ARGUMENT"]);
  assert.match(refused.body.message, /answer must be "all" .* or "reported"/);
  assert.deepEqual((await call("GET", "/v1/orchestrate/p/e/info")).body, before);
});

test("tokens: the write token may do everything, the read token only read; compared whole", async () => {
  const { call } = await api(new MemoryStore(), { token: "w-s3cret-token", readToken: "r-token" });
  const write = { authorization: "Bearer w-s3cret-token" };
  const read = { authorization: "Bearer r-token" };
  assert.equal((await call("POST", "/v1/orchestrate/p/e/version", { version: "v1" })).status, 401);
  assert.equal((await call("POST", "/v1/orchestrate/p/e/version", { version: "v1" }, { authorization: "Bearer w-s3cret-toke" })).status, 401);
  assert.equal((await call("POST", "/v1/orchestrate/p/e/version", { version: "v1" }, { authorization: "Bearer w-s3cret-token2" })).status, 401);
  const forbidden = await call("POST", "/v1/orchestrate/p/e/version", { version: "v1" }, read);
  assert.equal(forbidden.status, 403);
  assert.equal(forbidden.body.code, "FORBIDDEN");
  assert.equal((await call("POST", "/v1/orchestrate/p/e/version", { version: "v1" }, write)).status, 200);
  // The Go engine's client sends the header as given: a bare token works too.
  assert.equal((await call("GET", "/v1/orchestrate/p/e/rollout", undefined, { authorization: "r-token" })).status, 200);
  assert.equal((await call("GET", "/v1/orchestrate/p/e/rollout", undefined, read)).body.targetversion, "v1");
  assert.equal((await call("GET", "/v1/orchestrate/namespaces")).status, 401);
  assert.equal((await call("GET", "/healthz")).status, 200, "health needs no token");
});

test("a handler is not made open by mistake: no token needs insecure, and tokens, ports and limits are checked", async () => {
  const store = new MemoryStore();
  const refused = (options, message) =>
    assert.throws(() => createHandler({ store, ...options }), (e) => e.name === "OrchestratorError" && e.code === "INVALID_ARGUMENT" && message.test(e.message));
  // `token: process.env.ORCHESTRATOR_TOKEN` with the variable unset.
  refused({ token: undefined }, /^no token and no readToken: every request would be allowed .* insecure: true/);
  refused({ token: "" }, /^token must be a non-empty string/);
  refused({ token: " secret\n" }, /^token must be a non-empty string without whitespace at either end, got a string of 8 characters \(its value is not shown\)$/);
  refused({ readToken: 12345 }, /^readToken must be .*got a number \(its value is not shown\)$/);
  assert.throws(() => createHandler({ store, token: "x", readToken: 12345 }), (e) => !e.message.includes("12345"), "a secret is never echoed");
  refused({ token: "t", pollMs: 0 }, /^pollMs must be a number of milliseconds from 1/);
  refused({ token: "t", maxBodyBytes: 1.5 }, /^maxBodyBytes must be a positive whole number of bytes, got 1.5$/);
  refused({ token: "t", cors: true }, /^cors must be the origin to allow/);
  // Open on purpose: every request is allowed.
  const open = createHandler({ store, insecure: true });
  assert.equal((await open.fetch(new Request("http://x/v1/orchestrate/p/e/version", { method: "POST", body: JSON.stringify({ version: "v1" }) }))).status, 200);
  const readOnly = createHandler({ store, readToken: "r" });
  assert.equal((await readOnly.fetch(new Request("http://x/v1/orchestrate/p/e/rollout", { headers: { authorization: "Bearer r" } }))).status, 200);
  assert.equal((await readOnly.fetch(new Request("http://x/v1/orchestrate/p/e/version", { method: "POST", headers: { authorization: "Bearer r" }, body: "{}" }))).status, 403);

  for (const [options, message] of [
    [{ port: 99999 }, /^port must be a whole number from 0 to 65535 \(0 picks a free one\), got 99999$/],
    [{ port: "8080" }, /^port must be .*got "8080"$/],
    [{ host: "" }, /^host must be an address or host name to listen on, got ""$/],
    [{ host: "0.0.0.0", port: 0 }, /^refusing to listen on 0\.0\.0\.0 without a token/],
    [{ port: 0, token: "a b " }, /^token must be a non-empty string without whitespace/],
  ]) {
    await assert.rejects(startServer({ store, log: () => {}, ...options }), { code: "INVALID_ARGUMENT", message });
  }
  // On loopback no token is needed.
  const server = await startServer({ store, port: 0, log: () => {} });
  assert.equal((await fetch(`${server.url}/v1/orchestrate/p/e/rollout`)).status, 200);
  await server.stop();
});

test("hostile requests: each answered as documented, the server still serving, the state unchanged", async () => {
  const { call } = await api(new MemoryStore(), { token: "tok", maxBodyBytes: 64 * 1024 });
  await hostileLeaveStateAlone(call, 100);
  assert.equal((await call("GET", "/healthz")).status, 200);
});

test("a body sent without a declared length (chunked) is counted as it is read: over the limit BODY_TOO_LARGE, within it served", async () => {
  const { server } = await api(new MemoryStore(), { token: "tok", maxBodyBytes: 64 * 1024 });
  const chunked = (text) =>
    fetch(`${server.url}/v1/orchestrate/prod/api/version`, {
      method: "POST",
      headers: { authorization: "Bearer tok", "content-type": "application/json" },
      duplex: "half",
      body: new ReadableStream({
        start(controller) {
          for (let at = 0; at < text.length; at += 8192) controller.enqueue(new TextEncoder().encode(text.slice(at, at + 8192)));
          controller.close();
        },
      }),
    });
  const tooLarge = await chunked(JSON.stringify({ version: "v1", padding: "x".repeat(100 * 1024) }));
  assert.equal(tooLarge.status, 413);
  assert.equal((await tooLarge.json()).code, "BODY_TOO_LARGE");
  const fits = await chunked(JSON.stringify({ version: "v2" }));
  assert.equal(fits.status, 200, await fits.text());
  const info = await (await fetch(`${server.url}/v1/orchestrate/prod/api/rollout`, { headers: { authorization: "Bearer tok" } })).json();
  assert.equal(info.targetversion, "v2");
});

test("serve: refuses a public address without a token, serves on loopback, and stops on SIGTERM after the step under way", async () => {
  const bin = fileURLToPath(new URL("../../bin/orchestrator-engine.mjs", import.meta.url));
  const env = { ...process.env, ORCHESTRATOR_TOKEN: "", ORCHESTRATOR_READ_TOKEN: "" };
  const refused = spawn(process.execPath, [bin, "serve", "--host", "0.0.0.0", "--port", "0", "--store", "memory:"], { env });
  let stderr = "";
  refused.stderr.on("data", (chunk) => (stderr += chunk));
  assert.equal(await new Promise((resolve) => refused.on("exit", resolve)), 1);
  assert.match(stderr, /refusing to listen on 0\.0\.0\.0 without a token/);

  // A bad invocation: one line naming the flag and what it accepts, exit 2.
  for (const [args, message, more] of [
    [["--port", "http"], /^orchestrator-engine serve: --port must be a whole number from 0 to 65,535, got "http" \(--help lists every flag\)$/],
    [["--bogus"], /^orchestrator-engine serve: unknown flag --bogus /],
    [["extra"], /^orchestrator-engine serve: unexpected argument "extra" /],
    [["--store", "ftp://x"], /^orchestrator-engine serve: --store "ftp:\/\/x" is not a store/],
    [["--max-body-bytes", "0"], /^orchestrator-engine serve: --max-body-bytes must be a whole number from 1 /],
    [["--port", "0", "--store", "memory:"], /^orchestrator-engine serve: ORCHESTRATOR_TOKEN has whitespace at an end \(a newline from the file it came from\?\)/, { ORCHESTRATOR_TOKEN: "secret\n" }],
  ]) {
    const bad = spawn(process.execPath, [bin, "serve", ...args], { env: { ...env, ...more } });
    let said = "";
    bad.stderr.on("data", (chunk) => (said += chunk));
    assert.equal(await new Promise((resolve) => bad.on("exit", resolve)), 2, args.join(" "));
    assert.equal(said.trimEnd().split("\n").length, 1, said);
    assert.match(said.trimEnd(), message);
  }

  const server = spawn(process.execPath, [bin, "serve", "--port", "0", "--store", "memory:"], { env });
  const lines = [];
  let buffered = "";
  server.stdout.on("data", (chunk) => {
    buffered += chunk;
    const parts = buffered.split("\n");
    buffered = parts.pop();
    lines.push(...parts.map((line) => JSON.parse(line)));
  });
  let gone = null;
  const exited = new Promise((resolve) => server.on("exit", resolve));
  exited.then((code) => (gone = code));
  for (const deadline = Date.now() + 20_000; !lines.some((l) => l.message === "listening"); ) {
    if (gone !== null) throw new Error(`serve exited (${gone}) before listening`);
    if (Date.now() > deadline) throw new Error("serve did not say it was listening within 20 s");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const { url, dashboard } = lines.find((l) => l.message === "listening");
  // The dashboard is where the log says, with or without the slash.
  assert.equal(dashboard, `${url}/dashboard/`);
  assert.equal((await fetch(dashboard)).headers.get("content-type"), "text/html; charset=utf-8");
  for (const path of ["/", "/dashboard"]) {
    const moved = await fetch(`${url}${path}`, { redirect: "manual" });
    assert.deepEqual([moved.status, moved.headers.get("location")], [302, "/dashboard/"], path);
  }
  // A monitoring endpoint that takes 1 s: SIGTERM arrives while the step waits for it.
  let release;
  let asked;
  const gate = new Promise((resolve) => (release = resolve));
  const reached = new Promise((resolve) => (asked = resolve));
  const monitor = createServer(async (req, res) => {
    for await (const chunk of req) void chunk;
    asked();
    await gate;
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ status: "ok" }));
  });
  await new Promise((resolve) => monitor.listen(0, "127.0.0.1", resolve));
  monitor.unref();
  cleanups.push(() => new Promise((resolve) => monitor.close(resolve)));
  const post = (path, body) => fetch(`${url}${path}`, { method: "POST", body: JSON.stringify(body) });
  await post("/v1/orchestrate/p/e/version", { version: "v1" });
  await post("/v1/orchestrate/p/e", [{ name: "a", version: "v1" }]);
  await post("/v1/orchestrate/p/e/target/controller", { monitoring: `http://127.0.0.1:${monitor.address().port}/m` });
  const step = post("/v1/orchestrate/p/e", [{ name: "a", version: "v1" }]);
  await reached; // the step waits for the monitor
  server.kill("SIGTERM");
  // The server says it is stopping; the step under way is still answered.
  for (const deadline = Date.now() + 10_000; !lines.some((l) => l.message === "stopping"); ) {
    if (Date.now() > deadline) throw new Error("serve did not say it was stopping within 10 s of SIGTERM");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  release();
  const answer = await step;
  assert.equal(answer.status, 200, "the step under way was answered");
  assert.equal(await exited, 0);
  const requests = lines.filter((l) => l.method);
  assert.ok(requests.every((l) => typeof l.time === "string" && typeof l.status === "number" && typeof l.ms === "number" && l.path.startsWith("/")));
  assert.deepEqual(
    lines.map((l) => l.message).filter(Boolean),
    ["listening", "stopping", "stopped"],
  );
});

/** The Server-Sent Events of `response` (the dashboard's reader) until `enough(events)`. */
async function readEvents(response, enough) {
  const events = [];
  if (!enough(events)) await readServerSentEvents(response.body, (event) => (events.push(event), enough(events)));
  return events;
}

test("event streams are limited: one past maxStreams gets 503 TOO_MANY_STREAMS, and a closed one frees its slot", async () => {
  const { server, call } = await api(new MemoryStore(), { pollMs: 20, maxStreams: 2 });
  await call("POST", "/v1/orchestrate/prod/api/version", { version: "v1" });
  const opened = [];
  const open = async (path) => {
    const aborter = new AbortController();
    const response = await fetch(`${server.url}/v1/orchestrate${path}`, { signal: aborter.signal });
    if (response.status === 200) opened.push(aborter);
    return response;
  };
  // HEAD answers a stream's headers without opening it: no slot taken.
  for (let i = 0; i < 5; i++) {
    for (const path of ["/prod/api/events/stream", "/events/stream"]) {
      const head = await fetch(`${server.url}/v1/orchestrate${path}`, { method: "HEAD" });
      assert.deepEqual([head.status, head.headers.get("content-type")], [200, "text/event-stream"], path);
    }
  }
  const headMissing = await fetch(`${server.url}/v1/orchestrate/prod/none/events/stream`, { method: "HEAD" });
  assert.equal(headMissing.status, 400);
  // A refused first read (no such entity) takes no slot.
  for (let i = 0; i < 3; i++) {
    const missing = await open("/prod/none/events/stream");
    assert.deepEqual([missing.status, (await missing.json()).code], [400, "NOT_FOUND"]);
  }
  assert.equal((await open("/prod/api/events/stream?since=0")).status, 200);
  assert.equal((await open("/events/stream")).status, 200);
  for (const path of ["/prod/api/events/stream", "/events/stream"]) {
    const refused = await open(path);
    assert.equal(refused.status, 503, path);
    const body = await refused.json();
    assert.equal(body.code, "TOO_MANY_STREAMS");
    assert.match(body.message, /already holds 2 event streams, its limit \(maxStreams\)/);
  }
  // Every other route still answers.
  assert.equal((await call("GET", "/v1/orchestrate/prod/api/info")).status, 200);
  // A client that goes away gives its slot back (once the server sees it gone).
  opened.shift().abort();
  let again;
  for (let tries = 0; tries < 100; tries++) {
    again = await open("/events/stream");
    if (again.status === 200) break;
    await again.body.cancel();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.equal(again.status, 200);
  for (const aborter of opened) aborter.abort();
  assert.throws(() => createHandler({ store: new MemoryStore(), insecure: true, maxStreams: -1 }), { code: "INVALID_ARGUMENT", message: /maxStreams must be a whole number/ });
  assert.throws(() => createHandler({ store: new MemoryStore(), insecure: true, maxEntities: 0 }), { code: "INVALID_ARGUMENT", message: /maxEntities must be a positive integer/ });
});

test("the event stream: events as they are logged, resumed after Last-Event-ID; a stopping server ends it", async () => {
  const { server, call } = await api(new MemoryStore(), { pollMs: 20, readToken: "r", token: "w" });
  const write = { authorization: "Bearer w" };
  await call("POST", "/v1/orchestrate/prod/api/version", { version: "v1" }, write);
  await call("POST", "/v1/orchestrate/prod/api", clientStates(hosts(2, "v1")), write);
  const missing = await call("GET", "/v1/orchestrate/prod/none/events/stream", undefined, { authorization: "Bearer r" });
  assert.equal(missing.status, 400);
  assert.equal(missing.body.code, "NOT_FOUND");
  const open = (headers = {}) => fetch(`${server.url}/v1/orchestrate/prod/api/events/stream?since=0`, { headers: { authorization: "Bearer r", ...headers } });
  const response = await open();
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type"), /^text\/event-stream/);
  // (From since=0: the stream cannot miss what is logged after it opened.)
  const reading = readEvents(response, (events) => events.some((e) => e.event === "version_set" && e.data.version === "v2"));
  await call("POST", "/v1/orchestrate/prod/api/version", { version: "v2" }, write);
  const events = await reading;
  assert.deepEqual(
    events.map((e) => Number(e.id)),
    events.map((_, i) => i + 1),
    "every event once, in order",
  );
  assert.deepEqual(events[0].data, (await call("GET", "/v1/orchestrate/prod/api/events", undefined, write)).body[0]);
  const resumed = await readEvents(await open({ "last-event-id": String(events.length - 1) }), (e) => e.length >= 1);
  assert.equal(Number(resumed[0].id), events.length, "resumed after the last event seen");
  // A stream left open does not keep a stopping server waiting.
  const left = await open();
  const stopped = await Promise.race([server.stop().then(() => "stopped"), new Promise((resolve) => setTimeout(() => resolve("hung"), 5000))]);
  assert.equal(stopped, "stopped");
  await left.body.cancel().catch(() => {});
});

test("every entity's events in one stream (PostgreSQL): entities announced, events as logged, an outage said once, removals", async () => {
  const { store } = await servers.kinds["postgres (pg)"]();
  const { server, call } = await api(store, { pollMs: 20, readToken: "r", token: "w" });
  const write = { authorization: "Bearer w" };
  await call("POST", "/v1/orchestrate/prod/api/version", { version: "v1" }, write);
  await call("POST", "/v1/orchestrate/prod/api", clientStates(hosts(2, "v1")), write);
  const kept = (await call("GET", "/v1/orchestrate/prod/api/events", undefined, write)).body;
  const response = await fetch(`${server.url}/v1/orchestrate/events/stream`, { headers: { authorization: "Bearer r" } });
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type"), /^text\/event-stream/);
  // Read in the background; `until` waits for a message.
  const seen = [];
  let changed = () => {};
  const reading = readServerSentEvents(response.body, (message) => {
    seen.push(message);
    changed();
  });
  const until = async (what, predicate) => {
    const deadline = Date.now() + 15_000;
    while (!seen.some(predicate)) {
      if (Date.now() > deadline) throw new Error(`no ${what} in ${JSON.stringify(seen.map((m) => m.data)).slice(0, 800)}`);
      await new Promise((resolve) => {
        changed = resolve;
        setTimeout(resolve, 100);
      });
    }
    return seen.find(predicate);
  };
  const announced = await until("announcement", (m) => m.event === "entity");
  assert.deepEqual(announced.data, { type: "entity", namespace: "prod", entity: "api", seq: kept.at(-1).seq });
  await call("POST", "/v1/orchestrate/prod/api/version", { version: "v2" }, write);
  const v2 = await until("v2 event", (m) => m.event === "version_set" && m.data.event.version === "v2");
  assert.deepEqual([v2.data.namespace, v2.data.entity, v2.data.event.seq], ["prod", "api", kept.at(-1).seq + 1]);
  await call("POST", "/v1/orchestrate/staging/web/version", { version: "w1" }, write);
  await until("the new entity", (m) => m.event === "entity" && m.data.namespace === "staging" && m.data.entity === "web");
  // The database stops: said once, then the stream goes on where it stood.
  await servers.postgres.kill();
  try {
    const outage = await until("outage", (m) => m.event === "unavailable");
    assert.equal(outage.data.code, "STORE_UNAVAILABLE");
    await new Promise((resolve) => setTimeout(resolve, 300));
  } finally {
    await servers.postgres.start();
  }
  assert.equal(seen.filter((m) => m.event === "unavailable").length, 1, "an outage is said once");
  await call("POST", "/v1/orchestrate/prod/api/version", { version: "v3" }, write);
  await until("v3 event", (m) => m.event === "version_set" && m.data.event.version === "v3");
  await store.delete("staging", "web");
  await until("removal", (m) => m.event === "removed" && m.data.entity === "web");
  const seqs = seen.filter((m) => m.data.type === "event" && m.data.entity === "api").map((m) => m.data.event.seq);
  assert.deepEqual(seqs, seqs.map((_, i) => kept.at(-1).seq + 1 + i), "every event of prod/api once, in order");
  // The Node server stops with the stream open.
  const stopped = await Promise.race([server.stop().then(() => "stopped"), new Promise((resolve) => setTimeout(() => resolve("hung"), 5000))]);
  assert.equal(stopped, "stopped");
  await reading.catch(() => {});
});

test("every entity's events: an entity that does not change is not read, however many there are", async () => {
  // A store that counts whole reads (a revision check that finds the copy current carries no bytes).
  const inner = new MemoryStore();
  let wholeReads = 0;
  const store = {
    get: async (...args) => {
      const stored = await inner.get(...args);
      if (stored?.bytes) wholeReads += 1;
      return stored;
    },
    put: (...args) => inner.put(...args),
    list: () => inner.list(),
    delete: (...args) => inner.delete(...args),
  };
  // Fewer entities kept loaded than there are: were the feed to load them, it would read each every poll.
  const rollouts = new Rollouts({ store, now: () => T0, maxEntities: 2 });
  const { server, call } = await api(store, { pollMs: 20, rollouts });
  for (let i = 0; i < 6; i++) await call("POST", `/v1/orchestrate/prod/e${i}/version`, { version: "v1" });
  const listening = new AbortController();
  const response = await fetch(`${server.url}/v1/orchestrate/events/stream`, { signal: listening.signal });
  const seen = [];
  const reading = readServerSentEvents(response.body, (message) => {
    seen.push(message);
  }).catch(() => {});
  // However the test ends, the stream is closed (a stopping server waits for it otherwise).
  cleanups.push(async () => {
    listening.abort();
    await reading;
  });
  const until = async (what, done) => {
    for (let i = 0; !done(); i++) {
      assert.ok(i < 250, `${what}: ${JSON.stringify(seen.map((m) => m.data)).slice(0, 1500)}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  await until("six entities announced", () => seen.filter((m) => m.event === "entity").length === 6);
  const afterAnnouncing = wholeReads;
  await new Promise((resolve) => setTimeout(resolve, 500)); // some 25 polls
  assert.equal(wholeReads, afterAnnouncing, "no entity was read again while none changed");
  await call("POST", "/v1/orchestrate/prod/e3/version", { version: "v2" });
  await until("the change streamed", () => seen.some((m) => m.event === "version_set" && m.data.entity === "e3"));
  // The write reads e3 (evicted: two entities are kept), and so may the feed's read of its events.
  assert.ok(wholeReads - afterAnnouncing <= 2, `only the changed entity was read (${wholeReads - afterAnnouncing} whole reads)`);
});

test("an entity's snapshot exported from one server and imported into another (another store) is the same rollout", async () => {
  const a = await api(new MemoryStore(), { token: "w", readToken: "r" });
  const dir = mkdtempSync(join(tmpdir(), "api-import-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const b = await api(new FileStore(dir), { clock: a.clock });
  const write = { authorization: "Bearer w" };
  await a.call("POST", "/v1/orchestrate/prod/api/options", { batchpercent: 50, successpercent: 100, successtimeoutsecs: 20, durationtimeoutsecs: 300 }, write);
  await a.call("POST", "/v1/orchestrate/prod/api/version", { version: "v1" }, write);
  const fleet = hosts(4, "v1");
  const authed = { ...a, call: (m, p, body, h) => a.call(m, p, body, h ?? write) };
  await loop(authed, fleet, (r) => r.lastknowngoodversion === "v1");
  await a.call("POST", "/v1/orchestrate/prod/api/version", { version: "v2" }, write);
  await loop(authed, fleet, () => fleet.some((h) => h.running === "v2"));
  const exported = await fetch(`${a.server.url}/v1/orchestrate/prod/api/snapshot`, { headers: { authorization: "Bearer r" } });
  assert.equal(exported.status, 200);
  assert.equal(exported.headers.get("content-type"), "application/octet-stream");
  const bytes = new Uint8Array(await exported.arrayBuffer());
  const put = (url, path, body, headers = {}) => fetch(`${url}${path}`, { method: "PUT", body, headers }).then(async (r) => ({ status: r.status, body: await r.json() }));
  assert.equal((await put(a.server.url, "/v1/orchestrate/prod/api/snapshot", bytes, { authorization: "Bearer r" })).status, 403);
  assert.equal((await put(b.server.url, "/v1/orchestrate/prod/api/snapshot", bytes)).status, 200);
  for (const path of ["info", "events", "targets", "expected", "plan", "history"]) {
    assert.deepEqual((await b.call("GET", `/v1/orchestrate/prod/api/${path}`)).body, (await a.call("GET", `/v1/orchestrate/prod/api/${path}`, undefined, write)).body, path);
  }
  // The imported rollout goes on in the other deployment.
  await loop(b, fleet, (r) => r.lastknowngoodversion === "v2");
  // Not a snapshot, or another entity's: refused, nothing stored.
  const garbage = await put(b.server.url, "/v1/orchestrate/prod/api/snapshot", new Uint8Array([1, 2, 3]));
  assert.deepEqual([garbage.status, garbage.body.code], [400, "INVALID_SNAPSHOT"]);
  const other = await put(b.server.url, "/v1/orchestrate/prod/other/snapshot", bytes);
  assert.deepEqual([other.status, other.body.code], [400, "INVALID_SNAPSHOT"]);
  assert.deepEqual((await b.call("GET", "/v1/orchestrate/prod/entities")).body, ["api"]);
  assert.equal((await b.call("GET", "/v1/orchestrate/prod/none/snapshot")).body.code, "NOT_FOUND");
});

test("the OpenAPI document describes every route, and every route answers as it says", async () => {
  const { default: Ajv2020 } = await import("ajv/dist/2020.js");
  const { DOCUMENTED, answerSchema, openApiPath } = await import("../../js/server/openapi.mjs");
  const { server, call } = await api(new MemoryStore(), { pollMs: 20 });
  const document = (await call("GET", "/openapi.json")).body;
  assert.equal(document.openapi, "3.1.0");
  // Both ways: every route is documented, every documented route is a route.
  const routes = createHandler({ store: new MemoryStore(), insecure: true }).routes;
  const key = ([method, path]) => `${method} ${path}`;
  assert.deepEqual(routes.map(key).sort(), DOCUMENTED.map(key).sort());
  for (const [method, path] of routes) assert.ok(document.paths[openApiPath(path)]?.[method.toLowerCase()], `${method} ${path} in the document`);
  // Real answers against the document's schemas.
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  ajv.addSchema({ $id: "api", components: document.components });
  const validate = (schema, value, what) => {
    const check = ajv.compile(JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"api#/components/')));
    assert.ok(check(value), `${what}: ${JSON.stringify(check.errors)} in ${JSON.stringify(value).slice(0, 300)}`);
  };
  const url = (path) => path.replace(":ns", "prod").replace(":entity", "api").replace(":group", "eu").replace(":name", "audit");
  const bodies = {
    "POST /:ns/:entity": clientStates(hosts(4, "v1")),
    "POST /:ns/:entity/status": clientStates(hosts(4, "v1")),
    "POST /:ns/:entity/version": { version: "v1" },
    "POST /:ns/:entity/options": { batchpercent: 50, successpercent: 100, successtimeoutsecs: 0, durationtimeoutsecs: 300 },
    "PUT /:ns/:entity/options": { batchPercent: 50, steps: [1, { size: "100%", bakeSecs: 5 }], maxFailures: "10%" },
    "POST /:ns/:entity/target/controller": {},
    "POST /:ns/:entity/monitoring/controller": {},
    "POST /:ns/:entity/force": { version: "v1" },
    "POST /:ns/:entity/promote": { full: false },
    "POST /:ns/:entity/rollback": { version: "v1" },
    // Over and done: the rest of the test steps the entity unfrozen.
    "PUT /:ns/:entity/freezes": { freezes: [{ name: "past", from: "2020-01-01T00:00Z", until: "2020-01-02T00:00Z" }] },
    // Added, then removed (DELETE comes after it): chat alone stays.
    "PUT /:ns/:entity/notifications/:name": { url: "http://127.0.0.1:1023/audit", kinds: ["version_bad"], timeoutMs: 1000 },
    // A namespace's freezes: a one-off over and done; its line stopped and started again.
    "PUT /namespaces/:ns/freezes": { freezes: [{ name: "past", from: "2020-01-01T00:00Z", until: "2020-01-02T00:00Z" }] },
    "POST /namespaces/:ns/line/stop": { reason: "incident 4711" },
    "PUT /namespaces/:ns/notifications": { subscriptions: [{ name: "ops", format: "teams", url: "http://127.0.0.1:1023/workflows/SECRET", kinds: ["version_bad"], timeoutMs: 1000 }] },
    "PUT /:ns/:entity/pipeline": { from: ["staging/api"], soakSecs: 60, approval: true },
    "POST /:ns/:entity/pipeline/approve": { version: "v1" },
    // A receiver nothing listens on: deliveries fail and are logged, steps go on.
    "PUT /:ns/:entity/notifications": { subscriptions: [{ name: "chat", format: "slack", url: "http://127.0.0.1:1023/services/T/B/SECRET", kinds: ["rollout_started", "rolled_out"], timeoutMs: 1000 }] },
  };
  const order = ["POST /:ns/:entity/options", "POST /:ns/:entity/version", "POST /:ns/:entity"];
  const sorted = [...order.map((k) => routes.find((r) => key(r) === k)), ...routes.filter((r) => !order.includes(key(r)))];
  const covered = new Set();
  let snapshot; // read by GET .../snapshot, written back by PUT (which the routes list after it)
  for (const [method, path] of sorted) {
    const target = `/v1/orchestrate${url(path)}`;
    if (path.endsWith("/snapshot") || path.endsWith("/stream")) {
      const response = await fetch(`${server.url}${target}`, method === "PUT" ? { method, body: snapshot } : {});
      if (path.endsWith("/stream")) {
        assert.match(response.headers.get("content-type"), /^text\/event-stream/);
        await response.body.cancel();
      } else if (method === "GET") {
        assert.equal(response.headers.get("content-type"), "application/octet-stream");
        snapshot = new Uint8Array(await response.arrayBuffer());
      } else {
        validate(answerSchema(method, path), await response.json(), key([method, path]));
      }
      assert.equal(response.status, 200, key([method, path]));
      covered.add(key([method, path]));
      continue;
    }
    const { status, body } = await call(method, target, bodies[key([method, path])]);
    assert.equal(status, 200, `${key([method, path])}: ${JSON.stringify(body)}`);
    validate(answerSchema(method, path), body, key([method, path]));
    covered.add(key([method, path]));
  }
  assert.equal(covered.size, routes.length, "every route was called");
  assert.deepEqual((await call("GET", "/v1/orchestrate/prod/api/freezes")).body.freezes, [{ name: "past", from: Date.UTC(2020, 0, 1), until: Date.UTC(2020, 0, 2) }]);
  const refused = await call("PUT", "/v1/orchestrate/prod/api/freezes", { windows: [{ name: "w", days: "someday", start: "09:00", end: "17:00" }] });
  assert.equal(refused.status, 400);
  assert.match(JSON.stringify(refused.body), /INVALID_ARGUMENT.*days|days.*INVALID_ARGUMENT/);
  assert.deepEqual((await call("GET", "/v1/orchestrate/namespaces/prod/freezes")).body.freezes, [{ name: "past", from: Date.UTC(2020, 0, 1), until: Date.UTC(2020, 0, 2) }]);
  assert.deepEqual((await call("GET", "/v1/orchestrate/namespaces/prod/line")).body, { stopped: null }, "started again after it was stopped");
  const shared = (await call("GET", "/v1/orchestrate/namespaces/prod/notifications")).body;
  assert.deepEqual(shared.subscriptions.map((sub) => [sub.name, sub.url]), [["ops", "http://127.0.0.1:1023/[redacted]"]]);
  assert.deepEqual((await call("POST", "/v1/orchestrate/namespaces/prod/line/stop", {})).body.code, "INVALID_ARGUMENT");
  assert.ok(!(await call("GET", "/v1/orchestrate/prod/entities")).body.some((name) => name.includes("namespace")), "the record is no entity");
  const pipeline = (await call("GET", "/v1/orchestrate/prod/api/pipeline")).body;
  assert.deepEqual([pipeline.pipeline.from, pipeline.waiting, pipeline.approved], [["staging/api"], "upstream staging/api does not exist", "v1"]);
  const refusedPipeline = await call("PUT", "/v1/orchestrate/prod/api/pipeline", { from: ["prod/api"] });
  assert.deepEqual([refusedPipeline.status, refusedPipeline.body.code], [400, "INVALID_ARGUMENT"]);
  assert.equal((await call("PUT", "/v1/orchestrate/prod/api/pipeline", null)).status, 200);
  assert.equal((await call("GET", "/v1/orchestrate/prod/api/pipeline")).body.pipeline, null);
  const notifications = (await call("GET", "/v1/orchestrate/prod/api/notifications")).body;
  assert.deepEqual(notifications.subscriptions.map((sub) => [sub.name, sub.url]), [["chat", "http://127.0.0.1:1023/[redacted]"]]);
  assert.ok(!JSON.stringify(notifications).includes("SECRET"));
  const refusedSubscriptions = await call("PUT", "/v1/orchestrate/prod/api/notifications", { subscriptions: [{ name: "chat", url: "https://example.com/", format: "pager" }] });
  assert.deepEqual([refusedSubscriptions.status, refusedSubscriptions.body.code], [400, "INVALID_ARGUMENT"]);
  assert.deepEqual((await call("PUT", "/v1/orchestrate/prod/api/notifications", [])).body.code, "INVALID_ARGUMENT");
  // This package's options: the engine judges them, and a refused set changes nothing.
  const before = (await call("GET", "/v1/orchestrate/prod/api/info")).body.options;
  assert.equal(before.maxFailures, "10%");
  for (const body of [{ batchPercent: 150 }, { steps: ["50%"] }, [], "{"]) {
    const { status, body: answer } = await call("PUT", "/v1/orchestrate/prod/api/options", body);
    assert.deepEqual([status, answer.code], [400, body === "{" ? "INVALID_JSON" : "INVALID_OPTIONS"], JSON.stringify(body));
  }
  assert.deepEqual((await call("GET", "/v1/orchestrate/prod/api/info")).body.options, before);
  // Errors have the documented shape too.
  const errorSchema = { $ref: "#/components/schemas/Error" };
  for (const [method, path] of [["GET", "/v1/orchestrate/x/y/rollout"], ["POST", "/v1/orchestrate/x/y/version"], ["GET", "/nowhere"], ["DELETE", "/v1/orchestrate/namespaces"]]) {
    validate(errorSchema, (await call(method, path, method === "POST" ? "{" : undefined)).body, `${method} ${path}`);
  }
});

test("serve --store: each kind of URL opens its store (on the real Redis and PostgreSQL), and a bad one is refused", async () => {
  const dir = mkdtempSync(join(tmpdir(), "api-store-url-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  for (const spec of ["memory:", `file:${dir}`, servers.redis.url, servers.postgres.url]) {
    const { store, close } = await openStore(spec);
    cleanups.push(close);
    const handle = await api(store);
    await handle.call("POST", "/v1/orchestrate/prod/api/version", { version: "v1" });
    await handle.call("POST", "/v1/orchestrate/prod/api", clientStates(hosts(2, "v1")));
    assert.equal((await handle.call("GET", "/v1/orchestrate/prod/api/rollout")).body.lastknowngoodversion, "v1", spec);
    assert.deepEqual(await store.list(), [["prod", "api"]], spec);
    await store.delete("prod", "api");
  }
  for (const spec of ["ftp://x", "file:", "nonsense"]) await assert.rejects(openStore(spec), { code: "INVALID_ARGUMENT" }, spec);
});

test("a reader reads and nothing more: the read token's snapshot holds no controller secret; allowHookHosts keeps controllers (set or imported) to the hosts it names", async () => {
  const store = new MemoryStore();
  const { call, server } = await api(store, { token: "w-token", readToken: "r-token", allowHookHosts: ["127.0.0.1", "*.hooks.example"] });
  const write = { authorization: "Bearer w-token" };
  const read = { authorization: "Bearer r-token" };
  await call("POST", "/v1/orchestrate/prod/api/version", { version: "v1" }, write);
  const secretive = { approval: "http://127.0.0.1:2/approve?api_key=s3cr3t", headers: { authorization: "Bearer t0ken", "x-api-key": "k3y" } };
  assert.equal((await call("POST", "/v1/orchestrate/prod/api/target/controller", secretive, write)).status, 200);
  assert.equal((await call("POST", "/v1/orchestrate/prod/api/monitoring/controller", { externalmonitoring: "https://alerts.hooks.example/check?token=m0n" }, write)).status, 200);
  const snapshot = async (headers) => new Uint8Array(await (await fetch(`${server.url}/v1/orchestrate/prod/api/snapshot`, { headers })).arrayBuffer());
  const text = (bytes) => new TextDecoder("latin1").decode(bytes);
  const forReader = await snapshot(read);
  for (const secret of ["s3cr3t", "t0ken", "k3y", "m0n"]) assert.ok(!text(forReader).includes(secret), `the reader's snapshot holds ${secret}`);
  // Still a snapshot of the entity, with its endpoints (without their queries).
  const restored = Orchestrator.restore(forReader);
  assert.equal(restored.rolloutInfo("prod", "api").targetVersion, "v1");
  assert.match(restored.__controllerSettings("prod", "api", false), /"approval":"http:\/\/127\.0\.0\.1:2\/approve".*"authorization":"\[redacted\]"/);
  restored.free();
  // The writer's snapshot is the whole state, secrets included (a backup).
  assert.ok(text(await snapshot(write)).includes("t0ken"));
  // Hosts not named are refused, set or imported.
  for (const url of ["http://10.0.0.8/approve", "https://hooks.example.evil.test/x", "http://localhost:2/x"]) {
    const refused = await call("POST", "/v1/orchestrate/prod/api/target/controller", { approval: url }, write);
    assert.deepEqual([refused.status, refused.body.code], [400, "INVALID_ARGUMENT"], url);
    assert.match(refused.body.message, /not among the hosts this server calls/);
  }
  const elsewhere = new Orchestrator();
  elsewhere.setTargetVersion("prod", "api", "v9");
  elsewhere.setTargetController("prod", "api", { approval: "http://10.0.0.8/approve" });
  const imported = await fetch(`${server.url}/v1/orchestrate/prod/api/snapshot`, { method: "PUT", headers: write, body: elsewhere.checkpoint("prod", "api") });
  assert.equal(imported.status, 400);
  assert.equal((await call("GET", "/v1/orchestrate/prod/api/info", undefined, read)).body.targetVersion, "v1", "nothing imported");
});

test("Idempotency-Key: a write retried with its key, on any server sharing the store, is answered as the first and never applied twice", async () => {
  const dir = mkdtempSync(join(tmpdir(), "idempotent-"));
  try {
    // Two servers on one store: the retry may reach the other one.
    const clock = { now: T0 };
    const a = await api(new FileStore(dir), { clock });
    const b = await api(new FileStore(dir), { clock });
    const keyed = (key) => ({ "idempotency-key": key });
    await a.call("PUT", "/v1/orchestrate/prod/api/options", { batchPercent: 50, successTimeoutSecs: 10, durationTimeoutSecs: 60, steps: [{ size: "50%", approval: true }, "100%"] });
    await a.call("POST", "/v1/orchestrate/prod/api/version", { version: "v1" });
    const fleet = clientStates(hosts(4, "v1"));
    await a.call("POST", "/v1/orchestrate/prod/api", fleet);
    await a.call("POST", "/v1/orchestrate/prod/api/version", { version: "v2" });
    const events = async () => (await a.call("GET", "/v1/orchestrate/prod/api/events?limit=1000")).body.length;
    // A step, then its retry elsewhere: answered the same, stepped once.
    clock.now += 1000;
    const first = await a.call("POST", "/v1/orchestrate/prod/api", fleet, keyed("step-1"));
    const after = await events();
    const retry = await fetch(`${b.server.url}/v1/orchestrate/prod/api`, { method: "POST", headers: keyed("step-1"), body: JSON.stringify(fleet) });
    assert.equal(retry.headers.get("idempotent-replayed"), "true");
    assert.deepEqual(await retry.json(), first.body);
    assert.equal(await events(), after, "the retried step was not applied again");
    // A control: approve once, retried: one approval, the same answer.
    const approve = await a.call("POST", "/v1/orchestrate/prod/api/approve", undefined, keyed("approve-1"));
    const again = await b.call("POST", "/v1/orchestrate/prod/api/approve", undefined, keyed("approve-1"));
    assert.deepEqual(again.body, approve.body);
    assert.equal(approve.body.changed, true);
    const approvals = (await a.call("GET", "/v1/orchestrate/prod/api/events?limit=1000")).body.filter((e) => e.kind === "approved").length;
    assert.equal(approvals, 1);
    // Another key is another request; a key no store would keep is refused before anything is applied.
    const bad = await a.call("POST", "/v1/orchestrate/prod/api/pause", undefined, { "idempotency-key": "x".repeat(300) });
    assert.deepEqual([bad.status, bad.body.code], [400, "INVALID_ARGUMENT"]);
    assert.equal((await a.call("GET", "/v1/orchestrate/prod/api/info")).body.paused, false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
