//! Freezes and the namespace's line: `Orchestrator`'s methods for them,
//! and freezes read from JS as the package's JS has normalized them
//! (js/freezes.mjs: days as a bit set, times of day in minutes, instants in
//! ms), field by field rather than through serde, as analysis templates
//! are.

use js_sys::{Array, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::interop::{describe, error_to_js, optional_string_arg, string_arg, to_js};
use super::orchestrator::Orchestrator;
use super::JsOptionalString;

type JsResult<T> = Result<T, JsValue>;
use crate::{Error, Freeze, FreezeWindow, Freezes, MAX_FREEZES};

#[wasm_bindgen(module = "/js/boundary.js")]
extern "C" {
    /// Minutes from UTC of a named zone at an instant (ms); NaN when the
    /// runtime's `Intl` does not know the zone.
    #[wasm_bindgen(js_name = zoneOffset)]
    fn zone_offset(zone: &str, at: f64) -> f64;
}

/// Named zones as the runtime's `Intl` resolves them.
pub(crate) fn zone_offsets() -> Box<crate::ZoneOffsets> {
    #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
    Box::new(|zone: &str, at: crate::Timestamp| {
        let minutes = zone_offset(zone, at as f64);
        (minutes.is_finite() && minutes.abs() <= 18.0 * 60.0).then_some(minutes as i32)
    })
}

fn bad(field: &str, value: &JsValue, expected: &str) -> Error {
    Error::InvalidArgument { what: field.to_owned(), reason: format!("must be {expected}, got {}", describe(value)) }
}

fn field(object: &JsValue, key: &str) -> JsValue {
    Reflect::get(object, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

fn string(object: &JsValue, at: &str, key: &str) -> Result<String, Error> {
    let v = field(object, key);
    v.as_string().ok_or_else(|| bad(&format!("{at}.{key}"), &v, "a string"))
}

fn integer(object: &JsValue, at: &str, key: &str, max: f64) -> Result<f64, Error> {
    let v = field(object, key);
    v.as_f64().filter(|n| n.fract() == 0.0 && n.abs() <= max).ok_or_else(|| bad(&format!("{at}.{key}"), &v, "an integer"))
}

/// The items of `object[key]`, an array of at most [`MAX_FREEZES`] (empty
/// when absent).
fn list(object: &JsValue, key: &str) -> Result<Vec<JsValue>, Error> {
    let v = field(object, key);
    if v.is_undefined() || v.is_null() {
        return Ok(Vec::new());
    }
    let array = v.dyn_ref::<Array>().ok_or_else(|| bad(&format!("freezes.{key}"), &v, "an array"))?;
    if array.length() as usize > MAX_FREEZES {
        return Err(bad(&format!("freezes.{key}"), &v, &format!("at most {MAX_FREEZES} items")));
    }
    Ok(array.iter().collect())
}

pub(crate) fn freezes_from_js(value: &JsValue) -> Result<Freezes, Error> {
    if !value.is_object() || Array::is_array(value) {
        return Err(bad("freezes", value, "an object { windows, freezes }"));
    }
    let mut windows = Vec::new();
    for (i, w) in list(value, "windows")?.iter().enumerate() {
        let at = format!("freezes.windows[{i}]");
        windows.push(FreezeWindow {
            name: string(w, &at, "name")?,
            days: integer(w, &at, "days", 255.0)? as u8,
            start: integer(w, &at, "start", 65_535.0)? as u16,
            end: integer(w, &at, "end", 65_535.0)? as u16,
            zone: string(w, &at, "zone")?,
        });
    }
    let mut freezes = Vec::new();
    for (i, f) in list(value, "freezes")?.iter().enumerate() {
        let at = format!("freezes.freezes[{i}]");
        let ms = 9_007_199_254_740_991.0;
        freezes.push(Freeze {
            name: string(f, &at, "name")?,
            from: integer(f, &at, "from", ms)? as i64,
            until: integer(f, &at, "until", ms)? as i64,
        });
    }
    Ok(Freezes { windows, freezes })
}

#[wasm_bindgen]
impl Orchestrator {
    /// Sets the freeze windows and one-off freezes of an entity, or of the
    /// whole namespace when `entity` is `null` (replacing those set before;
    /// `{}` removes them). While one holds, a step moves no target to the
    /// version rolling out (they answer reason `"held_frozen"`) and starts
    /// no plan step; judging, rollbacks and the watch window go on. Each
    /// window has days (`["sat", "sun"]`, `"weekdays"`, `"daily"`), a start
    /// and an end (`"22:00"`, `"06:00"`: an end not after the start
    /// crosses midnight) and a time zone (an IANA name, `"UTC"`, or
    /// `"+05:30"`); each freeze `from` and `until` (ms, a `Date` or an ISO
    /// string). Returns whether they changed. Creates the entity if
    /// needed.
    ///
    /// @example
    /// ```js
    /// engine.setFreezes("prod", null, {
    ///   windows: [{ name: "weekend", days: ["sat", "sun"], start: "00:00", end: "24:00", zone: "Europe/Berlin" }],
    ///   freezes: [{ name: "black friday", from: "2026-11-27T00:00Z", until: "2026-11-30T00:00Z" }],
    /// });
    /// ```
    #[wasm_bindgen(js_name = setFreezes)]
    pub fn set_freezes(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "string")] namespace: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string | null")] entity: JsValue,
        #[wasm_bindgen(unchecked_param_type = "FreezesInput")] freezes: JsValue,
    ) -> JsResult<bool> {
        let ns = string_arg("namespace", &namespace).map_err(error_to_js)?;
        let entity = optional_string_arg("entity", Some(entity)).map_err(error_to_js)?;
        let freezes = freezes_from_js(&freezes).map_err(error_to_js)?;
        let now = self.now().map_err(error_to_js)?;
        self.engine.set_freezes(&ns, entity.as_deref(), freezes, now).map_err(error_to_js)
    }

    /// The freezes of an entity, or of the namespace without `entity`.
    ///
    /// @example
    /// ```js
    /// const { windows, freezes } = engine.freezes("prod", "api");
    /// ```
    #[wasm_bindgen(unchecked_return_type = "Freezes")]
    pub fn freezes(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] namespace: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string | null")] entity: Option<JsOptionalString>,
    ) -> JsResult<JsValue> {
        let ns = string_arg("namespace", &namespace).map_err(error_to_js)?;
        let entity = optional_string_arg("entity", entity.map(JsValue::from)).map_err(error_to_js)?;
        let freezes = self.engine.freezes(&ns, entity.as_deref()).map_err(error_to_js)?;
        to_js(freezes).map_err(error_to_js)
    }

    /// Stops the namespace's line: until `startTheLine`, no entity of it
    /// moves a target to a version rolling out, whatever its windows say
    /// (rollbacks and the watch go on). The actor set is recorded as who
    /// stopped it. Returns `false` when it was stopped already.
    ///
    /// @example
    /// ```js
    /// engine.setActor("alice");
    /// engine.stopTheLine("prod", "incident 4711: checkout errors");
    /// ```
    #[wasm_bindgen(js_name = stopTheLine)]
    pub fn stop_the_line(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "string")] namespace: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] reason: JsValue,
    ) -> JsResult<bool> {
        let ns = string_arg("namespace", &namespace).map_err(error_to_js)?;
        let reason = string_arg("reason", &reason).map_err(error_to_js)?;
        let now = self.now().map_err(error_to_js)?;
        self.engine.stop_the_line(&ns, &reason, now).map_err(error_to_js)
    }

    /// Starts the namespace's line again; returns whether it was stopped.
    #[wasm_bindgen(js_name = startTheLine)]
    pub fn start_the_line(&mut self, #[wasm_bindgen(unchecked_param_type = "string")] namespace: JsValue) -> JsResult<bool> {
        let ns = string_arg("namespace", &namespace).map_err(error_to_js)?;
        self.engine.start_the_line(&ns).map_err(error_to_js)
    }

    /// Why the namespace's line is stopped, since when and by whom; `null`
    /// while it runs.
    #[wasm_bindgen(js_name = lineStop, unchecked_return_type = "LineStop | null")]
    pub fn line_stop(&self, #[wasm_bindgen(unchecked_param_type = "string")] namespace: JsValue) -> JsResult<JsValue> {
        let ns = string_arg("namespace", &namespace).map_err(error_to_js)?;
        match self.engine.line_stop(&ns) {
            Some(stop) => to_js(stop).map_err(error_to_js),
            None => Ok(JsValue::NULL),
        }
    }
}
