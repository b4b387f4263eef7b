// The Go engine's JSON (nixmade/orchestrator), read as its decoder reads
// it and written as its encoder writes it:
//
// - field names on input match case-insensitively (Go's encoding/json
//   does), so `batchPercent` and `batchpercent` are one field;
// - a field the body leaves out is zero (its client's `omitempty` leaves
//   zero values out: `{"batchpercent":100}` means success percent 0);
// - targets are its `ClientState`: `{ name, group, tags, version, message,
//   isError }` with `tags` one comma-joined string (a report may also send
//   this package's array of strings).

import { orchestratorError } from "../errors.mjs";

/** The Go engine's names of the rollout options, as this package names them. */
const OPTIONS = {
  batchpercent: "batchPercent",
  successpercent: "successPercent",
  successtimeoutsecs: "successTimeoutSecs",
  durationtimeoutsecs: "durationTimeoutSecs",
};

/**
 * `value`'s fields keyed by their lower-case names; unknown fields are
 * ignored, as Go's decoder ignores them (`__proto__` included: in a plain
 * object it would become the prototype, and its fields would read as the
 * body's).
 */
function fold(value, what) {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw invalid(`${what} must be a JSON object`);
  }
  const out = Object.create(null);
  for (const [key, field] of Object.entries(value)) {
    if (key.toLowerCase() !== "__proto__") out[key.toLowerCase()] = field;
  }
  return out;
}

function string(value, what) {
  if (value === undefined || value === null) return "";
  if (typeof value !== "string") throw invalid(`${what} must be a string`);
  return value;
}

/** A report: the Go engine's `[]ClientState`, as this package's reports. */
export function reportsFromGo(body) {
  if (!Array.isArray(body)) throw invalid("the body must be a JSON array of targets ({ name, group, tags, version, message, isError })");
  return body.map((item, i) => {
    const t = fold(item, `target ${i}`);
    const tags = Array.isArray(t.tags) ? tagList(t.tags, i) : string(t.tags, `target ${i}: tags`);
    const isError = t.iserror ?? false;
    if (typeof isError !== "boolean") throw invalid(`target ${i}: isError must be true or false`);
    return {
      name: string(t.name, `target ${i}: name`),
      group: string(t.group, `target ${i}: group`),
      // No tags is null, not []: such a report takes the engine's fast path.
      tags: Array.isArray(tags) ? (tags.length === 0 ? null : tags) : tags === "" ? null : tags.split(","),
      version: string(t.version, `target ${i}: version`),
      message: string(t.message, `target ${i}: message`),
      isError,
    };
  });
}

/** Tags sent as this package's array (each a string without a comma, which the Go form could not carry). */
function tagList(tags, i) {
  for (const tag of tags) {
    if (typeof tag !== "string") throw invalid(`target ${i}: tags must be a comma-joined string or an array of strings`);
    if (tag.includes(",")) throw invalid(`target ${i}: tag ${JSON.stringify(tag)} holds a comma, which the Go engine's comma-joined tags cannot carry`);
  }
  return tags;
}

/** A target of this package (report, answer or expected state) as the Go engine's `ClientState`. */
export function clientState(t) {
  return {
    name: t.name,
    group: t.group ?? "",
    tags: (t.tags ?? []).join(","),
    version: t.version ?? "",
    message: t.message ?? "",
    isError: t.isError ?? false,
  };
}

/** This package's options that the Go engine lacks, by their lower-case names: no Go client sends them. */
const OURS_ONLY = ["errorTimeoutSecs", "steps", "maxFailures", "maxConsecutiveFailures", "watchSecs", "rollbackBatchPercent", "maxEvents"];

/**
 * Rollout options as the Go engine reads them: a field left out is zero.
 * A body that names this package's own options was meant for `PUT
 * .../options` (by name, defaults for what it leaves out): read as Go's, it
 * would drop them and zero the timeouts, making every version good at once.
 */
export function optionsFromGo(body) {
  const o = fold(body, "the options");
  const ours = OURS_ONLY.filter((name) => name.toLowerCase() in o);
  if (ours.length > 0) {
    throw orchestratorError(
      "INVALID_OPTIONS",
      `${ours.join(", ")} ${ours.length === 1 ? "is an option" : "are options"} of this package, not of the Go engine, whose POST .../options reads a field left out as 0 (successTimeoutSecs 0 makes every version good at once): send these options with PUT .../options, which takes this package's names and defaults for what the body leaves out`,
    );
  }
  const options = {};
  for (const [go, ours] of Object.entries(OPTIONS)) {
    const value = o[go] ?? 0;
    if (!Number.isInteger(value) || value < 0) throw invalid(`${go} must be a whole number, 0 or more`);
    options[ours] = value;
  }
  return options;
}

/** Rollout options as the Go engine writes them. */
export function optionsToGo(options) {
  return Object.fromEntries(Object.entries(OPTIONS).map(([go, ours]) => [go, options[ours] ?? 0]));
}

/** `{ "version": "v2" }`, any case. */
export function versionFromGo(body) {
  const version = string(fold(body, "the body").version, "version");
  return version;
}

/** A Go `EntityWebTargetController` or `EntityWebMonitoringController`: URLs by the Go engine's names, plus this package's `headers` and `timeoutMs`. */
export function controllerFromGo(body, names) {
  const c = fold(body, "the controller");
  const controller = {};
  for (const name of [...names, "headers", "timeoutms"]) {
    if (c[name] === undefined || c[name] === null || c[name] === "") continue;
    controller[name === "timeoutms" ? "timeoutMs" : name] = c[name];
  }
  return controller;
}

/** The Go engine's rollout info. */
export function rolloutToGo(info) {
  return {
    targetversion: info.targetVersion,
    rollingversion: info.rollingVersion,
    lastknowngoodversion: info.lastKnownGoodVersion,
    lastknownbadversion: info.lastKnownBadVersion,
    options: optionsToGo(info.options),
  };
}

const invalid = (message) => orchestratorError("INVALID_ARGUMENT", message);
