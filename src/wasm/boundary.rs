//! The fast path across the JS boundary for reports and answers, the bulk
//! of what crosses it. Converting a report field by field costs a call into
//! JS per field and target, and building the answer with serde one per
//! property; `js/boundary.js` instead packs a report into UTF-8 bytes with
//! the lengths of its parts (names) and tables of distinct values (groups,
//! versions, messages), and unpacks an answer whose names are the report's
//! own strings where they can be (else one string of names) and whose
//! groups, versions, messages and reasons are tables.
//! Anything the packer does not vouch for goes the plain way
//! ([`interop::reports_from_js`]), which also words the errors.

use std::collections::HashMap;
use std::hash::Hash;

use js_sys::{Array, Uint32Array, Uint8Array};
use wasm_bindgen::prelude::*;

use super::interop;
use crate::{Answer, AnswerRow, Error, MessageKey, ReportRef, TargetReport, TargetState, VersionKey};

#[wasm_bindgen(module = "/js/boundary.js")]
extern "C" {
    /// `[text, lengths, errors]`, or `undefined` when the plain path must
    /// judge the report.
    #[wasm_bindgen(js_name = packReports, catch)]
    fn pack_reports(reports: &JsValue) -> Result<JsValue, JsValue>;

    #[wasm_bindgen(js_name = unpackAnswer)]
    #[allow(clippy::too_many_arguments)]
    fn unpack_answer(
        names: &JsValue,
        name_from: &[u32],
        text: &str,
        lengths: &[u32],
        groups: &Array,
        group_of: &[u32],
        versions: &Array,
        version_of: &[u32],
        messages: &Array,
        message_of: &[u32],
        reasons: &Array,
        failed: &[u8],
        reason_of: &[u8],
    ) -> JsValue;

    /// `[text, lengths, errors]` as `packReports` gives, or what is wrong:
    /// `["argument", reason]` or `["target", index, reason]`.
    #[wasm_bindgen(js_name = packColumns, catch)]
    fn pack_columns(columns: &JsValue) -> Result<JsValue, JsValue>;

    #[wasm_bindgen(js_name = answerColumns)]
    #[allow(clippy::too_many_arguments)]
    fn answer_columns(
        versions: &Array,
        version_of: Vec<u32>,
        messages: &Array,
        message_of: Vec<u32>,
        reasons: &Array,
        reason_of: Vec<u8>,
        is_error: Vec<u8>,
        others: JsValue,
    ) -> JsValue;
}

/// A report from JS, as it crossed: packed, or converted field by field.
pub(crate) enum Reports {
    /// Names in one text with the byte offsets where each ends; groups,
    /// versions and messages as tables of their distinct values, with each
    /// target's entry.
    Packed {
        names: (String, Names),
        fields: [Field; 3],
        errors: Vec<u8>,
        /// Each target's tags, when any target has some: the distinct
        /// lists, and each target's entry.
        tags: Option<PackedTags>,
        /// The report's own names (a JS array of strings), which an answer
        /// may hand back instead of making new strings.
        strings: JsValue,
    },
    Plain(Vec<TargetReport>),
}

/// One field of a packed report: its distinct values, and each target's
/// value as an index among them.
pub(crate) struct Field {
    values: Vec<Box<str>>,
    index: Entries,
}

/// Each target's entry in a table, as narrow as the table allows (a byte
/// for the few versions, groups and messages of most fleets): a report's
/// columns are the bulk of a step's memory, which wasm never gives back.
pub(crate) enum Entries {
    Bytes(Vec<u8>),
    Halves(Vec<u16>),
    Words(Vec<u32>),
}

impl Entries {
    fn from_js(value: JsValue) -> Option<Entries> {
        if let Some(bytes) = value.dyn_ref::<Uint8Array>() {
            return Some(Entries::Bytes(bytes.to_vec()));
        }
        if let Some(halves) = value.dyn_ref::<js_sys::Uint16Array>() {
            return Some(Entries::Halves(halves.to_vec()));
        }
        value.dyn_into::<Uint32Array>().ok().map(|words| Entries::Words(words.to_vec()))
    }

    fn len(&self) -> usize {
        match self {
            Entries::Bytes(v) => v.len(),
            Entries::Halves(v) => v.len(),
            Entries::Words(v) => v.len(),
        }
    }

    #[inline(always)]
    fn get(&self, i: usize) -> Option<usize> {
        match self {
            Entries::Bytes(v) => v.get(i).map(|&e| usize::from(e)),
            Entries::Halves(v) => v.get(i).map(|&e| usize::from(e)),
            Entries::Words(v) => v.get(i).map(|&e| e as usize),
        }
    }

