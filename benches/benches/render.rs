//! Template rendering throughput: the redis example config (warren-template's test plan) rendered
//! for a follower in a three-member leader-topology group. Criterion's `thrpt` line is renders
//! per second on one core; the target is at least 50 000/s (design.md §4).
//!
//! `render_redis_config` renders with a context prepared once, which is how the service layer
//! renders every template of a plan after a census change; `prepare_and_render_redis_config`
//! adds serializing the context, the cost of the first template after a change.

#![allow(missing_docs)]

use std::collections::BTreeMap;
use std::hint::black_box;
use std::net::IpAddr;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use warren_template::{
    CensusGroup, CensusMember, ElectionStatus, Health, MemberSys, PackageIdent, PkgInfo,
    PreparedContext, RenderContext, Renderer, SvcContext, SysInfo, exported_cfg,
};

const TEMPLATE: &str =
    include_str!("../../crates/warren-template/testdata/redis/config/redis.config");
const DEFAULT_TOML: &str = include_str!("../../crates/warren-template/testdata/redis/default.toml");

fn member_id(n: u8) -> String {
    format!("{n:032x}")
}

fn ident() -> PackageIdent {
    PackageIdent::new("core", "redis", "7.2.4", "20240101000000")
}

/// Three alive redis members, member 1 the elected leader, seen from member 2.
fn context() -> RenderContext {
    let cfg: toml::Table = toml::from_str(DEFAULT_TOML).unwrap_or_else(|e| panic!("{e}"));
    let exports = BTreeMap::from([("port".to_owned(), "port".to_owned())]);
    let member = |n: u8| CensusMember {
        member_id: member_id(n),
        pkg: Some(ident()),
        service: "redis".into(),
        group: "default".into(),
        persistent: true,
        leader: n == 1,
        follower: n != 1,
        election: ElectionStatus::Finished,
        sys: MemberSys {
            ip: format!("10.0.0.{n}"),
            hostname: format!("redis-{n}"),
            gossip_ip: "0.0.0.0".into(),
            gossip_port: 9638,
            http_gateway_ip: "0.0.0.0".into(),
            http_gateway_port: 9631,
            ctl_gateway_ip: "127.0.0.1".into(),
            ctl_gateway_port: 9632,
        },
        health: Health::Alive,
        cfg: exported_cfg(&exports, &cfg),
        ..CensusMember::default()
    };
    let group = CensusGroup {
        service: "redis".into(),
        group: "default".into(),
        election: ElectionStatus::Finished,
        leader_id: Some(member_id(1)),
        population: (1..=3).map(member).collect(),
        ..CensusGroup::default()
    };
    let mut pkg = PkgInfo::new(ident(), Path::new("/"));
    pkg.exports = exports;
    RenderContext {
        sys: SysInfo {
            member_id: member_id(2),
            ip: IpAddr::from([10, 0, 0, 2]),
            hostname: "redis-2".into(),
            ..SysInfo::default()
        },
        pkg,
        cfg,
        svc: SvcContext::new(&group, &member_id(2)).unwrap_or_else(|e| panic!("{e}")),
        bind: BTreeMap::new(),
    }
}

fn render(c: &mut Criterion) {
    let mut renderer = Renderer::new();
    renderer
        .register_template("redis.config", TEMPLATE)
        .unwrap_or_else(|e| panic!("{e}"));
    let ctx = context();
    let prepared = PreparedContext::new(&ctx).unwrap_or_else(|e| panic!("{e}"));
    let sample = renderer
        .render_prepared("redis.config", &prepared)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(sample.contains("replicaof 10.0.0.1 6379"), "{sample}");

    let mut group = c.benchmark_group("template");
    group.throughput(Throughput::Elements(1));
    group.bench_function("render_redis_config", |b| {
        b.iter(|| {
            renderer
                .render_prepared("redis.config", black_box(&prepared))
                .map(|s| s.len())
        })
    });
    group.bench_function("prepare_and_render_redis_config", |b| {
        b.iter(|| {
            PreparedContext::new(black_box(&ctx))
                .and_then(|p| renderer.render_prepared("redis.config", &p))
                .map(|s| s.len())
        })
    });
    group.finish();
}

criterion_group!(benches, render);
criterion_main!(benches);
