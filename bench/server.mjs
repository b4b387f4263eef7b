// Load on the HTTP API (the last part of `npm run bench`): 50 controllers,
// each on its own 1,000-target entity, each stepping as fast as the server
// answers (the Go engine's loop: report, apply the answer, report again)
// for 60 s, against `serve` without a store (memory: what the API and the
// engine cost), on the embedded file store, on Redis and on PostgreSQL
// (there also 2 and 4 `serve` processes on one database, the
// controllers spread over them), beside the same requests to a server that
// only parses each report and answers it unchanged. Every controller rolls
// its entity from v1 to v2 during the run; afterwards every entity's stored
// state must answer what its controller was last told (no acknowledged
// step lost).
//
// This machine's two cores cannot show several processes adding
// throughput (the load generator and PostgreSQL share them), so the
// PostgreSQL rows are measured again with each `serve` process capped at
// `--cap` of a core (a cgroup of its own, as root): as if each process had
// a slower core to itself, which the others' cores do not take from.
//
//   node bench/server.mjs [--controllers 50] [--targets 1000] [--seconds 60]
//                         [--stores memory,file,redis,postgres] [--processes 1,2,4]
//                         [--cap 0.25] (0: no capped rows)
//
// BENCH_PROFILE=DIR writes a V8 CPU profile of each server process into DIR
// (`--cpu-prof`), read with Chrome's DevTools or any .cpuprofile viewer.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";

import { startPostgres, startRedis } from "../tests/js/servers/servers.mjs";
import { cpuMs } from "./cpu.mjs";
import { fleetOf, quantile, startServerProcess, step } from "./load.mjs";
import { capCpu } from "./cpu-cap.mjs";

const { values } = parseArgs({
  options: {
    controllers: { type: "string", default: "50" },
    targets: { type: "string", default: "1000" },
    seconds: { type: "string", default: "60" },
    stores: { type: "string", default: "memory,file,redis,postgres" },
    // PostgreSQL is also measured with several `serve` processes on one database.
    processes: { type: "string", default: "1,2,4" },
    cap: { type: "string", default: "0.25" },
  },
});
const STORES = values.stores.split(",");
const PROCESSES = values.processes.split(",").map(Number);
const CONTROLLERS = Number(values.controllers);
const TARGETS = Number(values.targets);
const SECONDS = Number(values.seconds);
const CAP = Number(values.cap);

/** One controller's loop for `SECONDS`; answers its latencies, errors and the last answer it was given. */
async function controller(urls, i, { api }) {
  const url = urls[i % urls.length];
  const base = `${url}/v1/orchestrate/bench/entity${i}`;
  let errors = 0;
  const post = async (path, body) => {
    const response = await fetch(`${base}${path}`, { method: "POST", body: JSON.stringify(body) });
    if (response.status !== 200) {
      errors++;
      console.error(`entity${i}: POST ${path} answered ${response.status}: ${await response.text()}`);
    }
  };
  const fleet = fleetOf(TARGETS);
  if (api) {
    await post("/options", { batchpercent: 10, successpercent: 100, successtimeoutsecs: 0, durationtimeoutsecs: 600 });
    await post("/version", { version: "v1" });
  }
  const latencies = [];
  let last = null;
  let switched = !api;
  const until = performance.now() + SECONDS * 1000;
  while (performance.now() < until) {
    if (!switched && performance.now() > until - (SECONDS * 1000) / 2) {
      await post("/version", { version: "v2" }); // half-way: roll v2 out
      switched = true;
    }
    const { ms, answer } = await step(api ? base : `${url}/`, fleet);
    latencies.push(ms);
    if (answer === null) errors++;
    else last = answer;
  }
  return { latencies, errors, last, base };
}

async function run(name, urls, options) {
  const results = await Promise.all(Array.from({ length: CONTROLLERS }, (_, i) => controller(urls, i, options)));
  const latencies = results.flatMap((r) => r.latencies).sort((a, b) => a - b);
  let lost = 0;
  let rolledOut = 0;
  if (options.api) {
    // Every entity answers what its controller was last told.
    for (const r of results) {
      const stored = await (await fetch(`${r.base}/status`)).json();
      const told = new Map(r.last.map((t) => [t.name, t.version]));
      if (stored.some((t) => told.get(t.name) !== t.version)) lost++;
      const info = await (await fetch(`${r.base}/rollout`)).json();
      if (info.lastknowngoodversion === "v2") rolledOut++;
      else console.error(`${r.base} not rolled out to v2 in ${SECONDS / 2} s: ${JSON.stringify(info)}, ${r.last.filter((t) => t.version === "v2").length} targets told v2 last`);
    }
  }
  return {
    name,
    requests: latencies.length,
    perSecond: latencies.length / SECONDS,
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    errors: results.reduce((n, r) => n + r.errors, 0),
    lost,
    rolledOut,
  };
}

