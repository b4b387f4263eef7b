// A process of the file-store lock test (tests/js/stores-disk.test.mjs),
// run as PID 1 of a PID namespace of its own:
//   hold DIR   makes entity prod/api, takes its lock, leaves a temporary
//              file as a write cut short would, says "ready" and waits to
//              be killed;
//   write DIR  says "ready", then sets the entity's version through a
//              FileStore (which must break the dead holder's lock).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Rollouts } from "orchestrator-engine/rollouts";
import { FileStore } from "orchestrator-engine/stores/file";
import { takeLock } from "../../../js/stores/lock.mjs";

const [mode, dir] = process.argv.slice(2);
const rollouts = new Rollouts({ store: new FileStore(dir, { lockTimeoutMs: 5000 }) });
if (mode === "hold") {
  await rollouts.setTargetVersion("prod", "api", "v1");
  if (!(await takeLock(join(dir, "prod", "api.entity.lock")))) throw new Error("the lock was taken");
  writeFileSync(join(dir, "prod", `api.entity.${process.pid}.0badc0de.tmp`), "a checkpoint cut short");
  process.stdout.write(`ready as pid ${process.pid}\n`);
  setInterval(() => {}, 1000);
} else {
  process.stdout.write(`ready as pid ${process.pid}\n`);
  await rollouts.setTargetVersion("prod", "api", "v2");
  const info = await rollouts.rolloutInfo("prod", "api");
  process.stdout.write(`wrote ${info.targetVersion}\n`);
}
