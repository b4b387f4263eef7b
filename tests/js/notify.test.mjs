// Notifications: subscriptions per entity to kinds of its events,
// delivered to receivers on loopback in every format (a generic webhook,
// Slack, Teams, Discord), checked against each one's documented payload;
// retries with backoff and the delivery log in virtual time; secrets kept
// from readers; and three replicas on Redis and on PostgreSQL delivering
// each event once, none missed.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";

import { Orchestrator } from "orchestrator-engine";
import { Rollouts } from "orchestrator-engine/rollouts";
import { MemoryStore } from "orchestrator-engine/stores";
import { Fleet, T0, drive } from "./fleet.mjs";
import { startReceiver } from "./servers/receiver.mjs";
import { storeKinds } from "./servers/stores.mjs";

const options = { batchPercent: 25, successPercent: 100, successTimeoutSecs: 30, durationTimeoutSecs: 600, errorTimeoutSecs: 10 };

/** An engine on v1 in virtual time, with `subscriptions` set. */
function established(subscriptions) {
  const clock = { now: T0 };
  const engine = new Orchestrator({ now: () => clock.now });
  const fleet = new Fleet(8, "v1");
  engine.setRolloutOptions("prod", "app", { ...options, batchPercent: 100 });
  engine.setTargetVersion("prod", "app", "v1");
  drive(engine, fleet, clock, { done: (i) => i.lastKnownGoodVersion === "v1" });
  engine.setRolloutOptions("prod", "app", options);
  if (subscriptions) engine.setNotifications("prod", "app", subscriptions);
  return { engine, fleet, clock };
}

