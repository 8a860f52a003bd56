//! The sending side: a PUSH fan-out that keeps one connection per target.
//!
//! [`Pusher::send`] never blocks: it appends the message to the target's bounded queue and
//! returns. The first message for a target spawns a worker task for it, which
//!
//! * connects lazily (within [`PushConfig::connect_timeout`]) and completes the handshake
//!   (within [`PushConfig::handshake_timeout`]), accepting only a PULL peer; nothing is sent
//!   before the peer's `READY` has been checked;
//! * writes queued messages in batches, each batch within [`PushConfig::send_timeout`]; a
//!   batch whose write fails or times out is dropped (counted) and the connection closed;
//! * reconnects after a failure with exponential backoff between
//!   [`PushConfig::reconnect_min`] and [`PushConfig::reconnect_max`]; queued messages wait
//!   (bounded by the queue) until the target has been unreachable for
//!   [`PushConfig::give_up_after`], when they are dropped (counted) and the worker ends;
//! * answers heartbeat `PING`s and notices when the peer closes;
//! * closes the connection and ends when its queue has been empty for
//!   [`PushConfig::idle_timeout`]; a later `send` starts a fresh worker.
//!
//! When a queue is full ([`PushConfig::queue_capacity`], libzmq's default high-water mark of
//! 1000 by default), [`Overflow`] decides whether the new or the oldest message is dropped.
//!
//! [`Pusher::send_bulk`] is for a large set of messages that must not meet the high-water mark
//! (a full-state sync): they wait in a second, bulk lane per target, bounded in bytes across all
//! targets ([`PushConfig::bulk_capacity`]), and the worker paces them
//! ([`PushConfig::bulk_rate`]) below what a Warren PULL listener accepts per connection, taking
//! them only when the ordinary queue is empty. Messages that do not fit are dropped and counted.
//!
//! At most [`PushConfig::max_targets`] targets are kept (each one a queue, a task and perhaps a
//! connection): a message for a new target evicts the least recently used idle one (nothing
//! queued; its worker ends and closes its connection), or is refused
//! ([`SendError::TooManyTargets`]) when every target has messages waiting. Both are counted.
//!
//! This module does **not** retry a batch that was partly written when a connection failed
//! (ZeroMQ does not either) or add jitter to backoff.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering as AtomicOrdering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::runtime::Handle;
use tokio::sync::Notify;
use tokio::time::{Duration, Instant, sleep, timeout};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, warn};

use crate::codec::{self, DEFAULT_MAX_FRAME_SIZE, Decoder, Event, MAX_IDENTITY_LEN, SocketType};
use crate::conn::{self, ConnError};
use crate::limit::{ConnLimiter, LogLimiter, RateLimit};
use crate::stats::{self, counters};

const READ_BUF: usize = 4 * 1024;
/// Most messages written in one batch.
const MAX_BATCH: usize = 256;
/// A batch stops growing once it holds this many body bytes.
const MAX_BATCH_BYTES: usize = 256 * 1024;

/// What to drop when a target's queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Overflow {
    /// Refuse the new message ([`SendError::QueueFull`]), as libzmq does at its high-water mark.
    #[default]
    DropNewest,
    /// Drop the oldest queued message and accept the new one.
    DropOldest,
}

