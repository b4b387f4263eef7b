//! Property tests over random fleets: random sizes and groups, random
//! options, random per-target behaviour, random operator actions, random
//! hooks (select, approve, remove, monitor and check, failing now and
//! then), fleets that change (joins, leaves that turn into zombies, partial
//! reports), entities with no known good version, options switched
//! mid-rollout. After every step an oracle checks what the engine promises
//! (never more than a batch or the rollback pace in flight, a version good
//! only with the successes its options require, a gate never passed
//! without approve, a known-bad version never assigned, a healthy rollout
//! finishes, a failing one rolls back), an engine snapshotted and
//! restored after every step answers exactly as one that never was, and
//! an engine fed only the entity's journal holds exactly its state.

mod common;

use std::collections::HashMap;

use common::{Behaviour, Host, Sim, SEC};
use orchestrator_engine::{
    Amount, Engine, EventKind, HookContext, HookError, MonitoringController, PlanStep, RolloutOptions, TargetController, TargetId,
    TargetState, TargetView,
};
use proptest::prelude::*;

#[derive(Debug, Clone, Copy)]
enum Op {
    Set(&'static str),
    Force(&'static str),
    Pause,
    Resume,
    Abort,
    Retry,
    Promote {
        full: bool,
    },
    Approve,
    RollbackTo(&'static str),
    /// The operator sets the scenario's other options mid-run.
    SwitchOptions,
    /// New hosts join, running the last known good version.
    Join(usize),
    /// The newest hosts stop reporting (and become zombies 900 s later).
    Leave(usize),
    /// For the next steps only every other host reports.
    Partial(usize),
}

/// Hooks whose every answer is a function of the seed, the step's time and
/// the targets asked about, so that a twin given another instance answers
/// the same. Each fails now and then.
#[derive(Debug, Clone, Copy)]
struct Hooks {
    seed: u64,
    select: bool,
    approve: bool,
    remove: bool,
    monitor: bool,
    check: bool,
}

fn mix(seed: u64, now: i64, text: &str) -> u64 {
    let mut h = seed ^ (now as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    for b in text.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3);
    }
    h ^ (h >> 29)
}

impl TargetController for Hooks {
    fn select(&mut self, ctx: &HookContext<'_>, available: &[TargetView<'_>], count: usize) -> Result<Vec<TargetId>, HookError> {
        if !self.select {
            return Ok(available.iter().take(count).map(TargetView::id).collect());
        }
        if mix(self.seed, ctx.now, "select") % 6 == 0 {
            return Err(HookError::new("selection service down"));
        }
        let mut picked: Vec<_> = available.iter().map(|t| (mix(self.seed, 0, t.name), t.id())).collect();
        picked.sort();
        let mut ids: Vec<TargetId> = picked.into_iter().map(|(_, id)| id).take(count).collect();
        // Now and then a new machine (blue/green), and garbage past count.
        if mix(self.seed, ctx.now, "create") % 9 == 0 {
            ids.insert(0, TargetId::new("zone-new", format!("green-{}", ctx.now % 1000)));
        }
        ids.push(TargetId::new("zone-0", "not-offered"));
        Ok(ids)
    }

    fn approve(&mut self, ctx: &HookContext<'_>, selected: &[TargetView<'_>]) -> Result<Vec<TargetId>, HookError> {
        if !self.approve {
            return Ok(selected.iter().map(TargetView::id).collect());
        }
        if mix(self.seed, ctx.now, "approve") % 7 == 0 {
            return Err(HookError::new("change freeze"));
        }
        Ok(selected.iter().filter(|t| mix(self.seed, ctx.now, t.name) % 4 != 0).map(TargetView::id).collect())
    }

