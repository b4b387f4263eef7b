// Every entity's events, for every listener at once. Where the store tells
// of its changes (`watch`: Redis pub/sub, PostgreSQL LISTEN/NOTIFY, a file
// or memory store within its process, a Durable Object's own writes), one
// subscription serves every listener: an entity is read when it changed,
// and everything again only when the store says changes may have been
// missed, or every SAFETY_MS in case a notice was lost; an idle store costs
// nothing. Where it cannot tell, one poller reads the listing and each
// entity's new events every `pollMs`. Either way an unchanged entity costs
// at most a revision check and is not loaded (so the entities the
// controllers use stay in `Rollouts`' cache however many there are). The
// dashboard's overview follows it (GET /v1/orchestrate/events/stream), and
// each entity's stream waits on it (`changed`) instead of polling alone.
//
// What a listener gets, in order:
//   { type: "entity", namespace, entity, seq }   an entity is there (at once
//                                                for those known, then as found)
//   { type: "event", namespace, entity, event }  an event it logged
//   { type: "removed", namespace, entity }        it is gone from the store
//   { type: "unavailable", code, message }        the store failed a poll (once
//                                                per outage; polling goes on)

import { entityKey as key } from "../stores/names.mjs";

const PAGE = 1000;
/**
 * Where the store pushes changes, how often everything is read anyway, in
 * case a notice was lost: a reconnect already says so (and everything is
 * read then), so this is a backstop, kept rare because it reads every
 * entity's revision (0.05-0.26 s of CPU per 1,000 entities, measured on
 * PostgreSQL and the file store).
 */
export const SAFETY_MS = 5 * 60_000;

export class EventFeed {
  #rollouts;
  #pollMs;
  /** Each known entity's last seq handed on, while anyone listens. */
  #known = new Map();
  #listeners = new Set();
  #running = false;
  #outage = false;
  #wake = null;
  #timer = null;
  /** The store's subscription while anyone follows (`null`: none; `false`: the store cannot push). */
  #unwatch = null;
  /** Entities that changed since they were last read (keys); `#all`: read everything. */
  #dirty = new Set();
  #all = true;
  /** Each entity's streams waiting for it to change: key -> Set of wake functions. */
  #waiting = new Map();

  /** @param rollouts a `Rollouts`; @param pollMs how often to look for new events */
  constructor(rollouts, pollMs) {
    this.#rollouts = rollouts;
    this.#pollMs = pollMs;
  }

