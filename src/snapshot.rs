//! The snapshot format (SPEC section 5).
//!
//! A snapshot is a 20-byte envelope followed by a body:
//!
//! | bytes | what |
//! | --- | --- |
//! | 0..8 | magic `ORCHSNAP` |
//! | 8..10 | format version, u16 little-endian |
//! | 10..12 | reserved, zero |
//! | 12..16 | body length, u32 little-endian |
//! | 16..20 | CRC-32 (IEEE) of the body, u32 little-endian |
//!
//! The body is the state in `postcard` encoding. The encoding is canonical
//! (string tables in order of first use, times relative to a base), so an
//! engine restored from a snapshot snapshots to the same bytes. Every
//! format version ever written decodes forever; a newer, foreign or
//! corrupt one is an [`Error::InvalidSnapshot`] and nothing is restored.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::engine::{Engine, Namespace};
use crate::entity::{Entity, Target, Targets};
use crate::error::Error;
use crate::interner::{Interner, Sym};
use crate::model::{RolloutOptions, TargetState};

/// The format version this engine writes.
pub const SNAPSHOT_FORMAT_VERSION: u16 = 1;

const MAGIC: &[u8; 8] = b"ORCHSNAP";
const HEADER_LEN: usize = 20;

#[derive(Serialize, Deserialize)]
struct EngineV1 {
    namespaces: Vec<NamespaceV1>,
}

#[derive(Serialize, Deserialize)]
struct NamespaceV1 {
    name: String,
    entities: Vec<EntityV1>,
}

#[derive(Serialize, Deserialize)]
struct EntityV1 {
    name: String,
    /// Versions in order of first use; symbol `i` is `versions[i - 1]` and
    /// symbol 0 is "no version".
    versions: Vec<String>,
    target_version: u32,
    rolling: u32,
    lkg: u32,
    lkb: u32,
    batch_percent: u32,
    success_percent: u32,
    success_timeout_secs: u64,
    duration_timeout_secs: u64,
    /// Target messages in order of first use.
    messages: Vec<String>,
    /// Target times are stored relative to this one, so they stay small.
    time_base: i64,
    groups: Vec<GroupV1>,
}

#[derive(Serialize, Deserialize)]
struct GroupV1 {
    name: String,
    targets: Vec<TargetV1>,
}

#[derive(Serialize, Deserialize)]
struct TargetV1 {
    name: String,
    tags: Vec<String>,
    reported: u32,
    expected: u32,
    message: u32,
    is_error: bool,
    state: u8,
    detail: Option<String>,
    last_seen: i64,
    last_message: i64,
    version_changed: i64,
    assigned: i64,
}

pub(crate) fn encode(engine: &Engine) -> Vec<u8> {
    let body = EngineV1 {
        namespaces: engine
            .namespaces
            .iter()
            .map(|(name, ns)| NamespaceV1 {
                name: name.clone(),
                entities: ns
                    .entities
                    .iter()
                    .map(|(name, entity)| encode_entity(name, entity))
                    .collect(),
            })
            .collect(),
    };
    // Encoding plain owned data into a Vec cannot fail; should postcard
    // ever report an error, the snapshot is empty, which restore rejects.
    let body = postcard::to_allocvec(&body).unwrap_or_default();
    let mut bytes = Vec::with_capacity(HEADER_LEN.saturating_add(body.len()));
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&SNAPSHOT_FORMAT_VERSION.to_le_bytes());
    bytes.extend_from_slice(&0u16.to_le_bytes());
    bytes.extend_from_slice(&u32::try_from(body.len()).unwrap_or(u32::MAX).to_le_bytes());
    bytes.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    bytes.extend_from_slice(&body);
    bytes
}

/// Builds a table of strings in order of first use.
#[derive(Default)]
struct Table<'a> {
    strings: Vec<String>,
    index: HashMap<&'a str, u32>,
}

impl<'a> Table<'a> {
    /// The 1-based index of `s` (0 stays "none" for versions).
    fn index(&mut self, s: &'a str) -> u32 {
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        self.strings.push(s.to_owned());
        let i = u32::try_from(self.strings.len()).unwrap_or(u32::MAX);
        self.index.insert(s, i);
        i
    }

