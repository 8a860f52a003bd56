#!/usr/bin/env bash
# Installs what Warren's tests need beyond the Rust toolchain: pyzmq (it bundles libzmq 4.x) for
# the ZMTP interop tests. Safe to run repeatedly.
set -euo pipefail
if ! python3 -c 'import zmq' 2>/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check pyzmq==27.3.0
fi
for c in rustfmt clippy; do
  if ! cargo "${c/rustfmt/fmt}" --version >/dev/null 2>&1; then
    rustup component add "$c"
  fi
done
