// The HTTP API as a Cloudflare Worker, each entity a Durable Object, in the
// real workerd runtime (Miniflare starts it): the same API suite as the
// Node server, an entity larger than a storage value, and state that
// outlives the runtime.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Miniflare } from "miniflare";

import { Orchestrator } from "orchestrator-engine";
import { clientStates, hostileLeaveStateAlone, hosts, loop, rolloutAndRollback } from "./servers/api-suite.mjs";
import { startPrometheus } from "./servers/prometheus.mjs";
import { startReceiver } from "./servers/receiver.mjs";
import { bundleWorker } from "./servers/worker-bundle.mjs";
import { entityKey } from "../../js/stores/names.mjs";

const root = fileURLToPath(new URL("../..", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "orchestrator-worker-"));
const running = [];

/** js/server/worker.mjs bundled as a deployment would be (the wasm beside it, a module of its own). */
let script;
before(async () => {
  const { inputs, ...options } = await bundleWorker({ entry: join(root, "js/server/worker.mjs"), cwd: root, outDir: dir, wasm: join(root, "pkg/web/orchestrator_engine_bg.wasm"), external: ["cloudflare:workers"] });
  assert.ok(inputs.includes("js/server/worker.mjs"), "the Worker's own module is in the bundle");
  script = options;
});

after(async () => {
  for (const mf of running) await mf.dispose();
  rmSync(dir, { recursive: true, force: true });
});

/** The Worker in workerd; `persist`: a directory its Durable Objects keep their storage in. */
async function worker({ persist, token = "w", maxBodyBytes, bindings } = {}) {
  const mf = new Miniflare({
    ...script,
    durableObjects: { ENTITIES: "EntityObject", INDEX: "EntityIndex" },
    durableObjectsPersist: persist ?? false,
    bindings: bindings ?? { ORCHESTRATOR_TOKEN: token, ORCHESTRATOR_READ_TOKEN: "r", ...(maxBodyBytes ? { ORCHESTRATOR_MAX_BODY_BYTES: String(maxBodyBytes) } : {}) },
  });
  running.push(mf);
  const call = async (method, path, body, headers = { authorization: `Bearer ${token}` }) => {
    const response = await mf.dispatchFetch(`http://localhost${path}`, {
      method,
      headers: { "content-type": "application/json", ...headers },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    });
    const type = response.headers.get("content-type") ?? "";
    return { status: response.status, body: type.includes("json") ? await response.json() : new Uint8Array(await response.arrayBuffer()) };
  };
  // The Worker's clock is the runtime's: the suite runs with a success
  // timeout of 0 and a deadline of 3 s (a target reporting errors fails at
  // its deadline), stepping every 200 ms.
  return { mf, call, clock: { now: 0 }, pauseMs: 200 };
}

test("workerd: the API suite, a rollout and a rollback as the Go client drives them (one through a monitoring endpoint)", async () => {
  await rolloutAndRollback(await worker(), { successtimeoutsecs: 0, durationtimeoutsecs: 3 });
  await rolloutAndRollback(await worker(), { successtimeoutsecs: 0, durationtimeoutsecs: 3, viaController: true });
});

test("workerd: tokens, and errors as documented", async () => {
  const { call } = await worker();
  assert.equal((await call("POST", "/v1/orchestrate/p/e/version", { version: "v1" }, {})).status, 401);
  assert.equal((await call("POST", "/v1/orchestrate/p/e/version", { version: "v1" }, { authorization: "Bearer r" })).status, 403);
  assert.equal((await call("POST", "/v1/orchestrate/p/e/version", { version: "v1" })).status, 200);
  assert.equal((await call("GET", "/v1/orchestrate/p/e/rollout", undefined, { authorization: "Bearer r" })).body.targetversion, "v1");
  const bad = await call("POST", "/v1/orchestrate/p/e", "{nope");
  assert.deepEqual([bad.status, bad.body.code], [400, "INVALID_JSON"]);
  assert.equal((await call("GET", "/v1/orchestrate/p/e/a/b/c")).body.code, "NOT_FOUND_ROUTE");
  assert.equal((await call("DELETE", "/v1/orchestrate/p/e")).status, 405);
  assert.equal((await call("GET", "/v1/orchestrate/nowhere/entities")).body.code, "NOT_FOUND");
  assert.equal((await call("GET", "/openapi.json", undefined, {})).body.openapi, "3.1.0");
  // Every entity's events at once is the Node server's (a dashboard polls the Worker instead).
  const stream = await call("GET", "/v1/orchestrate/events/stream");
  assert.deepEqual([stream.status, stream.body.code], [404, "NOT_FOUND_ROUTE"]);
  assert.match(stream.body.message, /\/\{ns\}\/\{entity\}\/events\/stream/);
  // This package's options by name, through the entity's object.
  assert.equal((await call("PUT", "/v1/orchestrate/p/e/options", { maxFailures: "5%" })).status, 200);
  assert.equal((await call("GET", "/v1/orchestrate/p/e/info")).body.options.maxFailures, "5%");
});

