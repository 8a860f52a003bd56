//! `<sup_root>/data/INCARNATION`: this Supervisor's own SWIM incarnation (spec §3.3).
//!
//! Plain decimal text, written atomically. It is loaded at start and not incremented there; only
//! the ring raises it (refutation, ProbePing, departure). This module only reads and writes the
//! number; it does not decide when to store it.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::atomic::write_atomic;
use crate::error::{PersistError, Result, excerpt};

/// The `INCARNATION` file of a data directory.
#[derive(Clone, Copy, Debug)]
pub struct Incarnation;

impl Incarnation {
    /// The file's name.
    pub const FILE_NAME: &'static str = "INCARNATION";

    /// `<data_dir>/INCARNATION`.
    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join(Self::FILE_NAME)
    }

    /// Reads the incarnation: 0 when the file does not exist; surrounding whitespace is ignored;
    /// anything but a decimal u64 is an error naming the file and its content.
    pub fn load(data_dir: &Path) -> Result<u64> {
        let path = Self::path(data_dir);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(PersistError::io("read", path, e)),
        };
        let text = String::from_utf8_lossy(&bytes);
        let digits = text.trim();
        // `u64::from_str` accepts a leading '+'; Habitat's file never has one.
        match digits.parse::<u64>() {
            Ok(n) if digits.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
            _ => Err(PersistError::BadIncarnation {
                content: excerpt(&text),
                path,
            }),
        }
    }

    /// Writes `incarnation` as decimal text, atomically, creating `data_dir` as needed.
    pub fn store(data_dir: &Path, incarnation: u64) -> Result<()> {
        write_atomic(&Self::path(data_dir), incarnation.to_string().as_bytes())
    }
}
