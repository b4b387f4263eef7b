// The PostgreSQL store: one row per entity (namespace, entity, revision,
// state as bytea: its checkpoint, base: the revision it was written at) in
// a table it creates on first use, one row per delta of its journal in
// `<table>_journal`, and a sequence that
// makes revisions unique for the table's life. Every compare-and-swap is
// one statement around `UPDATE ... WHERE revision = $n` (or an `INSERT ...
// ON CONFLICT DO NOTHING` for a new entity): a checkpoint replaces the
// state and deletes the journal, a delta moves the revision and inserts
// its row; a read is one statement too, so it sees one consistent state.
// The client is the caller's: `pg` (a Client or a Pool) or `postgres`
// (postgres.js); none is bundled. Each statement is prepared once per
// connection (named, in pg), so PostgreSQL parses and plans it once, not
// on every step (unless `prepare: false`, for a pooler that cannot keep
// prepared statements: PgBouncer in transaction mode before 1.21).

import { createHash } from "node:crypto";

import { describe, orchestratorError } from "../errors.mjs";
import { byName, fromEntityKey } from "./names.mjs";
import { Watchers } from "./watchers.mjs";

/** A store in PostgreSQL (see `Store` in stores.d.ts). */
export class PostgresStore {
  #query;
  #table;
  #ready;
  #watchers;

