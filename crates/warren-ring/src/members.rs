//! The member list: who is in the ring, with what health, under Habitat's acceptance rules.
//!
//! [`MemberList::merge`] is the plain rule of spec §3.2 (new id, higher incarnation, or same
//! incarnation and worse health). The special cases (direct contact, records about myself,
//! Confirmed verdicts that need a ProbePing first) are decisions of the ring and live in
//! `ring.rs`; they call [`MemberList::set`] when they override the rule. This module sends
//! nothing and keeps no timers; it enforces no size bound either (the ring decides whom to evict
//! when `Config::max_members` is reached, from [`MemberList::oldest`]).

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::net::SocketAddr;
use std::ops::Bound;
use std::time::Duration;

use foldhash::fast::FixedState;

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
///
/// Records are found by hash (a lookup per received record costs the same at 10 or 5 000
/// members); the id-ordered sets serve iteration and are touched only when a record is added,
/// removed or changes health.
#[derive(Clone, Debug)]
pub struct MemberList {
    records: HashMap<MemberId, MemberRecord, FixedState>,
    /// Every id held, in id order.
    ids: BTreeSet<MemberId>,
    by_health: [BTreeSet<MemberId>; 4],
    /// Confirmed (0) and Departed (1) records by when their health last changed, oldest first.
    dead_by_age: [BTreeSet<(Time, MemberId)>; 2],
    /// For each watched SWIM address ([`MemberList::watch`]: the initial peers, a handful), how
    /// many Alive records use it.
    alive_addrs: Vec<(SocketAddr, u32)>,
    /// The Alive ids then the Suspect ones, for random draws: built on demand (see
    /// [`MemberList::live_pool`]) and dropped when a record is added, removed or changes health.
    live_pool: Option<Vec<MemberId>>,
    /// The ids scheduled probes go round, in id order: built on demand (see
    /// [`MemberList::probe_circle`]) and dropped as `live_pool` is, and when a record's
    /// `persistent` flag changes.
    probe_circle: Option<Vec<MemberId>>,
    /// `(when, id)` for every add or change within `change_horizon` (oldest first; an id changed
    /// twice appears twice, only the entry matching its record's `changed_at` counts).
    changes: VecDeque<(Time, MemberId)>,
    change_horizon: Duration,
    update_counter: u64,
    /// Bumped when an id is added or removed (not when a record changes): an [`IdCursor`] made
    /// at another value no longer points where it says.
    ids_version: u64,
}

/// Where a walk in id order stopped ([`MemberList::ids_window`]), so the next window that
/// starts there does not walk the ids before it. Valid while no id is added or removed.
#[derive(Clone, Debug, Default)]
pub struct IdCursor {
    version: u64,
    pos: usize,
    id: Option<MemberId>,
}

/// How long [`MemberList::changed_since`] looks back by default.
pub const DEFAULT_CHANGE_HORIZON: Duration = Duration::from_secs(60);

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

/// Counts one more (`add`) or one fewer Alive record at `addr`, if it is watched.
fn count_addr(counts: &mut [(SocketAddr, u32)], addr: SocketAddr, add: bool) {
    for (a, n) in counts.iter_mut() {
        if *a == addr {
            *n = if add { *n + 1 } else { n.saturating_sub(1) };
        }
    }
}

/// Habitat's acceptance rule for a record about someone else (spec §3.2).
pub fn accepts(stored: Option<(&Member, Health)>, incoming: &Membership) -> bool {
    accepts_over(stored.map(|(m, h)| (m.incarnation, h)), incoming)
}

/// [`accepts`] over what decides it: the incarnation and health held, if any.
pub fn accepts_over(held: Option<(u64, Health)>, incoming: &Membership) -> bool {
    match held {
        None => true,
        Some((inc, h)) => {
            incoming.member.incarnation > inc
                || (incoming.member.incarnation == inc && incoming.health > h)
        }
    }
}

impl Default for MemberList {
    fn default() -> Self {
        Self::new()
    }
}

impl MemberList {
    /// An empty list; its hash table keyed with a fixed seed (deterministic, for tests).
    pub fn new() -> Self {
        Self::with_hash_seed(0, DEFAULT_CHANGE_HORIZON)
    }

    /// An empty list whose hash tables are keyed with `seed` (a ring passes one drawn from its
    /// own seed, so peers cannot choose member ids that collide, and a simulated ring stays
    /// deterministic), remembering its changes for `change_horizon`.
    pub fn with_hash_seed(seed: u64, change_horizon: Duration) -> Self {
        MemberList {
            records: HashMap::with_hasher(FixedState::with_seed(seed)),
            ids: BTreeSet::new(),
            by_health: Default::default(),
            dead_by_age: Default::default(),
            alive_addrs: Vec::new(),
            live_pool: None,
            probe_circle: None,
            changes: VecDeque::new(),
            change_horizon,
            update_counter: 0,
            ids_version: 0,
        }
    }

