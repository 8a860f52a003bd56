//! Sans-IO ZMTP 3.1 codec for the NULL mechanism and the PUSH/PULL socket pair.
//!
//! The [`Decoder`] is fed raw bytes read from one direction of a TCP session and yields
//! [`Event`]s: the peer's [`Greeting`], its `READY` command, then single-frame messages. The
//! `encode_*` functions produce the bytes we send. Nothing here touches a socket, a clock or an
//! async runtime, so every byte sequence can be exercised in plain unit tests.
//!
//! # Wire facts implemented here (ZMTP 3.1, RFC 37)
//!
//! * Greeting, 64 bytes: signature `0xFF`, 8 padding bytes, `0x7F`; version major, minor;
//!   mechanism name, NUL-padded to 20 bytes; as-server byte; 31 filler bytes. We send version
//!   3.1 with the padding libzmq sends (`00 00 00 00 00 00 00 01`), so our greeting is byte for
//!   byte the one Habitat sends. We accept any padding and filler, any major version ≥ 3 and
//!   any minor (a newer peer downgrades to us, as the RFC requires), and only the `NULL`
//!   mechanism.
//! * Frames: a flags byte (`0x01` MORE, `0x02` LONG, `0x04` COMMAND, other bits reserved and
//!   rejected), then a 1-byte size (short) or an 8-byte big-endian size (long), then the body.
//! * Commands: a 1-byte name length, the name, then command data. After the greeting the peer
//!   must send `READY` (or `ERROR`). `READY` carries metadata properties: 1-byte name length,
//!   name, 4-byte big-endian value length, value. `Socket-Type` is required and must be the
//!   socket type compatible with ours (PULL accepts only PUSH, PUSH accepts only PULL).
//!
//! # Decisions
//!
//! * **Frame size bound.** A frame whose declared size exceeds the decoder's maximum is an
//!   error as soon as its header is read; the decoder never reserves memory from a size field
//!   and only ever buffers bytes that actually arrived (at most one frame plus one read).
//! * **Multi-frame messages are rejected.** Habitat sends every rumor as one single-frame
//!   message. A message frame with the MORE flag is [`DecodeError::MultipartMessage`], which
//!   ends the session; reassembling would only serve peers that are not Habitat.
//! * **Heartbeats.** A `PING` after the handshake is reported as [`Event::Ping`] so the
//!   transport can answer with [`encode_pong`]; `PONG`, `SUBSCRIBE`, `CANCEL` and unknown
//!   commands after the handshake are skipped (forward compatibility). Before `READY`, any
//!   command other than `READY`/`ERROR`, and any message frame, is an error.
//! * **Errors are sticky.** After [`Decoder::next_event`] returns an error the decoder drops its
//!   buffer, ignores further input and returns the same error again. After an `ERROR` command
//!   it reports [`Event::Error`] once and then ignores everything.
//!
//! This module does **not** do I/O, timeouts, rate limiting, CURVE/PLAIN security, ZMTP 1.0/2.0
//! fallback, or any socket type other than PUSH and PULL. Malformed input never panics: it is
//! returned as a [`DecodeError`].

use std::fmt;

/// Length of a ZMTP 3 greeting in bytes.
pub const GREETING_LEN: usize = 64;

/// Default maximum frame body size accepted by a [`Decoder`] (1 MiB).
///
/// Habitat's own rumors stay far below this (its configuration caps them at 64 KiB).
pub const DEFAULT_MAX_FRAME_SIZE: usize = 1024 * 1024;

/// Buffer capacity kept between frames; anything larger is freed once the buffer drains.
const RETAINED_CAPACITY: usize = 64 * 1024;

/// Largest body that fits in a short frame.
pub const MAX_SHORT_FRAME: usize = 255;

/// Frame flag: more frames of the same message follow.
pub const FLAG_MORE: u8 = 0x01;
/// Frame flag: the size field is 8 bytes, big-endian.
pub const FLAG_LONG: u8 = 0x02;
/// Frame flag: the frame is a command, not message data.
pub const FLAG_COMMAND: u8 = 0x04;
const FLAGS_RESERVED: u8 = !(FLAG_MORE | FLAG_LONG | FLAG_COMMAND);

const SIGNATURE_FIRST: u8 = 0xFF;
const SIGNATURE_LAST: u8 = 0x7F;
/// Padding libzmq writes between the signature bytes (a ZMTP 1.0 length of 1).
const SIGNATURE_PADDING: [u8; 8] = [0, 0, 0, 0, 0, 0, 0, 1];
const VERSION_MAJOR: u8 = 3;
const VERSION_MINOR: u8 = 1;
const MECHANISM_NULL: &[u8] = b"NULL";
const MECHANISM_LEN: usize = 20;
const MECHANISM_OFFSET: usize = 12;
const AS_SERVER_OFFSET: usize = MECHANISM_OFFSET + MECHANISM_LEN;

