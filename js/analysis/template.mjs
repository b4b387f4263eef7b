// Analysis templates as users have them (the `spec` of an Argo Rollouts
// AnalysisTemplate, or the whole template, written as JSON) into the form
// the engine keeps: Go durations ("30s", "5m", "1h30m") in seconds, Argo's
// int-or-string limits as integers, `dryRun` and `measurementRetention`
// (Argo's regular expressions over metric names) resolved per metric, and
// the provider as JSON text. The engine checks the rest (conditions, args,
// limits) and says what is wrong with the metric's name and position.

import { orchestratorError } from "../errors.mjs";

/** The providers a metric may name. */
export const PROVIDERS = ["prometheus", "web", "function"];

const METRIC_FIELDS = [
  "name",
  "interval",
  "initialDelay",
  "count",
  "successCondition",
  "failureCondition",
  "failureLimit",
  "inconclusiveLimit",
  "consecutiveErrorLimit",
  "consecutiveSuccessLimit",
  "provider",
  "noData",
  "onFailure",
  "canary",
];
const CANARY_FIELDS = ["metrics", "groups", "scoreThresholds", "pass", "marginal", "confidence", "tolerance"];
const CANARY_METRIC_FIELDS = ["name", "group", "baseline", "canary", "direction", "nanStrategy", "outliers", "critical", "mustHaveData", "effectSize"];
const TEMPLATE_FIELDS = ["metrics", "args", "dryRun", "measurementRetention", "startingStep"];
const UNITS = { ns: 1e-9, us: 1e-6, "µs": 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };

const invalid = (field, value, reason) =>
  orchestratorError("INVALID_OPTIONS", `invalid rollout option ${field} = ${JSON.stringify(value) ?? String(value)}: ${reason}`);

