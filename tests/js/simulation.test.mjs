// The simulated fleet both simulators share (js/simulation.mjs), around
// the built engine.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Orchestrator, OrchestratorError } from "../../js/node.mjs";
import { DEFAULT_SCENARIO, ScenarioError, Simulation, formatSteps, parseSteps } from "../../js/simulation.mjs";

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
    [{ actions: [{ atSecs: 10, kind: "rollbackTo" }] }, /actions\[0\].version must be a non-empty version name/],
    [{ actions: [{ atSecs: 10, kind: "undo", version: "v3" }] }, /actions\[0\].kind must be one of set, force, pause, resume, abort/],
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
  // The calls around a scenario, as a newcomer gets them wrong.
  assert.throws(() => new Simulation({ targets: 5 }), { code: "INVALID_SCENARIO", message: /^pass the engine class first: new Simulation\(Orchestrator, scenario\)/ });
  assert.throws(() => Simulation.load(Orchestrator, "{ not json"), { code: "INVALID_SCENARIO", message: /^not a saved orchestrator-engine simulation: not JSON/ });
  const small = new Simulation(Orchestrator, { targets: 5 });
  assert.throws(() => small.run({ maxSteps: -1 }), { code: "INVALID_SCENARIO", message: "maxSteps must be a whole number of steps (or Infinity), got -1" });
  assert.throws(() => small.run({ maxSteps: "10" }), { message: /got "10"$/ });
  assert.throws(() => small.run({ onStep: "draw" }), { code: "INVALID_SCENARIO", message: /onStep must be a function/ });
  assert.equal(small.steps, 0, "a refused run took no step");
  assert.equal(small.run({ maxSteps: 0 }).outcome, "unsettled");
  // Its errors are the package's errors.
  let caught;
  try {
    new Simulation(Orchestrator, { targets: 0 });
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof OrchestratorError && caught instanceof ScenarioError && caught.name === "ScenarioError");
  assert.ok(!(new Error("x") instanceof ScenarioError));
  assert.ok(!(Object.assign(new Error("x"), { name: "OrchestratorError", code: "NOT_FOUND" }) instanceof ScenarioError), "an engine error is not a ScenarioError");
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

test("scenario actions drive the engine's controls; the event log and history come through", () => {
  const scenario = {
    targets: 300,
    options: { ...DEFAULT_SCENARIO.options, steps: parseSteps("1:300,10%,50%:approve,100%") },
    actions: [
      { atSecs: 60, kind: "pause" },
      { atSecs: 400, kind: "resume" },
      { atSecs: 2400, kind: "approve" },
    ],
  };
  const sim = new Simulation(Orchestrator, scenario);
  sim.run({ maxSteps: 150 });
  assert.equal(sim.info.awaitingApproval, true, "the gate holds until the scheduled approval");
  const half = Simulation.load(Orchestrator, JSON.parse(JSON.stringify(sim.save())));
  const summary = sim.run();
  assert.equal(summary.outcome, "rolled_out");
  assert.deepEqual(half.run(), summary, "a run saved at the gate continues identically");
  const kinds = sim.events().map((e) => e.kind);
  for (const kind of ["paused", "resumed", "step_started", "approval_requested", "approved", "version_good"]) {
    assert.ok(kinds.includes(kind), kind);
  }
  assert.deepEqual(sim.history().map((r) => [r.version, r.outcome]), [["v1", "succeeded"], ["v2", "succeeded"]]);
  assert.match(sim.log.map((l) => l.text).join("\n"), /approve/);

  // Abort mid-rollout rolls back; a control with nothing to do says so.
  const aborted = new Simulation(Orchestrator, { targets: 200, actions: [{ atSecs: 300, kind: "abort" }] });
  assert.equal(aborted.run().outcome, "rolled_back");
  assert.equal(aborted.control("abort"), false);
  assert.match(aborted.log.at(-1).text, /abort: nothing to do/);
  assert.equal(aborted.control("retry"), true);
  assert.equal(aborted.run().outcome, "rolled_out");
  assert.throws(() => aborted.control("rollbackTo", "v9"), { code: "INVALID_VERSION" });
  assert.throws(() => parseSteps("1:soon,100%"), { code: "INVALID_SCENARIO" });
  assert.equal(formatSteps(parseSteps("1:600,10%,50%:approve,100%")), "1:600,10%,50%:approve,100%");
});

