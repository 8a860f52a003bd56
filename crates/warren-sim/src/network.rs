//! The simulated network and the event loop that drives many `warren-ring` members.
//!
//! One virtual clock, one seeded RNG, one priority queue of events (deliveries and timers). Links
//! have a fixed per-link latency plus per-packet jitter; datagrams are lost i.i.d. with a set
//! probability; rumor messages ride TCP, so they are never lost but are cut by partitions like
//! everything else. Members can crash (their state is gone but their id and incarnation persist),
//! restart, be cut off one way or both ways, and be *slow*: paused for part of every second, with
//! everything addressed to them deferred until the pause ends (received datagrams first, then
//! timers, as Warren's shell does). Members start as `warren run` starts (`Ring::boot`), join
//! their peers when a simulated resolver finds them, restart from state files as old as the real
//! writer leaves them, and hear rumors after a restart only once each peer's pusher reconnected.
//! Nothing here touches a real socket or clock.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use warren_ring::{
    AgreedResult, Boot, Config, EstimatedSize, Event, Health, Identity, LocalService, MemberId,
    Membership, Ring, Rumor, RumorKey, Swim, Time, Transmit, WireSize,
};

/// The SWIM and gossip port every simulated member uses.
pub const PORT: u16 = 9638;

/// ZMTP framing overhead of one rumor message (flags + 8-byte long size, worst case).
const ZMTP_FRAME: usize = 9;

/// Network behaviour.
#[derive(Clone, Debug)]
pub struct NetConfig {
    /// Smallest one-way latency of a link.
    pub base_latency: Duration,
    /// Links differ by up to this much (fixed per link).
    pub link_spread: Duration,
    /// Each packet adds up to this much at random.
    pub jitter: Duration,
    /// Probability that a datagram is lost.
    pub loss: f64,
    /// A member started with peers joins them this long after it booted, at most (drawn per
    /// start): the time `warren run`'s resolver takes to find its peers (DNS not ready yet).
    pub join_delay_max: Duration,
    /// After a member restarts, rumors from each other member reach it only after that member's
    /// rumor pusher reconnects: a delay drawn per pair up to this (the ZMTP pushers back off up
    /// to 5 s between reconnects). Datagrams are not delayed.
    pub reconnect_delay_max: Duration,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            base_latency: Duration::from_micros(200),
            link_spread: Duration::from_millis(2),
            jitter: Duration::from_millis(1),
            loss: 0.0,
            join_delay_max: Duration::ZERO,
            reconnect_delay_max: Duration::ZERO,
        }
    }
}

#[derive(Clone, Debug)]
enum Payload {
    Swim(Swim),
    Rumors(Vec<Rumor>),
}

#[derive(Debug)]
enum Kind {
    Deliver {
        to: usize,
        from: SocketAddr,
        /// Boxed: the event queue moves its entries on every push and pop, and a message is
        /// several times larger than a timer.
        payload: Box<Payload>,
    },
    Timer {
        node: usize,
        generation: u64,
    },
    /// The member's resolver found its peers.
    Join {
        node: usize,
        generation: u64,
        peers: Vec<SocketAddr>,
    },
}

#[derive(Debug)]
struct Queued {
    at: Time,
    /// Deliveries (0) go before timers (1) at the same instant.
    prio: u8,
    seq: u64,
    kind: Kind,
}

impl PartialEq for Queued {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.prio, self.seq) == (o.at, o.prio, o.seq)
    }
}
impl Eq for Queued {}
impl PartialOrd for Queued {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Queued {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.at, self.prio, self.seq).cmp(&(o.at, o.prio, o.seq))
    }
}

/// A member pauses for `pause` at the start of every `period` (shifted by `offset`).
#[derive(Clone, Copy, Debug)]
pub struct Slowness {
    /// Cycle length.
    pub period: Duration,
    /// Paused part of each cycle.
    pub pause: Duration,
    /// Phase of the cycle.
    pub offset: Duration,
}

