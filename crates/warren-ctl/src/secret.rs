//! The control secret (`CTL_SECRET`, spec §11.1): the shared secret every control request
//! carries as `authorization: Bearer <secret>`.
//!
//! The supervisor side calls [`CtlSecret::load_or_create`] once at start: it reads
//! `<sup_root>/CTL_SECRET`, or creates it on first run with the base64 (standard alphabet, with
//! padding) of 64 random bytes, mode 0600, written atomically, without a trailing newline — the
//! format Habitat writes, so a Habitat-created file is reused as is. The client side calls
//! [`CtlSecret::for_client`]: `HAB_CTL_SECRET`, else the local supervisor's file. Habitat's
//! `ctl_secret` key in `cli.toml` is not read (Warren has no `cli.toml`).
//!
//! A secret is opaque text: any visible ASCII is accepted (a hand-set `HAB_CTL_SECRET` need not
//! be base64); only what is created here is. It is compared in constant time and never printed
//! by `Debug`. This module does not lock: the supervisor's `LOCK` keeps two creators apart.

use std::ffi::OsString;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::Engine;
use subtle::ConstantTimeEq;

use crate::error::SecretError;

/// The file name, in the supervisor's state directory (`/hab/sup/default`).
pub const CTL_SECRET_FILE: &str = "CTL_SECRET";

/// The environment variable the client reads first.
pub const CTL_SECRET_ENV: &str = "HAB_CTL_SECRET";

/// How many random bytes a new secret holds (before base64).
pub const CTL_SECRET_BYTES: usize = 64;

/// The control secret. `Debug` prints `CtlSecret(..)`, never the value.
#[derive(Clone, PartialEq, Eq)]
pub struct CtlSecret(String);

impl fmt::Debug for CtlSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CtlSecret(..)")
    }
}

impl CtlSecret {
    /// `<sup_root>/CTL_SECRET`.
    pub fn path(sup_root: &Path) -> PathBuf {
        sup_root.join(CTL_SECRET_FILE)
    }

    /// The supervisor's secret: read from `<sup_root>/CTL_SECRET`, or created there (with its
    /// directory) when the file does not exist. A file that exists but is empty or malformed is
    /// an error, never replaced: clients may hold it. A file readable by group or others is used
    /// and logged as a warning.
    pub fn load_or_create(sup_root: &Path) -> Result<Self, SecretError> {
        let path = Self::path(sup_root);
        if let Some(secret) = Self::read_file(&path)? {
            warn_if_open(&path);
            return Ok(secret);
        }
        let secret = Self::generate()?;
        write_new(sup_root, &path, secret.0.as_bytes())?;
        tracing::info!(path = %path.display(), "created the control secret");
        Ok(secret)
    }

    /// The client's secret: `HAB_CTL_SECRET` if set and not empty, else
    /// `<fs_root>/hab/sup/default/CTL_SECRET` (the local supervisor's). [`SecretError::NotFound`]
    /// names both when neither exists.
    pub fn for_client(fs_root: &Path) -> Result<Self, SecretError> {
        Self::for_client_with(std::env::var_os(CTL_SECRET_ENV), fs_root)
    }

    /// [`CtlSecret::for_client`] with the environment variable's value given (for tests, and
    /// for callers that read their environment once).
    pub fn for_client_with(env: Option<OsString>, fs_root: &Path) -> Result<Self, SecretError> {
        if let Some(value) = env.filter(|v| !v.is_empty()) {
            let text = value.into_string().map_err(|_| SecretError::Malformed {
                origin: CTL_SECRET_ENV.to_owned(),
                problem: "not valid UTF-8",
                hint: String::new(),
            })?;
            return Self::parse(&text, CTL_SECRET_ENV);
        }
        let path = Self::path(&fs_root.join("hab/sup/default"));
        Self::read_file(&path)?.ok_or(SecretError::NotFound { path })
    }

