//! How big a message is on the wire, so the core can keep every datagram under the limit.
//!
//! The core does not encode; it asks a [`WireSize`]. The shell's codec supplies the exact one;
//! [`EstimatedSize`] is a conservative stand-in that mirrors Habitat's protobuf layout field by
//! field and always assumes ring encryption, so an estimate is never below the real size.

use std::net::IpAddr;

use crate::member::{Member, Membership};
use crate::message::{Swim, SwimKind};
use crate::rumor::Rumor;

/// Encoded sizes, as the shell's codec would produce them.
pub trait WireSize: Send + Sync {
    /// Encoded size of a whole SWIM datagram (envelope and encryption included).
    fn swim_len(&self, msg: &Swim) -> usize;
    /// Bytes one piggybacked membership record adds to a SWIM datagram.
    fn membership_len(&self, m: &Membership) -> usize;
    /// Encoded size of one rumor message (envelope and encryption included).
    fn rumor_len(&self, rumor: &Rumor) -> usize;
}

/// A conservative estimate of Habitat's protobuf encoding (proto2, prost), assuming encryption.
#[derive(Clone, Copy, Debug, Default)]
pub struct EstimatedSize;

/// Wire envelope overhead: tags and lengths of `encrypted`, a 24-byte nonce, the payload field,
/// and the 16-byte MAC.
const ENVELOPE: usize = 2 + (2 + 24) + 3 + 16;

fn varint(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

fn bytes_field(len: usize) -> usize {
    1 + varint(len as u64) + len
}

fn ip_text_len(ip: &IpAddr) -> usize {
    match ip {
        IpAddr::V4(_) => 15,
        IpAddr::V6(_) => 39,
    }
}

fn member_len(m: &Member) -> usize {
    bytes_field(m.id.as_str().len())
        + 1
        + varint(m.incarnation)
        + bytes_field(ip_text_len(&m.address))
        + (1 + 3)
        + (1 + 3)
        + 2
        + 2
        + 2
}

fn membership_body(m: &Membership) -> usize {
    bytes_field(member_len(&m.member)) + 2
}

impl WireSize for EstimatedSize {
    fn swim_len(&self, msg: &Swim) -> usize {
        let from = bytes_field(member_len(&msg.from));
        let payload = match &msg.kind {
            SwimKind::Ping { forward_to } | SwimKind::Ack { forward_to } => {
                from + forward_to
                    .as_ref()
                    .map_or(0, |f| bytes_field(member_len(f)))
            }
            SwimKind::PingReq { target } => from + bytes_field(member_len(target)),
            SwimKind::ProbePing => from,
        };
        let swim = 2
            + bytes_field(payload)
            + msg
                .membership
                .iter()
                .map(|m| self.membership_len(m))
                .sum::<usize>();
        ENVELOPE + varint(swim as u64) + swim
    }

    fn membership_len(&self, m: &Membership) -> usize {
        bytes_field(membership_body(m))
    }

    fn rumor_len(&self, rumor: &Rumor) -> usize {
        let payload = match rumor {
            Rumor::Member { membership, .. } => membership_body(membership),
            Rumor::Service(s) => {
                let sys = &s.sys;
                let sys_len = bytes_field(sys.ip.len())
                    + bytes_field(sys.hostname.len())
                    + bytes_field(sys.gossip_ip.len())
                    + bytes_field(sys.http_gateway_ip.len())
                    + bytes_field(sys.ctl_gateway_ip.len())
                    + 3 * (1 + 5);
                bytes_field(s.member_id.as_str().len())
                    + bytes_field(s.service_group.len())
                    + 1
                    + varint(s.incarnation)
                    + 2
                    + bytes_field(s.pkg.len())
                    + 1
                    + varint(s.pkg_incarnation)
                    + bytes_field(s.cfg.len())
                    + bytes_field(sys_len)
            }
            Rumor::ServiceConfig(c) => {
                bytes_field(c.service_group.len())
                    + 1
                    + varint(c.incarnation)
                    + 2
                    + bytes_field(c.config.len())
            }
            Rumor::ServiceFile(f) => {
                bytes_field(f.service_group.len())
                    + 1
                    + varint(f.incarnation)
                    + 2
                    + bytes_field(f.filename.len())
                    + bytes_field(f.body.len())
            }
            Rumor::Election(e) | Rumor::ElectionUpdate(e) => {
                bytes_field(e.member_id.as_str().len())
                    + bytes_field(e.service_group.len())
                    + 1
                    + varint(e.term)
                    + 1
                    + varint(e.suitability)
                    + 2
                    + e.votes
                        .iter()
                        .map(|v| bytes_field(v.as_str().len()))
                        .sum::<usize>()
            }
            Rumor::Departure(d) => bytes_field(d.member_id.as_str().len()),
        };
        // Warren's envelope tags: a withdrawn Service rumor, an election's committed electorate.
        let tag = match rumor {
            Rumor::Service(s) if s.withdrawn => bytes_field(crate::rumor::WITHDRAWN_TAG.len()),
            Rumor::Election(e) | Rumor::ElectionUpdate(e) => e.committed.as_ref().map_or(0, |c| {
                let ids: usize = c.voters.iter().map(|v| v.as_str().len() + 1).sum();
                bytes_field(crate::rumor::COMMITTED_TAG.len() + 20 + 1 + ids)
            }),
            _ => 0,
        };
        // type, from_id (at most a member id or "butterflyclient"), payload
        let body = 2 + bytes_field(32) + bytes_field(payload) + tag;
        ENVELOPE + varint(body as u64) + body
    }
}

#[cfg(test)]
mod tests {
    use super::varint;

    #[test]
    fn varint_lengths() {
        assert_eq!(varint(0), 1);
        assert_eq!(varint(127), 1);
        assert_eq!(varint(128), 2);
        assert_eq!(varint(u64::MAX), 10);
    }
}
