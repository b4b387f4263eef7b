// Every namespace and entity with its state, kept live from the server's
// stream of every entity's events (GET /v1/orchestrate/events/stream): an
// entity's row is read again when it logs an event, added when it
// appears, dropped when it goes. A server without that stream (the
// Worker) is polled instead.
import { api, entityPath, follow } from "./api.mjs";
import { badge, barParts, countsText, stateOf } from "./state.mjs";

const $ = (id) => document.getElementById(id);
/** How soon after an entity's event its row is read again (events come in bursts). */
const SETTLE_MS = 250;
const POLL_MS = 2000;

/** Each row by `JSON.stringify([namespace, entity])`: { namespace, entity, tr, timer }. */
const rows = new Map();
let stop = null;

/** Shows the overview until `leave()` (the answered function) is called. */
export function showOverview(onError) {
  stop?.();
  const controller = new AbortController();
  stop = () => controller.abort();
  rows.clear();
  $("entities").replaceChildren();
  $("namespace-filter").replaceChildren(new Option("every namespace", ""));
  count();
  run(controller.signal, onError);
  return stop;
}

async function run(signal, onError) {
  while (!signal.aborted) {
    try {
      const how = await follow("/events/stream", signal, ({ event, data }) => receive(event, data, onError));
      if (how === "missing") return poll(signal, onError);
    } catch (error) {
      if (signal.aborted) return;
      onError(error);
    }
    // The stream ended (a restarting server, a listener let go): read everything afresh.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    for (const key of rows.keys()) drop(key);
  }
}

function receive(event, data, onError) {
  $("stream-state").textContent = event === "unavailable" ? `The store does not answer: ${data.message}` : "";
  if (data.namespace === undefined) return;
  const key = JSON.stringify([data.namespace, data.entity]);
  if (event === "removed") return drop(key);
  let row = rows.get(key);
  if (!row) {
    row = { namespace: data.namespace, entity: data.entity, tr: document.createElement("tr"), seq: 0 };
    rows.set(key, row);
    place(row);
  }
  row.seq = data.seq ?? data.event?.seq ?? row.seq;
  clearTimeout(row.timer);
  row.timer = setTimeout(() => refresh(row).catch(onError), SETTLE_MS);
}

async function poll(signal, onError) {
  while (!signal.aborted) {
    try {
      const seen = new Set();
      for (const namespace of await api("GET", "/namespaces")) {
        for (const entity of await api("GET", `/${encodeURIComponent(namespace)}/entities`)) {
          seen.add(JSON.stringify([namespace, entity]));
          receive("entity", { namespace, entity }, onError);
        }
      }
      for (const key of rows.keys()) if (!seen.has(key)) drop(key);
    } catch (error) {
      onError(error);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** Reads one entity's state into its row. */
async function refresh(row) {
  const path = entityPath(row.namespace, row.entity);
  const [info, counts] = await Promise.all([api("GET", `${path}/info`), api("GET", `${path}/counts`)]);
  const state = stateOf(info);
  const link = document.createElement("a");
  link.href = `#${path}`;
  link.textContent = `${row.namespace} / ${row.entity}`;
  link.title = link.textContent;
  // Without a plan, the rollout moves in batches: say so rather than nothing.
  const moving = info.phase === "rolling_out" || info.phase === "rolling_back";
  const batches = info.phase === "rolling_back" ? info.options.rollbackBatchPercent ?? 100 : info.options.batchPercent;
  const step = info.step !== null ? `${info.step + 1} of ${info.options.steps.length}` : moving ? `batches of ${batches}%` : "-";
  const cells = [link, badge(state), bar(info, counts), info.targetVersion || "-", step, info.lastKnownGoodVersion || "-", info.lastKnownBadVersion || "-"];
  row.tr.replaceChildren(
    ...cells.map((content) => {
      const td = document.createElement("td");
      td.append(content);
      if (typeof content === "string") td.title = content;
      return td;
    }),
  );
  row.state = state;
  place(row);
}

/** The targets by state as a bar in the grid's colours (its title says it in words). */
function bar(info, counts) {
  const element = document.createElement("span");
  element.className = "bar";
  element.role = "img";
  const total = info.targets;
  element.title = total === 0 ? "no targets yet" : countsText(total, counts, info.failureThreshold);
  element.ariaLabel = element.title;
  for (const [colour, reason, n] of barParts(info, counts)) {
    const part = document.createElement("i");
    part.style.background = colour;
    part.style.width = `${(100 * n) / total}%`;
    part.dataset.reason = reason;
    element.append(part);
  }
  return element;
}

/** Trouble first: the order "sort by state" puts rows in. */
const STATE_ORDER = ["halted", "rolling back", "rolled back", "paused", "frozen", "awaiting approval", "rolling", "watching", "new", "rolled out"];
const rank = (row) => {
  const at = STATE_ORDER.indexOf(row.state ?? "");
  return at < 0 ? STATE_ORDER.length : at;
};
const byName = (a, b) => (a.namespace === b.namespace ? (a.entity < b.entity ? -1 : a.entity > b.entity ? 1 : 0) : a.namespace < b.namespace ? -1 : 1);

/** Whether a row passes the search and the namespace filter. */
function matches(row) {
  const text = $("search").value.trim().toLowerCase();
  const namespace = $("namespace-filter").value;
  return (namespace === "" || row.namespace === namespace) && (text === "" || `${row.namespace} / ${row.entity}`.toLowerCase().includes(text));
}

/** Puts a row where the sort says, shown if it matches the filters. */
function place(row) {
  row.tr.hidden = !matches(row);
  const sorted = $("sort").value === "state" ? (a, b) => rank(a) - rank(b) || byName(a, b) : byName;
  const after = [...rows.values()].filter((r) => r !== row && r.tr.isConnected).sort(sorted).find((r) => sorted(r, row) > 0);
  const body = $("entities");
  if (row.tr.parentNode !== body || row.tr.nextSibling !== (after?.tr ?? null)) body.insertBefore(row.tr, after?.tr ?? null);
  if (![...$("namespace-filter").options].some((o) => o.value === row.namespace)) {
    const options = [...$("namespace-filter").options].slice(1).map((o) => o.value);
    const before = options.sort().find((ns) => ns > row.namespace);
    $("namespace-filter").add(new Option(row.namespace, row.namespace), before === undefined ? null : [...$("namespace-filter").options].find((o) => o.value === before));
  }
  count();
}

/** Sorts and filters every row again (the sort or a filter changed). */
function arrange() {
  const all = [...rows.values()];
  const sorted = $("sort").value === "state" ? (a, b) => rank(a) - rank(b) || byName(a, b) : byName;
  $("entities").replaceChildren(...all.sort(sorted).map((row) => row.tr));
  for (const row of all) row.tr.hidden = !matches(row);
  count();
}
for (const id of ["search", "namespace-filter", "sort"]) $(id).addEventListener("input", arrange);

function drop(key) {
  const row = rows.get(key);
  if (!row) return;
  clearTimeout(row.timer);
  row.tr.remove();
  rows.delete(key);
  count();
}

function count() {
  $("where").textContent = `${rows.size} ${rows.size === 1 ? "entity" : "entities"}`;
  const shown = [...rows.values()].filter((row) => !row.tr.hidden).length;
  $("shown-count").textContent = shown === rows.size ? "" : `${shown} of ${rows.size} shown`;
}
