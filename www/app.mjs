// The browser rollout simulator: the wasm engine and the shared fleet
// model (www/engine/, copied there by scripts/build.sh), a form for the
// scenario, a play loop in virtual time and canvas views.
import init, { Orchestrator, version } from "./engine/orchestrator_engine.js";
import { DEFAULT_SCENARIO, FAILURE_KINDS, Simulation, formatDuration } from "./engine/simulation.mjs";
import { Palette, drawGrid, drawTimeline, gridLayout, hitTest, legend } from "./render.mjs";

await init();

const $ = (id) => document.getElementById(id);
const ROWS = ["current", "target", "next"];
const OPTION_FIELDS = ["batchPercent", "successPercent", "successTimeoutSecs", "durationTimeoutSecs"];
const SCENARIO_NUMBERS = ["targets", "reportDelaySecs", "stepSecs", "seed"];
const FRAME_BUDGET_MS = 12;
const LOG_ROWS = 400;
const WHY_KINDS = new Set(["failure", "rollback"]);
const OUTCOME_TEXT = { rolled_out: "rolled out", rolled_back: "rolled back", halted: "halted", unsettled: "unsettled" };

let sim;
let palette;
let layout;
let playing = false;
let owedSecs = 0;
let lastFrame = 0;
let dirty = true;
let loggedSeq = -1;

// ---- scenario <-> form ------------------------------------------------

function fillForm(scenario) {
  for (const key of SCENARIO_NUMBERS) $(key).value = scenario[key];
  $("groups").value = scenario.groups.join(", ");
  for (const key of OPTION_FIELDS) $(key).value = scenario.options[key] ?? "";
  for (const row of ROWS) {
    const version = scenario.versions[row] ?? "";
    $(row).value = version;
    for (const kind of FAILURE_KINDS) {
      const share = scenario.failures[version]?.[kind] ?? 0;
      $(`${row}-${kind}`).value = share ? +(share * 100).toFixed(3) : 0;
    }
  }
  $("action-version").value = scenario.versions.next || scenario.versions.target;
}

function readNumber(id) {
  const text = $(id).value.trim();
  const value = Number(text);
  if (text === "" || !Number.isFinite(value)) throw Object.assign(new Error(`${id} must be a number, got "${text}"`), { code: "INVALID_SCENARIO" });
  return value;
}

function readOptions() {
  return Object.fromEntries(OPTION_FIELDS.map((key) => [key, readNumber(key)]));
}

function readScenario() {
  const scenario = { ...DEFAULT_SCENARIO };
  for (const key of SCENARIO_NUMBERS) scenario[key] = readNumber(key);
  if (scenario.targets > 20_000) {
    throw Object.assign(new Error(`the browser simulator takes 1 to 20,000 targets, got ${scenario.targets}`), { code: "INVALID_SCENARIO" });
  }
  const groups = $("groups").value.split(",").map((g) => g.trim()).filter((g) => g !== "");
  scenario.groups = groups.length > 0 ? groups : [""];
  scenario.options = readOptions();
  scenario.versions = Object.fromEntries(ROWS.map((row) => [row, $(row).value.trim()]));
  scenario.failures = {};
  for (const row of ROWS) {
    const version = scenario.versions[row];
    if (!version) continue;
    for (const kind of FAILURE_KINDS) {
      const percent = readNumber(`${row}-${kind}`);
      if (percent > 0) scenario.failures[version] = { ...scenario.failures[version], [kind]: percent / 100 };
    }
  }
  return scenario;
}

// ---- errors -----------------------------------------------------------

function showError(e) {
  const box = $("error");
  if (!e) {
    box.hidden = true;
    box.textContent = "";
    return;
  }
  box.hidden = false;
  box.textContent = `${e.code ? `${e.code}: ` : ""}${e.message}`;
}

// Runs a user action; its effect (or why it was refused) shows at once.
function attempt(action) {
  try {
    action();
    showError(null);
  } catch (e) {
    showError(e);
  }
  render();
}

// ---- running ----------------------------------------------------------

