//! Format 9's targets: one packed row per target, by group then name.
//!
//! Formats 1 to 8 write each target as a struct (its whole name, its tags,
//! four times, about 35 bytes at a million targets). A fleet's neighbours
//! share most of what they are, so a row writes what differs from the row
//! before:
//!
//! | bytes | what |
//! | --- | --- |
//! | varint | bytes the name shares with the name before (0 for the first) |
//! | varint, bytes | the rest of the name: its length, then its bytes |
//! | 1 | flags: bits 0 to 3 the state's code, bit 4 the error flag, bit 5 tags or a verdict follow, bit 6 versions and message as the row before, bit 7 times as the row before |
//! | 3 varints | unless bit 6: reported and expected version (indexes of the entity's versions, 0: none), message (of `messages`) |
//! | 2 varints | if bit 5: tag list (of `tag_lists`, 1-based, 0: none), verdict (of `details`, 1-based, 0: none) |
//! | 4 zigzag varints | unless bit 7: last seen, last message, version changed, assigned, each less the row before's (the first row's: less `time_base`) |
//!
//! The groups come first, each with how many rows are its, then the length
//! of all the names together (a restore makes room for them at once); the
//! tables are in order of first use, so the same state gives the same
//! bytes.

use serde::{Deserialize, Serialize};

use super::blocks::Blocks;
use super::decode::version_sym;
use super::encode::Table;
use super::format::state_code;
use crate::bits::Bits;
use crate::entity::{Entity, Target, Time};
use crate::interner::Sym;
use crate::judgement::{self, Hold, Judgement};
use crate::model::TargetState;
use crate::targets::Targets;

/// An entity's targets in format 9, as decoded (the rows borrowed from
/// the body).
#[derive(Deserialize)]
pub(super) struct RowsIn<'a> {
    /// Each group's name and how many rows are its, by name.
    groups: Vec<(String, u64)>,
    /// The bytes of every name together (what to make room for at once).
    name_bytes: u64,
    messages: Vec<String>,
    tag_lists: Vec<Vec<String>>,
    details: Vec<String>,
    time_base: i64,
    rows: &'a [u8],
}

impl RowsIn<'_> {
    /// The time the rows' times are relative to: every target's latest
    /// `last_seen` (in a delta: of the targets it does not write too).
    pub(super) fn time_base(&self) -> i64 {
        self.time_base
    }
}

/// [`RowsIn`] as the encoder writes it, borrowed from the entity.
#[derive(Serialize)]
pub(super) struct RowsOut<'a> {
    groups: Vec<(&'a str, u64)>,
    name_bytes: u64,
    messages: Vec<&'a str>,
    tag_lists: Vec<&'a [String]>,
    details: Vec<&'a str>,
    time_base: i64,
    rows: Blocks,
    /// Whether every row is written (a delta's stop past its most bytes).
    #[serde(skip)]
    complete: bool,
}

impl RowsOut<'_> {
    /// Whether every row is written: a delta's rows stop once they are
    /// past the most bytes it was allowed.
    pub(super) fn complete(&self) -> bool {
        self.complete
    }

    /// The rows' bytes, for an envelope written around them
    /// ([`envelope_around`](super::envelope::envelope_around)).
    pub(super) fn rows_mut(&mut self) -> &mut Blocks {
        &mut self.rows
    }

    /// About how many bytes these rows take encoded.
    pub(super) fn size(&self) -> usize {
        self.rows.len().saturating_add(self.messages.iter().chain(&self.details).map(|s| s.len()).sum::<usize>()).saturating_add(64)
    }
}

const STATE: u8 = 0x0f;
const ERROR: u8 = 0x10;
const EXTRA: u8 = 0x20;
const SAME_FIELDS: u8 = 0x40;
const SAME_TIMES: u8 = 0x80;

/// Symbols numbered in order of first use (from 1).
#[derive(Default)]
struct FirstUse {
    number: Vec<u32>,
    order: Vec<Sym>,
}

impl FirstUse {
    fn of(&mut self, sym: Sym) -> u32 {
        let at = sym.index();
        if let Some(&n) = self.number.get(at) {
            if n != 0 {
                return n;
            }
        }
        self.order.push(sym);
        let n = u32::try_from(self.order.len()).unwrap_or(u32::MAX);
        if self.number.len() <= at {
            self.number.resize(at.saturating_add(1), 0);
        }
        if let Some(slot) = self.number.get_mut(at) {
            *slot = n;
        }
        n
    }
}

