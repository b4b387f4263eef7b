// Hooks from JS (SPEC section 4) and what their failures do.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Orchestrator } from "orchestrator-engine";
import { Fleet, T0, drive } from "./fleet.mjs";

const options = { batchPercent: 50, successPercent: 100, successTimeoutSecs: 60, durationTimeoutSecs: 120 };

function setup(n = 4, prefix = "host") {
  const clock = { now: T0 };
  const engine = new Orchestrator({ now: () => clock.now });
  const fleet = new Fleet(n, "v1", { groups: [""] });
  for (const h of fleet.hosts) h.name = h.name.replace("host", prefix);
  engine.setRolloutOptions("prod", "app", options);
  engine.setTargetVersion("prod", "app", "v1");
  drive(engine, fleet, clock, { done: (i) => i.lastKnownGoodVersion === "v1" });
  return { engine, fleet, clock };
}

/** Blue/green: new machines instead of moved ones; the fleet follows the answer. */
function blueGreen(greensBroken) {
  const { engine, fleet, clock } = setup(4, "blue");
  let created = 0;
  engine.setTargetController("prod", "app", {
    select(targets, count, ctx) {
      if (ctx.rollingBack || ctx.version !== "v2") return [];
      const n = Math.min(count, 4 - created);
      return Array.from({ length: n }, () => ({ name: `green-${created++}` }));
    },
    remove(targets, count) {
      return targets.slice(0, count).map((t) => ({ name: t.name, group: t.group }));
    },
  });
  engine.setTargetVersion("prod", "app", "v2");
  for (let step = 0; step < 100; step++, clock.now += 10_000) {
    // A target answered "removed" is decommissioned: it is not kept.
    const expected = engine.orchestrate("prod", "app", fleet.reports()).filter((e) => e.reason !== "removed");
    fleet.hosts = fleet.hosts.filter((h) => expected.some((e) => e.name === h.name));
    for (const e of expected) {
      if (e.name.startsWith("blue")) assert.equal(e.version, "v1");
      if (!fleet.hosts.some((h) => h.name === e.name)) {
        fleet.hosts.push({ name: e.name, group: e.group, running: e.version, brokenOn: new Set(greensBroken ? ["v2"] : []) });
      }
    }
    const info = engine.rolloutInfo("prod", "app");
    if (info.lastKnownGoodVersion === "v2" && expected.length === 4) break;
    if (info.lastKnownBadVersion === "v2" && !expected.some((e) => e.name.startsWith("green"))) break;
  }
  return engine.expectedState("prod", "app").filter((e) => e.reason !== "removed");
}

test("a blue/green rollout driven by JS select and remove hooks ends with exactly the new machines", () => {
  const end = blueGreen(false);
  assert.deepEqual(end.map((e) => e.name), ["green-0", "green-1", "green-2", "green-3"]);
  assert.ok(end.every((e) => e.version === "v2" && e.reason === "succeeded"));
});

test("a failing blue/green rollout keeps the old machines", () => {
  const end = blueGreen(true);
  assert.deepEqual(end.map((e) => e.name), ["blue-000", "blue-001", "blue-002", "blue-003"]);
  assert.ok(end.every((e) => e.version === "v1"));
});

test("an approval hook holds targets back", () => {
  const { engine, fleet, clock } = setup(4);
  let open = false;
  engine.setTargetController("prod", "app", {
    approve: (targets) => targets.filter((t) => open || t.name !== "host-000"),
  });
  engine.setTargetVersion("prod", "app", "v2");
  for (let i = 0; i < 30; i++, clock.now += 10_000) {
    const expected = engine.orchestrate("prod", "app", fleet.reports());
    fleet.apply(expected);
    assert.equal(expected[0].version, "v1");
    if (i > 0) assert.equal(expected[0].reason, "held_back");
  }
  assert.equal(engine.rolloutInfo("prod", "app").lastKnownGoodVersion, "v1");
  open = true;
  drive(engine, fleet, clock, { done: (i) => i.lastKnownGoodVersion === "v2" });
});

test("a throwing monitor hook fails that one target", () => {
  const { engine, fleet, clock } = setup(4);
  engine.setTargetController("prod", "app", {
    monitor(target) {
      if (target.name === "host-001" && target.version === "v2") throw new Error("p99 latency 900ms");
    },
  });
  engine.setTargetVersion("prod", "app", "v2");
  let failed;
  drive(engine, fleet, clock, {
    done: (i) => i.lastKnownBadVersion === "v2",
    onStep: (e) => { failed ??= e.find((t) => t.isError); },
  });
  assert.equal(failed.name, "host-001");
  assert.equal(failed.reason, "failed_monitor");
  assert.equal(failed.message, "failed on v2: the monitor hook rejected it: p99 latency 900ms");
});

