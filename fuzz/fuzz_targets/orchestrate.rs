//! Arbitrary call sequences on one engine: options (valid or not), target
//! versions, controls, and reports of arbitrary targets, at arbitrary times.
//! Nothing may panic; a call that fails changes nothing (the snapshot is
//! byte for byte the same); a twin restored from its own snapshot before
//! every call does exactly what the engine does; and at the end a restored
//! engine answers exactly as the one that ran the calls.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use orchestrator_engine::{Amount, Engine, PlanStep, RolloutOptions, TargetReport};

/// Mostly a few names, so calls meet the same entities and targets.
#[derive(Debug, Arbitrary)]
enum Name {
    Known(u8),
    Any(String),
}

impl Name {
    fn get(&self, known: &[&str]) -> String {
        match self {
            Name::Known(i) => known[usize::from(*i) % known.len()].to_owned(),
            Name::Any(s) => s.clone(),
        }
    }
}

const NAMESPACES: &[&str] = &["prod", "staging"];
const ENTITIES: &[&str] = &["api", "web", "db"];
const VERSIONS: &[&str] = &["v1", "v2", "v3", "v4"];
const TARGETS: &[&str] = &["t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7", "t8", "t9"];
const GROUPS: &[&str] = &["", "eu", "us"];

#[derive(Debug, Arbitrary)]
struct Report {
    name: Name,
    group: Name,
    version: Name,
    is_error: bool,
    message: Name,
    tags: Vec<String>,
}

#[derive(Debug, Arbitrary)]
enum FuzzAmount {
    Count(u64),
    Percent(u32),
}

#[derive(Debug, Arbitrary)]
struct Options {
    batch_percent: u32,
    success_percent: u32,
    success_timeout_secs: u64,
    duration_timeout_secs: u64,
    steps: Vec<(FuzzAmount, u64, bool)>,
    max_failures: Option<FuzzAmount>,
    max_consecutive_failures: Option<u64>,
    watch_secs: u64,
    rollback_batch_percent: Option<u32>,
    max_events: u32,
    error_timeout_secs: Option<u64>,
}

fn amount(a: &FuzzAmount) -> Amount {
    match *a {
        FuzzAmount::Count(n) => Amount::Count(n),
        FuzzAmount::Percent(p) => Amount::Percent(p),
    }
}

impl Options {
    fn get(&self) -> RolloutOptions {
        RolloutOptions {
            batch_percent: self.batch_percent,
            success_percent: self.success_percent,
            success_timeout_secs: self.success_timeout_secs,
            duration_timeout_secs: self.duration_timeout_secs,
            steps: self
                .steps
                .iter()
                .map(|(size, bake_secs, approval)| PlanStep {
                    size: amount(size),
                    bake_secs: *bake_secs,
                    approval: *approval,
                    analysis: None,
                })
                .collect(),
            max_failures: self.max_failures.as_ref().map(amount),
            max_consecutive_failures: self.max_consecutive_failures,
            watch_secs: self.watch_secs,
            rollback_batch_percent: self.rollback_batch_percent,
            max_events: self.max_events,
            error_timeout_secs: self.error_timeout_secs,
            analysis: None,
        }
    }
}

#[derive(Debug, Arbitrary)]
enum Call {
    Options(Option<Options>),
    Set(Name),
    Force(Name),
    Pause,
    Resume,
    Abort,
    Retry,
    Promote(bool),
    Approve,
    RollbackTo(Name),
    Orchestrate(Vec<Report>),
    Report(Vec<Report>),
    /// `orchestrate_aligned`, checked against the answer in name order.
    Aligned(Vec<Report>),
    Plan,
    Events(u64, u16),
    Expected(Option<Name>),
}

#[derive(Debug, Arbitrary)]
struct Step {
    namespace: Name,
    entity: Name,
    /// Milliseconds the clock moves forward (or back) before the call.
    advance: i32,
    call: Call,
}

