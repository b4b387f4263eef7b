// The browser rollout simulator (www/), served the way `npm start` serves
// it, driven through its controls in Debian's headless Chromium.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { serve, WWW } from "../../scripts/serve.mjs";
import { OUTPUT, launch, pageWithErrors } from "./chromium.mjs";

const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url)));
let server, browser, base;

before(async () => {
  server = await serve(WWW, { port: 0 });
  base = `http://127.0.0.1:${server.address().port}/`;
  browser = await launch({ viewport: { width: 1400, height: 1000 } });
});

after(async () => {
  await browser?.close();
  server?.close();
});

async function open() {
  const { page, errors } = await pageWithErrors(browser.context);
  await page.goto(base);
  await page.waitForSelector("body[data-ready=true]", { timeout: 20_000 });
  return { page, errors };
}

/** Fills the scenario form (failure shares in percent) and starts a new run. */
async function configure(page, { targets, failures = {}, options = {} }) {
  await page.fill("#targets", String(targets));
  for (const [field, value] of Object.entries(options)) await page.fill(`#${field}`, String(value));
  for (const row of ["current", "target", "next"]) {
    for (const kind of ["unhealthy", "late", "flap", "stuck"]) {
      await page.fill(`#${row}-${kind}`, String(failures[row]?.[kind] ?? 0));
    }
  }
  await page.click("#reset");
  await page.waitForFunction((n) => document.getElementById("info-step").textContent === "0" &&
    document.getElementById("counts").textContent.endsWith(` ${n}`), Number(targets).toLocaleString("en-US"));
}

async function topSpeed(page) {
  await page.$eval("#speed", (el) => {
    el.value = el.max;
    el.dispatchEvent(new Event("input"));
  });
  assert.equal(await page.textContent("#speed-label"), "10,000×");
}

async function runToEnd(page) {
  await page.click("#play");
  await page.waitForSelector('#outcome:is([data-outcome="rolled_out"], [data-outcome="rolled_back"], [data-outcome="halted"])', { timeout: 90_000 });
  return page.getAttribute("#outcome", "data-outcome");
}

/** What the page shows, and every target's state in the running simulation. */
function state(page) {
  return page.evaluate(async () => {
    const text = (id) => document.getElementById(id).textContent;
    const shown = {
      step: text("info-step"), time: text("info-time"), target: text("info-target"),
      lkg: text("info-lkg"), lkb: text("info-lkb"), counts: text("counts"),
    };
    return { shown, ...(await window.simulator.state()) };
  });
}

/** Clicks Step `times` times, each time waiting for the page to show the step. */
async function step(page, times = 1) {
  for (let i = 0; i < times; i++) {
    const next = String(Number((await page.textContent("#info-step")).replaceAll(",", "")) + 1);
    await page.click("#step");
    await page.waitForFunction((n) => document.getElementById("info-step").textContent === n, next);
  }
}

/** Waits until the element's text matches. */
async function shows(page, selector, pattern) {
  await page.waitForFunction(([sel, source]) => new RegExp(source).test(document.querySelector(sel).textContent), [selector, pattern.source]);
  return page.textContent(selector);
}

test("the page loads the engine with no console errors and draws targets on a canvas", async () => {
  const { page, errors } = await open();
  assert.equal(await page.textContent("#engine-version"), pkg.version);
  assert.equal(await page.inputValue("#targets"), "2000");
  // 20,000 targets are cells of one canvas, not 20,000 DOM nodes.
  await configure(page, { targets: 20_000 });
  await step(page, 2);
  const dom = await page.evaluate(() => ({
    nodes: document.querySelectorAll("*").length,
    canvas: document.getElementById("grid").height,
    inFlight: document.getElementById("info-inflight").textContent,
  }));
  assert.ok(dom.nodes < 1500, `${dom.nodes} DOM nodes`);
  assert.ok(dom.canvas > 100, `grid canvas ${dom.canvas}px high`);
  assert.equal(dom.inFlight, "2,000", "a batch of 10% is in flight");
  assert.deepEqual(errors, []);
});

test("a 500-target rollout at top speed ends with v2 last known good on every target", async () => {
  const { page, errors } = await open();
  await configure(page, { targets: 500 });
  await topSpeed(page);
  assert.equal(await runToEnd(page), "rolled_out");
  const { shown, summary } = await state(page);
  assert.equal(shown.lkg, "v2");
  assert.equal(shown.lkb, "");
  assert.equal(shown.counts, "v2 500");
  assert.match(await page.textContent("#outcome"), /^v2 rolled out in \d+m \d\ds$/);
  assert.deepEqual(summary.running, { v2: 500 });
  assert.equal(summary.peakInFlight, 50);
  const log = await page.textContent("#log");
  assert.match(log, /50 targets assigned v2/);
  assert.match(log, /v2 is now last known good/);
  assert.match(log, /v2 rolled out after/);
  await page.screenshot({ path: join(OUTPUT, "simulator-rolled-out.png"), fullPage: true });
  assert.deepEqual(errors, []);
});

