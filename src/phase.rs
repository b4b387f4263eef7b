//! The phase of an entity's rollout, and every transition between phases.
//!
//! The rolling, last known good and last known bad versions and the watch
//! change together, here and nowhere else: each transition below sets them,
//! logs what happened, settles the history and names the phase it leads
//! to. The step (`step/`) and the operator's controls (`control.rs`) ask
//! for transitions; what they read is [`Entity::phase`]. Debug builds (and
//! so every test) check after each transition that the phase is the one the
//! versions describe ([`Phase::of`], which is also how a restored entity
//! gets its phase).

use crate::entity::Time;
use crate::entity::{Entity, Progress, Watch};
use crate::interner::Sym;
use crate::judgement::Judgement;
use crate::log::{EventKind, Outcome};
use crate::model::{secs_to_ms, Timestamp};

/// Where an entity's rollout is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Phase {
    /// No version has been set rolling yet.
    #[default]
    Idle,
    /// The rolling version moves out to the fleet.
    RollingOut,
    /// The rolling version is good and still judged (`watchSecs`).
    Watching,
    /// The rolling version is good; nothing moves but targets that join.
    Settled,
    /// The rolling version is bad; the targets it moved go back to the last
    /// known good one.
    RollingBack,
    /// The rolling version is bad and none is known good: its targets are
    /// held where they are until a new version is set.
    Halted,
}

impl Phase {
    /// The phase the versions describe.
    pub(crate) fn of(rolling: Sym, lkg: Sym, lkb: Sym, watch: Option<Watch>) -> Phase {
        if rolling.is_empty() {
            Phase::Idle
        } else if rolling == lkb {
            if lkg.is_empty() {
                Phase::Halted
            } else {
                Phase::RollingBack
            }
        } else if rolling == lkg {
            if watch.is_some_and(|w| w.version == rolling) {
                Phase::Watching
            } else {
                Phase::Settled
            }
        } else {
            Phase::RollingOut
        }
    }

    /// The phase of a rollback: back to a good version, or held.
    fn back_to(lkg: Sym) -> Phase {
        if lkg.is_empty() {
            Phase::Halted
        } else {
            Phase::RollingBack
        }
    }
}

impl Entity {
    /// Enters `phase`, which must be the one the versions describe.
    fn enter(&mut self, phase: Phase) {
        debug_assert_eq!(phase, Phase::of(self.rolling, self.lkg, self.lkb, self.watch), "a transition broke the phase invariant");
        self.phase = phase;
    }

    /// Whether a rollout is under way: a rolling version that is neither
    /// known good nor known bad.
    pub(crate) fn rolling_out(&self) -> bool {
        self.phase == Phase::RollingOut
    }

    /// Whether the rolling version is known bad, so the step rolls back
    /// (or holds, with nothing good to go back to).
    pub(crate) fn rolling_back(&self) -> bool {
        matches!(self.phase, Phase::RollingBack | Phase::Halted)
    }

    /// Whether the rolling version is good and still watched.
    pub(crate) fn watched(&self) -> bool {
        self.phase == Phase::Watching
    }

    /// SPEC step 3 and step 10: `version` becomes the rolling version. A
    /// rollout of it starts ([`Entity::start_rollout`]) once the step can
    /// no longer fail.
    pub(crate) fn roll(&mut self, version: Sym) {
        self.rolling = version;
        self.enter(Phase::of(self.rolling, self.lkg, self.lkb, self.watch));
    }

    /// Puts back the rolling version a failed step had set.
    pub(crate) fn unroll(&mut self, rolling: Sym, phase: Phase) {
        self.rolling = rolling;
        self.enter(phase);
    }

    /// Starts a rollout of the rolling version: a history entry and a
    /// fresh plan.
    pub(crate) fn start_rollout(&mut self, now: Timestamp) {
        self.progress = Progress::default();
        if self.rolling_out() {
            self.rolled_back_from = Sym::EMPTY;
            self.history.start(self.rolling, now, self.log.next_seq.max(1));
        }
    }

