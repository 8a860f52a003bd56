//! `warren-gateway`: Warren's HTTP gateway (Habitat's port 9631).
//!
//! What it does today:
//! - [`butterfly`] renders Habitat's `/butterfly` JSON (spec §10.5) from a [`warren_ring::Ring`];
//! - [`server`] serves `/healthz`, `/readyz` and `/butterfly` over HTTP/1.1 (hyper) from a
//!   pre-rendered [`Snapshot`] published on a `tokio::sync::watch` channel, so a request never
//!   touches, locks or waits for the ring.
//!
//! What it does **not** do yet: `/services`, `/census`, `/metrics`, the HTML index, bearer auth
//! (`HAB_SUP_GATEWAY_AUTH_TOKEN`), TLS, and `HAB_FEAT_REDACT_HTTP`. The shape is meant to grow:
//! new pre-rendered documents are added to [`Snapshot`] and new routes to the router in
//! [`server`]. It never owns the ring: the shell's main loop renders and publishes snapshots.

#![forbid(unsafe_code)]

pub mod butterfly;
pub mod census;
pub mod server;

pub use butterfly::{UpdateCounters, render, render_with};
pub use server::{ServerConfig, Snapshot, serve, serve_with};