test("workerd: a Worker deployed without a token serves no one (503 NOT_CONFIGURED) until one is set or insecure is said", async () => {
  for (const bindings of [{}, { ORCHESTRATOR_TOKEN: "" }, { ORCHESTRATOR_INSECURE: "yes" }]) {
    const { call } = await worker({ bindings });
    const refused = await call("POST", "/v1/orchestrate/p/e/version", { version: "v1" }, {});
    assert.deepEqual([refused.status, refused.body.code], [503, "NOT_CONFIGURED"]);
    assert.match(refused.body.message, /no ORCHESTRATOR_TOKEN, so it would let anyone change rollouts: set one \(wrangler secret put ORCHESTRATOR_TOKEN/);
    assert.equal((await call("GET", "/v1/orchestrate/p/e/rollout", undefined, {})).body.code, "NOT_CONFIGURED");
    assert.equal((await call("GET", "/healthz", undefined, {})).status, 200, "health and the document need no token");
    assert.equal((await call("GET", "/openapi.json", undefined, {})).status, 200);
  }
  // A secret pasted with its newline could never be presented: said, not silently unusable.
  const pasted = await worker({ bindings: { ORCHESTRATOR_TOKEN: "w\n" } });
  const refused = await pasted.call("GET", "/v1/orchestrate/namespaces", undefined, { authorization: "Bearer w" });
  assert.deepEqual([refused.status, refused.body.code], [503, "NOT_CONFIGURED"]);
  assert.match(refused.body.message, /^ORCHESTRATOR_TOKEN has whitespace at an end/);
  // Open on purpose.
  const { call } = await worker({ bindings: { ORCHESTRATOR_INSECURE: "true" } });
  assert.equal((await call("POST", "/v1/orchestrate/p/e/version", { version: "v1" }, {})).status, 200);
  assert.equal((await call("GET", "/v1/orchestrate/p/e/rollout", undefined, {})).body.targetversion, "v1");
  // A read token alone: reading, and no writer at all.
  const reader = await worker({ bindings: { ORCHESTRATOR_READ_TOKEN: "r" } });
  assert.equal((await reader.call("GET", "/v1/orchestrate/p/e/rollout", undefined, { authorization: "Bearer r" })).body.code, "NOT_FOUND");
  assert.equal((await reader.call("POST", "/v1/orchestrate/p/e/version", { version: "v1" }, { authorization: "Bearer r" })).status, 403);
});

test("workerd: ORCHESTRATOR_CORS lets pages of that origin call with a token (a dashboard served elsewhere); without it, no CORS", async () => {
  const page = "http://127.0.0.1:8080";
  const { mf } = await worker({ bindings: { ORCHESTRATOR_TOKEN: "w", ORCHESTRATOR_CORS: page } });
  // The preflight a token needs carries none, and is answered.
  const preflight = await mf.dispatchFetch("http://localhost/v1/orchestrate/prod/api/version", {
    method: "OPTIONS",
    headers: { origin: page, "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type" },
  });
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers.get("access-control-allow-origin"), page);
  assert.match(preflight.headers.get("access-control-allow-headers"), /authorization/);
  assert.match(preflight.headers.get("access-control-allow-methods"), /POST/);
  // Then the call itself, and the entity's own answers, carry the origin.
  const set = await mf.dispatchFetch("http://localhost/v1/orchestrate/prod/api/version", {
    method: "POST",
    headers: { origin: page, authorization: "Bearer w", "content-type": "application/json" },
    body: JSON.stringify({ version: "v1" }),
  });
  assert.equal(set.status, 200);
  assert.equal(set.headers.get("access-control-allow-origin"), page);
  const refused = await mf.dispatchFetch("http://localhost/v1/orchestrate/namespaces", { headers: { origin: page } });
  assert.deepEqual([refused.status, refused.headers.get("access-control-allow-origin")], [401, page]);
  // Without the variable, no page of another origin may read an answer.
  const plain = await worker({ bindings: { ORCHESTRATOR_TOKEN: "w" } });
  const answer = await plain.mf.dispatchFetch("http://localhost/v1/orchestrate/namespaces", { headers: { origin: page, authorization: "Bearer w" } });
  assert.equal(answer.headers.get("access-control-allow-origin"), null);
});