    fn remove(&mut self, ctx: &HookContext<'_>, candidates: &[TargetView<'_>], count: usize) -> Result<Vec<TargetId>, HookError> {
        if !self.remove || mix(self.seed, ctx.now, "remove") % 3 == 0 {
            return Ok(Vec::new());
        }
        Ok(candidates.iter().rev().take(count + 1).map(TargetView::id).collect())
    }

    fn monitor(&mut self, _: &HookContext<'_>, target: &TargetView<'_>) -> Result<(), HookError> {
        // Never on v1, the safe haven every rollback returns to.
        if self.monitor && target.version != "v1" && mix(self.seed, 0, &format!("{}@{}", target.name, target.version)) % 11 == 0 {
            return Err(HookError::new("p99 over budget"));
        }
        Ok(())
    }
}

impl MonitoringController for Hooks {
    fn check(&mut self, ctx: &HookContext<'_>, _: &[TargetView<'_>]) -> Result<(), HookError> {
        if mix(self.seed, ctx.now, "check") % 13 == 0 {
            return Err(HookError::new("alerting says no"));
        }
        Ok(())
    }
}

/// Registers `hooks` on the entity of `engine` (hooks are not part of a
/// snapshot: a restored twin gets them again).
fn install(engine: &mut Engine, hooks: Option<Hooks>) {
    let Some(hooks) = hooks else {
        return;
    };
    engine.set_target_controller("prod", "app", Some(Box::new(hooks))).unwrap();
    if hooks.check {
        engine.set_monitoring_controller("prod", "app", Some(Box::new(hooks))).unwrap();
    }
}

#[derive(Debug, Clone)]
struct Scenario {
    groups: Vec<usize>,
    options: RolloutOptions,
    /// What `SwitchOptions` sets.
    other_options: RolloutOptions,
    /// Behaviour of each host on v2 and on v3 (v1 is always healthy).
    behaviours: Vec<(Behaviour, Behaviour)>,
    step_secs: i64,
    ops: Vec<(usize, Op)>,
    hooks: Option<Hooks>,
    /// No version is known good when v2 is set: the first rollout adopts
    /// what the fleet runs.
    fresh: bool,
}

fn hooks() -> impl Strategy<Value = Option<Hooks>> {
    proptest::option::weighted(
        0.35,
        (any::<u64>(), any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>(), proptest::bool::weighted(0.3))
            .prop_map(|(seed, select, approve, remove, monitor, check)| Hooks { seed, select, approve, remove, monitor, check }),
    )
}

fn behaviour() -> impl Strategy<Value = Behaviour> {
    prop_oneof![
        85 => Just(Behaviour::Healthy),
        4 => Just(Behaviour::Broken),
        3 => Just(Behaviour::Stuck),
        4 => (0i64..300).prop_map(|s| Behaviour::LateFailure { after_ms: s * SEC }),
        4 => (10i64..200).prop_map(|s| Behaviour::Flapping { period_ms: s * SEC }),
    ]
}

fn amount() -> impl Strategy<Value = Amount> {
    prop_oneof![(1u64..=20).prop_map(Amount::Count), (1u32..=60).prop_map(Amount::Percent)]
}

/// A plan of 0 (the simple form) to 4 steps, the last one "100%".
fn step() -> impl Strategy<Value = PlanStep> {
    (amount(), prop_oneof![2 => Just(0u64), 1 => 1u64..=120], proptest::bool::weighted(0.2))
        .prop_map(|(size, bake_secs, approval)| PlanStep { size, bake_secs, approval, analysis: None })
}

fn steps() -> impl Strategy<Value = Vec<PlanStep>> {
    prop_oneof![
        2 => Just(Vec::new()),
        3 => (proptest::collection::vec(step(), 0..4), step()).prop_map(|(mut steps, last)| {
            // Sizes are cumulative: counts and percentages never decrease.
            let (mut count, mut percent) = (0, 0);
            for step in &mut steps {
                match &mut step.size {
                    Amount::Count(n) => {
                        *n = (*n).max(count);
                        count = *n;
                    }
                    Amount::Percent(p) => {
                        *p = (*p).max(percent);
                        percent = *p;
                    }
                }
            }
            steps.push(PlanStep { size: Amount::Percent(100), ..last });
            steps
        }),
    ]
}

