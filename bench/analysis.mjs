// `npm run bench` (part): what analysis costs a step. Each measurement
// beside a baseline taken in the same run on the same data.
//
//   1. A step with background analysis configured but no measurement due,
//      beside the same step without analysis (100,000 targets).
//   2. A step with a web measurement due (orchestrateAsync), beside the
//      round trip of that very request alone.
//
//   node bench/analysis.mjs [--targets 100000]
import { createServer } from "node:http";
import { parseArgs } from "node:util";

import { Orchestrator } from "../js/node.mjs";
import { apply, middle, settled, timings } from "./common.mjs";

const { values } = parseArgs({ options: { targets: { type: "string", default: "100000" } } });
const n = Number(values.targets);
const ms = (x) => (x < 10 ? x.toFixed(2) : x.toFixed(1));
const table = (head, rows) => {
  console.log(`| ${head.join(" | ")} |`);
  console.log(`| ${head.map(() => "---").join(" | ")} |`);
  for (const row of rows) console.log(`| ${row.join(" | ")} |`);
  console.log();
};

// A loopback endpoint answering a small JSON document, as a metrics API does.
const server = createServer((req, res) => {
  res.writeHead(200, { "content-type": "application/json" });
  res.end('{"data":{"rate":0.01}}');
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const url = `http://127.0.0.1:${server.address().port}/rate`;
const metric = (interval) => ({ name: "rate", interval, successCondition: "result < 0.05", provider: { web: { url, jsonPath: "{$.data.rate}" } } });

// 1. Nothing due: the same steady steps with and without a template whose
// next measurement is an hour away.
const idle = { without: [], with: [] };
for (let round = 0; round < 3; round++) {
  for (const kind of ["without", "with"]) {
    const { engine, reports, clock } = settled(Orchestrator, n, { rolling: true });
    if (kind === "with") {
      engine.setRolloutOptions("prod", "app", { batchPercent: 5, analysis: { metrics: [metric("1h")] } });
      clock.now += 10_000;
      await engine.orchestrateAsync("prod", "app", reports); // the run starts
      clock.now += 10_000;
      await engine.orchestrateAsync("prod", "app", reports); // its first measurement
    }
    idle[kind].push(
      ...timings(9, () => {
        clock.now += 10_000;
        engine.orchestrate("prod", "app", reports);
      }),
    );
    engine.free();
  }
}
console.log(`## Analysis configured, nothing due (${n.toLocaleString("en")} targets, mid-rollout, median ms)\n`);
table(["without analysis", "with analysis", "ratio"], [[ms(middle(idle.without)), ms(middle(idle.with)), `${(middle(idle.with) / middle(idle.without)).toFixed(2)}x`]]);

// 2. A measurement due in every step (interval 1 s, steps 10 s apart) on a
// small fleet, beside the request alone.
const due = [];
const trip = [];
{
  const { engine, reports, clock } = settled(Orchestrator, 100, { rolling: true });
  // Watched for a day once good: the run measures in every step of the loop.
  engine.setRolloutOptions("prod", "app", { batchPercent: 5, watchSecs: 86_400, analysis: { metrics: [metric("1s")] } });
  clock.now += 10_000;
  apply(reports, await engine.orchestrateAsync("prod", "app", reports)); // the run starts; its first measurement is due at the next step
  const plain = [];
  for (let i = 0; i < 40; i++) {
    clock.now += 10_000;
    let start = process.hrtime.bigint();
    apply(reports, await engine.orchestrateAsync("prod", "app", reports));
    due.push(Number(process.hrtime.bigint() - start) / 1e6);
    start = process.hrtime.bigint();
    await (await fetch(url)).json();
    trip.push(Number(process.hrtime.bigint() - start) / 1e6);
    start = process.hrtime.bigint();
    engine.orchestrate("prod", "app", reports); // a step at the same time: measured already, nothing due
    plain.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  const measured = engine.analysis("prod", "app")[0].metrics[0];
  if (measured.count + measured.error < 40) throw new Error(`only ${measured.count + measured.error} of the 40 steps measured`);
  engine.free();
  console.log("## A step with a measurement due (100 targets, web provider on loopback, median ms)\n");
  table(
    ["request alone (round trip)", "step with the measurement due", "same step, nothing due", "step minus round trip"],
    [[ms(middle(trip)), ms(middle(due)), ms(middle(plain)), ms(middle(due) - middle(trip))]],
  );
}
server.close();
