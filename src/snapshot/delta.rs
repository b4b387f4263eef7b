//! An entity's journal: a checkpoint (the entity's snapshot) followed by
//! deltas, each holding what one or more calls changed. A step of a large
//! fleet changes a few targets and appends a few events, but reports every
//! target: a delta writes the targets whose stored fields changed, the new
//! events, the targets that left, and one time for all the others ("every
//! other target was last seen then"), so its size follows the change, not
//! the fleet.
//!
//! Which targets changed is found by comparing each target's fingerprint
//! ([`Target::print`]) with the one the journal last wrote, not by
//! tracking every place that changes a target: a change made anywhere is
//! seen. A delta names the state it was made from (a checkpoint's
//! checksum, chained through every delta since), and applies only to an
//! entity in that state, so a delta applied out of order, twice, or to
//! another entity is rejected rather than merged into a wrong state.

use super::{
    decode_analysis, decode_controllers, decode_extra, decode_freezes, decode_revisions, decode_v11, decode_v4, decode_v9, encode_analysis,
    encode_controllers, encode_entity, encode_extra, encode_freezes, encode_one, encode_revisions, encode_v11, end, envelope_around, open,
    parse_all, take, Blocks, ControllersV5, DeltaV1, EntityV4, EntityV9, ExtraV10, ExtraV11, ExtraV6, ExtraV7, ExtraV8, Part, RowsIn,
    RowsOut,
};
use crate::bits::Bits;
use crate::engine::Engine;
use crate::entity::Time;
use crate::entity::{Entity, Journal, Removed, Watch};
use crate::error::Error;
use crate::interner::Sym;
use crate::log::{History, Stored, StoredRollout};

const MAGIC: &[u8; 8] = b"ORCHDLTA";

/// The delta format this engine writes (and the newest it reads). Format 2
/// is format 1 followed by the entity's controller settings; format 3 is
/// format 2 followed by the entity's surge; format 4 format 3 followed by
/// its analysis; format 5 format 4 followed by its actors and rollout
/// tallies; format 6 is format 5 with its part of the entity in snapshot
/// format 9 (targets in rows); format 7 is format 6 followed by which
/// targets were seen at the delta's time ([`seen_runs`]: up to format 6,
/// every target the delta does not write was); format 8 is format 7
/// followed by the entity's freezes (snapshot format 10's); format 9 is
/// format 8 followed by the entity's notification settings and pipeline
/// (snapshot format 11's).
pub const DELTA_FORMAT_VERSION: u16 = 9;

