// Analysis against a real Prometheus (Debian's, on data written with
// promtool, so that every run sees the same series) and a loopback web
// endpoint: background analysis rolls a canary back when its error rate
// rises, an inline step gates, no data takes its configured outcome, an
// inconclusive run pauses until promote, a dry-run metric never fails the
// rollout, a stopped Prometheus gives errors that consecutiveErrorLimit
// decides, Argo's success-rate template works pasted as it is, and the same
// rollout through Rollouts on Redis and PostgreSQL and through `serve`
// gives the same verdicts and measurements.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";

import { Orchestrator } from "orchestrator-engine";
import { Rollouts } from "orchestrator-engine/rollouts";
import { startServer } from "orchestrator-engine/server/node";
import { startPrometheus } from "./servers/prometheus.mjs";
import { storeKinds } from "./servers/stores.mjs";

// Virtual time inside the written range: 2026-01-01T00:00:00Z.
const T0 = 1_767_225_600_000;
const FROM = T0 / 1000 - 3600;
const TO = T0 / 1000 + 6 * 3600;
// The canary's error ratio: v2 is bad from the start; v3 is healthy; the
// latency series is missing before T0 + 30 min (no data).
const series = {
  'http_errors_ratio{version="v1"}': () => 0.01,
  'http_errors_ratio{version="v2"}': () => 0.3,
  'http_errors_ratio{version="v3"}': () => 0.01,
  'http_requests_total{service="api",code="200"}': (t) => (t - FROM) * 97,
  'http_requests_total{service="api",code="500"}': (t) => (t - FROM) * 3,
  'latency_seconds{version="v3"}': (t) => (t >= T0 / 1000 + 1800 ? 0.2 : undefined),
  nan_gauge: () => NaN,
  // Latencies of a baseline and two canaries, every 15 s: the same spread
  // of values in another order, one of them 30% slower.
  'request_latency_ms{role="baseline"}': (t) => 90 + ((t * 37) % 23),
  'request_latency_ms{role="canary-same"}': (t) => 90 + ((t * 41) % 23),
  'request_latency_ms{role="canary-slow"}': (t) => 1.3 * (90 + ((t * 41) % 23)),
};

let prometheus;
before(async () => {
  prometheus = await startPrometheus({ series, fromSecs: FROM, toSecs: TO });
});
after(() => prometheus?.stop());

const errorRate = (extra = {}) => ({
  name: "error-rate",
  interval: "1m",
  successCondition: "result[0] < 0.05",
  provider: { prometheus: { address: prometheus.url, query: 'http_errors_ratio{version="{{args.version}}"}' } },
  ...extra,
});

const BASE = { batchPercent: 20, successTimeoutSecs: 30, durationTimeoutSecs: 120 };

/**
 * An engine in virtual time whose fleet of `n` hosts runs v1 (known good),
 * with `options`, then `version` set; `step()` runs one controller loop
 * iteration and advances the clock 10 s.
 */
async function rollout(options, version, { n = 10, metrics } = {}) {
  const clock = { t: T0 };
  const engine = new Orchestrator({ now: () => clock.t });
  if (metrics) engine.useMetrics(metrics);
  let hosts = Array.from({ length: n }, (_, i) => ({ name: `h${i}`, version: "v1" }));
  const step = async () => {
    const answer = await engine.orchestrateAsync("prod", "api", hosts);
    const want = new Map(answer.map((a) => [a.name, a.version]));
    hosts = hosts.map((h) => ({ ...h, version: want.get(h.name) ?? h.version }));
    clock.t += 10_000;
    return answer;
  };
  engine.setTargetVersion("prod", "api", "v1");
  await step();
  engine.setRolloutOptions("prod", "api", { ...BASE, ...options });
  engine.setTargetVersion("prod", "api", version);
  const info = () => engine.rolloutInfo("prod", "api");
  const on = (v) => hosts.filter((h) => h.version === v).length;
  const until = async (done, max = 300) => {
    for (let i = 0; i < max; i++) {
      if (done()) return;
      await step();
    }
    throw new Error(`not done after ${max} steps: ${JSON.stringify(info())}`);
  };
  return { engine, clock, step, info, on, until, events: (kind) => engine.events("prod", "api").filter((e) => e.kind === kind) };
}

