//! SWIM datagrams: `butterfly.swim.Swim` in a `Wire`, to and from [`warren_ring::Swim`].
//!
//! Decoding enforces what Habitat requires on decode (spec §2): `from` in every message, `target`
//! in PingReq, member ids and both ports in every record, ports within 0..=65535, and a `type`
//! that agrees with the payload. It never panics. The sender's empty `from.address` becomes the
//! UDP source IP; a piggybacked record whose address does not parse is dropped and counted.
//!
//! Encoding writes every Member field explicitly, as Habitat does, with the sender's address as
//! the empty string, except on an Ack that carries `forward_to`: there the `from` address is
//! written out, because a helper relaying an Ack must tell the requester where the target is
//! (Habitat's helper does the same). This module does not decide what to send or when.

use std::net::{IpAddr, SocketAddr};

use prost::Message;
use warren_proto::swim as pb;
use warren_ring::{Health, Member, MemberId, Membership, Swim, SwimKind};

use crate::envelope;
use crate::error::WireError;
use crate::key::RingKey;

/// A decoded SWIM datagram plus what was dropped from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodedSwim {
    /// The message.
    pub swim: Swim,
    /// Piggybacked membership records dropped because their address did not parse.
    pub dropped_records: usize,
}

/// Decodes one SWIM datagram received from `src`, opening it with `key` when one is configured.
pub fn decode_swim(
    bytes: &[u8],
    src: SocketAddr,
    key: Option<&RingKey>,
) -> Result<Swim, WireError> {
    decode_swim_counted(bytes, src, key).map(|d| d.swim)
}

/// As [`decode_swim`], also reporting how many piggybacked records were dropped.
pub fn decode_swim_counted(
    bytes: &[u8],
    src: SocketAddr,
    key: Option<&RingKey>,
) -> Result<DecodedSwim, WireError> {
    let payload = envelope::open(bytes, key)?;
    let msg = pb::Swim::decode(payload.as_slice())?;
    from_proto(msg, src.ip())
}

/// Encodes `msg` as one SWIM datagram, sealed with `key` when there is one.
pub fn encode_swim(msg: &Swim, key: Option<&RingKey>) -> Vec<u8> {
    envelope::seal(&to_proto(msg).encode_to_vec(), key)
}

// ----- decoding ------------------------------------------------------------------------------

fn from_proto(msg: pb::Swim, src_ip: IpAddr) -> Result<DecodedSwim, WireError> {
    let declared = msg.r#type;
    let ty = pb::swim::Type::try_from(declared).map_err(|_| WireError::UnknownEnum {
        field: "swim.type",
        value: declared,
    })?;
    let payload = msg.payload.ok_or(WireError::MissingField("swim.payload"))?;
    let (expected, name) = match &payload {
        pb::swim::Payload::Ping(_) => (pb::swim::Type::Ping, "ping"),
        pb::swim::Payload::Ack(_) => (pb::swim::Type::Ack, "ack"),
        pb::swim::Payload::Pingreq(_) => (pb::swim::Type::Pingreq, "pingreq"),
        pb::swim::Payload::Probeping(_) => (pb::swim::Type::Probeping, "probeping"),
    };
    if ty != expected {
        return Err(WireError::TypeMismatch {
            declared,
            payload: name,
        });
    }
    let (from, kind) = match payload {
        pb::swim::Payload::Ping(p) => {
            let from = p.from.ok_or(WireError::MissingField("ping.from"))?;
            let forward_to = p
                .forward_to
                .map(|m| member("ping.forward_to", m))
                .transpose()?;
            (from, SwimKind::Ping { forward_to })
        }
        pb::swim::Payload::Ack(a) => {
            let from = a.from.ok_or(WireError::MissingField("ack.from"))?;
            let forward_to = a
                .forward_to
                .map(|m| member("ack.forward_to", m))
                .transpose()?;
            (from, SwimKind::Ack { forward_to })
        }
        pb::swim::Payload::Pingreq(r) => {
            let from = r.from.ok_or(WireError::MissingField("pingreq.from"))?;
            let target = r.target.ok_or(WireError::MissingField("pingreq.target"))?;
            (
                from,
                SwimKind::PingReq {
                    target: member("pingreq.target", target)?,
                },
            )
        }
        pb::swim::Payload::Probeping(p) => (
            p.from.ok_or(WireError::MissingField("probeping.from"))?,
            SwimKind::ProbePing,
        ),
    };
    let from = sender(from, src_ip)?;
    let mut membership = Vec::with_capacity(msg.membership.len());
    let mut dropped_records = 0;
    for m in msg.membership {
        match membership_from_proto("swim.membership", m) {
            Ok(m) => membership.push(m),
            Err(WireError::BadAddress { .. }) => dropped_records += 1,
            Err(e) => return Err(e),
        }
    }
    Ok(DecodedSwim {
        swim: Swim {
            from,
            kind,
            membership,
        },
        dropped_records,
    })
}

/// The sender's record: an empty address means "the datagram's source".
fn sender(m: pb::Member, src_ip: IpAddr) -> Result<Member, WireError> {
    let empty = m.address.as_deref().is_none_or(str::is_empty);
    member_with("from", m, empty.then_some(src_ip))
}

/// A member record that must carry a real address.
pub(crate) fn member(field: &'static str, m: pb::Member) -> Result<Member, WireError> {
    member_with(field, m, None)
}

