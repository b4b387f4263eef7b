// The terminal simulator (bin/orchestrator-engine.mjs), run as a user
// runs it: a child process, its output and its exit code.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const bin = fileURLToPath(new URL("../../bin/orchestrator-engine.mjs", import.meta.url));
const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url)));

function cli(...args) {
  const { status, stdout, stderr } = spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  return { status, stdout, stderr };
}

const SCENARIO = ["--targets", "600", "--batch-percent", "10", "--success-percent", "95", "--success-timeout", "60", "--duration-timeout", "300"];

test("a clean rollout: progress lines, then a summary that says rolled out", () => {
  const { status, stdout, stderr } = cli("simulate", ...SCENARIO);
  assert.equal(status, 0, stderr);
  assert.match(stdout, /^simulating 600 targets, v1 -> v2/);
  // Not a TTY: plain progress lines, no cursor movement.
  assert.doesNotMatch(stdout, /\x1b\[/);
  assert.match(stdout, /step \d+ {2}in flight \d+/);
  // A line only when something besides the clock changed (even past the
  // first minute, where the clock reads "+1m 00s").
  const states = stdout.split("\n").filter((l) => /^\+/.test(l)).map((l) => l.replace(/^\+.*? {2}step \d+ {2}/, ""));
  assert.ok(states.length > 5, stdout);
  states.forEach((state, i) => assert.notEqual(state, states[i - 1], `line ${i} repeats the previous state`));
  assert.match(stdout, /v2 is now last known good/);
  assert.match(stdout, /outcome +v2 rolled out/);
  assert.match(stdout, /targets touched +600 of 600/);
  assert.match(stdout, /peak in flight +60\n/);
  assert.match(stdout, /running +v2: 600\n/);
});

test("the verdict's count is the engine's, even where the event log no longer holds the failures", () => {
  // 2,000 targets: the log's newest 1,000 events are mostly successes, so
  // counting failures from the log said "after 0 failures".
  const { status, stdout, stderr } = cli("simulate", "--targets", "2000", "--batch-percent", "10", "--success-percent", "95", "--fail", "v2:0.06");
  assert.equal(status, 0, stderr);
  const [, failed, total, threshold] = stdout.match(/v2 is now last known bad: (\d+) of (\d+) targets? failed; (\d+) failures? makes? it bad/) ?? [];
  assert.ok(failed !== undefined, stdout.split("\n").filter((l) => /known bad/.test(l)).join("\n"));
  assert.equal(Number(total), 2000);
  assert.ok(Number(failed) >= Number(threshold) && Number(threshold) >= 1, `${failed} failed, ${threshold} make it bad`);
  assert.doesNotMatch(stdout, /after 0 failures/);
});

test("--events at the default 2,000 targets keeps every version-level event; --max-events sizes the log", () => {
  const events = (...flags) => {
    const { status, stdout, stderr } = cli("simulate", "--fail", "v2:0.06", "--json", "--events", ...flags);
    assert.equal(status, 0, stderr);
    return JSON.parse(stdout).events;
  };
  const kinds = new Set(events().map((e) => e.kind));
  for (const kind of ["version_set", "target_assigned", "target_failed", "version_bad", "rollback_started", "rollback_finished"]) assert.ok(kinds.has(kind), `${kind} kept`);
  assert.equal(events("--max-events", "50").length, 50);
  const bad = cli("simulate", "--max-events", "0");
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--max-events/);
});

