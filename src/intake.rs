//! Steps 1 and 2 (SPEC section 2): taking a report in. Validating it whole
//! before anything changes, recording each reported target, forgetting the
//! zombies, and what it takes to undo that when a monitoring check then
//! fails the step.

use std::collections::HashSet;

use crate::bits::Bits;
use crate::entity::Time;
use crate::entity::{Entity, Target, Targets};
use crate::error::Error;
use crate::interner::Sym;
use crate::model::{secs_to_ms, ReportRef, Reported, Timestamp, ZOMBIE_AFTER_SECS};
use crate::phase::Phase;
use crate::same::same_str;

/// A report entry's position among the targets when it is not there yet.
pub(crate) const NEW: u32 = u32::MAX;

/// Rejects a report that cannot be applied whole: a target without a name,
/// without a version, or named twice.
pub(crate) fn validate_reports(reports: &dyn Reported) -> Result<(), Error> {
    locate(&Targets::default(), reports, &mut Vec::new())
}

/// Validates the report (see [`validate_reports`]) and finds where each
/// reported target is among `targets` ([`NEW`]: it is not there), in one
/// lookup per target: a known target named twice is caught by a flag per
/// position, a new one by a table of the new ones only. `positions` comes
/// in with where each report entry is expected (the last report's
/// positions: see [`Targets::position_hinted`]) and goes out with where
/// each is.
pub(crate) fn locate(targets: &Targets, reports: &dyn Reported, positions: &mut Vec<u32>) -> Result<(), Error> {
    let count = reports.count();
    positions.resize(count, NEW);
    // A bit per target: named by this report already.
    let mut seen = Bits::new(targets.len());
    // Report entries of new targets, by a hash of (group, name).
    // As large as it must be from the start: no doubling (whose old and new
    // tables would be held at once) for a fleet reported for the first time.
    let mut new: hashbrown::HashTable<u32> = hashbrown::HashTable::with_capacity(count.saturating_sub(targets.len()));
    let hasher = foldhash::fast::RandomState::default();
    let key = |i: u32| reports.key(i as usize);
    let hash = |i: u32| std::hash::BuildHasher::hash_one(&hasher, key(i));
    // The key and the version alone: validation and lookup need no more.
    for (i, slot) in positions.iter_mut().enumerate() {
        let (group, name) = reports.key(i);
        let target = || format!("\"{name}\" in group \"{group}\"");
        if name.is_empty() {
            // Nameless: named by its place in the report (1-based, as a person counts).
            return Err(Error::InvalidTarget {
                target: format!("{} (group \"{group}\")", crate::error::report_entry(i, count)),
                reason: "a reported target needs a non-empty name".into(),
            });
        }
        if reports.version(i).is_empty() {
            return Err(Error::InvalidTarget { target: target(), reason: "a reported target needs the non-empty version it runs".into() });
        }
        let position = targets.position_hinted(group, name, *slot);
        let twice = match position {
            Some(p) => seen.insert(p),
            None => {
                let at = u32::try_from(i).unwrap_or(NEW);
                let h = hash(at);
                let found = new.find(h, |&j| key(j) == (group, name)).is_some();
                if !found {
                    new.insert_unique(h, at, |&j| hash(j));
                }
                found
            }
        };
        if twice {
            return Err(Error::InvalidTarget {
                target: target(),
                reason: "it is reported twice in one report; the report was not applied".into(),
            });
        }
        *slot = position.map_or(NEW, |p| u32::try_from(p).unwrap_or(NEW));
    }
    Ok(())
}

/// What step 1 and 2 changed, kept only while a failing monitoring check
/// could still make the step change nothing.
#[derive(Default)]
pub(crate) struct Undo {
    /// Each reported target as it was before the report (`None`: new).
    pub(crate) reported: Vec<(String, String, Option<Target>)>,
    /// Each zombie forgotten, with where it was stored.
    pub(crate) forgotten: Vec<(usize, String, String, Target)>,
    pub(crate) rolling: Sym,
    pub(crate) phase: Phase,
}

impl Undo {
    pub(crate) fn apply(self, entity: &mut Entity) {
        // Targets that arrived with the report leave in one pass; the
        // others get back what they were.
        let mut arrived = HashSet::new();
        for (group, name, before) in &self.reported {
            match before {
                Some(target) => {
                    entity.targets.insert(group, name, target.clone());
                }
                None => {
                    arrived.insert((group.as_str(), name.as_str()));
                }
            }
        }
        if !arrived.is_empty() {
            entity.targets.retain(|group, name, _| !arrived.contains(&(group, name)));
        }
        // The arrivals were stored last: the zombies' places are as they were.
        entity.targets.restore(self.forgotten);
        entity.unroll(self.rolling, self.phase);
    }
}

