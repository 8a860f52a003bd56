//! Scenario tests of the ring core, driven by the simulator. Deterministic: each test names its
//! seed, and every assertion message repeats it so a failure can be replayed with
//! `cargo run --release -p warren-sim -- SCENARIO --seed S`.

use std::time::Duration;

use warren_ring::{Config, Health, Profile, Time};
use warren_sim::scenario::{
    self, Params, fast_converged, form_ring, form_ring_within, partition_heal, settle,
};
use warren_sim::{Sim, Slowness};

fn params(nodes: usize, seed: u64) -> Params {
    Params {
        nodes,
        seed,
        ..Params::default()
    }
}

fn num(v: &serde_json::Value, key: &str) -> f64 {
    v.get(key)
        .and_then(serde_json::Value::as_f64)
        .unwrap_or(f64::NAN)
}

#[test]
fn fifty_members_converge_from_a_single_seed() {
    let seed = 11;
    let (sim, formed) = form_ring(&params(50, seed), Config::default())
        .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    assert!(sim.converged(), "seed {seed}: not converged");
    // Every joiner only knew member 0; all 50 know all 49 others within a few seconds.
    assert!(formed < 5.0, "seed {seed}: took {formed} s to converge");
    // The join storm is when piggybacking is fullest: no datagram may pass Habitat's buffer.
    assert!(
        sim.largest_datagram <= 1024,
        "seed {seed}: {} byte datagram",
        sim.largest_datagram
    );
    assert!(
        sim.largest_datagram > 600,
        "seed {seed}: piggybacking never filled a datagram"
    );
}

#[test]
fn a_crash_is_detected_by_every_survivor() {
    let seed = 12;
    let r =
        scenario::run("crash", &params(50, seed)).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    assert_eq!(num(&r, "completeness"), 1.0, "seed {seed}: {r}");
    assert!(num(&r, "detect_p99_s") <= 8.0, "seed {seed}: {r}");
    assert_eq!(num(&r, "false_deaths"), 0.0, "seed {seed}: {r}");
}

