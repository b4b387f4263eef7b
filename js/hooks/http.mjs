// The Go engine's HTTP controllers (nixmade/orchestrator,
// core/entitywebcontroller.go) as hooks: each hook is a POST of the Go
// engine's JSON to an endpoint, made with `fetch` (Node and edge runtimes
// alike). Targets travel as the Go engine's `ClientState`:
// `{ name, group, tags, version, message, isError }`, `tags` one string.
//
//   selection          { targets, count } -> { targets }   (may name new targets)
//   approval           { targets }        -> { targets }   (only those asked about count)
//   removal            { targets, count } -> { targets }   (only those asked about count)
//   monitoring         { target }         -> { status, message }   ("ok" passes)
//   externalmonitoring { targets }        -> { status, message }   ("ok" passes)
//
// Each request also carries `context` (`{ namespace, entity, version,
// rollingBack, step, now }`, what a JS hook is given): a field the Go engine does
// not send, which a Go endpoint's JSON decoder ignores.
//
// A status other than 200, an answer that is not that JSON, a connection
// that fails or closes, or no answer within `timeoutMs` fails the hook, as
// a throwing hook does.
//
// Unlike hooks of functions, an HTTP controller is part of the entity's
// state: its settings (the endpoints, headers and timeout, as canonical
// JSON) are kept in the entity's snapshots and deltas, and the hooks are
// built again from them wherever the entity is restored.

import { orchestratorError } from "../errors.mjs";

/** The Go engine's field names of each kind of controller. */
export const TARGET_ENDPOINTS = ["selection", "approval", "removal", "monitoring"];
export const MONITORING_ENDPOINTS = ["externalmonitoring"];

/** Whether `controller` names endpoints rather than hook functions. */
export const isHttpController = (controller, names) => names.some((name) => typeof controller?.[name] === "string");

/**
 * A Go-style controller checked: the settings the entity keeps (canonical
 * JSON) and its hooks. Target controllers `{ selection?, approval?,
 * removal?, monitoring?, headers?, timeoutMs? }` give `{ select?, approve?,
 * remove?, monitor? }`; monitoring controllers `{ externalmonitoring,
 * headers?, timeoutMs? }` give `{ check }`.
 */
export function httpController(controller, monitoring) {
  const config = checked(controller, monitoring ? MONITORING_ENDPOINTS : TARGET_ENDPOINTS);
  return { settings: JSON.stringify(config), hooks: hooksOf(config, monitoring) };
}

/** The hooks of settings an entity kept (`httpController(...).settings`). */
export function hooksFromSettings(settings, monitoring) {
  let controller;
  try {
    controller = JSON.parse(settings);
  } catch {
    throw invalid("controller settings", "are not JSON");
  }
  return httpController(controller, monitoring).hooks;
}

function hooksOf(config, monitoring) {
  const post = poster(config);
  if (monitoring) {
    return {
      check: async (inFlight, context) => healthy(await post("externalmonitoring", { targets: inFlight.map(clientState), context }), "externalmonitoring"),
    };
  }
  const hooks = {};
  if (config.selection) {
    hooks.select = async (available, count, context) => ids(await post("selection", { targets: available.map(clientState), count, context }), "selection");
  }
  if (config.approval) {
    hooks.approve = async (selected, context) => known(await post("approval", { targets: selected.map(clientState), context }), selected, "approval");
  }
  if (config.removal) {
    hooks.remove = async (candidates, count, context) =>
      known(await post("removal", { targets: candidates.map(clientState), count, context }), candidates, "removal");
  }
  if (config.monitoring) {
    hooks.monitor = async (target, context) => healthy(await post("monitoring", { target: clientState(target), context }), "monitoring");
  }
  return hooks;
}

/**
 * Checks a controller's fields; answers them in canonical form: the
 * endpoints (as parsed URLs) in the Go engine's order, the headers (by
 * name, lower case) if any, the timeout.
 */
