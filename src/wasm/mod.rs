//! The JS binding layer: converts, delegates, and nothing more. Every
//! `#[wasm_bindgen]` item of the crate lives under this module.

mod analysis;
mod boundary;
mod freezes;
mod hooks;
mod internals;
mod interop;
mod orchestrator;
mod pipeline;
mod reader;

use wasm_bindgen::prelude::*;

pub use orchestrator::Orchestrator;

// Optional parameters are typed through imported types, which keep their
// `?` in the generated `.d.ts`; their values are checked in `interop`.
#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(typescript_type = "RolloutOptions")]
    pub type JsRolloutOptions;
    #[wasm_bindgen(typescript_type = "OrchestratorOptions")]
    pub type JsOrchestratorOptions;
    #[wasm_bindgen(typescript_type = "string")]
    pub type JsOptionalString;
    #[wasm_bindgen(typescript_type = "PromoteOptions")]
    pub type JsPromoteOptions;
    #[wasm_bindgen(typescript_type = "EventsOptions")]
    pub type JsEventsOptions;
}

/// The version of this package, as in its `package.json`.
///
/// @example
/// ```js
/// import { version } from "orchestrator-engine";
/// console.log(version()); // "0.1.0"
/// ```
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}

/// How many bytes of memory the engine's WebAssembly instance holds now
/// (its linear memory, which grows and never shrinks): what the engine's
/// state costs beyond the JS heap, for a controller that watches its
/// memory.
///
/// @example
/// ```js
/// import { wasmMemoryBytes } from "orchestrator-engine";
/// console.log(`${(wasmMemoryBytes() / 2 ** 20).toFixed(1)} MiB`);
/// ```
#[wasm_bindgen(js_name = wasmMemoryBytes)]
pub fn wasm_memory_bytes() -> f64 {
    // At most 65,536 pages of 64 KiB: exact in an f64.
    core::arch::wasm32::memory_size(0) as f64 * 65_536.0
}

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &'static str = r#"
/** Why a target's expected state is what it is. */
export type Reason =
  | "waiting"
  | "in_flight"
  | "succeeded"
  | "failed_unhealthy"
  | "failed_deadline"
  | "failed_monitor"
  | "rolled_back"
  | "held_back"
  | "halted"
  | "held_paused"
  | "awaiting_approval"
  | "removed"
  | "held_frozen";

/** A recurring freeze window, as `setFreezes` takes it. */
export interface FreezeWindowInput {
  /** Unique among the windows and freezes it is set with. */
  name: string;
  /** "mon" to "sun" (or "monday"..), a list of them, or "daily", "weekdays", "weekends". */
  days: string | string[];
  /** "HH:MM", local time in `zone`. */
  start: string;
  /** "HH:MM" up to "24:00"; an end not after the start crosses midnight (it ends the day after). */
  end: string;
  /** An IANA zone ("Europe/Berlin"), "UTC" (the default), or a fixed offset ("+05:30"). */
  zone?: string;
}

/** A one-off freeze, as `setFreezes` takes it: from `from` until `until`. */
export interface FreezeInput {
  name: string;
  /** ms since the Unix epoch, a Date, or an ISO string. */
  from: number | Date | string;
  until: number | Date | string;
}

/** Freezes of a namespace or an entity, as `setFreezes` takes them (both lists at most 64 together). */
export interface FreezesInput {
  windows?: FreezeWindowInput[];
  freezes?: FreezeInput[];
}

/** Where an entity takes its versions from (`setPipeline`). */
export interface PipelineInput {
  /** Upstream entities, each "namespace/entity" (1 to 16). */
  from: string[];
  /** A version good in every upstream (default: the newest good in any). */
  all?: boolean;
  /** How long after its rollout upstream succeeded (its watch passed). */
  soakSecs?: number;
  /** Each promotion waits for `approvePromotion`. */
  approval?: boolean;
  /**
   * An analysis template (as the option `analysis`) run here on the version
   * before it is promoted: promoted once the run succeeds, never after it
   * fails. Its runs are among `analysis()`'s, kind `"verification"`.
   */
  verification?: Record<string, unknown>;
}

