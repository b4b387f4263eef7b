//! An entity's state: its versions, options and targets, in memory.

use crate::freeze::Freezes;
use crate::hooks::{ControllerSettings, EntityHooks, TargetView};
use crate::interner::{Interner, Sym};
use crate::judgement::{self, Hold, Judgement};
use crate::log::{EventKind, EventLog, History};
use crate::model::{RolloutInfo, RolloutOptions, RolloutPhase, TargetId, TargetState, Timestamp};
pub(crate) use crate::targets::Targets;

/// A time as a target keeps it: milliseconds since the Unix epoch in 48
/// bits, six bytes where a [`Timestamp`] takes eight (a target keeps four).
/// It holds 4,462 years either side of 1970; a time beyond is held at the
/// bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub(crate) struct Time([u16; 3]);

impl Time {
    /// The latest time held (the earliest is one less than its negation).
    pub(crate) const MAX: Timestamp = (1 << 47) - 1;

    pub(crate) fn at(ms: Timestamp) -> Time {
        let bits = ms.clamp(-Time::MAX - 1, Time::MAX).to_le_bytes();
        let [a, b, c, d, e, f, _, _] = bits;
        Time([u16::from_le_bytes([a, b]), u16::from_le_bytes([c, d]), u16::from_le_bytes([e, f])])
    }

    #[inline(always)]
    pub(crate) fn get(self) -> Timestamp {
        let [[a, b], [c, d], [e, f]] = self.0.map(u16::to_le_bytes);
        // The sign of bit 47 fills the top two bytes.
        let fill = if f & 0x80 == 0 { 0 } else { 0xff };
        Timestamp::from_le_bytes([a, b, c, d, e, f, fill, fill])
    }
}

/// One target of an entity. Versions are symbols of the entity's interner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    /// The version the target last reported.
    pub(crate) reported: Sym,
    /// The version the engine expects it to run.
    pub(crate) expected: Sym,
    /// The message it last reported, a symbol of its [`Targets`]' texts.
    pub(crate) message: Sym,
    pub(crate) is_error: bool,
    /// What the engine has decided about it on the version it expects.
    pub(crate) judgement: Judgement,
    /// Why the last step did not move it, when it waits for that reason
    /// (only ever on a `Waiting` judgement).
    pub(crate) hold: Option<Hold>,
    /// The tags it last reported and why the monitor hook failed it, when
    /// it did: a symbol of its [`Targets`]' pairs of them (empty: no tags
    /// and no verdict, as for most targets; see [`Targets::tags_of`]).
    pub(crate) extra: Sym,
    pub(crate) last_seen: Time,
    /// When its version or its error flag last changed.
    pub(crate) last_message: Time,
    pub(crate) version_changed: Time,
    /// When it was assigned its expected version.
    pub(crate) assigned: Time,
}

impl Target {
    /// A target seen for the first time (SPEC step 1): it expects the last
    /// known good version, and its times are back-dated by the success
    /// timeout so that it is not penalised for arriving.
    pub(crate) fn arriving(reported: Sym, expected: Sym, now: Timestamp, options: &RolloutOptions) -> Self {
        let anchor = Time::at(now.saturating_sub(options.success_timeout_ms()));
        Target {
            reported,
            expected,
            message: Sym::EMPTY,
            is_error: false,
            judgement: Judgement::Waiting,
            hold: None,
            extra: Sym::EMPTY,
            last_seen: Time::at(now),
            last_message: anchor,
            version_changed: anchor,
            assigned: anchor,
        }
    }

    /// A fingerprint of everything a snapshot keeps of the target except
    /// its name and `last_seen` (which a step changes on every reported
    /// target, and a journal records for all of them at once). Equal prints
    /// mean, up to a 64-bit hash collision, an unchanged target. Versions
    /// count by symbol (an entity's version symbols never change meaning),
    /// and so do texts, whose symbols change when they are compacted: a
    /// journal's prints are made again then ([`Targets::compact_texts`]).
    pub(crate) fn print(&self) -> u64 {
        use std::hash::BuildHasher;
        // Packed into words first: hashing four words costs a step over a
        // million targets far less than hashing each field.
        let pair = |a: Sym, b: Sym| (a.index() as u64) | ((b.index() as u64) << 32);
        let time = |t: Time| (t.get() as u64) & 0xffff_ffff_ffff;
        let flags = u64::from(self.is_error) | (u64::from(self.reason() as u8) << 1);
        let words = (
            pair(self.reported, self.expected),
            pair(self.message, self.extra),
            time(self.last_message) | (flags << 48),
            u128::from(time(self.version_changed)) | (u128::from(time(self.assigned)) << 64),
        );
        // 0 means "never written"; bit 0 is the journal's own (see
        // [`Targets::reported`]).
        (foldhash::fast::FixedState::with_seed(0x6f72_6368_6a6e_6c31).hash_one(words) & !1).max(2)
    }

