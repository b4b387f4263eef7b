//! JS objects as the core's hook traits. A hook fails by throwing; a hook
//! that returns something of the wrong shape fails the same way.

use js_sys::Function;
use wasm_bindgen::JsValue;

use super::interop::{method, plain_object, target_ids_from_js, thrown_message, to_js};
use crate::{Error, HookContext, HookError, MonitoringController, TargetController, TargetId, TargetView};

/// A JS `{ select?, approve?, remove?, monitor? }` object.
pub(crate) struct JsTargetController {
    this: JsValue,
    select: Option<Function>,
    approve: Option<Function>,
    remove: Option<Function>,
    monitor: Option<Function>,
}

impl JsTargetController {
    pub(crate) fn from_js(value: JsValue) -> Result<Self, Error> {
        plain_object("controller", &value, "an object with hook methods")?;
        Ok(JsTargetController {
            select: method(&value, "select", "controller")?,
            approve: method(&value, "approve", "controller")?,
            remove: method(&value, "remove", "controller")?,
            monitor: method(&value, "monitor", "controller")?,
            this: value,
        })
    }
}

fn hook_failure(hook: &str) -> impl Fn(Error) -> HookError + '_ {
    move |err| HookError::new(format!("{hook}: {err}"))
}

fn call(hook: &str, function: &Function, this: &JsValue, args: &[JsValue]) -> Result<JsValue, HookError> {
    let args: js_sys::Array = args.iter().collect();
    let result = function.apply(this, &args).map_err(|thrown| HookError::new(thrown_message(&thrown)))?;
    // A promise cannot be awaited inside a synchronous step.
    if result.is_object() && js_sys::Reflect::get(&result, &"then".into()).is_ok_and(|then| then.is_function()) {
        return Err(HookError::new(format!(
            "{hook} returned a Promise; hooks run synchronously inside a step, so do asynchronous \
             work before calling orchestrate"
        )));
    }
    Ok(result)
}

fn count(n: usize) -> JsValue {
    JsValue::from_f64(n as f64)
}

impl TargetController for JsTargetController {
    fn select(&mut self, ctx: &HookContext<'_>, available: &[TargetView<'_>], n: usize) -> Result<Vec<TargetId>, HookError> {
        let Some(select) = &self.select else {
            return Ok(available.iter().take(n).map(TargetView::id).collect());
        };
        let args = [to_js(available), Ok(count(n)), to_js(ctx)];
        let args = args.into_iter().collect::<Result<Vec<_>, _>>().map_err(hook_failure("select"))?;
        target_ids_from_js("select", &call("select", select, &self.this, &args)?)
    }

    fn approve(&mut self, ctx: &HookContext<'_>, selected: &[TargetView<'_>]) -> Result<Vec<TargetId>, HookError> {
        let Some(approve) = &self.approve else {
            return Ok(selected.iter().map(TargetView::id).collect());
        };
        let args = [to_js(selected), to_js(ctx)];
        let args = args.into_iter().collect::<Result<Vec<_>, _>>().map_err(hook_failure("approve"))?;
        target_ids_from_js("approve", &call("approve", approve, &self.this, &args)?)
    }

    fn remove(&mut self, ctx: &HookContext<'_>, candidates: &[TargetView<'_>], n: usize) -> Result<Vec<TargetId>, HookError> {
        let Some(remove) = &self.remove else {
            return Ok(Vec::new());
        };
        let args = [to_js(candidates), Ok(count(n)), to_js(ctx)];
        let args = args.into_iter().collect::<Result<Vec<_>, _>>().map_err(hook_failure("remove"))?;
        target_ids_from_js("remove", &call("remove", remove, &self.this, &args)?)
    }

    fn monitor(&mut self, ctx: &HookContext<'_>, target: &TargetView<'_>) -> Result<(), HookError> {
        let Some(monitor) = &self.monitor else {
            return Ok(());
        };
        let args = [to_js(target), to_js(ctx)];
        let args = args.into_iter().collect::<Result<Vec<_>, _>>().map_err(hook_failure("monitor"))?;
        call("monitor", monitor, &self.this, &args).map(|_| ())
    }
}

/// A JS `{ check }` object.
pub(crate) struct JsMonitoringController {
    this: JsValue,
    check: Function,
}

impl JsMonitoringController {
    pub(crate) fn from_js(value: JsValue) -> Result<Self, Error> {
        plain_object("controller", &value, "an object with hook methods")?;
        let check = method(&value, "check", "controller")?.ok_or_else(|| Error::InvalidArgument {
            what: "controller.check".into(),
            reason: "a monitoring controller needs a check(targets, context) method".into(),
        })?;
        Ok(JsMonitoringController { this: value, check })
    }
}

impl MonitoringController for JsMonitoringController {
    fn check(&mut self, ctx: &HookContext<'_>, in_flight: &[TargetView<'_>]) -> Result<(), HookError> {
        let args = [to_js(in_flight), to_js(ctx)];
        let args = args.into_iter().collect::<Result<Vec<_>, _>>().map_err(hook_failure("check"))?;
        call("check", &self.check, &self.this, &args).map(|_| ())
    }
}
