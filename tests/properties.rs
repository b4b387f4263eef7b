//! Property tests over random fleets: random sizes and groups, random
//! options, random per-target behaviour, random operator actions. At every
//! step the engine's invariants hold, and an engine snapshotted and
//! restored after every step answers exactly as one that never was.

mod common;

use std::collections::HashMap;

use common::{Behaviour, Sim, SEC};
use orchestrator_engine::{Engine, RolloutOptions, TargetState};
use proptest::prelude::*;

#[derive(Debug, Clone, Copy)]
enum Op {
    Set(&'static str),
    Force(&'static str),
}

#[derive(Debug, Clone)]
struct Scenario {
    groups: Vec<usize>,
    options: RolloutOptions,
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

fn options() -> impl Strategy<Value = RolloutOptions> {
    (0u32..=100, prop_oneof![3 => Just(100u32), 1 => 0u32..=100], 0u64..=180, 0u64..=400).prop_map(
        |(batch_percent, success_percent, success_timeout_secs, extra)| RolloutOptions {
            batch_percent,
            success_percent,
            success_timeout_secs,
            duration_timeout_secs: success_timeout_secs + extra,
        },
    )
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        Just(Op::Set("v3")),
        Just(Op::Set("v2")),
        Just(Op::Set("v1")),
        Just(Op::Force("v3")),
        Just(Op::Force("v1")),
    ]
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (1usize..=500, 1usize..=4)
        .prop_flat_map(|(n, groups)| {
            (
                proptest::collection::vec(0..groups, n),
                options(),
                proptest::collection::vec((behaviour(), behaviour()), n),
                1i64..=60,
                proptest::collection::vec((0usize..60, op()), 0..3),
            )
        })
        .prop_map(|(groups, options, behaviours, step_secs, ops)| Scenario { groups, options, behaviours, step_secs, ops })
}

const STEPS: usize = 250;

fn run(scenario: &Scenario) {
    let n = scenario.groups.len();
    let mut sim = Sim::new(n, "v1");
    sim.step_ms = scenario.step_secs * SEC;
    for (i, host) in sim.hosts.iter_mut().enumerate() {
        host.group = format!("zone-{}", scenario.groups[i]);
    }
    sim.establish("v1", scenario.options);
    for (host, (on_v2, on_v3)) in sim.hosts.iter_mut().zip(&scenario.behaviours) {
        host.behaviour = HashMap::from([("v2".to_owned(), *on_v2), ("v3".to_owned(), *on_v3)]);
    }
    sim.set_version("v2");

    // The twin is restored from a snapshot after every step.
    let mut twin = Engine::restore(&sim.engine.snapshot()).unwrap();
    let options = scenario.options;
    let batch = options.batch_size(n);
    let success_ms = options.success_timeout_secs as i64 * SEC;
    let cycle = (success_ms / sim.step_ms + 3) as usize;
    let bound = (n.div_ceil(batch) + 2) * cycle + 5;

    let mut previous: Vec<String> = vec!["v1".into(); n];
    // (step it started, LKG to return to, hosts yet to get there)
    let mut rollback: Option<(usize, String, Vec<usize>)> = None;
    for step in 0..STEPS {
        for &(at, op) in &scenario.ops {
            if at == step {
                match op {
                    Op::Set(v) => {
                        sim.engine.set_target_version("prod", "app", v).unwrap();
                        twin.set_target_version("prod", "app", v).unwrap();
                    }
                    Op::Force(v) => {
                        sim.engine.force_target_version("prod", "app", v).unwrap();
                        twin.force_target_version("prod", "app", v).unwrap();
                    }
                }
            }
        }
        let before = sim.info();
        let reports = sim.reports();
        let answer = sim.engine.orchestrate("prod", "app", &reports, sim.now).unwrap();
        let twin_answer = twin.orchestrate("prod", "app", &reports, sim.now).unwrap();
        assert_eq!(answer, twin_answer, "step {step}: the restored twin answers differently");
        twin = Engine::restore(&twin.snapshot()).unwrap();
        let info = sim.info();
        assert_eq!(info, twin.rollout_info("prod", "app").unwrap());

        // At most one batch is in flight.
        let in_flight = answer.iter().filter(|e| e.reason.is_in_flight()).count();
        assert!(in_flight <= batch, "step {step}: {in_flight} in flight, batch {batch}");

        // A known-bad version is never assigned again (the operator setting
        // or forcing a version may make it good to try again).
        let operator_acted = scenario.ops.iter().any(|&(at, _)| at == step);
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

        // Every target that does what it is told reaches LKG in time.
        let started = info.last_known_bad_version != before.last_known_bad_version
            && !info.last_known_bad_version.is_empty()
            && !info.last_known_good_version.is_empty();
        if started {
            let lkg = info.last_known_good_version.clone();
            let moved = (0..n)
                .filter(|&h| sim.hosts[h].running != lkg && sim.hosts[h].behaviour(&lkg) != Behaviour::Stuck)
                .collect();
            rollback = Some((step, lkg, moved));
        }
        sim.apply(&answer);
        sim.now += sim.step_ms;
        previous = answer.into_iter().map(|e| e.version).collect();
        if let Some((start, lkg, waiting)) = &mut rollback {
            waiting.retain(|&h| sim.hosts[h].running != *lkg);
            if waiting.is_empty() {
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
        options: RolloutOptions { batch_percent: 10, success_percent: 95, success_timeout_secs: 30, duration_timeout_secs: 60 },
        behaviours: (0..500)
            .map(|i| (if i % 9 == 0 { Behaviour::Broken } else { Behaviour::Healthy }, Behaviour::Healthy))
            .collect(),
        step_secs: 10,
        ops: vec![],
    };
    run(&scenario);
}

#[test]
fn reasons_cover_the_life_of_a_rollout() {
    let mut sim = Sim::new(20, "v1");
    sim.establish("v1", RolloutOptions { batch_percent: 20, ..Default::default() });
    sim.hosts[15].behaviour.insert("v2".into(), Behaviour::Broken);
    sim.set_version("v2");
    let mut seen = std::collections::HashSet::new();
    for _ in 0..200 {
        for e in sim.step() {
            seen.insert(e.reason);
        }
    }
    for reason in [
        TargetState::Waiting,
        TargetState::InFlight,
        TargetState::Succeeded,
        TargetState::FailedUnhealthy,
        TargetState::RolledBack,
    ] {
        assert!(seen.contains(&reason), "{reason:?} never seen");
    }
}
