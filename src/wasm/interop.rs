//! Every conversion between JS values and the core's types, in one place.
//!
//! JS callers are not type-checked, so every value is checked here and a
//! value of the wrong shape becomes an [`Error`] that names the argument,
//! what was expected and what came instead.

use js_sys::{Array, Object, Reflect, Uint8Array};
use serde::Serialize;
use wasm_bindgen::{JsCast, JsValue};

use crate::{
    Amount, Analysis, Blocks, Error, HookError, MetricValue, PlanStep, RolloutOptions, TargetId, TargetReport, Timestamp, MAX_COUNT,
    MAX_EVENTS_LIMIT, MAX_TIMEOUT_SECS,
};

/// The largest integer a JS number holds exactly.
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// A core error as a real JS `Error` with `name` and a stable `code`.
pub(crate) fn error_to_js(err: Error) -> JsValue {
    let js = js_sys::Error::new(&err.to_string());
    js.set_name("OrchestratorError");
    // Setting a property on a fresh Error object cannot fail.
    let _ = Reflect::set(&js, &JsValue::from_str("code"), &JsValue::from_str(err.code().as_str()));
    js.into()
}

/// A number as JS writes it (`String(n)`): JS's own formatting, so that
/// the module carries no float formatter of its own (about 8 KB gzipped).
pub(crate) fn number_text(n: f64) -> String {
    js_sys::Number::from(n).to_string_with_radix(10).map(String::from).unwrap_or_default()
}

/// A short description of a value for an error message.
pub(crate) fn describe(value: &JsValue) -> String {
    if let Some(s) = value.as_string() {
        let short: String = s.chars().take(40).collect();
        // Quoted and escaped by JS's JSON.stringify (no escaping code of
        // our own in the module).
        let quoted = js_sys::JSON::stringify(&JsValue::from_str(&short)).map(String::from).unwrap_or_default();
        return if short.len() < s.len() { format!("{quoted}…") } else { quoted };
    }
    if let Some(n) = value.as_f64() {
        return number_text(n);
    }
    if let Some(b) = value.as_bool() {
        return b.to_string();
    }
    if value.is_null() {
        "null".into()
    } else if value.is_undefined() {
        "undefined".into()
    } else if Array::is_array(value) {
        "an array".into()
    } else if value.is_function() {
        "a function".into()
    } else if value.is_instance_of::<js_sys::Date>() {
        "a Date".into()
    } else if value.is_bigint() {
        "a bigint".into()
    } else if value.is_symbol() {
        "a symbol".into()
    } else {
        "an object".into()
    }
}

fn invalid_argument(what: impl Into<String>, reason: impl Into<String>) -> Error {
    Error::InvalidArgument { what: what.into(), reason: reason.into() }
}

fn get(object: &JsValue, key: &JsValue) -> JsValue {
    Reflect::get(object, key).unwrap_or(JsValue::UNDEFINED)
}

fn is_missing(value: &JsValue) -> bool {
    value.is_undefined() || value.is_null()
}

/// A required string argument.
pub(crate) fn string_arg(what: &str, value: &JsValue) -> Result<String, Error> {
    value.as_string().ok_or_else(|| invalid_argument(what, format!("must be a string, got {}", describe(value))))
}

/// An optional string argument (`undefined` and `null` are none).
pub(crate) fn optional_string_arg(what: &str, value: Option<JsValue>) -> Result<Option<String>, Error> {
    match value {
        Some(v) if !is_missing(&v) => string_arg(what, &v).map(Some),
        _ => Ok(None),
    }
}

