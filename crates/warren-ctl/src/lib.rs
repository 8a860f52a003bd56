//! `warren-ctl`: Warren's control API (issue 6; design §3 "Commands"; spec §11 for Habitat's
//! meaning of each request).
//!
//! gRPC over HTTP/2 with tonic, on `--listen-ctl` (default `127.0.0.1:9632`), for Warren's own
//! CLI; on the same port, Habitat's `sup.ctl` protocol for the `hab` CLI ([`hab`]), told apart
//! by the first byte of each connection. The gRPC service is
//! `warren.ctl.v1.Control` (`proto/warren/ctl/v1/ctl.proto`, compiled at build time with
//! `protox` and `tonic-prost-build`, so no `protoc` is needed): `Load`, `Unload`, `Start`,
//! `Stop`, `Status`, `ConfigApply`, `FileUpload`, `Depart`.
//!
//! What it does:
//! - [`server`]: [`serve`] a [`ControlHandler`] with bearer authentication by [`CtlSecret`]
//!   (constant time), a request size limit, per-request form checks and graceful shutdown; it
//!   also demultiplexes the port between gRPC and Habitat's protocol;
//! - [`hab`]: Habitat's frame codec and session, mapped onto the same [`ControlHandler`];
//! - [`client`]: [`CtlClient`], one async method per request, errors as one line;
//! - [`secret`]: `CTL_SECRET` created on first run (0600) and found by clients;
//! - [`types`]: the plain request and reply values both sides use (the prost types stay
//!   private);
//! - [`validate`]: the form checks both sides share ([`validate_toml`], [`validate_filename`],
//!   [`MAX_PAYLOAD_BYTES`]);
//! - [`table`]: [`format_status_table`], the `warren svc status` text.
//!
//! What it does not do: anything to services or the ring. What a request *means* (loading a
//! plan, writing a spec file, gossiping a rumor) is the [`ControlHandler`] the supervisor
//! implements; parsing flags is the CLI's. No TLS, no `SvcUpdate` or `SupRestart`
//! yet, and no encrypted (`--user`) payloads.
//!
//! # Wiring
//!
//! Supervisor side (the composition root):
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use warren_ctl::*;
//! # struct Supervisor;
//! # #[async_trait]
//! # impl ControlHandler for Supervisor {
//! #   async fn load(&self, _: LoadRequest) -> Result<Reply, CtlError> { Err(no()) }
//! #   async fn unload(&self, _: UnloadRequest) -> Result<Reply, CtlError> { Err(no()) }
//! #   async fn start(&self, _: StartRequest) -> Result<Reply, CtlError> { Err(no()) }
//! #   async fn stop(&self, _: StopRequest) -> Result<Reply, CtlError> { Err(no()) }
//! #   async fn status(&self, _: StatusRequest) -> Result<Vec<ServiceStatus>, CtlError> { Err(no()) }
//! #   async fn config_apply(&self, _: ConfigApplyRequest) -> Result<Reply, CtlError> { Err(no()) }
//! #   async fn file_upload(&self, _: FileUploadRequest) -> Result<Reply, CtlError> { Err(no()) }
//! #   async fn depart(&self, _: DepartRequest) -> Result<Reply, CtlError> { Err(no()) }
//! # }
//! # fn no() -> CtlError { CtlError::Internal("not in this example".into()) }
//! # async fn run(sup_root: &std::path::Path, shutdown: tokio_util::sync::CancellationToken)
//! #     -> Result<(), Box<dyn std::error::Error>> {
//! let secret = CtlSecret::load_or_create(sup_root)?; // <fs_root>/hab/sup/default
//! let listener = tokio::net::TcpListener::bind(DEFAULT_CTL_ADDR).await?;
//! let handler: Arc<dyn ControlHandler> = Arc::new(Supervisor);
//! let task = tokio::spawn(serve(listener, handler, secret, shutdown.clone()));
//! // … later, after shutdown.cancel():
//! task.await??;
//! # Ok(()) }
//! ```
//!
//! CLI side:
//!
//! ```no_run
//! # use warren_ctl::*;
//! # async fn cli(fs_root: &std::path::Path, remote_sup: Option<&str>)
//! #     -> Result<(), Box<dyn std::error::Error>> {
//! let secret = CtlSecret::for_client(fs_root)?;
//! let client = CtlClient::connect(remote_sup.unwrap_or(DEFAULT_CTL_ADDR), secret).await?;
//! let rows = client.status(StatusRequest { service: None }).await?;
//! print!("{}", format_status_table(&rows));
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]

pub mod client;
pub mod error;
pub mod hab;
pub mod secret;
pub mod server;
pub mod table;
pub mod tls;
pub mod types;
pub mod validate;

/// The generated prost messages and tonic stubs of `warren.ctl.v1`; private so that the API is
/// the plain types of [`types`].
mod proto {
    #![allow(missing_docs, unreachable_pub, clippy::all, clippy::pedantic)]
    tonic::include_proto!("warren.ctl.v1");
}

#[cfg(test)]
mod tests;

pub use client::{CALL_TIMEOUT, CONNECT_TIMEOUT, CtlClient, DEFAULT_CTL_ADDR, DEFAULT_CTL_PORT};
pub use error::{ClientError, CtlError, SecretError, ServeError, UNAUTHENTICATED_MESSAGE};
pub use secret::{CTL_SECRET_BYTES, CTL_SECRET_ENV, CTL_SECRET_FILE, CtlSecret};
pub use server::{ControlHandler, serve, serve_with};
pub use table::{NO_SERVICES, format_status_table};
pub use tls::{CtlTls, CtlTlsError, DEFAULT_CTL_KEYS_DIR};
pub use types::{
    Bind, BindingMode, ConfigApplyRequest, DEFAULT_GROUP, DEFAULT_HEALTH_CHECK_INTERVAL_SECS,
    DepartRequest, DesiredState, FileUploadRequest, Health, LoadRequest, ProcessState, Reply,
    ServiceStatus, StartRequest, StatusRequest, StopRequest, Topology, UnloadRequest,
    UpdateRequest, UpdateStrategy,
};
pub use validate::{
    MAX_PAYLOAD_BYTES, MAX_REQUEST_BYTES, validate_box, validate_filename, validate_toml,
};

/// The attribute for implementing [`ControlHandler`] (tonic's re-export of `async-trait`), so
/// implementers need no dependency of their own.
pub use tonic::async_trait;
