// The packed path across the JS boundary (js/boundary.js) answers exactly
// as the plain, field-by-field one: the same answers through a whole
// rollout and rollback, any Unicode in names, and the plain path's errors
// for anything the packer does not vouch for.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Orchestrator } from "orchestrator-engine";
import { Fleet, T0 } from "./fleet.mjs";

// An enumerable field inherited from a prototype is one the packer does
// not vouch for (it reads every enumerable key): such a report goes the
// plain way, which reads own fields alone, so its content is unchanged.
const plain = (reports) => reports.map((r) => Object.assign(Object.create({ inherited: true }), r));

test("packed and plain reports get identical answers through a rollout and a rollback", () => {
  const clock = { now: T0 };
  const packed = new Orchestrator({ now: () => clock.now });
  const slow = new Orchestrator({ now: () => clock.now });
  const fleet = new Fleet(60, "v1", { groups: ["eu", "us", ""] });
  for (const e of [packed, slow]) {
    e.setRolloutOptions("prod", "app", { batchPercent: 20, successTimeoutSecs: 30, durationTimeoutSecs: 120 });
    e.setTargetVersion("prod", "app", "v1");
  }
  let sawRollback = false;
  for (let step = 0; step < 120; step++) {
    if (step === 5) for (const e of [packed, slow]) e.setTargetVersion("prod", "app", "v2");
    if (step === 40) {
      for (const h of fleet.hosts.slice(0, 20)) h.brokenOn.add("v3");
      for (const e of [packed, slow]) e.setTargetVersion("prod", "app", "v3");
    }
    const reports = fleet.reports();
    const a = packed.orchestrate("prod", "app", reports);
    const b = slow.orchestrate("prod", "app", plain(reports));
    assert.deepStrictEqual(a, b, `step ${step}`);
    assert.deepStrictEqual(Object.keys(a[0]), ["name", "group", "version", "message", "isError", "reason"]);
    assert.deepStrictEqual(packed.expectedState("prod", "app", "eu"), slow.expectedState("prod", "app", "eu"));
    sawRollback ||= a.some((e) => e.reason === "rolled_back");
    fleet.apply(a);
    clock.now += 10_000;
  }
  assert.ok(sawRollback, "the walk never rolled back");
  assert.equal(packed.rolloutInfo("prod", "app").lastKnownBadVersion, "v3");
  assert.deepStrictEqual(packed.snapshot(), slow.snapshot());
});

test("names, groups, versions and messages in any script, astral characters and lone surrogates included", () => {
  const clock = { now: T0 };
  const engine = new Orchestrator({ now: () => clock.now });
  engine.setRolloutOptions("prod", "app", { batchPercent: 100, successTimeoutSecs: 0 });
  engine.setTargetVersion("prod", "app", "v1-é");
  const names = ["ascii", "café", "中文节点", "🚀-rocket", "a\u0000b", "lone\uD800", "", "Ω"].filter(Boolean);
  const reports = names.map((name, i) => ({ name, group: i % 2 ? "zone-🌍" : "zóna", version: "v1-é", message: `ok ✓ ${name}` }));
  const answer = engine.orchestrate("prod", "app", reports);
  const expected = plain(reports).map((r) => [r.group, r.name]);
  const slow = new Orchestrator({ now: () => clock.now });
  slow.setRolloutOptions("prod", "app", { batchPercent: 100, successTimeoutSecs: 0 });
  slow.setTargetVersion("prod", "app", "v1-é");
  assert.deepStrictEqual(answer, slow.orchestrate("prod", "app", plain(reports)));
  // A lone surrogate cannot cross into UTF-8: it arrives as U+FFFD either way.
  const fixed = (s) => s.replace("\uD800", "\uFFFD");
  assert.deepStrictEqual(
    answer.map((e) => [e.group, e.name]).sort(),
    expected.map(([g, n]) => [g, fixed(n)]).sort(),
  );
  assert.ok(answer.every((e) => e.version === "v1-é"));
});

test("names of every length, reported in a new order every step: a byte per name up to 255, four beyond, the same answers as the plain way", () => {
  const clock = { now: T0 };
  const [packed, slow] = [0, 1].map(() => new Orchestrator({ now: () => clock.now }));
  // 300 targets (more than four of the packed form's marks, one per 64
  // names), named from 1 to 255 characters; for the second entity up to
  // 300, and the lengths go four bytes each.
  for (const longest of [255, 300]) {
    const app = `app-${longest}`;
    for (const e of [packed, slow]) {
      e.setRolloutOptions("prod", app, { batchPercent: 25, successTimeoutSecs: 0 });
      e.setTargetVersion("prod", app, "v1");
    }
    const names = Array.from({ length: 300 }, (_, i) => `${i}-`.padEnd(1 + ((i * 37) % longest), "x"));
    let order = names.map((_, i) => i);
    for (let step = 0; step < 6; step++) {
      if (step === 2) for (const e of [packed, slow]) e.setTargetVersion("prod", app, "v2");
      // A new order every step: names are looked up, not read in turn.
      order = order.map((i) => (i * 7 + step) % 300);
      const reports = order.map((i) => ({ name: names[i], group: `g${i % 3}`, version: "v1" }));
      const a = packed.orchestrate("prod", app, reports);
      assert.deepStrictEqual(a, slow.orchestrate("prod", app, plain(reports)), `longest ${longest}, step ${step}`);
      assert.deepStrictEqual(new Set(a.map((e) => e.name)), new Set(names));
      clock.now += 10_000;
    }
  }
  assert.deepStrictEqual(packed.snapshot(), slow.snapshot());
});

