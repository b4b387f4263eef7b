// The file store's lock: one lock file per entity, between processes on
// one machine. A lock file is linked into place whole with its owner in it
// (so it never exists without one), and its owner is more than a pid: a
// pid is reused (a server that is PID 1 in a container and restarts after
// kill -9 gets PID 1 again), so the owner also names when its process
// started and which boot it ran in, where the system says (Linux's /proc).
// A lock whose owner is not running is broken; so are the temporary files
// such an owner left.

import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { link, readdir, readFile, stat, unlink, writeFile } from "node:fs/promises";
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
 * Takes the lock file `path`: answers whether it was free. The owner is
 * written to a file of this process's own first, then linked into place
 * (which fails if the lock exists).
 */
export async function takeLock(path) {
  const mine = `${path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  try {
    await writeFile(mine, me());
    await link(mine, path);
    return true;
  } catch (error) {
    if (error.code !== "EEXIST") throw error;
    return false;
  } finally {
    await unlink(mine).catch(() => {});
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
