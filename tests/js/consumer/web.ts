// The web bindings (a page or a bundler: needs the DOM's types, as `init`
// takes a URL or a Response): initialised by the caller, the same engine.
import type { ErrorCode, ExpectedState } from "orchestrator-engine/web";
import init, { Orchestrator as WebOrchestrator, OrchestratorError as WebError, initSync } from "orchestrator-engine/web";
async function web(): Promise<void> {
  await init();
  void initSync;
  const engine = new WebOrchestrator({ now: () => 0 });
  const answer: Promise<ExpectedState[]> = engine.orchestrateAsync("p", "e", [{ name: "a", version: "v1" }]);
  try {
    engine.rolloutInfo("p", "e");
  } catch (error) {
    if (error instanceof WebError) void (error.code satisfies ErrorCode);
  }
  void answer;
}
void web;
