//! The member list: who is in the ring, with what health, under Habitat's acceptance rules.
//!
//! [`MemberList::merge`] is the plain rule of spec §3.2 (new id, higher incarnation, or same
//! incarnation and worse health). The special cases (direct contact, records about myself,
//! Confirmed verdicts that need a ProbePing first) are decisions of the ring and live in
//! `ring.rs`; they call [`MemberList::set`] when they override the rule. This module sends
//! nothing and keeps no timers; it enforces no size bound either (the ring decides whom to evict
//! when `Config::max_members` is reached, from [`MemberList::oldest`]).

use std::collections::{BTreeMap, BTreeSet};

use crate::member::{Health, Member, MemberId, Membership};
use crate::time::Time;

/// A known member and its health.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberRecord {
    /// The member's latest record.
    pub member: Member,
    /// Its health as this member holds it.
    pub health: Health,
    /// When `health` last changed.
    pub health_changed_at: Time,
    /// When the record last changed in any way (health, incarnation, address, ...).
    pub changed_at: Time,
}

/// What [`MemberList::merge`] or [`MemberList::set`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// The id was new.
    Added,
    /// The record changed; the previous health is given.
    Updated(Health),
    /// Nothing changed.
    Unchanged,
}

impl Change {
    /// Whether anything changed.
    pub fn changed(self) -> bool {
        !matches!(self, Change::Unchanged)
    }
}

/// Every member this member knows about, except itself.
#[derive(Clone, Debug, Default)]
pub struct MemberList {
    records: BTreeMap<MemberId, MemberRecord>,
    by_health: [BTreeSet<MemberId>; 4],
    /// Confirmed (0) and Departed (1) records by when their health last changed, oldest first.
    dead_by_age: [BTreeSet<(Time, MemberId)>; 2],
    update_counter: u64,
}

fn slot(h: Health) -> usize {
    match h {
        Health::Alive => 0,
        Health::Suspect => 1,
        Health::Confirmed => 2,
        Health::Departed => 3,
    }
}

fn dead_slot(h: Health) -> Option<usize> {
    match h {
        Health::Alive | Health::Suspect => None,
        Health::Confirmed => Some(0),
        Health::Departed => Some(1),
    }
}

/// Habitat's acceptance rule for a record about someone else (spec §3.2).
pub fn accepts(stored: Option<(&Member, Health)>, incoming: &Membership) -> bool {
    match stored {
        None => true,
        Some((m, h)) => {
            incoming.member.incarnation > m.incarnation
                || (incoming.member.incarnation == m.incarnation && incoming.health > h)
        }
    }
}

impl MemberList {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// The record for `id`.
    pub fn get(&self, id: &MemberId) -> Option<&MemberRecord> {
        self.records.get(id)
    }

    /// The health held for `id`.
    pub fn health(&self, id: &MemberId) -> Option<Health> {
        self.records.get(id).map(|r| r.health)
    }

    /// Applies the plain acceptance rule of spec §3.2.
    pub fn merge(&mut self, incoming: &Membership, now: Time) -> Change {
        let stored = self
            .records
            .get(&incoming.member.id)
            .map(|r| (&r.member, r.health));
        if accepts(stored, incoming) {
            self.set(incoming, now)
        } else {
            Change::Unchanged
        }
    }

    /// Stores `incoming` unconditionally (for the cases that override the rule).
    pub fn set(&mut self, incoming: &Membership, now: Time) -> Change {
        match self.records.get_mut(&incoming.member.id) {
            None => {
                self.update_counter += 1;
                self.by_health[slot(incoming.health)].insert(incoming.member.id.clone());
                if let Some(d) = dead_slot(incoming.health) {
                    self.dead_by_age[d].insert((now, incoming.member.id.clone()));
                }
                self.records.insert(
                    incoming.member.id.clone(),
                    MemberRecord {
                        member: incoming.member.clone(),
                        health: incoming.health,
                        health_changed_at: now,
                        changed_at: now,
                    },
                );
                Change::Added
            }
            Some(rec) => {
                if rec.member == incoming.member && rec.health == incoming.health {
                    return Change::Unchanged;
                }
                self.update_counter += 1;
                let previous = rec.health;
                if previous != incoming.health {
                    self.by_health[slot(previous)].remove(&incoming.member.id);
                    self.by_health[slot(incoming.health)].insert(incoming.member.id.clone());
                    if let Some(d) = dead_slot(previous) {
                        self.dead_by_age[d]
                            .remove(&(rec.health_changed_at, incoming.member.id.clone()));
                    }
                    if let Some(d) = dead_slot(incoming.health) {
                        self.dead_by_age[d].insert((now, incoming.member.id.clone()));
                    }
                    rec.health_changed_at = now;
                }
                rec.member = incoming.member.clone();
                rec.health = incoming.health;
                rec.changed_at = now;
                Change::Updated(previous)
            }
        }
    }

