//! Promotion pipelines: an entity that takes its versions from other
//! entities (its upstreams) once they are good there.
//!
//! A downstream entity names its upstreams (`from`: each `namespace/entity`)
//! and whether it takes a version good in every one of them (`all`) or in
//! any (`one of`: the newest), how long the version must have been good
//! upstream first (`soak_secs`, counted from when its rollout there
//! succeeded: its watch window passed), and whether a person approves each
//! promotion. When the conditions hold, the downstream's target version
//! becomes the upstream's good version by itself, with a
//! `version_promoted` event that says where it came from.
//!
//! What holds a promotion back, each said in [`PipelineView::waiting`]:
//! - a version set by hand downstream (`setTargetVersion`,
//!   `forceTargetVersion`, `rollbackTo`), until the pipeline is released;
//! - a freeze or a stopped line on the downstream;
//! - a version bad in any upstream, which is never promoted;
//! - a version turned back downstream (failed, aborted): never promoted
//!   there again, so never good there, so never promoted further down;
//! - a version promoted once already (never twice);
//! - an approval not given yet.
//!
//! The engine decides from [`Upstream`] facts: those of upstreams it holds
//! itself, or those a binding read elsewhere (each entity of the package's
//! `Rollouts` is in a store record of its own).

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::analysis::Phase as AnalysisPhase;
use crate::entity::Entity;
use crate::error::Error;
use crate::log::Outcome;
use crate::model::Timestamp;

/// The most upstreams one entity may take its versions from.
pub const MAX_UPSTREAMS: usize = 16;
/// The longest soak: a year.
pub const MAX_SOAK_SECS: u64 = 366 * 24 * 3600;
/// How many promoted versions an entity remembers (never promoting one twice).
const PROMOTED_KEPT: usize = 32;

/// Where an entity takes its versions from, and on which conditions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pipeline {
    /// The upstream entities, each `namespace/entity`.
    pub from: Vec<String>,
    /// `true`: a version good in every upstream; `false`: the newest good
    /// in any.
    pub all: bool,
    pub soak_secs: u64,
    pub approval: bool,
    /// An analysis template (as the rollout option `analysis`) run here on
    /// the candidate before it is promoted: it is promoted only once the
    /// run succeeds, and never after it fails. `None`: no verification.
    #[serde(default)]
    pub verification: Option<Box<crate::Analysis>>,
}

/// A pipeline and what it has done, kept with the downstream entity.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub(crate) struct PipelineState {
    pub(crate) pipeline: Option<Pipeline>,
    /// The version set by hand that holds promotion until released.
    pub(crate) held: Option<String>,
    /// The version a person approved for promotion.
    pub(crate) approved: Option<String>,
    /// The version whose approval was asked for (logged once).
    pub(crate) asked: Option<String>,
    /// The latest versions promoted, oldest first.
    pub(crate) promoted: VecDeque<String>,
}

impl PipelineState {
    pub(crate) fn is_empty(&self) -> bool {
        *self == PipelineState::default()
    }
}

/// What a downstream needs to know of one upstream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Upstream {
    /// `namespace/entity`.
    pub name: String,
    /// Whether the upstream exists (a missing one holds every promotion).
    pub found: bool,
    /// Its last known good version, once its rollout succeeded.
    pub good: Option<String>,
    /// When that rollout succeeded (its watch passed).
    pub good_since: Option<Timestamp>,
    /// The version it runs or rolls out now.
    pub rolling: String,
    /// Versions known bad there (failed or aborted).
    pub bad: Vec<String>,
}

/// The pipeline of an entity, as a person reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PipelineView {
    pub pipeline: Option<Pipeline>,
    pub upstreams: Vec<Upstream>,
    /// The version the conditions point at, if any.
    pub candidate: Option<String>,
    /// Which upstream(s) it comes from.
    pub candidate_from: Vec<String>,
    /// Why it is not promoted now (`None`: it is, or nothing is to do).
    pub waiting: Option<String>,
    /// The version set by hand that holds promotion.
    pub held: Option<String>,
    pub approved: Option<String>,
    /// The latest versions promoted here, oldest first.
    pub promoted: Vec<String>,
}

