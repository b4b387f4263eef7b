// The terminal rollout simulator behind `npx orchestrator-engine simulate`
// (bin/orchestrator-engine.mjs). It runs the real engine (this package's
// wasm) against a fleet simulated in virtual time (js/simulation.mjs, the
// same model as the browser simulator) and prints a summary.
import { readFileSync } from "node:fs";
import { OVERVIEW, UsageError, parseFlags, usageLine, wholeNumber } from "./cli-args.mjs";
import { Orchestrator, version as engineVersion } from "./node.mjs";
import { DEFAULT_SCENARIO, FAILURE_KINDS, OUTCOME_TEXT, Simulation, formatDuration, parseAmount, parseSteps, tally } from "./simulation.mjs";

const USAGE = `Usage: orchestrator-engine simulate [options]

Rolls a simulated fleet from one version to another with the real engine,
in virtual time, and prints what happened.

Fleet
  --targets N              number of targets (1 to 1000000; default 2000)
  --groups A,B,C | N       group names, or a number of groups (default 4 zones)
  --from VERSION           version the fleet runs at the start (default v1)
  --to VERSION             version to roll out (default v2)
  --report-delay SECS      time a target takes to report a new version,
                           give or take half of it (default 20)
  --step SECS              controller loop interval in virtual time (default 10)
  --seed N                 seed of the failure draw (default 1)

Rollout options (passed to the engine as they are)
  --batch-percent P        at most P% of targets in flight (default 10)
  --success-percent P      P% must succeed for the version to be good (default 95)
  --success-timeout SECS   healthy this long counts as success (default 60)
  --duration-timeout SECS  not successful this long after assignment fails (default 300)
  --error-timeout SECS     reporting errors this long on the new version fails
                           (default: only the duration timeout does)
  --steps LIST             a plan instead of batches: the total on the new version
                           once each step is done (cumulative), a count or a
                           percentage, optionally :BAKESECS and :approve; the last
                           must be 100%, e.g. 1:600,10%,50%:approve,100%
  --max-failures N|P%      error budget: the version is bad once more targets failed
  --max-consecutive-failures N
                           ... or once more than N failed in a row
  --watch SECS             keep judging a good version this long (default 0)
  --rollback-batch-percent P
                           roll back at most P% at once (default: all at once)
  --max-events N           events the engine's log keeps (default: 10 per target,
                           at least 1,000: every version-level event of a run)
  --analysis FILE          an analysis template (JSON: Argo's AnalysisTemplate or its
                           spec) judged during the run; whatever provider its
                           metrics name, they are measured from the fleet model

Metrics of the fleet model, per version (what --analysis measures)
  --error-rate VERSION:SHARE
                           share of requests failing on healthy targets (default 1%;
                           a target reporting errors fails all of its requests)
  --latency VERSION:MS     median latency (default 100 ms; metrics that mention
                           latency or duration read a quantile, 0.99 by default)

Failure injection, per version; SHARE is a fraction (0.05) or a percentage (5%)
  --fail VERSION:SHARE     share of targets never healthy on VERSION (repeatable)
  --late VERSION:SHARE     share that report errors after looking healthy
  --flap VERSION:SHARE     share whose health check flaps
  --stuck VERSION:SHARE    share that never report VERSION

Operator actions during the run
  --set VERSION@SECS       set the target version at that virtual second
  --force VERSION@SECS     force it (abandon and roll back the current one)
  --rollback-to VERSION@SECS
                           roll every target back to a version that was good
  --pause SECS, --resume SECS, --abort SECS, --retry SECS, --approve SECS,
  --promote SECS, --promote-full SECS
                           the engine's controls at that virtual second (repeatable)

Output
  --json                   print only the summary, as JSON
  --events                 print the engine's event log after the summary
                           (with --json: add events and history to it)
  --speed X                run X virtual seconds per real second (default: as fast as possible)
  --max-time SECS          give up after this much virtual time (default 172800)
  -h, --help               this text
  -v, --version            the engine version

Exit status: 0 when the run settles (rolled out, rolled back or halted),
1 when it does not settle in --max-time or the engine fails, 2 for bad flags.
`;


