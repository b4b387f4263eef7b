// Eight controller processes step one 1,000-target entity at once, through
// a rollout and then a rollback, on a directory and on real Redis and
// PostgreSQL servers: the stored state never has more than a batch in
// flight, no acknowledged step's write is lost (every acknowledged write,
// each writer's own, is one link of a single chain of revisions: two made
// from the same revision would be a lost update, however the targets'
// versions agree later), every target ends on the expected version, and
// the event log has no duplicate or missing sequence number.

import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

import { Orchestrator } from "orchestrator-engine";
import { Rollouts } from "orchestrator-engine/rollouts";
import { startStore, targetNames } from "./servers/fleet-store.mjs";
import { loggingWrites } from "./servers/logging-store.mjs";

const CONTROLLER = fileURLToPath(new URL("./servers/controller.mjs", import.meta.url));
const TARGETS = 1000;
const BATCH = 100; // 10% of 1,000
// The controllers use the real clock: a deadline of 30 s, so that a loaded
// machine does not fail healthy targets; the broken version fails by its
// errors (1 s of them), not by the deadline.
const OPTIONS = { batchPercent: 10, rollbackBatchPercent: 10, successTimeoutSecs: 1, durationTimeoutSecs: 30, errorTimeoutSecs: 1, maxEvents: 100_000 };