test("a throwing external check fails the step and changes nothing", () => {
  const { engine, fleet, clock } = setup(4);
  let firing = false;
  let seen = [];
  engine.setMonitoringController("prod", "app", {
    check(targets, ctx) {
      seen = targets;
      assert.equal(ctx.namespace, "prod");
      if (firing) throw new Error("alert firing: 5xx rate");
    },
  });
  engine.setTargetVersion("prod", "app", "v2");
  for (let i = 0; i < 3; i++, clock.now += 10_000) fleet.apply(engine.orchestrate("prod", "app", fleet.reports()));
  assert.equal(seen.length, 2);
  firing = true;
  const before = engine.snapshot();
  const reports = [...fleet.reports(), { name: "newcomer", version: "v1" }];
  assert.throws(() => engine.orchestrate("prod", "app", reports), (err) => {
    assert.ok(err instanceof Error);
    assert.equal(err.code, "HOOK_FAILED");
    assert.equal(err.message, "monitoring check hook failed, the step was not applied: alert firing: 5xx rate");
    return true;
  });
  assert.deepEqual(engine.snapshot(), before);
  firing = false;
  drive(engine, fleet, clock, { done: (i) => i.lastKnownGoodVersion === "v2" });
});

test("hooks that return garbage select nothing instead of breaking the engine", () => {
  for (const select of [() => "host-000", () => [42], () => [{ group: "x" }]]) {
    const { engine, fleet, clock } = setup(4);
    engine.setTargetController("prod", "app", { select });
    engine.setTargetVersion("prod", "app", "v2");
    for (let i = 0; i < 3; i++, clock.now += 10_000) {
      const expected = engine.orchestrate("prod", "app", fleet.reports());
      assert.ok(expected.every((e) => e.version === "v1" && e.reason !== "in_flight"));
    }
  }
});

test("a hook that returns a Promise in a synchronous step: HOOK_PENDING naming it, and nothing changed", async () => {
  let rejections = 0;
  const onRejection = () => rejections++;
  process.on("unhandledRejection", onRejection);
  try {
    for (const [hook, answer] of [
      ["select", () => Promise.resolve([])],
      ["approve", () => Promise.reject(new Error("ticket system down"))],
      ["monitor", async () => {}],
    ]) {
      const { engine, fleet, clock } = setup(4);
      engine.setRolloutOptions("prod", "app", { batchPercent: 50, successTimeoutSecs: 0 });
      engine.setTargetVersion("prod", "app", "v2");
      // Two targets move to v2 and run it: the next step monitors them,
      // and selects and approves the other two.
      for (let i = 0; i < 3; i++, clock.now += 10_000) fleet.apply(engine.orchestrate("prod", "app", fleet.reports()));
      engine.setTargetController("prod", "app", { [hook]: answer });
      const before = engine.snapshot();
      assert.throws(
        () => engine.orchestrate("prod", "app", fleet.reports()),
        (e) => e.code === "HOOK_PENDING" && e.message.includes(`the ${hook} hook returned a Promise`) && /orchestrateAsync/.test(e.message),
        hook,
      );
      assert.deepEqual(engine.snapshot(), before, `${hook}: the step changed nothing`);
      engine.setTargetController("prod", "app", null);
      assert.ok(engine.orchestrate("prod", "app", fleet.reports()).length === 4, "the engine goes on");
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(rejections, 0, "a Promise nobody waits for never rejects unhandled");
  } finally {
    process.off("unhandledRejection", onRejection);
  }
});

test("hooks see the plan step the rollout is on (0-based, as rolloutInfo().step), null without a plan", () => {
  const { engine, fleet, clock } = setup(4);
  engine.setRolloutOptions("prod", "app", { steps: [1, "50%", "100%"], successTimeoutSecs: 0 });
  const seen = [];
  engine.setTargetController("prod", "app", {
    approve: (targets, context) => {
      seen.push(context.step);
      return targets;
    },
  });
  engine.setTargetVersion("prod", "app", "v2");
  drive(engine, fleet, clock, { done: (i) => i.lastKnownGoodVersion === "v2" });
  assert.equal(seen[0], 0);
  assert.ok(seen.every((s, i) => Number.isInteger(s) && (i === 0 || s >= seen[i - 1])), `steps seen: ${seen}`);
  assert.ok(seen.includes(1), `steps seen: ${seen}`);

  engine.setRolloutOptions("prod", "app", { batchPercent: 50, successTimeoutSecs: 0 });
  seen.length = 0;
  engine.setTargetVersion("prod", "app", "v3");
  drive(engine, fleet, clock, { done: (i) => i.lastKnownGoodVersion === "v3" });
  assert.ok(seen.length > 0 && seen.every((s) => s === null), `steps seen: ${seen}`);
});
