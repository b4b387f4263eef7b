// Types of `orchestrator-engine/stores`: the Store interface every store
// implements (write your own against it), and the stores that run anywhere.

/** An entity as a store holds it: a checkpoint and the journal after it. */
export interface StoredEntity {
  /** Opaque; a new one on every write, never reused by the store. */
  revision: string;
  /** The entity's checkpoint (its snapshot); left out when the caller already holds `revision`. */
  bytes?: Uint8Array;
  /**
   * The deltas appended since the checkpoint, oldest first (with `bytes`;
   * a store without `append` leaves it out). Without `bytes`: only the
   * deltas appended after the caller's `known` revision (a replica a few
   * deltas behind catches up without reading the checkpoint).
   */
  journal?: Uint8Array[];
}

/**
 * Where `Rollouts` keeps entities: one value per (namespace, entity), each
 * with a revision, written only by compare-and-swap. Every method may
 * throw (or reject) when the store cannot be reached: `Rollouts` turns
 * that into `STORE_UNAVAILABLE`. A method that throws an error with
 * `corrupt: true` reports a value it cannot read (`INVALID_SNAPSHOT`).
 */
export interface Store {
  /**
   * The entity's revision and bytes, or `undefined` when the store has no
   * such entity. With `known`, the bytes are left out when the revision is
   * still `known` (a cached copy is current), and may be left out when
   * `known` is the checkpoint's revision or a delta's after it: then
   * `journal` holds only the deltas appended after `known` (optional; a
   * store that always answers the whole entity is correct, only slower).
   */
  get(namespace: string, entity: string, known?: string): Promise<StoredEntity | undefined>;
  /**
   * Writes `bytes` (a checkpoint) in place of the entity's checkpoint and
   * journal, only if the entity's revision is still `revision` (`null`:
   * only if the store has no such entity yet), atomically. Resolves the
   * new revision, or `null` when the revision was not the store's (a
   * conflict: another writer saved first).
   */
  put(namespace: string, entity: string, bytes: Uint8Array, revision: string | null, options?: WriteOptions): Promise<string | null>;
  /**
   * Optional. Appends `delta` to the entity's journal, only if its
   * revision is still `revision`, atomically; resolves the new revision,
   * or `null` on a conflict or when there is no such entity. A store
   * without it gets a checkpoint on every write.
   */
  append?(namespace: string, entity: string, delta: Uint8Array, revision: string, options?: WriteOptions): Promise<string | null>;
  /** Every entity as `[namespace, entity]`, by namespace then entity. */
  list(): Promise<Array<[string, string]>>;
  /** Deletes the entity; resolves whether it was there. */
  delete(namespace: string, entity: string, options?: WriteOptions): Promise<boolean>;
  /**
   * Optional. Calls `listener(namespace, entity)` after each write that
   * changed an entity, by any process where the store can tell (Redis
   * pub/sub, PostgreSQL `LISTEN`/`NOTIFY`; the file store within a process,
   * and `(null, null)` for another process's write), and `(null, null)`
   * when changes may have been missed; until the answered function is
   * called. Without it, a server polls.
   */
  watch?(listener: (namespace: string | null, entity: string | null) => void): () => void;
}

/**
 * What `Rollouts` tells a write. `deadline` (ms since the epoch): a store
 * that can bound its waits (a lock) gives up before it, having written
 * nothing, and says so by rejecting; a write still unanswered when the
 * call's time is up is reported with its outcome unknown.
 */
export interface WriteOptions {
  deadline?: number;
}

/** A store in this process's memory: tests, browsers, one-process tools. */
export class MemoryStore {}
/** Its methods are `Store`'s (declaration merging: one list of methods). */
export interface MemoryStore extends Store {}

/**
 * A store in Redis: one hash per entity (its checkpoint) and one list (its
 * journal), each compare-and-swap one server-side script. Pass a connected node-redis (v4+) or ioredis client;
 * create it with its offline queue disabled (node-redis
 * `disableOfflineQueue: true`, ioredis `enableOfflineQueue: false`) so that
 * a call made while the server is down fails at once instead of running
 * after it is back.
 */
/**
 * What RedisStore needs of a client: ioredis's `callBuffer` or node-redis's
 * `sendCommand` (v4 and later). Both clients' own types fit this, without
 * this package depending on either.
 */
export type RedisClientLike =
  | { callBuffer(command: string, ...args: never[]): Promise<unknown> }
  | { sendCommand(args: never[], options?: never): Promise<unknown> };

export class RedisStore {
  constructor(client: RedisClientLike, options?: { prefix?: string });
}
export interface RedisStore extends Store {}

/**
 * A store in PostgreSQL: one row per entity in `table` (its checkpoint)
 * and one per delta in `<table>_journal` (both created on first use), each
 * compare-and-swap one statement around `UPDATE ... WHERE revision = $n`. Pass a
 * `pg` Client or Pool, or a `postgres` (postgres.js) sql function.
 */
/**
 * What PostgresStore needs of a client: postgres.js's `unsafe`, or the
 * `query` of a `pg` Client or Pool. Both clients' own types fit this,
 * without this package depending on either.
 */
export type PostgresClientLike =
  | { unsafe(query: string, parameters?: never[], options?: { prepare?: boolean }): PromiseLike<unknown> }
  | { query(config: { name?: string; text: string; values?: never[] }): Promise<{ rows: unknown[] }> };

export class PostgresStore {
  /**
   * @param options.table the table (default `orchestrator_entities`)
   * @param options.prepare whether each statement is prepared once per
   *   connection (default true); false behind a pooler that cannot keep
   *   prepared statements (PgBouncer in transaction mode before 1.21)
   */
  constructor(client: PostgresClientLike, options?: { table?: string; prepare?: boolean });
}
export interface PostgresStore extends Store {}
