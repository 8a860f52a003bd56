//! One Habitat control session (spec §11.3) on an accepted connection: the handshake, then
//! requests, each answered with zero or more partial replies and a final one flagged complete.
//!
//! Per connection, in this order:
//! 1. **Handshake** within [`HANDSHAKE_TIMEOUT`]: the first frame must be a transactional
//!    `Handshake` whose `secret_key` is `CTL_SECRET` (constant-time compare). Anything else —
//!    a wrong or missing secret, another message, a malformed frame, silence — gets
//!    `NetErr{Unauthorized}` (or `BadPayload` for undecodable bytes) and the connection closes.
//! 2. **Requests** until the client closes or [`IDLE_TIMEOUT`] passes without one: each is
//!    decoded, checked for the fields Habitat requires (`NetErr{UpdateClient}` when one is
//!    missing, as Habitat answers an outdated client), converted into the plain request of
//!    [`crate::types`] and given to the [`ControlHandler`]. The handler's [`Reply`] message
//!    travels as a `ConsoleLine` before `NetOk`; its [`CtlError`] as `NetErr` with the nearest
//!    Habitat code (`err_code`).
//! 3. **Protocol errors** — a malformed frame, a frame without a transaction, an unknown message
//!    id, a body that is not the message it claims — get `NetErr` and close the connection; a
//!    refused request (not found, conflict, too large) keeps it open, as the reply is complete.
//!
//! `SvcUpdate` replies `ConsoleLine("Updating IDENT")` then `NetOk` as soon as the handler has
//! accepted the change (Habitat queues it for its main loop); `SupRestart` gets no reply, as in
//! Habitat: the connection ends with the supervisor's restart (a refusal is a `NetErr`).
//!
//! Not here: accepting and telling protocols apart, and TLS (`crate::server`), and anything a
//! request means to the supervisor (the handler's). Encrypted config and files
//! (`is_encrypted`) are answered `NetErr{NotSupported}` with a message saying so.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use prost::Message;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use super::frame::{self, Frame, HEADER_LEN, Txn};
use super::proto::{ctl, net, types};
use crate::error::CtlError;
use crate::secret::CtlSecret;
use crate::server::ControlHandler;
use crate::types::{
    Bind, BindingMode, ConfigApplyRequest, DEFAULT_GROUP, DEFAULT_HEALTH_CHECK_INTERVAL_SECS,
    DepartRequest, DesiredState, FileUploadRequest, LoadRequest, ProcessState, Reply,
    ServiceStatus, StartRequest, StatusRequest, StopRequest, Topology, UnloadRequest,
    UpdateRequest, UpdateStrategy,
};
use crate::validate::{MAX_PAYLOAD_BYTES, validate_box, validate_filename, validate_toml};

/// How long a client has to complete the handshake (Habitat's `REQ_TIMEOUT`).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a session may sit without a request before it is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// The message a wrong secret gets, Habitat's words.
pub const SECRET_MISMATCH: &str = "secret key mismatch";

/// Every request message id the session knows.
pub const REQUEST_IDS: [&str; 12] = [
    "SvcGetDefaultCfg",
    "SvcFilePut",
    "SvcSetCfg",
    "SvcValidateCfg",
    "SvcLoad",
    "SvcUpdate",
    "SvcUnload",
    "SvcStart",
    "SvcStop",
    "SvcStatus",
    "SupDepart",
    "SupRestart",
];

/// A reply that ends a request: `NetOk`, `NetErr`, or a data message (`ServiceStatus`).
enum Outcome {
    /// The request is done; the connection stays open.
    Done,
    /// The client spoke the protocol wrongly; close after the `NetErr`.
    Close,
}

/// What went wrong reading a frame.
enum ReadError {
    /// The client closed the connection between frames.
    Closed,
    /// An I/O error or a close inside a frame.
    Io(std::io::Error),
    /// The bytes are not a frame.
    Malformed(frame::DecodeError),
}

