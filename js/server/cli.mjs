// `npx orchestrator-engine serve`: the HTTP API in Node (js/server/node.mjs)
// over a store named by `--store` (js/server/store-url.mjs). Tokens come
// from the environment, never from flags (a flag shows in `ps`).
import { UsageError, parseFlags, usageLine, wholeNumber } from "../cli-args.mjs";
import { openStore } from "./store-url.mjs";
import { readFile } from "node:fs/promises";

import { paddedTokenVariable, parseNamedTokens } from "./auth.mjs";
import { isLoopback, startServer } from "./node.mjs";

export const USAGE = `Usage: orchestrator-engine serve [options]

Serves the Go engine's HTTP API (and this package's additions) under
/v1/orchestrate, with /healthz for health checks, and two browser pages
beside it: the live dashboard at /dashboard/ (every entity's rollout,
its targets and events as they happen, and its controls) and the rollout
simulator at /simulator/. The "listening" line gives both addresses.

Options:
  --host HOST            address to listen on (default 127.0.0.1)
  --port PORT            port (default 8080; 0 picks a free one)
  --store URL            where entities live (default file:./orchestrator-state):
                         file:DIR, memory:, redis://..., postgres://...
  --max-body-bytes N     largest request body (default 201326592, a 1M-target report)
  --max-streams N        event streams held open at once (default 1000)
  --max-entities N       entities kept loaded, the least recently used let
                         go beyond it (default 1000): at least as many as
                         the controllers this process serves poll
  --allow-hook-hosts H   the only hosts an HTTP controller may name, comma-
                         separated (*.example.com for any name under it);
                         default any: give it on a server other teams reach
  --tokens-file FILE     named tokens, JSON: [{"name": "alice", "role":
                         "write", "token": "..."}, ...] (role write or read);
                         the events of each control name its token's name
  --insecure             allow a non-loopback --host without a token
  -h, --help             this help

Environment:
  ORCHESTRATOR_TOKEN       bearer token for every route
  ORCHESTRATOR_READ_TOKEN  bearer token for the GET routes only
  ORCHESTRATOR_TOKENS      named tokens, as --tokens-file holds them

Without a token the server only listens on loopback. It logs one JSON
line per request, and on SIGTERM or SIGINT stops taking connections,
finishes the requests under way and exits. Run it with node (or the
installed bin) rather than through npx or npm, which may not pass a
signal on: in a container, CMD ["node",
"node_modules/orchestrator-engine/bin/orchestrator-engine.mjs", "serve"].
`;

const OPTIONS = {
  host: { type: "string", default: "127.0.0.1" },
  port: { type: "string", default: "8080" },
  store: { type: "string", default: "file:./orchestrator-state" },
  "max-body-bytes": { type: "string" },
  "max-streams": { type: "string" },
  "max-entities": { type: "string" },
  "allow-hook-hosts": { type: "string" },
  "tokens-file": { type: "string" },
  insecure: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
};

/**
 * Runs `serve` with `args` (after the command); resolves to the exit code
 * once the server has stopped (`signals` stop it).
 */
export async function serveMain(args, { env = process.env, stdout = process.stdout, stderr = process.stderr, signals = process } = {}) {
  let values, port, maxBodyBytes, maxStreams, maxEntities, tokens, opened;
  try {
    ({ values } = parseFlags({ args, options: OPTIONS, allowPositionals: false }));
    if (values.help) {
      stdout.write(USAGE);
      return 0;
    }
    port = wholeNumber("port", values.port, 0, 65535);
    maxBodyBytes = values["max-body-bytes"] === undefined ? undefined : wholeNumber("max-body-bytes", values["max-body-bytes"], 1, 2 ** 31);
    maxStreams = values["max-streams"] === undefined ? undefined : wholeNumber("max-streams", values["max-streams"], 0, 1_000_000);
    maxEntities = values["max-entities"] === undefined ? undefined : wholeNumber("max-entities", values["max-entities"], 1, 100_000_000);
    tokens = await namedTokens(values["tokens-file"], env);
    opened = await openStore(values.store).catch((e) => {
      if (e.code !== "INVALID_ARGUMENT") throw e;
      throw new UsageError(e.message.startsWith("--store") ? e.message : `--store: ${e.message}`);
    });
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    stderr.write(usageLine("serve", e.message));
    return 2;
  }
  const token = env.ORCHESTRATOR_TOKEN || undefined;
  const readToken = env.ORCHESTRATOR_READ_TOKEN || undefined;
  const padded = paddedTokenVariable(env);
  if (padded !== undefined) {
    await opened.close();
    stderr.write(usageLine("serve", `${padded} has whitespace at an end (a newline from the file it came from?), so no request could present it: set it without`));
    return 2;
  }
  if (!token && !readToken && !tokens && !isLoopback(values.host) && values.insecure) {
    stderr.write(`orchestrator-engine serve: WARNING: serving ${values.host} without a token (--insecure): anyone who can reach it can change rollouts\n`);
  }
  const { store, close } = opened;
  let server;
  try {
    server = await startServer({
      host: values.host,
      port,
      store,
      token,
      readToken,
      tokens,
      insecure: values.insecure,
      maxBodyBytes,
      maxStreams,
      maxEntities,
      allowHookHosts: values["allow-hook-hosts"]?.split(",").map((h) => h.trim()).filter(Boolean),
      log: (line) => stdout.write(`${line}\n`),
    });
  } catch (e) {
    await close();
    throw e;
  }
  stdout.write(`${JSON.stringify({ time: new Date().toISOString(), level: "info", message: "listening", url: server.url, dashboard: server.dashboard, simulator: server.simulator, store: values.store.replace(/\/\/[^@/]*@/, "//***@") })}\n`);
  await new Promise((resolve) => {
    const stop = (signal) => {
      signals.off("SIGTERM", stop);
      signals.off("SIGINT", stop);
      stdout.write(`${JSON.stringify({ time: new Date().toISOString(), level: "info", message: "stopping", signal })}\n`);
      resolve();
    };
    signals.on("SIGTERM", stop);
    signals.on("SIGINT", stop);
  });
  await server.stop();
  await close();
  stdout.write(`${JSON.stringify({ time: new Date().toISOString(), level: "info", message: "stopped" })}\n`);
  return 0;
}

/** The named tokens of `--tokens-file` or ORCHESTRATOR_TOKENS (not both), or undefined. */
async function namedTokens(file, env) {
  if (file !== undefined && env.ORCHESTRATOR_TOKENS) throw new UsageError("give named tokens in --tokens-file or ORCHESTRATOR_TOKENS, not both");
  const [text, source] = file === undefined ? [env.ORCHESTRATOR_TOKENS, "ORCHESTRATOR_TOKENS"] : [await readTokensFile(file), `--tokens-file ${file}`];
  if (!text) return undefined;
  try {
    return parseNamedTokens(text, source);
  } catch (e) {
    throw new UsageError(e.message);
  }
}

async function readTokensFile(file) {
  try {
    return await readFile(file, "utf8");
  } catch (e) {
    throw new UsageError(`--tokens-file ${file}: ${e.code === "ENOENT" ? "no such file" : e.message}`);
  }
}
