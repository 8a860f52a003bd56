//! Test-only fault injection on the SWIM socket, compiled in only with the `fault-injection`
//! feature. Settings come from the environment at start and, when `WARREN_FAULT_FILE` names a
//! file, from that file whenever it changes (so tests can cut and heal a live member):
//! `WARREN_FAULT_DROP` / `drop=` (fraction 0–1 of datagrams dropped, both directions),
//! `WARREN_FAULT_DELAY_MS` / `delay_ms=` (delay added to every outgoing datagram),
//! `WARREN_FAULT_BLOCK` / `block=` (`IP:PORT` SWIM addresses cut off both ways; comma-separated
//! in the variable, one `block=` line each in the file). Without the feature every check is a
//! constant "no fault". Rumors (TCP) are never dropped at random, but are not sent to a blocked
//! address.

use std::net::SocketAddr;
use std::time::Duration;

#[derive(Debug, Default, Clone)]
pub(crate) struct Faults {
    #[cfg_attr(not(feature = "fault-injection"), allow(dead_code))]
    drop: f64,
    pub(crate) delay: Duration,
    #[cfg_attr(not(feature = "fault-injection"), allow(dead_code))]
    blocked: Vec<SocketAddr>,
    #[cfg_attr(not(feature = "fault-injection"), allow(dead_code))]
    file: Option<(
        std::path::PathBuf,
        Option<std::time::SystemTime>,
        Option<tokio::time::Instant>,
    )>,
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
        let file = std::env::var_os("WARREN_FAULT_FILE").map(|p| (p.into(), None, None));
        if drop > 0.0 || !delay.is_zero() || file.is_some() {
            tracing::warn!(drop, ?delay, "fault injection is on");
        }
        let mut f = Faults {
            drop,
            delay,
            blocked,
            file,
        };
        f.refresh();
        f
    }

    #[cfg(not(feature = "fault-injection"))]
    pub(crate) fn from_env() -> Self {
        Faults::default()
    }

    /// Re-reads the fault file if it changed (checked at most every 200 ms).
    #[cfg(feature = "fault-injection")]
    pub(crate) fn refresh(&mut self) {
        let Some((path, seen, checked)) = &mut self.file else {
            return;
        };
        let now = tokio::time::Instant::now();
        if checked.is_some_and(|c| now.duration_since(c) < Duration::from_millis(200)) {
            return;
        }
        *checked = Some(now);
        let mtime = std::fs::metadata(&*path).and_then(|m| m.modified()).ok();
        if mtime == *seen {
            return;
        }
        *seen = mtime;
        let text = std::fs::read_to_string(&*path).unwrap_or_default();
        let (mut drop, mut delay, mut blocked) = (0.0, Duration::ZERO, Vec::new());
        for line in text.lines() {
            match line.trim().split_once('=') {
                Some(("drop", v)) => drop = v.trim().parse::<f64>().unwrap_or(0.0).clamp(0.0, 1.0),
                Some(("delay_ms", v)) => {
                    delay = Duration::from_millis(v.trim().parse().unwrap_or(0));
                }
                Some(("block", v)) => blocked.extend(v.trim().parse::<SocketAddr>().ok()),
                _ => {}
            }
        }
        tracing::warn!(drop, ?delay, blocked = blocked.len(), "fault file applied");
        (self.drop, self.delay, self.blocked) = (drop, delay, blocked);
    }

    #[cfg(not(feature = "fault-injection"))]
    pub(crate) fn refresh(&mut self) {}

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

    /// Whether `peer` is cut off (rumors to it are not sent; TCP itself never loses them).
    #[cfg(feature = "fault-injection")]
    pub(crate) fn cuts(&self, peer: SocketAddr) -> bool {
        self.blocked.contains(&peer)
    }

    #[cfg(not(feature = "fault-injection"))]
    pub(crate) fn cuts(&self, _peer: SocketAddr) -> bool {
        false
    }
}
