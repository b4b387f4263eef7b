//! An entity's journal: a checkpoint, then deltas of what each call
//! changed. A follower that restores the checkpoint and applies every delta
//! in order holds exactly the entity's state (the property test in
//! `properties.rs` checks that after every step of random fleets); here:
//! what a delta holds, every way a delta can be refused, and the golden
//! delta every later version keeps reading.

mod common;

use common::{Behaviour, Sim, SEC, T0};
use orchestrator_engine::{ControllerKind, Engine, ErrorCode, EventKind, Freeze, Freezes, TargetReport, TargetState, DELTA_FORMAT_VERSION};

const GOLDEN_ENTITY_V4: &str = "tests/fixtures/entity-v4.bin";
const GOLDEN_DELTA_V1: &str = "tests/fixtures/delta-v1.bin";
const GOLDEN_AFTER_DELTA_V1: &str = "tests/fixtures/entity-v4-after-delta-v1.bin";
const GOLDEN_ENTITY_V5: &str = "tests/fixtures/entity-v5.bin";
const GOLDEN_DELTA_V2: &str = "tests/fixtures/delta-v2.bin";
const GOLDEN_AFTER_DELTA_V2: &str = "tests/fixtures/entity-v5-after-delta-v2.bin";
const GOLDEN_ENTITY_V6: &str = "tests/fixtures/entity-v6.bin";
const GOLDEN_DELTA_V3: &str = "tests/fixtures/delta-v3.bin";
const GOLDEN_AFTER_DELTA_V3: &str = "tests/fixtures/entity-v6-after-delta-v3.bin";
const GOLDEN_ENTITY_V7: &str = "tests/fixtures/entity-v7.bin";
const GOLDEN_DELTA_V4: &str = "tests/fixtures/delta-v4.bin";
const GOLDEN_AFTER_DELTA_V4: &str = "tests/fixtures/entity-v7-after-delta-v4.bin";
const GOLDEN_ENTITY_V8: &str = "tests/fixtures/entity-v8.bin";
const GOLDEN_DELTA_V5: &str = "tests/fixtures/delta-v5.bin";
const GOLDEN_AFTER_DELTA_V5: &str = "tests/fixtures/entity-v8-after-delta-v5.bin";
const GOLDEN_ENTITY_V9: &str = "tests/fixtures/entity-v9.bin";
const GOLDEN_DELTA_V6: &str = "tests/fixtures/delta-v6.bin";
const GOLDEN_AFTER_DELTA_V6: &str = "tests/fixtures/entity-v9-after-delta-v6.bin";
const GOLDEN_DELTA_V7: &str = "tests/fixtures/delta-v7.bin";
const GOLDEN_AFTER_DELTA_V7: &str = "tests/fixtures/entity-v9-after-delta-v7.bin";
const GOLDEN_ENTITY_V10: &str = "tests/fixtures/entity-v10.bin";
const GOLDEN_DELTA_V8: &str = "tests/fixtures/delta-v8.bin";
const GOLDEN_AFTER_DELTA_V8: &str = "tests/fixtures/entity-v10-after-delta-v8.bin";
const GOLDEN_ENTITY_V11: &str = "tests/fixtures/entity-v11.bin";
const GOLDEN_DELTA_V9: &str = "tests/fixtures/delta-v9.bin";
const GOLDEN_AFTER_DELTA_V9: &str = "tests/fixtures/entity-v11-after-delta-v9.bin";

/// A fleet of `n` on v1, v2 set: a rollout under way.
fn rolling(n: usize) -> Sim {
    let mut sim = Sim::new(n, "v1");
    sim.establish("v1", orchestrator_engine::RolloutOptions { batch_percent: 10, ..Default::default() });
    sim.set_version("v2");
    sim.step();
    sim
}

/// An engine holding only the entity's checkpoint.
fn follower_of(sim: &mut Sim) -> Engine {
    let mut follower = Engine::new();
    follower.restore_entity(&sim.engine.checkpoint_entity("prod", "app").unwrap()).unwrap();
    follower
}

fn state(engine: &Engine) -> Vec<u8> {
    engine.snapshot_entity("prod", "app").unwrap()
}