/// Rollout options: `undefined`/`null` restores the defaults; a missing
/// field takes its default; an unknown field is an error (a typo would
/// otherwise be ignored silently).
pub(crate) fn options_from_js(value: Option<JsValue>) -> Result<Option<RolloutOptions>, Error> {
    let Some(value) = value.filter(|v| !is_missing(v)) else {
        return Ok(None);
    };
    plain_object("options", &value, "an object like { batchPercent: 10 }")?;
    const KNOWN: [&str; 12] = [
        "batchPercent",
        "successPercent",
        "successTimeoutSecs",
        "durationTimeoutSecs",
        "errorTimeoutSecs",
        "steps",
        "maxFailures",
        "maxConsecutiveFailures",
        "watchSecs",
        "rollbackBatchPercent",
        "maxEvents",
        "analysis",
    ];
    only_known_keys(&value, &KNOWN, |key, v| Error::InvalidOptions {
        value: describe(v),
        field: key.to_owned(),
        reason: format!("there is no such option; the options are {}", KNOWN.join(", ")),
    })?;
    let defaults = RolloutOptions::default();
    let read = |name: &str| get(&value, &JsValue::from_str(name));
    let percent = |name: &str| integer(name, &read(name), 100, "a percentage must be an integer from 0 to 100");
    let timeout = |name: &str| {
        let reason = format!("a timeout must be an integer from 0 to {MAX_TIMEOUT_SECS} seconds");
        integer(name, &read(name), MAX_TIMEOUT_SECS, &reason)
    };
    let count_reason = format!("a count must be an integer from 0 to {MAX_COUNT}");
    let options = RolloutOptions {
        batch_percent: percent("batchPercent")?.map_or(defaults.batch_percent, |p| p as u32),
        success_percent: percent("successPercent")?.map_or(defaults.success_percent, |p| p as u32),
        success_timeout_secs: timeout("successTimeoutSecs")?.unwrap_or(defaults.success_timeout_secs),
        duration_timeout_secs: timeout("durationTimeoutSecs")?.unwrap_or(defaults.duration_timeout_secs),
        error_timeout_secs: timeout("errorTimeoutSecs")?,
        steps: steps_from_js(&read("steps"))?,
        max_failures: optional(&read("maxFailures"), |v| amount_from_js("maxFailures", v))?,
        max_consecutive_failures: integer("maxConsecutiveFailures", &read("maxConsecutiveFailures"), MAX_COUNT, &count_reason)?,
        watch_secs: timeout("watchSecs")?.unwrap_or(defaults.watch_secs),
        rollback_batch_percent: percent("rollbackBatchPercent")?.map(|p| p as u32),
        max_events: integer(
            "maxEvents",
            &read("maxEvents"),
            u64::from(MAX_EVENTS_LIMIT),
            &format!("the event log keeps from 1 to {MAX_EVENTS_LIMIT} events"),
        )?
        .map_or(defaults.max_events, |n| n as u32),
        analysis: analysis_from_js("analysis", &read("analysis"))?,
    };
    options.validate()?;
    Ok(Some(options))
}

/// An analysis template as the package's JS has normalized it (Argo's
/// durations in seconds, the provider as JSON: js/analysis/template.mjs).
fn analysis_from_js(field: &str, value: &JsValue) -> Result<Option<Box<Analysis>>, Error> {
    optional(value, |v| super::analysis::analysis_from_js(field, v).map(Box::new))
}

/// A measured value as a condition reads it: numbers, strings, booleans,
/// null/undefined (nil), arrays and plain objects; anything else is a
/// string of what it is. Nested at most 32 deep.
pub(crate) fn value_from_js(value: &JsValue, depth: usize) -> MetricValue {
    if value.is_null() || value.is_undefined() || depth > 32 {
        return MetricValue::Nil;
    }
    if let Some(n) = value.as_f64() {
        return MetricValue::Number(n);
    }
    if let Some(b) = value.as_bool() {
        return MetricValue::Bool(b);
    }
    if let Some(s) = value.as_string() {
        return MetricValue::Text(s);
    }
    if Array::is_array(value) {
        return MetricValue::List(value.unchecked_ref::<Array>().iter().map(|v| value_from_js(&v, depth.saturating_add(1))).collect());
    }
    if value.is_object() {
        let entries = Object::entries(value.unchecked_ref::<Object>());
        return MetricValue::Map(
            entries
                .iter()
                .filter_map(|pair| {
                    let pair = pair.unchecked_into::<Array>();
                    Some((pair.get(0).as_string()?, value_from_js(&pair.get(1), depth.saturating_add(1))))
                })
                .collect(),
        );
    }
    MetricValue::Text(describe(value))
}

