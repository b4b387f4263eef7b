// Faults against real servers: a store killed in the middle of a rollout
// (calls fail with STORE_UNAVAILABLE while it is down and change nothing;
// the rollout goes on when it is back, and nothing acknowledged is lost),
// and controllers killed with SIGKILL in the middle of a step (the store
// holds the state before or after that step, never a torn one).

import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createClient } from "redis";
import pg from "pg";

import { Orchestrator } from "orchestrator-engine";
import { Rollouts } from "orchestrator-engine/rollouts";
import { PostgresStore, RedisStore } from "orchestrator-engine/stores";
import { startStore, targetNames } from "./servers/fleet-store.mjs";
import { startPostgres, startRedis } from "./servers/servers.mjs";

const CONTROLLER = fileURLToPath(new URL("./servers/controller.mjs", import.meta.url));
const T0 = 1_700_000_000_000;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const servers = {
  redis: async () => {
    const server = await startRedis();
    // Commands fail at once while the server is down instead of waiting in
    // the client's queue to run after it is back (README: "Stores").
    const client = createClient({ url: server.url, disableOfflineQueue: true, socket: { reconnectStrategy: () => 100 } });
    client.on("error", () => {});
    await client.connect();
    return { server, store: new RedisStore(client), url: server.url, close: () => client.close?.() ?? client.quit() };
  },
  postgres: async () => {
    const server = await startPostgres();
    const pool = new pg.Pool({ connectionString: server.url, max: 2, connectionTimeoutMillis: 1000 });
    pool.on("error", () => {});
    return { server, store: new PostgresStore(pool), url: server.url, close: () => pool.end() };
  },
};

for (const [kind, open] of Object.entries(servers)) {
  describe(`${kind} stopped in the middle of a rollout`, () => {
    let env;
    after(async () => {
      await env?.close();
      await env?.server.stop();
    });

    test("calls fail with STORE_UNAVAILABLE while it is down; the rollout goes on after, nothing acknowledged lost", { timeout: 120_000 }, async (t) => {
      env = await open();
      let now = T0;
      const clock = () => now;
      const rollouts = new Rollouts({ store: env.store, now: clock, storeTimeoutMs: 3000 });
      const plain = new Orchestrator({ now: clock }); // the same calls, acknowledged ones only
      const both = async (call) => {
        const answer = await call(rollouts);
        const expected = call(plain);
        assert.deepEqual(answer, expected);
        return answer;
      };
      await both((e) => e.setRolloutOptions("prod", "api", { batchPercent: 25, successTimeoutSecs: 10 }));
      await both((e) => e.setTargetVersion("prod", "api", "v1"));
      let hosts = Array.from({ length: 20 }, (_, i) => ({ name: `h${i}`, version: "v1" }));
      await both((e) => e.orchestrate("prod", "api", hosts));
      await both((e) => e.setTargetVersion("prod", "api", "v2"));
      const step = async () => {
        now += 15_000;
        const answer = await both((e) => e.orchestrate("prod", "api", hosts));
        hosts = answer.map((a) => ({ name: a.name, version: a.version }));
      };
      for (let i = 0; i < 3; i++) await step();
      const acknowledged = plain.events("prod", "api");

      await env.server.kill();
      let failures = 0;
      for (const call of [
        () => rollouts.orchestrate("prod", "api", hosts),
        () => rollouts.pause("prod", "api"),
        () => rollouts.rolloutInfo("prod", "api"),
      ]) {
        now += 15_000;
        await assert.rejects(call(), (e) => e.code === "STORE_UNAVAILABLE" && /retry once it is back/.test(e.message));
        failures++;
      }

      await env.server.start();
      let tries = 0;
      for (;;) {
        // The client reconnects on its own; until it has, calls still fail.
        try {
          await rollouts.rolloutInfo("prod", "api");
          break;
        } catch (error) {
          assert.equal(error.code, "STORE_UNAVAILABLE");
          assert.ok(++tries < 100, "the store came back");
          await sleep(100);
        }
      }
      for (let i = 0; i < 20 && (await rollouts.rolloutInfo("prod", "api")).lastKnownGoodVersion !== "v2"; i++) await step();
      assert.equal((await rollouts.rolloutInfo("prod", "api")).lastKnownGoodVersion, "v2");
      const events = await rollouts.events("prod", "api");
      assert.deepEqual(events.slice(0, acknowledged.length), acknowledged, "what was acknowledged before the outage is all there");
      assert.deepEqual(events, plain.events("prod", "api"), "and nothing a failed call did");
      t.diagnostic(`${kind}: ${failures} calls failed while down, the client was back after ${tries} tries; ${events.length} events`);
    });
  });
}

