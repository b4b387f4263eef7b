//! Every error path: the stable code, a message a person can act on, and
//! nothing changed by the failed call.

mod common;

use common::{Sim, T0};
use orchestrator_engine::{Amount, Engine, Error, ErrorCode, RolloutOptions, TargetReport};

fn engine_with_target() -> Engine {
    let mut engine = Engine::new();
    engine.set_target_version("prod", "app", "v1", T0).unwrap();
    engine.orchestrate("prod", "app", &[TargetReport::new("a", "v1")], T0).unwrap();
    engine
}

/// Runs `call` and checks it failed with `code` without changing the state.
fn fails_cleanly(engine: &mut Engine, code: ErrorCode, call: impl FnOnce(&mut Engine) -> Result<(), Error>) -> String {
    let before = engine.snapshot();
    let err = call(engine).expect_err("the call should fail");
    assert_eq!(err.code(), code, "{err}");
    assert_eq!(engine.snapshot(), before, "a failed call changed the state: {err}");
    err.to_string()
}

#[test]
fn out_of_range_options_are_rejected_naming_the_field_and_value() {
    let mut engine = engine_with_target();
    let cases = [
        (RolloutOptions { batch_percent: 101, ..Default::default() }, "invalid rollout option batchPercent = 101: a percentage must be an integer from 0 to 100"),
        (RolloutOptions { success_percent: 250, ..Default::default() }, "invalid rollout option successPercent = 250: a percentage must be an integer from 0 to 100"),
        (RolloutOptions { success_timeout_secs: u64::MAX, duration_timeout_secs: u64::MAX, ..Default::default() }, "invalid rollout option successTimeoutSecs = 18446744073709551615: a timeout must be an integer from 0 to 4294967295 seconds"),
        (RolloutOptions { duration_timeout_secs: 1 << 40, ..Default::default() }, "invalid rollout option durationTimeoutSecs = 1099511627776: a timeout must be an integer from 0 to 4294967295 seconds"),
        (RolloutOptions { success_timeout_secs: 900, duration_timeout_secs: 120, ..Default::default() }, "invalid rollout option durationTimeoutSecs = 120 (the default, unless you set it): it must be at least successTimeoutSecs (900), or no target that changes version could ever succeed before its deadline: set durationTimeoutSecs to 900 or more with it"),
        (RolloutOptions { success_timeout_secs: 900, duration_timeout_secs: 300, ..Default::default() }, "invalid rollout option durationTimeoutSecs = 300: it must be at least successTimeoutSecs (900), or no target that changes version could ever succeed before its deadline: set durationTimeoutSecs to 900 or more with it"),
    ];
    for (options, message) in cases {
        let got = fails_cleanly(&mut engine, ErrorCode::InvalidOptions, |e| e.set_rollout_options("prod", "app", Some(options)));
        assert_eq!(got, message);
    }
    // The edges are accepted.
    let edges =
        RolloutOptions { batch_percent: 0, success_percent: 100, success_timeout_secs: 0, duration_timeout_secs: 0, ..Default::default() };
    engine.set_rollout_options("prod", "app", Some(edges)).unwrap();
    engine.set_rollout_options("prod", "app", None).unwrap();
    assert_eq!(engine.rollout_info("prod", "app").unwrap().options, RolloutOptions::default());
}

#[test]
fn empty_versions_are_rejected() {
    let mut engine = engine_with_target();
    let msg = fails_cleanly(&mut engine, ErrorCode::InvalidVersion, |e| e.set_target_version("prod", "app", "", T0));
    assert_eq!(msg, "invalid version for setTargetVersion: a version must be a non-empty string");
    fails_cleanly(&mut engine, ErrorCode::InvalidVersion, |e| e.force_target_version("prod", "app", "", T0));
    // Not even created by a failed setter.
    fails_cleanly(&mut engine, ErrorCode::InvalidVersion, |e| e.set_target_version("other", "app", "", T0));
    assert!(engine.entities("other").is_err());
}

