#!/usr/bin/env bash
# Runs the simulator's report command for each acceptance target of the ring core and checks the
# numbers. Prints every report; exits non-zero on the first target missed.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p warren-sim
sim=target/release/warren-sim

check() { # check 'python expression over d' scenario args...
  local expr=$1; shift
  local out
  out=$("$sim" "$@" --json)
  echo "warren-sim $* -> $out"
  python3 -c "import json,sys; d=json.loads(sys.argv[1]); sys.exit(0 if ($expr) else 1)" "$out" \
    || { echo "FAILED: $expr"; exit 1; }
}

check 'd["completeness"] == 1 and d["detect_p99_s"] <= 8' crash --nodes 50
check 'd["completeness"] == 1' crash --nodes 50 --profile habitat
check 'd["false_deaths"] == 0' loss --nodes 50 --loss 0.1 --seconds 600
check 'd["false_deaths_caused_by_slow_member"] == 0' slow --nodes 50
check 'd["coverage"] == 1 and d["coverage_p99_s"] <= 1.5' rumor --nodes 50
small=$("$sim" join --nodes 50 --json); large=$("$sim" join --nodes 200 --json)
echo "join 50 -> $small"; echo "join 200 -> $large"
python3 -c "import json,sys; a=json.loads(sys.argv[1]); b=json.loads(sys.argv[2]); r=b['total_bytes']/a['total_bytes']; print('join bytes ratio N=200/N=50:', round(r,2)); sys.exit(0 if a['complete'] and b['complete'] and r <= 5 else 1)" "$small" "$large" \
  || { echo "FAILED: join cost ratio"; exit 1; }
# Protocol assertions only: wall-clock speed depends on the machine and its load (the wall_s each
# report prints is for BENCHMARKS.md, not a pass/fail bound).
check 'd["completeness"] == 1' crash --nodes 1000 --seconds 60
# Anti-entropy grows as log N (issue 14 item 6): an idle ring of 1000 sends at most 1.5 KB/s per member.
check 'd["converged_at_end"] and d["bytes_per_member_per_s"] <= 1500' steady --nodes 1000
check 'd["rumor_store_entries_after"] <= 1.05 * d["rumor_store_entries_before"]' churn --nodes 50
# Elections (issue 4): failover after SIGKILL of the leader, graceful hand-over, randomized faults.
check 'd["stuck"] == 0 and d["dual_leaders_with_quorum"] == 0 and d["failover_p99_s"] <= 8' election --nodes 50 --group-size 5
check 'd["stuck"] == 0 and d["failover_max_s"] <= 1' graceful
# Randomized fault schedules (restarts from state files up to 30 s old among them): no hung
# election, never two leaders with quorum in one term, never two members acting as leader at one
# sampled instant, and a leader cut off on the small side of a split stops acting within the
# suspicion timeout + 1 s (its lease is 2.1 s). With --churn also unloads/reloads, dead members
# replaced by new ones, resolver and pusher-reconnect delays; seeds 50001-60000 and
# --partition-storm as the issue asks.
fuzz='d["stuck"] == 0 and d["dual_leaders_with_quorum"] == 0 and d["runs_with_overlap"] == 0 and d["max_minority_acting_s"] <= 5.5'
check "$fuzz" election-fuzz --runs 10000
check "$fuzz" election-fuzz --runs 10000 --churn
check "$fuzz" election-fuzz --runs 10000 --seed 50001
# Splits without re-agreement between them (seed 892 found two leaders until members learnt the
# newest committed electorate from every election rumor).
# --partition-storm splits the ring again before the group agreed after the last heal: a fault
# model outside the election's safety promise (ARCHITECTURE.md, elections). No run may hang or let
# a minority act past 5.5 s; two acting leaders must stay as rare as measured (BENCHMARKS.md,
# 2026-12-07: 3 runs of 50 000, and 1 on the build before; a change of timing moves which seeds
# they are, not how many), so more than 3 in these 10 000 is a regression.
storm='d["stuck"] == 0 and d["runs_with_overlap"] <= 3 and d["max_minority_acting_s"] <= 5.5'
check "$storm" election-fuzz --runs 10000 --partition-storm
# Rolling replacement (issue "Elections through membership change"): graceful/SIGKILL x
# fresh/kept identity, 3 rounds each back to back, groups of 3 and 5, 15 s and 5 s apart, with
# loss: never stranded, never two acting leaders, at most 10 s without an acting leader.
replace='d["stuck"] == 0 and d["instants_with_two_acting_leaders"] == 0 and d["max_leaderless_s"] <= 10'
check "$replace" replace --nodes 8 --group-size 3
check "$replace" replace --nodes 10 --group-size 5 --seconds 5 --loss 0.05
# The leader killed, back on its state before it was confirmed dead, then cut off (found on a
# local ring): the rest of the group always elects another leader, never two at once.
check 'd["stuck"] == 0 and d["dual_leaders_with_quorum"] == 0' restart-cut --nodes 3 --runs 2000
check 'd["stuck"] == 0 and d["dual_leaders_with_quorum"] == 0' restart-cut --nodes 5 --runs 1000 --seed 2
# Reported, not checked (wall-clock cost depends on the machine): the core's cost per event and
# per message from 125 to 1000 members, in one run (issue 14 item 5; BENCHMARKS.md).
echo "warren-sim scale --nodes 1000 -> $("$sim" scale --nodes 1000 --json)"
# Reported for comparison, not checked: Habitat's rules in the same scenario.
echo "warren-sim election --nodes 50 --group-size 5 --profile habitat -> $("$sim" election --nodes 50 --group-size 5 --profile habitat --json)"
echo "simulator acceptance: all targets met"
