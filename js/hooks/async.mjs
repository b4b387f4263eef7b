// Hooks that can wait. The step stays in the Rust core, which never sees a
// Promise: the package wraps every controller so that a hook call that
// answers later answers a stand-in now and is remembered as "still out";
// after the step the core asks the controller whether anything is still
// out (`__deferred`), and if so undoes the step, which changes nothing,
// and throws `HOOK_PENDING`. `orchestrateAsync` then waits for the calls
// still out (each with a timeout, at most `concurrency` at a time) and
// steps again, at the same time (the clock is held), with every answer
// known so far: the step is deterministic, so it asks the same questions
// in the same order, gets the known answers at once, and gets further,
// until a step completes without asking anything new. A step runs its
// hooks' phases in order (check, monitor, remove, select, approve), so it
// takes one extra pass per phase that waits; the calls of one phase (every
// target's monitor) are asked together.
//
// Why replay rather than suspend: a suspended step would have to keep its
// borrow of the entity across an await, which the core (a plain Rust
// function over `&mut Entity`, shared with native callers) cannot do
// without becoming async itself, and a core that yields questions would
// need every phase rewritten as a resumable state machine. Replaying costs
// a copy of the entity per pass and the step's own work again; the hooks'
// waiting (the network) dominates both.

import { checkMs, describe, orchestratorError } from "../errors.mjs";
import { MONITORING_ENDPOINTS, TARGET_ENDPOINTS, hooksFromSettings, httpController, isHttpController } from "./http.mjs";
import { entityKey } from "../stores/names.mjs";
import { isRemote, metricProvider } from "../analysis/providers.mjs";
import { normalizeOptions } from "../analysis/template.mjs";

const HOOKS = ["select", "approve", "remove", "monitor", "check"];
/** The hooks that answer a list of targets. */
const LISTS = ["select", "approve", "remove"];
/** What a stand-in answers: the step that gets it is undone anyway. */
const STAND_IN = {
  select: () => [],
  approve: () => [],
  remove: () => [],
  monitor: () => undefined,
  check: () => undefined,
  measure: () => ({ value: null, text: "null", query: "" }),
};

/** The per-entity state of the steps of one engine: answers known, calls still out. */
class Session {
  constructor() {
    this.answers = new Map();
    this.out = new Map();
    this.mode = "sync";
    this.promised = null; // the hook that answered a Promise in a synchronous step
    this.remote = false; // whether that hook is an HTTP endpoint (then it was not called)
    this.queued = 0; // asynchronous steps queued or under way: the entity is busy from the first
    this.begin();
  }

  /** A new pass of the step: calls are numbered from 0 again. */
  begin() {
    this.index = 0;
    this.waiting = null; // the hook kind whose calls are out in this pass
    this.frozen = false; // a later kind was reached: ask nothing more this pass
  }

  /** Forgets every answer: the next step starts afresh. */
  reset() {
    this.answers.clear();
    this.out.clear();
    this.promised = null;
    this.remote = false;
    this.begin();
  }

  /** `remote`: the hook is an HTTP endpoint, which always answers later. */
  call(hook, fn, thisArg, args, remote) {
    if (this.mode === "sync") return this.#callNow(hook, fn, thisArg, args, remote);
    const key = `${hook}#${this.index++}`;
    const shape = signature(args);
    const known = this.answers.get(key);
    if (known !== undefined && known.shape === shape) {
      if ("error" in known) throw known.error;
      return known.value;
    }
    if (known !== undefined) {
      // The entity changed under the step: what was asked before no longer holds.
      this.answers.clear();
    }
    if (this.waiting !== null && hook !== this.waiting) this.frozen = true;
    if (this.frozen || this.out.has(key) || this.out.size >= this.concurrency) return STAND_IN[hook]();
    const started = Date.now();
    let result;
    try {
      result = fn.apply(thisArg, args);
    } catch (error) {
      this.answers.set(key, { shape, error });
      throw error;
    }
    if (!isThenable(result)) {
      this.answers.set(key, { shape, value: result });
      return result;
    }
    this.waiting = hook;
    this.out.set(key, this.#settle(hook, key, shape, result, started));
    return STAND_IN[hook]();
  }

  /**
   * A synchronous step: nothing is replayed, so nothing is remembered (no
   * work per call but the call); a Promise voids the step.
   */
  #callNow(hook, fn, thisArg, args, remote) {
    if (this.promised !== null) return STAND_IN[hook](); // the step is void already
    if (remote) {
      // An endpoint always answers later: the step is void, and nothing
      // need leave the process to learn that.
      this.promised = hook;
      this.remote = true;
      return STAND_IN[hook]();
    }
    const result = fn.apply(thisArg, args);
    if (!isThenable(result)) return result;
    Promise.resolve(result).catch(() => {}); // nobody waits for it: never an unhandled rejection
    this.promised ??= hook;
    return STAND_IN[hook]();
  }

