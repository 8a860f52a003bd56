//! The elections component: a member's part in the elections of its service groups, as a state
//! machine of its own ([`Elections`]) that the ring drives.
//!
//! The rules themselves are pure functions in [`crate::election`]; this component applies them
//! to what the ring knows. A member takes part in the elections of a group once the shell calls
//! [`crate::Ring::start_election`] and while its own Service rumor for the group is stored and
//! not withdrawn (Habitat's test of membership). Elections of other groups are merged and
//! relayed by the ring like any rumor; this component never sees them.
//!
//! **The boundary.** [`Elections`] owns everything elections keep between calls. It never
//! reaches into [`crate::Ring`]: each call borrows exactly the ring parts it needs, read-only
//! through a [`RingView`] (this member, the configuration, the member list, the rumor store,
//! `heard`) or, for inputs that change something, through an [`ElectionCtx`]
//! (the same, with the rumor store, the RNG, the counters and the event queue borrowed mutably,
//! and an ordered [`Output`] list the ring acts on after the call).
//!
//! - **In**: commands ([`Elections::start`], [`Elections::withdraw`],
//!   [`Elections::set_suitability`], [`Elections::restore_agreed`],
//!   [`Elections::expect_peers`]); received election rumors of my groups
//!   ([`Elections::handle_election`]); membership and group changes
//!   ([`Elections::membership_changed`], [`Elections::forget_member`],
//!   [`Elections::rumors_arrived`]); timers ([`Elections::handle_timer`], with
//!   [`Elections::deadline`] the next one, and [`Elections::leader_to_probe`] on the probe timer).
//! - **Out**: election rumors stored in the rumor store, and through [`Output`] made hot
//!   ([`Output::Hot`]) and pushed straight to group members ([`Output::Transmit`]); lease
//!   keep-alive pings ([`Output::KeepAlive`]); `Event`s (`RumorChanged`, `QuorumChanged`) and
//!   counters in [`crate::Stats`].
//! - **Queries** (`&self`, change nothing): [`Elections::leader`], [`RingView::election`],
//!   [`Elections::electorate`], [`Elections::quorum_gap`], [`Elections::agreed_results`],
//!   [`Elections::groups`], [`Elections::peers`].
//!
//! Files: this one (the state, the contexts, the inputs); `judge.rs` (candidacies, judging
//! received rumors, restarts, the electorate); `push.rs` (sending elections to the group, the
//! leader probe); `queries.rs`; `lease.rs` (the leader lease).
//!
//! **The lease** (`lease.rs`). A leader acts ([`Elections::leader`] names it) only while it has
//! heard directly from a quorum of its group within [`crate::Config::leader_lease`], which is
//! shorter than the earliest moment the rest of the group can act on another leader after it
//! last heard from this one. While it leads it pings members it has not heard from for a quarter
//! of the lease. When the lease runs out it steps down at once: a new term, standing as an
//! ordinary candidate.
//!
//! What is not here: SWIM (who is Alive is the member list's, what was heard directly is the
//! ring's `heard`), the merge of election rumors (`crate::rumor`), dissemination, and sending
//! anything: the ring turns [`Output`] into transmits.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::time::Duration;

use rand_xoshiro::Xoshiro256PlusPlus;

use crate::config::Config;
use crate::election::{
    Agreed, AgreedResult, ElectionKind, ElectionRules, GroupElection, HeldResult,
    RERUN_SUITABILITY, Stored,
};
use crate::member::{IdMap, Member, MemberId};
use crate::members::MemberList;
use crate::message::{Event, Transmit};
use crate::ring::Stats;
use crate::rumor::{Election, ElectionStatus, Rumor, RumorKey, Service};
use crate::store::{Outcome, RumorStore};
use crate::time::Time;

mod judge;
mod lease;
mod push;
mod queries;

/// A member's part in the elections of its groups. See the module docs for its interface.
#[derive(Debug, Default)]
pub(crate) struct Elections {
    /// This member's part in each election of each group it belongs to.
    groups: BTreeMap<(ElectionKind, String), GroupElection>,
    /// A member or a group changed: Warren runs the elections at the next timer check.
    dirty: bool,
    /// Peers were configured, or saved state names them ([`Elections::expect_peers`]): until
    /// one is met, no quorum anywhere.
    peers_expected: bool,
    /// This member has met the ring (for good).
    met_peer: bool,
    /// One of its peers answered it directly while Alive, in this life: proof of the ring that
    /// outlives that peer (see `update_met_peer`).
    peer_answered: bool,
    /// Since when it has known an Alive member (the fallback for a peer address that never
    /// turns out to be a member).
    met_ring_at: Option<Time>,
    /// When a member's rumors first reached us (a Member rumor another member sent): its pusher
    /// is connected, and the full sync it sends a newcomer or a restarted member follows. Until
    /// a settling time after that, a member that expects peers knows too little of its groups
    /// to judge them.
    heard_rumors: Option<Time>,
    /// The term of the last candidacy this member stood in, per election, in this life of the
    /// process (kept when a service is unloaded and loaded again). A candidacy or result naming
    /// this member at a newer term is its previous life's: its votes were cast for a process
    /// that is gone, so it is never finished or acted on.
    stood: BTreeMap<(ElectionKind, String), u64>,
    /// When the lease keep-alive last pinged each member.
    keepalive_at: IdMap<Time>,
    /// When each group leader was last probed by the group's members' extra leader probe.
    leader_probed_at: IdMap<Time>,
}