/// One session's state: the connection and what answers requests.
pub(crate) struct Session<S> {
    io: S,
    handler: Arc<dyn ControlHandler>,
    secret: Arc<CtlSecret>,
    peer: String,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Session<S> {
    /// A session on `io` (an accepted connection; its first byte may be peeked, not consumed).
    pub(crate) fn new(
        io: S,
        handler: Arc<dyn ControlHandler>,
        secret: Arc<CtlSecret>,
        peer: String,
    ) -> Self {
        Session {
            io,
            handler,
            secret,
            peer,
        }
    }

    /// Runs the session to its end: the client closes, a protocol error, a timeout, or
    /// `shutdown` (between requests). Errors are logged, never returned: a session's failure
    /// concerns only its client.
    pub(crate) async fn run(mut self, shutdown: CancellationToken) {
        let peer = self.peer.clone();
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, self.handshake()).await {
            Ok(true) => {}
            Ok(false) => return,
            Err(_) => {
                tracing::warn!(%peer, "Habitat control session: no handshake within 10 s");
                let _ = self
                    .send(
                        Txn::reply(0, true),
                        &net_err(net::ErrCode::Unauthorized, "no handshake within 10 s"),
                    )
                    .await;
                return;
            }
        }
        loop {
            let frame = tokio::select! {
                () = shutdown.cancelled() => return,
                r = tokio::time::timeout(IDLE_TIMEOUT, self.read_frame()) => match r {
                    Err(_) => {
                        tracing::debug!(%peer, "Habitat control session idle; closing");
                        return;
                    }
                    Ok(Err(ReadError::Closed)) => return,
                    Ok(Err(ReadError::Io(e))) => {
                        tracing::debug!(%peer, error = %e, "Habitat control session ended");
                        return;
                    }
                    Ok(Err(ReadError::Malformed(e))) => {
                        tracing::warn!(%peer, error = %e, "Habitat control session: malformed frame");
                        let msg = format!("malformed frame: {e}");
                        let _ = self
                            .send(Txn::reply(0, true), &net_err(net::ErrCode::BadPayload, &msg))
                            .await;
                        return;
                    }
                    Ok(Ok(frame)) => frame,
                },
            };
            match self.request(frame).await {
                Ok(Outcome::Done) => {}
                Ok(Outcome::Close) => return,
                Err(e) => {
                    tracing::debug!(%peer, error = %e, "Habitat control session: reply not sent");
                    return;
                }
            }
        }
    }

    /// Reads and checks the handshake; `true` if the session may go on. Replies either way.
    async fn handshake(&mut self) -> bool {
        let frame = match self.read_frame().await {
            Ok(f) => f,
            Err(ReadError::Malformed(e)) => {
                let msg = format!("malformed handshake frame: {e}");
                tracing::warn!(peer = %self.peer, "Habitat control session: {msg}");
                let _ = self
                    .send(
                        Txn::reply(0, true),
                        &net_err(net::ErrCode::BadPayload, &msg),
                    )
                    .await;
                return false;
            }
            Err(_) => return false,
        };
        let txn_id = frame.txn.map_or(0, |t| t.id);
        let presented = (frame.message_id == "Handshake" && frame.txn.is_some())
            .then(|| ctl::Handshake::decode(frame.body.as_slice()).ok())
            .flatten()
            .and_then(|h| h.secret_key);
        let ok = presented
            .as_deref()
            .is_some_and(|k| self.secret.matches(k.as_bytes()));
        if ok {
            self.send(Txn::reply(txn_id, true), &Out::ok())
                .await
                .is_ok()
        } else {
            tracing::warn!(
                peer = %self.peer,
                message = %frame.message_id,
                with_secret = presented.is_some(),
                "Habitat control session refused: wrong or missing control secret"
            );
            let _ = self
                .send(
                    Txn::reply(txn_id, true),
                    &net_err(net::ErrCode::Unauthorized, SECRET_MISMATCH),
                )
                .await;
            false
        }
    }

    /// Reads exactly one frame: the header says how long it is (at most
    /// [`frame::MAX_FRAME_LEN`]), then [`frame::decode`] checks it.
    async fn read_frame(&mut self) -> Result<Frame, ReadError> {
        let mut header = [0u8; HEADER_LEN];
        // A close before the first header byte is a clean end; inside a frame it is an error.
        let first = self
            .io
            .read(&mut header[..1])
            .await
            .map_err(ReadError::Io)?;
        if first == 0 {
            return Err(ReadError::Closed);
        }
        self.io
            .read_exact(&mut header[1..])
            .await
            .map_err(ReadError::Io)?;
        let len = frame::frame_len(header);
        let mut buf = vec![0u8; len];
        buf[..HEADER_LEN].copy_from_slice(&header);
        self.io
            .read_exact(&mut buf[HEADER_LEN..])
            .await
            .map_err(ReadError::Io)?;
        frame::decode(&buf).map_err(ReadError::Malformed)
    }