for (const kind of ["file", "redis", "postgres"]) {
  describe(`controllers killed with SIGKILL in the middle of a step (${kind})`, () => {
    let env;
    after(() => env?.close());

    test("the store holds a whole state after every kill, and the next writer goes on", { timeout: 180_000 }, async (t) => {
      env = await startStore(kind);
      const { store, url } = env;
      const targets = 20_000; // a step and its write take long enough to be hit
      const admin = new Rollouts({ store, storeTimeoutMs: 30_000 });
      await admin.setRolloutOptions("fleet", "api", { batchPercent: 5, successTimeoutSecs: 1, maxEvents: 100_000 });
      await admin.setTargetVersion("fleet", "api", "v1");
      const names = targetNames(targets);
      await admin.orchestrate("fleet", "api", names.map((name) => ({ name, version: "v1" })));
      await admin.setTargetVersion("fleet", "api", "v2");
      const args = [CONTROLLER, "--kind", kind, "--url", url, "--ns", "fleet", "--entity", "api", "--targets", String(targets), "--until", "v2", "--forever", "--pause", "0", "--announce-writes"];
      let locksLeft = 0;
      let interrupted = 0;
      let acknowledged = 0;
      let progressed = 0;
      for (let round = 0; round < 6; round++) {
        const before = (await store.get("fleet", "api")).revision;
        const children = [0, 1].map(() => spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] }));
        // Each controller's lines: its acknowledged steps, and its writes as they start and return.
        const lines = children.map(() => []);
        children.forEach((child, i) => {
          let rest = "";
          child.stdout.on("data", (d) => {
            const text = rest + d;
            const parts = text.split("\n");
            rest = parts.pop();
            lines[i].push(...parts);
          });
        });
        const exits = children.map((child) => new Promise((resolve) => child.once("exit", resolve)));
        // Once they have acknowledged a step of their own, kill both as a
        // write starts: inside a write (or, at worst, just after it).
        const deadline = Date.now() + 60_000;
        const stepsOf = (i) => lines[i].filter((l) => l.startsWith("[")).length;
        const steps = () => stepsOf(0) + stepsOf(1);
        while (Date.now() < deadline && !(steps() > 0 && lines.some((l) => l.at(-1) === '"writing"'))) await sleep(1);
        for (const child of children) child.kill("SIGKILL");
        await Promise.all(exits);
        assert.ok(steps() > 0, `round ${round}: the controllers acknowledged no step of their own within 60 s`);
        acknowledged += steps();
        // A write was under way when the kill came: "writing" without its "written".
        if (lines.some((l) => l.at(-1) === '"writing"')) interrupted++;
        // A kill inside a write leaves the dead writer's lock (file store).
        const left = kind === "file" && existsSync(join(url, "fleet")) ? readdirSync(join(url, "fleet")).filter((f) => /\.(lock|tmp)$/.test(f)) : [];
        locksLeft += left.length > 0 ? 1 : 0;
        // Whole: it restores, and it holds the entity.
        const stored = await store.get("fleet", "api");
        const engine = Orchestrator.restore(stored.bytes);
        assert.equal(engine.expectedState("fleet", "api").length, targets);
        engine.free();
        // The controllers' own writes, not this test's: the revision moved while they ran.
        if (stored.revision !== before) progressed++;
        // The next writer is not blocked by anything the dead left behind.
        await admin.resume("fleet", "api"); // answers false, writes nothing
        await admin.setRolloutOptions("fleet", "api", { batchPercent: 5, successTimeoutSecs: 1, maxEvents: 100_000 });
        t.diagnostic(`${kind} round ${round}: killed 2 controllers after ${steps()} acknowledged steps; the stored state restores${kind === "file" ? `; files left by the dead: ${locksLeft} rounds so far` : ""}`);
      }
      assert.equal(progressed, 6, "the controllers' own steps moved the stored state in every round");
      assert.ok(interrupted >= 5, `a kill landed inside a write in ${interrupted} of 6 rounds`);
      t.diagnostic(`${kind}: ${acknowledged} steps acknowledged by the controllers, ${interrupted} of 6 kills inside a write`);
      const events = await admin.events("fleet", "api", { limit: 100_000 });
      events.forEach((e, i) => assert.equal(e.seq, i + 1, "a contiguous log"));
    });
  });
}