const PROP_SOCKET_TYPE: &str = "Socket-Type";
const PROP_IDENTITY: &str = "Identity";
/// Longest identity ZMTP allows.
pub const MAX_IDENTITY_LEN: usize = 255;
/// Longest PING/PONG context ZMTP allows.
pub const MAX_PING_CONTEXT: usize = 16;

/// The two ZeroMQ socket types Warren speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SocketType {
    /// Sending side: Habitat's gossip fan-out and its Butterfly client.
    Push,
    /// Receiving side: one per Supervisor, bound to the gossip port.
    Pull,
}

impl SocketType {
    /// The name sent in the `Socket-Type` property (`"PUSH"` / `"PULL"`).
    pub const fn name(self) -> &'static str {
        match self {
            SocketType::Push => "PUSH",
            SocketType::Pull => "PULL",
        }
    }

    /// The only socket type this one may talk to.
    pub const fn compatible_peer(self) -> SocketType {
        match self {
            SocketType::Push => SocketType::Pull,
            SocketType::Pull => SocketType::Push,
        }
    }

    /// Whether a peer announcing `peer_name` as its `Socket-Type` may talk to us
    /// (ASCII case-insensitive).
    pub fn accepts(self, peer_name: &[u8]) -> bool {
        peer_name.eq_ignore_ascii_case(self.compatible_peer().name().as_bytes())
    }
}

impl fmt::Display for SocketType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the peer's greeting said. The mechanism is always `NULL` (anything else is an error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Greeting {
    /// Protocol major version (≥ 3).
    pub major: u8,
    /// Protocol minor version.
    pub minor: u8,
    /// The as-server byte (unused by NULL; libzmq sends 0).
    pub as_server: bool,
}

/// One metadata property of a `READY` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    /// Property name (ASCII letters, digits, `-`, `_`, `.`, `+`).
    pub name: String,
    /// Raw value bytes.
    pub value: Vec<u8>,
}

/// Finds a property by name, ASCII case-insensitively (ZMTP property names are).
pub fn find_property<'a>(properties: &'a [Property], name: &str) -> Option<&'a [u8]> {
    properties
        .iter()
        .find(|p| p.name.eq_ignore_ascii_case(name))
        .map(|p| p.value.as_slice())
}

/// Something the peer said, in wire order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The peer's 64-byte greeting was valid.
    Greeting(Greeting),
    /// The peer's `READY` command; its socket type has been checked against ours.
    Ready {
        /// The peer's socket type.
        socket_type: SocketType,
        /// All metadata properties in wire order, `Socket-Type` and `Identity` included.
        properties: Vec<Property>,
    },
    /// One single-frame message.
    Message(Vec<u8>),
    /// The peer sent an `ERROR` command and will close; the decoder ignores input after it.
    Error {
        /// The reason text (lossily decoded as UTF-8).
        reason: String,
    },
    /// A ZMTP 3.1 heartbeat; answer with [`encode_pong`] and the same context.
    Ping {
        /// Time-to-live in tenths of a second (0 = none).
        ttl: u16,
        /// Up to 16 bytes to echo back.
        context: Vec<u8>,
    },
}

/// Why the peer's byte stream was rejected. Every variant ends the session.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The first bytes are not a ZMTP 3 signature (`0xFF`, 8 bytes, `0x7F`).
    #[error("not a ZMTP peer: bad greeting signature")]
    BadSignature,
    /// The peer speaks ZMTP older than 3.0.
    #[error("unsupported ZMTP version {major}.{minor} (need 3.x)")]
    UnsupportedVersion {
        /// Peer's major version.
        major: u8,
        /// Peer's minor version (0 if not yet received).
        minor: u8,
    },
    /// The peer asked for a security mechanism other than `NULL`.
    #[error("unsupported security mechanism {0:?} (only NULL)")]
    UnsupportedMechanism(String),
    /// A frame header declared a body larger than the configured maximum.
    #[error("frame of {size} bytes exceeds the limit of {max} bytes")]
    FrameTooLarge {
        /// Declared size.
        size: u64,
        /// Configured maximum.
        max: usize,
    },
    /// Reserved flag bits (`0xF8`) were set.
    #[error("reserved frame flag bits set in {0:#04x}")]
    ReservedFlags(u8),
    /// A command frame carried the MORE flag.
    #[error("command frame with the MORE flag")]
    CommandWithMore,
    /// A message frame carried the MORE flag; Warren only accepts single-frame messages.
    #[error("multi-frame messages are not supported")]
    MultipartMessage,
    /// A message frame arrived before the peer's `READY`.
    #[error("message frame before the handshake completed")]
    MessageBeforeReady,
    /// A command that is not allowed at this point (e.g. a second `READY`).
    #[error("unexpected command {0:?}")]
    UnexpectedCommand(String),
    /// A command frame whose contents do not parse.
    #[error("malformed command: {0}")]
    MalformedCommand(&'static str),
    /// The peer's `READY` lacked a `Socket-Type` property.
    #[error("peer READY has no Socket-Type property")]
    MissingSocketType,
    /// The peer's socket type cannot talk to ours.
    #[error("peer socket type {peer:?} is not compatible with our {local}")]
    IncompatibleSocketType {
        /// What the peer announced (lossily decoded).
        peer: String,
        /// Our socket type.
        local: SocketType,
    },
}

