//! Bare protobuf records of the rumor file to and from `warren-ring` values.
//!
//! The rumor file stores a bare `butterfly.swim.Membership` or `butterfly.newscast.Rumor` per
//! record, never a `Wire` envelope and never encrypted. `warren-wire` exposes only `Wire`-framed
//! encoding, so this module bridges through a plaintext `Wire` (which holds nothing but the
//! payload) to reuse its exact mapping and its required-field checks instead of restating them.
//! It does no I/O and knows nothing of the file layout.

use prost::Message;
use warren_proto::common::Wire;
use warren_proto::newscast as pb;
use warren_ring::{MemberId, Membership, Rumor};
use warren_wire::WireError;

/// Placeholder `from_id` for Member rumors built only to carry a membership record.
const BRIDGE_FROM: &str = "warren-persist";

/// Why a record could not be encoded (never expected: our own encodings always decode).
#[derive(Debug)]
pub(crate) struct EncodeError(pub(crate) String);

/// The bare `butterfly.newscast.Rumor` bytes of `rumor`.
pub(crate) fn rumor_to_bytes(rumor: &Rumor) -> Result<Vec<u8>, EncodeError> {
    let wire = warren_wire::encode_rumor(rumor, None);
    let wire = Wire::decode(wire.as_slice()).map_err(|e| EncodeError(e.to_string()))?;
    Ok(wire.payload.unwrap_or_default())
}

/// The bare `butterfly.swim.Membership` bytes of `membership`.
pub(crate) fn membership_to_bytes(membership: &Membership) -> Result<Vec<u8>, EncodeError> {
    let rumor = Rumor::Member {
        from: MemberId::new(BRIDGE_FROM),
        membership: membership.clone(),
    };
    let bytes = rumor_to_bytes(&rumor)?;
    let msg = pb::Rumor::decode(bytes.as_slice()).map_err(|e| EncodeError(e.to_string()))?;
    match msg.payload {
        Some(pb::rumor::Payload::Member(m)) => Ok(m.encode_to_vec()),
        _ => Err(EncodeError("member rumor without member payload".into())),
    }
}

/// Decodes bare `butterfly.newscast.Rumor` bytes with `warren-wire`'s checks.
pub(crate) fn rumor_from_bytes(bytes: &[u8]) -> Result<Rumor, WireError> {
    let wire = Wire {
        encrypted: None,
        nonce: None,
        payload: Some(bytes.to_vec()),
    };
    warren_wire::decode_rumor(&wire.encode_to_vec(), None)
}

/// Decodes bare `butterfly.swim.Membership` bytes with `warren-wire`'s checks.
pub(crate) fn membership_from_bytes(bytes: &[u8]) -> Result<Membership, WireError> {
    let member = warren_proto::swim::Membership::decode(bytes)?;
    let rumor = pb::Rumor {
        r#type: pb::rumor::Type::Member as i32,
        tag: Vec::new(),
        from_id: Some(BRIDGE_FROM.to_owned()),
        payload: Some(pb::rumor::Payload::Member(member)),
    };
    match rumor_from_bytes(&rumor.encode_to_vec())? {
        Rumor::Member { membership, .. } => Ok(membership),
        _ => Err(WireError::MissingField("rumor.member")),
    }
}
