//! Token buckets for per-connection rate limits, and a limiter that keeps noisy logs quiet.
//!
//! This module does **not** sleep or delay anything: callers ask whether an action is allowed
//! now and decide themselves what to do when it is not (the PULL side drops the message).

use std::sync::Mutex;

use tokio::time::Instant;

/// A per-connection rate limit: two token buckets, one counting messages, one counting bytes.
///
/// A message is accepted only when both buckets hold enough tokens; otherwise it is dropped and
/// neither bucket is charged. Buckets start full, so a new connection may send a burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Sustained messages per second.
    pub messages_per_sec: u32,
    /// Bucket size in messages (the largest burst).
    pub message_burst: u32,
    /// Sustained bytes per second (message bodies).
    pub bytes_per_sec: u64,
    /// Bucket size in bytes; raised to the maximum frame size if smaller, so that a single
    /// maximum-size message can always pass eventually.
    pub byte_burst: u64,
}

impl Default for RateLimit {
    /// 1000 messages/s (bursts of 2000) and 4 MiB/s (bursts of 8 MiB) per connection: far above
    /// what one Habitat gossip round sends to one member, far below a flood.
    fn default() -> Self {
        RateLimit {
            messages_per_sec: 1000,
            message_burst: 2000,
            bytes_per_sec: 4 * 1024 * 1024,
            byte_burst: 8 * 1024 * 1024,
        }
    }
}

#[derive(Debug)]
struct TokenBucket {
    rate: f64,
    capacity: f64,
    tokens: f64,
}

impl TokenBucket {
    fn new(rate: f64, capacity: f64) -> Self {
        TokenBucket {
            rate,
            capacity,
            tokens: capacity,
        }
    }

    fn refill(&mut self, elapsed_secs: f64) {
        self.tokens = (self.tokens + elapsed_secs * self.rate).min(self.capacity);
    }
}

/// The two buckets of one connection.
#[derive(Debug)]
pub(crate) struct ConnLimiter {
    messages: TokenBucket,
    bytes: TokenBucket,
    last: Instant,
}

impl ConnLimiter {
    pub(crate) fn new(limit: &RateLimit, max_frame_size: usize, now: Instant) -> Self {
        let byte_burst = limit.byte_burst.max(max_frame_size as u64);
        ConnLimiter {
            messages: TokenBucket::new(
                f64::from(limit.messages_per_sec),
                f64::from(limit.message_burst.max(1)),
            ),
            bytes: TokenBucket::new(limit.bytes_per_sec as f64, byte_burst as f64),
            last: now,
        }
    }

    /// Whether a message of `len` bytes may pass at `now`; charges both buckets if so.
    pub(crate) fn allow(&mut self, len: usize, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.messages.refill(elapsed);
        self.bytes.refill(elapsed);
        let len = len as f64;
        if self.messages.tokens >= 1.0 && self.bytes.tokens >= len {
            self.messages.tokens -= 1.0;
            self.bytes.tokens -= len;
            true
        } else {
            false
        }
    }

    /// How long until a message of `len` bytes may pass, as of the last [`ConnLimiter::allow`]
    /// (at least 1 ms; 1 s if a bucket never refills).
    pub(crate) fn wait(&self, len: usize) -> std::time::Duration {
        let need = |b: &TokenBucket, want: f64| -> f64 {
            let missing = want - b.tokens;
            if missing <= 0.0 {
                0.0
            } else if b.rate > 0.0 {
                missing / b.rate
            } else {
                1.0
            }
        };
        let secs = need(&self.messages, 1.0).max(need(&self.bytes, len as f64));
        std::time::Duration::from_secs_f64(secs.clamp(0.001, 1.0))
    }
}

#[derive(Debug)]
struct LogWindow {
    start: Option<std::time::Instant>,
    logged: u32,
    suppressed: u64,
}

/// Lets at most `per_window` log lines through per window; counts the rest.
#[derive(Debug)]
pub(crate) struct LogLimiter {
    per_window: u32,
    window: std::time::Duration,
    state: Mutex<LogWindow>,
}

impl LogLimiter {
    pub(crate) const fn new(per_window: u32, window: std::time::Duration) -> Self {
        LogLimiter {
            per_window,
            window,
            state: Mutex::new(LogWindow {
                start: None,
                logged: 0,
                suppressed: 0,
            }),
        }
    }

    /// `Some(n)` if this line may be logged, `n` being how many were suppressed before it in
    /// the previous window; `None` if it should be dropped.
    pub(crate) fn allow(&self) -> Option<u64> {
        let now = std::time::Instant::now();
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let expired = s
            .start
            .is_none_or(|start| now.saturating_duration_since(start) >= self.window);
        if expired {
            let suppressed = s.suppressed;
            *s = LogWindow {
                start: Some(now),
                logged: 1,
                suppressed: 0,
            };
            return Some(suppressed);
        }
        if s.logged < self.per_window {
            s.logged += 1;
            Some(0)
        } else {
            s.suppressed += 1;
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bucket_allows_burst_then_rate() {
        let limit = RateLimit {
            messages_per_sec: 10,
            message_burst: 5,
            bytes_per_sec: 1_000_000,
            byte_burst: 1_000_000,
        };
        let t0 = Instant::now();
        let mut l = ConnLimiter::new(&limit, 100, t0);
        assert_eq!((0..10).filter(|_| l.allow(1, t0)).count(), 5);
        // 0.5 s later: 5 more tokens.
        let t1 = t0 + Duration::from_millis(500);
        assert_eq!((0..10).filter(|_| l.allow(1, t1)).count(), 5);
    }

    #[test]
    fn byte_bucket_limits_and_is_at_least_one_frame() {
        let limit = RateLimit {
            messages_per_sec: 1000,
            message_burst: 1000,
            bytes_per_sec: 100,
            byte_burst: 10,
        };
        let t0 = Instant::now();
        let mut l = ConnLimiter::new(&limit, 50, t0);
        assert!(l.allow(50, t0));
        assert!(!l.allow(1, t0));
        assert!(l.allow(10, t0 + Duration::from_millis(100)));
    }

    #[test]
    fn wait_says_when_the_next_message_passes() {
        let limit = RateLimit {
            messages_per_sec: 10,
            message_burst: 1,
            bytes_per_sec: 1000,
            byte_burst: 100,
        };
        let t0 = Instant::now();
        let mut l = ConnLimiter::new(&limit, 100, t0);
        assert!(l.allow(100, t0));
        assert!(!l.allow(50, t0));
        // One message token takes 100 ms, 50 bytes take 50 ms: the message bucket decides.
        assert_eq!(l.wait(50), Duration::from_millis(100));
        assert!(l.allow(50, t0 + l.wait(50)));
    }

    #[test]
    fn log_limiter_suppresses() {
        let l = LogLimiter::new(2, Duration::from_secs(3600));
        assert_eq!(l.allow(), Some(0));
        assert_eq!(l.allow(), Some(0));
        assert_eq!(l.allow(), None);
        assert_eq!(l.allow(), None);
    }
}
