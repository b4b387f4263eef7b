// One entity: its state, counts against the error budget, target grid
// (the simulator's rendering, ../render.mjs), plan with the forecast,
// history and streamed events. What the page shows is computed by the
// engine in the page (engine.worker.mjs) from the entity's snapshot, one
// binary read instead of a JSON read per view; each event logged reads
// it again, at most as often as the page keeps up with.
import { formatDuration, tally } from "../engine/simulation.mjs";
import { Palette, drawGrid, gridLayout, hitTest, legend } from "../render.mjs";
import { api, entityPath, follow } from "./api.mjs";
import { entityView } from "./engine.mjs";
import { showNotifications } from "./notifications.mjs";
import { showPipeline } from "./stages.mjs";
import { actionsText, badge, countsText, paletteVersions, stateOf, versionPalette } from "./state.mjs";

const $ = (id) => document.getElementById(id);
/** The event list keeps the newest this many of each sort, the entity's and its targets' (the API has them all). */
const MAX_SHOWN_EVENTS = 500;
/** A time with its date and zone: the page may be read in another zone than the fleet's, or days later. */
const time = (ms) =>
  new Date(ms).toLocaleString(undefined, { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short" });
/** How often the plan's countdowns are written again between reads. */
const TICK_MS = 1000;

/** The entity shown: { namespace, entity, path, bytes, view, layout, palette, cursor }. */
export let shown = null;
let stopEvents = null;
let refreshing = false;
let again = false;
let nextAt = 0;
let timer = null;
let ticker = null;
/** Reads are numbered; one that ends after a later one is not shown (its state is older). */
let reads = 0;
let shownRead = 0;

/** Shows an entity; answers the function that leaves it. */
export async function showEntity(namespace, entity, onError) {
  leave();
  const path = entityPath(namespace, entity);
  // Verdicts and failures as the event stream brings them (the snapshot's
  // targets forget a failure once the target is sent back).
  shown = { namespace, entity, path, palette: null, onError, verdicts: new Map(), failures: new Map() };
  $("entity-name").textContent = `${namespace} / ${entity}`;
  $("where").textContent = `${namespace} / ${entity}`;
  $("events").replaceChildren();
  eventFilter.reset();
  // Nothing of the entity shown before stays under this one's name: the
  // view appears with this entity's first read (never, if it is missing).
  $("entity").hidden = true;
  for (const id of ["what-if-result", "target-tip", "forecast", "control-result", "why"]) $(id).textContent = "";
  await refresh();
  const controller = new AbortController();
  stopEvents = () => controller.abort();
  // Countdowns move between events too.
  ticker = setInterval(() => shown?.view && renderPlan(shown.view.info, shown.view.plan, shown.view.analysis ?? []), TICK_MS);
  followEvents(path, controller.signal, onError);
  return leave;
}

function leave() {
  stopEvents?.();
  clearTimeout(timer);
  clearInterval(ticker);
  shown = null;
}

/**
 * Reads the entity again soon: at once if the last read was long enough
 * ago (twice its own duration, at least 300 ms), else when it is; one
 * read at a time, however many events arrive meanwhile.
 */
export function refreshSoon() {
  if (refreshing) {
    again = true;
    return;
  }
  clearTimeout(timer);
  timer = setTimeout(() => refresh().catch((error) => shown?.onError(error)), Math.max(0, nextAt - Date.now()));
}

/** Reads the entity's snapshot and shows what the engine in the page computes from it. */
export async function refresh() {
  if (!shown) return;
  const started = Date.now();
  const entity = shown;
  const read = ++reads;
  refreshing = true;
  try {
    const bytes = await api("GET", `${entity.path}/snapshot`);
    const view = await entityView(bytes, entity.namespace, entity.entity);
    if (shown === entity && read > shownRead) {
      shownRead = read;
      Object.assign(entity, { bytes, view });
      render(entity);
      // Read by the API, not the snapshot: the pipeline's upstreams are
      // other entities, and readers never see a receiver's secrets.
      await Promise.all([showPipeline(entity.path), showNotifications(entity.path)]);
    }
  } finally {
    refreshing = false;
    nextAt = Date.now() + Math.max(300, 2 * (Date.now() - started));
    if (again) {
      again = false;
      refreshSoon();
    }
  }
}

function render(entity) {
  $("entity").hidden = false;
  const { info, plan, history, counts, targets, analysis } = entity.view;
  const n = targets.names.length;
  badge(stateOf(info), $("entity-state"));
  $("counts").textContent =
    `${countsText(n, counts, info.failureThreshold)}; ` +
    `target ${info.targetVersion || "-"}, good ${info.lastKnownGoodVersion || "-"}, bad ${info.lastKnownBadVersion || "-"}`;
  renderWhy(entity, info, counts);
  // Colours in the order the overview's bar gives them: the good version's first.
  entity.palette ??= versionPalette(info);
  // The grid, by group as the engine orders them.
  entity.layout = gridLayout(targets.groups, $("grid").clientWidth || 600);
  const cell = (i) => {
    const version = targets.versionTable[targets.version[i]];
    return [targets.reasonTable[targets.reason[i]], version, version];
  };
  drawGrid($("grid"), entity.layout, cell, entity.palette);
  if (entity.cursor !== undefined) tip(entity.cursor);
  document.dispatchEvent(new CustomEvent("entity-shown"));
  renderPlan(info, plan, analysis ?? []);
  renderAnalysis(info, analysis ?? []);
  renderLegend(entity, info);
  renderRevisions(info, history);
}

/** What each colour of the grid means, for the versions it shows: the colours keep these meanings in the overview's bars too. */
function renderLegend(entity, info) {
  const [current, target] = paletteVersions(info);
  $("legend").replaceChildren(
    ...legend(entity.palette, current, target).map(([colour, label]) => {
      const item = document.createElement("span");
      const swatch = document.createElement("i");
      swatch.style.background = colour;
      item.append(swatch, label);
      return item;
    }),
  );
}

/**
 * Each rollout, newest first: its version and outcome, when it started and
 * how long it took, the steps it reached, the targets it moved and the
 * failures on it, who did what, a link to its events, and "roll back to
 * this" on a good version the fleet is not settled on.
 */
function renderRevisions(info, history) {
  const count = (n) => (n === null || n === undefined ? "-" : n.toLocaleString("en-US"));
  const settledOn = (version) => version === info.lastKnownGoodVersion && info.phase === "rolled_out" && info.targetVersion === version;
  $("history").replaceChildren(
    ...[...history].reverse().map((rollout) => {
      const tr = document.createElement("tr");
      const took = rollout.ended !== null ? formatDuration(Math.round((rollout.ended - rollout.started) / 1000)) : `${formatDuration(Math.round((Date.now() - rollout.started) / 1000))} so far`;
      const steps = info.options.steps.length > 0 && rollout.stepsReached !== null ? `${rollout.stepsReached}` : count(rollout.stepsReached);
      const actions = document.createElement("td");
      actions.textContent = actionsText(rollout.actions) || "-";
      const links = document.createElement("td");
      if (rollout.firstEvent) {
        const events = document.createElement("button");
        events.type = "button";
        events.className = "link";
        events.textContent = "events";
        events.title = `show the events from this rollout's first (#${rollout.firstEvent}) on`;
        events.addEventListener("click", () => {
          eventFilter.from(rollout.firstEvent, rollout.version);
          $("events").scrollIntoView({ block: "start" });
        });
        links.append(events);
      }
      const good = ["succeeded", "watching", "rolled_back_to"].includes(rollout.outcome);
      if (good && !settledOn(rollout.version) && !$("controls").hidden) {
        const back = document.createElement("button");
        back.type = "button";
        back.dataset.rollbackTo = rollout.version;
        back.textContent = "roll back to this";
        back.addEventListener("click", () => {
          $("version").value = rollout.version;
          document.querySelector('[data-control="rollback"]').click();
        });
        links.append(" ", back);
      }
      const outcome = document.createElement("span");
      outcome.className = "badge";
      outcome.dataset.state = rollout.outcome.replaceAll("_", " ");
      outcome.textContent = rollout.outcome.replaceAll("_", " ");
      const cells = [rollout.version, outcome, time(rollout.started), took, steps, count(rollout.targetsMoved), count(rollout.failures)];
      tr.append(
        ...cells.map((content) => {
          const td = document.createElement("td");
          td.append(content);
          return td;
        }),
        actions,
        links,
      );
      tr.dataset.version = rollout.version;
      tr.dataset.outcome = rollout.outcome;
      return tr;
    }),
  );
}

/**
 * Each analysis run of the rollout (the latest of each kind): per metric,
 * a chart of its measurements, the query, the criteria, and in words why
 * the run passed, failed or holds.
 */
function renderAnalysis(info, runs) {
  const latest = new Map();
  for (const run of runs) latest.set(JSON.stringify(run.kind), run);
  $("analysis-panel").hidden = latest.size === 0;
  const templates = new Map();
  const background = info.options.analysis;
  if (background) templates.set('"background"', background);
  info.options.steps.forEach((step, i) => step.analysis && templates.set(JSON.stringify({ step: i }), step.analysis));
  $("analysis").replaceChildren(
    ...[...latest.entries()].map(([key, run]) => {
      const box = document.createElement("article");
      box.className = "analysis-run";
      const title = document.createElement("h4");
      const which = run.kind === "background" ? "Background analysis" : `Analysis of step ${run.kind.step + 1}`;
      title.textContent = `${which} of ${run.version}: ${run.phase}${run.holding ? " (holding the rollout: promote or abort)" : ""}`;
      const why = document.createElement("p");
      why.textContent = run.message || `running since ${time(run.started)}`;
      box.append(title, why);
      const metrics = templates.get(key)?.metrics ?? [];
      for (const m of run.metrics) {
        const spec = metrics.find((t) => t.name === m.name) ?? {};
        const row = document.createElement("div");
        row.className = `analysis-metric ${m.phase}`;
        const head = document.createElement("p");
        const criteria = [spec.successCondition && `success: ${spec.successCondition}`, spec.failureCondition && `failure: ${spec.failureCondition}`]
          .filter(Boolean)
          .join("; ");
        head.textContent = `${m.name}${m.dryRun ? " (dry run)" : ""}: ${m.phase}; ${m.successful} successful, ${m.failed} failed, ${m.inconclusive} inconclusive, ${m.error} errors${criteria ? `; ${criteria}` : ""}`;
        const last = m.measurements.at(-1);
        const detail = document.createElement("p");
        detail.className = "analysis-detail";
        detail.textContent = last ? `last: ${last.value} at ${time(last.at)} (${last.message}); query: ${last.query}` : "not measured yet";
        row.append(head, chart(m.measurements), detail);
        box.append(row);
      }
      return box;
    }),
  );
}

/** A small chart of a metric's measurements: the first number of each value, coloured by outcome. */
function chart(measurements) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("class", "analysis-chart");
  svg.setAttribute("viewBox", "0 0 200 40");
  svg.setAttribute("role", "img");
  const number = (text) => {
    try {
      let v = JSON.parse(text);
      while (Array.isArray(v)) v = v[0];
      return typeof v === "number" ? v : typeof v === "boolean" ? Number(v) : NaN;
    } catch {
      return NaN;
    }
  };
  const points = measurements.map((m) => ({ v: number(m.value), phase: m.phase }));
  const values = points.map((p) => p.v).filter(Number.isFinite);
  const [lo, hi] = [Math.min(...values, 0), Math.max(...values, 0)];
  svg.setAttribute("aria-label", `measurements: ${measurements.map((m) => m.value).join(", ") || "none"}`);
  points.forEach((p, i) => {
    const dot = document.createElementNS(ns, "circle");
    const x = points.length === 1 ? 100 : 8 + (184 * i) / (points.length - 1);
    const y = Number.isFinite(p.v) && hi > lo ? 34 - (28 * (p.v - lo)) / (hi - lo) : 20;
    dot.setAttribute("cx", String(x));
    dot.setAttribute("cy", String(y));
    dot.setAttribute("r", "3");
    dot.setAttribute("class", p.phase);
    svg.append(dot);
  });
  return svg;
}

/** How many failed targets the "why" names; the rest are counted. */
const FAILURES_NAMED = 5;

/**
 * The verdict and its reason in words, at the top: while a version rolls
 * out, the error budget used; once it is judged bad, why (the engine's
 * own words) and the targets that failed with their messages, kept after
 * the rollback sent them back.
 */
function renderWhy(entity, info, counts) {
  const version = info.rollingVersion;
  const { failed } = tally(counts);
  const allowed = Math.max(0, info.failureThreshold - 1);
  const failures = entity.failures.get(version);
  const named = failures?.events.map((e) => `${e.target.name}${e.detail ? ` (${e.detail})` : ""}`).join(", ");
  const more = failures && failures.count > failures.events.length ? ` and ${(failures.count - failures.events.length).toLocaleString("en-US")} more` : "";
  const failedText = failures ? ` Failed: ${named}${more}.` : "";
  const verdict = entity.verdicts.get(version);
  let text = "";
  if (info.lastKnownBadVersion && version === info.lastKnownBadVersion) {
    text = `Why: ${version} was judged bad${verdict ? `: ${verdict.detail}` : ""}.${failedText}`;
  } else if (info.phase === "rolling_out") {
    text = `Error budget: ${failed.toLocaleString("en-US")} failed of ${allowed.toLocaleString("en-US")} allowed (the version is bad at ${info.failureThreshold.toLocaleString("en-US")}).${failedText}`;
  } else if (verdict && verdict.kind === "version_good") {
    text = `Why: ${version} was judged good: ${verdict.detail}.`;
  }
  // A freeze holds the rollout: say which, and until when, first.
  if (info.frozen && info.phase === "rolling_out") text = `Frozen: ${info.frozen}. Nothing new moves; rollbacks go on. ${text}`.trim();
  $("why").textContent = text;
  $("why").dataset.verdict = info.lastKnownBadVersion && version === info.lastKnownBadVersion ? "bad" : "";
}

/**
 * What holds the rollout, in words, or `null`: a pause (by whom), a gate
 * waiting for approval, an analysis run holding its step. A held rollout
 * gets no countdown: nothing starts until it is released.
 */
function blockedBy(info, runs) {
  if (info.phase === "rolling_back" || info.phase === "rolled_back" || info.phase === "halted") return null;
  if (info.paused) {
    const by = info.pauseReason && info.pauseReason !== "operator" ? ` by its analysis (${info.pauseReason.replaceAll("_", " ")}): promote to go on or abort` : ": resume to go on";
    return `paused${by}; no step starts until then`;
  }
  if (info.awaitingApproval) return "waiting for approval: the next step starts once it is approved";
  const holding = runs.find((run) => run.holding);
  if (holding) return `held by the analysis of ${holding.kind === "background" ? "the rollout" : `step ${holding.kind.step + 1}`} until it ends (${holding.phase})`;
  return null;
}

/** The plan's steps (1-based, as people count them), the current one's bake and gate, and the forecast, as of `now`. */
function renderPlan(info, plan, runs, now = Date.now()) {
  window.__forecast = plan;
  if (plan === null) {
    $("plan").replaceChildren();
    $("forecast").textContent = "No version set: nothing to roll out.";
    return;
  }
  const blocked = blockedBy(info, runs);
  const inTime = (at) => formatDuration(Math.ceil((at - now) / 1000));
  $("plan").replaceChildren(
    ...plan.steps.map((step, i) => {
      const li = document.createElement("li");
      const parts = [`${step.cumulative.toLocaleString("en-US")} of ${plan.fleet.toLocaleString("en-US")} targets (${step.size})`, step.status];
      if (step.approval) parts.push(step.status === "current" && info.awaitingApproval ? "waiting for approval" : "approval gate");
      if (step.bakeSecs) parts.push(`bake ${step.bakeSecs} s`);
      const next = plan.steps[i + 1];
      if (step.status === "current" && next) {
        if (blocked) parts.push(blocked);
        else if (next.earliestStart > now) parts.push(`next step in ${inTime(next.earliestStart)} at the earliest`);
        else parts.push("next step once this one's targets are judged");
      }
      if (step.status === "pending" && step.earliestStart) {
        parts.push(step.earliestStart > now && !blocked ? `earliest start ${time(step.earliestStart)} (in ${inTime(step.earliestStart)})` : "starts after the steps before it");
      }
      li.textContent = parts.join(" · ");
      li.dataset.status = step.status;
      return li;
    }),
  );
  $("forecast").textContent = plan.needsRetry
    ? `Forecast (in this page): ${plan.version} failed and was rolled back; nothing starts until it is retried or another version is set.`
    : plan.version && plan.version !== info.lastKnownGoodVersion
      ? blocked
        ? `Forecast (in this page): ${plan.version} is ${blocked}.`
        : `Forecast (in this page): ${plan.version} can be good at ${time(plan.earliestGood)} at the earliest${plan.earliestGood > now ? ` (in ${inTime(plan.earliestGood)})` : ""}.`
      : "Forecast (in this page): no rollout under way.";
}

/** Says what target `i` is doing under the grid (pointer and keyboard alike). */
function tip(i) {
  const t = shown?.view?.targets;
  if (!t || i < 0 || i >= t.names.length) return;
  const message = t.messageTable[t.message[i]];
  const text = `${t.groups[i] ? `${t.groups[i]}/` : ""}${t.names[i]}: ${t.versionTable[t.version[i]]}, ${t.reasonTable[t.reason[i]]}${message ? ` — ${message}` : ""}`;
  $("target-tip").textContent = text;
  $("grid").title = text; // the pointer's tooltip too
}

$("grid").addEventListener("mousemove", (event) => {
  if (shown?.layout) tip(hitTest(shown.layout, event.offsetX, event.offsetY));
});

// The keyboard walks the grid: arrows move between targets, a row being the grid's width.
const MOVES = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: "row", ArrowUp: "-row", Home: "first", End: "last" };
$("grid").addEventListener("keydown", (event) => {
  const move = MOVES[event.key];
  const n = shown?.view?.targets.names.length ?? 0;
  if (!shown?.layout || move === undefined || n === 0) return;
  event.preventDefault();
  const cols = shown.layout.cols;
  const at = shown.cursor ?? -1;
  const next = { row: at + cols, "-row": at - cols, first: 0, last: n - 1 }[move] ?? at + move;
  shown.cursor = Math.max(0, Math.min(n - 1, next));
  tip(shown.cursor);
});

