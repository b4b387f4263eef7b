//! The data a caller hands in and gets back: options, reports, answers.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// Milliseconds since the Unix epoch. The core never reads a clock: every
/// operation that depends on time takes it from the caller (SPEC section 3).
pub type Timestamp = i64;

/// A target not reported for longer than this is forgotten (SPEC step 2).
pub const ZOMBIE_AFTER_SECS: i64 = 900;

/// The largest timeout accepted, in seconds (about 136 years): keeps every
/// time computation far from overflow and within JS's safe integers.
pub const MAX_TIMEOUT_SECS: u64 = u32::MAX as u64;

/// How an entity rolls out (SPEC section 1, "Rollout options", plus the
/// progressive-delivery options; an entity that sets none of those rolls out
/// as SPEC.md says, except for the rollback pace: see `rollback_batch_percent`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutOptions {
    /// At most this share of all targets is in flight at once (without a
    /// plan).
    pub batch_percent: u32,
    /// The rolling version is good once this share of all targets succeeded.
    pub success_percent: u32,
    /// A target succeeds once it has run the version without error for
    /// more than this many seconds.
    pub success_timeout_secs: u64,
    /// A target that has not succeeded this long after it was assigned the
    /// version (not counting paused time) has failed.
    pub duration_timeout_secs: u64,
    /// A target that runs the version and has reported errors for more
    /// than this many seconds (since it started running it, or since it
    /// last turned unhealthy) has failed, without waiting for
    /// `duration_timeout_secs`. `None` (the default): only the deadline
    /// fails it.
    pub error_timeout_secs: Option<u64>,
    /// A plan: how many targets are on the version once each step is done
    /// (cumulative), in order, each with an optional bake time and approval
    /// gate. Empty: batches of `batch_percent`.
    pub steps: Vec<PlanStep>,
    /// The error budget: the version is bad once more targets than this
    /// failed on it. `None`: SPEC step 6's failure threshold.
    pub max_failures: Option<Amount>,
    /// The version is bad once more targets than this failed one after the
    /// other (in the order they were judged) with no success between.
    pub max_consecutive_failures: Option<u64>,
    /// After the version becomes last known good, failures are still
    /// judged for this many seconds, and a bad verdict rolls it back to the
    /// version that was good before it.
    pub watch_secs: u64,
    /// Rolling back moves at most this share of the fleet at once. `None`
    /// (the default): every moved target at once.
    pub rollback_batch_percent: Option<u32>,
    /// How many events the entity's log keeps; older ones are dropped.
    pub max_events: u32,
    /// Background analysis: judged while the version rolls out and through
    /// its watch window (see [`crate::Analysis`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub analysis: Option<Box<crate::Analysis>>,
}

/// The default size of an entity's event log.
pub const DEFAULT_MAX_EVENTS: u32 = 1000;

/// The largest event log an entity may keep.
pub const MAX_EVENTS_LIMIT: u32 = 1_000_000;

impl Default for RolloutOptions {
    fn default() -> Self {
        RolloutOptions {
            batch_percent: 5,
            success_percent: 100,
            success_timeout_secs: 60,
            duration_timeout_secs: 120,
            error_timeout_secs: None,
            steps: Vec::new(),
            max_failures: None,
            max_consecutive_failures: None,
            watch_secs: 0,
            rollback_batch_percent: None,
            max_events: DEFAULT_MAX_EVENTS,
            analysis: None,
        }
    }
}

/// A number of targets: a count, or a percentage of the fleet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Amount {
    Count(u64),
    Percent(u32),
}

impl Amount {
    /// The percentage of `total` rounded up, or the count.
    pub fn ceil_of(self, total: usize) -> usize {
        match self {
            Amount::Count(n) => usize::try_from(n).unwrap_or(usize::MAX),
            Amount::Percent(p) => {
                let product = u128::from(p).saturating_mul(total as u128);
                usize::try_from(product.div_ceil(100)).unwrap_or(usize::MAX)
            }
        }
    }

    /// The percentage of `total` rounded down, or the count.
    pub fn floor_of(self, total: usize) -> usize {
        match self {
            Amount::Count(n) => usize::try_from(n).unwrap_or(usize::MAX),
            Amount::Percent(p) => percent_of(p, total),
        }
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Amount::Count(n) => write!(f, "{n}"),
            Amount::Percent(p) => write!(f, "\"{p}%\""),
        }
    }
}

