// What a rollout is doing, in a word or two, as the overview and the
// entity view both say it.

/**
 * `info`: the entity's rolloutInfo; `rollingBack`: whether a target is
 * still being sent back from the bad version. A bad version with nothing
 * known good to return to has halted its targets.
 */
export function stateOf(info, rollingBack) {
  if (info.lastKnownBadVersion && info.rollingVersion === info.lastKnownBadVersion) {
    if (!info.lastKnownGoodVersion) return "halted";
    return rollingBack ? "rolling back" : "rolled back";
  }
  if (info.paused) return "paused";
  if (info.awaitingApproval) return "awaiting approval";
  if (info.rollingVersion && info.rollingVersion !== info.lastKnownGoodVersion) return "rolling";
  return info.lastKnownGoodVersion ? "rolled out" : "new";
}

/** Whether the entity's info says it is on a bad version (a rollback may be under way). */
export const onBadVersion = (info) => Boolean(info.lastKnownBadVersion) && info.rollingVersion === info.lastKnownBadVersion;

/** A badge (`<span class="badge">`) saying `state`. */
export function badge(state, element = document.createElement("span")) {
  element.className = "badge";
  element.dataset.state = state;
  element.textContent = state;
  return element;
}
