// What a person with the write token can do to the entity shown: the
// controls, the rollout options, and a "what if" run in the page. Each
// control that moves targets asks first; each calls the API with the
// user's token; an error is shown with its code and message.
import { formatDuration, formatSteps, parseSteps, tally } from "../engine/simulation.mjs";
import { api } from "./api.mjs";
import { whatIf } from "./engine.mjs";
import { refresh, shown } from "./entity.mjs";
import { UNCHANGED } from "./state.mjs";

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
      say("");
      const paused = shown.view?.info.paused;
      try {
        const body = needsVersion ? { version } : control === "promote" ? { full: button.dataset.full === "true" } : undefined;
        const answer = await api("POST", `${shown.path}/${control}`, body);
        say(answered(button, answer, paused));
        await refresh();
      } catch (error) {
        onError(error);
      }
    });
  }
  // The form shows the entity's options as they are, except while open (being edited).
  document.addEventListener("entity-shown", () => {
    if (!$("options").open) fillOptions();
    enableByState();
  });
  for (const name of Object.keys(OPTIONS)) $(`option-${name}`).addEventListener("input", (event) => event.target.setCustomValidity(""));
  $("options-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("error").hidden = true;
    say("");
    try {
      const current = shown?.view?.info.options;
      if (!current) return;
      const options = readOptions(current);
      if (options === null) return; // a field is not a value: it says why
      const changes = changesOf(current, options);
      if (changes.length === 0) return say("These are the options already set: nothing to change.");
      if (!confirm(`${shown.namespace}/${shown.entity}: set these rollout options? ${changes.join("; ")}. They apply from the next step.`)) return;
      await api("PUT", `${shown.path}/options`, options);
      say(`Options set: ${changes.join("; ")}.`);
      await refresh();
      fillOptions();
    } catch (error) {
      onError(error);
    }
  });
  wireWhatIf(onError);
}

// ---- options ---------------------------------------------------------------

/**
 * Why each control could do nothing now, or `null` when it can: a control
 * that could not is disabled, its reason its tooltip. (The state may move
 * on before a click lands: the answer's `changed: false` says so then.)
 */
function couldNot(control, full, info) {
  const rolling = info.phase === "rolling_out";
  switch (control) {
    case "pause":
      return info.paused ? UNCHANGED.pause : null;
    case "resume":
      return info.paused ? null : UNCHANGED.resume;
    case "approve":
      return info.awaitingApproval ? null : UNCHANGED.approve;
    case "promote":
      return rolling ? null : full ? "no rollout is under way to promote" : UNCHANGED.promote;
    case "retry":
      return info.lastKnownBadVersion && info.lastKnownBadVersion === info.targetVersion ? null : UNCHANGED.retry;
    case "abort":
      return rolling || info.phase === "watching" ? null : UNCHANGED.abort;
    default:
      return null; // set, force and roll back to take a version: always possible to ask
  }
}

function enableByState() {
  const info = shown?.view?.info;
  if (!info) return;
  for (const button of document.querySelectorAll("[data-control]")) {
    const why = couldNot(button.dataset.control, button.dataset.full === "true", info);
    button.disabled = why !== null;
    button.title = why === null ? "" : `Nothing to do: ${why}`;
  }
}

/** What a control's answer means, in words: `changed: false` says nothing happened, and why. */
function answered(button, answer, paused) {
  const control = button.dataset.control;
  const label = button.textContent.trim();
  if (answer?.changed === false) return `${label}: nothing changed; ${UNCHANGED[control] ?? "the entity was already so"}.`;
  if (control === "promote" && paused) return `${label}: done; the rollout is paused, so the promotion applies when it is resumed.`;
  return `${label}: done.`;
}

/** Shows what the last control or option change did (empty: nothing). */
function say(text) {
  $("control-result").textContent = text;
}

/**
 * Each option field: how its text reads ("" is the default, `undefined`;
 * or none, `null`), refusing text that is not a value with what it should be.
 */
