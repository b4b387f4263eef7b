// Freeze windows and one-off freezes as people write them, and as the
// engine takes them. People write days by name, times of day as "HH:MM"
// and instants as ISO strings, Dates or ms; the engine takes days as a bit
// set (bit 0 Monday to bit 6 Sunday), times of day in minutes and instants
// in ms. The engine checks the rest (names, limits, zones) and words those
// errors.
import { describe, orchestratorError } from "./errors.mjs";

const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const DAY_NAMES = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
const DAY_SETS = { daily: 0x7f, weekdays: 0x1f, weekends: 0x60 };
const TIME = /^([01]\d|2[0-4]):([0-5]\d)$/;

function invalid(field, value, expected) {
  return orchestratorError("INVALID_ARGUMENT", `invalid ${field}: must be ${expected}, got ${describe(value)}`);
}

function days(field, value) {
  if (typeof value === "string" && Object.hasOwn(DAY_SETS, value.toLowerCase())) return DAY_SETS[value.toLowerCase()];
  const list = typeof value === "string" ? [value] : value;
  const expected = 'days of the week ("mon" to "sun", or a list of them) or "daily", "weekdays", "weekends"';
  if (!Array.isArray(list) || list.length === 0) throw invalid(field, value, expected);
  let bits = 0;
  for (const day of list) {
    const name = typeof day === "string" ? day.toLowerCase() : "";
    const i = Math.max(DAYS.indexOf(name), DAY_NAMES.indexOf(name));
    if (i < 0) throw invalid(field, value, expected);
    bits |= 1 << i;
  }
  return bits;
}

function minutes(field, value) {
  const match = typeof value === "string" ? TIME.exec(value) : null;
  const total = match ? Number(match[1]) * 60 + Number(match[2]) : -1;
  if (total < 0 || total > 1440) throw invalid(field, value, 'a time of day "HH:MM" from "00:00" to "24:00"');
  return total;
}

function instant(field, value) {
  const ms = value instanceof Date ? value.getTime() : typeof value === "string" ? Date.parse(value) : value;
  if (typeof ms !== "number" || !Number.isSafeInteger(ms)) {
    throw invalid(field, value, "a time: ms since the Unix epoch, a Date, or an ISO string (2026-12-24T00:00Z)");
  }
  return ms;
}

function list(field, value) {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw invalid(field, value, "an array");
  return value;
}

/**
 * `freezes` as the engine takes them. `null`/`undefined` is none (it
 * removes those set).
 */
export function normalizeFreezes(freezes) {
  if (freezes === undefined || freezes === null) return { windows: [], freezes: [] };
  if (typeof freezes !== "object" || Array.isArray(freezes)) throw invalid("freezes", freezes, "an object { windows, freezes }");
  for (const key of Object.keys(freezes)) {
    if (key !== "windows" && key !== "freezes") throw invalid(`freezes.${key}`, freezes[key], 'absent: a freezes object has "windows" and "freezes"');
  }
  const item = (field, value) => {
    if (typeof value !== "object" || value === null || Array.isArray(value)) throw invalid(field, value, "an object");
    return value;
  };
  return {
    windows: list("freezes.windows", freezes.windows).map((w, i) => {
      const at = `freezes.windows[${i}]`;
      item(at, w);
      return {
        name: w.name,
        days: days(`${at}.days`, w.days),
        start: minutes(`${at}.start`, w.start),
        end: minutes(`${at}.end`, w.end),
        zone: w.zone ?? "UTC",
      };
    }),
    freezes: list("freezes.freezes", freezes.freezes).map((f, i) => {
      const at = `freezes.freezes[${i}]`;
      item(at, f);
      return { name: f.name, from: instant(`${at}.from`, f.from), until: instant(`${at}.until`, f.until) };
    }),
  };
}

const hhmm = (m) => `${String(Math.floor(m / 60)).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}`;

/** The engine's freezes as people write them (instants stay ms). */
export function readableFreezes({ windows, freezes }) {
  return {
    windows: windows.map((w) => ({
      name: w.name,
      days: DAYS.filter((_, i) => w.days & (1 << i)),
      start: hhmm(w.start),
      end: hhmm(w.end),
      zone: w.zone,
    })),
    freezes: freezes.map((f) => ({ name: f.name, from: f.from, until: f.until })),
  };
}

/** Adds the conversions to `Orchestrator`'s `setFreezes` and `freezes`. */
export function withFreezes(Orchestrator) {
  const proto = Orchestrator.prototype;
  const set = proto.setFreezes;
  proto.setFreezes = function (namespace, entity, freezes) {
    return set.call(this, namespace, entity ?? null, normalizeFreezes(freezes));
  };
  const get = proto.freezes;
  proto.freezes = function (namespace, entity) {
    return readableFreezes(get.call(this, namespace, entity ?? null));
  };
}
