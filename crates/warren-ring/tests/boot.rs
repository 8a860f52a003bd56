//! A member assembled the way `warren run` assembles it (`Ring::boot`: saved state, then its
//! services and elections, and only later the peers its resolver finds), driven by hand: what it
//! must never do before it has met its peers, and what it must not take back from its previous
//! life.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use warren_ring::{
    Boot, Config, Election, ElectionKind, ElectionStatus, Identity, LocalService, MemberId, Ring,
    Rumor, Service, SysInfo, Time,
};

const GROUP: &str = "redis.default";

fn identity(n: u8) -> Identity {
    Identity {
        id: MemberId::new(format!("{n:032x}")),
        incarnation: 0,
        address: IpAddr::V4(Ipv4Addr::new(127, 0, 0, n)),
        swim_port: 9638,
        gossip_port: 9638,
        persistent: false,
    }
}

fn service(n: u8, group: &str, cfg: &str, incarnation: u64) -> Service {
    Service {
        incarnation,
        member_id: identity(n).id,
        service_group: group.into(),
        pkg: "core/redis/7.2.4/20260101000000".into(),
        pkg_incarnation: 0,
        initialized: false,
        cfg: cfg.as_bytes().to_vec(),
        sys: SysInfo::default(),
        withdrawn: false,
    }
}

fn leader_service(n: u8) -> LocalService {
    LocalService {
        service: service(n, GROUP, "port = 6379\n", 0),
        elections: vec![(ElectionKind::Leader, 0)],
    }
}

/// Runs the member's timers for `d`, dropping what it sends (nobody answers).
fn run_alone(r: &mut Ring, from: Time, d: Duration, mut check: impl FnMut(&Ring, Time)) -> Time {
    let end = from + d;
    let mut now = from;
    while now < end {
        now = r.poll_timeout().unwrap_or(end).max(now).min(end);
        r.handle_timeout(now);
        while r.poll_transmit().is_some() {}
        while r.poll_event().is_some() {}
        check(r, now);
        now = now + Duration::from_millis(1);
    }
    now
}

fn never_leads(r: &Ring, now: Time) {
    assert_eq!(
        r.leader(GROUP, ElectionKind::Leader, now),
        None,
        "t={:.1}: a member that has not met its peers acts as leader",
        now.as_secs_f64()
    );
    assert!(
        r.election(GROUP, ElectionKind::Leader)
            .is_none_or(|e| e.status != ElectionStatus::Finished),
        "t={:.1}: a member that has not met its peers finished an election",
        now.as_secs_f64()
    );
}

/// `warren run --peer 127.0.0.1:<closed port> plans/hello --topology leader`: the service and
/// its election start before the resolver's first answer, which may be empty (DNS not ready)
/// or name a port where nobody answers. It stays without a leader for as long as it runs.
#[test]
fn a_member_whose_peers_never_answer_never_elects_itself() {
    let boot = Boot {
        services: vec![leader_service(1)],
        peers_expected: true,
        ..Boot::default()
    };
    let mut r = Ring::boot(Config::default(), identity(1), 7, Time::ZERO, boot);
    // Before the resolver answers.
    let now = run_alone(&mut r, Time::ZERO, Duration::from_secs(10), never_leads);
    // The name resolves to nothing yet.
    r.join(Vec::new(), now);
    let now = run_alone(&mut r, now, Duration::from_secs(10), never_leads);
    // Then to a port where nobody answers.
    let closed = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 1);
    r.set_peers(vec![closed]);
    run_alone(&mut r, now, Duration::from_secs(30), never_leads);
}

/// With no peers configured a single member leads its group alone, as before.
#[test]
fn a_member_without_peers_leads_alone() {
    let boot = Boot {
        services: vec![leader_service(1)],
        ..Boot::default()
    };
    let mut r = Ring::boot(Config::default(), identity(1), 7, Time::ZERO, boot);
    r.join(Vec::new(), Time::ZERO);
    let now = run_alone(&mut r, Time::ZERO, Duration::from_secs(5), |_, _| {});
    assert_eq!(
        r.leader(GROUP, ElectionKind::Leader, now),
        Some(&identity(1).id)
    );
}

