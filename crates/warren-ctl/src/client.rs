//! The control client the CLI uses: one async method per request, plain Rust values in and out,
//! and errors that print as one line ([`ClientError`]).
//!
//! [`CtlClient::connect`] opens the HTTP/2 connection at once, so an absent supervisor is
//! reported before anything else ([`ClientError::Unreachable`]). Every call carries the secret
//! as `authorization: Bearer …`. Before sending, the client runs the same form checks as the
//! server where they are local (TOML, payload size, file names, UTF-8 paths) so nothing
//! malformed leaves the machine, and it makes relative paths absolute against its own working
//! directory.
//!
//! Not here: choosing the address or the secret (the CLI resolves `-r/--remote-sup` and calls
//! [`CtlSecret::for_client`](crate::CtlSecret::for_client)), retries (a control command is run
//! once; the operator retries), TLS.

use std::error::Error as StdError;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use tonic::metadata::{AsciiMetadataValue, MetadataValue};
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request, Status};

use crate::error::{ClientError, CtlError};
use crate::proto;
use crate::proto::control_client::ControlClient;
use crate::secret::CtlSecret;
use crate::server::REQUEST_TIMEOUT;
use crate::types::{
    ConfigApplyRequest, DepartRequest, FileUploadRequest, LoadRequest, Reply, ServiceStatus,
    StartRequest, StatusRequest, StopRequest, UnloadRequest,
};
use crate::validate::{check_payload_size, validate_filename, validate_toml};

/// The control port (Habitat's).
pub const DEFAULT_CTL_PORT: u16 = 9632;

/// Where the client looks when `-r/--remote-sup` is not given (and `--listen-ctl`'s default).
pub const DEFAULT_CTL_ADDR: &str = "127.0.0.1:9632";

/// How long [`CtlClient::connect`] waits for the TCP connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a call waits for its answer: the server's own limit plus a margin.
pub const CALL_TIMEOUT: Duration = REQUEST_TIMEOUT.saturating_add(Duration::from_secs(10));

/// A connection to one supervisor's control API. Cheap to clone (clones share the connection).
#[derive(Clone, Debug)]
pub struct CtlClient {
    inner: ControlClient<Channel>,
    addr: String,
    auth: AsciiMetadataValue,
}

impl CtlClient {
    /// Connects to `addr`: `HOST:PORT`, `HOST` (port [`DEFAULT_CTL_PORT`]), `IP`, `[IPv6]` or
    /// `[IPv6]:PORT`; empty means [`DEFAULT_CTL_ADDR`]. A host name is resolved by the system.
    ///
    /// [`ClientError::Invalid`] for a malformed address, [`ClientError::Unreachable`] when no
    /// connection can be made within [`CONNECT_TIMEOUT`]. The secret is checked by the first
    /// call, not here.
    pub async fn connect(addr: &str, secret: CtlSecret) -> Result<Self, ClientError> {
        let addr = normalize_addr(addr)?;
        let auth: AsciiMetadataValue =
            MetadataValue::try_from(format!("Bearer {}", secret.expose())).map_err(|_| {
                ClientError::Invalid("the control secret cannot be sent as a header".to_owned())
            })?;
        let endpoint = Endpoint::from_shared(format!("http://{addr}"))
            .map_err(|e| ClientError::Invalid(format!("invalid supervisor address {addr:?}: {e}")))?
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(CALL_TIMEOUT)
            .tcp_nodelay(true);
        let channel = endpoint
            .connect()
            .await
            .map_err(|e| ClientError::Unreachable {
                addr: addr.clone(),
                reason: reason(&e),
            })?;
        Ok(CtlClient {
            inner: ControlClient::new(channel),
            addr,
            auth,
        })
    }

    /// The supervisor's address, as normalized by [`CtlClient::connect`].
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// `warren svc load`. A relative `plan_path` or `config_from` is made absolute against this
    /// process's working directory first (it names a directory on the supervisor's host: right
    /// for a local supervisor; give absolute paths for a remote one).
    pub async fn load(&self, mut req: LoadRequest) -> Result<Reply, ClientError> {
        if req.ident.is_none() {
            req.plan_path = absolute(&req.plan_path)?;
        }
        if let Some(dir) = &req.config_from {
            req.config_from = Some(absolute(dir)?);
        }
        let wire = req.to_wire().map_err(ClientError::Invalid)?;
        let reply = self.inner.clone().load(self.request(wire)).await;
        self.reply(reply)
    }

    /// `warren svc unload`.
    pub async fn unload(&self, req: UnloadRequest) -> Result<Reply, ClientError> {
        let wire = proto::UnloadRequest {
            service: req.service,
            shutdown_timeout_secs: req.shutdown_timeout_secs,
        };
        let reply = self.inner.clone().unload(self.request(wire)).await;
        self.reply(reply)
    }

