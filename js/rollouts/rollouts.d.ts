// Types of `orchestrator-engine/rollouts`: the engine with its state in a
// store. Every call of `Orchestrator` that takes an entity, asynchronous.
import type { MetricsOptions } from "../async-steps.js";
import type { Delivery, NotificationsState, Subscription } from "../notifications.js";
import type {
  AnalysisRun,
  AnswerColumns,
  RolloutEvent,
  EventsOptions,
  ExpectedState,
  Freezes,
  FreezesInput,
  PipelineInput,
  PipelineView,
  Upstream,
  LineStop,
  HttpMonitoringController,
  HttpTargetController,
  MonitoringController,
  PromoteOptions,
  Reason,
  ReportColumns,
  Rollout,
  RolloutInfo,
  RolloutOptions,
  Schedule,
  TargetController,
  TargetReport,
} from "orchestrator-engine";
import type { Store } from "orchestrator-engine/stores";

export interface RolloutsOptions {
  /** Where entities live. */
  store: Store;
  /** The clock, in ms since the epoch (default `Date.now`). */
  now?: () => number;
  /** Attempts after a conflict before `CONFLICT` (default 16). */
  retries?: number;
  /** How long one store call may take before `STORE_UNAVAILABLE` (default 10,000 ms; at most 2,147,483,647, the longest a timer waits). */
  storeTimeoutMs?: number;
  /** How many entities this process keeps loaded; the least recently used beyond it is read again when next used (default 1,000). */
  maxEntities?: number;
  /**
   * On a store with `append`, each call saves a delta of what it changed
   * to the entity's journal; a checkpoint replaces the journal once it
   * holds this many deltas (default 64; 0: a checkpoint on every call) or
   * once its deltas add up to the checkpoint's size.
   */
  compactEvery?: number;
  /** How long one hook call of a step may take, in ms (default 10,000; at most 2,147,483,647); hooks may answer with Promises. */
  hookTimeoutMs?: number;
  /** How many hook calls of a step may be out at once (default 16). */
  hookConcurrency?: number;
  /** The only hosts an HTTP controller may name (`*.example.com` for any name under it), set or imported; default any. Analysis measures only from these too. */
  allowHookHosts?: string[];
  /** Analysis measurements: functions and secrets (see `Orchestrator.useMetrics`). */
  metrics?: Omit<MetricsOptions, "allowHosts">;
  /** How long a step may use a namespace's settings (freezes, a stopped line) as last read, in ms (default 1,000; 0: every step reads them). */
  namespaceCacheMs?: number;
  /** Where steps read a namespace's settings when its record is in another store (the Worker: its record's object). */
  readNamespace?: (namespace: string) => Promise<Uint8Array | undefined>;
  /** Where a pipeline's steps read an upstream entity's facts when it is in another store (the Worker: its object). */
  readUpstream?: (namespace: string, entity: string) => Promise<Upstream>;
}

/**
 * The engine, durable: each call is one atomic read-modify-write of one
 * entity in the store (load, kept cached while its revision is current;
 * apply; save with the revision read; on a conflict reload and apply
 * again). A call that fails saves nothing. Errors are `OrchestratorError`s
 * with the engine's codes and `CONFLICT`, `STORE_UNAVAILABLE`, and
 * `INVALID_SNAPSHOT` for a stored value that is not the entity's state.
 */
/** One entity of a pipeline as `Rollouts.pipeline` lists it (`found: false`: no such entity in the store). */
export interface PipelineStage {
  name: string;
  found: boolean;
  targetVersion?: string;
  rollingVersion?: string;
  lastKnownGoodVersion?: string;
  lastKnownBadVersion?: string;
  phase?: RolloutInfo["phase"];
  from?: string[];
  candidate?: string | null;
  waiting?: string | null;
  held?: string | null;
}