/// The ring parts the elections read: borrowed for one call, changed by none.
#[derive(Clone, Copy)]
pub(crate) struct RingView<'a> {
    /// This member.
    pub(crate) me: &'a Member,
    /// The configuration in force.
    pub(crate) cfg: &'a Config,
    /// Whether this member left the ring.
    pub(crate) left: bool,
    /// The member list (who is Alive, since when).
    pub(crate) members: &'a MemberList,
    /// The rumor store (Service rumors say who is in a group; the election rumors themselves).
    pub(crate) store: &'a RumorStore,
    /// When each member last reached this one directly: what a leader's lease counts.
    pub(crate) heard: &'a IdMap<Time>,
    /// The longest suspicion timeout at the ring's size (the default Confirmed grace).
    pub(crate) suspicion_max: Duration,
}

/// The ring parts an input to the elections borrows: what [`RingView`] reads, with the rumor
/// store, the RNG, the counters and the event queue borrowed mutably, and the ordered list of
/// what the ring must do after the call.
pub(crate) struct ElectionCtx<'a> {
    /// This member.
    pub(crate) me: &'a Member,
    /// The configuration in force.
    pub(crate) cfg: &'a Config,
    /// Whether this member left the ring.
    pub(crate) left: bool,
    /// The member list.
    pub(crate) members: &'a MemberList,
    /// When each member last reached this one directly.
    pub(crate) heard: &'a IdMap<Time>,
    /// The peer addresses this member was told to join through.
    pub(crate) initial_peers: &'a [SocketAddr],
    /// The longest suspicion timeout at the ring's size.
    pub(crate) suspicion_max: Duration,
    /// The rumor store: election rumors are merged, set and removed here.
    pub(crate) store: &'a mut RumorStore,
    /// The ring's seeded RNG (which group members an election is pushed to).
    pub(crate) rng: &'a mut Xoshiro256PlusPlus,
    /// The ring's counters.
    pub(crate) stats: &'a mut Stats,
    /// The ring's event queue.
    pub(crate) events: &'a mut VecDeque<Event>,
    /// What the ring must do after the call, in order.
    pub(crate) out: &'a mut Vec<Output>,
}

/// What the elections ask the ring to do after a call, in the order asked.
#[derive(Debug)]
pub(crate) enum Output {
    /// Disseminate this (changed) rumor key.
    Hot(RumorKey),
    /// Send these rumors now (an election pushed straight to group members).
    Transmit(Transmit),
    /// Ping this member (the lease keep-alive; its Ack renews the lease).
    KeepAlive(Member),
}

impl ElectionCtx<'_> {
    /// The read-only view of the same borrow.
    pub(crate) fn view(&self) -> RingView<'_> {
        RingView {
            me: self.me,
            cfg: self.cfg,
            left: self.left,
            members: self.members,
            store: self.store,
            heard: self.heard,
            suspicion_max: self.suspicion_max,
        }
    }

    /// This member's id.
    fn me_id(&self) -> &MemberId {
        &self.me.id
    }
}

impl<'a> RingView<'a> {
    /// The stored `kind` election of `service_group`.
    pub(crate) fn election(&self, service_group: &str, kind: ElectionKind) -> Option<&'a Election> {
        match &self.store.get(&kind.key(service_group))?.rumor {
            Rumor::Election(e) | Rumor::ElectionUpdate(e) => Some(e),
            _ => None,
        }
    }

    /// Whether this member's own Service rumor for `service_group` is stored (and not withdrawn).
    pub(crate) fn in_group(&self, service_group: &str) -> bool {
        self.store
            .service(service_group, &self.me.id)
            .is_some_and(|s| !s.withdrawn)
    }

    /// Whether `id` withdrew its service from `service_group`.
    fn withdrew(&self, service_group: &str, id: &MemberId) -> bool {
        self.store
            .service(service_group, id)
            .is_some_and(|s: &Service| s.withdrawn)
    }

    /// Owners of Service rumors in `service_group` other than me.
    fn group_owners(&self, service_group: &str) -> Vec<MemberId> {
        self.store
            .services_in(service_group)
            .filter(|id| **id != self.me.id)
            .cloned()
            .collect()
    }

    /// How long a Confirmed member keeps counting in a population under Warren's rules.
    fn confirmed_grace(&self) -> Duration {
        self.cfg
            .election
            .confirmed_grace
            .unwrap_or(self.suspicion_max)
    }
}

/// Whether the stored election `e` is the held result `h` itself, or its leader's re-run of it:
/// the next term, stood by the same leader with the highest suitability (a leader committing a
/// change of the group's electorate, or answering a member that started a term without it).
fn continues(h: &HeldResult, e: &Election) -> bool {
    e.member_id == h.leader
        && match e.status {
            ElectionStatus::Finished => e.term == h.term,
            _ => e.term == h.term.saturating_add(1) && e.suitability == RERUN_SUITABILITY,
        }
}

/// A group without quorum from the start is reported after this long in it.
const QUORUM_REPORT_AFTER: Duration = Duration::from_secs(10);

impl Elections {
    // ----- commands --------------------------------------------------------------------------

