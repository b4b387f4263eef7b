// Notifications on an engine: the subscriptions, outbox and delivery log
// an entity keeps (outbox.mjs) read from and written to its state, and
// delivered (deliver.mjs). `Rollouts` records and claims inside the very
// write that made the events, delivers after it is saved and settles in a
// write of its own; `Orchestrator#deliverNotifications` does the same on
// one engine in memory.
import { deliver } from "./deliver.mjs";
import { claim, collect, nextDue, parseState, settle, subscribe } from "./outbox.mjs";
import { normalizeSubscriptions, redactedSubscription } from "./subscriptions.mjs";

/** How long a claim lasts past a delivery's own time limit. */
const LEASE_MARGIN_MS = 30_000;

const read = (engine, namespace, entity) => parseState(engine.__notificationSettings(namespace, entity));

/** The most bytes an entity keeps (the engine's limit). */
const MAX_BYTES = 64 * 1024;
const bytes = (text) => new TextEncoder().encode(text).length;

/**
 * Saves `state` in the entity; answers whether that changed it. State
 * that would pass the engine's limit loses the oldest of its logs, then
 * of its outbox (a step never fails for want of room for its news).
 */
function write(engine, namespace, entity, state) {
  if (state.subscriptions.length === 0 && state.outbox.length === 0 && Object.keys(state.log).length === 0 && state.cursor === 0) {
    return engine.__setNotificationSettings(namespace, entity, null);
  }
  let text = JSON.stringify(state);
  for (let keep = 5; bytes(text) > MAX_BYTES && keep >= 0; keep--) {
    for (const log of Object.values(state.log)) log.splice(0, Math.max(0, log.length - keep));
    text = JSON.stringify(state);
  }
  while (bytes(text) > MAX_BYTES && state.outbox.length > 0) {
    state.outbox.splice(0, Math.ceil(state.outbox.length / 4));
    text = JSON.stringify(state);
  }
  return engine.__setNotificationSettings(namespace, entity, text);
}

/** The entity's last event (0: none, or no entity yet). */
function lastSeq(engine, namespace, entity) {
  if (!holds(engine, namespace, entity)) return 0;
  return engine.events(namespace, entity).at(-1)?.seq ?? 0;
}

/** Sets the entity's subscriptions; answers whether they changed. */
export function setSubscriptions(engine, namespace, entity, subscriptions, checkUrl) {
  const normalized = normalizeSubscriptions(subscriptions, checkUrl);
  const state = read(engine, namespace, entity);
  if (JSON.stringify(state.subscriptions) === JSON.stringify(normalized)) return false;
  return write(engine, namespace, entity, subscribe(state, normalized, lastSeq(engine, namespace, entity)));
}

/** Adds a subscription, or replaces the one of its name; answers whether that changed them. */
export function putSubscription(engine, namespace, entity, subscription, checkUrl) {
  const others = read(engine, namespace, entity).subscriptions.filter((s) => s.name !== subscription?.name);
  return setSubscriptions(engine, namespace, entity, [...others, subscription], checkUrl);
}

/** Removes the subscription named `name`; answers whether there was one. */
export function removeSubscription(engine, namespace, entity, name) {
  const state = read(engine, namespace, entity);
  const others = state.subscriptions.filter((s) => s.name !== name);
  if (others.length === state.subscriptions.length) return false;
  return write(engine, namespace, entity, subscribe(state, others, lastSeq(engine, namespace, entity)));
}

/** What a reader may see: subscriptions without secrets, what waits, each one's delivery log. */
export function readable(engine, namespace, entity) {
  const state = read(engine, namespace, entity);
  return {
    subscriptions: state.subscriptions.map(redactedSubscription),
    pending: state.outbox.map(({ id, sub, kind, event, attempts, next, error }) => ({ id, subscription: sub, kind, seq: event.seq, attempts, next, ...(error ? { error } : {}) })),
    log: state.log,
  };
}

/** Kept notification settings with the subscriptions' secrets taken out, for a redacted export. */
export function redactedSettings(text) {
  const state = parseState(text);
  return JSON.stringify({ ...state, subscriptions: state.subscriptions.map(redactedSubscription) });
}

