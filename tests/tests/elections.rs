//! Leader election between real `warren run` processes on loopback: a leader-topology group of
//! three (a minimal plan whose run hook sleeps) elects one leader, elects another when the
//! leader is killed, and takes the old leader back as a follower; a member told to join through a
//! peer that never answers never leads alone, and leads with it once it answers; a leader cut off
//! from the other two (fault injection, so the binary needs `--features fault-injection`) stops
//! acting as leader before they elect another, and there are never two.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use warren_e2e::{Sup, held_port, log_tail, state_dir, wait_until};

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

/// The leader `s`'s census names for the group, whatever the election's status (`None` when the
/// census is unreadable or names none).
fn named_leader(s: &Sup) -> Option<String> {
    let c = s.census()?;
    c["census_groups"][GROUP]["leader_id"]
        .as_str()
        .map(str::to_owned)
}

/// Whether `s`'s census names `s` itself leader of the group.
fn names_itself(s: &Sup, id: &str) -> bool {
    named_leader(s).as_deref() == Some(id)
}

/// Each member's view of the group (status, leader, who its population marks leader), for
/// failure messages.
fn views(sups: &[&Sup]) -> String {
    sups.iter()
        .map(|s| {
            let Some(c) = s.census() else {
                return format!("{} ({}): no census", s.id(), s.gossip);
            };
            let g = &c["census_groups"][GROUP];
            let marked: Vec<String> = g["population"]
                .as_object()
                .map(|p| {
                    p.iter()
                        .map(|(id, m)| {
                            let role = if m["leader"] == true {
                                "leader"
                            } else if m["follower"] == true {
                                "follower"
                            } else {
                                "-"
                            };
                            format!("{id}:{role}:alive={}", m["alive"])
                        })
                        .collect()
                })
                .unwrap_or_default();
            format!(
                "{} ({}): status {} leader {} population {marked:?}",
                s.id(),
                s.gossip,
                g["election_status"],
                g["leader_id"],
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// [`views`] and the last log lines of each member.
fn diagnostics(sups: &[&Sup]) -> String {
    let logs: Vec<String> = sups
        .iter()
        .map(|s| format!("--- log of {} ---\n{}", s.id(), log_tail(&s.root, 30)))
        .collect();
    format!("views:\n{}\n{}", views(sups), logs.join("\n"))
}

/// The ids of the members in `sups` whose census names themselves leader, with those ids.
fn self_leaders(sups: &[&Sup], ids: &[String]) -> Vec<String> {
    sups.iter()
        .zip(ids)
        .filter(|(s, id)| names_itself(s, id))
        .map(|(_, id)| id.clone())
        .collect()
}

#[test]
fn a_member_whose_peer_never_answers_never_leads() {
    let test = "lonely";
    let plan = plan(test);
    let plan = plan.to_string_lossy().into_owned();
    let args = [plan.as_str(), "--topology", "leader"];
    // Nothing answers there (yet): a UDP socket nobody reads holds the port (so `free_port` in
    // a test running alongside cannot hand it out) until the second member takes it over.
    let (hold, absent) = held_port();
    let first = Sup::start(&state_dir(test, 0), &[absent], &args);
    let id = first.id();
    let start = Instant::now();
    let end = start + Duration::from_secs(30);
    let mut seen_group = false;
    while Instant::now() < end {
        if let Some(c) = first.census() {
            let g = &c["census_groups"][GROUP];
            seen_group |= g.is_object();
            assert!(
                g["leader_id"].is_null(),
                "{test}: a member whose only peer ({absent}) never answered names a leader \
                 after {:.1} s\n{}",
                start.elapsed().as_secs_f64(),
                diagnostics(&[&first])
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(
        seen_group,
        "{test}: the census never showed {GROUP}\n{}",
        diagnostics(&[&first])
    );

    // Now the peer answers: a member listening on exactly that address, joining through the first.
    drop(hold);
    let t0 = Instant::now();
    let second = Sup::start_on(&state_dir(test, 1), absent, &[first.gossip], &args, &[]);
    let both = [&first, &second];
    let mut leader = None;
    let ok = wait_until(Duration::from_secs(60), || {
        leader = agreed(&both);
        leader.is_some()
    });
    assert!(
        ok,
        "{test}: the two members agreed on no leader within 60 s\n{}",
        diagnostics(&both)
    );
    let leader = leader.unwrap_or_default();
    assert!(
        leader == id || leader == second.id(),
        "{test}: leader {leader} is none of ours\n{}",
        diagnostics(&both)
    );
    eprintln!(
        "{test}: no leader alone for 30 s; with the peer answering, {leader} agreed after {:.1} s",
        t0.elapsed().as_secs_f64()
    );
}

#[test]
fn a_cut_off_leader_steps_down_before_the_majority_elects() {
    let test = "cutleader";
    let plan = plan(test);
    let plan = plan.to_string_lossy().into_owned();
    let args = [plan.as_str(), "--topology", "leader"];
    let fault_file = |dir: &Path| dir.join("faults").to_string_lossy().into_owned();
    let mut sups: Vec<Sup> = Vec::new();
    for i in 0..3 {
        let dir = state_dir(test, i);
        let faults = fault_file(&dir);
        let peers: Vec<_> = sups.iter().map(|s| s.gossip).collect();
        sups.push(Sup::start_env(
            &dir,
            &peers,
            &args,
            &[("WARREN_FAULT_FILE", faults.as_str())],
        ));
    }
    let all: Vec<&Sup> = sups.iter().collect();
    let ids: Vec<String> = sups.iter().map(Sup::id).collect();
    let log = std::fs::read_to_string(sups[0].root.join("warren.log")).unwrap_or_default();
    assert!(
        log.contains("fault injection is on"),
        "{test}: binary built without fault-injection?"
    );
    let mut leader = None;
    let ok = wait_until(Duration::from_secs(30), || {
        leader = agreed(&all);
        leader.is_some()
    });
    assert!(
        ok,
        "{test}: no agreed leader among three\n{}",
        diagnostics(&all)
    );
    let leader = leader.unwrap_or_default();
    let l = ids
        .iter()
        .position(|id| *id == leader)
        .unwrap_or_else(|| panic!("{test}: leader {leader} is none of ours"));
    let rest: Vec<&Sup> = (0..3).filter(|i| *i != l).map(|i| &sups[i]).collect();

    // Cut the leader off from the other two, both ways (each side blocks the other).
    for (i, s) in sups.iter().enumerate() {
        let blocked: Vec<usize> = if i == l {
            (0..3).filter(|j| *j != l).collect()
        } else {
            vec![l]
        };
        let text: String = blocked
            .iter()
            .map(|&j| format!("block={}\n", sups[j].gossip))
            .collect();
        std::fs::write(fault_file(&s.root), text).unwrap_or_else(|e| panic!("{e}"));
    }
    let t0 = Instant::now();
    let mut stepped_down: Option<Duration> = None;
    let mut new_leader: Option<(Duration, String)> = None;
    let mut settled: Option<Instant> = None;
    let end = t0 + Duration::from_secs(60);
    loop {
        let now = t0.elapsed();
        let selfs = self_leaders(&all, &ids);
        assert!(
            selfs.len() <= 1,
            "{test}: at {:.1} s after the cut, {selfs:?} each name themselves leader\n{}",
            now.as_secs_f64(),
            diagnostics(&all)
        );
        if stepped_down.is_none() && !names_itself(&sups[l], &leader) {
            stepped_down = Some(now);
        }
        if new_leader.is_none()
            && let Some(n) = agreed(&rest).filter(|n| *n != leader)
        {
            new_leader = Some((now, n));
        }
        // Once both happened, watch the split for a few more seconds.
        if stepped_down.is_some() && new_leader.is_some() {
            let s = *settled.get_or_insert_with(Instant::now);
            if s.elapsed() >= Duration::from_secs(3) {
                break;
            }
        }
        assert!(
            Instant::now() < end,
            "{test}: 60 s after cutting off {leader}: stepped down {stepped_down:?}, new \
             leader {new_leader:?}\n{}",
            diagnostics(&all)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let (Some(down), Some((up, next))) = (stepped_down, new_leader) else {
        unreachable!("the loop ends only once both happened");
    };
    eprintln!(
        "{test}: cut-off leader {leader} stopped naming itself after {:.1} s; the other two \
         agreed on {next} after {:.1} s",
        down.as_secs_f64(),
        up.as_secs_f64()
    );
    assert!(
        down < up,
        "{test}: the cut-off leader stopped naming itself ({:.1} s) no earlier than the \
         majority agreed on {next} ({:.1} s)\n{}",
        down.as_secs_f64(),
        up.as_secs_f64(),
        diagnostics(&all)
    );

    // Heal: all three agree on one leader again, never two naming themselves meanwhile.
    for s in &sups {
        std::fs::write(fault_file(&s.root), "# healed\n").unwrap_or_else(|e| panic!("{e}"));
    }
    let t1 = Instant::now();
    let mut healed = None;
    let ok = wait_until(Duration::from_secs(60), || {
        let selfs = self_leaders(&all, &ids);
        assert!(
            selfs.len() <= 1,
            "{test}: {:.1} s after healing, {selfs:?} each name themselves leader\n{}",
            t1.elapsed().as_secs_f64(),
            diagnostics(&all)
        );
        healed = agreed(&all);
        healed.is_some()
    });
    assert!(
        ok,
        "{test}: the three agreed on no leader within 60 s of healing\n{}",
        diagnostics(&all)
    );
    eprintln!(
        "{test}: after healing all three agreed on {} after {:.1} s",
        healed.unwrap_or_default(),
        t1.elapsed().as_secs_f64()
    );
}

/// The ring's first member (started without `--peer`) is killed with the rest of its group and
/// restarted alone: its saved state names the others, so it waits for them instead of electing
/// itself (it used to lead alone within seconds, a second leader once the others came back with
/// their own result). Once they are back, the group agrees on one leader.
#[test]
fn a_rings_first_member_restarted_alone_waits_for_its_peers() {
    let test = "election-first";
    let plan = plan(test);
    let mut sups = start_group(test, &plan, 3);
    let all: Vec<&Sup> = sups.iter().collect();
    let ok = wait_until(Duration::from_secs(30), || agreed(&all).is_some());
    assert!(ok, "{test}: no agreed leader among three");
    // The state files are written within a second of an election change.
    std::thread::sleep(Duration::from_secs(3));
    for s in &sups {
        s.signal("KILL");
    }
    sups[0].restart();
    let first = sups[0].id();
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(15) {
        let c = sups[0].census().unwrap_or_default();
        let g = &c["census_groups"][GROUP];
        assert!(
            !(g["election_status"] == "ElectionFinished" && g["leader_id"] == first.as_str()),
            "{test}: the first member restarted alone leads after {:.1} s: {g}",
            t0.elapsed().as_secs_f64()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    sups[1].restart();
    sups[2].restart();
    let all: Vec<&Sup> = sups.iter().collect();
    let ok = wait_until(Duration::from_secs(40), || agreed(&all).is_some());
    assert!(
        ok,
        "{test}: no agreed leader after the others came back; first member's log:\n{}",
        log_tail(&sups[0].root, 40)
    );
}

/// Two of a group of three are killed at once: the survivor never names a leader while they are
/// gone, and its census says which members it waits for; `warren sup depart` of both gives one
/// leader (the survivor) within 5 s.
#[test]
fn losing_a_majority_waits_until_the_dead_are_departed() {
    let test = "election-majority";
    let plan = plan(test);
    let sups = start_group(test, &plan, 3);
    let all: Vec<&Sup> = sups.iter().collect();
    let ok = wait_until(Duration::from_secs(30), || agreed(&all).is_some());
    assert!(ok, "{test}: no agreed leader among three");
    let survivor = &sups[2];
    let dead: Vec<String> = sups[..2].iter().map(Sup::id).collect();
    sups[0].signal("KILL");
    sups[1].signal("KILL");
    let t0 = Instant::now();
    let mut census = serde_json::Value::Null;
    let me = survivor.id();
    while t0.elapsed() < Duration::from_secs(20) {
        census = survivor.census().unwrap_or_default();
        let g = &census["census_groups"][GROUP];
        // A leading survivor acts until its lease runs out (2.1 s), not after; a following one
        // names the dead leader until it is found dead (suspicion), and nobody after that.
        if t0.elapsed() > Duration::from_secs(3) {
            assert_ne!(
                g["leader_id"].as_str(),
                Some(me.as_str()),
                "{test}: the survivor leads with two of three dead: {g}"
            );
        }
        if t0.elapsed() > Duration::from_secs(12) {
            assert_ne!(
                g["election_status"], "ElectionFinished",
                "{test}: a leader with two of three dead: {g}"
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let q = &census["census_groups"][GROUP]["election_quorum"];
    let mut missing: Vec<String> = q["missing"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|m| m["member_id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    missing.sort();
    let mut want = dead.clone();
    want.sort();
    assert_eq!(missing, want, "{test}: census election_quorum {q}");
    assert!(
        q["reason"]
            .as_str()
            .is_some_and(|r| r.contains("sup depart")),
        "{test}: {q}"
    );
    for id in &dead {
        let (ok, _, err) = survivor.ctl(&["sup", "depart", id]);
        assert!(ok, "{test}: sup depart {id}: {err}");
    }
    let t1 = Instant::now();
    let ok = wait_until(Duration::from_secs(5), || {
        survivor.leader_of(GROUP).as_deref() == Some(me.as_str())
    });
    assert!(
        ok,
        "{test}: no leader {:.1} s after departing the dead; log:\n{}",
        t1.elapsed().as_secs_f64(),
        log_tail(&survivor.root, 30)
    );
    eprintln!(
        "{test}: leader {:.1} s after the departures",
        t1.elapsed().as_secs_f64()
    );
}
