//! Blocking work on the services' side never reaches the ring (issue "Never two leaders", item
//! 5). One of three members has its main runtime (services, HTTP, control API) blocked 300 ms of
//! every 400 ms by `WARREN_FAULT_STALL_MS` (the `fault-injection` feature), as a slow disk under
//! a service's template rendering would do. The ring runs on its own thread, so its timers are
//! never late: the member's Lifeguard local health stays 0 and nobody is suspected. With the
//! ring on the main runtime the same fault drives local health up at once.

use std::time::{Duration, Instant};

use warren_e2e::{Sup, log_tail, state_dir, wait_until};

/// How long the ring is watched once formed.
const WATCH: Duration = Duration::from_secs(15);

#[test]
fn a_blocked_services_runtime_neither_slows_the_ring_nor_raises_suspicion() {
    let mut sups: Vec<Sup> = Vec::new();
    for i in 0..3 {
        let dir = state_dir("slow-services", i);
        let env: &[(&str, &str)] = if i == 0 {
            &[
                ("WARREN_FAULT_STALL_MS", "300"),
                ("WARREN_FAULT_STALL_EVERY_MS", "400"),
            ]
        } else {
            &[]
        };
        let peers: Vec<_> = sups.first().map(|s| s.gossip).into_iter().collect();
        sups.push(Sup::start_env(&dir, &peers, &[], env));
    }
    let ids: Vec<String> = sups.iter().map(Sup::id).collect();
    let all_alive = |sups: &[Sup]| {
        sups.iter().all(|s| {
            let me = s.id();
            ids.iter()
                .filter(|id| **id != me)
                .all(|id| s.health_of(id).as_deref() == Some("Alive"))
        })
    };
    assert!(
        wait_until(Duration::from_secs(20), || all_alive(&sups)),
        "the ring of 3 did not form\n{}",
        log_tail(&sups[0].root, 20)
    );
    let log = fault_log(&sups[0]);
    assert!(
        log.contains("main runtime's thread is blocked"),
        "the stall fault is not on (is the binary built with --features fault-injection?)"
    );

    // Sample every member's local health while the fault runs.
    let mut max_health = [0f64; 3];
    let mut samples = [0usize; 3];
    let mut suspects_seen = 0f64;
    let end = Instant::now() + WATCH;
    while Instant::now() < end {
        for (i, s) in sups.iter().enumerate() {
            if let Some(h) = s.metric("warren_ring_local_health") {
                max_health[i] = max_health[i].max(h);
                samples[i] += 1;
            }
            suspects_seen += s
                .metric("warren_ring_members{health=\"suspect\"}")
                .unwrap_or(0.0);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!("local health, highest sampled: {max_health:?} ({samples:?} samples)");
    assert!(
        samples.iter().all(|n| *n > 10),
        "too few /metrics samples: {samples:?}"
    );

    let counter = |s: &Sup, name: &str| s.metric(name).unwrap_or(f64::NAN);
    let suspicions: Vec<f64> = sups
        .iter()
        .map(|s| counter(s, "warren_ring_suspicions_raised_total"))
        .collect();
    let refutations: Vec<f64> = sups
        .iter()
        .map(|s| counter(s, "warren_ring_refutations_total"))
        .collect();
    eprintln!("suspicions raised: {suspicions:?}, refutations: {refutations:?}");
    assert_eq!(
        max_health[0],
        0.0,
        "the member with the blocked services runtime thought itself slow\n{}",
        log_tail(&sups[0].root, 20)
    );
    assert_eq!(max_health, [0.0; 3], "a member thought itself slow");
    assert_eq!(suspicions, [0.0; 3], "a member suspected another");
    assert_eq!(refutations, [0.0; 3], "a member had to refute a suspicion");
    assert_eq!(suspects_seen, 0.0, "a member was seen Suspect");
    assert!(all_alive(&sups), "the ring is no longer all Alive");

    // The stalled member still stops in order: services, then a graceful leave, exit 0.
    sups[0].signal("TERM");
    assert_eq!(sups[0].wait_exit(Duration::from_secs(10)), Some(0));
    let gone = &ids[0];
    assert!(
        wait_until(Duration::from_secs(5), || sups[1]
            .health_of(gone)
            .as_deref()
            == Some("Departed")),
        "the stalled member's graceful leave was not heard"
    );
}

fn fault_log(s: &Sup) -> String {
    std::fs::read_to_string(s.root.join("warren.log")).unwrap_or_default()
}
