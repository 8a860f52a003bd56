//! Property tests: decoders never panic on any input, encode/decode round-trips, and
//! [`ExactSize`] is exact (and `warren_ring::EstimatedSize` never below it).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, OnceLock};

use proptest::prelude::*;
use prost::Message;
use prost::encoding::encoded_len_varint;
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::SeedableRng;
use warren_proto::{common::Wire, newscast as npb, swim as spb};
use warren_ring::{
    Departure, Election, ElectionStatus, EstimatedSize, Health, Member, MemberId, Membership,
    Rumor, Service, ServiceConfig, ServiceFile, Swim, SwimKind, SysInfo, WireSize,
};
use warren_wire::{
    ExactSize, RingKey, decode_rumor, decode_swim, decode_swim_counted, encode_rumor, encode_swim,
    envelope,
};

const SRC: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3)), 9638);

fn key() -> &'static RingKey {
    static KEY: OnceLock<RingKey> = OnceLock::new();
    KEY.get_or_init(|| {
        RingKey::generate(
            "prop",
            "20260101000000",
            &mut Xoshiro256PlusPlus::seed_from_u64(3),
        )
        .unwrap()
    })
}

// ----- warren-ring values --------------------------------------------------------------------

fn hex_id() -> impl Strategy<Value = MemberId> {
    "[0-9a-f]{32}".prop_map(MemberId::new)
}

fn any_id() -> impl Strategy<Value = MemberId> {
    prop_oneof![hex_id(), "[a-zA-Z0-9_-]{1,48}".prop_map(MemberId::new)]
}

fn ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|b| IpAddr::V4(Ipv4Addr::from(b))),
        any::<[u16; 8]>().prop_map(|s| IpAddr::V6(Ipv6Addr::from(s))),
        any::<[u8; 4]>().prop_map(|b| IpAddr::V6(Ipv4Addr::from(b).to_ipv6_mapped())),
    ]
}

fn member_with(id: impl Strategy<Value = MemberId>) -> impl Strategy<Value = Member> {
    (
        id,
        any::<u64>(),
        ip(),
        any::<u16>(),
        any::<u16>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(id, incarnation, address, swim_port, gossip_port, persistent, departed)| Member {
                id,
                incarnation,
                address,
                swim_port,
                gossip_port,
                persistent,
                departed,
            },
        )
}

fn health() -> impl Strategy<Value = Health> {
    prop_oneof![
        Just(Health::Alive),
        Just(Health::Suspect),
        Just(Health::Confirmed),
        Just(Health::Departed)
    ]
}

fn membership_with(id: impl Strategy<Value = MemberId>) -> impl Strategy<Value = Membership> {
    (member_with(id), health()).prop_map(|(member, health)| Membership { member, health })
}

fn swim() -> impl Strategy<Value = Swim> {
    let kind = prop_oneof![
        proptest::option::of(member_with(any_id()))
            .prop_map(|forward_to| SwimKind::Ping { forward_to }),
        proptest::option::of(member_with(any_id()))
            .prop_map(|forward_to| SwimKind::Ack { forward_to }),
        member_with(any_id()).prop_map(|target| SwimKind::PingReq { target }),
        Just(SwimKind::ProbePing),
    ];
    (
        member_with(any_id()),
        kind,
        proptest::collection::vec(membership_with(any_id()), 0..14),
    )
        .prop_map(|(from, kind, membership)| Swim {
            from,
            kind,
            membership,
        })
}

fn text() -> impl Strategy<Value = String> {
    "[ -~]{0,40}"
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..max)
}

fn service_group() -> impl Strategy<Value = String> {
    (
        "[a-z0-9_-]{1,12}",
        "[a-z0-9_-]{1,12}",
        proptest::option::of("[a-z0-9]{1,8}"),
    )
        .prop_map(|(s, g, org)| match org {
            Some(o) => format!("{s}.{g}@{o}"),
            None => format!("{s}.{g}"),
        })
}

fn election(id: BoxedStrategy<MemberId>) -> impl Strategy<Value = Election> {
    let status = prop_oneof![
        Just(ElectionStatus::Running),
        Just(ElectionStatus::NoQuorum),
        Just(ElectionStatus::Finished)
    ];
    (
        id.clone(),
        service_group(),
        any::<u64>(),
        any::<u64>(),
        status,
        proptest::collection::vec(id, 0..6),
    )
        .prop_map(
            |(member_id, service_group, term, suitability, status, votes)| Election {
                member_id,
                service_group,
                term,
                suitability,
                status,
                votes,
                committed: None,
            },
        )
}

