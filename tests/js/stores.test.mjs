// The store contract and the durable engine (Rollouts), the same suite for
// every store the package ships, against real Redis and PostgreSQL servers
// that this file starts and stops.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { appendFileSync, existsSync, readdirSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { Orchestrator } from "orchestrator-engine";
import { Rollouts } from "orchestrator-engine/rollouts";
import { FileStore } from "orchestrator-engine/stores/file";
import { MemoryStore, PostgresStore, RedisStore } from "orchestrator-engine/stores";
import { storeKinds } from "./servers/stores.mjs";

const T0 = 1_700_000_000_000;
const servers = await storeKinds();
after(() => servers.stop());

const bytes = (...values) => Uint8Array.from(values);

/** A fleet of `n` hosts that run what they are told and stay healthy. */
function fleet(n, version) {
  return Array.from({ length: n }, (_, i) => ({ name: `h${String(i).padStart(3, "0")}`, version }));
}
const apply = (hosts, answer) => {
  const want = new Map(answer.map((a) => [a.name, a.version]));
  return hosts.map((h) => ({ ...h, version: want.get(h.name) ?? h.version }));
};

for (const [kind, open] of Object.entries(servers.kinds)) {
  describe(`${kind} store`, () => {
    let store;
    let close;
    before(async () => ({ store, close } = await open()));
    after(() => close());

    test("a namespace's own records (its line, its subscriptions) sit beside its entities and are never listed as one", async (t) => {
      const own = await open(); // a store of its own: the contract below lists every key of the shared one
      t.after(() => own.close());
      const [oncall, controller] = [0, 1].map(() => new Rollouts({ store: own.store, now: () => T0, namespaceCacheMs: 0 }));
      await controller.setTargetVersion("records", "api", "v1");
      assert.equal(await oncall.as("alice").stopTheLine("records", "incident 4711"), true);
      await oncall.setNotifications("records", null, [{ name: "ops", url: "https://hooks.example/x" }]);
      assert.deepEqual(await controller.lineStop("records"), { reason: "incident 4711", since: T0, by: "alice" });
      assert.deepEqual((await controller.notifications("records")).subscriptions.map((s) => s.name), ["ops"]);
      assert.deepEqual(await controller.entities("records"), ["api"]);
      assert.ok(!(await controller.list()).some(([ns, e]) => ns === "records" && e !== "api"));
      assert.equal(await oncall.startTheLine("records"), true);
      assert.equal(await controller.lineStop("records"), null);
    });

    test("the contract: get, compare-and-swap put, list and delete", async () => {
      assert.equal(await store.get("ns", "a"), undefined);
      const first = await store.put("ns", "a", bytes(1, 2, 3), null);
      assert.equal(typeof first, "string");
      assert.equal(await store.put("ns", "a", bytes(9), null), null, "a new entity only once");
      assert.deepEqual(await store.get("ns", "a"), { revision: first, bytes: bytes(1, 2, 3), journal: [] });
      assert.deepEqual(await store.get("ns", "a", first), { revision: first }, "no bytes when the revision is known");
      const second = await store.put("ns", "a", bytes(4, 5), first);
      assert.notEqual(second, first);
      assert.equal(await store.put("ns", "a", bytes(6), first), null, "a stale revision is a conflict");
      assert.deepEqual(await store.get("ns", "a", first), { revision: second, bytes: bytes(4, 5), journal: [] });
      await store.put("ns", "b", bytes(0), null);
      await store.put("alpha", "z", new Uint8Array(0), null);
      assert.deepEqual(await store.list(), [["alpha", "z"], ["ns", "a"], ["ns", "b"]]);
      assert.deepEqual((await store.get("alpha", "z")).bytes, new Uint8Array(0));
      assert.equal(await store.delete("ns", "a"), true);
      assert.equal(await store.delete("ns", "a"), false);
      assert.equal(await store.get("ns", "a"), undefined);
      const again = await store.put("ns", "a", bytes(7), null);
      assert.ok(![first, second].includes(again), "a revision is never reused, even after a delete");
      assert.deepEqual(await store.list(), [["alpha", "z"], ["ns", "a"], ["ns", "b"]]);
    });

    test("the journal: append only at the current revision; a checkpoint replaces the journal", async () => {
      assert.equal(await store.append("j", "a", bytes(1), "no-such-revision"), null, "no entity, no journal");
      assert.equal(await store.get("j", "a"), undefined, "a refused append creates nothing");
      const base = await store.put("j", "a", bytes(9, 9), null);
      const first = await store.append("j", "a", bytes(1), base);
      assert.equal(typeof first, "string");
      assert.notEqual(first, base);
      assert.equal(await store.append("j", "a", bytes(2), base), null, "a stale revision is a conflict");
      const second = await store.append("j", "a", bytes(2, 2), first);
      assert.deepEqual(await store.get("j", "a"), { revision: second, bytes: bytes(9, 9), journal: [bytes(1), bytes(2, 2)] });
      assert.deepEqual(await store.get("j", "a", second), { revision: second }, "nothing to read when current");
      // A reader a few deltas behind reads only the deltas it missed.
      assert.deepEqual(await store.get("j", "a", first), { revision: second, journal: [bytes(2, 2)] }, "behind by one delta");
      assert.deepEqual(await store.get("j", "a", base), { revision: second, journal: [bytes(1), bytes(2, 2)] }, "at the checkpoint");
      assert.deepEqual(await store.get("j", "a", "no-such-revision"), { revision: second, bytes: bytes(9, 9), journal: [bytes(1), bytes(2, 2)] });
      assert.equal(await store.put("j", "a", bytes(7), first), null, "a checkpoint checks the revision too");
      const compacted = await store.put("j", "a", bytes(7), second);
      assert.deepEqual(await store.get("j", "a"), { revision: compacted, bytes: bytes(7), journal: [] });
      for (const old of [base, first, second]) {
        assert.deepEqual(await store.get("j", "a", old), { revision: compacted, bytes: bytes(7), journal: [] }, "a revision of the checkpoint replaced reads it whole");
      }
      const third = await store.append("j", "a", bytes(3), compacted);
      assert.deepEqual((await store.get("j", "a")).journal, [bytes(3)], "the old journal is gone");
      assert.deepEqual(await store.get("j", "a", compacted), { revision: third, journal: [bytes(3)] });
      assert.deepEqual(await store.get("j", "a", second), { revision: third, bytes: bytes(7), journal: [bytes(3)] });
      assert.equal(await store.delete("j", "a"), true);
      const again = await store.put("j", "a", bytes(5), null);
      assert.ok(![base, first, second, compacted, third].includes(again));
      assert.deepEqual(await store.get("j", "a"), { revision: again, bytes: bytes(5), journal: [] }, "a deleted entity leaves no journal");
      assert.deepEqual(await store.get("j", "a", compacted), { revision: again, bytes: bytes(5), journal: [] }, "nor a revision to read from");
    });

    test("Rollouts saves a delta per call, compacts, and a cold reader rebuilds the entity exactly", async () => {
      let now = T0;
      const writer = new Rollouts({ store, now: () => now, compactEvery: 4 });
      const plain = new Orchestrator({ now: () => now });
      for (const engine of [writer, plain]) {
        await engine.setRolloutOptions("journal", "api", { batchPercent: 20, successTimeoutSecs: 10 });
        await engine.setTargetVersion("journal", "api", "v1");
      }
      let hosts = fleet(200, "v1");
      await writer.orchestrate("journal", "api", hosts);
      plain.orchestrate("journal", "api", hosts);
      await writer.setTargetVersion("journal", "api", "v2");
      plain.setTargetVersion("journal", "api", "v2");
      const lengths = [];
      for (let step = 0; step < 40; step++) {
        now += 5000;
        const answer = await writer.orchestrate("journal", "api", hosts);
        assert.deepEqual(answer, plain.orchestrate("journal", "api", hosts), `step ${step}`);
        hosts = apply(hosts, answer);
        const stored = await store.get("journal", "api");
        lengths.push(stored.journal.length);
        const journalBytes = stored.journal.reduce((sum, d) => sum + d.length, 0);
        assert.ok(stored.journal.length <= 4 && journalBytes <= stored.bytes.length, `step ${step}: ${stored.journal.length} deltas, ${journalBytes} bytes`);
        // A process that never saw this entity reads the checkpoint and the journal.
        const cold = new Rollouts({ store, now: () => now });
        assert.deepEqual(await cold.rolloutInfo("journal", "api"), plain.rolloutInfo("journal", "api"), `step ${step}`);
        assert.deepEqual(await cold.events("journal", "api"), plain.events("journal", "api"), `step ${step}`);
      }
      assert.ok(lengths.some((n) => n > 0), `deltas were appended (${lengths})`);
      assert.ok(lengths.some((n, i) => i > 0 && n < lengths[i - 1]), `the journal was compacted (${lengths})`);
      assert.equal((await writer.rolloutInfo("journal", "api")).lastKnownGoodVersion, "v2");
    });

    test("replicas a few deltas behind read only the deltas they missed, and hold exactly what a cold reader reads", async () => {
      let now = T0;
      // What each get answered B: the whole entity, only deltas, or nothing new.
      const answers = [];
      const watched = {
        get: async (...args) => {
          const stored = await store.get(...args);
          answers.push(stored === undefined ? "none" : stored.bytes ? "whole" : stored.journal ? `deltas ${stored.journal.length}` : "current");
          return stored;
        },
        put: (...args) => store.put(...args),
        append: (...args) => store.append(...args),
        list: () => store.list(),
        delete: (...args) => store.delete(...args),
      };
      const a = new Rollouts({ store, now: () => now, compactEvery: 8 });
      const b = new Rollouts({ store: watched, now: () => now, compactEvery: 8 });
      const plain = new Orchestrator({ now: () => now });
      for (const engine of [a, plain]) {
        await engine.setRolloutOptions("replica", "api", { batchPercent: 25, successTimeoutSecs: 10 });
        await engine.setTargetVersion("replica", "api", "v1");
      }
      let hosts = fleet(100, "v1");
      for (let step = 0; step < 40; step++) {
        now += 5000;
        if (step === 3) for (const engine of [a, plain]) await engine.setTargetVersion("replica", "api", "v2");
        // Most steps through A, every fourth through B: each catches up on the other's.
        const writer = step % 4 === 3 ? b : a;
        const answer = await writer.orchestrate("replica", "api", hosts);
        assert.deepEqual(answer, plain.orchestrate("replica", "api", hosts), `step ${step}`);
        hosts = apply(hosts, answer);
        assert.deepEqual(await b.expectedState("replica", "api"), plain.expectedState("replica", "api"), `step ${step}`);
        assert.deepEqual(await b.events("replica", "api"), plain.events("replica", "api"), `step ${step}`);
      }
      const cold = new Rollouts({ store, now: () => now });
      for (const replica of [a, b]) {
        assert.deepEqual(await replica.exportEntity("replica", "api"), await cold.exportEntity("replica", "api"));
      }
      assert.equal((await b.rolloutInfo("replica", "api")).lastKnownGoodVersion, "v2");
      const caughtUp = answers.filter((x) => x.startsWith("deltas"));
      assert.ok(caughtUp.length >= 10, `B read only the deltas it missed, most times (${answers.join(", ")})`);
      assert.ok(answers.filter((x) => x === "whole").length < caughtUp.length / 2, `and the whole entity seldom: after a checkpoint (${answers.join(", ")})`);
    });

    test("a step on an entity held without hooks asks the store nothing first; another writer's change is found by the save and the step made again on it", async () => {
      let now = T0;
      const calls = [];
      const counted = {
        get: (...args) => (calls.push("get"), store.get(...args)),
        put: (...args) => (calls.push("put"), store.put(...args)),
        append: (...args) => (calls.push("append"), store.append(...args)),
        list: () => store.list(),
        delete: (...args) => store.delete(...args),
      };
      const a = new Rollouts({ store: counted, now: () => now });
      const b = new Rollouts({ store, now: () => now });
      const plain = new Orchestrator({ now: () => now });
      for (const engine of [a, plain]) {
        await engine.setRolloutOptions("optimistic", "api", { batchPercent: 50, successTimeoutSecs: 0 });
        await engine.setTargetVersion("optimistic", "api", "v1");
      }
      let hosts = fleet(10, "v0");
      const step = async () => {
        now += 1000;
        calls.length = 0;
        const answer = await a.orchestrate("optimistic", "api", hosts);
        assert.deepEqual(answer, plain.orchestrate("optimistic", "api", hosts));
        hosts = apply(hosts, answer);
        return [...calls];
      };
      const saves = ["append", "put"]; // a delta, or a checkpoint when that is smaller
      await step();
      const current = await step();
      assert.ok(current.length === 1 && saves.includes(current[0]), `held and current: one round trip (${current})`);
      // Another writer moves the entity on: A's held copy is stale.
      for (const engine of [b, plain]) await engine.setTargetVersion("optimistic", "api", "v2");
      const retried = await step();
      assert.ok(saves.includes(retried[0]) && retried[1] === "get", `the save found the change, the entity was read again (${retried})`);
      assert.ok(saves.includes(retried[2]) && retried.length === 3, `and the step saved once on it (${retried})`);
      assert.equal((await a.rolloutInfo("optimistic", "api")).targetVersion, "v2", "the step was made on the other writer's version");
      assert.deepEqual(await b.exportEntity("optimistic", "api"), await a.exportEntity("optimistic", "api"));
      // Controls (which may answer "nothing changed") and entities with hooks read first.
      calls.length = 0;
      await a.pause("optimistic", "api");
      assert.equal(calls[0], "get", "a control reads first");
      a.setTargetController("optimistic", "api", { monitor: () => {} });
      await step(); // (paused: a step still records the reports)
      assert.equal((await step())[0], "get", "hooks act outside the entity: never on a stale copy");
    });

    test("a corrupt delta in the journal is INVALID_SNAPSHOT naming the entity; the others keep working", async () => {
      const rollouts = new Rollouts({ store, now: () => T0 });
      await rollouts.setTargetVersion("badj", "good", "v1");
      await rollouts.setTargetVersion("badj", "broken", "v1");
      await rollouts.orchestrate("badj", "broken", fleet(50, "v1")); // a checkpoint: the delta would be larger
      await rollouts.orchestrate("badj", "broken", fleet(50, "v1"));
      const { revision, journal } = await store.get("badj", "broken");
      assert.equal(journal.length, 1, "the third call was a delta");
      const damaged = journal[0].slice();
      damaged[damaged.length - 1] ^= 1;
      await store.append("badj", "broken", damaged, revision);
      const fresh = new Rollouts({ store, now: () => T0 });
      await assert.rejects(fresh.rolloutInfo("badj", "broken"), (e) => e.code === "INVALID_SNAPSHOT" && /badj\/broken/.test(e.message) && /delta 2 of 2/.test(e.message));
      assert.equal((await fresh.rolloutInfo("badj", "good")).targetVersion, "v1");
    });

    test("any names, and large binary values, come back exactly", async () => {
      const names = [["a/b", "x.y"], ["..", "."], ["ü ß", "日本"], ["%2F", "a\\b"], ["{tag}", "*"]];
      const big = Uint8Array.from({ length: 1 << 20 }, (_, i) => (i * 7919) & 255);
      for (const [ns, e] of names) await store.put(ns, e, big, null);
      for (const [ns, e] of names) assert.deepEqual((await store.get(ns, e)).bytes, big, `${ns}/${e}`);
      const listed = await store.list();
      for (const name of names) assert.ok(listed.some((l) => l[0] === name[0] && l[1] === name[1]), name.join("/"));
    });

    test("a rollout through two replicas answers exactly as one in-memory engine", async () => {
      let now = T0;
      const clock = () => now;
      const [a, b] = [new Rollouts({ store, now: clock }), new Rollouts({ store, now: clock })];
      const plain = new Orchestrator({ now: clock });
      const options = { batchPercent: 25, successTimeoutSecs: 10, durationTimeoutSecs: 60 };
      for (const engine of [a, plain]) {
        await engine.setRolloutOptions("prod", "api", options);
        await engine.setTargetVersion("prod", "api", "v1");
      }
      let hosts = fleet(12, "v1");
      let plainHosts = hosts;
      await a.orchestrate("prod", "api", hosts);
      plain.orchestrate("prod", "api", plainHosts);
      await b.setTargetVersion("prod", "api", "v2");
      plain.setTargetVersion("prod", "api", "v2");
      for (let step = 0; step < 40; step++) {
        now += 15_000;
        const replica = step % 3 === 0 ? a : b; // replicas take turns
        const answer = await replica.orchestrate("prod", "api", hosts);
        const expected = plain.orchestrate("prod", "api", plainHosts);
        assert.deepEqual(answer, expected, `step ${step}`);
        hosts = apply(hosts, answer);
        plainHosts = apply(plainHosts, expected);
      }
      const info = await a.rolloutInfo("prod", "api");
      assert.equal(info.lastKnownGoodVersion, "v2");
      assert.deepEqual(info, plain.rolloutInfo("prod", "api"));
      assert.deepEqual(await b.events("prod", "api"), plain.events("prod", "api"));
      assert.deepEqual(await b.history("prod", "api"), plain.history("prod", "api"));
      assert.ok((await a.namespaces()).includes("prod"));
      assert.deepEqual(await b.entities("prod"), ["api"]);
    });

    test("two replicas stepping at once: both steps land, one after the other", async () => {
      let now = T0;
      const replicas = [0, 1, 2].map(() => new Rollouts({ store, now: () => now }));
      await replicas[0].setRolloutOptions("race", "api", { batchPercent: 10, successTimeoutSecs: 10 });
      await replicas[0].setTargetVersion("race", "api", "v1");
      const hosts = fleet(30, "v1");
      await replicas[1].orchestrate("race", "api", hosts);
      await replicas[2].setTargetVersion("race", "api", "v2");
      for (let round = 0; round < 5; round++) {
        now += 1000;
        await Promise.all(replicas.map((r) => r.orchestrate("race", "api", hosts)));
        const inFlight = (await replicas[0].expectedState("race", "api")).filter((t) => t.reason === "in_flight");
        assert.ok(inFlight.length <= 3, `round ${round}: ${inFlight.length} in flight, the batch is 3`);
      }
      const events = await replicas[1].events("race", "api");
      const seqs = events.map((e) => e.seq);
      assert.deepEqual(seqs, seqs.map((_, i) => seqs[0] + i), "no event lost or written twice");
      const assigned = events.filter((e) => e.kind === "target_assigned").map((e) => e.target.name);
      assert.equal(new Set(assigned).size, assigned.length, "no target assigned twice");
    });

    test("a call that fails saves nothing; a control that changes nothing writes nothing", async () => {
      const rollouts = new Rollouts({ store, now: () => T0 });
      await rollouts.setTargetVersion("fail", "api", "v1");
      const before = await store.get("fail", "api");
      await assert.rejects(rollouts.setTargetVersion("fail", "api", ""), { code: "INVALID_VERSION" });
      await assert.rejects(rollouts.orchestrate("fail", "api", [{ name: "h", version: "v1", error: true }]), { code: "INVALID_TARGET" });
      assert.equal(await rollouts.resume("fail", "api"), false);
      assert.deepEqual(await store.get("fail", "api"), before);
      await assert.rejects(rollouts.rolloutInfo("fail", "nothing"), { code: "NOT_FOUND" });
      assert.deepEqual(await store.get("fail", "nothing"), undefined, "a read creates nothing");
    });

    test("a corrupt stored value is INVALID_SNAPSHOT naming the entity; the others keep working", async () => {
      const rollouts = new Rollouts({ store, now: () => T0 });
      await rollouts.setTargetVersion("bad", "good", "v1");
      await rollouts.setTargetVersion("bad", "broken", "v1");
      const { revision } = await store.get("bad", "broken");
      await store.put("bad", "broken", bytes(1, 2, 3, 4), revision);
      const fresh = new Rollouts({ store, now: () => T0 });
      await assert.rejects(fresh.rolloutInfo("bad", "broken"), (e) => e.code === "INVALID_SNAPSHOT" && e.message.includes("bad/broken"));
      await assert.rejects(rollouts.setTargetVersion("bad", "broken", "v2"), { code: "INVALID_SNAPSHOT" });
      assert.equal((await fresh.rolloutInfo("bad", "good")).targetVersion, "v1");
      // Another entity's state under this name is caught too.
      const other = new Orchestrator({ now: () => T0 });
      other.setTargetVersion("bad", "elsewhere", "v9");
      await store.put("bad", "broken", other.snapshot(), (await store.get("bad", "broken")).revision);
      await assert.rejects(fresh.rolloutInfo("bad", "broken"), (e) => e.code === "INVALID_SNAPSHOT" && e.message.includes("bad/elsewhere"));
    });

    test("hooks stay registered across reloads in the process that set them", async () => {
      let now = T0;
      const rollouts = new Rollouts({ store, now: () => now });
      const writer = new Rollouts({ store, now: () => now });
      const seen = [];
      rollouts.setTargetController("hooked", "api", { monitor: (target) => void seen.push(target.name) });
      await writer.setRolloutOptions("hooked", "api", { batchPercent: 100, successTimeoutSecs: 1 });
      await writer.setTargetVersion("hooked", "api", "v1");
      await writer.orchestrate("hooked", "api", fleet(2, "v1"));
      await writer.setTargetVersion("hooked", "api", "v2"); // another writer: the next call reloads
      now += 1000;
      await rollouts.orchestrate("hooked", "api", fleet(2, "v1"));
      now += 5000;
      await rollouts.orchestrate("hooked", "api", fleet(2, "v2"));
      assert.ok(seen.includes("h000") && seen.includes("h001"), `monitor saw ${seen}`);
      assert.throws(() => rollouts.setTargetController("hooked", "api", 42), { code: "INVALID_ARGUMENT" });
    });
  });
}

