// How stores name an entity, shared by every store.

/** One string for an entity, unambiguous for any namespace and name. */
export const entityKey = (namespace, entity) => JSON.stringify([namespace, entity]);

/** The `[namespace, entity]` an `entityKey` was made from. */
export const fromEntityKey = (key) => JSON.parse(key);

/** Orders `[namespace, entity]` pairs by namespace, then entity. */
export function byName([a, b], [c, d]) {
  return a < c ? -1 : a > c ? 1 : b < d ? -1 : b > d ? 1 : 0;
}

/**
 * The entity name under which `Rollouts` keeps a namespace's own settings
 * (its freezes, its stopped line) beside its entities: a name no entity can
 * have (it holds a control character), left out of every listing.
 */
export const NAMESPACE_RECORD = "\u0001namespace";

/** The entity name under which `Rollouts` keeps a namespace's notification subscriptions (JSON), as `NAMESPACE_RECORD`. */
export const NAMESPACE_NOTIFICATIONS = "\u0001notifications";

/** Whether `entity` names one of a namespace's own records rather than an entity. */
export const isNamespaceRecord = (entity) => entity.startsWith("\u0001");
