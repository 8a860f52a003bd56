//! Fuzz target: any bytes as the stream a PULL socket receives (greeting, handshake, frames),
//! fed in two pieces split where the input says. Decoding must never panic, and after an error
//! the decoder must keep returning that error. It does not check libzmq compatibility; the
//! crate's tests do that against captured bytes and a live libzmq.

#![no_main]

use libfuzzer_sys::fuzz_target;
use warren_zmtp::codec::{Decoder, SocketType};

fuzz_target!(|data: &[u8]| {
    let split = data.first().map_or(0, |b| usize::from(*b)).min(data.len());
    let (a, b) = data.split_at(split);
    let mut d = Decoder::with_max_frame_size(SocketType::Pull, 64 * 1024);
    for part in [a, b] {
        d.feed(part);
        loop {
            match d.next_event() {
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) => {
                    assert_eq!(d.next_event().err(), Some(e));
                    return;
                }
            }
        }
    }
});