test("Rollouts keeps at most maxEntities loaded, reading the others again", async () => {
  let gets = 0;
  const { MemoryStore } = await import("orchestrator-engine/stores");
  const inner = new MemoryStore();
  const counting = { ...Object.fromEntries(["put", "list", "delete"].map((m) => [m, inner[m].bind(inner)])) };
  counting.get = (...args) => {
    gets++;
    return inner.get(...args).then((stored) => {
      if (stored?.bytes) fullReads++;
      return stored;
    });
  };
  let fullReads = 0;
  const rollouts = new Rollouts({ store: counting, now: () => T0, maxEntities: 2 });
  for (const e of ["a", "b", "c"]) await rollouts.setTargetVersion("ns", e, "v1");
  fullReads = 0;
  await rollouts.rolloutInfo("ns", "b"); // held: no state read
  await rollouts.rolloutInfo("ns", "c");
  assert.equal(fullReads, 0);
  await rollouts.rolloutInfo("ns", "a"); // let go when c was loaded: read again
  assert.equal(fullReads, 1);
  assert.equal((await rollouts.rolloutInfo("ns", "a")).targetVersion, "v1");
  assert.ok(gets > 0);
  assert.throws(() => new Rollouts({ store: inner, maxEntities: 0 }), { code: "INVALID_ARGUMENT" });
});

