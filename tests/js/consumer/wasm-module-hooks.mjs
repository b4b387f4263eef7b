// Node module hooks that give `.wasm` imports the semantics of workerd and
// Vercel's edge runtime: the default export is a compiled WebAssembly.Module
// (`?module` suffix included), never bytes the package compiles itself.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export async function resolve(specifier, context, next) {
  return next(specifier.replace(/\.wasm\?module$/, ".wasm"), context);
}

export async function load(url, context, next) {
  if (!url.endsWith(".wasm")) return next(url, context);
  const b64 = readFileSync(fileURLToPath(url)).toString("base64");
  return {
    format: "module",
    shortCircuit: true,
    source: `export default new WebAssembly.Module(Uint8Array.from(atob("${b64}"), (c) => c.charCodeAt(0)));`,
  };
}
