// Freeze windows and stopping the line through the built package: windows
// written as people write them (day names, "HH:MM", IANA zones through the
// runtime's Intl), one-off freezes as ISO strings or Dates, in virtual
// time; the same rules as tests/freezes.rs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Orchestrator } from "orchestrator-engine";
import { Fleet, drive } from "./fleet.mjs";

const base = { batchPercent: 20, successPercent: 100, successTimeoutSecs: 60, durationTimeoutSecs: 600 };
const MIN = 60_000;

function setup(start) {
  const clock = { now: start - 30 * MIN };
  const engine = new Orchestrator({ now: () => clock.now });
  const fleet = new Fleet(10, "v1");
  engine.setRolloutOptions("prod", "app", { ...base, batchPercent: 100 });
  engine.setTargetVersion("prod", "app", "v1");
  drive(engine, fleet, clock, { done: (i) => i.lastKnownGoodVersion === "v1", stepMs: MIN });
  engine.setRolloutOptions("prod", "app", base);
  clock.now = start;
  return { engine, fleet, clock, step: () => drive(engine, fleet, clock, { done: () => true, stepMs: MIN }) };
}

const on = (fleet, v) => fleet.hosts.filter((h) => h.running === v).length;

test("a Berlin night window holds new moves through midnight, then lets the rollout go on", () => {
  // Friday 2026-12-04 20:55 UTC is 21:55 in Berlin (UTC+1 in winter).
  const { engine, fleet, clock, step } = setup(Date.parse("2026-12-04T20:55:00Z"));
  const changed = engine.setFreezes("prod", "app", {
    windows: [{ name: "nights", days: ["friday"], start: "22:00", end: "06:00", zone: "Europe/Berlin" }],
  });
  assert.equal(changed, true);
  assert.deepEqual(engine.freezes("prod", "app"), {
    windows: [{ name: "nights", days: ["fri"], start: "22:00", end: "06:00", zone: "Europe/Berlin" }],
    freezes: [],
  });
  engine.setTargetVersion("prod", "app", "v2");
  while (clock.now < Date.parse("2026-12-04T21:00:00Z")) step();
  const moved = on(fleet, "v2");
  assert.ok(moved > 0);
  // 22:00 to 06:00 Berlin is 21:00 to 05:00 UTC.
  while (clock.now < Date.parse("2026-12-05T05:00:00Z")) {
    step();
    assert.equal(on(fleet, "v2"), moved);
  }
  const held = engine.expectedState("prod", "app").filter((t) => t.reason === "held_frozen");
  assert.equal(held.length, 10 - moved);
  assert.match(held[0].message, /window "nights" \(Fri 22:00-06:00 Europe\/Berlin\)/);
  assert.match(engine.rolloutInfo("prod", "app").frozen, /nights/);
  assert.deepEqual(engine.targetCounts("prod", "app").held_frozen, 10 - moved);
  drive(engine, fleet, clock, { done: (i) => i.lastKnownGoodVersion === "v2", stepMs: MIN });
  const kinds = engine.events("prod", "app").map((e) => e.kind);
  assert.deepEqual(
    kinds.filter((k) => k === "frozen" || k === "unfrozen"),
    ["frozen", "unfrozen"],
  );
  assert.equal(engine.rolloutInfo("prod", "app").frozen, null);
});