/// Settings of a [`Pusher`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushConfig {
    /// Largest message [`Pusher::send`] accepts (and largest frame accepted from the peer).
    pub max_frame_size: usize,
    /// Time allowed for the TCP connect.
    pub connect_timeout: Duration,
    /// Time allowed from connect until the peer's `READY` has arrived.
    pub handshake_timeout: Duration,
    /// Time allowed to write one batch of messages (Habitat's send timeout is 500 ms).
    pub send_timeout: Duration,
    /// Messages queued per target before [`Overflow`] applies (at least 1).
    pub queue_capacity: usize,
    /// What to drop when a queue is full.
    pub overflow: Overflow,
    /// First reconnect delay after a failure.
    pub reconnect_min: Duration,
    /// Largest reconnect delay (the delay doubles after each failure).
    pub reconnect_max: Duration,
    /// A connection whose queue stays empty this long is closed and its worker ends.
    pub idle_timeout: Duration,
    /// After failing this long without a successful write, a target's queue is dropped.
    pub give_up_after: Duration,
    /// Optional `Identity` property sent in our `READY` (at most 255 bytes).
    pub identity: Option<Vec<u8>>,
    /// Most targets kept at once (at least 1); beyond it the least recently used idle target is
    /// evicted. 1024 is well above the members one ring member pushes to within an idle timeout
    /// (gossip fan-out, syncs, election peers), and bounds the tasks and sockets a flood of
    /// invented members can make us hold.
    pub max_targets: usize,
    /// Bytes waiting in the bulk lanes of all targets together ([`Pusher::send_bulk`]).
    /// 64 MiB holds several full-state syncs of a ring at `warren_ring`'s member cap (about
    /// 1.5 MB each plus gossiped config and files).
    pub bulk_capacity: usize,
    /// Pace of each target's bulk lane; `None` sends it as fast as the socket takes it. The
    /// default (500 messages/s in bursts of 1000, 2 MiB/s in bursts of 4 MiB) is half of the
    /// default [`RateLimit`] a PULL listener applies per connection, so a sync is not dropped by
    /// the receiver and ordinary gossip on the same connection keeps room.
    pub bulk_rate: Option<RateLimit>,
}

impl Default for PushConfig {
    /// 1 MiB messages, 1 s connect, 5 s handshake, 500 ms send, 1000 queued per target
    /// (drop newest), reconnect 100 ms…5 s, 10 s idle, give up after 30 s, no identity, 1024
    /// targets, 64 MiB of bulk paced at 500 messages/s and 2 MiB/s.
    fn default() -> Self {
        PushConfig {
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            connect_timeout: Duration::from_secs(1),
            handshake_timeout: Duration::from_secs(5),
            send_timeout: Duration::from_millis(500),
            queue_capacity: 1000,
            overflow: Overflow::DropNewest,
            reconnect_min: Duration::from_millis(100),
            reconnect_max: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(10),
            give_up_after: Duration::from_secs(30),
            identity: None,
            max_targets: 1024,
            bulk_capacity: 64 * 1024 * 1024,
            bulk_rate: Some(RateLimit {
                messages_per_sec: 500,
                message_burst: 1000,
                bytes_per_sec: 2 * 1024 * 1024,
                byte_burst: 4 * 1024 * 1024,
            }),
        }
    }
}

/// Why [`Pusher::new`] failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    /// `Pusher::new` was called outside a tokio runtime.
    #[error("Pusher::new must be called within a tokio runtime")]
    NoRuntime,
    /// The configured identity is longer than 255 bytes.
    #[error("identity longer than 255 bytes")]
    IdentityTooLong,
}

/// Why [`Pusher::send`] did not queue a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The target's queue is full and the overflow policy is [`Overflow::DropNewest`].
    #[error("queue for the target is full")]
    QueueFull,
    /// The message exceeds [`PushConfig::max_frame_size`].
    #[error("message of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// Message length.
        len: usize,
        /// Configured maximum.
        max: usize,
    },
    /// [`Pusher::send_bulk`]: the bulk lanes are full ([`PushConfig::bulk_capacity`]); the
    /// messages before the first that did not fit were queued, the last `dropped` were not.
    #[error("bulk lanes full: {dropped} messages dropped")]
    BulkFull {
        /// Messages not queued.
        dropped: usize,
    },
    /// The target is new, [`PushConfig::max_targets`] are kept and none of them is idle.
    #[error("too many targets with queued messages")]
    TooManyTargets,
    /// The pusher has been shut down.
    #[error("pusher is shut down")]
    Shutdown,
}

counters! {
    /// Counters of a [`Pusher`]; read them with [`PushStats::snapshot`].
    PushStats / PushStatsSnapshot {
        /// Messages written to a socket.
        messages_sent,
        /// Body bytes of those messages.
        bytes_sent,
        /// Connections whose handshake completed.
        connects,
        /// TCP connects that failed or timed out.
        connect_failures,
        /// Handshakes that failed (timeout, protocol error, peer not PULL).
        handshake_failures,
        /// Established connections lost (peer closed, peer `ERROR`, protocol error).
        disconnects,
        /// Messages dropped because a queue was full (either overflow policy).
        dropped_queue_full,
        /// Messages dropped because writing their batch failed or timed out.
        dropped_send_failed,
        /// Messages dropped when a target was given up as unreachable.
        dropped_unreachable,
        /// Idle targets evicted to make room for a new one ([`PushConfig::max_targets`]).
        targets_evicted,
        /// Messages refused because no target could be evicted ([`SendError::TooManyTargets`]).
        dropped_too_many_targets,
        /// Messages given to [`Pusher::send_bulk`] and queued in a bulk lane.
        bulk_queued,
        /// Messages given to [`Pusher::send_bulk`] that did not fit ([`SendError::BulkFull`]).
        dropped_bulk_full,
    }
}

