//! Member identity and health: the values SWIM talks about.
//!
//! These are plain data with Habitat's meaning (spec §2–3). The rules for accepting them live in
//! `members.rs`; their wire encoding lives in the shell's codec, not here.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use rand::RngCore;

/// A hash map keyed by member id (a lookup costs the same whatever the ring's size). The ring
/// seeds its hasher from its own seed: deterministic in the simulator, not guessable by peers.
pub type IdMap<V> = HashMap<MemberId, V, foldhash::fast::FixedState>;

/// A member id: Habitat uses a UUIDv4 in simple form (32 lowercase hex digits).
///
/// Any non-empty string is accepted from peers; ids are compared as strings (elections break ties
/// on the lexicographically greater id). Cloning is cheap; two clones of one id compare equal
/// without reading the text (most comparisons in a ring's tables are of clones).
#[derive(Clone, Eq)]
pub struct MemberId(Arc<str>);

// By the text, as the derived one: equal ids (clones or not) hash alike.
impl std::hash::Hash for MemberId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl PartialEq for MemberId {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0 == other.0
    }
}

impl Ord for MemberId {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        if Arc::ptr_eq(&self.0, &other.0) {
            return std::cmp::Ordering::Equal;
        }
        self.0.cmp(&other.0)
    }
}

impl PartialOrd for MemberId {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl MemberId {
    /// Wraps a string as a member id.
    pub fn new(id: impl Into<Arc<str>>) -> Self {
        MemberId(id.into())
    }

    /// A fresh random id in Habitat's format (32 hex digits, UUIDv4 bits set), from `rng`.
    pub fn random(rng: &mut impl RngCore) -> Self {
        let mut bytes = [0u8; 16];
        rng.fill_bytes(&mut bytes);
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        let mut s = String::with_capacity(32);
        for b in bytes {
            s.push(hex_digit(b >> 4));
            s.push(hex_digit(b & 0x0f));
        }
        MemberId(s.into())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn hex_digit(n: u8) -> char {
    char::from_digit(u32::from(n), 16).unwrap_or('0')
}

impl fmt::Debug for MemberId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for MemberId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for MemberId {
    fn from(s: &str) -> Self {
        MemberId::new(s)
    }
}

/// A member's health, ordered as Habitat orders it: Alive < Suspect < Confirmed < Departed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Health {
    /// Answers probes.
    Alive,
    /// Failed a probe; will be Confirmed unless it refutes in time.
    Suspect,
    /// Declared failed.
    Confirmed,
    /// Left the ring (gracefully, or departed by an operator) or Confirmed for too long.
    Departed,
}

impl Health {
    /// Habitat's JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Alive => "Alive",
            Health::Suspect => "Suspect",
            Health::Confirmed => "Confirmed",
            Health::Departed => "Departed",
        }
    }
}

/// A member record as SWIM carries it (Habitat's `butterfly.swim.Member`).
///
/// `address` is an IP; the shell's codec turns Habitat's empty "sender" address into the UDP source
/// address before the core sees it. The `probe_ping` wire flag is not here: a ProbePing is its own
/// [`crate::SwimKind`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Member {
    /// Stable identity.
    pub id: MemberId,
    /// Raised only by the member itself, to refute suspicion or announce a change.
    pub incarnation: u64,
    /// Where the member can be reached.
    pub address: IpAddr,
    /// UDP port for SWIM.
    pub swim_port: u16,
    /// TCP port for rumors.
    pub gossip_port: u16,
    /// Started as a permanent peer: always pinged, even when Confirmed.
    pub persistent: bool,
    /// Set on the sender's own record when it leaves gracefully.
    pub departed: bool,
}

impl Member {
    /// The SWIM (UDP) address.
    pub fn swim_addr(&self) -> SocketAddr {
        SocketAddr::new(self.address, self.swim_port)
    }

    /// The rumor (TCP) address.
    pub fn gossip_addr(&self) -> SocketAddr {
        SocketAddr::new(self.address, self.gossip_port)
    }
}

/// A member together with the health the sender holds for it (Habitat's `Membership`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Membership {
    /// The member.
    pub member: Member,
    /// Its health, as the sender sees it.
    pub health: Health,
}
