// Cross-origin calls to the API, for pages served from another origin (a
// dashboard in front of a Worker): Hono's CORS middleware with what the
// dashboard and the Go client send. A call with a token needs a preflight,
// which carries none: the middleware answers it before any token is asked
// for. The Node handler and the Worker both use it.
import { cors } from "hono/cors";

/** The middleware allowing `origin` (an origin, or "*"). */
export const corsFor = (origin) =>
  cors({
    origin,
    allowMethods: ["GET", "POST", "PUT", "DELETE", "OPTIONS"],
    allowHeaders: ["authorization", "content-type", "last-event-id", "idempotency-key"],
    maxAge: 600,
  });
