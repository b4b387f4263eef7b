#!/usr/bin/env node
// `npx orchestrator-engine simulate ...`: the terminal rollout simulator
// (js/cli.mjs; `--help` lists the options).
import { main } from "../js/cli.mjs";

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`orchestrator-engine: ${e.code ? `${e.code}: ` : ""}${e.message}\n`);
    process.exitCode = 1;
  },
);
