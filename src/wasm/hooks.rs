//! JS objects as the core's hook traits. A hook fails by throwing; a hook
//! that returns something of the wrong shape fails the same way.

use js_sys::Function;
use wasm_bindgen::JsValue;

use super::interop::{method, plain_object, target_ids_from_js, thrown_message, to_js, value_from_js};
use crate::{
    Error, HookContext, HookError, MeasureRequest, Measured, MetricProvider, MonitoringController, TargetController, TargetId, TargetView,
};

/// A JS `{ select?, approve?, remove?, monitor? }` object.
pub(crate) struct JsTargetController {
    this: JsValue,
    select: Option<Function>,
    approve: Option<Function>,
    remove: Option<Function>,
    monitor: Option<Function>,
    deferred: Option<Function>,
}

/// The package wraps every JS controller (js/hooks/async.mjs) so that its
/// hooks may answer later: the wrapper's `__deferred()` says whether some
/// call of the step just run is still out.
const DEFERRED: &str = "__deferred";

fn deferred(this: &JsValue, function: Option<&Function>) -> bool {
    function.is_some_and(|f| f.call0(this).is_ok_and(|answer| answer.is_truthy()))
}

impl JsTargetController {
    pub(crate) fn from_js(value: JsValue) -> Result<Self, Error> {
        plain_object("controller", &value, "an object with hook methods")?;
        Ok(JsTargetController {
            select: method(&value, "select", "controller")?,
            approve: method(&value, "approve", "controller")?,
            remove: method(&value, "remove", "controller")?,
            monitor: method(&value, "monitor", "controller")?,
            deferred: method(&value, DEFERRED, "controller")?,
            this: value,
        })
    }
}

fn hook_failure(hook: &str) -> impl Fn(Error) -> HookError + '_ {
    move |err| HookError::new(format!("{hook}: {err}"))
}

/// Calls a hook. A hook that answers a Promise never reaches here: the
/// package's wrapper (js/hooks/async.mjs) answers a stand-in for it and
/// says so through `__deferred`.
/// A failure the wrapper timed carries how long it took as `elapsedMs`.
fn call(function: &Function, this: &JsValue, args: &[JsValue]) -> Result<JsValue, HookError> {
    let args: js_sys::Array = args.iter().collect();
    function.apply(this, &args).map_err(|thrown| {
        let err = HookError::new(thrown_message(&thrown));
        let elapsed = js_sys::Reflect::get(&thrown, &JsValue::from_str("elapsedMs")).ok().and_then(|ms| ms.as_f64());
        match elapsed {
            Some(ms) if ms.is_finite() && ms >= 0.0 => err.after(ms as u64),
            _ => err,
        }
    })
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
        target_ids_from_js("select", &call(select, &self.this, &args)?)
    }

    fn approve(&mut self, ctx: &HookContext<'_>, selected: &[TargetView<'_>]) -> Result<Vec<TargetId>, HookError> {
        let Some(approve) = &self.approve else {
            return Ok(selected.iter().map(TargetView::id).collect());
        };
        let args = [to_js(selected), to_js(ctx)];
        let args = args.into_iter().collect::<Result<Vec<_>, _>>().map_err(hook_failure("approve"))?;
        target_ids_from_js("approve", &call(approve, &self.this, &args)?)
    }

    fn remove(&mut self, ctx: &HookContext<'_>, candidates: &[TargetView<'_>], n: usize) -> Result<Vec<TargetId>, HookError> {
        let Some(remove) = &self.remove else {
            return Ok(Vec::new());
        };
        let args = [to_js(candidates), Ok(count(n)), to_js(ctx)];
        let args = args.into_iter().collect::<Result<Vec<_>, _>>().map_err(hook_failure("remove"))?;
        target_ids_from_js("remove", &call(remove, &self.this, &args)?)
    }

    fn monitor(&mut self, ctx: &HookContext<'_>, target: &TargetView<'_>) -> Result<(), HookError> {
        let Some(monitor) = &self.monitor else {
            return Ok(());
        };
        let args = [to_js(target), to_js(ctx)];
        let args = args.into_iter().collect::<Result<Vec<_>, _>>().map_err(hook_failure("monitor"))?;
        call(monitor, &self.this, &args).map(|_| ())
    }

    fn may_defer(&self) -> bool {
        self.deferred.is_some()
    }

    fn deferred(&mut self) -> bool {
        deferred(&self.this, self.deferred.as_ref())
    }
}

