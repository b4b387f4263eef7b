// The browser rollout simulator: a form for the scenario, the run in a
// worker (worker.mjs: the wasm engine and the shared fleet model from
// www/engine/, copied there by scripts/build.sh) and canvas views of what
// it sends back.
import {
  DEFAULT_SCENARIO, FAILURE_KINDS, OUTCOME_TEXT, formatDuration, formatSteps, parseAmount, parseSteps, tally,
} from "./engine/simulation.mjs";
import { Palette, drawGrid, drawTimeline, gridLayout, hitTest, legend } from "./render.mjs";

const $ = (id) => document.getElementById(id);
const ROWS = ["current", "target", "next"];
const OPTION_FIELDS = ["batchPercent", "successPercent", "successTimeoutSecs", "durationTimeoutSecs"];
const SCENARIO_NUMBERS = ["targets", "reportDelaySecs", "stepSecs", "seed"];
const LOG_ROWS = 400;
const LOG_LIMIT = 2000;
const WHY_KINDS = new Set(["failure", "rollback"]);
const EVENT_ROWS = 400;

// The latest view of the run (see worker.mjs), plus what only changes with
// a new run: the scenario and each target's group.
let run;
let palette;
let layout;
let dirty = false;

// ---- the worker -------------------------------------------------------

const worker = new Worker(new URL("./worker.mjs", import.meta.url), { type: "module" });
const calls = new Map();
let nextCall = 1;

/** Sends a command to the worker; resolves to its result, rejects with its error. */
function call(command, args = {}) {
  return new Promise((resolve, reject) => {
    const id = nextCall++;
    calls.set(id, { resolve, reject });
    worker.postMessage({ id, command, ...args });
  });
}

worker.onmessage = ({ data }) => {
  if (data.view) receive(data.view);
  const pending = calls.get(data.id);
  calls.delete(data.id);
  if (data.error) {
    const error = Object.assign(new Error(data.error.message), { code: data.error.code });
    if (pending) pending.reject(error);
    else showError(error);
  } else {
    pending?.resolve(data.result);
  }
};
worker.onerror = (event) => showError(new Error(`the simulation worker failed: ${event.message}`));

function receive(view) {
  if (view.full) {
    const { versions } = view.scenario;
    palette = new Palette([versions.current, versions.target, versions.next].filter(Boolean));
    run = { ...view, log: [], freshEvents: [] };
    layout = null;
    $("log").replaceChildren();
    $("events").replaceChildren();
    renderLegend();
  }
  const log = run.log.concat(view.log);
  // Several views can arrive between two frames: their log entries all
  // wait for the next render.
  const fresh = (run.fresh ?? []).concat(view.log);
  const freshEvents = run.freshEvents.concat(view.events);
  Object.assign(run, view, { log: log.length > LOG_LIMIT ? log.slice(-LOG_LIMIT) : log, fresh, freshEvents });
  dirty = true;
}

// ---- scenario <-> form ------------------------------------------------

function fillForm(scenario) {
  for (const key of SCENARIO_NUMBERS) $(key).value = scenario[key];
  $("groups").value = scenario.groups.join(", ");
  for (const key of OPTION_FIELDS) $(key).value = scenario.options[key] ?? "";
  const { steps, maxFailures, maxConsecutiveFailures, watchSecs, rollbackBatchPercent, errorTimeoutSecs } = scenario.options;
  $("errorTimeoutSecs").value = errorTimeoutSecs ?? "";
  $("steps").value = steps ? formatSteps(steps) : "";
  $("maxFailures").value = maxFailures ?? "";
  $("maxConsecutiveFailures").value = maxConsecutiveFailures ?? "";
  $("watchSecs").value = watchSecs ?? 0;
  $("rollbackBatchPercent").value = rollbackBatchPercent ?? "";
  for (const row of ROWS) {
    const version = scenario.versions[row] ?? "";
    $(row).value = version;
    for (const kind of FAILURE_KINDS) {
      const share = scenario.failures[version]?.[kind] ?? 0;
      $(`${row}-${kind}`).value = share ? +(share * 100).toFixed(3) : 0;
    }
  }
  $("action-version").value = scenario.versions.next || scenario.versions.target;
  // A saved run's template in the engine's form, which is read back as it is.
  const analysis = scenario.options.analysis;
  $("analysis").value = analysis ? JSON.stringify(analysis, null, 1) : "";
  const shape = scenario.metrics?.[scenario.versions.target] ?? {};
  $("target-latency").value = shape.latencyMs ?? "";
  $("target-error-rate").value = shape.errorRate === undefined ? "" : +(shape.errorRate * 100).toFixed(3);
}

function readNumber(id) {
  const text = $(id).value.trim();
  const value = Number(text);
  if (text === "" || !Number.isFinite(value)) throw Object.assign(new Error(`${id} must be a number, got "${text}"`), { code: "INVALID_SCENARIO" });
  return value;
}

/** An optional field: empty is `null` (the engine's default). */
function readOptional(id, parse) {
  const text = $(id).value.trim();
  return text === "" ? null : parse(text);
}

