//! Optional TLS for the control port (Habitat's `--ctl-server-certificate`, `--ctl-server-key`,
//! `--ctl-client-ca-certificate`; spec §11.1): a rustls server configuration with the `ring`
//! provider, loaded once at start.
//!
//! Each flag takes a path, a file or a directory (Habitat's default is the directory
//! `/hab/cache/keys/ctl`). In a directory the certificate is the newest `*.crt.pem` and the key
//! the newest `*.key.pem` by file name (Habitat names them with a timestamp, so the newest name
//! is the newest pair); the client CA is every certificate in every `*.pem` file there (keys
//! in the same directory are skipped). With a client CA, every client must present a
//! certificate that chains to it.
//!
//! TLS wraps the whole connection: the first-byte demultiplexing between Warren's gRPC and
//! Habitat's protocol happens on the decrypted bytes (`crate::server`).
//!
//! What it does **not** do: revocation lists, reloading certificates while running, a TLS client
//! for `warren`'s own control commands.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Habitat's default directory for the control gateway's TLS files, below `--fs-root`.
pub const DEFAULT_CTL_KEYS_DIR: &str = "hab/cache/keys/ctl";

/// Why the control port's TLS configuration could not be loaded. Nothing is served until it
/// is fixed.
#[derive(Debug, thiserror::Error)]
pub enum CtlTlsError {
    /// A file or directory could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A directory holds no file of the kind looked for.
    #[error("{}: no *{suffix} file in this directory", dir.display())]
    NothingInDir {
        /// The directory.
        dir: PathBuf,
        /// The suffix looked for.
        suffix: &'static str,
    },
    /// A PEM file is malformed, or holds nothing of the kind wanted.
    #[error("{}: {detail}", path.display())]
    Pem {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// rustls refused the configuration (a key that does not match the certificate, an unusable
    /// CA).
    #[error("control TLS refused: {0}")]
    Rejected(String),
}

/// A loaded control-port TLS configuration. Cheap to clone.
#[derive(Clone)]
pub struct CtlTls(pub(crate) Arc<rustls::ServerConfig>);

impl std::fmt::Debug for CtlTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CtlTls(..)")
    }
}

impl CtlTls {
    /// Loads the server certificate chain and key, and with `client_ca` requires client
    /// certificates that chain to it. Each path is a file or a directory (module docs).
    pub fn load(
        certificate: &Path,
        key: &Path,
        client_ca: Option<&Path>,
    ) -> Result<CtlTls, CtlTlsError> {
        let cert_file = pick(certificate, ".crt.pem")?;
        let key_file = pick(key, ".key.pem")?;
        let chain = certificates(&cert_file)?;
        if chain.is_empty() {
            return Err(CtlTlsError::Pem {
                path: cert_file,
                detail: "no PEM certificate (`-----BEGIN CERTIFICATE-----`) found".to_owned(),
            });
        }
        let key_pem = read(&key_file)?;
        let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| CtlTlsError::Pem {
            path: key_file.clone(),
            detail: format!("no usable PEM private key: {e}"),
        })?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| CtlTlsError::Rejected(e.to_string()))?;
        let builder = match client_ca {
            None => builder.with_no_client_auth(),
            Some(ca) => {
                let mut roots = rustls::RootCertStore::empty();
                let files = if ca.is_dir() {
                    files_with(ca, ".pem")?
                } else {
                    vec![ca.to_owned()]
                };
                for f in &files {
                    for c in certificates(f)? {
                        roots.add(c).map_err(|e| CtlTlsError::Pem {
                            path: f.clone(),
                            detail: format!("not a usable CA certificate: {e}"),
                        })?;
                    }
                }
                if roots.is_empty() {
                    return Err(CtlTlsError::Pem {
                        path: ca.to_owned(),
                        detail: "no CA certificate found for --ctl-client-ca-certificate"
                            .to_owned(),
                    });
                }
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider,
                )
                .build()
                .map_err(|e| CtlTlsError::Rejected(e.to_string()))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let cfg = builder
            .with_single_cert(chain, key)
            .map_err(|e| CtlTlsError::Rejected(format!("{}: {e}", key_file.display())))?;
        Ok(CtlTls(Arc::new(cfg)))
    }

    /// Wraps a rustls configuration built elsewhere (tests).
    pub fn from_rustls(cfg: Arc<rustls::ServerConfig>) -> CtlTls {
        CtlTls(cfg)
    }
}

fn read(path: &Path) -> Result<Vec<u8>, CtlTlsError> {
    std::fs::read(path).map_err(|source| CtlTlsError::Read {
        path: path.to_owned(),
        source,
    })
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, CtlTlsError> {
    let pem = read(path)?;
    CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CtlTlsError::Pem {
            path: path.to_owned(),
            detail: format!("invalid PEM: {e}"),
        })
}

/// The files in `dir` whose names end with `suffix`, sorted by name.
fn files_with(dir: &Path, suffix: &'static str) -> Result<Vec<PathBuf>, CtlTlsError> {
    let entries = std::fs::read_dir(dir).map_err(|source| CtlTlsError::Read {
        path: dir.to_owned(),
        source,
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with(suffix))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// `path` itself, or in a directory the file with the greatest name ending with `suffix`.
fn pick(path: &Path, suffix: &'static str) -> Result<PathBuf, CtlTlsError> {
    if !path.is_dir() {
        return Ok(path.to_owned());
    }
    files_with(path, suffix)?
        .pop()
        .ok_or_else(|| CtlTlsError::NothingInDir {
            dir: path.to_owned(),
            suffix,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap_or_else(|e| panic!("{e}"));
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap_or_else(|e| panic!("{e}"))
            .self_signed(&key)
            .unwrap_or_else(|e| panic!("{e}"));
        (cert.pem(), key.serialize_pem())
    }

    #[test]
    fn a_directory_gives_the_newest_pair_and_every_ca() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let (old_cert, _) = pair();
        let (cert, key) = pair();
        let w = |n: &str, s: &str| {
            std::fs::write(dir.path().join(n), s).unwrap_or_else(|e| panic!("{e}"));
        };
        // The older pair's key is missing: picking it would fail.
        w("ctl-gateway-20200101000000.crt.pem", &old_cert);
        w("ctl-gateway-20250101000000.crt.pem", &cert);
        w("ctl-gateway-20250101000000.key.pem", &key);
        let got = CtlTls::load(dir.path(), dir.path(), Some(dir.path()));
        assert!(got.is_ok(), "{got:?}");
    }

    #[test]
    fn missing_and_wrong_files_are_named() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let got = CtlTls::load(dir.path(), dir.path(), None);
        assert!(
            matches!(
                got,
                Err(CtlTlsError::NothingInDir {
                    suffix: ".crt.pem",
                    ..
                })
            ),
            "{got:?}"
        );
        let (cert, _) = pair();
        let (_, other_key) = pair();
        let c = dir.path().join("c.pem");
        let k = dir.path().join("k.pem");
        std::fs::write(&c, &cert).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(&k, &other_key).unwrap_or_else(|e| panic!("{e}"));
        // A key that does not match the certificate.
        let got = CtlTls::load(&c, &k, None);
        assert!(matches!(got, Err(CtlTlsError::Rejected(_))), "{got:?}");
        // A certificate file given as the key.
        let got = CtlTls::load(&c, &c, None);
        assert!(matches!(got, Err(CtlTlsError::Pem { .. })), "{got:?}");
    }
}
