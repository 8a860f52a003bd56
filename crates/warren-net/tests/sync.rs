//! The shell on real sockets: a full-state sync larger than one pusher queue (and than a
//! receiver's rate-limit burst) reaches the other member whole; and in a quiet ring a lone
//! member, after its first snapshot, takes only refreshes (its owner's cheap path for counters
//! and time-bound state), still at least once a second.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use warren_net::{Counters, Gossip, GossipConfig, Hooks};
use warren_ring::{Config, Event, MemberId, Ring, Rumor, RumorKey, ServiceConfig, Time};

/// Publishes (gossiped configs held, messages the shell dropped on the push side).
struct Watch(watch::Sender<(usize, u64)>);

impl Hooks for Watch {
    fn incarnation_changed(&mut self, _: u64) {}
    fn event(&mut self, _: &Event) {}
    fn snapshot(&mut self, ring: &Ring, counters: &Counters, _: Time) {
        let configs = ring
            .rumors()
            .iter()
            .filter(|(k, _)| matches!(k, RumorKey::ServiceConfig(_)))
            .count();
        let push_drops = counters
            .dropped
            .iter()
            .filter(|(reason, _)| reason.starts_with("push_"))
            .map(|(_, n)| n)
            .sum();
        self.0.send_replace((configs, push_drops));
    }
    fn persist(&mut self, _: &Ring) {}
}

fn gossip_config(id: char, peers: Vec<String>, rumors: Vec<Rumor>) -> GossipConfig {
    GossipConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        advertise_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
        peers,
        peer_watch_file: None,
        cut_file: None,
        saved_peers: false,
        persistent: false,
        ring_key: None,
        ring: Config::default(),
        member_id: MemberId::new(id.to_string().repeat(32)),
        incarnation: 0,
        initial_members: Vec::new(),
        initial_rumors: rumors,
        initial_agreed: Vec::new(),
        services: Vec::new(),
        snapshot_interval: Duration::from_millis(50),
        persist_interval: Duration::from_secs(3600),
        leave_linger: Duration::from_millis(50),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_larger_than_a_push_queue_arrives_whole() {
    // More than a pusher queue (1000) and than a PULL listener's burst (2000).
    const N: usize = 2500;
    let rumors = (0..N)
        .map(|i| {
            Rumor::ServiceConfig(Arc::new(ServiceConfig {
                incarnation: 1,
                service_group: format!("svc{i}.default"),
                encrypted: false,
                config: b"answer = 42".to_vec(),
            }))
        })
        .collect();
    let a = Gossip::bind(gossip_config('a', Vec::new(), rumors))
        .await
        .unwrap();
    let peers = vec![a.local_addr().to_string()];
    let b = Gossip::bind(gossip_config('b', peers, Vec::new()))
        .await
        .unwrap();
    let shutdown = CancellationToken::new();
    let (a_tx, a_rx) = watch::channel((0, 0));
    let (b_tx, mut b_rx) = watch::channel((0, 0));
    let ta = tokio::spawn(a.run(Watch(a_tx), shutdown.clone()));
    let tb = tokio::spawn(b.run(Watch(b_tx), shutdown.clone()));

    // B learns them from A's sync when it joins (about 3 s at the bulk lane's pace).
    let whole = tokio::time::timeout(Duration::from_secs(30), b_rx.wait_for(|(n, _)| *n >= N))
        .await
        .is_ok();
    let held = b_rx.borrow().0;
    assert!(whole, "B holds {held} of {N} configs");
    assert_eq!(held, N);
    assert_eq!(a_rx.borrow().1, 0, "A dropped rumors on the push side");

    shutdown.cancel();
    ta.await.unwrap().unwrap();
    tb.await.unwrap().unwrap();
}

/// Counts the calls: (snapshots, refreshes).
#[derive(Clone, Default)]
struct Calls(Arc<Mutex<(u32, u32)>>);

impl Hooks for Calls {
    fn incarnation_changed(&mut self, _: u64) {}
    fn event(&mut self, _: &Event) {}
    fn snapshot(&mut self, _: &Ring, _: &Counters, _: Time) {
        self.0.lock().unwrap().0 += 1;
    }
    fn refresh(&mut self, _: &Ring, _: &Counters, _: Time) {
        self.0.lock().unwrap().1 += 1;
    }
    fn persist(&mut self, _: &Ring) {}
}

#[tokio::test]
async fn a_quiet_member_refreshes_instead_of_snapshotting() {
    let config = gossip_config('q', Vec::new(), Vec::new());
    let gossip = Gossip::bind(config).await.unwrap();
    let calls = Calls::default();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(gossip.run(calls.clone(), shutdown.clone()));
    // Let start-up settle (its own events make a snapshot), then watch a quiet stretch.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let before = *calls.0.lock().unwrap();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let after = *calls.0.lock().unwrap();
    shutdown.cancel();
    task.await.unwrap().unwrap();
    assert!(before.0 >= 1, "no snapshot at start: {before:?}");
    assert_eq!(
        after.0, before.0,
        "snapshots in a quiet ring (before {before:?}, after {after:?})"
    );
    assert!(
        after.1 >= before.1 + 3,
        "fewer than one refresh a second in a quiet ring (before {before:?}, after {after:?})"
    );
}

/// A config pushed to a group is published to the member's owner (its services) at once, not
/// after the snapshot interval: with the interval's wait, `config apply` reached hooks up to
/// half a second late on a member that had just published anything else.
#[tokio::test]
async fn a_pushed_config_skips_the_snapshot_interval() {
    let mut config = gossip_config('u', Vec::new(), Vec::new());
    config.snapshot_interval = Duration::from_secs(30);
    let gossip = Gossip::bind(config).await.unwrap();
    let commands = gossip.commands();
    let calls = Calls::default();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(gossip.run(calls.clone(), shutdown.clone()));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = *calls.0.lock().unwrap();
    assert!(before.0 >= 1, "no snapshot at start: {before:?}");
    let rumor = Rumor::ServiceConfig(Arc::new(ServiceConfig {
        incarnation: 7,
        service_group: "hello.default".into(),
        encrypted: false,
        config: b"answer = 42".to_vec(),
    }));
    commands
        .send(warren_net::RingCommand::Publish(rumor))
        .unwrap();
    let mut after = before;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        after = *calls.0.lock().unwrap();
        if after.0 > before.0 {
            break;
        }
    }
    shutdown.cancel();
    task.await.unwrap().unwrap();
    assert!(
        after.0 > before.0,
        "no snapshot within 5 s of a pushed config (interval 30 s): before {before:?}, after {after:?}"
    );
}
