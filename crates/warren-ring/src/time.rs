//! Time as the core sees it: a value the caller passes in.
//!
//! The core never reads a clock. Shells map their monotonic clock (tokio's `Instant`, the
//! simulator's virtual clock) onto [`Time`], a duration since an origin the shell picks once.
//! This module holds no timers; see `ring.rs` for how deadlines are kept.

use std::ops::{Add, Sub};
use std::time::Duration;

/// A point in time: the duration since an origin chosen by the caller.
///
/// Only differences between two `Time`s from the same origin mean anything.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time(Duration);

impl Time {
    /// The origin.
    pub const ZERO: Time = Time(Duration::ZERO);

    /// The point `d` after the origin.
    pub const fn from_duration(d: Duration) -> Self {
        Time(d)
    }

    /// The point `ms` milliseconds after the origin.
    pub const fn from_millis(ms: u64) -> Self {
        Time(Duration::from_millis(ms))
    }

    /// The duration since the origin.
    pub const fn as_duration(self) -> Duration {
        self.0
    }

    /// Seconds since the origin, as a float (for reports).
    pub fn as_secs_f64(self) -> f64 {
        self.0.as_secs_f64()
    }

    /// `self - earlier`, or zero when `earlier` is later.
    pub fn saturating_since(self, earlier: Time) -> Duration {
        self.0.saturating_sub(earlier.0)
    }
}

impl Add<Duration> for Time {
    type Output = Time;
    fn add(self, rhs: Duration) -> Time {
        Time(self.0.saturating_add(rhs))
    }
}

impl Sub<Duration> for Time {
    type Output = Time;
    fn sub(self, rhs: Duration) -> Time {
        Time(self.0.saturating_sub(rhs))
    }
}
