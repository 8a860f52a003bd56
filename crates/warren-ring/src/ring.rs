//! The ring state machine: SWIM probing, Lifeguard suspicion, rumor handling, dissemination,
//! anti-entropy and garbage collection, driven by `handle_*` calls and drained by `poll_*` calls.
//!
//! # Call order
//! The shell owns one [`Ring`] and, in a loop:
//! 1. feeds inputs as they arrive: [`Ring::handle_datagram`] (a decoded SWIM message and its UDP
//!    source), [`Ring::handle_rumor`] (a decoded rumor), and commands ([`Ring::join`],
//!    [`Ring::leave`], [`Ring::publish`]);
//! 2. calls [`Ring::handle_timeout`] once `now` reaches [`Ring::poll_timeout`];
//! 3. after every input, drains [`Ring::poll_transmit`] and [`Ring::poll_event`] until `None`.
//!
//! Shells should drain received datagrams before firing timers that are already due: an Ack that
//! arrived while the process was descheduled then still counts.
//!
//! Elections of the service groups this member belongs to are a component of their own
//! (`crate::elections`, rules in `crate::election`) that the ring owns and drives inside the same
//! call (`ring/elections.rs`), because they judge quorum from the member list at the moment a
//! rumor arrives: each input lends them the ring parts they need, and the ring then sends what
//! they asked for. This member's own Service rumors are `ring/services.rs`'s.
//!
//! # What is not here
//! No clock, socket, thread or unseeded randomness: `now` is an argument and the RNG is seeded by
//! the caller. No encoding: sizes come from a [`WireSize`]. No election judgement: the ring
//! only lends the elections component what it reads and sends what it asks for.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use foldhash::fast::FixedState;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

mod boot;
mod elections;
mod gc;
mod gossip;
mod probe;
mod services;
mod stats;

pub use boot::{Boot, LocalService};
pub use stats::Stats;

use crate::config::Config;
use crate::dissemination::{Dissemination, budget, join_budget};
use crate::election::ElectionKind;
use crate::elections::Elections;
use crate::member::{Health, IdMap, Member, MemberId, Membership};
use crate::members::{Change, IdCursor, MemberList, MemberRecord, accepts_over};
use crate::message::{Event, Swim, SwimKind, Transmit};
use crate::rumor::{Rumor, RumorKey};
use crate::size::{EstimatedSize, WireSize};
use crate::store::{Entry, Outcome, RumorStore};
use crate::suspicion::Suspicion;
use crate::time::Time;

/// At most this many forwarded Pings await their Ack at once (the oldest is forgotten first).
const MAX_RELAYS: usize = 1024;

/// Who this member is, as the shell knows it at start (id and incarnation come from disk).
#[derive(Clone, Debug)]
pub struct Identity {
    /// Persisted member id.
    pub id: MemberId,
    /// Incarnation to start with.
    pub incarnation: u64,
    /// Address other members reach this one at.
    pub address: IpAddr,
    /// SWIM (UDP) port.
    pub swim_port: u16,
    /// Rumor (TCP) port.
    pub gossip_port: u16,
    /// Started as a permanent peer.
    pub persistent: bool,
}

#[derive(Clone, Debug)]
enum Probe {
    Idle,
    Direct { target: MemberId, deadline: Time },
    Indirect { target: MemberId, deadline: Time },
}

/// What an anti-entropy push carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SyncKind {
    /// Everything: for a member new to us, restarted, or back from Confirmed, which may hold
    /// nothing of the ring yet.
    Full,
    /// The periodic push to a random member: everything while it fits one window, else every
    /// record that changed in the last two sync intervals (what dissemination may have missed
    /// lately) plus the next window of a rotation through the rest, so that every record still
    /// reaches some member every `N / window` pushes and the push grows as log N, not N.
    Periodic,
}

/// One member of a gossip ring, as a pure state machine. See the module docs for call order.
pub struct Ring {
    cfg: Config,
    sizer: Arc<dyn WireSize>,
    me: Member,
    left: bool,
    departed_by_ring: bool,
    members: MemberList,
    store: RumorStore,
    dissem: Dissemination,
    suspicions: BTreeMap<MemberId, Suspicion>,
    suspicion_timers: BinaryHeap<Reverse<(Time, MemberId)>>,
    probe_pings: BTreeMap<MemberId, (Time, Membership)>,
    /// Pings forwarded for a PingReq: (target, requester) → until when its Ack may be relayed.
    relays: BTreeMap<(MemberId, MemberId), Time>,
    probe: Probe,
    /// The probe under way is a group leader's extra probe (`leader_due_for_probe`), which does
    /// not take the turn of the schedule or the round-robin: that probe follows the moment it
    /// ends.
    probe_is_extra: bool,
    /// Every id in it has a record (collection removes both).
    probe_order: Vec<MemberId>,
    probe_index: usize,
    /// [`Boot::clock_phase`]: `Time::ZERO` on the ring's shared clock.
    clock_phase: Duration,
    initial_peers: Vec<SocketAddr>,
    /// When we last sent each member a full sync, and its incarnation then.
    last_sync: IdMap<(Time, u64)>,
    next_probe: Time,
    /// The next gossip round, a deadline only while something is hot: an idle member does not
    /// wake five times a second for rounds with nothing to send. Rounds keep their cadence
    /// through an idle spell (the first key to turn hot puts the round on the next point of it:
    /// see [`Ring::heat`]), so skipping the empty ones changes no round that sends anything.
    next_gossip: Time,
    /// The deadline [`Ring::poll_timeout`] last gave the shell: waking well past it means this
    /// member was late (a deadline it was never given, such as an empty gossip round, says
    /// nothing about its speed).
    asked: std::cell::Cell<Option<Time>>,
    /// The latest `now` an input carried (every public input that can make a key hot notes it
    /// first).
    seen: Time,
    next_sync: Time,
    /// Where the next windowed anti-entropy push starts in the rotation through member records
    /// (id order), then rumors (key order).
    sync_pos: usize,
    /// Where the last window's walk through the member ids stopped.
    sync_cursor: IdCursor,
    next_gc: Time,
    next_reconnect: Time,
    local_health: u32,
    /// [`Ring::suspicion_bounds`] for the cluster size it was last asked at (asked on every
    /// event by the elections; floating point to compute).
    bounds_for: std::cell::Cell<(usize, (Duration, Duration, u32))>,
    /// When each member last reached this one directly (a datagram it sent itself): what a
    /// leader's lease counts.
    heard: IdMap<Time>,
    /// The elections component (`crate::elections`), driven through `ring/elections.rs`.
    el: Elections,
    /// This member's own Service rumors found in its rumor file at a restart, by group, until
    /// [`Ring::boot`] re-publishes them above their incarnation or withdraws them.
    restored_own: BTreeMap<String, Arc<crate::rumor::Service>>,
    rng: Xoshiro256PlusPlus,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    stats: Stats,
}

