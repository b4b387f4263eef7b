//! The snapshot format (SPEC section 5).
//!
//! A snapshot is a 20-byte envelope followed by a body:
//!
//! | bytes | what |
//! | --- | --- |
//! | 0..8 | magic `ORCHSNAP` |
//! | 8..10 | format version, u16 little-endian |
//! | 10..12 | reserved, zero |
//! | 12..16 | body length, u32 little-endian |
//! | 16..20 | CRC-32 (IEEE) of the body (from format 4: of bytes 8..12, then the body), u32 little-endian |
//!
//! The body is the state in `postcard` encoding. Format 2 is format 1's
//! body with each entity followed by its progressive-delivery state
//! (plan options, pause, plan progress, watch, event log, history).
//! Format 3 is format 2 with a compact event log: an event refers to its
//! target by its index in the entity's target list (or in a table of
//! targets the entity no longer has), to its detail through a string
//! table, and keeps its sequence number and time as differences from the
//! event before (a full log of 1000 events took about 100 KB in format 2,
//! under 10 KB in format 3). The encoding is canonical
//! (string tables in order of first use, times relative to a base), so an
//! engine restored from a snapshot snapshots to the same bytes. Every
//! format version ever written decodes forever; a newer, foreign or
//! corrupt one is an [`Error::InvalidSnapshot`] and nothing is restored.
//! Format 4 is format 3 with each entity followed by the options added
//! since (`errorTimeoutSecs`) and how its plan is read: formats 1 to 3
//! read a plan as batch sizes, and an entity restored from them keeps that
//! meaning (see [`crate::plan`]). Format 5 is format 4 with each entity
//! followed by the settings a binding builds its controllers from (the
//! URLs of the Go engine's HTTP controllers: see
//! [`crate::hooks::ControllerSettings`]), so that a restored engine calls
//! them again. Format 6 is format 5 followed by each entity's surge: the
//! machines a selection hook created that no retirement balanced yet (see
//! [`crate::entity::Entity::surge`]), so that a restored blue/green
//! rollout creates no more machines than the original would have.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::engine::{Engine, Namespace};
use crate::entity::{Entity, Progress, Removed, Target, Targets, Watch};
use crate::error::Error;
use crate::hooks::ControllerSettings;
use crate::interner::{Interner, Sym};
use crate::judgement;
use crate::log::{EventKind, EventLog, History, Outcome, Stored, StoredRollout};
use crate::model::{Amount, PlanStep, RolloutOptions, TargetId, TargetState};

mod delta;
mod format;
use format::*;

pub use delta::DELTA_FORMAT_VERSION;
pub(crate) use delta::{apply_delta, checkpoint, encode_delta};

/// The format version this engine writes.
pub const SNAPSHOT_FORMAT_VERSION: u16 = 6;

const MAGIC: &[u8; 8] = b"ORCHSNAP";
const HEADER_LEN: usize = 20;

pub(crate) fn encode(engine: &Engine) -> Vec<u8> {
    let body = Body {
        namespaces: engine
            .namespaces
            .iter()
            .map(|(name, ns)| NamespaceBody {
                name: name.clone(),
                entities: ns.entities.iter().map(|(name, entity)| encode_entity(name, entity, None)).collect(),
            })
            .collect(),
    };
    let entities = || engine.namespaces.values().flat_map(|ns| ns.entities.values());
    let controllers: Vec<Option<&str>> = entities().flat_map(encode_controllers).collect();
    let extras: Vec<ExtraV6<&str>> = entities().map(encode_extra).collect();
    seal(&body, &controllers, &extras)
}

/// One entity's snapshot: the snapshot of an engine that holds only it, so
/// that it has every guarantee an engine's snapshot has (and restores as
/// one).
pub(crate) fn encode_one(namespace: &str, name: &str, entity: &Entity) -> Vec<u8> {
    let body = Body { namespaces: vec![NamespaceBody { name: namespace.to_owned(), entities: vec![encode_entity(name, entity, None)] }] };
    seal(&body, &encode_controllers(entity), &[encode_extra(entity)])
}

