// A fleet simulated in virtual time around the real engine: the browser
// simulator (www/) and the terminal simulator (bin/) both run this. The
// engine is whatever `Orchestrator` class the caller passes (the wasm
// package); only the fleet (targets that obey the engine, some of them
// badly) is modelled here.
//
// Determinism: a target's behaviour on a version is a hash of the seed, the
// target and the version, so the same scenario always gives the same run,
// and a run saved with `save()` and continued with `Simulation.load()`
// reaches exactly the end state the uninterrupted run reaches.

export const NAMESPACE = "simulation";
export const ENTITY = "service";
const FORMAT = "orchestrator-engine/simulation";
const FORMAT_VERSION = 1;
const T0 = Date.UTC(2026, 0, 1);
const LOG_LIMIT = 2000;
const TIMELINE_LIMIT = 4000;
const SAMPLE_NAMES = 4;

/** The failure kinds a share of targets can be given per version. */
export const FAILURE_KINDS = Object.freeze(["unhealthy", "late", "flap", "stuck"]);

/** Reasons that mean a target is moving (occupies a batch slot). */
const MOVING = new Set(["in_flight", "rolled_back"]);

/** How each outcome reads in a sentence ("v2 rolled back"). */
export const OUTCOME_TEXT = Object.freeze({
  rolled_out: "rolled out",
  rolled_back: "rolled back",
  halted: "halted",
  unsettled: "did not settle",
});

/**
 * Targets in flight (moving to the version rolled out: what the batch
 * bounds), rolling back (sent back from a bad version: what the rollback
 * pace bounds) and failed, from reason counts (a summary's `reasons`).
 */
export function tally(reasons) {
  let failed = 0;
  for (const [reason, n] of Object.entries(reasons)) if (reason.startsWith("failed_")) failed += n;
  return { inFlight: reasons.in_flight ?? 0, rollingBack: reasons.rolled_back ?? 0, failed };
}

export const DEFAULT_SCENARIO = Object.freeze({
  targets: 2000,
  groups: ["eu-west", "eu-north", "us-east", "ap-south"],
  options: { batchPercent: 10, successPercent: 95, successTimeoutSecs: 60, durationTimeoutSecs: 300 },
  versions: { current: "v1", target: "v2", next: "v3" },
  // Per version: shares (0..1) of targets that never become healthy, that
  // fail after looking healthy, that flap, and that never report it.
  failures: {},
  reportDelaySecs: 20,
  stepSecs: 10,
  flapSecs: 30,
  maxSecs: 2 * 86_400,
  seed: 1,
  // Scheduled operator actions: [{ atSecs, kind, version? }], kind one of
  // CONTROLS (set, force and rollbackTo take a version).
  actions: [],
});

/**
 * A plan written as text, as both simulators take it:
 * "1:600,10%,50%:approve,100%" is a step of 1 target baking 600 s, one of
 * 10%, one of 50% behind an approval gate, then the rest. The engine
 * validates the plan itself (INVALID_OPTIONS).
 */
export function parseSteps(text) {
  return String(text).split(",").map((item) => {
    const [size, ...rest] = item.trim().split(":");
    const step = { size: parseAmount(size, "a step's size") };
    for (const part of rest) {
      if (part === "approve") step.approval = true;
      else if (/^\d+$/.test(part)) step.bakeSecs = Number(part);
      else fail(`step ${JSON.stringify(item.trim())} must look like SIZE[:BAKESECS][:approve]`);
    }
    return step;
  });
}

/** The text `parseSteps` reads, for a plan as the engine answers it. */
export function formatSteps(steps) {
  return steps
    .map((s) => (typeof s === "object" ? `${s.size}${s.bakeSecs ? `:${s.bakeSecs}` : ""}${s.approval ? ":approve" : ""}` : `${s}`))
    .join(",");
}

/** A count ("12") or a percentage ("10%"), as the engine takes it. */
export function parseAmount(text, what = "an amount") {
  const t = String(text).trim();
  if (/^\d+$/.test(t)) return Number(t);
  if (/^\d+%$/.test(t)) return t;
  return fail(`${what} must be a count like 5 or a percentage like 10%, got ${JSON.stringify(t)}`);
}

/** The operator's actions a scenario can schedule (and a viewer can take). */
export const CONTROLS = Object.freeze(["set", "force", "pause", "resume", "abort", "retry", "promote", "promoteFull", "approve", "rollbackTo"]);
const WITH_VERSION = new Set(["set", "force", "rollbackTo"]);