function adopt(next) {
  sim = next;
  const { versions } = sim.scenario;
  palette = new Palette([versions.current, versions.target, versions.next].filter(Boolean));
  layout = null;
  loggedSeq = -1;
  $("log").replaceChildren();
  owedSecs = 0;
  setPlaying(false);
  renderLegend();
  dirty = true;
}

function setPlaying(on) {
  playing = on && !sim.finished;
  $("play").textContent = playing ? "Pause" : "Play";
  owedSecs = 0;
  dirty = true;
}

function speed() {
  return Math.round(10 ** Number($("speed").value));
}

function frame(ts) {
  const elapsedMs = lastFrame ? Math.min(ts - lastFrame, 250) : 0;
  lastFrame = ts;
  if (playing) {
    try {
      advance(elapsedMs);
    } catch (e) {
      // A step that throws (it should not) pauses the run and says why.
      setPlaying(false);
      showError(e);
    }
  }
  if (dirty) render();
  requestAnimationFrame(frame);
}

function advance(elapsedMs) {
  owedSecs += (elapsedMs / 1000) * speed();
  const stepSecs = sim.scenario.stepSecs;
  const deadline = performance.now() + FRAME_BUDGET_MS;
  while (owedSecs >= stepSecs && !sim.finished && performance.now() < deadline) {
    sim.step();
    owedSecs -= stepSecs;
    dirty = true;
  }
  // When the engine cannot keep up with the speed asked for, run as fast
  // as it can rather than piling up a debt.
  owedSecs = Math.min(owedSecs, stepSecs);
  if (sim.finished) setPlaying(false);
}

// ---- views ------------------------------------------------------------

function renderLegend() {
  const { current, target } = sim.scenario.versions;
  $("legend").replaceChildren(...legend(palette, current, target).map(([colour, label]) => {
    const item = document.createElement("span");
    const swatch = document.createElement("i");
    swatch.className = "swatch";
    swatch.style.background = colour;
    item.append(swatch, label);
    return item;
  }));
}

function render() {
  dirty = false;
  const info = sim.info;
  const summary = sim.summary();
  $("info-time").textContent = formatDuration(sim.elapsedSecs);
  $("info-step").textContent = sim.steps.toLocaleString("en-US");
  $("info-target").textContent = info.targetVersion || "-";
  $("info-rolling").textContent = info.rollingVersion || "-";
  $("info-lkg").textContent = info.lastKnownGoodVersion || "";
  $("info-lkb").textContent = info.lastKnownBadVersion || "";
  const reasons = summary.reasons;
  $("info-inflight").textContent = ((reasons.in_flight ?? 0) + (reasons.rolled_back ?? 0)).toLocaleString("en-US");
  $("info-failed").textContent = ((reasons.failed_unhealthy ?? 0) + (reasons.failed_deadline ?? 0) + (reasons.failed_monitor ?? 0)).toLocaleString("en-US");
  $("counts").replaceChildren(...Object.entries(summary.running).sort().map(([v, n]) => {
    const item = document.createElement("span");
    item.dataset.version = v;
    const swatch = document.createElement("i");
    swatch.className = "swatch";
    swatch.style.background = palette.get(v).solid;
    item.append(swatch, `${v} ${n.toLocaleString("en-US")}`);
    return item;
  }));
  const badge = $("outcome");
  const outcome = sim.settled ? summary.outcome : playing ? "running" : "unsettled";
  badge.dataset.outcome = outcome;
  badge.textContent = sim.settled
    ? `${summary.version} ${OUTCOME_TEXT[summary.outcome]} in ${formatDuration(summary.virtualSecs)}`
    : playing ? `running at ${speed().toLocaleString("en-US")}×` : "paused";
  const grid = $("grid");
  if (!layout || layout.width !== grid.clientWidth) layout = gridLayout(sim.fleet, grid.clientWidth);
  drawGrid(grid, layout, sim.fleet, sim.expected, palette);
  drawTimeline($("timeline"), sim.timeline, sim.log, sim.fleet.length, palette);
  renderLog();
}

