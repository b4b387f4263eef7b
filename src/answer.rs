//! What the engine answers for each target (SPEC step 11): an answer's
//! rows, their reasons and their messages, owned ([`ExpectedState`]) or
//! borrowed from the entity ([`Answer`]) by a caller that builds its own
//! format; the JS binding builds tables of distinct values from it.

use std::collections::HashMap;

use crate::entity::{Entity, Removed, Target, Targets};
use crate::interner::Sym;
use crate::model::{ExpectedState, ReportRef, Reported, TargetState};

/// An entity's answer, borrowed from it: its rows, and the version and
/// message of each. Rows with equal [`VersionKey`]s or [`MessageKey`]s
/// have equal versions or messages, so a caller that builds tables of
/// distinct values resolves each one once. Get one from
/// [`Engine::answer`](crate::Engine::answer) or
/// [`Engine::orchestrate_borrowed`](crate::Engine::orchestrate_borrowed).
#[derive(Clone, Copy)]
pub struct Answer<'e> {
    entity: &'e Entity,
}

impl<'e> Answer<'e> {
    pub(crate) fn new(entity: &'e Entity) -> Self {
        Answer { entity }
    }

    /// Every target's row (or one group's), by group, then name.
    pub fn rows(&self, group: Option<&str>) -> Vec<AnswerRow<'e>> {
        self.entity.rows(group)
    }

    /// Every row of [`Answer::rows`]`(None)`, one at a time (nothing is
    /// collected), and how many there are.
    pub fn each_row(&self) -> (usize, impl Iterator<Item = AnswerRow<'e>> + 'e) {
        let targets = &self.entity.targets;
        (targets.len(), targets.sorted().map(move |t| AnswerRow::of(targets, t)))
    }

    /// The rows aligned with the report just taken: see
    /// [`Engine::orchestrate_aligned`](crate::Engine::orchestrate_aligned).
    pub fn rows_aligned(&self, reports: &[ReportRef<'_>]) -> AlignedRows<'e> {
        self.entity.rows_aligned(&reports)
    }

    /// [`Answer::rows_aligned`] for a report kept in any form.
    pub fn rows_aligned_to(&self, reports: &dyn Reported) -> AlignedRows<'e> {
        self.entity.rows_aligned(reports)
    }

    /// The rows of the report just taken alone, row `i` answering report
    /// `i` ([`Answer::rows_aligned_to`] without the others): for a
    /// controller that reports its fleet in parts, whose step need not
    /// walk the targets it did not name.
    pub fn rows_reported_to(&self, reports: &dyn Reported) -> Vec<AnswerRow<'e>> {
        self.entity.rows_reported(reports, None)
    }

    /// For each row of [`rows(None)`](Self::rows), the index of the row of
    /// the report just taken that named its target (`u32::MAX`: none), when
    /// the step knows exactly and removed no target; else `None`. `reports`:
    /// how many rows that report had. A binding that received the report's
    /// names as strings of its host hands them back instead of making new
    /// ones.
    pub fn report_rows(&self, reports: usize) -> Option<Vec<u32>> {
        self.entity.report_rows(reports)
    }

    /// The version a key names.
    pub fn version(&self, version: VersionKey) -> &'e str {
        self.entity.version(version.0)
    }

    /// A row's message, for a person.
    pub fn message(&self, row: &AnswerRow<'e>) -> String {
        self.entity.row_message(row)
    }

    /// The rows as owned expected states, each distinct message formatted
    /// once.
    pub fn expected_states(&self, rows: impl IntoIterator<Item = AnswerRow<'e>>) -> Vec<ExpectedState> {
        self.entity.states(rows)
    }
}

/// A version in an answer, as a key: within one entity, equal keys name the
/// same version ([`Answer::version`] resolves it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VersionKey(Sym);

/// One row of an answer, borrowed from the entity: see [`Answer`].
#[derive(Clone)]
pub struct AnswerRow<'a> {
    group: &'a str,
    name: &'a str,
    /// The version the target should run now.
    version: Sym,
    reason: TargetState,
    /// `None`: a target the removal hook retired in the last step.
    target: Option<&'a Target>,
    /// The entity's targets: the target's texts are theirs.
    targets: &'a Targets,
    /// Where the target is stored, when its group and name are read from
    /// there on asking (an answer in columns never asks); `NOWHERE`: they
    /// are `group` and `name`.
    at: u32,
}

