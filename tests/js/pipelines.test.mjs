// Promotion pipelines through the package: an engine in memory that holds
// every stage promotes by itself; `Rollouts` reads each upstream from the
// store and promotes with the downstream's compare-and-swap, so three
// replicas on Redis and on PostgreSQL stepping every stage at once promote
// each version once, and say so once.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";

import { Orchestrator } from "orchestrator-engine";
import { Rollouts } from "orchestrator-engine/rollouts";
import { MemoryStore } from "orchestrator-engine/stores";
import { Fleet, T0, drive } from "./fleet.mjs";
import { startReceiver } from "./servers/receiver.mjs";
import { storeKinds } from "./servers/stores.mjs";

const options = { batchPercent: 50, successPercent: 100, successTimeoutSecs: 30, durationTimeoutSecs: 600 };

test("an engine in memory promotes from staging to prod by itself, after approval, and says why it waits", () => {
  const clock = { now: T0 };
  const engine = new Orchestrator({ now: () => clock.now });
  const fleets = { staging: new Fleet(4, "v1"), prod: new Fleet(4, "v1") };
  for (const ns of ["staging", "prod"]) {
    engine.setRolloutOptions(ns, "api", { ...options, batchPercent: 100 });
    engine.setTargetVersion(ns, "api", "v1");
    drive(engine, fleets[ns], clock, { ns, entity: "api", done: (i) => i.lastKnownGoodVersion === "v1" });
    engine.setRolloutOptions(ns, "api", options);
  }
  assert.equal(engine.setPipeline("prod", "api", { from: ["staging/api"], soakSecs: 60, approval: true }), true);
  engine.setTargetVersion("staging", "api", "v2");
  const both = () => {
    for (const ns of ["staging", "prod"]) fleets[ns].apply(engine.orchestrate(ns, "api", fleets[ns].reports()));
    clock.now += 10_000;
  };
  while (engine.rolloutInfo("staging", "api").lastKnownGoodVersion !== "v2") both();
  both();
  assert.match(engine.pipeline("prod", "api").waiting, /^v2 soaks in staging\/api until /);
  for (let i = 0; i < 8; i++) both();
  const waiting = engine.pipeline("prod", "api");
  assert.equal(waiting.waiting, "the promotion of v2 from staging/api awaits approval");
  assert.deepEqual(waiting.pipeline, { from: ["staging/api"], all: false, soakSecs: 60, approval: true, verification: null });
  assert.equal(waiting.upstreams[0].good, "v2");
  assert.equal(engine.rolloutInfo("prod", "api").targetVersion, "v1");
  assert.equal(engine.approvePromotion("prod", "api", "v2"), true);
  both();
  assert.equal(engine.rolloutInfo("prod", "api").targetVersion, "v2");
  const promoted = engine.events("prod", "api").filter((e) => e.kind === "version_promoted");
  assert.equal(promoted.length, 1);
  assert.match(promoted[0].detail, /^promoted from staging\/api, good there since /);
  // Bad input is refused whole.
  for (const [pipeline, message] of [
    [{ from: "staging/api" }, /pipeline\.from: must be an array/],
    [{ from: ["prod/api"] }, /the entity itself/],
    [{ from: ["a/b"], soakSecs: -1 }, /soakSecs/],
    [{ from: ["a/b"], approval: "yes" }, /approval: must be true or false/],
  ]) {
    assert.throws(() => engine.setPipeline("prod", "api", pipeline), (e) => e.code === "INVALID_ARGUMENT" && message.test(e.message), JSON.stringify(pipeline));
  }
  assert.deepEqual(engine.pipeline("prod", "api").pipeline.from, ["staging/api"]);
});

describe("three replicas promote each version once", () => {
  let servers;
  before(async () => (servers = await storeKinds()));
  after(() => servers?.stop());

  for (const kind of ["redis (node-redis)", "postgres (pg)"]) {
    test(`on ${kind}: staging -> canary -> prod, every stage stepped by three at once`, async () => {
      const receiver = await startReceiver();
      const { store, close } = await servers.kinds[kind]();
      const clock = { now: T0 };
      const replicas = [0, 1, 2].map(() => new Rollouts({ store, now: () => clock.now }));
      const stages = ["staging", "canary", "prod"];
      const fleets = Object.fromEntries(stages.map((ns) => [ns, new Fleet(6, "v1")]));
      const [first] = replicas;
      try {
        for (const ns of stages) {
          await first.setRolloutOptions(ns, "api", { ...options, batchPercent: 100 });
          await first.setTargetVersion(ns, "api", "v1");
        }
        const step = async () => {
          for (const ns of stages) {
            const answers = await Promise.all(replicas.map((r) => r.orchestrate(ns, "api", fleets[ns].reports())));
            fleets[ns].apply(answers.at(-1));
          }
          clock.now += 10_000;
        };
        const good = async (ns, v) => (await first.rolloutInfo(ns, "api")).lastKnownGoodVersion === v;
        while (!(await good("prod", "v1"))) await step();
        for (const ns of stages) await first.setRolloutOptions(ns, "api", options);
        await replicas[1].setPipeline("canary", "api", { from: ["staging/api"] });
        await replicas[2].setPipeline("prod", "api", { from: ["canary/api"], soakSecs: 30 });
        await first.setNotifications("prod", "api", [{ name: "deploys", url: `${receiver.url}/deploys`, kinds: ["promoted"] }]);
        await first.setTargetVersion("staging", "api", "v2");
        for (let i = 0; i < 200 && !(await good("prod", "v2")); i++) await step();
        assert.ok(await good("prod", "v2"), JSON.stringify(await first.pipeline("prod", "api")));
        for (let i = 0; i < 10; i++) await step();
        await Promise.all(replicas.map((r) => r.notificationsSettled()));
        for (const ns of ["canary", "prod"]) {
          const promoted = (await first.events(ns, "api")).filter((e) => e.kind === "version_promoted");
          assert.deepEqual(promoted.map((e) => e.version), ["v2"], `${ns}: promoted once`);
          const rollouts = (await first.history(ns, "api")).filter((r) => r.version === "v2");
          assert.equal(rollouts.length, 1, `${ns}: rolled out once`);
        }
        assert.deepEqual(receiver.requests.map((r) => [r.body.kind, r.body.event.version]), [["promoted", "v2"]], "told once");
        // The view: every stage, upstream first, with what it runs.
        const view = await replicas[1].pipeline("prod", "api");
        assert.deepEqual(view.stages.map((s) => [s.name, s.rollingVersion, s.lastKnownGoodVersion]), [
          ["staging/api", "v2", "v2"],
          ["canary/api", "v2", "v2"],
          ["prod/api", "v2", "v2"],
        ]);
        assert.deepEqual(view.stages[2].from, ["canary/api"]);
        assert.deepEqual(view.promoted, ["v2"]);
      } finally {
        await receiver.close();
        await close();
      }
    });
  }
});

