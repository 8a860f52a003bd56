//! Peer resolution: the task that turns the `--peer` names and the peer-watch file into the
//! address list the gossip task joins through, and the pure [`Schedule`] that says when to
//! resolve them again.
//!
//! A name that resolves to nothing, or only to this member's own address (a ring whose DNS has not
//! caught up yet), is looked up again quickly: after 500 ms, then doubling, capped at 2 s, for as
//! long as that lasts, so a ring is found within ~2 s of its DNS catching up however late that is.
//! While the ring holds fewer Alive members (ourselves excluded) than the names resolve to
//! addresses other than ours (a Kubernetes DaemonSet whose pods appear one by one), the same fast
//! schedule applies. A whole ring re-resolves every 30 s. The peer-watch file is checked every 2 s
//! and its names resolved as soon as it changed; its names then follow the same schedule. A name
//! still waiting is warned about at most once per 30 s; it resolving at last is one info line.
//!
//! It does not decide whom to ping: the first list (even empty) and every list that differs from
//! the last one sent go to the gossip task, which hands them to the ring. It does not read the
//! ring either: the gossip task reports its Alive count through a `watch` channel. Lookups go
//! through [`Lookup`], so tests use a fake DNS.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::peers;

/// First retry of a name that found no peer.
const FAST_FIRST: Duration = Duration::from_millis(500);
/// Longest wait of the fast schedule.
const FAST_MAX: Duration = Duration::from_secs(2);
/// Re-resolution interval of a whole ring.
const SLOW: Duration = Duration::from_secs(30);
/// How often the peer-watch file's modification time is checked.
const WATCH_CHECK: Duration = Duration::from_secs(2);
/// At most one warning per name this often while it finds no peer.
const WARN_EVERY: Duration = Duration::from_secs(30);

/// Looks up every address of `host` (a DNS name or an IP literal) with `port`.
pub(crate) trait Lookup: Send + Sync + 'static {
    /// All addresses `host` resolves to now; an error counts as none.
    fn lookup(
        &self,
        host: &str,
        port: u16,
    ) -> impl Future<Output = std::io::Result<Vec<SocketAddr>>> + Send;
}

/// The system resolver (`tokio::net::lookup_host`).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Dns;

impl Lookup for Dns {
    async fn lookup(&self, host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
        Ok(tokio::net::lookup_host((host, port)).await?.collect())
    }
}

/// What one name resolved to, as far as finding the ring goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// No address (or the lookup failed).
    Nothing,
    /// Only this member's own address.
    OnlySelf,
    /// At least one address other than ours.
    Peers,
}

impl Outcome {
    /// Classifies the addresses of one name; `me` is our advertised IP with our gossip port.
    pub(crate) fn of(addrs: &[SocketAddr], me: SocketAddr) -> Outcome {
        if addrs.is_empty() {
            Outcome::Nothing
        } else if addrs.iter().all(|a| *a == me) {
            Outcome::OnlySelf
        } else {
            Outcome::Peers
        }
    }
}

/// What one resolution of every name found, as far as the schedule cares.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Found {
    /// Names that resolved to nothing or only to our own address.
    pub(crate) waiting: usize,
    /// Distinct addresses other than ours, over every name.
    pub(crate) others: usize,
}

impl Found {
    /// Whether this result, with `alive` Alive members in the ring, calls for the fast schedule.
    fn needs_fast(self, alive: usize) -> bool {
        self.waiting > 0 || alive < self.others
    }
}

/// When to resolve the peer names next: a pure function of what the last resolution found, how
/// many resolutions in a row were fast, and the ring's Alive count (ourselves excluded).
///
/// Call [`Schedule::resolved`] after each resolution; [`Schedule::next_in`] is the wait from the
/// end of the last resolution (zero before the first). Ask again when the Alive count changes:
/// a ring that loses a member goes back to the fast schedule without waiting out the 30 s.
#[derive(Clone, Debug, Default)]
pub(crate) struct Schedule {
    last: Option<Found>,
    fast_runs: u32,
}