test("errorTimeoutSecs in the simulation: a crash-looping fleet fails after exactly that long, not at the deadline", () => {
  // No report delay, 10 s steps: the first batch runs v2 (erroring) from
  // the step after its assignment; with a limit of 30 s it has erred for
  // 30 s one step later (not yet failed) and 40 s the step after; 29 s
  // fails it a step sooner; with none, only the 600 s deadline does.
  const badAt = (errorTimeoutSecs) => {
    const options = { batchPercent: 10, successPercent: 100, successTimeoutSecs: 60, durationTimeoutSecs: 600, errorTimeoutSecs };
    const sim = new Simulation(Orchestrator, { targets: 50, reportDelaySecs: 0, options, failures: { v2: { unhealthy: 1 } } });
    const summary = sim.run();
    assert.equal(summary.outcome, "rolled_back");
    return sim.log.find((e) => e.kind === "bad").t;
  };
  const at30 = badAt(30);
  assert.equal(badAt(29), at30 - 10);
  assert.ok(badAt(null) >= at30 + 500, `${badAt(null)} s vs ${at30} s`);
});

test("what if, from a live entity's snapshot: the entity untouched, failures strike only what has not succeeded, its HTTP hooks not called", () => {
  const live = new Simulation(Orchestrator, { targets: 200, groups: ["a", "b"], options: { batchPercent: 10, successPercent: 100, successTimeoutSecs: 30, durationTimeoutSecs: 300 } });
  live.run({ maxSteps: 12 });
  const { namespace, entity } = live;
  const succeeded = live.expected.filter((e) => e.reason === "succeeded" && e.version === "v2");
  assert.ok(succeeded.length > 0 && succeeded.length < 200, `part of the fleet succeeded on v2 (${succeeded.length})`);
  // An HTTP controller on an address nothing answers: a step that called it could not finish.
  live.engine.setTargetController(namespace, entity, { selection: "http://127.0.0.1:2/select" });
  const bytes = live.engine.snapshot();
  const nowMs = live.nowMs;

  const healthy = Simulation.fromSnapshot(Orchestrator, bytes, { namespace, entity, nowMs });
  assert.equal(healthy.fleet.length, 200);
  assert.equal(healthy.run().outcome, "rolled_out");
  assert.equal(healthy.info.lastKnownGoodVersion, "v2");

  const failing = Simulation.fromSnapshot(Orchestrator, bytes, { namespace, entity, nowMs, failures: { v2: { unhealthy: 0.5 } } });
  const summary = failing.run();
  assert.equal(summary.outcome, "rolled_back");
  assert.equal(failing.info.lastKnownBadVersion, "v2");
  const spared = new Set(succeeded.map((e) => `${e.group}/${e.name}`));
  const failed = failing.events().filter((e) => e.kind === "target_failed").map((e) => `${e.target.group}/${e.target.name}`);
  assert.ok(failed.length > 0);
  assert.ok(failed.every((t) => !spared.has(t)), "targets that had succeeded on v2 do not fail in the what-if");

  // The live entity is as it was.
  assert.deepEqual(live.engine.snapshot(), bytes);
  assert.equal(live.engine.rolloutInfo(namespace, entity).lastKnownGoodVersion, "v1");
  // Bad requests name what is wrong.
  const code = (fn) => assert.throws(fn, (e) => e.code === "INVALID_SCENARIO" && /\S/.test(e.message));
  code(() => Simulation.fromSnapshot(Orchestrator, bytes, { namespace, entity: "other", nowMs }));
  code(() => Simulation.fromSnapshot(Orchestrator, bytes, { namespace, entity, nowMs, targets: 5 }));
  code(() => Simulation.fromSnapshot(Orchestrator, bytes, { namespace, entity, nowMs, failures: { v2: { unhealthy: 2 } } }));
  code(() => Simulation.fromSnapshot(Orchestrator, bytes, { namespace, entity }));
  code(() => healthy.save());
});

