// Types of `orchestrator-engine/server`: the HTTP API as a fetch handler.
import type { Store } from "orchestrator-engine/stores";
import type { Rollouts } from "orchestrator-engine/rollouts";

/** The runtime's fetch `Request` and `Response` (DOM, Node or a worker's types). */
type FetchRequest = typeof globalThis extends { Request: { prototype: infer R } } ? R : unknown;
type FetchResponse = typeof globalThis extends { Response: { prototype: infer R } } ? R : unknown;

/** A bearer token with a name (who its controls are by) and a role. */
export interface NamedToken {
  /** 1 to 200 bytes, no control characters: the actor of its controls. */
  name: string;
  role: "write" | "read";
  token: string;
}

export interface HandlerOptions {
  /** Where entities live (see the README's stores). */
  store: Store;
  /** Bearer token for every route (a non-empty string). */
  token?: string;
  /** Bearer token for the GET routes only. */
  readToken?: string;
  /**
   * Named tokens: each grants its role, and each control made with it is
   * that name's (its events carry `actor`; `history()` lists its actions).
   */
  tokens?: NamedToken[];
  /**
   * With neither token, every request is allowed, and `createHandler` throws
   * `INVALID_ARGUMENT` unless this is `true` (where only trusted callers
   * reach the handler: loopback, or behind your own authentication).
   */
  insecure?: boolean;
  /** The clock, in ms since the epoch (default `Date.now`). */
  now?: () => number;
  /** The largest request body; larger ones get 413 (default 192 MiB, a 1M-target report). */
  maxBodyBytes?: number;
  /** How long one hook call may take in a step (default 10 s). */
  hookTimeoutMs?: number;
  /** The origin of pages allowed to call the API (or "*"), preflights answered; no CORS unless set. */
  cors?: string;
  /** How often an event stream looks for new events, in ms (default 1000). */
  pollMs?: number;
  /** Event streams held open at once; one more gets 503 `TOO_MANY_STREAMS` (default 1000). */
  maxStreams?: number;
  /** The only hosts an HTTP controller may name (`*.example.com` for any name under it); default any. */
  allowHookHosts?: string[];
  /**
   * How many entities this process keeps loaded, the least recently used
   * let go beyond it (default 1,000): at least the entities its controllers
   * poll, or each request reads its entity's checkpoint again.
   */
  maxEntities?: number;
  /** Analysis measurements: functions and secrets (see `Orchestrator.useMetrics`). */
  metrics?: { functions?: Record<string, (request: { metric: string; config: Record<string, unknown>; at: number; namespace: string; entity: string; version: string }) => unknown>; secrets?: Record<string, string> };
}

export interface Handler {
  /** Answers a request: mount it in any server or worker that speaks fetch. */
  fetch(request: FetchRequest): Promise<FetchResponse>;
  /** The entities behind it. */
  rollouts: Rollouts;
  /** Ends the open event streams. */
  close(): void;
  /** Every route as `[method, path]`, with `:param`s, after `PREFIX`. */
  routes: Array<[string, string]>;
}

/** The Go engine's HTTP API and this package's additions, under `/v1/orchestrate`, plus `/healthz`. */
export function createHandler(options: HandlerOptions): Handler;
export const PREFIX: "/v1/orchestrate";
export const DEFAULT_MAX_BODY_BYTES: number;
export const DEFAULT_MAX_STREAMS: number;
