// A fleet simulated in virtual time around the real engine: the browser
// simulator (www/), the terminal simulator (bin/) and the dashboard's
// what-if run this. The engine is whatever `Orchestrator` class the caller
// passes (the wasm package); only the fleet (targets that obey the engine,
// some of them badly) is modelled: its scenario in simulation/scenario.mjs,
// its targets and their behaviour in simulation/fleet.mjs, its sentences in
// simulation/words.mjs; the run itself here.
//
// Determinism: a target's behaviour on a version is a hash of the seed, the
// target and the version, so the same scenario always gives the same run,
// and a run saved with `save()` and continued with `Simulation.load()`
// reaches exactly the end state the uninterrupted run reaches.

import { buildFleet, drawBehaviours, liveFleet } from "./simulation/fleet.mjs";
import { CONTROLS, fail, normalizeScenario } from "./simulation/scenario.mjs";
import { OUTCOME_TEXT, SAMPLE_NAMES, describe, formatDuration, names, plural } from "./simulation/words.mjs";

import { fleetMetrics, measureFromModel } from "./simulation/metrics.mjs";
import { normalizeOptions } from "./analysis/template.mjs";

export { CONTROLS, DEFAULT_SCENARIO, FAILURE_KINDS, ScenarioError, formatSteps, normalizeScenario, parseAmount, parseSteps } from "./simulation/scenario.mjs";
export { OUTCOME_TEXT, UNCHANGED, actionsText, countsText, formatDuration, stateOf, tally } from "./simulation/words.mjs";

export const NAMESPACE = "simulation";
export const ENTITY = "service";
const FORMAT = "orchestrator-engine/simulation";
const FORMAT_VERSION = 1;
const T0 = Date.UTC(2026, 0, 1);
const LOG_LIMIT = 2000;
const TIMELINE_LIMIT = 4000;

/** Reasons that mean a target is moving (occupies a batch slot). */
const MOVING = new Set(["in_flight", "rolled_back"]);

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
    if (typeof Orchestrator !== "function") {
      fail('pass the engine class first: new Simulation(Orchestrator, scenario), with Orchestrator from "orchestrator-engine"');
    }
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
    this.#measureFromFleet();
    const { versions, options } = this.scenario;
    for (const t of this.fleet) t.running = versions.current;
    this.#applyOptions(options);
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
    let data = saved;
    if (typeof saved === "string") {
      try {
        data = JSON.parse(saved);
      } catch (error) {
        fail(`not a saved orchestrator-engine simulation: not JSON (${error.message})`);
      }
    }
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
    this.#measureFromFleet();
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
    this.fleet = liveFleet(this.expected, nowMs, rollingVersion);
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
    this.#applyOptions(options);
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
    if (maxSteps !== Infinity && !(Number.isInteger(maxSteps) && maxSteps >= 0)) fail(`maxSteps must be a whole number of steps (or Infinity), got ${typeof maxSteps === "number" ? maxSteps : JSON.stringify(maxSteps)}`);
    if (onStep !== undefined && typeof onStep !== "function") fail("onStep must be a function, called after each step");
    for (let i = 0; i < maxSteps && !this.finished; i++) {
      this.step();
      onStep?.(this);
    }
    return this.summary();
  }

  /** The entity's analysis runs (see `Orchestrator#analysis`): how its templates judged the run. */
  analysis() {
    return this.engine.analysis(this.namespace, this.entity);
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
    const history = this.engine.history(this.namespace, this.entity);
    const last = history.at(-1);
    // An operator's rollbackTo returned every target to the version: not
    // a rollout of it, and what it left was not judged bad.
    const returned = last?.outcome === "rolled_back_to" && last.version === version;
    let outcome = "unsettled";
    if (this.settled) {
      if (info.lastKnownGoodVersion === version) outcome = returned ? "returned" : "rolled_out";
      else if (info.lastKnownBadVersion === version) outcome = info.lastKnownGoodVersion ? "rolled_back" : "halted";
    }
    const bad = info.lastKnownBadVersion;
    const verdict = { failed: "judged bad", aborted: "aborted", abandoned: "forced away" }[history.findLast((r) => r.version === bad)?.outcome];
    const lastKnownBadWhy = !bad ? null : verdict ?? (last?.outcome === "rolled_back_to" ? `left by rollbackTo ${last.version}` : "judged bad");
    const reasons = {};
    for (const e of this.expected) reasons[e.reason] = (reasons[e.reason] ?? 0) + 1;
    const end = this.settledAtMs ?? this.nowMs;
    return {
      outcome,
      version,
      lastKnownGoodVersion: info.lastKnownGoodVersion,
      lastKnownBadVersion: info.lastKnownBadVersion,
      lastKnownBadWhy,
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
    this.#measureFromFleet();
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
    const { steps, watchSecs, analysis, ...plain } = this.scenario.options;
    this.#applyOptions(plain);
    this.engine.setTargetVersion(this.namespace, this.entity, version);
    const reports = this.fleet.map((t) => ({ name: t.name, group: t.group, version, message: "running", isError: false }));
    for (let i = 0; i <= 4 * this.fleet.length + 10; i++) {
      const expected = this.engine.orchestrate(this.namespace, this.entity, reports);
      this.nowMs += this.scenario.stepSecs * 1000;
      const settled = expected.every((e) => e.reason === "succeeded");
      if (settled && this.engine.rolloutInfo(this.namespace, this.entity).lastKnownGoodVersion === version) {
        this.#applyOptions(this.scenario.options);
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

  // How a target behaves on a version, drawn once per (target, version).
  #behaviour(index, version) {
    let table = this.behaviours.get(version);
    if (!table) {
      table = drawBehaviours(this.scenario, this.fleet, version);
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

  /**
   * Gives the engine `options`, analysis templates read as users write
   * them (the pages' bare bindings do not read them themselves).
   */
  #applyOptions(options) {
    this.engine.setRolloutOptions(this.namespace, this.entity, normalizeOptions(options));
  }

  /** Analysis measures the fleet model, whatever provider a metric names. */
  #measureFromFleet() {
    // Read at each measurement: the fleet and scenario of the moment.
    measureFromModel(this.engine, (request) => fleetMetrics(this.fleet, this.scenario?.metrics)(request));
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
      this.#failuresSentBack(expected, info.lastKnownBadVersion);
      const back = info.lastKnownGoodVersion
        ? `rolling back to ${info.lastKnownGoodVersion}`
        : "no version is known good to return to: targets are held";
      // The engine's own count, from its verdict ("10 of 200 targets
      // failed; 10 failures make it bad"); a log too small to hold it
      // still has the threshold the verdict reached.
      const verdict = this.engine
        .events(this.namespace, this.entity)
        .findLast((e) => e.kind === "version_bad" && e.version === info.lastKnownBadVersion && e.time === this.nowMs);
      const why = verdict?.detail.replace(/\.$/, "") ?? `${plural(info.failureThreshold, "failure")} or more made it bad`;
      this.#note("bad", `${info.lastKnownBadVersion} is now last known bad: ${why}; ${back}`);
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
