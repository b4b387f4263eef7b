// The OpenAPI 3.1 document of the HTTP API (served at /openapi.json): every
// route of js/server/handler.mjs, its body, and what it answers.
// tests/js/server.test.mjs checks it against the routes both ways, and
// checks real answers against its schemas.

/** Where the API's routes are. */
export const PREFIX = "/v1/orchestrate";

const ref = (name) => ({ $ref: `#/components/schemas/${name}` });
const array = (items) => ({ type: "array", items });
const object = (properties, required = []) => ({ type: "object", properties, required });
const string = { type: "string" };
const integer = { type: "integer", minimum: 0 };
const nullable = (schema) => ({ oneOf: [schema, { type: "null" }] });

const schemas = {
  ClientState: object(
    { name: string, group: string, tags: { type: "string", description: "comma-joined" }, version: string, message: string, isError: { type: "boolean" } },
    ["name", "group", "tags", "version", "message", "isError"],
  ),
  Success: object({ status: { const: "success" }, message: string, changed: { type: "boolean" } }, ["status", "message"]),
  Error: object({ status: { const: "error" }, message: string, code: string }, ["status", "message", "code"]),
  GoOptions: object(
    { batchpercent: integer, successpercent: integer, successtimeoutsecs: integer, durationtimeoutsecs: integer },
    ["batchpercent", "successpercent", "successtimeoutsecs", "durationtimeoutsecs"],
  ),
  GoRollout: object(
    { targetversion: string, rollingversion: string, lastknowngoodversion: string, lastknownbadversion: string, options: ref("GoOptions") },
    ["targetversion", "rollingversion", "lastknowngoodversion", "lastknownbadversion", "options"],
  ),
  Version: object({ version: string }, ["version"]),
  TargetController: object(
    { selection: string, approval: string, removal: string, monitoring: string, headers: { type: "object", additionalProperties: string }, timeoutMs: integer },
    [],
  ),
  MonitoringController: object({ externalmonitoring: string, headers: { type: "object", additionalProperties: string }, timeoutMs: integer }, []),
  ExpectedState: object({ name: string, group: string, version: string, reason: string, message: string, isError: { type: "boolean" } }, ["name", "group", "version", "reason"]),
  RolloutInfo: object(
    {
      targetVersion: string,
      rollingVersion: string,
      lastKnownGoodVersion: string,
      lastKnownBadVersion: string,
      phase: { type: "string", enum: ["new", "rolling_out", "watching", "rolled_out", "rolling_back", "rolled_back", "halted"] },
      paused: { type: "boolean" },
      options: { type: "object" },
      targets: integer,
      failureThreshold: integer,
    },
    ["targetVersion", "rollingVersion", "lastKnownGoodVersion", "lastKnownBadVersion", "phase", "paused", "options", "targets", "failureThreshold"],
  ),
  Event: object(
    {
      seq: integer,
      time: { type: "number" },
      kind: string,
      version: string,
      target: nullable(object({ group: string, name: string }, ["group", "name"])),
      detail: string,
      actor: string,
    },
    ["seq", "time", "kind", "version", "target", "detail"],
  ),
  Rollout: object(
    {
      version: string,
      started: { type: "number" },
      ended: nullable({ type: "number" }),
      outcome: string,
      stepsReached: nullable(integer),
      targetsMoved: nullable(integer),
      failures: nullable(integer),
      firstEvent: nullable(integer),
      actions: { type: "array", items: object({ kind: string, by: string, time: { type: "number" } }, ["kind", "by", "time"]) },
    },
    ["version", "started", "outcome", "stepsReached", "targetsMoved", "failures", "firstEvent", "actions"],
  ),
  Schedule: object({ steps: { type: "array" } }, ["steps"]),
  Measurement: object(
    { phase: string, at: { type: "number" }, value: string, query: string, message: string },
    ["phase", "at", "value", "query", "message"],
  ),
  MetricRun: object(
    {
      name: string,
      phase: string,
      message: string,
      dryRun: { type: "boolean" },
      count: integer,
      successful: integer,
      failed: integer,
      inconclusive: integer,
      error: integer,
      consecutiveError: integer,
      consecutiveSuccess: integer,
      measurements: array(ref("Measurement")),
    },
    ["name", "phase", "measurements"],
  ),
  AnalysisRun: object(
    {
      kind: { oneOf: [string, object({ step: integer }, ["step"])] },
      version: string,
      started: { type: "number" },
      ended: nullable({ type: "number" }),
      phase: string,
      message: string,
      holding: { type: "boolean" },
      metrics: array(ref("MetricRun")),
    },
    ["kind", "version", "started", "phase", "message", "metrics"],
  ),
  Promote: object({ full: { type: "boolean" } }),
  Subscription: object(
    {
      name: string,
      url: string,
      format: { enum: ["webhook", "slack", "teams", "discord"] },
      kinds: array(string),
      headers: { type: "object", additionalProperties: string },
      timeoutMs: integer,
      maxAttempts: integer,
    },
    ["url"],
  ),
  Subscriptions: object({ subscriptions: array({ $ref: "#/components/schemas/Subscription" }) }, ["subscriptions"]),
  Notifications: object(
    {
      subscriptions: array(object({ name: string, url: string, format: string, kinds: array(string), timeoutMs: integer, maxAttempts: integer }, ["name", "url", "format", "kinds"])),
      pending: array(object({ id: string, subscription: string, kind: string, seq: integer, attempts: integer, next: integer }, ["id", "subscription", "kind", "seq", "attempts", "next"])),
      log: { type: "object", additionalProperties: array(object({ outcome: { enum: ["delivered", "retrying", "failed", "missed", "dropped"] }, at: integer }, ["outcome", "at"])) },
    },
    ["subscriptions", "pending", "log"],
  ),
  Pipeline: { oneOf: [{ type: "null" }, object({ from: array(string), all: { type: "boolean" }, soakSecs: integer, approval: { type: "boolean" } }, ["from"])] },
  PipelineView: object(
    {
      pipeline: { oneOf: [{ type: "null" }, object({ from: array(string), all: { type: "boolean" }, soakSecs: integer, approval: { type: "boolean" } }, ["from", "all", "soakSecs", "approval"])] },
      upstreams: array(object({ name: string, found: { type: "boolean" }, good: { type: ["string", "null"] }, goodSince: { type: ["integer", "null"] }, rolling: string, bad: array(string) }, ["name", "found", "good", "goodSince", "rolling", "bad"])),
      candidate: { type: ["string", "null"] },
      candidateFrom: array(string),
      waiting: { type: ["string", "null"] },
      held: { type: ["string", "null"] },
      approved: { type: ["string", "null"] },
      promoted: array(string),
      stages: array(object({ name: string, found: { type: "boolean" } }, ["name", "found"])),
    },
    ["pipeline", "upstreams", "candidate", "waiting", "held", "promoted", "stages"],
  ),
  Delivery: object({ id: string, ok: { type: "boolean" }, status: integer, error: string, permanent: { type: "boolean" }, ms: integer }, ["id", "ok", "ms"]),
  Freezes: object(
    {
      windows: array(
        object(
          { name: string, days: { oneOf: [string, array(string)] }, start: string, end: string, zone: string },
          ["name", "days", "start", "end"],
        ),
      ),
      freezes: array(object({ name: string, from: { oneOf: [integer, string] }, until: { oneOf: [integer, string] } }, ["name", "from", "until"])),
    },
    [],
  ),
};

