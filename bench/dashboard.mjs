// The dashboard with large entities (part of `npm run bench`): for an
// entity of 1,000 targets (the baseline), 10,000 and 100,000, each mid-
// rollout on the API server (embedded file store), how long the entity
// page takes to show it in headless Chromium, the longest task on the
// page's main thread while it loads and while a controller steps the
// entity every second for 10 s (each step logs events, and the page reads
// the entity again), and the bytes each view reads (the snapshot the page
// computes from, beside the JSON of the targets alone that a page without
// the engine would read).
//
//   node bench/dashboard.mjs [--sizes 1000,10000,100000] [--live-seconds 10]
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";

import { FileStore } from "../js/stores/file.mjs";
import { startServer } from "../js/server/node.mjs";
import { launch } from "../tests/js/chromium.mjs";

const { values } = parseArgs({ options: { sizes: { type: "string", default: "1000,10000,100000" }, "live-seconds": { type: "string", default: "10" } } });
const SIZES = values.sizes.split(",").map(Number);
const LIVE_SECONDS = Number(values["live-seconds"]);
const TOKEN = "bench";
const auth = { authorization: `Bearer ${TOKEN}` };

const dir = mkdtempSync(join(tmpdir(), "bench-dashboard-"));
const server = await startServer({ port: 0, store: new FileStore(dir), token: TOKEN, pollMs: 250, log: () => {} });
const browser = await launch();

async function call(method, path, body) {
  const response = await fetch(`${server.url}/v1/orchestrate${path}`, { method, headers: auth, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  return response;
}

/** An entity of `n` targets with v1 good everywhere and v2 rolling out in 5% batches, its first batch assigned; answers the fleet. */
async function entityMidRollout(n) {
  const path = `/bench/n${n}`;
  const fleet = Array.from({ length: n }, (_, i) => ({ name: `node-${String(i).padStart(6, "0")}`, group: `zone-${i % 8}`, tags: "", version: "v1", message: "", isError: false }));
  const step = async () => {
    const answer = await (await call("POST", path, fleet)).json();
    answer.forEach((t, i) => (fleet[i].version = t.version));
    return answer;
  };
  await call("PUT", `${path}/options`, { batchPercent: 100, successTimeoutSecs: 0 });
  await call("POST", `${path}/version`, { version: "v1" });
  while (!(await (await call("GET", `${path}/info`)).json()).lastKnownGoodVersion) {
    await step();
    await new Promise((resolve) => setTimeout(resolve, 1100));
  }
  await call("PUT", `${path}/options`, { batchPercent: 5, successTimeoutSecs: 2 });
  await call("POST", `${path}/version`, { version: "v2" });
  while (!(await step()).some((t) => t.version === "v2"));
  return { path, step };
}

async function measure(n) {
  const { path, step } = await entityMidRollout(n);
  const page = await browser.context.newPage();
  await page.addInitScript((token) => {
    sessionStorage.setItem("orchestrator-token", token);
    window.__long = [];
    window.__views = 0;
    new PerformanceObserver((list) => window.__long.push(...list.getEntries().map((e) => e.duration))).observe({ type: "longtask", buffered: true });
    document.addEventListener("entity-shown", () => window.__views++);
  }, TOKEN);
  await page.goto(`${server.url}/dashboard/#${path}`);
  await page.waitForFunction((n) => document.querySelector("#counts").textContent.startsWith(`${n.toLocaleString("en-US")} targets`), n, { timeout: 120_000, polling: 10 });
  const firstViewMs = await page.evaluate(() => performance.now());
  const loadLongest = await page.evaluate(() => Math.max(0, ...window.__long));
  await page.evaluate(() => {
    window.__long = [];
    window.__views = 0;
  });
  for (let s = 0; s < LIVE_SECONDS; s++) {
    const started = Date.now();
    await step();
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, 1000 - (Date.now() - started))));
  }
  const live = await page.evaluate(() => ({ longest: Math.max(0, ...window.__long), blocking: window.__long.reduce((sum, d) => sum + Math.max(0, d - 50), 0), views: window.__views }));
  const snapshotBytes = (await (await call("GET", `${path}/snapshot`)).arrayBuffer()).byteLength;
  const expectedBytes = (await (await call("GET", `${path}/expected`)).arrayBuffer()).byteLength;
  await page.close();
  return { n, firstViewMs, loadLongest, live, snapshotBytes, expectedBytes };
}

const rows = [];
try {
  for (const n of SIZES) rows.push(await measure(n));
} finally {
  await browser.close();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}

const kb = (bytes) => `${Math.round(bytes / 1024).toLocaleString("en-US")} KB`;
const ms = (value) => `${Math.round(value).toLocaleString("en-US")} ms`;
const header = ["targets", "first view", "longest task (load)", `longest task (live ${LIVE_SECONDS} s)`, "blocking (live)", "views redrawn (live)", "snapshot read", "targets as JSON"];
console.log(`\nThe dashboard's entity page in headless Chromium (baseline: ${SIZES[0].toLocaleString("en-US")} targets)\n`);
console.log(`| ${header.join(" | ")} |`);
console.log(`|${header.map(() => "---").join("|")}|`);
for (const r of rows) {
  console.log(
    `| ${r.n.toLocaleString("en-US")} | ${ms(r.firstViewMs)} | ${ms(r.loadLongest)} | ${ms(r.live.longest)} | ${ms(r.live.blocking)} | ${r.live.views} | ${kb(r.snapshotBytes)} | ${kb(r.expectedBytes)} |`,
  );
}
