// How both commands (`simulate`, js/cli.mjs; `serve`, js/server/cli.mjs)
// read their flags, and what they say about a bad invocation: one line
// naming the flag and what it accepts, ending with where the flags are
// listed; the caller exits 2.

import { parseArgs } from "node:util";

/** What `orchestrator-engine --help` (no command) says: the commands. */
export const OVERVIEW = `Usage: orchestrator-engine <command> [options]

Commands:
  simulate   roll a simulated fleet from one version to another with the
             real engine, in virtual time, and print what happened
  serve      serve the HTTP API (the Go engine's, under /v1/orchestrate),
             the live dashboard at /dashboard/ and the rollout simulator
             at /simulator/
  get        one entity of a running server: state, versions, targets,
             plan, analysis, last events (--watch: live; --wait-for)
  list       every entity of a running server, with its state
  pause, resume, approve, promote, abort, retry, set, rollback-to
             the engine's controls, on an entity of a running server

orchestrator-engine <command> --help lists a command's options;
orchestrator-engine --version prints the engine's version.
`;

/** A bad invocation; its message names the flag. */
export class UsageError extends Error {}

/** A whole number from `min` to `max` given to `--flag`. */
export function wholeNumber(flag, text, min, max) {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`--${flag} must be a whole number from ${min.toLocaleString("en-US")} to ${max.toLocaleString("en-US")}, got ${JSON.stringify(text)}`);
  }
  return n;
}

/** `parseArgs(config)` (strict), its complaints as `UsageError`s in the commands' words. */
export function parseFlags(config) {
  try {
    return parseArgs({ strict: true, ...config });
  } catch (error) {
    throw parseError(error);
  }
}

function parseError(error) {
  const flag = /'(-[^' ]+)/.exec(error.message)?.[1] ?? "a flag";
  if (error.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") return new UsageError(`unknown flag ${flag}`);
  if (error.code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL") return new UsageError(`unexpected argument ${JSON.stringify(/'([^']*)'/.exec(error.message)?.[1] ?? "")} (every option is a --flag)`);
  if (/does not take an argument/.test(error.message)) return new UsageError(`${flag} takes no value`);
  if (/argument missing/.test(error.message)) return new UsageError(`${flag} needs a value`);
  return new UsageError(error.message);
}

/** The one line a bad invocation of `command` gets. */
export const usageLine = (command, message) => `orchestrator-engine${command ? ` ${command}` : ""}: ${message} (--help lists every flag)\n`;