    /// Records a judgement. A hold goes with it: only a waiting target is
    /// held back.
    pub(crate) fn judge(&mut self, judgement: Judgement) {
        self.judgement = judgement;
        self.hold = None;
    }

    /// Holds the target back in this step, when it waits to be moved and
    /// nothing holds it yet (the first reason found stands). A judged
    /// target says so instead: one that failed on a version being rolled
    /// back answers failed until the rollback moves it.
    pub(crate) fn hold_back(&mut self, hold: Hold) {
        if self.judgement == Judgement::Waiting && self.hold.is_none() {
            self.hold = Some(hold);
        }
    }

    /// The answer's reason for it: its hold, or else its judgement.
    pub(crate) fn reason(&self) -> TargetState {
        debug_assert!(self.hold.is_none() || self.judgement == Judgement::Waiting, "a hold on a {:?} target", self.judgement);
        judgement::reason(self.judgement, self.hold)
    }
}

/// Where the rolling version is in its plan (`steps`), and what the
/// operator did to it. Reset whenever a rollout starts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Progress {
    /// The plan step (0-based).
    pub(crate) step: usize,
    /// When the step started moving targets (`step_started` was logged).
    pub(crate) started: Option<Timestamp>,
    /// When every target of the step had been judged: the bake began.
    pub(crate) bake_from: Option<Timestamp>,
    /// `promote` skipped the step's bake.
    pub(crate) skip_bake: bool,
    /// `approve` opened the step's gate.
    pub(crate) approved: bool,
    /// `approval_requested` was logged for the step.
    pub(crate) requested: bool,
    /// `promote({ full: true })`: the rest moves at once, no more steps.
    pub(crate) full: bool,
    /// The last step's bake passed: the version may be judged good.
    pub(crate) done: bool,
    /// Failures in a row, in the order targets were judged.
    pub(crate) consecutive_failures: u64,
    /// `rollback_finished` was logged for the current rollback.
    pub(crate) rollback_logged: bool,
    /// A retry of the rolling (known bad) version waits for its rollback
    /// to finish, then rolls it out afresh.
    pub(crate) retry_pending: bool,
}

impl Progress {
    /// The plan was replaced: the step's gate, bake and start are the new
    /// plan's to pass; where the rollout is and how it went stays.
    pub(crate) fn plan_changed(&mut self) {
        *self = Progress {
            step: self.step,
            full: self.full,
            consecutive_failures: self.consecutive_failures,
            rollback_logged: self.rollback_logged,
            retry_pending: self.retry_pending,
            ..Progress::default()
        };
    }

    /// On to the next plan step, keeping what belongs to the rollout.
    pub(crate) fn next_step(&mut self) {
        *self = Progress {
            step: self.step.saturating_add(1),
            full: self.full,
            consecutive_failures: self.consecutive_failures,
            ..Progress::default()
        };
    }
}

/// A last known good version still being watched (`watchSecs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Watch {
    pub(crate) version: Sym,
    pub(crate) until: Timestamp,
    /// What was good before it: where a bad verdict rolls back to.
    pub(crate) previous: Sym,
}

/// A target the removal hook retired in the last step: answered once with
/// reason `removed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Removed {
    pub(crate) id: TargetId,
    /// The version it ran.
    pub(crate) version: Sym,
}

