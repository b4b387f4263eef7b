// Delivering the notifications a Rollouts write claimed: after the write
// is saved, never holding up its caller; then recording what came of them
// in a write of the entity's own, and sweeping again when a retry falls
// due. The claims themselves are made in the writes (js/notify/notifier.mjs).
import { deliverAll, dueAt, settleOn } from "../notify/notifier.mjs";
import { entityKey as keyOf } from "../stores/names.mjs";

export class Deliveries {
  #write;
  #clock;
  #shared;
  #by;
  /** Deliveries under way (with the write that settles them). */
  #running = new Set();
  /** A retry's timer per entity, while one waits. */
  #timers = new Map();

  /**
   * @param {object} options
   * @param {Function} options.write a write of the entity (Rollouts' `#write`)
   * @param {() => number} options.clock the engines' clock
   * @param {(namespace: string) => Promise<object[]>} options.shared the namespace's subscriptions
   * @param {string} options.by this process, as its claims name it
   */
  constructor({ write, clock, shared, by }) {
    this.#write = write;
    this.#clock = clock;
    this.#shared = shared;
    this.#by = by;
  }

  /** Delivers what a saved write claimed, in the background. */
  deliver(namespace, entity, deliveries) {
    if (deliveries.length === 0) return;
    const run = this.settle(namespace, entity, deliveries).catch(() => {
      // The store failed the settling write: the claims run out and the
      // deliveries are made again (the receiver sees the same idempotency key).
    });
    this.#running.add(run);
    run.finally(() => this.#running.delete(run));
  }

  /** Claims what is due for the entity (a write that changes nothing else), delivers it and settles it. */
  async sweep(namespace, entity) {
    let deliveries = [];
    await this.#write(namespace, entity, () => false, { deliver: (claimed) => (deliveries = claimed) });
    return this.settle(namespace, entity, deliveries);
  }

  /** Delivers, then records what came of it in a write of its own; a retry that falls due is swept then. */
  async settle(namespace, entity, deliveries) {
    if (deliveries.length === 0) return [];
    const results = await deliverAll(namespace, entity, deliveries, { clock: this.#clock });
    const shared = await this.#shared(namespace);
    let due;
    await this.#write(namespace, entity, (engine) => {
      const changed = settleOn(engine, namespace, entity, results, { now: this.#clock(), by: this.#by, shared });
      due = dueAt(engine, namespace, entity);
      return changed ? undefined : false;
    });
    this.#retryAt(namespace, entity, due);
    return results;
  }

  /** Resolves once every delivery under way is delivered and settled. */
  async settled() {
    while (this.#running.size > 0) await Promise.allSettled([...this.#running]);
  }

  /** Sweeps the entity again when its next notification falls due. */
  #retryAt(namespace, entity, due) {
    const key = keyOf(namespace, entity);
    clearTimeout(this.#timers.get(key));
    this.#timers.delete(key);
    if (due === undefined) return;
    const timer = setTimeout(() => {
      this.#timers.delete(key);
      this.sweep(namespace, entity).catch(() => {});
    }, Math.min(Math.max(0, due - this.#clock()) + 10, 2 ** 31 - 1));
    timer.unref?.();
    this.#timers.set(key, timer);
  }
}