describe("notification formats", () => {
  let receiver;
  before(async () => (receiver = await startReceiver()));
  after(() => receiver.close());

  test("a good rollout and a bad one reach every format, in order, each as its receiver documents it", async () => {
    const formats = ["webhook", "slack", "teams", "discord"];
    const { engine, fleet, clock } = established(formats.map((format) => ({ name: format, format, url: `${receiver.url}/${format}/secret-path` })));
    // Nothing from before the subscriptions.
    assert.deepEqual(await engine.deliverNotifications("prod", "app"), []);
    engine.setTargetVersion("prod", "app", "v2");
    drive(engine, fleet, clock, { done: (i) => i.lastKnownGoodVersion === "v2" });
    for (const h of fleet.hosts) h.brokenOn.add("v3");
    engine.setTargetVersion("prod", "app", "v3");
    drive(engine, fleet, clock, { done: (i) => i.lastKnownBadVersion === "v3" && fleet.runningAll("v2") });
    const results = await engine.deliverNotifications("prod", "app");
    assert.ok(results.length > 0 && results.every((r) => r.ok && r.status === 200), JSON.stringify(results));

    const byFormat = (format) => receiver.requests.filter((r) => r.path === `/${format}/secret-path`);
    const webhook = byFormat("webhook").map((r) => r.body);
    const kinds = webhook.map((b) => b.kind);
    assert.deepEqual(
      kinds.filter((k, i) => k !== kinds[i - 1]),
      ["rollout_started", "rolled_out", "rollout_started", "version_bad", "rolled_back"],
    );
    const seqs = webhook.map((b) => b.event.seq);
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), "in the order of the events");
    const events = engine.events("prod", "app");
    for (const body of webhook) {
      const event = events.find((e) => e.seq === body.event.seq);
      assert.equal(body.namespace, "prod");
      assert.equal(body.entity, "app");
      assert.equal(body.event.kind, event.kind);
      assert.equal(body.event.detail, event.detail);
      assert.equal(body.event.time, new Date(event.time).toISOString());
      assert.equal(typeof body.state.lastKnownGoodVersion, "string");
    }
    const bad = webhook.find((b) => b.kind === "version_bad");
    assert.equal(bad.event.version, "v3");
    assert.equal(bad.state.lastKnownBadVersion, "v3");

    // Slack: text (the fallback) and Block Kit blocks within their limits.
    for (const { body } of byFormat("slack")) {
      assert.equal(typeof body.text, "string");
      const [header, section, context] = body.blocks;
      assert.equal(header.type, "header");
      assert.equal(header.text.type, "plain_text");
      assert.ok(header.text.text.length <= 150);
      assert.equal(section.type, "section");
      assert.equal(section.text.type, "mrkdwn");
      assert.ok(section.text.text.length <= 3000);
      assert.equal(context.type, "context");
      assert.ok(context.elements.length <= 10 && context.elements.every((e) => e.type === "mrkdwn"));
    }
    // Teams: a message with one Adaptive Card.
    for (const { body } of byFormat("teams")) {
      assert.equal(body.type, "message");
      assert.equal(body.attachments.length, 1);
      const [card] = body.attachments;
      assert.equal(card.contentType, "application/vnd.microsoft.card.adaptive");
      assert.equal(card.content.type, "AdaptiveCard");
      assert.equal(card.content.$schema, "http://adaptivecards.io/schemas/adaptive-card.json");
      assert.match(card.content.version, /^1\.\d$/);
      assert.deepEqual(card.content.body.map((b) => b.type), ["TextBlock", "TextBlock", "FactSet"]);
      assert.ok(card.content.body[2].facts.every((f) => typeof f.title === "string" && typeof f.value === "string"));
    }
    // Discord: one embed within its limits, mentions off.
    for (const { body } of byFormat("discord")) {
      assert.deepEqual(body.allowed_mentions, { parse: [] });
      const [embed] = body.embeds;
      assert.ok(embed.title.length <= 256 && embed.description.length <= 4096);
      assert.ok(Number.isInteger(embed.color));
      assert.ok(!Number.isNaN(Date.parse(embed.timestamp)));
      assert.ok(embed.fields.length <= 25 && embed.fields.every((f) => f.name.length <= 256 && f.value.length <= 1024));
      const total = embed.title.length + embed.description.length + embed.fields.reduce((n, f) => n + f.name.length + f.value.length, 0);
      assert.ok(total <= 6000);
    }
    const badDiscord = byFormat("discord").find((r) => r.body.embeds[0].title.startsWith("Version bad"));
    assert.equal(badDiscord.body.embeds[0].color, 0xd73a49);
    // Every format had every notification, each with its own key.
    for (const format of formats) assert.equal(byFormat(format).length, webhook.length, format);
    const keys = receiver.requests.map((r) => r.headers["idempotency-key"]);
    assert.equal(new Set(keys).size, keys.length);
    assert.ok(receiver.requests.every((r) => r.headers["content-type"] === "application/json"));
    // Delivered: the outbox is empty, the log says so.
    const state = engine.notifications("prod", "app");
    assert.deepEqual(state.pending, []);
    assert.ok(state.log.slack.every((e) => e.outcome === "delivered" && e.status === 200));
  });

  test("markup in a version or message is escaped for Slack and mentions nobody on Discord", async () => {
    const { engine, fleet, clock } = established([
      { name: "s", format: "slack", url: `${receiver.url}/escape/slack`, kinds: ["rollout_started"] },
      { name: "d", format: "discord", url: `${receiver.url}/escape/discord`, kinds: ["rollout_started"] },
    ]);
    engine.setTargetVersion("prod", "app", "<!channel>&@everyone");
    engine.orchestrate("prod", "app", fleet.reports());
    clock.now += 1000;
    await engine.deliverNotifications("prod", "app");
    const slack = receiver.requests.find((r) => r.path === "/escape/slack").body;
    assert.ok(!slack.text.includes("<!channel>"));
    assert.match(slack.blocks[2].elements.map((e) => e.text).join(" "), /&lt;!channel&gt;&amp;@everyone/);
    const discord = receiver.requests.find((r) => r.path === "/escape/discord").body;
    assert.deepEqual(discord.allowed_mentions, { parse: [] });
  });
});

test("an engine in memory keeps a namespace's subscriptions in its snapshot and tells them of every entity of it", async () => {
  const receiver = await startReceiver();
  try {
    const { engine, clock } = established();
    engine.setRolloutOptions("prod", "web", { ...options, batchPercent: 100 });
    engine.setTargetVersion("prod", "web", "w1");
    clock.now += 1000;
    assert.equal(engine.setNotifications("prod", null, [{ name: "prod", url: `${receiver.url}/prod`, kinds: ["rollout_started"] }]), true);
    assert.equal(engine.setNotifications("prod", null, [{ name: "prod", url: `${receiver.url}/prod`, kinds: ["rollout_started"] }]), false);
    assert.deepEqual(engine.notifications("prod").subscriptions.map((sub) => [sub.name, sub.since]), [["prod", clock.now]]);
    clock.now += 1000;
    engine.setTargetVersion("prod", "app", "v2");
    engine.setTargetVersion("prod", "web", "w2");
    const restored = Orchestrator.restore(engine.snapshot(), { now: () => clock.now });
    for (const entity of ["app", "web"]) await restored.deliverNotifications("prod", entity);
    assert.deepEqual(receiver.requests.map((r) => `${r.body.entity} ${r.body.event.version}`).sort(), ["app v2", "web w2"], "nothing from before it was set");
    assert.deepEqual(restored.notifications("prod", "app").log["namespace:prod"].map((e) => e.outcome), ["delivered"]);
    assert.equal(restored.setNotifications("prod", null, null), true);
    assert.deepEqual(restored.notifications("prod"), { subscriptions: [] });
    restored.free();
  } finally {
    await receiver.close();
  }
});

