//! The Go engine's own tests (nixmade/orchestrator, core/engine_test.go and
//! core/rollout_test.go), replayed through this crate's API in virtual
//! time: the same options, the same calls, the same clock steps (each
//! `time.Sleep` advances the clock), each answer fed back as the next
//! report, and the same assertions, with the Go options as written: this
//! crate's default rollback pace (every moved target at once) replaces a
//! blue/green fleet's machines one for one, as the Go engine's batch pace
//! does.

mod common;

use std::cell::Cell;
use std::rc::Rc;

use common::{SEC, T0};
use orchestrator_engine::{
    Engine, ExpectedState, HookContext, HookError, RolloutOptions, TargetController, TargetId, TargetReport, TargetView,
};

/// The Go engine's `RolloutOptions` (its four fields); the rest default.
fn go_options(batch_percent: u32, success_percent: u32, success_timeout_secs: u64, duration_timeout_secs: u64) -> RolloutOptions {
    RolloutOptions {
        batch_percent,
        success_percent,
        success_timeout_secs,
        duration_timeout_secs,
        ..RolloutOptions::default()
    }
}

/// `DefaultRolloutOptions()` with the timeouts a test sets.
fn go_defaults(success_timeout_secs: u64, duration_timeout_secs: u64) -> RolloutOptions {
    go_options(5, 100, success_timeout_secs, duration_timeout_secs)
}

/// The Go test's engine and clock.
struct Go {
    engine: Engine,
    now: i64,
}

impl Go {
    fn new() -> Self {
        Go { engine: Engine::new(), now: T0 }
    }

    fn sleep(&mut self, secs: i64) {
        self.now += secs * SEC;
    }

    fn options(&mut self, ns: &str, entity: &str, options: RolloutOptions) {
        self.engine.set_rollout_options(ns, entity, Some(options)).unwrap();
    }

    fn version(&mut self, ns: &str, entity: &str, version: &str) {
        self.engine.set_target_version(ns, entity, version, self.now).unwrap();
    }

    /// `engine.Orchestrate`: the answer, as the next report.
    fn orchestrate(&mut self, ns: &str, entity: &str, targets: &[TargetReport]) -> Vec<TargetReport> {
        let answer = self.engine.orchestrate(ns, entity, targets, self.now).unwrap();
        answer.iter().map(as_report).collect()
    }

    fn versions(&self, ns: &str, entity: &str) -> (String, String) {
        let info = self.engine.rollout_info(ns, entity).unwrap();
        (info.last_known_good_version, info.last_known_bad_version)
    }
}

fn as_report(e: &ExpectedState) -> TargetReport {
    let mut report = TargetReport::new(&e.name, &e.version).in_group(&e.group);
    report.message = e.message.clone();
    report.is_error = e.is_error;
    report
}

fn client_target(i: usize) -> TargetReport {
    let mut report = TargetReport::new(format!("clientTarget{i}"), "v1");
    report.message = "running successfully".into();
    report
}

/// `setupNamespace`: v1 made good at once (`successPercent: 0`), then v2
/// set and one call that makes it the rolling version.
fn setup_namespace(go: &mut Go, ns: &str, entity: &str, n: usize) -> Vec<TargetReport> {
    go.options(ns, entity, go_options(100, 0, 0, 0));
    go.version(ns, entity, "v1");
    let targets: Vec<_> = (0..n).map(client_target).collect();
    go.orchestrate(ns, entity, &targets);
    go.sleep(1);
    go.options(ns, entity, go_defaults(0, 120));
    go.version(ns, entity, "v2");
    go.orchestrate(ns, entity, &targets);
    targets
}

fn version_count(targets: &[TargetReport], version: &str) -> usize {
    targets.iter().filter(|t| t.version == version).count()
}

/// `markTargetVersionBad`: the targets on `version`, now reporting errors.
fn mark_bad(targets: &mut [TargetReport], version: &str) -> Vec<TargetReport> {
    for t in targets.iter_mut().filter(|t| t.version == version) {
        t.is_error = true;
        t.message = "New version just doesnt work".into();
    }
    targets.iter().filter(|t| t.version == version).cloned().collect()
}

