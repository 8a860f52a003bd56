//! Bounded state under hostile or huge input: a flood of new member ids stays within
//! `Config::max_members` without losing the members already known, and gossiped config and files
//! of groups nobody runs any more are collected while a live group keeps its own.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use warren_ring::{
    Config, Event, Health, Identity, Member, MemberId, Membership, Ring, Rumor, RumorKey, Service,
    ServiceConfig, ServiceFile, Swim, SwimKind, SysInfo, Time,
};

fn id(n: u32) -> MemberId {
    MemberId::new(format!("{n:032x}"))
}

fn addr(n: u32) -> SocketAddr {
    let [_, a, b, c] = n.to_be_bytes();
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, a, b, c)), 9638)
}

fn member(n: u32) -> Member {
    Member {
        id: id(n),
        incarnation: 0,
        address: addr(n).ip(),
        swim_port: 9638,
        gossip_port: 9638,
        persistent: false,
        departed: false,
    }
}

/// Member 0, us.
fn ring(cfg: Config) -> Ring {
    let me = member(0);
    let identity = Identity {
        id: me.id,
        incarnation: 0,
        address: me.address,
        swim_port: 9638,
        gossip_port: 9638,
        persistent: false,
    };
    Ring::new(cfg, identity, 7, Time::ZERO)
}

fn ping(from: Member, membership: Vec<Membership>) -> Swim {
    Swim {
        from,
        kind: SwimKind::Ping { forward_to: None },
        membership,
    }
}

/// Member `from` pings us, carrying `membership`.
fn hear(r: &mut Ring, from: Member, membership: Vec<Membership>, now: Time) {
    let src = SocketAddr::new(from.address, from.swim_port);
    r.handle_datagram(src, ping(from, membership), now);
    drain(r);
}

fn drain(r: &mut Ring) -> Vec<Event> {
    while r.poll_transmit().is_some() {}
    std::iter::from_fn(|| r.poll_event()).collect()
}

fn service_of(owner: u32, group: &str) -> Service {
    Service {
        incarnation: 1,
        member_id: id(owner),
        service_group: group.into(),
        pkg: "core/redis/7.2.4/20240101000000".into(),
        pkg_incarnation: 0,
        initialized: false,
        withdrawn: false,
        cfg: Vec::new(),
        sys: SysInfo::default(),
    }
}

fn service(owner: u32, group: &str) -> Rumor {
    Rumor::Service(Arc::new(service_of(owner, group)))
}

fn config(group: &str, incarnation: u64) -> Rumor {
    Rumor::ServiceConfig(Arc::new(ServiceConfig {
        incarnation,
        service_group: group.into(),
        encrypted: false,
        config: format!("version = {incarnation}").into_bytes(),
    }))
}

fn file(group: &str, name: &str, incarnation: u64) -> Rumor {
    Rumor::ServiceFile(Arc::new(ServiceFile {
        incarnation,
        service_group: group.into(),
        filename: name.into(),
        encrypted: false,
        body: vec![b'x'; 16],
    }))
}

fn present(r: &Ring, n: u32) -> bool {
    r.members().get(&id(n)).is_some()
}

