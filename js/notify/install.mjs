// Notifications on `Orchestrator` (the engine in memory): set and read an
// entity's subscriptions, and deliver what its events have for them.
// `Rollouts` delivers by itself; an engine in memory delivers when asked,
// after the steps it takes (see "Notifications" in the README).
import { deliverAll, readable, record, setSubscriptions, settleOn } from "./notifier.mjs";

/** This process, as the claims of an engine in memory name it. */
const SELF = "memory";

export function withNotifications(Orchestrator) {
  const proto = Orchestrator.prototype;
  /** Sets the entity's subscriptions (`null` or `[]`: none); answers whether they changed. */
  proto.setNotifications = function (namespace, entity, subscriptions) {
    return setSubscriptions(this, namespace, entity, subscriptions);
  };
  /** The entity's subscriptions (without secrets), what waits to be delivered, and each one's delivery log. */
  proto.notifications = function (namespace, entity) {
    return readable(this, namespace, entity);
  };
  /**
   * Delivers what the entity's events since the last call have for its
   * subscriptions, and retries that are due; answers what came of each
   * delivery. `options.fetch` replaces the runtime's.
   */
  proto.deliverNotifications = async function (namespace, entity, { fetch } = {}) {
    const clock = () => this.__now();
    const { deliveries } = record(this, namespace, entity, { now: clock(), by: SELF });
    const results = await deliverAll(namespace, entity, deliveries, { fetch, clock });
    settleOn(this, namespace, entity, results, { now: clock(), by: SELF });
    return results;
  };
}
