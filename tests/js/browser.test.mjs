// The `browser` build in headless Chromium (Debian's, driven by
// playwright-core), served from 127.0.0.1.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import sirv from "sirv";
import { OUTPUT, launch, pageWithErrors } from "./chromium.mjs";

const root = fileURLToPath(new URL("../..", import.meta.url));
let server, browser, base;

/** What package.json's exports resolve "orchestrator-engine" to under the "browser" condition, as a bundler would. */
function browserEntry() {
  const { exports } = JSON.parse(readFileSync(join(root, "package.json")));
  const target = exports["."].browser;
  return (typeof target === "string" ? target : target.default).replace(/^\./, "");
}

before(async () => {
  const serve = sirv(root, { dev: true });
  const page = readFileSync(join(root, "tests/browser/index.html"), "utf8").replace("__BROWSER_ENTRY__", browserEntry());
  server = createServer((req, res) => {
    if (req.url === "/tests/browser/index.html") {
      res.setHeader("content-type", "text/html");
      return res.end(page);
    }
    serve(req, res, () => {
      res.statusCode = 404;
      res.end();
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${server.address().port}`;
  browser = await launch();
});

after(async () => {
  await browser?.close();
  server?.close();
});

test("a page importing the browser build runs a rollout in headless Chromium", async () => {
  const { page, errors } = await pageWithErrors(browser.context);
  const wasm = page.waitForResponse((r) => r.url().endsWith(".wasm"));
  await page.goto(`${base}/tests/browser/index.html`);
  assert.equal((await wasm).headers()["content-type"], "application/wasm");
  await page.waitForFunction(() => window.__result, null, { timeout: 20_000 });
  const result = await page.evaluate(() => window.__result);
  const pkg = JSON.parse(readFileSync(join(root, "package.json")));
  assert.deepEqual(errors, []);
  assert.equal(result.version, pkg.version);
  assert.equal(result.info.lastKnownGoodVersion, "v2");
  assert.ok(result.allOnV2);
  assert.ok(result.steps > 4 && result.steps < 500, `${result.steps} steps`);
  assert.equal(result.errorCode, "INVALID_ARGUMENT");
  await page.screenshot({ path: join(OUTPUT, "browser-entry.png") });
});
