//! The ring's side of elections: taking part in a group's elections, judging received election
//! rumors, restarting elections, pushing election changes to the group, and the leader's lease.
//!
//! The rules themselves are pure functions in `crate::election`; this module applies them to the
//! ring's member list and rumor store. A member takes part in the elections of a group once the
//! shell calls [`Ring::start_election`] and while its own Service rumor for the group is stored
//! and not withdrawn (Habitat's test of membership). Elections of other groups are merged and
//! relayed like any rumor.
//!
//! **The lease** (`ring/lease.rs`). A leader acts ([`Ring::leader`] names it) only while it has
//! heard directly from a quorum of its group within [`crate::Config::leader_lease`], which is
//! shorter than the earliest moment the rest of the group can act on another leader after it
//! last heard from this one. While it leads it pings members it has not heard from for a quarter
//! of the lease. When the lease runs out it steps down at once: a new term, standing as an
//! ordinary candidate.
//!
//! **The boundary.** Everything elections keep is in [`ElectionState`] (plus the election rumors
//! in the store, and `Ring::heard` for the lease). In: the commands ([`Ring::start_election`],
//! [`Ring::withdraw_service`], [`Ring::set_suitability`]), received election rumors
//! (`receive_election`), member and group changes (they set `ElectionState::dirty`), and timers
//! (`election_timers`). Out: election rumors stored and pushed to the group, `Event`s
//! (`RumorChanged`, `QuorumChanged`), lease keep-alive pings. Queries ([`Ring::leader`],
//! [`Ring::election`], [`Ring::electorate`], [`Ring::quorum_gap`], [`Ring::agreed_results`]) change
//! nothing. Still to do: drive it as a component of its own, with the member list and store
//! borrowed through a context rather than reached through `Ring`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use rand::seq::IndexedRandom;

use super::Ring;
use crate::election::{
    AgreedResult, Candidate, ElectionKind, ElectionRules, Electorate, GroupElection, HeldResult,
    Lease, MissingVoter, OnReceive, QuorumGap, Restart, habitat_electorate, judge_status,
    on_receive, restart_needed,
};
use crate::member::{Health, Member, MemberId};
use crate::message::{Event, Transmit};
use crate::rumor::{Committed, Election, ElectionStatus, Rumor, RumorKey};
use crate::store::Outcome;
use crate::time::Time;

/// Whether a new candidacy replaces the stored election first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stored {
    /// Merge the candidacy into what is stored.
    Keep,
    /// Drop the stored election first (it is of an older term and would win the merge).
    Replace,
}

/// Whether a candidacy needs this member to judge quorum (Warren's rules).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stand {
    /// Stand (vote) only with quorum.
    WithQuorum,
    /// Stand whatever the quorum (a leader stepping down).
    Regardless,
}

/// A candidacy this member stands in.
#[derive(Clone, Copy, Debug)]
struct Candidacy {
    term: u64,
    suitability: u64,
    stored: Stored,
    stand: Stand,
}

/// Whether the stored election `e` is the held result `h` itself, or its leader's re-run of it:
/// the next term, stood by the same leader with the highest suitability (a leader committing a
/// change of the group's electorate, or answering a member that started a term without it).
fn continues(h: &HeldResult, e: &Election) -> bool {
    e.member_id == h.leader
        && match e.status {
            ElectionStatus::Finished => e.term == h.term,
            _ => e.term == h.term.saturating_add(1) && e.suitability == u64::MAX,
        }
}

/// Everything the elections keep between calls, apart from the election rumors themselves
/// (in the ring's rumor store, which disseminates them) and what SWIM keeps (the member list,
/// and `Ring::heard`, the direct contacts a leader's lease counts).
#[derive(Debug, Default)]
pub(super) struct ElectionState {
    /// This member's part in each election of each group it belongs to.
    pub(super) groups: BTreeMap<(ElectionKind, String), GroupElection>,
    /// A member or a group changed: Warren runs the elections at the next timer check.
    pub(super) dirty: bool,
    /// Peers were configured, or saved state names them ([`Ring::expect_peers`]): until one is
    /// met, no quorum anywhere.
    pub(super) peers_expected: bool,
    /// This member has met the ring (for good).
    pub(super) met_peer: bool,
    /// Since when it has known an Alive member (the fallback for a peer address that never
    /// turns out to be a member).
    pub(super) met_ring_at: Option<Time>,
    /// When a member's rumors first reached us (a Member rumor another member sent): its pusher
    /// is connected, and the full sync it sends a newcomer or a restarted member follows. Until
    /// a settling time after that, a member that expects peers knows too little of its groups
    /// to judge them.
    pub(super) heard_rumors: Option<Time>,
    /// The term of the last candidacy this member stood in, per election, in this life of the
    /// process (kept when a service is unloaded and loaded again). A candidacy or result naming
    /// this member at a newer term is its previous life's: its votes were cast for a process
    /// that is gone, so it is never finished or acted on.
    pub(super) stood: BTreeMap<(ElectionKind, String), u64>,
    /// When the lease keep-alive last pinged each member.
    pub(super) keepalive_at: BTreeMap<MemberId, Time>,
    /// When each group leader was last probed by the group's members' extra leader probe.
    pub(super) leader_probed_at: BTreeMap<MemberId, Time>,
}

