// Every error reaches JS as a real Error with a stable code, changes
// nothing, and never poisons the instance.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Orchestrator } from "orchestrator-engine";
import { Fleet, T0 } from "./fleet.mjs";

function expectError(fn, code, message) {
  assert.throws(fn, (err) => {
    assert.ok(err instanceof Error, `not an Error: ${err}`);
    assert.equal(err.name, "OrchestratorError");
    assert.equal(err.code, code, err.message);
    if (message) assert.match(err.message, message);
    return true;
  });
}

test("bad input of every kind throws a coded Error and leaves the engine working", () => {
  const clock = { now: T0 };
  const engine = new Orchestrator({ now: () => clock.now });
  const twin = new Orchestrator({ now: () => clock.now });
  const fleet = new Fleet(20);
  for (const e of [engine, twin]) {
    e.setRolloutOptions("prod", "app", { batchPercent: 20 });
    e.setTargetVersion("prod", "app", "v1");
  }
  const cases = [
    [() => engine.orchestrate("prod", "app", "host-1"), "INVALID_ARGUMENT", /reports: must be an array/],
    [() => engine.orchestrate("prod", "app", { name: "a" }), "INVALID_ARGUMENT"],
    [() => engine.orchestrate("prod", "app", [{ version: "v1" }]), "INVALID_TARGET", /name must be a string, got undefined/],
    [() => engine.orchestrate("prod", "app", [{ name: "", version: "v1" }]), "INVALID_TARGET", /non-empty name/],
    [() => engine.orchestrate("prod", "app", [{ name: "a" }]), "INVALID_TARGET", /version must be a string/],
    [() => engine.orchestrate("prod", "app", [{ name: "a", version: "v1", isError: "yes" }]), "INVALID_TARGET", /isError must be a boolean/],
    [() => engine.orchestrate("prod", "app", [{ name: "a", version: "v1", tags: "x" }]), "INVALID_TARGET", /tags/],
    [() => engine.orchestrate("prod", "app", [{ name: "a", version: "v1" }, { name: "a", version: "v2" }]), "INVALID_TARGET", /reported twice/],
    [() => engine.orchestrate("prod", "app", [null]), "INVALID_TARGET"],
    [() => engine.orchestrate("prod", "nope", []), "NO_TARGET_VERSION", /call setTargetVersion first/],
    [() => engine.orchestrate(42, "app", []), "INVALID_ARGUMENT", /namespace: must be a string, got 42/],
    [() => engine.orchestrate("", "app", []), "INVALID_NAME"],
    [() => engine.setTargetVersion("prod", "app", ""), "INVALID_VERSION"],
    [() => engine.setTargetVersion("prod", "app"), "INVALID_ARGUMENT"],
    [() => engine.forceTargetVersion("prod", "app", null), "INVALID_ARGUMENT"],
    [() => engine.setRolloutOptions("prod", "app", { batchPercent: 150 }), "INVALID_OPTIONS", /batchPercent = 150/],
    [() => engine.setRolloutOptions("prod", "app", { successPercent: 99.5 }), "INVALID_OPTIONS", /successPercent = 99.5/],
    [() => engine.setRolloutOptions("prod", "app", { successTimeoutSecs: -1 }), "INVALID_OPTIONS", /successTimeoutSecs = -1/],
    [() => engine.setRolloutOptions("prod", "app", { durationTimeoutSecs: "120" }), "INVALID_OPTIONS", /durationTimeoutSecs = "120"/],
    [() => engine.setRolloutOptions("prod", "app", { batchSize: 3 }), "INVALID_OPTIONS", /no such option/],
    [() => engine.setRolloutOptions("prod", "app", "fast"), "INVALID_ARGUMENT"],
    [() => engine.rolloutInfo("prod", "missing"), "NOT_FOUND"],
    [() => engine.expectedState("staging", "app"), "NOT_FOUND"],
    [() => engine.expectedState("prod", "app", 7), "INVALID_ARGUMENT"],
    [() => engine.entities("staging"), "NOT_FOUND"],
    [() => engine.setTargetController("prod", "app", { select: "first" }), "INVALID_ARGUMENT", /controller.select: must be a function/],
    [() => engine.setMonitoringController("prod", "app", {}), "INVALID_ARGUMENT", /check/],
    [() => engine.deltaWithin("prod", "app", -1), "INVALID_ARGUMENT", /maxBytes: must be a whole number of bytes, 0 or more, got -1/],
    [() => engine.deltaWithin("prod", "app", "100"), "INVALID_ARGUMENT", /maxBytes/],
    [() => engine.deltaWithin("prod", "app", 1e9), "NOT_FOUND", /checkpoint/],
    [() => Orchestrator.restore("bytes"), "INVALID_ARGUMENT"],
    [() => Orchestrator.restore(new Uint8Array(64)), "INVALID_SNAPSHOT", /bad magic/],
    [() => new Orchestrator({ now: 5 }), "INVALID_ARGUMENT"],
    [() => new Orchestrator({ clock: () => 1 }), "INVALID_ARGUMENT"],
  ];
  for (const [fn, code, message] of cases) {
    const before = engine.snapshot();
    expectError(fn, code, message);
    assert.deepEqual(engine.snapshot(), before, `${fn} changed the state`);
    // Not poisoned: the engine answers exactly as a twin that saw no error.
    clock.now += 10_000;
    const reports = fleet.reports();
    const answer = engine.orchestrate("prod", "app", reports);
    assert.deepEqual(answer, twin.orchestrate("prod", "app", reports));
    fleet.apply(answer);
  }
});

