// CPU time a process (and the processes it started) has used, from /proc
// (Linux): what a server costs per request, for the benchmarks.
import { readdirSync, readFileSync } from "node:fs";

const TICKS = Number(process.env.CLK_TCK ?? 100);

/** `[ppid, ms]` of `pid`: its own CPU time and its waited-for children's; null once it is gone. */
function stat(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return [Number(fields[1]), ((Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) * 1000) / TICKS];
  } catch {
    return null;
  }
}

/** Milliseconds of CPU `pid` has used, with every process under it (a PostgreSQL server's connections). */
export function cpuMs(pid) {
  const children = new Map();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const s = stat(name);
    if (s === null) continue;
    if (!children.has(s[0])) children.set(s[0], []);
    children.get(s[0]).push([Number(name), s[1]]);
  }
  let total = stat(pid)?.[1] ?? 0;
  const walk = (parent) => {
    for (const [child, ms] of children.get(parent) ?? []) {
      total += ms;
      walk(child);
    }
  };
  walk(pid);
  return total;
}
