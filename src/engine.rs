//! The engine: namespaces of entities, and every operation of SPEC
//! section 2 on them.

use std::collections::BTreeMap;
use std::fmt;

use crate::analysis::{AnalysisRun, MetricProvider};
use crate::answer::Answer;
use crate::entity::Entity;
use crate::error::Error;
use crate::freeze::{self, Freezes, LineStop, ZoneOffsets};
use crate::hooks::{ControllerKind, ControllerSettings, MonitoringController, TargetController};
use crate::log::{Event, Rollout};
use crate::model::{AlignedAnswer, ExpectedState, ReportRef, Reported, RolloutInfo, RolloutOptions, TargetReport, TargetState, Timestamp};
use crate::plan::Schedule;
use crate::snapshot::{self, Blocks};
use crate::step::{self, StepOf};

/// Holds namespaces of entities and rolls their targets out.
///
/// Namespaces and entities are created on first use by a setter. Every
/// operation either succeeds whole or returns an [`Error`] and changes
/// nothing.
#[derive(Default)]
pub struct Engine {
    pub(crate) namespaces: BTreeMap<String, Namespace>,
    /// Takes the measurements of every entity's analysis (not part of a
    /// snapshot, as hooks are not).
    pub(crate) metrics: Option<Box<dyn MetricProvider>>,
    /// Who the controls are by (see [`Engine::set_actor`]).
    pub(crate) actor: Option<Box<str>>,
    /// The offsets of named time zones, for freeze windows (not part of a
    /// snapshot).
    pub(crate) zones: Option<Box<ZoneOffsets>>,
}

/// One isolated environment (test, dev, prod): its entities by name.
#[derive(Default)]
pub(crate) struct Namespace {
    pub(crate) entities: BTreeMap<String, Entity>,
    /// Freezes for every entity of the namespace.
    pub(crate) freezes: Freezes,
    /// Set while the namespace's line is stopped.
    pub(crate) stopped: Option<LineStop>,
    /// What a binding keeps of the namespace's notifications (the JS
    /// package: subscriptions for every entity of it), as an entity keeps
    /// its own ([`ControllerKind::Notifications`]).
    pub(crate) notifications: Option<Box<str>>,
}

impl Namespace {
    /// Whether it holds nothing an engine must keep.
    fn is_empty(&self) -> bool {
        self.entities.is_empty() && self.freezes.is_empty() && self.stopped.is_none() && self.notifications.is_none()
    }
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (ns, namespace) in &self.namespaces {
            for (name, entity) in &namespace.entities {
                map.entry(&format_args!("{ns}/{name}"), &entity.info());
            }
        }
        map.finish()
    }
}

/// How many idempotency keys an entity keeps (the latest).
pub const IDEMPOTENCY_KEYS: usize = 32;
/// The largest answer kept with an idempotency key, in bytes.
pub const MAX_KEPT_ANSWER: usize = 1024;

/// The longest namespace or entity name, in bytes of UTF-8: one limit that
/// every store can hold (a file name, a PostgreSQL key, a Redis key).
/// Checked where a name is made (a setter, a step); a read of a name that
/// breaks it finds nothing (`NOT_FOUND`), and a snapshot from before the
/// limit restores with its names as they were.
pub const MAX_NAME_BYTES: usize = 200;

pub(crate) fn check_name(kind: &'static str, name: &str) -> Result<(), Error> {
    let reason = if name.is_empty() {
        "it must be a non-empty string"
    } else if name.len() > MAX_NAME_BYTES {
        "it must be at most 200 bytes of UTF-8"
    } else if name.chars().any(char::is_control) {
        "it must not contain control characters (such as NUL, tab or newline)"
    } else {
        return Ok(());
    };
    Err(Error::InvalidName { kind, reason })
}

pub(crate) fn check_version(what: &str, version: &str) -> Result<(), Error> {
    if version.is_empty() {
        return Err(Error::InvalidVersion { what: what.to_owned() });
    }
    Ok(())
}

impl Engine {
    /// An engine with no namespaces.
    pub fn new() -> Self {
        Engine::default()
    }

    /// Sets how `entity` rolls out; `None` restores the defaults. New
    /// options apply from the next step; a shorter `max_events` drops the
    /// oldest events at once.
    pub fn set_rollout_options(&mut self, namespace: &str, entity: &str, options: Option<RolloutOptions>) -> Result<(), Error> {
        let options = options.unwrap_or_default();
        options.validate()?;
        let options = options.bind_analyses()?;
        let entity = self.entity_or_create(namespace, entity)?;
        entity.log.trim(options.max_events);
        // A shorter plan set mid-rollout goes on from its last step.
        let last = options.steps.len().saturating_sub(1);
        entity.progress.step = entity.progress.step.min(last);
        if options.steps != entity.options.steps {
            // Another plan: what was approved, requested, baked or done was
            // so for a step of the old one, not for the step that has its
            // index in the new one.
            entity.progress.plan_changed();
        }
        // A plan restored with the batch-size meaning keeps it while the
        // same steps are set again (a controller that sets its options on
        // every loop); other steps are read as totals.
        if options.steps != entity.options.steps {
            entity.plan_meaning = crate::plan::Meaning::Totals;
        }
        entity.options = options;
        Ok(())
    }

