//! Snapshots (SPEC section 5): exact, canonical, versioned, and never a
//! panic on bytes that are not one.

mod common;

use common::{Behaviour, Sim, SEC, T0};
use orchestrator_engine::{
    Amount, Analysis, AnalysisPhase, Arg, ControllerKind, Engine, ErrorCode, EventKind, HookContext, HookError, MeasureRequest, Measured,
    Metric, MetricProvider, MetricValue, Outcome, PlanStep, RolloutOptions, TargetController, TargetId, TargetReport, TargetState, TargetView,
    SNAPSHOT_FORMAT_VERSION,
};
use proptest::prelude::*;

const GOLDEN_V1: &str = "tests/fixtures/snapshot-v1.bin";
const GOLDEN_V2: &str = "tests/fixtures/snapshot-v2.bin";
const GOLDEN_V3: &str = "tests/fixtures/snapshot-v3.bin";
const GOLDEN_V4: &str = "tests/fixtures/snapshot-v4.bin";
const GOLDEN_V5: &str = "tests/fixtures/snapshot-v5.bin";
const GOLDEN_V6: &str = "tests/fixtures/snapshot-v6.bin";
const GOLDEN_ENTITY_V4: &str = "tests/fixtures/entity-v4.bin";
const GOLDEN_ENTITY_V5: &str = "tests/fixtures/entity-v5.bin";
const GOLDEN_ENTITY_V6: &str = "tests/fixtures/entity-v6.bin";
const GOLDEN_V7: &str = "tests/fixtures/snapshot-v7.bin";
const GOLDEN_ENTITY_V7: &str = "tests/fixtures/entity-v7.bin";

struct RejectHost3;
impl TargetController for RejectHost3 {
    fn monitor(&mut self, _: &HookContext<'_>, t: &TargetView<'_>) -> Result<(), HookError> {
        if t.name == "host-003" {
            return Err(HookError::new("disk full"));
        }
        Ok(())
    }
}

/// A state that exercises every part of the format: two namespaces, groups,
/// tags, messages, errors, a monitor failure, a rollback in progress.
fn golden_engine() -> Engine {
    let mut sim = Sim::new(8, "v1");
    for (i, h) in sim.hosts.iter_mut().enumerate() {
        h.group = if i % 2 == 0 { "eu".into() } else { "us".into() };
    }
    let options = RolloutOptions {
        batch_percent: 25,
        success_percent: 75,
        success_timeout_secs: 30,
        duration_timeout_secs: 90,
        ..Default::default()
    };
    sim.establish("v1", options);
    sim.engine.set_target_controller("prod", "app", Some(Box::new(RejectHost3))).unwrap();
    sim.hosts[4].behaviour.insert("v2".into(), Behaviour::Broken);
    sim.set_version("v2");
    sim.run_until(100, |s| s.info().last_known_bad_version == "v2");
    sim.step();
    sim.engine.set_target_version("staging", "worker", "w7", sim.now).unwrap();
    let tagged = TargetReport { tags: vec!["canary".into(), "arm64".into()], ..TargetReport::new("w-1", "w6").with_message("booting") };
    sim.engine.orchestrate("staging", "worker", &[tagged], T0).unwrap();
    sim.engine
}

/// The golden engine plus format 2's state: a plan with a bake and a gate
/// under way, a paused entity, a version in its watch window, event logs
/// (one of them trimmed) and histories; and format 4's: an error timeout,
/// a plan read as totals.
fn golden_v4_engine() -> Engine {
    let mut sim = Sim::new(6, "c1");
    sim.engine = golden_engine();
    sim.ns = "edge".into();
    sim.entity = "canary".into();
    let steps =
        vec![PlanStep::new(Amount::Count(1)).bake(300), PlanStep::new(Amount::Percent(50)).gated(), PlanStep::new(Amount::Percent(100))];
    sim.establish("c1", RolloutOptions { max_events: 40, ..Default::default() });
    sim.options(RolloutOptions {
        steps,
        max_failures: Some(Amount::Percent(10)),
        max_consecutive_failures: Some(2),
        watch_secs: 900,
        rollback_batch_percent: Some(50),
        max_events: 40,
        error_timeout_secs: Some(45),
        ..Default::default()
    });
    sim.set_version("c2");
    sim.run_until(100, |s| s.info().step == Some(1));
    sim.engine.pause("edge", "canary", sim.now).unwrap();
    sim.step();
    let mut watched = Sim::new(3, "w1");
    watched.ns = "edge".into();
    watched.entity = "watched".into();
    watched.engine = sim.engine;
    watched.establish("w1", RolloutOptions { batch_percent: 100, ..Default::default() });
    watched.options(RolloutOptions { batch_percent: 100, watch_secs: 3600, ..Default::default() });
    watched.set_version("w2");
    watched.run_until(50, |s| s.info().watch_until.is_some());
    watched.engine
}

