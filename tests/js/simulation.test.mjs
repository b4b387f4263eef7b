// The simulated fleet both simulators share (js/simulation.mjs), around
// the built engine.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Orchestrator } from "../../js/node.mjs";
import { Simulation } from "../../js/simulation.mjs";

test("a simulation saved after its options changed continues exactly as the original", () => {
  const scenario = { targets: 300, failures: { v2: { late: 0.05, flap: 0.02, unhealthy: 0.02 } } };
  const original = new Simulation(Orchestrator, scenario);
  for (let i = 0; i < 5; i++) original.step();
  original.setOptions({ batchPercent: 20, successPercent: 90, successTimeoutSecs: 30, durationTimeoutSecs: 200 });
  for (let i = 0; i < 5; i++) original.step();
  const copy = Simulation.load(Orchestrator, JSON.stringify(original.save()));
  assert.equal(copy.info.options.batchPercent, 20);
  const a = original.run();
  const b = copy.run();
  assert.deepEqual(b, a);
  assert.deepEqual(copy.expected, original.expected);
  assert.deepEqual(copy.log, original.log);
  assert.deepEqual(copy.timeline, original.timeline);
});

test("a bad scenario is an INVALID_SCENARIO error naming the field", () => {
  const cases = [
    [{ target: 5 }, /unknown scenario field "target"/],
    [{ targets: 0 }, /targets must be an integer from 1 to 1000000, got 0/],
    [{ targets: 2.5 }, /targets must be an integer/],
    [{ groups: [] }, /groups must be a list of 1 to 1000 names/],
    [{ versions: { current: "", target: "v2" } }, /versions.current must be a non-empty version name/],
    [{ failures: { v2: { broken: 0.1 } } }, /failures.v2.broken is not a failure kind/],
    [{ failures: { v2: { unhealthy: -0.1 } } }, /failures.v2.unhealthy must be a share from 0 to 1/],
    [{ failures: { v2: { unhealthy: 0.7, stuck: 0.7 } } }, /add up to 1.4, more than 1/],
    [{ stepSecs: 0 }, /stepSecs must be an integer from 1/],
    [{ actions: [{ atSecs: 10, kind: "undo", version: "v3" }] }, /actions\[0\].kind must be "set" or "force"/],
  ];
  for (const [scenario, message] of cases) {
    assert.throws(() => new Simulation(Orchestrator, scenario), (e) => e.code === "INVALID_SCENARIO" && message.test(e.message), JSON.stringify(scenario));
  }
  // Rollout options are the engine's to judge.
  assert.throws(() => new Simulation(Orchestrator, { options: { batchPercent: 101 } }), { code: "INVALID_OPTIONS" });
  assert.throws(() => Simulation.load(Orchestrator, { format: "other" }), { code: "INVALID_SCENARIO" });
  const saved = new Simulation(Orchestrator, { targets: 20 }).save();
  assert.throws(() => Simulation.load(Orchestrator, { ...saved, formatVersion: 2 }), /format 2 is not supported/);
  assert.throws(() => Simulation.load(Orchestrator, { ...saved, state: { ...saved.state, running: [] } }), /running does not list 20 targets/);
  assert.throws(() => Simulation.load(Orchestrator, { ...saved, snapshot: "AAAA" }), { code: "INVALID_SNAPSHOT" });
});

test("stuck targets never report the version, fail on the deadline, and a fleet of them rolls back", () => {
  const sim = new Simulation(Orchestrator, { targets: 100, failures: { v2: { stuck: 1 } } });
  const summary = sim.run();
  assert.equal(summary.outcome, "rolled_back");
  assert.deepEqual(summary.running, { v1: 100 });
  assert.ok(sim.log.some((e) => e.kind === "failure" && /not healthy in time/.test(e.text) && /it runs v1/.test(e.why)));
  // 95% must succeed, so the 5th failure (threshold 100 - 95) makes v2 bad,
  // during the first batch of 10: the rest were never touched.
  assert.equal(summary.targetsTouched, 10);
});

test("the report delay stretches a rollout; the batch size bounds what is in flight", () => {
  const quick = new Simulation(Orchestrator, { targets: 200, reportDelaySecs: 0 }).run();
  const slow = new Simulation(Orchestrator, { targets: 200, reportDelaySecs: 120 }).run();
  assert.equal(quick.outcome, "rolled_out");
  assert.equal(slow.outcome, "rolled_out");
  assert.ok(slow.virtualSecs > quick.virtualSecs + 600, `${quick.virtualSecs} s vs ${slow.virtualSecs} s`);
  assert.equal(quick.peakInFlight, 20);
  assert.equal(slow.peakInFlight, 20);
});

test("late failures after success are caught by the flap guard while the rollout runs", () => {
  const sim = new Simulation(Orchestrator, { targets: 400, options: { batchPercent: 5, successPercent: 100, successTimeoutSecs: 60, durationTimeoutSecs: 300 }, failures: { v2: { late: 0.02 } } });
  const summary = sim.run();
  assert.equal(summary.outcome, "rolled_back");
  assert.ok(sim.log.some((e) => e.kind === "failure" && /health check failing/.test(e.why)));
});