/** What an entity tells the entities that take their versions from it. */
export interface Upstream {
  name: string;
  found: boolean;
  good: string | null;
  goodSince: number | null;
  rolling: string;
  /** Versions turned back there (failed or aborted). */
  bad: string[];
}

/** An entity's pipeline as `pipeline()` answers it. */
export interface PipelineView {
  pipeline: (Required<Omit<PipelineInput, "verification">> & { verification: Record<string, unknown> | null }) | null;
  upstreams: Upstream[];
  /** The version the upstreams point at. */
  candidate: string | null;
  candidateFrom: string[];
  /** Why the candidate is not promoted now. */
  waiting: string | null;
  /** A version set by hand that holds promotion until `releasePipeline`. */
  held: string | null;
  approved: string | null;
  /** The latest versions promoted, oldest first. */
  promoted: string[];
}

/** The pipeline methods whose last argument may be left out. */
export interface Orchestrator {
  /**
   * The entity's pipeline now: its upstreams (what each has good and since
   * when, what each turned back), the version they point at, why it is not
   * promoted yet (`waiting`), a hold by a version set by hand, an approval
   * given, the versions promoted. `upstreams`: facts read elsewhere
   * (`upstream()` of each); by default those this engine holds.
   */
  pipeline(namespace: string, entity: string, upstreams?: Upstream[] | null): PipelineView;
  /**
   * Promotes now when the pipeline's conditions hold (a step does this by
   * itself when the engine holds every upstream); returns the version
   * promoted, or `undefined`.
   */
  advancePipeline(namespace: string, entity: string, upstreams?: Upstream[] | null): string | undefined;
}

/** Freezes as `freezes()` answers them. */
export interface Freezes {
  windows: { name: string; days: ("mon" | "tue" | "wed" | "thu" | "fri" | "sat" | "sun")[]; start: string; end: string; zone: string }[];
  freezes: { name: string; from: number; until: number }[];
}

/** A namespace's stopped line. */
export interface LineStop {
  reason: string;
  /** When it was stopped (ms). */
  since: number;
  /** Who stopped it (the actor set), if anyone was named. */
  by: string | null;
}

/** A number of targets: a count, or a percentage of the fleet like "10%". */
export type Amount = number | `${number}%`;

/** One step of a plan: a size, or a size with a bake time and an approval gate. */
export type PlanStepInput = Amount | { size: Amount; bakeSecs?: number; approval?: boolean; analysis?: AnalysisTemplateInput };

/**
 * An analysis template as Argo Rollouts writes it (its AnalysisTemplate's
 * `spec`, or the whole template): metrics with a provider (`prometheus`,
 * `web` or `function`), conditions, limits, `args`, `dryRun` and
 * `measurementRetention`; plus, per metric, `noData` and `onFailure`.
 * See docs/ANALYSIS.md.
 */
export type AnalysisTemplateInput = Record<string, unknown>;

/** One measurement of a metric. */
export interface Measurement {
  phase: "successful" | "failed" | "inconclusive" | "error";
  /** When it was taken (the step's time, ms). */
  at: number;
  /** The value as JSON (NaN as "NaN"). */
  value: string;
  /** The query as sent, secrets redacted. */
  query: string;
  /** Why it was judged so. */
  message: string;
}

/** One metric of an analysis run. */
export interface MetricRun {
  name: string;
  phase: "pending" | "running" | "successful" | "failed" | "inconclusive" | "error";
  message: string;
  dryRun: boolean;
  count: number;
  successful: number;
  failed: number;
  inconclusive: number;
  error: number;
  consecutiveError: number;
  consecutiveSuccess: number;
  lastAt: number | null;
  /** The latest measurements, oldest first. */
  measurements: Measurement[];
}

