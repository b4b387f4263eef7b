//! Freezes and the namespace's line: `Orchestrator`'s methods for them,
//! and freezes read from JS as the package's JS has normalized them
//! (js/freezes.mjs: days as a bit set, times of day in minutes, instants in
//! ms), field by field rather than through serde, as analysis templates
//! are.

use wasm_bindgen::prelude::*;

use super::interop::{error_to_js, optional_string_arg, string_arg, to_js};
use super::orchestrator::Orchestrator;
use super::reader::{self, Refusal};
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

const MS: i64 = 9_007_199_254_740_991;

pub(crate) fn freezes_from_js(value: &JsValue) -> Result<Freezes, Error> {
    let input = reader::object("freezes".into(), value, Refusal::Argument)?;
    let mut windows = Vec::new();
    for (i, w) in input.list("windows", MAX_FREEZES)?.iter().enumerate() {
        let w = input.object(format!("freezes.windows[{i}]"), w)?;
        let minutes = |key| w.int(key, 0, 65_535)?.ok_or_else(|| w.bad(key, &JsValue::UNDEFINED, "must be an integer"));
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        windows.push(FreezeWindow {
            name: w.required("name")?,
            days: w.int("days", 0, 255)?.ok_or_else(|| w.bad("days", &JsValue::UNDEFINED, "must be an integer"))? as u8,
            start: minutes("start")? as u16,
            end: minutes("end")? as u16,
            zone: w.required("zone")?,
        });
    }
    let mut freezes = Vec::new();
    for (i, f) in input.list("freezes", MAX_FREEZES)?.iter().enumerate() {
        let f = input.object(format!("freezes.freezes[{i}]"), f)?;
        let instant = |key| f.int(key, -MS, MS)?.ok_or_else(|| f.bad(key, &JsValue::UNDEFINED, "must be an integer"));
        freezes.push(Freeze { name: f.required("name")?, from: instant("from")?, until: instant("until")? });
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

    /// For `Rollouts` (js/rollouts/rollouts.mjs): takes the namespace's
    /// freezes and stopped line from `settings`, the snapshot of its
    /// namespace record (`undefined`: none), replacing this engine's.
    #[wasm_bindgen(js_name = __adoptNamespace, skip_typescript)]
    pub fn adopt_namespace(&mut self, namespace: String, settings: Option<Vec<u8>>) -> JsResult<()> {
        self.engine.adopt_namespace(&namespace, settings.as_deref()).map_err(error_to_js)
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
