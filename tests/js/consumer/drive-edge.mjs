// Drives worker.mjs through a rollout and a rollback with Node's own
// Request/Response; prints a JSON summary.
import worker from "./worker.mjs";

const store = new Map();
const env = { STATE: { get: async (k) => store.get(k) ?? null, put: async (k, v) => void store.set(k, v) } };
const hosts = Array.from({ length: 8 }, (_, i) => ({ name: `edge-${i}`, running: "v1", broken: new Set() }));
let now = Date.UTC(2024, 0, 1);
const summary = { requests: 0, snapshotBytes: 0, phases: [] };

async function call(targetVersion) {
  const reports = hosts.map((h) => ({ name: h.name, version: h.running, isError: h.broken.has(h.running) }));
  const request = new Request("https://edge.example/orchestrate", {
    method: "POST",
    headers: { "x-now": String(now) },
    body: JSON.stringify({ namespace: "prod", entity: "cdn", targetVersion, reports }),
  });
  const response = await worker.fetch(request, env);
  if (!response.ok) throw new Error(JSON.stringify(await response.json()));
  const body = await response.json();
  for (const e of body.expected) hosts.find((h) => h.name === e.name).running = e.version;
  now += 10_000;
  summary.requests++;
  summary.snapshotBytes = store.get("engine").length;
  return body.info;
}

async function until(targetVersion, done) {
  for (let i = 0; i < 300; i++) {
    const info = await call(targetVersion);
    if (done(info)) return summary.phases.push({ targetVersion, steps: i + 1, info, running: hosts.map((h) => h.running) });
  }
  throw new Error(`${targetVersion} did not settle`);
}

await until("v1", (i) => i.lastKnownGoodVersion === "v1");
await until("v2", (i) => i.lastKnownGoodVersion === "v2");
hosts[3].broken.add("v3");
await until("v3", (i) => i.lastKnownBadVersion === "v3" && hosts.every((h) => h.running === "v2"));
const bad = await worker.fetch(new Request("https://edge.example/", { method: "POST", headers: { "x-now": String(now) }, body: JSON.stringify({ namespace: "prod", entity: "cdn", targetVersion: "v3", reports: "oops" }) }), env);
summary.badRequest = { status: bad.status, ...(await bad.json()) };
console.log(JSON.stringify(summary));
