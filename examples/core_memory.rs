//! Where an entity's memory goes, counted by a global allocator: for each
//! size, the bytes held by the engine alone once its fleet is settled and
//! mid-rollout (live), and the most held at once during one step (peak,
//! with the report and the answer). Native only (64-bit pointers: wasm's
//! are half as wide; the wasm module has an allocator of its own, talc).
//! In wasm the peak is what the module keeps: its memory never shrinks.
//! Prints one JSON line per size.
//!
//! `cargo run --release --example core_memory -- 100000 1000000`
//!
//! Built for wasm32-wasip1 (with the module's own allocator, talc) it
//! prints the wasm memory instead, which is what an isolate pays:
//! `cargo build --profile wasm --example core_memory --target wasm32-wasip1`,
//! then `node bench/wasi-run.mjs target/wasm32-wasip1/wasm/examples/core_memory.wasm 1000000`
//! (one size per process: the memory never shrinks).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

#[path = "../benches/common/mod.rs"]
mod common;

#[cfg(not(target_arch = "wasm32"))]
/// The system allocator, counting the bytes it holds and the most it held.
struct Counting;

#[cfg(not(target_arch = "wasm32"))]
static LIVE: AtomicUsize = AtomicUsize::new(0);
#[cfg(not(target_arch = "wasm32"))]
static PEAK: AtomicUsize = AtomicUsize::new(0);

#[cfg(not(target_arch = "wasm32"))]
fn grew(bytes: usize) {
    let live = LIVE.fetch_add(bytes, Ordering::Relaxed) + bytes;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

#[cfg(not(target_arch = "wasm32"))]
// SAFETY: every call is passed to `System` unchanged; the counters only
// watch.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // The old block and the new one are both held while it is copied.
        grew(new_size);
        // SAFETY: the caller's contract, passed on.
        let moved = unsafe { System.realloc(ptr, layout, new_size) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        moved
    }
}

#[cfg(not(target_arch = "wasm32"))]
#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[cfg(not(target_arch = "wasm32"))]
fn main() -> Result<(), orchestrator_engine::Error> {
    let sizes: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    for n in sizes {
        let before = LIVE.load(Ordering::Relaxed);
        let (mut engine, fleet, now) = common::engine(n, true)?;
        let fleet_bytes: usize = fleet.iter().map(|r| std::mem::size_of_val(r) + r.name.len() + r.group.len() + r.version.len() + r.message.len()).sum();
        let settled = LIVE.load(Ordering::Relaxed) - before;
        PEAK.store(LIVE.load(Ordering::Relaxed), Ordering::Relaxed);
        let answer = engine.orchestrate("prod", "app", &fleet, now + 10_000)?;
        let peak = PEAK.load(Ordering::Relaxed) - before;
        drop(answer);
        drop(fleet);
        let engine_alone = LIVE.load(Ordering::Relaxed) - before;
        let per = |bytes: usize| bytes as f64 / n as f64;
        println!(
            "{{\"n\":{n},\"pointer_bytes\":{},\"engine_bytes_per_target\":{:.1},\"peak_in_a_step_per_target\":{:.1},\"report_bytes_per_target\":{:.1},\"settled_with_report_per_target\":{:.1}}}",
            std::mem::size_of::<usize>(),
            per(engine_alone),
            per(peak),
            per(fleet_bytes),
            per(settled)
        );
        drop(engine);
    }
    Ok(())
}

/// In wasm: the memory's size once settled and after one more step, per
/// target (the memory holds its peak for good).
#[cfg(target_arch = "wasm32")]
fn main() -> Result<(), orchestrator_engine::Error> {
    let memory = || core::arch::wasm32::memory_size(0) * 65536;
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let before = memory();
    let (mut engine, fleet, now) = common::engine(n, true)?;
    let fleet_bytes: usize = fleet.iter().map(|r| std::mem::size_of_val(r) + r.name.len() + r.group.len() + r.version.len() + r.message.len()).sum();
    let settled = memory() - before;
    engine.report("prod", "app", &fleet, now + 10_000)?;
    let stepped = memory() - before;
    let per = |bytes: usize| bytes as f64 / n as f64;
    println!(
        "{{\"n\":{n},\"wasm_settled_per_target\":{:.1},\"wasm_after_step_per_target\":{:.1},\"report_bytes_per_target\":{:.1}}}",
        per(settled),
        per(stepped),
        per(fleet_bytes)
    );
    Ok(())
}