/// A restarted leader's rumor file holds its own Finished result; it must not come back as a
/// win (the group may have elected another meanwhile, and its votes belonged to the process
/// that stopped).
#[test]
fn a_restarted_member_does_not_restore_its_own_election() {
    let me = identity(1).id;
    let won = Election {
        member_id: me.clone(),
        service_group: GROUP.into(),
        term: 3,
        suitability: 0,
        status: ElectionStatus::Finished,
        votes: vec![me.clone(), identity(2).id, identity(3).id],
        committed: None,
    };
    let boot = Boot {
        rumors: vec![
            Rumor::Service(Arc::new(service(1, GROUP, "port = 6379\n", 4))),
            Rumor::Election(Arc::new(won)),
        ],
        services: vec![leader_service(1)],
        peers_expected: true,
        ..Boot::default()
    };
    let r = Ring::boot(Config::default(), identity(1), 7, Time::ZERO, boot);
    assert!(
        r.election(GROUP, ElectionKind::Leader)
            .is_none_or(|e| e.status != ElectionStatus::Finished),
        "the old win came back: {:?}",
        r.election(GROUP, ElectionKind::Leader)
    );
    // Its Service rumor goes out above the incarnation the file held.
    let mine = r.rumors().service(GROUP, &me).map(|s| s.incarnation);
    assert_eq!(mine, Some(5));
}

/// Peers can hold a newer Service rumor of mine than my rumor file did (it is written every
/// 30 s): hearing it, I re-publish what I run now above it; for a service I no longer run, I
/// withdraw it above it.
#[test]
fn a_restarted_member_wins_back_its_own_service_rumors() {
    let me = identity(1).id;
    let boot = Boot {
        rumors: vec![
            Rumor::Service(Arc::new(service(1, GROUP, "old = 1\n", 2))),
            Rumor::Service(Arc::new(service(1, "gone.default", "x = 1\n", 2))),
        ],
        services: vec![LocalService {
            service: service(1, GROUP, "now = 3\n", 0),
            elections: Vec::new(),
        }],
        ..Boot::default()
    };
    let mut r = Ring::boot(Config::default(), identity(1), 7, Time::ZERO, boot);
    // Restored at 2, published at 3; and the group it no longer runs is withdrawn at 3.
    assert_eq!(
        r.rumors().service(GROUP, &me).map(|s| s.incarnation),
        Some(3)
    );
    let gone = r.rumors().service("gone.default", &me).cloned();
    assert!(
        gone.as_ref()
            .is_some_and(|s| s.withdrawn && s.incarnation == 3)
    );
    // A peer still holds what the previous life published after the file was written.
    let t = Time::from_duration(Duration::from_secs(1));
    r.handle_rumor(
        Rumor::Service(Arc::new(service(1, GROUP, "later = 2\n", 3))),
        t,
    );
    r.handle_rumor(
        Rumor::Service(Arc::new(service(1, "gone.default", "x = 2\n", 5))),
        t,
    );
    let now = r.rumors().service(GROUP, &me).cloned();
    assert!(
        now.as_ref()
            .is_some_and(|s| s.cfg == b"now = 3\n" && s.incarnation == 4),
        "{now:?}"
    );
    let gone = r.rumors().service("gone.default", &me).cloned();
    assert!(
        gone.as_ref()
            .is_some_and(|s| s.withdrawn && s.incarnation == 6),
        "{gone:?}"
    );
    assert_eq!(r.stats().service_refutations, 2);
    // What I hold myself is not news.
    let same = r.rumors().service(GROUP, &me).cloned();
    if let Some(s) = same {
        r.handle_rumor(Rumor::Service(Arc::new(s)), t);
    }
    assert_eq!(r.stats().service_refutations, 2);
}

/// Unloading withdraws the member from the group: it no longer counts in it, and a withdrawn
/// Service rumor is what its peers receive.
#[test]
fn unloading_withdraws_the_service() {
    let me = identity(1).id;
    let boot = Boot {
        services: vec![leader_service(1)],
        ..Boot::default()
    };
    let mut r = Ring::boot(Config::default(), identity(1), 7, Time::ZERO, boot);
    assert_eq!(r.rumors().services_in(GROUP).count(), 1);
    r.withdraw_service(GROUP, Time::ZERO);
    assert_eq!(r.rumors().services_in(GROUP).count(), 0);
    assert!(r.rumors().service(GROUP, &me).is_some_and(|s| s.withdrawn));
    assert_eq!(r.election_groups().count(), 0);
    // A later load comes back above the withdrawal.
    r.load_service(leader_service(1), Time::ZERO);
    let s = r.rumors().service(GROUP, &me).cloned();
    assert!(s.is_some_and(|s| !s.withdrawn && s.incarnation == 3));
}