impl Schedule {
    /// Records a resolution's result and the Alive count when it ended.
    pub(crate) fn resolved(&mut self, found: Found, alive: usize) {
        self.last = Some(found);
        self.fast_runs = if found.needs_fast(alive) {
            self.fast_runs.saturating_add(1)
        } else {
            0
        };
    }

    /// How long after the last resolution to resolve again, with `alive` Alive members now.
    pub(crate) fn next_in(&self, alive: usize) -> Duration {
        match self.last {
            None => Duration::ZERO,
            Some(found) if found.needs_fast(alive) => fast_delay(self.fast_runs),
            Some(_) => SLOW,
        }
    }
}

/// 500 ms after the first fast resolution, then doubling, capped at [`FAST_MAX`].
fn fast_delay(runs: u32) -> Duration {
    let doublings = runs.saturating_sub(1).min(16);
    FAST_FIRST.saturating_mul(1 << doublings).min(FAST_MAX)
}

/// A log line a resolution calls for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Note {
    /// The name still finds no peer (`outcome` is `Nothing` or `OnlySelf`) after `waited`.
    Waiting {
        /// What it resolved to.
        outcome: Outcome,
        /// Since the first resolution that found no peer.
        waited: Duration,
    },
    /// The name finds peers after `waited` without.
    Found {
        /// How long it found none.
        waited: Duration,
    },
}

#[derive(Clone, Copy, Debug, Default)]
struct NameState {
    waiting_since: Option<Instant>,
    warned: Option<Instant>,
}

/// Per name: since when it finds no peer and when that was last warned about, so the warning is
/// rate-limited and the name resolving at last is said once.
#[derive(Clone, Debug, Default)]
pub(crate) struct NameLog {
    names: HashMap<String, NameState>,
}

impl NameLog {
    /// Records what `name` resolved to at `now`; returns the line to log, if any.
    pub(crate) fn observe(&mut self, name: &str, outcome: Outcome, now: Instant) -> Option<Note> {
        let state = self.names.entry(name.to_owned()).or_default();
        if outcome == Outcome::Peers {
            state.warned = None;
            let since = state.waiting_since.take()?;
            return Some(Note::Found {
                waited: now.saturating_duration_since(since),
            });
        }
        let since = *state.waiting_since.get_or_insert(now);
        if state
            .warned
            .is_some_and(|w| now.saturating_duration_since(w) < WARN_EVERY)
        {
            return None;
        }
        state.warned = Some(now);
        Some(Note::Waiting {
            outcome,
            waited: now.saturating_duration_since(since),
        })
    }

    /// Forgets names no longer configured (a line removed from the peer-watch file).
    pub(crate) fn retain(&mut self, names: &[String]) {
        self.names.retain(|n, _| names.contains(n));
    }
}

/// What to resolve, and who we are.
#[derive(Clone, Debug)]
pub(crate) struct Names {
    /// `--peer` values, `HOST[:PORT]`.
    pub(crate) peers: Vec<String>,
    /// The peer-watch file, if any.
    pub(crate) watch_file: Option<PathBuf>,
    /// Our advertised IP with our gossip port: a name resolving only to it finds no peer.
    pub(crate) me: SocketAddr,
}

