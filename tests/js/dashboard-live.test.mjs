// The dashboard on a live rollout: a controller process steps prod/api through
// the API server while the page shows it and steers it (pause, resume, a bad
// version set from the page), read-only tokens, phone and dark layouts, and a
// page that holds still as events stream in.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";

import { Orchestrator } from "orchestrator-engine";
import { OUTPUT, pageWithErrors } from "./chromium.mjs";
import { useDashboard, acceptDialogs } from "./dashboard.mjs";

const d = useDashboard({ controller: true });

test("the overview lists the rollout live; the entity shows its targets, plan, events; pause and resume reach the controller", async () => {
  const { page, errors } = await pageWithErrors(d.context);
  const asked = acceptDialogs(page);
  const requests = [];
  page.on("request", (request) => requests.push(new URL(request.url()).pathname));
  await d.signIn(page, "w");
  await page.waitForSelector("#entities a");
  assert.equal(await page.textContent("#entities a"), "prod / api");
  await page.waitForFunction(() => document.querySelector("#entities .badge")?.textContent === "rolling", null, { timeout: 10_000 });
  assert.equal(await page.textContent("#access"), "can steer");
  // A new entity shows up by itself: the overview follows the server's stream of every entity's events.
  await fetch(`${d.url}/v1/orchestrate/staging/web/version`, { method: "POST", headers: d.write, body: JSON.stringify({ version: "w1" }) });
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
  assert.equal((await d.get("/info")).paused, true);
  // Watched over the controller's next steps, not a length of time.
  const paused = d.controller.answers.length;
  for (const deadline = Date.now() + 15_000; d.controller.answers.length < paused + 3; ) {
    if (Date.now() > deadline) throw new Error("the controller took no 3 steps within 15 s");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const moving = (answer) => answer.filter((v) => v === "v2").length;
  const after = d.controller.answers.slice(paused);
  assert.ok(after.length >= 2 && after.every((a) => moving(a) === moving(after[0])), "no target moves while paused");
  await page.click("[data-control=resume]");
  await page.waitForFunction(() => document.querySelector("#entity-state").textContent !== "paused", null, { timeout: 10_000 });
  assert.equal((await d.get("/info")).paused, false);
  // The forecast computed in the page is plan() of the same snapshot in Node.
  await page.waitForFunction(() => window.__forecast, null, { timeout: 10_000 });
  const [inPage, snapshot] = await Promise.all([page.evaluate(() => window.__forecast), fetch(`${d.url}/v1/orchestrate/prod/api/snapshot`, { headers: d.write }).then((r) => r.arrayBuffer())]);
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
  assert.equal((await d.get("/rollout")).lastknownbadversion, "v3");
  assert.ok(d.controller.answers.at(-1).every((v) => v === "v2"), "the controller's fleet is back on v2");
  assert.deepEqual(errors, []);
});

test("on a phone-width screen nothing runs off the side", async () => {
  const { page, errors } = await pageWithErrors(d.context);
  await page.setViewportSize({ width: 390, height: 844 });
  await d.signIn(page, "w");
  await page.waitForSelector("#entities a");
  // Rows fill in as each entity is read: name the one wanted, not whichever came first.
  await page.click("#entities a >> text=prod / api");
  await page.waitForFunction(() => document.querySelectorAll("#events li").length > 3, null, { timeout: 10_000 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `the page is ${overflow} px wider than the screen`);
  // The overview keeps the bad version in sight on a phone.
  await page.goto(`${d.url}/#`);
  await page.waitForSelector("#entities a");
  assert.ok(await page.isVisible("#overview th:nth-child(7)"), "the Bad column");
  assert.equal(await page.textContent("#overview th:nth-child(7)"), "Bad");
  assert.ok(await page.isVisible("#overview th:nth-child(3)"), "the Progress column");
  await page.goto(`${d.url}/#/prod/api`);
  await page.waitForFunction(() => document.querySelectorAll("#events li").length > 3, null, { timeout: 10_000 });
  assert.ok(await page.isVisible("[data-control=pause]"));
  await page.screenshot({ path: join(OUTPUT, "dashboard-phone.png"), fullPage: true });
  assert.deepEqual(errors, []);
});

test("a read-only token sees no controls; a bad token gets the sign-in form again; without the stream of every entity's events, the overview polls", async () => {
  const { page, errors } = await pageWithErrors(d.context);
  // A server without that stream (as the Worker): 404.
  await page.route("**/v1/orchestrate/events/stream", (route) =>
    route.fulfill({ status: 404, contentType: "application/json", body: JSON.stringify({ status: "error", code: "NOT_FOUND_ROUTE", message: "no route" }) }),
  );
  await d.signIn(page, "r");
  await page.waitForSelector("#entities a");
  await fetch(`${d.url}/v1/orchestrate/staging/polled/version`, { method: "POST", headers: d.write, body: JSON.stringify({ version: "p1" }) });
  await page.waitForFunction(() => [...document.querySelectorAll("#entities a")].some((a) => a.textContent === "staging / polled"), null, { timeout: 10_000 });
  assert.equal(await page.textContent("#access"), "read only");
  await page.click("#entities a >> text=prod / api");
  await page.waitForSelector("#entity:not([hidden])");
  assert.equal(await page.isVisible("#controls"), false);
  assert.equal(await page.isVisible("#options"), false);
  assert.equal(await page.locator("[data-control]:visible").count(), 0, "no control is visible to a reader");
  const other = await pageWithErrors(d.context);
  await other.page.goto(`${d.url}/`);
  await other.page.evaluate(() => sessionStorage.setItem("orchestrator-token", "wrong"));
  await other.page.reload();
  await other.page.waitForSelector("#login:not([hidden])");
  assert.match(await other.page.textContent("#login-why"), /not accepted/);
  // The 404 the browser logs for the stream it tried is the only console error.
  assert.ok(errors.length === 1 && /404/.test(errors[0]), errors.join("\n"));
  // The 401 the browser logs for the rejected token is the only console error.
  assert.ok(other.errors.every((e) => /401/.test(e)), other.errors.join("\n"));
});

test("the sign-in box sits beside its label, on a wide screen and a phone", async () => {
  const { page } = await pageWithErrors(d.context);
  for (const width of [1280, 390]) {
    await page.setViewportSize({ width, height: 600 });
    await page.goto(`${d.url}/dashboard/`);
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
  for (const open of d.context.pages()) await open.close();
  const { page, errors } = await pageWithErrors(d.context);
  const colours = () =>
    page.evaluate(() => {
      const rgb = (text) => text.match(/\d+/g).slice(0, 3).map(Number);
      const lum = ([r, g, b]) => (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
      const body = getComputedStyle(document.body);
      const panel = document.querySelector("main:not([hidden]) table, main:not([hidden]) .panel");
      return { ground: lum(rgb(getComputedStyle(document.documentElement).backgroundColor)), ink: lum(rgb(body.color)), panel: panel && lum(rgb(getComputedStyle(panel).backgroundColor)) };
    });
  await page.emulateMedia({ colorScheme: "light" });
  await d.signIn(page, "w");
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
  await page.goto(`${d.url}/#/prod/api`);
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

test("no layout shift as events stream in: the entity page holds still while a rollout starts and runs", async () => {
  const { page, errors } = await pageWithErrors(d.context);
  await d.signIn(page, "w");
  await page.waitForSelector("#entities a");
  await d.post("/resume");
  await page.goto(`${d.url}/#/prod/api`);
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
  await d.post("/version", { version: `v${Date.now()}` });
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
  const { page, errors } = await pageWithErrors(d.context);
  await d.post("/resume");
  await d.signIn(page, "w");
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
  await d.post("/version", { version: `v${Date.now()}` });
  await page.waitForFunction(() => [...document.querySelectorAll("#entities tr")].some((tr) => /prod \/ api/.test(tr.textContent) && tr.querySelector(".badge")?.textContent === "rolling"), null, { timeout: 30_000 });
  await page.waitForFunction(() => [...document.querySelectorAll("#entities tr")].some((tr) => /prod \/ api/.test(tr.textContent) && tr.querySelector(".badge")?.textContent === "rolled out"), null, { timeout: 60_000 });
  const shifts = await page.evaluate(() => window.__shifts);
  const total = shifts.reduce((sum, s) => sum + s.value, 0);
  assert.ok(total < 0.01, `layout shifted by ${total.toFixed(4)}: ${JSON.stringify(shifts).slice(0, 600)}`);
  assert.deepEqual(errors, []);
  await page.close();
});