/** One run of a template against a rollout: background, or a plan step's. */
export interface AnalysisRun {
  kind: "background" | { step: number };
  version: string;
  /** When the rollout it judges started (ms). */
  rollout: number;
  started: number;
  ended: number | null;
  phase: MetricRun["phase"];
  /** In words, why it passed, failed or holds. */
  message: string;
  /** It paused the rollout, until promote/resume (go on) or abort. */
  holding: boolean;
  metrics: MetricRun[];
}

/** One step of a plan, as `rolloutInfo` answers it. */
export interface PlanStep {
  /** How many targets are on the version once the step is done (cumulative; "100%" for the last). */
  size: Amount;
  /** Once every target moved so far is judged, they must stay healthy this long before the next step. */
  bakeSecs: number;
  /** The step waits for `approve()` before it moves anything. */
  approval: boolean;
  /** Inline analysis (the engine's form), when the step has one: the step passes once it succeeded. */
  analysis?: Record<string, unknown>;
}

/** How an entity rolls out; a missing field takes its default. */
export interface RolloutOptions {
  /** At most this share of all targets is in flight at once (default 5). */
  batchPercent?: number;
  /** The version is good once this share of all targets succeeded (default 100). */
  successPercent?: number;
  /** A target succeeds after running the version without error for more than this (default 60). */
  successTimeoutSecs?: number;
  /** A target not succeeded this long after assignment (unpaused time) has failed (default 120). */
  durationTimeoutSecs?: number;
  /**
   * A target that runs the version and has reported errors for more than this
   * has failed, without waiting for `durationTimeoutSecs` (default null: only
   * the deadline fails it).
   */
  errorTimeoutSecs?: number | null;
  /**
   * A plan: how many targets are on the version once each step is done
   * (cumulative, as Argo Rollouts' `setWeight`), each a count or a percentage
   * of the fleet rounded up, never smaller than an earlier step of its kind,
   * optionally with `bakeSecs` and `approval`. The last must be "100%" (the
   * whole fleet). Empty (default): batches of `batchPercent`.
   */
  steps?: PlanStepInput[];
  /** Error budget: the version is bad once MORE targets than this failed (count or "N%", rounded down). Default: SPEC's failure threshold. */
  maxFailures?: Amount | null;
  /** The version is bad once MORE than this many targets failed in a row. */
  maxConsecutiveFailures?: number | null;
  /** After the version becomes last known good, failures are judged this much longer (default 0). */
  watchSecs?: number;
  /** A rollback moves at most this share of the fleet at once (default null: every moved target at once). */
  rollbackBatchPercent?: number | null;
  /** How many events the entity's log keeps (default 1000). */
  maxEvents?: number;
  /**
   * Background analysis: measured while the version rolls out and through
   * its watch window; failed rolls back, inconclusive pauses. `startingStep`
   * (0-based) starts it with a plan step. `rolloutInfo` answers the engine's
   * form of it (durations in seconds, the provider as JSON).
   */
  analysis?: AnalysisTemplateInput | null;
}

/** What a controller reports about one target. */
export interface TargetReport {
  name: string;
  /** Defaults to "". A target is identified by (group, name). */
  group?: string;
  tags?: string[];
  /** The version the target runs now. */
  version: string;
  message?: string;
  isError?: boolean;
}

/** The engine's answer for one target. */
export interface ExpectedState {
  name: string;
  group: string;
  /** The version the target should run now. */
  version: string;
  /** Why, for a person. */
  message: string;
  /** Whether the target failed on the version being rolled out. */
  isError: boolean;
  /** Why, for a program. */
  reason: Reason;
  /**
   * The tags the target last reported, in `expectedState()` on targets
   * that reported any (absent otherwise; an answer to a report leaves them
   * out: the report holds them). Over the Go engine's HTTP routes they are
   * one comma-joined string.
   */
  tags?: string[];
}

/**
 * A report in columns, for `orchestrateColumns`: one entry per target in
 * each array, all of the same length (column names are a report object's
 * field names, plural for the string columns).
 */