#[test]
fn empty_names_are_rejected() {
    let mut engine = engine_with_target();
    let msg = fails_cleanly(&mut engine, ErrorCode::InvalidName, |e| e.set_target_version("", "app", "v1", T0));
    assert_eq!(msg, "invalid namespace name: it must be a non-empty string");
    fails_cleanly(&mut engine, ErrorCode::InvalidName, |e| e.set_rollout_options("prod", "", None));
    fails_cleanly(&mut engine, ErrorCode::InvalidName, |e| e.orchestrate("prod", "", &[], T0).map(|_| ()));
}

#[test]
fn names_every_store_can_hold_and_no_other() {
    // At most 200 bytes of UTF-8, no control character: the limit every
    // store holds (file names, PostgreSQL keys), checked where a name is
    // made; a read of such a name finds nothing.
    let mut engine = engine_with_target();
    let longest = "é".repeat(100); // 200 bytes
    engine.set_target_version("prod", &longest, "v1", T0).unwrap();
    engine.rollout_info("prod", &longest).unwrap();
    let too_long = format!("{longest}x");
    for name in [too_long.as_str(), "a\0b", "line\nbreak", "tab\there"] {
        let msg = fails_cleanly(&mut engine, ErrorCode::InvalidName, |e| e.set_target_version("prod", name, "v1", T0));
        assert!(msg.starts_with("invalid entity name: it must"), "{msg}");
        fails_cleanly(&mut engine, ErrorCode::InvalidName, |e| e.set_target_version(name, "app", "v1", T0));
        fails_cleanly(&mut engine, ErrorCode::InvalidName, |e| e.orchestrate("prod", name, &[], T0).map(|_| ()));
        fails_cleanly(&mut engine, ErrorCode::InvalidName, |e| e.set_rollout_options("prod", name, None));
        assert_eq!(engine.rollout_info("prod", name).unwrap_err().code(), ErrorCode::NotFound);
        assert_eq!(engine.entities(name).unwrap_err().code(), ErrorCode::NotFound);
    }
    let msg = engine.set_target_version("prod", &too_long, "v1", T0).unwrap_err().to_string();
    assert_eq!(msg, "invalid entity name: it must be at most 200 bytes of UTF-8");
}

#[test]
fn malformed_reports_are_rejected_whole() {
    let mut engine = engine_with_target();
    let good = TargetReport::new("b", "v1");
    let no_name = TargetReport::new("", "v1").in_group("eu");
    let msg = fails_cleanly(&mut engine, ErrorCode::InvalidTarget, |e| e.report("prod", "app", &[good.clone(), no_name], T0 + 1));
    assert_eq!(msg, "invalid target #2 of the report's 2 (group \"eu\"): a reported target needs a non-empty name");
    let no_version = TargetReport::new("c", "");
    let msg = fails_cleanly(&mut engine, ErrorCode::InvalidTarget, |e| e.report("prod", "app", &[good.clone(), no_version], T0 + 1));
    assert_eq!(msg, "invalid target \"c\" in group \"\": a reported target needs the non-empty version it runs");
}

#[test]
fn a_report_naming_a_target_twice_is_rejected_whole() {
    let mut engine = engine_with_target();
    let twice = [TargetReport::new("b", "v1"), TargetReport::new("a", "v2"), TargetReport::new("b", "v1").with_error("x")];
    let msg = fails_cleanly(&mut engine, ErrorCode::InvalidTarget, |e| e.orchestrate("prod", "app", &twice, T0 + 1).map(|_| ()));
    assert_eq!(msg, "invalid target \"b\" in group \"\": it is reported twice in one report; the report was not applied");
    // The same name in two groups is two targets.
    let groups = [TargetReport::new("b", "v1").in_group("eu"), TargetReport::new("b", "v1").in_group("us")];
    assert_eq!(engine.orchestrate("prod", "app", &groups, T0 + 1).unwrap().len(), 3);
}

