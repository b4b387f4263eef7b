// Durable Objects under load (part of `npm run bench`): the Worker
// (js/server/worker.mjs, bundled as a deployment would be) in a real
// workerd started by Miniflare, its objects' storage on disk. The Go
// engine's controller loop (report 1,000 targets, apply the answer, report
// again) as fast as the object answers, for `--seconds` per row:
// - one entity, one controller: the requests one object serves per second
//   to the controller that owns it (each request waits for the one before);
// - one entity, 8 controllers at once: what one object serves at most (it
//   runs one request's step at a time: this is its ceiling);
// - 50 entities, one controller each: the workerd process, every object in
//   it sharing its one thread (on Cloudflare, objects spread over machines);
// beside a Worker in the same workerd that only parses each report and
// answers it unchanged (the baseline, 50 at once). Every entity's stored
// state must answer what its controller was last told (no step lost).
//
//   node bench/durable-object.mjs [--targets 1000] [--seconds 20]
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { Miniflare } from "miniflare";

import { bundleWorker } from "../tests/js/servers/worker-bundle.mjs";
import { fleetOf, quantile, step } from "./load.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const { values } = parseArgs({ options: { targets: { type: "string", default: "1000" }, seconds: { type: "string", default: "20" } } });
const TARGETS = Number(values.targets);
const SECONDS = Number(values.seconds);
const TOKEN = "bench-token";

/** One controller's loop on `entity` until `until`; answers its latencies, errors and last answer. */
async function controller(url, entity, until, { api, rollAt }) {
  const base = `${url}/v1/orchestrate/bench/${entity}`;
  const headers = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };
  const fleet = fleetOf(TARGETS);
  const latencies = [];
  let errors = 0;
  let last = null;
  while (performance.now() < until) {
    if (api && rollAt !== undefined && performance.now() > rollAt) {
      await fetch(`${base}/version`, { method: "POST", headers, body: JSON.stringify({ version: "v2" }) });
      rollAt = undefined;
    }
    const { ms, answer } = await step(api ? base : `${url}/`, fleet, headers);
    latencies.push(ms);
    if (answer === null) errors++;
    else last = answer;
  }
  return { latencies, errors, last, base, headers };
}

/** `clients` controllers over `entities` entities (controller i on entity i % entities) for SECONDS. */
async function run(name, url, { entities, clients, api }) {
  const headers = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };
  const slug = name.replace(/\W+/g, "-");
  if (api) {
    for (let e = 0; e < entities; e++) {
      const base = `${url}/v1/orchestrate/bench/${slug}-${e}`;
      await fetch(`${base}/options`, { method: "POST", headers, body: JSON.stringify({ batchpercent: 10, successpercent: 100, successtimeoutsecs: 0, durationtimeoutsecs: 600 }) });
      await fetch(`${base}/version`, { method: "POST", headers, body: JSON.stringify({ version: "v1" }) });
    }
  }
  const start = performance.now();
  const until = start + SECONDS * 1000;
  const results = await Promise.all(
    Array.from({ length: clients }, (_, i) =>
      controller(url, `${slug}-${i % entities}`, until, { api, rollAt: i < entities ? start + (SECONDS * 1000) / 2 : undefined }),
    ),
  );
  const latencies = results.flatMap((r) => r.latencies).sort((a, b) => a - b);
  let lost = 0;
  if (api) {
    // Every entity answers what the last controller told of it was told
    // (one controller per entity; with several, the last answer of each).
    for (const r of results.slice(0, entities)) {
      const stored = await (await fetch(`${r.base}/status`, { headers: r.headers })).json();
      const told = new Map(r.last.map((t) => [t.name, t.version]));
      if (clients === entities && stored.some((t) => told.get(t.name) !== t.version)) lost++;
    }
  }
  return {
    name,
    entities,
    clients,
    perSecond: latencies.length / SECONDS,
    perObject: api ? latencies.length / SECONDS / entities : null,
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    errors: results.reduce((n, r) => n + r.errors, 0),
    lost,
  };
}

const dir = mkdtempSync(join(tmpdir(), "bench-durable-object-"));
const rows = [];
try {
  const echo = new Miniflare({
    modules: true,
    script: `export default { async fetch(request) { return new Response(JSON.stringify(JSON.parse(await request.text())), { headers: { "content-type": "application/json" } }); } };`,
    compatibilityDate: "2025-06-01",
    host: "127.0.0.1",
    port: 0,
  });
  rows.push(await run("JSON only in a Worker (baseline)", String(await echo.ready).replace(/\/$/, ""), { entities: 50, clients: 50, api: false }));
  await echo.dispose();

  const { inputs, ...script } = await bundleWorker({
    entry: join(root, "js/server/worker.mjs"),
    cwd: root,
    outDir: join(dir, "worker"),
    wasm: join(root, "pkg/web/orchestrator_engine_bg.wasm"),
    external: ["cloudflare:workers"],
  });
  const mf = new Miniflare({
    ...script,
    host: "127.0.0.1",
    port: 0,
    durableObjects: { ENTITIES: "EntityObject", INDEX: "EntityIndex" },
    durableObjectsPersist: join(dir, "objects"),
    bindings: { ORCHESTRATOR_TOKEN: TOKEN },
  });
  const url = String(await mf.ready).replace(/\/$/, "");
  try {
    rows.push(await run("one object, its one controller", url, { entities: 1, clients: 1, api: true }));
    rows.push(await run("one object, 8 controllers at once", url, { entities: 1, clients: 8, api: true }));
    rows.push(await run("50 objects, one controller each", url, { entities: 50, clients: 50, api: true }));
  } finally {
    await mf.dispose();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const baseline = rows[0];
console.log(`\n## Durable Objects in workerd (Miniflare, storage on disk): ${TARGETS} targets per report, ${SECONDS} s per row (Node ${process.version}, ${new Date().toISOString().slice(0, 10)})\n`);
console.log("| Worker | entities | controllers | requests/s | per object | vs baseline | p50 ms | p99 ms | errors | entities with a lost step |");
console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
for (const r of rows) {
  const ratio = r === baseline ? "1.00x" : `${(r.perSecond / baseline.perSecond).toFixed(2)}x`;
  console.log(
    `| ${r.name} | ${r.perObject === null ? "-" : r.entities} | ${r.clients} | ${r.perSecond.toFixed(0)} | ${r.perObject === null ? "-" : r.perObject.toFixed(0)} | ${ratio} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.errors} | ${r.perObject === null || r.clients !== r.entities ? "-" : r.lost} |`,
  );
}
if (rows.some((r) => r.errors > 0 || r.lost > 0)) {
  console.error("errors or lost steps under load");
  process.exitCode = 1;
}