/// What the conditions come to now.
pub(crate) enum Decision {
    /// Nothing to promote, or the candidate runs here already.
    Idle,
    /// The candidate waits: why.
    Wait(String),
    /// Promote: the version, where from, and since when it is good there.
    Promote { version: String, from: Vec<String> },
    /// Everything holds but the verification, which is to run (or runs, or
    /// has ended: the caller reads it).
    Verify { version: String, from: Vec<String> },
}

impl Pipeline {
    /// Checks the pipeline of `namespace/entity`: `INVALID_ARGUMENT` unless
    /// it names 1 to [`MAX_UPSTREAMS`] distinct other entities and a soak of
    /// at most [`MAX_SOAK_SECS`].
    pub(crate) fn check(&self, namespace: &str, entity: &str) -> Result<(), Error> {
        let invalid = |reason: String| Err(Error::InvalidArgument { what: "pipeline".into(), reason });
        if self.from.is_empty() || self.from.len() > MAX_UPSTREAMS {
            return invalid(format!("from must name 1 to {MAX_UPSTREAMS} upstream entities, got {}", self.from.len()));
        }
        for (i, name) in self.from.iter().enumerate() {
            let Some((ns, e)) = name.split_once('/') else {
                return invalid(format!("from[{i}] must be \"namespace/entity\", got {name:?}"));
            };
            for (what, part) in [("namespace", ns), ("entity", e)] {
                if crate::engine::check_name(what, part).is_err() {
                    return invalid(format!("from[{i}] has an invalid {what}: {part:?}"));
                }
            }
            if ns == namespace && e == entity {
                return invalid(format!("from[{i}] is the entity itself"));
            }
            if self.from.iter().take(i).any(|n| n == name) {
                return invalid(format!("from names {name:?} twice"));
            }
        }
        if self.soak_secs > MAX_SOAK_SECS {
            return invalid(format!("soakSecs must be at most {MAX_SOAK_SECS} (a year), got {}", self.soak_secs));
        }
        Ok(())
    }

    /// [`check`](Self::check), then the verification template checked and
    /// its args substituted (as the engine keeps it).
    pub(crate) fn bound(mut self, namespace: &str, entity: &str) -> Result<Pipeline, Error> {
        self.check(namespace, entity)?;
        if let Some(template) = self.verification.as_mut() {
            if template.starting_step.is_some() {
                return Err(Error::InvalidArgument {
                    what: "pipeline.verification".into(),
                    reason: "a verification has no startingStep".into(),
                });
            }
            **template = template.bind("pipeline.verification")?;
        }
        Ok(self)
    }
}

/// What `entity` tells its downstreams, as `name`.
pub(crate) fn upstream_of(name: String, entity: &Entity) -> Upstream {
    let good = (!entity.lkg.is_empty()).then(|| entity.version(entity.lkg));
    // The rollout of the good version that succeeded, newest first.
    let since = good.and_then(|good| {
        entity
            .history
            .rollouts
            .iter()
            .rev()
            .find(|r| entity.version(r.version) == good && r.outcome == Outcome::Succeeded)
            .and_then(|r| r.ended)
    });
    Upstream {
        name,
        found: true,
        good: since.and(good.map(str::to_owned)),
        good_since: since,
        rolling: entity.version(entity.rolling).to_owned(),
        bad: turned_back(entity),
    }
}

/// An upstream the engine was asked about and does not have.
pub(crate) fn missing(name: String) -> Upstream {
    Upstream { name, found: false, good: None, good_since: None, rolling: String::new(), bad: Vec::new() }
}

/// Versions the entity turned back: its last known bad, and every one whose
/// rollout failed or was aborted.
fn turned_back(entity: &Entity) -> Vec<String> {
    let mut bad: Vec<String> = entity
        .history
        .rollouts
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Failed | Outcome::Aborted))
        .map(|r| entity.version(r.version).to_owned())
        .collect();
    if !entity.lkb.is_empty() {
        bad.push(entity.version(entity.lkb).to_owned());
    }
    bad.sort();
    bad.dedup();
    bad
}

