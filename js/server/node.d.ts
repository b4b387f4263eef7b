// Types of `orchestrator-engine/server/node`: the HTTP API in Node.
import type { HandlerOptions } from "orchestrator-engine/server";
import type { Rollouts } from "orchestrator-engine/rollouts";

export interface ServerOptions extends HandlerOptions {
  /** Address to listen on (default 127.0.0.1); another one needs a token or `insecure`. */
  host?: string;
  /** Port (default 8080; 0 picks a free one). */
  port?: number;
  /** Allow a non-loopback host without a token (on loopback, none is needed). */
  insecure?: boolean;
  /** Where each request's JSON log line goes (default stdout). */
  log?: (line: string) => void;
}

export interface RunningServer {
  url: string;
  /** Where the dashboard is served (`null` in a checkout before the pages are built). */
  dashboard: string | null;
  port: number;
  rollouts: Rollouts;
  /** Stops taking connections; resolves once the requests under way are answered. */
  stop(): Promise<void>;
}

export function startServer(options: ServerOptions): Promise<RunningServer>;
export function isLoopback(host: string): boolean;
