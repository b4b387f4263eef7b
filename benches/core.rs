//! `cargo bench`: one orchestration step of the core at 1k to 1M targets,
//! in steady state and in the middle of a rollout, with its answer
//! (`orchestrate`: an owned `ExpectedState` of four strings per target) and
//! without (`report`: the step alone), snapshot encode and decode at the
//! same sizes, and a step saved as a journal delta beside one saved as a
//! whole snapshot. Times are per call; compare sizes as ratios
//! within one run (docs/PERFORMANCE.md).

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use orchestrator_engine::{Engine, TargetReport};

mod common;
use common::engine;

const SIZES: [usize; 4] = [1_000, 10_000, 100_000, 1_000_000];

/// One step per iteration, `call` making it, at every size and phase.
fn steps(c: &mut Criterion, name: &str, call: fn(&mut Engine, &[TargetReport], i64)) {
    let mut group = c.benchmark_group(name);
    group.sample_size(10).measurement_time(Duration::from_secs(5)).warm_up_time(Duration::from_secs(1));
    for n in SIZES {
        group.throughput(Throughput::Elements(n as u64));
        for (phase, rolling) in [("steady", false), ("mid-rollout", true)] {
            let (mut engine, fleet, mut now) = engine(n, rolling).unwrap();
            group.bench_with_input(BenchmarkId::new(phase, n), &n, |b, _| {
                b.iter(|| {
                    now += 10_000;
                    call(&mut engine, black_box(&fleet), now);
                })
            });
        }
    }
    group.finish();
}

fn orchestrate(c: &mut Criterion) {
    steps(c, "orchestrate", |engine, fleet, now| {
        black_box(engine.orchestrate("prod", "app", fleet, now).unwrap());
    });
}

fn report(c: &mut Criterion) {
    steps(c, "report", |engine, fleet, now| {
        engine.report("prod", "app", fleet, now).unwrap();
    });
}

fn snapshot(c: &mut Criterion) {
    let mut group = c.benchmark_group("snapshot");
    group.sample_size(10).measurement_time(Duration::from_secs(5)).warm_up_time(Duration::from_secs(1));
    for n in SIZES {
        group.throughput(Throughput::Elements(n as u64));
        let (engine, _, _) = engine(n, true).unwrap();
        let bytes = engine.snapshot();
        println!("snapshot of {n} targets mid-rollout: {} bytes, {:.1} bytes per target", bytes.len(), bytes.len() as f64 / n as f64);
        group.bench_with_input(BenchmarkId::new("encode", n), &n, |b, _| b.iter(|| black_box(engine.snapshot())));
        group.bench_with_input(BenchmarkId::new("decode", n), &n, |b, _| {
            b.iter_batched(|| (), |()| black_box(Engine::restore(&bytes).unwrap()), BatchSize::SmallInput)
        });
    }
    group.finish();
}

/// What saving a step costs: the step and a delta of what it changed (the
/// journal), beside the step and a whole snapshot of the entity.
fn journal(c: &mut Criterion) {
    let mut group = c.benchmark_group("journal");
    group.sample_size(10).measurement_time(Duration::from_secs(5)).warm_up_time(Duration::from_secs(1));
    for n in [100_000, 1_000_000] {
        group.throughput(Throughput::Elements(n as u64));
        for (phase, rolling) in [("steady", false), ("mid-rollout", true)] {
            let (mut engine, fleet, mut now) = engine(n, rolling).unwrap();
            engine.checkpoint_entity("prod", "app").unwrap();
            group.bench_with_input(BenchmarkId::new(format!("report+delta/{phase}"), n), &n, |b, _| {
                b.iter(|| {
                    now += 10_000;
                    engine.report("prod", "app", black_box(&fleet), now).unwrap();
                    black_box(engine.entity_delta("prod", "app").unwrap())
                })
            });
            group.bench_with_input(BenchmarkId::new(format!("report+snapshot/{phase}"), n), &n, |b, _| {
                b.iter(|| {
                    now += 10_000;
                    engine.report("prod", "app", black_box(&fleet), now).unwrap();
                    black_box(engine.snapshot_entity("prod", "app").unwrap())
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, orchestrate, report, snapshot, journal);
criterion_main!(benches);
