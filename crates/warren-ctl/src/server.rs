//! The control server: gRPC over HTTP/2 (tonic) on the `--listen-ctl` listener, in front of a
//! [`ControlHandler`] that the supervisor implements.
//!
//! The accept loop owns the listener and peeks at each connection's first byte (within
//! [`FIRST_BYTE_TIMEOUT`]): `P`, the start of the HTTP/2 preface, goes to tonic through a
//! channel; anything else is a Habitat session ([`crate::hab::session`]) on its own task.
//! What follows is the gRPC path.
//!
//! Per request, in this order:
//! 1. **Size**: a request over [`MAX_REQUEST_BYTES`] is refused by tonic's decoder
//!    (`OUT_OF_RANGE`) before anything else reads it.
//! 2. **Authentication**: metadata `authorization: Bearer <CTL_SECRET>`, compared in constant
//!    time; missing or wrong → `UNAUTHENTICATED` with [`UNAUTHENTICATED_MESSAGE`], logged as a
//!    warning with the peer's address. The handler never sees such a request.
//! 3. **Form**: the wire request becomes a plain request struct ([`crate::types`]): required
//!    names present, paths absolute, enum values known, payloads within [`MAX_PAYLOAD_BYTES`](crate::MAX_PAYLOAD_BYTES)
//!    (`RESOURCE_EXHAUSTED`), config TOML valid ([`validate_toml`](crate::validate_toml)), file
//!    names plain ([`validate_filename`](crate::validate_filename)); failures are
//!    `INVALID_ARGUMENT` with a message naming the field.
//! 4. **Handler**: its [`CtlError`] becomes the status code and message the client sees.
//!
//! Bounds: [`MAX_CONCURRENT_PER_CONNECTION`] requests at a time per connection, and
//! [`REQUEST_TIMEOUT`] per request (a handler should queue work and answer at once, as
//! Habitat's does). On cancellation of the `shutdown` token the listener closes at once,
//! requests in flight finish, and connections still open after [`SHUTDOWN_GRACE`] are dropped.
//!
//! TLS (Habitat's `--ctl-server-certificate` …, [`serve_with`]) wraps every connection when
//! configured; the demultiplexing then reads the first decrypted byte and replays it.
//!
//! Not here: a limit on connections (the listener
//! is loopback by default and every request must authenticate; a silent connection is closed
//! after 10 s), streaming progress lines on gRPC (a [`Reply`] carries one message; Habitat
//! sessions get it as one `ConsoleLine`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::server::{Connected, TcpConnectInfo};
use tonic::{Request, Response, Status};

use crate::error::{CtlError, ServeError, UNAUTHENTICATED_MESSAGE};
use crate::hab::session::Session;
use crate::proto;
use crate::proto::control_server::{Control, ControlServer};
use crate::secret::CtlSecret;
use crate::tls::CtlTls;
use crate::types::{
    ConfigApplyRequest, DepartRequest, FileUploadRequest, LoadRequest, Reply, ServiceStatus,
    StartRequest, StatusRequest, StopRequest, UnloadRequest, UpdateRequest,
};
use crate::validate::MAX_REQUEST_BYTES;

/// Requests served at once on one connection; more wait.
pub const MAX_CONCURRENT_PER_CONNECTION: usize = 16;

