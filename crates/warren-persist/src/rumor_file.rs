//! `<data>/<member_id>.rst`: Habitat's rumor file ("rumors.dat", spec §5.4).
//!
//! Written in the version 2 layout exactly: version byte 2, u64 LE `header_size` = 64, seven
//! u64 LE section lengths (membership, service, service config, service file, election, election
//! update, departure), then the sections back to back. A section is a run of records, each a
//! u64 LE length and that many protobuf bytes: a bare `butterfly.swim.Membership` in the
//! membership section, a complete bare `butterfly.newscast.Rumor` in the others (no `Wire`
//! envelope, never encrypted). Version 1 files (six lengths, no `header_size`, no departures)
//! are read too.
//!
//! Reading never panics. A file whose structure is broken (no header, unknown version, a
//! section running past the end) is an error; a record that does not decode, that sits in the
//! wrong section, or whose length runs past its section is skipped and counted, and the rest of
//! the file is still read. Bytes after the last section are ignored.
//!
//! This module does not insert what it reads into the ring (Habitat does that through the
//! ordinary insert paths, memberships first) and does not decide when to save.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use warren_ring::{Membership, Rumor};

use crate::atomic::{parent_dir, sync_dir, write_atomic};
use crate::error::{PersistError, Result};

/// The version this crate writes.
pub const VERSION: u8 = 2;

/// The version 2 `header_size`: itself plus seven section lengths (the version byte is not
/// counted).
pub const HEADER_SIZE: u64 = 64;

/// Offset of the first section in a version 1 file.
pub const V1_SECTIONS_START: usize = 1 + 6 * 8;

/// The sections in file order.
pub const SECTIONS: [&str; 7] = [
    "membership",
    "service",
    "service-config",
    "service-file",
    "election",
    "election-update",
    "departure",
];

const U64: usize = 8;

/// The content of a rumor file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RumorFile {
    /// The membership section, in file order.
    pub members: Vec<Membership>,
    /// The other sections, in file order: services, service configs, service files, elections,
    /// election updates, departures.
    pub rumors: Vec<Rumor>,
    /// Records skipped because they did not decode, were in the wrong section, or ran past the
    /// end of their section.
    pub skipped: usize,
}

/// A rumor file that could not be read and was moved out of the way.
#[derive(Debug)]
pub struct SetAside {
    /// Where the file now is; `None` if renaming it failed too (see `rename_error`).
    pub moved_to: Option<PathBuf>,
    /// Why the file could not be read.
    pub reason: PersistError,
    /// Why it could not be moved, if it could not.
    pub rename_error: Option<PersistError>,
}

/// The index in [`SECTIONS`] of the section a rumor belongs in (0, membership, for a Member rumor).
fn section_of(rumor: &Rumor) -> usize {
    match rumor {
        Rumor::Member { .. } => 0,
        Rumor::Service(_) => 1,
        Rumor::ServiceConfig(_) => 2,
        Rumor::ServiceFile(_) => 3,
        Rumor::Election(_) => 4,
        Rumor::ElectionUpdate(_) => 5,
        Rumor::Departure(_) => 6,
    }
}

/// Encodes `members` and `rumors` in the version 2 layout.
///
/// Each rumor goes to its kind's section, keeping the given order within a section. A
/// `Rumor::Member` in `rumors` is written as a membership record after `members` (the file has
/// no place for its sender).
pub fn encode_rumor_file(members: &[Membership], rumors: &[Rumor]) -> Vec<u8> {
    let mut sections: [Vec<u8>; 7] = Default::default();
    for m in members {
        push_record(&mut sections[0], &warren_wire::encode_membership_record(m));
    }
    for r in rumors {
        let body = match r {
            Rumor::Member { membership, .. } => warren_wire::encode_membership_record(membership),
            _ => warren_wire::encode_rumor_record(r),
        };
        push_record(&mut sections[section_of(r)], &body);
    }
    let body_len: usize = sections.iter().map(Vec::len).sum();
    let mut out = Vec::with_capacity(1 + HEADER_SIZE as usize + body_len);
    out.push(VERSION);
    out.extend_from_slice(&HEADER_SIZE.to_le_bytes());
    for s in &sections {
        out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    }
    for s in &sections {
        out.extend_from_slice(s);
    }
    out
}

fn push_record(section: &mut Vec<u8>, body: &[u8]) {
    section.extend_from_slice(&(body.len() as u64).to_le_bytes());
    section.extend_from_slice(body);
}

/// Writes the rumor file at `path` atomically (version 2), creating its directory as needed.
///
/// `path` is normally [`crate::rumor_file_path`]`(data_dir, local_id)`: Habitat reads
/// `<data>/<own member id>.rst` at startup.
pub fn write_rumors(path: &Path, members: &[Membership], rumors: &[Rumor]) -> Result<()> {
    let bytes = encode_rumor_file(members, rumors);
    write_atomic(path, &bytes)
}

/// Reads the rumor file at `path` (version 1 or 2). A missing file is an `Io` error of kind
/// `NotFound`.
pub fn read_rumors(path: &Path) -> Result<RumorFile> {
    let bytes = fs::read(path).map_err(|e| PersistError::io("read", path, e))?;
    decode_rumor_file(path, &bytes)
}

