// From the installed tarball: the durable engine on the memory and the
// directory stores.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Rollouts } from "orchestrator-engine/rollouts";
import { MemoryStore } from "orchestrator-engine/stores";
import { FileStore } from "orchestrator-engine/stores/file";

const dir = mkdtempSync(join(tmpdir(), "consumer-store-"));
const out = {};
for (const [kind, store] of [["memory", new MemoryStore()], ["file", new FileStore(dir)]]) {
  const rollouts = new Rollouts({ store, now: () => 1_700_000_000_000 });
  await rollouts.setTargetVersion("prod", "api", "v1");
  const [answer] = await rollouts.orchestrate("prod", "api", [{ name: "h1", version: "v0" }]);
  const again = new Rollouts({ store });
  out[kind] = [answer.version, (await again.rolloutInfo("prod", "api")).targets, await again.entities("prod")];
}
rmSync(dir, { recursive: true, force: true });
console.log(JSON.stringify(out));
