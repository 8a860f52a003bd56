//! Behaviour of one or two `Ring`s driven by hand: the SWIM exchanges of spec §4.2 and the
//! special cases of §3.2, each checked on the messages and events the core produces.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use warren_ring::{
    Config, Departure, EstimatedSize, Event, Health, Identity, Member, MemberId, Membership,
    Profile, Ring, Rumor, Swim, SwimKind, Time, Transmit, WireSize,
};

fn addr(n: u8) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, n)), 9638)
}

fn identity(n: u8) -> Identity {
    Identity {
        id: MemberId::new(format!("{n:032x}")),
        incarnation: 0,
        address: addr(n).ip(),
        swim_port: 9638,
        gossip_port: 9638,
        persistent: false,
    }
}

fn ring(n: u8) -> Ring {
    Ring::new(Config::default(), identity(n), u64::from(n), Time::ZERO)
}

fn member(n: u8, incarnation: u64) -> Member {
    let i = identity(n);
    Member {
        id: i.id,
        incarnation,
        address: i.address,
        swim_port: 9638,
        gossip_port: 9638,
        persistent: false,
        departed: false,
    }
}

fn swims(r: &mut Ring) -> Vec<(SocketAddr, Swim)> {
    let mut v = Vec::new();
    while let Some(t) = r.poll_transmit() {
        if let Transmit::Swim { to, msg } = t {
            v.push((to, msg));
        }
    }
    v
}

fn events(r: &mut Ring) -> Vec<Event> {
    std::iter::from_fn(|| r.poll_event()).collect()
}

fn ping(from: u8, inc: u64, membership: Vec<Membership>) -> Swim {
    Swim {
        from: member(from, inc),
        kind: SwimKind::Ping { forward_to: None },
        membership,
    }
}

#[test]
fn a_ping_is_acked_at_once_and_its_sender_becomes_alive() {
    let mut a = ring(1);
    a.handle_datagram(addr(2), ping(2, 0, vec![]), Time::ZERO);
    let out = swims(&mut a);
    assert!(
        matches!(&out[0], (to, Swim { kind: SwimKind::Ack { forward_to: None }, .. }) if *to == addr(2))
    );
    assert_eq!(a.members().health(&member(2, 0).id), Some(Health::Alive));
}

#[test]
fn a_ping_req_is_relayed_and_the_ack_forwarded_back() {
    // 1 asks helper 2 to ping 3.
    let mut helper = ring(2);
    helper.handle_datagram(addr(3), ping(3, 0, vec![]), Time::ZERO);
    swims(&mut helper);
    let req = Swim {
        from: member(1, 0),
        kind: SwimKind::PingReq {
            target: member(3, 0),
        },
        membership: vec![],
    };
    helper.handle_datagram(addr(1), req, Time::ZERO);
    let out = swims(&mut helper);
    let (to, msg) = out
        .iter()
        .find(|(_, m)| matches!(m.kind, SwimKind::Ping { .. }))
        .unwrap_or_else(|| panic!("{out:?}"));
    assert_eq!(*to, addr(3));
    let SwimKind::Ping {
        forward_to: Some(f),
    } = &msg.kind
    else {
        panic!("{msg:?}")
    };
    assert_eq!(f.id, member(1, 0).id);
    // 3 acks the helper with forward_to = 1; the helper relays it to 1 with 3's address.
    let mut target = ring(3);
    target.handle_datagram(addr(2), msg.clone(), Time::ZERO);
    let (_, ack) = swims(&mut target).remove(0);
    helper.handle_datagram(addr(3), ack, Time::ZERO);
    let relayed = swims(&mut helper);
    let (to, fwd) = &relayed[0];
    assert_eq!(*to, addr(1));
    assert!(matches!(
        fwd.kind,
        SwimKind::Ack {
            forward_to: Some(_)
        }
    ));
    assert_eq!(fwd.from.id, member(3, 0).id);
    assert_eq!(fwd.from.address, addr(3).ip());
}

