//! The HTTP/1.1 server: routes, bearer auth, TLS, connection limits, timeouts, metrics and
//! graceful shutdown.
//!
//! Every response is built from the latest [`Snapshot`] on a `watch` channel, which the
//! producers (the gossip task, the service supervisors) refresh; a request never reaches the
//! ring or a service, so a busy or wedged ring cannot stall the gateway, and the gateway cannot
//! slow the ring (Habitat serves cached JSON the same way). Only `/metrics` is rendered per
//! request, from the shared [`Metrics`] (atomic reads, no I/O).
//!
//! # Routes (GET and HEAD)
//!
//! | route | 200 body | other statuses |
//! |---|---|---|
//! | `/healthz` | `ok` (never authenticated) | |
//! | `/readyz` | `ok` when gossip is ready and every service is up and OK/WARNING (never authenticated) | 503 `not ready` |
//! | `/butterfly`, `/census` | the snapshot's JSON | |
//! | `/services` | JSON array of ServiceQueryModel | |
//! | `/services/{svc}/{group}[/{org}]` | one ServiceQueryModel | 400 malformed service group, 404 not loaded |
//! | `…/config` | the merged configuration | 400, 404 |
//! | `…/health` | `{"status","stdout","stderr"}` | 503 CRITICAL, 500 UNKNOWN, 400, 404 |
//! | `/metrics` | Prometheus text 0.0.4; OpenMetrics 1.0.0 when `Accept` prefers it | |
//!
//! Unknown paths → 404 and other methods on known paths → 405 (with `Allow: GET, HEAD`), both
//! with a `{"error": …}` body. Path segments are percent-decoded; a service, group or org that
//! is empty or holds `.`, `#`, `@`, `/`, `\` or a control character is malformed (400). When an
//! [`AuthToken`] is configured, every request except `/healthz` and `/readyz` (unknown paths
//! included) needs it, else 401 with an empty body and `WWW-Authenticate: Bearer`.
//!
//! # Bounds
//!
//! At most [`ServerConfig::max_connections`] connections at once (further clients wait in the
//! kernel's accept backlog); request headers (and a TLS handshake) must arrive within
//! [`ServerConfig::header_read_timeout`]; the read buffer is capped at
//! [`ServerConfig::max_buf_size`], so larger request heads are refused (431). On cancellation
//! the listener closes, open connections finish their in-flight request and close, and any left
//! after [`ServerConfig::shutdown_grace`] are aborted.
//!
//! Every request is counted in `warren_http_requests_total` and
//! `warren_http_request_duration_seconds`, labelled with the route *pattern* (see [`routes`]).
//!
//! Not here: HTTP/2, client certificates, the HTML index.

use std::borrow::Cow;
use std::convert::Infallible;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{
    ACCEPT, ALLOW, AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, HeaderValue, WWW_AUTHENTICATE,
};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use warren_metrics::Metrics;
use warren_ring::{CensusRing, Ring};

use crate::auth::AuthToken;
use crate::butterfly::{UpdateCounters, render_with};
use crate::services::{ServiceDocs, to_bytes};
use crate::tls::TlsConfig;

/// What the gateway serves: documents pre-rendered by the producers.
///
/// Publish a new `Arc<Snapshot>` on the `watch` channel whenever something changed; requests in
/// flight keep the snapshot they started with. Two producers can share one channel with
/// `watch::Sender::send_modify`, each replacing only its own part (see the crate docs).
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// The `/butterfly` document, serialized JSON.
    pub butterfly: Bytes,
    /// The `/census` document, serialized JSON.
    pub census: Bytes,
    /// Whether the gossip listeners are bound and the ring is running (`/readyz`).
    pub gossip_ready: bool,
    /// Gossip counts as ready from this instant whatever `gossip_ready` says (a start-up grace:
    /// the first member of a fresh ring has no peer to answer it).
    pub ready_from: Option<std::time::Instant>,
    /// The loaded services' documents (`/services…`, and `/readyz`).
    pub services: Arc<ServiceDocs>,
}