export interface ReportColumns {
  names: string[];
  /** `versions[i]`: the version target `i` runs (non-empty). */
  versions: string[];
  /** Defaults to "" for every target. */
  groups?: string[];
  /** Defaults to "" for every target. */
  messages?: string[];
  /** `isError[i]`: whether target `i` reports an error: booleans, or 0/1 (a Uint8Array). */
  isError?: ArrayLike<boolean | number>;
  /**
   * `tags[i]`: target `i`'s tags, or null for none. Targets with equal tags
   * may share one array (it is read once). A tag holding U+001F, or one
   * empty tag alone, is refused here: `orchestrate` takes those.
   */
  tags?: (string[] | null)[];
  /**
   * `false`: answer the reported targets alone, `others` empty (for a
   * controller that reports its fleet in parts: the step walks none of the
   * targets it did not name for the answer). Defaults to `true`.
   */
  others?: boolean;
}

/**
 * The answer of `orchestrateColumns`, aligned with the report: entry `i`
 * of each typed array answers target `i` of the report, as an index into
 * its table (`*Table`: each distinct value once).
 */
export interface AnswerColumns {
  /** `versionTable[version[i]]` is the version target `i` should run now. */
  version: Uint32Array;
  versionTable: string[];
  /** `messageTable[message[i]]`: why, for a person. */
  message: Uint32Array;
  messageTable: string[];
  /** `reasonTable[reason[i]]`: why, for a program. */
  reason: Uint8Array;
  reasonTable: Reason[];
  /** 1 where the target failed on the version being rolled out. */
  isError: Uint8Array;
  /** The entity's targets the report did not name (and targets the removal hook retired), by group then name; empty when the report said `others: false`. */
  others: ExpectedState[];
}

/** An entity's rollout state. */
export interface RolloutInfo {
  targetVersion: string;
  rollingVersion: string;
  lastKnownGoodVersion: string;
  lastKnownBadVersion: string;
  /**
   * Where the rollout is: "new" (no version yet), "rolling_out",
   * "watching" (good, still judged), "rolled_out", "rolling_back" (a
   * target still expected on the bad version or on its way back),
   * "rolled_back" (every moved target back and judged healthy), "halted"
   * (bad, nothing good to return to). `paused` and `awaitingApproval` say
   * what holds a rollout.
   */
  phase: "new" | "rolling_out" | "watching" | "rolled_out" | "rolling_back" | "rolled_back" | "halted";
  /** The options; `analysis` (when set) in the engine's form: durations in seconds, the provider as JSON. */
  options: Required<Omit<RolloutOptions, "steps" | "analysis">> & { steps: PlanStep[]; analysis?: Record<string, unknown> };
  /** How many targets the entity has. */
  targets: number;
  /** How many failed targets make the rolling version bad on this fleet (SPEC's failure threshold, or one more than `maxFailures` allows). */
  failureThreshold: number;
  /** Whether `pause` holds the rollout (rollbacks go on). */
  paused: boolean;
  /** Why: "operator", or an analysis that holds it ("analysis_inconclusive", "analysis_failed"); null when not paused. */
  pauseReason: "operator" | "analysis_inconclusive" | "analysis_failed" | null;
  /** The plan step the rollout is on (0-based), when it follows a plan. */
  step: number | null;
  /** Whether the current plan step waits for `approve()`. */
  awaitingApproval: boolean;
  /** Until when the last known good version is still watched (ms), if it is. */
  watchUntil: number | null;
  /** Why a freeze window, a one-off freeze or a stopped line holds the rollout, while one does. */
  frozen: string | null;
}

/** Options of `promote()`. */
export interface PromoteOptions {
  /** Move every remaining target at once and run no further step. */
  full?: boolean;
}

/** Options of `events()`. */
export interface EventsOptions {
  /** Only events with a larger `seq` (default 0: every event kept). */
  since?: number;
  /** At most this many (default: all). */
  limit?: number;
}