#[test]
fn a_steady_step_writes_what_changed_not_the_fleet() {
    let mut sim = rolling(10_000);
    let mut follower = follower_of(&mut sim);
    // The rollout's first step judges every target afresh (waiting for
    // v2): that delta holds them all.
    sim.step();
    follower.apply_entity_delta(&sim.engine.entity_delta("prod", "app").unwrap()).unwrap();
    for _ in 0..20 {
        sim.step();
        let delta = sim.engine.entity_delta("prod", "app").unwrap();
        follower.apply_entity_delta(&delta).unwrap();
        let whole = state(&sim.engine);
        assert_eq!(state(&follower), whole);
        // Every target reported; a batch (1,000) moved and one was judged,
        // each with its event: the delta is a fraction of the entity.
        assert!(delta.len() * 3 < whole.len(), "a delta of {} bytes for an entity of {}", delta.len(), whole.len());
    }
    // A step that changes nothing but the time writes almost nothing.
    sim.run_until(400, |s| s.info().last_known_good_version == "v2");
    sim.step();
    let _ = sim.engine.entity_delta("prod", "app").unwrap();
    sim.step();
    let quiet = sim.engine.entity_delta("prod", "app").unwrap();
    assert!(quiet.len() < 1_000, "a quiet step of 10,000 targets wrote {} bytes", quiet.len());
    let mut late = follower_of(&mut sim);
    sim.step();
    late.apply_entity_delta(&sim.engine.entity_delta("prod", "app").unwrap()).unwrap();
    assert_eq!(state(&late), state(&sim.engine));
}

/// A large entity's checkpoint and deltas come in blocks of at most 256
/// KiB (what the package copies out of wasm memory one by one), which
/// join to the bytes of `checkpoint_entity` and `entity_delta`.
#[test]
fn large_checkpoints_and_deltas_come_in_bounded_blocks() {
    const BLOCK: usize = 256 * 1024;
    let mut sim = rolling(120_000);
    let mut twin = rolling(120_000);
    let blocks = sim.engine.checkpoint_entity_blocks("prod", "app").unwrap();
    let bytes = twin.engine.checkpoint_entity("prod", "app").unwrap();
    assert!(blocks.pieces().count() >= 3, "{} bytes in {} blocks", blocks.len(), blocks.pieces().count());
    assert!(blocks.pieces().all(|piece| !piece.is_empty() && piece.len() <= BLOCK));
    assert_eq!(blocks.len(), bytes.len());
    let checkpoint = blocks.into_vec();
    assert_eq!(checkpoint, bytes);
    let mut follower = Engine::new();
    follower.restore_entity(&checkpoint).unwrap();
    // The rollout's first step writes every target.
    sim.step();
    twin.step();
    let blocks = sim.engine.entity_delta_blocks("prod", "app").unwrap();
    let bytes = twin.engine.entity_delta("prod", "app").unwrap();
    assert!(blocks.pieces().count() >= 3 && blocks.pieces().all(|piece| piece.len() <= BLOCK));
    let delta = blocks.into_vec();
    assert_eq!(delta, bytes);
    follower.apply_entity_delta(&delta).unwrap();
    assert_eq!(state(&follower), state(&sim.engine));
    assert_eq!(sim.engine.snapshot_blocks().into_vec(), sim.engine.snapshot());
}

/// A delta past the bytes allowed is not made: the journal ends until the
/// next checkpoint, which a follower restores to the very same state.
#[test]
fn a_delta_past_its_bytes_is_none_and_ends_the_journal() {
    let mut sim = rolling(20_000);
    let mut twin = rolling(20_000);
    let _ = sim.engine.checkpoint_entity("prod", "app").unwrap();
    let _ = twin.engine.checkpoint_entity("prod", "app").unwrap();
    // The rollout's first step judges every target afresh: a large delta.
    sim.step();
    twin.step();
    let large = twin.engine.entity_delta("prod", "app").unwrap();
    assert!(large.len() > 20_000, "{} bytes", large.len());
    // Room enough: the same delta as without a limit.
    let within = sim.engine.entity_delta_within("prod", "app", large.len()).unwrap().expect("a delta within its own size");
    assert_eq!(within.into_vec(), large);
    for most in [0, 100, large.len() - 1] {
        let mut probe = rolling(20_000);
        let _ = probe.engine.checkpoint_entity("prod", "app").unwrap();
        probe.step();
        assert!(probe.engine.entity_delta_within("prod", "app", most).unwrap().is_none(), "{most} bytes allowed");
        let ended = probe.engine.entity_delta("prod", "app").unwrap_err();
        assert_eq!(ended.code(), ErrorCode::NotFound, "{ended}");
    }
    sim.step();
    assert!(sim.engine.entity_delta_within("prod", "app", 1_000).unwrap().is_none());
    assert_eq!(sim.engine.entity_delta("prod", "app").unwrap_err().code(), ErrorCode::NotFound);
    // A checkpoint starts it again.
    let mut follower = Engine::new();
    follower.restore_entity(&sim.engine.checkpoint_entity("prod", "app").unwrap()).unwrap();
    sim.step();
    follower.apply_entity_delta(&sim.engine.entity_delta("prod", "app").unwrap()).unwrap();
    assert_eq!(state(&follower), state(&sim.engine));
}

