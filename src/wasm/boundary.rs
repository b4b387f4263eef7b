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
use crate::model::{ReportRef, TargetReport, TargetState};

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

/// A report from JS, as it crossed: packed, or converted field by field.
pub(crate) enum Reports {
    /// Every name, group, version and message in one string; `ends` are
    /// the byte offsets where each part ends, 4 per target.
    Packed { text: String, ends: Vec<usize>, errors: Vec<u8> },
    Plain(Vec<TargetReport>),
}

impl Reports {
    /// The reports as the step reads them, borrowed: the packed form needs
    /// no string of its own per target.
    pub(crate) fn refs(&self) -> Vec<ReportRef<'_>> {
        match self {
            Reports::Plain(reports) => reports.iter().map(TargetReport::as_ref).collect(),
            Reports::Packed { text, ends, errors } => {
                let mut start = 0usize;
                let mut part = |end: usize| {
                    let s = text.get(start..end).unwrap_or_default();
                    start = end;
                    s
                };
                ends.chunks_exact(4)
                    .zip(errors)
                    .filter_map(|(e, &is_error)| {
                        let &[name, group, version, message] = e else { return None };
                        let [name, group, version, message] = [name, group, version, message].map(&mut part);
                        Some(ReportRef { name, group, tags: &[], version, message, is_error: is_error == 1 })
                    })
                    .collect()
            }
        }
    }
}

/// A report from JS: packed when it can be, else field by field.
pub(crate) fn reports_from_js(value: &JsValue) -> Result<Reports, Error> {
    match pack_reports(value) {
        Ok(packed) if !packed.is_undefined() => match unpack_reports(&packed) {
            Some(reports) => Ok(reports),
            None => interop::reports_from_js(value).map(Reports::Plain),
        },
        // A getter threw, or the packer could not vouch for the report.
        _ => interop::reports_from_js(value).map(Reports::Plain),
    }
}

fn unpack_reports(packed: &JsValue) -> Option<Reports> {
    let packed: &Array = packed.dyn_ref()?;
    let text = packed.get(0).as_string()?;
    let lengths = packed.get(1).dyn_into::<Uint32Array>().ok()?.to_vec();
    let errors = packed.get(2).dyn_into::<Uint8Array>().ok()?.to_vec();
    if lengths.len() != errors.len().checked_mul(4)? {
        return None;
    }
    let ends = byte_ends(&text, &lengths)?;
    Some(Reports::Packed { text, ends, errors })
}

/// Where each part of `text` ends, in bytes, given the parts' lengths in
/// UTF-16 code units (JS string lengths); `None` if they do not add up to
/// the text.
fn byte_ends(text: &str, lengths: &[u32]) -> Option<Vec<usize>> {
    let mut ends = Vec::with_capacity(lengths.len());
    let mut end = 0usize;
    if text.is_ascii() {
        // One byte per code unit.
        for &length in lengths {
            end = end.checked_add(usize::try_from(length).ok()?)?;
            ends.push(end);
        }
    } else {
        let mut chars = text.chars();
        for &length in lengths {
            let want = usize::try_from(length).ok()?;
            let mut units = 0usize;
            while units < want {
                let c = chars.next()?;
                units = units.saturating_add(c.len_utf16());
                end = end.saturating_add(c.len_utf8());
            }
            if units != want {
                return None;
            }
            ends.push(end);
        }
    }
    (end == text.len()).then_some(ends)
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
        // A fieldless enum's discriminant is its index in TargetState::ALL.
        reason_of.push(row.state as u8);
    }
    let reasons: Array = TargetState::ALL.iter().map(|s| JsValue::from_str(s.as_str())).collect();
    let failed: Vec<u8> = TargetState::ALL.iter().map(|s| u8::from(s.is_failed())).collect();
    unpack_answer(&text, &lengths, &versions, &version_of, &messages, &message_of, &reasons, &failed, &reason_of)
}