export type EventKind =
  | "version_set"
  | "step_started"
  | "approval_requested"
  | "target_assigned"
  | "target_succeeded"
  | "target_failed"
  | "target_removed"
  | "version_good"
  | "version_bad"
  | "rollback_started"
  | "rollback_finished"
  | "watch_ended"
  | "paused"
  | "resumed"
  | "aborted"
  | "retried"
  | "promoted"
  | "approved"
  | "hook_failed"
  | "analysis_started"
  | "analysis_measured"
  | "analysis_finished"
  | "frozen"
  | "unfrozen"
  | "version_promoted";

/** One entry of an entity's event log. */
export interface RolloutEvent {
  /** Increases by one per event of the entity. */
  seq: number;
  /** Milliseconds since the Unix epoch. */
  time: number;
  kind: EventKind;
  /** The version concerned ("" when none). */
  version: string;
  /** The target concerned, for target events. */
  target: { group: string; name: string } | null;
  /** Why, for a person. */
  detail: string;
  /** Who asked, for an operator's control made with an actor set (`setActor`); absent for what the engine did. */
  actor?: string;
}

export type Outcome = "in_progress" | "watching" | "succeeded" | "failed" | "aborted" | "abandoned" | "rolled_back_to";

/** What an operator did to a rollout, and who (see `setActor`). */
export interface RolloutAction {
  /** The kind of the event the control logged. */
  kind: EventKind;
  by: string;
  time: number;
}

/** One rollout of an entity (a revision). */
export interface Rollout {
  version: string;
  started: number;
  ended: number | null;
  outcome: Outcome;
  /** The furthest plan step it started (1 for the first); without a plan, the batches it moved. This and the counts below are null for a rollout restored from a snapshot written before they were counted. */
  stepsReached: number | null;
  /** How many times a target was told to move to its version. */
  targetsMoved: number | null;
  /** How many targets failed on its version. */
  failures: number | null;
  /** The sequence number of the first event logged once it started (its events: `events({ since: firstEvent - 1 })`). */
  firstEvent: number | null;
  /** What operators did to it, oldest first (the latest 32). */
  actions: RolloutAction[];
}

/** One step (or batch) of a schedule. */
export interface ScheduledStep {
  index: number;
  /** What the plan says, or the batch size. */
  size: Amount;
  /** How many targets it moves on this fleet. */
  targets: number;
  /** How many have moved once it is through. */
  cumulative: number;
  bakeSecs: number;
  approval: boolean;
  status: "done" | "current" | "pending";
  /** Earliest start (ms) if targets reported at once and gates were approved at once; null when done, or while the version needs retry(). */
  earliestStart: number | null;
}

/** What `plan()` answers. */
export interface Schedule {
  version: string;
  /** Whether that rollout is under way (otherwise it would start now). */
  inProgress: boolean;
  fleet: number;
  paused: boolean;
  steps: ScheduledStep[];
  /** The earliest time (ms) the version can be judged good. */
  earliestGood: number | null;
  /**
   * The version is known bad (it failed and its targets were sent back):
   * nothing starts until `retry()` or another version, so no step has a
   * start and `earliestGood` is null.
   */
  needsRetry: boolean;
}

/** One target as a hook sees it. */
export interface TargetView {
  name: string;
  group: string;
  tags: string[];
  /** The version it last reported ("" for a new target that has not reported). */
  version: string;
  /** The version the engine expects it to run ("" before any). */
  expectedVersion: string;
  message: string;
  isError: boolean;
  reason: Reason;
}

/** What a hook is told about the step that calls it. */
export interface HookContext {
  namespace: string;
  entity: string;
  /** The version this step keeps and assigns (the last known good one while rolling back). */
  version: string;
  rollingBack: boolean;
  /** The plan step the rollout is on (0-based, as `rolloutInfo().step`), or null without a plan. */
  step: number | null;
  /** The step's time, in milliseconds since the Unix epoch. */
  now: number;
}

/** A target named by a hook: an object, or just a name (group ""). */
export type TargetId = { name: string; group?: string } | string;

