// The engine in the page, off its main thread: it restores an entity's
// snapshot (what GET .../snapshot answers) and computes what the page
// shows (the rollout, every target in columns, the plan, the history)
// without asking the server for each, and runs "what if" simulations from
// it. A 100,000-target entity takes tens of milliseconds here, where the
// page would stall drawing and input.
import init, { Orchestrator } from "../engine/orchestrator_engine.js";
import { Simulation } from "../engine/simulation.mjs";
import { table } from "../columns.mjs";

const ready = init();

/** The entity's schedule, or null with no version to roll out (`NO_TARGET_VERSION`). */
function planOf(engine, namespace, entity) {
  try {
    return engine.plan(namespace, entity);
  } catch (error) {
    if (error.code === "NO_TARGET_VERSION") return null;
    throw error;
  }
}

/** The entity as the page shows it, computed from its snapshot at `nowMs`. */
function view({ bytes, namespace, entity, nowMs }) {
  const engine = Orchestrator.restore(bytes, { now: () => nowMs });
  try {
    // In the engine's order (group, then name): each group's targets together, as the grid draws them.
    const expected = engine.expectedState(namespace, entity);
    const n = expected.length;
    const [versionTable, versionCode] = table();
    const [reasonTable, reasonCode] = table();
    const [messageTable, messageCode] = table();
    // As orchestrateColumns answers: index arrays into tables of distinct values.
    const targets = { names: new Array(n), groups: new Array(n), version: new Uint16Array(n), reason: new Uint8Array(n), message: new Uint32Array(n), versionTable, reasonTable, messageTable };
    const counts = {};
    expected.forEach((e, i) => {
      targets.names[i] = e.name;
      targets.groups[i] = e.group;
      targets.version[i] = versionCode(e.version);
      targets.reason[i] = reasonCode(e.reason);
      targets.message[i] = messageCode(e.message);
      counts[e.reason] = (counts[e.reason] ?? 0) + 1;
    });
    return {
      info: engine.rolloutInfo(namespace, entity),
      plan: planOf(engine, namespace, entity),
      history: engine.history(namespace, entity),
      analysis: engine.analysis(namespace, entity),
      counts,
      targets,
    };
  } finally {
    engine.free();
  }
}

/** A what-if run from the snapshot; progress is posted as it goes. */
function whatIf({ id, bytes, namespace, entity, nowMs, scenario }) {
  const simulation = Simulation.fromSnapshot(Orchestrator, bytes, { namespace, entity, nowMs, ...scenario });
  try {
    let posted = Date.now();
    const summary = simulation.run({
      onStep: (s) => {
        if (Date.now() - posted < 250) return;
        posted = Date.now();
        postMessage({ id, progress: { steps: s.steps, elapsedSecs: s.elapsedSecs } });
      },
    });
    const { awaitingApproval, step } = simulation.info;
    const analysis = simulation.analysis().filter((run) => run.ended === null || run.ended >= nowMs);
    return { summary, awaitingApproval, step, analysis, log: simulation.log.slice(-200), events: simulation.events().filter((e) => e.kind !== "target_assigned" && e.kind !== "target_succeeded").slice(-100) };
  } finally {
    simulation.engine.free();
  }
}

onmessage = async ({ data }) => {
  try {
    await ready;
    const answer = data.type === "view" ? view(data) : whatIf(data);
    postMessage({ id: data.id, ok: true, answer });
  } catch (error) {
    postMessage({ id: data.id, ok: false, code: error.code, message: error.message ?? String(error) });
  }
};