/** Streams the entity's events in; each batch reads the entity again. */
async function followEvents(path, signal, onError) {
  try {
    await follow(`${path}/events/stream?since=0`, signal, ({ data: event }) => {
      const li = document.createElement("li");
      li.value = event.seq;
      li.dataset.kind = event.kind;
      li.textContent = `${time(event.time)} ${event.kind} ${event.version}${event.target ? ` ${event.target.name}` : ""}: ${event.detail}${event.actor ? ` (by ${event.actor})` : ""}`;
      if (event.actor) li.dataset.actor = event.actor;
      if (event.kind === "version_bad" || event.kind === "version_good") shown?.verdicts.set(event.version, event);
      if (event.kind === "target_failed" && shown) {
        const failures = shown.failures.get(event.version) ?? { count: 0, events: [] };
        failures.count++;
        if (failures.events.length < FAILURES_NAMED) failures.events.push(event);
        shown.failures.set(event.version, failures);
      }
      eventFilter.add(li, event);
      refreshSoon();
    });
  } catch (error) {
    if (!signal.aborted) onError(error);
  }
}

/**
 * The event list's filter: per-target events folded away unless asked
 * for (a 1,000-target rollout logs thousands), and one kind at a time if
 * chosen. Each sort keeps its newest MAX_SHOWN_EVENTS, so the entity's own
 * events are never pushed out by its targets'.
 */
