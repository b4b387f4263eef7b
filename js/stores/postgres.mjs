// The PostgreSQL store: one row per entity (namespace, entity, revision,
// state as bytea) in a table it creates on first use, and a sequence that
// makes revisions unique for the table's life. The compare-and-swap is one
// `UPDATE ... WHERE revision = $n` (or an `INSERT ... ON CONFLICT DO
// NOTHING` for a new entity). The client is the caller's: `pg` (a Client
// or a Pool) or `postgres` (postgres.js); none is bundled.

import { byName } from "./names.mjs";

/** A store in PostgreSQL (see `Store` in stores.d.ts). */
export class PostgresStore {
  #query;
  #table;
  #ready;

  /**
   * @param {object} client a `pg` Client or Pool, or a `postgres` sql function
   * @param {{ table?: string }} [options] the table (default
   *   `orchestrator_entities`); its revision sequence is `<table>_revision`
   */
  constructor(client, { table = "orchestrator_entities" } = {}) {
    this.#query = querier(client);
    if (typeof table !== "string" || !/^[a-z_][a-z0-9_]{0,50}$/.test(table)) {
      throw new TypeError("PostgresStore: table must be a lower-case SQL identifier of at most 51 characters");
    }
    this.#table = table;
  }

  async get(namespace, entity, known) {
    await this.#create();
    const rows = await this.#query(
      `SELECT revision::text AS revision, CASE WHEN revision::text = $3 THEN NULL ELSE state END AS state
         FROM ${this.#table} WHERE namespace = $1 AND entity = $2`,
      [namespace, entity, known ?? ""],
    );
    if (rows.length === 0) return undefined;
    const { revision, state } = rows[0];
    if (state === null) return { revision };
    return { revision, bytes: new Uint8Array(state.buffer, state.byteOffset, state.byteLength) };
  }

  async put(namespace, entity, bytes, revision) {
    await this.#create();
    const state = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const rows =
      revision === null || revision === undefined
        ? await this.#query(
            `INSERT INTO ${this.#table} (namespace, entity, revision, state)
               VALUES ($1, $2, nextval('${this.#table}_revision'), $3)
               ON CONFLICT (namespace, entity) DO NOTHING RETURNING revision::text AS revision`,
            [namespace, entity, state],
          )
        : await this.#query(
            `UPDATE ${this.#table} SET state = $3, revision = nextval('${this.#table}_revision')
               WHERE namespace = $1 AND entity = $2 AND revision::text = $4 RETURNING revision::text AS revision`,
            [namespace, entity, state, revision],
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
    const rows = await this.#query(`DELETE FROM ${this.#table} WHERE namespace = $1 AND entity = $2 RETURNING 1 AS deleted`, [namespace, entity]);
    return rows.length > 0;
  }

  /** Creates the table and its sequence once (several processes may race to). */
  #create() {
    this.#ready ??= (async () => {
      for (const statement of [
        `CREATE SEQUENCE IF NOT EXISTS ${this.#table}_revision`,
        `CREATE TABLE IF NOT EXISTS ${this.#table} (
           namespace text NOT NULL, entity text NOT NULL, revision bigint NOT NULL, state bytea NOT NULL,
           PRIMARY KEY (namespace, entity))`,
        // Snapshots are compact already: storing them uncompressed saves
        // PostgreSQL compressing megabytes on every write.
        // (Altered only when needed: the ALTER takes the table's lock.)
        `DO $$ BEGIN
           IF (SELECT attstorage FROM pg_attribute WHERE attrelid = '${this.#table}'::regclass AND attname = 'state') <> 'e' THEN
             ALTER TABLE ${this.#table} ALTER COLUMN state SET STORAGE EXTERNAL;
           END IF;
         END $$`,
      ]) {
        try {
          await this.#query(statement, []);
        } catch (error) {
          // Another process created it between the check and the create.
          if (!["23505", "42P07"].includes(error?.code)) throw error;
        }
      }
    })().catch((error) => {
      this.#ready = undefined; // try again on the next call
      throw error;
    });
    return this.#ready;
  }
}

/** A function that runs one parameterised statement and answers its rows. */
function querier(client) {
  // postgres.js: `sql.unsafe(text, values)` is a promise of the rows.
  if (typeof client?.unsafe === "function") {
    return (text, values) => client.unsafe(text, values);
  }
  // pg: `query(text, values)` resolves `{ rows }`.
  if (typeof client?.query === "function") {
    return async (text, values) => (await client.query(text, values)).rows;
  }
  throw new TypeError("PostgresStore: pass a pg Client or Pool, or a postgres (postgres.js) sql function");
}