describe("retries and the delivery log", () => {
  test("a receiver that fails is retried with backoff in virtual time; a refusal is not retried; steps never wait", async () => {
    // /flaky answers 503 twice, then 200; /gone answers 404.
    const receiver = await startReceiver((req, n) => (req.path === "/gone" ? 404 : req.path === "/flaky" && n <= 2 ? 503 : 200));
    const closed = await startReceiver();
    await closed.close(); // a port nothing listens on
    try {
      const { engine, fleet, clock } = established([
        { name: "flaky", url: `${receiver.url}/flaky`, kinds: ["rollout_started"] },
        { name: "gone", url: `${receiver.url}/gone`, kinds: ["rollout_started"] },
        { name: "down", url: `${closed.url}/down`, kinds: ["rollout_started"], maxAttempts: 2, timeoutMs: 2000 },
      ]);
      engine.setTargetVersion("prod", "app", "v2");
      const first = await engine.deliverNotifications("prod", "app");
      assert.deepEqual(first.map((r) => [r.id.split("/")[1], r.ok, r.status]).sort(), [["down", false, undefined], ["flaky", false, 503], ["gone", false, 404]]);
      let state = engine.notifications("prod", "app");
      assert.deepEqual(state.log.gone.map((e) => e.outcome), ["failed"]);
      assert.match(state.log.gone[0].error, /answered 404/);
      assert.deepEqual(state.pending.map((p) => p.subscription).sort(), ["down", "flaky"]);
      // Not due yet: nothing is sent again.
      assert.deepEqual(await engine.deliverNotifications("prod", "app"), []);
      // Steps go on whatever the receivers do.
      drive(engine, fleet, clock, { done: () => true, stepMs: 1000 });
      clock.now += 1300; // past the first backoff (1 s, up to a quarter more)
      const second = await engine.deliverNotifications("prod", "app");
      assert.deepEqual(second.map((r) => r.ok), [false, false]);
      state = engine.notifications("prod", "app");
      assert.deepEqual(state.log.down.map((e) => e.outcome), ["retrying", "failed"], "two attempts, as it asked");
      assert.ok(!JSON.stringify(state).includes("/down"), "no more of a receiver than its origin");
      clock.now += 2600; // past the second backoff (2 s)
      const third = await engine.deliverNotifications("prod", "app");
      assert.deepEqual(third.map((r) => [r.ok, r.status]), [[true, 200]]);
      state = engine.notifications("prod", "app");
      assert.deepEqual(state.log.flaky.map((e) => [e.outcome, e.attempts, e.status]), [["retrying", 1, 503], ["retrying", 2, 503], ["delivered", 3, 200]]);
      assert.deepEqual(state.pending, []);
      // The same notification each time: one key, three attempts.
      const keys = new Set(receiver.requests.filter((r) => r.path === "/flaky").map((r) => r.headers["idempotency-key"]));
      assert.equal(keys.size, 1);
    } finally {
      await receiver.close();
    }
  });
});

