// `node|bun|deno round-trip-run.mjs`: the round trip through the runtime's own resolution of the package.
import { Orchestrator, OrchestratorError } from "orchestrator-engine";
import { roundTrip } from "./round-trip.mjs";

console.log(JSON.stringify({ entry: import.meta.resolve("orchestrator-engine").replace(/.*orchestrator-engine\//, ""), ...roundTrip(Orchestrator, OrchestratorError) }));
