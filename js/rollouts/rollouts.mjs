// Rollouts: the engine with its state in a store. Each call is one atomic
// read-modify-write of one entity: load it (kept cached while its revision
// is the store's), apply the call, save it with the revision read; when
// another writer saved first, reload and apply again (a bounded number of
// times, then `CONFLICT`). A call that fails saves nothing; a store that
// fails or does not answer in time gives `STORE_UNAVAILABLE`, and the
// entity is read afresh on the next call.
//
// What a call saves is the entity's journal: on a store that can append,
// a delta of what the call changed (its size follows the change, not the
// fleet), and now and then a checkpoint of the whole entity that replaces
// the journal (compaction), so that loading never reads much more than
// one checkpoint's worth.

import { Orchestrator } from "orchestrator-engine";

import { checkMs } from "../errors.mjs";
import { MONITORING_ENDPOINTS, TARGET_ENDPOINTS, hostCheck, isHttpController, redactedController, urlCheck } from "../hooks/http.mjs";
import { normalizeOptions, providerUrls } from "../analysis/template.mjs";
import { normalizePipeline } from "../pipelines.mjs";
import { holds, namespaceSubscriptions, putSubscription, readable, record, redactedSettings, removeSubscription, setSubscriptions } from "../notify/notifier.mjs";
import { normalizeSubscriptions, redactedSubscription } from "../notify/subscriptions.mjs";
import { NAMESPACE_NOTIFICATIONS, entityKey as keyOf, isNamespaceRecord } from "../stores/names.mjs";
import { Deliveries } from "./deliveries.mjs";
import { NamespaceRecords } from "./namespaces.mjs";
import { Stages, pipelineFrom } from "./stages.mjs";
import { notFound, orchestratorError, outcomeUnknown, storeUnavailable } from "./errors.mjs";

/** Calls that change an entity; a control answering `false` changed nothing. */
const WRITES = [
  "setRolloutOptions",
  "setTargetVersion",
  "forceTargetVersion",
  "pause",
  "resume",
  "abort",
  "retry",
  "promote",
  "approve",
  "rollbackTo",
  "setFreezes",
  "setPipeline",
  "approvePromotion",
  "releasePipeline",
  "orchestrate",
  "orchestrateColumns",
  "report",
];
const READS = ["expectedState", "rolloutInfo", "targetCounts", "plan", "events", "history", "analysis", "freezes"];
/** Reads and writes that take a namespace's settings when `entity` is `null`. */
const NAMESPACE_AWARE = ["setFreezes", "freezes"];
/** Writes that step the entity, calling its hooks. */
const STEPS = ["orchestrate", "orchestrateColumns", "report"];

/** The engine, durable: see the README's "Rollouts that survive restarts". */
export class Rollouts {
  #store;
  #now;
  #retries;
  #timeoutMs;
  #maxEntities;
  #compactEvery;
  #hookTimeoutMs;
  #hookConcurrency;
  /**
   * Each loaded entity: an `Orchestrator` that holds only it (so that its
   * `snapshot()` is the entity's snapshot), the store's revision of it
   * (`null`: the store has none yet), and the size of its stored
   * checkpoint and journal (`checkpointBytes`, `journalBytes`, `deltas`).
   */
  #loaded = new Map();
  /** Hooks registered per entity, set again whenever it is reloaded. */
  #hooks = new Map();
  /** Throws for an HTTP controller naming a host it may not call. */
  #checkHosts;
  #checkUrl;
  #metrics;
  /** The tail of each entity's queue: one call at a time per entity. */
  #queues = new Map();
  /** This process, as its claims on notifications name it. */
  #self = globalThis.crypto.randomUUID();
  /** The notifications this process's writes claimed, delivered and settled. */
  #deliveries;
  /** The namespaces' own records (settings, subscriptions). */
  #namespaces;
  /** Pipelines as other entities' records have them. */
  #stages;