/// The entity in an entity's snapshot ([`encode_one`]), with its namespace
/// and name.
pub(crate) fn decode_one(bytes: &[u8]) -> Result<(String, String, Entity), Error> {
    let mut engine = decode(bytes)?;
    let count: usize = engine.namespaces.values().map(|ns| ns.entities.len()).sum();
    if count != 1 {
        let what = if count == 0 { "no entity" } else { "several entities" };
        return Err(Error::snapshot(format!("the snapshot holds {what}; an entity's snapshot holds exactly one")));
    }
    let (namespace, mut ns) = engine.namespaces.pop_first().ok_or_else(|| Error::snapshot("the snapshot holds no entity"))?;
    let (name, entity) = ns.entities.pop_first().ok_or_else(|| Error::snapshot("the snapshot holds no entity"))?;
    Ok((namespace, name, entity))
}

/// The envelope around a body in the current format: format 4's body, then
/// the controller settings of each of its entities, then each one's format
/// 6 state, in order.
#[inline(never)]
fn seal(body: &Body<EntityV4<TargetOut<'_>>>, controllers: &[Option<&str>], extras: &[ExtraV6<&str>]) -> Vec<u8> {
    envelope(MAGIC, SNAPSHOT_FORMAT_VERSION, &(body, controllers, extras))
}

/// The entity's format 6 state as the format writes it.
fn encode_extra(entity: &Entity) -> ExtraV6<&str> {
    ExtraV6 {
        surge: u64::try_from(entity.surge).unwrap_or(u64::MAX),
        rolled_back_from: (!entity.rolled_back_from.is_empty()).then(|| entity.version(entity.rolled_back_from)),
        applied: entity.applied.iter().map(|(key, answer)| (&**key, &**answer)).collect(),
    }
}

/// The entity's controller settings as the format writes them.
fn encode_controllers(entity: &Entity) -> [Option<&str>; 2] {
    [entity.controllers.target.as_deref(), entity.controllers.monitoring.as_deref()]
}

/// `body` encoded, behind a header: `magic`, the format version, two
/// reserved bytes, the body's length and its checksum.
fn envelope(magic: &[u8; 8], format: u16, body: &impl Serialize) -> Vec<u8> {
    // Encoding plain owned data into a Vec cannot fail; should postcard
    // ever report an error, the bytes are an empty body, which no decoder
    // accepts.
    let body = postcard::to_allocvec(body).unwrap_or_default();
    let mut bytes = Vec::with_capacity(HEADER_LEN.saturating_add(body.len()));
    bytes.extend_from_slice(magic);
    bytes.extend_from_slice(&format.to_le_bytes());
    bytes.extend_from_slice(&0u16.to_le_bytes());
    bytes.extend_from_slice(&u32::try_from(body.len()).unwrap_or(u32::MAX).to_le_bytes());
    bytes.extend_from_slice(&checksum(magic, format, &body).to_le_bytes());
    bytes.extend_from_slice(&body);
    bytes
}

/// An envelope's format version, body and checksum, once its header is
/// checked: `what` ("snapshot") names the kind of bytes in errors.
fn open<'a>(bytes: &'a [u8], magic: &[u8; 8], newest: u16, what: &str) -> Result<(u16, &'a [u8], u32), Error> {
    let (header, body) = bytes
        .split_first_chunk::<HEADER_LEN>()
        .ok_or_else(|| Error::snapshot(format!("{} bytes is too short for a {what} header", bytes.len())))?;
    let field = |at: usize| -> [u8; 4] {
        let mut out = [0u8; 4];
        for (i, b) in out.iter_mut().enumerate() {
            *b = header.get(at.saturating_add(i)).copied().unwrap_or(0);
        }
        out
    };
    if !header.starts_with(magic) {
        return Err(Error::snapshot(format!("these bytes are not an orchestrator-engine {what} (bad magic)")));
    }
    let [v0, v1, r0, r1] = field(8);
    let version = u16::from_le_bytes([v0, v1]);
    if version == 0 || version > newest {
        return Err(Error::snapshot(format!(
            "format version {version} is not one this engine reads (1 to {newest}); \
             restore it with the newer orchestrator-engine that wrote it"
        )));
    }
    if u16::from_le_bytes([r0, r1]) != 0 {
        return Err(Error::snapshot("reserved header bytes are not zero"));
    }
    let length = u32::from_le_bytes(field(12));
    if usize::try_from(length).ok() != Some(body.len()) {
        return Err(Error::snapshot(format!("the header announces {length} body bytes but {} follow (truncated or padded)", body.len())));
    }
    let crc = u32::from_le_bytes(field(16));
    if crc != checksum(magic, version, body) {
        return Err(Error::snapshot(format!("checksum mismatch: the {what} is corrupt")));
    }
    Ok((version, body, crc))
}

