// Subscriptions as people write them, checked and made canonical, and as
// a reader may see them (without secrets: an incoming webhook's URL is
// itself the secret that lets anyone post to the channel).
import { describe, orchestratorError } from "../errors.mjs";
import { httpHeaders, httpUrl, requestTimeout } from "../hooks/http.mjs";
import { DEFAULT_KINDS, KINDS } from "./kinds.mjs";

/** The receivers' formats (formats.mjs). */
export const FORMATS = ["webhook", "slack", "teams", "discord"];
/** The most subscriptions an entity keeps. */
export const MAX_SUBSCRIPTIONS = 16;
/** The most attempts a subscription may ask for one delivery. */
export const MAX_ATTEMPTS = 20;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const FIELDS = ["name", "url", "format", "kinds", "headers", "timeoutMs", "maxAttempts"];

const invalid = (field, reason) => orchestratorError("INVALID_ARGUMENT", `invalid ${field}: ${reason}`);

/**
 * `subscriptions` (a list; `null` or `[]` for none) checked and made
 * canonical; `checkUrl(field, url)` throws for a host this process may not
 * call (the allow-list of HTTP controllers).
 */
export function normalizeSubscriptions(subscriptions, checkUrl = () => {}) {
  if (subscriptions === null || subscriptions === undefined) return [];
  if (!Array.isArray(subscriptions)) throw invalid("subscriptions", `must be a list of subscriptions, got ${describe(subscriptions)}`);
  if (subscriptions.length > MAX_SUBSCRIPTIONS) throw invalid("subscriptions", `an entity keeps at most ${MAX_SUBSCRIPTIONS}, got ${subscriptions.length}`);
  const names = new Set();
  return subscriptions.map((sub, i) => {
    const at = `subscriptions[${i}]`;
    if (sub === null || typeof sub !== "object" || Array.isArray(sub)) throw invalid(at, `must be an object like { name, url, format, kinds }, got ${describe(sub)}`);
    for (const key of Object.keys(sub)) {
      if (!FIELDS.includes(key)) throw invalid(`${at}.${key}`, `is not a field of a subscription; its fields are ${FIELDS.join(", ")}`);
    }
    const { name, url, format = "webhook", kinds = DEFAULT_KINDS, headers = {}, timeoutMs = 10_000, maxAttempts = 6 } = sub;
    if (typeof name !== "string" || !NAME.test(name)) throw invalid(`${at}.name`, `must be 1 to 64 letters, digits, ".", "_" or "-", got ${describe(name)}`);
    if (names.has(name)) throw invalid(`${at}.name`, `${JSON.stringify(name)} names two subscriptions`);
    names.add(name);
    const href = httpUrl(`${at}.url`, url);
    checkUrl(`${at}.url`, href);
    if (!FORMATS.includes(format)) throw invalid(`${at}.format`, `must be one of ${FORMATS.join(", ")}, got ${describe(format)}`);
    if (!Array.isArray(kinds) || kinds.length === 0) throw invalid(`${at}.kinds`, `must be a list of kinds (${Object.keys(KINDS).join(", ")})`);
    for (const kind of kinds) {
      if (!Object.hasOwn(KINDS, kind)) throw invalid(`${at}.kinds`, `${describe(kind)} is not a kind; the kinds are ${Object.keys(KINDS).join(", ")}`);
    }
    if (!Number.isInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > MAX_ATTEMPTS) {
      throw invalid(`${at}.maxAttempts`, `must be a whole number from 1 to ${MAX_ATTEMPTS}, got ${describe(maxAttempts)}`);
    }
    const canonical = { name, url: href, format, kinds: Object.keys(KINDS).filter((k) => kinds.includes(k)) };
    const checkedHeaders = httpHeaders(`${at}.headers`, headers);
    if (checkedHeaders !== undefined) canonical.headers = checkedHeaders;
    canonical.timeoutMs = requestTimeout(`${at}.timeoutMs`, timeoutMs);
    canonical.maxAttempts = maxAttempts;
    return canonical;
  });
}

/** A subscription as a reader sees it: its URL's origin alone, its headers' names alone. */
export function redactedSubscription(sub) {
  const shown = { ...sub, url: `${new URL(sub.url).origin}/[redacted]` };
  if (sub.headers) shown.headers = Object.fromEntries(Object.keys(sub.headers).map((name) => [name, "[redacted]"]));
  return shown;
}
