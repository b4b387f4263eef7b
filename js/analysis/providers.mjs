// The measurements of analysis: what the engine's metric provider hook
// does with a metric's provider (its JSON, args substituted by the core).
//
//   prometheus { address, query, timeout?, headers?, rangeQuery? }
//       GET /api/v1/query (or query_range) at the engine's clock (`time=`
//       is the step's time; a range ends at it). A vector is the list of
//       its samples' values, a matrix every value of every series in
//       order (as Argo flattens it), a scalar its number, a string its
//       text; "NaN", "+Inf" and "-Inf" are numbers. An empty result is
//       no data, never 0. Warnings are kept with the measurement.
//   web { url, method?, headers?, body?, jsonBody?, jsonPath?, timeoutSeconds? }
//       The JSON answer, or the value at `jsonPath` ("{$.data.ok}").
//   function "name" | { name, ...config }
//       The caller's function `functions[name]({ metric, config, at,
//       namespace, entity, version })`, answering the value (or a Promise
//       of it, or `{ value, query }`): Datadog, CloudWatch, a test double.
//
// Headers are Argo's `[{ key, value }]`. An argument without a value (a
// secret, Argo's `valueFrom`) is filled here from `secrets[name]` and never
// shown: the query a measurement shows has it as `[redacted]`. Requests go
// out with `fetch`, follow no redirect, read at most 1 MiB, and may be
// limited to `allowHosts`.

import { boundedText, endpointName, excerpt, hostMatcher, MAX_ANSWER_BYTES } from "../hooks/http.mjs";
import { orchestratorError } from "../errors.mjs";
import { measured, modelProvider } from "./model.mjs";
import { seconds } from "./template.mjs";

export { valueText } from "./model.mjs";

/** Whether the provider is reached over HTTP (a synchronous step never waits for it). */
export const isRemote = (request) => {
  try {
    const provider = JSON.parse(request.provider);
    return "prometheus" in provider || "web" in provider;
  } catch {
    return false;
  }
};

/**
 * A measuring function for the engine: `measure(request, context)`
 * answers `{ value, text, query, warnings }` (or a Promise of it).
 */
export function metricProvider({ functions = {}, secrets = {}, allowHosts, model } = {}) {
  if (model !== undefined) {
    // A stand-in for every provider (the simulators' fleet model).
    if (typeof model !== "function") throw orchestratorError("INVALID_ARGUMENT", "invalid argument metrics.model: must be a function");
    return modelProvider(model);
  }
  if (functions === null || typeof functions !== "object" || Object.values(functions).some((f) => typeof f !== "function")) {
    throw orchestratorError("INVALID_ARGUMENT", "invalid argument metrics.functions: must be an object of names to functions");
  }
  if (secrets === null || typeof secrets !== "object" || Object.values(secrets).some((s) => typeof s !== "string")) {
    throw orchestratorError("INVALID_ARGUMENT", "invalid argument metrics.secrets: must be an object of argument names to strings");
  }
  const allowed = hostMatcher(allowHosts);
  return (request, context) => {
    const provider = JSON.parse(request.provider);
    const [kind, config] = Object.entries(provider)[0] ?? [];
    if (kind === "function") return measureFunction(functions, config, request, context);
    const fill = (text, shown) => fillSecrets(text, secrets, shown);
    if (kind === "prometheus") return prometheus(config, request.at, fill, allowed);
    if (kind === "web") return web(config, fill, allowed);
    throw new Error(`no provider ${JSON.stringify(kind)}: the providers are prometheus, web and function`);
  };
}

/** `text` with `{{args.name}}` from `secrets` (`shown`: as `[redacted]`). */
function fillSecrets(text, secrets, shown) {
  return String(text ?? "").replace(/\{\{\s*args\.([^}\s]+)\s*\}\}/g, (_, name) => {
    if (!(name in secrets)) throw new Error(`argument ${name} has no value: give it in the provider's secrets`);
    return shown ? "[redacted]" : secrets[name];
  });
}


function measureFunction(functions, config, request, context) {
  const { name, ...rest } = typeof config === "string" ? { name: config } : config ?? {};
  const fn = functions[name];
  if (typeof fn !== "function") throw new Error(`no metric function ${JSON.stringify(name)}: give it in the provider's functions`);
  const { namespace, entity, version } = context;
  const answer = fn({ metric: request.metric, config: rest, at: request.at, namespace, entity, version });
  const resolve = (a) => (a !== null && typeof a === "object" && "value" in a && !Array.isArray(a) ? measured(a.value, String(a.query ?? name)) : measured(a, name));
  return answer !== null && typeof answer?.then === "function" ? answer.then(resolve) : resolve(answer);
}

/** Argo's `[{ key, value }]` headers as an object, secrets filled. */
function headersOf(list, fill) {
  const headers = {};
  for (const { key, value } of Array.isArray(list) ? list : []) headers[key] = fill(value, false);
  return headers;
}

