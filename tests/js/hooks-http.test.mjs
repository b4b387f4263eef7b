// The Go engine's HTTP controllers: hooks that are endpoints, against real
// HTTP servers on loopback that this file starts and stops.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { Orchestrator } from "orchestrator-engine";
import { Rollouts } from "orchestrator-engine/rollouts";
import { MemoryStore } from "orchestrator-engine/stores";
import { Fleet, T0, drive } from "./fleet.mjs";

const servers = [];
after(() => Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve)))));

/**
 * An endpoint on a free loopback port: `answer(body, request)` gives
 * `{ status?, json?, raw?, hang?, destroy? }`. Every request is kept.
 */
async function endpoint(answer) {
  const requests = [];
  const server = createServer(async (req, res) => {
    let text = "";
    for await (const chunk of req) text += chunk;
    const body = JSON.parse(text);
    requests.push({ body, headers: req.headers, path: req.url });
    const out = await answer(body, req);
    if (out.hang) return; // never answers
    if (out.destroy) return req.socket.destroy();
    res.writeHead(out.status ?? 200, { "content-type": "application/json" });
    res.end(out.raw ?? JSON.stringify(out.json ?? {}));
  });
  server.keepAliveTimeout = 1;
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  servers.push(server);
  server.unref();
  return { url: `http://127.0.0.1:${server.address().port}/hook`, requests };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function setup(n = 4, prefix = "host") {
  const clock = { now: T0 };
  const engine = new Orchestrator({ now: () => clock.now });
  const fleet = new Fleet(n, "v1", { groups: [""] });
  for (const h of fleet.hosts) h.name = h.name.replace("host", prefix);
  engine.setRolloutOptions("prod", "app", { batchPercent: 50, successTimeoutSecs: 60, durationTimeoutSecs: 120 });
  engine.setTargetVersion("prod", "app", "v1");
  drive(engine, fleet, clock, { done: (i) => i.lastKnownGoodVersion === "v1" });
  return { engine, fleet, clock };
}

/** Blue/green through selection and removal decisions; `greensBroken` makes the new machines fail. */
async function blueGreen(controller, greensBroken) {
  const { engine, fleet, clock } = setup(4, "blue");
  engine.setTargetController("prod", "app", await controller());
  engine.setTargetVersion("prod", "app", "v2");
  const answers = [];
  for (let step = 0; step < 100; step++, clock.now += 10_000) {
    const expected = (await engine.orchestrateAsync("prod", "app", fleet.reports())).filter((e) => e.reason !== "removed");
    answers.push(expected);
    fleet.hosts = fleet.hosts.filter((h) => expected.some((e) => e.name === h.name));
    for (const e of expected) {
      if (!fleet.hosts.some((h) => h.name === e.name)) {
        fleet.hosts.push({ name: e.name, group: e.group, running: e.version, brokenOn: new Set(greensBroken ? ["v2"] : []) });
      }
    }
    const info = engine.rolloutInfo("prod", "app");
    if (info.lastKnownGoodVersion === "v2" && expected.length === 4) break;
    if (info.lastKnownBadVersion === "v2" && !expected.some((e) => e.name.startsWith("green"))) break;
  }
  return { answers, end: engine.expectedState("prod", "app").filter((e) => e.reason !== "removed"), events: engine.events("prod", "app") };
}

/** The same decisions as JS functions and as the Go engine's endpoints. */
function decisions() {
  let created = 0;
  const select = (targets, count, context) => {
    if (context.rollingBack || context.version !== "v2") return [];
    const n = Math.min(count, 4 - created);
    return Array.from({ length: n }, () => ({ name: `green-${created++}`, group: "" }));
  };
  const remove = (targets, count) => targets.slice(0, count).map((t) => ({ name: t.name, group: t.group }));
  return { select, remove };
}

for (const greensBroken of [false, true]) {
  test(`blue/green through selection and removal endpoints (${greensBroken ? "rollback" : "rollout"}) answers as the same JS hooks`, async () => {
    const viaJs = await blueGreen(async () => {
      const { select, remove } = decisions();
      return { select: async (...a) => select(...a), remove: async (...a) => remove(...a) };
    }, greensBroken);
    const { select, remove } = decisions();
    const selection = await endpoint((body) => ({ json: { targets: select(body.targets ?? [], body.count ?? 0, body.context) } }));
    const removal = await endpoint((body) => ({ json: { targets: remove(body.targets ?? [], body.count ?? 0) } }));
    const viaHttp = await blueGreen(async () => ({ selection: selection.url, removal: removal.url }), greensBroken);
    assert.deepEqual(viaHttp.answers, viaJs.answers);
    assert.deepEqual(viaHttp.events, viaJs.events);
    const names = viaHttp.end.map((e) => e.name);
    assert.deepEqual(names, greensBroken ? ["blue-000", "blue-001", "blue-002", "blue-003"] : ["green-0", "green-1", "green-2", "green-3"]);
    // The Go engine's JSON: targets as ClientState with tags as a string.
    const asked = selection.requests[0].body;
    assert.ok(Number.isInteger(asked.count) && asked.count > 0);
    assert.deepEqual(Object.keys(asked.targets[0]).sort(), ["group", "isError", "message", "name", "tags", "version"]);
    assert.equal(typeof asked.targets[0].tags, "string");
    assert.ok(removal.requests.length > 0);
  });
}

test("an approval endpoint that answers after 2 s holds the step, not the other entities; its bearer token is sent", async () => {
  const { engine, fleet, clock } = setup(4);
  const approval = await endpoint(async (body) => {
    await sleep(2000);
    return { json: { targets: body.targets.filter((t) => t.name !== "host-001") } };
  });
  engine.setRolloutOptions("prod", "other", { batchPercent: 50 });
  engine.setTargetVersion("prod", "other", "v1");
  engine.setTargetVersion("prod", "app", "v2");
  engine.orchestrate("prod", "app", fleet.reports()); // closes the v1 rollout
  engine.setTargetController("prod", "app", { approval: approval.url, headers: { authorization: "Bearer s3cret" } });
  clock.now += 10_000;
  const started = Date.now();
  const step = engine.orchestrateAsync("prod", "app", fleet.reports(), { hookTimeoutMs: 5000 });
  await sleep(100);
  for (let i = 0; i < 3; i++) engine.orchestrate("prod", "other", fleet.reports()); // other entities go on meanwhile
  const otherDone = Date.now() - started;
  const answer = await step;
  assert.ok(otherDone < 1000, `the other entity stepped after ${otherDone} ms`);
  assert.ok(Date.now() - started >= 1900);
  assert.deepEqual(answer.filter((t) => t.version === "v2").map((t) => t.name), ["host-000"], "only what the endpoint approved moved");
  assert.equal(approval.requests[0].headers.authorization, "Bearer s3cret");
  assert.equal(approval.requests[0].body.context.version, "v2");
});

/** Six targets on v2, monitored by `controller` (at most 300 ms a call) in one asynchronous step. */
async function monitoredStep(controller) {
  const { engine, fleet, clock } = setup(6);
  engine.setRolloutOptions("prod", "app", { batchPercent: 100, successTimeoutSecs: 30, durationTimeoutSecs: 120, maxFailures: 6 });
  engine.setTargetVersion("prod", "app", "v2");
  for (let i = 0; i < 3; i++, clock.now += 10_000) fleet.apply(engine.orchestrate("prod", "app", fleet.reports()));
  engine.setTargetController("prod", "app", controller);
  const before = engine.events("prod", "app").length;
  const answer = await engine.orchestrateAsync("prod", "app", fleet.reports(), { hookTimeoutMs: 300 });
  return { engine, answer, before };
}

test("monitoring endpoints that say unhealthy, answer 500 or garbage, hang, or close the connection fail their targets, as async JS hooks do", async () => {
  const behaviour = {
    "host-000": () => ({ json: { status: "unhealthy", message: "p99 1.2 s" } }),
    "host-001": () => ({ status: 500, json: { status: "ok" } }),
    "host-002": () => ({ raw: "<html>not json</html>" }),
    "host-003": () => ({ hang: true }),
    "host-004": () => ({ destroy: true }),
    "host-005": () => ({ json: { status: "OK" } }),
  };
  const monitoring = await endpoint((body) => behaviour[body.target.name]());
  const viaHttp = await monitoredStep({ monitoring: monitoring.url, timeoutMs: 300 });
  const { engine, answer } = viaHttp;
  const failed = Object.fromEntries(engine.events("prod", "app").filter((e) => e.kind === "target_failed").map((e) => [e.target.name, e.detail]));
  assert.match(failed["host-000"], /monitoring endpoint says unhealthy p99 1\.2 s/);
  assert.match(failed["host-001"], /answered 500/);
  assert.match(failed["host-002"], /not JSON/);
  assert.match(failed["host-003"], /no answer within 300 ms/);
  assert.match(failed["host-004"], /monitoring endpoint http:\/\/127\.0\.0\.1:\d+\/hook: /);
  // Each says how long the call took (the hung one: the timeout).
  for (const name of Object.keys(failed)) assert.match(failed[name], / \(after \d+ ms\)$/);
  assert.ok(Number(failed["host-003"].match(/after (\d+) ms/)[1]) >= 300);
  assert.equal(failed["host-005"], undefined);
  assert.equal(answer.find((t) => t.name === "host-005").reason, "in_flight");
  assert.equal(new Set(monitoring.requests.map((r) => r.body.target.name)).size, 6, "each target monitored");
  // The same step with the hooks as async JS functions: the same answer,
  // the same events (but for the words of each failure), the same state.
  const js = {
    "host-000": async () => {
      throw new Error("unhealthy p99 1.2 s");
    },
    "host-001": async () => {
      throw new Error("500");
    },
    "host-002": async () => JSON.parse("<html>"),
    "host-003": () => new Promise(() => {}),
    "host-004": async () => {
      throw new Error("socket hang up");
    },
    "host-005": async () => undefined,
  };
  const viaJs = await monitoredStep({ monitor: (target) => js[target.name]() });
  const wordless = (targets) => targets.map(({ message, ...rest }) => ({ ...rest, failed: message.includes("monitor hook rejected") }));
  assert.deepEqual(wordless(viaHttp.answer), wordless(viaJs.answer));
  assert.equal(wordless(viaJs.answer).filter((t) => t.failed).length, 5);
  const shape = ({ engine, before }) => engine.events("prod", "app").slice(before).map(({ seq, kind, version, target }) => ({ seq, kind, version, target }));
  assert.deepEqual(shape(viaHttp), shape(viaJs));
  assert.deepEqual(
    shape(viaHttp).map((e) => e.kind),
    Array(5).fill("target_failed"),
    "the step was applied once, whole: a verdict for each failing target, nothing twice",
  );
  assert.deepEqual(viaHttp.engine.rolloutInfo("prod", "app"), viaJs.engine.rolloutInfo("prod", "app"));
  assert.deepEqual(wordless(viaHttp.engine.expectedState("prod", "app")), wordless(viaJs.engine.expectedState("prod", "app")));
});

test("an external monitoring endpoint that is unhealthy fails the step, which changes nothing", async () => {
  const { engine, fleet, clock } = setup(4);
  engine.setTargetVersion("prod", "app", "v2");
  for (let i = 0; i < 2; i++, clock.now += 10_000) fleet.apply(engine.orchestrate("prod", "app", fleet.reports()));
  let healthy = false;
  const external = await endpoint((body) => ({ json: healthy ? { status: "ok" } : { status: "degraded", message: `${body.targets.length} in flight, error budget spent` } }));
  engine.setMonitoringController("prod", "app", { externalmonitoring: external.url });
  const before = engine.snapshot();
  await assert.rejects(
    engine.orchestrateAsync("prod", "app", fleet.reports()),
    (e) => e.code === "HOOK_FAILED" && /externalmonitoring endpoint says degraded 2 in flight.* \(after \d+ ms\)$/.test(e.message),
  );
  assert.deepEqual(engine.snapshot(), before);
  healthy = true;
  await engine.orchestrateAsync("prod", "app", fleet.reports());
  assert.notDeepEqual(engine.snapshot(), before);
});

test("a controller of URLs is checked: scheme, fields, headers, timeout; a synchronous step says to wait", async () => {
  const { engine, fleet } = setup(2);
  for (const [controller, field] of [
    [{ selection: "ftp://example.com/x" }, /controller\.selection/],
    [{ selection: "not a url" }, /controller\.selection/],
    [{ selection: "http://127.0.0.1:2/x", select: () => [] }, /controller\.select: is not a field/],
    [{ approval: "http://127.0.0.1:2/x", headers: { authorization: 42 } }, /controller\.headers/],
    [{ monitoring: "http://127.0.0.1:2/x", timeoutMs: 0 }, /controller\.timeoutMs/],
    [{ monitoring: "http://127.0.0.1:2/x", timeoutMs: 600_001 }, /controller\.timeoutMs/],
    [{ approval: "http://127.0.0.1:2/x", headers: { "bad header": "x" } }, /controller\.headers: are not valid HTTP headers/],
    [{ approval: "http://127.0.0.1:2/x", headers: { authorization: "x".repeat(17_000) } }, /controller settings/],
    // What fetch would never send or reach is refused when set, not at the first step.
    [{ approval: "http://user:pw@127.0.0.1:2/x" }, /controller\.approval: holds credentials .*headers/],
    [{ selection: "http://127.0.0.1:25/x" }, /controller\.selection: uses port 25, which fetch refuses/],
  ]) {
    assert.throws(() => engine.setTargetController("prod", "app", controller), (e) => e.code === "INVALID_ARGUMENT" && field.test(e.message));
  }
  const approval = await endpoint((body) => ({ json: { targets: body.targets } }));
  engine.setTargetController("prod", "app", { approval: approval.url });
  engine.setTargetVersion("prod", "app", "v2");
  engine.orchestrate("prod", "app", fleet.reports());
  const before = engine.snapshot();
  assert.throws(
    () => engine.orchestrate("prod", "app", fleet.reports()),
    (e) => e.code === "HOOK_PENDING" && /the approve hook is an HTTP endpoint/.test(e.message) && /nothing was sent/.test(e.message) && /orchestrateAsync/.test(e.message),
  );
  assert.deepEqual(engine.snapshot(), before, "the step was undone");
  // Nothing left the process, then or later.
  await sleep(50);
  assert.equal(approval.requests.length, 0);
  // The same step, asynchronously, asks the endpoint.
  await engine.orchestrateAsync("prod", "app", fleet.reports());
  assert.equal(approval.requests.length, 1);
});

test("selection, approval and removal endpoints that fail move nothing and log hook_failed with the hook, why and how long", async () => {
  const { engine, fleet, clock } = setup(4);
  engine.setRolloutOptions("prod", "app", { batchPercent: 50, successTimeoutSecs: 20, durationTimeoutSecs: 120 });
  let mode = "500";
  const failing = await endpoint(async (body) => {
    if (mode === "500") return { status: 500 };
    if (mode === "garbage") return { json: { targets: "all of them" } };
    if (mode === "slow") return { hang: true };
    return { json: { targets: body.targets } };
  });
  engine.setTargetController("prod", "app", { selection: failing.url, approval: failing.url, timeoutMs: 200 });
  engine.setTargetVersion("prod", "app", "v2");
  const step = async () => {
    const answer = await engine.orchestrateAsync("prod", "app", fleet.reports());
    fleet.apply(answer);
    clock.now += 10_000;
    return answer;
  };
  const hookFailures = () => engine.events("prod", "app").filter((e) => e.kind === "hook_failed").map((e) => e.detail);
  for (let i = 0; i < 3; i++) assert.ok((await step()).every((t) => t.version === "v1"), "a failing selection endpoint moves nothing");
  // Logged once, not at every step it keeps failing.
  assert.equal(hookFailures().length, 1);
  assert.match(hookFailures()[0], /^select hook failed: selection endpoint http:\/\/127\.0\.0\.1:\d+\/hook answered 500 \(after \d+ ms\)$/);
  mode = "garbage";
  assert.ok((await step()).every((t) => t.version === "v1"));
  assert.match(hookFailures()[1], /^select hook failed: selection endpoint answered .*not \{ targets: \[\{ name, group \}\] \} \(after \d+ ms\)$/);
  mode = "slow";
  assert.ok((await step()).every((t) => t.version === "v1"));
  assert.match(hookFailures()[2], /^select hook failed: selection endpoint .*no answer within 200 ms \(after \d+ ms\)$/);
  mode = "ok";
  assert.equal((await step()).filter((t) => t.version === "v2").length, 2, "answering again, the batch moves");
  assert.equal(hookFailures().length, 3);
  // A removal endpoint that fails removes nothing, and says so (removal
  // retires old machines as new ones replace them: here a selection
  // endpoint creates them).
  let created = 0;
  const creating = await endpoint((body) => ({ json: { targets: Array.from({ length: body.count }, () => ({ name: `green-${created++}` })) } }));
  engine.setTargetVersion("prod", "app", "v3");
  engine.setTargetController("prod", "app", { selection: creating.url, removal: failing.url, timeoutMs: 200 });
  mode = "500";
  const removalFailed = () => hookFailures().some((d) => /^remove hook failed: removal endpoint .*answered 500/.test(d));
  for (let i = 0; i < 40 && !removalFailed(); i++) {
    const answer = await step();
    for (const t of answer) if (!fleet.hosts.some((h) => h.name === t.name)) fleet.hosts.push({ ...fleet.hosts[0], name: t.name, running: t.version });
  }
  assert.ok(created > 0, "new machines were created");
  assert.ok(removalFailed(), JSON.stringify(engine.rolloutInfo("prod", "app")));
  assert.ok(!engine.events("prod", "app").some((e) => e.kind === "target_removed"));
});

test("async JS hooks that reject, time out or answer garbage fail as throwing hooks do, logged with how long they took", async () => {
  const { engine, fleet, clock } = setup(4);
  let select = async () => {
    throw new Error("inventory service down");
  };
  engine.setTargetController("prod", "app", { select: (...a) => select(...a) });
  engine.setTargetVersion("prod", "app", "v2");
  const step = async () => {
    fleet.apply(await engine.orchestrateAsync("prod", "app", fleet.reports(), { hookTimeoutMs: 150 }));
    clock.now += 10_000;
  };
  await step(); // closes the v1 rollout: nothing to select yet
  await step();
  select = async () => 42;
  await step();
  select = () => new Promise(() => {});
  await step();
  const failures = engine.events("prod", "app").filter((e) => e.kind === "hook_failed").map((e) => e.detail);
  assert.match(failures[0], /^select hook failed: inventory service down \(after \d+ ms\)$/);
  assert.match(failures[1], /^select hook failed: select must return an array of targets .*got 42 \(after \d+ ms\)$/);
  assert.match(failures[2], /^select hook failed: no answer within 150 ms \(after \d+ ms\)$/);
  assert.ok(engine.expectedState("prod", "app").every((t) => t.version === "v1"));
});

/** An approval endpoint that approves all but host-001, and an external check that passes, each counting its calls. */
async function controllers() {
  const approval = await endpoint((body) => ({ json: { targets: body.targets.filter((t) => t.name !== "host-001") } }));
  const external = await endpoint(() => ({ json: { status: "ok" } }));
  return { approval, external };
}

test("a restored engine keeps calling its URL controllers: whole snapshot, entity checkpoint and delta", async () => {
  const { engine, fleet, clock } = setup(4);
  const { approval, external } = await controllers();
  engine.setTargetController("prod", "app", { approval: approval.url, headers: { Authorization: "Bearer t0ken" }, timeoutMs: 3000 });
  engine.setMonitoringController("prod", "app", { externalmonitoring: external.url });
  engine.setTargetVersion("prod", "app", "v2");
  const checkpoint = engine.checkpoint("prod", "app");
  const whole = Orchestrator.restore(engine.snapshot(), { now: () => clock.now });
  const follower = Orchestrator.restore(checkpoint, { now: () => clock.now });
  // The three step alike, and each asks the endpoints (with the token).
  for (let i = 0; i < 4; i++, clock.now += 10_000) {
    const asked = [approval.requests.length, external.requests.length];
    const answers = [];
    for (const e of [engine, whole, follower]) answers.push(await e.orchestrateAsync("prod", "app", fleet.reports()));
    assert.deepEqual(answers[1], answers[0]);
    assert.deepEqual(answers[2], answers[0]);
    assert.equal(external.requests.length, asked[1] + 3, "each engine asked the external check");
    assert.equal((approval.requests.length - asked[0]) % 3, 0, "the three asked for approval alike");
    fleet.apply(answers[0]);
  }
  assert.ok(approval.requests.length > 0);
  assert.ok(approval.requests.every((r) => r.headers.authorization === "Bearer t0ken"));
  assert.ok(engine.expectedState("prod", "app").some((t) => t.name === "host-001" && t.version === "v1"), "host-001 was never approved");
  // A delta carries a change of controllers: a follower of the journal
  // calls the new endpoint, and no longer the removed one.
  const journal = Orchestrator.restore(engine.checkpoint("prod", "app"), { now: () => clock.now });
  const monitor = await endpoint(() => ({ json: { status: "ok" } }));
  engine.setTargetController("prod", "app", { monitoring: monitor.url });
  engine.setMonitoringController("prod", "app", null);
  fleet.apply(await engine.orchestrateAsync("prod", "app", fleet.reports()));
  assert.deepEqual(journal.applyDelta(engine.delta("prod", "app")), ["prod", "app"]);
  assert.deepEqual(journal.snapshot(), engine.snapshot());
  clock.now += 10_000;
  const [externalCalls, approvalCalls, monitorCalls] = [external.requests.length, approval.requests.length, monitor.requests.length];
  const runningV2 = fleet.reports().filter((r) => r.version === "v2").length;
  assert.ok(runningV2 > 0);
  const answer = await journal.orchestrateAsync("prod", "app", fleet.reports());
  assert.deepEqual(answer, await engine.orchestrateAsync("prod", "app", fleet.reports()));
  assert.equal(external.requests.length, externalCalls, "the removed check is not called");
  assert.equal(approval.requests.length, approvalCalls, "nor the replaced approval endpoint");
  assert.equal(monitor.requests.length - monitorCalls, 2 * runningV2, "both monitor every target that runs v2");
  // Hooks of functions are not state: a restored engine has none, and a
  // controller of functions replaces the URLs in the state.
  engine.setTargetController("prod", "app", { monitor: () => {} });
  const restored = Orchestrator.restore(engine.snapshot(), { now: () => clock.now });
  const calls = monitor.requests.length;
  await restored.orchestrateAsync("prod", "app", fleet.reports());
  assert.equal(monitor.requests.length, calls);
  for (const e of [engine, whole, follower, journal, restored]) e.free();
});

test("Rollouts: an HTTP controller is the entity's, called by every process; hooks of functions stay in theirs", async () => {
  const store = new MemoryStore();
  let now = T0;
  const [a, b] = [0, 1].map(() => new Rollouts({ store, now: () => now, hookTimeoutMs: 2000 }));
  const fleet = new Fleet(4, "v1", { groups: [""] });
  await a.setRolloutOptions("prod", "app", { batchPercent: 50, successTimeoutSecs: 20 });
  await a.setTargetVersion("prod", "app", "v1");
  for (let i = 0; i < 4; i++, now += 10_000) fleet.apply(await a.orchestrate("prod", "app", fleet.reports()));
  const monitor = await endpoint(() => ({ json: { status: "ok" } }));
  await a.setTargetController("prod", "app", { monitoring: monitor.url });
  await b.setTargetVersion("prod", "app", "v2");
  const stepB = async () => {
    fleet.apply(await b.orchestrate("prod", "app", fleet.reports()));
    now += 10_000;
  };
  for (let i = 0; i < 3; i++) await stepB();
  assert.ok(monitor.requests.length > 0, "process b calls the controller process a set");
  // In b, its own hooks win; a's HTTP controller stays stored.
  const local = [];
  await b.setTargetController("prod", "app", { monitor: (t) => void local.push(t.name) });
  let calls = monitor.requests.length;
  await stepB();
  assert.equal(monitor.requests.length, calls);
  assert.ok(local.length > 0);
  const c = new Rollouts({ store, now: () => now });
  fleet.apply(await c.orchestrate("prod", "app", fleet.reports()));
  assert.ok(monitor.requests.length > calls, "a third process still calls it");
  // Removed (null) from the store: no process calls it any more.
  await a.setTargetController("prod", "app", null);
  calls = monitor.requests.length;
  fleet.apply(await c.orchestrate("prod", "app", fleet.reports()));
  assert.equal(monitor.requests.length, calls);
  // Bad input throws at once, and stores nothing.
  assert.throws(() => a.setTargetController("prod", "app", { monitoring: "gopher://x" }), { code: "INVALID_ARGUMENT" });
});

test("an endpoint cannot lead the hooks astray: a redirect is not followed, an answer over 1 MiB fails the hook, and what a failure says names no query string and echoes little", async () => {
  const { engine, fleet, clock } = setup(4);
  engine.setRolloutOptions("prod", "app", { batchPercent: 50, successTimeoutSecs: 20, durationTimeoutSecs: 120 });
  // Another origin, which must never be asked (it would get the headers).
  const elsewhere = await endpoint(() => ({ json: { targets: [] } }));
  const redirecting = createServer((req, res) => {
    res.writeHead(307, { location: elsewhere.url });
    res.end();
  });
  await new Promise((resolve) => redirecting.listen(0, "127.0.0.1", resolve));
  servers.push(redirecting);
  const huge = await endpoint(() => ({ raw: JSON.stringify({ targets: [], pad: "x".repeat(2 * 1024 * 1024) }) }));
  const chatty = await endpoint(() => ({ json: { status: "degraded", message: `token=hunter2 ${"\u0007".repeat(3)}${"y".repeat(5000)}` } }));
  const failures = () => engine.events("prod", "app").filter((e) => e.kind === "hook_failed").map((e) => e.detail);
  engine.setTargetVersion("prod", "app", "v2");
  const step = async () => {
    fleet.apply(await engine.orchestrateAsync("prod", "app", fleet.reports()));
    clock.now += 10_000;
  };
  await step(); // v2 becomes the rolling version
  engine.setTargetController("prod", "app", { selection: `http://127.0.0.1:${redirecting.address().port}/select?api_key=s3cr3t`, headers: { authorization: "Bearer t0ken" } });
  await step();
  assert.equal(elsewhere.requests.length, 0, "the redirect was not followed");
  assert.match(failures().at(-1), /^select hook failed: selection endpoint http:\/\/127\.0\.0\.1:\d+\/select answered 307 \(redirects are not followed\)/);
  engine.setTargetController("prod", "app", { selection: `${huge.url}?api_key=s3cr3t` });
  const memory = process.memoryUsage().rss;
  await step();
  assert.match(failures().at(-1), /selection endpoint http:\/\/127\.0\.0\.1:\d+\/hook: the answer is larger than 1048576 bytes/);
  assert.ok(process.memoryUsage().rss - memory < 64 * 1024 * 1024, "the answer was not read whole");
  engine.setTargetController("prod", "app", null);
  engine.setMonitoringController("prod", "app", { externalmonitoring: `${chatty.url}?api_key=s3cr3t` });
  await assert.rejects(engine.orchestrateAsync("prod", "app", fleet.reports()), (e) => e.code === "HOOK_FAILED" && e.message.length < 400 && !/\u0007/.test(e.message));
  for (const detail of failures()) assert.doesNotMatch(detail, /s3cr3t|t0ken/, detail);
});
