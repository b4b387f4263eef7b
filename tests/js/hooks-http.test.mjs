// The Go engine's HTTP controllers: hooks that are endpoints, against real
// HTTP servers on loopback that this file starts and stops.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { Orchestrator } from "orchestrator-engine";
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

test("monitoring endpoints that say unhealthy, answer 500 or garbage, hang, or close the connection fail their targets", async () => {
  const { engine, fleet, clock } = setup(6);
  engine.setRolloutOptions("prod", "app", { batchPercent: 100, successTimeoutSecs: 30, durationTimeoutSecs: 120, maxFailures: 6 });
  engine.setTargetVersion("prod", "app", "v2");
  for (let i = 0; i < 3; i++, clock.now += 10_000) fleet.apply(engine.orchestrate("prod", "app", fleet.reports()));
  const behaviour = {
    "host-000": () => ({ json: { status: "unhealthy", message: "p99 1.2 s" } }),
    "host-001": () => ({ status: 500, json: { status: "ok" } }),
    "host-002": () => ({ raw: "<html>not json</html>" }),
    "host-003": () => ({ hang: true }),
    "host-004": () => ({ destroy: true }),
    "host-005": () => ({ json: { status: "OK" } }),
  };
  const monitoring = await endpoint((body) => behaviour[body.target.name]());
  engine.setTargetController("prod", "app", { monitoring: monitoring.url, timeoutMs: 300 });
  const before = engine.snapshot();
  const answer = await engine.orchestrateAsync("prod", "app", fleet.reports());
  const failed = Object.fromEntries(engine.events("prod", "app").filter((e) => e.kind === "target_failed").map((e) => [e.target.name, e.detail]));
  assert.match(failed["host-000"], /monitoring endpoint says unhealthy p99 1\.2 s/);
  assert.match(failed["host-001"], /answered 500/);
  assert.match(failed["host-002"], /not JSON/);
  assert.match(failed["host-003"], /no answer within 300 ms/);
  assert.match(failed["host-004"], /monitoring endpoint http:\/\/127\.0\.0\.1:\d+\/hook: /);
  for (const name of Object.keys(failed)) assert.match(failed[name], /monitor failed after \d+ ms/);
  assert.equal(failed["host-005"], undefined);
  assert.equal(answer.find((t) => t.name === "host-005").reason, "in_flight");
  assert.notDeepEqual(engine.snapshot(), before, "the step was applied once, whole");
  assert.equal(new Set(monitoring.requests.map((r) => r.body.target.name)).size, 6, "each target monitored");
});

test("an external monitoring endpoint that is unhealthy fails the step, which changes nothing", async () => {
  const { engine, fleet, clock } = setup(4);
  engine.setTargetVersion("prod", "app", "v2");
  for (let i = 0; i < 2; i++, clock.now += 10_000) fleet.apply(engine.orchestrate("prod", "app", fleet.reports()));
  let healthy = false;
  const external = await endpoint((body) => ({ json: healthy ? { status: "ok" } : { status: "degraded", message: `${body.targets.length} in flight, error budget spent` } }));
  engine.setMonitoringController("prod", "app", { externalmonitoring: external.url });
  const before = engine.snapshot();
  await assert.rejects(engine.orchestrateAsync("prod", "app", fleet.reports()), (e) => e.code === "HOOK_FAILED" && /degraded 2 in flight/.test(e.message));
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
    [{ selection: "http://127.0.0.1:1/x", select: () => [] }, /controller\.select: is not a field/],
    [{ approval: "http://127.0.0.1:1/x", headers: { authorization: 42 } }, /controller\.headers/],
    [{ monitoring: "http://127.0.0.1:1/x", timeoutMs: 0 }, /controller\.timeoutMs/],
  ]) {
    assert.throws(() => engine.setTargetController("prod", "app", controller), (e) => e.code === "INVALID_ARGUMENT" && field.test(e.message));
  }
  const approval = await endpoint((body) => ({ json: { targets: body.targets } }));
  engine.setTargetController("prod", "app", { approval: approval.url });
  engine.setTargetVersion("prod", "app", "v2");
  engine.orchestrate("prod", "app", fleet.reports());
  assert.throws(() => engine.orchestrate("prod", "app", fleet.reports()), (e) => e.code === "HOOK_PENDING" && /approve hook returned a Promise/.test(e.message));
});