/// What the pipeline of `entity` comes to at `now`; `frozen`: why a freeze
/// holds it, if one does.
pub(crate) fn decide(entity: &Entity, upstreams: &[Upstream], frozen: Option<&str>, now: Timestamp) -> Decision {
    let Some(state) = entity.pipeline.as_deref() else { return Decision::Idle };
    let Some(pipeline) = &state.pipeline else { return Decision::Idle };
    let (version, from, ready) = match candidate(pipeline, upstreams) {
        Ok(found) => found,
        Err(why) => return why.map_or(Decision::Idle, Decision::Wait),
    };
    if entity.version(entity.target_version) == version {
        return Decision::Idle;
    }
    if turned_back(entity).contains(&version) {
        return Decision::Wait(format!("{version} was turned back here: it is never promoted here again, nor further down"));
    }
    if state.promoted.contains(&version) {
        return Decision::Wait(format!("{version} was promoted here once already"));
    }
    if let Some(held) = &state.held {
        return Decision::Wait(format!("{held} was set by hand here: promotion waits until the pipeline is released"));
    }
    if ready > now {
        return Decision::Wait(format!("{version} soaks in {} until {}", from.join(", "), crate::freeze::iso_minute(ready)));
    }
    if let Some(why) = frozen {
        return Decision::Wait(format!("frozen: {why}"));
    }
    if pipeline.approval && state.approved.as_deref() != Some(version.as_str()) {
        return Decision::Wait(format!("the promotion of {version} from {} awaits approval", from.join(", ")));
    }
    if pipeline.verification.is_some() {
        return Decision::Verify { version, from };
    }
    Decision::Promote { version, from }
}

/// What the verification of `version` here came to: promote it, or why
/// it waits. Starts the run when none ran.
fn verified(entity: &mut Entity, version: String, from: Vec<String>, now: Timestamp) -> Decision {
    match crate::analysis::verification(entity, &version, now) {
        Some((AnalysisPhase::Successful, _)) | None => Decision::Promote { version, from },
        Some((AnalysisPhase::Running | AnalysisPhase::Pending, _)) => {
            Decision::Wait(format!("{version} is being verified here before it is promoted"))
        }
        Some((phase, message)) => {
            Decision::Wait(format!("{version} failed its verification here ({}: {message}): it is never promoted here", phase.word()))
        }
    }
}

/// What a decision to verify says before it runs (a view changes nothing).
fn verifying(entity: &Entity, version: &str) -> String {
    let run = entity.analysis.iter().rev().find(|r| r.kind == crate::analysis::RunKind::Verification && r.version == version);
    match run {
        None => format!("{version} is to be verified here before it is promoted"),
        Some(r) if r.phase == AnalysisPhase::Successful => format!("{version} passed its verification: it is promoted at the next step"),
        Some(r) if r.ended.is_none() => format!("{version} is being verified here before it is promoted"),
        Some(r) => format!("{version} failed its verification here ({}: {}): it is never promoted here", r.phase.word(), r.message),
    }
}

