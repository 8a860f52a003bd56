//! Leader election between real `warren run` processes on loopback: a leader-topology group of
//! three (a minimal plan whose run hook sleeps) elects one leader, elects another when the
//! leader is killed, and takes the old leader back as a follower.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use warren_e2e::{Sup, state_dir, wait_until};

const GROUP: &str = "standin.default";

fn plan(test: &str) -> PathBuf {
    let dir = state_dir(test, 99).join("plan");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        dir.join("plan.sh"),
        "pkg_origin=warren\npkg_name=standin\npkg_version=1.0.0\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    std::fs::create_dir_all(dir.join("hooks")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.join("hooks/run"), "#!/bin/sh\nexec sleep 1000\n")
        .unwrap_or_else(|e| panic!("{e}"));
    dir
}

fn start_group(test: &str, plan: &Path, n: usize) -> Vec<Sup> {
    let plan = plan.to_string_lossy().into_owned();
    let args = [plan.as_str(), "--topology", "leader"];
    let mut sups: Vec<Sup> = Vec::new();
    for i in 0..n {
        let peers: Vec<_> = sups.iter().map(|s| s.gossip).collect();
        sups.push(Sup::start(&state_dir(test, i), &peers, &args));
    }
    sups
}

/// The leader every running supervisor in `sups` agrees on.
fn agreed(sups: &[&Sup]) -> Option<String> {
    let first = sups.first()?.leader_of(GROUP)?;
    sups.iter()
        .all(|s| s.leader_of(GROUP).as_deref() == Some(first.as_str()))
        .then_some(first)
}

#[test]
fn three_members_elect_fail_over_and_take_the_old_leader_back_as_follower() {
    let test = "election3";
    let plan = plan(test);
    let mut sups = start_group(test, &plan, 3);
    let all: Vec<&Sup> = sups.iter().collect();
    let mut leader = None;
    let ok = wait_until(Duration::from_secs(30), || {
        leader = agreed(&all);
        leader.is_some()
    });
    assert!(ok, "{test}: no agreed leader among three");
    let leader = leader.unwrap_or_default();
    let l = sups
        .iter()
        .position(|s| s.id() == leader)
        .unwrap_or_else(|| panic!("{test}: leader {leader} is none of ours"));
    let census = sups[l].census().unwrap_or_default();
    let me = &census["census_groups"][GROUP]["population"][leader.as_str()];
    assert_eq!(me["leader"], true, "{test}: {me}");
    assert_eq!(me["pkg"]["name"], "standin", "{test}: {me}");

    sups[l].signal("KILL");
    let t0 = Instant::now();
    let rest: Vec<&Sup> = sups
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != l)
        .map(|(_, s)| s)
        .collect();
    let mut next = None;
    let ok = wait_until(Duration::from_secs(20), || {
        next = agreed(&rest).filter(|n| *n != leader);
        next.is_some()
    });
    assert!(ok, "{test}: the two survivors elected no new leader");
    let next = next.unwrap_or_default();
    eprintln!(
        "{test}: failover after SIGKILL took {:.1} s",
        t0.elapsed().as_secs_f64()
    );

    sups[l].restart();
    let all: Vec<&Sup> = sups.iter().collect();
    let ok = wait_until(Duration::from_secs(30), || {
        agreed(&all).as_deref() == Some(next.as_str())
    });
    if !ok {
        let views: Vec<String> = sups
            .iter()
            .map(|s| {
                let c = s.census().unwrap_or_default();
                let g = &c["census_groups"][GROUP];
                format!(
                    "{}: status {} leader {}",
                    s.id(),
                    g["election_status"],
                    g["leader_id"]
                )
            })
            .collect();
        panic!(
            "{test}: the restarted member did not follow {next}; views: {views:#?}; restarted member's log:\n{}",
            warren_e2e::log_tail(&sups[l].root, 40)
        );
    }
    let census = sups[l].census().unwrap_or_default();
    let me = &census["census_groups"][GROUP]["population"][leader.as_str()];
    assert_eq!(me["follower"], true, "{test}: {me}");
    assert_eq!(me["alive"], true, "{test}: {me}");
}