/** A whole number; empty: `empty` (`undefined`, the default; or `null`, none). */
const wholeNumber = (empty) => (text) => {
  if (text === "") return empty;
  if (!/^\d+$/.test(text)) throw new Error(`a whole number, or empty for ${empty === null ? "none" : "the default"}`);
  return Number(text);
};
const whole = wholeNumber(undefined);
const wholeOrNone = wholeNumber(null);
const amount = (text) => {
  if (text === "") return null;
  if (/^\d+%$/.test(text)) return text;
  if (/^\d+$/.test(text)) return Number(text);
  throw new Error("a count like 3 or a share like 2%, or empty for none");
};
const OPTIONS = {
  batchPercent: whole,
  successPercent: whole,
  successTimeoutSecs: whole,
  durationTimeoutSecs: whole,
  errorTimeoutSecs: wholeOrNone,
  steps: (text) => (text === "" ? [] : parseSteps(text)),
  maxFailures: amount,
  maxConsecutiveFailures: wholeOrNone,
  watchSecs: whole,
  rollbackBatchPercent: wholeOrNone,
  maxEvents: whole,
};
const fieldText = (name, options) => {
  const value = options[name];
  return name === "steps" ? formatSteps(value ?? []) : value === null || value === undefined ? "" : String(value);
};

function fillOptions() {
  const options = shown?.view?.info.options;
  if (!options) return;
  for (const name of Object.keys(OPTIONS)) $(`option-${name}`).value = fieldText(name, options);
}

/**
 * The entity's options `current` with the form's fields in place (a field
 * left empty: its default), or `null` when a field's text is not a value
 * (the field says why). What the form does not show (an analysis template,
 * a plan step's analysis while the plan's text is unchanged) is kept.
 */
function readOptions(current) {
  const options = { ...current };
  for (const [name, read] of Object.entries(OPTIONS)) {
    const input = $(`option-${name}`);
    const text = input.value.trim();
    if (name === "steps" && text === fieldText(name, current)) continue;
    let value;
    try {
      value = read(text);
    } catch (error) {
      input.setCustomValidity(`${error.message.replace(/^invalid argument [^:]*: /, "")}`);
      input.reportValidity();
      return null;
    }
    if (value === undefined) delete options[name];
    else options[name] = value;
  }
  return options;
}

/** The options that `next` changes from `current`, as "Batch % 10 → 20". */
function changesOf(current, next) {
  const changes = [];
  for (const name of Object.keys(OPTIONS)) {
    const [was, now] = [fieldText(name, current), name in next ? fieldText(name, next) : "default"];
    if (was !== now) changes.push(`${labelOf(name)} ${was || "none"} → ${now || "none"}`);
  }
  return changes;
}

const labelOf = (name) => $(`option-${name}`).closest("label").firstChild.textContent.trim();

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
    // The cadence is the user's to say (the engine does not know its
    // controller's loop): the answer repeats it.
    if (!["what-if-step", "what-if-delay"].every((id) => $(id).reportValidity())) return;
    const stepSecs = Number($("what-if-step").value);
    const reportDelaySecs = Number($("what-if-delay").value);
    $("what-if-result").textContent = "Running in this page…";
    $("what-if-cancel").hidden = false;
    const approveGates = $("what-if-approve").checked;
    const cadence = `with the controller stepping every ${formatDuration(stepSecs)} and targets reporting a new version about ${formatDuration(reportDelaySecs)} after being told (set here; the forecast above assumes they report at once)`;
    running = whatIf(bytes, namespace, entity, { failures, approveGates, stepSecs, reportDelaySecs }, ({ steps, elapsedSecs }) => {
      $("what-if-result").textContent = `Running in this page: ${steps} steps, ${formatDuration(elapsedSecs)} of virtual time…`;
    });
    try {
      const { summary, awaitingApproval, step, analysis = [] } = await running.result;
      const outcome = awaitingApproval && summary.outcome === "unsettled" ? `waits for approval at step ${step + 1}` : { rolled_out: "rolls out", rolled_back: "is rolled back", halted: "halts", unsettled: "has not settled" }[summary.outcome];
      const { failed } = tally(summary.reasons);
      $("what-if-result").textContent =
        `If ${Math.round(share * 100)}% of the targets not yet succeeded on ${version || "it"} ${kind === "unhealthy" ? "report errors" : `are ${kind}`}: ` +
        `${summary.version} ${outcome} after ${formatDuration(summary.virtualSecs)} (${summary.steps} steps of the controller loop), ${cadence}; ` +
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
