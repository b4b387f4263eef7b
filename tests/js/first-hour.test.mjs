// What a new user meets in their first hour, through the package: the
// first rollout rolls back to what the fleet ran, the answer that judges a
// version bad already sends targets back, a crash-looping target can fail
// before the deadline, and retired targets leave the answer.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Orchestrator } from "orchestrator-engine";
import { Fleet, T0 } from "./fleet.mjs";

function fresh(options) {
  const clock = { now: T0 };
  const engine = new Orchestrator({ now: () => clock.now });
  if (options) engine.setRolloutOptions("prod", "app", options);
  return { engine, clock };
}

test("the README's first rollout: an empty engine, a fleet on v1, v2 fails, and it rolls back to v1", () => {
  const { engine, clock } = fresh({ batchPercent: 50, successTimeoutSecs: 60, durationTimeoutSecs: 120 });
  const fleet = new Fleet(4, "v1", { groups: [""] });
  fleet.hosts[3].running = "v0";
  engine.setTargetVersion("prod", "app", "v2");
  let answer = engine.orchestrate("prod", "app", fleet.reports());
  const info = engine.rolloutInfo("prod", "app");
  assert.equal(info.lastKnownGoodVersion, "v1", "what most targets run is adopted");
  const adopted = engine.events("prod", "app").find((e) => e.kind === "version_good");
  assert.equal(adopted.version, "v1");
  assert.match(adopted.detail, /^adopted as last known good: 3 of 4 targets run it as the first rollout starts/);
  assert.deepEqual(engine.history("prod", "app").map((r) => [r.version, r.outcome]), [["v1", "succeeded"], ["v2", "in_progress"]]);
  assert.equal(answer.filter((e) => e.version === "v2").length, 2);

  for (const h of fleet.hosts) h.brokenOn = new Set(["v2"]);
  let judged = null;
  for (let i = 0; i < 40 && !judged; i++) {
    fleet.apply(answer);
    clock.now += 10_000;
    answer = engine.orchestrate("prod", "app", fleet.reports());
    if (engine.rolloutInfo("prod", "app").lastKnownBadVersion === "v2") judged = answer;
  }
  assert.ok(judged, "v2 judged bad");
  // The answer that judged it bad already sends every moved target back.
  assert.ok(judged.every((e) => e.version !== "v2"), JSON.stringify(judged));
  assert.ok(judged.some((e) => e.reason === "rolled_back"));
  assert.equal(engine.rollbackTo("prod", "app", "v1"), true);
});

test("errorTimeoutSecs fails a crash-looping target once it reported errors that long (not at the deadline), exactly at the edge", () => {
  for (const errorTimeoutSecs of [30, null]) {
    const { engine, clock } = fresh({ batchPercent: 100, successTimeoutSecs: 60, durationTimeoutSecs: 600, errorTimeoutSecs, maxFailures: 1 });
    assert.equal(engine.rolloutInfo("prod", "app").options.errorTimeoutSecs, errorTimeoutSecs);
    engine.setTargetVersion("prod", "app", "v2");
    const reports = (version) => [1, 2, 3].map((i) => ({ name: `host-${i}`, version, isError: version === "v2" && i === 1, message: i === 1 ? "crash loop" : "" }));
    engine.orchestrate("prod", "app", reports("v1"));
    clock.now += 1000;
    const start = clock.now;
    engine.orchestrate("prod", "app", reports("v2"));
    const at = (t) => { clock.now = t; return engine.orchestrate("prod", "app", reports("v2"))[0]; };
    assert.equal(at(start + 30_000).reason, "in_flight");
    const past = at(start + 30_001);
    if (errorTimeoutSecs === null) {
      assert.equal(past.reason, "in_flight");
      assert.match(past.message, /fails if not healthy 600s after assignment/);
      assert.equal(at(T0 + 600_001).reason, "failed_unhealthy");
    } else {
      assert.equal(past.reason, "failed_unhealthy");
      assert.equal(past.message, "failed on v2: it reports errors: crash loop");
    }
  }
  const { engine } = fresh();
  assert.throws(() => engine.setRolloutOptions("p", "e", { errorTimeoutSecs: -1 }), (e) => e.code === "INVALID_OPTIONS" && /errorTimeoutSecs/.test(e.message));
});

test("a plan is cumulative and must not shrink; plan() shows each step's new targets and its total", () => {
  const { engine } = fresh({ steps: [{ size: 2, bakeSecs: 60 }, "25%", { size: "50%", approval: true }, "100%"] });
  engine.setTargetVersion("prod", "app", "v2");
  const reports = Array.from({ length: 20 }, (_, i) => ({ name: `h${String(i).padStart(2, "0")}`, version: "v1" }));
  engine.orchestrate("prod", "app", reports);
  const plan = engine.plan("prod", "app");
  assert.deepEqual(plan.steps.map((s) => [s.targets, s.cumulative]), [[2, 2], [3, 5], [5, 10], [10, 20]]);
  assert.throws(() => engine.setRolloutOptions("prod", "app", { steps: [5, 2, "100%"] }), (e) => e.code === "INVALID_OPTIONS" && /steps\[1\]/.test(e.message));
  // Aborted and sent back, v2 is known bad: the plan says it waits for retry(), with no start.
  engine.abort("prod", "app");
  const waiting = engine.plan("prod", "app");
  assert.equal(waiting.needsRetry, true);
  assert.equal(waiting.earliestGood, null);
  assert.ok(waiting.steps.every((s) => s.status === "pending" && s.earliestStart === null));
  engine.retry("prod", "app");
  assert.equal(engine.plan("prod", "app").needsRetry, false);
  // No version set: no plan, as a step would say.
  engine.setRolloutOptions("prod", "fresh", {});
  assert.throws(() => engine.plan("prod", "fresh"), (e) => e.code === "NO_TARGET_VERSION");
});
