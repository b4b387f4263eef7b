//! Snapshots that are not one: foreign, newer, corrupt, truncated, bit-flipped
//! or mutated bytes, and states no engine can reach, are each a clear
//! `INVALID_SNAPSHOT` error, never a panic.

mod common;
mod golden;

use common::T0;
use golden::*;
use orchestrator_engine::{Engine, ErrorCode, TargetReport, SNAPSHOT_FORMAT_VERSION};
use proptest::prelude::*;

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
    // Target "h"'s row: its name (sharing nothing, one byte, "h"), then
    // its flags, whose low four bits are its state's code (2, succeeded:
    // it was adopted as good); 11 (`removed`) is no live target's, 15 no
    // state at all.
    let at = body.windows(3).position(|w| w == [0, 1, b'h']).expect("the target's row") + 3;
    assert_eq!(body[at] & 0x0f, 2);
    for (code, what) in [(11, "\"h\" of group \"\" is stored as removed"), (15, "\"h\" of group \"\" has state 15, which no engine writes")]
    {
        let mut edited = body.to_vec();
        edited[at] = (body[at] & 0xf0) | code;
        let err = restore_err(&with_header(SNAPSHOT_FORMAT_VERSION, &edited));
        assert!(err.contains(what), "{err}");
    }
}

#[test]
fn every_truncation_and_every_bit_flip_is_rejected_without_a_panic() {
    let good = golden_v9_engine().snapshot();
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
        (7, std::fs::read(GOLDEN_V7).unwrap()),
        (8, std::fs::read(GOLDEN_V8).unwrap()),
        (9, golden_v9_engine().snapshot()),
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
