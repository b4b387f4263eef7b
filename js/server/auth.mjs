// Bearer tokens: one that grants everything, one that grants reading
// (the GET routes and the event stream). Compared in constant time: both
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
export function checkTokens({ token, readToken, insecure }) {
  for (const [name, value] of [["token", token], ["readToken", readToken]]) {
    if (value === undefined || value === null) continue;
    if (typeof value !== "string" || value === "" || padded(value)) {
      throw orchestratorError("INVALID_ARGUMENT", `${name} must be a non-empty string without whitespace at either end, got ${typeof value === "string" ? `a string of ${value.length} characters` : `a ${typeof value}`} (its value is not shown)`);
    }
  }
  if (!token && !readToken && insecure !== true) {
    throw orchestratorError(
      "INVALID_ARGUMENT",
      "no token and no readToken: every request would be allowed to anyone who reaches this handler; pass token (and readToken), or insecure: true where only trusted callers reach it (loopback, or behind your own authentication)",
    );
  }
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
export async function access(request, { token, readToken }) {
  if (!token && !readToken) return "write";
  const given = presented(request);
  if (given === null || given === "") return null;
  // Both comparisons always run: which one matched does not show either.
  const [write, read] = await Promise.all([sameToken(given, token ?? ""), sameToken(given, readToken ?? "")]);
  if (token && write) return "write";
  if (readToken && read) return "read";
  return null;
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
