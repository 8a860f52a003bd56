//! Decodes every message captured from real Habitat peers (`shared/habitat/wire`), checks the
//! values against the `protoc --decode` text forms, re-encodes them, and compares Warren's bytes
//! with Habitat's.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use common::{Node, files, wire_dir, zmtp_messages};
use prost::Message;
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::SeedableRng;
use warren_proto::swim as pb;
use warren_ring::{ElectionStatus, Health, Member, Rumor, Swim, SwimKind};
use warren_wire::{
    RingKey, WireError, decode_rumor, decode_swim, decode_swim_counted, encode_rumor, encode_swim,
    envelope,
};

/// All captures were taken on loopback.
const SRC: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 19999);

fn test_key() -> RingKey {
    let text =
        std::fs::read_to_string(wire_dir().join("encrypted/testring-20261124000000.sym.key"))
            .unwrap();
    RingKey::parse(&text).unwrap()
}

fn check_member(m: &Member, t: &Node, sender: bool) {
    assert_eq!(m.id.as_str(), t.str("id"));
    assert_eq!(m.incarnation, t.u64("incarnation"));
    let addr = t.str("address");
    if sender && addr.is_empty() {
        assert_eq!(
            m.address,
            SRC.ip(),
            "empty sender address becomes the source IP"
        );
    } else {
        assert_eq!(m.address, addr.parse::<IpAddr>().unwrap());
    }
    assert_eq!(u64::from(m.swim_port), t.u64("swim_port"));
    assert_eq!(u64::from(m.gossip_port), t.u64("gossip_port"));
    assert_eq!(m.persistent, t.boolean("persistent"));
    assert_eq!(m.departed, t.boolean("departed"));
}

fn health_name(h: Health) -> &'static str {
    match h {
        Health::Alive => "ALIVE",
        Health::Suspect => "SUSPECT",
        Health::Confirmed => "CONFIRMED",
        Health::Departed => "DEPARTED",
    }
}

fn check_swim(s: &Swim, t: &Node) {
    let (ty, field) = match &s.kind {
        SwimKind::Ping { .. } => ("PING", "ping"),
        SwimKind::Ack { .. } => ("ACK", "ack"),
        SwimKind::PingReq { .. } => ("PINGREQ", "pingreq"),
        SwimKind::ProbePing => ("PROBEPING", "probeping"),
    };
    assert_eq!(t.scalar("type"), ty);
    let p = t.msg(field);
    check_member(&s.from, p.msg("from"), true);
    match &s.kind {
        SwimKind::Ping { forward_to } | SwimKind::Ack { forward_to } => {
            assert_eq!(forward_to.is_some(), p.has("forward_to"));
            if let Some(f) = forward_to {
                check_member(f, p.msg("forward_to"), false);
            }
        }
        SwimKind::PingReq { target } => check_member(target, p.msg("target"), false),
        SwimKind::ProbePing => {}
    }
    let records = t.msgs("membership");
    assert_eq!(s.membership.len(), records.len());
    for (m, r) in s.membership.iter().zip(records) {
        check_member(&m.member, r.msg("member"), false);
        assert_eq!(health_name(m.health), r.scalar("health"));
    }
}

/// Whether Warren writes this message's `from.address` differently from the capture: an Ack
/// with `forward_to` whose sender left the address empty (Warren writes the address there so a
/// relayed Ack names the target; see `swim.rs`).
fn address_differs(s: &Swim, t: &Node) -> bool {
    matches!(
        s.kind,
        SwimKind::Ack {
            forward_to: Some(_)
        }
    ) && t.msg("ack").msg("from").str("address").is_empty()
}

