//! What happened to an entity, for people and dashboards: a bounded event
//! log and the history of its rollouts. Both are part of a snapshot.

use std::collections::VecDeque;

use serde::Serialize;

use crate::error::HookError;
use crate::interner::{Interner, Sym};
use crate::model::{TargetId, Timestamp};

/// What an event records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// The operator set or forced a target version (detail says which).
    VersionSet,
    /// A plan step began moving targets.
    StepStarted,
    /// A plan step waits for `approve`.
    ApprovalRequested,
    /// A target was told to move to the version.
    TargetAssigned,
    /// A target ran the version healthily for long enough.
    TargetSucceeded,
    /// A target failed on the version (detail says how).
    TargetFailed,
    /// The removal hook retired a target (blue/green).
    TargetRemoved,
    /// The version became last known good.
    VersionGood,
    /// The version became last known bad.
    VersionBad,
    /// Moved targets started going back to the last known good version.
    RollbackStarted,
    /// No target is expected on a bad version any more.
    RollbackFinished,
    /// The watch window of a good version passed without a bad verdict.
    WatchEnded,
    Paused,
    Resumed,
    Aborted,
    /// A version that was bad rolls out afresh.
    Retried,
    Promoted,
    Approved,
    /// A selection, approval or removal hook failed (threw, rejected,
    /// timed out or answered garbage), so the step moved or removed
    /// nothing through it (detail: the hook, why, and how long it took).
    HookFailed,
    /// An analysis run started (detail: which, and its metrics).
    AnalysisStarted,
    /// A metric was measured (detail: its outcome and why).
    AnalysisMeasured,
    /// An analysis run ended (detail: its phase and why).
    AnalysisFinished,
    /// A freeze window, a one-off freeze or a stopped line began to hold
    /// the rollout (detail: which, and until when).
    Frozen,
    /// Nothing holds the rollout any longer.
    Unfrozen,
    /// A pipeline made an upstream's good version the target (detail:
    /// where from; see [`crate::pipeline`]).
    VersionPromoted,
}

impl EventKind {
    /// Every kind, in the order of the snapshot format's codes: never
    /// reorder, only append.
    pub(crate) const ALL: [EventKind; 25] = [
        EventKind::VersionSet,
        EventKind::StepStarted,
        EventKind::ApprovalRequested,
        EventKind::TargetAssigned,
        EventKind::TargetSucceeded,
        EventKind::TargetFailed,
        EventKind::TargetRemoved,
        EventKind::VersionGood,
        EventKind::VersionBad,
        EventKind::RollbackStarted,
        EventKind::RollbackFinished,
        EventKind::WatchEnded,
        EventKind::Paused,
        EventKind::Resumed,
        EventKind::Aborted,
        EventKind::Retried,
        EventKind::Promoted,
        EventKind::Approved,
        EventKind::HookFailed,
        EventKind::AnalysisStarted,
        EventKind::AnalysisMeasured,
        EventKind::AnalysisFinished,
        EventKind::Frozen,
        EventKind::Unfrozen,
        EventKind::VersionPromoted,
    ];
}

/// One entry of an entity's event log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// Increases by one per event of the entity; page with `since`.
    pub seq: u64,
    /// When, in milliseconds since the Unix epoch.
    pub time: Timestamp,
    pub kind: EventKind,
    /// The version concerned ("" when none).
    pub version: String,
    /// The target concerned, for target events.
    pub target: Option<TargetId>,
    /// Why, for a person.
    pub detail: String,
    /// Who asked, for an operator's control made with an actor set (see
    /// [`crate::Engine::set_actor`]); `None` for what the engine did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
}

/// An event as stored: its version is a symbol of the entity's interner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stored {
    pub(crate) seq: u64,
    pub(crate) time: Timestamp,
    pub(crate) kind: EventKind,
    pub(crate) version: Sym,
    pub(crate) target: Option<TargetId>,
    pub(crate) detail: Box<str>,
}

/// An append-only log that keeps the newest events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct EventLog {
    pub(crate) events: VecDeque<Stored>,
    /// The sequence number of the next event (the first is 1).
    pub(crate) next_seq: u64,
    /// Who asked for the kept events an operator's control logged, by
    /// sequence number, oldest first (few events have one: kept beside
    /// the log rather than in every event).
    pub(crate) actors: VecDeque<(u64, Box<str>)>,
}

