//! How a version is judged in virtual time: error budgets, failures in a
//! row, the flap guard, the watch window, and the pace of a rollback.

mod common;

use common::{kinds, on, options, pct, rolling, Behaviour, Sim, SEC, T0};
use orchestrator_engine::{Amount, EventKind, Outcome, RolloutOptions, TargetState};

// ---- error budget -----------------------------------------------------

/// A rollout of 20 where `broken` hosts fail on v2.
fn budget_run(broken: usize, opts: RolloutOptions) -> (String, String) {
    let mut sim = rolling(20, opts);
    for h in sim.hosts.iter_mut().take(broken) {
        h.behaviour.insert("v2".into(), Behaviour::Broken);
    }
    sim.run_until(400, |s| {
        let i = s.info();
        i.last_known_good_version == "v2" || i.last_known_bad_version == "v2"
    });
    let info = sim.info();
    (info.last_known_good_version, info.last_known_bad_version)
}

#[test]
fn the_error_budget_is_exceeded_not_reached_at_both_edges() {
    for budget in [Amount::Count(2), pct(10)] {
        let opts = RolloutOptions { max_failures: Some(budget), ..options(25) };
        assert_eq!(budget_run(2, opts.clone()), ("v2".into(), "".into()), "{budget:?}: 2 failures are within a budget of 2");
        assert_eq!(budget_run(3, opts), ("v1".into(), "v2".into()), "{budget:?}: 3 failures exceed it");
    }
    let zero = RolloutOptions { max_failures: Some(Amount::Count(0)), ..options(25) };
    assert_eq!(budget_run(1, zero), ("v1".into(), "v2".into()));
    // rolloutInfo says where the edge is: 3 failures of 20 with a budget of 2.
    for budget in [Amount::Count(2), pct(10)] {
        assert_eq!(rolling(20, RolloutOptions { max_failures: Some(budget), ..options(25) }).info().failure_threshold, 3);
    }
    // Without a budget, SPEC's threshold: max(1, total - floor(successPercent * total / 100)).
    assert_eq!(rolling(20, options(25)).info().failure_threshold, 1);
    assert_eq!(rolling(20, RolloutOptions { success_percent: 80, ..options(25) }).info().failure_threshold, 4);
}

#[test]
fn consecutive_failures_count_in_a_row() {
    // Batches of one; a success between two failures resets the count.
    let opts = RolloutOptions { max_failures: Some(Amount::Count(5)), max_consecutive_failures: Some(1), ..options(5) };
    let mut sim = rolling(20, opts.clone());
    for i in [0, 2, 4] {
        sim.hosts[i].behaviour.insert("v2".into(), Behaviour::Broken);
    }
    sim.run_until(800, |s| s.info().last_known_good_version == "v2");

    let mut sim = rolling(20, opts);
    for i in [0, 1] {
        sim.hosts[i].behaviour.insert("v2".into(), Behaviour::Broken);
    }
    sim.run_until(800, |s| s.info().last_known_bad_version == "v2");
    let bad = sim.engine.events("prod", "app", 0, usize::MAX).unwrap();
    let bad = bad.iter().find(|e| e.kind == EventKind::VersionBad).unwrap();
    assert!(bad.detail.contains("in a row"), "{}", bad.detail);
}

// ---- flap guard and watch window ---------------------------------------

#[test]
fn a_target_that_flaps_after_success_counts_as_failed_again() {
    let mut sim = rolling(10, RolloutOptions { max_failures: Some(Amount::Count(3)), ..options(10) });
    sim.hosts[0].behaviour.insert("v2".into(), Behaviour::LateFailure { after_ms: 100 * SEC });
    let mut succeeded = false;
    let mut failed_after = false;
    for _ in 0..100 {
        let answer = sim.step();
        match answer[0].reason {
            TargetState::Succeeded => succeeded = true,
            TargetState::FailedUnhealthy if succeeded => failed_after = true,
            _ => {}
        }
    }
    assert!(succeeded && failed_after, "host-000 succeeded, then counted as failed");
    let events = sim.engine.events("prod", "app", 0, usize::MAX).unwrap();
    let host0: Vec<_> =
        events.iter().filter(|e| e.version == "v2" && e.target.as_ref().is_some_and(|t| t.name == "host-000")).map(|e| e.kind).collect();
    assert_eq!(host0, [EventKind::TargetAssigned, EventKind::TargetSucceeded, EventKind::TargetFailed]);
}