/// Decodes rumor file bytes (version 1 or 2); never panics. `path` only names the file in
/// errors.
pub fn decode_rumor_file(path: &Path, bytes: &[u8]) -> Result<RumorFile> {
    let truncated = |need: u64| PersistError::TruncatedHeader {
        path: path.to_path_buf(),
        len: bytes.len(),
        need,
    };
    let Some(&version) = bytes.first() else {
        return Err(truncated(1));
    };
    let mut lengths = [0u64; 7];
    let start: usize = match version {
        1 => {
            if bytes.len() < V1_SECTIONS_START {
                return Err(truncated(V1_SECTIONS_START as u64));
            }
            for (i, len) in lengths.iter_mut().take(6).enumerate() {
                *len = read_u64(bytes, 1 + i * U64).unwrap_or(0);
            }
            V1_SECTIONS_START
        }
        2 => {
            let header_size = read_u64(bytes, 1).ok_or_else(|| truncated(1 + U64 as u64))?;
            if header_size < HEADER_SIZE {
                return Err(PersistError::BadHeaderSize {
                    path: path.to_path_buf(),
                    header_size,
                });
            }
            // A larger header_size (a later version's extra fields) is skipped over.
            let start = usize::try_from(header_size)
                .ok()
                .and_then(|h| h.checked_add(1))
                .filter(|&s| s <= bytes.len())
                .ok_or_else(|| truncated(header_size.saturating_add(1)))?;
            for (i, len) in lengths.iter_mut().enumerate() {
                *len = read_u64(bytes, 1 + U64 + i * U64).unwrap_or(0);
            }
            start
        }
        version => {
            return Err(PersistError::BadRumorVersion {
                path: path.to_path_buf(),
                version,
            });
        }
    };

    // Check the whole structure before decoding anything.
    let mut sections: [&[u8]; 7] = [&[]; 7];
    let mut offset = start;
    for (i, &len) in lengths.iter().enumerate() {
        let range = usize::try_from(len)
            .ok()
            .and_then(|l| offset.checked_add(l))
            .filter(|&end| end <= bytes.len())
            .map(|end| offset..end);
        let Some(range) = range else {
            return Err(PersistError::TruncatedSection {
                path: path.to_path_buf(),
                section: SECTIONS[i],
                offset: offset as u64,
                len,
                file_len: bytes.len(),
            });
        };
        offset = range.end;
        sections[i] = &bytes[range];
    }

    let mut file = RumorFile::default();
    for (i, section) in sections.iter().enumerate() {
        let records = split_records(section, &mut file.skipped);
        for body in records {
            if i == 0 {
                match warren_wire::decode_membership_record(body) {
                    Ok(m) => file.members.push(m),
                    Err(_) => file.skipped += 1,
                }
            } else {
                match warren_wire::decode_rumor_record(body) {
                    Ok(r) if section_of(&r) == i => file.rumors.push(r),
                    _ => file.skipped += 1,
                }
            }
        }
    }
    Ok(file)
}

/// The record bodies of a section; a record running past the section's end ends it and counts
/// as one skipped record.
fn split_records<'a>(mut section: &'a [u8], skipped: &mut usize) -> Vec<&'a [u8]> {
    let mut records = Vec::new();
    while !section.is_empty() {
        let body = read_u64(section, 0)
            .and_then(|n| usize::try_from(n).ok())
            .and_then(|n| section.get(U64..U64.checked_add(n)?));
        let Some(body) = body else {
            *skipped += 1;
            break;
        };
        section = &section[U64 + body.len()..];
        records.push(body);
    }
    records
}

fn read_u64(bytes: &[u8], at: usize) -> Option<u64> {
    let raw = bytes.get(at..at.checked_add(U64)?)?;
    let mut buf = [0u8; U64];
    buf.copy_from_slice(raw);
    Some(u64::from_le_bytes(buf))
}

/// Reads the rumor file at `path` for startup, never failing: a missing file gives an empty
/// [`RumorFile`]; a file that cannot be read is renamed to `<name>.corrupt-<unix-seconds>` (with
/// `-<n>` appended if that exists) and an empty [`RumorFile`] is returned with the reason, so
/// the Supervisor still starts and the evidence is kept.
pub fn load_rumors_or_set_aside(path: &Path) -> (RumorFile, Option<SetAside>) {
    let reason = match read_rumors(path) {
        Ok(file) => return (file, None),
        Err(PersistError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
            return (RumorFile::default(), None);
        }
        Err(e) => e,
    };
    let (moved_to, rename_error) = match set_aside(path) {
        Ok(to) => (Some(to), None),
        Err(e) => (None, Some(e)),
    };
    (
        RumorFile::default(),
        Some(SetAside {
            moved_to,
            reason,
            rename_error,
        }),
    )
}

fn set_aside(path: &Path) -> Result<PathBuf> {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = parent_dir(path);
    let mut target = dir.join(format!("{name}.corrupt-{secs}"));
    let mut n = 1u32;
    while target.exists() {
        target = dir.join(format!("{name}.corrupt-{secs}-{n}"));
        n = n.saturating_add(1);
    }
    fs::rename(path, &target).map_err(|e| PersistError::io("rename", path, e))?;
    sync_dir(&dir)?;
    Ok(target)
}
