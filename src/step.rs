//! One orchestration step (SPEC section 2, steps 1 to 10), top to bottom.
//!
//! The caller (the engine) has validated the names; taking the report in
//! (steps 1 and 2, with its validation and undo) is `intake.rs`. The step
//! either applies whole or, when it fails, changes nothing.

use std::collections::{HashMap, HashSet};

use crate::entity::{Entity, Removed, Target};
use crate::error::Error;
use crate::hooks::{EntityHooks, HookContext, TargetView};
use crate::intake::{forget_zombies, locate, record, Undo};
use crate::interner::Sym;
use crate::judgement::{Failure, Hold, Judgement};
use crate::log::EventKind;
use crate::model::{secs_to_ms, ReportRef, TargetId, Timestamp};
use crate::plan;

/// Names the step is running for, to tell hooks and errors.
pub(crate) struct StepNames<'a> {
    pub(crate) namespace: &'a str,
    pub(crate) entity: &'a str,
}

/// What the step counted of the targets it judged.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    succeeded: usize,
    failed: usize,
    in_flight: usize,
    /// While rolling back, targets still expected to run a version other
    /// than the last known good one: the rollback is complete when none is
    /// left.
    expecting_other: usize,
    /// Targets not expected to run the desired version: what the default
    /// selection picks from.
    available: usize,
}

impl Tally {
    fn count(&mut self, judgement: Judgement) {
        match judgement {
            Judgement::Succeeded => self.succeeded = self.succeeded.saturating_add(1),
            j if j.is_failed() => self.failed = self.failed.saturating_add(1),
            j if j.is_in_flight() => self.in_flight = self.in_flight.saturating_add(1),
            _ => {}
        }
    }

    /// Takes back a [`Tally::count`] (a target removed after it was
    /// counted): a count that is not there is a broken invariant, which
    /// debug builds (and the tests) stop at rather than saturate past.
    fn uncount(&mut self, judgement: Judgement) {
        let counter = match judgement {
            Judgement::Succeeded => &mut self.succeeded,
            j if j.is_failed() => &mut self.failed,
            j if j.is_in_flight() => &mut self.in_flight,
            _ => return,
        };
        debug_assert!(*counter > 0, "uncounting a {judgement:?} target that was not counted");
        *counter = counter.saturating_sub(1);
    }
}

/// Runs one step on `entity` at `now`. On error nothing has changed.
pub(crate) fn run(entity: &mut Entity, names: &StepNames<'_>, reports: &[ReportRef<'_>], now: Timestamp) -> Result<(), Error> {
    let positions = locate(&entity.targets, reports, &entity.hints)?;
    if entity.rolling.is_empty() && entity.target_version.is_empty() {
        return Err(Error::NoTargetVersion { namespace: names.namespace.to_owned(), entity: names.entity.to_owned() });
    }
    // Hooks live outside the state for the step, so that they can be called
    // while the targets are borrowed.
    let mut hooks = std::mem::take(&mut entity.hooks);
    // A hook that may defer may void the step once it has run: the state
    // before it is kept to go back to.
    let before = hooks.may_defer().then(|| entity.copy_state());
    let layout = entity.targets.layout();
    let result = run_with_hooks(entity, &mut hooks, names, reports, &positions, now);
    if let (true, Some(before)) = (hooks.deferred(), before) {
        *entity = before;
        entity.hooks = hooks;
        return Err(Error::HookPending);
    }
    entity.hooks = hooks;
    // The next report (and an answer in the report's order) is likely in
    // the same order: where these targets are is where to look first. When
    // targets joined or left, the positions moved: they are looked up once.
    let hint = |p: usize| u32::try_from(p).unwrap_or(u32::MAX);
    entity.hints.clear();
    if entity.targets.layout() == layout && positions.iter().all(Option::is_some) {
        entity.hints.extend(positions.iter().map(|p| p.map_or(u32::MAX, hint)));
    } else {
        let targets = &entity.targets;
        entity.hints.extend(reports.iter().map(|r| targets.position(r.group, r.name).map_or(u32::MAX, hint)));
    }
    entity.hints_exact = Some(entity.targets.layout());
    result
}

