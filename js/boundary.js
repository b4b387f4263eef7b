// The engine's side of the JS boundary, bundled by wasm-bindgen as a
// snippet of every build (scripts/build.sh turns it into CommonJS for the
// nodejs one). Crossing into wasm once per field of every target is what a
// large report used to cost; these helpers cross once per report instead:
// JS reads the fields (which V8 does fast), names travel as UTF-8 bytes
// with their lengths and the other fields as tables of distinct values,
// and the answer comes back as tables, naming reported targets with the
// report's own strings.

const encoder = new TextEncoder();

// Scratch arrays reused from call to call: the engine copies everything
// packed into wasm memory before its step runs, so the next call may
// overwrite them. A fleet of a million targets would otherwise leave some
// 40 MB of garbage per call, and the collections it brings (each marking
// the caller's whole heap) grow faster than the fleet. They keep the size
// of the largest report packed so far.
const scratch = { bytes: new Uint8Array(0), lengths: new Uint32Array(0), flags: new Uint8Array(0), index: [0, 1, 2, 3].map(() => new Uint32Array(0)) };

/** Joins a target's tags in a packed table: a character no tag may hold there. */
const TAG_SEPARATOR = "\u001f";

/** `array` if it holds `n`, else a larger one of its kind. */
function fit(array, n) {
  return array.length >= n ? array : new array.constructor(Math.max(n, Math.min(2 * array.length, n + (n >>> 1))));
}

/** The scratch name lengths and error flags for `n` targets (flags zeroed). */
function lengthsAndFlags(n) {
  scratch.lengths = fit(scratch.lengths, n);
  scratch.flags = fit(scratch.flags, n);
  scratch.flags.fill(0, 0, n);
  return [scratch.lengths.subarray(0, n), scratch.flags.subarray(0, n)];
}

/**
 * `names` (`units` UTF-16 code units in all) encoded as UTF-8, one after
 * the other. In slices: one string of every name would be as large as
 * the report's names together (a collection's worth of garbage, and slower
 * to build); each slice is joined and written straight into the scratch
 * bytes, which start at a byte per code unit (ASCII names) and grow when
 * other characters need more.
 */
function encodeNames(names, units) {
  const n = names.length;
  scratch.bytes = fit(scratch.bytes, units);
  let at = 0;
  for (let i = 0; i < n; i += 1024) {
    let text = names.slice(i, Math.min(n, i + 1024)).join("");
    for (;;) {
      const { read, written } = encoder.encodeInto(text, scratch.bytes.subarray(at));
      at += written;
      if (read === text.length) break;
      // Full (it never writes part of a character): at most 3 bytes per
      // code unit left in this slice.
      text = text.slice(read);
      const grown = new Uint8Array(Math.max(2 * scratch.bytes.length, at + 3 * text.length));
      grown.set(scratch.bytes.subarray(0, at));
      scratch.bytes = grown;
    }
  }
  return scratch.bytes.subarray(0, at);
}

/**
 * A report as `[names, groups, versions, messages, errors, tags?]`. Names are
 * `[utf8, lengths, strings]`: every name encoded as UTF-8, one after the
 * other, their lengths in UTF-16 code units, and the names themselves (an
 * answer hands them back rather than making new strings). The other fields repeat across a
 * fleet, so each is a table of its distinct values (`[utf8, lengths]` as
 * for names) and `index`, a typed array giving each target's entry.
 * `errors` is a Uint8Array of flags. `tags`, when a target has any, is a
 * table too, each entry a target's tags joined by TAG_SEPARATOR.
 */
function packed(names, nameLengths, units, tables, errors, tags) {
  const text = encodeNames(names, units);
  const fields = [[text, shortLengths(text, units, nameLengths) ?? nameLengths, names], ...tables.map((t) => t.packed()), errors];
  if (tags !== null) fields.push(tags.packed());
  return fields;
}

/**
 * The names' lengths a byte each when every name is ASCII (a byte per code
 * unit: as many bytes as units) and shorter than 256, as fleets name their
 * targets; else `undefined`.
 */
function shortLengths(text, units, lengths) {
  if (text.length !== units) return undefined;
  for (let i = 0; i < lengths.length; i++) if (lengths[i] > 0xff) return undefined;
  return new Uint8Array(lengths);
}

/** One field's table of distinct values, filled target by target. */
class Table {
  constructor(slot, n) {
    scratch.index[slot] = fit(scratch.index[slot], n);
    this.index = scratch.index[slot].subarray(0, n);
    this.distinct = [""];
    this.seen = new Map([["", 0]]);
    this.last = "";
    this.lastAt = 0;
  }

  /** Target `i` has `value`. */
  add(i, value) {
    // Runs of one value (one version, one message) skip the map.
    if (value !== this.last) {
      this.last = value;
      this.lastAt = this.seen.get(value);
      if (this.lastAt === undefined) {
        this.lastAt = this.distinct.length;
        this.seen.set(value, this.lastAt);
        this.distinct.push(value);
      }
    }
    this.index[i] = this.lastAt;
  }

