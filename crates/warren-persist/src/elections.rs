//! `<sup_root>/data/ELECTIONS`: Warren's own state, not Habitat's: the last finished result of
//! each election this member took part in (`warren_ring::AgreedResult`), so that after a restart
//! it judges quorum against the population its group agreed on.
//!
//! One line per result, tab-separated: `leader|update`, the service group, the term, and the
//! voters separated by commas. Written atomically; a line that does not parse is skipped (the
//! file is advisory: without it a member learns the result again from its peers), never fatal.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use warren_ring::{AgreedResult, ElectionKind, MemberId};

use crate::atomic::write_atomic;
use crate::error::{PersistError, Result};

/// The file's name.
pub const FILE_NAME: &str = "ELECTIONS";

/// `<data_dir>/ELECTIONS`.
pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE_NAME)
}

/// The file's text for `results`.
pub fn encode(results: &[AgreedResult]) -> String {
    let mut out = String::new();
    for r in results {
        let kind = match r.kind {
            ElectionKind::Leader => "leader",
            ElectionKind::Update => "update",
        };
        let voters: Vec<&str> = r.voters.iter().map(MemberId::as_str).collect();
        out.push_str(&format!(
            "{kind}\t{}\t{}\t{}\n",
            r.service_group,
            r.term,
            voters.join(",")
        ));
    }
    out
}

/// Parses the file's text; returns the results and how many lines were skipped.
pub fn decode(text: &str) -> (Vec<AgreedResult>, usize) {
    let mut results = Vec::new();
    let mut skipped = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        match parse_line(line) {
            Some(r) => results.push(r),
            None => skipped += 1,
        }
    }
    (results, skipped)
}

fn parse_line(line: &str) -> Option<AgreedResult> {
    let mut parts = line.split('\t');
    let kind = match parts.next()? {
        "leader" => ElectionKind::Leader,
        "update" => ElectionKind::Update,
        _ => return None,
    };
    let service_group = parts.next().filter(|s| !s.is_empty())?.to_owned();
    let term = parts.next()?.parse().ok()?;
    let voters: Vec<MemberId> = parts
        .next()?
        .split(',')
        .filter(|v| !v.is_empty())
        .map(MemberId::from)
        .collect();
    if parts.next().is_some() || voters.is_empty() {
        return None;
    }
    Some(AgreedResult {
        kind,
        service_group,
        term,
        voters,
    })
}

/// Writes `results` atomically.
pub fn store(data_dir: &Path, results: &[AgreedResult]) -> Result<()> {
    write_atomic(&path(data_dir), encode(results).as_bytes())
}

/// Reads the file: nothing when it does not exist; unparsable lines are skipped and counted.
pub fn load(data_dir: &Path) -> Result<(Vec<AgreedResult>, usize)> {
    let p = path(data_dir);
    match fs::read(&p) {
        Ok(bytes) => Ok(decode(&String::from_utf8_lossy(&bytes))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok((Vec::new(), 0)),
        Err(e) => Err(PersistError::io("read", p, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_skips_bad_lines() {
        let results = vec![
            AgreedResult {
                kind: ElectionKind::Leader,
                service_group: "redis.default".into(),
                term: 7,
                voters: vec![MemberId::from("a"), MemberId::from("b")],
            },
            AgreedResult {
                kind: ElectionKind::Update,
                service_group: "redis.default@acme".into(),
                term: 0,
                voters: vec![MemberId::from("c")],
            },
        ];
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        store(dir.path(), &results).unwrap_or_else(|e| panic!("{e}"));
        let (back, skipped) = load(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((back, skipped), (results, 0));
        let (some, skipped) =
            decode("leader\tx.y\t1\ta\nnope\nleader\tx.y\tNaN\ta\nupdate\t\t1\ta\n");
        assert_eq!((some.len(), skipped), (1, 3));
        let (none, _) = load(&dir.path().join("missing")).unwrap_or_else(|e| panic!("{e}"));
        assert!(none.is_empty());
    }
}
