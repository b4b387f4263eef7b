//! Every conversion between JS values and the core's types, in one place.
//!
//! JS callers are not type-checked, so every value is checked here and a
//! value of the wrong shape becomes an [`Error`] that names the argument,
//! what was expected and what came instead.

use js_sys::{Array, Object, Reflect, Uint8Array};
use serde::Serialize;
use wasm_bindgen::{JsCast, JsValue};

use crate::error::{Error, HookError};
use crate::model::{RolloutOptions, TargetId, TargetReport, Timestamp, MAX_TIMEOUT_SECS};

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

/// A short description of a value for an error message.
pub(crate) fn describe(value: &JsValue) -> String {
    if let Some(s) = value.as_string() {
        let short: String = s.chars().take(40).collect();
        return if short.len() < s.len() { format!("{short:?}…") } else { format!("{s:?}") };
    }
    if let Some(n) = value.as_f64() {
        return format!("{n}");
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
    } else if value.is_bigint() {
        "a bigint".into()
    } else if value.is_symbol() {
        "a symbol".into()
    } else {
        "an object".into()
    }
}

fn invalid_argument(what: impl Into<String>, reason: impl Into<String>) -> Error {
    Error::InvalidArgument {
        what: what.into(),
        reason: reason.into(),
    }
}

fn get(object: &JsValue, key: &JsValue) -> JsValue {
    Reflect::get(object, key).unwrap_or(JsValue::UNDEFINED)
}

fn is_missing(value: &JsValue) -> bool {
    value.is_undefined() || value.is_null()
}

/// A required string argument.
pub(crate) fn string_arg(what: &str, value: &JsValue) -> Result<String, Error> {
    value
        .as_string()
        .ok_or_else(|| invalid_argument(what, format!("must be a string, got {}", describe(value))))
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
    const KNOWN: [&str; 4] = ["batchPercent", "successPercent", "successTimeoutSecs", "durationTimeoutSecs"];
    for key in Object::keys(value.unchecked_ref::<Object>()).iter() {
        let key = key.as_string().unwrap_or_default();
        if !KNOWN.contains(&key.as_str()) {
            return Err(Error::InvalidOptions {
                value: describe(&get(&value, &JsValue::from_str(&key))),
                field: key,
                reason: format!("there is no such option; the options are {}", KNOWN.join(", ")),
            });
        }
    }
    let defaults = RolloutOptions::default();
    let field = |name: &str, max: u64, default: u64| -> Result<u64, Error> {
        let v = get(&value, &JsValue::from_str(name));
        if v.is_undefined() {
            return Ok(default);
        }
        let n = v.as_f64().filter(|n| n.fract() == 0.0 && *n >= 0.0 && *n <= max as f64);
        n.map(|n| n as u64).ok_or_else(|| Error::InvalidOptions {
            field: name.into(),
            value: describe(&v),
            reason: if max == 100 {
                "a percentage must be an integer from 0 to 100".into()
            } else {
                format!("a timeout must be an integer from 0 to {MAX_TIMEOUT_SECS} seconds")
            },
        })
    };
    let percent = |name: &str, default: u32| field(name, 100, u64::from(default)).map(|p| p as u32);
    let options = RolloutOptions {
        batch_percent: percent("batchPercent", defaults.batch_percent)?,
        success_percent: percent("successPercent", defaults.success_percent)?,
        success_timeout_secs: field("successTimeoutSecs", MAX_TIMEOUT_SECS, defaults.success_timeout_secs)?,
        duration_timeout_secs: field("durationTimeoutSecs", MAX_TIMEOUT_SECS, defaults.duration_timeout_secs)?,
    };
    options.validate()?;
    Ok(Some(options))
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
            format!(
                "must be an array of target states like [{{ name, version }}], got {}",
                describe(value)
            ),
        ));
    }
    let keys = Keys::new();
    let array: &Array = value.unchecked_ref();
    let mut reports = Vec::with_capacity(array.length() as usize);
    for (i, item) in array.iter().enumerate() {
        reports.push(report_from_js(i, &item, &keys)?);
    }
    Ok(reports)
}

fn report_from_js(index: usize, item: &JsValue, keys: &Keys) -> Result<TargetReport, Error> {
    let bad = |reason: String| Error::InvalidTarget {
        target: format!("#{index} of the report"),
        reason,
    };
    if !item.is_object() || Array::is_array(item) {
        return Err(bad(format!(
            "a target state must be an object like {{ name, version }}, got {}",
            describe(item)
        )));
    }
    let required = |key: &JsValue, field: &str| -> Result<String, Error> {
        let v = get(item, key);
        v.as_string()
            .ok_or_else(|| bad(format!("{field} must be a string, got {}", describe(&v))))
    };
    let optional = |key: &JsValue, field: &str| -> Result<String, Error> {
        let v = get(item, key);
        if is_missing(&v) {
            return Ok(String::new());
        }
        v.as_string()
            .ok_or_else(|| bad(format!("{field} must be a string, got {}", describe(&v))))
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
        is_error
            .as_bool()
            .ok_or_else(|| bad(format!("isError must be a boolean, got {}", describe(&is_error))))?
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
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| invalid_argument("result", e.to_string()))
}

/// A time from the clock: a finite number of milliseconds since the epoch
/// (fractions are dropped).
pub(crate) fn time_from_js(value: &JsValue) -> Result<Timestamp, Error> {
    let bad = |reason: &str| Error::InvalidTime {
        value: describe(value),
        reason: reason.into(),
    };
    let n = value
        .as_f64()
        .ok_or_else(|| bad("the clock must return milliseconds since the Unix epoch as a number"))?;
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
    Err(invalid_argument(
        "snapshot",
        format!("must be the Uint8Array that snapshot() returned, got {}", describe(value)),
    ))
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
            return Err(invalid_argument(
                "options",
                format!("has no field {}; the only option is now", describe(&key)),
            ));
        }
    }
    method(&options, "now", "options")
}
