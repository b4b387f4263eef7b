//! Tier 2: the JS <-> Rust conversions, tested inside wasm with
//! wasm-bindgen-test (run in Node by `cargo test --target wasm32-unknown-unknown`).
#![cfg(target_arch = "wasm32")]

use js_sys::{Array, Function, Object, Reflect};
use orchestrator_engine::wasm::Orchestrator;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::wasm_bindgen_test;

fn obj(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    for (k, v) in pairs {
        Reflect::set(&o, &JsValue::from_str(k), v).unwrap();
    }
    o.into()
}

fn get(v: &JsValue, key: &str) -> JsValue {
    Reflect::get(v, &JsValue::from_str(key)).unwrap()
}

fn s(v: &str) -> JsValue {
    JsValue::from_str(v)
}

fn engine_at(ms: f64) -> Orchestrator {
    let clock = Function::new_no_args(&format!("return {ms}"));
    Orchestrator::new(Some(obj(&[("now", clock.into())]).unchecked_into())).unwrap()
}

fn code(err: JsValue) -> String {
    assert!(err.is_instance_of::<js_sys::Error>(), "not an Error: {err:?}");
    assert_eq!(get(&err, "name").as_string().unwrap(), "OrchestratorError");
    get(&err, "code").as_string().unwrap()
}

fn reports(items: Vec<JsValue>) -> JsValue {
    items.into_iter().collect::<Array>().into()
}

#[wasm_bindgen_test]
fn answers_and_info_use_camel_case_plain_objects() {
    let mut engine = engine_at(1.7e12);
    engine.set_target_version(s("prod"), s("app"), s("v1")).unwrap();
    let answer = engine.orchestrate(s("prod"), s("app"), reports(vec![obj(&[("name", s("a")), ("version", s("v1"))])])).unwrap();
    let first = Array::from(&answer).get(0);
    assert_eq!(Object::get_prototype_of(&first), Object::get_prototype_of(&Object::new()));
    let keys: Vec<String> = Object::keys(first.unchecked_ref::<Object>()).iter().map(|k| k.as_string().unwrap()).collect();
    assert_eq!(keys, ["name", "group", "version", "message", "isError", "reason"]);
    // (The fleet already runs v1: it is adopted as good, README Deviation 5.)
    assert_eq!(get(&first, "reason").as_string().unwrap(), "succeeded");
    assert_eq!(get(&first, "isError").as_bool(), Some(false));

    let info = engine.rollout_info(s("prod"), s("app")).unwrap();
    for key in ["targetVersion", "rollingVersion", "lastKnownGoodVersion", "lastKnownBadVersion", "options", "targets", "failureThreshold"] {
        assert!(!get(&info, key).is_undefined(), "{key}");
    }
    assert_eq!(get(&get(&info, "options"), "batchPercent").as_f64(), Some(5.0));
    assert_eq!(get(&info, "targets").as_f64(), Some(1.0));
}

#[wasm_bindgen_test]
fn group_is_optional_null_or_a_string() {
    let mut engine = engine_at(1.7e12);
    engine.set_target_version(s("prod"), s("app"), s("v1")).unwrap();
    let items = vec![
        obj(&[("name", s("a")), ("version", s("v1"))]),
        obj(&[("name", s("b")), ("version", s("v1")), ("group", JsValue::NULL)]),
        obj(&[("name", s("c")), ("version", s("v1")), ("group", s("eu")), ("tags", Array::of1(&s("canary")).into())]),
    ];
    let answer = Array::from(&engine.orchestrate(s("prod"), s("app"), reports(items)).unwrap());
    let groups: Vec<String> = answer.iter().map(|e| get(&e, "group").as_string().unwrap()).collect();
    assert_eq!(groups, ["", "", "eu"]);
    let eu = Array::from(&engine.expected_state(s("prod"), s("app"), Some(s("eu").unchecked_into())).unwrap());
    assert_eq!(eu.length(), 1);
    let bad = obj(&[("name", s("d")), ("version", s("v1")), ("group", JsValue::from_f64(3.0))]);
    assert_eq!(code(engine.orchestrate(s("prod"), s("app"), reports(vec![bad])).unwrap_err()), "INVALID_TARGET");
}

