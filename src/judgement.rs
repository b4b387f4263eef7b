//! What the engine has decided about a target, kept apart from what an
//! answer shows for it.
//!
//! A target's [`Judgement`] is state: only a step's judging, assigning and
//! halting, and `retry`, change it, and the counts a step decides on (in
//! flight, succeeded, failed) are counts of judgements. A [`Hold`] is why a
//! target that waits was not moved by the last step: each step decides it
//! afresh, and it only ever changes what the answer says. The answer's
//! `reason` ([`TargetState`]) is the hold when there is one, the judgement
//! otherwise.

use crate::model::TargetState;

/// What the engine has decided about a target on the version it expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Judgement {
    /// Not moved by the current rollout, or not yet judged on the version
    /// it joined expecting: it takes no slot.
    #[default]
    Waiting,
    /// Moved to the rolling version by a step, not judged yet.
    InFlight,
    /// Moved back to the last known good version by a rollback.
    RolledBack,
    /// Ran the version without error for longer than the success timeout.
    Succeeded,
    /// Did not run the version healthily, for this reason.
    Failed(Failure),
    /// Left where it is: the version it expects is bad and none is good.
    Halted,
}

/// Why a target failed on the version it expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// It ran the version but reported errors until its deadline.
    Unhealthy,
    /// It did not run the version healthily before its deadline.
    Deadline,
    /// The per-target monitor hook rejected it.
    Monitor,
}

/// Why a waiting target was not moved by the last step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hold {
    /// The approval hook did not approve it.
    NotApproved,
    /// The rollout is paused.
    Paused,
    /// The plan's step waits for `approve`.
    AwaitingApproval,
    /// A freeze window, a one-off freeze or a stopped line holds the
    /// rollout.
    Frozen,
}

impl Judgement {
    /// Whether the target failed on the version it expects.
    pub(crate) const fn is_failed(self) -> bool {
        matches!(self, Judgement::Failed(_))
    }

    /// Whether the target is in flight: the step moved it (to the rolling
    /// version, or back to the last known good one) and has not judged it
    /// yet. Exactly these occupy the batch's (or the rollback's) slots.
    pub(crate) const fn is_in_flight(self) -> bool {
        matches!(self, Judgement::InFlight | Judgement::RolledBack)
    }

    /// Whether the target has been judged on the version it expects.
    pub(crate) const fn is_judged(self) -> bool {
        matches!(self, Judgement::Succeeded | Judgement::Failed(_))
    }
}

/// The answer's reason for a target with this judgement and hold.
pub(crate) const fn reason(judgement: Judgement, hold: Option<Hold>) -> TargetState {
    match (hold, judgement) {
        (Some(Hold::NotApproved), _) => TargetState::HeldBack,
        (Some(Hold::Paused), _) => TargetState::HeldPaused,
        (Some(Hold::AwaitingApproval), _) => TargetState::AwaitingApproval,
        (Some(Hold::Frozen), _) => TargetState::HeldFrozen,
        (None, Judgement::Waiting) => TargetState::Waiting,
        (None, Judgement::InFlight) => TargetState::InFlight,
        (None, Judgement::RolledBack) => TargetState::RolledBack,
        (None, Judgement::Succeeded) => TargetState::Succeeded,
        (None, Judgement::Failed(Failure::Unhealthy)) => TargetState::FailedUnhealthy,
        (None, Judgement::Failed(Failure::Deadline)) => TargetState::FailedDeadline,
        (None, Judgement::Failed(Failure::Monitor)) => TargetState::FailedMonitor,
        (None, Judgement::Halted) => TargetState::Halted,
    }
}

/// The judgement and hold behind a stored target's reason (snapshots store
/// the reason). `None` for `Removed`: a removed target is not a target.
pub(crate) const fn of_reason(state: TargetState) -> Option<(Judgement, Option<Hold>)> {
    Some(match state {
        TargetState::Waiting => (Judgement::Waiting, None),
        TargetState::InFlight => (Judgement::InFlight, None),
        TargetState::Succeeded => (Judgement::Succeeded, None),
        TargetState::FailedUnhealthy => (Judgement::Failed(Failure::Unhealthy), None),
        TargetState::FailedDeadline => (Judgement::Failed(Failure::Deadline), None),
        TargetState::FailedMonitor => (Judgement::Failed(Failure::Monitor), None),
        TargetState::RolledBack => (Judgement::RolledBack, None),
        TargetState::Halted => (Judgement::Halted, None),
        TargetState::HeldBack => (Judgement::Waiting, Some(Hold::NotApproved)),
        TargetState::HeldPaused => (Judgement::Waiting, Some(Hold::Paused)),
        TargetState::AwaitingApproval => (Judgement::Waiting, Some(Hold::AwaitingApproval)),
        TargetState::HeldFrozen => (Judgement::Waiting, Some(Hold::Frozen)),
        TargetState::Removed => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_but_removed_round_trips() {
        for state in TargetState::ALL {
            match of_reason(state) {
                Some((judgement, hold)) => assert_eq!(reason(judgement, hold), state),
                None => assert_eq!(state, TargetState::Removed),
            }
        }
    }

    #[test]
    fn failed_and_in_flight_agree_with_the_reason() {
        for state in TargetState::ALL {
            if let Some((judgement, None)) = of_reason(state) {
                assert_eq!(judgement.is_failed(), state.is_failed());
                assert_eq!(judgement.is_in_flight(), state.is_in_flight());
            }
        }
    }
}
