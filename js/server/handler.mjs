// The HTTP API: the Go engine's routes (nixmade/orchestrator) with its JSON
// exactly, and under the same prefix what it lacks (force, controls, plan,
// history, events). One web-standard handler (`Request` -> `Response`,
// built with Hono), so the same code serves in Node (js/server/node.mjs)
// and in edge runtimes; the state is `Rollouts` over a store, so any
// number of servers can share one store.

import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { streamSSE } from "hono/streaming";

import { checkMs, describe, orchestratorError } from "../errors.mjs";
import { MONITORING_ENDPOINTS, TARGET_ENDPOINTS } from "../hooks/http.mjs";
import { Rollouts } from "../rollouts/rollouts.mjs";
import { checkTokens, identify, refusal } from "./auth.mjs";
import { corsFor } from "./cors.mjs";
import { EventFeed } from "./feed.mjs";
import { answerToGo, clientState, columnsCarryTags, columnsFromGo, controllerFromGo, optionsFromGo, reportRows, reportsFromGo, rolloutToGo, rowsToGo, versionFromGo } from "./go-json.mjs";
import { PREFIX, openApiDocument } from "./openapi.mjs";

export { PREFIX };

/** Large enough for a report of a million targets (about 110 bytes each as JSON). */
export const DEFAULT_MAX_BODY_BYTES = 192 * 1024 * 1024;

/** Event streams one handler holds open at once (a dashboard holds one or two). */
export const DEFAULT_MAX_STREAMS = 1000;

/** The HTTP status of each error code; the Go engine answers 400 for every error of the engine. */
const STATUS = {
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND_ROUTE: 404,
  METHOD_NOT_ALLOWED: 405,
  CONFLICT: 409,
  ENTITY_BUSY: 409,
  BODY_TOO_LARGE: 413,
  STORE_UNAVAILABLE: 503,
  TOO_MANY_STREAMS: 503,
};

/** How far a listener of every entity's events may fall behind before it is let go. */
const MAX_QUEUED = 100_000;
/** A quiet event stream gets a comment this often (proxies close idle connections). */
const KEEP_ALIVE_MS = 15_000;

const ok = (c) => c.json({ status: "success", message: "ok" });

function failure(c, code, message) {
  return c.json({ status: "error", message, code }, STATUS[code] ?? 400);
}

/**
 * A fetch handler for the API. `store`: where entities live (see the
 * README's stores). `token` grants everything, `readToken` the GET routes;
 * without either, every request is allowed, which takes `insecure: true`
 * (serve it on loopback only, or behind your own authentication).
 */
