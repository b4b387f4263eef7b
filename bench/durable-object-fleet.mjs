// One entity of a million targets in one Durable Object (part of `npm run
// bench`): the Worker (js/server/worker.mjs, bundled as a deployment would
// be) in a real workerd started by Miniflare, its object's storage on disk.
// A controller reports the fleet in parts (`--part` targets a request: a
// report of a million targets as JSON objects would not fit the isolate's
// 128 MB beside the engine), each part a step answered for its targets, as
// the Go engine's client does with part of a fleet; it settles v1, rolls
// v2 out for a few rounds, then the runtime is stopped and started again on
// the same storage and the rollout goes on. Memory is reported three ways:
// the isolate's wasm memory (the object's `memory()`, over RPC), its JS heap
// (V8's `Runtime.getHeapUsage` through workerd's inspector: garbage not yet
// collected included) and the workerd process's resident set (from /proc,
// the runtime's own included). Prints one markdown table.
//
//   node --experimental-websocket bench/durable-object-fleet.mjs [--targets 1000000] [--part 25000] [--rounds 3] [--timeline]
// --timeline: also prints (to stderr) each part after which the wasm memory grew.
// (the flag: Node 20's WebSocket, for the inspector; Node 22 has it anyway)
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { Miniflare } from "miniflare";

import { bundleWorker } from "../tests/js/servers/worker-bundle.mjs";
import { entityKey } from "../js/stores/names.mjs";
import { fleetOf } from "./load.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const { values } = parseArgs({
  options: {
    targets: { type: "string", default: "1000000" },
    part: { type: "string", default: "25000" },
    rounds: { type: "string", default: "3" },
    timeline: { type: "boolean", default: false },
  },
});
const TARGETS = Number(values.targets);
const PART = Number(values.part);
const ROUNDS = Number(values.rounds);
const TOKEN = "bench-token";
/** The parts of a round whose steps are sampled for the live JS heap (and not timed). */
const SAMPLED = 3;
const BASE = "http://localhost/v1/orchestrate/edge/fleet";
const headers = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };

/** The resident set of the workerd processes this one started: now and at most, in bytes. */
function workerdMemory() {
  let rss = 0;
  let peak = 0;
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    let status;
    try {
      status = readFileSync(`/proc/${pid}/status`, "utf8");
    } catch {
      continue;
    }
    const field = (name) => Number(status.match(new RegExp(`^${name}:\\s+(\\d+)`, "m"))?.[1] ?? 0) * 1024;
    if (!/^Name:\s+workerd/m.test(status) || field("PPid") / 1024 !== process.pid) continue;
    rss += field("VmRSS");
    peak += field("VmHWM");
  }
  return { rss, peak };
}

const mib = (bytes) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/** A free port on loopback. */
async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The user worker's isolate through workerd's inspector: `heap()` answers V8's heap in use, in bytes. */
async function inspector(port) {
  const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
  const target = targets.find((t) => t.id === "core:user:");
  if (target === undefined) throw new Error(`no user worker among the inspector's targets: ${JSON.stringify(targets.map((t) => t.id))}`);
  const socket = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    socket.addEventListener("open", resolve);
    socket.addEventListener("error", reject);
  });
  const pending = new Map();
  let id = 0;
  let chunks = [];
  let paused;
  socket.addEventListener("message", (event) => {
    const message = JSON.parse(event.data);
    if (message.method === "HeapProfiler.addHeapSnapshotChunk") chunks.push(message.params.chunk);
    if (message.method === "Debugger.paused") paused?.();
    pending.get(message.id)?.(message.result);
    pending.delete(message.id);
  });
  const send = (method, params = {}) =>
    new Promise((resolve) => {
      pending.set(++id, resolve);
      socket.send(JSON.stringify({ id, method, params }));
    });
  await send("Runtime.enable");
  const heap = async () => (await send("Runtime.getHeapUsage")).usedSize;
  // A heap snapshot collects the garbage first (workerd does not answer
  // HeapProfiler.collectGarbage) and lists what is left, array buffers'
  // contents included; the largest of those is the wasm memory, which
  // memory() reports.
  const live = async () => {
    chunks = [];
    await send("HeapProfiler.takeHeapSnapshot", { reportProgress: false, captureNumericValue: false });
    return liveBytes(JSON.parse(chunks.join("")));
  };
  /**
   * The live bytes (see `live`) at most at `line` (0-based) of the bundle
   * while `request()` runs: the isolate pauses there, a heap snapshot is
   * taken, and it goes on.
   */
  const liveAt = async (line, request) => {
    await send("Debugger.enable");
    const { breakpointId } = await send("Debugger.setBreakpointByUrl", { lineNumber: line, urlRegex: "worker\\.mjs$" });
    let most = 0;
    paused = async () => {
      most = Math.max(most, await live());
      await send("Debugger.resume");
    };
    try {
      return { answer: await request(), live: most };
    } finally {
      paused = undefined;
      await send("Debugger.removeBreakpoint", { breakpointId });
      await send("Debugger.disable");
    }
  };
  return { heap, live, liveAt, close: () => socket.close() };
}

