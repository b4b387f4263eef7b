// The simulation runs here, off the page's main thread: an engine step for
// 20,000 targets takes tens of milliseconds, which would stall drawing and
// input. The page sends commands and gets back compact views (typed arrays
// of version and reason indexes) to draw.
import init, { Orchestrator, version } from "./engine/orchestrator_engine.js";
import { Simulation } from "./engine/simulation.mjs";
import { table } from "./columns.mjs";

const ready = init();
// A busy worker still answers commands and sends a view this often.
const SLICE_MS = 30;

let sim;
let playing = false;
let speed = 100;
let owedSecs = 0;
let lastTick = 0;
let timer;
let sentSeq = -1;
let sentEvent = 0;

/** What the page draws: everything about the run, targets as index arrays. */
function view(full) {
  const n = sim.fleet.length;
  // Versions and reasons as small tables; targets refer to them by index.
  const [versions, code] = table();
  const [reasons, reasonCode] = table();
  const running = new Uint16Array(n);
  const pending = new Uint16Array(n);
  const expected = new Uint16Array(n);
  const reason = new Uint8Array(n);
  sim.fleet.forEach((t, i) => {
    running[i] = code(t.running);
    pending[i] = t.pending === null ? 0 : code(t.pending) + 1;
    const e = sim.expected[i];
    expected[i] = code(e ? e.version : t.running);
    reason[i] = reasonCode(e ? e.reason : "waiting");
  });
  const log = full ? sim.log : sim.log.filter((entry) => entry.seq > sentSeq);
  sentSeq = sim.log.at(-1)?.seq ?? -1;
  // The engine's own event log, from the last event sent on.
  const events = sim.events(full ? 0 : sentEvent);
  sentEvent = events.at(-1)?.seq ?? sentEvent;
  const result = {
    full,
    playing,
    steps: sim.steps,
    elapsedSecs: sim.elapsedSecs,
    settled: sim.settled,
    finished: sim.finished,
    info: sim.info,
    summary: sim.summary(),
    analysis: sim.analysis(),
    versions,
    reasons,
    running,
    pending,
    expected,
    reason,
    log,
    events,
    startMs: sim.startMs,
    timeline: sim.timeline,
  };
  if (full) {
    result.scenario = sim.scenario;
    result.groups = sim.fleet.map((t) => t.group);
  }
  return result;
}

function post(message, full = false) {
  const v = view(full);
  self.postMessage({ ...message, view: v }, [v.running.buffer, v.pending.buffer, v.expected.buffer, v.reason.buffer]);
}

// Commands that change nothing drawn answer without a view; some need no run.
const READS = new Set(["save", "inspect", "state", "version", "speed"]);
const WITHOUT_RUN = new Set(["start", "load", "version", "speed"]);

function tick() {
  timer = undefined;
  if (!playing) return;
  const now = performance.now();
  owedSecs += ((now - lastTick) / 1000) * speed;
  lastTick = now;
  const stepSecs = sim.scenario.stepSecs;
  let stepped = false;
  try {
    while (owedSecs >= stepSecs && !sim.finished && performance.now() < now + SLICE_MS) {
      sim.step();
      owedSecs -= stepSecs;
      stepped = true;
    }
  } catch (e) {
    playing = false;
    post({ error: describe(e) });
    return;
  }
  // When the engine cannot keep up with the speed asked for, it runs as
  // fast as it can rather than piling up a debt.
  owedSecs = Math.min(owedSecs, stepSecs);
  if (sim.finished) playing = false;
  if (stepped || !playing) post({});
  if (playing) timer = setTimeout(tick, stepped ? 0 : 15);
}

function setPlaying(on) {
  playing = on && !sim.finished;
  owedSecs = 0;
  lastTick = performance.now();
  if (playing && timer === undefined) timer = setTimeout(tick, 0);
}

function describe(e) {
  return { code: e?.code, message: e?.message ?? String(e) };
}

const COMMANDS = {
  start({ scenario }) {
    sim = new Simulation(Orchestrator, scenario);
    setPlaying(false);
    return { full: true };
  },
  load({ saved }) {
    sim = Simulation.load(Orchestrator, saved);
    setPlaying(false);
    return { full: true };
  },
  play() {
    setPlaying(true);
  },
  pause() {
    setPlaying(false);
  },
  speed({ value }) {
    speed = value;
  },
  step() {
    setPlaying(false);
    sim.step();
  },
  set({ version: v }) {
    sim.setTargetVersion(v);
  },
  force({ version: v }) {
    sim.forceTargetVersion(v);
  },
  // The engine's controls: pause, resume, abort, retry, promote,
  // promoteFull, approve, rollbackTo.
  control({ kind, version: v }) {
    return { result: sim.control(kind, v) };
  },
  options({ options }) {
    sim.setOptions(options);
  },
  save() {
    return { result: sim.save() };
  },
  inspect({ index }) {
    const t = sim.fleet[index];
    const e = sim.expected[index];
    return { result: t && e ? { name: t.name, group: t.group, running: t.running, pending: t.pending, ...e } : null };
  },
  // Every target's state, one line each, for tests and scripts.
  state() {
    return {
      result: {
        summary: sim.summary(),
        fleet: sim.fleet.map((t, i) => `${t.group}/${t.name} ${t.running} ${t.pending ?? "-"} ${sim.expected[i].version} ${sim.expected[i].reason}`),
      },
    };
  },
  version() {
    return { result: version() };
  },
};

self.onmessage = async ({ data }) => {
  await ready;
  const { id, command, ...args } = data;
  try {
    if (!Object.hasOwn(COMMANDS, command)) throw new Error(`unknown command ${command}`);
    if (!sim && !WITHOUT_RUN.has(command)) throw new Error(`${command}: no run has started yet`);
    const { result, full = false } = COMMANDS[command](args) ?? {};
    if (READS.has(command)) self.postMessage({ id, result });
    else post({ id, result }, full);
  } catch (e) {
    self.postMessage({ id, error: describe(e) });
  }
};