/// Step 1: every reported target is created if new, then updated.
/// `positions` are where [`locate`] found the reported targets; a new
/// one's becomes where it is stored (after all the others, in the report's
/// order).
pub(crate) fn record(entity: &mut Entity, reports: &dyn Reported, positions: &mut [u32], now: Timestamp, mut undo: Option<&mut Undo>) {
    let first = entity.targets.len();
    let (arriving, bytes) = positions
        .iter()
        .enumerate()
        .filter(|(_, &p)| p == NEW)
        .fold((0usize, 0usize), |(n, bytes), (i, _)| (n.saturating_add(1), bytes.saturating_add(reports.report(i).name.len())));
    entity.targets.reserve(arriving, bytes);
    // Most of a fleet reports one or two versions: the last one's symbol
    // saves hashing the same string again.
    let mut last = (Sym::EMPTY, "");
    // The same for messages, interned only when a target's changes.
    let mut said = (Sym::EMPTY, "");
    // A target already found needs its report's fields alone, unless
    // the undo keeps its key.
    let keyed = undo.is_some();
    for (i, position) in positions.iter_mut().enumerate() {
        let report = if keyed || *position == NEW { reports.report(i) } else { reports.fields(i) };
        if !same_str(last.1, report.version) {
            last = (entity.versions.intern(report.version), report.version);
        }
        let version = last.0;
        let held = if *position == NEW { None } else { entity.targets.target(*position as usize).map(|t| (t.message, t.extra)) };
        let (held_message, held_extra) = held.unwrap_or_default();
        // The text of the target before (each text has one symbol); then
        // the target's own; then interned.
        let message = match held_message {
            _ if !said.0.is_empty() && same_str(said.1, report.message) => said.0,
            sym if same_str(entity.targets.text(sym), report.message) => {
                said = (sym, report.message);
                sym
            }
            _ => {
                said = (entity.targets.intern_text(report.message), report.message);
                said.0
            }
        };
        // Most targets report no tags and hold none: nothing to look up.
        let extra = match held_extra {
            Sym::EMPTY if report.tags.is_empty() => Sym::EMPTY,
            extra if entity.targets.tags_of_extra(extra) == report.tags => extra,
            extra => {
                let tags = entity.targets.intern_tags(report.tags);
                let detail = entity.targets.detail_of_extra(extra);
                entity.targets.extra(tags, detail)
            }
        };
        let target = if *position == NEW { None } else { entity.targets.at_mut(*position as usize) };
        if let Some(undo) = undo.as_deref_mut() {
            undo.reported.push((report.group.to_owned(), report.name.to_owned(), target.as_deref().cloned()));
        }
        match target {
            Some(target) => {
                update(target, &report, (version, message, extra), now);
                entity.targets.reported(*position as usize);
            }
            None => {
                let mut target = Target::arriving(version, entity.lkg, now, &entity.options);
                update(&mut target, &report, (version, message, extra), now);
                *position = u32::try_from(entity.targets.len()).unwrap_or(NEW);
                entity.targets.append(report.group, report.name, target);
            }
        }
    }
    // New targets join the order once, however many arrived.
    entity.targets.arrived_since(first);
}

/// `symbols`: the report's version, message and tags as the entity's.
fn update(target: &mut Target, report: &ReportRef<'_>, (version, message, extra): (Sym, Sym, Sym), now: Timestamp) {
    target.last_seen = Time::at(now);
    let version_changed = target.reported != version;
    if version_changed || target.is_error != report.is_error {
        target.last_message = Time::at(now);
    }
    if version_changed {
        target.version_changed = Time::at(now);
    }
    target.reported = version;
    target.is_error = report.is_error;
    target.message = message;
    target.extra = extra;
}

/// Step 2: a target not reported for more than 900 seconds is removed.
pub(crate) fn forget_zombies(entity: &mut Entity, now: Timestamp, undo: Option<&mut Undo>) {
    let limit = secs_to_ms(ZOMBIE_AFTER_SECS.unsigned_abs());
    let is_zombie = |t: &Target| now.saturating_sub(t.last_seen.get()) > limit;
    if !entity.targets.all().any(is_zombie) {
        return;
    }
    let mut forgotten = Vec::new();
    let mut position = 0usize;
    entity.targets.retain(|group, name, t| {
        let at = position;
        position = position.saturating_add(1);
        if !is_zombie(t) {
            return true;
        }
        if undo.is_some() {
            forgotten.push((at, group.to_owned(), name.to_owned(), t.clone()));
        }
        false
    });
    if let Some(undo) = undo {
        undo.forgotten = forgotten;
    }
}
