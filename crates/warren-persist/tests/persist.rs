//! The on-disk state end to end: identity files, the rumor file's exact layout, v1 reading,
//! robustness against truncation and garbage, and setting a corrupt file aside.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use proptest::prelude::*;
use prost::Message;
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::SeedableRng;
use warren_persist::rumor_file::{HEADER_SIZE, SECTIONS};
use warren_persist::{
    Incarnation, MemberIdFile, PersistError, RumorFile, clean_temp_files, data_dir,
    decode_rumor_file, encode_rumor_file, load_rumors_or_set_aside, read_rumors, rumor_file_path,
    write_rumors,
};
use warren_ring::{
    Departure, Election, ElectionStatus, Health, Member, MemberId, Membership, Rumor, Service,
    ServiceConfig, ServiceFile, SysInfo,
};

const ID_A: &str = "0123456789abcdef0123456789abcdef";
const ID_B: &str = "fedcba9876543210fedcba9876543210";

fn membership(id: &str, health: Health, address: IpAddr) -> Membership {
    Membership {
        member: Member {
            id: id.into(),
            incarnation: 7,
            address,
            swim_port: 9638,
            gossip_port: 9639,
            persistent: true,
            departed: false,
        },
        health,
    }
}

fn members() -> Vec<Membership> {
    vec![
        membership(ID_A, Health::Alive, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))),
        membership(ID_B, Health::Confirmed, IpAddr::V6(Ipv6Addr::LOCALHOST)),
    ]
}

fn election(id: &str) -> Election {
    Election {
        member_id: id.into(),
        service_group: "redis.default".into(),
        term: 3,
        suitability: 11,
        status: ElectionStatus::NoQuorum,
        votes: vec![ID_A.into(), ID_B.into()],
        committed: None,
    }
}

/// One rumor of every kind that lives outside the membership section, in section order.
fn rumors() -> Vec<Rumor> {
    vec![
        Rumor::Service(Arc::new(Service {
            incarnation: 2,
            member_id: ID_A.into(),
            service_group: "redis.default@acme".into(),
            pkg: "core/redis/7.0.0/20240101000000".into(),
            pkg_incarnation: 4,
            initialized: false,
            withdrawn: false,
            cfg: b"port = 6379\n".to_vec(),
            sys: SysInfo::default(),
        })),
        Rumor::ServiceConfig(Arc::new(ServiceConfig {
            incarnation: 5,
            service_group: "redis.default".into(),
            encrypted: false,
            config: b"maxmemory = \"1mb\"\n".to_vec(),
        })),
        Rumor::ServiceFile(Arc::new(ServiceFile {
            incarnation: 1,
            service_group: "redis.default".into(),
            filename: "extra.conf".into(),
            encrypted: true,
            body: b"BOX-1\nuser-1\nsvc-1\nbm9uY2U=\nY2lwaGVy".to_vec(),
        })),
        Rumor::Election(Arc::new(election(ID_A))),
        Rumor::ElectionUpdate(Arc::new(election(ID_B))),
        Rumor::Departure(Arc::new(Departure {
            member_id: ID_B.into(),
        })),
    ]
}

fn sample_bytes() -> Vec<u8> {
    encode_rumor_file(&members(), &rumors())
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap())
}

/// Splits a section into its record bodies, checking the framing.
fn records(section: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = section;
    while !rest.is_empty() {
        let n = u64_at(rest, 0) as usize;
        out.push(&rest[8..8 + n]);
        rest = &rest[8 + n..];
    }
    out
}

#[test]
fn round_trip_of_members_and_every_rumor_kind() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_dir(dir.path());
    let path = rumor_file_path(&data, &MemberId::new(ID_A));
    write_rumors(&path, &members(), &rumors()).unwrap();
    let file = read_rumors(&path).unwrap();
    assert_eq!(
        file,
        RumorFile {
            members: members(),
            rumors: rumors(),
            skipped: 0
        }
    );
}

#[test]
fn rumors_are_grouped_by_section_and_member_rumors_join_the_membership_section() {
    let mut input = rumors();
    input.reverse();
    input.push(Rumor::Member {
        from: ID_A.into(),
        membership: members()[1].clone(),
    });
    let bytes = encode_rumor_file(&members()[..1], &input);
    let file = decode_rumor_file(Path::new("x"), &bytes).unwrap();
    assert_eq!(file.members, members());
    assert_eq!(file.rumors, rumors());
}