test("Rollouts: a pipeline from an entity no store holds waits and says so; a hotfix by hand holds it until released", async () => {
  const clock = { now: T0 };
  const rollouts = new Rollouts({ store: new MemoryStore(), now: () => clock.now });
  await rollouts.setTargetVersion("prod", "api", "v1");
  await rollouts.setPipeline("prod", "api", { from: ["staging/api"] });
  assert.equal((await rollouts.pipeline("prod", "api")).waiting, "upstream staging/api does not exist");
  assert.deepEqual((await rollouts.pipeline("prod", "api")).stages.map((s) => [s.name, s.found]), [["staging/api", false], ["prod/api", true]]);
  await rollouts.setTargetVersion("prod", "api", "v1-hotfix");
  assert.equal((await rollouts.pipeline("prod", "api")).held, "v1-hotfix");
  assert.equal(await rollouts.releasePipeline("prod", "api"), true);
  assert.equal((await rollouts.pipeline("prod", "api")).held, null);
  await assert.rejects(rollouts.pipeline("prod", "nothing"), (e) => e.code === "NOT_FOUND");
});

test("Rollouts: a verification measures each version here before promoting it (the provider is asked about that version); one that fails is never promoted", async () => {
  const clock = { now: T0 };
  const asked = [];
  const functions = { errors: ({ version }) => (asked.push(version), { value: version === "v3" ? 0.4 : 0.01, query: `errors{version="${version}"}` }) };
  const rollouts = new Rollouts({ store: new MemoryStore(), now: () => clock.now, metrics: { functions }, allowHookHosts: ["metrics.example.com"] });
  const fleets = { staging: new Fleet(4, "v1"), prod: new Fleet(4, "v1") };
  const step = async (ns) => {
    fleets[ns].apply(await rollouts.orchestrate(ns, "api", fleets[ns].reports()));
    clock.now += 10_000;
  };
  for (const ns of ["staging", "prod"]) {
    await rollouts.setRolloutOptions(ns, "api", { ...options, batchPercent: 100 });
    await rollouts.setTargetVersion(ns, "api", "v1");
    while ((await rollouts.rolloutInfo(ns, "api")).lastKnownGoodVersion !== "v1") await step(ns);
  }
  const verification = { metrics: [{ name: "error-rate", interval: "10s", count: 2, successCondition: "result < 0.05", provider: { function: { name: "errors" } } }] };
  // Where a verification measures is checked as analysis is.
  const elsewhere = { metrics: [{ ...verification.metrics[0], provider: { prometheus: { address: "http://10.0.0.8:9090", query: "up" } } }] };
  await assert.rejects(rollouts.setPipeline("prod", "api", { from: ["staging/api"], verification: elsewhere }), (e) => e.code === "INVALID_ARGUMENT" && /pipeline\.verification\.metrics\[0\]\.provider/.test(e.message));
  await rollouts.setPipeline("prod", "api", { from: ["staging/api"], verification });
  for (const [version, promoted] of [["v2", true], ["v3", false]]) {
    await rollouts.setTargetVersion("staging", "api", version);
    while ((await rollouts.rolloutInfo("staging", "api")).lastKnownGoodVersion !== version) await step("staging");
    for (let i = 0; i < 12; i++) {
      await step("prod");
      await step("staging");
    }
    assert.equal((await rollouts.rolloutInfo("prod", "api")).targetVersion === version, promoted, version);
    assert.ok(asked.includes(version), `${version} was measured`);
  }
  const view = await rollouts.pipeline("prod", "api");
  assert.match(view.waiting, /^v3 failed its verification here \(failed: /);
  const runs = (await rollouts.analysis("prod", "api")).filter((r) => r.kind === "verification");
  assert.deepEqual(runs.map((r) => [r.version, r.phase]), [["v2", "successful"], ["v3", "failed"]]);
  assert.equal((await rollouts.rolloutInfo("prod", "api")).lastKnownBadVersion, "", "nothing here was judged by it");
});