#[test]
fn targets_that_arrive_and_leave_follow_through_the_journal() {
    let mut sim = rolling(50);
    let mut follower = follower_of(&mut sim);
    let mut follow = |sim: &mut Sim| {
        follower.apply_entity_delta(&sim.engine.entity_delta("prod", "app").unwrap()).unwrap();
        assert_eq!(state(&follower), state(&sim.engine));
    };
    // Five hosts stop reporting; past the zombie limit they are dropped.
    sim.hosts.truncate(45);
    for _ in 0..5 {
        sim.step();
        follow(&mut sim);
    }
    sim.now += 901 * SEC;
    sim.step();
    assert_eq!(sim.info().targets, 45);
    follow(&mut sim);
    // A host that arrives and one named again.
    let extra = TargetReport::new("late-1", "v1");
    let mut reports = sim.reports();
    reports.push(extra);
    sim.engine.orchestrate("prod", "app", &reports, sim.now).unwrap();
    follow(&mut sim);
    assert_eq!(state(&follower), state(&sim.engine));
}

#[test]
fn an_entity_without_a_checkpoint_has_no_delta() {
    let mut sim = rolling(10);
    let err = sim.engine.entity_delta("prod", "app").unwrap_err();
    assert_eq!(err.code(), ErrorCode::NotFound);
    assert!(err.to_string().contains("checkpoint"), "{err}");
    assert_eq!(sim.engine.entity_delta("prod", "nope").unwrap_err().code(), ErrorCode::NotFound);
    // A whole-engine snapshot of several entities is no entity's checkpoint.
    sim.engine.set_target_version("prod", "other", "v1", T0).unwrap();
    let mut whole = Engine::restore(&sim.engine.snapshot()).unwrap();
    assert_eq!(whole.entity_delta("prod", "app").unwrap_err().code(), ErrorCode::NotFound);
    // Restored from its own snapshot, it has one.
    let mut alone = Engine::new();
    alone.restore_entity(&sim.engine.snapshot_entity("prod", "app").unwrap()).unwrap();
    assert!(alone.entity_delta("prod", "app").is_ok());
}

/// Applies `delta` and expects `INVALID_SNAPSHOT` mentioning `says`, with
/// the follower unchanged.
fn refused(follower: &mut Engine, delta: &[u8], says: &str) {
    let before = follower.snapshot();
    let err = follower.apply_entity_delta(delta).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidSnapshot, "{err}");
    assert!(err.to_string().contains(says), "{err} (expected {says:?})");
    assert_eq!(follower.snapshot(), before, "a refused delta changed the state");
}

#[test]
fn a_delta_applies_only_to_the_state_it_was_made_from() {
    let mut sim = rolling(100);
    let mut follower = follower_of(&mut sim);
    sim.step();
    let first = sim.engine.entity_delta("prod", "app").unwrap();
    sim.step();
    let second = sim.engine.entity_delta("prod", "app").unwrap();
    // Out of order, then twice.
    refused(&mut follower, &second, "does not follow");
    follower.apply_entity_delta(&first).unwrap();
    refused(&mut follower, &first, "does not follow");
    follower.apply_entity_delta(&second).unwrap();
    assert_eq!(state(&follower), state(&sim.engine));
    // To an engine without the entity, or with a fresh one of that name.
    refused(&mut Engine::new(), &first, "does not hold");
    let mut other = Engine::new();
    other.set_target_version("prod", "app", "v1", T0).unwrap();
    refused(&mut other, &first, "does not follow");
    // After a new checkpoint, the old journal's deltas no longer apply.
    let mut fresh = follower_of(&mut sim);
    sim.step();
    refused(&mut fresh, &second, "does not follow");
    fresh.apply_entity_delta(&sim.engine.entity_delta("prod", "app").unwrap()).unwrap();
    assert_eq!(state(&fresh), state(&sim.engine));
}