impl std::fmt::Debug for Ring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ring")
            .field("me", &self.me)
            .field("members", &self.members.len())
            .field("rumors", &self.store.len())
            .finish_non_exhaustive()
    }
}

impl Ring {
    /// A new member that knows nobody yet. `seed` drives every random choice it makes.
    pub fn new(cfg: Config, identity: Identity, seed: u64, now: Time) -> Self {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        // Spread the periodic timers so members started together do not fire together.
        let jitter = |rng: &mut Xoshiro256PlusPlus, d: Duration| -> Duration {
            d.mul_f64(rng.random_range(0.0..1.0))
        };
        let next_probe = now + jitter(&mut rng, cfg.probe_interval);
        let next_gossip = now + jitter(&mut rng, cfg.gossip_interval);
        let next_sync = now + cfg.sync_interval + jitter(&mut rng, cfg.sync_interval);
        let next_gc = now + cfg.gc_interval + jitter(&mut rng, cfg.gc_interval);
        let next_reconnect =
            now + cfg.reconnect_interval + jitter(&mut rng, cfg.reconnect_interval);
        let hash_seed = seed.rotate_left(29).wrapping_mul(0xD6E8_FEB8_6659_FD93);
        let change_horizon = cfg.sync_interval * 2;
        Ring {
            me: Member {
                id: identity.id,
                incarnation: identity.incarnation,
                address: identity.address,
                swim_port: identity.swim_port,
                gossip_port: identity.gossip_port,
                persistent: identity.persistent,
                departed: false,
            },
            cfg,
            sizer: Arc::new(EstimatedSize),
            left: false,
            departed_by_ring: false,
            // A windowed push reads the records changed in the last two sync intervals.
            members: MemberList::with_hash_seed(hash_seed, change_horizon),
            store: RumorStore::new(),
            // Keyed from the seed without drawing from the random stream (as `sync_pos`).
            dissem: Dissemination::with_hash_seed(hash_seed),
            suspicions: BTreeMap::new(),
            suspicion_timers: BinaryHeap::new(),
            probe_pings: BTreeMap::new(),
            relays: BTreeMap::new(),
            probe: Probe::Idle,
            probe_is_extra: false,
            probe_order: Vec::new(),
            clock_phase: Duration::ZERO,
            probe_index: 0,
            initial_peers: Vec::new(),
            last_sync: IdMap::with_hasher(FixedState::with_seed(hash_seed)),
            next_probe,
            next_gossip,
            asked: std::cell::Cell::new(None),
            seen: now,
            next_sync,
            // Members start their rotations at different places (from the seed, so the random
            // stream is untouched): a member missing a record hears it from some pusher's window
            // sooner than if every rotation moved in step.
            sync_pos: (seed ^ (seed >> 31)).wrapping_mul(0x9E37_79B9_7F4A_7C15) as usize,
            sync_cursor: IdCursor::default(),
            next_gc,
            next_reconnect,
            local_health: 0,
            bounds_for: std::cell::Cell::new((usize::MAX, (Duration::ZERO, Duration::ZERO, 0))),
            el: Elections::default(),
            heard: IdMap::with_hasher(FixedState::with_seed(hash_seed)),
            restored_own: BTreeMap::new(),
            rng,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: Stats::default(),
        }
    }

    /// Uses the shell codec's exact sizes instead of the built-in estimate.
    pub fn set_wire_size(&mut self, sizer: Arc<dyn WireSize>) {
        self.sizer = sizer;
    }

    // ----- accessors -------------------------------------------------------------------------

    /// This member's own record.
    pub fn myself(&self) -> &Member {
        &self.me
    }

    /// The members this one knows (itself excluded).
    pub fn members(&self) -> &MemberList {
        &self.members
    }

    /// The rumors this member holds.
    pub fn rumors(&self) -> &RumorStore {
        &self.store
    }

    /// Counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Lifeguard's local health multiplier (0 = healthy).
    pub fn local_health(&self) -> u32 {
        self.local_health
    }

    /// When the suspicion of `id` expires, if it is under suspicion.
    pub fn suspicion_deadline(&self, id: &MemberId) -> Option<Time> {
        self.suspicions.get(id).map(|s| s.deadline)
    }

    /// Number of hot (still disseminating) updates.
    pub fn hot_rumors(&self) -> usize {
        self.dissem.len()
    }

    /// Whether [`Ring::leave`] was called.
    pub fn has_left(&self) -> bool {
        self.left
    }

    // ----- commands --------------------------------------------------------------------------