test("a clock that returns NaN, a string or throws gives INVALID_TIME", () => {
  for (const bad of [() => NaN, () => "noon", () => Infinity, () => 2 ** 60, () => { throw new Error("no time"); }]) {
    let now = bad;
    const engine = new Orchestrator({ now: () => now() });
    // Setters read the clock too (the event log records when).
    expectError(() => engine.setTargetVersion("p", "e", "v1"), "INVALID_TIME");
    expectError(() => engine.rolloutInfo("p", "e"), "NOT_FOUND");
    now = () => T0;
    engine.setTargetVersion("p", "e", "v1");
    now = bad;
    expectError(() => engine.orchestrate("p", "e", [{ name: "a", version: "v1" }]), "INVALID_TIME");
    expectError(() => engine.pause("p", "e"), "INVALID_TIME");
    const info = engine.rolloutInfo("p", "e");
    assert.equal(info.targets, 0, "nothing was recorded");
    assert.equal(info.paused, false);
  }
});

test("messages a newcomer can act on: a Date from the clock, a nameless report entry, limits and percentages as written", () => {
  const dated = new Orchestrator({ now: () => new Date(T0) });
  expectError(() => dated.setTargetVersion("p", "e", "v1"), "INVALID_TIME", /^invalid time \(a Date\): .*Date\.now\(\)/);
  const engine = new Orchestrator({ now: () => T0 });
  engine.setTargetVersion("p", "e", "v1");
  expectError(() => engine.orchestrate("p", "e", [{ name: "a", version: "v1" }, { name: "", group: "eu", version: "v1" }]), "INVALID_TARGET", /#2 of the report's 2 \(group "eu"\)/);
  expectError(() => engine.orchestrateColumns("p", "e", { names: ["a", "", "c"], versions: ["v1", "v1", "v1"] }), "INVALID_TARGET", /#2 of the report's 3/);
  expectError(() => engine.setRolloutOptions("p", "e", { maxFailures: "150%" }), "INVALID_OPTIONS", /maxFailures = "150%"/);
  expectError(() => engine.setRolloutOptions("p", "e", { maxFailures: 2 ** 32 }), "INVALID_OPTIONS", /from 0 to 4294967295\)/);
  expectError(() => engine.setRolloutOptions("p", "e", { successTimeoutSecs: 2 ** 32 }), "INVALID_OPTIONS", /from 0 to 4294967295 seconds/);
});

test("a hook that calls back into the engine fails as a hook, not as a crash", () => {
  const clock = { now: T0 };
  const engine = new Orchestrator({ now: () => clock.now });
  engine.setTargetVersion("p", "e", "v1");
  engine.setMonitoringController("p", "e", { check: () => engine.rolloutInfo("p", "e") });
  expectError(() => engine.orchestrate("p", "e", [{ name: "a", version: "v1" }]), "HOOK_FAILED", /recursive use/);
  engine.setMonitoringController("p", "e", null);
  assert.equal(engine.orchestrate("p", "e", [{ name: "a", version: "v1" }]).length, 1);
});

test("a report field that is not one is rejected whole, naming it; an answer's own fields are accepted", () => {
  const clock = { now: T0 };
  const engine = new Orchestrator({ now: () => clock.now });
  engine.setTargetVersion("prod", "app", "v1");
  const answer = engine.orchestrate("prod", "app", [{ name: "h0", version: "v1" }]);
  const before = engine.snapshot();
  for (const report of [[{ name: "h1", version: "v1", error: true }], [{ name: "h1", version: "v1" }, { name: "h2", version: "v1", is_error: true }]]) {
    expectError(() => engine.orchestrate("prod", "app", report), "INVALID_TARGET", /has a field "(error|is_error)" \(true\) that a report does not have/);
    expectError(() => engine.report("prod", "app", report), "INVALID_TARGET");
  }
  assert.deepEqual(engine.snapshot(), before, "nothing applied");
  // Fed back, an answer (with its reason) is a report.
  assert.equal(engine.orchestrate("prod", "app", answer).length, 1);
  // The error flags are the column isError, as in a report's objects; the old name says so.
  expectError(() => engine.orchestrateColumns("prod", "app", { names: ["h0"], versions: ["v1"], errors: [true] }), "INVALID_ARGUMENT", /column "errors": the error flags are the column isError/);
});

test("deltaWithin: the delta when it fits, undefined past its bytes, and then no delta until a checkpoint", () => {
  const clock = { now: T0 };
  const engine = new Orchestrator({ now: () => clock.now });
  const twin = new Orchestrator({ now: () => clock.now });
  const fleet = new Fleet(2_000);
  const step = () => {
    clock.now += 10_000;
    const reports = fleet.reports();
    const answer = engine.orchestrate("prod", "app", reports);
    assert.deepEqual(twin.orchestrate("prod", "app", reports), answer);
    fleet.apply(answer);
  };
  for (const e of [engine, twin]) {
    e.setRolloutOptions("prod", "app", { batchPercent: 20 });
    e.setTargetVersion("prod", "app", "v1");
  }
  step();
  assert.deepEqual(engine.checkpoint("prod", "app"), twin.checkpoint("prod", "app"));
  for (const e of [engine, twin]) e.setTargetVersion("prod", "app", "v2");
  step();
  const whole = twin.delta("prod", "app");
  assert.deepEqual(engine.deltaWithin("prod", "app", whole.length), whole);
  step();
  assert.equal(engine.deltaWithin("prod", "app", 10), undefined);
  assert.throws(() => engine.delta("prod", "app"), (err) => err.code === "NOT_FOUND");
  const follower = Orchestrator.restore(engine.checkpoint("prod", "app"));
  step();
  follower.applyDelta(engine.deltaWithin("prod", "app", Number.MAX_SAFE_INTEGER));
  assert.deepEqual(follower.snapshot(), engine.snapshot());
});