    /// Forgets `id` entirely (garbage collection).
    pub fn remove(&mut self, id: &MemberId) -> Option<MemberRecord> {
        let rec = self.records.remove(id)?;
        self.by_health[slot(rec.health)].remove(id);
        if let Some(d) = dead_slot(rec.health) {
            self.dead_by_age[d].remove(&(rec.health_changed_at, id.clone()));
        }
        self.update_counter += 1;
        Some(rec)
    }

    /// How many times a record was added, changed or removed.
    pub fn update_counter(&self) -> u64 {
        self.update_counter
    }

    /// Every record, in id order.
    pub fn iter(&self) -> impl Iterator<Item = &MemberRecord> {
        self.records.values()
    }

    /// Number of records held with `health`.
    pub fn count(&self, health: Health) -> usize {
        self.by_health[slot(health)].len()
    }

    /// The records held with `health`, in id order (cheap when few members have that health).
    pub fn with_health(&self, health: Health) -> impl Iterator<Item = &MemberRecord> {
        self.by_health[slot(health)]
            .iter()
            .filter_map(|id| self.records.get(id))
    }

    /// The Confirmed or Departed records, oldest health change first (ties in id order); nothing
    /// for Alive or Suspect.
    pub fn oldest(&self, health: Health) -> impl Iterator<Item = &MemberRecord> {
        dead_slot(health)
            .into_iter()
            .flat_map(|d| self.dead_by_age[d].iter())
            .filter_map(|(_, id)| self.records.get(id))
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};

    fn ms(id: &str, inc: u64, health: Health) -> Membership {
        Membership {
            member: Member {
                id: id.into(),
                incarnation: inc,
                address: IpAddr::V4(Ipv4Addr::LOCALHOST),
                swim_port: 9638,
                gossip_port: 9638,
                persistent: false,
                departed: false,
            },
            health,
        }
    }

    #[test]
    fn habitat_acceptance_table() {
        let mut l = MemberList::new();
        let t = Time::ZERO;
        assert_eq!(l.merge(&ms("a", 1, Health::Alive), t), Change::Added);
        // same incarnation, better health: rejected
        assert_eq!(l.merge(&ms("a", 1, Health::Alive), t), Change::Unchanged);
        // same incarnation, worse health: accepted
        assert_eq!(
            l.merge(&ms("a", 1, Health::Suspect), t),
            Change::Updated(Health::Alive)
        );
        assert_eq!(l.merge(&ms("a", 1, Health::Alive), t), Change::Unchanged);
        // higher incarnation, any health: accepted
        assert_eq!(
            l.merge(&ms("a", 2, Health::Alive), t),
            Change::Updated(Health::Suspect)
        );
        // lower incarnation: rejected even if worse
        assert_eq!(l.merge(&ms("a", 1, Health::Departed), t), Change::Unchanged);
        assert_eq!(l.count(Health::Alive), 1);
        assert_eq!(l.count(Health::Suspect), 0);
    }

    #[test]
    fn dead_records_are_listed_oldest_first_and_follow_changes() {
        let mut l = MemberList::new();
        let at = Time::from_millis;
        l.set(&ms("c", 0, Health::Confirmed), at(3));
        l.set(&ms("a", 0, Health::Confirmed), at(5));
        l.set(&ms("b", 0, Health::Alive), at(1));
        l.set(&ms("b", 0, Health::Confirmed), at(4));
        l.set(&ms("d", 0, Health::Departed), at(2));
        let ids = |l: &MemberList, h| -> Vec<String> {
            l.oldest(h)
                .map(|r| r.member.id.as_str().to_owned())
                .collect()
        };
        assert_eq!(ids(&l, Health::Confirmed), ["c", "b", "a"]);
        assert_eq!(ids(&l, Health::Departed), ["d"]);
        assert!(ids(&l, Health::Alive).is_empty());
        // c departs (leaves the Confirmed order), b is removed, a refutes with a new incarnation.
        l.set(&ms("c", 0, Health::Departed), at(6));
        l.remove(&MemberId::from("b"));
        l.set(&ms("a", 1, Health::Alive), at(7));
        assert!(ids(&l, Health::Confirmed).is_empty());
        assert_eq!(ids(&l, Health::Departed), ["d", "c"]);
    }
}