const args = (version) => [{ name: "version", value: version }];

describe("background analysis against Prometheus", () => {
  test("a canary whose error rate rises is rolled back, the event naming the metric and the measurement", async () => {
    const r = await rollout({ analysis: { args: args("v2"), metrics: [errorRate()] } }, "v2");
    await r.until(() => r.info().lastKnownBadVersion === "v2", 10);
    const [bad] = r.events("version_bad");
    assert.match(bad.detail, /metric "error-rate" assessed failed due to failed \(1\) > failureLimit \(0\); last measurement \[0\.3\]/);
    const [run] = r.engine.analysis("prod", "api");
    const [m] = run.metrics[0].measurements;
    assert.deepEqual([run.kind, run.phase, m.phase, m.value], ["background", "failed", "failed", "[0.3]"]);
    // Asked at the engine's clock, args substituted.
    assert.equal(m.query, `http_errors_ratio{version="v2"} @ ${m.at / 1000}`);
    assert.equal(m.message, "successCondition result[0] < 0.05 is false");
    await r.until(() => r.on("v1") === 10, 20);
  });

  test("a healthy version passes, measured every interval through its watch window", async () => {
    const r = await rollout({ watchSecs: 300, analysis: { args: args("v3"), metrics: [errorRate()] } }, "v3");
    await r.until(() => r.info().lastKnownGoodVersion === "v3" && r.info().watchUntil === null);
    await r.step();
    const [run] = r.engine.analysis("prod", "api");
    assert.equal(run.phase, "successful", run.message);
    const times = run.metrics[0].measurements.map((m) => m.at);
    assert.ok(times.length >= 5, `${times.length} measurements`);
    assert.ok(times.every((t, i) => i === 0 || t - times[i - 1] >= 60_000), String(times));
    assert.equal(r.events("version_bad").length, 0);
  });

  test("Argo's success-rate template, pasted as JSON, passes a 97% success rate", async () => {
    // The AnalysisTemplate of Argo Rollouts' documentation, as JSON.
    const template = {
      apiVersion: "argoproj.io/v1alpha1",
      kind: "AnalysisTemplate",
      metadata: { name: "success-rate" },
      spec: {
        args: [{ name: "service-name" }],
        metrics: [
          {
            name: "success-rate",
            interval: "5m",
            successCondition: "result[0] >= 0.95",
            failureLimit: 3,
            provider: {
              prometheus: {
                address: prometheus.url,
                query: 'sum(irate(http_requests_total{service="{{args.service-name}}",code!~"5.*"}[5m])) / sum(irate(http_requests_total{service="{{args.service-name}}"}[5m]))',
              },
            },
          },
        ],
      },
    };
    const r = await rollout({ analysis: template }, "v3", { metrics: { secrets: { "service-name": "api" } } });
    await r.until(() => r.info().lastKnownGoodVersion === "v3");
    const [run] = r.engine.analysis("prod", "api");
    const [m] = run.metrics[0].measurements;
    assert.equal(m.phase, "successful", m.message);
    assert.ok(Math.abs(JSON.parse(m.value)[0] - 0.97) < 1e-9, m.value);
    // The argument without a value is filled where the request is made,
    // and never shown.
    assert.match(m.query, /service="\[redacted\]"/);
    assert.doesNotMatch(JSON.stringify(r.engine.rolloutInfo("prod", "api")), /service="api"/);
  });

  test("a dry-run metric is measured and shown but never fails the rollout", async () => {
    const analysis = { args: args("v2"), metrics: [errorRate()], dryRun: [{ metricName: "error.*" }] };
    const r = await rollout({ analysis }, "v2");
    await r.until(() => r.info().lastKnownGoodVersion === "v2");
    const [run] = r.engine.analysis("prod", "api");
    assert.deepEqual([run.metrics[0].dryRun, run.metrics[0].phase], [true, "failed"]);
  });

  test("NaN from Prometheus is a number a condition can test", async () => {
    const metric = { name: "nan", successCondition: "isNaN(result[0])", provider: { prometheus: { address: prometheus.url, query: "nan_gauge" } } };
    const r = await rollout({ analysis: { metrics: [metric] } }, "v3");
    await r.until(() => r.engine.analysis("prod", "api")[0]?.ended != null);
    const [run] = r.engine.analysis("prod", "api");
    assert.equal(run.phase, "successful");
    assert.equal(run.metrics[0].measurements[0].value, '["NaN"]');
  });
});

