//! The fast path across the JS boundary for reports and answers, the bulk
//! of what crosses it. Converting a report field by field costs a call into
//! JS per field and target, and building the answer with serde one per
//! property; `js/boundary.js` instead packs a report into one string with
//! the lengths of its parts, and unpacks an answer sent as one string of
//! names plus tables of the few distinct versions, messages and reasons.
//! Anything the packer does not vouch for goes the plain way
//! ([`interop::reports_from_js`]), which also words the errors.

use std::collections::HashMap;

use js_sys::{Array, Uint32Array, Uint8Array};
use wasm_bindgen::prelude::*;

use super::interop;
use crate::entity::{Entity, MessageKey};
use crate::error::Error;
use crate::interner::Sym;
use crate::model::{TargetReport, TargetState};

#[wasm_bindgen(module = "/js/boundary.js")]
extern "C" {
    /// `[text, lengths, errors]`, or `undefined` when the plain path must
    /// judge the report.
    #[wasm_bindgen(js_name = packReports, catch)]
    fn pack_reports(reports: &JsValue) -> Result<JsValue, JsValue>;

    #[wasm_bindgen(js_name = unpackAnswer)]
    #[allow(clippy::too_many_arguments)]
    fn unpack_answer(
        text: &str,
        lengths: &[u32],
        versions: &Array,
        version_of: &[u32],
        messages: &Array,
        message_of: &[u32],
        reasons: &Array,
        failed: &[u8],
        reason_of: &[u8],
    ) -> JsValue;
}

/// A report from JS: packed when it can be, else field by field.
pub(crate) fn reports_from_js(value: &JsValue) -> Result<Vec<TargetReport>, Error> {
    match pack_reports(value) {
        Ok(packed) if !packed.is_undefined() => match unpack_reports(&packed) {
            Some(reports) => Ok(reports),
            None => interop::reports_from_js(value),
        },
        // A getter threw, or the packer could not vouch for the report.
        _ => interop::reports_from_js(value),
    }
}

fn unpack_reports(packed: &JsValue) -> Option<Vec<TargetReport>> {
    let packed: &Array = packed.dyn_ref()?;
    let text = packed.get(0).as_string()?;
    let lengths = packed.get(1).dyn_into::<Uint32Array>().ok()?.to_vec();
    let errors = packed.get(2).dyn_into::<Uint8Array>().ok()?.to_vec();
    let parts = split_utf16(&text, &lengths)?;
    let mut reports = Vec::with_capacity(errors.len());
    for (fields, is_error) in parts.chunks_exact(4).zip(errors) {
        let [name, group, version, message] = fields else { return None };
        reports.push(TargetReport {
            name: (*name).to_owned(),
            group: (*group).to_owned(),
            tags: Vec::new(),
            version: (*version).to_owned(),
            message: (*message).to_owned(),
            is_error: is_error == 1,
        });
    }
    (reports.len().saturating_mul(4) == lengths.len()).then_some(reports)
}

/// Cuts `text` into parts of the given lengths in UTF-16 code units (JS
/// string lengths); `None` if they do not add up to the text.
fn split_utf16<'t>(text: &'t str, lengths: &[u32]) -> Option<Vec<&'t str>> {
    let mut parts = Vec::with_capacity(lengths.len());
    let mut rest = text;
    if text.is_ascii() {
        // One byte per code unit.
        for &length in lengths {
            let (part, tail) = rest.split_at_checked(usize::try_from(length).ok()?)?;
            parts.push(part);
            rest = tail;
        }
    } else {
        for &length in lengths {
            let mut units = 0usize;
            let mut end = 0usize;
            let want = usize::try_from(length).ok()?;
            let mut chars = rest.chars();
            while units < want {
                let c = chars.next()?;
                units = units.saturating_add(c.len_utf16());
                end = end.saturating_add(c.len_utf8());
            }
            if units != want {
                return None;
            }
            let (part, tail) = rest.split_at_checked(end)?;
            parts.push(part);
            rest = tail;
        }
    }
    rest.is_empty().then_some(parts)
}

fn utf16_len(s: &str) -> u32 {
    let units = if s.is_ascii() { s.len() } else { s.encode_utf16().count() };
    u32::try_from(units).unwrap_or(u32::MAX)
}

/// The entity's answer (every target, or one group's) as JS objects.
pub(crate) fn answer_to_js(entity: &Entity, group: Option<&str>) -> JsValue {
    let rows = entity.rows(group);
    let mut text = String::new();
    let mut lengths = Vec::with_capacity(rows.len().saturating_mul(2));
    let versions = Array::new();
    let mut version_index: Vec<(Sym, u32)> = Vec::new();
    let mut version_of = Vec::with_capacity(rows.len());
    let messages = Array::new();
    let mut message_index: HashMap<MessageKey<'_>, u32, foldhash::fast::RandomState> = HashMap::default();
    let mut message_of = Vec::with_capacity(rows.len());
    let mut reason_of = Vec::with_capacity(rows.len());
    for row in &rows {
        text.push_str(row.name);
        text.push_str(row.group);
        lengths.push(utf16_len(row.name));
        lengths.push(utf16_len(row.group));
        let version = match version_index.iter().find(|(sym, _)| *sym == row.version) {
            Some(&(_, index)) => index,
            None => {
                let index = versions.push(&JsValue::from_str(entity.version(row.version))).saturating_sub(1);
                version_index.push((row.version, index));
                index
            }
        };
        version_of.push(version);
        let message = *message_index
            .entry(entity.message_key(row))
            .or_insert_with(|| messages.push(&JsValue::from_str(&entity.row_message(row))).saturating_sub(1));
        message_of.push(message);
        let reason = TargetState::ALL.iter().position(|s| *s == row.state).unwrap_or(0);
        reason_of.push(u8::try_from(reason).unwrap_or(0));
    }
    let reasons: Array = TargetState::ALL.iter().map(|s| JsValue::from_str(s.as_str())).collect();
    let failed: Vec<u8> = TargetState::ALL.iter().map(|s| u8::from(s.is_failed())).collect();
    unpack_answer(&text, &lengths, &versions, &version_of, &messages, &message_of, &reasons, &failed, &reason_of)
}
