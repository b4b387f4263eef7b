//! Scenario tests: rollouts and rollbacks walked call by call in virtual
//! time, with the expected answer checked at every step.

mod common;

use common::{count, kinds, options, Behaviour, Sim, SEC, T0};
use orchestrator_engine::{Engine, RolloutOptions, TargetReport, TargetState};

#[test]
fn first_rollout_on_a_fresh_entity_adopts_what_the_fleet_runs_as_last_known_good() {
    let mut engine = Engine::new();
    engine.set_rollout_options("prod", "app", Some(options(50))).unwrap();
    engine.set_target_version("prod", "app", "v2", T0).unwrap();
    let mut reports: Vec<_> = (1..=4).map(|i| TargetReport::new(format!("host-{i}"), "v1")).collect();
    reports[3].version = "v0".into();

    // No version is known good yet: what most targets run (v1) is adopted
    // at once, every target is expected on it, and the first batch of two
    // moves to v2.
    let answer = engine.orchestrate("prod", "app", &reports, T0).unwrap();
    let versions: Vec<_> = answer.iter().map(|e| (e.name.as_str(), e.version.as_str())).collect();
    assert_eq!(versions, [("host-1", "v2"), ("host-2", "v2"), ("host-3", "v1"), ("host-4", "v1")]);
    let info = engine.rollout_info("prod", "app").unwrap();
    assert_eq!((info.last_known_good_version.as_str(), info.rolling_version.as_str()), ("v1", "v2"));
    let events = engine.events("prod", "app", 0, usize::MAX).unwrap();
    let adopted = events.iter().find(|e| e.kind == orchestrator_engine::EventKind::VersionGood).unwrap();
    assert_eq!(adopted.version, "v1");
    assert_eq!(
        adopted.detail,
        "adopted as last known good: 3 of 4 targets run it as the first rollout starts; \
         the other 1 are expected on it until the rollout moves them"
    );
    // It was good, so the operator can return to it.
    assert!(engine.rollback_to("prod", "app", "v1", T0 + SEC).unwrap());
}

#[test]
fn a_fleet_that_already_runs_the_first_target_version_is_settled_on_it() {
    let mut engine = Engine::new();
    engine.set_target_version("prod", "app", "v1", T0).unwrap();
    let reports: Vec<_> = (1..=3).map(|i| TargetReport::new(format!("host-{i}"), "v1")).collect();
    let answer = engine.orchestrate("prod", "app", &reports, T0).unwrap();
    assert!(answer.iter().all(|e| e.version == "v1"));
    let info = engine.rollout_info("prod", "app").unwrap();
    assert_eq!((info.last_known_good_version.as_str(), info.rolling_version.as_str()), ("v1", "v1"));
    let history = engine.history("prod", "app").unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!((history[0].version.as_str(), history[0].outcome), ("v1", orchestrator_engine::Outcome::Succeeded));
}

#[test]
fn an_empty_fleet_adopts_once_targets_report() {
    let mut engine = Engine::new();
    engine.set_rollout_options("prod", "app", Some(options(50))).unwrap();
    engine.set_target_version("prod", "app", "v2", T0).unwrap();
    engine.orchestrate("prod", "app", &[], T0).unwrap();
    assert_eq!(engine.rollout_info("prod", "app").unwrap().last_known_good_version, "");
    let reports: Vec<_> = (1..=2).map(|i| TargetReport::new(format!("host-{i}"), "v1")).collect();
    let answer = engine.orchestrate("prod", "app", &reports, T0 + SEC).unwrap();
    assert_eq!(engine.rollout_info("prod", "app").unwrap().last_known_good_version, "v1");
    assert_eq!(count(&answer, TargetState::InFlight), 1);
}

