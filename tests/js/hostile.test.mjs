// A hostile-request campaign, property-based (fast-check): random routes,
// methods, names, headers, tokens and bodies against the Node server on
// every store, and against the Worker in workerd, with the write token, the
// read token, a wrong one and none. After each request: no 5xx but 503
// STORE_UNAVAILABLE, an error in the documented shape, and no controller
// secret in any answer to a reader. After the campaign on a Node server: its
// state equals that of a model, a handler on a memory store that was sent
// only the requests the server answered 2xx, in the same order.
// docs/HOSTILE.md lists what was tried, with these counts.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";

import { MemoryStore } from "orchestrator-engine/stores";
import { createHandler } from "orchestrator-engine/server";
import { startServer } from "../../js/server/node.mjs";
import { storeKinds } from "./servers/stores.mjs";

const root = fileURLToPath(new URL("../..", import.meta.url));
const T0 = 1_700_000_000_000;
/** Requests per Node store, and against the Worker: the counts docs/HOSTILE.md states. */
export const REQUESTS_PER_STORE = 600;
export const REQUESTS_WORKER = 400;
const SECRET = "S3CRET";

const WRITE = "w-token";
const READ = "r-token";

// ---- what the campaign sends ------------------------------------------

// Mostly names that work (so that entities are made and stepped), the rest hostile.
const names = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom("prod", "api", "web", "é", "a b", "constructor") },
  { weight: 2, arbitrary: fc.constantFrom("a%2Fb", "%ZZ", "%FF", "%25FF", "__proto__", "..", ".", "%2E%2E", "x".repeat(201), "a%00b", "🚀", "secret") },
);
const versions = fc.oneof({ weight: 5, arbitrary: fc.constantFrom("v1", "v2", "v3") }, { weight: 1, arbitrary: fc.oneof(fc.constantFrom("", "V1"), fc.string({ maxLength: 8 })) });
const report = fc.record(
  {
    name: fc.oneof(fc.constantFrom("h1", "h2", "h3", "", "__proto__"), fc.string({ maxLength: 6 })),
    group: fc.oneof(fc.constantFrom("", "eu", "us"), fc.string({ maxLength: 3 })),
    tags: fc.oneof(fc.constant(""), fc.constantFrom("a,b", "x"), fc.array(fc.string({ maxLength: 3 }), { maxLength: 2 })),
    version: versions,
    message: fc.string({ maxLength: 10 }),
    isError: fc.oneof(fc.boolean(), fc.constant("yes")),
  },
  { requiredKeys: [] },
);
const options = fc.record(
  {
    batchpercent: fc.oneof(fc.integer({ min: -5, max: 150 }), fc.constant("50")),
    successpercent: fc.integer({ min: 0, max: 120 }),
    successtimeoutsecs: fc.integer({ min: 0, max: 5 }),
    durationtimeoutsecs: fc.integer({ min: 0, max: 10 }),
    batchPercent: fc.integer({ min: 0, max: 100 }),
    steps: fc.constantFrom([1, "100%"], ["50%"], "all"),
    maxFailures: fc.constantFrom("10%", 3, -1),
    __proto__: fc.constant({ batchpercent: 100 }),
  },
  { requiredKeys: [] },
);
// Controllers carry secrets (a header, a query string): readers must never see them.
const controller = fc.record(
  {
    approval: fc.constantFrom(`http://127.0.0.1:2/approve?k=${SECRET}`, "http://user:pw@127.0.0.1:2/x", "ftp://x", "not a url"),
    monitoring: fc.constantFrom(`http://127.0.0.1:2/monitor?k=${SECRET}`, "http://127.0.0.1:25/x"),
    headers: fc.constantFrom({ authorization: `Bearer ${SECRET}` }, { "x-api-key": SECRET }, { "bad header": "x" }, "nope"),
    timeoutMs: fc.constantFrom(50, 0, 10_000_000),
  },
  { requiredKeys: [] },
);
const body = fc.oneof(
  { weight: 4, arbitrary: fc.record({ version: versions }) },
  { weight: 4, arbitrary: fc.array(report, { maxLength: 4 }) },
  { weight: 2, arbitrary: options },
  { weight: 2, arbitrary: controller },
  { weight: 1, arbitrary: fc.record({ full: fc.oneof(fc.boolean(), fc.constant("yes")) }) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.constantFrom("{", "", "null", "[]", "1e309", '{"__proto__":{"version":"v-proto"}}', "[".repeat(2000)) },
);
const suffixes = fc.constantFrom(
  "", "/status", "/version", "/options", "/target/controller", "/monitoring/controller", "/rollout", "/targets", "/eu/status",
  "/info", "/expected", "/force", "/pause", "/resume", "/abort", "/retry", "/approve", "/promote", "/rollback", "/plan",
  "/history", "/events", "/events?since=-1", "/events?since=2&limit=3", "/snapshot", "/a/b/c",
);
const path = fc.oneof(
  { weight: 8, arbitrary: fc.tuple(names, names, suffixes).map(([ns, e, s]) => `/v1/orchestrate/${ns}/${e}${s}`) },
  { weight: 1, arbitrary: fc.constantFrom("/v1/orchestrate/namespaces", "/v1/orchestrate/prod/entities", "/v1/orchestrate/access", "/healthz", "/openapi.json", "/v1/orchestrate", "/v2/x", "/v1/orchestrate/../etc/passwd") },
  { weight: 1, arbitrary: fc.webPath().map((p) => `/v1/orchestrate${p}`) },
);
const token = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(`Bearer ${WRITE}`, WRITE) },
  { weight: 3, arbitrary: fc.constantFrom(`Bearer ${READ}`, `bearer ${READ} `) },
  { weight: 1, arbitrary: fc.constantFrom(undefined, "Bearer nope", "Basic dzp0b2tlbg==", `Bearer ${WRITE}x`) },
);
const method = fc.oneof({ weight: 8, arbitrary: fc.constantFrom("GET", "POST", "POST", "POST") }, { weight: 1, arbitrary: fc.constantFrom("PUT", "DELETE", "HEAD", "PATCH", "OPTIONS") });
const request = fc.record({ method, path, token, body, text: fc.boolean() });

