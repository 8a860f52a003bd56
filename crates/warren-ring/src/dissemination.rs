//! The dissemination policy: which rumors go to whom, and how often.
//!
//! Every accepted change makes its key *hot* with a budget of sends (λ·log N). A send to a member
//! spends one unit and records that member as a *holder*; members we received the value from are
//! holders too. A rumor is never offered to a member known to hold it, and stops being offered when
//! its budget is spent, so one update costs O(N log N) messages ring-wide, not Habitat's O(N²).
//! Anti-entropy (full-state sync) repairs whatever this misses. This module only keeps the
//! bookkeeping; the ring builds the messages.

use std::collections::BTreeMap;

use crate::member::MemberId;
use crate::rumor::RumorKey;

#[derive(Clone, Debug)]
struct Heat {
    remaining: u32,
    sent: u32,
    seq: u64,
    rounds: u32,
    holders: Vec<MemberId>,
}

/// Hot rumors and who is known to hold them.
#[derive(Clone, Debug, Default)]
pub struct Dissemination {
    hot: BTreeMap<RumorKey, Heat>,
    seq: u64,
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
    /// No hot rumors.
    pub fn new() -> Self {
        Self::default()
    }

    /// `key` changed: make it hot again with `budget` sends; `holder` already has it.
    pub fn start(&mut self, key: RumorKey, budget: u32, holder: Option<&MemberId>) {
        self.seq += 1;
        let heat = Heat {
            remaining: budget,
            sent: 0,
            seq: self.seq,
            rounds: 0,
            holders: holder.into_iter().cloned().collect(),
        };
        self.hot.insert(key, heat);
    }

    /// `id` is known to hold the current value of `key`.
    pub fn add_holder(&mut self, key: &RumorKey, id: &MemberId) {
        if let Some(h) = self.hot.get_mut(key)
            && !h.holders.contains(id)
        {
            h.holders.push(id.clone());
        }
    }

    /// Hot keys `target` is not known to hold, best first (fewest sends, then newest), filtered.
    pub fn candidates(
        &self,
        target: &MemberId,
        mut filter: impl FnMut(&RumorKey) -> bool,
    ) -> Vec<RumorKey> {
        let mut v: Vec<(u32, std::cmp::Reverse<u64>, &RumorKey)> = self
            .hot
            .iter()
            .filter(|(k, h)| !h.holders.contains(target) && filter(k))
            .map(|(k, h)| (h.sent, std::cmp::Reverse(h.seq), k))
            .collect();
        v.sort_unstable();
        v.into_iter().map(|(_, _, k)| k.clone()).collect()
    }

    /// `key` was sent to `target`: spend one unit; forget the key when the budget is spent.
    pub fn mark_sent(&mut self, key: &RumorKey, target: &MemberId) {
        let spent = match self.hot.get_mut(key) {
            Some(h) => {
                h.sent += 1;
                h.remaining = h.remaining.saturating_sub(1);
                if !h.holders.contains(target) {
                    h.holders.push(target.clone());
                }
                h.remaining == 0
            }
            None => false,
        };
        if spent {
            self.hot.remove(key);
        }
    }

    /// One gossip round passed: a key hot for more than `max_rounds` rounds is dropped. A key
    /// every pickable member already holds is never sent, so its budget alone would keep it hot
    /// forever; anti-entropy covers whatever the age-out misses.
    pub fn age(&mut self, max_rounds: u32) {
        self.hot.retain(|_, h| {
            h.rounds += 1;
            h.rounds <= max_rounds
        });
    }

    /// Forgets `key` (garbage-collected or no longer worth sending).
    pub fn remove(&mut self, key: &RumorKey) {
        self.hot.remove(key);
    }

    /// Forgets `id` as a holder everywhere (it departed or was collected).
    pub fn forget_holder(&mut self, id: &MemberId) {
        for h in self.hot.values_mut() {
            h.holders.retain(|x| x != id);
        }
    }

    /// Whether `key` is hot.
    pub fn is_hot(&self, key: &RumorKey) -> bool {
        self.hot.contains_key(key)
    }

    /// Number of hot keys.
    pub fn len(&self) -> usize {
        self.hot.len()
    }

    /// Whether nothing is hot.
    pub fn is_empty(&self) -> bool {
        self.hot.is_empty()
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
        assert!(d.candidates(&a, |_| true).is_empty());
        assert_eq!(d.candidates(&b, |_| true), vec![k.clone()]);
        d.mark_sent(&k, &b);
        assert!(d.candidates(&b, |_| true).is_empty());
        d.mark_sent(&k, &MemberId::from("c"));
        assert!(!d.is_hot(&k));
    }

    #[test]
    fn a_key_everyone_holds_still_cools() {
        let mut d = Dissemination::new();
        let k = RumorKey::Departure("x".into());
        let a = MemberId::from("a");
        d.start(k.clone(), 3, Some(&a));
        for _ in 0..3 {
            assert!(d.candidates(&a, |_| true).is_empty());
            d.age(2);
        }
        assert!(!d.is_hot(&k));
    }
}
