#!/usr/bin/env bash
# Warren's demo, kept for old links: README's first command, `warren local up` (N members, default
# 3, running plans/hello with leader topology, shown live until Ctrl-C). Usage: bash scripts/demo.sh [N]
cd "$(dirname "$0")/.." && exec cargo run --release -q -p warren -- local up -n "${1:-3}"