#[test]
fn a_flood_of_new_members_stays_under_the_cap_and_keeps_the_living() {
    const CAP: usize = 40;
    let ms = Time::from_millis;
    let mut r = ring(Config {
        max_members: CAP,
        // Timers are fired late here on purpose; keep ProbePing timeouts unstretched.
        max_local_health: 0,
        ..Config::default()
    });
    let mine = "redis.default";
    r.publish_service(service_of(0, mine), ms(0));

    // 10 friends stay Alive throughout.
    let friends = 1..=10u32;
    for n in friends.clone() {
        hear(&mut r, member(n), vec![], ms(0));
    }
    // 11..=15 depart (one after the other), 16..=21 are found dead in two batches; 21 is a
    // permanent peer, 22 (Confirmed) and 23 (Departed) run a service in our group.
    let mut persistent = member(21);
    persistent.persistent = true;
    for m in (11..=20)
        .map(member)
        .chain([persistent.clone()])
        .chain([member(22), member(23)])
    {
        hear(&mut r, m, vec![], ms(0));
    }
    for n in [22, 23] {
        r.handle_rumor(service(n, mine), ms(0));
    }
    for (i, n) in (11..=15).chain([23]).enumerate() {
        let mut m = member(n);
        m.departed = true;
        hear(&mut r, m, vec![], ms(100 * (i as u64 + 1)));
    }
    let confirmed = |m: Member| Membership {
        member: m,
        health: Health::Confirmed,
    };
    // A Confirmed verdict is adopted once the ProbePing it triggers goes unanswered.
    hear(
        &mut r,
        member(1),
        vec![confirmed(member(16)), confirmed(member(17))],
        ms(1000),
    );
    r.handle_timeout(ms(1600));
    let batch2 = [member(18), member(19), member(20), persistent, member(22)];
    hear(
        &mut r,
        member(1),
        batch2.into_iter().map(confirmed).collect(),
        ms(2000),
    );
    r.handle_timeout(ms(2600));
    drain(&mut r);
    for n in 11..=15 {
        assert_eq!(
            r.members().health(&id(n)),
            Some(Health::Departed),
            "member {n}"
        );
    }
    for n in 16..=22 {
        assert_eq!(
            r.members().health(&id(n)),
            Some(Health::Confirmed),
            "member {n}"
        );
    }
    let known = r.members().len();
    assert_eq!(known, 23);

    // A flood of 3 × CAP fresh ids pinging us.
    let t = ms(3000);
    let flood = 1000..1000 + 3 * CAP as u32;
    let mut flood_ids = flood.clone();
    let mut removed = Vec::new();
    let mut step = |r: &mut Ring, k: usize, removed: &mut Vec<MemberId>| {
        for n in flood_ids.by_ref().take(k) {
            hear_collect(r, member(n), t, removed);
        }
    };
    // Free room first: nothing is evicted.
    step(&mut r, CAP - known, &mut removed);
    assert_eq!(r.members().len(), CAP);
    assert_eq!(r.stats().members_evicted, 0);
    // Then the Departed records go, oldest first, before any Confirmed one.
    step(&mut r, 5, &mut removed);
    assert_eq!(removed, (11..=15).map(id).collect::<Vec<_>>());
    assert!((16..=20).all(|n| present(&r, n)));
    // Then the Confirmed ones, oldest verdict first.
    step(&mut r, 2, &mut removed);
    assert_eq!(removed[5..], [id(16), id(17)]);
    step(&mut r, 3, &mut removed);
    assert_eq!(removed[7..], [id(18), id(19), id(20)]);
    // Then the Departed member of our group; never the Confirmed one nor the permanent peer.
    step(&mut r, 1, &mut removed);
    assert_eq!(removed[10..], [id(23)]);
    step(&mut r, usize::MAX, &mut removed);
    assert_eq!(removed.len(), 11);

    assert_eq!(r.members().len(), CAP);
    assert_eq!(r.stats().members_evicted, 11);
    let admitted = CAP - known + 11;
    assert_eq!(r.stats().members_refused, (3 * CAP - admitted) as u64);
    for n in friends.clone().chain([21, 22]) {
        assert!(present(&r, n), "member {n} was lost");
    }
    assert!(
        friends
            .clone()
            .all(|n| r.members().health(&id(n)) == Some(Health::Alive))
    );
    // Refused ids are not held.
    assert!(!present(&r, flood.end - 1));

    // Membership records of fresh ids (rumors or piggybacked) are refused as well.
    let refused_before = r.stats().members_refused;
    for n in 5000..5000 + 3 * CAP as u32 {
        let alive = Membership {
            member: member(n),
            health: Health::Alive,
        };
        r.handle_rumor(
            Rumor::Member {
                from: id(1),
                membership: alive,
            },
            t,
        );
    }
    let suspects: Vec<Membership> = (6000..6010)
        .map(|n| Membership {
            member: member(n),
            health: Health::Suspect,
        })
        .collect();
    hear(&mut r, member(2), suspects, t);
    assert_eq!(r.members().len(), CAP);
    assert_eq!(
        r.stats().members_refused,
        refused_before + 3 * CAP as u64 + 10
    );
    for n in friends.chain([21, 22]) {
        assert!(present(&r, n), "member {n} was lost");
    }
}

fn hear_collect(r: &mut Ring, from: Member, now: Time, removed: &mut Vec<MemberId>) {
    let src = SocketAddr::new(from.address, from.swim_port);
    r.handle_datagram(src, ping(from, vec![]), now);
    for ev in drain(r) {
        if let Event::MemberRemoved(id) = ev {
            removed.push(id);
        }
    }
}