describe("subscriptions", () => {
  test("readers never see a receiver's path or header values; bad subscriptions are refused whole", async () => {
    const { engine } = established([
      { name: "chat", format: "slack", url: "https://hooks.slack.example/services/T0/B0/SECRET", kinds: ["version_bad", "rolled_back"] },
      { name: "hook", url: "https://ci.example/notify?token=SECRET", headers: { Authorization: "Bearer SECRET" } },
    ]);
    const shown = engine.notifications("prod", "app");
    assert.ok(!JSON.stringify(shown).includes("SECRET"), JSON.stringify(shown));
    assert.deepEqual(shown.subscriptions[0], {
      name: "chat",
      url: "https://hooks.slack.example/[redacted]",
      format: "slack",
      kinds: ["version_bad", "rolled_back"],
      timeoutMs: 10000,
      maxAttempts: 6,
    });
    assert.deepEqual(shown.subscriptions[1].headers, { authorization: "[redacted]" });
    assert.deepEqual(shown.subscriptions[1].kinds.length, 9, "the default kinds");
    const before = engine.snapshot();
    const refused = [
      [{ name: "x", url: "ftp://example.com/" }, /must be an http or https URL/],
      [{ name: "x", url: "https://u:p@example.com/" }, /holds credentials/],
      [{ name: "x", url: "https://example.com/", format: "pager" }, /format: must be one of webhook, slack, teams, discord/],
      [{ name: "x", url: "https://example.com/", kinds: ["target_failed"] }, /"target_failed" is not a kind/],
      [{ name: "x y", url: "https://example.com/" }, /name: must be 1 to 64/],
      [{ name: "x", url: "https://example.com/", maxAttempts: 0 }, /maxAttempts/],
      [{ name: "x", url: "https://example.com/", secret: "s" }, /"secret" is not a field|secret: is not a field/],
    ];
    for (const [sub, message] of refused) {
      assert.throws(() => engine.setNotifications("prod", "app", [sub]), (e) => e.code === "INVALID_ARGUMENT" && message.test(e.message), JSON.stringify(sub));
    }
    assert.throws(() => engine.setNotifications("prod", "app", [{ name: "a", url: "https://e.example/" }, { name: "a", url: "https://e.example/" }]), /names two/);
    assert.throws(() => engine.setNotifications("prod", "app", Array.from({ length: 17 }, (_, i) => ({ name: `s${i}`, url: "https://e.example/" }))), /at most 16/);
    assert.deepEqual(engine.snapshot(), before, "nothing half-applied");
    // Removing them all forgets them.
    assert.equal(engine.setNotifications("prod", "app", null), true);
    assert.deepEqual(engine.notifications("prod", "app"), { subscriptions: [], pending: [], log: {} });
  });

  test("Rollouts keeps subscriptions with the entity, checks their hosts, and exports them redacted", async () => {
    const rollouts = new Rollouts({ store: new MemoryStore(), allowHookHosts: ["*.example.com"] });
    await assert.rejects(
      rollouts.setNotifications("prod", "app", [{ name: "x", url: "https://elsewhere.test/hook" }]),
      (e) => e.code === "INVALID_ARGUMENT" && /not among the hosts/.test(e.message),
    );
    assert.equal(await rollouts.setNotifications("prod", "app", [{ name: "x", url: "https://hooks.example.com/T/B/SECRET" }]), true);
    assert.equal(await rollouts.setNotifications("prod", "app", [{ name: "x", url: "https://hooks.example.com/T/B/SECRET" }]), false, "the same again changes nothing");
    const redacted = Orchestrator.restore(await rollouts.exportEntity("prod", "app", { redact: true }));
    assert.ok(!JSON.stringify(redacted.notifications("prod", "app")).includes("SECRET"));
    assert.ok(!redacted.__notificationSettings("prod", "app").includes("SECRET"));
    redacted.free();
    const whole = await rollouts.exportEntity("prod", "app");
    const other = new Rollouts({ store: new MemoryStore(), allowHookHosts: ["ci.internal"] });
    await assert.rejects(other.importEntity("prod", "app", whole), (e) => e.code === "INVALID_ARGUMENT" && /hooks\.example\.com/.test(e.message));
  });
});