/// Fails on the first key of `object` that is not one of `known`.
fn only_known_keys(object: &JsValue, known: &[&str], error: impl Fn(&str, &JsValue) -> Error) -> Result<(), Error> {
    for key in Object::keys(object.unchecked_ref::<Object>()).iter() {
        let key = key.as_string().unwrap_or_default();
        if !known.contains(&key.as_str()) {
            return Err(error(&key, &get(object, &JsValue::from_str(&key))));
        }
    }
    Ok(())
}

/// `undefined`/`null` is none; anything else is converted.
fn optional<T>(value: &JsValue, convert: impl FnOnce(&JsValue) -> Result<T, Error>) -> Result<Option<T>, Error> {
    if is_missing(value) {
        return Ok(None);
    }
    convert(value).map(Some)
}

/// An optional non-negative integer option up to `max`.
fn integer(field: &str, value: &JsValue, max: u64, reason: &str) -> Result<Option<u64>, Error> {
    optional(value, |v| {
        v.as_f64().filter(|n| n.fract() == 0.0 && *n >= 0.0 && *n <= max as f64).map(|n| n as u64).ok_or_else(|| Error::InvalidOptions {
            field: field.into(),
            value: describe(v),
            reason: reason.into(),
        })
    })
}

/// A count (a number) or a percentage (a string like `"10%"`).
fn amount_from_js(field: &str, value: &JsValue) -> Result<Amount, Error> {
    let bad = || Error::InvalidOptions {
        field: field.into(),
        value: describe(value),
        reason: format!("must be a count (an integer from 0 to {MAX_COUNT}) or a percentage of the fleet (a string like \"10%\")"),
    };
    if let Some(n) = value.as_f64() {
        return (n.fract() == 0.0 && n >= 0.0 && n <= MAX_COUNT as f64).then_some(Amount::Count(n as u64)).ok_or_else(bad);
    }
    let text = value.as_string().ok_or_else(bad)?;
    let digits = text.strip_suffix('%').filter(|d| !d.is_empty() && d.len() <= 3 && d.bytes().all(|b| b.is_ascii_digit()));
    digits.and_then(|d| d.parse().ok()).map(Amount::Percent).ok_or_else(bad)
}

/// A plan: an array of sizes (`1`, `"10%"`) or of `{ size, bakeSecs?,
/// approval? }`.
fn steps_from_js(value: &JsValue) -> Result<Vec<PlanStep>, Error> {
    if is_missing(value) {
        return Ok(Vec::new());
    }
    if !Array::is_array(value) {
        return Err(Error::InvalidOptions {
            field: "steps".into(),
            value: describe(value),
            reason: "must be an array of cumulative step sizes like [1, \"10%\", { size: \"50%\", bakeSecs: 600 }, \"100%\"]".into(),
        });
    }
    let mut steps = Vec::new();
    for (i, item) in value.unchecked_ref::<Array>().iter().enumerate() {
        let field = format!("steps[{i}]");
        if !item.is_object() {
            steps.push(PlanStep::new(amount_from_js(&field, &item)?));
            continue;
        }
        if Array::is_array(&item) {
            return Err(Error::InvalidOptions {
                field,
                value: describe(&item),
                reason: "a step is a size or an object like { size: \"10%\", bakeSecs: 600, approval: true }".into(),
            });
        }
        only_known_keys(&item, &["size", "bakeSecs", "approval", "analysis"], |key, v| Error::InvalidOptions {
            field: format!("{field}.{key}"),
            value: describe(v),
            reason: "a step has only size, bakeSecs, approval and analysis".into(),
        })?;
        let size = get(&item, &JsValue::from_str("size"));
        let bake_reason = format!("a bake time must be an integer from 0 to {MAX_TIMEOUT_SECS} seconds");
        let bake_secs = integer(&format!("{field}.bakeSecs"), &get(&item, &JsValue::from_str("bakeSecs")), MAX_TIMEOUT_SECS, &bake_reason)?;
        let approval = optional(&get(&item, &JsValue::from_str("approval")), |v| {
            v.as_bool().ok_or_else(|| Error::InvalidOptions {
                field: format!("{field}.approval"),
                value: describe(v),
                reason: "must be true or false".into(),
            })
        })?;
        steps.push(PlanStep {
            size: amount_from_js(&format!("{field}.size"), &size)?,
            bake_secs: bake_secs.unwrap_or(0),
            approval: approval.unwrap_or(false),
            analysis: analysis_from_js(&format!("{field}.analysis"), &get(&item, &JsValue::from_str("analysis")))?,
        });
    }
    Ok(steps)
}

