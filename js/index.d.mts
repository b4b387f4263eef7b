// Types of the package's main entry for ES module importers: its named
// exports (there is no default export: `import { Orchestrator } from
// "orchestrator-engine"`), with the asynchronous steps.
/// <reference path="./async-steps.d.ts" />
/// <reference path="./notifications.d.ts" />
export { Orchestrator, OrchestratorError, version, wasmMemoryBytes } from "../pkg/node/orchestrator_engine.js";
export type * from "../pkg/node/orchestrator_engine.js";