/// v1 -> v2 with steps every 10 s, hosts installing what they are told by
/// the next report: batch `b` (hosts `b*B..`) is assigned at step `1 + 8b`,
/// reports v2 from step `2 + 8b` and has been healthy for more than 60 s at
/// step `9 + 8b` (at step `8 + 8b` it is exactly 60 s: not yet).
fn walk_rollout(n: usize, batch_percent: u32, batch: usize) {
    let mut sim = Sim::new(n, "v1");
    sim.establish("v1", options(batch_percent));
    sim.set_version("v2");
    let last_batch = n / batch - 1;
    let done = 9 + 8 * last_batch;
    for s in 0..=done + 1 {
        let answer = sim.step();
        assert_eq!(answer.len(), n);
        for (h, e) in answer.iter().enumerate() {
            let b = h / batch;
            let want = if s == 0 {
                ("v1", TargetState::Succeeded)
            } else if s < 1 + 8 * b {
                ("v1", TargetState::Waiting)
            } else if s < 9 + 8 * b {
                ("v2", TargetState::InFlight)
            } else {
                ("v2", TargetState::Succeeded)
            };
            assert_eq!((e.version.as_str(), e.reason), want, "step {s}, {}", e.name);
            assert!(!e.is_error);
        }
        let info = sim.info();
        let lkg = if s < done { "v1" } else { "v2" };
        assert_eq!(info.last_known_good_version, lkg, "step {s}");
        assert_eq!(info.rolling_version, "v2", "step {s}");
        assert_eq!(info.last_known_bad_version, "");
    }
    assert!(sim.hosts.iter().all(|h| h.running == "v2"));
}

#[test]
fn v1_to_v2_on_10_targets_batch_by_batch() {
    walk_rollout(10, 20, 2);
}

#[test]
fn v1_to_v2_on_100_targets_batch_by_batch() {
    walk_rollout(100, 10, 10);
}

#[test]
fn in_flight_messages_say_what_the_target_waits_for() {
    let mut sim = Sim::new(4, "v1");
    sim.establish("v1", options(25));
    sim.set_version("v2");
    sim.step();
    let answer = sim.step();
    assert_eq!(answer[0].message, "in flight: asked to move from v1 to v2");
    assert_eq!(answer[1].message, "waiting for a free slot to move from v1 to v2");
    let answer = sim.step();
    assert_eq!(answer[0].message, "in flight on v2: must stay healthy for more than 60s to succeed");
}

#[test]
fn a_failing_version_becomes_last_known_bad_and_moved_targets_roll_back_in_batches() {
    // Hosts 4 and 5 (the third batch) report errors on v2. SPEC rolls
    // back at the batch pace; rollbackBatchPercent = batchPercent does
    // exactly that (the default sends every moved target back at once:
    // tests/controls.rs).
    let mut sim = Sim::new(10, "v1");
    sim.establish("v1", RolloutOptions { rollback_batch_percent: Some(20), ..options(20) });
    for h in [4, 5] {
        sim.hosts[h].behaviour.insert("v2".into(), Behaviour::Broken);
    }
    sim.set_version("v2");
    let mut answers = Vec::new();
    for _ in 0..=56 {
        answers.push(sim.step());
    }
    let at = |s: usize, h: usize| (answers[s][h].version.as_str(), answers[s][h].reason);

    // Batches 0 and 1 succeed on v2 (steps 9 and 17); batch 2 is assigned
    // at step 17, reports errors from step 18, and its deadline (120 s after
    // assignment) passes at step 30.
    assert_eq!(at(17, 2), ("v2", TargetState::Succeeded));
    assert_eq!(at(29, 4), ("v2", TargetState::InFlight));
    assert_eq!(at(30, 4), ("v2", TargetState::FailedUnhealthy));
    assert!(answers[30][4].is_error);
    assert_eq!(answers[30][4].message, "failed on v2: it reports errors: error rate above 5%");
    // Hosts 6.. were never moved: they stay on v1 (and are judged on it
    // while rolling back).
    assert_eq!(at(29, 6), ("v1", TargetState::Waiting));
    assert_eq!(at(30, 6), ("v1", TargetState::Succeeded));

    // The step that sets LKB already rolls back: from step 30 the six moved
    // hosts go back to v1, two at a time, each pair once the previous one
    // is healthy on v1 again (8 steps). The failed ones say so until their
    // turn comes.
    assert_eq!(at(30, 0), ("v1", TargetState::RolledBack));
    assert_eq!(at(37, 5), ("v2", TargetState::FailedUnhealthy));
    for (pair, assigned_at) in [(0usize, 30usize), (1, 38), (2, 46)] {
        for h in [2 * pair, 2 * pair + 1] {
            assert_ne!(at(assigned_at - 1, h).0, "v1", "host {h} moved back too early");
            assert_eq!(at(assigned_at, h), ("v1", TargetState::RolledBack), "host {h}");
            assert_eq!(at(assigned_at + 8, h), ("v1", TargetState::Succeeded), "host {h}");
        }
    }
    // Hosts never moved are never touched.
    for answer in &answers {
        for e in &answer[6..] {
            assert_eq!(e.version, "v1");
        }
    }
    // v2 is never assigned again once it is bad.
    for answer in &answers[30..] {
        assert!(answer.iter().all(|e| e.version == "v1" || e.reason != TargetState::InFlight));
    }
    let info = sim.info();
    assert_eq!(info.last_known_good_version, "v1");
    assert_eq!(info.last_known_bad_version, "v2");
    assert!(sim.hosts.iter().all(|h| h.running == "v1"));
    assert_eq!(count(&answers[56], TargetState::Succeeded), 10);
}

