// How a rollout reads to a person: outcomes, durations, counts, the
// log's sentences about groups of targets, and a real entity's state in a
// word (the simulators, the dashboard and the terminal's `get` alike).

/** How many targets a log sentence names before "and N more". */
export const SAMPLE_NAMES = 4;

/** How each outcome reads in a sentence ("v2 rolled back"). */
export const OUTCOME_TEXT = Object.freeze({
  rolled_out: "rolled out",
  rolled_back: "rolled back",
  returned: "returned to by rollbackTo",
  halted: "halted",
  unsettled: "did not settle",
});

/**
 * Targets in flight (moving to the version rolled out: what the batch
 * bounds), rolling back (sent back from a bad version: what the rollback
 * pace bounds) and failed, from reason counts (a summary's `reasons`).
 */
export function tally(reasons) {
  let failed = 0;
  for (const [reason, n] of Object.entries(reasons)) if (reason.startsWith("failed_")) failed += n;
  return { inFlight: reasons.in_flight ?? 0, rollingBack: reasons.rolled_back ?? 0, failed };
}

/** "1h 02m 05s" for a number of seconds. */
export function formatDuration(secs) {
  const s = Math.round(secs);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  const pad = (n) => String(n).padStart(2, "0");
  if (h > 0) return `${h}h ${pad(m)}m ${pad(r)}s`;
  if (m > 0) return `${m}m ${pad(r)}s`;
  return `${r}s`;
}

/** Up to SAMPLE_NAMES of `list` (of `total`), then how many more. */
export function names(list, total) {
  const shown = list.slice(0, SAMPLE_NAMES).join(", ");
  return total > SAMPLE_NAMES ? `${shown} and ${total - SAMPLE_NAMES} more` : shown;
}

/** "1 target", "2,000 targets". */
export const plural = (n, word) => `${n.toLocaleString("en-US")} ${word}${n === 1 ? "" : "s"}`;

// How one group of same-kind changes in the engine's answer reads in the log.
export function describe(reason, version, count) {
  const targets = plural(count, "target");
  switch (reason) {
    case "in_flight": return `${targets} assigned ${version}`;
    case "succeeded": return `${targets} succeeded on ${version}`;
    case "failed_unhealthy": return `${targets} failed on ${version}: reporting errors`;
    case "failed_deadline": return `${targets} failed on ${version}: not healthy in time`;
    case "failed_monitor": return `${targets} failed on ${version}: rejected by the monitor`;
    case "rolled_back": return `${targets} sent back to ${version}`;
    case "waiting": return `${targets} waiting for a slot (on ${version})`;
    case "halted": return `${targets} halted on ${version}`;
    default: return `${targets} now ${reason.replaceAll("_", " ")} on ${version}`;
  }
}

/** What each operator did to a rollout (its `actions`), in words: "set by alice · approved by bob". The page and the terminal say it alike. */
export function actionsText(actions, separator = " · ") {
  const did = { version_set: "set", rollback_started: "rolled back" };
  return actions.map((a) => `${did[a.kind] ?? a.kind.replaceAll("_", " ")} by ${a.by}`).join(separator);
}

/**
 * A rollout's state in a word, from the engine's own phase (rolloutInfo's
 * `phase`), so that every view says the same. `info`: the entity's
 * rolloutInfo. A rollback goes on while paused (it is never held); a
 * rollout says what holds it.
 */
export function stateOf(info) {
  switch (info.phase) {
    case "halted":
      return "halted";
    case "rolling_back":
      return "rolling back";
    case "rolled_back":
      return "rolled back";
  }
  if (info.paused) return "paused";
  if (info.awaitingApproval) return "awaiting approval";
  if (info.frozen && info.phase === "rolling_out") return "frozen";
  return { new: "new", rolling_out: "rolling", watching: "watching" }[info.phase] ?? "rolled out";
}

/**
 * The targets in words, every one counted once: `n` targets, `counts` by
 * reason (as expectedState answers), `threshold` failures making the
 * version bad. The entity page and the terminal's `get` say it alike.
 */
export function countsText(n, counts, threshold) {
  const fmt = (k) => k.toLocaleString("en-US");
  const { failed } = tally(counts);
  const others = [
    ["rolled_back", "on their way back"],
    ["waiting", "waiting"],
    ["awaiting_approval", "awaiting approval"],
    ["held_paused", "held by the pause"],
    ["held_frozen", "held by a freeze"],
    ["held_back", "held back"],
    ["halted", "halted"],
  ]
    .filter(([reason]) => counts[reason])
    .map(([reason, words]) => `, ${fmt(counts[reason])} ${words}`)
    .join("");
  return `${fmt(n)} targets: ${fmt(counts.in_flight ?? 0)} in flight, ${fmt(counts.succeeded ?? 0)} succeeded, ${fmt(failed)} failed (the version is bad at ${fmt(threshold)})${others}`;
}

/** Why a control changed nothing (the API answered `changed: false`), by control: the page and the terminal say it alike. */
export const UNCHANGED = Object.freeze({
  pause: "the rollout was already paused",
  resume: "the rollout was not paused",
  approve: "no step is waiting for approval",
  promote: "no step is baking, holding or waiting to be promoted past",
  retry: "the version is not one judged bad",
  abort: "there is no rollout under way to abort",
});