/// A group without quorum from the start is reported after this long in it.
const QUORUM_REPORT_AFTER: Duration = Duration::from_secs(10);

/// Where an election rumor [`Ring::learn_committed`] looks at comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Seen {
    /// The election stored for the group (after the merge).
    Stored,
    /// A rumor as received, before the merge (which may still reject it).
    Received,
}

fn wrap(kind: ElectionKind, e: Election) -> Rumor {
    match kind {
        ElectionKind::Leader => Rumor::Election(Arc::new(e)),
        ElectionKind::Update => Rumor::ElectionUpdate(Arc::new(e)),
    }
}

impl Ring {
    // ----- commands --------------------------------------------------------------------------

    /// Takes part in the `kind` election of `service_group` with `suitability` (Habitat: loading
    /// a leader-topology service, or the rolling updater). The member's own Service rumor for the
    /// group must be published for it to count as a member of the group. Starts a candidacy at
    /// term 0 unless an election is already stored, and from then on restarts the election when
    /// its leader is gone (spec §6.5).
    pub fn start_election(
        &mut self,
        service_group: &str,
        kind: ElectionKind,
        suitability: u64,
        now: Time,
    ) {
        let key = (kind, service_group.to_owned());
        // A result stored while this member was not in the group (before it loaded the service,
        // or after it unloaded it) is held from now on: it acts on it after the confirmation
        // time, as on one that just arrived.
        let held = self
            .election(service_group, kind)
            .filter(|e| e.status == ElectionStatus::Finished)
            .map(|e| HeldResult {
                term: e.term,
                leader: e.member_id.clone(),
                since: now,
                announced: false,
            });
        let g = self
            .el
            .groups
            .entry(key)
            .or_insert_with(|| GroupElection::new(suitability, now));
        g.suitability = suitability;
        if g.finished.is_none() {
            g.finished = held;
        }
        if self.in_group(service_group) {
            self.refresh_view(kind, service_group, now);
            let c = Candidacy {
                term: 0,
                suitability,
                stored: Stored::Keep,
                stand: Stand::WithQuorum,
            };
            self.begin(kind, service_group, c, now);
        }
        self.run_elections(now);
    }

    /// Publishes this member's own Service rumor for its group: its incarnation becomes one more
    /// than the one this member last published (a restarted member's rumor file still holds it;
    /// a newer one peers still hold from before the restart is refuted when heard), so every
    /// member takes the new value (spec §5.2).
    pub fn publish_service(&mut self, mut service: crate::rumor::Service, now: Time) -> Outcome {
        service.member_id = self.me.id.clone();
        service.withdrawn = false;
        let stored = self
            .store
            .service(&service.service_group, &self.me.id)
            .map_or(0, |s| s.incarnation);
        let restored = self
            .restored_own
            .remove(&service.service_group)
            .map_or(0, |s| s.incarnation);
        service.incarnation = stored.max(restored).saturating_add(1);
        self.publish(Rumor::Service(Arc::new(service)), now)
    }

    /// Withdraws this member from `service_group` (the service was unloaded): its Service rumor
    /// is re-published withdrawn (see `Service::withdrawn`), so every Warren member drops it from
    /// the group's population, electorate and census, and this member stops taking part in the
    /// group's elections. A Habitat peer keeps counting it (Habitat has no way to leave a group
    /// but departing the ring).
    pub fn withdraw_service(&mut self, service_group: &str, now: Time) {
        self.el.groups.retain(|(_, sg), _| sg != service_group);
        let Some(mut s) = self
            .store
            .service(service_group, &self.me.id)
            .filter(|s| !s.withdrawn)
            .cloned()
        else {
            return;
        };
        s.incarnation = s.incarnation.saturating_add(1);
        s.withdrawn = true;
        self.publish(Rumor::Service(Arc::new(s)), now);
    }

    /// Changes the suitability this member stands with in later candidacies (the `suitability`
    /// hook's new value).
    pub fn set_suitability(&mut self, service_group: &str, kind: ElectionKind, suitability: u64) {
        if let Some(g) = self.el.groups.get_mut(&(kind, service_group.to_owned())) {
            g.suitability = suitability;
        }
    }

    /// Stops taking part in the `kind` election of `service_group` (the service was unloaded).
    /// The stored election stays and is relayed like any rumor.
    pub fn stop_election(&mut self, service_group: &str, kind: ElectionKind) {
        self.el.groups.remove(&(kind, service_group.to_owned()));
    }

    // ----- accessors -------------------------------------------------------------------------

    /// The stored `kind` election of `service_group`.
    pub fn election(&self, service_group: &str, kind: ElectionKind) -> Option<&Election> {
        match &self.store.get(&kind.key(service_group))?.rumor {
            Rumor::Election(e) | Rumor::ElectionUpdate(e) => Some(e),
            _ => None,
        }
    }

