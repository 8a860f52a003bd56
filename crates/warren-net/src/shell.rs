//! The gossip task: sockets in, [`Ring`] in the middle, sockets out.
//!
//! Order inside the loop follows the core's contract: received datagrams are drained before due
//! timers fire (an Ack that arrived while we were descheduled still counts), and after every input
//! the core's transmits and events are drained. Decoding failures (wrong ring key, malformed
//! packets) are counted by reason and logged at most once per reason every 10 s.
//!
//! Peers are resolved on their own task (`resolver.rs`): the loop only receives address lists
//! (the first joins, later ones replace the ring's peers) and reports its Alive count back.
//!
//! Rumors leave through a ZMTP [`Pusher`], one message each. A rumor transmit larger than one
//! gossip push (`Config::max_rumors_per_push`; only a full-state sync is) goes to the pusher's
//! bulk lane ([`Pusher::send_bulk`]): it does not meet the per-target queue's high-water mark,
//! is paced below a Warren receiver's rate limit, and is bounded in bytes; the shell never waits
//! for queue space on the gossip task. Whatever the pusher refuses is a counted drop.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};
pub use warren_ring::LocalService;
use warren_ring::{
    AgreedResult, Boot, Config, ElectionKind, Event, Health, Identity, MemberId, Membership, Ring,
    Rumor, RumorKey, Service, Time, Transmit,
};
use warren_wire::{ExactSize, RingKey, decode_rumor, decode_swim, encode_rumor, encode_swim};
use warren_zmtp::{PullConfig, PullListener, PushConfig, Pusher, SendError};

use crate::faults::Faults;
use crate::resolver;
use crate::urgency::Urgency;

/// Largest datagram read (Habitat reads 1024 bytes; Warren accepts more and never sends more).
const RECV_BUF: usize = 64 * 1024;
/// How soon state files are written after an election changed.
const PERSIST_SOON: Duration = Duration::from_secs(1);
/// Datagrams handled in one go before timers get their turn.
const RECV_BATCH: usize = 64;
/// How long past the snapshot interval a quiet ring waits before publishing its counters.
const COUNTERS_EVERY: Duration = Duration::from_millis(500);
/// The shortest gap between two snapshots when what changed is something a service acts on
/// (a config, a file, a new term, status, candidate or acting leader of an election, but not a
/// vote: `urgency.rs`): these skip the snapshot interval's wait.
const URGENT_GAP: Duration = Duration::from_millis(20);

/// When the next snapshot may be taken: `next` (the snapshot interval after the last one), or
/// `URGENT_GAP` after the last one for an urgent change.
fn snapshot_due(next: Instant, interval: Duration, urgent: bool) -> Instant {
    let early = interval.saturating_sub(URGENT_GAP);
    match next.checked_sub(early) {
        Some(t) if urgent => t,
        _ => next,
    }
}

/// Everything the gossip task needs, resolved by the caller.
#[derive(Clone, Debug)]
pub struct GossipConfig {
    /// UDP and TCP listen address (same port for both, as Habitat).
    pub listen: SocketAddr,
    /// The address other members should reach this one at.
    pub advertise_ip: IpAddr,
    /// Initial peers, `HOST[:PORT]`; DNS names mean every address they resolve to.
    pub peers: Vec<String>,
    /// A file of further peers, re-read whenever it changes.
    pub peer_watch_file: Option<PathBuf>,
    /// Local rings only (`warren local`): a file of `block=IP:PORT`, `drop=P` and `delay_ms=N`
    /// lines, re-read when it changes; datagrams to and from blocked addresses and rumors to
    /// them are dropped (see `faults.rs`). `None` everywhere else.
    pub cut_file: Option<PathBuf>,
    /// The member restarted and its saved state (rumor file, election results) names other
    /// members: it waits to meet them before it judges quorum, as if they were given as peers
    /// (a ring's first member, restarted without `--peer`, must not elect itself alone).
    pub saved_peers: bool,
    /// Started as a permanent peer.
    pub persistent: bool,
    /// Ring key; `None` means plaintext.
    pub ring_key: Option<RingKey>,
    /// Protocol timings.
    pub ring: Config,
    /// Persisted member id.
    pub member_id: MemberId,
    /// Incarnation to start with.
    pub incarnation: u64,
    /// Membership records loaded from disk, inserted before the first packet.
    pub initial_members: Vec<Membership>,
    /// Rumors loaded from disk, inserted before the first packet.
    pub initial_rumors: Vec<Rumor>,
    /// Election results saved before a restart (`Ring::restore_agreed`).
    pub initial_agreed: Vec<AgreedResult>,
    /// This member's services, published (and their elections joined) before the first packet.
    pub services: Vec<LocalService>,
    /// Minimum time between two [`Hooks::snapshot`] calls, except after a change the services
    /// act on (a config, a file or an election: then `URGENT_GAP`).
    pub snapshot_interval: Duration,
    /// Time between two [`Hooks::persist`] calls.
    pub persist_interval: Duration,
    /// How long to keep spreading our departure after a graceful leave.
    pub leave_linger: Duration,
}