describe("three replicas deliver each notification once", () => {
  let servers;
  before(async () => (servers = await storeKinds()));
  after(() => servers?.stop());

  test("on redis (ioredis): a namespace's subscription hears every entity of it from the time it was set, each event once", async () => {
    const receiver = await startReceiver();
    const { store, close } = await servers.kinds["redis (ioredis)"]();
    const clock = { now: T0 };
    const replicas = [0, 1, 2].map(() => new Rollouts({ store, now: () => clock.now, namespaceCacheMs: 0 }));
    const fleets = { api: new Fleet(6, "v1"), web: new Fleet(6, "v1") };
    const [first] = replicas;
    try {
      const step = async () => {
        for (const entity of ["api", "web"]) {
          const answers = await Promise.all(replicas.map((r) => r.orchestrate("prod", entity, fleets[entity].reports())));
          fleets[entity].apply(answers.at(-1));
        }
        clock.now += 5000;
      };
      for (const entity of ["api", "web"]) {
        await first.setRolloutOptions("prod", entity, { ...options, batchPercent: 100 });
        await first.setTargetVersion("prod", entity, "v1");
      }
      while ((await first.rolloutInfo("prod", "web")).lastKnownGoodVersion !== "v1") await step();
      clock.now += 1000;
      await replicas[2].setNotifications("prod", null, [{ name: "prod-deploys", url: `${receiver.url}/prod`, kinds: ["rollout_started", "rolled_out"] }]);
      assert.deepEqual((await first.notifications("prod")).subscriptions.map((sub) => sub.name), ["prod-deploys"]);
      clock.now += 1000;
      for (const entity of ["api", "web"]) await replicas[1].setTargetVersion("prod", entity, "v2");
      while ((await first.rolloutInfo("prod", "api")).lastKnownGoodVersion !== "v2" || (await first.rolloutInfo("prod", "web")).lastKnownGoodVersion !== "v2") await step();
      await Promise.all(replicas.map((r) => r.notificationsSettled()));
      const told = receiver.requests.map((r) => `${r.body.entity} ${r.body.kind} ${r.body.event.version}`).sort();
      assert.deepEqual(told, ["api rolled_out v2", "api rollout_started v2", "web rolled_out v2", "web rollout_started v2"], "each once, nothing from before it was set");
      const log = (await first.notifications("prod", "api")).log["namespace:prod-deploys"];
      assert.deepEqual(log.map((e) => e.outcome), ["delivered", "delivered"]);
      // Removed: nothing more is told.
      await first.setNotifications("prod", null, []);
      await first.setTargetVersion("prod", "api", "v3");
      await step();
      await Promise.all(replicas.map((r) => r.notificationsSettled()));
      assert.equal(receiver.requests.length, 4);
    } finally {
      await receiver.close();
      await close();
    }
  });

  for (const kind of ["redis (node-redis)", "postgres (pg)"]) {
    test(`on ${kind}: a rollout and a rollback, stepped by three at once, nothing twice, nothing missed`, async () => {
      // Every fourth request fails with 503: retries cross replicas too.
      let requests = 0;
      const receiver = await startReceiver(() => (++requests % 4 === 0 ? 503 : 200));
      const { store, close } = await servers.kinds[kind]();
      const clock = { now: T0 };
      const replicas = [0, 1, 2].map(() => new Rollouts({ store, now: () => clock.now }));
      try {
        const [first] = replicas;
        const fleet = new Fleet(12, "v1");
        await first.setRolloutOptions("prod", "app", { ...options, batchPercent: 100 });
        await first.setTargetVersion("prod", "app", "v1");
        const step = async () => {
          const answers = await Promise.all(replicas.map((r) => r.orchestrate("prod", "app", fleet.reports())));
          fleet.apply(answers.at(-1));
          clock.now += 5000;
        };
        while ((await first.rolloutInfo("prod", "app")).lastKnownGoodVersion !== "v1") await step();
        await first.setRolloutOptions("prod", "app", options);
        await replicas[1].setNotifications("prod", "app", [{ name: "all", url: `${receiver.url}/all`, kinds: ["rollout_started", "step_started", "version_bad", "rollback_started", "rolled_back", "rolled_out"], maxAttempts: 20 }]);
        await replicas[2].setTargetVersion("prod", "app", "v2");
        while ((await first.rolloutInfo("prod", "app")).lastKnownGoodVersion !== "v2") await step();
        for (const h of fleet.hosts) h.brokenOn.add("v3");
        await first.setTargetVersion("prod", "app", "v3");
        while (!fleet.runningAll("v2") || (await first.rolloutInfo("prod", "app")).lastKnownBadVersion !== "v3") await step();
        // The retries still waiting, swept until none waits.
        for (let round = 0; round < 40; round++) {
          await Promise.all(replicas.map((r) => r.notificationsSettled()));
          if ((await first.notifications("prod", "app")).pending.length === 0) break;
          clock.now += 60_000;
          await Promise.all(replicas.map((r) => r.deliverNotifications("prod", "app")));
        }
        await Promise.all(replicas.map((r) => r.notificationsSettled()));
        const state = await first.notifications("prod", "app");
        assert.deepEqual(state.pending, []);
        const delivered = receiver.requests.map((r) => r.body.event.seq);
        assert.equal(new Set(delivered).size, delivered.length, `nothing twice: ${delivered.join(", ")}`);
        const kinds = new Set(["version_set", "step_started", "version_bad", "rollback_started", "rollback_finished", "version_good"]);
        // Every event of those kinds since the subscription (set before v2).
        const v2 = (await first.events("prod", "app")).find((e) => e.kind === "version_set" && e.version === "v2").seq;
        const expected = (await first.events("prod", "app")).filter((e) => kinds.has(e.kind) && e.seq >= v2).map((e) => e.seq);
        assert.deepEqual(delivered.sort((a, b) => a - b), expected, "nothing missed");
        assert.ok(delivered.length >= 6, `${delivered.length} delivered`);
        assert.ok(receiver.requests.some((r) => r.body.kind === "rolled_back"));
        const retried = receiver.requests.length;
        assert.ok(requests > retried, `some deliveries were retried (${requests} requests, ${retried} delivered)`);
      } finally {
        await receiver.close();
        await close();
      }
    });
  }
});