#[test]
fn every_udp_datagram_decodes_matches_text_and_reencodes() {
    let dir = wire_dir().join("udp");
    let bins = files(&dir, ".bin");
    assert_eq!(
        bins.len(),
        12,
        "expected 12 captured datagrams in {}",
        dir.display()
    );
    let mut byte_identical = 0;
    for bin in bins {
        let name = bin.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(&bin).unwrap();
        let text = std::fs::read_to_string(bin.with_extension("txt")).unwrap();
        let t = Node::parse(&text);
        let decoded =
            decode_swim_counted(&bytes, SRC, None).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(decoded.dropped_records, 0, "{name}");
        let swim = decoded.swim;
        check_swim(&swim, &t);

        let again = encode_swim(&swim, None);
        assert_eq!(
            decode_swim(&again, SRC, None).unwrap(),
            swim,
            "{name}: re-decode"
        );

        if address_differs(&swim, &t) {
            // Same bytes as Habitat's once the sender address is filled in.
            let inner = envelope::open(&bytes, None).unwrap();
            let mut habitat = pb::Swim::decode(inner.as_slice()).unwrap();
            let Some(pb::swim::Payload::Ack(ack)) = habitat.payload.as_mut() else {
                panic!()
            };
            ack.from.as_mut().unwrap().address = Some(SRC.ip().to_string());
            assert_eq!(
                envelope::open(&again, None).unwrap(),
                habitat.encode_to_vec(),
                "{name}"
            );
            assert_ne!(again, bytes, "{name}");
        } else {
            assert_eq!(again, bytes, "{name}: Warren's bytes differ from Habitat's");
            byte_identical += 1;
        }
    }
    // Only f0269 (A's Ack to the helper, forward_to set, empty sender address) differs.
    assert_eq!(byte_identical, 11);
}

fn check_rumor(r: &Rumor, t: &Node) {
    assert!(t.strs("tag").is_empty());
    let from_id = t.str("from_id");
    match r {
        Rumor::Member { from, membership } => {
            assert_eq!(t.scalar("type"), "Member");
            assert_eq!(from.as_str(), from_id);
            let m = t.msg("member");
            check_member(&membership.member, m.msg("member"), false);
            assert_eq!(health_name(membership.health), m.scalar("health"));
        }
        Rumor::Service(s) => {
            assert_eq!(t.scalar("type"), "Service");
            let p = t.msg("service");
            assert_eq!(s.member_id.as_str(), p.str("member_id"));
            assert_eq!(from_id, p.str("member_id"));
            assert_eq!(s.service_group, p.str("service_group"));
            assert_eq!(s.incarnation, p.u64("incarnation"));
            assert_eq!(s.initialized, p.boolean("initialized"));
            assert_eq!(s.pkg, p.str("pkg"));
            assert_eq!(s.pkg_incarnation, p.u64("pkg_incarnation"));
            assert_eq!(s.cfg, p.bytes("cfg"));
            let sys = p.msg("sys");
            assert_eq!(s.sys.ip, sys.str("ip"));
            assert_eq!(s.sys.hostname, sys.str("hostname"));
            assert_eq!(s.sys.gossip_ip, sys.str("gossip_ip"));
            assert_eq!(u64::from(s.sys.gossip_port), sys.u64("gossip_port"));
            assert_eq!(s.sys.http_gateway_ip, sys.str("http_gateway_ip"));
            assert_eq!(
                u64::from(s.sys.http_gateway_port),
                sys.u64("http_gateway_port")
            );
            assert_eq!(s.sys.ctl_gateway_ip, sys.str("ctl_gateway_ip"));
            assert_eq!(
                u64::from(s.sys.ctl_gateway_port),
                sys.u64("ctl_gateway_port")
            );
        }
        Rumor::ServiceConfig(c) => {
            assert_eq!(t.scalar("type"), "ServiceConfig");
            assert_eq!(from_id, "butterflyclient");
            let p = t.msg("service_config");
            assert_eq!(c.service_group, p.str("service_group"));
            assert_eq!(c.incarnation, p.u64("incarnation"));
            assert_eq!(c.encrypted, p.boolean("encrypted"));
            assert_eq!(c.config, p.bytes("config"));
        }
        Rumor::ServiceFile(f) => {
            assert_eq!(t.scalar("type"), "ServiceFile");
            assert_eq!(from_id, "butterflyclient");
            let p = t.msg("service_file");
            assert_eq!(f.service_group, p.str("service_group"));
            assert_eq!(f.incarnation, p.u64("incarnation"));
            assert_eq!(f.encrypted, p.boolean("encrypted"));
            assert_eq!(f.filename, p.str("filename"));
            assert_eq!(f.body, p.bytes("body"));
        }
        Rumor::Election(e) | Rumor::ElectionUpdate(e) => {
            let ty = if matches!(r, Rumor::Election(_)) {
                "Election"
            } else {
                "ElectionUpdate"
            };
            assert_eq!(t.scalar("type"), ty);
            let p = t.msg("election");
            assert_eq!(e.member_id.as_str(), from_id);
            assert_eq!(e.member_id.as_str(), p.str("member_id"));
            assert_eq!(e.service_group, p.str("service_group"));
            assert_eq!(e.term, p.u64("term"));
            assert_eq!(e.suitability, p.u64("suitability"));
            let status = match e.status {
                ElectionStatus::Running => "Running",
                ElectionStatus::NoQuorum => "NoQuorum",
                ElectionStatus::Finished => "Finished",
            };
            assert_eq!(status, p.scalar("status"));
            let votes: Vec<&str> = e.votes.iter().map(|v| v.as_str()).collect();
            assert_eq!(votes, p.strs("votes"));
        }
        Rumor::Departure(d) => {
            assert_eq!(t.scalar("type"), "Departure");
            assert_eq!(from_id, "butterflyclient");
            assert_eq!(d.member_id.as_str(), t.msg("departure").str("member_id"));
        }
    }
}

