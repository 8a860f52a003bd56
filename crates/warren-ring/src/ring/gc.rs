//! Garbage collection: rumors whose owner or group is gone past the GC age, members Departed or
//! Confirmed long enough, and the bound on member records (`Config::max_members`), which makes
//! room by forgetting the dead first. Nothing here sends anything.

use super::*;

impl Ring {
    // ----- garbage collection ----------------------------------------------------------------

    pub(super) fn collect(&mut self, now: Time) {
        self.relays.retain(|_, until| *until > now);
        // Only the dead records old enough are read (oldest first), then handled in id order.
        let old =
            |r: &&MemberRecord, age: Duration| now.saturating_since(r.health_changed_at) >= age;
        let mut expire: Vec<Member> = self
            .members
            .oldest(Health::Confirmed)
            .take_while(|r| old(r, self.cfg.departure_timeout))
            // Permanent peers are always pinged (spec §3.5): they never expire.
            .filter(|r| !r.member.persistent)
            .map(|r| r.member.clone())
            .collect();
        expire.sort_by(|a, b| a.id.cmp(&b.id));
        let mut forget: Vec<MemberId> = self
            .members
            .oldest(Health::Departed)
            .take_while(|r| old(r, self.cfg.gc_age))
            .map(|r| r.member.id.clone())
            .collect();
        forget.sort();
        for m in expire {
            let id = m.id.clone();
            let change = self.members.set(
                &Membership {
                    member: m,
                    health: Health::Departed,
                },
                now,
            );
            self.on_member_change(&id, change, None, now);
        }
        for id in forget {
            self.forget_member(id);
            self.stats.collected += 1;
        }
        let drop: Vec<RumorKey> = self
            .store
            .iter()
            .filter(|(key, e)| self.collectable(key, e, now))
            .map(|(key, _)| key.clone())
            .collect();
        for key in drop {
            self.store.remove(&key);
            self.dissem.remove(&key);
            self.stats.collected += 1;
            self.events.push_back(Event::RumorRemoved(key));
        }
    }

    /// Whether the rumor under `key` is garbage at `now`. Every kind must have been unchanged for
    /// `gc_age` first; then a Service rumor goes when its owner is unknown or Departed for
    /// `gc_age`, a Departure tombstone goes, an election goes when its group has no Service
    /// rumor left, and gossiped config and files go when their group has had no live member for
    /// `gc_age` (`group_lately_live`). Member records are not rumors here.
    pub(super) fn collectable(&self, key: &RumorKey, e: &Entry, now: Time) -> bool {
        let gc_age = self.cfg.gc_age;
        if now.saturating_since(e.changed_at) < gc_age {
            return false;
        }
        match key {
            // A withdrawn service is gone from its group: only its tombstone remains.
            RumorKey::Service(..) if matches!(&e.rumor, Rumor::Service(s) if s.withdrawn) => true,
            RumorKey::Service(_, owner) => match self.members.get(owner) {
                None => *owner != self.me.id,
                Some(r) => {
                    r.health == Health::Departed
                        && now.saturating_since(r.health_changed_at) >= gc_age
                }
            },
            RumorKey::Departure(_) => true,
            RumorKey::Election(sg) | RumorKey::ElectionUpdate(sg) => {
                self.store.services_in(sg).next().is_none()
            }
            RumorKey::ServiceConfig(sg) | RumorKey::ServiceFile(sg, _) => {
                !self.group_lately_live(sg, now)
            }
            RumorKey::Member(_) => false,
        }
    }

    /// Whether service group `sg` has a live member (a Service rumor of ours, or of a member
    /// held Alive or Suspect), or had one less than `gc_age` ago: a Service rumor that changed,
    /// or whose owner's health changed, within `gc_age`. Stateless, so a group whose Service
    /// rumors were all collected counts as long dead; a config for a group nobody ever ran is
    /// kept `gc_age` from its arrival, by the age rule of `collectable`.
    pub(super) fn group_lately_live(&self, sg: &str, now: Time) -> bool {
        let gc_age = self.cfg.gc_age;
        self.store.services_in(sg).any(|owner| {
            if *owner == self.me.id {
                return true;
            }
            let changed_lately = self
                .store
                .get(&RumorKey::Service(sg.to_owned(), owner.clone()))
                .is_some_and(|e| now.saturating_since(e.changed_at) < gc_age);
            changed_lately
                || self.members.get(owner).is_some_and(|r| {
                    r.health <= Health::Suspect
                        || now.saturating_since(r.health_changed_at) < gc_age
                })
        })
    }

    /// Forgets member `id` and everything kept about it (GC, or eviction to make room).
    pub(super) fn forget_member(&mut self, id: MemberId) {
        self.members.remove(&id);
        self.dissem.remove(&RumorKey::Member(id.clone()));
        self.dissem.forget_holder(&id);
        self.last_sync.remove(&id);
        self.heard.remove(&id);
        self.suspicions.remove(&id);
        self.probe_pings.remove(&id);
        self.probe_order.retain(|x| *x != id);
        self.probe_index = self.probe_index.min(self.probe_order.len());
        self.el.forget_member(&id);
        self.events.push_back(Event::MemberRemoved(id));
    }

    // ----- member bound ----------------------------------------------------------------------

    /// Makes room for one new member record under `Config::max_members`: forgets a dead record
    /// if the list is full. Returns `false` when the newcomer must be refused (only live or
    /// protected records remain).
    pub(super) fn make_room(&mut self) -> bool {
        if self.members.len() < self.cfg.max_members {
            return true;
        }
        match self.eviction_candidate() {
            Some(id) => {
                self.forget_member(id);
                self.stats.members_evicted += 1;
                self.members.len() < self.cfg.max_members
            }
            None => false,
        }
    }

    /// The dead record to forget first: Departed, then Confirmed, oldest health change first,
    /// skipping permanent peers and members of the groups we run a service in; then a Departed
    /// member of those groups (Departed members are out of every election population already).
    /// A Confirmed member of our groups is never chosen: it still counts against quorum, and
    /// forgetting it could let a minority elect a leader.
    pub(super) fn eviction_candidate(&self) -> Option<MemberId> {
        let dead = self.members.count(Health::Departed) + self.members.count(Health::Confirmed);
        if dead == 0 {
            // A list full of live members (a flood of fresh ids): refuse at no cost.
            return None;
        }
        let mine: Vec<&str> = self
            .store
            .iter()
            .filter_map(|(k, _)| match k {
                RumorKey::Service(sg, owner) if *owner == self.me.id => Some(sg.as_str()),
                _ => None,
            })
            .collect();
        let in_my_groups = |id: &MemberId| {
            mine.iter().any(|sg| {
                self.store
                    .get(&RumorKey::Service((*sg).to_owned(), id.clone()))
                    .is_some()
            })
        };
        [Health::Departed, Health::Confirmed]
            .into_iter()
            .flat_map(|h| self.members.oldest(h))
            .find(|r| !r.member.persistent && !in_my_groups(&r.member.id))
            .or_else(|| {
                self.members
                    .oldest(Health::Departed)
                    .find(|r| !r.member.persistent)
            })
            .map(|r| r.member.id.clone())
    }
}
