//! HTTPS for the gateway (`--key`, `--certs`, `--ca-certs`; spec §10.1): a rustls server
//! configuration with the `ring` provider, loaded once at start.
//!
//! [`TlsConfig::from_pem_files`] reads the private key (PKCS#8 PEM, `BEGIN PRIVATE KEY`; PKCS#1
//! and SEC1 PEM keys are accepted too) and the certificate chain (PEM, leaf first), and fails
//! with a [`TlsError`] that names the file and the problem. The server offers TLS 1.3 and 1.2
//! and ALPN `http/1.1`. [`TlsConfig::from_pem_files_verifying_clients`] also reads `--ca-certs`
//! (PEM certificates of the authorities clients' certificates must chain to) and then refuses
//! any client without such a certificate, as Habitat does.
//!
//! What it does **not** do: revocation lists, reloading certificates while running, or HTTP/2.

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
    /// The client CA file (`--ca-certs`) could not be used as trust roots.
    #[error("{}: cannot verify client certificates with it: {detail}", path.display())]
    ClientCa {
        /// The file.
        path: PathBuf,
        /// What is wrong.
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
        let key_pem = read(key)?;
        let certs_pem = read(certs)?;
        Self::from_pem(&key_pem, key, &certs_pem, certs)
    }

    /// Loads `--key` and `--certs`, and `--ca-certs`: every client must present a certificate
    /// that chains to one of the certificates in `client_ca`.
    pub fn from_pem_files_verifying_clients(
        key: &Path,
        certs: &Path,
        client_ca: &Path,
    ) -> Result<TlsConfig, TlsError> {
        let key_pem = read(key)?;
        let certs_pem = read(certs)?;
        let ca_pem = read(client_ca)?;
        let verifier = client_verifier(&ca_pem, client_ca)?;
        Self::build(&key_pem, key, &certs_pem, certs, Some(verifier))
    }

    /// Builds from PEM bytes already read; the paths are only used in error messages.
    pub fn from_pem(
        key_pem: &[u8],
        key_path: &Path,
        certs_pem: &[u8],
        certs_path: &Path,
    ) -> Result<TlsConfig, TlsError> {
        Self::build(key_pem, key_path, certs_pem, certs_path, None)
    }

    fn build(
        key_pem: &[u8],
        key_path: &Path,
        certs_pem: &[u8],
        certs_path: &Path,
        clients: Option<Arc<dyn rustls::server::danger::ClientCertVerifier>>,
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
        let builder = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(rejected)?;
        let builder = match clients {
            Some(verifier) => builder.with_client_cert_verifier(verifier),
            None => builder.with_no_client_auth(),
        };
        let mut cfg = builder.with_single_cert(chain, key).map_err(rejected)?;
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsConfig(Arc::new(cfg)))
    }

    /// Wraps a rustls configuration built elsewhere (its ALPN should offer `http/1.1`).
    pub fn from_rustls(cfg: Arc<rustls::ServerConfig>) -> TlsConfig {
        TlsConfig(cfg)
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })
}

/// A verifier that accepts only clients whose certificate chains to one in `ca_pem`.
fn client_verifier(
    ca_pem: &[u8],
    ca_path: &Path,
) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>, TlsError> {
    let bad = |detail: String| TlsError::ClientCa {
        path: ca_path.to_owned(),
        detail,
    };
    let cas = CertificateDer::pem_slice_iter(ca_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(format!("invalid PEM: {e}")))?;
    if cas.is_empty() {
        return Err(TlsError::NoCertificates {
            path: ca_path.to_owned(),
        });
    }
    let mut roots = rustls::RootCertStore::empty();
    for ca in cas {
        roots.add(ca).map_err(|e| bad(e.to_string()))?;
    }
    rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
        .build()
        .map_err(|e| bad(e.to_string()))
}
