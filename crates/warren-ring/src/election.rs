//! Elections: the rules that decide who leads a service group, as pure functions and small
//! per-group state.
//!
//! Habitat runs two elections per service group with one shape (spec §6): the topology leader
//! ([`ElectionKind::Leader`], rumor type Election) and the rolling-update leader
//! ([`ElectionKind::Update`], rumor type ElectionUpdate). Rumors and their merge stay exactly
//! Habitat's (`rumor::merge_election`), so Habitat peers in a group agree with Warren peers. What
//! Warren changes is local judgement, selected by [`ElectionRules`]:
//!
//! | Habitat | Warren |
//! |---|---|
//! | population = every member with a Service rumor that is Alive, Suspect or Confirmed | a remembered population: Departed members leave it at once, members Confirmed longer than a grace leave it, new Alive members join it, and both changes need quorum of the population as it stands (Raft's rule for membership changes), so a minority never shrinks its way into quorum |
//! | a higher term from anyone but the old winner is ignored | a higher term is adopted from anyone (a Finished one is taken as is) |
//! | the leader's death, or not knowing the leader, restarts a finished election | only its death (Confirmed or Departed) does, and also the death of the candidate of an unfinished one |
//! | a candidate finishes when its own rumor comes back with every vote | also when the merged value it stores is its own with every vote (one hop sooner) |
//! | a lone member that has peers to join may elect itself before meeting them, and members loading a service together may each elect themselves | no quorum before it has met a peer and has been in the group for a settling time |
//! | changes wait for the next gossip round | changes are pushed to the group's members at once and re-sent while unfinished |
//! | a leader acts for as long as it holds a Finished result | a leader acts only while its lease holds (it heard from a quorum within `Config::leader_lease`), and a member that heard from its leader within `Config::follower_guard` does not replace it |
//! | a restarted member reloads its own candidacy or win from its rumor file | a member never finishes or acts on a candidacy it did not stand in during this life (`Elections::stood`, kept across unloads) |
//! | Confirmed members count for 72 h whatever else is known | without a finished result to go by, dead members stay and quorum needs everyone; with one, the population changes by quorum against its voters |
//! | every member with a Service rumor counts | with a committed electorate (the voters of the newest result known, or the one a candidacy carries in the `warren:committed` envelope tag), a dead member counts only if it is a voter, and departed voters leave it |
//! | a leader re-running its own result stops acting | the result stands through the leader's re-run (same candidate, next term, highest suitability) |
//!
//! This module holds no rumors and sends nothing: the elections component (`crate::elections`)
//! applies these decisions to what the ring knows.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use crate::member::{Health, MemberId};
use crate::rumor::{Election, RumorKey};
use crate::time::Time;

/// Which of a group's two elections.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ElectionKind {
    /// The topology leader (`--topology leader`; rumor type Election).
    Leader,
    /// The rolling-update leader (`--strategy rolling`; rumor type ElectionUpdate).
    Update,
}

impl ElectionKind {
    /// The store key of this kind of election for `service_group`.
    pub fn key(self, service_group: &str) -> RumorKey {
        match self {
            ElectionKind::Leader => RumorKey::Election(service_group.to_owned()),
            ElectionKind::Update => RumorKey::ElectionUpdate(service_group.to_owned()),
        }
    }
}

/// Whose judgement the local member applies (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElectionRules {
    /// Habitat 2.x's rules, for comparison and for the `habitat` profile.
    Habitat,
    /// Habitat's rules with Warren's liveness and safety fixes.
    Warren,
}

/// How this member takes part in elections.
#[derive(Clone, Debug)]
pub struct ElectionConfig {
    /// Habitat's or Warren's judgement.
    pub rules: ElectionRules,
    /// Warren: a member Confirmed this long leaves the population (quorum permitting). `None`
    /// means the suspicion maximum for the current ring size.
    pub confirmed_grace: Option<Duration>,
    /// Warren: an unfinished election of one of my groups is re-sent to the group this often, and
    /// restart conditions are checked at least this often (Habitat: every second).
    pub check_interval: Duration,
    /// Warren: at most this many members of a group get an election change pushed directly.
    pub direct_fanout: usize,
    /// Warren: a member judges no quorum for this long after it joins a group, so that it has
    /// heard of the group's other members before it can count them (members that load a service
    /// at the same moment would otherwise each see a group of one and all finish).
    pub settle: Duration,
    /// Warren: a member whose peer addresses never turn out to be members (a virtual IP in front
    /// of the ring) counts as having joined after knowing an Alive member this long.
    pub peer_fallback: Duration,
    /// Warren: a finished election's leader acts as leader only once the result has stood this
    /// long, time for a competing result of the same term (possible when views of who is alive
    /// disagree for a moment) to arrive and be resolved by the merge's tie-break.
    pub confirm: Duration,
    /// Warren: each member of a group probes the group's leader at least this often, besides
    /// SWIM's round-robin.
    pub leader_probe_interval: Duration,
    /// Warren: a member given peers judges no quorum until this long after their rumors first
    /// reached it: each peer's rumor pusher reconnects on its own back-off (up to 5 s in
    /// `warren-zmtp`), so one peer's rumors can arrive well before the full sync of another.
    pub rumor_settle: Duration,
    /// Warren: the leader's lease. A leader acts only while it has heard directly (a datagram)
    /// from a quorum of its group within this time, and steps down when it has not. `None`
    /// derives it from the ring's timings ([`crate::Config::leader_lease`]): strictly less than
    /// the earliest moment the rest of the group could finish an election without it.
    pub lease: Option<Duration>,
}

impl Default for ElectionConfig {
    fn default() -> Self {
        ElectionConfig {
            rules: ElectionRules::Warren,
            confirmed_grace: None,
            check_interval: Duration::from_secs(1),
            direct_fanout: 16,
            settle: Duration::from_secs(2),
            peer_fallback: Duration::from_secs(60),
            confirm: Duration::from_millis(800),
            leader_probe_interval: Duration::from_secs(2),
            rumor_settle: Duration::from_secs(5),
            lease: None,
        }
    }
}

/// The last finished result of one election this member takes part in: the population the group
/// agreed on. Warren keeps it across restarts (next to the rumor file), so a restarted member
/// judges quorum against it rather than against what it happens to hear first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgreedResult {
    /// Which election.
    pub kind: ElectionKind,
    /// The group.
    pub service_group: String,
    /// The result's term.
    pub term: u64,
    /// Its voters.
    pub voters: Vec<MemberId>,
}

