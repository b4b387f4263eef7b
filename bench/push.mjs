// Events pushed, not polled (part of `npm run bench`): 5,000 entities on
// one store (file, Redis, PostgreSQL: real servers), one dashboard overview
// following every entity's events (GET /v1/orchestrate/events/stream).
// Measured per store, push beside poll (the same server over the same
// store without its `watch`, as servers were before):
// - idle: the server's CPU over 60 s with the overview open and no write
//   (its own process's CPU time, from /proc), as % of one core; and the
//   CPU of the overview's first read of every entity (what a pushing
//   server's safety read, every 5 minutes in case a notice was lost,
//   costs at most);
// - push latency: from a write's acknowledgement (by another replica, a
//   Rollouts of this process on the same store) to its event on the open
//   overview stream, over 200 writes to random entities, p50 and p99.
//
//   node bench/push.mjs [--entities 5000] [--writes 200] [--idle-seconds 60]
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";

import { Rollouts } from "../js/rollouts/rollouts.mjs";
import { cpuMs } from "./cpu.mjs";
import { quantile, startServerProcess } from "./load.mjs";
import { openStore } from "../js/server/store-url.mjs";
import { readEvents } from "../www/dashboard/sse.mjs";
import { startPostgres, startRedis } from "../tests/js/servers/servers.mjs";

const { values } = parseArgs({ options: { entities: { type: "string", default: "5000" }, writes: { type: "string", default: "200" }, "idle-seconds": { type: "string", default: "60" } } });
const ENTITIES = Number(values.entities);
const WRITES = Number(values.writes);
const IDLE_SECONDS = Number(values["idle-seconds"]);

/** Starts bench/push-server.mjs over `storeUrl` in `mode`; resolves `{ url, cpuMs, stop }`. */
async function start(storeUrl, mode) {
  const server = await startServerProcess(["bench/push-server.mjs", storeUrl, mode]);
  return { ...server, cpuMs: () => cpuMs(server.pid) };
}

/** The overview's stream, read in the background: `waitFor(ns, entity, version)` resolves when its version_set arrives. */
function overview(url) {
  const aborter = new AbortController();
  const waiting = new Map();
  let entities = 0;
  let ready;
  const allKnown = new Promise((resolve) => (ready = resolve));
  const reading = fetch(`${url}/v1/orchestrate/events/stream`, { signal: aborter.signal }).then((response) =>
    readEvents(response.body, ({ data }) => {
      if (data.type === "entity" && ++entities >= ENTITIES) ready();
      if (data.type === "event" && data.event.kind === "version_set") waiting.get(`${data.entity}/${data.event.version}`)?.();
    }),
  );
  return {
    allKnown,
    waitFor: (entity, version) => new Promise((resolve) => waiting.set(`${entity}/${version}`, () => resolve(performance.now()))),
    close: async () => {
      aborter.abort();
      await reading.catch(() => {});
    },
  };
}

async function measure(name, storeUrl, mode) {
  const server = await start(storeUrl, mode);
  const opening = server.cpuMs();
  const stream = overview(server.url);
  await stream.allKnown;
  const firstRead = server.cpuMs() - opening;
  // Idle: the overview open, nothing written.
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const before = server.cpuMs();
  await new Promise((resolve) => setTimeout(resolve, IDLE_SECONDS * 1000));
  const idle = (100 * (server.cpuMs() - before)) / (IDLE_SECONDS * 1000);
  // Push latency: another replica writes; the overview hears of it.
  const { store, close } = await openStore(storeUrl);
  const replica = new Rollouts({ store });
  const latencies = [];
  for (let i = 0; i < WRITES; i++) {
    const entity = `entity${Math.floor(Math.random() * ENTITIES)}`;
    const version = `${mode}${i}`;
    const arrived = stream.waitFor(entity, version);
    await replica.setTargetVersion("bench", entity, version);
    const written = performance.now();
    const timeout = new Promise((resolve) => setTimeout(() => resolve(null), 10_000));
    const at = await Promise.race([arrived, timeout]);
    latencies.push(at === null ? Infinity : Math.max(0, at - written));
  }
  await close();
  await stream.close();
  await server.stop();
  latencies.sort((a, b) => a - b);
  return { name, mode, idle, firstRead, p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99), lost: latencies.filter((l) => l === Infinity).length };
}

/** Makes the entities, once per store, through a Rollouts on it. */
async function populate(storeUrl) {
  const { store, close } = await openStore(storeUrl);
  const rollouts = new Rollouts({ store });
  const batch = 50;
  for (let i = 0; i < ENTITIES; i += batch) {
    await Promise.all(Array.from({ length: Math.min(batch, ENTITIES - i) }, (_, j) => rollouts.setTargetVersion("bench", `entity${i + j}`, "v1")));
  }
  await close();
}

const rows = [];
const dir = mkdtempSync(join(tmpdir(), "bench-push-"));
const redis = await startRedis();
const postgres = await startPostgres();
try {
  for (const [name, storeUrl] of [
    ["file store", `file:${dir}`],
    ["Redis", redis.url],
    ["PostgreSQL", postgres.url],
  ]) {
    await populate(storeUrl);
    for (const mode of ["poll", "push"]) rows.push(await measure(name, storeUrl, mode));
  }
} finally {
  await redis.stop();
  await postgres.stop();
  rmSync(dir, { recursive: true, force: true });
}

console.log(`\n## Events pushed, not polled: ${ENTITIES} entities, one overview open (Node ${process.version}, ${new Date().toISOString().slice(0, 10)})\n`);
console.log(`| store | server | idle CPU over ${IDLE_SECONDS} s (% of a core) | CPU of the first read of every entity, ms | event on the overview after a write: p50 ms | p99 ms | writes never told |`);
console.log("| --- | --- | --- | --- | --- | --- | --- |");
for (const r of rows) {
  const ms = (v) => (v === Infinity ? "never" : v.toFixed(1));
  console.log(`| ${r.name} | ${r.mode === "poll" ? "polling every 1 s (baseline)" : "told by the store"} | ${r.idle.toFixed(2)} | ${r.firstRead.toFixed(0)} | ${ms(r.p50)} | ${ms(r.p99)} | ${r.lost} of ${WRITES} |`);
}
if (rows.some((r) => r.mode === "push" && r.lost > 0)) {
  console.error("a write was never told to the overview");
  process.exitCode = 1;
}