/// Rumors; `id` draws every member id in them (32 hex digits for the estimate test).
fn rumor(id: BoxedStrategy<MemberId>) -> impl Strategy<Value = Rumor> {
    let sys = (
        text(),
        text(),
        text(),
        any::<u32>(),
        text(),
        any::<u32>(),
        text(),
        any::<u32>(),
    )
        .prop_map(
            |(
                ip,
                hostname,
                gossip_ip,
                gossip_port,
                http_gateway_ip,
                http_gateway_port,
                ctl_gateway_ip,
                ctl_gateway_port,
            )| {
                SysInfo {
                    ip,
                    hostname,
                    gossip_ip,
                    gossip_port,
                    http_gateway_ip,
                    http_gateway_port,
                    ctl_gateway_ip,
                    ctl_gateway_port,
                }
            },
        );
    let service = (
        any::<u64>(),
        id.clone(),
        service_group(),
        text(),
        any::<u64>(),
        any::<bool>(),
        bytes(300),
        sys,
    )
        .prop_map(
            |(
                incarnation,
                member_id,
                service_group,
                pkg,
                pkg_incarnation,
                initialized,
                cfg,
                sys,
            )| {
                Rumor::Service(Arc::new(Service {
                    incarnation,
                    member_id,
                    service_group,
                    pkg,
                    pkg_incarnation,
                    initialized,
                    withdrawn: false,
                    cfg,
                    sys,
                }))
            },
        );
    let config = (any::<u64>(), text(), any::<bool>(), bytes(400)).prop_map(
        |(incarnation, service_group, encrypted, config)| {
            Rumor::ServiceConfig(Arc::new(ServiceConfig {
                incarnation,
                service_group,
                encrypted,
                config,
            }))
        },
    );
    let file = (any::<u64>(), text(), text(), any::<bool>(), bytes(400)).prop_map(
        |(incarnation, service_group, filename, encrypted, body)| {
            Rumor::ServiceFile(Arc::new(ServiceFile {
                incarnation,
                service_group,
                filename,
                encrypted,
                body,
            }))
        },
    );
    prop_oneof![
        (id.clone(), membership_with(id.clone()))
            .prop_map(|(from, membership)| Rumor::Member { from, membership }),
        service,
        config,
        file,
        election(id.clone()).prop_map(|e| Rumor::Election(Arc::new(e))),
        election(id.clone()).prop_map(|e| Rumor::ElectionUpdate(Arc::new(e))),
        id.prop_map(|member_id| Rumor::Departure(Arc::new(Departure { member_id }))),
    ]
}

/// What decoding `msg` as sent should give: the sender's address comes from the datagram's
/// source unless it is written out (an Ack with `forward_to`).
fn as_received(msg: &Swim) -> Swim {
    let mut m = msg.clone();
    if !matches!(
        m.kind,
        SwimKind::Ack {
            forward_to: Some(_)
        }
    ) {
        m.from.address = SRC.ip();
    }
    m
}

/// Length of the Swim protobuf inside an encoded datagram.
fn inner_len(msg: &Swim) -> usize {
    envelope::open(&encode_swim(msg, None), None).unwrap().len()
}

// ----- raw protobuf messages (for the never-panics tests) ------------------------------------
// Mostly well-formed, so decoding often gets past the first check; each part is sometimes
// missing or out of range.

fn often<T: std::fmt::Debug>(s: impl Strategy<Value = T>) -> impl Strategy<Value = Option<T>> {
    proptest::option::weighted(0.96, s)
}

/// The right enum number most of the time, any small number otherwise.
fn mostly(right: i32) -> impl Strategy<Value = i32> {
    prop_oneof![6 => Just(right), 1 => -1..11i32]
}