/// The longest a request may take before the client gets `CANCELLED`.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// How long connections may stay open after shutdown begins.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// What the supervisor does for each control request. One method per RPC; each receives a
/// request already authenticated and checked for form (see the module docs), and returns a
/// plain value or a [`CtlError`] whose variant chooses the gRPC code.
///
/// Implementations are called concurrently from the server's tasks and should answer promptly:
/// send a command to the task that owns the state and await its answer, rather than doing the
/// work (stopping a process, waiting for a shutdown timeout) before replying.
///
/// Object safe (`Arc<dyn ControlHandler>`) through [`async_trait`](crate::async_trait):
///
/// ```
/// use warren_ctl::{async_trait, ControlHandler, CtlError, Reply, StartRequest};
/// # use warren_ctl::*;
/// struct Sup;
///
/// #[async_trait]
/// impl ControlHandler for Sup {
///     async fn start(&self, req: StartRequest) -> Result<Reply, CtlError> {
///         Err(CtlError::NotFound(format!("{} is not loaded", req.service)))
///     }
///     // … the seven other methods.
/// #   async fn load(&self, _: LoadRequest) -> Result<Reply, CtlError> { Err(no()) }
/// #   async fn unload(&self, _: UnloadRequest) -> Result<Reply, CtlError> { Err(no()) }
/// #   async fn stop(&self, _: StopRequest) -> Result<Reply, CtlError> { Err(no()) }
/// #   async fn status(&self, _: StatusRequest) -> Result<Vec<ServiceStatus>, CtlError> { Err(no()) }
/// #   async fn config_apply(&self, _: ConfigApplyRequest) -> Result<Reply, CtlError> { Err(no()) }
/// #   async fn file_upload(&self, _: FileUploadRequest) -> Result<Reply, CtlError> { Err(no()) }
/// #   async fn depart(&self, _: DepartRequest) -> Result<Reply, CtlError> { Err(no()) }
/// }
/// # fn no() -> CtlError { CtlError::Internal("not in this example".into()) }
/// let _: std::sync::Arc<dyn ControlHandler> = std::sync::Arc::new(Sup);
/// ```
#[crate::async_trait]
pub trait ControlHandler: Send + Sync + 'static {
    /// `warren svc load`: load (or with `force`, replace) a service and persist its spec.
    /// Loaded already without `force` → [`CtlError::AlreadyExists`]; a plan that cannot be read
    /// or a bad bind → [`CtlError::InvalidArgument`].
    async fn load(&self, req: LoadRequest) -> Result<Reply, CtlError>;

    /// `warren svc unload`: stop the service and remove its spec. Unknown →
    /// [`CtlError::NotFound`].
    async fn unload(&self, req: UnloadRequest) -> Result<Reply, CtlError>;

    /// `warren svc start`: desired state up. Unknown → [`CtlError::NotFound`].
    async fn start(&self, req: StartRequest) -> Result<Reply, CtlError>;

    /// `warren svc stop`: desired state down. Unknown → [`CtlError::NotFound`].
    async fn stop(&self, req: StopRequest) -> Result<Reply, CtlError>;

    /// `warren svc status`: every service, or the one named (unknown →
    /// [`CtlError::NotFound`]). An empty list means no service is loaded.
    async fn status(&self, req: StatusRequest) -> Result<Vec<ServiceStatus>, CtlError>;

    /// `warren config apply`: gossip a ServiceConfig rumor. The TOML is valid and within
    /// [`MAX_PAYLOAD_BYTES`](crate::MAX_PAYLOAD_BYTES) already. A bad service group → [`CtlError::InvalidArgument`]; a
    /// version not higher than the group's current config incarnation →
    /// [`CtlError::stale_version`].
    async fn config_apply(&self, req: ConfigApplyRequest) -> Result<Reply, CtlError>;

    /// `warren file upload`: gossip a ServiceFile rumor. The name is plain and the content within
    /// [`MAX_PAYLOAD_BYTES`](crate::MAX_PAYLOAD_BYTES) already.
    async fn file_upload(&self, req: FileUploadRequest) -> Result<Reply, CtlError>;

    /// `warren sup depart`: gossip a Departure rumor for the member.
    async fn depart(&self, req: DepartRequest) -> Result<Reply, CtlError>;

    /// Habitat's `SvcUpdate`: change the given spec fields of a loaded service; the service is
    /// restarted with them (Habitat queues the action and replies at once). Unknown →
    /// [`CtlError::NotFound`]. The default refuses: a supervisor that cannot update a service.
    async fn update(&self, req: UpdateRequest) -> Result<Reply, CtlError> {
        Err(CtlError::FailedPrecondition(format!(
            "this supervisor cannot update {} in place; unload and load it",
            req.service
        )))
    }

    /// Habitat's `SupRestart` (`hab sup restart`): restart the supervisor. The handler replies
    /// first and restarts after the reply had time to leave. The default refuses.
    async fn restart(&self) -> Result<Reply, CtlError> {
        Err(CtlError::FailedPrecondition(
            "this supervisor cannot restart itself".to_owned(),
        ))
    }

    /// Habitat's `SvcLoad` names a package (`ORIGIN/NAME[/VERSION[/RELEASE]]`), not a path:
    /// the installed package directory to load it from. Nothing installed →
    /// [`CtlError::NotFound`] naming what was looked for. The default finds nothing (a
    /// supervisor without installed packages).
    async fn package_dir(&self, ident: &str) -> Result<std::path::PathBuf, CtlError> {
        Err(CtlError::NotFound(format!(
            "package {ident} is not installed, and this supervisor does not install packages"
        )))
    }

    /// Habitat's `SvcGetDefaultCfg`: the `default.toml` of the package `ident` names, `None`
    /// when it has none. The default reads it from [`ControlHandler::package_dir`].
    async fn default_config(&self, ident: &str) -> Result<Option<String>, CtlError> {
        let dir = self.package_dir(ident).await?;
        match tokio::fs::read_to_string(dir.join("default.toml")).await {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(CtlError::Internal(format!(
                "cannot read {}: {e}",
                dir.join("default.toml").display()
            ))),
        }
    }
}