test("Rollouts answers a missing entity as NOT_FOUND naming it, without listing the store; a missing namespace in the engine's words", async () => {
  const engine = new Orchestrator({ now: () => T0 });
  const store = new MemoryStore();
  let listed = 0;
  const list = store.list.bind(store);
  store.list = () => {
    listed += 1;
    return list();
  };
  const rollouts = new Rollouts({ store, now: () => T0 });
  const thrown = async (call) => {
    try {
      await call();
    } catch (error) {
      return [error.code, error.message];
    }
    return "no error";
  };
  for (const [ns, e] of [["nowhere", "api"], ["prod", "nothing"]]) {
    if (ns === "prod") {
      engine.setTargetVersion("prod", "api", "v1");
      await rollouts.setTargetVersion("prod", "api", "v1");
    }
    for (const read of ["rolloutInfo", "plan", "events", "history", "expectedState", "pause", "approve"]) {
      assert.deepEqual(await thrown(() => rollouts[read](ns, e)), ["NOT_FOUND", `entity "${ns}/${e}" does not exist`], `${read}(${ns}, ${e})`);
      assert.equal((await thrown(() => engine[read](ns, e)))[0], "NOT_FOUND");
    }
  }
  assert.equal(listed, 0, "no read or control of a missing entity lists the store");
  assert.deepEqual(await thrown(() => rollouts.entities("nowhere")), await thrown(() => engine.entities("nowhere")));
  assert.deepEqual(await thrown(() => rollouts.exportEntity("prod", "nothing")), ["NOT_FOUND", 'entity "prod/nothing" does not exist']);
});