const OPTIONS = {
  targets: { type: "string" },
  groups: { type: "string" },
  from: { type: "string" },
  to: { type: "string" },
  "report-delay": { type: "string" },
  step: { type: "string" },
  seed: { type: "string" },
  "batch-percent": { type: "string" },
  "success-percent": { type: "string" },
  "success-timeout": { type: "string" },
  "duration-timeout": { type: "string" },
  fail: { type: "string", multiple: true },
  late: { type: "string", multiple: true },
  flap: { type: "string", multiple: true },
  stuck: { type: "string", multiple: true },
  steps: { type: "string" },
  "error-timeout": { type: "string" },
  "max-failures": { type: "string" },
  "max-consecutive-failures": { type: "string" },
  watch: { type: "string" },
  "rollback-batch-percent": { type: "string" },
  "max-events": { type: "string" },
  analysis: { type: "string" },
  "error-rate": { type: "string", multiple: true },
  latency: { type: "string", multiple: true },
  set: { type: "string", multiple: true },
  force: { type: "string", multiple: true },
  "rollback-to": { type: "string", multiple: true },
  pause: { type: "string", multiple: true },
  resume: { type: "string", multiple: true },
  abort: { type: "string", multiple: true },
  retry: { type: "string", multiple: true },
  approve: { type: "string", multiple: true },
  promote: { type: "string", multiple: true },
  "promote-full": { type: "string", multiple: true },
  json: { type: "boolean" },
  events: { type: "boolean" },
  speed: { type: "string" },
  "max-time": { type: "string" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "v" },
};

/** What each numeric flag accepts: [min, max]. */
const RANGES = {
  targets: [1, 1_000_000],
  "report-delay": [0, 86_400],
  step: [1, 86_400],
  seed: [0, 2 ** 32 - 1],
  "batch-percent": [1, 100],
  "success-percent": [0, 100],
  "rollback-batch-percent": [1, 100],
  "max-events": [1, 1_000_000],
  "max-time": [1, 365 * 86_400],
  speed: [1, 1_000_000_000],
};

function number(flag, text) {
  if (text === undefined) return undefined;
  const [min, max] = RANGES[flag] ?? [0, 2 ** 32 - 1];
  return wholeNumber(flag, text, min, max);
}

/** The flags that set each rollout option or scenario field, to name them in the engine's and the simulator's complaints. */
const FLAGS_OF = {
  batchPercent: "--batch-percent",
  successPercent: "--success-percent",
  successTimeoutSecs: "--success-timeout",
  durationTimeoutSecs: "--duration-timeout",
  errorTimeoutSecs: "--error-timeout",
  steps: "--steps",
  maxFailures: "--max-failures",
  maxConsecutiveFailures: "--max-consecutive-failures",
  watchSecs: "--watch",
  rollbackBatchPercent: "--rollback-batch-percent",
  maxEvents: "--max-events",
  groups: "--groups",
  "failure shares": "--fail, --late, --flap, --stuck",
  "versions.current": "--from",
  "versions.target": "--to",
};

/** A complaint of the engine or the simulator about the scenario, naming the flag behind what it names first. */
function asFlagError(message) {
  let first = null;
  for (const field of Object.keys(FLAGS_OF)) {
    const at = new RegExp(`(^|[^A-Za-z.])${field.replace(".", "\\.")}\\b`).exec(message)?.index;
    if (at !== undefined && (first === null || at < first.at)) first = { field, at };
  }
  return first ? `${FLAGS_OF[first.field]}: ${message}` : message;
}

function share(flag, text) {
  const match = /^(.+):(\d+(?:\.\d+)?)(%?)$/.exec(text);
  if (!match) throw new UsageError(`--${flag} must look like VERSION:0.05 or VERSION:5%, got ${JSON.stringify(text)}`);
  const value = Number(match[2]) / (match[3] ? 100 : 1);
  if (value > 1) throw new UsageError(`--${flag} ${text}: the share must be at most 1 (100%)`);
  return [match[1], value];
}

function action(flag, kind, text) {
  const match = /^(.+)@(\d+)$/.exec(text);
  if (!match) throw new UsageError(`--${flag} must look like VERSION@SECONDS, got ${JSON.stringify(text)}`);
  return { kind, version: match[1], atSecs: Number(match[2]) };
}

/** A scenario parser's complaint, as a complaint about `--flag`. */
function flagged(flag, parse) {
  try {
    return parse();
  } catch (e) {
    throw new UsageError(`--${flag}: ${e.message}`);
  }
}