/**
 * Per-target hooks; each is optional and fails by throwing (or rejecting).
 * A hook may answer with a Promise: `orchestrateAsync` (and `Rollouts`)
 * waits for it; a synchronous `orchestrate` then throws `HOOK_PENDING`.
 */
export interface TargetController {
  /** Picks at most `count` targets to move now; may name new targets (blue/green). */
  select?(targets: TargetView[], count: number, context: HookContext): TargetId[] | Promise<TargetId[]>;
  /** Keeps the selected targets that may move now. */
  approve?(targets: TargetView[], context: HookContext): TargetId[] | Promise<TargetId[]>;
  /** Picks at most `count` replaced targets to delete (blue/green). */
  remove?(targets: TargetView[], count: number, context: HookContext): TargetId[] | Promise<TargetId[]>;
  /** Throws (or rejects) to fail a target that runs the version being kept. */
  monitor?(target: TargetView, context: HookContext): void | Promise<void>;
}

/** Whole-system health: throwing (or rejecting) fails the step, which then changes nothing. */
export interface MonitoringController {
  check(targets: TargetView[], context: HookContext): void | Promise<void>;
}

/**
 * The Go engine's HTTP target controller: endpoint URLs in place of hook
 * functions (POSTs of its JSON; see the README's "Hooks that wait"). Unlike
 * hooks of functions it is part of the entity's state: kept in its
 * snapshots and deltas (headers included), and called again wherever the
 * entity is restored.
 */
export interface HttpTargetController {
  selection?: string;
  approval?: string;
  removal?: string;
  monitoring?: string;
  /** Sent with every request, e.g. `{ authorization: "Bearer ..." }`. */
  headers?: Record<string, string>;
  /** How long a request may take (default 10,000 ms, at most 600,000). */
  timeoutMs?: number;
}

/** The Go engine's HTTP monitoring controller. */
export interface HttpMonitoringController {
  externalmonitoring: string;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

/** Options of `orchestrateAsync`, `orchestrateColumnsAsync` and `reportAsync`. */
export interface AsyncStepOptions {
  /** How long one hook call may take, in ms (default 10,000); one that takes longer fails as a throwing hook does. */
  hookTimeoutMs?: number;
  /** How many hook calls of the step may be out at once (default 16). */
  concurrency?: number;
}

/** Options of `new Orchestrator()` and `Orchestrator.restore()`. */
export interface OrchestratorOptions {
  /** The clock, in milliseconds since the Unix epoch (default `Date.now`). */
  now?: () => number;
}

/** The stable codes of `OrchestratorError`: the engine's, then those of the package's JS. */
export type ErrorCode =
  | "INVALID_OPTIONS"
  | "INVALID_VERSION"
  | "INVALID_TARGET"
  | "INVALID_NAME"
  | "NO_TARGET_VERSION"
  | "NOT_FOUND"
  | "HOOK_FAILED"
  | "HOOK_PENDING"
  | "INVALID_SNAPSHOT"
  | "INVALID_TIME"
  | "INVALID_ARGUMENT"
  | "ENTITY_BUSY"
  | "STORE_UNAVAILABLE"
  | "CONFLICT"
  | "INVALID_JSON"
  | "INVALID_SCENARIO";

/**
 * Every error the package throws on purpose: an `Error` with a stable
 * `code`. `error instanceof OrchestratorError` holds for the engine's
 * errors and the package's alike.
 */
export declare class OrchestratorError extends Error {
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown });
  readonly name: "OrchestratorError";
  readonly code: ErrorCode;
}
"#;

/// The allocator: talc, 1.8 KB smaller in the gzipped module than the
/// standard library's dlmalloc, as fast and with the same memory at 100k
/// and 1M targets (docs/PERFORMANCE.md).
#[global_allocator]
// SAFETY: `new_global` requires that nothing else manages wasm memory and
// that there is one thread: the module is built for wasm32-unknown-unknown
// without threads, and this is its only allocator.
static ALLOCATOR: talc::TalckWasm = unsafe { talc::TalckWasm::new_global() };
