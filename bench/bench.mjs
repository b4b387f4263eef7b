// `npm run bench`: the engine through the built package in Node, each
// measurement beside a baseline taken in the same run on the same data, so
// that the ratios hold on any machine. Prints markdown tables (the ones in
// docs/PERFORMANCE.md come from here).
//
//   node --expose-gc bench/bench.mjs [--sizes 1000,10000,100000,1000000] [--quick]
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";

import { Orchestrator } from "../js/node.mjs";
import { columns, median, middle, settled, timings } from "./common.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const { values } = parseArgs({
  options: { sizes: { type: "string", default: "1000,10000,100000,1000000" }, quick: { type: "boolean", default: false } },
});
const sizes = values.sizes.split(",").map(Number);
// From 100k up, the same number of steps at every size: a mid-rollout
// fleet moves on with every step (batches assigned, judged), so sizes
// compare only over the same steps (10 s apart: 100 s, inside every
// deadline).
const runsFor = (n) => (n >= 100_000 ? 9 : Math.max(values.quick ? 3 : 9, Math.min(values.quick ? 10 : 50, Math.round(3_000_000 / n))));
const ms = (x) => (x < 10 ? x.toFixed(2) : x.toFixed(1));
const ratio = (a, b) => `${(a / b).toFixed(2)}x`;
const table = (head, rows) => {
  console.log(`| ${head.join(" | ")} |`);
  console.log(`| ${head.map(() => "---").join(" | ")} |`);
  for (const row of rows) console.log(`| ${row.join(" | ")} |`);
  console.log();
};

console.log(`# orchestrator-engine benchmarks (Node ${process.version}, ${new Date().toISOString().slice(0, 10)})\n`);

// 1. One orchestrate step through the JS API vs handing the same data over.
// Below 1M, the same steps are timed on several fresh engines and the
// median taken over all of them: a 100k step is short enough for the other
// tenants of a shared machine to move one engine's median by a third (and
// with it the growth ratio); a 1M step averages that out by itself.
const rounds = (n) => (n >= 1_000_000 ? 1 : 3);
let sink;
const steps = [];
for (const n of sizes) {
  for (const rolling of [false, true]) {
    const times = { json: [], plain: [], cols: [], objects: [] };
    for (let round = 0; round < rounds(n); round++) {
      const { engine, reports, clock } = settled(Orchestrator, n, { rolling });
      const runs = runsFor(n);
      times.json.push(...timings(runs, () => JSON.parse(JSON.stringify(reports))));
      // What V8 alone takes to make an answer's objects (the shape
      // `orchestrate` returns, its strings shared) with the report live:
      // the floor under the objects API's growth.
      const message = reports[0].message;
      times.objects.push(
        ...timings(runs, () => {
          const answer = new Array(reports.length);
          for (let i = 0; i < reports.length; i++) {
            const r = reports[i];
            answer[i] = { name: r.name, group: r.group, version: r.version, message, isError: false, reason: "succeeded" };
          }
          sink = answer; // kept, so that V8 cannot leave the objects unmade
        }),
      );
      times.plain.push(
        ...timings(runs, () => {
          clock.now += 10_000;
          engine.orchestrate("prod", "app", reports);
        }),
      );
      const fleet = columns(reports);
      times.cols.push(
        ...timings(runs, () => {
          clock.now += 10_000;
          engine.orchestrateColumns("prod", "app", fleet);
        }),
      );
      engine.free();
    }
    steps.push({ n, phase: rolling ? "mid-rollout" : "steady", json: middle(times.json), plain: middle(times.plain), cols: middle(times.cols), objects: middle(times.objects) });
  }
}
console.log("## One orchestrate step through the JS API (median ms)\n");
console.log(
  "Baseline: `JSON.parse(JSON.stringify(reports))` of the very same report array. `orchestrateColumns`: the same fleet and step, the report and the answer in columns. Answer objects alone: V8 making an answer's objects (`orchestrate`'s shape, the report's strings) with nothing computed.\n",
);
table(
  ["targets", "phase", "JSON baseline", "orchestrate", "ratio", "orchestrateColumns", "ratio", "answer objects alone"],
  steps.map((s) => [s.n.toLocaleString("en"), s.phase, ms(s.json), ms(s.plain), ratio(s.plain, s.json), ms(s.cols), ratio(s.cols, s.json), ms(s.objects)]),
);
const at = (n, phase) => steps.find((s) => s.n === n && s.phase === phase);
if (at(100_000, "steady") && at(1_000_000, "steady")) {
  console.log("Growth, 1M vs 100k targets:\n");
  table(
    ["phase", "JSON baseline", "orchestrate", "orchestrateColumns", "answer objects alone"],
    ["steady", "mid-rollout"].map((p) => {
      const [small, big] = [at(100_000, p), at(1_000_000, p)];
      return [p, ratio(big.json, small.json), ratio(big.plain, small.plain), ratio(big.cols, small.cols), ratio(big.objects, small.objects)];
    }),
  );
}

