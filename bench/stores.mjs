// `npm run bench` (part 2): orchestrate steps of a 100,000-target entity
// through `Rollouts` on each store (journal and compaction as configured by
// default, and a checkpoint per step for comparison), beside the same
// steps in memory on the same fleet in the same run; and what each step
// writes. Redis and
// PostgreSQL are real servers on loopback (tests/js/servers/servers.mjs).
//
//   node --expose-gc bench/stores.mjs [--targets 100000] [--runs 24]
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createClient } from "redis";
import IORedis from "ioredis";
import pg from "pg";

import { Orchestrator } from "../js/node.mjs";
import { Rollouts } from "../js/rollouts/rollouts.mjs";
import { MemoryStore, PostgresStore, RedisStore } from "../js/stores/index.mjs";
import { FileStore } from "../js/stores/file.mjs";
import { startPostgres, startRedis } from "../tests/js/servers/servers.mjs";
import { apply, middle, settled } from "./common.mjs";

const { values } = parseArgs({ options: { targets: { type: "string", default: "100000" }, runs: { type: "string", default: "24" } } });
const n = Number(values.targets);
const runs = Number(values.runs);
const ms = (x) => (x < 10 ? x.toFixed(2) : x.toFixed(1));

const [redis, postgres] = await Promise.all([startRedis(), startPostgres()]);
const dir = mkdtempSync(join(tmpdir(), "bench-file-store-"));
const redisClient = await createClient({ url: redis.url }).connect();
const pool = new pg.Pool({ connectionString: postgres.url, max: 2 });
const ioredis = new IORedis(redis.url);
const stores = {
  memory: new MemoryStore(),
  file: new FileStore(dir),
  "redis (node-redis)": new RedisStore(redisClient),
  "redis (ioredis)": new RedisStore(ioredis, { prefix: "io" }),
  "postgres (pg)": new PostgresStore(pool),
};

/** A store that counts what each write sends it, and which kind of write it was. */
function counted(store) {
  const log = [];
  const wrapped = Object.create(store);
  wrapped.get = (...args) => store.get(...args);
  wrapped.list = () => store.list();
  wrapped.delete = (...args) => store.delete(...args);
  wrapped.put = (ns, entity, bytes, revision) => (log.push({ kind: "checkpoint", bytes: bytes.length }), store.put(ns, entity, bytes, revision));
  if (store.append) wrapped.append = (ns, entity, delta, revision) => (log.push({ kind: "delta", bytes: delta.length }), store.append(ns, entity, delta, revision));
  return { store: wrapped, log };
}

/** Wall ms of each of `steps` awaited steps (after one warm-up); `after` gets each answer, untimed. */
async function stepTimes(step, after) {
  after(await step());
  const times = [];
  for (let i = 0; i < steps; i++) {
    globalThis.gc?.();
    const start = process.hrtime.bigint();
    const out = await step();
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
    after(out);
  }
  return times;
}

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / Math.max(xs.length, 1);
const steps = runs;

console.log(`## One step of a ${n.toLocaleString("en")}-target entity through each store (${steps} steps each, ms)\n`);
console.log(
  "Baseline: the same steps on the same fleet in memory (`Orchestrator.orchestrate`), measured in this run. Each step through a store reads the revision (the entity stays cached while it is current), steps, and saves with compare-and-swap: a delta of what the step changed appended to the entity's journal, or, every 64 deltas or once the journal reaches the checkpoint's size, a checkpoint of the whole entity that replaces the journal. **mean** is over every step of the run, compactions included; the ratio is mean against mean. `amortized with compaction` is a delta step's median cost over a run long enough to compact (one checkpoint, costing a whole write, after as many deltas as the policy allows at this delta size). `cold load` is a process that never saw the entity reading it (the checkpoint, then the journal of the run). `whole` is the same store saving a checkpoint on every step (`compactEvery: 0`), the design before the journal.\n",
);
console.log("| phase | in memory (mean) | store | through the store (mean) | ratio | delta steps (median) | checkpoint steps (median) | deltas : checkpoints | bytes written per step (mean) | amortized with compaction | cold load (deltas) | whole (median) | whole ratio |");
console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
for (const rolling of [false, true]) {
  const phase = rolling ? "mid-rollout" : "steady";
  const base = settled(Orchestrator, n, { rolling });
  const memory = mean(
    await stepTimes(
      async () => {
        base.clock.now += 10_000;
        return base.engine.orchestrate("prod", "app", base.reports);
      },
      (answer) => apply(base.reports, answer),
    ),
  );
  base.engine.free();
  for (const [kind, plain] of Object.entries(stores)) {
    const through = async (compactEvery) => {
      const { engine, reports, clock } = settled(Orchestrator, n, { rolling });
      const existing = await plain.get("prod", "app");
      if (existing) await plain.delete("prod", "app");
      await plain.put("prod", "app", engine.checkpoint("prod", "app"), null);
      engine.free();
      const { store, log } = counted(plain);
      const rollouts = new Rollouts({ store, now: () => clock.now, storeTimeoutMs: 60_000, compactEvery });
      const times = await stepTimes(
        async () => {
          clock.now += 10_000;
          return rollouts.orchestrate("prod", "app", reports);
        },
        (answer) => apply(reports, answer),
      );
      // The warm-up step's write is the first in the log.
      const writes = log.slice(-steps);
      // A process that never saw the entity: checkpoint and journal.
      const stored = await plain.get("prod", "app");
      const cold = new Rollouts({ store: plain, now: () => clock.now, storeTimeoutMs: 60_000 });
      const start = process.hrtime.bigint();
      await cold.rolloutInfo("prod", "app");
      const load = Number(process.hrtime.bigint() - start) / 1e6;
      return { times, writes, load, journal: stored.journal?.length ?? 0, checkpointBytes: stored.bytes.length };
    };
    const { times, writes, load, journal, checkpointBytes } = await through(64);
    const of = (k) => times.filter((_, i) => writes[i]?.kind === k);
    const whole = middle((await through(0)).times);
    const deltas = of("delta");
    const checkpoints = of("checkpoint");
    // Over a run long enough to compact: k deltas (the policy's), then a
    // checkpoint, which costs what a whole write does.
    const deltaBytes = mean(writes.filter((w) => w.kind === "delta").map((w) => w.bytes));
    const k = deltas.length ? Math.min(64, Math.floor(checkpointBytes / Math.max(deltaBytes, 1))) : 0;
    const amortized = deltas.length ? (k * middle(deltas) + whole) / (k + 1) : mean(times);
    const cells = [
      phase,
      ms(memory),
      kind,
      ms(mean(times)),
      `${(mean(times) / memory).toFixed(2)}x`,
      deltas.length ? ms(middle(deltas)) : "-",
      checkpoints.length ? ms(middle(checkpoints)) : "-",
      `${deltas.length} : ${checkpoints.length}`,
      Math.round(mean(writes.map((w) => w.bytes))).toLocaleString("en"),
      `${ms(amortized)} (${(amortized / memory).toFixed(2)}x, 1 in ${k + 1})`,
      `${ms(load)} (${journal})`,
      ms(whole),
      `${(whole / memory).toFixed(2)}x`,
    ];
    console.log(`| ${cells.join(" | ")} |`);
  }
}
console.log();

await redisClient.quit();
await ioredis.quit();
await pool.end();
await Promise.all([redis.stop(), postgres.stop()]);
rmSync(dir, { recursive: true, force: true });