fn watched(late_after_secs: i64) -> Sim {
    let mut sim = rolling(10, RolloutOptions { watch_secs: 600, ..options(50) });
    for h in &mut sim.hosts {
        h.behaviour.insert("v2".into(), Behaviour::LateFailure { after_ms: late_after_secs * SEC });
    }
    sim.run_until(100, |s| s.info().last_known_good_version == "v2");
    sim
}

#[test]
fn a_failure_inside_the_watch_window_rolls_back_to_the_version_good_before() {
    let mut sim = watched(200);
    assert!(sim.info().watch_until.is_some());
    assert_eq!(sim.engine.history("prod", "app").unwrap().last().unwrap().outcome, Outcome::Watching);
    sim.run_until(100, |s| s.info().last_known_bad_version == "v2");
    assert_eq!(sim.info().last_known_good_version, "v1");
    sim.run_until(20, |s| on(s, "v1") == 10);
    let last = sim.engine.history("prod", "app").unwrap().pop().unwrap();
    assert_eq!(last.outcome, Outcome::Failed);
    let bad = sim.engine.events("prod", "app", 0, usize::MAX).unwrap();
    assert!(bad.iter().any(|e| e.kind == EventKind::VersionBad && e.detail.contains("watch window")));
}

#[test]
fn a_failure_after_the_watch_window_does_not_roll_back() {
    let mut sim = watched(1200);
    for _ in 0..150 {
        sim.step();
    }
    let info = sim.info();
    assert_eq!((info.last_known_good_version.as_str(), info.last_known_bad_version.as_str()), ("v2", ""));
    assert_eq!(info.watch_until, None);
    assert!(sim.engine.expected_state("prod", "app", None).unwrap().iter().all(|e| e.version == "v2"));
    assert!(kinds(&sim).contains(&EventKind::WatchEnded));
    assert_eq!(sim.engine.history("prod", "app").unwrap().last().unwrap().outcome, Outcome::Succeeded);
}

#[test]
fn a_version_set_during_the_watch_waits_for_it_and_a_forced_one_does_not() {
    let mut sim = watched(100_000);
    sim.set_version("v3");
    for _ in 0..10 {
        sim.step();
    }
    assert_eq!(sim.info().rolling_version, "v2", "v3 waits for v2's watch to pass");
    sim.engine.force_target_version("prod", "app", "v3", sim.now).unwrap();
    sim.step();
    assert_eq!(sim.info().rolling_version, "v3");
}

// ---- rollback pacing ----------------------------------------------------

/// 20 hosts moved at once; host-000 never installs v2 (so v2 is never
/// good), the 19 others fail 100 s in: how many go back per step.
fn rollback_pace(rollback_batch_percent: Option<u32>) -> Vec<usize> {
    let mut sim = rolling(20, RolloutOptions { rollback_batch_percent, ..options(100) });
    sim.hosts[0].behaviour.insert("v2".into(), Behaviour::Stuck);
    for h in sim.hosts.iter_mut().skip(1) {
        h.behaviour.insert("v2".into(), Behaviour::LateFailure { after_ms: 100 * SEC });
    }
    // Counted from the step that judges v2 bad: it already rolls back.
    let mut last = on(&sim, "v1");
    while sim.info().last_known_bad_version != "v2" {
        assert!(on(&sim, "v2") <= 19);
        last = on(&sim, "v1");
        sim.step();
        assert!(sim.now < T0 + 10_000 * SEC, "v2 never judged bad");
    }
    let mut back = vec![on(&sim, "v1") - last];
    last = on(&sim, "v1");
    while on(&sim, "v1") < 20 {
        sim.step();
        let now_on = on(&sim, "v1");
        back.push(now_on - last);
        last = now_on;
        assert!(back.len() < 100, "rollback stalled: {back:?}");
    }
    back
}

#[test]
fn rollbacks_move_every_target_at_once_by_default_or_at_their_own_pace() {
    assert_eq!(rollback_pace(None), [19], "a known-bad version leaves at once");
    let paced = rollback_pace(Some(10));
    assert!(paced.iter().all(|&n| n <= 2), "{paced:?}");
    assert_eq!(paced.iter().sum::<usize>(), 19);
}
