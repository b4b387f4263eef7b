// Notifications on `Orchestrator` (the engine in memory): set and read an
// entity's subscriptions, and deliver what its events have for them.
// `Rollouts` delivers by itself; an engine in memory delivers when asked,
// after the steps it takes (see "Notifications" in the README).
import { deliverAll, namespaceSubscriptions, readable, record, setSubscriptions, settleOn } from "./notifier.mjs";
import { redactedSubscription } from "./subscriptions.mjs";

/** This process, as the claims of an engine in memory name it. */
const SELF = "memory";

export function withNotifications(Orchestrator) {
  const proto = Orchestrator.prototype;
  /**
   * Sets the entity's subscriptions (`null` or `[]`: none), or with
   * `entity` `null` those of every entity of the namespace (told of events
   * from now on); answers whether they changed.
   */
  proto.setNotifications = function (namespace, entity, subscriptions) {
    if (entity !== null && entity !== undefined) return setSubscriptions(this, namespace, entity, subscriptions);
    const previous = shared(this, namespace);
    const next = namespaceSubscriptions(previous, subscriptions, undefined, this.__now());
    if (JSON.stringify(next) === JSON.stringify(previous)) return false;
    return this.__setNamespaceNotificationSettings(namespace, next.length ? JSON.stringify({ subscriptions: next }) : null);
  };
  /** The entity's subscriptions (without secrets), what waits, and each one's delivery log; with `entity` `null`, the namespace's subscriptions. */
  proto.notifications = function (namespace, entity) {
    if (entity === null || entity === undefined) return { subscriptions: shared(this, namespace).map(redactedSubscription) };
    return readable(this, namespace, entity);
  };
  /**
   * Delivers what the entity's events since the last call have for its
   * subscriptions, and retries that are due; answers what came of each
   * delivery. `options.fetch` replaces the runtime's.
   */
  proto.deliverNotifications = async function (namespace, entity, { fetch } = {}) {
    const clock = () => this.__now();
    const subs = shared(this, namespace);
    const { deliveries } = record(this, namespace, entity, { now: clock(), by: SELF, shared: subs });
    const results = await deliverAll(namespace, entity, deliveries, { fetch, clock });
    settleOn(this, namespace, entity, results, { now: clock(), by: SELF, shared: subs });
    return results;
  };
}

/** The namespace's subscriptions as the engine keeps them. */
function shared(engine, namespace) {
  const text = engine.__namespaceNotificationSettings(namespace);
  return text === undefined ? [] : JSON.parse(text).subscriptions;
}
