// The dashboard says where a rollout stands: the state in a word from the
// engine's phase, a rollback after abort, countdowns between events, and why
// a version was judged bad, on entities the test drives itself.
import { test } from "node:test";
import assert from "node:assert/strict";

import { pageWithErrors } from "./chromium.mjs";
import { useDashboard } from "./dashboard.mjs";

const d = useDashboard();

test("the state in a word, from the engine's phase: a rollback goes on while paused, a rollout says what holds it", async () => {
  const { stateOf } = await import("../../www/dashboard/state.mjs");
  const info = (fields) => ({ phase: "rolling_out", paused: false, awaitingApproval: false, ...fields });
  assert.equal(stateOf(info({ phase: "halted" })), "halted");
  assert.equal(stateOf(info({ phase: "rolling_back" })), "rolling back");
  assert.equal(stateOf(info({ phase: "rolling_back", paused: true })), "rolling back", "a rollback goes on while paused");
  assert.equal(stateOf(info({ phase: "rolled_back" })), "rolled back");
  assert.equal(stateOf(info({ paused: true })), "paused");
  assert.equal(stateOf(info({ awaitingApproval: true })), "awaiting approval");
  assert.equal(stateOf(info({ frozen: "the line of prod stopped (incident)" })), "frozen");
  assert.equal(stateOf(info({ phase: "rolling_back", frozen: "window" })), "rolling back", "a rollback is never frozen");
  assert.equal(stateOf(info({ phase: "watching", frozen: "window" })), "watching");
  assert.equal(stateOf(info({})), "rolling");
  assert.equal(stateOf(info({ phase: "watching" })), "watching");
  assert.equal(stateOf(info({ phase: "rolled_out" })), "rolled out");
  assert.equal(stateOf(info({ phase: "new" })), "new");
  assert.equal(stateOf(info({ phase: "new", paused: true })), "paused", "paused before its first step");
});

test("after abort, the overview and the entity page say the same from the engine's phase: rolling back while a target is on its way back, rolled back once every one is back", async () => {
  const at = (path) => `${d.url}/v1/orchestrate/staging${path}`;
  const send = async (method, path, body) => (await fetch(at(path), { method, headers: d.write, body: JSON.stringify(body) })).json();
  let hosts = Array.from({ length: 10 }, (_, i) => ({ name: `a${i}`, group: "", version: "v1", message: "", isError: false }));
  /** One controller step; `follow`: the hosts install what they are told. */
  const step = async (follow = true) => {
    const answer = await send("POST", "/aborted", hosts);
    if (follow) hosts = hosts.map((h) => ({ ...h, version: answer.find((a) => a.name === h.name)?.version ?? h.version }));
    return answer;
  };
  await send("PUT", "/aborted/options", { batchPercent: 50, successTimeoutSecs: 0, durationTimeoutSecs: 600 });
  await send("POST", "/aborted/version", { version: "v1" });
  await step();
  await step();
  await send("POST", "/aborted/version", { version: "v2" });
  await step();
  await step();
  assert.equal(hosts.filter((h) => h.version === "v2").length, 5);
  await send("POST", "/aborted/abort");
  // Sent back, but not there yet: the hosts keep running v2.
  await step(false);
  await step(false);
  const events = await send("GET", "/aborted/events?since=0");
  assert.ok(events.some((e) => e.kind === "rollback_finished"), "the engine has sent every target back");
  assert.equal((await send("GET", "/aborted/info")).phase, "rolling_back");

  for (const open of d.context.pages()) await open.close();
  const { page, errors } = await pageWithErrors(d.context);
  await d.signIn(page, "w");
  const row = page.locator("#entities tr", { hasText: "staging / aborted" });
  await row.locator(".badge").waitFor();
  await page.waitForFunction(() => [...document.querySelectorAll("#entities tr")].some((tr) => /staging \/ aborted/.test(tr.textContent) && tr.querySelector(".badge")?.textContent));
  assert.equal(await row.locator(".badge").textContent(), "rolling back", "the overview");
  assert.equal(await row.locator("td").nth(4).textContent(), "batches of 100%", "a rollout without a plan says how it moves");
  await page.goto(`${d.url}/#/staging/aborted`);
  await page.waitForFunction(() => /^10 targets/.test(document.querySelector("#counts").textContent), null, { timeout: 10_000 });
  assert.equal(await page.textContent("#entity-state"), "rolling back", "the entity page");
  // Every target counted: the five sent back as well as the five that never moved.
  assert.match(await page.textContent("#counts"), /^10 targets: .*\), 5 on their way back; target v2/);

  // Back on v1 and judged there: rolled back, in both.
  hosts = hosts.map((h) => ({ ...h, version: "v1" }));
  await step();
  await step();
  assert.equal((await send("GET", "/aborted/info")).phase, "rolled_back");
  await page.waitForFunction(() => document.querySelector("#entity-state").textContent === "rolled back", null, { timeout: 10_000 });
  await page.goto(`${d.url}/#`);
  await page.waitForFunction(() => [...document.querySelectorAll("#entities tr")].some((tr) => /staging \/ aborted/.test(tr.textContent) && tr.querySelector(".badge")?.textContent === "rolled back"), null, { timeout: 10_000 });
  assert.deepEqual(errors, []);
  await page.close();
});