fn options() -> impl Strategy<Value = RolloutOptions> {
    (
        (0u32..=100, prop_oneof![3 => Just(100u32), 1 => 0u32..=100], 0u64..=180, 0u64..=400),
        steps(),
        proptest::option::weighted(0.3, amount()),
        proptest::option::weighted(0.2, 0u64..=5),
        prop_oneof![2 => Just(0u64), 1 => 1u64..=600],
        proptest::option::weighted(0.4, 1u32..=100),
        prop_oneof![3 => Just(1000u32), 1 => 1u32..=50],
        proptest::option::weighted(0.2, 0u64..=200),
    )
        .prop_map(
            |(
                (batch_percent, success_percent, success_timeout_secs, extra),
                steps,
                max_failures,
                max_consecutive_failures,
                watch_secs,
                rollback_batch_percent,
                max_events,
                error_timeout_secs,
            )| RolloutOptions {
                error_timeout_secs,
                batch_percent,
                success_percent,
                success_timeout_secs,
                duration_timeout_secs: success_timeout_secs + extra,
                steps,
                max_failures,
                max_consecutive_failures,
                watch_secs,
                rollback_batch_percent,
                max_events,
                analysis: None,
            },
        )
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => Just(Op::Set("v3")),
        1 => Just(Op::Set("v2")),
        1 => Just(Op::Set("v1")),
        1 => Just(Op::Force("v3")),
        1 => Just(Op::Force("v1")),
        2 => Just(Op::Pause),
        2 => Just(Op::Resume),
        1 => Just(Op::Abort),
        1 => Just(Op::Retry),
        1 => Just(Op::Promote { full: false }),
        1 => Just(Op::Promote { full: true }),
        2 => Just(Op::Approve),
        1 => Just(Op::RollbackTo("v1")),
        1 => Just(Op::RollbackTo("v2")),
        1 => Just(Op::SwitchOptions),
        1 => (1usize..=5).prop_map(Op::Join),
        1 => (1usize..=5).prop_map(Op::Leave),
        1 => (1usize..=30).prop_map(Op::Partial),
    ]
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (1usize..=500, 1usize..=4)
        .prop_flat_map(|(n, groups)| {
            (
                proptest::collection::vec(0..groups, n),
                options(),
                options(),
                proptest::collection::vec((behaviour(), behaviour()), n),
                1i64..=60,
                proptest::collection::vec((0usize..200, op()), 0..8),
                hooks(),
                proptest::bool::weighted(0.2),
            )
        })
        .prop_map(|(groups, options, other_options, behaviours, step_secs, ops, hooks, fresh)| Scenario {
            groups,
            options,
            other_options,
            behaviours,
            step_secs,
            ops,
            hooks,
            fresh,
        })
}

const STEPS: usize = 250;

/// Applies an operator action to an engine; answers whether it changed
/// anything (`None`: an error, which must change nothing either).
fn act(engine: &mut Engine, op: Op, now: i64, other: &RolloutOptions) -> Option<bool> {
    let (ns, e) = ("prod", "app");
    let result = match op {
        Op::SwitchOptions => engine.set_rollout_options(ns, e, Some(other.clone())).map(|()| true),
        Op::Set(v) => engine.set_target_version(ns, e, v, now).map(|()| true),
        Op::Force(v) => engine.force_target_version(ns, e, v, now).map(|()| true),
        Op::Pause => engine.pause(ns, e, now),
        Op::Resume => engine.resume(ns, e, now),
        Op::Abort => engine.abort(ns, e, now),
        Op::Retry => engine.retry(ns, e, now),
        Op::Promote { full } => engine.promote(ns, e, full, now),
        Op::Approve => engine.approve(ns, e, now),
        Op::RollbackTo(v) => engine.rollback_to(ns, e, v, now),
        Op::Join(_) | Op::Leave(_) | Op::Partial(_) => return Some(false),
    };
    match result {
        Ok(changed) => Some(changed),
        Err(err) => {
            assert_eq!(err.code(), orchestrator_engine::ErrorCode::InvalidVersion, "{op:?}: {err}");
            None
        }
    }
}