fuzz_target!(|steps: Vec<Step>| {
    let mut engine = Engine::new();
    let mut twin;
    // The engine's snapshot before the call (its state after the last one).
    let mut before = engine.snapshot();
    let mut now: i64 = 1_700_000_000_000;
    for step in steps.iter().take(64) {
        now = now.saturating_add(i64::from(step.advance));
        let ns = step.namespace.get(NAMESPACES);
        let e = step.entity.get(ENTITIES);
        let apply = |engine: &mut Engine| -> Result<(), orchestrator_engine::Error> {
            match &step.call {
                Call::Options(options) => {
                    engine.set_rollout_options(&ns, &e, options.as_ref().map(Options::get))
                }
                Call::Set(v) => engine.set_target_version(&ns, &e, &v.get(VERSIONS), now),
                Call::Force(v) => engine.force_target_version(&ns, &e, &v.get(VERSIONS), now),
                Call::Pause => engine.pause(&ns, &e, now).map(drop),
                Call::Resume => engine.resume(&ns, &e, now).map(drop),
                Call::Abort => engine.abort(&ns, &e, now).map(drop),
                Call::Retry => engine.retry(&ns, &e, now).map(drop),
                Call::Promote(full) => engine.promote(&ns, &e, *full, now).map(drop),
                Call::Approve => engine.approve(&ns, &e, now).map(drop),
                Call::RollbackTo(v) => engine.rollback_to(&ns, &e, &v.get(VERSIONS), now).map(drop),
                Call::Orchestrate(reports) | Call::Report(reports) | Call::Aligned(reports) => {
                    let reports: Vec<TargetReport> = reports
                        .iter()
                        .map(|r| TargetReport {
                            name: r.name.get(TARGETS),
                            group: r.group.get(GROUPS),
                            tags: r.tags.clone(),
                            version: r.version.get(VERSIONS),
                            message: r
                                .message
                                .get(&["running successfully", "error rate above 5%"]),
                            is_error: r.is_error,
                        })
                        .collect();
                    match step.call {
                        Call::Orchestrate(_) => {
                            engine.orchestrate(&ns, &e, &reports, now).map(drop)
                        }
                        Call::Aligned(_) => {
                            let answer = engine.orchestrate_aligned(&ns, &e, &reports, now)?;
                            assert_eq!(answer.reported.len(), reports.len());
                            for (report, row) in reports.iter().zip(&answer.reported) {
                                assert_eq!((&row.group, &row.name), (&report.group, &report.name));
                            }
                            let mut rows: Vec<_> = answer.reported.into_iter().chain(answer.others).collect();
                            rows.sort_by(|a, b| (&a.group, &a.name).cmp(&(&b.group, &b.name)));
                            assert_eq!(rows, engine.expected_state(&ns, &e, None)?, "aligned rows differ");
                            Ok(())
                        }
                        _ => engine.report(&ns, &e, &reports, now),
                    }
                }
                Call::Plan => engine.plan(&ns, &e, now).map(drop),
                Call::Events(since, limit) => engine
                    .events(&ns, &e, *since, usize::from(*limit))
                    .map(drop),
                Call::Expected(group) => {
                    let group = group.as_ref().map(|g| g.get(GROUPS));
                    engine.expected_state(&ns, &e, group.as_deref()).map(drop)
                }
            }
        };
        let changed = apply(&mut engine);
        let after = engine.snapshot();
        if let Err(err) = &changed {
            assert!(!err.to_string().is_empty());
            assert_eq!(
                before, after,
                "{:?} failed ({err}) but changed the state",
                step.call
            );
        }
        // The twin lives on snapshots alone: restored before every call, it
        // must do exactly what the engine did.
        twin = Engine::restore(&before).expect("a snapshot the engine wrote must restore");
        let twin_changed = apply(&mut twin);
        assert_eq!(
            changed.is_ok(),
            twin_changed.is_ok(),
            "{:?}: the restored twin disagrees",
            step.call
        );
        assert_eq!(
            twin.snapshot(),
            after,
            "{:?}: the restored twin ends in another state",
            step.call
        );
        before = after;
    }
    // A restored engine answers exactly as the one that ran the calls.
    let twin =
        Engine::restore(&engine.snapshot()).expect("a snapshot the engine wrote must restore");
    for ns in engine.namespaces() {
        for e in engine.entities(&ns).expect("listed namespace") {
            assert_eq!(
                engine.expected_state(&ns, &e, None).ok(),
                twin.expected_state(&ns, &e, None).ok()
            );
            assert_eq!(
                engine.rollout_info(&ns, &e).ok(),
                twin.rollout_info(&ns, &e).ok()
            );
            assert_eq!(
                engine.events(&ns, &e, 0, usize::MAX).ok(),
                twin.events(&ns, &e, 0, usize::MAX).ok()
            );
        }
    }
});
