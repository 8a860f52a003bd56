//! Ring keys in Habitat's `SYM-SEC-1` file format (spec §1.4).
//!
//! A [`RingKey`] is the 32-byte secretbox key shared by every member of an encrypted ring, with
//! the name and revision its file carries. This module parses, generates and prints key files;
//! it does not read or write the key cache, pick the newest revision, or encrypt anything (see
//! `envelope.rs`).

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use thiserror::Error;

/// The first line of every ring key file.
pub const HEADER: &str = "SYM-SEC-1";

/// Length of a ring key in bytes.
pub const KEY_LEN: usize = 32;

/// Length of a revision: `YYYYMMDDhhmmss`.
const REVISION_LEN: usize = 14;

/// Why a ring key file (or a name and revision for a new key) was rejected.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// The text ends before the given line.
    #[error("line {line}: missing; a ring key file has 4 lines ({expected})")]
    MissingLine {
        /// 1-based line number.
        line: usize,
        /// What that line should hold.
        expected: &'static str,
    },
    /// Line 1 is not `SYM-SEC-1`.
    #[error("line 1: expected \"SYM-SEC-1\", found {found:?}")]
    BadHeader {
        /// What line 1 holds.
        found: String,
    },
    /// Line 2 is not `<name>-<14 digits>`.
    #[error("line 2: expected <name>-<revision> with a 14-digit revision, found {found:?}")]
    BadNameRevision {
        /// What line 2 holds.
        found: String,
    },
    /// Line 3 is not empty.
    #[error("line 3: expected an empty line, found {found:?}")]
    NotBlank {
        /// What line 3 holds.
        found: String,
    },
    /// Line 4 is not standard base64.
    #[error("line 4: the key is not valid base64: {reason}")]
    BadBase64 {
        /// The decoder's complaint.
        reason: String,
    },
    /// Line 4 decodes to the wrong number of bytes.
    #[error("line 4: the key is {len} bytes, expected 32")]
    BadKeyLength {
        /// Decoded length.
        len: usize,
    },
    /// Text follows the key line.
    #[error("line {line}: unexpected text after the key")]
    TrailingText {
        /// 1-based line number.
        line: usize,
    },
    /// A name for a new key is empty or contains a line break.
    #[error("invalid ring key name {0:?}: must be non-empty and on one line")]
    BadName(String),
    /// A revision for a new key is not 14 digits.
    #[error("invalid revision {0:?}: expected 14 digits YYYYMMDDhhmmss")]
    BadRevision(String),
}

/// A ring key: name, revision and the 32-byte XSalsa20-Poly1305 key. `Debug` hides the key.
#[derive(Clone, PartialEq, Eq)]
pub struct RingKey {
    name: String,
    revision: String,
    key: [u8; KEY_LEN],
}

impl RingKey {
    /// Parses the text of a `SYM-SEC-1` ring key file.
    ///
    /// Lines may end in `\n` or `\r\n`; blank lines after the key are ignored.
    pub fn parse(text: &str) -> Result<RingKey, KeyError> {
        let mut lines = text.lines();
        let mut next = |line: usize, expected: &'static str| {
            lines.next().ok_or(KeyError::MissingLine { line, expected })
        };
        let header = next(1, "SYM-SEC-1")?;
        if header != HEADER {
            return Err(KeyError::BadHeader {
                found: header.to_owned(),
            });
        }
        let name_rev = next(2, "<name>-<revision>")?;
        let (name, revision) =
            split_name_revision(name_rev).ok_or_else(|| KeyError::BadNameRevision {
                found: name_rev.to_owned(),
            })?;
        let blank = next(3, "an empty line")?;
        if !blank.is_empty() {
            return Err(KeyError::NotBlank {
                found: blank.to_owned(),
            });
        }
        let encoded = next(4, "the base64 key")?.trim();
        let bytes = STANDARD.decode(encoded).map_err(|e| KeyError::BadBase64 {
            reason: e.to_string(),
        })?;
        let key: [u8; KEY_LEN] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| KeyError::BadKeyLength { len: bytes.len() })?;
        for (i, rest) in lines.enumerate() {
            if !rest.trim().is_empty() {
                return Err(KeyError::TrailingText { line: 5 + i });
            }
        }
        Ok(RingKey {
            name: name.to_owned(),
            revision: revision.to_owned(),
            key,
        })
    }

    /// A new random key named `name` at `revision` (14 digits, `YYYYMMDDhhmmss`).
    pub fn generate(
        name: &str,
        revision: &str,
        rng: &mut impl RngCore,
    ) -> Result<RingKey, KeyError> {
        if name.is_empty() || name.contains(['\n', '\r']) {
            return Err(KeyError::BadName(name.to_owned()));
        }
        if !is_revision(revision) {
            return Err(KeyError::BadRevision(revision.to_owned()));
        }
        let mut key = [0u8; KEY_LEN];
        rng.fill_bytes(&mut key);
        Ok(RingKey {
            name: name.to_owned(),
            revision: revision.to_owned(),
            key,
        })
    }

    /// The key's name (line 2 before the last hyphen).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key's revision, 14 digits.
    pub fn revision(&self) -> &str {
        &self.revision
    }

    /// `<name>-<revision>`, as on line 2.
    pub fn name_with_rev(&self) -> String {
        format!("{}-{}", self.name, self.revision)
    }

    /// The file name Habitat stores it under: `<name>-<revision>.sym.key`.
    pub fn file_name(&self) -> String {
        format!("{}.sym.key", self.name_with_rev())
    }

    /// The file's text, as Habitat writes it (four lines, no newline after the key).
    pub fn to_file_string(&self) -> String {
        format!(
            "{HEADER}\n{}\n\n{}",
            self.name_with_rev(),
            STANDARD.encode(self.key)
        )
    }

    /// The raw key bytes.
    pub(crate) fn secret(&self) -> &[u8; KEY_LEN] {
        &self.key
    }
}

