//! The operator's controls walked call by call in virtual time:
//! pause/resume, abort/retry, and controls on an entity that does not
//! exist. Plans and gates are tests/plans.rs, verdicts tests/verdicts.rs,
//! the event log, history and rollbackTo tests/history.rs.

mod common;

use common::{count, kinds, on, options, pct, rolling, Behaviour, Sim, SEC, T0};
use orchestrator_engine::{Amount, Engine, ErrorCode, EventKind, Outcome, PlanStep, RolloutOptions, TargetReport, TargetState};

// ---- pause / resume ---------------------------------------------------

#[test]
fn a_paused_rollout_moves_nothing_new_and_resumes_where_it_stopped() {
    let mut sim = rolling(10, options(20));
    sim.step(); // v2 starts rolling
    sim.step(); // two hosts assigned v2
    assert!(sim.engine.pause("prod", "app", sim.now).unwrap());
    assert!(!sim.engine.pause("prod", "app", sim.now).unwrap(), "pausing twice changes nothing");
    for _ in 0..30 {
        let answer = sim.step();
        assert_eq!(answer.iter().filter(|e| e.version == "v2").count(), 2);
        assert_eq!(count(&answer, TargetState::HeldPaused), 8);
    }
    // Monitoring went on: the two moved hosts succeeded while paused.
    let answer = sim.engine.expected_state("prod", "app", None).unwrap();
    assert_eq!(count(&answer, TargetState::Succeeded), 2);
    assert!(sim.info().paused);
    assert!(answer[2].message.contains("paused"), "{}", answer[2].message);

    assert!(sim.engine.resume("prod", "app", sim.now).unwrap());
    assert!(!sim.engine.resume("prod", "app", sim.now).unwrap());
    let answer = sim.step();
    assert_eq!(count(&answer, TargetState::InFlight), 2, "the next batch starts on resume");
    sim.run_until(200, |s| s.info().last_known_good_version == "v2");
    assert_eq!(kinds(&sim).iter().filter(|k| **k == EventKind::Paused).count(), 1);
    assert_eq!(kinds(&sim).iter().filter(|k| **k == EventKind::Resumed).count(), 1);
}

#[test]
fn deadlines_count_only_unpaused_time() {
    // host-000 never installs v2: it fails once 120 s of unpaused time
    // passed since its assignment.
    let mut sim = rolling(10, options(10));
    sim.hosts[0].behaviour.insert("v2".into(), Behaviour::Stuck);
    sim.step(); // v2 starts rolling
    sim.step(); // host-000 assigned at t
    let assigned = sim.now - sim.step_ms;
    for _ in 0..5 {
        sim.step(); // 50 s unpaused
    }
    sim.engine.pause("prod", "app", sim.now).unwrap();
    for _ in 0..60 {
        let answer = sim.step(); // ten paused minutes: no deadline
        assert_eq!(answer[0].reason, TargetState::InFlight);
    }
    sim.engine.resume("prod", "app", sim.now).unwrap();
    let paused_ms = 600 * SEC;
    let mut failed_at = None;
    for _ in 0..20 {
        let now = sim.now;
        sim.step();
        if sim.info().last_known_bad_version == "v2" {
            failed_at = Some(now);
            break;
        }
    }
    let unpaused = failed_at.expect("host-000 failed after resume") - assigned - paused_ms;
    assert!(unpaused > 120 * SEC && unpaused <= 130 * SEC, "failed after {unpaused} ms of unpaused time");
}

#[test]
fn a_pause_during_a_failing_rollout_still_rolls_back() {
    let mut sim = rolling(10, options(50));
    for h in &mut sim.hosts {
        h.behaviour.insert("v2".into(), Behaviour::Broken);
    }
    sim.step(); // v2 starts rolling
    sim.step(); // five hosts on v2, all broken
    sim.engine.pause("prod", "app", sim.now).unwrap();
    sim.run_until(100, |s| s.info().last_known_bad_version == "v2");
    sim.run_until(100, |s| on(s, "v1") == 10);
    assert!(sim.info().paused, "the rollback ran while paused");
    let answer = sim.step();
    assert!(answer.iter().all(|e| e.version == "v1"));
    // Both rollback events name the version rolled back; the details count in English.
    let events = sim.engine.events("prod", "app", 0, usize::MAX).unwrap();
    let started = events.iter().find(|e| e.kind == EventKind::RollbackStarted).unwrap();
    assert_eq!((started.version.as_str(), started.detail.as_str()), ("v2", "it is known bad: moving its targets back to v1"));
    let finished = events.iter().find(|e| e.kind == EventKind::RollbackFinished).unwrap();
    assert_eq!(finished.version, "v2");
    let bad = events.iter().find(|e| e.kind == EventKind::VersionBad).unwrap();
    assert!(bad.detail.ends_with("; 1 failure makes it bad"), "{}", bad.detail);
}

