//! Candidacies and judging: standing as a candidate, judging a received election rumor of one of
//! my groups, restarting and finishing elections, and judging each group's electorate from the
//! member list (with whether this member has met its ring at all).
//!
//! Not here: the rules themselves (`crate::election`), sending anything (`push.rs`), the lease
//! timings (`lease.rs`).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use super::{ElectionCtx, Elections, QUORUM_REPORT_AFTER, continues};
use crate::election::{
    Agreed, Candidate, ElectionKind, ElectionRules, Electorate, GroupElection, HeldResult,
    LeaderSeen, Lease, OnReceive, RERUN_SUITABILITY, ReRun, Restart, Settled, Stored, ViewInputs,
    ViewStamp, habitat_electorate, judge_status, on_receive, restart_needed, sealed_voters,
};
use crate::member::{Health, MemberId};
use crate::message::Event;
use crate::rumor::{Committed, Election, ElectionStatus, Rumor, RumorKey};
use crate::store::Outcome;
use crate::time::Time;

/// Whether a candidacy needs this member to judge quorum (Warren's rules).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Stand {
    /// Stand (vote) only with quorum.
    WithQuorum,
    /// Stand whatever the quorum (a leader stepping down).
    Regardless,
}

/// A candidacy this member stands in.
#[derive(Clone, Copy, Debug)]
pub(super) struct Candidacy {
    pub(super) term: u64,
    pub(super) suitability: u64,
    pub(super) stored: Stored,
    pub(super) stand: Stand,
}

/// Where an election rumor [`Elections::learn_committed`] looks at comes from.
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

impl Elections {
    /// The suitability this member stands with in `kind`'s election of `sg` (0 unless set).
    fn my_suitability(&self, kind: ElectionKind, sg: &str) -> u64 {
        self.groups
            .get(&(kind, sg.to_owned()))
            .map_or(0, |g| g.suitability)
    }

    fn view_of(&self, kind: ElectionKind, sg: &str) -> Arc<Electorate> {
        self.groups
            .get(&(kind, sg.to_owned()))
            .map(|g| Arc::clone(&g.view))
            .unwrap_or_default()
    }

    /// The term a fresh candidacy of mine stands at. With an election of the group stored, 0
    /// (the merge with the stored one decides). With none: the one after the result I hold (0
    /// when I hold none, Habitat's rules). Members holding that result do not vote in a
    /// candidacy of its term or older ([`Elections::predates_result`]).
    pub(super) fn fresh_term(&self, cx: &ElectionCtx<'_>, kind: ElectionKind, sg: &str) -> u64 {
        if cx.view().election(sg, kind).is_some() {
            return 0;
        }
        match cx.cfg.election.rules {
            ElectionRules::Habitat => 0,
            ElectionRules::Warren => self
                .groups
                .get(&(kind, sg.to_owned()))
                .and_then(|g| g.agreed.as_ref())
                .map_or(0, |a| a.term.saturating_add(1)),
        }
    }

    /// Warren: whether a received unfinished candidacy `r` was made before the result I hold,
    /// with no election of the group stored here: its term is at or below that result's. (With
    /// one stored, the merge decides, as always.) Such a candidacy still circulates when a
    /// member restarts from a rumor file saved before the result and relays the group's first
    /// candidacy into a group whose stored election is gone (`election-fuzz --churn`, seed
    /// 32741). It carries no committed electorate, so members that joined after the result judge
    /// the group without one when they vote in it, and it never finishes. I do not vote in it: I
    /// stand above the result at the next [`Elections::run`], carrying the electorate I hold.
    fn predates_result(&self, kind: ElectionKind, r: &Election, stored: Option<&Election>) -> bool {
        let Some(a) = self
            .groups
            .get(&(kind, r.service_group.clone()))
            .and_then(|g| g.agreed.as_ref())
        else {
            return false;
        };
        stored.is_none() && r.status != ElectionStatus::Finished && r.term <= a.term
    }