/// One entity: what is rolled out, how, and to which targets.
#[derive(Default)]
pub(crate) struct Entity {
    pub(crate) versions: Interner,
    pub(crate) target_version: Sym,
    pub(crate) rolling: Sym,
    pub(crate) lkg: Sym,
    pub(crate) lkb: Sym,
    /// Where the rollout is; changed with the versions above, only by the
    /// transitions of [`crate::phase`].
    pub(crate) phase: crate::phase::Phase,
    pub(crate) options: RolloutOptions,
    /// How `options.steps` is read (see [`crate::plan`]).
    pub(crate) plan_meaning: crate::plan::Meaning,
    pub(crate) targets: Targets,
    /// Since when the rollout is paused.
    pub(crate) paused_since: Option<Timestamp>,
    pub(crate) progress: Progress,
    pub(crate) watch: Option<Watch>,
    pub(crate) removed: Vec<Removed>,
    /// Machines a selection hook created (blue/green) that no retirement
    /// has balanced yet: the fleet beyond its own size. Batches are sized
    /// on the fleet without them, and no more are created than targets
    /// remain to be replaced by them.
    pub(crate) surge: usize,
    /// The version an operator's `rollbackTo` left, until a rollout or
    /// another rollback starts (empty otherwise): the rollback's events and
    /// its targets' messages name it, and the operator's request, not a bad
    /// verdict.
    pub(crate) rolled_back_from: Sym,
    /// The idempotency keys of the latest requests applied to the entity,
    /// oldest first, each with the answer it was given (empty: too large
    /// to keep), so that a request retried with its key is answered again
    /// rather than applied twice (see [`crate::Engine::remember`]).
    pub(crate) applied: std::collections::VecDeque<(Box<str>, Box<str>)>,
    /// Analysis runs: those under way and the latest ended, oldest first.
    pub(crate) analysis: Vec<crate::analysis::AnalysisRun>,
    pub(crate) log: EventLog,
    pub(crate) history: History,
    /// Who the control being applied is by, while it is applied (see
    /// [`crate::Engine::set_actor`]): its events and its rollout record
    /// them. Never set during a step, so not part of a snapshot.
    pub(crate) actor: Option<Box<str>>,
    /// Where the last report's targets were found, in its order: the hints
    /// of [`Targets::position_hinted`]. Only a cache (a stale hint costs a
    /// lookup), so not part of a snapshot.
    pub(crate) hints: Vec<u32>,
    /// The [`Targets::layout`] under which `hints` were found, when they are
    /// exact for the report of the step that took them (each is where the
    /// target is, `u32::MAX` if it is not).
    pub(crate) hints_exact: Option<u64>,
    /// Not part of a snapshot (SPEC section 4).
    pub(crate) hooks: EntityHooks,
    /// What a binding keeps to build its controllers again (part of a
    /// snapshot, unlike the hooks).
    pub(crate) controllers: ControllerSettings,
    /// Where the entity's journal stands, once it was checkpointed or
    /// restored from its own snapshot (see [`crate::snapshot::delta`]).
    pub(crate) journal: Option<Journal>,
    /// The entity's own freeze windows and one-off freezes.
    pub(crate) freezes: Freezes,
    /// Why a step last found the rollout frozen (it logged `frozen`), until
    /// a step finds it free again (and logs `unfrozen`).
    pub(crate) frozen: Option<Box<str>>,
    /// Where the entity takes its versions from, and what that did (see
    /// [`crate::pipeline`]); `None`: it takes none.
    pub(crate) pipeline: Option<Box<crate::pipeline::PipelineState>>,
}

/// The state a journal's next delta starts from: the last checkpoint or
/// delta written or applied. Targets' `persisted` prints and the targets
/// recorded as leaving belong with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Journal {
    /// Names that state: a checkpoint's checksum, chained through every
    /// delta since, so a delta applies only to the state it was made from.
    pub(crate) id: u64,
    /// The first event sequence number that state did not have.
    pub(crate) next_seq: u64,
}

impl Entity {
    /// A copy of everything but the hooks (which stay with the entity).
    pub(crate) fn copy_state(&self) -> Entity {
        // Every field, named: a field added to `Entity` does not compile
        // here until the copy says what becomes of it.
        let Entity {
            versions,
            target_version,
            rolling,
            lkg,
            lkb,
            phase,
            options,
            plan_meaning,
            targets,
            paused_since,
            progress,
            watch,
            removed,
            surge,
            rolled_back_from,
            applied,
            analysis,
            log,
            history,
            hints,
            hints_exact,
            hooks: _,
            controllers,
            journal,
            actor: _,
            freezes,
            frozen,
            pipeline,
        } = self;
        // Copied with the code the engine has anyway (each generic clone
        // would add to the wasm).
        let copied_log = EventLog { events: log.events.iter().cloned().collect(), next_seq: log.next_seq, actors: log.actors.clone() };
        let copied_history = history.clone();
        Entity {
            versions: versions.copy(),
            target_version: *target_version,
            rolling: *rolling,
            lkg: *lkg,
            lkb: *lkb,
            phase: *phase,
            options: options.clone(),
            plan_meaning: *plan_meaning,
            targets: targets.copy(),
            paused_since: *paused_since,
            progress: progress.clone(),
            watch: *watch,
            removed: removed.iter().map(|r| Removed { id: r.id.clone(), version: r.version }).collect(),
            surge: *surge,
            rolled_back_from: *rolled_back_from,
            applied: applied.clone(),
            analysis: analysis.clone(),
            log: copied_log,
            history: copied_history,
            hints: hints.to_vec(),
            hints_exact: *hints_exact,
            hooks: EntityHooks::default(),
            controllers: controllers.clone(),
            journal: *journal,
            actor: None,
            freezes: freezes.clone(),
            frozen: frozen.clone(),
            pipeline: pipeline.clone(),
        }
    }

