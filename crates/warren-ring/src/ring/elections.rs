//! The ring's side of elections: [`Ring`]'s public election API as thin wrappers over the
//! elections component ([`crate::elections::Elections`]), and the two borrows that drive it: a
//! read-only [`RingView`] for queries and an [`ElectionCtx`] for inputs, after which the ring
//! acts on the component's [`Output`] in order (hot keys, transmits, keep-alive pings).
//!
//! Nothing here judges an election: the state and the logic are the component's, the rules
//! `crate::election`'s. Publishing and withdrawing this member's Service rumors, which make it a
//! member of a group, is `ring/services.rs`'s.

use super::Ring;
use crate::election::{AgreedResult, ElectionKind, Electorate, QuorumGap};
use crate::elections::{ElectionCtx, Elections, Output, RingView};
use crate::member::{Member, MemberId};
use crate::message::SwimKind;
use crate::rumor::Election;
use crate::store::Outcome;
use crate::time::Time;

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
        self.with_elections(|el, cx| el.start(cx, service_group, kind, suitability, now));
    }

    /// Changes the suitability this member stands with in later candidacies (the `suitability`
    /// hook's new value).
    pub fn set_suitability(&mut self, service_group: &str, kind: ElectionKind, suitability: u64) {
        self.el.set_suitability(service_group, kind, suitability);
    }

    /// Restores results saved by [`Ring::agreed_results`] before this member restarted (call it
    /// with [`Ring::restore`], before joining). A newer result heard later replaces them.
    pub fn restore_agreed(&mut self, results: Vec<AgreedResult>, now: Time) {
        self.saw(now);
        self.el.restore_agreed(results, now);
    }

    // ----- queries ---------------------------------------------------------------------------

    /// The stored `kind` election of `service_group`.
    pub fn election(&self, service_group: &str, kind: ElectionKind) -> Option<&Election> {
        self.election_view().election(service_group, kind)
    }

    /// The leader of `service_group` as this member acts on it: the candidate of a Finished
    /// election, once the result has stood for `ElectionConfig::confirm` (Warren) — immediately
    /// under Habitat's rules, or for groups this member does not take part in.
    ///
    /// While the leader re-runs to commit a change of the group's electorate (a new term it
    /// stands in with the highest suitability), the result it re-runs keeps standing: the group
    /// is not left without a leader for every member that joins or leaves it.
    pub fn leader(&self, service_group: &str, kind: ElectionKind, now: Time) -> Option<&MemberId> {
        self.el
            .leader(self.election_view(), service_group, kind, now)
    }

    /// The electorate as this member last judged it, for a group whose election it takes part in.
    pub fn electorate(&self, service_group: &str, kind: ElectionKind) -> Option<&Electorate> {
        self.el.electorate(service_group, kind)
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
        self.el
            .quorum_gap(self.election_view(), service_group, kind, now)
    }

    /// The last finished result of each election this member knows, to keep across a restart.
    pub fn agreed_results(&self) -> Vec<AgreedResult> {
        self.el.agreed_results()
    }

    /// The elections this member takes part in.
    pub fn election_groups(&self) -> impl Iterator<Item = (ElectionKind, &str)> {
        self.el.groups()
    }

    // ----- inside the ring -------------------------------------------------------------------

    /// Whether this member's own Service rumor for `service_group` is stored (and not withdrawn).
    pub(super) fn in_group(&self, service_group: &str) -> bool {
        self.election_view().in_group(service_group)
    }

    /// Reachable members of the groups whose elections this member takes part in.
    pub(super) fn election_peers(&self) -> Vec<Member> {
        self.el.peers(self.election_view())
    }

    /// Warren: a group leader this member is due to probe on its own (see
    /// `Elections::leader_to_probe`).
    pub(super) fn leader_due_for_probe(&mut self, now: Time) -> Option<Member> {
        self.with_elections(|el, cx| el.leader_to_probe(cx.view(), now))
    }

    /// When the elections next need a look (`None` without elections).
    pub(super) fn election_deadline(&self) -> Option<Time> {
        self.el.deadline(self.election_view())
    }

    /// The elections' timers (and, under Warren's rules, a re-run after any change).
    pub(super) fn election_timers(&mut self, now: Time) {
        self.with_elections(|el, cx| el.handle_timer(cx, now));
    }

    /// A received election rumor for a group this member belongs to.
    pub(super) fn receive_election(
        &mut self,
        kind: ElectionKind,
        r: Election,
        now: Time,
    ) -> Outcome {
        self.with_elections(|el, cx| el.handle_election(cx, kind, r, now))
    }

    /// The ring parts the elections read.
    fn election_view(&self) -> RingView<'_> {
        RingView {
            me: &self.me,
            cfg: &self.cfg,
            left: self.left,
            members: &self.members,
            store: &self.store,
            heard: &self.heard,
            suspicion_max: self.suspicion_bounds().1,
        }
    }

    /// Runs `f` on the elections with the ring parts they borrow, then acts on what they asked
    /// for, in the order asked: hot keys are disseminated, transmits queued, keep-alive pings
    /// sent (with piggybacked membership, as any ping).
    fn with_elections<R>(
        &mut self,
        f: impl FnOnce(&mut Elections, &mut ElectionCtx<'_>) -> R,
    ) -> R {
        let suspicion_max = self.suspicion_bounds().1;
        let mut out = Vec::new();
        let r = {
            let mut cx = ElectionCtx {
                me: &self.me,
                cfg: &self.cfg,
                left: self.left,
                members: &self.members,
                heard: &self.heard,
                initial_peers: &self.initial_peers,
                suspicion_max,
                store: &mut self.store,
                rng: &mut self.rng,
                stats: &mut self.stats,
                events: &mut self.events,
                out: &mut out,
            };
            f(&mut self.el, &mut cx)
        };
        for o in out {
            match o {
                Output::Hot(key) => self.start_hot(key, None),
                Output::Transmit(t) => self.transmits.push_back(t),
                Output::KeepAlive(m) => self.push_swim(
                    m.swim_addr(),
                    &m.id,
                    SwimKind::Ping { forward_to: None },
                    true,
                ),
            }
        }
        r
    }
}
