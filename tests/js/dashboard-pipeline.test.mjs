// The dashboard's pipeline and notifications panels, on entities the test
// drives through the API: every stage with the versions it runs and why
// the entity waits; approving the promotion from the page; a subscription
// added from the page (its receiver on loopback gets the rollout's news)
// and shown redacted; nothing of either to steer for the read token.
import { test } from "node:test";
import assert from "node:assert/strict";

import { pageWithErrors } from "./chromium.mjs";
import { acceptDialogs, useDashboard } from "./dashboard.mjs";
import { startReceiver } from "./servers/receiver.mjs";

const d = useDashboard();

test("the pipeline panel shows each stage and approves the promotion that waits; the notifications panel adds a receiver, which hears of it", async (t) => {
  const receiver = await startReceiver();
  t.after(() => receiver.close());
  const at = (path) => `${d.url}/v1/orchestrate${path}`;
  const send = async (method, path, body) => {
    const response = await fetch(at(path), { method, headers: d.write, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await response.text();
    assert.ok(response.ok, `${method} ${path}: ${response.status} ${text}`);
    return JSON.parse(text);
  };
  const fleets = { staging: Array.from({ length: 4 }, (_, i) => ({ name: `s${i}`, version: "v1" })), prod: Array.from({ length: 4 }, (_, i) => ({ name: `p${i}`, version: "v1" })) };
  const step = async (ns) => {
    const answer = await send("POST", `/${ns}/api`, fleets[ns].map((h) => ({ ...h, group: "", message: "", isError: false })));
    for (const h of fleets[ns]) h.version = answer.find((a) => a.name === h.name).version;
  };
  for (const ns of ["staging", "prod"]) {
    await send("POST", `/${ns}/api/options`, { batchpercent: 100, successpercent: 100, successtimeoutsecs: 0, durationtimeoutsecs: 60 });
    await send("POST", `/${ns}/api/version`, { version: "v1" });
    for (let i = 0; i < 10 && (await send("GET", `/${ns}/api/rollout`)).lastknowngoodversion !== "v1"; i++) await step(ns);
  }
  await send("PUT", "/prod/api/pipeline", { from: ["staging/api"], approval: true });
  await send("POST", "/staging/api/version", { version: "v2" });
  for (let i = 0; i < 10 && (await send("GET", "/staging/api/rollout")).lastknowngoodversion !== "v2"; i++) await step("staging");
  await step("prod");
  assert.match((await send("GET", "/prod/api/pipeline")).waiting, /awaits approval/);

  const { page, errors } = await pageWithErrors(d.context);
  const asked = acceptDialogs(page);
  await d.signIn(page, "w");
  await page.waitForSelector("#entities a");
  await page.goto(`${d.url}/#/prod/api`);
  await page.waitForSelector("#pipeline-panel:not([hidden])", { timeout: 10_000 });
  assert.equal(await page.textContent("#pipeline-rule"), "Takes the newest version good in any of staging/api, once approved.");
  assert.deepEqual(await page.$$eval("#pipeline-stages li", (items) => items.map((li) => li.textContent)), ["staging/api runs v2", "prod/api runs v1, from staging/api: the promotion of v2 from staging/api awaits approval"]);
  assert.equal(await page.textContent("#pipeline-approve"), "Approve v2");
  await page.click("#pipeline-approve");
  await page.waitForFunction(() => document.querySelector("#pipeline-approve").hidden, null, { timeout: 10_000 });
  assert.match(asked.at(-1), /^Promote v2 here\?/);
  assert.equal((await send("GET", "/prod/api/pipeline")).approved, "v2");

  // A receiver added from the page, before the promotion's step.
  await page.click("#subscribe summary");
  await page.fill("#subscription-name", "oncall");
  await page.selectOption("#subscription-format", "slack");
  await page.fill("#subscription-url", `${receiver.url}/services/T/B/s3cr3t`);
  await page.check("#subscription-kinds input[value=rollout_started]");
  await page.check("#subscription-kinds input[value=promoted]");
  await page.click("#subscription-form button[type=submit]");
  await page.waitForSelector("#subscriptions li[data-subscription=oncall]", { timeout: 10_000 });
  const shownText = await page.textContent("#subscriptions");
  assert.match(shownText, /oncall: slack to http:\/\/127\.0\.0\.1:\d+\/\[redacted\], on rollout_started, promoted; nothing sent yet/);
  assert.ok(!shownText.includes("s3cr3t"));
  await step("prod");
  assert.equal((await send("GET", "/prod/api/info")).targetVersion, "v2");
  for (let i = 0; i < 100 && receiver.requests.length < 2; i++) await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(receiver.requests.map((r) => r.body.blocks[0].text.text).sort(), ["Promoted: prod/api", "Rollout started: prod/api"]);
  await page.reload();
  await page.waitForFunction(() => /last: delivered/.test(document.querySelector("#subscriptions")?.textContent ?? ""), null, { timeout: 10_000 });
  // Removed from the page.
  await page.click("#subscriptions button[data-remove=oncall]");
  await page.waitForSelector("#notifications-none:not([hidden])", { timeout: 10_000 });
  assert.deepEqual((await send("GET", "/prod/api/notifications")).subscriptions, []);

  // The read token sees the stages and nothing to steer.
  const reader = await pageWithErrors(d.context);
  await d.signIn(reader.page, "r");
  await reader.page.waitForSelector("#entities a");
  await reader.page.goto(`${d.url}/#/prod/api`);
  await reader.page.waitForSelector("#pipeline-panel:not([hidden])", { timeout: 10_000 });
  assert.equal(await reader.page.isVisible("#subscribe"), false);
  assert.equal(await reader.page.isVisible("#pipeline-release"), false);
  assert.deepEqual(errors, []);
  assert.deepEqual(reader.errors, []);
});

test("the overview stops and starts a namespace's line, with a reason, and shows who stopped it; an entity of it says it is frozen; the read token only reads it", async () => {
  const at = (path) => `${d.url}/v1/orchestrate${path}`;
  const send = (method, path, body) => fetch(at(path), { method, headers: d.write, body: JSON.stringify(body) });
  await fetch(at("/ops/db/version"), { method: "POST", headers: d.write, body: JSON.stringify({ version: "v1" }) });
  const { page, errors } = await pageWithErrors(d.context);
  const asked = acceptDialogs(page);
  await d.signIn(page, "w");
  await page.waitForSelector("#entities a");
  await page.selectOption("#namespace-filter", "ops");
  await page.waitForSelector("#line:not([hidden])");
  await page.waitForFunction(() => document.querySelector("#line").dataset.stopped === "false");
  assert.equal(await page.textContent("#line-state"), "The line of ops runs.");
  await page.click("#line-stop");
  assert.equal(asked.length, 0, "no reason, no question");
  await page.fill("#line-reason", "incident 4711");
  await page.click("#line-stop");
  await page.waitForFunction(() => document.querySelector("#line").dataset.stopped === "true", null, { timeout: 10_000 });
  assert.match(asked.at(-1), /^Stop the line of ops\?/);
  assert.match(await page.textContent("#line-state"), /^The line of ops is stopped since .*: incident 4711\. No entity of it moves/);
  const { stopped } = await (await fetch(at("/namespaces/ops/line"), { headers: d.write })).json();
  assert.equal(stopped.reason, "incident 4711");
  // The read token sees it and cannot start it.
  const reader = await pageWithErrors(d.context);
  await d.signIn(reader.page, "r");
  await reader.page.waitForSelector("#entities a");
  await reader.page.selectOption("#namespace-filter", "ops");
  await reader.page.waitForFunction(() => document.querySelector("#line").dataset.stopped === "true", null, { timeout: 10_000 });
  assert.equal(await reader.page.isVisible("#line-start"), false);
  // An entity of the stopped namespace says it is frozen, and why.
  await send("POST", "/ops/db/version", { version: "v2" });
  await fetch(at("/ops/db"), { method: "POST", headers: d.write, body: JSON.stringify([{ name: "d0", version: "v1", group: "", message: "", isError: false }]) });
  await new Promise((resolve) => setTimeout(resolve, 1100)); // the server's cache of a namespace's settings
  await fetch(at("/ops/db"), { method: "POST", headers: d.write, body: JSON.stringify([{ name: "d0", version: "v1", group: "", message: "", isError: false }]) });
  await page.goto(`${d.url}/#/ops/db`);
  await page.waitForFunction(() => document.querySelector("#entity-state")?.textContent === "frozen", null, { timeout: 10_000 });
  assert.match(await page.textContent("#why"), /^Frozen: the line of ops stopped \(incident 4711\)\. Nothing new moves; rollbacks go on\./);
  await page.goto(`${d.url}/`);
  await page.waitForSelector("#entities a");
  await page.selectOption("#namespace-filter", "ops");
  await page.waitForFunction(() => document.querySelector("#line").dataset.stopped === "true", null, { timeout: 10_000 });
  await page.click("#line-start");
  await page.waitForFunction(() => document.querySelector("#line").dataset.stopped === "false", null, { timeout: 10_000 });
  assert.deepEqual(errors, []);
  assert.deepEqual(reader.errors, []);
});
