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
// A status other than 200 (a redirect is not followed: it could carry the
// headers to another origin), an answer that is not that JSON or is larger
// than 1 MiB, a connection that fails or closes, or no answer within
// `timeoutMs` fails the hook, as a throwing hook does. What a failure says
// (in `hook_failed` events, which the read token sees) names the endpoint
// without its query string, and quotes at most a short, printable excerpt
// of an answer.
//
// Unlike hooks of functions, an HTTP controller is part of the entity's
// state: its settings (the endpoints, headers and timeout, as canonical
// JSON) are kept in the entity's snapshots and deltas, and the hooks are
// built again from them wherever the entity is restored.

import { orchestratorError } from "../errors.mjs";

/** The largest answer an endpoint may give. */
export const MAX_ANSWER_BYTES = 1024 * 1024;

/** Ports `fetch` refuses to connect to (the Fetch standard's bad ports). */
const BAD_PORTS = new Set([1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102, 103, 104, 109, 110, 111, 113, 115, 117, 119, 123, 135, 137, 139, 143, 161, 179, 389, 427, 465, 512, 513, 514, 515, 526, 530, 531, 532, 540, 548, 554, 556, 563, 587, 601, 636, 989, 990, 993, 995, 1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060, 5061, 6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080]);

/** An endpoint as messages name it: its origin and path, never its query string. */
export const endpointName = (url) => {
  const parsed = new URL(url);
  return `${parsed.origin}${parsed.pathname}`;
};

/** At most `n` printable characters of `text`, for a message. */
export const excerpt = (text, n = 120) => {
  const printable = String(text).replace(/[\u0000-\u001f\u007f-\u009f]/g, " ");
  return printable.length > n ? `${printable.slice(0, n)}...` : printable;
};

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

/**
 * A check that every endpoint of a controller (given, or kept as settings)
 * is on one of `hosts`: exact host names, or `*.example.com` for any name
 * under it. Servers that take controllers from other teams give one, so
 * that no caller can point the server's requests (and its headers) at an
 * address of their choosing. `undefined`: any host.
 */
export function hostCheck(hosts) {
  const checkUrl = urlCheck(hosts);
  return (controller) => {
    const fields = typeof controller === "string" ? JSON.parse(controller) : controller;
    for (const name of [...TARGET_ENDPOINTS, ...MONITORING_ENDPOINTS]) {
      if (typeof fields?.[name] === "string") checkUrl(`controller.${name}`, fields[name]);
    }
  };
}

/**
 * A check that one URL the server will call (`field` names where it was
 * given) is on one of `hosts`, as `hostCheck` for controllers. Text that
 * is not a URL passes: its own check says so.
 */
export function urlCheck(hosts) {
  if (hosts === undefined) return () => {};
  const ok = hostMatcher(hosts);
  return (field, url) => {
    let host;
    try {
      host = new URL(url).hostname.toLowerCase();
    } catch {
      return;
    }
    if (!ok(host)) throw invalid(field, `points at ${host}, which is not among the hosts this server calls (${hosts.join(", ")})`);
  };
}

/**
 * Whether a host name is one of `hosts` (exact names, or `*.example.com`
 * for any name under it); `undefined`: any host.
 */
export function hostMatcher(hosts) {
  if (hosts === undefined) return () => true;
  if (!Array.isArray(hosts) || hosts.some((h) => typeof h !== "string" || h === "")) {
    throw invalid("allowHookHosts", "must be an array of host names (or *.domain)");
  }
  const allowed = hosts.map((h) => h.toLowerCase());
  return (host) => allowed.some((a) => (a.startsWith("*.") ? host.toLowerCase().endsWith(a.slice(1)) : host.toLowerCase() === a));
}

/**
 * The controller of kept settings with its secrets taken out, for readers:
 * endpoints without credentials or query strings, header values replaced.
 * Still a valid controller (its hooks would fail where a secret was needed).
 */
export function redactedController(settings) {
  const controller = JSON.parse(settings);
  for (const name of [...TARGET_ENDPOINTS, ...MONITORING_ENDPOINTS]) {
    if (typeof controller[name] === "string") controller[name] = endpointName(controller[name]);
  }
  if (controller.headers) controller.headers = Object.fromEntries(Object.keys(controller.headers).map((name) => [name, "[redacted]"]));
  return controller;
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
    config[name] = httpUrl(`controller.${name}`, url);
  }
  if (Object.keys(config).length === 0) {
    throw invalid("controller", `names no endpoint; give at least one of ${names.join(", ")}`);
  }
  const checkedHeaders = httpHeaders("controller.headers", headers);
  if (checkedHeaders !== undefined) config.headers = checkedHeaders;
  config.timeoutMs = requestTimeout("controller.timeoutMs", timeoutMs);
  return config;
}

