// The file store's lock: one lock file per entity, between processes on
// one machine. A lock file is linked into place whole with its owner in it
// (so it never exists without one), and its owner is more than a pid: a
// pid is reused (a server that is PID 1 in a container and restarts after
// kill -9 gets PID 1 again), so the owner also names when its process
// started and which boot it ran in, where the system says (Linux's /proc).
// A lock whose owner is not running is broken; so are the temporary files
// such an owner left.

import { randomBytes } from "node:crypto";
import { linkSync, readFileSync, rmSync, unlinkSync } from "node:fs";
import { readdir, readFile, stat, unlink, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/** No writer takes this long between creating a lock and writing its owner (locks of older versions). */
const EMPTY_LOCK_ABANDONED_MS = 5000;

/** When process `pid` started, in clock ticks since boot (Linux), or `null` where that cannot be known. */
function startOf(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command may hold spaces and parentheses: the fields after it follow the last ")".
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? null;
  } catch {
    return null;
  }
}

const boot = (() => {
  try {
    return readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  } catch {
    return null;
  }
})();

/** This process as a lock's owner: `pid start boot` (the last two where known), read once per process (a fork is another pid). */
let owner = null;
export const me = () => {
  if (owner === null || !owner.startsWith(`${process.pid} `)) owner = [process.pid, startOf(process.pid) ?? "-", boot ?? "-"].join(" ");
  return owner;
};

/** Whether the owner written in a lock is a running process: the same pid, started at the same time, in this boot. */
function running(owner) {
  const [pidText, start = "-", bootId = "-"] = owner.split(" ");
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (bootId !== "-" && boot !== null && bootId !== boot) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    if (error.code !== "EPERM") return false;
  }
  return start === "-" || startOf(pid) === null || startOf(pid) === start;
}

/** The owner in a lock file; `EMPTY` for an empty one old enough to be abandoned; `null` for none (or one being written). */
const EMPTY = Symbol("empty lock");
async function ownerOf(path) {
  const text = await readFile(path, "utf8").catch(() => null);
  if (text === "") {
    const age = await stat(path).then((s) => Date.now() - s.mtimeMs, () => 0);
    return age > EMPTY_LOCK_ABANDONED_MS ? EMPTY : null;
  }
  return text;
}

/**
 * This process's owner file in each directory, written once and linked
 * into place as each lock there: one call per lock taken instead of
 * writing the owner anew. Removed when the process exits; a dead
 * process's is removed by the next process to make its own there.
 */
const owners = new Map();
const made = [];
const OWNER_FILE = /^\.owner\.\d+\.[0-9a-f]+$/;

function ownerFile(dir) {
  let file = owners.get(dir);
  if (file === undefined) {
    // The promise is kept, so locks taken at once in a new directory share one file.
    file = makeOwnerFile(dir);
    owners.set(dir, file);
    file.catch(() => owners.delete(dir));
  }
  return file;
}

async function makeOwnerFile(dir) {
  await removeDeadOwners(dir);
  const path = join(dir, `.owner.${process.pid}.${randomBytes(4).toString("hex")}`);
  try {
    await writeFile(path, me());
  } catch (error) {
    await unlink(path).catch(() => {}); // a full disk: nothing half-written left behind
    throw error;
  }
  if (made.length === 0) process.once("exit", () => made.forEach((file) => rmSync(file, { force: true })));
  made.push(path);
  return path;
}

/** Removes the owner files of processes that are not running from `dir`. */
async function removeDeadOwners(dir) {
  const names = await readdir(dir).catch(() => []);
  for (const name of names.filter((n) => OWNER_FILE.test(n))) {
    const owner = await readFile(join(dir, name), "utf8").catch(() => null);
    if (owner !== null && owner !== "" && !running(owner)) await unlink(join(dir, name)).catch(() => {});
  }
}

/**
 * Takes the lock file `path`: answers whether it was free. The lock is this
 * process's owner file linked into place (which fails if the lock exists),
 * so it never exists without its owner in it. The link is a synchronous
 * call, like its undoing in `releaseLock`: microseconds, less than a trip
 * through the thread pool.
 */
export async function takeLock(path) {
  const dir = dirname(path);
  for (let attempt = 0; ; attempt++) {
    const mine = await ownerFile(dir);
    try {
      linkSync(mine, path);
      return true;
    } catch (error) {
      if (error.code === "EEXIST") return false;
      // The owner file was removed (or the directory): made again, once.
      if (error.code !== "ENOENT" || attempt > 0) throw error;
      owners.delete(dir);
    }
  }
}

/** Releases a lock this process took. */
export function releaseLock(path) {
  try {
    unlinkSync(path);
  } catch {
    // already broken by another process (it took this one for dead): nothing to release
  }
}

/**
 * Removes a lock whose owner is not running, and the temporary files its
 * owner left beside it. Two processes may find the same abandoned lock:
 * each takes a second lock to break it and checks again that the first
 * still names the same owner, so that neither removes a lock the other has
 * just taken.
 */
export async function breakIfAbandoned(lock) {
  const owner = await ownerOf(lock);
  if (owner === null || (owner !== EMPTY && running(owner))) return;
  const breaker = `${lock}.break`;
  if (!(await takeLock(breaker))) {
    const breakerOwner = await ownerOf(breaker);
    if (breakerOwner === EMPTY || (breakerOwner !== null && !running(breakerOwner))) await unlink(breaker).catch(() => {});
    return;
  }
  try {
    if ((await ownerOf(lock)) === owner) {
      await unlink(lock).catch(() => {});
      await removeLeftovers(lock);
    }
  } finally {
    await unlink(breaker).catch(() => {});
  }
}

/**
 * The temporary files a dead lock owner left beside `lock`'s entity: its
 * checkpoint or journal being written (only the lock's owner writes those,
 * so any there now is a dead writer's), and lock files it was taking (a
 * live process's exists for a moment only: those older than a few seconds).
 */
async function removeLeftovers(lock) {
  const dir = dirname(lock);
  const entity = basename(lock).slice(0, -".lock".length);
  const quoted = entity.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const written = new RegExp(`^${quoted}(\\.journal)?\\.\\d+\\.[0-9a-f]+\\.tmp$`);
  const taking = new RegExp(`^${quoted}\\.lock(\\.break)?\\.\\d+\\.[0-9a-f]+\\.tmp$`);
  const names = await readdir(dir).catch(() => []);
  await Promise.all(
    names.map(async (name) => {
      const path = join(dir, name);
      const old = taking.test(name) && (await stat(path).then((s) => Date.now() - s.mtimeMs > EMPTY_LOCK_ABANDONED_MS, () => false));
      if (written.test(name) || old) await unlink(path).catch(() => {});
    }),
  );
}
