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
}

impl EventKind {
    /// Every kind, in the order of the snapshot format's codes: never
    /// reorder, only append.
    pub(crate) const ALL: [EventKind; 22] = [
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
    ) {
        self.next_seq = self.next_seq.max(1);
        self.events.push_back(Stored { seq: self.next_seq, time, kind, version, target, detail: detail.into() });
        self.next_seq = self.next_seq.saturating_add(1);
        self.trim(capacity);
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
            })
            .collect()
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

/// One rollout of an entity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rollout {
    pub version: String,
    /// When it started, in milliseconds since the Unix epoch.
    pub started: Timestamp,
    /// When it ended; `None` while in progress or watched.
    pub ended: Option<Timestamp>,
    pub outcome: Outcome,
}

/// How many rollouts the history keeps (the oldest are dropped).
pub const HISTORY_LIMIT: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StoredRollout {
    pub(crate) version: Sym,
    pub(crate) started: Timestamp,
    pub(crate) ended: Option<Timestamp>,
    pub(crate) outcome: Outcome,
}

/// Every rollout of an entity, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct History {
    pub(crate) rollouts: VecDeque<StoredRollout>,
}

impl History {
    pub(crate) fn start(&mut self, version: Sym, now: Timestamp) {
        self.rollouts.push_back(StoredRollout { version, started: now, ended: None, outcome: Outcome::InProgress });
        while self.rollouts.len() > HISTORY_LIMIT {
            self.rollouts.pop_front();
        }
    }

    /// Records `version` as good without a rollout (adopted as the first
    /// rollout's stable version), before the rollout under way.
    pub(crate) fn adopt(&mut self, version: Sym, now: Timestamp) {
        self.closed(version, Outcome::Succeeded, now);
    }

    /// Records an operator's return of every target to `version`.
    pub(crate) fn rolled_back_to(&mut self, version: Sym, now: Timestamp) {
        self.closed(version, Outcome::RolledBackTo, now);
    }

    /// An entry opened and closed at `now`, before the rollout under way.
    fn closed(&mut self, version: Sym, outcome: Outcome, now: Timestamp) {
        let at = self.rollouts.iter().position(|r| r.outcome.is_open()).unwrap_or(self.rollouts.len());
        self.rollouts.insert(at, StoredRollout { version, started: now, ended: Some(now), outcome });
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
        self.rollouts.iter().any(|r| r.version == version && matches!(r.outcome, Outcome::Succeeded | Outcome::Watching | Outcome::RolledBackTo))
    }

    pub(crate) fn list(&self, versions: &Interner) -> Vec<Rollout> {
        self.rollouts
            .iter()
            .map(|r| Rollout { version: versions.resolve(r.version).to_owned(), started: r.started, ended: r.ended, outcome: r.outcome })
            .collect()
    }
}
