#!/usr/bin/env bash
# Every test, in three tiers (STYLE.md): native Rust (unit, scenario,
# property, snapshot robustness) with clippy's no-panic lints; the wasm
# boundary with wasm-bindgen-test in Node; the built package from JS.
# The last lines are node's test summary.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --browser

echo "== clippy (the crate root denies unwrap, expect, panic, indexing, overflow)"
cargo clippy --quiet --lib -- -D warnings
cargo clippy --quiet --lib --target wasm32-unknown-unknown -- -D warnings

echo "== tier 1: native Rust tests"
cargo test --quiet --tests
cargo test --quiet --doc

echo "== tier 2: wasm-bindgen tests (conversions at the JS boundary)"
cargo test --target wasm32-unknown-unknown --test wasm

echo "== tier 3: the built package from JS"
bash scripts/build.sh
node --test tests/js/
