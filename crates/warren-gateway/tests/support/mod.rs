//! Helpers shared by the gateway's integration tests: a raw HTTP/1.1 client, a small
//! JSON-schema checker, Habitat's route shapes, and a three-member leader-topology fixture.
//! Each test binary uses a different subset, hence `dead_code` is allowed here.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

pub mod fixtures;
pub mod habitat;
pub mod http;
pub mod schema;
