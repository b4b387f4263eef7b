//! Freeze windows, one-off freezes and stopping the line, in virtual time:
//! while one holds no target moves to the version rolling out (reason
//! `held_frozen`) and no plan step starts; judging, rollbacks and the
//! watch go on; each decision says why in the targets' reasons and in
//! events.

mod common;

use common::{count, kinds, on, options, pct, rolling, Behaviour, SEC};
use orchestrator_engine::{
    Engine, ErrorCode, EventKind, Freeze, FreezeWindow, Freezes, PlanStep, RolloutOptions, TargetState, Timestamp, MAX_FREEZES,
};

const MIN: i64 = 60 * SEC;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;
/// Friday 2026-12-04 00:00 UTC.
const FRIDAY: i64 = 1_796_342_400_000;

fn window(name: &str, days: u8, start: u16, end: u16, zone: &str) -> FreezeWindow {
    FreezeWindow { name: name.into(), days, start, end, zone: zone.into() }
}

fn windows(list: Vec<FreezeWindow>) -> Freezes {
    Freezes { windows: list, freezes: vec![] }
}

/// A rollout of v2 over 10 hosts, 20% a batch, starting at `start`.
fn rollout_at(start: Timestamp) -> common::Sim {
    let mut sim = common::Sim::new(10, "v1");
    sim.now = start - 30 * MIN;
    sim.step_ms = MIN;
    sim.establish("v1", RolloutOptions { success_timeout_secs: 60, duration_timeout_secs: 600, ..options(20) });
    sim
}

#[test]
fn a_window_across_midnight_holds_the_rollout_from_its_start_to_its_end_the_day_after() {
    // Fridays 22:00 to 06:00 UTC; the rollout starts Friday 21:55.
    let mut sim = rollout_at(FRIDAY + 21 * HOUR + 55 * MIN);
    let friday_night = windows(vec![window("friday night", 1 << 4, 22 * 60, 6 * 60, "UTC")]);
    assert!(sim.engine.set_freezes("prod", Some("app"), friday_night.clone(), sim.now).unwrap());
    assert!(!sim.engine.set_freezes("prod", Some("app"), friday_night, sim.now).unwrap(), "the same freezes change nothing");
    sim.now = FRIDAY + 21 * HOUR + 55 * MIN;
    sim.set_version("v2");
    while sim.now < FRIDAY + 22 * HOUR {
        sim.step();
    }
    let moved = on(&sim, "v2");
    assert!(moved > 0, "it rolls before the window");
    // Inside the window, through midnight: nothing new moves, and what
    // moved before is judged (they succeed).
    while sim.now < FRIDAY + 30 * HOUR {
        let answer = sim.step();
        assert_eq!(on(&sim, "v2"), moved, "at {}", sim.now);
        assert!(count(&answer, TargetState::HeldFrozen) > 0 || sim.now < FRIDAY + 22 * HOUR + 10 * MIN);
    }
    let answer = sim.engine.expected_state("prod", "app", None).unwrap();
    assert_eq!(count(&answer, TargetState::HeldFrozen), 10 - moved);
    assert_eq!(count(&answer, TargetState::Succeeded), moved);
    let held = answer.iter().find(|t| t.reason == TargetState::HeldFrozen).unwrap();
    assert!(held.message.contains("window \"friday night\" (Fri 22:00-06:00 UTC)"), "{}", held.message);
    assert!(sim.info().frozen.is_some());
    // Saturday 06:00: it goes on, and rolls out.
    sim.run_until(100, |s| s.info().last_known_good_version == "v2");
    assert!(sim.info().frozen.is_none());
    let events = sim.engine.events("prod", "app", 0, usize::MAX).unwrap();
    let frozen: Vec<_> = events.iter().filter(|e| matches!(e.kind, EventKind::Frozen | EventKind::Unfrozen)).collect();
    assert_eq!(frozen.len(), 2, "{frozen:?}");
    assert!(frozen[0].time >= FRIDAY + 22 * HOUR && frozen[0].time < FRIDAY + 22 * HOUR + 2 * MIN);
    assert!(frozen[0].detail.contains("nothing new moves while it holds"));
    assert!(frozen[1].time >= FRIDAY + 30 * HOUR && frozen[1].time < FRIDAY + 30 * HOUR + 2 * MIN);
    assert!(frozen[1].detail.starts_with("no longer held by window \"friday night\""));
    // Unfrozen before anything it held moved.
    let unfrozen = events.iter().position(|e| e.kind == EventKind::Unfrozen).unwrap();
    assert!(events[unfrozen + 1..].iter().any(|e| e.kind == EventKind::TargetAssigned));
    assert!(!events[..unfrozen].iter().any(|e| e.kind == EventKind::TargetAssigned && e.time >= FRIDAY + 22 * HOUR));
}

