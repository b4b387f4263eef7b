// The HTTP API (js/server) as the page calls it: with the user's token
// (kept for the browser tab), errors thrown with their code and message,
// and a 401 handed to whoever shows the sign-in form.
import { readEvents } from "./sse.mjs";

/**
 * Where the API is: this page's server, or the origin named by `?api=`
 * (a Worker, whose ORCHESTRATOR_CORS allows this page's origin), kept for
 * the browser tab.
 */
function apiOrigin() {
  const asked = new URLSearchParams(location.search).get("api");
  if (asked !== null) {
    let origin = "";
    try {
      const url = new URL(asked);
      if (url.protocol === "https:" || url.protocol === "http:") origin = url.origin;
    } catch {
      // Not a URL: this page's server.
    }
    sessionStorage.setItem("orchestrator-api", origin);
  }
  return sessionStorage.getItem("orchestrator-api") ?? "";
}

export const API = `${apiOrigin()}/v1/orchestrate`;

/**
 * The token: kept for the tab (sessionStorage), or, when the user asks to
 * be remembered on this device, for every tab of this origin
 * (localStorage) until they sign out. Either way it never leaves this
 * origin: links carry no token.
 */
let token = sessionStorage.getItem("orchestrator-token") ?? localStorage.getItem("orchestrator-token") ?? "";
let onUnauthorized = () => {};

/** What happens when the server refuses the token (the page shows its sign-in form). */
export function whenUnauthorized(handle) {
  onUnauthorized = handle;
}

export function hasToken() {
  return token !== "";
}

export function setToken(value, { remember = false } = {}) {
  token = value;
  sessionStorage.setItem("orchestrator-token", token);
  if (remember) localStorage.setItem("orchestrator-token", token);
  else localStorage.removeItem("orchestrator-token");
}

/** Whether the token is remembered on this device. */
export const remembered = () => localStorage.getItem("orchestrator-token") !== null;

/** Forgets the token, in this tab and on this device. */
export function signOut() {
  token = "";
  sessionStorage.removeItem("orchestrator-token");
  localStorage.removeItem("orchestrator-token");
}

const headers = () => (token ? { authorization: `Bearer ${token}` } : {});

/** An error the page shows as it is: not signed in is shown as the sign-in form instead. */
export const NOT_SIGNED_IN = "NOT_SIGNED_IN";

/**
 * The response to a request with the user's token. A 401 shows the
 * sign-in form and throws `NOT_SIGNED_IN`; any other failure but the
 * statuses in `pass` throws with the API's code and message.
 */
async function request(path, init = {}, pass = []) {
  const response = await fetch(`${API}${path}`, { ...init, headers: headers() });
  if (pass.includes(response.status)) return response;
  if (response.status === 401) {
    onUnauthorized(token ? "That token was not accepted." : "This server needs a token.");
    throw Object.assign(new Error("not signed in"), { code: NOT_SIGNED_IN });
  }
  if (!response.ok) {
    const answer = await response.json().catch(() => ({}));
    throw Object.assign(new Error(answer.message ?? `HTTP ${response.status}`), { code: answer.code ?? `HTTP_${response.status}` });
  }
  return response;
}

/** Calls the API: the JSON answer, or the bytes of a binary one. */
export async function api(method, path, body) {
  const response = await request(path, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  const type = response.headers.get("content-type") ?? "";
  return type.includes("json") ? response.json() : new Uint8Array(await response.arrayBuffer());
}

/** `/{ns}/{entity}` */
export const entityPath = (namespace, entity) => `/${encodeURIComponent(namespace)}/${encodeURIComponent(entity)}`;

/**
 * Follows a Server-Sent Events route until `signal` aborts it, calling
 * `onMessage({ event, data })`; answers how it ended: "ended" (the server
 * closed it), "missing" (the server has no such route: 404), or throws.
 */
export async function follow(path, signal, onMessage) {
  const response = await request(path, { signal }, [404]);
  if (response.status === 404) return "missing";
  await readEvents(response.body, onMessage);
  return "ended";
}
