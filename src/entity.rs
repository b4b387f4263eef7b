//! An entity's state: its versions, options and targets, in memory.

use std::collections::BTreeMap;

use crate::hooks::{EntityHooks, TargetView};
use crate::interner::{Interner, Sym};
use crate::model::{ExpectedState, RolloutInfo, RolloutOptions, TargetState, Timestamp};

/// One target of an entity. Versions are symbols of the entity's interner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub(crate) tags: Box<[String]>,
    /// The version the target last reported.
    pub(crate) reported: Sym,
    /// The version the engine expects it to run.
    pub(crate) expected: Sym,
    pub(crate) message: Box<str>,
    pub(crate) is_error: bool,
    pub(crate) state: TargetState,
    /// Why the monitor hook failed it, when it did.
    pub(crate) detail: Option<Box<str>>,
    pub(crate) last_seen: Timestamp,
    /// When its version or its error flag last changed.
    pub(crate) last_message: Timestamp,
    pub(crate) version_changed: Timestamp,
    /// When it was assigned its expected version.
    pub(crate) assigned: Timestamp,
}

impl Target {
    /// A target seen for the first time (SPEC step 1): it expects the last
    /// known good version, and its times are back-dated by the success
    /// timeout so that it is not penalised for arriving.
    pub(crate) fn arriving(reported: Sym, expected: Sym, now: Timestamp, options: &RolloutOptions) -> Self {
        let anchor = now.saturating_sub(options.success_timeout_ms());
        Target {
            tags: Box::default(),
            reported,
            expected,
            message: Box::default(),
            is_error: false,
            state: TargetState::Waiting,
            detail: None,
            last_seen: now,
            last_message: anchor,
            version_changed: anchor,
            assigned: anchor,
        }
    }
}

/// The targets of an entity, by group then name: the stable order of every
/// answer and of the default selection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Targets {
    groups: BTreeMap<Box<str>, BTreeMap<Box<str>, Target>>,
    len: usize,
}

impl Targets {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn get(&self, group: &str, name: &str) -> Option<&Target> {
        self.groups.get(group)?.get(name)
    }

    pub(crate) fn get_mut(&mut self, group: &str, name: &str) -> Option<&mut Target> {
        self.groups.get_mut(group)?.get_mut(name)
    }

    /// Inserts or replaces a target; returns the one it replaced.
    pub(crate) fn insert(&mut self, group: &str, name: &str, target: Target) -> Option<Target> {
        let old = match self.groups.get_mut(group) {
            Some(members) => members.insert(Box::from(name), target),
            None => {
                let mut members = BTreeMap::new();
                members.insert(Box::from(name), target);
                self.groups.insert(Box::from(group), members);
                None
            }
        };
        if old.is_none() {
            self.len = self.len.saturating_add(1);
        }
        old
    }

    /// The target, created by `make` if it is new.
    pub(crate) fn get_or_insert_with(&mut self, group: &str, name: &str, make: impl FnOnce() -> Target) -> &mut Target {
        let members = self.groups.entry(Box::from(group)).or_default();
        match members.entry(Box::from(name)) {
            std::collections::btree_map::Entry::Occupied(entry) => entry.into_mut(),
            std::collections::btree_map::Entry::Vacant(entry) => {
                self.len = self.len.saturating_add(1);
                entry.insert(make())
            }
        }
    }

    pub(crate) fn remove(&mut self, group: &str, name: &str) -> Option<Target> {
        let members = self.groups.get_mut(group)?;
        let removed = members.remove(name)?;
        if members.is_empty() {
            self.groups.remove(group);
        }
        self.len = self.len.saturating_sub(1);
        Some(removed)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &str, &Target)> {
        self.groups.iter().flat_map(|(group, members)| {
            members
                .iter()
                .map(move |(name, target)| (&**group, &**name, target))
        })
    }

    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = (&str, &str, &mut Target)> {
        self.groups.iter_mut().flat_map(|(group, members)| {
            members
                .iter_mut()
                .map(move |(name, target)| (&**group, &**name, target))
        })
    }

    /// The targets of one group (an exact match), in name order.
    pub(crate) fn group(&self, group: &str) -> impl Iterator<Item = (&str, &str, &Target)> {
        self.groups
            .get_key_value(group)
            .into_iter()
            .flat_map(|(group, members)| {
                members
                    .iter()
                    .map(move |(name, target)| (&**group, &**name, target))
            })
    }
}

