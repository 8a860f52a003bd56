//! The receiving side: a PULL listener that accepts many PUSH peers.
//!
//! [`PullListener::bind`] binds a TCP address and returns the listener plus a bounded
//! [`mpsc::Receiver`] of `(peer address, message)`. Each accepted connection runs in its own
//! task, which
//!
//! * completes the ZMTP handshake within [`PullConfig::handshake_timeout`] (a peer that never
//!   sends its greeting is dropped then), accepting only PUSH peers;
//! * closes the connection when nothing arrives for [`PullConfig::idle_timeout`] (half-open
//!   sockets, stuck peers);
//! * rejects frames larger than [`PullConfig::max_frame_size`] by closing the connection;
//! * drops messages beyond its [`RateLimit`] (counted, the connection stays open);
//! * answers heartbeat `PING`s;
//! * waits for room in the channel when the consumer is slow (backpressure on that peer's TCP
//!   stream, as libzmq's PULL does at its high-water mark) rather than dropping.
//!
//! Memory per session is bounded by the read buffer (16 KiB) plus the decoder's buffer, which
//! holds at most one partial frame (below twice `max_frame_size` with `Vec` growth) and is
//! released after a large frame. At most [`PullConfig::max_connections`] sessions run at once; further connections are
//! accepted and closed immediately. Everything stops when the [`CancellationToken`] given to
//! `bind` is cancelled, when the [`PullListener`] is dropped, or when the receiver is dropped.
//!
//! This module does **not** decode the messages (Habitat `Wire` protobufs), decrypt them, or
//! limit the total rate across connections.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinHandle;
use tokio::time::{Duration, Instant, timeout};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, warn};

use crate::codec::{DEFAULT_MAX_FRAME_SIZE, DecodeError, Decoder, Event, SocketType};
use crate::conn::{self, ConnError};
use crate::limit::{ConnLimiter, LogLimiter, RateLimit};
use crate::stats::{self, counters};

/// What the listener hands to its consumer: the sending peer's address and one message.
pub type Received = (SocketAddr, Vec<u8>);

const READ_BUF: usize = 16 * 1024;
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// Settings of a [`PullListener`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullConfig {
    /// Largest message (and command) body accepted; a larger frame closes the connection.
    pub max_frame_size: usize,
    /// Time allowed from accept until the peer's `READY` has arrived.
    pub handshake_timeout: Duration,
    /// A connection on which nothing arrives for this long is closed.
    pub idle_timeout: Duration,
    /// Sessions allowed at once; more are accepted and immediately closed.
    pub max_connections: usize,
    /// Capacity of the message channel returned by [`PullListener::bind`].
    pub channel_capacity: usize,
    /// Per-connection rate limit; `None` disables it.
    pub rate_limit: Option<RateLimit>,
}

impl Default for PullConfig {
    /// 1 MiB frames, 5 s handshake, 60 s idle, 256 connections, 1024 queued messages and the
    /// default [`RateLimit`].
    fn default() -> Self {
        PullConfig {
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            handshake_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(60),
            max_connections: 256,
            channel_capacity: 1024,
            rate_limit: Some(RateLimit::default()),
        }
    }
}

counters! {
    /// Counters of a [`PullListener`]; read them with [`PullStats::snapshot`].
    PullStats / PullStatsSnapshot {
        /// Connections accepted and given a session.
        connections_accepted,
        /// Connections closed at once because `max_connections` sessions were running.
        connections_rejected,
        /// Sessions running now (a gauge).
        connections_active,
        /// Sessions whose handshake completed.
        handshakes_completed,
        /// Messages put into the channel.
        messages_received,
        /// Body bytes of those messages.
        bytes_received,
        /// Messages dropped by the per-connection rate limit.
        dropped_rate_limited,
        /// Sessions the peer closed (EOF).
        closed_by_peer,
        /// Sessions closed because the handshake took too long.
        closed_handshake_timeout,
        /// Sessions closed because nothing arrived within the idle timeout.
        closed_idle_timeout,
        /// Sessions closed because a frame exceeded `max_frame_size`.
        closed_frame_too_large,
        /// Sessions closed because the peer was not a PUSH socket.
        closed_wrong_socket_type,
        /// Sessions closed for any other protocol violation.
        closed_protocol_error,
        /// Sessions the peer ended with an `ERROR` command.
        closed_peer_error,
        /// Sessions ended by a socket error.
        closed_io_error,
    }
}