/// What the gossip task tells its owner; every call happens on the gossip task, so keep it quick.
pub trait Hooks: Send {
    /// Our incarnation changed: persist it now.
    fn incarnation_changed(&mut self, incarnation: u64);
    /// Every event the ring reported, in order (logging is done by the shell already).
    fn event(&mut self, event: &Event);
    /// Something changed (at most once per `snapshot_interval`, and once at start).
    fn snapshot(&mut self, ring: &Ring, counters: &Counters, now: Time);
    /// Nothing happened since the last snapshot, but time passed (every `snapshot_interval`
    /// plus half a second in a quiet ring): traffic counters moved, and what depends on time
    /// (a leader's lease) may have. The default takes a whole snapshot; an owner whose
    /// snapshot is costly can publish only what changed.
    fn refresh(&mut self, ring: &Ring, counters: &Counters, now: Time) {
        self.snapshot(ring, counters, now);
    }
    /// Time to write the rumor file (every `persist_interval` and at the end).
    fn persist(&mut self, ring: &Ring);
}

/// Why the gossip task stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// The shutdown token was cancelled; we left the ring gracefully.
    Shutdown,
    /// A Departure rumor named us (Habitat exits with code 86).
    DepartedByRing,
}

/// Failures of the gossip shell.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// The UDP socket could not be bound.
    #[error("cannot bind the gossip UDP socket {addr}: {source}")]
    BindUdp {
        /// Address.
        addr: SocketAddr,
        /// Cause.
        source: std::io::Error,
    },
    /// The TCP listener could not be bound.
    #[error("cannot bind the gossip TCP listener {addr}: {source}")]
    BindTcp {
        /// Address.
        addr: SocketAddr,
        /// Cause.
        source: std::io::Error,
    },
    /// The rumor pusher could not start.
    #[error("cannot start the rumor pusher: {0}")]
    Pusher(String),
    /// The gossip thread ([`crate::GossipThread`]) could not start or ended without a result.
    #[error("gossip thread: {0}")]
    Thread(String),
}

/// Counters of the shell (the core keeps its own in [`warren_ring::Stats`]).
#[derive(Clone, Debug, Default)]
pub struct Counters {
    /// Datagrams received.
    pub datagrams_in: u64,
    /// Datagrams sent.
    pub datagrams_out: u64,
    /// Bytes received on UDP.
    pub bytes_in: u64,
    /// Bytes sent on UDP.
    pub bytes_out: u64,
    /// Rumor messages received.
    pub rumors_in: u64,
    /// Rumor messages queued for sending.
    pub rumors_out: u64,
    /// Rumors received and decoded, by kind (`member`, `service`, …).
    pub rumors_in_by_kind: BTreeMap<&'static str, u64>,
    /// Rumors sent, by kind.
    pub rumors_out_by_kind: BTreeMap<&'static str, u64>,
    /// Messages dropped, by reason (`decrypt`, `missing_nonce`, `protobuf`, `push_queue_full`,
    /// `push_bulk_full`, `push_too_many_targets`…).
    pub dropped: BTreeMap<&'static str, u64>,
}

