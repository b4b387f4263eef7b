//! The body of each snapshot format as postcard encodes it (formats 1 to
//! 5), and the codes the formats give event kinds, outcomes and target
//! states. Encoding and decoding are `mod.rs`'s.

use serde::{Deserialize, Serialize};

use crate::analysis::{Analysis, AnalysisRun};
use crate::freeze::{Freezes, LineStop};
use crate::log::{EventKind, Outcome};
use crate::model::TargetState;

/// The engine: namespaces of entities of one format's shape.
#[derive(Serialize, Deserialize)]
pub(super) struct Body<E> {
    pub(super) namespaces: Vec<NamespaceBody<E>>,
}

#[derive(Serialize, Deserialize)]
pub(super) struct NamespaceBody<E> {
    pub(super) name: String,
    pub(super) entities: Vec<E>,
}

/// Format 2's entity: format 1's, then the progressive-delivery state.
#[derive(Serialize, Deserialize)]
pub(super) struct EntityV2 {
    pub(super) core: EntityV1,
    pub(super) control: ControlV2,
}

/// Format 3's entity: format 2's with the compact event log.
#[derive(Serialize, Deserialize)]
pub(super) struct EntityV3 {
    pub(super) core: EntityV1,
    pub(super) control: ControlV3,
}

/// Format 4's entity: format 3's, then what came after it.
#[derive(Serialize, Deserialize)]
pub(super) struct EntityV4 {
    pub(super) core: EntityV1,
    pub(super) control: ControlV3,
    pub(super) extra: ExtraV4,
}

/// What format 5 adds after format 4's body: the settings a binding
/// builds each entity's controllers from, two per entity in the body's
/// order (target, monitoring); and what a format 2 delta adds after format
/// 1's body (the delta's entity's two). Appended rather than woven into
/// each entity, so that format 4's decoder reads the rest of format 5.
pub(super) type ControllersV5 = Vec<Option<String>>;

/// What format 6 adds after format 5's controllers, for each entity in the
/// body's order; and what a format 3 delta adds after format 2's (for the
/// delta's entity). `S`: a string as decoded, owned, or as encoded.
#[derive(Serialize, Deserialize, Default)]
pub(super) struct ExtraV6<S = String> {
    /// Machines a selection hook created that no retirement balanced yet.
    pub(super) surge: u64,
    /// The version an operator's rollbackTo left, while its rollback is
    /// under way.
    pub(super) rolled_back_from: Option<S>,
    /// The latest idempotency keys applied, oldest first, with their
    /// answers.
    pub(super) applied: Vec<(S, S)>,
}

/// What format 7 adds after format 6's state, for each entity in the
/// body's order; and what a format 4 delta adds after format 3's: the
/// analysis templates (background, then one per plan step) and runs.
#[derive(Deserialize, Default)]
pub(super) struct ExtraV7 {
    pub(super) analysis: Option<Analysis>,
    pub(super) steps: Vec<Option<Analysis>>,
    pub(super) runs: Vec<AnalysisRun>,
}

/// [`ExtraV7`] as the encoder writes it, borrowed from the entity.
#[derive(Serialize)]
pub(super) struct ExtraV7Out<'a> {
    pub(super) analysis: Option<&'a Analysis>,
    pub(super) steps: Vec<Option<&'a Analysis>>,
    pub(super) runs: &'a [AnalysisRun],
}

/// What format 8 adds after format 7's state, for each entity in the
/// body's order; and what a format 5 delta adds after format 4's: who
/// asked for the events kept (a delta's: from its first event on), and
/// what each rollout of the history did, in the history's order. `S`: a
/// string as decoded, owned, or as encoded.
#[derive(Serialize, Deserialize, Default)]
pub(super) struct ExtraV8<S = String> {
    /// (sequence number, actor) of the events an operator's control logged
    /// with an actor, oldest first.
    pub(super) actors: Vec<(u64, S)>,
    pub(super) rollouts: Vec<TallyV8<S>>,
    /// The version an action set that has not rolled out yet, and the action.
    pub(super) pending: Option<(S, ActionV8<S>)>,
}

