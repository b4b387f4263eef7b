//! Hooks (SPEC section 4) and what their failures do (SPEC section 2).

mod common;

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use common::{count, options, Behaviour, Host, Sim, SEC, T0};
use orchestrator_engine::{
    Engine, ErrorCode, EventKind, HookContext, HookError, MonitoringController, TargetController, TargetId, TargetReport, TargetState,
    TargetView,
};

/// Blue/green: each selection brings up new green machines instead of
/// moving blue ones; each removal retires as many blue ones.
struct BlueGreen {
    wanted: usize,
    created: Rc<RefCell<usize>>,
}

impl TargetController for BlueGreen {
    fn select(&mut self, ctx: &HookContext<'_>, _: &[TargetView<'_>], count: usize) -> Result<Vec<TargetId>, HookError> {
        // Only a new version gets new machines; rolling back, or steady on
        // what the blue ones run, there is nothing to bring up.
        if ctx.rolling_back || ctx.version == "v1" {
            return Ok(Vec::new());
        }
        let mut created = self.created.borrow_mut();
        let n = count.min(self.wanted - *created);
        let ids = (*created..*created + n).map(|i| TargetId::new("", format!("green-{i}"))).collect();
        *created += n;
        Ok(ids)
    }

    fn remove(&mut self, _: &HookContext<'_>, candidates: &[TargetView<'_>], count: usize) -> Result<Vec<TargetId>, HookError> {
        Ok(candidates.iter().take(count).map(TargetView::id).collect())
    }
}

/// A fleet that follows the engine's answer: machines it names are booted
/// on the version it names, machines it answers as removed are
/// decommissioned.
fn elastic_step(sim: &mut Sim, boot: &HashMap<String, Behaviour>) -> Vec<orchestrator_engine::ExpectedState> {
    let mut answer = sim.step();
    let next = sim.now;
    answer.retain(|e| e.reason != TargetState::Removed);
    sim.hosts.retain(|h| answer.iter().any(|e| e.name == h.name));
    for e in &answer {
        if !sim.hosts.iter().any(|h| h.name == e.name) {
            sim.hosts.push(Host {
                group: e.group.clone(),
                name: e.name.clone(),
                running: e.version.clone(),
                since: next,
                behaviour: boot.clone(),
            });
        }
    }
    answer
}

fn blue_green(green_behaviour: Behaviour) -> Sim {
    let mut sim = Sim::new(4, "v1");
    for h in &mut sim.hosts {
        h.name = h.name.replace("host", "blue");
    }
    sim.establish("v1", options(50));
    let created = Rc::new(RefCell::new(0));
    let controller = BlueGreen { wanted: 4, created: created.clone() };
    sim.engine.set_target_controller("prod", "app", Some(Box::new(controller))).unwrap();
    sim.set_version("v2");
    let boot = HashMap::from([("v2".to_owned(), green_behaviour)]);
    for _ in 0..100 {
        let answer = elastic_step(&mut sim, &boot);
        // Blue machines are never moved to v2: new machines take it.
        for e in &answer {
            if e.name.starts_with("blue") {
                assert_eq!(e.version, "v1", "{e:?}");
            }
        }
        let info = sim.info();
        if info.rolling_version == "v2" && info.last_known_good_version == "v2" && answer.len() == 4 {
            break;
        }
        if info.last_known_bad_version == "v2" && !answer.iter().any(|e| e.name.starts_with("green")) {
            break;
        }
    }
    sim
}

#[test]
fn blue_green_rollout_through_select_and_remove_hooks() {
    let sim = blue_green(Behaviour::Healthy);
    let answer = sim.engine.expected_state("prod", "app", None).unwrap();
    let names: Vec<_> = answer.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["green-0", "green-1", "green-2", "green-3"]);
    assert!(answer.iter().all(|e| e.version == "v2" && e.reason == TargetState::Succeeded));
    assert_eq!(sim.info().last_known_good_version, "v2");
}

