#!/usr/bin/env bash
# Installs what building and testing need, and only what is missing, so it
# is safe to run before every build (TOOLCHAIN.md):
#   - the wasm32 standard library and clippy (rustup),
#   - the wasm-bindgen CLI at exactly the version in Cargo.lock,
#   - the npm dev dependencies,
#   - with --browser: Debian's chromium for the browser tests,
#   - with --bench: the wasm32-wasip1 target, for `npm run bench`,
#   - with --fuzz: cargo-fuzz (libFuzzer, on the stable toolchain with
#     `-s none`), for the bounded fuzzing runs in `npm test`,
#   - with --servers: Debian's redis-server and postgresql, which the store
#     tests start on loopback and free ports (never as services), and
#     Debian's prometheus (with promtool), which the analysis tests start
#     on data written for them, python3-scipy, the reference the canary
#     judge's statistics are checked against, and tmux, the terminal that
#     `get --watch` is read back from.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "setup: $*"; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi
if ! cargo clippy --version >/dev/null 2>&1; then
  say "adding clippy"
  rustup component add clippy
fi

# The CLI must match the wasm-bindgen crate exactly, or bindgen fails with a
# "schema version" error. The crate is pinned with "=" in Cargo.toml.
[ -f Cargo.lock ] || cargo generate-lockfile
want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3; exit }' Cargo.lock)
have=$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }' || true)
if [ "$want" != "$have" ]; then
  say "installing wasm-bindgen-cli $want (have: ${have:-none}); takes a few minutes once"
  # No --locked: the CLI's own lockfile pins a crate the registry no longer serves.
  cargo install wasm-bindgen-cli --version "$want"
fi

if [ ! -d node_modules ] || [ package.json -nt node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm dev dependencies"
  if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
fi

if [ "${1:-}" = "--browser" ] && [ ! -x /usr/bin/chromium ]; then
  say "installing Debian's chromium for the browser tests"
  export DEBIAN_FRONTEND=noninteractive
  sudo_if_needed() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
  sudo_if_needed apt-get update -qq
  sudo_if_needed apt-get install -y -qq chromium >/dev/null
fi
if [ "${1:-}" = "--servers" ] && { ! command -v redis-server >/dev/null || ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || ! command -v promtool >/dev/null || ! /usr/bin/python3 -c "import scipy" 2>/dev/null || ! command -v tmux >/dev/null; }; then
  say "installing Debian's redis-server, postgresql, prometheus and tmux for the store, analysis and terminal tests"
  export DEBIAN_FRONTEND=noninteractive
  sudo_if_needed() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
  sudo_if_needed apt-get update -qq
  # No service is started: the tests start their own, on loopback.
  sudo_if_needed apt-get install -y -qq redis-server postgresql prometheus python3-scipy tmux >/dev/null
fi
if [ "${1:-}" = "--bench" ] && ! rustup target list --installed | grep -qx wasm32-wasip1; then
  say "adding the wasm32-wasip1 target (the wasm half of the wasm/native benchmark)"
  rustup target add wasm32-wasip1
fi
if [ "${1:-}" = "--fuzz" ] && [ "$(cargo fuzz --version 2>/dev/null | awk '{ print $2 }')" != "0.13.2" ]; then
  say "installing cargo-fuzz 0.13.2; takes a minute or two once"
  cargo install cargo-fuzz --version 0.13.2
fi
exit 0