/// What the rest of the process asks of the ring while it runs (the service runtime publishes
/// its Service rumors and joins, tunes and leaves elections through these).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RingCommand {
    /// Publish (or re-publish, with a higher incarnation) a local service's Service rumor.
    PublishService(Box<Service>),
    /// Join an election for a service group with this suitability.
    StartElection {
        /// The service group.
        service_group: String,
        /// Topology or update election.
        kind: ElectionKind,
        /// Higher wins.
        suitability: u64,
    },
    /// Change our suitability in an election already joined (from the `suitability` hook).
    SetSuitability {
        /// The service group.
        service_group: String,
        /// Topology or update election.
        kind: ElectionKind,
        /// Higher wins.
        suitability: u64,
    },
    /// Publish a rumor we originate: gossiped config, a gossiped file, a departure.
    Publish(Rumor),
    /// Leave a service group (the service was unloaded): withdraw our Service rumor and stop
    /// taking part in its elections.
    WithdrawService {
        /// The service group.
        service_group: String,
    },
}

/// A bound gossip endpoint, ready to run.
pub struct Gossip {
    cfg: GossipConfig,
    udp: Arc<UdpSocket>,
    pull: PullListener,
    rumor_rx: mpsc::Receiver<(SocketAddr, Vec<u8>)>,
    commands_tx: mpsc::UnboundedSender<RingCommand>,
    commands_rx: mpsc::UnboundedReceiver<RingCommand>,
    cancel: CancellationToken,
    local: SocketAddr,
}

impl std::fmt::Debug for Gossip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gossip")
            .field("local", &self.local)
            .finish_non_exhaustive()
    }
}

impl Gossip {
    /// Binds the UDP socket and the TCP (ZMTP PULL) listener on `cfg.listen`.
    pub async fn bind(cfg: GossipConfig) -> Result<Gossip, NetError> {
        let udp = UdpSocket::bind(cfg.listen)
            .await
            .map_err(|source| NetError::BindUdp {
                addr: cfg.listen,
                source,
            })?;
        let local = udp.local_addr().map_err(|source| NetError::BindUdp {
            addr: cfg.listen,
            source,
        })?;
        let cancel = CancellationToken::new();
        // Same port number for TCP as for UDP (matters when the caller asked for port 0).
        let tcp_addr = SocketAddr::new(cfg.listen.ip(), local.port());
        let pull_cfg = PullConfig {
            max_frame_size: 256 * 1024,
            ..PullConfig::default()
        };
        let (pull, rumor_rx) = PullListener::bind(tcp_addr, pull_cfg, &cancel)
            .await
            .map_err(|source| NetError::BindTcp {
                addr: tcp_addr,
                source,
            })?;
        let (commands_tx, commands_rx) = mpsc::unbounded_channel();
        Ok(Gossip {
            cfg,
            udp: Arc::new(udp),
            pull,
            rumor_rx,
            commands_tx,
            commands_rx,
            cancel,
            local,
        })
    }

    /// The bound address (UDP and TCP share its port).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// A sender of [`RingCommand`]s to the running ring. Commands sent before [`Gossip::run`]
    /// are applied before the first packet; commands sent after the ring stopped are dropped.
    pub fn commands(&self) -> mpsc::UnboundedSender<RingCommand> {
        self.commands_tx.clone()
    }