  /**
   * @param {object} client a `pg` Client or Pool, or a `postgres` sql function
   * @param {{ table?: string, prepare?: boolean }} [options] the table
   *   (default `orchestrator_entities`; its revision sequence is
   *   `<table>_revision`); whether statements are prepared (default true)
   */
  constructor(client, { table = "orchestrator_entities", prepare = true } = {}) {
    if (typeof prepare !== "boolean") throw orchestratorError("INVALID_ARGUMENT", `PostgresStore: prepare must be true or false, got ${describe(prepare)}`);
    this.#query = querier(client, prepare);
    if (typeof table !== "string" || !/^[a-z_][a-z0-9_]{0,50}$/.test(table)) {
      throw orchestratorError("INVALID_ARGUMENT", `PostgresStore: table must be a lower-case SQL identifier (a-z, 0-9, _) of at most 51 characters, got ${describe(table)}`);
    }
    this.#table = table;
    this.#watchers = new Watchers((changed, broken) =>
      listen(client, `${table}_changes`, { message: (payload) => changed(...fromEntityKey(payload)), missed: () => changed(null, null), broken }),
    );
  }

  /**
   * Calls `listener(namespace, entity)` after each write by any process on
   * this table (each write's `pg_notify`, delivered when it commits, and
   * `LISTEN` on a connection of its own: a pool's, or the client given),
   * and `listener(null, null)` when changes may have been missed (that
   * connection failed); until the answered function is called.
   */
  watch(listener) {
    return this.#watchers.watch(listener);
  }

  /** The statement's `pg_notify` of the entity ($1, $2) on the table's channel. */
  #notify() {
    return `pg_notify('${this.#table}_changes', json_build_array($1::text, $2::text)::text)`;
  }

  async get(namespace, entity, known) {
    await this.#create();
    // The entity's row first, then its journal's, oldest first. No journal
    // when the caller's revision is current; only the deltas after it, and
    // no state, when it is an earlier revision of this checkpoint (the one
    // it was written at, or a delta's: the journal holds this
    // checkpoint's deltas alone).
    const rows = await this.#query(
      `WITH e AS (SELECT revision, base, state FROM ${this.#table} WHERE namespace = $1 AND entity = $2),
       held AS (
         SELECT base AS n FROM e WHERE base::text = $3
         UNION ALL
         SELECT j.revision FROM ${this.#table}_journal j WHERE j.namespace = $1 AND j.entity = $2 AND j.revision::text = $3),
       mode AS (
         SELECT CASE WHEN EXISTS (SELECT 1 FROM e WHERE revision::text = $3) THEN 'current'
                     WHEN EXISTS (SELECT 1 FROM held) THEN 'since' ELSE 'whole' END AS m)
       SELECT 0 AS part, e.revision AS n, e.revision::text AS revision, mode.m, CASE WHEN mode.m = 'whole' THEN e.state END AS data FROM e, mode
       UNION ALL
       SELECT 1, j.revision, NULL, NULL, j.delta FROM ${this.#table}_journal j, mode
         WHERE j.namespace = $1 AND j.entity = $2
           AND (mode.m = 'whole' OR (mode.m = 'since' AND j.revision > (SELECT min(n) FROM held)))
       ORDER BY part, n`,
      [namespace, entity, known ?? ""],
    );
    if (rows.length === 0 || Number(rows[0].part) !== 0) return undefined;
    const [{ revision, m: mode, data }, ...journal] = rows;
    if (mode === "current") return { revision };
    if (mode === "since") return { revision, journal: journal.map((row) => view(row.data)) };
    return { revision, bytes: view(data), journal: journal.map((row) => view(row.data)) };
  }

  async put(namespace, entity, bytes, revision) {
    await this.#create();
    const state = buffer(bytes);
    const rows =
      revision === null || revision === undefined
        ? await this.#query(
            `WITH next AS (SELECT nextval('${this.#table}_revision') AS n),
             saved AS (
               INSERT INTO ${this.#table} (namespace, entity, revision, base, state)
                 SELECT $1, $2, n, n, $3 FROM next
                 ON CONFLICT (namespace, entity) DO NOTHING RETURNING revision)
             SELECT revision::text AS revision, ${this.#notify()} FROM saved`,
            [namespace, entity, state],
          )
        : await this.#query(
            `WITH next AS (SELECT nextval('${this.#table}_revision') AS n),
             saved AS (
               UPDATE ${this.#table} SET state = $3, revision = next.n, base = next.n FROM next
                 WHERE namespace = $1 AND entity = $2 AND revision::text = $4 RETURNING revision),
             compacted AS (
               DELETE FROM ${this.#table}_journal WHERE namespace = $1 AND entity = $2 AND EXISTS (SELECT 1 FROM saved))
             SELECT revision::text AS revision, ${this.#notify()} FROM saved`,
            [namespace, entity, state, revision],
          );
    return rows.length === 0 ? null : rows[0].revision;
  }

  async append(namespace, entity, delta, revision) {
    await this.#create();
    const rows = await this.#query(
      `WITH moved AS (
         UPDATE ${this.#table} SET revision = nextval('${this.#table}_revision')
           WHERE namespace = $1 AND entity = $2 AND revision::text = $4 RETURNING revision)
       , journal AS (
         INSERT INTO ${this.#table}_journal (namespace, entity, revision, delta)
           SELECT $1, $2, revision, $3 FROM moved RETURNING revision)
       SELECT revision::text AS revision, ${this.#notify()} FROM journal`,
      [namespace, entity, buffer(delta), revision],
    );
    return rows.length === 0 ? null : rows[0].revision;
  }

  async list() {
    await this.#create();
    const rows = await this.#query(`SELECT namespace, entity FROM ${this.#table}`, []);
    return rows.map((r) => [r.namespace, r.entity]).sort(byName);
  }

  async delete(namespace, entity) {
    await this.#create();
    const rows = await this.#query(
      `WITH journal AS (DELETE FROM ${this.#table}_journal WHERE namespace = $1 AND entity = $2),
       deleted AS (DELETE FROM ${this.#table} WHERE namespace = $1 AND entity = $2 RETURNING 1)
       SELECT 1 AS deleted, ${this.#notify()} FROM deleted`,
      [namespace, entity],
    );
    return rows.length > 0;
  }

  /**
   * Creates the tables and the sequence once. One statement, so one
   * transaction, holding an advisory lock of the table's name: several
   * processes starting at once on an empty database make them one after
   * the other, the later ones finding them made (`IF NOT EXISTS` alone
   * still races: two creates of one table can both pass the check, and the
   * second fails on the type the first made).
   */
  #create() {
    const table = this.#table;
    this.#ready ??= this.#query(
      `DO $$ BEGIN
         PERFORM pg_advisory_xact_lock(hashtext('orchestrator-engine ${table}'));
         CREATE SEQUENCE IF NOT EXISTS ${table}_revision;
         CREATE TABLE IF NOT EXISTS ${table} (
           namespace text NOT NULL, entity text NOT NULL, revision bigint NOT NULL, state bytea NOT NULL,
           PRIMARY KEY (namespace, entity));
         -- The revision the checkpoint was written at (a table made before
         -- it was kept gets the column, empty until each entity's next
         -- checkpoint; altered only when needed: an ALTER takes the table's lock).
         IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = '${table}'::regclass AND attname = 'base' AND NOT attisdropped) THEN
           ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS base bigint;
         END IF;
         CREATE TABLE IF NOT EXISTS ${table}_journal (
           namespace text NOT NULL, entity text NOT NULL, revision bigint NOT NULL, delta bytea NOT NULL,
           PRIMARY KEY (namespace, entity, revision));
         -- Snapshots are compact already: storing them uncompressed saves
         -- PostgreSQL compressing megabytes on every write.
         IF (SELECT attstorage FROM pg_attribute WHERE attrelid = '${table}'::regclass AND attname = 'state') <> 'e' THEN
           ALTER TABLE ${table} ALTER COLUMN state SET STORAGE EXTERNAL;
         END IF;
       END $$`,
      [],
      { prepare: false }, // run once: nothing to prepare
    ).then(
      () => undefined,
      (error) => {
        this.#ready = undefined; // try again on the next call
        throw error;
      },
    );
    return this.#ready;
  }
}

