//! Why reading or writing the on-disk state failed.
//!
//! Every variant names the file it is about. This module only describes failures; callers decide
//! whether to stop, log, or set a file aside.

use std::io;
use std::path::PathBuf;

use thiserror::Error;

/// Shorthand for results of this crate.
pub type Result<T, E = PersistError> = std::result::Result<T, E>;

/// A failure to read or write the Supervisor's on-disk state.
#[derive(Debug, Error)]
pub enum PersistError {
    /// An I/O operation failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was being done ("read", "rename", ...).
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// `MEMBER_ID` does not hold 32 hex digits.
    #[error("{}: not a member id (expected 32 hex digits): {content:?}", path.display())]
    BadMemberId {
        /// The file.
        path: PathBuf,
        /// What it holds (cut to 80 characters).
        content: String,
    },
    /// `INCARNATION` does not hold a decimal u64.
    #[error("{}: not an incarnation (expected a decimal number): {content:?}", path.display())]
    BadIncarnation {
        /// The file.
        path: PathBuf,
        /// What it holds (cut to 80 characters).
        content: String,
    },
    /// The rumor file is empty, or its header is cut short.
    #[error("{}: rumor file header truncated: {len} bytes, need {need}", path.display())]
    TruncatedHeader {
        /// The file.
        path: PathBuf,
        /// Length of the file.
        len: usize,
        /// Bytes the header needs.
        need: u64,
    },
    /// The rumor file's first byte is neither 1 nor 2.
    #[error("{}: unsupported rumor file version {version}", path.display())]
    BadRumorVersion {
        /// The file.
        path: PathBuf,
        /// The first byte.
        version: u8,
    },
    /// A version 2 header_size smaller than the 64 bytes the header needs.
    #[error("{}: rumor file header_size {header_size} is below 64", path.display())]
    BadHeaderSize {
        /// The file.
        path: PathBuf,
        /// The value read.
        header_size: u64,
    },
    /// A section's length runs past the end of the file.
    #[error(
        "{}: {section} section truncated: {len} bytes at offset {offset}, file has {file_len}",
        path.display()
    )]
    TruncatedSection {
        /// The file.
        path: PathBuf,
        /// The section's name.
        section: &'static str,
        /// Where the section starts.
        offset: u64,
        /// The length its header claims.
        len: u64,
        /// Length of the file.
        file_len: usize,
    },
}

impl PersistError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        PersistError::Io {
            op,
            path: path.into(),
            source,
        }
    }
}

/// `text` cut to at most 80 characters, for error messages.
pub(crate) fn excerpt(text: &str) -> String {
    text.chars().take(80).collect()
}