#[test]
fn suspicion_about_myself_is_refuted_with_a_higher_incarnation() {
    let mut a = ring(1);
    let about_me = Membership {
        member: member(1, 0),
        health: Health::Suspect,
    };
    a.handle_datagram(addr(2), ping(2, 0, vec![about_me]), Time::ZERO);
    assert_eq!(a.myself().incarnation, 1);
    assert!(events(&mut a).contains(&Event::IncarnationChanged(1)));
    assert_eq!(a.stats().refutations, 1);
}

#[test]
fn a_probe_ping_raises_my_incarnation_and_is_acked() {
    let mut a = ring(1);
    let pp = Swim {
        from: member(2, 0),
        kind: SwimKind::ProbePing,
        membership: vec![],
    };
    a.handle_datagram(addr(2), pp, Time::ZERO);
    assert_eq!(a.myself().incarnation, 1);
    assert!(
        swims(&mut a)
            .iter()
            .any(|(to, m)| *to == addr(2) && matches!(m.kind, SwimKind::Ack { .. }))
    );
}

#[test]
fn a_confirmed_verdict_is_checked_with_a_probe_ping_first() {
    let mut a = ring(1);
    a.handle_datagram(addr(3), ping(3, 0, vec![]), Time::ZERO);
    swims(&mut a);
    let verdict = Membership {
        member: member(3, 0),
        health: Health::Confirmed,
    };
    a.handle_datagram(addr(2), ping(2, 0, vec![verdict]), Time::ZERO);
    assert_eq!(
        a.members().health(&member(3, 0).id),
        Some(Health::Alive),
        "adopted without a check"
    );
    let out = swims(&mut a);
    assert!(
        out.iter()
            .any(|(to, m)| *to == addr(3) && m.kind == SwimKind::ProbePing),
        "{out:?}"
    );
    // No Ack within the timeout: adopted.
    a.handle_timeout(Time::from_millis(600));
    assert_eq!(
        a.members().health(&member(3, 0).id),
        Some(Health::Confirmed)
    );
}

/// A member I already suspect at the verdict's incarnation is Confirmed at once (my own
/// suspicion stands for the ProbePing); Habitat's profile checks it all the same.
#[test]
fn a_verdict_on_a_member_i_suspect_is_adopted_at_once() {
    for profile in [Profile::Default, Profile::Habitat] {
        let mut a = Ring::new(Config::profile(profile), identity(1), 1, Time::ZERO);
        a.handle_datagram(addr(3), ping(3, 0, vec![]), Time::ZERO);
        let record = |health| Membership {
            member: member(3, 0),
            health,
        };
        a.handle_datagram(
            addr(2),
            ping(2, 0, vec![record(Health::Suspect)]),
            Time::ZERO,
        );
        assert_eq!(a.members().health(&member(3, 0).id), Some(Health::Suspect));
        swims(&mut a);
        let t = Time::from_millis(100);
        a.handle_datagram(addr(4), ping(4, 0, vec![record(Health::Confirmed)]), t);
        let checked = swims(&mut a)
            .iter()
            .any(|(to, m)| *to == addr(3) && m.kind == SwimKind::ProbePing);
        let health = a.members().health(&member(3, 0).id);
        match profile {
            Profile::Default => {
                assert_eq!(health, Some(Health::Confirmed));
                assert!(!checked, "checked with a ProbePing");
            }
            Profile::Habitat => {
                assert_eq!(health, Some(Health::Suspect), "adopted without a check");
                assert!(checked, "no ProbePing");
            }
        }
    }
}