#[test]
fn corrupt_truncated_or_foreign_bytes_are_refused_and_change_nothing() {
    let mut sim = rolling(20);
    let mut follower = follower_of(&mut sim);
    sim.step();
    let delta = sim.engine.entity_delta("prod", "app").unwrap();
    assert_eq!(&delta[..8], b"ORCHDLTA");
    assert_eq!(u16::from_le_bytes([delta[8], delta[9]]), DELTA_FORMAT_VERSION);
    refused(&mut follower, &delta[..delta.len() - 1], "truncated");
    refused(&mut follower, &delta[..10], "too short");
    refused(&mut follower, &state(&sim.engine), "not an orchestrator-engine delta");
    let mut newer = delta.clone();
    newer[8] = (DELTA_FORMAT_VERSION + 1) as u8;
    refused(&mut follower, &newer, &format!("format version {}", DELTA_FORMAT_VERSION + 1));
    // A delta is not a snapshot either.
    assert_eq!(Engine::restore(&delta).err().unwrap().code(), ErrorCode::InvalidSnapshot);
    // Every flipped byte is caught (the checksum covers the body and the
    // header's version).
    for i in 0..delta.len() {
        let mut bad = delta.clone();
        bad[i] ^= 0x20;
        let before = follower.snapshot();
        assert!(follower.apply_entity_delta(&bad).is_err(), "byte {i} flipped was accepted");
        assert_eq!(follower.snapshot(), before);
    }
    follower.apply_entity_delta(&delta).unwrap();
    assert_eq!(state(&follower), state(&sim.engine));
}

/// A golden journal: the golden entity's checkpoint (`checkpoint`), then a
/// delta of the canary resumed, approved and stepped through a rollback,
/// with `change` made to it too; every later version reads it.
fn golden_delta(checkpoint: &str, change: impl FnOnce(&mut Engine)) -> Vec<u8> {
    let mut engine = Engine::new();
    engine.restore_entity(&std::fs::read(checkpoint).unwrap()).unwrap();
    let mut sim = Sim { engine, ..Sim::new(6, "c1") };
    sim.ns = "edge".into();
    sim.entity = "canary".into();
    for h in &mut sim.hosts {
        h.running = sim.engine.expected_state("edge", "canary", None).unwrap().iter().find(|e| e.name == h.name).unwrap().version.clone();
        h.behaviour.insert("c2".into(), Behaviour::Broken);
    }
    sim.now = T0 + 3600 * SEC;
    sim.engine.resume("edge", "canary", sim.now).unwrap();
    sim.engine.approve("edge", "canary", sim.now).unwrap();
    for _ in 0..6 {
        sim.step();
    }
    change(&mut sim.engine);
    sim.engine.entity_delta("edge", "canary").unwrap()
}

/// Checks a golden delta (regenerated with `REGENERATE_GOLDEN{suffix}`):
/// it applies to its checkpoint and gives the golden state after it.
fn check_golden_delta(checkpoint: &str, delta_path: &str, after_path: &str, suffix: &str, change: impl FnOnce(&mut Engine)) -> Engine {
    if std::env::var_os(format!("REGENERATE_GOLDEN{suffix}")).is_some() {
        let delta = golden_delta(checkpoint, change);
        let mut follower = Engine::new();
        follower.restore_entity(&std::fs::read(checkpoint).unwrap()).unwrap();
        follower.apply_entity_delta(&delta).unwrap();
        std::fs::write(delta_path, &delta).unwrap();
        std::fs::write(after_path, follower.snapshot_entity("edge", "canary").unwrap()).unwrap();
    }
    let delta = std::fs::read(delta_path).expect("the golden delta is committed");
    let after = std::fs::read(after_path).expect("the state after it is committed");
    let mut follower = Engine::new();
    follower.restore_entity(&std::fs::read(checkpoint).unwrap()).unwrap();
    assert_eq!(follower.apply_entity_delta(&delta).unwrap(), ("edge".to_owned(), "canary".to_owned()));
    let mut restored = Engine::new();
    restored.restore_entity(&after).unwrap();
    // The same state as the golden one after it, in the format written now.
    assert_eq!(follower.snapshot_entity("edge", "canary").unwrap(), restored.snapshot_entity("edge", "canary").unwrap());
    // The delta holds some of the six targets and the new events, and the
    // result is a rollout the engine goes on with.
    let info = follower.rollout_info("edge", "canary").unwrap();
    assert!(!info.paused);
    assert!(follower.events("edge", "canary", 0, usize::MAX).unwrap().len() > 5);
    follower
}