    /// Runs the ring until `shutdown` is cancelled (then leaves gracefully) or the ring departs
    /// us. Returns why it stopped.
    pub async fn run(
        mut self,
        mut hooks: impl Hooks,
        shutdown: CancellationToken,
    ) -> Result<Exit, NetError> {
        let cfg = self.cfg.clone();
        let key = cfg.ring_key.clone();
        let faults = Faults::new(cfg.cut_file.clone());
        let pusher = Pusher::new(PushConfig::default(), &self.cancel)
            .map_err(|e| NetError::Pusher(e.to_string()))?;
        let origin = Instant::now();
        // The Unix time at the origin: the clock members share for their probe schedule.
        let clock_phase = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let now = move || Time::from_duration(origin.elapsed());
        let identity = Identity {
            id: cfg.member_id.clone(),
            incarnation: cfg.incarnation,
            address: cfg.advertise_ip,
            swim_port: self.local.port(),
            gossip_port: self.local.port(),
            persistent: cfg.persistent,
        };
        // The services loaded before the ring runs are part of its start (`Ring::boot`, the
        // order the simulator drives too); other early commands follow it.
        let (services, later) = boot_services(cfg.services.clone(), &mut self.commands_rx);
        let boot = Boot {
            agreed: cfg.initial_agreed.clone(),
            members: cfg.initial_members.clone(),
            rumors: cfg.initial_rumors.clone(),
            services,
            peers_expected: !cfg.peers.is_empty()
                || cfg.peer_watch_file.is_some()
                || cfg.saved_peers,
            clock_phase,
        };
        let mut ring = Ring::boot(cfg.ring.clone(), identity, os_seed(), now(), boot);
        ring.set_wire_size(Arc::new(ExactSize::for_key(key.as_ref())));
        let me = cfg.member_id.clone();
        for cmd in later {
            apply_command(&mut ring, cmd, now());
        }
        let mut out = Outbox {
            udp: Arc::clone(&self.udp),
            pusher,
            bulk_above: cfg.ring.max_rumors_per_push,
            key: key.clone(),
            faults: faults.clone(),
            counters: Counters::default(),
            log: BTreeMap::new(),
        };

        // Peers are resolved off the loop so a slow DNS server never stalls the ring; the
        // resolver re-resolves faster while the ring holds fewer Alive members than it found.
        let (peer_tx, mut peer_rx) = mpsc::channel::<Vec<SocketAddr>>(4);
        let (alive_tx, alive_rx) = watch::channel(ring.members().count(Health::Alive));
        let names = resolver::Names {
            peers: cfg.peers.clone(),
            watch_file: cfg.peer_watch_file.clone(),
            me: SocketAddr::new(cfg.advertise_ip, self.local.port()),
        };
        tokio::spawn(resolver::run(
            names,
            resolver::Dns,
            alive_rx,
            peer_tx,
            self.cancel.clone(),
        ));
        let mut joined = false;

        let mut buf = vec![0u8; RECV_BUF];
        let mut dirty = true;
        let mut urgent_change = false;
        let mut urgency = Urgency::default();
        let mut next_snapshot = Instant::now();
        // A quiet ring's refresh of the counters; it does not hold back the next snapshot.
        let mut next_refresh = Instant::now() + cfg.snapshot_interval + COUNTERS_EVERY;
        let mut next_persist = Instant::now() + cfg.persist_interval;
        let mut leaving_until: Option<Instant> = None;
        let mut exit = Exit::Shutdown;
        let mut local_health = ring.local_health();
        info!(member_id = %me, listen = %self.local, encrypted = key.is_some(), "gossip started");
        // One timer for the whole loop, moved only when the deadline moves: registering a new
        // one each turn made tokio's time driver wake its own thread once more per turn.
        let timer = sleep_until(Instant::now());
        tokio::pin!(timer);

        loop {
            let due = snapshot_due(next_snapshot, cfg.snapshot_interval, urgent_change);
            let deadline = ring
                .poll_timeout()
                .map(|t| origin + t.as_duration())
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(1))
                .min(if dirty { due } else { next_persist })
                .min(next_persist)
                .min(leaving_until.unwrap_or(next_persist));
            if timer.deadline() != deadline {
                timer.as_mut().reset(deadline);
            }
            tokio::select! {
                biased;
                _ = shutdown.cancelled(), if leaving_until.is_none() => {
                    info!(member_id = %me, "leaving the ring");
                    ring.leave(now());
                    leaving_until = Some(Instant::now() + cfg.leave_linger);
                }
                r = self.udp.recv_from(&mut buf) => {
                    if let Ok((n, src)) = r {
                        out.datagram_in(&mut ring, &buf[..n], src, now());
                    }
                    // Drain what else is queued before any timer fires.
                    for _ in 0..RECV_BATCH {
                        match self.udp.try_recv_from(&mut buf) {
                            Ok((n, src)) => out.datagram_in(&mut ring, &buf[..n], src, now()),
                            Err(_) => break,
                        }
                    }
                    // A steady stream of datagrams must not starve the timers.
                    if Instant::now() >= deadline {
                        ring.handle_timeout(now());
                    }
                }
                Some((_peer, bytes)) = self.rumor_rx.recv() => {
                    out.rumor_in(&mut ring, &bytes, now());
                    for _ in 0..RECV_BATCH {
                        let Ok((_p, b)) = self.rumor_rx.try_recv() else { break };
                        out.rumor_in(&mut ring, &b, now());
                    }
                    if Instant::now() >= deadline {
                        ring.handle_timeout(now());
                    }
                }
                Some(cmd) = self.commands_rx.recv() => {
                    apply_command(&mut ring, cmd, now());
                    while let Ok(cmd) = self.commands_rx.try_recv() {
                        apply_command(&mut ring, cmd, now());
                    }
                }
                Some(addrs) = peer_rx.recv() => {
                    if joined {
                        ring.set_peers(addrs);
                    } else {
                        debug!(peers = ?addrs, "joining");
                        ring.join(addrs, now());
                        joined = true;
                    }
                }
                () = &mut timer => {
                    ring.handle_timeout(now());
                }
            }
            out.faults.refresh();
            out.flush(&mut ring).await;
            while let Some(ev) = ring.poll_event() {
                dirty = true;
                urgent_change |= urgency.urgent(&ev, &ring, now());
                hooks.event(&ev);
                // Election results are written within a second, not at the next 30 s write: a
                // member killed and restarted in between would know nothing of its group.
                if matches!(
                    &ev,
                    Event::RumorChanged(RumorKey::Election(_) | RumorKey::ElectionUpdate(_))
                ) {
                    next_persist = next_persist.min(Instant::now() + PERSIST_SOON);
                }
                match ev {
                    Event::IncarnationChanged(inc) => hooks.incarnation_changed(inc),
                    Event::DepartedByRing => {
                        warn!(member_id = %me, "this member was departed from the ring; stopping");
                        exit = Exit::DepartedByRing;
                        leaving_until = Some(Instant::now());
                    }
                    Event::QuorumChanged {
                        service_group,
                        kind,
                        quorum: false,
                    } => {
                        let why = ring
                            .quorum_gap(&service_group, kind, now())
                            .map(|g| g.to_string())
                            .unwrap_or_default();
                        warn!(%service_group, ?kind, "election has no quorum: {why}");
                    }
                    Event::QuorumChanged {
                        service_group,
                        kind,
                        quorum: true,
                    } => info!(%service_group, ?kind, "election has quorum again"),
                    other => log_event(&other),
                }
            }
            // Wakes the resolver only when the count changed.
            let alive = ring.members().count(Health::Alive);
            alive_tx.send_if_modified(|n| std::mem::replace(n, alive) != alive);
            // Lifeguard's local health moves without an event; snapshots publish it too.
            if ring.local_health() != local_health {
                local_health = ring.local_health();
                dirty = true;
            }
            let t = Instant::now();
            // Traffic counters move without events: in a quiet ring they are published at
            // least every `COUNTERS_EVERY` past the snapshot interval (`/metrics` would
            // otherwise show the counts of the last membership change).
            if dirty && t >= snapshot_due(next_snapshot, cfg.snapshot_interval, urgent_change) {
                hooks.snapshot(&ring, &out.counters, now());
                dirty = false;
                urgent_change = false;
                next_snapshot = t + cfg.snapshot_interval;
                next_refresh = next_snapshot + COUNTERS_EVERY;
            } else if !dirty && t >= next_refresh {
                hooks.refresh(&ring, &out.counters, now());
                next_refresh = t + cfg.snapshot_interval + COUNTERS_EVERY;
            }
            if t >= next_persist {
                hooks.persist(&ring);
                next_persist = t + cfg.persist_interval;
            }
            if leaving_until.is_some_and(|until| t >= until) {
                break;
            }
        }
        hooks.snapshot(&ring, &out.counters, now());
        hooks.persist(&ring);
        // Give queued rumors (our departure) a moment to leave before the pusher stops.
        tokio::time::sleep(Duration::from_millis(200)).await;
        self.cancel.cancel();
        self.pull.shutdown();
        Ok(exit)
    }
}

