#!/usr/bin/env bash
# Warren's whole test suite, as CI runs it: formatting, lints, every crate's tests (including the
# libzmq interop tests) and the simulator's acceptance checks.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy -D warnings"
cargo clippy --workspace --all-targets -- -D warnings
echo "== cargo test"
# The multi-process tests (tests/) run this binary; fault injection is compiled in for them.
cargo build --release -p warren --features fault-injection
WARREN_INTEROP=1 cargo test --workspace --release
echo "== simulator acceptance"
bash scripts/sim-acceptance.sh