    fn log_change(&mut self, id: &MemberId, now: Time) {
        let horizon = now - self.change_horizon;
        while self.changes.front().is_some_and(|(t, _)| *t < horizon) {
            self.changes.pop_front();
        }
        self.changes.push_back((now, id.clone()));
    }

    /// The records added or changed at `since` or later (within the change horizon), newest
    /// first, without reading the others. A record changed twice at one instant comes twice.
    pub fn changed_since(&self, since: Time) -> impl Iterator<Item = &MemberRecord> {
        self.changes
            .iter()
            .rev()
            .take_while(move |(t, _)| *t >= since)
            .filter_map(|(t, id)| self.records.get(id).filter(|r| r.changed_at == *t))
    }

    /// The ids at positions `from..to` (0-based, in id order), and `cursor` left at `to`.
    ///
    /// A window that starts where the cursor stopped (the windowed push's rotation, while no id
    /// came or went) costs O(log N + its length); any other walks the `from` ids before it.
    pub fn ids_window(&self, from: usize, to: usize, cursor: &mut IdCursor) -> Vec<&MemberId> {
        let resume = match &cursor.id {
            Some(id) if cursor.version == self.ids_version && cursor.pos == from => Some(id),
            _ => None,
        };
        let (first, skip) = match resume {
            Some(id) => (Bound::Included(id), 0),
            None => (Bound::Unbounded, from),
        };
        let mut it = self.ids.range((first, Bound::Unbounded)).skip(skip);
        let out: Vec<&MemberId> = it.by_ref().take(to.saturating_sub(from)).collect();
        *cursor = IdCursor {
            version: self.ids_version,
            pos: from + out.len(),
            id: it.next().cloned(),
        };
        out
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
                self.ids_version += 1;
                self.live_pool = None;
                self.probe_circle = None;
                self.ids.insert(incoming.member.id.clone());
                self.by_health[slot(incoming.health)].insert(incoming.member.id.clone());
                if incoming.health == Health::Alive {
                    count_addr(&mut self.alive_addrs, incoming.member.swim_addr(), true);
                }
                if let Some(d) = dead_slot(incoming.health) {
                    self.dead_by_age[d].insert((now, incoming.member.id.clone()));
                }
                self.log_change(&incoming.member.id, now);
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
                if previous == Health::Alive {
                    count_addr(&mut self.alive_addrs, rec.member.swim_addr(), false);
                }
                if incoming.health == Health::Alive {
                    count_addr(&mut self.alive_addrs, incoming.member.swim_addr(), true);
                }
                if previous != incoming.health
                    || rec.member.persistent != incoming.member.persistent
                {
                    self.probe_circle = None;
                }
                if previous != incoming.health {
                    self.live_pool = None;
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
                self.log_change(&incoming.member.id, now);
                Change::Updated(previous)
            }
        }
    }

    /// Forgets `id` entirely (garbage collection).
    pub fn remove(&mut self, id: &MemberId) -> Option<MemberRecord> {
        let rec = self.records.remove(id)?;
        self.live_pool = None;
        self.probe_circle = None;
        if rec.health == Health::Alive {
            count_addr(&mut self.alive_addrs, rec.member.swim_addr(), false);
        }
        self.ids.remove(id);
        self.ids_version += 1;
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
        self.ids.iter().filter_map(|id| self.records.get(id))
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

    /// The members a scheduled probe round goes round, in id order: the Alive and Suspect ones,
    /// and the persistent Confirmed ones (as the round-robin). Built once and kept until a
    /// record is added, removed, changes health or persistence.
    pub fn probe_circle(&mut self) -> &[MemberId] {
        let by_health = &self.by_health;
        let records = &self.records;
        self.probe_circle.get_or_insert_with(|| {
            // The Alive ids come in order; the others (few, but for a partition) are merged in.
            let mut ids: Vec<MemberId> = by_health[slot(Health::Alive)].iter().cloned().collect();
            let alive = ids.len();
            ids.extend(by_health[slot(Health::Suspect)].iter().cloned());
            ids.extend(
                by_health[slot(Health::Confirmed)]
                    .iter()
                    .filter(|id| records.get(*id).is_some_and(|r| r.member.persistent))
                    .cloned(),
            );
            if ids.len() > alive {
                ids.sort_unstable();
            }
            ids
        })
    }

    /// The Alive ids in id order, then the Suspect ones in id order (so the first
    /// `count(Alive)` are the Alive ones). Built once and kept until a record is added, removed
    /// or changes health, so drawing random members from a ring that is not changing costs
    /// nothing per draw.
    pub fn live_pool(&mut self) -> &[MemberId] {
        let by_health = &self.by_health;
        self.live_pool.get_or_insert_with(|| {
            [Health::Alive, Health::Suspect]
                .iter()
                .flat_map(|h| by_health[slot(*h)].iter().cloned())
                .collect()
        })
    }

    /// Watch `addrs` (replacing what was watched) for [`MemberList::alive_at`]; one pass over
    /// the Alive records.
    pub fn watch(&mut self, addrs: &[SocketAddr]) {
        let mut counts: Vec<(SocketAddr, u32)> = addrs.iter().map(|a| (*a, 0)).collect();
        for r in self.with_health(Health::Alive) {
            count_addr(&mut counts, r.member.swim_addr(), true);
        }
        self.alive_addrs = counts;
    }

    /// Whether some Alive record has SWIM address `addr`; always `false` for an address not
    /// [watched](MemberList::watch).
    pub fn alive_at(&self, addr: SocketAddr) -> bool {
        self.alive_addrs.iter().any(|(a, n)| *a == addr && *n > 0)
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
    fn the_live_pool_is_alive_then_suspect_in_id_order_and_follows_health() {
        let mut l = MemberList::new();
        let t = Time::ZERO;
        for (id, h) in [
            ("d", Health::Alive),
            ("b", Health::Suspect),
            ("a", Health::Alive),
            ("c", Health::Confirmed),
            ("e", Health::Suspect),
        ] {
            l.set(&ms(id, 0, h), t);
        }
        let pool = |l: &mut MemberList| -> Vec<String> {
            l.live_pool()
                .iter()
                .map(|i| i.as_str().to_owned())
                .collect()
        };
        assert_eq!(pool(&mut l), ["a", "d", "b", "e"]);
        // An incarnation change keeps the pool; a health change, an addition or a removal
        // rebuilds it.
        l.set(&ms("a", 1, Health::Alive), t);
        assert_eq!(pool(&mut l), ["a", "d", "b", "e"]);
        l.set(&ms("b", 1, Health::Alive), t);
        assert_eq!(pool(&mut l), ["a", "b", "d", "e"]);
        l.set(&ms("f", 0, Health::Alive), t);
        l.remove(&MemberId::from("d"));
        assert_eq!(pool(&mut l), ["a", "b", "f", "e"]);
        let ids: Vec<&str> = l.iter().map(|r| r.member.id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c", "e", "f"]);
    }

    #[test]
    fn a_window_resumed_from_its_cursor_is_the_window_a_walk_finds() {
        let mut l = MemberList::new();
        let t = Time::ZERO;
        for i in 0..20 {
            l.merge(&ms(&format!("m{i:02}"), 0, Health::Alive), t);
        }
        let text =
            |ids: Vec<&MemberId>| -> Vec<String> { ids.iter().map(|id| id.to_string()).collect() };
        let walk = |l: &MemberList, from: usize, to: usize| -> Vec<String> {
            text(l.ids.iter().skip(from).take(to - from).collect())
        };
        let mut cursor = IdCursor::default();
        let mut from = 0;
        // Windows of 7 through 20 ids: each resumes where the last stopped, the last is short.
        for _ in 0..3 {
            let got = text(l.ids_window(from, from + 7, &mut cursor));
            assert_eq!(got, walk(&l, from, (from + 7).min(20)));
            from += got.len();
        }
        assert_eq!(from, 20);
        // An id added before the cursor shifts every position: the cursor is not used.
        let mut cursor = IdCursor::default();
        l.ids_window(0, 5, &mut cursor);
        l.merge(&ms("a", 0, Health::Alive), t);
        let got = text(l.ids_window(5, 10, &mut cursor));
        assert_eq!(got, walk(&l, 5, 10));
        assert_eq!(got[0], "m04");
        // So does a removal.
        l.ids_window(10, 12, &mut cursor);
        l.remove(&MemberId::new("m00"));
        assert_eq!(text(l.ids_window(12, 14, &mut cursor)), walk(&l, 12, 14));
    }

    #[test]
    fn alive_at_counts_every_alive_record_at_a_watched_address() {
        let mut l = MemberList::new();
        let t = Time::ZERO;
        let addr = ms("x", 0, Health::Alive).member.swim_addr();
        let mut moved = ms("new", 1, Health::Alive);
        moved.member.swim_port = 9700;
        l.set(&ms("early", 0, Health::Alive), t);
        l.watch(&[addr, moved.member.swim_addr()]);
        assert!(l.alive_at(addr), "records held before the watch count");
        l.remove(&MemberId::from("early"));
        assert!(!l.alive_at(addr));
        // Two ids at one address (a member restarted with a new id, the old one not yet dead).
        l.set(&ms("old", 0, Health::Alive), t);
        l.set(&ms("new", 0, Health::Alive), t);
        l.set(&ms("old", 0, Health::Confirmed), t);
        assert!(l.alive_at(addr));
        l.set(&moved, t);
        assert!(!l.alive_at(addr));
        assert!(l.alive_at(moved.member.swim_addr()));
        l.remove(&MemberId::from("new"));
        assert!(!l.alive_at(moved.member.swim_addr()));
        l.set(&ms("old", 1, Health::Alive), t);
        assert!(l.alive_at(addr));
        l.watch(&[moved.member.swim_addr()]);
        assert!(!l.alive_at(addr), "no longer watched");
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
