//! Unit tests of the ring's own bookkeeping (gossip cadence, probe order, hot keys, member
//! draws); the protocol as a whole is tested through the simulator.

use super::*;
use std::net::Ipv4Addr;

fn ring_with(healths: &[Health]) -> Ring {
    let identity = Identity {
        id: MemberId::from("me"),
        incarnation: 0,
        address: IpAddr::V4(Ipv4Addr::LOCALHOST),
        swim_port: 9638,
        gossip_port: 9638,
        persistent: false,
    };
    let mut r = Ring::new(Config::default(), identity, 11, Time::ZERO);
    for (i, h) in healths.iter().enumerate() {
        let member = test_member(i);
        r.members
            .set(&Membership { member, health: *h }, Time::ZERO);
    }
    r
}

/// Member `i` of the test rings: id `m00i`, address 10.0.0.i.
fn test_member(i: usize) -> Member {
    Member {
        id: MemberId::new(format!("m{i:03}")),
        incarnation: 0,
        address: IpAddr::V4(Ipv4Addr::new(10, 0, 0, i as u8)),
        swim_port: 9638,
        gossip_port: 9638,
        persistent: false,
        departed: false,
    }
}

/// An idle member sets no gossip deadline; a key that turns hot after an idle spell goes out
/// at the next point of the round cadence (where the round would have been had the empty
/// ones run), and waking past rounds nobody waited for is not lateness (a round that was
/// waited for still is).
#[test]
fn an_idle_member_keeps_no_gossip_deadline() {
    let t = |s: f64| Time::ZERO + Duration::from_secs_f64(s);
    let mut r = ring_with(&[Health::Alive; 5]);
    // Only the gossip timer is of interest here.
    r.next_probe = t(100.0);
    r.next_sync = t(100.0);
    r.next_reconnect = t(100.0);
    r.next_gc = t(100.0);
    r.next_gossip = t(0.1);
    assert_eq!(r.hot_rumors(), 0);
    assert_eq!(r.poll_timeout(), Some(t(100.0)), "woken for an empty round");

    // A key turns hot at 5.05 s: 0.1 s + 25 rounds of 0.2 s is the next round.
    r.saw(t(5.05));
    r.start_hot(RumorKey::Member(MemberId::new("m001")), None);
    assert_eq!(r.poll_timeout(), Some(t(5.1)), "off the round cadence");
    // A shell wakes a little after its deadline, perhaps taking in a datagram first; the
    // round runs all the same.
    r.saw(t(5.1003));
    r.handle_timeout(t(5.1005));
    assert_eq!(r.local_health(), 0, "skipped rounds counted as lateness");
    let sent = std::iter::from_fn(|| r.poll_transmit())
        .filter(|tx| matches!(tx, Transmit::Rumors { .. }))
        .count();
    assert!(sent > 0, "the hot key was not pushed");
    assert_eq!(r.poll_timeout(), Some(t(5.3005)), "armed while hot");

    // Waking a second past an armed round is lateness.
    r.handle_timeout(t(6.3005));
    assert_eq!(r.local_health(), 1);
}

/// A member back from Confirmed is probed in the round under way, not only after the next
/// rebuild: one that crashed again soon after it restarted went unprobed for up to N − 1
/// probe intervals.
#[test]
fn a_member_back_from_confirmed_is_probed_within_the_round() {
    let t0 = Time::ZERO;
    let mut r = ring_with(&[Health::Alive; 8]);
    r.cfg.scheduled_probes = false;
    // A round under way: every member but one probed.
    for _ in 0..7 {
        assert!(r.next_probe_target(t0).is_some());
    }
    let back = r.probe_order[0].clone();
    let mut member = r.members.get(&back).map(|m| m.member.clone()).unwrap();
    for (health, incarnation) in [(Health::Confirmed, 0), (Health::Alive, 1)] {
        member.incarnation = incarnation;
        let m = Membership {
            member: member.clone(),
            health,
        };
        let change = r.members.set(&m, t0);
        r.on_member_change(&back, change, None, t0);
    }
    let mut rest = Vec::new();
    while r.probe_index < r.probe_order.len() {
        if let Some(m) = r.next_probe_target(t0) {
            rest.push(m.id);
        }
    }
    assert!(
        rest.contains(&back),
        "{back} waits for the next round: {rest:?}"
    );
    assert_eq!(rest.len(), 2, "probed twice or lost: {rest:?}");
}

