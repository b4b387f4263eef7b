// Every entity's events, for every listener at once: while anyone listens,
// one poller reads the store's listing and each entity's new events every
// `pollMs`, and hands each listener what it found. An unchanged entity
// costs a revision check and is not loaded (so the entities the
// controllers use stay in `Rollouts`' cache however many there are). The dashboard's overview follows it
// (GET /v1/orchestrate/events/stream).
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

  /** @param rollouts a `Rollouts`; @param pollMs how often to look for new events */
  constructor(rollouts, pollMs) {
    this.#rollouts = rollouts;
    this.#pollMs = pollMs;
  }

  /** Calls `listen(message)` with what the feed finds until the answered function is called. */
  subscribe(listen) {
    const listener = { listen };
    this.#listeners.add(listener);
    for (const { namespace, entity, seq } of this.#known.values()) listen({ type: "entity", namespace, entity, seq });
    this.#run();
    return () => this.#listeners.delete(listener);
  }

  /** Stops polling and drops every listener. */
  close() {
    this.#listeners.clear();
    clearTimeout(this.#timer);
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
        await this.#poll();
        if (this.#listeners.size === 0) break;
        await new Promise((resolve) => {
          this.#wake = resolve;
          this.#timer = setTimeout(resolve, this.#pollMs);
        });
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
