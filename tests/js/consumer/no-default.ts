// An ES module importer: the main entry has named exports only, as at run time.
// @ts-expect-error there is no default export
import engine from "orchestrator-engine";
import { Orchestrator, OrchestratorError } from "orchestrator-engine";
void engine;
const e = new Orchestrator();
try {
  e.rolloutInfo("p", "e");
} catch (error) {
  if (error instanceof OrchestratorError) void (error.code satisfies string);
}
