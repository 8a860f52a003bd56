#!/usr/bin/env bash
# Warren's demo: a local ring of N `warren run` supervisors on loopback (default 3), each with its
# own ports and state directory, formed from one seed, all loading the demo plan `plans/hello` with
# leader topology (the service runtime is not there yet: the plan's service is announced and its
# group elects a leader, nothing is run). Prints the ring and the group's leader as every member
# sees them, every 2 s, until Ctrl-C; then stops them all (they leave the ring gracefully: the
# leader's departure hands the group to a new leader at once).
# Usage: bash scripts/demo.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-3}
if ! command -v curl >/dev/null; then
  apt-get update -qq && apt-get install -y -qq curl >/dev/null
fi
cargo build --release -q -p warren
bin=target/release/warren
dir=$(mktemp -d /tmp/warren-demo.XXXXXX)
pids=()
stop() {
  echo; echo "stopping the ring (graceful leave)"
  kill -TERM "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
  echo "logs and state: $dir"
}
trap stop EXIT
for i in $(seq 1 "$n"); do
  mkdir -p "$dir/$i"
  "$bin" run plans/hello --topology leader --listen-gossip "127.0.0.1:$((19637 + i))" --listen-http "127.0.0.1:$((19730 + i))" \
    --fs-root "$dir/$i" --sys-ip-address 127.0.0.1 --peer 127.0.0.1:19638 --no-color \
    2> "$dir/$i/warren.log" &
  pids+=($!)
done
echo "started $n supervisors; gossip on 127.0.0.1:19638.., HTTP on 127.0.0.1:19731.. (Ctrl-C to stop)"
while true; do
  sleep 2
  echo "--- $(date +%T)"
  for i in $(seq 1 "$n"); do
    http="127.0.0.1:$((19730 + i))"
    { curl -s "$http/butterfly"; echo; curl -s "$http/census"; } | python3 -c '
import json, sys
lines = sys.stdin.read().split("\n", 1)
try:
    d = json.loads(lines[0]); c = json.loads(lines[1])
except Exception:
    print("  (not answering)"); sys.exit(0)
m = d.get("membership", {})
g = c.get("census_groups", {}).get("hello.default", {})
leader = (g.get("leader_id") or "-")[:8]
print("  member %s sees: %s | hello.default: %s, leader %s" % (sys.argv[1],
    " ".join("%s=%s" % (k[:8], v["health"]) for k, v in sorted(m.items())),
    g.get("election_status", "None"), leader))
' "$i"
  done
done