#[test]
fn a_failure_reported_without_a_message_reads_without_a_dangling_colon() {
    let mut engine = Engine::new();
    // One failure is within the budget: the target stays failed, not rolled back.
    let opts = RolloutOptions { error_timeout_secs: Some(0), max_failures: Some(Amount::Count(1)), ..options(100) };
    engine.set_rollout_options("prod", "app", Some(opts)).unwrap();
    engine.set_target_version("prod", "app", "v1", T0).unwrap();
    let names = ["a", "b", "c"];
    engine.orchestrate("prod", "app", &names.map(|n| TargetReport::new(n, "v1")), T0).unwrap();
    engine.set_target_version("prod", "app", "v2", T0).unwrap();
    let mut now = T0;
    let mut failed = None;
    for _ in 0..10 {
        now += SEC;
        let expected = engine.expected_state("prod", "app", None).unwrap();
        let reports: Vec<_> = expected
            .iter()
            .map(|e| {
                let mut report = TargetReport::new(&e.name, &e.version);
                report.is_error = e.name == "a" && e.version == "v2";
                report
            })
            .collect();
        let answer = engine.orchestrate("prod", "app", &reports, now).unwrap();
        if let Some(a) = answer.iter().find(|e| e.name == "a" && e.reason == TargetState::FailedUnhealthy) {
            failed = Some(a.message.clone());
            break;
        }
    }
    assert_eq!(failed.as_deref(), Some("failed on v2: it reports errors"));
}

// ---- abort / retry ----------------------------------------------------

#[test]
fn abort_rolls_the_version_back_at_once() {
    let mut sim = rolling(10, options(20));
    for _ in 0..12 {
        sim.step(); // part of the fleet is on v2
    }
    assert!(on(&sim, "v2") >= 2);
    assert!(sim.engine.abort("prod", "app", sim.now).unwrap());
    let info = sim.info();
    assert_eq!((info.last_known_good_version.as_str(), info.last_known_bad_version.as_str()), ("v1", "v2"));
    let answer = sim.step();
    assert!(answer.iter().all(|e| e.version == "v1"), "every moved target goes back in one step");
    sim.run_until(10, |s| on(s, "v1") == 10);
    let history = sim.engine.history("prod", "app").unwrap();
    assert_eq!(history.last().unwrap().outcome, Outcome::Aborted);
    assert!(kinds(&sim).contains(&EventKind::Aborted));
}

#[test]
fn abort_with_nothing_in_flight_changes_nothing() {
    // Settled on v1: nothing rolls, the stable version must stay good.
    let mut sim = Sim::new(5, "v1");
    sim.establish("v1", options(20));
    let before = sim.engine.snapshot();
    assert!(!sim.engine.abort("prod", "app", sim.now).unwrap());
    assert_eq!(sim.engine.snapshot(), before);
    assert_eq!(sim.info().last_known_good_version, "v1");
    assert_eq!(sim.info().last_known_bad_version, "");

    // A version set but held at a gate before its first target moved.
    let opts = RolloutOptions { steps: vec![PlanStep::new(Amount::Count(1)).gated(), PlanStep::new(pct(100))], ..options(20) };
    sim.options(opts);
    sim.set_version("v2");
    sim.step();
    let before = sim.engine.snapshot();
    assert!(!sim.engine.abort("prod", "app", sim.now).unwrap());
    assert_eq!(sim.engine.snapshot(), before);
    assert!(sim.step().iter().all(|e| e.version == "v1" && e.reason == TargetState::AwaitingApproval));
}