fn run_with_hooks(
    entity: &mut Entity,
    hooks: &mut EntityHooks,
    names: &StepNames<'_>,
    reports: &[ReportRef<'_>],
    positions: &[Option<usize>],
    now: Timestamp,
) -> Result<(), Error> {
    // Only a monitoring check can fail the step after it started changing
    // things; without one there is nothing to undo.
    let mut undo = hooks.monitoring.is_some().then(|| Undo { rolling: entity.rolling, phase: entity.phase, ..Undo::default() });

    record(entity, reports, positions, now, undo.as_mut()); // step 1

    // A report naming every target leaves no zombie: nothing to look for.
    if reports.len() < entity.targets.len() {
        forget_zombies(entity, now, undo.as_mut()); // step 2
    }
    let starts = entity.rolling.is_empty();
    if starts {
        entity.roll(entity.target_version); // step 3
    }
    let desired = entity.desired();
    let version = entity.version(desired).to_owned();
    let ctx = context(entity, names, &version, now);
    let ctx = &ctx;

    // Step 5, first half: the external check sees the in-flight targets.
    if let (Some(monitoring), Some(undo)) = (hooks.monitoring.as_mut(), undo.take()) {
        let in_flight: Vec<TargetView<'_>> = entity
            .targets
            .sorted()
            .filter(|(_, _, t)| !desired.is_empty() && t.expected == desired)
            .map(|(group, name, t)| entity.view(group, name, t))
            .collect();
        if let Err(err) = monitoring.check(ctx, &in_flight) {
            drop(in_flight);
            undo.apply(entity);
            return Err(Error::HookFailed { hook: "monitoring check", message: err.message });
        }
    }

    // The step can no longer fail: what follows is kept.
    entity.removed.clear();
    if starts {
        entity.start_rollout(now);
    }
    adopt_running_version(entity, now); // the first rollout's stable version
    end_watch(entity, now);
    rest_of_step(entity, hooks, names, now);
    Ok(())
}

/// What the hooks are told about the step.
fn context<'a>(entity: &Entity, names: &StepNames<'a>, version: &'a str, now: Timestamp) -> HookContext<'a> {
    HookContext {
        namespace: names.namespace,
        entity: names.entity,
        version,
        rolling_back: entity.rolling_back(),
        step: entity.follows_plan().then_some(entity.progress.step),
        now,
    }
}

/// Steps 4 to 10, once the step can no longer fail. A version judged bad
/// (step 6, or step 10) starts rolling back in this very step, so its
/// answer already sends back the targets the rollback moves (a deviation:
/// SPEC's step 6 returns and rolls back on the next call, telling every
/// moved target to keep the bad version once more; see the README). With a
/// target controller the rollback starts on the next call, as SPEC says:
/// its hooks decide how targets go back (blue/green replaces machines
/// instead of moving them), and the Go engine's controllers expect to be
/// asked then.
fn rest_of_step(entity: &mut Entity, hooks: &mut EntityHooks, names: &StepNames<'_>, now: Timestamp) {
    // A verdict flips the entity into rolling back at most once (the
    // version is then known bad and cannot be judged bad again), so this
    // runs at most twice; the bound only documents it.
    let at_once = hooks.target.is_none();
    for _ in 0..3 {
        let desired = entity.desired();
        if desired.is_empty() {
            // Rolling back with nothing known good to go back to: hold every
            // moved target where it is until an operator sets a new version.
            halt(entity);
            advance(entity, &Tally::default(), now);
            return;
        }
        let version = entity.version(desired).to_owned();
        let ctx = context(entity, names, &version, now);
        let ctx = &ctx;
        let mut tally = monitor(entity, hooks, ctx, desired, now); // steps 4 and 5
        if judge(entity, &tally, now) {
            if at_once {
                continue; // step 6: bad; the rollback starts now
            }
            return;
        }
        let batch = batch_size(entity);
        let holds = holds(entity);
        if holds.is_none() {
            // Step 7.
            remove_replaced(entity, hooks, ctx, desired, batch, &mut tally, now);
            // Retiring targets shrinks the fleet, and with it a budget in
            // percent: a version it makes bad is bad before anything new
            // moves to it (step 10 would judge it only after step 9 had
            // handed it out). Selection and assignment only add targets
            // and in-flight ones, which never lower the failure threshold:
            // step 10 then finds no bad verdict this one did not.
            if judge_bad(entity, &tally, now) {
                if at_once {
                    continue; // bad; the rollback starts now
                }
                return;
            }
        }
        let free = match holds {
            Some(_) => 0,
            None if entity.follows_plan() => advance_plan(entity, &tally, now),
            None => batch.saturating_sub(tally.in_flight),
        };
        // Step 8: nothing new starts without a free slot and an available
        // target; a selection hook is not called either (the Go engine's
        // `selectTargets`), so a hook that creates machines creates none in
        // the steady state.
        if free > 0 && tally.available > 0 {
            let selected = select(entity, hooks, ctx, desired, free, now); // step 8
            assign(entity, hooks, ctx, desired, &selected, &mut tally, now); // step 9
        }
        // Re-read: a plan step may have just reached its gate.
        if let Some(hold) = holds.or_else(|| entity.awaiting_approval().then_some(Hold::AwaitingApproval)) {
            for (_, _, target) in entity.targets.iter_mut() {
                if target.expected != desired {
                    target.hold_back(hold);
                }
            }
        }
        if judge(entity, &tally, now) && at_once {
            continue; // step 10: bad; the rollback starts now
        }
        advance(entity, &tally, now);
        return;
    }
}

/// An entity with no last known good version whose first rollout starts
/// takes what its targets run as stable (as Argo Rollouts does), so that a
/// failing first rollout rolls back instead of halting: the version most of
/// its targets report (the first in (group, name) order on a tie) becomes
/// last known good, and every target with no expectation yet expects it
/// (as if it had been good when they arrived, SPEC step 1). Only before any
/// target was moved; an empty fleet adopts once targets report.
fn adopt_running_version(entity: &mut Entity, now: Timestamp) {
    if !entity.lkg.is_empty() || !entity.lkb.is_empty() || entity.rolling.is_empty() || entity.targets.len() == 0 {
        return;
    }
    if entity.targets.iter().any(|(_, _, t)| !t.expected.is_empty()) {
        return;
    }
    let mut counts: Vec<(Sym, usize)> = Vec::new();
    for (_, _, target) in entity.targets.sorted() {
        match counts.iter_mut().find(|(v, _)| *v == target.reported) {
            Some((_, n)) => *n = n.saturating_add(1),
            None => counts.push((target.reported, 1)),
        }
    }
    let mut best: Option<(Sym, usize)> = None;
    for &(version, n) in &counts {
        if !version.is_empty() && best.map_or(true, |(_, most)| n > most) {
            best = Some((version, n));
        }
    }
    let Some((version, n)) = best else {
        return;
    };
    for (_, _, target) in entity.targets.iter_mut() {
        target.expected = version;
        // Those that run it are the stable set, not targets that moved.
        if target.reported == version && !target.is_error {
            target.judge(Judgement::Succeeded);
        }
    }
    let total = entity.targets.len();
    let others = if counts.len() > 1 {
        format!("; the other {} are expected on it until the rollout moves them", total.saturating_sub(n))
    } else {
        String::new()
    };
    let detail = format!("adopted as last known good: {n} of {total} targets run it as the first rollout starts{others}");
    entity.adopt(version, detail, now);
}

/// How many targets may be in flight at once: the rollback's pace while
/// rolling back, the current plan step's size, or SPEC's batch.
fn batch_size(entity: &Entity) -> usize {
    let total = entity.targets.len();
    let options = &entity.options;
    if entity.rolling_back() {
        options.rollback_batch_size(total)
    } else if entity.progress.full && entity.rolling_out() {
        total.max(1)
    } else if entity.follows_plan() {
        plan::step_size(&options.steps, entity.plan_meaning, entity.progress.step, total)
    } else {
        options.batch_size(total)
    }
}

/// Why nothing new may move, when nothing may: a pause holds a rollout
/// (never a rollback: safety is never paused).
fn holds(entity: &Entity) -> Option<Hold> {
    (entity.paused_since.is_some() && !entity.rolling_back()).then_some(Hold::Paused)
}

/// The plan (`steps`): advances it as far as it may go now and answers how
/// many targets move now. Side effects: it logs `approval_requested` and
/// `step_started`, starts a step's bake and moves on to the next step. A
/// step moves its new targets (once its gate is approved); once every
/// target moved so far has been judged, its bake starts; once the bake
/// passed (or was promoted), the next step starts. The last step moves the
/// rest.
fn advance_plan(entity: &mut Entity, tally: &Tally, now: Timestamp) -> usize {
    let total = entity.targets.len();
    let moved = tally.succeeded.saturating_add(tally.failed).saturating_add(tally.in_flight);
    let rolling = entity.rolling;
    loop {
        let steps = &entity.options.steps;
        let count = steps.len();
        let Some(step) = steps.get(entity.progress.step).copied() else {
            return 0;
        };
        let index = entity.progress.step;
        let last = index.saturating_add(1) >= count;
        let goal = plan::goal(steps, entity.plan_meaning, index, total);
        // A step is never through before its targets exist (an empty fleet
        // would pass every step, gates included), and its gate holds it
        // even when the steps before already reached its total.
        if total == 0 {
            return 0;
        }
        if step.approval && !entity.progress.approved {
            if !entity.progress.requested {
                entity.progress.requested = true;
                let detail = format!("step {} of {count} waits for approve()", index.saturating_add(1));
                entity.event(now, EventKind::ApprovalRequested, rolling, detail);
            }
            return 0;
        }
        if moved < goal {
            if entity.progress.started.is_none() {
                entity.progress.started = Some(now);
                let detail = format!(
                    "step {} of {count}: {} more target(s), {goal} of {total} in all",
                    index.saturating_add(1),
                    goal.saturating_sub(moved)
                );
                entity.event(now, EventKind::StepStarted, rolling, detail);
            }
            return goal.saturating_sub(moved);
        }
        entity.progress.started.get_or_insert(now);
        if tally.in_flight > 0 || entity.progress.done {
            return 0;
        }
        let bake_from = *entity.progress.bake_from.get_or_insert(now);
        if !entity.progress.skip_bake && now.saturating_sub(bake_from) < secs_to_ms(step.bake_secs) {
            return 0;
        }
        if last {
            entity.progress.done = true;
            return 0;
        }
        entity.progress.next_step();
    }
}

/// A watched version whose window passed is simply good.
fn end_watch(entity: &mut Entity, now: Timestamp) {
    let Some(watch) = entity.watch else {
        return;
    };
    if now > watch.until || entity.lkg != watch.version {
        let why = format!("no bad verdict within {}s of becoming good", entity.options.watch_secs);
        entity.pass_watch(now, now.min(watch.until), &why);
    }
}

/// Steps 4 and 5: the targets expected to run the desired version are in
/// flight; each is judged succeeded, failed or still in flight. Deadlines
/// do not run while a rollout is paused.
fn monitor(entity: &mut Entity, hooks: &mut EntityHooks, ctx: &HookContext<'_>, desired: Sym, now: Timestamp) -> Tally {
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
    for (position, (_, _, target)) in entity.targets.iter_mut().enumerate() {
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
                target.detail = None;
            }
            tally.available = tally.available.saturating_add(1);
            continue;
        }
        target.detail = None;
        let before = target.judgement;
        let runs = target.reported == desired;
        let mut verdict = None;
        if runs {
            if let Some(why) = rejected.as_ref().and_then(|r| r.get(&position)) {
                verdict = Some(Judgement::Failed(Failure::Monitor));
                target.detail = Some(why.as_str().into());
            }
            // A target that succeeded and still runs the version without
            // error stays succeeded: a success timeout raised since does
            // not take its success back (its report has not changed, or it
            // would have been judged on the change).
            if verdict.is_none()
                && !target.is_error
                && (now.saturating_sub(target.last_message) > success_ms || before == Judgement::Succeeded)
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
        let erroring_too_long = runs && target.is_error && error_ms.is_some_and(|limit| now.saturating_sub(target.last_message) > limit);
        if verdict.is_none() && (judged || erroring_too_long || clock.saturating_sub(target.assigned) > duration_ms) {
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
            rejected.insert(position, err.message);
        }
    }
    Some(rejected)
}

