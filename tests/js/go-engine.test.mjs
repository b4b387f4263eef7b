// The Go engine's own tests (nixmade/orchestrator core/engine_test.go),
// replayed through this package's JS API in virtual time: the same options,
// the same calls, the same clock steps (each time.Sleep advances the
// clock), each answer fed back as the next report, the same assertions,
// with the Go options as written.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Orchestrator } from "orchestrator-engine";
import { T0 } from "./fleet.mjs";

/** The Go engine's RolloutOptions (its four fields); the rest default. */
const goOptions = (batchPercent, successPercent, successTimeoutSecs, durationTimeoutSecs) => ({
  batchPercent, successPercent, successTimeoutSecs, durationTimeoutSecs,
});
/** DefaultRolloutOptions() with the timeouts a test sets. */
const goDefaults = (successTimeoutSecs, durationTimeoutSecs) => goOptions(5, 100, successTimeoutSecs, durationTimeoutSecs);

function goEngine() {
  const clock = { now: T0 };
  const engine = new Orchestrator({ now: () => clock.now });
  return {
    engine,
    sleep: (secs) => { clock.now += secs * 1000; },
    // engine.Orchestrate: the answer, fed back as the next report.
    orchestrate: (ns, entity, targets) => engine.orchestrate(ns, entity, targets),
  };
}

const clientTarget = (i) => ({ name: `clientTarget${i}`, version: "v1", message: "running successfully", isError: false });
const versionCount = (targets, version) => targets.filter((t) => t.version === version).length;
/** markTargetVersionBad: the targets on `version`, now reporting errors. */
function markBad(targets, version) {
  const bad = targets.filter((t) => t.version === version);
  for (const t of bad) Object.assign(t, { isError: true, message: "New version just doesnt work" });
  return bad;
}

/** setupNamespace: v1 good at once (successPercent 0), then v2 rolling. */
function setupNamespace(go, ns, entity, n) {
  go.engine.setRolloutOptions(ns, entity, goOptions(100, 0, 0, 0));
  go.engine.setTargetVersion(ns, entity, "v1");
  const targets = Array.from({ length: n }, (_, i) => clientTarget(i));
  go.orchestrate(ns, entity, targets);
  go.sleep(1);
  go.engine.setRolloutOptions(ns, entity, goDefaults(0, 120));
  go.engine.setTargetVersion(ns, entity, "v2");
  go.orchestrate(ns, entity, targets);
  return targets;
}

/** CustomEngineTestController: selection creates machines, removal retires one. */
function customController(curTargetNum) {
  const controller = {
    curTargetNum,
    select(targets, selection) {
      const created = [];
      for (let i = controller.curTargetNum; i < controller.curTargetNum + selection; i++) created.push({ name: `clientTarget${i}` });
      controller.curTargetNum += selection;
      return created;
    },
    remove(targets, selection) {
      return targets.slice(0, Math.min(selection, 1)).map((t) => ({ name: t.name, group: t.group }));
    },
  };
  return controller;
}

const lkg = (go, ns, entity) => go.engine.rolloutInfo(ns, entity).lastKnownGoodVersion;
const lkb = (go, ns, entity) => go.engine.rolloutInfo(ns, entity).lastKnownBadVersion;

function rolloutOrchestrate(go, ns, entity, targets) {
  go.engine.setRolloutOptions(ns, entity, goDefaults(0, 10));
  for (let i = 1; i <= 3; i++) {
    targets = go.orchestrate(ns, entity, targets);
    assert.equal(versionCount(targets, "v2"), i, `expected inRollout ${i}`);
    go.sleep(1);
    targets = go.orchestrate(ns, entity, targets);
    go.sleep(1);
  }
  go.orchestrate(ns, entity, targets);
  assert.equal(lkg(go, ns, entity), "v2");
}

function rollbackOrchestrate(go, ns, entity, targets) {
  go.engine.setRolloutOptions(ns, entity, goDefaults(0, 2));
  targets = go.orchestrate(ns, entity, targets);
  const inRollout = markBad(targets, "v2");
  assert.equal(inRollout.length, 1);
  targets = go.orchestrate(ns, entity, inRollout);
  markBad(targets, "v2");
  go.sleep(3);
  targets = go.orchestrate(ns, entity, targets); // "This would mark it as last bad"
  markBad(targets, "v2");
  targets = go.orchestrate(ns, entity, targets); // "This would start the rollback process"
  assert.equal(versionCount(targets, "v1"), targets.length);
  assert.equal(lkg(go, ns, entity), "v1");
  assert.equal(lkb(go, ns, entity), "v2");
}

