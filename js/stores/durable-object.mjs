// The store of one Cloudflare Durable Object: the entity that lives in the
// object, kept in the object's own storage. A value there holds at most
// 128 KiB, so an entity's checkpoint and each delta are split into chunks
// under their own keys; every write (the new chunks, the record that names
// them, and the removal of the old ones) is one storage transaction, and
// checks the revision inside it (compare-and-swap), so a write is whole or
// not at all, even when the object's requests interleave (a step awaits
// its hooks' HTTP calls).
//
//   meta          { namespace, entity, revision, checkpoint: chunks, journal: [chunks, ...] }
//   c<rev>:<i>    the checkpoint written at revision <rev>, chunk i
//   j<rev>:<i>    the delta appended at revision <rev>, chunk i

import { missedFrom } from "./journal.mjs";
import { Watchers } from "./watchers.mjs";

/** Under the storage's 128 KiB per value, with room for the key and framing. */
export const CHUNK_BYTES = 120 * 1024;

/** A `Store` (see stores.d.ts) over a Durable Object's `state.storage`, for the one entity it holds. */
export class DurableObjectStore {
  #storage;
  /** The object is the only writer of its entity: its own writes are every change. */
  #watchers = new Watchers();

  /** Calls `listener(namespace, entity)` after each write until the answered function is called. */
  watch(listener) {
    return this.#watchers.watch(listener);
  }

  /** `written` (a write's answer), after telling the watchers when it changed anything. */
  #told(written, namespace, entity) {
    if (written !== null && written !== false) this.#watchers.changed(namespace, entity);
    return written;
  }

  /** @param {DurableObjectStorage} storage the object's `state.storage` */
  constructor(storage) {
    this.#storage = storage;
  }

  async get(namespace, entity, known) {
    const meta = await this.#meta(namespace, entity);
    if (meta === undefined) return undefined;
    if (meta.revision === known) return { revision: meta.revision };
    // A chunk's key names the revision it was written at.
    const revisionOf = (keys) => /^[cj](\d+):/.exec(keys[0] ?? "")?.[1];
    const missed = missedFrom(known, revisionOf(meta.checkpoint), meta.journal.map(revisionOf));
    const journal = [];
    for (const delta of meta.journal.slice(Math.max(0, missed))) journal.push(await this.#read(delta));
    if (missed >= 0) return { revision: meta.revision, journal };
    return { revision: meta.revision, bytes: await this.#read(meta.checkpoint), journal };
  }

  async put(namespace, entity, bytes, revision) {
    return this.#told(await this.#put(namespace, entity, bytes, revision), namespace, entity);
  }

  async append(namespace, entity, delta, revision) {
    return this.#told(await this.#append(namespace, entity, delta, revision), namespace, entity);
  }

  #put(namespace, entity, bytes, revision) {
    return this.#storage.transaction(async (txn) => {
      const meta = await txn.get("meta");
      if ((meta?.revision ?? null) !== revision) return null;
      const next = String(Number(meta?.revision ?? 0) + 1);
      const checkpoint = chunked(`c${next}:`, bytes);
      await putAll(txn, checkpoint.entries);
      await txn.put("meta", { namespace, entity, revision: next, checkpoint: checkpoint.keys, journal: [] });
      if (meta) {
        const old = [...meta.checkpoint, ...meta.journal.flat()];
        for (let i = 0; i < old.length; i += 128) await txn.delete(old.slice(i, i + 128));
      }
      return next;
    });
  }

  #append(namespace, entity, delta, revision) {
    return this.#storage.transaction(async (txn) => {
      const meta = await txn.get("meta");
      if (meta === undefined || meta.revision !== revision) return null;
      const next = String(Number(meta.revision) + 1);
      const written = chunked(`j${next}:`, delta);
      await putAll(txn, written.entries);
      await txn.put("meta", { ...meta, revision: next, journal: [...meta.journal, written.keys] });
      return next;
    });
  }

  async list() {
    const meta = await this.#storage.get("meta");
    return meta === undefined ? [] : [[meta.namespace, meta.entity]];
  }

  async delete(namespace, entity) {
    const meta = await this.#meta(namespace, entity);
    if (meta === undefined) return false;
    await this.#storage.deleteAll();
    return this.#told(true, namespace, entity);
  }

  /** The record of `namespace/entity`, if this object holds it. */
  async #meta(namespace, entity) {
    const meta = await this.#storage.get("meta");
    if (meta === undefined || meta.namespace !== namespace || meta.entity !== entity) return undefined;
    return meta;
  }

  /** The bytes stored under `keys`, in order. */
  async #read(keys) {
    const parts = [];
    // The storage reads at most 128 keys at once.
    for (let i = 0; i < keys.length; i += 128) {
      const got = await this.#storage.get(keys.slice(i, i + 128));
      for (const key of keys.slice(i, i + 128)) {
        const part = got.get(key);
        if (part === undefined) throw Object.assign(new Error(`chunk ${key} of the stored entity is missing`), { corrupt: true });
        parts.push(new Uint8Array(part));
      }
    }
    const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const part of parts) {
      bytes.set(part, at);
      at += part.length;
    }
    return bytes;
  }
}

/** Writes `entries` in the storage's batches of at most 128 keys (all in the caller's transaction). */
async function putAll(txn, entries) {
  for (let i = 0; i < entries.length; i += 128) await txn.put(Object.fromEntries(entries.slice(i, i + 128)));
}

/** `bytes` as chunks under keys `prefix0`, `prefix1`, ... */
function chunked(prefix, bytes) {
  const keys = [];
  const entries = [];
  for (let i = 0, at = 0; at < bytes.length || i === 0; i++, at += CHUNK_BYTES) {
    const key = `${prefix}${i}`;
    keys.push(key);
    entries.push([key, bytes.slice(at, at + CHUNK_BYTES)]);
  }
  return { keys, entries };
}
