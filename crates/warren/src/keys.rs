//! Ring keys on disk: loading `--ring-key-file`, `--ring NAME` (newest revision in the key cache)
//! and `HAB_RING_KEY` (the file's text, which is also written into the cache), and writing new
//! keys for `warren ring key generate`. Parsing and crypto are `warren-wire`'s.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use warren_wire::RingKey;

/// Reads and parses a key file; the error names the file and the problem.
pub(crate) fn load_file(path: &Path) -> Result<RingKey> {
    let text =
        fs::read_to_string(path).map_err(|e| anyhow!("ring key file {}: {e}", path.display()))?;
    RingKey::parse(&text).map_err(|e| anyhow!("ring key file {}: {e}", path.display()))
}

/// The newest revision of ring `name` in `cache`.
pub(crate) fn load_newest(cache: &Path, name: &str) -> Result<RingKey> {
    let prefix = format!("{name}-");
    let mut best: Option<(String, PathBuf)> = None;
    let entries = fs::read_dir(cache).map_err(|e| {
        anyhow!(
            "ring {name}: cannot read key cache {}: {e}",
            cache.display()
        )
    })?;
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = file.strip_prefix(&prefix) else {
            continue;
        };
        let Some(rev) = rest.strip_suffix(".sym.key") else {
            continue;
        };
        let valid = rev.len() == 14 && rev.bytes().all(|b| b.is_ascii_digit());
        if valid && best.as_ref().is_none_or(|(r, _)| rev > r.as_str()) {
            best = Some((rev.to_owned(), entry.path()));
        }
    }
    match best {
        Some((_, path)) => load_file(&path),
        None => bail!(
            "ring {name}: no key {name}-<revision>.sym.key in {}",
            cache.display()
        ),
    }
}

/// Writes `key` into `cache` as `<name>-<rev>.sym.key`, mode 0400; returns its path.
pub(crate) fn write(cache: &Path, key: &RingKey) -> Result<PathBuf> {
    fs::create_dir_all(cache).with_context(|| format!("creating {}", cache.display()))?;
    let path = cache.join(key.file_name());
    if path.exists() {
        return Ok(path);
    }
    let tmp = cache.join(format!(".{}.tmp", key.file_name()));
    {
        let mut f = fs::File::create(&tmp).with_context(|| format!("writing {}", tmp.display()))?;
        f.write_all(key.to_file_string().as_bytes())?;
        f.sync_all()?;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&tmp, fs::Permissions::from_mode(0o400))?;
    }
    fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// A revision stamp `YYYYMMDDhhmmss` (UTC) for a new key.
pub(crate) fn revision_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}{m:02}{d:02}{:02}{:02}{:02}",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_781), (2026, 11, 24));
    }

    #[test]
    fn newest_revision_wins_and_bad_files_are_named() {
        let dir = std::env::temp_dir().join(format!("warren-keys-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::from_seed([7; 32]);
        use rand::SeedableRng;
        let old = RingKey::generate("ring", "20250101000000", &mut rng).unwrap();
        let new = RingKey::generate("ring", "20260101000000", &mut rng).unwrap();
        write(&dir, &old).unwrap();
        write(&dir, &new).unwrap();
        let got = load_newest(&dir, "ring").unwrap();
        assert_eq!(got.revision(), "20260101000000");
        assert!(load_newest(&dir, "other").is_err());
        let bad = dir.join("bad.key");
        fs::write(&bad, "SYM-SEC-1\nnope\n\nAAAA\n").unwrap();
        let err = load_file(&bad).unwrap_err().to_string();
        assert!(err.contains("bad.key"), "{err}");
        let _ = fs::remove_dir_all(&dir);
    }
}
