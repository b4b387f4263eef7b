//! Analysis: judging a version by its metrics, as Argo Rollouts'
//! AnalysisRuns do, inside the engine.
//!
//! A template ([`Analysis`]) lists metrics; each names a provider (kept as
//! the caller's JSON: the core never makes a request), how often to
//! measure, and the conditions that judge a measurement. While a version
//! rolls out (background analysis, rollout option `analysis`) or while a
//! plan step holds (inline analysis, a step's `analysis`), each step that
//! finds a measurement due asks the entity's [`MetricProvider`] for it,
//! judges it with the metric's conditions (`expr.rs`), and rolls the
//! measurements up into the metric's and the run's phase exactly as Argo
//! does (`run.rs`). A failed run makes the version bad, an inconclusive
//! one pauses the rollout.

use serde::{Deserialize, Serialize};

use crate::error::{Error, HookError};
use crate::hooks::HookContext;

pub(crate) mod expr;
pub mod judge;
pub(crate) mod run;

pub use run::{AnalysisRun, Measurement, MetricRun, RunKind};
pub(crate) use run::verification;

/// A measured value, as a condition reads `result`.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    #[default]
    Nil,
    Bool(bool),
    Number(f64),
    Text(String),
    List(Vec<Value>),
    Map(Vec<(String, Value)>),
}

impl Value {
    fn kind(&self) -> &'static str {
        match self {
            Value::Nil => "nil",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::Text(_) => "a string",
            Value::List(_) => "a list",
            Value::Map(_) => "a map",
        }
    }

    /// Whether it is no data: nil, or an empty list (Prometheus' empty
    /// vector). A zero is data.
    pub fn is_empty(&self) -> bool {
        match self {
            Value::Nil => true,
            Value::List(items) => items.is_empty(),
            _ => false,
        }
    }

    /// JSON text, with NaN and the infinities written as Prometheus writes
    /// them (`"NaN"`, `"+Inf"`, `"-Inf"`), cut at about `limit` bytes.
    pub fn to_json(&self, limit: usize) -> String {
        let mut out = String::new();
        self.write_json(&mut out, limit);
        out
    }

    fn write_json(&self, out: &mut String, limit: usize) {
        use std::fmt::Write;
        if out.len() > limit {
            out.push_str("null");
            return;
        }
        match self {
            Value::Nil => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Number(n) if n.is_nan() => out.push_str("\"NaN\""),
            Value::Number(n) if n.is_infinite() => out.push_str(if *n > 0.0 { "\"+Inf\"" } else { "\"-Inf\"" }),
            Value::Number(n) => {
                let _ = write!(out, "{n}");
            }
            Value::Text(s) => write_string(out, s),
            Value::List(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write_json(out, limit);
                }
                out.push(']');
            }
            Value::Map(entries) => {
                out.push('{');
                for (i, (key, item)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_string(out, key);
                    out.push(':');
                    item.write_json(out, limit);
                }
                out.push('}');
            }
        }
    }
}

fn write_string(out: &mut String, s: &str) {
    use std::fmt::Write;
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// What a measurement is judged as; also a metric's and a run's phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Phase {
    #[default]
    Pending,
    Running,
    Successful,
    Failed,
    Inconclusive,
    Error,
}

impl Phase {
    /// Whether it is final.
    pub fn completed(self) -> bool {
        !matches!(self, Phase::Pending | Phase::Running)
    }

    /// Argo's order of how bad a completed phase is.
    fn severity(self) -> u8 {
        match self {
            Phase::Pending | Phase::Running | Phase::Successful => 0,
            Phase::Inconclusive => 1,
            Phase::Error => 2,
            Phase::Failed => 3,
        }
    }

    pub(crate) fn word(self) -> &'static str {
        match self {
            Phase::Pending => "pending",
            Phase::Running => "running",
            Phase::Successful => "successful",
            Phase::Failed => "failed",
            Phase::Inconclusive => "inconclusive",
            Phase::Error => "error",
        }
    }
}

/// What a metric does once it fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum OnFailure {
    /// The version is bad and rolls back (Argo's abort).
    #[default]
    Rollback,
    /// The rollout pauses until `promote` (go on) or `abort`.
    Pause,
}