/** The bytes a V8 heap snapshot holds, the largest array buffer's contents (the wasm memory) left out. */
function liveBytes({ snapshot, nodes, strings }) {
  const fields = snapshot.meta.node_fields;
  const [type, name, size] = ["type", "name", "self_size"].map((field) => fields.indexOf(field));
  const native = snapshot.meta.node_types[0].indexOf("native");
  let total = 0;
  let largestBuffer = 0;
  for (let i = 0; i < nodes.length; i += fields.length) {
    total += nodes[i + size];
    if (nodes[i + type] === native && strings[nodes[i + name]].endsWith("JSArrayBufferData")) largestBuffer = Math.max(largestBuffer, nodes[i + size]);
  }
  return total - largestBuffer;
}

async function start(script, persist) {
  const inspectorPort = await freePort();
  const mf = new Miniflare({
    ...script,
    durableObjects: { ENTITIES: "EntityObject", INDEX: "EntityIndex" },
    durableObjectsPersist: persist,
    bindings: { ORCHESTRATOR_TOKEN: TOKEN },
    inspectorPort,
  });
  await mf.ready;
  const call = async (method, path, body) => {
    const response = await mf.dispatchFetch(`${BASE}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const answer = await response.json();
    if (response.status !== 200) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(answer)}`);
    return answer;
  };
  const objects = await mf.getDurableObjectNamespace("ENTITIES");
  const object = objects.get(objects.idFromName(entityKey("edge", "fleet")));
  const isolate = await inspector(inspectorPort);
  const dispose = async () => {
    isolate.close();
    await mf.dispose();
  };
  return { mf, dispose, call, memory: async () => (await object.memory()).wasmBytes, heap: isolate.heap, live: isolate.live, liveAt: isolate.liveAt };
}

/**
 * One round: every part reported once, each target moved to what it is
 * told. Answers the median and slowest step (ms) and the live JS heap at
 * most during the first SAMPLED parts' steps (not timed): heap snapshots
 * taken one after the other while the request is in flight, which the
 * isolate answers whenever it waits (on its storage, before it answers).
 */
async function round({ call, memory, liveAt }, fleet, what) {
  const times = [];
  let during = 0;
  for (let from = 0; from < fleet.length; from += PART) {
    const part = fleet.slice(from, from + PART);
    let answer;
    if (from < SAMPLED * PART && from + PART < fleet.length) {
      const sampled = await liveAt(ANSWERED, () => call("POST", "?answer=reported", part));
      answer = sampled.answer;
      during = Math.max(during, sampled.live);
    } else {
      const started = performance.now();
      answer = await call("POST", "?answer=reported", part);
      times.push(performance.now() - started);
    }
    if (answer.length !== part.length) throw new Error(`a part of ${part.length} was answered for ${answer.length}`);
    for (let i = 0; i < part.length; i++) part[i].version = answer[i].version;
    if (values.timeline) {
      const now = await memory();
      if (now !== timeline.wasm) console.error(`${what}, part from ${from.toLocaleString("en")}: wasm memory ${mib((timeline.wasm = now))}`);
    }
  }
  times.sort((a, b) => a - b);
  return { median: times[Math.floor(times.length / 2)], slowest: times[times.length - 1], during };
}

/** The bundle's line (0-based) where a sampled step is paused for its live heap. */
let ANSWERED;

/** The wasm memory last seen by --timeline. */
const timeline = { wasm: 0 };

