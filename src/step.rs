//! One orchestration step (SPEC section 2, steps 1 to 10), top to bottom.
//!
//! The caller (the engine) has validated the names; this module validates
//! the reports, and either applies the whole step or, when it fails,
//! nothing of it.

use std::collections::HashSet;

use crate::entity::{view, Entity, Target};
use crate::error::Error;
use crate::hooks::{EntityHooks, HookContext, TargetView};
use crate::interner::Sym;
use crate::model::{secs_to_ms, TargetId, TargetReport, TargetState, Timestamp, ZOMBIE_AFTER_SECS};

/// Names the step is running for, to tell hooks and errors.
pub(crate) struct StepNames<'a> {
    pub(crate) namespace: &'a str,
    pub(crate) entity: &'a str,
}

/// Rejects a report that cannot be applied whole: a target without a name,
/// without a version, or named twice.
pub(crate) fn validate_reports(reports: &[TargetReport]) -> Result<(), Error> {
    let mut seen = HashSet::with_capacity(reports.len());
    for report in reports {
        let target = || format!("{:?} in group {:?}", report.name, report.group);
        if report.name.is_empty() {
            return Err(Error::InvalidTarget {
                target: format!("in group {:?}", report.group),
                reason: "a reported target needs a non-empty name".into(),
            });
        }
        if report.version.is_empty() {
            return Err(Error::InvalidTarget {
                target: target(),
                reason: "a reported target needs the non-empty version it runs".into(),
            });
        }
        if !seen.insert((report.group.as_str(), report.name.as_str())) {
            return Err(Error::InvalidTarget {
                target: target(),
                reason: "it is reported twice in one report; the report was not applied".into(),
            });
        }
    }
    Ok(())
}

/// What the step counted of the targets it judged.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    succeeded: usize,
    failed: usize,
    in_flight: usize,
    /// Targets still expected to run the last known bad version: a
    /// rollback is complete when none is left.
    expecting_bad: usize,
}

impl Tally {
    fn count(&mut self, state: TargetState) {
        match state {
            TargetState::Succeeded => self.succeeded = self.succeeded.saturating_add(1),
            s if s.is_failed() => self.failed = self.failed.saturating_add(1),
            s if s.is_in_flight() => self.in_flight = self.in_flight.saturating_add(1),
            _ => {}
        }
    }

    fn uncount(&mut self, state: TargetState) {
        match state {
            TargetState::Succeeded => self.succeeded = self.succeeded.saturating_sub(1),
            s if s.is_failed() => self.failed = self.failed.saturating_sub(1),
            s if s.is_in_flight() => self.in_flight = self.in_flight.saturating_sub(1),
            _ => {}
        }
    }
}

/// What step 1 and 2 changed, kept only while a failing monitoring check
/// could still make the step change nothing.
#[derive(Default)]
struct Undo {
    /// Each reported target as it was before the report (`None`: new).
    reported: Vec<(String, String, Option<Target>)>,
    forgotten: Vec<(String, String, Target)>,
    rolling: Sym,
}

impl Undo {
    fn apply(self, entity: &mut Entity) {
        for (group, name, before) in self.reported.into_iter().rev() {
            match before {
                Some(target) => {
                    entity.targets.insert(&group, &name, target);
                }
                None => {
                    entity.targets.remove(&group, &name);
                }
            }
        }
        for (group, name, target) in self.forgotten {
            entity.targets.insert(&group, &name, target);
        }
        entity.rolling = self.rolling;
    }
}

/// Runs one step on `entity` at `now`. On error nothing has changed.
pub(crate) fn run(entity: &mut Entity, names: &StepNames<'_>, reports: &[TargetReport], now: Timestamp) -> Result<(), Error> {
    validate_reports(reports)?;
    if entity.rolling.is_empty() && entity.target_version.is_empty() {
        return Err(Error::NoTargetVersion {
            namespace: names.namespace.to_owned(),
            entity: names.entity.to_owned(),
        });
    }
    // Hooks live outside the state for the step, so that they can be called
    // while the targets are borrowed.
    let mut hooks = std::mem::take(&mut entity.hooks);
    let result = run_with_hooks(entity, &mut hooks, names, reports, now);
    entity.hooks = hooks;
    result
}

