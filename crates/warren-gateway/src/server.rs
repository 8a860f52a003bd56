//! The HTTP/1.1 server: routes, connection limits, timeouts and graceful shutdown.
//!
//! Every response is built from the latest [`Snapshot`] on a `watch` channel, which the shell's
//! main loop refreshes; a request never reaches the ring, so a busy or wedged ring cannot stall
//! the gateway, and the gateway cannot slow the ring (Habitat serves cached JSON the same way).
//!
//! Routes (GET and HEAD): `/healthz` → 200 `ok`; `/readyz` → 200 `ok` when
//! [`Snapshot::gossip_ready`], else 503; `/butterfly` → 200 JSON. Unknown paths → 404 and other
//! methods on known paths → 405, both with a `{"error": …}` body.
//!
//! Bounds: at most [`ServerConfig::max_connections`] connections at once (further clients wait in
//! the kernel's accept backlog), request headers must arrive within
//! [`ServerConfig::header_read_timeout`], and the read buffer is capped at
//! [`ServerConfig::max_buf_size`]. On cancellation the listener closes, open connections finish
//! their in-flight request and close, and any left after [`ServerConfig::shutdown_grace`] are
//! aborted.
//!
//! Not here (yet): HTTP/2, TLS, bearer auth, redaction, the other Habitat routes.

use std::convert::Infallible;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use warren_ring::{CensusRing, Ring, Time};

use crate::butterfly::{UpdateCounters, render_with};

/// What the gateway serves: documents pre-rendered by the shell's main loop.
///
/// Publish a new `Arc<Snapshot>` on the `watch` channel whenever the ring changes (or on a
/// timer); requests in flight keep the snapshot they started with.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// The `/butterfly` document, serialized JSON.
    pub butterfly: Bytes,
    /// The `/census` document, serialized JSON.
    pub census: Bytes,
    /// Whether the gossip listeners are bound and the ring is running (`/readyz`).
    pub gossip_ready: bool,
}

impl Default for Snapshot {
    /// An empty `/butterfly` object, not ready.
    fn default() -> Self {
        Snapshot {
            butterfly: Bytes::from_static(b"{}"),
            census: Bytes::from_static(b"{}"),
            gossip_ready: false,
        }
    }
}

impl Snapshot {
    /// Renders `ring` at `now` (see [`crate::butterfly`] and [`crate::census`]) into a
    /// snapshot; `previous` is the census of the last snapshot (for its `changed` flags).
    pub fn from_ring(
        ring: &Ring,
        counters: &UpdateCounters,
        gossip_ready: bool,
        now: Time,
        previous: Option<&CensusRing>,
    ) -> (Self, CensusRing) {
        let census = CensusRing::build(ring, now, previous);
        let snap = Snapshot {
            butterfly: to_bytes(&render_with(ring, counters), "/butterfly"),
            census: to_bytes(&crate::census::render(&census), "/census"),
            gossip_ready,
        };
        (snap, census)
    }
}

fn to_bytes(doc: &serde_json::Value, route: &str) -> Bytes {
    // Serializing a `Value` cannot fail (its map keys are strings); fall back to `{}` anyway.
    serde_json::to_vec(doc).map_or_else(
        |e| {
            tracing::error!(error = %e, route, "cannot serialize");
            Bytes::from_static(b"{}")
        },
        Bytes::from,
    )
}

/// Limits and timeouts of the server.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Connections served at once; more wait in the accept backlog.
    pub max_connections: usize,
    /// Time allowed for a request's headers to arrive (also bounds idle keep-alive connections
    /// waiting for their next request).
    pub header_read_timeout: Duration,
    /// Cap on a connection's read buffer, in bytes (hyper's minimum is 8192).
    pub max_buf_size: usize,
    /// After cancellation, how long open connections may take to finish before being aborted.
    pub shutdown_grace: Duration,
}