fn pb_member() -> impl Strategy<Value = spb::Member> {
    let address = prop_oneof![
        Just(String::new()),
        Just("127.0.0.1".to_owned()),
        Just("::1".to_owned()),
        "[ -~]{0,12}",
    ];
    let port = prop_oneof![8 => 0..=65535i32, 1 => any::<i32>()];
    (
        often(prop_oneof![1 => Just(String::new()), 8 => "[0-9a-f]{32}"]),
        often(any::<u64>()),
        often(address),
        often(port.clone()),
        often(port),
        often(any::<bool>()),
        often(any::<bool>()),
        often(any::<bool>()),
    )
        .prop_map(
            |(
                id,
                incarnation,
                address,
                swim_port,
                gossip_port,
                persistent,
                departed,
                probe_ping,
            )| {
                spb::Member {
                    id,
                    incarnation,
                    address,
                    swim_port,
                    gossip_port,
                    persistent,
                    departed,
                    probe_ping,
                }
            },
        )
}

fn pb_membership() -> impl Strategy<Value = spb::Membership> {
    (
        often(pb_member()),
        often(prop_oneof![8 => 1..=4i32, 1 => any::<i32>()]),
    )
        .prop_map(|(member, health)| spb::Membership { member, health })
}

fn pb_swim() -> impl Strategy<Value = spb::Swim> {
    use spb::swim::Payload as P;
    let m = || often(pb_member());
    let payload = prop_oneof![
        (m(), proptest::option::of(pb_member()))
            .prop_map(|(from, forward_to)| (1, P::Ping(spb::Ping { from, forward_to }))),
        (m(), proptest::option::of(pb_member()))
            .prop_map(|(from, forward_to)| (2, P::Ack(spb::Ack { from, forward_to }))),
        (m(), m()).prop_map(|(from, target)| (3, P::Pingreq(spb::PingReq { from, target }))),
        m().prop_map(|from| (4, P::Probeping(spb::ProbePing { from }))),
    ];
    often(payload)
        .prop_flat_map(|p| {
            (
                mostly(p.as_ref().map_or(1, |(t, _)| *t)),
                Just(p.map(|(_, p)| p)),
            )
        })
        .prop_flat_map(|(r#type, payload)| {
            proptest::collection::vec(pb_membership(), 0..4).prop_map(move |membership| spb::Swim {
                r#type,
                membership,
                payload: payload.clone(),
            })
        })
}

