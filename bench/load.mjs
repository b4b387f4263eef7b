// What the load benchmarks share (bench/server.mjs, bench/push.mjs,
// bench/durable-object.mjs): a server started as its own process, the Go
// engine's controller step over HTTP, and percentiles.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

/** `BENCH_PROFILE=DIR`: each server process writes a V8 CPU profile into DIR as it exits. */
const profiled = process.env.BENCH_PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];

/**
 * Starts `args` with node in the package's directory; resolves `{ url,
 * pid, peakRss, stop }` once it logs its JSON "listening" line (what it
 * logs after that is read and dropped).
 */
export async function startServerProcess(args) {
  const child = spawn(process.execPath, [...profiled, ...args], { cwd: root, stdio: ["ignore", "pipe", "inherit"] });
  let listener;
  const url = await new Promise((resolve, reject) => {
    let buffered = "";
    listener = (chunk) => {
      buffered += chunk;
      for (const line of buffered.split("\n").slice(0, -1)) {
        const parsed = JSON.parse(line);
        if (parsed.message === "listening") resolve(parsed.url);
      }
      buffered = buffered.slice(buffered.lastIndexOf("\n") + 1);
    };
    child.stdout.on("data", listener);
    child.on("exit", (code) => reject(new Error(`${args.join(" ")} exited with ${code}`)));
  });
  child.stdout.off("data", listener);
  child.stdout.on("data", () => {});
  const peakRss = () => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"))?.[1] ?? 0) * 1024;
  const stop = () => new Promise((resolve) => (child.exitCode !== null ? resolve() : (child.once("exit", resolve), child.kill("SIGTERM"))));
  return { url, pid: child.pid, peakRss, stop };
}

/** A controller's fleet of `targets` on v1, named as the Go engine's tests name theirs. */
export const fleetOf = (targets) =>
  Array.from({ length: targets }, (_, i) => ({ name: `clientTarget${i}`, group: `g${i % 4}`, tags: "web", version: "v1", message: "running successfully", isError: false }));

/**
 * One controller step: reports `fleet` to `url` and moves each target to the
 * version it is told. Resolves `{ ms, answer }` (`answer` null on an error status).
 */
export async function step(url, fleet, headers = {}) {
  const started = performance.now();
  const response = await fetch(url, { method: "POST", headers, body: JSON.stringify(fleet) });
  const answer = await response.json();
  const ms = performance.now() - started;
  if (response.status !== 200) return { ms, answer: null };
  const want = new Map(answer.map((t) => [t.name, t.version]));
  for (const h of fleet) h.version = want.get(h.name) ?? h.version;
  return { ms, answer };
}

/** The `q` quantile of `sorted` (ascending). */
export const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