/// Room a row takes at most beside its name: a varint of each of its
/// fields and times (10 bytes at most each), its flags and lengths.
const ROOM: usize = 128;

/// The entity's targets as format 9's rows; versions go into `versions`.
/// With `part`, only the targets at the positions it marks (a delta's),
/// stopping soon after the rows pass its most bytes.
pub(super) fn encode_rows<'a>(entity: &'a Entity, versions: &mut Table<'a>, part: Option<(&Bits, usize)>) -> RowsOut<'a> {
    let (changed, most) = part.map_or((None, usize::MAX), |(changed, most)| (Some(changed), most));
    let targets = &entity.targets;
    let v = &entity.versions;
    let time_base = targets.all().map(|t| t.last_seen.get()).max().unwrap_or(0);
    let mut rows = Blocks::default();
    let mut groups: Vec<(&str, u64)> = Vec::new();
    let (mut messages, mut tag_lists, mut details) = (FirstUse::default(), FirstUse::default(), FirstUse::default());
    let mut before: &str = "";
    let mut name_bytes = 0u64;
    let mut fields_before = [0u32; 3];
    let mut times_before = [time_base; 4];
    let written = |p: usize| changed.map_or(true, |c| c.contains(p));
    let mut complete = true;
    for (i, (group, name, t)) in targets.sorted_positions().filter(|&p| written(p)).filter_map(|p| targets.at(p)).enumerate() {
        // The length read every 4,096 rows (it walks the blocks).
        if i % 4096 == 4095 && rows.len() > most {
            complete = false;
            break;
        }
        // A row is written whole in one block (blocks::BLOCK), which is
        // made once: never grown, so never held twice.
        let row = rows.room(ROOM.saturating_add(name.len()));
        match groups.last_mut() {
            Some((g, count)) if *g == group => *count = count.saturating_add(1),
            _ => groups.push((group, 1)),
        }
        let shared = before.bytes().zip(name.bytes()).take_while(|(a, b)| a == b).count();
        let rest = name.as_bytes().get(shared..).unwrap_or_default();
        put(row, shared as u64);
        put(row, rest.len() as u64);
        row.extend_from_slice(rest);
        before = name;
        name_bytes = name_bytes.saturating_add(name.len() as u64);

        let fields = [versions.version(v, t.reported), versions.version(v, t.expected), messages.of(t.message).saturating_sub(1)];
        let times = [t.last_seen, t.last_message, t.version_changed, t.assigned].map(Time::get);
        let (tags, detail) = targets.pair(t.extra);
        let mut flags = state_code(t.reason()) & STATE;
        if t.is_error {
            flags |= ERROR;
        }
        if !t.extra.is_empty() {
            flags |= EXTRA;
        }
        if fields == fields_before {
            flags |= SAME_FIELDS;
        }
        if times == times_before {
            flags |= SAME_TIMES;
        }
        row.push(flags);
        if flags & SAME_FIELDS == 0 {
            fields.iter().for_each(|&f| put(row, u64::from(f)));
        }
        if flags & EXTRA != 0 {
            put(row, if tags.is_empty() { 0 } else { u64::from(tag_lists.of(tags)) });
            put(row, if detail.is_empty() { 0 } else { u64::from(details.of(detail)) });
        }
        if flags & SAME_TIMES == 0 {
            for (now, was) in times.iter().zip(times_before) {
                put(row, zigzag(now.wrapping_sub(was)));
            }
        }
        (fields_before, times_before) = (fields, times);
    }
    RowsOut {
        groups,
        name_bytes,
        messages: messages.order.iter().map(|&s| targets.text(s)).collect(),
        tag_lists: tag_lists.order.iter().map(|&s| targets.tag_list(s)).collect(),
        details: details.order.iter().map(|&s| targets.text(s)).collect(),
        time_base,
        rows,
        complete,
    }
}

