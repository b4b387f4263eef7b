//! Progressive-delivery controls and plans, walked call by call in virtual
//! time: pause/resume, abort/retry, promote, approval gates, plans and their
//! rounding, error budgets, the flap guard, the watch window, rollback
//! pacing, the event log, history and rollbackTo. Each anchor failure case
//! named in issue 5 has its own test.

mod common;

use common::{count, options, Behaviour, Sim, SEC, T0};
use orchestrator_engine::{Amount, Engine, ErrorCode, EventKind, Outcome, PlanStep, RolloutOptions, StepStatus, TargetReport, TargetState};

fn pct(p: u32) -> Amount {
    Amount::Percent(p)
}

/// `n` hosts established on v1 with `opts`, then v2 set.
fn rolling(n: usize, opts: RolloutOptions) -> Sim {
    let mut sim = Sim::new(n, "v1");
    sim.establish("v1", opts);
    sim.set_version("v2");
    sim
}

fn kinds(sim: &Sim) -> Vec<EventKind> {
    sim.engine.events("prod", "app", 0, usize::MAX).unwrap().into_iter().map(|e| e.kind).collect()
}

fn on(sim: &Sim, version: &str) -> usize {
    sim.hosts.iter().filter(|h| h.running == version).count()
}

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

// ---- plans ------------------------------------------------------------

fn canary_plan() -> Vec<PlanStep> {
    vec![PlanStep::new(Amount::Count(1)), PlanStep::new(pct(10)), PlanStep::new(pct(50)), PlanStep::new(pct(100))]
}

#[test]
fn step_rounding_on_awkward_fleet_sizes_always_reaches_every_target() {
    // [1, "10%", "50%", "100%"]: the total on v2 once each step is done,
    // a percentage of the fleet rounded up, never fewer than the step
    // before; the last step is the whole fleet. On 3 targets 10% is 1,
    // which step 1 already reached: step 2 moves nothing.
    for (n, sizes) in [(3, [1, 0, 1, 1]), (7, [1, 0, 3, 3]), (101, [1, 10, 40, 50]), (1, [1, 0, 0, 0])] {
        let mut sim = Sim::new(n, "v1");
        sim.establish("v1", RolloutOptions { steps: canary_plan(), ..options(100) });
        let plan = sim.engine.plan("prod", "app", sim.now).unwrap();
        let got: Vec<_> = plan.steps.iter().map(|s| s.targets).collect();
        assert_eq!(got, sizes, "{n} targets");
        assert_eq!(plan.steps.last().unwrap().cumulative, n);

        // And a real rollout moves exactly those batches, then everything.
        sim.set_version("v2");
        let mut moved_per_step = Vec::new();
        let mut last = 0;
        for _ in 0..200 {
            sim.step();
            let info = sim.info();
            let now_on = on(&sim, "v2");
            if now_on > last {
                moved_per_step.push(now_on - last);
                last = now_on;
            }
            if info.last_known_good_version == "v2" {
                break;
            }
        }
        assert_eq!(on(&sim, "v2"), n, "{n} targets: everything moved");
        let want: Vec<usize> = sizes.into_iter().filter(|&s| s > 0).collect();
        assert_eq!(moved_per_step, want, "{n} targets");
    }
}

#[test]
fn a_plan_that_cannot_reach_every_target_is_rejected_when_set() {
    let mut engine = Engine::new();
    let cases = [
        (vec![PlanStep::new(Amount::Count(1)), PlanStep::new(pct(10))], "steps[1]", "cannot reach every target"),
        (vec![PlanStep::new(pct(0)), PlanStep::new(pct(100))], "steps[0]", "from 1 to 100"),
        (vec![PlanStep::new(Amount::Count(0)), PlanStep::new(pct(100))], "steps[0]", "a step's count"),
        (vec![PlanStep::new(pct(101))], "steps[0]", "from 1 to 100"),
        (vec![PlanStep::new(pct(100)).bake(u64::MAX)], "steps[0].bakeSecs", "a timeout"),
    ];
    for (steps, field, why) in cases {
        let err = engine.set_rollout_options("prod", "app", Some(RolloutOptions { steps, ..Default::default() })).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidOptions);
        let message = err.to_string();
        assert!(message.contains(field) && message.contains(why), "{message}");
    }
    assert!(engine.namespaces().is_empty(), "nothing was created");
}