    /// Restores this member's own saved state at start (the rumor file): member records are taken
    /// as they were saved, Confirmed ones included (a record heard from a peer about a failed
    /// member we never knew is dropped; our own is not hearsay), then rumors are merged. Call it
    /// before [`Ring::join`]; [`Ring::boot`] calls it in the order a member starts.
    ///
    /// What this member itself said in its previous life is not taken back as it was: its own
    /// elections (a candidacy or a win, whose votes and quorum belonged to the process that
    /// stopped) are dropped, so it follows whatever the ring holds now or stands anew; its own
    /// Service rumors are set aside, to be re-published above their incarnation or withdrawn.
    pub fn restore(&mut self, members: Vec<Membership>, rumors: Vec<Rumor>, now: Time) {
        self.saw(now);
        for m in members {
            if m.member.id == self.me.id || self.members.get(&m.member.id).is_some() {
                continue;
            }
            let id = m.member.id.clone();
            let change = self.members.set(&m, now);
            self.on_member_change(&id, change, None, now);
        }
        for r in rumors {
            match &r {
                // My own candidacy or result: its votes were cast for the process that stopped,
                // and the group may have moved on since (the file can be a write interval old).
                // Finishing it again, or acting on it, could give the group a second leader.
                Rumor::Election(e) | Rumor::ElectionUpdate(e) if e.member_id == self.me.id => {}
                Rumor::Service(s) if s.member_id == self.me.id => {
                    let keep = self
                        .restored_own
                        .get(&s.service_group)
                        .is_none_or(|o| s.incarnation > o.incarnation);
                    if keep {
                        self.restored_own
                            .insert(s.service_group.clone(), Arc::clone(s));
                    }
                }
                _ => self.handle_rumor(r, now),
            }
        }
    }

    /// Says that this member was given peers to join (`--peer` or a peer-watch file), whether or
    /// not they resolve yet, or that it restarted with saved state naming other members: until it
    /// has met one of them (or, for an address that never turns out to be a member, known an
    /// Alive member for `ElectionConfig::peer_fallback`; with no addresses at all, heard directly
    /// from an Alive member) it judges no quorum in any group, so a member that starts before
    /// its peers can be found never elects itself. Without it, a member with no peers may lead
    /// its groups alone.
    pub fn expect_peers(&mut self) {
        self.el.expect_peers();
    }

    /// Whether another member has answered this one directly (a datagram from it arrived) since
    /// start: what a readiness probe waits for when peers were given.
    pub fn heard_from_a_peer(&self) -> bool {
        !self.heard.is_empty()
    }

    /// Joins through `peers` (SWIM addresses): pings each now, and again while too few members
    /// are Alive, and periodically while a peer address is not an Alive member.
    pub fn join(&mut self, peers: Vec<SocketAddr>, now: Time) {
        self.saw(now);
        self.set_peers(peers);
        self.ping_initial_peers(false);
    }

    /// Replaces the initial peer list (e.g. a re-read peer-watch file) without pinging at once.
    pub fn set_peers(&mut self, peers: Vec<SocketAddr>) {
        self.members.watch(&peers);
        self.initial_peers = peers;
    }

    /// Leaves gracefully (Habitat's `set_departed`): incarnation + 1, marked departed, and an Ack
    /// carrying the departed record sent directly to up to `departure_fanout` members. Probing
    /// stops; rumor pushes continue so the departure spreads until the shell stops calling.
    pub fn leave(&mut self, now: Time) {
        self.saw(now);
        if self.left {
            return;
        }
        self.left = true;
        self.me.departed = true;
        self.me.incarnation = self.me.incarnation.saturating_add(1);
        self.events
            .push_back(Event::IncarnationChanged(self.me.incarnation));
        self.start_hot(RumorKey::Member(self.me.id.clone()), None);
        self.probe = Probe::Idle;
        self.probe_is_extra = false;
        // The members of my groups first: they start the next election the moment they hear.
        let mut targets = self.election_peers();
        targets.truncate(self.cfg.departure_fanout);
        let more = self.cfg.departure_fanout.saturating_sub(targets.len());
        let already: Vec<MemberId> = targets.iter().map(|m| m.id.clone()).collect();
        targets.extend(
            self.random_members_where(more, &[Health::Alive], |r| !already.contains(&r.member.id)),
        );
        for t in targets {
            self.push_swim(
                t.swim_addr(),
                &t.id,
                SwimKind::Ack { forward_to: None },
                true,
            );
        }
    }

    /// Publishes a rumor from this member (a Service, config, file, election or departure).
    /// Returns what merging it did; Member rumors are refused (`Unchanged`): membership is
    /// driven by the protocol itself.
    pub fn publish(&mut self, rumor: Rumor, now: Time) -> Outcome {
        self.saw(now);
        if matches!(rumor, Rumor::Member { .. }) {
            return Outcome::Unchanged;
        }
        let outcome = self.merge_rumor(rumor, None, now);
        self.election_timers(now);
        outcome
    }

    // ----- inputs ----------------------------------------------------------------------------

    /// Handles one decoded SWIM datagram received from `src`.
    pub fn handle_datagram(&mut self, src: SocketAddr, msg: Swim, now: Time) {
        self.saw(now);
        self.datagram(src, msg, now);
        self.election_timers(now);
    }