test("Rollouts rejects what is not a store, with INVALID_ARGUMENT", () => {
  assert.throws(() => new Rollouts({}), { code: "INVALID_ARGUMENT", message: /get method/ });
  assert.throws(() => new Rollouts({ store: { get() {}, put() {}, list() {} } }), { code: "INVALID_ARGUMENT", message: /delete/ });
});

test("postgres: eight processes' first writes on an empty database at once create the tables once, and none of them fails", async () => {
  const pg = (await import("pg")).default;
  const postgres = (await import("postgres")).default;
  const table = `first_use_${process.pid}`;
  for (let round = 0; round < 3; round++) {
    // Each its own connections, as separate processes have; both clients.
    const clients = Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? new pg.Pool({ connectionString: servers.postgres.url, max: 2 }) : postgres(servers.postgres.url, { max: 2, onnotice: () => {} })));
    try {
      const stores = clients.map((client) => new PostgresStore(client, { table: `${table}_${round}` }));
      const written = await Promise.allSettled(stores.map((store, i) => store.put("prod", `api${i}`, bytes(i), undefined)));
      assert.deepEqual(written.filter((w) => w.status === "rejected").map((w) => w.reason.message), []);
      assert.deepEqual(await stores[0].list(), stores.map((_, i) => ["prod", `api${i}`]));
    } finally {
      await Promise.all(clients.map((client) => client.end()));
    }
  }
});