/** Bytes as the Buffer a client sends, without a copy. */
const buffer = (bytes) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/** A Buffer a client answered, as a Uint8Array, without a copy. */
const view = (data) => new Uint8Array(data.buffer, data.byteOffset, data.byteLength);

/** A function that runs one parameterised statement and answers its rows. */
function querier(client, prepared) {
  // postgres.js: `sql.unsafe(text, values, { prepare })` is a promise of the rows.
  if (typeof client?.unsafe === "function") {
    return (text, values, { prepare = prepared } = {}) => client.unsafe(text, values, { prepare });
  }
  // pg: `query({ name, text, values })` resolves `{ rows }`; a named
  // statement is prepared on each connection the first time it runs there.
  if (typeof client?.query === "function") {
    return async (text, values, { prepare = prepared } = {}) => (await client.query(prepare ? { name: statementName(text), text, values } : { text, values })).rows;
  }
  throw orchestratorError("INVALID_ARGUMENT", `PostgresStore: pass a pg Client or Pool, or a postgres (postgres.js) sql function, got ${describe(client)}`);
}

/** A prepared statement's name, from its text: one name per text on every connection (pg refuses a name reused for another text). */
const names = new Map();
function statementName(text) {
  let name = names.get(text);
  if (name === undefined) {
    name = `orchestrator_${createHash("sha256").update(text).digest("hex").slice(0, 32)}`;
    names.set(text, name);
  }
  return name;
}

/**
 * Listens on `channel` (postgres.js: `sql.listen`; pg: `LISTEN` on a
 * pool's connection of its own, or on the client given), calling
 * `message(payload)` for each notification, `missed()` when it listens
 * again after a reconnect of its own (postgres.js), and `broken()` when it
 * stops listening; answers the function that ends it.
 */
async function listen(client, channel, { message, missed, broken }) {
  if (typeof client.unsafe === "function" && typeof client.listen === "function") {
    let listened = false;
    const { unlisten } = await client.listen(channel, message, () => {
      if (listened) missed();
      listened = true;
    });
    return unlisten;
  }
  // A pg Pool hands out a connection to hold; a pg Client is one.
  const pooled = typeof client.connect === "function" && typeof client.totalCount === "number";
  const connection = pooled ? await client.connect() : client;
  const notified = (notice) => {
    if (notice.channel === channel) message(notice.payload);
  };
  connection.on("notification", notified);
  connection.on("error", broken);
  try {
    await connection.query(`LISTEN "${channel}"`);
  } catch (error) {
    connection.off("notification", notified);
    connection.off("error", broken);
    if (pooled) connection.release(error);
    throw error;
  }
  return async () => {
    connection.off("notification", notified);
    await connection.query(`UNLISTEN "${channel}"`).catch(() => {});
    connection.off("error", broken);
    if (pooled) connection.release();
  };
}