#[test]
fn the_golden_v1_delta_applies_to_the_golden_v4_entity() {
    let follower = check_golden_delta(GOLDEN_ENTITY_V4, GOLDEN_DELTA_V1, GOLDEN_AFTER_DELTA_V1, "_V1", |_| {});
    let delta = std::fs::read(GOLDEN_DELTA_V1).unwrap();
    assert_eq!(u16::from_le_bytes([delta[8], delta[9]]), 1);
    assert_eq!(follower.controller_settings("edge", "canary", ControllerKind::Target).unwrap(), None);
}

/// Format 2 carries the entity's controller settings: here the target
/// controller's changed and the monitoring one's removed.
#[test]
fn the_golden_v2_delta_applies_to_the_golden_v5_entity() {
    let follower = check_golden_delta(GOLDEN_ENTITY_V5, GOLDEN_DELTA_V2, GOLDEN_AFTER_DELTA_V2, "_V2", |engine| {
        let settings = r#"{"approval":"https://ci.example/approve/v2"}"#;
        engine.set_controller_settings("edge", "canary", ControllerKind::Target, Some(settings)).unwrap();
        engine.set_controller_settings("edge", "canary", ControllerKind::Monitoring, None).unwrap();
    });
    let delta = std::fs::read(GOLDEN_DELTA_V2).unwrap();
    assert_eq!(u16::from_le_bytes([delta[8], delta[9]]), 2);
    assert_eq!(
        follower.controller_settings("edge", "canary", ControllerKind::Target).unwrap(),
        Some(r#"{"approval":"https://ci.example/approve/v2"}"#)
    );
    assert_eq!(follower.controller_settings("edge", "canary", ControllerKind::Monitoring).unwrap(), None);
}

/// Format 3 carries the entity's format 6 state (its surge, and the
/// version an operator's rollbackTo left): here a rollbackTo to the
/// version the canary rolled back to.
#[test]
fn the_golden_v3_delta_applies_to_the_golden_v6_entity() {
    let follower = check_golden_delta(GOLDEN_ENTITY_V6, GOLDEN_DELTA_V3, GOLDEN_AFTER_DELTA_V3, "_V3", |engine| {
        let now = T0 + 3700 * SEC;
        engine.set_target_version("edge", "canary", "c3", now).unwrap();
        engine.orchestrate("edge", "canary", &[], now).unwrap();
        assert!(engine.rollback_to("edge", "canary", "c1", now).unwrap());
    });
    let delta = std::fs::read(GOLDEN_DELTA_V3).unwrap();
    assert_eq!(u16::from_le_bytes([delta[8], delta[9]]), 3);
    let answer = follower.expected_state("edge", "canary", None).unwrap();
    let history = follower.history("edge", "canary").unwrap();
    assert_eq!(history.last().map(|r| (r.version.as_str(), r.outcome)), Some(("c1", orchestrator_engine::Outcome::RolledBackTo)));
    assert!(!answer.is_empty());
}

/// Format 4 carries the entity's analysis: here a background analysis set
/// on the canary and its first run, measured.
#[test]
fn the_golden_v4_delta_applies_to_the_golden_v7_entity() {
    struct Fixed;
    impl orchestrator_engine::MetricProvider for Fixed {
        fn measure(
            &mut self,
            _: &orchestrator_engine::HookContext<'_>,
            _: &orchestrator_engine::MeasureRequest<'_>,
        ) -> Result<orchestrator_engine::Measured, orchestrator_engine::HookError> {
            Ok(orchestrator_engine::Measured::of(orchestrator_engine::MetricValue::Number(0.5), ""))
        }
    }
    let follower = check_golden_delta(GOLDEN_ENTITY_V7, GOLDEN_DELTA_V4, GOLDEN_AFTER_DELTA_V4, "_V4", |engine| {
        let now = T0 + 3700 * SEC;
        let mut options = engine.rollout_info("edge", "canary").unwrap().options;
        let metric = orchestrator_engine::Metric {
            success_condition: Some("result < 1".into()),
            ..orchestrator_engine::Metric::new("latency", r#"{"web":{"url":"http://127.0.0.1:9/"}}"#)
        };
        options.analysis = Some(Box::new(orchestrator_engine::Analysis { metrics: vec![metric], args: Vec::new(), starting_step: None }));
        engine.set_rollout_options("edge", "canary", Some(options)).unwrap();
        engine.set_metric_provider(Some(Box::new(Fixed)));
        engine.set_target_version("edge", "canary", "c3", now).unwrap();
        engine.orchestrate("edge", "canary", &[], now).unwrap();
        engine.orchestrate("edge", "canary", &[], now + 1000).unwrap();
    });
    let delta = std::fs::read(GOLDEN_DELTA_V4).unwrap();
    assert_eq!(u16::from_le_bytes([delta[8], delta[9]]), 4);
    let runs = follower.analysis("edge", "canary").unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0].metrics[0].measurements[0].value, "0.5");
}