/// The envelope's CRC-32 (IEEE): of the body in snapshot formats 1 to 3;
/// from snapshot format 4, and in every delta format, of the format
/// version and reserved bytes too, so that a flipped version is caught as
/// corruption rather than read with another format's decoder.
fn checksum(magic: &[u8; 8], format: u16, body: &[u8]) -> u32 {
    if magic == MAGIC && format < 4 {
        return crc32fast::hash(body);
    }
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&format.to_le_bytes());
    hasher.update(&[0, 0]);
    hasher.update(body);
    hasher.finalize()
}

/// Builds a table of strings in order of first use. Neighbouring targets
/// mostly share their message, and versions are few: the last string, and
/// each version's index by symbol, are remembered, so most rows hash
/// nothing.
#[derive(Default)]
struct Table<'a> {
    strings: Vec<String>,
    index: HashMap<&'a str, u32, foldhash::fast::RandomState>,
    last: Option<(&'a str, u32)>,
    by_sym: Vec<u32>,
}

impl<'a> Table<'a> {
    /// The 1-based index of `s` (0 stays "none" for versions).
    fn index(&mut self, s: &'a str) -> u32 {
        if let Some((last, i)) = self.last {
            if last == s {
                return i;
            }
        }
        let i = match self.index.get(s) {
            Some(&i) => i,
            None => {
                self.strings.push(s.to_owned());
                let i = u32::try_from(self.strings.len()).unwrap_or(u32::MAX);
                self.index.insert(s, i);
                i
            }
        };
        self.last = Some((s, i));
        i
    }

    fn version(&mut self, versions: &'a Interner, sym: Sym) -> u32 {
        if sym.is_empty() {
            return 0;
        }
        let at = sym.index();
        if let Some(&i) = self.by_sym.get(at) {
            if i != 0 {
                return i;
            }
        }
        let i = self.index(versions.resolve(sym));
        if self.by_sym.len() <= at {
            self.by_sym.resize(at.saturating_add(1), 0);
        }
        if let Some(slot) = self.by_sym.get_mut(at) {
            *slot = i;
        }
        i
    }
}

/// What of an entity a delta writes: the targets at the positions marked
/// in `changed`, and the events from sequence number `from` on.
pub(super) struct Part<'a> {
    changed: &'a [bool],
    from: u64,
}

/// The entity in the format; with `part`, only that part of its targets
/// and events (a delta's), the rest whole.
#[inline(never)]
fn encode_entity<'a>(name: &str, entity: &'a Entity, part: Option<&Part<'_>>) -> EntityV4<TargetOut<'a>> {
    let mut versions = Table::default();
    let mut core = encode_core(name, entity, &mut versions, part.map(|p| p.changed));
    let written = core.groups.iter().map(|g| g.targets.len()).sum::<usize>();
    let control = encode_control(entity, &mut versions, part.map(|p| (p.from, written)));
    core.versions = versions.strings;
    let extra = ExtraV4 {
        error_timeout_secs: entity.options.error_timeout_secs,
        plan_increments: entity.plan_meaning == crate::plan::Meaning::Increments,
    };
    EntityV4 { core, control, extra }
}

/// Format 3's event log of `entity`. With `part` (a delta's first
/// sequence number and how many targets it writes), only the events from
/// that number on, each naming its target by name (`gone`).
fn encode_log<'a>(entity: &'a Entity, versions: &mut Table<'a>, part: Option<(u64, usize)>) -> LogV3 {
    let (from, known, ranks) = match part {
        Some((from, written)) => (from, u64::try_from(written).unwrap_or(u64::MAX), Vec::new()),
        // Targets are encoded by group, then name: an event names its
        // target by that rank.
        None => (0, u64::try_from(entity.targets.len()).unwrap_or(u64::MAX), entity.targets.ranks()),
    };
    let mut details = Table::default();
    let mut gone: Vec<(String, String)> = Vec::new();
    let mut gone_index: HashMap<(&str, &str), u64, foldhash::fast::RandomState> = HashMap::default();
    let (mut seq, mut time) = (0u64, 0i64);
    let mut events = Vec::with_capacity(entity.log.events.len());
    for e in entity.log.events.iter().filter(|e| e.seq >= from) {
        let target = match &e.target {
            None => 0,
            Some(t) => match part.is_none().then(|| entity.targets.position(&t.group, &t.name)).flatten().and_then(|p| ranks.get(p)) {
                Some(&i) => u64::from(i).saturating_add(1),
                None => *gone_index.entry((&t.group, &t.name)).or_insert_with(|| {
                    gone.push((t.group.clone(), t.name.clone()));
                    known.saturating_add(u64::try_from(gone.len()).unwrap_or(u64::MAX))
                }),
            },
        };
        events.push(EventV3 {
            seq: e.seq.wrapping_sub(seq),
            time: e.time.wrapping_sub(time),
            kind: kind_code(e.kind),
            version: versions.version(&entity.versions, e.version),
            target,
            detail: details.index(&e.detail).saturating_sub(1),
        });
        (seq, time) = (e.seq, e.time);
    }
    LogV3 { details: details.strings, gone, events }
}

