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

/** A `ClientState`'s fields as Go's encoder writes them (its decoder takes any case). */
const CLIENT_STATE = new Set(["name", "group", "tags", "version", "message", "isError"]);

/** Whether `item` is an object with no field but a `ClientState`'s, spelled as Go writes them. */
function plain(item) {
  if (item === null || typeof item !== "object" || Array.isArray(item)) return false;
  for (const key in item) if (!CLIENT_STATE.has(key)) return false;
  return true;
}

/**
 * A report: the Go engine's `[]ClientState`, in columns (`ReportColumns`,
 * for `orchestrateColumns`), plus `tagsText`: each target's tags as it sent
 * them, for the answer. Targets with equal tags share one (frozen) array
 * of them, which the engine's packer reads once.
 */
export function columnsFromGo(body) {
  if (!Array.isArray(body)) throw invalid("the body must be a JSON array of targets ({ name, group, tags, version, message, isError })");
  const split = new Map();
  const tagsOf = (text) => {
    let tags = split.get(text);
    if (tags === undefined) split.set(text, (tags = Object.freeze(text.split(","))));
    return tags;
  };
  const n = body.length;
  const columns = { names: new Array(n), groups: new Array(n), versions: new Array(n), messages: new Array(n), isError: new Uint8Array(n), tags: new Array(n) };
  const tagsText = new Array(n);
  for (let i = 0; i < n; i++) {
    const item = body[i];
    // Fields as Go writes them are read as they are; any other spelling is folded to lower case first.
    const t = plain(item) ? item : fold(item, `target ${i}`);
    const folded = t !== item;
    const rawTags = folded ? t.tags : item.tags;
    const tags = Array.isArray(rawTags) ? tagList(rawTags, i) : string(rawTags, `target ${i}: tags`);
    const isError = (folded ? t.iserror : item.isError) ?? false;
    if (typeof isError !== "boolean") throw invalid(`target ${i}: isError must be true or false`);
    columns.names[i] = string(t.name, `target ${i}: name`);
    columns.groups[i] = string(t.group, `target ${i}: group`);
    columns.versions[i] = string(t.version, `target ${i}: version`);
    columns.messages[i] = string(t.message, `target ${i}: message`);
    columns.isError[i] = isError ? 1 : 0;
    // No tags is null, not []: such a report takes the engine's fast path.
    columns.tags[i] = Array.isArray(tags) ? (tags.length === 0 ? null : tags) : tags === "" ? null : tagsOf(tags);
    tagsText[i] = Array.isArray(tags) ? tags.join(",") : tags;
  }
  return { columns, tagsText };
}

/** A report: the Go engine's `[]ClientState`, as this package's report objects. */
export function reportsFromGo(body) {
  return reportRows(columnsFromGo(body).columns);
}

/** A report in columns as this package's report objects. */
export function reportRows(columns) {
  return columns.names.map((name, i) => ({
    name,
    group: columns.groups[i],
    tags: columns.tags[i],
    version: columns.versions[i],
    message: columns.messages[i],
    isError: columns.isError[i] === 1,
  }));
}

/**
 * Whether the engine's columns can carry every target's tags (a tag
 * holding U+001F, or one empty tag alone, takes the report's objects).
 */
export function columnsCarryTags({ columns }) {
  return columns.tags.every((tags) => tags === null || ((tags.length !== 1 || tags[0] !== "") && !tags.some((tag) => tag.includes("\u001f"))));
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

/**
 * The answer to a report in columns (`AnswerColumns`) as the Go engine
 * writes it: its targets as reported, tags included, with the version each
 * should run, then (unless `reportedOnly`) the entity's targets the report
 * did not name (without tags).
 */
export function answerToGo(answer, { columns, tagsText }, { reportedOnly = false } = {}) {
  const { version, versionTable, message, messageTable, isError } = answer;
  const others = reportedOnly ? [] : answer.others;
  const n = columns.names.length;
  const out = new Array(n + others.length);
  for (let i = 0; i < n; i++) {
    out[i] = {
      name: columns.names[i],
      group: columns.groups[i],
      tags: tagsText[i],
      version: versionTable[version[i]],
      message: messageTable[message[i]],
      isError: isError[i] === 1,
    };
  }
  for (let i = 0; i < others.length; i++) out[n + i] = clientState(others[i]);
  return out;
}

/**
 * The answer to a report as this package's objects (every target of the
 * entity), as the Go engine writes it (see `answerToGo`); with
 * `reportedOnly`, the reported targets alone. A row is matched to its
 * report by name, then group: a name may hold any character, and two
 * groups may each have it.
 */
export function rowsToGo(answer, { columns, tagsText }, { reportedOnly = false } = {}) {
  const reported = new Map();
  columns.names.forEach((name, i) => {
    const byGroup = reported.get(name) ?? reported.set(name, new Map()).get(name);
    byGroup.set(columns.groups[i], tagsText[i]);
  });
  const rows = reportedOnly ? answer.filter((t) => reported.get(t.name)?.has(t.group)) : answer;
  return rows.map((t) => ({ ...clientState(t), tags: reported.get(t.name)?.get(t.group) ?? "" }));
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