    /// Whether I stood in `kind`'s election of `sg` at `term` in this life of the process (or at
    /// a later term, of which a `term` candidacy is an older copy).
    pub(super) fn stood_in(&self, kind: ElectionKind, sg: &str, term: u64) -> bool {
        self.stood
            .get(&(kind, sg.to_owned()))
            .is_some_and(|t| *t >= term)
    }

    /// Notes whether this member has met the ring it was told to join, and returns it: it was
    /// given no peers ([`Elections::expect_peers`] not called and no peer addresses), or one of
    /// its peer addresses is an Alive member and at least half of them are members it knows. Two
    /// newcomers that reach only each other are not a ring. A peer address that never matches a
    /// member (a load-balancing virtual IP) falls back to knowing any Alive member for
    /// `ElectionConfig::peer_fallback`. Once met, for good.
    fn update_met_peer(&mut self, cx: &ElectionCtx<'_>, now: Time) -> bool {
        if self.met_peer {
            return true;
        }
        let me = (cx.me.address, cx.me.swim_port);
        let peers: Vec<std::net::SocketAddr> = cx
            .initial_peers
            .iter()
            .filter(|p| (p.ip(), p.port()) != me)
            .copied()
            .collect();
        // Expected peers without addresses (a restarted member whose saved state names the
        // ring's members): any Alive member it has heard from directly.
        let alive_peer = cx.members.with_health(Health::Alive).any(|r| {
            let answered = cx.heard.contains_key(&r.member.id);
            let peer = peers.contains(&r.member.swim_addr());
            self.peer_answered |= answered && (peer || peers.is_empty());
            peer || (peers.is_empty() && answered)
        });
        // A peer that answered stays proof after it dies: a member restarted just before its
        // only peer was killed heard from it, but the others' rumors reached it only after it
        // was Confirmed, and it waited `peer_fallback` (60 s) while the group, which wanted it as
        // leader, waited for it (`warren local bench` failovers of 59 s on 2026-12-07).
        let alive_peer = alive_peer || self.peer_answered;
        // A member that reached the ring learns the ring's members from it, so it knows at least
        // half of the addresses it was given (whatever their health; half, so that one peer
        // address that is not a member yet does not hold up a member given two). One that
        // reached only another newcomer (both started cut off from the ring) knows few of them:
        // the two are not the ring, and would make up a group of themselves.
        let half_known = || {
            let known: HashSet<std::net::SocketAddr> =
                cx.members.iter().map(|r| r.member.swim_addr()).collect();
            2 * peers.iter().filter(|p| known.contains(p)).count() >= peers.len()
        };
        if cx.members.count(Health::Alive) == 0 {
            self.met_ring_at = None;
        } else if self.met_ring_at.is_none() {
            self.met_ring_at = Some(now);
        }
        let fallback = self
            .met_ring_at
            .is_some_and(|t| now >= t + cx.cfg.election.peer_fallback);
        let alone = peers.is_empty() && !self.peers_expected;
        // A member that expects peers has met the ring only once their rumors reach it too:
        // peers answer a restarted member over UDP at once, while their rumor pushers may take
        // seconds to reconnect, and a member that judged its groups in between would see only
        // itself (and what its rumor file held).
        let synced = !self.peers_expected
            || self
                .heard_rumors
                .is_some_and(|t| now >= t + cx.cfg.election.rumor_settle);
        self.met_peer = alone || (synced && ((alive_peer && half_known()) || fallback));
        self.met_peer
    }