/// JS sees a count as a number and a percentage as a string like `"10%"`.
impl Serialize for Amount {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Amount::Count(n) => serializer.serialize_u64(*n),
            Amount::Percent(p) => serializer.collect_str(&format_args!("{p}%")),
        }
    }
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanStep {
    /// How many targets are on the version once the step is done: a count,
    /// or a percentage of the fleet rounded up (never fewer than the step
    /// before, never more than the fleet; the last step, "100%", is the
    /// whole fleet).
    pub size: Amount,
    /// How long every target moved so far must stay healthy once the
    /// step's targets are all judged, before the next step starts.
    pub bake_secs: u64,
    /// Whether the step waits for `approve` before it moves anything.
    pub approval: bool,
    /// Inline analysis: it starts once the step's targets are judged, and
    /// the step passes only once it succeeded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub analysis: Option<Box<crate::Analysis>>,
}

impl PlanStep {
    /// A step moving `size` targets with no bake and no gate.
    pub fn new(size: Amount) -> Self {
        PlanStep { size, bake_secs: 0, approval: false, analysis: None }
    }

    /// The same step with a bake time.
    pub fn bake(mut self, secs: u64) -> Self {
        self.bake_secs = secs;
        self
    }

    /// The same step behind an approval gate.
    pub fn gated(mut self) -> Self {
        self.approval = true;
        self
    }
}

impl RolloutOptions {
    /// Checks every field; the error names the field and the value.
    pub fn validate(&self) -> Result<(), Error> {
        self.validate_as(crate::plan::Meaning::Totals)
    }

    /// [`RolloutOptions::validate`] for a plan read as `meaning` (batch
    /// sizes, restored from an older snapshot, may decrease).
    pub(crate) fn validate_as(&self, meaning: crate::plan::Meaning) -> Result<(), Error> {
        check_percent("batchPercent", self.batch_percent)?;
        check_percent("successPercent", self.success_percent)?;
        check_timeout("successTimeoutSecs", self.success_timeout_secs)?;
        check_timeout("durationTimeoutSecs", self.duration_timeout_secs)?;
        if self.duration_timeout_secs < self.success_timeout_secs {
            // Options are often set one field at a time: the deadline the
            // caller did not set is the default, which they may not know.
            let default = RolloutOptions::default().duration_timeout_secs;
            let value = match self.duration_timeout_secs {
                d if d == default => format!("{d} (the default, unless you set it)"),
                d => d.to_string(),
            };
            return Err(Error::InvalidOptions {
                field: "durationTimeoutSecs".into(),
                value,
                reason: format!(
                    "it must be at least successTimeoutSecs ({0}), or no target that \
                     changes version could ever succeed before its deadline: set \
                     durationTimeoutSecs to {0} or more with it",
                    self.success_timeout_secs
                ),
            });
        }
        if let Some(secs) = self.error_timeout_secs {
            check_timeout("errorTimeoutSecs", secs)?;
        }
        self.validate_steps(meaning)?;
        if let Some(amount) = self.max_failures {
            check_amount("maxFailures", amount)?;
        }
        if let Some(n) = self.max_consecutive_failures {
            check_count("maxConsecutiveFailures", n)?;
        }
        check_timeout("watchSecs", self.watch_secs)?;
        if let Some(p) = self.rollback_batch_percent {
            check_percent("rollbackBatchPercent", p)?;
        }
        if self.max_events == 0 || self.max_events > MAX_EVENTS_LIMIT {
            return Err(Error::InvalidOptions {
                field: "maxEvents".into(),
                value: self.max_events.to_string(),
                reason: format!("the event log keeps from 1 to {MAX_EVENTS_LIMIT} events"),
            });
        }
        self.clone().bind_analyses().map(drop)
    }

