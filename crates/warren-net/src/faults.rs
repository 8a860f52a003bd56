//! Test-only fault injection on the SWIM socket, compiled in only with the `fault-injection`
//! feature. Read once from the environment at start:
//! `WARREN_FAULT_DROP` (fraction 0–1 of datagrams dropped, both directions),
//! `WARREN_FAULT_DELAY_MS` (delay added to every outgoing datagram),
//! `WARREN_FAULT_BLOCK` (comma-separated `IP:PORT` SWIM addresses cut off both ways).
//! Without the feature every check is a constant "no fault".

use std::net::SocketAddr;
use std::time::Duration;

#[derive(Debug, Default, Clone)]
pub(crate) struct Faults {
    #[cfg_attr(not(feature = "fault-injection"), allow(dead_code))]
    drop: f64,
    pub(crate) delay: Duration,
    #[cfg_attr(not(feature = "fault-injection"), allow(dead_code))]
    blocked: Vec<SocketAddr>,
}

impl Faults {
    #[cfg(feature = "fault-injection")]
    pub(crate) fn from_env() -> Self {
        let drop = std::env::var("WARREN_FAULT_DROP")
            .ok()
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
            .clamp(0.0, 1.0);
        let delay = std::env::var("WARREN_FAULT_DELAY_MS")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(Duration::ZERO, Duration::from_millis);
        let blocked = std::env::var("WARREN_FAULT_BLOCK")
            .ok()
            .map(|v| v.split(',').filter_map(|a| a.trim().parse().ok()).collect())
            .unwrap_or_default();
        if drop > 0.0 || !delay.is_zero() {
            tracing::warn!(drop, ?delay, "fault injection is on");
        }
        Faults {
            drop,
            delay,
            blocked,
        }
    }

    #[cfg(not(feature = "fault-injection"))]
    pub(crate) fn from_env() -> Self {
        Faults::default()
    }

    /// Whether a datagram to or from `peer` should be dropped.
    #[cfg(feature = "fault-injection")]
    pub(crate) fn drops(&self, peer: SocketAddr) -> bool {
        if self.blocked.contains(&peer) {
            return true;
        }
        if self.drop <= 0.0 {
            return false;
        }
        let mut b = [0u8; 8];
        if getrandom::getrandom(&mut b).is_err() {
            return false;
        }
        (u64::from_le_bytes(b) as f64 / u64::MAX as f64) < self.drop
    }

    #[cfg(not(feature = "fault-injection"))]
    pub(crate) fn drops(&self, _peer: SocketAddr) -> bool {
        false
    }
}
