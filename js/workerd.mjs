// Cloudflare Workers (workerd): importing a .wasm file gives a compiled
// WebAssembly.Module, and compiling from bytes at run time is not allowed.
import wasmModule from "../pkg/web/orchestrator_engine_bg.wasm";
import { initSync } from "./web-bindings.mjs";

initSync({ module: wasmModule });

export { Orchestrator, OrchestratorError, version, wasmMemoryBytes } from "./web-bindings.mjs";