    /// Whether every entry is below `len`.
    fn within(&self, len: usize) -> bool {
        (0..self.len()).all(|i| self.get(i).is_some_and(|e| e < len))
    }
}

/// The distinct tag lists of a packed report, and each target's entry.
pub(crate) struct PackedTags {
    lists: Vec<Vec<String>>,
    index: Entries,
}

/// Joins a target's tags in a packed table (`TAG_SEPARATOR` in js/boundary.js).
const TAG_SEPARATOR: char = '\u{1f}';

impl PackedTags {
    fn from_field(field: Field) -> PackedTags {
        let lists = field
            .values
            .iter()
            .map(|joined| if joined.is_empty() { Vec::new() } else { joined.split(TAG_SEPARATOR).map(str::to_owned).collect() })
            .collect();
        PackedTags { lists, index: field.index }
    }

    fn get(&self, target: usize) -> &[String] {
        // Every index was checked against the table when it crossed.
        self.index.get(target).and_then(|i| self.lists.get(i)).map_or(&[], Vec::as_slice)
    }
}

impl Field {
    /// Target `i`'s value (every index was checked against the table when
    /// it crossed).
    #[inline(always)]
    fn value(&self, i: usize) -> &str {
        self.index.get(i).and_then(|v| self.values.get(v)).map_or("", |s| s)
    }
}

impl Reports {
    /// The report's own name strings and how many, when it has them.
    pub(crate) fn names(&self) -> Option<(JsValue, usize)> {
        match self {
            Reports::Packed { strings, errors, .. } if !strings.is_undefined() => Some((strings.clone(), errors.len())),
            _ => None,
        }
    }
}

/// The step reads the packed form where it is: no string and no borrowed
/// copy of its own per target.
impl crate::Reported for Reports {
    fn key(&self, i: usize) -> (&str, &str) {
        match self {
            Reports::Plain(reports) => reports.get(i).map_or(("", ""), |r| (&r.group, &r.name)),
            Reports::Packed { names: (text, names), fields: [groups, ..], .. } => (groups.value(i), names.get(text, i)),
        }
    }

    fn fields(&self, i: usize) -> ReportRef<'_> {
        match self {
            Reports::Plain(_) => self.report(i),
            Reports::Packed { fields: [_, versions, messages], errors, tags, .. } => ReportRef {
                name: "",
                group: "",
                tags: tags.as_ref().map_or(&[], |tags| tags.get(i)),
                version: versions.value(i),
                message: messages.value(i),
                is_error: errors.get(i) == Some(&1),
            },
        }
    }

    fn version(&self, i: usize) -> &str {
        match self {
            Reports::Plain(reports) => reports.get(i).map_or("", |r| &r.version),
            Reports::Packed { fields: [_, versions, _], .. } => versions.value(i),
        }
    }

    fn count(&self) -> usize {
        match self {
            Reports::Plain(reports) => reports.len(),
            Reports::Packed { errors, .. } => errors.len(),
        }
    }

    fn report(&self, i: usize) -> ReportRef<'_> {
        match self {
            Reports::Plain(reports) => reports.get(i).map(TargetReport::borrowed).unwrap_or_default(),
            Reports::Packed { .. } => {
                let (group, name) = self.key(i);
                ReportRef { name, group, ..self.fields(i) }
            }
        }
    }
}

/// Part `i` of a packed text (`ends[i]` is where it ends).
fn part<'a>(text: &'a str, ends: &[u32], i: usize) -> &'a str {
    let start = if i == 0 { 0 } else { ends.get(i.wrapping_sub(1)).copied().unwrap_or(0) };
    let end = ends.get(i).copied().unwrap_or(start);
    text.get(start as usize..end as usize).unwrap_or_default()
}

/// The strings of one packed text.
fn parts<'a>(text: &'a str, ends: &'a [u32]) -> impl Iterator<Item = &'a str> + 'a {
    (0..ends.len()).map(move |i| part(text, ends, i))
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

/// A whole number `packColumns` put at `at` in its answer.
fn index_at(problem: &Array, at: u32) -> usize {
    problem.get(at).as_f64().map_or(0, |n| n as usize)
}