/// Resolves `names` on the [`Schedule`] until `cancel` fires or the gossip task stops listening.
/// Sends the first list (even empty) and then every list that differs from the last one sent.
/// `alive` is the ring's Alive count, ourselves excluded, kept current by the gossip task.
pub(crate) async fn run<L: Lookup>(
    names: Names,
    lookup: L,
    mut alive: watch::Receiver<usize>,
    tx: mpsc::Sender<Vec<SocketAddr>>,
    cancel: CancellationToken,
) {
    let mut schedule = Schedule::default();
    let mut log = NameLog::default();
    let mut watched: Option<(SystemTime, Vec<String>)> = None;
    let mut last_sent: Option<Vec<SocketAddr>> = None;
    let mut last_resolved = Instant::now();
    let mut next_watch_check = Instant::now();
    let mut alive_open = true;
    loop {
        let mut names_changed = false;
        if let Some(path) = &names.watch_file
            && Instant::now() >= next_watch_check
        {
            names_changed = reread_watch_file(path, &mut watched);
            next_watch_check = Instant::now() + WATCH_CHECK;
        }
        let due = last_resolved + schedule.next_in(*alive.borrow_and_update());
        if names_changed || Instant::now() >= due {
            let mut all = names.peers.clone();
            if let Some((_, list)) = &watched {
                all.extend(list.iter().cloned());
            }
            log.retain(&all);
            let (addrs, found) = resolve_all(&lookup, &all, names.me, &mut log).await;
            last_resolved = Instant::now();
            schedule.resolved(found, *alive.borrow_and_update());
            if last_sent.as_ref() != Some(&addrs) {
                debug!(peers = ?addrs, "peer addresses resolved");
                if tx.send(addrs.clone()).await.is_err() {
                    return;
                }
                last_sent = Some(addrs);
            }
        }
        let mut wake = last_resolved + schedule.next_in(*alive.borrow_and_update());
        if names.watch_file.is_some() {
            wake = wake.min(next_watch_check);
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = sleep_until(wake) => {}
            // A changed Alive count can make a resolution due sooner (or later): recompute.
            r = alive.changed(), if alive_open => alive_open = r.is_ok(),
        }
    }
}

/// Re-reads the peer-watch file if its modification time changed; true when a new list was read.
/// A file that vanished or cannot be read keeps the last list.
fn reread_watch_file(
    path: &std::path::Path,
    watched: &mut Option<(SystemTime, Vec<String>)>,
) -> bool {
    let Ok(mtime) = std::fs::metadata(path).and_then(|m| m.modified()) else {
        return false;
    };
    if watched.as_ref().is_some_and(|(t, _)| *t == mtime) {
        return false;
    }
    match peers::read_watch_file(path) {
        Ok(list) => {
            info!(path = %path.display(), peers = list.len(), "peer-watch file read");
            *watched = Some((mtime, list));
            true
        }
        Err(e) => {
            warn!(path = %path.display(), error = %e, "cannot read peer-watch file");
            false
        }
    }
}