#[test]
fn a_version_that_is_never_installed_fails_at_its_deadline() {
    let mut sim = Sim::new(5, "v1");
    sim.establish("v1", options(20));
    sim.hosts[0].behaviour.insert("v2".into(), Behaviour::Stuck);
    sim.set_version("v2");
    let mut failed_at = None;
    for s in 0..20 {
        let answer = sim.step();
        if sim.info().last_known_bad_version == "v2" {
            failed_at = Some(s);
            // The same answer already sends it back.
            assert_eq!((answer[0].version.as_str(), answer[0].reason), ("v1", TargetState::RolledBack));
            break;
        }
    }
    // Assigned at step 1; more than 120 s later is step 14.
    assert_eq!(failed_at, Some(14));
    let events = sim.engine.events("prod", "app", 0, usize::MAX).unwrap();
    let failed = events.iter().find(|e| e.kind == orchestrator_engine::EventKind::TargetFailed).unwrap();
    assert_eq!(failed.detail, "failed on v2: it runs v1");
}

#[test]
fn a_version_set_mid_rollout_waits_until_the_current_one_settles() {
    let mut sim = Sim::new(10, "v1");
    sim.establish("v1", options(20));
    sim.set_version("v2");
    for s in 0..=41 {
        if s == 5 {
            sim.set_version("v3");
        }
        let answer = sim.step();
        assert!(answer.iter().all(|e| e.version != "v3"), "step {s}");
        let info = sim.info();
        if s < 41 {
            assert_eq!(info.rolling_version, "v2", "step {s}");
        }
    }
    // v2 became good at step 41, which also moved on to v3.
    let info = sim.info();
    assert_eq!(info.last_known_good_version, "v2");
    assert_eq!(info.rolling_version, "v3");
    assert_eq!(info.target_version, "v3");
    let answer = sim.step();
    assert_eq!(count(&answer, TargetState::InFlight), 2);
    assert_eq!(answer[0].version, "v3");
    sim.run_until(100, |s| s.info().last_known_good_version == "v3");
    assert!(sim.hosts.iter().all(|h| h.running == "v3"));
}

