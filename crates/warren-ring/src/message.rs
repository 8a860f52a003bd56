//! What goes in and out of the core: SWIM messages, transmits and events.
//!
//! These are Warren's own Rust types; converting them to and from Habitat's protobuf wire format
//! is the shell codec's job.

use std::net::SocketAddr;

use crate::member::{Health, Member, MemberId, Membership};
use crate::rumor::{Rumor, RumorKey};

/// The kind of a SWIM message, with its kind-specific fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SwimKind {
    /// "Are you there?" `forward_to` is set when a helper pings on behalf of a requester.
    Ping {
        /// The requester to relay the Ack to.
        forward_to: Option<Member>,
    },
    /// "I am here." `forward_to` is echoed from the Ping.
    Ack {
        /// Where a helper should relay this Ack.
        forward_to: Option<Member>,
    },
    /// "Please ping `target` for me."
    PingReq {
        /// The member to probe.
        target: Member,
    },
    /// "I heard you were Confirmed; are you there?" (carries no membership).
    ProbePing,
}

/// One SWIM message (Habitat's `butterfly.swim.Swim`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Swim {
    /// The sender's own record.
    pub from: Member,
    /// What kind of message this is.
    pub kind: SwimKind,
    /// Piggybacked membership records.
    pub membership: Vec<Membership>,
}

/// Something for the shell to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transmit {
    /// One UDP datagram.
    Swim {
        /// Destination (SWIM port).
        to: SocketAddr,
        /// The message.
        msg: Swim,
    },
    /// Rumors for one member's rumor channel, each sent as its own message.
    Rumors {
        /// Destination (gossip port).
        to: SocketAddr,
        /// Who the destination is.
        to_id: MemberId,
        /// The rumors, in order.
        rumors: Vec<Rumor>,
    },
}

/// Something that happened, for the shell (logs, persistence, the manager).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A member's record or health changed (`previous` is `None` for a new member).
    MemberChanged {
        /// The member's latest record.
        member: Member,
        /// Its new health.
        health: Health,
        /// Its health before, if it was known.
        previous: Option<Health>,
    },
    /// A member was forgotten by garbage collection.
    MemberRemoved(MemberId),
    /// A stored rumor was added or replaced.
    RumorChanged(RumorKey),
    /// A stored rumor was dropped by garbage collection.
    RumorRemoved(RumorKey),
    /// This member's incarnation changed; persist it.
    IncarnationChanged(u64),
    /// A Departure rumor named this member: Habitat stops and exits with code 86.
    DepartedByRing,
    /// Warren: one of this member's groups lost quorum (or never had it within 10 s of joining),
    /// or regained it. [`crate::Ring::quorum_gap`] says which members it waits for.
    QuorumChanged {
        /// The group.
        service_group: String,
        /// Which election.
        kind: crate::ElectionKind,
        /// Whether it has quorum now.
        quorum: bool,
    },
}