fn run_with_hooks(
    entity: &mut Entity,
    hooks: &mut EntityHooks,
    names: &StepNames<'_>,
    reports: &[TargetReport],
    now: Timestamp,
) -> Result<(), Error> {
    // Only a monitoring check can fail the step after it started changing
    // things; without one there is nothing to undo.
    let mut undo = hooks.monitoring.is_some().then(|| Undo {
        rolling: entity.rolling,
        ..Undo::default()
    });

    record(entity, reports, now, undo.as_mut()); // step 1
    forget_zombies(entity, now, undo.as_mut()); // step 2
    if entity.rolling.is_empty() {
        entity.rolling = entity.target_version; // step 3
    }
    let desired = entity.desired();
    let version = entity.version(desired).to_owned();
    let ctx = HookContext {
        namespace: names.namespace,
        entity: names.entity,
        version: &version,
        rolling_back: entity.rolling_back(),
        now,
    };
    let ctx = &ctx;

    // Step 5, first half: the external check sees the in-flight targets.
    if let (Some(monitoring), Some(undo)) = (hooks.monitoring.as_mut(), undo.take()) {
        let in_flight: Vec<TargetView<'_>> = entity
            .targets
            .iter()
            .filter(|(_, _, t)| !desired.is_empty() && t.expected == desired)
            .map(|(group, name, t)| entity.view(group, name, t))
            .collect();
        if let Err(err) = monitoring.check(ctx, &in_flight) {
            drop(in_flight);
            undo.apply(entity);
            return Err(Error::HookFailed {
                hook: "monitoring check",
                message: err.message,
            });
        }
    }

    if desired.is_empty() {
        // Rolling back with nothing known good to go back to: hold every
        // moved target where it is until an operator sets a new version.
        halt(entity);
        advance(entity, &Tally::default());
        return Ok(());
    }

    let mut tally = monitor(entity, hooks, ctx, desired, now); // steps 4 and 5
    if judge(entity, &tally) {
        return Ok(()); // step 6: the rollback starts on the next call
    }
    let batch = entity.options.batch_size(entity.targets.len());
    remove_replaced(entity, hooks, ctx, desired, batch, &mut tally); // step 7
    if tally.in_flight < batch {
        let free = batch.saturating_sub(tally.in_flight);
        let selected = select(entity, hooks, ctx, desired, free, now); // step 8
        assign(entity, hooks, ctx, desired, &selected, &mut tally, now); // step 9
    }
    judge(entity, &tally); // step 10
    advance(entity, &tally);
    Ok(())
}

/// Step 1: every reported target is created if new, then updated.
fn record(entity: &mut Entity, reports: &[TargetReport], now: Timestamp, mut undo: Option<&mut Undo>) {
    for report in reports {
        let version = entity.versions.intern(&report.version);
        if let Some(undo) = undo.as_deref_mut() {
            let before = entity.targets.get(&report.group, &report.name).cloned();
            undo.reported.push((report.group.clone(), report.name.clone(), before));
        }
        let (lkg, options) = (entity.lkg, &entity.options);
        let target = entity
            .targets
            .get_or_insert_with(&report.group, &report.name, || Target::arriving(version, lkg, now, options));
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
            target.message = Box::from(report.message.as_str());
        }
        if *target.tags != *report.tags {
            target.tags = report.tags.clone().into_boxed_slice();
        }
    }
}

/// Step 2: a target not reported for more than 900 seconds is removed.
fn forget_zombies(entity: &mut Entity, now: Timestamp, undo: Option<&mut Undo>) {
    let limit = secs_to_ms(ZOMBIE_AFTER_SECS.unsigned_abs());
    let zombies: Vec<(String, String)> = entity
        .targets
        .iter()
        .filter(|(_, _, t)| now.saturating_sub(t.last_seen) > limit)
        .map(|(group, name, _)| (group.to_owned(), name.to_owned()))
        .collect();
    let mut forgotten = Vec::new();
    for (group, name) in zombies {
        if let Some(target) = entity.targets.remove(&group, &name) {
            forgotten.push((group, name, target));
        }
    }
    if let Some(undo) = undo {
        undo.forgotten = forgotten;
    }
}

