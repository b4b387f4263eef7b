// Types of js/simulation.mjs (`orchestrator-engine/simulation`).
import type {
  Amount, RolloutEvent, ExpectedState, Orchestrator, PlanStepInput, Reason, Rollout, RolloutInfo, RolloutOptions, Schedule,
} from "orchestrator-engine";
import { OrchestratorError } from "orchestrator-engine";

export declare const NAMESPACE: "simulation";
export declare const ENTITY: "service";
export type FailureKind = "unhealthy" | "late" | "flap" | "stuck";
export declare const FAILURE_KINDS: readonly FailureKind[];

/** The operator's controls a scenario can schedule (and a viewer can take). */
export type Control =
  | "set" | "force" | "pause" | "resume" | "abort" | "retry" | "promote" | "promoteFull" | "approve" | "rollbackTo";
export declare const CONTROLS: readonly Control[];

/** Operator actions at a virtual second of the run. */
export type ScenarioAction =
  | { atSecs: number; kind: "set" | "force" | "rollbackTo"; version: string }
  | { atSecs: number; kind: Exclude<Control, "set" | "force" | "rollbackTo"> };

/** "1:600,10%,50%:approve,100%" as the engine's `steps`; throws INVALID_SCENARIO. */
export declare function parseSteps(text: string): PlanStepInput[];
/** The text `parseSteps` reads. */
export declare function formatSteps(steps: readonly (PlanStepInput | { size: Amount; bakeSecs: number; approval: boolean })[]): string;
/** "12" or "10%" as the engine takes it; throws INVALID_SCENARIO. */
export declare function parseAmount(text: string, what?: string): Amount;

export interface Scenario {
  /** 1 to 1,000,000 targets. */
  targets: number;
  groups: string[];
  options: RolloutOptions;
  versions: { current: string; target: string; next?: string };
  /** Per version, shares (0..1) of targets with each failure kind. */
  failures: Record<string, Partial<Record<FailureKind, number>>>;
  reportDelaySecs: number;
  stepSecs: number;
  flapSecs: number;
  maxSecs: number;
  seed: number;
  actions: ScenarioAction[];
}

export declare const DEFAULT_SCENARIO: Readonly<Scenario>;

/** `returned`: an operator's rollbackTo returned every target to the version. */
export type Outcome = "rolled_out" | "rolled_back" | "returned" | "halted" | "unsettled";

export interface Summary {
  outcome: Outcome;
  version: string;
  lastKnownGoodVersion: string;
  lastKnownBadVersion: string;
  /** Why the last known bad version is: "judged bad", "aborted", "forced away" or "left by rollbackTo VERSION"; null with none. */
  lastKnownBadWhy: string | null;
  virtualSecs: number;
  steps: number;
  targets: number;
  /** Targets the engine ever told to change version. */
  targetsTouched: number;
  /** The most targets in flight at once (moving to the version rolled out; the batch bounds it). */
  peakInFlight: number;
  /** The most targets being sent back from a bad version at once (the rollback pace bounds it). */
  peakRollingBack: number;
  /** Targets per reported version. */
  running: Record<string, number>;
  reasons: Partial<Record<Reason, number>>;
}

export interface LogEntry {
  seq: number;
  /** Virtual seconds since the target version was first set. */
  t: number;
  step: number;
  kind: "good" | "bad" | "version" | "operator" | "settled" | "target" | "failure" | "rollback";
  text: string;
  /** The engine's message for the first target of a group of changes. */
  why?: string;
}

export interface SimulatedTarget {
  readonly name: string;
  readonly group: string;
  readonly running: string;
  /** The version it is deploying, reported once the delay has passed. */
  readonly pending: string | null;
}

/** What `save()` returns: plain JSON. */
export interface SavedSimulation {
  format: "orchestrator-engine/simulation";
  formatVersion: 1;
  scenario: Scenario;
  state: Record<string, unknown>;
  /** The engine snapshot, base64. */
  snapshot: string;
}

/** A scenario the simulator cannot run: an OrchestratorError whose `code` is INVALID_SCENARIO. */
export declare class ScenarioError extends OrchestratorError {
  readonly code: "INVALID_SCENARIO";
}

/** How each outcome reads in a sentence ("v2 rolled back"). */
export declare const OUTCOME_TEXT: Readonly<Record<Outcome, string>>;
/** Targets in flight (rolling out), rolling back and failed, from reason counts (a summary's `reasons`). */
export declare function tally(reasons: Partial<Record<Reason, number>>): { inFlight: number; rollingBack: number; failed: number };
export declare function normalizeScenario(input?: Partial<Scenario>): Scenario;
export declare function formatDuration(secs: number): string;

export declare class Simulation {
  constructor(orchestrator: typeof Orchestrator, scenario?: Partial<Scenario>);
  static load(orchestrator: typeof Orchestrator, saved: SavedSimulation | string): Simulation;
  /**
   * "What if": a run from a live entity's snapshot in an engine of its own
   * (the entity is untouched); each target runs what the engine last told
   * it; `failures` strike targets not yet succeeded on a version; the
   * entity's hooks are not called. Such a run cannot be saved.
   */
  static fromSnapshot(
    orchestrator: typeof Orchestrator,
    snapshot: Uint8Array,
    options: { namespace: string; entity: string; nowMs: number; approveGates?: boolean } & Partial<
      Pick<Scenario, "failures" | "reportDelaySecs" | "stepSecs" | "flapSecs" | "maxSecs" | "seed" | "actions">
    >,
  ): Simulation;
  /** The simulated entity (the simulation's own, or the live one's names). */
  readonly namespace: string;
  readonly entity: string;
  readonly scenario: Scenario;
  readonly engine: Orchestrator;
  /** Targets in the engine's answer order. */
  readonly fleet: readonly SimulatedTarget[];
  /** The engine's last answer. */
  readonly expected: readonly ExpectedState[];
  readonly info: RolloutInfo;
  readonly steps: number;
  readonly log: readonly LogEntry[];
  readonly timeline: readonly { t: number; counts: Record<string, number> }[];
  readonly elapsedSecs: number;
  readonly settled: boolean;
  readonly finished: boolean;
  step(): void;
  run(options?: { maxSteps?: number; onStep?: (simulation: Simulation) => void }): Summary;
  setTargetVersion(version: string): void;
  forceTargetVersion(version: string): void;
  setOptions(options: RolloutOptions): void;
  /** An engine control; returns whether it changed anything (and logs it). */
  control(kind: Control, version?: string): boolean;
  /** The engine's event log of the simulated entity, after `since` (a seq). */
  events(since?: number): RolloutEvent[];
  history(): Rollout[];
  plan(): Schedule;
  counts(): Record<string, number>;
  summary(): Summary;
  save(): SavedSimulation;
}