    /// The leader of `service_group` as this member acts on it: the candidate of a Finished
    /// election, once the result has stood for `ElectionConfig::confirm` (Warren) — immediately
    /// under Habitat's rules, or for groups this member does not take part in.
    ///
    /// While the leader re-runs to commit a change of the group's electorate (a new term it
    /// stands in with the highest suitability), the result it re-runs keeps standing: the group
    /// is not left without a leader for every member that joins or leaves it.
    pub fn leader(&self, service_group: &str, kind: ElectionKind, now: Time) -> Option<&MemberId> {
        let e = self.election(service_group, kind)?;
        if self.cfg.election.rules == ElectionRules::Habitat {
            return (e.status == ElectionStatus::Finished).then_some(&e.member_id);
        }
        let Some(g) = self.el.groups.get(&(kind, service_group.to_owned())) else {
            return (e.status == ElectionStatus::Finished).then_some(&e.member_id);
        };
        let h = self.acting_result(kind, service_group)?;
        if now < h.since + self.cfg.election.confirm {
            return None;
        }
        // Never act as leader without quorum (a leader on the small side of a split) or without
        // its lease (a leader cut off or paused: the others may be electing).
        if h.leader == self.me.id
            && (!g.view.quorum
                || !self.stood_in(kind, service_group, h.term)
                || self.lease(kind, service_group, now) == Lease::Lost)
        {
            return None;
        }
        Some(&h.leader)
    }

    /// The finished result this member holds for one of its groups, while the stored election is
    /// that result or its leader's re-run of it ([`continues`]).
    pub(super) fn acting_result(&self, kind: ElectionKind, sg: &str) -> Option<&HeldResult> {
        let e = self.election(sg, kind)?;
        let h = self
            .el
            .groups
            .get(&(kind, sg.to_owned()))?
            .finished
            .as_ref()?;
        continues(h, e).then_some(h)
    }

    /// The electorate as this member last judged it, for a group whose election it takes part in.
    pub fn electorate(&self, service_group: &str, kind: ElectionKind) -> Option<&Electorate> {
        self.el
            .groups
            .get(&(kind, service_group.to_owned()))
            .map(|g| &g.view)
    }

    /// Why one of my groups has no quorum, as last judged (`None` while it has quorum, under
    /// Habitat's rules, or for a group this member does not take part in): the members counted
    /// that are not Alive, and whether this member has met its ring at all.
    pub fn quorum_gap(
        &self,
        service_group: &str,
        kind: ElectionKind,
        now: Time,
    ) -> Option<QuorumGap> {
        if self.cfg.election.rules != ElectionRules::Warren {
            return None;
        }
        let g = self.el.groups.get(&(kind, service_group.to_owned()))?;
        if g.view.quorum {
            return None;
        }
        let counted: BTreeSet<&MemberId> = g.view.population.iter().chain(&g.view.agreed).collect();
        let mut missing: Vec<MissingVoter> = counted
            .iter()
            .filter(|id| !g.view.electorate.contains(**id))
            .map(|id| {
                let r = self.members.get(id);
                MissingVoter {
                    id: (*id).clone(),
                    health: r.map(|r| r.health),
                    for_how_long: r.map_or(Duration::ZERO, |r| {
                        now.saturating_since(r.health_changed_at)
                    }),
                }
            })
            .collect();
        missing.sort_by(|a, b| b.for_how_long.cmp(&a.for_how_long).then(a.id.cmp(&b.id)));
        Some(QuorumGap {
            met_ring: self.el.met_peer,
            alive: counted.len() - missing.len(),
            counted: counted.len(),
            missing,
        })
    }

    /// The last finished result of each election this member knows, to keep across a restart.
    pub fn agreed_results(&self) -> Vec<AgreedResult> {
        self.el
            .groups
            .iter()
            .filter_map(|((kind, sg), g)| {
                g.agreed.as_ref().map(|(term, voters)| AgreedResult {
                    kind: *kind,
                    service_group: sg.clone(),
                    term: *term,
                    voters: voters.iter().cloned().collect(),
                })
            })
            .collect()
    }

    /// Restores results saved by [`Ring::agreed_results`] before this member restarted (call it
    /// with [`Ring::restore`], before joining). A newer result heard later replaces them.
    pub fn restore_agreed(&mut self, results: Vec<AgreedResult>, now: Time) {
        for r in results {
            let g = self
                .el
                .groups
                .entry((r.kind, r.service_group))
                .or_insert_with(|| GroupElection::new(0, now));
            if g.agreed.as_ref().is_none_or(|(t, _)| r.term > *t) {
                g.agreed = Some((r.term, r.voters.into_iter().collect()));
            }
        }
    }

    /// The elections this member takes part in.
    pub fn election_groups(&self) -> impl Iterator<Item = (ElectionKind, &str)> {
        self.el.groups.keys().map(|(k, sg)| (*k, sg.as_str()))
    }

    // ----- inside the ring -------------------------------------------------------------------

    /// The suitability this member stands with in `kind`'s election of `sg` (0 unless set).
    fn my_suitability(&self, kind: ElectionKind, sg: &str) -> u64 {
        self.el
            .groups
            .get(&(kind, sg.to_owned()))
            .map_or(0, |g| g.suitability)
    }

    /// Whether this member's own Service rumor for `service_group` is stored (and not withdrawn).
    pub(super) fn in_group(&self, service_group: &str) -> bool {
        self.store
            .service(service_group, &self.me.id)
            .is_some_and(|s| !s.withdrawn)
    }

