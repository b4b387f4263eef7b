// The in-memory store: for tests, browsers, and one-process tools. It keeps
// its own copy of every value, so a caller that changes its bytes later
// changes nothing stored.

import { missedFrom } from "./journal.mjs";
import { byName, entityKey } from "./names.mjs";
import { Watchers } from "./watchers.mjs";

let next = 0;

/** A store in this process's memory (see `Store` in stores.d.ts). */
export class MemoryStore {
  #entities = new Map();
  #watchers = new Watchers();

  /** Calls `listener(namespace, entity)` after each write until the answered function is called. */
  watch(listener) {
    return this.#watchers.watch(listener);
  }

  async get(namespace, entity, known) {
    const stored = this.#entities.get(entityKey(namespace, entity));
    if (stored === undefined) return undefined;
    if (stored.revision === known) return { revision: stored.revision };
    const missed = missedFrom(known, stored.base, stored.revisions);
    if (missed >= 0) return { revision: stored.revision, journal: stored.journal.slice(missed).map((delta) => delta.slice()) };
    return { revision: stored.revision, bytes: stored.bytes.slice(), journal: stored.journal.map((delta) => delta.slice()) };
  }

  async put(namespace, entity, bytes, revision) {
    const k = entityKey(namespace, entity);
    const current = this.#entities.get(k)?.revision ?? null;
    if (current !== revision) return null;
    next += 1;
    const stored = { namespace, entity, revision: String(next), base: String(next), bytes: Uint8Array.from(bytes), journal: [], revisions: [] };
    this.#entities.set(k, stored);
    this.#watchers.changed(namespace, entity);
    return stored.revision;
  }

  async append(namespace, entity, delta, revision) {
    const stored = this.#entities.get(entityKey(namespace, entity));
    if (stored === undefined || stored.revision !== revision) return null;
    next += 1;
    stored.journal.push(Uint8Array.from(delta));
    stored.revision = String(next);
    stored.revisions.push(stored.revision);
    this.#watchers.changed(namespace, entity);
    return stored.revision;
  }

  async list() {
    return [...this.#entities.values()].map((s) => [s.namespace, s.entity]).sort(byName);
  }

  async delete(namespace, entity) {
    const deleted = this.#entities.delete(entityKey(namespace, entity));
    if (deleted) this.#watchers.changed(namespace, entity);
    return deleted;
  }
}