    /// Says that this member was given peers, or restarted with saved state naming other
    /// members: see [`crate::Ring::expect_peers`].
    pub(crate) fn expect_peers(&mut self) {
        self.peers_expected = true;
    }

    /// Takes part in the `kind` election of `service_group` with `suitability`: see
    /// [`crate::Ring::start_election`].
    pub(crate) fn start(
        &mut self,
        cx: &mut ElectionCtx<'_>,
        service_group: &str,
        kind: ElectionKind,
        suitability: u64,
        now: Time,
    ) {
        let key = (kind, service_group.to_owned());
        // A result stored while this member was not in the group (before it loaded the service,
        // or after it unloaded it) is held from now on: it acts on it after the confirmation
        // time, as on one that just arrived.
        let held = cx
            .view()
            .election(service_group, kind)
            .filter(|e| e.status == ElectionStatus::Finished)
            .map(|e| HeldResult {
                term: e.term,
                leader: e.member_id.clone(),
                since: now,
                announced: false,
            });
        let g = self
            .groups
            .entry(key)
            .or_insert_with(|| GroupElection::new(suitability, now));
        g.suitability = suitability;
        if g.finished.is_none() {
            g.finished = held;
        }
        if cx.view().in_group(service_group) {
            self.refresh_view(cx, kind, service_group, now);
            let c = judge::Candidacy {
                term: self.fresh_term(cx, kind, service_group),
                suitability,
                stored: Stored::Keep,
                stand: judge::Stand::WithQuorum,
            };
            self.begin(cx, kind, service_group, c, now);
        }
        self.run(cx, now);
    }

    /// Stops taking part in every election of `service_group` (the service was unloaded; the
    /// ring withdraws its Service rumor). The stored elections stay and are relayed like any
    /// rumor.
    pub(crate) fn withdraw(&mut self, service_group: &str) {
        self.groups.retain(|(_, sg), _| sg != service_group);
    }

    /// Changes the suitability this member stands with in later candidacies.
    pub(crate) fn set_suitability(
        &mut self,
        service_group: &str,
        kind: ElectionKind,
        suitability: u64,
    ) {
        if let Some(g) = self.groups.get_mut(&(kind, service_group.to_owned())) {
            g.suitability = suitability;
        }
    }

    /// Restores results saved by [`Elections::agreed_results`] before this member restarted. A
    /// newer result heard later replaces them.
    pub(crate) fn restore_agreed(&mut self, results: Vec<AgreedResult>, now: Time) {
        for r in results {
            let g = self
                .groups
                .entry((r.kind, r.service_group))
                .or_insert_with(|| GroupElection::new(0, now));
            if g.agreed.as_ref().is_none_or(|a| r.term > a.term) {
                g.set_agreed(Agreed {
                    term: r.term,
                    voters: r.voters.into_iter().collect(),
                });
            }
        }
    }

    // ----- membership and group changes ------------------------------------------------------

    /// A member or a group changed (a member's health, a Service rumor): Warren re-runs the
    /// elections at the next [`Elections::handle_timer`].
    pub(crate) fn membership_changed(&mut self) {
        self.dirty = true;
    }

    /// Member `id` was forgotten (collected or evicted).
    pub(crate) fn forget_member(&mut self, id: &MemberId) {
        self.keepalive_at.remove(id);
        self.dirty = true;
    }

    /// Another member's Member rumor reached this one over the rumor channel: its pusher is
    /// connected (only the first time counts).
    pub(crate) fn rumors_arrived(&mut self, now: Time) {
        if self.heard_rumors.is_none() {
            self.heard_rumors = Some(now);
        }
    }

    // ----- timers ----------------------------------------------------------------------------

    /// Announces results that have stood long enough, pings group members for the lease, and
    /// runs the elections when a check is due or (Warren) when a member or group changed.
    pub(crate) fn handle_timer(&mut self, cx: &mut ElectionCtx<'_>, now: Time) {
        self.confirm_results(cx, now);
        self.lease_keepalive(cx, now);
        let due = self.deadline(cx.view()).is_some_and(|d| now >= d);
        let eager = self.dirty && cx.cfg.election.rules == ElectionRules::Warren;
        if due || eager {
            self.run(cx, now);
        }
    }

    /// Announces results that have stood long enough (their leader now acts as leader).
    fn confirm_results(&mut self, cx: &mut ElectionCtx<'_>, now: Time) {
        let confirm = cx.cfg.election.confirm;
        let mut confirmed = Vec::new();
        for ((kind, sg), g) in self.groups.iter_mut() {
            if let Some(h) = &mut g.finished
                && !h.announced
                && now >= h.since + confirm
            {
                h.announced = true;
                confirmed.push(kind.key(sg));
            }
        }
        for key in confirmed {
            cx.events.push_back(Event::RumorChanged(key));
        }
    }