impl Slowness {
    fn pause_end(&self, now: Time) -> Option<Time> {
        let t = now.as_duration().saturating_sub(self.offset);
        let period = self.period.as_nanos().max(1);
        let into = t.as_nanos() % period;
        let into = Duration::from_nanos(u64::try_from(into).unwrap_or(0));
        (now.as_duration() >= self.offset && into < self.pause).then(|| now + (self.pause - into))
    }
}

/// One simulated member.
#[derive(Debug)]
pub struct Node {
    /// The core, or `None` while crashed or not started.
    pub ring: Option<Ring>,
    /// Persisted id.
    pub id: MemberId,
    /// Persisted incarnation (what the member last reported).
    pub incarnation: u64,
    /// Its address.
    pub addr: IpAddr,
    /// When set, the member is paused part of every second.
    pub slow: Option<Slowness>,
    /// Bytes this member sent.
    pub bytes_sent: u64,
    /// Messages this member sent.
    pub msgs_sent: u64,
    /// The services this member runs (loaded at boot when it starts or restarts).
    pub services: Vec<LocalService>,
    started_before: bool,
    saved: Option<Saved>,
    next_persist: Option<Time>,
    /// Bumped at each start and crash: events of an earlier life are dropped.
    life: u64,
    /// Rumors from a member reach this one no sooner than this (its pusher reconnecting).
    rumors_held_until: HashMap<usize, Time>,
    timer_gen: u64,
    timer_at: Option<Time>,
}

/// What a member's rumor file and election results file hold.
type Saved = (Vec<Membership>, Vec<Rumor>, Vec<AgreedResult>);

/// How often `warren run` writes its rumor file (and the election results beside it).
pub const PERSIST_INTERVAL: Duration = Duration::from_secs(30);

/// Ground-truth observations the simulator makes as events happen.
#[derive(Clone, Debug, Default)]
pub struct Observations {
    /// A live member was marked Suspect by someone (count of verdicts).
    pub false_suspicions: u64,
    /// A live member was marked Confirmed or Departed by someone.
    pub false_deaths: u64,
    /// False deaths whose subject was this member index (filled for every subject).
    pub false_deaths_of: HashMap<usize, u64>,
    /// First time each (observer, watched member) saw the member Confirmed or worse.
    pub confirmed_at: HashMap<(usize, usize), Time>,
    /// First time each observer saw a watched rumor key change.
    pub rumor_at: HashMap<(usize, RumorKey), Time>,
}

/// The simulator.
pub struct Sim {
    /// Virtual time.
    pub now: Time,
    /// Members, by index.
    pub nodes: Vec<Node>,
    /// Network behaviour (may be changed between steps).
    pub net: NetConfig,
    /// Observations so far.
    pub obs: Observations,
    /// Member indices whose Confirmed verdicts are timed.
    pub watch: HashSet<usize>,
    /// Rumor keys whose arrival is timed.
    pub watch_rumors: HashSet<RumorKey>,
    /// The largest SWIM datagram any member sent (bytes, as the size estimator counts them).
    pub largest_datagram: usize,
    /// Debugging aid: print every verdict about these members to stderr as it happens.
    pub trace: HashSet<usize>,
    /// Members keep their member list and rumors across a crash and reload them on restart, as
    /// `warren run` does with its rumor file (off by default). As the real writer, a member
    /// writes every [`PERSIST_INTERVAL`] (its phase drawn from the seed) and when it leaves, so
    /// after a crash it restarts from state up to one interval old.
    pub persist: bool,
    rng: Xoshiro256PlusPlus,
    queue: BinaryHeap<Reverse<Queued>>,
    seq: u64,
    by_addr: HashMap<IpAddr, usize>,
    by_id: HashMap<MemberId, usize>,
    blocked: HashSet<(usize, usize)>,
    sizer: EstimatedSize,
    ring_config: Config,
    seed: u64,
    events_processed: u64,
    messages_delivered: u64,
}

