//! Errors of the control API, one type per side.
//!
//! - [`CtlError`]: what a [`ControlHandler`](crate::ControlHandler) (or the server's own checks)
//!   refuses a request with; each variant is one gRPC status code, and the message travels to
//!   the client unchanged.
//! - [`ClientError`]: what a [`CtlClient`](crate::CtlClient) call fails with; a refusal carries
//!   the server's [`CtlError`] back, so the CLI can match on it and print it as one line.
//! - [`SecretError`]: reading or creating `CTL_SECRET`.
//! - [`ServeError`]: the server stopped on a transport failure.
//!
//! Nothing here logs; the caller decides.

use std::path::PathBuf;

use tonic::{Code, Status};

/// A request refused by the supervisor. The message is shown to the operator as is, so it should
/// name the thing (service, group, file) and, where it helps, what to do.
///
/// A handler's refusal changes nothing on the supervisor unless its message says otherwise;
/// [`CtlError::Internal`] is the exception: state may have partly changed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CtlError {
    /// No such service (or member). gRPC `NOT_FOUND`.
    #[error("{0}")]
    NotFound(String),
    /// The request is malformed: bad TOML, a bad file name, a relative path, a bad service
    /// group, an unknown enum value. gRPC `INVALID_ARGUMENT`.
    #[error("{0}")]
    InvalidArgument(String),
    /// The request is well formed but the supervisor's state does not allow it, e.g. a config
    /// version not higher than the gossiped one. gRPC `FAILED_PRECONDITION`.
    #[error("{0}")]
    FailedPrecondition(String),
    /// The service is loaded already and `force` was not given. gRPC `ALREADY_EXISTS`.
    #[error("{0}")]
    AlreadyExists(String),
    /// A payload over [`MAX_PAYLOAD_BYTES`](crate::MAX_PAYLOAD_BYTES), or a request over
    /// [`MAX_REQUEST_BYTES`](crate::MAX_REQUEST_BYTES). gRPC `RESOURCE_EXHAUSTED` (and
    /// `OUT_OF_RANGE`, tonic's code for a request over its decoding limit, reads as this too).
    #[error("{0}")]
    TooLarge(String),
    /// The supervisor failed (I/O, a task gone). gRPC `INTERNAL`.
    #[error("{0}")]
    Internal(String),
}

impl CtlError {
    /// The refusal of a config or file `version` that is not higher than the one the group
    /// already gossips (Habitat ignores such a rumor; Warren says so instead).
    pub fn stale_version(service_group: &str, what: &str, version: u64, current: u64) -> Self {
        CtlError::FailedPrecondition(format!(
            "{service_group}: {what} version {version} is not higher than the current version \
             {current}; use a version above {current}"
        ))
    }

    /// The gRPC code this error travels as.
    pub fn code(&self) -> Code {
        match self {
            CtlError::NotFound(_) => Code::NotFound,
            CtlError::InvalidArgument(_) => Code::InvalidArgument,
            CtlError::FailedPrecondition(_) => Code::FailedPrecondition,
            CtlError::AlreadyExists(_) => Code::AlreadyExists,
            CtlError::TooLarge(_) => Code::ResourceExhausted,
            CtlError::Internal(_) => Code::Internal,
        }
    }

    /// The message alone.
    pub fn message(&self) -> &str {
        match self {
            CtlError::NotFound(m)
            | CtlError::InvalidArgument(m)
            | CtlError::FailedPrecondition(m)
            | CtlError::AlreadyExists(m)
            | CtlError::TooLarge(m)
            | CtlError::Internal(m) => m,
        }
    }

    /// The refusal a status carries, for the codes a handler can produce; `None` for the others
    /// (transport failures, authentication, unimplemented methods).
    pub(crate) fn from_status(status: &Status) -> Option<Self> {
        let m = status.message().to_owned();
        Some(match status.code() {
            Code::NotFound => CtlError::NotFound(m),
            Code::InvalidArgument => CtlError::InvalidArgument(m),
            Code::FailedPrecondition => CtlError::FailedPrecondition(m),
            Code::AlreadyExists => CtlError::AlreadyExists(m),
            Code::ResourceExhausted | Code::OutOfRange => CtlError::TooLarge(m),
            Code::Internal => CtlError::Internal(m),
            _ => return None,
        })
    }
}