/// How one member sees the voters of a group.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Electorate {
    /// Members whose votes count toward quorum.
    pub population: BTreeSet<MemberId>,
    /// The Alive part of the population: every one of them must vote for a candidate to finish.
    pub electorate: BTreeSet<MemberId>,
    /// Whether the electorate is a strict majority of the population (and, under Warren's rules,
    /// this member has met the ring).
    pub quorum: bool,
    /// Warren: the voters of the last finished election this member holds (empty: none).
    pub agreed: BTreeSet<MemberId>,
}

impl Electorate {
    /// Whether `votes` let a candidate finish: every member of the electorate voted and, under
    /// Warren's rules, so did a majority of the last result's voters. The second condition is
    /// Raft's joint consensus: two results in a row share a voter, so a side of a partition that
    /// missed the newest result cannot elect from the older one alone.
    pub fn all_voted(&self, votes: &[MemberId]) -> bool {
        let agreed = self.agreed.is_empty() || {
            let n = self.agreed.iter().filter(|id| votes.contains(id)).count();
            has_quorum(n, self.agreed.len())
        };
        agreed && self.electorate.iter().all(|id| votes.contains(id))
    }
}

/// Why a group this member belongs to has no quorum (Warren), in terms an operator can act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuorumGap {
    /// Whether this member has met the ring it was told to join (until then it judges no
    /// quorum anywhere, whoever else is alive).
    pub met_ring: bool,
    /// Members it counts, Alive.
    pub alive: usize,
    /// Members it counts (the population, and the voters of the last result).
    pub counted: usize,
    /// The members it counts that are not Alive, longest gone first.
    pub missing: Vec<MissingVoter>,
}

impl std::fmt::Display for QuorumGap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.met_ring {
            return write!(
                f,
                "this member has not met its ring yet: none of its peers answered, or their \
                 rumors have not arrived"
            );
        }
        write!(
            f,
            "{} of {} members counted are alive",
            self.alive, self.counted
        )?;
        if self.missing.is_empty() {
            return Ok(());
        }
        write!(f, "; missing: ")?;
        for (i, m) in self.missing.iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            match m.health {
                Some(h) => write!(f, "{} ({h:?} for {} s)", m.id, m.for_how_long.as_secs())?,
                None => write!(f, "{} (unknown to this member)", m.id)?,
            }
        }
        write!(
            f,
            "; members gone for good leave the count once departed (`warren sup depart MEMBER`)"
        )
    }
}

/// A member a group's quorum waits for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MissingVoter {
    /// The member.
    pub id: MemberId,
    /// Its health (`None`: only its Service rumor is known).
    pub health: Option<Health>,
    /// How long it has had that health, as far as this member knows.
    pub for_how_long: Duration,
}

/// A member of a group as the ring holds it: its health (`None` when the member is unknown) and
/// for how long it has had that health.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// The member.
    pub id: MemberId,
    /// Its health, if known.
    pub health: Option<Health>,
    /// How long it has had that health.
    pub for_how_long: Duration,
}

/// Strict majority, Habitat's way: `electorate > population / 2` with integer division.
pub fn has_quorum(electorate: usize, population: usize) -> bool {
    electorate > population / 2
}

/// Habitat's electorate: population = Alive, Suspect or Confirmed owners of a Service rumor;
/// electorate = the Alive ones.
pub fn habitat_electorate(group: &[Candidate]) -> Electorate {
    let mut e = Electorate::default();
    for c in group {
        match c.health {
            Some(Health::Alive) => {
                e.population.insert(c.id.clone());
                e.electorate.insert(c.id.clone());
            }
            Some(Health::Suspect | Health::Confirmed) => {
                e.population.insert(c.id.clone());
            }
            Some(Health::Departed) | None => {}
        }
    }
    e.quorum = has_quorum(e.electorate.len(), e.population.len());
    e
}

/// Whether this member has met its ring and settled in a group ([`Population::update`]): until
/// then what it knows of the group is still arriving, and it judges no quorum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Settled {
    /// Not yet: the population is everything heard of, and there is no quorum.
    No,
    /// Met the ring and in the group for the settling time.
    Yes,
}

/// Warren's remembered population of one group, updated by [`Population::update`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Population {
    members: BTreeSet<MemberId>,
    /// Members that left by quorum while dead: they come back only by being Alive.
    removed: BTreeSet<MemberId>,
    initialized: bool,
}

impl Population {
    /// The members counted now.
    pub fn members(&self) -> &BTreeSet<MemberId> {
        &self.members
    }