  /**
   * @param {object} options
   * @param {import("../stores/stores").Store} options.store where entities live
   * @param {() => number} [options.now] the clock (ms since the epoch), as `Orchestrator`'s
   * @param {number} [options.retries] attempts after a conflict (default 16)
   * @param {number} [options.storeTimeoutMs] how long one store call may take (default 10 s)
   * @param {number} [options.maxEntities] how many entities this process keeps loaded (default 1,000)
   * @param {number} [options.compactEvery] the most deltas an entity's journal holds before a
   *   checkpoint replaces it (default 64; 0: every call writes a checkpoint). A journal is also
   *   compacted once its deltas add up to the checkpoint's size.
   * @param {number} [options.hookTimeoutMs] how long one hook call may take in a step (default 10 s)
   * @param {number} [options.hookConcurrency] how many hook calls of a step may be out at once (default 16)
   * @param {string[]} [options.allowHookHosts] the only hosts an HTTP controller may name (`*.domain`
   *   for any name under it); default any. Analysis measures only from these hosts too.
   * @param {object} [options.metrics] analysis: `{ functions, secrets }` (see `useMetrics`)
   * @param {number} [options.namespaceCacheMs] how long a step may use a namespace's settings
   *   (freezes, a stopped line) as last read before reading them again (default 1,000 ms; 0: every step)
   * @param {(namespace: string) => Promise<Uint8Array | undefined>} [options.readNamespace] where steps read a
   *   namespace's settings when the store holding its record is not this one (the Worker: another object's)
   * @param {(namespace: string, entity: string) => Promise<object>} [options.readUpstream] where a pipeline's
   *   steps read an upstream entity's facts (`upstream()`) when it is not in this store (the Worker: its object's)
   */
  constructor({
    store,
    now,
    retries = 16,
    storeTimeoutMs = 10_000,
    maxEntities = 1000,
    compactEvery = 64,
    hookTimeoutMs = 10_000,
    hookConcurrency = 16,
    allowHookHosts,
    metrics = {},
    namespaceCacheMs = 1000,
    readNamespace,
    readUpstream,
  } = {}) {
    for (const method of ["get", "put", "list", "delete"]) {
      if (typeof store?.[method] !== "function") {
        throw orchestratorError("INVALID_ARGUMENT", `store must have a ${method} method (see Store in the README)`);
      }
    }
    if (!Number.isInteger(retries) || retries < 0 || retries > 1000) {
      throw orchestratorError("INVALID_ARGUMENT", "retries must be an integer from 0 to 1000");
    }
    if (!Number.isInteger(maxEntities) || maxEntities < 1) throw orchestratorError("INVALID_ARGUMENT", "maxEntities must be a positive integer");
    if (!Number.isInteger(compactEvery) || compactEvery < 0 || compactEvery > 1_000_000) {
      throw orchestratorError("INVALID_ARGUMENT", "compactEvery must be an integer from 0 to 1,000,000");
    }
    if (store.append !== undefined && typeof store.append !== "function") {
      throw orchestratorError("INVALID_ARGUMENT", "store.append must be a method when it is there (see Store in the README)");
    }
    new Orchestrator(now === undefined ? undefined : { now }).free(); // checks the clock now, not at the first call
    this.#store = store;
    this.#now = now;
    this.#retries = retries;
    this.#timeoutMs = checkMs("storeTimeoutMs", storeTimeoutMs);
    this.#maxEntities = maxEntities;
    this.#compactEvery = compactEvery;
    if (!Number.isInteger(hookConcurrency) || hookConcurrency < 1) throw orchestratorError("INVALID_ARGUMENT", "hookConcurrency must be a positive integer");
    this.#hookTimeoutMs = checkMs("hookTimeoutMs", hookTimeoutMs);
    this.#checkHosts = hostCheck(allowHookHosts);
    this.#checkUrl = urlCheck(allowHookHosts);
    this.#metrics = { ...metrics, allowHosts: allowHookHosts };
    const check = new Orchestrator();
    try {
      check.useMetrics(this.#metrics); // checks them now, not at the first step
    } finally {
      check.free();
    }
    this.#hookConcurrency = hookConcurrency;
    if (!Number.isInteger(namespaceCacheMs) || namespaceCacheMs < 0 || namespaceCacheMs > 3_600_000) {
      throw orchestratorError("INVALID_ARGUMENT", "namespaceCacheMs must be an integer from 0 to 3,600,000");
    }
    if (readNamespace !== undefined && typeof readNamespace !== "function") throw orchestratorError("INVALID_ARGUMENT", "readNamespace must be a function");
    this.#deliveries = new Deliveries({
      write: (namespace, entity, change, options) => this.#write(namespace, entity, change, options),
      clock: () => this.#clock(),
      shared: (namespace) => this.#namespaces.subscriptions(namespace),
      by: this.#self,
    });
    this.#namespaces = new NamespaceRecords({
      store,
      call: (what, call, options) => this.#call(what, call, options),
      queued: (key, run) => this.#queued(key, run),
      retries,
      pause: jitter,
      now,
      cacheMs: namespaceCacheMs,
      most: maxEntities,
      readNamespace,
    });
    if (readUpstream !== undefined && typeof readUpstream !== "function") throw orchestratorError("INVALID_ARGUMENT", "readUpstream must be a function");
    this.#stages = new Stages({
      read: (namespace, entity, read) => this.#read(namespace, entity, read),
      readUpstream: readUpstream ?? ((namespace, entity) => this.upstream(namespace, entity)),
      namespaceBytes: (namespace) => this.#namespaces.bytes(namespace),
    });
  }

  /** Every entity in the store as `[namespace, entity]`, in name order. */
  async list() {
    return (await this.#call("list entities", () => this.#store.list())).filter(([, entity]) => !isNamespaceRecord(entity));
  }

  // ---- a namespace's own settings -------------------------------------------

  /** Sets the freezes of an entity, or with `entity` `null` of the whole namespace (every process's steps see them within `namespaceCacheMs`). */
  setFreezes(namespace, entity, freezes) {
    if (entity === null || entity === undefined) return this.#writeNamespace(namespace, (engine) => engine.setFreezes(namespace, null, freezes));
    return this.#entityWrite("setFreezes", namespace, entity, [freezes]);
  }

  /** The freezes of an entity, or with `entity` `null` (or left out) of the whole namespace. */
  async freezes(namespace, entity) {
    if (entity === null || entity === undefined) return this.#readNamespace(namespace, (engine) => engine.freezes(namespace, null));
    return this.#entityRead("freezes", namespace, entity, []);
  }

  /**
   * Stops the namespace's line: no entity of it moves a target to a
   * version rolling out, in any process, until it is started again
   * (within `namespaceCacheMs`). Answers whether it was running.
   */
  stopTheLine(namespace, reason) {
    return this.#writeNamespace(namespace, (engine) => engine.stopTheLine(namespace, reason));
  }

  /** Starts the namespace's line again; answers whether it was stopped. */
  startTheLine(namespace) {
    return this.#writeNamespace(namespace, (engine) => engine.startTheLine(namespace));
  }

  /** Why the namespace's line is stopped, since when and by whom; `null` while it runs. */
  async lineStop(namespace) {
    return this.#readNamespace(namespace, (engine) => engine.lineStop(namespace));
  }

  /** Checks the namespace's name, then writes its settings (see NamespaceRecords.write). */
  #writeNamespace(namespace, change, options) {
    try {
      checkNames(namespace, "entity");
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#namespaces.write(namespace, change, options);
  }

  async #readNamespace(namespace, read) {
    checkNames(namespace, "entity");
    return this.#namespaces.read(namespace, read);
  }

  /**
   * Sets the subscriptions of an entity, or with `entity` `null` of every
   * entity of the namespace (its record of its own; each entity's events
   * are told from then on, by whichever process saves them).
   */
  async setNotifications(namespace, entity, subscriptions) {
    normalizeSubscriptions(subscriptions, this.#checkUrl); // throws now, changing nothing
    if (entity === null || entity === undefined) {
      return this.#writeNamespace(
        namespace,
        (previous) => {
          const next = namespaceSubscriptions(previous?.subscriptions, subscriptions, this.#checkUrl, this.#clock());
          return JSON.stringify(next) === JSON.stringify(previous?.subscriptions ?? []) ? false : { subscriptions: next };
        },
        { record: NAMESPACE_NOTIFICATIONS, json: true },
      );
    }
    return this.#write(namespace, entity, (engine) => setSubscriptions(engine, namespace, entity, subscriptions, this.#checkUrl)).catch((error) =>
      this.#asOneEngine(error, namespace, entity),
    );
  }

  /**
   * The entity's revision in the store (`undefined`: none), read without
   * loading the entity or touching this process's cache: a watcher asks
   * this first and reads the entity only when it changed.
   */
  async revision(namespace, entity, known) {
    checkNames(namespace, entity);
    const stored = await this.#call("read an entity", () => this.#store.get(namespace, entity, known));
    return stored === undefined || stored === null ? undefined : String(stored.revision);
  }

  /**
   * Calls `listener(namespace, entity)` when an entity changes in the
   * store, by any process (`listener(null, null)`: changes may have been
   * missed), until the answered function is called; `null` for a store
   * that cannot tell (then poll `revision`).
   */
  watch(listener) {
    if (typeof this.#store.watch !== "function") return null;
    return this.#store.watch((namespace, entity) => {
      // A namespace's own records are no entity: its settings are read
      // afresh at the next write instead.
      if (entity !== null && isNamespaceRecord(entity)) this.#namespaces.forget(namespace, entity);
      else listener(namespace, entity);
    });
  }

  /** Every namespace with an entity in the store, in name order. */
  async namespaces() {
    return [...new Set((await this.list()).map(([ns]) => ns))];
  }

  /** The entities of a namespace in the store, in name order (`NOT_FOUND` if none). */
  async entities(namespace) {
    checkNames(namespace, "entity");
    const names = (await this.list()).filter(([ns]) => ns === namespace).map(([, entity]) => entity);
    if (names.length === 0) throw notFound("namespace", namespace);
    return names;
  }

  /**
   * Sets the per-target hooks of an entity. Hooks of functions are this
   * process's: registered at once, never stored, and in this process they
   * win over an HTTP controller the entity has. A Go-style HTTP controller
   * (endpoint URLs) is the entity's: stored with it, called by every
   * process. `null` removes this process's hooks and the entity's HTTP
   * controller. Answers a Promise of the store write this takes (at once
   * for hooks of functions): await it.
   */
  setTargetController(namespace, entity, controller) {
    return this.#setController(namespace, entity, controller, false);
  }

  /** Sets the whole-system health check of an entity, as `setTargetController` sets its per-target hooks. */
  setMonitoringController(namespace, entity, controller) {
    return this.#setController(namespace, entity, controller, true);
  }

  #setController(namespace, entity, controller, monitoring) {
    const set = monitoring ? "setMonitoringController" : "setTargetController";
    const kind = monitoring ? "monitoring" : "target";
    validated((engine) => engine[set](namespace, entity, controller)); // throws now, changing nothing
    if (isHttpController(controller, monitoring ? MONITORING_ENDPOINTS : TARGET_ENDPOINTS)) {
      this.#checkHosts(controller);
      return this.#write(namespace, entity, (engine) => void engine[set](namespace, entity, controller)).then(() => {
        this.#hook(namespace, entity)[kind] = null; // the entity's controller now, in this process too
      });
    }
    this.#hook(namespace, entity)[kind] = controller ?? null;
    if (controller !== null && controller !== undefined) {
      this.#held(namespace, entity)?.engine.__useLocalController(namespace, entity, controller, monitoring);
      return Promise.resolve();
    }
    return this.#write(namespace, entity, (engine) => {
      const stored = engine.__controllerSettings(namespace, entity, monitoring) !== undefined;
      engine[set](namespace, entity, null);
      return stored ? undefined : false; // only an HTTP controller removed is a change to save
    }).then(() => undefined);
  }

  /** Adds a subscription to the entity's, or replaces the one of its name (the others stay as they are); answers whether that changed them. */
  async putNotification(namespace, entity, subscription) {
    normalizeSubscriptions([subscription], this.#checkUrl); // throws now, changing nothing
    return this.#write(namespace, entity, (engine) => putSubscription(engine, namespace, entity, subscription, this.#checkUrl)).catch((error) =>
      this.#asOneEngine(error, namespace, entity),
    );
  }

  /** Removes the entity's subscription named `name`; answers whether there was one. */
  async removeNotification(namespace, entity, name) {
    return this.#write(namespace, entity, (engine) => removeSubscription(engine, namespace, entity, name)).catch((error) => this.#asOneEngine(error, namespace, entity));
  }

  /**
   * The entity's subscriptions (without secrets), what waits to be
   * delivered, and each one's delivery log (a namespace's subscriptions'
   * as `namespace:{name}`); with `entity` `null`, the namespace's
   * subscriptions alone.
   */
  async notifications(namespace, entity) {
    if (entity === null || entity === undefined) {
      checkNames(namespace, "entity");
      const record = await this.#namespaces.readJson(namespace, NAMESPACE_NOTIFICATIONS);
      return { subscriptions: (record?.subscriptions ?? []).map(redactedSubscription) };
    }
    return this.#read(namespace, entity, (engine) => readable(engine, namespace, entity));
  }

  /**
   * Claims and delivers the entity's notifications that are due (retries
   * whose backoff ran out, or what a process that died had claimed) and
   * answers what came of each: steps do this by themselves; call it where
   * an entity may see no write for a while (a cron, an alarm).
   */
  async deliverNotifications(namespace, entity) {
    return this.#deliveries.sweep(namespace, entity);
  }

  /** Resolves once every delivery this process has under way is delivered and settled. */
  async notificationsSettled() {
    return this.#deliveries.settled();
  }

  #clock() {
    return this.#now === undefined ? Date.now() : this.#now();
  }

  /**
   * The entity's snapshot (restorable with `Orchestrator.restore`, and by
   * `importEntity` here or in another deployment); `NOT_FOUND` when the
   * store has no such entity.
   */
  async exportEntity(namespace, entity, { redact = false } = {}) {
    return this.#read(namespace, entity, (engine) => {
      if (!engine.namespaces().includes(namespace) || !engine.entities(namespace).includes(entity)) {
        throw notFound("entity", `${namespace}/${entity}`);
      }
      // The entity alone: not the namespace's settings its last step took.
      engine.__adoptNamespace(namespace, undefined);
      return redact ? redacted(engine, namespace, entity) : engine.snapshot();
    });
  }

  /**
   * Replaces the entity's stored state with `bytes`, an entity snapshot of
   * that very entity (`exportEntity`, `Orchestrator#checkpoint`); anything
   * else is `INVALID_SNAPSHOT` and stores nothing. One atomic write, like
   * every call.
   */
  async importEntity(namespace, entity, bytes) {
    let engine;
    try {
      engine = Orchestrator.restore(bytes);
    } catch (error) {
      throw orchestratorError("INVALID_SNAPSHOT", `not a snapshot of ${namespace}/${entity}: ${error.message}`, error);
    }
    // Compared as pairs: joined, entity "b/c" of namespace "x" and entity
    // "c" of namespace "x/b" would be one name.
    const held = engine.namespaces().flatMap((ns) => engine.entities(ns).map((e) => [ns, e]));
    try {
      // An imported entity's HTTP controllers are calls this server will make.
      for (const [ns, e] of held) {
        for (const monitoring of [false, true]) {
          const settings = engine.__controllerSettings(ns, e, monitoring);
          if (settings !== undefined) this.#checkHosts(settings);
        }
        // So are its notifications' receivers.
        const notifications = engine.__notificationSettings(ns, e);
        if (notifications !== undefined) normalizeSubscriptions(JSON.parse(notifications).subscriptions, this.#checkUrl);
        // So is where its pipeline's verification measures.
        const verification = engine.pipeline(ns, e).pipeline?.verification;
        for (const [field, url] of providerUrls({ analysis: verification })) this.#checkUrl(field.replace(/^analysis/, "pipeline.verification"), url);
        // So are the addresses its analysis templates measure from.
        for (const [field, url] of providerUrls(engine.rolloutInfo(ns, e).options)) this.#checkUrl(field, url);
      }
    } finally {
      engine.free();
    }
    if (held.length !== 1 || held[0][0] !== namespace || held[0][1] !== entity) {
      const names = held.map(([ns, e]) => `${JSON.stringify(ns)}/${JSON.stringify(e)}`).join(", ");
      throw orchestratorError("INVALID_SNAPSHOT", `a snapshot of ${namespace}/${entity} must hold that entity alone; this one holds ${names || "no entity"}`);
    }
    return this.#serially(namespace, entity, async () => {
      const key = keyOf(namespace, entity);
      for (let attempt = 0; attempt <= this.#retries; attempt++) {
        const { revision } = await this.#load(namespace, entity);
        let saved;
        try {
          saved = await this.#call("save an entity", (limit) => this.#store.put(namespace, entity, bytes, revision, limit), { write: true });
        } finally {
          this.#drop(key); // read afresh next time: the state is the imported one, or unknown
        }
        if (saved !== null && saved !== undefined) return;
        if (attempt < this.#retries) await jitter(attempt);
      }
      throw orchestratorError("CONFLICT", `${namespace}/${entity} kept changing under the import (${this.#retries + 1} attempts); try again`);
    });
  }

  /** Deletes an entity from the store (and this process): answers whether it was there. */
  async deleteEntity(namespace, entity) {
    return this.#serially(namespace, entity, async () => {
      this.#drop(keyOf(namespace, entity));
      return this.#call("delete an entity", (limit) => this.#store.delete(namespace, entity, limit), { write: true });
    });
  }

  /**
   * Applies `change` to the entity as one atomic read-modify-write, with
   * the notifications its events make (`deliver` takes what the save
   * claimed; by default they are delivered in the background).
   * `optimistic` (steps): an entity this process holds is changed without
   * asking the store first whether it is still current, when the change
   * can only touch the entity itself (it has no hooks, which act outside
   * it); the compare-and-swap of the save finds out, and the change is
   * made again on the store's state. One store round trip per write
   * instead of two.
   */
  async #write(namespace, entity, change, { optimistic = false, deliver = (d) => this.#deliveries.deliver(namespace, entity, d) } = {}) {
    // The namespace's subscriptions hear of the events too (read before the
    // entity's queue, as a namespace's settings are).
    const shared = await this.#namespaces.subscriptions(namespace);
    return this.#serially(namespace, entity, async () => {
      const key = keyOf(namespace, entity);
      for (let attempt = 0; attempt <= this.#retries; attempt++) {
        const cached = optimistic && attempt === 0 ? this.#loaded.get(key) : undefined;
        const held = cached !== undefined && this.#selfContained(namespace, entity, cached) ? this.#touch(key, cached) : await this.#load(namespace, entity);
        const result = await change(held.engine); // throws, changing nothing, on bad input
        if (result instanceof Replay) return result;
        // The events this write made go in the entity's outbox, and what is
        // due is claimed for this process, in the same save: one process
        // delivers each.
        const notify = record(held.engine, namespace, entity, { now: this.#clock(), by: this.#self, shared });
        if (result === false && !notify.changed) return result; // nothing changed: nothing to save
        let saved;
        try {
          saved = await this.#save(namespace, entity, held);
        } catch (error) {
          this.#drop(key); // whether it was saved is unknown: read it afresh
          throw error;
        }
        if (saved) {
          deliver(notify.deliveries);
          return result;
        }
        this.#drop(key); // another writer saved first
        if (attempt < this.#retries) await jitter(attempt);
      }
      throw orchestratorError(
        "CONFLICT",
        `${namespace}/${entity} kept changing under this call (${this.#retries + 1} attempts): other writers saved first each time; try again`,
      );
    });
  }

  /**
   * Saves what the call changed: a delta appended to the entity's journal,
   * or a checkpoint in its place. Answers whether it was saved (`false`:
   * another writer saved first).
   */
  async #save(namespace, entity, held) {
    if (held.revision !== null && this.#store.append && held.deltas < this.#compactEvery) {
      // A journal past the checkpoint's size is compacted instead: a
      // reader never loads much more than two checkpoints' worth. A delta
      // that would pass it is not made (its journal ends there).
      const delta = held.engine.deltaWithin(namespace, entity, Math.max(0, held.checkpointBytes - held.journalBytes));
      if (delta !== undefined) {
        const saved = await this.#call("save an entity", (limit) => this.#store.append(namespace, entity, delta, held.revision, limit), { write: true });
        if (saved === null || saved === undefined) return false;
        Object.assign(held, { revision: String(saved), journalBytes: held.journalBytes + delta.length, deltas: held.deltas + 1 });
        return true;
      }
    }
    const bytes = held.engine.checkpoint(namespace, entity);
    const saved = await this.#call("save an entity", (limit) => this.#store.put(namespace, entity, bytes, held.revision, limit), { write: true });
    if (saved === null || saved === undefined) return false;
    Object.assign(held, { revision: String(saved), checkpointBytes: bytes.length, journalBytes: 0, deltas: 0 });
    return true;
  }

  /**
   * Throws `error`, naming the entity when it is missing. The entity's own
   * engine holds it alone, so its `NOT_FOUND` names the namespace; whether
   * the store holds other entities of that namespace only a listing of the
   * store could say, and a read never scans the store (a stream of reads of
   * missing entities would each list them all): `entities(ns)` says it.
   */
  async #asOneEngine(error, namespace, entity) {
    if (error?.code === "NOT_FOUND") throw notFound("entity", `${namespace}/${entity}`);
    throw error;
  }

  async #read(namespace, entity, read) {
    return this.#serially(namespace, entity, async () => read((await this.#load(namespace, entity)).engine));
  }

  /** Whether a step on the held entity changes nothing outside it: no hooks of this process's, no HTTP controllers. */
  #selfContained(namespace, entity, held) {
    const hooks = this.#hooks.get(keyOf(namespace, entity));
    if (hooks?.target || hooks?.monitoring) return false;
    return held.engine.__controllerSettings(namespace, entity, false) === undefined && held.engine.__controllerSettings(namespace, entity, true) === undefined;
  }

  /** The entity in this process, brought up to the store's revision. */
  async #load(namespace, entity) {
    const key = keyOf(namespace, entity);
    const held = this.#loaded.get(key);
    const stored = await this.#call("read an entity", () => this.#store.get(namespace, entity, held?.revision ?? undefined));
    if (stored === undefined || stored === null) {
      // Not in the store (never saved, or deleted by another writer).
      if (held?.revision === null) return this.#touch(key, held);
      this.#drop(key);
      return this.#hold(key, namespace, entity, this.#engine(namespace, entity), null);
    }
    const revision = String(stored.revision);
    if (held !== undefined && revision === held.revision) return this.#touch(key, held);
    if (held !== undefined && held.revision !== null && !stored.bytes && Array.isArray(stored.journal)) {
      // A few deltas behind (another process wrote): the store answered
      // only those, applied here to the entity held.
      if (this.#catchUp(held, stored.journal)) {
        held.revision = revision;
        return this.#touch(key, held);
      }
      // Not applicable after all: read the whole entity.
      this.#drop(key);
      return this.#load(namespace, entity);
    }
    this.#drop(key);
    if (!stored.bytes) {
      throw storeUnavailable("read an entity", new Error(`it answered no state for ${namespace}/${entity} at revision ${revision}`));
    }
    const journal = stored.journal ?? [];
    const loaded = this.#hold(key, namespace, entity, this.#engine(namespace, entity, stored.bytes, journal), revision);
    return Object.assign(loaded, {
      checkpointBytes: stored.bytes.length,
      journalBytes: journal.reduce((sum, delta) => sum + delta.length, 0),
      deltas: journal.length,
    });
  }

  /** Applies `journal` (the deltas missed) to `held`; `false`, with `held` spoilt, when one does not apply. */
  #catchUp(held, journal) {
    try {
      for (const delta of journal) held.engine.applyDelta(delta);
    } catch {
      return false;
    }
    held.journalBytes += journal.reduce((sum, delta) => sum + delta.length, 0);
    held.deltas += journal.length;
    return true;
  }

  #hold(key, namespace, entity, engine, revision) {
    const held = { engine, revision, checkpointBytes: 0, journalBytes: 0, deltas: 0 };
    this.#loaded.set(key, held);
    // Beyond `maxEntities`, the least recently used entity is let go (it
    // is read again from the store when next used).
    for (const oldest of this.#loaded.keys()) {
      if (this.#loaded.size <= this.#maxEntities) break;
      this.#drop(oldest);
    }
    return held;
  }

  /** Marks a loaded entity as the most recently used. */
  #touch(key, held) {
    this.#loaded.delete(key);
    this.#loaded.set(key, held);
    return held;
  }

  /** An engine holding only the entity: restored from its stored checkpoint and journal, or new. */
  #engine(namespace, entity, bytes, journal = []) {
    const options = this.#now === undefined ? undefined : { now: this.#now };
    let engine;
    if (bytes === undefined) {
      engine = new Orchestrator(options);
    } else {
      try {
        engine = Orchestrator.restore(bytes, options);
      } catch (error) {
        throw orchestratorError("INVALID_SNAPSHOT", `the stored state of ${namespace}/${entity} is unreadable: ${error.message}`, error);
      }
      const held = engine.namespaces().flatMap((ns) => engine.entities(ns).map((e) => [ns, e]));
      if (held.length !== 1 || held[0][0] !== namespace || held[0][1] !== entity) {
        engine.free();
        const holds = held.map(([ns, e]) => `${ns}/${e}`).join(", ") || "no entity";
        throw orchestratorError("INVALID_SNAPSHOT", `the stored state of ${namespace}/${entity} holds ${holds}`);
      }
      journal.forEach((delta, i) => {
        try {
          engine.applyDelta(delta);
        } catch (error) {
          engine.free();
          const which = `delta ${i + 1} of ${journal.length} in the journal of ${namespace}/${entity}`;
          throw orchestratorError("INVALID_SNAPSHOT", `the stored state of ${namespace}/${entity} is unreadable: ${which}: ${error.message}`, error);
        }
      });
    }
    engine.useMetrics(this.#metrics);
    // The entity's HTTP controllers are built from its state; this
    // process's own hooks win over them here.
    const hooks = this.#hooks.get(keyOf(namespace, entity));
    if (hooks?.target) engine.__useLocalController(namespace, entity, hooks.target, false);
    if (hooks?.monitoring) engine.__useLocalController(namespace, entity, hooks.monitoring, true);
    return engine;
  }

  /** Forgets a loaded entity, freeing its engine. */
  #drop(key) {
    this.#loaded.get(key)?.engine.free();
    this.#loaded.delete(key);
  }

  #held(namespace, entity) {
    return this.#loaded.get(keyOf(namespace, entity));
  }

  #hook(namespace, entity) {
    const key = keyOf(namespace, entity);
    if (!this.#hooks.has(key)) this.#hooks.set(key, { target: null, monitoring: null });
    return this.#hooks.get(key);
  }

  /** One store call, bounded in time; its failure is `STORE_UNAVAILABLE`. */
  /**
   * `call(deadline)` within the store timeout. A store that takes the
   * deadline (the file store) gives up by itself before it, having written
   * nothing: a definite failure. One that answers nothing in time may still
   * write later: a write then fails with its outcome unknown.
   */
  async #call(what, call, { write = false } = {}) {
    let timer;
    const late = Symbol("late");
    const timeout = new Promise((resolve) => {
      timer = setTimeout(() => resolve(late), this.#timeoutMs);
    });
    // The store's own deadline comes first, so that a wait it can bound
    // (a lock) ends in a definite answer before the timeout.
    const deadline = Date.now() + this.#timeoutMs - Math.min(1000, Math.floor(this.#timeoutMs / 10));
    try {
      const result = await Promise.race([Promise.resolve().then(() => call({ deadline })), timeout]);
      if (result !== late) return result;
    } catch (error) {
      if (error?.corrupt) throw orchestratorError("INVALID_SNAPSHOT", error.message, error);
      throw storeUnavailable(what, error);
    } finally {
      clearTimeout(timer);
    }
    if (write) throw outcomeUnknown(what, this.#timeoutMs);
    throw storeUnavailable(what, new Error(`no answer within ${this.#timeoutMs} ms`));
  }

  /** Runs calls on one entity one at a time, in order. */
  #serially(namespace, entity, run) {
    // A name no store could hold is refused before any store is asked
    // (a file name too long would fail every call, and for good).
    try {
      checkNames(namespace, entity);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#queued(keyOf(namespace, entity), run);
  }

  /** Runs calls under one key one at a time, in order. */
  #queued(key, run) {
    const previous = this.#queues.get(key) ?? Promise.resolve();
    const result = previous.then(run, run);
    const tail = result.catch(() => {});
    this.#queues.set(key, tail);
    tail.then(() => {
      if (this.#queues.get(key) === tail) this.#queues.delete(key);
    });
    return result;
  }

  /**
   * Calls the write `method` (`orchestrate`, `promote`, `abort`...) at most
   * once for idempotency `key`, whichever process holds the entity: the
   * key is saved with the entity in the very write the call makes, so a
   * call retried with it (after a timeout whose outcome is unknown) is not
   * applied again. Resolves `{ replayed, result }`: `replayed` when the key
   * was already applied, with its first result (`undefined` when it was too
   * large to keep: read the entity). A call that changed nothing keeps no
   * key (doing it again changes nothing either).
   */
  applyOnce(key, method, namespace, entity, ...args) {
    return this.#applyOnce(key, method, namespace, entity, args, null);
  }

  /**
   * The writes made as `actor` (a person, a token's name): each event an
   * operator's control logs names it (`actor`), and so does the rollout it
   * concerns (`history()`'s `actions`). Steps are never anyone's. Throws
   * `INVALID_NAME` unless 1 to 200 bytes without control characters.
   *
   *     await rollouts.as("alice").approve("prod", "api");
   */
  as(actor) {
    validated((engine) => engine.setActor(actor));
    const acting = { actor };
    for (const name of WRITES) {
      acting[name] = (namespace, entity, ...args) =>
        this.#stepFacts(name, namespace, entity)
          .then((facts) => this.#write(namespace, entity, (engine) => this.#apply(engine, name, namespace, entity, args, actor, facts), { optimistic: STEPS.includes(name) }))
          .catch((error) => this.#asOneEngine(error, namespace, entity));
    }
    acting.applyOnce = (key, method, namespace, entity, ...args) => this.#applyOnce(key, method, namespace, entity, args, actor);
    const setFreezes = acting.setFreezes;
    acting.setFreezes = (namespace, entity, freezes) =>
      entity === null || entity === undefined ? this.#writeNamespace(namespace, (engine) => engine.setFreezes(namespace, null, freezes), { actor }) : setFreezes(namespace, entity, freezes);
    acting.stopTheLine = (namespace, reason) => this.#writeNamespace(namespace, (engine) => engine.stopTheLine(namespace, reason), { actor });
    acting.startTheLine = (namespace) => this.#writeNamespace(namespace, (engine) => engine.startTheLine(namespace), { actor });
    return Object.freeze(acting);
  }

  #applyOnce(key, method, namespace, entity, args, actor) {
    if (!WRITES.includes(method)) {
      return Promise.reject(orchestratorError("INVALID_ARGUMENT", `applyOnce takes a write (${WRITES.join(", ")}), got ${JSON.stringify(method)}`));
    }
    try {
      if (typeof key !== "string") throw orchestratorError("INVALID_ARGUMENT", "an idempotency key must be a string");
      // Checked before anything is applied: the engine refuses a key it would not keep.
      validated((engine) => {
        engine.setRolloutOptions("key", "check");
        engine.__remember("key", "check", key, "");
      });
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#stepFacts(method, namespace, entity).then((facts) => this.#write(namespace, entity, async (engine) => {
      const known = engine.__appliedAnswer(namespace, entity, key);
      if (known !== undefined) return new Replay(known === "" ? undefined : JSON.parse(known));
      const result = await this.#apply(engine, method, namespace, entity, args, actor, facts);
      if (result === false) return result;
      engine.__remember(namespace, entity, key, JSON.stringify(result ?? null));
      return result;
    }, { optimistic: STEPS.includes(method) })).then(
      (result) => (result instanceof Replay ? { replayed: true, result: result.answer } : { replayed: false, result }),
      (error) => this.#asOneEngine(error, namespace, entity),
    );
  }

  /**
   * Applies the write `method` to `engine`, a control as `actor` (or no
   * one): a step awaits asynchronous hooks (js/hooks/async.mjs).
   */
  async #apply(engine, method, namespace, entity, args, actor = null, facts = null) {
    // Where a template measures is checked as a controller's endpoints are.
    if (method === "setRolloutOptions") for (const [field, url] of providerUrls(normalizeOptions(args[0]))) this.#checkUrl(field, url);
    // So is where a pipeline's verification measures.
    if (method === "setPipeline") {
      const verification = normalizePipeline(args[0])?.verification;
      for (const [field, url] of providerUrls({ analysis: verification })) this.#checkUrl(field.replace(/^analysis/, "pipeline.verification"), url);
    }
    if (!STEPS.includes(method)) {
      engine.setActor(actor);
      try {
        return engine[method](namespace, entity, ...args);
      } finally {
        engine.setActor(null);
      }
    }
    const hooks = { hookTimeoutMs: this.#hookTimeoutMs, concurrency: this.#hookConcurrency };
    // The namespace's freezes and stopped line hold the step as its own do
    // (they are not saved with the entity: its checkpoint and deltas hold
    // the entity alone).
    if (facts !== null && facts.namespace !== null) engine.__adoptNamespace(namespace, facts.namespace);
    const result = await engine[`${method}Async`](namespace, entity, args[0], hooks);
    // A pipeline promotes after the step, on its upstreams' facts as read
    // before it (the compare-and-swap of the save makes it once).
    if (facts?.upstreams) engine.advancePipeline(namespace, entity, facts.upstreams);
    return result;
  }

  /**
   * For a step of an entity this process holds with a pipeline: its
   * upstreams' facts, each read from the store (`null`: no pipeline here,
   * or a fact could not be read: the step promotes nothing this time).
   * Read before the entity's own write, never within it: two entities
   * that name each other wait on nothing.
   */
  async #stepFacts(method, namespace, entity) {
    if (!STEPS.includes(method)) return null;
    const settings = this.#namespaces.bytes(namespace);
    const from = pipelineFrom(this.#held(namespace, entity)?.engine, namespace, entity);
    let upstreams = null;
    if (from !== undefined) {
      try {
        upstreams = await this.#stages.upstreams(from);
      } catch {
        upstreams = null;
      }
    }
    return { upstreams, namespace: await settings };
  }

  /** What the entity tells the entities whose pipelines take their versions from it (`found: false`: the store has no such entity). */
  async upstream(namespace, entity) {
    return this.#read(namespace, entity, (engine) =>
      holds(engine, namespace, entity)
        ? engine.upstream(namespace, entity)
        : { name: `${namespace}/${entity}`, found: false, good: null, goodSince: null, rolling: "", bad: [] },
    );
  }

  /**
   * The entity's pipeline, decided on its upstreams' facts as the store has
   * them now, with `stages`: it and every entity upstream of it (up to
   * 32), upstream first, each with the versions it runs and why it waits.
   */
  async pipeline(namespace, entity) {
    return this.#stages.pipeline(namespace, entity);
  }

  #entityWrite(name, namespace, entity, args) {
    return this.#stepFacts(name, namespace, entity)
      .then((facts) => this.#write(namespace, entity, (engine) => this.#apply(engine, name, namespace, entity, args, null, facts), { optimistic: STEPS.includes(name) }))
      .catch((error) => this.#asOneEngine(error, namespace, entity));
  }

  #entityRead(name, namespace, entity, args) {
    return this.#read(namespace, entity, (engine) => engine[name](namespace, entity, ...args)).catch((error) => this.#asOneEngine(error, namespace, entity));
  }

  static {
    for (const name of WRITES.filter((n) => !NAMESPACE_AWARE.includes(n))) {
      this.prototype[name] = function (namespace, entity, ...args) {
        return this.#entityWrite(name, namespace, entity, args);
      };
    }
    for (const name of READS.filter((n) => !NAMESPACE_AWARE.includes(n))) {
      this.prototype[name] = function (namespace, entity, ...args) {
        return this.#entityRead(name, namespace, entity, args);
      };
    }
  }
}