impl Default for Snapshot {
    /// Empty `/butterfly` and `/census` objects, no services, not ready.
    fn default() -> Self {
        Snapshot {
            butterfly: Bytes::from_static(b"{}"),
            census: Bytes::from_static(b"{}"),
            gossip_ready: false,
            ready_from: None,
            services: Arc::new(ServiceDocs::default()),
        }
    }
}

impl Snapshot {
    /// Renders `ring` (see [`crate::butterfly`]) and `census` (built from the same `ring` by
    /// [`CensusRing::build`], see [`crate::census`]) into a snapshot with no services. Keep the
    /// services of the snapshot it replaces with [`Snapshot::with_services`].
    pub fn from_census(
        ring: &Ring,
        counters: &UpdateCounters,
        gossip_ready: bool,
        census: &CensusRing,
    ) -> Self {
        Snapshot {
            butterfly: to_bytes(&render_with(ring, counters)),
            census: to_bytes(&crate::census::render(census)),
            gossip_ready,
            ready_from: None,
            services: Arc::new(ServiceDocs::default()),
        }
    }

    /// This snapshot with `services` (already serialized by [`ServiceDocs::build`]).
    #[must_use]
    pub fn with_services(mut self, services: impl Into<Arc<ServiceDocs>>) -> Self {
        self.services = services.into();
        self
    }

    /// `/readyz`: gossip is ready (or its grace passed) and every loaded service is up with
    /// health OK or WARNING.
    pub fn is_ready(&self) -> bool {
        let gossip = self.gossip_ready
            || self
                .ready_from
                .is_some_and(|t| std::time::Instant::now() >= t);
        gossip && self.services.is_ready()
    }

    /// This snapshot with a start-up grace for gossip readiness (see [`Snapshot::ready_from`]).
    #[must_use]
    pub fn with_ready_from(mut self, ready_from: Option<std::time::Instant>) -> Self {
        self.ready_from = ready_from;
        self
    }
}

/// Limits, timeouts, security and metrics of the server.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Connections served at once; more wait in the accept backlog.
    pub max_connections: usize,
    /// Time allowed for a request's headers (and a TLS handshake) to arrive; also bounds idle
    /// keep-alive connections waiting for their next request.
    pub header_read_timeout: Duration,
    /// Cap on a connection's read buffer, in bytes (hyper's minimum is 8192); a request head
    /// larger than this is refused with 431.
    pub max_buf_size: usize,
    /// After cancellation, how long open connections may take to finish before being aborted.
    pub shutdown_grace: Duration,
    /// `HAB_SUP_GATEWAY_AUTH_TOKEN`: when set, every route but `/healthz` and `/readyz` needs
    /// `Authorization: Bearer <token>`.
    pub auth_token: Option<AuthToken>,
    /// `--key` / `--certs`: serve HTTPS instead of HTTP.
    pub tls: Option<TlsConfig>,
    /// `HAB_FEAT_REDACT_HTTP`: `/butterfly`, `/census` and each service's `…/config` answer 404
    /// (build the service documents with [`crate::SupervisorView::redact`] too, so that they
    /// leave out `cfg`).
    pub redact: bool,
    /// Where requests are counted and what `/metrics` serves: pass the supervisor's shared
    /// handle (the default is a fresh, private one).
    pub metrics: Metrics,
}