    /// A secret from text (a trailing newline is ignored); `Err` if it is empty or holds
    /// anything but visible ASCII.
    pub fn new(text: &str) -> Result<Self, SecretError> {
        Self::parse(text, "the given value")
    }

    /// A new random secret: base64 of [`CTL_SECRET_BYTES`] bytes from the operating system.
    pub fn generate() -> Result<Self, SecretError> {
        let mut bytes = [0u8; CTL_SECRET_BYTES];
        getrandom::getrandom(&mut bytes).map_err(|e| SecretError::Random(e.to_string()))?;
        Ok(CtlSecret(
            base64::engine::general_purpose::STANDARD.encode(bytes),
        ))
    }

    /// The secret's text, for a caller that must hand it on (e.g. to print it for a remote
    /// operator). Handle with care.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether `presented` is this secret, in time independent of where they differ.
    pub(crate) fn matches(&self, presented: &[u8]) -> bool {
        bool::from(self.0.as_bytes().ct_eq(presented))
    }

    /// `Ok(None)` when the file does not exist.
    fn read_file(path: &Path) -> Result<Option<Self>, SecretError> {
        match fs::read(path) {
            Ok(bytes) => {
                let origin = path.display().to_string();
                let text = String::from_utf8(bytes).map_err(|_| SecretError::Malformed {
                    origin: origin.clone(),
                    problem: "not valid UTF-8",
                    hint: delete_hint(path),
                })?;
                Self::parse(&text, &origin).map(Some).map_err(|e| match e {
                    SecretError::Malformed {
                        origin, problem, ..
                    } => SecretError::Malformed {
                        origin,
                        problem,
                        hint: delete_hint(path),
                    },
                    other => other,
                })
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(SecretError::Io {
                action: "read",
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    fn parse(text: &str, origin: &str) -> Result<Self, SecretError> {
        let text = text.strip_suffix('\n').unwrap_or(text);
        let text = text.strip_suffix('\r').unwrap_or(text);
        let problem = if text.is_empty() {
            Some("empty")
        } else if !text.bytes().all(|b| b.is_ascii_graphic()) {
            Some("not printable ASCII (spaces and control characters are not allowed)")
        } else {
            None
        };
        match problem {
            Some(problem) => Err(SecretError::Malformed {
                origin: origin.to_owned(),
                problem,
                hint: String::new(),
            }),
            None => Ok(CtlSecret(text.to_owned())),
        }
    }
}

fn delete_hint(path: &Path) -> String {
    format!(
        "; delete {} to have the supervisor create a new one (clients then need the new secret)",
        path.display()
    )
}

fn warn_if_open(path: &Path) {
    if let Ok(meta) = fs::metadata(path) {
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            tracing::warn!(
                path = %path.display(),
                mode = format_args!("{mode:o}"),
                "the control secret is readable by other users; chmod 600 it"
            );
        }
    }
}

/// Writes `bytes` to `path` atomically with mode 0600: a temporary file in the same directory,
/// fsynced, renamed over `path`, then the directory fsynced.
fn write_new(dir: &Path, path: &Path, bytes: &[u8]) -> Result<(), SecretError> {
    let io_err = |action, p: &Path| {
        let p = p.to_path_buf();
        move |source| SecretError::Io {
            action,
            path: p,
            source,
        }
    };
    fs::create_dir_all(dir).map_err(io_err("create the directory of", dir))?;
    // Pid-named, so only a crashed earlier run with our pid (PID 1 in a container) can have left
    // it: it holds no secret anyone uses.
    let tmp = dir.join(format!(".{CTL_SECRET_FILE}.{}.tmp", std::process::id()));
    match fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err("remove the leftover", &tmp)(e)),
    }
    let written = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| {
            // The mode above is filtered by the umask; this is exact.
            f.set_permissions(fs::Permissions::from_mode(0o600))?;
            f.write_all(bytes)?;
            f.sync_all()
        })
        .map_err(io_err("write", &tmp))
        .and_then(|()| fs::rename(&tmp, path).map_err(io_err("rename into place", path)));
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("sync the directory of", dir))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn created_0600_base64_of_64_bytes_no_newline_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let sup_root = dir.path().join("hab/sup/default");
        let first = CtlSecret::load_or_create(&sup_root).unwrap();
        let path = sup_root.join("CTL_SECRET");
        let meta = fs::metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        let text = fs::read_to_string(&path).unwrap();
        assert!(!text.ends_with('\n'));
        assert_eq!(text, first.expose());
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(&text)
            .unwrap();
        assert_eq!(decoded.len(), 64);
        assert_eq!(text.len(), 88); // 64 bytes → 86 characters + "==".
        assert!(text.ends_with("=="));
        // Reused, not regenerated.
        let second = CtlSecret::load_or_create(&sup_root).unwrap();
        assert_eq!(first, second);
        assert_eq!(fs::read_to_string(&path).unwrap(), text);
        // No temporary file left.
        assert_eq!(fs::read_dir(&sup_root).unwrap().count(), 1);
        // Two generated secrets differ.
        assert_ne!(CtlSecret::generate().unwrap(), first);
    }

    #[test]
    fn reading_tolerates_a_trailing_newline() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("CTL_SECRET"), "abc==\n").unwrap();
        let s = CtlSecret::load_or_create(dir.path()).unwrap();
        assert_eq!(s.expose(), "abc==");
        fs::write(dir.path().join("CTL_SECRET"), "abc==\r\n").unwrap();
        assert_eq!(
            CtlSecret::load_or_create(dir.path()).unwrap().expose(),
            "abc=="
        );
    }

    #[test]
    fn a_malformed_file_is_an_error_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("CTL_SECRET");
        fs::write(&path, "").unwrap();
        let e = CtlSecret::load_or_create(dir.path())
            .unwrap_err()
            .to_string();
        assert!(e.contains("is empty") && e.contains("delete"), "{e}");
        fs::write(&path, "two words").unwrap();
        let e = CtlSecret::load_or_create(dir.path())
            .unwrap_err()
            .to_string();
        assert!(e.contains("not printable ASCII"), "{e}");
        assert_eq!(fs::read_to_string(&path).unwrap(), "two words");
    }

    #[test]
    fn client_prefers_env_then_file_then_names_both() {
        let dir = tempfile::tempdir().unwrap();
        let e = CtlSecret::for_client_with(None, dir.path()).unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, SecretError::NotFound { .. }));
        assert!(msg.contains("HAB_CTL_SECRET"), "{msg}");
        assert!(msg.contains("hab/sup/default/CTL_SECRET"), "{msg}");
        // An empty variable counts as unset.
        assert!(CtlSecret::for_client_with(Some("".into()), dir.path()).is_err());

        let sup_root = dir.path().join("hab/sup/default");
        let on_disk = CtlSecret::load_or_create(&sup_root).unwrap();
        assert_eq!(
            CtlSecret::for_client_with(None, dir.path()).unwrap(),
            on_disk
        );
        let from_env = CtlSecret::for_client_with(Some("from-env".into()), dir.path()).unwrap();
        assert_eq!(from_env.expose(), "from-env");
        let e = CtlSecret::for_client_with(Some("a b".into()), dir.path()).unwrap_err();
        assert!(e.to_string().contains("HAB_CTL_SECRET"), "{e}");
    }

    #[test]
    fn debug_hides_the_value_and_matches_is_exact() {
        let s = CtlSecret::new("s3cret").unwrap();
        assert_eq!(format!("{s:?}"), "CtlSecret(..)");
        assert!(s.matches(b"s3cret"));
        assert!(!s.matches(b"s3cre"));
        assert!(!s.matches(b"s3cret "));
        assert!(!s.matches(b""));
    }
}