    fn datagram(&mut self, src: SocketAddr, mut msg: Swim, now: Time) {
        if msg.from.id == self.me.id || self.departed_by_ring {
            self.stats.dropped_datagrams += 1;
            return;
        }
        if self.left {
            // Keep answering so probers learn of the departure at once.
            if matches!(msg.kind, SwimKind::Ping { .. } | SwimKind::ProbePing) {
                let forward_to = match msg.kind {
                    SwimKind::Ping { forward_to } => forward_to,
                    _ => None,
                };
                self.push_swim(src, &msg.from.id, SwimKind::Ack { forward_to }, true);
            } else {
                self.stats.dropped_datagrams += 1;
            }
            return;
        }
        let relayer = msg.from.id.clone();
        // The sender reached us itself (an Ack relayed by a helper on our behalf says only that
        // the helper reached it): this is what a leader's lease counts.
        let direct = match &msg.kind {
            SwimKind::Ack {
                forward_to: Some(f),
            } => f.id != self.me.id,
            _ => true,
        };
        if direct && !msg.from.departed {
            self.heard.insert(relayer.clone(), now);
        }
        match msg.kind {
            SwimKind::Ping { forward_to } => {
                msg.from.address = src.ip();
                self.push_swim(src, &msg.from.id, SwimKind::Ack { forward_to }, true);
                self.apply_memberships(msg.membership, &relayer, now);
                self.contact(msg.from, now);
            }
            SwimKind::Ack {
                forward_to: Some(f),
            } if f.id != self.me.id => {
                // A helper relays the target's Ack to the requester, unchanged but for the address,
                // and only for a Ping it really forwarded (no relay loops, no amplification).
                msg.from.address = src.ip();
                let from = msg.from.clone();
                let asked = self
                    .relays
                    .remove(&(msg.from.id.clone(), f.id.clone()))
                    .is_some();
                let to = f.swim_addr();
                let to_me = to.ip() == self.me.address && to.port() == self.me.swim_port;
                if asked && !to_me {
                    let mut relayed = Swim {
                        from: msg.from,
                        kind: SwimKind::Ack {
                            forward_to: Some(f),
                        },
                        membership: msg.membership,
                    };
                    while !relayed.membership.is_empty()
                        && self.sizer.swim_len(&relayed) > self.cfg.max_datagram
                    {
                        relayed.membership.pop();
                    }
                    self.transmits
                        .push_back(Transmit::Swim { to, msg: relayed });
                } else {
                    self.stats.dropped_datagrams += 1;
                }
                self.contact(from, now);
            }
            SwimKind::Ack { forward_to } => {
                if forward_to.is_none() {
                    msg.from.address = src.ip();
                }
                let from_id = msg.from.id.clone();
                self.apply_memberships(msg.membership, &relayer, now);
                self.contact(msg.from, now);
                self.ack_received(&from_id, now);
            }
            SwimKind::PingReq { target } => {
                msg.from.address = src.ip();
                let requester = msg.from.clone();
                self.apply_memberships(msg.membership, &relayer, now);
                self.contact(msg.from, now);
                if target.id == self.me.id {
                    self.push_swim(src, &requester.id, SwimKind::Ack { forward_to: None }, true);
                } else if let Some(rec) = self.members.get(&target.id) {
                    let t = rec.member.clone();
                    if self.relays.len() >= MAX_RELAYS {
                        self.relays.pop_first();
                    }
                    let until = now + self.cfg.probe_interval * 3;
                    self.relays
                        .insert((t.id.clone(), requester.id.clone()), until);
                    self.push_swim(
                        t.swim_addr(),
                        &t.id,
                        SwimKind::Ping {
                            forward_to: Some(requester),
                        },
                        true,
                    );
                } else {
                    self.stats.dropped_datagrams += 1;
                }
            }
            SwimKind::ProbePing => {
                msg.from.address = src.ip();
                self.me.incarnation = self.me.incarnation.saturating_add(1);
                self.events
                    .push_back(Event::IncarnationChanged(self.me.incarnation));
                self.start_hot(RumorKey::Member(self.me.id.clone()), None);
                self.push_swim(src, &msg.from.id, SwimKind::Ack { forward_to: None }, true);
                let health = if msg.from.departed {
                    Health::Departed
                } else {
                    Health::Alive
                };
                self.apply_membership(
                    Membership {
                        member: msg.from,
                        health,
                    },
                    None,
                    now,
                );
            }
        }
    }

    /// Handles one decoded rumor from the rumor channel.
    pub fn handle_rumor(&mut self, rumor: Rumor, now: Time) {
        self.saw(now);
        if self.departed_by_ring {
            return;
        }
        match rumor {
            Rumor::Member { from, membership } => {
                if from != self.me.id {
                    self.el.rumors_arrived(now);
                }
                self.apply_membership(membership, Some(&from), now);
            }
            Rumor::Election(e) if self.in_group(&e.service_group) && !self.left => {
                self.receive_election(ElectionKind::Leader, Arc::unwrap_or_clone(e), now);
            }
            Rumor::ElectionUpdate(e) if self.in_group(&e.service_group) && !self.left => {
                self.receive_election(ElectionKind::Update, Arc::unwrap_or_clone(e), now);
            }
            Rumor::Service(s) if s.member_id == self.me.id => {
                self.about_my_service(s, now);
            }
            other => {
                let holder = match &other {
                    Rumor::Service(s) => Some(s.member_id.clone()),
                    _ => None,
                };
                self.merge_rumor(other, holder.as_ref(), now);
            }
        }
        self.election_timers(now);
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Time) {
        self.saw(now);
        if let Some(due) = self.asked.take()
            && now > due + self.cfg.late_timer_threshold
        {
            // We woke up late: this member is the slow one. Stretch our own timeouts.
            self.degrade_health();
            // What we took in just now may have waited while we were descheduled: for a
            // leader's lease it is as old as our lateness (a paused leader must not renew its
            // lease with datagrams that arrived while the group was electing another).
            let late = now.saturating_since(due);
            let stale = now - late;
            for t in self.heard.values_mut() {
                *t = (*t).min(stale);
            }
        }
        if self.departed_by_ring {
            return;
        }
        self.probe_deadlines(now);
        self.suspicion_deadlines(now);
        self.probe_ping_deadlines(now);
        if !self.left && now >= self.next_probe && matches!(self.probe, Probe::Idle) {
            self.next_probe = now + self.cfg.probe_interval;
            self.start_probe(now);
        }
        if !self.dissem.is_empty() && now >= self.next_gossip {
            self.next_gossip = now + self.cfg.gossip_interval;
            self.gossip_round();
        }
        if !self.left && now >= self.next_sync {
            self.next_sync = now + self.cfg.sync_interval;
            if let Some(t) = self.random_members(1, false, None).pop() {
                self.sync_to(&t, now, SyncKind::Periodic);
            }
        }
        if !self.left && now >= self.next_reconnect {
            self.next_reconnect = now + self.cfg.reconnect_interval;
            self.reconnect();
        }
        if now >= self.next_gc {
            self.next_gc = now + self.cfg.gc_interval;
            self.collect(now);
        }
        self.election_timers(now);
    }