describe("inline analysis, no data and inconclusive runs", () => {
  const gated = (metric) => ({ steps: [{ size: 2, analysis: { args: args("v3"), metrics: [metric] } }, "100%"] });

  test("an inline step holds the rollout until its run succeeded", async () => {
    const r = await rollout(gated(errorRate({ count: 3 })), "v3");
    await r.until(() => r.on("v3") === 2);
    const moved = r.clock.t;
    await r.until(() => r.on("v3") > 2);
    assert.ok(r.clock.t - moved >= 120_000, `moved on after ${(r.clock.t - moved) / 1000} s`);
    const step = r.engine.analysis("prod", "api").find((run) => run.kind?.step === 0);
    assert.deepEqual([step.phase, step.metrics[0].count], ["successful", 3]);
    await r.until(() => r.info().lastKnownGoodVersion === "v3");
  });

  const latency = (extra) => ({
    name: "latency",
    successCondition: "result[0] < 0.5",
    provider: { prometheus: { address: prometheus.url, query: 'latency_seconds{version="{{args.version}}"}' } },
    ...extra,
  });

  test("no data takes its configured outcome: failed rolls back", async () => {
    const r = await rollout(gated(latency({ noData: "failed" })), "v3");
    await r.until(() => r.info().lastKnownBadVersion === "v3");
    const step = r.engine.analysis("prod", "api").find((run) => run.kind?.step === 0);
    assert.deepEqual([step.metrics[0].measurements[0].value, step.metrics[0].measurements[0].phase], ["[]", "failed"]);
  });

  test("no data is inconclusive by default: the rollout pauses until promote", async () => {
    const r = await rollout(gated(latency()), "v3");
    await r.until(() => r.info().paused);
    assert.equal(r.info().pauseReason, "analysis_inconclusive");
    const [paused] = r.events("paused");
    assert.match(paused.detail, /^analysis_inconclusive: metric "latency" assessed inconclusive/);
    for (let i = 0; i < 30; i++) await r.step();
    assert.equal(r.on("v3"), 2, "held while paused");
    assert.equal(r.engine.promote("prod", "api"), true);
    await r.until(() => r.info().lastKnownGoodVersion === "v3");
  });
});