#[wasm_bindgen_test]
fn large_fleets_cross_the_boundary() {
    let mut engine = engine_at(1.7e12);
    engine.set_target_version(s("prod"), s("app"), s("v1")).unwrap();
    let items: Vec<JsValue> = (0..20_000)
        .map(|i| obj(&[("name", s(&format!("clientTarget{i}"))), ("version", s("v1")), ("message", s("running successfully"))]))
        .collect();
    let answer = Array::from(&engine.orchestrate(s("prod"), s("app"), reports(items)).unwrap());
    assert_eq!(answer.length(), 20_000);
    let bytes: JsValue = engine.snapshot().into();
    let restored = Orchestrator::restore(bytes, None).unwrap();
    assert_eq!(get(&restored.rollout_info(s("prod"), s("app")).unwrap(), "targets").as_f64(), Some(20_000.0));
}

#[wasm_bindgen_test]
fn numbers_from_js_are_checked() {
    let mut engine = engine_at(1.7e12);
    for (field, value) in [
        ("batchPercent", JsValue::from_f64(12.5)),
        ("batchPercent", JsValue::from_f64(-1.0)),
        ("successPercent", JsValue::from_f64(101.0)),
        ("successPercent", s("50")),
        ("successTimeoutSecs", JsValue::from_f64(f64::NAN)),
        ("durationTimeoutSecs", JsValue::from_f64(f64::INFINITY)),
        ("durationTimeoutSecs", JsValue::from_f64(1e10)),
    ] {
        let options = obj(&[(field, value)]);
        let err = engine.set_rollout_options(s("p"), s("e"), Some(options.unchecked_into())).unwrap_err();
        assert_eq!(code(err.clone()), "INVALID_OPTIONS");
        let message = get(&err, "message").as_string().unwrap();
        assert!(message.contains(field), "{message}");
    }
    let ok = obj(&[("batchPercent", JsValue::from_f64(100.0)), ("successTimeoutSecs", JsValue::from_f64(0.0))]);
    engine.set_rollout_options(s("p"), s("e"), Some(ok.unchecked_into())).unwrap();

    // Clock values: fractions are dropped, non-numbers and unsafe integers rejected.
    let mut fractional = engine_at(1_700_000_000_000.75);
    fractional.set_target_version(s("p"), s("e"), s("v1")).unwrap();
    fractional.report(s("p"), s("e"), reports(vec![])).unwrap();
    for bad in ["NaN", "'soon'", "2 ** 60", "undefined"] {
        let clock = Function::new_no_args(&format!("return {bad}"));
        let mut e = Orchestrator::new(Some(obj(&[("now", clock.into())]).unchecked_into())).unwrap();
        // Setters read the clock too: the event log records when.
        assert_eq!(code(e.set_target_version(s("p"), s("e"), s("v1")).unwrap_err()), "INVALID_TIME", "{bad}");
        assert_eq!(code(e.report(s("p"), s("e"), reports(vec![])).unwrap_err()), "INVALID_TIME", "{bad}");
        assert!(e.namespaces().is_empty(), "{bad}: nothing was created");
    }
}