#[test]
fn a_step_bakes_before_the_next_and_promote_skips_the_rest_of_the_bake() {
    let steps = vec![PlanStep::new(Amount::Count(2)).bake(600), PlanStep::new(pct(100))];
    let mut sim = rolling(10, RolloutOptions { steps, ..options(100) });
    // The two canaries succeed after 60 s, then bake for 600 s.
    sim.run_until(20, |s| count(&s.engine.expected_state("prod", "app", None).unwrap(), TargetState::Succeeded) == 2);
    for _ in 0..30 {
        sim.step();
        assert_eq!(on(&sim, "v2"), 2, "the bake holds the next step");
    }
    assert_eq!(sim.info().step, Some(0));
    assert!(sim.engine.promote("prod", "app", false, sim.now).unwrap());
    assert!(!sim.engine.promote("prod", "app", false, sim.now).unwrap(), "nothing left to skip");
    sim.step();
    sim.step();
    assert_eq!(on(&sim, "v2"), 10, "the last step moves the rest at once");
    assert_eq!(sim.info().step, Some(1));
    sim.run_until(20, |s| s.info().last_known_good_version == "v2");
    assert!(kinds(&sim).contains(&EventKind::Promoted));
}

#[test]
fn a_shorter_plan_set_mid_rollout_goes_on_from_its_last_step() {
    let steps =
        vec![PlanStep::new(Amount::Count(1)), PlanStep::new(Amount::Count(2)), PlanStep::new(Amount::Count(3)), PlanStep::new(pct(100))];
    let mut sim = rolling(10, RolloutOptions { steps, ..options(100) });
    sim.run_until(100, |s| s.info().step == Some(2));
    sim.options(RolloutOptions { steps: vec![PlanStep::new(Amount::Count(1)), PlanStep::new(pct(100))], ..options(100) });
    assert_eq!(sim.info().step, Some(1));
    sim.run_until(100, |s| s.info().last_known_good_version == "v2");
    assert_eq!(on(&sim, "v2"), 10);
}

#[test]
fn a_bake_passes_by_itself_and_a_full_promotion_skips_every_step() {
    let steps = vec![PlanStep::new(Amount::Count(1)).bake(120), PlanStep::new(pct(20)).bake(120), PlanStep::new(pct(100))];
    let mut sim = rolling(10, RolloutOptions { steps: steps.clone(), ..options(100) });
    let took = sim.run_until(200, |s| s.info().last_known_good_version == "v2");
    // 3 steps of (assign, report, 60 s) plus two 120 s bakes, at 10 s.
    assert!((40..60).contains(&took), "{took} steps");

    let mut sim = rolling(10, RolloutOptions { steps, ..options(100) });
    sim.step();
    assert!(sim.engine.promote("prod", "app", true, sim.now).unwrap());
    sim.step();
    sim.step();
    assert_eq!(on(&sim, "v2"), 10);
    let took = sim.run_until(200, |s| s.info().last_known_good_version == "v2");
    assert!(took < 10, "{took} steps");
}