    /// Bookkeeping after the stored election of one of my groups was merged or set.
    fn election_changed(
        &mut self,
        cx: &mut ElectionCtx<'_>,
        kind: ElectionKind,
        sg: &str,
        outcome: Outcome,
        now: Time,
    ) {
        let key = kind.key(sg);
        match outcome {
            Outcome::Changed => {
                let stored = cx.view().election(sg, kind).cloned();
                if let Some(g) = self.groups.get_mut(&(kind, sg.to_owned())) {
                    g.finished = match (g.finished.take(), stored) {
                        // The result itself, or its leader's re-run: it keeps standing.
                        (Some(h), Some(e)) if continues(&h, &e) => Some(h),
                        // The re-run finished with the same leader: the result moves on to the
                        // new term without a gap (the leader never stopped acting).
                        (Some(h), Some(e))
                            if e.status == ElectionStatus::Finished
                                && e.member_id == h.leader
                                && e.term == h.term.saturating_add(1) =>
                        {
                            Some(HeldResult { term: e.term, ..h })
                        }
                        (_, Some(e)) if e.status == ElectionStatus::Finished => Some(HeldResult {
                            term: e.term,
                            leader: e.member_id,
                            since: now,
                            announced: false,
                        }),
                        _ => None,
                    };
                }
                cx.stats.new_rumors += 1;
                cx.out.push(Output::Hot(key.clone()));
                cx.events.push_back(Event::RumorChanged(key));
                self.push_to_group(cx, kind, sg, now);
            }
            Outcome::KeepSharing => cx.out.push(Output::Hot(key)),
            Outcome::Unchanged => cx.stats.stale_rumors += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    //! The component driven on its own, with ring parts made by hand: no `Ring` involved.

    use std::net::{IpAddr, Ipv4Addr};
    use std::sync::Arc;

    use rand::SeedableRng;

    use super::*;
    use crate::member::{Health, Membership};
    use crate::rumor::{Committed, SysInfo};

    const GROUP: &str = "redis.default";

    /// Member `id`'s Service rumor in the group.
    fn in_group(id: &MemberId) -> Rumor {
        Rumor::Service(Arc::new(Service {
            incarnation: 1,
            member_id: id.clone(),
            service_group: GROUP.into(),
            pkg: "core/redis/7.2.4/20260101000000".into(),
            pkg_incarnation: 0,
            initialized: false,
            cfg: Vec::new(),
            sys: SysInfo::default(),
            withdrawn: false,
        }))
    }

    /// The ring parts the component borrows, owned by the test.
    struct Parts {
        me: Member,
        cfg: Config,
        members: MemberList,
        heard: IdMap<Time>,
        store: RumorStore,
        rng: Xoshiro256PlusPlus,
        stats: Stats,
        events: VecDeque<Event>,
        out: Vec<Output>,
        initial_peers: Vec<std::net::SocketAddr>,
    }

    impl Parts {
        fn new() -> Self {
            let me = Member {
                id: MemberId::new(format!("{:032x}", 1)),
                incarnation: 0,
                address: IpAddr::V4(Ipv4Addr::LOCALHOST),
                swim_port: 9638,
                gossip_port: 9638,
                persistent: false,
                departed: false,
            };
            let mut store = RumorStore::new();
            store.merge(in_group(&me.id), Time::ZERO);
            Parts {
                me,
                cfg: Config::default(),
                members: MemberList::new(),
                heard: IdMap::default(),
                store,
                rng: Xoshiro256PlusPlus::seed_from_u64(1),
                stats: Stats::default(),
                events: VecDeque::new(),
                out: Vec::new(),
                initial_peers: Vec::new(),
            }
        }

        /// Puts member `n`, listening on loopback `port`, in the member list with `health` since
        /// `since`.
        fn put_member(&mut self, n: u32, port: u16, health: Health, since: Time) {
            let mut member = self.me.clone();
            member.id = ident(n);
            member.swim_port = port;
            member.gossip_port = port;
            self.members.set(&Membership { member, health }, since);
        }

        /// The group's term-0 result, led by `leader` with `voters`: stored, and held by `el` as
        /// if restored from before a restart.
        fn agreed_on(&mut self, el: &mut Elections, leader: MemberId, voters: &[MemberId]) {
            let result = election(leader, 0, ElectionStatus::Finished, voters.to_vec());
            self.store
                .merge(Rumor::Election(Arc::new(result)), Time::ZERO);
            el.restore_agreed(
                vec![AgreedResult {
                    kind: ElectionKind::Leader,
                    service_group: GROUP.into(),
                    term: 0,
                    voters: voters.to_vec(),
                }],
                Time::ZERO,
            );
        }

        fn cx(&mut self) -> ElectionCtx<'_> {
            ElectionCtx {
                me: &self.me,
                cfg: &self.cfg,
                left: false,
                members: &self.members,
                heard: &self.heard,
                initial_peers: &self.initial_peers,
                suspicion_max: Duration::from_secs(9),
                store: &mut self.store,
                rng: &mut self.rng,
                stats: &mut self.stats,
                events: &mut self.events,
                out: &mut self.out,
            }
        }

        /// The group's leader election as stored.
        fn stored(&self) -> Election {
            self.view()
                .election(GROUP, ElectionKind::Leader)
                .cloned()
                .unwrap_or_else(|| panic!("no election stored"))
        }

        fn view(&self) -> RingView<'_> {
            RingView {
                me: &self.me,
                cfg: &self.cfg,
                left: false,
                members: &self.members,
                store: &self.store,
                heard: &self.heard,
                suspicion_max: Duration::from_secs(9),
            }
        }
    }

