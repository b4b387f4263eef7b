// The API in Node: the fetch handler (js/server/handler.mjs) on node:http
// through @hono/node-server, one structured log line per request (JSON:
// time, level, method, path, status, ms), and a stop that lets the steps
// under way finish.

import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

import { serve } from "@hono/node-server";
import { serveStatic } from "@hono/node-server/serve-static";
import { Hono } from "hono";

import { describe, orchestratorError } from "../errors.mjs";
import { createHandler } from "./handler.mjs";

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);

/** The browser pages: the dashboard (www/dashboard/), with the engine and drawing code it shares with the simulator. */
const WWW = fileURLToPath(new URL("../../www", import.meta.url));
const PAGES = ["/dashboard/", "/engine/", "/render.mjs", "/columns.mjs", "/style.css"];
/** The rollout simulator (www/ itself: index.html, app.mjs, worker.mjs and what they share), under this path. */
const SIMULATOR = "/simulator";

/**
 * The dashboard's files at `/` and the simulator's at `/simulator/`, beside
 * the API (`handler`); without the built pages (a checkout before `npm run
 * build`), the API alone.
 */
function withPages(handler) {
  if (!existsSync(`${WWW}/engine/orchestrator_engine_bg.wasm`)) return handler;
  const app = new Hono();
  app.get("/", (c) => c.redirect("/dashboard/"));
  app.get("/dashboard", (c) => c.redirect("/dashboard/"));
  app.get(SIMULATOR, (c) => c.redirect(`${SIMULATOR}/`));
  const files = serveStatic({ root: WWW });
  const simulator = serveStatic({ root: WWW, rewriteRequestPath: (path) => path.slice(SIMULATOR.length) });
  app.get(`${SIMULATOR}/*`, (c, next) => simulator(c, next));
  app.get("/*", (c, next) => (PAGES.some((p) => c.req.path.startsWith(p)) ? files(c, next) : next()));
  app.all("*", (c) => handler.fetch(c.req.raw));
  return { ...handler, fetch: (request) => app.fetch(request), pages: true };
}

/** Whether `host` is a loopback address (only then may a server run without a token). */
export const isLoopback = (host) => LOOPBACK.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);

/**
 * Starts the API. Resolves `{ url, port, stop }` once listening; `stop()`
 * stops taking connections and resolves once the requests under way have
 * been answered.
 */
export async function startServer({
  host = "127.0.0.1",
  port = 8080,
  store,
  token,
  readToken,
  tokens,
  insecure = false,
  log = (line) => process.stdout.write(`${line}\n`),
  ...options
}) {
  if (typeof host !== "string" || host === "") {
    throw orchestratorError("INVALID_ARGUMENT", `host must be an address or host name to listen on, got ${describe(host)}`);
  }
  if (!(Number.isInteger(port) && port >= 0 && port <= 65535)) {
    throw orchestratorError("INVALID_ARGUMENT", `port must be a whole number from 0 to 65535 (0 picks a free one), got ${describe(port)}`);
  }
  if (!token && !readToken && !(tokens?.length > 0) && !isLoopback(host) && !insecure) {
    throw orchestratorError(
      "INVALID_ARGUMENT",
      `refusing to listen on ${host} without a token: set ORCHESTRATOR_TOKEN (and ORCHESTRATOR_READ_TOKEN for readers), or pass --insecure to serve anyone who can reach it`,
    );
  }
  const handler = withPages(createHandler({ store, token, readToken, tokens, insecure: insecure || isLoopback(host), ...options }));
  const logged = async (request, ...rest) => {
    const started = performance.now();
    const response = await handler.fetch(request, ...rest);
    const { pathname } = new URL(request.url);
    log(
      JSON.stringify({
        time: new Date().toISOString(),
        level: response.status >= 500 ? "error" : response.status >= 400 ? "warn" : "info",
        method: request.method,
        path: pathname,
        status: response.status,
        ms: Math.round((performance.now() - started) * 10) / 10,
      }),
    );
    return response;
  };
  const server = await new Promise((resolve, reject) => {
    const s = serve({ fetch: logged, hostname: host, port }, () => resolve(s));
    s.once("error", reject);
  });
  const address = server.address();
  const shown = address.family === "IPv6" ? `[${address.address}]` : address.address;
  const url = `http://${shown}:${address.port}`;
  return {
    url,
    dashboard: handler.pages ? `${url}/dashboard/` : null,
    simulator: handler.pages ? `${url}${SIMULATOR}/` : null,
    port: address.port,
    rollouts: handler.rollouts,
    stop: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        handler.close();
        server.closeIdleConnections?.();
      }),
  };
}
