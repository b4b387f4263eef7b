//! The core's orchestration step, timed by the example itself (the engine
//! never reads a clock): `npm run bench` builds it natively and for
//! `wasm32-wasip1`, runs both (the wasm one in Node's WASI), and prints the
//! wasm/native ratio. Prints one JSON line per size and phase.
//!
//! `cargo run --release --example core_step -- 1000 100000`
//!
//! `CORE_STEP_ANSWER=rows` answers as `orchestrateColumns` does (the rows
//! aligned with the report, no string per target) instead of expected states.
//!
//! Under cachegrind, with the same number of steps at each size:
//! `CORE_STEP_RUNS=3 valgrind --tool=cachegrind --cache-sim=yes target/release/examples/core_step 20000`

use std::time::Instant;

#[path = "../benches/common/mod.rs"]
mod common;

use common::engine;

fn main() -> Result<(), orchestrator_engine::Error> {
    let sizes: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    for n in sizes {
        for (phase, rolling) in [("steady", false), ("mid-rollout", true)] {
            let (mut engine, fleet, mut now) = engine(n, rolling)?;
            // CORE_STEP_RUNS fixes the count (for `valgrind`, whose counts
            // then compare across sizes).
            let runs = std::env::var("CORE_STEP_RUNS").ok().and_then(|r| r.parse().ok()).unwrap_or((2_000_000 / n).clamp(3, 200));
            let rows = std::env::var("CORE_STEP_ANSWER").is_ok_and(|a| a == "rows");
            let mut times = Vec::with_capacity(runs);
            for _ in 0..=runs {
                now += 10_000;
                let start = Instant::now();
                if rows {
                    let reports: &[_] = &fleet;
                    let answer = engine.orchestrate_reported("prod", "app", &reports, now)?;
                    let aligned = answer.rows_aligned_to(&reports);
                    times.push(start.elapsed().as_secs_f64() * 1e3);
                    drop(aligned);
                } else {
                    let answer = engine.orchestrate("prod", "app", &fleet, now)?;
                    times.push(start.elapsed().as_secs_f64() * 1e3);
                    drop(answer);
                }
            }
            times.remove(0); // warm-up
            times.sort_by(f64::total_cmp);
            let median = times.get(times.len() / 2).copied().unwrap_or(f64::NAN);
            println!("{{\"n\":{n},\"phase\":\"{phase}\",\"ms\":{median:.4}}}");
        }
    }
    Ok(())
}
