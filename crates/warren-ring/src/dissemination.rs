//! The dissemination policy: which rumors go to whom, and how often.
//!
//! Every accepted change makes its key *hot* with a budget of sends (λ·log N). A send to a member
//! spends one unit and records that member as a *holder*; members we received the value from are
//! holders too. A rumor is never offered to a member known to hold it, and stops being offered when
//! its budget is spent, so one update costs O(N log N) messages ring-wide, not Habitat's O(N²).
//! Anti-entropy (full-state sync) repairs whatever this misses. This module only keeps the
//! bookkeeping; the ring builds the messages.

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap};

use foldhash::fast::FixedState;

use crate::member::MemberId;
use crate::rumor::RumorKey;

/// Where a hot key stands in the send order: fewest sends first, then newest first (a key's
/// sequence number is unique, so no two keys share a place).
type Place = (u32, Reverse<u64>);

#[derive(Clone, Debug)]
struct Heat {
    key: RumorKey,
    remaining: u32,
    /// The gossip round the key became hot in (see [`Dissemination::age`]).
    born: u64,
    holders: Holders,
}

/// The members known to hold one key, by their [`Interner`] numbers, sorted: a membership test
/// compares integers in one small array instead of strings behind pointers.
#[derive(Clone, Debug, Default)]
struct Holders(Vec<u32>);

impl Holders {
    fn contains(&self, n: u32) -> bool {
        self.0.binary_search(&n).is_ok()
    }

    fn insert(&mut self, n: u32) {
        if let Err(at) = self.0.binary_search(&n) {
            self.0.insert(at, n);
        }
    }

    fn remove(&mut self, n: u32) {
        if let Ok(at) = self.0.binary_search(&n) {
            self.0.remove(at);
        }
    }
}

/// A small number for each member id that is or was a holder; a number is reused only after
/// [`Dissemination::forget_holder`] took it out of every holder set.
#[derive(Clone, Debug)]
struct Interner {
    numbers: HashMap<MemberId, u32, FixedState>,
    free: Vec<u32>,
    next: u32,
}

impl Interner {
    fn new(hasher: FixedState) -> Self {
        Interner {
            numbers: HashMap::with_hasher(hasher),
            free: Vec::new(),
            next: 0,
        }
    }

    fn get(&self, id: &MemberId) -> Option<u32> {
        self.numbers.get(id).copied()
    }

    fn intern(&mut self, id: &MemberId) -> u32 {
        if let Some(n) = self.numbers.get(id) {
            return *n;
        }
        let n = self.free.pop().unwrap_or_else(|| {
            self.next += 1;
            self.next - 1
        });
        self.numbers.insert(id.clone(), n);
        n
    }

    fn release(&mut self, id: &MemberId) -> Option<u32> {
        let n = self.numbers.remove(id)?;
        self.free.push(n);
        Some(n)
    }
}

/// Hot rumors and who is known to hold them.
///
/// Every operation on the hot path costs a hash lookup or two and integer comparisons, whatever
/// the ring's size: keys are kept in send order (so [`Self::candidates`] stops after the first
/// `limit` it can use instead of sorting every hot key per message), and holders are sorted
/// arrays of interned member numbers (a test per key is a binary search over a few integers).
#[derive(Clone, Debug)]
pub struct Dissemination {
    places: HashMap<RumorKey, Place, FixedState>,
    order: BTreeMap<Place, Heat>,
    interner: Interner,
    seq: u64,
    round: u64,
}

impl Default for Dissemination {
    fn default() -> Self {
        Self::new()
    }
}

/// The send budget of one update in a ring of `n` members: `mult × ceil(log10(n + 1))`.
pub fn budget(mult: u32, n: usize) -> u32 {
    let log = ((n as f64) + 1.0).log10().ceil().max(1.0) as u32;
    mult.saturating_mul(log)
}

/// Added to `2·ln(n + 1)` for [`join_budget`].
pub const JOIN_MARGIN: u32 = 2;

/// The send budget of a member record new to this member (a join) in a ring of `n` members: at
/// least `2·ln(n + 1) + JOIN_MARGIN`, else [`budget`].
///
/// Each member that learns a record sends it to `b` random members, so a given member misses it
/// with probability about `e^-b`; a ring is formed only when every one of the N² (member, record)
/// pairs is covered, so a join needs `N²·e^-b` well below one: `b > 2·ln N`. `budget` gives
/// `1.74·ln N` at some sizes (12 at 500 and at 999 members, where `2·ln N` is 12.4 and 13.8),
/// and a ring then formed only when no pair was missed, else it waited for anti-entropy (30–60 s).
pub fn join_budget(mult: u32, n: usize) -> u32 {
    let floor = (2.0 * ((n as f64) + 1.0).ln()).ceil() as u32 + JOIN_MARGIN;
    budget(mult, n).max(floor)
}

impl Dissemination {
    /// No hot rumors; hash tables keyed with a fixed seed (deterministic, for tests).
    pub fn new() -> Self {
        Self::with_hash_seed(0)
    }