fn rollout_orchestrate(go: &mut Go, ns: &str, entity: &str, mut targets: Vec<TargetReport>) {
    go.options(ns, entity, go_defaults(0, 10));
    for i in 1..=3 {
        targets = go.orchestrate(ns, entity, &targets);
        assert_eq!(version_count(&targets, "v2"), i, "expected inRollout {i}");
        go.sleep(1);
        targets = go.orchestrate(ns, entity, &targets);
        go.sleep(1);
    }
    go.orchestrate(ns, entity, &targets);
    assert_eq!(go.versions(ns, entity).0, "v2");
}

fn rollback_orchestrate(go: &mut Go, ns: &str, entity: &str, targets: Vec<TargetReport>) {
    go.options(ns, entity, go_defaults(0, 2));
    let mut targets = go.orchestrate(ns, entity, &targets);
    let in_rollout = mark_bad(&mut targets, "v2");
    assert_eq!(in_rollout.len(), 1);
    let mut targets = go.orchestrate(ns, entity, &in_rollout);
    mark_bad(&mut targets, "v2");
    go.sleep(3);
    // "This would mark it as last bad"
    let mut targets = go.orchestrate(ns, entity, &targets);
    mark_bad(&mut targets, "v2");
    // "This would start the rollback process"
    let targets = go.orchestrate(ns, entity, &targets);
    assert_eq!(version_count(&targets, "v1"), targets.len(), "every target rolled back to lkg");
    assert_eq!(go.versions(ns, entity), ("v1".to_owned(), "v2".to_owned()));
}

#[test]
fn test_rollback_entity_orchestrate() {
    let mut go = Go::new();
    let targets = setup_namespace(&mut go, "TestRollbackEntityOrchestrate", "NewEntity", 3);
    rollback_orchestrate(&mut go, "TestRollbackEntityOrchestrate", "NewEntity", targets);
}

#[test]
fn test_rollout_entity_orchestrate() {
    let mut go = Go::new();
    let targets = setup_namespace(&mut go, "TestBasicEntityOrchestrate", "NewEntity", 3);
    rollout_orchestrate(&mut go, "TestBasicEntityOrchestrate", "NewEntity", targets);
}

/// `TestMultipleNamespaceEntity*`: the same test on three entities of two
/// namespaces, one after the other, in one engine.
fn on_three_entities(prefix: &str, test: fn(&mut Go, &str, &str, Vec<TargetReport>)) {
    let mut go = Go::new();
    let second = format!("{prefix}2");
    for (ns, entity) in [(prefix, "NewEntity"), (prefix, "NewEntity2"), (second.as_str(), "NewEntity")] {
        let targets = setup_namespace(&mut go, ns, entity, 3);
        test(&mut go, ns, entity, targets);
    }
}

#[test]
fn test_multiple_namespace_entity_rollout() {
    on_three_entities("TestMultipleNamespaceEntityRollout", rollout_orchestrate);
}

#[test]
fn test_multiple_namespace_entity_rollback() {
    on_three_entities("TestMultipleNamespaceEntityRollback", rollback_orchestrate);
}

#[test]
fn test_engine_save_load() {
    // The Go engine saves to its store and a new engine loads it; here the
    // store is a snapshot.
    let mut go = Go::new();
    let targets = setup_namespace(&mut go, "TestBasicEntityOrchestrate", "NewEntity", 3);
    rollout_orchestrate(&mut go, "TestBasicEntityOrchestrate", "NewEntity", targets);
    let loaded = Engine::restore(&go.engine.snapshot()).unwrap();
    assert_eq!(loaded.rollout_info("TestBasicEntityOrchestrate", "NewEntity").unwrap().last_known_good_version, "v2");
}

/// `CustomEngineTestController`: selection creates new machines
/// (`clientTarget{n}`, on v1), removal retires the first candidate only.
struct CustomEngineTestController {
    cur_target_num: Rc<Cell<usize>>,
}

impl TargetController for CustomEngineTestController {
    fn select(&mut self, _: &HookContext<'_>, _: &[TargetView<'_>], selection: usize) -> Result<Vec<TargetId>, HookError> {
        let from = self.cur_target_num.get();
        self.cur_target_num.set(from + selection);
        Ok((from..from + selection).map(|i| TargetId::new("", format!("clientTarget{i}"))).collect())
    }

    fn remove(&mut self, _: &HookContext<'_>, targets: &[TargetView<'_>], selection: usize) -> Result<Vec<TargetId>, HookError> {
        Ok(targets.iter().take(selection.min(1)).map(TargetView::id).collect())
    }
}

