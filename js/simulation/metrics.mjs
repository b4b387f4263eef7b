// The simulated fleet's metrics, per version, so that a simulation shows
// how an analysis template would have judged before it is used: whatever
// provider a metric names (Prometheus, web, a function), the simulation
// measures it from the fleet model instead.
//
//   a metric whose provider names "latency" (a function "latency", or a
//   query or URL that mentions latency or duration) is the latency of the
//   version's requests at `config.quantile` (default 0.99), in ms: a
//   log-normal with the version's median (scenario `metrics[version]
//   .latencyMs`, default 100) and spread 0.5, twice as slow on a target
//   that reports errors;
//   any other metric is the version's error ratio: its baseline (scenario
//   `metrics[version].errorRate`, default 0.01) on healthy targets, every
//   request failing on a target that reports errors.
//
// Both are answered as a one-sample vector (`[x]`), as Prometheus answers
// an instant query, so templates written for it (`result[0] < 0.05`) read
// them as they are; a version no target runs has no data.

/** The standard normal quantile (Acklam's rational approximation, |error| < 1.2e-9). */

import { modelProvider } from "../analysis/model.mjs";

export function normalQuantile(p) {
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const low = 0.02425;
  if (p < low) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > 1 - low) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

const mentionsLatency = (kind, config) => /latency|duration/i.test(kind === "function" ? JSON.stringify(config ?? "") : `${config?.query ?? ""} ${config?.url ?? ""}`);

/** The measuring model of a simulation over `fleet` (its targets' latest reports) and the scenario's `metrics`. */
export function fleetMetrics(fleet, metrics = {}) {
  return ({ kind, config, version }) => {
    let on = 0;
    let erroring = 0;
    for (const t of fleet) {
      if (t.report.version !== version) continue;
      on += 1;
      if (t.report.isError) erroring += 1;
    }
    if (on === 0) return [];
    const shape = metrics[version] ?? {};
    const bad = erroring / on;
    if (mentionsLatency(kind, config)) {
      const quantile = Number(config?.quantile ?? 0.99);
      const median = shape.latencyMs ?? 100;
      return [median * Math.exp(0.5 * normalQuantile(Math.min(Math.max(quantile, 1e-6), 1 - 1e-6))) * (1 + bad)];
    }
    const base = shape.errorRate ?? 0.01;
    return [base + (1 - base) * bad];
  };
}

/**
 * Makes `model` the engine's measurements. The package's engine class
 * (Node, `orchestrator-engine/web`) takes it through `useMetrics`; the
 * pages load the bare wasm bindings, whose measuring hook is set directly
 * (a simulation steps synchronously, so nothing ever waits).
 */
export function measureFromModel(engine, model) {
  if (typeof engine.useMetrics === "function") {
    engine.useMetrics({ model });
    return;
  }
  engine.__setMetricProvider(modelProvider(model));
}
