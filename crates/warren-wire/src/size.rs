//! Exact encoded sizes for the core's datagram budget ([`warren_ring::WireSize`]).
//!
//! [`ExactSize`] measures the very protobuf messages [`crate::encode_swim`] and
//! [`crate::encode_rumor`] would build, plus the `Wire` envelope with or without the secretbox
//! overhead (flag, 24-byte nonce, 16-byte MAC). It does not encode or encrypt anything.
//!
//! One caveat for callers that add sizes up: the `Wire.payload` length prefix is a varint, so a
//! datagram grows by one extra byte when its Swim crosses 128 bytes (and again at 16 KiB).
//! [`WireSize::membership_len`] is the record's own field size and cannot see that; re-measure
//! with [`WireSize::swim_len`] when the total matters to the byte.

use prost::Message;
use prost::encoding::encoded_len_varint;
use warren_ring::{Membership, Rumor, Swim, WireSize};

use crate::envelope::sealed_len;
use crate::key::RingKey;
use crate::{rumor, swim};

/// Exact sizes of what this crate encodes, for a ring with or without a key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExactSize {
    encrypted: bool,
}

impl ExactSize {
    /// Sizes for a ring without a key (plaintext payloads).
    pub fn plaintext() -> Self {
        ExactSize { encrypted: false }
    }

    /// Sizes for a keyed ring (nonce and MAC included).
    pub fn encrypted() -> Self {
        ExactSize { encrypted: true }
    }

    /// Sizes for a ring using `key`, or none.
    pub fn for_key(key: Option<&RingKey>) -> Self {
        ExactSize {
            encrypted: key.is_some(),
        }
    }

    /// Whether the sizes include encryption overhead.
    pub fn is_encrypted(&self) -> bool {
        self.encrypted
    }
}

impl WireSize for ExactSize {
    fn swim_len(&self, msg: &Swim) -> usize {
        sealed_len(swim::to_proto(msg).encoded_len(), self.encrypted)
    }

    fn membership_len(&self, m: &Membership) -> usize {
        // Field 5 of Swim: one tag byte, the length, the record.
        let body = swim::membership_to_proto(m).encoded_len();
        1 + encoded_len_varint(body as u64) + body
    }

    fn rumor_len(&self, rumor: &Rumor) -> usize {
        sealed_len(rumor::to_proto(rumor).encoded_len(), self.encrypted)
    }
}
