//! The `Orchestrator` class: a thin newtype over the core [`Engine`] that
//! converts its arguments, reads the clock, and delegates.

use js_sys::{Function, Uint8Array};
use wasm_bindgen::prelude::*;

use super::boundary::{answer_columns_to_js, answer_to_js, answer_to_report, columns_from_js, reports_from_js};
use super::freezes::zone_offsets;
use super::hooks::{JsMetricProvider, JsMonitoringController, JsTargetController};
use super::interop::{
    byte_count_from_js, bytes_from_js, bytes_to_js, clock_from_js, error_to_js, events_options_from_js, optional_string_arg,
    options_from_js, promote_options_from_js, string_arg, thrown_message, time_from_js, to_js,
};
use super::{JsEventsOptions, JsOptionalString, JsOrchestratorOptions, JsPromoteOptions, JsRolloutOptions};
use crate::{ControllerKind, Engine, Error, Timestamp};

/// What a controller keeps in the entity's state (`__settings`: the
/// package's HTTP controllers set it), if anything.
fn settings_of(controller: &JsValue) -> Option<String> {
    if !controller.is_object() {
        return None;
    }
    js_sys::Reflect::get(controller, &JsValue::from_str("__settings")).ok().and_then(|s| s.as_string())
}

pub(super) fn kind(monitoring: bool) -> ControllerKind {
    if monitoring {
        ControllerKind::Monitoring
    } else {
        ControllerKind::Target
    }
}

type JsResult<T> = Result<T, JsValue>;

/// A progressive rollout engine: namespaces of entities whose targets it
/// moves to new versions in batches, judging each version good or bad from
/// what the targets report and rolling bad versions back by itself.
///
/// Every method throws an `OrchestratorError` (an `Error` with a stable
/// `code`) on bad input and then has changed nothing.
///
/// @example
/// ```js
/// import { Orchestrator } from "orchestrator-engine";
/// let simTime = Date.UTC(2024, 0, 1);
/// const engine = new Orchestrator({ now: () => simTime });
/// engine.setRolloutOptions("prod", "api", { batchPercent: 10 });
/// engine.setTargetVersion("prod", "api", "v2");
/// const expected = engine.orchestrate("prod", "api", [
///   { name: "host-1", version: "v1" },
/// ]);
/// // expected[0].version is what host-1 should run now
/// ```
#[wasm_bindgen]
pub struct Orchestrator {
    pub(super) engine: Engine,
    clock: Option<Function>,
    /// The time the clock is held at (`__holdClock`), if it is.
    pub(super) held: Option<Timestamp>,
}

impl Orchestrator {
    pub(super) fn now(&self) -> Result<Timestamp, Error> {
        if let Some(held) = self.held {
            return Ok(held);
        }
        let Some(clock) = &self.clock else {
            return time_from_js(&JsValue::from_f64(js_sys::Date::now()));
        };
        let value = clock.call0(&JsValue::UNDEFINED).map_err(|thrown| Error::InvalidTime {
            value: "(none)".into(),
            reason: format!("the clock threw: {}", thrown_message(&thrown)),
        })?;
        time_from_js(&value)
    }

    fn names(namespace: &JsValue, entity: &JsValue) -> JsResult<(String, String)> {
        let ns = string_arg("namespace", namespace).map_err(error_to_js)?;
        Ok((ns, string_arg("entity", entity).map_err(error_to_js)?))
    }

    /// Runs a control of one entity at the clock's time.
    fn control(
        &mut self,
        namespace: &JsValue,
        entity: &JsValue,
        act: impl FnOnce(&mut Engine, &str, &str, Timestamp) -> Result<bool, Error>,
    ) -> JsResult<bool> {
        let (ns, entity) = Self::names(namespace, entity)?;
        let now = self.now().map_err(error_to_js)?;
        act(&mut self.engine, &ns, &entity, now).map_err(error_to_js)
    }

