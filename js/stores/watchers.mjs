// Who is told when a store's entities change: the listeners of one store,
// and the subscription that brings changes made elsewhere (another process,
// another replica), opened for the first listener and closed after the
// last. A subscription that fails or breaks tells every listener that
// changes may have been missed, and is opened again, later each time (up
// to RETRY_MAX_MS). Shared by every store that pushes changes.

const RETRY_MS = 500;
const RETRY_MAX_MS = 30_000;

/**
 * The listeners of one store. `open(changed, broken)` starts the
 * subscription to changes made elsewhere, calling `changed(namespace,
 * entity)` for each (`changed(null, null)`: read everything again), and
 * `broken()` once it stops delivering; it answers the function that ends
 * it (or nothing, where there is no elsewhere).
 */
export class Watchers {
  #listeners = new Set();
  #open;
  /** The subscription's end function, once open (a promise of it). */
  #current = null;
  #retryMs = RETRY_MS;
  #retry = null;

  /** @param open see the class */
  constructor(open = () => undefined) {
    this.#open = open;
  }

  /** Calls `listener(namespace, entity)` on each change until the answered function is called. */
  watch(listener) {
    const entry = { listener };
    this.#listeners.add(entry);
    if (this.#listeners.size === 1) this.#start();
    return () => {
      if (!this.#listeners.delete(entry) || this.#listeners.size > 0) return;
      clearTimeout(this.#retry);
      this.#end();
    };
  }

  /** Whether anyone listens. */
  get listening() {
    return this.#listeners.size > 0;
  }

  /** Tells every listener that `namespace/entity` changed (after the write that changed it). */
  changed(namespace, entity) {
    for (const { listener } of this.#listeners) {
      try {
        listener(namespace, entity);
      } catch {
        // One listener's failure is its own.
      }
    }
  }

  #start() {
    let broke = false;
    const broken = () => {
      if (broke) return;
      broke = true;
      this.#lost();
    };
    this.#current = Promise.resolve()
      .then(() => this.#open((namespace, entity) => this.changed(namespace, entity), broken))
      .then((end) => {
        this.#retryMs = RETRY_MS;
        return end;
      })
      .catch(() => {
        broken();
        return undefined;
      });
  }

  #end() {
    const current = this.#current;
    this.#current = null;
    Promise.resolve(current)
      .then((end) => end?.())
      .catch(() => {});
  }

  /** The subscription stopped delivering: say so, and open it again later. */
  #lost() {
    this.changed(null, null);
    this.#end();
    clearTimeout(this.#retry);
    this.#retry = setTimeout(() => {
      if (this.#listeners.size > 0) this.#start();
    }, this.#retryMs);
    this.#retry.unref?.();
    this.#retryMs = Math.min(this.#retryMs * 2, RETRY_MAX_MS);
  }
}
