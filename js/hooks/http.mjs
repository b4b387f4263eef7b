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

import { orchestratorError } from "../errors.mjs";

/** The Go engine's field names of each kind of controller. */
export const TARGET_ENDPOINTS = ["selection", "approval", "removal", "monitoring"];
export const MONITORING_ENDPOINTS = ["externalmonitoring"];

/** Whether `controller` names endpoints rather than hook functions. */
export const isHttpController = (controller, names) => names.some((name) => typeof controller?.[name] === "string");

/**
 * The hooks `{ select?, approve?, remove?, monitor? }` of a Go-style target
 * controller `{ selection?, approval?, removal?, monitoring?, headers?, timeoutMs? }`.
 */
export function httpTargetHooks(controller) {
  const { post, endpoints } = checked(controller, TARGET_ENDPOINTS);
  const hooks = {};
  if (endpoints.selection) {
    hooks.select = async (available, count, context) => ids(await post("selection", { targets: available.map(clientState), count, context }), "selection");
  }
  if (endpoints.approval) {
    hooks.approve = async (selected, context) => known(await post("approval", { targets: selected.map(clientState), context }), selected, "approval");
  }
  if (endpoints.removal) {
    hooks.remove = async (candidates, count, context) =>
      known(await post("removal", { targets: candidates.map(clientState), count, context }), candidates, "removal");
  }
  if (endpoints.monitoring) {
    hooks.monitor = async (target, context) => healthy(await post("monitoring", { target: clientState(target), context }), "monitoring");
  }
  return hooks;
}

/** The hook `{ check }` of a Go-style monitoring controller `{ externalmonitoring, headers?, timeoutMs? }`. */
export function httpMonitoringHooks(controller) {
  const { post } = checked(controller, MONITORING_ENDPOINTS);
  return {
    check: async (inFlight, context) => healthy(await post("externalmonitoring", { targets: inFlight.map(clientState), context }), "externalmonitoring"),
  };
}

/** Checks a controller's fields; answers its endpoints and how to post to them. */
function checked(controller, names) {
  const { headers = {}, timeoutMs = 10_000, ...rest } = controller;
  for (const key of Object.keys(rest)) {
    if (!names.includes(key)) {
      throw invalid(`controller.${key}`, `is not a field of an HTTP controller; its fields are ${names.join(", ")}, headers and timeoutMs`);
    }
  }
  const endpoints = {};
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
    endpoints[name] = parsed.href;
  }
  if (headers === null || typeof headers !== "object" || Object.values(headers).some((v) => typeof v !== "string")) {
    throw invalid("controller.headers", "must be an object of header names to strings, like { authorization: \"Bearer ...\" }");
  }
  if (!(timeoutMs > 0)) throw invalid("controller.timeoutMs", "must be a positive number of milliseconds");
  const post = async (name, body) => {
    let response;
    try {
      response = await fetch(endpoints[name], {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      const why = error?.name === "TimeoutError" ? `no answer within ${timeoutMs} ms` : (error?.cause?.message ?? error?.message ?? String(error));
      throw new Error(`${name} endpoint ${endpoints[name]}: ${why}`);
    }
    const text = await response.text().catch((error) => {
      throw new Error(`${name} endpoint ${endpoints[name]}: the answer broke off: ${error?.message ?? error}`);
    });
    if (response.status !== 200) throw new Error(`${name} endpoint ${endpoints[name]} answered ${response.status}`);
    try {
      return JSON.parse(text);
    } catch {
      throw new Error(`${name} endpoint ${endpoints[name]} answered something that is not JSON`);
    }
  };
  return { post, endpoints };
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