    async fn send(&mut self, txn: Txn, msg: &Out) -> std::io::Result<()> {
        let frame = Frame::new(Some(txn), msg.id, msg.body.clone());
        let bytes = frame.encode().map_err(std::io::Error::other)?;
        self.io.write_all(&bytes).await?;
        self.io.flush().await
    }

    /// Answers one request frame.
    async fn request(&mut self, frame: Frame) -> std::io::Result<Outcome> {
        let Some(txn) = frame.txn.filter(|t| !t.is_response) else {
            let e = net_err(
                net::ErrCode::BadPayload,
                "a request must be a transactional message",
            );
            self.send(Txn::reply(0, true), &e).await?;
            return Ok(Outcome::Close);
        };
        let id = frame.message_id.as_str();
        if !REQUEST_IDS.contains(&id) {
            tracing::warn!(peer = %self.peer, message = %id, "Habitat control session: unknown message");
            let e = net_err(
                net::ErrCode::NotSupported,
                &format!("unknown message {id:?}"),
            );
            self.send(Txn::reply(txn.id, true), &e).await?;
            return Ok(Outcome::Close);
        }
        tracing::debug!(peer = %self.peer, message = %id, %txn, "Habitat control request");
        let replies = match self.dispatch(id, &frame.body).await {
            Ok(replies) => replies,
            Err(Refusal::Malformed(e)) => {
                let msg = format!("{id} is not a valid {id} message: {e}");
                self.send(
                    Txn::reply(txn.id, true),
                    &net_err(net::ErrCode::BadPayload, &msg),
                )
                .await?;
                return Ok(Outcome::Close);
            }
            Err(Refusal::Net(code, msg)) => vec![net_err(code, &msg)],
        };
        let last = replies.len().saturating_sub(1);
        for (i, out) in replies.iter().enumerate() {
            self.send(Txn::reply(txn.id, i == last), out).await?;
        }
        Ok(Outcome::Done)
    }

