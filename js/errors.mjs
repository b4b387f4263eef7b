// The package's error class. The engine (wasm) and the package's JS both
// throw Errors named `OrchestratorError` with a stable `code`; `instanceof
// OrchestratorError` is true for every one of them, wherever it was made
// (the engine makes plain Errors with that name and a code).

/** Every error the package throws on purpose: an `Error` with a stable `code`. */
export class OrchestratorError extends Error {
  /**
   * @param {string} code the stable code (see ErrorCode in the types)
   * @param {string} message what happened, for a person
   * @param {ErrorOptions} [options] `{ cause }`
   */
  constructor(code, message, options) {
    super(message, options);
    this.name = "OrchestratorError";
    this.code = code;
  }

  /** Errors the engine made (plain Errors with the name and a code) are OrchestratorErrors too. */
  static [Symbol.hasInstance](value) {
    return value instanceof Error && value.name === "OrchestratorError" && typeof value.code === "string";
  }
}

/** An `OrchestratorError` with `code`, keeping what caused it. */
export function orchestratorError(code, message, cause) {
  return new OrchestratorError(code, message, cause === undefined ? undefined : { cause });
}
