// Pipelines as people write them: a verification template written as the
// option `analysis` is (Argo's durations, providers as objects), made the
// engine's form before `setPipeline` takes it.
import { normalizeAnalysis } from "./analysis/template.mjs";

/** `pipeline` with its verification template in the engine's form. */
export function normalizePipeline(pipeline) {
  if (pipeline === null || typeof pipeline !== "object" || Array.isArray(pipeline)) return pipeline;
  if (pipeline.verification === undefined || pipeline.verification === null) return pipeline;
  return { ...pipeline, verification: normalizeAnalysis(pipeline.verification, "pipeline.verification") };
}

export function withPipelines(Orchestrator) {
  const set = Orchestrator.prototype.setPipeline;
  Orchestrator.prototype.setPipeline = function (namespace, entity, pipeline) {
    return set.call(this, namespace, entity, normalizePipeline(pipeline));
  };
}