    // ----- outputs ---------------------------------------------------------------------------

    /// The next message to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Ring::handle_timeout`] should next be called. The deadline given is noted: a
    /// `handle_timeout` well past it means this member was late (Lifeguard's local health).
    pub fn poll_timeout(&self) -> Option<Time> {
        let t = self.next_deadline();
        self.asked.set(t);
        t
    }

    /// The earliest timer; the gossip round counts only while something is hot.
    fn next_deadline(&self) -> Option<Time> {
        if self.departed_by_ring {
            return None;
        }
        let mut t = self.next_gc;
        if !self.dissem.is_empty() {
            t = t.min(self.next_gossip);
        }
        if !self.left {
            t = t.min(self.next_sync).min(self.next_reconnect);
            t = match &self.probe {
                Probe::Idle => t.min(self.next_probe),
                Probe::Direct { deadline, .. } | Probe::Indirect { deadline, .. } => {
                    t.min(*deadline)
                }
            };
        }
        if let Some(Reverse((d, _))) = self.suspicion_timers.peek() {
            t = t.min(*d);
        }
        for (d, _) in self.probe_pings.values() {
            t = t.min(*d);
        }
        if let Some(d) = self.election_deadline() {
            t = t.min(d);
        }
        Some(t)
    }

    // ----- membership ------------------------------------------------------------------------

    fn scaled(&self, d: Duration) -> Duration {
        d * (1 + self.local_health)
    }

    fn degrade_health(&mut self) {
        if self.local_health < self.cfg.max_local_health {
            self.local_health += 1;
        }
    }

    fn cluster_size(&self) -> usize {
        1 + self.members.count(Health::Alive) + self.members.count(Health::Suspect)
    }

    /// Direct contact from `member` (the sender of a Ping, Ack or PingReq): Alive (or Departed if it
    /// says so) whatever the incarnations, as Habitat does.
    fn contact(&mut self, member: Member, now: Time) {
        let health = if member.departed {
            Health::Departed
        } else {
            Health::Alive
        };
        let id = member.id.clone();
        let member_incarnation = member.incarnation;
        let previous = self.members.get(&id).map(|r| (r.health, r.member.clone()));
        let apply = match &previous {
            // A departing member we never knew is no member of ours (see apply_membership).
            None => health == Health::Alive,
            Some((h, m)) => {
                *h != health
                    || member.incarnation > m.incarnation
                    || (member.incarnation == m.incarnation && member != *m)
            }
        };
        if !apply {
            // A member we heard of from others before it reached us directly may be new to the
            // ring and hold nothing yet (the member that met it first may have heard of it first
            // too). Each member that meets it in its first seconds sends it everything with
            // probability 3/N: about three full syncs per newcomer, not N.
            let young = self.members.get(&id).is_some_and(|r| {
                r.health == Health::Alive
                    && now.saturating_since(r.health_changed_at) < self.cfg.reconnect_interval
            });
            let p = (3.0 / self.cluster_size() as f64).min(1.0);
            if young
                && !self.last_sync.contains_key(&id)
                && self.rng.random_bool(p)
                && let Some(m) = self.members.get(&id).map(|r| r.member.clone())
            {
                self.sync_to(&m, now, SyncKind::Full);
            }
            // A member we synced before that reached us at a higher incarnation, learned from
            // others first: it may have restarted, and the sync of the member that met it first
            // may have been lost (a partition at that moment). Once per reconnect interval.
            let behind = self.last_sync.get(&id).is_some_and(|(at, inc)| {
                member_incarnation > *inc
                    && now.saturating_since(*at) >= self.cfg.reconnect_interval
            });
            if behind && let Some(m) = self.members.get(&id).map(|r| r.member.clone()) {
                self.last_sync.remove(&id);
                self.sync_to(&m, now, SyncKind::Full);
            }
            return;
        }
        if previous.is_none() && !self.make_room() {
            self.stats.members_refused += 1;
            return;
        }
        let change = self.members.set(&Membership { member, health }, now);
        self.on_member_change(&id, change, None, now);
        // A member we did not hold Alive, or that restarted (its incarnation rose), may have
        // missed rumors or lost them all: send it everything once (rate-limited in sync_to).
        let restarted = match &previous {
            None => true,
            Some((h, m)) => *h >= Health::Confirmed || member_incarnation > m.incarnation,
        };
        if restarted {
            // What we sent it before is gone with its old process: skip the rate limit.
            self.last_sync.remove(&id);
        }
        let resurrected = restarted || previous.as_ref().is_some_and(|(h, _)| *h != Health::Alive);
        if resurrected
            && health == Health::Alive
            && let Some(m) = self.members.get(&id).map(|r| r.member.clone())
        {
            self.sync_to(&m, now, SyncKind::Full);
        }
    }