/// Keys age out after four budgets' rounds, unless the member has more hot keys than it
/// could send a join's budget each within that: then they stay until it could.
#[test]
fn hot_keys_stay_until_their_budgets_could_be_sent() {
    let mut r = ring_with(&[Health::Alive; 40]);
    let n = r.cluster_size();
    let four_budgets = 4 * budget(r.cfg.retransmit_mult, n);
    let key = |i: usize| RumorKey::Member(MemberId::new(format!("k{i}")));
    for i in 0..5 {
        r.dissem.start(key(i), 1, None);
    }
    assert_eq!(r.max_hot_rounds(), four_budgets);
    for i in 5..3000 {
        r.dissem.start(key(i), 1, None);
    }
    let per_round = (r.cfg.gossip_fanout * r.cfg.max_rumors_per_push) as u32;
    let drain = (3000 * join_budget(r.cfg.retransmit_mult, n)).div_ceil(per_round);
    assert!(
        2 * drain > four_budgets,
        "the case must be one the old rule cut short"
    );
    assert_eq!(r.max_hot_rounds(), 2 * drain);
    // Rounds in which nothing could be sent (the age-out `gossip_round` runs first).
    let round = |r: &mut Ring| {
        let max = r.max_hot_rounds();
        r.dissem.age(max);
    };
    for _ in 0..=four_budgets {
        round(&mut r);
    }
    assert_eq!(
        r.hot_rumors(),
        3000,
        "aged out before their budgets could go"
    );
    for _ in four_budgets..=2 * drain {
        round(&mut r);
    }
    assert_eq!(r.hot_rumors(), 0);
}

/// The cached draw is the draw of a filtered scan: same members, same order, same random
/// stream afterwards (the simulator's reports stay what they were).
#[test]
fn a_draw_from_the_live_pool_is_the_draw_of_a_filtered_scan() {
    let healths: Vec<Health> = (0..40)
        .map(|i| match i % 7 {
            3 => Health::Suspect,
            5 => Health::Confirmed,
            _ => Health::Alive,
        })
        .collect();
    let ids: Vec<MemberId> = (0..40).map(|i| MemberId::new(format!("m{i:03}"))).collect();
    for suspects_too in [false, true] {
        let scan: &[Health] = if suspects_too {
            &[Health::Alive, Health::Suspect]
        } else {
            &[Health::Alive]
        };
        for except in [
            None,
            Some(&ids[0]),
            Some(&ids[3]),
            Some(&ids[5]),
            Some(&ids[39]),
        ] {
            let (mut a, mut b) = (ring_with(&healths), ring_with(&healths));
            for n in [1, 3, 40] {
                let fast = a.random_members(n, suspects_too, except);
                let slow = b.random_members_where(n, scan, |r| Some(&r.member.id) != except);
                assert_eq!(
                    fast, slow,
                    "n {n}, suspects {suspects_too}, except {except:?}"
                );
                assert_eq!(a.rng.random::<u64>(), b.rng.random::<u64>());
            }
        }
    }
}

