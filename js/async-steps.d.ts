// The asynchronous steps js/hooks/async.mjs adds to `Orchestrator`, for
// every entry's types (index.d.mts for ES modules, index.d.cts for
// CommonJS, web-bindings.d.ts for `orchestrator-engine/web`).
import type { AnswerColumns, AsyncStepOptions, ExpectedState, ReportColumns, TargetReport } from "../pkg/node/orchestrator_engine.js";

export interface AsyncSteps {
  /**
   * `orchestrate`, waiting for hooks that answer with a Promise (each
   * call at most `hookTimeoutMs`, at most `concurrency` at once; a step
   * still changes all or nothing). Steps of one entity queue; a
   * synchronous step of that entity meanwhile throws `ENTITY_BUSY`.
   */
  orchestrateAsync(namespace: string, entity: string, reports: TargetReport[], options?: AsyncStepOptions): Promise<ExpectedState[]>;
  /** `orchestrateColumns`, waiting for asynchronous hooks as `orchestrateAsync` does. */
  orchestrateColumnsAsync(namespace: string, entity: string, columns: ReportColumns, options?: AsyncStepOptions): Promise<AnswerColumns>;
  /** `report`, waiting for asynchronous hooks as `orchestrateAsync` does. */
  reportAsync(namespace: string, entity: string, reports: TargetReport[], options?: AsyncStepOptions): Promise<void>;
  /**
   * How this engine takes analysis measurements: `functions` answer the
   * `function` provider's metrics (Datadog, CloudWatch, a test double),
   * `secrets` fill template arguments that have no value (Argo's
   * `valueFrom`), `allowHosts` limits the hosts Prometheus and web
   * providers may reach. Without a call, Prometheus and web providers work
   * and functions and secrets are none.
   */
  useMetrics(options: MetricsOptions): void;
}

/** See `useMetrics`. */
export interface MetricsOptions {
  functions?: Record<string, (request: { metric: string; config: Record<string, unknown>; at: number; namespace: string; entity: string; version: string }) => unknown>;
  secrets?: Record<string, string>;
  allowHosts?: string[];
}

declare module "../pkg/node/orchestrator_engine.js" {
  interface Orchestrator extends AsyncSteps {}
}

declare module "../pkg/web/orchestrator_engine.js" {
  interface Orchestrator extends AsyncSteps {}
}