    /// Decodes and answers one request: the replies to send, the last one final.
    async fn dispatch(&self, id: &str, body: &[u8]) -> Result<Vec<Out>, Refusal> {
        let h = &self.handler;
        match id {
            "SvcStatus" => {
                let req = ctl::SvcStatus::decode(body)?;
                let service = req.ident.map(|i| i.name);
                let rows = h.status(StatusRequest { service }).await?;
                if rows.is_empty() {
                    return Ok(vec![Out::ok()]);
                }
                Ok(rows
                    .iter()
                    .map(|r| Out::new("ServiceStatus", &status(r)))
                    .collect())
            }
            "SvcSetCfg" => {
                let req = ctl::SvcSetCfg::decode(body)?;
                let sg = need(req.service_group, "service_group")?;
                let cfg = need(req.cfg, "cfg")?;
                let version = need(req.version, "version")?;
                too_large(cfg.len(), "configuration")?;
                let encrypted = req.is_encrypted.unwrap_or(false);
                if encrypted {
                    validate_box(&cfg).map_err(|m| Refusal::Net(net::ErrCode::BadPayload, m))?;
                } else {
                    validate_toml(&cfg).map_err(|m| Refusal::Net(net::ErrCode::BadPayload, m))?;
                }
                let reply = h
                    .config_apply(ConfigApplyRequest {
                        service_group: group_text(&sg),
                        version,
                        toml: cfg,
                        encrypted,
                    })
                    .await?;
                Ok(reply.into_outs())
            }
            "SvcValidateCfg" => {
                let req = ctl::SvcValidateCfg::decode(body)?;
                let cfg = need(req.cfg, "cfg")?;
                too_large(cfg.len(), "configuration")?;
                validate_toml(&cfg).map_err(|m| Refusal::Net(net::ErrCode::BadPayload, m))?;
                Ok(vec![Out::ok()])
            }
            "SvcFilePut" => {
                let req = ctl::SvcFilePut::decode(body)?;
                let sg = need(req.service_group, "service_group")?;
                let content = need(req.content, "content")?;
                let filename = need(req.filename, "filename")?;
                let version = need(req.version, "version")?;
                too_large(content.len(), "file")?;
                let encrypted = req.is_encrypted.unwrap_or(false);
                if encrypted {
                    validate_box(&content)
                        .map_err(|m| Refusal::Net(net::ErrCode::BadPayload, m))?;
                }
                validate_filename(&filename)
                    .map_err(|m| Refusal::Net(net::ErrCode::InvalidPayload, m))?;
                let reply = h
                    .file_upload(FileUploadRequest {
                        service_group: group_text(&sg),
                        version,
                        filename,
                        content,
                        encrypted,
                    })
                    .await?;
                Ok(reply.into_outs())
            }
            "SupDepart" => {
                let req = ctl::SupDepart::decode(body)?;
                let member_id = need(req.member_id, "member_id")?;
                Ok(h.depart(DepartRequest { member_id }).await?.into_outs())
            }
            "SvcLoad" => {
                let req = ctl::SvcLoad::decode(body)?;
                let ident = need(req.ident.clone(), "ident")?;
                let force = req.force.unwrap_or(false);
                // An existing spec without force is a conflict, before anything is looked up
                // (Habitat answers so before installing).
                let loaded = h
                    .status(StatusRequest {
                        service: Some(ident.name.clone()),
                    })
                    .await
                    .is_ok();
                if loaded && !force {
                    return Err(Refusal::Net(
                        net::ErrCode::Conflict,
                        format!(
                            "service {} is already loaded; unload it first or load with --force",
                            ident_text(&ident)
                        ),
                    ));
                }
                let plan_path = h.package_dir(&ident_text(&ident)).await?;
                let mut load = load_request(req, plan_path, force)?;
                // The spec file records the identifier as asked, as Habitat's does.
                load.ident = Some(ident_text(&ident));
                Ok(h.load(load).await?.into_outs())
            }
            "SvcGetDefaultCfg" => {
                let req = ctl::SvcGetDefaultCfg::decode(body)?;
                let ident = need(req.ident, "ident")?;
                // As Habitat: a package without default.toml is a bare NetOk.
                Ok(match h.default_config(&ident_text(&ident)).await? {
                    Some(text) => vec![Out::new(
                        "ServiceCfg",
                        &types::ServiceCfg {
                            format: Some(types::service_cfg::Format::Toml as i32),
                            default: Some(text),
                        },
                    )],
                    None => vec![Out::ok()],
                })
            }
            "SvcUnload" => {
                let req = ctl::SvcUnload::decode(body)?;
                let ident = need(req.ident, "ident")?;
                let reply = h
                    .unload(UnloadRequest {
                        service: ident.name,
                        shutdown_timeout_secs: req.timeout_in_seconds,
                    })
                    .await
                    .map_err(not_loaded_is_internal)?;
                Ok(reply.into_outs())
            }
            "SvcStart" => {
                let req = ctl::SvcStart::decode(body)?;
                let ident = need(req.ident, "ident")?;
                let reply = h
                    .start(StartRequest {
                        service: ident.name,
                    })
                    .await?;
                Ok(reply.into_outs())
            }
            "SvcStop" => {
                let req = ctl::SvcStop::decode(body)?;
                let ident = need(req.ident, "ident")?;
                let reply = h
                    .stop(StopRequest {
                        service: ident.name,
                        shutdown_timeout_secs: req.timeout_in_seconds,
                    })
                    .await?;
                Ok(reply.into_outs())
            }
            "SvcUpdate" => {
                let req = ctl::SvcUpdate::decode(body)?;
                let ident = need(req.ident.clone(), "ident")?;
                let update = update_request(req, ident.name.clone())?;
                h.update(update).await.map_err(not_loaded_is_internal)?;
                // Habitat's words: the update is queued, the reply comes at once.
                Ok(Reply::new(format!("Updating {}", ident_text(&ident))).into_outs())
            }
            "SupRestart" => {
                ctl::SupRestart::decode(body)?;
                // As Habitat: no reply; the connection ends when the supervisor does (its
                // re-exec closes every socket), which the `hab` CLI takes as done. A refusal is
                // still a NetErr. The handler's words go to the log.
                let reply = h.restart().await?;
                tracing::info!("hab sup restart: {}", reply.message);
                Ok(Vec::new())
            }
            other => Err(Refusal::Net(
                net::ErrCode::NotSupported,
                format!("{other} is not supported by Warren yet"),
            )),
        }
    }
}

/// A request refused: undecodable (close), or a `NetErr` (the request is done).
enum Refusal {
    Malformed(prost::DecodeError),
    Net(net::ErrCode, String),
}