/// Steps 4 and 5: the targets expected to run the desired version are in
/// flight; each is judged succeeded, failed or still in flight.
fn monitor(entity: &mut Entity, hooks: &mut EntityHooks, ctx: &HookContext<'_>, desired: Sym, now: Timestamp) -> Tally {
    let success_ms = entity.options.success_timeout_ms();
    let duration_ms = entity.options.duration_timeout_ms();
    let lkb = entity.lkb;
    let mut tally = Tally::default();
    let versions = &entity.versions;
    for (group, name, target) in entity.targets.iter_mut() {
        target.detail = None;
        if !lkb.is_empty() && target.expected == lkb {
            tally.expecting_bad = tally.expecting_bad.saturating_add(1);
        }
        if target.expected != desired {
            target.state = TargetState::Waiting;
            continue;
        }
        let runs = target.reported == desired;
        let mut verdict = None;
        if runs {
            if let Some(controller) = hooks.target.as_mut() {
                if let Err(err) = controller.monitor(ctx, &view(versions, group, name, target)) {
                    verdict = Some(TargetState::FailedMonitor);
                    target.detail = Some(err.message.into_boxed_str());
                }
            }
            if verdict.is_none() && !target.is_error && now.saturating_sub(target.last_message) > success_ms {
                verdict = Some(TargetState::Succeeded);
            }
        }
        // A target already judged on this assignment does not go back in
        // flight (its slot went to another target): if it is not healthy
        // now, it has failed. A deviation from the letter of the spec, see
        // the README. Otherwise, the deadline decides.
        let judged = target.state == TargetState::Succeeded || target.state.is_failed();
        if verdict.is_none() && (judged || now.saturating_sub(target.assigned) > duration_ms) {
            verdict = Some(if runs && target.is_error {
                TargetState::FailedUnhealthy
            } else {
                TargetState::FailedDeadline
            });
        }
        target.state = verdict.unwrap_or(if target.state == TargetState::RolledBack {
            TargetState::RolledBack
        } else {
            TargetState::InFlight
        });
        tally.count(target.state);
    }
    tally
}

/// Steps 6 and 10: enough failures make the rolling version last known
/// bad; otherwise enough successes make it last known good. Returns whether
/// the last known bad version changed.
///
/// An entity with no targets has shown nothing, so it judges nothing (a
/// deviation from the letter of the spec, which would call any version good
/// on an empty fleet: see the README).
fn judge(entity: &mut Entity, tally: &Tally) -> bool {
    let total = entity.targets.len();
    if total == 0 {
        return false;
    }
    let options = &entity.options;
    if tally.failed >= options.failure_threshold(total) && entity.rolling != entity.lkg {
        let changed = entity.lkb != entity.rolling;
        entity.lkb = entity.rolling;
        return changed;
    }
    if tally.succeeded >= options.success_threshold(total) && entity.rolling != entity.lkb {
        entity.lkg = entity.rolling;
    }
    false
}

/// Step 7 (blue/green): as targets on the kept version are decided, the
/// removal hook may retire as many targets that do not run it.
fn remove_replaced(
    entity: &mut Entity,
    hooks: &mut EntityHooks,
    ctx: &HookContext<'_>,
    desired: Sym,
    batch: usize,
    tally: &mut Tally,
) {
    let Some(controller) = hooks.target.as_mut() else {
        return;
    };
    let decided = tally.succeeded.saturating_add(tally.failed);
    let count = batch.min(decided.saturating_sub(tally.in_flight));
    if count == 0 {
        return;
    }
    let chosen = {
        let candidates: Vec<TargetView<'_>> = entity
            .targets
            .iter()
            .filter(|(_, _, t)| t.reported != desired)
            .map(|(group, name, t)| entity.view(group, name, t))
            .collect();
        match controller.remove(ctx, &candidates, count) {
            Ok(chosen) => chosen,
            Err(_) => return, // a failing removal hook removes nothing
        }
    };
    let mut removed = 0usize;
    let mut seen = HashSet::new();
    for id in chosen {
        if removed >= count {
            break;
        }
        let is_candidate = entity
            .targets
            .get(&id.group, &id.name)
            .is_some_and(|t| t.reported != desired);
        if !is_candidate || !seen.insert(id.clone()) {
            continue;
        }
        if let Some(target) = entity.targets.remove(&id.group, &id.name) {
            tally.uncount(target.state);
            if !entity.lkb.is_empty() && target.expected == entity.lkb {
                tally.expecting_bad = tally.expecting_bad.saturating_sub(1);
            }
            removed = removed.saturating_add(1);
        }
    }
}

