// The fixture of the dashboard tests: the API server (embedded file store,
// write token "w", read token "r") serving the dashboard, headless Chromium,
// and, when asked, a controller process rolling prod/api out through the API.
// Each test file gets its own server, browser and state.
import { after, before } from "node:test";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { FileStore } from "orchestrator-engine/stores/file";
import { startServer } from "../../js/server/node.mjs";
import { launch } from "./chromium.mjs";

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

/**
 * Registers the file's before and after hooks and returns what the tests
 * use once they run: `url`, `context` (the browser's), `write` (headers),
 * `dir` (a scratch directory), `post`/`get` on prod/api, `signIn(page,
 * token)` and, with `controller: true`, `controller.answers`. With a
 * controller, v1 is good on its 40 targets and v2 is rolling out when the
 * first test starts.
 */
export function useDashboard({ controller = false } = {}) {
  const d = { write: { authorization: "Bearer w" }, dir: mkdtempSync(join(tmpdir(), "dashboard-")) };
  let server, browser;
  const api = (path) => `${d.url}/v1/orchestrate/prod/api${path}`;
  d.post = (path, body) => fetch(api(path), { method: "POST", headers: d.write, body: JSON.stringify(body) });
  d.get = async (path, auth = d.write) => (await fetch(api(path), { headers: auth })).json();
  d.signIn = async (page, token) => {
    await page.goto(`${d.url}/`);
    await page.waitForSelector("#login:not([hidden])");
    await page.fill("#token", token);
    await page.click("#login button[type=submit]");
  };

  before(async () => {
    server = await startServer({ port: 0, store: new FileStore(join(d.dir, "store")), token: "w", readToken: "r", pollMs: 100, log: () => {} });
    d.url = server.url;
    if (controller) {
      await d.post("/options", { batchpercent: 10, successpercent: 100, successtimeoutsecs: 1, durationtimeoutsecs: 5 });
      await d.post("/version", { version: "v1" });
      d.controller = drive(server.url);
      for (const deadline = Date.now() + 30_000; !(await d.get("/rollout")).lastknowngoodversion; ) {
        if (Date.now() > deadline) throw new Error("the controller did not make v1 good within 30 s");
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      await d.post("/version", { version: "v2" });
    }
    browser = await launch();
    d.context = browser.context;
  });

  after(async () => {
    await d.controller?.stop();
    await browser?.close();
    await server?.stop();
    rmSync(d.dir, { recursive: true, force: true });
  });
  return d;
}

/** Accepts each confirmation the page asks for, keeping its text. */
export function acceptDialogs(page) {
  const asked = [];
  page.on("dialog", (dialog) => {
    asked.push(dialog.message());
    dialog.accept();
  });
  return asked;
}