export function createHandler({
  store,
  token,
  readToken,
  // Named tokens: `[{ name, role, token }]`; a request's actor is its token's name.
  tokens,
  insecure = false,
  now,
  maxBodyBytes = DEFAULT_MAX_BODY_BYTES,
  hookTimeoutMs,
  cors,
  pollMs = 1000,
  maxStreams = DEFAULT_MAX_STREAMS,
  allowHookHosts,
  // Analysis: `{ functions, secrets }` for the measurements (see useMetrics).
  metrics,
  // How many entities this process keeps loaded (Rollouts' maxEntities).
  maxEntities,
  // The Worker's objects: the Worker in front checked the token and says
  // what it grants in a header of its own (it overwrites any sent).
  trustForwardedAccess = false,
  rollouts = new Rollouts({ store, now, hookTimeoutMs, allowHookHosts, metrics, maxEntities }),
} = {}) {
  checkTokens({ token, readToken, tokens, insecure });
  const credentials = { token, readToken, tokens: tokens ?? [] };
  if (!(Number.isInteger(maxBodyBytes) && maxBodyBytes > 0)) {
    throw orchestratorError("INVALID_ARGUMENT", `maxBodyBytes must be a positive whole number of bytes, got ${describe(maxBodyBytes)}`);
  }
  checkMs("pollMs", pollMs);
  if (!(Number.isInteger(maxStreams) && maxStreams >= 0 && maxStreams <= 1_000_000)) {
    throw orchestratorError("INVALID_ARGUMENT", `maxStreams must be a whole number from 0 to 1000000, got ${describe(maxStreams)}`);
  }
  if (cors !== undefined && (typeof cors !== "string" || cors === "")) {
    throw orchestratorError("INVALID_ARGUMENT", `cors must be the origin to allow (or "*"), got ${describe(cors)}`);
  }
  const app = new Hono();
  /**
   * The event streams open or opening, each `{ stream }` once it has one:
   * each holds a connection and reads the store, so there are at most
   * `maxStreams`; `close()` ends them.
   */
  const streams = new Set();
  /** A place among the streams (given back with `streams.delete`), or `TOO_MANY_STREAMS`. */
  function streamSlot() {
    if (streams.size >= maxStreams) {
      throw orchestratorError("TOO_MANY_STREAMS", `this server already holds ${streams.size} event streams, its limit (maxStreams); close one, or try again later`);
    }
    const slot = { stream: null };
    streams.add(slot);
    return slot;
  }
  const feed = new EventFeed(rollouts, pollMs);

  app.onError((error, c) => {
    if (typeof error?.code === "string") return failure(c, error.code, error.message);
    // Anything else is this server's fault: say so without a stack.
    console.error(error);
    return c.json({ status: "error", message: "internal error", code: "INTERNAL" }, 500);
  });
  app.notFound((c) => failure(c, "NOT_FOUND_ROUTE", `no route ${c.req.method} ${new URL(c.req.url).pathname}`));

  app.get("/healthz", (c) => c.json({ status: "success", message: "ok" }));
  const document = openApiDocument();
  app.get("/openapi.json", (c) => c.json(document));

  if (cors) {
    // Before the tokens are asked for: a preflight carries none.
    app.use(`${PREFIX}/*`, corsFor(cors));
  }

  // What the request's token may do, `null` for none (a dashboard asks
  // first: whether to sign in, whether to show its controls).
  const open = [["GET", "/access", async (c) => c.json(await whoIs(c))]];
  for (const [method, path, handle] of open) app.on(method, `${PREFIX}${path}`, handle);
  app.use(`${PREFIX}/*`, async (c, next) => {
    const who = await whoIs(c);
    const refused = refusal(who.access, c.req.method);
    if (refused === null) {
      c.set("who", who);
      return next();
    }
    for (const [name, value] of Object.entries(refused.headers)) c.header(name, value);
    return failure(c, refused.code, refused.message);
  });
  // A path whose escapes do not decode names nothing: taken as written, it
  // would be a second spelling of another entity's name ("%FF" and
  // "%25FF").
  app.use(`${PREFIX}/*`, async (c, next) => {
    if (!decodable(new URL(c.req.url).pathname)) return failure(c, "INVALID_NAME", "the path is not valid percent-encoding (escape a % in a name as %25)");
    return next();
  });
  const tooLarge = (c) => {
    // The rest of the body is not read: the connection cannot carry another request.
    c.header("connection", "close");
    return failure(c, "BODY_TOO_LARGE", `the body is larger than ${maxBodyBytes} bytes`);
  };
  const counted = bodyLimit({ maxSize: maxBodyBytes, onError: tooLarge });
  app.use(`${PREFIX}/*`, (c, next) => {
    // A body whose length is declared is judged by it, without asking
    // for the request's body stream (on Node, asking makes a web stream of
    // the socket, where the body is otherwise read from it directly);
    // one without (chunked) is counted as it is read.
    const method = c.req.method;
    if (method === "GET" || method === "HEAD") return next();
    const length = c.req.header("content-length");
    if (length !== undefined && c.req.header("transfer-encoding") === undefined) return Number(length) > maxBodyBytes ? tooLarge(c) : next();
    return counted(c, next);
  });

  /**
   * What the request's token may do (`access`) and whose it is (`actor`,
   * a named token's name, else null). Behind the Worker, as the Worker in
   * front found them (it overwrites both headers).
   */
  async function whoIs(c) {
    if (trustForwardedAccess) {
      const actor = c.req.header("x-orchestrator-actor");
      return { access: c.req.header("x-orchestrator-access") ?? null, actor: actor ? decodeURIComponent(actor) : null };
    }
    const { level, actor } = await identify(c.req.raw, credentials);
    return { access: level, actor };
  }
  /** The writes as each actor (`Rollouts.as`), made once. */
  const acting = new Map();
  const writer = (c) => {
    const actor = c.get("who")?.actor;
    if (!actor) return rollouts;
    if (!acting.has(actor)) acting.set(actor, rollouts.as(actor));
    return acting.get(actor);
  };
  /**
   * The request's JSON body (bad JSON is `INVALID_JSON`), read from the
   * request itself: Hono's `c.req.text()` would keep the text for the
   * rest of the request (a report of 25,000 targets: 3 MB beside its
   * objects, its answer and the answer's text).
   */
  const json = async (c) => parse(await c.req.raw.text());
  const names = (c) => [c.req.param("ns"), c.req.param("entity")];
  /**
   * Calls the write `method` on the route's entity: at most once for the
   * request's `Idempotency-Key`, if it has one (a retry is answered as the
   * first was, with `Idempotent-Replayed: true`). Answers the result.
   */
  const apply = async (c, method, ...args) => {
    const key = c.req.header("idempotency-key");
    if (key === undefined) return writer(c)[method](...names(c), ...args);
    const { replayed, result } = await writer(c).applyOnce(key, method, ...names(c), ...args);
    if (replayed) c.header("idempotent-replayed", "true");
    return result;
  };
  /** A route that calls `rollouts[method]` with the entity and its body, read by `read`. */
  const write = (method, read) => async (c) => {
    await apply(c, method, read(await json(c)));
    return ok(c);
  };
  // HEAD of an event stream: the headers its GET would answer, never the
  // stream itself, which would hold a slot (and poll the store) for good.
  // (Hono routes a HEAD as its GET: the request itself says HEAD.)
  for (const path of ["/events/stream", "/:ns/:entity/events/stream"]) {
    app.use(`${PREFIX}${path}`, async (c, next) => {
      if (c.req.raw.method !== "HEAD") return next();
      if (c.req.param("ns") !== undefined) await rollouts.events(...names(c), { since: 0, limit: 1 });
      return c.body(null, 200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    });
  }
  const routes = [
    // The Go engine's routes.
    ["GET", "/namespaces", async (c) => c.json(await rollouts.namespaces())],
    ["GET", "/:ns/entities", async (c) => c.json(await rollouts.entities(c.req.param("ns")))],
    // A namespace's own settings (before the entity routes they would match).
    ["PUT", "/namespaces/:ns/freezes", async (c) => (await writer(c).setFreezes(c.req.param("ns"), null, freezesBody(await json(c))), ok(c))],
    ["GET", "/namespaces/:ns/freezes", async (c) => c.json(await rollouts.freezes(c.req.param("ns"), null))],
    [
      "POST",
      "/namespaces/:ns/line/stop",
      async (c) => c.json({ status: "success", message: "ok", changed: await writer(c).stopTheLine(c.req.param("ns"), reasonBody(await json(c))) }),
    ],
    ["POST", "/namespaces/:ns/line/start", async (c) => c.json({ status: "success", message: "ok", changed: await writer(c).startTheLine(c.req.param("ns")) })],
    ["GET", "/namespaces/:ns/line", async (c) => c.json({ stopped: await rollouts.lineStop(c.req.param("ns")) })],
    [
      "PUT",
      "/namespaces/:ns/notifications",
      async (c) => {
        await rollouts.setNotifications(c.req.param("ns"), null, subscriptionsBody(await json(c)));
        return ok(c);
      },
    ],
    ["GET", "/namespaces/:ns/notifications", async (c) => c.json(await rollouts.notifications(c.req.param("ns"), null))],
    // Every entity's events as they are logged (Server-Sent Events; see js/server/feed.mjs).
    [
      "GET",
      "/events/stream",
      (c) => {
        const slot = streamSlot();
        return streamSSE(c, (stream) => followFeed(Object.assign(slot, { stream })));
      },
    ],
    [
      "POST",
      "/:ns/:entity",
      async (c) => {
        const reportedOnly = answerScope(c.req.query("answer"));
        const report = columnsFromGo(await json(c));
        // In columns: no object per target on the way in or out. A step
        // that may be replayed (its answer kept as JSON with the entity),
        // and tags the columns cannot carry, take the report's objects.
        if (c.req.header("idempotency-key") === undefined && columnsCarryTags(report)) {
          const columns = reportedOnly ? { ...report.columns, others: false } : report.columns;
          return c.json(answerToGo(await apply(c, "orchestrateColumns", columns), report, { reportedOnly }));
        }
        // A replayed step whose answer was too large to keep answers the entity as it is now.
        const answer = (await apply(c, "orchestrate", reportRows(report.columns))) ?? (await rollouts.expectedState(...names(c)));
        return c.json(rowsToGo(answer, report, { reportedOnly }));
      },
    ],
    ["POST", "/:ns/:entity/status", write("report", reportsFromGo)],
    ["POST", "/:ns/:entity/version", write("setTargetVersion", versionFromGo)],
    ["POST", "/:ns/:entity/options", write("setRolloutOptions", optionsFromGo)],
    // This package's options, by its names; a field left out takes its default.
    ["PUT", "/:ns/:entity/options", write("setRolloutOptions", optionsByName)],
    ["POST", "/:ns/:entity/target/controller", async (c) => setController(c, false)],
    ["POST", "/:ns/:entity/monitoring/controller", async (c) => setController(c, true)],
    ["GET", "/:ns/:entity/rollout", async (c) => c.json(rolloutToGo(await rollouts.rolloutInfo(...names(c))))],
    ["GET", "/:ns/:entity/targets", async (c) => c.json((await rollouts.expectedState(...names(c))).map(clientState))],
    ["GET", "/:ns/:entity/status", async (c) => c.json((await rollouts.expectedState(...names(c))).map(clientState))],
    [
      "GET",
      "/:ns/:entity/:group/status",
      async (c) => {
        const group = c.req.param("group");
        return c.json((await rollouts.expectedState(...names(c))).filter((t) => t.group === group).map(clientState));
      },
    ],
    // What the Go engine lacks.
    ["GET", "/:ns/:entity/info", async (c) => c.json(await rollouts.rolloutInfo(...names(c)))],
    ["GET", "/:ns/:entity/counts", async (c) => c.json(await rollouts.targetCounts(...names(c)))],
    ["GET", "/:ns/:entity/expected", async (c) => c.json(await rollouts.expectedState(...names(c)))],
    ["POST", "/:ns/:entity/force", write("forceTargetVersion", versionFromGo)],
    ...["pause", "resume", "abort", "retry", "approve"].map((control) => [
      "POST",
      `/:ns/:entity/${control}`,
      async (c) => c.json({ status: "success", message: "ok", changed: (await apply(c, control)) ?? false }),
    ]),
    [
      "POST",
      "/:ns/:entity/promote",
      async (c) => {
        const text = await c.req.text();
        const full = text.trim() === "" ? false : promoteFull(parse(text));
        return c.json({ status: "success", message: "ok", changed: (await apply(c, "promote", { full })) ?? false });
      },
    ],
    ["POST", "/:ns/:entity/rollback", write("rollbackTo", versionFromGo)],
    ["PUT", "/:ns/:entity/freezes", write("setFreezes", freezesBody)],
    ["GET", "/:ns/:entity/freezes", async (c) => c.json(await rollouts.freezes(...names(c)))],
    [
      "PUT",
      "/:ns/:entity/notifications",
      async (c) => {
        await rollouts.setNotifications(...names(c), subscriptionsBody(await json(c)));
        return ok(c);
      },
    ],
    ["GET", "/:ns/:entity/notifications", async (c) => c.json(await rollouts.notifications(...names(c)))],
    [
      "PUT",
      "/:ns/:entity/notifications/:name",
      async (c) => {
        const body = await json(c);
        if (body === null || typeof body !== "object" || Array.isArray(body)) {
          throw orchestratorError("INVALID_ARGUMENT", "the subscription must be a JSON object { url, format, kinds, headers }");
        }
        await rollouts.putNotification(...names(c), { ...body, name: c.req.param("name") });
        return ok(c);
      },
    ],
    [
      "DELETE",
      "/:ns/:entity/notifications/:name",
      async (c) => c.json({ status: "success", message: "ok", changed: await rollouts.removeNotification(...names(c), c.req.param("name")) }),
    ],
    ["PUT", "/:ns/:entity/pipeline", write("setPipeline", pipelineBody)],
    ["GET", "/:ns/:entity/pipeline", async (c) => c.json(await rollouts.pipeline(...names(c)))],
    ["POST", "/:ns/:entity/pipeline/approve", write("approvePromotion", versionFromGo)],
    ["POST", "/:ns/:entity/pipeline/release", async (c) => c.json({ status: "success", message: "ok", changed: (await apply(c, "releasePipeline")) ?? false })],
    ["POST", "/:ns/:entity/notifications/deliver", async (c) => c.json(await rollouts.deliverNotifications(...names(c)))],
    ["GET", "/:ns/:entity/plan", async (c) => c.json(await rollouts.plan(...names(c)))],
    ["GET", "/:ns/:entity/history", async (c) => c.json(await rollouts.history(...names(c)))],
    ["GET", "/:ns/:entity/analysis", async (c) => c.json(await rollouts.analysis(...names(c)))],
    [
      "GET",
      "/:ns/:entity/events",
      async (c) => {
        const since = wholeNumber(c.req.query("since"), "since", 0);
        const limit = wholeNumber(c.req.query("limit"), "limit", 1000);
        return c.json(await rollouts.events(...names(c), { since, limit }));
      },
    ],
    [
      "GET",
      "/:ns/:entity/events/stream",
      async (c) => {
        // Server-Sent Events: each event as it is logged (`id` its seq, so
        // a reconnecting client resumes with Last-Event-ID), from `since`.
        const resume = c.req.header("last-event-id");
        let since = wholeNumber(resume ?? c.req.query("since"), resume === undefined ? "since" : "Last-Event-ID", 0);
        const [namespace, entity] = names(c);
        const slot = streamSlot();
        let events;
        try {
          // The first read answers errors (no such entity) as a plain response.
          events = await rollouts.events(namespace, entity, { since, limit: 1000 });
        } catch (error) {
          streams.delete(slot);
          throw error;
        }
        return streamSSE(c, async (stream) => {
          slot.stream = stream;
          // Woken by the store's notice of a change where it gives one
          // (every stream of the entity shares the feed's one
          // subscription), else every pollMs.
          const pushed = feed.pushed;
          const aborted = new AbortController();
          stream.onAbort(() => aborted.abort());
          try {
            let quiet = 0;
            for (let first = true; !stream.aborted; first = false) {
              // Waiting from before the read: a change during it is not missed.
              const change = feed.changed(namespace, entity, pushed ? Math.max(1, KEEP_ALIVE_MS - quiet) : pollMs, aborted.signal);
              // (The first read, before the stream, was before the wait too: read again.)
              if (!first || pushed) events = await rollouts.events(namespace, entity, { since, limit: 1000 });
              for (const e of events) {
                await stream.writeSSE({ id: String(e.seq), event: e.kind, data: JSON.stringify(e) });
                since = e.seq;
              }
              if (events.length === 1000) continue;
              if (events.length > 0) quiet = 0;
              const waited = Date.now();
              await change;
              quiet += Date.now() - waited;
              if (quiet >= KEEP_ALIVE_MS && !stream.aborted) {
                await stream.write(": keep-alive\n\n");
                quiet = 0;
              }
            }
          } finally {
            aborted.abort();
            streams.delete(slot);
          }
        });
      },
    ],
    [
      "GET",
      "/:ns/:entity/snapshot",
      async (c) => {
        // A reader gets the state without its controllers' secrets.
        const bytes = await rollouts.exportEntity(...names(c), { redact: c.get("who")?.access !== "write" });
        return new Response(bytes, { headers: { "content-type": "application/octet-stream" } });
      },
    ],
    [
      "PUT",
      "/:ns/:entity/snapshot",
      async (c) => {
        await rollouts.importEntity(...names(c), new Uint8Array(await c.req.arrayBuffer()));
        return ok(c);
      },
    ],
  ];

  /**
   * Writes the feed's messages to one stream as they come (`event:` the
   * message type, or the event's kind). A listener that falls
   * `MAX_QUEUED` messages behind is told `overflow` and let go: it
   * reconnects and reads the state afresh. `slot`: the stream's place
   * among `streams`, given back when it ends.
   */
  async function followFeed(slot) {
    const { stream } = slot;
    const queue = [];
    let wake = null;
    const unsubscribe = feed.subscribe((message) => {
      queue.push(message);
      wake?.();
    });
    stream.onAbort(() => wake?.());
    try {
      while (!stream.aborted) {
        if (queue.length > MAX_QUEUED) {
          await stream.writeSSE({ event: "overflow", data: JSON.stringify({ type: "overflow", dropped: queue.length }) });
          return;
        }
        if (queue.length === 0) {
          let timer;
          const idle = await new Promise((resolve) => {
            wake = () => resolve(false);
            timer = setTimeout(() => resolve(true), KEEP_ALIVE_MS);
          });
          clearTimeout(timer);
          wake = null;
          if (idle && !stream.aborted) await stream.write(": keep-alive\n\n");
          continue;
        }
        const message = queue.shift();
        const event = message.type === "event" ? message.event.kind : message.type;
        await stream.writeSSE({ event, data: JSON.stringify(message) });
      }
    } finally {
      unsubscribe();
      streams.delete(slot);
    }
  }

  /** An HTTP controller by the Go engine's names; one with no endpoint removes it. */
  async function setController(c, monitoring) {
    const kinds = monitoring ? MONITORING_ENDPOINTS : TARGET_ENDPOINTS;
    const controller = controllerFromGo(await json(c), kinds);
    const set = monitoring ? "setMonitoringController" : "setTargetController";
    await rollouts[set](...names(c), kinds.some((name) => typeof controller[name] === "string") ? controller : null);
    return ok(c);
  }

  for (const [method, path, handle] of routes) app.on(method, `${PREFIX}${path}`, handle);
  // A known path with another method is 405 (with the methods it has); any other path 404.
  const patterns = [...open, ...routes].map(([method, path]) => [method, new RegExp(`^${PREFIX}${path.replace(/:[a-z]+/g, "[^/]+")}$`)]);
  app.all(`${PREFIX}/*`, (c) => {
    const { pathname } = new URL(c.req.url);
    const allowed = [...new Set(patterns.filter(([, pattern]) => pattern.test(pathname)).map(([method]) => method))];
    if (allowed.length === 0) return failure(c, "NOT_FOUND_ROUTE", `no route ${c.req.method} ${pathname}`);
    c.header("allow", allowed.join(", "));
    return failure(c, "METHOD_NOT_ALLOWED", `${c.req.method} is not a method of ${pathname}; it has ${allowed.join(", ")}`);
  });

  return {
    fetch: (request, ...rest) => app.fetch(request, ...rest),
    rollouts,
    /** Every route as `[method, path]` (`:param`s, after the prefix). */
    routes: [...open, ...routes].map(([method, path]) => [method, path]),
    /** Ends the open event streams (a server stopping waits for its connections). */
    close() {
      feed.close();
      for (const { stream } of streams) stream?.abort();
      streams.clear();
    },
  };
}

/** Whether every segment of `path` decodes as percent-encoded UTF-8. */
export function decodable(path) {
  try {
    for (const segment of path.split("/")) decodeURIComponent(segment);
    return true;
  } catch {
    return false;
  }
}

function parse(text) {
  try {
    return JSON.parse(text);
  } catch {
    throw orchestratorError("INVALID_JSON", "the body is not JSON");
  }
}

/** This package's rollout options (a JSON `null` would restore the defaults: not what a body means). */
function optionsByName(body) {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw orchestratorError("INVALID_OPTIONS", "the options must be a JSON object, like the options of rolloutInfo");
  }
  return body;
}

