// One size in a fresh process (wasm memory never shrinks): the engine's
// wasm memory and the JS heap of the reports and one answer, with a fleet
// of `n` targets mid-rollout. Prints one JSON line.
import { Orchestrator, wasmMemoryBytes } from "../js/node.mjs";
import { settled } from "./common.mjs";

const n = Number(process.argv[2]);
globalThis.gc();
const heapBefore = process.memoryUsage().heapUsed;
const { engine, reports, clock } = settled(Orchestrator, n, { rolling: true });
clock.now += 10_000;
const answer = engine.orchestrate("prod", "app", reports);
globalThis.gc();
const heap = process.memoryUsage().heapUsed - heapBefore;
console.log(JSON.stringify({ n, wasm: wasmMemoryBytes(), heap, answered: answer.length, rss: process.memoryUsage().rss }));