    fn apply_memberships(&mut self, list: Vec<Membership>, relayer: &MemberId, now: Time) {
        for m in list {
            self.apply_membership(m, Some(relayer), now);
        }
    }

    /// A membership record heard from someone (piggyback or Member rumor), under spec §3.2 and its
    /// special cases.
    fn apply_membership(&mut self, m: Membership, relayer: Option<&MemberId>, now: Time) {
        let id = m.member.id.clone();
        if id == self.me.id {
            self.about_myself(&m);
            return;
        }
        let stored = self
            .members
            .get(&id)
            .map(|r| (r.health, r.member.incarnation));
        if stored.is_none() && m.health >= Health::Confirmed {
            // A failed or departed member we never knew (or already collected) is no member of
            // ours: storing it would restart its expiry clock here, and members would keep
            // handing each other the same dead records forever.
            return;
        }
        if stored.is_none() && !self.make_room() {
            self.stats.members_refused += 1;
            return;
        }
        // A verdict on a member I suspect at its incarnation: my own suspicion stands for the
        // check (`Config::probe_ping_when_suspected`), and the record is adopted below.
        let suspected_alike = !self.cfg.probe_ping_when_suspected
            && stored == Some((Health::Suspect, m.member.incarnation))
            && self
                .suspicions
                .get(&id)
                .is_some_and(|s| s.incarnation == m.member.incarnation);
        if let (Some((held, inc)), Health::Confirmed) = (stored, m.health)
            && held <= Health::Suspect
            && m.member.incarnation >= inc
            && !suspected_alike
        {
            // Habitat checks a Confirmed verdict with a ProbePing before adopting it.
            if let (Some(s), Some(r)) = (self.suspicions.get_mut(&id), relayer)
                && s.incarnation == m.member.incarnation
                && s.confirm(r)
            {
                let d = s.deadline;
                self.suspicion_timers.push(Reverse((d, id.clone())));
            }
            match self.probe_pings.get_mut(&id) {
                // Already checking: keep the newest verdict for the deadline.
                Some((_, v)) => {
                    if m.member.incarnation > v.member.incarnation {
                        *v = m;
                    }
                }
                None => {
                    let deadline = now + self.scaled(self.cfg.probe_ping_timeout);
                    if let Some(target) = self.members.get(&id).map(|r| r.member.clone()) {
                        self.push_swim(target.swim_addr(), &target.id, SwimKind::ProbePing, false);
                    }
                    self.probe_pings.insert(id, (deadline, m));
                }
            }
            return;
        }
        if let (Some((Health::Suspect, inc)), Health::Suspect, Some(r)) =
            (stored, m.health, relayer)
            && inc == m.member.incarnation
            && let Some(s) = self.suspicions.get_mut(&id)
            && s.confirm(r)
        {
            let d = s.deadline;
            self.suspicion_timers.push(Reverse((d, id.clone())));
        }
        // `stored` is still what the list holds (nothing above changed this record): the plain
        // rule of `MemberList::merge` without looking the record up again, as most records heard
        // are ones already held.
        let change = if accepts_over(stored.map(|(h, inc)| (inc, h)), &m) {
            self.members.set(&m, now)
        } else {
            Change::Unchanged
        };
        if change.changed() {
            self.on_member_change(&id, change, relayer, now);
        } else if let Some(r) = relayer
            && stored == Some((m.health, m.member.incarnation))
        {
            self.dissem.add_holder(&RumorKey::Member(id), r);
        }
    }

    /// A record about myself: refute anything but Alive at an incarnation ≥ mine.
    fn about_myself(&mut self, m: &Membership) {
        if self.left {
            return;
        }
        let refute = (m.health != Health::Alive && m.member.incarnation >= self.me.incarnation)
            || m.member.incarnation > self.me.incarnation;
        if refute {
            if m.health != Health::Alive {
                self.stats.refutations += 1;
                self.degrade_health();
            }
            self.me.incarnation = m.member.incarnation.saturating_add(1);
            self.events
                .push_back(Event::IncarnationChanged(self.me.incarnation));
            self.start_hot(RumorKey::Member(self.me.id.clone()), None);
        }
    }

    fn on_member_change(
        &mut self,
        id: &MemberId,
        change: Change,
        relayer: Option<&MemberId>,
        now: Time,
    ) {
        let previous = match change {
            Change::Unchanged => return,
            Change::Added => None,
            Change::Updated(h) => Some(h),
        };
        let Some(rec) = self.members.get(id).cloned() else {
            return;
        };
        if rec.health == Health::Departed {
            self.dissem.forget_holder(id);
        }
        if previous.is_none() && rec.health == Health::Alive {
            // A join must reach every member, not most (see `join_budget`). Not a dead record
            // learned late: that one is on its way to collection and must not spread wider.
            let b = join_budget(self.cfg.retransmit_mult, self.cluster_size());
            self.heat(RumorKey::Member(id.clone()), b, relayer);
        } else {
            self.start_hot(RumorKey::Member(id.clone()), relayer);
        }
        match rec.health {
            Health::Suspect => {
                let fresh = self
                    .suspicions
                    .get(id)
                    .is_none_or(|s| s.incarnation != rec.member.incarnation);
                if fresh {
                    self.start_suspicion(id, rec.member.incarnation, relayer, now);
                    if relayer != Some(&self.me.id) {
                        self.probe_next(id);
                    }
                }
            }
            _ => {
                self.suspicions.remove(id);
            }
        }
        if rec.health >= Health::Confirmed {
            self.probe_pings.remove(id);
        }
        let was_pingable = previous.is_some_and(|h| h <= Health::Suspect);
        if rec.health == Health::Alive && !was_pingable {
            self.probe_soon(id, previous.is_some());
        }
        self.el.membership_changed();
        self.events.push_back(Event::MemberChanged {
            member: rec.member,
            health: rec.health,
            previous,
        });
    }