/// A report in columns (`orchestrateColumns`): always packed.
pub(crate) fn columns_from_js(value: &JsValue) -> Result<Reports, Error> {
    let bad = |reason: String| Error::InvalidArgument { what: "columns".into(), reason };
    let packed = pack_columns(value).map_err(|thrown| bad(format!("could not be read: {}", interop::describe(&thrown))))?;
    let problem: &Array = packed.unchecked_ref();
    match problem.get(0).as_string().as_deref() {
        Some("argument") => Err(bad(problem.get(1).as_string().unwrap_or_default())),
        Some("target") => Err(Error::InvalidTarget {
            target: crate::report_entry(index_at(problem, 1), index_at(problem, 3)),
            reason: problem.get(2).as_string().unwrap_or_default(),
        }),
        _ => unpack_reports(&packed).ok_or_else(|| bad("could not be read: its strings do not add up".into())),
    }
}

fn unpack_reports(packed: &JsValue) -> Option<Reports> {
    let packed: &Array = packed.dyn_ref()?;
    let errors = packed.get(4).dyn_into::<Uint8Array>().ok()?.to_vec();
    // `[utf8, lengths]`: JS's TextEncoder wrote it, UTF-8 checked all the same.
    let text = |column: &Array| -> Option<(String, Vec<u32>)> {
        let text = String::from_utf8(column.get(0).dyn_into::<Uint8Array>().ok()?.to_vec()).ok()?;
        let lengths = column.get(1).dyn_into::<Uint32Array>().ok()?.to_vec();
        let ends = byte_ends(&text, lengths)?;
        Some((text, ends))
    };
    let names_column: Array = packed.get(0).dyn_into().ok()?;
    let names = names_text(&names_column)?;
    let field = |i: u32| -> Option<Field> {
        let column: Array = packed.get(i).dyn_into().ok()?;
        let (text, ends) = text(&column)?;
        let index = Entries::from_js(column.get(2))?;
        let fits = index.within(ends.len());
        // A few distinct values: each its own string, read without slicing.
        let values = parts(&text, &ends).map(Box::from).collect();
        (fits && index.len() == errors.len()).then_some(Field { values, index })
    };
    let fields = [field(1)?, field(2)?, field(3)?];
    // Tags only when some target has them.
    let tags = if packed.length() > 5 { Some(PackedTags::from_field(field(5)?)) } else { None };
    // `names[i]`, the string report `i` named its target by (when the
    // packer made that array: the objects path).
    let strings = names_column.get(2);
    let strings = match strings.dyn_ref::<Array>() {
        Some(array) if array.length() as usize == errors.len() => strings,
        _ => JsValue::UNDEFINED,
    };
    (names.1.len() == errors.len()).then_some(Reports::Packed { names, fields, errors, tags, strings })
}

/// The names of a packed report: `[utf8, lengths]`, the lengths a byte
/// each when every name is ASCII and shorter than 256 (as fleets name their
/// targets), else in UTF-16 code units.
fn names_text(column: &Array) -> Option<(String, Names)> {
    let text = String::from_utf8(column.get(0).dyn_into::<Uint8Array>().ok()?.to_vec()).ok()?;
    let lengths = column.get(1);
    if let Some(short) = lengths.dyn_ref::<Uint8Array>() {
        let lengths = short.to_vec();
        let total = lengths.iter().try_fold(0u32, |sum, &l| sum.checked_add(u32::from(l)))?;
        if !text.is_ascii() || usize::try_from(total).ok() != Some(text.len()) {
            return None;
        }
        let mut marks = Vec::with_capacity(lengths.len().div_ceil(Names::MARK));
        let mut at = 0u32;
        for chunk in lengths.chunks(Names::MARK) {
            marks.push(at);
            at = chunk.iter().fold(at, |sum, &l| sum.saturating_add(u32::from(l)));
        }
        return Some((text, Names::Short { lengths, marks, cursor: std::cell::Cell::new((0, 0)) }));
    }
    let ends = byte_ends(&text, lengths.dyn_into::<Uint32Array>().ok()?.to_vec())?;
    Some((text, Names::Ends(ends)))
}

/// Where each name of a packed report is in its text.
pub(crate) enum Names {
    /// Where each ends.
    Ends(Vec<u32>),
    /// Each one's length in bytes, where every `MARK`th one starts, and
    /// where the one after the last read starts (a step reads them in
    /// order): a byte per name instead of four.
    Short { lengths: Vec<u8>, marks: Vec<u32>, cursor: std::cell::Cell<(usize, u32)> },
}

impl Names {
    const MARK: usize = 64;

    fn len(&self) -> usize {
        match self {
            Names::Ends(ends) => ends.len(),
            Names::Short { lengths, .. } => lengths.len(),
        }
    }

