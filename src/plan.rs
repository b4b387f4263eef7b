//! Plans (`steps`): how many targets each step moves on a fleet of a given
//! size, and the dry-run schedule `plan` answers.
//!
//! The rounding rule, the one place it is written: a step's size is a count,
//! or a percentage of the whole fleet rounded up, and it is the number of
//! targets on the version once the step is done (cumulative, as Argo
//! Rollouts' `setWeight` and Flagger's `stepWeights` read it); never fewer
//! than the step before, never more than the fleet; the last step (which
//! must be "100%") is the whole fleet. A step whose total the steps before
//! already reached moves nothing (its bake and gate still apply).
//!
//! Snapshots written before (formats 1 to 3) read a plan as batch sizes:
//! each step moves its size more, at least 1 and never more than remain.
//! An entity restored from one keeps that meaning ([`Meaning::Increments`])
//! until its options are set with other steps, so a rollout under way goes
//! on exactly as it would have.

use serde::Serialize;

use crate::entity::Entity;
use crate::model::{secs_to_ms, Amount, PlanStep, Timestamp};

/// How a plan's sizes are read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Meaning {
    /// Each size is the total on the version once the step is done.
    #[default]
    Totals,
    /// Each size is how many more targets the step moves (formats 1 to 3).
    Increments,
}

/// How many targets step `index` moves on a fleet of `total`, counted
/// before any moved (the rest, for the last step); at least 1, so that a
/// step whose total is already reached still lets a joining target move.
pub(crate) fn step_size(steps: &[PlanStep], meaning: Meaning, index: usize, total: usize) -> usize {
    let before = if index == 0 { 0 } else { goal(steps, meaning, index.saturating_sub(1), total) };
    goal(steps, meaning, index, total).saturating_sub(before).max(1)
}

/// How many targets have moved once step `index` is through.
pub(crate) fn goal(steps: &[PlanStep], meaning: Meaning, index: usize, total: usize) -> usize {
    goals(steps.iter().take(index.saturating_add(1)), meaning, steps.len(), total).last().copied().unwrap_or(0)
}

/// The running totals of moved targets, step by step, for a plan of
/// `count` steps.
fn goals<'a>(steps: impl Iterator<Item = &'a PlanStep>, meaning: Meaning, count: usize, total: usize) -> Vec<usize> {
    let mut moved = 0usize;
    steps
        .enumerate()
        .map(|(i, step)| {
            let remain = total.saturating_sub(moved);
            moved = if i.saturating_add(1) >= count {
                total
            } else {
                match meaning {
                    Meaning::Totals => step.size.ceil_of(total).min(total).max(moved),
                    Meaning::Increments => moved.saturating_add(step.size.ceil_of(total).max(1).min(remain)),
                }
            };
            moved
        })
        .collect()
}

/// Where a step of a schedule is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Done,
    Current,
    Pending,
}

/// One step (or batch) of a schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduledStep {
    /// 0-based.
    pub index: usize,
    /// What the plan says (a count or a percentage), or the batch size.
    pub size: Amount,
    /// How many targets the step moves on this fleet.
    pub targets: usize,
    /// How many have moved once it is through.
    pub cumulative: usize,
    pub bake_secs: u64,
    pub approval: bool,
    pub status: StepStatus,
    /// The earliest time the step can start moving targets (ms), if every
    /// target reported at once and every gate were approved at once; `None`
    /// for a step already done.
    pub earliest_start: Option<Timestamp>,
}

/// What `plan` answers: the schedule of the rollout under way, or of one
/// that would start now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Schedule {
    /// The version the schedule moves the fleet to.
    pub version: String,
    /// Whether that rollout is under way (otherwise it would start now).
    pub in_progress: bool,
    /// How many targets the schedule covers: the fleet as it is now.
    pub fleet: usize,
    pub paused: bool,
    pub steps: Vec<ScheduledStep>,
    /// The earliest time the version can be judged good (ms); `None` when
    /// it will not start by itself (`needs_retry`).
    pub earliest_good: Option<Timestamp>,
    /// The version is known bad (it failed, and its targets were sent
    /// back): nothing starts until `retry()` rolls it out afresh or another
    /// version is set, so no step has a start.
    pub needs_retry: bool,
}

