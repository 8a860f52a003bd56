//! What the elections say, without changing anything: the leader a member acts on, the
//! electorate and why quorum is missing, the results to keep across a restart, the groups and
//! their reachable members, and when the elections next need a look.
//!
//! Every function here takes `&self` and a [`RingView`]; none changes state.

use std::collections::BTreeSet;
use std::time::Duration;

use super::{Elections, RingView, continues};
use crate::election::{
    AgreedResult, ElectionKind, ElectionRules, Electorate, HeldResult, Lease, MissingVoter,
    QuorumGap,
};
use crate::member::{Health, Member, MemberId};
use crate::rumor::ElectionStatus;
use crate::time::Time;

impl Elections {
    /// The leader of `service_group` as this member acts on it: see [`crate::Ring::leader`].
    pub(crate) fn leader<'a>(
        &'a self,
        rv: RingView<'a>,
        service_group: &str,
        kind: ElectionKind,
        now: Time,
    ) -> Option<&'a MemberId> {
        let e = rv.election(service_group, kind)?;
        if rv.cfg.election.rules == ElectionRules::Habitat {
            return (e.status == ElectionStatus::Finished).then_some(&e.member_id);
        }
        let Some(g) = self.groups.get(&(kind, service_group.to_owned())) else {
            return (e.status == ElectionStatus::Finished).then_some(&e.member_id);
        };
        let h = self.acting_result(rv, kind, service_group)?;
        if now < h.since + rv.cfg.election.confirm {
            return None;
        }
        // Never act as leader without quorum (a leader on the small side of a split) or without
        // its lease (a leader cut off or paused: the others may be electing).
        if h.leader == rv.me.id
            && (!g.view.quorum
                || !self.stood_in(kind, service_group, h.term)
                || self.lease(rv, kind, service_group, now) == Lease::Lost)
        {
            return None;
        }
        Some(&h.leader)
    }

    /// The finished result this member holds for one of its groups, while the stored election is
    /// that result or its leader's re-run of it ([`continues`]).
    pub(super) fn acting_result(
        &self,
        rv: RingView<'_>,
        kind: ElectionKind,
        sg: &str,
    ) -> Option<&HeldResult> {
        let e = rv.election(sg, kind)?;
        let h = self.groups.get(&(kind, sg.to_owned()))?.finished.as_ref()?;
        continues(h, e).then_some(h)
    }

    /// The electorate as this member last judged it, for a group whose election it takes part in.
    pub(crate) fn electorate(
        &self,
        service_group: &str,
        kind: ElectionKind,
    ) -> Option<&Electorate> {
        self.groups
            .get(&(kind, service_group.to_owned()))
            .map(|g| &*g.view)
    }

    /// Why one of my groups has no quorum, as last judged: see [`crate::Ring::quorum_gap`].
    pub(crate) fn quorum_gap(
        &self,
        rv: RingView<'_>,
        service_group: &str,
        kind: ElectionKind,
        now: Time,
    ) -> Option<QuorumGap> {
        if rv.cfg.election.rules != ElectionRules::Warren {
            return None;
        }
        let g = self.groups.get(&(kind, service_group.to_owned()))?;
        if g.view.quorum {
            return None;
        }
        let counted: BTreeSet<&MemberId> = g.view.population.iter().chain(&g.view.agreed).collect();
        let mut missing: Vec<MissingVoter> = counted
            .iter()
            .filter(|id| !g.view.electorate.contains(**id))
            .map(|id| {
                let r = rv.members.get(id);
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
            met_ring: self.met_peer,
            alive: counted.len() - missing.len(),
            counted: counted.len(),
            missing,
        })
    }

    /// The last finished result of each election this member knows, to keep across a restart.
    pub(crate) fn agreed_results(&self) -> Vec<AgreedResult> {
        self.groups
            .iter()
            .filter_map(|((kind, sg), g)| {
                g.agreed.as_ref().map(|a| AgreedResult {
                    kind: *kind,
                    service_group: sg.clone(),
                    term: a.term,
                    voters: a.voters.iter().cloned().collect(),
                })
            })
            .collect()
    }

    /// The elections this member takes part in.
    pub(crate) fn groups(&self) -> impl Iterator<Item = (ElectionKind, &str)> {
        self.groups.keys().map(|(k, sg)| (*k, sg.as_str()))
    }

    /// Reachable members of the groups whose elections this member takes part in (told first
    /// when this member leaves).
    pub(crate) fn peers(&self, rv: RingView<'_>) -> Vec<Member> {
        let mut out: Vec<Member> = Vec::new();
        for (_, sg) in self.groups.keys() {
            for id in rv.group_owners(sg) {
                if let Some(r) = rv.members.get(&id)
                    && r.health <= Health::Suspect
                    && !out.iter().any(|m| m.id == id)
                {
                    out.push(r.member.clone());
                }
            }
        }
        out
    }

    /// When the elections next need a look (`None` without elections).
    pub(crate) fn deadline(&self, rv: RingView<'_>) -> Option<Time> {
        if rv.left {
            return None;
        }
        let confirm = rv.cfg.election.confirm;
        let checks = self
            .groups
            .values()
            .map(|g| match &g.finished {
                Some(h) if !h.announced => g.next_check.min(h.since + confirm),
                _ => g.next_check,
            })
            .min();
        match (checks, self.lease_deadline(rv)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}
