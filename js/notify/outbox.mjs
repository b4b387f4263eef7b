// What an entity keeps of its notifications, in its own state (so every
// process holding the entity sees the same, and changes it only by the
// entity's compare-and-swap): its subscriptions; the last event read
// (`cursor`); the outbox, one entry per event and subscription not yet
// delivered, each claimed by at most one process at a time (`claim`: who,
// until when); and each subscription's delivery log. These functions
// change that state and nothing else: the caller reads and saves it.

import { kindOf } from "./kinds.mjs";

/** Delivery-log entries kept per subscription. */
export const LOG_ENTRIES = 20;
/** Undelivered notifications kept per entity; past them the oldest are dropped (and logged). */
export const OUTBOX_ENTRIES = 200;
/** An event's detail as kept for delivery. */
const DETAIL_CHARS = 500;
/** The first retry's delay; each next one doubles, up to `MAX_BACKOFF_MS`. */
export const FIRST_BACKOFF_MS = 1000;
export const MAX_BACKOFF_MS = 5 * 60_000;

export const emptyState = () => ({ subscriptions: [], cursor: 0, outbox: [], log: {} });

export function parseState(text) {
  return text === undefined ? emptyState() : { ...emptyState(), ...JSON.parse(text) };
}

/**
 * Replaces the subscriptions: a subscription kept by name keeps its log
 * and its undelivered notifications; one removed loses them. Events
 * before `cursor` are never sent to a new subscription.
 */
export function subscribe(state, subscriptions, cursor) {
  // A namespace's subscriptions ("namespace:" names) are not the entity's to drop.
  const names = new Set(subscriptions.map((s) => s.name));
  const kept = (name) => names.has(name) || name.startsWith("namespace:");
  const log = Object.fromEntries(Object.entries(state.log).filter(([name]) => kept(name)));
  const outbox = state.outbox.filter((entry) => kept(entry.sub));
  const subscribed = state.subscriptions.length > 0 || state.cursor > 0 ? state.cursor : cursor;
  return { ...state, subscriptions, outbox, log, cursor: Math.max(subscribed, 0) };
}

/**
 * Puts in the outbox each event after the cursor that a subscription
 * asked for (`events`: the entity's, oldest first), with the entity's
 * state; answers whether anything changed. Events that left the entity's
 * log before they were read are logged as missed.
 */
export function collect(state, events, entityState, now, subscriptions = state.subscriptions) {
  const fresh = events.filter((e) => e.seq > state.cursor);
  if (fresh.length === 0) return false;
  if (subscriptions.length > 0 && state.cursor > 0 && fresh[0].seq > state.cursor + 1) {
    const missed = `events ${state.cursor + 1} to ${fresh[0].seq - 1} left the entity's event log (maxEvents) before they were read`;
    for (const sub of subscriptions) note(state, sub.name, { at: now, outcome: "missed", error: missed });
  }
  for (const event of fresh) {
    const kind = kindOf(event);
    if (kind === undefined) continue;
    for (const sub of subscriptions) {
      // A namespace's subscription hears of what happened since it was set.
      if (!sub.kinds.includes(kind) || event.time < (sub.since ?? -Infinity)) continue;
      const kept = { seq: event.seq, time: event.time, kind: event.kind, version: event.version, detail: event.detail.slice(0, DETAIL_CHARS) };
      if (event.actor) kept.actor = event.actor;
      state.outbox.push({ id: `${event.seq}/${sub.name}`, sub: sub.name, kind, event: kept, state: entityState, attempts: 0, next: now, claim: null });
    }
  }
  state.cursor = fresh.at(-1).seq;
  while (state.outbox.length > OUTBOX_ENTRIES) {
    const dropped = state.outbox.shift();
    note(state, dropped.sub, { seq: dropped.event.seq, kind: dropped.kind, at: now, outcome: "dropped", attempts: dropped.attempts, error: `more than ${OUTBOX_ENTRIES} notifications waited` });
  }
  return true;
}

/**
 * Claims for `by` until `now + leaseMs` every entry due and not claimed
 * by another process whose claim still runs; answers them.
 */
export function claim(state, by, now, leaseMs) {
  const claimed = [];
  for (const entry of state.outbox) {
    if (entry.next > now) continue;
    if (entry.claim && entry.claim.until > now && entry.claim.by !== by) continue;
    if (entry.claim?.by === by && entry.claim.until > now) continue; // this process is at it already
    entry.claim = { by, until: now + leaseMs };
    claimed.push(entry);
  }
  return claimed;
}

/**
 * Records what delivering claimed entries came to (`results`: `{ id, ok,
 * status, error, permanent, ms }`): a delivered one leaves the outbox; a
 * failed one waits its backoff, or leaves it after its last attempt or a
 * refusal that no retry mends. Answers whether anything changed.
 */
export function settle(state, results, by, now, subscriptions = state.subscriptions) {
  let changed = false;
  for (const result of results) {
    const i = state.outbox.findIndex((entry) => entry.id === result.id);
    if (i < 0) continue; // settled already (by this process or, its claim run out, another)
    const entry = state.outbox[i];
    const sub = subscriptions.find((s) => s.name === entry.sub);
    const attempts = entry.attempts + 1;
    const logged = { seq: entry.event.seq, kind: entry.kind, at: now, attempts, ms: result.ms };
    if (result.status !== undefined) logged.status = result.status;
    if (result.ok) {
      state.outbox.splice(i, 1);
      note(state, entry.sub, { ...logged, outcome: "delivered" });
    } else if (entry.claim?.by !== by && entry.claim?.until > now) {
      continue; // another process has it now: its attempt counts, not this one
    } else if (result.permanent || attempts >= (sub?.maxAttempts ?? 1)) {
      state.outbox.splice(i, 1);
      note(state, entry.sub, { ...logged, outcome: "failed", error: result.error });
    } else {
      Object.assign(entry, { attempts, next: now + backoff(attempts), claim: null, error: result.error });
      note(state, entry.sub, { ...logged, outcome: "retrying", error: result.error });
    }
    changed = true;
  }
  return changed;
}

/** The delay before attempt `attempts + 1`: doubling from a second, up to 5 minutes, with up to a quarter more at random. */
export function backoff(attempts) {
  const base = Math.min(FIRST_BACKOFF_MS * 2 ** (attempts - 1), MAX_BACKOFF_MS);
  return Math.round(base * (1 + Math.random() / 4));
}

/** When the next entry falls due (`undefined`: none waits). */
export function nextDue(state) {
  return state.outbox.length === 0 ? undefined : Math.min(...state.outbox.map((e) => Math.max(e.next, e.claim?.until ?? 0)));
}

function note(state, sub, entry) {
  const log = (state.log[sub] ??= []);
  log.push(entry);
  if (log.length > LOG_ENTRIES) log.splice(0, log.length - LOG_ENTRIES);
}
