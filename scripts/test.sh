#!/usr/bin/env bash
# Every test, in three tiers (STYLE.md): native Rust (unit, scenario,
# property, snapshot robustness, a release soak, a bounded fuzzing run of
# each cargo fuzz target) with clippy's no-panic lints; the wasm boundary
# with wasm-bindgen-test in Node; the built package from JS (incl. headless
# Chromium and a 1,000,000-target load test). The last lines are node's
# test summary.
set -euo pipefail
cd "$(dirname "$0")/.."

# Nothing in the environment may make the suite pass without testing: a
# REGENERATE_* variable rewrites a golden file or the README's example
# instead of comparing with it (run that one test alone to regenerate), and
# PROPTEST_CASES, LOAD_TARGETS and FUZZ_SECONDS may only raise their counts
# (each test takes the larger of its own and the variable's).
regenerate=$(env | grep -o '^REGENERATE[A-Z0-9_]*' || true)
if [ -n "$regenerate" ]; then
  echo "npm test: $regenerate is set, which rewrites what the tests compare with; unset it (regenerate with the one test alone)" >&2
  exit 2
fi
bash scripts/setup.sh --browser
bash scripts/setup.sh --fuzz
bash scripts/setup.sh --servers

echo "== clippy (the crate root denies unwrap, expect, panic, indexing, overflow)"
cargo clippy --quiet --lib -- -D warnings
cargo clippy --quiet --lib --target wasm32-unknown-unknown -- -D warnings
cargo clippy --quiet --tests -- -D warnings

echo "== tier 1: native Rust tests"
cargo test --quiet --tests
cargo test --quiet --doc
echo "== soak: 10,000 steps over 100 entities, snapshot and restore every step (release, overflow-checked)"
CARGO_PROFILE_RELEASE_OVERFLOW_CHECKS=true cargo test --quiet --release --test soak

echo "== fuzzing: a bounded run of each target (docs/PERFORMANCE.md has the long ones)"
# Stable Rust: no sanitizer (-s none); libFuzzer's coverage guidance and
# the targets' own assertions. A crash fails the run and leaves its input
# in fuzz/artifacts/, to be turned into a regression test in tests/.
cargo fuzz build -s none -O
for target in restore orchestrate; do
  # New inputs go to the first directory (fuzz/corpus/, not committed);
  # the committed seeds are only read.
  mkdir -p "fuzz/corpus/$target"
  seeds=(); [ -d "fuzz/seeds/$target" ] && seeds=("fuzz/seeds/$target")
  cargo fuzz run -s none -O "$target" "fuzz/corpus/$target" "${seeds[@]}" -- \
    -max_total_time="$(( ${FUZZ_SECONDS:-60} > 60 ? ${FUZZ_SECONDS:-60} : 60 ))" -max_len=4096 -print_final_stats=1 2>&1 \
    | grep -E '^(stat::number_of_executed_units|stat::average_exec_per_sec|==|thread)|panicked|artifact|Done'
done

echo "== tier 2: wasm-bindgen tests (conversions at the JS boundary)"
cargo test --target wasm32-unknown-unknown --test wasm

echo "== tier 3: the built package from JS"
bash scripts/build.sh
# Every test has a deadline (a few set longer ones of their own): a wait
# that never ends fails instead of hanging CI.
node --test --test-timeout=600000 tests/js/
