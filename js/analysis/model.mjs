// Measurements from a model instead of a metrics system: the simulators'
// fleet model answers for every metric, whatever provider it names. Kept
// apart from providers.mjs (which calls out over HTTP) so that the pages'
// simulations, which load the bare wasm bindings, share it.

/** The value as JSON text, with NaN and the infinities as Prometheus writes them. */
export function valueText(value) {
  return JSON.stringify(value, (_, v) => (typeof v === "number" && !Number.isFinite(v) ? (Number.isNaN(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf") : v)) ?? "null";
}

/** A measurement as the engine's measuring hook answers it. */
export const measured = (value, query, warnings = []) => ({ value, text: valueText(value), query, warnings });

/**
 * The measuring hook of `model({ metric, kind, config, at, namespace,
 * entity, version })`: asked for each metric whatever its provider names,
 * and never remote.
 */
export function modelProvider(model) {
  const measure = (request, context) => {
    const [kind, config] = Object.entries(JSON.parse(request.provider))[0] ?? [];
    const value = model({ metric: request.metric, kind, config, at: request.at, namespace: context.namespace, entity: context.entity, version: context.version });
    return measured(value ?? null, `${request.metric} (fleet model)`);
  };
  measure.local = true;
  return measure;
}
