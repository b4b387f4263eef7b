// Debian's headless Chromium driven by playwright-core (TOOLCHAIN.md), for
// the browser tests: a fresh profile per launch, removed on close.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";

const executablePath = "/usr/bin/chromium";

/** Where browser tests leave screenshots: test-results/ (not committed). */
export const OUTPUT = fileURLToPath(new URL("../../test-results/", import.meta.url));

export async function launch(options = {}) {
  assert.ok(existsSync(executablePath), "Debian's chromium is missing: run `npm test`, which installs it");
  mkdirSync(OUTPUT, { recursive: true });
  const profile = mkdtempSync(join(tmpdir(), "chromium-profile-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    acceptDownloads: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    ...options,
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** A new page that collects uncaught errors and console errors. */
export async function pageWithErrors(context) {
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  return { page, errors };
}