impl Default for ServerConfig {
    /// 1024 connections, 5 s header timeout, 16 KiB buffer, 5 s grace, no auth, plain HTTP,
    /// private metrics.
    fn default() -> Self {
        ServerConfig {
            max_connections: 1024,
            header_read_timeout: Duration::from_secs(5),
            max_buf_size: 16 * 1024,
            shutdown_grace: Duration::from_secs(5),
            auth_token: None,
            tls: None,
            redact: false,
            metrics: Metrics::new(),
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

/// What every request handler shares.
#[derive(Debug)]
struct Ctx {
    auth: Option<AuthToken>,
    metrics: Metrics,
    redact: bool,
}

/// Serves the gateway on `listener` with `cfg` until `shutdown` is cancelled, then shuts down
/// gracefully (see the module docs). Accept errors and failed TLS handshakes are logged and
/// retried, never returned.
pub async fn serve_with(
    listener: TcpListener,
    state: watch::Receiver<Arc<Snapshot>>,
    shutdown: CancellationToken,
    cfg: ServerConfig,
) -> io::Result<()> {
    let ctx = Arc::new(Ctx {
        auth: cfg.auth_token.clone(),
        metrics: cfg.metrics.clone(),
        redact: cfg.redact,
    });
    let tls = cfg
        .tls
        .as_ref()
        .map(|t| TlsAcceptor::from(Arc::clone(&t.0)));
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
        let ctx = Arc::clone(&ctx);
        let svc = service_fn(move |req: Request<Incoming>| {
            let start = Instant::now();
            // Clone the Arc and release the watch lock at once; never await while holding it.
            let snap = Arc::clone(&state.borrow());
            let auth = req.headers().get(AUTHORIZATION).map(HeaderValue::as_bytes);
            let (route, mut resp) = handle(req.method(), req.uri().path(), auth, &snap, &ctx);
            if route == routes::METRICS
                && resp.status() == StatusCode::OK
                && req
                    .headers()
                    .get(ACCEPT)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(warren_metrics::wants_openmetrics)
            {
                resp = respond(
                    StatusCode::OK,
                    warren_metrics::OPENMETRICS_CONTENT_TYPE,
                    Bytes::from(ctx.metrics.encode_openmetrics()),
                );
            }
            ctx.metrics
                .http
                .observe(route, resp.status().as_u16(), start.elapsed());
            async move { Ok::<_, Infallible>(resp) }
        });
        let watcher = graceful.watcher();
        let builder = builder.clone();
        let tls = tls.clone();
        let handshake_timeout = cfg.header_read_timeout;
        let stop = shutdown.clone();
        conns.spawn(async move {
            let _permit = permit;
            let served = match tls {
                None => {
                    watcher
                        .watch(builder.serve_connection(TokioIo::new(stream), svc))
                        .await
                }
                Some(acceptor) => {
                    let handshake = tokio::select! {
                        () = stop.cancelled() => return,
                        r = tokio::time::timeout(handshake_timeout, acceptor.accept(stream)) => r,
                    };
                    match handshake {
                        Ok(Ok(tls_stream)) => {
                            watcher
                                .watch(builder.serve_connection(TokioIo::new(tls_stream), svc))
                                .await
                        }
                        Ok(Err(e)) => {
                            tracing::debug!(%peer, error = %e, "http gateway: TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(%peer, "http gateway: TLS handshake timed out");
                            return;
                        }
                    }
                }
            };
            if let Err(e) = served {
                tracing::debug!(%peer, error = %e, "http gateway: connection ended with an error");
            }
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

/// The route patterns: the `route` label of the HTTP metrics.
pub mod routes {
    /// `/healthz`.
    pub const HEALTHZ: &str = "/healthz";
    /// `/readyz`.
    pub const READYZ: &str = "/readyz";
    /// `/butterfly`.
    pub const BUTTERFLY: &str = "/butterfly";
    /// `/census`.
    pub const CENSUS: &str = "/census";
    /// `/metrics`.
    pub const METRICS: &str = "/metrics";
    /// `/services`.
    pub const SERVICES: &str = "/services";
    /// One service.
    pub const SERVICE: &str = "/services/{svc}/{group}";
    /// One service, with an org.
    pub const SERVICE_ORG: &str = "/services/{svc}/{group}/{org}";
    /// One service's configuration.
    pub const CONFIG: &str = "/services/{svc}/{group}/config";
    /// One service's configuration, with an org.
    pub const CONFIG_ORG: &str = "/services/{svc}/{group}/{org}/config";
    /// One service's health.
    pub const HEALTH: &str = "/services/{svc}/{group}/health";
    /// One service's health, with an org.
    pub const HEALTH_ORG: &str = "/services/{svc}/{group}/{org}/health";
    /// Any path that is not a route.
    pub const UNMATCHED: &str = "unmatched";
}

/// Which document of a service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Doc {
    Model,
    Config,
    Health,
}

/// What a path asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target<'a> {
    Healthz,
    Readyz,
    Butterfly,
    Census,
    Metrics,
    Services,
    Service {
        svc: &'a str,
        group: &'a str,
        org: Option<&'a str>,
        doc: Doc,
    },
    Unknown,
}

impl Target<'_> {
    fn parse(path: &str) -> Target<'_> {
        match path {
            "/healthz" => return Target::Healthz,
            "/readyz" => return Target::Readyz,
            "/butterfly" => return Target::Butterfly,
            "/census" => return Target::Census,
            "/metrics" => return Target::Metrics,
            "/services" => return Target::Services,
            _ => {}
        }
        let Some(rest) = path.strip_prefix("/services/") else {
            return Target::Unknown;
        };
        let mut seg = [""; 4];
        let mut n = 0;
        for p in rest.split('/') {
            if n == seg.len() {
                return Target::Unknown;
            }
            seg[n] = p;
            n += 1;
        }
        let doc = |s: &str| match s {
            "config" => Some(Doc::Config),
            "health" => Some(Doc::Health),
            _ => None,
        };
        let service = |org, doc| Target::Service {
            svc: seg[0],
            group: seg[1],
            org,
            doc,
        };
        match n {
            2 => service(None, Doc::Model),
            3 => match doc(seg[2]) {
                Some(d) => service(None, d),
                None => service(Some(seg[2]), Doc::Model),
            },
            4 => match doc(seg[3]) {
                Some(d) => service(Some(seg[2]), d),
                None => Target::Unknown,
            },
            _ => Target::Unknown,
        }
    }

    fn route(&self) -> &'static str {
        match self {
            Target::Healthz => routes::HEALTHZ,
            Target::Readyz => routes::READYZ,
            Target::Butterfly => routes::BUTTERFLY,
            Target::Census => routes::CENSUS,
            Target::Metrics => routes::METRICS,
            Target::Services => routes::SERVICES,
            Target::Service { org, doc, .. } => match (org.is_some(), doc) {
                (false, Doc::Model) => routes::SERVICE,
                (true, Doc::Model) => routes::SERVICE_ORG,
                (false, Doc::Config) => routes::CONFIG,
                (true, Doc::Config) => routes::CONFIG_ORG,
                (false, Doc::Health) => routes::HEALTH,
                (true, Doc::Health) => routes::HEALTH_ORG,
            },
            Target::Unknown => routes::UNMATCHED,
        }
    }

    /// Routes that never need the token (probes must work without secrets).
    fn is_open(&self) -> bool {
        matches!(self, Target::Healthz | Target::Readyz)
    }
}

/// The router: a pure function of the request line, the `Authorization` header and the
/// snapshot. Returns the route pattern (for metrics) and the response. HEAD gets the GET
/// response; hyper sends its headers (with the GET `content-length`) and drops the body.
fn handle(
    method: &Method,
    path: &str,
    authorization: Option<&[u8]>,
    snap: &Snapshot,
    ctx: &Ctx,
) -> (&'static str, Response<Full<Bytes>>) {
    let target = Target::parse(path);
    let route = target.route();
    if !target.is_open()
        && let Some(token) = &ctx.auth
        && !token.accepts(authorization)
    {
        let mut resp = respond(StatusCode::UNAUTHORIZED, TEXT, Bytes::new());
        resp.headers_mut()
            .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return (route, resp);
    }
    if target == Target::Unknown {
        return (
            route,
            error(StatusCode::NOT_FOUND, b"{\"error\":\"not found\"}"),
        );
    }
    if method != Method::GET && method != Method::HEAD {
        let mut resp = error(
            StatusCode::METHOD_NOT_ALLOWED,
            b"{\"error\":\"method not allowed\"}",
        );
        resp.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return (route, resp);
    }
    let redacted = ctx.redact
        && matches!(
            target,
            Target::Butterfly
                | Target::Census
                | Target::Service {
                    doc: Doc::Config,
                    ..
                }
        );
    if redacted {
        return (
            route,
            error(StatusCode::NOT_FOUND, b"{\"error\":\"redacted\"}"),
        );
    }
    let resp = match target {
        Target::Healthz => respond(StatusCode::OK, TEXT, Bytes::from_static(b"ok\n")),
        Target::Readyz if snap.is_ready() => {
            respond(StatusCode::OK, TEXT, Bytes::from_static(b"ok\n"))
        }
        Target::Readyz => respond(
            StatusCode::SERVICE_UNAVAILABLE,
            TEXT,
            Bytes::from_static(b"not ready\n"),
        ),
        Target::Butterfly => respond(StatusCode::OK, JSON, snap.butterfly.clone()),
        Target::Census => respond(StatusCode::OK, JSON, snap.census.clone()),
        Target::Metrics => respond(
            StatusCode::OK,
            warren_metrics::CONTENT_TYPE,
            Bytes::from(ctx.metrics.encode()),
        ),
        Target::Services => respond(StatusCode::OK, JSON, snap.services.list().clone()),
        Target::Service {
            svc,
            group,
            org,
            doc,
        } => service(svc, group, org, doc, snap),
        Target::Unknown => error(StatusCode::NOT_FOUND, b"{\"error\":\"not found\"}"),
    };
    (route, resp)
}

fn service(
    svc: &str,
    group: &str,
    org: Option<&str>,
    doc: Doc,
    snap: &Snapshot,
) -> Response<Full<Bytes>> {
    fn part(s: &str) -> Option<Cow<'_, str>> {
        percent_decode(s).filter(|p| valid_part(p))
    }
    let (Some(svc), Some(group)) = (part(svc), part(group)) else {
        return malformed();
    };
    let org = match org.map(part) {
        None => None,
        Some(Some(o)) => Some(o),
        Some(None) => return malformed(),
    };
    let mut sg = format!("{svc}.{group}");
    if let Some(o) = org {
        sg.push('@');
        sg.push_str(&o);
    }
    let Some(d) = snap.services.get(&sg) else {
        let body = to_bytes(&serde_json::json!({ "error": format!("{sg} is not loaded") }));
        return respond(StatusCode::NOT_FOUND, JSON, body);
    };
    match doc {
        Doc::Model => respond(StatusCode::OK, JSON, d.model.clone()),
        Doc::Config => respond(StatusCode::OK, JSON, d.config.clone()),
        Doc::Health => respond(
            StatusCode::from_u16(d.health_status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            JSON,
            d.health.clone(),
        ),
    }
}

fn malformed() -> Response<Full<Bytes>> {
    error(
        StatusCode::BAD_REQUEST,
        b"{\"error\":\"malformed service group: expected /services/SERVICE/GROUP[/ORG], each part non-empty without '.', '#', '@', '/'\"}",
    )
}

/// A service, group or org name as Habitat's service-group syntax allows it (spec §7.1), and
/// nothing that could be a path or a control character.
fn valid_part(p: &str) -> bool {
    !p.is_empty()
        && !p
            .chars()
            .any(|c| matches!(c, '.' | '#' | '@' | '/' | '\\') || c.is_control())
}

/// Percent-decodes a path segment; `None` for a bad escape or bytes that are not UTF-8.
fn percent_decode(s: &str) -> Option<Cow<'_, str>> {
    if !s.contains('%') {
        return Some(Cow::Borrowed(s));
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok().map(Cow::Owned)
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
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn ctx(token: Option<&str>) -> Ctx {
        Ctx {
            auth: token.and_then(AuthToken::new),
            metrics: Metrics::new(),
            redact: false,
        }
    }

    #[test]
    fn router_statuses() {
        let ready = Snapshot {
            butterfly: Bytes::from_static(b"{\"a\":1}"),
            gossip_ready: true,
            ..Snapshot::default()
        };
        let not_ready = Snapshot::default();
        let c = ctx(None);
        let st = |m: Method, p: &str, s: &Snapshot| handle(&m, p, None, s, &c).1.status().as_u16();
        assert_eq!(st(Method::GET, "/healthz", &not_ready), 200);
        assert_eq!(st(Method::HEAD, "/healthz", &not_ready), 200);
        assert_eq!(st(Method::GET, "/readyz", &not_ready), 503);
        assert_eq!(st(Method::GET, "/readyz", &ready), 200);
        assert_eq!(st(Method::GET, "/butterfly", &ready), 200);
        assert_eq!(st(Method::GET, "/census", &ready), 200);
        assert_eq!(st(Method::GET, "/metrics", &ready), 200);
        assert_eq!(st(Method::GET, "/services", &ready), 200);
        assert_eq!(st(Method::GET, "/services/redis/default", &ready), 404);
        assert_eq!(st(Method::GET, "/services/re.dis/default", &ready), 400);
        assert_eq!(st(Method::GET, "/nope", &ready), 404);
        assert_eq!(st(Method::POST, "/nope", &ready), 404);
        assert_eq!(st(Method::POST, "/butterfly", &ready), 405);
        assert_eq!(st(Method::DELETE, "/healthz", &ready), 405);
    }

    #[test]
    fn targets_and_route_patterns() {
        let r = |p: &str| Target::parse(p).route();
        assert_eq!(r("/services/a/b"), routes::SERVICE);
        assert_eq!(r("/services/a/b/config"), routes::CONFIG);
        assert_eq!(r("/services/a/b/health"), routes::HEALTH);
        assert_eq!(r("/services/a/b/o"), routes::SERVICE_ORG);
        assert_eq!(r("/services/a/b/o/config"), routes::CONFIG_ORG);
        assert_eq!(r("/services/a/b/o/health"), routes::HEALTH_ORG);
        assert_eq!(r("/services/a/b/o/x"), routes::UNMATCHED);
        assert_eq!(r("/services/a/b/o/config/x"), routes::UNMATCHED);
        assert_eq!(r("/services/a"), routes::UNMATCHED);
        assert_eq!(r("/services/"), routes::UNMATCHED);
        assert_eq!(r("/servicesx"), routes::UNMATCHED);
        assert_eq!(
            Target::parse("/services/a/b/o/health"),
            Target::Service {
                svc: "a",
                group: "b",
                org: Some("o"),
                doc: Doc::Health
            }
        );
    }

    #[test]
    fn percent_decoding_and_parts() {
        assert_eq!(percent_decode("a%2Fb").as_deref(), Some("a/b"));
        assert_eq!(percent_decode("%2e%2e").as_deref(), Some(".."));
        assert_eq!(percent_decode("plain").as_deref(), Some("plain"));
        assert_eq!(percent_decode("bad%2"), None);
        assert_eq!(percent_decode("bad%zz"), None);
        assert_eq!(percent_decode("%ff"), None);
        assert!(valid_part("redis-6"));
        for bad in ["", "a.b", "a@b", "a#b", "a/b", "a\\b", "a\nb", ".."] {
            assert!(!valid_part(bad), "{bad:?}");
        }
    }

    #[test]
    fn auth_guards_all_but_the_probes() {
        let snap = Snapshot {
            gossip_ready: true,
            ..Snapshot::default()
        };
        let c = ctx(Some("t0k"));
        let st = |p: &str, auth: Option<&[u8]>| {
            handle(&Method::GET, p, auth, &snap, &c).1.status().as_u16()
        };
        assert_eq!(st("/healthz", None), 200);
        assert_eq!(st("/readyz", None), 200);
        assert_eq!(st("/census", None), 401);
        assert_eq!(st("/nope", None), 401);
        assert_eq!(st("/census", Some(b"Bearer wrong")), 401);
        assert_eq!(st("/census", Some(b"Bearer t0k")), 200);
        assert_eq!(st("/nope", Some(b"Bearer t0k")), 404);
    }
}
