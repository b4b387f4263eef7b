// The round trip as a Cloudflare Worker (bundled with the "workerd" condition, run in workerd by Miniflare).
import { Orchestrator, OrchestratorError } from "orchestrator-engine";
import { roundTrip } from "./round-trip.mjs";

export default {
  fetch: () => Response.json(roundTrip(Orchestrator, OrchestratorError)),
};