function readOptions() {
  const options = Object.fromEntries(OPTION_FIELDS.map((key) => [key, readNumber(key)]));
  const steps = readOptional("steps", parseSteps);
  if (steps) options.steps = steps;
  options.maxFailures = readOptional("maxFailures", (t) => parseAmount(t, "max failures"));
  options.maxConsecutiveFailures = readOptional("maxConsecutiveFailures", () => readNumber("maxConsecutiveFailures"));
  options.watchSecs = readOptional("watchSecs", () => readNumber("watchSecs")) ?? 0;
  options.rollbackBatchPercent = readOptional("rollbackBatchPercent", () => readNumber("rollbackBatchPercent"));
  options.errorTimeoutSecs = readOptional("errorTimeoutSecs", () => readNumber("errorTimeoutSecs"));
  return options;
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
  const template = $("analysis").value.trim();
  if (template !== "") {
    try {
      scenario.options.analysis = JSON.parse(template);
    } catch (error) {
      throw Object.assign(new Error(`the analysis template is not JSON: ${error.message}`), { code: "INVALID_SCENARIO" });
    }
  }
  scenario.metrics = {};
  const target = scenario.versions.target;
  const latency = $("target-latency").value.trim();
  const errors = $("target-error-rate").value.trim();
  if (target && (latency !== "" || errors !== "")) {
    scenario.metrics[target] = {};
    if (latency !== "") scenario.metrics[target].latencyMs = readNumber("target-latency");
    if (errors !== "") scenario.metrics[target].errorRate = readNumber("target-error-rate") / 100;
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
async function attempt(action) {
  try {
    await action();
    showError(null);
  } catch (e) {
    showError(e);
  }
  if (dirty) render();
}

// ---- running ----------------------------------------------------------

function speed() {
  return Math.round(10 ** Number($("speed").value));
}

function frame() {
  if (dirty) render();
  requestAnimationFrame(frame);
}

// ---- views ------------------------------------------------------------

/** A colour swatch and its label. */
function swatched(colour, label) {
  const item = document.createElement("span");
  const swatch = document.createElement("i");
  swatch.className = "swatch";
  swatch.style.background = colour;
  item.append(swatch, label);
  return item;
}

function renderLegend() {
  const { current, target } = run.scenario.versions;
  $("legend").replaceChildren(...legend(palette, current, target).map(([colour, label]) => swatched(colour, label)));
}

function render() {
  dirty = false;
  const { info, summary } = run;
  $("info-time").textContent = formatDuration(run.elapsedSecs);
  $("info-step").textContent = run.steps.toLocaleString("en-US");
  $("info-target").textContent = info.targetVersion || "-";
  $("info-rolling").textContent = info.rollingVersion || "-";
  $("info-lkg").textContent = info.lastKnownGoodVersion || "";
  $("info-lkb").textContent = info.lastKnownBadVersion || "";
  const { inFlight, rollingBack, failed } = tally(summary.reasons);
  $("info-inflight").textContent = inFlight.toLocaleString("en-US");
  $("info-rollingback").textContent = rollingBack.toLocaleString("en-US");
  $("info-failed").textContent = failed.toLocaleString("en-US");
  const state = [
    info.paused && "paused",
    info.step !== null && `step ${info.step + 1} of ${info.options.steps.length}`,
    info.awaitingApproval && "awaiting approval",
    info.watchUntil !== null && `watched until +${formatDuration((info.watchUntil - run.startMs) / 1000)}`,
  ].filter(Boolean);
  $("info-state").textContent = state.join(" · ") || "-";
  $("counts").replaceChildren(...Object.entries(summary.running).sort()
    .map(([v, n]) => swatched(palette.get(v).solid, `${v} ${n.toLocaleString("en-US")}`)));
  $("play").textContent = run.playing ? "Pause" : "Play";
  const badge = $("outcome");
  badge.dataset.outcome = run.settled ? summary.outcome : run.playing ? "running" : "unsettled";
  badge.textContent = run.settled
    ? `${summary.version} ${OUTCOME_TEXT[summary.outcome]} in ${formatDuration(summary.virtualSecs)}`
    : run.playing ? `running at up to ${speed().toLocaleString("en-US")}×` : "paused";
  const grid = $("grid");
  if (!layout || layout.width !== grid.clientWidth) layout = gridLayout(run.groups, grid.clientWidth);
  const { versions, reasons: names } = run;
  drawGrid(grid, layout, (i) => [names[run.reason[i]], versions[run.running[i]], versions[run.expected[i]]], palette);
  drawTimeline($("timeline"), run.timeline, run.log, run.groups.length, palette);
  renderAnalysis(run.analysis ?? []);
  renderLog();
  renderEvents();
}

/** Each analysis run's verdict in words, with each metric's measurements. */
function renderAnalysis(runs) {
  $("analysis-panel").hidden = runs.length === 0;
  $("analysis-runs").replaceChildren(
    ...runs.map((run) => {
      const li = document.createElement("li");
      const which = run.kind === "background" ? "background analysis" : `analysis of step ${run.kind.step + 1}`;
      li.textContent = `${which} of ${run.version}: ${run.phase}${run.message ? `: ${run.message}` : ""}`;
      const metrics = document.createElement("ul");
      for (const m of run.metrics) {
        const item = document.createElement("li");
        const values = m.measurements.map((x) => `${x.value}${x.phase === "successful" ? "" : ` (${x.phase})`}`).join(", ");
        item.textContent = `${m.name}${m.dryRun ? " (dry run)" : ""}: ${m.phase}; measured ${values || "nothing yet"}`;
        metrics.append(item);
      }
      li.append(metrics);
      return li;
    }),
  );
}

/** The engine's events as they arrive, newest first. */
function renderEvents() {
  const fresh = run.freshEvents;
  if (fresh.length === 0) return;
  run.freshEvents = [];
  const perTarget = $("events-targets").checked;
  const items = fresh.filter((e) => perTarget || !e.target).slice(-EVENT_ROWS).map((e) => {
    const item = document.createElement("li");
    item.dataset.kind = e.kind;
    const time = document.createElement("time");
    time.textContent = `+${formatDuration(Math.max(0, (e.time - run.startMs) / 1000))}`;
    const kind = document.createElement("code");
    kind.textContent = e.kind;
    const text = document.createElement("span");
    const target = e.target ? ` ${e.target.group ? `${e.target.group}/` : ""}${e.target.name}` : "";
    text.textContent = ` ${e.version}${target}: ${e.detail}`;
    item.append(time, kind, text);
    return item;
  });
  const list = $("events");
  list.prepend(...items.reverse());
  while (list.childElementCount > EVENT_ROWS) list.lastElementChild.remove();
}

function renderLog() {
  const fresh = run.fresh;
  if (fresh.length === 0) return;
  run.fresh = [];
  const list = $("log");
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

async function showTooltip(event) {
  const tip = $("tooltip");
  const rect = $("grid").getBoundingClientRect();
  const x = event.clientX - rect.left;
  const y = event.clientY - rect.top;
  const index = layout ? hitTest(layout, x, y) : -1;
  const t = index >= 0 ? await call("inspect", { index }) : null;
  if (!t) {
    tip.hidden = true;
    return;
  }
  tip.hidden = false;
  tip.textContent = `${t.group}/${t.name}\nruns ${t.running}${t.pending ? ` (deploying ${t.pending})` : ""}, ` +
    `expected ${t.version}\n${t.reason}: ${t.message}`;
  tip.style.whiteSpace = "pre-wrap";
  tip.style.left = `${Math.min(x + 12, rect.width - 240)}px`;
  tip.style.top = `${y + 12}px`;
}

// ---- save and load ----------------------------------------------------

async function save() {
  const saved = await call("save");
  const blob = new Blob([JSON.stringify(saved)], { type: "application/json" });
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = `rollout-${saved.scenario.versions.target}-step-${saved.state.steps}.json`;
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}

async function load(file) {
  const text = await file.text();
  await attempt(async () => {
    let saved;
    try {
      saved = JSON.parse(text);
    } catch (e) {
      throw Object.assign(new Error(`${file.name} is not JSON: ${e.message}`), { code: "INVALID_SCENARIO" });
    }
    await call("load", { saved });
    // The engine's options may have been changed during the saved run.
    fillForm({ ...run.scenario, options: run.info.options });
  });
}

// ---- wiring -----------------------------------------------------------

$("scenario").addEventListener("submit", (event) => {
  event.preventDefault();
  attempt(() => call("start", { scenario: readScenario() }));
});
$("apply-options").addEventListener("click", () => attempt(() => call("options", { options: readOptions() })));
$("play").addEventListener("click", () => attempt(() => call(run.playing ? "pause" : "play")));
$("step").addEventListener("click", () => attempt(() => call("step")));
$("speed").addEventListener("input", () => {
  $("speed-label").textContent = `${speed().toLocaleString("en-US")}×`;
  call("speed", { value: speed() });
  dirty = true;
});
for (const [id, command] of [["set-version", "set"], ["force-version", "force"]]) {
  $(id).addEventListener("click", () => attempt(() => call(command, { version: $("action-version").value.trim() })));
}
/** An engine control; says when it changed nothing (abort with nothing in flight...). */
async function control(kind, version = undefined) {
  const changed = await call("control", { kind, version });
  $("control-result").textContent = changed ? "" : `${kind}: nothing to do`;
}
for (const button of document.querySelectorAll("[data-control]")) {
  button.addEventListener("click", () => attempt(() => control(button.dataset.control)));
}
$("rollback-to").addEventListener("click", () => attempt(() => control("rollbackTo", $("action-version").value.trim())));
$("save").addEventListener("click", () => attempt(save));
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

$("speed-label").textContent = `${speed().toLocaleString("en-US")}×`;
fillForm(DEFAULT_SCENARIO);
await call("speed", { value: speed() });
$("engine-version").textContent = await call("version");
await call("start", { scenario: DEFAULT_SCENARIO });
render();
requestAnimationFrame(frame);

// For scripts and tests: every target's state in the running simulation.
window.simulator = { state: () => call("state"), control };
document.body.dataset.ready = "true";