/// Serves the control API on `listener` until `shutdown` is cancelled; see the module docs for
/// what each request goes through.
///
/// Returns `Ok(())` after a shutdown (also when connections had to be dropped after
/// [`SHUTDOWN_GRACE`]) and [`ServeError`] if the transport fails. Errors accepting a connection
/// are not fatal.
pub async fn serve(
    listener: TcpListener,
    handler: Arc<dyn ControlHandler>,
    secret: CtlSecret,
    shutdown: CancellationToken,
) -> Result<(), ServeError> {
    serve_with(listener, handler, secret, shutdown, None).await
}

/// [`serve`], with TLS on every connection when `tls` is given (Habitat's
/// `--ctl-server-certificate` and `--ctl-server-key`): the handshake comes first (within
/// [`FIRST_BYTE_TIMEOUT`]), then the protocol is told apart by the first decrypted byte.
pub async fn serve_with(
    listener: TcpListener,
    handler: Arc<dyn ControlHandler>,
    secret: CtlSecret,
    shutdown: CancellationToken,
    tls: Option<CtlTls>,
) -> Result<(), ServeError> {
    let addr = listener
        .local_addr()
        .map_or_else(|_| "an unknown address".to_owned(), |a| a.to_string());
    let secret = Arc::new(secret);
    let service = ControlServer::new(Adapter {
        handler: Arc::clone(&handler),
    })
    .max_decoding_message_size(MAX_REQUEST_BYTES);
    let service = InterceptedService::new(
        service,
        Auth {
            secret: Arc::clone(&secret),
        },
    );
    // gRPC connections reach tonic through this channel, after the demultiplexer has seen
    // their first byte; Habitat sessions never do.
    let (grpc_tx, grpc_rx) = mpsc::channel::<std::io::Result<Conn>>(64);
    let sessions = TaskTracker::new();
    let accept = accept_loop(
        listener,
        grpc_tx,
        Demux {
            handler,
            secret,
            sessions: sessions.clone(),
            shutdown: shutdown.clone(),
            tls: tls.map(|t| TlsAcceptor::from(t.0)),
        },
    );
    let server = tonic::transport::Server::builder()
        .concurrency_limit_per_connection(MAX_CONCURRENT_PER_CONNECTION)
        .timeout(REQUEST_TIMEOUT)
        .serve_with_incoming_shutdown(
            service,
            ReceiverStream::new(grpc_rx),
            shutdown.clone().cancelled_owned(),
        );
    tracing::info!(%addr, "control API listening (Warren gRPC and Habitat's protocol)");
    let grace_over = async {
        shutdown.cancelled().await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    let served = async {
        let (result, ()) = tokio::join!(server, accept);
        sessions.close();
        sessions.wait().await;
        result
    };
    tokio::select! {
        result = served => result.map_err(|e| ServeError { addr, source: Box::new(e) }),
        () = grace_over => {
            tracing::warn!(
                %addr,
                "control connections still open {}s after shutdown; dropping them",
                SHUTDOWN_GRACE.as_secs()
            );
            Ok(())
        }
    }
}

/// How long a new connection may stay silent before its protocol is known (Habitat's
/// handshake timeout; a gRPC client sends its preface at once).
pub const FIRST_BYTE_TIMEOUT: Duration = crate::hab::session::HANDSHAKE_TIMEOUT;

/// What the accept loop needs to start a Habitat session.
struct Demux {
    handler: Arc<dyn ControlHandler>,
    secret: Arc<CtlSecret>,
    sessions: TaskTracker,
    shutdown: CancellationToken,
    tls: Option<TlsAcceptor>,
}

/// Accepts until shutdown; each connection's first byte is awaited on its own task, so a silent
/// client holds up no one.
async fn accept_loop(
    listener: TcpListener,
    grpc: mpsc::Sender<std::io::Result<Conn>>,
    demux: Demux,
) {
    let demux = Arc::new(demux);
    loop {
        let accepted = tokio::select! {
            () = demux.shutdown.cancelled() => return,
            a = listener.accept() => a,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "control API: accept failed");
                // Out of descriptors and the like: do not spin.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let grpc = grpc.clone();
        let demux = Arc::clone(&demux);
        demux.sessions.clone().spawn(async move {
            match &demux.tls {
                None => plain(stream, peer, grpc, &demux).await,
                Some(acceptor) => tls(acceptor.clone(), stream, peer, grpc, &demux).await,
            }
        });
    }
}

/// A connection without TLS: its first byte is peeked, so either side reads the stream whole.
async fn plain(
    stream: TcpStream,
    peer: SocketAddr,
    grpc: mpsc::Sender<std::io::Result<Conn>>,
    demux: &Demux,
) {
    let mut first = [0u8; 1];
    let peeked = tokio::time::timeout(FIRST_BYTE_TIMEOUT, stream.peek(&mut first)).await;
    match peeked {
        Ok(Ok(1)) if first[0] == HTTP2_PREFACE_FIRST_BYTE => {
            let _ = grpc.send(Ok(Conn::Plain(stream))).await;
        }
        Ok(Ok(1)) => demux.session(stream, peer).await,
        Ok(Ok(_)) => {} // closed before a byte
        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "control connection failed"),
        Err(_) => tracing::debug!(%peer, "control connection silent; closed"),
    }
}