/// One metric of a template (Argo's `Metric`), with its args substituted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metric {
    pub name: String,
    /// The provider as JSON (`{"prometheus":{...}}`, `{"web":{...}}`,
    /// `{"function":...}`), handed to the [`MetricProvider`] as it is.
    pub provider: String,
    /// Seconds between measurements; `None`: measure `count` times (1 by
    /// default) without waiting, retrying an error after 10 seconds.
    pub interval_secs: Option<u64>,
    /// Seconds after the run starts before the first measurement.
    pub initial_delay_secs: u64,
    /// How many measurements the metric takes; `None` with an interval:
    /// until the run ends.
    pub count: Option<u32>,
    pub success_condition: Option<String>,
    pub failure_condition: Option<String>,
    /// The metric fails once more measurements than this failed; -1: never.
    pub failure_limit: i32,
    /// The metric is inconclusive once more than this were.
    pub inconclusive_limit: i32,
    /// The metric is an Error once more than this errors came in a row.
    pub consecutive_error_limit: i32,
    /// The metric succeeds once this many measurements in a row succeeded
    /// (0: off).
    pub consecutive_success_limit: i32,
    /// What a measurement with no data is: Inconclusive (the default),
    /// Failed or Successful. Never judged by the conditions.
    pub no_data: Phase,
    pub on_failure: OnFailure,
    /// A dry-run metric is measured and shown but never decides the run.
    pub dry_run: bool,
    /// How many measurements are kept (at least 1).
    pub retention: u32,
    /// A comparative metric: instead of one provider, each measurement asks
    /// every one of these metrics' baseline and canary providers, and the
    /// canary judge scores them (`result` is the score, 0 to 100).
    pub canary: Option<Box<judge::CanaryJudge>>,
}

impl Metric {
    /// A metric with Argo's defaults: one measurement, judged by `success`.
    pub fn new(name: &str, provider: &str) -> Self {
        Metric {
            name: name.to_owned(),
            provider: provider.to_owned(),
            interval_secs: None,
            initial_delay_secs: 0,
            count: None,
            success_condition: None,
            failure_condition: None,
            failure_limit: 0,
            inconclusive_limit: 0,
            consecutive_error_limit: 4,
            consecutive_success_limit: 0,
            no_data: Phase::Inconclusive,
            on_failure: OnFailure::Rollback,
            dry_run: false,
            retention: 10,
            canary: None,
        }
    }

    /// How many measurements it takes before it is done, if bounded
    /// (Argo's `EffectiveCount`: one without an interval).
    pub(crate) fn effective_count(&self) -> Option<u32> {
        self.count.or(self.interval_secs.is_none().then_some(1))
    }
}

/// A template's argument: `{{args.name}}` in a metric is replaced by its
/// value. An argument without one (Argo's `valueFrom`, a secret) is left
/// in the provider for the binding to fill where the request is made, so
/// that it is never kept with the entity or shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Arg {
    pub name: String,
    pub value: Option<String>,
}

/// A template: background analysis (rollout option `analysis`) or an
/// inline one (a plan step's `analysis`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Analysis {
    pub metrics: Vec<Metric>,
    pub args: Vec<Arg>,
    /// Background analysis starts with this plan step (0-based); `None`:
    /// with the rollout.
    pub starting_step: Option<u32>,
}

/// The most metrics a template may have.
pub const MAX_METRICS: usize = 32;
/// The most measurements a metric may keep.
pub const MAX_RETENTION: u32 = 1000;
/// The most bytes of a provider's JSON.
pub const MAX_PROVIDER: usize = 16 * 1024;

