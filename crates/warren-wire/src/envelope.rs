//! The `Wire` envelope and ring encryption (spec §1.2–1.3).
//!
//! [`seal`] wraps an encoded Swim or Rumor in a `Wire`: plaintext without a ring key, or a
//! libsodium-compatible secretbox (XSalsa20-Poly1305, 16-byte MAC first, fresh random 24-byte
//! nonce) with one. [`open`] reverses it. A keyed receiver always decrypts and an unkeyed one
//! never does, whatever `Wire.encrypted` says, exactly as Habitat behaves. This module knows
//! nothing about what the payload holds.

use crypto_secretbox::aead::{Aead, AeadCore, KeyInit, OsRng};
use crypto_secretbox::{Nonce, XSalsa20Poly1305};
use prost::Message;
use warren_proto::common::Wire;

use crate::error::WireError;
use crate::key::RingKey;

/// Bytes of a secretbox nonce.
pub const NONCE_LEN: usize = 24;

/// Bytes of the Poly1305 MAC that precedes the ciphertext.
pub const MAC_LEN: usize = 16;

/// Encodes `payload` as a `Wire`, sealed with `key` when there is one.
///
/// Draws the nonce from the operating system's random number generator.
pub fn seal(payload: &[u8], key: Option<&RingKey>) -> Vec<u8> {
    let wire = match key {
        None => Wire {
            encrypted: None,
            nonce: None,
            payload: Some(payload.to_vec()),
        },
        Some(key) => {
            let cipher = XSalsa20Poly1305::new(key.secret().into());
            let nonce = XSalsa20Poly1305::generate_nonce(&mut OsRng);
            // Encryption into a Vec cannot fail: the payload is far below the cipher's limit.
            let sealed = cipher.encrypt(&nonce, payload).unwrap_or_default();
            Wire {
                encrypted: Some(true),
                nonce: Some(nonce.to_vec()),
                payload: Some(sealed),
            }
        }
    };
    wire.encode_to_vec()
}

/// Decodes a `Wire` and returns its plaintext payload, opening it with `key` when there is one.
pub fn open(bytes: &[u8], key: Option<&RingKey>) -> Result<Vec<u8>, WireError> {
    let wire = Wire::decode(bytes)?;
    let payload = wire.payload.unwrap_or_default();
    let Some(key) = key else {
        return Ok(payload);
    };
    let nonce = wire.nonce.ok_or(WireError::MissingNonce)?;
    if nonce.len() != NONCE_LEN {
        return Err(WireError::BadNonce(nonce.len()));
    }
    let cipher = XSalsa20Poly1305::new(key.secret().into());
    cipher
        .decrypt(Nonce::from_slice(&nonce), payload.as_slice())
        .map_err(|_| WireError::Decrypt)
}

/// Length of the `Wire` that [`seal`] produces for a payload of `payload_len` bytes.
pub fn sealed_len(payload_len: usize, encrypted: bool) -> usize {
    if encrypted {
        let inner = payload_len + MAC_LEN;
        // encrypted = true (tag + 1 byte), nonce (tag + length + 24), payload (tag + length + bytes)
        2 + (2 + NONCE_LEN) + 1 + prost::encoding::encoded_len_varint(inner as u64) + inner
    } else {
        1 + prost::encoding::encoded_len_varint(payload_len as u64) + payload_len
    }
}