fn node_addr(i: usize) -> IpAddr {
    // Virtual addresses in 127.64.0.0/10; nothing is ever sent to them.
    let i = u32::try_from(i).unwrap_or(u32::MAX) & 0x003f_ffff;
    IpAddr::V4(Ipv4Addr::from(0x7f40_0000 | i))
}

impl Sim {
    /// An empty simulation; `seed` drives every random choice, of the network and of each member.
    pub fn new(ring_config: Config, net: NetConfig, seed: u64) -> Self {
        Sim {
            now: Time::ZERO,
            nodes: Vec::new(),
            net,
            obs: Observations::default(),
            watch: HashSet::new(),
            watch_rumors: HashSet::new(),
            trace: HashSet::new(),
            persist: false,
            largest_datagram: 0,
            rng: Xoshiro256PlusPlus::seed_from_u64(seed),
            queue: BinaryHeap::new(),
            seq: 0,
            by_addr: HashMap::new(),
            by_id: HashMap::new(),
            blocked: HashSet::new(),
            sizer: EstimatedSize,
            ring_config,
            seed,
            events_processed: 0,
            messages_delivered: 0,
        }
    }

    /// The seed this simulation was built with.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Events handled so far.
    pub fn events_processed(&self) -> u64 {
        self.events_processed
    }

    /// Messages handed to members so far: a SWIM datagram is one, a push of rumors is one per
    /// rumor (Habitat sends each rumor as its own message). An event delivering a push handles
    /// many; what a member does per message is what the core's cost should not grow with.
    pub fn messages_delivered(&self) -> u64 {
        self.messages_delivered
    }

    /// The ring configuration new members get.
    pub fn ring_config(&self) -> &Config {
        &self.ring_config
    }

    /// Adds a member (not started). Returns its index.
    pub fn add_node(&mut self) -> usize {
        let i = self.nodes.len();
        let id = MemberId::random(&mut self.rng);
        let addr = node_addr(i);
        self.by_addr.insert(addr, i);
        self.by_id.insert(id.clone(), i);
        self.nodes.push(Node {
            ring: None,
            id,
            incarnation: 0,
            addr,
            slow: None,
            bytes_sent: 0,
            msgs_sent: 0,
            services: Vec::new(),
            started_before: false,
            saved: None,
            next_persist: None,
            life: 0,
            rumors_held_until: HashMap::new(),
            timer_gen: 0,
            timer_at: None,
        });
        i
    }

    /// The SWIM address of member `i`.
    pub fn addr(&self, i: usize) -> SocketAddr {
        SocketAddr::new(self.nodes[i].addr, PORT)
    }

    /// The index of the member with `id`.
    pub fn index_of(&self, id: &MemberId) -> Option<usize> {
        self.by_id.get(id).copied()
    }

