//! Bounded state under hostile or huge input: a flood of new member ids stays within
//! `Config::max_members` without losing the members already known, and gossiped config and files
//! of groups nobody runs any more are collected while a live group keeps its own, and a periodic
//! anti-entropy push stays a window, not the whole ring.

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

/// A periodic anti-entropy push in a ring whose state does not fit one window carries my own
/// record, every record that changed in the last two sync intervals, and the next window of a
/// rotation through the rest: its size grows with the window (log N), not with the ring, and the
/// rotation still carries every record in turn.
#[test]
fn windowed_anti_entropy_is_bounded_and_covers_every_record() {
    let cfg = Config {
        sync_window_mult: 2,
        ..Config::default()
    };
    let mut r = ring(cfg);
    let n = 40;
    for i in 1..=n {
        hear(&mut r, member(i), Vec::new(), Time::ZERO);
    }
    // Member 7 restarts at 600 s (we hear it from member 3): its record changed lately.
    let changed = 7;
    let changed_at = Time::from_millis(600_000);
    let recent = |t: Time| t > changed_at && t <= changed_at + Duration::from_secs(60);
    let me = id(0);
    let mut covered = std::collections::BTreeSet::new();
    let (mut pushes, mut recent_pushes, mut carrying_change) = (0, 0, 0);
    let mut t = Time::ZERO;
    while t < Time::from_millis(1_200_000) {
        t = t + Duration::from_millis(500);
        if t == changed_at {
            let restarted = Member {
                incarnation: 1,
                ..member(changed)
            };
            let relayed = Membership {
                member: restarted,
                health: Health::Alive,
            };
            hear(&mut r, member(3), vec![relayed], t);
        }
        r.handle_timeout(t);
        let mut acks = Vec::new();
        while let Some(tx) = r.poll_transmit() {
            let (to_id, rumors) = match tx {
                warren_ring::Transmit::Rumors { to_id, rumors, .. } => (to_id, rumors),
                // Everyone answers its probes, so the ring stays whole.
                warren_ring::Transmit::Swim { to, msg } => {
                    if matches!(msg.kind, SwimKind::Ping { .. } | SwimKind::ProbePing)
                        && let IpAddr::V4(ip) = to.ip()
                    {
                        let [_, a, b, c] = ip.octets();
                        acks.push(u32::from_be_bytes([0, a, b, c]));
                    }
                    continue;
                }
            };
            let mine_first = matches!(rumors.first(),
                Some(Rumor::Member { membership, .. }) if membership.member.id == me);
            // Every record changed at time 0, so pushes carry everything for two intervals; the
            // restarted member itself is sent everything (it may hold nothing).
            if !mine_first || t <= Time::from_millis(61_000) || to_id == id(changed) {
                continue;
            }
            pushes += 1;
            // My own record, the window (2 × ceil(log10(41 + 1)) = 4), and the changed record.
            let bound = if recent(t) { 6 } else { 5 };
            assert!(
                rumors.len() <= bound,
                "push {pushes} at {t:?} carried {} rumors",
                rumors.len()
            );
            if recent(t) {
                recent_pushes += 1;
            }
            for x in &rumors[1..] {
                if let Rumor::Member { membership, .. } = x {
                    covered.insert(membership.member.id.clone());
                    if recent(t) && membership.member.id == id(changed) {
                        assert_eq!(membership.member.incarnation, 1);
                        carrying_change += 1;
                    }
                }
            }
        }
        for i in acks {
            let from = member(i);
            let src = SocketAddr::new(from.address, from.swim_port);
            let ack = Swim {
                from,
                kind: SwimKind::Ack { forward_to: None },
                membership: Vec::new(),
            };
            r.handle_datagram(src, ack, t);
        }
        drain(&mut r);
    }
    assert!(r.stats().windowed_syncs >= 10, "{:?}", r.stats());
    assert_eq!(covered.len(), n as usize, "pushes: {pushes}");
    assert!(
        recent_pushes >= 1,
        "no push in the two intervals after the change"
    );
    assert_eq!(
        carrying_change, recent_pushes,
        "every push in the two intervals after a change carries it"
    );
}

/// A windowed push is not a sync of its target: a member heard of from others and then met
/// directly while young is still owed the full sync (here with certainty: 3 / N ≥ 1), even if
/// a periodic window reached it first. (Counting the window as a sync left newcomers in
/// `warren-sim churn` without the records a full sync would have given them, and their dead
/// records outlived `departure_timeout + gc_age`.)
#[test]
fn a_window_does_not_stand_in_for_a_young_members_full_sync() {
    let cfg = Config {
        sync_window_mult: 1,
        sync_interval: Duration::from_secs(1),
        reconnect_interval: Duration::from_secs(600),
        // No probes: member 2 must not reach us (an Ack is contact) before the window does.
        probe_interval: Duration::from_secs(3600),
        ..Config::default()
    };
    let mut r = ring(cfg);
    // Member 1 reaches us and tells us of member 2, which has not reached us yet.
    let two = Membership {
        member: member(2),
        health: Health::Alive,
    };
    hear(&mut r, member(1), vec![two], Time::ZERO);
    assert_eq!(r.members().health(&id(2)), Some(Health::Alive));
    // Periodic pushes until one (windowed: 2 records do not fit a window of 1) goes to member 2.
    let mut t = Time::ZERO;
    let mut windows_to_two = 0;
    while windows_to_two == 0 {
        assert!(
            t < Time::from_millis(300_000),
            "no periodic push to member 2"
        );
        t = t + Duration::from_millis(100);
        let windowed = r.stats().windowed_syncs;
        r.handle_timeout(t);
        while let Some(tx) = r.poll_transmit() {
            if let warren_ring::Transmit::Rumors { to_id, .. } = tx
                && to_id == id(2)
                && r.stats().windowed_syncs > windowed
            {
                windows_to_two += 1;
            }
        }
        drain(&mut r);
    }
    // Member 2 now reaches us directly, still young: it gets everything we hold.
    let from = member(2);
    let src = SocketAddr::new(from.address, from.swim_port);
    r.handle_datagram(src, ping(from, Vec::new()), t);
    let full: Vec<Vec<Rumor>> = std::iter::from_fn(|| r.poll_transmit())
        .filter_map(|tx| match tx {
            warren_ring::Transmit::Rumors { to_id, rumors, .. } if to_id == id(2) => Some(rumors),
            _ => None,
        })
        .collect();
    let carries_one = |rumors: &Vec<Rumor>| {
        rumors
            .iter()
            .any(|x| matches!(x, Rumor::Member { membership, .. } if membership.member.id == id(1)))
    };
    assert!(
        full.iter()
            .any(|rumors| rumors.len() >= 2 && carries_one(rumors)),
        "no full sync to the young member: {full:?}"
    );
}