const json = (schema) => ({ content: { "application/json": { schema } } });
const errors = (...codes) => Object.fromEntries(codes.map((code) => [String(code), { description: DESCRIPTIONS[code], ...json(ref("Error")) }]));
const DESCRIPTIONS = {
  400: "the engine refused the request (its `code` says why), or the body is not the JSON the route reads",
  401: "no valid bearer token",
  403: "a read token on a route that writes",
  405: "the path has other methods (see Allow)",
  409: "other writers saved first on every attempt (`CONFLICT`)",
  413: "the body is larger than the limit",
  503: "the store did not answer (`STORE_UNAVAILABLE`), a Worker was deployed without a token (`NOT_CONFIGURED`), or the server holds as many event streams as it may (`TOO_MANY_STREAMS`)",
};

/** [method, path, summary, request body schema or null, answer schema, content type of the answer] */
const ROUTES = [
  ["GET", "/namespaces", "every namespace with an entity", null, array(string)],
  ["GET", "/access", "what the request's token may do (null: nothing; needs no token)", null, object({ access: { enum: ["read", "write", null] }, actor: nullable(string) }, ["access"])],
  ["GET", "/:ns/entities", "the entities of a namespace", null, array(string)],
  [
    "GET",
    "/events/stream",
    "every entity's events as they are logged (Server-Sent Events, `data` JSON: `entity` {namespace, entity, seq} for each entity there, then an event per event logged {namespace, entity, event}, `removed`, `unavailable` {code, message} while the store fails, `overflow` when the listener fell behind; not served by the Worker)",
    null,
    string,
    "text/event-stream",
  ],
  ["POST", "/:ns/:entity", "report the targets and get the version each should run (the Go engine's loop)", array(ref("ClientState")), array(ref("ClientState"))],
  ["POST", "/:ns/:entity/status", "report the targets only", array(ref("ClientState")), ref("Success")],
  ["POST", "/:ns/:entity/version", "set the version to roll out", ref("Version"), ref("Success")],
  ["POST", "/:ns/:entity/options", "set the rollout options (a field left out is zero)", { type: "object" }, ref("Success")],
  ["PUT", "/:ns/:entity/options", "set every rollout option by this package's names (as rolloutInfo's options; a field left out takes its default)", { type: "object" }, ref("Success")],
  ["POST", "/:ns/:entity/target/controller", "set (or, with no endpoint, remove) the HTTP target controller", ref("TargetController"), ref("Success")],
  ["POST", "/:ns/:entity/monitoring/controller", "set (or remove) the HTTP monitoring controller", ref("MonitoringController"), ref("Success")],
  ["GET", "/:ns/:entity/rollout", "the rollout, as the Go engine answers it", null, ref("GoRollout")],
  ["GET", "/:ns/:entity/targets", "every target with the version it should run (the Go engine's client state)", null, array(ref("ClientState"))],
  ["GET", "/:ns/:entity/status", "every target with the version it should run", null, array(ref("ClientState"))],
  ["GET", "/:ns/:entity/:group/status", "one group's targets with the version each should run", null, array(ref("ClientState"))],
  ["GET", "/:ns/:entity/info", "the rollout, as this package answers it", null, ref("RolloutInfo")],
  ["GET", "/:ns/:entity/counts", "how many targets are in each state (their reason; states with none left out)", null, { type: "object", additionalProperties: integer }],
  ["GET", "/:ns/:entity/expected", "every target's expected state, with its reason", null, array(ref("ExpectedState"))],
  ["POST", "/:ns/:entity/force", "force a version (no rollout: every target at once)", ref("Version"), ref("Success")],
  ["POST", "/:ns/:entity/pause", "pause the rollout", null, ref("Success")],
  ["POST", "/:ns/:entity/resume", "resume the rollout", null, ref("Success")],
  ["POST", "/:ns/:entity/abort", "abort the rollout and roll back", null, ref("Success")],
  ["POST", "/:ns/:entity/retry", "roll a bad version out afresh", null, ref("Success")],
  ["POST", "/:ns/:entity/approve", "approve the plan step waiting for approval", null, ref("Success")],
  ["POST", "/:ns/:entity/promote", "skip the current bake (or, with full, the rest of the plan)", ref("Promote"), ref("Success")],
  ["POST", "/:ns/:entity/rollback", "roll back to a version that was known good", ref("Version"), ref("Success")],
  ["PUT", "/:ns/:entity/freezes", "set the entity's freeze windows and one-off freezes (replacing those set; {} removes them)", ref("Freezes"), ref("Success")],
  ["GET", "/:ns/:entity/freezes", "the entity's freeze windows and one-off freezes", null, ref("Freezes")],
  ["PUT", "/:ns/:entity/notifications", "set the entity's notification subscriptions (replacing those set; [] removes them)", ref("Subscriptions"), ref("Success")],
  ["GET", "/:ns/:entity/notifications", "the entity's subscriptions (receivers' paths and header values redacted), what waits to be delivered, and each one's delivery log", null, ref("Notifications")],
  ["PUT", "/namespaces/:ns/freezes", "set the namespace's freeze windows and one-off freezes, which hold every entity of it ({} removes them)", ref("Freezes"), ref("Success")],
  ["GET", "/namespaces/:ns/freezes", "the namespace's own freeze windows and one-off freezes", null, ref("Freezes")],
  ["POST", "/namespaces/:ns/line/stop", "stop the namespace's line: no entity of it moves a target to a new version until it is started", object({ reason: string }, ["reason"]), ref("Success")],
  ["POST", "/namespaces/:ns/line/start", "start the namespace's line again", null, ref("Success")],
  ["GET", "/namespaces/:ns/line", "why the namespace's line is stopped, since when and by whom (null: it runs)", null, object({ stopped: { oneOf: [{ type: "null" }, object({ reason: string, since: integer, by: { type: ["string", "null"] } }, ["reason", "since", "by"])] } }, ["stopped"])],
  ["PUT", "/namespaces/:ns/notifications", "set the subscriptions of every entity of the namespace (replacing those set; [] removes them); each hears of events from then on", ref("Subscriptions"), ref("Success")],
  ["GET", "/namespaces/:ns/notifications", "the namespace's subscriptions, receivers' paths and header values redacted (each entity's log has their deliveries, as namespace:{name})", null, object({ subscriptions: array(object({ name: string, url: string, since: integer }, ["name", "url", "since"])) }, ["subscriptions"])],
  ["PUT", "/:ns/:entity/pipeline", "set where the entity takes its versions from (null removes it)", ref("Pipeline"), ref("Success")],
  ["GET", "/:ns/:entity/pipeline", "the entity's pipeline: its upstreams, the version they point at, why it waits, and every stage upstream of it", null, ref("PipelineView")],
  ["POST", "/:ns/:entity/pipeline/approve", "approve the promotion of a version (a pipeline with approval)", ref("Version"), ref("Success")],
  ["POST", "/:ns/:entity/pipeline/release", "let the pipeline promote again after a version set by hand held it", null, ref("Success")],
  ["PUT", "/:ns/:entity/notifications/:name", "add a subscription, or replace the one of this name (the others stay)", ref("Subscription"), ref("Success")],
  ["DELETE", "/:ns/:entity/notifications/:name", "remove the subscription of this name", null, ref("Success")],
  ["POST", "/:ns/:entity/notifications/deliver", "deliver the notifications that are due now (retries; steps deliver by themselves)", null, array(ref("Delivery"))],
  ["GET", "/:ns/:entity/plan", "the plan's steps and where the rollout is", null, ref("Schedule")],
  ["GET", "/:ns/:entity/history", "the entity's rollouts", null, array(ref("Rollout"))],
  ["GET", "/:ns/:entity/analysis", "the entity's analysis runs, with each metric's measurements", null, array(ref("AnalysisRun"))],
  ["GET", "/:ns/:entity/events", "events after `since` (at most `limit`)", null, array(ref("Event"))],
  ["GET", "/:ns/:entity/events/stream", "events as they are logged (Server-Sent Events; resumes after Last-Event-ID)", null, string, "text/event-stream"],
  ["GET", "/:ns/:entity/snapshot", "the entity's snapshot", null, { type: "string", contentMediaType: "application/octet-stream" }, "application/octet-stream"],
  ["PUT", "/:ns/:entity/snapshot", "replace the entity's state with a snapshot of it", "octets", ref("Success")],
];

