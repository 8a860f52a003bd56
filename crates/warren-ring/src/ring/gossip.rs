//! Spreading what changed: a gossip round pushes hot keys to a few random members (rounds run
//! only while something is hot, on a cadence kept through idle spells), and anti-entropy pushes
//! this member's state (all of it, or a window of it) to one member. What is hot and who holds
//! it is `Dissemination`'s; choosing members is `Ring::random_members`.

use super::*;

impl Ring {
    /// Makes `key` hot with `budget` sends. The first hot key after an idle spell puts the
    /// gossip round on the first point of its cadence from now (`seen`), where the round would
    /// have been had the empty ones in between run. Placed here, once, and not recomputed at
    /// each wake: a shell wakes a little after its deadline, and a round placed from the time it
    /// woke would slip to the next point every time and never run.
    pub(super) fn heat(&mut self, key: RumorKey, budget: u32, holder: Option<&MemberId>) {
        if self.dissem.is_empty() {
            self.next_gossip = self.cadence_from(self.seen);
        }
        self.dissem.start(key, budget, holder);
    }

    /// The first point of the gossip cadence (`next_gossip` plus whole gossip intervals) not
    /// before `t`.
    pub(super) fn cadence_from(&self, t: Time) -> Time {
        let behind = t.saturating_since(self.next_gossip);
        if behind.is_zero() {
            return self.next_gossip;
        }
        let every = self.cfg.gossip_interval.as_nanos().max(1);
        let rounds = u32::try_from(behind.as_nanos().div_ceil(every)).unwrap_or(u32::MAX);
        self.next_gossip + self.cfg.gossip_interval.saturating_mul(rounds)
    }

    /// Notes the time an input carried (see [`Ring::heat`]).
    pub(super) fn saw(&mut self, now: Time) {
        self.seen = self.seen.max(now);
    }

    pub(super) fn gossip_round(&mut self) {
        self.dissem.age(self.max_hot_rounds());
        if self.dissem.is_empty() {
            return;
        }
        let targets = self.random_members(self.cfg.gossip_fanout, true, None);
        for t in targets {
            let target_alive = self.members.health(&t.id) == Some(Health::Alive);
            let keys = self
                .dissem
                .candidates(&t.id, self.cfg.max_rumors_per_push, |k| match k {
                    // A member learns nothing from its own Alive record.
                    RumorKey::Member(id) => !(id == &t.id && target_alive),
                    _ => true,
                });
            let mut rumors = Vec::new();
            for key in keys {
                match self.rumor_for(&key) {
                    Some(r) => {
                        self.dissem.mark_sent(&key, &t.id);
                        rumors.push(r);
                    }
                    None => self.dissem.remove(&key),
                }
            }
            if !rumors.is_empty() {
                self.transmits.push_back(Transmit::Rumors {
                    to: t.gossip_addr(),
                    to_id: t.id,
                    rumors,
                });
            }
        }
    }

    /// How many gossip rounds a key stays hot at most: four times its send budget, and never
    /// less than twice the rounds this member needs to send every hot key a join's budget.
    ///
    /// A ring forming from one seed makes every member relay every join. In a ring of 5 000 a
    /// member holds more hot keys than `fanout × max_rumors_per_push` sends a round could spend
    /// a budget on within four budgets' rounds (a ring of 3 000 does not yet), and an age-out
    /// that cut their budgets short left pairs for anti-entropy, slow to repair at that size:
    /// the ring did not converge within 120 s.
    pub(super) fn max_hot_rounds(&self) -> u32 {
        let n = self.cluster_size();
        let per_round = (self.cfg.gossip_fanout * self.cfg.max_rumors_per_push).max(1) as u64;
        let to_send =
            self.dissem.len() as u64 * u64::from(join_budget(self.cfg.retransmit_mult, n));
        let drain = u32::try_from(to_send.div_ceil(per_round)).unwrap_or(u32::MAX);
        (4 * budget(self.cfg.retransmit_mult, n)).max(drain.saturating_mul(2))
    }

