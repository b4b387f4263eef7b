// A Worker script bundled as a deployment would be (esbuild, the "workerd"
// condition, the engine's wasm beside it as a module of its own), and the
// Miniflare options that run it in workerd: shared by the Worker API tests
// and the packaging test's round trip.
import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";

/**
 * Bundles `entry` (resolved from `cwd`) into `outDir`/worker.mjs, with
 * `wasm` copied beside it; answers Miniflare's module options, and in
 * `inputs` the files the bundle holds (relative to `cwd`): what the
 * conditions resolved, as esbuild saw it.
 */
export async function bundleWorker({ entry, cwd, outDir, wasm, external = [] }) {
  mkdirSync(outDir, { recursive: true });
  const { metafile } = await build({
    metafile: true,
    absWorkingDir: cwd,
    entryPoints: [entry],
    bundle: true,
    format: "esm",
    platform: "neutral",
    conditions: ["workerd", "worker", "browser"],
    mainFields: ["module", "main"],
    outfile: join(outDir, "worker.mjs"),
    external,
    plugins: [{ name: "wasm", setup: (b) => b.onResolve({ filter: /\.wasm$/ }, () => ({ path: "./orchestrator_engine_bg.wasm", external: true })) }],
    logLevel: "error",
  });
  copyFileSync(wasm, join(outDir, "orchestrator_engine_bg.wasm"));
  const inputs = Object.keys(metafile.inputs);
  return {
    inputs,
    modules: true,
    scriptPath: join(outDir, "worker.mjs"),
    modulesRoot: outDir,
    modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }],
    compatibilityDate: "2025-06-01",
  };
}