#[derive(Serialize, Deserialize)]
pub(super) struct TallyV8<S = String> {
    pub(super) steps: u32,
    pub(super) moved: u64,
    pub(super) failed: u64,
    pub(super) first_seq: u64,
    pub(super) actions: Vec<ActionV8<S>>,
}

#[derive(Serialize, Deserialize)]
pub(super) struct ActionV8<S = String> {
    /// The event kind's code.
    pub(super) kind: u8,
    pub(super) by: S,
    pub(super) time: i64,
}

#[derive(Serialize, Deserialize)]
pub(super) struct ExtraV4 {
    pub(super) error_timeout_secs: Option<u64>,
    /// The plan's steps are batch sizes (a plan restored from format 1 to 3).
    pub(super) plan_increments: bool,
}

#[derive(Serialize, Deserialize)]
pub(super) enum AmountV2 {
    Count(u64),
    Percent(u32),
}

#[derive(Serialize, Deserialize)]
pub(super) struct StepV2 {
    pub(super) size: AmountV2,
    pub(super) bake_secs: u64,
    pub(super) approval: bool,
}

/// The progressive-delivery state; `Events` is format 2's list of events or
/// format 3's compact log. (A nested struct encodes as its fields in a
/// row, so this is byte for byte format 2's flat layout.)
#[derive(Serialize, Deserialize)]
pub(super) struct Control<Events> {
    pub(super) settings: Settings,
    pub(super) events: Events,
    pub(super) history: Vec<RolloutV2>,
}

/// Everything of [`Control`] before the event log, the same in formats 2
/// and 3 (one decoder for both).
#[derive(Serialize, Deserialize)]
pub(super) struct Settings {
    pub(super) steps: Vec<StepV2>,
    pub(super) max_failures: Option<AmountV2>,
    pub(super) max_consecutive_failures: Option<u64>,
    pub(super) watch_secs: u64,
    pub(super) rollback_batch_percent: Option<u32>,
    pub(super) max_events: u32,
    pub(super) paused_since: Option<i64>,
    pub(super) step: u64,
    pub(super) step_started: Option<i64>,
    pub(super) bake_from: Option<i64>,
    /// skip_bake, approved, requested, full, done, rollback_logged,
    /// retry_pending: bits 0 to 6.
    pub(super) flags: u8,
    pub(super) consecutive_failures: u64,
    /// (version, until, previous)
    pub(super) watch: Option<(u32, i64, u32)>,
    /// (group, name, version)
    pub(super) removed: Vec<(String, String, u32)>,
    pub(super) next_seq: u64,
}

pub(super) type ControlV2 = Control<Vec<EventV2>>;
pub(super) type ControlV3 = Control<LogV3>;

/// Format 3's event log.
#[derive(Serialize, Deserialize, Default)]
pub(super) struct LogV3 {
    /// Every distinct detail, in order of first use.
    pub(super) details: Vec<String>,
    /// (group, name) of targets the events name that the entity no longer
    /// has, in order of first use.
    pub(super) gone: Vec<(String, String)>,
    pub(super) events: Vec<EventV3>,
}

#[derive(Serialize, Deserialize)]
pub(super) struct EventV3 {
    /// Sequence number minus the previous event's (or 0).
    pub(super) seq: u64,
    /// Time minus the previous event's (or 0).
    pub(super) time: i64,
    pub(super) kind: u8,
    pub(super) version: u32,
    /// 0: none; 1..=n: the entity's target n - 1 in snapshot order;
    /// beyond: `gone[i - n - 1]`.
    pub(super) target: u64,
    pub(super) detail: u32,
}

#[derive(Serialize, Deserialize)]
pub(super) struct EventV2 {
    pub(super) seq: u64,
    pub(super) time: i64,
    pub(super) kind: u8,
    pub(super) version: u32,
    /// (group, name)
    pub(super) target: Option<(String, String)>,
    pub(super) detail: String,
}