    /// Runs the component's timers from `from` for `secs` seconds, 100 ms apart.
    fn run(el: &mut Elections, p: &mut Parts, from: Time, secs: u64) -> Time {
        run_hearing(el, p, from, secs, &[])
    }

    /// [`run`], hearing from members `from_members` at every step (they answer the lease
    /// keep-alive).
    fn run_hearing(
        el: &mut Elections,
        p: &mut Parts,
        from: Time,
        secs: u64,
        from_members: &[u32],
    ) -> Time {
        let mut now = from;
        for _ in 0..secs * 10 {
            now = now + Duration::from_millis(100);
            for n in from_members {
                p.heard.insert(ident(*n), now);
            }
            el.handle_timer(&mut p.cx(), now);
        }
        now
    }

    #[test]
    fn a_member_with_no_peers_leads_alone_and_says_so_through_its_outputs() {
        let mut p = Parts::new();
        let mut el = Elections::default();
        el.start(&mut p.cx(), GROUP, ElectionKind::Leader, 0, Time::ZERO);
        let now = run(&mut el, &mut p, Time::ZERO, 30);
        assert_eq!(
            el.leader(p.view(), GROUP, ElectionKind::Leader, now),
            Some(&p.me.id)
        );
        let key = ElectionKind::Leader.key(GROUP);
        assert!(
            p.out
                .iter()
                .any(|o| matches!(o, Output::Hot(k) if *k == key)),
            "the election was handed to the ring to disseminate: {:?}",
            p.out
        );
        assert!(p.events.contains(&Event::RumorChanged(key)));
        assert_eq!(el.agreed_results().len(), 1);
        assert_eq!(p.stats.elections_started, 1);
    }

    #[test]
    fn a_member_that_expects_peers_never_leads_before_meeting_them() {
        let mut p = Parts::new();
        let mut el = Elections::default();
        el.expect_peers();
        el.start(&mut p.cx(), GROUP, ElectionKind::Leader, 0, Time::ZERO);
        let now = run(&mut el, &mut p, Time::ZERO, 30);
        assert_eq!(el.leader(p.view(), GROUP, ElectionKind::Leader, now), None);
        let gap = el.quorum_gap(p.view(), GROUP, ElectionKind::Leader, now);
        assert!(gap.is_some_and(|g| !g.met_ring));
    }

    /// A member restarted just before its only peer was killed: the peer answered it, then died
    /// before the others' rumors reached it (their pushers were still backing off from its
    /// downtime). Once those rumors arrive it has met the ring: it does not wait the 60 s
    /// `peer_fallback` (found as 59 s failovers on a local ring whose members all peer with
    /// member 0).
    #[test]
    fn a_peer_that_answered_and_died_still_counts_as_met() {
        let mut p = Parts::new();
        p.initial_peers = vec![loopback(9701)];
        let mut el = Elections::default();
        el.expect_peers();
        // My peer answers; it told me of another member of the ring.
        p.put_member(2, 9701, Health::Alive, Time::ZERO);
        p.put_member(3, 9702, Health::Alive, Time::ZERO);
        p.heard.insert(ident(2), Time::ZERO);
        el.start(&mut p.cx(), GROUP, ElectionKind::Leader, 0, Time::ZERO);
        let now = run(&mut el, &mut p, Time::ZERO, 2);
        let gap = el.quorum_gap(p.view(), GROUP, ElectionKind::Leader, now);
        assert!(gap.is_some_and(|g| !g.met_ring), "no rumors yet");
        // It dies; then the ring's rumors arrive.
        p.put_member(2, 9701, Health::Confirmed, Time::ZERO);
        let now = run(&mut el, &mut p, now, 2);
        el.rumors_arrived(now);
        let now = run(&mut el, &mut p, now, 15);
        assert_eq!(
            el.leader(p.view(), GROUP, ElectionKind::Leader, now),
            Some(&p.me.id),
            "alone in the group, and met the ring well before the fallback: {:?}",
            el.quorum_gap(p.view(), GROUP, ElectionKind::Leader, now)
        );
    }

    /// Runs 207824 and 229697 of `election-fuzz --partition-storm --churn`: two members started
    /// on a side of a split with none of the ring's older members reach only each other. Each
    /// one's peer addresses name an Alive member, but neither knows the ring: one that reached
    /// it would know at least half of those addresses as members, dead or alive.
    #[test]
    fn a_newcomer_that_reached_only_another_newcomer_has_not_met_the_ring() {
        let mut p = Parts::new();
        p.initial_peers = vec![loopback(9701), loopback(9702), loopback(9703)];
        // The other newcomer, at one of my peer addresses, not in the group.
        p.put_member(2, 9701, Health::Alive, Time::ZERO);
        let mut el = Elections::default();
        el.start(&mut p.cx(), GROUP, ElectionKind::Leader, 0, Time::ZERO);
        let now = run(&mut el, &mut p, Time::ZERO, 30);
        assert_eq!(el.leader(p.view(), GROUP, ElectionKind::Leader, now), None);
        let gap = el.quorum_gap(p.view(), GROUP, ElectionKind::Leader, now);
        assert!(gap.as_ref().is_some_and(|g| !g.met_ring), "{gap:?}");
        // The ring's records reach me: the members at my other addresses have died since.
        p.put_member(3, 9702, Health::Confirmed, Time::ZERO);
        p.put_member(4, 9703, Health::Confirmed, Time::ZERO);
        let now = run(&mut el, &mut p, now, 30);
        assert_eq!(
            el.leader(p.view(), GROUP, ElectionKind::Leader, now),
            Some(&p.me.id),
            "alone in the group, once I know the ring"
        );
    }

