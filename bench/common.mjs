// Shared by the benchmarks and the load test: fleets named like
// `clientTarget123` in 4 zones, an engine settled on v1, and a clock the
// caller moves.

export const T0 = 1_700_000_000_000;

/** `n` reports of targets running `version`. */
export function fleet(n, version = "v1") {
  const reports = new Array(n);
  for (let i = 0; i < n; i++) {
    reports[i] = { name: `clientTarget${i}`, group: `zone-${i % 4}`, version, message: "running successfully", isError: false };
  }
  return reports;
}

/** The same reports as columns (`orchestrateColumns`). */
export function columns(reports) {
  const n = reports.length;
  const out = { names: new Array(n), groups: new Array(n), versions: new Array(n), messages: new Array(n), isError: new Uint8Array(n) };
  for (let i = 0; i < n; i++) {
    const r = reports[i];
    out.names[i] = r.name;
    out.groups[i] = r.group;
    out.versions[i] = r.version;
    out.messages[i] = r.message;
    out.isError[i] = r.isError ? 1 : 0;
  }
  return out;
}

/** The targets install what the engine answered. */
export function apply(reports, answer) {
  const expected = new Map();
  for (const e of answer) expected.set(e.group + "\u0000" + e.name, e.version);
  for (const r of reports) {
    const v = expected.get(r.group + "\u0000" + r.name);
    if (v !== undefined) r.version = v;
  }
}

/**
 * An engine whose fleet of `n` is settled on v1 (LKG), with 5% batches;
 * with `rolling`, v2 is set and three batches have moved.
 */
export function settled(Orchestrator, n, { rolling = false } = {}) {
  const clock = { now: T0 };
  const engine = new Orchestrator({ now: () => clock.now });
  engine.setRolloutOptions("prod", "app", { batchPercent: 100, successTimeoutSecs: 0 });
  engine.setTargetVersion("prod", "app", "v1");
  const reports = fleet(n);
  while (engine.rolloutInfo("prod", "app").lastKnownGoodVersion !== "v1") {
    clock.now += 10_000;
    engine.report("prod", "app", reports);
  }
  engine.setRolloutOptions("prod", "app", { batchPercent: 5 });
  if (rolling) {
    engine.setTargetVersion("prod", "app", "v2");
    for (let i = 0; i < 3; i++) {
      clock.now += 10_000;
      apply(reports, engine.orchestrate("prod", "app", reports));
    }
  }
  return { engine, reports, clock };
}

/** Wall times in ms of `runs` calls of `fn` (after one warm-up). */
export function timings(runs, fn) {
  fn();
  const times = [];
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    fn();
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return times;
}

/** The median of `times`. */
export function middle(times) {
  const sorted = times.slice().sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** Median wall time in ms of `runs` calls of `fn` (after one warm-up). */
export function median(runs, fn) {
  return middle(timings(runs, fn));
}
