//! `warren-proto`: the prost message types of Habitat's gossip wire format.
//!
//! The types are generated at build time from Warren's own `.proto` files in the workspace's
//! `proto/` directory (`common.proto`, `swim.proto`, `newscast.proto`), which restate Habitat's
//! packages, field numbers, labels and defaults (spec §1.2, §2, §5.1). Compilation uses `protox`,
//! so no system `protoc` is needed.
//!
//! This crate holds no logic: it does not validate required-on-decode fields, check that a
//! message's type agrees with its payload, map to `warren-ring` types, or encrypt. That is
//! `warren-wire`'s job.

#![forbid(unsafe_code)]

/// Package `butterfly.common`: the `Wire` envelope.
pub mod common {
    #![allow(missing_docs, unreachable_pub, clippy::all)]
    include!(concat!(env!("OUT_DIR"), "/butterfly.common.rs"));
}

/// Package `butterfly.swim`: SWIM messages and membership records.
pub mod swim {
    #![allow(missing_docs, unreachable_pub, clippy::all)]
    include!(concat!(env!("OUT_DIR"), "/butterfly.swim.rs"));
}

/// Package `butterfly.newscast`: rumors.
pub mod newscast {
    #![allow(missing_docs, unreachable_pub, clippy::all)]
    include!(concat!(env!("OUT_DIR"), "/butterfly.newscast.rs"));
}

pub use prost;