    /// The first rollout of an entity with no known good version takes
    /// `version`, what its fleet runs, as last known good (README,
    /// Deviation 5); `detail` says why.
    pub(crate) fn adopt(&mut self, version: Sym, detail: String, now: Timestamp) {
        self.lkg = version;
        if self.rolling == version {
            // The fleet already runs the target version: nothing to roll out.
            self.history.settle(version, Outcome::Succeeded, now);
            self.enter(Phase::Settled);
        } else {
            self.history.adopt(version, now, self.log.next_seq.max(1));
            self.enter(Phase::RollingOut);
        }
        self.event(now, EventKind::VersionGood, version, detail);
    }

    /// Steps 6 and 10: the rolling version is good. With a watch window it
    /// is watched, else settled.
    pub(crate) fn judged_good(&mut self, detail: String, now: Timestamp) {
        let rolling = self.rolling;
        let previous = self.lkg;
        self.lkg = rolling;
        self.event(now, EventKind::VersionGood, rolling, detail);
        let watch_ms = secs_to_ms(self.options.watch_secs);
        if watch_ms > 0 {
            self.watch = Some(Watch { version: rolling, until: now.saturating_add(watch_ms), previous });
            self.history.settle(rolling, Outcome::Watching, now);
            self.enter(Phase::Watching);
        } else {
            self.history.settle(rolling, Outcome::Succeeded, now);
            self.enter(Phase::Settled);
        }
    }

    /// Steps 6 and 10: the rolling version is bad (also while watched,
    /// which rolls back to the version good before it) and rolls back.
    pub(crate) fn judged_bad(&mut self, mut detail: String, now: Timestamp) {
        let rolling = self.rolling;
        if let Some(watch) = self.watch.filter(|_| self.watched()) {
            self.lkg = watch.previous;
            self.watch = None;
            detail.push_str(" (within its watch window)");
        }
        self.lkb = rolling;
        self.history.settle(rolling, Outcome::Failed, now);
        if self.lkg.is_empty() {
            // Nothing to roll back to (state from before adoption): no
            // rollback starts, and this event says what happens instead.
            detail.push_str("; no version is known good: its targets are held where they are until a new version is set");
        }
        self.event(now, EventKind::VersionBad, rolling, detail);
        self.rollback_started(now, rolling, "it is known bad");
    }

    /// A watched version whose window passed (or was cut short) is simply
    /// good: its rollout succeeded at `at`.
    pub(crate) fn pass_watch(&mut self, now: Timestamp, at: Timestamp, why: &str) {
        if let Some(watch) = self.watch.take() {
            self.history.settle(watch.version, Outcome::Succeeded, at);
            self.event(now, EventKind::WatchEnded, watch.version, why);
            self.enter(Phase::of(self.rolling, self.lkg, self.lkb, None));
        }
    }

    /// `forceTargetVersion`: the rollout under way is abandoned for
    /// `version`; it becomes last known bad and rolls back.
    pub(crate) fn abandon(&mut self, version: Sym, now: Timestamp) {
        let abandoned = self.rolling;
        self.lkb = abandoned;
        self.history.settle(abandoned, Outcome::Abandoned, now);
        let why = format!("{} is forced", self.version(version));
        self.rollback_started(now, abandoned, &why);
    }

    /// `abort`: the version under way (or still watched) is bad now and
    /// rolls back. With nothing moved it changes nothing.
    pub(crate) fn abort(&mut self, now: Timestamp) -> bool {
        let rolling = self.rolling;
        if self.watched() {
            let previous = self.watch.map_or(Sym::EMPTY, |w| w.previous);
            self.watch = None;
            self.lkg = previous;
        } else if !self.rolling_out() || !self.targets.all().any(|t| t.expected == rolling) {
            return false;
        }
        self.lkb = rolling;
        self.history.settle(rolling, Outcome::Aborted, now);
        self.event(now, EventKind::Aborted, rolling, "aborted by the operator");
        self.rollback_started(now, rolling, "it was aborted");
        true
    }