#[test]
fn a_confirmed_verdict_is_rejected_when_the_member_answers() {
    let mut a = ring(1);
    a.handle_datagram(addr(3), ping(3, 0, vec![]), Time::ZERO);
    let verdict = Membership {
        member: member(3, 0),
        health: Health::Confirmed,
    };
    a.handle_datagram(addr(2), ping(2, 0, vec![verdict]), Time::ZERO);
    let ack = Swim {
        from: member(3, 1),
        kind: SwimKind::Ack { forward_to: None },
        membership: vec![],
    };
    a.handle_datagram(addr(3), ack, Time::from_millis(100));
    a.handle_timeout(Time::from_millis(600));
    assert_eq!(a.members().health(&member(3, 0).id), Some(Health::Alive));
    assert_eq!(a.stats().confirmations_refuted, 1);
}

#[test]
fn leaving_sends_departed_acks_with_a_higher_incarnation() {
    let mut a = ring(1);
    for n in 2..5 {
        a.handle_datagram(addr(n), ping(n, 0, vec![]), Time::ZERO);
    }
    swims(&mut a);
    a.leave(Time::from_millis(10));
    let out = swims(&mut a);
    assert_eq!(out.len(), 3);
    for (_, m) in out {
        assert!(m.from.departed && m.from.incarnation == 1, "{m:?}");
        assert!(matches!(m.kind, SwimKind::Ack { .. }));
    }
}

#[test]
fn messages_from_my_own_id_are_dropped() {
    let mut a = ring(1);
    a.handle_datagram(addr(9), ping(1, 5, vec![]), Time::ZERO);
    assert_eq!(a.stats().dropped_datagrams, 1);
    assert!(swims(&mut a).is_empty());
}

#[test]
fn a_departure_naming_me_stops_the_ring() {
    let mut a = ring(1);
    a.handle_rumor(
        Rumor::Departure(Arc::new(Departure {
            member_id: member(1, 0).id,
        })),
        Time::ZERO,
    );
    assert!(events(&mut a).contains(&Event::DepartedByRing));
    assert_eq!(a.poll_timeout(), None);
}

#[test]
fn piggybacked_datagrams_stay_within_the_limit() {
    let mut a = ring(1);
    // Learn 200 members at once: all hot, far more than fit in one datagram. They come from
    // a member that is not this one's first scheduled target (which holds them all already).
    let many: Vec<Membership> = (10..210u8)
        .map(|n| Membership {
            member: member(n, 0),
            health: Health::Alive,
        })
        .collect();
    for chunk in many.chunks(20) {
        a.handle_datagram(addr(250), ping(250, 0, chunk.to_vec()), Time::ZERO);
    }
    swims(&mut a);
    let mut now = Time::ZERO;
    let mut biggest = 0;
    for _ in 0..50 {
        now = now + Duration::from_millis(100);
        a.handle_timeout(now);
        for (_, m) in swims(&mut a) {
            biggest = biggest.max(EstimatedSize.swim_len(&m));
        }
    }
    assert!(
        biggest > 500,
        "piggybacking never filled a datagram ({biggest})"
    );
    assert!(biggest <= 1024, "a {biggest}-byte datagram");
}

#[test]
fn an_ack_nobody_asked_for_is_not_relayed() {
    let mut a = ring(1);
    a.handle_datagram(addr(3), ping(3, 0, vec![]), Time::ZERO);
    swims(&mut a);
    // forward_to names member 2, but member 1 never forwarded a Ping for it.
    let ack = Swim {
        from: member(3, 0),
        kind: SwimKind::Ack {
            forward_to: Some(member(2, 0)),
        },
        membership: vec![],
    };
    a.handle_datagram(addr(3), ack, Time::ZERO);
    assert!(swims(&mut a).is_empty(), "relayed an unsolicited Ack");
}

#[test]
fn an_incarnation_at_the_maximum_does_not_wrap() {
    let mut a = ring(1);
    let about_me = Membership {
        member: member(1, u64::MAX),
        health: Health::Suspect,
    };
    a.handle_datagram(addr(2), ping(2, 0, vec![about_me]), Time::ZERO);
    assert_eq!(a.myself().incarnation, u64::MAX);
}