impl From<prost::DecodeError> for Refusal {
    fn from(e: prost::DecodeError) -> Self {
        Refusal::Malformed(e)
    }
}

impl From<CtlError> for Refusal {
    fn from(e: CtlError) -> Self {
        Refusal::Net(err_code(&e), e.message().to_owned())
    }
}

/// The Habitat code a handler's refusal travels as.
pub(crate) fn err_code(e: &CtlError) -> net::ErrCode {
    match e {
        CtlError::NotFound(_) => net::ErrCode::NotFound,
        CtlError::AlreadyExists(_) => net::ErrCode::Conflict,
        CtlError::TooLarge(_) => net::ErrCode::EntityTooLarge,
        CtlError::InvalidArgument(_) | CtlError::FailedPrecondition(_) => {
            net::ErrCode::InvalidPayload
        }
        CtlError::Internal(_) => net::ErrCode::Internal,
    }
}

/// Habitat refuses `SvcUnload` and `SvcUpdate` of a service that is not loaded with `Internal`
/// (not `NotFound`, which its `SvcStart`, `SvcStop` and `SvcStatus` use); scripts that match on
/// the code see the same one here.
fn not_loaded_is_internal(e: CtlError) -> Refusal {
    match e {
        CtlError::NotFound(message) => Refusal::Net(net::ErrCode::Internal, message),
        other => other.into(),
    }
}

fn need<T>(field: Option<T>, name: &str) -> Result<T, Refusal> {
    field.ok_or_else(|| {
        Refusal::Net(
            net::ErrCode::UpdateClient,
            format!("the request lacks its {name} field; update the hab CLI"),
        )
    })
}

fn too_large(len: usize, what: &str) -> Result<(), Refusal> {
    if len > MAX_PAYLOAD_BYTES {
        return Err(Refusal::Net(
            net::ErrCode::EntityTooLarge,
            format!(
                "the {what} is {len} bytes; the most that can be gossiped is {MAX_PAYLOAD_BYTES} bytes (64 KiB)"
            ),
        ));
    }
    Ok(())
}

/// `SERVICE.GROUP[@ORG]`.
fn group_text(sg: &types::ServiceGroup) -> String {
    match sg.organization.as_deref() {
        Some(org) if !org.is_empty() => format!("{}.{}@{org}", sg.service, sg.group),
        _ => format!("{}.{}", sg.service, sg.group),
    }
}

/// `ORIGIN/NAME[/VERSION[/RELEASE]]`.
fn ident_text(i: &types::PackageIdent) -> String {
    let mut s = format!("{}/{}", i.origin, i.name);
    if let Some(v) = i.version.as_deref().filter(|v| !v.is_empty()) {
        s.push('/');
        s.push_str(v);
        if let Some(r) = i.release.as_deref().filter(|r| !r.is_empty()) {
            s.push('/');
            s.push_str(r);
        }
    }
    s
}

fn bad_enum(field: &str, n: i32) -> Refusal {
    Refusal::Net(
        net::ErrCode::InvalidPayload,
        format!("unknown {field} value {n}"),
    )
}

fn topology(n: i32) -> Result<Topology, Refusal> {
    Ok(
        match types::Topology::try_from(n).map_err(|_| bad_enum("topology", n))? {
            types::Topology::Standalone => Topology::Standalone,
            types::Topology::Leader => Topology::Leader,
        },
    )
}

fn strategy(n: i32) -> Result<UpdateStrategy, Refusal> {
    Ok(
        match types::UpdateStrategy::try_from(n).map_err(|_| bad_enum("update_strategy", n))? {
            types::UpdateStrategy::None => UpdateStrategy::None,
            types::UpdateStrategy::AtOnce => UpdateStrategy::AtOnce,
            types::UpdateStrategy::Rolling => UpdateStrategy::Rolling,
        },
    )
}

fn binding_mode(n: i32) -> Result<BindingMode, Refusal> {
    Ok(
        match types::BindingMode::try_from(n).map_err(|_| bad_enum("binding_mode", n))? {
            types::BindingMode::Strict => BindingMode::Strict,
            types::BindingMode::Relaxed => BindingMode::Relaxed,
        },
    )
}

fn binds(list: ctl::ServiceBindList) -> Vec<Bind> {
    list.binds
        .into_iter()
        .map(|b| Bind {
            name: b.name,
            service_group: group_text(&b.service_group),
        })
        .collect()
}

