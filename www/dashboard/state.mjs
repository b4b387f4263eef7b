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

/** A badge (`<span class="badge">`) saying `state`. */
export function badge(state, element = document.createElement("span")) {
  element.className = "badge";
  element.dataset.state = state;
  element.textContent = state;
  return element;
}
