//! Property tests of the merge rules: applying the same set of rumors (or membership records) in
//! any order, any number of times, ends in the same state.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use proptest::prelude::*;
use warren_ring::members::MemberList;
use warren_ring::{
    Departure, Health, Member, MemberId, Membership, Rumor, RumorStore, Service, ServiceConfig,
    ServiceFile, SysInfo, Time,
};

fn health() -> impl Strategy<Value = Health> {
    prop_oneof![
        Just(Health::Alive),
        Just(Health::Suspect),
        Just(Health::Confirmed),
        Just(Health::Departed)
    ]
}

fn membership() -> impl Strategy<Value = Membership> {
    (0u8..4, 0u64..4, health()).prop_map(|(id, inc, health)| Membership {
        member: Member {
            id: MemberId::new(format!("m{id}")),
            incarnation: inc,
            address: IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)),
            swim_port: 9638,
            gossip_port: 9638,
            persistent: false,
            departed: false,
        },
        health,
    })
}

fn rumor() -> impl Strategy<Value = Rumor> {
    let group = prop_oneof![Just("a.default"), Just("b.default")];
    let body = prop::collection::vec(any::<u8>(), 0..3);
    prop_oneof![
        (0u8..3, group.clone(), 0u64..3, body.clone()).prop_map(|(m, g, inc, cfg)| {
            Rumor::Service(Arc::new(Service {
                incarnation: inc,
                member_id: MemberId::new(format!("m{m}")),
                service_group: g.into(),
                pkg: "core/x/1/2".into(),
                pkg_incarnation: 0,
                initialized: false,
                withdrawn: false,
                cfg,
                sys: SysInfo::default(),
            }))
        }),
        (group.clone(), 0u64..3, body.clone()).prop_map(|(g, inc, config)| {
            Rumor::ServiceConfig(Arc::new(ServiceConfig {
                incarnation: inc,
                service_group: g.into(),
                encrypted: false,
                config,
            }))
        }),
        (group, 0u64..3, body).prop_map(|(g, inc, b)| {
            Rumor::ServiceFile(Arc::new(ServiceFile {
                incarnation: inc,
                service_group: g.into(),
                filename: "f.txt".into(),
                encrypted: false,
                body: b,
            }))
        }),
        (0u8..3).prop_map(|m| Rumor::Departure(Arc::new(Departure {
            member_id: MemberId::new(format!("m{m}"))
        }))),
    ]
}

fn store_state(rumors: &[Rumor]) -> Vec<(String, Rumor)> {
    let mut s = RumorStore::new();
    for r in rumors {
        s.merge(r.clone(), Time::ZERO);
    }
    s.iter()
        .map(|(k, e)| (format!("{k:?}"), e.rumor.clone()))
        .collect()
}

fn member_state(list: &[Membership]) -> Vec<(MemberId, u64, Health)> {
    let mut l = MemberList::new();
    for m in list {
        l.merge(m, Time::ZERO);
    }
    l.iter()
        .map(|r| (r.member.id.clone(), r.member.incarnation, r.health))
        .collect()
}

proptest! {
    #[test]
    fn rumor_merge_is_order_independent(rs in prop::collection::vec(rumor(), 0..24), seed in any::<u64>()) {
        let mut shuffled = rs.clone();
        // A deterministic permutation from the seed.
        let n = shuffled.len();
        for i in (1..n).rev() {
            let j = (seed.wrapping_mul(6364136223846793005).wrapping_add(i as u64) % (i as u64 + 1)) as usize;
            shuffled.swap(i, j);
        }
        prop_assert_eq!(store_state(&rs), store_state(&shuffled));
    }

    #[test]
    fn rumor_merge_is_idempotent(rs in prop::collection::vec(rumor(), 0..24)) {
        let twice: Vec<Rumor> = rs.iter().chain(rs.iter()).cloned().collect();
        prop_assert_eq!(store_state(&rs), store_state(&twice));
    }

    #[test]
    fn rumor_merge_is_commutative(a in rumor(), b in rumor()) {
        prop_assert_eq!(store_state(&[a.clone(), b.clone()]), store_state(&[b, a]));
    }

    #[test]
    fn member_merge_is_order_independent(ms in prop::collection::vec(membership(), 0..24)) {
        let mut rev = ms.clone();
        rev.reverse();
        prop_assert_eq!(member_state(&ms), member_state(&rev));
        let twice: Vec<Membership> = ms.iter().chain(ms.iter()).cloned().collect();
        prop_assert_eq!(member_state(&ms), member_state(&twice));
    }

    #[test]
    fn member_merge_is_commutative(a in membership(), b in membership()) {
        prop_assert_eq!(member_state(&[a.clone(), b.clone()]), member_state(&[b, a]));
    }
}
