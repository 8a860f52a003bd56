//! Probing: one member at a time, on a schedule the ring shares or (Habitat's profile) SWIM's
//! shuffled round-robin; the indirect probe through helpers when it does not answer in time,
//! and the pings that join and rejoin through the configured peers. What a failed probe leads
//! to (suspicion, confirmation) is `ring.rs`'s.
//!
//! The schedule ([`Config::scheduled_probes`]): the live members and this one, in id order,
//! stand in a circle of M; the ring's shared clock ([`crate::Boot::clock_phase`]) counts probe
//! rounds of one probe interval; in round r each member probes the one `1 + r mod (M − 1)`
//! places after it. That is a rotation of the circle, so while members agree on it (a ring not
//! changing) every member is probed by exactly one other in each round, and one that died is
//! first probed within two intervals. With independent shuffles a member goes unprobed for t
//! intervals with probability about e^−t: at 50 members, one crash in twenty waited 3 s or more
//! for its first probe, the tail of detection on a real ring. Over M − 1 rounds a member still
//! probes every other one once, as the round-robin does, and the probe rate is unchanged. A
//! member we hear is suspected ([`Ring::probe_next`]) takes the round's turn: probed as an
//! extra probe, each suspicion heard at 20 % loss started more, and suspicions tripled.

use super::*;

impl Ring {
    // ----- probing ---------------------------------------------------------------------------

    pub(super) fn pingable(&self, id: &MemberId) -> bool {
        self.members.get(id).is_some_and(|r| {
            r.health <= Health::Suspect || (r.member.persistent && r.health == Health::Confirmed)
        })
    }

    pub(super) fn next_probe_target(&mut self, now: Time) -> Option<Member> {
        if self.cfg.scheduled_probes {
            return self.scheduled_target(now);
        }
        for _ in 0..2 {
            while self.probe_index < self.probe_order.len() {
                let id = self.probe_order[self.probe_index].clone();
                self.probe_index += 1;
                if self.pingable(&id) {
                    return self.members.get(&id).map(|r| r.member.clone());
                }
            }
            // End of a round: rebuild and reshuffle the order from the pingable members.
            // The Alive then the Suspect ids (the live pool, in id order), then the persistent
            // Confirmed ones: only these records need a look.
            let mut order: Vec<MemberId> = self.members.live_pool().to_vec();
            order.extend(
                self.members
                    .with_health(Health::Confirmed)
                    .filter(|r| r.member.persistent)
                    .map(|r| r.member.id.clone()),
            );
            order.shuffle(&mut self.rng);
            self.probe_order = order;
            self.probe_index = 0;
        }
        None
    }

    /// Scheduled probes: the next member queued by [`Ring::probe_next`], which takes the turn
    /// of the round. (The round-robin holds them in its own order instead.)
    fn queued_probe(&mut self) -> Option<Member> {
        if !self.cfg.scheduled_probes {
            return None;
        }
        while self.probe_index < self.probe_order.len() {
            let id = self.probe_order[self.probe_index].clone();
            self.probe_index += 1;
            if self.pingable(&id) {
                return self.members.get(&id).map(|r| r.member.clone());
            }
        }
        self.probe_order.clear();
        self.probe_index = 0;
        None
    }

    /// The target of the round under way on the ring's clock (the module docs).
    fn scheduled_target(&mut self, now: Time) -> Option<Member> {
        let interval = self.cfg.probe_interval.as_nanos().max(1);
        let round = (now.as_duration() + self.clock_phase).as_nanos() / interval;
        let me = self.me.id.clone();
        let circle = self.members.probe_circle();
        if circle.is_empty() {
            return None;
        }
        // This member's place in the circle (it holds no record of itself), and M.
        let mine = circle.binary_search(&me).unwrap_or_else(|at| at);
        let m = circle.len() + 1;
        let step = 1 + usize::try_from(round % (m as u128 - 1)).unwrap_or(0);
        let place = (mine + step) % m;
        // Places after mine are one further on in `circle`, which lacks me.
        let id = circle[if place < mine { place } else { place - 1 }].clone();
        self.members.get(&id).map(|r| r.member.clone())
    }

    /// Probes `id` next: a member we hear is suspected gets a direct probe from us soon, which
    /// carries its suspect record (so it can refute) and either clears the suspicion for us by
    /// direct contact or adds our own independent confirmation.
    pub(super) fn probe_next(&mut self, id: &MemberId) {
        // Move its entry rather than add one: a round that grows with every suspicion heard
        // never ends, and members placed behind the index (newcomers) are never probed; under
        // churn, dead newcomers then stayed Alive (and uncollected) for good.
        if let Some(pos) = self.probe_order.iter().position(|x| x == id) {
            self.probe_order.remove(pos);
            if pos < self.probe_index {
                self.probe_index -= 1;
            }
        }
        let at = self.probe_index.min(self.probe_order.len());
        self.probe_order.insert(at, id.clone());
    }