#[test]
fn force_target_version_rolls_the_current_rollout_back_then_rolls_out_the_forced_one() {
    let mut sim = Sim::new(10, "v1");
    sim.establish("v1", options(20));
    sim.set_version("v2");
    for _ in 0..12 {
        sim.step();
    }
    // Batch 0 succeeded on v2, batch 1 is in flight.
    let moved: Vec<usize> = (0..10).filter(|&h| sim.hosts[h].running == "v2").collect();
    assert_eq!(moved, [0, 1, 2, 3]);
    sim.engine.force_target_version("prod", "app", "v3", sim.now).unwrap();
    let info = sim.info();
    assert_eq!(info.last_known_bad_version, "v2");
    assert_eq!(info.target_version, "v3");

    // Every host's sequence of versions from now on.
    let mut seen: Vec<Vec<String>> = sim.hosts.iter().map(|h| vec![h.running.clone()]).collect();
    for _ in 0..200 {
        let answer = sim.step();
        for (h, e) in answer.iter().enumerate() {
            if seen[h].last() != Some(&e.version) {
                seen[h].push(e.version.clone());
            }
        }
        assert!(answer.iter().all(|e| e.version != "v2" || e.reason == TargetState::Waiting));
        if sim.info().last_known_good_version == "v3" {
            break;
        }
    }
    for (h, seen) in seen.iter().enumerate().take(10) {
        let want: &[&str] = if moved.contains(&h) { &["v2", "v1", "v3"] } else { &["v1", "v3"] };
        assert_eq!(seen, want, "host {h}");
    }
    let info = sim.info();
    assert_eq!(info.last_known_good_version, "v3");
    assert_eq!(info.last_known_bad_version, "v2");
    assert!(sim.hosts.iter().all(|h| h.running == "v3"));
}

#[test]
fn setting_the_bad_version_anew_retries_it_and_setting_it_again_does_not() {
    let mut sim = Sim::new(4, "v1");
    sim.establish("v1", options(50));
    sim.hosts[0].behaviour.insert("v2".into(), Behaviour::LateFailure { after_ms: 90 * SEC });
    sim.set_version("v2");
    sim.run_until(100, |s| s.info().last_known_bad_version == "v2");
    sim.run_until(100, |s| s.hosts.iter().all(|h| h.running == "v1"));
    // A controller that sets the same version every loop does not retry.
    sim.set_version("v2");
    for _ in 0..30 {
        let answer = sim.step();
        assert!(answer.iter().all(|e| e.version == "v1"));
    }
    // Changing the target to the bad version is an explicit retry.
    sim.hosts[0].behaviour.clear();
    sim.set_version("v1");
    sim.set_version("v2");
    assert_eq!(sim.info().last_known_bad_version, "");
    sim.run_until(100, |s| s.info().last_known_good_version == "v2");
    assert!(sim.hosts.iter().all(|h| h.running == "v2"));
}

#[test]
fn zombies_are_forgotten_after_900_seconds_without_a_report() {
    let mut engine = Engine::new();
    engine.set_target_version("prod", "app", "v1", T0).unwrap();
    let both = [TargetReport::new("a", "v1"), TargetReport::new("b", "v1")];
    engine.orchestrate("prod", "app", &both, T0).unwrap();
    // Only "a" reports from now on; "b" keeps its state meanwhile.
    let only_a = [TargetReport::new("a", "v1")];
    let answer = engine.orchestrate("prod", "app", &only_a, T0 + 900 * SEC).unwrap();
    assert_eq!(answer.len(), 2, "900 s is not more than 900 s");
    let answer = engine.orchestrate("prod", "app", &only_a, T0 + 900 * SEC + 1).unwrap();
    assert_eq!(answer.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(), ["a"]);
    assert_eq!(engine.rollout_info("prod", "app").unwrap().targets, 1);
}

#[test]
fn a_partial_report_leaves_the_other_targets_as_they_were() {
    let mut sim = Sim::new(6, "v1");
    sim.establish("v1", options(50));
    sim.set_version("v2");
    sim.step();
    let full = sim.step();
    // Report only the first host: the rest keep their expected state.
    let partial = vec![sim.hosts[0].report(sim.now)];
    let answer = sim.engine.orchestrate("prod", "app", &partial, sim.now).unwrap();
    assert_eq!(answer.len(), 6);
    for (a, b) in answer.iter().zip(&full).skip(1) {
        assert_eq!((&a.version, a.reason), (&b.version, b.reason));
    }
}

