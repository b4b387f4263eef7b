// The HTTP API as a Cloudflare Worker: each entity is one Durable Object
// (`EntityObject`), in which its engine lives, with the same handler as the
// Node server (js/server/handler.mjs) over the object's own storage
// (js/stores/durable-object.mjs): a request's change is in storage before
// its response. The namespaces and their entities are listed by one more
// object (`EntityIndex`), which each entity's object joins on its first
// write. Bindings (wrangler.toml):
//
//   [[durable_objects.bindings]] name = "ENTITIES", class_name = "EntityObject"
//   [[durable_objects.bindings]] name = "INDEX",    class_name = "EntityIndex"
//   vars / secrets: ORCHESTRATOR_TOKEN, ORCHESTRATOR_READ_TOKEN,
//   ORCHESTRATOR_TOKENS (named tokens, JSON: [{"name","role","token"}];
//   a control's events name its token's name),
//   ORCHESTRATOR_MAX_BODY_BYTES (the body limit; default 192 MiB),
//   ORCHESTRATOR_INSECURE ("true": serve without a token),
//   ORCHESTRATOR_CORS (the origin of pages that call it, or "*": a
//   dashboard served elsewhere), ORCHESTRATOR_ALLOW_HOOK_HOSTS (the only
//   hosts an HTTP controller may name, comma-separated; *.domain for any
//   name under it)
//
// A deployed Worker is on the internet: without a token it answers every
// API route 503 NOT_CONFIGURED, unless ORCHESTRATOR_INSECURE says "true".

import { DurableObject } from "cloudflare:workers";
import { Hono } from "hono";
import { wasmMemoryBytes } from "orchestrator-engine";

import { notFound } from "../rollouts/errors.mjs";
import { DurableObjectStore } from "../stores/durable-object.mjs";
import { NAMESPACE_RECORD, byName, entityKey, fromEntityKey, isNamespaceRecord } from "../stores/names.mjs";
import { Rollouts } from "../rollouts/rollouts.mjs";
import { identify, paddedTokenVariable, parseNamedTokens, refusal } from "./auth.mjs";
import { corsFor } from "./cors.mjs";
import { createHandler, decodable } from "./handler.mjs";
import { PREFIX, openApiDocument } from "./openapi.mjs";

const json = (body, status = 200, headers = {}) => Response.json(body, { status, headers });
const failure = (status, code, message, headers) => json({ status: "error", message, code }, status, headers);

/** One entity: its engine, its state in the object's storage. */
export class EntityObject extends DurableObject {
  #handler;
  #store;
  #rollouts;

  constructor(ctx, env) {
    super(ctx, env);
    // Tokens are checked by the Worker in front; the object serves what reaches it.
    const maxBodyBytes = env.ORCHESTRATOR_MAX_BODY_BYTES ? Number(env.ORCHESTRATOR_MAX_BODY_BYTES) : undefined;
    const allowHookHosts = env.ORCHESTRATOR_ALLOW_HOOK_HOSTS ? env.ORCHESTRATOR_ALLOW_HOOK_HOSTS.split(",").map((h) => h.trim()).filter(Boolean) : undefined;
    this.#store = new DurableObjectStore(ctx.storage);
    // A namespace's settings are its record's object's: steps ask it.
    const readNamespace = (namespace, record) => env.ENTITIES.get(env.ENTITIES.idFromName(entityKey(namespace, NAMESPACE_RECORD))).namespaceRecord(namespace, record);
    // So are another entity's facts, for a pipeline that takes its versions from it.
    const readUpstream = (namespace, entity) => env.ENTITIES.get(env.ENTITIES.idFromName(entityKey(namespace, entity))).upstream(namespace, entity);
    this.#rollouts = new Rollouts({ store: this.#store, allowHookHosts, readNamespace, readUpstream });
    const rollouts = this.#rollouts;
    this.#handler = createHandler({ store: this.#store, maxBodyBytes, allowHookHosts, insecure: true, trustForwardedAccess: true, rollouts });
  }

  /** Over RPC, from the objects of entities whose pipelines take their versions from this one: what it tells them. */
  async upstream(namespace, entity) {
    return this.#rollouts.upstream(namespace, entity);
  }

  /** Over RPC, from the objects of the namespace's entities: the namespace's settings this object keeps (it is the namespace's record's). */
  async namespaceRecord(namespace, record = NAMESPACE_RECORD) {
    if (!isNamespaceRecord(record)) return undefined; // never an entity's state
    return (await this.#store.get(namespace, record))?.bytes;
  }

  async fetch(request) {
    return this.#handler.fetch(request);
  }

  /**
   * The isolate's wasm memory in bytes, over RPC (for operators and the
   * benchmarks): the most the engines of every object in this isolate
   * needed at once (wasm memory never shrinks). An object has 128 MB for
   * this, its JS heap and its code.
   */
  memory() {
    return { wasmBytes: wasmMemoryBytes() };
  }
}

/** The namespaces and their entities, for the listing routes. */
export class EntityIndex extends DurableObject {
  async join(namespace, entity) {
    await this.ctx.storage.put(entityKey(namespace, entity), true);
  }

  async leave(namespace, entity) {
    await this.ctx.storage.delete(entityKey(namespace, entity));
  }

