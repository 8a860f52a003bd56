//! Installed packages by identifier: `ORIGIN/NAME[/VERSION[/RELEASE]]` resolved to the newest
//! matching package directory under `<fs-root>/hab/pkgs`, ordered as Habitat orders them
//! ([`version_cmp`], then the release), and the rule that tells an identifier from a path
//! ([`PlanArg`]).
//!
//! Habitat's ordering (`version_sort` and `PartialOrd for PackageIdent` in habitat's
//! `components/core/src/package/ident.rs`): a version is split into its number (the first run
//! of digits and dots) and an extension (the rest, one leading `-` dropped). Numbers compare
//! part by part as `u64`, a missing part counting as 0 (so `2.0` equals `2.0.0`); with equal
//! numbers, no extension beats any extension (`1.0.0` > `1.0.0-rc1`), and two extensions compare
//! as text. A version Habitat cannot split this way (no digit, an empty part as in `1..2`, a part
//! beyond `u64`) makes the two versions compare as text. Equal versions compare by release (a
//! 14-digit timestamp, so as text).
//!
//! What this module does not do: install, download or verify packages (Warren has no Builder
//! client), read the package's metafiles (that is [`crate::plan::Package::from_installed`]), or
//! follow dependencies.

use std::cmp::Ordering;
use std::path::{Path, PathBuf};

pub use warren_template::PackageIdent;

/// Why an identifier could not be resolved. Nothing changes on any error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentError {
    /// Not of the form `ORIGIN/NAME[/VERSION[/RELEASE]]`.
    #[error("{0:?} is not a package identifier (ORIGIN/NAME[/VERSION[/RELEASE]])")]
    Invalid(String),
    /// Nothing installed matches; the message lists what is installed for that origin/name.
    #[error("package {ident} is not installed under {}: {installed}", root.display())]
    NotInstalled {
        /// The identifier asked for.
        ident: String,
        /// `<fs-root>/hab/pkgs`.
        root: PathBuf,
        /// What is installed for the origin/name, or a sentence saying nothing is.
        installed: String,
    },
}

/// Parses `ORIGIN/NAME[/VERSION[/RELEASE]]` as a user gives it: 2 to 4 non-empty parts, none
/// `.` or `..`, no whitespace or backslash (each part becomes a directory name under
/// `hab/pkgs`), so stricter than [`PackageIdent::parse`], which reads identifiers Warren wrote.
pub fn parse(text: &str) -> Result<PackageIdent, IdentError> {
    let plain = |p: &str| {
        !p.is_empty()
            && p != "."
            && p != ".."
            && !p
                .chars()
                .any(|c| c.is_whitespace() || c == '\\' || c == '\0')
    };
    match PackageIdent::parse(text) {
        Some(ident) if text.split('/').all(plain) => Ok(ident),
        _ => Err(IdentError::Invalid(text.to_owned())),
    }
}

/// What a `warren run` / `warren svc load` argument names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlanArg {
    /// A plan directory or an installed package directory.
    Dir(PathBuf),
    /// A package identifier, to resolve under `hab/pkgs`.
    Ident(PackageIdent),
}

impl PlanArg {
    /// The rule: an argument that exists as a directory is a directory (so `core/redis` in
    /// the current directory still loads the plan there); otherwise an argument that does not
    /// start with `/` or `.` and parses as an identifier is an identifier; anything else is a
    /// path (and fails later, naming the missing directory).
    pub fn classify(arg: &Path) -> PlanArg {
        if arg.is_dir() {
            return PlanArg::Dir(arg.to_path_buf());
        }
        match arg.to_str() {
            Some(text) if !text.starts_with('/') && !text.starts_with('.') => match parse(text) {
                Ok(ident) => PlanArg::Ident(ident),
                Err(_) => PlanArg::Dir(arg.to_path_buf()),
            },
            _ => PlanArg::Dir(arg.to_path_buf()),
        }
    }
}

