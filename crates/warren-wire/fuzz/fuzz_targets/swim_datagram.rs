//! Fuzz target: any bytes as a SWIM datagram, with and without a ring key.
//!
//! Decoding must never panic; whatever decodes must re-encode to something that decodes to the
//! same message (the sender address aside, which comes from the datagram's source). It does not
//! check Habitat compatibility; the crate's tests do that against captured bytes.

#![no_main]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use warren_wire::{RingKey, decode_swim_counted, encode_swim};

const SRC: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 9638);

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
        if let Ok(d) = decode_swim_counted(data, SRC, k) {
            let again = encode_swim(&d.swim, k);
            let back = decode_swim_counted(&again, SRC, k).expect("re-encoded datagram decodes");
            assert_eq!(back.dropped_records, 0);
            assert_eq!(back.swim.kind, d.swim.kind);
            assert_eq!(back.swim.membership, d.swim.membership);
            assert_eq!(back.swim.from.id, d.swim.from.id);
        }
    }
});