impl EventLog {
    /// Appends an event, dropping the oldest past `capacity`.
    pub(crate) fn push(
        &mut self,
        capacity: u32,
        time: Timestamp,
        kind: EventKind,
        version: Sym,
        target: Option<TargetId>,
        detail: impl Into<Box<str>>,
    ) -> u64 {
        self.next_seq = self.next_seq.max(1);
        let seq = self.next_seq;
        self.events.push_back(Stored { seq, time, kind, version, target, detail: detail.into() });
        self.next_seq = self.next_seq.saturating_add(1);
        self.trim(capacity);
        seq
    }

    /// For a batch of `count` events about to be pushed: the ones the batch
    /// itself would push out (all but the last `capacity`) only take their
    /// sequence numbers. Returns how many that is; the caller pushes the
    /// rest, and the log ends exactly as if it had pushed them all (a step
    /// that moves a million targets does not build a million events to
    /// keep a thousand).
    pub(crate) fn skip_overflow(&mut self, capacity: u32, count: usize) -> usize {
        let capacity = usize::try_from(capacity).unwrap_or(usize::MAX);
        let skipped = count.saturating_sub(capacity);
        if skipped > 0 {
            self.next_seq = self.next_seq.max(1).saturating_add(u64::try_from(skipped).unwrap_or(u64::MAX));
            // The `capacity` pushes that follow would drop every older event.
            self.events.clear();
            self.actors.clear();
        }
        skipped
    }

    /// Logs that `hook` failed, unless the same hook already said the same
    /// since the last event of another kind: a hook that keeps failing
    /// the same way at every step is logged once, not until it has pushed
    /// every other event out of the log.
    pub(crate) fn push_hook_failure(&mut self, capacity: u32, time: Timestamp, version: Sym, hook: &str, err: &HookError) {
        let said = format!("{hook} hook failed: {}", err.message);
        let repeated = self
            .events
            .iter()
            .rev()
            .take_while(|e| e.kind == EventKind::HookFailed)
            .any(|e| e.detail.strip_prefix(said.as_str()).is_some_and(|rest| rest.is_empty() || rest.starts_with(" (after ")));
        if !repeated {
            self.push(capacity, time, EventKind::HookFailed, version, None, format!("{hook} hook failed: {err}"));
        }
    }

    /// Drops the oldest events past `capacity` (after the option shrank).
    pub(crate) fn trim(&mut self, capacity: u32) {
        let capacity = usize::try_from(capacity).unwrap_or(usize::MAX);
        while self.events.len() > capacity {
            self.events.pop_front();
        }
        let first = self.events.front().map_or(self.next_seq, |e| e.seq);
        while self.actors.front().is_some_and(|&(seq, _)| seq < first) {
            self.actors.pop_front();
        }
    }

    /// The events after `since`, at most `limit` of them, oldest first.
    pub(crate) fn page(&self, versions: &Interner, since: u64, limit: usize) -> Vec<Event> {
        let start = self.events.partition_point(|e| e.seq <= since);
        self.events
            .range(start..)
            .take(limit)
            .map(|e| Event {
                seq: e.seq,
                time: e.time,
                kind: e.kind,
                version: versions.resolve(e.version).to_owned(),
                target: e.target.clone(),
                detail: e.detail.to_string(),
                actor: self.actor(e.seq).map(str::to_owned),
            })
            .collect()
    }

    /// Who asked for event `seq`, if an operator's control logged it with an actor.
    pub(crate) fn actor(&self, seq: u64) -> Option<&str> {
        let at = self.actors.partition_point(|&(s, _)| s < seq);
        self.actors.get(at).filter(|&&(s, _)| s == seq).map(|(_, actor)| &**actor)
    }
}

/// How a rollout ended, or that it has not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Targets are moving to the version.
    InProgress,
    /// The version is last known good and still watched (`watchSecs`).
    Watching,
    /// The version became last known good (and passed its watch).
    Succeeded,
    /// The version was judged bad and rolled back.
    Failed,
    /// An operator aborted it (`abort`, `rollbackTo`).
    Aborted,
    /// An operator forced another version while it rolled out.
    Abandoned,
    /// An operator returned every target to this version, known good
    /// (`rollbackTo`): an entry of its own, opened and closed at once.
    RolledBackTo,
}

