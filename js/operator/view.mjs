// One entity as `orchestrator-engine get` shows it: computed by the engine
// in this process from the entity's snapshot (one read, as the dashboard
// does), and written as text: the state and why, the versions, the targets
// counted, the plan with its current step, the analysis runs, the last
// rollouts with who did what, the last events.
import { Orchestrator } from "../node.mjs";
import { actionsText, countsText, formatDuration, stateOf } from "../simulation/words.mjs";

/** How many of the newest events the view lists. */
const EVENTS_SHOWN = 8;
/** How many of the newest rollouts (revisions) it lists. */
const REVISIONS_SHOWN = 5;

/** The entity `namespace/entity` of `bytes` (its snapshot) as of `nowMs`: `{ info, counts, n, plan, analysis, events }`. */
export function entityView(bytes, namespace, entity, nowMs) {
  const engine = Orchestrator.restore(bytes, { now: () => nowMs });
  try {
    const counts = {};
    const expected = engine.expectedState(namespace, entity);
    for (const t of expected) counts[t.reason] = (counts[t.reason] ?? 0) + 1;
    let plan = null;
    try {
      plan = engine.plan(namespace, entity);
    } catch (error) {
      if (error.code !== "NO_TARGET_VERSION") throw error;
    }
    return {
      info: engine.rolloutInfo(namespace, entity),
      counts,
      n: expected.length,
      plan,
      analysis: engine.analysis(namespace, entity),
      events: engine.events(namespace, entity).slice(-EVENTS_SHOWN),
      history: engine.history(namespace, entity).slice(-REVISIONS_SHOWN),
    };
  } finally {
    engine.free();
  }
}

/** The view's state in a word, and the targets counted: one line, for logs and scripts. */
export function summaryLine(name, view) {
  const { info } = view;
  return `${name} ${stateOf(info)} target=${info.targetVersion || "-"} good=${info.lastKnownGoodVersion || "-"} bad=${info.lastKnownBadVersion || "-"} ${countsText(view.n, view.counts, info.failureThreshold)}`;
}

const clock = (ms) => new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");

/** The whole view as lines of text, as of `nowMs`. */
export function renderView(name, view, nowMs) {
  const { info, plan, analysis, events } = view;
  const lines = [];
  const row = (label, text) => lines.push(`${`${label}:`.padEnd(11)}${text}`);
  row("Entity", name);
  row("State", `${stateOf(info)}${info.pauseReason && info.pauseReason !== "operator" ? ` (${info.pauseReason.replaceAll("_", " ")})` : ""}`);
  row("Versions", `target ${info.targetVersion || "-"} · rolling ${info.rollingVersion || "-"} · good ${info.lastKnownGoodVersion || "-"} · bad ${info.lastKnownBadVersion || "-"}`);
  row("Targets", countsText(view.n, view.counts, info.failureThreshold));
  if (info.watchUntil !== null && info.watchUntil > nowMs) row("Watch", `judged until ${clock(info.watchUntil)} (${formatDuration((info.watchUntil - nowMs) / 1000)} left)`);
  if (plan === null) row("Plan", "no version set");
  else if (info.step === null) row("Plan", `no plan: batches of ${info.options.batchPercent}%`);
  else {
    row("Plan", `step ${info.step + 1} of ${plan.steps.length}${info.awaitingApproval ? ", waiting for approval" : ""}`);
    plan.steps.forEach((step, i) => {
      const marks = [step.status];
      if (step.approval) marks.push("approval gate");
      if (step.bakeSecs) marks.push(`bake ${formatDuration(step.bakeSecs)}`);
      const next = plan.steps[i + 1];
      if (step.status === "current" && next?.earliestStart > nowMs && !info.paused && !info.awaitingApproval) marks.push(`next step in ${formatDuration(Math.ceil((next.earliestStart - nowMs) / 1000))} at the earliest`);
      lines.push(`  ${step.status === "current" ? ">" : " "} ${String(i + 1).padStart(2)}  ${`${step.cumulative.toLocaleString("en-US")} of ${plan.fleet.toLocaleString("en-US")} (${step.size})`.padEnd(24)} ${marks.join(" · ")}`);
    });
  }
  const latest = new Map();
  for (const run of analysis) latest.set(JSON.stringify(run.kind), run);
  if (latest.size > 0) {
    lines.push("Analysis:");
    for (const run of latest.values()) {
      const which = run.kind === "background" ? "background" : `step ${run.kind.step + 1}`;
      lines.push(`  ${which} of ${run.version}: ${run.phase}${run.holding ? " (holding the rollout: promote or abort)" : ""}${run.message ? ` — ${run.message}` : ""}`);
      for (const m of run.metrics) {
        const last = m.measurements.at(-1);
        lines.push(`    ${m.name}: ${m.phase}, ${m.successful} successful, ${m.failed} failed, ${m.inconclusive} inconclusive, ${m.error} errors${last ? `; last ${last.value} (${last.message})` : ""}`);
      }
    }
  }
  if (view.history?.length > 0) {
    lines.push("Revisions:");
    for (const r of [...view.history].reverse()) {
      const count = (n, noun) => (n === null ? "" : `, ${n.toLocaleString("en-US")} ${noun}`);
      const took = r.ended === null ? `running ${formatDuration(Math.max(0, Math.round((nowMs - r.started) / 1000)))}` : `took ${formatDuration(Math.round((r.ended - r.started) / 1000))}`;
      const who = actionsText(r.actions, ", ");
      lines.push(`  ${r.version.padEnd(12)} ${r.outcome.replaceAll("_", " ").padEnd(15)} ${clock(r.started)}, ${took}${count(r.targetsMoved, "moved")}${count(r.failures, "failed")}${who ? `; ${who}` : ""}`);
    }
  }
  lines.push("Events:");
  for (const e of events) lines.push(`  ${clock(e.time)}  ${e.kind} ${e.version}${e.target ? ` ${e.target.name}` : ""}${e.detail ? `: ${e.detail}` : ""}${e.actor ? ` (by ${e.actor})` : ""}`);
  if (events.length === 0) lines.push("  none");
  return lines;
}