/**
 * `run`, with the CPU time the servers (`pids`) and the store's server
 * (`storePid`) used per request.
 */
async function measured(name, urls, options, pids, storePid) {
  const cpu = () => [pids.reduce((sum, pid) => sum + cpuMs(pid), 0), storePid ? cpuMs(storePid) : 0];
  const [serverBefore, storeBefore] = cpu();
  const row = await run(name, urls, options);
  const [serverAfter, storeAfter] = cpu();
  return { ...row, serverCpu: (serverAfter - serverBefore) / row.requests, storeCpu: storePid ? (storeAfter - storeBefore) / row.requests : null };
}

const rows = [];
const echo = await startServerProcess(["bench/json-echo-server.mjs", "0"]);
rows.push({ ...(await measured("JSON only (baseline)", [echo.url], { api: false }, [echo.pid])), rss: echo.peakRss() });
await echo.stop();

/**
 * `serve` in `count` processes on the store at `url` (its server's process
 * `storePid`), the controllers spread over them (as a load balancer would).
 */
async function serveRow(name, url, count, storePid, cap = 0) {
  const servers = await Promise.all(Array.from({ length: count }, () => startServerProcess(["bin/orchestrator-engine.mjs", "serve", "--port", "0", "--store", url])));
  const uncap = [];
  try {
    if (cap > 0) for (const s of servers) uncap.push(capCpu(s.pid, cap));
  } catch (error) {
    await Promise.all(servers.map((s) => s.stop()));
    uncap.forEach((remove) => remove());
    throw error;
  }
  const label = `${name}${count === 1 ? "" : `, ${count} processes`}${cap > 0 ? `, each capped at ${cap} of a core` : ""}`;
  const row = await measured(label, servers.map((s) => s.url), { api: true }, servers.map((s) => s.pid), storePid);
  row.rss = servers.reduce((sum, s) => sum + s.peakRss(), 0);
  await Promise.all(servers.map((s) => s.stop()));
  uncap.forEach((remove) => remove());
  rows.push(row);
}

for (const kind of STORES) {
  if (kind === "memory") {
    // No store: what the HTTP API and the engine cost without one.
    await serveRow("serve, memory (no store)", "memory:", 1);
  } else if (kind === "file") {
    const dir = mkdtempSync(join(tmpdir(), "bench-server-"));
    await serveRow("serve, file store", `file:${dir}`, 1);
    rmSync(dir, { recursive: true, force: true });
  } else if (kind === "redis") {
    const redis = await startRedis();
    await serveRow("serve, Redis", redis.url, 1, redis.pid);
    await redis.stop();
  } else if (kind === "postgres") {
    let capped = CAP > 0;
    for (const cap of capped ? [0, CAP] : [0]) {
      for (const count of PROCESSES) {
        // A database of its own for each row: every row starts from nothing.
        const postgres = await startPostgres();
        try {
          await serveRow("serve, PostgreSQL", postgres.url, count, postgres.pid, cap);
        } catch (error) {
          if (cap === 0 || !/cannot cap/.test(error.message)) throw error;
          console.error(`capped rows left out: ${error.message}`);
          capped = false;
        } finally {
          await postgres.stop();
        }
        if (cap > 0 && !capped) break;
      }
    }
  } else {
    throw new Error(`--stores: no store ${JSON.stringify(kind)} (memory, file, redis, postgres)`);
  }
}

const baseline = rows[0];
console.log(`\n## HTTP API under load: ${CONTROLLERS} controllers, ${TARGETS} targets each, ${SECONDS} s (Node ${process.version}, ${new Date().toISOString().slice(0, 10)})\n`);
console.log("| server | requests/s | vs baseline | p50 ms | p99 ms | server CPU ms per request | store server CPU ms per request | peak RSS | errors | entities with a lost step | entities rolled out to v2 |");
console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
for (const r of rows) {
  const ratio = r === baseline ? "1.00x" : `${(r.perSecond / baseline.perSecond).toFixed(2)}x`;
  console.log(`| ${r.name} | ${r.perSecond.toFixed(0)} | ${ratio} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.serverCpu.toFixed(2)} | ${r.storeCpu === null ? "-" : r.storeCpu.toFixed(2)} | ${(r.rss / 2 ** 20).toFixed(0)} MiB | ${r.errors} | ${r.name === baseline.name ? "-" : r.lost} | ${r.name === baseline.name ? "-" : `${r.rolledOut} of ${CONTROLLERS}`} |`);
}
const failed = rows.some((r) => r.errors > 0 || r.lost > 0);
if (failed) {
  console.error("errors or lost steps under load");
  process.exitCode = 1;
}
