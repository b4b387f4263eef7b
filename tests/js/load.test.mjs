// Load: one million targets through a whole rollout and a rollback in one
// Node process, through the package's plain API, with the memory it took.
// (Timings are in `npm run bench`; this proves it completes and is right.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { Orchestrator, wasmMemoryBytes } from "orchestrator-engine";
import { fleet, T0 } from "../../bench/common.mjs";

// LOAD_TARGETS may raise the fleet for a longer run, never lower it.
const N = Math.max(1_000_000, Number(process.env.LOAD_TARGETS ?? 0) || 0);
const MiB = (bytes) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

test(`${N.toLocaleString("en")} targets: a rollout to v2, then v3 fails and rolls back to v2`, { timeout: 15 * 60_000 }, (t) => {
  const clock = { now: T0 };
  const engine = new Orchestrator({ now: () => clock.now });
  const batchPercent = 25;
  engine.setRolloutOptions("prod", "app", { batchPercent, successTimeoutSecs: 10, durationTimeoutSecs: 60 });
  engine.setTargetVersion("prod", "app", "v1");
  const reports = fleet(N);
  // Every 50th target reports errors once it runs v3.
  const brokenOnV3 = (i) => i % 50 === 0;
  let order = null; // answer position -> report index (the answer is sorted by group, name)
  const peak = { rss: 0, heap: 0, wasm: 0 };
  let steps = 0;
  let maxInFlight = 0;
  let moving = 0; // in flight or rolling back in the last answer
  const step = () => {
    const answer = engine.orchestrate("prod", "app", reports);
    if (order === null) {
      const index = new Map(reports.map((r, i) => [`${r.group}/${r.name}`, i]));
      order = Int32Array.from(answer, (e) => index.get(`${e.group}/${e.name}`));
    }
    assert.equal(answer.length, N);
    let inFlight = 0;
    let rolledBack = 0;
    for (let k = 0; k < answer.length; k++) {
      const e = answer[k];
      const r = reports[order[k]];
      if (e.reason === "in_flight") inFlight++;
      else if (e.reason === "rolled_back") rolledBack++;
      if (r.version !== e.version) {
        r.version = e.version;
        r.isError = e.version === "v3" && brokenOnV3(order[k]);
        r.message = r.isError ? "error rate above 5%" : "running successfully";
      }
    }
    maxInFlight = Math.max(maxInFlight, inFlight);
    moving = inFlight + rolledBack;
    const m = process.memoryUsage();
    peak.rss = Math.max(peak.rss, m.rss);
    peak.heap = Math.max(peak.heap, m.heapUsed);
    peak.wasm = Math.max(peak.wasm, wasmMemoryBytes());
    clock.now += 10_000;
    steps++;
  };
  const until = (done, max = 60) => {
    for (let i = 0; i < max && !done(); i++) step();
    assert.ok(done(), `not done after ${max} steps: ${JSON.stringify(engine.rolloutInfo("prod", "app"))}`);
  };
  const info = () => engine.rolloutInfo("prod", "app");

  until(() => info().lastKnownGoodVersion === "v1");
  engine.setTargetVersion("prod", "app", "v2");
  const started = steps;
  maxInFlight = 0;
  until(() => info().lastKnownGoodVersion === "v2");
  assert.ok(reports.every((r) => r.version === "v2"));
  assert.ok(maxInFlight <= Math.ceil((N * batchPercent) / 100), `${maxInFlight} in flight`);
  const rollout = steps - started;

  engine.setTargetVersion("prod", "app", "v3");
  const failing = steps;
  // Done once every target is back on v2 and judged healthy there.
  until(() => info().lastKnownBadVersion === "v3" && moving === 0 && reports.every((r) => r.version === "v2"));
  const rollback = steps - failing;
  assert.equal(info().lastKnownGoodVersion, "v2");
  const reasons = new Set(engine.expectedState("prod", "app").map((e) => e.reason));
  assert.deepStrictEqual([...reasons], ["succeeded"]);

  const line = `${N.toLocaleString("en")} targets: rollout to v2 in ${rollout} steps, v3 bad and rolled back in ${rollback} steps; ` +
    `peak RSS ${MiB(peak.rss)}, JS heap ${MiB(peak.heap)}, wasm memory ${MiB(peak.wasm)} (${Math.round(peak.wasm / N)} bytes/target)`;
  t.diagnostic(line);
  engine.free();
});
