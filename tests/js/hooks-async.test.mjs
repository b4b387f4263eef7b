// Hooks that can wait: asynchronous JS hooks through orchestrateAsync and
// Rollouts. The step stays in the core; it is replayed with the hooks'
// answers (js/hooks/async.mjs).
import { test } from "node:test";
import assert from "node:assert/strict";
import { Orchestrator } from "orchestrator-engine";
import { Rollouts } from "orchestrator-engine/rollouts";
import { MemoryStore } from "orchestrator-engine/stores";
import { Fleet, T0, drive } from "./fleet.mjs";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function setup(n = 8, { ns = "prod", entity = "app" } = {}) {
  const clock = { now: T0 };
  const engine = new Orchestrator({ now: () => clock.now });
  const fleet = new Fleet(n, "v1", { groups: ["a", "b"] });
  engine.setRolloutOptions(ns, entity, { batchPercent: 25, successTimeoutSecs: 20, durationTimeoutSecs: 120 });
  engine.setTargetVersion(ns, entity, "v1");
  drive(engine, fleet, clock, { ns, entity, done: (i) => i.lastKnownGoodVersion === "v1" });
  return { engine, fleet, clock };
}

/** Hooks that decide as a function of what they are asked; `later` makes each answer a Promise. */
function hooks(later) {
  const answer = (value) => (later ? sleep(5).then(() => value) : value);
  return {
    target: {
      // Every other available target, by name, up to the count.
      select: (available, count) => answer(available.filter((_, i) => i % 2 === 0).slice(0, count).map(({ name, group }) => ({ name, group }))),
      approve: (selected) => answer(selected.filter((t) => t.name !== "host-003").map(({ name, group }) => ({ name, group }))),
      monitor: (target, context) => {
        if (target.name === "host-006" && context.version === "v2") {
          return later ? sleep(5).then(() => Promise.reject(new Error("p99 over budget"))) : (() => { throw new Error("p99 over budget"); })();
        }
        return answer(undefined);
      },
    },
    monitoring: { check: (inFlight) => answer(inFlight.length > 100 ? Promise.reject(new Error("too many")) : undefined) },
  };
}

test("asynchronous hooks answer exactly as the same hooks answering at once", async () => {
  const runs = [];
  for (const later of [false, true]) {
    const { engine, fleet, clock } = setup();
    const { target, monitoring } = hooks(later);
    engine.setTargetController("prod", "app", target);
    engine.setMonitoringController("prod", "app", monitoring);
    engine.setTargetVersion("prod", "app", "v2");
    const answers = [];
    for (let step = 0; step < 30; step++, clock.now += 10_000) {
      const answer = later ? await engine.orchestrateAsync("prod", "app", fleet.reports()) : engine.orchestrate("prod", "app", fleet.reports());
      answers.push(answer);
      fleet.apply(answer);
    }
    runs.push({ answers, events: engine.events("prod", "app"), info: engine.rolloutInfo("prod", "app") });
  }
  // An asynchronous failure also says how long the hook took.
  const timeless = (value) => JSON.parse(JSON.stringify(value).replace(/ \(after \d+ ms\)/g, ""));
  const [sync, async] = runs;
  assert.deepEqual(timeless(async.answers), sync.answers);
  assert.deepEqual(timeless(async.events), sync.events);
  assert.match(JSON.stringify(async.events), / \(after \d+ ms\)/);
  assert.deepEqual(async.info, sync.info);
  // The run did what the hooks said: host-006 failed on v2 and the version was rolled back.
  assert.equal(sync.info.lastKnownBadVersion, "v2");
  assert.ok(sync.events.some((e) => e.kind === "target_failed" && e.target.name === "host-006" && /p99 over budget/.test(e.detail)));
});