/// Property names, made once per conversion rather than once per target.
struct Keys {
    name: JsValue,
    group: JsValue,
    tags: JsValue,
    version: JsValue,
    message: JsValue,
    is_error: JsValue,
}

impl Keys {
    fn new() -> Self {
        Keys {
            name: "name".into(),
            group: "group".into(),
            tags: "tags".into(),
            version: "version".into(),
            message: "message".into(),
            is_error: "isError".into(),
        }
    }
}

/// A report: an array of `{ name, group?, tags?, version, message?,
/// isError? }`.
pub(crate) fn reports_from_js(value: &JsValue) -> Result<Vec<TargetReport>, Error> {
    if !Array::is_array(value) {
        return Err(invalid_argument(
            "reports",
            format!("must be an array of target states like [{{ name, version }}], got {}", describe(value)),
        ));
    }
    let keys = Keys::new();
    let array: &Array = value.unchecked_ref();
    let count = array.length() as usize;
    let mut reports = Vec::with_capacity(count);
    for (i, item) in array.iter().enumerate() {
        reports.push(report_from_js(i, count, &item, &keys)?);
    }
    Ok(reports)
}

/// The fields a report entry may have: a report's, and an answer's
/// `reason`, so that a controller can feed an answer back as its next
/// report. Anything else is a mistake (`error: true` for `isError: true`
/// would otherwise be a healthy target).
const REPORT_FIELDS: [&str; 7] = ["name", "group", "tags", "version", "message", "isError", "reason"];

fn report_from_js(index: usize, count: usize, item: &JsValue, keys: &Keys) -> Result<TargetReport, Error> {
    let bad = |reason: String| Error::InvalidTarget { target: crate::report_entry(index, count), reason };
    if !item.is_object() || Array::is_array(item) {
        return Err(bad(format!("a target state must be an object like {{ name, version }}, got {}", describe(item))));
    }
    only_known_keys(item, &REPORT_FIELDS, |key, v| {
        bad(format!(
            "it has a field \"{key}\" ({}) that a report does not have; the fields are name, group, tags, version, message, \
             isError (and an answer's reason)",
            describe(v)
        ))
    })?;
    let required = |key: &JsValue, field: &str| -> Result<String, Error> {
        let v = get(item, key);
        v.as_string().ok_or_else(|| bad(format!("{field} must be a string, got {}", describe(&v))))
    };
    let optional = |key: &JsValue, field: &str| -> Result<String, Error> {
        let v = get(item, key);
        if is_missing(&v) {
            return Ok(String::new());
        }
        v.as_string().ok_or_else(|| bad(format!("{field} must be a string, got {}", describe(&v))))
    };
    let tags = get(item, &keys.tags);
    let tags = if is_missing(&tags) {
        Vec::new()
    } else if Array::is_array(&tags) {
        tags.unchecked_ref::<Array>()
            .iter()
            .map(|t| t.as_string())
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| bad("tags must be an array of strings".into()))?
    } else {
        return Err(bad(format!("tags must be an array of strings, got {}", describe(&tags))));
    };
    let is_error = get(item, &keys.is_error);
    let is_error = if is_missing(&is_error) {
        false
    } else {
        is_error.as_bool().ok_or_else(|| bad(format!("isError must be a boolean, got {}", describe(&is_error))))?
    };
    Ok(TargetReport {
        name: required(&keys.name, "name")?,
        group: optional(&keys.group, "group")?,
        tags,
        version: required(&keys.version, "version")?,
        message: optional(&keys.message, "message")?,
        is_error,
    })
}