fn member_with(
    field: &'static str,
    m: pb::Member,
    address: Option<IpAddr>,
) -> Result<Member, WireError> {
    let id = m.id.ok_or(WireError::MissingField("member.id"))?;
    if id.is_empty() {
        return Err(WireError::EmptyId("member.id"));
    }
    let swim_port = port("member.swim_port", m.swim_port)?;
    let gossip_port = port("member.gossip_port", m.gossip_port)?;
    let address = match address {
        Some(ip) => ip,
        None => {
            let text = m.address.unwrap_or_default();
            text.parse().map_err(|_| WireError::BadAddress {
                field,
                address: text,
            })?
        }
    };
    Ok(Member {
        id: MemberId::new(id),
        incarnation: m.incarnation.unwrap_or(0),
        address,
        swim_port,
        gossip_port,
        persistent: m.persistent.unwrap_or(false),
        departed: m.departed.unwrap_or(false),
    })
}

fn port(field: &'static str, value: Option<i32>) -> Result<u16, WireError> {
    let value = value.ok_or(WireError::MissingField(field))?;
    u16::try_from(value).map_err(|_| WireError::BadPort { field, value })
}

/// Encodes a bare `butterfly.swim.Membership`, as Habitat's rumor file stores member records.
pub fn encode_membership_record(m: &Membership) -> Vec<u8> {
    membership_to_proto(m).encode_to_vec()
}

/// Decodes a bare `butterfly.swim.Membership` (a rumor file record), with the required-field
/// checks of a piggybacked record.
pub fn decode_membership_record(bytes: &[u8]) -> Result<Membership, WireError> {
    membership_from_proto("membership.member", pb::Membership::decode(bytes)?)
}

/// A Membership record (SWIM piggyback or Member rumor payload).
pub(crate) fn membership_from_proto(
    field: &'static str,
    m: pb::Membership,
) -> Result<Membership, WireError> {
    let health = match m.health {
        None => Health::Alive,
        Some(h) => match pb::membership::Health::try_from(h) {
            Ok(pb::membership::Health::Alive) => Health::Alive,
            Ok(pb::membership::Health::Suspect) => Health::Suspect,
            Ok(pb::membership::Health::Confirmed) => Health::Confirmed,
            Ok(pb::membership::Health::Departed) => Health::Departed,
            Err(_) => {
                return Err(WireError::UnknownEnum {
                    field: "membership.health",
                    value: h,
                });
            }
        },
    };
    let member = member(
        field,
        m.member
            .ok_or(WireError::MissingField("membership.member"))?,
    )?;
    Ok(Membership { member, health })
}

// ----- encoding ------------------------------------------------------------------------------

pub(crate) fn to_proto(msg: &Swim) -> pb::Swim {
    let (ty, payload) = match &msg.kind {
        SwimKind::Ping { forward_to } => (
            pb::swim::Type::Ping,
            pb::swim::Payload::Ping(pb::Ping {
                from: Some(sender_to_proto(&msg.from, false, false)),
                forward_to: forward_to.as_ref().map(member_to_proto),
            }),
        ),
        SwimKind::Ack { forward_to } => (
            pb::swim::Type::Ack,
            pb::swim::Payload::Ack(pb::Ack {
                from: Some(sender_to_proto(&msg.from, forward_to.is_some(), false)),
                forward_to: forward_to.as_ref().map(member_to_proto),
            }),
        ),
        SwimKind::PingReq { target } => (
            pb::swim::Type::Pingreq,
            pb::swim::Payload::Pingreq(pb::PingReq {
                from: Some(sender_to_proto(&msg.from, false, false)),
                target: Some(member_to_proto(target)),
            }),
        ),
        SwimKind::ProbePing => (
            pb::swim::Type::Probeping,
            pb::swim::Payload::Probeping(pb::ProbePing {
                from: Some(sender_to_proto(&msg.from, false, true)),
            }),
        ),
    };
    pb::Swim {
        r#type: ty as i32,
        membership: msg.membership.iter().map(membership_to_proto).collect(),
        payload: Some(payload),
    }
}

fn sender_to_proto(m: &Member, with_address: bool, probe_ping: bool) -> pb::Member {
    let address = if with_address {
        m.address.to_string()
    } else {
        String::new()
    };
    member_fields(m, address, probe_ping)
}

pub(crate) fn member_to_proto(m: &Member) -> pb::Member {
    member_fields(m, m.address.to_string(), false)
}

fn member_fields(m: &Member, address: String, probe_ping: bool) -> pb::Member {
    pb::Member {
        id: Some(m.id.as_str().to_owned()),
        incarnation: Some(m.incarnation),
        address: Some(address),
        swim_port: Some(i32::from(m.swim_port)),
        gossip_port: Some(i32::from(m.gossip_port)),
        persistent: Some(m.persistent),
        departed: Some(m.departed),
        probe_ping: Some(probe_ping),
    }
}

pub(crate) fn membership_to_proto(m: &Membership) -> pb::Membership {
    let health = match m.health {
        Health::Alive => pb::membership::Health::Alive,
        Health::Suspect => pb::membership::Health::Suspect,
        Health::Confirmed => pb::membership::Health::Confirmed,
        Health::Departed => pb::membership::Health::Departed,
    };
    pb::Membership {
        member: Some(member_to_proto(&m.member)),
        health: Some(health as i32),
    }
}