/// [`AnswerRow::at`] of a row whose group and name are its own fields.
const NOWHERE: u32 = u32::MAX;

impl<'a> AnswerRow<'a> {
    /// The target's name.
    pub fn name(&self) -> &'a str {
        match self.at {
            NOWHERE => self.name,
            at => self.targets.at(at as usize).map_or("", |(_, name, _)| name),
        }
    }

    /// The target's group.
    pub fn group(&self) -> &'a str {
        match self.at {
            NOWHERE => self.group,
            at => self.targets.at(at as usize).map_or("", |(group, _, _)| group),
        }
    }

    /// The version the target should run now.
    pub fn version(&self) -> VersionKey {
        VersionKey(self.version)
    }

    /// Why, for a program.
    pub fn reason(&self) -> TargetState {
        self.reason
    }

    /// Whether the target failed on the version being rolled out.
    pub fn is_error(&self) -> bool {
        self.reason.is_failed()
    }

    /// The tags the target last reported (none for a retired target).
    pub fn tags(&self) -> &'a [String] {
        self.target.map_or(&[], |t| self.targets.tags_of(t))
    }

    /// What the row's message depends on besides the entity: rows with
    /// equal keys have equal messages.
    pub fn message_key(&self) -> MessageKey<'a> {
        match self.target {
            None => {
                MessageKey { reason: self.reason, expected: self.version, reported: Sym::EMPTY, is_error: false, retired: true, text: "" }
            }
            Some(t) => MessageKey {
                reason: self.reason,
                expected: t.expected,
                reported: t.reported,
                is_error: t.is_error,
                retired: false,
                text: match self.reason {
                    TargetState::FailedUnhealthy => self.targets.text(t.message),
                    TargetState::FailedMonitor => self.targets.detail_of(t),
                    _ => "",
                },
            },
        }
    }

    fn of(targets: &'a Targets, (group, name, target): (&'a str, &'a str, &'a Target)) -> Self {
        AnswerRow {
            targets,
            group,
            name,
            // A target with no expectation yet (no version was ever good
            // when it arrived) is told to keep what it runs.
            version: if target.expected.is_empty() { target.reported } else { target.expected },
            reason: target.reason(),
            target: Some(target),
            at: NOWHERE,
        }
    }

    /// The row of the target stored at `position`, its group and name
    /// read only when asked for.
    fn stored(targets: &'a Targets, position: usize, target: &'a Target) -> Self {
        let at = u32::try_from(position).unwrap_or(NOWHERE);
        AnswerRow { at, ..AnswerRow::of(targets, ("", "", target)) }
    }

    fn removed(targets: &'a Targets, removed: &'a Removed) -> Self {
        AnswerRow {
            group: &removed.id.group,
            name: &removed.id.name,
            version: removed.version,
            reason: TargetState::Removed,
            target: None,
            targets,
            at: NOWHERE,
        }
    }
}

/// An answer's rows aligned with a report: see [`Answer::rows_aligned`].
pub struct AlignedRows<'a> {
    /// Row `i` answers report `i`.
    pub reported: Vec<AnswerRow<'a>>,
    /// The entity's targets the report did not name, in (group, name) order.
    pub others: Vec<AnswerRow<'a>>,
}

/// See [`AnswerRow::message_key`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MessageKey<'a> {
    reason: TargetState,
    expected: Sym,
    reported: Sym,
    is_error: bool,
    retired: bool,
    /// The target's own words, for the states whose message quotes them.
    text: &'a str,
}