impl Outcome {
    /// Every outcome, in the order of the snapshot format's codes.
    pub(crate) const ALL: [Outcome; 7] = [
        Outcome::InProgress,
        Outcome::Watching,
        Outcome::Succeeded,
        Outcome::Failed,
        Outcome::Aborted,
        Outcome::Abandoned,
        Outcome::RolledBackTo,
    ];

    pub(crate) const fn is_open(self) -> bool {
        matches!(self, Outcome::InProgress | Outcome::Watching)
    }
}

/// What an operator did to a rollout, and who: set its version, paused,
/// resumed, promoted, approved, aborted or retried it, or returned to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Action {
    /// The kind of the event the control logged (`version_set`, `paused`, ...).
    pub kind: EventKind,
    /// The actor the control was made as (see [`crate::Engine::set_actor`]).
    pub by: String,
    /// When, in milliseconds since the Unix epoch.
    pub time: Timestamp,
}

/// One rollout of an entity (a revision).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rollout {
    pub version: String,
    /// When it started, in milliseconds since the Unix epoch.
    pub started: Timestamp,
    /// When it ended; `None` while in progress or watched.
    pub ended: Option<Timestamp>,
    pub outcome: Outcome,
    /// The furthest plan step it started (1 for the first); without a
    /// plan, the batches it moved. This and the counts below are `None` for a rollout restored
    /// from a snapshot older than format 8, which did not count them.
    pub steps_reached: Option<u32>,
    /// How many times a target was told to move to its version.
    pub targets_moved: Option<u64>,
    /// How many targets failed on its version.
    pub failures: Option<u64>,
    /// The sequence number of the first event logged once it started: its
    /// events are those from here on (`events(since: firstEvent - 1)`).
    pub first_event: Option<u64>,
    /// What operators did to it, oldest first (the latest
    /// [`ACTIONS_LIMIT`]).
    pub actions: Vec<Action>,
}

/// How many rollouts the history keeps (the oldest are dropped).
pub const HISTORY_LIMIT: usize = 1000;
/// How many actions a rollout keeps (the oldest are dropped).
pub const ACTIONS_LIMIT: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoredAction {
    pub(crate) kind: EventKind,
    pub(crate) by: Box<str>,
    pub(crate) time: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoredRollout {
    pub(crate) version: Sym,
    pub(crate) started: Timestamp,
    pub(crate) ended: Option<Timestamp>,
    pub(crate) outcome: Outcome,
    pub(crate) tally: Tally,
}

/// What a rollout did, counted as it goes (snapshot format 8).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    pub(crate) steps: u32,
    pub(crate) moved: u64,
    pub(crate) failed: u64,
    pub(crate) first_seq: u64,
    pub(crate) actions: Vec<StoredAction>,
}

/// Every rollout of an entity, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct History {
    pub(crate) rollouts: VecDeque<StoredRollout>,
    /// The action that set a version not rolling out yet: the first of
    /// its rollout once it starts.
    pub(crate) pending: Option<(Sym, StoredAction)>,
}

impl History {
    pub(crate) fn start(&mut self, version: Sym, now: Timestamp, first_seq: u64) {
        let mut tally = Tally { first_seq, ..Tally::default() };
        if let Some((_, action)) = self.pending.take().filter(|(v, _)| *v == version) {
            tally.actions.push(action);
        }
        self.rollouts.push_back(StoredRollout { version, started: now, ended: None, outcome: Outcome::InProgress, tally });
        while self.rollouts.len() > HISTORY_LIMIT {
            self.rollouts.pop_front();
        }
    }

    /// The rollout of `version` an event at `now` concerns: the newest of
    /// that version still open, or ended at `now` (an abort ends it before
    /// logging).
    fn concerning(&mut self, version: Sym, now: Timestamp) -> Option<&mut Tally> {
        let newest = self.rollouts.iter_mut().rev().find(|r| r.version == version)?;
        (newest.ended.is_none() || newest.ended == Some(now)).then_some(&mut newest.tally)
    }

    /// Records that `by` made a control that logged `kind` about `version`.
    pub(crate) fn act(&mut self, version: Sym, kind: EventKind, by: &str, now: Timestamp) {
        let action = StoredAction { kind, by: by.into(), time: now };
        match self.concerning(version, now) {
            Some(tally) => {
                tally.actions.push(action);
                if tally.actions.len() > ACTIONS_LIMIT {
                    tally.actions.remove(0);
                }
            }
            None if kind == EventKind::VersionSet => self.pending = Some((version, action)),
            None => {}
        }
    }

