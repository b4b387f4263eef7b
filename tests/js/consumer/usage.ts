import { Orchestrator, OrchestratorError, version } from "orchestrator-engine";
import type {
  RolloutEvent, ExpectedState, Rollout, RolloutInfo, Schedule, TargetController, TargetView, Reason, ErrorCode,
  AnswerColumns, ReportColumns,
} from "orchestrator-engine";

let simTimeMs = 0;
const engine = new Orchestrator();
const sim = new Orchestrator({ now: () => simTimeMs });
engine.setRolloutOptions("production", "app-service", { batchPercent: 10, successPercent: 100, successTimeoutSecs: 900, durationTimeoutSecs: 3600 });
engine.setRolloutOptions("production", "app-service");
engine.setTargetVersion("production", "app-service", "v2");
engine.forceTargetVersion("production", "app-service", "v3");
const expected: ExpectedState[] = engine.orchestrate("production", "app-service", [{ name: "host-1", group: "eu", version: "v1", message: "ok", isError: false }]);
const reason: Reason = expected[0].reason;
engine.report("production", "app-service", [{ name: "host-2", version: "v1" }]);
const fleet: ReportColumns = { names: ["host-1", "host-2"], versions: ["v1", "v1"], isError: new Uint8Array(2) };
const columns: AnswerColumns = engine.orchestrateColumns("production", "app-service", fleet);
const wanted: string = columns.versionTable[columns.version[0]];
const why: Reason = columns.reasonTable[columns.reason[1]];
const rest: ExpectedState[] = columns.others;
void [wanted, why, rest, columns.messageTable[columns.message[0]], columns.isError[0]];
// @ts-expect-error versions is required
engine.orchestrateColumns("production", "app-service", { names: ["host-1"] });
engine.expectedState("production", "app-service");
engine.expectedState("production", "app-service", "eu");
const info: RolloutInfo = engine.rolloutInfo("production", "app-service");
engine.setRolloutOptions("production", "app-service", {
  steps: [1, "10%", { size: "50%", bakeSecs: 600, approval: true }, "100%"],
  maxFailures: "2%", maxConsecutiveFailures: 3, watchSecs: 600, rollbackBatchPercent: null, maxEvents: 100, errorTimeoutSecs: 120,
});
// @ts-expect-error a step size is a count or a "N%" string
engine.setRolloutOptions("production", "app-service", { steps: ["half"] });
const changed: boolean = engine.pause("production", "app-service") && engine.resume("production", "app-service")
  && engine.abort("production", "app-service") && engine.retry("production", "app-service")
  && engine.promote("production", "app-service", { full: true }) && engine.approve("production", "app-service")
  && engine.rollbackTo("production", "app-service", "v1");
const schedule: Schedule = engine.plan("production", "app-service");
const firstStep: number | null = schedule.steps[0].earliestStart;
const events: RolloutEvent[] = engine.events("production", "app-service", { since: 0, limit: 10 });
const kind: "version_good" | string = events[0].kind;
const rollouts: Rollout[] = engine.history("production", "app-service");
const paused: boolean = info.paused && info.awaitingApproval && info.step === 0 && info.watchUntil === null;
void [changed, firstStep, kind, rollouts, paused];
const good: string = info.lastKnownGoodVersion;
const batch: number = info.options.batchPercent;
const names: string[] = engine.namespaces().concat(engine.entities("production"));
const bytes: Uint8Array = engine.snapshot();
const again: Orchestrator = Orchestrator.restore(bytes, { now: () => simTimeMs });
const controller: TargetController = {
  select: (targets: TargetView[], count: number) => targets.slice(0, count).map((t) => ({ name: t.name, group: t.group })),
  approve: (targets) => targets.map((t) => t.name),
  remove: (targets, count) => targets.slice(0, count),
  monitor: (target, ctx) => { if (target.isError && !ctx.rollingBack) throw new Error("unhealthy"); },
};
engine.setTargetController("production", "app-service", controller);
engine.setMonitoringController("production", "app-service", { check: (targets) => { void targets.length; } });
engine.setTargetController("production", "app-service", null);
try { sim.rolloutInfo("x", "y"); } catch (e) { if (e instanceof OrchestratorError) { const code: ErrorCode = e.code; void code; } }
const v: string = version();
void [reason, good, batch, names, again, v];
// @ts-expect-error reports must be an array of target reports
engine.orchestrate("production", "app-service", "host-1");
// @ts-expect-error batchPercent is a number
engine.setRolloutOptions("production", "app-service", { batchPercent: "10" });