impl Analysis {
    /// Checks the template and substitutes its args: the metrics as the
    /// engine keeps them. `field` names it in errors (`analysis`,
    /// `steps[2].analysis`).
    pub(crate) fn bind(&self, field: &str) -> Result<Analysis, Error> {
        let invalid = |at: String, value: String, reason: String| Error::InvalidOptions { field: format!("{field}.{at}"), value, reason };
        if self.metrics.is_empty() || self.metrics.len() > MAX_METRICS {
            return Err(invalid("metrics".into(), self.metrics.len().to_string(), format!("a template has 1 to {MAX_METRICS} metrics")));
        }
        let mut metrics: Vec<Metric> = Vec::with_capacity(self.metrics.len());
        for (i, metric) in self.metrics.iter().enumerate() {
            let at = |what: &str| format!("metrics[{i}].{what}");
            if metric.name.is_empty() || metric.name.len() > 200 || metrics.iter().any(|m| m.name == metric.name) {
                return Err(invalid(
                    at("name"),
                    format!("\"{}\"", metric.name),
                    "a metric needs a name of 1 to 200 bytes, unique in its template".into(),
                ));
            }
            let named = |what: &str| format!("metric \"{}\": {what}", metric.name);
            let mut bound = metric.clone();
            bound.provider = self.substitute(&metric.provider, true).map_err(|e| invalid(at("provider"), String::new(), named(&e)))?;
            if let Some(judge) = bound.canary.as_mut() {
                self.bind_canary(judge).map_err(|(what, reason)| invalid(at(&format!("canary.{what}")), String::new(), named(&reason)))?;
            }
            if bound.provider.len() > MAX_PROVIDER {
                return Err(invalid(
                    at("provider"),
                    format!("{} bytes", bound.provider.len()),
                    named(&format!("a provider is at most {MAX_PROVIDER} bytes")),
                ));
            }
            for (what, condition) in
                [("successCondition", &mut bound.success_condition), ("failureCondition", &mut bound.failure_condition)]
            {
                if let Some(text) = condition.as_mut() {
                    *text = self.substitute(text, false).map_err(|e| invalid(at(what), format!("\"{text}\""), named(&e)))?;
                    expr::parse(text).map_err(|e| {
                        invalid(at(what), format!("\"{text}\""), named(&format!("{} at character {}", e.reason, e.at.saturating_add(1))))
                    })?;
                }
            }
            if metric.failure_limit < -1
                || metric.inconclusive_limit < 0
                || metric.consecutive_error_limit < 0
                || metric.consecutive_success_limit < 0
            {
                return Err(invalid(
                    at("failureLimit"),
                    metric.failure_limit.to_string(),
                    named("limits are 0 or more (failureLimit may be -1: off)"),
                ));
            }
            if metric.failure_limit < 0 && metric.consecutive_success_limit == 0 {
                return Err(invalid(
                    at("failureLimit"),
                    "-1".into(),
                    named("with failureLimit -1 the metric needs a consecutiveSuccessLimit above 0, or it could never fail nor pass"),
                ));
            }
            if metric.interval_secs.is_none() && metric.count.is_some_and(|n| n > 1) {
                return Err(invalid(
                    at("count"),
                    metric.count.unwrap_or(0).to_string(),
                    named("a count above 1 needs an interval between measurements"),
                ));
            }
            if metric.interval_secs == Some(0) || metric.count == Some(0) {
                return Err(invalid(at("interval"), "0".into(), named("interval and count must be above 0 when set")));
            }
            if metric.retention == 0 || metric.retention > MAX_RETENTION {
                return Err(invalid(
                    at("retention"),
                    metric.retention.to_string(),
                    named(&format!("a metric keeps 1 to {MAX_RETENTION} measurements")),
                ));
            }
            if !matches!(metric.no_data, Phase::Inconclusive | Phase::Failed | Phase::Successful) {
                return Err(invalid(at("noData"), metric.no_data.word().into(), named("noData is inconclusive, failed or successful")));
            }
            for secs in [metric.interval_secs.unwrap_or(0), metric.initial_delay_secs] {
                if secs > crate::model::MAX_TIMEOUT_SECS {
                    return Err(invalid(at("interval"), secs.to_string(), named("a duration is at most 2^32 seconds")));
                }
            }
            metrics.push(bound);
        }
        Ok(Analysis { metrics, args: self.args.clone(), starting_step: self.starting_step })
    }