impl Default for ServerConfig {
    /// 1024 connections, 5 s header timeout, 16 KiB buffer, 5 s grace.
    fn default() -> Self {
        ServerConfig {
            max_connections: 1024,
            header_read_timeout: Duration::from_secs(5),
            max_buf_size: 16 * 1024,
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

/// Pause after an accept error that is not about one connection (e.g. out of file descriptors).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Serves the gateway on `listener` with [`ServerConfig::default`] until `shutdown` is cancelled.
pub async fn serve(
    listener: TcpListener,
    state: watch::Receiver<Arc<Snapshot>>,
    shutdown: CancellationToken,
) -> io::Result<()> {
    serve_with(listener, state, shutdown, ServerConfig::default()).await
}

/// Serves the gateway on `listener` with `cfg` until `shutdown` is cancelled, then shuts down
/// gracefully (see the module docs). Accept errors are logged and retried, never returned.
pub async fn serve_with(
    listener: TcpListener,
    state: watch::Receiver<Arc<Snapshot>>,
    shutdown: CancellationToken,
    cfg: ServerConfig,
) -> io::Result<()> {
    let limit = Arc::new(Semaphore::new(cfg.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut conns = JoinSet::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(cfg.header_read_timeout)
        .max_buf_size(cfg.max_buf_size.max(8192))
        .keep_alive(true);

    loop {
        // Reap finished connection tasks so the set stays small.
        while conns.try_join_next().is_some() {}
        let permit = tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            p = Arc::clone(&limit).acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break, // the semaphore is never closed
            },
        };
        let accepted = tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            r = listener.accept() => r,
        };
        let (stream, peer) = match accepted {
            Ok(x) => x,
            Err(e) if is_per_connection(&e) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "http gateway: accept failed; backing off");
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(ACCEPT_BACKOFF) => continue,
                }
            }
        };
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(%peer, error = %e, "http gateway: set_nodelay failed");
        }
        let state = state.clone();
        let svc = service_fn(move |req: Request<Incoming>| {
            // Clone the Arc and release the watch lock at once; never await while holding it.
            let snap = Arc::clone(&state.borrow());
            let resp = route(req.method(), req.uri().path(), &snap);
            async move { Ok::<_, Infallible>(resp) }
        });
        let conn = graceful.watch(builder.serve_connection(TokioIo::new(stream), svc));
        conns.spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(%peer, error = %e, "http gateway: connection ended with an error");
            }
            drop(permit);
        });
    }

    drop(listener);
    if tokio::time::timeout(cfg.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            open = conns.len(),
            "http gateway: connections still open after the shutdown grace; aborting them"
        );
    }
    conns.shutdown().await;
    Ok(())
}

/// Accept errors that concern one connection only and need no back-off.
fn is_per_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    )
}

/// The router: a pure function of method, path and snapshot. HEAD gets the GET response; hyper
/// sends its headers (with the GET `content-length`) and drops the body.
fn route(method: &Method, path: &str, snap: &Snapshot) -> Response<Full<Bytes>> {
    let known = matches!(path, "/healthz" | "/readyz" | "/butterfly" | "/census");
    if !known {
        return error(StatusCode::NOT_FOUND, b"{\"error\":\"not found\"}");
    }
    if method != Method::GET && method != Method::HEAD {
        let mut resp = error(
            StatusCode::METHOD_NOT_ALLOWED,
            b"{\"error\":\"method not allowed\"}",
        );
        resp.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return resp;
    }
    match path {
        "/butterfly" => respond(StatusCode::OK, JSON, snap.butterfly.clone()),
        "/census" => respond(StatusCode::OK, JSON, snap.census.clone()),
        "/readyz" if !snap.gossip_ready => respond(
            StatusCode::SERVICE_UNAVAILABLE,
            TEXT,
            Bytes::from_static(b"not ready\n"),
        ),
        _ => respond(StatusCode::OK, TEXT, Bytes::from_static(b"ok\n")),
    }
}

const JSON: &str = "application/json";
const TEXT: &str = "text/plain; charset=utf-8";

fn error(status: StatusCode, body: &'static [u8]) -> Response<Full<Bytes>> {
    respond(status, JSON, Bytes::from_static(body))
}

fn respond(status: StatusCode, content_type: &'static str, body: Bytes) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(body));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn router_statuses() {
        let ready = Snapshot {
            butterfly: Bytes::from_static(b"{\"a\":1}"),
            census: Bytes::from_static(b"{}"),
            gossip_ready: true,
        };
        let not_ready = Snapshot::default();
        let st = |m: Method, p: &str, s: &Snapshot| route(&m, p, s).status().as_u16();
        assert_eq!(st(Method::GET, "/healthz", &not_ready), 200);
        assert_eq!(st(Method::HEAD, "/healthz", &not_ready), 200);
        assert_eq!(st(Method::GET, "/readyz", &not_ready), 503);
        assert_eq!(st(Method::GET, "/readyz", &ready), 200);
        assert_eq!(st(Method::GET, "/butterfly", &ready), 200);
        assert_eq!(st(Method::GET, "/census", &ready), 200);
        assert_eq!(st(Method::GET, "/nope", &ready), 404);
        assert_eq!(st(Method::POST, "/nope", &ready), 404);
        assert_eq!(st(Method::POST, "/butterfly", &ready), 405);
        assert_eq!(st(Method::DELETE, "/healthz", &ready), 405);
    }
}
