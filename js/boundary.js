// The engine's side of the JS boundary, bundled by wasm-bindgen as a
// snippet of every build (scripts/build.sh turns it into CommonJS for the
// nodejs one). Crossing into wasm once per field of every target is what a
// large report used to cost; these helpers cross once per report instead:
// JS reads the fields (which V8 does fast), the strings travel as one
// string with their lengths, and the answer comes back the same way.

/**
 * A report as `[text, lengths, errors]`: every target's name, group,
 * version and message concatenated, their lengths in UTF-16 code units (4
 * per target), and the error flags. `undefined` when any target is not
 * plainly well-formed (or has tags): the engine then converts the report
 * field by field, which also finds the exact error to throw.
 */
function packReports(reports) {
  if (!Array.isArray(reports)) return undefined;
  const n = reports.length;
  const lengths = new Uint32Array(n * 4);
  const errors = new Uint8Array(n);
  const parts = new Array(n * 4);
  for (let i = 0, j = 0; i < n; i++, j += 4) {
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
    parts[j] = name;
    parts[j + 1] = g;
    parts[j + 2] = version;
    parts[j + 3] = m;
    lengths[j] = name.length;
    lengths[j + 1] = g.length;
    lengths[j + 2] = version.length;
    lengths[j + 3] = m.length;
  }
  return [parts.join(""), lengths, errors];
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

export { packReports, unpackAnswer };
