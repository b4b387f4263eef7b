//! A fleet reported in parts, as a controller too large for one report
//! sends it (and as `bench/durable-object-fleet.mjs` drives a Durable
//! Object): each part a step answered for its own targets, then the
//! journal's delta, and a checkpoint whenever the deltas outweigh the last
//! one. Prints each delta's size from the third round on, and, built for
//! wasm, the module's memory each time it grows (it never shrinks).
//!
//! `cargo run --release --example core_parts -- 100000 25000`
//!
//! `cargo build --profile wasm --example core_parts --target wasm32-wasip1`,
//! then `node bench/wasi-run.mjs target/wasm32-wasip1/wasm/examples/core_parts.wasm 300000 25000`
//! (under Node 20's WASI a run of 400,000 targets or more ends in a V8
//! fatal error inside `memory.grow`; the same flow through the package in
//! Node and in workerd runs at a million)

use orchestrator_engine::{Engine, Error, RolloutOptions, TargetReport};

/// The module's memory (wasm); natively nothing to tell.
fn memory() -> usize {
    #[cfg(target_arch = "wasm32")]
    {
        core::arch::wasm32::memory_size(0) * 65536
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        0
    }
}

/// The reports of targets `from..to`, each running what `running` says.
fn part(from: usize, to: usize, running: &[bool]) -> Vec<TargetReport> {
    (from..to)
        .map(|i| {
            let version = if running.get(i).copied().unwrap_or(false) { "v2" } else { "v1" };
            TargetReport::new(format!("clientTarget{i}"), version).in_group(format!("zone-{}", i % 4)).with_message("running successfully")
        })
        .collect()
}

fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1).filter_map(|a| a.parse::<usize>().ok());
    let n = args.next().unwrap_or(1_000_000);
    let size = args.next().unwrap_or(25_000).max(1);
    let (ns, entity) = ("edge", "fleet");
    let mut engine = Engine::new();
    let options = RolloutOptions { batch_percent: 5, success_timeout_secs: 0, duration_timeout_secs: 3600, ..Default::default() };
    engine.set_rollout_options(ns, entity, Some(options))?;
    let mut now = 1_700_000_000_000i64;
    engine.set_target_version(ns, entity, "v1", now)?;
    let mut on_v2 = vec![false; n];
    let mut checkpoint = engine.checkpoint_entity(ns, entity)?.len();
    let mut journal = 0usize;
    let mut held = memory();
    for round in 0..5 {
        if round == 2 {
            engine.set_target_version(ns, entity, "v2", now)?;
        }
        for from in (0..n).step_by(size) {
            now += 200;
            let reports = part(from, from.saturating_add(size).min(n), &on_v2);
            let reports: &[TargetReport] = &reports;
            {
                let answer = engine.orchestrate_reported(ns, entity, &reports, now)?;
                for (i, row) in answer.rows_reported_to(&reports).iter().enumerate() {
                    if let Some(v2) = on_v2.get_mut(from + i) {
                        *v2 = answer.version(row.version()) == "v2";
                    }
                }
            }
            let delta = engine.entity_delta(ns, entity)?.len();
            journal += delta;
            if round >= 2 {
                println!("{{\"round\":{round},\"part\":{from},\"delta_bytes\":{delta}}}");
            }
            if journal > checkpoint {
                checkpoint = engine.checkpoint_entity(ns, entity)?.len();
                journal = 0;
            }
            if memory() != held {
                held = memory();
                println!("{{\"round\":{round},\"part\":{from},\"wasm_memory\":{held}}}");
            }
        }
    }
    Ok(())
}
