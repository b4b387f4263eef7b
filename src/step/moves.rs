//! Steps 7 to 9: who leaves (the removal hook), who moves (the selection
//! hook) and who is assigned the version (the approval hook).

use std::collections::HashSet;

use super::Tally;
use crate::entity::Time;
use crate::entity::{Entity, Removed, Target};
use crate::error::HookError;
use crate::hooks::{EntityHooks, HookContext, TargetView};
use crate::interner::Sym;
use crate::judgement::{Hold, Judgement};
use crate::log::EventKind;
use crate::model::{TargetId, Timestamp};

/// Step 7 (blue/green): as targets on the kept version are decided, the
/// removal hook may retire as many targets that do not run it, one for
/// each machine the selection hook created that no retirement balanced
/// yet (the surge): a fleet is replaced, never shrunk. A hook that retires
/// none of them (or cannot: it failed) keeps them: the fleet grew by its
/// choice, and that surge no longer holds the rollout; one that retires
/// some is asked again for the rest.
pub(super) fn remove_replaced(
    entity: &mut Entity,
    hooks: &mut EntityHooks,
    ctx: &HookContext<'_>,
    desired: Sym,
    batch: usize,
    tally: &mut Tally,
    now: Timestamp,
) {
    let Some(controller) = hooks.target.as_mut() else {
        return;
    };
    let decided = tally.succeeded.saturating_add(tally.failed);
    let count = batch.min(decided.saturating_sub(tally.in_flight)).min(entity.surge);
    if count == 0 {
        return;
    }
    let chosen = {
        let candidates: Vec<TargetView<'_>> =
            entity.targets.sorted().filter(|(_, _, t)| t.reported != desired).map(|(group, name, t)| entity.view(group, name, t)).collect();
        controller.remove(ctx, &candidates, count)
    };
    // A failing removal hook removes nothing, and keeps what it was offered.
    let Some(chosen) = logged(entity, "remove", desired, chosen, now) else {
        entity.surge = entity.surge.saturating_sub(count);
        return;
    };
    let mut removed = 0usize;
    let mut seen = HashSet::new();
    for id in chosen {
        if removed >= count {
            break;
        }
        let is_candidate = entity.targets.get(&id.group, &id.name).is_some_and(|t| t.reported != desired);
        if !is_candidate || !seen.insert(id.clone()) {
            continue;
        }
        if let Some(target) = entity.targets.remove(&id.group, &id.name) {
            // Step 5 counted the targets expected on the desired version by
            // their state, and the others as available.
            if target.expected == desired {
                tally.uncount(target.judgement);
            } else {
                tally.available = tally.available.saturating_sub(1);
            }
            if entity.rolling_back() && !target.expected.is_empty() && target.expected != entity.lkg {
                tally.expecting_other = tally.expecting_other.saturating_sub(1);
            }
            removed = removed.saturating_add(1);
            let detail = format!("it ran {}, replaced by {}", entity.version(target.reported), entity.version(desired));
            let capacity = entity.options.max_events;
            entity.log.push(capacity, now, EventKind::TargetRemoved, target.reported, Some(id.clone()), detail);
            entity.removed.push(Removed { id, version: target.reported });
        }
    }
    entity.surge = entity.surge.saturating_sub(if removed == 0 { count } else { removed });
}

/// A hook's answer, or `None` when it failed, which the event log then
/// says (`hook_failed`).
fn logged<T>(entity: &mut Entity, hook: &str, desired: Sym, answer: Result<T, HookError>, now: Timestamp) -> Option<T> {
    match answer {
        Ok(answer) => Some(answer),
        Err(err) => {
            entity.log.push_hook_failure(entity.options.max_events, now, desired, hook, &err);
            None
        }
    }
}