    /// Counts `moved` targets told to move to `version`, and `failed`
    /// targets judged failed on it, toward its open rollout.
    pub(crate) fn count(&mut self, version: Sym, moved: usize, failed: usize, now: Timestamp) {
        if let Some(tally) = self.concerning(version, now) {
            tally.moved = tally.moved.saturating_add(u64::try_from(moved).unwrap_or(u64::MAX));
            tally.failed = tally.failed.saturating_add(u64::try_from(failed).unwrap_or(u64::MAX));
        }
    }

    /// Without a plan: the rollout of `version` reached as many batches of
    /// `batch` targets as it moved.
    pub(crate) fn batches(&mut self, version: Sym, batch: usize, now: Timestamp) {
        if let Some(tally) = self.concerning(version, now) {
            let batch = u64::try_from(batch.max(1)).unwrap_or(u64::MAX);
            let reached = tally.moved.div_ceil(batch);
            tally.steps = tally.steps.max(u32::try_from(reached).unwrap_or(u32::MAX));
        }
    }

    /// Records that the rollout of `version` started plan step `step` (1 for the first).
    pub(crate) fn reached(&mut self, version: Sym, step: usize, now: Timestamp) {
        if let Some(tally) = self.concerning(version, now) {
            tally.steps = tally.steps.max(u32::try_from(step).unwrap_or(u32::MAX));
        }
    }

    /// Records `version` as good without a rollout (adopted as the first
    /// rollout's stable version), before the rollout under way.
    pub(crate) fn adopt(&mut self, version: Sym, now: Timestamp, first_seq: u64) {
        self.closed(version, Outcome::Succeeded, now, first_seq);
    }

    /// Records an operator's return of every target to `version`.
    pub(crate) fn rolled_back_to(&mut self, version: Sym, now: Timestamp, first_seq: u64) {
        self.closed(version, Outcome::RolledBackTo, now, first_seq);
    }

    /// An entry opened and closed at `now`, before the rollout under way.
    fn closed(&mut self, version: Sym, outcome: Outcome, now: Timestamp, first_seq: u64) {
        let at = self.rollouts.iter().position(|r| r.outcome.is_open()).unwrap_or(self.rollouts.len());
        let tally = Tally { first_seq, ..Tally::default() };
        self.rollouts.insert(at, StoredRollout { version, started: now, ended: Some(now), outcome, tally });
        while self.rollouts.len() > HISTORY_LIMIT {
            self.rollouts.pop_front();
        }
    }

    /// Sets the outcome of the open rollout of `version`, if there is one;
    /// an outcome other than `Watching` ends it at `now`.
    pub(crate) fn settle(&mut self, version: Sym, outcome: Outcome, now: Timestamp) {
        let open = self.rollouts.iter_mut().rev().find(|r| r.version == version && r.outcome.is_open());
        if let Some(rollout) = open {
            rollout.outcome = outcome;
            if outcome != Outcome::Watching {
                rollout.ended = Some(now);
            }
        }
    }

    /// Whether `version` ever became last known good.
    pub(crate) fn was_good(&self, version: Sym) -> bool {
        self.rollouts
            .iter()
            .any(|r| r.version == version && matches!(r.outcome, Outcome::Succeeded | Outcome::Watching | Outcome::RolledBackTo))
    }

    pub(crate) fn list(&self, versions: &Interner) -> Vec<Rollout> {
        self.rollouts
            .iter()
            .map(|r| {
                // A rollout counted from its start has its first event's number.
                let counted = r.tally.first_seq > 0;
                Rollout {
                    version: versions.resolve(r.version).to_owned(),
                    started: r.started,
                    ended: r.ended,
                    outcome: r.outcome,
                    steps_reached: counted.then_some(r.tally.steps),
                    targets_moved: counted.then_some(r.tally.moved),
                    failures: counted.then_some(r.tally.failed),
                    first_event: counted.then_some(r.tally.first_seq),
                    actions: r.tally.actions.iter().map(|a| Action { kind: a.kind, by: a.by.to_string(), time: a.time }).collect(),
                }
            })
            .collect()
    }
}