    /// Whether `id` withdrew its service from `service_group`.
    fn withdrew(&self, service_group: &str, id: &MemberId) -> bool {
        self.store
            .service(service_group, id)
            .is_some_and(|s| s.withdrawn)
    }

    // ----- the lease -------------------------------------------------------------------------

    /// Owners of Service rumors in `service_group` other than me.
    fn group_owners(&self, service_group: &str) -> Vec<MemberId> {
        self.store
            .services_in(service_group)
            .filter(|id| **id != self.me.id)
            .cloned()
            .collect()
    }

    /// Reachable members of the groups whose elections this member takes part in.
    pub(super) fn election_peers(&self) -> Vec<Member> {
        let mut out: Vec<Member> = Vec::new();
        for (_, sg) in self.el.groups.keys() {
            for id in self.group_owners(sg) {
                if let Some(r) = self.members.get(&id)
                    && r.health <= Health::Suspect
                    && !out.iter().any(|m| m.id == id)
                {
                    out.push(r.member.clone());
                }
            }
        }
        out
    }

    /// How long a Confirmed member keeps counting in a population under Warren's rules.
    fn confirmed_grace(&self) -> Duration {
        self.cfg
            .election
            .confirmed_grace
            .unwrap_or_else(|| self.suspicion_bounds().1)
    }

    /// Notes whether this member has met the ring it was told to join, and returns it: it was
    /// given no peers ([`Ring::expect_peers`] not called and no peer addresses), or one of its
    /// peer addresses is an Alive member. Two newcomers that reach only each other are not a
    /// ring. A peer address that never matches a member (a load-balancing virtual IP) falls back
    /// to knowing any Alive member for `ElectionConfig::peer_fallback`. Once met, for good.
    fn update_met_peer(&mut self, now: Time) -> bool {
        if self.el.met_peer {
            return true;
        }
        let me = (self.me.address, self.me.swim_port);
        let peers: Vec<std::net::SocketAddr> = self
            .initial_peers
            .iter()
            .filter(|p| (p.ip(), p.port()) != me)
            .copied()
            .collect();
        // Expected peers without addresses (a restarted member whose saved state names the
        // ring's members): any Alive member it has heard from directly.
        let alive_peer = self.members.with_health(Health::Alive).any(|r| {
            peers.contains(&r.member.swim_addr())
                || (peers.is_empty() && self.heard.contains_key(&r.member.id))
        });
        if self.members.count(Health::Alive) == 0 {
            self.el.met_ring_at = None;
        } else if self.el.met_ring_at.is_none() {
            self.el.met_ring_at = Some(now);
        }
        let fallback = self
            .el
            .met_ring_at
            .is_some_and(|t| now >= t + self.cfg.election.peer_fallback);
        let alone = peers.is_empty() && !self.el.peers_expected;
        // A member that expects peers has met the ring only once their rumors reach it too:
        // peers answer a restarted member over UDP at once, while their rumor pushers may take
        // seconds to reconnect, and a member that judged its groups in between would see only
        // itself (and what its rumor file held).
        let synced = !self.el.peers_expected
            || self
                .el
                .heard_rumors
                .is_some_and(|t| now >= t + self.cfg.election.rumor_settle);
        self.el.met_peer = alone || (synced && (alive_peer || fallback));
        self.el.met_peer
    }

    /// Re-judges the electorate of one of my groups from the member list.
    fn refresh_view(&mut self, kind: ElectionKind, sg: &str, now: Time) {
        let rules = self.cfg.election.rules;
        let group: Vec<Candidate> = self
            .store
            .services_in(sg)
            .map(|id| {
                if *id == self.me.id {
                    let h = if self.left {
                        Health::Departed
                    } else {
                        Health::Alive
                    };
                    return Candidate {
                        id: id.clone(),
                        health: Some(h),
                        for_how_long: Duration::ZERO,
                    };
                }
                match self.members.get(id) {
                    Some(r) => Candidate {
                        id: id.clone(),
                        health: Some(r.health),
                        for_how_long: now.saturating_since(r.health_changed_at),
                    },
                    // We hold its service but not the member: it failed before we joined (a
                    // member never stores a Confirmed record it did not know). Warren counts it
                    // as Confirmed since its rumor arrived, so that a newcomer on the small side
                    // of a partition does not see a small group; Habitat leaves it out.
                    None if rules == ElectionRules::Warren => Candidate {
                        id: id.clone(),
                        health: Some(Health::Confirmed),
                        for_how_long: self
                            .store
                            .get(&RumorKey::Service(sg.to_owned(), id.clone()))
                            .map(|e| now.saturating_since(e.changed_at))
                            .unwrap_or_default(),
                    },
                    None => Candidate {
                        id: id.clone(),
                        health: None,
                        for_how_long: Duration::ZERO,
                    },
                }
            })
            .collect();
        let grace = self.confirmed_grace();
        let settle = self.cfg.election.settle;
        let mut joined = self.update_met_peer(now);
        if let Some(e) = self.election(sg, kind).cloned() {
            self.learn_committed(kind, &e, Seen::Stored);
        }
        let Some(g) = self.el.groups.get_mut(&(kind, sg.to_owned())) else {
            return;
        };
        joined &= now >= g.since + settle;
        let agreed = g.agreed.as_ref().map(|(_, v)| v);
        g.view = match rules {
            ElectionRules::Habitat => habitat_electorate(&group),
            ElectionRules::Warren => g.population.update(&group, grace, joined, agreed),
        };
        // Quorum lost or regained is reported once per change; a group that never had it is
        // reported once it has been joined for a while (start-up is not news).
        let quorum = g.view.quorum;
        let report = match (g.quorum_reported, quorum) {
            (Some(true), false) | (Some(false), true) => true,
            (None, false) => now >= g.since + QUORUM_REPORT_AFTER,
            (None, true) => {
                g.quorum_reported = Some(true);
                false
            }
            _ => false,
        };
        if report && rules == ElectionRules::Warren {
            g.quorum_reported = Some(quorum);
            self.events.push_back(Event::QuorumChanged {
                service_group: sg.to_owned(),
                kind,
                quorum,
            });
        }
    }