    /// Folds the current view of the group into the population and returns the electorate.
    ///
    /// Departed members leave at once: a departure is explicit (a graceful leave, a `sup depart`,
    /// or a Confirmed member expiring) and agreed by the whole ring. A member heard of for the
    /// first time that is not Alive joins at once: it only makes quorum harder. Every other change
    /// needs quorum of the population as it stands: members Confirmed longer than `grace` leave
    /// (and stay out until they are Alive again), and new Alive members join. Both keep quorum
    /// once it holds, and neither can create it, so a minority partition keeps reporting NoQuorum
    /// however long it lasts (until its view of the others expires to Departed,
    /// `Config::departure_timeout`).
    ///
    /// Until [`Settled::Yes`] (this member has met the ring and settled in the group) the
    /// population is re-seeded on every call with every member not Departed. `agreed` is the voters of the last
    /// finished election: when given, quorum also needs a majority of them Alive.
    pub fn update(
        &mut self,
        group: &[Candidate],
        grace: Duration,
        settled: Settled,
        agreed: Option<&BTreeSet<MemberId>>,
    ) -> Electorate {
        let joined = settled == Settled::Yes;
        let health: BTreeMap<&MemberId, &Candidate> = group.iter().map(|c| (&c.id, c)).collect();
        let present = |c: &Candidate| matches!(c.health, Some(h) if h != Health::Departed);
        // A departure is explicit and ring-wide (a graceful leave, `sup depart`, or the
        // departure timeout): a departed voter no longer counts in the committed electorate
        // either, which is how an operator restores a group that lost a majority at once.
        let departed = |id: &MemberId| {
            health
                .get(id)
                .is_some_and(|c| c.health == Some(Health::Departed))
        };
        let agreed: Option<BTreeSet<MemberId>> = agreed
            .map(|v| v.iter().filter(|id| !departed(id)).cloned().collect())
            .filter(|v: &BTreeSet<MemberId>| !v.is_empty());
        let agreed = agreed.as_ref();
        // With a committed electorate, a member that is not Alive counts only if that electorate
        // holds it: the result says who the group was, and a dead member heard of besides (an
        // older member whose Service rumor outlives it, or one that joined and died since) can
        // only be a voter again by coming back. Without one, everything heard of counts.
        let counts = |c: &Candidate| {
            present(c)
                && (c.health == Some(Health::Alive) || agreed.is_none_or(|v| v.contains(&c.id)))
        };
        if !self.initialized || !joined {
            // Until this member has met the ring and settled, what it knows of the group is still
            // arriving: the population is simply everything it has heard of that counts.
            self.initialized = true;
            self.removed.clear();
            self.members = group
                .iter()
                .filter(|c| counts(c))
                .map(|c| c.id.clone())
                .collect();
        }
        self.members
            .retain(|id| health.get(id).is_some_and(|c| present(c)));
        self.removed
            .retain(|id| health.get(id).is_some_and(|c| present(c)));
        for c in group {
            let newcomer = !self.members.contains(&c.id) && !self.removed.contains(&c.id);
            if newcomer && counts(c) && c.health != Some(Health::Alive) {
                self.members.insert(c.id.clone());
            }
        }
        let alive = |id: &MemberId| {
            health
                .get(id)
                .is_some_and(|c| c.health == Some(Health::Alive))
        };
        let alive_count = self.members.iter().filter(|id| alive(id)).count();
        // Without a finished result to go by (the group's first election, or a member that has
        // not learnt the last result yet), nothing committed says who the group is: dead
        // members stay in the population (only a departure takes them out) and quorum needs
        // every member of it. Otherwise a member that restarted without its state, with
        // newcomers on the same side of a split, could shrink the group it knows of into a
        // majority of its own while the rest of the group elects on the other side.
        let committed = agreed.is_some();
        if committed && has_quorum(alive_count, self.members.len()) {
            let leaving: Vec<MemberId> = self
                .members
                .iter()
                .filter(|id| {
                    health.get(id).is_some_and(|c| {
                        c.health == Some(Health::Confirmed) && c.for_how_long >= grace
                    })
                })
                .cloned()
                .collect();
            for id in leaving {
                self.members.remove(&id);
                self.removed.insert(id);
            }
            for c in group {
                if c.health == Some(Health::Alive) {
                    self.removed.remove(&c.id);
                    self.members.insert(c.id.clone());
                }
            }
        }
        let electorate: BTreeSet<MemberId> = self
            .members
            .iter()
            .filter(|id| alive(id))
            .cloned()
            .collect();
        // The voters of the last finished election are a population every holder of that result
        // agrees on, where the remembered population is only this member's. Quorum needs a
        // majority of both: two sides of a partition that hold the same result cannot both have
        // one, whatever each side has since forgotten.
        let agreed_quorum = agreed.is_none_or(|v| {
            let live = v.iter().filter(|id| alive(id)).count();
            has_quorum(live, v.len())
        });
        let enough = if committed {
            has_quorum(electorate.len(), self.members.len())
        } else {
            electorate.len() == self.members.len()
        };
        Electorate {
            quorum: joined && agreed_quorum && enough,
            population: self.members.clone(),
            electorate,
            agreed: agreed.cloned().unwrap_or_default(),
        }
    }
}

/// Whether a new candidacy replaces the stored election first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stored {
    /// Merge the candidacy into what is stored.
    Keep,
    /// Drop the stored election first (it is of an older term and would win the merge).
    Replace,
}

/// Whether the candidate of the stored election is alive to this member (Alive in its member
/// list, or heard from directly within the follower guard), as [`on_receive`] weighs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaderSeen {
    /// Alive, or heard from lately.
    Alive,
    /// Neither (or nothing is stored).
    NotAlive,
}

/// Whether the stored election is the leader's re-run of the result this member holds (the
/// result's leader, one term up, standing with [`RERUN_SUITABILITY`]), as [`on_receive`] weighs
/// it: the leader still acts on its lease while it re-runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReRun {
    /// The stored election continues the held result.
    OfHeldResult,
    /// Anything else (or nothing is held).
    No,
}

/// The suitability a leader stands with when it re-runs its own result (to commit a change of
/// the group's electorate, or to answer a member that started a term without it): above any
/// other member's, so it wins the re-run and the group keeps its leader.
pub const RERUN_SUITABILITY: u64 = u64::MAX;

/// What to do with an election rumor received for a group this member belongs to, before it is
/// merged (spec §6.4, and Warren's change to it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OnReceive {
    /// Merge it as it is (after its status is judged, see [`judge_status`]).
    Merge,
    /// Start my own candidacy at the received term first (suitability given), then merge it.
    StartThenMerge {
        /// Whether the stored election is dropped first (it is of an older term).
        stored: Stored,
        /// The suitability of my new candidacy.
        suitability: u64,
    },
    /// Drop the stored election (of an older term) and store the received Finished one.
    Adopt,
    /// Ignore it entirely (Habitat: a newer term from someone who neither won nor ran before).
    Ignore,
}

/// Decides how a received election `r` meets the stored `s` (spec §6.4). `leader` says whether
/// the stored election's candidate is alive to this member, `rerun` whether the stored election
/// is the leader's re-run of the result this member holds.
pub fn on_receive(
    rules: ElectionRules,
    me: &MemberId,
    stored: Option<&Election>,
    r: &Election,
    my_suitability: u64,
    leader: LeaderSeen,
    rerun: ReRun,
) -> OnReceive {
    use crate::rumor::ElectionStatus::Finished;
    let Some(s) = stored else {
        return OnReceive::StartThenMerge {
            stored: Stored::Keep,
            suitability: my_suitability,
        };
    };
    if r.term <= s.term {
        return OnReceive::Merge;
    }
    // Habitat: "I was the winner" whenever the stored candidate is me; Warren: only when I had
    // actually won (a member's own unfinished candidacy is no reason to stand with the highest
    // suitability).
    // (A win with my own vote alone, in a group I did not know yet, is no reason either.)
    let i_won = s.member_id == *me
        && (rules == ElectionRules::Habitat || (s.status == Finished && s.votes.len() > 1));
    let suitability = if i_won {
        RERUN_SUITABILITY
    } else {
        my_suitability
    };
    match rules {
        ElectionRules::Habitat => {
            if i_won || r.member_id == s.member_id {
                OnReceive::StartThenMerge {
                    stored: Stored::Replace,
                    suitability,
                }
            } else {
                OnReceive::Ignore
            }
        }
        ElectionRules::Warren => {
            if r.status == Finished {
                OnReceive::Adopt
            } else if (s.status == Finished || (rerun == ReRun::OfHeldResult && s.member_id != *me))
                && !i_won
                && leader == LeaderSeen::Alive
                && r.member_id != s.member_id
                && !r.votes.contains(&s.member_id)
            {
                // Someone who believes our leader is gone started a new term. While the leader
                // is Alive to us and has not voted in the new term, we do not follow (a member
                // with a stale view must not pull the group into a term it can win without the
                // leader's vote); the leader itself re-runs in the new term with the highest
                // suitability and we follow it then, and if the leader is really gone we restart
                // on our own when we see it. The same holds while the stored election is the
                // leader's re-run of the result we hold: the leader still acts on its lease
                // (run 218955 of `election-fuzz --partition-storm --churn`: followers that voted
                // in a rival's newer term during the re-run made a second acting leader).
                OnReceive::Ignore
            } else {
                OnReceive::StartThenMerge {
                    stored: Stored::Replace,
                    suitability,
                }
            }
        }
    }
}