test("workerd: the read token's snapshot holds no controller secret, whatever access header the client sends; ORCHESTRATOR_ALLOW_HOOK_HOSTS limits controllers", async () => {
  const { mf, call } = await worker({ bindings: { ORCHESTRATOR_TOKEN: "w", ORCHESTRATOR_READ_TOKEN: "r", ORCHESTRATOR_ALLOW_HOOK_HOSTS: "127.0.0.1" } });
  const write = { authorization: "Bearer w" };
  await call("POST", "/v1/orchestrate/prod/api/version", { version: "v1" }, write);
  const set = await call("POST", "/v1/orchestrate/prod/api/target/controller", { approval: "http://127.0.0.1:2/a?api_key=s3cr3t", headers: { authorization: "Bearer t0ken" } }, write);
  assert.equal(set.status, 200);
  const elsewhere = await call("POST", "/v1/orchestrate/prod/api/target/controller", { approval: "http://10.0.0.8/a" }, write);
  assert.deepEqual([elsewhere.status, elsewhere.body.code], [400, "INVALID_ARGUMENT"]);
  const text = async (headers) => new TextDecoder("latin1").decode(await (await mf.dispatchFetch("http://localhost/v1/orchestrate/prod/api/snapshot", { headers })).arrayBuffer());
  for (const headers of [{ authorization: "Bearer r" }, { authorization: "Bearer r", "x-orchestrator-access": "write" }]) {
    const got = await text(headers);
    assert.ok(got.includes("127.0.0.1:2/a") && !got.includes("s3cr3t") && !got.includes("t0ken"), JSON.stringify(headers));
  }
  assert.ok((await text(write)).includes("t0ken"));
});

test("workerd: an entity larger than a storage value is split across keys, and outlives the runtime", async () => {
  const persist = join(dir, "state");
  let handle = { ...(await worker({ persist })), pauseMs: 0 };
  await handle.call("POST", "/v1/orchestrate/big/fleet/options", { batchpercent: 10, successpercent: 100, successtimeoutsecs: 0, durationtimeoutsecs: 300 });
  await handle.call("POST", "/v1/orchestrate/big/fleet/version", { version: "v1" });
  const fleet = hosts(3000, "v1").map((h) => ({ ...h, name: `${h.name}-${"x".repeat(60)}` }));
  await loop(handle, fleet, (r) => r.lastknowngoodversion === "v1", "/v1/orchestrate/big/fleet");
  await handle.call("POST", "/v1/orchestrate/big/fleet/version", { version: "v2" });
  await handle.call("POST", "/v1/orchestrate/big/fleet", clientStates(fleet));
  const snapshot = (await handle.call("GET", "/v1/orchestrate/big/fleet/snapshot")).body;
  assert.ok(snapshot.length > 128 * 1024, `the entity is ${snapshot.length} bytes, more than one storage value`);
  const engine = Orchestrator.restore(snapshot);
  assert.equal(engine.expectedState("big", "fleet").length, 3000);
  engine.free();
  const before = (await handle.call("GET", "/v1/orchestrate/big/fleet/events")).body;
  await handle.mf.dispose();
  running.splice(running.indexOf(handle.mf), 1);
  // A new runtime on the same storage goes on where the old one stood.
  handle = { ...(await worker({ persist })), pauseMs: 0 };
  assert.deepEqual((await handle.call("GET", "/v1/orchestrate/big/fleet/events")).body, before);
  assert.deepEqual((await handle.call("GET", "/v1/orchestrate/namespaces")).body, ["big"]);
  await loop(handle, fleet, (r) => r.lastknowngoodversion === "v2", "/v1/orchestrate/big/fleet");
  assert.ok(fleet.every((h) => h.running === "v2"));
});