/// Why something could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// Command names are 1 to 255 bytes.
    #[error("command name must be 1 to 255 bytes")]
    BadCommandName,
    /// Property names are 1 to 255 bytes.
    #[error("property name must be 1 to 255 bytes")]
    BadPropertyName,
    /// A property value does not fit a 4-byte length.
    #[error("property value too long")]
    PropertyValueTooLong,
    /// Identities are at most 255 bytes.
    #[error("identity longer than 255 bytes")]
    IdentityTooLong,
    /// PING/PONG contexts are at most 16 bytes.
    #[error("ping context longer than 16 bytes")]
    PingContextTooLong,
}

#[derive(Debug)]
enum State {
    /// Waiting for the peer's 64-byte greeting.
    Greeting,
    /// Greeting done, waiting for `READY`.
    Handshake,
    /// Handshake done, exchanging messages.
    Traffic,
    /// Peer sent `ERROR`; everything after is ignored.
    Closed,
    /// We rejected the stream; the error is returned again on every call.
    Failed(DecodeError),
}

/// Incremental decoder for the bytes one peer sends us.
///
/// Call [`feed`](Self::feed) with whatever the socket returned, then
/// [`next_event`](Self::next_event) until it returns `Ok(None)`.
#[derive(Debug)]
pub struct Decoder {
    local: SocketType,
    max_frame_size: usize,
    state: State,
    buf: Vec<u8>,
    pos: usize,
}

impl Decoder {
    /// A decoder for a session where we are `local`, with [`DEFAULT_MAX_FRAME_SIZE`].
    pub fn new(local: SocketType) -> Self {
        Self::with_max_frame_size(local, DEFAULT_MAX_FRAME_SIZE)
    }

    /// A decoder that rejects frames (commands included) whose body exceeds `max_frame_size`.
    pub fn with_max_frame_size(local: SocketType, max_frame_size: usize) -> Self {
        Decoder {
            local,
            max_frame_size,
            state: State::Greeting,
            buf: Vec::new(),
            pos: 0,
        }
    }

    /// Our own socket type.
    pub fn local(&self) -> SocketType {
        self.local
    }

    /// The configured maximum frame body size.
    pub fn max_frame_size(&self) -> usize {
        self.max_frame_size
    }

    /// Whether the peer's greeting and `READY` have been decoded.
    pub fn is_ready(&self) -> bool {
        matches!(self.state, State::Traffic)
    }

    /// Whether the decoder has failed or the peer sent `ERROR`.
    pub fn is_finished(&self) -> bool {
        matches!(self.state, State::Closed | State::Failed(_))
    }

