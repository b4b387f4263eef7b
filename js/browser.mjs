// Browser entry: fetches the wasm file next to the bindings, then exports
// a ready engine (top-level await; every current browser and bundler).
import init from "./web-bindings.mjs";

await init();

export { Orchestrator, OrchestratorError, version, wasmMemoryBytes } from "./web-bindings.mjs";
