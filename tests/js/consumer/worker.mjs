// An edge-style handler: the engine lives for one request only. It is
// restored from the snapshot in a key-value store, orchestrates the
// reported targets, and is saved back.
import { Orchestrator } from "orchestrator-engine/edge";

export default {
  async fetch(request, env) {
    const { namespace, entity, targetVersion, reports } = await request.json();
    const now = Number(request.headers.get("x-now"));
    const saved = await env.STATE.get("engine");
    const engine = saved ? Orchestrator.restore(saved, { now: () => now }) : new Orchestrator({ now: () => now });
    try {
      engine.setRolloutOptions(namespace, entity, { batchPercent: 25, successTimeoutSecs: 30, durationTimeoutSecs: 90 });
      engine.setTargetVersion(namespace, entity, targetVersion);
      const expected = engine.orchestrate(namespace, entity, reports);
      await env.STATE.put("engine", engine.snapshot());
      return Response.json({ expected, info: engine.rolloutInfo(namespace, entity) });
    } catch (err) {
      return Response.json({ code: err.code, message: err.message }, { status: 400 });
    } finally {
      engine.free();
    }
  },
};
