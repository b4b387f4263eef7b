// Progressive-delivery controls through the built package: the same
// scenarios as tests/controls.rs, driven from JS in virtual time.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Orchestrator } from "orchestrator-engine";
import { Fleet, T0, drive } from "./fleet.mjs";

const base = { batchPercent: 20, successPercent: 100, successTimeoutSecs: 60, durationTimeoutSecs: 120 };

function setup(n, options = base) {
  const clock = { now: T0 };
  const engine = new Orchestrator({ now: () => clock.now });
  const fleet = new Fleet(n, "v1");
  engine.setRolloutOptions("prod", "app", { ...base, batchPercent: 100 });
  engine.setTargetVersion("prod", "app", "v1");
  drive(engine, fleet, clock, { done: (i) => i.lastKnownGoodVersion === "v1" });
  engine.setRolloutOptions("prod", "app", options);
  return { engine, fleet, clock, step: () => drive(engine, fleet, clock, { done: () => true }) };
}

const on = (fleet, v) => fleet.hosts.filter((h) => h.running === v).length;
const kinds = (engine) => engine.events("prod", "app").map((e) => e.kind);

test("pause holds a rollout (reason held_paused) and resume continues it", () => {
  const { engine, fleet, clock, step } = setup(10);
  engine.setTargetVersion("prod", "app", "v2");
  step();
  step();
  assert.equal(engine.pause("prod", "app"), true);
  assert.equal(engine.pause("prod", "app"), false);
  for (let i = 0; i < 20; i++) step();
  assert.equal(on(fleet, "v2"), 2);
  const held = engine.expectedState("prod", "app").filter((e) => e.reason === "held_paused");
  assert.equal(held.length, 8);
  assert.match(held[0].message, /paused/);
  assert.equal(engine.rolloutInfo("prod", "app").paused, true);
  assert.equal(engine.resume("prod", "app"), true);
  drive(engine, fleet, clock, { done: (i) => i.lastKnownGoodVersion === "v2" });
  assert.ok(fleet.runningAll("v2"));
});

test("a pause during a failing rollout still rolls back", () => {
  const { engine, fleet, clock, step } = setup(10, { ...base, batchPercent: 50 });
  for (const h of fleet.hosts) h.brokenOn.add("v2");
  engine.setTargetVersion("prod", "app", "v2");
  step();
  step();
  engine.pause("prod", "app");
  drive(engine, fleet, clock, { done: () => fleet.runningAll("v1") && engine.rolloutInfo("prod", "app").lastKnownBadVersion === "v2" });
  assert.ok(kinds(engine).includes("rollback_started"));
});

test("abort with nothing in flight changes nothing; abort mid-rollout rolls back; retry starts afresh", () => {
  const { engine, fleet, clock, step } = setup(10);
  const before = engine.snapshot();
  assert.equal(engine.abort("prod", "app"), false);
  assert.deepEqual(engine.snapshot(), before);

  engine.setTargetVersion("prod", "app", "v2");
  for (let i = 0; i < 12; i++) step();
  assert.ok(on(fleet, "v2") >= 2);
  assert.equal(engine.abort("prod", "app"), true);
  step();
  assert.ok(fleet.runningAll("v1"), "every moved target goes back in one step");
  // A controller that re-sets v2 every loop does not undo the abort.
  engine.setTargetVersion("prod", "app", "v2");
  for (let i = 0; i < 10; i++) step();
  assert.ok(fleet.runningAll("v1"));
  assert.equal(engine.retry("prod", "app"), true);
  drive(engine, fleet, clock, { done: (i) => i.lastKnownGoodVersion === "v2" });
  assert.deepEqual(
    engine.history("prod", "app").map((r) => [r.version, r.outcome]),
    [["v1", "succeeded"], ["v2", "aborted"], ["v2", "succeeded"]],
  );
});

test("a plan [1, '10%', '50%', '100%'] rounds up on 3, 7 and 101 targets and reaches every one", () => {
  // Cumulative: each step is the total on v2 once it is done (10% of 3 is
  // 1, already reached by step 1: step 2 moves nothing).
  for (const [n, sizes, totals] of [[3, [1, 0, 1, 1], [1, 1, 2, 3]], [7, [1, 0, 3, 3], [1, 1, 4, 7]], [101, [1, 10, 40, 50], [1, 11, 51, 101]]]) {
    const { engine, fleet, clock } = setup(n, { ...base, steps: [1, "10%", "50%", "100%"] });
    assert.deepEqual(engine.plan("prod", "app").steps.map((s) => s.targets), sizes);
    assert.deepEqual(engine.plan("prod", "app").steps.map((s) => s.cumulative), totals);
    engine.setTargetVersion("prod", "app", "v2");
    drive(engine, fleet, clock, { done: (i) => i.lastKnownGoodVersion === "v2" });
    assert.ok(fleet.runningAll("v2"), `${n} targets`);
    const started = engine.events("prod", "app").filter((e) => e.kind === "step_started" && e.version === "v2");
    assert.equal(started.length, sizes.filter((s) => s > 0).length);
  }
  const engine = new Orchestrator({ now: () => T0 });
  assert.throws(() => engine.setRolloutOptions("p", "e", { steps: [1, "10%"] }), (e) => e.code === "INVALID_OPTIONS" && /cannot reach every target/.test(e.message));
  assert.throws(() => engine.setRolloutOptions("p", "e", { steps: ["50%", "10%", "100%"] }), (e) => e.code === "INVALID_OPTIONS" && /steps\[1\]/.test(e.message) && /cannot be smaller/.test(e.message));
  assert.throws(() => engine.setRolloutOptions("p", "e", { steps: ["ten", "100%"] }), (e) => e.code === "INVALID_OPTIONS" && /steps\[0\]/.test(e.message));
  assert.throws(() => engine.setRolloutOptions("p", "e", { steps: [{ size: 1, bake: 5 }, "100%"] }), (e) => e.code === "INVALID_OPTIONS" && /steps\[0\]\.bake/.test(e.message));
  assert.throws(() => engine.setRolloutOptions("p", "e", { maxFailures: "12.5%" }), (e) => e.code === "INVALID_OPTIONS");
  assert.deepEqual(engine.namespaces(), []);
});

