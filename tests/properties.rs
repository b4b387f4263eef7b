//! Property tests over random fleets: random sizes and groups, random
//! options, random per-target behaviour, random operator actions. At every
//! step the engine's invariants hold, and an engine snapshotted and
//! restored after every step answers exactly as one that never was.

mod common;

use std::collections::HashMap;

use common::{Behaviour, Sim, SEC};
use orchestrator_engine::{Amount, Engine, PlanStep, RolloutOptions, TargetState};
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
        .prop_map(|(size, bake_secs, approval)| PlanStep { size, bake_secs, approval })
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
            )
        })
        .prop_map(|(groups, options, other_options, behaviours, step_secs, ops)| Scenario {
            groups,
            options,
            other_options,
            behaviours,
            step_secs,
            ops,
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
    };
    match result {
        Ok(changed) => Some(changed),
        Err(err) => {
            assert_eq!(err.code(), orchestrator_engine::ErrorCode::InvalidVersion, "{op:?}: {err}");
            None
        }
    }
}

/// The plan's rounding rule, written again from the README: a step moves a
/// count or a percentage of the fleet rounded up, at least 1, never more
/// than remain; the last step moves the rest.
fn plan_goal(steps: &[PlanStep], index: usize, total: usize) -> usize {
    if index + 1 >= steps.len() {
        return total;
    }
    steps[..=index].iter().fold(0, |moved, step| {
        let size = match step.size {
            Amount::Count(n) => n as usize,
            Amount::Percent(p) => (p as usize * total).div_ceil(100),
        };
        moved + size.max(1).min(total - moved)
    })
}

fn run(scenario: &Scenario) {
    let n = scenario.groups.len();
    let mut sim = Sim::new(n, "v1");
    sim.step_ms = scenario.step_secs * SEC;
    for (i, host) in sim.hosts.iter_mut().enumerate() {
        host.group = format!("zone-{}", scenario.groups[i]);
    }
    sim.establish("v1", scenario.options.clone());
    for (host, (on_v2, on_v3)) in sim.hosts.iter_mut().zip(&scenario.behaviours) {
        host.behaviour = HashMap::from([("v2".to_owned(), *on_v2), ("v3".to_owned(), *on_v3)]);
    }
    sim.set_version("v2");

    // The twin is restored from a snapshot after every step and action.
    let mut twin = Engine::restore(&sim.engine.snapshot()).unwrap();
    let options = &scenario.options;
    let batch = options.batch_size(n);
    let rollback_batch = options.rollback_batch_size(n);
    let success_ms = options.success_timeout_secs as i64 * SEC;
    let cycle = (success_ms / sim.step_ms + 3) as usize;
    let bound = (n.div_ceil(rollback_batch) + 2) * cycle + 5;

    let mut previous: Vec<String> = vec!["v1".into(); n];
    let mut last_seq = 0u64;
    // The rolling version a full promotion let go at once.
    let mut full: Option<String> = None;
    let mut switched = false;
    let mut max_events = options.max_events;
    // (step it started, LKG to return to, hosts yet to get there)
    let mut rollback: Option<(usize, String, Vec<usize>)> = None;
    for step in 0..STEPS {
        let mut operator_acted = false;
        for &(at, op) in &scenario.ops {
            if at != step {
                continue;
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
            twin = Engine::restore(&twin.snapshot()).unwrap();
        }
        let before = sim.info();
        let reports = sim.reports();
        let answer = sim.engine.orchestrate("prod", "app", &reports, sim.now).unwrap();
        let twin_answer = twin.orchestrate("prod", "app", &reports, sim.now).unwrap();
        assert_eq!(answer, twin_answer, "step {step}: the restored twin answers differently");
        twin = Engine::restore(&twin.snapshot()).unwrap();
        let info = sim.info();
        assert_eq!(info, twin.rollout_info("prod", "app").unwrap());
        let events = sim.engine.events("prod", "app", 0, usize::MAX).unwrap();
        assert_eq!(events, twin.events("prod", "app", 0, usize::MAX).unwrap());
        assert_eq!(sim.engine.history("prod", "app").unwrap(), twin.history("prod", "app").unwrap());

        // At most one batch (or plan step) moves at once, and a rollback at
        // most its own batch.
        let in_flight = answer.iter().filter(|e| e.reason == TargetState::InFlight).count();
        let rolled_back = answer.iter().filter(|e| e.reason == TargetState::RolledBack).count();
        assert!(switched || rolled_back <= rollback_batch, "step {step}: {rolled_back} rolling back, batch {rollback_batch}");
        match info.step {
            _ if switched => {}
            Some(index) => {
                // Targets already on the version count as moved; a step
                // moves more only up to its goal.
                let moved = answer.iter().filter(|e| e.version == info.rolling_version).count();
                let already = previous.iter().filter(|v| **v == info.rolling_version).count();
                let goal = plan_goal(&options.steps, index, n);
                assert!(moved <= goal.max(already), "step {step}: {moved} moved, plan step {index} allows {goal}");
            }
            // The answer is the step's, made for the version rolling
            // before it advanced.
            None if options.steps.is_empty() && full.as_ref() != Some(&before.rolling_version) => {
                assert!(in_flight <= batch, "step {step}: {in_flight} in flight, batch {batch}");
            }
            None => {}
        }

        // Paused (or awaiting approval), nothing new moves to the rolling
        // version; rollbacks still move.
        if (before.paused && info.paused || before.awaiting_approval && info.awaiting_approval) && !operator_acted {
            for (e, was) in answer.iter().zip(&previous) {
                let moved = e.version != *was && e.version != info.last_known_good_version;
                assert!(!moved, "step {step}: {} moved to {} while held ({info:?})", e.name, e.version);
            }
        }
        for e in &answer {
            let held = matches!(e.reason, TargetState::HeldPaused | TargetState::AwaitingApproval);
            assert!(!held || info.paused || info.awaiting_approval, "step {step}: {e:?} but nothing holds");
        }

        // A known-bad version is never assigned again (the operator setting
        // or forcing a version may make it good to try again).
        if !operator_acted && !before.last_known_bad_version.is_empty() {
            for (e, was) in answer.iter().zip(&previous) {
                assert!(
                    !(e.version == before.last_known_bad_version && *was != e.version),
                    "step {step}: {} assigned the bad version {}",
                    e.name,
                    e.version
                );
            }
        }
        assert_ne!(info.last_known_good_version, info.last_known_bad_version, "step {step}");
        for e in &answer {
            assert_eq!(e.is_error, e.reason.is_failed());
            assert!(!e.message.is_empty());
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
            let moved = (0..n).filter(|&h| sim.hosts[h].running != lkg && sim.hosts[h].behaviour(&lkg) != Behaviour::Stuck).collect();
            rollback = Some((step, lkg, moved));
        }
        sim.apply(&answer);
        sim.now += sim.step_ms;
        previous = answer.into_iter().map(|e| e.version).collect();
        if let Some((start, lkg, waiting)) = &mut rollback {
            waiting.retain(|&h| sim.hosts[h].running != *lkg);
            if waiting.is_empty() || switched {
                rollback = None;
            } else {
                assert!(step - *start <= bound, "rollback from step {start}: hosts {waiting:?} not back on {lkg} after {bound} steps");
            }
        }
    }
}

proptest! {
    // PROPTEST_CASES=5000 for a long campaign; 48 keeps `npm test` quick.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(48),
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