#[test]
fn blue_green_rollback_keeps_the_old_targets() {
    let sim = blue_green(Behaviour::Broken);
    let answer = sim.engine.expected_state("prod", "app", None).unwrap();
    let names: Vec<_> = answer.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["blue-000", "blue-001", "blue-002", "blue-003"]);
    // The two green machines of the first batch failed before any more
    // were created; the rollback retired both at once, and the event log
    // names each, on the version it ran.
    let removed: Vec<_> = sim
        .engine
        .events("prod", "app", 0, usize::MAX)
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == EventKind::TargetRemoved)
        .map(|e| (e.target.unwrap().name, e.version))
        .collect();
    let removed: Vec<_> = removed.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    assert_eq!(removed, [("green-0", "v2"), ("green-1", "v2")]);
    assert!(answer.iter().all(|e| e.version == "v1"));
    let info = sim.info();
    assert_eq!((info.last_known_good_version.as_str(), info.last_known_bad_version.as_str()), ("v1", "v2"));
}

/// Holds back one target until it is let through.
struct HoldBack {
    held: String,
    let_through: Rc<RefCell<bool>>,
}

impl TargetController for HoldBack {
    fn approve(&mut self, _: &HookContext<'_>, selected: &[TargetView<'_>]) -> Result<Vec<TargetId>, HookError> {
        let open = *self.let_through.borrow();
        Ok(selected.iter().filter(|t| open || t.name != self.held).map(TargetView::id).collect())
    }
}

#[test]
fn an_approval_hook_holds_targets_back() {
    let mut sim = Sim::new(4, "v1");
    sim.establish("v1", options(50));
    let open = Rc::new(RefCell::new(false));
    let hook = HoldBack { held: "host-000".into(), let_through: open.clone() };
    sim.engine.set_target_controller("prod", "app", Some(Box::new(hook))).unwrap();
    sim.set_version("v2");
    sim.step();
    let answer = sim.step();
    assert_eq!(answer[0].reason, TargetState::HeldBack);
    assert_eq!(answer[0].version, "v1");
    assert_eq!(answer[0].message, "held back: the approval hook did not approve moving to v2");
    assert_eq!(answer[1].reason, TargetState::InFlight);
    for _ in 0..40 {
        let answer = sim.step();
        assert_eq!(answer[0].version, "v1");
    }
    assert_eq!(sim.info().last_known_good_version, "v1", "v2 cannot be good while a target is held on v1");
    *open.borrow_mut() = true;
    sim.run_until(40, |s| s.info().last_known_good_version == "v2");
}

/// Fails one named target.
struct RejectOne(&'static str);

impl TargetController for RejectOne {
    fn monitor(&mut self, _: &HookContext<'_>, target: &TargetView<'_>) -> Result<(), HookError> {
        if target.name == self.0 && target.version == "v2" {
            return Err(HookError::new("p99 latency 900ms"));
        }
        Ok(())
    }
}

#[test]
fn a_failing_monitor_hook_fails_that_target() {
    let mut sim = Sim::new(4, "v1");
    sim.establish("v1", options(50));
    sim.engine.set_target_controller("prod", "app", Some(Box::new(RejectOne("host-001")))).unwrap();
    sim.set_version("v2");
    sim.step();
    sim.step();
    let answer = sim.step();
    assert_eq!(answer[1].reason, TargetState::FailedMonitor);
    assert!(answer[1].is_error);
    assert_eq!(answer[1].message, "failed on v2: the monitor hook rejected it: p99 latency 900ms");
    // With a target controller the rollback starts on the next call.
    assert_eq!(answer[0].reason, TargetState::InFlight);
    assert_eq!(sim.info().last_known_bad_version, "v2");
}

struct Check(Rc<RefCell<Option<String>>>, Rc<RefCell<usize>>);

impl MonitoringController for Check {
    fn check(&mut self, _: &HookContext<'_>, in_flight: &[TargetView<'_>]) -> Result<(), HookError> {
        *self.1.borrow_mut() = in_flight.len();
        match &*self.0.borrow() {
            Some(why) => Err(HookError::new(why.clone())),
            None => Ok(()),
        }
    }
}