    /// Starts (or restarts) member `i` the way `warren run` does (`Ring::boot`: saved state,
    /// then its services and their elections) and joins it through `peers` once its resolver
    /// would have found them (now, or up to `NetConfig::join_delay_max` later). A member given
    /// peers expects them ([`Ring::expect_peers`]). A restart keeps the id and starts from the
    /// persisted incarnation + 1, as Warren does; the rumors of each other member reach a
    /// restarted member only once that member's pusher reconnected
    /// (`NetConfig::reconnect_delay_max`).
    pub fn start(&mut self, i: usize, peers: &[usize]) {
        let restarted = self.nodes[i].started_before;
        self.nodes[i].started_before = true;
        let incarnation = self.nodes[i].incarnation + u64::from(restarted);
        let identity = Identity {
            id: self.nodes[i].id.clone(),
            incarnation,
            address: self.nodes[i].addr,
            swim_port: PORT,
            gossip_port: PORT,
            persistent: false,
        };
        let seed = self.rng.random();
        let peer_addrs: Vec<SocketAddr> = peers
            .iter()
            .filter(|&&p| p != i)
            .map(|&p| self.addr(p))
            .collect();
        // The files stay on disk: a member that crashes again before its next write restarts
        // from them once more.
        let (members, rumors, agreed) = self.nodes[i].saved.clone().unwrap_or_default();
        let boot = Boot {
            agreed,
            members,
            rumors,
            services: self.nodes[i].services.clone(),
            peers_expected: !peers.is_empty(),
            clock_phase: clock_skew(i),
        };
        let ring = Ring::boot(self.ring_config.clone(), identity, seed, self.now, boot);
        self.nodes[i].incarnation = incarnation;
        self.nodes[i].ring = Some(ring);
        self.nodes[i].life += 1;
        self.nodes[i].rumors_held_until.clear();
        let reconnect = self.net.reconnect_delay_max.as_nanos() as u64;
        if restarted && reconnect > 0 {
            for p in 0..self.nodes.len() {
                if p != i {
                    let d = Duration::from_nanos(self.rng.random_range(0..=reconnect));
                    self.nodes[i].rumors_held_until.insert(p, self.now + d);
                }
            }
        }
        if self.persist {
            let phase = PERSIST_INTERVAL.mul_f64(self.rng.random_range(0.0..1.0));
            self.nodes[i].next_persist = Some(self.now + phase);
        }
        let delay = self.net.join_delay_max.as_nanos() as u64;
        let delay = if delay == 0 || peer_addrs.is_empty() {
            Duration::ZERO
        } else {
            Duration::from_nanos(self.rng.random_range(0..=delay))
        };
        if delay.is_zero() {
            let now = self.now;
            if let Some(r) = self.nodes[i].ring.as_mut() {
                r.join(peer_addrs, now);
            }
        } else {
            let generation = self.nodes[i].life;
            self.schedule(
                self.now + delay,
                0,
                Kind::Join {
                    node: i,
                    generation,
                    peers: peer_addrs,
                },
            );
        }
        self.drain(i);
    }

    /// What member `i`'s state files would hold if written now.
    fn snapshot(&self, i: usize) -> Option<Saved> {
        let r = self.nodes[i].ring.as_ref()?;
        let mut members: Vec<Membership> = r
            .members()
            .iter()
            .map(|m| Membership {
                member: m.member.clone(),
                health: m.health,
            })
            .collect();
        // As `warren run` writes it: its own record too, and no Member rumors.
        members.push(Membership {
            member: r.myself().clone(),
            health: if r.myself().departed {
                Health::Departed
            } else {
                Health::Alive
            },
        });
        let rumors = r
            .rumors()
            .iter()
            .filter(|(k, _)| !matches!(k, RumorKey::Member(_)))
            .map(|(_, e)| e.rumor.clone())
            .collect();
        Some((members, rumors, r.agreed_results()))
    }

    /// Writes member `i`'s state files when their interval came round.
    fn maybe_persist(&mut self, i: usize) {
        if !self.persist {
            return;
        }
        if self.nodes[i].next_persist.is_none() {
            // Persistence switched on while it runs: its writer starts now.
            let phase = PERSIST_INTERVAL.mul_f64(self.rng.random_range(0.0..1.0));
            self.nodes[i].next_persist = Some(self.now + phase);
        }
        if let Some(due) = self.nodes[i].next_persist
            && self.now >= due
        {
            self.nodes[i].saved = self.snapshot(i);
            self.nodes[i].next_persist = Some(self.now + PERSIST_INTERVAL);
        }
    }

    /// Crashes member `i` (SIGKILL): its state in memory is gone; its id and incarnation
    /// persist, and so do its state files as last written (up to [`PERSIST_INTERVAL`] old).
    pub fn crash(&mut self, i: usize) {
        if let Some(r) = self.nodes[i].ring.take() {
            self.nodes[i].incarnation = r.myself().incarnation;
        }
        self.nodes[i].next_persist = None;
        self.nodes[i].life += 1;
        self.nodes[i].timer_gen += 1;
        self.nodes[i].timer_at = None;
    }