const TIMED_CONTROLS = { pause: "pause", resume: "resume", abort: "abort", retry: "retry", approve: "approve", promote: "promote", "promote-full": "promoteFull" };

/** The scenario (and output settings) the flags describe. */
function scenarioFromArgs(args) {
  const { values, positionals } = parseFlags({ args, options: OPTIONS, allowPositionals: true });
  // `--help` alone asks what the commands are; after `simulate`, its options.
  if (values.help || values.version) return { help: values.help && (positionals[0] === "simulate" ? USAGE : OVERVIEW), version: values.version };
  if (positionals.length === 0) throw new UsageError("missing command: simulate or serve");
  if (positionals[0] !== "simulate") throw new UsageError(`unknown command ${JSON.stringify(positionals[0])} (the commands are simulate and serve)`);
  if (positionals.length > 1) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[1])} after simulate (every option is a --flag)`);
  const scenario = {};
  const targets = number("targets", values.targets);
  if (targets !== undefined) scenario.targets = targets;
  if (values.groups !== undefined) {
    const count = /^\d+$/.test(values.groups) ? Number(values.groups) : 0;
    scenario.groups = count > 0
      ? Array.from({ length: count }, (_, i) => `zone-${i + 1}`)
      : values.groups.split(",").map((g) => g.trim());
  }
  const options = {
    batchPercent: number("batch-percent", values["batch-percent"]) ?? 10,
    successPercent: number("success-percent", values["success-percent"]) ?? 95,
    successTimeoutSecs: number("success-timeout", values["success-timeout"]) ?? 60,
    durationTimeoutSecs: number("duration-timeout", values["duration-timeout"]) ?? 300,
  };
  const errorTimeout = number("error-timeout", values["error-timeout"]);
  if (errorTimeout !== undefined) options.errorTimeoutSecs = errorTimeout;
  if (values.steps !== undefined) options.steps = flagged("steps", () => parseSteps(values.steps));
  if (values["max-failures"] !== undefined) {
    options.maxFailures = flagged("max-failures", () => parseAmount(values["max-failures"], "the budget"));
  }
  const consecutive = number("max-consecutive-failures", values["max-consecutive-failures"]);
  if (consecutive !== undefined) options.maxConsecutiveFailures = consecutive;
  const watch = number("watch", values.watch);
  if (watch !== undefined) options.watchSecs = watch;
  const rollbackBatch = number("rollback-batch-percent", values["rollback-batch-percent"]);
  if (rollbackBatch !== undefined) options.rollbackBatchPercent = rollbackBatch;
  // The engine's default log (1,000 events) holds less than one step of a
  // large fleet: a simulation keeps enough for the whole run.
  options.maxEvents = number("max-events", values["max-events"]) ?? Math.min(1_000_000, Math.max(1000, 10 * (targets ?? DEFAULT_SCENARIO.targets)));
  scenario.options = options;
  scenario.versions = { current: values.from ?? "v1", target: values.to ?? "v2" };
  const failures = {};
  for (const kind of FAILURE_KINDS) {
    const flag = kind === "unhealthy" ? "fail" : kind;
    for (const text of values[flag] ?? []) {
      const [version, value] = share(flag, text);
      failures[version] = { ...failures[version], [kind]: value };
    }
  }
  scenario.failures = failures;
  if (values.analysis !== undefined) {
    options.analysis = flagged("analysis", () => {
      let text;
      try {
        text = readFileSync(values.analysis, "utf8");
      } catch (error) {
        throw new Error(`cannot read ${values.analysis}: ${error.code ?? error.message}`);
      }
      try {
        return JSON.parse(text);
      } catch (error) {
        throw new Error(`${values.analysis} is not JSON: ${error.message}`);
      }
    });
  }
  const metrics = {};
  for (const text of values["error-rate"] ?? []) {
    const [version, value] = share("error-rate", text);
    metrics[version] = { ...metrics[version], errorRate: value };
  }
  for (const text of values.latency ?? []) {
    const at = text.lastIndexOf(":");
    const ms = Number(text.slice(at + 1));
    if (at < 1 || !(ms > 0)) throw new UsageError(`--latency must look like VERSION:MS, e.g. v2:180, got ${JSON.stringify(text)}`);
    metrics[text.slice(0, at)] = { ...metrics[text.slice(0, at)], latencyMs: ms };
  }
  scenario.metrics = metrics;
  const delay = number("report-delay", values["report-delay"]);
  if (delay !== undefined) scenario.reportDelaySecs = delay;
  const step = number("step", values.step);
  if (step !== undefined) scenario.stepSecs = step;
  const seed = number("seed", values.seed);
  if (seed !== undefined) scenario.seed = seed;
  const maxSecs = number("max-time", values["max-time"]);
  if (maxSecs !== undefined) scenario.maxSecs = maxSecs;
  scenario.actions = [
    ...(values.set ?? []).map((t) => action("set", "set", t)),
    ...(values.force ?? []).map((t) => action("force", "force", t)),
    ...(values["rollback-to"] ?? []).map((t) => action("rollback-to", "rollbackTo", t)),
  ];
  for (const [flag, kind] of Object.entries(TIMED_CONTROLS)) {
    for (const t of values[flag] ?? []) scenario.actions.push({ kind, atSecs: number(flag, t) });
  }
  const speed = number("speed", values.speed);
  return { scenario, json: values.json ?? false, events: values.events ?? false, speed: speed ?? 0 };
}

const BAR = 30;
// Log entries about groups of targets; the others (versions judged,
// operator actions, the end) are printed as lines of their own.
const TARGET_KINDS = new Set(["target", "failure", "rollback"]);
function bar(count, total) {
  const filled = Math.round((count / total) * BAR);
  return "█".repeat(filled) + "░".repeat(BAR - filled);
}

// A progress bar per version, redrawn in place on a terminal; plain lines
// (one per step that changed something) when the output is not a TTY.
class Progress {
  constructor(stream) {
    this.stream = stream;
    this.tty = Boolean(stream.isTTY);
    this.drawn = 0;
    this.lastState = "";
    this.logged = 0;
  }

  update(sim, force = false) {
    const now = Date.now();
    if (this.tty && !force && now - (this.at ?? 0) < 50) return;
    this.at = now;
    const total = sim.fleet.length;
    const counts = sim.counts();
    const info = sim.info;
    const { inFlight, rollingBack, failed } = tally(sim.summary().reasons);
    const clock = `+${formatDuration(sim.elapsedSecs)}  step ${sim.steps}`;
    const state = `in flight ${inFlight}  ${rollingBack ? `rolling back ${rollingBack}  ` : ""}failed ${failed}  ` +
      `target ${info.targetVersion}  LKG ${info.lastKnownGoodVersion || "-"}  LKB ${info.lastKnownBadVersion || "-"}`;
    const status = `${clock}  ${state}`;
    const versions = Object.keys(counts).sort();
    if (!this.tty) {
      const events = sim.log.slice(this.logged).filter((l) => !TARGET_KINDS.has(l.kind));
      this.logged = sim.log.length;
      for (const e of events) this.stream.write(`  ${e.text}\n`);
      // A line only for steps that changed something besides the clock.
      const changed = `${state}  ${versions.map((v) => `${v}=${counts[v]}`).join(" ")}`;
      if (changed !== this.lastState) this.stream.write(`${clock}  ${changed}\n`);
      this.lastState = changed;
      return;
    }
    const width = Math.max(...versions.map((v) => v.length));
    const lines = versions.map((v) =>
      `  ${v.padEnd(width)}  ${bar(counts[v], total)}  ${String(counts[v]).padStart(String(total).length)}/${total}`);
    lines.push(`  ${status}`);
    let out = this.drawn > 0 ? `\x1b[${this.drawn}A` : "";
    for (const line of lines) out += `\x1b[2K${line}\n`;
    // A version that no target runs any more leaves a line to clear.
    for (let i = lines.length; i < this.drawn; i++) out += "\x1b[2K\n";
    if (this.drawn > lines.length) out += `\x1b[${this.drawn - lines.length}A`;
    this.stream.write(out);
    this.drawn = lines.length;
  }
}

/**
 * The engine's event log, one line per event, times from the run's start;
 * per-target events are counted (--json --events lists them).
 */
function printEvents(sim, stream) {
  const events = sim.events();
  const perTarget = {};
  stream.write(`\nevent log (${events.length} kept)\n`);
  for (const e of events) {
    if (e.target) {
      perTarget[e.kind] = (perTarget[e.kind] ?? 0) + 1;
      continue;
    }
    const at = `+${formatDuration(Math.max(0, (e.time - sim.startMs) / 1000))}`;
    stream.write(`  ${at.padEnd(10)} ${e.kind.padEnd(18)} ${e.version.padEnd(6)} ${e.detail}\n`);
  }
  const counted = Object.entries(perTarget).map(([kind, n]) => `${n} ${kind}`).join(", ");
  if (counted) stream.write(`  and per target: ${counted}\n`);
}

function printSummary(summary, stream) {
  const why = summary.outcome === "halted" ? " (no good version to return to)" : "";
  const outcome = `${OUTCOME_TEXT[summary.outcome]}${why}`;
  const running = Object.entries(summary.running).map(([v, n]) => `${v}: ${n}`).join(", ");
  const reasons = Object.entries(summary.reasons).map(([r, n]) => `${r}: ${n}`).join(", ");
  stream.write(`
outcome            ${summary.version} ${outcome}
virtual duration   ${formatDuration(summary.virtualSecs)} (${summary.virtualSecs} s)
steps              ${summary.steps}
targets touched    ${summary.targetsTouched} of ${summary.targets}
peak in flight     ${summary.peakInFlight}
peak rolling back  ${summary.peakRollingBack}
last known good    ${summary.lastKnownGoodVersion || "-"}
last known bad     ${summary.lastKnownBadVersion || "-"}${summary.lastKnownBadWhy && summary.lastKnownBadWhy !== "judged bad" ? ` (${summary.lastKnownBadWhy}, not judged bad)` : ""}
running            ${running}
final states       ${reasons}
`);
}

/** How each analysis run judged, in words, with each metric's measurements. */
function printAnalysis(runs, stream) {
  for (const run of runs) {
    const which = run.kind === "background" ? "background analysis" : `analysis of step ${run.kind.step + 1}`;
    stream.write(`${which} of ${run.version}: ${run.phase}${run.message ? `: ${run.message}` : ""}\n`);
    for (const m of run.metrics) {
      const values = m.measurements.map((x) => `${x.value}${x.phase === "successful" ? "" : ` (${x.phase})`}`).join(", ");
      stream.write(`  ${m.name}${m.dryRun ? " (dry run)" : ""}: ${m.phase}; measured ${values || "nothing"}\n`);
    }
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs the command line `args` (without node and the script); resolves to
 * the exit code. `stdout.isTTY` decides between redrawn bars and lines.
 */
export async function main(args, { stdout = process.stdout, stderr = process.stderr } = {}) {
  let parsed;
  try {
    parsed = scenarioFromArgs(args);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    stderr.write(usageLine("", e.message));
    return 2;
  }
  if (parsed.help) {
    stdout.write(parsed.help);
    return 0;
  }
  if (parsed.version) {
    stdout.write(`${engineVersion()}\n`);
    return 0;
  }
  let sim;
  try {
    sim = new Simulation(Orchestrator, parsed.scenario);
  } catch (e) {
    // A scenario or rollout option the simulator or the engine rejects is a bad flag.
    if (e.code === "INVALID_SCENARIO" || e.code === "INVALID_OPTIONS" || e.code === "INVALID_VERSION") {
      stderr.write(usageLine("", asFlagError(e.message)));
      return 2;
    }
    throw e;
  }
  const progress = parsed.json ? null : new Progress(stdout);
  if (progress) {
    const { targets, versions } = sim.scenario;
    stdout.write(`simulating ${targets} targets, ${versions.current} -> ${versions.target}, in virtual time\n`);
  }
  const started = Date.now();
  while (!sim.finished) {
    sim.step();
    progress?.update(sim);
    if (parsed.speed > 0) {
      const due = started + (sim.elapsedSecs / parsed.speed) * 1000;
      if (due > Date.now()) await sleep(due - Date.now());
    }
  }
  progress?.update(sim, true);
  const summary = sim.summary();
  if (parsed.json) {
    const runs = sim.analysis();
    const withRuns = runs.length > 0 ? { ...summary, analysis: runs } : summary;
    const out = parsed.events ? { ...withRuns, events: sim.events(), history: sim.history() } : withRuns;
    stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  } else {
    printSummary(summary, stdout);
    printAnalysis(sim.analysis(), stdout);
    if (parsed.events) printEvents(sim, stdout);
  }
  return summary.outcome === "unsettled" ? 1 : 0;
}
