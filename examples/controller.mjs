// A Node controller loop against a simulated fleet, in virtual time:
// report what every host runs, ask the engine what each should run, apply
// the difference, advance the clock. 24 hosts move from v1 to v2 in batches
// of 25%; a real controller would deploy instead of assigning `running`.
//
//   node examples/controller.mjs [--fail]   (--fail: v2 is broken on 2 hosts)
import { Orchestrator } from "orchestrator-engine";

const failing = process.argv.includes("--fail");
const STEP_MS = 15_000;
let now = Date.UTC(2025, 0, 1);
const engine = new Orchestrator({ now: () => now });

const fleet = Array.from({ length: 24 }, (_, i) => ({
  name: `host-${String(i).padStart(2, "0")}`,
  group: ["eu", "us", "ap"][i % 3],
  running: "v1",
}));
const broken = new Set(failing ? ["host-05", "host-13"] : []);
const report = () =>
  fleet.map((h) => {
    const isError = h.running === "v2" && broken.has(h.name);
    return { name: h.name, group: h.group, version: h.running, isError, message: isError ? "crash loop" : "ok" };
  });

engine.setRolloutOptions("prod", "web", { batchPercent: 25, successPercent: 100, successTimeoutSecs: 60, durationTimeoutSecs: 180 });
// Establish v1 as last known good, then ask for v2.
engine.setTargetVersion("prod", "web", "v1");
for (let i = 0; i < 3; i++, now += STEP_MS) engine.orchestrate("prod", "web", report());
engine.setTargetVersion("prod", "web", "v2");
console.log(`rolling ${fleet.length} hosts from v1 to v2${failing ? " (v2 is broken on host-05 and host-13)" : ""}\n`);

const start = now;
for (let step = 0; step < 200; step++, now += STEP_MS) {
  const expected = engine.orchestrate("prod", "web", report());
  const info = engine.rolloutInfo("prod", "web");
  const count = (pred) => expected.filter(pred).length;
  const clock = new Date(now - start).toISOString().slice(11, 19);
  console.log(
    `+${clock}  on v2: ${String(fleet.filter((h) => h.running === "v2").length).padStart(2)}/${fleet.length}` +
      `  in flight: ${count((e) => e.reason === "in_flight" || e.reason === "rolled_back")}` +
      `  succeeded: ${String(count((e) => e.reason === "succeeded")).padStart(2)}` +
      `  failed: ${count((e) => e.isError)}` +
      `  good: ${info.lastKnownGoodVersion || "-"}  bad: ${info.lastKnownBadVersion || "-"}`,
  );
  for (const e of expected) {
    const host = fleet.find((h) => h.name === e.name && h.group === e.group);
    if (host.running !== e.version) {
      console.log(`           ${e.group}/${e.name}: ${host.running} -> ${e.version} (${e.message})`);
      host.running = e.version;
    }
  }
  const settled = info.rollingVersion === info.targetVersion &&
    (info.lastKnownGoodVersion === "v2" || (info.lastKnownBadVersion === "v2" && fleet.every((h) => h.running === "v1")));
  if (settled && expected.every((e) => e.reason === "succeeded" || e.reason === "waiting")) {
    const outcome = info.lastKnownGoodVersion === "v2" ? "v2 rolled out" : "v2 rolled back";
    console.log(`\n${outcome} in ${(now - start) / 60_000} virtual minutes, ${step + 1} steps`);
    break;
  }
}
