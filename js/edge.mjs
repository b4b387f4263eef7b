// Default entry (edge functions, Deno, Bun, workers): the wasm bytes are
// inlined, so it initialises with neither a file system nor a fetch.
import { initSync } from "./web-bindings.mjs";
import { wasmBase64 } from "../pkg/edge/wasm-base64.mjs";

initSync({ module: Uint8Array.from(atob(wasmBase64), (c) => c.charCodeAt(0)) });

export { Orchestrator, OrchestratorError, version, wasmMemoryBytes } from "./web-bindings.mjs";
