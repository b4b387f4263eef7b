//! Plans in virtual time: step sizes and their rounding, bakes, promote,
//! approval gates, and the dry run (`plan`).

mod common;

use common::{count, kinds, on, options, pct, rolling, Sim, SEC, T0};
use orchestrator_engine::{Amount, Engine, ErrorCode, EventKind, PlanStep, RolloutOptions, StepStatus, TargetState};

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
