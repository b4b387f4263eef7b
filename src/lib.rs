//! A progressive rollout engine with automatic rollback.
//!
//! The core of this crate knows nothing of JavaScript: [`Engine`] holds
//! namespaces of entities, each entity rolls its targets from one version to
//! the next in batches, judges the version good or bad from what the targets
//! report, and rolls the moved targets back by itself when it is bad. Every
//! operation takes the current time from the caller, so a rollout that takes
//! hours of wall time can be replayed in microseconds and the same inputs
//! always give the same answers. The `wasm` module (only on `wasm32`) is a
//! thin binding layer over this core.
//!
//! ```
//! use orchestrator_engine::{Engine, TargetReport};
//!
//! let mut engine = Engine::new();
//! let t0 = 1_700_000_000_000; // milliseconds since the Unix epoch
//! engine.set_target_version("prod", "api", "v1", t0).unwrap();
//! let reports = vec![TargetReport::new("host-1", "v1"), TargetReport::new("host-2", "v1")];
//! let answer = engine.orchestrate("prod", "api", &reports, t0).unwrap();
//! assert!(answer.iter().all(|t| t.version == "v1"));
//! ```
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, clippy::arithmetic_side_effects)
)]

mod analysis;
mod answer;
mod bits;
mod control;
mod engine;
mod entity;
mod error;
mod freeze;
mod hooks;
mod intake;
mod interner;
mod judgement;
mod log;
mod model;
mod phase;
mod pipeline;
mod plan;
mod same;
mod snapshot;
mod step;
mod targets;

pub use analysis::judge::{self as canary, CanaryJudge, CanaryMetric, Classification, Scorecard};
pub use analysis::{
    Analysis, AnalysisRun, Arg, MeasureRequest, Measured, Measurement, Metric, MetricProvider, MetricRun, OnFailure,
    Phase as AnalysisPhase, RunKind, Value as MetricValue, MAX_METRICS, MAX_PROVIDER, MAX_RETENTION,
};
pub use answer::{AlignedRows, Answer, AnswerRow, MessageKey, VersionKey};
pub use engine::{Engine, IDEMPOTENCY_KEYS, MAX_KEPT_ANSWER, MAX_NAME_BYTES};
pub use error::{report_entry, Error, ErrorCode, HookError};
pub use freeze::{Freeze, FreezeWindow, Freezes, LineStop, ZoneOffsets, MAX_FREEZES, MAX_FREEZE_TEXT};
pub use hooks::{
    ControllerKind, HookContext, MonitoringController, TargetController, TargetView, MAX_CONTROLLER_SETTINGS, MAX_NOTIFICATION_SETTINGS,
};
pub use log::{Event, EventKind, Outcome, Rollout, HISTORY_LIMIT};
pub use model::{
    AlignedAnswer, Amount, ExpectedState, PlanStep, ReportRef, Reported, RolloutInfo, RolloutOptions, RolloutPhase, TargetId, TargetReport,
    TargetState, Timestamp, DEFAULT_MAX_EVENTS, MAX_COUNT, MAX_EVENTS_LIMIT, MAX_TIMEOUT_SECS, ZOMBIE_AFTER_SECS,
};
pub use pipeline::{Pipeline, PipelineView, Upstream, MAX_SOAK_SECS, MAX_UPSTREAMS};
pub use plan::{Schedule, ScheduledStep, StepStatus};
pub use snapshot::{Blocks, DELTA_FORMAT_VERSION, SNAPSHOT_FORMAT_VERSION};

/// The JS binding layer: converts and delegates, nothing more.
#[cfg(target_arch = "wasm32")]
pub mod wasm;
