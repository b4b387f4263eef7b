// The dashboard (www/dashboard/) in headless Chromium, served by the API
// server (embedded file store) while a controller drives a real rollout
// through it: live state, controls that reach the controller, the forecast
// computed in the page, tokens.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { Orchestrator } from "orchestrator-engine";
import { FileStore } from "orchestrator-engine/stores/file";
import { startServer } from "../../js/server/node.mjs";
import { OUTPUT, launch, pageWithErrors } from "./chromium.mjs";

const dir = mkdtempSync(join(tmpdir(), "dashboard-"));
let server, browser, controller;
const write = { authorization: "Bearer w" };

/** A controller process on the API (tests/js/servers/http-controller.mjs), every 250 ms; `answers` keeps what it was told. */
function drive(url) {
  const script = fileURLToPath(new URL("./servers/http-controller.mjs", import.meta.url));
  const child = spawn(process.execPath, [script, url, "w", "prod", "api", "40", "v3", "250"], { stdio: ["ignore", "pipe", "inherit"] });
  const state = { answers: [] };
  let buffered = "";
  child.stdout.on("data", (chunk) => {
    buffered += chunk;
    const lines = buffered.split("\n");
    buffered = lines.pop();
    for (const line of lines) state.answers.push(JSON.parse(line));
  });
  state.stop = () => new Promise((resolve) => (child.exitCode !== null ? resolve() : (child.once("exit", resolve), child.kill("SIGTERM"))));
  return state;
}

const post = (path, body) => fetch(`${server.url}/v1/orchestrate/prod/api${path}`, { method: "POST", headers: write, body: JSON.stringify(body) });
const get = async (path, auth = write) => (await fetch(`${server.url}/v1/orchestrate/prod/api${path}`, { headers: auth })).json();

