//! The data a caller hands in and gets back: options, reports, answers.

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

/// How an entity rolls out (SPEC section 1, "Rollout options").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct RolloutOptions {
    /// At most this share of all targets is in flight at once.
    pub batch_percent: u32,
    /// The rolling version is good once this share of all targets succeeded.
    pub success_percent: u32,
    /// A target succeeds once it has run the version without error for
    /// more than this many seconds.
    pub success_timeout_secs: u64,
    /// A target that has not succeeded this long after it was assigned the
    /// version has failed.
    pub duration_timeout_secs: u64,
}

impl Default for RolloutOptions {
    fn default() -> Self {
        RolloutOptions {
            batch_percent: 5,
            success_percent: 100,
            success_timeout_secs: 60,
            duration_timeout_secs: 120,
        }
    }
}

impl RolloutOptions {
    /// Checks every field; the error names the field and the value.
    pub fn validate(&self) -> Result<(), Error> {
        check_percent("batchPercent", self.batch_percent)?;
        check_percent("successPercent", self.success_percent)?;
        check_timeout("successTimeoutSecs", self.success_timeout_secs)?;
        check_timeout("durationTimeoutSecs", self.duration_timeout_secs)?;
        if self.duration_timeout_secs < self.success_timeout_secs {
            return Err(Error::InvalidOptions {
                field: "durationTimeoutSecs".into(),
                value: self.duration_timeout_secs.to_string(),
                reason: format!(
                    "it must be at least successTimeoutSecs ({}), or no target that \
                     changes version could ever succeed before its deadline",
                    self.success_timeout_secs
                ),
            });
        }
        Ok(())
    }

    /// `max(1, floor(batchPercent * total / 100))` (SPEC section 1).
    pub fn batch_size(&self, total: usize) -> usize {
        percent_of(self.batch_percent, total).max(1)
    }

    /// `floor(successPercent * total / 100)` (SPEC step 6).
    pub fn success_threshold(&self, total: usize) -> usize {
        percent_of(self.success_percent, total)
    }

    /// `max(1, total - successThreshold)` (SPEC step 6).
    pub fn failure_threshold(&self, total: usize) -> usize {
        total.saturating_sub(self.success_threshold(total)).max(1)
    }

    pub(crate) fn success_timeout_ms(&self) -> i64 {
        secs_to_ms(self.success_timeout_secs)
    }

    pub(crate) fn duration_timeout_ms(&self) -> i64 {
        secs_to_ms(self.duration_timeout_secs)
    }
}

fn check_percent(field: &'static str, value: u32) -> Result<(), Error> {
    if value > 100 {
        return Err(Error::InvalidOptions {
            field: field.into(),
            value: value.to_string(),
            reason: "a percentage must be an integer from 0 to 100".into(),
        });
    }
    Ok(())
}

fn check_timeout(field: &'static str, value: u64) -> Result<(), Error> {
    if value > MAX_TIMEOUT_SECS {
        return Err(Error::InvalidOptions {
            field: field.into(),
            value: value.to_string(),
            reason: format!("a timeout must be an integer from 0 to {MAX_TIMEOUT_SECS} seconds"),
        });
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
        TargetId {
            group: group.into(),
            name: name.into(),
        }
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

impl TargetReport {
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
}

impl TargetState {
    /// Whether the target failed on the version being rolled out.
    pub const fn is_failed(self) -> bool {
        matches!(
            self,
            TargetState::FailedUnhealthy | TargetState::FailedDeadline | TargetState::FailedMonitor
        )
    }

    /// Whether the target occupies one of the batch's in-flight slots.
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

/// The rollout state of an entity (SPEC section 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutInfo {
    pub target_version: String,
    pub rolling_version: String,
    pub last_known_good_version: String,
    pub last_known_bad_version: String,
    pub options: RolloutOptions,
    /// How many targets the entity has.
    pub targets: usize,
}
