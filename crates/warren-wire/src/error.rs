//! Why a message failed to decode.
//!
//! One variant per reason, each with a stable short label ([`WireError::reason`]) for metrics.
//! This module only describes failures; it does not log or count them.

use thiserror::Error;

/// A received datagram or rumor frame that Warren drops.
///
/// Habitat panics on some of these (type/payload mismatch, `Fake` rumors); Warren reports them.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum WireError {
    /// The bytes are not a valid protobuf encoding of the expected message.
    #[error("protobuf decode failed: {0}")]
    Protobuf(#[from] prost::DecodeError),
    /// A field that Habitat requires on decode is absent.
    #[error("required field `{0}` is missing")]
    MissingField(&'static str),
    /// A member id (or the id of a rumor's owner or candidate) is the empty string.
    #[error("`{0}` is empty")]
    EmptyId(&'static str),
    /// An enum field holds a number the enum does not define.
    #[error("`{field}` has unknown value {value}")]
    UnknownEnum {
        /// The field.
        field: &'static str,
        /// The number received.
        value: i32,
    },
    /// The message's `type` names a different variant than the one in its `payload`.
    #[error("type {declared} does not match the `{payload}` payload")]
    TypeMismatch {
        /// The `type` number received.
        declared: i32,
        /// The payload field that is set.
        payload: &'static str,
    },
    /// A rumor of type `Fake` (6) or `Fake2` (7), which Habitat never sends on purpose.
    #[error("rumor of fake type {0}")]
    FakeRumor(i32),
    /// A port outside 0..=65535.
    #[error("`{field}` = {value} is not a port")]
    BadPort {
        /// The field.
        field: &'static str,
        /// The value received.
        value: i32,
    },
    /// An address that does not parse as an IP address.
    #[error("`{field}` = {address:?} is not an IP address")]
    BadAddress {
        /// The field.
        field: &'static str,
        /// The text received.
        address: String,
    },
    /// A service group that is not `service.group[@org]` (spec §7.1).
    #[error("{0:?} is not a valid service group")]
    BadServiceGroup(String),
    /// An election carries more votes than `warren_ring::rumor::MAX_VOTES`.
    #[error("election with {len} votes, more than {max}")]
    TooManyVotes {
        /// Votes received.
        len: usize,
        /// The bound.
        max: usize,
    },
    /// A ring key is configured but the message carries no nonce.
    #[error("missing nonce")]
    MissingNonce,
    /// The nonce is not 24 bytes long.
    #[error("nonce is {0} bytes, expected 24")]
    BadNonce(usize),
    /// The payload does not open with our ring key (wrong key, tampering, or an unkeyed sender).
    #[error("payload does not decrypt with the ring key")]
    Decrypt,
}

impl WireError {
    /// A short stable label for metrics (`protobuf`, `missing_field`, ...).
    pub fn reason(&self) -> &'static str {
        match self {
            WireError::Protobuf(_) => "protobuf",
            WireError::MissingField(_) => "missing_field",
            WireError::EmptyId(_) => "empty_id",
            WireError::UnknownEnum { .. } => "unknown_enum",
            WireError::TypeMismatch { .. } => "type_mismatch",
            WireError::FakeRumor(_) => "fake_rumor",
            WireError::BadPort { .. } => "bad_port",
            WireError::BadAddress { .. } => "bad_address",
            WireError::BadServiceGroup(_) => "bad_service_group",
            WireError::TooManyVotes { .. } => "too_many_votes",
            WireError::MissingNonce => "missing_nonce",
            WireError::BadNonce(_) => "bad_nonce",
            WireError::Decrypt => "decrypt",
        }
    }
}