/// A TLS connection: the handshake and the first decrypted byte within
/// [`FIRST_BYTE_TIMEOUT`]; the byte is read (a TLS stream cannot be peeked) and replayed to
/// whichever side gets the connection.
async fn tls(
    acceptor: TlsAcceptor,
    stream: TcpStream,
    peer: SocketAddr,
    grpc: mpsc::Sender<std::io::Result<Conn>>,
    demux: &Demux,
) {
    let local = stream.local_addr().ok();
    let first = async {
        let mut tls = acceptor.accept(stream).await?;
        let mut first = [0u8; 1];
        let n = tls.read(&mut first).await?;
        Ok::<_, std::io::Error>((tls, (n == 1).then_some(first[0])))
    };
    match tokio::time::timeout(FIRST_BYTE_TIMEOUT, first).await {
        Ok(Ok((tls, Some(byte)))) => {
            let conn = Replayed {
                first: Some(byte),
                inner: tls,
                local,
                peer,
            };
            if byte == HTTP2_PREFACE_FIRST_BYTE {
                let _ = grpc.send(Ok(Conn::Tls(Box::new(conn)))).await;
            } else {
                demux.session(conn, peer).await;
            }
        }
        Ok(Ok((_, None))) => {} // closed before a byte
        Ok(Err(e)) => {
            tracing::warn!(%peer, error = %e, "control connection: TLS handshake failed");
        }
        Err(_) => tracing::debug!(%peer, "control connection silent; closed"),
    }
}

impl Demux {
    async fn session<S: AsyncRead + AsyncWrite + Unpin>(&self, io: S, peer: SocketAddr) {
        let session = Session::new(
            io,
            Arc::clone(&self.handler),
            Arc::clone(&self.secret),
            peer.to_string(),
        );
        session.run(self.shutdown.clone()).await;
    }
}

/// A connection handed to tonic: plain TCP, or TLS with its first byte replayed.
enum Conn {
    Plain(TcpStream),
    Tls(Box<Replayed<tokio_rustls::server::TlsStream<TcpStream>>>),
}

/// A stream whose first byte was read already and is given back on the first read.
struct Replayed<S> {
    first: Option<u8>,
    inner: S,
    local: Option<SocketAddr>,
    peer: SocketAddr,
}

impl<S: AsyncRead + Unpin> AsyncRead for Replayed<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if buf.remaining() > 0
            && let Some(b) = self.first.take()
        {
            buf.put_slice(&[b]);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Replayed<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write(cx, data),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, data),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

impl Connected for Conn {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> TcpConnectInfo {
        match self {
            Conn::Plain(s) => s.connect_info(),
            Conn::Tls(s) => TcpConnectInfo {
                local_addr: s.local,
                remote_addr: Some(s.peer),
            },
        }
    }
}

/// The first byte of the HTTP/2 client preface (`PRI * HTTP/2.0`). A Habitat frame starts with
/// its header, whose first byte has the top bit set on the transactional handshake, so it is
/// never `P`; anything else that is not gRPC gets a Habitat `NetErr` rather than an HTTP/2 error.
const HTTP2_PREFACE_FIRST_BYTE: u8 = b'P';