describe("the canary judge against Prometheus", () => {
  const range = { start: "now() - 10m", end: "now()", step: "15s" };
  const side = (role) => ({ prometheus: { address: prometheus.url, query: `request_latency_ms{role="${role}"}`, rangeQuery: range } });
  const judged = (canaryRole) => ({
    steps: [
      {
        size: 2,
        analysis: {
          metrics: [
            {
              name: "canary-score",
              canary: {
                scoreThresholds: { pass: 95, marginal: 75 },
                metrics: [{ name: "latency", direction: "increase", baseline: side("baseline"), canary: side(canaryRole), effectSize: { allowedIncrease: 1.1 } }],
              },
            },
          ],
        },
      },
      "100%",
    ],
  });

  test("a server's allowHookHosts refuses a template measuring elsewhere, set or imported, naming the field", async () => {
    const { MemoryStore } = await import("orchestrator-engine/stores");
    const rollouts = new Rollouts({ store: new MemoryStore(), allowHookHosts: ["127.0.0.1"] });
    await rollouts.setRolloutOptions("prod", "api", judged("canary-same"));
    const elsewhere = structuredClone(judged("canary-same"));
    elsewhere.steps[0].analysis.metrics[0].canary.metrics[0].canary.prometheus.address = "http://10.0.0.8:9090";
    await assert.rejects(rollouts.setRolloutOptions("prod", "api", elsewhere), {
      code: "INVALID_ARGUMENT",
      message: /steps\[0\]\.analysis\.metrics\[0\]\.canary\.metrics\[0\]\.canary\.prometheus\.address: points at 10\.0\.0\.8/,
    });
    const web = { analysis: { metrics: [{ name: "w", successCondition: "result == true", provider: { web: { url: "https://status.example.com/ok", jsonPath: "$.ok" } } }] } };
    await assert.rejects(rollouts.setRolloutOptions("prod", "api", web), { code: "INVALID_ARGUMENT", message: /analysis\.metrics\[0\]\.provider\.web\.url: points at status\.example\.com/ });
    // Nothing was applied: the options are the first ones.
    assert.equal((await rollouts.rolloutInfo("prod", "api")).options.steps[0].analysis.metrics[0].canary.metrics[0].canary.includes("10.0.0.8"), false);
    const outside = new Orchestrator();
    outside.setRolloutOptions("prod", "api", web);
    await assert.rejects(rollouts.importEntity("prod", "api", outside.snapshot()), { code: "INVALID_ARGUMENT", message: /web\.url: points at status\.example\.com/ });
    outside.free();
  });

  test("a canary 30% slower than its baseline scores 0 and rolls back; an unchanged one scores 100 and goes on", async () => {
    const slow = await rollout(judged("canary-slow"), "v3");
    await slow.until(() => slow.info().lastKnownBadVersion === "v3");
    const step = (r) => r.engine.analysis("prod", "api").find((run) => run.kind?.step === 0).metrics[0].measurements[0];
    const failed = step(slow);
    assert.deepEqual([failed.phase, failed.value], ["failed", "0"]);
    assert.match(failed.message, /^Fail: score 0 below 75; failing: latency; latency High \(shift 3\d(\.\d+)? \(interval [\d.]+ to [\d.]+\), p < 0\.0001\)/);
    assert.match(failed.query, /latency baseline: request_latency_ms\{role="baseline"\} \[\d+, \d+\] step 15s/);
    const same = await rollout(judged("canary-same"), "v3");
    await same.until(() => same.info().lastKnownGoodVersion === "v3");
    const passed = step(same);
    assert.deepEqual([passed.phase, passed.value], ["successful", "100"], passed.message);
  });
});