#[test]
fn namespaces_and_entities_are_isolated() {
    let mut engine = Engine::new();
    for (ns, v) in [("test", "v9"), ("prod", "v1")] {
        engine.set_rollout_options(ns, "app", Some(options(100))).unwrap();
        engine.set_target_version(ns, "app", v, T0).unwrap();
    }
    engine.set_target_version("prod", "db", "d1", T0).unwrap();
    let host = [TargetReport::new("host-1", "v0")];
    let test = engine.orchestrate("test", "app", &host, T0).unwrap();
    let prod = engine.orchestrate("prod", "app", &host, T0).unwrap();
    assert_eq!(test[0].version, "v9");
    assert_eq!(prod[0].version, "v1");
    assert!(engine.expected_state("prod", "db", None).unwrap().is_empty());
    assert_eq!(engine.namespaces(), ["prod", "test"]);
    assert_eq!(engine.entities("prod").unwrap(), ["app", "db"]);
    assert_eq!(engine.entities("test").unwrap(), ["app"]);
}

#[test]
fn versions_are_case_sensitive() {
    let mut sim = Sim::new(3, "v1");
    sim.establish("v1", options(100));
    sim.set_version("V1");
    sim.step();
    let answer = sim.step();
    assert!(answer.iter().all(|e| e.version == "V1" && e.reason == TargetState::InFlight));
    sim.run_until(20, |s| s.info().last_known_good_version == "V1");
    assert!(sim.hosts.iter().all(|h| h.running == "V1"));
}

#[test]
fn expected_state_of_one_group_is_an_exact_match() {
    let mut engine = Engine::new();
    engine.set_target_version("prod", "app", "v1", T0).unwrap();
    let reports =
        [TargetReport::new("a", "v1").in_group("eu"), TargetReport::new("b", "v1").in_group("eu-west"), TargetReport::new("c", "v1")];
    engine.orchestrate("prod", "app", &reports, T0).unwrap();
    let eu = engine.expected_state("prod", "app", Some("eu")).unwrap();
    assert_eq!(eu.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(), ["a"]);
    let all = engine.expected_state("prod", "app", None).unwrap();
    // Stable order: by group, then name.
    assert_eq!(all.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(), ["c", "a", "b"]);
    assert!(engine.expected_state("prod", "app", Some("us")).unwrap().is_empty());
}

#[test]
fn report_applies_the_step_without_answering() {
    let mut a = Sim::new(5, "v1");
    let mut b = Sim::new(5, "v1");
    for sim in [&mut a, &mut b] {
        sim.establish("v1", options(20));
        sim.set_version("v2");
    }
    for _ in 0..20 {
        let answer = a.step();
        let reports = b.reports();
        b.engine.report("prod", "app", &reports, b.now).unwrap();
        let read = b.engine.expected_state("prod", "app", None).unwrap();
        assert_eq!(answer, read);
        b.apply(&read);
        b.now += b.step_ms;
    }
}

#[test]
fn a_first_rollout_that_fails_rolls_back_to_what_the_fleet_ran() {
    // A new user's first hour: an empty engine, a fleet on v1, v2 set.
    let mut sim = Sim::new(3, "v1");
    sim.options(options(100));
    for h in &mut sim.hosts {
        h.behaviour.insert("v2".into(), Behaviour::Broken);
    }
    sim.set_version("v2");
    sim.run_until(30, |s| s.info().last_known_bad_version == "v2");
    let answer = sim.step();
    assert!(answer.iter().all(|e| e.version == "v1"), "{answer:?}");
    assert!(sim.hosts.iter().all(|h| h.running == "v1"));
    assert_eq!(sim.info().last_known_good_version, "v1");
    // And v1 can be returned to explicitly too.
    assert!(sim.engine.rollback_to("prod", "app", "v1", sim.now).is_ok());
}

#[test]
fn an_empty_fleet_judges_nothing() {
    let mut engine = Engine::new();
    engine.set_target_version("prod", "app", "v1", T0).unwrap();
    engine.orchestrate("prod", "app", &[], T0).unwrap();
    let info = engine.rollout_info("prod", "app").unwrap();
    assert_eq!(info.last_known_good_version, "");
    assert_eq!(info.rolling_version, "v1");
}

