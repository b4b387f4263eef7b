// The API suite every deployment of the HTTP API passes (the Node server on
// each store, the Worker in workerd): the Go engine's controller loop, as its
// own client drives it, through a rollout and a rollback.
import assert from "node:assert/strict";
import { createServer } from "node:http";

/** Hosts as the Go engine's `ClientState`; `brokenOn` versions report errors. */
export function hosts(n, version, brokenOn = []) {
  return Array.from({ length: n }, (_, i) => ({ name: `h${String(i).padStart(2, "0")}`, group: i % 2 ? "us" : "eu", tags: "web,arm64", running: version, brokenOn }));
}
export const clientStates = (fleet) =>
  fleet.map((h) => ({ name: h.name, group: h.group, tags: h.tags, version: h.running, message: "", isError: h.brokenOn.includes(h.running) }));

/** The Go engine's controller loop over HTTP until `done(rollout)`; answers the steps taken. */
export async function loop({ call, clock, pauseMs = 0 }, fleet, done, path = "/v1/orchestrate/prod/api") {
  for (let step = 0; step < 200; step++, clock.now += 10_000) {
    if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
    const { status, body } = await call("POST", path, clientStates(fleet));
    assert.equal(status, 200, JSON.stringify(body));
    for (const t of body) {
      assert.equal(t.tags, "web,arm64", "targets come back as reported, tags a string");
      const host = fleet.find((h) => h.name === t.name);
      host.running = t.version;
    }
    const rollout = (await call("GET", `${path}/rollout`)).body;
    if (done(rollout)) return step;
  }
  throw new Error("the rollout did not finish");
}

/** A rollout to v2 then a failing v3 rolled back, as the Go engine's client drives it. */
export async function rolloutAndRollback(handle, { viaController, successtimeoutsecs = 20, durationtimeoutsecs = 300 } = {}) {
  const { call } = handle;
  // Go's decoder: any case; a field left out is zero.
  assert.deepEqual((await call("POST", "/v1/orchestrate/prod/api/options", { BatchPercent: 50, successpercent: 100, successTimeoutSecs: successtimeoutsecs, durationtimeoutsecs })).body, {
    status: "success",
    message: "ok",
  });
  const fleet = hosts(6, "v1", viaController ? [] : ["v3"]);
  await call("POST", "/v1/orchestrate/prod/api/version", { version: "v1" });
  await loop(handle, fleet, (r) => r.lastknowngoodversion === "v1");
  await call("POST", "/v1/orchestrate/prod/api/version", { Version: "v2" });
  await loop(handle, fleet, (r) => r.lastknowngoodversion === "v2");
  assert.ok(fleet.every((h) => h.running === "v2"));
  if (viaController) {
    const monitor = await endpoint((body) => ({ status: body.target.version === "v3" ? "unhealthy" : "ok", message: "error rate 9%" }));
    assert.equal((await call("POST", "/v1/orchestrate/prod/api/target/controller", { Monitoring: monitor.url })).status, 200);
  }
  await call("POST", "/v1/orchestrate/prod/api/version", { version: "v3" });
  await loop(handle, fleet, (r) => r.lastknownbadversion === "v3" && fleet.every((h) => h.running === "v2"));
  const rollout = (await call("GET", "/v1/orchestrate/prod/api/rollout")).body;
  assert.deepEqual(rollout, {
    targetversion: "v3",
    rollingversion: "v3",
    lastknowngoodversion: "v2",
    lastknownbadversion: "v3",
    options: { batchpercent: 50, successpercent: 100, successtimeoutsecs, durationtimeoutsecs },
  });
  const events = (await call("GET", "/v1/orchestrate/prod/api/events?since=0&limit=1000")).body;
  assert.ok(events.some((e) => e.kind === "rollback_finished"));
  assert.ok(events.filter((e) => e.kind === "target_assigned" && e.version === "v3").length <= 3, "never more than a batch on the bad version");
  assert.deepEqual((await call("GET", "/v1/orchestrate/namespaces")).body, ["prod"]);
  assert.deepEqual((await call("GET", "/v1/orchestrate/prod/entities")).body, ["api"]);
  const eu = (await call("GET", "/v1/orchestrate/prod/api/eu/status")).body;
  assert.deepEqual(
    eu.map((t) => t.name),
    ["h00", "h02", "h04"],
  );
  assert.deepEqual(Object.keys(eu[0]).sort(), ["group", "isError", "message", "name", "tags", "version"]);
}