before(async () => {
  server = await startServer({ port: 0, store: new FileStore(dir), token: "w", readToken: "r", pollMs: 100, log: () => {} });
  await post("/options", { batchpercent: 10, successpercent: 100, successtimeoutsecs: 1, durationtimeoutsecs: 5 });
  await post("/version", { version: "v1" });
  controller = drive(server.url);
  for (const deadline = Date.now() + 30_000; !(await get("/rollout")).lastknowngoodversion; ) {
    if (Date.now() > deadline) throw new Error("the controller did not make v1 good within 30 s");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await post("/version", { version: "v2" });
  browser = await launch();
});

after(async () => {
  await controller?.stop();
  await browser?.close();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function signIn(page, token) {
  await page.goto(`${server.url}/`);
  await page.waitForSelector("#login:not([hidden])");
  await page.fill("#token", token);
  await page.click("#login button[type=submit]");
}

/** Accepts each confirmation the page asks for, keeping its text. */
function acceptDialogs(page) {
  const asked = [];
  page.on("dialog", (dialog) => {
    asked.push(dialog.message());
    dialog.accept();
  });
  return asked;
}

test("the overview lists the rollout live; the entity shows its targets, plan, events; pause and resume reach the controller", async () => {
  const { page, errors } = await pageWithErrors(browser.context);
  const asked = acceptDialogs(page);
  const requests = [];
  page.on("request", (request) => requests.push(new URL(request.url()).pathname));
  await signIn(page, "w");
  await page.waitForSelector("#entities a");
  assert.equal(await page.textContent("#entities a"), "prod / api");
  await page.waitForFunction(() => document.querySelector("#entities .badge")?.textContent === "rolling", null, { timeout: 10_000 });
  assert.equal(await page.textContent("#access"), "can steer");
  // A new entity shows up by itself: the overview follows the server's stream of every entity's events.
  await fetch(`${server.url}/v1/orchestrate/staging/web/version`, { method: "POST", headers: write, body: JSON.stringify({ version: "w1" }) });
  await page.waitForFunction(() => [...document.querySelectorAll("#entities a")].some((a) => a.textContent === "staging / web"), null, { timeout: 10_000 });
  await page.waitForFunction(() => [...document.querySelectorAll("#entities tr")].at(-1)?.querySelector(".badge")?.textContent === "new", null, { timeout: 10_000 });
  assert.ok(requests.includes("/v1/orchestrate/events/stream"));
  assert.ok(!requests.includes("/v1/orchestrate/namespaces"), "the overview does not poll the listing");
  await page.screenshot({ path: join(OUTPUT, "dashboard-overview.png") });
  await page.click("#entities a >> text=prod / api");
  await page.waitForSelector("#entity:not([hidden])");
  await page.waitForFunction(() => document.querySelectorAll("#events li").length > 3, null, { timeout: 10_000 });
  assert.match(await page.textContent("#counts"), /^40 targets: \d+ in flight, \d+ succeeded, \d+ failed/);
  assert.ok((await page.locator("#plan li").count()) >= 1);
  assert.ok(await page.evaluate(() => document.querySelector("#grid").height > 0));
  // Each target's state by keyboard too.
  await page.focus("#grid");
  await page.keyboard.press("Home");
  assert.match(await page.textContent("#target-tip"), /^eu\/h00: /);
  await page.keyboard.press("ArrowRight");
  assert.match(await page.textContent("#target-tip"), /^eu\/h02: /);
  // A new event shows within a few seconds.
  const before = await page.locator("#events li").count();
  await page.waitForFunction((n) => document.querySelectorAll("#events li").length > n, before, { timeout: 10_000 });
  // Pause from the page: the controller is told nothing new.
  await page.click("[data-control=pause]");
  await page.waitForFunction(() => document.querySelector("#entity-state").textContent === "paused", null, { timeout: 10_000 });
  assert.equal((await get("/info")).paused, true);
  // Watched over the controller's next steps, not a length of time.
  const paused = controller.answers.length;
  for (const deadline = Date.now() + 15_000; controller.answers.length < paused + 3; ) {
    if (Date.now() > deadline) throw new Error("the controller took no 3 steps within 15 s");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const moving = (answer) => answer.filter((v) => v === "v2").length;
  const after = controller.answers.slice(paused);
  assert.ok(after.length >= 2 && after.every((a) => moving(a) === moving(after[0])), "no target moves while paused");
  await page.click("[data-control=resume]");
  await page.waitForFunction(() => document.querySelector("#entity-state").textContent !== "paused", null, { timeout: 10_000 });
  assert.equal((await get("/info")).paused, false);
  // The forecast computed in the page is plan() of the same snapshot in Node.
  await page.waitForFunction(() => window.__forecast, null, { timeout: 10_000 });
  const [inPage, snapshot] = await Promise.all([page.evaluate(() => window.__forecast), fetch(`${server.url}/v1/orchestrate/prod/api/snapshot`, { headers: write }).then((r) => r.arrayBuffer())]);
  const engine = Orchestrator.restore(new Uint8Array(snapshot));
  const inNode = engine.plan("prod", "api");
  engine.free();
  const shape = (plan) => ({ version: plan.version, fleet: plan.fleet, steps: plan.steps.map(({ index, size, targets, cumulative }) => ({ index, size, targets, cumulative })) });
  assert.deepEqual(shape(inPage), shape(inNode));
  await page.screenshot({ path: join(OUTPUT, "dashboard-entity.png"), fullPage: true });
  // A version that fails, set from the page: the page shows the rollback
  // as it happens, and its end in the history.
  await page.waitForFunction(() => document.querySelector("#entity-state").textContent === "rolled out", null, { timeout: 30_000 });
  await page.fill("#version", "v3");
  await page.click("[data-control=version]");
  assert.equal(asked.at(-1), "prod/api: Roll out v3?");
  await page.waitForFunction(() => document.querySelector("#entity-state").textContent === "rolled back", null, { timeout: 30_000 });
  await page.waitForFunction(() => document.querySelector('#history tr[data-version="v3"]')?.dataset.outcome === "failed", null, { timeout: 30_000 });
  assert.ok(await page.locator("#events li[data-kind=rollback_started]").count() >= 1, "the rollback streamed in");
  await page.waitForFunction(() => /v3 failed and was rolled back/.test(document.querySelector("#forecast").textContent), null, { timeout: 10_000 });
  assert.equal((await get("/rollout")).lastknownbadversion, "v3");
  assert.ok(controller.answers.at(-1).every((v) => v === "v2"), "the controller's fleet is back on v2");
  assert.deepEqual(errors, []);
});

test("on a phone-width screen nothing runs off the side", async () => {
  const { page, errors } = await pageWithErrors(browser.context);
  await page.setViewportSize({ width: 390, height: 844 });
  await signIn(page, "w");
  await page.waitForSelector("#entities a");
  // Rows fill in as each entity is read: name the one wanted, not whichever came first.
  await page.click("#entities a >> text=prod / api");
  await page.waitForFunction(() => document.querySelectorAll("#events li").length > 3, null, { timeout: 10_000 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `the page is ${overflow} px wider than the screen`);
  // The overview keeps the bad version in sight on a phone.
  await page.goto(`${server.url}/#`);
  await page.waitForSelector("#entities a");
  assert.ok(await page.isVisible("#overview th:nth-child(7)"), "the Bad column");
  assert.equal(await page.textContent("#overview th:nth-child(7)"), "Bad");
  assert.ok(await page.isVisible("#overview th:nth-child(3)"), "the Progress column");
  await page.goto(`${server.url}/#/prod/api`);
  await page.waitForFunction(() => document.querySelectorAll("#events li").length > 3, null, { timeout: 10_000 });
  assert.ok(await page.isVisible("[data-control=pause]"));
  await page.screenshot({ path: join(OUTPUT, "dashboard-phone.png"), fullPage: true });
  assert.deepEqual(errors, []);
});

test("a read-only token sees no controls; a bad token gets the sign-in form again; without the stream of every entity's events, the overview polls", async () => {
  const { page, errors } = await pageWithErrors(browser.context);
  // A server without that stream (as the Worker): 404.
  await page.route("**/v1/orchestrate/events/stream", (route) =>
    route.fulfill({ status: 404, contentType: "application/json", body: JSON.stringify({ status: "error", code: "NOT_FOUND_ROUTE", message: "no route" }) }),
  );
  await signIn(page, "r");
  await page.waitForSelector("#entities a");
  await fetch(`${server.url}/v1/orchestrate/staging/polled/version`, { method: "POST", headers: write, body: JSON.stringify({ version: "p1" }) });
  await page.waitForFunction(() => [...document.querySelectorAll("#entities a")].some((a) => a.textContent === "staging / polled"), null, { timeout: 10_000 });
  assert.equal(await page.textContent("#access"), "read only");
  await page.click("#entities a >> text=prod / api");
  await page.waitForSelector("#entity:not([hidden])");
  assert.equal(await page.isVisible("#controls"), false);
  assert.equal(await page.isVisible("#options"), false);
  assert.equal(await page.locator("[data-control]:visible").count(), 0, "no control is visible to a reader");
  const other = await pageWithErrors(browser.context);
  await other.page.goto(`${server.url}/`);
  await other.page.evaluate(() => sessionStorage.setItem("orchestrator-token", "wrong"));
  await other.page.reload();
  await other.page.waitForSelector("#login:not([hidden])");
  assert.match(await other.page.textContent("#login-why"), /not accepted/);
  // The 404 the browser logs for the stream it tried is the only console error.
  assert.ok(errors.length === 1 && /404/.test(errors[0]), errors.join("\n"));
  // The 401 the browser logs for the rejected token is the only console error.
  assert.ok(other.errors.every((e) => /401/.test(e)), other.errors.join("\n"));
});

test("the options form sets every option by name and shows the engine's refusal; what if runs in the page from the live state", async () => {
  const at = (path) => `${server.url}/v1/orchestrate/staging${path}`;
  const send = (method, path, body) => fetch(at(path), { method, headers: write, body: JSON.stringify(body) });
  const fleet = (version) => Array.from({ length: 20 }, (_, i) => ({ name: `w${i}`, group: i % 2 ? "b" : "a", version, message: "", isError: false }));
  // The fleet runs w1 (adopted as good); w2 is under way, its first batch assigned.
  await send("POST", "/web", fleet("w1"));
  await send("POST", "/web/version", { version: "w2" });
  await send("POST", "/web", fleet("w1"));
  const { page, errors } = await pageWithErrors(browser.context);
  const asked = acceptDialogs(page);
  await signIn(page, "w");
  await page.waitForSelector("#entities a");
  await page.goto(`${server.url}/#/staging/web`);
  await page.waitForFunction(() => /^20 targets/.test(document.querySelector("#counts").textContent), null, { timeout: 10_000 });
  await page.click("#options summary");
  assert.equal(await page.inputValue("#option-batchPercent"), "5", "the form shows the entity's options");
  await page.fill("#option-maxFailures", "3");
  await page.fill("#option-steps", "1:30,50%:approve,100%");
  await page.click("#options-form button[type=submit]");
  await page.waitForFunction(() => /approval gate/.test(document.querySelector("#plan").textContent), null, { timeout: 10_000 });
  assert.equal(await page.inputValue("#option-steps"), "1:30,50%:approve,100%");
  const { options } = await (await fetch(at("/web/info"), { headers: write })).json();
  assert.equal(options.maxFailures, 3);
  assert.deepEqual(options.steps, [{ size: 1, bakeSecs: 30, approval: false }, { size: "50%", bakeSecs: 0, approval: true }, { size: "100%", bakeSecs: 0, approval: false }]);
  assert.match(asked.at(-1), /^staging\/web: set these rollout options\?/);
  assert.match(await page.textContent("#counts"), /the version is bad at 4\b/);
  // The engine's refusal, with its code; nothing changes.
  await page.fill("#option-batchPercent", "150");
  await page.click("#options-form button[type=submit]");
  await page.waitForSelector("#error:not([hidden])");
  assert.match(await page.textContent("#error"), /^INVALID_OPTIONS: .*batchPercent/);
  assert.equal((await (await fetch(at("/web/info"), { headers: write })).json()).options.batchPercent, 5);

  // What if, from the live state: nothing fails, then every target reports errors.
  const before = await (await fetch(at("/web/snapshot"), { headers: write })).arrayBuffer();
  await page.fill("#what-if-percent", "0");
  await page.click("#what-if button[type=submit]");
  await page.waitForFunction(() => document.querySelector("#what-if-result").dataset.outcome, null, { timeout: 30_000 });
  assert.equal(await page.getAttribute("#what-if-result", "data-outcome"), "rolled_out");
  assert.match(await page.textContent("#what-if-result"), /w2 rolls out after/);
  // It says the cadence it assumed, which the user sets: faster, sooner.
  const took = async () => {
    const text = await page.textContent("#what-if-result");
    const [, m = 0, sec] = /rolls out after (?:(\d+)m )?(\d+)s/.exec(text);
    return Number(m) * 60 + Number(sec);
  };
  assert.match(await page.textContent("#what-if-result"), /with the controller stepping every 10s and targets reporting a new version about 20s after being told \(set here; the forecast above assumes they report at once\)/);
  const usual = await took();
  await page.fill("#what-if-step", "2");
  await page.fill("#what-if-delay", "0");
  await page.click("#what-if button[type=submit]");
  await page.waitForFunction(() => /stepping every 2s/.test(document.querySelector("#what-if-result").textContent), null, { timeout: 30_000 });
  assert.ok((await took()) < usual, `${await took()} s against ${usual} s`);
  await page.fill("#what-if-step", "0");
  await page.click("#what-if button[type=submit]");
  assert.match(await page.$eval("#what-if-step", (el) => el.validationMessage), /./, "a loop of 0 s is refused on its field");
  await page.fill("#what-if-step", "10");
  await page.fill("#what-if-delay", "20");
  await page.fill("#what-if-percent", "100");
  await page.click("#what-if button[type=submit]");
  await page.waitForFunction(() => document.querySelector("#what-if-result").dataset.outcome === "rolled_back", null, { timeout: 30_000 });
  assert.match(await page.textContent("#what-if-result"), /of the targets not yet succeeded on w2 report errors: w2 is rolled back after/);
  const afterBytes = await (await fetch(at("/web/snapshot"), { headers: write })).arrayBuffer();
  assert.deepEqual(new Uint8Array(afterBytes), new Uint8Array(before), "the what-if left the entity alone");
  // Without approving gates, the run ends at the first that waits.
  await page.fill("#what-if-percent", "0");
  await page.uncheck("#what-if-approve");
  await page.click("#what-if button[type=submit]");
  await page.waitForFunction(() => /waits for approval at step 2/.test(document.querySelector("#what-if-result").textContent), null, { timeout: 30_000 });
  // The refused options are the only console error (the browser logs the 400).
  assert.ok(errors.length === 1 && /status of 400/.test(errors[0]), errors.join("\n"));
});

test("a 100,000-target entity: shown whole, walked by keyboard, its events capped in the page, the controls answering", async () => {
  const at = (path) => `${server.url}/v1/orchestrate/big${path}`;
  const send = async (method, path, body) => {
    const response = await fetch(at(path), { method, headers: write, body: body === undefined ? undefined : JSON.stringify(body) });
    assert.equal(response.status, 200, await response.clone().text());
    return response.json();
  };
  const reports = (version) =>
    Array.from({ length: 100_000 }, (_, i) => ({ name: `node-${String(i).padStart(6, "0")}`, group: `zone-${i % 8}`, tags: "", version, message: "", isError: false }));
  // v1 good on every target first, then v2 in batches of 5%.
  await send("PUT", "/fleet/options", { batchPercent: 100, successTimeoutSecs: 0 });
  await send("POST", "/fleet/version", { version: "v1" });
  for (let i = 0; !(await send("GET", "/fleet/info")).lastKnownGoodVersion; i++) {
    assert.ok(i < 10, "v1 is good within a few steps");
    await send("POST", "/fleet", reports("v1"));
    await new Promise((resolve) => setTimeout(resolve, 1100));
  }
  await send("PUT", "/fleet/options", { batchPercent: 5 });
  await send("POST", "/fleet/version", { version: "v2" });
  let assigned = 0;
  for (let i = 0; i < 3 && assigned === 0; i++) assigned = (await send("POST", "/fleet", reports("v1"))).filter((t) => t.version === "v2").length;
  assert.equal(assigned, 5000, "a 5% batch assigned");
  const { page, errors } = await pageWithErrors(browser.context);
  acceptDialogs(page);
  await signIn(page, "w");
  await page.waitForSelector("#entities a");
  await page.goto(`${server.url}/#/big/fleet`);
  await page.waitForFunction(() => /^100,000 targets: 5,000 in flight/.test(document.querySelector("#counts").textContent), null, { timeout: 30_000 });
  assert.ok(await page.evaluate(() => document.querySelector("#grid").height > 100));
  await page.focus("#grid");
  await page.keyboard.press("End");
  assert.match(await page.textContent("#target-tip"), /^zone-7\/node-099999: v1, waiting/);
  await page.keyboard.press("Home");
  assert.match(await page.textContent("#target-tip"), /^zone-0\/node-000000: v2, in_flight/);
  // The 1,000 events kept (5,000 assignments logged) are streamed in; the
  // page keeps the newest 500 of its targets', folded away until asked for
  // (and, apart, the newest 500 of the entity's own).
  await page.waitForFunction(() => document.querySelectorAll("#events li[data-target]").length === 500, null, { timeout: 30_000 });
  assert.equal(await page.locator("#events li[data-target]:visible").count(), 0, "per-target events folded");
  assert.match(await page.textContent("#events-folded"), /^[\d,]+ per-target events folded$/);
  await page.check("#events-targets");
  assert.equal(await page.locator("#events li[data-target]:visible").count(), 500);
  await page.selectOption("#events-kind", "target_assigned");
  assert.ok((await page.locator("#events li:visible").count()) >= 1);
  assert.equal(await page.locator("#events li:visible:not([data-kind=target_assigned])").count(), 0, "one kind at a time");
  await page.selectOption("#events-kind", "");
  await page.uncheck("#events-targets");
  // Controls answer while it is shown: pause, and the page says so.
  await page.click("[data-control=pause]");
  await page.waitForFunction(() => document.querySelector("#entity-state").textContent === "paused", null, { timeout: 30_000 });
  assert.equal((await (await fetch(at("/fleet/info"), { headers: write })).json()).paused, true);
  assert.deepEqual(errors, []);
});

test("the state in a word, from the engine's phase: a rollback goes on while paused, a rollout says what holds it", async () => {
  const { stateOf } = await import("../../www/dashboard/state.mjs");
  const info = (fields) => ({ phase: "rolling_out", paused: false, awaitingApproval: false, ...fields });
  assert.equal(stateOf(info({ phase: "halted" })), "halted");
  assert.equal(stateOf(info({ phase: "rolling_back" })), "rolling back");
  assert.equal(stateOf(info({ phase: "rolling_back", paused: true })), "rolling back", "a rollback goes on while paused");
  assert.equal(stateOf(info({ phase: "rolled_back" })), "rolled back");
  assert.equal(stateOf(info({ paused: true })), "paused");
  assert.equal(stateOf(info({ awaitingApproval: true })), "awaiting approval");
  assert.equal(stateOf(info({})), "rolling");
  assert.equal(stateOf(info({ phase: "watching" })), "watching");
  assert.equal(stateOf(info({ phase: "rolled_out" })), "rolled out");
  assert.equal(stateOf(info({ phase: "new" })), "new");
  assert.equal(stateOf(info({ phase: "new", paused: true })), "paused", "paused before its first step");
});

test("the dashboard pointed at an API of another origin (?api=, which allows the page's origin by CORS) signs in, lists and steers its entities", async () => {
  // The pages from one server; the API from another, which allows them.
  const { MemoryStore } = await import("orchestrator-engine/stores");
  const pages = await startServer({ port: 0, store: new MemoryStore(), log: () => {} });
  const api = await startServer({ port: 0, store: new MemoryStore(), token: "w", cors: pages.url, log: () => {} });
  try {
    const headers = { authorization: "Bearer w", "content-type": "application/json" };
    await fetch(`${api.url}/v1/orchestrate/remote/app/version`, { method: "POST", headers, body: JSON.stringify({ version: "r1" }) });
    const { page, errors } = await pageWithErrors(browser.context);
    await page.goto(`${pages.url}/dashboard/?api=${encodeURIComponent(api.url)}`);
    await page.waitForSelector("#login:not([hidden])");
    await page.fill("#token", "w");
    await page.click("#login button[type=submit]");
    await page.waitForFunction(() => [...document.querySelectorAll("#entities a")].some((a) => a.textContent === "remote / app"), null, { timeout: 10_000 });
    await page.click("#entities a >> text=remote / app");
    await page.waitForSelector("#entity:not([hidden])");
    await page.click("[data-control=pause]");
    await page.waitForFunction(() => document.querySelector("#entity-state").textContent === "paused", null, { timeout: 10_000 });
    const info = await (await fetch(`${api.url}/v1/orchestrate/remote/app/info`, { headers })).json();
    assert.equal(info.paused, true, "the pause reached the other origin's API");
    assert.deepEqual(errors, []);
    await page.close();
  } finally {
    await pages.stop();
    await api.stop();
  }
});

test("an entity under analysis shows a panel per metric: its measurements charted, the query, the criteria, and why the run failed", async () => {
  const { MemoryStore } = await import("orchestrator-engine/stores");
  const clock = { now: 1_767_225_600_000 };
  const functions = { errors: ({ version }) => ({ value: [version === "a2" ? 0.3 : 0.01], query: `errors{version="${version}"}` }) };
  const api = await startServer({ port: 0, store: new MemoryStore(), token: "w", now: () => clock.now, metrics: { functions }, log: () => {} });
  try {
    const headers = { authorization: "Bearer w", "content-type": "application/json" };
    const call = async (method, path, body) => (await fetch(`${api.url}/v1/orchestrate/lab/analysed${path}`, { method, headers, body: body && JSON.stringify(body) })).json();
    let hosts = Array.from({ length: 5 }, (_, i) => ({ name: `h${i}`, group: "", version: "a1", message: "", isError: false }));
    const step = async () => {
      const answer = await call("POST", "", hosts);
      const want = new Map(answer.map((a) => [a.name, a.version]));
      hosts = hosts.map((h) => ({ ...h, version: want.get(h.name) ?? h.version }));
      clock.now += 10_000;
    };
    await call("POST", "/version", { version: "a1" });
    await step();
    const metric = { name: "error-rate", interval: "30s", initialDelay: "1m", successCondition: "result[0] < 0.05", provider: { function: "errors" } };
    await call("PUT", "/options", { batchPercent: 20, successTimeoutSecs: 30, durationTimeoutSecs: 120, analysis: { metrics: [metric] } });
    await call("POST", "/version", { version: "a2" });
    for (let i = 0; i < 20 && (await call("GET", "/info")).lastKnownBadVersion !== "a2"; i++) await step();
    const { page, errors } = await pageWithErrors(browser.context);
    await page.goto(`${api.url}/dashboard/#/lab/analysed`);
    await page.waitForSelector("#login:not([hidden])");
    await page.fill("#token", "w");
    await page.click("#login button[type=submit]");
    await page.waitForSelector("#analysis-panel:not([hidden])", { timeout: 10_000 });
    const text = await page.textContent("#analysis");
    assert.match(text, /Background analysis of a2: failed/);
    assert.match(text, /metric "error-rate" assessed failed due to failed \(1\) > failureLimit \(0\)/);
    assert.match(text, /error-rate: failed; 0 successful, 1 failed.*success: result\[0\] < 0\.05/);
    assert.match(text, /query: errors\{version="a2"\}/);
    assert.equal(await page.locator("#analysis svg.analysis-chart circle.failed").count(), 1);
    // What if a3 rolled out: its background analysis runs in the page, on
    // the fleet model's metrics, and the answer says how it ends. (How it
    // judges is the simulation's, tested in Node; this server's clock is
    // virtual and the page's what-if starts at the real time.)
    await call("POST", "/version", { version: "a3" });
    await step();
    await page.waitForFunction(() => /a3/.test(document.getElementById("counts").textContent), null, { timeout: 10_000 });
    await page.fill("#what-if-percent", "0");
    await page.click("#what-if button[type=submit]");
    await page.waitForFunction(() => document.querySelector("#what-if-result").dataset.outcome, null, { timeout: 30_000 });
    assert.match(await page.textContent("#what-if-result"), /Its background analysis \(measured from the fleet model\) (ends (successful|failed|inconclusive|error): metric "error-rate"|is still running)/);
    assert.deepEqual(errors, []);
    await page.close();
  } finally {
    await api.stop();
  }
});

test("the options form refuses what is not a value, shows each change (old → new), keeps what it does not show; a control that changes nothing says so; a missing entity shows only its error", async () => {
  const at = (path) => `${server.url}/v1/orchestrate/staging${path}`;
  const send = (method, path, body) => fetch(at(path), { method, headers: write, body: JSON.stringify(body) });
  const info = async () => (await fetch(at("/guarded/info"), { headers: write })).json();
  // An analysis template: the form has no field for it (never measured here: nothing rolls out).
  const analysis = { metrics: [{ name: "error-rate", successCondition: "result[0] < 0.05", provider: { prometheus: { address: "http://127.0.0.1:9", query: "up" } } }] };
  assert.equal((await send("PUT", "/guarded/options", { batchPercent: 10, analysis })).status, 200);
  await send("POST", "/guarded/version", { version: "g1" });
  await send("POST", "/guarded", Array.from({ length: 5 }, (_, i) => ({ name: `g${i}`, group: "", version: "g1", message: "", isError: false })));
  // The pages earlier tests left open hold event streams: a browser opens
  // six connections to one server, and queues the rest.
  for (const open of browser.context.pages()) await open.close();
  const { page, errors } = await pageWithErrors(browser.context);
  const asked = acceptDialogs(page);
  await signIn(page, "w");
  await page.waitForSelector("#entities a");
  await page.goto(`${server.url}/#/staging/guarded`);
  await page.waitForFunction(() => /^5 targets/.test(document.querySelector("#counts").textContent), null, { timeout: 10_000 });
  await page.click("#options summary");

  // Not a number: refused on the field, nothing asked or sent (it was sent as null: the default).
  await page.fill("#option-batchPercent", "abc");
  await page.click("#options-form button[type=submit]");
  assert.match(await page.$eval("#option-batchPercent", (el) => el.validationMessage), /a whole number/);
  assert.equal(asked.length, 0);
  assert.equal((await info()).options.batchPercent, 10);
  await page.fill("#option-maxFailures", "lots");
  await page.fill("#option-batchPercent", "20");
  await page.click("#options-form button[type=submit]");
  assert.match(await page.$eval("#option-maxFailures", (el) => el.validationMessage), /a count like 3 or a share like 2%/);
  assert.equal(asked.length, 0);

  // A change: the confirmation names it, old → new; the template is kept.
  await page.fill("#option-maxFailures", "");
  await page.click("#options-form button[type=submit]");
  await page.waitForFunction(() => /^Options set/.test(document.querySelector("#control-result").textContent), null, { timeout: 10_000 });
  assert.equal(asked.length, 1);
  assert.match(asked[0], /^staging\/guarded: set these rollout options\? Batch % 10 → 20\. They apply from the next step\.$/);
  const { options } = await info();
  assert.equal(options.batchPercent, 20);
  assert.equal(options.analysis?.metrics?.[0]?.name, "error-rate", "the analysis template the form does not show is kept");
  // Nothing changed: said, and nothing asked.
  await page.click("#options-form button[type=submit]");
  await page.waitForFunction(() => /nothing to change/.test(document.querySelector("#control-result").textContent));
  assert.equal(asked.length, 1);

  // Controls are enabled by state, each disabled one saying why.
  const enabled = () => page.$$eval("[data-control]", (buttons) => buttons.filter((b) => !b.disabled).map((b) => b.textContent.trim()));
  await page.waitForFunction(() => document.querySelector("[data-control=resume]").disabled);
  assert.deepEqual(await enabled(), ["Pause", "Set", "Force", "Roll back to"], "settled: nothing to resume, approve, promote, retry or abort");
  assert.equal(await page.getAttribute("[data-control=approve]", "title"), "Nothing to do: no step is waiting for approval");
  await page.click("[data-control=pause]");
  await page.waitForFunction(() => document.querySelector("#control-result").textContent === "Pause: done.");
  await page.waitForFunction(() => document.querySelector("[data-control=pause]").disabled);
  assert.deepEqual(await enabled(), ["Resume", "Set", "Force", "Roll back to"]);
  // The state moved on before a click landed: the answer's changed: false says so.
  await page.route("**/v1/orchestrate/staging/guarded/resume", (route) => route.fulfill({ json: { status: "success", message: "ok", changed: false } }));
  await page.click("[data-control=resume]");
  await page.waitForFunction(() => /^Resume: nothing changed; the rollout was not paused\.$/.test(document.querySelector("#control-result").textContent));
  await page.unroute("**/v1/orchestrate/staging/guarded/resume");
  await page.click("[data-control=resume]");
  await page.waitForFunction(() => document.querySelector("#control-result").textContent === "Resume: done.");

  // A missing entity: its error alone, nothing of the entity shown before.
  await page.goto(`${server.url}/#/staging/nope`);
  await page.waitForSelector("#error:not([hidden])");
  assert.match(await page.textContent("#error"), /^NOT_FOUND: /);
  assert.equal(await page.isHidden("#entity"), true, "no badge, counts, grid or plan of another entity");
  assert.equal(await page.textContent("#where"), "staging / nope");
  // The only console error: the browser logging that answer (400, as the Go engine's API answers errors).
  assert.ok(errors.length === 1 && /status of 400/.test(errors[0]), errors.join("\n"));
  await page.close();
});

test("after abort, the overview and the entity page say the same from the engine's phase: rolling back while a target is on its way back, rolled back once every one is back", async () => {
  const at = (path) => `${server.url}/v1/orchestrate/staging${path}`;
  const send = async (method, path, body) => (await fetch(at(path), { method, headers: write, body: JSON.stringify(body) })).json();
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

  for (const open of browser.context.pages()) await open.close();
  const { page, errors } = await pageWithErrors(browser.context);
  await signIn(page, "w");
  const row = page.locator("#entities tr", { hasText: "staging / aborted" });
  await row.locator(".badge").waitFor();
  await page.waitForFunction(() => [...document.querySelectorAll("#entities tr")].some((tr) => /staging \/ aborted/.test(tr.textContent) && tr.querySelector(".badge")?.textContent));
  assert.equal(await row.locator(".badge").textContent(), "rolling back", "the overview");
  assert.equal(await row.locator("td").nth(4).textContent(), "batches of 100%", "a rollout without a plan says how it moves");
  await page.goto(`${server.url}/#/staging/aborted`);
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
  await page.goto(`${server.url}/#`);
  await page.waitForFunction(() => [...document.querySelectorAll("#entities tr")].some((tr) => /staging \/ aborted/.test(tr.textContent) && tr.querySelector(".badge")?.textContent === "rolled back"), null, { timeout: 10_000 });
  assert.deepEqual(errors, []);
  await page.close();
});

test("countdowns tick between events; a paused rollout says what holds it instead of a countdown", async () => {
  const at = (path) => `${server.url}/v1/orchestrate/staging${path}`;
  const send = async (method, path, body) => (await fetch(at(path), { method, headers: write, body: JSON.stringify(body) })).json();
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

  for (const open of browser.context.pages()) await open.close();
  const { page, errors } = await pageWithErrors(browser.context);
  await signIn(page, "w");
  await page.waitForSelector("#entities a");
  await page.goto(`${server.url}/#/staging/baking`);
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

test("the sign-in box sits beside its label, on a wide screen and a phone", async () => {
  const { page } = await pageWithErrors(browser.context);
  for (const width of [1280, 390]) {
    await page.setViewportSize({ width, height: 600 });
    await page.goto(`${server.url}/dashboard/`);
    await page.evaluate(() => sessionStorage.clear());
    await page.reload();
    await page.waitForSelector("#login:not([hidden])");
    const gap = await page.evaluate(() => {
      const label = document.querySelector("#login label");
      const text = document.createRange();
      text.selectNodeContents(label.firstChild);
      return document.querySelector("#token").getBoundingClientRect().left - text.getBoundingClientRect().right;
    });
    assert.ok(gap >= 0 && gap <= 24, `at ${width} px the box is ${gap} px from its label`);
  }
  await page.close();
});

test("a dark theme follows the system's colour scheme: dark ground, light ink, the badges' meanings unchanged", async () => {
  for (const open of browser.context.pages()) await open.close();
  const { page, errors } = await pageWithErrors(browser.context);
  const colours = () =>
    page.evaluate(() => {
      const rgb = (text) => text.match(/\d+/g).slice(0, 3).map(Number);
      const lum = ([r, g, b]) => (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
      const body = getComputedStyle(document.body);
      const panel = document.querySelector("main:not([hidden]) table, main:not([hidden]) .panel");
      return { ground: lum(rgb(getComputedStyle(document.documentElement).backgroundColor)), ink: lum(rgb(body.color)), panel: panel && lum(rgb(getComputedStyle(panel).backgroundColor)) };
    });
  await page.emulateMedia({ colorScheme: "light" });
  await signIn(page, "w");
  await page.waitForSelector("#entities a");
  const light = await colours();
  assert.ok(light.ground > 0.8 && light.ink < 0.3, JSON.stringify(light));
  await page.emulateMedia({ colorScheme: "dark" });
  const dark = await colours();
  assert.ok(dark.ground < 0.15 && dark.ink > 0.8 && dark.panel < 0.2, JSON.stringify(dark));
  await page.waitForFunction(() => [...document.querySelectorAll("#entities .badge")].some((b) => b.textContent), null, { timeout: 10_000 });
  await page.screenshot({ path: join(OUTPUT, "dashboard-overview-dark.png") });
  // A state keeps its colour's meaning: rolled out is still the good colour, rolled back the bad one.
  const badgeColour = (state) => page.evaluate((s) => {
    const b = document.createElement("span");
    b.className = "badge";
    b.dataset.state = s;
    document.body.append(b);
    const colour = getComputedStyle(b).backgroundColor;
    b.remove();
    return colour;
  }, state);
  const good = await page.evaluate(() => getComputedStyle(document.documentElement).getPropertyValue("--good").trim());
  assert.notEqual(await badgeColour("rolled out"), await badgeColour("rolled back"));
  assert.match(good, /^#/);
  await page.goto(`${server.url}/#/prod/api`);
  await page.waitForFunction(() => /^\d+ targets/.test(document.querySelector("#counts").textContent), null, { timeout: 10_000 });
  // The controls stay readable: light text on a dark button.
  const button = await page.evaluate(() => {
    const rgb = (text) => text.match(/\d+/g).slice(0, 3).map(Number);
    const lum = ([r, g, b]) => (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
    const style = getComputedStyle(document.querySelector("[data-control=pause]"));
    return { text: lum(rgb(style.color)), face: lum(rgb(style.backgroundColor)) };
  });
  assert.ok(button.text - button.face > 0.5, JSON.stringify(button));
  await page.screenshot({ path: join(OUTPUT, "dashboard-entity-dark.png"), fullPage: true });
  assert.deepEqual(errors, []);
  await page.close();
});

test("why, at the top: the error budget while a version rolls out; once it is bad, the engine's reason and the failed targets with their messages, kept after the rollback", async () => {
  const at = (path) => `${server.url}/v1/orchestrate/staging${path}`;
  const send = async (method, path, body) => (await fetch(at(path), { method, headers: write, body: JSON.stringify(body) })).json();
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
  for (const open of browser.context.pages()) await open.close();
  const { page, errors } = await pageWithErrors(browser.context);
  await signIn(page, "w");
  await page.waitForSelector("#entities a");
  await page.goto(`${server.url}/#/staging/failing`);
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

test("revisions and who did it, finding things, the legend, shortcuts and remembering the sign-in: named tokens on a server of four entities", async () => {
  const clock = { now: Date.UTC(2026, 11, 2, 9) };
  const named = await startServer({
    port: 0,
    store: new FileStore(mkdtempSync(join(dir, "named-"))),
    tokens: [
      { name: "alice", role: "write", token: "alice-token" },
      { name: "viewer", role: "read", token: "viewer-token" },
    ],
    now: () => clock.now,
    pollMs: 100,
    log: () => {},
  });
  let page, errors;
  try {
    const call = async (method, path, body, token = "alice-token") => {
      const response = await fetch(`${named.url}/v1/orchestrate/${path}`, { method, headers: { authorization: `Bearer ${token}` }, body: body === undefined ? undefined : JSON.stringify(body) });
      return response.json();
    };
    const fleets = new Map();
    /** One controller loop of `ns/entity` (four hosts that do as told), 2 s of the server's clock later. */
    const step = async (entity) => {
      const hosts = fleets.get(entity);
      const answer = await call("POST", entity, hosts.map((h) => ({ name: h.name, group: "", version: h.version, message: "", isError: false })));
      for (const t of answer) hosts.find((h) => h.name === t.name).version = t.version;
      clock.now += 2000;
    };
    const settle = async (entity, done) => {
      for (let i = 0; i < 40; i++) {
        if (done(await call("GET", `${entity}/info`))) return;
        await step(entity);
      }
      assert.fail(`${entity} did not settle`);
    };
    const plan = { successTimeoutSecs: 1, durationTimeoutSecs: 30, steps: [{ size: 1, approval: true }, { size: "100%" }] };
    for (const entity of ["prod/api", "prod/web", "staging/api", "staging/db"]) {
      fleets.set(entity, ["h0", "h1", "h2", "h3"].map((name) => ({ name, version: "v1" })));
      await call("PUT", `${entity}/options`, { ...plan, steps: [] });
      await call("POST", `${entity}/version`, { version: "v1" });
      await settle(entity, (info) => info.lastKnownGoodVersion === "v1");
      await call("PUT", `${entity}/options`, plan);
    }
    await call("POST", "prod/api/version", { version: "v2" });
    await settle("prod/api", (info) => info.awaitingApproval);

    ({ page, errors } = await pageWithErrors(browser.context));
    page.setDefaultTimeout(10_000);
    const asked = acceptDialogs(page);
    await page.goto(`${named.url}/`);
    await page.waitForSelector("#login:not([hidden])");
    await page.fill("#token", "alice-token");
    await page.check("#remember");
    await page.click("#login button[type=submit]");
    await page.waitForFunction(() => document.querySelector("#access").textContent === "can steer as alice");

    // Finding things: every row with its bar of targets by state; search, namespace, sort.
    await page.waitForFunction(() => document.querySelectorAll("#entities tr .bar").length === 4, null, { timeout: 10_000 });
    const apiBar = page.locator("#entities tr", { hasText: "prod / api" }).locator(".bar");
    assert.match(await apiBar.getAttribute("title"), /^4 targets: 0 in flight, 4 succeeded/);
    assert.deepEqual(await apiBar.locator("i").evaluateAll((parts) => parts.map((p) => [p.dataset.reason, p.style.width])), [["succeeded", "100%"]]);
    const visible = () => page.evaluate(() => [...document.querySelectorAll("#entities tr")].filter((tr) => !tr.hidden).map((tr) => tr.cells[0].textContent));
    await page.fill("#search", "API");
    assert.deepEqual(await visible(), ["prod / api", "staging / api"]);
    assert.equal(await page.textContent("#shown-count"), "2 of 4 shown");
    await page.fill("#search", "");
    await page.selectOption("#namespace-filter", "staging");
    assert.deepEqual(await visible(), ["staging / api", "staging / db"]);
    await page.selectOption("#namespace-filter", "");
    await page.selectOption("#sort", "state");
    assert.equal((await visible())[0], "prod / api", "awaiting approval comes before rolled out");
    // `/` searches.
    await page.keyboard.press("/");
    assert.equal(await page.evaluate(() => document.activeElement.id), "search");
    await page.keyboard.press("Escape");
    await page.evaluate(() => document.activeElement.blur());

    // Another tab of this site is signed in too: remembered on this device.
    const other = await browser.context.newPage();
    await other.goto(`${named.url}/#/prod/api`);
    await other.waitForFunction(() => !document.querySelector("#entity").hidden, null, { timeout: 10_000 });
    assert.equal(await other.isHidden("#login"), true);
    await other.close();

    // The entity: the grid's legend, then approve by its shortcut.
    await page.goto(`${named.url}/#/prod/api`);
    await page.waitForFunction(() => document.querySelector("#entity-state").textContent === "awaiting approval", null, { timeout: 10_000 });
    const legend = await page.locator("#legend span").allTextContents();
    assert.ok(legend.includes("on v1") && legend.includes("failed") && legend.some((l) => /^held/.test(l)), legend.join(", "));
    await page.keyboard.press("?");
    assert.equal(await page.isVisible("#shortcuts"), true);
    await page.keyboard.press("Escape");
    await page.keyboard.press("a");
    await page.waitForFunction(() => document.querySelector('#events li[data-kind="approved"]')?.dataset.actor === "alice", null, { timeout: 10_000 });
    assert.match(asked.at(-1), /Approve the step/);
    assert.match(await page.textContent('#events li[data-kind="approved"]'), /\(by alice\)$/);
    await settle("prod/api", (info) => info.lastKnownGoodVersion === "v2");
    // The revision: its steps, targets moved, failures and who did what.
    await page.waitForFunction(() => document.querySelector('#history tr[data-version="v2"]')?.dataset.outcome === "succeeded", null, { timeout: 10_000 });
    const v2 = await page.locator('#history tr[data-version="v2"] td').allTextContents();
    assert.deepEqual(v2.slice(4, 8), ["2", "4", "0", "set by alice · approved by alice"]);
    // Its events: only those from its first on.
    await page.click('#history tr[data-version="v2"] button:text("events")');
    assert.match(await page.textContent("#events-since-text"), /from v2's rollout/);
    const hiddenOlder = await page.evaluate(() => [...document.querySelectorAll("#events li")].filter((li) => !li.hidden).every((li) => !/ v1/.test(li.textContent.split(":")[2] ?? "")));
    assert.ok(hiddenOlder);
    await page.click("#events-all");

    // Roll back to a good version from its revision: a revision of its own, alice's.
    await page.click('#history tr[data-version="v1"] button[data-rollback-to="v1"]');
    assert.match(asked.at(-1), /Roll back to v1\?/);
    await page.waitForFunction(() => document.querySelector("#history tr")?.dataset.outcome === "rolled_back_to", null, { timeout: 10_000 });
    assert.match(await page.textContent("#history tr:first-child"), /v1.*rolled back to.*set by alice/);
    assert.equal(await page.locator('#history tr[data-version="v2"] button[data-rollback-to]').count(), 1, "v2 was good: it can be returned to");

    // A reader sees who did it, and no button to roll back.
    const reader = await (await fetch(`${named.url}/v1/orchestrate/access`, { headers: { authorization: "Bearer viewer-token" } })).json();
    assert.deepEqual(reader, { access: "read", actor: "viewer" });

    // Signing out forgets the token on this device.
    await page.click("#sign-out");
    await page.waitForSelector("#login:not([hidden])");
    await page.reload();
    await page.waitForSelector("#login:not([hidden])");
    assert.equal(await page.evaluate(() => localStorage.getItem("orchestrator-token")), null);
    assert.deepEqual(errors, []);
    await page.close();
  } finally {
    // The server stops once the page's event streams are closed.
    await page?.close();
    await named.stop();
  }
});

test("no layout shift as events stream in: the entity page holds still while a rollout starts and runs", async () => {
  const { page, errors } = await pageWithErrors(browser.context);
  await signIn(page, "w");
  await page.waitForSelector("#entities a");
  await post("/resume");
  await page.goto(`${server.url}/#/prod/api`);
  // Settled first: then a rollout starts under the reader's eyes.
  await page.waitForFunction(() => ["rolled out", "rolled back"].includes(document.querySelector("#entity-state").textContent), null, { timeout: 60_000 });
  await page.evaluate(() => {
    window.__shifts = [];
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        if (!entry.hadRecentInput) window.__shifts.push({ value: entry.value, nodes: entry.sources.map((s) => s.node?.id || s.node?.nodeName || "?") });
      }
    }).observe({ type: "layout-shift" });
    window.__events = document.querySelectorAll("#events li").length;
  });
  await post("/version", { version: `v${Date.now()}` });
  // Until twenty more events have streamed in, and the page has read the entity for them.
  await page.waitForFunction(() => document.querySelectorAll("#events li").length >= window.__events + 20, null, { timeout: 30_000 });
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const shifts = await page.evaluate(() => window.__shifts);
  const total = shifts.reduce((sum, s) => sum + s.value, 0);
  assert.ok(total < 0.01, `layout shifted by ${total.toFixed(4)}: ${JSON.stringify(shifts).slice(0, 600)}`);
  assert.deepEqual(errors, []);
  await page.close();
});

test("no layout shift on the overview as its rows change state while a rollout starts and runs", async () => {
  const { page, errors } = await pageWithErrors(browser.context);
  await post("/resume");
  await signIn(page, "w");
  await page.waitForFunction(() => [...document.querySelectorAll("#entities tr")].some((tr) => /prod \/ api/.test(tr.textContent) && ["rolled out", "rolled back"].includes(tr.querySelector(".badge")?.textContent)), null, { timeout: 60_000 });
  await new Promise((resolve) => setTimeout(resolve, 1000));
  await page.evaluate(() => {
    window.__shifts = [];
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        if (!entry.hadRecentInput) window.__shifts.push({ value: entry.value, nodes: entry.sources.map((s) => s.node?.textContent?.slice(0, 30) || s.node?.nodeName || "?") });
      }
    }).observe({ type: "layout-shift" });
  });
  await post("/version", { version: `v${Date.now()}` });
  await page.waitForFunction(() => [...document.querySelectorAll("#entities tr")].some((tr) => /prod \/ api/.test(tr.textContent) && tr.querySelector(".badge")?.textContent === "rolling"), null, { timeout: 30_000 });
  await page.waitForFunction(() => [...document.querySelectorAll("#entities tr")].some((tr) => /prod \/ api/.test(tr.textContent) && tr.querySelector(".badge")?.textContent === "rolled out"), null, { timeout: 60_000 });
  const shifts = await page.evaluate(() => window.__shifts);
  const total = shifts.reduce((sum, s) => sum + s.value, 0);
  assert.ok(total < 0.01, `layout shifted by ${total.toFixed(4)}: ${JSON.stringify(shifts).slice(0, 600)}`);
  assert.deepEqual(errors, []);
  await page.close();
});