fn with_controller(go: &mut Go, ns: &str, entity: &str, n: usize) -> Rc<Cell<usize>> {
    let cur = Rc::new(Cell::new(n));
    let controller = CustomEngineTestController { cur_target_num: cur.clone() };
    go.engine.set_target_controller(ns, entity, Some(Box::new(controller))).unwrap();
    cur
}

#[test]
fn test_blue_green_rollout() {
    let (ns, entity, n) = ("TestBlueGreenRollout", "NewEntity", 3);
    let mut go = Go::new();
    let targets = setup_namespace(&mut go, ns, entity, n);
    go.options(ns, entity, go_defaults(0, 10));
    let cur = with_controller(&mut go, ns, entity, n);
    let mut targets = go.orchestrate(ns, entity, &targets);
    for i in 1..=3 {
        assert_eq!(version_count(&targets, "v2"), i, "expected inRollout {i}");
        go.sleep(1);
        targets = go.orchestrate(ns, entity, &targets);
        go.sleep(1);
        targets = go.orchestrate(ns, entity, &targets);
    }
    let targets = go.orchestrate(ns, entity, &targets);
    // "At end of the rollout we want any new targets to be removed"
    assert_eq!(targets.len(), n);
    for i in n..cur.get() {
        assert!(targets.iter().any(|t| t.name == format!("clientTarget{i}")), "clientTarget{i} present");
    }
    assert_eq!(go.versions(ns, entity).0, "v2");
}

#[test]
fn test_blue_green_rollback() {
    let (ns, entity, n) = ("TestBlueGreenRollback", "NewEntity", 3);
    let mut go = Go::new();
    let targets = setup_namespace(&mut go, ns, entity, n);
    go.options(ns, entity, go_defaults(0, 2));
    with_controller(&mut go, ns, entity, n);
    let targets = go.orchestrate(ns, entity, &targets);
    assert_eq!(version_count(&targets, "v2"), 1);
    go.sleep(1);
    let targets = go.orchestrate(ns, entity, &targets);
    go.sleep(1);
    let mut targets = go.orchestrate(ns, entity, &targets);
    assert_eq!(version_count(&targets, "v2"), 2);
    go.sleep(3);
    mark_bad(&mut targets, "v2");
    let mut targets = go.orchestrate(ns, entity, &targets);
    assert_eq!(version_count(&targets, "v1"), 2);
    mark_bad(&mut targets, "v2");
    let targets = go.orchestrate(ns, entity, &targets);
    let targets = go.orchestrate(ns, entity, &targets);
    assert_eq!(targets.len(), n);
    let old = (0..n).filter(|i| targets.iter().any(|t| t.name == format!("clientTarget{i}"))).count();
    assert_eq!(old, 2, "old clientTargets");
    assert_eq!(go.versions(ns, entity), ("v1".to_owned(), "v2".to_owned()));
}

// ---- core/rollout_test.go, through the public API ---------------------

/// `setupEntity`: ten targets settled on v1.
fn setup_entity(go: &mut Go, options: RolloutOptions) -> Vec<TargetReport> {
    let targets: Vec<_> = (0..10).map(client_target).collect();
    go.options("ns", "TestCreateEntity", go_options(100, 0, 0, 0));
    go.version("ns", "TestCreateEntity", "v1");
    go.orchestrate("ns", "TestCreateEntity", &targets);
    go.options("ns", "TestCreateEntity", options);
    targets
}

/// Sets `version` and makes it the rolling version (the Go tests set
/// `RollingVersion` directly; here the call after a target version is set
/// does, assigning nothing).
fn roll(go: &mut Go, ns: &str, entity: &str, version: &str, targets: &[TargetReport]) {
    go.version(ns, entity, version);
    go.orchestrate(ns, entity, targets);
    assert_eq!(go.engine.rollout_info(ns, entity).unwrap().rolling_version, version);
}