test("a gated step waits (awaiting_approval) for an asynchronous approval; promote skips a bake", async () => {
  const steps = [{ size: 1, bakeSecs: 600 }, { size: "100%", approval: true }];
  const { engine, fleet, clock, step } = setup(5, { ...base, steps });
  engine.setTargetVersion("prod", "app", "v2");
  drive(engine, fleet, clock, { done: (i) => i.step === 0 && on(fleet, "v2") === 1 });
  for (let i = 0; i < 10; i++) step();
  assert.equal(on(fleet, "v2"), 1, "the bake holds the next step");
  assert.equal(engine.promote("prod", "app"), true);
  drive(engine, fleet, clock, { done: (i) => i.awaitingApproval });
  const waiting = engine.expectedState("prod", "app").filter((e) => e.reason === "awaiting_approval");
  assert.equal(waiting.length, 4);
  // An approval arriving later (a ticket, a person) opens the gate.
  const ticket = new Promise((resolve) => setTimeout(() => resolve(true), 5));
  step();
  if (await ticket) assert.equal(engine.approve("prod", "app"), true);
  assert.equal(engine.approve("prod", "app"), false);
  drive(engine, fleet, clock, { done: (i) => i.lastKnownGoodVersion === "v2" });
  assert.ok(["promoted", "approval_requested", "approved"].every((k) => kinds(engine).includes(k)));
});

test("the error budget is exceeded, not reached; a failure in the watch window rolls back", () => {
  for (const [broken, want] of [[2, "v2"], [3, ""]]) {
    const { engine, fleet, clock } = setup(20, { ...base, batchPercent: 25, maxFailures: "10%" });
    for (const h of fleet.hosts.slice(0, broken)) h.brokenOn.add("v2");
    engine.setTargetVersion("prod", "app", "v2");
    drive(engine, fleet, clock, { done: (i) => i.lastKnownGoodVersion === "v2" || i.lastKnownBadVersion === "v2" });
    assert.equal(engine.rolloutInfo("prod", "app").lastKnownGoodVersion === "v2" ? "v2" : "", want, `${broken} broken`);
  }
  const { engine, fleet, clock, step } = setup(5, { ...base, batchPercent: 100, watchSecs: 600 });
  engine.setTargetVersion("prod", "app", "v2");
  drive(engine, fleet, clock, { done: (i) => i.lastKnownGoodVersion === "v2" });
  assert.ok(engine.rolloutInfo("prod", "app").watchUntil > clock.now);
  fleet.hosts[3].brokenOn.add("v2"); // starts failing inside the window
  drive(engine, fleet, clock, { done: (i) => i.lastKnownBadVersion === "v2" });
  assert.equal(engine.rolloutInfo("prod", "app").lastKnownGoodVersion, "v1");
  step();
  assert.ok(fleet.runningAll("v1"));
  assert.equal(engine.history("prod", "app").at(-1).outcome, "failed");
});

test("events page with since/limit, history lists rollouts, rollbackTo returns to a good version", () => {
  const { engine, fleet, clock } = setup(4, { ...base, batchPercent: 50 });
  engine.setTargetVersion("prod", "app", "v2");
  drive(engine, fleet, clock, { done: (i) => i.lastKnownGoodVersion === "v2" });
  const all = engine.events("prod", "app");
  const paged = [];
  for (let since = 0, page; (page = engine.events("prod", "app", { since, limit: 3 })).length; since = page.at(-1).seq) paged.push(...page);
  assert.deepEqual(paged, all);
  const assigned = all.find((e) => e.kind === "target_assigned" && e.version === "v2");
  assert.deepEqual(assigned.target, { group: "eu", name: "host-000" });
  assert.equal(typeof assigned.time, "number");

  assert.throws(() => engine.rollbackTo("prod", "app", "v7"), (e) => e.code === "INVALID_VERSION" && /never known good/.test(e.message));
  assert.equal(engine.rollbackTo("prod", "app", "v1"), true);
  drive(engine, fleet, clock, { done: () => fleet.runningAll("v1") });
  const info = engine.rolloutInfo("prod", "app");
  assert.deepEqual([info.targetVersion, info.lastKnownGoodVersion, info.lastKnownBadVersion], ["v1", "v1", "v2"]);
  // The return to v1 is an entry of its own.
  assert.deepEqual(engine.history("prod", "app").map((r) => [r.version, r.outcome]), [["v1", "succeeded"], ["v2", "succeeded"], ["v1", "rolled_back_to"]]);

  for (const bad of [() => engine.events("prod", "app", { since: -1 }), () => engine.events("prod", "app", { from: 1 }), () => engine.promote("prod", "app", { full: "yes" })]) {
    assert.throws(bad, (e) => e.code === "INVALID_ARGUMENT");
  }
  assert.throws(() => engine.pause("prod", "nope"), (e) => e.code === "NOT_FOUND");
});