/// The version the upstreams point at, where from, and when its soak ends;
/// `Err(Some(why))` when they point at none yet for a reason worth saying.
fn candidate(pipeline: &Pipeline, upstreams: &[Upstream]) -> Result<(String, Vec<String>, Timestamp), Option<String>> {
    let soak = i64::try_from(pipeline.soak_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    if let Some(gone) = upstreams.iter().find(|u| !u.found) {
        return Err(Some(format!("upstream {} does not exist", gone.name)));
    }
    let bad_anywhere = |v: &str| upstreams.iter().any(|u| u.bad.iter().any(|b| b == v));
    if pipeline.all {
        let mut good = upstreams.iter().map(|u| u.good.as_deref().zip(u.good_since));
        let Some(Some((version, _))) = good.next() else {
            return Err(upstreams.first().map(|u| format!("nothing is good in {} yet", u.name)));
        };
        if let Some(other) = upstreams.iter().find(|u| u.good.as_deref() != Some(version)) {
            return Err(Some(format!("{version} is not good in {} yet", other.name)));
        }
        if bad_anywhere(version) {
            return Err(Some(format!("{version} is bad upstream: it is never promoted")));
        }
        let since = upstreams.iter().filter_map(|u| u.good_since).max().unwrap_or(0);
        return Ok((version.to_owned(), upstreams.iter().map(|u| u.name.clone()).collect(), since.saturating_add(soak)));
    }
    // One of: the newest good version that is bad nowhere upstream.
    let newest = upstreams
        .iter()
        .filter_map(|u| Some((u.good.as_deref()?, u.good_since?, &u.name)))
        .filter(|(v, _, _)| !bad_anywhere(v))
        .max_by_key(|(_, since, _)| *since);
    match newest {
        Some((version, since, name)) => Ok((version.to_owned(), vec![name.clone()], since.saturating_add(soak))),
        None => Err(Some("nothing is good upstream yet".to_owned())),
    }
}

/// Records that `version` was promoted here.
pub(crate) fn promoted(state: &mut PipelineState, version: &str) {
    state.promoted.retain(|v| v != version);
    state.promoted.push_back(version.to_owned());
    while state.promoted.len() > PROMOTED_KEPT {
        state.promoted.pop_front();
    }
    state.approved = None;
    state.asked = None;
}

impl crate::Engine {
    /// Sets (or with `None` removes) where `entity` takes its versions
    /// from; answers whether that changed it. What the pipeline did (the
    /// versions it promoted, a hold, an approval) stays until it is
    /// removed. `INVALID_ARGUMENT` for a pipeline [`Pipeline::check`]
    /// refuses.
    pub fn set_pipeline(&mut self, namespace: &str, entity: &str, pipeline: Option<Pipeline>) -> Result<bool, Error> {
        let pipeline = pipeline.map(|p| p.bound(namespace, entity)).transpose()?;
        if pipeline.is_none() && self.entity(namespace, entity).map_or(true, |e| e.pipeline.is_none()) {
            return Ok(false);
        }
        let state = self.entity_or_create(namespace, entity)?;
        if pipeline.is_none() {
            state.pipeline = None;
            return Ok(true);
        }
        let slot = state.pipeline.get_or_insert_with(Box::default);
        let changed = slot.pipeline != pipeline;
        slot.pipeline = pipeline;
        Ok(changed)
    }

    /// What `entity` tells the entities that take their versions from it
    /// (a binding that keeps entities apart passes it to them).
    pub fn upstream(&self, namespace: &str, entity: &str) -> Result<Upstream, Error> {
        Ok(upstream_of(format!("{namespace}/{entity}"), self.entity(namespace, entity)?))
    }

    /// The facts of the upstreams of `pipeline` this engine holds (`None`
    /// when it holds not all of them: a binding passes them).
    fn held_upstreams(&self, pipeline: &Pipeline) -> Option<Vec<Upstream>> {
        pipeline
            .from
            .iter()
            .map(|name| {
                let (ns, e) = name.split_once('/')?;
                Some(self.entity(ns, e).map_or_else(|_| missing(name.clone()), |held| upstream_of(name.clone(), held)))
            })
            .collect::<Option<Vec<_>>>()
            .filter(|ups| ups.iter().all(|u| u.found))
    }

    /// The pipeline of `entity` as a person reads it, decided at `now` from
    /// `upstreams` (`None`: from the upstreams this engine holds, missing
    /// ones said so).
    pub fn pipeline(&self, namespace: &str, entity: &str, upstreams: Option<Vec<Upstream>>, now: Timestamp) -> Result<PipelineView, Error> {
        let state = self.entity(namespace, entity)?;
        let kept = state.pipeline.as_deref().cloned().unwrap_or_default();
        let upstreams = match (upstreams, &kept.pipeline) {
            (Some(given), _) => given,
            (None, Some(p)) => p
                .from
                .iter()
                .map(|name| {
                    let held = name.split_once('/').and_then(|(ns, e)| self.entity(ns, e).ok());
                    held.map_or_else(|| missing(name.clone()), |h| upstream_of(name.clone(), h))
                })
                .collect(),
            (None, None) => Vec::new(),
        };
        let frozen = self.frozen_at(namespace, entity, now)?;
        let (candidate, candidate_from, waiting) = match decide(state, &upstreams, frozen.as_deref(), now) {
            Decision::Idle => {
                let runs = kept.pipeline.as_ref().and_then(|p| candidate(p, &upstreams).ok());
                (runs.as_ref().map(|(v, _, _)| v.clone()), runs.map(|(_, from, _)| from).unwrap_or_default(), None)
            }
            Decision::Wait(why) => {
                let found = kept.pipeline.as_ref().and_then(|p| candidate(p, &upstreams).ok());
                (found.as_ref().map(|(v, _, _)| v.clone()), found.map(|(_, from, _)| from).unwrap_or_default(), Some(why))
            }
            Decision::Promote { version, from } => (Some(version), from, None),
            Decision::Verify { version, from } => {
                let why = verifying(state, &version);
                (Some(version), from, Some(why))
            }
        };
        Ok(PipelineView {
            pipeline: kept.pipeline,
            upstreams,
            candidate,
            candidate_from,
            waiting,
            held: kept.held,
            approved: kept.approved,
            promoted: kept.promoted.into_iter().collect(),
        })
    }

    /// Promotes the upstreams' good version to `entity`'s target when its
    /// pipeline's conditions hold at `now` (`upstreams`: `None` for those
    /// this engine holds; when it holds not all of them, nothing happens).
    /// Answers the version promoted. Logs `version_set` and
    /// `version_promoted`; a promotion awaiting approval logs
    /// `approval_requested` once.
    pub fn advance_pipeline(
        &mut self,
        namespace: &str,
        entity: &str,
        upstreams: Option<Vec<Upstream>>,
        now: Timestamp,
    ) -> Result<Option<String>, Error> {
        let Some(pipeline) = self.entity(namespace, entity)?.pipeline.as_deref().and_then(|s| s.pipeline.clone()) else {
            return Ok(None);
        };
        let Some(upstreams) = upstreams.or_else(|| self.held_upstreams(&pipeline)) else { return Ok(None) };
        let frozen = self.frozen_at(namespace, entity, now)?;
        let decision = decide(self.entity(namespace, entity)?, &upstreams, frozen.as_deref(), now);
        let state = self.entity_mut(namespace, entity)?;
        let decision = match decision {
            Decision::Verify { version, from } => verified(state, version, from, now),
            other => other,
        };
        match decision {
            Decision::Verify { .. } => Ok(None),
            Decision::Idle => Ok(None),
            Decision::Wait(why) => {
                // Asked once per version awaiting approval.
                let awaiting = why.ends_with("awaits approval").then(|| candidate(&pipeline, &upstreams).ok()).flatten();
                if let (Some((version, _, _)), Some(kept)) = (awaiting, state.pipeline.as_deref_mut()) {
                    if kept.asked.as_deref() != Some(version.as_str()) {
                        kept.asked = Some(version.clone());
                        let sym = state.versions.intern(&version);
                        state.event(now, crate::log::EventKind::ApprovalRequested, sym, why);
                    }
                }
                Ok(None)
            }
            Decision::Promote { version, from } => {
                let since = upstreams.iter().filter(|u| from.contains(&u.name)).filter_map(|u| u.good_since).max();
                state.set_target(&version, now);
                let sym = state.versions.intern(&version);
                let when = since.map(|t| format!(", good there since {}", crate::freeze::iso_minute(t))).unwrap_or_default();
                state.event(now, crate::log::EventKind::VersionPromoted, sym, format!("promoted from {}{when}", from.join(", ")));
                if let Some(kept) = state.pipeline.as_deref_mut() {
                    promoted(kept, &version);
                }
                Ok(Some(version))
            }
        }
    }

    /// Approves the promotion of `version` to `entity` (its pipeline asks
    /// for approval): answers whether that changed anything.
    /// `NOT_FOUND` for an entity without a pipeline.
    pub fn approve_promotion(&mut self, namespace: &str, entity: &str, version: &str) -> Result<bool, Error> {
        crate::engine::check_version("approvePromotion", version)?;
        let state = self.entity_mut(namespace, entity)?;
        let kept = state
            .pipeline
            .as_deref_mut()
            .filter(|s| s.pipeline.is_some())
            .ok_or_else(|| Error::NotFound { kind: "pipeline of entity", name: format!("{namespace}/{entity}") })?;
        let changed = kept.approved.as_deref() != Some(version);
        kept.approved = Some(version.to_owned());
        Ok(changed)
    }

    /// Lets the pipeline promote again after a version set by hand held
    /// it: answers whether it was held.
    pub fn release_pipeline(&mut self, namespace: &str, entity: &str) -> Result<bool, Error> {
        let state = self.entity_mut(namespace, entity)?;
        Ok(state.pipeline.as_deref_mut().and_then(|s| s.held.take()).is_some())
    }

    /// A version set by hand on an entity with a pipeline holds it.
    pub(crate) fn hold_pipeline(&mut self, namespace: &str, entity: &str, version: &str) {
        if let Ok(state) = self.entity_mut(namespace, entity) {
            if let Some(kept) = state.pipeline.as_deref_mut().filter(|s| s.pipeline.is_some()) {
                kept.held = Some(version.to_owned());
            }
        }
    }
}