struct Target {
    /// Tells a worker apart from a later one for the same address (after eviction).
    id: u64,
    /// When a message was last queued for it, on the pusher's tick counter.
    last_used: u64,
    queue: VecDeque<Vec<u8>>,
    /// Messages from [`Pusher::send_bulk`], taken (paced) only when `queue` is empty.
    bulk: VecDeque<Vec<u8>>,
    notify: Arc<Notify>,
}

impl Target {
    fn idle(&self) -> bool {
        self.queue.is_empty() && self.bulk.is_empty()
    }

    fn len(&self) -> usize {
        self.queue.len() + self.bulk.len()
    }

    fn bulk_bytes(&self) -> usize {
        self.bulk.iter().map(Vec::len).sum()
    }
}

/// What [`Shared::take_batch`] found.
struct Batch {
    messages: Vec<Vec<u8>>,
    /// Bulk messages wait for the pace: try again after this long.
    paced: Option<Duration>,
}

struct Shared {
    config: PushConfig,
    stats: Arc<PushStats>,
    targets: Mutex<HashMap<SocketAddr, Target>>,
    /// Source of target ids and of `last_used` ticks (only advanced under the targets lock).
    ticks: AtomicU64,
    /// Bytes in all bulk lanes (only changed under the targets lock).
    bulk_bytes: AtomicUsize,
    shutdown: CancellationToken,
    tracker: TaskTracker,
    runtime: Handle,
    log: LogLimiter,
}

impl Shared {
    fn targets(&self) -> MutexGuard<'_, HashMap<SocketAddr, Target>> {
        self.targets.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn queued(&self, to: SocketAddr) -> usize {
        self.targets().get(&to).map_or(0, Target::len)
    }

    fn release_bulk(&self, bytes: usize) {
        self.bulk_bytes.fetch_sub(bytes, AtomicOrdering::Relaxed);
    }

    fn tick(&self) -> u64 {
        self.ticks.fetch_add(1, AtomicOrdering::Relaxed)
    }

    /// Whether worker `id` still owns `to` (it was neither evicted nor given up).
    fn current(&self, to: SocketAddr, id: u64) -> bool {
        self.targets().get(&to).is_some_and(|t| t.id == id)
    }

    /// Messages queued for worker `id` of `to`.
    fn queued_for(&self, to: SocketAddr, id: u64) -> usize {
        match self.targets().get(&to) {
            Some(t) if t.id == id => t.len(),
            _ => 0,
        }
    }

    /// The next batch for worker `id`: ordinary messages first, then bulk ones as far as
    /// `pace` allows at `now`.
    fn take_batch(
        &self,
        to: SocketAddr,
        id: u64,
        pace: Option<&mut ConnLimiter>,
        now: Instant,
    ) -> Batch {
        let mut batch = Batch {
            messages: Vec::new(),
            paced: None,
        };
        let mut targets = self.targets();
        let Some(target) = targets.get_mut(&to).filter(|t| t.id == id) else {
            return batch;
        };
        let mut bytes = 0;
        while batch.messages.len() < MAX_BATCH && bytes < MAX_BATCH_BYTES {
            let Some(message) = target.queue.pop_front() else {
                break;
            };
            bytes += message.len();
            batch.messages.push(message);
        }
        if !batch.messages.is_empty() {
            return batch;
        }
        let mut pace = pace;
        let mut bulk_bytes = 0;
        while batch.messages.len() < MAX_BATCH && bulk_bytes < MAX_BATCH_BYTES {
            let Some(len) = target.bulk.front().map(Vec::len) else {
                break;
            };
            if let Some(p) = pace.as_deref_mut()
                && !p.allow(len, now)
            {
                batch.paced = Some(p.wait(len));
                break;
            }
            let Some(message) = target.bulk.pop_front() else {
                break;
            };
            bulk_bytes += len;
            batch.messages.push(message);
        }
        drop(targets);
        self.release_bulk(bulk_bytes);
        batch
    }

