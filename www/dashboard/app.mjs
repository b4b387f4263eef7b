// The dashboard of real rollouts: the HTTP API (js/server) read and steered
// with the user's token, each entity's events streamed in, its targets
// drawn with the simulator's code (../render.mjs), and its forecast
// computed by the engine itself in the page (../engine/, the wasm build)
// from the entity's snapshot.
import init, { Orchestrator } from "../engine/orchestrator_engine.js";
import { Palette, drawGrid, gridLayout, hitTest } from "../render.mjs";
import { readEvents } from "./sse.mjs";

const API = "/v1/orchestrate";
const $ = (id) => document.getElementById(id);
const engineReady = init();

let token = sessionStorage.getItem("orchestrator-token") ?? "";
let access = null;
let stream = null; // the open event stream's AbortController
let refreshTimer = null;

/** Calls the API; a 401 shows the sign-in form; other errors throw with their code and message. */
async function api(method, path, body) {
  const headers = token ? { authorization: `Bearer ${token}` } : {};
  const response = await fetch(`${API}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (response.status === 401) {
    showLogin(token ? "That token was not accepted." : "This server needs a token.");
    throw new Error("not signed in");
  }
  const type = response.headers.get("content-type") ?? "";
  const answer = type.includes("json") ? await response.json() : new Uint8Array(await response.arrayBuffer());
  if (!response.ok) throw Object.assign(new Error(answer.message ?? `HTTP ${response.status}`), { code: answer.code });
  return answer;
}

function showError(error) {
  if (error.message === "not signed in") return;
  $("error").textContent = error.code ? `${error.code}: ${error.message}` : error.message;
  $("error").hidden = false;
}

function showLogin(why) {
  $("login-why").textContent = why;
  $("login").hidden = false;
  $("overview").hidden = true;
  $("entity").hidden = true;
  $("token").focus();
}

$("login").addEventListener("submit", (event) => {
  event.preventDefault();
  token = $("token").value;
  sessionStorage.setItem("orchestrator-token", token);
  $("login").hidden = true;
  start();
});

/**
 * What a rollout is doing, in a word or two. A bad version is rolling back
 * while some target is still sent back from it (`targets`: the entity's
 * expected states), rolled back once none is.
 */
function stateOf(info, targets) {
  if (info.paused) return "paused";
  if (info.awaitingApproval) return "awaiting approval";
  if (info.lastKnownBadVersion && info.rollingVersion === info.lastKnownBadVersion) {
    return targets.some((t) => t.reason === "rolled_back" || t.version === info.lastKnownBadVersion) ? "rolling back" : "rolled back";
  }
  if (info.rollingVersion && info.rollingVersion !== info.lastKnownGoodVersion) return "rolling";
  return info.lastKnownGoodVersion ? "rolled out" : "new";
}

// ---- the overview ------------------------------------------------------

async function overview() {
  const rows = [];
  for (const namespace of await api("GET", "/namespaces")) {
    for (const entity of await api("GET", `/${encodeURIComponent(namespace)}/entities`)) {
      const path = `/${encodeURIComponent(namespace)}/${encodeURIComponent(entity)}`;
      const info = await api("GET", `${path}/info`);
      // Only a rollback needs the targets to say how far it is.
      const rollingBack = info.lastKnownBadVersion && info.rollingVersion === info.lastKnownBadVersion;
      const targets = rollingBack ? await api("GET", `${path}/expected`) : [];
      rows.push({ namespace, entity, info, state: stateOf(info, targets) });
    }
  }
  const body = $("entities");
  body.replaceChildren(
    ...rows.map(({ namespace, entity, info, state: label }) => {
      const tr = document.createElement("tr");
      const link = document.createElement("a");
      link.href = `#/${encodeURIComponent(namespace)}/${encodeURIComponent(entity)}`;
      link.textContent = `${namespace} / ${entity}`;
      const state = document.createElement("span");
      state.className = "badge";
      state.dataset.state = label;
      state.textContent = label;
      const cells = [link, state, info.targetVersion || "-", info.lastKnownGoodVersion || "-", info.lastKnownBadVersion || "-"];
      tr.append(...cells.map((content) => {
        const td = document.createElement("td");
        td.append(content);
        return td;
      }));
      return tr;
    }),
  );
  $("where").textContent = `${rows.length} ${rows.length === 1 ? "entity" : "entities"}`;
}