    /// Asks for `version` to be rolled out. It starts once the version
    /// rolling now is settled (SPEC step 10).
    ///
    /// Changing the target version to the last known bad one is an explicit
    /// retry: that version is no longer known bad and rolls out afresh.
    /// Setting the version that is already the target changes nothing, so a
    /// controller may set it on every loop (after an abort too: see
    /// [`retry`](Self::retry)).
    pub fn set_target_version(&mut self, namespace: &str, entity: &str, version: &str, now: Timestamp) -> Result<(), Error> {
        check_version("setTargetVersion", version)?;
        self.acting(namespace, entity, true, |e| e.set_target(version, now))?;
        self.hold_pipeline(namespace, entity, version);
        Ok(())
    }

    /// Sets `version` as the target and abandons the current rollout: if
    /// the rolling version is neither last known good nor `version`, it
    /// becomes last known bad and is rolled back before `version` rolls
    /// out. Forcing the last known bad version retries it; forcing during
    /// a watch window ends the watch.
    pub fn force_target_version(&mut self, namespace: &str, entity: &str, version: &str, now: Timestamp) -> Result<(), Error> {
        check_version("forceTargetVersion", version)?;
        self.acting(namespace, entity, true, |e| e.force_target(version, now))?;
        self.hold_pipeline(namespace, entity, version);
        Ok(())
    }

    /// Names who the controls that follow are by (`None`: no one named),
    /// until set again: a person, a token's name, a pipeline. Each event
    /// those controls log carries it (`actor`), and so does the rollout
    /// they concern (its `actions`, in [`history`](Self::history)). Steps
    /// never carry it: what the engine does by itself is the engine's.
    /// `INVALID_ARGUMENT` unless 1 to 200 bytes without control
    /// characters.
    pub fn set_actor(&mut self, actor: Option<&str>) -> Result<(), Error> {
        if let Some(name) = actor {
            check_name("actor", name)?;
        }
        self.actor = actor.map(Box::from);
        Ok(())
    }

    /// Applies a control to the entity as the actor set (creating the
    /// entity for a setter, `create`).
    fn acting<R>(&mut self, namespace: &str, entity: &str, create: bool, control: impl FnOnce(&mut Entity) -> R) -> Result<R, Error> {
        let actor = self.actor.clone();
        let entity = if create { self.entity_or_create(namespace, entity)? } else { self.entity_mut(namespace, entity)? };
        entity.actor = actor;
        let answer = control(entity);
        entity.actor = None;
        Ok(answer)
    }

    /// Pauses the entity's rollout: nothing new is assigned, while
    /// monitoring, judging and rollbacks go on (safety is never paused).
    /// Deadlines and bake times count only unpaused time. Returns whether
    /// it was not paused already.
    pub fn pause(&mut self, namespace: &str, entity: &str, now: Timestamp) -> Result<bool, Error> {
        self.acting(namespace, entity, false, |e| e.pause(now))
    }

    /// Lifts a pause; returns whether there was one.
    pub fn resume(&mut self, namespace: &str, entity: &str, now: Timestamp) -> Result<bool, Error> {
        self.acting(namespace, entity, false, |e| e.resume(now))
    }

    /// Makes the version under way last known bad and rolls its targets
    /// back now (during a watch window: back to the version good before
    /// it). With nothing in flight it changes nothing and returns `false`.
    /// The version stays the target: a controller that sets it on every
    /// loop does not undo the abort; [`retry`](Self::retry) does.
    pub fn abort(&mut self, namespace: &str, entity: &str, now: Timestamp) -> Result<bool, Error> {
        self.acting(namespace, entity, false, |e| e.abort(now))
    }

    /// Rolls the last known bad version out afresh when it is still the
    /// target (after an abort or a bad verdict); returns whether it did.
    pub fn retry(&mut self, namespace: &str, entity: &str, now: Timestamp) -> Result<bool, Error> {
        self.acting(namespace, entity, false, |e| e.retry(now))
    }