#[test]
fn v2_header_layout_is_habitats() {
    let bytes = sample_bytes();
    assert_eq!(bytes[0], 2, "version byte");
    assert_eq!(u64_at(&bytes, 1), HEADER_SIZE);
    assert_eq!(HEADER_SIZE, 64);
    let lengths: Vec<u64> = (0..7).map(|i| u64_at(&bytes, 9 + 8 * i)).collect();
    assert_eq!(
        1 + 64 + lengths.iter().sum::<u64>() as usize,
        bytes.len(),
        "sections follow the header back to back, nothing after"
    );
    let mut offset = 65;
    let mut sections = Vec::new();
    for &len in &lengths {
        sections.push(&bytes[offset..offset + len as usize]);
        offset += len as usize;
    }
    // Membership section: bare butterfly.swim.Membership records.
    let ms = records(sections[0]);
    assert_eq!(ms.len(), 2);
    let m = warren_proto::swim::Membership::decode(ms[0]).unwrap();
    let member = m.member.unwrap();
    assert_eq!(member.id.as_deref(), Some(ID_A));
    assert_eq!(member.address.as_deref(), Some("10.0.0.1"));
    assert_eq!(m.health, Some(1));
    // Every other section: one bare butterfly.newscast.Rumor, with the section's type.
    let types = [2, 4, 5, 3, 8, 9];
    for (i, ty) in types.iter().enumerate() {
        let rs = records(sections[i + 1]);
        assert_eq!(rs.len(), 1, "section {}", SECTIONS[i + 1]);
        let r = warren_proto::newscast::Rumor::decode(rs[0]).unwrap();
        assert_eq!(r.r#type, *ty, "section {}", SECTIONS[i + 1]);
        assert!(r.payload.is_some());
        // Not a Wire envelope: a Wire would put the payload in field 3 as bytes (tag 0x1a); a
        // Rumor starts with its required type (field 1, varint: tag 0x08).
        assert_eq!(rs[0][0], 0x08);
    }
}

#[test]
fn empty_file_is_a_bare_header() {
    let bytes = encode_rumor_file(&[], &[]);
    let mut expected = vec![2u8];
    expected.extend_from_slice(&64u64.to_le_bytes());
    expected.extend_from_slice(&[0u8; 56]);
    assert_eq!(bytes, expected);
    assert_eq!(
        decode_rumor_file(Path::new("x"), &bytes).unwrap(),
        RumorFile::default()
    );
}

/// Builds a file from raw section bodies, in Habitat's v1 layout.
fn v1_file(sections: [&[Vec<u8>]; 6]) -> Vec<u8> {
    let bodies: Vec<Vec<u8>> = sections
        .iter()
        .map(|records| {
            let mut s = Vec::new();
            for r in records.iter() {
                s.extend_from_slice(&(r.len() as u64).to_le_bytes());
                s.extend_from_slice(r);
            }
            s
        })
        .collect();
    let mut out = vec![1u8];
    for b in &bodies {
        out.extend_from_slice(&(b.len() as u64).to_le_bytes());
    }
    for b in &bodies {
        out.extend_from_slice(b);
    }
    out
}

/// The bare protobuf records of the sample, by section (taken from a v2 encoding).
fn sample_records() -> Vec<Vec<Vec<u8>>> {
    let bytes = sample_bytes();
    let mut offset = 65;
    (0..7)
        .map(|i| {
            let len = u64_at(&bytes, 9 + 8 * i) as usize;
            let s = &bytes[offset..offset + len];
            offset += len;
            records(s).into_iter().map(<[u8]>::to_vec).collect()
        })
        .collect()
}

#[test]
fn reads_version_1() {
    let r = sample_records();
    let bytes = v1_file([&r[0], &r[1], &r[2], &r[3], &r[4], &r[5]]);
    assert_eq!(
        bytes.len(),
        49 + r[..6].iter().flatten().map(|b| 8 + b.len()).sum::<usize>()
    );
    let file = decode_rumor_file(Path::new("v1.rst"), &bytes).unwrap();
    assert_eq!(file.members, members());
    assert_eq!(
        file.rumors,
        rumors()[..5].to_vec(),
        "no departure section in v1"
    );
    assert_eq!(file.skipped, 0);
}

#[test]
fn reads_habitat_captured_rumors() {
    // Bare Rumors taken out of the Wire envelopes captured from hab-sup.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/habitat/wire/rumors");
    let bare = |name: &str| -> Vec<u8> {
        let wire = fs::read(dir.join(format!("{name}.wire.bin"))).unwrap();
        warren_proto::common::Wire::decode(wire.as_slice())
            .unwrap()
            .payload
            .unwrap()
    };
    let member_rumor = warren_proto::newscast::Rumor::decode(bare("Member").as_slice()).unwrap();
    let Some(warren_proto::newscast::rumor::Payload::Member(m)) = member_rumor.payload else {
        panic!("Member capture without member payload");
    };
    let ms = vec![m.encode_to_vec()];
    let svc = vec![bare("Service")];
    let cfg = vec![bare("ServiceConfig")];
    let file = vec![bare("ServiceFile")];
    let elections = vec![bare("Election")];
    let bytes = v1_file([&ms, &svc, &cfg, &file, &elections, &[]]);
    let read = decode_rumor_file(Path::new("hab.rst"), &bytes).unwrap();
    assert_eq!(read.skipped, 0);
    assert_eq!(read.members.len(), 1);
    assert_eq!(
        read.members[0].member.id.as_str(),
        "e587f5d856124f0b842f61111d7869dd"
    );
    assert_eq!(read.rumors.len(), 4);
    // Re-encoding as v2 and reading back gives the same values.
    let again = encode_rumor_file(&read.members, &read.rumors);
    assert_eq!(decode_rumor_file(Path::new("x"), &again).unwrap(), read);
}

#[test]
fn bad_records_are_skipped_and_counted() {
    let r = sample_records();
    let garbage = vec![0xff, 0xff, 0xff];
    // A Service rumor in the election section is in the wrong place.
    let ms = vec![r[0][0].clone(), garbage.clone()];
    let svc = vec![r[1][0].clone(), garbage];
    let bytes = v1_file([&ms, &svc, &[], &[], &r[1], &[]]);
    let file = decode_rumor_file(Path::new("x"), &bytes).unwrap();
    assert_eq!(file.members.len(), 1);
    assert_eq!(file.rumors.len(), 1);
    assert_eq!(file.skipped, 3);
}

#[test]
fn structural_errors() {
    let p = Path::new("bad.rst");
    assert!(matches!(
        decode_rumor_file(p, &[]),
        Err(PersistError::TruncatedHeader { .. })
    ));
    let mut bytes = sample_bytes();
    bytes[0] = 3;
    let err = decode_rumor_file(p, &bytes).unwrap_err();
    assert!(matches!(
        err,
        PersistError::BadRumorVersion { version: 3, .. }
    ));
    assert!(err.to_string().contains("bad.rst"), "{err}");
    let mut bytes = sample_bytes();
    bytes[1] = 63;
    assert!(matches!(
        decode_rumor_file(p, &bytes),
        Err(PersistError::BadHeaderSize {
            header_size: 63,
            ..
        })
    ));
    let mut bytes = sample_bytes();
    bytes[9 + 8 * 6..9 + 8 * 7].copy_from_slice(&u64::MAX.to_le_bytes());
    let err = decode_rumor_file(p, &bytes).unwrap_err();
    assert!(
        matches!(
            err,
            PersistError::TruncatedSection {
                section: "departure",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn every_prefix_of_a_real_file_is_handled_without_panic() {
    let bytes = sample_bytes();
    for len in 0..bytes.len() {
        match decode_rumor_file(Path::new("x"), &bytes[..len]) {
            Err(_) => {}
            Ok(file) => panic!("prefix {len} of {} decoded: {file:?}", bytes.len()),
        }
    }
    // Every single-byte corruption is handled too.
    for at in 0..bytes.len() {
        let mut b = bytes.clone();
        b[at] ^= 0x5a;
        let _ = decode_rumor_file(Path::new("x"), &b);
    }
}

#[test]
fn corrupt_file_is_set_aside_and_startup_continues() {
    let dir = tempfile::tempdir().unwrap();
    let path = rumor_file_path(&data_dir(dir.path()), &MemberId::new(ID_A));
    let (file, aside) = load_rumors_or_set_aside(&path);
    assert_eq!(file, RumorFile::default());
    assert!(aside.is_none(), "a missing file is not an error");

    write_rumors(&path, &members(), &rumors()).unwrap();
    let (file, aside) = load_rumors_or_set_aside(&path);
    assert!(aside.is_none());
    assert_eq!(file.members, members());

    let mut bytes = fs::read(&path).unwrap();
    bytes.truncate(bytes.len() - 1);
    fs::write(&path, &bytes).unwrap();
    let (file, aside) = load_rumors_or_set_aside(&path);
    assert_eq!(file, RumorFile::default());
    let aside = aside.expect("set aside");
    assert!(matches!(
        aside.reason,
        PersistError::TruncatedSection { .. }
    ));
    assert!(aside.rename_error.is_none());
    let moved: PathBuf = aside.moved_to.unwrap();
    assert!(!path.exists());
    assert_eq!(fs::read(&moved).unwrap(), bytes, "evidence kept");
    let name = moved.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with(&format!("{ID_A}.rst.corrupt-")), "{name}");

    // The next save works and a second corrupt file does not clobber the first.
    write_rumors(&path, &members(), &[]).unwrap();
    assert_eq!(read_rumors(&path).unwrap().members, members());
    fs::write(&path, b"\x07garbage").unwrap();
    let (_, aside) = load_rumors_or_set_aside(&path);
    let second = aside.unwrap().moved_to.unwrap();
    assert_ne!(second, moved);
    assert!(moved.exists() && second.exists());
}

#[test]
fn member_id_is_created_once_then_reread() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("hab/sup/default");
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    let id = MemberIdFile::load_or_create(&root, &mut rng).unwrap();
    let text = fs::read_to_string(MemberIdFile::path(&root)).unwrap();
    assert_eq!(text, id.as_str(), "32 hex digits, no newline");
    assert_eq!(text.len(), 32);
    let again = MemberIdFile::load_or_create(&root, &mut rng).unwrap();
    assert_eq!(again, id);
    assert_eq!(fs::read_to_string(MemberIdFile::path(&root)).unwrap(), text);

    fs::write(MemberIdFile::path(&root), format!("  {ID_B}\n")).unwrap();
    assert_eq!(
        MemberIdFile::load_or_create(&root, &mut rng)
            .unwrap()
            .as_str(),
        ID_B
    );
}

#[test]
fn bad_member_id_is_rejected_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(2);
    for bad in [
        "",
        "xyz",
        "0123456789abcdef0123456789abcdeg",
        &format!("{ID_A}0"),
    ] {
        fs::write(MemberIdFile::path(dir.path()), bad).unwrap();
        let err = MemberIdFile::load_or_create(dir.path(), &mut rng).unwrap_err();
        assert!(matches!(err, PersistError::BadMemberId { .. }), "{bad:?}");
        assert!(err.to_string().contains("MEMBER_ID"), "{err}");
        assert_eq!(
            fs::read_to_string(MemberIdFile::path(dir.path())).unwrap(),
            bad,
            "a bad file is never replaced"
        );
    }
}

#[test]
fn incarnation_round_trip_and_garbage() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_dir(dir.path());
    assert_eq!(Incarnation::load(&data).unwrap(), 0, "missing file");
    Incarnation::store(&data, 42).unwrap();
    assert_eq!(fs::read_to_string(Incarnation::path(&data)).unwrap(), "42");
    assert_eq!(Incarnation::load(&data).unwrap(), 42);
    Incarnation::store(&data, u64::MAX).unwrap();
    assert_eq!(Incarnation::load(&data).unwrap(), u64::MAX);
    fs::write(Incarnation::path(&data), "7\n").unwrap();
    assert_eq!(Incarnation::load(&data).unwrap(), 7);
    for bad in ["", "abc", "-1", "+3", "1 2", "18446744073709551616"] {
        fs::write(Incarnation::path(&data), bad).unwrap();
        let err = Incarnation::load(&data).unwrap_err();
        assert!(
            matches!(err, PersistError::BadIncarnation { .. }),
            "{bad:?}"
        );
        let msg = err.to_string();
        assert!(
            msg.contains("INCARNATION") && msg.contains(&format!("{bad:?}")),
            "{msg}"
        );
    }
}

#[test]
fn temp_leftovers_are_cleaned() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_dir(dir.path());
    Incarnation::store(&data, 1).unwrap();
    fs::write(data.join(format!("{ID_A}.rst.tmp")), b"partial").unwrap();
    assert_eq!(clean_temp_files(&data).unwrap(), 1);
    let left: Vec<_> = fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, vec!["INCARNATION"]);
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode_rumor_file(Path::new("x"), &bytes);
    }

    #[test]
    fn plausible_headers_never_panic(
        version in 0u8..4,
        lengths in proptest::collection::vec(0u64..64, 7),
        body in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        let mut bytes = vec![version];
        if version == 2 {
            bytes.extend_from_slice(&64u64.to_le_bytes());
        }
        for l in &lengths {
            bytes.extend_from_slice(&l.to_le_bytes());
        }
        bytes.extend_from_slice(&body);
        let _ = decode_rumor_file(Path::new("x"), &bytes);
    }
}
