//! The controllers a caller can plug into an entity's step (SPEC section 4).
//!
//! Every method has a default that does what the engine does without a
//! hook, so an implementation overrides only what it needs. A hook fails by
//! returning an error; what that does to the step is SPEC section 2's rule
//! for that hook. Hooks are not part of a snapshot.

use serde::Serialize;

use crate::error::HookError;
use crate::model::{TargetId, TargetState, Timestamp};

/// What a hook is told about the step that calls it.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HookContext<'a> {
    pub namespace: &'a str,
    pub entity: &'a str,
    /// The version this step keeps and assigns: the rolling version, or the
    /// last known good one while rolling back.
    pub version: &'a str,
    /// Whether the step is rolling a bad version back.
    pub rolling_back: bool,
    /// The plan step the rollout is on (0-based, as `rollout_info().step`),
    /// when it follows a plan.
    pub step: Option<usize>,
    /// The step's time.
    pub now: Timestamp,
}

/// One target as a hook sees it; it borrows from the engine for the length
/// of the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetView<'a> {
    pub name: &'a str,
    pub group: &'a str,
    pub tags: &'a [String],
    /// The version the target last reported (`""` for a target a selection
    /// hook created that has not reported yet).
    pub version: &'a str,
    /// The version the engine expects it to run (`""` before any).
    pub expected_version: &'a str,
    pub message: &'a str,
    pub is_error: bool,
    /// The target's state after the previous decision the engine made.
    pub reason: TargetState,
}

impl TargetView<'_> {
    /// The `(group, name)` that identifies the target.
    pub fn id(&self) -> TargetId {
        TargetId::new(self.group, self.name)
    }
}

/// Per-target decisions (SPEC section 4, "Target controller").
pub trait TargetController {
    /// Picks at most `count` of the `available` targets to move now. It may
    /// name targets the entity does not know yet (blue/green: new machines);
    /// they are created. An error selects nothing this step.
    fn select(&mut self, ctx: &HookContext<'_>, available: &[TargetView<'_>], count: usize) -> Result<Vec<TargetId>, HookError> {
        let _ = ctx;
        Ok(available.iter().take(count).map(TargetView::id).collect())
    }

    /// Keeps the targets that may move now. An error assigns nothing this
    /// step.
    fn approve(&mut self, ctx: &HookContext<'_>, selected: &[TargetView<'_>]) -> Result<Vec<TargetId>, HookError> {
        let _ = ctx;
        Ok(selected.iter().map(TargetView::id).collect())
    }

    /// Picks at most `count` of the `candidates` (targets not running the
    /// version being kept) to delete from the entity. An error removes
    /// nothing. The default removes nothing.
    fn remove(&mut self, ctx: &HookContext<'_>, candidates: &[TargetView<'_>], count: usize) -> Result<Vec<TargetId>, HookError> {
        let _ = (ctx, candidates, count);
        Ok(Vec::new())
    }

    /// Checks one target that runs the version being kept; an error marks
    /// that target failed.
    fn monitor(&mut self, ctx: &HookContext<'_>, target: &TargetView<'_>) -> Result<(), HookError> {
        let _ = (ctx, target);
        Ok(())
    }

    /// Whether this controller may leave calls of a step unanswered (see
    /// [`TargetController::deferred`]): the engine then keeps a copy of
    /// the entity for the length of each step, to undo it.
    fn may_defer(&self) -> bool {
        false
    }

    /// Asked once after every step: whether some of the step's calls could
    /// not be answered yet (an asynchronous hook still at work, which
    /// answered a stand-in meanwhile). The engine then undoes the step,
    /// which changes nothing, and answers [`crate::Error::HookPending`]:
    /// the caller gets the answers and steps again. Only honoured when
    /// [`TargetController::may_defer`] says so.
    fn deferred(&mut self) -> bool {
        false
    }
}