    /// Learns the committed electorate an election rumor of one of my groups shows: a finished
    /// result's voters, or the electorate an unfinished candidacy was stood under (a member that
    /// joined during a re-run never held the result before it). Only a newer one replaces the
    /// one held; at the same term, only the stored result (`Seen::Stored`, the merge's choice
    /// between two results of one term) replaces a carried one.
    fn learn_committed(&mut self, kind: ElectionKind, e: &Election, seen: Seen) {
        let (term, voters, carried) = match (e.status, &e.committed) {
            (ElectionStatus::Finished, _) => (e.term, &e.votes, false),
            (_, Some(c)) if self.cfg.election.rules == ElectionRules::Warren => {
                (c.term, &c.voters, true)
            }
            _ => return,
        };
        let Some(g) = self.el.groups.get_mut(&(kind, e.service_group.clone())) else {
            return;
        };
        if g.agreed
            .as_ref()
            .is_none_or(|(t, _)| term > *t || (term == *t && !carried && seen == Seen::Stored))
        {
            g.agreed = Some((term, voters.iter().cloned().collect()));
        }
    }

    fn view_of(&self, kind: ElectionKind, sg: &str) -> Electorate {
        self.el
            .groups
            .get(&(kind, sg.to_owned()))
            .map(|g| g.view.clone())
            .unwrap_or_default()
    }

    /// Stands as a candidate (Habitat's `start_election`); with [`Stored::Replace`], the stored
    /// election is dropped first so the new term is not merged away by an older, more suitable
    /// candidacy.
    ///
    /// Under Warren's rules a member votes only with quorum ([`Stand::WithQuorum`]): a candidacy
    /// is a vote, and votes are absorbed by whichever candidate wins a merge, so the votes of
    /// members that cannot judge the group could complete the election of a candidate whose view
    /// of the group is wrong. Restarts that step a leader down are made regardless.
    fn begin(&mut self, kind: ElectionKind, sg: &str, c: Candidacy, now: Time) {
        let Candidacy {
            term,
            suitability,
            stored,
            stand,
        } = c;
        let replace = stored == Stored::Replace;
        let view = self.view_of(kind, sg);
        if stand == Stand::WithQuorum
            && !view.quorum
            && self.cfg.election.rules == ElectionRules::Warren
        {
            if replace && self.store.remove(&kind.key(sg)) {
                self.events.push_back(Event::RumorChanged(kind.key(sg)));
            }
            return;
        }
        // The candidacy carries the committed electorate it is judged against, for members that
        // joined the group after that result (they never held it).
        let committed = match self.cfg.election.rules {
            ElectionRules::Habitat => None,
            ElectionRules::Warren => self
                .el
                .groups
                .get(&(kind, sg.to_owned()))
                .and_then(|g| g.agreed.as_ref())
                .filter(|(_, voters)| voters.len() <= crate::rumor::MAX_COMMITTED)
                .map(|(term, voters)| Committed {
                    term: *term,
                    voters: voters.iter().cloned().collect(),
                }),
        };
        let mut e = Election {
            member_id: self.me.id.clone(),
            service_group: sg.to_owned(),
            term,
            suitability,
            status: if view.quorum {
                ElectionStatus::Running
            } else {
                ElectionStatus::NoQuorum
            },
            votes: vec![self.me.id.clone()],
            committed,
        };
        judge_status(&self.me.id, &mut e, &view);
        if replace {
            self.store.remove(&kind.key(sg));
        }
        if let Some(g) = self.el.groups.get_mut(&(kind, sg.to_owned())) {
            g.starts += 1;
        }
        let stood = self.el.stood.entry((kind, sg.to_owned())).or_insert(term);
        *stood = (*stood).max(term);
        self.stats.elections_started += 1;
        let outcome = self.store.merge(wrap(kind, e), now);
        self.election_changed(kind, sg, outcome, now);
    }

