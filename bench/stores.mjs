// `npm run bench` (part 2): one orchestrate step of a 100,000-target entity
// through `Rollouts` on each store, beside the same step in memory on the
// same fleet in the same run; and what each step writes. Redis and
// PostgreSQL are real servers on loopback (tests/js/servers/servers.mjs).
//
//   node --expose-gc bench/stores.mjs [--targets 100000] [--runs 9]
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

const { values } = parseArgs({ options: { targets: { type: "string", default: "100000" }, runs: { type: "string", default: "9" } } });
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

/**
 * Median ms of `runs` awaited calls of `fn`, after one warm-up; what `fn`
 * answers is handed to `after`, untimed (the fleet installs the answer).
 */
async function timed(fn, after = () => {}) {
  after(await fn());
  const times = [];
  for (let i = 0; i < runs; i++) {
    globalThis.gc?.();
    const start = process.hrtime.bigint();
    const out = await fn();
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
    after(out);
  }
  return middle(times);
}

console.log(`## One step of a ${n.toLocaleString("en")}-target entity through each store (median of ${runs}, ms)\n`);
console.log("Baseline: the same step on the same fleet in memory (`Orchestrator.orchestrate`), measured in this run. Each step through a store reads the revision (the entity stays cached while it is current), steps, snapshots the entity and writes it with compare-and-swap.\n");
console.log("| phase | in memory | store | through the store | ratio | snapshot | bytes written per step |");
console.log("| --- | --- | --- | --- | --- | --- | --- |");
for (const rolling of [false, true]) {
  const phase = rolling ? "mid-rollout" : "steady";
  const base = settled(Orchestrator, n, { rolling });
  const memory = await timed(
    async () => {
      base.clock.now += 10_000;
      return base.engine.orchestrate("prod", "app", base.reports);
    },
    (answer) => apply(base.reports, answer),
  );
  const snapshotMs = await timed(async () => base.engine.snapshot());
  for (const [kind, store] of Object.entries(stores)) {
    const { engine, reports, clock } = settled(Orchestrator, n, { rolling });
    const bytes = engine.snapshot();
    const existing = await store.get("prod", "app");
    if (existing) await store.delete("prod", "app");
    await store.put("prod", "app", bytes, null);
    engine.free();
    const rollouts = new Rollouts({ store, now: () => clock.now, storeTimeoutMs: 60_000 });
    const through = await timed(
      async () => {
        clock.now += 10_000;
        return rollouts.orchestrate("prod", "app", reports);
      },
      (answer) => apply(reports, answer),
    );
    const written = (await store.get("prod", "app")).bytes.length;
    console.log(`| ${phase} | ${ms(memory)} | ${kind} | ${ms(through)} | ${(through / memory).toFixed(2)}x | ${ms(snapshotMs)} | ${written.toLocaleString("en")} |`);
  }
  base.engine.free();
}
console.log();

await redisClient.quit();
await ioredis.quit();
await pool.end();
await Promise.all([redis.stop(), postgres.stop()]);
rmSync(dir, { recursive: true, force: true });
