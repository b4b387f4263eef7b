// Types of `orchestrator-engine/web` (js/web-bindings.mjs): the web
// bindings, initialised by the caller, with the asynchronous steps.
/// <reference path="./async-steps.d.ts" />
/// <reference path="./notifications.d.ts" />
export * from "../pkg/web/orchestrator_engine.js";
export { default } from "../pkg/web/orchestrator_engine.js";