test("injected failures make v2 last known bad and bring every target back to v1", async () => {
  const { page, errors } = await open();
  await configure(page, { targets: 500, failures: { target: { unhealthy: 15 } } });
  await topSpeed(page);
  assert.equal(await runToEnd(page), "rolled_back");
  const { shown, summary, fleet } = await state(page);
  assert.equal(shown.lkb, "v2");
  assert.equal(shown.lkg, "v1");
  assert.equal(shown.counts, "v1 500");
  assert.equal(summary.outcome, "rolled_back");
  assert.ok(fleet.every((line) => / v1 - v1 succeeded$/.test(line)), fleet.find((line) => !/ v1 - v1 succeeded$/.test(line)));
  const log = await page.textContent("#log");
  assert.match(log, /failed on v2: reporting errors/);
  assert.match(log, /crash loop/, "the engine's reason is in the log");
  assert.match(log, /v2 is now last known bad: \d+ of \d+ targets? failed; \d+ failures? makes? it bad; rolling back to v1/);
  assert.match(log, /sent back to v1/);
  await page.screenshot({ path: join(OUTPUT, "simulator-rolled-back.png"), fullPage: true });
  assert.deepEqual(errors, []);
});

test("a run saved mid-way, loaded into a reloaded page, continues to the same end state", async () => {
  const { page, errors } = await open();
  const scenario = { targets: 500, failures: { target: { unhealthy: 3, late: 2, flap: 1, stuck: 1 } } };
  // The reference: the same scenario run without interruption.
  await configure(page, scenario);
  await topSpeed(page);
  await runToEnd(page);
  const reference = await state(page);

  await configure(page, scenario);
  await step(page, 25);
  const mid = await state(page);
  assert.equal(mid.shown.step, "25");
  assert.equal(mid.summary.outcome, "unsettled");
  await page.screenshot({ path: join(OUTPUT, "simulator-mid-run.png"), fullPage: true });
  const download = page.waitForEvent("download");
  await page.click("#save");
  const file = join(OUTPUT, "simulator-mid-run.json");
  await (await download).saveAs(file);
  const saved = JSON.parse(readFileSync(file, "utf8"));
  assert.equal(saved.format, "orchestrator-engine/simulation");
  assert.equal(saved.scenario.targets, 500);
  assert.ok(saved.snapshot.length > 100, "the engine snapshot is in the file");

  await page.reload();
  await page.waitForSelector("body[data-ready=true]");
  assert.equal(await page.inputValue("#targets"), "2000", "a fresh page starts from the defaults");
  await page.setInputFiles("#load", file);
  await page.waitForFunction(() => document.getElementById("info-step").textContent === "25");
  const loaded = await state(page);
  assert.deepEqual(loaded.fleet, mid.fleet);
  assert.deepEqual(loaded.shown, mid.shown);
  assert.equal(await page.inputValue("#targets"), "500", "the form shows the loaded scenario");
  assert.equal(await page.inputValue("#target-stuck"), "1");
  assert.match(await page.textContent("#log"), /v1 is last known good on 500 targets/, "the log was saved too");

  await topSpeed(page);
  await runToEnd(page);
  const end = await state(page);
  assert.deepEqual(end.summary, reference.summary);
  assert.deepEqual(end.fleet, reference.fleet);
  assert.deepEqual(end.shown, reference.shown);
  await page.screenshot({ path: join(OUTPUT, "simulator-loaded-and-finished.png"), fullPage: true });
  assert.deepEqual(errors, []);
});

test("forcing a later version mid-run rolls the current one back and the later one out", async () => {
  const { page, errors } = await open();
  await configure(page, { targets: 300 });
  await step(page, 8);
  assert.equal(await page.inputValue("#action-version"), "v3");
  await page.click("#force-version");
  await shows(page, "#info-target", /^v3$/);
  await step(page);
  assert.equal(await page.textContent("#info-lkb"), "v2", "the abandoned rollout is last known bad");
  await topSpeed(page);
  assert.equal(await runToEnd(page), "rolled_out");
  const { shown } = await state(page);
  assert.equal(shown.lkg, "v3");
  assert.equal(shown.counts, "v3 300");
  assert.match(await page.textContent("#log"), /target version forced to v3/);
  await page.screenshot({ path: join(OUTPUT, "simulator-forced.png"), fullPage: true });
  assert.deepEqual(errors, []);
});