    /// Member `i` leaves gracefully and writes its state files, as `warren run` does on SIGTERM;
    /// it keeps running (spreading its departure) until crashed.
    pub fn leave(&mut self, i: usize) {
        let now = self.now;
        if let Some(r) = self.nodes[i].ring.as_mut() {
            r.leave(now);
        }
        self.drain(i);
        if self.persist {
            self.nodes[i].saved = self.snapshot(i);
            self.nodes[i].next_persist = None;
        }
    }

    /// Loads `svc` on member `i`: it runs it from now on and at every restart; if it is running,
    /// the service is published and its elections joined now (`warren svc load`).
    pub fn load_service(&mut self, i: usize, svc: LocalService) {
        let sg = svc.service.service_group.clone();
        self.nodes[i]
            .services
            .retain(|s| s.service.service_group != sg);
        self.nodes[i].services.push(svc.clone());
        self.with_ring(i, |r, now| r.load_service(svc, now));
    }

    /// Unloads the service of group `sg` from member `i` (`warren svc unload`).
    pub fn unload_service(&mut self, i: usize, sg: &str) {
        self.nodes[i]
            .services
            .retain(|s| s.service.service_group != sg);
        self.with_ring(i, |r, now| r.withdraw_service(sg, now));
    }

    /// Whether member `i` is running and has not left.
    pub fn is_live(&self, i: usize) -> bool {
        self.nodes[i].ring.as_ref().is_some_and(|r| !r.has_left())
    }

    /// Indices of live members.
    pub fn live(&self) -> Vec<usize> {
        (0..self.nodes.len()).filter(|&i| self.is_live(i)).collect()
    }

    /// Publishes `rumor` at member `i`.
    pub fn publish(&mut self, i: usize, rumor: Rumor) {
        let now = self.now;
        if let Some(r) = self.nodes[i].ring.as_mut() {
            r.publish(rumor, now);
        }
        self.drain(i);
    }

    /// Runs `f` on member `i`'s core (if it is running), then sends what it produced.
    pub fn with_ring(&mut self, i: usize, f: impl FnOnce(&mut Ring, Time)) {
        let now = self.now;
        if let Some(r) = self.nodes[i].ring.as_mut() {
            f(r, now);
        }
        self.drain(i);
    }

    /// Member `i`'s core, if it is running.
    pub fn ring(&self, i: usize) -> Option<&Ring> {
        self.nodes[i].ring.as_ref()
    }

    /// Drops everything from `a` to `b` (one way).
    pub fn cut_one_way(&mut self, a: usize, b: usize) {
        self.blocked.insert((a, b));
    }

    /// Splits the members into groups that cannot reach each other.
    pub fn partition(&mut self, groups: &[Vec<usize>]) {
        for (gi, g) in groups.iter().enumerate() {
            for (hi, h) in groups.iter().enumerate() {
                if gi != hi {
                    for &a in g {
                        for &b in h {
                            self.blocked.insert((a, b));
                        }
                    }
                }
            }
        }
    }

    /// Cuts member `i` off from everyone, both ways.
    pub fn isolate(&mut self, i: usize) {
        for j in 0..self.nodes.len() {
            if j != i {
                self.blocked.insert((i, j));
                self.blocked.insert((j, i));
            }
        }
    }

    /// Removes every cut.
    pub fn heal(&mut self) {
        self.blocked.clear();
    }

    /// Makes member `i` slow (or normal again with `None`).
    pub fn set_slow(&mut self, i: usize, slow: Option<Slowness>) {
        self.nodes[i].slow = slow;
    }

    /// Total bytes sent by all members.
    pub fn total_bytes(&self) -> u64 {
        self.nodes.iter().map(|n| n.bytes_sent).sum()
    }

    /// Total messages sent by all members.
    pub fn total_msgs(&self) -> u64 {
        self.nodes.iter().map(|n| n.msgs_sent).sum()
    }

    /// Resets per-member traffic counters.
    pub fn reset_traffic(&mut self) {
        for n in &mut self.nodes {
            n.bytes_sent = 0;
            n.msgs_sent = 0;
        }
    }

