//! Analysis templates from JS, as the package's JS has normalized them
//! (js/analysis/template.mjs: Argo's durations in seconds, the provider as
//! JSON). Read field by field rather than through serde, whose error
//! messages would bring float formatting into the module.

use wasm_bindgen::JsValue;

use super::reader::{self, Reader, Refusal};
use crate::canary::{Direction, Group, NanStrategy};
use crate::{Analysis, AnalysisPhase, Arg, CanaryJudge, CanaryMetric, Error, Metric, OnFailure};

/// Analysis templates are rollout options: a wrong field is `INVALID_OPTIONS`.
fn object(field: String, value: &JsValue) -> Result<Reader<'_>, Error> {
    reader::object(field, value, Refusal::Options)
}

const SECS: i64 = u32::MAX as i64;

pub(crate) fn analysis_from_js(field: &str, value: &JsValue) -> Result<Analysis, Error> {
    let template = object(field.to_owned(), value)?;
    let mut metrics = Vec::new();
    for (i, item) in template.list("metrics", usize::MAX)?.iter().enumerate() {
        let m = object(format!("{field}.metrics[{i}]"), item)?;
        let phase = |key: &str, default| match m.string(key)?.as_deref() {
            None => Ok(default),
            Some("inconclusive") => Ok(AnalysisPhase::Inconclusive),
            Some("failed") => Ok(AnalysisPhase::Failed),
            Some("successful") => Ok(AnalysisPhase::Successful),
            Some(_) => Err(m.bad(key, &m.get(key), "is inconclusive, failed or successful")),
        };
        let on_failure = match m.string("onFailure")?.as_deref() {
            None | Some("rollback") => OnFailure::Rollback,
            Some("pause") => OnFailure::Pause,
            Some(_) => return Err(m.bad("onFailure", &m.get("onFailure"), "is rollback or pause")),
        };
        let dry_run = m.get("dryRun");
        let defaults = Metric::new("", "");
        metrics.push(Metric {
            name: m.string("name")?.unwrap_or_default(),
            provider: m.string("provider")?.unwrap_or_default(),
            interval_secs: m.int("intervalSecs", 0, SECS)?.map(|n| n as u64),
            initial_delay_secs: m.int("initialDelaySecs", 0, SECS)?.unwrap_or(0) as u64,
            count: m.int("count", 0, SECS)?.map(|n| n as u32),
            success_condition: m.string("successCondition")?,
            failure_condition: m.string("failureCondition")?,
            failure_limit: m.int("failureLimit", -1, i64::from(i32::MAX))?.map_or(defaults.failure_limit, |n| n as i32),
            inconclusive_limit: m.int("inconclusiveLimit", 0, i64::from(i32::MAX))?.map_or(defaults.inconclusive_limit, |n| n as i32),
            consecutive_error_limit: m
                .int("consecutiveErrorLimit", 0, i64::from(i32::MAX))?
                .map_or(defaults.consecutive_error_limit, |n| n as i32),
            consecutive_success_limit: m.int("consecutiveSuccessLimit", 0, i64::from(i32::MAX))?.map_or(0, |n| n as i32),
            no_data: phase("noData", AnalysisPhase::Inconclusive)?,
            on_failure,
            dry_run: dry_run.as_bool().unwrap_or(false),
            retention: m.int("retention", 1, i64::from(crate::MAX_RETENTION))?.map_or(defaults.retention, |n| n as u32),
            canary: canary_from_js(&m)?,
        });
    }
    let mut args = Vec::new();
    for (i, item) in template.list("args", usize::MAX)?.iter().enumerate() {
        let a = object(format!("{field}.args[{i}]"), item)?;
        args.push(Arg { name: a.string("name")?.unwrap_or_default(), value: a.string("value")? });
    }
    let starting_step = template.int("startingStep", 0, SECS)?.map(|n| n as u32);
    Ok(Analysis { metrics, args, starting_step })
}

/// A comparative metric's judge: `{ metrics: [{ name, group, baseline,
/// canary, direction, nanStrategy, removeOutliers, critical, mustHaveData,
/// allowedIncrease, allowedDecrease }], groups: [{ name, weight }], pass,
/// marginal, confidence, tolerance }` (percentages as integers).
fn canary_from_js(metric: &Reader<'_>) -> Result<Option<Box<CanaryJudge>>, Error> {
    let value = metric.get("canary");
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    let judge = object(format!("{}.canary", metric.field), &value)?;
    let mut metrics = Vec::new();
    for (i, item) in judge.list("metrics", usize::MAX)?.iter().enumerate() {
        let m = object(format!("{}.metrics[{i}]", judge.field), item)?;
        let flag = |key: &str| m.get(key).as_bool().unwrap_or(false);
        let direction = match m.string("direction")?.as_deref() {
            None | Some("either") => Direction::Either,
            Some("increase") => Direction::Increase,
            Some("decrease") => Direction::Decrease,
            Some(_) => return Err(m.bad("direction", &m.get("direction"), "is increase, decrease or either")),
        };
        let nan_strategy = match m.string("nanStrategy")?.as_deref() {
            None | Some("remove") => NanStrategy::Remove,
            Some("replace") => NanStrategy::Replace,
            Some(_) => return Err(m.bad("nanStrategy", &m.get("nanStrategy"), "is remove or replace")),
        };
        metrics.push(CanaryMetric {
            name: m.string("name")?.unwrap_or_default(),
            group: m.string("group")?.unwrap_or_default(),
            baseline: m.string("baseline")?.unwrap_or_default(),
            canary: m.string("canary")?.unwrap_or_default(),
            direction,
            nan_strategy,
            remove_outliers: flag("removeOutliers"),
            critical: flag("critical"),
            must_have_data: flag("mustHaveData"),
            allowed_increase: m.int("allowedIncrease", 100, 100_000)?.unwrap_or(100) as u32,
            allowed_decrease: m.int("allowedDecrease", 1, 100)?.unwrap_or(100) as u32,
        });
    }
    let mut groups = Vec::new();
    for (i, pair) in judge.list("groups", usize::MAX)?.iter().enumerate() {
        let pair = object(format!("{}.groups[{i}]", judge.field), pair)?;
        groups
            .push(Group { name: pair.string("name")?.unwrap_or_default(), weight: pair.int("weight", 0, 1_000_000)?.unwrap_or(1) as u32 });
    }
    Ok(Some(Box::new(CanaryJudge {
        metrics,
        groups,
        pass: judge.int("pass", 0, 100)?.unwrap_or(95) as u32,
        marginal: judge.int("marginal", 0, 100)?.unwrap_or(75) as u32,
        confidence: judge.int("confidence", 50, 99)?.unwrap_or(98) as u32,
        tolerance: judge.int("tolerance", 0, 100)?.unwrap_or(25) as u32,
    })))
}