    /// `null`/`undefined` removes a controller; anything else is converted.
    fn controller<T>(value: JsValue, convert: impl FnOnce(JsValue) -> Result<T, Error>) -> JsResult<Option<T>> {
        if value.is_null() || value.is_undefined() {
            return Ok(None);
        }
        convert(value).map(Some).map_err(error_to_js)
    }
}

#[wasm_bindgen]
impl Orchestrator {
    /// An empty engine. `options.now` is the clock, in milliseconds since
    /// the Unix epoch (default `Date.now`); inject one to run rollouts in
    /// virtual time.
    ///
    /// @example
    /// ```js
    /// const live = new Orchestrator();
    /// let t = 0;
    /// const sim = new Orchestrator({ now: () => t });
    /// ```
    #[wasm_bindgen(constructor)]
    pub fn new(options: Option<JsOrchestratorOptions>) -> JsResult<Orchestrator> {
        let clock = clock_from_js(options.map(JsValue::from)).map_err(error_to_js)?;
        let mut engine = Engine::new();
        engine.set_zone_offsets(Some(zone_offsets()));
        Ok(Orchestrator { engine, clock, held: None })
    }

    /// Sets how an entity rolls out; with no options, restores the
    /// defaults (`batchPercent` 5, `successPercent` 100,
    /// `successTimeoutSecs` 60, `durationTimeoutSecs` 120). A missing field
    /// takes its default. Creates the namespace and entity if needed.
    ///
    /// @example
    /// ```js
    /// engine.setRolloutOptions("prod", "api", { batchPercent: 10, successTimeoutSecs: 900, durationTimeoutSecs: 3600 });
    /// engine.setRolloutOptions("prod", "api"); // defaults
    /// ```
    #[wasm_bindgen(js_name = setRolloutOptions)]
    pub fn set_rollout_options(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "string")] namespace: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] entity: JsValue,
        options: Option<JsRolloutOptions>,
    ) -> JsResult<()> {
        let (ns, entity) = Self::names(&namespace, &entity)?;
        let options = options_from_js(options.map(JsValue::from)).map_err(error_to_js)?;
        self.engine.set_rollout_options(&ns, &entity, options).map_err(error_to_js)
    }

    /// Asks for `version` to be rolled out; it starts once the version
    /// rolling now is settled. Setting the version that is already the
    /// target changes nothing; changing the target back to the last known
    /// bad version retries it.
    ///
    /// @example
    /// ```js
    /// engine.setTargetVersion("prod", "api", "v2");
    /// ```
    #[wasm_bindgen(js_name = setTargetVersion)]
    pub fn set_target_version(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "string")] namespace: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] entity: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] version: JsValue,
    ) -> JsResult<()> {
        let version = string_arg("version", &version).map_err(error_to_js)?;
        self.control(&namespace, &entity, |e, ns, entity, now| e.set_target_version(ns, entity, &version, now).map(|()| true)).map(drop)
    }

    /// Sets `version` as the target and abandons the current rollout: the
    /// version rolling now becomes last known bad and is rolled back to the
    /// last known good one, then `version` rolls out.
    ///
    /// @example
    /// ```js
    /// engine.forceTargetVersion("prod", "api", "v3"); // hotfix: drop v2
    /// ```
    #[wasm_bindgen(js_name = forceTargetVersion)]
    pub fn force_target_version(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "string")] namespace: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] entity: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] version: JsValue,
    ) -> JsResult<()> {
        let version = string_arg("version", &version).map_err(error_to_js)?;
        self.control(&namespace, &entity, |e, ns, entity, now| e.force_target_version(ns, entity, &version, now).map(|()| true)).map(drop)
    }

    /// Names who the controls that follow are by (a person, a token's
    /// name), until set again; `null` names no one. The events those
    /// controls log carry it as `actor`, and the rollout they concern
    /// lists it in its `actions` (see `history`). Steps never carry it.
    ///
    /// @example
    /// ```js
    /// engine.setActor("alice");
    /// engine.approve("prod", "api"); // its approved event has actor "alice"
    /// engine.setActor(null);
    /// ```
    #[wasm_bindgen(js_name = setActor)]
    pub fn set_actor(&mut self, #[wasm_bindgen(unchecked_param_type = "string | null")] actor: JsValue) -> JsResult<()> {
        let actor = optional_string_arg("actor", Some(actor)).map_err(error_to_js)?;
        self.engine.set_actor(actor.as_deref()).map_err(error_to_js)
    }

    /// Pauses the entity's rollout: nothing new moves, while monitoring,
    /// judging and rollbacks go on (safety is never paused). Deadlines and
    /// bake times count only unpaused time. Returns `false` when it was
    /// paused already. An unknown entity throws `NOT_FOUND`.
    ///
    /// @example
    /// ```js
    /// engine.pause("prod", "api"); // targets not yet moved answer reason "held_paused"
    /// ```
    pub fn pause(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "string")] namespace: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] entity: JsValue,
    ) -> JsResult<bool> {
        self.control(&namespace, &entity, Engine::pause)
    }

    /// Lifts a pause; returns `false` when there was none.
    ///
    /// @example
    /// ```js
    /// engine.resume("prod", "api");
    /// ```
    pub fn resume(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "string")] namespace: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] entity: JsValue,
    ) -> JsResult<bool> {
        self.control(&namespace, &entity, Engine::resume)
    }

    /// Makes the version rolling out last known bad and rolls its targets
    /// back now (in its watch window: back to the version good before it).
    /// With nothing in flight it changes nothing and returns `false`. The
    /// version stays the target, so a controller that sets it on every loop
    /// does not undo the abort; `retry` does.
    ///
    /// @example
    /// ```js
    /// if (engine.abort("prod", "api")) page("v2 aborted, rolling back");
    /// ```
    pub fn abort(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "string")] namespace: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] entity: JsValue,
    ) -> JsResult<bool> {
        self.control(&namespace, &entity, Engine::abort)
    }

    /// Rolls the last known bad version out afresh when it is still the
    /// target version (after an abort or a bad verdict); returns whether it
    /// did.
    ///
    /// @example
    /// ```js
    /// engine.retry("prod", "api");
    /// ```
    pub fn retry(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "string")] namespace: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] entity: JsValue,
    ) -> JsResult<bool> {
        self.control(&namespace, &entity, Engine::retry)
    }

    /// Skips the rest of the current plan step's bake (or its approval
    /// gate); `{ full: true }` moves every remaining target at once and
    /// runs no further step. Returns `false` when there was nothing to skip.
    ///
    /// @example
    /// ```js
    /// engine.promote("prod", "api");                 // next step now
    /// engine.promote("prod", "api", { full: true }); // everything now
    /// ```
    pub fn promote(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "string")] namespace: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] entity: JsValue,
        options: Option<JsPromoteOptions>,
    ) -> JsResult<bool> {
        let full = promote_options_from_js(options.map(JsValue::from)).map_err(error_to_js)?;
        self.control(&namespace, &entity, |e, ns, entity, now| e.promote(ns, entity, full, now))
    }

    /// Opens the approval gate the current plan step waits at (its targets
    /// answer reason `"awaiting_approval"`); returns `false` when none is
    /// waiting. This is how an asynchronous approval (a person, a ticket,
    /// an HTTP call) reaches the engine.
    ///
    /// @example
    /// ```js
    /// if (engine.rolloutInfo("prod", "api").awaitingApproval && (await ticketApproved())) engine.approve("prod", "api");
    /// ```
    pub fn approve(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "string")] namespace: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] entity: JsValue,
    ) -> JsResult<bool> {
        self.control(&namespace, &entity, Engine::approve)
    }

    /// Rolls every target back to `version`, which must once have been
    /// last known good (`INVALID_VERSION` otherwise); the version rolling
    /// now becomes last known bad. Returns `false` when everything is
    /// already there.
    ///
    /// @example
    /// ```js
    /// engine.rollbackTo("prod", "api", "v1");
    /// ```
    #[wasm_bindgen(js_name = rollbackTo)]
    pub fn rollback_to(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "string")] namespace: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] entity: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] version: JsValue,
    ) -> JsResult<bool> {
        let version = string_arg("version", &version).map_err(error_to_js)?;
        self.control(&namespace, &entity, |e, ns, entity, now| e.rollback_to(ns, entity, &version, now))
    }

    /// A dry run: the schedule of steps the current options give the
    /// current fleet (the rollout under way, or one that would start now),
    /// with sizes and earliest times. Changes nothing.
    ///
    /// @example
    /// ```js
    /// for (const s of engine.plan("prod", "api").steps) console.log(s.index, s.targets, new Date(s.earliestStart));
    /// ```
    #[wasm_bindgen(unchecked_return_type = "Schedule")]
    pub fn plan(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] namespace: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] entity: JsValue,
    ) -> JsResult<JsValue> {
        let (ns, entity) = Self::names(&namespace, &entity)?;
        let now = self.now().map_err(error_to_js)?;
        let schedule = self.engine.plan(&ns, &entity, now).map_err(error_to_js)?;
        to_js(&schedule).map_err(error_to_js)
    }

    /// The entity's events, oldest first: those after sequence number
    /// `since` (default 0: every event kept), at most `limit`. Pass the
    /// last `seq` you saw as `since` to page.
    ///
    /// @example
    /// ```js
    /// let seen = 0;
    /// for (const e of engine.events("prod", "api", { since: seen })) { log(e.kind, e.target?.name, e.detail); seen = e.seq; }
    /// ```
    #[wasm_bindgen(unchecked_return_type = "RolloutEvent[]")]
    pub fn events(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] namespace: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] entity: JsValue,
        options: Option<JsEventsOptions>,
    ) -> JsResult<JsValue> {
        let (ns, entity) = Self::names(&namespace, &entity)?;
        let (since, limit) = events_options_from_js(options.map(JsValue::from)).map_err(error_to_js)?;
        let events = self.engine.events(&ns, &entity, since, limit).map_err(error_to_js)?;
        to_js(&events).map_err(error_to_js)
    }

    /// Every rollout of the entity, oldest first: version, start, end and
    /// outcome.
    ///
    /// @example
    /// ```js
    /// const good = engine.history("prod", "api").filter((r) => r.outcome === "succeeded");
    /// ```
    #[wasm_bindgen(unchecked_return_type = "Rollout[]")]
    pub fn history(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] namespace: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] entity: JsValue,
    ) -> JsResult<JsValue> {
        let (ns, entity) = Self::names(&namespace, &entity)?;
        let history = self.engine.history(&ns, &entity).map_err(error_to_js)?;
        to_js(&history).map_err(error_to_js)
    }

    /// Records the reported target states, runs one orchestration step at
    /// the clock's time and answers the expected state of every target of
    /// the entity (sorted by group, then name). A report may name only some
    /// targets; naming one twice rejects the whole report.
    ///
    /// @example
    /// ```js
    /// const expected = engine.orchestrate("prod", "api", [
    ///   { name: "host-1", group: "eu", version: "v1", message: "ok", isError: false },
    /// ]);
    /// for (const t of expected) if (t.version !== running(t.name)) deploy(t.name, t.version);
    /// ```
    #[wasm_bindgen(unchecked_return_type = "ExpectedState[]")]
    pub fn orchestrate(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "string")] namespace: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] entity: JsValue,
        #[wasm_bindgen(unchecked_param_type = "TargetReport[]")] reports: JsValue,
    ) -> JsResult<JsValue> {
        let (ns, entity) = Self::names(&namespace, &entity)?;
        let reports = reports_from_js(&reports).map_err(error_to_js)?;
        let now = self.now().map_err(error_to_js)?;
        let answer = self.engine.orchestrate_reported(&ns, &entity, &reports, now).map_err(error_to_js)?;
        // The report's copy is not needed for the answer (its JS strings
        // are): free it first, so that the two never take wasm memory
        // (which never shrinks) at once.
        let names = reports.names();
        drop(reports);
        Ok(answer_to_report(answer, names))
    }

    /// `orchestrate` for a fleet kept in columns, the fast form for large
    /// fleets: the report is one array per field (`names`, `versions`, and
    /// optionally `groups`, `messages`, `isError`), and the answer is aligned
    /// with it: `answer.versionTable[answer.version[i]]` is what `names[i]` should run,
    /// with a message and a reason in the same way, and `others` lists the
    /// entity's targets the report did not name, as `orchestrate` would
    /// (unless the columns say `others: false`: a report of part of a
    /// large fleet, answered for its own targets alone).
    /// No object is made per target on either side. The same validation
    /// and the same step as `orchestrate`; the answer's content is the same.
    ///
    /// @example
    /// ```js
    /// const answer = engine.orchestrateColumns("prod", "api", {
    ///   names: ["host-1", "host-2"],
    ///   versions: ["v1", "v1"],
    ///   isError: new Uint8Array([0, 1]),
    /// });
    /// for (let i = 0; i < names.length; i++) {
    ///   const want = answer.versionTable[answer.version[i]];
    ///   if (want !== running[i]) deploy(names[i], want);
    /// }
    /// ```
    #[wasm_bindgen(js_name = orchestrateColumns, unchecked_return_type = "AnswerColumns")]
    pub fn orchestrate_columns(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "string")] namespace: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] entity: JsValue,
        #[wasm_bindgen(unchecked_param_type = "ReportColumns")] columns: JsValue,
    ) -> JsResult<JsValue> {
        let (ns, entity) = Self::names(&namespace, &entity)?;
        let reports = columns_from_js(&columns).map_err(error_to_js)?;
        // Checked by the packer: absent, true or false.
        let others = js_sys::Reflect::get(&columns, &JsValue::from_str("others")).ok().and_then(|v| v.as_bool()) != Some(false);
        let now = self.now().map_err(error_to_js)?;
        let answer = self.engine.orchestrate_reported(&ns, &entity, &reports, now).map_err(error_to_js)?;
        Ok(answer_columns_to_js(answer, &reports, others))
    }

    /// Records and orchestrates like `orchestrate`, answering nothing; read
    /// the answer later with `expectedState`.
    ///
    /// @example
    /// ```js
    /// engine.report("prod", "api", [{ name: "host-1", version: "v2" }]);
    /// ```
    pub fn report(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "string")] namespace: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] entity: JsValue,
        #[wasm_bindgen(unchecked_param_type = "TargetReport[]")] reports: JsValue,
    ) -> JsResult<()> {
        let (ns, entity) = Self::names(&namespace, &entity)?;
        let reports = reports_from_js(&reports).map_err(error_to_js)?;
        let now = self.now().map_err(error_to_js)?;
        self.engine.orchestrate_reported(&ns, &entity, &reports, now).map(drop).map_err(error_to_js)
    }

    /// The current expected states, of one group when `group` is given (an
    /// exact match). Read-only; an unknown namespace or entity throws
    /// `NOT_FOUND`.
    ///
    /// @example
    /// ```js
    /// const eu = engine.expectedState("prod", "api", "eu");
    /// ```
    #[wasm_bindgen(js_name = expectedState, unchecked_return_type = "ExpectedState[]")]
    pub fn expected_state(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] namespace: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] entity: JsValue,
        group: Option<JsOptionalString>,
    ) -> JsResult<JsValue> {
        let (ns, entity) = Self::names(&namespace, &entity)?;
        let group = optional_string_arg("group", group.map(JsValue::from)).map_err(error_to_js)?;
        let answer = self.engine.answer(&ns, &entity).map_err(error_to_js)?;
        Ok(answer_to_js(answer, group.as_deref()))
    }

    /// The entity's target, rolling, last known good and last known bad
    /// versions, its options and its number of targets.
    ///
    /// @example
    /// ```js
    /// const { lastKnownGoodVersion, lastKnownBadVersion } = engine.rolloutInfo("prod", "api");
    /// ```
    #[wasm_bindgen(js_name = rolloutInfo, unchecked_return_type = "RolloutInfo")]
    pub fn rollout_info(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] namespace: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] entity: JsValue,
    ) -> JsResult<JsValue> {
        let (ns, entity) = Self::names(&namespace, &entity)?;
        let info = self.engine.rollout_info(&ns, &entity).map_err(error_to_js)?;
        to_js(&info).map_err(error_to_js)
    }

    /// How many of the entity's targets are in each state (each target's
    /// `reason`), the states with none left out: its progress without its
    /// targets.
    ///
    /// @example
    /// ```js
    /// const { succeeded = 0, failed_unhealthy = 0 } = engine.targetCounts("prod", "api");
    /// ```
    #[wasm_bindgen(js_name = targetCounts, unchecked_return_type = "Partial<Record<Reason, number>>")]
    pub fn target_counts(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] namespace: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] entity: JsValue,
    ) -> JsResult<JsValue> {
        let (ns, entity) = Self::names(&namespace, &entity)?;
        let counts = self.engine.target_counts(&ns, &entity).map_err(error_to_js)?;
        let object = js_sys::Object::new();
        for (state, n) in counts {
            // A count is at most the targets an engine holds: exact as an f64.
            #[allow(clippy::cast_precision_loss)]
            let n = n as f64;
            js_sys::Reflect::set(&object, &to_js(&state).map_err(error_to_js)?, &JsValue::from_f64(n))?;
        }
        Ok(object.into())
    }

    /// The entity's analysis runs, oldest first: those under way and the
    /// latest ended, each metric with its counts and its latest
    /// measurements (value, query as sent, outcome, why, and time).
    ///
    /// @example
    /// ```js
    /// for (const run of engine.analysis("prod", "api")) console.log(run.kind, run.phase, run.message);
    /// ```
    #[wasm_bindgen(unchecked_return_type = "AnalysisRun[]")]
    pub fn analysis(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] namespace: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] entity: JsValue,
    ) -> JsResult<JsValue> {
        let (ns, entity) = Self::names(&namespace, &entity)?;
        let runs = self.engine.analysis(&ns, &entity).map_err(error_to_js)?;
        to_js(runs).map_err(error_to_js)
    }

    /// The package's measuring function (js/analysis/providers.mjs).
    #[wasm_bindgen(js_name = __setMetricProvider, skip_typescript)]
    pub fn set_metric_provider(&mut self, measure: Function, deferred: Option<Function>) {
        self.engine.set_metric_provider(Some(Box::new(JsMetricProvider::new(measure, deferred))));
    }

    /// Every namespace, in name order.
    ///
    /// @example
    /// ```js
    /// engine.namespaces(); // ["dev", "prod"]
    /// ```
    pub fn namespaces(&self) -> Vec<String> {
        self.engine.namespaces()
    }

    /// Every entity of a namespace, in name order; an unknown namespace
    /// throws `NOT_FOUND`.
    ///
    /// @example
    /// ```js
    /// engine.entities("prod"); // ["api", "worker"]
    /// ```
    pub fn entities(&self, #[wasm_bindgen(unchecked_param_type = "string")] namespace: JsValue) -> JsResult<Vec<String>> {
        let ns = string_arg("namespace", &namespace).map_err(error_to_js)?;
        self.engine.entities(&ns).map_err(error_to_js)
    }

    /// Registers the per-target hooks of an entity (each optional):
    /// `select(targets, count, context)` picks who moves next (it may name
    /// new targets: blue/green), `approve(targets, context)` keeps who may
    /// move, `remove(targets, count, context)` retires replaced targets,
    /// `monitor(target, context)` fails a target by throwing. Pass `null`
    /// to remove them. Hooks are not part of a snapshot.
    ///
    /// @example
    /// ```js
    /// engine.setTargetController("prod", "api", {
    ///   approve: (targets) => targets.filter((t) => !t.tags.includes("frozen")),
    ///   monitor: (t) => { if (errorRate(t.name) > 0.05) throw new Error("error rate above 5%"); },
    /// });
    /// ```
    #[wasm_bindgen(js_name = setTargetController)]
    pub fn set_target_controller(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "string")] namespace: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] entity: JsValue,
        #[wasm_bindgen(unchecked_param_type = "TargetController | HttpTargetController | null")] controller: JsValue,
    ) -> JsResult<()> {
        let (ns, entity) = Self::names(&namespace, &entity)?;
        let settings = settings_of(&controller);
        // Checked whole before anything changes.
        let controller =
            Self::controller(controller, JsTargetController::from_js)?.map(|hooks| Box::new(hooks) as Box<dyn crate::TargetController>);
        self.engine.set_controller_settings(&ns, &entity, ControllerKind::Target, settings.as_deref()).map_err(error_to_js)?;
        self.engine.set_target_controller(&ns, &entity, controller).map_err(error_to_js)
    }

    /// Registers the whole-system health check of an entity:
    /// `check(inFlightTargets, context)` throws to fail the step, which
    /// then changes nothing and throws `HOOK_FAILED`. Pass `null` to remove
    /// it.
    ///
    /// @example
    /// ```js
    /// engine.setMonitoringController("prod", "api", {
    ///   check: () => { if (alerts.firing()) throw new Error("alert firing"); },
    /// });
    /// ```
    #[wasm_bindgen(js_name = setMonitoringController)]
    pub fn set_monitoring_controller(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "string")] namespace: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] entity: JsValue,
        #[wasm_bindgen(unchecked_param_type = "MonitoringController | HttpMonitoringController | null")] controller: JsValue,
    ) -> JsResult<()> {
        let (ns, entity) = Self::names(&namespace, &entity)?;
        let settings = settings_of(&controller);
        let controller = Self::controller(controller, JsMonitoringController::from_js)?
            .map(|hooks| Box::new(hooks) as Box<dyn crate::MonitoringController>);
        self.engine.set_controller_settings(&ns, &entity, ControllerKind::Monitoring, settings.as_deref()).map_err(error_to_js)?;
        self.engine.set_monitoring_controller(&ns, &entity, controller).map_err(error_to_js)
    }

    /// The whole engine state as bytes (hooks of functions are not
    /// included; HTTP controllers are): store it anywhere and
    /// `Orchestrator.restore` it later, in another process or runtime.
    ///
    /// @example
    /// ```js
    /// await kv.put("engine", engine.snapshot());
    /// ```
    pub fn snapshot(&self) -> Uint8Array {
        bytes_to_js(&self.engine.snapshot_blocks())
    }

    /// The entity's snapshot (the snapshot of an engine that holds only
    /// it), which also becomes its journal's checkpoint: the next
    /// `delta(namespace, entity)` holds only what changed after it. An
    /// entity restored from its own snapshot has that checkpoint too.
    ///
    /// @example
    /// ```js
    /// await store.put("prod/api", engine.checkpoint("prod", "api"));
    /// ```
    pub fn checkpoint(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "string")] namespace: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] entity: JsValue,
    ) -> JsResult<Uint8Array> {
        let (ns, entity) = Self::names(&namespace, &entity)?;
        self.engine.checkpoint_entity_blocks(&ns, &entity).map(|bytes| bytes_to_js(&bytes)).map_err(error_to_js)
    }

    /// What changed in the entity since its last checkpoint or delta (the
    /// targets that changed, arrived or left, the new events, and the rest
    /// of the entity, which is small): a journal entry whose size follows
    /// the change, not the fleet. No checkpoint yet throws `NOT_FOUND`.
    ///
    /// @example
    /// ```js
    /// await store.append("prod/api", engine.delta("prod", "api"));
    /// ```
    pub fn delta(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "string")] namespace: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] entity: JsValue,
    ) -> JsResult<Uint8Array> {
        let (ns, entity) = Self::names(&namespace, &entity)?;
        self.engine.entity_delta_blocks(&ns, &entity).map(|bytes| bytes_to_js(&bytes)).map_err(error_to_js)
    }

    /// `delta(namespace, entity)`, unless it would take more than
    /// `maxBytes` bytes: then `undefined`, found soon after its rows pass
    /// `maxBytes`, without encoding the rest (a store that keeps its
    /// journal no larger than the checkpoint writes a checkpoint instead).
    /// The journal then ends: `delta` throws `NOT_FOUND` until the next
    /// `checkpoint`.
    ///
    /// @example
    /// ```js
    /// const delta = engine.deltaWithin("prod", "api", checkpointBytes - journalBytes);
    /// if (delta === undefined) await store.put("prod/api", engine.checkpoint("prod", "api"));
    /// else await store.append("prod/api", delta);
    /// ```
    #[wasm_bindgen(js_name = deltaWithin, unchecked_return_type = "Uint8Array | undefined")]
    pub fn delta_within(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "string")] namespace: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] entity: JsValue,
        #[wasm_bindgen(js_name = maxBytes, unchecked_param_type = "number")] max_bytes: JsValue,
    ) -> JsResult<JsValue> {
        let (ns, entity) = Self::names(&namespace, &entity)?;
        let most = byte_count_from_js("maxBytes", &max_bytes).map_err(error_to_js)?;
        let delta = self.engine.entity_delta_within(&ns, &entity, most).map_err(error_to_js)?;
        Ok(delta.map_or(JsValue::UNDEFINED, |bytes| bytes_to_js(&bytes).into()))
    }

    /// Applies a `delta()` to the entity it is for, which must be in the
    /// state the delta was made from: its checkpoint restored and every
    /// delta before it applied, in order. Anything else (another state,
    /// corrupt bytes) throws `INVALID_SNAPSHOT` and changes nothing.
    /// Answers the entity's namespace and name.
    ///
    /// @example
    /// ```js
    /// const engine = Orchestrator.restore(checkpoint);
    /// for (const delta of journal) engine.applyDelta(delta);
    /// ```
    #[wasm_bindgen(js_name = applyDelta, unchecked_return_type = "[namespace: string, entity: string]")]
    pub fn apply_delta(&mut self, #[wasm_bindgen(unchecked_param_type = "Uint8Array")] bytes: JsValue) -> JsResult<Vec<String>> {
        let bytes = bytes_from_js(&bytes).map_err(error_to_js)?;
        let (namespace, entity) = self.engine.apply_entity_delta(&bytes).map_err(error_to_js)?;
        Ok(vec![namespace, entity])
    }

    /// An engine that behaves exactly as the snapshotted one would have.
    /// Bytes that are not a snapshot (corrupt, truncated, or from a newer
    /// format) throw `INVALID_SNAPSHOT`. Register hooks of functions again
    /// after restoring; HTTP controllers are called again by themselves.
    ///
    /// @example
    /// ```js
    /// const engine = Orchestrator.restore(await kv.get("engine"), { now: () => Date.now() });
    /// ```
    pub fn restore(
        #[wasm_bindgen(unchecked_param_type = "Uint8Array")] bytes: JsValue,
        options: Option<JsOrchestratorOptions>,
    ) -> JsResult<Orchestrator> {
        let clock = clock_from_js(options.map(JsValue::from)).map_err(error_to_js)?;
        let bytes = bytes_from_js(&bytes).map_err(error_to_js)?;
        let mut engine = Engine::restore(&bytes).map_err(error_to_js)?;
        engine.set_zone_offsets(Some(zone_offsets()));
        Ok(Orchestrator { engine, clock, held: None })
    }
}
