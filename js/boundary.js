// The engine's side of the JS boundary, bundled by wasm-bindgen as a
// snippet of every build (scripts/build.sh turns it into CommonJS for the
// nodejs one). Crossing into wasm once per field of every target is what a
// large report used to cost; these helpers cross once per report instead:
// JS reads the fields (which V8 does fast), the strings travel as one
// UTF-8 buffer per field with their lengths, and the answer comes back as
// one string and tables.

const encoder = new TextEncoder();

/**
 * A report as `[names, groups, versions, messages, errors]`. Names are
 * `[utf8, lengths]`: every name concatenated and encoded as UTF-8 (one
 * native call: far faster than handing wasm-bindgen a string it copies a
 * character at a time) and their lengths in UTF-16 code units. The other
 * fields repeat across a fleet, so each is a table of its distinct values
 * (`[utf8, lengths]` as for names) and `index`, a Uint32Array giving each
 * target's entry. `errors` is a Uint8Array of flags.
 */
function packed(names, nameLengths, fields, errors) {
  const n = names.length;
  return [[encoder.encode(names.join("")), nameLengths], ...fields.map((values) => table(values, n)), errors];
}

/** `[utf8, lengths, index]` of one field (all "" when `values` is null). */
function table(values, n) {
  const index = new Uint32Array(n);
  const distinct = [""];
  if (values !== null) {
    const seen = new Map([["", 0]]);
    let last = "";
    let lastAt = 0;
    for (let i = 0; i < n; i++) {
      const value = values[i];
      // Runs of one value (one version, one message) skip the map.
      if (value !== last) {
        last = value;
        lastAt = seen.get(value);
        if (lastAt === undefined) {
          lastAt = distinct.length;
          seen.set(value, lastAt);
          distinct.push(value);
        }
      }
      index[i] = lastAt;
    }
  }
  return [encoder.encode(distinct.join("")), Uint32Array.from(distinct, (s) => s.length), index];
}

/**
 * A report of objects packed (see `packed`). `undefined` when any target is
 * not plainly well-formed (or has tags): the engine then converts the
 * report field by field, which also finds the exact error to throw.
 */
function packReports(reports) {
  if (!Array.isArray(reports)) return undefined;
  const n = reports.length;
  const [names, groups, versions, messages] = [new Array(n), new Array(n), new Array(n), new Array(n)];
  const nameLengths = new Uint32Array(n);
  const errors = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const report = reports[i];
    if (typeof report !== "object" || report === null || Array.isArray(report)) return undefined;
    const { name, group, version, message, isError, tags } = report;
    if (typeof name !== "string" || typeof version !== "string") return undefined;
    if (tags !== undefined && tags !== null) return undefined;
    const g = group === undefined || group === null ? "" : group;
    const m = message === undefined || message === null ? "" : message;
    if (typeof g !== "string" || typeof m !== "string") return undefined;
    if (isError === true) errors[i] = 1;
    else if (isError !== false && isError !== undefined && isError !== null) return undefined;
    names[i] = name;
    nameLengths[i] = name.length;
    groups[i] = g;
    versions[i] = version;
    messages[i] = m;
  }
  return packed(names, nameLengths, [groups, versions, messages], errors);
}

/**
 * The answer as objects: `text` holds every row's name and group, with
 * their lengths in `lengths` (2 per row); versions, messages and reasons
 * are tables indexed per row.
 */
function unpackAnswer(text, lengths, versions, versionOf, messages, messageOf, reasons, failed, reasonOf) {
  const n = reasonOf.length;
  const answer = new Array(n);
  for (let i = 0, at = 0; i < n; i++) {
    const name = text.slice(at, (at += lengths[2 * i]));
    const group = text.slice(at, (at += lengths[2 * i + 1]));
    const reason = reasonOf[i];
    answer[i] = {
      name,
      group,
      version: versions[versionOf[i]],
      message: messages[messageOf[i]],
      isError: failed[reason] === 1,
      reason: reasons[reason],
    };
  }
  return answer;
}

/**
 * A report in columns (`{ names, versions, groups?, messages?, errors? }`)
 * packed like `packReports` does. A column that is not what it should be
 * comes back as `["argument", reason]`, a value that is not a string as
 * `["target", index, reason]`: the engine words the error.
 */
function packColumns(columns) {
  if (typeof columns !== "object" || columns === null || Array.isArray(columns)) {
    return ["argument", `must be an object like { names, versions }, got ${describe(columns)}`];
  }
  const { names, versions, groups, messages, errors } = columns;
  if (!Array.isArray(names)) return ["argument", `names must be an array of strings, got ${describe(names)}`];
  const n = names.length;
  const column = (value, field, kind) => {
    if (value === undefined || value === null) return null;
    const ok = kind === "flags" ? Array.isArray(value) || ArrayBuffer.isView(value) : Array.isArray(value);
    if (!ok) return `${field} must be ${kind === "flags" ? "an array or typed array of flags" : "an array of strings"}, got ${describe(value)}`;
    if (value.length !== n) return `${field} has ${value.length} entries; names has ${n}: one per target`;
    return null;
  };
  if (!Array.isArray(versions)) return ["argument", `versions must be an array of strings, got ${describe(versions)}`];
  for (const [value, field, kind] of [[versions, "versions"], [groups, "groups"], [messages, "messages"], [errors, "errors", "flags"]]) {
    const problem = column(value, field, kind);
    if (problem !== null) return ["argument", problem];
  }
  const none = (column) => (column === undefined || column === null ? null : column);
  const [g, m, e] = [none(groups), none(messages), none(errors)];
  const nameLengths = new Uint32Array(n);
  const flags = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const name = names[i];
    if (typeof name !== "string") return ["target", i, `name must be a string, got ${describe(name)}`];
    if (typeof versions[i] !== "string") return ["target", i, `version must be a string, got ${describe(versions[i])}`];
    if (g !== null && typeof g[i] !== "string") return ["target", i, `group must be a string, got ${describe(g[i])}`];
    if (m !== null && typeof m[i] !== "string") return ["target", i, `message must be a string, got ${describe(m[i])}`];
    nameLengths[i] = name.length;
    if (e !== null) {
      const flag = e[i];
      if (flag === true || flag === 1) flags[i] = 1;
      else if (flag !== false && flag !== 0) return ["target", i, `errors[${i}] must be a boolean or 0/1, got ${describe(flag)}`];
    }
  }
  return packed(names, nameLengths, [g, versions, m], flags);
}

function describe(value) {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === "object") return ArrayBuffer.isView(value) ? value.constructor.name : "an object";
  return String(value);
}

/** The answer in columns: see `AnswerColumns` in the package's types. */
function answerColumns(versions, version, messages, message, reasons, reason, isError, others) {
  return { version, versions, message, messages, reason, reasons, isError, others };
}

export { packReports, unpackAnswer, packColumns, answerColumns };