    /// The options with every analysis template checked and its args
    /// substituted: what an entity keeps.
    pub(crate) fn bind_analyses(mut self) -> Result<Self, Error> {
        if let Some(analysis) = self.analysis.as_mut() {
            **analysis = analysis.bind("analysis")?;
            let last = self.steps.len();
            if analysis.starting_step.is_some_and(|s| s as usize >= last.max(1)) {
                return Err(Error::InvalidOptions {
                    field: "analysis.startingStep".into(),
                    value: analysis.starting_step.unwrap_or(0).to_string(),
                    reason: format!("the plan has {last} steps, numbered from 0"),
                });
            }
        }
        for (i, step) in self.steps.iter_mut().enumerate() {
            if let Some(analysis) = step.analysis.as_mut() {
                **analysis = analysis.bind(&format!("steps[{i}].analysis"))?;
            }
        }
        Ok(self)
    }

    /// A plan's sizes are totals: they must not decrease (a count after a
    /// smaller count, a percentage after a smaller percentage), and the
    /// last must be "100%", the whole fleet.
    fn validate_steps(&self, meaning: crate::plan::Meaning) -> Result<(), Error> {
        let count = self.steps.len();
        let (mut last_count, mut last_percent) = (None, None);
        for (i, step) in self.steps.iter().enumerate() {
            let field = || format!("steps[{i}]");
            match step.size {
                Amount::Percent(p) if p == 0 || p > 100 => {
                    return Err(Error::InvalidOptions {
                        field: field(),
                        value: step.size.to_string(),
                        reason: "a step's percentage must be an integer from 1 to 100".into(),
                    })
                }
                Amount::Count(n) if n == 0 || n > MAX_COUNT => {
                    return Err(Error::InvalidOptions {
                        field: field(),
                        value: step.size.to_string(),
                        reason: format!("a step's count must be an integer from 1 to {MAX_COUNT}"),
                    })
                }
                _ => {}
            }
            let before = match step.size {
                Amount::Count(n) => last_count.replace(n).filter(|&b| n < b).map(|b| b.to_string()),
                Amount::Percent(p) => last_percent.replace(p).filter(|&b| p < b).map(|b| format!("\"{b}%\"")),
            };
            if let Some(before) = before.filter(|_| meaning == crate::plan::Meaning::Totals) {
                return Err(Error::InvalidOptions {
                    field: field(),
                    value: step.size.to_string(),
                    reason: format!(
                        "a step is the total on the version once it is done (cumulative, as Argo Rollouts' setWeight), \
                         so it cannot be smaller than an earlier step ({before}); e.g. [1, \"10%\", \"50%\", \"100%\"]"
                    ),
                });
            }
            check_timeout(&format!("steps[{i}].bakeSecs"), step.bake_secs)?;
        }
        if let Some(last) = self.steps.last() {
            if last.size != Amount::Percent(100) {
                let i = count.saturating_sub(1);
                return Err(Error::InvalidOptions {
                    field: format!("steps[{i}]"),
                    value: last.size.to_string(),
                    reason: "the plan cannot reach every target: a step is the total on the version once it is done \
                             (cumulative), and the last one must be \"100%\", the whole fleet; \
                             e.g. [1, \"10%\", \"50%\", \"100%\"]"
                        .into(),
                });
            }
        }
        Ok(())
    }

    pub(crate) fn error_timeout_ms(&self) -> Option<i64> {
        self.error_timeout_secs.map(secs_to_ms)
    }

    /// `max(1, floor(batchPercent * total / 100))` (SPEC section 1).
    pub fn batch_size(&self, total: usize) -> usize {
        percent_of(self.batch_percent, total).max(1)
    }

    /// How many moved targets a rollback sends back at once.
    pub fn rollback_batch_size(&self, total: usize) -> usize {
        match self.rollback_batch_percent {
            Some(p) => percent_of(p, total).max(1),
            None => total.max(1),
        }
    }

    /// `floor(successPercent * total / 100)` (SPEC step 6); with an error
    /// budget, the successes that leave room for it are enough. At least
    /// one success on a fleet with targets, unless `successPercent` is
    /// explicitly 0 (the Go engine's way to adopt a version at once): no
    /// rounding and no budget, however large, makes an untested version
    /// good (as Deviation 4 rules out for an empty fleet).
    pub fn success_threshold(&self, total: usize) -> usize {
        let spec = percent_of(self.success_percent, total);
        let threshold = match self.max_failures {
            Some(budget) => spec.min(total.saturating_sub(budget.floor_of(total))),
            None => spec,
        };
        let least = usize::from(self.success_percent > 0 && total > 0);
        threshold.max(least)
    }

