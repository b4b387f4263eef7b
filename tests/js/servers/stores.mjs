// Every store the package ships, each with a real client on a real server,
// for the suites that must hold for all of them.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "redis";
import IORedis from "ioredis";
import pg from "pg";
import postgres from "postgres";

import { MemoryStore, PostgresStore, RedisStore } from "orchestrator-engine/stores";
import { FileStore } from "orchestrator-engine/stores/file";
import { startPostgres, startRedis } from "./servers.mjs";

/**
 * Starts the servers and answers `{ kinds, stop }`: `kinds` maps a name to
 * `open()`, which makes a fresh, empty store (its own prefix, table or
 * directory) and answers `{ store, close }`.
 */
export async function storeKinds() {
  const [redis, postgresServer] = await Promise.all([startRedis(), startPostgres()]);
  const dirs = [];
  const closers = [];
  let n = 0;
  const unique = () => `t${process.pid}_${++n}`;
  const kinds = {
    memory: async () => ({ store: new MemoryStore(), close: async () => {} }),
    file: async () => {
      const dir = mkdtempSync(join(tmpdir(), "file-store-"));
      dirs.push(dir);
      return { store: new FileStore(dir), close: async () => {}, dir };
    },
    "redis (node-redis)": async () => {
      const client = await createClient({ url: redis.url }).connect();
      const close = () => client.quit().catch(() => {});
      closers.push(close);
      return { store: new RedisStore(client, { prefix: unique() }), close, client };
    },
    "redis (ioredis)": async () => {
      const client = new IORedis(redis.url, { lazyConnect: false });
      const close = () => client.quit().catch(() => {});
      closers.push(close);
      return { store: new RedisStore(client, { prefix: unique() }), close, client };
    },
    "postgres (pg)": async () => {
      const pool = new pg.Pool({ connectionString: postgresServer.url, max: 4 });
      pool.on("error", () => {}); // a server stopped under an idle client
      const close = () => pool.end().catch(() => {});
      closers.push(close);
      return { store: new PostgresStore(pool, { table: unique() }), close, client: pool };
    },
    // Statements not prepared (behind a pooler that cannot keep them).
    "postgres (pg, prepare: false)": async () => {
      const pool = new pg.Pool({ connectionString: postgresServer.url, max: 4 });
      pool.on("error", () => {});
      const close = () => pool.end().catch(() => {});
      closers.push(close);
      return { store: new PostgresStore(pool, { table: unique(), prepare: false }), close, client: pool };
    },
    "postgres (postgres.js)": async () => {
      const sql = postgres(postgresServer.url, { max: 4, onnotice: () => {} });
      const close = () => sql.end({ timeout: 1 }).catch(() => {});
      closers.push(close);
      return { store: new PostgresStore(sql, { table: unique() }), close, client: sql };
    },
  };
  return {
    kinds,
    redis,
    postgres: postgresServer,
    async stop() {
      await Promise.all(closers.map((close) => close()));
      await Promise.all([redis.stop(), postgresServer.stop()]);
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    },
  };
}