    /// No hot rumors; `seed` keys the hash tables (a ring passes one drawn from its own seed, so
    /// peers cannot choose member ids that collide, and a simulated ring stays deterministic).
    pub fn with_hash_seed(seed: u64) -> Self {
        let hasher = FixedState::with_seed(seed);
        Dissemination {
            places: HashMap::with_hasher(hasher.clone()),
            order: BTreeMap::new(),
            interner: Interner::new(hasher),
            seq: 0,
            round: 0,
        }
    }

    /// `key` changed: make it hot again with `budget` sends; `holder` already has it.
    pub fn start(&mut self, key: RumorKey, budget: u32, holder: Option<&MemberId>) {
        self.remove(&key);
        self.seq += 1;
        let place = (0, Reverse(self.seq));
        let mut holders = Holders::default();
        if let Some(id) = holder {
            holders.insert(self.interner.intern(id));
        }
        self.places.insert(key.clone(), place);
        let heat = Heat {
            key,
            remaining: budget,
            born: self.round,
            holders,
        };
        self.order.insert(place, heat);
    }

    /// `id` is known to hold the current value of `key`.
    pub fn add_holder(&mut self, key: &RumorKey, id: &MemberId) {
        let Some(place) = self.places.get(key) else {
            return;
        };
        let n = self.interner.intern(id);
        if let Some(h) = self.order.get_mut(place) {
            h.holders.insert(n);
        }
    }

    /// `id` is known to hold every hot key that passes `pred` (it was sent all of them at once).
    pub fn add_holder_where(&mut self, id: &MemberId, mut pred: impl FnMut(&RumorKey) -> bool) {
        if self.order.is_empty() {
            return;
        }
        let n = self.interner.intern(id);
        for h in self.order.values_mut() {
            if pred(&h.key) {
                h.holders.insert(n);
            }
        }
    }

    /// Up to `limit` hot keys `target` is not known to hold and `filter` passes, best first
    /// (fewest sends, then newest).
    pub fn candidates(
        &self,
        target: &MemberId,
        limit: usize,
        mut filter: impl FnMut(&RumorKey) -> bool,
    ) -> Vec<RumorKey> {
        let mut out = Vec::new();
        if limit == 0 {
            return out;
        }
        let t = self.interner.get(target);
        for h in self.order.values() {
            if !t.is_some_and(|t| h.holders.contains(t)) && filter(&h.key) {
                out.push(h.key.clone());
                if out.len() == limit {
                    break;
                }
            }
        }
        out
    }

    /// `key` was sent to `target`: spend one unit; forget the key when the budget is spent.
    pub fn mark_sent(&mut self, key: &RumorKey, target: &MemberId) {
        let Some(place) = self.places.get_mut(key) else {
            return;
        };
        let Some(mut h) = self.order.remove(place) else {
            return;
        };
        h.remaining = h.remaining.saturating_sub(1);
        if h.remaining == 0 {
            self.places.remove(key);
            return;
        }
        h.holders.insert(self.interner.intern(target));
        place.0 += 1;
        self.order.insert(*place, h);
    }

    /// One gossip round passed: a key hot for more than `max_rounds` rounds is dropped. A key
    /// every pickable member already holds is never sent, so its budget alone would keep it hot
    /// forever; anti-entropy covers whatever the age-out misses.
    pub fn age(&mut self, max_rounds: u32) {
        self.round += 1;
        let round = self.round;
        let places = &mut self.places;
        self.order.retain(|_, h| {
            let keep = round - h.born <= u64::from(max_rounds);
            if !keep {
                places.remove(&h.key);
            }
            keep
        });
        if self.order.is_empty() && !self.interner.numbers.is_empty() {
            // No holder set is left to read a number: hand the table back (a ring at rest would
            // otherwise keep a number for every member that was ever a holder).
            self.interner = Interner::new(self.interner.numbers.hasher().clone());
        }
    }

    /// Forgets `key` (garbage-collected or no longer worth sending).
    pub fn remove(&mut self, key: &RumorKey) {
        if let Some(place) = self.places.remove(key) {
            self.order.remove(&place);
        }
    }

    /// Forgets `id` as a holder everywhere (it departed or was collected).
    pub fn forget_holder(&mut self, id: &MemberId) {
        let Some(n) = self.interner.release(id) else {
            return;
        };
        for h in self.order.values_mut() {
            h.holders.remove(n);
        }
    }

    /// Whether `key` is hot.
    pub fn is_hot(&self, key: &RumorKey) -> bool {
        self.places.contains_key(key)
    }

    /// Number of hot keys.
    pub fn len(&self) -> usize {
        self.places.len()
    }