/// The schedule for `entity` at `now`; changes nothing.
pub(crate) fn schedule(entity: &Entity, now: Timestamp) -> Schedule {
    let options = &entity.options;
    let total = entity.targets.len();
    let in_progress = entity.rolling_out();
    let version = if in_progress { entity.rolling } else { entity.target_version };
    let needs_retry = !in_progress && version == entity.lkb && !entity.progress.retry_pending;
    let moved = if in_progress { entity.targets.all().filter(|t| t.expected == entity.rolling).count() } else { 0 };
    let plan_is_batches = options.steps.is_empty() || (in_progress && entity.progress.full);
    let plan: Vec<PlanStep> = if plan_is_batches {
        // The simple form as a plan: batches of batchPercent (all at once
        // after a full promotion), each starting once the previous one is
        // judged.
        let batch = if in_progress && entity.progress.full { total.max(1) } else { options.batch_size(total) };
        let batches = total.div_ceil(batch).max(1);
        let count = u64::try_from(batch).unwrap_or(u64::MAX);
        let mut plan = vec![PlanStep::new(Amount::Count(count)); batches];
        if let Some(last) = plan.last_mut() {
            *last = PlanStep::new(Amount::Percent(100));
        }
        plan
    } else {
        options.steps.clone()
    };
    // The simple form's batches are increments by construction.
    let meaning = if plan_is_batches { Meaning::Increments } else { entity.plan_meaning };
    let cumulative = goals(plan.iter(), meaning, plan.len(), total);
    let current = if !in_progress {
        0
    } else if options.steps.is_empty() || entity.progress.full {
        // Batches slide: the current one holds the first target not moved.
        cumulative.iter().position(|&c| c > moved).unwrap_or(plan.len().saturating_sub(1))
    } else {
        entity.progress.step
    };
    let success_ms = options.success_timeout_ms();
    let mut steps = Vec::with_capacity(plan.len());
    let mut at = now;
    let mut before = 0usize;
    for ((index, step), &through) in plan.iter().enumerate().zip(&cumulative) {
        // A version waiting for retry() has nothing under way and no start.
        let status = if needs_retry || index > current {
            StepStatus::Pending
        } else if index == current {
            StepStatus::Current
        } else {
            StepStatus::Done
        };
        let earliest_start = match status {
            _ if needs_retry => None,
            StepStatus::Done => None,
            StepStatus::Current => Some(entity.progress.started.filter(|_| in_progress).unwrap_or(now)),
            StepStatus::Pending => Some(at),
        };
        if let Some(start) = earliest_start {
            // Its targets are judged no sooner than the success timeout
            // after they start, then it bakes (unless promoted).
            let skipped = status == StepStatus::Current && entity.progress.skip_bake;
            let bake = if skipped { 0 } else { secs_to_ms(step.bake_secs) };
            let judged = match (status, entity.progress.bake_from) {
                (StepStatus::Current, Some(from)) if in_progress => from,
                _ => start.saturating_add(success_ms),
            };
            at = judged.saturating_add(bake).max(now);
        }
        steps.push(ScheduledStep {
            index,
            size: step.size,
            targets: through.saturating_sub(before),
            cumulative: through,
            bake_secs: step.bake_secs,
            approval: step.approval,
            status,
            earliest_start,
        });
        before = through;
    }
    Schedule {
        version: entity.version(version).to_owned(),
        in_progress,
        fleet: total,
        paused: entity.paused_since.is_some(),
        steps,
        earliest_good: (!needs_retry).then_some(at),
        needs_retry,
    }
}