#[test]
fn test_select_targets_and_rollout_new_targets() {
    // Rolling v2 over LKG v1 at 50%: five targets are selected and assigned.
    let mut go = Go::new();
    let targets = setup_entity(&mut go, go_options(50, 100, 60, 120));
    roll(&mut go, "ns", "TestCreateEntity", "v2", &targets);
    go.sleep(1);
    let answer = go.orchestrate("ns", "TestCreateEntity", &targets);
    assert_eq!(version_count(&answer, "v2"), 5);
}

#[test]
fn test_update_last_known_versions() {
    // Every target succeeded on v2: good. Every one failed: bad.
    for (broken, want) in [(false, ("v2", "")), (true, ("v1", "v2"))] {
        let mut go = Go::new();
        let targets = setup_entity(&mut go, go_options(100, 100, 0, 10));
        roll(&mut go, "ns", "TestCreateEntity", "v2", &targets);
        go.sleep(1);
        let mut answer = go.orchestrate("ns", "TestCreateEntity", &targets);
        for _ in 0..12 {
            if broken {
                mark_bad(&mut answer, "v2");
            }
            go.sleep(1);
            answer = go.orchestrate("ns", "TestCreateEntity", &answer);
        }
        assert_eq!(go.versions("ns", "TestCreateEntity"), (want.0.to_owned(), want.1.to_owned()));
    }
}

#[test]
fn test_monitor_targets() {
    // Settled on v1 with a 0 s success timeout: every target succeeds;
    // reporting errors past a 0 s deadline: every one fails.
    let mut go = Go::new();
    let targets = setup_entity(&mut go, go_options(100, 100, 0, 0));
    go.sleep(1);
    let answer = go.engine.orchestrate("ns", "TestCreateEntity", &targets, go.now).unwrap();
    assert!(answer.iter().all(|e| e.reason == orchestrator_engine::TargetState::Succeeded));
    go.options("ns", "TestCreateEntity", go_options(100, 100, 900, 900));
    roll(&mut go, "ns", "TestCreateEntity", "v2", &targets);
    let mut answer = go.orchestrate("ns", "TestCreateEntity", &targets);
    mark_bad(&mut answer, "v2");
    go.options("ns", "TestCreateEntity", go_options(100, 100, 0, 0));
    go.sleep(1);
    go.orchestrate("ns", "TestCreateEntity", &answer);
    assert_eq!(go.versions("ns", "TestCreateEntity"), ("v1".to_owned(), "v2".to_owned()));
}

#[test]
fn test_update_rolling_version() {
    // Rolling v1 = LKG, target v2: the next call rolls v2.
    let mut go = Go::new();
    let targets = setup_entity(&mut go, go_options(100, 100, 0, 0));
    go.version("ns", "TestCreateEntity", "v2");
    go.orchestrate("ns", "TestCreateEntity", &targets);
    assert_eq!(go.engine.rollout_info("ns", "TestCreateEntity").unwrap().rolling_version, "v2");
}

#[test]
fn test_force_rolling_version() {
    // Rolling v1 over LKG v0, forced to v2: v1 becomes last known bad. The
    // Go engine then rolls v2 at once; here v2 starts once v1's targets are
    // back on v0 (README: a rollback finishes before the next version).
    let mut go = Go::new();
    let targets: Vec<_> = (0..10).map(|i| TargetReport::new(format!("clientTarget{i}"), "v0")).collect();
    go.options("ns", "e", go_options(100, 0, 0, 0));
    go.version("ns", "e", "v0");
    go.orchestrate("ns", "e", &targets);
    go.options("ns", "e", go_options(50, 100, 60, 120));
    roll(&mut go, "ns", "e", "v1", &targets);
    let answer = go.orchestrate("ns", "e", &targets);
    assert_eq!(version_count(&answer, "v1"), 5);
    go.engine.force_target_version("ns", "e", "v2", go.now).unwrap();
    assert_eq!(go.versions("ns", "e"), ("v0".to_owned(), "v1".to_owned()));
    let mut answer = answer;
    for _ in 0..10 {
        go.sleep(61);
        answer = go.orchestrate("ns", "e", &answer);
        if go.engine.rollout_info("ns", "e").unwrap().rolling_version == "v2" {
            break;
        }
    }
    assert_eq!(go.engine.rollout_info("ns", "e").unwrap().rolling_version, "v2");
    assert_eq!(version_count(&answer, "v1"), 0, "v2 starts once v1's targets are back");
}