#[test]
fn success_percent_below_100_tolerates_failures_up_to_the_threshold() {
    // 10 hosts at 80%: 8 successes make v2 good, 2 failures make it bad.
    let mut sim = Sim::new(10, "v1");
    let opts = RolloutOptions { success_percent: 80, ..options(50) };
    sim.establish("v1", opts.clone());
    sim.hosts[0].behaviour.insert("v2".into(), Behaviour::Broken);
    sim.set_version("v2");
    sim.run_until(60, |s| s.info().last_known_good_version == "v2");
    assert_eq!(sim.info().last_known_bad_version, "");

    let mut sim = Sim::new(10, "v1");
    sim.establish("v1", opts);
    for h in [0, 1] {
        sim.hosts[h].behaviour.insert("v2".into(), Behaviour::Broken);
    }
    sim.set_version("v2");
    sim.run_until(60, |s| s.info().last_known_bad_version == "v2");
    assert_eq!(sim.info().last_known_good_version, "v1");
}

#[test]
fn a_target_that_succeeded_and_then_reports_errors_has_failed_at_once() {
    // Without this, it would go back in flight after its slot was given to
    // the next target, and more than a batch would be in flight.
    let mut sim = Sim::new(10, "v1");
    sim.establish("v1", RolloutOptions { success_percent: 80, ..options(20) });
    sim.hosts[0].behaviour.insert("v2".into(), Behaviour::LateFailure { after_ms: 75 * SEC });
    sim.set_version("v2");
    let answers: Vec<_> = (0..11).map(|_| sim.step()).collect();
    // Host 0 reports v2 from step 2, succeeds at step 9 (70 s), reports
    // errors from step 10 (80 s > 75 s): failed, well before its deadline.
    assert_eq!(answers[9][0].reason, TargetState::Succeeded);
    assert_eq!(answers[10][0].reason, TargetState::FailedUnhealthy);
    assert_eq!(count(&answers[10], TargetState::InFlight), 2, "its slot stays with batch 1");
    // 80% of 10 tolerates one failure; the rollout goes on and succeeds.
    sim.run_until(100, |s| s.info().last_known_good_version == "v2");
}

#[test]
fn raising_the_success_timeout_keeps_succeeded_targets_succeeded() {
    // A success is not taken back by a longer success timeout set after
    // it: the target's report has not changed. (Found by the benchmark's
    // settled fleet, which went from 0 s to 60 s and answered every
    // target failed_deadline.)
    let mut sim = Sim::new(10, "v1");
    sim.establish("v1", RolloutOptions { success_timeout_secs: 0, ..options(100) });
    let before = sim.step();
    assert!(before.iter().all(|e| e.reason == TargetState::Succeeded));
    sim.options(RolloutOptions { success_timeout_secs: 600, duration_timeout_secs: 1200, ..options(20) });
    let after = sim.step();
    assert!(after.iter().all(|e| e.reason == TargetState::Succeeded), "{after:?}");
    assert!(sim
        .engine
        .events("prod", "app", 0, usize::MAX)
        .unwrap()
        .iter()
        .all(|e| e.kind != orchestrator_engine::EventKind::TargetFailed));
    // A new rollout judges its targets with the new timeout.
    sim.set_version("v2");
    let answers: Vec<_> = (0..3).map(|_| sim.step()).collect();
    assert_eq!(count(&answers[2], TargetState::Waiting), 8, "only the first batch moved");
    assert_eq!(count(&answers[2], TargetState::InFlight), 2);
}

