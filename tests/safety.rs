//! Ways a bad version could reach more of the fleet than the operator
//! agreed to, each walked to show it does not (each failed before its fix).

mod common;

use std::cell::RefCell;
use std::rc::Rc;

use common::{options, Behaviour, Sim, SEC, T0};
use orchestrator_engine::{
    Amount, Engine, HookContext, HookError, PlanStep, RolloutOptions, TargetController, TargetReport, TargetState, TargetView,
};

fn on(sim: &Sim, version: &str) -> usize {
    sim.hosts.iter().filter(|h| h.running == version).count()
}

#[test]
fn an_error_budget_as_large_as_the_fleet_never_makes_an_untested_version_good() {
    for budget in [Amount::Count(2), Amount::Count(5), Amount::Percent(100)] {
        let mut sim = Sim::new(2, "v1");
        sim.establish("v1", RolloutOptions { max_failures: Some(budget), ..options(100) });
        for h in &mut sim.hosts {
            h.behaviour.insert("v2".into(), Behaviour::Broken);
        }
        sim.set_version("v2");
        for _ in 0..60 {
            sim.step();
            assert_ne!(sim.info().last_known_good_version, "v2", "budget {budget:?}: good although it failed everywhere");
        }
        // Every target failing leaves no success possible: it is bad.
        assert_eq!(sim.info().last_known_bad_version, "v2", "budget {budget:?}");
        assert!(sim.hosts.iter().all(|h| h.running == "v1"));
    }
}

#[test]
fn rounding_never_lowers_the_success_threshold_to_zero_but_an_explicit_zero_does() {
    let opts = RolloutOptions { success_percent: 5, ..RolloutOptions::default() };
    assert_eq!(opts.success_threshold(10), 1);
    assert_eq!(opts.success_threshold(0), 0);
    let zero = RolloutOptions { success_percent: 0, ..RolloutOptions::default() };
    assert_eq!(zero.success_threshold(10), 0);
    let budget = RolloutOptions { max_failures: Some(Amount::Count(50)), ..RolloutOptions::default() };
    assert_eq!((budget.success_threshold(3), budget.failure_threshold(3)), (1, 3));
    let within = RolloutOptions { max_failures: Some(Amount::Count(2)), ..RolloutOptions::default() };
    assert_eq!((within.success_threshold(10), within.failure_threshold(10)), (8, 3));
}

#[test]
fn pause_and_resume_do_not_extend_an_erroring_targets_deadline() {
    // One target, a 120 s deadline, erroring from its assignment; paused
    // from +60 s to +100 s: it still fails once 120 s passed.
    let mut engine = Engine::new();
    let opts = RolloutOptions { batch_percent: 100, success_timeout_secs: 60, duration_timeout_secs: 120, ..RolloutOptions::default() };
    engine.set_rollout_options("prod", "app", Some(opts)).unwrap();
    engine.set_target_version("prod", "app", "v2", T0).unwrap();
    engine.orchestrate("prod", "app", &[TargetReport::new("h", "v1")], T0).unwrap();
    let erroring = || {
        let mut r = TargetReport::new("h", "v2");
        r.is_error = true;
        [r]
    };
    engine.orchestrate("prod", "app", &erroring(), T0 + SEC).unwrap();
    engine.pause("prod", "app", T0 + 60 * SEC).unwrap();
    engine.orchestrate("prod", "app", &erroring(), T0 + 80 * SEC).unwrap();
    engine.resume("prod", "app", T0 + 100 * SEC).unwrap();
    engine.orchestrate("prod", "app", &erroring(), T0 + 120 * SEC).unwrap();
    assert_eq!(engine.rollout_info("prod", "app").unwrap().last_known_bad_version, "");
    engine.orchestrate("prod", "app", &erroring(), T0 + 121 * SEC).unwrap();
    assert_eq!(engine.rollout_info("prod", "app").unwrap().last_known_bad_version, "v2", "failed at +121 s, not +170 s");
}

/// Fails the first target it is asked about in each step.
struct FailFirst {
    asked: Rc<RefCell<Vec<String>>>,
    step: Rc<RefCell<i64>>,
}

impl TargetController for FailFirst {
    fn monitor(&mut self, ctx: &HookContext<'_>, target: &TargetView<'_>) -> Result<(), HookError> {
        let first = *self.step.borrow() != ctx.now;
        *self.step.borrow_mut() = ctx.now;
        self.asked.borrow_mut().push(target.name.to_owned());
        if first && target.version == "v2" {
            return Err(HookError::new("first of the step"));
        }
        Ok(())
    }
}