/// The status a member gives a received election before merging it (spec §6.4): the candidate
/// finishes its own with quorum and every vote; anyone else marks an unfinished election Running
/// or NoQuorum by its own view.
pub fn judge_status(me: &MemberId, r: &mut Election, view: &Electorate) {
    use crate::rumor::ElectionStatus::{Finished, NoQuorum, Running};
    if r.member_id == *me {
        if !view.quorum {
            r.status = NoQuorum;
        } else if view.all_voted(&r.votes) {
            r.status = Finished;
        }
    } else if r.status != Finished {
        r.status = if view.quorum { Running } else { NoQuorum };
    }
}

/// Why an election has to start again (spec §6.5 and Warren's additions).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Restart {
    /// I lead a finished election but lost quorum.
    LeaderLostQuorum,
    /// The finished election's leader is Confirmed or Departed (Habitat: or unknown).
    LeaderGone,
    /// Warren: the candidate of an unfinished election is Confirmed or Departed, so it can never
    /// finish it.
    CandidateGone,
    /// Warren: I lead, and the population is no longer the one that elected me (see
    /// [`population_changed`]).
    PopulationChanged,
    /// Warren: I lead, but have not heard from a quorum of the group within the lease: the rest
    /// of the group may be about to elect another leader, so I stop first.
    LeaseLost,
}

impl Restart {
    /// Whether the restart steps this member down as leader: it stands again only as an ordinary
    /// candidate (its own suitability), and whether or not it has quorum, so that its old win can
    /// neither be acted on nor finished again; it leads again only by winning the new term.
    pub fn steps_down(self) -> bool {
        matches!(self, Restart::LeaderLostQuorum | Restart::LeaseLost)
    }
}

/// Whether a leader's lease holds: it heard from a quorum of its group recently enough.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lease {
    /// Heard from a quorum within the lease (or not leading, or Habitat's rules).
    Held,
    /// Not heard from a quorum within the lease.
    Lost,
}

/// A Finished result this member holds for one of its groups, and since when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldResult {
    /// The result's term.
    pub term: u64,
    /// Its leader.
    pub leader: MemberId,
    /// When this member first held it.
    pub since: Time,
    /// Whether the moment it may act on it (`ElectionConfig::confirm` later) was announced.
    pub announced: bool,
}

/// Whether the stored election `s` must restart at `s.term + 1`. `health` gives the health of a
/// member id (this member is Alive).
pub fn restart_needed(
    rules: ElectionRules,
    me: &MemberId,
    s: &Election,
    view: &Electorate,
    agreed: Option<&BTreeSet<MemberId>>,
    lease: Lease,
    health: impl Fn(&MemberId) -> Option<Health>,
) -> Option<Restart> {
    use crate::rumor::ElectionStatus::Finished;
    // Habitat also restarts when the leader is unknown; a member that has just (re)joined then
    // restarts a healthy group's election before it has heard of the leader (#5188). Warren waits
    // to know the leader: a dead one is Confirmed or Departed everywhere soon enough.
    let gone = |h: Option<Health>| match rules {
        ElectionRules::Habitat => !matches!(h, Some(Health::Alive | Health::Suspect)),
        ElectionRules::Warren => matches!(h, Some(Health::Confirmed | Health::Departed)),
    };
    if s.status == Finished {
        if s.member_id == *me && !view.quorum {
            return Some(Restart::LeaderLostQuorum);
        }
        if rules == ElectionRules::Warren && s.member_id == *me && lease == Lease::Lost {
            return Some(Restart::LeaseLost);
        }
        if s.member_id != *me && gone(health(&s.member_id)) {
            return Some(Restart::LeaderGone);
        }
        if rules == ElectionRules::Warren
            && s.member_id == *me
            && agreed.is_some_and(|v| population_changed(v, view))
        {
            return Some(Restart::PopulationChanged);
        }
        return None;
    }
    if rules == ElectionRules::Warren
        && s.member_id != *me
        && matches!(
            health(&s.member_id),
            Some(Health::Confirmed | Health::Departed)
        )
    {
        return Some(Restart::CandidateGone);
    }
    None
}

/// Whether the leader should run a new term to make the population agreed again: a member of the
/// last result's voters has left the population (Confirmed past the grace, or Departed), or an
/// Alive member of the population did not vote in it. The old leader stands with the highest
/// suitability and wins again; the new voters become the agreed population.
pub fn population_changed(agreed: &BTreeSet<MemberId>, view: &Electorate) -> bool {
    agreed.iter().any(|id| !view.population.contains(id))
        || view.electorate.iter().any(|id| !agreed.contains(id))
}

/// The voters a winner seals into its result (Warren), from the `votes` it finished with and
/// its `view` of the group then: the committed electorate of the next term.
///
/// Without a committed electorate to go from (the group's first result), every Alive member it
/// counted, each of whom voted. Otherwise the last result's voters, changed by **one member at
/// most** (Raft's single-server change): a voter that has left the population (Confirmed past
/// the grace, quorum permitting) goes first; else one Alive voter that is new to it comes in.
/// Any majority of the one then meets any majority of the other, so a split right after the
/// result cannot give each side a majority of one of them. The leader re-runs for each further
/// change ([`population_changed`]).
///
/// A voter that is merely unreachable when the result finishes (Suspect, or Confirmed within the
/// grace) stays: otherwise one result could drop it and take in a newcomer, and the two
/// electorates' majorities need not meet (`warren-sim election-fuzz --runs 1 --seed 7251` with
/// the verdict change of BENCHMARKS.md: [0 1 3] became [1 3 5] while member 0 was cut off, and
/// after the split {0, 3} and {1, 5} each elected a leader).
pub fn sealed_voters(votes: &[MemberId], view: &Electorate) -> Vec<MemberId> {
    let mut finished_with = votes.iter().filter(|v| view.electorate.contains(*v));
    if view.agreed.is_empty() {
        return finished_with.cloned().collect();
    }
    let mut sealed = view.agreed.clone();
    let gone = view.agreed.iter().find(|v| !view.population.contains(*v));
    let new = finished_with.find(|v| !view.agreed.contains(*v));
    match (gone, new) {
        (Some(gone), _) => {
            sealed.remove(gone);
        }
        (None, Some(new)) => {
            sealed.insert(new.clone());
        }
        (None, None) => {}
    }
    sealed.into_iter().collect()
}