    fn version(&mut self, versions: &'a Interner, sym: Sym) -> u32 {
        if sym.is_empty() {
            0
        } else {
            self.index(versions.resolve(sym))
        }
    }
}

fn encode_entity(name: &str, entity: &Entity) -> EntityV1 {
    let v = &entity.versions;
    let mut versions = Table::default();
    let mut messages = Table::default();
    let target_version = versions.version(v, entity.target_version);
    let rolling = versions.version(v, entity.rolling);
    let lkg = versions.version(v, entity.lkg);
    let lkb = versions.version(v, entity.lkb);
    let time_base = entity.targets.iter().map(|(_, _, t)| t.last_seen).max().unwrap_or(0);
    let mut groups: Vec<GroupV1> = Vec::new();
    for (group, target_name, t) in entity.targets.iter() {
        if groups.last().map_or(true, |g| g.name != group) {
            groups.push(GroupV1 {
                name: group.to_owned(),
                targets: Vec::new(),
            });
        }
        let target = TargetV1 {
            name: target_name.to_owned(),
            tags: t.tags.to_vec(),
            reported: versions.version(v, t.reported),
            expected: versions.version(v, t.expected),
            message: messages.index(&t.message).saturating_sub(1),
            is_error: t.is_error,
            state: state_code(t.state),
            detail: t.detail.as_deref().map(str::to_owned),
            last_seen: t.last_seen.wrapping_sub(time_base),
            last_message: t.last_message.wrapping_sub(time_base),
            version_changed: t.version_changed.wrapping_sub(time_base),
            assigned: t.assigned.wrapping_sub(time_base),
        };
        if let Some(g) = groups.last_mut() {
            g.targets.push(target);
        }
    }
    EntityV1 {
        name: name.to_owned(),
        versions: versions.strings,
        target_version,
        rolling,
        lkg,
        lkb,
        batch_percent: entity.options.batch_percent,
        success_percent: entity.options.success_percent,
        success_timeout_secs: entity.options.success_timeout_secs,
        duration_timeout_secs: entity.options.duration_timeout_secs,
        messages: messages.strings,
        time_base,
        groups,
    }
}

/// The state codes of the format: never renumber one.
const STATES: [(TargetState, u8); 9] = [
    (TargetState::Waiting, 0),
    (TargetState::InFlight, 1),
    (TargetState::Succeeded, 2),
    (TargetState::FailedUnhealthy, 3),
    (TargetState::FailedDeadline, 4),
    (TargetState::FailedMonitor, 5),
    (TargetState::RolledBack, 6),
    (TargetState::HeldBack, 7),
    (TargetState::Halted, 8),
];

fn state_code(state: TargetState) -> u8 {
    STATES.iter().find(|(s, _)| *s == state).map_or(0, |(_, c)| *c)
}

fn state_from_code(code: u8) -> Result<TargetState, Error> {
    STATES
        .iter()
        .find(|(_, c)| *c == code)
        .map(|(s, _)| *s)
        .ok_or_else(|| Error::snapshot(format!("unknown target state {code}")))
}

pub(crate) fn decode(bytes: &[u8]) -> Result<Engine, Error> {
    let (header, body) = bytes
        .split_first_chunk::<HEADER_LEN>()
        .ok_or_else(|| Error::snapshot(format!("{} bytes is too short for a snapshot header", bytes.len())))?;
    let field = |at: usize| -> [u8; 4] {
        let mut out = [0u8; 4];
        for (i, b) in out.iter_mut().enumerate() {
            *b = header.get(at.saturating_add(i)).copied().unwrap_or(0);
        }
        out
    };
    if !header.starts_with(MAGIC) {
        return Err(Error::snapshot("these bytes are not an orchestrator-engine snapshot (bad magic)"));
    }
    let [v0, v1, r0, r1] = field(8);
    let version = u16::from_le_bytes([v0, v1]);
    if version == 0 || version > SNAPSHOT_FORMAT_VERSION {
        return Err(Error::snapshot(format!(
            "format version {version} is not one this engine reads (1 to {SNAPSHOT_FORMAT_VERSION}); \
             restore it with the newer orchestrator-engine that wrote it"
        )));
    }
    if u16::from_le_bytes([r0, r1]) != 0 {
        return Err(Error::snapshot("reserved header bytes are not zero"));
    }
    let length = u32::from_le_bytes(field(12));
    if usize::try_from(length).ok() != Some(body.len()) {
        return Err(Error::snapshot(format!(
            "the header announces {length} body bytes but {} follow (truncated or padded)",
            body.len()
        )));
    }
    if u32::from_le_bytes(field(16)) != crc32fast::hash(body) {
        return Err(Error::snapshot("checksum mismatch: the snapshot is corrupt"));
    }
    // Only format 1 exists so far; a later format adds its decoder here and
    // keeps this one.
    let (state, rest): (EngineV1, &[u8]) =
        postcard::take_from_bytes(body).map_err(|e| Error::snapshot(format!("undecodable body: {e}")))?;
    if !rest.is_empty() {
        return Err(Error::snapshot("trailing bytes after the body"));
    }
    decode_v1(state)
}

