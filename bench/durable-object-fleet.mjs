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
  socket.addEventListener("message", (event) => {
    const message = JSON.parse(event.data);
    pending.get(message.id)?.(message.result);
    pending.delete(message.id);
  });
  const send = (method) =>
    new Promise((resolve) => {
      pending.set(++id, resolve);
      socket.send(JSON.stringify({ id, method }));
    });
  await send("Runtime.enable");
  return { heap: async () => (await send("Runtime.getHeapUsage")).usedSize, close: () => socket.close() };
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
  return { mf, dispose, call, memory: async () => (await object.memory()).wasmBytes, heap: isolate.heap };
}

/** One round: every part reported once, each target moved to what it is told. Answers the median and slowest step (ms). */
async function round({ call, memory }, fleet, what) {
  const times = [];
  for (let from = 0; from < fleet.length; from += PART) {
    const part = fleet.slice(from, from + PART);
    const started = performance.now();
    const answer = await call("POST", "?answer=reported", part);
    times.push(performance.now() - started);
    if (answer.length !== part.length) throw new Error(`a part of ${part.length} was answered for ${answer.length}`);
    for (let i = 0; i < part.length; i++) part[i].version = answer[i].version;
    if (values.timeline) {
      const now = await memory();
      if (now !== timeline.wasm) console.error(`${what}, part from ${from.toLocaleString("en")}: wasm memory ${mib((timeline.wasm = now))}`);
    }
  }
  times.sort((a, b) => a - b);
  return { median: times[Math.floor(times.length / 2)], slowest: times[times.length - 1] };
}

/** The wasm memory last seen by --timeline. */
const timeline = { wasm: 0 };

const dir = mkdtempSync(join(tmpdir(), "orchestrator-do-fleet-"));
const rows = [];
try {
  const script = await bundleWorker({ entry: join(root, "js/server/worker.mjs"), cwd: root, outDir: dir, wasm: join(root, "pkg/web/orchestrator_engine_bg.wasm"), external: ["cloudflare:workers"] });
  const persist = join(dir, "state");
  let handle = await start(script, persist);
  const fleet = fleetOf(TARGETS);
  const record = async (what, steps) => {
    const { rss, peak } = workerdMemory();
    const info = await handle.call("GET", "/rollout");
    const moved = fleet.filter((t) => t.version === "v2").length;
    rows.push({ what, steps, wasm: await handle.memory(), heap: await handle.heap(), rss, peak, lkg: info.lastknowngoodversion, moved });
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
  console.log("| after | step median (ms) | slowest (ms) | wasm memory | per target | JS heap in use | workerd resident now / at most | last known good | targets on v2 |");
  console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
  for (const r of rows) {
    console.log(
      `| ${r.what} | ${r.steps.median.toFixed(0)} | ${r.steps.slowest.toFixed(0)} | ${mib(r.wasm)} | ${Math.round(r.wasm / TARGETS)} B | ${mib(r.heap)} | ${mib(r.rss)} / ${mib(r.peak)} | ${r.lkg} | ${r.moved.toLocaleString("en")} |`,
    );
  }
  console.log();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