struct Shared {
    config: PullConfig,
    stats: Arc<PullStats>,
    tx: mpsc::Sender<Received>,
    shutdown: CancellationToken,
    log: LogLimiter,
}

/// A bound PULL socket. Dropping it stops accepting and closes every session.
#[derive(Debug)]
pub struct PullListener {
    local_addr: SocketAddr,
    stats: Arc<PullStats>,
    shutdown: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl PullListener {
    /// Binds `addr` and starts accepting PUSH peers on the current tokio runtime.
    ///
    /// Cancelling `shutdown` (or any parent of it) stops the listener and all its sessions.
    /// Must be called from within a tokio runtime.
    pub async fn bind(
        addr: SocketAddr,
        config: PullConfig,
        shutdown: &CancellationToken,
    ) -> io::Result<(PullListener, mpsc::Receiver<Received>)> {
        let listener = TcpListener::bind(addr).await?;
        let local_addr = listener.local_addr()?;
        let (tx, rx) = mpsc::channel(config.channel_capacity.max(1));
        let stats = Arc::new(PullStats::default());
        let token = shutdown.child_token();
        let shared = Arc::new(Shared {
            config,
            stats: Arc::clone(&stats),
            tx,
            shutdown: token.clone(),
            log: LogLimiter::new(20, std::time::Duration::from_secs(10)),
        });
        let task = tokio::spawn(accept_loop(listener, shared));
        debug!(%local_addr, "ZMTP PULL listener bound");
        Ok((
            PullListener {
                local_addr,
                stats,
                shutdown: token,
                task: Some(task),
            },
            rx,
        ))
    }

    /// The address actually bound (useful after binding port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The listener's counters.
    pub fn stats(&self) -> &Arc<PullStats> {
        &self.stats
    }

    /// Stops accepting and closes every session (same as cancelling the token).
    pub fn shutdown(&self) {
        self.shutdown.cancel();
    }

    /// Waits until the accept loop and every session task have ended. They end only after
    /// shutdown (or when the receiver has been dropped).
    pub async fn join(mut self) {
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for PullListener {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let tracker = TaskTracker::new();
    let permits = Arc::new(Semaphore::new(shared.config.max_connections));
    loop {
        let accepted = tokio::select! {
            () = shared.shutdown.cancelled() => break,
            () = shared.tx.closed() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
                    stats::inc(&shared.stats.connections_rejected);
                    if let Some(suppressed) = shared.log.allow() {
                        warn!(%peer, suppressed, "ZMTP PULL: too many connections, closing");
                    }
                    drop(stream);
                    continue;
                };
                stats::inc(&shared.stats.connections_accepted);
                tracker.spawn(session(stream, peer, Arc::clone(&shared), permit));
            }
            Err(e) => {
                if let Some(suppressed) = shared.log.allow() {
                    warn!(error = %e, suppressed, "ZMTP PULL: accept failed");
                }
                tokio::select! {
                    () = shared.shutdown.cancelled() => break,
                    () = tokio::time::sleep(ACCEPT_ERROR_PAUSE) => {}
                }
            }
        }
    }
    drop(listener);
    // Sessions watch the same token; make sure they stop if we left because the receiver went.
    shared.shutdown.cancel();
    tracker.close();
    tracker.wait().await;
}

/// Decrements the active-session gauge however the session ends.
struct ActiveGuard<'a>(&'a PullStats);

impl Drop for ActiveGuard<'_> {
    fn drop(&mut self) {
        self.0
            .connections_active
            .fetch_sub(1, stats::Ordering::Relaxed);
    }
}

#[derive(Debug)]
enum Outcome {
    Shutdown,
    ReceiverGone,
    HandshakeTimeout,
    IdleTimeout,
    Failed(ConnError),
}

