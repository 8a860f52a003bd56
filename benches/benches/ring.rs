//! Benchmarks of the ring core and the simulator: the cost of handling one probe exchange, and of
//! simulating a 100-member ring for 10 virtual seconds.

#![allow(missing_docs)]

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use warren_ring::{Config, Identity, MemberId, Ring, Swim, SwimKind, Time, Transmit};
use warren_sim::scenario::{Params, form_ring};

fn identity(n: u8) -> Identity {
    Identity {
        id: MemberId::new(format!("{n:032x}")),
        incarnation: 0,
        address: IpAddr::V4(Ipv4Addr::new(127, 0, 0, n)),
        swim_port: 9638,
        gossip_port: 9638,
        persistent: false,
    }
}

/// Two members exchanging a Ping and its Ack: the per-message cost of the core.
fn ping_ack(c: &mut Criterion) {
    let mut a = Ring::new(Config::default(), identity(1), 1, Time::ZERO);
    let mut b = Ring::new(Config::default(), identity(2), 2, Time::ZERO);
    let a_addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)), 9638);
    let b_addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)), 9638);
    let ping = Swim {
        from: a.myself().clone(),
        kind: SwimKind::Ping { forward_to: None },
        membership: Vec::new(),
    };
    let mut now = Time::ZERO;
    c.bench_function("ring/ping_ack_exchange", |bench| {
        bench.iter(|| {
            now = now + Duration::from_millis(1);
            b.handle_datagram(a_addr, ping.clone(), now);
            while let Some(t) = b.poll_transmit() {
                if let Transmit::Swim { msg, .. } = t {
                    a.handle_datagram(b_addr, msg, now);
                }
            }
            while a.poll_transmit().is_some() {}
            while a.poll_event().is_some() {}
            while b.poll_event().is_some() {}
            black_box(a.members().len())
        })
    });
}

/// Forming a 100-member ring from one seed and running it 10 s: the simulator's throughput.
fn simulate(c: &mut Criterion) {
    let mut group = c.benchmark_group("sim");
    group.sample_size(10);
    group.bench_function("form_100_and_run_10s", |bench| {
        bench.iter(|| {
            let p = Params {
                nodes: 100,
                seed: 7,
                ..Params::default()
            };
            let (mut sim, _) = form_ring(&p, Config::default()).unwrap_or_else(|e| panic!("{e}"));
            sim.run_for(Duration::from_secs(10));
            black_box(sim.events_processed())
        })
    });
    group.finish();
}

criterion_group!(benches, ping_ack, simulate);
criterion_main!(benches);
