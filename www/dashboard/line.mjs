// A namespace's line, on the overview when one namespace is picked:
// running, or stopped (why, since when, by whom); the write token stops it
// (with a reason) and starts it again. Every process's steps of its
// entities see the change within about a second.
import { api } from "./api.mjs";

const $ = (id) => document.getElementById(id);
const time = (ms) => new Date(ms).toLocaleString(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short" });
const path = (namespace) => `/namespaces/${encodeURIComponent(namespace)}`;

/** Shows the line of `namespace` (`""`: every namespace, and the panel hides). */
export async function showLine(namespace) {
  $("line").hidden = namespace === "";
  if (namespace === "") return;
  $("line").dataset.namespace = namespace;
  const { stopped } = await api("GET", `${path(namespace)}/line`);
  if ($("line").dataset.namespace !== namespace) return; // another was picked meanwhile
  $("line-state").textContent = stopped
    ? `The line of ${namespace} is stopped${stopped.by ? ` by ${stopped.by}` : ""} since ${time(stopped.since)}: ${stopped.reason}. No entity of it moves a target to a new version; rollbacks go on.`
    : `The line of ${namespace} runs.`;
  $("line").dataset.stopped = stopped ? "true" : "false";
  $("line-stop").hidden = Boolean(stopped);
  $("line-start").hidden = !stopped;
}

/** Wires stop and start; `onError` shows an error. */
export function wireLine(onError) {
  const act = async (route, body, question) => {
    const namespace = $("line").dataset.namespace;
    if (!namespace || !confirm(question(namespace))) return;
    try {
      await api("POST", `${path(namespace)}/line/${route}`, body);
      await showLine(namespace);
    } catch (error) {
      onError(error);
    }
  };
  $("line-stop").addEventListener("click", () => {
    const reason = $("line-reason").value.trim();
    if (!reason) return $("line-reason").reportValidity();
    act("stop", { reason }, (ns) => `Stop the line of ${ns}? No entity of it moves a target to a new version until it is started again (${reason}).`);
  });
  $("line-start").addEventListener("click", () => act("start", undefined, (ns) => `Start the line of ${ns} again? Its rollouts move on.`));
}
