// Errors of the durable layer.

import { orchestratorError } from "../errors.mjs";

export { orchestratorError };

/** The store could not be reached or failed: nothing was changed by the call. */
export function storeUnavailable(what, cause) {
  const why = cause instanceof Error ? cause.message : String(cause);
  return orchestratorError("STORE_UNAVAILABLE", `the store failed to ${what}: ${why}; nothing was changed, retry once it is back`, cause);
}
