import { register } from "node:module";
register("./wasm-module-hooks.mjs", import.meta.url);
