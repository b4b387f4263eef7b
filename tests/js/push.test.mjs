// Events pushed, not polled: on every store, a server whose poll interval
// is ten minutes still hands each write's events to the overview's stream
// and to the entity's stream, because the store told it of the write
// (Redis pub/sub and PostgreSQL LISTEN/NOTIFY on real servers, the file
// store within a process and, across processes, through its directory's
// watch). Nothing here is timed: ten minutes are never waited for.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

import { Rollouts } from "orchestrator-engine/rollouts";
import { startServer } from "../../js/server/node.mjs";
import { readEvents } from "../../www/dashboard/sse.mjs";
import { storeKinds } from "./servers/stores.mjs";

/** Longer than any test: an event that arrives came by a push. */
const NEVER_MS = 600_000;

let servers;
before(async () => {
  servers = await storeKinds();
});
after(async () => {
  await servers?.stop();
});

/** Reads a stream of `server` in the background: `until(predicate)` waits for a message that matches. */
function follow(server, path) {
  const aborter = new AbortController();
  const seen = [];
  let wake = () => {};
  const reading = fetch(`${server.url}${path}`, { signal: aborter.signal }).then((response) => {
    assert.equal(response.status, 200);
    return readEvents(response.body, (message) => {
      seen.push(message.data);
      wake();
    });
  });
  return {
    seen,
    async until(what, predicate) {
      const deadline = Date.now() + 20_000;
      while (!seen.some(predicate)) {
        if (Date.now() > deadline) throw new Error(`no ${what} in ${JSON.stringify(seen).slice(0, 600)}`);
        await new Promise((resolve) => {
          wake = resolve;
          setTimeout(resolve, 200);
        });
      }
    },
    async close() {
      aborter.abort();
      await reading.catch(() => {});
    },
  };
}

const set = (version) => (m) => (m.kind ?? m.event?.kind) === "version_set" && (m.version ?? m.event?.version) === version;

for (const kind of ["memory", "file", "redis (node-redis)", "redis (ioredis)", "postgres (pg)", "postgres (postgres.js)"]) {
  test(`${kind}: another replica's writes reach the overview's and the entity's streams by the store's notice`, async () => {
    const { store, close } = await servers.kinds[kind]();
    const handler = await startServer({ port: 0, store, pollMs: NEVER_MS, log: () => {} });
    // Another replica: its own Rollouts (and cache) on the same store.
    const replica = new Rollouts({ store });
    await replica.setTargetVersion("prod", "api", "v1");
    const overview = follow(handler, "/v1/orchestrate/events/stream");
    const entity = follow(handler, "/v1/orchestrate/prod/api/events/stream?since=0");
    const second = follow(handler, "/v1/orchestrate/prod/api/events/stream?since=0");
    try {
      await overview.until("prod/api", (m) => m.type === "entity" && m.entity === "api");
      await entity.until("v1", set("v1"));
      // A change, a new entity, and one gone: each told at once.
      await replica.setTargetVersion("prod", "api", "v2");
      await overview.until("v2 on the overview", (m) => m.type === "event" && set("v2")(m));
      await entity.until("v2 on the entity's stream", set("v2"));
      await second.until("v2 on its second stream", set("v2"));
      await replica.setTargetVersion("prod", "web", "w1");
      await overview.until("prod/web", (m) => m.type === "entity" && m.entity === "web");
      await replica.deleteEntity("prod", "web");
      await overview.until("prod/web removed", (m) => m.type === "removed" && m.entity === "web");
    } finally {
      await Promise.all([overview, entity, second].map((s) => s.close()));
      await handler.stop();
      await close();
    }
  });
}

test("file: another process's write reaches the streams through the directory's watch", async () => {
  const { store, close, dir } = await servers.kinds.file();
  const handler = await startServer({ port: 0, store, pollMs: NEVER_MS, log: () => {} });
  await new Rollouts({ store }).setTargetVersion("prod", "api", "v1");
  const overview = follow(handler, "/v1/orchestrate/events/stream");
  const entity = follow(handler, "/v1/orchestrate/prod/api/events/stream?since=0");
  try {
    await overview.until("prod/api", (m) => m.type === "entity" && m.entity === "api");
    await entity.until("v1", set("v1"));
    const script = `
      import { Rollouts } from "orchestrator-engine/rollouts";
      import { FileStore } from "orchestrator-engine/stores/file";
      await new Rollouts({ store: new FileStore(${JSON.stringify(dir)}) }).setTargetVersion("prod", "api", "v2");`;
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], { cwd: fileURLToPath(new URL("../..", import.meta.url)), stdio: "inherit" });
    assert.equal(await new Promise((resolve) => child.on("exit", resolve)), 0);
    await overview.until("v2 on the overview", (m) => m.type === "event" && set("v2")(m));
    await entity.until("v2 on the entity's stream", set("v2"));
  } finally {
    await Promise.all([overview, entity].map((s) => s.close()));
    await handler.stop();
    await close();
  }
});

test("file: another process's writes are told by entity, a hashed long name too, each once per batch", async () => {
  const { store, close, dir } = await servers.kinds.file();
  const long = "é".repeat(100); // 200 bytes, longer encoded than a file name may be: kept hashed, its name beside it
  const told = [];
  let wake = () => {};
  const stop = store.watch((namespace, entity) => {
    told.push([namespace, entity]);
    wake();
  });
  try {
    const script = `
      import { Rollouts } from "orchestrator-engine/rollouts";
      import { FileStore } from "orchestrator-engine/stores/file";
      const rollouts = new Rollouts({ store: new FileStore(${JSON.stringify(dir)}) });
      await rollouts.setTargetVersion("prod", "api", "v1");
      await rollouts.setTargetVersion("prod", "api", "v2");
      await rollouts.setTargetVersion("prod", ${JSON.stringify(long)}, "v1");`;
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], { cwd: fileURLToPath(new URL("../..", import.meta.url)), stdio: "inherit" });
    assert.equal(await new Promise((resolve) => child.on("exit", resolve)), 0);
    const deadline = Date.now() + 20_000;
    const has = (entity) => told.some(([n, e]) => n === "prod" && e === entity);
    while (!(has("api") && has(long)) && Date.now() < deadline) await new Promise((resolve) => ((wake = resolve), setTimeout(resolve, 200)));
    assert.ok(has("api"), `api told: ${JSON.stringify(told).slice(0, 300)}`);
    assert.ok(has(long), "the hashed name told by its name");
    // The first write made the namespace's directory: that may say "read
    // everything"; every later change is named.
    assert.ok(told.filter(([n]) => n === null).length <= 1, JSON.stringify(told).slice(0, 300));
  } finally {
    stop();
    await close();
  }
});