/** The routes the document describes, as `[method, path]` with `:param`s. */
export const DOCUMENTED = ROUTES.map(([method, path]) => [method, path]);

/** A route's path in OpenAPI form. */
export const openApiPath = (path) => `${PREFIX}${path.replace(/:([a-z]+)/g, "{$1}")}`;

/** The answer schema of a route (for tests), by method and `:param` path. */
export function answerSchema(method, path) {
  return ROUTES.find(([m, p]) => m === method && p === path)?.[4];
}

export function openApiDocument() {
  const paths = {};
  for (const [method, path, summary, body, answer, type = "application/json"] of ROUTES) {
    const parameters = [...path.matchAll(/:([a-z]+)/g)].map(([, name]) => ({ name, in: "path", required: true, schema: string }));
    if (method === "POST" && path === "/:ns/:entity") {
      parameters.push({ name: "answer", in: "query", schema: { type: "string", enum: ["all", "reported"] }, description: "every target of the entity (the default), or the reported ones only" });
    }
    if (path.endsWith("/events")) {
      parameters.push({ name: "since", in: "query", schema: integer }, { name: "limit", in: "query", schema: integer });
    }
    if (path === "/:ns/:entity/events/stream") {
      parameters.push({ name: "since", in: "query", schema: integer }, { name: "Last-Event-ID", in: "header", schema: string });
    }
    const operation = {
      summary,
      parameters,
      responses: {
        200: { description: "done", content: { [type]: { schema: answer } } },
        ...errors(400, 401, ...(method === "GET" ? [] : [403, 409, 413]), 503),
      },
    };
    if (body === "octets") operation.requestBody = { required: true, content: { "application/octet-stream": { schema: { type: "string", contentMediaType: "application/octet-stream" } } } };
    else if (body) operation.requestBody = { required: true, ...json(body) };
    (paths[openApiPath(path)] ??= {})[method.toLowerCase()] = operation;
  }
  paths["/healthz"] = { get: { summary: "the server is up", responses: { 200: { description: "up", ...json(ref("Success")) } } } };
  return {
    openapi: "3.1.0",
    info: {
      title: "orchestrator-engine",
      version: "1",
      description: "The Go engine's (nixmade/orchestrator) HTTP API, and this package's additions, under /v1/orchestrate. Every route needs a bearer token when the server has one (the read token: GET routes only).",
    },
    components: { schemas, securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
    security: [{ bearer: [] }],
    paths,
  };
}