    /// Anti-entropy to one member: everything this member holds when `how` is
    /// [`SyncKind::Full`] or when it fits one window (`Config::sync_window_mult`); else a window
    /// of it (see [`SyncKind::Periodic`]).
    pub(super) fn sync_to(&mut self, target: &Member, now: Time, how: SyncKind) {
        if let Some((last, _)) = self.last_sync.get(&target.id)
            && now.saturating_since(*last) < self.cfg.sync_interval / 2
        {
            return;
        }
        self.stats.syncs += 1;
        let total = self.members.len() + self.store.len();
        let window = budget(self.cfg.sync_window_mult, self.cluster_size()) as usize;
        // The rotation's window and the oldest change that goes in regardless, when windowed.
        let windowed = (how == SyncKind::Periodic && total > window).then(|| {
            self.stats.windowed_syncs += 1;
            let start = self.sync_pos % total;
            self.sync_pos = (start + window) % total;
            let since = now - (self.cfg.sync_interval * 2).min(now.as_duration());
            (start, since)
        });
        if windowed.is_none() {
            // Only a push of everything counts as a sync of the target: a window must not stand
            // in for the full sync a young or restarted member is owed.
            self.last_sync
                .insert(target.id.clone(), (now, target.incarnation));
        }
        let goes = |pos: usize, changed_at: Time| match windowed {
            None => true,
            Some((start, since)) => (pos + total - start) % total < window || changed_at >= since,
        };
        let mut rumors = Vec::with_capacity(if windowed.is_some() { window } else { total } + 1);
        if let Some(m) = self.membership_of(&self.me.id.clone()) {
            rumors.push(Rumor::Member {
                from: self.me.id.clone(),
                membership: m,
            });
        }
        let mut sent = Vec::new();
        // The member records that go: all of them, or (windowed) the rotation's part of them and
        // those changed lately, found without reading the others.
        let chosen: Vec<&MemberRecord> = match windowed {
            None => self.members.iter().collect(),
            Some((start, since)) => {
                let held = self.members.len();
                let mut ids: std::collections::BTreeSet<&MemberId> = self
                    .members
                    .changed_since(since)
                    .map(|r| &r.member.id)
                    .collect();
                // The window is positions start.. start + window of members then rumors,
                // wrapping past the end; its member part is at most two runs of ids.
                let end = start + window;
                let runs = [(start, end.min(total)), (0, end.saturating_sub(total))];
                for (from, to) in runs {
                    let to = to.min(held);
                    if from < to {
                        ids.extend(self.members.ids_window(from, to, &mut self.sync_cursor));
                    }
                }
                ids.into_iter()
                    .filter_map(|id| self.members.get(id))
                    .collect()
            }
        };
        for r in chosen {
            // Departed records teach nothing to a member that does not know them (it ignores
            // them) and the departure itself was disseminated when it happened.
            if r.member.id == target.id || r.health == Health::Departed {
                continue;
            }
            rumors.push(Rumor::Member {
                from: self.me.id.clone(),
                membership: Membership {
                    member: r.member.clone(),
                    health: r.health,
                },
            });
            if windowed.is_some() {
                sent.push(RumorKey::Member(r.member.id.clone()));
            }
        }
        let first_rumor = self.members.len();
        for (pos, (key, e)) in self.store.iter().enumerate() {
            // What we are about to collect would only be stored afresh by a member that already
            // collected it, and come back to us from there: a ping-pong that never collects.
            if !goes(first_rumor + pos, e.changed_at)
                || self.owner_gone(key, true)
                || self.collectable(key, e, now)
            {
                continue;
            }
            rumors.push(e.rumor.clone());
            sent.push(key.clone());
        }
        for key in &sent {
            self.dissem.add_holder(key, &target.id);
        }
        if windowed.is_none() {
            // Every member key counts as held after a full push, Departed ones too (their
            // departure spread when it happened).
            let members = &self.members;
            self.dissem.add_holder_where(
                &target.id,
                |k| matches!(k, RumorKey::Member(id) if members.get(id).is_some()),
            );
        }
        self.transmits.push_back(Transmit::Rumors {
            to: target.gossip_addr(),
            to_id: target.id.clone(),
            rumors,
        });
    }
}
