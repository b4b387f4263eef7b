//! The fleet every core benchmark uses (`benches/core.rs`,
//! `examples/core_step.rs`; `bench/common.mjs` builds the same in JS):
//! targets named like `clientTarget123` in 4 groups, settled on v1, rolling
//! out in 5% batches.
#![allow(dead_code)]

use orchestrator_engine::{Engine, RolloutOptions, TargetReport};

pub const T0: i64 = 1_700_000_000_000;

pub fn reports(n: usize, version: &str) -> Vec<TargetReport> {
    (0..n)
        .map(|i| {
            TargetReport::new(format!("clientTarget{i}"), version).in_group(format!("zone-{}", i % 4)).with_message("running successfully")
        })
        .collect()
}

/// An engine whose fleet of `n` is settled on v1; with `rolling`, v2 is
/// set and three batches have moved.
pub fn engine(n: usize, rolling: bool) -> Result<(Engine, Vec<TargetReport>, i64), orchestrator_engine::Error> {
    let mut engine = Engine::new();
    let options = RolloutOptions { batch_percent: 100, success_timeout_secs: 0, ..Default::default() };
    engine.set_rollout_options("prod", "app", Some(options))?;
    engine.set_target_version("prod", "app", "v1", T0)?;
    let mut fleet = reports(n, "v1");
    let mut now = T0;
    while engine.rollout_info("prod", "app")?.last_known_good_version != "v1" {
        now += 10_000;
        engine.report("prod", "app", &fleet, now)?;
    }
    engine.set_rollout_options("prod", "app", Some(RolloutOptions { batch_percent: 5, ..Default::default() }))?;
    if rolling {
        engine.set_target_version("prod", "app", "v2", now)?;
        for _ in 0..3 {
            now += 10_000;
            // Answered in the fleet's order: each target installs its own.
            let answer = engine.orchestrate_aligned("prod", "app", &fleet, now)?;
            for (report, expected) in fleet.iter_mut().zip(&answer.reported) {
                report.version.clone_from(&expected.version);
            }
        }
    }
    Ok((engine, fleet, now))
}