impl FromStr for RingKey {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RingKey::parse(s)
    }
}

impl fmt::Debug for RingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RingKey")
            .field("name", &self.name)
            .field("revision", &self.revision)
            .field("key", &"<redacted>")
            .finish()
    }
}

fn is_revision(s: &str) -> bool {
    s.len() == REVISION_LEN && s.bytes().all(|b| b.is_ascii_digit())
}

/// Splits `<name>-<14 digits>` at its last hyphen; `None` if it is not of that form.
fn split_name_revision(line: &str) -> Option<(&str, &str)> {
    let (name, revision) = line.rsplit_once('-')?;
    (!name.is_empty() && is_revision(revision)).then_some((name, revision))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use rand_xoshiro::rand_core::SeedableRng;

    const GOOD: &str =
        "SYM-SEC-1\nring-20260101000000\n\nnYDtluLFgA/29R8mmCmU3qc6uwTdJqw2s1q0NJL5RM0=";

    #[test]
    fn parses_and_prints() {
        let k = RingKey::parse(GOOD).unwrap();
        assert_eq!(k.name(), "ring");
        assert_eq!(k.revision(), "20260101000000");
        assert_eq!(k.file_name(), "ring-20260101000000.sym.key");
        assert_eq!(k.to_file_string(), GOOD);
        assert!(!format!("{k:?}").contains("nYDt"));
        let crlf = GOOD.replace('\n', "\r\n") + "\r\n";
        assert_eq!(RingKey::parse(&crlf).unwrap(), k);
    }

    #[test]
    fn name_may_contain_hyphens() {
        let k = RingKey::parse(&GOOD.replace("ring-", "my-ring-")).unwrap();
        assert_eq!(k.name(), "my-ring");
    }

    #[test]
    fn errors_name_the_line() {
        let cases = [
            ("", "line 1: missing"),
            ("SYM-SEC-2\n", "line 1: expected"),
            ("SYM-SEC-1", "line 2: missing"),
            ("SYM-SEC-1\nring-2026\n", "line 2: expected"),
            ("SYM-SEC-1\n-20260101000000\n", "line 2: expected"),
            ("SYM-SEC-1\nring-20260101000000x\n", "line 2: expected"),
            ("SYM-SEC-1\nring-20260101000000\n", "line 3: missing"),
            (
                "SYM-SEC-1\nring-20260101000000\nx\n",
                "line 3: expected an empty line",
            ),
            ("SYM-SEC-1\nring-20260101000000\n\n", "line 4: missing"),
            (
                "SYM-SEC-1\nring-20260101000000\n\n!!!\n",
                "line 4: the key is not valid base64",
            ),
            (
                "SYM-SEC-1\nring-20260101000000\n\nAAAA\n",
                "line 4: the key is 3 bytes",
            ),
        ];
        for (text, want) in cases {
            let err = RingKey::parse(text).unwrap_err().to_string();
            assert!(err.starts_with(want), "{text:?}: {err}");
        }
        let trailing = format!("{GOOD}\n\nmore\n");
        assert_eq!(
            RingKey::parse(&trailing).unwrap_err(),
            KeyError::TrailingText { line: 6 }
        );
    }

    #[test]
    fn generate_validates_and_roundtrips() {
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(1);
        let k = RingKey::generate("prod", "20261124000000", &mut rng).unwrap();
        assert_eq!(RingKey::parse(&k.to_file_string()).unwrap(), k);
        assert!(RingKey::generate("", "20261124000000", &mut rng).is_err());
        assert!(RingKey::generate("a\nb", "20261124000000", &mut rng).is_err());
        assert!(RingKey::generate("prod", "2026112400000", &mut rng).is_err());
    }
}