/** Runs `count` controllers to the end; answers what each acknowledged. */
async function controllers(count, args) {
  const runs = Array.from({ length: count }, () => {
    const child = spawn(process.execPath, [CONTROLLER, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    // Past the deadline, SIGTERM: the controller says where it was (below).
    const timer = setTimeout(() => {
      child.kill("SIGTERM");
      setTimeout(() => child.kill("SIGKILL"), 5000).unref();
    }, 180_000);
    return new Promise((resolve, reject) =>
      child.on("exit", (code) => {
        clearTimeout(timer);
        if (code === 0) {
          const lines = out.trim().split("\n").filter(Boolean).map((line) => JSON.parse(line));
          resolve({ steps: lines.filter(Array.isArray), writes: lines.filter((l) => l.write).map((l) => l.write) });
        }
        else reject(new Error(`a controller exited with ${code}: ${err.slice(-2000)}`));
      }),
    );
  });
  return Promise.all(runs);
}

/** Polls the stored state until `done` resolves: the most in flight seen. */
async function watchInFlight(store, ns, entity, done) {
  let most = 0;
  let polls = 0;
  let finished = false;
  done.finally(() => (finished = true)).catch(() => {});
  while (!finished) {
    const stored = await store.get(ns, entity);
    if (stored?.bytes) {
      const engine = Orchestrator.restore(stored.bytes);
      const moving = engine.expectedState(ns, entity).filter((t) => t.reason === "in_flight" || t.reason === "rolled_back").length;
      engine.free();
      most = Math.max(most, moving);
      polls++;
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  await done;
  return { most, polls };
}

/**
 * Every acknowledged write as one chain of revisions from `first` to
 * `last`: no revision written from twice (a lost update), none left off.
 */
function checkChain(writes, first, last) {
  const next = new Map();
  for (const [from, to] of writes) {
    assert.ok(!next.has(from), `two acknowledged writes were made from revision ${from}: one of them was lost`);
    next.set(from, to);
  }
  let at = first;
  let links = 0;
  while (next.has(at)) {
    at = next.get(at);
    links++;
  }
  assert.equal(at, last, "the chain of acknowledged writes ends at the stored revision");
  assert.equal(links, writes.length, "every acknowledged write is a link of the one chain");
  return links;
}

function checkLog(events, acknowledged) {
  const seqs = events.map((e) => e.seq);
  assert.equal(seqs[0], 1, "the log starts at its first event (nothing trimmed)");
  seqs.forEach((seq, i) => assert.equal(seq, i + 1, "no duplicate or missing sequence number"));
  const logged = new Set(events.filter((e) => e.kind === "target_assigned").map((e) => `${e.target.name}@${e.version}`));
  let seen = 0;
  for (const steps of acknowledged) {
    for (const step of steps) {
      for (const [name, version] of step) {
        assert.ok(logged.has(`${name}@${version}`), `${name} assigned ${version} in an acknowledged step, not in the log`);
        seen++;
      }
    }
  }
  return seen;
}

for (const kind of ["file", "redis", "postgres"]) {
  describe(`8 controllers on one entity through ${kind}`, () => {
    let env;
    after(() => env?.close());

    test("a rollout and then a rollback, never more than a batch in flight, nothing lost", { timeout: 300_000 }, async (t) => {
      // (The directory store: eight processes on one machine, the lock file
      // per entity holding the revision check between them.)
      env = await startStore(kind);
      const { store, url } = env;
      const ns = "fleet";
      const entity = "api";
      // This test's own writes are links of the chain too.
      const adminWrites = [];
      const admin = new Rollouts({ store: loggingWrites(store, (line) => adminWrites.push(JSON.parse(line).write)) });
      await admin.setRolloutOptions(ns, entity, OPTIONS);
      await admin.setTargetVersion(ns, entity, "v1");
      const names = targetNames(TARGETS);
      await admin.orchestrate(ns, entity, names.map((name) => ({ name, version: "v1" })));
      const args = ["--kind", kind, "--url", url, "--ns", ns, "--entity", entity, "--targets", String(TARGETS), "--log-writes"];

      await admin.setTargetVersion(ns, entity, "v2");
      const rollout = controllers(8, [...args, "--until", "v2"]);
      const out = await watchInFlight(store, ns, entity, rollout);
      const rolledOut = await rollout;
      assert.ok(out.polls > 10, `the state was checked ${out.polls} times`);
      assert.ok(out.most > 0 && out.most <= BATCH, `at most ${out.most} in flight, the batch is ${BATCH}`);
      let info = await admin.rolloutInfo(ns, entity);
      assert.equal(info.lastKnownGoodVersion, "v2");
      assert.ok((await admin.expectedState(ns, entity)).every((t) => t.version === "v2"));

      await admin.setTargetVersion(ns, entity, "v3");
      const rollback = controllers(8, [...args, "--until", "v2", "--broken", "v3"]);
      const back = await watchInFlight(store, ns, entity, rollback);
      const rolledBack = await rollback;
      assert.ok(back.most > 0 && back.most <= BATCH, `at most ${back.most} moving while rolling out and back`);
      info = await admin.rolloutInfo(ns, entity);
      assert.equal(info.lastKnownBadVersion, "v3");
      assert.equal(info.lastKnownGoodVersion, "v2");
      const final = await admin.expectedState(ns, entity);
      assert.equal(final.length, TARGETS);
      assert.ok(final.every((t) => t.version === "v2"), "every target is back on v2");

      const events = await admin.events(ns, entity, { limit: 100_000 });
      const controllerRuns = [...rolledOut, ...rolledBack];
      const seen = checkLog(events, controllerRuns.map((c) => c.steps));
      assert.ok(seen >= TARGETS, `${seen} acknowledged assignments checked`);
      const steps = controllerRuns.reduce((n, c) => n + c.steps.length, 0);
      // Every acknowledged write, the controllers' and this test's, is one
      // link of a single chain from the first revision to the stored one.
      const writes = [...adminWrites, ...controllerRuns.flatMap((c) => c.writes)];
      const links = checkChain(writes, null, (await store.get(ns, entity)).revision);
      assert.ok(links > steps / 2, `${links} writes for ${steps} acknowledged steps`);
      t.diagnostic(
        `${kind}: ${steps} acknowledged steps by 8 controllers, ${links} acknowledged writes in one chain of revisions; ${events.length} events, contiguous; ` +
          `at most ${out.most} in flight rolling out (${out.polls} checks), ${back.most} rolling back (${back.polls} checks)`,
      );
      const kinds = new Set(events.map((e) => e.kind));
      for (const k of ["version_good", "version_bad", "rollback_started", "rollback_finished"]) assert.ok(kinds.has(k), k);
    });
  });
}