/// A committed electorate: the voters of a Finished result, and its term.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Agreed {
    /// The result's term.
    pub term: u64,
    /// Who voted for it.
    pub voters: BTreeSet<MemberId>,
}

/// What a member's judgement of a group's electorate was made from, apart from the committed
/// electorate it holds (a change of that drops the stamp) and the time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ViewInputs {
    /// The member list's [`crate::members::MemberList::update_counter`].
    pub members: u64,
    /// The rumor store's [`crate::store::RumorStore::service_changes`].
    pub services: u64,
    /// Whether this member left the ring.
    pub left: bool,
    /// Whether this member has met its ring.
    pub met_ring: bool,
    /// How long a Confirmed member keeps counting.
    pub grace: Duration,
}

/// A judgement of a group's electorate that may be kept: made from `inputs`, and holding until
/// `until` (`None`: until an input changes), the first moment time alone would change it (a
/// Confirmed member's grace running out, this member settling in the group, a lack of quorum
/// becoming news).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ViewStamp {
    /// What the judgement was made from.
    pub inputs: ViewInputs,
    /// When time alone changes it.
    pub until: Option<Time>,
}

/// This member's part in one election of one group.
#[derive(Clone, Debug)]
pub struct GroupElection {
    /// My suitability (the `suitability` hook's value; 0 without one).
    pub suitability: u64,
    /// Warren's remembered population.
    pub population: Population,
    /// The electorate as last judged (shared: every step of judging a received vote reads it).
    pub view: Arc<Electorate>,
    /// What [`GroupElection::view`] was judged from, while it may be kept (Warren's rules).
    pub view_stamp: Option<ViewStamp>,
    /// When the election is next re-sent and re-checked.
    pub next_check: Time,
    /// Elections this member started (first start and restarts).
    pub starts: u64,
    /// When this member joined the group's election.
    pub since: Time,
    /// The newest committed electorate this member knows: the term and voters of the newest
    /// finished election it held or learnt.
    pub agreed: Option<Agreed>,
    /// When this member may next answer a member that is behind.
    pub next_reply: Time,
    /// The finished result held, if any.
    pub finished: Option<HeldResult>,
    /// The quorum last reported in an `Event::QuorumChanged` (`None`: nothing reported yet).
    pub quorum_reported: Option<bool>,
}

impl GroupElection {
    /// A fresh registration.
    pub fn new(suitability: u64, now: Time) -> Self {
        GroupElection {
            suitability,
            population: Population::default(),
            view: Arc::default(),
            view_stamp: None,
            next_check: now,
            starts: 0,
            since: now,
            agreed: None,
            next_reply: now,
            finished: None,
            quorum_reported: None,
        }
    }