/** A Go-style controller endpoint on loopback answering `answer(body)` (closed when the test process ends). */
export async function endpoint(answer) {
  const server = createServer(async (req, res) => {
    let text = "";
    for await (const chunk of req) text += chunk;
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(answer(JSON.parse(text))));
  });
  server.keepAliveTimeout = 1;
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  server.unref();
  return { url: `http://127.0.0.1:${server.address().port}/hook` };
}


/**
 * Malformed, oversized (for a server whose body limit is 64 KiB), wrongly
 * authenticated and wrongly routed requests, each with the status and code
 * it must get: `[method, path, body, headers, status, code]`. `auth` is
 * the headers of a valid write token (the server's token is "tok").
 */
function hostileCases(auth) {
  const big = JSON.stringify(Array.from({ length: 2000 }, (_, i) => ({ name: `host-${i}`, version: "v2", message: "x".repeat(40) })));
  return [
    ["POST", "/v1/orchestrate/prod/api", "{not json", auth, 400, "INVALID_JSON"],
    ["POST", "/v1/orchestrate/prod/api", "", auth, 400, "INVALID_JSON"],
    ["POST", "/v1/orchestrate/prod/api", { name: "h" }, auth, 400, "INVALID_ARGUMENT"],
    ["POST", "/v1/orchestrate/prod/api", [{ name: 42, version: "v2" }], auth, 400, "INVALID_ARGUMENT"],
    ["POST", "/v1/orchestrate/prod/api", [{ name: "h", version: "v2", isError: "yes" }], auth, 400, "INVALID_ARGUMENT"],
    ["POST", "/v1/orchestrate/prod/api", [{ name: "", version: "v2" }], auth, 400, "INVALID_TARGET"],
    ["POST", "/v1/orchestrate/prod/api", big, auth, 413, "BODY_TOO_LARGE"],
    ["POST", "/v1/orchestrate/prod/api/options", { batchpercent: "50" }, auth, 400, "INVALID_ARGUMENT"],
    ["POST", "/v1/orchestrate/prod/api/options", { batchpercent: 500 }, auth, 400, "INVALID_OPTIONS"],
    ["POST", "/v1/orchestrate/prod/api/options", [], auth, 400, "INVALID_ARGUMENT"],
    ["POST", "/v1/orchestrate/prod/api/version", { version: 2 }, auth, 400, "INVALID_ARGUMENT"],
    ["POST", "/v1/orchestrate/prod/other/version", {}, auth, 400, "INVALID_VERSION"],
    ["POST", "/v1/orchestrate/prod/api/target/controller", { monitoring: "file:///etc/passwd" }, auth, 400, "INVALID_ARGUMENT"],
    ["POST", "/v1/orchestrate/prod/api/rollback", { version: "v9" }, auth, 400, "INVALID_VERSION"],
    ["GET", "/v1/orchestrate/prod/api/events?since=-1", undefined, auth, 400, "INVALID_ARGUMENT"],
    ["GET", "/v1/orchestrate/prod/nothing/rollout", undefined, auth, 400, "NOT_FOUND"],
    ["GET", "/v1/orchestrate/prod/api/a/b/c/d", undefined, auth, 404, "NOT_FOUND_ROUTE"],
    ["GET", "/v2/anything", undefined, auth, 404, "NOT_FOUND_ROUTE"],
    ["DELETE", "/v1/orchestrate/prod/api", undefined, auth, 405, "METHOD_NOT_ALLOWED"],
    ["PUT", "/v1/orchestrate/prod/api/version", { version: "v2" }, auth, 405, "METHOD_NOT_ALLOWED"],
    ["POST", "/v1/orchestrate/prod/api/version", { version: "v2" }, {}, 401, "UNAUTHORIZED"],
    ["POST", "/v1/orchestrate/prod/api/version", { version: "v2" }, { authorization: "Bearer tok " + "x".repeat(500) }, 401, "UNAUTHORIZED"],
    ["POST", "/v1/orchestrate/prod/api/version", { version: "v2" }, { authorization: "Basic dG9rOg==" }, 401, "UNAUTHORIZED"],
    ["GET", "/v1/orchestrate/prod/api/rollout", undefined, { authorization: "Bearer" }, 401, "UNAUTHORIZED"],
    // Escapes that decode to nothing name nothing (taken as written, %FF
    // would be a second spelling of the name %25FF spells).
    ["GET", "/v1/orchestrate/p/%ZZ/rollout", undefined, auth, 400, "INVALID_NAME"],
    ["POST", "/v1/orchestrate/%FF/e/version", { version: "v1" }, auth, 400, "INVALID_NAME"],
    ["POST", "/v1/orchestrate/prod/%E0%A4%A/version", { version: "v1" }, auth, 400, "INVALID_NAME"],
  ];
}