test("countdowns tick between events; a paused rollout says what holds it instead of a countdown", async () => {
  const at = (path) => `${d.url}/v1/orchestrate/staging${path}`;
  const send = async (method, path, body) => (await fetch(at(path), { method, headers: d.write, body: JSON.stringify(body) })).json();
  let hosts = Array.from({ length: 10 }, (_, i) => ({ name: `b${i}`, group: "", version: "v1", message: "", isError: false }));
  const step = async () => {
    await new Promise((resolve) => setTimeout(resolve, 50)); // the server's clock moves on between reports
    const answer = await send("POST", "/baking", hosts);
    hosts = hosts.map((h) => ({ ...h, version: answer.find((a) => a.name === h.name)?.version ?? h.version }));
  };
  await send("PUT", "/baking/options", { successTimeoutSecs: 0, durationTimeoutSecs: 600, steps: [{ size: 2, bakeSecs: 120 }, "100%"] });
  await send("POST", "/baking/version", { version: "v1" });
  await step();
  await step();
  await send("POST", "/baking/version", { version: "v2" });
  // The first step's two targets move and are judged: its bake of 2 minutes runs.
  for (let i = 0; i < 3; i++) await step();
  assert.equal(hosts.filter((h) => h.version === "v2").length, 2);

  for (const open of d.context.pages()) await open.close();
  const { page, errors } = await pageWithErrors(d.context);
  await d.signIn(page, "w");
  await page.waitForSelector("#entities a");
  await page.goto(`${d.url}/#/staging/baking`);
  const countdown = async () => {
    const text = await page.textContent("#plan li[data-status=current]");
    const match = /next step in (?:(\d+)m )?(\d+)s at the earliest/.exec(text);
    assert.ok(match, text);
    return Number(match[1] ?? 0) * 60 + Number(match[2]);
  };
  await page.waitForSelector("#plan li[data-status=current]", { timeout: 10_000 });
  const first = await countdown();
  // No event arrives meanwhile (nothing steps the entity): the page counts down by itself.
  await page.waitForTimeout(2500);
  const later = await countdown();
  assert.ok(later < first && later >= first - 4, `${first} s, then ${later} s`);
  assert.match(await page.textContent("#plan li[data-status=pending]"), /earliest start .*\(in (\d+m )?\d+s\)/);

  await send("POST", "/baking/pause");
  await page.waitForFunction(() => /paused: resume to go on; no step starts until then/.test(document.querySelector("#plan li[data-status=current]").textContent), null, { timeout: 10_000 });
  assert.doesNotMatch(await page.textContent("#plan"), /next step in|earliest start/);
  assert.match(await page.textContent("#forecast"), /v2 is paused: resume to go on/);
  // Times say their date and zone.
  assert.match(await page.textContent("#history tr td:nth-child(3)"), /^[A-Z][a-z]{2} \d+, \d{4}, .*(UTC|GMT)/);
  assert.deepEqual(errors, []);
  await page.close();
});

test("why, at the top: the error budget while a version rolls out; once it is bad, the engine's reason and the failed targets with their messages, kept after the rollback", async () => {
  const at = (path) => `${d.url}/v1/orchestrate/staging${path}`;
  const send = async (method, path, body) => (await fetch(at(path), { method, headers: d.write, body: JSON.stringify(body) })).json();
  let hosts = Array.from({ length: 10 }, (_, i) => ({ name: `f${i}`, group: "", version: "v1", message: "", isError: false }));
  const step = async () => {
    await new Promise((resolve) => setTimeout(resolve, 30));
    const answer = await send("POST", "/failing", hosts.map((h) => ({ ...h, isError: h.version === "v2" && ["f0", "f1"].includes(h.name), message: h.version === "v2" && ["f0", "f1"].includes(h.name) ? "error rate 9%" : "" })));
    hosts = hosts.map((h) => ({ ...h, version: answer.find((a) => a.name === h.name)?.version ?? h.version }));
  };
  await send("PUT", "/failing/options", { batchPercent: 20, successTimeoutSecs: 0, durationTimeoutSecs: 600, errorTimeoutSecs: 0, maxFailures: 1 });
  await send("POST", "/failing/version", { version: "v1" });
  await step();
  await step();
  for (const open of d.context.pages()) await open.close();
  const { page, errors } = await pageWithErrors(d.context);
  await d.signIn(page, "w");
  await page.waitForSelector("#entities a");
  await page.goto(`${d.url}/#/staging/failing`);
  await page.waitForFunction(() => /^10 targets/.test(document.querySelector("#counts").textContent), null, { timeout: 10_000 });
  await send("POST", "/failing/version", { version: "v2" });
  await step();
  await page.waitForFunction(() => /^Error budget: 0 failed of 1 allowed \(the version is bad at 2\)\.$/.test(document.querySelector("#why").textContent), null, { timeout: 10_000 });
  for (let i = 0; i < 20 && hosts.some((h) => h.version !== "v1" || i < 3); i++) await step();
  assert.equal((await send("GET", "/failing/info")).lastKnownBadVersion, "v2");
  assert.ok(hosts.every((h) => h.version === "v1"), "rolled back");
  await page.waitForFunction(() => /^Why: v2 was judged bad: /.test(document.querySelector("#why").textContent), null, { timeout: 10_000 });
  const why = await page.textContent("#why");
  assert.match(why, /Failed: f0 \([^)]*error rate 9%[^)]*\), f1 \([^)]*error rate 9%[^)]*\)\.$/, why);
  assert.equal(await page.getAttribute("#why", "data-verdict"), "bad");
  assert.deepEqual(errors, []);
  await page.close();
});