/**
 * A deterministic sequence of requests (seeded: the same campaign every
 * run), after two that leave secrets for readers to look for: an entity
 * with HTTP controllers whose URLs and headers hold them.
 */
const campaign = (count, seed) => [
  { method: "POST", path: "/v1/orchestrate/prod/api/version", token: `Bearer ${WRITE}`, body: { version: "v1" }, text: false },
  { method: "POST", path: "/v1/orchestrate/prod/api/target/controller", token: `Bearer ${WRITE}`, body: { approval: `http://127.0.0.1:2/approve?k=${SECRET}`, headers: { authorization: `Bearer ${SECRET}` }, timeoutMs: 50 }, text: false },
  { method: "POST", path: "/v1/orchestrate/prod/api/monitoring/controller", token: `Bearer ${WRITE}`, body: { externalmonitoring: `http://127.0.0.1:2/check?k=${SECRET}`, headers: { "x-api-key": SECRET }, timeoutMs: 50 }, text: false },
  // What a reader would try first.
  { method: "GET", path: "/v1/orchestrate/prod/api/snapshot", token: `Bearer ${READ}`, body: null, text: false },
  { method: "GET", path: "/v1/orchestrate/prod/api/events", token: `Bearer ${READ}`, body: null, text: false },
  ...fc.sample(request, { numRuns: count, seed }),
];

/** Sends one campaign request; answers { status, text, json, reader }. */
async function send(fetcher, base, r) {
  const headers = { "content-type": "application/json" };
  if (r.token !== undefined) headers.authorization = r.token;
  const hasBody = !["GET", "HEAD"].includes(r.method);
  const payload = hasBody ? (typeof r.body === "string" && r.text ? r.body : JSON.stringify(r.body)) : undefined;
  const response = await fetcher(`${base}${r.path}`, { method: r.method, headers, body: payload });
  const text = r.method === "HEAD" ? "" : new TextDecoder("latin1").decode(await response.arrayBuffer());
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, text, json, reader: (r.token ?? "").includes(READ) };
}

/** What every answer must be, whoever asked. */
function checkAnswer(r, answer, tally) {
  const where = `${r.method} ${r.path} (${r.token ?? "no token"}): ${answer.status} ${answer.text.slice(0, 200)}`;
  tally.requests++;
  tally.statuses[answer.status] = (tally.statuses[answer.status] ?? 0) + 1;
  assert.ok(answer.status < 500 || (answer.status === 503 && answer.json?.code === "STORE_UNAVAILABLE"), where);
  if (answer.status >= 400 && r.method !== "HEAD" && answer.status !== 404) {
    assert.equal(answer.json?.status, "error", where);
    assert.equal(typeof answer.json?.code, "string", where);
  }
  assert.doesNotMatch(answer.text, /\n\s+at .+\(.*:\d+:\d+\)/, `a stack trace: ${where}`);
  if (answer.reader) {
    tally.readerAnswers++;
    assert.ok(!answer.text.includes(SECRET), `a reader saw a secret: ${where}`);
  }
}

/** The state of every entity a server holds, as a reader of the API sees it (hook timings left out). */
async function stateOf(fetcher, base, auth) {
  const get = async (p) => {
    const response = await fetcher(`${base}/v1/orchestrate${p}`, { headers: { authorization: auth } });
    return response.status === 200 ? response.json() : { status: response.status };
  };
  const state = {};
  const namespaces = await get("/namespaces");
  for (const ns of Array.isArray(namespaces) ? namespaces : []) {
    for (const entity of await get(`/${encodeURIComponent(ns)}/entities`)) {
      const at = `/${encodeURIComponent(ns)}/${encodeURIComponent(entity)}`;
      const events = (await get(`${at}/events?limit=100000`)).map?.((e) => ({ ...e, detail: e.detail.replace(/\(after \d+ ms\)/, "(after N ms)") }));
      state[`${ns}/${entity}`] = { info: await get(`${at}/info`), expected: await get(`${at}/expected`), events, history: await get(`${at}/history`) };
    }
  }
  return state;
}

