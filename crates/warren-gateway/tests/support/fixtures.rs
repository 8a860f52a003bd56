//! A three-member ring (`aaaa` is us) running `redis.default` with leader topology, `bbbb`
//! elected, and the matching `/services` view of our member: the fixture of the JSON snapshot
//! and schema tests.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use warren_gateway::{
    FsCfg, Health, HealthReport, HookTable, HookView, PkgBind, PkgView, ProcessState, ProcessView,
    ServiceDocs, ServiceView, Snapshot, SupervisorSys, SupervisorView, Topology, UpdateCounters,
};
use warren_ring::{
    CensusElectionStatus, CensusRing, Config, Election, ElectionStatus, Identity, Member, MemberId,
    PackageIdent, Ring, Rumor, Service, Swim, SwimKind, SysInfo, Time,
};

pub const IDENT: &str = "core/redis/7.2.4/20240101000000";

fn member(id: &str, last_octet: u8) -> Member {
    Member {
        id: id.into(),
        incarnation: 1,
        address: IpAddr::V4(Ipv4Addr::new(10, 0, 0, last_octet)),
        swim_port: 9638,
        gossip_port: 9638,
        persistent: false,
        departed: false,
    }
}

fn sys(last_octet: u8) -> SysInfo {
    let ip = format!("10.0.0.{last_octet}");
    SysInfo {
        ip: ip.clone(),
        hostname: format!("redis-{last_octet}"),
        gossip_ip: ip.clone(),
        gossip_port: 9638,
        http_gateway_ip: ip.clone(),
        http_gateway_port: 9631,
        ctl_gateway_ip: "127.0.0.1".into(),
        ctl_gateway_port: 9632,
    }
}

/// The ring of member `aaaa` after hearing from `bbbb` and `cccc`, with all three Service
/// rumors and a finished election won by `bbbb`.
pub fn leader_ring() -> Ring {
    let identity = Identity {
        id: "aaaa".into(),
        incarnation: 1,
        address: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
        swim_port: 9638,
        gossip_port: 9638,
        persistent: false,
    };
    let mut r = Ring::new(Config::default(), identity, 7, Time::ZERO);
    let now = Time::from_millis(10);
    for (id, octet) in [("bbbb", 2), ("cccc", 3)] {
        let m = member(id, octet);
        r.handle_datagram(
            SocketAddr::new(m.address, m.swim_port),
            Swim {
                from: m,
                kind: SwimKind::Ping { forward_to: None },
                membership: Vec::new(),
            },
            now,
        );
    }
    for (id, octet) in [("aaaa", 1), ("bbbb", 2), ("cccc", 3)] {
        r.publish(
            Rumor::Service(Arc::new(Service {
                incarnation: 1,
                member_id: id.into(),
                service_group: "redis.default".into(),
                pkg: IDENT.into(),
                pkg_incarnation: 0,
                initialized: true,
                withdrawn: false,
                cfg: b"port = 6379\n".to_vec(),
                sys: sys(octet),
            })),
            now,
        );
    }
    r.publish(
        Rumor::Election(Arc::new(Election {
            member_id: "bbbb".into(),
            service_group: "redis.default".into(),
            term: 1,
            suitability: 0,
            status: ElectionStatus::Finished,
            votes: vec![
                MemberId::from("aaaa"),
                MemberId::from("bbbb"),
                MemberId::from("cccc"),
            ],
            committed: None,
        })),
        now,
    );
    r
}

pub fn supervisor() -> SupervisorView {
    SupervisorView {
        sys: SupervisorSys {
            version: "0.1.0/0".into(),
            member_id: "aaaa".into(),
            ip: "10.0.0.1".into(),
            hostname: "redis-1".into(),
            ..SupervisorSys::default()
        },
        fs: FsCfg::new("/hab/sup/default"),
        redact: false,
    }
}

/// Our redis service: a running, healthy follower.
pub fn redis_view() -> ServiceView {
    let ident = PackageIdent::parse(IDENT).unwrap();
    let svc = Path::new("/hab/svc/redis");
    let mut pkg = PkgView::new(ident, PathBuf::from("/hab/pkgs").join(IDENT), svc);
    pkg.exports = BTreeMap::from([("port".to_owned(), "port".to_owned())]);
    pkg.exposes = vec!["6379".into()];
    pkg.env = BTreeMap::from([("PATH".to_owned(), "/hab/pkgs/core/redis/bin".to_owned())]);
    pkg.deps = vec![PackageIdent::parse("core/glibc/2.35/20230101000000").unwrap()];
    let mut v = ServiceView::new("redis.default", pkg);
    v.spec_file = PathBuf::from("/hab/sup/default/specs/redis.spec");
    v.topology = Topology::Leader;
    v.all_pkg_binds = vec![PkgBind {
        service: "backend".into(),
        exports: vec!["port".into()],
    }];
    v.binds = vec!["backend:redis.default".into()];
    v.process = ProcessView {
        pid: Some(4242),
        state: ProcessState::Up,
        state_entered: 1_767_225_600,
    };
    v.health = HealthReport {
        status: Health::Ok,
        stdout: "PONG\n".into(),
        stderr: String::new(),
    };
    v.initialized = true;
    v.last_election_status = CensusElectionStatus::ElectionFinished;
    v.restart_count = 1;
    v.hooks = HookTable {
        health_check: Some(HookView::at(svc, "health-check")),
        init: Some(HookView::at(svc, "init")),
        run: Some(HookView::at(svc, "run")),
        ..HookTable::default()
    };
    v.health_check_interval = Duration::from_millis(30_500);
    v.cfg = toml::from_str("port = 6379\nbind = [\"0.0.0.0\"]\n[tls]\nenabled = false\n").unwrap();
    v
}

/// The whole snapshot: ring documents from [`leader_ring`], services from [`redis_view`].
pub fn snapshot() -> Snapshot {
    let ring = leader_ring();
    let census = CensusRing::build(&ring, Time::from_millis(20), None);
    let snap = Snapshot::from_census(&ring, &UpdateCounters::default(), true, &census);
    snap.with_services(ServiceDocs::build(&supervisor(), &[redis_view()]))
}