  /** Waits for `promise` at most `timeoutMs`, and records how it ended as the call's answer. */
  async #settle(hook, key, shape, promise, started) {
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
    });
    try {
      const value = await Promise.race([promise, timeout]);
      if (LISTS.includes(hook) && !Array.isArray(value)) {
        throw new Error(`${hook} must return an array of targets ({ name, group } objects or names), got ${describe(value)}`);
      }
      this.answers.set(key, { shape, value });
    } catch (error) {
      // The engine logs the failure with how long the call took.
      const failure = new Error(error instanceof Error ? error.message : String(error));
      failure.elapsedMs = Date.now() - started;
      this.answers.set(key, { shape, error: failure });
    } finally {
      clearTimeout(timer);
      Promise.resolve(promise).catch(() => {}); // a call that timed out may still reject
      this.out.delete(key);
    }
  }

  /** Whether the pass just run left calls out (asked by the core after each step). */
  deferred() {
    return this.out.size > 0 || this.promised !== null;
  }
}

const isThenable = (value) => value !== null && (typeof value === "object" || typeof value === "function") && typeof value.then === "function";

/** What identifies a call's arguments: the same state asks with the same ones. */
function signature(args) {
  try {
    return JSON.stringify(args);
  } catch {
    return String(Math.random()); // not comparable: never a match
  }
}

/** `table`'s value for the engine's entity, made by `make()` the first time. */
function perEntity(table, engine, namespace, entity, make) {
  if (!table.has(engine)) table.set(engine, new Map());
  const byEntity = table.get(engine);
  const key = entityKey(namespace, entity);
  if (!byEntity.has(key)) byEntity.set(key, make());
  return byEntity.get(key);
}

const sessions = new WeakMap();
const sessionOf = (engine, namespace, entity) => perEntity(sessions, engine, namespace, entity, () => new Session());

/**
 * `controller` with each hook going through the entity's session; a
 * controller of the Go engine's endpoint URLs becomes hooks that post to
 * them (js/hooks/http.mjs), and its settings (`__settings`, which the
 * engine keeps in the entity's state) go with them.
 */
function wrap(engine, namespace, entity, controller, monitoring) {
  if (controller === null || controller === undefined || typeof controller !== "object" || Array.isArray(controller)) return controller;
  if (isHttpController(controller, monitoring ? MONITORING_ENDPOINTS : TARGET_ENDPOINTS)) {
    const { settings, hooks } = httpController(controller, monitoring);
    return wrapHooks(engine, namespace, entity, hooks, settings, true);
  }
  return wrapHooks(engine, namespace, entity, controller, undefined);
}

/** `remote`: the hooks post to HTTP endpoints (a synchronous step never calls them). */
function wrapHooks(engine, namespace, entity, controller, settings, remote = false) {
  const wrapped = { __deferred: () => sessionOf(engine, namespace, entity).deferred(), __settings: settings };
  for (const hook of HOOKS) {
    const fn = controller[hook];
    if (typeof fn !== "function") {
      if (fn !== undefined && fn !== null) wrapped[hook] = fn; // the engine says what is wrong with it
      continue;
    }
    wrapped[hook] = (...args) => sessionOf(engine, namespace, entity).call(hook, fn, controller, args, remote);
  }
  return wrapped;
}

/**
 * Per engine and entity, the settings its HTTP controllers' hooks were
 * built from (`null`: its hooks are functions, or none), so that hooks are
 * built again only when the entity's settings changed under them (a
 * restore, a delta).
 */
const built = new WeakMap();
const builtOf = (engine, namespace, entity) => perEntity(built, engine, namespace, entity, () => ({ target: null, monitoring: null }));