const dir = mkdtempSync(join(tmpdir(), "orchestrator-do-fleet-"));
const rows = [];
try {
  const script = await bundleWorker({ entry: join(root, "js/server/worker.mjs"), cwd: root, outDir: dir, wasm: join(root, "pkg/web/orchestrator_engine_bg.wasm"), external: ["cloudflare:workers"] });
  // Where a step's request holds the most: its answer's JSON text made, the
  // answer's objects, the report and its columns still held (Hono's Context
  // making the Response of c.json's text).
  ANSWERED = readFileSync(script.scriptPath, "utf8").split("\n").findIndex((line) => /^\s*#newResponse\(data, arg, headers\) \{$/.test(line)) + 1;
  if (ANSWERED === 0) throw new Error("no Context#newResponse in the bundle: Hono changed; find where a response's text is made");
  const persist = join(dir, "state");
  let handle = await start(script, persist);
  const fleet = fleetOf(TARGETS);
  const record = async (what, steps) => {
    const { rss, peak } = workerdMemory();
    const info = await handle.call("GET", "/rollout");
    const moved = fleet.filter((t) => t.version === "v2").length;
    rows.push({ what, steps, wasm: await handle.memory(), heap: await handle.heap(), live: await handle.live(), rss, peak, lkg: info.lastknowngoodversion, moved });
  };
  await handle.call("POST", "/options", { batchpercent: 5, successpercent: 100, successtimeoutsecs: 0, durationtimeoutsecs: 3600 });
  await handle.call("POST", "/version", { version: "v1" });
  // The fleet arrives part by part, then settles on v1.
  let steps = await round(handle, fleet, "arriving");
  await record("arrived", steps);
  for (let i = 0; i < 5 && (await handle.call("GET", "/rollout")).lastknowngoodversion !== "v1"; i++) steps = await round(handle, fleet, "settling");
  await record("settled on v1", steps);
  await handle.call("POST", "/version", { version: "v2" });
  for (let r = 1; r <= ROUNDS; r++) {
    steps = await round(handle, fleet, `v2, round ${r}`);
    await record(`v2, round ${r}`, steps);
  }
  const states = await handle.call("GET", "/info");
  await handle.dispose();
  // The same storage in a new runtime: the object reads its entity back.
  handle = await start(script, persist);
  const started = performance.now();
  const again = await handle.call("GET", "/info");
  const reload = performance.now() - started;
  if (JSON.stringify(again) !== JSON.stringify(states)) throw new Error(`the restarted object holds another state: ${JSON.stringify(again)} vs ${JSON.stringify(states)}`);
  await record(`restarted (first read ${reload.toFixed(0)} ms)`, { median: reload, slowest: reload });
  for (let r = 1; r <= ROUNDS; r++) {
    steps = await round(handle, fleet, `after the restart, round ${r}`);
    await record(`after the restart, round ${r}`, steps);
  }
  const snapshot = await handle.mf.dispatchFetch(`${BASE}/snapshot`, { headers });
  const stored = (await snapshot.arrayBuffer()).byteLength;
  await handle.dispose();
  console.log(`## One entity of ${TARGETS.toLocaleString("en")} targets in one Durable Object (workerd, reports of ${PART.toLocaleString("en")} targets)\n`);
  console.log(`Its snapshot: ${stored.toLocaleString("en")} bytes (${(stored / TARGETS).toFixed(1)} per target). A step is one part's request, answered for its targets.\n`);
  console.log(
    `The JS heap in use counts garbage not yet collected; live is what a heap snapshot finds (it collects first): after the round, and at most while one of the first ${SAMPLED} parts of the round was being stepped. The last column adds the wasm memory and the most live JS heap, against a deployed object's 128 MB (122.07 MiB).\n`,
  );
  console.log("| after | step median (ms) | slowest (ms) | wasm memory | per target | JS heap in use | live JS heap after / during a step | wasm + live JS at most | workerd resident now / at most | last known good | targets on v2 |");
  console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
  for (const r of rows) {
    const most = Math.max(r.live, r.steps.during ?? 0);
    console.log(
      `| ${r.what} | ${r.steps.median.toFixed(0)} | ${r.steps.slowest.toFixed(0)} | ${mib(r.wasm)} | ${Math.round(r.wasm / TARGETS)} B | ${mib(r.heap)} | ${mib(r.live)} / ${r.steps.during === undefined ? "-" : mib(r.steps.during)} | ${mib(r.wasm + most)} | ${mib(r.rss)} / ${mib(r.peak)} | ${r.lkg} | ${r.moved.toLocaleString("en")} |`,
    );
  }
  console.log();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