    /// Bytes received but not yet decoded.
    pub fn buffered(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// Appends bytes received from the peer. Ignored once the decoder is finished.
    pub fn feed(&mut self, data: &[u8]) {
        if self.is_finished() {
            return;
        }
        if self.pos > 0 {
            self.buf.drain(..self.pos.min(self.buf.len()));
            self.pos = 0;
        }
        if self.buf.is_empty() && self.buf.capacity() > RETAINED_CAPACITY {
            // Give back what a large frame made us allocate.
            self.buf = Vec::new();
        }
        self.buf.extend_from_slice(data);
    }

    /// Decodes the next event, `Ok(None)` if more bytes are needed.
    pub fn next_event(&mut self) -> Result<Option<Event>, DecodeError> {
        match &self.state {
            State::Failed(e) => return Err(e.clone()),
            State::Closed => return Ok(None),
            _ => {}
        }
        let result = self.step();
        if let Err(e) = &result {
            self.state = State::Failed(e.clone());
            self.buf = Vec::new();
            self.pos = 0;
        } else if matches!(self.state, State::Closed) {
            self.buf = Vec::new();
            self.pos = 0;
        }
        result
    }

    fn step(&mut self) -> Result<Option<Event>, DecodeError> {
        loop {
            match self.state {
                State::Greeting => return self.greeting(),
                State::Handshake | State::Traffic => {
                    let Some((flags, start, end)) = self.next_frame()? else {
                        return Ok(None);
                    };
                    let body = self.buf.get(start..end).unwrap_or_default();
                    if flags & FLAG_COMMAND == 0 {
                        // next_frame only lets message frames through in Traffic.
                        return Ok(Some(Event::Message(body.to_vec())));
                    }
                    let (name, data) = split_command(body)?;
                    match name {
                        b"READY" if matches!(self.state, State::Handshake) => {
                            let (socket_type, properties) = parse_ready(data, self.local)?;
                            self.state = State::Traffic;
                            return Ok(Some(Event::Ready {
                                socket_type,
                                properties,
                            }));
                        }
                        b"ERROR" => {
                            let reason = parse_error(data);
                            self.state = State::Closed;
                            return Ok(Some(Event::Error { reason }));
                        }
                        b"PING" if matches!(self.state, State::Traffic) => {
                            let (ttl, context) = parse_ping(data)?;
                            return Ok(Some(Event::Ping { ttl, context }));
                        }
                        _ if matches!(self.state, State::Handshake) => {
                            return Err(DecodeError::UnexpectedCommand(printable(name)));
                        }
                        b"READY" => {
                            return Err(DecodeError::UnexpectedCommand("READY".to_owned()));
                        }
                        // PONG, SUBSCRIBE, CANCEL, future commands: skipped.
                        _ => continue,
                    }
                }
                State::Closed | State::Failed(_) => return Ok(None),
            }
        }
    }

    fn greeting(&mut self) -> Result<Option<Event>, DecodeError> {
        let avail = self.buf.get(self.pos..).unwrap_or_default();
        // Reject non-ZMTP peers as early as the bytes allow.
        if avail.first().is_some_and(|&b| b != SIGNATURE_FIRST) {
            return Err(DecodeError::BadSignature);
        }
        if avail.get(9).is_some_and(|&b| b != SIGNATURE_LAST) {
            return Err(DecodeError::BadSignature);
        }
        if let Some(&major) = avail.get(10)
            && major < VERSION_MAJOR
        {
            let minor = avail.get(11).copied().unwrap_or(0);
            return Err(DecodeError::UnsupportedVersion { major, minor });
        }
        let Some(greeting) = avail.get(..GREETING_LEN) else {
            return Ok(None);
        };
        let major = greeting.get(10).copied().unwrap_or_default();
        let minor = greeting.get(11).copied().unwrap_or_default();
        let mechanism = greeting
            .get(MECHANISM_OFFSET..AS_SERVER_OFFSET)
            .unwrap_or_default();
        let name_len = mechanism
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(mechanism.len());
        let (name, padding) = mechanism.split_at(name_len);
        if name != MECHANISM_NULL || padding.iter().any(|&b| b != 0) {
            return Err(DecodeError::UnsupportedMechanism(printable(name)));
        }
        let as_server = greeting.get(AS_SERVER_OFFSET).is_some_and(|&b| b != 0);
        self.pos += GREETING_LEN;
        self.state = State::Handshake;
        Ok(Some(Event::Greeting(Greeting {
            major,
            minor,
            as_server,
        })))
    }

    /// Returns `(flags, body_start, body_end)` of the next complete frame and consumes it.
    fn next_frame(&mut self) -> Result<Option<(u8, usize, usize)>, DecodeError> {
        let avail = self.buf.get(self.pos..).unwrap_or_default();
        let Some(&flags) = avail.first() else {
            return Ok(None);
        };
        if flags & FLAGS_RESERVED != 0 {
            return Err(DecodeError::ReservedFlags(flags));
        }
        let is_command = flags & FLAG_COMMAND != 0;
        let more = flags & FLAG_MORE != 0;
        if is_command && more {
            return Err(DecodeError::CommandWithMore);
        }
        if !is_command {
            if matches!(self.state, State::Handshake) {
                return Err(DecodeError::MessageBeforeReady);
            }
            if more {
                return Err(DecodeError::MultipartMessage);
            }
        }
        let (header_len, size) = if flags & FLAG_LONG != 0 {
            let Some(size_bytes) = avail.get(1..9) else {
                return Ok(None);
            };
            let mut be = [0u8; 8];
            be.copy_from_slice(size_bytes);
            (9usize, u64::from_be_bytes(be))
        } else {
            let Some(&size) = avail.get(1) else {
                return Ok(None);
            };
            (2usize, u64::from(size))
        };
        let too_large = DecodeError::FrameTooLarge {
            size,
            max: self.max_frame_size,
        };
        let body_len = match usize::try_from(size) {
            Ok(n) if n <= self.max_frame_size => n,
            _ => return Err(too_large),
        };
        let Some(total) = header_len.checked_add(body_len) else {
            return Err(too_large);
        };
        if avail.len() < total {
            return Ok(None);
        }
        let start = self.pos + header_len;
        let end = self.pos + total;
        self.pos = end;
        Ok(Some((flags, start, end)))
    }
}

fn printable(bytes: &[u8]) -> String {
    let limit = bytes.len().min(64);
    String::from_utf8_lossy(bytes.get(..limit).unwrap_or_default()).into_owned()
}

fn split_command(body: &[u8]) -> Result<(&[u8], &[u8]), DecodeError> {
    let Some((&name_len, rest)) = body.split_first() else {
        return Err(DecodeError::MalformedCommand("empty command frame"));
    };
    let name_len = usize::from(name_len);
    if name_len == 0 {
        return Err(DecodeError::MalformedCommand("empty command name"));
    }
    if rest.len() < name_len {
        return Err(DecodeError::MalformedCommand(
            "command name overruns the frame",
        ));
    }
    Ok(rest.split_at(name_len))
}

fn is_name_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'+')
}

