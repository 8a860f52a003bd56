//! `warren-gateway`: Warren's HTTP gateway (Habitat's port 9631).
//!
//! What it does:
//! - [`butterfly`] and [`census`] render Habitat's `/butterfly` and `/census` JSON (spec §10.4,
//!   §10.5) from a [`warren_ring::Ring`];
//! - [`services`] renders Habitat's `ServiceQueryModel`, each service's configuration and its
//!   health report (spec §10.3) from plain view types the binary fills in;
//! - [`server`] serves them, plus `/metrics`, `/healthz` and `/readyz`, over HTTP/1.1 (hyper),
//!   optionally over TLS ([`tls`]) and behind a bearer token ([`auth`]), from a pre-rendered
//!   [`Snapshot`] published on a `tokio::sync::watch` channel, so a request never touches,
//!   locks or waits for the ring or a service.
//!
//! What it does **not** do: own or mutate any state (producers publish snapshots), read the
//! environment or flags (the binary resolves them into [`ServerConfig`]), HTTP/2, or the HTML
//! index.
//!
//! # Wiring (for the binary)
//!
//! ```no_run
//! # async fn wire(
//! #     listener: tokio::net::TcpListener,
//! #     shutdown: tokio_util::sync::CancellationToken,
//! #     sup: warren_gateway::SupervisorView,
//! #     views: Vec<warren_gateway::ServiceView>,
//! # ) -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use warren_gateway::{AuthToken, ServerConfig, ServiceDocs, Snapshot, TlsConfig};
//!
//! let metrics = warren_metrics::Metrics::new(); // one per process; clone it everywhere
//! let cfg = ServerConfig {
//!     auth_token: std::env::var(warren_gateway::auth::AUTH_TOKEN_ENV)
//!         .ok()
//!         .and_then(|t| AuthToken::new(&t)),
//!     // `--key` and `--certs`, when both are given:
//!     tls: Some(TlsConfig::from_pem_files("key.pem".as_ref(), "certs.pem".as_ref())?),
//!     metrics: metrics.clone(),
//!     ..ServerConfig::default()
//! };
//! let (tx, rx) = tokio::sync::watch::channel(Arc::new(Snapshot::default()));
//! tokio::spawn(warren_gateway::serve_with(listener, rx, shutdown, cfg));
//!
//! // The gossip task, on each snapshot: replace the ring documents, keep the services.
//! # let (new_snap, _census) = (Snapshot::default(), ());
//! tx.send_modify(|s| *s = Arc::new(new_snap.with_services(Arc::clone(&s.services))));
//!
//! // The service side, whenever a service's state changed: serialize once, keep the rest.
//! let docs = ServiceDocs::build(&sup, &views);
//! tx.send_modify(|s| *s = Arc::new((**s).clone().with_services(docs)));
//! # Ok(()) }
//! ```
//!
//! `/readyz` answers 200 once [`Snapshot::gossip_ready`] is true and every service in
//! [`Snapshot::services`] is up with health OK or WARNING; publish the services before (or
//! with) the first ready ring snapshot so a service supervisor is not reported ready before its
//! services are known.

#![forbid(unsafe_code)]

pub mod auth;
pub mod butterfly;
pub mod census;
pub mod server;
pub mod services;
pub mod tls;

pub use auth::AuthToken;
pub use butterfly::{UpdateCounters, render, render_with};
pub use server::{ServerConfig, Snapshot, routes, serve, serve_with};
pub use services::{
    BindingMode, DesiredState, FsCfg, Health, HealthReport, HookTable, HookView, LastProcessState,
    PkgBind, PkgView, ProcessState, ProcessView, RestartConfig, ServiceDocs, ServiceView,
    SupervisorSys, SupervisorView, Topology, UpdateCondition, UpdateStrategy,
};
pub use tls::{TlsConfig, TlsError};
