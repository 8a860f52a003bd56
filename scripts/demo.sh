#!/usr/bin/env bash
# Warren's demo: a local ring of N `warren run` supervisors on loopback (default 3), each with its
# own ports and state directory, formed from one seed, all running the demo plan `plans/hello` with
# leader topology: the group elects a leader, then every member renders its config and starts the
# plan's run hook, which prints its role. Prints the ring, the group's leader and what each
# member's service last said, every 2 s, until Ctrl-C; then stops them all (services first, then
# a graceful leave: the leader's departure hands the group to a new leader at once).
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
    --listen-ctl "127.0.0.1:$((19830 + i))" \
    --fs-root "$dir/$i" --sys-ip-address 127.0.0.1 --peer 127.0.0.1:19638 --no-color \
    > "$dir/$i/service.log" 2> "$dir/$i/warren.log" &
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
said = "-"
try:
    with open(sys.argv[2], errors="replace") as f:
        said = [l for l in f if " is " in l][-1].split(": ", 1)[-1].strip()
except Exception:
    pass
print("  member %s sees: %s | hello.default: %s, leader %s\n      service: %s" % (sys.argv[1],
    " ".join("%s=%s" % (k[:8], v["health"]) for k, v in sorted(m.items())),
    g.get("election_status", "None"), leader, said))
' "$i" "$dir/$i/service.log"
  done
done
