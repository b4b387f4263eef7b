// A CommonJS importer (require): the same engine, its errors and the asynchronous steps.
import engine = require("orchestrator-engine");

const e = new engine.Orchestrator({ now: () => 0 });
e.setTargetVersion("p", "e", "v1");
const answer: engine.ExpectedState[] = e.orchestrate("p", "e", [{ name: "a", version: "v0" }]);
const pending: Promise<engine.ExpectedState[]> = e.orchestrateAsync("p", "e", [{ name: "a", version: "v1" }]);
void [answer, pending];
try {
  e.rolloutInfo("p", "none");
} catch (error) {
  if (error instanceof engine.OrchestratorError) {
    const code: engine.ErrorCode = error.code;
    void code;
  }
}
const version: string = engine.version();
void version;