// The simulated fleet the simulators use.
import { OUTCOME_TEXT, Simulation, formatDuration, parseSteps, tally, type Summary } from "orchestrator-engine/simulation";
const simulation = new Simulation(Orchestrator, { targets: 10, failures: { v2: { unhealthy: 0.1 } } });
const summary: Summary = simulation.run({ maxSteps: 5 });
const outcome: "rolled_out" | "rolled_back" | "returned" | "halted" | "unsettled" = summary.outcome;
const took: string = `${OUTCOME_TEXT[summary.outcome]} in ${formatDuration(summary.virtualSecs)}, ${tally(summary.reasons).failed} failed`;
const saved = Simulation.load(Orchestrator, simulation.save());
const acted: boolean = simulation.control("rollbackTo", "v1") || simulation.control("pause");
new Simulation(Orchestrator, { options: { steps: parseSteps("1:60,100%") }, actions: [{ atSecs: 5, kind: "approve" }] });
// @ts-expect-error rollbackTo needs a version
new Simulation(Orchestrator, { actions: [{ atSecs: 5, kind: "rollbackTo" }] });
void [acted, simulation.events(0), simulation.history(), simulation.plan()];
// @ts-expect-error failure kinds are checked
new Simulation(Orchestrator, { failures: { v2: { broken: 0.1 } } });
export { outcome, took, saved };

// The durable engine and its stores.
import { Rollouts } from "orchestrator-engine/rollouts";
import { MemoryStore, RedisStore, PostgresStore } from "orchestrator-engine/stores";
import type { Store, StoredEntity } from "orchestrator-engine/stores";
import { FileStore } from "orchestrator-engine/stores/file";

async function durable(): Promise<void> {
  const stores: Store[] = [new MemoryStore(), new FileStore("/var/lib/rollouts"), new RedisStore({ sendCommand: async () => null }), new PostgresStore({ query: async () => ({ rows: [] }) }, { table: "rollouts", prepare: false })];
  const rollouts = new Rollouts({ store: stores[0], now: () => Date.now(), retries: 8, storeTimeoutMs: 2000 });
  await rollouts.setTargetVersion("prod", "api", "v2");
  const answer: ExpectedState[] = await rollouts.orchestrate("prod", "api", [{ name: "h1", version: "v1" }]);
  const paused: boolean = await rollouts.pause("prod", "api");
  const info: RolloutInfo = await rollouts.rolloutInfo("prod", "api");
  const got: StoredEntity | undefined = await stores[0].get("prod", "api");
  rollouts.setTargetController("prod", "api", { monitor: () => {} });
  // @ts-expect-error a store needs every method
  new Rollouts({ store: { get: async () => undefined } });
  void [answer, paused, info, got, await rollouts.namespaces(), await rollouts.deleteEntity("prod", "api")];
}
void durable;

// Asynchronous hooks and steps.
sim.setTargetController("production", "app-service", {
  approve: async (targets: TargetView[]) => targets.filter((t) => t.tags.includes("canary")),
  monitor: async (target: TargetView) => {
    if (target.isError) throw new Error("unhealthy");
  },
});
sim.setMonitoringController("production", "app-service", { check: async () => {} });
const later: Promise<ExpectedState[]> = sim.orchestrateAsync("production", "app-service", [{ name: "h", version: "v1" }], { hookTimeoutMs: 5000, concurrency: 8 });
const laterColumns: Promise<AnswerColumns> = sim.orchestrateColumnsAsync("production", "app-service", fleet);
const reported: Promise<void> = sim.reportAsync("production", "app-service", [{ name: "h", version: "v1" }]);
void [later, laterColumns, reported];
sim.setTargetController("production", "app-service", { approval: "https://changes.example.com/approve", headers: { authorization: "Bearer t" }, timeoutMs: 2000 });
sim.setMonitoringController("production", "app-service", { externalmonitoring: "https://alerts.example.com/check" });

// The HTTP API: a fetch handler for any server or worker, and the Node server.
import { createHandler, PREFIX } from "orchestrator-engine/server";
import { startServer } from "orchestrator-engine/server/node";

declare const request: Parameters<ReturnType<typeof createHandler>["fetch"]>[0];
async function serving(): Promise<void> {
  void PREFIX;
  const handler = createHandler({ store: new MemoryStore(), token: "t", readToken: "r", maxBodyBytes: 1 << 20 });
  const response = await handler.fetch(request);
  const server = await startServer({ store: new MemoryStore(), port: 0, log: () => {} });
  const url: string = server.url;
  await server.stop();
  // @ts-expect-error a handler needs a store
  createHandler({ token: "t" });
  void [response, url, handler.rollouts];
}
void serving;

