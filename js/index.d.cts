// Types of the package's main entry for CommonJS importers (`require`,
// js/node.cjs), with the asynchronous steps.
/// <reference path="./async-steps.d.ts" />
/// <reference path="./notifications.d.ts" />
export * from "../pkg/node/orchestrator_engine.js";