    /// A received election rumor for a group this member belongs to (spec §6.4).
    pub(super) fn receive_election(
        &mut self,
        kind: ElectionKind,
        mut r: Election,
        now: Time,
    ) -> Outcome {
        let sg = r.service_group.clone();
        let rules = self.cfg.election.rules;
        // A member of the group that does not run this election itself (Habitat: any service in
        // the group) still votes, with the default suitability.
        self.el
            .groups
            .entry((kind, sg.clone()))
            .or_insert_with(|| GroupElection::new(0, now));
        if rules == ElectionRules::Warren {
            // Whatever becomes of the rumor (my previous life's win is disowned below), the
            // electorate it shows is the group's.
            self.learn_committed(kind, &r, Seen::Received);
        }
        self.refresh_view(kind, &sg, now);
        let my_suitability = self.my_suitability(kind, &sg);
        if rules == ElectionRules::Warren
            && r.member_id == self.me.id
            && !self.stood_in(kind, &sg, r.term)
        {
            // My previous life's candidacy or win, relayed back by a peer: never mine to finish
            // or act on. I stand anew above it, with fresh votes, once I can judge the group.
            self.disown(kind, &sg, r.term, now);
            return Outcome::Unchanged;
        }
        let stored = self.election(&sg, kind).cloned();
        let leader_alive = stored.as_ref().is_some_and(|s| {
            s.member_id == self.me.id
                || self.members.health(&s.member_id) == Some(Health::Alive)
                || self.heard_recently(&s.member_id, now)
        });
        match on_receive(
            rules,
            &self.me.id,
            stored.as_ref(),
            &r,
            my_suitability,
            leader_alive,
        ) {
            OnReceive::Ignore => {
                self.stats.elections_ignored += 1;
                return Outcome::Unchanged;
            }
            OnReceive::Adopt => {
                self.store.remove(&kind.key(&sg));
            }
            OnReceive::StartThenMerge {
                drop_stored,
                suitability,
            } => {
                let c = Candidacy {
                    term: r.term,
                    suitability,
                    stored: if drop_stored {
                        Stored::Replace
                    } else {
                        Stored::Keep
                    },
                    stand: Stand::WithQuorum,
                };
                self.begin(kind, &sg, c, now);
            }
            OnReceive::Merge => {}
        }
        judge_status(&self.me.id, &mut r, &self.view_of(kind, &sg));
        let candidate = r.member_id.clone();
        let (r_term, r_finished) = (r.term, r.status == ElectionStatus::Finished);
        let outcome = self.store.merge(wrap(kind, r), now);
        self.election_changed(kind, &sg, outcome, now);
        if rules == ElectionRules::Warren {
            self.try_finish(kind, &sg, now);
            // A candidate still campaigning for a term whose result we hold (or an older term)
            // learns the result from us at once, instead of at the next full sync.
            let behind = self.election(&sg, kind).is_some_and(|s| {
                s.term > r_term
                    || (s.term == r_term && s.status == ElectionStatus::Finished && !r_finished)
            });
            // Election rumors do not say who relayed them, so the whole group hears the answer
            // (at most once per check interval).
            let due = self
                .el
                .groups
                .get(&(kind, sg.clone()))
                .is_some_and(|g| now >= g.next_reply);
            if behind && due {
                if candidate != self.me.id {
                    self.send_election(kind, &sg, &candidate);
                }
                self.push_to_group(kind, &sg, now);
                if let Some(g) = self.el.groups.get_mut(&(kind, sg.clone())) {
                    g.next_reply = now + self.cfg.election.check_interval;
                }
            }
        }
        outcome
    }

    /// Whether I stood in `kind`'s election of `sg` at `term` in this life of the process (or at
    /// a later term, of which a `term` candidacy is an older copy).
    fn stood_in(&self, kind: ElectionKind, sg: &str, term: u64) -> bool {
        self.el
            .stood
            .get(&(kind, sg.to_owned()))
            .is_some_and(|t| *t >= term)
    }

    /// Warren: a candidacy or result naming me at `term` that I did not stand in (my previous
    /// life's): it is dropped and I stand at the next term as an ordinary candidate, once I
    /// have quorum (until then I hold nothing and follow whatever newer result arrives).
    fn disown(&mut self, kind: ElectionKind, sg: &str, term: u64, now: Time) {
        let c = Candidacy {
            term: term.saturating_add(1),
            suitability: match kind {
                ElectionKind::Update => 0,
                ElectionKind::Leader => self.my_suitability(kind, sg),
            },
            stored: Stored::Replace,
            stand: Stand::Regardless,
        };
        let stored_term = self.election(sg, kind).map(|e| e.term);
        if stored_term.is_some_and(|t| t > term) {
            // What I hold is newer already.
            return;
        }
        self.begin(kind, sg, c, now);
    }

    /// Warren: finishes my own stored candidacy once it holds every vote and quorum, and keeps its
    /// status in line with my quorum.
    fn try_finish(&mut self, kind: ElectionKind, sg: &str, now: Time) {
        let view = self.view_of(kind, sg);
        let Some(s) = self.election(sg, kind) else {
            return;
        };
        if s.member_id != self.me.id || s.status == ElectionStatus::Finished {
            return;
        }
        if !self.stood_in(kind, sg, s.term) {
            return;
        }
        let mut e = s.clone();
        judge_status(&self.me.id, &mut e, &view);
        if e.status == ElectionStatus::Running && !view.quorum {
            e.status = ElectionStatus::NoQuorum;
        } else if e.status == ElectionStatus::NoQuorum && view.quorum {
            e.status = ElectionStatus::Running;
        }
        if e.status != s.status {
            self.store.set(wrap(kind, e), now);
            self.election_changed(kind, sg, Outcome::Changed, now);
        }
    }

