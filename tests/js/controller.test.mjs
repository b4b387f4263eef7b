// The controller loop of the README, against the built package.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Orchestrator, version } from "orchestrator-engine";
import { Fleet, T0, drive } from "./fleet.mjs";

const options = { batchPercent: 10, successPercent: 100, successTimeoutSecs: 60, durationTimeoutSecs: 180 };

function established(n) {
  const clock = { now: T0 };
  const engine = new Orchestrator({ now: () => clock.now });
  const fleet = new Fleet(n);
  engine.setRolloutOptions("prod", "app", options);
  engine.setTargetVersion("prod", "app", "v1");
  drive(engine, fleet, clock, { done: (i) => i.lastKnownGoodVersion === "v1" });
  return { engine, fleet, clock };
}

test("version() is the package.json version", () => {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url)));
  assert.equal(version(), pkg.version);
});

test("the controller loop rolls 50 targets from v1 to v2 in virtual time", () => {
  const { engine, fleet, clock } = established(50);
  engine.setTargetVersion("prod", "app", "v2");
  let peak = 0;
  const steps = drive(engine, fleet, clock, {
    done: (i) => i.lastKnownGoodVersion === "v2",
    onStep: (expected) => {
      const inFlight = expected.filter((e) => e.reason === "in_flight").length;
      peak = Math.max(peak, inFlight);
      assert.ok(inFlight <= 5, `${inFlight} in flight, batch is 5`);
    },
  });
  assert.ok(fleet.runningAll("v2"));
  assert.equal(peak, 5);
  // 10 batches, each healthy for more than 60 s at 10 s a step.
  assert.ok(steps >= 70 && steps <= 90, `${steps} steps`);
  const info = engine.rolloutInfo("prod", "app");
  assert.deepEqual([info.rollingVersion, info.lastKnownGoodVersion, info.lastKnownBadVersion], ["v2", "v2", ""]);
});

test("a failing v2 is rolled back until every target is back on the last known good version", () => {
  const { engine, fleet, clock } = established(30);
  for (const i of [7, 8]) fleet.hosts[i].brokenOn.add("v2");
  engine.setTargetVersion("prod", "app", "v2");
  let sawV2 = false;
  drive(engine, fleet, clock, {
    done: (i) => i.lastKnownBadVersion === "v2" && fleet.runningAll("v1"),
    onStep: (expected) => { sawV2 ||= expected.some((e) => e.version === "v2"); },
  });
  assert.ok(sawV2, "v2 was rolled out to some targets first");
  const info = engine.rolloutInfo("prod", "app");
  assert.equal(info.lastKnownGoodVersion, "v1");
  assert.equal(info.lastKnownBadVersion, "v2");
  // It stays rolled back.
  for (let i = 0; i < 30; i++, clock.now += 10_000) {
    assert.ok(engine.orchestrate("prod", "app", fleet.reports()).every((t) => t.version === "v1"));
  }
});