/// Step 8: which available targets move now, at most `free` of them:
/// where they are stored.
pub(super) fn select(
    entity: &mut Entity,
    hooks: &mut EntityHooks,
    ctx: &HookContext<'_>,
    desired: Sym,
    free: usize,
    now: Timestamp,
) -> Vec<usize> {
    let Some(controller) = hooks.target.as_mut() else {
        // Every target taken is assigned (no approval hook either).
        return entity.targets.take_not_expecting(desired, free);
    };
    // The hooks may approve fewer than they select: the default selection
    // cannot trust where it stopped.
    entity.targets.rewind();
    let chosen = {
        let available: Vec<TargetView<'_>> =
            entity.targets.sorted().filter(|(_, _, t)| t.expected != desired).map(|(group, name, t)| entity.view(group, name, t)).collect();
        if available.is_empty() {
            return Vec::new(); // the Go engine's `selectTargets`: nothing to select from
        }
        controller.select(ctx, &available, free)
    };
    // A failing selection hook, or one that names a target without a name,
    // selects nothing.
    let chosen = chosen.and_then(|chosen| match chosen.iter().all(|id| !id.name.is_empty()) {
        true => Ok(chosen),
        false => Err(HookError::new("it named a target without a name")),
    });
    let Some(chosen) = logged(entity, "select", desired, chosen, now) else {
        return Vec::new();
    };
    let mut selected = Vec::new();
    let mut seen = HashSet::new();
    for id in chosen {
        if selected.len() >= free {
            break;
        }
        // A target retired in this very step does not come back through
        // the selection hook either.
        if entity.removed.iter().any(|r| r.id == id) {
            continue;
        }
        // Blue/green: a machine the entity does not know yet is created
        // (after the others: no stored target moves).
        let (lkg, options) = (entity.lkg, &entity.options);
        if entity.targets.insert_if_absent(&id.group, &id.name, || Target::arriving(Sym::EMPTY, lkg, now, options)) {
            entity.surge = entity.surge.saturating_add(1);
        }
        if let Some(position) = entity.targets.position(&id.group, &id.name) {
            if seen.insert(position) {
                selected.push(position);
            }
        }
    }
    selected
}

/// Step 9: the approved selected targets (stored at `selected`) get the
/// desired version.
pub(super) fn assign(
    entity: &mut Entity,
    hooks: &mut EntityHooks,
    ctx: &HookContext<'_>,
    desired: Sym,
    selected: &[usize],
    tally: &mut Tally,
    now: Timestamp,
) {
    if selected.is_empty() {
        return;
    }
    let approved: Option<HashSet<usize>> = hooks.target.as_mut().map(|controller| {
        let answer = {
            let views: Vec<TargetView<'_>> = selected
                .iter()
                .filter_map(|&p| entity.targets.at(p))
                .map(|(group, name, target)| entity.view(group, name, target))
                .collect();
            controller.approve(ctx, &views)
        };
        // A failing approval hook assigns nothing.
        let approved = logged(entity, "approve", desired, answer, now).unwrap_or_default();
        let selected: HashSet<usize> = selected.iter().copied().collect();
        approved.iter().filter_map(|id| entity.targets.position(&id.group, &id.name)).filter(|p| selected.contains(p)).collect()
    });
    let rolling_back = entity.rolling_back();
    let lkg = entity.lkg;
    // The assigned targets, each with the version named in its event.
    let mut moved: Vec<(usize, Sym)> = Vec::with_capacity(selected.len());
    for &position in selected {
        let Some(target) = entity.targets.at_mut(position) else {
            continue;
        };
        if approved.as_ref().is_some_and(|approved| !approved.contains(&position)) {
            if target.expected != desired {
                target.hold_back(Hold::NotApproved);
            }
            continue;
        }
        if target.expected == desired {
            continue;
        }
        if rolling_back && !target.expected.is_empty() && target.expected != lkg {
            tally.expecting_other = tally.expecting_other.saturating_sub(1);
        }
        let from = target.expected;
        target.expected = desired;
        target.assigned = Time::at(now);
        target.judge(if rolling_back { Judgement::RolledBack } else { Judgement::InFlight });
        tally.count(target.judgement);
        moved.push((position, if rolling_back || !from.is_empty() { from } else { target.reported }));
    }
    if !rolling_back {
        entity.history.count(desired, moved.len(), 0, now);
        if entity.options.steps.is_empty() {
            // Without a plan, its steps are its batches.
            let batch = entity.options.batch_size(entity.targets.len());
            entity.history.batches(desired, batch, now);
        }
    }
    let capacity = entity.options.max_events;
    let skipped = entity.log.skip_overflow(capacity, moved.len());
    for &(position, from) in moved.get(skipped..).unwrap_or_default() {
        let Some((group, name, _)) = entity.targets.at(position) else {
            continue;
        };
        let from = entity.versions.resolve(from);
        let detail = if rolling_back { format!("rolled back from {from}") } else { format!("moves from {from}") };
        let id = TargetId::new(group, name);
        entity.log.push(capacity, now, EventKind::TargetAssigned, desired, Some(id), detail);
    }
}