fn parse_properties(mut data: &[u8]) -> Result<Vec<Property>, DecodeError> {
    let mut properties = Vec::new();
    while let Some((&name_len, rest)) = data.split_first() {
        let name_len = usize::from(name_len);
        if name_len == 0 {
            return Err(DecodeError::MalformedCommand("empty property name"));
        }
        let Some(name) = rest.get(..name_len) else {
            return Err(DecodeError::MalformedCommand(
                "property name overruns the command",
            ));
        };
        if !name.iter().copied().all(is_name_char) {
            return Err(DecodeError::MalformedCommand(
                "invalid character in property name",
            ));
        }
        let rest = rest.get(name_len..).unwrap_or_default();
        let Some(len_bytes) = rest.get(..4) else {
            return Err(DecodeError::MalformedCommand(
                "property length overruns the command",
            ));
        };
        let mut be = [0u8; 4];
        be.copy_from_slice(len_bytes);
        let value_len = usize::try_from(u32::from_be_bytes(be)).unwrap_or(usize::MAX);
        let rest = rest.get(4..).unwrap_or_default();
        let Some(value) = rest.get(..value_len) else {
            return Err(DecodeError::MalformedCommand(
                "property value overruns the command",
            ));
        };
        properties.push(Property {
            // Checked above: only ASCII name characters.
            name: String::from_utf8_lossy(name).into_owned(),
            value: value.to_vec(),
        });
        data = rest.get(value_len..).unwrap_or_default();
    }
    Ok(properties)
}

fn parse_ready(data: &[u8], local: SocketType) -> Result<(SocketType, Vec<Property>), DecodeError> {
    let properties = parse_properties(data)?;
    let Some(peer) = find_property(&properties, PROP_SOCKET_TYPE) else {
        return Err(DecodeError::MissingSocketType);
    };
    if !local.accepts(peer) {
        return Err(DecodeError::IncompatibleSocketType {
            peer: printable(peer),
            local,
        });
    }
    Ok((local.compatible_peer(), properties))
}

fn parse_error(data: &[u8]) -> String {
    let Some((&len, rest)) = data.split_first() else {
        return String::new();
    };
    let len = usize::from(len).min(rest.len());
    String::from_utf8_lossy(rest.get(..len).unwrap_or_default()).into_owned()
}

fn parse_ping(data: &[u8]) -> Result<(u16, Vec<u8>), DecodeError> {
    let Some(ttl) = data.get(..2) else {
        return Err(DecodeError::MalformedCommand("PING shorter than its TTL"));
    };
    let context = data.get(2..).unwrap_or_default();
    if context.len() > MAX_PING_CONTEXT {
        return Err(DecodeError::MalformedCommand(
            "PING context longer than 16 bytes",
        ));
    }
    let mut be = [0u8; 2];
    be.copy_from_slice(ttl);
    Ok((u16::from_be_bytes(be), context.to_vec()))
}

// ---------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------

/// Our 64-byte greeting: ZMTP 3.1, mechanism `NULL`, as-server 0, libzmq's padding.
pub fn greeting_bytes() -> [u8; GREETING_LEN] {
    let mut g = [0u8; GREETING_LEN];
    g[0] = SIGNATURE_FIRST;
    g[1..9].copy_from_slice(&SIGNATURE_PADDING);
    g[9] = SIGNATURE_LAST;
    g[10] = VERSION_MAJOR;
    g[11] = VERSION_MINOR;
    g[MECHANISM_OFFSET..MECHANISM_OFFSET + MECHANISM_NULL.len()].copy_from_slice(MECHANISM_NULL);
    // as-server and filler stay zero.
    g
}

/// Appends our greeting (see [`greeting_bytes`]).
pub fn encode_greeting(out: &mut Vec<u8>) {
    out.extend_from_slice(&greeting_bytes());
}