/**
 * Sets up prod/api on a server whose token is "tok" (body limit 64 KiB),
 * sends every hostile case `rounds` times, and checks the entity's state
 * (its info and events) is what it was.
 */
export async function hostileLeaveStateAlone(call, rounds) {
  const auth = { authorization: "Bearer tok" };
  await call("POST", "/v1/orchestrate/prod/api/options", { batchpercent: 50, successpercent: 100, successtimeoutsecs: 0, durationtimeoutsecs: 300 }, auth);
  await call("POST", "/v1/orchestrate/prod/api/version", { version: "v1" }, auth);
  await call("POST", "/v1/orchestrate/prod/api", clientStates(hosts(4, "v1")), auth);
  const state = async () => Promise.all(["info", "events"].map(async (what) => (await call("GET", `/v1/orchestrate/prod/api/${what}`, undefined, auth)).body));
  const before = await state();
  assert.equal(await hostile(call, auth, rounds), rounds * hostileCases(auth).length);
  assert.deepEqual(await state(), before, "nothing changed");
  // %25FF is the name %FF, written one way only.
  assert.equal((await call("POST", "/v1/orchestrate/%25FF/e/version", { version: "v1" }, auth)).status, 200);
  assert.equal((await call("GET", "/v1/orchestrate/%25FF/e/rollout", undefined, auth)).body.targetversion, "v1");
  // Names may hold any character, NUL included: each target keeps its own tags.
  const odd = [{ name: "a\u0000b", group: "g", tags: "one", version: "v0" }, { name: "a", group: "g\u0000b", tags: "two", version: "v0" }];
  const answer = (await call("POST", "/v1/orchestrate/prod/odd", odd, auth)).body;
  assert.equal((await call("POST", "/v1/orchestrate/prod/odd/version", { version: "v1" }, auth)).status, 200);
  const again = (await call("POST", "/v1/orchestrate/prod/odd", odd, auth)).body;
  for (const targets of [answer, again].filter(Array.isArray)) {
    assert.deepEqual(targets.map((t) => [t.name, t.group, t.tags]).sort(), [["a\u0000b", "g", "one"], ["a", "g\u0000b", "two"]]);
  }
}

/** Sends every hostile case `rounds` times (each round at once), checks each answer; answers how many were answered. */
async function hostile(call, auth, rounds) {
  const cases = hostileCases(auth);
  let answered = 0;
  for (let round = 0; round < rounds; round++) {
    const results = await Promise.all(cases.map(([method, path, body, headers]) => call(method, path, body, headers)));
    results.forEach((result, i) => {
      const [method, path, , , status, code] = cases[i];
      assert.equal(result.status, status, `${method} ${path}: ${JSON.stringify(result.body)}`);
      assert.equal(result.body.status, "error");
      assert.equal(result.body.code, code, `${method} ${path}`);
      assert.equal(typeof result.body.message, "string");
      answered++;
    });
  }
  return answered;
}