test("workerd: a fleet reported in parts is answered part by part, and the object tells its isolate's wasm memory over RPC", async () => {
  const handle = await worker();
  const base = "/v1/orchestrate/parts/fleet";
  await handle.call("POST", `${base}/options`, { batchpercent: 10, successpercent: 100, successtimeoutsecs: 0, durationtimeoutsecs: 300 });
  await handle.call("POST", `${base}/version`, { version: "v1" });
  const fleet = hosts(20_000, "v1").map((h, i) => ({ ...h, name: `host-${i}` }));
  for (let from = 0; from < fleet.length; from += 5_000) {
    const part = fleet.slice(from, from + 5_000);
    const { status, body } = await handle.call("POST", `${base}?answer=reported`, clientStates(part));
    assert.equal(status, 200);
    assert.deepEqual(body.map((t) => t.name), part.map((h) => h.name), "the part's own targets, in its order");
  }
  const counts = (await handle.call("GET", `${base}/counts`)).body;
  assert.equal(Object.values(counts).reduce((a, b) => a + b, 0), 20_000, JSON.stringify(counts));
  const objects = await handle.mf.getDurableObjectNamespace("ENTITIES");
  const { wasmBytes } = await objects.get(objects.idFromName(entityKey("parts", "fleet"))).memory();
  // The engine's module memory: its pages, enough for the fleet, far from what a million would take.
  assert.ok(Number.isSafeInteger(wasmBytes) && wasmBytes % 65536 === 0, `${wasmBytes}`);
  assert.ok(wasmBytes > 20_000 * 50 && wasmBytes < 64 * 2 ** 20, `${wasmBytes} bytes of wasm memory for 20,000 targets`);
});

test("workerd: hostile requests, each answered as documented, the state unchanged", async () => {
  const { call } = await worker({ token: "tok", maxBodyBytes: 64 * 1024 });
  await hostileLeaveStateAlone(call, 20);
});

test("workerd: analysis measures a real Prometheus from the isolate: a canary whose error rate is high is rolled back, a healthy one rolls out, both kept with their measurements", async (t) => {
  // The isolate's clock is the runtime's: the series cover the hours around now.
  const now = Math.floor(Date.now() / 1000);
  const prometheus = await startPrometheus({
    series: { 'http_errors_ratio{version="v1"}': () => 0.01, 'http_errors_ratio{version="v2"}': () => 0.3, 'http_errors_ratio{version="v3"}': () => 0.01 },
    fromSecs: now - 3600,
    toSecs: now + 3600,
  });
  t.after(() => prometheus.stop());
  const handle = await worker({ bindings: { ORCHESTRATOR_TOKEN: "w", ORCHESTRATOR_ALLOW_HOOK_HOSTS: "127.0.0.1" } });
  const { call } = handle;
  const analysis = (version) => ({
    args: [{ name: "version", value: version }],
    metrics: [{ name: "error-rate", interval: "1s", successCondition: "result[0] < 0.05", provider: { prometheus: { address: prometheus.url, query: 'http_errors_ratio{version="{{args.version}}"}' } } }],
  });
  const options = (version) => ({ batchPercent: 50, successTimeoutSecs: 1, durationTimeoutSecs: 30, watchSecs: 2, analysis: analysis(version) });
  const fleet = hosts(6, "v1");
  await call("POST", "/v1/orchestrate/prod/api/version", { version: "v1" });
  await loop(handle, fleet, (r) => r.lastknowngoodversion === "v1");

  assert.equal((await call("PUT", "/v1/orchestrate/prod/api/options", options("v2"))).status, 200);
  await call("POST", "/v1/orchestrate/prod/api/version", { version: "v2" });
  await loop(handle, fleet, (r) => r.lastknownbadversion === "v2" && fleet.every((h) => h.running === "v1"));
  let runs = (await call("GET", "/v1/orchestrate/prod/api/analysis")).body;
  assert.equal(runs.length, 1, JSON.stringify(runs));
  const [bad] = runs[0].metrics[0].measurements;
  assert.deepEqual([runs[0].kind, runs[0].phase, bad.phase, bad.value], ["background", "failed", "failed", "[0.3]"]);
  assert.equal(bad.query, `http_errors_ratio{version="v2"} @ ${bad.at / 1000}`, "asked at the engine's clock, the args substituted");
  const events = (await call("GET", "/v1/orchestrate/prod/api/events?since=0&limit=1000")).body;
  assert.match(events.find((e) => e.kind === "version_bad").detail, /metric "error-rate" assessed failed.*\[0\.3\]/);

  // A measurement from the isolate lands in the entity's state: it outlives the request.
  assert.equal((await call("PUT", "/v1/orchestrate/prod/api/options", options("v3"))).status, 200);
  await call("POST", "/v1/orchestrate/prod/api/version", { version: "v3" });
  await loop(handle, fleet, (r) => r.lastknowngoodversion === "v3");
  await loop(handle, fleet, () => true); // one more step, past the watch window's start
  runs = (await call("GET", "/v1/orchestrate/prod/api/analysis")).body;
  const good = runs.at(-1);
  assert.equal(good.metrics[0].measurements[0].value, "[0.01]");
  assert.ok(good.metrics[0].measurements.every((m) => m.phase === "successful"), JSON.stringify(good));
  assert.ok(fleet.every((h) => h.running === "v3"));

  // A Prometheus outside ORCHESTRATOR_ALLOW_HOOK_HOSTS is refused when the template is set.
  const elsewhere = { ...options("v4"), analysis: { ...analysis("v4"), metrics: [{ ...analysis("v4").metrics[0], provider: { prometheus: { address: "http://10.0.0.8:9090", query: "up" } } }] } };
  const refused = await call("PUT", "/v1/orchestrate/prod/api/options", elsewhere);
  assert.equal(refused.status, 400, JSON.stringify(refused.body));
});