test("the fleet model produces metrics per version, so a template shows how it would have judged before it is used", () => {
  // Argo-style latency and error-rate metrics, written for Prometheus: the
  // simulation measures them from the fleet model instead.
  const prometheus = (query) => ({ prometheus: { address: "http://prometheus.invalid:9090", query } });
  const analysis = {
    metrics: [
      { name: "error-rate", interval: "1m", initialDelay: "2m", successCondition: "result[0] < 0.05", provider: prometheus("sum(rate(errors[5m])) / sum(rate(requests[5m]))") },
      { name: "p99", interval: "1m", initialDelay: "2m", successCondition: "result[0] < 500", provider: prometheus("histogram_quantile(0.99, rate(http_request_duration_seconds_bucket[5m])) * 1000") },
    ],
  };
  const run = (metrics, failures = {}) => {
    const sim = new Simulation(Orchestrator, { targets: 200, options: { ...DEFAULT_SCENARIO.options, analysis }, metrics, failures });
    return { summary: sim.run(), runs: sim.analysis() };
  };
  // A slower version is rolled back by its p99; an unchanged one rolls out.
  const slow = run({ v2: { latencyMs: 250 } });
  assert.equal(slow.summary.outcome, "rolled_back");
  const [judged] = slow.runs;
  assert.equal(judged.phase, "failed");
  assert.match(judged.message, /metric "p99" assessed failed/);
  assert.ok(JSON.parse(judged.metrics[1].measurements[0].value)[0] > 500);
  const same = run({});
  assert.equal(same.summary.outcome, "rolled_out");
  assert.equal(same.runs[0].phase, "successful");
  // Targets that report errors raise the version's error ratio: a version
  // that the health checks alone would let through (2% failing, within
  // the 95% success bar) fails its error-rate metric.
  const erroring = run({ v2: { errorRate: 0.04 } }, { v2: { unhealthy: 0.02 } });
  assert.equal(erroring.summary.outcome, "rolled_back");
  assert.match(erroring.runs[0].message, /metric "error-rate" assessed failed/);
});

test("a what-if from a live entity whose analysis names Prometheus measures the fleet model, and a synchronous run never waits", () => {
  let now = 1_767_225_600_000;
  const engine = new Orchestrator({ now: () => now });
  const metric = { name: "error-rate", interval: "1m", initialDelay: "1m", successCondition: "result[0] < 0.05", provider: { prometheus: { address: "http://prometheus.invalid:9090", query: "errors" } } };
  engine.setRolloutOptions("prod", "api", { batchPercent: 20, analysis: { metrics: [metric] } });
  engine.setTargetVersion("prod", "api", "v1");
  const hosts = Array.from({ length: 20 }, (_, i) => ({ name: `h${i}`, version: "v1" }));
  engine.orchestrate("prod", "api", hosts);
  engine.setTargetVersion("prod", "api", "v2");
  now += 10_000;
  engine.orchestrate("prod", "api", hosts); // the background run starts
  const sim = Simulation.fromSnapshot(Orchestrator, engine.snapshot(), { namespace: "prod", entity: "api", nowMs: now + 10_000, failures: { v2: { unhealthy: 0.5 } } });
  const summary = sim.run();
  assert.equal(summary.outcome, "rolled_back");
  assert.ok(sim.analysis().some((r) => r.metrics[0].measurements.length > 0));
});