    /// Lifeguard's suspicion timeout bounds for the current ring size, and the number of
    /// independent confirmations that bring it from the maximum to the minimum.
    fn suspicion_bounds(&self) -> (Duration, Duration, u32) {
        let n = self.cluster_size();
        match self.bounds_for.get() {
            (at, bounds) if at == n => bounds,
            _ => {
                let bounds = suspicion_bounds(&self.cfg, n);
                self.bounds_for.set((n, bounds));
                bounds
            }
        }
    }

    fn start_suspicion(
        &mut self,
        id: &MemberId,
        incarnation: u64,
        originator: Option<&MemberId>,
        now: Time,
    ) {
        let (min, max, k) = self.suspicion_bounds();
        let s = Suspicion::new(incarnation, now, min, max, k, originator);
        self.suspicion_timers
            .push(Reverse((s.deadline, id.clone())));
        self.suspicions.insert(id.clone(), s);
    }

    fn suspicion_deadlines(&mut self, now: Time) {
        while let Some(Reverse((d, _))) = self.suspicion_timers.peek() {
            if *d > now {
                break;
            }
            let Some(Reverse((d, id))) = self.suspicion_timers.pop() else {
                break;
            };
            let Some(s) = self.suspicions.get(&id) else {
                continue;
            };
            if s.deadline != d {
                continue;
            }
            let inc = s.incarnation;
            self.suspicions.remove(&id);
            let Some(rec) = self.members.get(&id) else {
                continue;
            };
            if rec.health != Health::Suspect || rec.member.incarnation != inc {
                continue;
            }
            let m = Membership {
                member: rec.member.clone(),
                health: Health::Confirmed,
            };
            let change = self.members.set(&m, now);
            self.stats.confirmed_by_timeout += 1;
            self.on_member_change(&id, change, None, now);
        }
    }