/// The plan's rounding rule, written again from the README: a step is the
/// total on the version once it is done, a count or a percentage of the
/// fleet rounded up, never fewer than the step before, never more than the
/// fleet; the last step is the whole fleet.
fn plan_goal(steps: &[PlanStep], index: usize, total: usize) -> usize {
    if index + 1 >= steps.len() {
        return total;
    }
    steps[..=index].iter().fold(0, |before, step| {
        let size = match step.size {
            Amount::Count(n) => n as usize,
            Amount::Percent(p) => (p as usize * total).div_ceil(100),
        };
        size.min(total).max(before)
    })
}

fn key(group: &str, name: &str) -> (String, String) {
    (group.to_owned(), name.to_owned())
}

fn run(scenario: &Scenario) {
    let n = scenario.groups.len();
    let mut sim = Sim::new(n, "v1");
    sim.step_ms = scenario.step_secs * SEC;
    for (i, host) in sim.hosts.iter_mut().enumerate() {
        host.group = format!("zone-{}", scenario.groups[i]);
    }
    if scenario.fresh {
        sim.options(scenario.options.clone());
    } else {
        sim.establish("v1", scenario.options.clone());
    }
    for (host, (on_v2, on_v3)) in sim.hosts.iter_mut().zip(&scenario.behaviours) {
        host.behaviour = HashMap::from([("v2".to_owned(), *on_v2), ("v3".to_owned(), *on_v3)]);
    }
    sim.set_version("v2");
    install(&mut sim.engine, scenario.hooks);

    // The twin is restored from a snapshot after every step and action.
    let restored = |engine: &Engine| {
        let mut twin = Engine::restore(&engine.snapshot()).unwrap();
        install(&mut twin, scenario.hooks);
        twin
    };
    let mut twin = restored(&sim.engine);
    // The follower only ever sees the entity's journal: its checkpoint,
    // then a delta after every step and action (and a new checkpoint now
    // and then), and must hold exactly the state of the entity.
    let mut follower = Engine::new();
    follower.restore_entity(&sim.engine.checkpoint_entity("prod", "app").unwrap()).unwrap();
    let mut follow = |engine: &mut Engine, step: usize| {
        if step % 37 == 36 {
            follower = Engine::new();
            follower.restore_entity(&engine.checkpoint_entity("prod", "app").unwrap()).unwrap();
        } else {
            let delta = engine.entity_delta("prod", "app").unwrap();
            follower.apply_entity_delta(&delta).unwrap();
        }
        assert_eq!(
            follower.snapshot_entity("prod", "app").unwrap(),
            engine.snapshot_entity("prod", "app").unwrap(),
            "step {step}: the journal's follower holds another state"
        );
    };
    let options = &scenario.options;
    let success_ms = options.success_timeout_secs as i64 * SEC;
    let cycle = (success_ms / sim.step_ms + 3) as usize;
    // Hooks that fail now and then slow a rollback down, and a selection
    // hook that creates machines that never report sends them back too:
    // each holds its slot until its deadline.
    let slack = if scenario.hooks.is_some() { 4 } else { 1 };
    let cycle = if scenario.hooks.is_some_and(|h| h.select) {
        cycle.max((options.duration_timeout_secs as i64 * SEC / sim.step_ms + 3) as usize)
    } else {
        cycle
    };

    let mut previous: HashMap<(String, String), String> = HashMap::new();
    let mut last_seq = 0u64;
    // The rolling version a full promotion let go at once.
    let mut full: Option<String> = None;
    let mut switched = false;
    let mut max_events = options.max_events;
    let mut partial_until = 0usize;
    let mut joined = 0usize;
    // (step it started, LKG to return to, hosts yet to get there, bound)
    let mut rollback: Option<(usize, String, Vec<String>, usize)> = None;
    for step in 0..STEPS {
        let mut operator_acted = false;
        for &(at, op) in &scenario.ops {
            if at != step {
                continue;
            }
            match op {
                Op::Join(k) => {
                    let lkg = sim.info().last_known_good_version;
                    let running = if lkg.is_empty() { "v1".to_owned() } else { lkg };
                    for _ in 0..k {
                        let name = format!("joined-{joined:03}");
                        joined += 1;
                        sim.hosts.push(Host {
                            group: "zone-0".into(),
                            name,
                            running: running.clone(),
                            since: sim.now,
                            behaviour: HashMap::new(),
                        });
                    }
                    continue;
                }
                Op::Leave(k) => {
                    let keep = sim.hosts.len().saturating_sub(k).max(1);
                    sim.hosts.truncate(keep);
                    continue;
                }
                Op::Partial(k) => {
                    partial_until = step + k;
                    continue;
                }
                _ => {}
            }
            let before = sim.engine.snapshot();
            let changed = act(&mut sim.engine, op, sim.now, &scenario.other_options);
            assert_eq!(changed, act(&mut twin, op, sim.now, &scenario.other_options), "{op:?}: the twin disagrees");
            if matches!(op, Op::SwitchOptions) {
                // Batches, plans and paces were the other options': from
                // here on only the invariants that hold under any options
                // are checked.
                switched = true;
                max_events = scenario.other_options.max_events;
            }
            if changed != Some(true) {
                // A control that does not apply, or fails, changes nothing.
                assert_eq!(sim.engine.snapshot(), before, "step {step}: {op:?} answered {changed:?} but changed the state");
            } else {
                operator_acted = true;
                rollback = None;
                if matches!(op, Op::Promote { full: true }) {
                    full = Some(sim.info().rolling_version);
                }
            }
            twin = restored(&twin);
            follow(&mut sim.engine, step);
        }
        let before = sim.info();
        let newest_before = sim.engine.events("prod", "app", 0, usize::MAX).unwrap().last().map_or(0, |e| e.seq);
        let reports: Vec<_> =
            sim.reports().into_iter().enumerate().filter(|(i, _)| step >= partial_until || i % 2 == 0).map(|(_, r)| r).collect();
        let state_before = sim.engine.snapshot();
        let result = sim.engine.orchestrate("prod", "app", &reports, sim.now);
        let twin_result = twin.orchestrate("prod", "app", &reports, sim.now);
        assert_eq!(result, twin_result, "step {step}: the restored twin answers differently");
        twin = restored(&twin);
        follow(&mut sim.engine, step);
        let answer = match result {
            Ok(answer) => answer,
            Err(err) => {
                // Only the monitoring check fails a step, and then the step
                // changed nothing.
                assert_eq!(err.code(), orchestrator_engine::ErrorCode::HookFailed, "step {step}: {err}");
                assert_eq!(sim.engine.snapshot(), state_before, "step {step}: a failed step changed the state");
                sim.now += sim.step_ms;
                continue;
            }
        };
        let info = sim.info();
        assert_eq!(info, twin.rollout_info("prod", "app").unwrap());
        let events = sim.engine.events("prod", "app", 0, usize::MAX).unwrap();
        assert_eq!(events, twin.events("prod", "app", 0, usize::MAX).unwrap());
        assert_eq!(sim.engine.history("prod", "app").unwrap(), twin.history("prod", "app").unwrap());
        // The fleet the step sized its batches on: what it knew and what
        // reported (a removal hook may then retire some of them).
        let known: std::collections::HashSet<(String, String)> =
            previous.keys().cloned().chain(reports.iter().map(|r| key(&r.group, &r.name))).collect();
        let total = answer.len().max(before.targets).max(known.len());
        let batch = options.batch_size(total);
        let rollback_batch = options.rollback_batch_size(total);

        // At most one batch (or plan step) moves at once, and a rollback at
        // most its own batch.
        let in_flight = answer.iter().filter(|e| e.reason == TargetState::InFlight).count();
        let rolled_back = answer.iter().filter(|e| e.reason == TargetState::RolledBack).count();
        // (A fleet that shrinks, zombies forgotten, may leave more moving
        // than its new batch: nothing more moves then.)
        let moved_now = |reason: TargetState| {
            answer
                .iter()
                .filter(|e| e.reason == reason && previous.get(&key(&e.group, &e.name)).is_some_and(|was| *was != e.version))
                .count()
        };
        let sent_back_now = moved_now(TargetState::RolledBack);
        assert!(
            switched || sent_back_now == 0 || rolled_back <= rollback_batch,
            "step {step}: {rolled_back} rolling back, batch {rollback_batch}"
        );
        match info.step {
            _ if switched => {}
            Some(index) => {
                // Targets already on the version count as moved; a step
                // moves more only up to its goal.
                let moved = answer.iter().filter(|e| e.version == info.rolling_version).count();
                let already = answer.iter().filter(|e| previous.get(&key(&e.group, &e.name)) == Some(&info.rolling_version)).count();
                let goal = plan_goal(&options.steps, index, total);
                assert!(moved <= goal.max(already), "step {step}: {moved} moved, plan step {index} allows {goal}");
            }
            // The answer is the step's, made for the version rolling
            // before it advanced.
            None if options.steps.is_empty() && full.as_ref() != Some(&before.rolling_version) => {
                let moved = moved_now(TargetState::InFlight);
                assert!(moved == 0 || in_flight <= batch, "step {step}: {in_flight} in flight, batch {batch}");
            }
            None => {}
        }

        // Paused (or awaiting approval), nothing new moves to the rolling
        // version; rollbacks still move.
        if (before.paused && info.paused || before.awaiting_approval && info.awaiting_approval) && !operator_acted {
            for e in &answer {
                let Some(was) = previous.get(&key(&e.group, &e.name)) else { continue };
                let moved = e.version != *was && e.version != info.last_known_good_version;
                assert!(!moved, "step {step}: {} moved to {} while held ({info:?})", e.name, e.version);
            }
        }
        for e in &answer {
            let held = matches!(e.reason, TargetState::HeldPaused | TargetState::AwaitingApproval);
            assert!(!held || info.paused || info.awaiting_approval, "step {step}: {e:?} but nothing holds");
        }

        // A known-bad version is never assigned again (the operator setting
        // or forcing a version may make it good to try again), nor by the
        // answer of the step that judged it bad to a target it sends back.
        let lkb = if operator_acted { String::new() } else { info.last_known_bad_version.clone() };
        if !lkb.is_empty() {
            for e in &answer {
                let was = previous.get(&key(&e.group, &e.name));
                assert!(
                    !(e.version == lkb && was.is_some_and(|w| *w != e.version)),
                    "step {step}: {} assigned the bad version {lkb}",
                    e.name
                );
                assert!(!(e.version == lkb && e.reason == TargetState::RolledBack), "step {step}: {e:?}");
            }
        }
        assert!(info.last_known_good_version.is_empty() || info.last_known_good_version != info.last_known_bad_version, "step {step}");
        for e in &answer {
            assert_eq!(e.is_error, e.reason.is_failed());
            assert!(!e.message.is_empty());
            assert_ne!(e.reason, TargetState::Removed, "step {step}: retired targets leave the answer");
        }

        // A version becomes good only with the successes its options
        // require (at least one unless successPercent is 0), or adopted.
        // (A version good again because the one after it went bad, or an
        // operator's rollbackTo, was judged before.)
        // The fleet it was judged on is in the verdict ("N of M targets
        // succeeded"): a selection hook may create targets after it.
        let judged_on = events
            .iter()
            .rev()
            .take_while(|e| e.seq > newest_before)
            .find(|e| e.kind == EventKind::VersionGood && !e.detail.starts_with("adopted") && e.version == info.last_known_good_version)
            .and_then(|e| e.detail.split_whitespace().nth(2).and_then(|m| m.parse::<usize>().ok()));
        if let (false, Some(fleet)) = (switched, judged_on) {
            let good = &info.last_known_good_version;
            let succeeded = answer.iter().filter(|e| e.version == *good && e.reason == TargetState::Succeeded).count();
            let required = options.success_threshold(fleet);
            assert!(succeeded >= required, "step {step}: {good} good with {succeeded} successes, {required} required");
            assert!(options.success_percent == 0 || succeeded >= 1, "step {step}: {good} good untested");
        }

        // A gate is never passed without approve (or promote): no target
        // moves to the rolling version between a gate's request and its
        // approval, and no gated step starts unapproved.
        if !switched && !options.steps.is_empty() {
            let mut waiting = false;
            let mut opened = false;
            // A log trimmed to maxEvents may have lost the approval of the
            // step under way: judge from the next event that says.
            let mut known = events.first().map_or(true, |e| e.seq == 1);
            for e in &events {
                match e.kind {
                    EventKind::ApprovalRequested => (waiting, opened, known) = (true, false, true),
                    EventKind::Approved | EventKind::Promoted => (waiting, opened, known) = (false, true, true),
                    // (Setting a version while one rolls does not touch
                    // its plan: it waits.)
                    EventKind::RollbackStarted | EventKind::Aborted | EventKind::Retried | EventKind::VersionBad => {
                        (waiting, opened, known) = (false, false, true)
                    }
                    EventKind::TargetAssigned if e.detail.starts_with("moves") => {
                        assert!(!waiting, "step {step}: {:?} moved while the gate waited", e.target);
                    }
                    EventKind::StepStarted => {
                        let number: usize = e.detail.split_whitespace().nth(1).and_then(|k| k.parse().ok()).unwrap_or(0);
                        let gated = options.steps.get(number.wrapping_sub(1)).is_some_and(|s| s.approval);
                        assert!(!known || !gated || opened, "step {step}: gated {} started without approve ({info:?})", e.detail);
                        (opened, known) = (false, true);
                    }
                    _ => {}
                }
            }
        }

        // The event log is bounded, in order, and never in the future.
        assert!(events.len() <= max_events as usize);
        assert!(events.windows(2).all(|w| w[1].seq == w[0].seq + 1), "step {step}: event gap");
        assert!(events.iter().all(|e| e.time <= sim.now));
        let newest = events.last().map_or(last_seq, |e| e.seq);
        assert!(newest >= last_seq, "step {step}: sequence numbers went back");
        last_seq = newest;
        let since = events.first().map_or(0, |e| e.seq);
        let page = sim.engine.events("prod", "app", since, 3).unwrap();
        assert_eq!(page.as_slice(), &events[1.min(events.len())..events.len().min(4)]);

        // The history has at most one open rollout: the one under way.
        let history = sim.engine.history("prod", "app").unwrap();
        let open: Vec<_> = history.iter().filter(|r| r.ended.is_none()).collect();
        assert!(open.len() <= 1, "step {step}: {open:?}");
        if let Some(open) = open.first() {
            assert_eq!(open.version, info.rolling_version, "step {step}");
        }

        // Every target that does what it is told reaches LKG in time.
        let started = info.last_known_bad_version != before.last_known_bad_version
            && !info.last_known_bad_version.is_empty()
            && !info.last_known_good_version.is_empty();
        if started {
            let lkg = info.last_known_good_version.clone();
            let moved: Vec<String> =
                sim.hosts.iter().filter(|h| h.running != lkg && h.behaviour(&lkg) != Behaviour::Stuck).map(|h| h.name.clone()).collect();
            let bound = ((total.div_ceil(rollback_batch) + 2) * cycle + 5) * slack;
            rollback = Some((step, lkg, moved, bound));
        }
        sim.apply(&answer);
        sim.now += sim.step_ms;
        previous = answer.into_iter().map(|e| (key(&e.group, &e.name), e.version)).collect();
        if let Some((start, lkg, waiting, bound)) = &mut rollback {
            waiting.retain(|name| sim.hosts.iter().any(|h| h.name == *name && h.running != *lkg));
            if waiting.is_empty() || switched || step < partial_until {
                rollback = None;
            } else {
                assert!(step - *start <= *bound, "rollback from step {start}: hosts {waiting:?} not back on {lkg} after {bound} steps");
            }
        }
    }

    // A rollout of healthy hosts with nothing in its way finishes, when
    // its schedule fits the run.
    let healthy = scenario.behaviours.iter().all(|(v2, _)| *v2 == Behaviour::Healthy);
    // A target reports the version a step after it is assigned, and
    // succeeds a step after it was healthy for the success timeout: a
    // deadline shorter than that fails even healthy targets.
    let feasible = options.duration_timeout_secs as i64 * SEC > success_ms + 2 * sim.step_ms;
    if healthy && feasible && scenario.ops.is_empty() && scenario.hooks.is_none() {
        let batches = if options.steps.is_empty() { n.div_ceil(options.batch_size(n)) } else { options.steps.len() };
        let bakes: u64 = options.steps.iter().map(|s| s.bake_secs).sum::<u64>() + options.watch_secs;
        let gated = options.steps.iter().any(|s| s.approval);
        let needed = batches * (cycle + 1) + (bakes as i64 * SEC / sim.step_ms) as usize + 10;
        if !gated && needed < STEPS {
            assert_eq!(
                sim.info().last_known_good_version,
                "v2",
                "a healthy rollout did not finish in {STEPS} steps (needs about {needed})"
            );
        }
    }
}