// ---- one entity --------------------------------------------------------

let current = null; // { namespace, entity, path, targets, layout, palette }

async function showEntity(namespace, entity) {
  const path = `/${encodeURIComponent(namespace)}/${encodeURIComponent(entity)}`;
  current = { namespace, entity, path, palette: new Palette(), targets: [] };
  $("entity-name").textContent = `${namespace} / ${entity}`;
  $("where").textContent = `${namespace} / ${entity}`;
  $("events").replaceChildren();
  await refreshEntity();
  followEvents(path);
}

async function refreshEntity() {
  if (!current) return;
  const { path } = current;
  const [info, targets, plan, history] = await Promise.all(
    ["info", "expected", "plan", "history"].map((what) => api("GET", `${path}/${what}`)),
  );
  const state = stateOf(info, targets);
  $("entity-state").textContent = state;
  $("entity-state").dataset.state = state;
  const count = (reason) => targets.filter((t) => t.reason === reason).length;
  const failed = targets.filter((t) => t.reason.startsWith("failed")).length;
  const budget = info.options.maxFailures ?? "spec default";
  $("counts").textContent =
    `${targets.length} targets: ${count("in_flight")} in flight, ${count("succeeded")} succeeded, ${failed} failed (error budget ${budget}); ` +
    `target ${info.targetVersion || "-"}, good ${info.lastKnownGoodVersion || "-"}, bad ${info.lastKnownBadVersion || "-"}`;
  // The grid: by group, as the engine orders them.
  const sorted = [...targets].sort((a, b) => (a.group < b.group ? -1 : a.group > b.group ? 1 : 0));
  current.targets = sorted;
  current.layout = gridLayout(sorted.map((t) => t.group), $("grid").clientWidth || 600);
  drawGrid($("grid"), current.layout, (i) => [sorted[i].reason, sorted[i].version, sorted[i].version], current.palette);
  // The plan, and the forecast from the engine in this page.
  $("plan").replaceChildren(
    ...plan.steps.map((step) => {
      const li = document.createElement("li");
      const start = step.earliestStart ? ` · earliest start ${new Date(step.earliestStart).toLocaleTimeString()}` : "";
      li.textContent = `${step.size} (${step.cumulative} targets) ${step.status}${step.approval ? " · needs approval" : ""}${step.bakeSecs ? ` · bake ${step.bakeSecs} s` : ""}${start}`;
      li.dataset.status = step.status;
      return li;
    }),
  );
  // The entity's rollouts, newest first.
  $("history").replaceChildren(
    ...[...history].reverse().map((rollout) => {
      const li = document.createElement("li");
      const ended = rollout.ended ? `, ended ${new Date(rollout.ended).toLocaleTimeString()}` : "";
      li.textContent = `${rollout.version} ${rollout.outcome.replace("_", " ")} (started ${new Date(rollout.started).toLocaleTimeString()}${ended})`;
      return li;
    }),
  );
  await forecast(info);
}

/** The entity's plan computed in the page from its snapshot: what the server would answer, without asking it. */
async function forecast(info) {
  const { namespace, entity, path } = current;
  const bytes = await api("GET", `${path}/snapshot`);
  await engineReady;
  const engine = Orchestrator.restore(bytes, { now: () => Date.now() });
  try {
    const plan = engine.plan(namespace, entity);
    window.__forecast = plan;
    // plan() still lists a version that failed (until retry() rolls it out afresh).
    const bad = plan.version && plan.version === info.lastKnownBadVersion;
    $("forecast").textContent = bad
      ? `Forecast (in this page): ${plan.version} failed and was rolled back; nothing starts until it is retried or another version is set.`
      : plan.earliestGood
        ? `Forecast (in this page): ${plan.version} can be good at ${new Date(plan.earliestGood).toLocaleTimeString()} at the earliest.`
        : "Forecast (in this page): no rollout under way.";
  } finally {
    engine.free();
  }
}

