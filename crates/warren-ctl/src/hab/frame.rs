//! Habitat's control frame (spec §11.2): a 4-byte header, an optional 4-byte transaction
//! segment, an ASCII message id and a protobuf body, all integers big-endian.
//!
//! Pure functions over bytes: [`Frame::encode`] and [`decode`]. [`frame_len`] tells a reader how
//! many bytes a frame takes once its header is in, so the session reads exactly one frame and
//! hands it to [`decode`]; both paths share the same checks. Nothing here does I/O or knows
//! what a message means.
//!
//! What it checks: the message id is 1–63 printable ASCII bytes (the header cannot say more);
//! the body fits the header's 20 bits; a transaction id fits 30 bits. The reserved flag bits are
//! ignored on input and written as zero, as the spec leaves them without meaning.

use std::fmt;

/// Bytes in the header and in the transaction segment.
pub const HEADER_LEN: usize = 4;
/// Bytes in the transaction segment.
pub const TXN_LEN: usize = 4;
/// The longest message id (6 bits).
pub const MAX_MESSAGE_ID_LEN: usize = (1 << 6) - 1;
/// The longest body (20 bits): 1 048 575 bytes.
pub const MAX_BODY_LEN: usize = (1 << 20) - 1;
/// The largest transaction id (30 bits).
pub const MAX_TXN_ID: u32 = (1 << 30) - 1;
/// The longest frame: header, transaction, the longest id and body.
pub const MAX_FRAME_LEN: usize = HEADER_LEN + TXN_LEN + MAX_MESSAGE_ID_LEN + MAX_BODY_LEN;

const HAS_TXN: u32 = 1 << 31;
const ID_LEN_SHIFT: u32 = 20;
const ID_LEN_MASK: u32 = 0x3f;
const BODY_LEN_MASK: u32 = (1 << 20) - 1;
const IS_RESPONSE: u32 = 1 << 31;
const IS_COMPLETE: u32 = 1 << 30;

/// The transaction segment: which request a reply answers, and whether it is the last reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Txn {
    /// At most [`MAX_TXN_ID`].
    pub id: u32,
    /// Set on every reply.
    pub is_response: bool,
    /// Set on the last message of a reply stream.
    pub is_complete: bool,
}

impl Txn {
    /// A request's transaction.
    pub fn request(id: u32) -> Self {
        Txn {
            id,
            is_response: false,
            is_complete: false,
        }
    }

    /// A reply to transaction `id`; `complete` on the last one.
    pub fn reply(id: u32, complete: bool) -> Self {
        Txn {
            id,
            is_response: true,
            is_complete: complete,
        }
    }
}

/// One frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// Present on transactional messages (every request and reply of a session).
    pub txn: Option<Txn>,
    /// The message name, e.g. `SvcLoad`.
    pub message_id: String,
    /// The protobuf encoding of that message.
    pub body: Vec<u8>,
}

/// Why bytes are not a frame, or a frame cannot be written. No state changes on either side.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The message id length is 0.
    #[error("the frame has an empty message id")]
    EmptyMessageId,
    /// The message id is longer than [`MAX_MESSAGE_ID_LEN`] (encoding only).
    #[error("message id of {0} bytes is longer than {MAX_MESSAGE_ID_LEN}")]
    MessageIdTooLong(usize),
    /// The message id holds a byte that is not printable ASCII.
    #[error("the message id is not printable ASCII")]
    MessageIdNotAscii,
    /// The body is longer than [`MAX_BODY_LEN`] (encoding only).
    #[error("body of {0} bytes is longer than {MAX_BODY_LEN}")]
    BodyTooLong(usize),
    /// The transaction id does not fit 30 bits (encoding only).
    #[error("transaction id {0} is larger than {MAX_TXN_ID}")]
    TxnIdTooLarge(u32),
    /// More bytes follow the frame the header describes.
    #[error("{0} bytes follow the frame")]
    TrailingBytes(usize),
}

/// What a header says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// A transaction segment follows.
    pub has_txn: bool,
    /// Bytes of message id.
    pub message_id_len: usize,
    /// Bytes of body.
    pub body_len: usize,
}

impl Header {
    /// Reads the 4 header bytes. Every value is a header; the checks come in [`decode`].
    pub fn parse(bytes: [u8; HEADER_LEN]) -> Self {
        let word = u32::from_be_bytes(bytes);
        Header {
            has_txn: word & HAS_TXN != 0,
            message_id_len: ((word >> ID_LEN_SHIFT) & ID_LEN_MASK) as usize,
            body_len: (word & BODY_LEN_MASK) as usize,
        }
    }