#[test]
fn an_approval_gate_holds_the_step_until_approved() {
    let steps = vec![PlanStep::new(Amount::Count(1)), PlanStep::new(pct(100)).gated()];
    let mut sim = rolling(5, RolloutOptions { steps, ..options(100) });
    assert!(!sim.engine.approve("prod", "app", sim.now).unwrap(), "no gate reached yet");
    sim.run_until(30, |s| s.info().awaiting_approval);
    for _ in 0..20 {
        let answer = sim.step();
        assert_eq!(count(&answer, TargetState::AwaitingApproval), 4);
        assert_eq!(on(&sim, "v2"), 1);
    }
    let waiting = sim.engine.expected_state("prod", "app", None).unwrap();
    assert!(waiting[1].message.contains("awaiting approval"), "{}", waiting[1].message);
    assert!(kinds(&sim).contains(&EventKind::ApprovalRequested));
    assert!(sim.engine.approve("prod", "app", sim.now).unwrap());
    assert!(!sim.engine.approve("prod", "app", sim.now).unwrap());
    sim.run_until(30, |s| s.info().last_known_good_version == "v2");
    assert_eq!(on(&sim, "v2"), 5);
}

#[test]
fn plan_is_a_dry_run_with_earliest_times() {
    let steps = vec![PlanStep::new(Amount::Count(1)).bake(300), PlanStep::new(pct(50)).gated(), PlanStep::new(pct(100))];
    let mut sim = rolling(10, RolloutOptions { steps, ..options(100) });
    let before = sim.engine.snapshot();
    let plan = sim.engine.plan("prod", "app", sim.now).unwrap();
    assert_eq!(sim.engine.snapshot(), before, "plan changes nothing");
    assert!(!plan.in_progress);
    assert_eq!(plan.version, "v2");
    let starts: Vec<_> = plan.steps.iter().map(|s| s.earliest_start.unwrap() - sim.now).collect();
    assert_eq!(starts, [0, (60 + 300) * SEC, (60 + 300 + 60) * SEC]);
    assert_eq!(plan.earliest_good.unwrap() - sim.now, (60 + 300 + 60 + 60) * SEC);
    assert!(!plan.needs_retry);
    assert!(plan.steps[1].approval);

    sim.step();
    let plan = sim.engine.plan("prod", "app", sim.now).unwrap();
    assert!(plan.in_progress);
    let status: Vec<_> = plan.steps.iter().map(|s| s.status).collect();
    assert_eq!(status, [StepStatus::Current, StepStatus::Pending, StepStatus::Pending]);

    // The simple form: batches of batchPercent.
    let mut sim = rolling(10, options(30));
    let plan = sim.engine.plan("prod", "app", sim.now).unwrap();
    let sizes: Vec<_> = plan.steps.iter().map(|s| s.targets).collect();
    assert_eq!(sizes, [3, 3, 3, 1]);
    sim.step();
}

#[test]
fn plan_of_a_failed_version_starts_nothing_until_retried_and_no_version_is_no_plan() {
    // With no target version, plan answers as a step would.
    let mut engine = Engine::new();
    engine.set_rollout_options("prod", "fresh", None).unwrap();
    assert_eq!(engine.plan("prod", "fresh", T0).unwrap_err().code(), ErrorCode::NoTargetVersion);

    // Retried during the rollback it waits for: it starts once that is done.
    let mut sim = rolling(10, RolloutOptions { rollback_batch_percent: Some(10), ..options(20) });
    sim.run_until(100, |s| on(s, "v2") >= 4);
    sim.engine.abort("prod", "app", sim.now).unwrap();
    assert!(sim.engine.plan("prod", "app", sim.now).unwrap().needs_retry);
    sim.engine.retry("prod", "app", sim.now).unwrap();
    assert!(!sim.engine.plan("prod", "app", sim.now).unwrap().needs_retry);

    // v2 aborted and sent back: it is known bad, and will not start by itself.
    let mut sim = rolling(10, options(20));
    for _ in 0..5 {
        sim.step();
    }
    sim.engine.abort("prod", "app", sim.now).unwrap();
    sim.run_until(20, |s| on(s, "v1") == 10);
    let plan = sim.engine.plan("prod", "app", sim.now).unwrap();
    assert_eq!(plan.version, "v2");
    assert!(plan.needs_retry && !plan.in_progress);
    assert_eq!(plan.earliest_good, None);
    assert!(plan.steps.iter().all(|s| s.status == StepStatus::Pending && s.earliest_start.is_none()), "{plan:?}");
    // Once retried, it has a schedule again.
    sim.engine.retry("prod", "app", sim.now).unwrap();
    let plan = sim.engine.plan("prod", "app", sim.now).unwrap();
    assert!(!plan.needs_retry);
    assert!(plan.earliest_good.is_some_and(|t| t >= sim.now));
    assert!(plan.steps.iter().all(|s| s.earliest_start.is_some()));
}

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