/// The targets of format 9's rows; `versions` are the entity's version
/// symbols by their index in the format.
pub(super) fn decode_rows(packed: RowsIn<'_>, versions: &[Sym]) -> Result<Targets, String> {
    let mut targets = Targets::default();
    let messages: Vec<Sym> = packed.messages.iter().map(|m| targets.intern_text(m)).collect();
    if packed.tag_lists.iter().any(Vec::is_empty) || packed.details.iter().any(String::is_empty) {
        return Err("an empty tag list or verdict in the tables".to_owned());
    }
    let tag_lists: Vec<Sym> = packed.tag_lists.iter().map(|l| targets.intern_tags(l)).collect();
    let details: Vec<Sym> = packed.details.iter().map(|d| targets.intern_text(d)).collect();
    // Every state's (judgement, hold), by its code; none for a code no
    // stored target has.
    let mut states: [Option<(Judgement, Option<Hold>)>; 16] = [None; 16];
    for state in TargetState::ALL {
        if let Some(slot) = states.get_mut(usize::from(state_code(state))) {
            *slot = judgement::of_reason(state);
        }
    }
    let rows = packed.rows;
    // Each row takes three bytes at least: a hostile count or length
    // makes room for no more than the rows could plausibly hold (names
    // beyond that grow as they come).
    let count = packed.groups.iter().fold(0u64, |n, (_, c)| n.saturating_add(*c));
    let count = usize::try_from(count).unwrap_or(usize::MAX).min(rows.len() / 3);
    let names = usize::try_from(packed.name_bytes).unwrap_or(usize::MAX).min(rows.len().saturating_mul(16));
    targets.reserve(count, names);
    targets.reserve_sorted(count);
    let mut r = Reader { rows, at: 0 };
    let mut name: Vec<u8> = Vec::new();
    let mut fields = [0u32; 3];
    let mut times = [packed.time_base; 4];
    let index = |i: u32, table: &[Sym], what: &str| -> Result<Sym, String> {
        match i {
            0 => Ok(Sym::EMPTY),
            i => table.get((i as usize).saturating_sub(1)).copied().ok_or_else(|| format!("{what} {i} is outside the table")),
        }
    };
    for (group, rows_of_group) in &packed.groups {
        if *rows_of_group == 0 {
            return Err(format!("group \"{group}\" has no target"));
        }
        let g = targets.intern_group(group);
        for _ in 0..*rows_of_group {
            let shared = r.usize()?;
            if shared > name.len() {
                return Err(format!("a name shares {shared} bytes with a name of {}", name.len()));
            }
            let rest = r.usize()?;
            name.truncate(shared);
            name.extend_from_slice(r.take(rest)?);
            let text = std::str::from_utf8(&name).map_err(|_| format!("a target name of group \"{group}\" is not UTF-8"))?;
            if text.is_empty() {
                return Err(format!("a target of group \"{group}\" has an empty name"));
            }
            let flags = r.byte()?;
            let (judgement, hold) = states.get(usize::from(flags & STATE)).copied().flatten().ok_or_else(|| match flags & STATE {
                code if code == state_code(TargetState::Removed) => format!("target \"{text}\" of group \"{group}\" is stored as removed"),
                code => format!("target \"{text}\" of group \"{group}\" has state {code}, which no engine writes"),
            })?;
            if flags & SAME_FIELDS == 0 {
                fields = [r.u32()?, r.u32()?, r.u32()?];
            }
            let [reported, expected, message] = fields;
            let version = |i: u32| version_sym(versions, i);
            let mut target = Target {
                reported: version(reported)?,
                expected: version(expected)?,
                message: messages.get(message as usize).copied().ok_or_else(|| format!("message index {message} is outside the table"))?,
                is_error: flags & ERROR != 0,
                judgement,
                hold,
                extra: Sym::EMPTY,
                last_seen: Time::at(0),
                last_message: Time::at(0),
                version_changed: Time::at(0),
                assigned: Time::at(0),
            };
            if flags & EXTRA != 0 {
                let tags = index(r.u32()?, &tag_lists, "tag list")?;
                let detail = index(r.u32()?, &details, "verdict")?;
                if tags.is_empty() && detail.is_empty() {
                    return Err(format!("target \"{text}\" of group \"{group}\" is marked with tags or a verdict and has neither"));
                }
                target.extra = targets.extra(tags, detail);
            }
            if flags & SAME_TIMES == 0 {
                for t in &mut times {
                    *t = t.wrapping_add(unzigzag(r.varint()?));
                }
            }
            [target.last_seen, target.last_message, target.version_changed, target.assigned] = times.map(Time::at);
            if !targets.push_last(g, text, target) {
                return Err(format!("target \"{text}\" of group \"{group}\" is out of order or appears twice"));
            }
        }
    }
    if r.at != rows.len() {
        return Err(format!("{} bytes after the last target", rows.len().saturating_sub(r.at)));
    }
    Ok(targets)
}

/// Appends `n` as a varint (seven bits a byte, least significant first).
#[inline(always)]
fn put(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n = n.wrapping_shr(7);
    }
    out.push(n as u8);
}

fn zigzag(n: i64) -> u64 {
    (n.wrapping_shl(1) ^ n.wrapping_shr(63)) as u64
}