impl From<CtlError> for Status {
    fn from(e: CtlError) -> Self {
        let code = e.code();
        match e {
            CtlError::NotFound(m)
            | CtlError::InvalidArgument(m)
            | CtlError::FailedPrecondition(m)
            | CtlError::AlreadyExists(m)
            | CtlError::TooLarge(m)
            | CtlError::Internal(m) => Status::new(code, m),
        }
    }
}

/// The message of an authentication refusal, on both sides.
pub const UNAUTHENTICATED_MESSAGE: &str =
    "the control secret does not match; set HAB_CTL_SECRET or run on the supervisor's host";

/// A [`CtlClient`](crate::CtlClient) call that failed. Every variant displays as one line that
/// names the supervisor's address where it matters.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The supervisor could not be reached (connection refused, no route, timeout, name not
    /// resolved, or the connection dropped mid-call). Nothing is known to have changed.
    #[error(
        "cannot reach the supervisor at {addr}: {reason} — is `warren run` running? (-r/--remote-sup)"
    )]
    Unreachable {
        /// The address tried (`host:port`).
        addr: String,
        /// Why, lowercase, e.g. `connection refused`.
        reason: String,
    },
    /// The supervisor refused the control secret. Nothing changed.
    #[error("the supervisor at {addr} refused the request: {UNAUTHENTICATED_MESSAGE}")]
    Unauthenticated {
        /// The supervisor's address.
        addr: String,
    },
    /// The supervisor refused the request; its message is shown as is.
    #[error("{0}")]
    Refused(CtlError),
    /// The request was not sent: it failed the client's own checks (bad TOML, payload too large,
    /// bad file name, a path that is not UTF-8, a malformed address).
    #[error("{0}")]
    Invalid(String),
    /// The supervisor answered in a way this client does not understand (an unexpected gRPC
    /// status, such as `UNIMPLEMENTED` from a different version, or a malformed reply).
    #[error("unexpected answer from the supervisor at {addr}: {message}")]
    Protocol {
        /// The supervisor's address.
        addr: String,
        /// What was wrong.
        message: String,
    },
}

impl ClientError {
    /// The server's refusal, if this is one.
    pub fn refusal(&self) -> Option<&CtlError> {
        match self {
            ClientError::Refused(e) => Some(e),
            _ => None,
        }
    }
}

/// Reading or creating the control secret failed.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// A file could not be read, created or written.
    #[error("cannot {action} the control secret file {}: {source}", path.display())]
    Io {
        /// What was being done (`read`, `create`, `write`, …).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The secret (from a file or `HAB_CTL_SECRET`) is empty or holds characters that cannot go
    /// in a header (only visible ASCII is allowed; a trailing newline is ignored).
    #[error("the control secret from {origin} is {problem}{hint}")]
    Malformed {
        /// Where it came from: a path or `HAB_CTL_SECRET`.
        origin: String,
        /// What is wrong.
        problem: &'static str,
        /// What to do.
        hint: String,
    },
    /// The client found no secret.
    #[error(
        "no control secret: HAB_CTL_SECRET is not set and {} does not exist; set HAB_CTL_SECRET to the supervisor's secret, or run on the supervisor's host (with the same --fs-root)",
        path.display()
    )]
    NotFound {
        /// The file looked for.
        path: PathBuf,
    },
    /// The operating system gave no randomness.
    #[error("cannot generate a control secret: no randomness from the operating system: {0}")]
    Random(String),
}

/// The control server stopped because its transport failed.
#[derive(Debug, thiserror::Error)]
#[error("the control API server on {addr} failed: {source}")]
pub struct ServeError {
    /// The listening address.
    pub addr: String,
    /// The cause.
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}
