//! `orchestrate_aligned` (and the report-order hints behind it) over random
//! fleets: whatever order the reports come in, whichever targets they name,
//! whoever joins, the aligned answer is exactly `orchestrate`'s answer of a
//! twin engine, row by row, and the two engines stay identical.

use orchestrator_engine::{Engine, ExpectedState, RolloutOptions, TargetReport};
use proptest::prelude::*;

const T0: i64 = 1_700_000_000_000;

/// What a step's report looks like.
#[derive(Debug, Clone, Copy)]
enum Shape {
    /// The whole fleet, in the order of the previous step.
    Same,
    /// The whole fleet, rotated (every hint is stale).
    Rotated(usize),
    /// The whole fleet, reversed.
    Reversed,
    /// Every `k`-th target left out.
    Partial(usize),
    /// A new target joins in the middle.
    Join,
    /// A target leaves the fleet for good (the engine forgets it later).
    Leave,
}

fn shape() -> impl Strategy<Value = Shape> {
    prop_oneof![
        4 => Just(Shape::Same),
        1 => (1usize..50).prop_map(Shape::Rotated),
        1 => Just(Shape::Reversed),
        1 => (2usize..5).prop_map(Shape::Partial),
        1 => Just(Shape::Join),
        1 => Just(Shape::Leave),
    ]
}

#[derive(Debug, Clone)]
struct Case {
    hosts: usize,
    /// Hosts (by index) that fail on v2.
    broken: Vec<bool>,
    shapes: Vec<Shape>,
    step_secs: i64,
}

fn case() -> impl Strategy<Value = Case> {
    (1usize..40)
        .prop_flat_map(|hosts| {
            (
                Just(hosts),
                proptest::collection::vec(proptest::bool::weighted(0.3), hosts),
                proptest::collection::vec(shape(), 1..60),
                prop_oneof![Just(10i64), Just(45), Just(400)],
            )
        })
        .prop_map(|(hosts, broken, shapes, step_secs)| Case { hosts, broken, shapes, step_secs })
}

struct Host {
    name: String,
    group: String,
    running: String,
    broken: bool,
}

fn report(host: &Host) -> TargetReport {
    let report = TargetReport::new(host.name.clone(), host.running.clone()).in_group(host.group.clone());
    if host.broken && host.running == "v2" {
        report.with_error("crash loop")
    } else {
        report.with_message("ok")
    }
}

fn key(e: &ExpectedState) -> (String, String) {
    (e.group.clone(), e.name.clone())
}

fn run(case: &Case) {
    let options = RolloutOptions { batch_percent: 25, success_timeout_secs: 30, duration_timeout_secs: 120, ..Default::default() };
    let mut aligned = Engine::new();
    let mut plain = Engine::new();
    for engine in [&mut aligned, &mut plain] {
        engine.set_rollout_options("prod", "app", Some(options.clone())).unwrap();
        engine.set_target_version("prod", "app", "v1", T0).unwrap();
    }
    let mut hosts: Vec<Host> = (0..case.hosts)
        .map(|i| Host { name: format!("host-{i}"), group: format!("zone-{}", i % 3), running: "v1".into(), broken: case.broken[i] })
        .collect();
    let mut now = T0;
    let mut joined = 0usize;
    for (step, &shape) in case.shapes.iter().enumerate() {
        if step == 3 {
            for engine in [&mut aligned, &mut plain] {
                engine.set_target_version("prod", "app", "v2", now).unwrap();
            }
        }
        let mut order: Vec<usize> = (0..hosts.len()).collect();
        match shape {
            Shape::Same => {}
            Shape::Rotated(k) => {
                let by = k % order.len().max(1);
                order.rotate_left(by);
            }
            Shape::Reversed => order.reverse(),
            Shape::Partial(k) => order.retain(|i| i % k != 0),
            Shape::Join => {
                let at = hosts.len() / 2;
                hosts.insert(at, Host { name: format!("late-{joined}"), group: "zone-0".into(), running: "v1".into(), broken: false });
                joined += 1;
                order = (0..hosts.len()).collect();
            }
            Shape::Leave if hosts.len() > 1 => {
                hosts.remove(0);
                order = (0..hosts.len()).collect();
            }
            Shape::Leave => {}
        }
        let reports: Vec<TargetReport> = order.iter().map(|&i| report(&hosts[i])).collect();
        let answer = aligned.orchestrate_aligned("prod", "app", &reports, now).unwrap();
        let expected = plain.orchestrate("prod", "app", &reports, now).unwrap();
        assert_eq!(answer.reported.len(), reports.len(), "step {step}");
        for (report, row) in reports.iter().zip(&answer.reported) {
            assert_eq!((&row.group, &row.name), (&report.group, &report.name), "step {step}: row out of place");
        }
        let mut rows: Vec<ExpectedState> = answer.reported.iter().chain(&answer.others).cloned().collect();
        rows.sort_by_key(key);
        assert_eq!(rows, expected, "step {step} ({shape:?})");
        assert!(answer.others.windows(2).all(|w| key(&w[0]) < key(&w[1])), "others out of order");
        for e in &expected {
            if let Some(host) = hosts.iter_mut().find(|h| h.name == e.name) {
                host.running.clone_from(&e.version);
            }
        }
        now += case.step_secs * 1000;
    }
    assert_eq!(aligned.snapshot(), plain.snapshot());
}

proptest! {
    #![proptest_config(ProptestConfig {
        // PROPTEST_CASES may raise the count for a campaign, never lower it.
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).map_or(64, |n: u32| n.max(64)),
        ..ProptestConfig::default()
    })]

    #[test]
    fn aligned_answers_are_the_plain_answers_in_report_order(case in case()) {
        run(&case);
    }
}

#[test]
fn an_error_changes_nothing_and_answers_nothing() {
    let mut engine = Engine::new();
    engine.set_target_version("prod", "app", "v1", T0).unwrap();
    let reports = [TargetReport::new("a", "v1"), TargetReport::new("b", "v1")];
    engine.orchestrate_aligned("prod", "app", &reports, T0).unwrap();
    let before = engine.snapshot();
    let twice = [TargetReport::new("b", "v1"), TargetReport::new("b", "v1")];
    let err = engine.orchestrate_aligned("prod", "app", &twice, T0 + 1000).unwrap_err();
    assert_eq!(err.code(), orchestrator_engine::ErrorCode::InvalidTarget);
    assert_eq!(engine.snapshot(), before);
    // The hints of the rejected report did not mislead the next one.
    let answer = engine.orchestrate_aligned("prod", "app", &[reports[1].clone(), reports[0].clone()], T0 + 2000).unwrap();
    let names: Vec<&str> = answer.reported.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["b", "a"]);
    assert!(answer.others.is_empty());
}