/// Any core value as plain JS objects and arrays (never Maps).
pub(crate) fn to_js<T: Serialize + ?Sized>(value: &T) -> Result<JsValue, Error> {
    value.serialize(&serde_wasm_bindgen::Serializer::json_compatible()).map_err(|e| invalid_argument("result", e.to_string()))
}

/// A time from the clock: a finite number of milliseconds since the epoch
/// (fractions are dropped).
pub(crate) fn time_from_js(value: &JsValue) -> Result<Timestamp, Error> {
    let bad = |reason: &str| Error::InvalidTime { value: describe(value), reason: reason.into() };
    if value.is_instance_of::<js_sys::Date>() {
        return Err(bad(
            "the clock returned a Date; it must return a number of milliseconds since the Unix epoch, as Date.now() and date.getTime() do",
        ));
    }
    let n = value.as_f64().ok_or_else(|| bad("the clock must return milliseconds since the Unix epoch as a number, as Date.now() does"))?;
    if !n.is_finite() {
        return Err(bad("the clock must return a finite number of milliseconds"));
    }
    if n.abs() > MAX_SAFE_INTEGER {
        return Err(bad("the time is outside the range of safe integers"));
    }
    Ok(n.floor() as i64)
}

/// Snapshot bytes: a `Uint8Array` (or an `ArrayBuffer`).
pub(crate) fn bytes_from_js(value: &JsValue) -> Result<Vec<u8>, Error> {
    if let Some(bytes) = value.dyn_ref::<Uint8Array>() {
        return Ok(bytes.to_vec());
    }
    if let Some(buffer) = value.dyn_ref::<js_sys::ArrayBuffer>() {
        return Ok(Uint8Array::new(buffer).to_vec());
    }
    Err(invalid_argument("snapshot", format!("must be the Uint8Array that snapshot() returned, got {}", describe(value))))
}

/// A number of bytes: a whole number, 0 or more.
pub(crate) fn byte_count_from_js(what: &str, value: &JsValue) -> Result<usize, Error> {
    match value.as_f64() {
        Some(n) if n.fract() == 0.0 && n >= 0.0 => Ok(if n >= usize::MAX as f64 { usize::MAX } else { n as usize }),
        _ => Err(invalid_argument(what, format!("must be a whole number of bytes, 0 or more, got {}", describe(value)))),
    }
}

/// Snapshot or delta bytes as one `Uint8Array`, copied in block by block:
/// they are never whole in wasm memory, which keeps its peak.
pub(crate) fn bytes_to_js(bytes: &Blocks) -> Uint8Array {
    let out = Uint8Array::new_with_length(u32::try_from(bytes.len()).unwrap_or(u32::MAX));
    let mut at = 0u32;
    for piece in bytes.pieces() {
        let end = at.saturating_add(u32::try_from(piece.len()).unwrap_or(u32::MAX));
        out.subarray(at, end).copy_from(piece);
        at = end;
    }
    out
}

/// What a hook threw, as the message of its failure.
pub(crate) fn thrown_message(thrown: &JsValue) -> String {
    if let Some(err) = thrown.dyn_ref::<js_sys::Error>() {
        return String::from(err.message());
    }
    thrown.as_string().unwrap_or_else(|| describe(thrown))
}

