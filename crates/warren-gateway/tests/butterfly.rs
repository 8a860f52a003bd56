//! `/butterfly` rendered from a real ring: every top-level key, the local member, a member learnt
//! from a Ping (with a piggybacked Suspect record), and one rumor of each kind.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use serde_json::{Value, json};
use warren_gateway::{UpdateCounters, render, render_with};
use warren_ring::{
    Config, Departure, Election, ElectionStatus, Health, Identity, Member, MemberId, Membership,
    Ring, Rumor, Service, ServiceConfig, ServiceFile, Swim, SwimKind, SysInfo, Time,
};

fn member(id: &str, last_octet: u8, incarnation: u64) -> Member {
    Member {
        id: id.into(),
        incarnation,
        address: IpAddr::V4(Ipv4Addr::new(10, 0, 0, last_octet)),
        swim_port: 9638,
        gossip_port: 9639,
        persistent: false,
        departed: false,
    }
}

fn ring() -> Ring {
    let identity = Identity {
        id: "aaaa".into(),
        incarnation: 3,
        address: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
        swim_port: 9638,
        gossip_port: 9638,
        persistent: true,
    };
    Ring::new(Config::default(), identity, 7, Time::ZERO)
}

fn populated() -> Ring {
    let mut r = ring();
    let now = Time::from_millis(10);
    let bob = member("bbbb", 2, 5);
    r.handle_datagram(
        SocketAddr::new(bob.address, bob.swim_port),
        Swim {
            from: bob,
            kind: SwimKind::Ping { forward_to: None },
            membership: vec![Membership {
                member: member("cccc", 3, 1),
                health: Health::Suspect,
            }],
        },
        now,
    );
    r.publish(
        Rumor::Service(Arc::new(Service {
            incarnation: 2,
            member_id: "aaaa".into(),
            service_group: "redis.default".into(),
            pkg: "core/redis/7.0.0/20240101000000".into(),
            pkg_incarnation: 1,
            initialized: false,
            withdrawn: false,
            cfg: b"port = 6379\n[tls]\nenabled = false\n".to_vec(),
            sys: SysInfo::default(),
        })),
        now,
    );
    r.publish(
        Rumor::Service(Arc::new(Service {
            incarnation: 1,
            member_id: "bbbb".into(),
            service_group: "redis.default".into(),
            pkg: "core/redis/7.0.0/20240101000000".into(),
            pkg_incarnation: 0,
            initialized: false,
            withdrawn: false,
            cfg: b"this is = not toml".to_vec(),
            sys: SysInfo::default(),
        })),
        now,
    );
    r.publish(
        Rumor::ServiceConfig(Arc::new(ServiceConfig {
            incarnation: 4,
            service_group: "redis.default".into(),
            encrypted: false,
            config: b"a=1".to_vec(),
        })),
        now,
    );
    r.publish(
        Rumor::ServiceFile(Arc::new(ServiceFile {
            incarnation: 1,
            service_group: "redis.default".into(),
            filename: "f.txt".into(),
            encrypted: false,
            body: b"hi".to_vec(),
        })),
        now,
    );
    let election = Election {
        member_id: "bbbb".into(),
        service_group: "redis.default".into(),
        term: 2,
        suitability: 9,
        status: ElectionStatus::Finished,
        votes: vec![MemberId::from("bbbb"), MemberId::from("aaaa")],
        committed: None,
    };
    r.publish(Rumor::Election(Arc::new(election.clone())), now);
    r.publish(
        Rumor::ElectionUpdate(Arc::new(Election {
            status: ElectionStatus::NoQuorum,
            term: 0,
            votes: vec![MemberId::from("aaaa")],
            committed: None,
            member_id: "aaaa".into(),
            ..election
        })),
        now,
    );
    r.publish(
        Rumor::Departure(Arc::new(Departure {
            member_id: "dddd".into(),
        })),
        now,
    );
    r
}

#[test]
fn empty_ring_has_every_key_and_lists_nobody() {
    let doc = render(&ring());
    let mut keys: Vec<&str> = doc
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "departed_members",
            "departure",
            "election",
            "election_update",
            "latest_election",
            "latest_election_update",
            "latest_service_config",
            "member",
            "membership",
            "service",
            "service_config",
            "service_file",
            "service_files",
            "services",
        ]
    );
    // Habitat lists a supervisor's peers, never the supervisor itself.
    assert_eq!(doc["member"]["health"], json!({}));
    assert_eq!(doc["member"]["members"], json!({}));
    assert_eq!(doc["membership"], json!({}));
    assert_eq!(doc["services"], json!({}));
    assert_eq!(doc["departed_members"], json!([]));
    assert_eq!(doc["member"]["update_counter"], json!(0));
}