/** Seconds of a Go duration ("1m30s"), or of a number of seconds; rounded up. */
export function seconds(value, field) {
  if (typeof value === "number" && Number.isFinite(value) && value >= 0) return Math.ceil(value);
  if (typeof value !== "string" || !/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(value)) {
    throw invalid(field, value, 'must be a duration like "30s", "5m" or "1h30m" (or a number of seconds)');
  }
  let total = 0;
  for (const [, n, , unit] of value.matchAll(/(\d+(\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) total += Number(n) * UNITS[unit];
  return Math.ceil(total - 1e-9);
}

/** Argo's IntOrString: an integer, or a string of one. */
function integer(value, field) {
  const n = typeof value === "string" && /^-?\d+$/.test(value.trim()) ? Number(value) : value;
  if (!Number.isSafeInteger(n)) throw invalid(field, value, "must be an integer (or a string of one)");
  return n;
}

function object(value, field, example) {
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw invalid(field, value, `must be an object like ${example}`);
  return value;
}

function list(value, field) {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw invalid(field, value, "must be an array");
  return value;
}

function onlyKnown(value, known, field) {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) throw invalid(`${field}.${key}`, value[key], `is not a field here; the fields are ${known.join(", ")}`);
  }
}

/** A metric name pattern (Argo: a regular expression, matched anywhere in the name). */
function pattern(value, field) {
  try {
    return new RegExp(value);
  } catch (error) {
    throw invalid(field, value, `is not a regular expression: ${error.message}`);
  }
}

/**
 * The engine's form of a template: `{ metrics, args, dryRun?,
 * measurementRetention?, startingStep? }`, Argo's AnalysisTemplate `spec`
 * or the whole template (`{ kind, spec }`).
 */
export function normalizeAnalysis(template, field = "analysis") {
  object(template, field, "{ metrics: [{ name, provider, successCondition }] }");
  if (template.spec !== undefined && template.metrics === undefined) {
    const { startingStep } = template;
    template = { ...object(template.spec, `${field}.spec`, "{ metrics: [...] }"), ...(startingStep === undefined ? {} : { startingStep }) };
  }
  onlyKnown(template, TEMPLATE_FIELDS, field);
  const dryRun = list(template.dryRun, `${field}.dryRun`).map((d, i) => pattern(object(d, `${field}.dryRun[${i}]`, '{ metricName: ".*" }').metricName, `${field}.dryRun[${i}].metricName`));
  const retention = list(template.measurementRetention, `${field}.measurementRetention`).map((r, i) => {
    const at = `${field}.measurementRetention[${i}]`;
    object(r, at, '{ metricName: "error-rate", limit: 20 }');
    return { match: pattern(r.metricName, `${at}.metricName`), limit: integer(r.limit, `${at}.limit`) };
  });
  const metrics = list(template.metrics, `${field}.metrics`).map((m, i) => {
    const at = `${field}.metrics[${i}]`;
    object(m, at, '{ name: "error-rate", provider: { prometheus: { address, query } }, successCondition: "result[0] < 0.05" }');
    // The engine's own form (as rolloutInfo answers it) goes back as it is.
    if (typeof m.provider === "string") return m;
    onlyKnown(m, METRIC_FIELDS, at);
    const canary = m.canary === undefined || m.canary === null ? undefined : normalizeCanary(m.canary, `${at}.canary`);
    if (canary !== undefined && m.provider !== undefined) throw invalid(`${at}.provider`, m.provider, "a canary metric names its providers per metric (baseline and canary), not here");
    const provider = canary === undefined ? providerOf(m.provider, `${at}.provider`) : "";
    const name = typeof m.name === "string" ? m.name : "";
    const kept = retention.filter((r) => r.match.test(name)).map((r) => r.limit);
    const out = {
      name,
      provider,
      dryRun: dryRun.some((p) => p.test(name)),
    };
    if (canary !== undefined) out.canary = canary;
    if (kept.length > 0) out.retention = Math.max(...kept);
    if (m.interval !== undefined) out.intervalSecs = seconds(m.interval, `${at}.interval`);
    if (m.initialDelay !== undefined) out.initialDelaySecs = seconds(m.initialDelay, `${at}.initialDelay`);
    for (const key of ["count", "failureLimit", "inconclusiveLimit", "consecutiveErrorLimit", "consecutiveSuccessLimit"]) {
      if (m[key] !== undefined && m[key] !== null) out[key] = integer(m[key], `${at}.${key}`);
    }
    for (const key of ["successCondition", "failureCondition", "noData", "onFailure"]) {
      if (m[key] !== undefined && m[key] !== null && m[key] !== "") out[key] = m[key];
    }
    return out;
  });
  const args = list(template.args, `${field}.args`).map((a, i) => {
    object(a, `${field}.args[${i}]`, '{ name: "service", value: "api" }');
    // An argument from `valueFrom` (a secret) has no value in the engine:
    // it is filled where the request is made, from the provider's secrets.
    return a.value === undefined || a.value === null ? { name: a.name } : { name: a.name, value: String(a.value) };
  });
  const out = { metrics, args };
  if (template.startingStep !== undefined && template.startingStep !== null) out.startingStep = integer(template.startingStep, `${field}.startingStep`);
  return out;
}

/** One provider (`{ prometheus: {...} }`, `{ web: {...} }`, `{ function: ... }`) as JSON text. */
function providerOf(value, field) {
  const provider = object(value, field, "{ prometheus: { address, query } }");
  const kinds = Object.keys(provider);
  if (kinds.length !== 1 || !PROVIDERS.includes(kinds[0])) {
    throw invalid(field, provider, `names one provider of ${PROVIDERS.join(", ")} (others, like Datadog, through a function provider)`);
  }
  return JSON.stringify(provider);
}

/** A share as Kayenta writes it (0.98, 1.1) as the engine's whole percent (98, 110). */
function percent(value, field, min, max) {
  if (typeof value !== "number" || !Number.isFinite(value)) throw invalid(field, value, "must be a number");
  const p = Math.round(value * 100);
  if (p < min || p > max) throw invalid(field, value, `must be from ${min / 100} to ${max / 100}`);
  return p;
}

/**
 * A comparative metric's judge, as Kayenta's canary config writes it:
 * `{ metrics: [{ name, group?, baseline, canary, direction?, nanStrategy?,
 * outliers?, critical?, mustHaveData?, effectSize?: { allowedIncrease,
 * allowedDecrease } }], groups?: { name: weight }, scoreThresholds?:
 * { pass, marginal }, confidence?: 0.98, tolerance?: 0.25 }`.
 */
function normalizeCanary(canary, field) {
  object(canary, field, "{ metrics: [{ name, baseline, canary }], scoreThresholds: { pass: 95, marginal: 75 } }");
  // The engine's own form (as rolloutInfo answers it) goes back as it is.
  if (Array.isArray(canary.metrics) && typeof canary.metrics[0]?.baseline === "string") return canary;
  onlyKnown(canary, CANARY_FIELDS, field);
  const thresholds = canary.scoreThresholds ?? {};
  const out = {
    metrics: list(canary.metrics, `${field}.metrics`).map((m, i) => {
      const at = `${field}.metrics[${i}]`;
      object(m, at, '{ name: "p99", baseline: { prometheus: {...} }, canary: { prometheus: {...} } }');
      onlyKnown(m, CANARY_METRIC_FIELDS, at);
      const metric = { name: m.name, baseline: providerOf(m.baseline, `${at}.baseline`), canary: providerOf(m.canary, `${at}.canary`) };
      for (const key of ["group", "direction", "nanStrategy"]) if (m[key] !== undefined) metric[key] = m[key];
      for (const key of ["critical", "mustHaveData"]) if (m[key] !== undefined) metric[key] = m[key] === true;
      if (m.outliers !== undefined) {
        if (m.outliers !== "remove" && m.outliers !== "keep") throw invalid(`${at}.outliers`, m.outliers, 'is "remove" or "keep"');
        metric.removeOutliers = m.outliers === "remove";
      }
      const effect = m.effectSize ?? {};
      if (effect.allowedIncrease !== undefined) metric.allowedIncrease = percent(effect.allowedIncrease, `${at}.effectSize.allowedIncrease`, 100, 100_000);
      if (effect.allowedDecrease !== undefined) metric.allowedDecrease = percent(effect.allowedDecrease, `${at}.effectSize.allowedDecrease`, 1, 100);
      return metric;
    }),
    groups: Object.entries(canary.groups ?? {}).map(([name, weight]) => ({ name, weight: integer(weight, `${field}.groups.${name}`) })),
  };
  const pass = thresholds.pass ?? canary.pass;
  const marginal = thresholds.marginal ?? canary.marginal;
  if (pass !== undefined) out.pass = integer(pass, `${field}.scoreThresholds.pass`);
  if (marginal !== undefined) out.marginal = integer(marginal, `${field}.scoreThresholds.marginal`);
  if (canary.confidence !== undefined) out.confidence = percent(canary.confidence, `${field}.confidence`, 50, 99);
  if (canary.tolerance !== undefined) out.tolerance = percent(canary.tolerance, `${field}.tolerance`, 0, 100);
  return out;
}

/** Rollout options with every template in the engine's form. */
export function normalizeOptions(options) {
  if (options === null || typeof options !== "object" || Array.isArray(options)) return options;
  const out = { ...options };
  if (options.analysis !== undefined && options.analysis !== null) out.analysis = normalizeAnalysis(options.analysis, "analysis");
  if (Array.isArray(options.steps)) {
    out.steps = options.steps.map((step, i) =>
      step !== null && typeof step === "object" && !Array.isArray(step) && step.analysis !== undefined && step.analysis !== null
        ? { ...step, analysis: normalizeAnalysis(step.analysis, `steps[${i}].analysis`) }
        : step,
    );
  }
  return out;
}

/**
 * Every address a template in `options` (the engine's form, as
 * `normalizeOptions` makes it) has the engine call: `[field, url]` pairs,
 * for a server that limits the hosts it calls.
 */
export function providerUrls(options) {
  const urls = [];
  const templates = [["analysis", options?.analysis], ...(Array.isArray(options?.steps) ? options.steps.map((s, i) => [`steps[${i}].analysis`, s?.analysis]) : [])];
  for (const [field, template] of templates) {
    if (template === null || typeof template !== "object" || !Array.isArray(template.metrics)) continue;
    template.metrics.forEach((metric, i) => {
      const providers = [[`${field}.metrics[${i}].provider`, metric?.provider]];
      for (const [j, m] of (Array.isArray(metric?.canary?.metrics) ? metric.canary.metrics : []).entries()) {
        providers.push([`${field}.metrics[${i}].canary.metrics[${j}].baseline`, m?.baseline], [`${field}.metrics[${i}].canary.metrics[${j}].canary`, m?.canary]);
      }
      for (const [at, text] of providers) {
        if (typeof text !== "string" || text === "") continue;
        let provider;
        try {
          provider = JSON.parse(text);
        } catch {
          continue; // the engine's own check says so
        }
        if (typeof provider?.prometheus?.address === "string") urls.push([`${at}.prometheus.address`, provider.prometheus.address]);
        if (typeof provider?.web?.url === "string") urls.push([`${at}.web.url`, provider.web.url]);
      }
    });
  }
  return urls;
}
