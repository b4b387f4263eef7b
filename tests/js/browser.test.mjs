// The `browser` build in headless Chromium (Debian's, driven by
// playwright-core), served from 127.0.0.1.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import sirv from "sirv";
import { chromium } from "playwright-core";

const root = fileURLToPath(new URL("../..", import.meta.url));
const executablePath = "/usr/bin/chromium";
let server, context, profile, base;

before(async () => {
  assert.ok(existsSync(executablePath), "Debian's chromium is missing: run `npm test`, which installs it");
  const serve = sirv(root, { dev: true });
  server = createServer((req, res) => serve(req, res, () => { res.statusCode = 404; res.end(); }));
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${server.address().port}`;
  profile = mkdtempSync(join(tmpdir(), "chromium-profile-"));
  context = await chromium.launchPersistentContext(profile, {
    executablePath,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});

after(async () => {
  await context?.close();
  server?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

test("a page importing the browser build runs a rollout in headless Chromium", async () => {
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
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
  await page.screenshot({ path: join(tmpdir(), "orchestrator-browser.png") });
});