fn encode_amount(amount: Amount) -> AmountV2 {
    match amount {
        Amount::Count(n) => AmountV2::Count(n),
        Amount::Percent(p) => AmountV2::Percent(p),
    }
}

fn encode_control<'a>(entity: &'a Entity, versions: &mut Table<'a>, part: Option<(u64, usize)>) -> ControlV3 {
    let v = &entity.versions;
    let options = &entity.options;
    let progress = &entity.progress;
    let flags = [
        progress.skip_bake,
        progress.approved,
        progress.requested,
        progress.full,
        progress.done,
        progress.rollback_logged,
        progress.retry_pending,
    ]
    .iter()
    .enumerate()
    .fold(0u8, |bits, (i, &set)| if set { bits | (1u8 << i) } else { bits });
    let settings = Settings {
        steps: options.steps.iter().map(|s| StepV2 { size: encode_amount(s.size), bake_secs: s.bake_secs, approval: s.approval }).collect(),
        max_failures: options.max_failures.map(encode_amount),
        max_consecutive_failures: options.max_consecutive_failures,
        watch_secs: options.watch_secs,
        rollback_batch_percent: options.rollback_batch_percent,
        max_events: options.max_events,
        paused_since: entity.paused_since,
        step: u64::try_from(progress.step).unwrap_or(u64::MAX),
        step_started: progress.started,
        bake_from: progress.bake_from,
        flags,
        consecutive_failures: progress.consecutive_failures,
        watch: entity.watch.map(|w| (versions.version(v, w.version), w.until, versions.version(v, w.previous))),
        removed: entity.removed.iter().map(|r| (r.id.group.clone(), r.id.name.clone(), versions.version(v, r.version))).collect(),
        next_seq: entity.log.next_seq,
    };
    Control {
        settings,
        events: encode_log(entity, versions, part),
        history: entity
            .history
            .rollouts
            .iter()
            .map(|r| RolloutV2 {
                version: versions.version(v, r.version),
                started: r.started,
                ended: r.ended,
                outcome: outcome_code(r.outcome),
            })
            .collect(),
    }
}

/// The entity's core; with `changed`, only the targets at the positions it
/// marks (`time_base` is still every target's latest `last_seen`).
fn encode_core<'a>(name: &str, entity: &'a Entity, versions: &mut Table<'a>, changed: Option<&[bool]>) -> EntityV1<TargetOut<'a>> {
    let v = &entity.versions;
    let mut messages = Table::default();
    let target_version = versions.version(v, entity.target_version);
    let rolling = versions.version(v, entity.rolling);
    let lkg = versions.version(v, entity.lkg);
    let lkb = versions.version(v, entity.lkb);
    let time_base = entity.targets.iter().map(|(_, _, t)| t.last_seen).max().unwrap_or(0);
    let mut groups: Vec<GroupV1<TargetOut<'a>>> = Vec::new();
    // By group, then name, whatever order they arrived in: the same state
    // gives the same bytes, and each group is written once.
    let written = |p: usize| changed.map_or(true, |c| c.get(p).copied().unwrap_or(true));
    for (group, target_name, t) in entity.targets.sorted_positions().filter(|&p| written(p)).filter_map(|p| entity.targets.at(p)) {
        if groups.last().map_or(true, |g| g.name != group) {
            groups.push(GroupV1 { name: group.to_owned(), targets: Vec::new() });
        }
        let target = TargetOut {
            name: target_name,
            tags: &t.tags,
            reported: versions.version(v, t.reported),
            expected: versions.version(v, t.expected),
            message: messages.index(&t.message).saturating_sub(1),
            is_error: t.is_error,
            state: state_code(t.reason()),
            detail: t.detail.as_deref(),
            last_seen: t.last_seen.wrapping_sub(time_base),
            last_message: t.last_message.wrapping_sub(time_base),
            version_changed: t.version_changed.wrapping_sub(time_base),
            assigned: t.assigned.wrapping_sub(time_base),
        };
        if let Some(g) = groups.last_mut() {
            g.targets.push(target);
        }
    }
    EntityV1 {
        name: name.to_owned(),
        versions: Vec::new(), // the caller fills it once every version is in

        target_version,
        rolling,
        lkg,
        lkb,
        batch_percent: entity.options.batch_percent,
        success_percent: entity.options.success_percent,
        success_timeout_secs: entity.options.success_timeout_secs,
        duration_timeout_secs: entity.options.duration_timeout_secs,
        messages: messages.strings,
        time_base,
        groups,
    }
}