    /// Appends to the event log.
    pub(crate) fn event(&mut self, now: Timestamp, kind: EventKind, version: Sym, detail: impl Into<Box<str>>) {
        let capacity = self.options.max_events;
        let seq = self.log.push(capacity, now, kind, version, None, detail);
        if let Some(by) = &self.actor {
            self.log.actors.push_back((seq, by.clone()));
            self.history.act(version, kind, by, now);
        }
    }

    /// Whether the rollout follows a plan's steps right now.
    pub(crate) fn follows_plan(&self) -> bool {
        !self.options.steps.is_empty() && !self.progress.full && self.rolling_out()
    }

    /// Whether the current plan step waits for `approve`.
    pub(crate) fn awaiting_approval(&self) -> bool {
        self.follows_plan()
            && !self.progress.approved
            && self.options.steps.get(self.progress.step).is_some_and(|s| s.approval)
            && !self.progress.done
    }

    /// The version the step keeps and assigns (SPEC step 3): the rolling
    /// version, or the last known good one while rolling back.
    pub(crate) fn desired(&self) -> Sym {
        if self.rolling_back() {
            self.lkg
        } else {
            self.rolling
        }
    }

    pub(crate) fn version(&self, sym: Sym) -> &str {
        self.versions.resolve(sym)
    }

    pub(crate) fn info(&self) -> RolloutInfo {
        RolloutInfo {
            target_version: self.version(self.target_version).to_owned(),
            rolling_version: self.version(self.rolling).to_owned(),
            last_known_good_version: self.version(self.lkg).to_owned(),
            last_known_bad_version: self.version(self.lkb).to_owned(),
            phase: self.rollout_phase(),
            options: self.options.clone(),
            targets: self.targets.len(),
            failure_threshold: self.options.failure_threshold(self.targets.len()),
            paused: self.paused_since.is_some(),
            pause_reason: self.paused_since.map(|_| crate::analysis::run::pause_reason(self).unwrap_or("operator")),
            step: self.follows_plan().then_some(self.progress.step),
            awaiting_approval: self.awaiting_approval(),
            watch_until: self.watch.map(|w| w.until),
            frozen: self.frozen.as_deref().map(str::to_owned),
        }
    }

    /// The phase in one word; a rollback is over once the step logged
    /// `rollback_finished` (no target expected elsewhere) and no target is
    /// still on its way back (judged `rolled_back`, not yet healthy there).
    fn rollout_phase(&self) -> RolloutPhase {
        use crate::phase::Phase;
        match self.phase {
            Phase::Idle => RolloutPhase::New,
            Phase::RollingOut => RolloutPhase::RollingOut,
            Phase::Watching => RolloutPhase::Watching,
            Phase::Settled => RolloutPhase::RolledOut,
            Phase::Halted => RolloutPhase::Halted,
            Phase::RollingBack => {
                let returning = self.targets.all().any(|t| t.judgement == Judgement::RolledBack);
                if self.progress.rollback_logged && !returning {
                    RolloutPhase::RolledBack
                } else {
                    RolloutPhase::RollingBack
                }
            }
        }
    }

    pub(crate) fn view<'a>(&'a self, group: &'a str, name: &'a str, target: &'a Target) -> TargetView<'a> {
        view(&self.versions, &self.targets, group, name, target)
    }
}

pub(crate) fn view<'a>(versions: &'a Interner, targets: &'a Targets, group: &'a str, name: &'a str, target: &'a Target) -> TargetView<'a> {
    TargetView {
        name,
        group,
        tags: targets.tags_of(target),
        version: versions.resolve(target.reported),
        expected_version: versions.resolve(target.expected),
        message: targets.text(target.message),
        is_error: target.is_error,
        reason: target.reason(),
    }
}

#[cfg(test)]
mod tests {
    use super::Time;

    #[test]
    fn a_time_keeps_every_millisecond_within_its_range_and_holds_at_the_bounds() {
        for ms in [0, 1, -1, 1_700_000_000_000, -1_700_000_000_000, 255, 65_536, Time::MAX, -Time::MAX - 1, (1 << 40) + 12_345] {
            assert_eq!(Time::at(ms).get(), ms, "{ms}");
        }
        assert_eq!(Time::at(i64::MAX).get(), Time::MAX);
        assert_eq!(Time::at(i64::MIN).get(), -Time::MAX - 1);
        assert_eq!(Time::at(Time::MAX + 1).get(), Time::MAX);
        assert_eq!(std::mem::size_of::<Time>(), 6);
    }
}