/** Says what target `i` is doing under the grid (pointer and keyboard alike). */
function tip(i) {
  const t = current?.targets[i];
  $("target-tip").textContent = t ? `${t.group ? `${t.group}/` : ""}${t.name}: ${t.reason}${t.message ? ` — ${t.message}` : ""}` : "";
}

$("grid").addEventListener("mousemove", (event) => {
  if (current?.layout) tip(hitTest(current.layout, event.offsetX, event.offsetY));
});

// The keyboard walks the grid: arrows move between targets, a row being the grid's width.
const STEPS = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: "row", ArrowUp: "-row", Home: "first", End: "last" };
$("grid").addEventListener("keydown", (event) => {
  const step = STEPS[event.key];
  if (!current?.layout || step === undefined || current.targets.length === 0) return;
  event.preventDefault();
  const last = current.targets.length - 1;
  const cols = current.layout.cols;
  const at = current.cursor ?? -1;
  const next = { row: at + cols, "-row": at - cols, first: 0, last }[step] ?? at + step;
  current.cursor = Math.max(0, Math.min(last, next));
  tip(current.cursor);
});

/** Streams the entity's events in (fetch, so the token goes in a header); each one refreshes the view. */
async function followEvents(path) {
  stream?.abort();
  const controller = new AbortController();
  stream = controller;
  try {
    const response = await fetch(`${API}${path}/events/stream?since=0`, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
      signal: controller.signal,
    });
    await readEvents(response.body, ({ data: event }) => {
      const li = document.createElement("li");
      li.value = event.seq;
      li.dataset.kind = event.kind;
      li.textContent = `${new Date(event.time).toLocaleTimeString()} ${event.kind} ${event.version}${event.target ? ` ${event.target.name}` : ""}: ${event.detail}`;
      $("events").prepend(li);
      clearTimeout(refreshTimer);
      refreshTimer = setTimeout(() => refreshEntity().catch(showError), 200);
    });
  } catch (error) {
    if (error.name !== "AbortError") showError(error);
  }
}

// ---- controls ----------------------------------------------------------

for (const button of document.querySelectorAll("[data-control]")) {
  button.addEventListener("click", async (event) => {
    event.preventDefault();
    const control = button.dataset.control;
    if (button.dataset.confirm && !confirm(button.dataset.confirm)) return;
    const version = $("version").value.trim();
    const needsVersion = ["version", "force", "rollback"].includes(control);
    if (needsVersion && !version) return $("version").reportValidity();
    $("error").hidden = true;
    try {
      await api("POST", `${current.path}/${control}`, needsVersion ? { version } : undefined);
      await refreshEntity();
    } catch (error) {
      showError(error);
    }
  });
}

// ---- navigation ----------------------------------------------------------

async function route() {
  stream?.abort();
  current = null;
  $("error").hidden = true;
  const match = /^#\/([^/]+)\/([^/]+)$/.exec(location.hash);
  $("overview").hidden = Boolean(match);
  $("entity").hidden = !match;
  if (match) await showEntity(decodeURIComponent(match[1]), decodeURIComponent(match[2]));
  else await overview();
}

async function start() {
  try {
    ({ access } = await api("GET", "/access"));
    if (access === null) return showLogin(token ? "That token was not accepted." : "This server needs a token.");
    $("access").textContent = access === "write" ? "can steer" : "read only";
    $("controls").hidden = access !== "write";
    await route();
  } catch (error) {
    showError(error);
  }
}

window.addEventListener("hashchange", () => route().catch(showError));
setInterval(() => {
  if (access && !current && !$("overview").hidden) overview().catch(showError);
}, 2000);
start();