/// The `authorization` check, before decoding.
#[derive(Clone)]
struct Auth {
    secret: Arc<CtlSecret>,
}

impl Interceptor for Auth {
    fn call(&mut self, req: Request<()>) -> Result<Request<()>, Status> {
        let presented = req
            .metadata()
            .get("authorization")
            .and_then(|v| bearer_token(v.as_bytes()));
        match presented {
            Some(token) if self.secret.matches(token) => Ok(req),
            _ => {
                let peer = req
                    .remote_addr()
                    .map_or_else(|| "unknown".to_owned(), |a: SocketAddr| a.to_string());
                tracing::warn!(
                    %peer,
                    with_secret = presented.is_some(),
                    "control request refused: wrong or missing control secret"
                );
                Err(Status::unauthenticated(UNAUTHENTICATED_MESSAGE))
            }
        }
    }
}

/// The token of `Bearer <token>` (the scheme is case-insensitive, RFC 7235).
fn bearer_token(value: &[u8]) -> Option<&[u8]> {
    const SCHEME: &[u8] = b"bearer ";
    let (scheme, token) = value.split_at_checked(SCHEME.len())?;
    scheme.eq_ignore_ascii_case(SCHEME).then_some(token)
}

/// The generated service, forwarding to the handler with plain types.
struct Adapter {
    handler: Arc<dyn ControlHandler>,
}

fn reply(r: Result<Reply, CtlError>) -> Result<Response<proto::Reply>, Status> {
    Ok(Response::new(r?.into()))
}

#[tonic::async_trait]
impl Control for Adapter {
    async fn load(
        &self,
        request: Request<proto::LoadRequest>,
    ) -> Result<Response<proto::Reply>, Status> {
        let req = LoadRequest::try_from(request.into_inner())?;
        reply(self.handler.load(req).await)
    }

    async fn unload(
        &self,
        request: Request<proto::UnloadRequest>,
    ) -> Result<Response<proto::Reply>, Status> {
        let req = UnloadRequest::try_from(request.into_inner())?;
        reply(self.handler.unload(req).await)
    }

    async fn start(
        &self,
        request: Request<proto::StartRequest>,
    ) -> Result<Response<proto::Reply>, Status> {
        let req = StartRequest::try_from(request.into_inner())?;
        reply(self.handler.start(req).await)
    }

    async fn stop(
        &self,
        request: Request<proto::StopRequest>,
    ) -> Result<Response<proto::Reply>, Status> {
        let req = StopRequest::try_from(request.into_inner())?;
        reply(self.handler.stop(req).await)
    }

    async fn status(
        &self,
        request: Request<proto::StatusRequest>,
    ) -> Result<Response<proto::StatusReply>, Status> {
        let req = StatusRequest::try_from(request.into_inner())?;
        let services = self.handler.status(req).await?;
        Ok(Response::new(proto::StatusReply {
            services: services.into_iter().map(Into::into).collect(),
        }))
    }

    async fn config_apply(
        &self,
        request: Request<proto::ConfigApplyRequest>,
    ) -> Result<Response<proto::Reply>, Status> {
        let req = ConfigApplyRequest::try_from(request.into_inner())?;
        reply(self.handler.config_apply(req).await)
    }

    async fn file_upload(
        &self,
        request: Request<proto::FileUploadRequest>,
    ) -> Result<Response<proto::Reply>, Status> {
        let req = FileUploadRequest::try_from(request.into_inner())?;
        reply(self.handler.file_upload(req).await)
    }

    async fn depart(
        &self,
        request: Request<proto::DepartRequest>,
    ) -> Result<Response<proto::Reply>, Status> {
        let req = DepartRequest::try_from(request.into_inner())?;
        reply(self.handler.depart(req).await)
    }
}

#[cfg(test)]
mod tests {
    use super::bearer_token;

    #[test]
    fn bearer_scheme_is_case_insensitive_and_required() {
        assert_eq!(bearer_token(b"Bearer abc"), Some(&b"abc"[..]));
        assert_eq!(bearer_token(b"bearer abc"), Some(&b"abc"[..]));
        assert_eq!(bearer_token(b"BEARER "), Some(&b""[..]));
        assert_eq!(bearer_token(b"Basic abc"), None);
        assert_eq!(bearer_token(b"abc"), None);
        assert_eq!(bearer_token(b""), None);
    }
}
