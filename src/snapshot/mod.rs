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
//! | 16..20 | CRC-32 (IEEE) of the body (from format 4: of bytes 8..12, then the body), u32 little-endian |
//!
//! The body is the state in `postcard` encoding. Format 2 is format 1's
//! body with each entity followed by its progressive-delivery state
//! (plan options, pause, plan progress, watch, event log, history).
//! Format 3 is format 2 with a compact event log: an event refers to its
//! target by its index in the entity's target list (or in a table of
//! targets the entity no longer has), to its detail through a string
//! table, and keeps its sequence number and time as differences from the
//! event before (a full log of 1000 events took about 100 KB in format 2,
//! under 10 KB in format 3). The encoding is canonical
//! (string tables in order of first use, times relative to a base), so an
//! engine restored from a snapshot snapshots to the same bytes. Every
//! format version ever written decodes forever; a newer, foreign or
//! corrupt one is an [`Error::InvalidSnapshot`] and nothing is restored.
//! Format 4 is format 3 with each entity followed by the options added
//! since (`errorTimeoutSecs`) and how its plan is read: formats 1 to 3
//! read a plan as batch sizes, and an entity restored from them keeps that
//! meaning (see [`crate::plan`]). Format 5 is format 4 with each entity
//! followed by the settings a binding builds its controllers from (the
//! URLs of the Go engine's HTTP controllers: see
//! [`crate::hooks::ControllerSettings`]), so that a restored engine calls
//! them again. Format 6 is format 5 followed by each entity's surge: the
//! machines a selection hook created that no retirement balanced yet (see
//! [`crate::entity::Entity::surge`]), so that a restored blue/green
//! rollout creates no more machines than the original would have.
//! Format 7 adds each entity's analysis (templates and runs); format 8
//! who asked for each operator's event, and what each rollout of the
//! history did (steps reached, targets moved, failures, its first event,
//! the operators' actions). Format 10 adds each entity's freeze windows
//! and one-off freezes, and after them the namespaces' own (with a stopped
//! line): a namespace may then have settings and no entity, and is left
//! out of the body, which holds only namespaces with entities. Format 11
//! adds, after the namespaces' settings, each entity's notification
//! settings (a binding's, kept as its controller settings are) and its
//! promotion pipeline, and then each namespace's notification settings.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::engine::{Engine, Namespace};
use crate::entity::{Entity, Progress, Removed, Target, Targets, Watch};
use crate::error::Error;
use crate::hooks::ControllerSettings;
use crate::interner::{Interner, Sym};
use crate::judgement;
use crate::log::{EventKind, EventLog, History, Outcome, Stored, StoredRollout};
use crate::model::{Amount, PlanStep, RolloutOptions, TargetId, TargetState};

mod blocks;
mod decode;
mod delta;
mod encode;
mod envelope;
mod format;
mod rows;
use decode::*;
use encode::*;
use envelope::*;
use format::*;
use rows::{decode_rows, encode_rows, RowsIn, RowsOut};

pub use blocks::Blocks;
pub use delta::DELTA_FORMAT_VERSION;
pub(crate) use delta::{apply_delta, checkpoint, encode_delta};

/// The format version this engine writes.
pub const SNAPSHOT_FORMAT_VERSION: u16 = 11;

const MAGIC: &[u8; 8] = b"ORCHSNAP";
const HEADER_LEN: usize = 20;