const eventFilter = {
  kinds: new Set(),
  shown: { entity: 0, target: 0 },
  folded: 0,
  /** Only events from this sequence number on (a revision's), or 0. */
  since: 0,
  reset() {
    this.kinds.clear();
    this.since = 0;
    $("events-since").hidden = true;
    this.shown = { entity: 0, target: 0 };
    this.folded = 0;
    $("events-kind").replaceChildren(new Option("every kind", ""));
    $("events-folded").textContent = "";
  },
  hides(li) {
    const kind = $("events-kind").value;
    return (li.dataset.target !== undefined && !$("events-targets").checked) || (kind !== "" && li.dataset.kind !== kind) || li.value < this.since;
  },
  add(li, event) {
    const sort = event.target ? "target" : "entity";
    if (event.target) li.dataset.target = event.target.name;
    if (!this.kinds.has(event.kind)) {
      this.kinds.add(event.kind);
      $("events-kind").append(new Option(event.kind.replaceAll("_", " "), event.kind));
    }
    li.hidden = this.hides(li);
    const list = $("events");
    list.prepend(li);
    if (++this.shown[sort] > MAX_SHOWN_EVENTS) {
      for (let item = list.lastElementChild; item; item = item.previousElementSibling) {
        if ((item.dataset.target !== undefined) === (sort === "target")) {
          item.remove();
          this.shown[sort]--;
          break;
        }
      }
    }
    if (event.target) this.folded++;
    this.say();
  },
  apply() {
    for (const li of $("events").children) li.hidden = this.hides(li);
    this.say();
  },
  /** Shows only the events from `seq` on (the rollout of `version`'s), until "every event" is asked for. */
  from(seq, version) {
    this.since = seq;
    $("events-since").hidden = false;
    $("events-since-text").textContent = `from ${version}'s rollout (event #${seq}) on`;
    this.apply();
  },
  say() {
    $("events-folded").textContent = !$("events-targets").checked && this.folded > 0 ? `${this.folded.toLocaleString("en-US")} per-target events folded` : "";
  },
};
$("events-targets").addEventListener("change", () => eventFilter.apply());
$("events-all").addEventListener("click", () => {
  eventFilter.since = 0;
  $("events-since").hidden = true;
  eventFilter.apply();
});
$("events-kind").addEventListener("change", () => eventFilter.apply());