    /// `warren svc start`.
    pub async fn start(&self, req: StartRequest) -> Result<Reply, ClientError> {
        let wire = proto::StartRequest {
            service: req.service,
        };
        let reply = self.inner.clone().start(self.request(wire)).await;
        self.reply(reply)
    }

    /// `warren svc stop`.
    pub async fn stop(&self, req: StopRequest) -> Result<Reply, ClientError> {
        let wire = proto::StopRequest {
            service: req.service,
            shutdown_timeout_secs: req.shutdown_timeout_secs,
        };
        let reply = self.inner.clone().stop(self.request(wire)).await;
        self.reply(reply)
    }

    /// `warren svc status [SVC]`; print the result with
    /// [`format_status_table`](crate::format_status_table).
    pub async fn status(&self, req: StatusRequest) -> Result<Vec<ServiceStatus>, ClientError> {
        let wire = proto::StatusRequest {
            service: req.service,
        };
        let reply = self
            .inner
            .clone()
            .status(self.request(wire))
            .await
            .map_err(|s| self.status_error(s))?;
        reply
            .into_inner()
            .services
            .into_iter()
            .map(|s| {
                ServiceStatus::try_from(s).map_err(|message| ClientError::Protocol {
                    addr: self.addr.clone(),
                    message,
                })
            })
            .collect()
    }

    /// `warren config apply`. Refused here, before sending, when the document is over
    /// [`MAX_PAYLOAD_BYTES`](crate::MAX_PAYLOAD_BYTES) or not valid TOML
    /// ([`validate_toml`]'s message).
    pub async fn config_apply(&self, req: ConfigApplyRequest) -> Result<Reply, ClientError> {
        check_payload_size(req.toml.len(), "configuration").map_err(ClientError::Invalid)?;
        if req.encrypted {
            crate::validate::validate_box(&req.toml).map_err(ClientError::Invalid)?;
        } else {
            validate_toml(&req.toml).map_err(ClientError::Invalid)?;
        }
        let wire = proto::ConfigApplyRequest {
            service_group: req.service_group,
            version: req.version,
            toml: req.toml,
            encrypted: req.encrypted,
        };
        let reply = self.inner.clone().config_apply(self.request(wire)).await;
        self.reply(reply)
    }

    /// `warren file upload`. Refused here, before sending, when the content is over
    /// [`MAX_PAYLOAD_BYTES`](crate::MAX_PAYLOAD_BYTES) or the name is not a plain file name.
    pub async fn file_upload(&self, req: FileUploadRequest) -> Result<Reply, ClientError> {
        validate_filename(&req.filename).map_err(ClientError::Invalid)?;
        check_payload_size(req.content.len(), "file").map_err(ClientError::Invalid)?;
        let wire = proto::FileUploadRequest {
            service_group: req.service_group,
            version: req.version,
            filename: req.filename,
            content: req.content,
            encrypted: req.encrypted,
        };
        let reply = self.inner.clone().file_upload(self.request(wire)).await;
        self.reply(reply)
    }

    /// `warren sup depart`.
    pub async fn depart(&self, req: DepartRequest) -> Result<Reply, ClientError> {
        let wire = proto::DepartRequest {
            member_id: req.member_id,
        };
        let reply = self.inner.clone().depart(self.request(wire)).await;
        self.reply(reply)
    }

    fn request<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        request
            .metadata_mut()
            .insert("authorization", self.auth.clone());
        request
    }

    fn reply(
        &self,
        result: Result<tonic::Response<proto::Reply>, Status>,
    ) -> Result<Reply, ClientError> {
        result
            .map(|r| r.into_inner().into())
            .map_err(|s| self.status_error(s))
    }

    fn status_error(&self, status: Status) -> ClientError {
        let addr = self.addr.clone();
        if let Some(refusal) = CtlError::from_status(&status) {
            return ClientError::Refused(refusal);
        }
        match status.code() {
            Code::Unauthenticated => ClientError::Unauthenticated { addr },
            Code::Unavailable => ClientError::Unreachable {
                reason: status
                    .source()
                    .map_or_else(|| status.message().to_owned(), reason),
                addr,
            },
            Code::Cancelled | Code::DeadlineExceeded => ClientError::Protocol {
                addr,
                message: format!("the request timed out ({})", status.message()),
            },
            Code::Unimplemented => ClientError::Protocol {
                addr,
                message: "it does not know this request (is it a different Warren version?)"
                    .to_owned(),
            },
            code => ClientError::Protocol {
                addr,
                message: format!("{code:?}: {}", status.message()),
            },
        }
    }
}

