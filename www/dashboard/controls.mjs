// What a person with the write token can do to the entity shown: the
// controls, the rollout options, and a "what if" run in the page. Each
// control that moves targets asks first; each calls the API with the
// user's token; an error is shown with its code and message.
import { formatDuration, formatSteps, parseSteps } from "../engine/simulation.mjs";
import { api } from "./api.mjs";
import { whatIf } from "./engine.mjs";
import { refresh, shown } from "./entity.mjs";

const $ = (id) => document.getElementById(id);

/** Wires the forms; `onError` shows an error. */
export function wireControls(onError) {
  for (const button of document.querySelectorAll("[data-control]")) {
    button.addEventListener("click", async (event) => {
      event.preventDefault();
      const control = button.dataset.control;
      const version = $("version").value.trim();
      const needsVersion = ["version", "force", "rollback"].includes(control);
      if (needsVersion && !version) return $("version").reportValidity();
      const what = button.dataset.confirm?.replace("{version}", version);
      if (what && !confirm(`${shown.namespace}/${shown.entity}: ${what}`)) return;
      $("error").hidden = true;
      try {
        const body = needsVersion ? { version } : control === "promote" ? { full: button.dataset.full === "true" } : undefined;
        await api("POST", `${shown.path}/${control}`, body);
        await refresh();
      } catch (error) {
        onError(error);
      }
    });
  }
  // The form shows the entity's options as they are, except while open (being edited).
  document.addEventListener("entity-shown", () => {
    if (!$("options").open) fillOptions();
  });
  $("options-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("error").hidden = true;
    try {
      const options = readOptions();
      if (!confirm(`${shown.namespace}/${shown.entity}: set these rollout options? They apply from the next step.`)) return;
      await api("PUT", `${shown.path}/options`, options);
      await refresh();
      fillOptions();
    } catch (error) {
      onError(error);
    }
  });
  wireWhatIf(onError);
}

// ---- options ---------------------------------------------------------------

/** Each option field: its input's id, how it reads from text ("" is the default), how it is written. */
const number = (text) => (text === "" ? undefined : Number(text));
const orNull = (text) => (text === "" ? null : Number(text));
const amount = (text) => (text === "" ? null : /%$/.test(text) ? text : Number(text));
const OPTIONS = {
  batchPercent: number,
  successPercent: number,
  successTimeoutSecs: number,
  durationTimeoutSecs: number,
  errorTimeoutSecs: orNull,
  steps: (text) => (text === "" ? [] : parseSteps(text)),
  maxFailures: amount,
  maxConsecutiveFailures: orNull,
  watchSecs: number,
  rollbackBatchPercent: orNull,
  maxEvents: number,
};

function fillOptions() {
  const options = shown?.view?.info.options;
  if (!options) return;
  for (const name of Object.keys(OPTIONS)) {
    const value = options[name];
    $(`option-${name}`).value = name === "steps" ? formatSteps(value) : value === null || value === undefined ? "" : String(value);
  }
}

/** The form's options; a field left empty takes its default (the engine judges the rest: INVALID_OPTIONS). */
function readOptions() {
  const options = {};
  for (const [name, read] of Object.entries(OPTIONS)) {
    const value = read($(`option-${name}`).value.trim());
    if (value !== undefined) options[name] = value;
  }
  return options;
}

// ---- what if -----------------------------------------------------------------

let running = null;

function wireWhatIf(onError) {
  $("what-if").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (running) return;
    const { view, bytes, namespace, entity } = shown ?? {};
    if (!view) return;
    const version = view.info.rollingVersion || view.info.targetVersion;
    const share = Number($("what-if-percent").value) / 100;
    const kind = $("what-if-kind").value;
    const failures = share > 0 && version ? { [version]: { [kind]: share } } : {};
    $("what-if-result").textContent = "Running in this page…";
    $("what-if-cancel").hidden = false;
    const approveGates = $("what-if-approve").checked;
    running = whatIf(bytes, namespace, entity, { failures, approveGates }, ({ steps, elapsedSecs }) => {
      $("what-if-result").textContent = `Running in this page: ${steps} steps, ${formatDuration(elapsedSecs)} of virtual time…`;
    });
    try {
      const { summary, awaitingApproval, step, analysis = [] } = await running.result;
      const outcome = awaitingApproval && summary.outcome === "unsettled" ? `waits for approval at step ${step + 1}` : { rolled_out: "rolls out", rolled_back: "is rolled back", halted: "halts", unsettled: "has not settled" }[summary.outcome];
      const failed = Object.entries(summary.reasons).reduce((sum, [reason, k]) => sum + (reason.startsWith("failed") ? k : 0), 0);
      $("what-if-result").textContent =
        `If ${Math.round(share * 100)}% of the targets not yet succeeded on ${version || "it"} ${kind === "unhealthy" ? "report errors" : `are ${kind}`}: ` +
        `${summary.version} ${outcome} after ${formatDuration(summary.virtualSecs)} (${summary.steps} steps of the controller loop); ` +
        `${summary.targetsTouched.toLocaleString("en-US")} targets moved, at most ${summary.peakInFlight.toLocaleString("en-US")} in flight at once` +
        `${summary.peakRollingBack ? ` and ${summary.peakRollingBack.toLocaleString("en-US")} rolling back` : ""}, ${failed} failed at the end. ` +
        analysis.map((run) => `${run.kind === "background" ? "Its background analysis" : `The analysis of step ${run.kind.step + 1}`} (measured from the fleet model) ${run.phase === "running" ? "is still running" : `ends ${run.phase}`}${run.message ? `: ${run.message}` : ""}. `).join("") +
        `The entity itself is untouched.`;
      $("what-if-result").dataset.outcome = summary.outcome;
    } catch (error) {
      if (error.code === "CANCELLED") $("what-if-result").textContent = "Cancelled.";
      else {
        $("what-if-result").textContent = "";
        onError(error);
      }
    } finally {
      running = null;
      $("what-if-cancel").hidden = true;
    }
  });
  $("what-if-cancel").addEventListener("click", () => running?.cancel());
}
