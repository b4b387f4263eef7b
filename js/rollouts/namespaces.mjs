// A namespace's own records in a Rollouts store, beside its entities: its
// settings (freezes, a stopped line: the snapshot of an engine holding them
// and no entity) and its subscriptions (JSON). Each is written as an
// entity is, one compare-and-swap at a time, and read by every write of the
// namespace's entities through a short cache (`cacheMs`): a stopped line
// holds every process's steps within it.
import { Orchestrator } from "orchestrator-engine";

import { orchestratorError } from "../errors.mjs";
import { NAMESPACE_NOTIFICATIONS, NAMESPACE_RECORD, entityKey as keyOf } from "../stores/names.mjs";

/** A record of JSON. */
export const JSON_RECORD = { encode: (value) => new TextEncoder().encode(JSON.stringify(value)), decode: (bytes) => JSON.parse(new TextDecoder().decode(bytes)) };

export class NamespaceRecords {
  #store;
  #call;
  #queued;
  #retries;
  #pause;
  #now;
  #cacheMs;
  #most;
  #readFrom;
  /** Each record as last read or written: `{ bytes, at }` (`bytes` undefined: none). */
  #cache = new Map();

  /**
   * @param {object} options
   * @param {object} options.store the Rollouts store
   * @param {Function} options.call one store call, bounded in time (Rollouts' `#call`)
   * @param {Function} options.queued runs calls under one key one at a time (Rollouts' `#queued`)
   * @param {number} options.retries attempts after a conflict
   * @param {(attempt: number) => Promise<void>} options.pause the wait after a conflict
   * @param {Function} [options.now] the engines' clock
   * @param {number} options.cacheMs how long a read record serves writes
   * @param {number} options.most the most records kept in the cache
   * @param {Function} [options.readNamespace] where writes read a record kept in another store
   */
  constructor({ store, call, queued, retries, pause, now, cacheMs, most, readNamespace }) {
    this.#store = store;
    this.#call = call;
    this.#queued = queued;
    this.#retries = retries;
    this.#pause = pause;
    this.#now = now;
    this.#cacheMs = cacheMs;
    this.#most = most;
    this.#readFrom = readNamespace ?? (async (namespace, record = NAMESPACE_RECORD) => (await store.get(namespace, record))?.bytes);
  }

  /** Runs `read` on an engine holding the namespace's settings as stored. */
  async read(namespace, read) {
    const stored = await this.#call("read a namespace", () => this.#store.get(namespace, NAMESPACE_RECORD));
    const engine = this.#engine(namespace, stored?.bytes);
    try {
      return read(engine);
    } finally {
      engine.free();
    }
  }

  /** The namespace's record `record` of JSON as stored (`undefined`: none). */
  async readJson(namespace, record) {
    const stored = await this.#call("read a namespace", () => this.#store.get(namespace, record));
    return stored?.bytes ? JSON_RECORD.decode(stored.bytes) : undefined;
  }

  /**
   * Applies `change` to the namespace's settings (an engine holding them,
   * as `actor`) or, with `json`, to its record of JSON (`change` answers
   * its next value), as one atomic read-modify-write of the record
   * (compare-and-swap, retried on a conflict); `false` from it saves
   * nothing.
   */
  write(namespace, change, { actor = null, record = NAMESPACE_RECORD, json = false } = {}) {
    return this.#queued(keyOf(namespace, record), async () => {
      for (let attempt = 0; attempt <= this.#retries; attempt++) {
        const stored = await this.#call("read a namespace", () => this.#store.get(namespace, record));
        let result, bytes;
        if (json) {
          result = change(stored?.bytes ? JSON_RECORD.decode(stored.bytes) : undefined);
          if (result === false) return result;
          bytes = JSON_RECORD.encode(result);
          result = true;
        } else {
          const engine = this.#engine(namespace, stored?.bytes);
          try {
            engine.setActor(actor);
            result = change(engine);
            engine.setActor(null);
            if (result === false) return result;
            bytes = engine.snapshot();
          } finally {
            engine.free();
          }
        }
        const revision = stored ? String(stored.revision) : null;
        const saved = await this.#call("save a namespace", (limit) => this.#store.put(namespace, record, bytes, revision, limit), { write: true });
        if (saved !== null && saved !== undefined) {
          this.#cache.set(keyOf(namespace, record), { bytes, at: Date.now() });
          return result;
        }
        if (attempt < this.#retries) await this.#pause(attempt);
      }
      throw orchestratorError("CONFLICT", `namespace ${namespace}'s settings kept changing under this call (${this.#retries + 1} attempts); try again`);
    });
  }

  /**
   * The namespace's record `record` (its settings, or its subscriptions)
   * for a write: as last read within `cacheMs`, or read now (`null`:
   * unreadable now).
   */
  async bytes(namespace, record = NAMESPACE_RECORD) {
    const key = keyOf(namespace, record);
    const known = this.#cache.get(key);
    if (known !== undefined && Date.now() - known.at < this.#cacheMs) return known.bytes;
    try {
      const bytes = (await this.#call("read a namespace", () => this.#readFrom(namespace, record))) ?? undefined;
      this.#cache.set(key, { bytes, at: Date.now() });
      if (this.#cache.size > this.#most) this.#cache.delete(this.#cache.keys().next().value);
      return bytes;
    } catch {
      return null;
    }
  }

  /** The namespace's subscriptions, for a write's notifications (`[]`: none, or unreadable now). */
  async subscriptions(namespace) {
    const bytes = await this.bytes(namespace, NAMESPACE_NOTIFICATIONS);
    try {
      return bytes ? JSON_RECORD.decode(bytes).subscriptions : [];
    } catch {
      return [];
    }
  }

  /** Forgets the cached copy of a record another process changed. */
  forget(namespace, record) {
    this.#cache.delete(keyOf(namespace, record));
  }

  /** An engine holding the namespace's settings (`bytes`: its record), and nothing else. */
  #engine(namespace, bytes) {
    const options = this.#now === undefined ? undefined : { now: this.#now };
    if (!bytes) return new Orchestrator(options);
    try {
      return Orchestrator.restore(bytes, options);
    } catch (error) {
      throw orchestratorError("INVALID_SNAPSHOT", `the stored settings of namespace ${namespace} are unreadable: ${error.message}`, error);
    }
  }
}