    /// Skips the rest of the current plan step's bake (or its approval
    /// gate); with `full`, every remaining target moves at once and no
    /// further step runs. Returns whether there was anything to skip.
    pub fn promote(&mut self, namespace: &str, entity: &str, full: bool, now: Timestamp) -> Result<bool, Error> {
        self.acting(namespace, entity, false, |e| e.promote(full, now))
    }

    /// Opens the approval gate the current plan step waits at; returns
    /// whether one was waiting.
    pub fn approve(&mut self, namespace: &str, entity: &str, now: Timestamp) -> Result<bool, Error> {
        self.acting(namespace, entity, false, |e| e.approve(now))
    }

    /// Rolls every target back to `version`, which must have been last
    /// known good at some point ([`Error::NotKnownGood`] otherwise); the
    /// version rolling now becomes last known bad. Returns `false` when
    /// every target is already there.
    pub fn rollback_to(&mut self, namespace: &str, entity: &str, version: &str, now: Timestamp) -> Result<bool, Error> {
        check_version("rollbackTo", version)?;
        let changed = self.acting(namespace, entity, false, |e| e.rollback_to(version, now))??;
        if changed {
            self.hold_pipeline(namespace, entity, version);
        }
        Ok(changed)
    }

    /// The schedule the current options give the current fleet: the
    /// rollout under way, or one that would start at `now`. Changes
    /// nothing.
    /// `NO_TARGET_VERSION` when there is nothing to roll out (as a step
    /// would answer).
    pub fn plan(&self, namespace: &str, entity: &str, now: Timestamp) -> Result<Schedule, Error> {
        let state = self.entity(namespace, entity)?;
        if state.rolling.is_empty() && state.target_version.is_empty() {
            return Err(Error::NoTargetVersion { namespace: namespace.to_owned(), entity: entity.to_owned() });
        }
        Ok(crate::plan::schedule(state, now))
    }

    /// The entity's events after sequence number `since` (0: from the
    /// oldest kept), at most `limit`, oldest first.
    pub fn events(&self, namespace: &str, entity: &str, since: u64, limit: usize) -> Result<Vec<Event>, Error> {
        let entity = self.entity(namespace, entity)?;
        Ok(entity.log.page(&entity.versions, since, limit))
    }

    /// Every rollout of the entity, oldest first (the newest 1000).
    pub fn history(&self, namespace: &str, entity: &str) -> Result<Vec<Rollout>, Error> {
        let entity = self.entity(namespace, entity)?;
        Ok(entity.history.list(&entity.versions))
    }

    /// Records `reports`, runs one step at `now` and answers the expected
    /// state of every target of the entity, in a stable order (by group,
    /// then name).
    pub fn orchestrate(
        &mut self,
        namespace: &str,
        entity: &str,
        reports: &[TargetReport],
        now: Timestamp,
    ) -> Result<Vec<ExpectedState>, Error> {
        let entity = self.step(namespace, entity, &reports, now)?;
        Ok(entity.expected_states(None))
    }

    /// [`orchestrate`](Self::orchestrate) with borrowed reports, answered
    /// with the [`Answer`] borrowed from the entity: for a caller that
    /// builds its own answer format without an owned string per target.
    pub fn orchestrate_borrowed(
        &mut self,
        namespace: &str,
        entity: &str,
        reports: &[ReportRef<'_>],
        now: Timestamp,
    ) -> Result<Answer<'_>, Error> {
        self.step(namespace, entity, &reports, now).map(Answer::new)
    }