describe("providers", () => {
  let web;
  let asked = 0;
  before(async () => {
    web = createServer((req, res) => {
      asked++;
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ data: { ok: req.headers.authorization === "Bearer s3cret", rate: 0.01 } }));
    });
    await new Promise((resolve) => web.listen(0, "127.0.0.1", resolve));
  });
  after(() => new Promise((resolve) => web.close(resolve)));

  const webMetric = () => ({
    name: "web-ok",
    successCondition: "result == true",
    provider: {
      web: { url: `http://127.0.0.1:${web.address().port}/health`, headers: [{ key: "Authorization", value: "Bearer {{args.token}}" }], jsonPath: "{$.data.ok}" },
    },
  });

  test("the web provider reads a JSONPath of the answer, with a secret header", async () => {
    const analysis = { args: [{ name: "token", valueFrom: { secretKeyRef: { name: "api", key: "token" } } }], metrics: [webMetric()] };
    const r = await rollout({ analysis }, "v3", { metrics: { secrets: { token: "s3cret" } } });
    await r.until(() => r.engine.analysis("prod", "api")[0]?.ended != null);
    const [run] = r.engine.analysis("prod", "api");
    assert.equal(run.phase, "successful", run.message);
    assert.equal(run.metrics[0].measurements[0].value, "true");
  });

  test("a synchronous step with a measurement due throws HOOK_PENDING before any request leaves", async () => {
    const clock = { t: T0 };
    const engine = new Orchestrator({ now: () => clock.t });
    engine.setRolloutOptions("prod", "api", { ...BASE, analysis: { args: [{ name: "token", value: "x" }], metrics: [webMetric()] } });
    engine.setTargetVersion("prod", "api", "v1");
    engine.orchestrate("prod", "api", [{ name: "h", version: "v1" }]);
    engine.setTargetVersion("prod", "api", "v2");
    engine.orchestrate("prod", "api", [{ name: "h", version: "v1" }]); // the run starts
    const before = asked;
    clock.t += 1000;
    assert.throws(() => engine.orchestrate("prod", "api", [{ name: "h", version: "v1" }]), { code: "HOOK_PENDING", message: /analysis measurement is due/ });
    assert.equal(asked, before);
    // A step with nothing due costs nothing: the run waits for its next interval.
  });

  test("a function provider answers synchronously, for any other metrics system", async () => {
    const functions = { datadog: ({ version, config }) => ({ value: version === "v2" ? 12 : 1, query: `avg:errors{version:${version}} ${config.window}` }) };
    const metric = { name: "dd", failureCondition: "result > 10", provider: { function: { name: "datadog", window: "5m" } } };
    const r = await rollout({ analysis: { metrics: [metric] } }, "v2", { metrics: { functions } });
    await r.until(() => r.info().lastKnownBadVersion === "v2", 10);
    const [run] = r.engine.analysis("prod", "api");
    assert.equal(run.metrics[0].measurements[0].query, "avg:errors{version:v2} 5m");
  });

  test("the options rolloutInfo answers, templates and all, set again change nothing (as a form that edits one field sends them)", () => {
    const engine = new Orchestrator();
    const side = (role) => ({ prometheus: { address: "http://127.0.0.1:9", query: `x{role="${role}"}`, rangeQuery: { start: "now() - 10m", end: "now()", step: "15s" } } });
    const canary = { metrics: [{ name: "lat", group: "g", baseline: side("b"), canary: side("c"), direction: "increase", outliers: "remove", critical: true, effectSize: { allowedIncrease: 1.1 } }], groups: { g: 100 }, scoreThresholds: { pass: 90, marginal: 70 } };
    for (const analysis of [
      { args: args("v2"), metrics: [errorRate()] },
      { startingStep: 1, args: [...args("v2"), { name: "token" }], dryRun: [{ metricName: "dry.*" }], measurementRetention: [{ metricName: ".*", limit: 3 }], metrics: [errorRate({ count: 3, failureLimit: 2, noData: "failed", onFailure: "pause" }), { name: "c", canary }] },
    ]) {
      engine.setRolloutOptions("prod", "api", { ...BASE, analysis, steps: [{ size: 1, analysis }, "100%"] });
      const first = engine.rolloutInfo("prod", "api").options;
      engine.setRolloutOptions("prod", "api", first);
      assert.deepEqual(engine.rolloutInfo("prod", "api").options, first);
    }
    engine.free();
  });

  test("Argo's template fields are checked, naming the metric and the position", () => {
    const engine = new Orchestrator();
    const bad = (metric) => () => engine.setRolloutOptions("p", "e", { analysis: { metrics: [{ name: "m", provider: { function: "f" }, ...metric }] } });
    assert.throws(bad({ successCondition: "result[0] >= " }), { code: "INVALID_OPTIONS", message: /metric "m".*at character 14/ });
    assert.throws(bad({ interval: "5 minutes" }), { code: "INVALID_OPTIONS", message: /analysis\.metrics\[0\]\.interval/ });
    assert.throws(bad({ provider: { datadog: {} } }), { code: "INVALID_OPTIONS", message: /names one provider of prometheus, web, function/ });
    assert.throws(bad({ failureLimt: 1 }), { code: "INVALID_OPTIONS", message: /failureLimt.*is not a field here/ });
  });
});

