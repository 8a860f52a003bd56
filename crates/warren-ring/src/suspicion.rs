//! Lifeguard suspicion: a timeout that starts at its maximum and falls toward its minimum as
//! independent confirmations arrive.
//!
//! `timeout(c) = max(min, max − (max − min) · ln(c + 1) / ln(k + 1))` for `c` confirmations out of
//! `k` expected (as in HashiCorp memberlist). This module is arithmetic and bookkeeping only; the
//! ring owns the timers and decides what counts as a confirmation.

use std::time::Duration;

use crate::member::MemberId;
use crate::time::Time;

/// One member under suspicion.
#[derive(Clone, Debug)]
pub struct Suspicion {
    /// The incarnation the suspicion is about; a higher one refutes it.
    pub incarnation: u64,
    started: Time,
    min: Duration,
    max: Duration,
    expected: u32,
    confirmers: Vec<MemberId>,
    has_originator: bool,
    /// When the member becomes Confirmed unless refuted.
    pub deadline: Time,
}

/// The suspicion timeout after `confirmations` of `expected`.
pub fn timeout(min: Duration, max: Duration, expected: u32, confirmations: u32) -> Duration {
    if expected == 0 || max <= min {
        return min;
    }
    let frac = f64::from(confirmations + 1).ln() / f64::from(expected + 1).ln();
    let span = (max - min).as_secs_f64();
    let t = max.as_secs_f64() - span * frac.min(1.0);
    Duration::from_secs_f64(t.max(min.as_secs_f64()))
}

impl Suspicion {
    /// Starts a suspicion at `now`; `originator` (who first raised it) is not a confirmation.
    pub fn new(
        incarnation: u64,
        now: Time,
        min: Duration,
        max: Duration,
        expected: u32,
        originator: Option<&MemberId>,
    ) -> Self {
        Suspicion {
            incarnation,
            started: now,
            min,
            max,
            expected,
            confirmers: originator.into_iter().cloned().collect(),
            has_originator: originator.is_some(),
            deadline: now + timeout(min, max, expected, 0),
        }
    }

    /// Counts `from` as a confirmation; returns whether it was new (the deadline moved).
    pub fn confirm(&mut self, from: &MemberId) -> bool {
        if self.confirmers.contains(from) {
            return false;
        }
        self.confirmers.push(from.clone());
        // The originator (first entry, when there was one) does not count.
        let c = self.confirmers.len() - usize::from(self.has_originator);
        let c = u32::try_from(c).unwrap_or(u32::MAX);
        self.deadline = self.started + timeout(self.min, self.max, self.expected, c);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn falls_from_max_to_min() {
        let min = Duration::from_secs(2);
        let max = Duration::from_secs(6);
        assert_eq!(timeout(min, max, 3, 0), max);
        let one = timeout(min, max, 3, 1);
        assert!(one < max && one > min, "{one:?}");
        assert_eq!(timeout(min, max, 3, 3), min);
        assert_eq!(timeout(min, max, 3, 10), min);
        assert_eq!(timeout(min, max, 0, 0), min);
    }

    #[test]
    fn confirmations_are_counted_once() {
        let mut s = Suspicion::new(
            1,
            Time::ZERO,
            Duration::from_secs(2),
            Duration::from_secs(6),
            3,
            Some(&"o".into()),
        );
        let d0 = s.deadline;
        assert!(!s.confirm(&"o".into()));
        assert!(s.confirm(&"a".into()));
        assert!(s.deadline < d0);
        assert!(!s.confirm(&"a".into()));
    }
}
