//! Objects from JS read field by field (analysis templates, freezes,
//! pipelines, as the package's JS has normalized them) rather than
//! through serde, whose error messages would bring float formatting into
//! the module. A field that is wrong is refused with the error its caller
//! names: `INVALID_OPTIONS` for rollout options, `INVALID_ARGUMENT` for the
//! rest.

use js_sys::Array;
use wasm_bindgen::{JsCast, JsValue};

use super::interop::describe;
use crate::Error;

/// Which error a wrong field is.
#[derive(Clone, Copy)]
pub(crate) enum Refusal {
    Options,
    Argument,
}

impl Refusal {
    fn error(self, field: String, value: &JsValue, reason: &str) -> Error {
        match self {
            Refusal::Options => Error::InvalidOptions { field, value: describe(value), reason: reason.to_owned() },
            Refusal::Argument => Error::InvalidArgument { what: field, reason: format!("{reason}, got {}", describe(value)) },
        }
    }
}

pub(crate) struct Reader<'a> {
    object: &'a JsValue,
    pub(crate) field: String,
    refusal: Refusal,
}

/// `value` as an object to read, named `field` in errors.
pub(crate) fn object(field: String, value: &JsValue, refusal: Refusal) -> Result<Reader<'_>, Error> {
    if !value.is_object() || Array::is_array(value) {
        return Err(refusal.error(field, value, "must be an object"));
    }
    Ok(Reader { object: value, field, refusal })
}

impl Reader<'_> {
    pub(crate) fn get(&self, key: &str) -> JsValue {
        js_sys::Reflect::get(self.object, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
    }

    pub(crate) fn bad(&self, key: &str, value: &JsValue, reason: &str) -> Error {
        self.refusal.error(format!("{}.{key}", self.field), value, reason)
    }

    /// An object within, read as this one is.
    pub(crate) fn object<'v>(&self, field: String, value: &'v JsValue) -> Result<Reader<'v>, Error> {
        object(field, value, self.refusal)
    }

    pub(crate) fn string(&self, key: &str) -> Result<Option<String>, Error> {
        let v = self.get(key);
        if v.is_undefined() || v.is_null() {
            return Ok(None);
        }
        v.as_string().map(Some).ok_or_else(|| self.bad(key, &v, "must be a string"))
    }

    /// A string that must be there.
    pub(crate) fn required(&self, key: &str) -> Result<String, Error> {
        self.string(key)?.ok_or_else(|| self.bad(key, &JsValue::UNDEFINED, "must be a string"))
    }

    pub(crate) fn int(&self, key: &str, min: i64, max: i64) -> Result<Option<i64>, Error> {
        let v = self.get(key);
        if v.is_undefined() || v.is_null() {
            return Ok(None);
        }
        #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
        v.as_f64()
            .filter(|n| n.fract() == 0.0 && *n >= min as f64 && *n <= max as f64)
            .map(|n| Some(n as i64))
            .ok_or_else(|| self.bad(key, &v, &format!("must be an integer from {min} to {max}")))
    }

    pub(crate) fn boolean(&self, key: &str) -> Result<Option<bool>, Error> {
        let v = self.get(key);
        if v.is_undefined() || v.is_null() {
            return Ok(None);
        }
        v.as_bool().map(Some).ok_or_else(|| self.bad(key, &v, "must be true or false"))
    }

    /// The items of `key`, an array of at most `most` (empty when absent).
    pub(crate) fn list(&self, key: &str, most: usize) -> Result<Vec<JsValue>, Error> {
        let v = self.get(key);
        if v.is_undefined() || v.is_null() {
            return Ok(Vec::new());
        }
        if !Array::is_array(&v) {
            return Err(self.bad(key, &v, "must be an array"));
        }
        let array = v.unchecked_into::<Array>();
        if array.length() as usize > most {
            return Err(self.bad(key, &array, &format!("must have at most {most} items")));
        }
        Ok(array.iter().collect())
    }
}