// ---- event log, history, rollbackTo ----------------------------------

#[test]
fn the_event_log_tells_a_rollout_in_order_and_pages() {
    let mut sim = rolling(4, options(50));
    sim.run_until(100, |s| s.info().last_known_good_version == "v2");
    let events = sim.engine.events("prod", "app", 0, usize::MAX).unwrap();
    let v2: Vec<_> = events.iter().filter(|e| e.version == "v2").map(|e| e.kind).collect();
    use EventKind::*;
    assert_eq!(
        v2,
        [
            VersionSet,
            TargetAssigned,
            TargetAssigned,
            TargetSucceeded,
            TargetSucceeded,
            TargetAssigned,
            TargetAssigned,
            TargetSucceeded,
            TargetSucceeded,
            VersionGood
        ]
    );
    assert!(events.windows(2).all(|w| w[1].seq == w[0].seq + 1 && w[1].time >= w[0].time));
    let assigned = events.iter().find(|e| e.kind == TargetAssigned).unwrap();
    assert_eq!(assigned.target.as_ref().unwrap().name, "host-000");
    assert_eq!(assigned.detail, "moves from v1");

    // Paging: since the seq last seen, limit per page.
    let mut seen = 0;
    let mut pages = Vec::new();
    loop {
        let page = sim.engine.events("prod", "app", seen, 4).unwrap();
        let Some(last) = page.last() else { break };
        seen = last.seq;
        pages.extend(page);
    }
    assert_eq!(pages, events);

    // Bounded: the oldest are dropped past maxEvents.
    sim.options(RolloutOptions { max_events: 3, ..options(50) });
    let kept = sim.engine.events("prod", "app", 0, usize::MAX).unwrap();
    assert_eq!(kept, events[events.len() - 3..]);
}

#[test]
fn history_records_every_rollout_and_rollback_to_returns_to_any_good_version() {
    let mut sim = rolling(6, options(50));
    sim.run_until(100, |s| s.info().last_known_good_version == "v2");
    sim.set_version("v3");
    sim.run_until(100, |s| s.info().last_known_good_version == "v3");
    sim.hosts.iter_mut().for_each(|h| {
        h.behaviour.insert("v4".into(), Behaviour::Broken);
    });
    sim.set_version("v4");
    sim.run_until(100, |s| s.info().last_known_bad_version == "v4");
    sim.run_until(100, |s| on(s, "v3") == 6);

    let history: Vec<_> =
        sim.engine.history("prod", "app").unwrap().into_iter().map(|r| (r.version, r.outcome, r.ended.is_some())).collect();
    let want = [("v1", Outcome::Succeeded), ("v2", Outcome::Succeeded), ("v3", Outcome::Succeeded), ("v4", Outcome::Failed)];
    assert_eq!(history, want.map(|(v, o)| (v.to_owned(), o, true)));

    // v4 was never good, v9 never existed.
    for bad in ["v4", "v9"] {
        let err = sim.engine.rollback_to("prod", "app", bad, sim.now).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidVersion);
        assert!(err.to_string().contains("v1, v2, v3"), "{err}");
    }
    // Every target is on v3 already, but the target version was v4.
    assert!(sim.engine.rollback_to("prod", "app", "v3", sim.now).unwrap());
    assert_eq!(sim.info().target_version, "v3");
    assert!(!sim.engine.rollback_to("prod", "app", "v3", sim.now).unwrap(), "already there");
    sim.step(); // settled on v3

    assert!(sim.engine.rollback_to("prod", "app", "v1", sim.now).unwrap());
    let answer = sim.step();
    assert!(answer.iter().all(|e| e.version == "v1" && e.reason == TargetState::RolledBack));
    sim.run_until(50, |s| on(s, "v1") == 6);
    let info = sim.info();
    assert_eq!(
        (info.target_version.as_str(), info.last_known_good_version.as_str(), info.last_known_bad_version.as_str()),
        ("v1", "v1", "v3")
    );
    for _ in 0..20 {
        assert!(sim.step().iter().all(|e| e.version == "v1"));
    }
    // And forward again to a version that was good.
    assert!(sim.engine.rollback_to("prod", "app", "v2", sim.now).unwrap());
    sim.run_until(50, |s| on(s, "v2") == 6);
}