    /// Places a member that turned Alive in the probe order. One new to us goes to a random
    /// place (as memberlist does). One back from Confirmed or Departed (`known`: it had a
    /// record) goes to a random place among the members this round has not probed yet, never
    /// behind the index: there it waited for the next round, N − 1 probe intervals, and a member
    /// that crashed again soon after it restarted went unprobed for as long (10 to 21 s on a
    /// local ring of 50). Its old entry may still be in this round (a rare scan): ahead of the
    /// index it stays; behind, it moves. (New members keep memberlist's place: probing them at
    /// once brought joiners more full syncs, `join --nodes 200` 0.91 → 1.48 MB.)
    pub(super) fn probe_soon(&mut self, id: &MemberId, known: bool) {
        if self.cfg.scheduled_probes {
            // The schedule takes it in from the next round.
            return;
        }
        let from = if known {
            if let Some(pos) = self.probe_order.iter().position(|x| x == id) {
                if pos >= self.probe_index {
                    return;
                }
                self.probe_order.remove(pos);
                self.probe_index -= 1;
            }
            self.probe_index.min(self.probe_order.len())
        } else {
            0
        };
        let at = self.rng.random_range(from..=self.probe_order.len());
        self.probe_order.insert(at, id.clone());
    }

    pub(super) fn start_probe(&mut self, now: Time) {
        let alive = self.members.count(Health::Alive);
        if !self.initial_peers.is_empty() && alive < self.initial_peers.len() / 2 + 1 {
            self.ping_initial_peers(false);
        }
        // A leader due for its extra probe goes first; the turn waits for it. Then a member we
        // hear is suspected (scheduled probes: queued apart), then the schedule or round-robin.
        let extra = self.leader_due_for_probe(now);
        self.probe_is_extra = extra.is_some();
        let Some(target) = extra
            .or_else(|| self.queued_probe())
            .or_else(|| self.next_probe_target(now))
        else {
            return;
        };
        self.stats.probes += 1;
        self.push_swim(
            target.swim_addr(),
            &target.id,
            SwimKind::Ping { forward_to: None },
            true,
        );
        self.probe = Probe::Direct {
            target: target.id,
            deadline: now + self.scaled(self.cfg.probe_timeout),
        };
    }

    pub(super) fn probe_deadlines(&mut self, now: Time) {
        match std::mem::replace(&mut self.probe, Probe::Idle) {
            Probe::Direct { target, deadline } if deadline <= now => {
                self.stats.indirect_probes += 1;
                let target_member = self.members.get(&target).map(|r| r.member.clone());
                if let Some(tm) = target_member {
                    let helpers =
                        self.random_members(self.cfg.indirect_probes, false, Some(&tm.id));
                    for h in helpers {
                        self.push_swim(
                            h.swim_addr(),
                            &h.id,
                            SwimKind::PingReq { target: tm.clone() },
                            true,
                        );
                    }
                }
                self.probe = Probe::Indirect {
                    target,
                    deadline: now + self.scaled(self.cfg.indirect_timeout),
                };
            }
            Probe::Indirect { target, deadline } if deadline <= now => {
                self.stats.failed_probes += 1;
                self.probe_failed(&target, now);
                let extra = std::mem::take(&mut self.probe_is_extra);
                if extra || now >= self.next_probe {
                    self.next_probe = now;
                }
            }
            other => self.probe = other,
        }
    }

    pub(super) fn probe_failed(&mut self, target: &MemberId, now: Time) {
        let Some(rec) = self.members.get(target) else {
            return;
        };
        match rec.health {
            Health::Alive => {
                self.stats.suspicions_raised += 1;
                let m = Membership {
                    member: rec.member.clone(),
                    health: Health::Suspect,
                };
                let change = self.members.set(&m, now);
                // The suspicion is ours: we are its originator, not a confirmation.
                let me = self.me.id.clone();
                self.on_member_change(target, change, Some(&me), now);
            }
            Health::Suspect => {
                // Our own failed probe is independent evidence.
                let me = self.me.id.clone();
                if let Some(s) = self.suspicions.get_mut(target)
                    && s.confirm(&me)
                {
                    let d = s.deadline;
                    self.suspicion_timers.push(Reverse((d, target.clone())));
                }
            }
            Health::Confirmed | Health::Departed => {}
        }
    }

    pub(super) fn ack_received(&mut self, from: &MemberId, now: Time) {
        let hit = match &self.probe {
            Probe::Direct { target, .. } | Probe::Indirect { target, .. } => target == from,
            Probe::Idle => false,
        };
        if hit {
            self.probe = Probe::Idle;
            self.local_health = self.local_health.saturating_sub(1);
            if std::mem::take(&mut self.probe_is_extra) {
                // The leader answered: the schedule or round-robin takes the turn it waited for
                // now (not at the past deadline, which would read as our own lateness).
                self.next_probe = now;
            }
        }
        if self.probe_pings.remove(from).is_some() {
            self.stats.confirmations_refuted += 1;
        }
    }

    pub(super) fn ping_initial_peers(&mut self, only_unknown: bool) {
        let peers = self.initial_peers.clone();
        for p in peers {
            if only_unknown && self.members.alive_at(p) {
                continue;
            }
            if p.ip() == self.me.address && p.port() == self.me.swim_port {
                continue;
            }
            let msg = Swim {
                from: self.me.clone(),
                kind: SwimKind::Ping { forward_to: None },
                membership: Vec::new(),
            };
            self.transmits.push_back(Transmit::Swim { to: p, msg });
        }
    }

    pub(super) fn reconnect(&mut self) {
        // One random Confirmed member: if it answers, the partition that hid it has healed.
        if let Some(t) = self
            .random_members_where(1, &[Health::Confirmed], |r| !r.member.persistent)
            .pop()
        {
            self.push_swim(
                t.swim_addr(),
                &t.id,
                SwimKind::Ping { forward_to: None },
                false,
            );
        }
        self.ping_initial_peers(true);
    }
}