    /// How many failures make the version bad: `max(1, total -
    /// successThreshold)` (SPEC step 6), or one more than the error budget;
    /// never more than leave too few targets to reach the success
    /// threshold (a budget as large as the fleet still lets every target
    /// failing make it bad).
    pub fn failure_threshold(&self, total: usize) -> usize {
        match self.max_failures {
            Some(budget) => {
                let hopeless = total.saturating_add(1).saturating_sub(self.success_threshold(total));
                budget.floor_of(total).saturating_add(1).min(hopeless).max(1)
            }
            None => total.saturating_sub(percent_of(self.success_percent, total)).max(1),
        }
    }

    pub(crate) fn success_timeout_ms(&self) -> i64 {
        secs_to_ms(self.success_timeout_secs)
    }

    pub(crate) fn duration_timeout_ms(&self) -> i64 {
        secs_to_ms(self.duration_timeout_secs)
    }
}

/// The largest count accepted in a plan or an error budget (the largest
/// timeout in seconds too: one limit, 4294967295, for every whole number).
pub const MAX_COUNT: u64 = u32::MAX as u64;

fn check_count(field: &str, value: u64) -> Result<(), Error> {
    at_most(field, value, MAX_COUNT, || format!("a count must be an integer from 0 to {MAX_COUNT}"))
}

const PERCENT_RANGE: &str = "a percentage must be an integer from 0 to 100";

fn check_percent(field: &str, value: u32) -> Result<(), Error> {
    at_most(field, u64::from(value), 100, || PERCENT_RANGE.into())
}

/// A count or a percentage, named as it was written ("150%", not 150).
fn check_amount(field: &str, amount: Amount) -> Result<(), Error> {
    match amount {
        Amount::Count(n) => check_count(field, n),
        Amount::Percent(p) if p > 100 => {
            Err(Error::InvalidOptions { field: field.into(), value: amount.to_string(), reason: PERCENT_RANGE.into() })
        }
        Amount::Percent(_) => Ok(()),
    }
}

fn check_timeout(field: &str, value: u64) -> Result<(), Error> {
    at_most(field, value, MAX_TIMEOUT_SECS, || format!("a timeout must be an integer from 0 to {MAX_TIMEOUT_SECS} seconds"))
}

/// An `INVALID_OPTIONS` error naming `field` when `value` exceeds `max`.
fn at_most(field: &str, value: u64, max: u64, reason: impl FnOnce() -> String) -> Result<(), Error> {
    if value > max {
        return Err(Error::InvalidOptions { field: field.into(), value: value.to_string(), reason: reason() });
    }
    Ok(())
}

/// `floor(percent * total / 100)` without overflow: percent <= 100, so the
/// product fits in u128 for any usize.
fn percent_of(percent: u32, total: usize) -> usize {
    let product = u128::from(percent).saturating_mul(total as u128) / 100;
    usize::try_from(product).unwrap_or(usize::MAX)
}

pub(crate) fn secs_to_ms(secs: u64) -> i64 {
    i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX)
}

/// Identifies a target within an entity: `(group, name)`; the group
/// defaults to `""`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TargetId {
    #[serde(default)]
    pub group: String,
    pub name: String,
}

impl TargetId {
    pub fn new(group: impl Into<String>, name: impl Into<String>) -> Self {
        TargetId { group: group.into(), name: name.into() }
    }
}

/// What a controller reports about one target (SPEC section 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetReport {
    pub name: String,
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub tags: Vec<String>,
    /// The version the target runs now.
    pub version: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub is_error: bool,
}

/// A report borrowed from wherever it came from (a [`TargetReport`], or the
/// packed form the JS binding receives): what a step reads. Its fields mean
/// what [`TargetReport`]'s do.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReportRef<'a> {
    pub name: &'a str,
    pub group: &'a str,
    pub tags: &'a [String],
    pub version: &'a str,
    pub message: &'a str,
    pub is_error: bool,
}