let servers;
before(async () => {
  servers = await storeKinds();
});
after(async () => {
  await servers?.stop();
});

describe("hostile requests against the Node server, on every store", () => {
  for (const kind of ["memory", "file", "redis (node-redis)", "postgres (pg)"]) {
    test(`${kind}: ${REQUESTS_PER_STORE} random requests, then the state a model of the 2xx ones holds`, { timeout: 300_000 }, async (t) => {
      const { store, close } = await servers.kinds[kind]();
      const server = await startServer({ port: 0, store, token: WRITE, readToken: READ, now: () => T0, log: () => {}, maxBodyBytes: 64 * 1024, hookTimeoutMs: 200 });
      const model = createHandler({ store: new MemoryStore(), insecure: true, now: () => T0, maxBodyBytes: 64 * 1024, hookTimeoutMs: 200 });
      const modelFetch = (url, init) => model.fetch(new Request(url, init));
      const tally = { requests: 0, readerAnswers: 0, statuses: {} };
      try {
        const requests = campaign(REQUESTS_PER_STORE, 17);
        for (const [i, r] of requests.entries()) {
          const answer = await send(fetch, server.url, r);
          checkAnswer(r, answer, tally);
          if (i < 3) assert.equal(answer.status, 200, "the secrets are in place");
          // The model is sent what the server applied: the writes it answered 2xx.
          if (answer.status >= 200 && answer.status < 300 && !["GET", "HEAD"].includes(r.method)) {
            const modelAnswer = await send(modelFetch, "http://model", { ...r, token: undefined });
            assert.ok(modelAnswer.status < 300, `the model refused what the server applied: ${r.method} ${r.path} ${modelAnswer.text.slice(0, 200)}`);
          }
        }
        // The secrets were there all along, for the writer.
        const backup = await fetch(`${server.url}/v1/orchestrate/prod/api/snapshot`, { headers: { authorization: `Bearer ${WRITE}` } });
        assert.ok(new TextDecoder("latin1").decode(await backup.arrayBuffer()).includes(SECRET), "the writer's snapshot holds the secrets");
        const served = await stateOf(fetch, server.url, `Bearer ${WRITE}`);
        const modelled = await stateOf(modelFetch, "http://model", "");
        assert.deepEqual(served, modelled, "the server holds exactly what its 2xx answers applied");
        assert.ok(Object.keys(served).length > 0, "the campaign made entities");
        t.diagnostic(`${kind}: ${tally.requests} requests (${tally.readerAnswers} read-token answers), statuses ${JSON.stringify(tally.statuses)}, ${Object.keys(served).length} entities, equal to the model`);
      } finally {
        await server.stop();
        model.close();
        await close();
      }
    });
  }
});

test(`the Worker in workerd: ${REQUESTS_WORKER} random requests, no 5xx, no secret to a reader`, { timeout: 300_000 }, async (t) => {
  const { mkdtempSync, rmSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { Miniflare } = await import("miniflare");
  const { bundleWorker } = await import("./servers/worker-bundle.mjs");
  const dir = mkdtempSync(join(tmpdir(), "hostile-worker-"));
  const { inputs, ...script } = await bundleWorker({ entry: join(root, "js/server/worker.mjs"), cwd: root, outDir: dir, wasm: join(root, "pkg/web/orchestrator_engine_bg.wasm"), external: ["cloudflare:workers"] });
  assert.ok(inputs.length > 0);
  const mf = new Miniflare({ ...script, durableObjects: { ENTITIES: "EntityObject", INDEX: "EntityIndex" }, bindings: { ORCHESTRATOR_TOKEN: WRITE, ORCHESTRATOR_READ_TOKEN: READ, ORCHESTRATOR_MAX_BODY_BYTES: String(64 * 1024) } });
  const tally = { requests: 0, readerAnswers: 0, statuses: {} };
  try {
    const workerFetch = (url, init) => mf.dispatchFetch(url, init);
    for (const r of campaign(REQUESTS_WORKER, 23)) checkAnswer(r, await send(workerFetch, "http://localhost", r), tally);
    t.diagnostic(`Worker: ${tally.requests} requests (${tally.readerAnswers} read-token answers), statuses ${JSON.stringify(tally.statuses)}`);
  } finally {
    await mf.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("docs/HOSTILE.md states the counts this campaign runs", () => {
  const page = readFileSync(join(root, "docs/HOSTILE.md"), "utf8");
  assert.match(page, new RegExp(`\\| hostile requests, Node server, each of 4 stores \\| ${REQUESTS_PER_STORE} \\|`));
  assert.match(page, new RegExp(`\\| hostile requests, the Worker in workerd \\| ${REQUESTS_WORKER} \\|`));
});
