//! Steps 1 and 2 (SPEC section 2): taking a report in. Validating it whole
//! before anything changes, recording each reported target, forgetting the
//! zombies, and what it takes to undo that when a monitoring check then
//! fails the step.

use std::collections::HashSet;

use crate::entity::{Entity, Target, Targets};
use crate::error::Error;
use crate::interner::Sym;
use crate::model::{secs_to_ms, ReportRef, Timestamp, ZOMBIE_AFTER_SECS};
use crate::phase::Phase;

/// Rejects a report that cannot be applied whole: a target without a name,
/// without a version, or named twice.
pub(crate) fn validate_reports(reports: &[ReportRef<'_>]) -> Result<(), Error> {
    locate(&Targets::default(), reports, &[]).map(drop)
}

/// Validates the report (see [`validate_reports`]) and finds where each
/// reported target is among `targets` (`None`: it is new), in one lookup
/// per target: a known target named twice is caught by a flag per
/// position, a new one by a set of the new ones only. `hints[i]` is where
/// report `i` is expected (see [`Targets::position_hinted`]).
pub(crate) fn locate(targets: &Targets, reports: &[ReportRef<'_>], hints: &[u32]) -> Result<Vec<Option<usize>>, Error> {
    let mut positions = Vec::with_capacity(reports.len());
    let mut seen = vec![false; targets.len()];
    let mut new = HashSet::with_hasher(foldhash::fast::RandomState::default());
    for (i, report) in reports.iter().enumerate() {
        let target = || format!("\"{}\" in group \"{}\"", report.name, report.group);
        if report.name.is_empty() {
            // Nameless: named by its place in the report (1-based, as a person counts).
            return Err(Error::InvalidTarget {
                target: format!("{} (group \"{}\")", crate::error::report_entry(i, reports.len()), report.group),
                reason: "a reported target needs a non-empty name".into(),
            });
        }
        if report.version.is_empty() {
            return Err(Error::InvalidTarget { target: target(), reason: "a reported target needs the non-empty version it runs".into() });
        }
        // No hint (u32::MAX) is a plain lookup.
        let hint = hints.get(i).copied().unwrap_or(u32::MAX);
        let position = targets.position_hinted(report.group, report.name, hint);
        let twice = match position {
            Some(i) => seen.get_mut(i).is_some_and(|seen| std::mem::replace(seen, true)),
            None => !new.insert((report.group, report.name)),
        };
        if twice {
            return Err(Error::InvalidTarget {
                target: target(),
                reason: "it is reported twice in one report; the report was not applied".into(),
            });
        }
        positions.push(position);
    }
    Ok(positions)
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
/// `positions` are where [`locate`] found the reported targets.
pub(crate) fn record(
    entity: &mut Entity,
    reports: &[ReportRef<'_>],
    positions: &[Option<usize>],
    now: Timestamp,
    mut undo: Option<&mut Undo>,
) {
    let mut arrived = Vec::new();
    // Most of a fleet reports one or two versions: the last one's symbol
    // saves hashing the same string again.
    let mut last = (Sym::EMPTY, "");
    for (report, &position) in reports.iter().zip(positions) {
        if last.1 != report.version {
            last = (entity.versions.intern(report.version), report.version);
        }
        let version = last.0;
        let target = position.and_then(|i| entity.targets.at_mut(i));
        if let Some(undo) = undo.as_deref_mut() {
            undo.reported.push((report.group.to_owned(), report.name.to_owned(), target.as_deref().cloned()));
        }
        match target {
            Some(target) => update(target, report, version, now),
            None => {
                let mut target = Target::arriving(version, entity.lkg, now, &entity.options);
                update(&mut target, report, version, now);
                arrived.push((report.group, report.name, target));
            }
        }
    }
    // New targets join the order once, however many arrived.
    entity.targets.extend(arrived);
}

fn update(target: &mut Target, report: &ReportRef<'_>, version: Sym, now: Timestamp) {
    target.last_seen = now;
    let version_changed = target.reported != version;
    if version_changed || target.is_error != report.is_error {
        target.last_message = now;
    }
    if version_changed {
        target.version_changed = now;
    }
    target.reported = version;
    target.is_error = report.is_error;
    if *target.message != *report.message {
        target.message = Box::from(report.message);
    }
    if *target.tags != *report.tags {
        target.tags = report.tags.into();
    }
}

/// Step 2: a target not reported for more than 900 seconds is removed.
pub(crate) fn forget_zombies(entity: &mut Entity, now: Timestamp, undo: Option<&mut Undo>) {
    let limit = secs_to_ms(ZOMBIE_AFTER_SECS.unsigned_abs());
    let is_zombie = |t: &Target| now.saturating_sub(t.last_seen) > limit;
    if !entity.targets.iter().any(|(_, _, t)| is_zombie(t)) {
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
