// What a rollout is doing, in a word or two, as the overview and the
// entity view both say it: from the engine's own phase (rolloutInfo's
// `phase`), so that the two never disagree.

/**
 * `info`: the entity's rolloutInfo. A rollback goes on while paused (it is
 * never held); a rollout says what holds it.
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
  return { new: "new", rolling_out: "rolling", watching: "watching" }[info.phase] ?? "rolled out";
}

/**
 * The targets in words, every one counted once: `n` targets, `counts` by
 * reason (as expectedState answers), `threshold` failures making the
 * version bad. The entity page and the terminal's `get` say it alike.
 */
export function countsText(n, counts, threshold) {
  const fmt = (k) => k.toLocaleString("en-US");
  const failed = Object.entries(counts).reduce((sum, [reason, k]) => sum + (reason.startsWith("failed") ? k : 0), 0);
  const others = [
    ["rolled_back", "on their way back"],
    ["waiting", "waiting"],
    ["awaiting_approval", "awaiting approval"],
    ["held_paused", "held by the pause"],
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

/** A badge (`<span class="badge">`) saying `state`. */
export function badge(state, element = document.createElement("span")) {
  element.className = "badge";
  element.dataset.state = state;
  element.textContent = state;
  return element;
}
