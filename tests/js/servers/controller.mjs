// One controller process for the concurrency and crash tests: it steps one
// entity through `Rollouts` on a real store, reporting every target as
// running what the engine expects of it (erroring on a version named in
// --broken), until the entity settles on --until. It prints one JSON line
// per acknowledged step: the targets that step assigned, with versions;
// with --announce-writes, also the line "writing" as each store write
// starts and "written" as it returns, so that a test can kill it inside
// one.
//
//   node controller.mjs --kind redis|postgres|file --url URL --ns NS --entity E
//     --targets N --until VERSION [--broken VERSION] [--pause MS] [--announce-writes]

import { parseArgs } from "node:util";

import { Rollouts } from "orchestrator-engine/rollouts";
import { openStore, targetNames } from "./fleet-store.mjs";
import { loggingWrites } from "./logging-store.mjs";

const { values } = parseArgs({
  options: {
    kind: { type: "string" },
    url: { type: "string" },
    ns: { type: "string" },
    entity: { type: "string" },
    targets: { type: "string" },
    until: { type: "string" },
    broken: { type: "string", default: "" },
    pause: { type: "string", default: "10" },
    forever: { type: "boolean", default: false },
    "announce-writes": { type: "boolean", default: false },
    "log-writes": { type: "boolean", default: false },
  },
});

const { store: real, close } = await openStore(values.kind, values.url);
const store = values["announce-writes"] ? announcing(real) : values["log-writes"] ? loggingWrites(real) : real;


/** `store`, saying when each write starts and returns. */
function announcing(store) {
  const wrapped = Object.create(null);
  for (const method of ["get", "list", "delete", "put", "append"]) {
    if (typeof store[method] !== "function") continue;
    const write = method === "put" || method === "append";
    wrapped[method] = async (...args) => {
      if (write) process.stdout.write('"writing"\n');
      const result = await store[method](...args);
      if (write) process.stdout.write('"written"\n');
      return result;
    };
  }
  return wrapped;
}
// No retries inside the call: a retry would send the same reports again,
// built from a state that other controllers have since moved on from, and
// on a loaded machine that staleness lasts seconds: a target that
// succeeded on its new version meanwhile is then reported back on its old
// one, which the engine rightly judges a failure (the flap guard). Real
// targets do not go back; so after a conflict this controller reads
// again and reports afresh, as a controller that polls its fleet would.
const rollouts = new Rollouts({ store, retries: 0 });
const { ns, entity, until, broken } = values;
const names = targetNames(Number(values.targets));
const pause = Number(values.pause);

// Stopped from outside (a test past its deadline): where this controller
// was, so that the failure says why it never settled.
let last = { steps: 0, info: null };
process.on("SIGTERM", () => {
  process.stderr.write(`stopped after ${last.steps} steps, the entity last read as ${JSON.stringify(last.info)}\n`);
  process.exit(143);
});

for (;;) {
  const expected = new Map((await rollouts.expectedState(ns, entity)).map((t) => [t.name, t.version]));
  const reports = names.map((name) => {
    const version = expected.get(name) ?? "v1";
    return { name, version, isError: version === broken };
  });
  let answer;
  try {
    answer = await rollouts.orchestrate(ns, entity, reports);
  } catch (error) {
    if (error.code !== "CONFLICT") throw error;
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 20));
    continue;
  }
  const assigned = answer.filter((t) => (t.reason === "in_flight" || t.reason === "rolled_back") && t.version !== expected.get(t.name));
  process.stdout.write(JSON.stringify(assigned.map((t) => [t.name, t.version])) + "\n");
  const info = await rollouts.rolloutInfo(ns, entity);
  last = { steps: last.steps + 1, info };
  // Done once every target is on --until and settled there: the rollout of
  // --until finished, or (with --broken) the broken version was judged bad
  // and every target is back.
  const done = broken ? info.lastKnownBadVersion === broken : info.rollingVersion === until;
  const back = answer.every((t) => t.version === until && t.reason !== "in_flight" && t.reason !== "rolled_back");
  const settled = done && info.lastKnownGoodVersion === until && back;
  if (settled && !values.forever) break;
  await new Promise((resolve) => setTimeout(resolve, pause));
}
await close();
