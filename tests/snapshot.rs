//! Snapshots (SPEC section 5): exact, canonical, versioned, and never a
//! panic on bytes that are not one.

mod common;

use common::{Behaviour, Sim, SEC, T0};
use orchestrator_engine::{
    Engine, ErrorCode, HookContext, HookError, RolloutOptions, TargetController, TargetReport, TargetState,
    TargetView, SNAPSHOT_FORMAT_VERSION,
};
use proptest::prelude::*;

const GOLDEN_V1: &str = "tests/fixtures/snapshot-v1.bin";

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
    let options = RolloutOptions { batch_percent: 25, success_percent: 75, success_timeout_secs: 30, duration_timeout_secs: 90, ..Default::default() };
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

#[test]
fn the_golden_v1_snapshot_still_restores() {
    if std::env::var_os("REGENERATE_GOLDEN").is_some() {
        std::fs::write(GOLDEN_V1, golden_engine().snapshot()).unwrap();
    }
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
    let eu: Vec<_> = engine
        .expected_state("prod", "app", Some("eu"))
        .unwrap()
        .into_iter()
        .map(|e| (e.name, e.version, e.reason))
        .collect();
    let want = [
        ("host-000", "v1", TargetState::RolledBack),
        ("host-002", "v1", TargetState::RolledBack),
        ("host-004", "v2", TargetState::Waiting),
        ("host-006", "v2", TargetState::Waiting),
    ];
    assert_eq!(eu, want.map(|(n, v, r)| (n.to_owned(), v.to_owned(), r)));
    let worker = engine.expected_state("staging", "worker", None).unwrap();
    assert_eq!((worker[0].name.as_str(), worker[0].version.as_str(), worker[0].reason), ("w-1", "w7", TargetState::InFlight));

    if SNAPSHOT_FORMAT_VERSION == 1 {
        // Canonical: the same state gives the same bytes, built or restored.
        assert_eq!(engine.snapshot(), bytes);
        assert_eq!(golden_engine().snapshot(), bytes);
    }
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
    assert_eq!(bytes.len(), 21);
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
    bytes.extend_from_slice(&crc32fast::hash(body).to_le_bytes());
    bytes.extend_from_slice(body);
    bytes
}

#[test]
fn foreign_newer_and_corrupt_snapshots_are_clear_errors() {
    let good = golden_engine().snapshot();
    assert_eq!(restore_err(b""), "invalid snapshot: 0 bytes is too short for a snapshot header");
    assert_eq!(restore_err(b"{\"namespaces\":[]}   "), "invalid snapshot: these bytes are not an orchestrator-engine snapshot (bad magic)");
    let newer = with_header(SNAPSHOT_FORMAT_VERSION + 1, &good[20..]);
    assert_eq!(
        restore_err(&newer),
        "invalid snapshot: format version 2 is not one this engine reads (1 to 1); restore it with the newer orchestrator-engine that wrote it"
    );
    assert!(restore_err(&good[..good.len() - 1]).contains("truncated or padded"));
    let mut flipped = good.clone();
    *flipped.last_mut().unwrap() ^= 0x10;
    assert_eq!(restore_err(&flipped), "invalid snapshot: checksum mismatch: the snapshot is corrupt");
    let mut padded = good.clone();
    padded.push(0);
    assert!(restore_err(&padded).contains("truncated or padded"));
}

#[test]
fn every_truncation_and_every_bit_flip_is_rejected_without_a_panic() {
    let good = golden_engine().snapshot();
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
    let good = golden_engine().snapshot();
    let body = &good[20..];
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
        match Engine::restore(&with_header(1, &mutated)) {
            // A mutation that still decodes is a valid engine: it works.
            Ok(engine) => {
                ok += 1;
                let again = engine.snapshot();
                Engine::restore(&again).unwrap();
                for ns in engine.namespaces() {
                    for entity in engine.entities(&ns).unwrap() {
                        engine.expected_state(&ns, &entity, None).unwrap();
                    }
                }
            }
            Err(err) => {
                rejected += 1;
                assert_eq!(err.code(), ErrorCode::InvalidSnapshot);
            }
        }
    }
    assert!(rejected > 10_000, "{ok} decoded, {rejected} rejected");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = Engine::restore(&bytes);
        let _ = Engine::restore(&with_header(1, &bytes));
    }
}