/// A zone whose offset changes (as at a change to or from daylight saving
/// time): the window follows local time, so it starts an hour earlier in
/// UTC after the change.
#[test]
fn a_window_follows_its_zone_across_a_change_of_offset() {
    // "Test/Zone" is UTC+1 until Sunday 01:00 UTC, UTC+2 after it.
    let change = FRIDAY + 2 * DAY + HOUR;
    let zones = move |zone: &str, at: Timestamp| (zone == "Test/Zone").then_some(if at < change { 60 } else { 120 });
    let nightly = windows(vec![window("nightly", 0x7f, 22 * 60, 23 * 60, "Test/Zone")]);
    let mut engine = Engine::new();
    engine.set_zone_offsets(Some(Box::new(zones)));
    engine.set_target_version("prod", "app", "v1", FRIDAY).unwrap();
    engine.set_freezes("prod", Some("app"), nightly, FRIDAY).unwrap();
    let held = |engine: &Engine, at: Timestamp| engine.frozen_at("prod", "app", at).unwrap().is_some();
    // Saturday: 22:00 local is 21:00 UTC.
    assert!(!held(&engine, FRIDAY + DAY + 20 * HOUR + 59 * MIN));
    assert!(held(&engine, FRIDAY + DAY + 21 * HOUR));
    assert!(!held(&engine, FRIDAY + DAY + 22 * HOUR));
    // Sunday, after the change: 22:00 local is 20:00 UTC.
    assert!(held(&engine, FRIDAY + 2 * DAY + 20 * HOUR));
    assert!(!held(&engine, FRIDAY + 2 * DAY + 21 * HOUR));
    // Without a zone that knows it, setting it fails, and a restored
    // engine that does not know it holds (the safe side).
    let unknown = windows(vec![window("nightly", 0x7f, 22 * 60, 23 * 60, "Test/Zone")]);
    let mut plain = Engine::new();
    let err = plain.set_freezes("prod", Some("app"), unknown, FRIDAY).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidArgument);
    assert!(err.to_string().contains("unknown time zone \"Test/Zone\""), "{err}");
    let restored = Engine::restore(&engine.snapshot()).unwrap();
    let why = restored.frozen_at("prod", "app", FRIDAY).unwrap().unwrap();
    assert!(why.contains("its time zone \"Test/Zone\" is unknown here"), "{why}");
}

