// The engine in the page, off its main thread: it restores an entity's
// snapshot (what GET .../snapshot answers) and computes what the page
// shows (the rollout, every target in columns, the plan, the history)
// without asking the server for each, and runs "what if" simulations from
// it. A 100,000-target entity takes tens of milliseconds here, where the
// page would stall drawing and input.
import init, { Orchestrator } from "../engine/orchestrator_engine.js";
import { Simulation } from "../engine/simulation.mjs";

const ready = init();

/** A list of distinct strings, and a function giving a string's index in it. */
function table() {
  const list = [];
  const index = new Map();
  return [
    list,
    (text) => {
      let i = index.get(text);
      if (i === undefined) {
        i = list.push(text) - 1;
        index.set(text, i);
      }
      return i;
    },
  ];
}

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
    const expected = engine.expectedState(namespace, entity);
    const n = expected.length;
    // Targets in columns, grouped as the engine orders them (group, then name).
    const order = Array.from({ length: n }, (_, i) => i);
    order.sort((a, b) => (expected[a].group < expected[b].group ? -1 : expected[a].group > expected[b].group ? 1 : a - b));
    const [versionTable, versionCode] = table();
    const [reasonTable, reasonCode] = table();
    const [messageTable, messageCode] = table();
    // As orchestrateColumns answers: index arrays into tables of distinct values.
    const targets = { names: new Array(n), groups: new Array(n), version: new Uint16Array(n), reason: new Uint8Array(n), message: new Uint32Array(n), versionTable, reasonTable, messageTable };
    const counts = {};
    order.forEach((from, i) => {
      const e = expected[from];
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
    return { summary, awaitingApproval, step, log: simulation.log.slice(-200), events: simulation.events().filter((e) => e.kind !== "target_assigned" && e.kind !== "target_succeeded").slice(-100) };
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
