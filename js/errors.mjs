// Errors raised in the package's JS, shaped as the engine's own: an Error
// named `OrchestratorError` with a stable `code`.

/** An `OrchestratorError` with `code`, keeping what caused it. */
export function orchestratorError(code, message, cause) {
  const error = new Error(message, cause === undefined ? undefined : { cause });
  error.name = "OrchestratorError";
  error.code = code;
  return error;
}
