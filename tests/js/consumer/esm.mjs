import { Orchestrator, OrchestratorError, version } from "orchestrator-engine";
let t = Date.UTC(2024, 0, 1);
const e = new Orchestrator({ now: () => t });
e.setTargetVersion("p", "e", "v1");
const answer = e.orchestrate("p", "e", [{ name: "a", version: "v0" }]);
// The engine's errors are OrchestratorErrors, and so are the package's (Rollouts').
const caught = (fn) => { try { fn(); } catch (error) { return error instanceof OrchestratorError && error.code; } };
const { Rollouts } = await import("orchestrator-engine/rollouts");
const { MemoryStore } = await import("orchestrator-engine/stores");
const errors = [caught(() => e.rolloutInfo("p", "none")), caught(() => new Rollouts({ store: new MemoryStore(), retries: -1 })), new Error("x") instanceof OrchestratorError];
console.log(JSON.stringify({ version: version(), answer: answer[0].version, kind: "esm", errors, entry: import.meta.resolve("orchestrator-engine").replace(/.*orchestrator-engine\//, "") }));