    /// Checks a comparative metric's judge and substitutes its providers'
    /// args; the error names the field.
    fn bind_canary(&self, judge: &mut judge::CanaryJudge) -> Result<(), (String, String)> {
        if judge.metrics.is_empty() || judge.metrics.len() > MAX_METRICS {
            return Err(("metrics".into(), format!("a canary has 1 to {MAX_METRICS} metrics")));
        }
        if judge.pass > 100 || judge.marginal > judge.pass {
            return Err(("scoreThresholds".into(), "0 <= marginal <= pass <= 100".into()));
        }
        if !(50..=99).contains(&judge.confidence) || judge.tolerance > 100 {
            return Err(("confidence".into(), "the confidence is 50% to 99%, the tolerance 0% to 100%".into()));
        }
        for i in 0..judge.metrics.len() {
            let Some(m) = judge.metrics.get(i) else { break };
            let name = m.name.clone();
            if name.is_empty() || name.len() > 200 || judge.metrics.iter().filter(|o| o.name == name).count() > 1 {
                return Err((format!("metrics[{i}].name"), "a canary metric needs a name of 1 to 200 bytes, unique".into()));
            }
            let (baseline, canary) = (m.baseline.clone(), m.canary.clone());
            let baseline = self.substitute(&baseline, true).map_err(|e| (format!("metrics[{i}].baseline"), e))?;
            let canary = self.substitute(&canary, true).map_err(|e| (format!("metrics[{i}].canary"), e))?;
            if baseline.is_empty() || canary.is_empty() || baseline.len().max(canary.len()) > MAX_PROVIDER {
                return Err((format!("metrics[{i}]"), format!("needs a baseline and a canary provider of at most {MAX_PROVIDER} bytes")));
            }
            if let Some(m) = judge.metrics.get_mut(i) {
                m.baseline = baseline;
                m.canary = canary;
            }
        }
        Ok(())
    }

    /// `text` with every `{{args.name}}` replaced; an argument without a
    /// value stays in a provider (`keep_secrets`), and is an error
    /// elsewhere.
    fn substitute(&self, text: &str, keep_secrets: bool) -> Result<String, String> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            let (before, after) = rest.split_at(start);
            out.push_str(before);
            let Some(end) = after.find("}}") else {
                out.push_str(after);
                return Ok(out);
            };
            let (placeholder, tail) = after.split_at(end.saturating_add(2));
            let name = placeholder.trim_start_matches("{{").trim_end_matches("}}").trim();
            match name.strip_prefix("args.").map(|n| self.args.iter().find(|a| a.name == n)) {
                Some(Some(Arg { value: Some(value), .. })) => {
                    // Inside a provider's JSON the value sits in a string.
                    if keep_secrets {
                        let mut quoted = String::new();
                        write_string(&mut quoted, value);
                        out.push_str(quoted.get(1..quoted.len().saturating_sub(1)).unwrap_or_default());
                    } else {
                        out.push_str(value);
                    }
                }
                Some(Some(_)) if keep_secrets => out.push_str(placeholder),
                Some(Some(arg)) => return Err(format!("argument \"{}\" has no value, and a condition cannot read a secret", arg.name)),
                Some(None) => return Err(format!("{placeholder} names no argument of the template")),
                None => out.push_str(placeholder),
            }
            rest = tail;
        }
        out.push_str(rest);
        Ok(out)
    }
}

/// What the engine asks a [`MetricProvider`] for.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MeasureRequest<'a> {
    /// The metric's name.
    pub metric: &'a str,
    /// The provider's JSON, its args substituted (those without a value
    /// left as `{{args.name}}`).
    pub provider: &'a str,
    /// Which query of a comparative metric (`""` for a plain one).
    pub role: &'a str,
    /// The time to measure at: queries ask at the engine's clock.
    pub at: crate::model::Timestamp,
}

/// What a provider measured.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Measured {
    /// The value a condition reads as `result`: nil or an empty list is no
    /// data.
    pub value: Value,
    /// The value as JSON text, as the measurement shows it (see
    /// [`Measured::of`], which writes it).
    pub text: String,
    /// The query as sent, secrets redacted, to show with the measurement.
    pub query: String,
    /// Anything the provider warned of (Prometheus' warnings).
    pub warnings: Vec<String>,
}

impl Measured {
    /// A measurement of `value`, asked with `query`; its text is
    /// [`Value::to_json`]'s. (The package's JS writes the text itself, so
    /// that the wasm module carries no float formatting.)
    pub fn of(value: Value, query: &str) -> Self {
        Measured { text: value.to_json(1024), value, query: query.to_owned(), warnings: Vec::new() }
    }
}

/// Makes the measurements of an entity's analysis (a binding's Prometheus,
/// web and function providers). An error is an Error measurement.
pub trait MetricProvider {
    fn measure(&mut self, ctx: &HookContext<'_>, request: &MeasureRequest<'_>) -> Result<Measured, HookError>;

    /// As [`crate::TargetController::may_defer`].
    fn may_defer(&self) -> bool {
        false
    }

    /// As [`crate::TargetController::deferred`].
    fn deferred(&mut self) -> bool {
        false
    }
}