#[test]
fn a_restored_engine_asks_the_monitor_hook_in_the_same_order_and_decides_the_same() {
    // Targets report in reverse name order, so a live engine stores them in
    // another order than a restored one (by group, then name).
    let run = |restore_every_step: bool| {
        let mut sim = Sim::new(8, "v1");
        sim.hosts.reverse();
        sim.establish("v1", RolloutOptions { max_failures: Some(Amount::Count(8)), ..options(50) });
        sim.set_version("v2");
        let asked = Rc::new(RefCell::new(Vec::new()));
        let step = Rc::new(RefCell::new(0));
        let mut answers = Vec::new();
        for _ in 0..30 {
            if restore_every_step {
                sim.engine = Engine::restore(&sim.engine.snapshot()).unwrap();
            }
            let hook = FailFirst { asked: asked.clone(), step: step.clone() };
            sim.engine.set_target_controller("prod", "app", Some(Box::new(hook))).unwrap();
            answers.push(sim.step());
        }
        let asked = asked.borrow().clone();
        (answers, asked)
    };
    let (live, live_asked) = run(false);
    let (restored, restored_asked) = run(true);
    assert_eq!(live_asked, restored_asked);
    assert_eq!(live, restored);
    assert!(live.iter().flatten().any(|e| e.reason == TargetState::FailedMonitor));
}

#[test]
fn targets_joining_during_a_rollback_take_no_rollback_slot() {
    // A rollback at one target at a time (10% of fewer than 20): the moved
    // targets go back at the same pace whether or not new machines join.
    let back = |joining: bool| {
        let mut sim = Sim::new(4, "v1");
        sim.establish("v1", RolloutOptions { rollback_batch_percent: Some(10), ..options(100) });
        for h in &mut sim.hosts {
            h.behaviour.insert("v2".into(), Behaviour::LateFailure { after_ms: 20 * SEC });
        }
        sim.set_version("v2");
        sim.run_until(50, |s| s.info().last_known_bad_version == "v2");
        let mut back = Vec::new();
        for i in 0..40 {
            if joining && i % 3 == 0 {
                let mut joined = sim.hosts[0].clone();
                joined.name = format!("joined-{i:02}");
                joined.running = "v1".into();
                joined.behaviour.clear();
                sim.hosts.push(joined);
            }
            sim.step();
            back.push(sim.hosts.iter().filter(|h| !h.name.starts_with("joined") && h.running == "v1").count());
        }
        back
    };
    let alone = back(false);
    assert_eq!(alone.last(), Some(&4));
    assert_eq!(back(true), alone);
}

#[test]
fn a_gate_approved_under_one_plan_does_not_open_another_plans_gate() {
    let plan_a = vec![PlanStep::new(Amount::Count(1)), PlanStep::new(Amount::Count(2)).gated(), PlanStep::new(Amount::Percent(100))];
    let plan_b = vec![PlanStep::new(Amount::Count(1)), PlanStep::new(Amount::Count(5)).gated(), PlanStep::new(Amount::Percent(100))];
    let mut sim = Sim::new(10, "v1");
    sim.establish("v1", RolloutOptions { steps: plan_a, ..options(100) });
    sim.set_version("v2");
    sim.run_until(50, |s| s.info().awaiting_approval);
    assert!(sim.engine.approve("prod", "app", sim.now).unwrap());
    sim.options(RolloutOptions { steps: plan_b, ..options(100) });
    assert!(sim.info().awaiting_approval, "plan B's gate is its own");
    for _ in 0..20 {
        sim.step();
    }
    assert_eq!(on(&sim, "v2"), 1);
}

/// Approves every move forward and no move back.
struct NoWayBack;

impl TargetController for NoWayBack {
    fn approve(&mut self, _: &HookContext<'_>, selected: &[TargetView<'_>]) -> Result<Vec<orchestrator_engine::TargetId>, HookError> {
        Ok(selected.iter().filter(|t| t.version == "v1").map(TargetView::id).collect())
    }
}

#[test]
fn a_failed_target_the_approval_hook_holds_back_still_answers_failed_and_so_does_its_restored_twin() {
    // The judgement (failed on v2) is state; "held back" is only why the
    // step did not move it. A controller must keep seeing the failure, and
    // a restored engine must keep the judgement.
    let mut sim = Sim::new(4, "v1");
    sim.establish("v1", options(100));
    for h in &mut sim.hosts {
        h.behaviour.insert("v2".into(), Behaviour::Broken);
    }
    sim.engine.set_target_controller("prod", "app", Some(Box::new(NoWayBack))).unwrap();
    sim.set_version("v2");
    sim.run_until(60, |s| s.info().last_known_bad_version == "v2");
    for _ in 0..5 {
        let answer = sim.step();
        assert_eq!(answer.len(), 4);
        for e in &answer {
            assert_eq!(e.version, "v2", "the hook approves no move back");
            assert!(e.is_error && e.reason.is_failed(), "{} answers {:?}: {}", e.name, e.reason, e.message);
        }
        let twin = Engine::restore(&sim.engine.snapshot()).unwrap();
        assert_eq!(twin.expected_state("prod", "app", None).unwrap(), answer);
    }
    // Once the hook lets them go, they roll back.
    sim.engine.set_target_controller("prod", "app", None).unwrap();
    sim.run_until(60, |s| on(s, "v1") == 4);
    assert_eq!(on(&sim, "v1"), 4);
}