/// One entity: what is rolled out, how, and to which targets.
#[derive(Default)]
pub(crate) struct Entity {
    pub(crate) versions: Interner,
    pub(crate) target_version: Sym,
    pub(crate) rolling: Sym,
    pub(crate) lkg: Sym,
    pub(crate) lkb: Sym,
    pub(crate) options: RolloutOptions,
    pub(crate) targets: Targets,
    /// Not part of a snapshot (SPEC section 4).
    pub(crate) hooks: EntityHooks,
}

impl Entity {
    /// Whether the rolling version is known bad, so the step rolls back.
    pub(crate) fn rolling_back(&self) -> bool {
        !self.rolling.is_empty() && self.rolling == self.lkb
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
            options: self.options,
            targets: self.targets.len(),
        }
    }

    pub(crate) fn view<'a>(&'a self, group: &'a str, name: &'a str, target: &'a Target) -> TargetView<'a> {
        view(&self.versions, group, name, target)
    }

    /// The expected state of every target (SPEC step 11), or of one group.
    pub(crate) fn expected_states(&self, group: Option<&str>) -> Vec<ExpectedState> {
        let answer = |(group, name, target): (&str, &str, &Target)| self.expected_state(group, name, target);
        match group {
            Some(group) => self.targets.group(group).map(answer).collect(),
            None => self.targets.iter().map(answer).collect(),
        }
    }

    fn expected_state(&self, group: &str, name: &str, target: &Target) -> ExpectedState {
        // A target with no expectation yet (no version was ever good when
        // it arrived) is told to keep what it runs.
        let version = if target.expected.is_empty() {
            target.reported
        } else {
            target.expected
        };
        ExpectedState {
            name: name.to_owned(),
            group: group.to_owned(),
            version: self.version(version).to_owned(),
            message: self.message(target),
            is_error: target.state.is_failed(),
            reason: target.state,
        }
    }

    /// The human half of an expected state.
    fn message(&self, target: &Target) -> String {
        let expected = self.version(target.expected);
        let reported = self.version(target.reported);
        let options = &self.options;
        match target.state {
            TargetState::Waiting if target.expected.is_empty() => {
                "waiting: no version has been assigned yet".to_owned()
            }
            TargetState::Waiting => format!(
                "waiting for a free slot to move from {expected} to {}",
                self.version(self.desired())
            ),
            TargetState::InFlight if target.reported != target.expected => {
                format!("in flight: asked to move from {reported} to {expected}")
            }
            TargetState::InFlight if target.is_error => format!(
                "in flight on {expected}: reporting errors; fails if not healthy {}s after assignment",
                options.duration_timeout_secs
            ),
            TargetState::InFlight => format!(
                "in flight on {expected}: must stay healthy for more than {}s to succeed",
                options.success_timeout_secs
            ),
            TargetState::Succeeded => format!("succeeded on {expected}"),
            TargetState::FailedUnhealthy => format!("failed on {expected}: it reports errors: {}", target.message),
            TargetState::FailedDeadline if target.reported != target.expected => {
                format!("failed on {expected}: it runs {reported}")
            }
            TargetState::FailedDeadline => format!(
                "failed on {expected}: not healthy for more than {}s within {}s of assignment",
                options.success_timeout_secs, options.duration_timeout_secs
            ),
            TargetState::FailedMonitor => format!(
                "failed on {expected}: the monitor hook rejected it: {}",
                target.detail.as_deref().unwrap_or("")
            ),
            TargetState::RolledBack => format!(
                "rolling back to {expected}: {} is known bad",
                self.version(self.lkb)
            ),
            TargetState::HeldBack => format!(
                "held back: the approval hook did not approve moving to {}",
                self.version(self.desired())
            ),
            TargetState::Halted => format!(
                "halted: {} is known bad and no version is known good to return to; \
                 set a new target version",
                self.version(self.lkb)
            ),
        }
    }
}

pub(crate) fn view<'a>(versions: &'a Interner, group: &'a str, name: &'a str, target: &'a Target) -> TargetView<'a> {
    TargetView {
        name,
        group,
        tags: &target.tags,
        version: versions.resolve(target.reported),
        expected_version: versions.resolve(target.expected),
        message: &target.message,
        is_error: target.is_error,
        reason: target.state,
    }
}