/// A JS `{ check }` object.
pub(crate) struct JsMonitoringController {
    this: JsValue,
    check: Function,
    deferred: Option<Function>,
}

impl JsMonitoringController {
    pub(crate) fn from_js(value: JsValue) -> Result<Self, Error> {
        plain_object("controller", &value, "an object with hook methods")?;
        let check = method(&value, "check", "controller")?.ok_or_else(|| Error::InvalidArgument {
            what: "controller.check".into(),
            reason: "a monitoring controller needs a check(targets, context) method".into(),
        })?;
        let deferred = method(&value, DEFERRED, "controller")?;
        Ok(JsMonitoringController { this: value, check, deferred })
    }
}

impl MonitoringController for JsMonitoringController {
    fn check(&mut self, ctx: &HookContext<'_>, in_flight: &[TargetView<'_>]) -> Result<(), HookError> {
        let args = [to_js(in_flight), to_js(ctx)];
        let args = args.into_iter().collect::<Result<Vec<_>, _>>().map_err(hook_failure("check"))?;
        call(&self.check, &self.this, &args).map(|_| ())
    }

    fn may_defer(&self) -> bool {
        self.deferred.is_some()
    }

    fn deferred(&mut self) -> bool {
        deferred(&self.this, self.deferred.as_ref())
    }
}

/// The package's measuring function (js/analysis/providers.mjs):
/// `measure(request, context)` answers `{ value, query?, warnings? }` or
/// throws; `deferred(namespace, entity)` says whether a measurement of the
/// step just run is still out.
pub(crate) struct JsMetricProvider {
    measure: Function,
    deferred: Option<Function>,
    entity: (String, String),
}

impl JsMetricProvider {
    pub(crate) fn new(measure: Function, deferred: Option<Function>) -> Self {
        JsMetricProvider { measure, deferred, entity: (String::new(), String::new()) }
    }
}

impl MetricProvider for JsMetricProvider {
    fn measure(&mut self, ctx: &HookContext<'_>, request: &MeasureRequest<'_>) -> Result<Measured, HookError> {
        self.entity = (ctx.namespace.to_owned(), ctx.entity.to_owned());
        let args = [to_js(request), to_js(ctx)];
        let args = args.into_iter().collect::<Result<Vec<_>, _>>().map_err(hook_failure("measure"))?;
        let answer = call(&self.measure, &JsValue::NULL, &args)?;
        let field = |name: &str| js_sys::Reflect::get(&answer, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED);
        let warnings = field("warnings");
        let warnings = if js_sys::Array::is_array(&warnings) {
            js_sys::Array::from(&warnings).iter().filter_map(|w| w.as_string()).collect()
        } else {
            Vec::new()
        };
        let value = field("value");
        // The package's JS writes the text (NaN as "NaN"); JSON.stringify
        // is the fallback for a caller's own function.
        let text =
            field("text").as_string().or_else(|| js_sys::JSON::stringify(&value).ok().and_then(|t| t.as_string())).unwrap_or_default();
        Ok(Measured { value: value_from_js(&value, 0), text, query: field("query").as_string().unwrap_or_default(), warnings })
    }

    fn may_defer(&self) -> bool {
        self.deferred.is_some()
    }

    fn deferred(&mut self) -> bool {
        // The entity measured in the step just run (none: nothing is out).
        let (ns, entity) = std::mem::take(&mut self.entity);
        if ns.is_empty() {
            return false;
        }
        let (ns, entity) = (JsValue::from_str(&ns), JsValue::from_str(&entity));
        self.deferred.as_ref().is_some_and(|f| f.call2(&JsValue::NULL, &ns, &entity).is_ok_and(|answer| answer.is_truthy()))
    }
}
