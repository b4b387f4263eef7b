// Errors of the durable layer.

import { orchestratorError } from "../errors.mjs";

export { orchestratorError };

/** The store could not be reached or failed: nothing was changed by the call. */
export function storeUnavailable(what, cause) {
  const why = cause instanceof Error ? cause.message : String(cause);
  return orchestratorError("STORE_UNAVAILABLE", `the store failed to ${what}: ${why}; nothing was changed, retry once it is back`, cause);
}

/** No such namespace or entity, in the engine's words (src/error.rs). */
export function notFound(kind, name) {
  return orchestratorError("NOT_FOUND", `${kind} "${name}" does not exist`);
}
