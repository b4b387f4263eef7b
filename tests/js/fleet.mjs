// A simulated fleet that obeys the engine, for the JS tests.
export const T0 = Date.UTC(2024, 0, 1);

export class Fleet {
  constructor(n, version = "v1", { groups = ["eu", "us"] } = {}) {
    this.hosts = Array.from({ length: n }, (_, i) => ({
      name: `host-${String(i).padStart(3, "0")}`,
      group: groups[i % groups.length],
      running: version,
      brokenOn: new Set(),
    }));
  }
  reports() {
    return this.hosts.map((h) => {
      const isError = h.brokenOn.has(h.running);
      return { name: h.name, group: h.group, version: h.running, message: isError ? "crash loop" : "ok", isError };
    });
  }
  apply(expected) {
    const byId = new Map(this.hosts.map((h) => [`${h.group}/${h.name}`, h]));
    for (const e of expected) {
      const host = byId.get(`${e.group}/${e.name}`);
      if (host) host.running = e.version;
    }
  }
  runningAll(version) {
    return this.hosts.every((h) => h.running === version);
  }
}

/** A controller loop in virtual time: report, apply, advance; until done(). */
export function drive(engine, fleet, clock, { ns = "prod", entity = "app", stepMs = 10_000, max = 500, done, onStep } = {}) {
  for (let step = 0; step < max; step++) {
    const expected = engine.orchestrate(ns, entity, fleet.reports());
    onStep?.(expected, step);
    fleet.apply(expected);
    clock.now += stepMs;
    if (done(engine.rolloutInfo(ns, entity), expected)) return step + 1;
  }
  throw new Error(`not done after ${max} steps: ${JSON.stringify(engine.rolloutInfo(ns, entity))}`);
}