function renderLog() {
  const list = $("log");
  const fresh = sim.log.filter((entry) => entry.seq > loggedSeq);
  if (fresh.length === 0) return;
  loggedSeq = fresh[fresh.length - 1].seq;
  const items = fresh.slice(-LOG_ROWS).map((entry) => {
    const item = document.createElement("li");
    item.dataset.kind = entry.kind;
    const time = document.createElement("time");
    time.textContent = `+${formatDuration(entry.t)}`;
    const text = document.createElement("span");
    text.textContent = entry.text;
    // The engine's own message says why a target failed or moved back.
    if (entry.why && WHY_KINDS.has(entry.kind)) {
      const why = document.createElement("span");
      why.className = "why";
      why.textContent = entry.why;
      text.append(why);
    }
    item.append(time, text);
    return item;
  });
  list.prepend(...items.reverse());
  while (list.childElementCount > LOG_ROWS) list.lastElementChild.remove();
}

function showTooltip(event) {
  const tip = $("tooltip");
  const grid = $("grid");
  const rect = grid.getBoundingClientRect();
  const index = layout ? hitTest(layout, event.clientX - rect.left, event.clientY - rect.top) : -1;
  const target = sim.fleet[index];
  const expected = sim.expected[index];
  if (!target || !expected) {
    tip.hidden = true;
    return;
  }
  tip.hidden = false;
  tip.textContent = `${target.group}/${target.name}\nruns ${target.running}${target.pending ? ` (deploying ${target.pending})` : ""}, ` +
    `expected ${expected.version}\n${expected.reason}: ${expected.message}`;
  tip.style.whiteSpace = "pre-wrap";
  tip.style.left = `${Math.min(event.clientX - rect.left + 12, rect.width - 240)}px`;
  tip.style.top = `${event.clientY - rect.top + 12}px`;
}

// ---- save and load ----------------------------------------------------

function save() {
  const blob = new Blob([JSON.stringify(sim.save())], { type: "application/json" });
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = `rollout-${sim.scenario.versions.target}-step-${sim.steps}.json`;
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}

async function load(file) {
  const text = await file.text();
  attempt(() => {
    let saved;
    try {
      saved = JSON.parse(text);
    } catch (e) {
      throw Object.assign(new Error(`${file.name} is not JSON: ${e.message}`), { code: "INVALID_SCENARIO" });
    }
    adopt(Simulation.load(Orchestrator, saved));
    fillForm(sim.scenario);
  });
}

// ---- wiring -----------------------------------------------------------

$("scenario").addEventListener("submit", (event) => {
  event.preventDefault();
  attempt(() => adopt(new Simulation(Orchestrator, readScenario())));
});
$("apply-options").addEventListener("click", () => attempt(() => sim.setOptions(readOptions())));
$("play").addEventListener("click", () => attempt(() => setPlaying(!playing)));
$("step").addEventListener("click", () => attempt(() => {
  setPlaying(false);
  sim.step();
}));
$("speed").addEventListener("input", () => {
  $("speed-label").textContent = `${speed().toLocaleString("en-US")}×`;
  dirty = true;
});
for (const [id, act] of [["set-version", "setTargetVersion"], ["force-version", "forceTargetVersion"]]) {
  $(id).addEventListener("click", () => attempt(() => {
    const v = $("action-version").value.trim();
    sim[act](v);
    palette.get(v);
  }));
}
$("save").addEventListener("click", save);
$("load").addEventListener("change", (event) => {
  const [file] = event.target.files;
  if (file) load(file);
  event.target.value = "";
});
$("grid").addEventListener("mousemove", showTooltip);
$("grid").addEventListener("mouseleave", () => {
  $("tooltip").hidden = true;
});
window.addEventListener("resize", () => {
  layout = null;
  dirty = true;
});

$("engine-version").textContent = version();
$("speed-label").textContent = `${speed().toLocaleString("en-US")}×`;
fillForm(DEFAULT_SCENARIO);
adopt(new Simulation(Orchestrator, DEFAULT_SCENARIO));
requestAnimationFrame(frame);

// For scripts and tests: the running simulation, read-only.
window.simulator = { get simulation() { return sim; }, get playing() { return playing; } };
document.body.dataset.ready = "true";