/// Format 5 carries who asked for the new events and what each rollout
/// did: here dave paused the canary and erin resumed it and set c3.
#[test]
fn the_golden_v5_delta_applies_to_the_golden_v8_entity() {
    let follower = check_golden_delta(GOLDEN_ENTITY_V8, GOLDEN_DELTA_V5, GOLDEN_AFTER_DELTA_V5, "_V5", |engine| {
        let now = T0 + 3700 * SEC;
        engine.set_actor(Some("dave")).unwrap();
        assert!(engine.pause("edge", "canary", now).unwrap());
        engine.set_actor(Some("erin")).unwrap();
        assert!(engine.resume("edge", "canary", now + 1000).unwrap());
        engine.set_target_version("edge", "canary", "c3", now + 1000).unwrap();
        engine.set_actor(None).unwrap();
        engine.orchestrate("edge", "canary", &[], now + 2000).unwrap();
    });
    let delta = std::fs::read(GOLDEN_DELTA_V5).unwrap();
    assert_eq!(u16::from_le_bytes([delta[8], delta[9]]), 5);
    let events = follower.events("edge", "canary", 0, usize::MAX).unwrap();
    let by: Vec<(&str, &str)> = events.iter().filter_map(|e| Some((e.version.as_str(), e.actor.as_deref()?))).collect();
    assert_eq!(by, [("c2", "dave"), ("c2", "erin"), ("c3", "erin")]);
    let history = follower.history("edge", "canary").unwrap();
    // c2 had failed before: its rollout was over. Erin's c3 began with her.
    let c3 = history.last().unwrap();
    assert_eq!((c3.version.as_str(), c3.actions.len(), c3.actions[0].by.as_str()), ("c3", 1, "erin"));
    assert!(history.iter().all(|r| r.actions.iter().all(|a| a.by != "dave")));
}

/// A fuzzer's input (`fuzz/seeds/restore`): a first byte of 0xF0, then a
/// delta's body (of format 1, when it was found), sealed as a delta of
/// that format.
fn fuzzed_delta(path: &str) -> Vec<u8> {
    let input = std::fs::read(path).unwrap();
    let body = &input[1..];
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&1u16.to_le_bytes());
    hasher.update(&[0, 0]);
    hasher.update(body);
    let mut bytes = b"ORCHDLTA".to_vec();
    bytes.extend_from_slice(&1u16.to_le_bytes());
    bytes.extend_from_slice(&[0, 0]);
    bytes.extend_from_slice(&(body.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&hasher.finalize().to_le_bytes());
    bytes.extend_from_slice(body);
    bytes
}

/// Found by the fuzzer in a fresh-clone CI run: a delta whose event
/// sequence went back below the events the entity keeps was applied, and
/// the entity it made no longer restored ("event 1 is out of order").
#[test]
fn a_delta_that_moves_the_event_sequence_back_is_refused() {
    let mut engine = Engine::new();
    engine.restore_entity(&std::fs::read(GOLDEN_ENTITY_V4).unwrap()).unwrap();
    let before = engine.snapshot();
    let err = engine.apply_entity_delta(&fuzzed_delta("tests/fixtures/fuzz/delta-seq-behind.bin")).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidSnapshot);
    assert!(err.to_string().contains("event sequence back"), "{err}");
    assert_eq!(engine.snapshot(), before);
}