    fn loopback(port: u16) -> std::net::SocketAddr {
        std::net::SocketAddr::from((Ipv4Addr::LOCALHOST, port))
    }

    fn ident(n: u32) -> MemberId {
        MemberId::new(format!("{n:032x}"))
    }

    /// An election of the test group, with no committed electorate.
    fn election(
        candidate: MemberId,
        term: u64,
        status: ElectionStatus,
        votes: Vec<MemberId>,
    ) -> Election {
        Election {
            member_id: candidate,
            service_group: GROUP.into(),
            term,
            suitability: 0,
            status,
            votes,
            committed: None,
        }
    }

    /// The committed electorate of a result is its voters when it finished (seed 4583 of
    /// `election-fuzz --partition-storm`): votes absorbed into it later, from a stale candidacy
    /// of the same term, do not widen it, so both sides of a split judge majorities of one set.
    #[test]
    fn a_result_commits_the_voters_it_finished_with_not_votes_absorbed_later() {
        let mut p = Parts::new();
        let mut el = Elections::default();
        el.start(&mut p.cx(), GROUP, ElectionKind::Leader, 0, Time::ZERO);
        let now = run(&mut el, &mut p, Time::ZERO, 3);
        let won = p.stored();
        assert_eq!(won.status, ElectionStatus::Finished);
        let me = p.me.id.clone();
        let sealed = Committed {
            term: won.term,
            voters: vec![me.clone()],
        };
        assert_eq!(
            won.committed.as_ref(),
            Some(&sealed),
            "the winner seals its result"
        );
        // Two members that stood for another candidate in the same term, heard late.
        let stale = election(
            ident(2),
            won.term,
            ElectionStatus::Running,
            vec![ident(2), ident(3)],
        );
        el.handle_election(&mut p.cx(), ElectionKind::Leader, stale, now);
        let merged = p.stored();
        assert_eq!(merged.votes.len(), 3, "Habitat's merge absorbs the votes");
        assert_eq!(merged.committed.as_ref(), Some(&sealed));
        let agreed = el.agreed_results();
        assert_eq!(agreed.len(), 1);
        assert_eq!(
            agreed[0].voters,
            vec![me.clone()],
            "the electorate did not grow"
        );

        // Another member learns the result from a copy with the absorbed votes: it learns the
        // sealed voters too.
        let mut q = Parts::new();
        q.me.id = ident(4);
        let mut other = Elections::default();
        other.start(&mut q.cx(), GROUP, ElectionKind::Leader, 0, Time::ZERO);
        other.handle_election(&mut q.cx(), ElectionKind::Leader, merged, now);
        let agreed = other.agreed_results();
        assert_eq!(agreed.len(), 1);
        assert_eq!(agreed[0].term, won.term);
        assert_eq!(agreed[0].voters, vec![me]);
    }

    /// A relay outside the group hands my re-run the votes of the result it held, dead voters'
    /// too (spec §6.3, rule 5): the seal is made from the last result's voters, never from the
    /// votes, and a voter dead past the grace leaves it.
    #[test]
    fn a_dead_voter_relayed_into_my_votes_is_not_sealed() {
        let mut p = Parts::new();
        let mut el = Elections::default();
        let group: Vec<MemberId> = (1..=4).map(ident).collect();
        for (n, id) in group.iter().enumerate().skip(1) {
            let mut m = p.me.clone();
            m.id = id.clone();
            let health = if n == 3 {
                Health::Confirmed
            } else {
                Health::Alive
            };
            p.members.set(&Membership { member: m, health }, Time::ZERO);
            p.store.merge(in_group(id), Time::ZERO);
        }
        // The group agreed on term 0 with all four, member 4 leading; it has died since.
        p.agreed_on(&mut el, ident(4), &group);
        el.start(&mut p.cx(), GROUP, ElectionKind::Leader, 0, Time::ZERO);
        // Past the settling time a member waits before it judges.
        let now = run(&mut el, &mut p, Time::ZERO, 10);
        let mine = p.stored();
        assert_eq!(
            mine.member_id, p.me.id,
            "I stand in the dead leader's place"
        );
        assert_eq!(mine.term, 1);
        assert_ne!(
            mine.status,
            ElectionStatus::Finished,
            "2 and 3 have not voted"
        );
        // My candidacy comes back through a relay with every vote, the dead member's too.
        let mut back = mine.clone();
        back.votes = group.clone();
        el.handle_election(&mut p.cx(), ElectionKind::Leader, back, now);
        let won = p.stored();
        assert_eq!(won.status, ElectionStatus::Finished);
        assert_eq!(won.votes.len(), 4, "the votes are Habitat's");
        run(&mut el, &mut p, now, 1);
        let agreed = el.agreed_results();
        assert_eq!(agreed[0].term, won.term);
        assert_eq!(
            agreed[0].voters,
            group[..3].to_vec(),
            "the dead voter is not committed"
        );
    }