    /// Removes the target if its queue is empty; `true` if the worker should end (also when
    /// the target is no longer its own).
    fn retire(&self, to: SocketAddr, id: u64) -> bool {
        let mut targets = self.targets();
        match targets.get(&to) {
            Some(t) if t.id != id => true,
            Some(t) if !t.idle() => false,
            Some(_) => {
                targets.remove(&to);
                true
            }
            None => true,
        }
    }

    /// Evicts the least recently used idle target from `targets` (its worker notices, closes its
    /// connection and ends), or fails when every target has messages waiting.
    fn evict_one(&self, targets: &mut HashMap<SocketAddr, Target>) -> Result<(), SendError> {
        let lru = targets
            .iter()
            .filter(|(_, t)| t.idle())
            .min_by_key(|(_, t)| t.last_used)
            .map(|(addr, _)| *addr);
        let evicted = lru
            .and_then(|addr| targets.remove(&addr))
            .ok_or(SendError::TooManyTargets)?;
        evicted.notify.notify_one();
        stats::inc(&self.stats.targets_evicted);
        Ok(())
    }

    /// Drops the target's queue and removes it.
    fn give_up(&self, to: SocketAddr, id: u64) {
        let mut targets = self.targets();
        if targets.get(&to).is_none_or(|t| t.id != id) {
            return;
        }
        let (dropped, bulk_bytes) = targets
            .remove(&to)
            .map_or((0, 0), |t| (t.len(), t.bulk_bytes()));
        self.release_bulk(bulk_bytes);
        drop(targets);
        stats::add(&self.stats.dropped_unreachable, dropped as u64);
        if let Some(suppressed) = self.log.allow() {
            warn!(%to, dropped, suppressed, "ZMTP PUSH: target unreachable, dropping its queue");
        }
    }
}

/// A PUSH socket that fans messages out to many PULL targets. Cheap to clone.
#[derive(Clone)]
pub struct Pusher {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Pusher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pusher")
            .field("config", &self.shared.config)
            .field("stats", &self.shared.stats.snapshot())
            .finish_non_exhaustive()
    }
}

impl Pusher {
    /// Creates a pusher whose workers run on the current tokio runtime and stop when
    /// `shutdown` (or a parent of it) is cancelled.
    pub fn new(config: PushConfig, shutdown: &CancellationToken) -> Result<Pusher, PushError> {
        let runtime = Handle::try_current().map_err(|_| PushError::NoRuntime)?;
        if config
            .identity
            .as_ref()
            .is_some_and(|id| id.len() > MAX_IDENTITY_LEN)
        {
            return Err(PushError::IdentityTooLong);
        }
        Ok(Pusher {
            shared: Arc::new(Shared {
                config,
                stats: Arc::new(PushStats::default()),
                targets: Mutex::new(HashMap::new()),
                ticks: AtomicU64::new(0),
                bulk_bytes: AtomicUsize::new(0),
                shutdown: shutdown.child_token(),
                tracker: TaskTracker::new(),
                runtime,
                log: LogLimiter::new(20, std::time::Duration::from_secs(10)),
            }),
        })
    }

    /// Queues `message` for `to` without blocking; starts a worker for `to` if none runs.
    ///
    /// `Ok` means queued (with [`Overflow::DropOldest`], possibly at the cost of an older
    /// message, which is counted). Delivery is best effort: see [`PushStats`] for losses.
    pub fn send(&self, to: SocketAddr, message: Vec<u8>) -> Result<(), SendError> {
        let shared = &self.shared;
        if shared.shutdown.is_cancelled() {
            return Err(SendError::Shutdown);
        }
        let max = shared.config.max_frame_size;
        if message.len() > max {
            return Err(SendError::TooLarge {
                len: message.len(),
                max,
            });
        }
        let capacity = shared.config.queue_capacity.max(1);
        let mut targets = shared.targets();
        let target = match target_slot(shared, &mut targets, to) {
            Ok(t) => t,
            Err(e) => {
                stats::inc(&shared.stats.dropped_too_many_targets);
                return Err(e);
            }
        };
        if target.queue.len() >= capacity {
            stats::inc(&shared.stats.dropped_queue_full);
            match shared.config.overflow {
                Overflow::DropNewest => return Err(SendError::QueueFull),
                Overflow::DropOldest => {
                    target.queue.pop_front();
                }
            }
        }
        target.queue.push_back(message);
        target.notify.notify_one();
        Ok(())
    }