    /// The whole frame's length, header included (at most [`MAX_FRAME_LEN`]).
    pub fn frame_len(&self) -> usize {
        HEADER_LEN + if self.has_txn { TXN_LEN } else { 0 } + self.message_id_len + self.body_len
    }
}

/// The length of the frame that starts with `header`.
pub fn frame_len(header: [u8; HEADER_LEN]) -> usize {
    Header::parse(header).frame_len()
}

fn check_message_id(id: &[u8]) -> Result<(), FrameError> {
    if id.is_empty() {
        return Err(FrameError::EmptyMessageId);
    }
    if !id.iter().all(u8::is_ascii_graphic) {
        return Err(FrameError::MessageIdNotAscii);
    }
    Ok(())
}

impl Frame {
    /// A frame.
    pub fn new(txn: Option<Txn>, message_id: impl Into<String>, body: Vec<u8>) -> Self {
        Frame {
            txn,
            message_id: message_id.into(),
            body,
        }
    }

    /// The frame's bytes, or why it cannot be written.
    pub fn encode(&self) -> Result<Vec<u8>, FrameError> {
        let id = self.message_id.as_bytes();
        check_message_id(id)?;
        if id.len() > MAX_MESSAGE_ID_LEN {
            return Err(FrameError::MessageIdTooLong(id.len()));
        }
        if self.body.len() > MAX_BODY_LEN {
            return Err(FrameError::BodyTooLong(self.body.len()));
        }
        let mut header = ((id.len() as u32) << ID_LEN_SHIFT) | self.body.len() as u32;
        let mut out = Vec::with_capacity(HEADER_LEN + TXN_LEN + id.len() + self.body.len());
        if let Some(txn) = self.txn {
            if txn.id > MAX_TXN_ID {
                return Err(FrameError::TxnIdTooLarge(txn.id));
            }
            header |= HAS_TXN;
            out.extend_from_slice(&header.to_be_bytes());
            let mut word = txn.id;
            if txn.is_response {
                word |= IS_RESPONSE;
            }
            if txn.is_complete {
                word |= IS_COMPLETE;
            }
            out.extend_from_slice(&word.to_be_bytes());
        } else {
            out.extend_from_slice(&header.to_be_bytes());
        }
        out.extend_from_slice(id);
        out.extend_from_slice(&self.body);
        Ok(out)
    }
}

/// Decodes the frame at the start of `buf`: `Ok(None)` if `buf` holds only part of it, else the
/// frame and the bytes it took. Never panics, whatever `buf` holds.
pub fn decode_prefix(buf: &[u8]) -> Result<Option<(Frame, usize)>, FrameError> {
    let Some((head, rest)) = buf.split_first_chunk::<HEADER_LEN>() else {
        return Ok(None);
    };
    let header = Header::parse(*head);
    let need = header.frame_len();
    if buf.len() < need {
        return Ok(None);
    }
    let (txn, rest) = if header.has_txn {
        let Some((word, rest)) = rest.split_first_chunk::<TXN_LEN>() else {
            return Ok(None);
        };
        let word = u32::from_be_bytes(*word);
        let txn = Txn {
            id: word & MAX_TXN_ID,
            is_response: word & IS_RESPONSE != 0,
            is_complete: word & IS_COMPLETE != 0,
        };
        (Some(txn), rest)
    } else {
        (None, rest)
    };
    let (id, rest) = rest
        .split_at_checked(header.message_id_len)
        .ok_or(FrameError::EmptyMessageId)?;
    check_message_id(id)?;
    let body = rest
        .get(..header.body_len)
        .ok_or(FrameError::BodyTooLong(header.body_len))?;
    let message_id = String::from_utf8_lossy(id).into_owned();
    Ok(Some((Frame::new(txn, message_id, body.to_vec()), need)))
}

/// Decodes `buf` as exactly one frame. A partial frame or trailing bytes are errors.
pub fn decode(buf: &[u8]) -> Result<Frame, DecodeError> {
    match decode_prefix(buf) {
        Ok(Some((frame, used))) if used == buf.len() => Ok(frame),
        Ok(Some((_, used))) => Err(DecodeError::Frame(FrameError::TrailingBytes(
            buf.len() - used,
        ))),
        Ok(None) => Err(DecodeError::Truncated(buf.len())),
        Err(e) => Err(DecodeError::Frame(e)),
    }
}