async fn session(
    mut stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    _permit: OwnedSemaphorePermit,
) {
    stats::inc(&shared.stats.connections_active);
    let _active = ActiveGuard(&shared.stats);
    let _ = stream.set_nodelay(true);
    let outcome = run_session(&mut stream, peer, &shared).await;
    let s = &shared.stats;
    let counter = match &outcome {
        Outcome::Shutdown | Outcome::ReceiverGone => None,
        Outcome::HandshakeTimeout => Some(&s.closed_handshake_timeout),
        Outcome::IdleTimeout => Some(&s.closed_idle_timeout),
        Outcome::Failed(ConnError::Eof) => Some(&s.closed_by_peer),
        Outcome::Failed(ConnError::Io(_)) => Some(&s.closed_io_error),
        Outcome::Failed(ConnError::PeerError(_)) => Some(&s.closed_peer_error),
        Outcome::Failed(ConnError::Decode(DecodeError::FrameTooLarge { .. })) => {
            Some(&s.closed_frame_too_large)
        }
        Outcome::Failed(ConnError::Decode(e)) if conn::is_socket_type_error(e) => {
            Some(&s.closed_wrong_socket_type)
        }
        Outcome::Failed(ConnError::Decode(_) | ConnError::Unexpected(_)) => {
            Some(&s.closed_protocol_error)
        }
    };
    if let Some(counter) = counter {
        stats::inc(counter);
    }
    match outcome {
        Outcome::Failed(ConnError::Eof) | Outcome::Shutdown | Outcome::ReceiverGone => {
            debug!(%peer, ?outcome, "ZMTP PULL session ended");
        }
        outcome => {
            if let Some(suppressed) = shared.log.allow() {
                warn!(%peer, ?outcome, suppressed, "ZMTP PULL session closed");
            }
        }
    }
}

async fn run_session(stream: &mut TcpStream, peer: SocketAddr, shared: &Shared) -> Outcome {
    let config = &shared.config;
    let mut decoder = Decoder::with_max_frame_size(SocketType::Pull, config.max_frame_size);
    let mut buf = vec![0u8; READ_BUF];

    let handshake = tokio::select! {
        () = shared.shutdown.cancelled() => return Outcome::Shutdown,
        r = timeout(
            config.handshake_timeout,
            conn::handshake(stream, &mut decoder, None, &mut buf),
        ) => r,
    };
    match handshake {
        Err(_elapsed) => return Outcome::HandshakeTimeout,
        Ok(Err(e)) => return Outcome::Failed(e),
        Ok(Ok(_properties)) => stats::inc(&shared.stats.handshakes_completed),
    }

    let mut limiter = config
        .rate_limit
        .map(|l| ConnLimiter::new(&l, config.max_frame_size, Instant::now()));
    // Logged once per session; the counter tells the rest.
    let mut rate_limit_logged = false;
    loop {
        loop {
            let event = match decoder.next_event() {
                Ok(Some(event)) => event,
                Ok(None) => break,
                Err(e) => return Outcome::Failed(e.into()),
            };
            match event {
                Event::Message(message) => {
                    if let Some(limiter) = &mut limiter
                        && !limiter.allow(message.len(), Instant::now())
                    {
                        stats::inc(&shared.stats.dropped_rate_limited);
                        if !rate_limit_logged {
                            rate_limit_logged = true;
                            if let Some(suppressed) = shared.log.allow() {
                                warn!(%peer, suppressed, "ZMTP PULL: peer exceeds its rate limit, dropping");
                            }
                        }
                        continue;
                    }
                    let len = message.len() as u64;
                    tokio::select! {
                        biased;
                        () = shared.shutdown.cancelled() => return Outcome::Shutdown,
                        sent = shared.tx.send((peer, message)) => {
                            if sent.is_err() {
                                return Outcome::ReceiverGone;
                            }
                        }
                    }
                    stats::inc(&shared.stats.messages_received);
                    stats::add(&shared.stats.bytes_received, len);
                }
                Event::Ping { context, .. } => {
                    let pong = conn::pong(&context);
                    match timeout(config.handshake_timeout, stream.write_all(&pong)).await {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => return Outcome::Failed(e.into()),
                        Err(_) => return Outcome::IdleTimeout,
                    }
                }
                Event::Error { reason } => return Outcome::Failed(ConnError::PeerError(reason)),
                // The decoder yields these once, during the handshake.
                Event::Greeting(_) | Event::Ready { .. } => {
                    return Outcome::Failed(ConnError::Unexpected("second handshake"));
                }
            }
        }
        let read = tokio::select! {
            () = shared.shutdown.cancelled() => return Outcome::Shutdown,
            r = timeout(config.idle_timeout, stream.read(&mut buf)) => r,
        };
        match read {
            Err(_elapsed) => return Outcome::IdleTimeout,
            Ok(Err(e)) => return Outcome::Failed(e.into()),
            Ok(Ok(0)) => return Outcome::Failed(ConnError::Eof),
            Ok(Ok(n)) => decoder.feed(buf.get(..n).unwrap_or_default()),
        }
    }
}