proptest! {
    // PROPTEST_CASES=5000 for a long campaign; 48 keeps `npm test` quick.
    #![proptest_config(ProptestConfig {
        // PROPTEST_CASES may raise the count for a campaign, never lower it.
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).map_or(48, |n: u32| n.max(48)),
        ..ProptestConfig::default()
    })]

    #[test]
    fn invariants_hold_over_random_fleets(scenario in scenario()) {
        run(&scenario);
    }
}

/// A case that exercises rollback at scale, always.
#[test]
fn a_large_failing_fleet_rolls_back_within_the_bound() {
    let scenario = Scenario {
        groups: (0..500).map(|i| i % 3).collect(),
        options: RolloutOptions {
            batch_percent: 10,
            success_percent: 95,
            success_timeout_secs: 30,
            duration_timeout_secs: 60,
            ..Default::default()
        },
        other_options: RolloutOptions::default(),
        behaviours: (0..500).map(|i| (if i % 9 == 0 { Behaviour::Broken } else { Behaviour::Healthy }, Behaviour::Healthy)).collect(),
        step_secs: 10,
        ops: vec![],
        hooks: None,
        fresh: false,
    };
    run(&scenario);
}

#[test]
fn reasons_cover_the_life_of_a_rollout() {
    let mut sim = Sim::new(20, "v1");
    // A paced rollback, so that the failed target is seen before it goes back.
    sim.establish("v1", RolloutOptions { batch_percent: 20, rollback_batch_percent: Some(20), ..Default::default() });
    sim.hosts[15].behaviour.insert("v2".into(), Behaviour::Broken);
    sim.set_version("v2");
    let mut seen = std::collections::HashSet::new();
    for _ in 0..200 {
        for e in sim.step() {
            seen.insert(e.reason);
        }
    }
    for reason in
        [TargetState::Waiting, TargetState::InFlight, TargetState::Succeeded, TargetState::FailedUnhealthy, TargetState::RolledBack]
    {
        assert!(seen.contains(&reason), "{reason:?} never seen");
    }
}
