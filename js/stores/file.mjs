// The directory store, the embedded default for Node: one file per entity
// (`<dir>/<namespace>/<entity>.entity`, names percent-encoded) holding its
// checkpoint, replaced atomically (write a temporary file, fsync, rename,
// fsync the directory), so a reader or a crash sees the old state or the
// new one, never a torn one; and beside it the entity's journal
// (`.journal`): the checkpoint's revision, then one record per delta
// (revision, length, bytes), appended and fsynced. A record cut short by a
// crash was never acknowledged: it is ignored, and cut off by the next
// append. A journal that names another checkpoint is one a compaction left
// behind: ignored too. A write holds a lock file beside the entity's file
// (js/stores/lock.mjs), so the revision check holds between processes on
// one machine; a lock left by a process that died is broken. A write the
// disk could not take whole (a full disk, a short write) fails, leaving the
// state it found and no temporary file. The bytes of both files, and how
// they are written, are js/stores/entity-files.mjs.

import { createHash } from "node:crypto";
import { closeSync, mkdirSync, watch as watchDir } from "node:fs";
import { open, readdir, readFile, unlink, writeFile } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";

import { checkMs, describe, orchestratorError } from "../errors.mjs";
import { appendAt, currentOf, entityFile, HEADER_MAX, JOURNAL, journalFile, newRevision, NO_JOURNAL, parseHeader, parseJournal, record, removeIfThere, replace } from "./entity-files.mjs";
import { breakIfAbandoned, releaseLock, takeLock } from "./lock.mjs";
import { missedFrom } from "./journal.mjs";
import { byName } from "./names.mjs";
import { Watchers } from "./watchers.mjs";

const SUFFIX = ".entity";

/**
 * Each directory's watchers in this process (every `FileStore` on it
 * shares them), with the paths this process wrote lately: the directory's
 * own watch (for other processes' writes) passes over those.
 */
const directories = new Map();

function watchersOf(dir) {
  const key = resolve(dir);
  let entry = directories.get(key);
  if (!entry) {
    // The revision this process last wrote to each entity's file ("" when
    // it deleted it): the directory's watch passes over a change that
    // left the entity as this process's own write did.
    const ours = new Map();
    // Another process's writes: the directory's watch says which file
    // changed; the entity is known from its file name (a hashed one from
    // the name kept beside it). Changes are told at most WATCH_BATCH_MS
    // after the file changed, each entity once per batch; a file that
    // names no entity this store can read makes listeners read everything.
    const open = (changed, broken) => {
      let timer = null;
      let pending = new Set();
      const flush = async () => {
        timer = null;
        const paths = pending;
        pending = new Set();
        const told = new Set();
        let everything = false;
        for (const path of paths) {
          const named = path === "" ? null : await entityOf(key, path);
          if (named === undefined || told.has(named?.key)) continue; // not an entity's file (a name kept beside one, an owner file), or told
          if (named === null) {
            everything = true;
            continue;
          }
          told.add(named.key);
          if (ours.has(named.key)) {
            let now;
            try {
              now = currentOf(join(key, named.key + SUFFIX))?.revision ?? "";
            } catch {
              // unreadable: told
            }
            if (now === ours.get(named.key)) continue; // as this process left it
          }
          changed(named.namespace, named.entity);
        }
        if (everything) changed(null, null);
      };
      const watcher = watchDir(key, { recursive: true, persistent: false }, (_, file) => {
        const path = file ? String(file) : "";
        if (/\.(tmp|lock)$/.test(path)) return; // the rename or append after it is the change
        pending.add(path);
        timer ??= setTimeout(() => flush().catch(broken), WATCH_BATCH_MS);
      });
      watcher.on("error", broken);
      return () => {
        clearTimeout(timer);
        watcher.close();
      };
    };
    entry = { watchers: new Watchers(open), ours, dir: key };
    directories.set(key, entry);
  }
  return entry;
}