/// Logs the verdicts on the targets stored at `positions` (in that order)
/// and counts failures in a row.
fn verdicts_logged(entity: &mut Entity, positions: &[usize], desired: Sym, rolling_back: bool, now: Timestamp) {
    let capacity = entity.options.max_events;
    let skipped = entity.log.skip_overflow(capacity, positions.len());
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
            let failures = &mut entity.progress.consecutive_failures;
            *failures = if failed { failures.saturating_add(1) } else { 0 };
        }
        if let Some((kind, id, detail)) = event {
            entity.log.push(capacity, now, kind, desired, Some(id), detail);
        }
    }
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
fn judge(entity: &mut Entity, tally: &Tally, now: Timestamp) -> bool {
    if judge_bad(entity, tally, now) {
        return true;
    }
    judge_good(entity, tally, now);
    false
}

/// The first half of [`judge`]: enough failures make the rolling version
/// last known bad. Returns whether they did.
fn judge_bad(entity: &mut Entity, tally: &Tally, now: Timestamp) -> bool {
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
            _ => format!("{} of {total} targets failed; {failure_threshold} failures make it bad", tally.failed),
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

/// Step 7 (blue/green): as targets on the kept version are decided, the
/// removal hook may retire as many targets that do not run it.
fn remove_replaced(
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
    let count = batch.min(decided.saturating_sub(tally.in_flight));
    if count == 0 {
        return;
    }
    let chosen = {
        let candidates: Vec<TargetView<'_>> =
            entity.targets.sorted().filter(|(_, _, t)| t.reported != desired).map(|(group, name, t)| entity.view(group, name, t)).collect();
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
}

/// Step 8: which available targets move now, at most `free` of them:
/// where they are stored.
fn select(entity: &mut Entity, hooks: &mut EntityHooks, ctx: &HookContext<'_>, desired: Sym, free: usize, now: Timestamp) -> Vec<usize> {
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
    let chosen = match chosen {
        Ok(chosen) if chosen.iter().all(|id| !id.name.is_empty()) => chosen,
        _ => return Vec::new(),
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
        entity.targets.insert_if_absent(&id.group, &id.name, || Target::arriving(Sym::EMPTY, lkg, now, options));
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
fn assign(
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
        let views: Vec<TargetView<'_>> =
            selected.iter().filter_map(|&p| entity.targets.at(p)).map(|(group, name, target)| entity.view(group, name, target)).collect();
        let selected: HashSet<usize> = selected.iter().copied().collect();
        match controller.approve(ctx, &views) {
            Ok(approved) => {
                approved.iter().filter_map(|id| entity.targets.position(&id.group, &id.name)).filter(|p| selected.contains(p)).collect()
            }
            Err(_) => HashSet::new(), // a failing approval hook assigns nothing
        }
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
        target.assigned = now;
        target.judge(if rolling_back { Judgement::RolledBack } else { Judgement::InFlight });
        tally.count(target.judgement);
        moved.push((position, if rolling_back || !from.is_empty() { from } else { target.reported }));
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

/// Step 10, second half: once the rolling version is settled (and a good
/// one has passed its watch), the next target version starts rolling. A
/// rollback is settled once no target is still expected to run another
/// version than the last known good one (a deviation: the letter of the
/// spec would move on after one batch; see the README).
fn advance(entity: &mut Entity, tally: &Tally, now: Timestamp) {
    let settled = if entity.rolling_back() {
        let finished = !entity.lkg.is_empty() && tally.expecting_other == 0;
        if finished && !entity.progress.rollback_logged {
            entity.progress.rollback_logged = true;
            let detail = format!("every moved target is expected back on {}", entity.version(entity.lkg));
            entity.event(now, EventKind::RollbackFinished, entity.lkb, detail);
        }
        if finished && entity.progress.retry_pending {
            entity.progress.retry_pending = false;
            // The retry asked for during the rollback starts now, unless
            // another version was set since.
            if entity.target_version == entity.rolling {
                entity.retry_after_rollback(now);
                return;
            }
        }
        entity.lkg.is_empty() || finished
    } else {
        entity.rolling == entity.lkg && entity.watch.is_none()
    };
    if settled && entity.rolling != entity.target_version {
        entity.roll(entity.target_version);
        entity.start_rollout(now);
    }
}

/// Rolling back with no version known good: nothing moves.
fn halt(entity: &mut Entity) {
    let lkb = entity.lkb;
    for (_, _, target) in entity.targets.iter_mut() {
        target.detail = None;
        target.judge(if target.expected == lkb { Judgement::Halted } else { Judgement::Waiting });
    }
}