fn decode_v1(state: EngineV1) -> Result<Engine, Error> {
    let mut namespaces = BTreeMap::new();
    for ns in state.namespaces {
        if ns.name.is_empty() {
            return Err(Error::snapshot("a namespace has an empty name"));
        }
        let mut entities = BTreeMap::new();
        for entity in ns.entities {
            let name = entity.name.clone();
            if name.is_empty() {
                return Err(Error::snapshot(format!("an entity of {:?} has an empty name", ns.name)));
            }
            let decoded = decode_entity(entity)
                .map_err(|e| Error::snapshot(format!("entity {}/{name}: {e}", ns.name)))?;
            if entities.insert(name.clone(), decoded).is_some() {
                return Err(Error::snapshot(format!("entity {}/{name} appears twice", ns.name)));
            }
        }
        let name = ns.name;
        if namespaces.insert(name.clone(), Namespace { entities }).is_some() {
            return Err(Error::snapshot(format!("namespace {name:?} appears twice")));
        }
    }
    Ok(Engine { namespaces })
}

fn decode_entity(e: EntityV1) -> Result<Entity, String> {
    let mut versions = Interner::default();
    let mut syms = vec![Sym::EMPTY];
    let mut unique = HashSet::new();
    for v in &e.versions {
        if v.is_empty() || !unique.insert(v.as_str()) {
            return Err(format!("version table entry {v:?} is empty or repeated"));
        }
        syms.push(versions.intern(v));
    }
    let sym = |i: u32| -> Result<Sym, String> {
        usize::try_from(i)
            .ok()
            .and_then(|i| syms.get(i))
            .copied()
            .ok_or_else(|| format!("version index {i} is outside the table"))
    };
    let options = RolloutOptions {
        batch_percent: e.batch_percent,
        success_percent: e.success_percent,
        success_timeout_secs: e.success_timeout_secs,
        duration_timeout_secs: e.duration_timeout_secs,
    };
    options.validate().map_err(|err| err.to_string())?;
    let mut targets = Targets::default();
    for group in e.groups {
        for t in group.targets {
            if t.name.is_empty() {
                return Err(format!("a target of group {:?} has an empty name", group.name));
            }
            let message = usize::try_from(t.message)
                .ok()
                .and_then(|i| e.messages.get(i))
                .ok_or_else(|| format!("message index {} is outside the table", t.message))?;
            let target = Target {
                tags: t.tags.into_boxed_slice(),
                reported: sym(t.reported)?,
                expected: sym(t.expected)?,
                message: Box::from(message.as_str()),
                is_error: t.is_error,
                state: state_from_code(t.state).map_err(|err| err.to_string())?,
                detail: t.detail.map(String::into_boxed_str),
                last_seen: e.time_base.wrapping_add(t.last_seen),
                last_message: e.time_base.wrapping_add(t.last_message),
                version_changed: e.time_base.wrapping_add(t.version_changed),
                assigned: e.time_base.wrapping_add(t.assigned),
            };
            if targets.insert(&group.name, &t.name, target).is_some() {
                return Err(format!("target {:?} of group {:?} appears twice", t.name, group.name));
            }
        }
    }
    Ok(Entity {
        versions,
        target_version: sym(e.target_version)?,
        rolling: sym(e.rolling)?,
        lkg: sym(e.lkg)?,
        lkb: sym(e.lkb)?,
        options,
        targets,
        hooks: Default::default(),
    })
}
