// Node ESM entry: the CommonJS entry (js/node.cjs), re-exported by name.
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const bindings = require("./node.cjs");

export const { Orchestrator, version, wasmMemoryBytes, OrchestratorError } = bindings;
