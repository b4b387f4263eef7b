//! The states the golden snapshot fixtures hold, built the same way each
//! time: one per format, each the one before plus what its format added
//! (tests/snapshot.rs restores the fixtures to them; the robustness tests
//! mutate them).
#![allow(dead_code)]

use crate::common::{Behaviour, Sim, T0};
use orchestrator_engine::{
    Amount, Analysis, AnalysisPhase, Arg, ControllerKind, Engine, ErrorCode, Freeze, FreezeWindow, Freezes, HookContext, HookError,
    MeasureRequest, Measured, Metric, MetricProvider, MetricValue, Pipeline, PlanStep, RolloutOptions, TargetController, TargetId,
    TargetReport, TargetView,
};

pub const GOLDEN_V1: &str = "tests/fixtures/snapshot-v1.bin";
pub const GOLDEN_V2: &str = "tests/fixtures/snapshot-v2.bin";
pub const GOLDEN_V3: &str = "tests/fixtures/snapshot-v3.bin";
pub const GOLDEN_V4: &str = "tests/fixtures/snapshot-v4.bin";
pub const GOLDEN_V5: &str = "tests/fixtures/snapshot-v5.bin";
pub const GOLDEN_V6: &str = "tests/fixtures/snapshot-v6.bin";
pub const GOLDEN_ENTITY_V4: &str = "tests/fixtures/entity-v4.bin";
pub const GOLDEN_ENTITY_V5: &str = "tests/fixtures/entity-v5.bin";
pub const GOLDEN_ENTITY_V6: &str = "tests/fixtures/entity-v6.bin";
pub const GOLDEN_V7: &str = "tests/fixtures/snapshot-v7.bin";
pub const GOLDEN_ENTITY_V7: &str = "tests/fixtures/entity-v7.bin";
pub const GOLDEN_V8: &str = "tests/fixtures/snapshot-v8.bin";
pub const GOLDEN_ENTITY_V8: &str = "tests/fixtures/entity-v8.bin";
pub const GOLDEN_V9: &str = "tests/fixtures/snapshot-v9.bin";
pub const GOLDEN_ENTITY_V9: &str = "tests/fixtures/entity-v9.bin";
pub const GOLDEN_V10: &str = "tests/fixtures/snapshot-v10.bin";
pub const GOLDEN_ENTITY_V10: &str = "tests/fixtures/entity-v10.bin";
pub const GOLDEN_V11: &str = "tests/fixtures/snapshot-v11.bin";
pub const GOLDEN_ENTITY_V11: &str = "tests/fixtures/entity-v11.bin";

struct RejectHost3;
impl TargetController for RejectHost3 {
    fn monitor(&mut self, _: &HookContext<'_>, t: &TargetView<'_>) -> Result<(), HookError> {
        if t.name == "host-003" {
            return Err(HookError::new("disk full"));
        }
        Ok(())
    }
}

/// A state that exercises every part of the format: two namespaces, groups,
/// tags, messages, errors, a monitor failure, a rollback in progress.
pub fn golden_engine() -> Engine {
    let mut sim = Sim::new(8, "v1");
    for (i, h) in sim.hosts.iter_mut().enumerate() {
        h.group = if i % 2 == 0 { "eu".into() } else { "us".into() };
    }
    let options = RolloutOptions {
        batch_percent: 25,
        success_percent: 75,
        success_timeout_secs: 30,
        duration_timeout_secs: 90,
        ..Default::default()
    };
    sim.establish("v1", options);
    sim.engine.set_target_controller("prod", "app", Some(Box::new(RejectHost3))).unwrap();
    sim.hosts[4].behaviour.insert("v2".into(), Behaviour::Broken);
    sim.set_version("v2");
    sim.run_until(100, |s| s.info().last_known_bad_version == "v2");
    sim.step();
    sim.engine.set_target_version("staging", "worker", "w7", sim.now).unwrap();
    let tagged = TargetReport { tags: vec!["canary".into(), "arm64".into()], ..TargetReport::new("w-1", "w6").with_message("booting") };
    sim.engine.orchestrate("staging", "worker", &[tagged], T0).unwrap();
    sim.engine
}

