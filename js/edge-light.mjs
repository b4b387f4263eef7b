// Vercel Edge / Next.js middleware (edge-light): `?module` imports a
// compiled WebAssembly.Module; compiling from bytes at run time is not allowed.
import wasmModule from "../pkg/web/orchestrator_engine_bg.wasm?module";
import { initSync } from "./web-bindings.mjs";

initSync({ module: wasmModule });

export { Orchestrator, OrchestratorError, version, wasmMemoryBytes } from "./web-bindings.mjs";