function checked(controller, names) {
  if (controller === null || typeof controller !== "object" || Array.isArray(controller)) {
    throw invalid("controller", "must be an object of endpoint URLs");
  }
  const { headers = {}, timeoutMs = 10_000, ...rest } = controller;
  for (const key of Object.keys(rest)) {
    if (!names.includes(key)) {
      throw invalid(`controller.${key}`, `is not a field of an HTTP controller; its fields are ${names.join(", ")}, headers and timeoutMs`);
    }
  }
  const config = {};
  for (const name of names) {
    const url = rest[name];
    if (url === undefined || url === null || url === "") continue;
    let parsed;
    try {
      parsed = new URL(url);
    } catch {
      throw invalid(`controller.${name}`, `must be an http or https URL, got ${JSON.stringify(url)}`);
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
      throw invalid(`controller.${name}`, `must be an http or https URL, got ${JSON.stringify(url)}`);
    }
    config[name] = parsed.href;
  }
  if (Object.keys(config).length === 0) {
    throw invalid("controller", `names no endpoint; give at least one of ${names.join(", ")}`);
  }
  if (headers === null || typeof headers !== "object" || Array.isArray(headers) || Object.values(headers).some((v) => typeof v !== "string")) {
    throw invalid("controller.headers", "must be an object of header names to strings, like { authorization: \"Bearer ...\" }");
  }
  const headerNames = Object.keys(headers).map((name) => name.toLowerCase()).sort();
  if (headerNames.length > 0) {
    try {
      new Headers(headers); // the runtime's own check of names and values
    } catch (error) {
      throw invalid("controller.headers", `are not valid HTTP headers: ${error.message}`);
    }
    const lower = Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
    config.headers = Object.fromEntries(headerNames.map((name) => [name, lower[name]]));
  }
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 600_000) {
    throw invalid("controller.timeoutMs", "must be a whole number of milliseconds from 1 to 600000 (10 minutes)");
  }
  config.timeoutMs = timeoutMs;
  return config;
}

/** Posts a request body to one of `config`'s endpoints; answers the JSON it answers. */
function poster(config) {
  const { headers = {}, timeoutMs } = config;
  return async (name, body) => {
    let response;
    try {
      response = await fetch(config[name], {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      const why = error?.name === "TimeoutError" ? `no answer within ${timeoutMs} ms` : (error?.cause?.message ?? error?.message ?? String(error));
      throw new Error(`${name} endpoint ${config[name]}: ${why}`);
    }
    const text = await response.text().catch((error) => {
      throw new Error(`${name} endpoint ${config[name]}: the answer broke off: ${error?.message ?? error}`);
    });
    if (response.status !== 200) throw new Error(`${name} endpoint ${config[name]} answered ${response.status}`);
    try {
      return JSON.parse(text);
    } catch {
      throw new Error(`${name} endpoint ${config[name]} answered something that is not JSON`);
    }
  };
}

/** A target as the Go engine's `ClientState`. */
function clientState(t) {
  return { name: t.name, group: t.group, tags: (t.tags ?? []).join(","), version: t.version, message: t.message, isError: t.isError };
}

/** The targets of an answer `{ targets }`, as `{ name, group }`. */
function ids(answer, name) {
  const targets = answer?.targets ?? [];
  if (!Array.isArray(targets) || targets.some((t) => typeof t?.name !== "string")) {
    throw new Error(`${name} endpoint answered ${JSON.stringify(answer).slice(0, 80)}, not { targets: [{ name, group }] }`);
  }
  return targets.map((t) => ({ name: t.name, group: typeof t.group === "string" ? t.group : "" }));
}

/** The answer's targets that were asked about (matched by name, as the Go engine does). */
function known(answer, asked, name) {
  const named = new Set(ids(answer, name).map((t) => t.name));
  return asked.filter((t) => named.has(t.name)).map((t) => ({ name: t.name, group: t.group }));
}

/** Passes on `{ status: "ok" }` (any case); fails with the status and message otherwise. */
function healthy(answer, name) {
  const status = typeof answer?.status === "string" ? answer.status : "";
  if (status.toLowerCase() === "ok") return;
  const message = typeof answer?.message === "string" ? answer.message : "";
  throw new Error(`${name} endpoint says ${[status || "(no status)", message].filter(Boolean).join(" ")}`);
}

const invalid = (what, reason) => orchestratorError("INVALID_ARGUMENT", `invalid argument ${what}: ${reason}`);