    fn probe_ping_deadlines(&mut self, now: Time) {
        let due: Vec<MemberId> = self
            .probe_pings
            .iter()
            .filter(|(_, (d, _))| *d <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in due {
            let Some((_, verdict)) = self.probe_pings.remove(&id) else {
                continue;
            };
            // No Ack: adopt the verdict under the ordinary rule, so a refutation (a higher
            // incarnation) that arrived meanwhile still wins.
            let change = self.members.merge(&verdict, now);
            if change.changed() {
                self.stats.confirmed_by_probe_ping += 1;
            }
            self.on_member_change(&id, change, None, now);
        }
    }

    // ----- rumors ----------------------------------------------------------------------------

    fn merge_rumor(&mut self, rumor: Rumor, holder: Option<&MemberId>, now: Time) -> Outcome {
        let departure = match &rumor {
            Rumor::Departure(d) => Some(d.member_id.clone()),
            _ => None,
        };
        let key = rumor.key();
        let outcome = self.store.merge(rumor, now);
        match outcome {
            Outcome::Changed => {
                self.stats.new_rumors += 1;
                if matches!(key, RumorKey::Service(..)) {
                    self.el.membership_changed();
                }
                // The service of a departed member is kept (until GC) but not spread further.
                if !self.owner_gone(&key, false) {
                    self.start_hot(key.clone(), holder);
                }
                self.events.push_back(Event::RumorChanged(key));
            }
            Outcome::KeepSharing => self.start_hot(key, holder),
            Outcome::Unchanged => {
                self.stats.stale_rumors += 1;
                if let Some(h) = holder {
                    self.dissem.add_holder(&key, h);
                }
            }
        }
        if let (Some(id), Outcome::Changed) = (departure, outcome) {
            self.depart_member(&id, now);
        }
        outcome
    }

    /// Whether `key` is a Service rumor whose owner has departed; with `or_unknown`, also when
    /// the owner is unknown (collected, or not heard of yet).
    fn owner_gone(&self, key: &RumorKey, or_unknown: bool) -> bool {
        match key {
            RumorKey::Service(_, owner) if *owner != self.me.id => match self.members.health(owner)
            {
                None => or_unknown,
                Some(h) => h == Health::Departed,
            },
            _ => false,
        }
    }

    /// A Departure rumor names `id`: mark it Departed unconditionally.
    fn depart_member(&mut self, id: &MemberId, now: Time) {
        if *id == self.me.id {
            if !self.departed_by_ring {
                // As Habitat's set_departed: tell the ring we are gone, then stop.
                self.leave(now);
                self.departed_by_ring = true;
                self.events.push_back(Event::DepartedByRing);
            }
            return;
        }
        if let Some(rec) = self.members.get(id) {
            let m = Membership {
                member: rec.member.clone(),
                health: Health::Departed,
            };
            let change = self.members.set(&m, now);
            self.on_member_change(id, change, None, now);
        }
    }

    fn start_hot(&mut self, key: RumorKey, holder: Option<&MemberId>) {
        let b = budget(self.cfg.retransmit_mult, self.cluster_size());
        self.heat(key, b, holder);
    }

    /// The current value of a hot key, as a rumor to send.
    fn rumor_for(&self, key: &RumorKey) -> Option<Rumor> {
        match key {
            RumorKey::Member(id) => self.membership_of(id).map(|membership| Rumor::Member {
                from: self.me.id.clone(),
                membership,
            }),
            other => self.store.get(other).map(|e| e.rumor.clone()),
        }
    }

    fn membership_of(&self, id: &MemberId) -> Option<Membership> {
        if *id == self.me.id {
            let health = if self.me.departed {
                Health::Departed
            } else {
                Health::Alive
            };
            return Some(Membership {
                member: self.me.clone(),
                health,
            });
        }
        self.members.get(id).map(|r| Membership {
            member: r.member.clone(),
            health: r.health,
        })
    }

    // ----- sending ---------------------------------------------------------------------------

    /// Up to `n` random members among the Alive ones (and the Suspect ones with
    /// `suspects_too`), but `except`.
    ///
    /// Draws from [`MemberList::live_pool`] (kept while no health changes), so a draw costs
    /// O(n), not O(N). It is the draw [`Ring::random_members_where`] makes over
    /// `[Alive]` or `[Alive, Suspect]` with `id != except`: `choose_multiple` samples indices
    /// from the length alone, and the pool is the same list less one entry.
    fn random_members(
        &mut self,
        n: usize,
        suspects_too: bool,
        except: Option<&MemberId>,
    ) -> Vec<Member> {
        let alive = self.members.count(Health::Alive);
        let held = except.and_then(|x| Some((x, self.members.health(x)?)));
        let pool = self.members.live_pool();
        let pool = if suspects_too { pool } else { &pool[..alive] };
        let skip = held.and_then(|(x, h)| {
            let from = match h {
                Health::Alive => 0,
                Health::Suspect if suspects_too => alive,
                _ => return None,
            };
            let to = if h == Health::Alive {
                alive
            } else {
                pool.len()
            };
            pool[from..to].binary_search(x).ok().map(|at| from + at)
        });
        let len = pool.len() - usize::from(skip.is_some());
        let picks: Vec<MemberId> = rand::seq::index::sample(&mut self.rng, len, n.min(len))
            .into_iter()
            .map(|i| match skip {
                Some(s) if i >= s => pool[i + 1].clone(),
                _ => pool[i].clone(),
            })
            .collect();
        picks
            .iter()
            .filter_map(|id| self.members.get(id).map(|r| r.member.clone()))
            .collect()
    }

    /// Up to `n` random members among those held with one of `healths`, passing `pred` (a scan of
    /// every such member: for rare draws).
    fn random_members_where(
        &mut self,
        n: usize,
        healths: &[Health],
        pred: impl Fn(&MemberRecord) -> bool,
    ) -> Vec<Member> {
        let pool: Vec<&MemberRecord> = healths
            .iter()
            .flat_map(|h| self.members.with_health(*h))
            .filter(|r| pred(r))
            .collect();
        pool.choose_multiple(&mut self.rng, n)
            .map(|r| r.member.clone())
            .collect()
    }

    /// Queues a SWIM message to `to` (member `target`), piggybacking membership when asked.
    fn push_swim(&mut self, to: SocketAddr, target: &MemberId, kind: SwimKind, piggyback: bool) {
        let mut msg = Swim {
            from: self.me.clone(),
            kind,
            membership: Vec::new(),
        };
        if piggyback && !matches!(msg.kind, SwimKind::ProbePing) {
            self.piggyback(&mut msg, target);
        }
        self.transmits.push_back(Transmit::Swim { to, msg });
    }

    /// Fills `msg.membership` for `target`: its own record first when we hold it as anything but
    /// Alive (so a suspect learns of its suspicion and refutes), then hot records it does not
    /// hold, while the datagram stays within `max_datagram` bytes.
    fn piggyback(&mut self, msg: &mut Swim, target: &MemberId) {
        let mut size = self.sizer.swim_len(msg);
        let max = self.cfg.max_datagram;
        if let Some(rec) = self.members.get(target)
            && rec.health != Health::Alive
        {
            let m = Membership {
                member: rec.member.clone(),
                health: rec.health,
            };
            let len = self.sizer.membership_len(&m);
            if size + len <= max {
                size += len;
                msg.membership.push(m);
                self.dissem
                    .mark_sent(&RumorKey::Member(target.clone()), target);
            }
        }
        // A hot Member key always has its record (collection forgets both), so `limit` keys fill
        // what is left of the piggyback.
        let limit = self.cfg.max_piggyback.saturating_sub(msg.membership.len());
        let keys = self.dissem.candidates(
            target,
            limit,
            |k| matches!(k, RumorKey::Member(id) if id != target),
        );
        for key in keys {
            if msg.membership.len() >= self.cfg.max_piggyback {
                break;
            }
            let RumorKey::Member(id) = &key else { continue };
            let Some(m) = self.membership_of(id) else {
                self.dissem.remove(&key);
                continue;
            };
            let len = self.sizer.membership_len(&m);
            if size + len > max {
                break;
            }
            size += len;
            msg.membership.push(m);
            self.dissem.mark_sent(&key, target);
        }
        // Per-record sizes cannot see a length prefix growing by a byte; re-measure the whole.
        while !msg.membership.is_empty() && self.sizer.swim_len(msg) > max {
            msg.membership.pop();
        }
    }
}

/// Lifeguard's suspicion timeout bounds for a ring of `cluster_size` members (this one
/// included), and the number of independent confirmations that bring it from the maximum to the
/// minimum.
fn suspicion_bounds(cfg: &Config, cluster_size: usize) -> (Duration, Duration, u32) {
    match cfg.fixed_suspicion_timeout {
        Some(t) => (t, t, 0),
        None => {
            let n = cluster_size as f64;
            let min = cfg
                .probe_interval
                .mul_f64(cfg.suspicion_min_mult * n.log10().max(1.0));
            let max = min.mul_f64(cfg.suspicion_max_mult);
            let expected = u32::try_from(cluster_size.saturating_sub(2)).unwrap_or(u32::MAX);
            (min, max, cfg.suspicion_confirmations.min(expected))
        }
    }
}

#[cfg(test)]
mod tests;
