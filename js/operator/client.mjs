// The HTTP API (js/server) as the terminal commands call it: the server's
// URL and a token, each call's error with the API's own code, and an
// entity's event stream followed until told to stop.
import { orchestratorError } from "../errors.mjs";
import { readEvents } from "../../www/dashboard/sse.mjs";
import { PREFIX } from "../server/openapi.mjs";

/** A client of the server at `server` (its origin) with `token` (or none). */
export function apiClient(server, token) {
  let origin;
  try {
    origin = new URL(server).origin;
  } catch {
    throw orchestratorError("INVALID_ARGUMENT", `--server must be the server's URL, like http://127.0.0.1:8080, got ${JSON.stringify(server)}`);
  }
  const headers = token ? { authorization: `Bearer ${token}` } : {};

  async function call(method, path, body, { signal } = {}) {
    let response;
    try {
      response = await fetch(`${origin}${PREFIX}${path}`, {
        method,
        headers: { ...headers, ...(body === undefined ? {} : { "content-type": "application/json" }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
      });
    } catch (error) {
      if (signal?.aborted) throw error;
      throw orchestratorError("SERVER_UNAVAILABLE", `no answer from ${origin}: ${error.cause?.message ?? error.message}`);
    }
    const type = response.headers.get("content-type") ?? "";
    if (response.ok) return type.includes("json") ? response.json() : response;
    const answer = type.includes("json") ? await response.json().catch(() => ({})) : {};
    throw orchestratorError(answer.code ?? `HTTP_${response.status}`, answer.message ?? `${method} ${path} answered ${response.status}`);
  }

  return {
    origin,
    call,
    /** The entity's snapshot bytes (a read token gets them without controller secrets). */
    async snapshot(path) {
      return new Uint8Array(await (await call("GET", `${path}/snapshot`)).arrayBuffer());
    },
    /** Calls `onEvent(event)` for each event the entity logs after `since`, until `signal` aborts. */
    async follow(path, since, onEvent, signal) {
      const response = await call("GET", `${path}/events/stream?since=${since}`, undefined, { signal });
      await readEvents(response.body, ({ data }) => onEvent(data));
    },
  };
}

/** `ns/entity` as written on the command line, and its API path. */
export function entityOf(text) {
  const at = typeof text === "string" ? text.indexOf("/") : -1;
  if (at <= 0 || at === text.length - 1) {
    throw orchestratorError("INVALID_ARGUMENT", `name the entity as NAMESPACE/ENTITY, like prod/api, got ${JSON.stringify(text ?? "")}`);
  }
  const [namespace, entity] = [text.slice(0, at), text.slice(at + 1)];
  return { namespace, entity, path: `/${encodeURIComponent(namespace)}/${encodeURIComponent(entity)}` };
}
