//! Analysis runs: when a metric is due, how a measurement is judged, and
//! how measurements roll up into a metric's and a run's phase, as Argo
//! Rollouts' analysis controller does (`assessMetricStatus`,
//! `assessRunStatus`, `EvaluateResult`).

use serde::{Deserialize, Serialize};

use super::{expr, Analysis, MeasureRequest, Measured, Metric, MetricProvider, OnFailure, Phase, Value};
use crate::entity::Entity;
use crate::hooks::HookContext;
use crate::log::EventKind;
use crate::model::{secs_to_ms, Timestamp};

/// Argo's retry interval after an Error, for a metric with no interval.
const ERROR_RETRY_MS: i64 = 10_000;
/// The most bytes of a measurement's value, query and message kept.
const MAX_KEPT: usize = 1024;
/// How many runs an entity keeps (live ones and the latest ended).
const RUNS_KEPT: usize = 8;

/// Which analysis a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RunKind {
    /// The rollout option `analysis`, through the rollout and its watch.
    Background,
    /// The analysis of plan step N (0-based), which holds the step.
    Step(u32),
    /// A pipeline's verification of a version before it is promoted here
    /// (see [`crate::pipeline`]); it judges that version, not the rollout.
    Verification,
}

/// One measurement of a metric.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Measurement {
    pub phase: Phase,
    /// When it was taken (the step's time), in ms.
    pub at: Timestamp,
    /// The value as JSON (`"NaN"` for NaN), cut at 1 KiB.
    pub value: String,
    /// The query as sent, secrets redacted (comparative metrics: both).
    pub query: String,
    /// Why it was judged so: the condition and its outcome, no data, or
    /// the provider's error.
    pub message: String,
}

impl Measurement {
    /// An Error measurement at `at`, nothing measured yet: what a
    /// measurement is until its provider answers.
    const fn error_at(at: Timestamp) -> Self {
        Self { phase: Phase::Error, at, value: String::new(), query: String::new(), message: String::new() }
    }
}

/// A metric's measurements and counts within a run (Argo's
/// `MetricResult`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricRun {
    pub name: String,
    pub phase: Phase,
    /// Why it completed as it did.
    pub message: String,
    pub dry_run: bool,
    /// Measurements that were not errors.
    pub count: u32,
    pub successful: u32,
    pub failed: u32,
    pub inconclusive: u32,
    pub error: u32,
    pub consecutive_error: u32,
    pub consecutive_success: u32,
    /// When the last measurement was taken (kept when retention drops it).
    pub last_at: Option<Timestamp>,
    /// The latest measurements, oldest first (at most the retention).
    pub measurements: Vec<Measurement>,
}

/// One run of a template against one rollout of a version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisRun {
    pub kind: RunKind,
    pub version: String,
    /// When the rollout it judges started (which rollout it belongs to).
    pub rollout: Timestamp,
    pub started: Timestamp,
    pub ended: Option<Timestamp>,
    pub phase: Phase,
    /// In words, why the run passed, failed or holds.
    pub message: String,
    /// Ended inconclusive (or failed, for a metric that pauses): the
    /// rollout is paused on it until `promote` or `resume` (go on) or
    /// `abort`.
    pub holding: bool,
    pub metrics: Vec<MetricRun>,
}

impl AnalysisRun {
    fn live(&self) -> bool {
        self.ended.is_none()
    }
}

/// The template a run follows, where the entity's options still hold it.
fn template(entity: &Entity, kind: RunKind) -> Option<&Analysis> {
    match kind {
        RunKind::Background => entity.options.analysis.as_deref(),
        RunKind::Step(i) => entity.options.steps.get(i as usize).and_then(|s| s.analysis.as_deref()),
        RunKind::Verification => entity.pipeline.as_deref()?.pipeline.as_ref()?.verification.as_deref(),
    }
}