/// The targets a hook returned: an array of `{ name, group? }` objects or
/// of names (group "").
pub(crate) fn target_ids_from_js(hook: &str, value: &JsValue) -> Result<Vec<TargetId>, HookError> {
    let shape = "an array of targets ({ name, group } objects or names)";
    if !Array::is_array(value) {
        return Err(HookError::new(format!("{hook} must return {shape}, got {}", describe(value))));
    }
    let keys = Keys::new();
    let mut ids = Vec::new();
    for item in value.unchecked_ref::<Array>().iter() {
        let id = if let Some(name) = item.as_string() {
            TargetId::new("", name)
        } else if item.is_object() {
            let name = get(&item, &keys.name).as_string();
            let group = get(&item, &keys.group);
            let group = if is_missing(&group) { Some(String::new()) } else { group.as_string() };
            match (group, name) {
                (Some(group), Some(name)) => TargetId { group, name },
                _ => return Err(HookError::new(format!("{hook} must return {shape}, got an item without a string name"))),
            }
        } else {
            return Err(HookError::new(format!("{hook} must return {shape}, got an item {}", describe(&item))));
        };
        if id.name.is_empty() {
            return Err(HookError::new(format!("{hook} returned a target with an empty name")));
        }
        ids.push(id);
    }
    Ok(ids)
}

/// A function property of a controller object, if it has one.
pub(crate) fn method(object: &JsValue, name: &str, what: &str) -> Result<Option<js_sys::Function>, Error> {
    let value = get(object, &JsValue::from_str(name));
    if is_missing(&value) {
        return Ok(None);
    }
    value
        .dyn_into::<js_sys::Function>()
        .map(Some)
        .map_err(|v| invalid_argument(format!("{what}.{name}"), format!("must be a function, got {}", describe(&v))))
}

/// Checks that an argument is an object (not an array), saying what
/// shape was `expected` when it is not.
pub(crate) fn plain_object(what: &str, value: &JsValue, expected: &str) -> Result<(), Error> {
    if value.is_object() && !Array::is_array(value) {
        return Ok(());
    }
    Err(invalid_argument(what, format!("must be {expected}, got {}", describe(value))))
}

/// The constructor/restore options: `{ now?: () => number }`.
pub(crate) fn clock_from_js(options: Option<JsValue>) -> Result<Option<js_sys::Function>, Error> {
    let Some(options) = options.filter(|v| !is_missing(v)) else {
        return Ok(None);
    };
    plain_object("options", &options, "an object like { now: () => Date.now() }")?;
    for key in Object::keys(options.unchecked_ref::<Object>()).iter() {
        if key.as_string().as_deref() != Some("now") {
            return Err(invalid_argument("options", format!("has no field {}; the only option is now", describe(&key))));
        }
    }
    method(&options, "now", "options")
}

/// `promote`'s options: `{ full?: boolean }`.
pub(crate) fn promote_options_from_js(value: Option<JsValue>) -> Result<bool, Error> {
    let Some(value) = value.filter(|v| !is_missing(v)) else {
        return Ok(false);
    };
    plain_object("options", &value, "an object like { full: true }")?;
    only_known_keys(&value, &["full"], |key, _| {
        invalid_argument("options", format!("has no field \"{key}\"; the only option of promote is full"))
    })?;
    let full = get(&value, &JsValue::from_str("full"));
    optional(&full, |v| v.as_bool().ok_or_else(|| invalid_argument("options.full", format!("must be true or false, got {}", describe(v)))))
        .map(|full| full.unwrap_or(false))
}

/// `events`' options: `{ since?: number, limit?: number }`.
pub(crate) fn events_options_from_js(value: Option<JsValue>) -> Result<(u64, usize), Error> {
    let Some(value) = value.filter(|v| !is_missing(v)) else {
        return Ok((0, usize::MAX));
    };
    plain_object("options", &value, "an object like { since: 0, limit: 100 }")?;
    only_known_keys(&value, &["since", "limit"], |key, _| {
        invalid_argument("options", format!("has no field \"{key}\"; the options of events are since and limit"))
    })?;
    let read = |name: &str| -> Result<Option<u64>, Error> {
        optional(&get(&value, &JsValue::from_str(name)), |v| {
            v.as_f64()
                .filter(|n| n.fract() == 0.0 && *n >= 0.0 && *n <= MAX_SAFE_INTEGER)
                .map(|n| n as u64)
                .ok_or_else(|| invalid_argument(format!("options.{name}"), format!("must be a non-negative integer, got {}", describe(v))))
        })
    };
    let since = read("since")?.unwrap_or(0);
    let limit = read("limit")?.map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX));
    Ok((since, limit))
}
