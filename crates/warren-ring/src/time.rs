//! Time as the core sees it: a value the caller passes in.
//!
//! The core never reads a clock. Shells map their monotonic clock (tokio's `Instant`, the
//! simulator's virtual clock) onto [`Time`], a duration since an origin the shell picks once.
//! This module holds no timers; see `ring.rs` for how deadlines are kept.

use std::ops::{Add, Sub};
use std::time::Duration;

/// A point in time: the duration since an origin chosen by the caller.
///
/// Only differences between two `Time`s from the same origin mean anything. Kept as whole
/// nanoseconds in a `u64` (584 years from the origin; later saturates): half a `Duration`,
/// and every member holds a few per record it knows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time(u64);

/// `d` in whole nanoseconds, saturating at `u64::MAX`.
const fn nanos(d: Duration) -> u64 {
    let n = d.as_nanos();
    if n > u64::MAX as u128 {
        u64::MAX
    } else {
        n as u64
    }
}

impl Time {
    /// The origin.
    pub const ZERO: Time = Time(0);

    /// The point `d` after the origin.
    pub const fn from_duration(d: Duration) -> Self {
        Time(nanos(d))
    }

    /// The point `ms` milliseconds after the origin.
    pub const fn from_millis(ms: u64) -> Self {
        Time(ms.saturating_mul(1_000_000))
    }

    /// The duration since the origin.
    pub const fn as_duration(self) -> Duration {
        Duration::from_nanos(self.0)
    }

    /// Seconds since the origin, as a float (for reports).
    pub fn as_secs_f64(self) -> f64 {
        self.as_duration().as_secs_f64()
    }

    /// `self - earlier`, or zero when `earlier` is later.
    pub fn saturating_since(self, earlier: Time) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for Time {
    type Output = Time;
    fn add(self, rhs: Duration) -> Time {
        Time(self.0.saturating_add(nanos(rhs)))
    }
}

impl Sub<Duration> for Time {
    type Output = Time;
    fn sub(self, rhs: Duration) -> Time {
        Time(self.0.saturating_sub(nanos(rhs)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates_instead_of_wrapping() {
        let t = Time::from_millis(1500);
        assert_eq!(t.as_duration(), Duration::from_millis(1500));
        assert_eq!(t - Duration::from_secs(2), Time::ZERO);
        assert_eq!(Time::ZERO.saturating_since(t), Duration::ZERO);
        assert_eq!(
            (t + Duration::from_nanos(7)).saturating_since(t),
            Duration::from_nanos(7)
        );
        let end = Time::from_duration(Duration::MAX);
        assert_eq!(end + Duration::from_secs(1), end);
        assert_eq!(Time::from_millis(u64::MAX), end);
    }
}
