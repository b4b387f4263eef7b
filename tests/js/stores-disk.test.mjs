// The file store on a disk that fills up, and its lock across a PID reused:
// a tmpfs of 1 MiB (a real full disk: ENOSPC and short writes from the
// kernel), and a server that is PID 1 in its own PID namespace, killed and
// started again as PID 1. Both need root (mount, unshare), as CI runs.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { Rollouts } from "orchestrator-engine/rollouts";
import { FileStore } from "orchestrator-engine/stores/file";
import { T0 } from "./fleet.mjs";

const root = process.getuid?.() === 0;
const skip = root ? false : "needs root (a tmpfs mount and a PID namespace), as CI runs";
let disk;

before(() => {
  if (!root) return;
  disk = mkdtempSync(join(tmpdir(), "full-disk-"));
  execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", disk]);
});

after(() => {
  if (!disk) return;
  try {
    execFileSync("umount", [disk]);
  } finally {
    rmSync(disk, { recursive: true, force: true });
  }
});

const temporaries = (dir) => readdirSync(dir, { recursive: true }).filter((name) => String(name).endsWith(".tmp"));

test("a full disk: a checkpoint or journal record the disk cannot take is STORE_UNAVAILABLE, leaves the old state and no temporary file, and every acknowledged step survives a restart", { skip }, async () => {
  const dir = join(disk, "state");
  let now = T0;
  const open = () => new Rollouts({ store: new FileStore(dir, { warn: () => {} }), now: () => now, compactEvery: 8 });
  let rollouts = open();
  await rollouts.setRolloutOptions("prod", "api", { batchPercent: 10, successTimeoutSecs: 10, durationTimeoutSecs: 600, maxEvents: 100_000 });
  await rollouts.setTargetVersion("prod", "api", "v1");
  const fleet = Array.from({ length: 300 }, (_, i) => ({ name: `clientTarget${i}`, group: `zone-${i % 4}`, version: "v1", message: "running successfully" }));
  await rollouts.orchestrate("prod", "api", fleet);
  await rollouts.setTargetVersion("prod", "api", "v2");
  // Fill the disk, then give back 16 KiB: room for some steps, not for all.
  let filler = 0;
  for (;;) {
    try {
      writeFileSync(join(disk, `filler-${filler++}`), Buffer.alloc(4096));
    } catch (error) {
      assert.equal(error.code, "ENOSPC");
      break;
    }
  }
  for (let i = 0; i < 4; i++) rmSync(join(disk, `filler-${i}`));
  // Step until the disk refuses; each acknowledged step is known.
  let acknowledged = null;
  let refused = 0;
  for (let step = 0; step < 400 && refused < 5; step++) {
    now += 10_000;
    // Every target says something new of its own: each step's delta holds
    // them all, with 300 new messages (a message shared by the fleet would
    // take a few bytes a step in rows, and the disk would never fill).
    for (const t of fleet) t.message = `healthy at step ${step} on ${t.name}`;
    try {
      const answer = await rollouts.orchestrate("prod", "api", fleet);
      for (const t of answer) fleet.find((f) => f.name === t.name).version = t.version;
      acknowledged = await rollouts.rolloutInfo("prod", "api").then(async (info) => ({ info, events: (await rollouts.events("prod", "api", { since: 0, limit: 100_000 })).length }));
    } catch (error) {
      assert.equal(error.code, "STORE_UNAVAILABLE", error.message);
      refused++;
    }
    assert.deepEqual(temporaries(dir), [], `step ${step}: temporary files left`);
  }
  assert.ok(refused > 0, "the disk filled up");
  assert.ok(acknowledged !== null, "some steps were acknowledged before it did");
  // A restart reads the last acknowledged state, whole.
  rollouts = open();
  const info = await rollouts.rolloutInfo("prod", "api");
  assert.deepEqual(info, acknowledged.info);
  assert.equal((await rollouts.events("prod", "api", { since: 0, limit: 100_000 })).length, acknowledged.events);
  // With room again, it goes on.
  for (const name of readdirSync(disk).filter((n) => n.startsWith("filler-"))) rmSync(join(disk, name));
  now += 10_000;
  await rollouts.orchestrate("prod", "api", fleet);
  assert.deepEqual(temporaries(dir), []);
});

const HOLDER = fileURLToPath(new URL("./servers/lock-holder.mjs", import.meta.url));

/** `node HOLDER ...args` as PID 1 of a PID namespace of its own; resolves once it says it is ready. */
async function asPid1(args) {
  // --kill-child: a SIGKILL to unshare reaches the PID 1 it started, as a
  // runtime's kill of a container does.
  const child = spawn("unshare", ["--pid", "--fork", "--mount-proc", "--kill-child=SIGKILL", process.execPath, HOLDER, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stderr.on("data", (chunk) => (out += chunk));
  const exited = new Promise((resolve) => child.once("exit", (code) => resolve(code)));
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within 20 s: ${out}`)), 20_000);
    child.stdout.on("data", (chunk) => {
      out += chunk;
      if (out.includes("ready")) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      if (!out.includes("ready")) reject(new Error(`exited ${code}: ${out}`));
    });
  });
  return { child, exited, output: () => out };
}

test("a lock held by a PID 1 killed with SIGKILL is broken by the next PID 1, which has the same pid", { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "pid1-"));
  try {
    // The first server takes the entity's lock and is killed holding it.
    const first = await asPid1(["hold", dir]);
    assert.ok(existsSync(join(dir, "prod", "api.entity.lock")), "the lock is held");
    first.child.kill("SIGKILL");
    await first.exited;
    assert.ok(existsSync(join(dir, "prod", "api.entity.lock")), "the lock outlived its owner");
    // The next one is PID 1 too: its own pid is "alive", but it is not the owner.
    const second = await asPid1(["write", dir]);
    assert.equal(await second.exited, 0, second.output());
    assert.match(second.output(), /wrote v2/);
    assert.ok(!existsSync(join(dir, "prod", "api.entity.lock")));
    assert.deepEqual(temporaries(dir), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