fn load_request(
    req: ctl::SvcLoad,
    plan_path: PathBuf,
    force: bool,
) -> Result<LoadRequest, Refusal> {
    Ok(LoadRequest {
        plan_path,
        ident: None,
        group: req
            .group
            .filter(|g| !g.is_empty())
            .unwrap_or_else(|| DEFAULT_GROUP.to_owned()),
        org: None,
        topology: req.topology.map_or(Ok(Topology::Standalone), topology)?,
        strategy: req
            .update_strategy
            .map_or(Ok(UpdateStrategy::None), strategy)?,
        binds: req.binds.map(binds).unwrap_or_default(),
        binding_mode: req
            .binding_mode
            .map_or(Ok(BindingMode::Strict), binding_mode)?,
        health_check_interval_secs: req
            .health_check_interval
            .map_or(DEFAULT_HEALTH_CHECK_INTERVAL_SECS, |h| h.seconds.max(1)),
        shutdown_timeout_secs: req.shutdown_timeout,
        config_from: req.config_from.filter(|c| !c.is_empty()).map(PathBuf::from),
        force,
    })
}

/// `SvcUpdate` as the handler's request: only the fields the message carries (an empty group
/// is no group, as the `hab` CLI sends none when `--group` is not given).
fn update_request(req: ctl::SvcUpdate, service: String) -> Result<UpdateRequest, Refusal> {
    Ok(UpdateRequest {
        service,
        group: req.group.filter(|g| !g.is_empty()),
        topology: req.topology.map(topology).transpose()?,
        strategy: req.update_strategy.map(strategy).transpose()?,
        binds: req.binds.map(binds),
        binding_mode: req.binding_mode.map(binding_mode).transpose()?,
        health_check_interval_secs: req.health_check_interval.map(|h| h.seconds.max(1)),
        shutdown_timeout_secs: req.shutdown_timeout,
    })
}

/// A row of `warren svc status` as Habitat's `ServiceStatus`.
fn status(row: &ServiceStatus) -> types::ServiceStatus {
    let mut parts = row.package.splitn(4, '/');
    let mut next = || parts.next().map(str::to_owned);
    let ident = types::PackageIdent {
        origin: next().unwrap_or_default(),
        name: next().unwrap_or_default(),
        version: next(),
        release: next(),
    };
    let (sg, org) = match row.service_group.split_once('@') {
        Some((sg, org)) => (sg, Some(org.to_owned())),
        None => (row.service_group.as_str(), None),
    };
    let (service, group) = sg.split_once('.').unwrap_or((sg, DEFAULT_GROUP));
    types::ServiceStatus {
        ident,
        process: Some(types::ProcessStatus {
            elapsed: row.elapsed_secs,
            pid: row.pid,
            state: match row.process {
                ProcessState::Up => types::ProcessState::Up,
                ProcessState::Down => types::ProcessState::Down,
            } as i32,
        }),
        service_group: types::ServiceGroup {
            service: service.to_owned(),
            group: group.to_owned(),
            organization: org,
        },
        desired_state: Some(match row.desired {
            DesiredState::Up => types::DesiredState::DesiredUp,
            DesiredState::Down => types::DesiredState::DesiredDown,
        } as i32),
    }
}

/// One outgoing message: its id and body.
#[derive(Clone, Debug)]
struct Out {
    id: &'static str,
    body: Vec<u8>,
}

impl Out {
    fn new(id: &'static str, msg: &impl Message) -> Self {
        Out {
            id,
            body: msg.encode_to_vec(),
        }
    }

    fn ok() -> Self {
        Out::new("NetOk", &net::NetOk {})
    }
}

fn net_err(code: net::ErrCode, msg: &str) -> Out {
    Out::new(
        "NetErr",
        &net::NetErr {
            code: code as i32,
            msg: msg.to_owned(),
        },
    )
}

impl Reply {
    /// The handler's message as a `ConsoleLine` (when there is one), then `NetOk`.
    fn into_outs(self) -> Vec<Out> {
        let mut outs = Vec::with_capacity(2);
        if !self.message.is_empty() {
            outs.push(Out::new(
                "ConsoleLine",
                &ctl::ConsoleLine {
                    line: format!("{}\n", self.message),
                    color: None,
                    bold: false,
                },
            ));
        }
        outs.push(Out::ok());
        outs
    }
}