#[inline(never)]
pub(crate) fn decode(bytes: &[u8]) -> Result<Engine, Error> {
    let (version, body, crc) = open(bytes, MAGIC, SNAPSHOT_FORMAT_VERSION, "snapshot")?;
    let mut engine = decode_version(version, body)?;
    // A snapshot of one entity is that entity's checkpoint: its journal
    // can go on from here.
    let mut entities = engine.namespaces.values_mut().flat_map(|ns| ns.entities.values_mut());
    if let (Some(entity), None) = (entities.next(), entities.next()) {
        delta::start(entity, crc);
    }
    Ok(engine)
}

fn decode_version(version: u16, body: &[u8]) -> Result<Engine, Error> {
    // Every format ever written keeps its decoder.
    match version {
        1 => decode_body(parse::<EntityV1>(body)?, |e| decode_entity(e, None, ExtraV4::LEGACY)),
        2 => decode_body(parse::<EntityV2>(body)?, |e| decode_entity(e.core, Some(e.control), ExtraV4::LEGACY)),
        3 => decode_body(parse::<EntityV3>(body)?, |e| {
            let control = expand_log(&e.core, e.control)?;
            decode_entity(e.core, Some(control), ExtraV4::LEGACY)
        }),
        _ => {
            // Format 4's body; from format 5, then each entity's controller
            // settings; from format 6, then each entity's surge.
            let (state, trailer) = take::<Body<EntityV4>>(body)?;
            let entities = state.namespaces.iter().map(|ns| ns.entities.len()).sum::<usize>();
            let (settings, extras): (ControllersV5, Vec<ExtraV6>) = match version {
                4 => end(trailer, (Vec::new(), Vec::new()))?,
                5 => (parse_all(trailer)?, Vec::new()),
                _ => parse_all(trailer)?,
            };
            let expected = if version == 4 { 0 } else { entities.saturating_mul(2) };
            if settings.len() != expected {
                return Err(Error::snapshot(format!("{} controller settings for {entities} entities", settings.len())));
            }
            if version >= 6 && extras.len() != entities {
                return Err(Error::snapshot(format!("format 6 state of {} entities for {entities}", extras.len())));
            }
            let mut settings = settings.into_iter();
            let mut extras = extras.into_iter();
            decode_body(state, |e| {
                let mut entity = decode_v4(e)?;
                if let (Some(target), Some(monitoring)) = (settings.next(), settings.next()) {
                    entity.controllers = decode_controllers(target, monitoring);
                }
                let targets = entity.targets.len();
                decode_extra(&mut entity, extras.next().unwrap_or_default(), targets)?;
                Ok(entity)
            })
        }
    }
}

/// An entity of format 4 (or 5, whose entities are format 4's).
fn decode_v4(e: EntityV4) -> Result<Entity, String> {
    let control = expand_log(&e.core, e.control)?;
    decode_entity(e.core, Some(control), e.extra)
}

/// A value at the start of `bytes`, and the bytes after it.
fn take<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<(T, &'a [u8]), Error> {
    postcard::take_from_bytes(bytes).map_err(|e| Error::snapshot(format!("undecodable body: {e}")))
}

/// A value that is all of `bytes`.
fn parse_all<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, Error> {
    let (value, rest) = take(bytes)?;
    end(rest, value)
}

/// `value`, if nothing is left after it.
fn end<T>(rest: &[u8], value: T) -> Result<T, Error> {
    if !rest.is_empty() {
        return Err(Error::snapshot("trailing bytes after the body"));
    }
    Ok(value)
}