/** The engine's own setters, before `withAsyncSteps` wraps them. */
const setters = new WeakMap();

/**
 * Builds the entity's HTTP controllers from the settings its state holds,
 * where they changed since its hooks were built (after a restore or a
 * delta). Settings that cannot be used (no engine of this package wrote
 * them) become hooks that fail with the reason, as an endpoint that cannot
 * be reached does: nothing moves through them, and what they monitor fails.
 */
function rebuild(engine, namespace, entity) {
  const kinds = builtOf(engine, namespace, entity);
  const set = setters.get(Object.getPrototypeOf(engine));
  for (const monitoring of [false, true]) {
    const kind = monitoring ? "monitoring" : "target";
    const settings = engine.__controllerSettings(namespace, entity, monitoring) ?? null;
    if (settings === kinds[kind]) continue;
    let hooks = null;
    let remote = false;
    if (settings !== null) {
      try {
        hooks = hooksFromSettings(settings, monitoring);
        remote = true;
      } catch (error) {
        const fail = () => {
          throw new Error(`the ${kind} controller's settings kept with the entity are unusable: ${error.message}`);
        };
        hooks = monitoring ? { check: fail } : { select: fail, approve: fail, remove: fail, monitor: fail };
      }
    }
    set[kind].call(engine, namespace, entity, hooks && wrapHooks(engine, namespace, entity, hooks, settings, remote));
    kinds[kind] = settings;
  }
}

/**
 * Adds `orchestrateAsync`, `orchestrateColumnsAsync` and `reportAsync` to
 * `Orchestrator`, and makes its controllers able to wait. Idempotent.
 */
export function withAsyncSteps(Orchestrator) {
  const proto = Orchestrator.prototype;
  if (Object.prototype.hasOwnProperty.call(proto, "orchestrateAsync")) return Orchestrator;
  const own = { target: proto.setTargetController, monitoring: proto.setMonitoringController };
  setters.set(proto, own);
  for (const kind of ["target", "monitoring"]) {
    const set = own[kind];
    const monitoring = kind === "monitoring";
    proto[monitoring ? "setMonitoringController" : "setTargetController"] = function (namespace, entity, controller) {
      const wrapped = wrap(this, namespace, entity, controller, monitoring);
      set.call(this, namespace, entity, wrapped);
      builtOf(this, namespace, entity)[kind] = wrapped?.__settings ?? null;
    };
  }
  // Hooks of functions for this process, keeping the HTTP controller the
  // entity's state holds (for Rollouts: a process's own hooks win in it).
  proto.__useLocalController = function (namespace, entity, controller, monitoring) {
    const settings = this.__controllerSettings(namespace, entity, monitoring) ?? undefined;
    own[monitoring ? "monitoring" : "target"].call(this, namespace, entity, wrapHooks(this, namespace, entity, controller, settings));
    builtOf(this, namespace, entity)[monitoring ? "monitoring" : "target"] = settings ?? null;
  };
  // A restored engine, and an entity a delta changed, call their HTTP
  // controllers again.
  const restore = Orchestrator.restore;
  Orchestrator.restore = function (bytes, options) {
    const engine = restore.call(this, bytes, options);
    for (const namespace of engine.namespaces()) {
      for (const entity of engine.entities(namespace)) rebuild(engine, namespace, entity);
    }
    return engine;
  };
  const applyDelta = proto.applyDelta;
  proto.applyDelta = function (bytes) {
    const [namespace, entity] = applyDelta.call(this, bytes);
    rebuild(this, namespace, entity);
    return [namespace, entity];
  };
  // Analysis: the engine's measurements, and templates as users write them.
  proto.useMetrics = function (options) {
    metrics.set(this, metricProvider(options));
  };
  const setOptions = proto.setRolloutOptions;
  proto.setRolloutOptions = function (namespace, entity, options) {
    return setOptions.call(this, namespace, entity, normalizeOptions(options));
  };
  for (const name of ["orchestrate", "orchestrateColumns", "report"]) {
    const step = proto[name];
    // Synchronous: a hook that answers a Promise undoes the step.
    proto[name] = function (namespace, entity, ...args) {
      installMetrics(this);
      const session = sessionOf(this, namespace, entity);
      if (session.mode === "async" || session.queued > 0) throw busy(namespace, entity, name);
      session.reset();
      try {
        return step.call(this, namespace, entity, ...args);
      } catch (error) {
        if (error?.code === "HOOK_PENDING" && session.promised === "measure") {
          error.message = `an analysis measurement is due, which a synchronous ${name} cannot wait for (${session.remote ? "its provider is reached over HTTP; nothing was sent" : "its function returned a Promise"}); the step was undone. Use ${name}Async (or Rollouts), which waits for measurements`;
        } else if (error?.code === "HOOK_PENDING" && session.remote) {
          error.message = `the ${session.promised} hook is an HTTP endpoint, which a synchronous ${name} cannot wait for; nothing was sent and the step was undone. Use ${name}Async (or Rollouts), which waits for asynchronous hooks`;
        } else if (error?.code === "HOOK_PENDING" && session.promised !== null) {
          error.message = `the ${session.promised} hook returned a Promise, which a synchronous ${name} cannot wait for; the step was undone. Use ${name}Async (or Rollouts), which waits for asynchronous hooks`;
        }
        throw error;
      } finally {
        session.reset();
      }
    };
    proto[`${name}Async`] = async function (namespace, entity, input, options = {}) {
      installMetrics(this);
      return stepAsync(this, namespace, entity, options, () => step.call(this, namespace, entity, input));
    };
  }
  return Orchestrator;
}

