//! `warren-sim`: a deterministic simulator for `warren-ring`.
//!
//! Many ring members run on one virtual clock with one seeded RNG ([`network::Sim`]); the network
//! between them has latency, jitter, loss and partitions, and members can crash, restart, leave or
//! be slow. [`scenario`] builds the measured situations the design's targets talk about (crash
//! detection, loss, a slow member, rumor coverage, join cost, churn) and [`elections`] the election
//! ones (failover after a crash or a graceful stop, randomized fault schedules); all report JSON.
//!
//! It is a test and measurement tool: the product binary never depends on it, and it never opens
//! a socket or reads a real clock (except to report its own wall time).

#![forbid(unsafe_code)]

pub mod elections;
pub mod network;
pub mod scenario;

pub use network::{NetConfig, Sim, Slowness};
pub use scenario::{Params, run};