/// A step that moves or judges more targets than the event log keeps logs
/// only the newest of them, and must leave exactly what logging them all
/// would have: the bounded log is the end of an unbounded one (the same
/// sequence numbers, the same events), through a rollout, its failures
/// and the rollback.
#[test]
fn a_bounded_event_log_ends_exactly_as_an_unbounded_one() {
    let sims: Vec<Sim> = [100_000, 7]
        .into_iter()
        .map(|max_events| {
            let mut sim = Sim::new(120, "v1");
            for host in sim.hosts.iter_mut().step_by(2) {
                host.behaviour.insert("v2".into(), Behaviour::Broken);
            }
            sim.establish("v1", RolloutOptions { max_events, ..options(50) });
            sim.set_version("v2");
            sim
        })
        .collect();
    let [mut wide, mut narrow] = <[Sim; 2]>::try_from(sims).ok().unwrap();
    let mut largest_step = 0;
    let mut last = wide.engine.events("prod", "app", 0, usize::MAX).unwrap().last().map_or(0, |e| e.seq);
    for step in 0..40 {
        assert_eq!(wide.step(), narrow.step(), "step {step}");
        let all = wide.engine.events("prod", "app", 0, usize::MAX).unwrap();
        let kept = narrow.engine.events("prod", "app", 0, usize::MAX).unwrap();
        assert_eq!(kept.len(), all.len().min(7), "step {step}");
        assert_eq!(kept.as_slice(), &all[all.len() - kept.len()..], "step {step}");
        let newest = all.last().map_or(0, |e| e.seq);
        largest_step = largest_step.max(newest - last);
        last = newest;
    }
    let info = narrow.info();
    assert_eq!((info.last_known_bad_version.as_str(), info.last_known_good_version.as_str()), ("v2", "v1"));
    // Steps logged far more than the narrow log keeps: 60 targets moved at
    // once, 60 failed at once.
    assert!(largest_step >= 60, "the largest step logged {largest_step} events");
}

/// The default selection resumes where its last batch stopped; a target
/// that joins mid-rollout, named before every target already moved, is
/// moved all the same (and first: selection goes by name).
#[test]
fn a_target_joining_mid_rollout_before_the_moved_ones_is_moved_too() {
    let mut sim = Sim::new(10, "v1");
    let late = sim.hosts.remove(0);
    sim.establish("v1", options(20));
    sim.set_version("v2");
    for _ in 0..3 {
        sim.step();
    }
    let moved = |answer: &[orchestrator_engine::ExpectedState]| -> Vec<String> {
        answer.iter().filter(|e| e.reason == TargetState::InFlight && e.version == "v2").map(|e| e.name.clone()).collect()
    };
    let before = moved(&sim.engine.expected_state("prod", "app", None).unwrap());
    assert!(!before.is_empty() && before.iter().all(|n| n.as_str() > "host-000"), "{before:?}");
    sim.hosts.insert(0, late);
    sim.run_until(200, |s| s.info().last_known_good_version == "v2");
    assert!(sim.hosts.iter().all(|h| h.running == "v2"));
}

/// `errorTimeoutSecs`: a crash-looping target fails once it has reported
/// errors on the version for more than that, not at the deadline; the
/// edge is exact (at the limit it is still in flight).
#[test]
fn an_error_timeout_fails_a_crash_looping_target_without_waiting_for_the_deadline() {
    for error_timeout_secs in [Some(30), None] {
        let mut engine = Engine::new();
        let opts = RolloutOptions {
            batch_percent: 100,
            success_timeout_secs: 60,
            duration_timeout_secs: 600,
            error_timeout_secs,
            max_failures: Some(orchestrator_engine::Amount::Count(1)),
            ..RolloutOptions::default()
        };
        engine.set_rollout_options("prod", "app", Some(opts)).unwrap();
        engine.set_target_version("prod", "app", "v2", T0).unwrap();
        let on = |version: &str, error: bool| {
            (1..=3)
                .map(|i| {
                    let mut r = TargetReport::new(format!("host-{i}"), version);
                    r.is_error = error && i == 1;
                    r
                })
                .collect::<Vec<_>>()
        };
        // v1 adopted, every host assigned v2; host-1 comes up erroring.
        engine.orchestrate("prod", "app", &on("v1", false), T0).unwrap();
        let start = T0 + SEC;
        engine.orchestrate("prod", "app", &on("v2", true), start).unwrap();
        let at = |engine: &mut Engine, t: i64| engine.orchestrate("prod", "app", &on("v2", true), t).unwrap()[0].reason;
        assert_eq!(at(&mut engine, start + 30 * SEC), TargetState::InFlight);
        let just_past = at(&mut engine, start + 30 * SEC + 1);
        match error_timeout_secs {
            Some(_) => assert_eq!(just_past, TargetState::FailedUnhealthy),
            None => {
                assert_eq!(just_past, TargetState::InFlight);
                // Without it, only the deadline (600 s after assignment at T0).
                assert_eq!(at(&mut engine, T0 + 600 * SEC), TargetState::InFlight);
                assert_eq!(at(&mut engine, T0 + 600 * SEC + 1), TargetState::FailedUnhealthy);
            }
        }
    }
}

