//! The JS binding layer: converts, delegates, and nothing more. Every
//! `#[wasm_bindgen]` item of the crate lives under this module.

mod hooks;
mod interop;
mod orchestrator;

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
  | "halted";

/** How an entity rolls out; a missing field takes its default. */
export interface RolloutOptions {
  /** At most this share of all targets is in flight at once (default 5). */
  batchPercent?: number;
  /** The version is good once this share of all targets succeeded (default 100). */
  successPercent?: number;
  /** A target succeeds after running the version without error for more than this (default 60). */
  successTimeoutSecs?: number;
  /** A target not succeeded this long after assignment has failed (default 120). */
  durationTimeoutSecs?: number;
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
}

/** An entity's rollout state. */
export interface RolloutInfo {
  targetVersion: string;
  rollingVersion: string;
  lastKnownGoodVersion: string;
  lastKnownBadVersion: string;
  options: Required<RolloutOptions>;
  /** How many targets the entity has. */
  targets: number;
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
  /** The step's time, in milliseconds since the Unix epoch. */
  now: number;
}

/** A target named by a hook: an object, or just a name (group ""). */
export type TargetId = { name: string; group?: string } | string;

/** Per-target hooks; each is optional and fails by throwing. */
export interface TargetController {
  /** Picks at most `count` targets to move now; may name new targets (blue/green). */
  select?(targets: TargetView[], count: number, context: HookContext): TargetId[];
  /** Keeps the selected targets that may move now. */
  approve?(targets: TargetView[], context: HookContext): TargetId[];
  /** Picks at most `count` replaced targets to delete (blue/green). */
  remove?(targets: TargetView[], count: number, context: HookContext): TargetId[];
  /** Throws to fail a target that runs the version being kept. */
  monitor?(target: TargetView, context: HookContext): void;
}

/** Whole-system health: throwing fails the step, which then changes nothing. */
export interface MonitoringController {
  check(targets: TargetView[], context: HookContext): void;
}

/** Options of `new Orchestrator()` and `Orchestrator.restore()`. */
export interface OrchestratorOptions {
  /** The clock, in milliseconds since the Unix epoch (default `Date.now`). */
  now?: () => number;
}

/** The stable codes of `OrchestratorError`. */
export type ErrorCode =
  | "INVALID_OPTIONS"
  | "INVALID_VERSION"
  | "INVALID_TARGET"
  | "INVALID_NAME"
  | "NO_TARGET_VERSION"
  | "NOT_FOUND"
  | "HOOK_FAILED"
  | "INVALID_SNAPSHOT"
  | "INVALID_TIME"
  | "INVALID_ARGUMENT";

/** Every error the engine throws: an `Error` with a stable `code`. */
export interface OrchestratorError extends Error {
  name: "OrchestratorError";
  code: ErrorCode;
}
"#;