test("the engine's controls from the page: a plan with a gate, pause, approve, abort; the event log shows them", async () => {
  const { page, errors } = await open();
  await configure(page, { targets: 400, options: { steps: "1:120,10%,50%:approve,100%", watchSecs: 0 } });
  await step(page, 3);
  await page.click('[data-control="pause"]');
  await shows(page, "#info-state", /paused · step 1 of 4/);
  await step(page, 5);
  await shows(page, "#events", /paused/);
  await page.click('[data-control="pause"]');
  await shows(page, "#control-result", /pause: nothing to do/);
  await page.click('[data-control="resume"]');
  await topSpeed(page);
  await page.click("#play");
  await shows(page, "#info-state", /awaiting approval/, 60_000);
  await page.click("#play");
  const { fleet } = await state(page);
  assert.ok(fleet.some((line) => line.endsWith("awaiting_approval")), "targets wait for the gate");
  await shows(page, "#events", /approval_requested/);
  await page.click('[data-control="approve"]');
  assert.equal(await runToEnd(page), "rolled_out");
  assert.match(await page.textContent("#events"), /approved[\s\S]*version_good/);

  // Abort a later version mid-rollout: it rolls back at once.
  await page.fill("#action-version", "v3");
  await page.click("#set-version");
  await step(page, 4);
  await page.click('[data-control="promoteFull"]');
  await step(page, 2);
  await page.click('[data-control="abort"]');
  await shows(page, "#info-lkb", /^v3$/);
  await shows(page, "#events", /aborted/);
  await page.screenshot({ path: join(OUTPUT, "simulator-controls.png"), fullPage: true });
  assert.deepEqual(errors, []);
});

test("bad input is shown with its code and changes nothing", async () => {
  const { page, errors } = await open();
  await configure(page, { targets: 100 });
  await step(page);
  const before = await state(page);

  await page.fill("#targets", "0");
  await page.click("#reset");
  assert.match(await shows(page, "#error", /INVALID_SCENARIO/), /^INVALID_SCENARIO: targets must be an integer from 1 to 1000000, got 0/);
  await page.fill("#targets", "100");

  await page.fill("#successPercent", "150");
  await page.click("#apply-options");
  assert.match(await shows(page, "#error", /INVALID_OPTIONS/), /^INVALID_OPTIONS: .*successPercent = 150/);
  await page.fill("#successPercent", "95");

  await page.fill("#steps", "1,10%");
  await page.click("#apply-options");
  // (The error before had the same code: wait for this one's words.)
  assert.match(await shows(page, "#error", /cannot reach every target/), /^INVALID_OPTIONS: /);
  await page.fill("#steps", "");

  await page.fill("#action-version", "v9");
  await page.click("#rollback-to");
  assert.match(await shows(page, "#error", /INVALID_VERSION/), /never known good/);

  await page.fill("#action-version", "");
  await page.click("#set-version");
  assert.match(await shows(page, "#error", /INVALID_VERSION/), /^INVALID_VERSION: /);

  const garbage = join(OUTPUT, "not-a-run.json");
  writeFileSync(garbage, JSON.stringify({ format: "something else" }));
  await page.setInputFiles("#load", garbage);
  await page.waitForFunction(() => /not a saved orchestrator-engine simulation/.test(document.getElementById("error").textContent));
  const corrupt = join(OUTPUT, "corrupt-run.json");
  const download = page.waitForEvent("download");
  await page.click("#save");
  await (await download).saveAs(corrupt);
  const run = JSON.parse(readFileSync(corrupt, "utf8"));
  run.snapshot = run.snapshot.slice(0, 40);
  writeFileSync(corrupt, JSON.stringify(run));
  await page.setInputFiles("#load", corrupt);
  await page.waitForFunction(() => /^INVALID_SNAPSHOT: /.test(document.getElementById("error").textContent));

  assert.deepEqual((await state(page)).fleet, before.fleet, "the run in progress is untouched");
  await step(page);
  assert.equal(await page.isHidden("#error"), true, "a good action clears the error");
  assert.deepEqual(errors, []);
});

test("an analysis template in the form is judged from the fleet model: a slower target version is rolled back by its latency", async () => {
  const { page, errors } = await open();
  const template = {
    spec: {
      metrics: [
        { name: "p99", interval: "1m", initialDelay: "2m", successCondition: "result[0] < 500",
          provider: { prometheus: { address: "http://prometheus:9090", query: "request_duration_p99_ms" } } },
      ],
    },
  };
  await page.fill("#analysis", JSON.stringify(template));
  await page.fill("#target-latency", "250");
  await configure(page, { targets: 300 });
  await topSpeed(page);
  assert.equal(await runToEnd(page), "rolled_back");
  await page.waitForSelector("#analysis-panel:not([hidden])");
  const text = await page.textContent("#analysis-runs");
  assert.match(text, /background analysis of v2: failed: metric "p99" assessed failed due to failed \(1\) > failureLimit \(0\)/);
  assert.match(text, /p99: failed; measured \[\d+(\.\d+)?\] \(failed\)/);
  // A template that is not JSON is refused where it is typed.
  await page.fill("#analysis", "{ not json");
  await page.click("#reset");
  await page.waitForFunction(() => /INVALID_SCENARIO: the analysis template is not JSON/.test(document.getElementById("error").textContent));
  await page.fill("#analysis", "");
  await page.fill("#target-latency", "");
  assert.deepEqual(errors, []);
});
