//! `cargo bench`: one orchestration step of the core at 1k to 1M targets,
//! in steady state and in the middle of a rollout, and snapshot encode and
//! decode at the same sizes. Times are per call; compare sizes as ratios
//! within one run (docs/PERFORMANCE.md).

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use orchestrator_engine::{Engine, RolloutOptions, TargetReport};

const T0: i64 = 1_700_000_000_000;
const SIZES: [usize; 4] = [1_000, 10_000, 100_000, 1_000_000];

/// A fleet named like `clientTarget123` in 4 groups, running `version`.
fn reports(n: usize, version: &str) -> Vec<TargetReport> {
    (0..n)
        .map(|i| {
            TargetReport::new(format!("clientTarget{i}"), version)
                .in_group(format!("zone-{}", i % 4))
                .with_message("running successfully")
        })
        .collect()
}

/// An engine whose fleet of `n` is settled on v1; with `rolling`, v2 is
/// set and a few batches are already in flight or done.
fn engine(n: usize, rolling: bool) -> (Engine, Vec<TargetReport>, i64) {
    let mut engine = Engine::new();
    let options = RolloutOptions { batch_percent: 100, success_timeout_secs: 0, ..Default::default() };
    engine.set_rollout_options("prod", "app", Some(options)).unwrap();
    engine.set_target_version("prod", "app", "v1", T0).unwrap();
    let mut fleet = reports(n, "v1");
    let mut now = T0;
    while engine.rollout_info("prod", "app").unwrap().last_known_good_version != "v1" {
        now += 10_000;
        engine.report("prod", "app", &fleet, now).unwrap();
    }
    let options = RolloutOptions { batch_percent: 5, ..Default::default() };
    engine.set_rollout_options("prod", "app", Some(options)).unwrap();
    if rolling {
        engine.set_target_version("prod", "app", "v2", now).unwrap();
        for _ in 0..3 {
            now += 10_000;
            let answer = engine.orchestrate("prod", "app", &fleet, now).unwrap();
            for (report, expected) in fleet.iter_mut().zip(&answer) {
                report.version.clone_from(&expected.version);
            }
        }
    }
    (engine, fleet, now)
}

fn orchestrate(c: &mut Criterion) {
    let mut group = c.benchmark_group("orchestrate");
    group.sample_size(10).measurement_time(Duration::from_secs(5)).warm_up_time(Duration::from_secs(1));
    for n in SIZES {
        group.throughput(Throughput::Elements(n as u64));
        for (phase, rolling) in [("steady", false), ("mid-rollout", true)] {
            let (mut engine, fleet, mut now) = engine(n, rolling);
            group.bench_with_input(BenchmarkId::new(phase, n), &n, |b, _| {
                b.iter(|| {
                    now += 10_000;
                    black_box(engine.orchestrate("prod", "app", black_box(&fleet), now).unwrap())
                })
            });
        }
    }
    group.finish();
}

fn snapshot(c: &mut Criterion) {
    let mut group = c.benchmark_group("snapshot");
    group.sample_size(10).measurement_time(Duration::from_secs(5)).warm_up_time(Duration::from_secs(1));
    for n in SIZES {
        group.throughput(Throughput::Elements(n as u64));
        let (engine, _, _) = engine(n, true);
        let bytes = engine.snapshot();
        println!("snapshot of {n} targets mid-rollout: {} bytes, {:.1} bytes per target", bytes.len(), bytes.len() as f64 / n as f64);
        group.bench_with_input(BenchmarkId::new("encode", n), &n, |b, _| b.iter(|| black_box(engine.snapshot())));
        group.bench_with_input(BenchmarkId::new("decode", n), &n, |b, _| {
            b.iter_batched(|| (), |()| black_box(Engine::restore(&bytes).unwrap()), BatchSize::SmallInput)
        });
    }
    group.finish();
}

criterion_group!(benches, orchestrate, snapshot);
criterion_main!(benches);