test("TestRolloutEntityOrchestrate and TestMultipleNamespaceEntityRollout pass as the Go engine's", () => {
  const go = goEngine();
  for (const [ns, entity] of [["TestBasicEntityOrchestrate", "NewEntity"], ["TestMultipleNamespaceEntityRollout", "NewEntity2"], ["TestMultipleNamespaceEntityRollout2", "NewEntity"]]) {
    rolloutOrchestrate(go, ns, entity, setupNamespace(go, ns, entity, 3));
  }
});

test("TestRollbackEntityOrchestrate and TestMultipleNamespaceEntityRollback pass as the Go engine's", () => {
  const go = goEngine();
  for (const [ns, entity] of [["TestRollbackEntityOrchestrate", "NewEntity"], ["TestMultipleNamespaceEntityRollback", "NewEntity2"], ["TestMultipleNamespaceEntityRollback2", "NewEntity"]]) {
    rollbackOrchestrate(go, ns, entity, setupNamespace(go, ns, entity, 3));
  }
});

test("TestBlueGreenRollout passes: retired machines never come back through the echoed answer", () => {
  const [ns, entity, n] = ["TestBlueGreenRollout", "NewEntity", 3];
  const go = goEngine();
  let targets = setupNamespace(go, ns, entity, n);
  go.engine.setRolloutOptions(ns, entity, goDefaults(0, 10));
  const controller = customController(n);
  go.engine.setTargetController(ns, entity, controller);
  targets = go.orchestrate(ns, entity, targets);
  for (let i = 1; i <= 3; i++) {
    assert.equal(versionCount(targets, "v2"), i, `expected inRollout ${i}`);
    go.sleep(1);
    targets = go.orchestrate(ns, entity, targets);
    go.sleep(1);
    targets = go.orchestrate(ns, entity, targets);
  }
  targets = go.orchestrate(ns, entity, targets);
  assert.equal(targets.length, n, "at the end of the rollout the old targets are removed");
  for (let i = n; i < controller.curTargetNum; i++) assert.ok(targets.some((t) => t.name === `clientTarget${i}`), `clientTarget${i}`);
  assert.equal(lkg(go, ns, entity), "v2");
  // A controller learns what was retired from the event log.
  const removed = go.engine.events(ns, entity).filter((e) => e.kind === "target_removed").map((e) => e.target.name);
  assert.deepEqual(removed, ["clientTarget0", "clientTarget1", "clientTarget2"]);
});

test("TestBlueGreenRollback passes: 3 targets, 2 of them old, v1 good and v2 bad", () => {
  const [ns, entity, n] = ["TestBlueGreenRollback", "NewEntity", 3];
  const go = goEngine();
  let targets = setupNamespace(go, ns, entity, n);
  go.engine.setRolloutOptions(ns, entity, goDefaults(0, 2));
  go.engine.setTargetController(ns, entity, customController(n));
  targets = go.orchestrate(ns, entity, targets);
  assert.equal(versionCount(targets, "v2"), 1);
  go.sleep(1);
  targets = go.orchestrate(ns, entity, targets);
  go.sleep(1);
  targets = go.orchestrate(ns, entity, targets);
  assert.equal(versionCount(targets, "v2"), 2);
  go.sleep(3);
  markBad(targets, "v2");
  targets = go.orchestrate(ns, entity, targets);
  assert.equal(versionCount(targets, "v1"), 2);
  markBad(targets, "v2");
  targets = go.orchestrate(ns, entity, targets);
  targets = go.orchestrate(ns, entity, targets);
  assert.equal(targets.length, n);
  const old = Array.from({ length: n }, (_, i) => `clientTarget${i}`).filter((name) => targets.some((t) => t.name === name));
  assert.equal(old.length, 2);
  assert.equal(lkg(go, ns, entity), "v1");
  assert.equal(lkb(go, ns, entity), "v2");
});

test("a selection hook is called only with available targets and free slots", () => {
  const go = goEngine();
  const targets = setupNamespace(go, "ns", "e", 3);
  let calls = 0;
  go.engine.setTargetController("ns", "e", { select(available, count) { calls += 1; assert.ok(available.length > 0 && count > 0); return available.slice(0, count); } });
  go.engine.setRolloutOptions("ns", "e", goOptions(100, 100, 0, 10));
  let answer = go.orchestrate("ns", "e", targets);
  assert.equal(calls, 1);
  for (let i = 0; i < 5; i++) {
    go.sleep(1);
    answer = go.orchestrate("ns", "e", answer);
  }
  assert.equal(lkg(go, "ns", "e"), "v2");
  assert.equal(calls, 1, "steady state: nothing available, no call");
});