test("every store refuses bad settings with INVALID_ARGUMENT, naming the setting and what it got", () => {
  const refused = (make, message) => assert.throws(make, (e) => e.name === "OrchestratorError" && e.code === "INVALID_ARGUMENT" && message.test(e.message));
  refused(() => new FileStore(), /^FileStore: dir must be a non-empty path, got undefined$/);
  refused(() => new FileStore(""), /dir must be a non-empty path, got ""/);
  refused(() => new FileStore("/tmp/x", { lockTimeoutMs: -1 }), /^FileStore: lockTimeoutMs must be a number of milliseconds from 0 to 2147483647 .*, got -1$/);
  refused(() => new FileStore("/tmp/x", { lockTimeoutMs: "10s" }), /lockTimeoutMs .*got "10s"$/);
  refused(() => new RedisStore("redis://localhost"), /^RedisStore: pass a connected node-redis or ioredis client, got "redis:\/\/localhost"$/);
  const redisLike = { sendCommand: async () => null };
  refused(() => new RedisStore(redisLike, { prefix: "{a}" }), /prefix must be a non-empty string without braces, got "\{a\}"/);
  refused(() => new RedisStore(redisLike, { prefix: "" }), /prefix/);
  refused(() => new PostgresStore("postgres://localhost"), /^PostgresStore: pass a pg Client or Pool, or a postgres \(postgres.js\) sql function, got "postgres:/);
  const pgLike = { query: async () => ({ rows: [] }) };
  refused(() => new PostgresStore(pgLike, { table: "rollouts; drop table x" }), /table must be a lower-case SQL identifier .*got "rollouts; drop table x"/);
  refused(() => new PostgresStore(pgLike, { table: "Rollouts" }), /lower-case/);
  refused(() => new PostgresStore(pgLike, { prepare: "yes" }), /^PostgresStore: prepare must be true or false, got "yes"$/);
  // What is accepted is accepted.
  new FileStore("/tmp/x", { lockTimeoutMs: 0 });
  new RedisStore(redisLike, { prefix: "staging" });
  new PostgresStore(pgLike, { table: "rollouts_2" });
});

test("a timeout longer than a timer can wait is refused, not turned into an instant timeout", async () => {
  // Node fires a timer of more than 2^31 - 1 ms at once (with only a
  // warning): a store timeout of Infinity timed every store call out.
  const inner = new MemoryStore();
  const slow = {
    get: async (...args) => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      return inner.get(...args);
    },
    put: (...args) => inner.put(...args),
    list: (...args) => inner.list(...args),
    delete: (...args) => inner.delete(...args),
  };
  for (const options of [{ storeTimeoutMs: Infinity }, { storeTimeoutMs: 2 ** 31 }, { storeTimeoutMs: 0 }, { hookTimeoutMs: 3e9 }, { hookTimeoutMs: NaN }]) {
    assert.throws(() => new Rollouts({ store: slow, ...options }), { code: "INVALID_ARGUMENT", message: /must be a number of milliseconds from 1 to 2147483647/ });
  }
  const longest = new Rollouts({ store: slow, storeTimeoutMs: 2 ** 31 - 1, hookTimeoutMs: 2 ** 31 - 1, now: () => T0 });
  await longest.setTargetVersion("ns", "api", "v1");
  assert.equal((await longest.rolloutInfo("ns", "api")).targetVersion, "v1");
  const engine = new Orchestrator({ now: () => T0 });
  engine.setTargetVersion("ns", "api", "v1");
  await assert.rejects(engine.orchestrateAsync("ns", "api", [], { hookTimeoutMs: Infinity }), { code: "INVALID_ARGUMENT", message: /hookTimeoutMs/ });
});