/** Fetches `url` with a deadline, no redirects and a bounded answer; answers its text. */
async function get(url, init, timeoutMs, allowed, what) {
  const parsed = new URL(url);
  if (!allowed(parsed.hostname)) throw new Error(`${what} ${parsed.hostname} is not among the hosts this engine measures from`);
  const shown = `${what} ${endpointName(url)}`;
  let response;
  try {
    response = await fetch(url, { ...init, redirect: "manual", signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    throw new Error(`${shown}: ${error?.name === "TimeoutError" ? `no answer within ${timeoutMs} ms` : excerpt(error?.cause?.message ?? error?.message)}`);
  }
  const text = await boundedText(response, MAX_ANSWER_BYTES).catch((error) => {
    throw new Error(`${shown}: ${error.message}`);
  });
  if (response.status < 200 || response.status > 299) throw new Error(`${shown} answered ${response.status}: ${excerpt(text)}`);
  return text;
}

/** A sample's value: Prometheus writes numbers as strings, with NaN and ±Inf. */
function sample(text) {
  if (text === "+Inf" || text === "Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  return Number(text);
}

/** Argo's range expressions: "now()" or "now() - 5m". */
function rangeTime(expr, at, field) {
  const match = /^\s*now\(\)\s*(?:-\s*(\S+))?\s*$/.exec(String(expr ?? "now()"));
  if (!match) throw new Error(`rangeQuery.${field} must be "now()" or "now() - <duration>", got ${JSON.stringify(expr)}`);
  return at / 1000 - (match[1] ? seconds(match[1], `rangeQuery.${field}`) : 0);
}

async function prometheus(config, at, fill, allowed) {
  const { address, query, timeout = 10, headers, rangeQuery } = config ?? {};
  if (typeof address !== "string" || typeof query !== "string") throw new Error("a prometheus provider needs an address and a query");
  const params = new URLSearchParams({ query: fill(query, false) });
  let path = "/api/v1/query";
  if (rangeQuery) {
    path = "/api/v1/query_range";
    params.set("start", String(rangeTime(rangeQuery.start, at, "start")));
    params.set("end", String(rangeTime(rangeQuery.end, at, "end")));
    params.set("step", String(seconds(rangeQuery.step ?? "1m", "rangeQuery.step")));
  } else {
    params.set("time", String(at / 1000));
  }
  const url = `${fill(address, false).replace(/\/+$/, "")}${path}?${params}`;
  const text = await get(url, { headers: headersOf(headers, fill) }, Number(timeout) * 1000, allowed, "prometheus");
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`prometheus answered something that is not JSON: ${excerpt(text)}`);
  }
  if (body.status !== "success") throw new Error(`prometheus: ${body.errorType ?? "error"}: ${excerpt(body.error ?? text)}`);
  const { resultType, result } = body.data ?? {};
  let value;
  if (resultType === "vector") value = result.map((r) => sample(r.value[1]));
  else if (resultType === "matrix") value = result.flatMap((r) => r.values.map((v) => sample(v[1])));
  else if (resultType === "scalar") value = sample(result[1]);
  else if (resultType === "string") value = result[1];
  else throw new Error(`prometheus answered a result of type ${JSON.stringify(resultType)}`);
  const shown = rangeQuery ? `${fill(query, true)} [${params.get("start")}, ${params.get("end")}] step ${params.get("step")}s` : `${fill(query, true)} @ ${params.get("time")}`;
  return measured(value, shown, Array.isArray(body.warnings) ? body.warnings.map(String) : []);
}

/** The value at a JSONPath like "{$.data.rate}" or "$.items[0].ok". */
export function atPath(value, path) {
  const steps = String(path).trim().replace(/^\{(.*)\}$/, "$1").replace(/^\$/, "");
  let current = value;
  for (const [, key, index, quoted] of steps.matchAll(/\.([^.[\]]+)|\[(-?\d+)\]|\[['"]([^'"]+)['"]\]/g)) {
    if (current === null || current === undefined) return undefined;
    if (index !== undefined) current = Array.isArray(current) ? current.at(Number(index)) : undefined;
    else current = current[key ?? quoted];
  }
  return current;
}

async function web(config, fill, allowed) {
  const { url, method = "GET", headers, body, jsonBody, jsonPath, timeoutSeconds = 10 } = config ?? {};
  if (typeof url !== "string") throw new Error("a web provider needs a url");
  const init = { method, headers: headersOf(headers, fill) };
  if (jsonBody !== undefined) {
    init.body = fill(JSON.stringify(jsonBody), false);
    init.headers["content-type"] ??= "application/json";
  } else if (body !== undefined) {
    init.body = fill(body, false);
  }
  const text = await get(fill(url, false), init, Number(timeoutSeconds) * 1000, allowed, "web");
  let parsed;
  try {
    parsed = JSON.parse(text);
  } catch {
    if (jsonPath) throw new Error(`web ${endpointName(fill(url, false))} answered something that is not JSON: ${excerpt(text)}`);
    parsed = text;
  }
  const value = jsonPath ? atPath(parsed, jsonPath) : parsed;
  return measured(value ?? null, `${method} ${endpointName(fill(url, true))}${jsonPath ? ` ${jsonPath}` : ""}`);
}
