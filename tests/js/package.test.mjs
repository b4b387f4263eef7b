// The packed tarball, installed into a fresh project and used the way a
// user would: ESM, CJS, TypeScript, the web build from bytes, an
// edge-style handler driven through a rollout and a rollback, and the same
// round trip in Node, Bun, Deno and workerd for real.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, "package.json")));
let dir;

const node = (...args) => JSON.parse(execFileSync(process.execPath, args, { cwd: dir, encoding: "utf8" }).trim().split("\n").pop());

before(() => {
  dir = mkdtempSync(join(tmpdir(), "orchestrator-consumer-"));
  const packed = JSON.parse(execFileSync("npm", ["pack", "--json", "--pack-destination", dir], { cwd: root, encoding: "utf8" }));
  const files = packed[0].files.map((f) => f.path);
  writeFileSync(join(dir, "files.json"), JSON.stringify(files));
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
  // Installed as a user on a fresh machine would: from the registry, with an
  // npm cache of its own that starts empty, so a warm cache on this machine
  // cannot hide a dependency the tarball fails to bring.
  const cache = mkdtempSync(join(tmpdir(), "orchestrator-npm-cache-"));
  try {
    execFileSync("npm", ["install", "--no-audit", "--no-fund", join(dir, packed[0].filename)], { cwd: dir, stdio: "pipe", env: { ...process.env, npm_config_cache: cache, npm_config_offline: "false", npm_config_prefer_offline: "false" } });
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
  for (const f of readdirSync(join(root, "tests/js/consumer"))) cpSync(join(root, "tests/js/consumer", f), join(dir, f));
});

after(() => rmSync(dir, { recursive: true, force: true }));

test("the tarball holds what users need and nothing else", () => {
  const files = JSON.parse(readFileSync(join(dir, "files.json")));
  for (const f of ["package.json", "README.md", "bin/orchestrator-engine.mjs", "js/cli.mjs", "js/simulation.mjs", "js/simulation/scenario.mjs", "js/simulation/fleet.mjs", "js/simulation/words.mjs", "js/node.mjs", "js/browser.mjs", "js/edge.mjs", "js/workerd.mjs",
    "js/rollouts/rollouts.mjs", "js/rollouts/rollouts.d.ts", "js/stores/index.mjs", "js/stores/stores.d.ts", "js/stores/file.mjs", "js/stores/file.d.ts", "js/server/handler.mjs", "js/server/server.d.ts", "js/server/node.mjs", "js/server/cli.mjs", "js/server/worker.mjs", "js/stores/durable-object.mjs",
    "pkg/node/orchestrator_engine.js", "pkg/node/orchestrator_engine.d.ts", "pkg/node/orchestrator_engine_bg.wasm",
    "pkg/web/orchestrator_engine.js", "pkg/web/orchestrator_engine_bg.wasm", "pkg/edge/wasm-base64.mjs"]) {
    assert.ok(files.includes(f), `${f} missing from the tarball`);
  }
  assert.ok(!files.some((f) => /^(src|tests|target|scripts)\//.test(f) || f === "Cargo.toml"), files.join(", "));
});

test("the README and the reference pages in the tarball link only to files in it or to absolute URLs; the licences they name are there", () => {
  const files = new Set(JSON.parse(readFileSync(join(dir, "files.json"))));
  const pages = ["README.md", ...[...files].filter((f) => /^docs\/[^/]+\.md$/.test(f))];
  for (const page of ["JS-API", "HTTP-API", "STORES", "ROLLOUTS", "ANALYSIS", "ERRORS", "DEVIATIONS", "GO-ENGINE", "SIMULATORS", "PERFORMANCE"]) {
    assert.ok(files.has(`docs/${page}.md`), `docs/${page}.md ships in the package`);
  }
  const readme = readFileSync(join(dir, "node_modules/orchestrator-engine/README.md"), "utf8");
  for (const page of pages) {
    const text = readFileSync(join(dir, "node_modules/orchestrator-engine", page), "utf8");
    const links = [...text.matchAll(/!?\[[^\]]*\]\(([^)\s]+)\)/g)].map(([, target]) => target);
    const base = page.includes("/") ? page.slice(0, page.lastIndexOf("/") + 1) : "";
    for (const target of links) {
      if (/^[a-z]+:/.test(target) || target.startsWith("#")) continue;
      const path = new URL(target.split("#")[0], `file:///${base}`).pathname.slice(1);
      assert.ok(files.has(path), `${page} links to ${target}, which is not in the package`);
    }
    assert.doesNotMatch(text, /(^|[\s(`])\.\.\/[A-Za-z]/m, `${page}: nothing outside the package is named as a path`);
    // Written for the package's users: no issue numbers, no test files
    // (but in the pages on working on the package and on how it is
    // measured, which name what to run).
    assert.doesNotMatch(text, /\bissue \d+/i, `${page} cites an issue`);
    if (!["docs/DEVELOPING.md", "docs/PERFORMANCE.md"].includes(page)) assert.doesNotMatch(text, /tests\/[a-z]/i, `${page} cites a test file`);
  }
  const links = [...readme.matchAll(/!?\[[^\]]*\]\(([^)\s]+)\)/g)].map(([, target]) => target);
  assert.ok(links.length >= 10, "the README links to its reference pages");
  for (const page of ["JS-API", "HTTP-API", "STORES", "ROLLOUTS", "ANALYSIS", "ERRORS", "DEVIATIONS", "GO-ENGINE", "SIMULATORS", "PERFORMANCE"]) {
    assert.ok(links.includes(`docs/${page}.md`), `the README links to docs/${page}.md`);
  }
  for (const license of ["LICENSE-MIT", "LICENSE-APACHE"]) assert.ok(files.has(license), license);
  assert.equal(pkg.license, "MIT OR Apache-2.0");
  // The example the README points to runs from the installed package.
  // It runs from the installed package and does what its header says: a
  // healthy v2 rolls out to all 24 hosts; a broken one is rolled back.
  const example = (...args) => execFileSync(process.execPath, [join(dir, "node_modules/orchestrator-engine/examples/controller.mjs"), ...args], { cwd: dir, encoding: "utf8" });
  const healthy = example();
  assert.match(healthy, /on v2: 24\/24 .* good: v2 /);
  assert.match(healthy, /\nv2 rolled out in [\d.]+ virtual minutes, \d+ steps\n$/);
  const failing = example("--fail");
  assert.match(failing, /on v2: {2}0\/24 .* good: v1 {2}bad: v2\n\nv2 rolled back in [\d.]+ virtual minutes, \d+ steps\n$/);
});

test("Node ESM import", () => {
  assert.deepEqual(node("esm.mjs"), { version: pkg.version, answer: "v1", kind: "esm", errors: ["NOT_FOUND", "INVALID_ARGUMENT", false], entry: "js/node.mjs" });
});

test("the durable engine (orchestrator-engine/rollouts) on the memory and directory stores", () => {
  const out = node("rollouts.mjs");
  assert.deepEqual(out, { memory: ["v1", 1, ["api"]], file: ["v1", 1, ["api"]] });
});

test("Node CJS require", () => {
  assert.deepEqual(node("cjs.cjs"), { version: pkg.version, answer: "v1", kind: "cjs", orchestrateAsync: "function", error: "NOT_FOUND" });
});

test("the web build initialises from wasm bytes and from a compiled WebAssembly.Module", () => {
  assert.deepEqual(node("web.mjs", "bytes"), { version: pkg.version, answer: "v1", kind: "web" });
  assert.deepEqual(node("web.mjs", "module"), { version: pkg.version, answer: "v1", kind: "web" });
});

test("the workerd and edge-light entries start from an imported, compiled WebAssembly.Module", () => {
  for (const condition of ["workerd", "edge-light"]) {
    const out = node("--import", "./register-wasm-modules.mjs", `--conditions=${condition}`, "esm.mjs");
    assert.deepEqual(out, { version: pkg.version, answer: "v1", kind: "esm", errors: ["NOT_FOUND", "INVALID_ARGUMENT", false], entry: `js/${condition}.mjs` });
  }
});

test("TypeScript: ES module, CommonJS and bundler importers each type-check against their own declarations, and so does every example in the README (tsc --noEmit)", () => {
  const tsc = (config) => {
    try {
      execFileSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", config], { cwd: dir, stdio: "pipe", encoding: "utf8" });
    } catch (error) {
      assert.fail(`${config}: ${error.stdout}${error.stderr}`);
    }
  };
  // nodenext: usage.ts and no-default.ts as ES modules (a default import is an error), usage.cts as CommonJS.
  tsc("tsconfig.json");
  tsc("tsconfig.bundler.json");
  // The stores' client parameters against the clients' own types (this
  // checkout's dev dependencies: the consumer installed only the package).
  const clients = Object.fromEntries(["redis", "ioredis", "postgres"].map((name) => [name, [join(root, "node_modules", name)]]));
  const clientOptions = { strict: true, noEmit: true, module: "esnext", moduleResolution: "bundler", target: "es2022", lib: ["es2022", "esnext.disposable"], types: [], baseUrl: ".", paths: { ...clients, pg: [join(root, "node_modules/@types/pg")] }, typeRoots: [join(root, "node_modules/@types")] };
  writeFileSync(join(dir, "tsconfig.clients.json"), JSON.stringify({ compilerOptions: clientOptions, files: ["clients.ts"] }));
  tsc("tsconfig.clients.json");
  // Every JavaScript and TypeScript example in the README and the
  // reference pages, as a user would paste it: an example without an
  // import continues the first one (`engine`).
  const pages = ["README.md", ...readdirSync(join(root, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];
  const examples = pages.flatMap((page) => [...readFileSync(join(root, page), "utf8").matchAll(/^```(?:js|ts)\n([\s\S]*?)^```$/gm)].map((m) => m[1]));
  assert.ok(examples.length >= 15, `only ${examples.length} examples found`);
  const files = examples.map((code, i) => {
    const file = `readme-${i + 1}.ts`;
    const start = /^(import|export) /m.test(code) ? "" : 'import { Orchestrator } from "orchestrator-engine";\nconst engine = new Orchestrator();\n';
    writeFileSync(join(dir, file), `${start}${code}\nexport {};\n`);
    return file;
  });
  const options = { strict: true, noImplicitAny: false, noEmit: true, module: "esnext", moduleResolution: "bundler", target: "es2022", lib: ["es2022", "esnext.disposable", "dom"], types: [] };
  writeFileSync(join(dir, "tsconfig.readme.json"), JSON.stringify({ compilerOptions: options, files: ["readme-globals.d.ts", ...files] }));
  tsc("tsconfig.readme.json");
  const dts = readFileSync(join(dir, "node_modules/orchestrator-engine/pkg/node/orchestrator_engine.d.ts"), "utf8");
  const code = dts.replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");
  assert.doesNotMatch(code, /:\s*any\b|<any>|\bany\[\]/, "the public types use no `any`");
});

test("an edge handler restores the engine per request through a whole rollout and a rollback", () => {
  const summary = node("drive-edge.mjs");
  const [first, rollout, rollback] = summary.phases;
  assert.equal(first.info.lastKnownGoodVersion, "v1");
  assert.equal(rollout.info.lastKnownGoodVersion, "v2");
  assert.ok(rollout.running.every((v) => v === "v2"));
  assert.equal(rollback.info.lastKnownBadVersion, "v3");
  assert.equal(rollback.info.lastKnownGoodVersion, "v2");
  assert.ok(rollback.running.every((v) => v === "v2"));
  assert.equal(summary.badRequest.status, 400);
  assert.equal(summary.badRequest.code, "INVALID_ARGUMENT");
  assert.ok(summary.requests > 20 && summary.snapshotBytes > 20);
});

test("npx orchestrator-engine simulate runs the installed terminal simulator", () => {
  const out = execFileSync("npx", ["--no-install", "orchestrator-engine", "simulate", "--targets", "40", "--json", "--fail", "v2:20%"], { cwd: dir, encoding: "utf8" });
  const summary = JSON.parse(out);
  assert.equal(summary.outcome, "rolled_back");
  assert.deepEqual(summary.running, { v1: 40 });
});

test("the simulation model is importable as orchestrator-engine/simulation", () => {
  const out = node("--input-type=module", "-e", `
    import { Orchestrator } from "orchestrator-engine";
    import { Simulation } from "orchestrator-engine/simulation";
    console.log(JSON.stringify(new Simulation(Orchestrator, { targets: 30 }).run()));`);
  assert.equal(out.outcome, "rolled_out");
  assert.equal(out.targets, 30);
});

describe("the same rollout and snapshot round trip in every runtime the package claims", () => {
  const binaries = { bun: join(root, "node_modules/bun/bin/bun.exe"), deno: join(root, "node_modules/.bin/deno") };
  let inNode;
  before(() => {
    inNode = node("round-trip-run.mjs");
    assert.equal(inNode.good, "v2");
    assert.equal(inNode.running, "v2,v2,v2,v2,v2,v2,v2,v2");
    assert.equal(inNode.sameAfterRestore, true);
    assert.equal(inNode.error, "NOT_FOUND");
  });
  const same = (out, entry) => assert.deepEqual(out, { ...inNode, entry });

  test("Bun (from its npm package)", () => {
    const out = execFileSync(binaries.bun, ["round-trip-run.mjs"], { cwd: dir, encoding: "utf8" });
    same(JSON.parse(out.trim().split("\n").pop()), "js/node.mjs");
  });

  test("Deno (from its npm package), with the node_modules it was installed in", () => {
    const out = execFileSync(binaries.deno, ["run", "--allow-read", "--allow-env", "round-trip-run.mjs"], { cwd: dir, encoding: "utf8", env: { ...process.env, DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" } });
    same(JSON.parse(out.trim().split("\n").pop()), "js/node.mjs");
  });

  test("workerd (Miniflare), bundled as a Worker with the workerd condition", async () => {
    const { Miniflare } = await import("miniflare");
    const { bundleWorker } = await import("./servers/worker-bundle.mjs");
    const script = await bundleWorker({
      entry: "round-trip-worker.mjs",
      cwd: dir,
      outDir: join(dir, "worker-out"),
      wasm: join(dir, "node_modules/orchestrator-engine/pkg/web/orchestrator_engine_bg.wasm"),
    });
    // Which entry the workerd condition resolved, from the bundle itself.
    const { inputs, ...options } = script;
    const entries = inputs.map((f) => f.replace(/.*node_modules\/orchestrator-engine\//, "")).filter((f) => /^js\/[a-z-]+\.mjs$/.test(f));
    assert.ok(entries.includes("js/workerd.mjs"), entries.join(", "));
    assert.ok(!entries.some((f) => ["js/node.mjs", "js/edge.mjs", "js/browser.mjs"].includes(f)), entries.join(", "));
    const mf = new Miniflare(options);
    try {
      same({ entry: "js/workerd.mjs", ...(await (await mf.dispatchFetch("http://localhost/")).json()) }, "js/workerd.mjs");
    } finally {
      await mf.dispose();
    }
  });
});

/**
 * The installed bin, `serve`d as its help says to run it (node, no npm in
 * between); answers the child and its "listening" line, or fails within
 * `ms` (with what it printed) if it exits or says nothing.
 */
async function served(args, { via = [], ms = 20_000 } = {}) {
  const { spawn } = await import("node:child_process");
  const bin = join(dir, "node_modules/orchestrator-engine/bin/orchestrator-engine.mjs");
  const command = [...via, process.execPath, bin, "serve", "--port", "0", "--store", "memory:", ...args];
  const child = spawn(command[0], command.slice(1), { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stderr.on("data", (chunk) => (out += chunk));
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal, out })));
  const listening = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve said nothing within ${ms} ms: ${out}`)), ms);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited (${code}) before listening: ${out}`));
    });
    child.stdout.on("data", (chunk) => {
      out += chunk;
      const line = out.split("\n").find((l) => l.includes('"listening"'));
      if (line) {
        clearTimeout(timer);
        resolve(JSON.parse(line));
      }
    });
  });
  return { child, listening, exited };
}

test("serve from the installed package: the rollout simulator runs in Chromium at /simulator/, and SIGTERM stops the server", async () => {
  const { launch, pageWithErrors } = await import("./chromium.mjs");
  const { child, listening, exited } = await served([]);
  // The server is stopped even when the browser does not start.
  let browser;
  try {
    browser = await launch({ viewport: { width: 1400, height: 1000 } });
    assert.equal(listening.simulator, `${listening.url}/simulator/`);
    assert.equal(listening.dashboard, `${listening.url}/dashboard/`);
    const { page, errors } = await pageWithErrors(browser.context);
    await page.goto(listening.simulator);
    await page.waitForSelector("body[data-ready=true]", { timeout: 20_000 });
    // It runs: a small fleet to the end, with the engine's own wasm.
    await page.fill("#targets", "50");
    await page.click("#reset");
    await page.$eval("#speed", (el) => {
      el.value = el.max;
      el.dispatchEvent(new Event("input"));
    });
    await page.click("#play");
    await page.waitForSelector('#outcome:is([data-outcome="rolled_out"], [data-outcome="rolled_back"], [data-outcome="halted"])', { timeout: 60_000 });
    assert.deepEqual(errors, []);
    // Without the trailing slash, it leads there.
    const bare = await fetch(`${listening.url}/simulator`, { redirect: "manual" });
    assert.deepEqual([bare.status, bare.headers.get("location")], [302, "/simulator/"]);
  } finally {
    await browser?.close();
    child.kill("SIGTERM");
  }
  const { code, signal, out } = await Promise.race([exited, new Promise((_, reject) => setTimeout(() => reject(new Error("serve did not exit within 10 s of SIGTERM")), 10_000))]);
  assert.deepEqual([code, signal], [0, null], out);
  assert.match(out, /"message":"stopped"/);
  // Nothing listens there any more.
  await assert.rejects(fetch(`${listening.url}/healthz`));
});

test("serve as a container's PID 1 (its own PID namespace): SIGTERM stops it cleanly", async (t) => {
  if (process.getuid?.() !== 0) return t.skip("a PID namespace needs root (CI runs as root)");
  // As `CMD ["node", ".../bin/orchestrator-engine.mjs", "serve"]` runs it:
  // node itself is PID 1, which gets no default signal handling.
  const { child, listening, exited } = await served([], { via: ["unshare", "--pid", "--fork", "--mount-proc"] });
  try {
    assert.equal((await fetch(`${listening.url}/healthz`)).status, 200);
    // The runtime signals PID 1 of the container: here, node under unshare.
    const pid1 = Number(readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, "utf8").trim().split(/\s+/)[0]);
    assert.match(readFileSync(`/proc/${pid1}/status`, "utf8"), /^NSpid:\s+\d+\s+1$/m, "node is PID 1 in its namespace");
    process.kill(pid1, "SIGTERM");
    const { code, out } = await Promise.race([exited, new Promise((_, reject) => setTimeout(() => reject(new Error("PID 1 did not exit within 10 s of SIGTERM")), 10_000))]);
    assert.equal(code, 0, out);
    assert.match(out, /"message":"stopped"/);
    await assert.rejects(fetch(`${listening.url}/healthz`));
  } finally {
    child.kill("SIGKILL");
  }
});