/// The golden engine plus format 2's state: a plan with a bake and a gate
/// under way, a paused entity, a version in its watch window, event logs
/// (one of them trimmed) and histories; and format 4's: an error timeout,
/// a plan read as totals.
pub fn golden_v4_engine() -> Engine {
    let mut sim = Sim::new(6, "c1");
    sim.engine = golden_engine();
    sim.ns = "edge".into();
    sim.entity = "canary".into();
    let steps =
        vec![PlanStep::new(Amount::Count(1)).bake(300), PlanStep::new(Amount::Percent(50)).gated(), PlanStep::new(Amount::Percent(100))];
    sim.establish("c1", RolloutOptions { max_events: 40, ..Default::default() });
    sim.options(RolloutOptions {
        steps,
        max_failures: Some(Amount::Percent(10)),
        max_consecutive_failures: Some(2),
        watch_secs: 900,
        rollback_batch_percent: Some(50),
        max_events: 40,
        error_timeout_secs: Some(45),
        ..Default::default()
    });
    sim.set_version("c2");
    sim.run_until(100, |s| s.info().step == Some(1));
    sim.engine.pause("edge", "canary", sim.now).unwrap();
    sim.step();
    let mut watched = Sim::new(3, "w1");
    watched.ns = "edge".into();
    watched.entity = "watched".into();
    watched.engine = sim.engine;
    watched.establish("w1", RolloutOptions { batch_percent: 100, ..Default::default() });
    watched.options(RolloutOptions { batch_percent: 100, watch_secs: 3600, ..Default::default() });
    watched.set_version("w2");
    watched.run_until(50, |s| s.info().watch_until.is_some());
    watched.engine
}

