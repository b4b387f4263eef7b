// A simulation's scenario: its fields and their defaults, the operator's
// controls it can schedule, the text forms of plans and amounts both
// simulators take, and the validation that turns input into a scenario
// (INVALID_SCENARIO naming the field).

/** The failure kinds a share of targets can be given per version. */
export const FAILURE_KINDS = Object.freeze(["unhealthy", "late", "flap", "stuck"]);

export const DEFAULT_SCENARIO = Object.freeze({
  targets: 2000,
  groups: ["eu-west", "eu-north", "us-east", "ap-south"],
  options: { batchPercent: 10, successPercent: 95, successTimeoutSecs: 60, durationTimeoutSecs: 300 },
  versions: { current: "v1", target: "v2", next: "v3" },
  // Per version: shares (0..1) of targets that never become healthy, that
  // fail after looking healthy, that flap, and that never report it.
  failures: {},
  // Per version: what its metrics look like to analysis (the fleet model,
  // js/simulation/metrics.mjs): { errorRate (0..1, default 0.01),
  // latencyMs (median, default 100) }.
  metrics: {},
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

/**
 * A scenario that cannot be simulated. `code` is always INVALID_SCENARIO;
 * `instanceof OrchestratorError` holds for it (the mark is the package's,
 * `Symbol.for` so that this file imports nothing: it also runs in the page).
 */
export class ScenarioError extends Error {
  constructor(message) {
    super(message);
    this.name = "ScenarioError";
    this.code = "INVALID_SCENARIO";
  }

  get [Symbol.for("orchestrator-engine.error")]() {
    return true;
  }
}

/** Throws a ScenarioError with `message`. */
export const fail = (message) => {
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
  if (s.metrics === null || typeof s.metrics !== "object" || Array.isArray(s.metrics)) fail("metrics must map versions to { errorRate, latencyMs }");
  const metrics = {};
  for (const [version, shape] of Object.entries(s.metrics)) {
    versionName(version, "a metrics version");
    if (shape === null || typeof shape !== "object" || Array.isArray(shape)) fail(`metrics.${version} must be an object like { errorRate: 0.02, latencyMs: 180 }`);
    for (const key of Object.keys(shape)) if (!["errorRate", "latencyMs"].includes(key)) fail(`metrics.${version}.${key} is not errorRate or latencyMs`);
    const { errorRate, latencyMs } = shape;
    if (errorRate !== undefined && !(typeof errorRate === "number" && errorRate >= 0 && errorRate <= 1)) fail(`metrics.${version}.errorRate must be a share from 0 to 1, got ${JSON.stringify(errorRate)}`);
    if (latencyMs !== undefined && !(typeof latencyMs === "number" && latencyMs > 0 && latencyMs < 1e9)) fail(`metrics.${version}.latencyMs must be a positive number of ms, got ${JSON.stringify(latencyMs)}`);
    metrics[version] = { ...shape };
  }
  return { ...s, groups, options, versions, failures, metrics, actions };
}