/// Splits the commands sent before the ring runs into the services it starts with (a Service
/// rumor and the elections of its group) and the rest, in order.
fn boot_services(
    mut services: Vec<LocalService>,
    rx: &mut mpsc::UnboundedReceiver<RingCommand>,
) -> (Vec<LocalService>, Vec<RingCommand>) {
    let mut later = Vec::new();
    while let Ok(cmd) = rx.try_recv() {
        match cmd {
            RingCommand::PublishService(s) if later.is_empty() => {
                let sg = s.service_group.clone();
                match services.iter_mut().find(|l| l.service.service_group == sg) {
                    Some(l) => l.service = *s,
                    None => services.push(LocalService {
                        service: *s,
                        elections: Vec::new(),
                    }),
                }
            }
            RingCommand::StartElection {
                service_group,
                kind,
                suitability,
            } if later.is_empty() => match services
                .iter_mut()
                .find(|l| l.service.service_group == service_group)
            {
                Some(l) => l.elections.push((kind, suitability)),
                None => later.push(RingCommand::StartElection {
                    service_group,
                    kind,
                    suitability,
                }),
            },
            other => later.push(other),
        }
    }
    (services, later)
}

fn apply_command(ring: &mut Ring, cmd: RingCommand, now: Time) {
    debug!(?cmd, "ring command");
    match cmd {
        RingCommand::PublishService(service) => {
            ring.publish_service(*service, now);
        }
        RingCommand::StartElection {
            service_group,
            kind,
            suitability,
        } => {
            ring.start_election(&service_group, kind, suitability, now);
        }
        RingCommand::SetSuitability {
            service_group,
            kind,
            suitability,
        } => ring.set_suitability(&service_group, kind, suitability),
        RingCommand::Publish(rumor) => {
            ring.publish(rumor, now);
        }
        RingCommand::WithdrawService { service_group } => {
            ring.withdraw_service(&service_group, now);
        }
    }
}