/// Habitat's version ordering (see the module doc).
pub fn version_cmp(a: &str, b: &str) -> Ordering {
    match (split_version(a), split_version(b)) {
        (Some((an, ae)), Some((bn, be))) => {
            let len = an.len().max(bn.len());
            for i in 0..len {
                let x = an.get(i).copied().unwrap_or(0);
                let y = bn.get(i).copied().unwrap_or(0);
                match x.cmp(&y) {
                    Ordering::Equal => {}
                    other => return other,
                }
            }
            match (ae, be) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(x), Some(y)) => x.cmp(y),
            }
        }
        // Habitat: a version it cannot split compares as text.
        _ => a.cmp(b),
    }
}

/// The numeric parts and the extension of a version, as Habitat's `split_version` (an
/// unanchored `([\d\.]+)(.+)?`, a leading `-` of a longer extension dropped); `None` where
/// Habitat's would fail.
fn split_version(v: &str) -> Option<(Vec<u64>, Option<&str>)> {
    let start = v.find(|c: char| c.is_ascii_digit() || c == '.')?;
    let rest = &v[start..];
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let (number, ext) = rest.split_at(end);
    let parts = number
        .split('.')
        .map(|p| p.parse::<u64>().ok())
        .collect::<Option<Vec<u64>>>()?;
    let ext = match ext {
        "" => None,
        e if e.len() > 1 && e.starts_with('-') => Some(&e[1..]),
        e => Some(e),
    };
    Some((parts, ext))
}

/// Habitat's order of two installed packages of one name: version, then release.
pub fn package_cmp(a: (&str, &str), b: (&str, &str)) -> Ordering {
    version_cmp(a.0, b.0).then_with(|| a.1.cmp(b.1))
}

/// Every installed `(version, release)` of `origin/name` under `pkgs_root` (directories holding
/// an `IDENT` file), oldest first in Habitat's order.
pub fn installed(pkgs_root: &Path, origin: &str, name: &str) -> Vec<(String, String)> {
    let base = pkgs_root.join(origin).join(name);
    let mut found = Vec::new();
    for version in subdirs(&base) {
        for release in subdirs(&base.join(&version)) {
            if base.join(&version).join(&release).join("IDENT").is_file() {
                found.push((version.clone(), release));
            }
        }
    }
    found.sort_by(|a, b| package_cmp((&a.0, &a.1), (&b.0, &b.1)));
    found
}

fn subdirs(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect()
}

/// The directory of the newest installed package satisfying `ident` under `pkgs_root`
/// (`<fs-root>/hab/pkgs`). The error lists what is installed for that origin/name.
pub fn resolve(pkgs_root: &Path, ident: &PackageIdent) -> Result<PathBuf, IdentError> {
    let all = installed(pkgs_root, &ident.origin, &ident.name);
    let newest = all
        .iter()
        .filter(|(v, r)| {
            ident.version.as_ref().is_none_or(|w| w == v)
                && ident.release.as_ref().is_none_or(|w| w == r)
        })
        .max_by(|a, b| package_cmp((&a.0, &a.1), (&b.0, &b.1)));
    match newest {
        Some((v, r)) => Ok(pkgs_root
            .join(&ident.origin)
            .join(&ident.name)
            .join(v)
            .join(r)),
        None => Err(IdentError::NotInstalled {
            ident: ident.to_string(),
            root: pkgs_root.to_path_buf(),
            installed: if all.is_empty() {
                format!("no release of {}/{} is installed", ident.origin, ident.name)
            } else {
                let list: Vec<String> = all
                    .iter()
                    .rev()
                    .map(|(v, r)| format!("{}/{}/{v}/{r}", ident.origin, ident.name))
                    .collect();
                format!("installed are {}", list.join(", "))
            },
        }),
    }
}

