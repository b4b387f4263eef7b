//! `Orchestrator`'s methods for the package's own JS, left out of its
//! types (`__` names): what the entity keeps for the bindings (the HTTP
//! controllers' settings, notification settings, idempotency answers),
//! and the clock as steps read it.

use wasm_bindgen::prelude::*;

use super::interop::error_to_js;
use super::orchestrator::{kind, Orchestrator};
use crate::ControllerKind;

type JsResult<T> = Result<T, JsValue>;

#[wasm_bindgen]
impl Orchestrator {
    /// For the package's HTTP controllers (js/hooks/async.mjs): what the
    /// entity keeps to build its target (or, with `monitoring`, its
    /// monitoring) controller again wherever it is restored (a
    /// controller's `__settings` when it was set).
    #[wasm_bindgen(js_name = __controllerSettings, skip_typescript)]
    pub fn controller_settings(&self, namespace: String, entity: String, monitoring: bool) -> Option<String> {
        self.engine.controller_settings(&namespace, &entity, kind(monitoring)).ok().flatten().map(str::to_owned)
    }

    /// For the package's JS: the engine's clock now (ms since the epoch),
    /// as its steps read it.
    #[wasm_bindgen(js_name = __now, skip_typescript)]
    #[allow(clippy::cast_precision_loss)]
    pub fn now_for_js(&self) -> JsResult<f64> {
        self.now().map(|t| t as f64).map_err(error_to_js)
    }

    /// For the package's notifications (js/notify/): what the entity keeps
    /// of them (its subscriptions, their delivery log, the events waiting),
    /// or `undefined`.
    #[wasm_bindgen(js_name = __notificationSettings, skip_typescript)]
    pub fn notification_settings(&self, namespace: String, entity: String) -> Option<String> {
        self.engine.controller_settings(&namespace, &entity, ControllerKind::Notifications).ok().flatten().map(str::to_owned)
    }

    /// Sets (or with `null` forgets) what the entity keeps of its
    /// notifications; answers whether that changed them. Makes the entity
    /// when it is not there yet, as a controller does.
    #[wasm_bindgen(js_name = __setNotificationSettings, skip_typescript)]
    pub fn set_notification_settings(&mut self, namespace: String, entity: String, settings: Option<String>) -> JsResult<bool> {
        let before = self.engine.controller_settings(&namespace, &entity, ControllerKind::Notifications).ok().flatten();
        if before == settings.as_deref() {
            return Ok(false);
        }
        self.engine
            .set_controller_settings(&namespace, &entity, ControllerKind::Notifications, settings.as_deref())
            .map_err(error_to_js)?;
        Ok(true)
    }

    /// For the package's notifications: what the namespace keeps of them
    /// (subscriptions for every entity of it), or `undefined`.
    #[wasm_bindgen(js_name = __namespaceNotificationSettings, skip_typescript)]
    pub fn namespace_notification_settings(&self, namespace: String) -> Option<String> {
        self.engine.namespace_notifications(&namespace).map(str::to_owned)
    }

    /// Sets (or with `null` forgets) what the namespace keeps of its
    /// notifications; answers whether that changed them.
    #[wasm_bindgen(js_name = __setNamespaceNotificationSettings, skip_typescript)]
    pub fn set_namespace_notification_settings(&mut self, namespace: String, settings: Option<String>) -> JsResult<bool> {
        self.engine.set_namespace_notifications(&namespace, settings.as_deref()).map_err(error_to_js)
    }

    /// For `Rollouts` (js/rollouts/rollouts.mjs): the answer kept for the
    /// request applied to the entity with idempotency `key` ("" when it was
    /// too large to keep), or `undefined`.
    #[wasm_bindgen(js_name = __appliedAnswer, skip_typescript)]
    pub fn applied_answer(&self, namespace: String, entity: String, key: String) -> Option<String> {
        self.engine.applied_answer(&namespace, &entity, &key).ok().flatten().map(str::to_owned)
    }

    /// For `Rollouts`: remembers in the entity's state that the request with
    /// idempotency `key` was applied and answered `answer`.
    #[wasm_bindgen(js_name = __remember, skip_typescript)]
    pub fn remember(&mut self, namespace: String, entity: String, key: String, answer: String) -> JsResult<()> {
        self.engine.remember(&namespace, &entity, &key, &answer).map_err(error_to_js)
    }

    /// For the package's asynchronous steps (`orchestrateAsync`): holds the
    /// clock at its reading now (`true`), so that a step replayed with its
    /// hooks' answers runs at the time it started, until released
    /// (`false`). Answers the time held.
    #[wasm_bindgen(js_name = __holdClock, skip_typescript)]
    pub fn hold_clock(&mut self, hold: bool) -> JsResult<f64> {
        self.held = None;
        let now = self.now().map_err(error_to_js)?;
        self.held = hold.then_some(now);
        Ok(now as f64)
    }
}
