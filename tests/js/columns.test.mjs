// `orchestrateColumns`: a report in columns and an answer aligned with it.
// It must say exactly what `orchestrate` says (row by row, whatever order
// the report is in, whichever targets it names), validate as strictly, and
// change nothing when it rejects a report.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Orchestrator } from "orchestrator-engine";
import { Fleet, T0 } from "./fleet.mjs";

const toColumns = (reports) => ({
  names: reports.map((r) => r.name),
  groups: reports.map((r) => r.group ?? ""),
  versions: reports.map((r) => r.version),
  messages: reports.map((r) => r.message ?? ""),
  isError: Uint8Array.from(reports, (r) => (r.isError ? 1 : 0)),
});

/** The aligned answer as the rows `orchestrate` would give, in its order. */
function rows(answer, reports) {
  const reported = reports.map((r, i) => ({
    name: r.name,
    group: r.group ?? "",
    version: answer.versionTable[answer.version[i]],
    message: answer.messageTable[answer.message[i]],
    isError: answer.isError[i] === 1,
    reason: answer.reasonTable[answer.reason[i]],
  }));
  const key = (e) => [e.group, e.name];
  const byKey = (a, b) => (key(a)[0] < key(b)[0] ? -1 : key(a)[0] > key(b)[0] ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  return [...reported, ...answer.others].sort(byKey);
}

function shuffle(array, seed) {
  const out = array.slice();
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

test("columns and objects get the same answers through a rollout and a rollback, in any order and any subset", () => {
  const clock = { now: T0 };
  const columns = new Orchestrator({ now: () => clock.now });
  const objects = new Orchestrator({ now: () => clock.now });
  const fleet = new Fleet(60, "v1", { groups: ["eu", "us", ""] });
  for (const e of [columns, objects]) {
    e.setRolloutOptions("prod", "app", { batchPercent: 20, successTimeoutSecs: 30, durationTimeoutSecs: 120 });
    e.setTargetVersion("prod", "app", "v1");
  }
  let sawRollback = false;
  let sawOthers = false;
  for (let step = 0; step < 120; step++) {
    if (step === 5) for (const e of [columns, objects]) e.setTargetVersion("prod", "app", "v2");
    if (step === 40) {
      for (const h of fleet.hosts.slice(0, 20)) h.brokenOn.add("v3");
      for (const e of [columns, objects]) e.setTargetVersion("prod", "app", "v3");
    }
    let reports = fleet.reports();
    // Mostly the same order (the fast path), sometimes shuffled, sometimes
    // only part of the fleet, sometimes with a newcomer.
    if (step % 7 === 3) reports = shuffle(reports, step);
    if (step % 11 === 5) reports = reports.filter((_, i) => i % 3 !== 0);
    if (step === 60) fleet.hosts.splice(30, 0, { name: "host-late", group: "eu", running: "v1", brokenOn: new Set() });
    // Every third step answers the reported targets alone (a report of
    // part of a fleet): the same rows for them, no others.
    const partOnly = step % 3 === 2;
    const aligned = columns.orchestrateColumns("prod", "app", { ...toColumns(reports), ...(partOnly ? { others: false } : {}) });
    const plain = objects.orchestrate("prod", "app", reports);
    if (partOnly) {
      assert.deepStrictEqual(aligned.others, []);
      const reported = new Set(reports.map((r) => `${r.group ?? ""}\u0000${r.name}`));
      const alone = plain.filter((e) => reported.has(`${e.group}\u0000${e.name}`));
      assert.deepStrictEqual(rows(aligned, reports), alone, `step ${step}, the reported targets alone`);
      fleet.apply(plain);
      clock.now += 10_000;
      continue;
    }
    assert.equal(aligned.version.length, reports.length);
    assert.ok(aligned.version instanceof Uint32Array && aligned.reason instanceof Uint8Array && aligned.isError instanceof Uint8Array);
    assert.deepStrictEqual(rows(aligned, reports), plain, `step ${step}`);
    sawOthers ||= aligned.others.length > 0;
    sawRollback ||= plain.some((e) => e.reason === "rolled_back");
    fleet.apply(plain);
    clock.now += 10_000;
  }
  assert.ok(sawRollback, "the walk never rolled back");
  assert.ok(sawOthers, "no report left a target out");
  assert.equal(columns.rolloutInfo("prod", "app").lastKnownBadVersion, "v3");
  assert.deepStrictEqual(columns.snapshot(), objects.snapshot());
});

test("optional columns default like optional fields, errors take booleans or 0/1, any Unicode crosses", () => {
  const clock = { now: T0 };
  const columns = new Orchestrator({ now: () => clock.now });
  const objects = new Orchestrator({ now: () => clock.now });
  for (const e of [columns, objects]) {
    e.setRolloutOptions("prod", "app", { batchPercent: 100, successTimeoutSecs: 0 });
    e.setTargetVersion("prod", "app", "v1-é");
  }
  const names = ["ascii", "café", "中文节点", "🚀-rocket", "a\u0000b", "Ω"];
  const versions = names.map(() => "v1-é");
  const aligned = columns.orchestrateColumns("prod", "app", { names, versions, isError: [false, true, 0, 1, false, false] });
  const reports = names.map((name, i) => ({ name, version: "v1-é", isError: i === 1 || i === 3 }));
  assert.deepStrictEqual(rows(aligned, reports), objects.orchestrate("prod", "app", reports));
  assert.deepStrictEqual(aligned.others, []);
});

test("blue/green: the answer names the reported targets the removal hook retires, and lists the ones a selection hook creates", () => {
  const clock = { now: T0 };
  const engine = new Orchestrator({ now: () => clock.now });
  engine.setRolloutOptions("prod", "app", { batchPercent: 50, successTimeoutSecs: 0 });
  engine.setTargetVersion("prod", "app", "v1");
  let fleet = [{ name: "blue-0", version: "v1" }, { name: "blue-1", version: "v1" }];
  const report = () => ({ names: fleet.map((h) => h.name), versions: fleet.map((h) => h.version) });
  for (let i = 0; i < 4; i++, clock.now += 10_000) engine.orchestrateColumns("prod", "app", report());
  let created = 0;
  engine.setTargetController("prod", "app", {
    select(targets, count, ctx) {
      if (ctx.rollingBack || ctx.version !== "v2") return [];
      const n = Math.min(count, 2 - created);
      return Array.from({ length: n }, () => ({ name: `green-${created++}` }));
    },
    remove: (targets, count) => targets.slice(0, count).map((t) => ({ name: t.name, group: t.group })),
  });
  engine.setTargetVersion("prod", "app", "v2");
  const removed = [];
  const joined = [];
  for (let step = 0; step < 30 && removed.length < 2; step++, clock.now += 10_000) {
    const names = fleet.map((h) => h.name);
    const answer = engine.orchestrateColumns("prod", "app", report());
    const reason = (i) => answer.reasonTable[answer.reason[i]];
    names.forEach((name, i) => reason(i) === "removed" && removed.push(name));
    fleet = fleet.filter((_, i) => reason(i) !== "removed");
    for (const e of answer.others) {
      assert.notEqual(e.reason, "removed", "a retired target the report named is answered in its row");
      joined.push(e.name);
      fleet.push({ name: e.name, version: e.version });
    }
  }
  assert.deepStrictEqual(removed.sort(), ["blue-0", "blue-1"]);
  assert.deepStrictEqual(joined.sort(), ["green-0", "green-1"]);
  // The last one retired is still answered "removed" until the next step.
  const kept = engine.expectedState("prod", "app").filter((e) => e.reason !== "removed");
  assert.deepStrictEqual(kept.map((e) => [e.name, e.version, e.reason]), [
    ["green-0", "v2", "succeeded"],
    ["green-1", "v2", "succeeded"],
  ]);
});

test("bad columns are errors with a code and a message, and change nothing", () => {
  const clock = { now: T0 };
  const engine = new Orchestrator({ now: () => clock.now });
  engine.setTargetVersion("prod", "app", "v1");
  engine.orchestrateColumns("prod", "app", { names: ["a"], versions: ["v1"] });
  const before = engine.snapshot();
  const cases = [
    [null, "INVALID_ARGUMENT", /must be an object like \{ names, versions \}, got null/],
    [[], "INVALID_ARGUMENT", /must be an object/],
    [{ names: "a", versions: ["v1"] }, "INVALID_ARGUMENT", /names must be an array of strings, got "a"/],
    [{ names: ["a"] }, "INVALID_ARGUMENT", /versions must be an array of strings, got undefined/],
    [{ names: ["a"], versions: ["v1", "v1"] }, "INVALID_ARGUMENT", /versions has 2 entries; names has 1/],
    [{ names: ["a"], versions: ["v1"], groups: [] }, "INVALID_ARGUMENT", /groups has 0 entries/],
    [{ names: ["a"], versions: ["v1"], messages: "ok" }, "INVALID_ARGUMENT", /messages must be an array of strings/],
    [{ names: ["a"], versions: ["v1"], isError: 1 }, "INVALID_ARGUMENT", /isError must be an array or typed array of flags/],
    [{ names: ["a", 7], versions: ["v1", "v1"] }, "INVALID_TARGET", /#2 of the report's 2: name must be a string, got 7/],
    [{ names: ["a", "b"], versions: ["v1", null] }, "INVALID_TARGET", /#2 of the report's 2: version must be a string, got null/],
    [{ names: ["a", "b"], versions: ["v1", "v1"], groups: ["", 3] }, "INVALID_TARGET", /group must be a string, got 3/],
    [{ names: ["a", "b"], versions: ["v1", "v1"], messages: ["", {}] }, "INVALID_TARGET", /message must be a string, got an object/],
    [{ names: ["a", "b"], versions: ["v1", "v1"], isError: [0, 2] }, "INVALID_TARGET", /#2 of the report's 2: isError must be a boolean or 0\/1, got 2/],
    [{ names: ["a", "a"], versions: ["v1", "v1"] }, "INVALID_TARGET", /reported twice/],
    [{ names: ["a", ""], versions: ["v1", "v1"] }, "INVALID_TARGET", /non-empty name/],
    [{ names: ["a", "b"], versions: ["v1", ""] }, "INVALID_TARGET", /non-empty version/],
    [{ get names() { throw new Error("boom"); }, versions: [] }, "INVALID_ARGUMENT", /could not be read/],
    [{ names: ["a"], versions: ["v1"], tags: "web" }, "INVALID_ARGUMENT", /tags must be an array of strings, got "web"/],
    [{ names: ["a"], versions: ["v1"], tags: [] }, "INVALID_ARGUMENT", /tags has 0 entries; names has 1/],
    [{ names: ["a", "b"], versions: ["v1", "v1"], tags: [null, "web"] }, "INVALID_TARGET", /#2 of the report's 2: tags must be an array of strings or null, got "web"/],
    [{ names: ["a", "b"], versions: ["v1", "v1"], tags: [null, [3]] }, "INVALID_TARGET", /#2 of the report's 2: tags must be strings/],
    [{ names: ["a", "b"], versions: ["v1", "v1"], tags: [null, ["a\u001fb"]] }, "INVALID_TARGET", /none holding U\+001F.*orchestrate takes those/],
    [{ names: ["a", "b"], versions: ["v1", "v1"], tags: [[""], null] }, "INVALID_TARGET", /#1 of the report's 2: .*one empty tag alone/],
    [{ names: ["a"], versions: ["v1"], others: "no" }, "INVALID_ARGUMENT", /others must be true or false .*got "no"/],
    [{ names: ["a"], versions: ["v1"], others: 0 }, "INVALID_ARGUMENT", /others must be true or false/],
  ];
  for (const [i, [columns, code, message]] of cases.entries()) {
    assert.throws(
      () => engine.orchestrateColumns("prod", "app", columns),
      (err) => err instanceof Error && err.code === code && message.test(err.message),
      `case ${i}`,
    );
    assert.deepStrictEqual(engine.snapshot(), before);
  }
  assert.throws(() => engine.orchestrateColumns("prod", "nope", { names: ["a"], versions: ["v1"] }), (err) => err.code === "NO_TARGET_VERSION");
});

test("reports of any size back to back are packed afresh (the packer reuses its memory from call to call)", () => {
  const clock = { now: T0 };
  const [objects, columns, plain] = [0, 1, 2].map(() => new Orchestrator({ now: () => clock.now }));
  // Large (names in several of the packer's slices, multi-byte characters
  // across their ends), then small with every optional column left out
  // (its groups, messages and flags must not be the large report's), then
  // large again.
  const large = (n, tag) =>
    Array.from({ length: n }, (_, i) => ({
      name: i % 3 ? `nœud-${tag}-${i}` : `节点${i}🚀`,
      group: i % 2 ? "zone-🌍" : "eu",
      version: "v1",
      message: i % 5 ? "running ✓" : `slow ${i}`,
      isError: i % 7 === 0,
    }));
  const small = Array.from({ length: 7 }, (_, i) => ({ name: `host-${i}`, group: "", version: "v1", message: "", isError: false }));
  const sequence = [
    ["a", large(3000, "a")],
    ["b", small],
    ["c", large(2500, "c")],
    ["b", small],
  ];
  for (const e of [objects, columns, plain]) {
    for (const entity of ["a", "b", "c"]) {
      e.setRolloutOptions("prod", entity, { batchPercent: 40 });
      e.setTargetVersion("prod", entity, "v1");
    }
  }
  for (const [entity, reports] of sequence) {
    clock.now += 10_000;
    // (An inherited enumerable field sends a report the plain way: see boundary.test.mjs.)
    const expected = plain.orchestrate("prod", entity, reports.map((r) => Object.assign(Object.create({ inherited: true }), r)));
    assert.deepStrictEqual(objects.orchestrate("prod", entity, reports), expected, entity);
    const cols = reports === small ? { names: small.map((r) => r.name), versions: small.map((r) => r.version) } : toColumns(reports);
    assert.deepStrictEqual(rows(columns.orchestrateColumns("prod", entity, cols), reports), expected, entity);
  }
  assert.deepStrictEqual(objects.snapshot(), plain.snapshot());
  assert.deepStrictEqual(columns.snapshot(), plain.snapshot());
});

test("a tags column keeps each target's tags as objects' tags do; null and [] are none", () => {
  const clock = { now: T0 };
  const [objects, columns] = [0, 1].map(() => new Orchestrator({ now: () => clock.now }));
  for (const e of [objects, columns]) {
    e.setRolloutOptions("prod", "app", { batchPercent: 100, successTimeoutSecs: 0 });
    e.setTargetVersion("prod", "app", "v1");
  }
  const shared = ["web", "eu"];
  const tags = [shared, shared, null, [], ["db", "", "x"]];
  const names = tags.map((_, i) => `h${i}`);
  objects.orchestrate("prod", "app", names.map((name, i) => ({ name, version: "v0", tags: tags[i] })));
  const answer = columns.orchestrateColumns("prod", "app", { names, versions: names.map(() => "v0"), tags });
  assert.deepStrictEqual([...answer.version].map((i) => answer.versionTable[i]), names.map(() => "v1"));
  assert.deepStrictEqual(columns.snapshot(), objects.snapshot());
  assert.deepStrictEqual(
    columns.expectedState("prod", "app").map((t) => t.tags),
    [["web", "eu"], ["web", "eu"], undefined, undefined, ["db", "", "x"]],
  );
});
