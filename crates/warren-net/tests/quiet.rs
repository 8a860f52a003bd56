//! The shell on a real socket, in a quiet ring: after its first snapshot a lone member that
//! hears nothing takes no more snapshots, only refreshes (its owner's cheap path for counters
//! and time-bound state), and still at least once a second.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use warren_net::{Counters, Gossip, GossipConfig, Hooks};
use warren_ring::{Config, Event, MemberId, Ring, Time};

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
    let config = GossipConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        advertise_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
        peers: Vec::new(),
        peer_watch_file: None,
        cut_file: None,
        saved_peers: false,
        persistent: false,
        ring_key: None,
        ring: Config::default(),
        member_id: MemberId::new("q".repeat(32)),
        incarnation: 0,
        initial_members: Vec::new(),
        initial_rumors: Vec::new(),
        initial_agreed: Vec::new(),
        services: Vec::new(),
        snapshot_interval: Duration::from_millis(50),
        persist_interval: Duration::from_secs(3600),
        leave_linger: Duration::from_millis(10),
    };
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
