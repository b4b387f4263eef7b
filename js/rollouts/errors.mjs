// Errors of the durable layer, shaped as the engine's own: an Error named
// `OrchestratorError` with a stable `code`.

/** An `OrchestratorError` with `code`, keeping what caused it. */
export function orchestratorError(code, message, cause) {
  const error = new Error(message, cause === undefined ? undefined : { cause });
  error.name = "OrchestratorError";
  error.code = code;
  return error;
}

/** The store could not be reached or failed: nothing was changed by the call. */
export function storeUnavailable(what, cause) {
  const why = cause instanceof Error ? cause.message : String(cause);
  return orchestratorError("STORE_UNAVAILABLE", `the store failed to ${what}: ${why}; nothing was changed, retry once it is back`, cause);
}