/** The writes of `Rollouts`. */
export type RolloutsWrite =
  | "setRolloutOptions"
  | "setTargetVersion"
  | "forceTargetVersion"
  | "pause"
  | "resume"
  | "abort"
  | "retry"
  | "promote"
  | "approve"
  | "rollbackTo"
  | "setFreezes"
  | "setPipeline"
  | "approvePromotion"
  | "releasePipeline"
  | "orchestrate"
  | "orchestrateColumns"
  | "report";

/** `Rollouts`' writes made as one actor (see `Rollouts.as`). */
export type ActingRollouts = Readonly<Pick<Rollouts, RolloutsWrite | "applyOnce" | "stopTheLine" | "startTheLine"> & { actor: string }>;

export class Rollouts {
  constructor(options: RolloutsOptions);
  setRolloutOptions(namespace: string, entity: string, options?: RolloutOptions | null): Promise<void>;
  setTargetVersion(namespace: string, entity: string, version: string): Promise<void>;
  forceTargetVersion(namespace: string, entity: string, version: string): Promise<void>;
  pause(namespace: string, entity: string): Promise<boolean>;
  resume(namespace: string, entity: string): Promise<boolean>;
  abort(namespace: string, entity: string): Promise<boolean>;
  retry(namespace: string, entity: string): Promise<boolean>;
  promote(namespace: string, entity: string, options?: PromoteOptions | null): Promise<boolean>;
  approve(namespace: string, entity: string): Promise<boolean>;
  rollbackTo(namespace: string, entity: string, version: string): Promise<boolean>;
  /** The freeze windows and one-off freezes of an entity, or with `entity` `null` of the whole namespace (its record of its own). */
  setFreezes(namespace: string, entity: string | null, freezes: FreezesInput | null): Promise<boolean>;
  freezes(namespace: string, entity?: string | null): Promise<Freezes>;
  /** Stops the namespace's line in every process (within `namespaceCacheMs`); answers whether it was running. */
  stopTheLine(namespace: string, reason: string): Promise<boolean>;
  startTheLine(namespace: string): Promise<boolean>;
  lineStop(namespace: string): Promise<LineStop | null>;
  /**
   * Sets the entity's notification subscriptions (`null` or `[]`: none),
   * kept with it: whichever process saves an event delivers it, once.
   */
  setNotifications(namespace: string, entity: string | null, subscriptions: Subscription[] | null): Promise<boolean>;
  /** Adds a subscription, or replaces the one of its name; the others stay as they are. */
  putNotification(namespace: string, entity: string, subscription: Subscription): Promise<boolean>;
  /** Removes the subscription named `name`; answers whether there was one. */
  removeNotification(namespace: string, entity: string, name: string): Promise<boolean>;
  /** The entity's subscriptions (without secrets), what waits to be delivered, and each one's delivery log. */
  notifications(namespace: string, entity: string): Promise<NotificationsState>;
  /** The namespace's own subscriptions (redacted), each with `since`: from when its entities' events are told. */
  notifications(namespace: string, entity?: null): Promise<{ subscriptions: (NotificationsState["subscriptions"][number] & { since: number })[] }>;
  /** Claims and delivers the entity's notifications that are due now (steps do this by themselves). */
  deliverNotifications(namespace: string, entity: string): Promise<Delivery[]>;
  /** Resolves once every delivery this process has under way is delivered and settled. */
  notificationsSettled(): Promise<void>;
  /**
   * Sets (or with `null` removes) where the entity takes its versions
   * from (see `Orchestrator.setPipeline`); each step of the entity reads
   * its upstreams from the store and promotes once, whichever process
   * steps it.
   */
  setPipeline(namespace: string, entity: string, pipeline: PipelineInput | null): Promise<boolean>;
  /** Approves the promotion of `version` (a pipeline with `approval`). */
  approvePromotion(namespace: string, entity: string, version: string): Promise<boolean>;
  /** Lets the pipeline promote again after a version set by hand held it. */
  releasePipeline(namespace: string, entity: string): Promise<boolean>;
  /** What the entity tells the entities whose pipelines take their versions from it. */
  upstream(namespace: string, entity: string): Promise<Upstream>;
  /** The entity's pipeline decided on its upstreams as stored now, and every stage upstream of it, upstream first. */
  pipeline(namespace: string, entity: string): Promise<PipelineView & { stages: PipelineStage[] }>;
  /**
   * The writes made as `actor` (a person, a token's name): each event an
   * operator's control logs names it (`actor`), and so does the rollout it
   * concerns (`history()`'s `actions`). `INVALID_NAME` unless 1 to 200
   * bytes without control characters.
   */
  as(actor: string): ActingRollouts;
  /**
   * Calls the write `method` at most once for idempotency `key`, whichever
   * process holds the entity; `replayed` when the key was already applied,
   * with its first result.
   */
  applyOnce(key: string, method: RolloutsWrite, namespace: string, entity: string, ...args: unknown[]): Promise<{ replayed: boolean; result: unknown }>;
  orchestrate(namespace: string, entity: string, reports: TargetReport[]): Promise<ExpectedState[]>;
  orchestrateColumns(namespace: string, entity: string, columns: ReportColumns): Promise<AnswerColumns>;
  report(namespace: string, entity: string, reports: TargetReport[]): Promise<void>;
  expectedState(namespace: string, entity: string, group?: string | null): Promise<ExpectedState[]>;
  rolloutInfo(namespace: string, entity: string): Promise<RolloutInfo>;
  /** How many of the entity's targets are in each state (states with none left out). */
  targetCounts(namespace: string, entity: string): Promise<Partial<Record<Reason, number>>>;
  plan(namespace: string, entity: string): Promise<Schedule>;
  events(namespace: string, entity: string, options?: EventsOptions | null): Promise<RolloutEvent[]>;
  history(namespace: string, entity: string): Promise<Rollout[]>;
  /** The entity's analysis runs, with each metric's measurements. */
  analysis(namespace: string, entity: string): Promise<AnalysisRun[]>;
  /** The entity's revision in the store (undefined: none), read without loading it (the bytes are skipped while it is still `known`). */
  revision(namespace: string, entity: string, known?: string): Promise<string | undefined>;
  /**
   * Calls `listener(namespace, entity)` when an entity changes in the store,
   * by any process (`(null, null)`: changes may have been missed), until
   * the answered function is called; `null` for a store that cannot tell.
   */
  watch(listener: (namespace: string | null, entity: string | null) => void): (() => void) | null;
  /** Every entity in the store as `[namespace, entity]`, in name order. */
  list(): Promise<[string, string][]>;
  /** Every namespace with an entity in the store, in name order. */
  namespaces(): Promise<string[]>;
  /** The entities of a namespace in the store (`NOT_FOUND` if it has none). */
  entities(namespace: string): Promise<string[]>;
  /**
   * The entity's snapshot (`NOT_FOUND` when the store has none); `redact`:
   * without its HTTP controllers' secrets (header values, credentials and
   * query strings of endpoints), for a reader.
   */
  exportEntity(namespace: string, entity: string, options?: { redact?: boolean }): Promise<Uint8Array>;
  /** Replaces the entity's stored state with a snapshot of that entity alone (else `INVALID_SNAPSHOT`). */
  importEntity(namespace: string, entity: string, bytes: Uint8Array): Promise<void>;
  /** Deletes an entity from the store; resolves whether it was there. */
  deleteEntity(namespace: string, entity: string): Promise<boolean>;
  /**
   * Sets per-target hooks. Hooks of functions are this process's (never
   * stored; here they win over the entity's HTTP controller); an HTTP
   * controller is stored with the entity and called by every process;
   * `null` removes both. Resolves once stored.
   */
  setTargetController(namespace: string, entity: string, controller: TargetController | HttpTargetController | null): Promise<void>;
  /** Sets the whole-system health check, as `setTargetController` sets per-target hooks. */
  setMonitoringController(namespace: string, entity: string, controller: MonitoringController | HttpMonitoringController | null): Promise<void>;
}