/// Format 6's state into `entity`, which will have `targets` targets: a
/// surge never exceeds them, and a version left is a version.
fn decode_extra(entity: &mut Entity, extra: ExtraV6, targets: usize) -> Result<(), String> {
    entity.surge = match usize::try_from(extra.surge) {
        Ok(surge) if surge <= targets => surge,
        _ => return Err(format!("a surge of {} created machines in a fleet of {targets}", extra.surge)),
    };
    entity.rolled_back_from = match extra.rolled_back_from {
        None => Sym::EMPTY,
        Some(version) if !version.is_empty() => entity.versions.intern(&version),
        Some(_) => return Err("an empty version is named as left by a rollbackTo".to_owned()),
    };
    if extra.applied.len() > crate::IDEMPOTENCY_KEYS
        || extra.applied.iter().any(|(key, answer)| key.is_empty() || key.len() > crate::MAX_NAME_BYTES || answer.len() > crate::MAX_KEPT_ANSWER)
    {
        return Err("idempotency keys beyond what an engine keeps".to_owned());
    }
    entity.applied = extra.applied.into_iter().map(|(key, answer)| (key.into_boxed_str(), answer.into_boxed_str())).collect();
    Ok(())
}

fn decode_controllers(target: Option<String>, monitoring: Option<String>) -> ControllerSettings {
    ControllerSettings { target: target.map(Box::from), monitoring: monitoring.map(Box::from) }
}

fn parse<'a, E: Deserialize<'a>>(body: &'a [u8]) -> Result<Body<E>, Error> {
    parse_all(body)
}

/// The name of an entity of any format.
trait Named {
    fn name(&self) -> &str;
}

impl Named for EntityV1 {
    fn name(&self) -> &str {
        &self.name
    }
}

impl Named for EntityV2 {
    fn name(&self) -> &str {
        &self.core.name
    }
}

impl Named for EntityV3 {
    fn name(&self) -> &str {
        &self.core.name
    }
}

impl Named for EntityV4 {
    fn name(&self) -> &str {
        &self.core.name
    }
}

/// Format 3's compact log written out as format 2's, against the entity's
/// targets.
fn expand_log(core: &EntityV1, c: ControlV3) -> Result<ControlV2, String> {
    let log = c.events;
    // Where each group's targets start in the entity's target list.
    let mut starts = Vec::with_capacity(core.groups.len());
    let mut known = 0u64;
    for g in &core.groups {
        starts.push(known);
        known = known.saturating_add(u64::try_from(g.targets.len()).unwrap_or(u64::MAX));
    }
    let target = |i: u64| -> Result<Option<(String, String)>, String> {
        if i == 0 {
            return Ok(None);
        }
        let i = i.saturating_sub(1);
        if i < known {
            let g = starts.partition_point(|&start| start <= i).saturating_sub(1);
            let group = core.groups.get(g).ok_or("target index outside the list")?;
            let at = usize::try_from(i.saturating_sub(starts.get(g).copied().unwrap_or(0))).map_err(|_| "target index")?;
            let t = group.targets.get(at).ok_or("target index outside the list")?;
            return Ok(Some((group.name.clone(), t.name.clone())));
        }
        let gone = usize::try_from(i.saturating_sub(known)).map_err(|_| "target index")?;
        log.gone.get(gone).cloned().map(Some).ok_or_else(|| format!("event target {} is outside the tables", i.saturating_add(1)))
    };
    let (mut seq, mut time) = (0u64, 0i64);
    let mut events = Vec::with_capacity(log.events.len());
    for e in &log.events {
        (seq, time) = (seq.wrapping_add(e.seq), time.wrapping_add(e.time));
        let detail = usize::try_from(e.detail).ok().and_then(|i| log.details.get(i));
        events.push(EventV2 {
            seq,
            time,
            kind: e.kind,
            version: e.version,
            target: target(e.target)?,
            detail: detail.ok_or_else(|| format!("event detail {} is outside the table", e.detail))?.clone(),
        });
    }
    Ok(Control { settings: c.settings, events, history: c.history })
}