/// A report the step reads one target at a time, wherever it is kept: a
/// slice of [`TargetReport`]s or [`ReportRef`]s, or a caller's own columns
/// (the JS binding's packed report): no borrowed copy of it is made.
pub trait Reported {
    /// How many targets it reports.
    fn count(&self) -> usize;
    /// Report `i` (an empty one past the end).
    fn report(&self, i: usize) -> ReportRef<'_>;

    /// Report `i`'s group and name (what a lookup needs).
    fn key(&self, i: usize) -> (&str, &str) {
        let report = self.report(i);
        (report.group, report.name)
    }

    /// Report `i` for a target already found by its key: its name and
    /// group may be left empty (a packed report need not read them).
    fn fields(&self, i: usize) -> ReportRef<'_> {
        self.report(i)
    }

    /// Report `i`'s version (what validation needs beside the key).
    fn version(&self, i: usize) -> &str {
        self.report(i).version
    }
}

impl Reported for &[ReportRef<'_>] {
    fn count(&self) -> usize {
        self.len()
    }

    fn report(&self, i: usize) -> ReportRef<'_> {
        self.get(i).copied().unwrap_or_default()
    }
}

impl Reported for &[TargetReport] {
    fn count(&self) -> usize {
        self.len()
    }

    fn report(&self, i: usize) -> ReportRef<'_> {
        self.get(i).map(TargetReport::borrowed).unwrap_or_default()
    }
}

impl TargetReport {
    /// The report, borrowed.
    pub fn borrowed(&self) -> ReportRef<'_> {
        ReportRef {
            name: &self.name,
            group: &self.group,
            tags: &self.tags,
            version: &self.version,
            message: &self.message,
            is_error: self.is_error,
        }
    }

    /// A healthy report of `name` (group `""`) running `version`.
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Self {
        TargetReport {
            name: name.into(),
            group: String::new(),
            tags: Vec::new(),
            version: version.into(),
            message: String::new(),
            is_error: false,
        }
    }

    /// The same report in `group`.
    pub fn in_group(mut self, group: impl Into<String>) -> Self {
        self.group = group.into();
        self
    }

    /// The same report with an error flag and message.
    pub fn with_error(mut self, message: impl Into<String>) -> Self {
        self.is_error = true;
        self.message = message.into();
        self
    }

    /// The same report with a message.
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }
}

/// Why a target's expected state is what it is. JS sees it as the
/// snake_case `reason` of an expected state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TargetState {
    /// Not yet moved to the version being rolled out: waiting for a slot.
    #[default]
    Waiting,
    /// Assigned the version being rolled out, not yet judged.
    InFlight,
    /// Ran the version without error for longer than the success timeout.
    Succeeded,
    /// Ran the version but reported errors until its deadline passed.
    FailedUnhealthy,
    /// Did not run the version healthily before its deadline.
    FailedDeadline,
    /// Rejected by the per-target monitor hook.
    FailedMonitor,
    /// Moved back to the last known good version by a rollback.
    RolledBack,
    /// Selected but not approved by the approval hook.
    HeldBack,
    /// The rolling version is bad and there is no good version to go back
    /// to: the target is left where it is until a new version is set.
    Halted,
    /// Not moved because the entity's rollout is paused.
    HeldPaused,
    /// Not moved because the plan's next step waits for `approve`.
    AwaitingApproval,
    /// Retired by the removal hook in this step (blue/green): tear it down.
    /// It appears in this one answer, then the entity forgets it.
    Removed,
    /// Not moved because a freeze window, a one-off freeze or a stopped
    /// line holds the rollout.
    HeldFrozen,
}

impl TargetState {
    /// Every state, in declaration order.
    pub const ALL: [TargetState; 13] = [
        TargetState::Waiting,
        TargetState::InFlight,
        TargetState::Succeeded,
        TargetState::FailedUnhealthy,
        TargetState::FailedDeadline,
        TargetState::FailedMonitor,
        TargetState::RolledBack,
        TargetState::HeldBack,
        TargetState::Halted,
        TargetState::HeldPaused,
        TargetState::AwaitingApproval,
        TargetState::Removed,
        TargetState::HeldFrozen,
    ];