    /// Re-judges the electorate of one of my groups from the member list.
    ///
    /// Under Warren's rules the judgement is kept while nothing it was made from has changed
    /// ([`ViewStamp`]): the member list, the Service rumors, whether I left, the committed
    /// electorate I hold, and the time, up to the first moment time alone changes it. Every
    /// received vote asks for the view, and in a group of N an election brings each member
    /// O(N) votes: judging N candidates each time made an election's cost grow as N² per member
    /// (a group of 100 spent most of its time here, `warren-sim election --nodes 100
    /// --group-size 100`). [`crate::election::Population::update`] gives the same electorate
    /// when called again with the same inputs, so keeping the judgement changes nothing else.
    pub(super) fn refresh_view(
        &mut self,
        cx: &mut ElectionCtx<'_>,
        kind: ElectionKind,
        sg: &str,
        now: Time,
    ) {
        let rules = cx.cfg.election.rules;
        let grace = cx.view().confirmed_grace();
        let settle = cx.cfg.election.settle;
        let met_ring = self.update_met_peer(cx, now);
        if let Some(e) = cx.view().election(sg, kind) {
            self.learn_committed(cx, kind, e, Seen::Stored);
        }
        let Some(g) = self.groups.get_mut(&(kind, sg.to_owned())) else {
            return;
        };
        let inputs = ViewInputs {
            members: cx.members.update_counter(),
            services: cx.store.service_changes(),
            left: cx.left,
            met_ring,
            grace,
        };
        if g.view_stamp
            .as_ref()
            .is_some_and(|s| s.inputs == inputs && s.until.is_none_or(|u| now < u))
        {
            return;
        }
        // The first moment time alone changes the judgement.
        let mut until: Option<Time> = None;
        let mut at = |t: Time| until = Some(until.map_or(t, |u| u.min(t)));
        let group: Vec<Candidate> = cx
            .store
            .services_in(sg)
            .map(|id| {
                if id == cx.me_id() {
                    let h = if cx.left {
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
                let c = match cx.members.get(id) {
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
                        for_how_long: cx
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
                };
                // A Confirmed member leaves the population once it has been Confirmed for `grace`.
                if c.health == Some(Health::Confirmed) && c.for_how_long < grace {
                    at(now + (grace - c.for_how_long));
                }
                c
            })
            .collect();
        let settled = if met_ring && now >= g.since + settle {
            Settled::Yes
        } else {
            if met_ring {
                at(g.since + settle);
            }
            Settled::No
        };
        let agreed = g.agreed.as_ref().map(|a| &a.voters);
        g.view = Arc::new(match rules {
            ElectionRules::Habitat => habitat_electorate(&group),
            ElectionRules::Warren => g.population.update(&group, grace, settled, agreed),
        });
        // Quorum lost or regained is reported once per change; a group that never had it is
        // reported once it has been joined for a while (start-up is not news).
        let quorum = g.view.quorum;
        let report = match (g.quorum_reported, quorum) {
            (Some(true), false) | (Some(false), true) => true,
            (None, false) => {
                at(g.since + QUORUM_REPORT_AFTER);
                now >= g.since + QUORUM_REPORT_AFTER
            }
            (None, true) => {
                g.quorum_reported = Some(true);
                false
            }
            _ => false,
        };
        if report && rules == ElectionRules::Warren {
            g.quorum_reported = Some(quorum);
            cx.events.push_back(Event::QuorumChanged {
                service_group: sg.to_owned(),
                kind,
                quorum,
            });
        }
        g.view_stamp = (rules == ElectionRules::Warren).then_some(ViewStamp { inputs, until });
    }

    /// Learns the committed electorate an election rumor of one of my groups shows: a finished
    /// result's voters, or the electorate an unfinished candidacy was stood under (a member that
    /// joined during a re-run never held the result before it). Only a newer one replaces the
    /// one held; at the same term, only the stored result (`Seen::Stored`, the merge's choice
    /// between two results of one term) replaces a carried one.
    fn learn_committed(
        &mut self,
        cx: &ElectionCtx<'_>,
        kind: ElectionKind,
        e: &Election,
        seen: Seen,
    ) {
        let warren = cx.cfg.election.rules == ElectionRules::Warren;
        let (term, voters, carried) = match (e.status, e.seal(), &e.committed) {
            // A result sealed by its winner: the electorate it finished with.
            (_, Some(seal), _) if warren => (e.term, &seal.voters, false),
            (ElectionStatus::Finished, _, _) => (e.term, &e.votes, false),
            (_, _, Some(c)) if warren => (c.term, &c.voters, true),
            _ => return,
        };
        let Some(g) = self.groups.get_mut(&(kind, e.service_group.clone())) else {
            return;
        };
        let replaces = |a: &Agreed| {
            term > a.term
                || (term == a.term
                    && !carried
                    && seen == Seen::Stored
                    && (a.voters.len() != voters.len()
                        || !voters.iter().all(|v| a.voters.contains(v))))
        };
        if g.agreed.as_ref().is_none_or(replaces) {
            g.set_agreed(Agreed {
                term,
                voters: voters.iter().cloned().collect(),
            });
        }
    }

    /// Stands as a candidate (Habitat's `start_election`); with [`Stored::Replace`], the stored
    /// election is dropped first so the new term is not merged away by an older, more suitable
    /// candidacy.
    ///
    /// Under Warren's rules a member votes only with quorum ([`Stand::WithQuorum`]): a candidacy
    /// is a vote, and votes are absorbed by whichever candidate wins a merge, so the votes of
    /// members that cannot judge the group could complete the election of a candidate whose view
    /// of the group is wrong. Restarts that step a leader down are made regardless.
    pub(super) fn begin(
        &mut self,
        cx: &mut ElectionCtx<'_>,
        kind: ElectionKind,
        sg: &str,
        c: Candidacy,
        now: Time,
    ) {
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
            && cx.cfg.election.rules == ElectionRules::Warren
        {
            if replace && cx.store.remove(&kind.key(sg)) {
                cx.events.push_back(Event::RumorChanged(kind.key(sg)));
            }
            return;
        }
        // The candidacy carries the committed electorate it is judged against, for members that
        // joined the group after that result (they never held it).
        let committed = match cx.cfg.election.rules {
            ElectionRules::Habitat => None,
            ElectionRules::Warren => self
                .groups
                .get(&(kind, sg.to_owned()))
                .and_then(|g| g.agreed.as_ref())
                .filter(|a| a.voters.len() <= crate::rumor::MAX_COMMITTED)
                .map(|a| Committed {
                    term: a.term,
                    voters: a.voters.iter().cloned().collect(),
                }),
        };
        let me = cx.me_id().clone();
        let mut e = Election {
            member_id: me.clone(),
            service_group: sg.to_owned(),
            term,
            suitability,
            status: if view.quorum {
                ElectionStatus::Running
            } else {
                ElectionStatus::NoQuorum
            },
            votes: vec![me.clone()],
            committed,
        };
        judge_and_seal(cx.cfg.election.rules, &me, &mut e, &view);
        if replace {
            cx.store.remove(&kind.key(sg));
        }
        if let Some(g) = self.groups.get_mut(&(kind, sg.to_owned())) {
            g.starts += 1;
        }
        let stood = self.stood.entry((kind, sg.to_owned())).or_insert(term);
        *stood = (*stood).max(term);
        cx.stats.elections_started += 1;
        let outcome = cx.store.merge(wrap(kind, e), now);
        self.election_changed(cx, kind, sg, outcome, now);
    }

    /// A received election rumor for a group this member belongs to (spec §6.4).
    pub(crate) fn handle_election(
        &mut self,
        cx: &mut ElectionCtx<'_>,
        kind: ElectionKind,
        mut r: Election,
        now: Time,
    ) -> Outcome {
        let sg = r.service_group.clone();
        let rules = cx.cfg.election.rules;
        let me = cx.me_id().clone();
        // A member of the group that does not run this election itself (Habitat: any service in
        // the group) still votes, with the default suitability.
        self.groups
            .entry((kind, sg.clone()))
            .or_insert_with(|| GroupElection::new(0, now));
        if rules == ElectionRules::Warren {
            // Whatever becomes of the rumor (my previous life's win is disowned below), the
            // electorate it shows is the group's.
            self.learn_committed(cx, kind, &r, Seen::Received);
        }
        self.refresh_view(cx, kind, &sg, now);
        if rules == ElectionRules::Warren
            && self.predates_result(kind, &r, cx.view().election(&sg, kind))
        {
            cx.stats.elections_ignored += 1;
            self.dirty = true;
            return Outcome::Unchanged;
        }
        let my_suitability = self.my_suitability(kind, &sg);
        if rules == ElectionRules::Warren && r.member_id == me && !self.stood_in(kind, &sg, r.term)
        {
            // My previous life's candidacy or win, relayed back by a peer: never mine to finish
            // or act on. I stand anew above it, with fresh votes, once I can judge the group.
            self.disown(cx, kind, &sg, r.term, now);
            return Outcome::Unchanged;
        }
        let stored = cx.view().election(&sg, kind).cloned();
        let leader = if stored.as_ref().is_some_and(|s| {
            s.member_id == me
                || cx.members.health(&s.member_id) == Some(Health::Alive)
                || cx.view().heard_recently(&s.member_id, now)
        }) {
            LeaderSeen::Alive
        } else {
            LeaderSeen::NotAlive
        };
        // The stored election is the held result's re-run when it continues that result
        // without being it.
        let rerun = if stored
            .as_ref()
            .is_some_and(|s| s.status != ElectionStatus::Finished)
            && self.acting_result(cx.view(), kind, &sg).is_some()
        {
            ReRun::OfHeldResult
        } else {
            ReRun::No
        };
        let mut held_across = None;
        match on_receive(
            rules,
            &me,
            stored.as_ref(),
            &r,
            my_suitability,
            leader,
            rerun,
        ) {
            OnReceive::Ignore => {
                cx.stats.elections_ignored += 1;
                return Outcome::Unchanged;
            }
            OnReceive::Adopt => {
                cx.store.remove(&kind.key(&sg));
            }
            OnReceive::StartThenMerge {
                stored,
                suitability,
            } => {
                let c = Candidacy {
                    term: r.term,
                    suitability,
                    stored,
                    stand: Stand::WithQuorum,
                };
                // Voting in the leader's re-run: my candidacy stands for a moment in place of the
                // result I hold (which drops it) until the re-run absorbs it.
                held_across = self
                    .groups
                    .get(&(kind, sg.clone()))
                    .and_then(|g| g.finished.clone());
                self.begin(cx, kind, &sg, c, now);
            }
            OnReceive::Merge => {}
        }
        let view = self.view_of(kind, &sg);
        judge_and_seal(rules, &me, &mut r, &view);
        let candidate = r.member_id.clone();
        let (r_term, r_finished) = (r.term, r.status == ElectionStatus::Finished);
        let outcome = cx.store.merge(wrap(kind, r), now);
        self.election_changed(cx, kind, &sg, outcome, now);
        self.keep_held_across_vote(cx, kind, &sg, held_across);
        if rules == ElectionRules::Warren {
            self.try_finish(cx, kind, &sg, now);
            // A candidate still campaigning for a term whose result we hold (or an older term)
            // learns the result from us at once, instead of at the next full sync.
            let behind = cx.view().election(&sg, kind).is_some_and(|s| {
                s.term > r_term
                    || (s.term == r_term && s.status == ElectionStatus::Finished && !r_finished)
            });
            // Election rumors do not say who relayed them, so the whole group hears the answer
            // (at most once per check interval).
            let due = self
                .groups
                .get(&(kind, sg.clone()))
                .is_some_and(|g| now >= g.next_reply);
            if behind && due {
                if candidate != me {
                    self.send_election(cx, kind, &sg, &candidate);
                }
                self.push_to_group(cx, kind, &sg, now);
                if let Some(g) = self.groups.get_mut(&(kind, sg.clone())) {
                    g.next_reply = now + cx.cfg.election.check_interval;
                }
            }
        }
        outcome
    }

    /// After voting in a received candidacy ([`OnReceive::StartThenMerge`]): the result I held
    /// before (`held`) is held again when the stored election continues it, which it does when
    /// the candidacy was its leader's re-run. Without this, a member that voted in its leader's
    /// re-run no longer knew the re-run as its leader's: it showed no leader until the re-run
    /// finished, and followed a rival's newer term while the leader still acted on its lease
    /// (run 218955 of `election-fuzz --partition-storm --churn`, with the probe order of a member
    /// back from Confirmed changed: two acting leaders for 0.2 s).
    fn keep_held_across_vote(
        &mut self,
        cx: &ElectionCtx<'_>,
        kind: ElectionKind,
        sg: &str,
        held: Option<HeldResult>,
    ) {
        let Some(h) = held else {
            return;
        };
        let stored = cx.view().election(sg, kind);
        if let Some(g) = self.groups.get_mut(&(kind, sg.to_owned()))
            && g.finished.is_none()
            && stored.is_some_and(|e| continues(&h, e))
        {
            g.finished = Some(h);
        }
    }

    /// Warren: a candidacy or result naming me at `term` that I did not stand in (my previous
    /// life's): it is dropped and I stand at the next term as an ordinary candidate, once I
    /// have quorum (until then I hold nothing and follow whatever newer result arrives).
    fn disown(
        &mut self,
        cx: &mut ElectionCtx<'_>,
        kind: ElectionKind,
        sg: &str,
        term: u64,
        now: Time,
    ) {
        let c = Candidacy {
            term: term.saturating_add(1),
            suitability: match kind {
                ElectionKind::Update => 0,
                ElectionKind::Leader => self.my_suitability(kind, sg),
            },
            stored: Stored::Replace,
            stand: Stand::Regardless,
        };
        let stored_term = cx.view().election(sg, kind).map(|e| e.term);
        if stored_term.is_some_and(|t| t > term) {
            // What I hold is newer already.
            return;
        }
        self.begin(cx, kind, sg, c, now);
    }

    /// Warren: finishes my own stored candidacy once it holds every vote and quorum, and keeps its
    /// status in line with my quorum.
    fn try_finish(&mut self, cx: &mut ElectionCtx<'_>, kind: ElectionKind, sg: &str, now: Time) {
        let view = self.view_of(kind, sg);
        let Some(s) = cx.view().election(sg, kind) else {
            return;
        };
        if s.member_id != cx.me.id || s.status == ElectionStatus::Finished {
            return;
        }
        if !self.stood_in(kind, sg, s.term) {
            return;
        }
        let mut e = s.clone();
        let status = s.status;
        judge_and_seal(cx.cfg.election.rules, &cx.me.id, &mut e, &view);
        if e.status == ElectionStatus::Running && !view.quorum {
            e.status = ElectionStatus::NoQuorum;
        } else if e.status == ElectionStatus::NoQuorum && view.quorum {
            e.status = ElectionStatus::Running;
        }
        if e.status != status {
            cx.store.set(wrap(kind, e), now);
            self.election_changed(cx, kind, sg, Outcome::Changed, now);
        }
    }

    /// Restarts, finishes and re-sends the elections this member takes part in. Warren runs this
    /// after every input that changed a member or a group; Habitat's rules run it once a second.
    pub(super) fn run(&mut self, cx: &mut ElectionCtx<'_>, now: Time) {
        self.dirty = false;
        if cx.left || self.groups.is_empty() {
            return;
        }
        let rules = cx.cfg.election.rules;
        let keys: Vec<(ElectionKind, String)> = self.groups.keys().cloned().collect();
        let interval = cx.cfg.election.check_interval;
        for (kind, sg) in keys {
            let due = match self.groups.get_mut(&(kind, sg.clone())) {
                Some(g) if now >= g.next_check => {
                    g.next_check = now + interval;
                    true
                }
                _ => false,
            };
            if !cx.view().in_group(&sg) {
                continue;
            }
            self.refresh_view(cx, kind, &sg, now);
            let view = self.view_of(kind, &sg);
            let Some(s) = cx.view().election(&sg, kind).cloned() else {
                let c = Candidacy {
                    term: self.fresh_term(cx, kind, &sg),
                    suitability: self.my_suitability(kind, &sg),
                    stored: Stored::Keep,
                    stand: Stand::WithQuorum,
                };
                self.begin(cx, kind, &sg, c, now);
                continue;
            };
            let me = cx.me_id().clone();
            if rules == ElectionRules::Warren
                && s.member_id == me
                && !self.stood_in(kind, &sg, s.term)
            {
                self.disown(cx, kind, &sg, s.term, now);
                continue;
            }
            let rv = cx.view();
            let health = |id: &MemberId| {
                if *id == me {
                    Some(Health::Alive)
                } else if rv.withdrew(&sg, id) {
                    // A member that unloaded the service has left the group as surely as one
                    // that departed the ring.
                    Some(Health::Departed)
                } else {
                    match rv.members.health(id) {
                        // Heard from it directly within the follower guard: whatever others say,
                        // it may still be acting on its lease.
                        Some(Health::Confirmed) if rv.heard_recently(id, now) => {
                            Some(Health::Suspect)
                        }
                        h => h,
                    }
                }
            };
            let g = self.groups.get(&(kind, sg.clone()));
            let agreed = g.and_then(|g| g.agreed.as_ref().map(|a| &a.voters));
            // The lease counts once the result could be acted on (by then the keep-alive pings
            // sent when it finished have been answered).
            let acting = g
                .and_then(|g| g.finished.as_ref())
                .is_some_and(|h| now >= h.since + rv.cfg.election.confirm);
            let lease = if acting {
                self.lease(rv, kind, &sg, now)
            } else {
                Lease::Held
            };
            // A leader re-running its own result keeps acting on it, so it steps down from the
            // re-run as it would from the result.
            let rerun = rules == ElectionRules::Warren
                && s.member_id == me
                && s.status != ElectionStatus::Finished
                && self.acting_result(rv, kind, &sg).is_some();
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
                    ElectionKind::Leader if s.member_id == me && !why.steps_down() => {
                        RERUN_SUITABILITY
                    }
                    ElectionKind::Leader => self.my_suitability(kind, &sg),
                };
                cx.stats.elections_restarted += 1;
                if why == Restart::LeaseLost {
                    cx.stats.leases_lost += 1;
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
                self.begin(cx, kind, &sg, c, now);
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
                self.begin(cx, kind, &sg, c, now);
            }
            if rules == ElectionRules::Warren {
                self.try_finish(cx, kind, &sg, now);
            }
            let unfinished = cx
                .view()
                .election(&sg, kind)
                .is_some_and(|e| e.status != ElectionStatus::Finished);
            if due && unfinished {
                self.push_to_group(cx, kind, &sg, now);
            }
        }
    }
}

/// [`judge_status`], and under Warren's rules, when it finishes my own candidacy, the seal: the
/// result carries its voters as the committed electorate of its own term (the
/// `warren:committed:<t>:...` tag, replacing the older electorate the candidacy carried), and
/// [`Elections`] learns `V_t` from that seal rather than from the votes. The voters are
/// [`sealed_voters`]: the last result's, changed by one member at most, or for a group's first
/// result the electorate it finished with (`view`: every Alive member I count, each of whom
/// voted). Not every id in the votes, which say less than they seem:
///
/// - Habitat's merge keeps absorbing votes into a Finished rumor (a stale candidacy of the same
///   term, heard late), and differently on each side of a split: a side that absorbed more would
///   count a majority of an electorate the other side never had, and each side could elect a
///   leader with "quorum" (`warren-sim election-fuzz --partition-storm`, seed 4583, with a wider
///   join budget).
/// - A member outside the group merges my re-run at term t + 1 into the result of term t it
///   relays and hands the new candidacy all of term t's votes, the dead voters' too (spec §6.3,
///   rule 5). A dead member sealed into `V_{t+1}` counts against its majority until it departs:
///   one more death then strands the group (`warren-sim replace --group-size 3 --seconds 5
///   --seed 4`, with the wider join budget).
///
/// A result is sealed once, when it finishes (a copy of it judged again keeps the first seal);
/// a group larger than [`MAX_COMMITTED`] is not sealed and is judged by its votes, as before.
///
/// [`MAX_COMMITTED`]: crate::rumor::MAX_COMMITTED
fn judge_and_seal(rules: ElectionRules, me: &MemberId, e: &mut Election, view: &Electorate) {
    let before = e.status;
    judge_status(me, e, view);
    if rules != ElectionRules::Warren
        || e.member_id != *me
        || before == ElectionStatus::Finished
        || e.status != ElectionStatus::Finished
    {
        return;
    }
    let voters = sealed_voters(&e.votes, view);
    if voters.len() > crate::rumor::MAX_COMMITTED {
        return;
    }
    e.committed = Some(Committed {
        term: e.term,
        voters,
    });
}