#[test]
fn every_rumor_decodes_matches_text_and_reencodes_byte_for_byte() {
    let dir = wire_dir().join("rumors");
    let bins = files(&dir, ".wire.bin");
    assert_eq!(
        bins.len(),
        6,
        "expected one rumor of each captured type in {}",
        dir.display()
    );
    for bin in bins {
        let name = bin.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(&bin).unwrap();
        let txt = dir.join(name.replace(".wire.bin", ".txt"));
        let t = Node::parse(&std::fs::read_to_string(txt).unwrap());
        let rumor = decode_rumor(&bytes, None).unwrap_or_else(|e| panic!("{name}: {e}"));
        check_rumor(&rumor, &t);
        let again = encode_rumor(&rumor, None);
        assert_eq!(
            decode_rumor(&again, None).unwrap(),
            rumor,
            "{name}: re-decode"
        );
        assert_eq!(again, bytes, "{name}: Warren's bytes differ from Habitat's");
    }
}

#[test]
fn election_update_uses_the_election_field() {
    let bytes = std::fs::read(wire_dir().join("rumors/Election.wire.bin")).unwrap();
    let Rumor::Election(e) = decode_rumor(&bytes, None).unwrap() else {
        panic!("not an election")
    };
    let update = Rumor::ElectionUpdate(e.clone());
    let encoded = encode_rumor(&update, None);
    let inner = envelope::open(&encoded, None).unwrap();
    let pbr = warren_proto::newscast::Rumor::decode(inner.as_slice()).unwrap();
    assert_eq!(pbr.r#type, 8);
    assert!(matches!(
        pbr.payload,
        Some(warren_proto::newscast::rumor::Payload::Election(_))
    ));
    assert_eq!(decode_rumor(&encoded, None).unwrap(), update);
}

#[test]
fn captured_tcp_sessions_carry_decodable_rumors() {
    let dir = wire_dir().join("tcp");
    let three =
        zmtp_messages(&std::fs::read(dir.join("push-to-pull-3-member-rumors.bin")).unwrap());
    assert_eq!(three.len(), 3);
    for m in &three {
        let r = decode_rumor(m, None).unwrap();
        assert!(matches!(r, Rumor::Member { .. }));
        assert_eq!(&encode_rumor(&r, None), m);
    }
    let long = zmtp_messages(
        &std::fs::read(dir.join("push-to-pull-serviceconfig-long-frame.bin")).unwrap(),
    );
    assert_eq!(long.len(), 1);
    assert!(long[0].len() > 255);
    let r = decode_rumor(&long[0], None).unwrap();
    assert!(matches!(r, Rumor::ServiceConfig(_)));
    assert_eq!(encode_rumor(&r, None), long[0]);
    let pull = zmtp_messages(&std::fs::read(dir.join("pull-to-push-greeting-ready.bin")).unwrap());
    assert!(pull.is_empty());
}

#[test]
fn key_file_roundtrips() {
    let path = wire_dir().join("encrypted/testring-20261124000000.sym.key");
    let text = std::fs::read_to_string(&path).unwrap();
    let key = RingKey::parse(&text).unwrap();
    assert_eq!(key.to_file_string(), text);
    assert_eq!(key.revision(), "20261124000000");
    // The captured file's name and the name inside it differ ("testring" vs "researchring");
    // file_name() follows the contents.
    assert_eq!(key.name(), "researchring");
    assert_eq!(key.file_name(), "researchring-20261124000000.sym.key");
}

#[test]
fn encrypted_datagram_decodes_with_the_ring_key() {
    let key = test_key();
    let bytes = std::fs::read(wire_dir().join("encrypted/udp-swim.bin")).unwrap();
    let t = Node::parse(
        &std::fs::read_to_string(wire_dir().join("encrypted/udp-swim.decrypted.txt")).unwrap(),
    );
    let swim = decode_swim(&bytes, SRC, Some(&key)).unwrap();
    check_swim(&swim, &t);

    // Warren's plaintext Swim is byte-identical to what Habitat sealed.
    let habitat_inner = envelope::open(&bytes, Some(&key)).unwrap();
    let warren_plain = encode_swim(&swim, None);
    assert_eq!(envelope::open(&warren_plain, None).unwrap(), habitat_inner);

    // Warren's sealed datagram: same envelope layout and length, fresh nonce, decodes again.
    let sealed = encode_swim(&swim, Some(&key));
    assert_eq!(sealed.len(), bytes.len());
    assert_eq!(
        sealed[..4],
        bytes[..4],
        "encrypted = true, then a 24-byte nonce"
    );
    assert_ne!(sealed, encode_swim(&swim, Some(&key)), "nonces are fresh");
    assert_eq!(decode_swim(&sealed, SRC, Some(&key)).unwrap(), swim);

    // Keyed receivers always decrypt; unkeyed ones never do.
    assert_eq!(
        decode_swim(&warren_plain, SRC, Some(&key)),
        Err(WireError::MissingNonce)
    );
    assert!(decode_swim(&bytes, SRC, None).is_err());
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
    let other = RingKey::generate("other", "20260101000000", &mut rng).unwrap();
    assert_eq!(
        decode_swim(&bytes, SRC, Some(&other)),
        Err(WireError::Decrypt)
    );
}

#[test]
fn encrypted_tcp_session_carries_member_rumors() {
    let key = test_key();
    let msgs =
        zmtp_messages(&std::fs::read(wire_dir().join("encrypted/tcp-push-to-pull.bin")).unwrap());
    assert!(!msgs.is_empty());
    for m in &msgs {
        let r = decode_rumor(m, Some(&key)).unwrap();
        assert!(matches!(r, Rumor::Member { .. }));
        let inner = envelope::open(m, Some(&key)).unwrap();
        assert_eq!(
            envelope::open(&encode_rumor(&r, None), None).unwrap(),
            inner
        );
        assert_eq!(
            decode_rumor(&encode_rumor(&r, Some(&key)), Some(&key)).unwrap(),
            r
        );
    }
}
