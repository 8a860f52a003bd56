//! HTTPS: a self-signed certificate generated here (rcgen), loaded from PEM files the way
//! `--key` / `--certs` are, served to a rustls client that trusts it; bearer auth over TLS;
//! plain HTTP and untrusting clients get nothing; with `--ca-certs`, only clients with a
//! certificate from that authority are served; and every load error names its file.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::ServerName;
use support::fixtures;
use support::http::{self, Reply};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsConnector;
use tokio_util::sync::CancellationToken;
use warren_gateway::{AuthToken, ServerConfig, TlsConfig, TlsError, serve_with};

struct Pki {
    dir: tempfile::TempDir,
    cert_der: Vec<u8>,
}

impl Pki {
    fn key(&self) -> PathBuf {
        self.dir.path().join("key.pem")
    }
    fn certs(&self) -> PathBuf {
        self.dir.path().join("certs.pem")
    }
}

fn pki() -> Pki {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("key.pem"), ck.signing_key.serialize_pem()).unwrap();
    std::fs::write(dir.path().join("certs.pem"), ck.cert.pem()).unwrap();
    Pki {
        dir,
        cert_der: ck.cert.der().to_vec(),
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn connector(trusted: Option<&[u8]>) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    if let Some(der) = trusted {
        roots.add(der.to_vec().into()).unwrap();
    }
    let cfg = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConnector::from(Arc::new(cfg))
}

async fn https(addr: SocketAddr, trusted: &[u8], path: &str, headers: &[&str]) -> Reply {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let tls = connector(Some(trusted)).connect(name, tcp).await.unwrap();
    http::exchange(tls, http::request("GET", path, headers).as_bytes()).await
}

struct Server {
    addr: SocketAddr,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    _tx: watch::Sender<Arc<warren_gateway::Snapshot>>,
}

impl Server {
    async fn start(cfg: ServerConfig) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = watch::channel(Arc::new(fixtures::snapshot()));
        let stop = CancellationToken::new();
        let task = tokio::spawn(serve_with(listener, rx, stop.clone(), cfg));
        Server {
            addr,
            stop,
            task,
            _tx: tx,
        }
    }

    async fn stop(self) {
        self.stop.cancel();
        self.task.await.unwrap().unwrap();
    }
}

#[tokio::test]
async fn https_serves_with_and_without_auth() {
    let pki = pki();
    let tls = TlsConfig::from_pem_files(&pki.key(), &pki.certs()).unwrap();
    let s = Server::start(ServerConfig {
        tls: Some(tls.clone()),
        auth_token: AuthToken::new("tls-token"),
        ..ServerConfig::default()
    })
    .await;
    let r = https(s.addr, &pki.cert_der, "/healthz", &[]).await;
    assert_eq!((r.status, r.text().as_str()), (200, "ok\n"));
    let r = https(s.addr, &pki.cert_der, "/census", &[]).await;
    assert_eq!(r.status, 401);
    assert!(r.body.is_empty());
    let r = https(
        s.addr,
        &pki.cert_der,
        "/census",
        &["Authorization: Bearer tls-token"],
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["local_member_id"], "aaaa");
    let r = https(
        s.addr,
        &pki.cert_der,
        "/services/redis/default/health",
        &["Authorization: Bearer tls-token"],
    )
    .await;
    assert_eq!(r.json()["status"], "OK");
    s.stop().await;

    // Without a token, over TLS.
    let s = Server::start(ServerConfig {
        tls: Some(tls),
        ..ServerConfig::default()
    })
    .await;
    assert_eq!(
        https(s.addr, &pki.cert_der, "/census", &[]).await.status,
        200
    );
    s.stop().await;
}

#[tokio::test]
async fn plain_http_and_untrusting_clients_get_nothing() {
    let pki = pki();
    let s = Server::start(ServerConfig {
        tls: Some(TlsConfig::from_pem_files(&pki.key(), &pki.certs()).unwrap()),
        ..ServerConfig::default()
    })
    .await;
    // Plain HTTP on the TLS port: no HTTP response comes back.
    let mut tcp = TcpStream::connect(s.addr).await.unwrap();
    tcp.write_all(http::request("GET", "/healthz", &[]).as_bytes())
        .await
        .unwrap();
    let mut got = Vec::new();
    let _ = tokio::time::timeout(http::WAIT, tcp.read_to_end(&mut got)).await;
    assert!(
        !got.starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&got)
    );

    // A client that does not trust the certificate fails the handshake.
    let tcp = TcpStream::connect(s.addr).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    assert!(connector(None).connect(name, tcp).await.is_err());

    // The server still serves trusting clients afterwards.
    assert_eq!(
        https(s.addr, &pki.cert_der, "/healthz", &[]).await.status,
        200
    );
    s.stop().await;
}

#[tokio::test]
async fn stalled_handshakes_do_not_hold_shutdown() {
    let pki = pki();
    let s = Server::start(ServerConfig {
        tls: Some(TlsConfig::from_pem_files(&pki.key(), &pki.certs()).unwrap()),
        ..ServerConfig::default()
    })
    .await;
    // Connect and say nothing: the handshake waits (up to the header timeout).
    let _idle = TcpStream::connect(s.addr).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let t0 = std::time::Instant::now();
    s.stop().await;
    assert!(
        t0.elapsed() < std::time::Duration::from_secs(2),
        "{:?}",
        t0.elapsed()
    );
}

fn load_err(key: &Path, certs: &Path) -> TlsError {
    TlsConfig::from_pem_files(key, certs).expect_err("must fail")
}