#[test]
fn a_failing_external_check_fails_the_step_and_changes_nothing() {
    let mut sim = Sim::new(6, "v1");
    sim.establish("v1", options(50));
    let failing = Rc::new(RefCell::new(None));
    let seen = Rc::new(RefCell::new(0));
    sim.engine.set_monitoring_controller("prod", "app", Some(Box::new(Check(failing.clone(), seen.clone())))).unwrap();
    sim.set_version("v2");
    sim.step();
    sim.step();
    assert_eq!(*seen.borrow(), 0, "assigned after the check");
    sim.step();
    assert_eq!(*seen.borrow(), 3, "the check sees the in-flight targets");

    *failing.borrow_mut() = Some("error budget exhausted".into());
    let before = sim.engine.snapshot();
    let mut reports = sim.reports();
    reports[0].version = "v7".into();
    reports.push(TargetReport::new("newcomer", "v1"));
    // Long enough later that every target would be a zombie.
    let later = sim.now + 3600 * SEC;
    let err = sim.engine.orchestrate("prod", "app", &reports, later).unwrap_err();
    assert_eq!(err.code(), ErrorCode::HookFailed);
    assert_eq!(err.to_string(), "monitoring check hook failed, the step was not applied: error budget exhausted");
    assert_eq!(sim.engine.snapshot(), before);

    *failing.borrow_mut() = None;
    sim.run_until(100, |s| s.info().last_known_good_version == "v2");
}

struct Failing {
    select: bool,
    approve: bool,
    remove: bool,
    /// Selects new machines (blue/green) instead of available targets.
    create: bool,
}

impl TargetController for Failing {
    fn select(&mut self, ctx: &HookContext<'_>, available: &[TargetView<'_>], count: usize) -> Result<Vec<TargetId>, HookError> {
        if self.select {
            return Err(HookError::new("select broke"));
        }
        // Asks for more than it may (every available target, or more new
        // machines than `count`): the engine takes `count`.
        if self.create {
            return Ok((0..count + 3).map(|i| TargetId::new("", format!("green-{}-{i}", ctx.now))).collect());
        }
        Ok(available.iter().map(TargetView::id).collect())
    }
    fn approve(&mut self, _: &HookContext<'_>, selected: &[TargetView<'_>]) -> Result<Vec<TargetId>, HookError> {
        if self.approve {
            return Err(HookError::new("approve broke"));
        }
        Ok(selected.iter().map(TargetView::id).collect())
    }
    fn remove(&mut self, _: &HookContext<'_>, candidates: &[TargetView<'_>], _: usize) -> Result<Vec<TargetId>, HookError> {
        if self.remove {
            return Err(HookError::new("remove broke"));
        }
        // Asks to remove every candidate: the engine removes at most `count`.
        Ok(candidates.iter().map(TargetView::id).collect())
    }
}

fn with_hook(hook: Failing) -> Sim {
    let mut sim = Sim::new(10, "v1");
    sim.establish("v1", options(20));
    sim.engine.set_target_controller("prod", "app", Some(Box::new(hook))).unwrap();
    sim.set_version("v2");
    sim.step();
    sim
}

/// The `hook_failed` events of the entity's log: (version, detail).
fn hook_failures(sim: &Sim) -> Vec<(String, String)> {
    let events = sim.engine.events("prod", "app", 0, usize::MAX).unwrap();
    events.into_iter().filter(|e| e.kind == EventKind::HookFailed).map(|e| (e.version, e.detail)).collect()
}

#[test]
fn a_failing_selection_hook_selects_nothing() {
    let mut sim = with_hook(Failing { select: true, approve: false, remove: false, create: false });
    let answer = sim.step();
    assert_eq!(count(&answer, TargetState::Waiting), 10);
    // Logged once, however many steps it keeps failing the same way.
    sim.step();
    assert_eq!(hook_failures(&sim), [("v2".to_owned(), "select hook failed: select broke".to_owned())]);
}

