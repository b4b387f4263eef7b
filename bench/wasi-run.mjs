// Runs a wasm32-wasip1 program in Node's WASI with the given arguments
// (used by bench.mjs for the wasm half of the wasm/native ratio).
import { readFileSync } from "node:fs";
import { WASI } from "node:wasi";

const [file, ...args] = process.argv.slice(2);
const wasi = new WASI({ version: "preview1", args: [file, ...args], env: {}, returnOnExit: true });
const module = await WebAssembly.compile(readFileSync(file));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
// Exit with its status (Node 20 may still crash after a program whose memory
// grew past a gigabyte finished: bench.mjs counts the lines it printed).
process.exit(wasi.start(instance));
