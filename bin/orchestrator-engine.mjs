#!/usr/bin/env node
// `npx orchestrator-engine simulate ...`: the terminal rollout simulator
// (js/cli.mjs); `npx orchestrator-engine serve ...`: the HTTP API
// (js/server/cli.mjs); `get`, `list` and the controls against a running
// server (js/operator/cli.mjs). `--help` lists each one's options.
const OPERATOR = ["get", "list", "pause", "resume", "approve", "promote", "abort", "retry", "rollback-to", "set", "pipeline", "approve-promotion", "release-pipeline", "stop-line", "start-line"];
const args = process.argv.slice(2);
const run =
  args[0] === "serve"
    ? import("../js/server/cli.mjs").then(({ serveMain }) => serveMain(args.slice(1)))
    : OPERATOR.includes(args[0])
      ? import("../js/operator/cli.mjs").then(({ operatorMain }) => operatorMain(args))
      : import("../js/cli.mjs").then(({ main }) => main(args));

run.then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`orchestrator-engine: ${e.code ? `${e.code}: ` : ""}${e.message}\n`);
    process.exitCode = 1;
  },
);
