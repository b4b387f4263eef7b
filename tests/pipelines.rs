//! Promotion pipelines in virtual time: entities that take their versions
//! from others once good there, after a soak, with approval; what holds a
//! promotion back (a version set by hand, a freeze, a version bad upstream
//! or turned back downstream, one promoted already); and the pipeline
//! kept across a snapshot.

mod common;

use common::{Behaviour, Host, SEC, T0};
use orchestrator_engine::{Engine, ErrorCode, EventKind, Freeze, Freezes, Pipeline, RolloutOptions, TargetReport, Upstream};

/// Entities of one engine, each with its own fleet, stepped together.
struct Stages {
    engine: Engine,
    now: i64,
    fleets: Vec<(&'static str, Vec<Host>)>,
}

const STEP_MS: i64 = 10 * SEC;

fn options() -> RolloutOptions {
    RolloutOptions { batch_percent: 50, success_percent: 100, success_timeout_secs: 30, duration_timeout_secs: 600, ..Default::default() }
}

impl Stages {
    /// `names` ("ns/entity"), each with 4 hosts on v1, v1 good everywhere.
    fn new(names: &[&'static str]) -> Stages {
        let mut stages = Stages { engine: Engine::new(), now: T0, fleets: Vec::new() };
        for &name in names {
            let hosts = (0..4)
                .map(|i| Host {
                    group: String::new(),
                    name: common::host_name(i),
                    running: "v1".into(),
                    since: T0 - 3600 * SEC,
                    behaviour: Default::default(),
                })
                .collect();
            stages.fleets.push((name, hosts));
            let (ns, e) = name.split_once('/').unwrap();
            stages.engine.set_rollout_options(ns, e, Some(RolloutOptions { batch_percent: 100, ..options() })).unwrap();
            stages.engine.set_target_version(ns, e, "v1", T0).unwrap();
        }
        stages.run_until(20, |s| names.iter().all(|n| s.info(n).last_known_good_version == "v1"));
        for &name in names {
            let (ns, e) = name.split_once('/').unwrap();
            stages.engine.set_rollout_options(ns, e, Some(options())).unwrap();
        }
        stages
    }

    /// One step of every stage.
    fn step(&mut self) {
        for (name, hosts) in &mut self.fleets {
            let (ns, e) = name.split_once('/').unwrap();
            let reports: Vec<TargetReport> = hosts.iter().map(|h| h.report(self.now)).collect();
            let answer = self.engine.orchestrate(ns, e, &reports, self.now).unwrap();
            for host in hosts.iter_mut() {
                if let Some(want) = answer.iter().find(|a| a.name == host.name) {
                    if want.version != host.running {
                        host.running = want.version.clone();
                        host.since = self.now + STEP_MS;
                    }
                }
            }
        }
        self.now += STEP_MS;
    }

    fn run_until(&mut self, max: usize, done: impl Fn(&Stages) -> bool) {
        for _ in 0..max {
            if done(self) {
                return;
            }
            self.step();
        }
        panic!("not done after {max} steps");
    }

    fn info(&self, name: &str) -> orchestrator_engine::RolloutInfo {
        let (ns, e) = name.split_once('/').unwrap();
        self.engine.rollout_info(ns, e).unwrap()
    }

    fn view(&self, name: &str) -> orchestrator_engine::PipelineView {
        let (ns, e) = name.split_once('/').unwrap();
        self.engine.pipeline(ns, e, None, self.now).unwrap()
    }

    fn events(&self, name: &str, kind: EventKind) -> Vec<orchestrator_engine::Event> {
        let (ns, e) = name.split_once('/').unwrap();
        self.engine.events(ns, e, 0, usize::MAX).unwrap().into_iter().filter(|ev| ev.kind == kind).collect()
    }

    fn break_on(&mut self, name: &str, version: &str) {
        let hosts = &mut self.fleets.iter_mut().find(|(n, _)| *n == name).unwrap().1;
        for h in hosts {
            h.behaviour.insert(version.into(), Behaviour::Broken);
        }
    }

    fn runs(&self, name: &str, version: &str) -> bool {
        self.fleets.iter().find(|(n, _)| *n == name).unwrap().1.iter().all(|h| h.running == version)
    }
}

fn pipeline(from: &[&str], soak_secs: u64, approval: bool) -> Option<Pipeline> {
    Some(Pipeline { from: from.iter().map(|s| s.to_string()).collect(), all: false, soak_secs, approval, verification: None })
}

/// staging -> canary (soak 10 minutes) -> prod (approval): a version good
/// in staging soaks, reaches canary by itself, waits for approval before
/// prod; a version that fails in canary never reaches prod; a version set
/// by hand holds promotion until released.
#[test]
fn a_three_stage_pipeline_with_soak_approval_and_a_failing_stage() {
    let mut s = Stages::new(&["staging/api", "canary/api", "prod/api"]);
    assert!(s.engine.set_pipeline("canary", "api", pipeline(&["staging/api"], 600, false)).unwrap());
    assert!(s.engine.set_pipeline("prod", "api", pipeline(&["canary/api"], 0, true)).unwrap());
    assert!(!s.engine.set_pipeline("prod", "api", pipeline(&["canary/api"], 0, true)).unwrap(), "the same again changes nothing");

    // v2 by hand in staging, the start of the line.
    s.engine.set_target_version("staging", "api", "v2", s.now).unwrap();
    s.run_until(30, |s| s.info("staging/api").last_known_good_version == "v2");
    let good_at = s.now;
    // It soaks: canary waits and says until when.
    s.step();
    let view = s.view("canary/api");
    assert_eq!(view.candidate.as_deref(), Some("v2"));
    assert!(view.waiting.as_deref().is_some_and(|w| w.starts_with("v2 soaks in staging/api until ")), "{view:?}");
    assert_eq!(s.info("canary/api").target_version, "v1");
    s.run_until(100, |s| s.info("canary/api").target_version == "v2");
    assert!(s.now - good_at >= 600 * SEC - 2 * STEP_MS, "promoted after the soak, not before");
    let promoted = s.events("canary/api", EventKind::VersionPromoted);
    assert_eq!(promoted.len(), 1);
    assert!(promoted[0].detail.starts_with("promoted from staging/api, good there since "), "{promoted:?}");
    assert_eq!(promoted[0].actor, None, "the engine's doing");
    s.run_until(30, |s| s.info("canary/api").last_known_good_version == "v2" && s.runs("canary/api", "v2"));

    // Prod waits for approval, asks once, and goes when approved.
    for _ in 0..5 {
        s.step();
    }
    assert_eq!(s.info("prod/api").target_version, "v1");
    let view = s.view("prod/api");
    assert_eq!(view.waiting.as_deref(), Some("the promotion of v2 from canary/api awaits approval"));
    assert_eq!(s.events("prod/api", EventKind::ApprovalRequested).len(), 1, "asked once");
    assert!(s.engine.approve_promotion("prod", "api", "v2").unwrap());
    s.run_until(30, |s| s.info("prod/api").last_known_good_version == "v2" && s.runs("prod/api", "v2"));
    assert_eq!(s.view("prod/api").promoted, ["v2"]);

    // v3 is good in staging and fails in canary: it is rolled back there
    // and never reaches prod, however long everything runs.
    s.break_on("canary/api", "v3");
    s.engine.set_target_version("staging", "api", "v3", s.now).unwrap();
    s.run_until(200, |s| s.info("canary/api").last_known_bad_version == "v3" && s.runs("canary/api", "v2"));
    for _ in 0..100 {
        s.step();
    }
    assert_eq!(s.info("prod/api").target_version, "v2");
    assert!(s.runs("prod/api", "v2"));
    assert_eq!(s.events("prod/api", EventKind::ApprovalRequested).len(), 1, "nothing new to approve");
    assert_eq!(s.view("prod/api").candidate.as_deref(), Some("v2"), "canary's good version is still v2");
    let canary = s.view("canary/api");
    assert_eq!(canary.promoted, ["v2", "v3"]);

    // A hotfix by hand in canary holds its pipeline: v4 good in staging
    // waits until the pipeline is released.
    s.engine.set_target_version("canary", "api", "v3-hotfix", s.now).unwrap();
    s.run_until(30, |s| s.info("canary/api").last_known_good_version == "v3-hotfix");
    s.engine.set_target_version("staging", "api", "v4", s.now).unwrap();
    s.run_until(30, |s| s.info("staging/api").last_known_good_version == "v4");
    s.now += 700 * SEC; // past the soak
    s.step();
    let held = s.view("canary/api");
    assert_eq!(held.held.as_deref(), Some("v3-hotfix"));
    assert!(held.waiting.as_deref().is_some_and(|w| w.contains("set by hand")), "{held:?}");
    assert_eq!(s.info("canary/api").target_version, "v3-hotfix");
    assert!(s.engine.release_pipeline("canary", "api").unwrap());
    s.step();
    assert_eq!(s.info("canary/api").target_version, "v4");
    assert_eq!(s.events("canary/api", EventKind::VersionPromoted).len(), 3);

    // The pipelines and what they did survive a snapshot.
    let restored = Engine::restore(&s.engine.snapshot()).unwrap();
    assert_eq!(restored.pipeline("prod", "api", None, s.now).unwrap(), s.engine.pipeline("prod", "api", None, s.now).unwrap());
    assert_eq!(restored.snapshot(), s.engine.snapshot());
}

fn up(name: &str, good: Option<(&str, i64)>, bad: &[&str]) -> Upstream {
    Upstream {
        name: name.into(),
        found: true,
        good: good.map(|(v, _)| v.into()),
        good_since: good.map(|(_, t)| t),
        rolling: good.map_or("", |(v, _)| v).into(),
        bad: bad.iter().map(|b| b.to_string()).collect(),
    }
}

/// The rules on facts a binding passes (as `Rollouts` does, each entity in
/// its own store record): one of or all, a version bad anywhere upstream,
/// a missing upstream, a freeze, never twice.
#[test]
fn promotion_follows_its_rules_on_facts_read_elsewhere() {
    let mut engine = Engine::new();
    engine.set_target_version("prod", "api", "v1", T0).unwrap();
    let both =
        Some(Pipeline { from: vec!["eu/api".into(), "us/api".into()], all: true, soak_secs: 0, approval: false, verification: None });
    engine.set_pipeline("prod", "api", both).unwrap();
    let now = T0 + 3600 * SEC;
    let advance = |engine: &mut Engine, ups: Vec<Upstream>| engine.advance_pipeline("prod", "api", Some(ups), now).unwrap();
    let waiting = |engine: &Engine, ups: Vec<Upstream>| engine.pipeline("prod", "api", Some(ups), now).unwrap().waiting;
    // All: the same version good in both.
    let ups = vec![up("eu/api", Some(("v2", T0)), &[]), up("us/api", Some(("v1", T0)), &[])];
    assert_eq!(waiting(&engine, ups.clone()).as_deref(), Some("v2 is not good in us/api yet"));
    assert_eq!(advance(&mut engine, ups), None);
    // Nothing is promoted from the engine's own (it holds no upstream).
    assert_eq!(engine.advance_pipeline("prod", "api", None, now).unwrap(), None);
    assert_eq!(engine.pipeline("prod", "api", None, now).unwrap().waiting.as_deref(), Some("upstream eu/api does not exist"));
    // Bad in one of them: never.
    let ups = vec![up("eu/api", Some(("v2", T0)), &[]), up("us/api", Some(("v2", T0)), &["v2"])];
    assert_eq!(waiting(&engine, ups.clone()).as_deref(), Some("v2 is bad upstream: it is never promoted"));
    assert_eq!(advance(&mut engine, ups), None);
    // A freeze here holds it.
    let freeze = Freezes { windows: vec![], freezes: vec![Freeze { name: "audit".into(), from: T0, until: now + 1 }] };
    engine.set_freezes("prod", Some("api"), freeze, T0).unwrap();
    let ups = vec![up("eu/api", Some(("v2", T0)), &[]), up("us/api", Some(("v2", T0 + 10)), &[])];
    assert!(waiting(&engine, ups.clone()).is_some_and(|w| w.starts_with("frozen: freeze \"audit\"")));
    assert_eq!(advance(&mut engine, ups.clone()), None);
    engine.set_freezes("prod", Some("api"), Freezes::default(), T0).unwrap();
    assert_eq!(advance(&mut engine, ups.clone()), Some("v2".into()));
    assert_eq!(advance(&mut engine, ups), None, "idempotent: v2 is the target already");
    // One of: the newest good, unless bad anywhere upstream.
    engine
        .set_pipeline(
            "prod",
            "api",
            Some(Pipeline { from: vec!["eu/api".into(), "us/api".into()], all: false, soak_secs: 60, approval: false, verification: None }),
        )
        .unwrap();
    let ups = vec![up("eu/api", Some(("v4", T0 + 20)), &[]), up("us/api", Some(("v3", T0 + 10)), &["v4"])];
    assert_eq!(engine.pipeline("prod", "api", Some(ups.clone()), now).unwrap().candidate.as_deref(), Some("v3"));
    assert_eq!(advance(&mut engine, ups), Some("v3".into()));
    // Never twice: v2 again after v3 (say eu rolled back to it) is not promoted.
    let ups = vec![up("eu/api", Some(("v2", T0 + 30)), &[]), up("us/api", None, &[])];
    assert_eq!(waiting(&engine, ups.clone()).as_deref(), Some("v2 was promoted here once already"));
    assert_eq!(advance(&mut engine, ups), None);
    assert_eq!(engine.pipeline("prod", "api", None, now).unwrap().promoted, ["v2", "v3"]);
}

#[test]
fn a_pipeline_that_cannot_be_is_refused_and_changes_nothing() {
    let mut engine = Engine::new();
    engine.set_target_version("prod", "api", "v1", T0).unwrap();
    let before = engine.snapshot();
    let refused = [
        (vec![], "from must name 1 to 16"),
        (vec!["prod/api"], "is the entity itself"),
        (vec!["staging"], "must be \"namespace/entity\""),
        (vec!["a/b", "a/b"], "names \"a/b\" twice"),
        (vec!["/b"], "invalid namespace"),
    ];
    for (from, message) in refused {
        let p =
            Pipeline { from: from.iter().map(|s| s.to_string()).collect(), all: false, soak_secs: 0, approval: false, verification: None };
        let err = engine.set_pipeline("prod", "api", Some(p)).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidArgument);
        assert!(err.to_string().contains(message), "{err}");
    }
    let long = Pipeline {
        from: vec!["a/b".into()],
        all: false,
        soak_secs: orchestrator_engine::MAX_SOAK_SECS + 1,
        approval: false,
        verification: None,
    };
    assert!(engine.set_pipeline("prod", "api", Some(long)).unwrap_err().to_string().contains("soakSecs"));
    assert_eq!(engine.approve_promotion("prod", "api", "v2").unwrap_err().code(), ErrorCode::NotFound);
    assert!(!engine.release_pipeline("prod", "api").unwrap());
    assert!(!engine.set_pipeline("prod", "api", None).unwrap());
    assert_eq!(engine.snapshot(), before, "nothing changed");
}