#[test]
fn habitat_profile_detects_too_but_slower() {
    let seed = 13;
    let p = Params {
        profile: Profile::Habitat,
        ..params(20, seed)
    };
    let habitat = scenario::run("crash", &p).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    let warren = scenario::run("crash", &params(20, seed)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(num(&habitat, "completeness"), 1.0, "seed {seed}: {habitat}");
    assert!(
        num(&habitat, "detect_p50_s") > num(&warren, "detect_p50_s"),
        "seed {seed}: habitat {habitat} warren {warren}"
    );
}

#[test]
fn no_false_deaths_at_ten_percent_loss_for_ten_minutes() {
    for seed in [21, 22] {
        let p = Params {
            loss: 0.1,
            seconds: Some(600.0),
            ..params(50, seed)
        };
        let r = scenario::run("loss", &p).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        assert_eq!(num(&r, "false_deaths"), 0.0, "seed {seed}: {r}");
        // The loss is real: members were suspected and refuted.
        assert!(num(&r, "refuted") > 0.0, "seed {seed}: {r}");
    }
}

#[test]
fn a_slow_member_kills_nobody() {
    let seed = 31;
    let p = Params {
        seconds: Some(120.0),
        ..params(50, seed)
    };
    let r = scenario::run("slow", &p).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    assert_eq!(
        num(&r, "false_deaths_caused_by_slow_member"),
        0.0,
        "seed {seed}: {r}"
    );
    assert_eq!(
        num(&r, "false_deaths_of_slow_member"),
        0.0,
        "seed {seed}: {r}"
    );
}

#[test]
fn slowness_is_real_a_long_pause_is_suspected_and_refuted() {
    // Guards the fault injection itself: a member paused 2.5 s of every 3 s must be noticed.
    let seed = 32;
    let (mut sim, _) =
        form_ring(&params(10, seed), Config::default()).unwrap_or_else(|e| panic!("{e}"));
    settle(&mut sim, Duration::from_secs(10));
    sim.obs = Default::default();
    sim.set_slow(
        3,
        Some(Slowness {
            period: Duration::from_secs(3),
            pause: Duration::from_millis(2500),
            offset: sim.now.as_duration(),
        }),
    );
    sim.run_for(Duration::from_secs(60));
    assert!(
        sim.obs.false_suspicions > 0,
        "seed {seed}: the paused member was never suspected"
    );
    sim.set_slow(3, None);
    let back = sim.run_until_cond(Duration::from_millis(100), Duration::from_secs(30), |s| {
        s.converged()
    });
    assert!(
        back,
        "seed {seed}: ring did not settle after the pauses stopped"
    );
}

#[test]
fn partition_then_heal_reconverges() {
    let seed = 41;
    let (mut sim, _) =
        form_ring(&params(30, seed), Config::default()).unwrap_or_else(|e| panic!("{e}"));
    settle(&mut sim, Duration::from_secs(10));
    // Long enough that each side holds the other Confirmed.
    let healed = partition_heal(&mut sim, Duration::from_secs(30), Duration::from_secs(60));
    assert!(
        healed.is_some(),
        "seed {seed}: did not re-converge within 60 s of the heal"
    );
}

#[test]
fn a_rumor_reaches_all_fifty() {
    let seed = 51;
    let r =
        scenario::run("rumor", &params(50, seed)).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    assert_eq!(num(&r, "coverage"), 1.0, "seed {seed}: {r}");
    assert!(num(&r, "coverage_p99_s") <= 1.5, "seed {seed}: {r}");
}

#[test]
fn a_restarted_member_rejoins_with_a_higher_incarnation() {
    let seed = 61;
    let (mut sim, _) =
        form_ring(&params(10, seed), Config::default()).unwrap_or_else(|e| panic!("{e}"));
    let victim = 4;
    let before = sim.nodes[victim].incarnation;
    let id = sim.nodes[victim].id.clone();
    sim.crash(victim);
    sim.run_for(Duration::from_secs(20));
    let confirmed = sim.live().iter().all(|&i| {
        sim.nodes[i]
            .ring
            .as_ref()
            .and_then(|r| r.members().health(&id))
            == Some(Health::Confirmed)
    });
    assert!(confirmed, "seed {seed}: crash not confirmed by all");
    sim.start(victim, &[0]);
    let ok = sim.run_until_cond(
        Duration::from_millis(100),
        Duration::from_secs(20),
        fast_converged,
    );
    assert!(
        ok && sim.converged(),
        "seed {seed}: restarted member not Alive everywhere"
    );
    let after = sim.nodes[victim]
        .ring
        .as_ref()
        .map_or(0, |r| r.myself().incarnation);
    assert!(
        after > before,
        "seed {seed}: incarnation {before} -> {after}"
    );
}

#[test]
fn join_cost_grows_linearly() {
    let seed = 71;
    let small = scenario::run("join", &params(50, seed)).unwrap_or_else(|e| panic!("{e}"));
    let large = scenario::run("join", &params(200, seed)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(small["complete"], true, "seed {seed}: {small}");
    assert_eq!(large["complete"], true, "seed {seed}: {large}");
    let ratio = num(&large, "total_bytes") / num(&small, "total_bytes");
    assert!(
        ratio <= 5.0,
        "seed {seed}: N=200/N=50 bytes ratio {ratio}: {small} {large}"
    );
}

/// `scale` measures each size in both phases. Its counts are deterministic (only its `us_` and
/// `per_s` fields read the clock): forming moves more records per event as the ring grows (every
/// member learns every other), a formed ring does not. (A formed ring's events are mostly probes
/// and the datagrams they cause since idle members skip empty gossip rounds: 2.1 messages per
/// event at 125 members and 1.1 at 250 for this seed, against 0.8 when empty rounds were events.)
#[test]
fn the_scale_report_separates_forming_from_the_formed_ring() {
    let seed = 91;
    let p = Params {
        seconds: Some(2.0),
        ..params(250, seed)
    };
    let r = scenario::run("scale", &p).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    assert_eq!(
        r["sizes"],
        serde_json::json!([125, 250]),
        "seed {seed}: {r}"
    );
    let (small, large) = (
        num(&r, "form_msgs_per_event_125"),
        num(&r, "form_msgs_per_event_250"),
    );
    assert!(large > 1.5 * small, "seed {seed}: {r}");
    assert!(
        num(&r, "ring_msgs_per_event_250") <= 1.5 * num(&r, "ring_msgs_per_event_125"),
        "seed {seed}: {r}"
    );
    for n in [125, 250] {
        assert!(
            num(&r, &format!("ring_msgs_per_event_{n}")) < 4.0,
            "seed {seed}: {r}"
        );
        assert!(
            num(&r, &format!("ring_us_per_event_{n}")) > 0.0,
            "seed {seed}: {r}"
        );
    }
    assert!(
        num(&r, "ring_events_250") > 1.5 * num(&r, "ring_events_125"),
        "seed {seed}: {r}"
    );
    assert!(num(&r, "ring_us_per_event_ratio") > 0.0, "seed {seed}: {r}");
    let again = scenario::run("scale", &p).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    for k in [
        "form_events_250",
        "ring_events_250",
        "form_msgs_per_event_250",
    ] {
        assert_eq!(r[k], again[k], "seed {seed}: {k}: {r} vs {again}");
    }
}

#[test]
fn the_same_seed_gives_the_same_run() {
    let a = scenario::run("crash", &params(20, 81)).unwrap_or_else(|e| panic!("{e}"));
    let b = scenario::run("crash", &params(20, 81)).unwrap_or_else(|e| panic!("{e}"));
    for k in [
        "detect_p50_s",
        "detect_max_s",
        "events",
        "bytes_per_member_per_s",
    ] {
        assert_eq!(a[k], b[k], "seed 81: {k} differs: {a} vs {b}");
    }
}

#[test]
fn garbage_collection_keeps_the_store_flat_under_churn() {
    // A shortened churn (the report command runs the full 10 000 events): GC age and departure
    // timeout are scaled down so the test stays fast; the mechanism is the same.
    let seed = 91;
    let cfg = Config {
        gc_age: Duration::from_secs(120),
        departure_timeout: Duration::from_secs(60),
        ..Config::default()
    };
    let (mut sim, _) = form_ring(&params(20, seed), cfg.clone()).unwrap_or_else(|e| panic!("{e}"));
    let sizes = |s: &Sim| -> usize {
        s.live()
            .iter()
            .filter_map(|&i| s.nodes[i].ring.as_ref())
            .map(|r| r.members().len())
            .max()
            .unwrap_or(0)
    };
    for _ in 0..300 {
        let live: Vec<usize> = sim.live().into_iter().filter(|&i| i != 0).collect();
        let out = live[sim.random_index(live.len())];
        if sim.random_index(4) == 0 {
            sim.crash(out);
        } else {
            sim.leave(out);
            sim.run_for(Duration::from_millis(200));
            sim.crash(out);
        }
        let n = sim.add_node();
        sim.start(n, &[0]);
        sim.run_for(Duration::from_millis(300));
    }
    let during = sizes(&sim);
    sim.run_until(sim.now + cfg.departure_timeout + cfg.gc_age + Duration::from_secs(30));
    let after = sizes(&sim);
    assert!(
        during > 40,
        "seed {seed}: churn left no trace to collect ({during})"
    );
    assert!(
        after <= 20,
        "seed {seed}: {after} members tracked after GC (ring of 20)"
    );
    let _ = Time::ZERO;
}

#[test]
fn an_isolated_member_is_confirmed_and_rejoins_after_the_heal() {
    let seed = 42;
    let (mut sim, _) =
        form_ring(&params(20, seed), Config::default()).unwrap_or_else(|e| panic!("{e}"));
    settle(&mut sim, Duration::from_secs(10));
    let lonely = 7;
    sim.watch.insert(lonely);
    sim.isolate(lonely);
    sim.run_for(Duration::from_secs(20));
    let others: Vec<usize> = sim.live().into_iter().filter(|&i| i != lonely).collect();
    let confirmed = others
        .iter()
        .all(|&o| sim.obs.confirmed_at.contains_key(&(o, lonely)));
    assert!(
        confirmed,
        "seed {seed}: the isolated member was not confirmed by everyone"
    );
    sim.heal();
    let back = sim.run_until_cond(Duration::from_millis(100), Duration::from_secs(60), |s| {
        s.converged()
    });
    assert!(
        back,
        "seed {seed}: the isolated member did not rejoin after the heal"
    );
}

#[test]
fn a_one_way_cut_kills_nobody() {
    // Member 3 cannot hear member 5; indirect probes through helpers route around it.
    let seed = 43;
    let (mut sim, _) =
        form_ring(&params(20, seed), Config::default()).unwrap_or_else(|e| panic!("{e}"));
    settle(&mut sim, Duration::from_secs(10));
    sim.obs = Default::default();
    sim.cut_one_way(5, 3);
    sim.run_for(Duration::from_secs(120));
    assert_eq!(
        sim.obs.false_deaths, 0,
        "seed {seed}: a one-way cut killed someone"
    );
    assert!(
        sim.nodes[3]
            .ring
            .as_ref()
            .is_some_and(|r| r.stats().indirect_probes > 0),
        "seed {seed}: the cut was never felt"
    );
}

/// Issue 14 regression: a ring of 500 formed from one seed must not wait for anti-entropy. With
/// the unlanded index draw of random members (docs/wip), seed 3 left one member without one
/// record once every key had cooled (formation > 120 s with windowed pushes, 66 s with full
/// ones); with the draw from the full list every member holds every other by about 1.7 s.
#[test]
fn ring_of_500_forms_by_dissemination_alone() {
    // 37 missed a pair on main's code too (formed by anti-entropy); see the test below.
    for seed in [3, 4, 37] {
        let p = params(500, seed);
        let (_, formed) = form_ring(&p, Config::profile(Profile::Default))
            .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        assert!(
            formed < 5.0,
            "seed {seed}: the ring of 500 formed at {formed} s (replay: \
             warren-sim crash --nodes 500 --seed {seed} --seconds 1)"
        );
    }
}

/// Every join reaches every member. Each member that learns a record sends it to a few random
/// members, so one member misses it with probability about e^-budget; a ring is formed only when
/// all N² (member, record) pairs are covered. With the plain budget (12 at 300 members) seeds 22
/// and 33 each left a pair uncovered, and the ring waited for anti-entropy (seed 22: formed at
/// 74 s); a join's budget is now sized for N² pairs (`join_budget`). That makes a miss rare, not
/// impossible: seeds 1–60 all form within 2.2 s but seed 57 (31 s), as `N²·e^-budget` predicts.
#[test]
fn rings_of_300_form_within_seconds_on_twenty_seeds() {
    let mut slow = Vec::new();
    for seed in 21..=40 {
        let p = params(300, seed);
        match form_ring_within(
            &p,
            Config::profile(Profile::Default),
            Duration::from_secs(10),
        ) {
            Ok((_, formed)) if formed < 5.0 => {}
            Ok((_, formed)) => slow.push(format!("seed {seed}: formed at {formed} s")),
            Err(e) => slow.push(e.to_string()),
        }
    }
    assert!(
        slow.is_empty(),
        "{slow:?} (replay: warren-sim crash --nodes 300 --seed S --seconds 1)"
    );
}

/// A ring that did not converge in time says how far it was: members short, records missing.
#[test]
fn a_ring_that_does_not_converge_says_what_it_lacks() {
    let seed = 1;
    let err = match form_ring_within(&params(20, seed), Config::default(), Duration::ZERO) {
        Ok(_) => panic!("seed {seed}: a ring of 20 converged with no time to form"),
        Err(e) => e.to_string(),
    };
    let count = |what: &str| -> usize {
        let at = err
            .find(what)
            .unwrap_or_else(|| panic!("seed {seed}: no '{what}' in: {err}"));
        let digits: String = err[..at]
            .trim_end()
            .chars()
            .rev()
            .take_while(char::is_ascii_digit)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        digits
            .parse()
            .unwrap_or_else(|_| panic!("seed {seed}: no count before '{what}' in: {err}"))
    };
    let short = count("members short");
    assert!((1..=20).contains(&short), "seed {seed}: {err}");
    assert!(count("records missing") >= short, "seed {seed}: {err}");
}