/** How long another process's changes are gathered before they are told. */
const WATCH_BATCH_MS = 20;

/**
 * The entity whose checkpoint or journal is `path` (relative to `dir`):
 * `{ namespace, entity, key }`; `undefined` for a file that is not an
 * entity's; `null` for one whose name cannot be read.
 */
async function entityOf(dir, path) {
  const parts = path.split(sep);
  // A namespace's directory made or removed: read everything.
  if (parts.length === 1) return parts[0].startsWith(".") || parts[0].endsWith(NAME) ? undefined : null;
  if (parts.length !== 2) return undefined;
  const [ns, name] = parts;
  const file = name.endsWith(SUFFIX) ? name.slice(0, -SUFFIX.length) : name.endsWith(SUFFIX + JOURNAL) ? name.slice(0, -(SUFFIX + JOURNAL).length) : undefined;
  if (file === undefined) return undefined;
  const namespace = await nameOf(ns, join(dir, ns, NAME));
  const entity = namespace === null ? null : await nameOf(file, join(dir, ns, file + NAME));
  return entity === null ? null : { namespace, entity, key: path.slice(0, ns.length + 1 + file.length) };
}


/** A store in a directory (see `Store` in stores.d.ts). */
export class FileStore {
  #dir;
  #lockTimeoutMs;
  #warn;

  /**
   * Calls `listener(namespace, entity)` after each write to this directory
   * in this process, and after another process's (told by the directory's
   * watch, within about 20 ms; `listener(null, null)`, read everything
   * again, for a change it cannot name), until the answered function is called.
   * The directory must exist.
   */
  watch(listener) {
    return watchersOf(this.#dir).watchers.watch(listener);
  }

  /** Tells the directory's watchers that this process wrote `namespace/entity` (`revision`; `""`: deleted it). */
  #changed(namespace, entity, revision) {
    const { watchers, ours, dir } = watchersOf(this.#dir);
    const key = relative(dir, this.#file(namespace, entity)).slice(0, -SUFFIX.length);
    // Kept only while someone listens.
    if (watchers.listening) ours.set(key, revision);
    else ours.delete(key);
    watchers.changed(namespace, entity);
  }

  /**
   * @param {string} dir the directory (made on first write)
   * @param {{ lockTimeoutMs?: number }} [options] how long a write waits for
   *   another process's lock on the same entity (default 10 s)
   */
  constructor(dir, { lockTimeoutMs = 10_000, warn = (message) => console.warn(message) } = {}) {
    if (typeof dir !== "string" || dir === "") {
      throw orchestratorError("INVALID_ARGUMENT", `FileStore: dir must be a non-empty path, got ${describe(dir)}`);
    }
    if (typeof warn !== "function") throw orchestratorError("INVALID_ARGUMENT", `FileStore: warn must be a function, got ${describe(warn)}`);
    this.#dir = dir;
    this.#warn = warn;
    this.#lockTimeoutMs = checkMs("FileStore: lockTimeoutMs", lockTimeoutMs, 0);
  }

  async get(namespace, entity, known) {
    const path = this.#file(namespace, entity);
    let file;
    try {
      file = await open(path, "r");
    } catch (error) {
      if (error.code === "ENOENT") return undefined;
      throw error;
    }
    try {
      const { size } = await file.stat();
      const head = Buffer.alloc(Math.min(size, HEADER_MAX));
      await file.read(head, 0, head.length, 0);
      const { revision: base, start } = parseHeader(head, path);
      const journal = await readJournal(path, base);
      const revision = journal.records.at(-1)?.revision ?? base;
      if (revision === known) return { revision };
      const missed = missedFrom(known, base, journal.records.map((r) => r.revision));
      if (missed >= 0) return { revision, journal: journal.records.slice(missed).map((r) => view(r.bytes)) };
      const bytes = Buffer.alloc(size - start);
      await file.read(bytes, 0, bytes.length, start);
      return { revision, bytes: view(bytes), journal: journal.records.map((r) => view(r.bytes)) };
    } finally {
      await file.close();
    }
  }

  /** `deadline` (ms since the epoch): past it, the write gives up before it lands, having written nothing. */
  async put(namespace, entity, bytes, revision, { deadline = Infinity } = {}) {
    const path = this.#file(namespace, entity);
    await this.#makeNamespace(namespace);
    // A long name's file name is a hash: the name itself beside it, for
    // listings (written before the entity, so a listing never finds one
    // without the other).
    if (fileName(entity) !== encode(entity)) await writeName(`${join(dirname(path), fileName(entity))}${NAME}`, entity);
    const written = await this.#locked(path, deadline, async () => {
      if ((currentOf(path)?.revision ?? null) !== (revision ?? null)) return null;
      const next = newRevision();
      await replace(path, entityFile(next, bytes), () => beforeDeadline(deadline));
      // The old journal follows the old checkpoint: ignored from here on.
      removeIfThere(path + JOURNAL);
      return next;
    });
    if (written !== null) this.#changed(namespace, entity, written);
    return written;
  }