/** A scenario that cannot be simulated. `code` is always INVALID_SCENARIO. */
export class ScenarioError extends Error {
  constructor(message) {
    super(message);
    this.name = "ScenarioError";
    this.code = "INVALID_SCENARIO";
  }
}

const fail = (message) => {
  throw new ScenarioError(message);
};

function integer(value, field, min, max) {
  if (!Number.isInteger(value) || value < min || value > max) {
    fail(`${field} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}

function versionName(value, field) {
  if (typeof value !== "string" || value.trim() === "" || value !== value.trim()) {
    fail(`${field} must be a non-empty version name without surrounding spaces, got ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * The scenario with defaults filled in, validated. Rollout options are
 * passed to the engine as they are, so the engine's own validation
 * (INVALID_OPTIONS) judges them.
 */
export function normalizeScenario(input = {}) {
  if (input === null || typeof input !== "object" || Array.isArray(input)) fail("a scenario must be an object");
  const known = new Set(Object.keys(DEFAULT_SCENARIO));
  for (const key of Object.keys(input)) if (!known.has(key)) fail(`unknown scenario field ${JSON.stringify(key)}`);
  const s = { ...DEFAULT_SCENARIO, ...input };
  integer(s.targets, "targets", 1, 1_000_000);
  if (!Array.isArray(s.groups) || s.groups.length === 0 || s.groups.length > 1000) {
    fail("groups must be a list of 1 to 1000 names");
  }
  const groups = s.groups.map((g, i) => {
    if (typeof g !== "string") fail(`groups[${i}] must be a string, got ${JSON.stringify(g)}`);
    return g.trim();
  });
  if (new Set(groups).size !== groups.length) fail(`groups must be distinct, got ${groups.join(", ")}`);
  const options = { ...s.options };
  const versions = { ...DEFAULT_SCENARIO.versions, ...s.versions };
  versionName(versions.current, "versions.current");
  versionName(versions.target, "versions.target");
  if (versions.next !== undefined && versions.next !== "") versionName(versions.next, "versions.next");
  const failures = {};
  if (s.failures === null || typeof s.failures !== "object" || Array.isArray(s.failures)) {
    fail("failures must be an object keyed by version");
  }
  for (const [version, shares] of Object.entries(s.failures)) {
    versionName(version, "a failures key");
    if (shares === null || typeof shares !== "object") fail(`failures.${version} must be an object`);
    let total = 0;
    const clean = {};
    for (const [kind, share] of Object.entries(shares)) {
      if (!FAILURE_KINDS.includes(kind)) {
        fail(`failures.${version}.${kind} is not a failure kind (${FAILURE_KINDS.join(", ")})`);
      }
      if (typeof share !== "number" || !(share >= 0 && share <= 1)) {
        fail(`failures.${version}.${kind} must be a share from 0 to 1, got ${JSON.stringify(share)}`);
      }
      clean[kind] = share;
      total += share;
    }
    if (total > 1 + 1e-9) fail(`the failure shares of ${version} add up to ${total}, more than 1`);
    failures[version] = clean;
  }
  integer(s.reportDelaySecs, "reportDelaySecs", 0, 86_400);
  integer(s.stepSecs, "stepSecs", 1, 86_400);
  integer(s.flapSecs, "flapSecs", 1, 86_400);
  integer(s.maxSecs, "maxSecs", 1, 365 * 86_400);
  integer(s.seed, "seed", 0, 2 ** 32 - 1);
  if (!Array.isArray(s.actions)) fail("actions must be a list");
  const actions = s.actions
    .map((a, i) => {
      if (a === null || typeof a !== "object") fail(`actions[${i}] must be an object`);
      if (!CONTROLS.includes(a.kind)) fail(`actions[${i}].kind must be one of ${CONTROLS.join(", ")}, got ${JSON.stringify(a.kind)}`);
      integer(a.atSecs, `actions[${i}].atSecs`, 0, s.maxSecs);
      if (!WITH_VERSION.has(a.kind)) return { atSecs: a.atSecs, kind: a.kind };
      return { atSecs: a.atSecs, kind: a.kind, version: versionName(a.version, `actions[${i}].version`) };
    })
    .sort((a, b) => a.atSecs - b.atSecs);
  return { ...s, groups, options, versions, failures, actions };
}

// FNV-1a, then murmur3's finaliser: a well-mixed 32-bit hash of a string.
function hash(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
const uniform = (text) => hash(text) / 2 ** 32;

function toBase64(bytes) {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}
function fromBase64(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** "1h 02m 05s" for a number of seconds. */
export function formatDuration(secs) {
  const s = Math.round(secs);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  const pad = (n) => String(n).padStart(2, "0");
  if (h > 0) return `${h}h ${pad(m)}m ${pad(r)}s`;
  if (m > 0) return `${m}m ${pad(r)}s`;
  return `${r}s`;
}

function names(list, total) {
  const shown = list.slice(0, SAMPLE_NAMES).join(", ");
  return total > SAMPLE_NAMES ? `${shown} and ${total - SAMPLE_NAMES} more` : shown;
}

const plural = (n, word) => `${n.toLocaleString("en-US")} ${word}${n === 1 ? "" : "s"}`;

// How one group of same-kind changes in the engine's answer reads in the log.
function describe(reason, version, count) {
  const targets = plural(count, "target");
  switch (reason) {
    case "in_flight": return `${targets} assigned ${version}`;
    case "succeeded": return `${targets} succeeded on ${version}`;
    case "failed_unhealthy": return `${targets} failed on ${version}: reporting errors`;
    case "failed_deadline": return `${targets} failed on ${version}: not healthy in time`;
    case "failed_monitor": return `${targets} failed on ${version}: rejected by the monitor`;
    case "rolled_back": return `${targets} sent back to ${version}`;
    case "waiting": return `${targets} waiting for a slot (on ${version})`;
    case "halted": return `${targets} halted on ${version}`;
    default: return `${targets} now ${reason.replaceAll("_", " ")} on ${version}`;
  }
}

/**
 * A fleet of targets obeying one engine entity, stepped in virtual time:
 * each step the fleet reports, the engine answers, and the targets start
 * moving to what the engine asked (arriving after the report delay).
 */
export class Simulation {
  /**
   * @param Orchestrator the engine class (from `orchestrator-engine`)
   * @param scenario see DEFAULT_SCENARIO; missing fields take its values
   */
  constructor(Orchestrator, scenario = {}, restored = undefined) {
    this.Orchestrator = Orchestrator;
    this.behaviours = new Map();
    this.namespace = NAMESPACE;
    this.entity = ENTITY;
    if (restored?.live) {
      this.#startLive(scenario, restored.live);
      return;
    }
    this.scenario = normalizeScenario(scenario);
    this.fleet = buildFleet(this.scenario);
    if (restored) {
      this.#restoreState(restored);
      return;
    }
    this.nowMs = T0;
    this.engine = new Orchestrator({ now: () => this.nowMs });
    const { versions, options } = this.scenario;
    for (const t of this.fleet) t.running = versions.current;
    this.engine.setRolloutOptions(this.namespace, this.entity, options);
    this.#establish(versions.current);
    this.#startRun(this.nowMs);
    this.expected = this.engine.expectedState(this.namespace, this.entity);
    this.info = this.engine.rolloutInfo(this.namespace, this.entity);
    this.#note("good", `${versions.current} is last known good on ${plural(this.fleet.length, "target")}`);
    this.setTargetVersion(versions.target);
    this.#sample();
  }

  /**
   * "What if": a run from a live entity's snapshot (`Orchestrator#snapshot`,
   * or the API's GET .../snapshot) in an engine of its own, so the entity
   * itself is untouched. Each target is taken to run what the engine last
   * told it, since `nowMs`; `scenario` takes `failures` (per version, as
   * any scenario: they strike targets that have not yet succeeded on the
   * version), `reportDelaySecs`, `stepSecs`, `flapSecs`, `maxSecs`, `seed`
   * and `actions`, and `approveGates` (approve each plan gate as soon as
   * it waits; otherwise the run ends at the first gate that waits). The entity's hooks are not called: its HTTP controllers
   * are removed from the copy, and the fleet model stands in for them.
   */
  static fromSnapshot(Orchestrator, bytes, { namespace, entity, nowMs, ...scenario }) {
    if (typeof namespace !== "string" || typeof entity !== "string") fail("namespace and entity must be the names of the entity in the snapshot");
    if (!Number.isFinite(nowMs)) fail("nowMs must be the time the run starts from, in ms since the epoch");
    return new Simulation(Orchestrator, scenario, { live: { bytes, namespace, entity, nowMs } });
  }

  /** A simulation continued from what `save()` returned (object or JSON text). */
  static load(Orchestrator, saved) {
    const data = typeof saved === "string" ? JSON.parse(saved) : saved;
    if (data === null || typeof data !== "object" || data.format !== FORMAT) {
      fail("not a saved orchestrator-engine simulation (the format field is missing or different)");
    }
    if (data.formatVersion !== FORMAT_VERSION) {
      fail(`saved simulation format ${JSON.stringify(data.formatVersion)} is not supported (this is ${FORMAT_VERSION})`);
    }
    return new Simulation(Orchestrator, data.scenario, data);
  }

  /** The run's counters, from `startMs` on. */
  #startRun(startMs) {
    this.startMs = startMs;
    this.steps = 0;
    this.nextAction = 0;
    this.touched = new Uint8Array(this.fleet.length);
    this.peakInFlight = 0;
    this.peakRollingBack = 0;
    this.settledAtMs = null;
    this.log = [];
    this.timeline = [];
  }

  #startLive(input, { bytes, namespace, entity, nowMs }) {
    const known = ["failures", "reportDelaySecs", "stepSecs", "flapSecs", "maxSecs", "seed", "actions", "approveGates"];
    for (const key of Object.keys(input ?? {})) if (!known.includes(key)) fail(`a what-if run takes ${known.join(", ")}; not ${JSON.stringify(key)}`);
    const { approveGates = false, ...rest } = input ?? {};
    if (typeof approveGates !== "boolean") fail("approveGates must be true or false");
    this.approveGates = approveGates;
    this.namespace = namespace;
    this.entity = entity;
    this.nowMs = nowMs;
    this.engine = this.Orchestrator.restore(bytes, { now: () => this.nowMs });
    if (!this.engine.namespaces().includes(namespace) || !this.engine.entities(namespace).includes(entity)) {
      this.engine.free();
      fail(`the snapshot has no entity ${namespace}/${entity}`);
    }
    this.engine.setTargetController(namespace, entity, null);
    this.engine.setMonitoringController(namespace, entity, null);
    this.expected = this.engine.expectedState(namespace, entity);
    this.info = this.engine.rolloutInfo(namespace, entity);
    const { targetVersion, lastKnownGoodVersion, rollingVersion } = this.info;
    if (this.expected.length === 0) fail(`${namespace}/${entity} has no targets to simulate`);
    if (!targetVersion) fail(`${namespace}/${entity} has no target version: nothing would move`);
    // The scenario's checks for the fields the run takes; the fleet is the entity's.
    const checked = normalizeScenario({ ...rest, versions: { current: lastKnownGoodVersion || targetVersion, target: targetVersion, next: "" } });
    const groups = [...new Set(this.expected.map((e) => e.group))];
    this.scenario = { ...checked, targets: this.expected.length, groups, options: this.info.options };
    this.fleet = this.expected.map((e, index) => ({
      name: e.name,
      group: e.group,
      running: e.version,
      sinceMs: nowMs,
      pending: null,
      pendingAtMs: 0,
      index,
      report: { name: e.name, group: e.group, version: "", message: "", isError: false },
      // What already succeeded on the version being rolled out stays healthy on it.
      spared: e.reason === "succeeded" && e.version === rollingVersion ? e.version : null,
    }));
    this.live = true;
    this.#startRun(nowMs);
    this.#note("operator", `what if, from ${namespace}/${entity} as it stands: ${plural(this.fleet.length, "target")}, rolling ${rollingVersion || targetVersion}`);
    this.#sample();
  }

  /** Seconds of virtual time from the first target version set to the last step. */
  get elapsedSecs() {
    return (this.nowMs - this.startMs) / 1000;
  }

  /** Whether the rollout (or rollback) of the current target version is over. */
  get settled() {
    return this.settledAtMs !== null;
  }

  /** Whether the run should stop: settled with nothing scheduled, or out of time. */
  get finished() {
    const pending = this.nextAction < this.scenario.actions.length;
    // A what-if that does not approve gates ends at the first that waits.
    const gated = this.live && !this.approveGates && this.info.awaitingApproval;
    return (this.settled && !pending) || gated || this.elapsedSecs >= this.scenario.maxSecs;
  }

  /** The operator sets a new target version (it waits for the current rollout). */
  setTargetVersion(version) {
    this.engine.setTargetVersion(this.namespace, this.entity, version);
    this.#note("operator", `target version set to ${version}`);
    this.#afterOperator();
  }

  /** The operator forces a version: the current rollout is abandoned and rolled back. */
  forceTargetVersion(version) {
    this.engine.forceTargetVersion(this.namespace, this.entity, version);
    this.#note("operator", `target version forced to ${version}`);
    this.#afterOperator();
  }

  /**
   * An operator control: one of CONTROLS (`version` for set, force and
   * rollbackTo). Logs what it did, or that it changed nothing (abort with
   * nothing in flight, approve with no gate waiting...). Returns whether
   * it changed anything; engine errors (a version never good) throw.
   */
  control(kind, version = undefined) {
    if (kind === "set") return this.setTargetVersion(version), true;
    if (kind === "force") return this.forceTargetVersion(version), true;
    const act = {
      pause: () => this.engine.pause(this.namespace, this.entity),
      resume: () => this.engine.resume(this.namespace, this.entity),
      abort: () => this.engine.abort(this.namespace, this.entity),
      retry: () => this.engine.retry(this.namespace, this.entity),
      promote: () => this.engine.promote(this.namespace, this.entity),
      promoteFull: () => this.engine.promote(this.namespace, this.entity, { full: true }),
      approve: () => this.engine.approve(this.namespace, this.entity),
      rollbackTo: () => this.engine.rollbackTo(this.namespace, this.entity, version),
    }[kind];
    if (!act) fail(`unknown control ${JSON.stringify(kind)}; the controls are ${CONTROLS.join(", ")}`);
    const changed = act();
    const what = kind === "rollbackTo" ? `rollbackTo ${version}` : kind === "promoteFull" ? "promote (full)" : kind;
    this.#note("operator", changed ? what : `${what}: nothing to do, nothing changed`);
    if (changed) this.#afterOperator();
    return changed;
  }

  /** The engine's event log of the simulated entity, after `since` (a seq). */
  events(since = 0) {
    return this.engine.events(this.namespace, this.entity, { since });
  }

  /** Every rollout of the simulated entity: version, start, end, outcome. */
  history() {
    return this.engine.history(this.namespace, this.entity);
  }

  /** The schedule the current options give the fleet (a dry run). */
  plan() {
    return this.engine.plan(this.namespace, this.entity);
  }

  /**
   * New rollout options from now on (the engine validates them). The
   * scenario keeps the options the run started with: the fleet's behaviour
   * was drawn from them, and the engine (and its snapshot) has the new ones.
   */
  setOptions(options) {
    this.engine.setRolloutOptions(this.namespace, this.entity, options);
    this.info = this.engine.rolloutInfo(this.namespace, this.entity);
    this.#note("operator", `rollout options set to ${JSON.stringify(options)}`);
  }

  /** One controller loop: the fleet reports, the engine answers, targets start moving. */
  step() {
    // Step k runs at k * stepSecs of virtual time.
    this.nowMs = this.startMs + this.steps * this.scenario.stepSecs * 1000;
    this.#runActions();
    // A what-if may approve each gate as soon as it waits.
    if (this.approveGates && this.info.awaitingApproval) this.control("approve");
    const now = this.nowMs;
    this.#arrive(now);
    const expected = this.engine.orchestrate(this.namespace, this.entity, this.#reports(now));
    this.#apply(expected, now);
    this.#logChanges(expected);
    this.expected = expected;
    this.steps += 1;
    this.#sample();
    this.#checkSettled();
  }

  /** Steps until finished (or `maxSteps` more steps); returns the summary. */
  run({ maxSteps = Infinity, onStep } = {}) {
    for (let i = 0; i < maxSteps && !this.finished; i++) {
      this.step();
      onStep?.(this);
    }
    return this.summary();
  }

  /** How many targets report each version right now. */
  counts() {
    const counts = {};
    for (const t of this.fleet) counts[t.running] = (counts[t.running] ?? 0) + 1;
    return counts;
  }

  /** What the run came to (so far, if it has not finished). */
  summary() {
    const info = this.info;
    const version = info.targetVersion;
    let outcome = "unsettled";
    if (this.settled) {
      if (info.lastKnownGoodVersion === version) outcome = "rolled_out";
      else if (info.lastKnownBadVersion === version) outcome = info.lastKnownGoodVersion ? "rolled_back" : "halted";
    }
    const reasons = {};
    for (const e of this.expected) reasons[e.reason] = (reasons[e.reason] ?? 0) + 1;
    const end = this.settledAtMs ?? this.nowMs;
    return {
      outcome,
      version,
      lastKnownGoodVersion: info.lastKnownGoodVersion,
      lastKnownBadVersion: info.lastKnownBadVersion,
      virtualSecs: (end - this.startMs) / 1000,
      steps: this.steps,
      targets: this.fleet.length,
      targetsTouched: this.touched.reduce((n, t) => n + t, 0),
      peakInFlight: this.peakInFlight,
      peakRollingBack: this.peakRollingBack,
      running: this.counts(),
      reasons,
    };
  }

  /** Everything needed to continue later: the scenario, the fleet and the engine snapshot. */
  save() {
    if (this.live) fail("a what-if run from a live entity cannot be saved (its fleet is the entity's, not the scenario's)");
    const versions = [...new Set(this.fleet.flatMap((t) => (t.pending ? [t.running, t.pending] : [t.running])))];
    const index = new Map(versions.map((v, i) => [v, i]));
    return {
      format: FORMAT,
      formatVersion: FORMAT_VERSION,
      scenario: this.scenario,
      state: {
        nowMs: this.nowMs,
        startMs: this.startMs,
        steps: this.steps,
        nextAction: this.nextAction,
        peakInFlight: this.peakInFlight,
        peakRollingBack: this.peakRollingBack,
        settledAtMs: this.settledAtMs,
        versions,
        running: this.fleet.map((t) => index.get(t.running)),
        since: this.fleet.map((t) => t.sinceMs - this.startMs),
        pending: this.fleet.map((t) => (t.pending ? [index.get(t.pending), t.pendingAtMs - this.startMs] : 0)),
        touched: toBase64(this.touched),
        log: this.log,
        timeline: this.timeline,
      },
      snapshot: toBase64(this.engine.snapshot()),
    };
  }

  #restoreState(data) {
    const s = data.state;
    const bad = (what) => fail(`the saved simulation is damaged: ${what}`);
    if (s === null || typeof s !== "object") bad("no state");
    const n = this.fleet.length;
    for (const key of ["running", "since", "pending"]) {
      if (!Array.isArray(s[key]) || s[key].length !== n) bad(`${key} does not list ${n} targets`);
    }
    if (!Array.isArray(s.versions) || !Array.isArray(s.log) || !Array.isArray(s.timeline)) bad("missing lists");
    for (const key of ["nowMs", "startMs", "steps", "nextAction", "peakInFlight"]) {
      if (!Number.isFinite(s[key])) bad(`${key} is not a number`);
    }
    const version = (i) => (typeof s.versions[i] === "string" ? s.versions[i] : bad(`unknown version index ${i}`));
    this.nowMs = s.nowMs;
    this.startMs = s.startMs;
    this.steps = s.steps;
    this.nextAction = s.nextAction;
    this.peakInFlight = s.peakInFlight;
    this.peakRollingBack = Number.isFinite(s.peakRollingBack) ? s.peakRollingBack : 0; // saved before it was kept
    this.settledAtMs = s.settledAtMs ?? null;
    this.fleet.forEach((t, i) => {
      t.running = version(s.running[i]);
      t.sinceMs = s.since[i] + this.startMs;
      const p = s.pending[i];
      t.pending = Array.isArray(p) ? version(p[0]) : null;
      t.pendingAtMs = Array.isArray(p) ? p[1] + this.startMs : 0;
    });
    this.touched = fromBase64(String(s.touched));
    if (this.touched.length !== n) bad("touched does not list every target");
    this.log = s.log;
    this.timeline = s.timeline;
    // The engine's own checks reject a corrupt snapshot (INVALID_SNAPSHOT).
    this.engine = this.Orchestrator.restore(fromBase64(String(data.snapshot)), { now: () => this.nowMs });
    this.expected = this.engine.expectedState(this.namespace, this.entity);
    this.info = this.engine.rolloutInfo(this.namespace, this.entity);
    if (this.expected.length !== n) bad(`the snapshot has ${this.expected.length} targets, the scenario ${n}`);
  }

  // The fleet starts settled on the current version: the engine is told
  // so and sees every target healthy on it (assigned batch by batch, as
  // the engine adopts what a fleet it meets for the first time runs) until it is
  // last known good and nothing is moving.
  #establish(version) {
    // A plan's gates and bakes, and a watch window, are for the rollout
    // the run is about, not for the fleet as it is.
    const { steps, watchSecs, ...plain } = this.scenario.options;
    this.engine.setRolloutOptions(this.namespace, this.entity, plain);
    this.engine.setTargetVersion(this.namespace, this.entity, version);
    const reports = this.fleet.map((t) => ({ name: t.name, group: t.group, version, message: "running", isError: false }));
    for (let i = 0; i <= 4 * this.fleet.length + 10; i++) {
      const expected = this.engine.orchestrate(this.namespace, this.entity, reports);
      this.nowMs += this.scenario.stepSecs * 1000;
      const settled = expected.every((e) => e.reason === "succeeded");
      if (settled && this.engine.rolloutInfo(this.namespace, this.entity).lastKnownGoodVersion === version) {
        this.engine.setRolloutOptions(this.namespace, this.entity, this.scenario.options);
        return;
      }
    }
    fail(`could not establish ${version} as last known good with these options`);
  }

  #afterOperator() {
    this.info = this.engine.rolloutInfo(this.namespace, this.entity);
    this.settledAtMs = null;
  }

  #runActions() {
    const { actions } = this.scenario;
    while (this.nextAction < actions.length && actions[this.nextAction].atSecs <= this.elapsedSecs) {
      const action = actions[this.nextAction];
      this.nextAction += 1;
      this.control(action.kind, action.version);
    }
  }

  // How a target behaves on a version, decided once per (target, version).
  #behaviour(index, version) {
    let table = this.behaviours.get(version);
    if (!table) {
      const shares = this.scenario.failures[version] ?? {};
      const { seed, reportDelaySecs, options } = this.scenario;
      const success = options.successTimeoutSecs ?? 60;
      table = this.fleet.map((t) => {
        const key = `${seed}/${t.group}/${t.name}/${version}`;
        let u = uniform(`kind:${key}`);
        let kind = "healthy";
        for (const k of t.spared === version ? [] : FAILURE_KINDS) {
          const share = shares[k] ?? 0;
          if (u < share) {
            kind = k;
            break;
          }
          u -= share;
        }
        const v = uniform(`time:${key}`);
        return {
          kind,
          // Late failures start between one and three success timeouts in.
          lateMs: Math.max(1, (1 + 2 * v) * success) * 1000,
          // Deploys take the report delay, give or take half of it.
          delayMs: Math.round(reportDelaySecs * (0.5 + uniform(`delay:${key}`)) * 1000),
        };
      });
      this.behaviours.set(version, table);
    }
    return table[index];
  }

  #arrive(now) {
    for (const t of this.fleet) {
      if (t.pending !== null && t.pendingAtMs <= now) {
        t.running = t.pending;
        t.sinceMs = t.pendingAtMs;
        t.pending = null;
      }
    }
  }

  #reports(now) {
    const { flapSecs } = this.scenario;
    return this.fleet.map((t, i) => {
      const b = this.#behaviour(i, t.running);
      const age = now - t.sinceMs;
      let message = "running successfully";
      if (b.kind === "unhealthy") message = "crash loop: exited with code 1";
      else if (b.kind === "late" && age >= b.lateMs) message = "health check failing";
      else if (b.kind === "flap" && Math.floor(age / (flapSecs * 1000)) % 2 === 1) message = "health check flapping";
      const report = t.report;
      report.version = t.running;
      report.message = message;
      report.isError = message !== "running successfully";
      return report;
    });
  }

  #apply(expected, now) {
    let inFlight = 0;
    let rollingBack = 0;
    expected.forEach((e, i) => {
      const t = this.#target(e, i);
      if (!t) return;
      const index = t.index;
      if (e.reason === "in_flight") inFlight += 1;
      else if (e.reason === "rolled_back") rollingBack += 1;
      if (e.version === t.running) {
        t.pending = null;
      } else if (t.pending !== e.version) {
        this.touched[index] = 1;
        // A stuck target never starts deploying the version.
        const b = this.#behaviour(index, e.version);
        t.pending = b.kind === "stuck" ? null : e.version;
        t.pendingAtMs = now + b.delayMs;
      }
    });
    this.peakInFlight = Math.max(this.peakInFlight, inFlight);
    this.peakRollingBack = Math.max(this.peakRollingBack, rollingBack);
  }

  // The fleet is kept in the engine's answer order, so the answer's i-th
  // entry is almost always the fleet's i-th target; a lookup covers the rest.
  #target(e, i) {
    const t = this.fleet[i];
    if (t && t.name === e.name && t.group === e.group) return t;
    this.byId ??= new Map(this.fleet.map((x) => [`${x.group}\0${x.name}`, x]));
    return this.byId.get(`${e.group}\0${e.name}`);
  }

  #logChanges(expected) {
    const before = this.expected;
    const changes = new Map();
    expected.forEach((e, i) => {
      const old = before[i];
      if (old && old.name === e.name && old.group === e.group && old.version === e.version && old.reason === e.reason) return;
      const key = `${e.reason}\0${e.version}`;
      let change = changes.get(key);
      if (!change) {
        change = { reason: e.reason, version: e.version, count: 0, names: [], why: e.message };
        changes.set(key, change);
      }
      change.count += 1;
      if (change.names.length < SAMPLE_NAMES) change.names.push(`${e.group}/${e.name}`);
    });
    for (const c of changes.values()) {
      const kind = c.reason.startsWith("failed") || c.reason === "halted" ? "failure" : c.reason === "rolled_back" ? "rollback" : "target";
      this.#note(kind, `${describe(c.reason, c.version, c.count)}: ${names(c.names, c.count)}`, c.why);
    }
    const info = this.engine.rolloutInfo(this.namespace, this.entity);
    const was = this.info;
    if (info.lastKnownGoodVersion !== was.lastKnownGoodVersion && info.lastKnownGoodVersion) {
      const ok = expected.filter((e) => e.reason === "succeeded" && e.version === info.lastKnownGoodVersion).length;
      this.#note("good", `${info.lastKnownGoodVersion} is now last known good: ${plural(ok, "target")} succeeded on it`);
    }
    if (info.lastKnownBadVersion !== was.lastKnownBadVersion && info.lastKnownBadVersion) {
      const failed = expected.filter((e) => e.isError).length + this.#failuresSentBack(expected, info.lastKnownBadVersion);
      const back = info.lastKnownGoodVersion
        ? `rolling back to ${info.lastKnownGoodVersion}`
        : "no version is known good to return to: targets are held";
      this.#note("bad", `${info.lastKnownBadVersion} is now last known bad after ${plural(failed, "failure")}; ${back}`);
    }
    if (info.rollingVersion !== was.rollingVersion && info.rollingVersion) {
      this.#note("version", `rolling version is now ${info.rollingVersion}`);
    }
    this.info = info;
  }

  // The step that judges a version bad already sends its targets back, so
  // the failures that made it bad may show in the event log only: noted
  // from there (those the answer still shows as failed were noted above).
  #failuresSentBack(expected, version) {
    const shown = new Set(expected.filter((e) => e.isError).map((e) => `${e.group}\0${e.name}`));
    const groups = new Map();
    for (const e of this.engine.events(this.namespace, this.entity)) {
      if (e.kind !== "target_failed" || e.time !== this.nowMs || e.version !== version) continue;
      if (shown.has(`${e.target.group}\0${e.target.name}`)) continue;
      let g = groups.get(e.detail);
      if (!g) groups.set(e.detail, (g = { count: 0, names: [] }));
      g.count += 1;
      if (g.names.length < SAMPLE_NAMES) g.names.push(`${e.target.group}/${e.target.name}`);
    }
    let count = 0;
    for (const [detail, g] of groups) {
      count += g.count;
      const reason = /reports errors/.test(detail) ? "failed_unhealthy" : /monitor hook/.test(detail) ? "failed_monitor" : "failed_deadline";
      this.#note("failure", `${describe(reason, version, g.count)}: ${names(g.names, g.count)}`, detail);
    }
    return count;
  }

  #checkSettled() {
    if (this.settled) return;
    const info = this.info;
    const version = info.targetVersion;
    const judged = info.lastKnownGoodVersion === version || info.lastKnownBadVersion === version;
    // A good version still watched can yet turn bad.
    if (!judged || info.rollingVersion !== version || info.watchUntil !== null) return;
    if (this.expected.some((e) => MOVING.has(e.reason) || e.reason === "waiting")) return;
    this.settledAtMs = this.nowMs;
    const s = this.summary();
    this.#note("settled", `${version} ${OUTCOME_TEXT[s.outcome]} after ${formatDuration(s.virtualSecs)} and ${plural(s.steps, "step")}`);
  }

  #sample() {
    this.timeline.push({ t: this.elapsedSecs, counts: this.counts() });
    // Long runs keep every other sample of the older half.
    if (this.timeline.length > TIMELINE_LIMIT) {
      const half = TIMELINE_LIMIT / 2;
      this.timeline = this.timeline.filter((_, i) => i >= half || i % 2 === 0);
    }
  }

  #note(kind, text, why = undefined) {
    // seq numbers every entry ever noted, so a viewer can tell which are new.
    const seq = (this.log.at(-1)?.seq ?? -1) + 1;
    const entry = { seq, t: this.elapsedSecs ?? 0, step: this.steps ?? 0, kind, text };
    if (why !== undefined) entry.why = why;
    this.log.push(entry);
    if (this.log.length > LOG_LIMIT) this.log.splice(0, this.log.length - LOG_LIMIT);
  }
}

// Targets in the engine's answer order (group, then name), named so that
// every name has the same width.
function buildFleet({ targets, groups }) {
  const width = String(targets).length;
  const fleet = Array.from({ length: targets }, (_, i) => {
    const name = `host-${String(i + 1).padStart(width, "0")}`;
    const group = groups[i % groups.length];
    return { name, group, running: "", sinceMs: 0, pending: null, pendingAtMs: 0 };
  });
  fleet.sort((a, b) => (a.group < b.group ? -1 : a.group > b.group ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  fleet.forEach((t, i) => {
    t.index = i;
    t.report = { name: t.name, group: t.group, version: "", message: "", isError: false };
  });
  return fleet;
}
