const { Orchestrator, OrchestratorError, version } = require("orchestrator-engine");
let t = Date.UTC(2024, 0, 1);
const e = new Orchestrator({ now: () => t });
e.setTargetVersion("p", "e", "v1");
const answer = e.orchestrate("p", "e", [{ name: "a", version: "v0" }]);
let error;
try { e.rolloutInfo("p", "none"); } catch (caught) { error = caught instanceof OrchestratorError && caught.code; }
console.log(JSON.stringify({ version: version(), answer: answer[0].version, kind: "cjs", orchestrateAsync: typeof e.orchestrateAsync, error }));
