//! Snapshot restore on arbitrary bytes: an error or a working engine, never
//! a panic; a restored engine snapshots to bytes that restore to the same
//! engine, and it can still orchestrate every entity it holds.
//!
//! The first input byte picks what the rest is: odd, a whole snapshot as
//! given; even, a body that gets a valid envelope (magic, format 1 to 5,
//! length, CRC-32), so mutations reach the decoder past the checksum. The
//! seeds in `fuzz/seeds/restore` are the golden fixtures in both forms.
//! The same bytes are read as one entity's snapshot too, and a snapshot is
//! split into its entities and joined back.
//!
//! A first byte of 0xF0 or more reads the rest as a delta of a golden
//! entity's journal, applied to that entity: an error that changes
//! nothing, or an entity that snapshots, restores and steps. For the
//! format 4 golden entity, 0xF0: a body given a valid format 1 delta
//! envelope, 0xF1: a whole delta; for the format 5 golden entity (with
//! controller settings), 0xF2: a body given a format 2 envelope, beyond: a
//! whole delta.
#![no_main]

use libfuzzer_sys::fuzz_target;
use orchestrator_engine::{Engine, TargetReport};

/// The golden entities: their journals' checkpoints.
const CHECKPOINT_V4: &[u8] = include_bytes!("../../tests/fixtures/entity-v4.bin");
const CHECKPOINT_V5: &[u8] = include_bytes!("../../tests/fixtures/entity-v5.bin");

/// `bytes` applied as a delta to the golden entity `checkpoint`.
fn apply_delta(checkpoint: &[u8], bytes: &[u8]) {
    let mut engine = Engine::new();
    let (ns, entity) = engine.restore_entity(checkpoint).expect("the golden entity restores");
    let before = engine.snapshot();
    if engine.apply_entity_delta(bytes).is_err() {
        assert_eq!(engine.snapshot(), before, "a refused delta changed the entity");
        return;
    }
    let after = engine.snapshot_entity(&ns, &entity).expect("the entity is there");
    let mut twin = Engine::new();
    twin.restore_entity(&after).expect("an entity a delta made must restore");
    assert_eq!(twin.snapshot_entity(&ns, &entity).expect("restored"), after, "delta -> snapshot -> restore is not stable");
    let now = 1_700_000_000_000;
    let report = [TargetReport::new("fuzz-target", "v1")];
    let _ = engine.orchestrate(&ns, &entity, &report, now);
    let _ = engine.entity_delta(&ns, &entity);
    let _ = engine.abort(&ns, &entity, now);
    let _ = engine.orchestrate(&ns, &entity, &report, now.saturating_add(60_000));
}

/// `body` in a valid envelope of format `format`.
fn envelope(format: u16, body: &[u8]) -> Vec<u8> {
    sealed(b"ORCHSNAP", format, body)
}

fn sealed(magic: &[u8; 8], format: u16, body: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(body.len() + 20);
    bytes.extend_from_slice(magic);
    bytes.extend_from_slice(&format.to_le_bytes());
    bytes.extend_from_slice(&[0, 0]);
    bytes.extend_from_slice(&u32::try_from(body.len()).unwrap_or(u32::MAX).to_le_bytes());
    // From snapshot format 4, and in deltas, the checksum covers the
    // version and reserved bytes.
    let mut hasher = crc32fast::Hasher::new();
    if format >= 4 || magic == b"ORCHDLTA" {
        hasher.update(&format.to_le_bytes());
        hasher.update(&[0, 0]);
    }
    hasher.update(body);
    bytes.extend_from_slice(&hasher.finalize().to_le_bytes());
    bytes.extend_from_slice(body);
    bytes
}

fuzz_target!(|input: &[u8]| {
    let Some((&mode, rest)) = input.split_first() else {
        return;
    };
    if mode >= 0xF0 {
        match mode {
            0xF0 => apply_delta(CHECKPOINT_V4, &sealed(b"ORCHDLTA", 1, rest)),
            0xF1 => apply_delta(CHECKPOINT_V4, rest),
            0xF2 => apply_delta(CHECKPOINT_V5, &sealed(b"ORCHDLTA", 2, rest)),
            _ => apply_delta(CHECKPOINT_V5, rest),
        }
        return;
    }
    let bytes = if mode % 2 == 1 {
        rest.to_vec()
    } else {
        envelope(u16::from(mode / 2 % 5) + 1, rest)
    };
    // Read as one entity's snapshot: one entity or an error, and stable.
    let mut one = Engine::new();
    if let Ok((ns, entity)) = one.restore_entity(&bytes) {
        let again = one.snapshot_entity(&ns, &entity).expect("the entity just restored");
        let mut twin = Engine::new();
        assert_eq!(twin.restore_entity(&again).expect("an entity snapshot the engine wrote must restore"), (ns.clone(), entity.clone()));
        assert_eq!(twin.snapshot_entity(&ns, &entity).expect("restored"), again, "entity snapshot -> restore is not stable");
    }
    let Ok(mut engine) = Engine::restore(&bytes) else {
        return;
    };
    // Split into entities and joined back, it is the same snapshot.
    let parts = Engine::split_snapshot(&bytes).expect("a restorable snapshot splits");
    let joined = Engine::join_snapshots(parts.iter().map(|(_, _, b)| b.as_slice())).expect("its parts join");
    assert_eq!(joined, engine.snapshot(), "split -> join is not the snapshot");
    let again = engine.snapshot();
    let twin = Engine::restore(&again).expect("a snapshot the engine wrote must restore");
    assert_eq!(
        twin.snapshot(),
        again,
        "snapshot -> restore -> snapshot is not stable"
    );
    let now = 1_700_000_000_000;
    for ns in engine.namespaces() {
        for entity in engine.entities(&ns).expect("listed namespace") {
            let _ = engine.rollout_info(&ns, &entity).expect("listed entity");
            let _ = engine.plan(&ns, &entity, now);
            let _ = engine.events(&ns, &entity, 0, 16);
            let _ = engine.history(&ns, &entity);
            let report = [TargetReport::new("fuzz-target", "v1")];
            let _ = engine.orchestrate(&ns, &entity, &report, now);
            let _ = engine.abort(&ns, &entity, now);
            let _ = engine.orchestrate(&ns, &entity, &report, now.saturating_add(60_000));
        }
    }
});
