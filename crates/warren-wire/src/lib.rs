//! `warren-wire`: Warren's gossip codec, between Habitat's protobuf wire format and the
//! `warren-ring` types, with Habitat-compatible ring encryption.
//!
//! - [`decode_swim`] / [`encode_swim`]: one UDP datagram (`Wire` around a `butterfly.swim.Swim`).
//! - [`decode_rumor`] / [`encode_rumor`]: one rumor frame (`Wire` around a
//!   `butterfly.newscast.Rumor`), without the ZeroMQ framing.
//! - [`RingKey`]: Habitat's `SYM-SEC-1` ring key files; with a key, payloads are sealed as libsodium
//!   `crypto_secretbox_easy` does (XSalsa20-Poly1305, MAC first, random 24-byte nonce).
//! - [`ExactSize`]: exact encoded lengths for the core's datagram budget.
//! - [`box_key`]: Habitat's box keys (`BOX-PUB-1` / `BOX-SEC-1`) and `BOX-1` signed boxes for
//!   gossiped config and files sent with `--user` (libsodium `crypto_box`); its `KeyCache` is the
//!   one place this crate reads key files from disk.
//!
//! Decoding validates everything Habitat requires and everything that makes Habitat panic
//! (type/payload mismatch, `Fake` rumors), returning a [`WireError`] instead; it never panics on
//! any input. Encoding always produces messages a Habitat peer accepts.
//!
//! This crate does not open sockets, speak ZMTP, read ring key files from disk, keep state, log or
//! count errors: callers do that with [`WireError::reason`] and
//! [`DecodedSwim::dropped_records`].

#![forbid(unsafe_code)]

pub mod box_key;
pub mod envelope;
pub mod error;
pub mod key;
pub mod rumor;
pub mod size;
pub mod swim;

pub use error::WireError;
pub use key::{KeyError, RingKey};
pub use rumor::{
    BUTTERFLY_CLIENT, decode_rumor, decode_rumor_record, encode_rumor, encode_rumor_record,
};
pub use size::ExactSize;
pub use swim::{
    DecodedSwim, decode_membership_record, decode_swim, decode_swim_counted,
    encode_membership_record, encode_swim,
};
