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

  /**
   * Errors the engine made (plain Errors with the name and a code) are
   * OrchestratorErrors too, and so are errors marked with `ERROR_MARK` (the
   * simulator's `ScenarioError`, which keeps a name of its own).
   */
  static [Symbol.hasInstance](value) {
    return value instanceof Error && typeof value.code === "string" && (value.name === "OrchestratorError" || value[ERROR_MARK] === true);
  }
}

/**
 * Marks an error class of the package's whose instances are
 * OrchestratorErrors without extending it (a module that must not import
 * this one, such as the simulator copied into the browser page, sets it).
 */
export const ERROR_MARK = Symbol.for("orchestrator-engine.error");

/** An `OrchestratorError` with `code`, keeping what caused it. */
export function orchestratorError(code, message, cause) {
  return new OrchestratorError(code, message, cause === undefined ? undefined : { cause });
}

/** A value as an error message quotes it: JSON, at most 80 characters. */
export function describe(value) {
  if (value === undefined) return "undefined";
  if (typeof value === "function") return "a function";
  try {
    return String(JSON.stringify(value)).slice(0, 80);
  } catch {
    return typeof value;
  }
}

/** The longest delay a timer keeps (a longer one fires at once). */
export const MAX_TIMER_MS = 2_147_483_647;

/**
 * Checks a duration in milliseconds a timer will wait: a number from `min`
 * to `MAX_TIMER_MS` (about 24.8 days), else `INVALID_ARGUMENT` naming it.
 */
export function checkMs(name, value, min = 1) {
  if (typeof value === "number" && value >= min && value <= MAX_TIMER_MS) return value;
  throw orchestratorError("INVALID_ARGUMENT", `${name} must be a number of milliseconds from ${min} to ${MAX_TIMER_MS} (about 24.8 days, the longest a timer waits), got ${describe(value)}`);
}