/// An idempotency key is part of the entity's state: it travels in its
/// snapshots and deltas, so whichever process holds the entity next knows
/// the request was applied; the latest keys are kept, with answers that
/// are small enough.
#[test]
fn idempotency_keys_are_kept_with_the_entity() {
    use orchestrator_engine::{IDEMPOTENCY_KEYS, MAX_KEPT_ANSWER};
    let mut sim = rolling(4);
    let mut follower = follower_of(&mut sim);
    sim.engine.remember("prod", "app", "req-1", r#"{"changed":true}"#).unwrap();
    sim.engine.remember("prod", "app", "req-big", &"x".repeat(MAX_KEPT_ANSWER + 1)).unwrap();
    follower.apply_entity_delta(&sim.engine.entity_delta("prod", "app").unwrap()).unwrap();
    for engine in [&sim.engine, &follower, &Engine::restore(&sim.engine.snapshot()).unwrap()] {
        assert_eq!(engine.applied_answer("prod", "app", "req-1").unwrap(), Some(r#"{"changed":true}"#));
        assert_eq!(engine.applied_answer("prod", "app", "req-big").unwrap(), Some(""), "applied, answer not kept");
        assert_eq!(engine.applied_answer("prod", "app", "req-2").unwrap(), None);
    }
    for i in 0..IDEMPOTENCY_KEYS {
        sim.engine.remember("prod", "app", &format!("later-{i}"), "{}").unwrap();
    }
    assert_eq!(sim.engine.applied_answer("prod", "app", "req-1").unwrap(), None, "only the latest keys are kept");
    assert_eq!(sim.engine.remember("prod", "app", "", "{}").unwrap_err().code(), ErrorCode::InvalidArgument);
    assert_eq!(sim.engine.remember("prod", "app", "a\nb", "{}").unwrap_err().code(), ErrorCode::InvalidArgument);
}

/// Format 6 writes its part of the entity in snapshot format 9 (targets in
/// rows), and an event names a target the delta writes by its place among
/// them (`a_steady_step_writes_what_changed_not_the_fleet` holds the
/// size this saves): here c3 starts on the canary.
#[test]
fn the_golden_v6_delta_applies_to_the_golden_v9_entity() {
    let follower = check_golden_delta(GOLDEN_ENTITY_V9, GOLDEN_DELTA_V6, GOLDEN_AFTER_DELTA_V6, "_V6", |engine| {
        let now = T0 + 3700 * SEC;
        engine.set_target_version("edge", "canary", "c3", now).unwrap();
        engine.orchestrate("edge", "canary", &[], now).unwrap();
        engine.orchestrate("edge", "canary", &[], now + 1000).unwrap();
    });
    let delta = std::fs::read(GOLDEN_DELTA_V6).unwrap();
    assert_eq!(u16::from_le_bytes([delta[8], delta[9]]), 6);
    let history = follower.history("edge", "canary").unwrap();
    assert_eq!(history.last().map(|r| r.version.as_str()), Some("c3"));
    let events = follower.events("edge", "canary", 0, usize::MAX).unwrap();
    assert!(events.iter().any(|e| e.version == "c3" && e.target.is_some()), "{events:?}");
}

/// Format 7 says which targets were seen at the delta's time: here a step
/// that two of the canary's targets reported, the others keeping when they
/// were last seen.
#[test]
fn the_golden_v7_delta_applies_to_the_golden_v9_entity() {
    let follower = check_golden_delta(GOLDEN_ENTITY_V9, GOLDEN_DELTA_V7, GOLDEN_AFTER_DELTA_V7, "_V7", |engine| {
        let now = T0 + 3700 * SEC;
        let answer = engine.expected_state("edge", "canary", None).unwrap();
        let part: Vec<TargetReport> =
            answer.iter().take(2).map(|e| TargetReport::new(e.name.clone(), e.version.clone()).in_group(e.group.clone())).collect();
        engine.orchestrate("edge", "canary", &part, now).unwrap();
    });
    let delta = std::fs::read(GOLDEN_DELTA_V7).unwrap();
    assert_eq!(u16::from_le_bytes([delta[8], delta[9]]), 7);
    assert!(!follower.expected_state("edge", "canary", None).unwrap().is_empty());
    assert!(follower.freezes("edge", Some("canary")).unwrap().is_empty());
}

/// Format 8 carries the entity's freezes and why it is frozen: here a
/// one-off freeze holds c3, which was set while it held.
#[test]
fn the_golden_v8_delta_applies_to_the_golden_v10_entity() {
    let freeze = Freeze { name: "change freeze".into(), from: T0 + 3700 * SEC, until: T0 + 7300 * SEC };
    let freezes = Freezes { windows: vec![], freezes: vec![freeze] };
    let set = freezes.clone();
    let follower = check_golden_delta(GOLDEN_ENTITY_V10, GOLDEN_DELTA_V8, GOLDEN_AFTER_DELTA_V8, "_V8", move |engine| {
        let now = T0 + 3700 * SEC;
        assert!(engine.set_freezes("edge", Some("canary"), set, now).unwrap());
        engine.set_target_version("edge", "canary", "c3", now).unwrap();
        engine.orchestrate("edge", "canary", &[], now).unwrap();
        engine.orchestrate("edge", "canary", &[], now + 1000).unwrap();
    });
    let delta = std::fs::read(GOLDEN_DELTA_V8).unwrap();
    assert_eq!(u16::from_le_bytes([delta[8], delta[9]]), 8);
    assert_eq!(follower.freezes("edge", Some("canary")).unwrap(), &freezes);
    let info = follower.rollout_info("edge", "canary").unwrap();
    assert_eq!(info.rolling_version, "c3");
    assert!(info.frozen.as_deref().is_some_and(|why| why.starts_with("freeze \"change freeze\"")), "{info:?}");
    let events = follower.events("edge", "canary", 0, usize::MAX).unwrap();
    assert_eq!(events.iter().filter(|e| e.kind == EventKind::Frozen).count(), 1, "{events:?}");
    let answer = follower.expected_state("edge", "canary", None).unwrap();
    assert!(answer.iter().any(|t| t.reason == TargetState::HeldFrozen), "{answer:?}");
}

/// Format 9 carries the entity's notification settings and pipeline: here
/// they change beside a step, and a delta from before format 9 keeps them.
#[test]
fn the_golden_v9_delta_applies_to_the_golden_v11_entity() {
    let settings = r#"{"subscriptions":[],"cursor":40}"#;
    let follower = check_golden_delta(GOLDEN_ENTITY_V11, GOLDEN_DELTA_V9, GOLDEN_AFTER_DELTA_V9, "", move |engine| {
        let now = T0 + 3700 * SEC;
        engine.set_target_version("edge", "canary", "c3", now).unwrap();
        engine.orchestrate("edge", "canary", &[], now).unwrap();
        engine.set_controller_settings("edge", "canary", ControllerKind::Notifications, Some(settings)).unwrap();
        engine.orchestrate("edge", "canary", &[], now + 1000).unwrap();
    });
    let delta = std::fs::read(GOLDEN_DELTA_V9).unwrap();
    assert_eq!(u16::from_le_bytes([delta[8], delta[9]]), 9);
    assert_eq!(DELTA_FORMAT_VERSION, 9);
    assert_eq!(follower.controller_settings("edge", "canary", ControllerKind::Notifications).unwrap(), Some(settings));
    assert_eq!(follower.rollout_info("edge", "canary").unwrap().target_version, "c3");
    // The pipeline came with it: c3 set by hand holds it now.
    assert_eq!(follower.pipeline("edge", "canary", None, T0).unwrap().held.as_deref(), Some("c3"));
    // A format 8 delta (no notification settings) applied to an entity
    // that has some keeps them.
    let mut older = Engine::new();
    older.restore_entity(&std::fs::read(GOLDEN_ENTITY_V10).unwrap()).unwrap();
    older.set_controller_settings("edge", "canary", ControllerKind::Notifications, Some(settings)).unwrap();
    older.apply_entity_delta(&std::fs::read(GOLDEN_DELTA_V8).unwrap()).unwrap();
    assert_eq!(older.controller_settings("edge", "canary", ControllerKind::Notifications).unwrap(), Some(settings));
}

/// A fleet reported in parts (a part a step): each delta writes what the
/// part changed, not the targets of the other parts, and a follower holds
/// exactly the writer's state after every delta.
#[test]
fn a_step_of_one_part_writes_that_part() {
    let mut sim = rolling(10_000);
    let mut follower = follower_of(&mut sim);
    let whole = state(&sim.engine).len();
    let mut largest = 0;
    for round in 0..3 {
        for part in 0..4 {
            let reports: Vec<TargetReport> = sim.hosts[part * 2_500..(part + 1) * 2_500].iter().map(|h| h.report(sim.now)).collect();
            let answer = sim.engine.orchestrate("prod", "app", &reports, sim.now).unwrap();
            sim.apply(&answer);
            sim.now += 2_500;
            let delta = sim.engine.entity_delta("prod", "app").unwrap();
            follower.apply_entity_delta(&delta).unwrap();
            assert_eq!(state(&follower), state(&sim.engine), "round {round}, part {part}");
            if round > 0 {
                largest = largest.max(delta.len());
            }
        }
    }
    // A part is a quarter of the fleet: its delta is less than a quarter
    // of the entity (before the runs of targets seen, each delta wrote the
    // other three parts too: three quarters).
    assert!(largest * 4 < whole, "a part's delta of {largest} bytes for an entity of {whole}");
}
