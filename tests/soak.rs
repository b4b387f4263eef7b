//! Soak: 10,000 orchestration steps spread over 100 entities in four
//! namespaces, each with its own fleet, options and operator, on one engine
//! that is snapshotted and restored after every single step. Each entity
//! also runs alone on an engine of its own that is never restored: the
//! shared engine must answer exactly as the lone one (namespaces and
//! entities are isolated, and a restore loses nothing), and the invariants
//! of the property tests hold at every step.

mod common;

use std::collections::HashMap;

use common::{Behaviour, Host, SEC, T0};
use orchestrator_engine::{Amount, Engine, PlanStep, RolloutOptions, TargetState};
use proptest::prelude::RngExt;
use proptest::test_runner::{RngAlgorithm, TestRng};

const NAMESPACES: [&str; 4] = ["prod", "staging", "canary", "dev"];
const ENTITIES: usize = 100;
const STEPS: usize = 10_000;
/// Virtual time per step: each entity reports about every 100 s.
const STEP_MS: i64 = SEC;

struct Lone {
    ns: &'static str,
    name: String,
    engine: Engine,
    hosts: Vec<Host>,
    options: RolloutOptions,
    next_host: usize,
    versions: usize,
    /// The rolling version when the operator last switched options: a
    /// smaller batch then may leave more in flight than it allows.
    switched: Option<String>,
    /// The last answer: what each target was told to run.
    told: HashMap<(String, String), String>,
}

fn random_options(rng: &mut TestRng) -> RolloutOptions {
    let mut options = RolloutOptions {
        batch_percent: rng.random_range(10..=50),
        success_percent: rng.random_range(60..=100),
        success_timeout_secs: rng.random_range(100..=300),
        duration_timeout_secs: 900,
        max_events: rng.random_range(20..=200),
        ..RolloutOptions::default()
    };
    match rng.random_range(0..5) {
        0 => {
            options.steps = vec![
                PlanStep { size: Amount::Count(1), bake_secs: 200, approval: false, analysis: None },
                PlanStep { size: Amount::Percent(30), bake_secs: 0, approval: rng.random_bool(0.5), analysis: None },
                PlanStep { size: Amount::Percent(100), bake_secs: 0, approval: false, analysis: None },
            ];
        }
        1 => options.max_failures = Some(Amount::Percent(10)),
        2 => options.watch_secs = 600,
        3 => options.rollback_batch_percent = Some(25),
        _ => {}
    }
    options
}

fn random_behaviour(rng: &mut TestRng) -> Behaviour {
    match rng.random_range(0..20) {
        0 => Behaviour::Broken,
        1 => Behaviour::Stuck,
        2 => Behaviour::LateFailure { after_ms: 150 * SEC },
        3 => Behaviour::Flapping { period_ms: 250 * SEC },
        _ => Behaviour::Healthy,
    }
}

fn host(rng: &mut TestRng, index: usize, version: &str, versions: usize) -> Host {
    Host {
        group: format!("zone-{}", rng.random_range(0..3)),
        name: format!("clientTarget{index}"),
        running: version.to_owned(),
        since: T0 - 3600 * SEC,
        behaviour: (2..=versions + 8).map(|v| (format!("v{v}"), random_behaviour(rng))).collect(),
    }
}