    /// A voter of the last result that is unreachable when the next one finishes stays in its
    /// seal until it leaves the population: a result never drops one voter and takes in another
    /// at once (seed 7251 of `election-fuzz`, with verdict adoption: [0 1 3] became [1 3 5] as
    /// member 0 was cut off, and after the split each side had a majority of one of the two).
    #[test]
    fn a_voter_unreachable_when_a_result_finishes_stays_committed() {
        let mut p = Parts::new();
        let mut el = Elections::default();
        let group: Vec<MemberId> = (1..=5).map(ident).collect();
        for n in 2..=5 {
            p.put_member(n, 9700 + n as u16, Health::Alive, Time::ZERO);
            p.store.merge(in_group(&ident(n)), Time::ZERO);
        }
        // The group agreed on term 0 with all five, member 4 leading.
        p.agreed_on(&mut el, ident(4), &group);
        el.start(&mut p.cx(), GROUP, ElectionKind::Leader, 0, Time::ZERO);
        let now = run(&mut el, &mut p, Time::ZERO, 10);
        // The leader dies, and member 3 is cut off at the same moment.
        p.put_member(4, 9704, Health::Confirmed, now);
        p.put_member(3, 9703, Health::Suspect, now);
        el.membership_changed();
        let now = run(&mut el, &mut p, now, 1);
        let mine = p.stored();
        assert_eq!((mine.member_id.clone(), mine.term), (p.me.id.clone(), 1));
        // 2 and 5 vote: with me, a majority of the last result's voters, and every Alive member.
        let mut back = mine.clone();
        back.votes = vec![ident(1), ident(2), ident(5)];
        el.handle_election(&mut p.cx(), ElectionKind::Leader, back, now);
        assert_eq!(p.stored().status, ElectionStatus::Finished);
        // 2 and 5 answer my lease keep-alive from now on.
        let now = run_hearing(&mut el, &mut p, now, 1, &[2, 5]);
        let agreed = el.agreed_results();
        assert_eq!(agreed[0].term, 1);
        assert_eq!(
            agreed[0].voters, group,
            "the leader (Confirmed within the grace) and member 3 (Suspect) are still voters"
        );
        // Past the grace the dead leader leaves the population with quorum, and my re-run
        // commits that; member 3, only Suspect still, stays a voter.
        let now = run_hearing(&mut el, &mut p, now, 12, &[2, 5]);
        let mut back = p.stored();
        assert_eq!((back.term, back.suitability), (2, RERUN_SUITABILITY));
        back.votes = vec![ident(1), ident(2), ident(5)];
        el.handle_election(&mut p.cx(), ElectionKind::Leader, back, now);
        run(&mut el, &mut p, now, 1);
        let agreed = el.agreed_results();
        assert_eq!(agreed[0].term, 2);
        assert_eq!(
            agreed[0].voters,
            vec![ident(1), ident(2), ident(3), ident(5)]
        );
    }

    /// A follower votes in its leader's re-run by standing a candidacy of its own, which the
    /// re-run absorbs; it still holds the result the re-run continues. It went on naming its
    /// leader, and a rival's newer term started while the leader still acts on its lease is not
    /// followed (run 218955 of `election-fuzz --partition-storm --churn`: followers that had
    /// dropped the result joined such a term, and two members acted as leader for 0.2 s).
    #[test]
    fn a_follower_that_votes_in_its_leaders_rerun_still_follows_the_leader() {
        let mut p = Parts::new();
        let mut el = Elections::default();
        for n in [2, 3] {
            let mut m = p.me.clone();
            m.id = ident(n);
            let health = Health::Alive;
            p.members.set(&Membership { member: m, health }, Time::ZERO);
            p.store.merge(in_group(&ident(n)), Time::ZERO);
        }
        el.start(&mut p.cx(), GROUP, ElectionKind::Leader, 0, Time::ZERO);
        let result = election(
            ident(2),
            0,
            ElectionStatus::Finished,
            vec![ident(2), p.me.id.clone(), ident(3)],
        );
        el.handle_election(&mut p.cx(), ElectionKind::Leader, result, Time::ZERO);
        let mut now = run(&mut el, &mut p, Time::ZERO, 5);
        assert_eq!(
            el.leader(p.view(), GROUP, ElectionKind::Leader, now),
            Some(&ident(2))
        );
        // Member 2 re-runs its result (a member came or went); I vote in it.
        p.heard.insert(ident(2), now);
        let rerun = Election {
            suitability: RERUN_SUITABILITY,
            ..election(ident(2), 1, ElectionStatus::Running, vec![ident(2)])
        };
        el.handle_election(&mut p.cx(), ElectionKind::Leader, rerun, now);
        let stored = p.stored();
        assert_eq!((stored.member_id.clone(), stored.term), (ident(2), 1));
        assert!(stored.votes.contains(&p.me.id), "I voted: {stored:?}");
        assert_eq!(
            el.leader(p.view(), GROUP, ElectionKind::Leader, now),
            Some(&ident(2)),
            "my leader during its re-run"
        );
        // Member 3, which thinks 2 is gone, starts a newer term: I do not follow it.
        now = now + Duration::from_millis(100);
        let rival = election(ident(3), 2, ElectionStatus::Running, vec![ident(3)]);
        let ignored = p.stats.elections_ignored;
        el.handle_election(&mut p.cx(), ElectionKind::Leader, rival, now);
        assert_eq!(p.stats.elections_ignored, ignored + 1);
        let stored = p.stored();
        assert_eq!((stored.member_id, stored.term), (ident(2), 1));
    }