function freezesBody(body) {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw orchestratorError("INVALID_ARGUMENT", 'the freezes must be a JSON object { "windows": [...], "freezes": [...] }');
  }
  return body;
}

function reasonBody(body) {
  if (body === null || typeof body !== "object" || typeof body.reason !== "string") {
    throw orchestratorError("INVALID_ARGUMENT", 'stopping the line takes a JSON object { "reason": "..." }');
  }
  return body.reason;
}

function pipelineBody(body) {
  if (body !== null && (typeof body !== "object" || Array.isArray(body))) {
    throw orchestratorError("INVALID_ARGUMENT", 'the pipeline must be a JSON object { "from": ["namespace/entity"], "all", "soakSecs", "approval" }, or null to remove it');
  }
  return body;
}

function subscriptionsBody(body) {
  if (body === null || typeof body !== "object" || Array.isArray(body) || !Object.hasOwn(body, "subscriptions")) {
    throw orchestratorError("INVALID_ARGUMENT", 'the notifications must be a JSON object { "subscriptions": [...] } ([] removes them)');
  }
  return body.subscriptions;
}

function promoteFull(body) {
  const full = body?.full ?? false;
  if (typeof full !== "boolean") throw orchestratorError("INVALID_ARGUMENT", "full must be true or false");
  return full;
}

/**
 * Whether a step answers only the targets it was told about
 * (`?answer=reported`: a controller that reports its fleet in parts) or
 * every target of the entity (`all`, the default: the Go engine's answer).
 */
function answerScope(answer) {
  if (answer === undefined || answer === "all") return false;
  if (answer === "reported") return true;
  throw orchestratorError("INVALID_ARGUMENT", `answer must be "all" (every target, the default) or "reported" (the targets of this report), got ${describe(answer)}`);
}

function wholeNumber(text, name, fallback) {
  if (text === undefined || text === "") return fallback;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) throw orchestratorError("INVALID_ARGUMENT", `${name} must be a whole number, 0 or more`);
  return n;
}