#[test]
#[cfg_attr(debug_assertions, ignore = "slow unoptimised: npm test runs it with --release (and overflow checks)")]
fn ten_thousand_steps_across_a_hundred_entities_restored_every_step() {
    let mut rng = TestRng::deterministic_rng(RngAlgorithm::ChaCha);
    let mut now = T0;
    let mut shared = Engine::new();
    let mut lone: Vec<Lone> = (0..ENTITIES)
        .map(|i| {
            let ns = NAMESPACES[i % NAMESPACES.len()];
            let name = format!("svc-{:02}", i / NAMESPACES.len());
            let options = random_options(&mut rng);
            let n = rng.random_range(3..=30);
            let hosts = (0..n).map(|h| host(&mut rng, h, "v1", 1)).collect();
            let mut engine = Engine::new();
            for e in [&mut engine, &mut shared] {
                e.set_rollout_options(ns, &name, Some(options.clone())).unwrap();
                e.set_target_version(ns, &name, "v1", now).unwrap();
            }
            Lone { ns, name, engine, hosts, options, next_host: n, versions: 1, switched: None, told: HashMap::new() }
        })
        .collect();

    let mut rollouts = 0usize;
    let mut rollbacks = 0usize;
    for step in 0..STEPS {
        now += STEP_MS;
        let i = step % ENTITIES;
        let e = &mut lone[i];
        let (ns, name) = (e.ns, e.name.clone());

        // The operator, now and then: a new version, a control, new options.
        if rng.random_bool(0.02) {
            e.versions += 1;
            let version = format!("v{}", e.versions);
            for engine in [&mut e.engine, &mut shared] {
                engine.set_target_version(ns, &name, &version, now).unwrap();
            }
        } else if rng.random_bool(0.01) {
            let which = rng.random_range(0..6);
            let a = control(&mut e.engine, ns, &name, which, now);
            let b = control(&mut shared, ns, &name, which, now);
            assert_eq!(a, b, "step {step}: control {which} on {ns}/{name}");
        } else if rng.random_bool(0.005) {
            e.options = random_options(&mut rng);
            e.switched = Some(e.engine.rollout_info(ns, &name).unwrap().rolling_version);
            for engine in [&mut e.engine, &mut shared] {
                engine.set_rollout_options(ns, &name, Some(e.options.clone())).unwrap();
            }
        }
        // The fleet changes: a host joins, or one goes silent for good.
        if rng.random_bool(0.01) {
            let running = e.engine.rollout_info(ns, &name).unwrap().last_known_good_version;
            let running = if running.is_empty() { "v1".to_owned() } else { running };
            e.hosts.push(host(&mut rng, e.next_host, &running, e.versions));
            e.next_host += 1;
        } else if rng.random_bool(0.005) && e.hosts.len() > 3 {
            let gone = rng.random_range(0..e.hosts.len());
            e.hosts.remove(gone);
        }

        let reports: Vec<_> = e.hosts.iter().map(|h| h.report(now)).collect();
        let before = e.engine.rollout_info(ns, &name).unwrap();
        let answer = e.engine.orchestrate(ns, &name, &reports, now).unwrap();
        let shared_answer = shared.orchestrate(ns, &name, &reports, now).unwrap();
        assert_eq!(answer, shared_answer, "step {step}: {ns}/{name} answers differently on the shared engine");

        // Snapshot and restore the whole shared engine, every step.
        let bytes = shared.snapshot();
        shared = Engine::restore(&bytes).unwrap();
        assert_eq!(shared.snapshot(), bytes, "step {step}: restore is not stable");

        let info = e.engine.rollout_info(ns, &name).unwrap();
        assert_eq!(info, shared.rollout_info(ns, &name).unwrap(), "step {step}");
        let events = e.engine.events(ns, &name, 0, usize::MAX).unwrap();
        assert_eq!(events, shared.events(ns, &name, 0, usize::MAX).unwrap(), "step {step}");
        assert_eq!(e.engine.history(ns, &name).unwrap(), shared.history(ns, &name).unwrap(), "step {step}");

        // Another entity, not stepped, is untouched by this one.
        let other = &lone[rng.random_range(0..ENTITIES)];
        assert_eq!(
            other.engine.expected_state(other.ns, &other.name, None).unwrap(),
            shared.expected_state(other.ns, &other.name, None).unwrap(),
            "step {step}: {}/{} changed while {ns}/{name} stepped",
            other.ns,
            other.name
        );
        let e = &mut lone[i];

        // The property tests' invariants.
        let in_flight = answer.iter().filter(|a| a.reason == TargetState::InFlight).count();
        let rolled_back = answer.iter().filter(|a| a.reason == TargetState::RolledBack).count();
        let total = answer.iter().filter(|a| a.reason != TargetState::Removed).count();
        if e.switched.as_ref() != Some(&info.rolling_version) {
            if e.options.steps.is_empty() {
                assert!(in_flight <= e.options.batch_size(total).max(1), "step {step}: {in_flight} in flight of {total}");
            }
            let pace = e.options.rollback_batch_size(total).max(1);
            assert!(rolled_back <= pace, "step {step}: {rolled_back} rolling back");
        }
        assert!(
            info.last_known_good_version.is_empty() || info.last_known_good_version != info.last_known_bad_version,
            "step {step}: {info:?}"
        );
        for a in &answer {
            assert_eq!(a.is_error, a.reason.is_failed(), "step {step}: {a:?}");
            assert!(!a.message.is_empty());
            // A known-bad version is never newly assigned.
            if !before.last_known_bad_version.is_empty() && info.last_known_bad_version == before.last_known_bad_version {
                let was = e.told.get(&(a.group.clone(), a.name.clone()));
                let ran = reports.iter().find(|r| r.name == a.name && r.group == a.group).map(|r| &r.version);
                assert!(
                    a.version != info.last_known_bad_version || was == Some(&a.version) || ran == Some(&a.version),
                    "step {step}: {} newly assigned the bad version {}",
                    a.name,
                    a.version
                );
            }
        }
        assert!(events.len() <= info.options.max_events as usize);
        assert!(events.windows(2).all(|w| w[1].seq == w[0].seq + 1), "step {step}: event gap");
        assert!(events.iter().all(|ev| ev.time <= now));
        if info.last_known_good_version != before.last_known_good_version {
            rollouts += 1;
        }
        if info.last_known_bad_version != before.last_known_bad_version && !info.last_known_bad_version.is_empty() {
            rollbacks += 1;
        }

        e.told = answer.iter().map(|a| ((a.group.clone(), a.name.clone()), a.version.clone())).collect();

        // The hosts do as they are told.
        let told: HashMap<(&str, &str), &str> = answer.iter().map(|a| ((a.group.as_str(), a.name.as_str()), a.version.as_str())).collect();
        for h in &mut e.hosts {
            if let Some(&v) = told.get(&(h.group.as_str(), h.name.as_str())) {
                if v != h.running && h.behaviour(v) != Behaviour::Stuck {
                    h.running = v.to_owned();
                    h.since = now + STEP_MS;
                }
            }
        }
    }
    // The soak went through real work, not idling.
    assert!(rollouts >= 50, "only {rollouts} versions became good");
    assert!(rollbacks >= 5, "only {rollbacks} versions became bad");
    assert_eq!(shared.namespaces().len(), NAMESPACES.len());
}

fn control(engine: &mut Engine, ns: &str, name: &str, which: u32, now: i64) -> Result<bool, String> {
    let result = match which {
        0 => engine.pause(ns, name, now),
        1 => engine.resume(ns, name, now),
        2 => engine.abort(ns, name, now),
        3 => engine.retry(ns, name, now),
        4 => engine.promote(ns, name, false, now),
        _ => engine.approve(ns, name, now),
    };
    result.map_err(|err| err.to_string())
}