    /// Runs until virtual time `until` (inclusive of events at it).
    pub fn run_until(&mut self, until: Time) {
        while let Some(Reverse(q)) = self.queue.peek() {
            if q.at > until {
                break;
            }
            let Some(Reverse(q)) = self.queue.pop() else {
                break;
            };
            self.now = q.at;
            self.dispatch(q);
        }
        self.now = until;
    }

    /// Runs for `d` of virtual time.
    pub fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        self.run_until(until);
    }

    /// Runs in steps of `step` until `done` holds or `limit` passes; returns whether it held.
    pub fn run_until_cond(
        &mut self,
        step: Duration,
        limit: Duration,
        mut done: impl FnMut(&Sim) -> bool,
    ) -> bool {
        let end = self.now + limit;
        while self.now < end {
            if done(self) {
                return true;
            }
            self.run_for(step);
        }
        done(self)
    }

    /// Whether every live member holds every other live member as Alive.
    pub fn converged(&self) -> bool {
        let live = self.live();
        live.iter().all(|&i| {
            let Some(r) = self.nodes[i].ring.as_ref() else {
                return false;
            };
            live.iter()
                .all(|&j| i == j || r.members().health(&self.nodes[j].id) == Some(Health::Alive))
        })
    }

    fn schedule(&mut self, at: Time, prio: u8, kind: Kind) {
        self.seq += 1;
        self.queue.push(Reverse(Queued {
            at,
            prio,
            seq: self.seq,
            kind,
        }));
    }

    fn dispatch(&mut self, q: Queued) {
        let node = match &q.kind {
            Kind::Deliver { to, .. } => *to,
            Kind::Timer { node, .. } | Kind::Join { node, .. } => *node,
        };
        if let Kind::Timer { generation, .. } = q.kind
            && generation != self.nodes[node].timer_gen
        {
            return;
        }
        if let Kind::Join { generation, .. } = q.kind
            && generation != self.nodes[node].life
        {
            return;
        }
        if self.nodes[node].ring.is_none() {
            return;
        }
        if let Some(end) = self.nodes[node].slow.and_then(|s| s.pause_end(self.now)) {
            // Paused: it all waits until the member runs again.
            self.schedule(end, q.prio, q.kind);
            return;
        }
        self.events_processed += 1;
        let now = self.now;
        if matches!(q.kind, Kind::Timer { .. }) {
            self.nodes[node].timer_at = None;
        }
        let Some(ring) = self.nodes[node].ring.as_mut() else {
            return;
        };
        match q.kind {
            Kind::Deliver { from, payload, .. } => match *payload {
                Payload::Swim(msg) => {
                    self.messages_delivered += 1;
                    ring.handle_datagram(from, msg, now);
                }
                Payload::Rumors(rs) => {
                    self.messages_delivered += rs.len() as u64;
                    for r in rs {
                        ring.handle_rumor(r, now);
                    }
                }
            },
            Kind::Timer { .. } => ring.handle_timeout(now),
            Kind::Join { peers, .. } => ring.join(peers, now),
        }
        self.drain(node);
        self.maybe_persist(node);
    }

    fn drain(&mut self, i: usize) {
        let now = self.now;
        let mut transmits = Vec::new();
        let mut events = Vec::new();
        let next = {
            let Some(ring) = self.nodes[i].ring.as_mut() else {
                return;
            };
            while let Some(t) = ring.poll_transmit() {
                transmits.push(t);
            }
            while let Some(e) = ring.poll_event() {
                events.push(e);
            }
            ring.poll_timeout()
        };
        for t in transmits {
            self.transmit(i, t);
        }
        for e in events {
            self.observe(i, e);
        }
        if let Some(at) = next {
            let at = at.max(now);
            if self.nodes[i].timer_at != Some(at) {
                self.nodes[i].timer_gen += 1;
                self.nodes[i].timer_at = Some(at);
                let generation = self.nodes[i].timer_gen;
                self.schedule(
                    at,
                    1,
                    Kind::Timer {
                        node: i,
                        generation,
                    },
                );
            }
        }
    }

    fn link_latency(&mut self, a: usize, b: usize) -> Duration {
        let spread = self.net.link_spread.as_nanos() as u64;
        let h = (a as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ^ (b as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
        let fixed = if spread == 0 { 0 } else { (h >> 11) % spread };
        let jitter = self.net.jitter.as_nanos() as u64;
        let j = if jitter == 0 {
            0
        } else {
            self.rng.random_range(0..jitter)
        };
        self.net.base_latency + Duration::from_nanos(fixed + j)
    }

    fn transmit(&mut self, from: usize, t: Transmit) {
        let src = self.addr(from);
        let (to_addr, payload, bytes, msgs, lossy) = match t {
            Transmit::Swim { to, msg } => {
                let len = self.sizer.swim_len(&msg);
                self.largest_datagram = self.largest_datagram.max(len);
                (to, Payload::Swim(msg), len, 1, true)
            }
            Transmit::Rumors { to, rumors, .. } => {
                let len: usize = rumors
                    .iter()
                    .map(|r| self.sizer.rumor_len(r) + ZMTP_FRAME)
                    .sum();
                let n = rumors.len();
                (to, Payload::Rumors(rumors), len, n, false)
            }
        };
        self.nodes[from].bytes_sent += bytes as u64;
        self.nodes[from].msgs_sent += msgs as u64;
        let Some(&to) = self.by_addr.get(&to_addr.ip()) else {
            return;
        };
        if self.blocked.contains(&(from, to)) {
            return;
        }
        if lossy && self.net.loss > 0.0 && self.rng.random_bool(self.net.loss.clamp(0.0, 1.0)) {
            return;
        }
        let mut at = self.now + self.link_latency(from, to);
        if !lossy && let Some(held) = self.nodes[to].rumors_held_until.get(&from) {
            at = at.max(*held);
        }
        self.schedule(
            at,
            0,
            Kind::Deliver {
                to,
                from: src,
                payload: Box::new(payload),
            },
        );
    }

    fn observe(&mut self, observer: usize, e: Event) {
        match e {
            Event::MemberChanged { member, health, .. } => {
                let Some(subject) = self.index_of(&member.id) else {
                    return;
                };
                if self.trace.contains(&subject) {
                    eprintln!(
                        "t={:.3} observer={observer} subject={subject} inc={} {:?}",
                        self.now.as_secs_f64(),
                        member.incarnation,
                        health
                    );
                }
                if health >= Health::Confirmed && self.watch.contains(&subject) {
                    self.obs
                        .confirmed_at
                        .entry((observer, subject))
                        .or_insert(self.now);
                }
                if !self.is_live(subject) {
                    return;
                }
                match health {
                    Health::Suspect => self.obs.false_suspicions += 1,
                    Health::Confirmed | Health::Departed => {
                        self.obs.false_deaths += 1;
                        *self.obs.false_deaths_of.entry(subject).or_default() += 1;
                    }
                    Health::Alive => {}
                }
            }
            Event::IncarnationChanged(inc) => self.nodes[observer].incarnation = inc,
            Event::RumorChanged(key) => {
                if self.watch_rumors.contains(&key) {
                    self.obs.rumor_at.entry((observer, key)).or_insert(self.now);
                }
            }
            Event::MemberRemoved(_)
            | Event::RumorRemoved(_)
            | Event::DepartedByRing
            | Event::QuorumChanged { .. } => {}
        }
    }

    /// A random number in `0..n` from the simulation's RNG.
    pub fn random_index(&mut self, n: usize) -> usize {
        self.rng.random_range(0..n.max(1))
    }
}

/// Member `i`'s clock skew against the virtual clock, 0 to 3 ms: the members of a ring share a
/// clock only as closely as NTP keeps their hosts' (`Boot::clock_phase`). A fixed spread, not
/// a draw from the simulator's random stream, which stays as it was for everything else.
fn clock_skew(i: usize) -> Duration {
    let spread = (i as u64).wrapping_mul(2_654_435_761) % 3_000;
    Duration::from_micros(spread)
}