#[test]
fn populated_ring_renders_habitat_shapes() {
    let r = populated();
    let counters = UpdateCounters {
        member: 2,
        service: 2,
        service_config: 1,
        service_file: 1,
        election: 1,
        election_update: 1,
        departure: 1,
    };
    let doc = render_with(&r, &counters);
    let sys = json!({
        "ip": "127.0.0.1", "hostname": "localhost",
        "gossip_ip": "127.0.0.1", "gossip_port": 9638,
        "http_gateway_ip": "127.0.0.1", "http_gateway_port": 9631,
        "ctl_gateway_ip": "127.0.0.1", "ctl_gateway_port": 9632,
    });
    let services = json!({
        "redis.default": {
            "aaaa": {
                "member_id": "aaaa", "service_group": "redis.default",
                "package": "core/redis/7.0.0/20240101000000", "package_incarnation": 1,
                "incarnation": 2, "cfg": {"port": 6379, "tls": {"enabled": false}},
                "sys": sys, "initialized": false,
            },
            "bbbb": {
                "member_id": "bbbb", "service_group": "redis.default",
                "package": "core/redis/7.0.0/20240101000000", "package_incarnation": 0,
                "incarnation": 1, "cfg": {}, "sys": sys, "initialized": false,
            },
        },
    });
    let config = json!({
        "redis.default": {"service_config": {
            "service_group": "redis.default", "incarnation": 4, "encrypted": false,
            "config": [97, 61, 49], "from_id": "butterflyclient",
        }},
    });
    let files = json!({
        "redis.default": {"f.txt": {
            "service_group": "redis.default", "incarnation": 1, "encrypted": false,
            "filename": "f.txt", "body": [104, 105], "from_id": "butterflyclient",
        }},
    });
    let election = json!({
        "member_id": "bbbb", "from_id": "bbbb", "service_group": "redis.default",
        "term": 2, "suitability": 9, "status": "Finished", "votes": ["bbbb", "aaaa"],
    });
    let update = json!({
        "member_id": "aaaa", "from_id": "aaaa", "service_group": "redis.default",
        "term": 0, "suitability": 9, "status": "NoQuorum", "votes": ["aaaa"],
    });
    let expected = json!({
        "member": {
            "members": {
                "bbbb": {"id": "bbbb", "incarnation": 5, "address": "10.0.0.2",
                         "swim_port": 9638, "gossip_port": 9639, "persistent": false,
                         "departed": false},
                "cccc": {"id": "cccc", "incarnation": 1, "address": "10.0.0.3",
                         "swim_port": 9638, "gossip_port": 9639, "persistent": false,
                         "departed": false},
            },
            "health": {"bbbb": "Alive", "cccc": "Suspect"},
            "update_counter": 2,
        },
        "membership": {
            "bbbb": {"address": "10.0.0.2", "gossip_port": 9639, "incarnation": 5,
                     "persistent": false, "swim_port": 9638, "health": "Alive"},
            "cccc": {"address": "10.0.0.3", "gossip_port": 9639, "incarnation": 1,
                     "persistent": false, "swim_port": 9638, "health": "Suspect"},
        },
        "service": {"list": services, "update_counter": 2},
        "services": services,
        "service_config": {"list": config, "update_counter": 1},
        "latest_service_config": config,
        "service_file": {"list": files, "update_counter": 1},
        "service_files": files,
        "election": {"list": {"redis.default": {"election": election}}, "update_counter": 1},
        "latest_election": {"redis.default": election},
        "election_update": {"list": {"redis.default": {"election": update}}, "update_counter": 1},
        "latest_election_update": {"redis.default": update},
        "departure": {
            "list": {"departure": {"dddd": {"member_id": "dddd"}}},
            "update_counter": 1,
        },
        "departed_members": ["dddd"],
    });
    assert_eq!(doc, expected, "got:\n{}", pretty(&doc));
}

#[test]
fn myself_is_not_listed_even_after_leaving() {
    let mut r = populated();
    r.leave(Time::from_millis(20));
    let doc = render(&r);
    for map in [
        &doc["member"]["health"],
        &doc["member"]["members"],
        &doc["membership"],
    ] {
        assert!(map.get("aaaa").is_none(), "{map}");
        assert!(map.get("bbbb").is_some(), "{map}");
    }
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}
