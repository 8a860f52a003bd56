//! The leader lease (Warren's rules): a leader acts only while it has heard directly from a
//! quorum of its group within `Config::leader_lease`, pings the members it has not heard from
//! lately, and a follower that heard from its leader within `Config::follower_guard` does not
//! replace it.
//!
//! Only the timings and the bookkeeping live here; stepping down is `judge.rs`'s
//! (`Restart::LeaseLost`), and what was heard directly is the ring's (`RingView::heard`).

use super::{ElectionCtx, Elections, Output, RingView};
use crate::election::{ElectionKind, ElectionRules, Lease, has_quorum};
use crate::member::{Health, MemberId};
use crate::time::Time;

impl RingView<'_> {
    /// Whether `id` reached this member directly within the follower guard
    /// ([`crate::Config::follower_guard`]; Warren's rules only).
    pub(super) fn heard_recently(&self, id: &MemberId, now: Time) -> bool {
        self.cfg.election.rules == ElectionRules::Warren
            && self
                .heard
                .get(id)
                .is_some_and(|t| now < *t + self.cfg.follower_guard())
    }

    /// When a quorum of `set` (me counted when I am in it, or anyway as the one judging) stops
    /// having been heard within the lease.
    fn lease_expiry_over(&self, set: &[&MemberId]) -> Option<Time> {
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
}

impl Elections {
    /// The members of my `kind` election of `sg` other than me that count for my lease: the
    /// population as I last judged it, and the voters of the last agreed result.
    fn lease_peers<'a>(
        &'a self,
        rv: RingView<'_>,
        kind: ElectionKind,
        sg: &str,
    ) -> Vec<&'a MemberId> {
        let Some(g) = self.groups.get(&(kind, sg.to_owned())) else {
            return Vec::new();
        };
        let mut out: Vec<&MemberId> = g.view.population.iter().collect();
        for id in &g.view.agreed {
            if !out.contains(&id) {
                out.push(id);
            }
        }
        out.retain(|id| **id != rv.me.id);
        out
    }

    /// When my lease in `kind`'s election of `sg` runs out, as things stand: a quorum of the
    /// population and a quorum of the last agreed result's voters (me included in each) must
    /// have been heard within the lease; a new term needs a majority of those voters, so one of
    /// them is a member I counted, and it does not vote while it heard from me within the
    /// follower guard. `None`: it never runs out (a group of one).
    fn lease_expiry(&self, rv: RingView<'_>, kind: ElectionKind, sg: &str) -> Option<Time> {
        let g = self.groups.get(&(kind, sg.to_owned()))?;
        let population: Vec<&MemberId> = g.view.population.iter().collect();
        let agreed: Vec<&MemberId> = g.view.agreed.iter().collect();
        [population, agreed]
            .into_iter()
            .filter(|set| !set.is_empty())
            .filter_map(|set| rv.lease_expiry_over(&set))
            .min()
    }

    /// Whether my lease in `kind`'s election of `sg` holds at `now` (always, under Habitat's
    /// rules).
    pub(super) fn lease(&self, rv: RingView<'_>, kind: ElectionKind, sg: &str, now: Time) -> Lease {
        if rv.cfg.election.rules != ElectionRules::Warren {
            return Lease::Held;
        }
        match self.lease_expiry(rv, kind, sg) {
            Some(t) if now >= t => Lease::Lost,
            _ => Lease::Held,
        }
    }

    /// The groups I belong to whose Finished result names me (or whose result I am re-running).
    fn led_groups(&self, rv: RingView<'_>) -> Vec<(ElectionKind, String)> {
        self.groups
            .keys()
            .filter(|(kind, sg)| {
                rv.in_group(sg)
                    && self
                        .acting_result(rv, *kind, sg)
                        .is_some_and(|h| h.leader == rv.me.id)
            })
            .cloned()
            .collect()
    }

    /// Warren: while I lead, pings the members of my groups I have not heard from for a quarter
    /// of the lease (their Acks renew it): [`Output::KeepAlive`].
    pub(super) fn lease_keepalive(&mut self, cx: &mut ElectionCtx<'_>, now: Time) {
        if cx.cfg.election.rules != ElectionRules::Warren || cx.left || self.groups.is_empty() {
            return;
        }
        let every = cx.cfg.leader_lease() / 4;
        let rv = cx.view();
        let mut due: Vec<MemberId> = Vec::new();
        for (kind, sg) in self.led_groups(rv) {
            for id in self.lease_peers(rv, kind, &sg) {
                let quiet = rv.heard.get(id).is_none_or(|t| now >= *t + every);
                let unpinged = self.keepalive_at.get(id).is_none_or(|t| now >= *t + every);
                if quiet && unpinged && !due.contains(id) {
                    due.push(id.clone());
                }
            }
        }
        for id in due {
            // Marked even when unreachable (Confirmed, unknown), so the deadline moves on.
            self.keepalive_at.insert(id.clone(), now);
            if let Some(r) = cx.members.get(&id).filter(|r| r.health <= Health::Suspect) {
                cx.out.push(Output::KeepAlive(r.member.clone()));
            }
        }
    }

    /// When the lease keep-alive or a lease expiry next needs a look.
    pub(super) fn lease_deadline(&self, rv: RingView<'_>) -> Option<Time> {
        if rv.cfg.election.rules != ElectionRules::Warren || rv.left || self.groups.is_empty() {
            return None;
        }
        let every = rv.cfg.leader_lease() / 4;
        let mut t: Option<Time> = None;
        for (kind, sg) in self.led_groups(rv) {
            // The lease counts once the result may be acted on (announced): before that, the
            // confirmation deadline wakes us.
            let acting = self
                .groups
                .get(&(kind, sg.clone()))
                .and_then(|g| g.finished.as_ref())
                .is_some_and(|h| h.announced);
            let expiry = self.lease_expiry(rv, kind, &sg).filter(|_| acting);
            let keepalive = self
                .lease_peers(rv, kind, &sg)
                .iter()
                .map(|id| {
                    let heard = rv.heard.get(*id).map_or(Time::ZERO, |t| *t + every);
                    let pinged = self
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
