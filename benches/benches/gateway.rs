//! HTTP gateway throughput on loopback: the server (`warren_gateway::serve`) and 32 concurrent
//! keep-alive HTTP/1.1 client connections (hyper) share one two-worker tokio runtime, as on the
//! project's 2-core machine. Criterion's `thrpt` line is requests per second; each measured
//! iteration is one request, spread round-robin over the 32 connections.
//!
//! `healthz` is the floor of the stack (routing, metrics, hyper); `services` serves the
//! pre-serialized ServiceQueryModel array of one leader-topology redis service, and
//! `butterfly` the `/butterfly` document of a three-member ring (design.md §4 compares it
//! with Habitat's ≈ 93 k req/s under wrk).

#![allow(missing_docs)]

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::SendRequest;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use warren_gateway::{
    FsCfg, Health, HookTable, HookView, PkgView, ProcessState, ServiceDocs, ServiceView, Snapshot,
    SupervisorSys, SupervisorView, Topology, UpdateCounters,
};
use warren_ring::{
    CensusElectionStatus, CensusRing, Config, Election, ElectionStatus, Identity, Member, MemberId,
    PackageIdent, Ring, Rumor, Service, Swim, SwimKind, SysInfo, Time,
};

const CONNECTIONS: usize = 32;
const IDENT: &str = "core/redis/7.2.4/20240101000000";

fn fail(what: &str, e: impl std::fmt::Display) -> ! {
    panic!("{what}: {e}")
}

fn member(n: u8) -> Member {
    Member {
        id: MemberId::new(format!("{n:032x}")),
        incarnation: 1,
        address: IpAddr::V4(Ipv4Addr::new(10, 0, 0, n)),
        swim_port: 9638,
        gossip_port: 9638,
        persistent: false,
        departed: false,
    }
}

/// A three-member ring with redis.default on every member and member 2 elected.
fn ring() -> Ring {
    let me = member(1);
    let identity = Identity {
        id: me.id.clone(),
        incarnation: 1,
        address: me.address,
        swim_port: 9638,
        gossip_port: 9638,
        persistent: false,
    };
    let mut r = Ring::new(Config::default(), identity, 7, Time::ZERO);
    let now = Time::from_millis(10);
    for n in [2, 3] {
        let m = member(n);
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
    for n in 1..=3 {
        r.publish(
            Rumor::Service(Arc::new(Service {
                incarnation: 1,
                member_id: member(n).id,
                service_group: "redis.default".into(),
                pkg: IDENT.into(),
                pkg_incarnation: 0,
                initialized: true,
                withdrawn: false,
                cfg: b"port = 6379\n".to_vec(),
                sys: SysInfo::default(),
            })),
            now,
        );
    }
    r.publish(
        Rumor::Election(Arc::new(Election {
            member_id: member(2).id,
            service_group: "redis.default".into(),
            term: 1,
            suitability: 0,
            status: ElectionStatus::Finished,
            votes: (1..=3).map(|n| member(n).id).collect(),
            committed: None,
        })),
        now,
    );
    r
}

fn services() -> ServiceDocs {
    let sup = SupervisorView {
        sys: SupervisorSys {
            version: "0.1.0".into(),
            member_id: member(1).id.to_string(),
            ip: "10.0.0.1".into(),
            hostname: "redis-1".into(),
            ..SupervisorSys::default()
        },
        fs: FsCfg::new("/hab/sup/default"),
        redact: false,
    };
    let ident = PackageIdent::parse(IDENT).unwrap_or_else(|| fail("ident", IDENT));
    let svc = std::path::Path::new("/hab/svc/redis");
    let mut pkg = PkgView::new(ident, "/hab/pkgs/core/redis", svc);
    pkg.exports = BTreeMap::from([("port".to_owned(), "port".to_owned())]);
    let mut v = ServiceView::new("redis.default", pkg);
    v.topology = Topology::Leader;
    v.process.state = ProcessState::Up;
    v.process.pid = Some(4242);
    v.health.status = Health::Ok;
    v.last_election_status = CensusElectionStatus::ElectionFinished;
    v.hooks = HookTable {
        run: Some(HookView::at(svc, "run")),
        health_check: Some(HookView::at(svc, "health-check")),
        ..HookTable::default()
    };
    v.cfg = toml::from_str("port = 6379\nbind = \"0.0.0.0\"\nmaxmemory = \"64mb\"\n")
        .unwrap_or_else(|e| fail("cfg", e));
    ServiceDocs::build(&sup, &[v])
}

struct Bench {
    rt: Runtime,
    senders: Vec<SendRequest<Empty<Bytes>>>,
    stop: CancellationToken,
    _tx: watch::Sender<Arc<Snapshot>>,
}

fn setup() -> Bench {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| fail("runtime", e));
    let ring = ring();
    let census = CensusRing::build(&ring, Time::from_millis(20), None);
    let snap = Snapshot::from_census(&ring, &UpdateCounters::default(), true, &census)
        .with_services(services());
    let (tx, rx) = watch::channel(Arc::new(snap));
    let stop = CancellationToken::new();
    let senders = rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| fail("bind", e));
        let addr = listener.local_addr().unwrap_or_else(|e| fail("addr", e));
        tokio::spawn(warren_gateway::serve(listener, rx, stop.clone()));
        let mut senders = Vec::with_capacity(CONNECTIONS);
        for _ in 0..CONNECTIONS {
            let tcp = TcpStream::connect(addr)
                .await
                .unwrap_or_else(|e| fail("connect", e));
            tcp.set_nodelay(true).unwrap_or_else(|e| fail("nodelay", e));
            let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
                .await
                .unwrap_or_else(|e| fail("handshake", e));
            tokio::spawn(conn);
            senders.push(sender);
        }
        senders
    });
    Bench {
        rt,
        senders,
        stop,
        _tx: tx,
    }
}

