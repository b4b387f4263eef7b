//! One orchestration step (SPEC section 2, steps 1 to 10), top to bottom.
//!
//! The caller (the engine) has validated the names; taking the report in
//! (steps 1 and 2, with its validation and undo) is `intake.rs`. The step
//! either applies whole or, when it fails, changes nothing. The judging
//! of targets and versions (steps 4 to 6) is `verdicts.rs`; who leaves,
//! moves and is assigned (steps 7 to 9) is `moves.rs`.

use crate::analysis::{run as analysis, MetricProvider};
use crate::entity::Entity;
use crate::error::Error;
use crate::hooks::{EntityHooks, HookContext, TargetView};
use crate::intake::{forget_zombies, locate, record, Undo};
use crate::interner::Sym;
use crate::judgement::{Hold, Judgement};
use crate::log::EventKind;
use crate::model::{secs_to_ms, Reported, Timestamp};
use crate::plan;

mod moves;
mod verdicts;
use moves::{assign, remove_replaced, select};
use verdicts::{judge, judge_bad, monitor};

/// What a step is told from outside its entity: the names it runs for
/// (to tell hooks and errors), and why nothing new may start, as the
/// engine found it at the step's time (the freezes of the entity and of
/// its namespace, a stopped line).
pub(crate) struct StepOf<'a> {
    pub(crate) namespace: &'a str,
    pub(crate) entity: &'a str,
    pub(crate) frozen: Option<&'a str>,
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
pub(crate) fn run(
    entity: &mut Entity,
    names: &StepOf<'_>,
    reports: &dyn Reported,
    now: Timestamp,
    mut metrics: Option<&mut (dyn MetricProvider + '_)>,
) -> Result<(), Error> {
    // The last report's positions are where to look first; they become
    // this one's.
    let mut positions = std::mem::take(&mut entity.hints);
    entity.hints_exact = None;
    locate(&entity.targets, reports, &mut positions)?;
    if entity.rolling.is_empty() && entity.target_version.is_empty() {
        return Err(Error::NoTargetVersion { namespace: names.namespace.to_owned(), entity: names.entity.to_owned() });
    }
    // Hooks live outside the state for the step, so that they can be called
    // while the targets are borrowed.
    let mut hooks = std::mem::take(&mut entity.hooks);
    // A hook that may defer may void the step once it has run: the state
    // before it is kept to go back to.
    // A measurement is asked for only when one is due: a step with none
    // costs what a step without analysis does.
    let measuring = analysis::due(entity, now);
    let metrics_defer = measuring && metrics.as_ref().is_some_and(|m| m.may_defer());
    let before = (hooks.may_defer() || metrics_defer).then(|| entity.copy_state());
    let provider = measuring.then_some(metrics.as_deref_mut());
    let result = run_with_hooks(entity, &mut hooks, names, reports, &mut positions, now, provider);
    let metrics_deferred = metrics_defer && metrics.as_mut().is_some_and(|m| m.deferred());
    if let (true, Some(before)) = (hooks.deferred() | metrics_deferred, before) {
        *entity = before;
        entity.hooks = hooks;
        return Err(Error::HookPending);
    }
    entity.hooks = hooks;
    // The next report (and an answer in the report's order) is likely in
    // the same order: where these targets are is where to look first. When
    // targets joined or left, the positions moved: they are looked up once.
    // `positions` are exact under the layout the report left (a failed
    // step may have moved targets since: they are looked up again).
    if result.as_ref().ok() != Some(&entity.targets.layout()) {
        let targets = &entity.targets;
        for (i, hint) in positions.iter_mut().enumerate() {
            let (group, name) = reports.key(i);
            *hint = targets.position(group, name).map_or(u32::MAX, |p| u32::try_from(p).unwrap_or(u32::MAX));
        }
    }
    entity.hints = positions;
    entity.hints_exact = Some(entity.targets.layout());
    // No target is held outside the entity now: messages no target
    // reports any longer can go.
    entity.targets.compact_texts();
    result.map(drop)
}

fn run_with_hooks(
    entity: &mut Entity,
    hooks: &mut EntityHooks,
    names: &StepOf<'_>,
    reports: &dyn Reported,
    positions: &mut [u32],
    now: Timestamp,
    // `Some` when a measurement is due: with the provider, if one is set.
    measuring: Option<Option<&mut (dyn MetricProvider + '_)>>,
) -> Result<u64, Error> {
    // Only a monitoring check can fail the step after it started changing
    // things; without one there is nothing to undo.
    let mut undo = hooks.monitoring.is_some().then(|| Undo { rolling: entity.rolling, phase: entity.phase, ..Undo::default() });

    record(entity, reports, positions, now, undo.as_mut()); // step 1
                                                            // Under this layout `positions` are where the reported targets are.
    let layout = entity.targets.layout();

    // A report naming every target leaves no zombie: nothing to look for.
    if reports.count() < entity.targets.len() {
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
            return Err(Error::HookFailed { hook: "monitoring check", message: err.to_string() });
        }
    }

    // The step can no longer fail: what follows is kept.
    entity.removed.clear();
    // Created machines that stopped reporting and were forgotten leave no
    // surge beyond the fleet.
    entity.surge = entity.surge.min(entity.targets.len());
    if starts {
        entity.start_rollout(now);
    }
    adopt_running_version(entity, now); // the first rollout's stable version
    end_watch(entity, now);
    if let Some(provider) = measuring {
        // Due measurements; a failed run makes the version bad here, so
        // that this step already rolls back.
        analysis::measure(entity, provider, ctx, now);
    }
    // Before the step's moves (a freeze that ended says so before what it
    // held moves), and after them (a rollout that just started is held).
    log_freeze(entity, names.frozen, now);
    rest_of_step(entity, hooks, names, now);
    log_freeze(entity, names.frozen, now);
    analysis::schedule(entity, now);
    Ok(layout)
}

/// What the hooks are told about the step.
fn context<'a>(entity: &Entity, names: &StepOf<'a>, version: &'a str, now: Timestamp) -> HookContext<'a> {
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
fn rest_of_step(entity: &mut Entity, hooks: &mut EntityHooks, names: &StepOf<'_>, now: Timestamp) {
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
        let holds = holds(entity, names.frozen);
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
            // Created machines not yet balanced by retirements hold their
            // slots until they are, in flight or not.
            None => batch.saturating_sub(tally.in_flight.max(entity.surge)),
        };
        // A selection hook that creates machines (blue/green) creates at
        // most one for each target still on another version that no
        // machine created earlier replaces yet, and (above) never more
        // than a batch or the rollback's pace beyond what was retired: a
        // rollout or a rollback replaces what it retires, and no more.
        let free = free.min(tally.available.saturating_sub(entity.surge));
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
            for target in entity.targets.all_mut() {
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
    if entity.targets.all().any(|t| !t.expected.is_empty()) {
        return;
    }
    let mut counts: Vec<(Sym, usize)> = Vec::new();
    for target in entity.targets.sorted_targets() {
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
    for target in entity.targets.all_mut() {
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
    // Machines created to replace others are not more fleet to pace by.
    let total = entity.targets.len().saturating_sub(entity.surge);
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

/// Why nothing new may move, when nothing may: a pause, or else a freeze,
/// holds a rollout (never a rollback: safety is never paused or frozen).
fn holds(entity: &Entity, frozen: Option<&str>) -> Option<Hold> {
    if entity.rolling_back() {
        return None;
    }
    if entity.paused_since.is_some() {
        return Some(Hold::Paused);
    }
    frozen.is_some().then_some(Hold::Frozen)
}

/// Logs `frozen` when a freeze began to hold the rollout under way (or
/// held it for another reason than the step before), and `unfrozen` when
/// nothing holds it any longer. Only while rolling out: a freeze holds
/// nothing else, so it is not news then (a rollout that ends or turns
/// back while frozen drops the mark without an event).
fn log_freeze(entity: &mut Entity, frozen: Option<&str>, now: Timestamp) {
    let why = frozen.filter(|_| entity.rolling_out());
    if why == entity.frozen.as_deref() {
        return;
    }
    match why.map(str::to_owned) {
        Some(why) => {
            let detail = format!("{why}: nothing new moves while it holds; rollbacks and the watch go on");
            entity.event(now, EventKind::Frozen, entity.rolling, detail);
            entity.frozen = Some(why.into());
        }
        // The rollout ended (or turned back) while frozen: no news.
        None if !entity.rolling_out() => entity.frozen = None,
        None => {
            let was = entity.frozen.take().unwrap_or_default();
            entity.event(now, EventKind::Unfrozen, entity.rolling, format!("no longer held by {was}"));
        }
    }
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
        let Some(step) = steps.get(entity.progress.step) else {
            return 0;
        };
        let (approval, bake_secs) = (step.approval, step.bake_secs);
        let index = entity.progress.step;
        let last = index.saturating_add(1) >= count;
        let goal = plan::goal(steps, entity.plan_meaning, index, total);
        // A step is never through before its targets exist (an empty fleet
        // would pass every step, gates included), and its gate holds it
        // even when the steps before already reached its total.
        if total == 0 {
            return 0;
        }
        entity.history.reached(rolling, index.saturating_add(1), now);
        if approval && !entity.progress.approved {
            if !entity.progress.requested {
                entity.progress.requested = true;
                let detail = format!("step {} of {count} waits for approve()", index.saturating_add(1));
                entity.event(now, EventKind::ApprovalRequested, rolling, detail);
            }
            return 0;
        }
        if moved < goal {
            let more = goal.saturating_sub(moved);
            if entity.progress.started.is_none() {
                entity.progress.started = Some(now);
                let noun = if more == 1 { "target" } else { "targets" };
                let detail = format!("step {} of {count}: {more} more {noun}, {goal} of {total} in all", index.saturating_add(1));
                entity.event(now, EventKind::StepStarted, rolling, detail);
            }
            return more;
        }
        entity.progress.started.get_or_insert(now);
        if tally.in_flight > 0 || entity.progress.done {
            return 0;
        }
        let bake_from = *entity.progress.bake_from.get_or_insert(now);
        // A step's analysis starts once its targets are judged, beside its
        // bake, and holds the step until it passed.
        if analysis::step_passed(entity, index, bake_from) == Some(false) {
            return 0;
        }
        if !entity.progress.skip_bake && now.saturating_sub(bake_from) < secs_to_ms(bake_secs) {
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
            // The version the rollback left, as rollback_started named it.
            let left = if entity.rolled_back_from.is_empty() { entity.lkb } else { entity.rolled_back_from };
            entity.event(now, EventKind::RollbackFinished, left, detail);
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
    for position in 0..entity.targets.len() {
        entity.targets.set_detail(position, Sym::EMPTY);
    }
    for target in entity.targets.all_mut() {
        target.judge(if target.expected == lkb { Judgement::Halted } else { Judgement::Waiting });
    }
}
