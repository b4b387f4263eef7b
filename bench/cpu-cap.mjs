// Caps a process at a share of one core with a cgroup of its own (Linux,
// as root; cgroup v2, or v1's cpu controller), so that a benchmark on a
// small machine can show how throughput grows with processes as if each had
// a core of that speed to itself. Answers the function that removes the
// cgroup once the process has exited, or throws saying why it cannot.
import { existsSync, mkdirSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const V2 = "/sys/fs/cgroup";
const V1 = "/sys/fs/cgroup/cpu";
const PERIOD_US = 100_000;

export function capCpu(pid, share) {
  const v2 = existsSync(join(V2, "cgroup.controllers"));
  const dir = join(v2 ? V2 : V1, `orchestrator-bench-${pid}`);
  const quota = Math.round(share * PERIOD_US);
  try {
    mkdirSync(dir);
    if (v2) writeFileSync(join(dir, "cpu.max"), `${quota} ${PERIOD_US}`);
    else {
      writeFileSync(join(dir, "cpu.cfs_period_us"), String(PERIOD_US));
      writeFileSync(join(dir, "cpu.cfs_quota_us"), String(quota));
    }
    // Every thread of the process (libuv's pool, V8's helpers) goes with it.
    writeFileSync(join(dir, "cgroup.procs"), String(pid));
  } catch (error) {
    try {
      rmdirSync(dir);
    } catch {
      // never made
    }
    throw new Error(`cannot cap a process's CPU here (${error.code ?? error.message} on ${dir}): it needs root and a writable cgroup cpu controller`);
  }
  return () => {
    try {
      rmdirSync(dir);
    } catch {
      // still in use or gone: left for the system
    }
  };
}