#[test]
fn stopping_the_line_during_a_rollback_lets_the_rollback_finish_and_holds_the_next_rollout() {
    let mut sim = rolling(10, RolloutOptions { success_timeout_secs: 60, duration_timeout_secs: 120, ..options(50) });
    for h in &mut sim.hosts {
        h.behaviour.insert("v2".into(), Behaviour::Broken);
    }
    sim.run_until(30, |s| on(s, "v2") > 0);
    sim.engine.set_actor(Some("oncall")).unwrap();
    assert!(sim.engine.stop_the_line("prod", "incident 4711", sim.now).unwrap());
    assert!(!sim.engine.stop_the_line("prod", "again", sim.now).unwrap(), "stopped already");
    sim.engine.set_actor(None).unwrap();
    let stop = sim.engine.line_stop("prod").unwrap();
    assert_eq!((stop.reason.as_str(), stop.by.as_deref(), stop.since), ("incident 4711", Some("oncall"), sim.now));
    // The version turns bad while the line is stopped, and the rollback
    // goes on to its end.
    sim.run_until(30, |s| s.info().last_known_bad_version == "v2");
    sim.run_until(40, |s| on(s, "v2") == 0 && s.info().phase == orchestrator_engine::RolloutPhase::RolledBack);
    // Frozen once, while v2 was rolling out; the rollback was not held.
    assert_eq!(kinds(&sim).iter().filter(|&&k| k == EventKind::Frozen).count(), 1);
    assert!(kinds(&sim).contains(&EventKind::RollbackFinished));
    assert!(sim.info().frozen.is_none(), "nothing rolls out, so nothing is frozen");
    // The next version waits for the line.
    sim.set_version("v3");
    for _ in 0..20 {
        let answer = sim.step();
        assert_eq!(on(&sim, "v3"), 0);
        assert!(answer.iter().all(|t| t.version == "v1"));
    }
    let answer = sim.engine.expected_state("prod", "app", None).unwrap();
    assert_eq!(count(&answer, TargetState::HeldFrozen), 10);
    assert!(answer[0].message.contains("the line of prod stopped by oncall (incident 4711)"), "{}", answer[0].message);
    // Another entity of the namespace is held as well; one of another
    // namespace is not.
    sim.engine.set_target_version("prod", "other", "o1", sim.now).unwrap();
    assert!(sim.engine.frozen_at("prod", "other", sim.now).unwrap().is_some());
    sim.engine.set_target_version("staging", "app", "s1", sim.now).unwrap();
    assert!(sim.engine.frozen_at("staging", "app", sim.now).unwrap().is_none());
    assert!(sim.engine.start_the_line("prod").unwrap());
    assert!(!sim.engine.start_the_line("prod").unwrap());
    sim.run_until(60, |s| s.info().last_known_good_version == "v3");
    let k = kinds(&sim);
    assert_eq!(k.iter().filter(|&&k| k == EventKind::Frozen).count(), 2, "v2's and v3's");
    assert_eq!(k.iter().filter(|&&k| k == EventKind::Unfrozen).count(), 1, "v3's");
}

#[test]
fn a_plan_step_does_not_start_while_frozen_and_a_one_off_freeze_ends_by_itself() {
    let steps = vec![PlanStep::new(pct(20)), PlanStep::new(pct(50)), PlanStep::new(pct(100))];
    let mut sim = rolling(10, RolloutOptions { steps, success_timeout_secs: 60, duration_timeout_secs: 600, ..options(100) });
    sim.step_ms = 10 * SEC;
    sim.run_until(30, |s| on(s, "v2") == 2 && s.info().step == Some(1) || on(s, "v2") == 2 && s.info().step == Some(0));
    // Freeze the namespace for an hour while step 1 bakes.
    let freeze = Freeze { name: "release train".into(), from: sim.now, until: sim.now + HOUR };
    let until = freeze.until;
    sim.engine.set_freezes("prod", None, Freezes { windows: vec![], freezes: vec![freeze] }, sim.now).unwrap();
    let step = sim.info().step;
    while sim.now < until {
        sim.step();
        assert_eq!(on(&sim, "v2"), 2, "nothing new moves at {}", sim.now);
        assert_eq!(sim.info().step, step, "no plan step starts");
    }
    let why = sim.info().frozen.unwrap();
    assert!(why.starts_with("prod's freeze \"release train\" until "), "{why}");
    sim.run_until(100, |s| s.info().last_known_good_version == "v2");
    assert_eq!(on(&sim, "v2"), 10);
    // Removing the namespace's freezes forgets them.
    assert!(sim.engine.set_freezes("prod", None, Freezes::default(), sim.now).unwrap());
    assert!(sim.engine.freezes("prod", None).unwrap().is_empty());
}

#[test]
fn a_pause_is_reported_before_a_freeze() {
    let mut sim = rolling(10, RolloutOptions { success_timeout_secs: 60, duration_timeout_secs: 600, ..options(20) });
    let always = windows(vec![window("always", 0x7f, 0, 1440, "UTC")]);
    sim.engine.set_freezes("prod", Some("app"), always, sim.now).unwrap();
    sim.step();
    sim.engine.pause("prod", "app", sim.now).unwrap();
    let answer = sim.step();
    assert_eq!(count(&answer, TargetState::HeldPaused), 10);
    sim.engine.resume("prod", "app", sim.now).unwrap();
    let answer = sim.step();
    assert_eq!(count(&answer, TargetState::HeldFrozen), 10);
}

