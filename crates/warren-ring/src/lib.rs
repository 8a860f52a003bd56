//! `warren-ring`: the sans-IO core of Warren's gossip ring.
//!
//! It implements SWIM membership with Habitat's states, incarnations and acceptance rules,
//! Lifeguard's local health and suspicion timeouts, Habitat's rumor kinds with their merge
//! rules, a dissemination policy that never resends an update to a member known to hold it,
//! anti-entropy sync, and garbage collection of departed members and their rumors.
//!
//! It does **not** read clocks, open sockets, spawn threads, sleep, or draw unseeded randomness:
//! [`Ring`] takes `now` and a seed, and is driven in quinn-proto's shape (`handle_*` in, `poll_*`
//! out; see [`ring`] for the call order). It does not encode messages either: the shell's codec
//! maps [`Swim`] and [`Rumor`] to Habitat's protobuf wire format and may supply exact sizes through
//! [`WireSize`]. Elections run here too: Habitat's rumors and merge, with Warren's liveness and
//! safety fixes (see [`election`]).

#![forbid(unsafe_code)]

pub mod census;
pub mod config;
pub mod dissemination;
pub mod election;
mod elections;
pub mod member;
pub mod members;
pub mod message;
pub mod ring;
pub mod rumor;
pub mod size;
pub mod store;
pub mod suspicion;
pub mod time;

pub use census::{
    CensusElectionStatus, CensusGroup, CensusMember, CensusRing, PackageIdent, ServiceGroup,
};
pub use config::{Config, Profile};
pub use election::{
    AgreedResult, ElectionConfig, ElectionKind, ElectionRules, Electorate, MissingVoter, QuorumGap,
};
pub use member::{Health, Member, MemberId, Membership};
pub use members::{MemberList, MemberRecord};
pub use message::{Event, Swim, SwimKind, Transmit};
pub use ring::{Boot, Identity, LocalService, Ring, Stats};
pub use rumor::{
    COMMITTED_TAG, Committed, Departure, Election, ElectionStatus, Rumor, RumorKey, Service,
    ServiceConfig, ServiceFile, SysInfo, WITHDRAWN_TAG,
};
pub use size::{EstimatedSize, WireSize};
pub use store::{Outcome, RumorStore};
pub use time::Time;
