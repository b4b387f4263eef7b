// The file store's two files per entity, as bytes on disk:
//
//   <entity>.entity    "ORCHREV1", the revision's length (1 byte), the
//                      revision, then the checkpoint's bytes
//   <entity>.entity.journal
//                      "ORCHJRN1", the checkpoint revision it follows
//                      (length byte, bytes), then one record per delta:
//                      its revision (length byte, bytes), its length
//                      (u32 LE), its bytes
//
// A checkpoint (and a journal's first record) is written to a temporary
// file, synced and renamed into place, and the directory synced; a record
// is appended to the journal and data-synced.
//
// The calls a write makes under its lock (open, a read of a header or a
// journal, a write to the page cache, rename, close) are synchronous
// system calls: on a local disk each takes microseconds, less than the
// round trip through libuv's thread pool that would carry it, and fewer
// promises and handles mean less garbage for a busy server. The calls
// that wait for the disk (fsync, fdatasync) go through the thread pool, so
// the event loop runs while the disk works. The bytes read are those the
// engine is about to step through synchronously anyway: the journal is
// never larger than the checkpoint it follows.

import { randomBytes } from "node:crypto";
import { closeSync, fdatasync, fstatSync, fsync, ftruncateSync, openSync, readSync, renameSync, unlinkSync, writevSync } from "node:fs";
import { dirname } from "node:path";
import { promisify } from "node:util";

const MAGIC = Buffer.from("ORCHREV1");
const JOURNAL_MAGIC = Buffer.from("ORCHJRN1");
export const JOURNAL = ".journal";
/** The longest header: the magic, a length byte, a revision of up to 255 bytes. */
export const HEADER_MAX = MAGIC.length + 1 + 255;

const syncFile = promisify(fsync);
const syncData = promisify(fdatasync);

/** A new revision: 64 random bits, in hex. */
export const newRevision = () => randomBytes(8).toString("hex");

/** Thrown for a file this store did not write, or one damaged since. */
const corrupt = (message) => Object.assign(new Error(message), { corrupt: true });

/**
 * The header of an entity file whose first bytes are `head`: its revision
 * and where its checkpoint starts.
 */
export function parseHeader(head, path) {
  const start = MAGIC.length + 1 + (head[MAGIC.length] ?? 0);
  if (head.length <= MAGIC.length || head.length < start || !head.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw corrupt(`${path} is not an entity file of this store`);
  }
  return { revision: head.subarray(MAGIC.length + 1, start).toString(), start };
}

/** No journal: none there, or one that follows another checkpoint. */
export const NO_JOURNAL = Object.freeze({ records: Object.freeze([]), end: 0, size: 0 });

/**
 * The journal `data` (of `path`) as it follows the checkpoint at revision
 * `base`: its whole records, where they end and the file's size (0 and 0:
 * it follows another checkpoint, one a compaction left behind). A record
 * cut short (a crash while it was appended) ends the records: it was never
 * acknowledged.
 */