/// The next state's name: the previous one's with a checksum mixed in
/// (SplitMix64's finaliser, the same in every process).
fn chain(id: u64, crc: u32) -> u64 {
    let mut z = id.rotate_left(32) ^ u64::from(crc) ^ 0x9e37_79b9_7f4a_7c15;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The checksum in an envelope's header (bytes 16 to 19).
fn crc_of(bytes: &Blocks) -> u32 {
    let mut crc = [0u8; 4];
    if let Some(field) = bytes.first().get(16..20) {
        crc.copy_from_slice(field);
    }
    u32::from_le_bytes(crc)
}

/// Starts the entity's journal at its checkpoint, whose checksum is `crc`:
/// every target as it is now counts as written.
pub(super) fn start(entity: &mut Entity, crc: u32) {
    entity.targets.persist(None);
    entity.targets.track_leaving();
    entity.journal = Some(Journal { id: chain(0, crc), next_seq: entity.log.next_seq });
}

/// The entity's snapshot, which becomes its journal's checkpoint.
pub(crate) fn checkpoint(namespace: &str, name: &str, entity: &mut Entity) -> Blocks {
    let bytes = encode_one(namespace, name, entity);
    start(entity, crc_of(&bytes));
    bytes
}

/// What changed in the entity since its journal's last checkpoint or
/// delta, as a delta; the journal then stands at the state it describes.
/// None when the delta would take more than `most` bytes (it stops soon
/// after): the journal then ends, and the entity's next delta needs a
/// checkpoint first.
pub(crate) fn encode_delta(namespace: &str, name: &str, entity: &mut Entity, most: usize) -> Result<Option<Blocks>, Error> {
    let Some(journal) = entity.journal else {
        return Err(Error::NotFound { kind: "checkpoint of entity", name: format!("{namespace}/{name}") });
    };
    // Most steps report every target: one time stands for all of those
    // that changed nothing else.
    let seen = entity.targets.all().map(|t| t.last_seen.get()).max().unwrap_or(0);
    let changed = entity.targets.persist(Some(seen));
    let left = entity.targets.take_left();
    let delta = DeltaV1 {
        namespace: namespace.to_owned(),
        base: journal.id,
        part: encode_entity(name, entity, Some(&Part { changed: &changed, from: journal.next_seq, most })),
        left: left.into_iter().map(|(group, name)| (group.into_string(), name.into_string())).collect(),
        first_kept: entity.log.events.front().map_or(entity.log.next_seq, |e| e.seq),
        targets: u64::try_from(entity.targets.len()).unwrap_or(u64::MAX),
    };
    if !delta.part.targets.complete() {
        entity.journal = None;
        return Ok(None);
    }
    let revisions = encode_revisions(entity, journal.next_seq);
    let runs = seen_runs(entity, seen);
    let runs_len = runs.len().saturating_mul(3);
    let size = delta.part.targets.size().saturating_add(delta.part.control.events.events.len().saturating_mul(16)).saturating_add(1024);
    let controllers = encode_controllers(entity);
    let mut whole = (
        delta,
        &controllers[..],
        encode_extra(entity),
        encode_analysis(entity),
        revisions,
        runs,
        encode_freezes(entity),
        encode_v11(entity),
    );
    let bytes = envelope_around(MAGIC, DELTA_FORMAT_VERSION, &mut whole, delta_rows, size.saturating_add(runs_len));
    if bytes.len() > most {
        entity.journal = None;
        return Ok(None);
    }
    entity.journal = Some(Journal { id: chain(journal.id, crc_of(&bytes)), next_seq: entity.log.next_seq });
    Ok(Some(bytes))
}

/// The rows of a delta's entity, which its envelope is written around.
#[allow(clippy::type_complexity)]
fn delta_rows<'w, A, B, C, D, E, F, G>(whole: &'w mut (DeltaV1<EntityV9<RowsOut<'_>>>, A, B, C, D, E, F, G)) -> Option<&'w mut Blocks> {
    Some(whole.0.part.targets.rows_mut())
}

/// Which targets were last seen at `seen`, by group then name: the lengths
/// of alternate runs, the first of targets that were not (a fleet that
/// reports whole is one run after an empty one; one reported in parts, a
/// run or a few per part).
fn seen_runs(entity: &Entity, seen: i64) -> Vec<u64> {
    let mut runs = vec![0u64];
    let mut inside = false;
    for t in entity.targets.sorted_targets() {
        if (t.last_seen.get() == seen) != inside {
            inside = !inside;
            runs.push(0);
        }
        if let Some(run) = runs.last_mut() {
            *run = run.saturating_add(1);
        }
    }
    runs
}

/// Applies a delta to the entity it is for, which must be in the state the
/// delta was made from; answers its namespace and name. Anything else is
/// [`Error::InvalidSnapshot`] and changes nothing.
pub(crate) fn apply_delta(engine: &mut Engine, bytes: &[u8]) -> Result<(String, String), Error> {
    let (format, body, crc) = open(bytes, MAGIC, DELTA_FORMAT_VERSION, "delta")?;
    // Every format ever written keeps its decoder: format 2 is format 1
    // followed by the controller settings, format 3 format 2 followed by
    // the surge.
    let (delta, rest) = match format {
        1..=5 => {
            let (delta, rest) = take::<DeltaV1>(body)?;
            (delta.map(PartIn::V4), rest)
        }
        _ => {
            let (delta, rest) = take::<DeltaV1<EntityV9<RowsIn<'_>>>>(body)?;
            (delta.map(PartIn::V9), rest)
        }
    };
    type Trailer = (ControllersV5, ExtraV6, ExtraV7, ExtraV8, Option<Vec<u64>>, ExtraV10);
    let mut v11 = None;
    let (controllers, extra, analysis, revisions, runs, freezes): Trailer = match format {
        1 => end(rest, (vec![None, None], ExtraV6::default(), ExtraV7::default(), ExtraV8::default(), None, ExtraV10::default()))?,
        2 => (parse_all(rest)?, ExtraV6::default(), ExtraV7::default(), ExtraV8::default(), None, ExtraV10::default()),
        3 => {
            let (controllers, extra) = parse_all(rest)?;
            (controllers, extra, ExtraV7::default(), ExtraV8::default(), None, ExtraV10::default())
        }
        4 => {
            let (controllers, extra, analysis) = parse_all(rest)?;
            (controllers, extra, analysis, ExtraV8::default(), None, ExtraV10::default())
        }
        5 | 6 => {
            let (controllers, extra, analysis, revisions) = parse_all(rest)?;
            (controllers, extra, analysis, revisions, None, ExtraV10::default())
        }
        7 => {
            let (controllers, extra, analysis, revisions, runs) = parse_all(rest)?;
            (controllers, extra, analysis, revisions, Some(runs), ExtraV10::default())
        }
        8 => {
            let (controllers, extra, analysis, revisions, runs, freezes) = parse_all(rest)?;
            (controllers, extra, analysis, revisions, Some(runs), freezes)
        }
        _ => {
            let (controllers, extra, analysis, revisions, runs, freezes, extra11): (_, _, _, _, _, _, ExtraV11) = parse_all(rest)?;
            v11 = Some(extra11);
            (controllers, extra, analysis, revisions, Some(runs), freezes)
        }
    };
    let [target, monitoring]: [Option<String>; 2] =
        controllers.try_into().map_err(|_| Error::snapshot("a delta holds two controller settings"))?;
    let DeltaV1 { namespace, base, part, left, first_kept, targets: count } = delta;
    let name = part.name().to_owned();
    let at = format!("{namespace}/{name}");
    let entity = engine.namespaces.get_mut(&namespace).and_then(|ns| ns.entities.get_mut(&name)).ok_or_else(|| {
        Error::snapshot(format!("the delta is for entity {at}, which this engine does not hold: restore its checkpoint first"))
    })?;
    if entity.journal.map(|j| j.id) != Some(base) {
        return Err(Error::snapshot(format!(
            "the delta does not follow the state of {at} here (it was made from another checkpoint or delta): \
             restore the entity's latest checkpoint, then every delta after it, in order"
        )));
    }
    let seen = part.time_base();
    let invalid = |e: String| Error::snapshot(format!("delta of {at}: {e}"));
    let mut changed = part.decode().map_err(invalid)?;
    changed.controllers = decode_controllers(target, monitoring);
    // A delta from before format 9 (an engine from before notifications
    // and pipelines) keeps the entity's.
    match v11 {
        Some(extra) => decode_v11(&mut changed, extra),
        None => (changed.controllers.notifications, changed.pipeline) = (entity.controllers.notifications.clone(), entity.pipeline.clone()),
    }
    let leaves = check(entity, &changed, &left, count, first_kept).map_err(invalid)?;
    if let Some(runs) = &runs {
        let covered = runs.iter().try_fold(0u64, |n, &run| n.checked_add(run));
        if covered != Some(count) {
            return Err(invalid(format!(
                "its runs of targets seen cover {} targets of {count}",
                covered.map_or("more".to_owned(), |n| n.to_string())
            )));
        }
    }
    // The targets after the merge are `count`, which `check` confirmed.
    decode_extra(&mut changed, extra, usize::try_from(count).unwrap_or(usize::MAX)).map_err(invalid)?;
    decode_analysis(&mut changed, analysis).map_err(invalid)?;
    // A delta from before format 5 (an engine from before tallies) carries none.
    decode_revisions(&mut changed, revisions, if format >= 5 { 8 } else { 7 }).map_err(invalid)?;
    // A delta from before format 8 (an engine from before freezes) keeps
    // the entity's.
    if format >= 8 {
        decode_freezes(&mut changed, freezes).map_err(invalid)?;
    } else {
        (changed.freezes, changed.frozen) = (entity.freezes.clone(), entity.frozen.clone());
    }
    merge(entity, changed, &leaves, (seen, runs.as_deref()), first_kept);
    entity.targets.track_leaving();
    entity.journal = Some(Journal { id: chain(base, crc), next_seq: entity.log.next_seq });
    Ok((namespace, name))
}

/// A delta's part of its entity, in the snapshot format of its delta
/// format.
enum PartIn<'a> {
    /// Delta formats 1 to 5.
    V4(EntityV4),
    /// From delta format 6.
    V9(EntityV9<RowsIn<'a>>),
}

impl PartIn<'_> {
    fn name(&self) -> &str {
        match self {
            PartIn::V4(e) => &e.core.head.name,
            PartIn::V9(e) => &e.head.name,
        }
    }

    /// When every target the part does not hold was last seen.
    fn time_base(&self) -> i64 {
        match self {
            PartIn::V4(e) => e.core.time_base,
            PartIn::V9(e) => e.targets.time_base(),
        }
    }

    fn decode(self) -> Result<Entity, String> {
        match self {
            PartIn::V4(e) => decode_v4(e),
            PartIn::V9(e) => decode_v9(e),
        }
    }
}

/// Whether `changed` and `left` merge into `entity` as a state an engine
/// can be in, before anything changes; answers which of the entity's
/// targets (by position) leave.
fn check(entity: &Entity, changed: &Entity, left: &[(String, String)], count: u64, first_kept: u64) -> Result<Vec<bool>, String> {
    let mut leaves = vec![false; entity.targets.len()];
    for (group, name) in left {
        let slot =
            entity.targets.position(group, name).filter(|_| changed.targets.get(group, name).is_none()).and_then(|p| leaves.get_mut(p));
        match slot {
            Some(leaving) if !*leaving => *leaving = true,
            _ => {
                return Err(format!(
                    "target \"{name}\" of group \"{group}\" cannot leave: it is not there, it also changed, or it leaves twice"
                ))
            }
        }
    }
    let arrived = changed.targets.iter().filter(|(group, name, _)| entity.targets.get(group, name).is_none()).count();
    let after = entity.targets.len().saturating_sub(left.len()).saturating_add(arrived);
    if u64::try_from(after).ok() != Some(count) {
        return Err(format!("it leaves {after} targets where it announces {count}"));
    }
    let stays = |group: &str, name: &str| {
        changed.targets.get(group, name).is_some()
            || entity.targets.position(group, name).is_some_and(|p| !leaves.get(p).copied().unwrap_or(true))
    };
    if let Some(r) = changed.removed.iter().find(|r| stays(&r.id.group, &r.id.name)) {
        return Err(format!("\"{}\" in group \"{}\" is both removed and a target", r.id.name, r.id.group));
    }
    let next = entity.journal.map_or(0, |j| j.next_seq);
    if changed.log.events.front().is_some_and(|e| e.seq < next) {
        return Err("it repeats events the entity has".into());
    }
    // The events kept are numbered below `next`: the sequence goes on
    // from there, never back.
    if changed.log.next_seq < next {
        return Err(format!("it moves the event sequence back from {next} to {}", changed.log.next_seq));
    }
    let kept = entity.log.events.iter().filter(|e| e.seq >= first_kept).count().saturating_add(changed.log.events.len());
    if kept > usize::try_from(changed.options.max_events).unwrap_or(usize::MAX) {
        return Err("it leaves more events than maxEvents".into());
    }
    Ok(leaves)
}

/// Merges a checked delta into the entity: `changed` (decoded with its own
/// version symbols) replaces everything but the targets and the older
/// events, its targets replace or join the entity's, those marked in
/// `leaves` leave, and every other target was last seen at `seen`.
/// `seen`: the delta's time, and which targets were seen then (`None`:
/// every one it does not write, up to delta format 6).
fn merge(entity: &mut Entity, changed: Entity, leaves: &[bool], (seen, runs): (i64, Option<&[u64]>), first_kept: u64) {
    // Every field, named: a field added to `Entity` does not compile here
    // until the merge says what becomes of it.
    let Entity {
        versions,
        target_version,
        rolling,
        lkg,
        lkb,
        phase: _, // follows from the versions
        options,
        plan_meaning,
        targets,
        paused_since,
        progress,
        watch,
        removed,
        surge,
        rolled_back_from,
        applied,
        analysis,
        log,
        history,
        hints: _,       // a cache
        hints_exact: _, // a cache
        hooks: _,       // the entity's own stay
        controllers,
        journal: _, // set by the caller
        actor: _,   // only while a control is applied
        freezes,
        frozen,
        pipeline,
    } = changed;
    entity.controllers = controllers;
    entity.pipeline = pipeline;
    entity.freezes = freezes;
    entity.frozen = frozen;
    entity.surge = surge;
    entity.applied = applied;
    entity.analysis = analysis;
    let ours = &mut entity.versions;
    let mut map = |sym: Sym| ours.intern(versions.resolve(sym));
    entity.target_version = map(target_version);
    entity.rolling = map(rolling);
    entity.lkg = map(lkg);
    entity.lkb = map(lkb);
    entity.rolled_back_from = map(rolled_back_from);
    entity.watch = watch.map(|w| Watch { version: map(w.version), until: w.until, previous: map(w.previous) });
    entity.removed = removed.into_iter().map(|r| Removed { version: map(r.version), ..r }).collect();
    entity.history = History {
        rollouts: history.rollouts.into_iter().map(|r| StoredRollout { version: map(r.version), ..r }).collect(),
        pending: history.pending.map(|(version, action)| (map(version), action)),
    };
    entity.log.events.retain(|e| e.seq >= first_kept);
    entity.log.actors.retain(|&(seq, _)| seq >= first_kept);
    entity.log.actors.extend(log.actors);
    for e in log.events {
        entity.log.events.push_back(Stored { version: map(e.version), ..e });
    }
    entity.log.next_seq = log.next_seq;
    let mut arrived = Vec::new();
    let mut incoming = Vec::with_capacity(targets.len());
    for (group, name, target) in targets.into_entries() {
        let mut target = entity.targets.adopt(target);
        target.reported = map(target.reported);
        target.expected = map(target.expected);
        incoming.push((group, name, target));
    }
    entity.options = options;
    entity.plan_meaning = plan_meaning;
    entity.paused_since = paused_since;
    entity.progress = progress;
    entity.phase = crate::phase::Phase::of(entity.rolling, entity.lkg, entity.lkb, entity.watch);
    if leaves.contains(&true) {
        let mut position = 0usize;
        entity.targets.retain(|_, _, _| {
            let stays = !leaves.get(position).copied().unwrap_or(false);
            position = position.saturating_add(1);
            stays
        });
    }
    if runs.is_none() {
        for target in entity.targets.all_mut() {
            target.last_seen = Time::at(seen);
        }
    }
    let written: Vec<(Box<str>, Box<str>)> = incoming.iter().map(|(g, n, _)| (g.clone(), n.clone())).collect();
    for (group, name, target) in incoming {
        match entity.targets.get_mut(&group, &name) {
            Some(slot) => *slot = target,
            None => arrived.push((group.into_string(), name.into_string(), target)),
        }
    }
    entity.targets.extend(arrived);
    if let Some(runs) = runs {
        // Runs alternate, the first of targets not seen then; a bit per
        // target marks those that were, where they are stored.
        let seen_then = runs.iter().enumerate().flat_map(|(i, &run)| std::iter::repeat(i % 2 == 1).take(usize::try_from(run).unwrap_or(0)));
        let mut marked = Bits::new(entity.targets.len());
        for (position, _) in entity.targets.sorted_positions().zip(seen_then).filter(|&(_, then)| then) {
            marked.insert(position);
        }
        for (position, target) in entity.targets.all_mut().enumerate() {
            if marked.contains(position) {
                target.last_seen = Time::at(seen);
            }
        }
    }
    // What the delta holds is what its writer's journal wrote.
    for (group, name) in &written {
        entity.targets.persisted(group, name);
    }
    entity.targets.rewind();
    entity.hints.clear();
    entity.hints_exact = None;
}