describe("a stopped Prometheus", () => {
  test("gives Error measurements, and consecutiveErrorLimit decides", async () => {
    const r = await rollout({ analysis: { args: args("v3"), metrics: [errorRate({ interval: "10s", consecutiveErrorLimit: 2 })] } }, "v3");
    await r.until(() => (r.engine.analysis("prod", "api")[0]?.metrics[0].count ?? 0) >= 1);
    await prometheus.kill();
    try {
      await r.until(() => r.info().lastKnownBadVersion === "v3", 20);
      const [run] = r.engine.analysis("prod", "api");
      assert.equal(run.phase, "error");
      assert.match(run.message, /3 errors in a row > consecutiveErrorLimit \(2\)/);
      assert.match(run.metrics[0].measurements.at(-1).message, /prometheus http:\/\/127\.0\.0\.1:\d+\/api\/v1\/query/);
    } finally {
      await prometheus.start();
    }
  });
});

describe("the same rollout on every store and through serve", () => {
  let servers;
  before(async () => {
    servers = await storeKinds();
  });
  after(() => servers?.stop());

  /** Steps a rollout of v2 (bad) through `rollouts` until it is rolled back; answers its analysis. */
  async function throughRollouts(rollouts, clock) {
    let hosts = Array.from({ length: 10 }, (_, i) => ({ name: `h${i}`, version: "v1" }));
    const step = async () => {
      const answer = await rollouts.orchestrate("prod", "api", hosts);
      const want = new Map(answer.map((a) => [a.name, a.version]));
      hosts = hosts.map((h) => ({ ...h, version: want.get(h.name) ?? h.version }));
      clock.t += 10_000;
    };
    await rollouts.setTargetVersion("prod", "api", "v1");
    await step();
    await rollouts.setRolloutOptions("prod", "api", { ...BASE, analysis: { args: args("v2"), metrics: [errorRate()] } });
    await rollouts.setTargetVersion("prod", "api", "v2");
    for (let i = 0; i < 20 && (await rollouts.rolloutInfo("prod", "api")).lastKnownBadVersion !== "v2"; i++) await step();
    return rollouts.analysis("prod", "api");
  }

  test("Rollouts on Redis and PostgreSQL, and serve, give the engine's verdicts and measurements", async () => {
    const reference = await (async () => {
      const r = await rollout({ analysis: { args: args("v2"), metrics: [errorRate()] } }, "v2");
      await r.until(() => r.info().lastKnownBadVersion === "v2", 20);
      return r.engine.analysis("prod", "api");
    })();
    for (const kind of ["redis", "postgres"]) {
      const open = servers.kinds[Object.keys(servers.kinds).find((k) => k.startsWith(kind))];
      const { store, close } = await open();
      try {
        const clock = { t: T0 };
        const runs = await throughRollouts(new Rollouts({ store, now: () => clock.t }), clock);
        assert.deepEqual(runs, reference, kind);
      } finally {
        await close();
      }
    }
    const clock = { t: T0 };
    const server = await startServer({ port: 0, store: new (await import("orchestrator-engine/stores")).MemoryStore(), now: () => clock.t, log: () => {}, insecure: true });
    try {
      const call = async (method, path, body) => {
        const response = await fetch(`${server.url}/v1/orchestrate/prod/api${path}`, { method, body: body && JSON.stringify(body) });
        const json = await response.json();
        assert.ok(response.ok, `${method} ${path}: ${JSON.stringify(json)}`);
        return json;
      };
      let hosts = Array.from({ length: 10 }, (_, i) => ({ name: `h${i}`, version: "v1" }));
      const step = async () => {
        const answer = await call("POST", "", hosts.map((h) => ({ ...h, group: "", message: "", isError: false })));
        const want = new Map(answer.map((a) => [a.name, a.version]));
        hosts = hosts.map((h) => ({ ...h, version: want.get(h.name) ?? h.version }));
        clock.t += 10_000;
      };
      await call("POST", "/version", { version: "v1" });
      await step();
      await call("PUT", "/options", { ...BASE, analysis: { args: args("v2"), metrics: [errorRate()] } });
      await call("POST", "/version", { version: "v2" });
      for (let i = 0; i < 20 && (await call("GET", "/info")).lastKnownBadVersion !== "v2"; i++) await step();
      assert.deepEqual(await call("GET", "/analysis"), reference);
    } finally {
      await server.stop();
    }
  });
});