    /// Bookkeeping after the stored election of one of my groups was merged or set.
    fn election_changed(&mut self, kind: ElectionKind, sg: &str, outcome: Outcome, now: Time) {
        let key = kind.key(sg);
        match outcome {
            Outcome::Changed => {
                let stored = self.election(sg, kind).cloned();
                if let Some(g) = self.el.groups.get_mut(&(kind, sg.to_owned())) {
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
                self.stats.new_rumors += 1;
                self.start_hot(key.clone(), None);
                self.events.push_back(Event::RumorChanged(key.clone()));
                self.push_to_group(kind, sg, now);
            }
            Outcome::KeepSharing => self.start_hot(key, None),
            Outcome::Unchanged => self.stats.stale_rumors += 1,
        }
    }

    /// Sends the stored election to one member, if it is reachable.
    fn send_election(&mut self, kind: ElectionKind, sg: &str, to: &MemberId) {
        let Some(rumor) = self.store.get(&kind.key(sg)).map(|e| e.rumor.clone()) else {
            return;
        };
        if let Some(m) = self
            .members
            .get(to)
            .filter(|r| r.health <= Health::Suspect)
            .map(|r| r.member.clone())
        {
            self.transmits.push_back(Transmit::Rumors {
                to: m.gossip_addr(),
                to_id: m.id,
                rumors: vec![rumor],
            });
        }
    }

    /// Warren: sends the stored election straight to the group's reachable members.
    fn push_to_group(&mut self, kind: ElectionKind, sg: &str, now: Time) {
        if self.cfg.election.rules != ElectionRules::Warren {
            return;
        }
        let Some(rumor) = self.store.get(&kind.key(sg)).map(|e| e.rumor.clone()) else {
            return;
        };
        let peers: Vec<Member> = self
            .group_owners(sg)
            .iter()
            .filter_map(|id| self.members.get(id))
            .filter(|r| r.health <= Health::Suspect)
            .map(|r| r.member.clone())
            .collect();
        let chosen: Vec<Member> = peers
            .choose_multiple(&mut self.rng, self.cfg.election.direct_fanout)
            .cloned()
            .collect();
        for m in chosen {
            self.transmits.push_back(Transmit::Rumors {
                to: m.gossip_addr(),
                to_id: m.id.clone(),
                rumors: vec![rumor.clone()],
            });
        }
        if let Some(g) = self.el.groups.get_mut(&(kind, sg.to_owned())) {
            g.next_check = now + self.cfg.election.check_interval;
        }
    }

    /// Restarts, finishes and re-sends the elections this member takes part in. Warren runs this
    /// after every input that changed a member or a group; Habitat's rules run it once a second.
    pub(super) fn run_elections(&mut self, now: Time) {
        self.el.dirty = false;
        if self.left || self.el.groups.is_empty() {
            return;
        }
        let rules = self.cfg.election.rules;
        let keys: Vec<(ElectionKind, String)> = self.el.groups.keys().cloned().collect();
        let interval = self.cfg.election.check_interval;
        for (kind, sg) in keys {
            let due = match self.el.groups.get_mut(&(kind, sg.clone())) {
                Some(g) if now >= g.next_check => {
                    g.next_check = now + interval;
                    true
                }
                _ => false,
            };
            if !self.in_group(&sg) {
                continue;
            }
            self.refresh_view(kind, &sg, now);
            let view = self.view_of(kind, &sg);
            let Some(s) = self.election(&sg, kind).cloned() else {
                let c = Candidacy {
                    term: 0,
                    suitability: self.my_suitability(kind, &sg),
                    stored: Stored::Keep,
                    stand: Stand::WithQuorum,
                };
                self.begin(kind, &sg, c, now);
                continue;
            };
            let me = self.me.id.clone();
            if rules == ElectionRules::Warren
                && s.member_id == me
                && !self.stood_in(kind, &sg, s.term)
            {
                self.disown(kind, &sg, s.term, now);
                continue;
            }
            let health = |id: &MemberId| {
                if *id == me {
                    Some(Health::Alive)
                } else if self.withdrew(&sg, id) {
                    // A member that unloaded the service has left the group as surely as one
                    // that departed the ring.
                    Some(Health::Departed)
                } else {
                    match self.members.health(id) {
                        // Heard from it directly within the follower guard: whatever others say,
                        // it may still be acting on its lease.
                        Some(Health::Confirmed) if self.heard_recently(id, now) => {
                            Some(Health::Suspect)
                        }
                        h => h,
                    }
                }
            };
            let g = self.el.groups.get(&(kind, sg.clone()));
            let agreed = g.and_then(|g| g.agreed.as_ref().map(|(_, v)| v));
            // The lease counts once the result could be acted on (by then the keep-alive pings
            // sent when it finished have been answered).
            let acting = g
                .and_then(|g| g.finished.as_ref())
                .is_some_and(|h| now >= h.since + self.cfg.election.confirm);
            let lease = if acting {
                self.lease(kind, &sg, now)
            } else {
                Lease::Held
            };
            // A leader re-running its own result keeps acting on it, so it steps down from the
            // re-run as it would from the result.
            let rerun = rules == ElectionRules::Warren
                && s.member_id == me
                && s.status != ElectionStatus::Finished
                && self.acting_result(kind, &sg).is_some();
            let why = restart_needed(rules, &me, &s, &view, agreed, lease, health).or(
                match (rerun, view.quorum, lease) {
                    (true, false, _) => Some(Restart::LeaderLostQuorum),
                    (true, true, Lease::Lost) => Some(Restart::LeaseLost),
                    _ => None,
                },
            );
            if let Some(why) = why {
                // A leader re-running to bring the agreed population up to date stands with the
                // highest suitability and wins again; a leader stepping down stands as anyone
                // would, and whether or not it has quorum, so its old win is gone for good.
                let suitability = match kind {
                    ElectionKind::Update => 0,
                    ElectionKind::Leader if s.member_id == me && !why.steps_down() => u64::MAX,
                    ElectionKind::Leader => self.my_suitability(kind, &sg),
                };
                self.stats.elections_restarted += 1;
                if why == Restart::LeaseLost {
                    self.stats.leases_lost += 1;
                }
                let c = Candidacy {
                    term: s.term.saturating_add(1),
                    suitability,
                    stored: Stored::Replace,
                    stand: if why.steps_down() || why == Restart::LeaderGone {
                        Stand::Regardless
                    } else {
                        Stand::WithQuorum
                    },
                };
                self.begin(kind, &sg, c, now);
                continue;
            }
            if rules == ElectionRules::Warren
                && view.quorum
                && s.status != ElectionStatus::Finished
                && !s.votes.contains(&me)
            {
                // Quorum came back during a term I joined without voting: vote now.
                let c = Candidacy {
                    term: s.term,
                    suitability: self.my_suitability(kind, &sg),
                    stored: Stored::Keep,
                    stand: Stand::WithQuorum,
                };
                self.begin(kind, &sg, c, now);
            }
            if rules == ElectionRules::Warren {
                self.try_finish(kind, &sg, now);
            }
            let unfinished = self
                .election(&sg, kind)
                .is_some_and(|e| e.status != ElectionStatus::Finished);
            if due && unfinished {
                self.push_to_group(kind, &sg, now);
            }
        }
    }

    /// Warren: the leader of one of my groups, when I have not probed it for
    /// `ElectionConfig::leader_probe_interval`. SWIM's round-robin probes a given member about
    /// once a second across the ring but with an exponential tail (several seconds now and
    /// then); a group notices its leader's death sooner when its members also probe the leader
    /// on their own.
    pub(super) fn leader_due_for_probe(&mut self, now: Time) -> Option<Member> {
        if self.cfg.election.rules != ElectionRules::Warren {
            return None;
        }
        let every = self.cfg.election.leader_probe_interval;
        let leaders: Vec<MemberId> = self
            .el
            .groups
            .keys()
            .filter(|(_, sg)| self.in_group(sg))
            .filter_map(|(kind, sg)| self.election(sg, *kind))
            .filter(|e| e.status == ElectionStatus::Finished && e.member_id != self.me.id)
            .map(|e| e.member_id.clone())
            .collect();
        for id in leaders {
            let due = self
                .el
                .leader_probed_at
                .get(&id)
                .is_none_or(|t| now >= *t + every);
            let member = self
                .members
                .get(&id)
                .filter(|r| r.health <= Health::Suspect)
                .map(|r| r.member.clone());
            if let (true, Some(m)) = (due, member) {
                self.el.leader_probed_at.retain(|_, t| now < *t + every);
                self.el.leader_probed_at.insert(id, now);
                return Some(m);
            }
        }
        None
    }

    /// When the elections next need a look (`None` without elections).
    pub(super) fn election_deadline(&self) -> Option<Time> {
        if self.left {
            return None;
        }
        let confirm = self.cfg.election.confirm;
        let checks = self
            .el
            .groups
            .values()
            .map(|g| match &g.finished {
                Some(h) if !h.announced => g.next_check.min(h.since + confirm),
                _ => g.next_check,
            })
            .min();
        match (checks, self.lease_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Announces results that have stood long enough (their leader now acts as leader).
    fn confirm_results(&mut self, now: Time) {
        let confirm = self.cfg.election.confirm;
        let mut confirmed = Vec::new();
        for ((kind, sg), g) in self.el.groups.iter_mut() {
            if let Some(h) = &mut g.finished
                && !h.announced
                && now >= h.since + confirm
            {
                h.announced = true;
                confirmed.push(kind.key(sg));
            }
        }
        for key in confirmed {
            self.events.push_back(Event::RumorChanged(key));
        }
    }

    /// Runs the elections when a check is due, or (Warren) when a member or group changed.
    pub(super) fn election_timers(&mut self, now: Time) {
        self.confirm_results(now);
        self.lease_keepalive(now);
        let due = self.election_deadline().is_some_and(|d| now >= d);
        let eager = self.el.dirty && self.cfg.election.rules == ElectionRules::Warren;
        if due || eager {
            self.run_elections(now);
        }
    }
}