#[derive(Serialize, Deserialize)]
pub(super) struct RolloutV2 {
    pub(super) version: u32,
    pub(super) started: i64,
    pub(super) ended: Option<i64>,
    pub(super) outcome: u8,
}

/// Format 1's entity: its [`HeadV1`], then its targets by group.
#[derive(Serialize, Deserialize)]
pub(super) struct EntityV1 {
    pub(super) head: HeadV1,
    /// Target messages in order of first use.
    pub(super) messages: Vec<String>,
    /// Target times are stored relative to this one, so they stay small.
    pub(super) time_base: i64,
    pub(super) groups: Vec<GroupV1>,
}

/// Everything of an entity before its targets, the same in every format.
/// (A nested struct encodes as its fields in a row, so this is byte for
/// byte format 1's flat layout.)
#[derive(Serialize, Deserialize)]
pub(super) struct HeadV1 {
    pub(super) name: String,
    /// Versions in order of first use; symbol `i` is `versions[i - 1]` and
    /// symbol 0 is "no version".
    pub(super) versions: Vec<String>,
    pub(super) target_version: u32,
    pub(super) rolling: u32,
    pub(super) lkg: u32,
    pub(super) lkb: u32,
    pub(super) batch_percent: u32,
    pub(super) success_percent: u32,
    pub(super) success_timeout_secs: u64,
    pub(super) duration_timeout_secs: u64,
}

/// Format 9's entity: format 4's with its targets packed
/// ([`super::rows`]). `R`: the rows as decoded (borrowed from the body) or
/// as encoded.
#[derive(Serialize, Deserialize)]
pub(super) struct EntityV9<R> {
    pub(super) head: HeadV1,
    pub(super) targets: R,
    pub(super) control: ControlV3,
    pub(super) extra: ExtraV4,
}

#[derive(Serialize, Deserialize)]
pub(super) struct GroupV1 {
    pub(super) name: String,
    pub(super) targets: Vec<TargetV1>,
}

/// A target of formats 1 to 8.
#[derive(Serialize, Deserialize)]
pub(super) struct TargetV1 {
    pub(super) name: String,
    pub(super) tags: Vec<String>,
    pub(super) reported: u32,
    pub(super) expected: u32,
    pub(super) message: u32,
    pub(super) is_error: bool,
    pub(super) state: u8,
    pub(super) detail: Option<String>,
    pub(super) last_seen: i64,
    pub(super) last_message: i64,
    pub(super) version_changed: i64,
    pub(super) assigned: i64,
}

/// An event kind's code in the format (exhaustive: a new kind does not
/// compile until it has one; never renumber, only append).
pub(super) const fn kind_code(kind: EventKind) -> u8 {
    match kind {
        EventKind::VersionSet => 0,
        EventKind::StepStarted => 1,
        EventKind::ApprovalRequested => 2,
        EventKind::TargetAssigned => 3,
        EventKind::TargetSucceeded => 4,
        EventKind::TargetFailed => 5,
        EventKind::TargetRemoved => 6,
        EventKind::VersionGood => 7,
        EventKind::VersionBad => 8,
        EventKind::RollbackStarted => 9,
        EventKind::RollbackFinished => 10,
        EventKind::WatchEnded => 11,
        EventKind::Paused => 12,
        EventKind::Resumed => 13,
        EventKind::Aborted => 14,
        EventKind::Retried => 15,
        EventKind::Promoted => 16,
        EventKind::Approved => 17,
        EventKind::HookFailed => 18,
        EventKind::AnalysisStarted => 19,
        EventKind::AnalysisMeasured => 20,
        EventKind::AnalysisFinished => 21,
        EventKind::Frozen => 22,
        EventKind::Unfrozen => 23,
        EventKind::VersionPromoted => 24,
    }
}

/// A rollout outcome's code in the format (exhaustive, as [`kind_code`]).
pub(super) const fn outcome_code(outcome: Outcome) -> u8 {
    match outcome {
        Outcome::InProgress => 0,
        Outcome::Watching => 1,
        Outcome::Succeeded => 2,
        Outcome::Failed => 3,
        Outcome::Aborted => 4,
        Outcome::Abandoned => 5,
        Outcome::RolledBackTo => 6,
    }
}

