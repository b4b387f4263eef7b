// Posting one notification to its receiver. A delivery never throws: it
// answers what came of it, for the delivery log; and it never says more of
// the receiver than its origin (an incoming webhook's path is its secret).
import { excerpt } from "../hooks/http.mjs";
import { payload } from "./formats.mjs";

/**
 * Posts `entry` (an outbox entry of `namespace`/`entity`) to `sub`.
 * Answers `{ id, ok, status, error, permanent, ms }`: `permanent` when the
 * receiver refused it in a way a retry would not mend (a 4xx other than
 * 408 and 429). The `idempotency-key` header is the same for every attempt
 * of the same notification, for a receiver that wants to see each once
 * even when a process died between its delivery and saying so.
 */
export async function deliver(namespace, entity, sub, entry, { fetch = globalThis.fetch, clock = Date.now } = {}) {
  const started = clock();
  const origin = new URL(sub.url).origin;
  const done = (fields) => ({ id: entry.id, ms: Math.max(0, clock() - started), ...fields });
  const body = payload(sub.format, { namespace, entity, kind: entry.kind, event: entry.event, state: entry.state });
  let response;
  try {
    response = await fetch(sub.url, {
      method: "POST",
      headers: {
        ...(sub.headers ?? {}),
        "content-type": "application/json",
        "idempotency-key": `${namespace}/${entity}/${entry.id}`,
        "user-agent": "orchestrator-engine",
      },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(sub.timeoutMs),
      redirect: "manual",
    });
  } catch (error) {
    const why = error?.name === "TimeoutError" ? `no answer within ${sub.timeoutMs} ms` : excerpt(error?.cause?.code ?? error?.cause?.message ?? error?.message ?? String(error));
    return done({ ok: false, error: `${origin}: ${why}` });
  }
  await response.body?.cancel().catch(() => {});
  const status = response.status;
  if (status >= 200 && status < 300) return done({ ok: true, status });
  const permanent = status >= 400 && status < 500 && status !== 408 && status !== 429;
  const redirect = status >= 300 && status < 400 ? " (redirects are not followed)" : "";
  return done({ ok: false, status, permanent, error: `${origin} answered ${status}${redirect}` });
}