/// What [`RunKind`] a run is, for its events.
fn what(kind: RunKind, version: &str) -> String {
    match kind {
        RunKind::Background => "background analysis".to_owned(),
        RunKind::Step(i) => format!("analysis of step {}", i.saturating_add(1)),
        RunKind::Verification => format!("verification of {version}"),
    }
}

/// The pipeline's verification of `version` here: `None` while none ran
/// (one starts now, when the pipeline has a template), else its phase
/// (running until it ends) and message.
pub(crate) fn verification(entity: &mut Entity, version: &str, now: Timestamp) -> Option<(Phase, String)> {
    let found = entity.analysis.iter().rev().find(|r| r.kind == RunKind::Verification && r.version == version);
    if let Some(run) = found {
        return Some((run.phase, run.message.clone()));
    }
    open(entity, RunKind::Verification, version.to_owned(), now, now).then_some((Phase::Running, String::new()))
}

/// Opens a run of `kind` on `version` (for the rollout that started at
/// `rollout`) from its template, logs `analysis_started`, and keeps at most
/// [`RUNS_KEPT`] runs (the oldest ended go). Answers whether the template
/// was there to open one.
fn open(entity: &mut Entity, kind: RunKind, version: String, rollout: Timestamp, now: Timestamp) -> bool {
    let Some(spec) = template(entity, kind) else {
        return false;
    };
    let metrics = spec.metrics.iter().map(|m| MetricRun { name: m.name.clone(), dry_run: m.dry_run, ..MetricRun::default() }).collect();
    let names: Vec<&str> = spec.metrics.iter().map(|m| m.name.as_str()).collect();
    let detail = format!("{} started: {}", what(kind, &version), names.join(", "));
    let sym = entity.versions.intern(&version);
    let run = AnalysisRun {
        kind,
        version,
        rollout,
        started: now,
        ended: None,
        phase: Phase::Running,
        message: String::new(),
        holding: false,
        metrics,
    };
    entity.analysis.push(run);
    while entity.analysis.len() > RUNS_KEPT {
        match entity.analysis.iter().position(|r| !r.live()) {
            Some(oldest) => entity.analysis.remove(oldest),
            None => break,
        };
    }
    entity.event(now, EventKind::AnalysisStarted, sym, detail);
    true
}

/// When the open rollout of the rolling version started.
fn rollout_start(entity: &Entity) -> Option<Timestamp> {
    let rolling = entity.rolling;
    entity.history.rollouts.iter().rev().find(|r| r.version == rolling && r.outcome.is_open()).map(|r| r.started)
}

/// When `metric` is next due in `run`, if it is.
fn next_due(metric: &Metric, result: &MetricRun, started: Timestamp) -> Option<Timestamp> {
    if result.phase.completed() {
        return None;
    }
    let Some(last) = result.last_at else {
        return Some(started.saturating_add(secs_to_ms(metric.initial_delay_secs)));
    };
    if metric.effective_count().is_some_and(|n| result.count >= n) {
        return None;
    }
    let last_error = result.measurements.last().is_some_and(|m| m.phase == Phase::Error);
    match metric.interval_secs {
        Some(secs) => Some(last.saturating_add(secs_to_ms(secs))),
        None if last_error => Some(last.saturating_add(ERROR_RETRY_MS)),
        None => Some(last),
    }
}

/// Whether a step at `now` has a measurement to take: only then may the
/// step have to wait for a provider.
pub(crate) fn due(entity: &Entity, now: Timestamp) -> bool {
    entity.analysis.iter().filter(|r| r.live()).any(|run| {
        template(entity, run.kind)
            .is_some_and(|t| t.metrics.iter().zip(&run.metrics).any(|(m, r)| next_due(m, r, run.started).is_some_and(|at| at <= now)))
    })
}