fn os_seed() -> u64 {
    let mut b = [0u8; 8];
    if getrandom::getrandom(&mut b).is_err() {
        // Start-up invariant: the OS RNG works; fall back to the clock rather than fail.
        let t = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        return t ^ u64::from(std::process::id());
    }
    u64::from_le_bytes(b)
}

fn log_event(ev: &Event) {
    if let Event::MemberChanged {
        member,
        health,
        previous,
    } = ev
    {
        let id = &member.id;
        let addr = member.swim_addr();
        match (previous, health) {
            (None, Health::Alive) => info!(member_id = %id, %addr, "member joined"),
            (Some(p), Health::Alive) if *p != Health::Alive => {
                info!(member_id = %id, %addr, incarnation = member.incarnation, "member alive")
            }
            (_, Health::Suspect) => warn!(member_id = %id, %addr, "member suspect"),
            (_, Health::Confirmed) => warn!(member_id = %id, %addr, "member confirmed failed"),
            (_, Health::Departed) => info!(member_id = %id, %addr, "member departed"),
            _ => debug!(member_id = %id, %addr, incarnation = member.incarnation, "member updated"),
        }
    }
}

/// Encoding, encryption and sending, plus the shell's counters.
struct Outbox {
    udp: Arc<UdpSocket>,
    pusher: Pusher,
    /// Rumor transmits with more rumors than this (full-state syncs) use the bulk lane.
    bulk_above: usize,
    key: Option<RingKey>,
    faults: Faults,
    counters: Counters,
    log: BTreeMap<&'static str, Instant>,
}

impl Outbox {
    fn drop_counted(&mut self, reason: &'static str, from: Option<SocketAddr>) {
        self.drops_counted(reason, 1, from);
    }