/**
 * Within a write of the entity: puts its new events in the outbox and
 * claims what is due for `by`. Answers `{ changed, deliveries }`: whether
 * that changed the entity, and the claimed deliveries, each with its
 * subscription, to deliver once the write is saved.
 */
export function record(engine, namespace, entity, { now, by, shared = [] }) {
  const text = engine.__notificationSettings(namespace, entity);
  if (text === undefined && (shared.length === 0 || !holds(engine, namespace, entity))) return { changed: false, deliveries: [] };
  let state;
  try {
    state = parseState(text);
  } catch {
    return { changed: false, deliveries: [] }; // not this package's (no step fails for it)
  }
  const subscriptions = every(state, shared);
  let changed = false;
  if (subscriptions.length > 0) {
    const events = engine.events(namespace, entity, { since: state.cursor });
    if (events.length > 0) {
      const info = engine.rolloutInfo(namespace, entity);
      const { targetVersion, rollingVersion, lastKnownGoodVersion, lastKnownBadVersion, phase, paused, step, targets } = info;
      changed = collect(state, events, { targetVersion, rollingVersion, lastKnownGoodVersion, lastKnownBadVersion, phase, paused, step, targets }, now, subscriptions);
    }
  }
  const leaseMs = (sub) => sub.timeoutMs + LEASE_MARGIN_MS;
  const longest = Math.max(0, ...subscriptions.map(leaseMs));
  const claimed = claim(state, by, now, longest);
  if (changed || claimed.length > 0) changed = write(engine, namespace, entity, state);
  const deliveries = claimed.map((entry) => ({ entry, sub: subscriptions.find((s) => s.name === entry.sub) })).filter((d) => d.sub !== undefined);
  return { changed, deliveries };
}

/** The prefix of a namespace's subscriptions among an entity's (a name of either has no ":"). */
const SHARED = "namespace:";

/** The entity's subscriptions and its namespace's (`shared`), the latter named `namespace:{name}`. */
function every(state, shared) {
  return [...state.subscriptions, ...shared.map((sub) => ({ ...sub, name: `${SHARED}${sub.name}` }))];
}

/** Whether `engine` holds the entity. */
export function holds(engine, namespace, entity) {
  return engine.namespaces().includes(namespace) && engine.entities(namespace).includes(entity);
}

/**
 * A namespace's subscriptions as its record keeps them (JSON): each set
 * with `since`, the time from which its events are told (none before).
 */
export function namespaceSubscriptions(previous, subscriptions, checkUrl, now) {
  const normalized = normalizeSubscriptions(subscriptions, checkUrl);
  const before = new Map((previous ?? []).map((s) => [s.name, s]));
  return normalized.map((sub) => {
    const kept = before.get(sub.name);
    const { since: _, ...was } = kept ?? {};
    return { ...sub, since: kept && JSON.stringify(was) === JSON.stringify(sub) ? kept.since : now };
  });
}

/**
 * Delivers claimed notifications: each subscription's one after another,
 * in the order of the events (a channel reads "rolled back" after "version
 * bad"), the subscriptions at once; answers what came of each.
 */
export async function deliverAll(namespace, entity, deliveries, options) {
  const bySubscription = new Map();
  for (const delivery of [...deliveries].sort((a, b) => a.entry.event.seq - b.entry.event.seq)) {
    if (!bySubscription.has(delivery.sub.name)) bySubscription.set(delivery.sub.name, []);
    bySubscription.get(delivery.sub.name).push(delivery);
  }
  const results = await Promise.all(
    [...bySubscription.values()].map(async (list) => {
      const done = [];
      for (const { sub, entry } of list) done.push(await deliver(namespace, entity, sub, entry, options));
      return done;
    }),
  );
  return results.flat();
}

/** Within a write of the entity: records what the deliveries came to; answers whether that changed it. */
export function settleOn(engine, namespace, entity, results, { now, by, shared = [] }) {
  const text = engine.__notificationSettings(namespace, entity);
  if (text === undefined || results.length === 0) return false;
  const state = parseState(text);
  return settle(state, results, by, now, every(state, shared)) && write(engine, namespace, entity, state);
}

/** When the entity's next notification falls due (`undefined`: none waits). */
export function dueAt(engine, namespace, entity) {
  return nextDue(read(engine, namespace, entity));
}