#[wasm_bindgen_test]
fn plans_budgets_and_the_event_log_cross_the_boundary() {
    let mut engine = engine_at(1.7e12);
    let step = obj(&[("size", s("50%")), ("bakeSecs", JsValue::from_f64(600.0)), ("approval", JsValue::TRUE)]);
    let steps = Array::of4(&JsValue::from_f64(1.0), &s("10%"), &step, &s("100%"));
    let options = obj(&[
        ("steps", steps.into()),
        ("maxFailures", s("2%")),
        ("watchSecs", JsValue::from_f64(60.0)),
        ("rollbackBatchPercent", JsValue::NULL),
    ]);
    engine.set_rollout_options(s("p"), s("e"), Some(options.unchecked_into())).unwrap();
    let info = engine.rollout_info(s("p"), s("e")).unwrap();
    let opts = get(&info, "options");
    let steps = Array::from(&get(&opts, "steps"));
    assert_eq!(get(&steps.get(0), "size").as_f64(), Some(1.0));
    assert_eq!(get(&steps.get(2), "size").as_string().as_deref(), Some("50%"));
    assert_eq!(get(&steps.get(2), "bakeSecs").as_f64(), Some(600.0));
    assert_eq!(get(&steps.get(2), "approval").as_bool(), Some(true));
    assert_eq!(get(&opts, "maxFailures").as_string().as_deref(), Some("2%"));
    assert!(get(&opts, "rollbackBatchPercent").is_null());
    assert!(get(&info, "step").is_null());

    engine.set_target_version(s("p"), s("e"), s("v1")).unwrap();
    let events = Array::from(&engine.events(s("p"), s("e"), None).unwrap());
    assert_eq!(events.length(), 1);
    assert_eq!(get(&events.get(0), "kind").as_string().as_deref(), Some("version_set"));
    assert_eq!(get(&events.get(0), "seq").as_f64(), Some(1.0));
    assert!(get(&events.get(0), "target").is_null());
    let plan = engine.plan(s("p"), s("e")).unwrap();
    assert_eq!(Array::from(&get(&plan, "steps")).length(), 4);
    assert_eq!(engine.pause(s("p"), s("e")).unwrap(), true);
    assert_eq!(engine.promote(s("p"), s("e"), None).unwrap(), false);

    for bad in [
        obj(&[("steps", s("1,100%"))]),
        obj(&[("steps", Array::of1(&s("ten%")).into())]),
        obj(&[("steps", Array::of1(&obj(&[("size", JsValue::from_f64(1.5))])).into())]),
        obj(&[("steps", Array::of1(&obj(&[("size", s("100%")), ("wait", JsValue::TRUE)])).into())]),
        obj(&[("maxFailures", JsValue::from_f64(-1.0))]),
        obj(&[("maxEvents", JsValue::from_f64(0.0))]),
    ] {
        assert_eq!(code(engine.set_rollout_options(s("p"), s("e"), Some(bad.unchecked_into())).unwrap_err()), "INVALID_OPTIONS");
    }
    assert_eq!(code(engine.events(s("p"), s("e"), Some(obj(&[("since", s("0"))]).unchecked_into())).unwrap_err()), "INVALID_ARGUMENT");
}

#[wasm_bindgen_test]
fn arguments_of_the_wrong_shape_are_errors_not_panics() {
    let mut engine = engine_at(1.7e12);
    assert_eq!(code(engine.set_target_version(JsValue::from_f64(1.0), s("e"), s("v1")).unwrap_err()), "INVALID_ARGUMENT");
    assert_eq!(code(engine.set_target_version(s("p"), s("e"), JsValue::UNDEFINED).unwrap_err()), "INVALID_ARGUMENT");
    engine.set_target_version(s("p"), s("e"), s("v1")).unwrap();
    assert_eq!(code(engine.orchestrate(s("p"), s("e"), s("not an array")).unwrap_err()), "INVALID_ARGUMENT");
    assert_eq!(code(engine.orchestrate(s("p"), s("e"), reports(vec![JsValue::NULL])).unwrap_err()), "INVALID_TARGET");
    assert_eq!(code(Orchestrator::restore(JsValue::from_f64(3.0), None).err().unwrap()), "INVALID_ARGUMENT");
    assert_eq!(code(engine.set_target_controller(s("p"), s("e"), s("hooks")).unwrap_err()), "INVALID_ARGUMENT");
    let not_a_function = obj(&[("select", JsValue::from_f64(1.0))]);
    assert_eq!(code(engine.set_target_controller(s("p"), s("e"), not_a_function).unwrap_err()), "INVALID_ARGUMENT");
    // Still working after every error.
    assert_eq!(Array::from(&engine.orchestrate(s("p"), s("e"), reports(vec![])).unwrap()).length(), 0);
}

#[wasm_bindgen_test]
fn the_packed_answer_names_reasons_as_serde_does() {
    // js/boundary.js gets reason codes from TargetState::as_str; the other
    // answers (events, plans) serialise them with serde.
    for (i, state) in orchestrator_engine::TargetState::ALL.into_iter().enumerate() {
        // The packed answer sends `state as u8` as the index into ALL.
        assert_eq!(state as usize, i);
        let serde = serde_wasm_bindgen::to_value(&state).unwrap();
        assert_eq!(serde.as_string().as_deref(), Some(state.as_str()));
    }
}
