//! `<sup_root>/MEMBER_ID`: this Supervisor's member id, kept across restarts (spec §5.5).
//!
//! The file holds 32 hex digits with no trailing newline. Reading tolerates surrounding
//! whitespace (hand-edited files) and rejects anything else, naming the file; it never replaces
//! a bad file, since a new id would make this Supervisor a stranger to its ring. This module does
//! not check that the id is a valid UUIDv4, only that it has Habitat's shape.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use rand::RngCore;
use warren_ring::MemberId;

use crate::atomic::write_atomic;
use crate::error::{PersistError, Result, excerpt};

/// The `MEMBER_ID` file of a supervisor root.
#[derive(Clone, Copy, Debug)]
pub struct MemberIdFile;

impl MemberIdFile {
    /// The file's name.
    pub const FILE_NAME: &'static str = "MEMBER_ID";

    /// `<sup_root>/MEMBER_ID`.
    pub fn path(sup_root: &Path) -> PathBuf {
        sup_root.join(Self::FILE_NAME)
    }

    /// Reads the member id, or `None` when the file does not exist.
    pub fn load(sup_root: &Path) -> Result<Option<MemberId>> {
        let path = Self::path(sup_root);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(PersistError::io("read", path, e)),
        };
        let text = String::from_utf8_lossy(&bytes);
        let id = text.trim();
        if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(PersistError::BadMemberId {
                content: excerpt(&text),
                path,
            });
        }
        Ok(Some(MemberId::new(id)))
    }

    /// Reads the member id, or creates the file with a fresh random id from `rng` (atomically,
    /// creating `sup_root` as needed) when it does not exist.
    pub fn load_or_create(sup_root: &Path, rng: &mut impl RngCore) -> Result<MemberId> {
        if let Some(id) = Self::load(sup_root)? {
            return Ok(id);
        }
        let id = MemberId::random(rng);
        write_atomic(&Self::path(sup_root), id.as_str().as_bytes())?;
        Ok(id)
    }
}