fn unzigzag(n: u64) -> i64 {
    (n.wrapping_shr(1) as i64) ^ ((n & 1) as i64).wrapping_neg()
}

/// Reads rows front to back; every read past the end is an error.
struct Reader<'a> {
    rows: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    #[inline(always)]
    fn byte(&mut self) -> Result<u8, String> {
        let b = self.rows.get(self.at).copied().ok_or("the rows end inside a target")?;
        self.at = self.at.saturating_add(1);
        Ok(b)
    }

    #[inline(always)]
    fn varint(&mut self) -> Result<u64, String> {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            n |= u64::from(b & 0x7f).wrapping_shl(shift);
            if b & 0x80 == 0 {
                return Ok(n);
            }
        }
        Err("a number in the rows is longer than 64 bits".to_owned())
    }

    #[inline(always)]
    fn u32(&mut self) -> Result<u32, String> {
        let n = self.varint()?;
        u32::try_from(n).map_err(|_| format!("index {n} is out of range"))
    }

    #[inline(always)]
    fn usize(&mut self) -> Result<usize, String> {
        let n = self.varint()?;
        usize::try_from(n).map_err(|_| format!("length {n} is out of range"))
    }

    #[inline(always)]
    fn take(&mut self, len: usize) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(len).filter(|&end| end <= self.rows.len()).ok_or("the rows end inside a name")?;
        let bytes = self.rows.get(self.at..end).unwrap_or_default();
        self.at = end;
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(groups: Vec<(String, u64)>, rows: &[u8]) -> Result<Targets, String> {
        let packed =
            RowsIn { groups, name_bytes: 1, messages: vec!["ok".into()], tag_lists: Vec::new(), details: Vec::new(), time_base: 0, rows };
        decode_rows(packed, &[Sym::EMPTY])
    }

    #[test]
    fn numbers_round_trip_through_varints_and_zigzag() {
        for n in [0i64, 1, -1, 63, -64, 64, 1 << 40, -(1 << 47), i64::MAX, i64::MIN] {
            let mut out = Vec::new();
            put(&mut out, zigzag(n));
            let mut r = Reader { rows: &out, at: 0 };
            assert_eq!(unzigzag(r.varint().unwrap()), n);
            assert_eq!(r.at, out.len());
        }
    }

    #[test]
    fn rows_that_no_engine_writes_are_errors() {
        // Name "a" (shares 0, 1 byte), flags: waiting with the fields
        // and times of the row before (none, 0, message 0; all at 0).
        let a = [0, 1, b'a', SAME_FIELDS | SAME_TIMES];
        assert_eq!(rows(vec![("g".into(), 1)], &a).unwrap().len(), 1);
        // A count no rows can hold allocates nothing and fails.
        assert!(rows(vec![("g".into(), u64::MAX)], &a).unwrap_err().contains("end inside"));
        // The same name twice; a name before the one before it.
        let twice = [a, a].concat();
        assert!(rows(vec![("g".into(), 2)], &twice).unwrap_err().contains("out of order or appears twice"));
        let back = [[0, 1, b'b', SAME_FIELDS | SAME_TIMES], a].concat();
        assert!(rows(vec![("g".into(), 2)], &back).unwrap_err().contains("out of order"));
        // Groups out of order, or one with no target.
        let two = [a, [0, 1, b'b', SAME_FIELDS | SAME_TIMES]].concat();
        assert!(rows(vec![("h".into(), 1), ("g".into(), 1)], &two).is_err());
        assert!(rows(vec![("g".into(), 0)], &[]).unwrap_err().contains("no target"));
        // More shared bytes than the name before has; a name cut inside a
        // character; bytes left over.
        assert!(rows(vec![("g".into(), 1)], &[2, 1, b'a', 0]).unwrap_err().contains("shares 2 bytes"));
        assert!(rows(vec![("g".into(), 1)], &[0, 1, 0xc3, SAME_FIELDS | SAME_TIMES]).unwrap_err().contains("not UTF-8"));
        assert!(rows(vec![("g".into(), 1)], &[a.as_slice(), &[0]].concat()).unwrap_err().contains("1 bytes after"));
        // A message or version outside its table.
        assert!(rows(vec![("g".into(), 1)], &[0, 1, b'a', SAME_TIMES, 0, 0, 1]).unwrap_err().contains("message index 1"));
        assert!(rows(vec![("g".into(), 1)], &[0, 1, b'a', SAME_TIMES, 1, 0, 0]).unwrap_err().contains("version index 1"));
    }
}
