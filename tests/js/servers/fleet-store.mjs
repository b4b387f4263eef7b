// The store the controller processes share, opened the same way by each
// of them and by the tests that watch them: a directory, or a real Redis
// or PostgreSQL server (one prefix or table), with node-redis and pg.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { PostgresStore, RedisStore } from "orchestrator-engine/stores";
import { FileStore } from "orchestrator-engine/stores/file";
import { startPostgres, startRedis } from "./servers.mjs";

/** `n` target names, `t00000` on. */
export const targetNames = (n) => Array.from({ length: n }, (_, i) => `t${String(i).padStart(5, "0")}`);

/** The store of `kind` at `url` (a directory for "file"): `{ store, close }`. */
export async function openStore(kind, url) {
  if (kind === "redis") {
    const { createClient } = await import("redis");
    const client = await createClient({ url }).connect();
    return { store: new RedisStore(client, { prefix: "concurrency" }), close: () => client.quit() };
  }
  if (kind === "postgres") {
    const { default: pg } = await import("pg");
    const pool = new pg.Pool({ connectionString: url, max: 2 });
    return { store: new PostgresStore(pool, { table: "concurrency" }), close: () => pool.end() };
  }
  return { store: new FileStore(url, { lockTimeoutMs: 20_000 }), close: async () => {} };
}

/**
 * Starts what a store of `kind` needs (a server, or a directory) and opens
 * it: `{ store, url, close }`, where `close` also stops the server.
 */
export async function startStore(kind) {
  const server =
    kind === "redis"
      ? await startRedis()
      : kind === "postgres"
        ? await startPostgres()
        : (() => {
            const dir = mkdtempSync(join(tmpdir(), "file-store-"));
            return { url: dir, stop: async () => rmSync(dir, { recursive: true, force: true }) };
          })();
  const { store, close } = await openStore(kind, server.url);
  return { store, url: server.url, close: async () => (await close(), await server.stop()) };
}