/// `HOST:PORT` from what the operator typed.
fn normalize_addr(addr: &str) -> Result<String, ClientError> {
    let addr = addr.trim();
    if addr.is_empty() {
        return Ok(DEFAULT_CTL_ADDR.to_owned());
    }
    let invalid = |why: &str| {
        ClientError::Invalid(format!(
            "invalid supervisor address {addr:?}: {why}; expected HOST[:PORT], e.g. {DEFAULT_CTL_ADDR}"
        ))
    };
    if addr.contains("://") || addr.contains('/') {
        return Err(invalid("not a URL"));
    }
    if let Ok(sa) = addr.parse::<SocketAddr>() {
        return Ok(sa.to_string());
    }
    if let Ok(ip) = addr.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, DEFAULT_CTL_PORT).to_string());
    }
    if let Some(inner) = addr.strip_prefix('[').and_then(|a| a.strip_suffix(']')) {
        return match inner.parse::<IpAddr>() {
            Ok(ip) => Ok(SocketAddr::new(ip, DEFAULT_CTL_PORT).to_string()),
            Err(_) => Err(invalid("not an IPv6 address in brackets")),
        };
    }
    match addr.rsplit_once(':') {
        Some((host, port)) => {
            if host.is_empty() || host.contains([':', '[', ']']) {
                return Err(invalid("bad host"));
            }
            match port.parse::<u16>() {
                Ok(p) if p > 0 => Ok(format!("{host}:{p}")),
                _ => Err(invalid("bad port")),
            }
        }
        None if addr.contains(['[', ']']) => Err(invalid("bad host")),
        None => Ok(format!("{addr}:{DEFAULT_CTL_PORT}")),
    }
}

fn absolute(path: &Path) -> Result<PathBuf, ClientError> {
    std::path::absolute(path)
        .map_err(|e| ClientError::Invalid(format!("cannot make {} absolute: {e}", path.display())))
}

/// One short lowercase reason from an error chain: the I/O error's kind where there is one,
/// else the innermost message.
fn reason(error: &(dyn StdError + 'static)) -> String {
    let mut current: Option<&(dyn StdError + 'static)> = Some(error);
    let mut innermost = error.to_string();
    while let Some(e) = current {
        if let Some(io) = e.downcast_ref::<io::Error>() {
            let kind = match io.kind() {
                io::ErrorKind::ConnectionRefused => Some("connection refused"),
                io::ErrorKind::ConnectionReset => Some("connection reset"),
                io::ErrorKind::ConnectionAborted => Some("connection aborted"),
                io::ErrorKind::TimedOut => Some("timed out"),
                io::ErrorKind::HostUnreachable => Some("host unreachable"),
                io::ErrorKind::NetworkUnreachable => Some("network unreachable"),
                io::ErrorKind::AddrNotAvailable => Some("address not available"),
                _ => None,
            };
            if let Some(kind) = kind {
                return kind.to_owned();
            }
        }
        innermost = e.to_string();
        current = e.source();
    }
    if innermost.to_ascii_lowercase().contains("timed out") {
        return "timed out".to_owned();
    }
    innermost
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn addresses() {
        let ok = |a: &str| normalize_addr(a).unwrap();
        assert_eq!(ok(""), "127.0.0.1:9632");
        assert_eq!(ok("127.0.0.1:9632"), "127.0.0.1:9632");
        assert_eq!(ok("10.0.0.5"), "10.0.0.5:9632");
        assert_eq!(ok("::1"), "[::1]:9632");
        assert_eq!(ok("[::1]"), "[::1]:9632");
        assert_eq!(ok("[::1]:1234"), "[::1]:1234");
        assert_eq!(ok("sup-0.example"), "sup-0.example:9632");
        assert_eq!(ok(" localhost:7000 "), "localhost:7000");
        for bad in [
            "http://127.0.0.1:9632",
            "host:",
            "host:port",
            "host:0",
            "host:70000",
            ":9632",
            "[nope]",
            "a/b",
        ] {
            let e = normalize_addr(bad).unwrap_err().to_string();
            assert!(e.contains("expected HOST[:PORT]"), "{bad}: {e}");
        }
    }

    #[tokio::test]
    async fn unreachable_is_one_clear_line() {
        // Bind then drop a listener: its port now refuses connections.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let addr = format!("127.0.0.1:{port}");
        let secret = CtlSecret::new("x").unwrap();
        let e = CtlClient::connect(&addr, secret).await.unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "cannot reach the supervisor at {addr}: connection refused — is `warren run` \
                 running? (-r/--remote-sup)"
            )
        );
    }
}