/// [`resolve`] from text.
pub fn resolve_text(pkgs_root: &Path, ident: &str) -> Result<PathBuf, IdentError> {
    resolve(pkgs_root, &parse(ident)?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn versions_order_as_habitat_orders_them() {
        use Ordering::*;
        let cases = [
            ("1.0", "2.0", Less),
            ("1.0.0", "2.0.0", Less),
            ("2.0.1", "2.0.0", Greater),
            ("1.9.0", "1.10.0", Less),
            ("1.10.0", "1.10.0-rc1", Greater),
            ("1.10.0-rc1", "1.10.0-rc2", Less),
            ("1.10.0-rc1", "1.9.9", Greater),
            ("2.0", "2.0.0", Equal),
            ("2.0.0.1", "2.0", Greater),
            ("1.2.3-beta16", "1.2.3-beta2", Less), // extensions compare as text
            ("20170101", "9", Greater),
            // Habitat cannot split these: text order.
            ("master", "0.1.0", Greater),
            ("1..2", "1.3", Less),
            ("random", "undefined", Less),
        ];
        for (a, b, want) in cases {
            assert_eq!(version_cmp(a, b), want, "{a} vs {b}");
            assert_eq!(version_cmp(b, a), want.reverse(), "{b} vs {a}");
        }
        assert_eq!(
            split_version("1.2.3-beta16"),
            Some((vec![1, 2, 3], Some("beta16")))
        );
        assert_eq!(split_version("1.0-"), Some((vec![1, 0], Some("-"))));
        assert_eq!(split_version("master"), None);
    }

    #[test]
    fn releases_break_ties_between_equal_versions() {
        assert_eq!(
            package_cmp(("2.0", "20200101000000"), ("2.0.0", "20190101000000")),
            Ordering::Greater
        );
        assert_eq!(
            package_cmp(("1.0", "20200101000000"), ("1.0", "20200101000001")),
            Ordering::Less
        );
    }

    #[test]
    fn identifiers_parse_and_print() {
        let id = parse("core/redis/4.0.14/20190319155852").unwrap();
        assert_eq!(id.to_string(), "core/redis/4.0.14/20190319155852");
        assert_eq!(id.release.as_deref(), Some("20190319155852"));
        assert_eq!(parse("core/redis").unwrap().version, None);
        for bad in [
            "core",
            "core/",
            "/core/redis",
            "a/b/c/d/e",
            "core/../x",
            "a b/c",
            "",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_directory_wins_over_an_identifier() {
        let dir = tempfile::tempdir().unwrap();
        let plan = dir.path().join("core/redis");
        std::fs::create_dir_all(&plan).unwrap();
        assert_eq!(PlanArg::classify(&plan), PlanArg::Dir(plan.clone()));
        assert!(matches!(
            PlanArg::classify(Path::new("core/surely-not-here-xyz")),
            PlanArg::Ident(_)
        ));
        assert!(matches!(
            PlanArg::classify(Path::new("./core/redis-nope")),
            PlanArg::Dir(_)
        ));
        assert!(matches!(
            PlanArg::classify(Path::new("plans-nope")),
            PlanArg::Dir(_)
        ));
    }

    fn install(root: &Path, v: &str, r: &str) {
        let d = root.join("core/redis").join(v).join(r);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("IDENT"), format!("core/redis/{v}/{r}")).unwrap();
    }

    #[test]
    fn resolves_the_newest_and_lists_what_is_installed() {
        let root = tempfile::tempdir().unwrap();
        let root = root.path();
        install(root, "1.9.0", "20200101000000");
        install(root, "1.10.0", "20190101000000");
        install(root, "1.10.0", "20210101000000");
        install(root, "1.10.0-rc1", "20220101000000");
        // Not a package: no IDENT.
        std::fs::create_dir_all(root.join("core/redis/9.9.9/20990101000000")).unwrap();
        let got = resolve_text(root, "core/redis").unwrap();
        assert_eq!(got, root.join("core/redis/1.10.0/20210101000000"));
        let got = resolve_text(root, "core/redis/1.9.0").unwrap();
        assert_eq!(got, root.join("core/redis/1.9.0/20200101000000"));
        let got = resolve_text(root, "core/redis/1.10.0/20190101000000").unwrap();
        assert_eq!(got, root.join("core/redis/1.10.0/20190101000000"));
        let err = resolve_text(root, "core/redis/3.0")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("core/redis/1.10.0/20210101000000, core/redis/1.10.0/20190101000000, core/redis/1.10.0-rc1/20220101000000, core/redis/1.9.0/20200101000000"),
            "{err}"
        );
        let err = resolve_text(root, "core/nope").unwrap_err().to_string();
        assert!(
            err.contains("no release of core/nope is installed"),
            "{err}"
        );
        assert!(matches!(
            resolve_text(root, "core/../x"),
            Err(IdentError::Invalid(_))
        ));
    }
}
