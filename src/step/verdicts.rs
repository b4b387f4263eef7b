//! Steps 4 to 6 and 10's verdict: each target in flight is judged (the
//! monitor hook asked), and the version with it, good or bad.

use std::collections::HashMap;

use super::Tally;
use crate::entity::Entity;
use crate::hooks::{EntityHooks, HookContext};
use crate::interner::Sym;
use crate::judgement::{Failure, Judgement};
use crate::log::EventKind;
use crate::model::{TargetId, Timestamp};

/// Steps 4 and 5: the targets expected to run the desired version are in
/// flight; each is judged succeeded, failed or still in flight. Deadlines
/// do not run while a rollout is paused.
pub(super) fn monitor(entity: &mut Entity, hooks: &mut EntityHooks, ctx: &HookContext<'_>, desired: Sym, now: Timestamp) -> Tally {
    let success_ms = entity.options.success_timeout_ms();
    let duration_ms = entity.options.duration_timeout_ms();
    let error_ms = entity.options.error_timeout_ms();
    let rolling_back = entity.rolling_back();
    let (lkg, lkb) = (entity.lkg, entity.lkb);
    let deadline_now = match entity.paused_since {
        Some(since) if !rolling_back => since.min(now),
        _ => now,
    };
    let mut tally = Tally::default();
    // Where the targets judged in this step are stored.
    let mut judged_now: Vec<usize> = Vec::new();
    let rejected = monitor_hook(entity, hooks, ctx, desired);
    let targets = &mut entity.targets;
    let rejected: Option<HashMap<usize, Sym>> =
        rejected.map(|r| r.into_iter().map(|(position, why)| (position, targets.intern_text(&why))).collect());
    // The monitor verdicts first (they live in a table beside the targets):
    // a target the hook rejected says why; one that failed on the version
    // being rolled back keeps saying so until the rollback moves it; the
    // others say nothing.
    let mut verdicts = Vec::new();
    for (position, target) in entity.targets.all().enumerate() {
        let keeps = target.expected != desired && rolling_back && target.judgement.is_failed() && target.expected == lkb;
        let held = entity.targets.detail_of_extra(target.extra);
        let why = match rejected.as_ref().and_then(|r| r.get(&position)) {
            _ if keeps => held,
            Some(&why) if target.expected == desired && target.reported == desired => why,
            _ => Sym::EMPTY,
        };
        if why != held {
            verdicts.push((position, why));
        }
    }
    for (position, why) in verdicts {
        entity.targets.set_detail(position, why);
    }
    for (position, target) in entity.targets.all_mut().enumerate() {
        if rolling_back && !target.expected.is_empty() && target.expected != lkg {
            tally.expecting_other = tally.expecting_other.saturating_add(1);
        }
        // Each step decides afresh what holds a target back.
        target.hold = None;
        if target.expected != desired {
            // A target that failed on the version being rolled back keeps
            // saying so until the rollback moves it.
            if !(rolling_back && target.judgement.is_failed() && target.expected == lkb) {
                target.judge(Judgement::Waiting);
            }
            tally.available = tally.available.saturating_add(1);
            continue;
        }
        let before = target.judgement;
        let runs = target.reported == desired;
        let mut verdict = None;
        if runs {
            if rejected.as_ref().is_some_and(|r| r.contains_key(&position)) {
                verdict = Some(Judgement::Failed(Failure::Monitor));
            }
            // A target that succeeded and still runs the version without
            // error stays succeeded: a success timeout raised since does
            // not take its success back (its report has not changed, or it
            // would have been judged on the change).
            if verdict.is_none()
                && !target.is_error
                && (now.saturating_sub(target.last_message.get()) > success_ms || before == Judgement::Succeeded)
            {
                verdict = Some(Judgement::Succeeded);
            }
        }
        // A target already judged on this assignment does not go back in
        // flight (its slot went to another target): if it is not healthy
        // now, it has failed (the flap guard; a deviation from the letter
        // of the spec, see the README). Otherwise, the deadline decides.
        // A pause stops the deadline of a target that does not run the
        // version yet; one that runs it and reports errors keeps failing
        // on time (safety is never paused).
        let judged = before.is_judged();
        let clock = if runs && target.is_error { now } else { deadline_now };
        // `errorTimeoutSecs`: a target that runs the version and has kept
        // reporting errors this long need not hold its slot until the
        // deadline (its last message time is when it turned unhealthy).
        let erroring_too_long =
            runs && target.is_error && error_ms.is_some_and(|limit| now.saturating_sub(target.last_message.get()) > limit);
        if verdict.is_none() && (judged || erroring_too_long || clock.saturating_sub(target.assigned.get()) > duration_ms) {
            verdict = Some(Judgement::Failed(if runs && target.is_error { Failure::Unhealthy } else { Failure::Deadline }));
        }
        // Undecided, a target the step moved is in flight (while rolling
        // back, on its way back; it may have been sent back by an earlier
        // rollback); one that never moved (it joined expecting the version
        // kept, or the fleet's adopted version) only waits to be judged and
        // takes no slot.
        target.judge(verdict.unwrap_or(match before {
            Judgement::RolledBack => Judgement::RolledBack,
            _ if !before.is_in_flight() => Judgement::Waiting,
            _ if rolling_back => Judgement::RolledBack,
            _ => Judgement::InFlight,
        }));
        tally.count(target.judgement);
        // Only targets that moved (or were judged) on this version make
        // events: not the ones that were on it all along.
        let moved = before.is_in_flight() || judged;
        let changed = (target.judgement == Judgement::Succeeded) != (before == Judgement::Succeeded)
            || target.judgement.is_failed() != before.is_failed();
        if moved && changed && target.judgement.is_judged() {
            judged_now.push(position);
        }
    }
    // Judged in the order stored; logged (and counted in a row) by group,
    // then name, like every list of targets the engine gives.
    entity.targets.sort_by_name(&mut judged_now);
    verdicts_logged(entity, &judged_now, desired, rolling_back, now);
    tally
}