#[test]
fn retry_after_abort_starts_the_version_afresh() {
    let mut sim = rolling(10, options(20));
    for _ in 0..5 {
        sim.step();
    }
    sim.engine.abort("prod", "app", sim.now).unwrap();
    sim.run_until(20, |s| on(s, "v1") == 10);
    // A controller that sets the version on every loop does not undo it.
    sim.set_version("v2");
    for _ in 0..10 {
        assert!(sim.step().iter().all(|e| e.version == "v1"));
    }
    assert!(sim.engine.retry("prod", "app", sim.now).unwrap());
    assert!(!sim.engine.retry("prod", "app", sim.now).unwrap(), "nothing left to retry");
    assert_eq!(sim.info().last_known_bad_version, "");
    sim.run_until(200, |s| s.info().last_known_good_version == "v2");
    assert_eq!(on(&sim, "v2"), 10);
    let outcomes: Vec<_> = sim.engine.history("prod", "app").unwrap().iter().map(|r| (r.version.clone(), r.outcome)).collect();
    assert_eq!(
        outcomes,
        [("v1".to_owned(), Outcome::Succeeded), ("v2".to_owned(), Outcome::Aborted), ("v2".to_owned(), Outcome::Succeeded)]
    );
    assert!(kinds(&sim).contains(&EventKind::Retried));
}

#[test]
fn a_retry_during_a_rollback_waits_for_it_at_its_pace_then_rolls_out_in_batches() {
    // Found by the property tests: retrying before the rollback finished
    // put every target still on v2 in flight at once (more than a batch),
    // and sending them back at once skipped the rollback's pace.
    let mut sim = rolling(20, RolloutOptions { rollback_batch_percent: Some(10), ..options(10) });
    sim.run_until(100, |s| on(s, "v2") >= 6);
    sim.engine.abort("prod", "app", sim.now).unwrap();
    assert!(sim.engine.retry("prod", "app", sim.now).unwrap());
    assert!(!sim.engine.retry("prod", "app", sim.now).unwrap(), "already pending");
    let mut back_on_v1 = false;
    for _ in 0..200 {
        let answer = sim.step();
        assert!(count(&answer, TargetState::InFlight) <= 2, "{answer:?}");
        assert!(count(&answer, TargetState::RolledBack) <= 2, "{answer:?}");
        back_on_v1 |= on(&sim, "v1") == 20;
        if sim.info().last_known_good_version == "v2" {
            break;
        }
    }
    assert!(back_on_v1, "the rollback finished first");
    assert_eq!(on(&sim, "v2"), 20);
    let retried = sim.engine.events("prod", "app", 0, usize::MAX).unwrap();
    assert!(retried.iter().any(|e| e.kind == EventKind::Retried && e.detail.contains("once its rollback has finished")));
}

#[test]
fn forcing_the_aborted_version_also_retries_it() {
    let mut sim = rolling(6, options(50));
    sim.step();
    sim.engine.abort("prod", "app", sim.now).unwrap();
    sim.run_until(20, |s| on(s, "v1") == 6);
    sim.engine.force_target_version("prod", "app", "v2", sim.now).unwrap();
    sim.run_until(200, |s| s.info().last_known_good_version == "v2");
}


#[test]
fn controls_on_an_unknown_entity_are_not_found_and_create_nothing() {
    let mut engine = Engine::new();
    let now = common::T0;
    type Control<'a> = &'a dyn Fn(&mut Engine) -> Result<bool, orchestrator_engine::Error>;
    let calls: [Control<'_>; 7] = [
        &|e| e.pause("prod", "app", now),
        &|e| e.resume("prod", "app", now),
        &|e| e.abort("prod", "app", now),
        &|e| e.retry("prod", "app", now),
        &|e| e.promote("prod", "app", true, now),
        &|e| e.approve("prod", "app", now),
        &|e| e.rollback_to("prod", "app", "v1", now),
    ];
    for call in calls {
        assert_eq!(call(&mut engine).unwrap_err().code(), ErrorCode::NotFound);
    }
    assert_eq!(engine.plan("prod", "app", now).unwrap_err().code(), ErrorCode::NotFound);
    assert_eq!(engine.events("prod", "app", 0, 10).unwrap_err().code(), ErrorCode::NotFound);
    assert_eq!(engine.history("prod", "app").unwrap_err().code(), ErrorCode::NotFound);
    assert_eq!(engine.rollback_to("prod", "app", "", now).unwrap_err().code(), ErrorCode::InvalidVersion);
    assert!(engine.namespaces().is_empty());
}
