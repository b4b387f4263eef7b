// Errors of the durable layer.

import { orchestratorError } from "../errors.mjs";

export { orchestratorError };

/** What went wrong, in words, whatever the error carries (some clients' errors have an empty message). */
export function reasonOf(cause) {
  const inner = cause?.errors?.[0];
  const parts = [cause?.message, cause?.code, inner?.message, inner?.code, cause?.name].filter((p) => typeof p === "string" && p !== "");
  return parts[0] ?? (String(cause ?? "") || "no reason given");
}

/** The store could not be reached or failed: nothing was changed by the call. */
export function storeUnavailable(what, cause) {
  return orchestratorError("STORE_UNAVAILABLE", `the store failed to ${what}: ${reasonOf(cause)}; nothing was changed, retry once it is back`, cause);
}

/**
 * A write the store did not answer in time: it may still land (a store
 * that answers late, a row lock released later), so the outcome is not
 * known. Still STORE_UNAVAILABLE, said plainly.
 */
export function outcomeUnknown(what, timeoutMs) {
  return Object.assign(
    orchestratorError(
      "STORE_UNAVAILABLE",
      `the store did not answer within ${timeoutMs} ms to ${what}: the write may still land, so its outcome is unknown; read the entity before you retry, or retry with the same idempotency key (Rollouts.applyOnce, the Idempotency-Key header)`,
    ),
    { outcome: "unknown" },
  );
}

/** No such namespace or entity, in the engine's words (src/error.rs). */
export function notFound(kind, name) {
  return orchestratorError("NOT_FOUND", `${kind} "${name}" does not exist`);
}