/** `url` as an http(s) URL fetch will call, or `INVALID_ARGUMENT` naming `field`. */
export function httpUrl(field, url) {
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    throw invalid(field, `must be an http or https URL, got ${JSON.stringify(url)}`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw invalid(field, `must be an http or https URL, got ${JSON.stringify(url)}`);
  }
  if (parsed.username !== "" || parsed.password !== "") {
    throw invalid(field, "holds credentials (user:password@), which fetch never sends: give them as a header instead (headers: { authorization: \"Basic ...\" })");
  }
  if (parsed.port !== "" && BAD_PORTS.has(Number(parsed.port))) {
    throw invalid(field, `uses port ${parsed.port}, which fetch refuses to connect to: use another port`);
  }
  return parsed.href;
}

/** Headers to send, names lower-cased and sorted (`undefined`: none), or `INVALID_ARGUMENT` naming `field`. */
export function httpHeaders(field, headers) {
  if (headers === null || typeof headers !== "object" || Array.isArray(headers) || Object.values(headers).some((v) => typeof v !== "string")) {
    throw invalid(field, "must be an object of header names to strings, like { authorization: \"Bearer ...\" }");
  }
  const headerNames = Object.keys(headers).map((name) => name.toLowerCase()).sort();
  if (headerNames.length === 0) return undefined;
  try {
    new Headers(headers); // the runtime's own check of names and values
  } catch (error) {
    throw invalid(field, `are not valid HTTP headers: ${error.message}`);
  }
  const lower = Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
  return Object.fromEntries(headerNames.map((name) => [name, lower[name]]));
}

/** A request's time limit: 1 ms to 10 minutes, or `INVALID_ARGUMENT` naming `field`. */
export function requestTimeout(field, timeoutMs) {
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 600_000) {
    throw invalid(field, "must be a whole number of milliseconds from 1 to 600000 (10 minutes)");
  }
  return timeoutMs;
}

/** Posts a request body to one of `config`'s endpoints; answers the JSON it answers. */
function poster(config) {
  const { headers = {}, timeoutMs } = config;
  return async (name, body) => {
    const shown = `${name} endpoint ${endpointName(config[name])}`;
    const signal = AbortSignal.timeout(timeoutMs);
    const why = (error) => (error?.name === "TimeoutError" ? `no answer within ${timeoutMs} ms` : excerpt(error?.cause?.message ?? error?.message ?? String(error)));
    let response;
    try {
      response = await fetch(config[name], {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify(body),
        signal,
        redirect: "manual",
      });
    } catch (error) {
      throw new Error(`${shown}: ${why(error)}`);
    }
    if (response.status !== 200) {
      await response.body?.cancel().catch(() => {});
      const redirect = response.status >= 300 && response.status < 400 ? " (redirects are not followed)" : "";
      throw new Error(`${shown} answered ${response.status}${redirect}`);
    }
    let text;
    try {
      text = await boundedText(response, MAX_ANSWER_BYTES);
    } catch (error) {
      throw new Error(`${shown}: ${error.tooLarge ? error.message : `the answer broke off: ${why(error)}`}`);
    }
    try {
      return JSON.parse(text);
    } catch {
      throw new Error(`${shown} answered something that is not JSON`);
    }
  };
}

/** The answer's text, read no further than `max` bytes (more fails). */
export async function boundedText(response, max) {
  const declared = Number(response.headers.get("content-length"));
  const tooLarge = () => Object.assign(new Error(`the answer is larger than ${max} bytes`), { tooLarge: true });
  if (declared > max) {
    await response.body?.cancel().catch(() => {});
    throw tooLarge();
  }
  if (response.body === null) return "";
  const chunks = [];
  let size = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => {});
      throw tooLarge();
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  return new TextDecoder().decode(bytes);
}

/** A target as the Go engine's `ClientState`. */
function clientState(t) {
  return { name: t.name, group: t.group, tags: (t.tags ?? []).join(","), version: t.version, message: t.message, isError: t.isError };
}

/** The targets of an answer `{ targets }`, as `{ name, group }`. */
function ids(answer, name) {
  const targets = answer?.targets ?? [];
  if (!Array.isArray(targets) || targets.some((t) => typeof t?.name !== "string")) {
    throw new Error(`${name} endpoint answered ${excerpt(JSON.stringify(answer), 80)}, not { targets: [{ name, group }] }`);
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
  throw new Error(`${name} endpoint says ${excerpt([status || "(no status)", message].filter(Boolean).join(" "), 200)}`);
}

const invalid = (what, reason) => orchestratorError("INVALID_ARGUMENT", `invalid argument ${what}: ${reason}`);
