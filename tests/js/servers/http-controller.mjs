// A controller process on the HTTP API, as a team would run one: it reports
// its fleet every `stepMs` and runs what it is told; targets report errors
// on `broken` versions. `node http-controller.mjs URL TOKEN NS ENTITY TARGETS BROKEN STEPMS`;
// each answer's versions are printed as one JSON line.
const [url, token, namespace, entity, targets, broken, stepMs] = process.argv.slice(2);
const fleet = Array.from({ length: Number(targets) }, (_, i) => ({ name: `h${String(i).padStart(2, "0")}`, group: i % 2 ? "us" : "eu", running: "v1" }));
let stopping = false;
process.on("SIGTERM", () => (stopping = true));
while (!stopping) {
  const reports = fleet.map((h) => ({ name: h.name, group: h.group, tags: "", version: h.running, message: "", isError: h.running === broken }));
  try {
    const response = await fetch(`${url}/v1/orchestrate/${namespace}/${entity}`, { method: "POST", headers: { authorization: `Bearer ${token}` }, body: JSON.stringify(reports) });
    const answer = await response.json();
    if (response.ok) {
      for (const t of answer) fleet.find((h) => h.name === t.name).running = t.version;
      process.stdout.write(`${JSON.stringify(answer.map((t) => t.version))}\n`);
    }
  } catch {
    // the server restarting: try again at the next step
  }
  await new Promise((resolve) => setTimeout(resolve, Number(stepMs)));
}
