// The dashboard on a 100,000-target entity: shown whole, walked by keyboard,
// its events capped, its controls answering.
import { test } from "node:test";
import assert from "node:assert/strict";

import { pageWithErrors } from "./chromium.mjs";
import { useDashboard, acceptDialogs } from "./dashboard.mjs";

const d = useDashboard();

test("a 100,000-target entity: shown whole, walked by keyboard, its events capped in the page, the controls answering", async () => {
  const at = (path) => `${d.url}/v1/orchestrate/big${path}`;
  const send = async (method, path, body) => {
    const response = await fetch(at(path), { method, headers: d.write, body: body === undefined ? undefined : JSON.stringify(body) });
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
  const { page, errors } = await pageWithErrors(d.context);
  acceptDialogs(page);
  await d.signIn(page, "w");
  await page.waitForSelector("#entities a");
  await page.goto(`${d.url}/#/big/fleet`);
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
  assert.equal((await (await fetch(at("/fleet/info"), { headers: d.write })).json()).paused, true);
  assert.deepEqual(errors, []);
});