fn put_header(out: &mut Vec<u8>, flags: u8, len: usize) {
    match u8::try_from(len) {
        Ok(short) => {
            out.push(flags);
            out.push(short);
        }
        Err(_) => {
            out.push(flags | FLAG_LONG);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
}

/// Appends one message frame; `more` sets the MORE flag (Warren itself never does).
pub fn encode_frame(out: &mut Vec<u8>, body: &[u8], more: bool) {
    put_header(out, if more { FLAG_MORE } else { 0 }, body.len());
    out.extend_from_slice(body);
}

/// Appends a single-frame message (short frame up to 255 bytes, long frame above).
pub fn encode_message(out: &mut Vec<u8>, body: &[u8]) {
    encode_frame(out, body, false);
}

/// Appends a command frame `name` + `data`.
pub fn encode_command(out: &mut Vec<u8>, name: &[u8], data: &[u8]) -> Result<(), EncodeError> {
    let name_len = u8::try_from(name.len()).map_err(|_| EncodeError::BadCommandName)?;
    if name_len == 0 {
        return Err(EncodeError::BadCommandName);
    }
    put_header(out, FLAG_COMMAND, 1 + name.len() + data.len());
    out.push(name_len);
    out.extend_from_slice(name);
    out.extend_from_slice(data);
    Ok(())
}

/// Appends one metadata property (name, 4-byte length, value) to command data.
pub fn encode_property(data: &mut Vec<u8>, name: &str, value: &[u8]) -> Result<(), EncodeError> {
    let name_len = u8::try_from(name.len()).map_err(|_| EncodeError::BadPropertyName)?;
    if name_len == 0 {
        return Err(EncodeError::BadPropertyName);
    }
    let value_len = u32::try_from(value.len()).map_err(|_| EncodeError::PropertyValueTooLong)?;
    data.push(name_len);
    data.extend_from_slice(name.as_bytes());
    data.extend_from_slice(&value_len.to_be_bytes());
    data.extend_from_slice(value);
    Ok(())
}

/// Appends our `READY` command with `Socket-Type` and, if given, `Identity` (≤ 255 bytes).
pub fn encode_ready(
    out: &mut Vec<u8>,
    socket_type: SocketType,
    identity: Option<&[u8]>,
) -> Result<(), EncodeError> {
    let mut data = Vec::with_capacity(32);
    encode_property(&mut data, PROP_SOCKET_TYPE, socket_type.name().as_bytes())?;
    if let Some(identity) = identity {
        if identity.len() > MAX_IDENTITY_LEN {
            return Err(EncodeError::IdentityTooLong);
        }
        encode_property(&mut data, PROP_IDENTITY, identity)?;
    }
    encode_command(out, b"READY", &data)
}

/// Appends an `ERROR` command; `reason` is cut to 255 bytes on a character boundary.
pub fn encode_error(out: &mut Vec<u8>, reason: &str) {
    let mut end = reason.len().min(255);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let reason = reason.as_bytes().get(..end).unwrap_or_default();
    let mut data = Vec::with_capacity(1 + reason.len());
    data.push(u8::try_from(reason.len()).unwrap_or(u8::MAX));
    data.extend_from_slice(reason);
    // "ERROR" is a valid name, so this cannot fail.
    let _ = encode_command(out, b"ERROR", &data);
}

/// Appends a `PING` heartbeat command.
pub fn encode_ping(out: &mut Vec<u8>, ttl: u16, context: &[u8]) -> Result<(), EncodeError> {
    if context.len() > MAX_PING_CONTEXT {
        return Err(EncodeError::PingContextTooLong);
    }
    let mut data = ttl.to_be_bytes().to_vec();
    data.extend_from_slice(context);
    encode_command(out, b"PING", &data)
}

/// Appends a `PONG` answering a `PING` with `context`.
pub fn encode_pong(out: &mut Vec<u8>, context: &[u8]) -> Result<(), EncodeError> {
    if context.len() > MAX_PING_CONTEXT {
        return Err(EncodeError::PingContextTooLong);
    }
    encode_command(out, b"PONG", context)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handshake(local: SocketType, peer: SocketType) -> Vec<u8> {
        let _ = local;
        let mut b = Vec::new();
        encode_greeting(&mut b);
        encode_ready(&mut b, peer, None).unwrap();
        b
    }

    fn drain(d: &mut Decoder) -> Result<Vec<Event>, DecodeError> {
        let mut v = Vec::new();
        while let Some(e) = d.next_event()? {
            v.push(e);
        }
        Ok(v)
    }

    #[test]
    fn greeting_layout() {
        let g = greeting_bytes();
        assert_eq!(g.len(), 64);
        assert_eq!(g[0], 0xFF);
        assert_eq!(g[9], 0x7F);
        assert_eq!(&g[10..12], &[3, 1]);
        assert_eq!(&g[12..16], b"NULL");
        assert!(g[16..].iter().all(|&b| b == 0));
    }

    #[test]
    fn handshake_and_messages() {
        let mut bytes = handshake(SocketType::Pull, SocketType::Push);
        encode_message(&mut bytes, b"hello");
        encode_message(&mut bytes, &[7u8; 300]);
        encode_message(&mut bytes, b"");
        let mut d = Decoder::new(SocketType::Pull);
        d.feed(&bytes);
        let ev = drain(&mut d).unwrap();
        assert_eq!(ev.len(), 5);
        assert!(matches!(
            ev[0],
            Event::Greeting(Greeting {
                major: 3,
                minor: 1,
                as_server: false
            })
        ));
        assert!(matches!(
            &ev[1],
            Event::Ready {
                socket_type: SocketType::Push,
                ..
            }
        ));
        assert_eq!(ev[2], Event::Message(b"hello".to_vec()));
        assert_eq!(ev[3], Event::Message(vec![7u8; 300]));
        assert_eq!(ev[4], Event::Message(Vec::new()));
        assert!(d.is_ready());
        assert_eq!(d.buffered(), 0);
    }

    #[test]
    fn identity_property_roundtrips() {
        let mut b = Vec::new();
        encode_greeting(&mut b);
        encode_ready(&mut b, SocketType::Push, Some(b"me")).unwrap();
        let mut d = Decoder::new(SocketType::Pull);
        d.feed(&b);
        let ev = drain(&mut d).unwrap();
        let Event::Ready { properties, .. } = &ev[1] else {
            panic!("{ev:?}")
        };
        assert_eq!(find_property(properties, "identity"), Some(&b"me"[..]));
        assert_eq!(find_property(properties, "socket-type"), Some(&b"PUSH"[..]));
        assert_eq!(
            encode_ready(&mut b, SocketType::Push, Some(&[0; 256])),
            Err(EncodeError::IdentityTooLong)
        );
    }

    #[test]
    fn wrong_socket_type_rejected() {
        for (local, peer) in [
            (SocketType::Pull, SocketType::Pull),
            (SocketType::Push, SocketType::Push),
        ] {
            let mut d = Decoder::new(local);
            d.feed(&handshake(local, peer));
            assert!(matches!(d.next_event(), Ok(Some(Event::Greeting(_)))));
            let err = d.next_event().unwrap_err();
            assert!(
                matches!(err, DecodeError::IncompatibleSocketType { .. }),
                "{err}"
            );
            // Sticky.
            assert_eq!(d.next_event().unwrap_err(), err);
        }
    }

    #[test]
    fn missing_socket_type_rejected() {
        let mut b = Vec::new();
        encode_greeting(&mut b);
        let mut data = Vec::new();
        encode_property(&mut data, "Identity", b"x").unwrap();
        encode_command(&mut b, b"READY", &data).unwrap();
        let mut d = Decoder::new(SocketType::Pull);
        d.feed(&b);
        assert_eq!(drain(&mut d).unwrap_err(), DecodeError::MissingSocketType);
    }

    #[test]
    fn bad_signature_detected_on_first_byte() {
        let mut d = Decoder::new(SocketType::Pull);
        d.feed(b"G");
        assert_eq!(d.next_event(), Err(DecodeError::BadSignature));
        let mut d = Decoder::new(SocketType::Pull);
        d.feed(&[0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7E]);
        assert_eq!(d.next_event(), Err(DecodeError::BadSignature));
    }

    #[test]
    fn old_version_and_other_mechanisms_rejected() {
        let mut g = greeting_bytes();
        g[10] = 2;
        let mut d = Decoder::new(SocketType::Pull);
        d.feed(&g[..11]);
        assert!(matches!(
            d.next_event(),
            Err(DecodeError::UnsupportedVersion { major: 2, .. })
        ));

        let mut g = greeting_bytes();
        g[12..17].copy_from_slice(b"CURVE");
        let mut d = Decoder::new(SocketType::Pull);
        d.feed(&g);
        assert_eq!(
            d.next_event(),
            Err(DecodeError::UnsupportedMechanism("CURVE".into()))
        );

        // 3.0 and a future 3.x are fine.
        for minor in [0, 2] {
            let mut g = greeting_bytes();
            g[11] = minor;
            let mut d = Decoder::new(SocketType::Pull);
            d.feed(&g);
            assert!(
                matches!(d.next_event(), Ok(Some(Event::Greeting(Greeting { minor: m, .. }))) if m == minor)
            );
        }
    }

    #[test]
    fn oversized_frame_rejected_from_header_alone() {
        let mut b = handshake(SocketType::Pull, SocketType::Push);
        b.push(FLAG_LONG);
        b.extend_from_slice(&u64::MAX.to_be_bytes());
        let mut d = Decoder::with_max_frame_size(SocketType::Pull, 1000);
        d.feed(&b);
        assert!(matches!(d.next_event(), Ok(Some(Event::Greeting(_)))));
        assert!(matches!(d.next_event(), Ok(Some(Event::Ready { .. }))));
        assert_eq!(
            d.next_event(),
            Err(DecodeError::FrameTooLarge {
                size: u64::MAX,
                max: 1000
            })
        );

        let mut b = handshake(SocketType::Pull, SocketType::Push);
        encode_message(&mut b, &[0; 101]);
        let mut d = Decoder::with_max_frame_size(SocketType::Pull, 100);
        d.feed(&b);
        assert!(matches!(
            drain(&mut d),
            Err(DecodeError::FrameTooLarge {
                size: 101,
                max: 100
            })
        ));
    }

    #[test]
    fn multipart_and_reserved_flags_rejected() {
        let mut b = handshake(SocketType::Pull, SocketType::Push);
        encode_frame(&mut b, b"part1", true);
        let mut d = Decoder::new(SocketType::Pull);
        d.feed(&b);
        assert_eq!(drain(&mut d), Err(DecodeError::MultipartMessage));

        let mut b = handshake(SocketType::Pull, SocketType::Push);
        b.extend_from_slice(&[0x08, 0]);
        let mut d = Decoder::new(SocketType::Pull);
        d.feed(&b);
        assert_eq!(drain(&mut d), Err(DecodeError::ReservedFlags(0x08)));

        let mut b = handshake(SocketType::Pull, SocketType::Push);
        b.extend_from_slice(&[FLAG_COMMAND | FLAG_MORE, 0]);
        let mut d = Decoder::new(SocketType::Pull);
        d.feed(&b);
        assert_eq!(drain(&mut d), Err(DecodeError::CommandWithMore));
    }

    #[test]
    fn message_before_ready_rejected() {
        let mut b = Vec::new();
        encode_greeting(&mut b);
        encode_message(&mut b, b"early");
        let mut d = Decoder::new(SocketType::Pull);
        d.feed(&b);
        assert_eq!(drain(&mut d), Err(DecodeError::MessageBeforeReady));

        let mut b = Vec::new();
        encode_greeting(&mut b);
        encode_ping(&mut b, 0, b"").unwrap();
        let mut d = Decoder::new(SocketType::Pull);
        d.feed(&b);
        assert_eq!(
            drain(&mut d),
            Err(DecodeError::UnexpectedCommand("PING".into()))
        );
    }

    #[test]
    fn second_ready_rejected_and_unknown_commands_skipped() {
        let mut b = handshake(SocketType::Pull, SocketType::Push);
        encode_command(&mut b, b"PONG", b"").unwrap();
        encode_command(&mut b, b"SUBSCRIBE", b"topic").unwrap();
        encode_message(&mut b, b"x");
        encode_ready(&mut b, SocketType::Push, None).unwrap();
        let mut d = Decoder::new(SocketType::Pull);
        d.feed(&b);
        assert_eq!(d.next_event().map(|e| e.is_some()), Ok(true));
        assert_eq!(d.next_event().map(|e| e.is_some()), Ok(true));
        assert_eq!(d.next_event(), Ok(Some(Event::Message(b"x".to_vec()))));
        assert_eq!(
            d.next_event(),
            Err(DecodeError::UnexpectedCommand("READY".into()))
        );
    }

    #[test]
    fn ping_and_error_commands() {
        let mut b = handshake(SocketType::Push, SocketType::Pull);
        encode_ping(&mut b, 300, b"ctx").unwrap();
        encode_error(&mut b, "go away");
        encode_message(&mut b, b"ignored");
        let mut d = Decoder::new(SocketType::Push);
        d.feed(&b);
        let ev = drain(&mut d).unwrap();
        assert_eq!(
            ev[2],
            Event::Ping {
                ttl: 300,
                context: b"ctx".to_vec()
            }
        );
        assert_eq!(
            ev[3],
            Event::Error {
                reason: "go away".into()
            }
        );
        assert_eq!(ev.len(), 4);
        assert!(d.is_finished());
        d.feed(b"more");
        assert_eq!(d.next_event(), Ok(None));
    }

    #[test]
    fn malformed_commands_are_errors() {
        let cases: [&[u8]; 6] = [
            &[FLAG_COMMAND, 0],
            &[FLAG_COMMAND, 1, 0],
            &[FLAG_COMMAND, 2, 5, b'R'],
            &[FLAG_COMMAND, 7, 5, b'R', b'E', b'A', b'D', b'Y', 3],
            &[FLAG_COMMAND, 8, 5, b'R', b'E', b'A', b'D', b'Y', 1, b'!'],
            &[
                FLAG_COMMAND,
                12,
                5,
                b'R',
                b'E',
                b'A',
                b'D',
                b'Y',
                1,
                b'a',
                0,
                0,
                0,
                9,
            ],
        ];
        for case in cases {
            let mut b = Vec::new();
            encode_greeting(&mut b);
            b.extend_from_slice(case);
            let mut d = Decoder::new(SocketType::Pull);
            d.feed(&b);
            assert!(
                matches!(drain(&mut d), Err(DecodeError::MalformedCommand(_))),
                "{case:?}"
            );
        }
    }

    #[test]
    fn byte_at_a_time() {
        let mut bytes = handshake(SocketType::Pull, SocketType::Push);
        encode_message(&mut bytes, &[1u8; 1000]);
        let mut d = Decoder::new(SocketType::Pull);
        let mut events = Vec::new();
        for b in &bytes {
            d.feed(std::slice::from_ref(b));
            while let Some(e) = d.next_event().unwrap() {
                events.push(e);
            }
        }
        assert_eq!(events.len(), 3);
        assert_eq!(events[2], Event::Message(vec![1u8; 1000]));
    }

    #[test]
    fn error_reason_truncated_on_char_boundary() {
        let reason = "é".repeat(200);
        let mut b = Vec::new();
        encode_error(&mut b, &reason);
        assert_eq!(b[0], FLAG_COMMAND | FLAG_LONG);
        let (_, data) = split_command(&b[9..]).unwrap();
        assert_eq!(data[0], 254);
        assert!(std::str::from_utf8(&data[1..]).is_ok());
    }
}