    /// Name `i` of `text`.
    fn get<'a>(&self, text: &'a str, i: usize) -> &'a str {
        match self {
            Names::Ends(ends) => part(text, ends, i),
            Names::Short { lengths, marks, cursor } => {
                let start = match cursor.get() {
                    (next, start) if next == i => start,
                    _ => {
                        let mark = i / Names::MARK;
                        let from = mark.saturating_mul(Names::MARK);
                        let before = lengths.get(from..i).unwrap_or_default();
                        before.iter().fold(marks.get(mark).copied().unwrap_or(0), |sum, &l| sum.saturating_add(u32::from(l)))
                    }
                };
                let end = start.saturating_add(lengths.get(i).copied().map_or(0, u32::from));
                cursor.set((i.saturating_add(1), end));
                text.get(start as usize..end as usize).unwrap_or_default()
            }
        }
    }
}

/// Where each part of `text` ends, in bytes, given the parts' lengths in
/// UTF-16 code units (JS string lengths); `None` if they do not add up to
/// the text. The lengths become the ends in place (a report's columns
/// are the bulk of a step's memory, which wasm never gives back).
fn byte_ends(text: &str, mut lengths: Vec<u32>) -> Option<Vec<u32>> {
    let mut end = 0u32;
    if text.is_ascii() {
        // One byte per code unit.
        for length in &mut lengths {
            end = end.checked_add(*length)?;
            *length = end;
        }
    } else {
        let mut chars = text.chars();
        for length in &mut lengths {
            let want = *length;
            let mut units = 0u32;
            while units < want {
                let c = chars.next()?;
                units = units.saturating_add(u32::try_from(c.len_utf16()).unwrap_or(2));
                end = end.saturating_add(u32::try_from(c.len_utf8()).unwrap_or(4));
            }
            if units != want {
                return None;
            }
            *length = end;
        }
    }
    (usize::try_from(end).ok() == Some(text.len())).then_some(lengths)
}

fn utf16_len(s: &str) -> u32 {
    let units = if s.is_ascii() { s.len() } else { s.encode_utf16().count() };
    u32::try_from(units).unwrap_or(u32::MAX)
}

/// Distinct values sent to JS once each, as an array, and the index of each
/// key's value in it. Neighbouring rows mostly share their key: the
/// previous row's key is compared before the map is hashed.
struct Dictionary<K> {
    values: Array,
    index: HashMap<K, u32, foldhash::fast::RandomState>,
    /// The keys looked up last, newest first: rows mostly repeat a few
    /// (a rollout's moved and unmoved targets alternate in a report).
    recent: [Option<(K, u32)>; RECENT],
}

const RECENT: usize = 4;

impl<K: Hash + Eq + Clone> Dictionary<K> {
    fn new() -> Self {
        Dictionary { values: Array::new(), index: HashMap::default(), recent: std::array::from_fn(|_| None) }
    }

    /// The index of `key`'s value, made by `value` the first time.
    fn index_of<S: AsRef<str>>(&mut self, key: K, value: impl FnOnce() -> S) -> u32 {
        for (known, index) in self.recent.iter().flatten() {
            if *known == key {
                return *index;
            }
        }
        let values = &self.values;
        let index = *self.index.entry(key.clone()).or_insert_with(|| values.push(&JsValue::from_str(value().as_ref())).saturating_sub(1));
        self.recent.rotate_right(1);
        if let Some(newest) = self.recent.first_mut() {
            *newest = Some((key, index));
        }
        index
    }
}

/// An answer's versions, messages and reasons as tables, each distinct
/// value sent to JS once, and every row as indexes into them.
struct Tables<'e> {
    answer: Answer<'e>,
    versions: Dictionary<VersionKey>,
    messages: Dictionary<MessageKey<'e>>,
    version_of: Vec<u32>,
    message_of: Vec<u32>,
    reason_of: Vec<u8>,
}

impl<'e> Tables<'e> {
    fn new(answer: Answer<'e>, rows: usize) -> Self {
        Tables {
            answer,
            versions: Dictionary::new(),
            messages: Dictionary::new(),
            version_of: Vec::with_capacity(rows),
            message_of: Vec::with_capacity(rows),
            reason_of: Vec::with_capacity(rows),
        }
    }

    fn push(&mut self, row: &AnswerRow<'e>) {
        let answer = self.answer;
        let version = row.version();
        self.version_of.push(self.versions.index_of(version, || answer.version(version)));
        self.message_of.push(self.messages.index_of(row.message_key(), || answer.message(row)));
        // A fieldless enum's discriminant is its index in TargetState::ALL.
        self.reason_of.push(row.reason() as u8);
    }
}