/// The rollback events since `seq`: (kind, version, detail).
fn rollback_events(sim: &Sim, seq: u64) -> Vec<(EventKind, String, String)> {
    let events = sim.engine.events("prod", "app", seq, usize::MAX).unwrap();
    events
        .into_iter()
        .filter(|e| matches!(e.kind, EventKind::RollbackStarted | EventKind::RollbackFinished))
        .map(|e| (e.kind, e.version, e.detail))
        .collect()
}

fn newest_seq(sim: &Sim) -> u64 {
    sim.engine.events("prod", "app", 0, usize::MAX).unwrap().last().map_or(0, |e| e.seq)
}

#[test]
fn a_rollback_to_is_a_history_entry_of_its_own_and_names_the_version_it_leaves_and_why() {
    // v2 good, v3 good, then back to v2: the targets leave v3 because an
    // operator asked, not because v3 went bad.
    let mut sim = rolling(6, options(50));
    sim.run_until(100, |s| s.info().last_known_good_version == "v2");
    sim.set_version("v3");
    sim.run_until(100, |s| s.info().last_known_good_version == "v3" && on(s, "v3") == 6);
    let seq = newest_seq(&sim);
    assert!(sim.engine.rollback_to("prod", "app", "v2", sim.now).unwrap());
    let last = sim.engine.history("prod", "app").unwrap().pop().unwrap();
    assert_eq!((last.version.as_str(), last.outcome, last.ended), ("v2", Outcome::RolledBackTo, Some(sim.now)));
    let answer = sim.step();
    for e in &answer {
        assert_eq!((e.version.as_str(), e.reason), ("v2", TargetState::RolledBack));
        assert_eq!(e.message, "rolling back to v2: an operator's rollbackTo left v3");
    }
    sim.run_until(50, |s| on(s, "v2") == 6);
    sim.step();
    let events = rollback_events(&sim, seq);
    assert_eq!(
        events,
        [
            (EventKind::RollbackStarted, "v3".to_owned(), "rollbackTo, an operator's request, leaving v3: moving its targets back to v2".to_owned()),
            (EventKind::RollbackFinished, "v3".to_owned(), "every moved target is expected back on v2".to_owned()),
        ]
    );

    // v2 good, v3 bad and rolled back, then back to v1: the targets leave
    // v2, which was good; v3's verdict is not why.
    let mut sim = rolling(6, options(50));
    sim.run_until(100, |s| s.info().last_known_good_version == "v2");
    sim.hosts.iter_mut().for_each(|h| {
        h.behaviour.insert("v3".into(), Behaviour::Broken);
    });
    sim.set_version("v3");
    sim.run_until(100, |s| s.info().last_known_bad_version == "v3");
    sim.run_until(100, |s| on(s, "v2") == 6);
    sim.step();
    let seq = newest_seq(&sim);
    assert!(sim.engine.rollback_to("prod", "app", "v1", sim.now).unwrap());
    let answer = sim.step();
    for e in &answer {
        assert_eq!(e.message, "rolling back to v1: an operator's rollbackTo left v2", "{e:?}");
        assert!(!e.message.contains("known bad"));
    }
    sim.run_until(50, |s| on(s, "v1") == 6);
    sim.step();
    let events = rollback_events(&sim, seq);
    assert_eq!(events.iter().map(|(k, v, _)| (*k, v.as_str())).collect::<Vec<_>>(), [(EventKind::RollbackStarted, "v2"), (EventKind::RollbackFinished, "v2")]);
    let history: Vec<_> = sim.engine.history("prod", "app").unwrap().into_iter().map(|r| (r.version, r.outcome)).collect();
    assert_eq!(history.last(), Some(&("v1".to_owned(), Outcome::RolledBackTo)));
    // A version returned to is good to return to again.
    assert!(!sim.engine.rollback_to("prod", "app", "v1", sim.now).unwrap(), "already there");
    // The next bad verdict is told as one again.
    assert!(sim.engine.rollback_to("prod", "app", "v2", sim.now).unwrap());
    sim.run_until(50, |s| on(s, "v2") == 6);
    sim.set_version("v3");
    sim.run_until(100, |s| s.info().last_known_bad_version == "v3");
    sim.run_until(100, |s| s.engine.expected_state("prod", "app", None).unwrap().iter().any(|e| e.reason == TargetState::RolledBack));
    let answer = sim.engine.expected_state("prod", "app", None).unwrap();
    assert!(answer.iter().filter(|e| e.reason == TargetState::RolledBack).all(|e| e.message == "rolling back to v2: v3 is known bad"), "{answer:?}");
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

#[test]
fn a_step_whose_total_is_already_reached_still_waits_at_its_gate_and_bakes() {
    // [2, 2 (gated, 300 s bake), "100%"] on 10: step 2 moves nothing, but
    // nothing moves past it before approve(), nor before its bake passed.
    let steps = vec![PlanStep::new(Amount::Count(2)), PlanStep::new(Amount::Count(2)).gated().bake(300), PlanStep::new(pct(100))];
    let mut sim = rolling(10, RolloutOptions { steps, ..options(100) });
    sim.run_until(100, |s| s.info().awaiting_approval);
    assert_eq!(sim.info().step, Some(1));
    for _ in 0..30 {
        sim.step();
    }
    assert_eq!(on(&sim, "v2"), 2, "the gate holds");
    assert!(sim.engine.approve("prod", "app", sim.now).unwrap());
    for _ in 0..25 {
        sim.step();
    }
    assert_eq!(on(&sim, "v2"), 2, "the bake holds");
    sim.run_until(100, |s| s.info().last_known_good_version == "v2");
    assert_eq!(on(&sim, "v2"), 10);
}

#[test]
fn an_approval_gate_is_never_passed_by_an_empty_fleet() {
    // Ten targets on v1 go quiet and are forgotten; v2 is set and the empty
    // fleet steps on; when they report again, only the first step moves.
    let steps = vec![PlanStep::new(Amount::Count(1)).gated(), PlanStep::new(pct(100))];
    let mut sim = Sim::new(10, "v1");
    sim.establish("v1", RolloutOptions { steps, ..options(100) });
    let hosts = std::mem::take(&mut sim.hosts);
    sim.now += 1000 * SEC;
    sim.set_version("v2");
    for _ in 0..20 {
        sim.step();
    }
    assert_eq!(sim.engine.expected_state("prod", "app", None).unwrap().len(), 0);
    sim.hosts = hosts;
    for _ in 0..20 {
        sim.step();
    }
    assert_eq!(on(&sim, "v2"), 0, "nobody approved anything");
    assert!(sim.info().awaiting_approval);
}