    /// Seed 32741 of `election-fuzz --churn`: the group's stored election is gone, and a member
    /// restarted from an old rumor file relays the group's very first candidacy (term 0, made
    /// before any result, so it carries no committed electorate). A member holding the result of
    /// term 0 does not vote in it: it stands above the result, carrying the electorate it holds,
    /// so that members who never held the result learn it and can vote.
    #[test]
    fn a_candidacy_from_before_the_result_held_is_not_voted_in() {
        let mut p = Parts::new();
        let mut el = Elections::default();
        let me = p.me.id.clone();
        let mut m = p.me.clone();
        m.id = ident(2);
        p.members.set(
            &Membership {
                member: m,
                health: Health::Alive,
            },
            Time::ZERO,
        );
        p.store.merge(in_group(&ident(2)), Time::ZERO);
        let voters = vec![me.clone(), ident(2)];
        el.restore_agreed(
            vec![AgreedResult {
                kind: ElectionKind::Leader,
                service_group: GROUP.into(),
                term: 0,
                voters: voters.clone(),
            }],
            Time::ZERO,
        );
        el.start(&mut p.cx(), GROUP, ElectionKind::Leader, 0, Time::ZERO);
        p.store.remove(&ElectionKind::Leader.key(GROUP));
        let first = election(ident(2), 0, ElectionStatus::Running, vec![ident(2)]);
        let ignored = p.stats.elections_ignored;
        el.handle_election(&mut p.cx(), ElectionKind::Leader, first, Time::ZERO);
        assert_eq!(p.stats.elections_ignored, ignored + 1);
        assert!(
            p.view().election(GROUP, ElectionKind::Leader).is_none(),
            "the old candidacy is not stored: {:?}",
            p.view().election(GROUP, ElectionKind::Leader)
        );
        run(&mut el, &mut p, Time::ZERO, 10);
        let mine = p.stored();
        assert_eq!(mine.member_id, me);
        assert_eq!(mine.term, 1, "a fresh candidacy stands above the result");
        assert_eq!(
            mine.committed,
            Some(Committed { term: 0, voters }),
            "it carries the electorate of the result"
        );
    }

    /// The judged electorate is kept while nothing it was made from changes, but not past the
    /// moment time alone changes it: a member Confirmed for longer than the grace leaves the
    /// population with no other input, and a member coming back is counted at once.
    #[test]
    fn a_kept_electorate_follows_time_and_every_change() {
        let mut p = Parts::new();
        let mut el = Elections::default();
        let set = |p: &mut Parts, n: u32, health: Health, at: Time| {
            let mut m = p.me.clone();
            m.id = ident(n);
            p.members.set(&Membership { member: m, health }, at);
        };
        for n in 2..=4 {
            set(&mut p, n, Health::Alive, Time::ZERO);
            p.store.merge(in_group(&ident(n)), Time::ZERO);
        }
        // A result of the four: without one, dead members never leave a population.
        let mut voters = vec![p.me.id.clone()];
        voters.extend((2..=4).map(ident));
        el.restore_agreed(
            vec![AgreedResult {
                kind: ElectionKind::Leader,
                service_group: GROUP.into(),
                term: 0,
                voters,
            }],
            Time::ZERO,
        );
        el.start(&mut p.cx(), GROUP, ElectionKind::Leader, 0, Time::ZERO);
        let mut now = run(&mut el, &mut p, Time::ZERO, 10);
        let population = |el: &Elections| {
            el.electorate(GROUP, ElectionKind::Leader)
                .map(|e| e.population.len())
                .unwrap_or_default()
        };
        assert_eq!(population(&el), 4);
        set(&mut p, 4, Health::Confirmed, now);
        now = run(&mut el, &mut p, now, 1);
        assert_eq!(population(&el), 4, "within the grace it still counts");
        // The grace (`suspicion_max`, 9 s here) runs out with nothing else changing.
        now = run(&mut el, &mut p, now, 10);
        assert_eq!(population(&el), 3, "Confirmed past the grace, it has left");
        set(&mut p, 4, Health::Alive, now);
        run(&mut el, &mut p, now, 1);
        assert_eq!(population(&el), 4, "back, it counts again");
    }

    #[test]
    fn queries_change_nothing() {
        let mut p = Parts::new();
        let mut el = Elections::default();
        el.start(&mut p.cx(), GROUP, ElectionKind::Leader, 0, Time::ZERO);
        let now = run(&mut el, &mut p, Time::ZERO, 3);
        let before = format!("{el:?}");
        let deadline = el.deadline(p.view());
        for _ in 0..3 {
            let _ = el.leader(p.view(), GROUP, ElectionKind::Leader, now);
            let _ = el.quorum_gap(p.view(), GROUP, ElectionKind::Leader, now);
            let _ = el.electorate(GROUP, ElectionKind::Leader);
            let _ = el.agreed_results();
            let _ = el.peers(p.view());
            let _ = el.groups().count();
            assert_eq!(el.deadline(p.view()), deadline);
        }
        assert_eq!(format!("{el:?}"), before);
    }
}