fn reasons() -> Array {
    TargetState::ALL.iter().map(|s| JsValue::from_str(s.as_str())).collect()
}

fn failed() -> Vec<u8> {
    TargetState::ALL.iter().map(|s| u8::from(s.is_failed())).collect()
}

/// The entity's answer (every target, or one group's) as JS objects.
pub(crate) fn answer_to_js(answer: Answer<'_>, group: Option<&str>) -> JsValue {
    let rows = answer.rows(group);
    let states = rows_to_js(answer, rows.len(), rows.iter().cloned(), None);
    // The targets that reported tags carry them (few, usually: a property
    // set on those alone, not a field on every row).
    if let Some(states) = states.dyn_ref::<Array>() {
        for (i, row) in rows.iter().enumerate() {
            let tags = row.tags();
            if tags.is_empty() {
                continue;
            }
            let list: Array = tags.iter().map(|t| JsValue::from_str(t)).collect();
            let index = u32::try_from(i).unwrap_or(u32::MAX);
            let _ = js_sys::Reflect::set(&states.get(index), &JsValue::from_str("tags"), &list);
        }
    }
    states
}

/// The answer to the report just taken, as JS objects. `names`: the
/// report's own strings naming its targets ([`Reports::names`]), which the
/// answer hands back where it can instead of making new ones.
pub(crate) fn answer_to_report(answer: Answer<'_>, names: Option<(JsValue, usize)>) -> JsValue {
    let (count, rows) = answer.each_row();
    match names.and_then(|(strings, count)| Some((strings, answer.report_rows(count)?))) {
        Some((strings, from)) => rows_to_js(answer, count, rows, Some((&strings, from))),
        None => rows_to_js(answer, count, rows, None),
    }
}

/// `reused`: the report's names, and for each row the report row that
/// named it (`u32::MAX`: none).
/// `rows` are `count` rows.
fn rows_to_js<'e>(
    answer: Answer<'e>,
    count: usize,
    rows: impl Iterator<Item = AnswerRow<'e>>,
    reused: Option<(&JsValue, Vec<u32>)>,
) -> JsValue {
    let (strings, mut name_from) = match reused {
        Some((strings, from)) if from.len() == count => (strings.clone(), from),
        _ => (JsValue::UNDEFINED, vec![u32::MAX; count]),
    };
    let mut text = String::new();
    let mut lengths = Vec::new();
    let mut groups = Dictionary::new();
    let mut group_of = Vec::with_capacity(count);
    let mut tables = Tables::new(answer, count);
    for (row, from) in rows.zip(name_from.iter_mut()) {
        // A report's name with a lone surrogate was stored with U+FFFD in
        // its place: such a name is sent as stored.
        let (name, group) = (row.name(), row.group());
        if *from == u32::MAX || name.contains('\u{FFFD}') {
            *from = u32::MAX;
            text.push_str(name);
            lengths.push(utf16_len(name));
        }
        group_of.push(groups.index_of(group, || group));
        tables.push(&row);
    }
    let Tables { versions, version_of, messages, message_of, reason_of, .. } = tables;
    unpack_answer(
        &strings,
        &name_from,
        &text,
        &lengths,
        &groups.values,
        &group_of,
        &versions.values,
        &version_of,
        &messages.values,
        &message_of,
        &reasons(),
        &failed(),
        &reason_of,
    )
}

/// The answer to a report in columns (`orchestrateColumns`): typed arrays
/// aligned with the report, and (with `others`) the entity's other targets
/// as objects.
pub(crate) fn answer_columns_to_js(answer: Answer<'_>, reports: &Reports, others: bool) -> JsValue {
    let (reported, others) = match others {
        true => {
            let rows = answer.rows_aligned_to(reports);
            (rows.reported, rows.others)
        }
        false => (answer.rows_reported_to(reports), Vec::new()),
    };
    let mut tables = Tables::new(answer, reported.len());
    let mut is_error = Vec::with_capacity(reported.len());
    for row in &reported {
        tables.push(row);
        is_error.push(u8::from(row.is_error()));
    }
    let others = rows_to_js(answer, others.len(), others.iter().cloned(), None);
    let Tables { versions, version_of, messages, message_of, reason_of, .. } = tables;
    answer_columns(&versions.values, version_of, &messages.values, message_of, &reasons(), reason_of, is_error, others)
}