test("stopping the line holds every entity of the namespace, names who stopped it, and survives a snapshot", () => {
  const { engine, clock, step } = setup(Date.parse("2026-12-01T10:00:00Z"));
  engine.setActor("oncall");
  assert.equal(engine.stopTheLine("prod", "incident 4711"), true);
  assert.equal(engine.stopTheLine("prod", "again"), false);
  engine.setActor(null);
  assert.deepEqual(engine.lineStop("prod"), { reason: "incident 4711", since: clock.now, by: "oncall" });
  engine.setTargetVersion("prod", "app", "v2");
  step();
  step();
  const answer = engine.expectedState("prod", "app");
  assert.ok(answer.every((t) => t.version === "v1" && t.reason === "held_frozen"));
  assert.match(answer[0].message, /the line of prod stopped by oncall \(incident 4711\)/);
  const restored = Orchestrator.restore(engine.snapshot(), { now: () => clock.now });
  assert.deepEqual(restored.lineStop("prod"), engine.lineStop("prod"));
  assert.equal(engine.startTheLine("prod"), true);
  assert.equal(engine.lineStop("prod"), null);
  step();
  assert.ok(engine.expectedState("prod", "app").some((t) => t.version === "v2"));
});

test("one-off freezes take ISO strings and Dates; a namespace freeze holds its entities", () => {
  const { engine, clock, step } = setup(Date.parse("2026-11-27T00:00:00Z"));
  engine.setFreezes("prod", null, {
    freezes: [{ name: "black friday", from: "2026-11-27T00:00:00Z", until: new Date("2026-11-30T00:00:00Z") }],
  });
  assert.deepEqual(engine.freezes("prod").freezes, [{ name: "black friday", from: Date.parse("2026-11-27T00:00:00Z"), until: Date.parse("2026-11-30T00:00:00Z") }]);
  engine.setTargetVersion("prod", "app", "v2");
  step();
  assert.match(engine.rolloutInfo("prod", "app").frozen, /^prod's freeze "black friday" until 2026-11-30T00:00Z$/);
  clock.now = Date.parse("2026-11-30T00:00:00Z");
  step();
  assert.equal(engine.rolloutInfo("prod", "app").frozen, null);
  // Setting none removes them.
  assert.equal(engine.setFreezes("prod", null, {}), true);
  assert.deepEqual(engine.freezes("prod"), { windows: [], freezes: [] });
});

test("bad freezes are refused with INVALID_ARGUMENT naming the field", () => {
  const engine = new Orchestrator({ now: () => 0 });
  const bad = [
    [{ windows: [{ name: "w", days: "someday", start: "09:00", end: "17:00" }] }, /freezes\.windows\[0\]\.days/],
    [{ windows: [{ name: "w", days: "daily", start: "9:00", end: "17:00" }] }, /freezes\.windows\[0\]\.start/],
    [{ windows: [{ name: "w", days: "daily", start: "09:00", end: "24:01" }] }, /freezes\.windows\[0\]\.end/],
    [{ windows: [{ name: "w", days: "daily", start: "09:00", end: "17:00", zone: "Mars/Olympus" }] }, /unknown time zone "Mars\/Olympus"/],
    [{ freezes: [{ name: "f", from: "not a date", until: 1 }] }, /freezes\.freezes\[0\]\.from/],
    [{ freezes: [{ name: "f", from: 2, until: 1 }] }, /until must be after from/],
    [{ windwos: [] }, /freezes\.windwos/],
    [[], /an object/],
  ];
  for (const [freezes, message] of bad) {
    assert.throws(() => engine.setFreezes("prod", "app", freezes), (e) => e.code === "INVALID_ARGUMENT" && message.test(e.message), JSON.stringify(freezes));
  }
  assert.deepEqual(engine.namespaces(), []);
  assert.throws(() => engine.stopTheLine("prod", ""), { code: "INVALID_ARGUMENT" });
});

test("Rollouts keeps an entity's freezes in its store: another process holds the rollout too", async () => {
  const { Rollouts } = await import("orchestrator-engine/rollouts");
  const { MemoryStore } = await import("orchestrator-engine/stores");
  let now = Date.parse("2026-12-01T10:00:00Z");
  const store = new MemoryStore();
  const writer = new Rollouts({ store, now: () => now });
  const reports = Array.from({ length: 4 }, (_, i) => ({ name: `h${i}`, version: "v1" }));
  await writer.setTargetVersion("prod", "api", "v1");
  await writer.orchestrate("prod", "api", reports);
  const until = now + 3_600_000;
  assert.equal(await writer.setFreezes("prod", "api", { freezes: [{ name: "release train", from: now, until }] }), true);
  await writer.setTargetVersion("prod", "api", "v2");
  now += 1000;
  const other = new Rollouts({ store, now: () => now });
  assert.deepEqual((await other.freezes("prod", "api")).freezes, [{ name: "release train", from: until - 3_600_000, until }]);
  await other.orchestrate("prod", "api", reports);
  const answer = await other.orchestrate("prod", "api", reports);
  assert.ok(answer.every((t) => t.reason === "held_frozen"), JSON.stringify(answer));
  now = until;
  assert.ok((await writer.orchestrate("prod", "api", reports)).some((t) => t.version === "v2"));
});

test("Rollouts keeps a namespace's freezes and stopped line in a record of its own: every process's steps are held, no entity is listed for it, and it outlives them", async () => {
  const { Rollouts } = await import("orchestrator-engine/rollouts");
  const { MemoryStore } = await import("orchestrator-engine/stores");
  let now = Date.parse("2026-12-01T10:00:00Z");
  const store = new MemoryStore();
  const [oncall, controller] = [0, 1].map(() => new Rollouts({ store, now: () => now, namespaceCacheMs: 0 }));
  const reports = (v) => Array.from({ length: 4 }, (_, i) => ({ name: `h${i}`, version: v }));
  for (const entity of ["api", "web"]) {
    await controller.setRolloutOptions("prod", entity, { batchPercent: 50, successTimeoutSecs: 0 });
    await controller.setTargetVersion("prod", entity, "v1");
    await controller.orchestrate("prod", entity, reports("v1"));
  }
  // Stopped by the on-call, as themselves: both entities are held in the controller's process.
  assert.equal(await oncall.as("alice").stopTheLine("prod", "incident 4711"), true);
  assert.equal(await oncall.stopTheLine("prod", "again"), false, "stopped already");
  assert.deepEqual(await controller.lineStop("prod"), { reason: "incident 4711", since: now, by: "alice" });
  for (const entity of ["api", "web"]) {
    await controller.setTargetVersion("prod", entity, "v2");
    now += 1000;
    const answer = await controller.orchestrate("prod", entity, reports("v1"));
    assert.ok(answer.every((t) => t.version === "v1"), JSON.stringify(answer));
    assert.equal((await controller.rolloutInfo("prod", entity)).frozen, "the line of prod stopped by alice (incident 4711)");
  }
  // The record is no entity.
  assert.deepEqual(await controller.entities("prod"), ["api", "web"]);
  assert.deepEqual(await controller.list(), [["prod", "api"], ["prod", "web"]]);
  // A namespace freeze window as well, read back by another process.
  const window = { name: "nights", days: "daily", start: "22:00", end: "06:00", zone: "UTC" };
  assert.equal(await oncall.setFreezes("prod", null, { windows: [window] }), true);
  assert.deepEqual((await new Rollouts({ store }).freezes("prod")).windows, [{ ...window, days: ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] }]);
  // Started again: the next steps move (10:00 UTC is outside the window).
  assert.equal(await oncall.startTheLine("prod"), true);
  assert.equal(await controller.lineStop("prod"), null);
  now += 1000;
  const moving = await controller.orchestrate("prod", "api", reports("v1"));
  assert.ok(moving.some((t) => t.version === "v2"), JSON.stringify(moving));
  // An entity's own snapshot carries none of the namespace's settings.
  const alone = Orchestrator.restore(await controller.exportEntity("prod", "web"));
  assert.equal(alone.lineStop("prod"), null);
  alone.free();
  await assert.rejects(controller.stopTheLine("prod", ""), { code: "INVALID_ARGUMENT" });
  await assert.rejects(controller.setFreezes("", null, {}), { code: "INVALID_NAME" });
});