#[test]
fn orchestrating_without_a_target_version_fails_and_creates_nothing() {
    let mut engine = Engine::new();
    let msg = fails_cleanly(&mut engine, ErrorCode::NoTargetVersion, |e| {
        e.orchestrate("prod", "app", &[TargetReport::new("a", "v1")], T0).map(|_| ())
    });
    assert_eq!(msg, "entity \"app\" in namespace \"prod\" has no target version: call setTargetVersion first");
    assert!(engine.namespaces().is_empty());
    // An entity created by setting its options has no version either.
    engine.set_rollout_options("prod", "app", None).unwrap();
    fails_cleanly(&mut engine, ErrorCode::NoTargetVersion, |e| e.report("prod", "app", &[], T0));
}

#[test]
fn reading_what_does_not_exist_is_an_error_not_an_empty_answer() {
    let engine = engine_with_target();
    let err = engine.rollout_info("prod", "nope").unwrap_err();
    assert_eq!(err.code(), ErrorCode::NotFound);
    assert_eq!(err.to_string(), "entity \"prod/nope\" does not exist");
    assert_eq!(engine.rollout_info("dev", "app").unwrap_err().to_string(), "namespace \"dev\" does not exist");
    assert_eq!(engine.entities("dev").unwrap_err().code(), ErrorCode::NotFound);
    assert_eq!(engine.expected_state("dev", "app", None).unwrap_err().code(), ErrorCode::NotFound);
}

#[test]
fn codes_are_stable_strings() {
    let all = [
        (ErrorCode::InvalidOptions, "INVALID_OPTIONS"),
        (ErrorCode::InvalidVersion, "INVALID_VERSION"),
        (ErrorCode::InvalidTarget, "INVALID_TARGET"),
        (ErrorCode::InvalidName, "INVALID_NAME"),
        (ErrorCode::NoTargetVersion, "NO_TARGET_VERSION"),
        (ErrorCode::NotFound, "NOT_FOUND"),
        (ErrorCode::HookFailed, "HOOK_FAILED"),
        (ErrorCode::InvalidSnapshot, "INVALID_SNAPSHOT"),
        (ErrorCode::InvalidTime, "INVALID_TIME"),
        (ErrorCode::InvalidArgument, "INVALID_ARGUMENT"),
    ];
    for (code, s) in all {
        assert_eq!(code.as_str(), s);
    }
}

#[test]
fn extreme_times_do_not_overflow() {
    let mut sim = Sim::new(3, "v1");
    sim.options(RolloutOptions { success_timeout_secs: u32::MAX as u64, duration_timeout_secs: u32::MAX as u64, ..Default::default() });
    sim.set_version("v1");
    for now in [i64::MIN, -1, 0, i64::MAX, i64::MIN + 1, i64::MAX] {
        let reports = sim.reports();
        sim.engine.orchestrate("prod", "app", &reports, now).unwrap();
    }
    let bytes = sim.engine.snapshot();
    let again = Engine::restore(&bytes).unwrap();
    assert_eq!(again.snapshot(), bytes);
}

#[test]
fn limits_read_the_same_and_are_named_as_written() {
    let mut engine = engine_with_target();
    // Counts and timeouts share one limit, 4294967295.
    assert_eq!(orchestrator_engine::MAX_COUNT, orchestrator_engine::MAX_TIMEOUT_SECS);
    let over = RolloutOptions { max_failures: Some(Amount::Count(orchestrator_engine::MAX_COUNT + 1)), ..Default::default() };
    let msg = fails_cleanly(&mut engine, ErrorCode::InvalidOptions, |e| e.set_rollout_options("prod", "app", Some(over.clone())));
    assert!(msg.contains("4294967295"), "{msg}");
    // A percentage is named as it was written.
    let percent = RolloutOptions { max_failures: Some(Amount::Percent(150)), ..Default::default() };
    let msg = fails_cleanly(&mut engine, ErrorCode::InvalidOptions, |e| e.set_rollout_options("prod", "app", Some(percent.clone())));
    assert_eq!(msg, "invalid rollout option maxFailures = \"150%\": a percentage must be an integer from 0 to 100");
}