/// Step 8: which available targets move now, at most `free` of them.
fn select(
    entity: &mut Entity,
    hooks: &mut EntityHooks,
    ctx: &HookContext<'_>,
    desired: Sym,
    free: usize,
    now: Timestamp,
) -> Vec<TargetId> {
    let Some(controller) = hooks.target.as_mut() else {
        return entity
            .targets
            .iter()
            .filter(|(_, _, t)| t.expected != desired)
            .take(free)
            .map(|(group, name, _)| TargetId::new(group, name))
            .collect();
    };
    let chosen = {
        let available: Vec<TargetView<'_>> = entity
            .targets
            .iter()
            .filter(|(_, _, t)| t.expected != desired)
            .map(|(group, name, t)| entity.view(group, name, t))
            .collect();
        controller.select(ctx, &available, free)
    };
    // A failing selection hook, or one that names a target without a name,
    // selects nothing.
    let chosen = match chosen {
        Ok(chosen) if chosen.iter().all(|id| !id.name.is_empty()) => chosen,
        _ => return Vec::new(),
    };
    let mut seen = HashSet::new();
    let mut selected = Vec::new();
    for id in chosen {
        if selected.len() >= free {
            break;
        }
        if !seen.insert(id.clone()) {
            continue;
        }
        // Blue/green: a machine the entity does not know yet is created.
        let (lkg, options) = (entity.lkg, &entity.options);
        entity
            .targets
            .get_or_insert_with(&id.group, &id.name, || Target::arriving(Sym::EMPTY, lkg, now, options));
        selected.push(id);
    }
    selected
}

/// Step 9: the approved selected targets get the desired version.
fn assign(
    entity: &mut Entity,
    hooks: &mut EntityHooks,
    ctx: &HookContext<'_>,
    desired: Sym,
    selected: &[TargetId],
    tally: &mut Tally,
    now: Timestamp,
) {
    if selected.is_empty() {
        return;
    }
    let approved: Vec<TargetId> = match hooks.target.as_mut() {
        None => selected.to_vec(),
        Some(controller) => {
            let views: Vec<TargetView<'_>> = selected
                .iter()
                .filter_map(|id| {
                    let target = entity.targets.get(&id.group, &id.name)?;
                    Some(entity.view(&id.group, &id.name, target))
                })
                .collect();
            let selected: HashSet<&TargetId> = selected.iter().collect();
            match controller.approve(ctx, &views) {
                Ok(approved) => approved.into_iter().filter(|id| selected.contains(id)).collect(),
                Err(_) => Vec::new(), // a failing approval hook assigns nothing
            }
        }
    };
    let approved_set: HashSet<&TargetId> = approved.iter().collect();
    let rolling_back = entity.rolling_back();
    let lkb = entity.lkb;
    for id in selected {
        let Some(target) = entity.targets.get_mut(&id.group, &id.name) else {
            continue;
        };
        if !approved_set.contains(id) {
            if target.expected != desired {
                target.state = TargetState::HeldBack;
            }
            continue;
        }
        if target.expected == desired {
            continue;
        }
        if !lkb.is_empty() && target.expected == lkb {
            tally.expecting_bad = tally.expecting_bad.saturating_sub(1);
        }
        target.expected = desired;
        target.assigned = now;
        target.state = if rolling_back {
            TargetState::RolledBack
        } else {
            TargetState::InFlight
        };
        tally.count(target.state);
    }
}

/// Step 10, second half: once the rolling version is settled, the next
/// target version starts rolling. A rollback is settled once no target is
/// still expected to run the bad version (a deviation: the letter of the
/// spec would move on after one batch; see the README).
fn advance(entity: &mut Entity, tally: &Tally) {
    let settled = if entity.rolling_back() {
        entity.lkg.is_empty() || tally.expecting_bad == 0
    } else {
        entity.rolling == entity.lkg
    };
    if settled {
        entity.rolling = entity.target_version;
    }
}

/// Rolling back with no version known good: nothing moves.
fn halt(entity: &mut Entity) {
    let lkb = entity.lkb;
    for (_, _, target) in entity.targets.iter_mut() {
        target.detail = None;
        target.state = if target.expected == lkb {
            TargetState::Halted
        } else {
            TargetState::Waiting
        };
    }
}
