//! The connection-level pieces both transport sides share: the NULL handshake over a socket
//! and the classification of why a session ended.
//!
//! This module does **not** apply timeouts itself (callers wrap its futures) and does not
//! spawn tasks.

use std::io;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::{Duration, timeout};

use crate::codec::{self, DecodeError, Decoder, Event, Property};

/// How long we spend trying to tell a misbehaving peer why we hang up.
const ERROR_WRITE_TIMEOUT: Duration = Duration::from_millis(200);

/// Why a session (or its handshake) failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnError {
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
    #[error("peer closed the connection")]
    Eof,
    #[error("protocol error: {0}")]
    Decode(#[from] DecodeError),
    #[error("peer sent ERROR: {0:?}")]
    PeerError(String),
    #[error("unexpected {0} from peer")]
    Unexpected(&'static str),
}

/// Sends our greeting and `READY`, then reads until the peer's `READY` has been decoded.
///
/// Bytes that arrive after the peer's `READY` stay buffered in `decoder`. If the peer's stream
/// is rejected after its greeting, we try (briefly) to send it an `ERROR` with the reason.
pub(crate) async fn handshake<S>(
    stream: &mut S,
    decoder: &mut Decoder,
    identity: Option<&[u8]>,
    buf: &mut [u8],
) -> Result<Vec<Property>, ConnError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut out = Vec::with_capacity(128);
    codec::encode_greeting(&mut out);
    codec::encode_ready(&mut out, decoder.local(), identity)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    stream.write_all(&out).await?;
    let mut got_greeting = false;
    loop {
        loop {
            match decoder.next_event() {
                Ok(None) => break,
                Ok(Some(Event::Greeting(_))) => got_greeting = true,
                Ok(Some(Event::Ready { properties, .. })) => return Ok(properties),
                Ok(Some(Event::Error { reason })) => return Err(ConnError::PeerError(reason)),
                // The decoder rejects both before READY; kept total for safety.
                Ok(Some(Event::Message(_) | Event::Ping { .. })) => {
                    return Err(DecodeError::MessageBeforeReady.into());
                }
                Err(e) => {
                    if got_greeting {
                        send_error(stream, &e.to_string()).await;
                    }
                    return Err(e.into());
                }
            }
        }
        let n = stream.read(buf).await?;
        if n == 0 {
            return Err(ConnError::Eof);
        }
        decoder.feed(buf.get(..n).unwrap_or_default());
    }
}

/// Best effort: write an `ERROR` command, giving up after a short while.
pub(crate) async fn send_error<S: AsyncWrite + Unpin>(stream: &mut S, reason: &str) {
    let mut out = Vec::with_capacity(8 + reason.len());
    codec::encode_error(&mut out, reason);
    let _ = timeout(ERROR_WRITE_TIMEOUT, stream.write_all(&out)).await;
}

/// The PONG bytes answering a PING context (contexts are ≤ 16 bytes, so this cannot fail).
pub(crate) fn pong(context: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + context.len());
    let _ = codec::encode_pong(&mut out, context);
    out
}

/// Whether a decode error is about the peer's socket type.
pub(crate) fn is_socket_type_error(e: &DecodeError) -> bool {
    matches!(
        e,
        DecodeError::IncompatibleSocketType { .. } | DecodeError::MissingSocketType
    )
}
