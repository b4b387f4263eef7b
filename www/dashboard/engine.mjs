// The page's side of engine.worker.mjs: a long-lived worker for the
// entity views, and one worker per what-if run (cancelled by ending it).

const WORKER = new URL("./engine.worker.mjs", import.meta.url);

/** Sends `message` to `worker`; resolves with its answer (progress to `onProgress`), rejects with its error's code and message. */
function ask(worker, message, onProgress) {
  const id = ask.next = (ask.next ?? 0) + 1;
  return new Promise((resolve, reject) => {
    const listen = ({ data }) => {
      if (data.id !== id) return;
      if (data.progress) return onProgress?.(data.progress);
      worker.removeEventListener("message", listen);
      if (data.ok) resolve(data.answer);
      else reject(Object.assign(new Error(data.message), { code: data.code }));
    };
    worker.addEventListener("message", listen);
    worker.addEventListener("error", (event) => reject(new Error(`the engine worker failed: ${event.message}`)), { once: true });
    worker.postMessage({ ...message, id });
  });
}

let viewer = null;

/** The entity as the page shows it, from its snapshot (see engine.worker.mjs). */
export function entityView(bytes, namespace, entity) {
  viewer ??= new Worker(WORKER, { type: "module" });
  return ask(viewer, { type: "view", bytes, namespace, entity, nowMs: Date.now() });
}

/** A what-if run from the snapshot: `{ result, cancel }`. */
export function whatIf(bytes, namespace, entity, scenario, onProgress) {
  const worker = new Worker(WORKER, { type: "module" });
  let cancel;
  const cancelled = new Promise((_, reject) => {
    cancel = () => reject(Object.assign(new Error("cancelled"), { code: "CANCELLED" }));
  });
  const result = Promise.race([ask(worker, { type: "whatIf", bytes, namespace, entity, nowMs: Date.now(), scenario }, onProgress), cancelled]).finally(() => worker.terminate());
  return { result, cancel };
}