describe("file store journal", () => {
  test("a record cut short by a crash is ignored and cut off by the next append", async () => {
    const { store, dir } = await servers.kinds.file();
    const base = await store.put("ns", "api", bytes(9), null);
    const first = await store.append("ns", "api", bytes(1, 1), base);
    const journal = join(dir, "ns", "api.entity.journal");
    const whole = readFileSync(journal);
    // Half a record: its revision's length, part of the revision.
    appendFileSync(journal, Buffer.from([16, 0x61, 0x62]));
    assert.deepEqual(await store.get("ns", "api"), { revision: first, bytes: bytes(9), journal: [bytes(1, 1)] });
    const second = await store.append("ns", "api", bytes(2), first);
    assert.deepEqual(await store.get("ns", "api"), { revision: second, bytes: bytes(9), journal: [bytes(1, 1), bytes(2)] });
    assert.ok(readFileSync(journal).subarray(0, whole.length).equals(whole), "the whole records stay as they were");
    // A record whose bytes stop short of its length.
    appendFileSync(journal, Buffer.concat([Buffer.from([16]), Buffer.from("0123456789abcdef"), Buffer.from([100, 0, 0, 0, 7])]));
    assert.equal((await store.get("ns", "api")).revision, second);
  });

  test("a journal a compaction left behind is ignored; a damaged one is INVALID_SNAPSHOT", async () => {
    const { store, dir } = await servers.kinds.file();
    const base = await store.put("ns", "api", bytes(9), null);
    const first = await store.append("ns", "api", bytes(1), base);
    const journal = join(dir, "ns", "api.entity.journal");
    const old = readFileSync(journal);
    const compacted = await store.put("ns", "api", bytes(8), first);
    // A crash between the checkpoint's rename and the journal's removal.
    writeFileSync(journal, old);
    assert.deepEqual(await store.get("ns", "api"), { revision: compacted, bytes: bytes(8), journal: [] });
    const next = await store.append("ns", "api", bytes(3), compacted);
    assert.deepEqual(await store.get("ns", "api"), { revision: next, bytes: bytes(8), journal: [bytes(3)] });
    writeFileSync(journal, "not a journal");
    const rollouts = new Rollouts({ store, now: () => T0 });
    await assert.rejects(rollouts.rolloutInfo("ns", "api"), (e) => e.code === "INVALID_SNAPSHOT" && /api\.entity\.journal/.test(e.message));
  });
});