fn decode_body<E: Named>(state: Body<E>, mut decode_entity: impl FnMut(E) -> Result<Entity, String>) -> Result<Engine, Error> {
    let mut namespaces = BTreeMap::new();
    for ns in state.namespaces {
        if ns.name.is_empty() {
            return Err(Error::snapshot("a namespace has an empty name"));
        }
        let mut entities = BTreeMap::new();
        for entity in ns.entities {
            let name = entity.name().to_owned();
            if name.is_empty() {
                return Err(Error::snapshot(format!("an entity of \"{}\" has an empty name", ns.name)));
            }
            let decoded = decode_entity(entity).map_err(|e| Error::snapshot(format!("entity {}/{name}: {e}", ns.name)))?;
            if entities.insert(name.clone(), decoded).is_some() {
                return Err(Error::snapshot(format!("entity {}/{name} appears twice", ns.name)));
            }
        }
        let name = ns.name;
        // No engine holds a namespace without an entity: its split into
        // entities could not keep it.
        if entities.is_empty() {
            return Err(Error::snapshot(format!("namespace \"{name}\" has no entity")));
        }
        if namespaces.insert(name.clone(), Namespace { entities }).is_some() {
            return Err(Error::snapshot(format!("namespace \"{name}\" appears twice")));
        }
    }
    Ok(Engine { namespaces })
}

fn decode_entity(e: EntityV1, control: Option<ControlV2>, extra: ExtraV4) -> Result<Entity, String> {
    let mut versions = Interner::default();
    let mut syms = vec![Sym::EMPTY];
    let mut unique = HashSet::new();
    for v in &e.versions {
        if v.is_empty() || !unique.insert(v.as_str()) {
            return Err(format!("version table entry \"{v}\" is empty or repeated"));
        }
        syms.push(versions.intern(v));
    }
    let sym = |i: u32| -> Result<Sym, String> {
        usize::try_from(i).ok().and_then(|i| syms.get(i)).copied().ok_or_else(|| format!("version index {i} is outside the table"))
    };
    let mut options = RolloutOptions {
        batch_percent: e.batch_percent,
        success_percent: e.success_percent,
        success_timeout_secs: e.success_timeout_secs,
        duration_timeout_secs: e.duration_timeout_secs,
        ..RolloutOptions::default()
    };
    if let Some(c) = &control {
        options.steps = c
            .settings
            .steps
            .iter()
            .map(|s| PlanStep { size: decode_amount(&s.size), bake_secs: s.bake_secs, approval: s.approval })
            .collect();
        options.max_failures = c.settings.max_failures.as_ref().map(decode_amount);
        options.max_consecutive_failures = c.settings.max_consecutive_failures;
        options.watch_secs = c.settings.watch_secs;
        options.rollback_batch_percent = c.settings.rollback_batch_percent;
        options.max_events = c.settings.max_events;
    }
    options.error_timeout_secs = extra.error_timeout_secs;
    let plan_meaning = match extra.plan_increments {
        true if !options.steps.is_empty() => crate::plan::Meaning::Increments,
        _ => crate::plan::Meaning::Totals,
    };
    options.validate_as(plan_meaning).map_err(|err| err.to_string())?;
    let mut decoded = Vec::new();
    for group in e.groups {
        for t in group.targets {
            if t.name.is_empty() {
                return Err(format!("a target of group \"{}\" has an empty name", group.name));
            }
            let message = usize::try_from(t.message)
                .ok()
                .and_then(|i| e.messages.get(i))
                .ok_or_else(|| format!("message index {} is outside the table", t.message))?;
            let reason = from_code(&TargetState::ALL, state_code, t.state, "target state")?;
            let (judgement, hold) = judgement::of_reason(reason)
                .ok_or_else(|| format!("target \"{}\" of group \"{}\" is stored as removed", t.name, group.name))?;
            let target = Target {
                tags: t.tags.into_boxed_slice(),
                reported: sym(t.reported)?,
                expected: sym(t.expected)?,
                message: Box::from(message.as_str()),
                is_error: t.is_error,
                judgement,
                hold,
                detail: t.detail.map(String::into_boxed_str),
                last_seen: e.time_base.wrapping_add(t.last_seen),
                last_message: e.time_base.wrapping_add(t.last_message),
                version_changed: e.time_base.wrapping_add(t.version_changed),
                assigned: e.time_base.wrapping_add(t.assigned),
                persisted: 0,
            };
            decoded.push((group.name.clone(), t.name, target));
        }
    }
    let count = decoded.len();
    let mut targets = Targets::default();
    targets.extend(decoded);
    if targets.len() != count {
        return Err("a target appears twice".to_owned());
    }
    let mut entity = Entity {
        target_version: sym(e.target_version)?,
        rolling: sym(e.rolling)?,
        lkg: sym(e.lkg)?,
        lkb: sym(e.lkb)?,
        options,
        plan_meaning,
        targets,
        ..Entity::default()
    };
    if let Some(c) = control {
        decode_control(&mut entity, c, &sym)?;
    }
    entity.versions = versions;
    entity.phase = crate::phase::Phase::of(entity.rolling, entity.lkg, entity.lkb, entity.watch);
    check_reachable(&entity)?;
    Ok(entity)
}

