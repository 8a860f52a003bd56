//! Atomic file replacement and cleanup of the temporary files it leaves after a crash.
//!
//! [`write_atomic`] writes a temporary `*.tmp` file next to the target, fsyncs it, renames it over
//! the target and fsyncs the directory, so a reader sees the old content or the new, never a mix,
//! even across a power loss. [`clean_temp_files`] deletes the `*.tmp` leftovers of interrupted
//! writes, as Habitat does for `data/` at startup. This module does not lock files: two writers of
//! one target are kept apart by the Supervisor's `LOCK`, not here.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{PersistError, Result};

/// Suffix of temporary files; Habitat deletes `data/*.tmp` at startup.
pub const TEMP_SUFFIX: &str = ".tmp";

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Replaces `path` with `bytes` atomically, creating its directory (and parents) as needed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = parent_dir(path);
    fs::create_dir_all(&dir).map_err(|e| PersistError::io("create directory", &dir, e))?;
    let tmp = temp_path(path);
    let result = write_and_sync(&tmp, bytes)
        .and_then(|()| fs::rename(&tmp, path).map_err(|e| PersistError::io("rename", &tmp, e)));
    if result.is_err() {
        // Best effort: the leftover would be deleted by the next clean_temp_files anyway.
        let _ = fs::remove_file(&tmp);
    }
    result?;
    sync_dir(&dir)
}

/// Deletes the regular files ending in `.tmp` directly in `data_dir`; returns how many.
///
/// A missing directory has nothing to clean.
pub fn clean_temp_files(data_dir: &Path) -> Result<usize> {
    let entries = match fs::read_dir(data_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(PersistError::io("list", data_dir, e)),
    };
    let mut removed = 0;
    for entry in entries {
        let entry = entry.map_err(|e| PersistError::io("list", data_dir, e))?;
        let path = entry.path();
        let is_temp = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with(TEMP_SUFFIX));
        let is_file = entry.file_type().is_ok_and(|t| t.is_file());
        if is_temp && is_file {
            match fs::remove_file(&path) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(PersistError::io("remove", &path, e)),
            }
        }
    }
    Ok(removed)
}

/// Fsyncs a directory so a rename in it survives a crash. A no-op where directories cannot be
/// opened as files (not Unix).
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    if cfg!(unix) {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| PersistError::io("sync directory", dir, e))?;
    }
    Ok(())
}

/// The directory holding `path` (`.` for a bare file name).
pub(crate) fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = format!(".{name}.{}-{n}{TEMP_SUFFIX}", std::process::id());
    parent_dir(path).join(tmp)
}

fn write_and_sync(tmp: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(tmp)
        .map_err(|e| PersistError::io("create", tmp, e))?;
    file.write_all(bytes)
        .map_err(|e| PersistError::io("write", tmp, e))?;
    file.sync_all()
        .map_err(|e| PersistError::io("sync", tmp, e))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn replaces_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/file");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn cleans_only_tmp_files() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(clean_temp_files(&dir.path().join("missing")).unwrap(), 0);
        fs::write(dir.path().join("x.rst.tmp"), b"").unwrap();
        fs::write(dir.path().join(".y.1-2.tmp"), b"").unwrap();
        fs::write(dir.path().join("keep.rst"), b"").unwrap();
        fs::create_dir(dir.path().join("dir.tmp")).unwrap();
        assert_eq!(clean_temp_files(dir.path()).unwrap(), 2);
        assert!(dir.path().join("keep.rst").exists());
        assert!(dir.path().join("dir.tmp").exists());
    }
}
