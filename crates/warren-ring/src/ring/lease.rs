//! The leader lease (Warren's rules): a leader acts only while it has heard directly from a
//! quorum of its group within `Config::leader_lease`, pings the members it has not heard from
//! lately, and a follower that heard from its leader within `Config::follower_guard` does not
//! replace it. Only the timings and the bookkeeping live here; stepping down is
//! `ring/elections.rs`'s (`Restart::LeaseLost`).

use super::*;
use crate::election::{ElectionKind, ElectionRules, Lease, has_quorum};

impl Ring {
    /// Whether `id` reached this member directly within the follower guard
    /// ([`crate::Config::follower_guard`]; Warren's rules only).
    pub(super) fn heard_recently(&self, id: &MemberId, now: Time) -> bool {
        self.cfg.election.rules == ElectionRules::Warren
            && self
                .heard
                .get(id)
                .is_some_and(|t| now < *t + self.cfg.follower_guard())
    }

    /// The members of my `kind` election of `sg` other than me that count for my lease: the
    /// population as I last judged it, and the voters of the last agreed result.
    pub(super) fn lease_peers(&self, kind: ElectionKind, sg: &str) -> Vec<&MemberId> {
        let Some(g) = self.el.groups.get(&(kind, sg.to_owned())) else {
            return Vec::new();
        };
        let mut out: Vec<&MemberId> = g.view.population.iter().collect();
        for id in &g.view.agreed {
            if !out.contains(&id) {
                out.push(id);
            }
        }
        out.retain(|id| **id != self.me.id);
        out
    }

    /// When my lease in `kind`'s election of `sg` runs out, as things stand: a quorum of the
    /// population and a quorum of the last agreed result's voters (me included in each) must
    /// have been heard within the lease; a new term needs a majority of those voters, so one of
    /// them is a member I counted, and it does not vote while it heard from me within the
    /// follower guard. `None`: it never runs out (a group of one).
    pub(super) fn lease_expiry(&self, kind: ElectionKind, sg: &str) -> Option<Time> {
        let g = self.el.groups.get(&(kind, sg.to_owned()))?;
        let population: Vec<&MemberId> = g.view.population.iter().collect();
        let agreed: Vec<&MemberId> = g.view.agreed.iter().collect();
        [population, agreed]
            .into_iter()
            .filter(|set| !set.is_empty())
            .filter_map(|set| self.lease_expiry_over(&set))
            .min()
    }

    /// When a quorum of `set` (me counted when I am in it, or anyway as the one judging) stops
    /// having been heard within the lease.
    pub(super) fn lease_expiry_over(&self, set: &[&MemberId]) -> Option<Time> {
        let peers: Vec<&MemberId> = set
            .iter()
            .copied()
            .filter(|id| **id != self.me.id)
            .collect();
        let population = peers.len() + 1;
        // The smallest number of others I must have heard from, with me, for a quorum.
        let needed = (1..=population).find(|n| has_quorum(*n, population))? - 1;
        if needed == 0 {
            return None;
        }
        let mut heard: Vec<Time> = peers
            .iter()
            .filter_map(|id| self.heard.get(*id).copied())
            .collect();
        heard.sort_unstable_by(|a, b| b.cmp(a));
        heard
            .get(needed - 1)
            .map(|t| *t + self.cfg.leader_lease())
            .or(Some(Time::ZERO))
    }

    /// Whether my lease in `kind`'s election of `sg` holds at `now` (always, under Habitat's
    /// rules).
    pub(super) fn lease(&self, kind: ElectionKind, sg: &str, now: Time) -> Lease {
        if self.cfg.election.rules != ElectionRules::Warren {
            return Lease::Held;
        }
        match self.lease_expiry(kind, sg) {
            Some(t) if now >= t => Lease::Lost,
            _ => Lease::Held,
        }
    }

    /// The groups I belong to whose Finished result names me (or whose result I am re-running).
    pub(super) fn led_groups(&self) -> Vec<(ElectionKind, String)> {
        self.el
            .groups
            .keys()
            .filter(|(kind, sg)| {
                self.in_group(sg)
                    && self
                        .acting_result(*kind, sg)
                        .is_some_and(|h| h.leader == self.me.id)
            })
            .cloned()
            .collect()
    }

    /// Warren: while I lead, pings the members of my groups I have not heard from for a quarter
    /// of the lease (their Acks renew it).
    pub(super) fn lease_keepalive(&mut self, now: Time) {
        if self.cfg.election.rules != ElectionRules::Warren || self.left {
            return;
        }
        let every = self.cfg.leader_lease() / 4;
        let mut due: Vec<MemberId> = Vec::new();
        for (kind, sg) in self.led_groups() {
            for id in self.lease_peers(kind, &sg) {
                let quiet = self.heard.get(id).is_none_or(|t| now >= *t + every);
                let unpinged = self
                    .el
                    .keepalive_at
                    .get(id)
                    .is_none_or(|t| now >= *t + every);
                if quiet && unpinged && !due.contains(id) {
                    due.push(id.clone());
                }
            }
        }
        let mut targets: Vec<Member> = Vec::new();
        for id in due {
            // Marked even when unreachable (Confirmed, unknown), so the deadline moves on.
            self.el.keepalive_at.insert(id.clone(), now);
            if let Some(r) = self
                .members
                .get(&id)
                .filter(|r| r.health <= Health::Suspect)
            {
                targets.push(r.member.clone());
            }
        }
        for m in targets {
            self.push_swim(
                m.swim_addr(),
                &m.id,
                SwimKind::Ping { forward_to: None },
                true,
            );
        }
    }

    /// When the lease keep-alive or a lease expiry next needs a look.
    pub(super) fn lease_deadline(&self) -> Option<Time> {
        if self.cfg.election.rules != ElectionRules::Warren || self.left {
            return None;
        }
        let every = self.cfg.leader_lease() / 4;
        let mut t: Option<Time> = None;
        for (kind, sg) in self.led_groups() {
            // The lease counts once the result may be acted on (announced): before that, the
            // confirmation deadline wakes us.
            let acting = self
                .el
                .groups
                .get(&(kind, sg.clone()))
                .and_then(|g| g.finished.as_ref())
                .is_some_and(|h| h.announced);
            let expiry = self.lease_expiry(kind, &sg).filter(|_| acting);
            let keepalive = self
                .lease_peers(kind, &sg)
                .iter()
                .map(|id| {
                    let heard = self.heard.get(*id).map_or(Time::ZERO, |t| *t + every);
                    let pinged = self
                        .el
                        .keepalive_at
                        .get(*id)
                        .map_or(Time::ZERO, |t| *t + every);
                    heard.max(pinged)
                })
                .min();
            for d in [expiry, keepalive].into_iter().flatten() {
                t = Some(t.map_or(d, |x| x.min(d)));
            }
        }
        t
    }
}
