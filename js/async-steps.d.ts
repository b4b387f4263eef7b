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
}

declare module "../pkg/node/orchestrator_engine.js" {
  interface Orchestrator extends AsyncSteps {}
}

declare module "../pkg/web/orchestrator_engine.js" {
  interface Orchestrator extends AsyncSteps {}
}