/// The value whose code (by `code_of`) is `code`.
pub(super) fn from_code<T: Copy>(all: &[T], code_of: fn(T) -> u8, code: u8, what: &str) -> Result<T, String> {
    all.iter().copied().find(|&v| code_of(v) == code).ok_or_else(|| format!("unknown {what} {code}"))
}

/// What format 10 adds after format 8's state, for each entity in the
/// body's order; and what a format 8 delta adds after format 7's. The
/// freeze types' serde shape is this format's: a change to them is a new
/// format.
#[derive(Serialize, Deserialize, Default)]
pub(super) struct ExtraV10 {
    pub(super) freezes: Freezes,
    /// Why the last step found the rollout frozen (see `Entity::frozen`).
    pub(super) frozen: Option<String>,
}

/// What format 10 adds after its entities' state: the namespaces with
/// settings of their own (freezes, a stopped line), in name order. An
/// entity's snapshot has none.
#[derive(Serialize, Deserialize)]
pub(super) struct NamespaceV10 {
    pub(super) name: String,
    pub(super) freezes: Freezes,
    pub(super) stopped: Option<LineStop>,
}

/// A target state's code in the format (exhaustive, as [`kind_code`]).
pub(super) const fn state_code(state: TargetState) -> u8 {
    match state {
        TargetState::Waiting => 0,
        TargetState::InFlight => 1,
        TargetState::Succeeded => 2,
        TargetState::FailedUnhealthy => 3,
        TargetState::FailedDeadline => 4,
        TargetState::FailedMonitor => 5,
        TargetState::RolledBack => 6,
        TargetState::HeldBack => 7,
        TargetState::Halted => 8,
        TargetState::HeldPaused => 9,
        TargetState::AwaitingApproval => 10,
        TargetState::Removed => 11,
        TargetState::HeldFrozen => 12,
    }
}

impl ExtraV4 {
    /// What formats 1 to 3 mean: no error timeout, a plan of batch sizes.
    pub(super) const LEGACY: ExtraV4 = ExtraV4 { error_timeout_secs: None, plan_increments: true };
}

/// A delta of an entity's journal, in its own envelope (magic `ORCHDLTA`):
/// what changed since the state named `base`. `part` is the entity with
/// only the targets that changed or arrived and the events that are new
/// (each naming its target by name): in snapshot format 4 up to delta
/// format 5, in snapshot format 9 from delta format 6; its `time_base` is
/// when every other target was last seen. Format 2 is format 1 followed
/// by the entity's controller settings ([`ControllersV5`]).
#[derive(Serialize, Deserialize)]
pub(super) struct DeltaV1<P = EntityV4> {
    pub(super) namespace: String,
    pub(super) base: u64,
    pub(super) part: P,
    /// (group, name) of the targets that left, by group then name.
    pub(super) left: Vec<(String, String)>,
    /// The oldest event still in the log: older ones were dropped.
    pub(super) first_kept: u64,
    /// How many targets the entity has after it.
    pub(super) targets: u64,
}

impl<P> DeltaV1<P> {
    /// The same delta with its part made `part(self.part)`.
    pub(super) fn map<Q>(self, part: impl FnOnce(P) -> Q) -> DeltaV1<Q> {
        let DeltaV1 { namespace, base, part: p, left, first_kept, targets } = self;
        DeltaV1 { namespace, base, part: part(p), left, first_kept, targets }
    }
}

/// What format 11 adds after the namespaces' settings, for each entity in
/// the body's order; and what a format 9 delta adds after format 8's: the
/// entity's notification settings (a binding's) and its pipeline.
#[derive(Serialize, Deserialize, Default)]
pub(super) struct ExtraV11 {
    pub(super) notifications: Option<String>,
    pub(super) pipeline: Option<crate::pipeline::PipelineState>,
}