    /// The `reason` code answers carry (its serde name).
    pub const fn as_str(self) -> &'static str {
        match self {
            TargetState::Waiting => "waiting",
            TargetState::InFlight => "in_flight",
            TargetState::Succeeded => "succeeded",
            TargetState::FailedUnhealthy => "failed_unhealthy",
            TargetState::FailedDeadline => "failed_deadline",
            TargetState::FailedMonitor => "failed_monitor",
            TargetState::RolledBack => "rolled_back",
            TargetState::HeldBack => "held_back",
            TargetState::Halted => "halted",
            TargetState::HeldPaused => "held_paused",
            TargetState::AwaitingApproval => "awaiting_approval",
            TargetState::Removed => "removed",
            TargetState::HeldFrozen => "held_frozen",
        }
    }

    /// Whether the target failed on the version being rolled out.
    pub const fn is_failed(self) -> bool {
        matches!(self, TargetState::FailedUnhealthy | TargetState::FailedDeadline | TargetState::FailedMonitor)
    }

    /// Whether the target is in flight: the step moved it (to the rolling
    /// version, or back to the last known good one) and has not judged it
    /// yet. Exactly these occupy the batch's (or the rollback's) slots; a
    /// target that never moved but is not judged yet (it joined during a
    /// rollback) is `Waiting`, not in flight.
    pub const fn is_in_flight(self) -> bool {
        matches!(self, TargetState::InFlight | TargetState::RolledBack)
    }
}

/// The engine's answer for one target (SPEC section 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExpectedState {
    pub name: String,
    pub group: String,
    /// The version the target should run now.
    pub version: String,
    /// Why, for a person.
    pub message: String,
    /// Whether the target failed on the version being rolled out.
    pub is_error: bool,
    /// Why, for a program.
    pub reason: TargetState,
}

/// The answer of [`Engine::orchestrate_aligned`](crate::Engine::orchestrate_aligned):
/// the same expected states as [`Engine::orchestrate`](crate::Engine::orchestrate),
/// in the report's order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AlignedAnswer {
    /// `reported[i]` answers the report's target `i`.
    pub reported: Vec<ExpectedState>,
    /// The entity's targets the report did not name (reported earlier, or
    /// created by a selection hook), and the ones the removal hook retired
    /// that it did not name, by group then name.
    pub others: Vec<ExpectedState>,
}

/// Where an entity's rollout is, as the engine itself knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RolloutPhase {
    /// No version has been set rolling yet.
    New,
    /// The rolling version moves out to the fleet.
    RollingOut,
    /// The rolling version is good and still judged (`watchSecs`).
    Watching,
    /// The rolling version is good and settled.
    RolledOut,
    /// The rolling version is bad: a target is still expected on it, or
    /// on its way back to the last known good version and not yet judged
    /// healthy there.
    RollingBack,
    /// The rolling version is bad and every target it moved is back on
    /// the last known good version, judged there.
    RolledBack,
    /// The rolling version is bad and none is known good: its targets are
    /// held where they are until a new version is set.
    Halted,
}

/// The rollout state of an entity (SPEC section 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutInfo {
    pub target_version: String,
    pub rolling_version: String,
    pub last_known_good_version: String,
    pub last_known_bad_version: String,
    /// Where the rollout is, in one word (see [`RolloutPhase`]): the
    /// dashboard, `get` and any status page say the same from it.
    pub phase: RolloutPhase,
    pub options: RolloutOptions,
    /// How many targets the entity has.
    pub targets: usize,
    /// How many failed targets make the rolling version bad on this fleet
    /// (SPEC's failure threshold, or one more than `maxFailures` allows).
    pub failure_threshold: usize,
    /// Whether `pause` holds the rollout (rollbacks go on).
    pub paused: bool,
    /// Why it is paused: `"operator"`, or `"analysis_inconclusive"` /
    /// `"analysis_failed"` for an analysis that holds it until `promote`
    /// (go on) or `abort`.
    pub pause_reason: Option<&'static str>,
    /// The plan step the rollout is on (0-based), when it follows a plan.
    pub step: Option<usize>,
    /// Whether the current step waits for `approve`.
    pub awaiting_approval: bool,
    /// Until when the last known good version is still watched, in ms.
    pub watch_until: Option<Timestamp>,
    /// Why the last step found the rollout frozen (a freeze window, a
    /// one-off freeze or a stopped line), while it holds it.
    pub frozen: Option<String>,
}