fn pb_rumor() -> impl Strategy<Value = npb::Rumor> {
    use npb::rumor::Payload as P;
    let s = || {
        often(
            prop_oneof![1 => Just(String::new()), 6 => "[a-z]{1,4}\\.[a-z]{1,4}", 1 => "[a-z.@#]{0,6}"],
        )
    };
    let payload = prop_oneof![
        pb_membership().prop_map(|m| (1, P::Member(m))),
        (s(), s(), s(), often((s(), s()))).prop_map(|(member_id, service_group, pkg, sys)| {
            (
                2,
                P::Service(npb::Service {
                    member_id,
                    service_group,
                    pkg,
                    sys: sys.map(|(ip, hostname)| npb::SysInfo {
                        ip,
                        hostname,
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
            )
        }),
        s().prop_map(|service_group| (
            4,
            P::ServiceConfig(npb::ServiceConfig {
                service_group,
                ..Default::default()
            })
        )),
        (s(), s()).prop_map(|(service_group, filename)| (
            5,
            P::ServiceFile(npb::ServiceFile {
                service_group,
                filename,
                ..Default::default()
            })
        )),
        (
            s(),
            often(prop_oneof![6 => 1..=3i32, 1 => any::<i32>()]),
            any::<bool>()
        )
            .prop_map(|(service_group, status, update)| {
                (
                    if update { 8 } else { 3 },
                    P::Election(npb::Election {
                        service_group,
                        status,
                        ..Default::default()
                    }),
                )
            }),
        s().prop_map(|member_id| (9, P::Departure(npb::Departure { member_id }))),
    ];
    (often(payload), s())
        .prop_flat_map(|(p, from_id)| {
            (
                mostly(p.as_ref().map_or(1, |(t, _)| *t)),
                Just(p.map(|(_, p)| p)),
                Just(from_id),
            )
        })
        .prop_map(|(r#type, payload, from_id)| npb::Rumor {
            r#type,
            tag: Vec::new(),
            from_id,
            payload,
        })
}

fn wrap(payload: Vec<u8>) -> Vec<u8> {
    Wire {
        encrypted: None,
        nonce: None,
        payload: Some(payload),
    }
    .encode_to_vec()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn decoding_arbitrary_bytes_never_panics(data in bytes(1500)) {
        let _ = decode_swim(&data, SRC, None);
        let _ = decode_swim(&data, SRC, Some(key()));
        let _ = decode_rumor(&data, None);
        let _ = decode_rumor(&data, Some(key()));
        // The same bytes as a Wire payload, to reach the message decoders.
        let wrapped = wrap(data);
        let _ = decode_swim(&wrapped, SRC, None);
        let _ = decode_rumor(&wrapped, None);
    }

    #[test]
    fn decoding_mutated_datagrams_never_panics(
        msg in swim(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
    ) {
        let mut data = encode_swim(&msg, None);
        for (i, b) in edits {
            let i = i.index(data.len());
            data[i] = b;
        }
        let _ = decode_swim_counted(&data, SRC, None);
        let _ = decode_rumor(&data, None);
    }

    #[test]
    fn arbitrary_swim_protobufs_decode_or_fail_cleanly(msg in pb_swim()) {
        let data = wrap(msg.encode_to_vec());
        if let Ok(d) = decode_swim_counted(&data, SRC, None) {
            let again = encode_swim(&d.swim, None);
            prop_assert_eq!(as_received(&decode_swim(&again, SRC, None).unwrap()), as_received(&d.swim));
        }
    }

    #[test]
    fn arbitrary_rumor_protobufs_decode_or_fail_cleanly(msg in pb_rumor()) {
        let data = wrap(msg.encode_to_vec());
        if let Ok(r) = decode_rumor(&data, None) {
            prop_assert_eq!(decode_rumor(&encode_rumor(&r, None), None).unwrap(), r);
        }
    }

    #[test]
    fn swim_roundtrips(msg in swim()) {
        let expected = as_received(&msg);
        prop_assert_eq!(decode_swim(&encode_swim(&msg, None), SRC, None).unwrap(), expected.clone());
        prop_assert_eq!(decode_swim(&encode_swim(&msg, Some(key())), SRC, Some(key())).unwrap(), expected);
    }

    #[test]
    fn rumor_roundtrips(r in rumor(any_id().boxed())) {
        prop_assert_eq!(decode_rumor(&encode_rumor(&r, None), None).unwrap(), r.clone());
        prop_assert_eq!(decode_rumor(&encode_rumor(&r, Some(key())), Some(key())).unwrap(), r);
    }

    #[test]
    fn exact_swim_sizes(msg in swim()) {
        for (sizer, k) in [(ExactSize::plaintext(), None), (ExactSize::encrypted(), Some(key()))] {
            prop_assert_eq!(sizer.swim_len(&msg), encode_swim(&msg, k).len());
            prop_assert!(EstimatedSize.swim_len(&msg) >= sizer.swim_len(&msg));
            let mut base = msg.clone();
            if let Some(last) = base.membership.pop() {
                let increment = sizer.swim_len(&msg) - sizer.swim_len(&base);
                let overhead = if sizer.is_encrypted() { envelope::MAC_LEN } else { 0 };
                // The Wire.payload length prefix may grow by a byte as the Swim crosses 128 bytes.
                let growth = encoded_len_varint((inner_len(&msg) + overhead) as u64)
                    - encoded_len_varint((inner_len(&base) + overhead) as u64);
                prop_assert!(growth <= 1);
                prop_assert_eq!(increment, sizer.membership_len(&last) + growth);
                prop_assert!(EstimatedSize.membership_len(&last) >= sizer.membership_len(&last));
            }
            // What the core adds up from the estimate never falls short of the real datagram.
            let mut bare = msg.clone();
            bare.membership.clear();
            let summed = EstimatedSize.swim_len(&bare)
                + msg.membership.iter().map(|m| EstimatedSize.membership_len(m)).sum::<usize>();
            prop_assert!(summed >= sizer.swim_len(&msg));
        }
    }

    #[test]
    fn exact_rumor_sizes(r in rumor(hex_id().boxed())) {
        for (sizer, k) in [(ExactSize::plaintext(), None), (ExactSize::encrypted(), Some(key()))] {
            prop_assert_eq!(sizer.rumor_len(&r), encode_rumor(&r, k).len());
            prop_assert!(EstimatedSize.rumor_len(&r) >= sizer.rumor_len(&r));
        }
    }
}
