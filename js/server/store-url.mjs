// A store named by a URL, for `orchestrator-engine serve --store`:
//
//   file:./orchestrator-state   the embedded store (a directory; the default)
//   memory:                     this process only (gone when it stops)
//   redis://host:6379/0         Redis, through the `redis` package
//   postgres://user@host/db     PostgreSQL, through the `pg` package
//
// The Redis and PostgreSQL drivers are the caller's to install (they are
// optional: `npm install redis` or `npm install pg`).

import { orchestratorError } from "../errors.mjs";
import { FileStore } from "../stores/file.mjs";
import { MemoryStore } from "../stores/memory.mjs";
import { PostgresStore } from "../stores/postgres.mjs";
import { RedisStore } from "../stores/redis.mjs";

/** `{ store, close }` for `spec`; `close()` releases its connections. */
export async function openStore(spec) {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(spec)?.[1]?.toLowerCase();
  if (scheme === "memory") return { store: new MemoryStore(), close: async () => {} };
  if (scheme === "file") {
    const dir = spec.slice("file:".length).replace(/^\/\/(?=\/)/, "");
    if (dir === "") throw invalid("--store file: needs a directory, like file:./orchestrator-state");
    return { store: new FileStore(dir), close: async () => {} };
  }
  if (scheme === "redis" || scheme === "rediss") {
    const { createClient } = await driver("redis");
    const client = createClient({ url: spec });
    client.on("error", () => {}); // a lost connection fails calls with STORE_UNAVAILABLE; the client reconnects
    await client.connect();
    return { store: new RedisStore(client), close: () => client.quit() };
  }
  if (scheme === "postgres" || scheme === "postgresql") {
    const pg = await driver("pg");
    const pool = new (pg.default ?? pg).Pool({ connectionString: spec, max: 16 });
    pool.on("error", () => {}); // an idle connection lost: the next query gets a new one
    return { store: new PostgresStore(pool), close: () => pool.end() };
  }
  throw invalid(`--store ${JSON.stringify(spec)} is not a store: use file:DIR, memory:, redis://... or postgres://...`);
}

async function driver(name) {
  try {
    return await import(name);
  } catch {
    throw invalid(`--store needs the ${name} package: npm install ${name}`);
  }
}

const invalid = (message) => orchestratorError("INVALID_ARGUMENT", message);
