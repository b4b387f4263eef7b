// What a rollout is doing, in a word or two, as the overview and the
// entity view both say it (the words are the package's: js/simulation/words.mjs,
// copied into www/engine by the build), and its badge.
export { UNCHANGED, countsText, stateOf } from "../engine/simulation.mjs";

/** A badge (`<span class="badge">`) saying `state`. */
export function badge(state, element = document.createElement("span")) {
  element.className = "badge";
  element.dataset.state = state;
  element.textContent = state;
  return element;
}