describe("file store locks", () => {
  const deadPid = () => {
    const child = spawnSync(process.execPath, ["-e", "0"]);
    return child.pid;
  };

  test("a lock left by a process that died is broken; a live one is waited for, then STORE_UNAVAILABLE", async (t) => {
    const { store, dir } = await servers.kinds.file();
    const rollouts = new Rollouts({ store, now: () => T0 });
    await rollouts.setTargetVersion("ns", "api", "v1");
    const file = join(dir, "ns", "api.entity");
    writeFileSync(`${file}.lock`, String(deadPid()));
    writeFileSync(`${file}.123.abcd.tmp`, "half a write"); // what a write killed before its rename leaves
    await rollouts.setTargetVersion("ns", "api", "v2");
    assert.equal((await rollouts.rolloutInfo("ns", "api")).targetVersion, "v2");
    assert.ok(!existsSync(`${file}.lock`));
    assert.deepEqual(await store.list(), [["ns", "api"]], "a temporary file is not an entity");

    const sleeper = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"]);
    t.after(() => sleeper.kill("SIGKILL"));
    writeFileSync(`${file}.lock`, String(sleeper.pid));
    const impatient = new Rollouts({ store: new FileStore(dir, { lockTimeoutMs: 300 }), now: () => T0 });
    await assert.rejects(impatient.setTargetVersion("ns", "api", "v3"), (e) => e.code === "STORE_UNAVAILABLE" && /still held/.test(e.message));
    assert.equal((await impatient.rolloutInfo("ns", "api")).targetVersion, "v2", "nothing changed");
    sleeper.kill("SIGKILL");
    await new Promise((resolve) => sleeper.once("exit", resolve));
    await impatient.setTargetVersion("ns", "api", "v3");
    assert.equal((await rollouts.rolloutInfo("ns", "api")).targetVersion, "v3");

    // An empty lock (an older writer killed between creating it and writing
    // its pid) is waited for while young, and broken once old.
    writeFileSync(`${file}.lock`, "");
    await assert.rejects(impatient.setTargetVersion("ns", "api", "v4"), (e) => e.code === "STORE_UNAVAILABLE");
    utimesSync(`${file}.lock`, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    await impatient.setTargetVersion("ns", "api", "v4");
    assert.equal((await rollouts.rolloutInfo("ns", "api")).targetVersion, "v4");
    assert.ok(!existsSync(`${file}.lock`));
    const lockFiles = readdirSync(join(dir, "ns")).filter((f) => /\.lock$|\.break$|\.lock\.\d+\.[0-9a-f]+\.tmp$|\.break\.\d+\.[0-9a-f]+\.tmp$/.test(f));
    assert.deepEqual(lockFiles, [], "no lock, and no file a lock was written in, is left behind");
  });
});

test("file store locks are one owner file per process and directory, linked: removed at exit, a dead process's swept by the next", async () => {
  const { mkdtempSync, rmSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const dir = mkdtempSync(join(tmpdir(), "owners-"));
  try {
    const owners = () => readdirSync(join(dir, "ns")).filter((f) => f.startsWith(".owner."));
    // A process that takes locks and exits cleanly leaves nothing.
    const writer = `
      import { FileStore } from ${JSON.stringify(new URL("../../js/stores/file.mjs", import.meta.url).href)};
      const store = new FileStore(process.argv[1]);
      let revision = await store.put("ns", "a", new Uint8Array([1]), null);
      for (let i = 0; i < 5; i++) revision = await store.append("ns", "a", new Uint8Array([i]), revision);
      if (process.argv[2] === "crash") process.kill(process.pid, "SIGKILL");`;
    const run = (how) => spawnSync(process.execPath, ["--input-type=module", "-e", writer, dir, how], { stdio: "inherit" });
    assert.equal(run("exit").status, 0);
    assert.deepEqual(owners(), [], "removed at exit");
    assert.equal(run("crash").signal, "SIGKILL");
    const [dead] = owners();
    assert.match(dead ?? "", /^\.owner\.\d+\.[0-9a-f]+$/, "a killed process leaves its owner file");
    // The next process to lock in that directory sweeps it, and keeps its own while it runs.
    const store = new FileStore(dir);
    const { revision } = await store.get("ns", "a");
    assert.ok(await store.append("ns", "a", new Uint8Array([9]), revision));
    const mine = owners();
    assert.equal(mine.length, 1);
    assert.notEqual(mine[0], dead, "the dead process's owner file is gone");
    assert.equal(readFileSync(join(dir, "ns", mine[0]), "utf8").split(" ")[0], String(process.pid));
    assert.ok(!existsSync(join(dir, "ns", "a.entity.lock")), "the lock itself is let go");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("importEntity compares names as pairs: entity b/c of namespace x is not entity c of namespace x/b", async () => {
  const rollouts = new Rollouts({ store: new MemoryStore() });
  await rollouts.setTargetVersion("x", "b/c", "v1");
  await rollouts.setTargetVersion("x/b", "c", "v7");
  const other = await rollouts.exportEntity("x", "b/c");
  await assert.rejects(rollouts.importEntity("x/b", "c", other), (e) => e.code === "INVALID_SNAPSHOT" && /holds "x"\/"b\/c"/.test(e.message));
  assert.equal((await rollouts.rolloutInfo("x/b", "c")).targetVersion, "v7", "the entity is untouched");
  // Its own snapshot goes back in.
  await rollouts.importEntity("x/b", "c", await rollouts.exportEntity("x/b", "c"));
  assert.equal((await rollouts.rolloutInfo("x/b", "c")).targetVersion, "v7");
});

test("a file the file store did not write is skipped by every listing, and said; the store goes on", async () => {
  const { mkdtempSync, mkdirSync, rmSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const dir = mkdtempSync(join(tmpdir(), "stray-"));
  try {
    const warnings = [];
    const rollouts = new Rollouts({ store: new FileStore(dir, { warn: (message) => warnings.push(message) }) });
    await rollouts.setTargetVersion("prod", "api", "v1");
    writeFileSync(join(dir, "prod", "stray%zz.entity"), "not an entity");
    writeFileSync(join(dir, "prod", "a%41.entity"), "aA is written as aA, not a%41");
    mkdirSync(join(dir, "bad%zz"));
    writeFileSync(join(dir, "bad%zz", "x.entity"), "");
    assert.deepEqual(await rollouts.namespaces(), ["prod"]);
    assert.deepEqual(await rollouts.entities("prod"), ["api"]);
    await assert.rejects(rollouts.rolloutInfo("prod", "missing"), { code: "NOT_FOUND" });
    assert.ok(warnings.some((w) => w.includes("prod/stray%zz.entity")), warnings.join("\n"));
    assert.ok(warnings.some((w) => w.includes("prod/a%41.entity")));
    assert.ok(warnings.some((w) => w.includes("bad%zz/")));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a file-store write that waits past its deadline on a lock gives up having written nothing: it never lands later", async () => {
  const { mkdtempSync, rmSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const dir = mkdtempSync(join(tmpdir(), "deadline-"));
  const holder = spawn(process.execPath, ["--input-type=module", "-e", `
    import { takeLock } from ${JSON.stringify(new URL("../../js/stores/lock.mjs", import.meta.url).href)};
    if (!(await takeLock(process.argv[1]))) process.exit(3);
    console.log("held");
    setTimeout(async () => { (await import("node:fs")).unlinkSync(process.argv[1]); console.log("released"); }, 2500);
    setTimeout(() => {}, 4000);
  `, join(dir, "prod", "api.entity.lock")], { stdio: ["ignore", "pipe", "inherit"] });
  try {
    const rollouts = new Rollouts({ store: new FileStore(dir), storeTimeoutMs: 1000 });
    await rollouts.setTargetVersion("prod", "api", "v1");
    await new Promise((resolve) => holder.stdout.once("data", resolve));
    const started = Date.now();
    await assert.rejects(rollouts.setTargetVersion("prod", "api", "v2"), (e) => e.code === "STORE_UNAVAILABLE" && /nothing was changed/.test(e.message) && !/unknown/.test(e.message));
    assert.ok(Date.now() - started < 1000, "answered within the store timeout");
    // The lock is released later: the refused write does not land then.
    await new Promise((resolve) => holder.once("exit", resolve));
    const fresh = new Rollouts({ store: new FileStore(dir) });
    assert.equal((await fresh.rolloutInfo("prod", "api")).targetVersion, "v1");
  } finally {
    holder.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("names every store can hold and no other: INVALID_NAME before any store is asked, on every store", async () => {
  const { mkdtempSync, rmSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const dir = mkdtempSync(join(tmpdir(), "names-"));
  try {
    for (const store of [new MemoryStore(), new FileStore(dir)]) {
      const rollouts = new Rollouts({ store });
      // The longest name there is, in every store: 200 bytes, here of 2-byte characters.
      const longest = "é".repeat(100);
      await rollouts.setTargetVersion(longest, longest, "v1");
      assert.equal((await rollouts.rolloutInfo(longest, longest)).targetVersion, "v1");
      await rollouts.setTargetVersion(longest, longest, "v2"); // and written again (its journal)
      assert.deepEqual(await rollouts.entities(longest), [longest]);
      for (const name of ["x".repeat(201), "é".repeat(101), "a\u0000b", "new\nline", ""]) {
        for (const call of [
          () => rollouts.setTargetVersion("prod", name, "v1"),
          () => rollouts.setTargetVersion(name, "api", "v1"),
          () => rollouts.rolloutInfo("prod", name),
          () => rollouts.events(name, "api"),
          () => rollouts.revision("prod", name),
          () => rollouts.entities(name),
        ]) {
          await assert.rejects(call(), { code: "INVALID_NAME" }, JSON.stringify(name));
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