    /// Replaces the committed electorate; the judgement kept on the old one goes with it.
    pub fn set_agreed(&mut self, agreed: Agreed) {
        self.agreed = Some(agreed);
        self.view_stamp = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rumor::ElectionStatus::{self, Finished, NoQuorum, Running};

    fn id(s: &str) -> MemberId {
        MemberId::from(s)
    }

    fn cand(s: &str, h: Option<Health>, secs: u64) -> Candidate {
        Candidate {
            id: id(s),
            health: h,
            for_how_long: Duration::from_secs(secs),
        }
    }

    fn election(who: &str, term: u64, status: ElectionStatus, votes: &[&str]) -> Election {
        Election {
            member_id: id(who),
            service_group: "redis.default".into(),
            term,
            suitability: 0,
            status,
            votes: votes.iter().map(|v| id(v)).collect(),
            committed: None,
        }
    }

    const GRACE: Duration = Duration::from_secs(10);
    use Health::{Alive, Confirmed, Departed, Suspect};

    fn set(names: &[&str]) -> BTreeSet<MemberId> {
        names.iter().map(|n| id(n)).collect()
    }

    /// Seed 7251 of `election-fuzz` (with the verdict change): a re-run taking in member 5 while
    /// member 0, a voter, was cut off.
    #[test]
    fn a_seal_keeps_an_unreachable_voter_and_changes_one_member_at_a_time() {
        let view = Electorate {
            population: set(&["0", "1", "3", "5"]),
            electorate: set(&["1", "3", "5"]),
            quorum: true,
            agreed: set(&["0", "1", "3"]),
        };
        let votes = [id("1"), id("3"), id("5"), id("0")];
        assert_eq!(
            sealed_voters(&votes, &view),
            vec![id("0"), id("1"), id("3"), id("5")]
        );
        // Two newcomers: one comes in now, the other with the leader's next re-run.
        let view = Electorate {
            population: set(&["1", "3", "5", "6"]),
            electorate: set(&["1", "3", "5", "6"]),
            quorum: true,
            agreed: set(&["1", "3"]),
        };
        let votes = [id("6"), id("1"), id("3"), id("5")];
        assert_eq!(
            sealed_voters(&votes, &view),
            vec![id("1"), id("3"), id("6")]
        );
        // A voter gone past the grace leaves before anyone comes in.
        let view = Electorate {
            population: set(&["1", "3", "6"]),
            electorate: set(&["1", "3", "6"]),
            quorum: true,
            agreed: set(&["0", "1", "3"]),
        };
        let votes = [id("1"), id("3"), id("6")];
        assert_eq!(sealed_voters(&votes, &view), vec![id("1"), id("3")]);
        // The group's first result: the electorate it finished with.
        let view = Electorate {
            agreed: BTreeSet::new(),
            ..view
        };
        assert_eq!(
            sealed_voters(&votes, &view),
            vec![id("1"), id("3"), id("6")]
        );
    }

    /// Every way six members can stand when a result finishes (last voters, those gone past the
    /// grace, those unreachable, newcomers): any majority of the last result's voters meets any
    /// majority of the sealed ones, and every Alive voter of the last result stays.
    #[test]
    fn every_majority_of_a_seal_meets_every_majority_of_the_last_result() {
        let names = ["a", "b", "c", "d", "e", "f"];
        let of = |mask: u32| -> BTreeSet<MemberId> {
            (0..6)
                .filter(|i| mask & (1 << i) != 0)
                .map(|i| id(names[i]))
                .collect()
        };
        let subsets = |mask: u32| (0..64u32).filter(move |m| m & !mask == 0);
        let mut cases = 0;
        for last in 1..64u32 {
            for gone in subsets(last) {
                for away in subsets(last & !gone) {
                    for new in subsets(63 & !last) {
                        let population = of((last & !gone) | new);
                        let electorate = of(((last & !gone) | new) & !away);
                        let votes: Vec<MemberId> = electorate.iter().cloned().collect();
                        let agreed = of(last);
                        let view = Electorate {
                            population,
                            electorate,
                            quorum: true,
                            agreed: agreed.clone(),
                        };
                        let sealed: BTreeSet<MemberId> =
                            sealed_voters(&votes, &view).into_iter().collect();
                        // The smallest overlap two majorities can have: each takes as few
                        // members of the other set as it can.
                        let both = agreed.intersection(&sealed).count();
                        let q = |n: usize| n / 2 + 1;
                        let a = q(agreed.len()).saturating_sub(agreed.len() - both);
                        let b = q(sealed.len()).saturating_sub(sealed.len() - both);
                        assert!(
                            a + b > both,
                            "last {agreed:?}, gone {:?}, away {:?}, new {:?}: sealed {sealed:?}",
                            of(gone),
                            of(away),
                            of(new)
                        );
                        assert!(
                            view.electorate
                                .iter()
                                .all(|v| !agreed.contains(v) || sealed.contains(v))
                        );
                        cases += 1;
                    }
                }
            }
        }
        assert!(cases > 10_000, "{cases}");
    }

    #[test]
    fn habitat_quorum_table() {
        // Spec §6.2's table.
        let one = habitat_electorate(&[cand("a", Some(Alive), 0)]);
        assert!(one.quorum);
        let two_of_three = habitat_electorate(&[
            cand("a", Some(Alive), 0),
            cand("b", Some(Alive), 0),
            cand("c", Some(Confirmed), 0),
        ]);
        assert!(two_of_three.quorum);
        let one_and_confirmed =
            habitat_electorate(&[cand("a", Some(Alive), 0), cand("b", Some(Confirmed), 0)]);
        assert!(!one_and_confirmed.quorum);
    }

    /// Habitat #1994: Confirmed members stay in the population, so after enough failures quorum
    /// never returns. Warren drops them after the grace, one quorum-keeping step at a time.
    #[test]
    fn quorum_recovers_after_successive_failures() {
        let mut pop = Population::default();
        let names = ["a", "b", "c", "d", "e"];
        let all_alive: Vec<_> = names.iter().map(|n| cand(n, Some(Alive), 0)).collect();
        assert!(pop.update(&all_alive, GRACE, Settled::Yes, None).quorum);
        // e, d, then c die, each long enough ago; after each the leader re-runs, so the last
        // result's voters are the population before the death.
        let mut group = all_alive.clone();
        for dead in [4, 3, 2] {
            let agreed = pop.members().clone();
            group[dead] = cand(names[dead], Some(Confirmed), 60);
            let habitat = habitat_electorate(&group);
            let warren = pop.update(&group, GRACE, Settled::Yes, Some(&agreed));
            assert!(
                warren.quorum,
                "warren lost quorum after {} died",
                names[dead]
            );
            if dead == 2 {
                assert!(!habitat.quorum, "Habitat keeps the dead in the population");
            }
        }
        assert_eq!(pop.members().len(), 2);
    }

    #[test]
    fn a_minority_partition_never_shrinks_into_quorum() {
        let mut pop = Population::default();
        let names = ["a", "b", "c", "d", "e"];
        let group: Vec<_> = names.iter().map(|n| cand(n, Some(Alive), 0)).collect();
        pop.update(&group, GRACE, Settled::Yes, None);
        // a and b are cut off from c, d, e, for an hour.
        let view: Vec<_> = names
            .iter()
            .enumerate()
            .map(|(i, n)| {
                if i < 2 {
                    cand(n, Some(Alive), 0)
                } else {
                    cand(n, Some(Confirmed), 3600)
                }
            })
            .collect();
        let e = pop.update(&view, GRACE, Settled::Yes, None);
        assert!(!e.quorum);
        assert_eq!(pop.members().len(), 5);
        // Two newcomers join the minority side: still no quorum, and they are not admitted.
        let mut grown = view.clone();
        grown.push(cand("f", Some(Alive), 0));
        grown.push(cand("g", Some(Alive), 0));
        let e = pop.update(&grown, GRACE, Settled::Yes, None);
        assert!(!e.quorum);
        assert!(!pop.members().contains(&id("f")));
        // Habitat would count the newcomers and find quorum on the minority side.
        assert!(habitat_electorate(&grown).quorum);
    }

    #[test]
    fn suspects_count_but_need_not_vote_and_departed_leave_at_once() {
        let mut pop = Population::default();
        let group = vec![
            cand("a", Some(Alive), 0),
            cand("b", Some(Suspect), 0),
            cand("c", Some(Alive), 0),
        ];
        let e = pop.update(&group, GRACE, Settled::Yes, None);
        assert_eq!(e.population.len(), 3);
        assert!(e.all_voted(&[id("a"), id("c")]));
        let group = vec![
            cand("a", Some(Alive), 0),
            cand("b", Some(Departed), 0),
            cand("c", Some(Confirmed), 0),
        ];
        let e = pop.update(&group, GRACE, Settled::Yes, None);
        // b left at once; c (Confirmed just now) still counts: 1 of 2 is no quorum.
        assert_eq!(e.population.len(), 2);
        assert!(!e.quorum);
    }

    #[test]
    fn no_quorum_before_meeting_the_ring() {
        let mut pop = Population::default();
        let e = pop.update(&[cand("me", Some(Alive), 0)], GRACE, Settled::No, None);
        assert!(!e.quorum);
        let e = pop.update(&[cand("me", Some(Alive), 0)], GRACE, Settled::Yes, None);
        assert!(e.quorum);
    }

    #[test]
    fn habitat_ignores_a_newer_term_from_a_bystander_warren_joins_it() {
        let me = id("m");
        let s = election("x", 1, Finished, &["x", "m"]);
        let r = election("y", 2, Running, &["y"]);
        assert_eq!(
            on_receive(
                ElectionRules::Habitat,
                &me,
                Some(&s),
                &r,
                5,
                LeaderSeen::NotAlive,
                ReRun::No
            ),
            OnReceive::Ignore
        );
        assert_eq!(
            on_receive(
                ElectionRules::Warren,
                &me,
                Some(&s),
                &r,
                5,
                LeaderSeen::NotAlive,
                ReRun::No
            ),
            OnReceive::StartThenMerge {
                stored: Stored::Replace,
                suitability: 5
            }
        );
        let done = election("y", 2, Finished, &["y"]);
        assert_eq!(
            on_receive(
                ElectionRules::Warren,
                &me,
                Some(&s),
                &done,
                5,
                LeaderSeen::NotAlive,
                ReRun::No
            ),
            OnReceive::Adopt
        );
        // The old winner re-runs with the highest suitability in both rule sets.
        let mine = election("m", 1, Finished, &["m", "x"]);
        for rules in [ElectionRules::Habitat, ElectionRules::Warren] {
            assert_eq!(
                on_receive(
                    rules,
                    &me,
                    Some(&mine),
                    &r,
                    5,
                    LeaderSeen::NotAlive,
                    ReRun::No
                ),
                OnReceive::StartThenMerge {
                    stored: Stored::Replace,
                    suitability: RERUN_SUITABILITY
                }
            );
        }
        // Warren: a win with my own vote alone (before I knew the group) is no reason to.
        let alone = election("m", 1, Finished, &["m"]);
        assert_eq!(
            on_receive(
                ElectionRules::Warren,
                &me,
                Some(&alone),
                &r,
                5,
                LeaderSeen::NotAlive,
                ReRun::No
            ),
            OnReceive::StartThenMerge {
                stored: Stored::Replace,
                suitability: 5
            }
        );
    }

    /// Run 218955 of `election-fuzz --partition-storm --churn`: while the leader re-runs its
    /// result (the highest suitability, one term up) it still acts on its lease, so a follower
    /// that sees it alive does not join a rival's newer term, as it would not during the result.
    #[test]
    fn warren_followers_of_a_re_running_leader_ignore_a_rival_term() {
        let me = id("m");
        let mut rerun = election("l", 2, Running, &["l", "m"]);
        rerun.suitability = RERUN_SUITABILITY;
        let rival = election("x", 3, Running, &["x"]);
        let warren = |stored: &Election, r: &Election, seen, rerun| {
            on_receive(ElectionRules::Warren, &me, Some(stored), r, 5, seen, rerun)
        };
        let (alive, re_run) = (LeaderSeen::Alive, ReRun::OfHeldResult);
        assert_eq!(warren(&rerun, &rival, alive, re_run), OnReceive::Ignore);
        let follow = OnReceive::StartThenMerge {
            stored: Stored::Replace,
            suitability: 5,
        };
        assert_eq!(
            warren(&rerun, &rival, LeaderSeen::NotAlive, re_run),
            follow,
            "the leader is gone"
        );
        // A candidacy that does not continue the result this member holds is no lease, even at
        // the highest suitability (someone else's old re-run, say): a newer term replaces it.
        assert_eq!(warren(&rerun, &rival, alive, ReRun::No), follow);
        let plain = election("l", 2, Running, &["l", "m"]);
        assert_eq!(warren(&plain, &rival, alive, ReRun::No), follow);
        // Once the leader votes in the rival's term, its followers do too.
        let mut joined = rival.clone();
        joined.votes.push(id("l"));
        assert_eq!(warren(&rerun, &joined, alive, re_run), follow);
        // The re-running leader itself meets the rival's term as before.
        let mut mine = rerun.clone();
        mine.member_id = me.clone();
        assert_eq!(warren(&mine, &rival, alive, re_run), follow);
    }

    #[test]
    fn only_the_candidate_finishes_and_only_with_every_vote() {
        let me = id("a");
        let view = Electorate {
            population: [id("a"), id("b")].into(),
            electorate: [id("a"), id("b")].into(),
            quorum: true,
            ..Electorate::default()
        };
        let mut r = election("a", 0, Running, &["a"]);
        judge_status(&me, &mut r, &view);
        assert_eq!(r.status, Running);
        r.votes.push(id("b"));
        judge_status(&me, &mut r, &view);
        assert_eq!(r.status, Finished);
        let mut other = election("b", 0, Running, &["a", "b"]);
        judge_status(&me, &mut other, &view);
        assert_eq!(other.status, Running);
        let lost = Electorate {
            quorum: false,
            ..view
        };
        let mut mine = election("a", 0, Running, &["a", "b"]);
        judge_status(&me, &mut mine, &lost);
        assert_eq!(mine.status, NoQuorum);
    }

    /// Habitat restarts only finished elections; an unfinished one whose candidate died hangs.
    #[test]
    fn a_dead_candidate_restarts_under_warren_only() {
        let me = id("a");
        let view = Electorate {
            quorum: true,
            ..Electorate::default()
        };
        let s = election("z", 3, Running, &["z", "a"]);
        let health = |m: &MemberId| (m.as_str() == "z").then_some(Confirmed);
        assert_eq!(
            restart_needed(
                ElectionRules::Habitat,
                &me,
                &s,
                &view,
                None,
                Lease::Held,
                health
            ),
            None
        );
        assert_eq!(
            restart_needed(
                ElectionRules::Warren,
                &me,
                &s,
                &view,
                None,
                Lease::Held,
                health
            ),
            Some(Restart::CandidateGone)
        );
        let done = election("z", 3, Finished, &["z", "a"]);
        for rules in [ElectionRules::Habitat, ElectionRules::Warren] {
            assert_eq!(
                restart_needed(rules, &me, &done, &view, None, Lease::Held, health),
                Some(Restart::LeaderGone)
            );
        }
        let mine = election("a", 3, Finished, &["a"]);
        let lost = Electorate::default();
        assert_eq!(
            restart_needed(
                ElectionRules::Warren,
                &me,
                &mine,
                &lost,
                None,
                Lease::Held,
                health
            ),
            Some(Restart::LeaderLostQuorum)
        );
    }

    /// A member whose leader is Alive to it does not follow a new term started by someone who
    /// thinks the leader is gone, unless the leader itself has voted in it.
    #[test]
    fn a_stale_view_cannot_pull_the_group_into_a_new_term() {
        let me = id("m");
        let s = election("l", 4, Finished, &["l", "m", "x"]);
        let r = election("x", 5, Running, &["x"]);
        assert_eq!(
            on_receive(
                ElectionRules::Warren,
                &me,
                Some(&s),
                &r,
                0,
                LeaderSeen::Alive,
                ReRun::No
            ),
            OnReceive::Ignore
        );
        let with_leader = election("x", 5, Running, &["x", "l"]);
        assert!(matches!(
            on_receive(
                ElectionRules::Warren,
                &me,
                Some(&s),
                &with_leader,
                0,
                LeaderSeen::Alive,
                ReRun::No
            ),
            OnReceive::StartThenMerge { .. }
        ));
        assert!(matches!(
            on_receive(
                ElectionRules::Warren,
                &me,
                Some(&s),
                &r,
                0,
                LeaderSeen::NotAlive,
                ReRun::No
            ),
            OnReceive::StartThenMerge { .. }
        ));
    }

    /// Joint consensus: a candidate needs a majority of the last result's voters as well as every
    /// member of its electorate.
    #[test]
    fn finishing_needs_a_majority_of_the_last_voters() {
        let view = Electorate {
            population: [id("a"), id("b")].into(),
            electorate: [id("a"), id("b")].into(),
            quorum: true,
            agreed: [id("a"), id("c"), id("d"), id("e")].into(),
        };
        assert!(!view.all_voted(&[id("a"), id("b")]));
        assert!(!view.all_voted(&[id("a"), id("b"), id("c")]));
        assert!(view.all_voted(&[id("a"), id("b"), id("c"), id("d")]));
    }

    #[test]
    fn committed_voters_heard_of_dead_join_at_once_and_removed_ones_stay_out() {
        let mut pop = Population::default();
        let start = vec![
            cand("a", Some(Alive), 0),
            cand("b", Some(Alive), 0),
            cand("c", Some(Alive), 0),
        ];
        let agreed: BTreeSet<MemberId> = [id("a"), id("b"), id("c"), id("x"), id("y")].into();
        pop.update(&start, GRACE, Settled::Yes, Some(&agreed));
        // Two voters we had not heard of, already dead: they count at once (no quorum now).
        let mut grown = start.clone();
        grown.push(cand("x", Some(Confirmed), 0));
        grown.push(cand("y", Some(Confirmed), 0));
        grown[2] = cand("c", Some(Suspect), 0);
        let e = pop.update(&grown, GRACE, Settled::Yes, Some(&agreed));
        assert_eq!(e.population.len(), 5);
        assert!(!e.quorum);
        // Dead members outside the committed electorate do not.
        let three: BTreeSet<MemberId> = [id("a"), id("b"), id("c")].into();
        let e = Population::default().update(&grown, GRACE, Settled::Yes, Some(&three));
        assert_eq!(e.population, three);
        assert!(e.quorum);
        // c comes back; x and y pass the grace and leave by quorum, and stay out while dead.
        grown[2] = cand("c", Some(Alive), 0);
        grown[3] = cand("x", Some(Confirmed), 60);
        grown[4] = cand("y", Some(Confirmed), 60);
        let e = pop.update(&grown, GRACE, Settled::Yes, Some(&agreed));
        assert!(e.quorum);
        assert_eq!(e.population.len(), 3);
        let e = pop.update(&grown, GRACE, Settled::Yes, Some(&agreed));
        assert_eq!(e.population.len(), 3);
        // x comes back Alive: it joins again.
        grown[3] = cand("x", Some(Alive), 0);
        let e = pop.update(&grown, GRACE, Settled::Yes, Some(&agreed));
        assert_eq!(e.population.len(), 4);
    }

    /// Without a finished result to go by, nothing committed says who the group is: a member
    /// that restarted without its state, on one side of a split with newcomers, keeps counting
    /// the members it cannot see however long they have been dead, and needs every member it
    /// counts; the same member with the last result's voters may drop them by quorum.
    #[test]
    fn without_a_result_the_dead_stay_and_quorum_is_everyone() {
        let group = vec![
            cand("a", Some(Confirmed), 600),
            cand("b", Some(Confirmed), 600),
            cand("me", Some(Alive), 0),
            cand("new1", Some(Alive), 0),
            cand("new2", Some(Alive), 0),
        ];
        let mut pop = Population::default();
        let e = pop.update(&group, GRACE, Settled::Yes, None);
        assert!(!e.quorum, "3 of 5 is a majority, but not a committed one");
        let e = pop.update(&group, GRACE, Settled::Yes, None);
        assert_eq!(
            e.population.len(),
            5,
            "the dead left without a committed step"
        );
        assert!(!e.quorum);
        // Every member alive: the first election of a group can finish.
        let all: Vec<_> = ["a", "b", "me"]
            .iter()
            .map(|n| cand(n, Some(Alive), 0))
            .collect();
        assert!(
            Population::default()
                .update(&all, GRACE, Settled::Yes, None)
                .quorum
        );
    }

    #[test]
    fn a_committed_electorate_leaves_out_the_dead_it_does_not_hold() {
        // A newcomer during a re-run: the committed electorate is {a, b, c} (c just killed); the
        // Service rumors of two members killed in earlier replacements (old1, old2) are still
        // around. Counting them would keep the newcomer without quorum, so it would never vote
        // and the re-run would wait for its vote for ever.
        let group = vec![
            cand("a", Some(Alive), 0),
            cand("b", Some(Alive), 0),
            cand("c", Some(Confirmed), 1),
            cand("old1", Some(Confirmed), 600),
            cand("old2", Some(Confirmed), 600),
            cand("me", Some(Alive), 0),
        ];
        let committed: BTreeSet<MemberId> = [id("a"), id("b"), id("c")].into();
        let mut pop = Population::default();
        let e = pop.update(&group, GRACE, Settled::Yes, Some(&committed));
        assert_eq!(
            e.population,
            [id("a"), id("b"), id("c"), id("me")].into(),
            "the dead outside the committed electorate count"
        );
        assert!(e.quorum);
        // Without the committed electorate every member heard of counts, and quorum needs all.
        let e = Population::default().update(&group, GRACE, Settled::Yes, None);
        assert_eq!(e.population.len(), 6);
        assert!(!e.quorum);
        // A committed voter that is dead still counts: the majority of {a, b, c} must be alive.
        let group = vec![
            cand("a", Some(Alive), 0),
            cand("b", Some(Confirmed), 1),
            cand("c", Some(Confirmed), 1),
            cand("me", Some(Alive), 0),
        ];
        let e = Population::default().update(&group, GRACE, Settled::Yes, Some(&committed));
        assert!(!e.quorum, "one of three committed voters alive");
    }
}