  /** Calls `listen(message)` with what the feed finds until the answered function is called. */
  subscribe(listen) {
    const listener = { listen };
    this.#listeners.add(listener);
    this.#watch();
    for (const { namespace, entity, seq } of this.#known.values()) listen({ type: "entity", namespace, entity, seq });
    this.#run();
    return () => {
      this.#listeners.delete(listener);
      this.#unwatchIfIdle();
    };
  }

  /** Whether the store pushes its changes (then `changed` waits for them rather than polling). */
  get pushed() {
    this.#watch();
    return typeof this.#unwatch === "function";
  }

  /**
   * Resolves `true` once `namespace/entity` may have changed (as the store
   * tells it: every stream of the entity shares the one subscription),
   * `false` after `ms` without a change (where the store cannot tell, after
   * `ms` regardless), or at once when `signal` aborts.
   */
  changed(namespace, entity, ms, signal) {
    this.#watch();
    if (this.#unwatch === false) return new Promise((resolve) => setTimeout(() => resolve(false), ms));
    const k = key(namespace, entity);
    return new Promise((resolve) => {
      const waiting = this.#waiting.get(k) ?? this.#waiting.set(k, new Set()).get(k);
      let timer;
      const done = (result) => {
        clearTimeout(timer);
        signal?.removeEventListener?.("abort", aborted);
        waiting.delete(done);
        if (waiting.size === 0) this.#waiting.delete(k);
        this.#unwatchIfIdle();
        resolve(result);
      };
      const aborted = () => done(false);
      waiting.add(done);
      timer = setTimeout(() => done(false), ms);
      signal?.addEventListener?.("abort", aborted);
    });
  }

  /** Stops polling and drops every listener. */
  close() {
    this.#listeners.clear();
    clearTimeout(this.#timer);
    this.#wake?.();
    for (const waiting of [...this.#waiting.values()]) for (const done of [...waiting]) done(false);
    this.#unwatchIfIdle();
  }

  /** Subscribes to the store's changes, once, if it can tell of them. */
  #watch() {
    if (this.#unwatch !== null) return;
    this.#unwatch = this.#rollouts.watch((namespace, entity) => this.#changedIn(namespace, entity)) ?? false;
  }

  #unwatchIfIdle() {
    if (this.#listeners.size > 0 || this.#waiting.size > 0 || typeof this.#unwatch !== "function") return;
    this.#unwatch();
    this.#unwatch = null;
    this.#all = true;
  }

  /** The store says `namespace/entity` changed (`null`: anything may have). */
  #changedIn(namespace, entity) {
    if (namespace === null) {
      this.#all = true;
      for (const waiting of [...this.#waiting.values()]) for (const done of [...waiting]) done(true);
    } else {
      const k = key(namespace, entity);
      this.#dirty.add(k);
      for (const done of [...(this.#waiting.get(k) ?? [])]) done(true);
    }
    this.#wake?.();
  }

  #send(message) {
    for (const { listen } of this.#listeners) listen(message);
  }

  async #run() {
    if (this.#running) return;
    this.#running = true;
    try {
      while (this.#listeners.size > 0) {
        const pushed = typeof this.#unwatch === "function";
        const dirty = this.#dirty;
        this.#dirty = new Set();
        if (!pushed || this.#all) {
          this.#all = false;
          await this.#poll();
        } else {
          for (const k of dirty) await this.#followKey(k);
        }
        if (this.#listeners.size === 0) break;
        if (this.#dirty.size > 0 || (pushed && this.#all)) continue;
        const safety = await new Promise((resolve) => {
          this.#wake = () => resolve(false);
          // While the store fails, try again as often as a poller would.
          this.#timer = setTimeout(() => resolve(true), pushed && !this.#outage ? SAFETY_MS : this.#pollMs);
        });
        clearTimeout(this.#timer);
        this.#wake = null;
        if (safety && pushed) this.#all = true;
      }
    } finally {
      // Nobody listens: the next listener starts from what is there then.
      this.#known.clear();
      this.#running = false;
      this.#wake = null;
    }
  }

  async #poll() {
    let listed;
    try {
      listed = await this.#rollouts.list();
    } catch (error) {
      if (!this.#outage) this.#send({ type: "unavailable", code: error.code ?? "STORE_UNAVAILABLE", message: error.message });
      this.#outage = true;
      return;
    }
    this.#outage = false;
    const present = new Set();
    for (const [namespace, entity] of listed) {
      if (this.#listeners.size === 0) return;
      present.add(key(namespace, entity));
      try {
        await this.#follow(namespace, entity);
      } catch {
        // Unreadable now (the store failed, or its state is damaged): read again next poll.
      }
    }
    for (const [k, { namespace, entity }] of this.#known) {
      if (present.has(k)) continue;
      this.#known.delete(k);
      this.#send({ type: "removed", namespace, entity });
    }
  }

  /** Reads one entity the store said changed (it may be new, or gone). */
  async #followKey(k) {
    const [namespace, entity] = JSON.parse(k);
    try {
      if ((await this.#rollouts.revision(namespace, entity)) === undefined) {
        if (this.#known.delete(k)) this.#send({ type: "removed", namespace, entity });
        return;
      }
      await this.#follow(namespace, entity);
    } catch (error) {
      if (error?.code === "STORE_UNAVAILABLE" || error?.code === "OUTCOME_UNKNOWN") this.#all = true;
    }
  }

  /** Hands on an entity's events since the last poll; a new entity is announced with its last seq. */
  async #follow(namespace, entity) {
    const k = key(namespace, entity);
    let known = this.#known.get(k);
    if (!known) {
      const revision = await this.#rollouts.revision(namespace, entity);
      const kept = await this.#rollouts.events(namespace, entity);
      known = { namespace, entity, seq: kept.at(-1)?.seq ?? 0, revision };
      this.#known.set(k, known);
      this.#send({ type: "entity", namespace, entity, seq: known.seq });
      return;
    }
    const revision = await this.#rollouts.revision(namespace, entity, known.revision);
    if (revision === known.revision) return;
    for (;;) {
      const events = await this.#rollouts.events(namespace, entity, { since: known.seq, limit: PAGE });
      for (const event of events) this.#send({ type: "event", namespace, entity, event });
      if (events.length > 0) known.seq = events.at(-1).seq;
      if (events.length < PAGE) break;
    }
    // Events logged after the revision was read are found now, and the
    // next poll reads again (seqs keep anything from being sent twice).
    known.revision = revision;
  }
}