    /// `version` is no longer known bad and rolls out afresh, from the
    /// plan's first step and in batches. While its rollback is still
    /// moving targets back, the retry waits for it to finish (at its own
    /// pace), so no more than a batch is ever in flight and nothing skips
    /// the rollback's pace.
    pub(crate) fn restart(&mut self, version: Sym, now: Timestamp) {
        let unfinished = self.rolling == version && !self.lkg.is_empty() && self.targets.all().any(|t| t.expected == version);
        if unfinished {
            self.progress.retry_pending = true;
            self.event(now, EventKind::Retried, version, "it rolls out afresh once its rollback has finished");
            return;
        }
        self.lkb = Sym::EMPTY;
        self.event(now, EventKind::Retried, version, "no longer known bad: it rolls out afresh");
        self.enter(Phase::of(self.rolling, self.lkg, self.lkb, self.watch));
        if self.rolling == version {
            // Halted (nothing good to go back to): its targets are in
            // flight again with a new deadline.
            for target in self.targets.all_mut() {
                if target.expected == version {
                    target.judge(Judgement::InFlight);
                    target.assigned = Time::at(now);
                }
            }
            self.start_rollout(now);
        }
    }

    /// Step 10: a retry asked for during the rollback of the rolling
    /// version starts now that the rollback has finished.
    pub(crate) fn retry_after_rollback(&mut self, now: Timestamp) {
        self.lkb = Sym::EMPTY;
        self.enter(Phase::RollingOut);
        self.start_rollout(now);
    }

    /// `rollbackTo`: every target returns to `version` (which was good);
    /// the versions left become last known bad.
    pub(crate) fn return_to(&mut self, version: Sym, now: Timestamp) {
        if version == self.lkb {
            self.lkb = Sym::EMPTY; // going back to it is as explicit as a retry
        }
        if let Some(watch) = self.watch.take() {
            // Going back to the watched version ends its watch as passed;
            // going back past it cuts it short.
            let outcome = if watch.version == version { Outcome::Succeeded } else { Outcome::Aborted };
            self.history.settle(watch.version, outcome, now);
        }
        let leaving = self.rolling;
        // What the targets leave: the rollout under way, or the version
        // they settled on (which a bad verdict may already have left).
        let left = if self.rolling_out() || self.lkg.is_empty() || self.lkg == version { leaving } else { self.lkg };
        if self.rolling_out() {
            // A rollout of the very version rolled back to ends as good.
            let outcome = if leaving == version { Outcome::Succeeded } else { Outcome::Aborted };
            self.history.settle(leaving, outcome, now);
        }
        if !leaving.is_empty() && leaving != version && leaving != self.lkb {
            self.lkb = leaving;
        }
        self.lkg = version;
        self.target_version = version;
        self.history.rolled_back_to(version, now, self.log.next_seq.max(1));
        self.event(now, EventKind::VersionSet, version, "rollbackTo: every target returns to it");
        let why = format!("rollbackTo, an operator's request, leaving {}", self.version(left));
        self.rollback_started(now, left, &why);
        if left != version {
            self.rolled_back_from = left;
        }
    }

    /// Logs the start of a rollback of the last known bad version (or that
    /// its targets are halted, with nothing good to go back to), on a fresh
    /// plan.
    fn rollback_started(&mut self, now: Timestamp, left: Sym, why: &str) {
        self.progress = Progress::default();
        self.rolled_back_from = Sym::EMPTY;
        // The event's version is the one rolled back (`left`), as
        // rollback_finished's; with nothing known good to go back to, no
        // rollback starts (its targets are halted where they are).
        if !self.lkg.is_empty() {
            let detail = format!("{why}: moving its targets back to {}", self.version(self.lkg));
            self.event(now, EventKind::RollbackStarted, left, detail);
        }
        // rollbackTo may leave the rolling version good (it returned to
        // it) or bad (it left it): the versions say which.
        let phase =
            if self.rolling == self.lkb { Phase::back_to(self.lkg) } else { Phase::of(self.rolling, self.lkg, self.lkb, self.watch) };
        self.enter(phase);
    }
}
