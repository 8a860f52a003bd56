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