    /// Queues `messages` for `to` in its bulk lane, in order, without blocking: unlike
    /// [`Pusher::send`] they do not meet the queue's high-water mark but wait until the ordinary
    /// queue is empty and leave at [`PushConfig::bulk_rate`]. They are bounded, with every other
    /// target's bulk, by [`PushConfig::bulk_capacity`] bytes: the messages from the first that
    /// does not fit on are dropped, counted, and reported as [`SendError::BulkFull`].
    pub fn send_bulk(&self, to: SocketAddr, messages: Vec<Vec<u8>>) -> Result<(), SendError> {
        let shared = &self.shared;
        if shared.shutdown.is_cancelled() {
            return Err(SendError::Shutdown);
        }
        let max = shared.config.max_frame_size;
        if let Some(m) = messages.iter().find(|m| m.len() > max) {
            return Err(SendError::TooLarge { len: m.len(), max });
        }
        if messages.is_empty() {
            return Ok(());
        }
        let mut targets = shared.targets();
        let target = match target_slot(shared, &mut targets, to) {
            Ok(t) => t,
            Err(e) => {
                stats::add(
                    &shared.stats.dropped_too_many_targets,
                    messages.len() as u64,
                );
                return Err(e);
            }
        };
        let total = messages.len();
        let mut used = shared.bulk_bytes.load(AtomicOrdering::Relaxed);
        let mut queued = 0;
        for message in messages {
            if used.saturating_add(message.len()) > shared.config.bulk_capacity {
                break;
            }
            used += message.len();
            target.bulk.push_back(message);
            queued += 1;
        }
        shared.bulk_bytes.store(used, AtomicOrdering::Relaxed);
        target.notify.notify_one();
        drop(targets);
        stats::add(&shared.stats.bulk_queued, queued as u64);
        let dropped = total - queued;
        if dropped > 0 {
            stats::add(&shared.stats.dropped_bulk_full, dropped as u64);
            if let Some(suppressed) = shared.log.allow() {
                warn!(%to, dropped, suppressed, "ZMTP PUSH: bulk lanes full, dropping");
            }
            return Err(SendError::BulkFull { dropped });
        }
        Ok(())
    }

    /// Messages currently queued for `to` (both lanes).
    pub fn queued(&self, to: SocketAddr) -> usize {
        self.shared.queued(to)
    }

    /// Targets currently kept (each with its queue and worker); at most
    /// [`PushConfig::max_targets`].
    pub fn targets(&self) -> usize {
        self.shared.targets().len()
    }

    /// The pusher's counters.
    pub fn stats(&self) -> &Arc<PushStats> {
        &self.shared.stats
    }

    /// Stops every worker (same as cancelling the token given to [`Pusher::new`]); queued
    /// messages are discarded.
    pub fn shutdown(&self) {
        self.shared.shutdown.cancel();
    }

    /// Waits until every worker has ended; call after shutdown.
    pub async fn join(&self) {
        self.shared.tracker.close();
        self.shared.tracker.wait().await;
    }
}

/// The target for `to`, created (with its worker) if new, evicting the least recently used idle
/// target if [`PushConfig::max_targets`] are kept; marked as used now.
fn target_slot<'a>(
    shared: &Arc<Shared>,
    targets: &'a mut HashMap<SocketAddr, Target>,
    to: SocketAddr,
) -> Result<&'a mut Target, SendError> {
    if !targets.contains_key(&to) && targets.len() >= shared.config.max_targets.max(1) {
        shared.evict_one(targets)?;
    }
    let tick = shared.tick();
    let target = match targets.entry(to) {
        Entry::Occupied(e) => e.into_mut(),
        Entry::Vacant(e) => {
            let notify = Arc::new(Notify::new());
            shared.tracker.spawn_on(
                worker(Arc::clone(shared), to, tick, Arc::clone(&notify)),
                &shared.runtime,
            );
            e.insert(Target {
                id: tick,
                last_used: tick,
                queue: VecDeque::new(),
                bulk: VecDeque::new(),
                notify,
            })
        }
    };
    target.last_used = tick;
    Ok(target)
}