/// The golden v4 engine plus format 5's state: the settings of the
/// canary's two controllers (the JS package's HTTP controllers).
pub fn golden_v5_engine() -> Engine {
    let mut engine = golden_v4_engine();
    let target = r#"{"approval":"https://ci.example/approve","headers":{"authorization":"Bearer t0ken"},"timeoutMs":5000}"#;
    engine.set_controller_settings("edge", "canary", ControllerKind::Target, Some(target)).unwrap();
    engine
        .set_controller_settings("edge", "canary", ControllerKind::Monitoring, Some(r#"{"externalmonitoring":"http://127.0.0.1:9/check"}"#))
        .unwrap();
    engine
}

/// Blue/green: a selection hook that creates a machine for each one it is
/// asked for, and counts them.
pub struct Creates(pub std::rc::Rc<std::cell::Cell<usize>>);
impl TargetController for Creates {
    fn select(&mut self, _: &HookContext<'_>, _: &[TargetView<'_>], count: usize) -> Result<Vec<TargetId>, HookError> {
        let from = self.0.get();
        self.0.set(from + count);
        Ok((from..from + count).map(|i| TargetId::new("green", format!("machine-{i}"))).collect())
    }
}

/// A blue/green rollout of 4 machines at 50% whose first 2 new machines
/// were created and none retired yet: a surge of 2.
pub fn surging() -> Sim {
    let mut sim = Sim::new(4, "b1");
    sim.ns = "fleet".into();
    sim.entity = "bluegreen".into();
    sim.establish("b1", RolloutOptions { batch_percent: 50, ..Default::default() });
    let created = std::rc::Rc::new(std::cell::Cell::new(0));
    sim.engine.set_target_controller("fleet", "bluegreen", Some(Box::new(Creates(created.clone())))).unwrap();
    sim.set_version("b2");
    // The first step makes b2 the rolling version, the second creates.
    sim.step();
    sim.step();
    assert_eq!(created.get(), 2);
    sim
}

/// An entity whose v2 was good and that an operator returned to v1
/// (`rollbackTo`), before the step that sends its targets back.
pub fn returned() -> Sim {
    let mut sim = Sim::new(3, "r1");
    sim.ns = "fleet".into();
    sim.entity = "returned".into();
    sim.establish("r1", RolloutOptions { batch_percent: 100, success_timeout_secs: 10, ..Default::default() });
    sim.set_version("r2");
    sim.run_until(50, |s| s.info().last_known_good_version == "r2" && s.hosts.iter().all(|h| h.running == "r2"));
    assert!(sim.engine.rollback_to("fleet", "returned", "r1", sim.now).unwrap());
    sim
}

/// The golden v5 engine plus format 6's state: an entity whose blue/green
/// rollout created machines that no retirement balanced yet, and one an
/// operator's rollbackTo is sending back.
pub fn golden_v6_engine() -> Engine {
    let mut engine = golden_v5_engine();
    engine.restore_entity(&surging().engine.snapshot_entity("fleet", "bluegreen").unwrap()).unwrap();
    engine.restore_entity(&returned().engine.snapshot_entity("fleet", "returned").unwrap()).unwrap();
    engine
}

/// A provider that measures the same ratio for every request.
pub struct Fixed(pub f64);

impl MetricProvider for Fixed {
    fn measure(&mut self, _: &HookContext<'_>, request: &MeasureRequest<'_>) -> Result<Measured, HookError> {
        let value = MetricValue::List(vec![MetricValue::Number(self.0)]);
        Ok(Measured { warnings: vec!["partial data".into()], ..Measured::of(value, &format!("rate{{metric=\"{}\"}}", request.metric)) })
    }
}

/// An entity whose background analysis measured its rollout, with an
/// inline analysis on its first plan step still to come.
pub fn analysed() -> Sim {
    let metric = Metric {
        interval_secs: Some(30),
        success_condition: Some("result[0] < {{args.limit}}".into()),
        no_data: AnalysisPhase::Failed,
        ..Metric::new("errors", r#"{"prometheus":{"address":"http://127.0.0.1:9090","query":"rate[{{args.window}}]"}}"#)
    };
    let args = vec![Arg { name: "limit".into(), value: Some("0.05".into()) }, Arg { name: "window".into(), value: Some("5m".into()) }];
    let background = Analysis { metrics: vec![metric.clone()], args: args.clone(), starting_step: None };
    let gate = Analysis { metrics: vec![Metric { name: "gate".into(), dry_run: true, retention: 3, ..metric }], args, starting_step: None };
    let steps = vec![PlanStep { analysis: Some(Box::new(gate)), ..PlanStep::new(Amount::Count(2)) }, PlanStep::new(Amount::Percent(100))];
    let mut sim = Sim::new(4, "a1");
    sim.ns = "fleet".into();
    sim.entity = "analysed".into();
    sim.establish("a1", RolloutOptions { steps, analysis: Some(Box::new(background)), ..Default::default() });
    sim.engine.set_metric_provider(Some(Box::new(Fixed(0.01))));
    sim.set_version("a2");
    for _ in 0..12 {
        sim.step();
    }
    sim
}

/// The golden v6 engine plus format 7's state: an entity under analysis.
pub fn golden_v7_engine() -> Engine {
    let mut engine = golden_v6_engine();
    engine.restore_entity(&analysed().engine.snapshot_entity("fleet", "analysed").unwrap()).unwrap();
    engine
}

/// An entity whose operators are named: alice set r2, bob approved its
/// gate and paused it, carol resumed it and set r3 (which waits for r2).
pub fn audited() -> Sim {
    let steps = vec![PlanStep { approval: true, ..PlanStep::new(Amount::Count(2)) }, PlanStep::new(Amount::Percent(100))];
    let mut sim = Sim::new(6, "r1");
    sim.ns = "fleet".into();
    sim.entity = "audited".into();
    sim.establish("r1", RolloutOptions { steps, ..Default::default() });
    sim.engine.set_actor(Some("alice")).unwrap();
    sim.set_version("r2");
    sim.engine.set_actor(None).unwrap();
    sim.run_until(20, |s| s.info().awaiting_approval);
    sim.engine.set_actor(Some("bob")).unwrap();
    assert!(sim.engine.approve("fleet", "audited", sim.now).unwrap());
    sim.step();
    assert!(sim.engine.pause("fleet", "audited", sim.now).unwrap());
    sim.engine.set_actor(Some("carol")).unwrap();
    assert!(sim.engine.resume("fleet", "audited", sim.now + 1000).unwrap());
    sim.engine.set_target_version("fleet", "audited", "r3", sim.now + 1000).unwrap();
    sim.engine.set_actor(None).unwrap();
    for _ in 0..3 {
        sim.step();
    }
    sim
}

/// The golden v7 engine plus format 8's state: an entity whose controls
/// were made by named actors.
pub fn golden_v8_engine() -> Engine {
    let mut engine = golden_v7_engine();
    engine.restore_entity(&audited().engine.snapshot_entity("fleet", "audited").unwrap()).unwrap();
    engine
}

/// Fails the monitoring check of "web-02" (a verdict kept on a target).
struct RejectWeb02;
impl TargetController for RejectWeb02 {
    fn monitor(&mut self, _: &HookContext<'_>, t: &TargetView<'_>) -> Result<(), HookError> {
        if t.name == "web-02" {
            return Err(HookError::new("p99 over budget"));
        }
        Ok(())
    }
}

/// An entity whose targets exercise format 9's rows: names that share
/// prefixes (one ending inside a character), a name of 300 bytes, two
/// groups, tags, a monitor's verdict, an error, several messages, and
/// times hours apart.
pub fn packed() -> Engine {
    let long = "n".repeat(300);
    let names = ["db-\u{e9}1", "db-\u{ea}", "web-01", "web-02", "web-10", "web-100", long.as_str()];
    let report = |i: usize, version: &str| {
        let name = names[i];
        let group = if i < 2 { "green" } else { "blue" };
        let report = TargetReport { group: group.into(), ..TargetReport::new(name, version) };
        match i {
            0 => TargetReport { tags: vec!["primary".into(), "ssd".into()], ..report.with_message("serving") },
            5 => report.with_error("crash loop"),
            _ => report.with_message(if i % 2 == 0 { "ok" } else { "warming up" }),
        }
    };
    let mut engine = Engine::new();
    engine.set_rollout_options("fleet", "packed", Some(RolloutOptions { batch_percent: 50, ..Default::default() })).unwrap();
    engine.set_target_version("fleet", "packed", "p1", T0).unwrap();
    let mut now = T0;
    let mut running = vec!["p1".to_owned(); names.len()];
    for round in 0..6 {
        let reports: Vec<TargetReport> = (0..names.len()).filter(|&i| round > 0 || i < 4).map(|i| report(i, &running[i])).collect();
        let answer = engine.orchestrate("fleet", "packed", &reports, now).unwrap();
        for e in answer {
            if let Some(i) = names.iter().position(|n| *n == e.name) {
                running[i] = e.version;
            }
        }
        if round == 2 {
            engine.set_target_controller("fleet", "packed", Some(Box::new(RejectWeb02))).unwrap();
            engine.set_target_version("fleet", "packed", "p2", now).unwrap();
        }
        now += 3_600_000;
    }
    engine
}

/// The golden v8 engine plus format 9's: an entity whose targets exercise
/// the rows ([`packed`]).
pub fn golden_v9_engine() -> Engine {
    let mut engine = golden_v8_engine();
    engine.restore_entity(&packed().snapshot_entity("fleet", "packed").unwrap()).unwrap();
    engine
}

/// An entity held by a one-off freeze of its own (f2 set, nothing moved,
/// `frozen` logged), with a window beside it; its namespace has a freeze of
/// its own (in 2030).
pub fn frozen() -> Sim {
    let mut sim = Sim::new(4, "f1");
    sim.ns = "hold".into();
    sim.entity = "frozen".into();
    sim.establish("f1", RolloutOptions { batch_percent: 50, ..Default::default() });
    let own = Freezes {
        windows: vec![FreezeWindow { name: "nights".into(), days: 0x7f, start: 22 * 60, end: 6 * 60, zone: "+01:00".into() }],
        freezes: vec![Freeze { name: "audit".into(), from: sim.now, until: sim.now + 7_200_000 }],
    };
    assert!(sim.engine.set_freezes("hold", Some("frozen"), own, sim.now).unwrap());
    let shared =
        Freezes { windows: vec![], freezes: vec![Freeze { name: "2030".into(), from: 1_893_456_000_000, until: 1_893_542_400_000 }] };
    assert!(sim.engine.set_freezes("hold", None, shared, sim.now).unwrap());
    sim.set_version("f2");
    sim.step();
    sim.step();
    sim
}

/// The golden v9 engine plus format 10's state: an entity frozen
/// ([`frozen`]) in a namespace with a freeze, and a namespace with no
/// entity whose line alice stopped, with a weekend window.
pub fn golden_v10_engine() -> Engine {
    let mut engine = golden_v9_engine();
    let hold = frozen().engine;
    engine.restore_entity(&hold.snapshot_entity("hold", "frozen").unwrap()).unwrap();
    engine.set_freezes("hold", None, hold.freezes("hold", None).unwrap().clone(), T0).unwrap();
    let weekend = FreezeWindow { name: "weekend".into(), days: 0x60, start: 0, end: 1440, zone: "UTC".into() };
    engine.set_freezes("ops", None, Freezes { windows: vec![weekend], freezes: vec![] }, T0).unwrap();
    engine.set_actor(Some("alice")).unwrap();
    assert!(engine.stop_the_line("ops", "incident 4711", T0).unwrap());
    engine.set_actor(None).unwrap();
    engine
}

/// What the canary of [`golden_v11_engine`] keeps of its notifications.
pub const GOLDEN_NOTIFICATIONS: &str =
    r#"{"subscriptions":[{"name":"chat","url":"https://hooks.example/T0/B0/x","format":"slack","kinds":["version_bad"]}],"cursor":12}"#;

/// The golden v10 engine plus format 11's state: notification settings on
/// the canary and on the frozen entity, and the canary's pipeline.
pub fn golden_v11_engine() -> Engine {
    let mut engine = golden_v10_engine();
    engine.set_controller_settings("edge", "canary", ControllerKind::Notifications, Some(GOLDEN_NOTIFICATIONS)).unwrap();
    engine.set_controller_settings("hold", "frozen", ControllerKind::Notifications, Some(r#"{"subscriptions":[]}"#)).unwrap();
    // A pipeline from the frozen entity, held by a version set by hand.
    let check = Metric {
        count: Some(3),
        interval_secs: Some(60),
        ..Metric::new("health", r#"{"prometheus":{"address":"http://127.0.0.1:9090","query":"up"}}"#)
    };
    let verification = Some(Box::new(Analysis { metrics: vec![check], args: vec![], starting_step: None }));
    let from = Pipeline { from: vec!["hold/frozen".into()], all: false, soak_secs: 3600, approval: true, verification };
    assert!(engine.set_pipeline("edge", "canary", Some(from)).unwrap());
    engine.set_target_version("edge", "canary", "c2-hotfix", T0 + 3600 * 1000).unwrap();
    // Subscriptions for every entity of a namespace, and of one without entities.
    assert!(engine.set_namespace_notifications("edge", Some(r#"{"subscriptions":[{"name":"ops","since":1}]}"#)).unwrap());
    assert!(engine.set_namespace_notifications("quiet", Some(r#"{"subscriptions":[]}"#)).unwrap());
    engine
}

/// The body of `bytes`, a snapshot of `engine` restored from a format
/// before 8, without its format 8 state (empty for such an engine: no
/// actor, and every rollout uncounted): what formats up to 7 hold, to
/// compare with the same state built anew, which counts its rollouts.
pub fn before_format_8<'a>(bytes: &'a [u8], engine: &Engine) -> &'a [u8] {
    let varint = |mut n: usize| {
        let mut len = 1;
        while n >= 0x80 {
            n >>= 7;
            len += 1;
        }
        len
    };
    let mut entities = 0;
    let mut trailer = 0;
    for ns in engine.namespaces() {
        for entity in engine.entities(&ns).unwrap() {
            let rollouts = engine.history(&ns, &entity).unwrap();
            assert!(rollouts.iter().all(|r| r.first_event.is_none() && r.actions.is_empty()), "{ns}/{entity} is counted");
            // No actor, one uncounted tally (five zeros) per rollout, nothing pending.
            trailer += 1 + varint(rollouts.len()) + 5 * rollouts.len() + 1;
            entities += 1;
        }
    }
    trailer += varint(entities);
    // Format 10: no freezes of any entity (no window, no freeze, not
    // frozen), no namespace settings.
    trailer += 3 * entities + varint(entities) + 1;
    // Format 11: no notification settings, no pipeline (two `None`s per entity).
    trailer += varint(entities) + 2 * entities + 1; // and no namespace's notification settings
    &bytes[20..bytes.len() - trailer]
}

/// The error restoring `bytes` gives (it must be `INVALID_SNAPSHOT`).
pub fn restore_err(bytes: &[u8]) -> String {
    let err = Engine::restore(bytes).expect_err("not a valid snapshot");
    assert_eq!(err.code(), ErrorCode::InvalidSnapshot);
    err.to_string()
}

/// `body` in a snapshot envelope of format `version`, checksum and all.
pub fn with_header(version: u16, body: &[u8]) -> Vec<u8> {
    let mut bytes = b"ORCHSNAP".to_vec();
    bytes.extend_from_slice(&version.to_le_bytes());
    bytes.extend_from_slice(&[0, 0]);
    bytes.extend_from_slice(&(body.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&checksum(version, body).to_le_bytes());
    bytes.extend_from_slice(body);
    bytes
}

/// The envelope's CRC-32: of the body, and from format 4 of the version
/// and reserved bytes before it.
pub fn checksum(version: u16, body: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    if version >= 4 {
        hasher.update(&version.to_le_bytes());
        hasher.update(&[0, 0]);
    }
    hasher.update(body);
    hasher.finalize()
}