  /**
   * `[utf8, lengths, index]`, the index as narrow as the table allows (a
   * byte per target for up to 256 distinct values).
   */
  packed() {
    const n = this.distinct.length;
    const index = n <= 0x100 ? new Uint8Array(this.index) : n <= 0x10000 ? new Uint16Array(this.index) : this.index;
    return [encoder.encode(this.distinct.join("")), Uint32Array.from(this.distinct, (s) => s.length), index];
  }
}

/**
 * The targets' tags as a table of their distinct lists. Reports of one
 * fleet share a few lists, often the very same arrays (the Go API's reader
 * makes one per distinct comma-joined string): an array seen before is
 * found by identity, without joining it again.
 */
class Tags {
  constructor(n) {
    this.table = emptyTable(3, n);
    this.joined = new Map();
  }

  /**
   * Target `i` has the array `tags`; `false` when the table cannot carry it
   * (not strings, a tag holding the separator, or the one empty tag, which
   * would read as no tags).
   */
  add(i, tags) {
    let key = this.joined.get(tags);
    if (key === undefined) {
      for (const tag of tags) if (typeof tag !== "string" || tag.includes(TAG_SEPARATOR)) return false;
      if (tags.length === 1 && tags[0] === "") return false;
      key = tags.join(TAG_SEPARATOR);
      this.joined.set(tags, key);
    }
    this.table.add(i, key);
    return true;
  }

  packed() {
    return this.table.packed();
  }
}

/** A table of `n` targets that all have "" (a column left out). */
function emptyTable(slot, n) {
  const table = new Table(slot, n);
  table.index.fill(0);
  return table;
}

/**
 * A report of objects packed (see `packed`). `undefined` when any target is
 * not plainly well-formed: the engine then converts the report field by
 * field, which also finds the exact error to throw.
 */
function packReports(reports) {
  if (!Array.isArray(reports)) return undefined;
  const n = reports.length;
  const names = new Array(n);
  const [nameLengths, errors] = lengthsAndFlags(n);
  const [groups, versions, messages] = [0, 1, 2].map((slot) => new Table(slot, n));
  let tagged = null;
  let units = 0;
  for (let i = 0; i < n; i++) {
    const report = reports[i];
    if (typeof report !== "object" || report === null || Array.isArray(report)) return undefined;
    // A field a report does not have (an answer's `reason` is allowed, so
    // an answer can be fed back) takes the slow path, which names it.
    for (const key in report) {
      switch (key) {
        case "name": case "group": case "version": case "message": case "isError": case "reason": case "tags": break;
        default: return undefined;
      }
    }
    const { name, group, version, message, isError, tags } = report;
    if (typeof name !== "string" || typeof version !== "string") return undefined;
    if (tags !== undefined && tags !== null) {
      if (!Array.isArray(tags)) return undefined;
      if (tags.length > 0) {
        tagged ??= new Tags(n);
        if (!tagged.add(i, tags)) return undefined;
      }
    }
    const g = group === undefined || group === null ? "" : group;
    const m = message === undefined || message === null ? "" : message;
    if (typeof g !== "string" || typeof m !== "string") return undefined;
    if (isError === true) errors[i] = 1;
    else if (isError !== false && isError !== undefined && isError !== null) return undefined;
    names[i] = name;
    nameLengths[i] = name.length;
    units += name.length;
    groups.add(i, g);
    versions.add(i, version);
    messages.add(i, m);
  }
  return packed(names, nameLengths, units, [groups, versions, messages], errors, tagged);
}

/**
 * The answer as objects. A row's name is `names[nameFrom[i]]`, the
 * report's own string, or (`nameFrom[i]` is 0xFFFFFFFF) the next of the
 * names in `text`, whose lengths are in `lengths`; groups, versions,
 * messages and reasons are tables indexed per row.
 */
function unpackAnswer(names, nameFrom, text, lengths, groups, groupOf, versions, versionOf, messages, messageOf, reasons, failed, reasonOf) {
  const n = reasonOf.length;
  const answer = new Array(n);
  for (let i = 0, at = 0, k = 0; i < n; i++) {
    const from = nameFrom[i];
    const reason = reasonOf[i];
    answer[i] = {
      name: from === 0xffffffff ? text.slice(at, (at += lengths[k++])) : names[from],
      group: groups[groupOf[i]],
      version: versions[versionOf[i]],
      message: messages[messageOf[i]],
      isError: failed[reason] === 1,
      reason: reasons[reason],
    };
  }
  return answer;
}

/**
 * A report in columns (`{ names, versions, groups?, messages?, isError?, tags? }`)
 * packed like `packReports` does. A column that is not what it should be
 * comes back as `["argument", reason]`, a value that is not a string as
 * `["target", index, reason, count]`: the engine words the error (`count`:
 * the report's length).
 */