/// The golden v4 engine plus format 5's state: the settings of the
/// canary's two controllers (the JS package's HTTP controllers).
fn golden_v5_engine() -> Engine {
    let mut engine = golden_v4_engine();
    let target = r#"{"approval":"https://ci.example/approve","headers":{"authorization":"Bearer t0ken"},"timeoutMs":5000}"#;
    engine.set_controller_settings("edge", "canary", ControllerKind::Target, Some(target)).unwrap();
    engine
        .set_controller_settings("edge", "canary", ControllerKind::Monitoring, Some(r#"{"externalmonitoring":"http://127.0.0.1:9/check"}"#))
        .unwrap();
    engine
}

/// Blue/green: a selection hook that creates a machine for each one it is
/// asked for, and counts them.
struct Creates(std::rc::Rc<std::cell::Cell<usize>>);
impl TargetController for Creates {
    fn select(&mut self, _: &HookContext<'_>, _: &[TargetView<'_>], count: usize) -> Result<Vec<TargetId>, HookError> {
        let from = self.0.get();
        self.0.set(from + count);
        Ok((from..from + count).map(|i| TargetId::new("green", format!("machine-{i}"))).collect())
    }
}

/// A blue/green rollout of 4 machines at 50% whose first 2 new machines
/// were created and none retired yet: a surge of 2.
fn surging() -> Sim {
    let mut sim = Sim::new(4, "b1");
    sim.ns = "fleet".into();
    sim.entity = "bluegreen".into();
    sim.establish("b1", RolloutOptions { batch_percent: 50, ..Default::default() });
    let created = std::rc::Rc::new(std::cell::Cell::new(0));
    sim.engine.set_target_controller("fleet", "bluegreen", Some(Box::new(Creates(created.clone())))).unwrap();
    sim.set_version("b2");
    // The first step makes b2 the rolling version, the second creates.
    sim.step();
    sim.step();
    assert_eq!(created.get(), 2);
    sim
}

/// An entity whose v2 was good and that an operator returned to v1
/// (`rollbackTo`), before the step that sends its targets back.
fn returned() -> Sim {
    let mut sim = Sim::new(3, "r1");
    sim.ns = "fleet".into();
    sim.entity = "returned".into();
    sim.establish("r1", RolloutOptions { batch_percent: 100, success_timeout_secs: 10, ..Default::default() });
    sim.set_version("r2");
    sim.run_until(50, |s| s.info().last_known_good_version == "r2" && s.hosts.iter().all(|h| h.running == "r2"));
    assert!(sim.engine.rollback_to("fleet", "returned", "r1", sim.now).unwrap());
    sim
}

/// The golden v5 engine plus format 6's state: an entity whose blue/green
/// rollout created machines that no retirement balanced yet, and one an
/// operator's rollbackTo is sending back.
fn golden_v6_engine() -> Engine {
    let mut engine = golden_v5_engine();
    engine.restore_entity(&surging().engine.snapshot_entity("fleet", "bluegreen").unwrap()).unwrap();
    engine.restore_entity(&returned().engine.snapshot_entity("fleet", "returned").unwrap()).unwrap();
    engine
}

/// A provider that measures the same ratio for every request.
struct Fixed(f64);

impl MetricProvider for Fixed {
    fn measure(&mut self, _: &HookContext<'_>, request: &MeasureRequest<'_>) -> Result<Measured, HookError> {
        let value = MetricValue::List(vec![MetricValue::Number(self.0)]);
        Ok(Measured { warnings: vec!["partial data".into()], ..Measured::of(value, &format!("rate{{metric=\"{}\"}}", request.metric)) })
    }
}

/// An entity whose background analysis measured its rollout, with an
/// inline analysis on its first plan step still to come.
fn analysed() -> Sim {
    let metric = Metric {
        interval_secs: Some(30),
        success_condition: Some("result[0] < {{args.limit}}".into()),
        no_data: AnalysisPhase::Failed,
        ..Metric::new("errors", r#"{"prometheus":{"address":"http://127.0.0.1:9090","query":"rate[{{args.window}}]"}}"#)
    };
    let args = vec![Arg { name: "limit".into(), value: Some("0.05".into()) }, Arg { name: "window".into(), value: Some("5m".into()) }];
    let background = Analysis { metrics: vec![metric.clone()], args: args.clone(), starting_step: None };
    let gate = Analysis { metrics: vec![Metric { name: "gate".into(), dry_run: true, retention: 3, ..metric }], args, starting_step: None };
    let steps = vec![PlanStep { analysis: Some(Box::new(gate)), ..PlanStep::new(Amount::Count(2)) }, PlanStep::new(Amount::Percent(100))];
    let mut sim = Sim::new(4, "a1");
    sim.ns = "fleet".into();
    sim.entity = "analysed".into();
    sim.establish("a1", RolloutOptions { steps, analysis: Some(Box::new(background)), ..Default::default() });
    sim.engine.set_metric_provider(Some(Box::new(Fixed(0.01))));
    sim.set_version("a2");
    for _ in 0..12 {
        sim.step();
    }
    sim
}

/// The golden v6 engine plus format 7's state: an entity under analysis.
fn golden_v7_engine() -> Engine {
    let mut engine = golden_v6_engine();
    engine.restore_entity(&analysed().engine.snapshot_entity("fleet", "analysed").unwrap()).unwrap();
    engine
}

#[test]
fn the_golden_v7_snapshot_restores_and_re_encodes_byte_for_byte() {
    if std::env::var_os("REGENERATE_GOLDEN").is_some() {
        std::fs::write(GOLDEN_V7, golden_v7_engine().snapshot()).unwrap();
    }
    let bytes = std::fs::read(GOLDEN_V7).expect("the golden snapshot is committed");
    assert_eq!(u16::from_le_bytes([bytes[8], bytes[9]]), 7);
    let engine = Engine::restore(&bytes).unwrap();
    // Canonical: the same state gives the same bytes, built or restored.
    assert_eq!(engine.snapshot(), bytes);
    assert_eq!(golden_v7_engine().snapshot(), bytes);
    // The runs came back with their measurements, and the restored
    // rollout measures on as the original does.
    let runs = engine.analysis("fleet", "analysed").unwrap();
    assert!(runs.iter().any(|r| r.metrics[0].measurements.len() >= 2), "{runs:?}");
    let mut original = analysed();
    let mut restored = Sim { engine, ..analysed() };
    restored.engine.set_metric_provider(Some(Box::new(Fixed(0.01))));
    for _ in 0..20 {
        assert_eq!(restored.step(), original.step());
    }
    assert_eq!(restored.engine.analysis("fleet", "analysed").unwrap(), original.engine.analysis("fleet", "analysed").unwrap());
}

/// Format 6 (written before analysis) restores to the same state, and
/// writes it as the current format.
#[test]
fn the_golden_v6_snapshot_restores_to_the_same_state() {
    if std::env::var_os("REGENERATE_GOLDEN_V6").is_some() {
        std::fs::write(GOLDEN_V6, golden_v6_engine().snapshot()).unwrap();
    }
    let bytes = std::fs::read(GOLDEN_V6).expect("the golden snapshot is committed");
    assert_eq!(u16::from_le_bytes([bytes[8], bytes[9]]), 6);
    let engine = Engine::restore(&bytes).unwrap();
    assert_eq!(engine.snapshot(), golden_v6_engine().snapshot());
    // The surge came back with it: the restored rollout, given its hook
    // again, creates no machine until two are retired (its batch is 2),
    // as the original does.
    let mut original = surging();
    let created = std::rc::Rc::new(std::cell::Cell::new(0));
    let mut restored = Sim { engine, ..surging() };
    restored.engine.set_target_controller("fleet", "bluegreen", Some(Box::new(Creates(created.clone())))).unwrap();
    for _ in 0..3 {
        assert_eq!(restored.step(), original.step());
    }
    assert_eq!(created.get(), 0, "the restored rollout created machines beyond its surge");
    // The rollbackTo under way is told as one, restored or not.
    let mut original = returned();
    let mut restored = Sim { engine: Engine::restore(&bytes).unwrap(), ..returned() };
    let answer = restored.step();
    assert_eq!(answer, original.step());
    assert!(answer.iter().all(|e| e.message == "rolling back to r1: an operator's rollbackTo left r2"), "{answer:?}");
}

/// Format 5 (written before the surge) restores to the same state, and
/// writes it as the current format.
#[test]
fn the_golden_v5_snapshot_restores_to_the_same_state() {
    if std::env::var_os("REGENERATE_GOLDEN_V5").is_some() {
        std::fs::write(GOLDEN_V5, golden_v5_engine().snapshot()).unwrap();
    }
    let bytes = std::fs::read(GOLDEN_V5).expect("the golden snapshot is committed");
    assert_eq!(u16::from_le_bytes([bytes[8], bytes[9]]), 5);
    let engine = Engine::restore(&bytes).unwrap();
    let target = engine.controller_settings("edge", "canary", ControllerKind::Target).unwrap().unwrap();
    assert!(target.contains("https://ci.example/approve"), "{target}");
    assert_eq!(
        engine.controller_settings("edge", "canary", ControllerKind::Monitoring).unwrap(),
        Some(r#"{"externalmonitoring":"http://127.0.0.1:9/check"}"#)
    );
    assert_eq!(engine.controller_settings("edge", "watched", ControllerKind::Target).unwrap(), None);
    // The same state as the engine that wrote it, now in format 6.
    let again = engine.snapshot();
    assert_eq!(u16::from_le_bytes([again[8], again[9]]), SNAPSHOT_FORMAT_VERSION);
    assert_eq!(again, golden_v5_engine().snapshot());
    // The state under the settings is format 4's golden state.
    let mut without = engine;
    without.set_controller_settings("edge", "canary", ControllerKind::Target, None).unwrap();
    without.set_controller_settings("edge", "canary", ControllerKind::Monitoring, None).unwrap();
    assert_same_rollouts(&without, &Engine::restore(&std::fs::read(GOLDEN_V4).unwrap()).unwrap());
}

#[test]
fn controller_settings_are_bounded_and_need_names() {
    let mut engine = Engine::new();
    let long = "x".repeat(orchestrator_engine::MAX_CONTROLLER_SETTINGS + 1);
    for bad in ["", long.as_str()] {
        let err = engine.set_controller_settings("p", "e", ControllerKind::Target, Some(bad)).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidArgument, "{err}");
    }
    assert!(engine.namespaces().is_empty(), "nothing created");
    let err = engine.set_controller_settings("", "e", ControllerKind::Target, Some("{}")).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidName);
    assert_eq!(engine.controller_settings("p", "e", ControllerKind::Target).unwrap_err().code(), ErrorCode::NotFound);
}

/// Whether two engines hold the same rollouts, apart from the wording of
/// event details and messages and the version the rollback_started event
/// names (both changed since format 4's goldens were written: issue 19).
fn assert_same_rollouts(a: &Engine, b: &Engine) {
    assert_eq!(a.namespaces(), b.namespaces());
    for ns in a.namespaces() {
        assert_eq!(a.entities(&ns).unwrap(), b.entities(&ns).unwrap());
        for entity in a.entities(&ns).unwrap() {
            let at = format!("{ns}/{entity}");
            assert_eq!(a.rollout_info(&ns, &entity).unwrap(), b.rollout_info(&ns, &entity).unwrap(), "{at}");
            assert_eq!(a.history(&ns, &entity).unwrap(), b.history(&ns, &entity).unwrap(), "{at}");
            let targets = |e: &Engine| -> Vec<_> {
                e.expected_state(&ns, &entity, None).unwrap().into_iter().map(|t| (t.group, t.name, t.version, t.reason, t.is_error)).collect()
            };
            assert_eq!(targets(a), targets(b), "{at}");
            let events = |e: &Engine| -> Vec<_> {
                e.events(&ns, &entity, 0, usize::MAX)
                    .unwrap()
                    .into_iter()
                    .map(|ev| (ev.seq, ev.time, ev.kind, if ev.kind == EventKind::RollbackStarted { String::new() } else { ev.version }, ev.target, ev.detail.is_empty()))
                    .collect()
            };
            assert_eq!(events(a), events(b), "{at}");
            for kind in [ControllerKind::Target, ControllerKind::Monitoring] {
                assert_eq!(a.controller_settings(&ns, &entity, kind).unwrap(), b.controller_settings(&ns, &entity, kind).unwrap(), "{at}");
            }
        }
    }
}

/// Format 4 (written before controller settings) restores to the same
/// state, and writes it as the current format.
#[test]
fn the_golden_v4_snapshot_restores_to_the_same_state() {
    if std::env::var_os("REGENERATE_GOLDEN_V4").is_some() {
        std::fs::write(GOLDEN_V4, golden_v4_engine().snapshot()).unwrap();
    }
    let bytes = std::fs::read(GOLDEN_V4).expect("the golden snapshot is committed");
    assert_eq!(u16::from_le_bytes([bytes[8], bytes[9]]), 4);
    let engine = Engine::restore(&bytes).unwrap();
    let canary = engine.rollout_info("edge", "canary").unwrap();
    assert!(canary.paused);
    assert_eq!(canary.step, Some(1));
    assert!(canary.awaiting_approval);
    assert_eq!(canary.options.steps.len(), 3);
    assert_eq!(canary.options.max_failures, Some(Amount::Percent(10)));
    assert_eq!(canary.options.error_timeout_secs, Some(45));
    let events = engine.events("edge", "canary", 0, usize::MAX).unwrap();
    assert!(!events.is_empty() && events.len() <= 40);
    assert!(events.iter().any(|e| e.kind == EventKind::Paused));
    let watched = engine.rollout_info("edge", "watched").unwrap();
    assert!(watched.watch_until.is_some());
    let history = engine.history("edge", "watched").unwrap();
    assert_eq!(history.last().unwrap().outcome, Outcome::Watching);

    // The same state as the engine that wrote it, now in format 5.
    let again = engine.snapshot();
    assert_eq!(u16::from_le_bytes([again[8], again[9]]), SNAPSHOT_FORMAT_VERSION);
    assert_same_rollouts(&Engine::restore(&again).unwrap(), &golden_v4_engine());
    assert_eq!(engine.controller_settings("edge", "canary", ControllerKind::Target).unwrap(), None);

    // And it goes on, its plan read as totals: approving and resuming
    // moves step 2 to 3 of 6 targets ("50%"), then finishes the canary.
    let mut sim = resumed_canary(engine);
    sim.step();
    assert_eq!(expecting(&sim, "c2"), 3);
    sim.run_until(100, |s| s.info().last_known_good_version == "c2");
}

#[test]
fn the_golden_v4_entity_snapshot_restores_to_the_same_entity() {
    let bytes = std::fs::read(GOLDEN_ENTITY_V4).expect("the golden entity snapshot is committed");
    let mut engine = Engine::new();
    assert_eq!(engine.restore_entity(&bytes).unwrap(), ("edge".to_owned(), "canary".to_owned()));
    let mut alone = Engine::new();
    alone.restore_entity(&golden_v4_engine().snapshot_entity("edge", "canary").unwrap()).unwrap();
    assert_same_rollouts(&engine, &alone);
}

#[test]
fn the_golden_v5_entity_snapshot_restores_to_the_same_entity() {
    let bytes = std::fs::read(GOLDEN_ENTITY_V5).expect("the golden entity snapshot is committed");
    let mut engine = Engine::new();
    engine.restore_entity(&bytes).unwrap();
    assert_eq!(engine.snapshot_entity("edge", "canary").unwrap(), golden_v5_engine().snapshot_entity("edge", "canary").unwrap());
}

#[test]
fn the_golden_v6_entity_snapshot_restores_to_the_same_entity() {
    let bytes = std::fs::read(GOLDEN_ENTITY_V6).expect("the golden entity snapshot is committed");
    let mut engine = Engine::new();
    engine.restore_entity(&bytes).unwrap();
    assert_eq!(engine.snapshot_entity("edge", "canary").unwrap(), golden_v6_engine().snapshot_entity("edge", "canary").unwrap());
}

#[test]
fn the_golden_entity_snapshot_restores_alone_and_re_encodes_byte_for_byte() {
    if std::env::var_os("REGENERATE_GOLDEN").is_some() {
        std::fs::write(GOLDEN_ENTITY_V7, golden_v7_engine().snapshot_entity("edge", "canary").unwrap()).unwrap();
    }
    let bytes = std::fs::read(GOLDEN_ENTITY_V7).expect("the golden entity snapshot is committed");
    let whole = Engine::restore(&std::fs::read(GOLDEN_V7).unwrap()).unwrap();
    let mut engine = Engine::new();
    assert_eq!(engine.restore_entity(&bytes).unwrap(), ("edge".to_owned(), "canary".to_owned()));
    assert_eq!(engine.namespaces(), ["edge"]);
    assert_eq!(engine.entities("edge").unwrap(), ["canary"]);
    assert_eq!(engine.rollout_info("edge", "canary").unwrap(), whole.rollout_info("edge", "canary").unwrap());
    assert_eq!(engine.events("edge", "canary", 0, usize::MAX).unwrap(), whole.events("edge", "canary", 0, usize::MAX).unwrap());
    assert_eq!(engine.expected_state("edge", "canary", None).unwrap(), whole.expected_state("edge", "canary", None).unwrap());
    // Canonical, and the same bytes as the entity taken from the whole.
    assert_eq!(engine.snapshot_entity("edge", "canary").unwrap(), bytes);
    assert_eq!(whole.snapshot_entity("edge", "canary").unwrap(), bytes);
    // It goes on exactly as the canary of the whole engine does.
    let (mut alone, mut within) = (resumed_canary(engine), resumed_canary(whole));
    for _ in 0..40 {
        assert_eq!(alone.step(), within.step());
    }
    assert_eq!(alone.engine.snapshot_entity("edge", "canary").unwrap(), within.engine.snapshot_entity("edge", "canary").unwrap());
}

#[test]
fn a_whole_snapshot_splits_into_entities_and_joins_back_to_the_same_bytes() {
    let golden = std::fs::read(GOLDEN_V7).unwrap();
    let parts = Engine::split_snapshot(&golden).unwrap();
    let names: Vec<(&str, &str)> = parts.iter().map(|(ns, e, _)| (ns.as_str(), e.as_str())).collect();
    let expected =
        [("edge", "canary"), ("edge", "watched"), ("fleet", "analysed"), ("fleet", "bluegreen"), ("fleet", "returned"), ("prod", "app"), ("staging", "worker")];
    assert_eq!(names, expected);
    assert_eq!(parts[0].2, std::fs::read(GOLDEN_ENTITY_V7).unwrap());
    // In any order.
    assert_eq!(Engine::join_snapshots(parts.iter().rev().map(|(_, _, b)| b.as_slice())).unwrap(), golden);
    let twice = Engine::join_snapshots([parts[1].2.as_slice(), parts[2].2.as_slice(), parts[1].2.as_slice()]).unwrap_err();
    assert_eq!(twice.code(), ErrorCode::InvalidSnapshot);
    assert!(twice.to_string().contains("edge/watched appears twice"), "{twice}");
    // An engine snapshot of several entities, or of none, is not one
    // entity's.
    let mut engine = Engine::new();
    let several = engine.restore_entity(&golden).unwrap_err();
    assert!(several.to_string().contains("several entities"), "{several}");
    let none = engine.restore_entity(&Engine::new().snapshot()).unwrap_err();
    assert!(none.to_string().contains("no entity"), "{none}");
    // A namespace with no entity (no engine holds one; found by fuzzing).
    let empty_namespace = restore_err(&with_header(SNAPSHOT_FORMAT_VERSION, &[1, 1, b'p', 0, 0, 0, 0]));
    assert!(empty_namespace.contains("namespace \"p\" has no entity"), "{empty_namespace}");
    assert!(engine.namespaces().is_empty(), "nothing restored");
}

#[test]
fn restoring_an_entity_replaces_it_keeps_its_hooks_and_leaves_the_others() {
    struct Count(std::rc::Rc<std::cell::Cell<u32>>);
    impl TargetController for Count {
        fn monitor(&mut self, _: &HookContext<'_>, _: &TargetView<'_>) -> Result<(), HookError> {
            self.0.set(self.0.get() + 1);
            Ok(())
        }
    }
    let mut sim = Sim::new(4, "v1");
    sim.establish("v1", RolloutOptions { batch_percent: 50, ..Default::default() });
    sim.engine.set_target_version("prod", "other", "o1", sim.now).unwrap();
    sim.set_version("v2");
    sim.step();
    let before = sim.engine.snapshot_entity("prod", "app").unwrap();
    let calls = std::rc::Rc::new(std::cell::Cell::new(0));
    sim.engine.set_target_controller("prod", "app", Some(Box::new(Count(calls.clone())))).unwrap();
    sim.run_until(100, |s| s.info().last_known_good_version == "v2");
    assert!(calls.get() > 0);
    // Back to the state before the rollout went on: the hooks stay.
    sim.engine.restore_entity(&before).unwrap();
    assert_eq!(sim.info().last_known_good_version, "v1");
    assert_eq!(sim.engine.snapshot_entity("prod", "app").unwrap(), before);
    let seen = calls.get();
    sim.run_until(100, |s| s.info().last_known_good_version == "v2");
    assert!(calls.get() > seen, "the monitor hook still runs");
    assert_eq!(sim.engine.rollout_info("prod", "other").unwrap().target_version, "o1");
    // Unloaded, it is gone, and so is its namespace once empty.
    assert!(sim.engine.unload_entity("prod", "app"));
    assert!(!sim.engine.unload_entity("prod", "app"));
    assert_eq!(sim.engine.entities("prod").unwrap(), ["other"]);
    assert!(sim.engine.unload_entity("prod", "other"));
    assert!(sim.engine.namespaces().is_empty());
    assert_eq!(sim.engine.snapshot_entity("prod", "app").unwrap_err().code(), ErrorCode::NotFound);
}

/// The golden canary restored, resumed and approved, an hour on, with
/// hosts running what the engine expects of them.
fn resumed_canary(engine: Engine) -> Sim {
    let mut sim = Sim { engine, ..Sim::new(6, "c1") };
    sim.ns = "edge".into();
    sim.entity = "canary".into();
    for h in &mut sim.hosts {
        h.running = sim.engine.expected_state("edge", "canary", None).unwrap().iter().find(|e| e.name == h.name).unwrap().version.clone();
    }
    sim.now = T0 + 3600 * SEC;
    sim.engine.resume("edge", "canary", sim.now).unwrap();
    sim.engine.approve("edge", "canary", sim.now).unwrap();
    sim
}

fn expecting(sim: &Sim, version: &str) -> usize {
    sim.engine.expected_state(&sim.ns, &sim.entity, None).unwrap().iter().filter(|e| e.version == version).count()
}

/// Format 3 (written before plans were cumulative) restores, and its plan
/// keeps the meaning it was written with: the rollout under way goes on
/// exactly as it would have (step 2, "50%", moves 3 more of 6, to 4),
/// across further snapshots too.
#[test]
fn the_golden_v3_snapshot_restores_and_its_plan_keeps_its_meaning() {
    let bytes = std::fs::read(GOLDEN_V3).expect("the golden snapshot is committed");
    assert_eq!(u16::from_le_bytes([bytes[8], bytes[9]]), 3);
    let engine = Engine::restore(&bytes).unwrap();
    let canary = engine.rollout_info("edge", "canary").unwrap();
    assert!(canary.paused && canary.awaiting_approval);
    assert_eq!(canary.step, Some(1));
    assert_eq!(canary.options.error_timeout_secs, None);
    // Re-encoded as format 4, it is a fixed point.
    let again = engine.snapshot();
    assert_eq!(u16::from_le_bytes([again[8], again[9]]), SNAPSHOT_FORMAT_VERSION);
    assert_eq!(Engine::restore(&again).unwrap().snapshot(), again);
    for engine in [engine, Engine::restore(&again).unwrap()] {
        let plan = engine.plan("edge", "canary", T0 + 3600 * SEC).unwrap();
        let totals: Vec<_> = plan.steps.iter().map(|s| s.cumulative).collect();
        assert_eq!(totals, [1, 4, 6]);
        let mut sim = resumed_canary(engine);
        sim.step();
        assert_eq!(expecting(&sim, "c2"), 4);
        sim.run_until(100, |s| s.info().last_known_good_version == "c2");
    }
    // Other steps set on it are read as totals.
    let mut engine = Engine::restore(&bytes).unwrap();
    let mut options = engine.rollout_info("edge", "canary").unwrap().options;
    options.steps[1] = PlanStep::new(Amount::Percent(70)).gated();
    engine.set_rollout_options("edge", "canary", Some(options)).unwrap();
    let totals: Vec<_> = engine.plan("edge", "canary", T0).unwrap().steps.iter().map(|s| s.cumulative).collect();
    assert_eq!(totals, [1, 5, 6]);
}

/// Format 2 (written before the compact event log) restores to exactly the
/// state the format 3 golden holds: the same engine, so the same bytes
/// (written now as format 4).
#[test]
fn the_golden_v2_snapshot_still_restores_to_the_same_state() {
    let v2 = std::fs::read(GOLDEN_V2).expect("the golden snapshot is committed");
    assert_eq!(u16::from_le_bytes([v2[8], v2[9]]), 2);
    let engine = Engine::restore(&v2).unwrap();
    assert_eq!(engine.snapshot(), Engine::restore(&std::fs::read(GOLDEN_V3).unwrap()).unwrap().snapshot());
    let events = engine.events("edge", "canary", 0, usize::MAX).unwrap();
    assert!(events.iter().any(|e| e.kind == EventKind::Paused));
    assert!(events.iter().any(|e| e.target.is_some()));
}

/// Format 3's log is compact: a full log of a small fleet costs about 10
/// bytes an event, and events about targets the entity has forgotten keep
/// their names.
#[test]
fn the_event_log_is_compact_and_keeps_forgotten_targets() {
    let mut sim = Sim::new(20, "v1");
    sim.establish("v1", RolloutOptions { batch_percent: 10, success_timeout_secs: 10, max_events: 1000, ..RolloutOptions::default() });
    for version in ["v2", "v3", "v4", "v5", "v6", "v7", "v8", "v9"] {
        sim.set_version(version);
        sim.run_until(200, |s| s.info().last_known_good_version == version);
    }
    // Two hosts go silent and are forgotten; their events stay.
    sim.hosts.truncate(18);
    sim.now += 1000 * SEC;
    sim.step();
    let events = sim.engine.events("prod", "app", 0, usize::MAX).unwrap();
    assert!(events.len() > 300, "{} events", events.len());
    let bytes = sim.engine.snapshot();
    // 18 targets take about 40 bytes each; the rest is the log.
    let per_event = (bytes.len() - 18 * 40) as f64 / events.len() as f64;
    assert!(per_event < 12.0, "{per_event:.1} bytes an event ({} bytes, {} events)", bytes.len(), events.len());
    let restored = Engine::restore(&bytes).unwrap();
    let again = restored.events("prod", "app", 0, usize::MAX).unwrap();
    assert_eq!(again, events);
    assert!(again.iter().any(|e| e.target.as_ref().is_some_and(|t| t.name == common::host_name(19))));
    assert_eq!(restored.snapshot(), bytes);
}

#[test]
fn the_golden_v1_snapshot_still_restores() {
    let bytes = std::fs::read(GOLDEN_V1).expect("the golden snapshot is committed");
    assert_eq!(&bytes[..8], b"ORCHSNAP");
    assert_eq!(u16::from_le_bytes([bytes[8], bytes[9]]), 1);
    let engine = Engine::restore(&bytes).unwrap();

    assert_eq!(engine.namespaces(), ["prod", "staging"]);
    let info = engine.rollout_info("prod", "app").unwrap();
    assert_eq!(info.target_version, "v2");
    assert_eq!(info.last_known_good_version, "v1");
    assert_eq!(info.last_known_bad_version, "v2");
    assert_eq!(info.options.success_timeout_secs, 30);
    assert_eq!(info.targets, 8);
    let eu: Vec<_> = engine.expected_state("prod", "app", Some("eu")).unwrap().into_iter().map(|e| (e.name, e.version, e.reason)).collect();
    let want = [
        ("host-000", "v1", TargetState::RolledBack),
        ("host-002", "v1", TargetState::RolledBack),
        ("host-004", "v2", TargetState::Waiting),
        ("host-006", "v2", TargetState::Waiting),
    ];
    assert_eq!(eu, want.map(|(n, v, r)| (n.to_owned(), v.to_owned(), r)));
    let worker = engine.expected_state("staging", "worker", None).unwrap();
    assert_eq!((worker[0].name.as_str(), worker[0].version.as_str(), worker[0].reason), ("w-1", "w7", TargetState::InFlight));

    // Format 1 had no plans, pauses or logs: restored, they are empty and
    // the options take their defaults. The state is written in the current
    // format, which restores to the same state.
    assert!(!info.paused && info.step.is_none() && info.watch_until.is_none());
    assert_eq!(info.options.steps, []);
    assert!(engine.events("prod", "app", 0, usize::MAX).unwrap().is_empty());
    let again = engine.snapshot();
    assert_eq!(u16::from_le_bytes([again[8], again[9]]), SNAPSHOT_FORMAT_VERSION);
    assert_eq!(Engine::restore(&again).unwrap().snapshot(), again);
    assert_eq!(Engine::restore(&again).unwrap().expected_state("prod", "app", None), engine.expected_state("prod", "app", None));
    // It goes on: the rollback of v2 finishes (every moved host at once,
    // the default now).
    let mut sim = Sim { engine, ..Sim::new(8, "v1") };
    let answer = sim.engine.expected_state("prod", "app", None).unwrap();
    for h in &mut sim.hosts {
        h.group = answer.iter().find(|e| e.name == h.name).unwrap().group.clone();
        h.running = if ["host-000", "host-002", "host-007"].contains(&h.name.as_str()) { "v1" } else { "v2" }.into();
    }
    sim.now = T0 + 3600 * SEC;
    sim.run_until(20, |s| s.hosts.iter().all(|h| h.running == "v1"));
}

#[test]
fn a_restored_engine_goes_on_exactly_as_the_original() {
    let mut a = Sim::new(30, "v1");
    a.establish("v1", RolloutOptions { batch_percent: 20, ..Default::default() });
    a.hosts[7].behaviour.insert("v2".into(), Behaviour::Flapping { period_ms: 45 * SEC });
    a.set_version("v2");
    for _ in 0..15 {
        a.step();
    }
    let mut b = Sim { engine: Engine::restore(&a.engine.snapshot()).unwrap(), hosts: a.hosts.clone(), ..Sim::new(0, "v1") };
    b.now = a.now;
    for _ in 0..200 {
        assert_eq!(a.step(), b.step());
        assert_eq!(a.info(), b.info());
    }
}

#[test]
fn an_empty_engine_round_trips() {
    let bytes = Engine::new().snapshot();
    // The header, no namespace, no controller settings, no surge.
    assert_eq!(bytes.len(), 24);
    assert!(Engine::restore(&bytes).unwrap().namespaces().is_empty());
}

fn restore_err(bytes: &[u8]) -> String {
    let err = Engine::restore(bytes).expect_err("not a valid snapshot");
    assert_eq!(err.code(), ErrorCode::InvalidSnapshot);
    err.to_string()
}

fn with_header(version: u16, body: &[u8]) -> Vec<u8> {
    let mut bytes = b"ORCHSNAP".to_vec();
    bytes.extend_from_slice(&version.to_le_bytes());
    bytes.extend_from_slice(&[0, 0]);
    bytes.extend_from_slice(&(body.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&checksum(version, body).to_le_bytes());
    bytes.extend_from_slice(body);
    bytes
}

/// The envelope's CRC-32: of the body, and from format 4 of the version
/// and reserved bytes before it.
fn checksum(version: u16, body: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    if version >= 4 {
        hasher.update(&version.to_le_bytes());
        hasher.update(&[0, 0]);
    }
    hasher.update(body);
    hasher.finalize()
}

#[test]
fn foreign_newer_and_corrupt_snapshots_are_clear_errors() {
    let good = golden_engine().snapshot();
    assert_eq!(restore_err(b""), "invalid snapshot: 0 bytes is too short for a snapshot header");
    assert_eq!(restore_err(b"{\"namespaces\":[]}   "), "invalid snapshot: these bytes are not an orchestrator-engine snapshot (bad magic)");
    let newer = with_header(SNAPSHOT_FORMAT_VERSION + 1, &good[20..]);
    assert_eq!(
        restore_err(&newer),
        format!(
            "invalid snapshot: format version {} is not one this engine reads (1 to {SNAPSHOT_FORMAT_VERSION}); \
             restore it with the newer orchestrator-engine that wrote it",
            SNAPSHOT_FORMAT_VERSION + 1
        )
    );
    assert!(restore_err(&good[..good.len() - 1]).contains("truncated or padded"));
    let mut flipped = good.clone();
    *flipped.last_mut().unwrap() ^= 0x10;
    assert_eq!(restore_err(&flipped), "invalid snapshot: checksum mismatch: the snapshot is corrupt");
    let mut padded = good.clone();
    padded.push(0);
    assert!(restore_err(&padded).contains("truncated or padded"));
    // The checksum covers the format version: a format 4 snapshot whose
    // version reads 3 is corrupt, not a format 3 body.
    let mut relabelled = good.clone();
    relabelled[8] = 3;
    assert_eq!(restore_err(&relabelled), "invalid snapshot: checksum mismatch: the snapshot is corrupt");
}

/// States no engine can reach are rejected, each with what is wrong.
#[test]
fn unreachable_states_are_rejected() {
    // Build one entity, then edit its snapshot's body through the format
    // the test can write: format 1 (versions, targets) is enough for the
    // first case; the rest go through the golden v4 engine's own bytes.
    let mut engine = Engine::new();
    engine.set_target_version("p", "e", "v1", T0).unwrap();
    engine.orchestrate("p", "e", &[TargetReport::new("h", "v1")], T0).unwrap();
    let bytes = engine.snapshot();
    // In this body the entity's symbols are: versions ["v1"], target 1,
    // rolling 1, lkg 1, lkb 0. Find "lkb = 0" right after three 1s and set
    // it to 1: LKG = LKB.
    let body = &bytes[20..];
    let at = body.windows(4).position(|w| w == [1, 1, 1, 0]).expect("the version symbols");
    let mut edited = body.to_vec();
    edited[at + 3] = 1;
    let err = restore_err(&with_header(SNAPSHOT_FORMAT_VERSION, &edited));
    assert!(err.contains("both last known good and last known bad"), "{err}");
    // Target "h": name, no tags, reported 1, expected 1, message 0, no
    // error, then its state's code (2, succeeded: it was adopted as good);
    // 11 (`removed`) is no live target's.
    let at = body.windows(7).position(|w| w == [1, b'h', 0, 1, 1, 0, 0]).expect("the target");
    let mut edited = body.to_vec();
    edited[at + 7] = 11;
    let err = restore_err(&with_header(SNAPSHOT_FORMAT_VERSION, &edited));
    assert!(err.contains("\"h\" of group \"\" is stored as removed"), "{err}");
}

#[test]
fn every_truncation_and_every_bit_flip_is_rejected_without_a_panic() {
    let good = golden_v7_engine().snapshot();
    for len in 0..good.len() {
        restore_err(&good[..len]);
    }
    for bit in 0..good.len() * 8 {
        let mut bytes = good.clone();
        bytes[bit / 8] ^= 1 << (bit % 8);
        restore_err(&bytes);
    }
}

/// Mutated bodies with a valid checksum reach the decoder itself.
#[test]
fn mutated_bodies_with_valid_checksums_never_panic() {
    for (format, good) in [
        (1, std::fs::read(GOLDEN_V1).unwrap()),
        (2, std::fs::read(GOLDEN_V2).unwrap()),
        (3, std::fs::read(GOLDEN_V3).unwrap()),
        (4, std::fs::read(GOLDEN_V4).unwrap()),
        (5, std::fs::read(GOLDEN_V5).unwrap()),
        (6, std::fs::read(GOLDEN_V6).unwrap()),
        (7, golden_v7_engine().snapshot()),
    ] {
        mutate(format, &good[20..]);
    }
}

fn mutate(format: u16, body: &[u8]) {
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let (mut ok, mut rejected) = (0, 0);
    for _ in 0..20_000 {
        let mut mutated = body.to_vec();
        for _ in 0..1 + next() % 4 {
            let at = (next() as usize) % mutated.len();
            match next() % 3 {
                0 => mutated[at] ^= 1 << (next() % 8),
                1 => mutated[at] = next() as u8,
                _ => {
                    mutated.truncate(at);
                    if mutated.is_empty() {
                        mutated.push(0);
                    }
                }
            }
        }
        match Engine::restore(&with_header(format, &mutated)) {
            // A mutation that still decodes is a valid engine: it works.
            Ok(engine) => {
                ok += 1;
                let again = engine.snapshot();
                Engine::restore(&again).unwrap();
                for ns in engine.namespaces() {
                    for entity in engine.entities(&ns).unwrap() {
                        engine.expected_state(&ns, &entity, None).unwrap();
                        engine.events(&ns, &entity, 0, usize::MAX).unwrap();
                        engine.plan(&ns, &entity, T0).unwrap();
                    }
                }
            }
            Err(err) => {
                rejected += 1;
                assert_eq!(err.code(), ErrorCode::InvalidSnapshot);
            }
        }
    }
    assert!(rejected > 10_000, "format {format}: {ok} decoded, {rejected} rejected");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = Engine::restore(&bytes);
        let _ = Engine::restore(&with_header(1, &bytes));
        let _ = Engine::restore(&with_header(2, &bytes));
    }
}
