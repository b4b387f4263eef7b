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
// state it found and no temporary file.

import { createHash, randomBytes } from "node:crypto";
import { watch as watchDir } from "node:fs";
import { mkdir, open, readdir, readFile, rename, truncate, unlink, writeFile } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";

import { checkMs, describe, orchestratorError } from "../errors.mjs";
import { breakIfAbandoned, takeLock } from "./lock.mjs";
import { missedFrom } from "./journal.mjs";
import { byName } from "./names.mjs";
import { Watchers } from "./watchers.mjs";

const MAGIC = Buffer.from("ORCHREV1");
const JOURNAL_MAGIC = Buffer.from("ORCHJRN1");
const SUFFIX = ".entity";
const JOURNAL = ".journal";

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
            const now = await currentOf(join(key, named.key + SUFFIX)).then((c) => c?.revision ?? "", () => undefined);
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
    const file = await openIfThere(path);
    if (file === null) return undefined;
    try {
      const { revision: base, start, size } = await readHeader(file, path);
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
      const current = await currentOf(path);
      if ((current?.revision ?? null) !== (revision ?? null)) return null;
      const next = newRevision();
      const tag = Buffer.from(next);
      await replace(path, [MAGIC, Buffer.from([tag.length]), tag, bytes], deadline);
      // The old journal names the old checkpoint: ignored from here on.
      await unlink(path + JOURNAL).catch(() => {});
      return next;
    });
    if (written !== null) this.#changed(namespace, entity, written);
    return written;
  }

  async append(namespace, entity, delta, revision, { deadline = Infinity } = {}) {
    const path = this.#file(namespace, entity);
    const written = await this.#locked(path, deadline, async () => {
      const current = await currentOf(path);
      if (current === null || current.revision !== revision) return null;
      const next = newRevision();
      const record = [Buffer.from([next.length]), Buffer.from(next), u32(delta.byteLength), delta];
      if (current.journal.end === 0) {
        // The checkpoint's first delta: a new journal, made whole before
        // it is in place.
        const base = Buffer.from(current.base);
        await replace(path + JOURNAL, [JOURNAL_MAGIC, Buffer.from([base.length]), base, ...record], deadline);
        return next;
      }
      beforeDeadline(deadline);
      // Whatever follows the last whole record was never acknowledged.
      if (current.journal.end < current.journal.size) await truncate(path + JOURNAL, current.journal.end);
      const file = await open(path + JOURNAL, "a");
      try {
        await writeAll(file, record);
        await file.datasync();
      } catch (error) {
        // A record the disk could not take is cut off now, not left for
        // the next append to find.
        await truncate(path + JOURNAL, current.journal.end).catch(() => {});
        throw error;
      } finally {
        await file.close();
      }
      return next;
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
    await mkdir(dir, { recursive: true });
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
      await unlink(lock).catch(() => {});
    }
  }
}

/** The entity's checkpoint revision, its journal, and its revision; `null` when there is none. */
async function currentOf(path) {
  const file = await openIfThere(path);
  if (file === null) return null;
  let base;
  try {
    base = (await readHeader(file, path)).revision;
  } finally {
    await file.close();
  }
  const journal = await readJournal(path, base);
  return { base, journal, revision: journal.records.at(-1)?.revision ?? base };
}

/**
 * The journal of the checkpoint with revision `base`: its whole records,
 * where they end and the file's size (0 and 0: none, or one another
 * checkpoint left behind).
 */
async function readJournal(path, base) {
  const none = { records: [], end: 0, size: 0 };
  let data;
  try {
    data = await readFile(path + JOURNAL);
  } catch (error) {
    if (error.code === "ENOENT") return none;
    throw error;
  }
  const baseEnd = JOURNAL_MAGIC.length + 1 + (data[JOURNAL_MAGIC.length] ?? 0);
  if (data.length < baseEnd || !data.subarray(0, JOURNAL_MAGIC.length).equals(JOURNAL_MAGIC)) {
    // Written whole and renamed into place: anything else is damage.
    throw Object.assign(new Error(`${path + JOURNAL} is not a journal of this store`), { corrupt: true });
  }
  if (data.subarray(JOURNAL_MAGIC.length + 1, baseEnd).toString() !== base) return none;
  const records = [];
  let at = baseEnd;
  for (;;) {
    const tagEnd = at + 1 + (data[at] ?? 0);
    if (tagEnd + 4 > data.length) break;
    const length = data.readUInt32LE(tagEnd);
    if (tagEnd + 4 + length > data.length) break;
    records.push({ revision: data.subarray(at + 1, tagEnd).toString(), bytes: data.subarray(tagEnd + 4, tagEnd + 4 + length) });
    at = tagEnd + 4 + length;
  }
  return { records, end: at, size: data.length };
}

/**
 * Writes `parts` to `path` atomically: a temporary file, fsync, rename,
 * fsync the directory. If any of it fails (a full disk), `path` is as it
 * was and the temporary file is gone.
 */
async function replace(path, parts, deadline = Infinity) {
  const temporary = `${path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  try {
    const file = await open(temporary, "wx");
    try {
      await writeAll(file, parts);
      await file.sync();
    } finally {
      await file.close();
    }
    beforeDeadline(deadline); // the rename is where the write lands
    await rename(temporary, path);
  } catch (error) {
    await unlink(temporary).catch(() => {});
    throw error;
  }
  await syncDirectory(dirname(path));
}

/** Throws, before a write lands, once `deadline` has passed: the caller has given up on it. */
function beforeDeadline(deadline) {
  if (Date.now() > deadline) throw new Error("the call's deadline passed before the write landed; nothing was written");
}

/**
 * Writes every byte of `parts` at the file's position: `writev` may write
 * fewer than asked (a nearly full disk) and say so only in its count.
 */
async function writeAll(file, parts) {
  let rest = parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength)).filter((b) => b.length > 0);
  while (rest.length > 0) {
    const { bytesWritten } = await file.writev(rest);
    if (bytesWritten === 0) throw Object.assign(new Error("the disk took none of the bytes written (no space left?)"), { code: "ENOSPC" });
    let written = bytesWritten;
    while (written > 0 && rest.length > 0) {
      if (rest[0].length <= written) {
        written -= rest[0].length;
        rest.shift();
      } else {
        rest[0] = rest[0].subarray(written);
        written = 0;
      }
    }
  }
}

const newRevision = () => randomBytes(8).toString("hex");

const u32 = (n) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};

/** A Buffer as a Uint8Array, without a copy. */
const view = (b) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

/** An entity's file open for reading, or `null` when there is none. */
async function openIfThere(path) {
  try {
    return await open(path, "r");
  } catch (error) {
    if (error.code === "ENOENT") return null;
    throw error;
  }
}

/** The revision in an open entity file's header, where its state starts, and the file's size. */
async function readHeader(file, path) {
  const { size } = await file.stat();
  const head = Buffer.alloc(Math.min(size, MAGIC.length + 1 + 255));
  await file.read(head, 0, head.length, 0);
  const start = MAGIC.length + 1 + (head[MAGIC.length] ?? 0);
  if (head.length <= MAGIC.length || head.length < start || !head.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw Object.assign(new Error(`${path} is not an entity file of this store`), { corrupt: true });
  }
  return { revision: head.subarray(MAGIC.length + 1, start).toString(), start, size };
}

async function syncDirectory(dir) {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

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
