// What a rollout is doing, in a word or two, as the overview and the
// entity view both say it (the words are the package's: js/simulation/words.mjs,
// copied into www/engine by the build), and its badge.
import { Palette, cellColour } from "../render.mjs";

export { UNCHANGED, actionsText, countsText, stateOf } from "../engine/simulation.mjs";

/** The versions an entity's colours are given to, in order: the one it runs (last known good), then the one it moves to. */
export function paletteVersions(info) {
  const current = info.lastKnownGoodVersion || info.rollingVersion || info.targetVersion || "-";
  return [current, info.rollingVersion || info.targetVersion || current];
}

/** An entity's palette: the same colours for its versions on the overview's bar and its page's grid and legend. */
export const versionPalette = (info) => new Palette(paletteVersions(info));

/** The order of the states in a progress bar, settled first. */
const BAR = ["succeeded", "in_flight", "waiting", "awaiting_approval", "held_paused", "held_frozen", "held_back", "rolled_back", "halted", "failed_unhealthy", "failed_deadline", "failed_monitor"];

/**
 * A bar of the targets by state (`counts` by reason), in the grid's
 * colours (`cellColour`): `[colour, reason, count]` per part, settled first.
 */
export function barParts(info, counts, palette = versionPalette(info)) {
  const [current, moving] = paletteVersions(info);
  // Back (or held) on the good version after a bad one: its targets run the good one.
  const back = ["rolling_back", "rolled_back", "halted"].includes(info.phase);
  return BAR.filter((reason) => counts[reason] > 0).map((reason) => {
    const stays = reason === "waiting" || reason.startsWith("held") || reason === "awaiting_approval" || (reason === "succeeded" && back);
    const running = stays ? current : moving;
    return [cellColour(palette, reason, running, moving), reason, counts[reason]];
  });
}

/** A badge (`<span class="badge">`) saying `state`. */
export function badge(state, element = document.createElement("span")) {
  element.className = "badge";
  element.dataset.state = state;
  element.textContent = state;
  return element;
}
