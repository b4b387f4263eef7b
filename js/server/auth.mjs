// Bearer tokens: one that grants everything, one that grants reading
// (the GET routes and the event stream), and named tokens, each with a
// name (the actor of the controls it makes) and one of those two roles.
// Compared in constant time: both
// sides are hashed with SHA-256 (Web Crypto, in Node and edge runtimes
// alike) and the digests compared byte by byte without stopping early, so
// neither the token's length nor its first wrong byte shows in the time.

import { orchestratorError } from "../errors.mjs";

const encoder = new TextEncoder();

async function digest(text) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(text)));
}

/** Whether `given` equals `expected`, in time that does not depend on where they differ. */
export async function sameToken(given, expected) {
  const [a, b] = await Promise.all([digest(given), digest(expected)]);
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/**
 * Checks the tokens a handler is given: each absent, or a non-empty string
 * without whitespace at either end (a request's header is trimmed, so such
 * a token could never match). Without either, every request is allowed, so
 * that takes `insecure: true`: a forgotten `token: process.env.X` must not
 * open every route to anyone.
 */
export function checkTokens({ token, readToken, tokens, insecure }) {
  for (const [name, value] of [["token", token], ["readToken", readToken]]) {
    if (value === undefined || value === null) continue;
    checkToken(name, value);
  }
  if (tokens !== undefined && tokens !== null) checkNamedTokens(tokens, "tokens");
  if (!token && !readToken && !(tokens?.length > 0) && insecure !== true) {
    throw orchestratorError(
      "INVALID_ARGUMENT",
      "no token and no readToken: every request would be allowed to anyone who reaches this handler; pass token (and readToken), or insecure: true where only trusted callers reach it (loopback, or behind your own authentication)",
    );
  }
}

function checkToken(name, value) {
  if (typeof value !== "string" || value === "" || padded(value)) {
    throw orchestratorError("INVALID_ARGUMENT", `${name} must be a non-empty string without whitespace at either end, got ${typeof value === "string" ? `a string of ${value.length} characters` : `a ${typeof value}`} (its value is not shown)`);
  }
}

/** How many named tokens a server takes (each request compares against every one). */
export const MAX_NAMED_TOKENS = 1000;

/**
 * Checks named tokens: an array of `{ name, role, token }`, `role`
 * `"write"` or `"read"`, `name` 1 to 200 bytes without control characters
 * (it becomes the actor of the token's controls), no name or token twice.
 * `source` says where they came from, for the error.
 */
export function checkNamedTokens(tokens, source) {
  if (!Array.isArray(tokens) || tokens.length > MAX_NAMED_TOKENS) {
    throw orchestratorError("INVALID_ARGUMENT", `${source} must be an array of at most ${MAX_NAMED_TOKENS} { name, role, token } objects`);
  }
  const names = new Set();
  const values = new Set();
  tokens.forEach((entry, i) => {
    const at = `${source}[${i}]`;
    if (entry === null || typeof entry !== "object" || Array.isArray(entry)) throw orchestratorError("INVALID_ARGUMENT", `${at} must be an object { name, role, token }`);
    const { name, role, token } = entry;
    const bytes = typeof name === "string" ? encoder.encode(name).length : 0;
    if (typeof name !== "string" || bytes === 0 || bytes > 200 || /\p{Cc}/u.test(name)) {
      throw orchestratorError("INVALID_ARGUMENT", `${at}.name must be 1 to 200 bytes without control characters (it names who made each control)`);
    }
    if (role !== "write" && role !== "read") throw orchestratorError("INVALID_ARGUMENT", `${at}.role must be "write" or "read", got ${JSON.stringify(role)}`);
    checkToken(`${at}.token`, token);
    if (names.has(name)) throw orchestratorError("INVALID_ARGUMENT", `${at}.name ${JSON.stringify(name)} appears twice`);
    if (values.has(token)) throw orchestratorError("INVALID_ARGUMENT", `${at}.token is also another entry's token`);
    names.add(name);
    values.add(token);
  });
  return tokens.map(({ name, role, token }) => ({ name, role, token }));
}

/**
 * Named tokens from JSON text (a file's, or an environment variable's):
 * `[{ "name": "alice", "role": "write", "token": "..." }, ...]`.
 */
export function parseNamedTokens(text, source) {
  let parsed;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw orchestratorError("INVALID_ARGUMENT", `${source} is not JSON: it must be an array of { "name", "role", "token" } objects`);
  }
  return checkNamedTokens(parsed, source);
}

/** Whether a token has whitespace at an end: a request's header is trimmed, so no request could present it. */
const padded = (token) => token.trim() !== token;

/** The environment variables that hold the tokens (`serve`, the Worker). */
const TOKEN_VARIABLES = ["ORCHESTRATOR_TOKEN", "ORCHESTRATOR_READ_TOKEN"];

/** The first of `TOKEN_VARIABLES` set in `env` to a token no request could present (see `padded`), or undefined. */
export const paddedTokenVariable = (env) => TOKEN_VARIABLES.find((name) => typeof env[name] === "string" && env[name] !== "" && padded(env[name]));

/**
 * The token a request presents: `Authorization: Bearer <token>`, or the
 * bare token (the Go engine's client sends the header as it is given).
 */
export function presented(request) {
  const header = request.headers.get("authorization");
  if (header === null) return null;
  const match = /^Bearer\s+(.+)$/i.exec(header.trim());
  return match ? match[1] : header.trim();
}

/**
 * What a request may do: `"write"` (everything), `"read"`, or `null`.
 * Without tokens configured, everything (the server then listens on
 * loopback only).
 */
export async function access(request, tokens) {
  return (await identify(request, tokens)).level;
}

/**
 * What a request may do (`level`, as `access` answers) and who it is:
 * `actor`, the name of the named token it presents, else `null`.
 */
export async function identify(request, { token, readToken, tokens = [] }) {
  if (!token && !readToken && !(tokens?.length > 0)) return { level: "write", actor: null };
  const given = presented(request);
  if (given === null || given === "") return { level: null, actor: null };
  // Every comparison runs: which one matched does not show either.
  const named = tokens ?? [];
  const matches = await Promise.all([sameToken(given, token ?? ""), sameToken(given, readToken ?? ""), ...named.map((t) => sameToken(given, t.token))]);
  const [write, read] = matches;
  const at = matches.indexOf(true, 2) - 2;
  if (at >= 0) return { level: named[at].role, actor: named[at].name };
  if (token && write) return { level: "write", actor: null };
  if (readToken && read) return { level: "read", actor: null };
  return { level: null, actor: null };
}

/**
 * Why a request with `level` (see `access`) may not make a `method` call,
 * as `{ status, code, message, headers }`; `null` when it may. The Node
 * server and the Worker both answer with it.
 */
export function refusal(level, method) {
  if (level === null) {
    return {
      status: 401,
      code: "UNAUTHORIZED",
      message: "a valid bearer token is required (Authorization: Bearer <token>)",
      headers: { "www-authenticate": 'Bearer realm="orchestrator-engine"' },
    };
  }
  if (level === "read" && method !== "GET" && method !== "HEAD") {
    return { status: 403, code: "FORBIDDEN", message: "this token may only read (GET routes)", headers: {} };
  }
  return null;
}