test("what the packer does not vouch for goes the plain way, with its errors, and changes nothing", () => {
  const clock = { now: T0 };
  const engine = new Orchestrator({ now: () => clock.now });
  engine.setRolloutOptions("prod", "app", { batchPercent: 50 });
  engine.setTargetVersion("prod", "app", "v1");
  const ok = { name: "a", version: "v1" };
  engine.orchestrate("prod", "app", [ok]);
  const before = engine.snapshot();
  const throwing = { version: "v1", get name() { throw new Error("boom"); } };
  const cases = [
    [[ok, throwing], /name must be a string/],
    [[ok, { name: 7, version: "v1" }], /name must be a string, got 7/],
    [[ok, { name: "b", version: "v1", group: 3 }], /group must be a string/],
    [[ok, { name: "b", version: "v1", isError: "yes" }], /isError must be a boolean/],
    [[ok, { name: "b", version: "v1", tags: [1] }], /tags must be an array of strings/],
    [[ok, null], /must be an object/],
    [[ok, { name: "x", version: "v1", extra: 1 }], /#2 of the report's 2: it has a field "extra"/],
    [[ok, ["b", "v1"]], /must be an object/],
    [[ok, { name: "a", version: "v1" }], /reported twice/],
    [[ok, { name: "", version: "v1" }], /non-empty name/],
  ];
  for (const [reports, message] of cases) {
    assert.throws(() => engine.orchestrate("prod", "app", reports), (err) => err.code === "INVALID_TARGET" && message.test(err.message));
    assert.deepStrictEqual(engine.snapshot(), before);
  }
  // A plain report is read once, by the packer (the plain path would read
  // every field again).
  let reads = 0;
  const counted = { version: "v1", get name() { reads += 1; return "c"; } };
  engine.orchestrate("prod", "app", [ok, counted]);
  assert.equal(reads, 1, "the report did not take the packed path");
  // Proxies, an answer's reason and nulls for the optional fields are fine.
  const proxy = new Proxy({ name: "p", version: "v1" }, {});
  const answer = engine.orchestrate("prod", "app", [ok, proxy, { name: "n", version: "v1", group: null, message: null, isError: null, reason: "waiting" }]);
  assert.deepStrictEqual(answer.map((e) => e.name), ["a", "c", "n", "p"]);
});

test("tags travel packed: the same answers, state and tags as the plain way, shared arrays read once; what the table cannot carry goes the plain way", () => {
  const clock = { now: T0 };
  const packed = new Orchestrator({ now: () => clock.now });
  const slow = new Orchestrator({ now: () => clock.now });
  const web = Object.freeze(["web", "eu"]);
  const tagsOf = (i) => [web, ["db"], null, [], ["a,b", "ü 🚀"], ["x", "", "y"]][i % 6];
  for (const e of [packed, slow]) {
    e.setRolloutOptions("prod", "app", { batchPercent: 50, successTimeoutSecs: 0 });
    e.setTargetVersion("prod", "app", "v1");
  }
  let versions = Array.from({ length: 30 }, () => "v0");
  for (let step = 0; step < 6; step++) {
    const reports = versions.map((version, i) => ({ name: `h${i}`, group: `g${i % 3}`, tags: tagsOf(i + step), version }));
    const a = packed.orchestrate("prod", "app", reports);
    assert.deepStrictEqual(a, slow.orchestrate("prod", "app", plain(reports)), `step ${step}`);
    const want = new Map(a.map((t) => [t.name, t.version]));
    versions = versions.map((v, i) => want.get(`h${i}`) ?? v);
    clock.now += 10_000;
  }
  assert.deepStrictEqual(packed.snapshot(), slow.snapshot());
  const expected = packed.expectedState("prod", "app");
  assert.deepStrictEqual(expected.find((t) => t.name === "h0").tags, ["x", "", "y"]);
  assert.deepStrictEqual(expected.find((t) => t.name === "h1").tags, ["web", "eu"]);
  assert.deepStrictEqual(expected.find((t) => t.name === "h2").tags, ["db"]);
  assert.equal(expected.find((t) => t.name === "h3").tags, undefined, "null: no tags kept");
  assert.equal(expected.find((t) => t.name === "h4").tags, undefined, "[]: no tags kept");

  // A tag holding the table's separator, and one empty tag alone, are kept as sent (the plain way).
  for (const tags of [["a\u001fb"], [""]]) {
    packed.orchestrate("prod", "app", [{ name: "odd", version: "v1", tags }]);
    assert.deepStrictEqual(packed.expectedState("prod", "app").find((t) => t.name === "odd").tags, tags);
  }
});