/** A call already applied under its idempotency key, and what it answered then. */
class Replay {
  constructor(answer) {
    this.answer = answer;
  }
}

/**
 * The entity's snapshot with its HTTP controllers' and notifications'
 * secrets taken out (for a reader: header values, credentials and query
 * strings of endpoints, receivers' paths).
 */
function redacted(engine, namespace, entity) {
  const copy = Orchestrator.restore(engine.snapshot());
  try {
    for (const monitoring of [false, true]) {
      const settings = copy.__controllerSettings(namespace, entity, monitoring);
      if (settings === undefined) continue;
      const controller = redactedController(settings);
      if (monitoring) copy.setMonitoringController(namespace, entity, controller);
      else copy.setTargetController(namespace, entity, controller);
    }
    const notifications = copy.__notificationSettings(namespace, entity);
    if (notifications !== undefined) copy.__setNotificationSettings(namespace, entity, redactedSettings(notifications));
    return copy.snapshot();
  } finally {
    copy.free();
  }
}

/** Runs `use` on a throwaway engine: it throws what the engine would. */
/** Throws the engine's INVALID_NAME for names it would not make (empty, over 200 bytes, control characters). */
function checkNames(namespace, entity) {
  validated((engine) => engine.setRolloutOptions(namespace, entity));
}

function validated(use) {
  const engine = new Orchestrator();
  try {
    use(engine);
  } finally {
    engine.free();
  }
}

/** A short random pause after a conflict, growing with each attempt. */
const jitter = (attempt) => new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(2 ** attempt, 50)));
