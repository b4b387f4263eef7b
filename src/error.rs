//! The one error type of the core, and the stable codes callers match on.

use std::fmt;

/// Everything that can go wrong in a call. Each variant maps to a stable
/// [`ErrorCode`]; the message says what was wrong and how to fix it.
///
/// A call that returns an error has changed nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A rollout option is out of range.
    #[error("invalid rollout option {field} = {value}: {reason}")]
    InvalidOptions { field: String, value: String, reason: String },
    /// A version is empty (versions are opaque, non-empty strings).
    #[error("invalid version for {what}: a version must be a non-empty string")]
    InvalidVersion { what: String },
    /// A reported target is malformed, or named twice in one report.
    #[error("invalid target {target}: {reason}")]
    InvalidTarget { target: String, reason: String },
    /// A namespace or entity name is empty, too long, or holds a control
    /// character.
    #[error("invalid {kind} name: {reason}")]
    InvalidName { kind: &'static str, reason: &'static str },
    /// `orchestrate`/`report` on an entity that has no version to roll out.
    #[error(
        "entity \"{entity}\" in namespace \"{namespace}\" has no target version: \
         call setTargetVersion first"
    )]
    NoTargetVersion { namespace: String, entity: String },
    /// `rollbackTo` a version that never became last known good.
    #[error(
        "cannot roll back to \"{version}\": it was never known good for this entity; \
         roll back to one that was ({good})"
    )]
    NotKnownGood { version: String, good: String },
    /// A read of a namespace or entity that does not exist.
    #[error("{kind} \"{name}\" does not exist")]
    NotFound { kind: &'static str, name: String },
    /// A hook whose failure fails the whole step (the monitoring check).
    #[error("{hook} hook failed, the step was not applied: {message}")]
    HookFailed { hook: &'static str, message: String },
    /// A hook could not answer yet (an asynchronous hook at work): the step
    /// was undone; step again once it has answered (in JS,
    /// `orchestrateAsync` does).
    #[error("a hook has not answered yet: the step was undone; step again once it has (orchestrateAsync waits)")]
    HookPending,
    /// Bytes that are not a snapshot this engine can read.
    #[error("invalid snapshot: {reason}")]
    InvalidSnapshot { reason: String },
    /// An argument of the wrong shape, from a caller that is not
    /// type-checked (JS): a string where an array belongs, a hook that
    /// returns something that is not a list of targets.
    #[error("invalid argument {what}: {reason}")]
    InvalidArgument { what: String, reason: String },
    /// A time that is not a usable number of milliseconds.
    #[error("invalid time ({value}): {reason}")]
    InvalidTime { value: String, reason: String },
}

/// The stable, machine-readable code of an [`Error`]; JS sees it as
/// `error.code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    InvalidOptions,
    InvalidVersion,
    InvalidTarget,
    InvalidName,
    NoTargetVersion,
    NotFound,
    HookFailed,
    HookPending,
    InvalidSnapshot,
    InvalidTime,
    InvalidArgument,
}

impl ErrorCode {
    /// The code as the string JS callers see, e.g. `"INVALID_OPTIONS"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidOptions => "INVALID_OPTIONS",
            ErrorCode::InvalidVersion => "INVALID_VERSION",
            ErrorCode::InvalidTarget => "INVALID_TARGET",
            ErrorCode::InvalidName => "INVALID_NAME",
            ErrorCode::NoTargetVersion => "NO_TARGET_VERSION",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::HookFailed => "HOOK_FAILED",
            ErrorCode::HookPending => "HOOK_PENDING",
            ErrorCode::InvalidSnapshot => "INVALID_SNAPSHOT",
            ErrorCode::InvalidTime => "INVALID_TIME",
            ErrorCode::InvalidArgument => "INVALID_ARGUMENT",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Error {
    /// The stable code of this error.
    pub const fn code(&self) -> ErrorCode {
        match self {
            Error::InvalidOptions { .. } => ErrorCode::InvalidOptions,
            Error::InvalidVersion { .. } | Error::NotKnownGood { .. } => ErrorCode::InvalidVersion,
            Error::InvalidTarget { .. } => ErrorCode::InvalidTarget,
            Error::InvalidName { .. } => ErrorCode::InvalidName,
            Error::NoTargetVersion { .. } => ErrorCode::NoTargetVersion,
            Error::NotFound { .. } => ErrorCode::NotFound,
            Error::HookFailed { .. } => ErrorCode::HookFailed,
            Error::HookPending => ErrorCode::HookPending,
            Error::InvalidSnapshot { .. } => ErrorCode::InvalidSnapshot,
            Error::InvalidTime { .. } => ErrorCode::InvalidTime,
            Error::InvalidArgument { .. } => ErrorCode::InvalidArgument,
        }
    }

    pub(crate) fn snapshot(reason: impl Into<String>) -> Self {
        Error::InvalidSnapshot { reason: reason.into() }
    }
}

/// The failure of a hook: a JS hook that threw, or a Rust hook that returned
/// an error. What it means for the step depends on the hook (SPEC section 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookError {
    pub message: String,
    /// How long the hook took to fail, when the caller measured it (an
    /// asynchronous hook that rejected, timed out or answered garbage).
    pub elapsed_ms: Option<u64>,
}

impl HookError {
    pub fn new(message: impl Into<String>) -> Self {
        HookError { message: message.into(), elapsed_ms: None }
    }

    /// The same failure, known to have taken `ms` milliseconds.
    #[must_use]
    pub fn after(self, ms: u64) -> Self {
        HookError { elapsed_ms: Some(ms), ..self }
    }
}

impl fmt::Display for HookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        match self.elapsed_ms {
            Some(ms) => write!(f, " (after {ms} ms)"),
            None => Ok(()),
        }
    }
}

impl std::error::Error for HookError {}

/// A report entry named by its place, as a person counts (from 1), for
/// [`Error::InvalidTarget`] where the entry has no usable name: "#2 of the
/// report's 5".
pub fn report_entry(index: usize, count: usize) -> String {
    format!("#{} of the report's {count}", index.saturating_add(1))
}
