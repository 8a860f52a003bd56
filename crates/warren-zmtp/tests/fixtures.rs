//! Decodes the ZMTP sessions captured from real Habitat 2.1.78 peers (libzmq 4.x) and checks
//! that our encoder reproduces them byte for byte.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use warren_zmtp::codec::{self, Decoder, Event, Greeting, SocketType, find_property};

const WIRE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/habitat/wire");

fn fixture(rel: &str) -> Vec<u8> {
    let path = Path::new(WIRE).join(rel);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "missing ZMTP fixture {} ({e}); the Habitat wire captures must be checked out at \
             shared/habitat/wire beside the main repository",
            path.display()
        )
    })
}

/// Feeds `bytes` in chunks of `chunk` bytes and collects every event; fails on any error.
fn decode(bytes: &[u8], local: SocketType, chunk: usize) -> Vec<Event> {
    let mut decoder = Decoder::new(local);
    let mut events = Vec::new();
    for piece in bytes.chunks(chunk) {
        decoder.feed(piece);
        while let Some(event) = decoder.next_event().unwrap() {
            events.push(event);
        }
    }
    assert_eq!(decoder.buffered(), 0, "trailing partial frame");
    events
}

const CHUNKS: [usize; 5] = [1, 3, 64, 1000, usize::MAX];

/// Checks greeting + READY and returns the message bodies.
fn session(rel: &str, local: SocketType, chunk: usize) -> Vec<Vec<u8>> {
    let bytes = fixture(rel);
    let events = decode(&bytes, local, chunk);
    assert!(events.len() >= 2, "{rel}: {events:?}");
    assert_eq!(
        events[0],
        Event::Greeting(Greeting {
            major: 3,
            minor: 1,
            as_server: false
        }),
        "{rel}"
    );
    let Event::Ready {
        socket_type,
        properties,
    } = &events[1]
    else {
        panic!("{rel}: second event is not READY: {:?}", events[1]);
    };
    assert_eq!(*socket_type, local.compatible_peer(), "{rel}");
    assert_eq!(
        find_property(properties, "Socket-Type"),
        Some(local.compatible_peer().name().as_bytes()),
        "{rel}"
    );
    assert_eq!(
        properties.len(),
        1,
        "{rel}: libzmq PUSH/PULL send only Socket-Type"
    );
    events[2..]
        .iter()
        .map(|e| match e {
            Event::Message(m) => m.clone(),
            other => panic!("{rel}: unexpected {other:?}"),
        })
        .collect()
}

/// Our greeting + READY + messages, which must equal what libzmq sent.
fn reencode(peer: SocketType, messages: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    codec::encode_greeting(&mut out);
    codec::encode_ready(&mut out, peer, None).unwrap();
    for m in messages {
        codec::encode_message(&mut out, m);
    }
    out
}

#[test]
fn every_tcp_capture_is_covered() {
    let mut names: Vec<String> = std::fs::read_dir(Path::new(WIRE).join("tcp"))
        .unwrap_or_else(|e| panic!("missing fixture directory {WIRE}/tcp: {e}"))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".bin"))
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "pull-to-push-greeting-ready.bin",
            "push-to-pull-3-member-rumors.bin",
            "push-to-pull-serviceconfig-long-frame.bin",
        ],
        "a capture was added or renamed: give it a test"
    );
}

#[test]
fn pull_side_sends_greeting_and_ready_only() {
    for chunk in CHUNKS {
        // We are the PUSH side reading what the PULL listener sent.
        let messages = session(
            "tcp/pull-to-push-greeting-ready.bin",
            SocketType::Push,
            chunk,
        );
        assert!(messages.is_empty());
    }
    assert_eq!(
        reencode(SocketType::Pull, &[]),
        fixture("tcp/pull-to-push-greeting-ready.bin")
    );
}

#[test]
fn three_member_rumors_in_short_frames() {
    let rel = "tcp/push-to-pull-3-member-rumors.bin";
    for chunk in CHUNKS {
        let messages = session(rel, SocketType::Pull, chunk);
        let lengths: Vec<usize> = messages.iter().map(Vec::len).collect();
        assert_eq!(lengths, [105, 105, 105]);
        for m in &messages {
            // Unencrypted Wire: only field 3 (payload, length-delimited) is set.
            assert_eq!(m[0], 0x1a, "Wire.payload tag");
        }
    }
    let messages = session(rel, SocketType::Pull, usize::MAX);
    assert_eq!(reencode(SocketType::Push, &messages), fixture(rel));
}

#[test]
fn service_config_rumor_in_a_long_frame() {
    let rel = "tcp/push-to-pull-serviceconfig-long-frame.bin";
    let bytes = fixture(rel);
    // Right after greeting (64) and READY (28): a long message frame.
    assert_eq!(bytes[64 + 28], codec::FLAG_LONG);
    for chunk in CHUNKS {
        let messages = session(rel, SocketType::Pull, chunk);
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0].len(), 372);
        assert!(messages[0].len() > codec::MAX_SHORT_FRAME);
        assert_eq!(messages[0][0], 0x1a, "Wire.payload tag");
    }
    let messages = session(rel, SocketType::Pull, usize::MAX);
    assert_eq!(reencode(SocketType::Push, &messages), bytes);
}

#[test]
fn ring_keyed_session_carries_encrypted_wires() {
    let rel = "encrypted/tcp-push-to-pull.bin";
    for chunk in CHUNKS {
        let messages = session(rel, SocketType::Pull, chunk);
        let lengths: Vec<usize> = messages.iter().map(Vec::len).collect();
        assert_eq!(lengths, [149, 149]);
        for m in &messages {
            // Wire.encrypted = true, then Wire.nonce with 24 bytes.
            assert_eq!(&m[..4], &[0x08, 0x01, 0x12, 0x18]);
        }
    }
    let messages = session(rel, SocketType::Pull, usize::MAX);
    assert_eq!(reencode(SocketType::Push, &messages), fixture(rel));
}

#[test]
fn captures_rejected_by_the_wrong_side() {
    // A PUSH capture read by a PUSH decoder: the peer type check must fire.
    for rel in [
        "tcp/push-to-pull-3-member-rumors.bin",
        "encrypted/tcp-push-to-pull.bin",
    ] {
        let mut d = Decoder::new(SocketType::Push);
        d.feed(&fixture(rel));
        assert!(matches!(d.next_event(), Ok(Some(Event::Greeting(_)))));
        assert!(matches!(
            d.next_event(),
            Err(codec::DecodeError::IncompatibleSocketType { .. })
        ));
    }
    // A small frame limit rejects the long ServiceConfig frame.
    let mut d = Decoder::with_max_frame_size(SocketType::Pull, 255);
    d.feed(&fixture("tcp/push-to-pull-serviceconfig-long-frame.bin"));
    let mut result = Ok(None);
    for _ in 0..3 {
        result = d.next_event();
    }
    assert_eq!(
        result,
        Err(codec::DecodeError::FrameTooLarge {
            size: 372,
            max: 255
        })
    );
}