  async append(namespace, entity, delta, revision, { deadline = Infinity } = {}) {
    const path = this.#file(namespace, entity);
    const written = await this.#locked(path, deadline, async () => {
      const current = currentOf(path, { keepOpen: true });
      if (current === null) return null;
      const { base, journal, fd } = current;
      try {
        if (current.revision !== revision) return null;
        const next = newRevision();
        if (journal.end === 0) {
          // The checkpoint's first delta: a new journal, made whole before
          // it is in place.
          await replace(path + JOURNAL, journalFile(base, record(next, delta)), () => beforeDeadline(deadline));
        } else {
          beforeDeadline(deadline);
          await appendAt(fd, journal.end, journal.size, record(next, delta));
        }
        return next;
      } finally {
        if (fd !== null) closeSync(fd);
      }
    });
    if (written !== null) this.#changed(namespace, entity, written);
    return written;
  }

  async list() {
    const entities = [];
    let namespaces;
    try {
      namespaces = await readdir(this.#dir, { withFileTypes: true });
    } catch (error) {
      if (error.code === "ENOENT") return [];
      throw error;
    }
    // A file this store did not write (a name that does not decode, or
    // decodes to a name that would be another file) is skipped, and said,
    // rather than failing every listing.
    const stray = (path) => this.#warn(`FileStore: skipped ${path} in ${this.#dir}: not a file name this store writes`);
    for (const ns of namespaces.filter((d) => d.isDirectory())) {
      const namespace = await nameOf(ns.name, join(this.#dir, ns.name, NAME));
      if (namespace === null) {
        stray(`${ns.name}/`);
        continue;
      }
      for (const name of await readdir(join(this.#dir, ns.name))) {
        if (!name.endsWith(SUFFIX)) continue;
        const file = name.slice(0, -SUFFIX.length);
        const entity = await nameOf(file, join(this.#dir, ns.name, file + NAME));
        if (entity === null) stray(`${ns.name}/${name}`);
        else entities.push([namespace, entity]);
      }
    }
    return entities.sort(byName);
  }

  async delete(namespace, entity, { deadline = Infinity } = {}) {
    const path = this.#file(namespace, entity);
    try {
      const deleted = await this.#locked(path, deadline, async () => {
        beforeDeadline(deadline);
        await unlink(path);
        await unlink(path + JOURNAL).catch(() => {});
        await unlink(`${join(dirname(path), fileName(entity))}${NAME}`).catch(() => {});
        this.#changed(namespace, entity, "");
        return true;
      });
      return deleted ?? false; // no namespace directory: nothing to delete
    } catch (error) {
      if (error.code === "ENOENT") return false;
      throw error;
    }
  }

  /** The namespace's directory, made if it is not there (with its name inside when its directory name is a hash). */
  async #makeNamespace(namespace) {
    const dir = join(this.#dir, fileName(namespace));
    mkdirSync(dir, { recursive: true });
    if (fileName(namespace) !== encode(namespace)) await writeName(join(dir, NAME), namespace);
  }

  #file(namespace, entity) {
    return join(this.#dir, fileName(namespace), fileName(entity) + SUFFIX);
  }

  /**
   * Runs `work` holding the entity's lock file, waited for until
   * `lockTimeoutMs` or `deadline`, whichever is first; answers `null`
   * without running it when the entity's namespace has no directory (no
   * entity to change).
   */
  async #locked(path, deadline, work) {
    const lock = `${path}.lock`;
    const giveUp = Math.min(Date.now() + this.#lockTimeoutMs, deadline);
    for (let wait = 2; ; wait = Math.min(wait * 2, 50)) {
      let taken;
      try {
        taken = await takeLock(lock);
      } catch (error) {
        if (error.code === "ENOENT") return null;
        throw error;
      }
      if (taken) break;
      await breakIfAbandoned(lock);
      if (Date.now() > giveUp) {
        const why = giveUp === deadline ? "by the call's deadline" : `after ${this.#lockTimeoutMs} ms`;
        throw new Error(`the lock ${lock} is still held ${why}; nothing was written`);
      }
      await new Promise((resolve) => setTimeout(resolve, Math.max(1, Math.min(wait, giveUp - Date.now()))));
    }
    try {
      return await work();
    } finally {
      releaseLock(lock);
    }
  }
}

/** The journal of the checkpoint with revision `base` (see entity-files.mjs), read without blocking. */
async function readJournal(path, base) {
  try {
    return parseJournal(await readFile(path + JOURNAL), path + JOURNAL, base);
  } catch (error) {
    if (error.code === "ENOENT") return NO_JOURNAL;
    throw error;
  }
}

/** Throws, before a write lands, once `deadline` has passed: the caller has given up on it. */
function beforeDeadline(deadline) {
  if (Date.now() > deadline) throw new Error("the call's deadline passed before the write landed; nothing was written");
}

/** A Buffer as a Uint8Array, without a copy. */
const view = (b) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

/** A name as a file name: percent-encoded, dots too (no "." or ".."). */
const encode = (name) => encodeURIComponent(name).replace(/\./g, "%2E").replace(/\*/g, "%2A");

/** The longest encoded name kept as a file name; a longer one is hashed (every name the engine makes fits either way). */
const MAX_ENCODED = 120;
/** Beside a hashed file name, the name itself. */
const NAME = ".name";
/** A hashed file name starts with "%%", which no encoded name holds. */
const HASHED = "%%";

/**
 * A name's file name: encoded, or for a name whose encoding is too long
 * for a file name with the suffixes this store adds (a 200-byte name of
 * non-ASCII characters encodes to 600), "%%" and a hash of it.
 */
function fileName(name) {
  const encoded = encode(name);
  return encoded.length <= MAX_ENCODED ? encoded : HASHED + createHash("sha256").update(name).digest("hex").slice(0, 40);
}

/** Writes the name kept beside a hashed file name, once. */
async function writeName(path, name) {
  await writeFile(path, name, { flag: "wx" }).catch((error) => {
    if (error.code !== "EEXIST") throw error;
  });
}

/** The name a file name stands for: decoded, or for a hashed one, read from `namePath`; `null` if neither. */
async function nameOf(file, namePath) {
  if (!file.startsWith(HASHED)) return decode(file);
  const name = await readFile(namePath, "utf8").catch(() => null);
  return name !== null && fileName(name) === file ? name : null;
}
/** The name `file` was encoded from; `null` if no name is (`stray%zz`, or `a%41`, which `aA` is not written as). */
function decode(file) {
  try {
    const name = decodeURIComponent(file);
    return encode(name) === file ? name : null;
  } catch {
    return null;
  }
}