/** Per engine, its measuring function (`useMetrics`), and whether the engine has it. */
const metrics = new WeakMap();
const measuring = new WeakSet();

/**
 * Gives the engine its measuring function, once: each measurement goes
 * through the entity's session, as a hook call does (a Prometheus or web
 * provider is remote: a synchronous step never sends it).
 */
function installMetrics(engine) {
  if (measuring.has(engine)) return;
  measuring.add(engine);
  const measure = (request, context) => {
    const provider = metrics.get(engine) ?? defaultProvider();
    return sessionOf(engine, context.namespace, context.entity).call("measure", provider, null, [request, context], !provider.local && isRemote(request));
  };
  engine.__setMetricProvider(measure, (namespace, entity) => sessionOf(engine, namespace, entity).deferred());
}

let fallback;
const defaultProvider = () => (fallback ??= metricProvider());

/** The tail of each entity's queue of asynchronous steps, per engine. */
const queues = new WeakMap();

function stepAsync(engine, namespace, entity, { hookTimeoutMs = 10_000, concurrency = 16 } = {}, step) {
  checkMs("hookTimeoutMs", hookTimeoutMs);
  if (!Number.isInteger(concurrency) || concurrency < 1) throw invalid("concurrency must be a positive integer");
  if (!queues.has(engine)) queues.set(engine, new Map());
  const byEntity = queues.get(engine);
  const key = entityKey(namespace, entity);
  // Busy from this moment: a synchronous step in the same tick, before the
  // queued one starts, would change the entity underneath it.
  const queuedIn = sessionOf(engine, namespace, entity);
  queuedIn.queued += 1;
  const run = async () => {
    const session = sessionOf(engine, namespace, entity);
    session.reset();
    Object.assign(session, { mode: "async", timeoutMs: hookTimeoutMs, concurrency });
    engine.__holdClock(true);
    try {
      for (;;) {
        session.begin();
        try {
          return step();
        } catch (error) {
          if (error?.code !== "HOOK_PENDING" || session.out.size === 0) throw error;
        }
        await Promise.all(session.out.values());
      }
    } finally {
      engine.__holdClock(false);
      session.mode = "sync";
      session.reset();
      queuedIn.queued -= 1;
    }
  };
  const previous = byEntity.get(key) ?? Promise.resolve();
  const result = previous.then(run, run);
  const tail = result.catch(() => {});
  byEntity.set(key, tail);
  tail.then(() => {
    if (byEntity.get(key) === tail) byEntity.delete(key);
  });
  return result;
}

const busy = (namespace, entity, name) =>
  orchestratorError("ENTITY_BUSY", `${namespace}/${entity} has an asynchronous step under way; a synchronous ${name} would change it underneath: await that step first`);

const invalid = (message) => orchestratorError("INVALID_ARGUMENT", message);