/// Whole-system health (SPEC section 4, "Monitoring controller").
pub trait MonitoringController {
    /// Sees every in-flight target; an error fails the whole step, which
    /// then changes nothing.
    fn check(&mut self, ctx: &HookContext<'_>, in_flight: &[TargetView<'_>]) -> Result<(), HookError>;

    /// As [`TargetController::may_defer`].
    fn may_defer(&self) -> bool {
        false
    }

    /// As [`TargetController::deferred`].
    fn deferred(&mut self) -> bool {
        false
    }
}

/// Which of an entity's controllers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControllerKind {
    /// The per-target hooks ([`TargetController`]).
    Target,
    /// The whole-system check ([`MonitoringController`]).
    Monitoring,
    /// Not a controller the core calls: what a binding keeps to notify
    /// people of the entity's events (the JS package: its subscriptions,
    /// their delivery log, and the events not yet delivered), so that any
    /// process holding the entity delivers them, and only one does.
    Notifications,
}

/// The most bytes of settings an entity keeps per controller.
pub const MAX_CONTROLLER_SETTINGS: usize = 16 * 1024;

/// The most bytes of notification settings an entity keeps (subscriptions,
/// their delivery logs and the events waiting to be delivered).
pub const MAX_NOTIFICATION_SETTINGS: usize = 64 * 1024;

/// What a binding keeps of an entity's controllers so that it can build
/// them again wherever the entity is restored: the JS package keeps the
/// URLs, headers and timeout of the Go engine's HTTP controllers, as JSON.
/// Unlike the hooks, this is the entity's state (in snapshots and deltas);
/// the core keeps it and never reads it, as it never makes a request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ControllerSettings {
    pub(crate) target: Option<Box<str>>,
    pub(crate) monitoring: Option<Box<str>>,
    pub(crate) notifications: Option<Box<str>>,
}

impl ControllerSettings {
    pub(crate) fn get(&self, kind: ControllerKind) -> Option<&str> {
        match kind {
            ControllerKind::Target => self.target.as_deref(),
            ControllerKind::Monitoring => self.monitoring.as_deref(),
            ControllerKind::Notifications => self.notifications.as_deref(),
        }
    }

    pub(crate) fn slot(&mut self, kind: ControllerKind) -> &mut Option<Box<str>> {
        match kind {
            ControllerKind::Target => &mut self.target,
            ControllerKind::Monitoring => &mut self.monitoring,
            ControllerKind::Notifications => &mut self.notifications,
        }
    }

    /// Why `settings` cannot be kept as the entity's of `kind`, if it cannot.
    pub(crate) fn refuse(kind: ControllerKind, settings: &str) -> Option<String> {
        if settings.is_empty() {
            return Some("are empty (pass none to remove them)".into());
        }
        let (most, what) = match kind {
            ControllerKind::Notifications => (MAX_NOTIFICATION_SETTINGS, "for its notifications"),
            _ => (MAX_CONTROLLER_SETTINGS, "per controller"),
        };
        (settings.len() > most).then(|| format!("are {} bytes, more than the {most} an entity keeps {what}", settings.len()))
    }
}

/// The hooks registered on one entity.
#[derive(Default)]
pub(crate) struct EntityHooks {
    pub(crate) target: Option<Box<dyn TargetController>>,
    pub(crate) monitoring: Option<Box<dyn MonitoringController>>,
}

impl EntityHooks {
    /// Whether a step may have to be undone because a hook deferred.
    pub(crate) fn may_defer(&self) -> bool {
        self.target.as_ref().is_some_and(|h| h.may_defer()) || self.monitoring.as_ref().is_some_and(|h| h.may_defer())
    }

    /// Whether a hook deferred some call of the step just run (every
    /// controller is asked, so that each starts the next step afresh).
    pub(crate) fn deferred(&mut self) -> bool {
        let target = self.target.as_mut().is_some_and(|h| h.may_defer() && h.deferred());
        let monitoring = self.monitoring.as_mut().is_some_and(|h| h.may_defer() && h.deferred());
        target || monitoring
    }
}
