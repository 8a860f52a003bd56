//! `warren-persist`: the Supervisor's on-disk state, in Habitat's formats, so Warren can take over
//! a Habitat Supervisor's root directory in place (spec §3.3, §5.4, §5.5, §12.3).
//!
//! Under a supervisor root (Habitat: `<fs-root>/hab/sup/default`):
//!
//! | path | module |
//! |---|---|
//! | `MEMBER_ID` | [`member_id`]: 32 hex digits, no newline, created once |
//! | `data/INCARNATION` | [`incarnation`]: decimal text |
//! | `data/<member_id>.rst` | [`rumor_file`]: Habitat's "rumors.dat", v2 written, v1 and v2 read |
//! | `data/ELECTIONS` | [`elections`]: Warren's own, the last agreed result of each election |
//! | `data/*.tmp` | [`atomic::clean_temp_files`] deletes leftovers at startup |
//!
//! Every write is atomic ([`atomic::write_atomic`]): a temporary file in the same directory,
//! fsynced, renamed over the target, then the directory fsynced. Reading never panics on any
//! content; a rumor file that cannot be read is set aside so the Supervisor still starts
//! ([`rumor_file::load_rumors_or_set_aside`]).
//!
//! This crate does not decide when to save (Habitat: every 30 s and at shutdown), does not insert
//! what it loads into the ring, does not hold the `LOCK` file, and does not handle `CTL_SECRET`,
//! `specs/` or `*.health` files.

#![forbid(unsafe_code)]

pub mod atomic;
pub mod elections;
pub mod error;
pub mod incarnation;
pub mod member_id;
pub mod rumor_file;

use std::path::{Path, PathBuf};

pub use atomic::{clean_temp_files, write_atomic};
pub use error::{PersistError, Result};
pub use incarnation::Incarnation;
pub use member_id::MemberIdFile;
pub use rumor_file::{
    RumorFile, SetAside, decode_rumor_file, encode_rumor_file, load_rumors_or_set_aside,
    read_rumors, write_rumors,
};

/// The data directory under a supervisor root: `<sup_root>/data`.
pub fn data_dir(sup_root: &Path) -> PathBuf {
    sup_root.join("data")
}

/// The rumor file of member `id` in `data_dir`: `<data_dir>/<id>.rst`.
pub fn rumor_file_path(data_dir: &Path, id: &warren_ring::MemberId) -> PathBuf {
    data_dir.join(format!("{}.rst", id.as_str()))
}