    /// Whether nothing is hot.
    pub fn is_empty(&self) -> bool {
        self.places.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_grows_with_log_n() {
        assert_eq!(budget(4, 1), 4);
        assert_eq!(budget(4, 9), 4);
        assert_eq!(budget(4, 50), 8);
        assert_eq!(budget(4, 1000), 16);
    }

    #[test]
    fn a_join_budget_covers_every_pair_of_the_ring() {
        for n in [1, 9, 50, 99, 300, 500, 999, 1000, 5000] {
            let b = join_budget(4, n);
            assert!(b >= budget(4, n), "n {n}");
            // Expected (member, record) pairs missed in a ring formed at once, before what
            // piggybacking adds: N²·e^-b < e^-JOIN_MARGIN.
            let missed = (n as f64).powi(2) * (-(b as f64)).exp();
            assert!(missed < 0.14, "n {n}: budget {b} misses {missed} pairs");
        }
        assert_eq!(join_budget(4, 300), 14);
        assert_eq!(join_budget(4, 500), 15);
        // Where log10 already gives enough, a join costs what any update does.
        assert_eq!(join_budget(4, 1000), budget(4, 1000));
    }

    #[test]
    fn never_offered_to_a_holder_and_spent_budget_cools() {
        let mut d = Dissemination::new();
        let k = RumorKey::Departure("x".into());
        let a = MemberId::from("a");
        let b = MemberId::from("b");
        d.start(k.clone(), 2, Some(&a));
        assert!(d.candidates(&a, usize::MAX, |_| true).is_empty());
        assert_eq!(d.candidates(&b, usize::MAX, |_| true), vec![k.clone()]);
        d.mark_sent(&k, &b);
        assert!(d.candidates(&b, usize::MAX, |_| true).is_empty());
        d.mark_sent(&k, &MemberId::from("c"));
        assert!(!d.is_hot(&k));
    }

    #[test]
    fn candidates_come_fewest_sends_then_newest_first_up_to_the_limit() {
        let mut d = Dissemination::new();
        let key = |n: &str| RumorKey::Departure(n.into());
        let t = MemberId::from("t");
        for n in ["a", "b", "c", "d"] {
            d.start(key(n), 5, None);
        }
        d.mark_sent(&key("d"), &MemberId::from("x"));
        d.mark_sent(&key("b"), &MemberId::from("x"));
        d.mark_sent(&key("b"), &MemberId::from("y"));
        let all = d.candidates(&t, usize::MAX, |_| true);
        assert_eq!(all, vec![key("c"), key("a"), key("d"), key("b")]);
        assert_eq!(d.candidates(&t, 2, |_| true), vec![key("c"), key("a")]);
        assert_eq!(
            d.candidates(&t, 2, |k| *k != key("c")),
            vec![key("a"), key("d")]
        );
        assert!(d.candidates(&t, 0, |_| true).is_empty());
        // A holder is skipped without using up the limit.
        d.add_holder(&key("c"), &t);
        assert_eq!(d.candidates(&t, 2, |_| true), vec![key("a"), key("d")]);
        // Restarting a key puts it back first, with a fresh budget and no holders.
        d.start(key("b"), 5, None);
        assert_eq!(d.candidates(&t, 1, |_| true), vec![key("b")]);
    }

    #[test]
    fn a_forgotten_holder_takes_nothing_it_held_to_the_next_member_numbered_alike() {
        let mut d = Dissemination::new();
        let k = RumorKey::Departure("k".into());
        let (gone, next) = (MemberId::from("gone"), MemberId::from("next"));
        d.start(k.clone(), 5, Some(&gone));
        assert!(d.candidates(&gone, usize::MAX, |_| true).is_empty());
        d.forget_holder(&gone);
        // `next` is numbered after `gone` left: it must not inherit `gone`'s holdings.
        d.add_holder(&RumorKey::Departure("other".into()), &next);
        assert_eq!(d.candidates(&next, usize::MAX, |_| true), vec![k.clone()]);
        assert_eq!(d.candidates(&gone, usize::MAX, |_| true), vec![k]);
    }

    #[test]
    fn a_full_sync_marks_its_target_as_holding_the_keys_it_carried() {
        let mut d = Dissemination::new();
        let (m, r) = (
            RumorKey::Member(MemberId::from("m")),
            RumorKey::Departure("r".into()),
        );
        let t = MemberId::from("t");
        d.start(m.clone(), 5, None);
        d.start(r.clone(), 5, None);
        d.add_holder_where(&t, |k| matches!(k, RumorKey::Member(_)));
        assert_eq!(d.candidates(&t, usize::MAX, |_| true), vec![r]);
        // Nothing hot: nothing to mark, and no number handed out.
        let mut empty = Dissemination::new();
        empty.add_holder_where(&t, |_| true);
        assert!(empty.interner.numbers.is_empty());
    }

    #[test]
    fn a_key_everyone_holds_still_cools() {
        let mut d = Dissemination::new();
        let k = RumorKey::Departure("x".into());
        let a = MemberId::from("a");
        d.start(k.clone(), 3, Some(&a));
        for _ in 0..3 {
            assert!(d.candidates(&a, usize::MAX, |_| true).is_empty());
            d.age(2);
        }
        assert!(!d.is_hot(&k));
        // Nothing hot: the member numbers are dropped, and a holder numbered afresh holds
        // nothing it did not hold.
        assert!(d.interner.numbers.is_empty());
        let k2 = RumorKey::Departure("y".into());
        d.start(k2.clone(), 3, Some(&MemberId::from("b")));
        assert_eq!(d.candidates(&a, usize::MAX, |_| true), vec![k2]);
    }
}