#[test]
fn load_errors_name_the_file_and_the_problem() {
    let pki = pki();
    let dir = pki.dir.path();
    let missing = dir.join("missing.pem");
    let e = load_err(&missing, &pki.certs());
    assert!(matches!(e, TlsError::Read { .. }), "{e:?}");
    assert!(e.to_string().contains("missing.pem"), "{e}");

    let empty = dir.join("empty.pem");
    std::fs::write(&empty, "no pem here\n").unwrap();
    let e = load_err(&pki.key(), &empty);
    assert!(matches!(e, TlsError::NoCertificates { .. }), "{e:?}");
    assert!(e.to_string().contains("empty.pem"), "{e}");

    // A certificate where the key should be.
    let e = load_err(&pki.certs(), &pki.certs());
    assert!(matches!(e, TlsError::NoKey { .. }), "{e:?}");
    assert!(e.to_string().contains("certs.pem"), "{e}");

    let broken = dir.join("broken.pem");
    std::fs::write(
        &broken,
        "-----BEGIN CERTIFICATE-----\n!!!not base64!!!\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let e = load_err(&pki.key(), &broken);
    assert!(matches!(e, TlsError::BadPem { .. }), "{e:?}");
    assert!(e.to_string().contains("broken.pem"), "{e}");

    // The key of another certificate.
    let other = pki_second(dir);
    let e = load_err(&other, &pki.certs());
    assert!(matches!(e, TlsError::Rejected { .. }), "{e:?}");
    assert!(e.to_string().contains("other-key.pem"), "{e}");
}

fn pki_second(dir: &Path) -> PathBuf {
    let ck = rcgen::generate_simple_self_signed(vec!["other".to_owned()]).unwrap();
    let p = dir.join("other-key.pem");
    std::fs::write(&p, ck.signing_key.serialize_pem()).unwrap();
    p
}

/// A client certificate authority and one client certificate it signed (PEM and DER).
struct ClientPki {
    ca_pem: String,
    cert_der: Vec<u8>,
    key_der: Vec<u8>,
}

fn client_pki(name: &str) -> ClientPki {
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, format!("{name} CA"));
    let ca = rcgen::CertifiedIssuer::self_signed(ca, rcgen::KeyPair::generate().unwrap()).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let mut leaf = rcgen::CertificateParams::new(vec![name.to_owned()]).unwrap();
    leaf.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let cert = leaf.signed_by(&key, &ca).unwrap();
    ClientPki {
        ca_pem: ca.pem(),
        cert_der: cert.der().to_vec(),
        key_der: key.serialize_der(),
    }
}

/// A GET over TLS as a client that trusts the server and presents `client`'s certificate (or
/// none): whether the server answered 200.
async fn served(addr: SocketAddr, trusted: &[u8], client: Option<&ClientPki>, path: &str) -> bool {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(trusted.to_vec().into()).unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let cfg = match client {
        Some(c) => builder
            .with_client_auth_cert(
                vec![c.cert_der.clone().into()],
                rustls::pki_types::PrivateKeyDer::try_from(c.key_der.clone()).unwrap(),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let Ok(mut tls) = TlsConnector::from(Arc::new(cfg)).connect(name, tcp).await else {
        return false;
    };
    // With TLS 1.3 the server's verdict on the client's certificate arrives after the client's
    // side of the handshake: a refused client sees an alert or a closed stream here.
    if tls
        .write_all(http::request("GET", path, &[]).as_bytes())
        .await
        .is_err()
    {
        return false;
    }
    let mut got = Vec::new();
    let _ = tokio::time::timeout(http::WAIT, tls.read_to_end(&mut got)).await;
    got.starts_with(b"HTTP/1.1 200")
}

#[tokio::test]
async fn with_ca_certs_only_clients_of_that_authority_are_served() {
    let pki = pki();
    let ours = client_pki("ours");
    let theirs = client_pki("theirs");
    let ca = pki.dir.path().join("clients-ca.pem");
    std::fs::write(&ca, &ours.ca_pem).unwrap();
    let tls = TlsConfig::from_pem_files_verifying_clients(&pki.key(), &pki.certs(), &ca).unwrap();
    let s = Server::start(ServerConfig {
        tls: Some(tls),
        ..ServerConfig::default()
    })
    .await;
    assert!(
        served(s.addr, &pki.cert_der, Some(&ours), "/healthz").await,
        "a client with a certificate of the configured authority is served"
    );
    assert!(
        !served(s.addr, &pki.cert_der, None, "/healthz").await,
        "a client without a certificate is refused"
    );
    assert!(
        !served(s.addr, &pki.cert_der, Some(&theirs), "/healthz").await,
        "a client with another authority's certificate is refused"
    );
    // Without --ca-certs, the same anonymous client is served.
    s.stop().await;
    let s = Server::start(ServerConfig {
        tls: Some(TlsConfig::from_pem_files(&pki.key(), &pki.certs()).unwrap()),
        ..ServerConfig::default()
    })
    .await;
    assert!(served(s.addr, &pki.cert_der, None, "/healthz").await);
    s.stop().await;
}

#[test]
fn a_client_ca_file_without_certificates_is_named() {
    let pki = pki();
    let ca = pki.dir.path().join("empty-ca.pem");
    std::fs::write(&ca, "not a certificate\n").unwrap();
    let err = TlsConfig::from_pem_files_verifying_clients(&pki.key(), &pki.certs(), &ca)
        .expect_err("must fail");
    assert!(err.to_string().contains("empty-ca.pem"), "{err}");
}
