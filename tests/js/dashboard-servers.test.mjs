// The dashboard against servers set up for one test each: an API on another
// origin (CORS), metric analysis with its charts, named tokens with
// revisions, search, the legend and shortcuts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { mkdtempSync } from "node:fs";

import { FileStore } from "orchestrator-engine/stores/file";
import { startServer } from "../../js/server/node.mjs";
import { pageWithErrors } from "./chromium.mjs";
import { useDashboard, acceptDialogs } from "./dashboard.mjs";

const d = useDashboard();

test("the dashboard pointed at an API of another origin (?api=, which allows the page's origin by CORS) signs in, lists and steers its entities", async () => {
  // The pages from one server; the API from another, which allows them.
  const { MemoryStore } = await import("orchestrator-engine/stores");
  const pages = await startServer({ port: 0, store: new MemoryStore(), log: () => {} });
  const api = await startServer({ port: 0, store: new MemoryStore(), token: "w", cors: pages.url, log: () => {} });
  try {
    const headers = { authorization: "Bearer w", "content-type": "application/json" };
    await fetch(`${api.url}/v1/orchestrate/remote/app/version`, { method: "POST", headers, body: JSON.stringify({ version: "r1" }) });
    const { page, errors } = await pageWithErrors(d.context);
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
    const { page, errors } = await pageWithErrors(d.context);
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

test("revisions and who did it, finding things, the legend, shortcuts and remembering the sign-in: named tokens on a server of four entities", async () => {
  const clock = { now: Date.UTC(2026, 11, 2, 9) };
  const named = await startServer({
    port: 0,
    store: new FileStore(mkdtempSync(join(d.dir, "named-"))),
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

    ({ page, errors } = await pageWithErrors(d.context));
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
    const other = await d.context.newPage();
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