// 2. Snapshot and restore vs the JSON baseline, and bytes per target.
const snaps = [];
for (const n of sizes) {
  const { engine, reports } = settled(Orchestrator, n, { rolling: true });
  const runs = runsFor(n);
  const json = median(runs, () => JSON.parse(JSON.stringify(reports)));
  const bytes = engine.snapshot();
  const both = median(runs, () => Orchestrator.restore(engine.snapshot()).free());
  snaps.push({ n, json, both, bytes: bytes.length });
  engine.free();
}
console.log("## Snapshot + restore mid-rollout (median ms) and size\n");
table(
  ["targets", "JSON baseline", "snapshot + restore", "ratio", "bytes", "bytes/target"],
  snaps.map((s) => [s.n.toLocaleString("en"), ms(s.json), ms(s.both), ratio(s.both, s.json), s.bytes.toLocaleString("en"), (s.bytes / s.n).toFixed(1)]),
);

// 3. Memory per target, each size in a fresh process (wasm memory never
// shrinks): peak wasm memory and JS heap of an engine settled mid-rollout.
console.log("## Memory per target (fresh process per size, mid-rollout)\n");
const memory = sizes.map((n) => {
  const out = execFileSync(process.execPath, ["--expose-gc", "bench/memory.mjs", String(n)], { cwd: root, encoding: "utf8" });
  return JSON.parse(out);
});
table(
  ["targets", "wasm memory", "per target", "JS heap (reports + answer)", "per target"],
  memory.map((m) => [
    m.n.toLocaleString("en"),
    `${(m.wasm / 2 ** 20).toFixed(1)} MiB`,
    `${Math.round(m.wasm / m.n)} B`,
    `${(m.heap / 2 ** 20).toFixed(1)} MiB`,
    `${Math.round(m.heap / m.n)} B`,
  ]),
);

// 4. The core step in wasm vs native: the same example built both ways,
// each timing itself (the wasm one in Node's WASI).
console.log("## Core step, wasm vs native (median ms, no JS boundary)\n");
const cargo = (args) => execFileSync("cargo", args, { cwd: root, stdio: ["ignore", "ignore", "inherit"] });
cargo(["build", "--quiet", "--release", "--example", "core_step"]);
// The wasm one with the package's profile (opt-level "z", Cargo.toml).
cargo(["build", "--quiet", "--profile", "wasm", "--example", "core_step", "--target", "wasm32-wasip1"]);
const lines = (out) => out.trim().split("\n").map((l) => JSON.parse(l));
const coreSizes = sizes.map(String);
const runNative = () => lines(execFileSync(`${root}target/release/examples/core_step`, coreSizes, { encoding: "utf8" }));
// Node 20's WASI crashes (SIGSEGV) leaving a program whose memory grew past
// a gigabyte, after the program printed everything: the lines count, the
// exit status does not.
const runWasm = () => {
  const run = spawnSync(process.execPath, ["--no-warnings", "bench/wasi-run.mjs", "target/wasm32-wasip1/wasm/examples/core_step.wasm", ...coreSizes], {
    cwd: root,
    encoding: "utf8",
    maxBuffer: 1 << 24,
  });
  const out = lines(run.stdout);
  if (out.length !== coreSizes.length * 2) throw new Error(`the wasm core step stopped early (${run.signal ?? run.status}): ${run.stderr}`);
  return out;
};
// Each side twice, alternating, and the faster of its two medians: a
// process that the machine's other tenants slow down (a 1k step moved
// between 0.24 and 0.48 ms from one wasm process to the next) counts once.
const best = (a, b) => a.map((x, i) => ({ ...x, ms: Math.min(x.ms, b[i].ms) }));
const [native1, wasm1, native2, wasm2] = [runNative(), runWasm(), runNative(), runWasm()];
const native = best(native1, native2);
const wasm = best(wasm1, wasm2);
table(
  ["targets", "phase", "native", "wasm", "wasm/native"],
  native.map((nat, i) => [nat.n.toLocaleString("en"), nat.phase, ms(nat.ms), ms(wasm[i].ms), ratio(wasm[i].ms, nat.ms)]),
);

// 5. What a browser or an edge function downloads.
const wasmFile = readFileSync(`${root}pkg/web/orchestrator_engine_bg.wasm`);
console.log("## Package\n");
table(["file", "bytes", "gzip -9"], [["pkg/web/orchestrator_engine_bg.wasm", wasmFile.length.toLocaleString("en"), gzipSync(wasmFile, { level: 9 }).length.toLocaleString("en")]]);
