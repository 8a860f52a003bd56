//! Property tests of the merge rules: applying the same set of rumors (or membership records) in
//! any order, any number of times, ends in the same state.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use proptest::prelude::*;
use warren_ring::members::MemberList;
use warren_ring::{
    Committed, Departure, Election, ElectionStatus, Health, Member, MemberId, Membership, Rumor,
    RumorStore, Service, ServiceConfig, ServiceFile, SysInfo, Time,
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

/// A copy of one finished result (candidate m0, term 3) as some holder has it: the votes it has
/// absorbed so far, and the winner's seal or not (a Habitat peer forwards it without).
fn result_copy() -> impl Strategy<Value = Rumor> {
    (prop::collection::vec(1u8..5, 0..5), any::<bool>()).prop_map(|(more, sealed)| {
        let id = |n: u8| MemberId::new(format!("m{n}"));
        let mut votes = vec![id(0)];
        for n in more {
            if !votes.contains(&id(n)) {
                votes.push(id(n));
            }
        }
        Rumor::Election(Arc::new(Election {
            member_id: id(0),
            service_group: "a.default".into(),
            term: 3,
            suitability: 0,
            status: ElectionStatus::Finished,
            votes,
            committed: sealed.then(|| Committed {
                term: 3,
                voters: vec![id(0), id(1)],
            }),
        }))
    })
}

/// The voters (as a set) and the committed electorate of the one election stored.
fn result_state(rumors: &[Rumor]) -> (Vec<MemberId>, Option<Committed>) {
    let mut s = RumorStore::new();
    for r in rumors {
        s.merge(r.clone(), Time::ZERO);
    }
    match s.iter().next().map(|(_, e)| e.rumor.clone()) {
        Some(Rumor::Election(e)) => {
            let mut votes = e.votes.clone();
            votes.sort();
            (votes, e.committed.clone())
        }
        _ => (Vec::new(), None),
    }
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

    /// Copies of one result converge on the union of their votes and on the winner's seal,
    /// whatever order they arrive in.
    #[test]
    fn copies_of_a_result_converge_on_its_votes_and_its_seal(rs in prop::collection::vec(result_copy(), 1..8)) {
        let mut rev = rs.clone();
        rev.reverse();
        let state = result_state(&rs);
        prop_assert_eq!(&state, &result_state(&rev));
        let any_sealed = rs.iter().any(|r| matches!(r, Rumor::Election(e) if e.committed.is_some()));
        prop_assert_eq!(state.1.is_some(), any_sealed);
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