test("workerd: an entity's object notifies a Slack-format receiver of its rollout and its rollback, each event once, and readers see no receiver's secret", async (t) => {
  const receiver = await startReceiver();
  t.after(() => receiver.close());
  const handle = await worker({ bindings: { ORCHESTRATOR_TOKEN: "w", ORCHESTRATOR_READ_TOKEN: "r", ORCHESTRATOR_ALLOW_HOOK_HOSTS: "127.0.0.1" } });
  const { call } = handle;
  const fleet = hosts(4, "v1");
  await call("POST", "/v1/orchestrate/prod/api/options", { batchpercent: 50, successpercent: 100, successtimeoutsecs: 0, durationtimeoutsecs: 3 });
  await call("POST", "/v1/orchestrate/prod/api/version", { version: "v1" });
  await loop(handle, fleet, (r) => r.lastknowngoodversion === "v1");
  const kinds = ["rollout_started", "version_bad", "rolled_back", "rolled_out"];
  const subscriptions = [{ name: "oncall", format: "slack", url: `${receiver.url}/services/T/B/s3cr3t`, kinds }];
  assert.equal((await call("PUT", "/v1/orchestrate/prod/api/notifications", { subscriptions })).status, 200);
  const elsewhere = await call("PUT", "/v1/orchestrate/prod/api/notifications", { subscriptions: [{ ...subscriptions[0], url: "https://hooks.slack.com/x" }] });
  assert.deepEqual([elsewhere.status, elsewhere.body.code], [400, "INVALID_ARGUMENT"]);
  await call("POST", "/v1/orchestrate/prod/api/version", { version: "v2" });
  await loop(handle, fleet, (r) => r.lastknowngoodversion === "v2");
  for (const h of fleet) h.brokenOn = ["v3"];
  await call("POST", "/v1/orchestrate/prod/api/version", { version: "v3" });
  await loop(handle, fleet, (r) => r.lastknownbadversion === "v3" && fleet.every((h) => h.running === "v2"));
  // Deliveries run after each response: wait for the last.
  for (let i = 0; i < 300 && receiver.requests.length < 5; i++) await new Promise((resolve) => setTimeout(resolve, 50));
  // Each write's deliveries go out on their own: in the order of the events, by the sequence number in their key.
  const seq = (r) => Number(r.headers["idempotency-key"].split("/")[2]);
  const titles = [...receiver.requests].sort((a, b) => seq(a) - seq(b)).map((r) => r.body.blocks[0].text.text);
  assert.deepEqual(titles, ["Rollout started: prod/api", "Rolled out: prod/api", "Rollout started: prod/api", "Version bad: prod/api", "Rolled back: prod/api"]);
  const keys = receiver.requests.map((r) => r.headers["idempotency-key"]);
  assert.equal(new Set(keys).size, keys.length);
  const shown = await call("GET", "/v1/orchestrate/prod/api/notifications", undefined, { authorization: "Bearer r" });
  assert.equal(shown.status, 200);
  assert.ok(!JSON.stringify(shown.body).includes("s3cr3t"));
  assert.equal(shown.body.log.oncall.filter((e) => e.outcome === "delivered").length, 5);
});

