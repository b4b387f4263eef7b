// Node ESM entry: the CommonJS bindings, re-exported by name.
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const bindings = require("../pkg/node/orchestrator_engine.js");

export const { Orchestrator, version, wasmMemoryBytes } = bindings;
