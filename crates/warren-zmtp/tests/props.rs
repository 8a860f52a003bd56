//! Property tests: arbitrary input never panics the decoder, and encode → decode roundtrips.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use warren_zmtp::codec::{self, Decoder, Event, SocketType};

/// Feeds `bytes` split at `splits` (taken modulo the length) and drains events after every
/// piece, stopping at the first error. Returns the events and the error, if any.
fn feed_split(
    decoder: &mut Decoder,
    bytes: &[u8],
    splits: &[usize],
) -> (Vec<Event>, Option<codec::DecodeError>) {
    let mut cuts: Vec<usize> = splits
        .iter()
        .map(|s| if bytes.is_empty() { 0 } else { s % bytes.len() })
        .collect();
    cuts.push(0);
    cuts.push(bytes.len());
    cuts.sort_unstable();
    cuts.dedup();
    let mut events = Vec::new();
    for w in cuts.windows(2) {
        decoder.feed(&bytes[w[0]..w[1]]);
        loop {
            match decoder.next_event() {
                Ok(Some(e)) => events.push(e),
                Ok(None) => break,
                Err(e) => return (events, Some(e)),
            }
        }
    }
    (events, None)
}

fn handshake_prefix(peer: SocketType) -> Vec<u8> {
    let mut b = Vec::new();
    codec::encode_greeting(&mut b);
    codec::encode_ready(&mut b, peer, None).unwrap();
    b
}

fn socket_type() -> impl Strategy<Value = SocketType> {
    prop_oneof![Just(SocketType::Push), Just(SocketType::Pull)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(
        local in socket_type(),
        bytes in proptest::collection::vec(any::<u8>(), 0..2048),
        splits in proptest::collection::vec(any::<usize>(), 0..16),
        max in 0usize..4096,
    ) {
        let mut d = Decoder::with_max_frame_size(local, max);
        let (_, err) = feed_split(&mut d, &bytes, &splits);
        if let Some(err) = err {
            // Errors are sticky.
            prop_assert_eq!(d.next_event(), Err(err));
        }
    }

    #[test]
    fn arbitrary_frames_after_handshake_never_panic(
        local in socket_type(),
        tail in proptest::collection::vec(any::<u8>(), 0..2048),
        splits in proptest::collection::vec(any::<usize>(), 0..16),
        max in 64usize..4096,
    ) {
        let mut bytes = handshake_prefix(local.compatible_peer());
        bytes.extend_from_slice(&tail);
        let mut d = Decoder::with_max_frame_size(local, max);
        let (events, _) = feed_split(&mut d, &bytes, &splits);
        prop_assert!(events.len() >= 2);
    }

    #[test]
    fn messages_roundtrip(
        local in socket_type(),
        messages in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..700), 0..20),
        splits in proptest::collection::vec(any::<usize>(), 0..24),
        identity in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..=255)),
    ) {
        let peer = local.compatible_peer();
        let mut bytes = Vec::new();
        codec::encode_greeting(&mut bytes);
        codec::encode_ready(&mut bytes, peer, identity.as_deref()).unwrap();
        for m in &messages {
            codec::encode_message(&mut bytes, m);
        }
        let mut d = Decoder::new(local);
        let (events, err) = feed_split(&mut d, &bytes, &splits);
        prop_assert_eq!(err, None);
        prop_assert_eq!(events.len(), messages.len() + 2);
        let is_greeting = matches!(events[0], Event::Greeting(_));
        prop_assert!(is_greeting);
        match &events[1] {
            Event::Ready { socket_type, properties } => {
                prop_assert_eq!(*socket_type, peer);
                prop_assert_eq!(codec::find_property(properties, "Identity"), identity.as_deref());
            }
            other => prop_assert!(false, "expected READY, got {:?}", other),
        }
        for (event, message) in events[2..].iter().zip(&messages) {
            prop_assert_eq!(event, &Event::Message(message.clone()));
        }
        prop_assert_eq!(d.buffered(), 0);
    }

    #[test]
    fn oversized_messages_are_rejected(
        len in 1usize..3000,
        max in 0usize..3000,
    ) {
        let mut bytes = handshake_prefix(SocketType::Push);
        codec::encode_message(&mut bytes, &vec![0xAB; len]);
        let mut d = Decoder::with_max_frame_size(SocketType::Pull, max.max(64));
        let (events, err) = feed_split(&mut d, &bytes, &[]);
        if len > max.max(64) {
            prop_assert_eq!(events.len(), 2);
            let too_large = matches!(err, Some(codec::DecodeError::FrameTooLarge { .. }));
            prop_assert!(too_large);
        } else {
            prop_assert_eq!(events.len(), 3);
            prop_assert_eq!(err, None);
        }
    }
}