/// A group member's extra probes of its leader (`ElectionConfig::leader_probe_interval`) come
/// on top of SWIM's round-robin, not out of its turns: when they took the turn, a ring whose
/// members all ran one leader-topology service probed everyone else at half the rate, and a
/// crashed member went unprobed for 4–7 s now and then (detection at 50 real members
/// 5.8–10.6 s against the simulator's 4.8 s, whose `crash` runs no services).
#[test]
fn probing_the_leader_takes_no_turn_of_the_round_robin() {
    use crate::ElectionStatus;
    use crate::rumor::{Election, Service, SysInfo};
    const GROUP: &str = "hello.default";
    let at = |ms: u64| Time::ZERO + Duration::from_millis(ms);
    let mut r = ring_with(&[Health::Alive; 9]);
    let ids: Vec<MemberId> = std::iter::once(r.me.id.clone())
        .chain((0..9).map(|i| MemberId::new(format!("m{i:03}"))))
        .collect();
    for id in &ids {
        let s = Service {
            incarnation: 1,
            member_id: id.clone(),
            service_group: GROUP.into(),
            pkg: "core/hello/0.1.0/20260101000000".into(),
            pkg_incarnation: 0,
            initialized: false,
            cfg: Vec::new(),
            sys: SysInfo::default(),
            withdrawn: false,
        };
        r.store.merge(Rumor::Service(Arc::new(s)), Time::ZERO);
    }
    let leader = ids[1].clone();
    let result = Election {
        member_id: leader.clone(),
        service_group: GROUP.into(),
        term: 3,
        suitability: 0,
        status: ElectionStatus::Finished,
        votes: ids.clone(),
        committed: None,
    };
    r.store.merge(Rumor::Election(Arc::new(result)), Time::ZERO);
    r.start_election(GROUP, ElectionKind::Leader, 0, Time::ZERO);

    // Twenty seconds in which every ping is answered at once.
    let (mut to_leader, mut round_robin) = (0, 0);
    let mut now = at(0);
    while now < at(20_000) {
        r.handle_timeout(now);
        let mut acks = Vec::new();
        while let Some(tx) = r.poll_transmit() {
            if let Transmit::Swim { to, msg } = tx
                && matches!(msg.kind, SwimKind::Ping { .. })
                && let Some(m) = r.members.iter().find(|m| m.member.swim_addr() == to)
            {
                if m.member.id == leader {
                    to_leader += 1;
                } else {
                    round_robin += 1;
                }
                acks.push((to, m.member.clone()));
            }
        }
        for (to, from) in acks {
            let ack = Swim {
                from,
                kind: SwimKind::Ack { forward_to: None },
                membership: Vec::new(),
            };
            r.handle_datagram(to, ack, now + Duration::from_millis(1));
        }
        now = now + Duration::from_millis(10);
    }
    assert!(
        r.election(GROUP, ElectionKind::Leader)
            .is_some_and(|e| e.member_id == leader && e.status == ElectionStatus::Finished),
        "the leader changed: {:?}",
        r.election(GROUP, ElectionKind::Leader)
    );
    // Twenty turns of the round-robin, eight in nine of them on the other members (the leader
    // takes its turn too), plus ten extra probes of the leader. Taking the turns, the leader's
    // probes left the others nine.
    assert!(
        to_leader >= 10,
        "the leader was probed {to_leader} times in 20 s"
    );
    assert!(
        round_robin >= 16,
        "the other members were probed {round_robin} times in 20 s ({to_leader} of the leader)"
    );
}

/// Scheduled probes: members that agree on who is live probe a rotation of their circle in
/// each round of the shared clock, whatever their own clocks' origins: every member is probed
/// by exactly one other per round, and over M − 1 rounds each member probes every other once.
#[test]
fn scheduled_rounds_probe_every_member_once_per_round() {
    let n = 7;
    let id = |i: usize| test_member(i).id;
    let member = test_member;
    // Member k started k × 0.3 s after the others' origin: its `Time::ZERO` is later on the
    // shared clock, and its `now` smaller by as much.
    let shared_zero = Duration::from_secs(1_700_000_000);
    let started = |k: usize| Duration::from_millis(300 * k as u64);
    let mut rings: Vec<Ring> = (0..n)
        .map(|k| {
            let me = member(k);
            let identity = Identity {
                id: me.id,
                incarnation: 0,
                address: me.address,
                swim_port: me.swim_port,
                gossip_port: me.gossip_port,
                persistent: false,
            };
            let mut r = Ring::new(Config::default(), identity, k as u64, Time::ZERO);
            r.clock_phase = shared_zero + started(k);
            for i in (0..n).filter(|i| *i != k) {
                // One of them suspected: still in the circle.
                let health = if i == 3 {
                    Health::Suspect
                } else {
                    Health::Alive
                };
                let m = Membership {
                    member: member(i),
                    health,
                };
                r.members.set(&m, Time::ZERO);
            }
            r
        })
        .collect();
    let mut probed_by: Vec<Vec<MemberId>> = vec![Vec::new(); n];
    for round in 3..3 + (n - 1) {
        // Halfway through the round on the shared clock.
        let global = Duration::from_millis(1000 * round as u64 + 500);
        let mut targets: Vec<MemberId> = rings
            .iter_mut()
            .enumerate()
            .map(|(k, r)| {
                let now = Time::from_duration(global - started(k));
                let t = r.next_probe_target(now).map(|m| m.id);
                t.unwrap_or_else(|| panic!("member {k} has no target in round {round}"))
            })
            .collect();
        for (k, t) in targets.iter().enumerate() {
            assert_ne!(*t, id(k), "round {round}: member {k} probes itself");
            probed_by[k].push(t.clone());
        }
        targets.sort();
        targets.dedup();
        assert_eq!(targets.len(), n, "round {round}: not a rotation");
    }
    for (k, mut seen) in probed_by.into_iter().enumerate() {
        seen.sort();
        seen.dedup();
        assert_eq!(
            seen.len(),
            n - 1,
            "member {k} missed someone in M − 1 rounds"
        );
    }
}