/// Resolves every name (in order, addresses deduplicated, our own kept: the ring skips it) and
/// logs what [`NameLog`] says to.
async fn resolve_all<L: Lookup>(
    lookup: &L,
    names: &[String],
    me: SocketAddr,
    log: &mut NameLog,
) -> (Vec<SocketAddr>, Found) {
    let mut out: Vec<SocketAddr> = Vec::new();
    let mut waiting = 0;
    for name in names {
        let (host, port) = peers::split_host_port(name);
        let (addrs, error) = match lookup.lookup(&host, port).await {
            Ok(addrs) => (addrs, None),
            Err(e) => (Vec::new(), Some(e)),
        };
        let outcome = Outcome::of(&addrs, me);
        if outcome != Outcome::Peers {
            waiting += 1;
        }
        match log.observe(name, outcome, Instant::now()) {
            Some(Note::Found { waited }) => info!(
                peer = %name,
                addresses = addrs.len(),
                waited_secs = waited.as_secs(),
                "peer name now resolves to peers"
            ),
            Some(Note::Waiting { outcome, waited }) => {
                let what = match outcome {
                    Outcome::OnlySelf => "only to this member's own address",
                    _ => "to nothing",
                };
                match &error {
                    Some(e) => warn!(
                        peer = %name, %me, waited_secs = waited.as_secs(), error = %e,
                        "peer name resolves {what}; retrying every 2 s or less"
                    ),
                    None => warn!(
                        peer = %name, %me, waited_secs = waited.as_secs(),
                        "peer name resolves {what}; retrying every 2 s or less"
                    ),
                }
            }
            None => {}
        }
        for a in addrs {
            if !out.contains(&a) {
                out.push(a);
            }
        }
    }
    let others = out.iter().filter(|a| **a != me).count();
    (out, Found { waiting, others })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::sync::{Arc, Mutex};

    use super::*;

    const ME: SocketAddr = addr(1);

    const fn addr(n: u8) -> SocketAddr {
        SocketAddr::new(
            std::net::IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, n)),
            9638,
        )
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// The waits the schedule gives over `n` resolutions that each found `found`, the ring
    /// holding `alive` members throughout.
    fn waits(found: Found, alive: usize, n: usize) -> Vec<Duration> {
        let mut s = Schedule::default();
        (0..n)
            .map(|_| {
                s.resolved(found, alive);
                s.next_in(alive)
            })
            .collect()
    }

    fn found(names: &[&[SocketAddr]]) -> Found {
        let mut all = Vec::new();
        let mut waiting = 0;
        for addrs in names {
            if Outcome::of(addrs, ME) != Outcome::Peers {
                waiting += 1;
            }
            all.extend(addrs.iter().copied().filter(|a| *a != ME));
        }
        all.sort();
        all.dedup();
        Found {
            waiting,
            others: all.len(),
        }
    }

    #[test]
    fn outcomes() {
        assert_eq!(Outcome::of(&[], ME), Outcome::Nothing);
        assert_eq!(Outcome::of(&[ME], ME), Outcome::OnlySelf);
        assert_eq!(Outcome::of(&[ME, ME], ME), Outcome::OnlySelf);
        assert_eq!(Outcome::of(&[ME, addr(2)], ME), Outcome::Peers);
        // Our IP with another port is another member.
        let other_port = SocketAddr::new(ME.ip(), 9000);
        assert_eq!(Outcome::of(&[other_port], ME), Outcome::Peers);
    }

    #[test]
    fn resolve_at_once_before_the_first_resolution() {
        assert_eq!(Schedule::default().next_in(0), Duration::ZERO);
    }

    #[test]
    fn nothing_is_retried_at_half_a_second_then_doubling_capped_at_two() {
        let expected = [ms(500), ms(1000), ms(2000), ms(2000), ms(2000), ms(2000)];
        assert_eq!(waits(found(&[&[]]), 0, 6), expected);
        // However long it lasts: no ceiling in time, no slide to 30 s.
        assert_eq!(waits(found(&[&[]]), 0, 10_000).last(), Some(&ms(2000)));
    }

    #[test]
    fn only_self_is_retried_like_nothing() {
        let expected = [ms(500), ms(1000), ms(2000), ms(2000), ms(2000)];
        assert_eq!(waits(found(&[&[ME]]), 0, 5), expected);
        // One name waiting is enough, even when another finds peers the ring already holds.
        assert_eq!(waits(found(&[&[ME], &[addr(2)]]), 1, 5), expected);
    }

    #[test]
    fn a_whole_ring_waits_thirty_seconds() {
        let f = found(&[&[ME, addr(2), addr(3)]]);
        assert_eq!(waits(f, 2, 3), [SLOW, SLOW, SLOW]);
        // More members than the names resolve to is whole too.
        assert_eq!(waits(f, 5, 1), [SLOW]);
        // No peers configured at all: nothing to wait for.
        assert_eq!(waits(Found::default(), 0, 1), [SLOW]);
    }

    #[test]
    fn fewer_alive_than_resolved_retries_within_two_seconds_then_whole_again_is_thirty() {
        let f = found(&[&[ME, addr(2), addr(3), addr(4)]]);
        let mut s = Schedule::default();
        s.resolved(f, 3);
        assert_eq!(s.next_in(3), SLOW);
        // A member is lost between two resolutions: the next one is due within 2 s.
        assert!(s.next_in(2) <= FAST_MAX);
        // Resolutions while the ring stays short: never more than 2 s apart, however long.
        for _ in 0..20 {
            s.resolved(f, 1);
            let w = s.next_in(1);
            assert!(w > Duration::ZERO && w <= FAST_MAX, "{w:?}");
        }
        // The ring is whole again: 30 s, at once and after the next resolution.
        assert_eq!(s.next_in(3), SLOW);
        s.resolved(f, 3);
        assert_eq!(s.next_in(3), SLOW);
        // And a later shortage starts again from 500 ms.
        s.resolved(f, 2);
        assert_eq!(s.next_in(2), FAST_FIRST);
    }

    #[test]
    fn warnings_are_rate_limited_per_name_and_finding_peers_is_said_once() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + ms(s);
        let mut log = NameLog::default();
        let waiting = |outcome, waited| {
            Some(Note::Waiting {
                outcome,
                waited: ms(waited),
            })
        };
        assert_eq!(
            log.observe("a", Outcome::Nothing, at(0)),
            waiting(Outcome::Nothing, 0)
        );
        // Another name has its own limit.
        assert_eq!(
            log.observe("b", Outcome::OnlySelf, at(0)),
            waiting(Outcome::OnlySelf, 0)
        );
        for t in (500..30_000).step_by(500) {
            assert_eq!(log.observe("a", Outcome::Nothing, at(t)), None, "at {t} ms");
        }
        assert_eq!(
            log.observe("a", Outcome::OnlySelf, at(30_000)),
            waiting(Outcome::OnlySelf, 30_000)
        );
        assert_eq!(log.observe("a", Outcome::Nothing, at(31_000)), None);
        assert_eq!(
            log.observe("a", Outcome::Peers, at(40_000)),
            Some(Note::Found { waited: ms(40_000) })
        );
        assert_eq!(log.observe("a", Outcome::Peers, at(42_000)), None);
        // A name that finds peers from the start says nothing.
        assert_eq!(log.observe("c", Outcome::Peers, at(0)), None);
        // Losing them again warns at once (a new episode).
        assert_eq!(
            log.observe("a", Outcome::Nothing, at(43_000)),
            waiting(Outcome::Nothing, 0)
        );
    }

    /// A fake DNS: a host resolves to `answer(host, time since the test started)`; each lookup's
    /// time is recorded.
    struct Fake<F> {
        start: Instant,
        answer: F,
        calls: Arc<Mutex<Vec<Duration>>>,
    }

    impl<F> Lookup for Fake<F>
    where
        F: Fn(&str, Duration) -> Vec<SocketAddr> + Send + Sync + 'static,
    {
        async fn lookup(&self, host: &str, _port: u16) -> std::io::Result<Vec<SocketAddr>> {
            let t = self.start.elapsed();
            self.calls.lock().unwrap().push(t);
            Ok((self.answer)(host, t))
        }
    }

    struct Harness {
        start: Instant,
        rx: mpsc::Receiver<Vec<SocketAddr>>,
        alive: watch::Sender<usize>,
        calls: Arc<Mutex<Vec<Duration>>>,
        cancel: CancellationToken,
        task: tokio::task::JoinHandle<()>,
    }

    impl Harness {
        fn start(
            peers: &[&str],
            watch_file: Option<PathBuf>,
            answer: impl Fn(&str, Duration) -> Vec<SocketAddr> + Send + Sync + 'static,
        ) -> Harness {
            let start = Instant::now();
            let calls = Arc::new(Mutex::new(Vec::new()));
            let fake = Fake {
                start,
                answer,
                calls: Arc::clone(&calls),
            };
            let (alive, alive_rx) = watch::channel(0);
            let (tx, rx) = mpsc::channel(4);
            let cancel = CancellationToken::new();
            let names = Names {
                peers: peers.iter().map(|p| (*p).to_owned()).collect(),
                watch_file,
                me: ME,
            };
            let task = tokio::spawn(run(names, fake, alive_rx, tx, cancel.clone()));
            Harness {
                start,
                rx,
                alive,
                calls,
                cancel,
                task,
            }
        }

        /// The next list sent, and when (virtual time since the start).
        async fn next(&mut self) -> (Vec<SocketAddr>, Duration) {
            let list = self.rx.recv().await.unwrap();
            (list, self.start.elapsed())
        }

        fn calls_between(&self, from: Duration, to: Duration) -> Vec<Duration> {
            let calls = self.calls.lock().unwrap();
            calls
                .iter()
                .copied()
                .filter(|t| *t >= from && *t < to)
                .collect()
        }

        async fn stop(self) {
            self.cancel.cancel();
            self.task.await.unwrap();
        }
    }

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[tokio::test(start_paused = true)]
    async fn a_name_resolving_to_nothing_for_95_s_is_found_within_2_s_of_dns_catching_up() {
        let mut h = Harness::start(&["ring.default.svc"], None, |_, t| {
            if t < secs(95) {
                Vec::new()
            } else {
                vec![addr(2), addr(3)]
            }
        });
        // The first list is sent even though it is empty.
        assert_eq!(h.next().await, (Vec::new(), Duration::ZERO));
        let (list, at) = h.next().await;
        assert_eq!(list, [addr(2), addr(3)]);
        assert!(at >= secs(95) && at <= secs(97), "found at {at:?}");
        // The retries were never more than 2 s apart.
        let calls = h.calls_between(Duration::ZERO, secs(98));
        assert!(
            calls.windows(2).all(|w| w[1] - w[0] <= FAST_MAX),
            "{calls:?}"
        );
        h.stop().await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_name_resolving_only_to_ourselves_for_10_minutes_is_found_within_2_s() {
        let mut h = Harness::start(&["ring.default.svc"], None, |_, t| {
            // Not a multiple of 30 s, so the slow schedule cannot pass by luck.
            if t < secs(610) {
                vec![ME]
            } else {
                vec![ME, addr(2)]
            }
        });
        assert_eq!(h.next().await, (vec![ME], Duration::ZERO));
        let (list, at) = h.next().await;
        assert_eq!(list, [ME, addr(2)]);
        assert!(at >= secs(610) && at <= secs(612), "found at {at:?}");
        h.stop().await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_whole_ring_resolves_every_30_s_and_a_short_one_within_2_s() {
        let mut h = Harness::start(&["ring.default.svc"], None, |_, _| vec![addr(2), addr(3)]);
        h.alive.send_replace(2);
        assert_eq!(h.next().await, (vec![addr(2), addr(3)], Duration::ZERO));
        // Whole: one lookup per 30 s, no more.
        tokio::time::sleep(secs(65)).await;
        assert_eq!(
            h.calls_between(Duration::ZERO, secs(65)),
            [secs(0), secs(30), secs(60)]
        );
        // A member is lost: lookups resume within 2 s and stay at most 2 s apart.
        h.alive.send_replace(1);
        tokio::time::sleep(secs(20)).await;
        let short = h.calls_between(secs(65), secs(85));
        assert!(short.first().is_some_and(|t| *t <= secs(67)), "{short:?}");
        assert!(short.len() >= 10, "{short:?}");
        assert!(
            short.windows(2).all(|w| w[1] - w[0] <= FAST_MAX),
            "{short:?}"
        );
        // Whole again: the next lookup is 30 s after the last one.
        h.alive.send_replace(2);
        let last = *short.last().unwrap();
        tokio::time::sleep(secs(60)).await;
        assert_eq!(
            h.calls_between(secs(85), secs(145)),
            [last + secs(30), last + secs(60)]
        );
        h.stop().await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_changed_peer_watch_file_is_resolved_within_2_s() {
        let path = std::env::temp_dir().join(format!("warren-net-watch-{}", std::process::id()));
        std::fs::write(&path, "a\n").unwrap();
        let mut h = Harness::start(&[], Some(path.clone()), |host, _| match host {
            "a" => vec![addr(2)],
            _ => vec![addr(3)],
        });
        h.alive.send_replace(1);
        assert_eq!(h.next().await, (vec![addr(2)], Duration::ZERO));
        tokio::time::sleep(secs(10)).await;
        std::fs::write(&path, "a\n# comment\nb:9000\n").unwrap();
        // Whatever the file system's time granularity, the modification time differs.
        let file = std::fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(SystemTime::UNIX_EPOCH + secs(1)).unwrap();
        let (list, at) = h.next().await;
        std::fs::remove_file(&path).unwrap();
        assert_eq!(list, [addr(2), addr(3)]);
        assert!(at <= secs(12), "resolved at {at:?}");
        // Nothing else was resolved in between: the ring was whole.
        assert_eq!(h.calls_between(Duration::ZERO, secs(10)), [Duration::ZERO]);
        h.stop().await;
    }
}
