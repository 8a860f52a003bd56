#!/usr/bin/env bash
# Warren's demo, until the networked supervisor lands: a 50-member ring in the deterministic
# simulator, formed from one seed; one member is killed, a rumor is published, and the numbers
# are printed next to Habitat's timing profile.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p warren-sim
sim=target/release/warren-sim
for args in "converge" "crash" "crash --profile habitat" "rumor" "loss --loss 0.1 --seconds 600"; do
  echo "== warren-sim $args --nodes 50"
  $sim $args --nodes 50
  echo
done
