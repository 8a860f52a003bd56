//! Fuzz target: any bytes as a rumor frame, with and without a ring key.
//!
//! Decoding must never panic; whatever decodes must re-encode to something that decodes to the
//! same rumor. It does not parse ZMTP framing.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use warren_wire::{RingKey, decode_rumor, encode_rumor};

fn key() -> &'static RingKey {
    static KEY: OnceLock<RingKey> = OnceLock::new();
    KEY.get_or_init(|| {
        RingKey::parse(
            "SYM-SEC-1\nfuzz-20260101000000\n\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        )
        .expect("valid fuzz key")
    })
}

fuzz_target!(|data: &[u8]| {
    for k in [None, Some(key())] {
        if let Ok(r) = decode_rumor(data, k) {
            let again = encode_rumor(&r, k);
            assert_eq!(decode_rumor(&again, k).expect("re-encoded rumor decodes"), r);
        }
    }
});
