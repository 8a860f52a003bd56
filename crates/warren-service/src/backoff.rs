//! Restart backoff (spec §7.7): a service that keeps failing waits `min · 3^(n-1)` (capped at
//! `max`) before its n-th consecutive restart; a run that lasted the cooldown period resets the
//! count. Pure: times are durations since any fixed origin, passed in.
//!
//! Habitat's defaults are 0 and 0 (restart at once, forever, which spins on a crash loop);
//! Warren's are 1 s and 30 s with the same factor and cooldown.

use std::time::Duration;

/// Habitat's backoff factor.
pub const FACTOR: u32 = 3;

/// Backoff settings (`--service-min-backoff-period`, `--service-max-backoff-period`,
/// `--service-restart-cooldown-period`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackoffConfig {
    /// Delay before the first restart of a run of failures.
    pub min: Duration,
    /// Longest delay.
    pub max: Duration,
    /// A run that lasted this long resets the count.
    pub cooldown: Duration,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        BackoffConfig {
            min: Duration::from_secs(1),
            max: Duration::from_secs(30),
            cooldown: Duration::from_secs(300),
        }
    }
}

/// Consecutive failures of one service.
#[derive(Clone, Debug)]
pub struct Backoff {
    config: BackoffConfig,
    failures: u32,
}

impl Backoff {
    /// No failures yet.
    pub fn new(config: BackoffConfig) -> Self {
        Backoff {
            config,
            failures: 0,
        }
    }

    /// The service failed after running for `ran`; returns how long to wait before starting
    /// it again.
    pub fn failed(&mut self, ran: Duration) -> Duration {
        if ran >= self.config.cooldown {
            self.failures = 0;
        }
        self.failures = self.failures.saturating_add(1);
        let exp = self.failures - 1;
        let factor = FACTOR.checked_pow(exp).unwrap_or(u32::MAX);
        self.config
            .min
            .checked_mul(factor)
            .unwrap_or(self.config.max)
            .min(self.config.max)
    }

    /// Consecutive failures counted so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Forget the failures (the service was stopped or restarted on purpose).
    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn grows_by_three_up_to_max() {
        let mut b = Backoff::new(BackoffConfig {
            min: secs(1),
            max: secs(30),
            cooldown: secs(300),
        });
        let delays: Vec<_> = (0..6).map(|_| b.failed(secs(1)).as_secs()).collect();
        assert_eq!(delays, [1, 3, 9, 27, 30, 30]);
        assert_eq!(b.failures(), 6);
    }

    #[test]
    fn cooldown_resets() {
        let mut b = Backoff::new(BackoffConfig::default());
        b.failed(secs(1));
        b.failed(secs(1));
        assert_eq!(b.failed(secs(299)), secs(9));
        assert_eq!(b.failed(secs(300)), secs(1));
        b.reset();
        assert_eq!(b.failures(), 0);
    }

    #[test]
    fn habitat_zero_means_at_once_and_never_overflows() {
        let mut b = Backoff::new(BackoffConfig {
            min: Duration::ZERO,
            max: Duration::ZERO,
            cooldown: secs(300),
        });
        assert_eq!(b.failed(secs(0)), Duration::ZERO);
        let mut b = Backoff::new(BackoffConfig {
            min: secs(1),
            max: Duration::MAX,
            cooldown: secs(300),
        });
        for _ in 0..100 {
            b.failed(Duration::ZERO);
        }
        assert!(b.failed(Duration::ZERO) >= secs(3u64.pow(20)));
    }
}
