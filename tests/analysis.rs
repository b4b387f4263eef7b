//! Analysis in virtual time: background analysis rolls a bad version back,
//! an inline step gates, no data takes its configured outcome, an
//! inconclusive run pauses until promote, a dry-run metric never decides,
//! errors count against consecutiveErrorLimit, and runs survive snapshots.

mod common;

use std::cell::RefCell;
use std::rc::Rc;

use common::{on, options, pct, rolling, Sim, SEC};
use orchestrator_engine::{
    Amount, Analysis, AnalysisPhase, Arg, Engine, ErrorCode, EventKind, HookContext, HookError, MeasureRequest, Measured, Metric,
    MetricProvider, MetricValue, OnFailure, PlanStep, RolloutOptions, RunKind,
};

/// A provider that answers, per version, a value or an error; it records
/// every request it was asked.
type Answers = Vec<(String, Result<MetricValue, String>)>;

#[derive(Clone, Default)]
struct Script {
    answers: Rc<RefCell<Answers>>,
    asked: Rc<RefCell<Vec<(String, String, i64)>>>,
}

impl Script {
    fn answer(&self, version: &str, value: Result<MetricValue, String>) {
        self.answers.borrow_mut().retain(|(v, _)| v != version);
        self.answers.borrow_mut().push((version.to_owned(), value));
    }
}

impl MetricProvider for Script {
    fn measure(&mut self, ctx: &HookContext<'_>, request: &MeasureRequest<'_>) -> Result<Measured, HookError> {
        self.asked.borrow_mut().push((request.metric.to_owned(), request.provider.to_owned(), request.at));
        let answers = self.answers.borrow();
        let answer = answers.iter().find(|(v, _)| v == ctx.version).map(|(_, a)| a.clone());
        match answer.unwrap_or(Ok(MetricValue::List(vec![MetricValue::Number(0.0)]))) {
            Ok(value) => Ok(Measured::of(value, &format!("errors{{version=\"{}\"}}", ctx.version))),
            Err(e) => Err(HookError::new(e)),
        }
    }
}

fn ratio(x: f64) -> Result<MetricValue, String> {
    Ok(MetricValue::List(vec![MetricValue::Number(x)]))
}

