//! Snapshots (SPEC section 5): exact, canonical and versioned. Every
//! format's golden fixture restores to the state it was written from
//! (tests/golden), and an entity's snapshot splits from and joins back to
//! the whole; tests/snapshot_robustness.rs has the bytes that are not one.

mod common;
mod golden;

use common::{Behaviour, Sim, SEC, T0};
use golden::*;
use orchestrator_engine::{
    Amount, ControllerKind, Engine, ErrorCode, EventKind, HookContext, HookError, Outcome, PlanStep, RolloutOptions, TargetController,
    TargetState, TargetView, SNAPSHOT_FORMAT_VERSION,
};

#[test]
fn the_golden_v11_snapshot_restores_and_re_encodes_byte_for_byte() {
    if std::env::var_os("REGENERATE_GOLDEN").is_some() {
        std::fs::write(GOLDEN_V11, golden_v11_engine().snapshot()).unwrap();
    }
    let bytes = std::fs::read(GOLDEN_V11).expect("the golden snapshot is committed");
    assert_eq!(u16::from_le_bytes([bytes[8], bytes[9]]), 11);
    assert_eq!(SNAPSHOT_FORMAT_VERSION, 11);
    let engine = Engine::restore(&bytes).unwrap();
    // Canonical: the same state gives the same bytes, built or restored.
    assert_eq!(engine.snapshot(), bytes);
    assert_eq!(golden_v11_engine().snapshot(), bytes);
    // Format 11's notification settings came back, where they were and
    // nowhere else.
    let notifications = |ns, e| engine.controller_settings(ns, e, ControllerKind::Notifications).unwrap();
    assert_eq!(notifications("edge", "canary"), Some(GOLDEN_NOTIFICATIONS));
    assert_eq!(notifications("hold", "frozen"), Some(r#"{"subscriptions":[]}"#));
    assert_eq!(notifications("edge", "watched"), None);
    assert_eq!(engine.namespace_notifications("edge"), Some(r#"{"subscriptions":[{"name":"ops","since":1}]}"#));
    assert!(engine.entities("quiet").unwrap().is_empty(), "a namespace with notification settings and no entity is kept");
    assert_eq!(engine.namespace_notifications("quiet"), Some(r#"{"subscriptions":[]}"#));
    let pipeline = engine.pipeline("edge", "canary", None, T0).unwrap();
    assert_eq!(pipeline, golden_v11_engine().pipeline("edge", "canary", None, T0).unwrap());
    assert_eq!((pipeline.held.as_deref(), pipeline.pipeline.as_ref().map(|p| p.soak_secs)), (Some("c2-hotfix"), Some(3600)));
    assert_eq!(pipeline.pipeline.and_then(|p| p.verification).map(|v| v.metrics[0].name.clone()).as_deref(), Some("health"));
    // Format 10's freezes came back: the namespace without an entity with
    // its stopped line and window, the frozen entity's own and its
    // namespace's, and why the entity is held, which it goes on saying.
    let built = golden_v11_engine();
    assert_eq!(engine.namespaces(), built.namespaces());
    assert!(engine.entities("ops").unwrap().is_empty());
    let stop = engine.line_stop("ops").unwrap();
    assert_eq!((stop.reason.as_str(), stop.since, stop.by.as_deref()), ("incident 4711", T0, Some("alice")));
    assert_eq!(engine.freezes("ops", None).unwrap().windows[0].name, "weekend");
    for (ns, entity) in [("hold", None), ("hold", Some("frozen"))] {
        assert_eq!(engine.freezes(ns, entity).unwrap(), built.freezes(ns, entity).unwrap());
        assert!(!engine.freezes(ns, entity).unwrap().is_empty());
    }
    let info = engine.rollout_info("hold", "frozen").unwrap();
    assert_eq!(info.frozen, built.rollout_info("hold", "frozen").unwrap().frozen);
    assert!(info.frozen.as_deref().is_some_and(|why| why.starts_with("freeze \"audit\" until 2023-")), "{info:?}");
    let mut held = Sim { engine, ..frozen() };
    let mut original = frozen();
    assert_eq!(held.step(), original.step());
    assert!(held.step().iter().all(|t| t.reason == TargetState::HeldFrozen || t.version == "f2"));
    let engine = Engine::restore(&bytes).unwrap();
    // The rows came back whole: names, groups, tags, the verdict, the
    // error, the messages and every time (the bytes above), so the entity
    // answers and goes on as the one that was written.
    let mut original = packed();
    let mut restored = engine;
    let (ns, e) = ("fleet", "packed");
    assert_eq!(restored.expected_state(ns, e, None).unwrap(), original.expected_state(ns, e, None).unwrap());
    assert_eq!(restored.rollout_info(ns, e).unwrap(), original.rollout_info(ns, e).unwrap());
    assert_eq!(restored.events(ns, e, 0, usize::MAX).unwrap(), original.events(ns, e, 0, usize::MAX).unwrap());
    // What the rows had to hold is there: the monitor failed web-02, the
    // targets are in several states, one has tags, one a name of 300
    // bytes.
    let events = restored.events(ns, e, 0, usize::MAX).unwrap();
    assert!(
        events.iter().any(|e| e.target.as_ref().is_some_and(|t| t.name == "web-02") && e.detail.contains("p99 over budget")),
        "{events:?}"
    );
    let answer = restored.expected_state(ns, e, None).unwrap();
    for reason in [TargetState::FailedMonitor, TargetState::FailedDeadline, TargetState::Waiting] {
        assert!(answer.iter().any(|t| t.reason == reason), "{answer:?}");
    }
    assert!(answer.iter().any(|t| t.name.len() == 300));
    let tagged = restored.snapshot_entity(ns, e).unwrap();
    assert!(tagged.windows(7).any(|w| w == b"primary"));
    for hour in 6..9 {
        let now = T0 + hour * 3_600 * SEC;
        let a = restored.orchestrate(ns, e, &[], now).unwrap();
        assert_eq!(a, original.orchestrate(ns, e, &[], now).unwrap());
    }
    assert_eq!(restored.snapshot_entity(ns, e).unwrap(), original.snapshot_entity(ns, e).unwrap());
}

/// Format 10 (written before notifications) restores to the same state,
/// and writes it as the current format.
#[test]
fn the_golden_v10_snapshot_restores_to_the_same_state() {
    let bytes = std::fs::read(GOLDEN_V10).expect("the golden snapshot is committed");
    assert_eq!(u16::from_le_bytes([bytes[8], bytes[9]]), 10);
    let engine = Engine::restore(&bytes).unwrap();
    assert_eq!(engine.snapshot(), golden_v10_engine().snapshot());
    assert_eq!(engine.controller_settings("edge", "canary", ControllerKind::Notifications).unwrap(), None);
    let entity = std::fs::read(GOLDEN_ENTITY_V10).unwrap();
    let mut alone = Engine::new();
    alone.restore_entity(&entity).unwrap();
    assert_eq!(alone.snapshot_entity("edge", "canary").unwrap(), golden_v10_engine().snapshot_entity("edge", "canary").unwrap());
}

/// Format 9 (written before freezes) restores to the same state, and
/// writes it as the current format.
#[test]
fn the_golden_v9_snapshot_restores_to_the_same_state() {
    let bytes = std::fs::read(GOLDEN_V9).expect("the golden snapshot is committed");
    assert_eq!(u16::from_le_bytes([bytes[8], bytes[9]]), 9);
    let engine = Engine::restore(&bytes).unwrap();
    assert_eq!(engine.snapshot(), golden_v9_engine().snapshot());
    let entity = std::fs::read(GOLDEN_ENTITY_V9).unwrap();
    let mut alone = Engine::new();
    alone.restore_entity(&entity).unwrap();
    assert_eq!(alone.snapshot_entity("edge", "canary").unwrap(), golden_v9_engine().snapshot_entity("edge", "canary").unwrap());
    assert!(alone.freezes("edge", Some("canary")).unwrap().is_empty());
}

/// Format 8 (written before targets in rows) restores to the same state,
/// and writes it as the current format.
#[test]
fn the_golden_v8_snapshot_restores_to_the_same_state() {
    let bytes = std::fs::read(GOLDEN_V8).expect("the golden snapshot is committed");
    assert_eq!(u16::from_le_bytes([bytes[8], bytes[9]]), 8);
    let engine = Engine::restore(&bytes).unwrap();
    assert_eq!(engine.snapshot(), golden_v8_engine().snapshot());
    // Who did what came back: on the events and on the rollout.
    let original = audited();
    let events = engine.events("fleet", "audited", 0, usize::MAX).unwrap();
    assert_eq!(events, original.engine.events("fleet", "audited", 0, usize::MAX).unwrap());
    let by: Vec<(EventKind, &str)> = events.iter().filter_map(|e| Some((e.kind, e.actor.as_deref()?))).collect();
    assert_eq!(
        by,
        [
            (EventKind::VersionSet, "alice"),
            (EventKind::Approved, "bob"),
            (EventKind::Paused, "bob"),
            (EventKind::Resumed, "carol"),
            (EventKind::VersionSet, "carol")
        ]
    );
    let history = engine.history("fleet", "audited").unwrap();
    assert_eq!(history, original.engine.history("fleet", "audited").unwrap());
    let r2 = history.iter().find(|r| r.version == "r2").unwrap();
    let actions: Vec<(EventKind, &str)> = r2.actions.iter().map(|a| (a.kind, a.by.as_str())).collect();
    assert_eq!(
        actions,
        [(EventKind::VersionSet, "alice"), (EventKind::Approved, "bob"), (EventKind::Paused, "bob"), (EventKind::Resumed, "carol")]
    );
    // Its first step's two targets moved, and are baking.
    assert_eq!(r2.steps_reached, Some(1));
    assert_eq!(r2.targets_moved, Some(2));
    assert_eq!(r2.failures, Some(0));
    // carol's r3 starts with her action once r2 is settled, restored or not.
    let mut original = audited();
    let mut restored = Sim { engine, ..audited() };
    let r3 = |s: &Sim| s.engine.history("fleet", "audited").unwrap().into_iter().find(|r| r.version == "r3");
    restored.run_until(40, |s| r3(s).is_some());
    original.run_until(40, |s| r3(s).is_some());
    assert_eq!(restored.engine.snapshot_entity("fleet", "audited").unwrap(), original.engine.snapshot_entity("fleet", "audited").unwrap());
    let started = r3(&restored).unwrap();
    assert_eq!(started.actions.iter().map(|a| (a.kind, a.by.as_str())).collect::<Vec<_>>(), [(EventKind::VersionSet, "carol")]);
}

/// Format 7 (written before actors and counted rollouts) restores to the
/// same state, its rollouts uncounted.
#[test]
fn the_golden_v7_snapshot_restores_to_the_same_state() {
    if std::env::var_os("REGENERATE_GOLDEN_V7").is_some() {
        std::fs::write(GOLDEN_V7, golden_v7_engine().snapshot()).unwrap();
    }
    let bytes = std::fs::read(GOLDEN_V7).expect("the golden snapshot is committed");
    assert_eq!(u16::from_le_bytes([bytes[8], bytes[9]]), 7);
    let engine = Engine::restore(&bytes).unwrap();
    let again = engine.snapshot();
    assert!(golden_v7_engine().snapshot()[20..].starts_with(before_format_8(&again, &engine)));
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
    assert!(golden_v6_engine().snapshot()[20..].starts_with(before_format_8(&engine.snapshot(), &engine)));
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
    assert!(golden_v5_engine().snapshot()[20..].starts_with(before_format_8(&again, &engine)));
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
            // Formats before 8 did not count rollouts.
            let history = |e: &Engine| -> Vec<_> {
                e.history(&ns, &entity).unwrap().into_iter().map(|r| (r.version, r.started, r.ended, r.outcome)).collect()
            };
            assert_eq!(history(a), history(b), "{at}");
            let targets = |e: &Engine| -> Vec<_> {
                e.expected_state(&ns, &entity, None)
                    .unwrap()
                    .into_iter()
                    .map(|t| (t.group, t.name, t.version, t.reason, t.is_error))
                    .collect()
            };
            assert_eq!(targets(a), targets(b), "{at}");
            let events = |e: &Engine| -> Vec<_> {
                e.events(&ns, &entity, 0, usize::MAX)
                    .unwrap()
                    .into_iter()
                    .map(|ev| {
                        (
                            ev.seq,
                            ev.time,
                            ev.kind,
                            if ev.kind == EventKind::RollbackStarted { String::new() } else { ev.version },
                            ev.target,
                            ev.detail.is_empty(),
                        )
                    })
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
    let again = engine.snapshot_entity("edge", "canary").unwrap();
    assert!(golden_v5_engine().snapshot_entity("edge", "canary").unwrap()[20..].starts_with(before_format_8(&again, &engine)));
}

#[test]
fn the_golden_v6_entity_snapshot_restores_to_the_same_entity() {
    let bytes = std::fs::read(GOLDEN_ENTITY_V6).expect("the golden entity snapshot is committed");
    let mut engine = Engine::new();
    engine.restore_entity(&bytes).unwrap();
    let again = engine.snapshot_entity("edge", "canary").unwrap();
    assert!(golden_v6_engine().snapshot_entity("edge", "canary").unwrap()[20..].starts_with(before_format_8(&again, &engine)));
}

#[test]
fn the_golden_v8_entity_snapshot_restores_to_the_same_entity() {
    let bytes = std::fs::read(GOLDEN_ENTITY_V8).expect("the golden entity snapshot is committed");
    let mut engine = Engine::new();
    engine.restore_entity(&bytes).unwrap();
    assert_eq!(engine.snapshot_entity("edge", "canary").unwrap(), golden_v8_engine().snapshot_entity("edge", "canary").unwrap());
}

#[test]
fn the_golden_entity_snapshot_restores_alone_and_re_encodes_byte_for_byte() {
    if std::env::var_os("REGENERATE_GOLDEN").is_some() {
        std::fs::write(GOLDEN_ENTITY_V11, golden_v11_engine().snapshot_entity("edge", "canary").unwrap()).unwrap();
    }
    let bytes = std::fs::read(GOLDEN_ENTITY_V11).expect("the golden entity snapshot is committed");
    assert_eq!(u16::from_le_bytes([bytes[8], bytes[9]]), 11);
    let whole = Engine::restore(&std::fs::read(GOLDEN_V11).unwrap()).unwrap();
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
    assert_eq!(engine.controller_settings("edge", "canary", ControllerKind::Notifications).unwrap(), Some(GOLDEN_NOTIFICATIONS));
    // It goes on exactly as the canary of the whole engine does.
    let (mut alone, mut within) = (resumed_canary(engine), resumed_canary(whole));
    for _ in 0..40 {
        assert_eq!(alone.step(), within.step());
    }
    assert_eq!(alone.engine.snapshot_entity("edge", "canary").unwrap(), within.engine.snapshot_entity("edge", "canary").unwrap());
}

#[test]
fn a_whole_snapshot_splits_into_entities_and_joins_back_to_the_same_bytes() {
    // Entities only: namespaces' own settings (freezes, a stopped line)
    // are not an entity's, and a split has no place for them.
    let golden = golden_v9_engine().snapshot();
    let parts = Engine::split_snapshot(&golden).unwrap();
    let names: Vec<(&str, &str)> = parts.iter().map(|(ns, e, _)| (ns.as_str(), e.as_str())).collect();
    let expected = [
        ("edge", "canary"),
        ("edge", "watched"),
        ("fleet", "analysed"),
        ("fleet", "audited"),
        ("fleet", "bluegreen"),
        ("fleet", "packed"),
        ("fleet", "returned"),
        ("prod", "app"),
        ("staging", "worker"),
    ];
    assert_eq!(names, expected);
    assert_eq!(parts[0].2, golden_v9_engine().snapshot_entity("edge", "canary").unwrap());
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
    let empty_namespace = restore_err(&with_header(SNAPSHOT_FORMAT_VERSION, &[1, 1, b'p', 0, 0, 0, 0, 0, 0, 0, 0, 0]));
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
    // The header, no namespace, no controller settings, no surge, no
    // analysis, no actor, no freezes, no namespace settings, no
    // notifications or pipelines, no namespace's notifications.
    assert_eq!(bytes.len(), 29);
    assert!(Engine::restore(&bytes).unwrap().namespaces().is_empty());
}