struct Connection {
    stream: TcpStream,
    decoder: Decoder,
}

enum Failure {
    Connect(String),
    Handshake(String),
}

async fn connect(
    to: SocketAddr,
    config: &PushConfig,
    buf: &mut [u8],
) -> Result<Connection, Failure> {
    let mut stream = match timeout(config.connect_timeout, TcpStream::connect(to)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => return Err(Failure::Connect(e.to_string())),
        Err(_) => return Err(Failure::Connect("connect timed out".to_owned())),
    };
    let _ = stream.set_nodelay(true);
    let mut decoder = Decoder::with_max_frame_size(SocketType::Push, config.max_frame_size);
    let handshake = conn::handshake(&mut stream, &mut decoder, config.identity.as_deref(), buf);
    match timeout(config.handshake_timeout, handshake).await {
        Ok(Ok(_properties)) => Ok(Connection { stream, decoder }),
        Ok(Err(e)) => Err(Failure::Handshake(e.to_string())),
        Err(_) => Err(Failure::Handshake("handshake timed out".to_owned())),
    }
}

/// Handles what the PULL peer sent: PINGs are answered; anything else ends the connection.
async fn handle_incoming(c: &mut Connection, config: &PushConfig) -> Result<(), ConnError> {
    loop {
        match c.decoder.next_event()? {
            None => return Ok(()),
            Some(Event::Ping { context, .. }) => {
                let pong = conn::pong(&context);
                match timeout(config.send_timeout, c.stream.write_all(&pong)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => return Err(e.into()),
                    Err(_) => {
                        return Err(std::io::Error::from(std::io::ErrorKind::TimedOut).into());
                    }
                }
            }
            Some(Event::Error { reason }) => return Err(ConnError::PeerError(reason)),
            Some(Event::Message(_)) => return Err(ConnError::Unexpected("message from PULL")),
            Some(Event::Greeting(_) | Event::Ready { .. }) => {
                return Err(ConnError::Unexpected("second handshake"));
            }
        }
    }
}

enum Wake {
    Notified,
    Idle,
    Paced,
    Read(std::io::Result<usize>),
}

/// Sleeps for `delay` unless shut down first; `false` on shutdown.
async fn pause(shutdown: &CancellationToken, delay: Duration) -> bool {
    tokio::select! {
        () = shutdown.cancelled() => false,
        () = sleep(delay) => true,
    }
}

