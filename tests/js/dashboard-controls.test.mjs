// The dashboard's options form and what-if forecast, on entities the test
// drives itself: every option by name, the engine's refusals shown, changes
// shown old → new, a control that changes nothing, a missing entity.
import { test } from "node:test";
import assert from "node:assert/strict";

import { pageWithErrors } from "./chromium.mjs";
import { useDashboard, acceptDialogs } from "./dashboard.mjs";

const d = useDashboard();

test("the options form sets every option by name and shows the engine's refusal; what if runs in the page from the live state", async () => {
  const at = (path) => `${d.url}/v1/orchestrate/staging${path}`;
  const send = (method, path, body) => fetch(at(path), { method, headers: d.write, body: JSON.stringify(body) });
  const fleet = (version) => Array.from({ length: 20 }, (_, i) => ({ name: `w${i}`, group: i % 2 ? "b" : "a", version, message: "", isError: false }));
  // The fleet runs w1 (adopted as good); w2 is under way, its first batch assigned.
  await send("POST", "/web", fleet("w1"));
  await send("POST", "/web/version", { version: "w2" });
  await send("POST", "/web", fleet("w1"));
  const { page, errors } = await pageWithErrors(d.context);
  const asked = acceptDialogs(page);
  await d.signIn(page, "w");
  await page.waitForSelector("#entities a");
  await page.goto(`${d.url}/#/staging/web`);
  await page.waitForFunction(() => /^20 targets/.test(document.querySelector("#counts").textContent), null, { timeout: 10_000 });
  await page.click("#options summary");
  assert.equal(await page.inputValue("#option-batchPercent"), "5", "the form shows the entity's options");
  await page.fill("#option-maxFailures", "3");
  await page.fill("#option-steps", "1:30,50%:approve,100%");
  await page.click("#options-form button[type=submit]");
  await page.waitForFunction(() => /approval gate/.test(document.querySelector("#plan").textContent), null, { timeout: 10_000 });
  assert.equal(await page.inputValue("#option-steps"), "1:30,50%:approve,100%");
  const { options } = await (await fetch(at("/web/info"), { headers: d.write })).json();
  assert.equal(options.maxFailures, 3);
  assert.deepEqual(options.steps, [{ size: 1, bakeSecs: 30, approval: false }, { size: "50%", bakeSecs: 0, approval: true }, { size: "100%", bakeSecs: 0, approval: false }]);
  assert.match(asked.at(-1), /^staging\/web: set these rollout options\?/);
  assert.match(await page.textContent("#counts"), /the version is bad at 4\b/);
  // The engine's refusal, with its code; nothing changes.
  await page.fill("#option-batchPercent", "150");
  await page.click("#options-form button[type=submit]");
  await page.waitForSelector("#error:not([hidden])");
  assert.match(await page.textContent("#error"), /^INVALID_OPTIONS: .*batchPercent/);
  assert.equal((await (await fetch(at("/web/info"), { headers: d.write })).json()).options.batchPercent, 5);

  // What if, from the live state: nothing fails, then every target reports errors.
  const before = await (await fetch(at("/web/snapshot"), { headers: d.write })).arrayBuffer();
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
  const afterBytes = await (await fetch(at("/web/snapshot"), { headers: d.write })).arrayBuffer();
  assert.deepEqual(new Uint8Array(afterBytes), new Uint8Array(before), "the what-if left the entity alone");
  // Without approving gates, the run ends at the first that waits.
  await page.fill("#what-if-percent", "0");
  await page.uncheck("#what-if-approve");
  await page.click("#what-if button[type=submit]");
  await page.waitForFunction(() => /waits for approval at step 2/.test(document.querySelector("#what-if-result").textContent), null, { timeout: 30_000 });
  // The refused options are the only console error (the browser logs the 400).
  assert.ok(errors.length === 1 && /status of 400/.test(errors[0]), errors.join("\n"));
});

test("the options form refuses what is not a value, shows each change (old → new), keeps what it does not show; a control that changes nothing says so; a missing entity shows only its error", async () => {
  const at = (path) => `${d.url}/v1/orchestrate/staging${path}`;
  const send = (method, path, body) => fetch(at(path), { method, headers: d.write, body: JSON.stringify(body) });
  const info = async () => (await fetch(at("/guarded/info"), { headers: d.write })).json();
  // An analysis template: the form has no field for it (never measured here: nothing rolls out).
  const analysis = { metrics: [{ name: "error-rate", successCondition: "result[0] < 0.05", provider: { prometheus: { address: "http://127.0.0.1:9", query: "up" } } }] };
  assert.equal((await send("PUT", "/guarded/options", { batchPercent: 10, analysis })).status, 200);
  await send("POST", "/guarded/version", { version: "g1" });
  await send("POST", "/guarded", Array.from({ length: 5 }, (_, i) => ({ name: `g${i}`, group: "", version: "g1", message: "", isError: false })));
  // The pages earlier tests left open hold event streams: a browser opens
  // six connections to one server, and queues the rest.
  for (const open of d.context.pages()) await open.close();
  const { page, errors } = await pageWithErrors(d.context);
  const asked = acceptDialogs(page);
  await d.signIn(page, "w");
  await page.waitForSelector("#entities a");
  await page.goto(`${d.url}/#/staging/guarded`);
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
  await page.goto(`${d.url}/#/staging/nope`);
  await page.waitForSelector("#error:not([hidden])");
  assert.match(await page.textContent("#error"), /^NOT_FOUND: /);
  assert.equal(await page.isHidden("#entity"), true, "no badge, counts, grid or plan of another entity");
  assert.equal(await page.textContent("#where"), "staging / nope");
  // The only console error: the browser logging that answer (400, as the Go engine's API answers errors).
  assert.ok(errors.length === 1 && /status of 400/.test(errors[0]), errors.join("\n"));
  await page.close();
});
