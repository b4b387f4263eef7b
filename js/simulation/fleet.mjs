// The simulated fleet: its targets, and how each behaves on a version,
// drawn deterministically (a target's behaviour on a version is a hash of
// the seed, the target and the version, so the same scenario always gives
// the same run).

import { FAILURE_KINDS } from "./scenario.mjs";

// FNV-1a, then murmur3's finaliser: a well-mixed 32-bit hash of a string.
function hash(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
const uniform = (text) => hash(text) / 2 ** 32;

/**
 * How each target of `fleet` behaves on `version`, drawn once per
 * (target, version) from the scenario's seed and failure shares: its
 * failure kind (or "healthy"), when a late failure starts and how long
 * its deploy takes. A target `spared` on that version stays healthy.
 */
export function drawBehaviours(scenario, fleet, version) {
  const shares = scenario.failures[version] ?? {};
  const { seed, reportDelaySecs, options } = scenario;
  const success = options.successTimeoutSecs ?? 60;
  return fleet.map((t) => {
    const key = `${seed}/${t.group}/${t.name}/${version}`;
    let u = uniform(`kind:${key}`);
    let kind = "healthy";
    for (const k of t.spared === version ? [] : FAILURE_KINDS) {
      const share = shares[k] ?? 0;
      if (u < share) {
        kind = k;
        break;
      }
      u -= share;
    }
    const v = uniform(`time:${key}`);
    return {
      kind,
      // Late failures start between one and three success timeouts in.
      lateMs: Math.max(1, (1 + 2 * v) * success) * 1000,
      // Deploys take the report delay, give or take half of it.
      delayMs: Math.round(reportDelaySecs * (0.5 + uniform(`delay:${key}`)) * 1000),
    };
  });
}

/** One simulated target: every fleet's targets have this one shape. */
function target(index, name, group, running = "", sinceMs = 0, spared = null) {
  return { index, name, group, running, sinceMs, pending: null, pendingAtMs: 0, spared, report: { name, group, version: "", message: "", isError: false } };
}

// Targets in the engine's answer order (group, then name), named so that
// every name has the same width.
export function buildFleet({ targets, groups }) {
  const width = String(targets).length;
  const named = Array.from({ length: targets }, (_, i) => [`host-${String(i + 1).padStart(width, "0")}`, groups[i % groups.length]]);
  named.sort(([a, g], [b, h]) => (g < h ? -1 : g > h ? 1 : a < b ? -1 : a > b ? 1 : 0));
  return named.map(([name, group], i) => target(i, name, group));
}

/**
 * A live entity's targets (its expected states, in the engine's order),
 * each taken to run what the engine last told it since `nowMs`; a target
 * that already succeeded on `rollingVersion` is spared failures on it.
 */
export function liveFleet(expected, nowMs, rollingVersion) {
  return expected.map((e, i) => target(i, e.name, e.group, e.version, nowMs, e.reason === "succeeded" && e.version === rollingVersion ? e.version : null));
}
