//! `warren-net`: the tokio shell that puts a [`warren_ring::Ring`] on real sockets.
//!
//! One task owns the ring ([`Gossip::run`]): it receives SWIM datagrams on a UDP socket and rumors
//! from a ZMTP PULL listener on the same port number, feeds them to the core, fires the core's
//! timers, and sends what the core asks for (datagrams on UDP, rumors through a ZMTP pusher), all
//! encoded and encrypted by `warren-wire`. It resolves peers (DNS names to every address) and
//! re-reads a peer-watch file on a task of its own: within 2 s while a name finds no peer or the
//! ring holds fewer Alive members than the names list, every 30 s once the ring is whole. It holds **no protocol decisions**: every choice of whom to probe,
//! suspect or tell is the core's. Persistence and HTTP are the caller's, through [`Hooks`].
//!
//! [`GossipThread`] runs that task on its own OS thread and tokio runtime, so that no other work
//! in the process can make the ring's timers late (which the ring reads as "I am the slow one").

#![forbid(unsafe_code)]

mod faults;
pub mod peers;
mod resolver;
mod shell;
mod thread;
mod urgency;

pub use shell::{Counters, Exit, Gossip, GossipConfig, Hooks, LocalService, NetError, RingCommand};
pub use thread::GossipThread;