fn error_rate(interval: u64) -> Metric {
    Metric {
        interval_secs: Some(interval),
        success_condition: Some("result[0] < {{args.threshold}}".into()),
        ..Metric::new("error-rate", r#"{"prometheus":{"query":"errors{service=\"{{args.service}}\"}"}}"#)
    }
}

fn template(metrics: Vec<Metric>) -> Box<Analysis> {
    Box::new(Analysis {
        metrics,
        args: vec![
            Arg { name: "threshold".into(), value: Some("0.05".into()) },
            Arg { name: "service".into(), value: Some("api".into()) },
            Arg { name: "token".into(), value: None },
        ],
        starting_step: None,
    })
}

fn with_provider(sim: &mut Sim) -> Script {
    let script = Script::default();
    sim.engine.set_metric_provider(Some(Box::new(script.clone())));
    script
}

fn events(sim: &Sim, kind: EventKind) -> Vec<String> {
    let all = sim.engine.events(&sim.ns, &sim.entity, 0, usize::MAX).unwrap();
    all.into_iter().filter(|e| e.kind == kind).map(|e| e.detail).collect()
}

#[test]
fn background_analysis_rolls_back_a_version_whose_error_rate_rises() {
    let opts = RolloutOptions { analysis: Some(template(vec![error_rate(60)])), watch_secs: 600, ..options(20) };
    let mut sim = rolling(10, opts);
    let script = with_provider(&mut sim);
    script.answer("v2", ratio(0.31));
    sim.run_until(30, |s| s.info().last_known_bad_version == "v2");
    sim.run_until(30, |s| on(s, "v1") == 10);
    let bad = events(&sim, EventKind::VersionBad);
    assert_eq!(bad.len(), 1);
    assert!(bad[0].contains("metric \"error-rate\" assessed failed due to failed (1) > failureLimit (0)"), "{bad:?}");
    assert!(bad[0].contains("result[0] < 0.05 is false"), "{bad:?}");
    // Args were substituted as the template was set; the query went at the
    // engine's clock.
    let asked = script.asked.borrow();
    assert_eq!(asked[0].1, r#"{"prometheus":{"query":"errors{service=\"api\"}"}}"#);
    let runs = sim.engine.analysis(&sim.ns, &sim.entity).unwrap();
    let run = runs.iter().find(|r| r.kind == RunKind::Background && r.version == "v2").unwrap();
    assert_eq!(run.phase, AnalysisPhase::Failed);
    let m = &run.metrics[0].measurements[0];
    assert_eq!((m.phase, m.value.as_str(), m.at), (AnalysisPhase::Failed, "[0.31]", asked[0].2));
    assert_eq!(m.query, "errors{version=\"v2\"}");
}

#[test]
fn a_healthy_version_passes_background_analysis_through_its_watch() {
    let opts = RolloutOptions { analysis: Some(template(vec![error_rate(30)])), watch_secs: 120, ..options(50) };
    let mut sim = rolling(4, opts);
    let script = with_provider(&mut sim);
    script.answer("v2", ratio(0.01));
    sim.run_until(60, |s| s.info().last_known_good_version == "v2" && s.info().watch_until.is_none());
    sim.step();
    let runs = sim.engine.analysis(&sim.ns, &sim.entity).unwrap();
    let run = runs.iter().find(|r| r.version == "v2").unwrap();
    assert_eq!(run.phase, AnalysisPhase::Successful, "{run:?}");
    assert!(run.ended.is_some());
    // Measured every 30 s from the start of the rollout to the end of the
    // watch, never faster.
    let asked = script.asked.borrow();
    assert!(asked.len() >= 4, "{asked:?}");
    assert!(asked.windows(2).all(|w| w[1].2 - w[0].2 >= 30 * SEC), "{asked:?}");
    assert!(sim.engine.events(&sim.ns, &sim.entity, 0, usize::MAX).unwrap().iter().all(|e| e.kind != EventKind::VersionBad));
}

fn gated_plan(metric: Metric) -> RolloutOptions {
    let analysis = Box::new(Analysis { metrics: vec![metric], args: Vec::new(), starting_step: None });
    let first = PlanStep { analysis: Some(analysis), ..PlanStep::new(Amount::Count(1)) };
    RolloutOptions { steps: vec![first, PlanStep::new(pct(100))], ..options(100) }
}

#[test]
fn an_inline_step_holds_until_its_analysis_passed() {
    let metric =
        Metric { interval_secs: Some(60), count: Some(3), success_condition: Some("result[0] < 0.05".into()), ..Metric::new("err", "{}") };
    let mut sim = rolling(5, gated_plan(metric));
    let script = with_provider(&mut sim);
    script.answer("v2", ratio(0.0));
    // One target moves and is judged after 60 s; three measurements a
    // minute apart follow; only then does the rest move.
    sim.run_until(12, |s| on(s, "v2") == 1);
    let moved_at = sim.now;
    sim.run_until(60, |s| on(s, "v2") > 1);
    assert!(sim.now - moved_at >= 180 * SEC, "moved on after {} s", (sim.now - moved_at) / SEC);
    assert_eq!(script.asked.borrow().len(), 3);
    sim.run_until(40, |s| s.info().last_known_good_version == "v2");
}

#[test]
fn an_inline_step_that_fails_rolls_back() {
    let metric = Metric { success_condition: Some("result[0] < 0.05".into()), ..Metric::new("err", "{}") };
    let mut sim = rolling(5, gated_plan(metric));
    let script = with_provider(&mut sim);
    script.answer("v2", ratio(0.2));
    sim.run_until(40, |s| s.info().last_known_bad_version == "v2");
    sim.run_until(20, |s| on(s, "v1") == 5);
    assert!(events(&sim, EventKind::AnalysisFinished).iter().any(|d| d.starts_with("analysis of step 1 failed")));
}

#[test]
fn no_data_takes_its_configured_outcome_and_inconclusive_pauses_until_promote() {
    for (no_data, expect_bad) in [(AnalysisPhase::Inconclusive, false), (AnalysisPhase::Failed, true)] {
        let metric = Metric { no_data, success_condition: Some("result[0] < 0.05".into()), ..Metric::new("err", "{}") };
        let mut sim = rolling(5, gated_plan(metric));
        let script = with_provider(&mut sim);
        script.answer("v2", Ok(MetricValue::List(Vec::new())));
        if expect_bad {
            sim.run_until(40, |s| s.info().last_known_bad_version == "v2");
            continue;
        }
        sim.run_until(40, |s| s.info().paused);
        assert_eq!(sim.info().pause_reason, Some("analysis_inconclusive"));
        let paused = events(&sim, EventKind::Paused);
        assert!(paused[0].starts_with("analysis_inconclusive: metric \"err\" assessed inconclusive"), "{paused:?}");
        // Held: nothing more moves, however long.
        for _ in 0..20 {
            sim.step();
        }
        assert_eq!(on(&sim, "v2"), 1);
        assert!(sim.engine.promote(&sim.ns, &sim.entity, false, sim.now).unwrap());
        assert!(!sim.info().paused);
        sim.run_until(40, |s| s.info().last_known_good_version == "v2");
    }
}

#[test]
fn a_failing_metric_set_to_pause_pauses_and_abort_rolls_back() {
    let metric = Metric { on_failure: OnFailure::Pause, success_condition: Some("result[0] < 0.05".into()), ..Metric::new("err", "{}") };
    let mut sim = rolling(5, gated_plan(metric));
    let script = with_provider(&mut sim);
    script.answer("v2", ratio(0.5));
    sim.run_until(40, |s| s.info().paused);
    assert_eq!(sim.info().pause_reason, Some("analysis_failed"));
    assert_eq!(sim.info().last_known_bad_version, "");
    assert!(sim.engine.abort(&sim.ns, &sim.entity, sim.now).unwrap());
    sim.run_until(20, |s| on(s, "v1") == 5);
}

#[test]
fn a_dry_run_metric_never_fails_the_rollout() {
    let dry = Metric { dry_run: true, ..error_rate(30) };
    let opts = RolloutOptions { analysis: Some(template(vec![dry])), ..options(50) };
    let mut sim = rolling(4, opts);
    let script = with_provider(&mut sim);
    script.answer("v2", ratio(0.9));
    sim.run_until(60, |s| s.info().last_known_good_version == "v2");
    assert!(!script.asked.borrow().is_empty());
    let runs = sim.engine.analysis(&sim.ns, &sim.entity).unwrap();
    let run = runs.iter().find(|r| r.version == "v2").unwrap();
    assert_eq!(run.metrics[0].phase, AnalysisPhase::Failed);
    assert!(run.metrics[0].dry_run);
}

#[test]
fn errors_count_against_the_consecutive_error_limit() {
    let metric = Metric { consecutive_error_limit: 2, ..error_rate(10) };
    let opts = RolloutOptions { analysis: Some(template(vec![metric])), watch_secs: 600, ..options(20) };
    let mut sim = rolling(10, opts);
    let script = with_provider(&mut sim);
    script.answer("v2", Err("connection refused".into()));
    sim.run_until(30, |s| s.info().last_known_bad_version == "v2");
    let runs = sim.engine.analysis(&sim.ns, &sim.entity).unwrap();
    let run = runs.iter().find(|r| r.version == "v2").unwrap();
    assert_eq!(run.phase, AnalysisPhase::Error);
    assert_eq!(run.metrics[0].consecutive_error, 3);
    assert!(run.message.contains("3 errors in a row > consecutiveErrorLimit (2)"), "{}", run.message);
    assert!(run.metrics[0].measurements[0].message.contains("connection refused"));
    // Recovery within the limit resets the count.
    let metric = Metric { consecutive_error_limit: 2, ..error_rate(10) };
    let opts = RolloutOptions { analysis: Some(template(vec![metric])), ..options(20) };
    let mut sim = rolling(10, opts);
    let script = with_provider(&mut sim);
    for i in 0..40 {
        script.answer("v2", if i % 3 == 2 { ratio(0.0) } else { Err("timeout".into()) });
        sim.step();
    }
    assert_ne!(sim.info().last_known_bad_version, "v2");
}

#[test]
fn without_a_provider_a_due_measurement_is_an_error() {
    let metric = Metric { consecutive_error_limit: 0, ..error_rate(10) };
    let opts = RolloutOptions { analysis: Some(template(vec![metric])), ..options(20) };
    let mut sim = rolling(10, opts);
    sim.run_until(10, |s| s.info().last_known_bad_version == "v2");
    let runs = sim.engine.analysis(&sim.ns, &sim.entity).unwrap();
    assert!(runs[0].metrics[0].measurements[0].message.contains("no metric provider"));
}

#[test]
fn runs_and_templates_survive_a_snapshot() {
    let opts = RolloutOptions { analysis: Some(template(vec![error_rate(60)])), ..options(20) };
    let mut sim = rolling(10, opts.clone());
    let script = with_provider(&mut sim);
    script.answer("v2", ratio(0.01));
    for _ in 0..10 {
        sim.step();
    }
    let before = sim.engine.analysis(&sim.ns, &sim.entity).unwrap().to_vec();
    assert!(!before.is_empty() && !before[0].metrics[0].measurements.is_empty());
    let mut restored = Engine::restore(&sim.engine.snapshot()).unwrap();
    assert_eq!(restored.analysis(&sim.ns, &sim.entity).unwrap(), &before[..]);
    assert_eq!(restored.rollout_info(&sim.ns, &sim.entity).unwrap().options, sim.info().options);
    // And the journal: a delta carries the runs.
    let checkpoint = sim.engine.checkpoint_entity(&sim.ns, &sim.entity).unwrap();
    sim.step();
    sim.step();
    sim.step();
    let delta = sim.engine.entity_delta(&sim.ns, &sim.entity).unwrap();
    restored = Engine::restore(&checkpoint).unwrap();
    restored.apply_entity_delta(&delta).unwrap();
    assert_eq!(restored.analysis(&sim.ns, &sim.entity).unwrap(), sim.engine.analysis(&sim.ns, &sim.entity).unwrap());
}

#[test]
fn bad_templates_are_refused_naming_the_metric_and_position() {
    let mut engine = Engine::new();
    let bad = |metric: Metric| {
        let opts = RolloutOptions { analysis: Some(template(vec![metric])), ..RolloutOptions::default() };
        Engine::new().set_rollout_options("p", "e", Some(opts)).unwrap_err()
    };
    let e = bad(Metric { success_condition: Some("result[0] >= ".into()), ..Metric::new("rate", "{}") });
    assert_eq!(e.code(), ErrorCode::InvalidOptions);
    assert!(e.to_string().contains("metric \"rate\"") && e.to_string().contains("at character 14"), "{e}");
    let e = bad(Metric { success_condition: Some("result < {{args.token}}".into()), ..Metric::new("rate", "{}") });
    assert!(e.to_string().contains("cannot read a secret"), "{e}");
    let e = bad(Metric { success_condition: Some("result < {{args.nope}}".into()), ..Metric::new("rate", "{}") });
    assert!(e.to_string().contains("names no argument"), "{e}");
    let e = bad(Metric { failure_limit: -1, ..Metric::new("rate", "{}") });
    assert!(e.to_string().contains("consecutiveSuccessLimit"), "{e}");
    let e = bad(Metric { count: Some(3), ..Metric::new("rate", "{}") });
    assert!(e.to_string().contains("needs an interval"), "{e}");
    // A secret stays a placeholder in the provider, for the binding.
    let opts = RolloutOptions {
        analysis: Some(template(vec![Metric::new("m", r#"{"web":{"headers":[{"key":"A","value":"{{args.token}}"}]}}"#)])),
        ..RolloutOptions::default()
    };
    engine.set_rollout_options("p", "e", Some(opts)).unwrap();
    let kept = engine.rollout_info("p", "e").unwrap().options.analysis.unwrap();
    assert!(kept.metrics[0].provider.contains("{{args.token}}"));
}

/// Answers a comparative metric's samples: the canary's latencies are the
/// baseline's times `slowdown`, each side 50 values spread by a fixed
/// pattern (so every run sees the same samples).
struct Latencies {
    slowdown: f64,
    roles: Rc<RefCell<Vec<String>>>,
}

impl MetricProvider for Latencies {
    fn measure(&mut self, _: &HookContext<'_>, request: &MeasureRequest<'_>) -> Result<Measured, HookError> {
        self.roles.borrow_mut().push(format!("{}:{}", request.metric, request.role));
        let factor = if request.role == "canary" { self.slowdown } else { 1.0 };
        let samples = (0..50).map(|i| MetricValue::Number(factor * (90.0 + ((i * 37) % 23) as f64))).collect();
        Ok(Measured::of(MetricValue::List(samples), &format!("latency{{role=\"{}\"}}", request.role)))
    }
}

fn canary_step(slowdown: f64) -> (Sim, Rc<RefCell<Vec<String>>>) {
    use orchestrator_engine::canary::{Direction, NanStrategy};
    let p99 = orchestrator_engine::CanaryMetric {
        name: "p99".into(),
        group: "latency".into(),
        baseline: r#"{"prometheus":{"query":"latency{role=\"baseline\"}"}}"#.into(),
        canary: r#"{"prometheus":{"query":"latency{role=\"canary\"}"}}"#.into(),
        direction: Direction::Increase,
        nan_strategy: NanStrategy::Remove,
        remove_outliers: false,
        critical: false,
        must_have_data: true,
        allowed_increase: 110,
        allowed_decrease: 100,
    };
    let judge =
        orchestrator_engine::CanaryJudge { metrics: vec![p99], groups: Vec::new(), pass: 95, marginal: 75, confidence: 98, tolerance: 25 };
    let metric = Metric { canary: Some(Box::new(judge)), ..Metric::new("canary-score", "") };
    let mut sim = rolling(5, gated_plan(metric));
    let roles = Rc::new(RefCell::new(Vec::new()));
    sim.engine.set_metric_provider(Some(Box::new(Latencies { slowdown, roles: roles.clone() })));
    (sim, roles)
}

#[test]
fn a_canary_judged_slower_than_its_baseline_fails_its_step_and_an_unchanged_one_passes() {
    let (mut slow, roles) = canary_step(1.3);
    slow.run_until(40, |s| s.info().last_known_bad_version == "v2");
    assert_eq!(roles.borrow()[..2], ["p99:baseline".to_owned(), "p99:canary".to_owned()]);
    let runs = slow.engine.analysis(&slow.ns, &slow.entity).unwrap();
    let m = &runs.iter().find(|r| r.kind == RunKind::Step(0)).unwrap().metrics[0].measurements[0];
    assert_eq!((m.phase, m.value.as_str()), (AnalysisPhase::Failed, "0"));
    assert!(m.message.starts_with("Fail: score 0 below 75; failing: p99; p99 High (shift"), "{}", m.message);
    assert!(m.query.contains("p99 baseline: latency{role=\"baseline\"}; p99 canary: latency{role=\"canary\"}"), "{}", m.query);

    let (mut same, _) = canary_step(1.0);
    same.run_until(40, |s| s.info().last_known_good_version == "v2");
    let runs = same.engine.analysis(&same.ns, &same.entity).unwrap();
    let m = &runs.iter().find(|r| r.kind == RunKind::Step(0)).unwrap().metrics[0].measurements[0];
    assert_eq!((m.phase, m.value.as_str()), (AnalysisPhase::Successful, "100"));
    assert!(m.message.contains("p99 Pass (the canary's and the baseline's samples are identical)"), "{}", m.message);
}

/// Answers a fixed sequence of values, one per measurement.
struct Sequence(Rc<RefCell<Vec<f64>>>);

impl MetricProvider for Sequence {
    fn measure(&mut self, _: &HookContext<'_>, _: &MeasureRequest<'_>) -> Result<Measured, HookError> {
        let next = self.0.borrow_mut().remove(0);
        Ok(Measured::of(MetricValue::Number(next), "seq"))
    }
}

/// Argo's roll-up of a metric whose measurements come out as `values`
/// (below 1 succeeds, 1 or more fails): the step's run as it ended.
fn rolled_up(metric: Metric, values: &[f64]) -> orchestrator_engine::AnalysisRun {
    let metric = Metric { interval_secs: Some(10), success_condition: Some("result < 1".into()), ..metric };
    let mut sim = rolling(5, gated_plan(metric));
    sim.engine.set_metric_provider(Some(Box::new(Sequence(Rc::new(RefCell::new(values.to_vec()))))));
    sim.run_until(60, |s| s.engine.analysis(&s.ns, &s.entity).unwrap().iter().any(|r| r.kind == RunKind::Step(0) && r.ended.is_some()));
    sim.engine.analysis(&sim.ns, &sim.entity).unwrap().iter().find(|r| r.kind == RunKind::Step(0)).unwrap().clone()
}

#[test]
fn limits_roll_up_as_argo_rolls_them_up() {
    let base = |f: fn(Metric) -> Metric| f(Metric::new("m", "{}"));
    // failureLimit: failures beyond it fail the metric.
    let run = rolled_up(base(|m| Metric { count: Some(4), failure_limit: 1, ..m }), &[0.0, 5.0, 0.0, 5.0]);
    assert_eq!((run.phase, run.metrics[0].failed), (AnalysisPhase::Failed, 2));
    let run = rolled_up(base(|m| Metric { count: Some(4), failure_limit: 1, ..m }), &[0.0, 5.0, 0.0, 0.0]);
    assert_eq!((run.phase, run.metrics[0].count), (AnalysisPhase::Successful, 4));
    // consecutiveSuccessLimit with failureLimit -1: three in a row pass it...
    let run = rolled_up(
        base(|m| Metric { count: Some(6), failure_limit: -1, consecutive_success_limit: 3, ..m }),
        &[5.0, 0.0, 0.0, 0.0, 9.0, 9.0],
    );
    assert_eq!((run.phase, run.metrics[0].count), (AnalysisPhase::Successful, 4));
    // ...the count reached without them fails it; with failureLimit applicable too, inconclusive.
    let run = rolled_up(base(|m| Metric { count: Some(4), failure_limit: -1, consecutive_success_limit: 3, ..m }), &[0.0, 5.0, 0.0, 5.0]);
    assert_eq!(run.phase, AnalysisPhase::Failed);
    assert!(run.metrics[0].message.contains("without consecutiveSuccessLimit (3)"), "{}", run.metrics[0].message);
    let run = rolled_up(base(|m| Metric { count: Some(3), failure_limit: 2, consecutive_success_limit: 3, ..m }), &[0.0, 5.0, 0.0]);
    assert_eq!(run.phase, AnalysisPhase::Inconclusive);
    // inconclusiveLimit: both conditions false is inconclusive.
    let neither = |m: Metric| Metric { count: Some(3), inconclusive_limit: 1, failure_condition: Some("result > 5".into()), ..m };
    let run = rolled_up(base(neither), &[2.0, 0.5, 3.0]);
    assert_eq!((run.phase, run.metrics[0].inconclusive), (AnalysisPhase::Inconclusive, 2));
}

/// A pipeline's verification: a version good upstream is measured here
/// (the provider is asked about that version) before it is promoted; one
/// whose verification fails is never promoted, and the rollout here is not
/// judged by it.
#[test]
fn a_pipeline_verifies_a_version_before_promoting_it_and_never_promotes_one_that_failed() {
    use orchestrator_engine::{Pipeline, Upstream};
    let mut sim = rolling(10, options(100));
    sim.run_until(100, |s| s.info().last_known_good_version == "v2");
    let script = with_provider(&mut sim);
    let verify = template(vec![Metric { count: Some(2), ..error_rate(60) }]);
    let pipeline = Pipeline { from: vec!["staging/app".into()], all: false, soak_secs: 0, approval: false, verification: Some(verify) };
    assert!(sim.engine.set_pipeline("prod", "app", Some(pipeline)).unwrap());
    let since = sim.now - 1;
    let good = |v: &str| {
        vec![Upstream {
            name: "staging/app".into(),
            found: true,
            good: Some(v.into()),
            good_since: Some(since),
            rolling: v.into(),
            bad: vec![],
        }]
    };
    script.answer("v3", ratio(0.01));
    let advance = |sim: &mut Sim, ups: Vec<Upstream>| sim.engine.advance_pipeline("prod", "app", Some(ups), sim.now).unwrap();
    assert_eq!(advance(&mut sim, good("v3")), None, "it starts the verification");
    let waiting = sim.engine.pipeline("prod", "app", Some(good("v3")), sim.now).unwrap().waiting;
    assert_eq!(waiting.as_deref(), Some("v3 is being verified here before it is promoted"));
    for _ in 0..20 {
        sim.step();
        if advance(&mut sim, good("v3")).is_some() {
            break;
        }
    }
    assert_eq!(sim.info().target_version, "v3", "promoted once verified");
    let runs = sim.engine.analysis("prod", "app").unwrap();
    let run = runs.iter().find(|r| r.kind == RunKind::Verification).unwrap();
    assert_eq!((run.version.as_str(), run.phase), ("v3", AnalysisPhase::Successful));
    assert!(run.metrics[0].measurements.iter().all(|m| m.query.contains("version=\"v3\"")), "measured as v3: {run:?}");
    sim.run_until(200, |s| s.info().last_known_good_version == "v3");
    // v4 fails its verification: never promoted, and nothing here is judged by it.
    script.answer("v4", ratio(0.5));
    advance(&mut sim, good("v4"));
    for _ in 0..20 {
        sim.step();
        assert_eq!(advance(&mut sim, good("v4")), None);
    }
    let view = sim.engine.pipeline("prod", "app", Some(good("v4")), sim.now).unwrap();
    assert!(view.waiting.as_deref().is_some_and(|w| w.starts_with("v4 failed its verification here (failed: ")), "{view:?}");
    let info = sim.info();
    assert_eq!(
        (info.target_version.as_str(), info.last_known_good_version.as_str(), info.last_known_bad_version.as_str()),
        ("v3", "v3", "")
    );
    assert!(events(&sim, EventKind::AnalysisFinished).iter().any(|e| e.starts_with("verification of v4 failed")));
    // Kept across a snapshot, template and runs.
    let restored = Engine::restore(&sim.engine.snapshot()).unwrap();
    assert_eq!(restored.pipeline("prod", "app", Some(good("v4")), sim.now).unwrap(), view);
}
