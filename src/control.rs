//! The operator's controls of one entity: set and force a version, pause,
//! resume, abort, retry, promote, approve, roll back to a good version.
//!
//! Each is a pure state transition at the caller's `now`. Each answers
//! whether it changed anything: a control that does not apply (abort with
//! nothing in flight, resume when not paused) changes nothing, not even the
//! event log.

use crate::entity::Time;
use crate::entity::{Entity, Progress};
use crate::error::Error;
use crate::judgement::Judgement;
use crate::log::EventKind;
use crate::model::Timestamp;

impl Entity {
    /// SPEC `setTargetVersion`; see [`crate::Engine::set_target_version`].
    pub(crate) fn set_target(&mut self, version: &str, now: Timestamp) -> bool {
        let version = self.versions.intern(version);
        if version == self.target_version {
            return false;
        }
        self.target_version = version;
        let detail = if self.rolling_out() && self.rolling != version {
            format!("target version; it starts once {} is settled", self.version(self.rolling))
        } else {
            "target version".to_owned()
        };
        self.event(now, EventKind::VersionSet, version, detail);
        if version == self.lkb {
            self.restart(version, now);
        }
        true
    }

    /// SPEC `forceTargetVersion`; see [`crate::Engine::force_target_version`].
    pub(crate) fn force_target(&mut self, version: &str, now: Timestamp) {
        let version = self.versions.intern(version);
        self.target_version = version;
        self.event(now, EventKind::VersionSet, version, "forced: the rollout under way is abandoned");
        if self.watched() {
            // A forced version does not wait for the watch to pass.
            self.pass_watch(now, now, "cut short by a forced version");
            self.progress = Progress::default();
        }
        if version == self.lkb {
            self.restart(version, now);
        }
        if self.rolling_out() && self.rolling != version {
            self.abandon(version, now);
        }
    }

    /// Holds the rollout: nothing new moves; judging and rollbacks go on.
    pub(crate) fn pause(&mut self, now: Timestamp) -> bool {
        if self.paused_since.is_some() {
            return false;
        }
        self.paused_since = Some(now);
        self.event(now, EventKind::Paused, self.rolling, "nothing new moves until resume(); rollbacks still run");
        true
    }

    /// An analysis holds the rollout (`reason`: `analysis_inconclusive` or
    /// `analysis_failed`) until `promote` or `resume` go on, or `abort`.
    pub(crate) fn pause_for_analysis(&mut self, reason: &str, why: &str, now: Timestamp) {
        self.paused_since.get_or_insert(now);
        let detail = format!("{reason}: {why}; promote() or resume() goes on, abort() rolls back");
        self.event(now, EventKind::Paused, self.rolling, detail);
    }

    /// Lifts a pause. The paused time does not count toward deadlines or
    /// bake times: they move later by as much.
    pub(crate) fn resume(&mut self, now: Timestamp) -> bool {
        let Some(since) = self.paused_since.take() else {
            return false;
        };
        crate::analysis::run::release(self, "resume");
        let paused = now.saturating_sub(since).max(0);
        for target in self.targets.all_mut() {
            // A target that runs the version and reports errors kept
            // failing on time through the pause (safety is never paused):
            // its deadline does not move.
            let erroring = target.reported == target.expected && target.is_error;
            if target.judgement == Judgement::InFlight && target.assigned.get() <= since && !erroring {
                target.assigned = Time::at(target.assigned.get().saturating_add(paused));
            }
        }
        if let Some(from) = self.progress.bake_from.as_mut() {
            *from = from.saturating_add(paused);
        }
        let detail = format!("paused for {}s", paused / 1000);
        self.event(now, EventKind::Resumed, self.rolling, detail);
        true
    }

    /// Rolls the last known bad version out afresh, when it is still the
    /// target version.
    pub(crate) fn retry(&mut self, now: Timestamp) -> bool {
        if self.lkb.is_empty() || self.lkb != self.target_version || self.progress.retry_pending {
            return false;
        }
        self.restart(self.lkb, now);
        true
    }

    /// Skips the bake (or the gate) of the current plan step; `full`
    /// moves every remaining target at once and skips every step left.
    pub(crate) fn promote(&mut self, full: bool, now: Timestamp) -> bool {
        if crate::analysis::run::pause_reason(self).is_some() && self.paused_since.is_some() {
            // An analysis that held the rollout counts as passed.
            crate::analysis::run::release(self, "promote");
            self.resume(now);
            if !full {
                self.event(now, EventKind::Promoted, self.rolling, "the analysis that held the rollout is passed over");
                return true;
            }
        }
        if !self.rolling_out() {
            return false;
        }
        let detail = if full {
            if self.progress.full {
                return false;
            }
            self.progress.full = true;
            "full promotion: every remaining target moves now".to_owned()
        } else {
            let Some(step) = self.options.steps.get(self.progress.step) else {
                return false;
            };
            let step_no = self.progress.step.saturating_add(1);
            if self.awaiting_approval() {
                self.progress.approved = true;
                format!("step {step_no}: its approval gate is skipped")
            } else if step.bake_secs > 0 && !self.progress.skip_bake && !self.progress.full {
                self.progress.skip_bake = true;
                format!("step {step_no}: the rest of its {}s bake is skipped", step.bake_secs)
            } else {
                return false;
            }
        };
        self.event(now, EventKind::Promoted, self.rolling, detail);
        true
    }

    /// Opens the current plan step's approval gate.
    pub(crate) fn approve(&mut self, now: Timestamp) -> bool {
        if !self.awaiting_approval() {
            return false;
        }
        self.progress.approved = true;
        let detail = format!("step {} of {} approved", self.progress.step.saturating_add(1), self.options.steps.len());
        self.event(now, EventKind::Approved, self.rolling, detail);
        true
    }

    /// Rolls every target back to `version`, which must have been good;
    /// the versions left become last known bad.
    pub(crate) fn rollback_to(&mut self, version: &str, now: Timestamp) -> Result<bool, Error> {
        let sym = self.versions.lookup(version).filter(|&v| v == self.lkg || self.history.was_good(v));
        let Some(version) = sym else {
            let mut good: Vec<&str> =
                self.history.rollouts.iter().filter(|r| self.history.was_good(r.version)).map(|r| self.version(r.version)).collect();
            if !self.lkg.is_empty() && !good.contains(&self.version(self.lkg)) {
                good.push(self.version(self.lkg));
            }
            good.sort_unstable();
            good.dedup();
            let good = if good.is_empty() { "none has been yet".to_owned() } else { good.join(", ") };
            return Err(Error::NotKnownGood { version: version.to_owned(), good });
        };
        let everywhere = self.targets.all().all(|t| t.expected == version || t.expected.is_empty());
        let settled_on_it = version == self.lkg && self.target_version == version && !self.rolling_out() && !self.watched();
        if settled_on_it && everywhere {
            return Ok(false);
        }
        self.return_to(version, now);
        Ok(true)
    }
}
