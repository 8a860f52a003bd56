//! HTTPS for the gateway (`--key`, `--certs`; spec §10.1): a rustls server configuration with
//! the `ring` provider, loaded once at start.
//!
//! [`TlsConfig::from_pem_files`] reads the private key (PKCS#8 PEM, `BEGIN PRIVATE KEY`; PKCS#1
//! and SEC1 PEM keys are accepted too) and the certificate chain (PEM, leaf first), and fails
//! with a [`TlsError`] that names the file and the problem. The server offers TLS 1.3 and 1.2
//! and ALPN `http/1.1`.
//!
//! What it does **not** do: client-certificate verification (`--ca-certs`), reloading
//! certificates while running, or HTTP/2.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Why the TLS configuration could not be loaded. Nothing is served until it is fixed.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The certificate file holds no PEM certificate.
    #[error(
        "{}: no PEM certificate found (--certs wants a PEM chain, `-----BEGIN CERTIFICATE-----`, leaf first)",
        path.display()
    )]
    NoCertificates {
        /// The file.
        path: PathBuf,
    },
    /// The key file holds no PEM private key.
    #[error(
        "{}: no PEM private key found (--key wants a PKCS#8 PEM key, `-----BEGIN PRIVATE KEY-----`)",
        path.display()
    )]
    NoKey {
        /// The file.
        path: PathBuf,
    },
    /// A file is not valid PEM.
    #[error("{}: invalid PEM: {detail}", path.display())]
    BadPem {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        detail: String,
    },
    /// rustls refused the pair (e.g. the key does not match the certificate, or an unsupported
    /// key type).
    #[error("TLS key {} and certificates {} were refused: {detail}", key.display(), certs.display())]
    Rejected {
        /// The key file.
        key: PathBuf,
        /// The certificate file.
        certs: PathBuf,
        /// rustls's message.
        detail: String,
    },
}

/// A loaded server TLS configuration. Cheap to clone.
#[derive(Clone)]
pub struct TlsConfig(pub(crate) Arc<rustls::ServerConfig>);

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsConfig(..)")
    }
}

impl TlsConfig {
    /// Loads `--key` and `--certs`.
    pub fn from_pem_files(key: &Path, certs: &Path) -> Result<TlsConfig, TlsError> {
        let read = |path: &Path| {
            std::fs::read(path).map_err(|source| TlsError::Read {
                path: path.to_owned(),
                source,
            })
        };
        let key_pem = read(key)?;
        let certs_pem = read(certs)?;
        Self::from_pem(&key_pem, key, &certs_pem, certs)
    }

    /// Builds from PEM bytes already read; the paths are only used in error messages.
    pub fn from_pem(
        key_pem: &[u8],
        key_path: &Path,
        certs_pem: &[u8],
        certs_path: &Path,
    ) -> Result<TlsConfig, TlsError> {
        let bad = |path: &Path, e: rustls::pki_types::pem::Error| TlsError::BadPem {
            path: path.to_owned(),
            detail: e.to_string(),
        };
        let chain = CertificateDer::pem_slice_iter(certs_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(certs_path, e))?;
        if chain.is_empty() {
            return Err(TlsError::NoCertificates {
                path: certs_path.to_owned(),
            });
        }
        let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| match e {
            rustls::pki_types::pem::Error::NoItemsFound => TlsError::NoKey {
                path: key_path.to_owned(),
            },
            e => bad(key_path, e),
        })?;
        let rejected = |e: rustls::Error| TlsError::Rejected {
            key: key_path.to_owned(),
            certs: certs_path.to_owned(),
            detail: e.to_string(),
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(rejected)?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(rejected)?;
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsConfig(Arc::new(cfg)))
    }

    /// Wraps a rustls configuration built elsewhere (its ALPN should offer `http/1.1`).
    pub fn from_rustls(cfg: Arc<rustls::ServerConfig>) -> TlsConfig {
        TlsConfig(cfg)
    }
}
