// The web build started from bytes or from a compiled Module, with no
// file system access by the package itself (as on an edge runtime).
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { initSync, Orchestrator, version } from "orchestrator-engine/web";
const require = createRequire(import.meta.url);
const path = require.resolve("orchestrator-engine/package.json").replace("package.json", "pkg/web/orchestrator_engine_bg.wasm");
const bytes = readFileSync(path);
initSync({ module: process.argv[2] === "module" ? new WebAssembly.Module(bytes) : bytes });
let t = 0;
const e = new Orchestrator({ now: () => t });
e.setTargetVersion("p", "e", "v1");
console.log(JSON.stringify({ version: version(), answer: e.orchestrate("p", "e", [{ name: "a", version: "v0" }])[0].version, kind: "web" }));
