// A real Prometheus for the analysis tests (TOOLCHAIN.md): the series are
// written as OpenMetrics text, turned into TSDB blocks with promtool, and
// served on loopback and a free port from a temporary directory, so that
// every run sees the same data. Queries ask at the test's virtual clock
// (`time=`), which lies inside the written range. Stopped (and its
// directory removed) by `stop()`, killed at exit should a test fail first.

import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { childServer, freePort } from "./servers.mjs";

/**
 * `series`: `{ "name{labels}": (t) => value }` sampled every `stepSecs`
 * from `fromSecs` to `toSecs` (Unix seconds); a function that answers
 * `undefined` writes no sample then.
 */
export async function startPrometheus({ series, fromSecs, toSecs, stepSecs = 15 }) {
  const dir = mkdtempSync(join(tmpdir(), "prometheus-"));
  const lines = [];
  for (const [name, valueAt] of Object.entries(series)) {
    const metric = name.replace(/\{.*$/, "");
    if (!lines.some((l) => l === `# TYPE ${metric} gauge`)) lines.push(`# TYPE ${metric} gauge`);
    for (let t = fromSecs; t <= toSecs; t += stepSecs) {
      const value = valueAt(t);
      if (value !== undefined) lines.push(`${name} ${Number.isNaN(value) ? "NaN" : value} ${t}`);
    }
  }
  // OpenMetrics wants a metric family's samples together and in time order.
  const families = new Map();
  for (const line of lines) {
    const metric = line.startsWith("# TYPE") ? line.split(" ")[2] : line.replace(/[{ ].*$/, "");
    if (!families.has(metric)) families.set(metric, []);
    families.get(metric).push(line);
  }
  const text = [...families.values()].map((family) => {
    const [type, ...samples] = family;
    samples.sort((a, b) => Number(a.split(" ").at(-1)) - Number(b.split(" ").at(-1)));
    return [type, ...samples].join("\n");
  });
  writeFileSync(join(dir, "data.om"), `${text.join("\n")}\n# EOF\n`);
  execFileSync("promtool", ["tsdb", "create-blocks-from", "openmetrics", join(dir, "data.om"), join(dir, "data")], { stdio: "ignore" });
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const server = childServer({ url }, {
    dir,
    spawnIt: () =>
      spawn(
        "prometheus",
        ["--config.file=/dev/null", `--storage.tsdb.path=${join(dir, "data")}`, `--web.listen-address=127.0.0.1:${port}`, "--storage.tsdb.retention.time=100y"],
        { stdio: "ignore" },
      ),
    async ready() {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const ready = await fetch(`${url}/-/ready`).then((r) => r.ok, () => false);
        if (ready) return;
        if (Date.now() > deadline) throw new Error("prometheus was not ready within 30 s");
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
  });
  await server.start();
  return server;
}