test("a step that waits for a slow approval does not hold up other entities", async () => {
  const { engine, fleet, clock } = setup(8, { entity: "slow" });
  engine.setRolloutOptions("prod", "fast", { batchPercent: 25, successTimeoutSecs: 20 });
  engine.setTargetVersion("prod", "fast", "v1");
  drive(engine, fleet, clock, { entity: "fast", done: (i) => i.lastKnownGoodVersion === "v1" });
  engine.setTargetVersion("prod", "slow", "v2");
  engine.setTargetVersion("prod", "fast", "v2");
  // The first step after a new version closes the rollout before it.
  for (const entity of ["slow", "fast"]) engine.orchestrate("prod", entity, fleet.reports());
  engine.setTargetController("prod", "slow", { approve: (selected) => sleep(1500).then(() => selected.map(({ name, group }) => ({ name, group }))) });
  clock.now += 10_000;
  const started = Date.now();
  let fastDoneAt;
  const slow = engine.orchestrateAsync("prod", "slow", fleet.reports()).then((answer) => ({ answer, at: Date.now() - started }));
  // Meanwhile the other entity steps, through orchestrateAsync and orchestrate alike.
  const fast = await engine.orchestrateAsync("prod", "fast", fleet.reports());
  engine.orchestrate("prod", "fast", fleet.reports());
  fastDoneAt = Date.now() - started;
  const { answer, at } = await slow;
  assert.ok(fastDoneAt < 500, `the other entity stepped after ${fastDoneAt} ms`);
  assert.ok(at >= 1400, `the slow step answered after ${at} ms`);
  assert.equal(answer.filter((t) => t.version === "v2").length, 2, "the approved batch moved");
  assert.equal(fast.filter((t) => t.version === "v2").length, 2);
});

test("a hook that hangs, rejects or answers garbage counts as failing, with how long it took", async () => {
  const { engine, fleet, clock } = setup(4);
  engine.setRolloutOptions("prod", "app", { batchPercent: 100, successTimeoutSecs: 30, durationTimeoutSecs: 120, maxFailures: 4 });
  engine.setTargetVersion("prod", "app", "v2");
  const behaviour = {
    "host-000": () => new Promise(() => {}), // never answers
    "host-001": () => sleep(20).then(() => Promise.reject(new Error("prometheus: 500"))),
    "host-002": () => Promise.reject("a string, not an Error"),
    "host-003": async () => {},
  };
  engine.setTargetController("prod", "app", { monitor: (t) => behaviour[t.name]() });
  for (let i = 0; i < 2; i++, clock.now += 10_000) fleet.apply(await engine.orchestrateAsync("prod", "app", fleet.reports(), { hookTimeoutMs: 200 }));
  const started = Date.now();
  const answer = await engine.orchestrateAsync("prod", "app", fleet.reports(), { hookTimeoutMs: 200 });
  assert.ok(Date.now() - started >= 190, "the step waited for the timeout");
  const failed = Object.fromEntries(
    engine
      .events("prod", "app")
      .filter((e) => e.kind === "target_failed")
      .map((e) => [e.target.name, e.detail]),
  );
  assert.match(failed["host-000"], /: no answer within 200 ms \(after \d+ ms\)$/);
  assert.match(failed["host-001"], /: prometheus: 500 \(after \d+ ms\)$/);
  assert.match(failed["host-002"], /: a string, not an Error \(after \d+ ms\)$/);
  assert.equal(failed["host-003"], undefined);
  assert.equal(answer.find((t) => t.name === "host-003").reason, "in_flight");

  // Garbage from a selection hook selects nothing, as a throwing one does.
  const other = setup(4);
  other.engine.setTargetController("prod", "app", { select: async () => "host-000" });
  other.engine.setTargetVersion("prod", "app", "v2");
  for (let i = 0; i < 3; i++, other.clock.now += 10_000) {
    const expected = await other.engine.orchestrateAsync("prod", "app", other.fleet.reports());
    assert.ok(expected.every((e) => e.version === "v1"));
  }
});

test("a failing asynchronous check fails the step, which changes nothing", async () => {
  const { engine, fleet, clock } = setup(4);
  engine.setTargetVersion("prod", "app", "v2");
  fleet.apply(engine.orchestrate("prod", "app", fleet.reports()));
  clock.now += 10_000;
  engine.setMonitoringController("prod", "app", { check: () => sleep(10).then(() => Promise.reject(new Error("alert firing"))) });
  const before = engine.snapshot();
  await assert.rejects(engine.orchestrateAsync("prod", "app", fleet.reports()), (e) => e.code === "HOOK_FAILED" && /alert firing/.test(e.message));
  assert.deepEqual(engine.snapshot(), before);
});