// A write the server holds past the store timeout may still land: a row
// lock released later, a paused Redis that runs the script when it
// resumes. Such a write is not answered "nothing was changed": its
// outcome is said to be unknown, so a client reads before it retries.
describe("a write the server holds past the store timeout", () => {
  const opened = [];
  after(async () => {
    for (const env of opened) {
      await env.close();
      await env.server.stop();
    }
  });

  test("PostgreSQL, a row locked by another session: answered with its outcome unknown", { timeout: 60_000 }, async () => {
    const env = await servers.postgres();
    opened.push(env);
    const rollouts = new Rollouts({ store: env.store, now: () => T0, storeTimeoutMs: 1000, compactEvery: 0 });
    await rollouts.setTargetVersion("prod", "api", "v1");
    const locker = new pg.Client({ connectionString: env.url });
    await locker.connect();
    try {
      await locker.query("BEGIN");
      await locker.query("SELECT * FROM orchestrator_entities WHERE namespace = 'prod' AND entity = 'api' FOR UPDATE");
      await assert.rejects(rollouts.setTargetVersion("prod", "api", "v2"), (e) => e.code === "STORE_UNAVAILABLE" && e.outcome === "unknown" && /outcome is unknown/.test(e.message) && !/nothing was changed/.test(e.message));
      await locker.query("COMMIT");
    } finally {
      await locker.end();
    }
    // The honest answer: the write did land once the lock was released.
    await sleep(500);
    assert.equal((await new Rollouts({ store: env.store }).rolloutInfo("prod", "api")).targetVersion, "v2");
  });

  test("Redis paused (CLIENT PAUSE): answered with its outcome unknown", { timeout: 60_000 }, async () => {
    const env = await servers.redis();
    opened.push(env);
    const admin = createClient({ url: env.url });
    await admin.connect();
    // The server pauses just as the write is sent (the read before it
    // answered): the write waits in the server for the pause to end.
    let pauseNext = false;
    const real = env.store;
    const store = {
      get: (...args) => real.get(...args),
      list: (...args) => real.list(...args),
      delete: (...args) => real.delete(...args),
    };
    for (const write of ["put", "append"]) {
      store[write] = async (...args) => {
        if (pauseNext) await admin.sendCommand(["CLIENT", "PAUSE", "2500", "WRITE"]);
        return real[write](...args);
      };
    }
    const rollouts = new Rollouts({ store, now: () => T0, storeTimeoutMs: 1000 });
    try {
      await rollouts.setTargetVersion("prod", "api", "v1");
      pauseNext = true;
      await assert.rejects(rollouts.setTargetVersion("prod", "api", "v2"), (e) => e.code === "STORE_UNAVAILABLE" && e.outcome === "unknown" && /outcome is unknown/.test(e.message));
    } finally {
      await admin.quit();
    }
  });

  test("a store error without a message still says what failed", async () => {
    const store = { get: async () => undefined, put: async () => { throw Object.assign(new Error(""), { code: "ECONNREFUSED" }); }, list: async () => [], delete: async () => false };
    const rollouts = new Rollouts({ store, now: () => T0 });
    await assert.rejects(rollouts.setTargetVersion("prod", "api", "v1"), (e) => e.code === "STORE_UNAVAILABLE" && /save an entity: ECONNREFUSED;/.test(e.message));
    const aggregate = { ...store, put: async () => { throw new AggregateError([new Error("connect ECONNREFUSED 127.0.0.1:1")], ""); } };
    await assert.rejects(new Rollouts({ store: aggregate, now: () => T0 }).setTargetVersion("prod", "api", "v1"), /save an entity: connect ECONNREFUSED 127\.0\.0\.1:1;/);
  });
});