/// The call that judges a version bad already sends its moved targets
/// back: no answer from that step on names the bad version for them.
#[test]
fn the_answer_that_judges_a_version_bad_already_rolls_back() {
    let mut sim = Sim::new(10, "v1");
    sim.establish("v1", options(50));
    for h in &mut sim.hosts {
        h.behaviour.insert("v2".into(), Behaviour::Broken);
    }
    sim.set_version("v2");
    loop {
        let answer = sim.step();
        if sim.info().last_known_bad_version == "v2" {
            assert!(answer.iter().all(|e| e.version == "v1"), "{answer:?}");
            let moved_back = answer.iter().filter(|e| e.reason == TargetState::RolledBack).count();
            assert_eq!(moved_back, 5);
            break;
        }
        assert!(sim.now < T0 + 3600 * SEC);
    }
}

/// The phase in one word follows the rollout: new, rolling out, watching,
/// rolled out; then a bad version is rolling back until every target it
/// moved is back on the good one and judged healthy there (not merely
/// expected back), and only then rolled back.
#[test]
fn the_phase_says_where_the_rollout_is_and_a_rollback_ends_when_every_target_is_back_and_healthy() {
    use orchestrator_engine::RolloutPhase;
    let mut sim = Sim::new(10, "v1");
    assert!(sim.engine.rollout_info(&sim.ns, &sim.entity).is_err(), "no entity yet");
    sim.options(RolloutOptions { watch_secs: 60, ..options(50) });
    assert_eq!(sim.info().phase, RolloutPhase::New);
    sim.set_version("v1");
    sim.run_until(10, |s| s.info().last_known_good_version == "v1");
    sim.set_version("v2");
    sim.step();
    assert_eq!(sim.info().phase, RolloutPhase::RollingOut);
    sim.run_until(100, |s| s.info().last_known_good_version == "v2");
    assert_eq!(sim.info().phase, RolloutPhase::Watching);
    sim.run_until(100, |s| s.info().watch_until.is_none());
    assert_eq!(sim.info().phase, RolloutPhase::RolledOut);

    for h in &mut sim.hosts {
        h.behaviour.insert("v3".into(), Behaviour::Broken);
    }
    sim.set_version("v3");
    sim.run_until(100, |s| s.info().last_known_bad_version == "v3");
    let mut phases = Vec::new();
    let mut finished_while_returning = false;
    for _ in 0..100 {
        let info = sim.info();
        let expected = sim.engine.expected_state(&sim.ns, &sim.entity, None).unwrap();
        let returning = expected.iter().any(|t| t.reason == TargetState::RolledBack || t.version != "v2");
        if kinds(&sim).contains(&orchestrator_engine::EventKind::RollbackFinished) && returning {
            finished_while_returning = true;
            assert_eq!(info.phase, RolloutPhase::RollingBack, "targets still on their way back");
        }
        assert_eq!(info.phase == RolloutPhase::RolledBack, !returning && kinds(&sim).contains(&orchestrator_engine::EventKind::RollbackFinished));
        phases.push(info.phase);
        if info.phase == RolloutPhase::RolledBack {
            break;
        }
        sim.step();
    }
    assert_eq!(phases.first(), Some(&RolloutPhase::RollingBack));
    assert_eq!(phases.last(), Some(&RolloutPhase::RolledBack));
    assert!(finished_while_returning, "the rollback_finished event comes while targets are still on their way back");
    assert!(sim.hosts.iter().all(|h| h.running == "v2"));

}