/// [`decode`]'s error: a bad frame, or too few bytes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The bytes are not a valid frame.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// Only this many bytes of a longer frame.
    #[error("the frame is truncated after {0} bytes")]
    Truncated(usize),
}

impl fmt::Display for Txn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "txn {}", self.id)?;
        if self.is_response {
            f.write_str(" response")?;
        }
        if self.is_complete {
            f.write_str(" complete")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn handshake_header_bits_are_where_the_spec_puts_them() {
        let f = Frame::new(Some(Txn::request(0)), "Handshake", vec![1, 2, 3]);
        let bytes = f.encode().unwrap_or_default();
        // has_txn (bit 31) | id len 9 (bits 20–25) | body len 3.
        assert_eq!(&bytes[..4], &(0x8000_0000u32 | 9 << 20 | 3).to_be_bytes());
        assert_eq!(&bytes[4..8], &[0, 0, 0, 0]);
        assert_eq!(&bytes[8..17], b"Handshake");
        assert_eq!(decode(&bytes), Ok(f));
    }

    #[test]
    fn reply_bits_and_round_trip() {
        let f = Frame::new(Some(Txn::reply(MAX_TXN_ID, true)), "NetOk", Vec::new());
        let bytes = f.encode().unwrap_or_default();
        assert_eq!(&bytes[4..8], &(0xC000_0000u32 | MAX_TXN_ID).to_be_bytes());
        assert_eq!(decode(&bytes), Ok(f));
        let plain = Frame::new(None, "NetOk", vec![9]);
        let bytes = plain.encode().unwrap_or_default();
        assert_eq!(bytes[0] & 0x80, 0);
        assert_eq!(decode(&bytes), Ok(plain));
    }

    #[test]
    fn bad_frames_are_errors() {
        assert_eq!(
            Frame::new(None, "", Vec::new()).encode(),
            Err(FrameError::EmptyMessageId)
        );
        assert_eq!(
            Frame::new(None, "x".repeat(64), Vec::new()).encode(),
            Err(FrameError::MessageIdTooLong(64))
        );
        assert_eq!(
            Frame::new(None, "x", vec![0; MAX_BODY_LEN + 1]).encode(),
            Err(FrameError::BodyTooLong(MAX_BODY_LEN + 1))
        );
        assert_eq!(
            Frame::new(Some(Txn::request(MAX_TXN_ID + 1)), "x", Vec::new()).encode(),
            Err(FrameError::TxnIdTooLarge(MAX_TXN_ID + 1))
        );
        // id length 0
        assert_eq!(
            decode(&[0, 0, 0, 0]),
            Err(DecodeError::Frame(FrameError::EmptyMessageId))
        );
        // id "\x01"
        assert_eq!(
            decode(&[0, 0x10, 0, 0, 1]),
            Err(DecodeError::Frame(FrameError::MessageIdNotAscii))
        );
        assert_eq!(decode(&[0x80, 0x10, 0, 0]), Err(DecodeError::Truncated(4)));
        assert_eq!(
            decode(&[0, 0x10, 0, 0, b'A', 7]),
            Err(DecodeError::Frame(FrameError::TrailingBytes(1)))
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Arbitrary bytes never panic the decoder, and whatever decodes re-encodes to the same
        /// bytes but for the reserved flag bits.
        #[test]
        fn decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(Some((frame, used))) = decode_prefix(&bytes) {
                prop_assert!(used <= bytes.len());
                let again = frame.encode();
                prop_assert!(again.is_ok());
                let again = again.unwrap_or_default();
                let mut original = bytes[..used].to_vec();
                original[0] &= !0x7c; // the reserved bits 26–30
                prop_assert_eq!(again, original);
            }
            let _ = decode(&bytes);
        }

        /// Every frame we can encode decodes to itself.
        #[test]
        fn encode_then_decode(
            txn in proptest::option::of((0..=MAX_TXN_ID, any::<bool>(), any::<bool>())),
            id in "[A-Za-z]{1,63}",
            body in proptest::collection::vec(any::<u8>(), 0..200),
        ) {
            let txn = txn.map(|(id, is_response, is_complete)| Txn { id, is_response, is_complete });
            let frame = Frame::new(txn, id, body);
            let bytes = frame.encode();
            prop_assert!(bytes.is_ok());
            prop_assert_eq!(decode(&bytes.unwrap_or_default()), Ok(frame));
        }
    }
}