    fn drops_counted(&mut self, reason: &'static str, n: u64, from: Option<SocketAddr>) {
        *self.counters.dropped.entry(reason).or_default() += n;
        let t = Instant::now();
        let due = self
            .log
            .get(reason)
            .is_none_or(|last| t.duration_since(*last) >= Duration::from_secs(10));
        if due {
            self.log.insert(reason, t);
            let total = self.counters.dropped.get(reason).copied().unwrap_or(0);
            let hint = match reason {
                "decrypt" | "missing_nonce" | "bad_nonce" => {
                    " (a peer with a different ring key, or none, is talking to us)"
                }
                _ => "",
            };
            match from {
                Some(f) => warn!(from = %f, reason, total, "dropped a gossip message{hint}"),
                None => warn!(reason, total, "dropped a gossip message{hint}"),
            }
        }
    }

    fn datagram_in(&mut self, ring: &mut Ring, bytes: &[u8], src: SocketAddr, now: Time) {
        if self.faults.drops(src) {
            return;
        }
        self.counters.datagrams_in += 1;
        self.counters.bytes_in += bytes.len() as u64;
        match decode_swim(bytes, src, self.key.as_ref()) {
            Ok(msg) => ring.handle_datagram(src, msg, now),
            Err(e) => self.drop_counted(e.reason(), Some(src)),
        }
    }

    fn rumor_in(&mut self, ring: &mut Ring, bytes: &[u8], now: Time) {
        self.counters.rumors_in += 1;
        match decode_rumor(bytes, self.key.as_ref()) {
            Ok(r) => {
                *self
                    .counters
                    .rumors_in_by_kind
                    .entry(r.key().kind())
                    .or_default() += 1;
                ring.handle_rumor(r, now);
            }
            Err(e) => self.drop_counted(e.reason(), None),
        }
    }

    async fn flush(&mut self, ring: &mut Ring) {
        while let Some(t) = ring.poll_transmit() {
            match t {
                Transmit::Swim { to, msg } => {
                    if self.faults.drops(to) {
                        continue;
                    }
                    let bytes = encode_swim(&msg, self.key.as_ref());
                    self.counters.datagrams_out += 1;
                    self.counters.bytes_out += bytes.len() as u64;
                    if self.faults.delay.is_zero() {
                        if let Err(e) = self.udp.send_to(&bytes, to).await {
                            debug!(%to, error = %e, "datagram not sent");
                        }
                    } else {
                        let udp = Arc::clone(&self.udp);
                        let delay = self.faults.delay;
                        tokio::spawn(async move {
                            tokio::time::sleep(delay).await;
                            let _ = udp.send_to(&bytes, to).await;
                        });
                    }
                }
                Transmit::Rumors { to, rumors, .. } => {
                    if self.faults.cuts(to) {
                        continue;
                    }
                    let mut messages = Vec::with_capacity(rumors.len());
                    for r in &rumors {
                        messages.push(encode_rumor(r, self.key.as_ref()));
                        self.counters.rumors_out += 1;
                        *self
                            .counters
                            .rumors_out_by_kind
                            .entry(r.key().kind())
                            .or_default() += 1;
                    }
                    if messages.len() > self.bulk_above {
                        let n = messages.len() as u64;
                        if let Err(e) = self.pusher.send_bulk(to, messages) {
                            let dropped = match e {
                                SendError::BulkFull { dropped } => dropped as u64,
                                _ => n,
                            };
                            self.drops_counted(push_drop_reason(&e), dropped, Some(to));
                        }
                    } else {
                        for bytes in messages {
                            if let Err(e) = self.pusher.send(to, bytes) {
                                self.drop_counted(push_drop_reason(&e), Some(to));
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The drop reason counted for a message the pusher refused.
fn push_drop_reason(e: &SendError) -> &'static str {
    match e {
        SendError::QueueFull => "push_queue_full",
        SendError::BulkFull { .. } => "push_bulk_full",
        SendError::TooManyTargets => "push_too_many_targets",
        SendError::TooLarge { .. } => "push_too_large",
        SendError::Shutdown => "push_shutdown",
    }
}