function packColumns(columns) {
  if (typeof columns !== "object" || columns === null || Array.isArray(columns)) {
    return ["argument", `must be an object like { names, versions }, got ${describe(columns)}`];
  }
  for (const key in columns) {
    if (key === "errors") return ["argument", `has a column "errors": the error flags are the column isError, as in a report's objects`];
    if (!["names", "versions", "groups", "messages", "isError", "tags", "others"].includes(key)) {
      return ["argument", `has a column ${JSON.stringify(key)} that a report does not have; the columns are names, versions, groups, messages, isError, tags (and others: false for an answer without the targets not named)`];
    }
  }
  if (columns.others !== undefined && typeof columns.others !== "boolean") {
    return ["argument", `others must be true or false (false: answer the reported targets alone), got ${describe(columns.others)}`];
  }
  const { names, versions, groups, messages, isError: errors, tags } = columns;
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
  for (const [value, field, kind] of [[versions, "versions"], [groups, "groups"], [messages, "messages"], [errors, "isError", "flags"], [tags, "tags"]]) {
    const problem = column(value, field, kind);
    if (problem !== null) return ["argument", problem];
  }
  const none = (column) => (column === undefined || column === null ? null : column);
  const [g, m, e, t] = [none(groups), none(messages), none(errors), none(tags)];
  const tagTable = t === null ? null : new Tags(n);
  const [nameLengths, flags] = lengthsAndFlags(n);
  const groupTable = g === null ? emptyTable(0, n) : new Table(0, n);
  const versionTable = new Table(1, n);
  const messageTable = m === null ? emptyTable(2, n) : new Table(2, n);
  let units = 0;
  for (let i = 0; i < n; i++) {
    const name = names[i];
    if (typeof name !== "string") return ["target", i, `name must be a string, got ${describe(name)}`, names.length];
    const version = versions[i];
    if (typeof version !== "string") return ["target", i, `version must be a string, got ${describe(version)}`, names.length];
    versionTable.add(i, version);
    if (g !== null) {
      if (typeof g[i] !== "string") return ["target", i, `group must be a string, got ${describe(g[i])}`, names.length];
      groupTable.add(i, g[i]);
    }
    if (m !== null) {
      if (typeof m[i] !== "string") return ["target", i, `message must be a string, got ${describe(m[i])}`, names.length];
      messageTable.add(i, m[i]);
    }
    nameLengths[i] = name.length;
    units += name.length;
    if (t !== null && t[i] !== null && t[i] !== undefined) {
      if (!Array.isArray(t[i])) return ["target", i, `tags must be an array of strings or null, got ${describe(t[i])}`, names.length];
      if (t[i].length > 0 && !tagTable.add(i, t[i])) {
        return ["target", i, "tags must be strings, none holding U+001F, and not one empty tag alone (orchestrate takes those)", names.length];
      }
    }
    if (e !== null) {
      const flag = e[i];
      if (flag === true || flag === 1) flags[i] = 1;
      else if (flag !== false && flag !== 0) return ["target", i, `isError must be a boolean or 0/1, got ${describe(flag)}`, names.length];
    }
  }
  return packed(names, nameLengths, units, [groupTable, versionTable, messageTable], flags, tagTable);
}

function describe(value) {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === "object") return ArrayBuffer.isView(value) ? value.constructor.name : "an object";
  return String(value);
}

/** The answer in columns: see `AnswerColumns` in the package's types. */
function answerColumns(versionTable, version, messageTable, message, reasonTable, reason, isError, others) {
  return { version, versionTable, message, messageTable, reason, reasonTable, isError, others };
}

// Time zones for freeze windows: the engine asks for the offset of a named
// zone (Europe/Berlin) at an instant, which only the runtime's Intl knows.
// One formatter per zone, kept (a bounded number of zones).
const zoneFormats = new Map();
const ZONES_KEPT = 256;

/** The offset of `zone` from UTC at `ms`, in minutes; NaN for a zone Intl does not know. */
function zoneOffset(zone, ms) {
  let format = zoneFormats.get(zone);
  if (format === undefined) {
    try {
      format = new Intl.DateTimeFormat("en-US", {
        timeZone: zone,
        hourCycle: "h23",
        year: "numeric",
        month: "numeric",
        day: "numeric",
        hour: "numeric",
        minute: "numeric",
      });
    } catch {
      format = null;
    }
    if (zoneFormats.size < ZONES_KEPT) zoneFormats.set(zone, format);
  }
  if (format === null) return NaN;
  const part = {};
  for (const { type, value } of format.formatToParts(ms)) part[type] = Number(value);
  const local = Date.UTC(part.year, part.month - 1, part.day, part.hour, part.minute);
  return Math.round((local - (ms - (((ms % 60000) + 60000) % 60000))) / 60000);
}

export { packReports, unpackAnswer, packColumns, answerColumns, zoneOffset };