pub(crate) fn encode(engine: &Engine) -> Blocks {
    let body = Body {
        namespaces: engine
            .namespaces
            .iter()
            .filter(|(_, ns)| !ns.entities.is_empty())
            .map(|(name, ns)| NamespaceBody {
                name: name.clone(),
                entities: ns.entities.iter().map(|(name, entity)| encode_entity(name, entity, None)).collect(),
            })
            .collect(),
    };
    let entities = || engine.namespaces.values().flat_map(|ns| ns.entities.values());
    let controllers: Vec<Option<&str>> = entities().flat_map(encode_controllers).collect();
    let extras: Vec<ExtraV6<&str>> = entities().map(encode_extra).collect();
    let analyses: Vec<ExtraV7Out<'_>> = entities().map(encode_analysis).collect();
    let revisions: Vec<ExtraV8<&str>> = entities().map(|e| encode_revisions(e, 0)).collect();
    let freezes: Vec<ExtraV10> = entities().map(encode_freezes).collect();
    let settings: Vec<NamespaceV10> = engine
        .namespaces
        .iter()
        .filter(|(_, ns)| !ns.freezes.is_empty() || ns.stopped.is_some())
        .map(|(name, ns)| NamespaceV10 { name: name.clone(), freezes: ns.freezes.clone(), stopped: ns.stopped.clone() })
        .collect();
    let v11: Vec<ExtraV11> = entities().map(encode_v11).collect();
    let notify: Vec<(&str, &str)> =
        engine.namespaces.iter().filter_map(|(name, ns)| Some((name.as_str(), ns.notifications.as_deref()?))).collect();
    seal(body, &controllers, &extras, &analyses, &revisions, (&freezes, &settings), (&v11, &notify))
}

/// One entity's snapshot: the snapshot of an engine that holds only it, so
/// that it has every guarantee an engine's snapshot has (and restores as
/// one).
pub(crate) fn encode_one(namespace: &str, name: &str, entity: &Entity) -> Blocks {
    let body = Body { namespaces: vec![NamespaceBody { name: namespace.to_owned(), entities: vec![encode_entity(name, entity, None)] }] };
    let extras = (&encode_extra(entity), &encode_analysis(entity), &encode_revisions(entity, 0));
    seal(
        body,
        &encode_controllers(entity),
        std::slice::from_ref(extras.0),
        std::slice::from_ref(extras.1),
        std::slice::from_ref(extras.2),
        (&[encode_freezes(entity)], &[]),
        (&[encode_v11(entity)], &[]),
    )
}

/// The entity in an entity's snapshot ([`encode_one`]), with its namespace
/// and name.
pub(crate) fn decode_one(bytes: &[u8]) -> Result<(String, String, Entity), Error> {
    let engine = decode(bytes)?;
    let count: usize = engine.namespaces.values().map(|ns| ns.entities.len()).sum();
    if count != 1 {
        let what = if count == 0 { "no entity" } else { "several entities" };
        return Err(Error::snapshot(format!("the snapshot holds {what}; an entity's snapshot holds exactly one")));
    }
    // A whole-engine snapshot may hold namespaces with settings and no
    // entity besides.
    let (namespace, mut ns) = engine
        .namespaces
        .into_iter()
        .find(|(_, ns)| !ns.entities.is_empty())
        .ok_or_else(|| Error::snapshot("the snapshot holds no entity"))?;
    let (name, entity) = ns.entities.pop_first().ok_or_else(|| Error::snapshot("the snapshot holds no entity"))?;
    Ok((namespace, name, entity))
}