#[test]
fn a_failing_approval_hook_assigns_nothing() {
    let mut sim = with_hook(Failing { select: false, approve: true, remove: false, create: false });
    let answer = sim.step();
    assert_eq!(count(&answer, TargetState::HeldBack), 2);
    assert!(answer.iter().all(|e| e.version == "v1"));
    assert_eq!(hook_failures(&sim), [("v2".to_owned(), "approve hook failed: approve broke".to_owned())]);
}

/// A hook failure is logged with how long the hook took when its caller
/// measured it; the same failure again is not logged until something else
/// happened in between, and a different one is.
#[test]
fn hook_failures_are_logged_once_per_episode_with_their_duration() {
    struct Flaky(Rc<RefCell<Option<HookError>>>);
    impl TargetController for Flaky {
        fn select(&mut self, _: &HookContext<'_>, available: &[TargetView<'_>], count: usize) -> Result<Vec<TargetId>, HookError> {
            match self.0.borrow().clone() {
                Some(err) => Err(err),
                None => Ok(available.iter().take(count).map(TargetView::id).collect()),
            }
        }
    }
    let failure = Rc::new(RefCell::new(Some(HookError::new("selection endpoint answered 500").after(12))));
    let mut sim = Sim::new(10, "v1");
    sim.establish("v1", options(20));
    sim.engine.set_target_controller("prod", "app", Some(Box::new(Flaky(failure.clone())))).unwrap();
    sim.set_version("v2");
    sim.step();
    *failure.borrow_mut() = Some(HookError::new("selection endpoint answered 500").after(40));
    sim.step();
    *failure.borrow_mut() = Some(HookError::new("selection endpoint answered 500").after(12));
    sim.step();
    let once = "select hook failed: selection endpoint answered 500 (after 40 ms)";
    assert_eq!(hook_failures(&sim), [("v2".to_owned(), once.to_owned())]);
    *failure.borrow_mut() = Some(HookError::new("no answer within 10000 ms").after(10_000));
    sim.step();
    *failure.borrow_mut() = None;
    sim.step(); // targets move: events of another kind
    *failure.borrow_mut() = Some(HookError::new("selection endpoint answered 500").after(7));
    // Until the moved targets are decided, no slot is free to select for;
    // then it fails at every step, logged once.
    for _ in 0..12 {
        sim.step();
    }
    let details: Vec<String> = hook_failures(&sim).into_iter().map(|(_, d)| d).collect();
    assert_eq!(
        details,
        [
            once,
            "select hook failed: no answer within 10000 ms (after 10000 ms)",
            "select hook failed: selection endpoint answered 500 (after 7 ms)"
        ]
    );
}

#[test]
fn a_selection_larger_than_the_free_slots_is_cut_to_them() {
    let mut sim = with_hook(Failing { select: false, approve: false, remove: false, create: false });
    let answer = sim.step();
    assert_eq!(count(&answer, TargetState::InFlight), 2);
}

#[test]
fn removal_takes_at_most_count_and_a_failing_removal_hook_removes_nothing() {
    for broken in [false, true] {
        let mut sim = Sim::new(10, "v1");
        sim.establish("v1", options(20));
        let hook = Failing { select: false, approve: false, remove: broken, create: true };
        sim.engine.set_target_controller("prod", "app", Some(Box::new(hook))).unwrap();
        sim.set_version("v2");
        // Two new machines (the batch) boot on v2 and succeed at step 9:
        // count = min(batch 2, 2 decided - 0, 2 created).
        let healthy = HashMap::new();
        for _ in 0..9 {
            elastic_step(&mut sim, &healthy);
        }
        let seq = sim.engine.events("prod", "app", 0, usize::MAX).unwrap().last().map_or(0, |e| e.seq);
        let answer = elastic_step(&mut sim, &healthy);
        // Retired targets leave the answer (a controller that echoes it
        // cannot bring them back); the event log names them.
        let removed: Vec<_> = sim
            .engine
            .events("prod", "app", seq, usize::MAX)
            .unwrap()
            .into_iter()
            .filter(|e| e.kind == EventKind::TargetRemoved)
            .map(|e| e.target.unwrap().name)
            .collect();
        assert_eq!(removed.len(), if broken { 0 } else { 2 }, "broken removal hook: {broken}");
        let failures = hook_failures(&sim);
        assert_eq!(!failures.is_empty(), broken);
        assert!(failures.iter().all(|(_, detail)| detail == "remove hook failed: remove broke"));
        // Two more machines replace the next two once two were retired; a
        // failing hook keeps the old two (the fleet grew by its failure,
        // logged), and the rollout goes on.
        assert_eq!(answer.len(), if broken { 14 } else { 12 });
        assert_eq!(answer.iter().filter(|e| e.name.starts_with("green")).count(), 4);
        assert_eq!(count(&answer, TargetState::Removed), 0);
        assert!(answer.iter().all(|e| !removed.contains(&e.name)));
        assert_eq!(sim.engine.expected_state("prod", "app", None).unwrap().len(), answer.len());
    }
}