test("workerd: a namespace's line stopped through its record's object holds the steps of its entities' objects, until started again", async () => {
  const handle = await worker({ bindings: { ORCHESTRATOR_TOKEN: "w", ORCHESTRATOR_READ_TOKEN: "r" } });
  const { call } = handle;
  const fleet = hosts(4, "v1");
  await call("POST", "/v1/orchestrate/prod/api/options", { batchpercent: 50, successpercent: 100, successtimeoutsecs: 0, durationtimeoutsecs: 30 });
  await call("POST", "/v1/orchestrate/prod/api/version", { version: "v1" });
  await loop(handle, fleet, (r) => r.lastknowngoodversion === "v1");
  const stop = await call("POST", "/v1/orchestrate/namespaces/prod/line/stop", { reason: "incident 4711" });
  assert.deepEqual([stop.status, stop.body.changed], [200, true]);
  const refused = await call("POST", "/v1/orchestrate/namespaces/prod/line/start", undefined, { authorization: "Bearer r" });
  assert.equal(refused.status, 403, "the read token may not start it");
  assert.equal((await call("GET", "/v1/orchestrate/namespaces/prod/line", undefined, { authorization: "Bearer r" })).body.stopped.reason, "incident 4711");
  await new Promise((resolve) => setTimeout(resolve, 1100)); // past the objects' 1 s cache of the namespace's settings
  await call("POST", "/v1/orchestrate/prod/api/version", { version: "v2" });
  for (let i = 0; i < 3; i++) await loop(handle, fleet, () => true);
  assert.ok(fleet.every((h) => h.running === "v1"), "held");
  assert.match((await call("GET", "/v1/orchestrate/prod/api/info")).body.frozen, /the line of prod stopped \(incident 4711\)/);
  assert.deepEqual((await call("GET", "/v1/orchestrate/prod/entities")).body, ["api"], "the record is no entity");
  assert.equal((await call("POST", "/v1/orchestrate/namespaces/prod/line/start")).body.changed, true);
  await new Promise((resolve) => setTimeout(resolve, 1100));
  await loop(handle, fleet, (r) => r.lastknowngoodversion === "v2");
});

test("workerd: a pipeline reads its upstream from that entity's object, and promotes what succeeded there", async () => {
  const handle = await worker();
  const { call } = handle;
  const fleets = { staging: hosts(2, "v1"), prod: hosts(2, "v1") };
  for (const ns of ["staging", "prod"]) {
    await call("POST", `/v1/orchestrate/${ns}/api/options`, { batchpercent: 100, successpercent: 100, successtimeoutsecs: 0, durationtimeoutsecs: 30 });
    await call("POST", `/v1/orchestrate/${ns}/api/version`, { version: "v1" });
    await loop(handle, fleets[ns], (r) => r.lastknowngoodversion === "v1", `/v1/orchestrate/${ns}/api`);
  }
  assert.equal((await call("PUT", "/v1/orchestrate/prod/api/pipeline", { from: ["staging/api"] })).status, 200);
  await call("POST", "/v1/orchestrate/staging/api/version", { version: "v2" });
  await loop(handle, fleets.staging, (r) => r.lastknowngoodversion === "v2", "/v1/orchestrate/staging/api");
  await loop(handle, fleets.prod, (r) => r.lastknowngoodversion === "v2", "/v1/orchestrate/prod/api");
  const view = (await call("GET", "/v1/orchestrate/prod/api/pipeline")).body;
  assert.deepEqual(view.promoted, ["v2"], JSON.stringify(view));
  assert.deepEqual(view.upstreams.map((u) => [u.name, u.found, u.good]), [["staging/api", true, "v2"]]);
  assert.deepEqual(view.stages.map((s) => [s.name, s.rollingVersion]), [["staging/api", "v2"], ["prod/api", "v2"]]);
  const promoted = (await call("GET", "/v1/orchestrate/prod/api/events?since=0&limit=1000")).body.filter((e) => e.kind === "version_promoted");
  assert.equal(promoted.length, 1);
});