/// The envelope around a body in the current format: format 9's body, then
/// the controller settings of each of its entities, then each one's format
/// 6, 7, 8 and 10 state, in order, then the namespaces' settings, then
/// each entity's notification settings.
#[inline(never)]
fn seal(
    body: Body<EntityV9<RowsOut<'_>>>,
    controllers: &[Option<&str>],
    extras: &[ExtraV6<&str>],
    analyses: &[ExtraV7Out<'_>],
    revisions: &[ExtraV8<&str>],
    freezes: (&[ExtraV10], &[NamespaceV10]),
    v11: (&[ExtraV11], &[(&str, &str)]),
) -> Blocks {
    // The rows, and about 16 bytes an event.
    let entities = body.namespaces.iter().flat_map(|ns| &ns.entities);
    let size = entities.map(|e| e.targets.size().saturating_add(e.control.events.events.len().saturating_mul(16))).sum::<usize>();
    let mut whole = (body, controllers, extras, analyses, revisions, freezes.0, freezes.1, v11.0, v11.1);
    envelope_around(MAGIC, SNAPSHOT_FORMAT_VERSION, &mut whole, rows_of_one, size.saturating_add(1024))
}

/// The rows of a snapshot's one entity (a checkpoint's), which its
/// envelope is written around; none when it holds several.
#[allow(clippy::type_complexity)]
fn rows_of_one<'w, A, B, C, D, E, F, G, H>(whole: &'w mut (Body<EntityV9<RowsOut<'_>>>, A, B, C, D, E, F, G, H)) -> Option<&'w mut Blocks> {
    match whole.0.namespaces.as_mut_slice() {
        [ns] => match ns.entities.as_mut_slice() {
            [entity] => Some(entity.targets.rows_mut()),
            _ => None,
        },
        _ => None,
    }
}

#[inline(never)]
pub(crate) fn decode(bytes: &[u8]) -> Result<Engine, Error> {
    let (version, body, crc) = open(bytes, MAGIC, SNAPSHOT_FORMAT_VERSION, "snapshot")?;
    let mut engine = decode_version(version, body)?;
    // A snapshot of one entity is that entity's checkpoint: its journal
    // can go on from here.
    let mut entities = engine.namespaces.values_mut().flat_map(|ns| ns.entities.values_mut());
    if let (Some(entity), None) = (entities.next(), entities.next()) {
        delta::start(entity, crc);
    }
    Ok(engine)
}

fn decode_version(version: u16, body: &[u8]) -> Result<Engine, Error> {
    // Every format ever written keeps its decoder.
    match version {
        1 => decode_body(parse::<EntityV1>(body)?, |e| decode_entity(e, None, ExtraV4::LEGACY)),
        2 => decode_body(parse::<EntityV2>(body)?, |e| decode_entity(e.core, Some(e.control), ExtraV4::LEGACY)),
        3 => decode_body(parse::<EntityV3>(body)?, |e| {
            let control = expand_log(&e.core, e.control)?;
            decode_entity(e.core, Some(control), ExtraV4::LEGACY)
        }),
        4..=8 => decode_trailed(version, body, decode_v4),
        _ => decode_trailed(version, body, decode_v9),
    }
}

/// A body of format 4 or later: its entities (format 4's from format 4 to
/// 8, format 9's from 9), then what came after them ([`Trailer`]).
fn decode_trailed<'a, E: Named + Deserialize<'a>>(
    version: u16,
    body: &'a [u8],
    decode: impl Fn(E) -> Result<Entity, String>,
) -> Result<Engine, Error> {
    let (state, trailer) = take::<Body<E>>(body)?;
    let entities = state.namespaces.iter().map(|ns| ns.entities.len()).sum::<usize>();
    let mut trailer = Trailer::parse(version, trailer, entities)?;
    let mut engine = decode_body(state, |e| trailer.complete(decode(e)?))?;
    decode_namespaces(&mut engine, std::mem::take(&mut trailer.namespaces))?;
    decode_namespace_notifications(&mut engine, std::mem::take(&mut trailer.notify))?;
    Ok(engine)
}

/// What follows the entities of a body of format 4 or later, for each
/// entity in the body's order: from format 5 its controller settings; from
/// format 6 its surge; from 7 its analysis; from 8 its actors and tallies;
/// from 10 its freezes. Then, from format 10, the namespaces' settings;
/// from 11, each entity's notification settings.
struct Trailer {
    version: u16,
    settings: std::vec::IntoIter<Option<String>>,
    extras: std::vec::IntoIter<ExtraV6>,
    analyses: std::vec::IntoIter<ExtraV7>,
    revisions: std::vec::IntoIter<ExtraV8>,
    freezes: std::vec::IntoIter<ExtraV10>,
    namespaces: Vec<NamespaceV10>,
    v11: std::vec::IntoIter<ExtraV11>,
    /// From format 11: the namespaces' notification settings, by name.
    notify: Vec<(String, String)>,
}

impl Trailer {
    #[inline(never)]
    fn parse(version: u16, trailer: &[u8], entities: usize) -> Result<Trailer, Error> {
        let (settings, extras, analyses, revisions): (ControllersV5, Vec<ExtraV6>, Vec<ExtraV7>, Vec<ExtraV8>) = match version {
            4 => end(trailer, (Vec::new(), Vec::new(), Vec::new(), Vec::new()))?,
            5 => (parse_all(trailer)?, Vec::new(), Vec::new(), Vec::new()),
            6 => {
                let (settings, extras) = parse_all(trailer)?;
                (settings, extras, Vec::new(), Vec::new())
            }
            7 => {
                let (settings, extras, analyses) = parse_all(trailer)?;
                (settings, extras, analyses, Vec::new())
            }
            8 | 9 => parse_all(trailer)?,
            10 => {
                let (settings, extras, analyses, revisions, freezes, namespaces) = parse_all(trailer)?;
                return Trailer::counted(version, entities, (settings, extras, analyses, revisions), (freezes, namespaces), Vec::new());
            }
            _ => {
                let (settings, extras, analyses, revisions, freezes, namespaces, v11, notify) = parse_all(trailer)?;
                let mut trailer = Trailer::counted(version, entities, (settings, extras, analyses, revisions), (freezes, namespaces), v11)?;
                trailer.notify = notify;
                return Ok(trailer);
            }
        };
        Trailer::counted(version, entities, (settings, extras, analyses, revisions), (Vec::new(), Vec::new()), Vec::new())
    }

    /// The trailer, once each entity has its part of it.
    fn counted(
        version: u16,
        entities: usize,
        (settings, extras, analyses, revisions): (ControllersV5, Vec<ExtraV6>, Vec<ExtraV7>, Vec<ExtraV8>),
        (freezes, namespaces): (Vec<ExtraV10>, Vec<NamespaceV10>),
        v11: Vec<ExtraV11>,
    ) -> Result<Trailer, Error> {
        let expected = if version == 4 { 0 } else { entities.saturating_mul(2) };
        if settings.len() != expected {
            return Err(Error::snapshot(format!("{} controller settings for {entities} entities", settings.len())));
        }
        if version >= 6 && extras.len() != entities {
            return Err(Error::snapshot(format!("format 6 state of {} entities for {entities}", extras.len())));
        }
        if version >= 7 && analyses.len() != entities {
            return Err(Error::snapshot(format!("format 7 state of {} entities for {entities}", analyses.len())));
        }
        if version >= 8 && revisions.len() != entities {
            return Err(Error::snapshot(format!("format 8 state of {} entities for {entities}", revisions.len())));
        }
        if version >= 10 && freezes.len() != entities {
            return Err(Error::snapshot(format!("format 10 state of {} entities for {entities}", freezes.len())));
        }
        if version >= 11 && v11.len() != entities {
            return Err(Error::snapshot(format!("format 11 state of {} entities for {entities}", v11.len())));
        }
        Ok(Trailer {
            version,
            settings: settings.into_iter(),
            extras: extras.into_iter(),
            analyses: analyses.into_iter(),
            revisions: revisions.into_iter(),
            freezes: freezes.into_iter(),
            namespaces,
            v11: v11.into_iter(),
            notify: Vec::new(),
        })
    }

    /// The next entity with what the trailer holds for it.
    #[inline(never)]
    fn complete(&mut self, mut entity: Entity) -> Result<Entity, String> {
        if let (Some(target), Some(monitoring)) = (self.settings.next(), self.settings.next()) {
            entity.controllers = decode_controllers(target, monitoring);
        }
        let targets = entity.targets.len();
        decode_extra(&mut entity, self.extras.next().unwrap_or_default(), targets)?;
        decode_analysis(&mut entity, self.analyses.next().unwrap_or_default())?;
        decode_revisions(&mut entity, self.revisions.next().unwrap_or_default(), self.version)?;
        decode_freezes(&mut entity, self.freezes.next().unwrap_or_default())?;
        decode_v11(&mut entity, self.v11.next().unwrap_or_default());
        Ok(entity)
    }
}