/// Step 5's per-target monitor hook, called for every target that runs the
/// desired version in (group, name) order, as every hook sees targets (so
/// a restored engine, which stores them in another order, asks the same
/// questions in the same order): where the rejected ones are stored, with
/// why. `None` without a target controller.
fn monitor_hook(entity: &Entity, hooks: &mut EntityHooks, ctx: &HookContext<'_>, desired: Sym) -> Option<HashMap<usize, String>> {
    let controller = hooks.target.as_mut()?;
    let mut rejected = HashMap::new();
    for position in entity.targets.sorted_positions() {
        let Some((group, name, target)) = entity.targets.at(position) else {
            continue;
        };
        if target.expected != desired || target.reported != desired {
            continue;
        }
        if let Err(err) = controller.monitor(ctx, &entity.view(group, name, target)) {
            rejected.insert(position, err.to_string());
        }
    }
    Some(rejected)
}

/// Logs the verdicts on the targets stored at `positions` (in that order)
/// and counts failures in a row.
fn verdicts_logged(entity: &mut Entity, positions: &[usize], desired: Sym, rolling_back: bool, now: Timestamp) {
    let capacity = entity.options.max_events;
    let skipped = entity.log.skip_overflow(capacity, positions.len());
    let mut failures = 0usize;
    for (i, &position) in positions.iter().enumerate() {
        let Some((group, name, target)) = entity.targets.at(position) else {
            continue;
        };
        let failed = target.judgement.is_failed();
        // Only the events the log keeps are made.
        let event = (i >= skipped).then(|| {
            let (kind, detail) = if failed {
                (EventKind::TargetFailed, entity.target_message(target))
            } else {
                (EventKind::TargetSucceeded, format!("healthy on {}", entity.version(desired)))
            };
            (kind, TargetId::new(group, name), detail)
        });
        if !rolling_back {
            let in_a_row = &mut entity.progress.consecutive_failures;
            *in_a_row = if failed { in_a_row.saturating_add(1) } else { 0 };
            failures = failures.saturating_add(usize::from(failed));
        }
        if let Some((kind, id, detail)) = event {
            entity.log.push(capacity, now, kind, desired, Some(id), detail);
        }
    }
    entity.history.count(desired, 0, failures, now);
}

/// Steps 6 and 10: enough failures make the rolling version last known
/// bad (also while a good version is watched, which then rolls back to the
/// one good before it); otherwise enough successes, once a plan is done,
/// make it last known good. Returns whether the last known bad version
/// changed.
///
/// An entity with no targets has shown nothing, so it judges nothing (a
/// deviation from the letter of the spec, which would call any version good
/// on an empty fleet: see the README).
pub(super) fn judge(entity: &mut Entity, tally: &Tally, now: Timestamp) -> bool {
    if judge_bad(entity, tally, now) {
        return true;
    }
    judge_good(entity, tally, now);
    false
}

/// The first half of [`judge`]: enough failures make the rolling version
/// last known bad. Returns whether they did.
pub(super) fn judge_bad(entity: &mut Entity, tally: &Tally, now: Timestamp) -> bool {
    let total = entity.targets.len();
    if total == 0 || entity.rolling.is_empty() {
        return false;
    }
    let options = &entity.options;
    let failure_threshold = options.failure_threshold(total);
    let rolling = entity.rolling;
    let watched = entity.watched();
    let too_many = tally.failed >= failure_threshold;
    let in_a_row = options.max_consecutive_failures.filter(|&limit| entity.progress.consecutive_failures > limit);
    if (too_many || in_a_row.is_some()) && (rolling != entity.lkg || watched) {
        if entity.lkb == rolling {
            return false;
        }
        let detail = match in_a_row {
            Some(limit) if !too_many => {
                format!("{} targets failed in a row, more than maxConsecutiveFailures ({limit})", entity.progress.consecutive_failures)
            }
            _ => {
                let verb = if failure_threshold == 1 { "makes" } else { "make" };
                format!("{} of {total} targets failed; {} {verb} it bad", tally.failed, crate::answer::count(failure_threshold, "failure"))
            }
        };
        entity.judged_bad(detail, now);
        return true;
    }
    false
}

/// The second half of [`judge`]: enough successes, once a plan is done,
/// make the rolling version last known good.
fn judge_good(entity: &mut Entity, tally: &Tally, now: Timestamp) {
    let total = entity.targets.len();
    if total == 0 || !entity.rolling_out() {
        return;
    }
    let options = &entity.options;
    let plan_done = options.steps.is_empty() || entity.progress.done || entity.progress.full;
    if tally.succeeded >= options.success_threshold(total) && plan_done {
        entity.judged_good(format!("{} of {total} targets succeeded", tally.succeeded), now);
    }
}