impl Entity {
    /// The answer's rows (SPEC step 11): every target, or one group's, in
    /// (group, name) order. Targets the removal hook retired are not in it
    /// (they are no longer targets of the entity, as in the Go engine): a
    /// controller that feeds an answer back as its next report must not
    /// bring them back. The event log names them (`target_removed`).
    pub(crate) fn rows<'s>(&'s self, group: Option<&str>) -> Vec<AnswerRow<'s>> {
        match group {
            Some(group) => self.targets.group(group).map(|t| AnswerRow::of(&self.targets, t)).collect(),
            None => self.targets.sorted().map(|t| AnswerRow::of(&self.targets, t)).collect(),
        }
    }

    /// For each row of `rows(None)`, the row of the report just taken that
    /// named its target (`u32::MAX`: none), when the step's positions are
    /// exact and it removed no target; else `None`. (For the JS binding,
    /// which hands a report's own name strings back.)
    pub(crate) fn report_rows(&self, reports: usize) -> Option<Vec<u32>> {
        if self.hints_exact != Some(self.targets.layout()) || self.hints.len() != reports || !self.removed.is_empty() {
            return None;
        }
        let mut by_position = vec![u32::MAX; self.targets.len()];
        for (row, &position) in self.hints.iter().enumerate() {
            if let Some(slot) = by_position.get_mut(position as usize) {
                *slot = u32::try_from(row).unwrap_or(u32::MAX);
            }
        }
        Some(self.targets.sorted_positions().map(|p| by_position.get(p).copied().unwrap_or(u32::MAX)).collect())
    }

    /// The answer's rows aligned with a report (after the step that took
    /// it): row `i` answers report `i` (a target the step retired with
    /// reason `removed`); then the entity's other targets, in (group, name)
    /// order. A caller that reports in the same order every
    /// time is answered in a walk that finds each target where the step
    /// did, with no lookup by name. Right after that step (`reports` are
    /// the ones it took), where it found each target is known exactly and
    /// not even checked.
    pub(crate) fn rows_aligned<'s>(&'s self, reports: &dyn Reported) -> AlignedRows<'s> {
        let mut covered = vec![false; self.targets.len()];
        let reported = self.rows_reported(reports, Some(&mut covered));
        // A report that named every target leaves no others to look for.
        let named = covered.iter().filter(|&&c| c).count();
        let others: Vec<AnswerRow<'_>> = if named == covered.len() {
            Vec::new()
        } else {
            self.targets
                .sorted_positions()
                .filter(|&position| !covered.get(position).copied().unwrap_or(true))
                .filter_map(|position| self.targets.at(position).map(|t| AnswerRow::of(&self.targets, t)))
                .collect()
        };
        AlignedRows { reported, others }
    }

    /// The rows of the report just taken, row `i` answering report `i`
    /// (see [`Entity::rows_aligned`]); with `covered`, each target found is
    /// marked in it (by position).
    pub(crate) fn rows_reported<'s>(&'s self, reports: &dyn Reported, mut covered: Option<&mut Vec<bool>>) -> Vec<AnswerRow<'s>> {
        let exact = self.hints_exact == Some(self.targets.layout()) && self.hints.len() == reports.count();
        (0..reports.count())
            .map(|i| {
                let hint = self.hints.get(i).copied().unwrap_or(u32::MAX);
                let position = match exact {
                    true => Some(hint as usize).filter(|_| hint != u32::MAX),
                    false => {
                        let (group, name) = reports.key(i);
                        self.targets.position_hinted(group, name, hint)
                    }
                };
                if let Some((p, target)) = position.and_then(|p| Some((p, self.targets.target(p)?))) {
                    if let Some(mark) = covered.as_mut().and_then(|c| c.get_mut(p)) {
                        *mark = true;
                    }
                    return AnswerRow::stored(&self.targets, p, target);
                }
                let report = reports.report(i);
                // The removal hook retired it in this very step.
                // (Only a reported row answers it: a report row needs its
                // answer, and the columns say `removed`, tear it down.)
                match self.removed.iter().find(|r| r.id.group == report.group && r.id.name == report.name) {
                    Some(removed) => AnswerRow::removed(&self.targets, removed),
                    // After a step every reported target is known or was
                    // removed; should that ever not hold, the target is
                    // told to keep what it runs.
                    None => AnswerRow {
                        group: "",
                        name: "",
                        version: self.versions.lookup(report.version).unwrap_or(Sym::EMPTY),
                        reason: TargetState::Waiting,
                        target: None,
                        targets: &self.targets,
                        at: NOWHERE,
                    },
                }
            })
            .collect()
    }

    /// The human half of a row.
    pub(crate) fn row_message(&self, row: &AnswerRow<'_>) -> String {
        match row.target {
            Some(target) => self.target_message(target),
            None => format!("removed: the removal hook retired it, {} replaces it; tear it down", self.version(self.desired())),
        }
    }

    /// The expected state of every target (SPEC step 11), or of one group,
    /// in (group, name) order.
    pub(crate) fn expected_states(&self, group: Option<&str>) -> Vec<ExpectedState> {
        self.states(self.rows(group))
    }

    /// The rows as expected states, each distinct message formatted once.
    pub(crate) fn states<'s>(&'s self, rows: impl IntoIterator<Item = AnswerRow<'s>>) -> Vec<ExpectedState> {
        let mut messages: HashMap<MessageKey<'_>, String, foldhash::fast::RandomState> = HashMap::default();
        rows.into_iter()
            .map(|row| ExpectedState {
                name: row.name().to_owned(),
                group: row.group().to_owned(),
                version: self.version(row.version).to_owned(),
                message: messages.entry(row.message_key()).or_insert_with(|| self.row_message(&row)).clone(),
                is_error: row.reason.is_failed(),
                reason: row.reason,
            })
            .collect()
    }

    /// The human half of an expected state.
    pub(crate) fn target_message(&self, target: &Target) -> String {
        let expected = self.version(target.expected);
        let reported = self.version(target.reported);
        let options = &self.options;
        match target.reason() {
            TargetState::Waiting if target.expected.is_empty() => "waiting: no version has been assigned yet".to_owned(),
            // It joined expecting the version kept: judged once healthy on it.
            TargetState::Waiting if target.expected == self.desired() && target.reported != target.expected => {
                format!("joined: asked to move from {reported} to {expected}")
            }
            TargetState::Waiting if target.expected == self.desired() => {
                format!("joined on {expected}: judged once healthy for more than {}s", options.success_timeout_secs)
            }
            TargetState::Waiting if self.follows_plan() => format!(
                "waiting for step {} of {} (or a later one) to move it from {expected} to {}",
                self.progress.step.saturating_add(1),
                options.steps.len(),
                self.version(self.desired())
            ),
            TargetState::Waiting => format!("waiting for a free slot to move from {expected} to {}", self.version(self.desired())),
            TargetState::HeldPaused => {
                format!("held: the rollout of {} is paused; resume moves it from {expected}", self.version(self.desired()))
            }
            TargetState::HeldFrozen => format!(
                "held: {} holds the rollout of {}; it moves from {expected} once that ends",
                self.frozen.as_deref().unwrap_or("a freeze"),
                self.version(self.desired())
            ),
            TargetState::AwaitingApproval => format!(
                "awaiting approval: step {} of {} moves targets from {expected} to {} once approved",
                self.progress.step.saturating_add(1),
                options.steps.len(),
                self.version(self.desired())
            ),
            TargetState::Removed => format!("removed: retired by the removal hook while running {reported}"),
            TargetState::InFlight if target.reported != target.expected => {
                format!("in flight: asked to move from {reported} to {expected}")
            }
            TargetState::InFlight if target.is_error => match options.error_timeout_secs {
                Some(secs) => format!(
                    "in flight on {expected}: reporting errors; fails after {secs}s of errors, or if not healthy {}s after assignment",
                    options.duration_timeout_secs
                ),
                None => format!(
                    "in flight on {expected}: reporting errors; fails if not healthy {}s after assignment",
                    options.duration_timeout_secs
                ),
            },
            TargetState::InFlight => {
                format!("in flight on {expected}: must stay healthy for more than {}s to succeed", options.success_timeout_secs)
            }
            TargetState::Succeeded => format!("succeeded on {expected}"),
            TargetState::FailedUnhealthy if target.message.is_empty() => format!("failed on {expected}: it reports errors"),
            TargetState::FailedUnhealthy => format!("failed on {expected}: it reports errors: {}", self.targets.text(target.message)),
            TargetState::FailedDeadline if target.reported != target.expected => {
                format!("failed on {expected}: it runs {reported}")
            }
            TargetState::FailedDeadline => format!(
                "failed on {expected}: not healthy for more than {}s within {}s of assignment",
                options.success_timeout_secs, options.duration_timeout_secs
            ),
            TargetState::FailedMonitor => {
                format!("failed on {expected}: the monitor hook rejected it: {}", self.targets.detail_of(target))
            }
            TargetState::RolledBack if !self.rolled_back_from.is_empty() => {
                format!("rolling back to {expected}: an operator's rollbackTo left {}", self.version(self.rolled_back_from))
            }
            TargetState::RolledBack => format!("rolling back to {expected}: {} is known bad", self.version(self.lkb)),
            TargetState::HeldBack => format!("held back: the approval hook did not approve moving to {}", self.version(self.desired())),
            TargetState::Halted => format!(
                "halted: {} is known bad and no version is known good to return to; \
                 set a new target version",
                self.version(self.lkb)
            ),
        }
    }
}

/// "1 target", "2 targets": a count with its noun (an English plural in s).
pub(crate) fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