/// Sends `n` GETs of `path`, spread over every connection at once; returns the wall time.
fn run(bench: &mut Bench, path: &'static str, n: u64) -> Duration {
    let senders = std::mem::take(&mut bench.senders);
    let (elapsed, senders) = bench.rt.block_on(async move {
        let per = n / CONNECTIONS as u64;
        let extra = n % CONNECTIONS as u64;
        let start = Instant::now();
        let tasks: Vec<_> = senders
            .into_iter()
            .enumerate()
            .map(|(i, mut s)| {
                let count = per + u64::from((i as u64) < extra);
                tokio::spawn(async move {
                    for _ in 0..count {
                        s.ready().await.unwrap_or_else(|e| fail("ready", e));
                        let req = Request::get(path)
                            .header("host", "bench")
                            .body(Empty::new())
                            .unwrap_or_else(|e| fail("request", e));
                        let resp = s
                            .send_request(req)
                            .await
                            .unwrap_or_else(|e| fail("send", e));
                        assert_eq!(resp.status(), StatusCode::OK);
                        let body = resp
                            .into_body()
                            .collect()
                            .await
                            .unwrap_or_else(|e| fail("body", e));
                        std::hint::black_box(body.to_bytes().len());
                    }
                    s
                })
            })
            .collect();
        let mut back = Vec::with_capacity(CONNECTIONS);
        for t in tasks {
            back.push(t.await.unwrap_or_else(|e| fail("join", e)));
        }
        (start.elapsed(), back)
    });
    bench.senders = senders;
    elapsed
}

fn gateway(c: &mut Criterion) {
    let mut bench = setup();
    let mut group = c.benchmark_group("gateway_32_conns");
    group.throughput(Throughput::Elements(1));
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(5));
    for (name, path) in [
        ("healthz", "/healthz"),
        ("services", "/services"),
        ("butterfly", "/butterfly"),
    ] {
        group.bench_function(name, |b| b.iter_custom(|n| run(&mut bench, path, n)));
    }
    group.finish();
    bench.stop.cancel();
}

criterion_group!(benches, gateway);
criterion_main!(benches);
