//! Freezes from JS, as the package's JS has normalized them
//! (js/freezes.mjs: days as a bit set, times of day in minutes, instants in
//! ms). Read field by field rather than through serde, as analysis
//! templates are.

use js_sys::{Array, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::interop::describe;
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