test("--rollback-to: the summary says returned to by rollbackTo, and the version it left was not judged bad", () => {
  const { status, stdout, stderr } = cli("simulate", "--targets", "200", "--set", "v3@1200", "--rollback-to", "v1@2400", "--events");
  assert.equal(status, 0, stderr);
  assert.match(stdout, /outcome +v1 returned to by rollbackTo\n/);
  assert.doesNotMatch(stdout, /rolled out\n/);
  assert.match(stdout, /last known bad +v3 \(left by rollbackTo v1, not judged bad\)\n/);
  assert.doesNotMatch(stdout, /version_bad/);
  assert.match(stdout, /rollback_started +v3 +rollbackTo, an operator's request, leaving v3: moving its targets back to v1/);
  assert.match(stdout, /running +v1: 200\n/);
});

test("a failing rollout: the summary says rolled back and every target is on v1 again", () => {
  const { status, stdout, stderr } = cli("simulate", ...SCENARIO, "--fail", "v2:10%");
  assert.equal(status, 0, stderr);
  assert.match(stdout, /v2 is now last known bad: \d+ of 600 targets failed; \d+ failures? makes? it bad; rolling back to v1/);
  assert.match(stdout, /outcome +v2 rolled back/);
  assert.match(stdout, /last known good +v1\n/);
  assert.match(stdout, /last known bad +v2\n/);
  assert.match(stdout, /running +v1: 600\n/);
});

test("--json prints only the summary, as JSON, for both outcomes", () => {
  const good = cli("simulate", ...SCENARIO, "--json");
  assert.equal(good.status, 0, good.stderr);
  const summary = JSON.parse(good.stdout);
  assert.equal(summary.outcome, "rolled_out");
  assert.equal(summary.version, "v2");
  assert.equal(summary.lastKnownGoodVersion, "v2");
  assert.equal(summary.targets, 600);
  assert.equal(summary.targetsTouched, 600);
  // Batches of 10%: never more than 60 in flight, and it got there.
  assert.equal(summary.peakInFlight, 60);
  assert.deepEqual(summary.running, { v2: 600 });
  assert.deepEqual(summary.reasons, { succeeded: 600 });
  // 600 targets in 10 batches, each needing more than 60 s healthy after a
  // report delay of 10 to 30 s, take several minutes of virtual time.
  assert.ok(summary.virtualSecs > 600 && summary.virtualSecs < 3600, `${summary.virtualSecs} s`);
  assert.equal(summary.steps, summary.virtualSecs / 10 + 1);

  const bad = cli("simulate", ...SCENARIO, "--json", "--fail", "v2:0.1", "--stuck", "v2:2%", "--seed", "7");
  assert.equal(bad.status, 0, bad.stderr);
  const failed = JSON.parse(bad.stdout);
  assert.equal(failed.outcome, "rolled_back");
  assert.equal(failed.lastKnownBadVersion, "v2");
  assert.equal(failed.lastKnownGoodVersion, "v1");
  assert.deepEqual(failed.running, { v1: 600 });
  // Rolled back before the whole fleet was touched.
  assert.ok(failed.targetsTouched < 600, `${failed.targetsTouched} touched`);
});

test("the same flags give the same run; another seed gives another", () => {
  const args = ["simulate", ...SCENARIO, "--json", "--fail", "v2:3%", "--late", "v2:2%", "--flap", "v2:1%"];
  const a = cli(...args).stdout;
  assert.equal(cli(...args).stdout, a);
  assert.notEqual(cli(...args, "--seed", "99").stdout, a);
});

test("operator actions: a later version set mid-run rolls out after the first", () => {
  const { status, stdout, stderr } = cli("simulate", ...SCENARIO, "--json", "--set", "v3@300");
  assert.equal(status, 0, stderr);
  const summary = JSON.parse(stdout);
  assert.equal(summary.version, "v3");
  assert.equal(summary.outcome, "rolled_out");
  assert.deepEqual(summary.running, { v3: 600 });

  const forced = JSON.parse(cli("simulate", ...SCENARIO, "--json", "--force", "v3@120").stdout);
  assert.equal(forced.outcome, "rolled_out");
  assert.equal(forced.lastKnownBadVersion, "v2", "forcing abandons v2 as bad");
  assert.deepEqual(forced.running, { v3: 600 });
});

test("plan, error budget, watch window and timed controls; --events prints the engine's log", () => {
  const gated = cli("simulate", "--targets", "200", "--steps", "1:300,10%,50%:approve,100%", "--pause", "100", "--resume", "400", "--approve", "1500", "--events");
  assert.equal(gated.status, 0, gated.stderr);
  assert.match(gated.stdout, /outcome +v2 rolled out/);
  const log = gated.stdout.slice(gated.stdout.indexOf("event log"));
  for (const line of [/paused +v2 +nothing new moves/, /resumed +v2 +paused for 300s/, /step_started +v2 +step 2 of 4: 19 more targets, 20 of 200 in all/,
    /approval_requested +v2 +step 3 of 4 waits/, /\+25m 00s +approved/, /version_good +v2/, /and per target: (\d+ target_succeeded, )?\d+ target_assigned/]) {
    assert.match(log, line);
  }

  // The budget is exceeded, not reached: with F never-healthy targets a
  // budget of F rolls out and one of F - 1 rolls back.
  const budget = (max) => JSON.parse(cli("simulate", "--targets", "500", "--success-percent", "100", "--max-failures", max, "--fail", "v2:2%", "--json").stdout);
  const failed = budget("100").reasons.failed_unhealthy;
  assert.ok(failed > 3, `${failed} failed`);
  assert.equal(budget(String(failed)).outcome, "rolled_out");
  assert.equal(budget(String(failed - 1)).outcome, "rolled_back");

  // A watch window keeps the run open until it passes (failures inside it
  // are tests/controls.rs's and controls.test.mjs's to walk).
  const plain = JSON.parse(cli("simulate", "--targets", "300", "--json").stdout);
  const watched = JSON.parse(cli("simulate", "--targets", "300", "--watch", "3600", "--json", "--events").stdout);
  assert.equal(watched.outcome, "rolled_out");
  assert.ok(watched.virtualSecs > 3600 && watched.virtualSecs > plain.virtualSecs + 3000, `${watched.virtualSecs} s vs ${plain.virtualSecs} s`);
  assert.ok(watched.events.some((e) => e.kind === "watch_ended"));
  assert.deepEqual(watched.history.map((r) => r.outcome), ["succeeded", "succeeded"]);

  // An abort mid-rollout rolls back at once (all moved targets together).
  const aborted = JSON.parse(cli("simulate", "--targets", "300", "--abort", "300", "--json").stdout);
  assert.equal(aborted.outcome, "rolled_back");
});

test("--error-timeout fails crash-looping targets before the deadline", () => {
  const run = (...flags) => JSON.parse(cli("simulate", "--targets", "100", "--fail", "v2:100%", "--duration-timeout", "900", "--report-delay", "0", ...flags, "--json").stdout);
  const plain = run();
  const quick = run("--error-timeout", "30");
  assert.equal(plain.outcome, "rolled_back");
  assert.equal(quick.outcome, "rolled_back");
  assert.ok(quick.virtualSecs + 800 <= plain.virtualSecs, `${quick.virtualSecs} s vs ${plain.virtualSecs} s`);
  assert.equal(cli("simulate", "--error-timeout", "soon").status, 2);
});

test("a run that cannot settle in --max-time says so and exits 1", () => {
  const { status, stdout } = cli("simulate", ...SCENARIO, "--json", "--max-time", "60");
  assert.equal(status, 1);
  assert.equal(JSON.parse(stdout).outcome, "unsettled");
});

test("bad flags: one line on stderr naming the flag and what it accepts, exit code 2", () => {
  const cases = [
    [["simulate", "--bogus"], /^unknown flag --bogus /],
    [[], /^missing command: simulate or serve/],
    [["deploy"], /^unknown command "deploy"/],
    [["simulate", "extra-positional"], /^unexpected argument "extra-positional" after simulate/],
    [["simulate", "--targets", "ten"], /^--targets must be a whole number from 1 to 1,000,000, got "ten"/],
    [["simulate", "--targets", "0"], /^--targets must be a whole number from 1 to 1,000,000, got "0"/],
    [["simulate", "--targets"], /^--targets needs a value/],
    [["simulate", "--batch-percent", "0"], /^--batch-percent must be a whole number from 1 to 100, got "0"/],
    [["simulate", "--rollback-batch-percent", "0"], /^--rollback-batch-percent must be a whole number from 1 to 100/],
    [["simulate", "--fail", "v2"], /^--fail must look like VERSION:0.05 or VERSION:5%/],
    [["simulate", "--fail", "v2:150%"], /^--fail v2:150%: the share must be at most 1/],
    [["simulate", "--fail", "v2:0.6", "--stuck", "v2:0.6"], /^--fail, --late, --flap, --stuck: the failure shares of v2 add up to 1.2/],
    [["simulate", "--set", "v3"], /^--set must look like VERSION@SECONDS/],
    [["simulate", "--success-percent", "150"], /^--success-percent must be a whole number from 0 to 100/],
    [["simulate", "--success-timeout", "600", "--duration-timeout", "300"], /^--duration-timeout: .*durationTimeoutSecs/],
    [["simulate", "--groups", "a,a"], /^--groups: groups must be distinct/],
    [["simulate", "--json=yes"], /^--json takes no value/],
    [["simulate", "--steps", "1,10%"], /^--steps: .*steps\[1\].*cannot reach every target/],
    [["simulate", "--steps", "1:soon,100%"], /^--steps: step "1:soon" must look like SIZE\[:BAKESECS\]\[:approve\]/],
    [["simulate", "--max-failures", "lots"], /^--max-failures: the budget must be a count like 5 or a percentage like 10%/],
    [["simulate", "--pause", "soon"], /^--pause must be a whole number/],
    [["simulate", "--rollback-to", "v1"], /^--rollback-to must look like VERSION@SECONDS/],
    [["serve", "--max-entities", "0"], /^--max-entities must be a whole number from 1 to 100,000,000, got "0"/],
    [["serve", "--max-streams", "many"], /^--max-streams must be a whole number/],
  ];
  for (const [args, message] of cases) {
    const { status, stdout, stderr } = cli(...args);
    assert.equal(status, 2, `${args.join(" ")}: exit ${status}\n${stderr}`);
    assert.equal(stdout, "", args.join(" "));
    const lines = stderr.trimEnd().split("\n");
    assert.equal(lines.length, 1, `${args.join(" ")}: one line, got\n${stderr}`);
    assert.match(lines[0].replace(/^orchestrator-engine( serve)?: /, ""), message, args.join(" "));
    assert.match(lines[0], /\(--help lists every flag\)$/, args.join(" "));
  }
});

test("in flight and rolling back are counted apart: a 10% batch never shows more than 10% in flight", () => {
  const run = JSON.parse(cli("simulate", "--targets", "2000", "--batch-percent", "10", "--fail", "v2:30%", "--json").stdout);
  assert.equal(run.outcome, "rolled_back");
  assert.ok(run.peakInFlight <= 200, `peak in flight ${run.peakInFlight}, the batch is 200`);
  assert.ok(run.peakRollingBack > 200, `a rollback sends every moved target back at once (${run.peakRollingBack})`);
  const lines = cli("simulate", "--targets", "2000", "--batch-percent", "10", "--fail", "v2:30%").stdout;
  assert.match(lines, /rolling back \d+/);
  assert.match(lines, /peak in flight +\d+\npeak rolling back +\d+\n/);
});

test("--help and --version", () => {
  // Alone: the commands, and where each one's options are.
  const overview = cli("--help");
  assert.equal(overview.status, 0);
  assert.match(overview.stdout, /^ {2}simulate /m);
  assert.match(overview.stdout, /^ {2}serve /m);
  assert.match(overview.stdout, /\/dashboard\/ and the rollout simulator/);
  const help = cli("simulate", "--help");
  assert.equal(help.status, 0);
  assert.match(help.stdout, /--batch-percent P/);
  assert.match(help.stdout, /--fail VERSION:SHARE/);
  const serve = cli("serve", "--help");
  assert.equal(serve.status, 0);
  assert.match(serve.stdout, /live dashboard at \/dashboard\//);
  assert.match(serve.stdout, /simulator at \/simulator\//);
  const version = cli("--version");
  assert.equal(version.stdout.trim(), pkg.version);
});

test("on a terminal: one bar per version, redrawn in place", async () => {
  const { main } = await import("../../js/cli.mjs");
  let out = "";
  const stdout = { isTTY: true, write: (text) => { out += text; } };
  const stderr = { write: (text) => assert.fail(text) };
  // Paced (10,000 virtual seconds a second, some 0.2 s in all), so that redraws (at most every 50 ms)
  // happen while v2 is on the fleet however fast the machine is.
  assert.equal(await main(["simulate", ...SCENARIO, "--fail", "v2:10%", "--speed", "10000"], { stdout, stderr }), 0);
  // Redraws move the cursor up over the previous bars and clear each line.
  assert.match(out, /\x1b\[\d+A/);
  assert.match(out, /\x1b\[2K {2}v1 {2}[█░]{30} {2}\d+\/600/);
  assert.match(out, /\x1b\[2K {2}v2 {2}[█░]{30} {2}\d+\/600/);
  // The last frame, drawn when the run ended: everything back on v1.
  const last = out.slice(out.lastIndexOf("\x1b[2K  v1"));
  assert.match(last, /^\x1b\[2K {2}v1 {2}█{30} {2}600\/600\n/);
  assert.match(out, /outcome +v2 rolled back/);
});

test("the simulators page's terminal example is what the command prints (REGENERATE_README=1 rewrites it)", async () => {
  const { main } = await import("../../js/cli.mjs");
  const readmePath = new URL("../../docs/SIMULATORS.md", import.meta.url);
  const readme = readFileSync(readmePath, "utf8");
  const section = /## In a terminal: `npx orchestrator-engine simulate`\n\n```sh\n([\s\S]*?)\n```\n\n```\n([\s\S]*?)```\n/.exec(readme);
  assert.ok(section, "docs/SIMULATORS.md has the terminal example: a sh block, then its output");
  const args = section[1].replace(/\\\n\s*/g, " ").trim().split(/\s+/);
  assert.deepEqual(args.slice(0, 2), ["npx", "orchestrator-engine"]);
  let out = "";
  const stdout = { isTTY: true, write: (text) => { out += text; } };
  assert.equal(await main(args.slice(2), { stdout, stderr: { write: (text) => assert.fail(text) } }), 0);
  // What the terminal shows at the end (its cursor moves and line clears
  // applied), after the "simulating ..." line: the last frame, then the summary.
  const shown = terminalScreen(out).slice(1).join("\n");
  if (process.env.REGENERATE_README) {
    writeFileSync(readmePath, readme.replace(section[2], shown));
    return;
  }
  assert.equal(section[2], shown);
});

/** The lines a terminal shows after `out` (cursor up, clear line and newlines applied). */
function terminalScreen(out) {
  const lines = [""];
  let row = 0;
  for (const token of out.split(/(\x1b\[\d*[A-Z]|\n)/)) {
    if (!token) continue;
    const escape = /^\x1b\[(\d*)([A-Z])$/.exec(token);
    if (token === "\n") {
      row += 1;
      if (row === lines.length) lines.push("");
    } else if (escape?.[2] === "A") {
      row = Math.max(0, row - Number(escape[1] || 1));
    } else if (escape?.[2] === "K") {
      lines[row] = "";
    } else if (!escape) {
      lines[row] += token;
    }
  }
  return lines;
}

test("simulate --analysis judges a template from the fleet model, and says how each metric measured", () => {
  const dir = mkdtempSync(join(tmpdir(), "analysis-"));
  try {
    const template = join(dir, "template.json");
    const metric = (name, query, threshold) => ({
      name,
      interval: "1m",
      initialDelay: "2m",
      successCondition: `result[0] < ${threshold}`,
      provider: { prometheus: { address: "http://prometheus:9090", query } },
    });
    writeFileSync(template, JSON.stringify({ spec: { metrics: [metric("error-rate", "errors", 0.05), metric("p99", "request_duration_p99_ms", 500)] } }));
    const slow = cli("simulate", "--targets", "200", "--analysis", template, "--latency", "v2:250");
    assert.equal(slow.status, 0, slow.stderr);
    assert.match(slow.stdout, /outcome {12}v2 rolled back/);
    assert.match(slow.stdout, /background analysis of v2: failed: metric "p99" assessed failed due to failed \(1\) > failureLimit \(0\)/);
    assert.match(slow.stdout, /^ {2}error-rate: successful; measured \[0\.01\]/m);
    const fine = cli("simulate", "--targets", "200", "--analysis", template, "--latency", "v2:120", "--json");
    assert.equal(JSON.parse(fine.stdout).outcome, "rolled_out");
    assert.equal(JSON.parse(fine.stdout).analysis[0].phase, "successful");
    const bad = cli("simulate", "--analysis", join(dir, "missing.json"));
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--analysis: cannot read .*missing\.json: ENOENT/);
    const invalid = cli("simulate", "--latency", "v2");
    assert.match(invalid.stderr, /--latency must look like VERSION:MS/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