#[test]
fn config_and_files_keep_only_the_newest_per_group_and_file_name() {
    let mut r = ring(Config::default());
    let t = Time::ZERO;
    for inc in [3, 1, 5, 2] {
        r.handle_rumor(config("redis.default", inc), t);
        r.handle_rumor(config("redis.other", inc + 10), t);
    }
    for (name, inc) in [("a.conf", 2), ("b.conf", 1), ("a.conf", 7), ("a.conf", 4)] {
        r.handle_rumor(file("redis.default", name, inc), t);
    }
    let configs: Vec<(String, u64)> = r
        .rumors()
        .iter()
        .filter_map(|(_, e)| match &e.rumor {
            Rumor::ServiceConfig(c) => Some((c.service_group.clone(), c.incarnation)),
            _ => None,
        })
        .collect();
    assert_eq!(
        configs,
        [("redis.default".into(), 5), ("redis.other".into(), 15)]
    );
    let files: Vec<(String, u64)> = r
        .rumors()
        .iter()
        .filter_map(|(_, e)| match &e.rumor {
            Rumor::ServiceFile(f) => Some((f.filename.clone(), f.incarnation)),
            _ => None,
        })
        .collect();
    assert_eq!(files, [("a.conf".into(), 7), ("b.conf".into(), 1)]);
}

#[test]
fn config_and_files_of_groups_without_live_members_are_collected_after_gc_age() {
    let cfg = Config::default();
    let gc_age = cfg.gc_age;
    let mut r = ring(cfg);
    let t0 = Time::ZERO;
    // We run a service in `mine`; member 1 (Alive) in `theirs`; member 2 in `recent` departed
    // shortly before the collection; member 3 in `gone` departed long ago.
    r.publish_service(service_of(0, "mine.default"), t0);
    for n in 1..=3 {
        hear(&mut r, member(n), vec![], t0);
    }
    r.handle_rumor(service(1, "theirs.default"), t0);
    r.handle_rumor(service(2, "recent.default"), t0);
    r.handle_rumor(service(3, "gone.default"), t0);
    let mut departed = member(3);
    departed.departed = true;
    hear(&mut r, departed, vec![], Time::from_millis(1));

    let kept = ["mine.default", "theirs.default", "recent.default"];
    for g in kept.iter().chain(&["gone.default"]) {
        r.handle_rumor(config(g, 1), t0);
        r.handle_rumor(file(g, "f.txt", 1), t0);
    }
    // The flood: config and files for 1000 groups nobody runs.
    const EMPTY: usize = 1000;
    for g in 0..EMPTY {
        let group = format!("empty{g}.default");
        r.handle_rumor(config(&group, 1), t0);
        r.handle_rumor(file(&group, "a.txt", 1), t0);
        r.handle_rumor(file(&group, "b.txt", 1), t0);
    }
    drain(&mut r);
    let count = |r: &Ring| {
        r.rumors()
            .iter()
            .filter(|(k, _)| matches!(k, RumorKey::ServiceConfig(_) | RumorKey::ServiceFile(..)))
            .count()
    };
    assert_eq!(count(&r), 3 * EMPTY + 2 * 4);

    let later = t0 + gc_age - Duration::from_secs(60);
    let mut recent = member(2);
    recent.departed = true;
    hear(&mut r, recent, vec![], later);
    // Before gc_age nothing goes.
    r.handle_timeout(later);
    drain(&mut r);
    assert_eq!(count(&r), 3 * EMPTY + 2 * 4);

    let collected_before = r.stats().collected;
    let now = t0 + gc_age + Duration::from_secs(30);
    r.handle_timeout(now);
    let removed = drain(&mut r)
        .into_iter()
        .filter(|e| {
            matches!(
                e,
                Event::RumorRemoved(RumorKey::ServiceConfig(_) | RumorKey::ServiceFile(..))
            )
        })
        .count();
    assert_eq!(removed, 3 * EMPTY + 2);
    assert!(r.stats().collected >= collected_before + (3 * EMPTY + 2) as u64);
    assert_eq!(count(&r), 2 * kept.len());
    for g in kept {
        assert!(
            r.rumors().get(&RumorKey::ServiceConfig(g.into())).is_some(),
            "{g} lost its config"
        );
        assert!(
            r.rumors()
                .get(&RumorKey::ServiceFile(g.into(), "f.txt".into()))
                .is_some(),
            "{g} lost its file"
        );
    }
    assert_eq!(r.members().health(&id(1)), Some(Health::Alive));
}
