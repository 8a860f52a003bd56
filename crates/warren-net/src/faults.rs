//! Network faults on the gossip transport: datagrams dropped at random or delayed, and peers cut
//! off both ways. Two sources, one mechanism:
//!
//! - **Local rings** (always compiled): [`crate::GossipConfig::cut_file`], which only
//!   `warren local` sets (through a hidden `warren run` flag accepted only on a loopback gossip
//!   address), names a file of `block=IP:PORT`, `drop=P` and `delay_ms=N` lines. It is re-read
//!   whenever it changes, so `warren local partition` / `heal` cut and heal a live member.
//! - **Tests** (the `fault-injection` feature only): the same settings from the environment at
//!   start, `WARREN_FAULT_DROP`, `WARREN_FAULT_DELAY_MS`, `WARREN_FAULT_BLOCK` (comma-separated),
//!   and a file named by `WARREN_FAULT_FILE`.
//!
//! With neither, every check is "no fault". Rumors (TCP) are never dropped at random, but are not
//! sent to a blocked address; both sides of a partition block each other, so none cross it.
//! This module decides nothing about the protocol: it only filters what the shell sends and
//! receives.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

/// The fault file being watched: its path, the modification time last applied and when it was
/// last checked.
#[derive(Debug, Clone)]
struct Watched {
    path: PathBuf,
    seen: Option<SystemTime>,
    checked: Option<tokio::time::Instant>,
}

#[derive(Debug, Default, Clone)]
pub(crate) struct Faults {
    drop: f64,
    pub(crate) delay: Duration,
    blocked: Vec<SocketAddr>,
    file: Option<Watched>,
}

/// The settings one fault file holds.
#[derive(Debug, Default, PartialEq)]
struct Settings {
    drop: f64,
    delay: Duration,
    blocked: Vec<SocketAddr>,
}

/// Parses a fault file; unknown or malformed lines are ignored (a half-written file blocks less,
/// never more).
fn parse(text: &str) -> Settings {
    let mut s = Settings::default();
    for line in text.lines() {
        match line.trim().split_once('=') {
            Some(("drop", v)) => s.drop = v.trim().parse::<f64>().unwrap_or(0.0).clamp(0.0, 1.0),
            Some(("delay_ms", v)) => s.delay = Duration::from_millis(v.trim().parse().unwrap_or(0)),
            Some(("block", v)) => s.blocked.extend(v.trim().parse::<SocketAddr>().ok()),
            _ => {}
        }
    }
    s
}

impl Faults {
    /// The faults for a gossip endpoint: the local ring's cut file if given, else (with the
    /// `fault-injection` feature) the environment's.
    pub(crate) fn new(cut_file: Option<PathBuf>) -> Self {
        let mut f = Self::from_env();
        if let Some(path) = cut_file {
            tracing::info!(file = %path.display(), "local ring: partitions and loss from this file");
            f.file = Some(Watched {
                path,
                seen: None,
                checked: None,
            });
        }
        f.refresh();
        f
    }

    #[cfg(feature = "fault-injection")]
    fn from_env() -> Self {
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
        let file = std::env::var_os("WARREN_FAULT_FILE").map(|p| Watched {
            path: p.into(),
            seen: None,
            checked: None,
        });
        if drop > 0.0 || !delay.is_zero() || file.is_some() {
            tracing::warn!(drop, ?delay, "fault injection is on");
        }
        Faults {
            drop,
            delay,
            blocked,
            file,
        }
    }

    #[cfg(not(feature = "fault-injection"))]
    fn from_env() -> Self {
        Faults::default()
    }

    /// Re-reads the fault file if it changed (checked at most every 200 ms). A missing file
    /// means no faults.
    pub(crate) fn refresh(&mut self) {
        let Some(w) = &mut self.file else {
            return;
        };
        let now = tokio::time::Instant::now();
        if w.checked
            .is_some_and(|c| now.duration_since(c) < Duration::from_millis(200))
        {
            return;
        }
        w.checked = Some(now);
        let mtime = std::fs::metadata(&w.path).and_then(|m| m.modified()).ok();
        if mtime == w.seen {
            return;
        }
        w.seen = mtime;
        let s = parse(&std::fs::read_to_string(&w.path).unwrap_or_default());
        tracing::warn!(
            drop = s.drop,
            delay = ?s.delay,
            blocked = s.blocked.len(),
            "fault file applied"
        );
        (self.drop, self.delay, self.blocked) = (s.drop, s.delay, s.blocked);
    }

    /// Whether a datagram to or from `peer` should be dropped.
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

    /// Whether `peer` is cut off (rumors to it are not sent; TCP itself never loses them).
    pub(crate) fn cuts(&self, peer: SocketAddr) -> bool {
        self.blocked.contains(&peer)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_fault_file_parses_and_ignores_garbage() {
        let s = parse("block=127.0.0.1:19618\n# x\nblock=nonsense\ndrop=2\ndelay_ms=30\n");
        assert_eq!(s.blocked, vec!["127.0.0.1:19618".parse().unwrap()]);
        assert_eq!(s.drop, 1.0);
        assert_eq!(s.delay, Duration::from_millis(30));
        assert_eq!(parse(""), Settings::default());
    }

    #[tokio::test]
    async fn a_cut_file_blocks_what_it_names_and_heals_when_emptied() {
        let dir = std::env::temp_dir().join(format!("warren-net-cut-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("cuts");
        let peer: SocketAddr = "127.0.0.1:19618".parse().unwrap();
        std::fs::write(&path, "block=127.0.0.1:19618\n").unwrap();
        let mut f = Faults::new(Some(path.clone()));
        assert!(f.drops(peer) && f.cuts(peer));
        assert!(!f.cuts("127.0.0.1:19628".parse().unwrap()));
        std::fs::remove_file(&path).unwrap();
        // The file is checked at most every 200 ms.
        tokio::time::sleep(Duration::from_millis(250)).await;
        f.refresh();
        assert!(!f.drops(peer) && !f.cuts(peer));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
