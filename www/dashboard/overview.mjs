// Every namespace and entity with its state, kept live from the server's
// stream of every entity's events (GET /v1/orchestrate/events/stream): an
// entity's row is read again when it logs an event, added when it
// appears, dropped when it goes. A server without that stream (the
// Worker) is polled instead.
import { api, entityPath, follow } from "./api.mjs";
import { badge, stateOf } from "./state.mjs";

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
  const info = await api("GET", `${path}/info`);
  const state = stateOf(info);
  const link = document.createElement("a");
  link.href = `#${path}`;
  link.textContent = `${row.namespace} / ${row.entity}`;
  // Without a plan, the rollout moves in batches: say so rather than nothing.
  const moving = info.phase === "rolling_out" || info.phase === "rolling_back";
  const batches = info.phase === "rolling_back" ? info.options.rollbackBatchPercent ?? 100 : info.options.batchPercent;
  const step = info.step !== null ? `${info.step + 1} of ${info.options.steps.length}` : moving ? `batches of ${batches}%` : "-";
  const cells = [link, badge(state), info.targetVersion || "-", step, info.lastKnownGoodVersion || "-", info.lastKnownBadVersion || "-"];
  row.tr.replaceChildren(
    ...cells.map((content) => {
      const td = document.createElement("td");
      td.append(content);
      return td;
    }),
  );
}

/** Puts a new row in name order. */
function place(row) {
  const body = $("entities");
  const after = [...rows.values()]
    .filter((r) => r.tr.isConnected)
    .find((r) => r.namespace > row.namespace || (r.namespace === row.namespace && r.entity > row.entity));
  body.insertBefore(row.tr, after?.tr ?? null);
  count();
}

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
}
