//! `warren-zmtp`: the ZeroMQ transport Warren's rumor gossip rides on, implemented from the
//! ZMTP 3.1 specification (RFC 37) for exactly the case Habitat uses: the NULL security
//! mechanism, PUSH → PULL over TCP, one single-frame message per rumor. It interoperates with
//! libzmq 4.x (Habitat's own peers) in both directions.
//!
//! * [`codec`]: a sans-IO greeting/handshake/frame decoder and encoder, no tokio.
//! * [`pull`]: [`PullListener`], a bound PULL socket that accepts many PUSH peers and hands
//!   their messages to a bounded channel.
//! * [`push`]: [`Pusher`], a PUSH fan-out keeping one connection and one bounded queue per
//!   target address (a bounded number of targets), plus a paced, byte-bounded bulk lane for
//!   large sets of messages.
//!
//! # Why our own codec rather than the `zeromq` crate
//!
//! Gossip listens on a public port, so the transport is attack surface. Owning the few hundred
//! lines ZMTP-with-NULL needs lets Warren
//!
//! * bound everything a peer controls: frame sizes are checked from the header before any
//!   buffering, multi-frame messages are refused, queues and channels are bounded;
//! * time out every stage separately (connect, handshake, idle, send) and drop half-open or
//!   silent peers;
//! * rate-limit each connection and cap the number of connections, with counters for every
//!   reason a message or connection is dropped;
//! * shut down deterministically from a [`CancellationToken`](tokio_util::sync::CancellationToken);
//! * carry no socket types, security mechanisms or transports that Habitat never uses, and keep
//!   the wire logic testable without sockets (fixtures captured from real Habitat peers decode
//!   and re-encode byte for byte).
//!
//! This crate does **not** decode Habitat's `Wire`/`Rumor` protobufs, decrypt ring-keyed
//! payloads, speak CURVE or PLAIN, ZMTP 1.0/2.0, IPC/inproc transports, or any socket type but
//! PUSH and PULL.

#![forbid(unsafe_code)]

pub mod codec;
mod conn;
mod limit;
pub mod pull;
pub mod push;
mod stats;

pub use codec::{DecodeError, Decoder, Event, Greeting, Property, SocketType};
pub use limit::RateLimit;
pub use pull::{PullConfig, PullListener, PullStats, PullStatsSnapshot, Received};
pub use push::{Overflow, PushConfig, PushError, PushStats, PushStatsSnapshot, Pusher, SendError};