export function parseJournal(data, path, base) {
  const baseEnd = JOURNAL_MAGIC.length + 1 + (data[JOURNAL_MAGIC.length] ?? 0);
  if (data.length < baseEnd || !data.subarray(0, JOURNAL_MAGIC.length).equals(JOURNAL_MAGIC)) {
    // Written whole and renamed into place: anything else is damage.
    throw corrupt(`${path} is not a journal of this store`);
  }
  if (data.subarray(JOURNAL_MAGIC.length + 1, baseEnd).toString() !== base) return NO_JOURNAL;
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

/** `path` opened with `flags`, or `null` when it is not there. */
function openIfThere(path, flags = "r") {
  try {
    return openSync(path, flags);
  } catch (error) {
    if (error.code === "ENOENT") return null;
    throw error;
  }
}

/** The revision in the header of the entity file `path`; `null` when there is none. */
function checkpointRevision(path) {
  const fd = openIfThere(path);
  if (fd === null) return null;
  try {
    const head = Buffer.allocUnsafe(HEADER_MAX);
    return parseHeader(head.subarray(0, readSync(fd, head, 0, HEADER_MAX, 0)), path).revision;
  } finally {
    closeSync(fd);
  }
}

/** Every byte of the open file `fd`. */
function readAll(fd) {
  const { size } = fstatSync(fd);
  const data = Buffer.allocUnsafe(size);
  let at = 0;
  while (at < size) {
    const read = readSync(fd, data, at, size - at, at);
    if (read === 0) break; // cut shorter since the stat
    at += read;
  }
  return data.subarray(0, at);
}

/**
 * The entity at `path` as it is now: its checkpoint's revision, its
 * journal, and its revision; `null` when there is none. With `keepOpen`,
 * the journal is answered open for reading and writing as `fd` (`null`:
 * there is no journal file), for the caller to close.
 */
export function currentOf(path, { keepOpen = false } = {}) {
  const base = checkpointRevision(path);
  if (base === null) return null;
  const fd = openIfThere(path + JOURNAL, keepOpen ? "r+" : "r");
  let journal = NO_JOURNAL;
  try {
    if (fd !== null) journal = parseJournal(readAll(fd), path + JOURNAL, base);
  } catch (error) {
    closeSync(fd);
    throw error;
  }
  if (fd !== null && !keepOpen) closeSync(fd);
  return { base, journal, revision: journal.records.at(-1)?.revision ?? base, fd: keepOpen ? fd : undefined };
}

/** A revision as the files hold it: its length (1 byte), then its bytes. */
function tagged(revision) {
  const bytes = Buffer.from(revision);
  return [Buffer.from([bytes.length]), bytes];
}

/** A journal record: the delta `bytes` appended at `revision`. */
export const record = (revision, bytes) => [...tagged(revision), u32(bytes.byteLength), bytes];

/** A new journal following the checkpoint at `base`, holding `records` (arrays of parts). */
export const journalFile = (base, ...records) => [JOURNAL_MAGIC, ...tagged(base), ...records.flat()];

/** An entity file: the checkpoint `bytes` at `revision`. */
export const entityFile = (revision, bytes) => [MAGIC, ...tagged(revision), bytes];

/**
 * Appends `parts` at `end` of the open journal `fd` (cutting off first
 * whatever follows `end`: a record never acknowledged) and waits for them
 * to be on disk. If any of it fails (a full disk), the journal is cut back
 * to `end`.
 */
export async function appendAt(fd, end, size, parts) {
  if (end < size) ftruncateSync(fd, end);
  try {
    writeAll(fd, parts, end);
    await syncData(fd);
  } catch (error) {
    // A record the disk could not take is cut off now, not left for the
    // next append to find.
    try {
      ftruncateSync(fd, end);
    } catch {
      // the next append cuts it off
    }
    throw error;
  }
}

/**
 * Writes `parts` to `path` atomically: a temporary file, fsync, rename,
 * fsync the directory. If any of it fails (a full disk), `path` is as it
 * was and the temporary file is gone. `beforeRename()` may throw to give
 * up before the write lands.
 */
export async function replace(path, parts, beforeRename = () => {}) {
  const temporary = `${path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  let fd = null;
  try {
    fd = openSync(temporary, "wx");
    writeAll(fd, parts, 0);
    await syncFile(fd);
    closeSync(fd);
    fd = null;
    beforeRename(); // the rename is where the write lands
    renameSync(temporary, path);
  } catch (error) {
    if (fd !== null) closeSync(fd);
    removeIfThere(temporary);
    throw error;
  }
  await syncDirectory(dirname(path));
}

/** Removes `path`, if it is there. */
export function removeIfThere(path) {
  try {
    unlinkSync(path);
  } catch {
    // not there (or not ours to remove): nothing to undo
  }
}

async function syncDirectory(dir) {
  const fd = openSync(dir, "r");
  try {
    await syncFile(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes every byte of `parts` to `fd` from `position`: `writev` may write
 * fewer than asked (a nearly full disk) and say so only in its count.
 */
function writeAll(fd, parts, position) {
  let rest = parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength)).filter((b) => b.length > 0);
  while (rest.length > 0) {
    const bytesWritten = writevSync(fd, rest, position);
    if (bytesWritten === 0) throw Object.assign(new Error("the disk took none of the bytes written (no space left?)"), { code: "ENOSPC" });
    position += bytesWritten;
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

function u32(n) {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}