/// Takes every measurement due at `now` through `provider` and judges the
/// runs. A run that fails makes the version bad (or pauses, for a metric
/// set to); an inconclusive one pauses the rollout.
pub(crate) fn measure(entity: &mut Entity, mut provider: Option<&mut (dyn MetricProvider + '_)>, ctx: &HookContext<'_>, now: Timestamp) {
    for index in 0..entity.analysis.len() {
        let Some(run) = entity.analysis.get(index).filter(|r| r.live()) else {
            continue;
        };
        let Some(spec) = template(entity, run.kind).cloned() else {
            end(entity, index, now, Phase::Successful, "its template was removed from the options".into());
            continue;
        };
        let mut run = run.clone();
        let mut taken = Vec::new();
        for (i, metric) in spec.metrics.iter().enumerate() {
            // Argo's `IsTerminating`: a metric that decides has failed, so
            // the others stop measuring.
            if run.metrics.iter().any(stops) {
                break;
            }
            let Some(result) = run.metrics.get_mut(i) else {
                break;
            };
            if next_due(metric, result, run.started).is_some_and(|at| at <= now) {
                // A verification measures the version it verifies.
                let verifying = HookContext { version: &run.version, ..*ctx };
                let ctx = if run.kind == RunKind::Verification { &verifying } else { ctx };
                let measurement = take(metric, provider.as_deref_mut(), ctx, now);
                record(metric, result, measurement.clone());
                result.phase = assess(metric, result, false).0;
                taken.push((metric.name.clone(), measurement));
            }
        }
        let version = entity.versions.intern(&run.version);
        for (name, m) in &taken {
            let detail = format!("metric \"{name}\" measured {}: {}", m.phase.word(), m.message);
            entity.event(now, EventKind::AnalysisMeasured, version, detail);
        }
        let terminating = run.metrics.iter().any(stops);
        let phase = settle(&spec, &mut run.metrics, terminating);
        if let Some(slot) = entity.analysis.get_mut(index) {
            *slot = run;
        }
        if phase.completed() {
            let message = verdict(entity.analysis.get(index).map(|r| r.metrics.as_slice()).unwrap_or_default(), phase);
            finish(entity, index, &spec, phase, message, now);
        }
    }
}

/// Whether a metric's result terminates its run: it decides, and failed,
/// errored or was inconclusive.
fn stops(result: &MetricRun) -> bool {
    !result.dry_run && matches!(result.phase, Phase::Failed | Phase::Error | Phase::Inconclusive)
}

/// Completes what a terminating run leaves open, words every completed
/// metric, and answers the run's phase.
fn settle(spec: &Analysis, results: &mut [MetricRun], terminating: bool) -> Phase {
    for (metric, result) in spec.metrics.iter().zip(results.iter_mut()) {
        if !result.phase.completed() && terminating {
            result.phase = assess(metric, result, true).0;
        }
        if result.phase.completed() && result.message.is_empty() {
            result.message = assess(metric, result, true).1;
        }
    }
    roll_up(results)
}

/// Asks the provider for one measurement and judges it.
fn take(metric: &Metric, provider: Option<&mut (dyn MetricProvider + '_)>, ctx: &HookContext<'_>, now: Timestamp) -> Measurement {
    if let Some(judge) = metric.canary.as_deref() {
        return take_canary(metric, judge, provider, ctx, now);
    }
    let request = MeasureRequest { metric: &metric.name, provider: &metric.provider, role: "", at: now };
    let measured = ask(provider, ctx, &request);
    let mut out = Measurement::error_at(now);
    match measured {
        Err(error) => out.message = cut(error),
        Ok(measured) => {
            out.value = cut(measured.text);
            out.query = cut(measured.query);
            let (phase, mut message) = if measured.value.is_empty() {
                (metric.no_data, format!("no data: counted {} (noData)", metric.no_data.word()))
            } else {
                evaluate(metric, &measured.value)
            };
            for warning in measured.warnings.iter().take(3) {
                message.push_str("; warning: ");
                message.push_str(warning);
            }
            out.phase = phase;
            out.message = cut(message);
        }
    }
    out
}

/// What the engine's provider measured for `request`, or why nothing was.
fn ask(provider: Option<&mut (dyn MetricProvider + '_)>, ctx: &HookContext<'_>, request: &MeasureRequest<'_>) -> Result<Measured, String> {
    match provider {
        Some(provider) => provider.measure(ctx, request).map_err(|e| e.to_string()),
        None => Err("no metric provider is set on this engine".to_owned()),
    }
}

/// The numbers of a measured value (a number, or a list of them, nested
/// lists flattened; anything else is not a sample).
fn samples(value: &Value, out: &mut Vec<f64>) {
    match value {
        Value::Number(n) => out.push(*n),
        Value::List(items) => items.iter().for_each(|v| samples(v, out)),
        _ => {}
    }
}

/// A comparative metric's measurement: every canary metric's baseline and
/// canary asked, classified, and scored by the canary judge. The score is
/// the value; the verdict decides unless the metric has conditions of its
/// own (which read the score as `result`).
fn take_canary(
    metric: &Metric,
    judge: &super::judge::CanaryJudge,
    mut provider: Option<&mut (dyn MetricProvider + '_)>,
    ctx: &HookContext<'_>,
    now: Timestamp,
) -> Measurement {
    let mut out = Measurement::error_at(now);
    let mut verdicts = Vec::with_capacity(judge.metrics.len());
    let mut queries = Vec::new();
    for m in &judge.metrics {
        let mut sides: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
        for (side, (role, json)) in sides.iter_mut().zip([("baseline", &m.baseline), ("canary", &m.canary)]) {
            let request = MeasureRequest { metric: &m.name, provider: json, role, at: now };
            match ask(provider.as_deref_mut(), ctx, &request) {
                Ok(measured) => {
                    samples(&measured.value, side);
                    queries.push(format!("{} {role}: {}", m.name, measured.query));
                }
                Err(error) => {
                    out.message = cut(format!("{} {role}: {error}", m.name));
                    return out;
                }
            }
        }
        let [baseline, canary] = sides;
        verdicts.push(super::judge::classify(m, &baseline, &canary, judge));
    }
    let card = super::judge::score(judge, verdicts);
    let said: Vec<String> = card.metrics.iter().map(|v| format!("{} {:?} ({})", v.name, v.classification, v.reason)).collect();
    out.query = cut(queries.join("; "));
    let Some(score) = card.score else {
        out.value = "null".into();
        out.phase = metric.no_data;
        out.message = cut(format!("no data: {}, counted {} (noData); {}", card.reason, metric.no_data.word(), said.join("; ")));
        return out;
    };
    out.value = (score.round() as i64).to_string();
    let (phase, why) = if metric.success_condition.is_some() || metric.failure_condition.is_some() {
        evaluate(metric, &Value::Number(score))
    } else {
        let phase = match card.verdict {
            "Pass" => Phase::Successful,
            "Marginal" => Phase::Inconclusive,
            _ => Phase::Failed,
        };
        (phase, format!("{}: {}", card.verdict, card.reason))
    };
    out.phase = phase;
    out.message = cut(format!("{why}; {}", said.join("; ")));
    out
}

fn cut(mut text: String) -> String {
    if text.len() > MAX_KEPT {
        let mut at = MAX_KEPT;
        while !text.is_char_boundary(at) {
            at = at.saturating_sub(1);
        }
        text.truncate(at);
        text.push('…');
    }
    text
}

/// Argo's `EvaluateResult`: both conditions false is Inconclusive; with
/// only a success condition, false is Failed; with only a failure
/// condition, false is Successful; none is Successful.
fn evaluate(metric: &Metric, value: &Value) -> (Phase, String) {
    fn check<'a>(condition: &'a Option<String>, value: &Value) -> Result<Option<(bool, &'a str)>, String> {
        let Some(text) = condition else {
            return Ok(None);
        };
        let parsed = expr::parse(text).map_err(|e| e.reason)?;
        match expr::eval(&parsed, value)? {
            Value::Bool(b) => Ok(Some((b, text.as_str()))),
            other => Err(format!("\"{text}\" gave {}, not true or false", other.kind())),
        }
    }
    let (success, failure) = match (check(&metric.success_condition, value), check(&metric.failure_condition, value)) {
        (Ok(s), Ok(f)) => (s, f),
        (Err(e), _) | (_, Err(e)) => return (Phase::Error, format!("the condition could not be evaluated: {e}")),
    };
    let said = |c: Option<(bool, &str)>, which: &str| c.map(|(b, text)| format!("{which} {text} is {b}"));
    let message =
        [said(success, "successCondition"), said(failure, "failureCondition")].into_iter().flatten().collect::<Vec<_>>().join(", ");
    let (passed, failed) = match (success, failure) {
        (None, None) => (true, false),
        (Some((s, _)), None) => (s, !s),
        (None, Some((f, _))) => (!f, f),
        (Some((s, _)), Some((f, _))) => (s, f),
    };
    let phase = if failed {
        Phase::Failed
    } else if passed {
        Phase::Successful
    } else {
        Phase::Inconclusive
    };
    let message = if message.is_empty() { "no condition: any value passes".to_owned() } else { message };
    (phase, message)
}

/// Counts a measurement (Argo: errors do not count toward `count`).
fn record(metric: &Metric, result: &mut MetricRun, measurement: Measurement) {
    let add = |n: &mut u32| *n = n.saturating_add(1);
    match measurement.phase {
        Phase::Error => {
            add(&mut result.error);
            add(&mut result.consecutive_error);
            result.consecutive_success = 0;
        }
        phase => {
            add(&mut result.count);
            result.consecutive_error = 0;
            match phase {
                Phase::Successful => {
                    add(&mut result.successful);
                    add(&mut result.consecutive_success);
                }
                Phase::Failed => {
                    add(&mut result.failed);
                    result.consecutive_success = 0;
                }
                _ => {
                    add(&mut result.inconclusive);
                    result.consecutive_success = 0;
                }
            }
        }
    }
    result.last_at = Some(measurement.at);
    result.measurements.push(measurement);
    let excess = result.measurements.len().saturating_sub(metric.retention as usize);
    result.measurements.drain(..excess);
}

/// Argo's `assessMetricStatus`, with the reason in words.
pub(crate) fn assess(metric: &Metric, result: &MetricRun, terminating: bool) -> (Phase, String) {
    if result.last_at.is_none() {
        let phase = if terminating { Phase::Successful } else { Phase::Pending };
        return (phase, "the run ended before it measured".into());
    }
    if metric.consecutive_error_limit >= 0 && result.consecutive_error > metric.consecutive_error_limit as u32 {
        let why = format!("{} errors in a row > consecutiveErrorLimit ({})", result.consecutive_error, metric.consecutive_error_limit);
        return (Phase::Error, why);
    }
    if result.inconclusive > metric.inconclusive_limit as u32 {
        return (
            Phase::Inconclusive,
            format!("inconclusive ({}) > inconclusiveLimit ({})", result.inconclusive, metric.inconclusive_limit),
        );
    }
    if metric.failure_limit >= 0 && result.failed > metric.failure_limit as u32 {
        return (Phase::Failed, format!("failed ({}) > failureLimit ({})", result.failed, metric.failure_limit));
    }
    let success_limit = u32::try_from(metric.consecutive_success_limit).unwrap_or(0);
    if success_limit > 0 && result.consecutive_success >= success_limit {
        return (Phase::Successful, format!("{} successes in a row reached consecutiveSuccessLimit", result.consecutive_success));
    }
    if let Some(count) = metric.effective_count().filter(|&n| result.count >= n) {
        let reached = format!("count ({count}) reached");
        return match (metric.failure_limit >= 0, success_limit > 0) {
            (true, true) => (Phase::Inconclusive, format!("{reached} without consecutiveSuccessLimit, within failureLimit")),
            (false, true) => (Phase::Failed, format!("{reached} without consecutiveSuccessLimit ({success_limit})")),
            _ => (Phase::Successful, format!("{reached}: {} successful, {} failed", result.successful, result.failed)),
        };
    }
    if terminating {
        return (Phase::Successful, "the run ended while it measured, within its limits".into());
    }
    (Phase::Running, String::new())
}

/// A run's phase: running while a metric that decides is; then the worst
/// phase of those that decide (dry-run metrics never do).
fn roll_up(results: &[MetricRun]) -> Phase {
    let deciding = || results.iter().filter(|r| !r.dry_run);
    if deciding().any(|r| !r.phase.completed()) || results.iter().any(|r| !r.phase.completed()) {
        return Phase::Running;
    }
    deciding().map(|r| r.phase).max_by_key(|p| p.severity()).unwrap_or(Phase::Successful)
}

/// Why a run ended as it did, in words.
fn verdict(results: &[MetricRun], phase: Phase) -> String {
    let worst = results.iter().find(|r| !r.dry_run && r.phase == phase);
    match worst {
        Some(r) if phase != Phase::Successful => {
            let last =
                r.measurements.last().map(|m| format!("; last measurement {} at {}: {}", m.value, m.at, m.message)).unwrap_or_default();
            format!("metric \"{}\" assessed {} due to {}{last}", r.name, phase.word(), r.message)
        }
        _ => {
            let names: Vec<String> = results.iter().filter(|r| !r.dry_run).map(|r| format!("\"{}\" {}", r.name, r.message)).collect();
            format!("every metric passed: {}", names.join("; "))
        }
    }
}

/// Ends run `index` with `phase` and acts on it.
fn finish(entity: &mut Entity, index: usize, spec: &Analysis, phase: Phase, message: String, now: Timestamp) {
    let Some(run) = entity.analysis.get(index) else {
        return;
    };
    let pauses = match phase {
        Phase::Inconclusive => Some("analysis_inconclusive"),
        Phase::Failed | Phase::Error => {
            let by_pause =
                run.metrics.iter().zip(&spec.metrics).any(|(r, m)| r.phase == phase && !r.dry_run && m.on_failure == OnFailure::Pause);
            by_pause.then_some("analysis_failed")
        }
        _ => None,
    };
    let version = entity.versions.intern(&run.version);
    let watched = entity.watched();
    end(entity, index, now, phase, message.clone());
    let live_version = version == entity.rolling && (entity.rolling_out() || watched);
    match (phase, pauses) {
        (Phase::Successful, _) => {}
        (_, Some(reason)) if live_version => {
            if let Some(run) = entity.analysis.get_mut(index) {
                run.holding = true;
            }
            entity.pause_for_analysis(reason, &message, now);
        }
        (_, _) if live_version => entity.judged_bad(format!("analysis {message}"), now),
        _ => {}
    }
}

/// Ends run `index` now with `phase`.
fn end(entity: &mut Entity, index: usize, now: Timestamp, phase: Phase, message: String) {
    let Some(run) = entity.analysis.get_mut(index) else {
        return;
    };
    run.ended = Some(now);
    run.phase = phase;
    run.message = message.clone();
    let (kind, version) = (run.kind, run.version.clone());
    let version = entity.versions.intern(&version);
    let what = what(kind, entity.version(version));
    entity.event(now, EventKind::AnalysisFinished, version, format!("{what} {}: {message}", phase.word()));
}

/// Ends a live run whose rollout ended: each metric as Argo assesses a
/// terminated one.
fn conclude(entity: &mut Entity, index: usize, now: Timestamp) {
    let Some(kind) = entity.analysis.get(index).map(|r| r.kind) else {
        return;
    };
    let spec = template(entity, kind).cloned();
    let Some(run) = entity.analysis.get_mut(index) else {
        return;
    };
    let phase = match &spec {
        Some(spec) if spec.metrics.len() == run.metrics.len() => settle(spec, &mut run.metrics, true),
        _ => Phase::Successful,
    };
    let phase = if phase.completed() { phase } else { Phase::Successful };
    let message = format!("the rollout ended: {}", verdict(&run.metrics, phase));
    end(entity, index, now, phase, message);
}

/// After a step: starts the runs the rollout has reached (background
/// analysis from its starting step; a plan step's analysis once its
/// targets are judged, which `advance_plan` asks for) and ends the runs of
/// rollouts that ended.
pub(crate) fn schedule(entity: &mut Entity, now: Timestamp) {
    // Every step ends here: an entity that has no live run and no
    // background template (every entity without analysis) has nothing to
    // start or end, and pays no history scan or string copy for it.
    // (A plan step's run is started by `step_passed`, not here.)
    if entity.options.analysis.is_none() && !entity.analysis.iter().any(AnalysisRun::live) {
        return;
    }
    let live_rollout = (entity.rolling_out() || entity.watched()).then(|| rollout_start(entity)).flatten();
    let rolling = entity.version(entity.rolling).to_owned();
    for index in 0..entity.analysis.len() {
        let stale = entity
            .analysis
            .get(index)
            .is_some_and(|r| r.live() && r.kind != RunKind::Verification && (Some(r.rollout) != live_rollout || r.version != rolling));
        if stale {
            conclude(entity, index, now);
        }
    }
    let Some(rollout) = live_rollout else {
        return;
    };
    let reached = entity.options.analysis.as_ref().is_some_and(|a| match a.starting_step {
        Some(step) => !entity.follows_plan() || entity.progress.step >= step as usize || entity.progress.full,
        None => true,
    });
    if reached && entity.rolling_out() {
        start(entity, RunKind::Background, rollout, now);
    }
}

/// Starts a run of `kind` for the rollout that started at `rollout`,
/// unless it has one. Answers whether one was started.
pub(crate) fn start(entity: &mut Entity, kind: RunKind, rollout: Timestamp, now: Timestamp) -> bool {
    let rolling = entity.version(entity.rolling).to_owned();
    if entity.analysis.iter().any(|r| r.kind == kind && r.rollout == rollout && r.version == rolling) {
        return false;
    }
    open(entity, kind, rolling, rollout, now)
}

/// The state of plan step `step`'s analysis in the rollout under way:
/// `None` without one; otherwise whether it passed.
pub(crate) fn step_passed(entity: &mut Entity, step: usize, now: Timestamp) -> Option<bool> {
    entity.options.steps.get(step)?.analysis.as_ref()?;
    let rollout = rollout_start(entity)?;
    let kind = RunKind::Step(u32::try_from(step).unwrap_or(u32::MAX));
    let rolling = entity.version(entity.rolling).to_owned();
    let found = entity.analysis.iter().find(|r| r.kind == kind && r.rollout == rollout && r.version == rolling);
    match found {
        None => {
            start(entity, kind, rollout, now);
            Some(false)
        }
        Some(run) => Some(run.phase == Phase::Successful),
    }
}

/// `promote` or `resume` of a rollout an analysis paused: the holding runs
/// count as passed. Answers whether one held.
pub(crate) fn release(entity: &mut Entity, by: &str) -> bool {
    let mut released = false;
    for run in entity.analysis.iter_mut().filter(|r| r.holding) {
        run.holding = false;
        run.phase = Phase::Successful;
        run.message = format!("{} ({by} went on)", run.message);
        released = true;
    }
    released
}

/// Why the rollout is paused by analysis, if it is.
pub(crate) fn pause_reason(entity: &Entity) -> Option<&'static str> {
    let run = entity.analysis.iter().rev().find(|r| r.holding)?;
    Some(if run.phase == Phase::Inconclusive { "analysis_inconclusive" } else { "analysis_failed" })
}