  async entities() {
    const listed = await this.ctx.storage.list();
    return [...listed.keys()].map(fromEntityKey).sort(byName);
  }
}

const document = openApiDocument();

/** The named tokens of ORCHESTRATOR_TOKENS, parsed once per text. */
const namedTokens = new Map();
function tokensOf(env) {
  const text = env.ORCHESTRATOR_TOKENS;
  if (!text) return [];
  if (!namedTokens.has(text)) {
    try {
      namedTokens.set(text, parseNamedTokens(text, "ORCHESTRATOR_TOKENS"));
    } catch (error) {
      namedTokens.set(text, error);
    }
  }
  return namedTokens.get(text);
}

/** Why this Worker's tokens leave it unable to serve safely, or `null`. */
function misconfigured(env) {
  const padded = paddedTokenVariable(env);
  if (padded !== undefined) {
    return `${padded} has whitespace at an end, so no request could present it: set it again without (wrangler secret put ${padded})`;
  }
  const named = tokensOf(env);
  if (named instanceof Error) return `${named.message} (wrangler secret put ORCHESTRATOR_TOKENS)`;
  if (!env.ORCHESTRATOR_TOKEN && !env.ORCHESTRATOR_READ_TOKEN && named.length === 0 && env.ORCHESTRATOR_INSECURE !== "true") {
    return 'this Worker has no ORCHESTRATOR_TOKEN, so it would let anyone change rollouts: set one (wrangler secret put ORCHESTRATOR_TOKEN, and ORCHESTRATOR_READ_TOKEN for readers), or set the var ORCHESTRATOR_INSECURE to "true" to serve anyone who can reach it';
  }
  return null;
}

/** Per allowed origin, the API behind CORS (js/server/cors.mjs). */
const withCors = new Map();

export default {
  async fetch(request, env) {
    const origin = env.ORCHESTRATOR_CORS;
    if (!origin) return route(request, env);
    if (!withCors.has(origin)) {
      const app = new Hono();
      app.use(`${PREFIX}/*`, corsFor(origin));
      app.all("*", (c) => route(c.req.raw, c.env));
      withCors.set(origin, app);
    }
    return withCors.get(origin).fetch(request, env);
  },
};

/** The API's answer to `request`, without CORS. */
async function route(request, env) {
  const url = new URL(request.url);
  if (url.pathname === "/healthz") return json({ status: "success", message: "ok" });
  if (url.pathname === "/openapi.json") return json(document);
  if (!url.pathname.startsWith(`${PREFIX}/`)) return failure(404, "NOT_FOUND_ROUTE", `no route ${request.method} ${url.pathname}`);
  const unsafe = misconfigured(env);
  if (unsafe !== null) return failure(503, "NOT_CONFIGURED", unsafe);
  const { level, actor } = await identify(request, { token: env.ORCHESTRATOR_TOKEN, readToken: env.ORCHESTRATOR_READ_TOKEN, tokens: tokensOf(env) });
  if (url.pathname === `${PREFIX}/access` && request.method === "GET") return json({ access: level, actor });
  const refused = refusal(level, request.method);
  if (refused !== null) return failure(refused.status, refused.code, refused.message, refused.headers);
  const reading = request.method === "GET" || request.method === "HEAD";
  if (!decodable(url.pathname)) return failure(400, "INVALID_NAME", "the path is not valid percent-encoding (escape a % in a name as %25)");
  const segments = url.pathname.slice(PREFIX.length + 1).split("/").map(decodeURIComponent);
  const index = env.INDEX.get(env.INDEX.idFromName("index"));
  // The listing routes, from the index.
  if (segments.length === 1 && segments[0] === "namespaces" && reading) {
    return json([...new Set((await index.entities()).map(([ns]) => ns))]);
  }
  if (segments.length === 2 && segments[1] === "entities" && reading) {
    const names = (await index.entities()).filter(([ns]) => ns === segments[0]).map(([, entity]) => entity);
    return names.length > 0 ? json(names) : failure(400, "NOT_FOUND", notFound("namespace", segments[0]).message);
  }
  // Every entity's events at once would need a poller across objects: not served here.
  if (segments.length === 2 && segments[0] === "events" && segments[1] === "stream") {
    return failure(404, "NOT_FOUND_ROUTE", `no route ${request.method} ${url.pathname} in the Worker: stream each entity's events (${PREFIX}/{ns}/{entity}/events/stream)`);
  }
  // A namespace's own settings: the object of its record answers.
  if (segments.length >= 3 && segments[0] === "namespaces" && segments[1] !== "") {
    const object = env.ENTITIES.get(env.ENTITIES.idFromName(entityKey(segments[1], NAMESPACE_RECORD)));
    const response = await object.fetch(forwarded(request, level, actor));
    return new Response(response.body, response);
  }
  // Everything else is one entity's: its object answers.
  if (segments.length < 2 || segments[0] === "" || segments[1] === "") {
    return failure(404, "NOT_FOUND_ROUTE", `no route ${request.method} ${url.pathname}`);
  }
  const [namespace, entity] = segments;
  const object = env.ENTITIES.get(env.ENTITIES.idFromName(entityKey(namespace, entity)));
  const response = await object.fetch(forwarded(request, level, actor));
  if (!reading && response.ok) await index.join(namespace, entity);
  // Headers of its own (an object's answer has immutable ones), which
  // CORS may add to.
  return new Response(response.body, response);
}

/**
 * `request` for an object: with what the token grants (the object answers
 * a reader a snapshot without secrets) and whose token it is (a named
 * token's name, else none); whatever the client sent in them is replaced.
 */
function forwarded(request, level, actor) {
  const copy = new Request(request);
  copy.headers.set("x-orchestrator-access", level);
  if (actor) copy.headers.set("x-orchestrator-actor", encodeURIComponent(actor));
  else copy.headers.delete("x-orchestrator-actor");
  return copy;
}