#[test]
fn bad_freezes_are_refused_whole_and_name_what_is_wrong() {
    let mut engine = Engine::new();
    let now = FRIDAY;
    let cases: Vec<(Freezes, &str)> = vec![
        (windows(vec![window("w", 0, 0, 60, "UTC")]), "days must name at least one day"),
        (windows(vec![window("w", 1, 60, 60, "UTC")]), "not the same"),
        (windows(vec![window("w", 1, 1440, 60, "UTC")]), "start must be a time"),
        (windows(vec![window("", 1, 0, 60, "UTC")]), "a window's name"),
        (windows(vec![window("w", 1, 0, 60, "+25:00")]), "unknown time zone"),
        (Freezes { windows: vec![], freezes: vec![Freeze { name: "f".into(), from: now, until: now }] }, "until must be after from"),
        (
            Freezes { windows: vec![window("x", 1, 0, 60, "UTC")], freezes: vec![Freeze { name: "x".into(), from: 0, until: 1 }] },
            "two are named \"x\"",
        ),
        (windows((0..=MAX_FREEZES).map(|i| window(&format!("w{i}"), 1, 0, 60, "UTC")).collect()), "at most 64"),
    ];
    for (freezes, expected) in cases {
        let err = engine.set_freezes("prod", Some("app"), freezes, now).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidArgument);
        assert!(err.to_string().contains(expected), "{err} (expected {expected})");
    }
    assert!(engine.namespaces().is_empty(), "nothing was created");
    assert_eq!(engine.stop_the_line("prod", "", now).unwrap_err().code(), ErrorCode::InvalidArgument);
    assert_eq!(engine.stop_the_line("", "why", now).unwrap_err().code(), ErrorCode::InvalidName);
    assert_eq!(engine.stop_the_line("prod", &"x".repeat(201), now).unwrap_err().code(), ErrorCode::InvalidArgument);
    // A namespace whose line is stopped is kept with no entity, and goes
    // once started again.
    assert!(engine.stop_the_line("prod", "why", now).unwrap());
    assert_eq!(engine.namespaces(), ["prod"]);
    assert!(Engine::restore(&engine.snapshot()).unwrap().line_stop("prod").is_some());
    assert!(engine.start_the_line("prod").unwrap());
    assert!(engine.namespaces().is_empty());
}

/// A binding that keeps a namespace's settings in a record of their own
/// brings them into an engine holding one entity before its step: the
/// entity is held as by its own namespace, and its snapshot never holds them.
#[test]
fn a_namespace_record_adopted_before_a_step_holds_the_entity_and_stays_out_of_its_snapshot() {
    let mut sim = rolling(10, options(20));
    let mut record = Engine::new();
    record.set_actor(Some("alice")).unwrap();
    assert!(record.stop_the_line("prod", "incident 4711", sim.now).unwrap());
    let bytes = record.snapshot();
    sim.engine.adopt_namespace("prod", Some(&bytes)).unwrap();
    let before = on(&sim, "v2");
    for _ in 0..10 {
        sim.step();
    }
    assert_eq!(on(&sim, "v2"), before, "held");
    assert_eq!(sim.engine.line_stop("prod").map(|s| s.by.clone()), Some(Some("alice".into())));
    let alone = sim.engine.snapshot_entity("prod", "app").unwrap();
    let mut restored = Engine::new();
    restored.restore_entity(&alone).unwrap();
    assert!(restored.line_stop("prod").is_none(), "an entity's snapshot holds the entity alone");
    // None: the namespace's settings are gone, and it moves again.
    sim.engine.adopt_namespace("prod", None).unwrap();
    sim.run_until(200, |s| s.info().last_known_good_version == "v2");
    // Bytes that hold an entity are no namespace's record.
    let err = sim.engine.adopt_namespace("prod", Some(&sim.engine.snapshot())).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidSnapshot);
    assert_eq!(sim.engine.adopt_namespace("prod", Some(b"junk")).unwrap_err().code(), ErrorCode::InvalidSnapshot);
}