/// Rejects states no engine can reach (a snapshot that holds one was not
/// written by an engine, and stepping it could break what the engine
/// promises).
fn check_reachable(entity: &Entity) -> Result<(), String> {
    if !entity.lkg.is_empty() && entity.lkg == entity.lkb {
        return Err(format!("\"{}\" is both last known good and last known bad", entity.version(entity.lkg)));
    }
    if let Some(watch) = entity.watch {
        if watch.version != entity.lkg {
            return Err(format!("the watched version \"{}\" is not the last known good one", entity.version(watch.version)));
        }
    }
    if entity.history.rollouts.iter().filter(|r| r.outcome.is_open()).count() > 1 {
        return Err("more than one rollout in the history is open".into());
    }
    if let Some(r) = entity.removed.iter().find(|r| entity.targets.get(&r.id.group, &r.id.name).is_some()) {
        return Err(format!("\"{}\" in group \"{}\" is both removed and a target", r.id.name, r.id.group));
    }
    Ok(())
}

fn decode_amount(amount: &AmountV2) -> Amount {
    match *amount {
        AmountV2::Count(n) => Amount::Count(n),
        AmountV2::Percent(p) => Amount::Percent(p),
    }
}

fn decode_control(entity: &mut Entity, c: ControlV2, sym: &impl Fn(u32) -> Result<Sym, String>) -> Result<(), String> {
    let flag = |bit: u8| c.settings.flags & (1u8 << bit) != 0;
    if c.settings.flags >> 7 != 0 {
        return Err(format!("unknown progress flags {:#04x}", c.settings.flags));
    }
    if c.settings.step > 0 && usize::try_from(c.settings.step).map_or(true, |s| s >= entity.options.steps.len()) {
        return Err(format!("plan step {} is beyond a plan of {} steps", c.settings.step, entity.options.steps.len()));
    }
    entity.paused_since = c.settings.paused_since;
    entity.progress = Progress {
        step: usize::try_from(c.settings.step).map_err(|_| format!("plan step {} is out of range", c.settings.step))?,
        started: c.settings.step_started,
        bake_from: c.settings.bake_from,
        skip_bake: flag(0),
        approved: flag(1),
        requested: flag(2),
        full: flag(3),
        done: flag(4),
        consecutive_failures: c.settings.consecutive_failures,
        rollback_logged: flag(5),
        retry_pending: flag(6),
    };
    entity.watch = match c.settings.watch {
        Some((version, until, previous)) => Some(Watch { version: sym(version)?, until, previous: sym(previous)? }),
        None => None,
    };
    for (group, name, version) in c.settings.removed {
        entity.removed.push(Removed { id: TargetId { group, name }, version: sym(version)? });
    }
    let mut log = EventLog { next_seq: c.settings.next_seq, ..EventLog::default() };
    for e in c.events {
        if e.seq >= c.settings.next_seq || log.events.back().is_some_and(|last| last.seq >= e.seq) {
            return Err(format!("event {} is out of order", e.seq));
        }
        log.events.push_back(Stored {
            seq: e.seq,
            time: e.time,
            kind: from_code(&EventKind::ALL, kind_code, e.kind, "event kind")?,
            version: sym(e.version)?,
            target: e.target.map(|(group, name)| TargetId { group, name }),
            detail: e.detail.into_boxed_str(),
        });
    }
    if log.events.len() > usize::try_from(entity.options.max_events).unwrap_or(usize::MAX) {
        return Err("more events than maxEvents".into());
    }
    entity.log = log;
    let mut history = History::default();
    for r in c.history {
        history.rollouts.push_back(StoredRollout {
            version: sym(r.version)?,
            started: r.started,
            ended: r.ended,
            outcome: from_code(&Outcome::ALL, outcome_code, r.outcome, "rollout outcome")?,
        });
    }
    if history.rollouts.len() > crate::log::HISTORY_LIMIT {
        return Err("more rollouts than the history keeps".into());
    }
    entity.history = history;
    Ok(())
}
