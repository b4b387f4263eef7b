//! The core's orchestration step, timed by the example itself (the engine
//! never reads a clock): `npm run bench` builds it natively and for
//! `wasm32-wasip1`, runs both (the wasm one in Node's WASI), and prints the
//! wasm/native ratio. Prints one JSON line per size and phase.
//!
//! `cargo run --release --example core_step -- 1000 100000`

use std::time::Instant;

use orchestrator_engine::{Engine, RolloutOptions, TargetReport};

const T0: i64 = 1_700_000_000_000;

fn reports(n: usize, version: &str) -> Vec<TargetReport> {
    (0..n)
        .map(|i| {
            TargetReport::new(format!("clientTarget{i}"), version)
                .in_group(format!("zone-{}", i % 4))
                .with_message("running successfully")
        })
        .collect()
}

/// The same engines as `benches/core.rs` and `bench/common.mjs`.
fn engine(n: usize, rolling: bool) -> Result<(Engine, Vec<TargetReport>, i64), orchestrator_engine::Error> {
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
            let answer = engine.orchestrate("prod", "app", &fleet, now)?;
            for (report, expected) in fleet.iter_mut().zip(&answer) {
                report.version.clone_from(&expected.version);
            }
        }
    }
    Ok((engine, fleet, now))
}

fn main() -> Result<(), orchestrator_engine::Error> {
    let sizes: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    for n in sizes {
        for (phase, rolling) in [("steady", false), ("mid-rollout", true)] {
            let (mut engine, fleet, mut now) = engine(n, rolling)?;
            let runs = (2_000_000 / n).clamp(3, 200);
            let mut times = Vec::with_capacity(runs);
            for _ in 0..=runs {
                now += 10_000;
                let start = Instant::now();
                let answer = engine.orchestrate("prod", "app", &fleet, now)?;
                times.push(start.elapsed().as_secs_f64() * 1e3);
                drop(answer);
            }
            times.remove(0); // warm-up
            times.sort_by(f64::total_cmp);
            let median = times.get(times.len() / 2).copied().unwrap_or(f64::NAN);
            println!("{{\"n\":{n},\"phase\":\"{phase}\",\"ms\":{median:.4}}}");
        }
    }
    Ok(())
}