#[test]
fn a_selection_naming_a_target_without_a_name_selects_nothing() {
    struct Garbage;
    impl TargetController for Garbage {
        fn select(&mut self, _: &HookContext<'_>, _: &[TargetView<'_>], _: usize) -> Result<Vec<TargetId>, HookError> {
            Ok(vec![TargetId::new("", "ok-name"), TargetId::new("eu", "")])
        }
    }
    let mut engine = Engine::new();
    engine.set_target_version("prod", "app", "v1", T0).unwrap();
    engine.set_target_controller("prod", "app", Some(Box::new(Garbage))).unwrap();
    let answer = engine.orchestrate("prod", "app", &[TargetReport::new("a", "v0")], T0).unwrap();
    assert_eq!(answer.len(), 1);
    assert_eq!(answer[0].reason, TargetState::Waiting);
    let events = engine.events("prod", "app", 0, usize::MAX).unwrap();
    let failed = events.iter().find(|e| e.kind == EventKind::HookFailed).expect("logged");
    assert_eq!(failed.detail, "select hook failed: it named a target without a name");
}

#[test]
fn hooks_can_be_removed_again() {
    let mut sim = with_hook(Failing { select: true, approve: false, remove: false, create: false });
    sim.engine.set_target_controller("prod", "app", None).unwrap();
    let answer = sim.step();
    assert_eq!(count(&answer, TargetState::InFlight), 2);
}

/// A controller whose approval is not ready the first `waits` times it is
/// asked: it says so through `deferred`, as the JS binding's asynchronous
/// hooks do.
struct LateApproval {
    waits: usize,
    out: bool,
}

impl TargetController for LateApproval {
    fn approve(&mut self, _: &HookContext<'_>, selected: &[TargetView<'_>]) -> Result<Vec<TargetId>, HookError> {
        if self.waits > 0 {
            self.waits -= 1;
            self.out = true;
            return Ok(Vec::new()); // a stand-in: the step is undone
        }
        Ok(selected.iter().map(TargetView::id).collect())
    }

    fn may_defer(&self) -> bool {
        true
    }

    fn deferred(&mut self) -> bool {
        std::mem::take(&mut self.out)
    }
}

#[test]
fn a_step_a_hook_deferred_is_undone_whole_and_goes_through_once_answered() {
    let mut sim = Sim::new(8, "v1");
    sim.establish("v1", options(25));
    sim.engine.set_target_controller("prod", "app", Some(Box::new(LateApproval { waits: 2, out: false }))).unwrap();
    sim.set_version("v2");
    sim.step(); // closes the v1 rollout: nothing to approve yet
    let before = sim.engine.snapshot();
    for _ in 0..2 {
        let err = sim.engine.orchestrate("prod", "app", &sim.reports(), sim.now).unwrap_err();
        assert_eq!(err.code(), ErrorCode::HookPending);
        assert_eq!(sim.engine.snapshot(), before, "a deferred step changed the state");
    }
    let answer = sim.engine.orchestrate("prod", "app", &sim.reports(), sim.now).unwrap();
    assert_eq!(answer.iter().filter(|e| e.version == "v2").count(), 2, "the batch moved once approved");
}