async fn worker(shared: Arc<Shared>, to: SocketAddr, id: u64, notify: Arc<Notify>) {
    let config = &shared.config;
    let stats = &shared.stats;
    let mut conn: Option<Connection> = None;
    let mut backoff = config.reconnect_min;
    let mut failing_since: Option<Instant> = None;
    let mut buf = vec![0u8; READ_BUF];
    let mut out = Vec::new();
    let mut pace = config
        .bulk_rate
        .map(|r| ConnLimiter::new(&r, config.max_frame_size, Instant::now()));
    debug!(%to, "ZMTP PUSH worker started");
    loop {
        if shared.shutdown.is_cancelled() {
            return;
        }
        if !shared.current(to, id) {
            debug!(%to, "ZMTP PUSH target evicted, ending");
            return;
        }
        let Some(c) = conn.as_mut() else {
            if shared.queued_for(to, id) == 0 {
                let wake = tokio::select! {
                    biased;
                    () = shared.shutdown.cancelled() => return,
                    () = notify.notified() => Wake::Notified,
                    () = sleep(config.idle_timeout) => Wake::Idle,
                };
                if matches!(wake, Wake::Idle) && shared.retire(to, id) {
                    debug!(%to, "ZMTP PUSH worker idle, ending");
                    return;
                }
                continue;
            }
            let attempt = tokio::select! {
                () = shared.shutdown.cancelled() => return,
                attempt = connect(to, config, &mut buf) => attempt,
            };
            match attempt {
                Ok(mut c) => {
                    stats::inc(&stats.connects);
                    debug!(%to, "ZMTP PUSH connected");
                    // Bytes after the peer's READY (e.g. a PING) may already be buffered.
                    if let Err(e) = handle_incoming(&mut c, config).await {
                        stats::inc(&stats.disconnects);
                        log_failure(&shared, to, &e.to_string());
                        failing_since.get_or_insert_with(Instant::now);
                        if !pause(&shared.shutdown, backoff).await {
                            return;
                        }
                        backoff = (backoff * 2).min(config.reconnect_max);
                    } else {
                        conn = Some(c);
                    }
                }
                Err(failure) => {
                    let reason = match failure {
                        Failure::Connect(reason) => {
                            stats::inc(&stats.connect_failures);
                            reason
                        }
                        Failure::Handshake(reason) => {
                            stats::inc(&stats.handshake_failures);
                            reason
                        }
                    };
                    log_failure(&shared, to, &reason);
                    let since = *failing_since.get_or_insert_with(Instant::now);
                    if since.elapsed() >= config.give_up_after {
                        shared.give_up(to, id);
                        return;
                    }
                    if !pause(&shared.shutdown, backoff).await {
                        return;
                    }
                    backoff = (backoff * 2).min(config.reconnect_max);
                }
            }
            continue;
        };

        let Batch {
            messages: batch,
            paced,
        } = shared.take_batch(to, id, pace.as_mut(), Instant::now());
        if batch.is_empty() {
            let wait = paced.unwrap_or(config.idle_timeout);
            let wake = tokio::select! {
                biased;
                () = shared.shutdown.cancelled() => return,
                () = notify.notified() => Wake::Notified,
                read = c.stream.read(&mut buf) => Wake::Read(read),
                () = sleep(wait) => if paced.is_some() { Wake::Paced } else { Wake::Idle },
            };
            match wake {
                Wake::Notified | Wake::Paced => {}
                Wake::Idle => {
                    conn = None;
                    if shared.retire(to, id) {
                        debug!(%to, "ZMTP PUSH connection idle, closing");
                        return;
                    }
                }
                Wake::Read(Ok(0)) => {
                    stats::inc(&stats.disconnects);
                    debug!(%to, "ZMTP PUSH: peer closed the connection");
                    conn = None;
                }
                Wake::Read(Err(e)) => {
                    stats::inc(&stats.disconnects);
                    log_failure(&shared, to, &e.to_string());
                    conn = None;
                }
                Wake::Read(Ok(n)) => {
                    c.decoder.feed(buf.get(..n).unwrap_or_default());
                    if let Err(e) = handle_incoming(c, config).await {
                        stats::inc(&stats.disconnects);
                        log_failure(&shared, to, &e.to_string());
                        conn = None;
                    }
                }
            }
            continue;
        }

        out.clear();
        let mut bytes = 0u64;
        for message in &batch {
            codec::encode_message(&mut out, message);
            bytes += message.len() as u64;
        }
        let count = batch.len() as u64;
        drop(batch);
        let write = tokio::select! {
            () = shared.shutdown.cancelled() => return,
            write = timeout(config.send_timeout, c.stream.write_all(&out)) => write,
        };
        let failed = match write {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(_) => Some("send timed out".to_owned()),
        };
        match failed {
            None => {
                stats::add(&stats.messages_sent, count);
                stats::add(&stats.bytes_sent, bytes);
                backoff = config.reconnect_min;
                failing_since = None;
            }
            Some(reason) => {
                stats::add(&stats.dropped_send_failed, count);
                stats::inc(&stats.disconnects);
                log_failure(&shared, to, &reason);
                conn = None;
                failing_since.get_or_insert_with(Instant::now);
                if !pause(&shared.shutdown, backoff).await {
                    return;
                }
                backoff = (backoff * 2).min(config.reconnect_max);
            }
        }
        if out.capacity() > 4 * MAX_BATCH_BYTES {
            out = Vec::new();
        }
    }
}

fn log_failure(shared: &Shared, to: SocketAddr, reason: &str) {
    if let Some(suppressed) = shared.log.allow() {
        warn!(%to, reason, suppressed, "ZMTP PUSH connection failed");
    }
}