test("monitors run concurrently, at most `concurrency` at a time, and every one is asked", async () => {
  const { engine, fleet, clock } = setup(12);
  engine.setRolloutOptions("prod", "app", { batchPercent: 100, successTimeoutSecs: 30, durationTimeoutSecs: 120 });
  engine.setTargetVersion("prod", "app", "v2");
  for (let i = 0; i < 2; i++, clock.now += 10_000) fleet.apply(engine.orchestrate("prod", "app", fleet.reports()));
  let out = 0;
  let most = 0;
  const asked = new Set();
  engine.setTargetController("prod", "app", {
    monitor: async (t) => {
      asked.add(t.name);
      most = Math.max(most, ++out);
      await sleep(30);
      out--;
    },
  });
  const started = Date.now();
  await engine.orchestrateAsync("prod", "app", fleet.reports(), { concurrency: 4 });
  assert.equal(asked.size, 12);
  assert.equal(most, 4);
  assert.ok(Date.now() - started < 12 * 30, "the monitors did not run one after another");
});

test("asynchronous steps of one entity queue; a synchronous call meanwhile is ENTITY_BUSY", async () => {
  const { engine, fleet, clock } = setup(4);
  engine.setTargetController("prod", "app", { approve: (selected) => sleep(100).then(() => selected.map(({ name, group }) => ({ name, group }))) });
  engine.setTargetVersion("prod", "app", "v2");
  clock.now += 10_000;
  const order = [];
  const first = engine.orchestrateAsync("prod", "app", fleet.reports()).then(() => order.push("first"));
  const second = engine.orchestrateAsync("prod", "app", fleet.reports()).then(() => order.push("second"));
  // Busy from the first moment: in the same tick, before the queued step
  // has started, and while it waits for its hook.
  assert.throws(() => engine.orchestrate("prod", "app", fleet.reports()), { code: "ENTITY_BUSY" });
  assert.throws(() => engine.report("prod", "app", fleet.reports()), { code: "ENTITY_BUSY" });
  await sleep(10);
  assert.throws(() => engine.orchestrate("prod", "app", fleet.reports()), { code: "ENTITY_BUSY" });
  await Promise.all([first, second]);
  assert.deepEqual(order, ["first", "second"]);
  engine.orchestrate("prod", "app", fleet.reports()); // free again
  await assert.rejects(engine.orchestrateAsync("prod", "app", fleet.reports(), { hookTimeoutMs: 0 }), { code: "INVALID_ARGUMENT" });
  await assert.rejects(engine.orchestrateAsync("prod", "app", fleet.reports(), { concurrency: 0 }), { code: "INVALID_ARGUMENT" });
});

test("Rollouts awaits asynchronous hooks", async () => {
  let now = T0;
  const rollouts = new Rollouts({ store: new MemoryStore(), now: () => now, hookTimeoutMs: 1000 });
  const fleet = new Fleet(4, "v1", { groups: [""] });
  await rollouts.setRolloutOptions("prod", "app", { batchPercent: 50, successTimeoutSecs: 10 });
  await rollouts.setTargetVersion("prod", "app", "v1");
  for (let i = 0; i < 4; i++, now += 10_000) fleet.apply(await rollouts.orchestrate("prod", "app", fleet.reports()));
  const approved = [];
  rollouts.setTargetController("prod", "app", {
    approve: async (selected) => {
      await sleep(20);
      approved.push(...selected.map((t) => t.name));
      return selected.slice(0, 1).map(({ name, group }) => ({ name, group }));
    },
  });
  await rollouts.setTargetVersion("prod", "app", "v2");
  const onV2 = [];
  for (let i = 0; i < 3; i++, now += 10_000) {
    const answer = await rollouts.orchestrate("prod", "app", fleet.reports());
    onV2.push(answer.filter((t) => t.version === "v2").length);
    fleet.apply(answer);
  }
  // Step 1 closes the v1 rollout; step 2 selects two and the hook approves
  // one; step 3 fills the free slot with one more.
  assert.deepEqual(onV2, [0, 1, 2]);
  assert.deepEqual(approved, ["host-000", "host-001", "host-001"]);
  assert.throws(() => new Rollouts({ store: new MemoryStore(), hookTimeoutMs: -1 }), { code: "INVALID_ARGUMENT" });
});