    /// [`orchestrate_borrowed`](Self::orchestrate_borrowed) for a report
    /// kept in any form (see [`Reported`]): nothing is copied per target.
    pub fn orchestrate_reported(
        &mut self,
        namespace: &str,
        entity: &str,
        reports: &dyn Reported,
        now: Timestamp,
    ) -> Result<Answer<'_>, Error> {
        self.step(namespace, entity, reports, now).map(Answer::new)
    }

    /// [`orchestrate`](Self::orchestrate), answered in the report's order:
    /// `reported[i]` is the expected state of `reports[i]`, and `others`
    /// holds the entity's targets the report did not name. A controller
    /// that keeps its fleet in an array pairs the answer with it by index,
    /// and the engine answers a same-order report with no lookup by name.
    pub fn orchestrate_aligned(
        &mut self,
        namespace: &str,
        entity: &str,
        reports: &[TargetReport],
        now: Timestamp,
    ) -> Result<AlignedAnswer, Error> {
        let entity = self.step(namespace, entity, &reports, now)?;
        let rows = entity.rows_aligned(&reports);
        let mut states = entity.states(rows.reported.into_iter().chain(rows.others));
        let others = states.split_off(reports.len().min(states.len()));
        Ok(AlignedAnswer { reported: states, others })
    }

    /// Records `reports` and runs one step at `now`, like
    /// [`orchestrate`](Self::orchestrate), without building the answer.
    pub fn report(&mut self, namespace: &str, entity: &str, reports: &[TargetReport], now: Timestamp) -> Result<(), Error> {
        self.step(namespace, entity, &reports, now).map(|_| ())
    }

    fn step(&mut self, namespace: &str, entity: &str, reports: &dyn Reported, now: Timestamp) -> Result<&Entity, Error> {
        check_name("namespace", namespace)?;
        check_name("entity", entity)?;
        let zones = self.zones.as_deref();
        let Some((ns, state)) = self.namespaces.get_mut(namespace).and_then(|ns| {
            let Namespace { entities, freezes, stopped, .. } = ns;
            Some(((&*freezes, stopped.as_ref()), entities.get_mut(entity)?))
        }) else {
            // A new entity has no target version, so the step would fail:
            // fail it without creating anything.
            crate::intake::validate_reports(reports)?;
            return Err(Error::NoTargetVersion { namespace: namespace.to_owned(), entity: entity.to_owned() });
        };
        let frozen = freeze::why_frozen(namespace, ns, &state.freezes, zones, now);
        let names = StepOf { namespace, entity, frozen: frozen.as_deref() };
        step::run(state, &names, reports, now, self.metrics.as_deref_mut())?;
        // A pipeline whose upstreams this engine holds promotes after the
        // step (it rolls out from the next).
        if state.pipeline.is_some() {
            self.advance_pipeline(namespace, entity, None, now)?;
        }
        self.entity(namespace, entity)
    }

    /// The current expected states of the entity's targets, of one group
    /// when `group` is given (an exact match).
    pub fn expected_state(&self, namespace: &str, entity: &str, group: Option<&str>) -> Result<Vec<ExpectedState>, Error> {
        Ok(self.entity(namespace, entity)?.expected_states(group))
    }

    /// The entity's current answer, borrowed (see [`Answer`]).
    pub fn answer(&self, namespace: &str, entity: &str) -> Result<Answer<'_>, Error> {
        self.entity(namespace, entity).map(Answer::new)
    }

    /// Sets (or with `None` removes) what takes the measurements of every
    /// entity's analysis. Without one, a measurement due is an Error.
    pub fn set_metric_provider(&mut self, provider: Option<Box<dyn MetricProvider>>) {
        self.metrics = provider;
    }

    /// The entity's analysis runs: those under way and the latest ended,
    /// oldest first, each with its metrics' measurements.
    pub fn analysis(&self, namespace: &str, entity: &str) -> Result<&[AnalysisRun], Error> {
        Ok(&self.entity(namespace, entity)?.analysis)
    }

    /// The entity's versions and options.
    pub fn rollout_info(&self, namespace: &str, entity: &str) -> Result<RolloutInfo, Error> {
        Ok(self.entity(namespace, entity)?.info())
    }

    /// How many of the entity's targets are in each state (their reason,
    /// as [`expected_state`](Self::expected_state) answers it), the states
    /// with none left out, in [`TargetState::ALL`]'s order: a fleet's
    /// progress without its targets.
    pub fn target_counts(&self, namespace: &str, entity: &str) -> Result<Vec<(TargetState, u64)>, Error> {
        let mut counts = [0u64; TargetState::ALL.len()];
        for row in self.entity(namespace, entity)?.rows(None) {
            let state = row.reason();
            if let Some(n) = TargetState::ALL.iter().position(|&s| s == state).and_then(|i| counts.get_mut(i)) {
                *n = n.saturating_add(1);
            }
        }
        Ok(TargetState::ALL.iter().zip(counts).filter(|&(_, n)| n > 0).map(|(&s, n)| (s, n)).collect())
    }

    /// Sets how named time zones resolve for freeze windows: `zones` answers
    /// a zone's offset from UTC in minutes at a time, or `None` for a zone
    /// it does not know. Without it only `UTC` and fixed offsets
    /// (`+05:30`) are known. The JS bindings set one from `Intl`.
    pub fn set_zone_offsets(&mut self, zones: Option<Box<ZoneOffsets>>) {
        self.zones = zones;
    }

    /// Sets the freeze windows and one-off freezes of `entity`, or of the
    /// whole namespace when `entity` is `None` (replacing those set
    /// before; empty ones remove them). While one holds, a step moves no
    /// target to the version rolling out (they answer `held_frozen`) and
    /// starts no plan step; judging, rollbacks and the watch go on. `now`
    /// checks that every zone named is known then. Answers whether they
    /// changed. `INVALID_ARGUMENT` names the window or freeze at fault.
    pub fn set_freezes(&mut self, namespace: &str, entity: Option<&str>, freezes: Freezes, now: Timestamp) -> Result<bool, Error> {
        freezes.validate(self.zones.as_deref(), now)?;
        let slot = match entity {
            Some(entity) => &mut self.entity_or_create(namespace, entity)?.freezes,
            None => {
                check_name("namespace", namespace)?;
                if freezes.is_empty() && !self.namespaces.contains_key(namespace) {
                    return Ok(false);
                }
                &mut self.namespaces.entry(namespace.to_owned()).or_default().freezes
            }
        };
        let changed = *slot != freezes;
        *slot = freezes;
        if entity.is_none() && self.namespaces.get(namespace).is_some_and(Namespace::is_empty) {
            self.namespaces.remove(namespace);
        }
        Ok(changed)
    }

    /// The freezes of `entity`, or of the namespace when `entity` is `None`
    /// (none for a namespace the engine does not hold).
    pub fn freezes(&self, namespace: &str, entity: Option<&str>) -> Result<&Freezes, Error> {
        static NONE: Freezes = Freezes { windows: Vec::new(), freezes: Vec::new() };
        match entity {
            Some(entity) => Ok(&self.entity(namespace, entity)?.freezes),
            None => Ok(self.namespaces.get(namespace).map_or(&NONE, |ns| &ns.freezes)),
        }
    }

    /// Stops the namespace's line: until [`start_the_line`](Self::start_the_line),
    /// no entity of it moves a target to a version rolling out (as under a
    /// freeze), whatever its windows say. The actor set is recorded as who
    /// stopped it. Answers `false` (and changes nothing) when it is stopped
    /// already. `INVALID_ARGUMENT` unless `reason` is 1 to 200 bytes without
    /// control characters.
    pub fn stop_the_line(&mut self, namespace: &str, reason: &str, now: Timestamp) -> Result<bool, Error> {
        check_name("namespace", namespace)?;
        freeze::check_text("the reason to stop the line", reason)?;
        let by = self.actor.as_deref().map(str::to_owned);
        let ns = self.namespaces.entry(namespace.to_owned()).or_default();
        if ns.stopped.is_some() {
            return Ok(false);
        }
        ns.stopped = Some(LineStop { reason: reason.to_owned(), since: now, by });
        Ok(true)
    }

    /// Starts the namespace's line again; answers whether it was stopped.
    pub fn start_the_line(&mut self, namespace: &str) -> Result<bool, Error> {
        check_name("namespace", namespace)?;
        let Some(ns) = self.namespaces.get_mut(namespace) else {
            return Ok(false);
        };
        let was = ns.stopped.take().is_some();
        if ns.is_empty() {
            self.namespaces.remove(namespace);
        }
        Ok(was)
    }

    /// Takes `namespace`'s freezes and stopped line from `settings` (the
    /// snapshot of an engine holding that namespace's settings and no
    /// entity; `None`: it has none), replacing those this engine had: a
    /// binding that keeps a namespace's settings apart from its entities
    /// (each in a store record of its own) brings them in before a step.
    /// `INVALID_SNAPSHOT` for bytes that are not such a snapshot, and
    /// nothing changes.
    pub fn adopt_namespace(&mut self, namespace: &str, settings: Option<&[u8]>) -> Result<(), Error> {
        check_name("namespace", namespace)?;
        let (freezes, stopped) = match settings {
            None => (Freezes::default(), None),
            Some(bytes) => {
                let mut other = Engine::restore(bytes)?;
                if other.namespaces.values().any(|ns| !ns.entities.is_empty()) {
                    return Err(Error::snapshot("a namespace's settings hold no entity"));
                }
                other.namespaces.remove(namespace).map(|ns| (ns.freezes, ns.stopped)).unwrap_or_default()
            }
        };
        let ns = self.namespaces.entry(namespace.to_owned()).or_default();
        (ns.freezes, ns.stopped) = (freezes, stopped);
        if ns.is_empty() {
            self.namespaces.remove(namespace);
        }
        Ok(())
    }

    /// Keeps (or with `None` forgets) what a binding keeps of the
    /// namespace's notifications (in snapshots, beside its other settings);
    /// at most [`MAX_NOTIFICATION_SETTINGS`](crate::MAX_NOTIFICATION_SETTINGS)
    /// bytes. Answers whether that changed them.
    pub fn set_namespace_notifications(&mut self, namespace: &str, settings: Option<&str>) -> Result<bool, Error> {
        check_name("namespace", namespace)?;
        if let Some(reason) = settings.and_then(|s| ControllerSettings::refuse(ControllerKind::Notifications, s)) {
            return Err(Error::InvalidArgument { what: "notification settings".into(), reason });
        }
        if self.namespace_notifications(namespace) == settings {
            return Ok(false);
        }
        self.namespaces.entry(namespace.to_owned()).or_default().notifications = settings.map(Box::from);
        if self.namespaces.get(namespace).is_some_and(Namespace::is_empty) {
            self.namespaces.remove(namespace);
        }
        Ok(true)
    }

    /// What [`set_namespace_notifications`](Self::set_namespace_notifications) keeps.
    pub fn namespace_notifications(&self, namespace: &str) -> Option<&str> {
        self.namespaces.get(namespace).and_then(|ns| ns.notifications.as_deref())
    }

    /// Why the namespace's line is stopped, since when and by whom; `None`
    /// while it runs.
    pub fn line_stop(&self, namespace: &str) -> Option<&LineStop> {
        self.namespaces.get(namespace).and_then(|ns| ns.stopped.as_ref())
    }

    /// Why a step of the entity at `now` would move nothing new because of a
    /// freeze or a stopped line (`None`: nothing holds it), as its targets'
    /// messages and the `frozen` event would say.
    pub fn frozen_at(&self, namespace: &str, entity: &str, now: Timestamp) -> Result<Option<String>, Error> {
        let state = self.entity(namespace, entity)?;
        let ns = self.namespace(namespace)?;
        Ok(freeze::why_frozen(namespace, (&ns.freezes, ns.stopped.as_ref()), &state.freezes, self.zones.as_deref(), now))
    }

    /// Every namespace, in name order.
    pub fn namespaces(&self) -> Vec<String> {
        self.namespaces.keys().cloned().collect()
    }

    /// Every entity of `namespace`, in name order.
    pub fn entities(&self, namespace: &str) -> Result<Vec<String>, Error> {
        Ok(self.namespace(namespace)?.entities.keys().cloned().collect())
    }

    /// Registers (or with `None` removes) the per-target hooks of an entity.
    pub fn set_target_controller(
        &mut self,
        namespace: &str,
        entity: &str,
        controller: Option<Box<dyn TargetController>>,
    ) -> Result<(), Error> {
        self.entity_or_create(namespace, entity)?.hooks.target = controller;
        Ok(())
    }

    /// Registers (or with `None` removes) the whole-system health check of
    /// an entity.
    pub fn set_monitoring_controller(
        &mut self,
        namespace: &str,
        entity: &str,
        controller: Option<Box<dyn MonitoringController>>,
    ) -> Result<(), Error> {
        self.entity_or_create(namespace, entity)?.hooks.monitoring = controller;
        Ok(())
    }

    /// Keeps (or with `None` forgets) what a binding needs to build the
    /// entity's controller of `kind` again after a restore (the JS
    /// package: the URLs of the Go engine's HTTP controllers). Unlike the
    /// hooks it is the entity's state: in its snapshots and deltas. At most
    /// [`MAX_CONTROLLER_SETTINGS`](crate::MAX_CONTROLLER_SETTINGS) bytes
    /// ([`MAX_NOTIFICATION_SETTINGS`](crate::MAX_NOTIFICATION_SETTINGS) for
    /// [`ControllerKind::Notifications`]).
    pub fn set_controller_settings(
        &mut self,
        namespace: &str,
        entity: &str,
        kind: ControllerKind,
        settings: Option<&str>,
    ) -> Result<(), Error> {
        if let Some(reason) = settings.and_then(|s| ControllerSettings::refuse(kind, s)) {
            let what = if kind == ControllerKind::Notifications { "notification settings" } else { "controller settings" };
            return Err(Error::InvalidArgument { what: what.into(), reason });
        }
        *self.entity_or_create(namespace, entity)?.controllers.slot(kind) = settings.map(Box::from);
        Ok(())
    }

    /// The answer kept for a request applied to the entity with idempotency
    /// `key` (see [`remember`](Self::remember)): `Some("")` when it was too
    /// large to keep, `None` when no request with that key is remembered.
    pub fn applied_answer(&self, namespace: &str, entity: &str, key: &str) -> Result<Option<&str>, Error> {
        Ok(self.entity(namespace, entity)?.applied.iter().find(|(k, _)| &**k == key).map(|(_, answer)| &**answer))
    }

    /// Remembers, in the entity's state (its snapshots and deltas), that the
    /// request with idempotency `key` was applied and answered `answer`: a
    /// retry with the key is then answered again instead of applied twice,
    /// by whichever process holds the entity. The latest
    /// [`IDEMPOTENCY_KEYS`] keys are kept; an answer over
    /// [`MAX_KEPT_ANSWER`] bytes is kept as "" (applied, answer not kept).
    /// A key is 1 to 200 bytes without control characters.
    pub fn remember(&mut self, namespace: &str, entity: &str, key: &str, answer: &str) -> Result<(), Error> {
        if key.is_empty() || key.len() > MAX_NAME_BYTES || key.chars().any(char::is_control) {
            return Err(Error::InvalidArgument {
                what: "idempotency key".into(),
                reason: format!("it must be 1 to {MAX_NAME_BYTES} bytes without control characters, got {} bytes", key.len()),
            });
        }
        let state = self.entity_mut(namespace, entity)?;
        state.applied.retain(|(k, _)| &**k != key);
        let kept = if answer.len() <= MAX_KEPT_ANSWER { answer } else { "" };
        state.applied.push_back((key.into(), kept.into()));
        while state.applied.len() > IDEMPOTENCY_KEYS {
            state.applied.pop_front();
        }
        Ok(())
    }

    /// What [`set_controller_settings`](Self::set_controller_settings)
    /// keeps for the entity's controller of `kind`.
    pub fn controller_settings(&self, namespace: &str, entity: &str, kind: ControllerKind) -> Result<Option<&str>, Error> {
        Ok(self.entity(namespace, entity)?.controllers.get(kind))
    }

    /// The whole state as bytes (SPEC section 5); hooks are not included.
    pub fn snapshot(&self) -> Vec<u8> {
        self.snapshot_blocks().into_vec()
    }

    /// [`snapshot`](Self::snapshot) in [`Blocks`], to copy out one by one:
    /// in wasm, a snapshot of a million targets is megabytes that one
    /// buffer would need free in one stretch.
    pub fn snapshot_blocks(&self) -> Blocks {
        snapshot::encode(self)
    }

    /// An engine that behaves exactly as the snapshotted one would have.
    /// Bytes that are not a readable snapshot give
    /// [`Error::InvalidSnapshot`].
    pub fn restore(bytes: &[u8]) -> Result<Engine, Error> {
        snapshot::decode(bytes)
    }

    /// One entity's state as bytes: its options, versions, targets, plan
    /// progress, controls, event log and history (not its hooks). The
    /// format is the engine's snapshot format, of an engine that holds only
    /// this entity: the same envelope, checksum and canonical bytes, and
    /// [`restore`](Self::restore) reads it too.
    pub fn snapshot_entity(&self, namespace: &str, entity: &str) -> Result<Vec<u8>, Error> {
        Ok(snapshot::encode_one(namespace, entity, self.entity(namespace, entity)?).into_vec())
    }

    /// Loads an entity's snapshot ([`snapshot_entity`](Self::snapshot_entity))
    /// into this engine, in place of the entity of that name if it holds one
    /// (whose hooks it keeps), and answers its namespace and name. Bytes
    /// that are not one entity's readable snapshot give
    /// [`Error::InvalidSnapshot`] and change nothing.
    pub fn restore_entity(&mut self, bytes: &[u8]) -> Result<(String, String), Error> {
        let (namespace, name, mut entity) = snapshot::decode_one(bytes)?;
        let slot = self.namespaces.entry(namespace.clone()).or_default().entities.entry(name.clone()).or_default();
        entity.hooks = std::mem::take(&mut slot.hooks);
        *slot = entity;
        Ok((namespace, name))
    }

    /// The entity's snapshot ([`snapshot_entity`](Self::snapshot_entity)),
    /// which also becomes the checkpoint its journal goes on from: the next
    /// [`entity_delta`](Self::entity_delta) holds what changed after it.
    /// An entity restored from its own snapshot has that checkpoint too.
    pub fn checkpoint_entity(&mut self, namespace: &str, entity: &str) -> Result<Vec<u8>, Error> {
        self.checkpoint_entity_blocks(namespace, entity).map(Blocks::into_vec)
    }

    /// [`checkpoint_entity`](Self::checkpoint_entity) in [`Blocks`].
    pub fn checkpoint_entity_blocks(&mut self, namespace: &str, entity: &str) -> Result<Blocks, Error> {
        Ok(snapshot::checkpoint(namespace, entity, self.entity_mut(namespace, entity)?))
    }

    /// What changed in the entity since its last checkpoint or delta: the
    /// targets whose state changed, arrived or left, the new events, and
    /// everything else of the entity, which is small; its size follows what
    /// changed, not the fleet. Restoring the checkpoint and applying every
    /// delta after it, in order ([`apply_entity_delta`](Self::apply_entity_delta)),
    /// gives this entity, snapshot for snapshot. An entity with no
    /// checkpoint gives [`Error::NotFound`].
    pub fn entity_delta(&mut self, namespace: &str, entity: &str) -> Result<Vec<u8>, Error> {
        self.entity_delta_blocks(namespace, entity).map(Blocks::into_vec)
    }

    /// [`entity_delta`](Self::entity_delta) in [`Blocks`].
    pub fn entity_delta_blocks(&mut self, namespace: &str, entity: &str) -> Result<Blocks, Error> {
        // Never over usize::MAX bytes.
        self.entity_delta_within(namespace, entity, usize::MAX)?.ok_or_else(|| Error::snapshot("the delta did not fit in memory"))
    }

    /// [`entity_delta_blocks`](Self::entity_delta_blocks), unless the
    /// delta would take more than `most` bytes: then `None`, found soon
    /// after its rows pass `most` (a store that keeps a journal no larger
    /// than its checkpoint writes a checkpoint instead, and need not
    /// encode the delta whole first). The journal then ends: until
    /// [`checkpoint_entity`](Self::checkpoint_entity), the entity's deltas
    /// give [`Error::NotFound`].
    pub fn entity_delta_within(&mut self, namespace: &str, entity: &str, most: usize) -> Result<Option<Blocks>, Error> {
        snapshot::encode_delta(namespace, entity, self.entity_mut(namespace, entity)?, most)
    }

    /// Applies a delta ([`entity_delta`](Self::entity_delta)) to the entity
    /// it is for, and answers its namespace and name. The entity must be in
    /// the state the delta was made from (its checkpoint restored and every
    /// delta before this one applied); anything else, like bytes that are
    /// not a readable delta, gives [`Error::InvalidSnapshot`] and changes
    /// nothing.
    pub fn apply_entity_delta(&mut self, bytes: &[u8]) -> Result<(String, String), Error> {
        snapshot::apply_delta(self, bytes)
    }

    /// Forgets an entity (and its namespace once it has none): an engine
    /// that keeps entities in a store holds only those it has loaded.
    /// Answers whether it held the entity.
    pub fn unload_entity(&mut self, namespace: &str, entity: &str) -> bool {
        let Some(ns) = self.namespaces.get_mut(namespace) else {
            return false;
        };
        let held = ns.entities.remove(entity).is_some();
        if ns.is_empty() {
            self.namespaces.remove(namespace);
        }
        held
    }

    /// A whole-engine snapshot split into its entities' snapshots, as
    /// `(namespace, entity, bytes)` in name order.
    pub fn split_snapshot(bytes: &[u8]) -> Result<Vec<(String, String, Vec<u8>)>, Error> {
        let engine = Engine::restore(bytes)?;
        let mut parts = Vec::new();
        for (namespace, ns) in &engine.namespaces {
            for (name, entity) in &ns.entities {
                parts.push((namespace.clone(), name.clone(), snapshot::encode_one(namespace, name, entity).into_vec()));
            }
        }
        Ok(parts)
    }

    /// Entities' snapshots joined into one whole-engine snapshot (the
    /// inverse of [`split_snapshot`](Self::split_snapshot)). An entity that
    /// appears twice is an [`Error::InvalidSnapshot`].
    pub fn join_snapshots<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> Result<Vec<u8>, Error> {
        let mut engine = Engine::new();
        for bytes in parts {
            let (namespace, name, entity) = snapshot::decode_one(bytes)?;
            let entities = &mut engine.namespaces.entry(namespace.clone()).or_default().entities;
            if entities.insert(name.clone(), entity).is_some() {
                return Err(Error::snapshot(format!("entity {namespace}/{name} appears twice")));
            }
        }
        Ok(engine.snapshot())
    }

    fn namespace(&self, namespace: &str) -> Result<&Namespace, Error> {
        self.namespaces.get(namespace).ok_or_else(|| Error::NotFound { kind: "namespace", name: namespace.to_owned() })
    }

    pub(crate) fn entity(&self, namespace: &str, entity: &str) -> Result<&Entity, Error> {
        self.namespace(namespace)?
            .entities
            .get(entity)
            .ok_or_else(|| Error::NotFound { kind: "entity", name: format!("{namespace}/{entity}") })
    }

    pub(crate) fn entity_mut(&mut self, namespace: &str, entity: &str) -> Result<&mut Entity, Error> {
        self.namespaces
            .get_mut(namespace)
            .ok_or_else(|| Error::NotFound { kind: "namespace", name: namespace.to_owned() })?
            .entities
            .get_mut(entity)
            .ok_or_else(|| Error::NotFound { kind: "entity", name: format!("{namespace}/{entity}") })
    }

    pub(crate) fn entity_or_create(&mut self, namespace: &str, entity: &str) -> Result<&mut Entity, Error> {
        check_name("namespace", namespace)?;
        check_name("entity", entity)?;
        Ok(self.namespaces.entry(namespace.to_owned()).or_default().entities.entry(entity.to_owned()).or_default())
    }
}
