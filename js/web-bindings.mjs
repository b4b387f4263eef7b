// The `web` bindings (`orchestrator-engine/web`, and what every entry but
// Node's starts from), with asynchronous steps added to `Orchestrator`.
import { Orchestrator } from "../pkg/web/orchestrator_engine.js";
import { withAsyncSteps } from "./hooks/async.mjs";
import { withFreezes } from "./freezes.mjs";
import { withNotifications } from "./notify/install.mjs";
import { withPipelines } from "./pipelines.mjs";

withAsyncSteps(Orchestrator);
withFreezes(Orchestrator);
withNotifications(Orchestrator);
withPipelines(Orchestrator);

export { default, initSync, Orchestrator, version, wasmMemoryBytes } from "../pkg/web/orchestrator_engine.js";
export { OrchestratorError } from "./errors.mjs";
