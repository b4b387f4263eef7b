// The same small rollout and snapshot round trip in every runtime the
// package claims (Node, Bun, Deno, workerd): 8 targets move from v1 to v2
// in virtual time; mid-rollout the engine is snapshotted and restored, and
// the restored one finishes. Answers a summary every runtime must agree on.
export function roundTrip(Orchestrator, OrchestratorError) {
  let now = Date.UTC(2026, 0, 1);
  let engine = new Orchestrator({ now: () => now });
  engine.setRolloutOptions("prod", "api", { batchPercent: 25, successTimeoutSecs: 10, durationTimeoutSecs: 60 });
  engine.setTargetVersion("prod", "api", "v1");
  const fleet = Array.from({ length: 8 }, (_, i) => ({ name: `h${i}`, group: i % 2 ? "b" : "a", version: "v1" }));
  const step = () => {
    const answer = engine.orchestrate("prod", "api", fleet.map(({ name, group, version }) => ({ name, group, version })));
    for (const a of answer) fleet.find((t) => t.name === a.name).version = a.version;
    now += 15_000;
    return answer;
  };
  while (engine.rolloutInfo("prod", "api").lastKnownGoodVersion !== "v1") step();
  engine.setTargetVersion("prod", "api", "v2");
  let steps = 0;
  let snapshotBytes = 0;
  let sameAfterRestore = null;
  while (engine.rolloutInfo("prod", "api").lastKnownGoodVersion !== "v2" && steps < 100) {
    step();
    steps += 1;
    if (steps === 3) {
      const bytes = engine.snapshot();
      snapshotBytes = bytes.length;
      const restored = Orchestrator.restore(bytes, { now: () => now });
      sameAfterRestore = JSON.stringify(restored.expectedState("prod", "api")) === JSON.stringify(engine.expectedState("prod", "api"));
      engine.free();
      engine = restored;
    }
  }
  let error = null;
  try {
    engine.rolloutInfo("prod", "none");
  } catch (caught) {
    error = caught instanceof OrchestratorError ? caught.code : `not an OrchestratorError: ${caught}`;
  }
  return {
    steps,
    good: engine.rolloutInfo("prod", "api").lastKnownGoodVersion,
    running: fleet.map((t) => t.version).join(","),
    snapshotBytes,
    sameAfterRestore,
    kinds: [...new Set(engine.events("prod", "api").map((e) => e.kind))].sort(),
    error,
  };
}
