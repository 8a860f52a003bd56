//! The two requests, over HTTPS with the service-account token: a JSON merge patch of one
//! label on this pod ([`Client::patch_label`]) and a read of a pod by name in this pod's
//! namespace ([`Client::get_pod`]). It classifies nothing (the callers read the status codes)
//! and keeps no connection between requests.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue, RETRY_AFTER};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::config::Config;

/// How long one request (connect, TLS, send, read the reply) may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest reply body read (a Status object is far smaller).
const MAX_REPLY: usize = 64 * 1024;

/// Why a request got no HTTP reply. None of these changes the pod.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The cluster CA file could not be read or holds no usable certificate.
    #[error("cluster CA {path}: {detail}")]
    Ca {
        /// The CA file.
        path: std::path::PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// The service-account token file could not be read, or is empty.
    #[error("service-account token {path}: {detail}")]
    Token {
        /// The token file.
        path: std::path::PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// The API host is not a valid TLS server name.
    #[error("API server host {0:?} is not a valid DNS name or IP address")]
    ServerName(String),
    /// A pod name asked for is not a Kubernetes object name (a DNS subdomain: at most 253
    /// lowercase letters, digits, `-` and `.`); nothing was sent.
    #[error("{0:?} is not a pod name")]
    PodName(String),
    /// Connecting, the TLS handshake, or the HTTP exchange failed (worth retrying).
    #[error("API server {addr}: {detail}")]
    Connection {
        /// `host:port`.
        addr: String,
        /// What failed.
        detail: String,
    },
}

impl ClientError {
    /// Whether the same request may succeed later without a configuration change (connection
    /// problems and token read errors; projected tokens are rewritten in place).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ClientError::Connection { .. } | ClientError::Token { .. }
        )
    }
}

/// The API server's answer to a patch or a read (the body itself is not kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiReply {
    /// The HTTP status code.
    pub status: u16,
    /// `Retry-After`, when present and given in seconds.
    pub retry_after: Option<Duration>,
    /// The `message` of a `Status` object in the body, if any (for logs).
    pub message: Option<String>,
    /// The `metadata.labels` of an object in the body (a Pod read by [`Client::get_pod`]);
    /// empty otherwise.
    pub labels: std::collections::BTreeMap<String, String>,
}

/// The answer to a patch.
pub type PatchReply = ApiReply;

/// Whether `name` may be put in a path as a pod's name: a DNS subdomain (RFC 1123), as the API
/// server requires of pod names. Anything else (a `/`, `..`, `?`, upper case) is refused before a
/// request is built, so a name learnt from gossip can never address another resource.
pub fn is_pod_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// A thin HTTPS client for the calls of this crate; one connection per request.
#[derive(Clone)]
pub struct Client {
    config: Arc<Config>,
    tls: TlsConnector,
    server_name: ServerName<'static>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("api", &self.config.api_base())
            .field("pod", &self.config.pod_path())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Builds the client: reads the CA file now (the token is read for each request).
    pub fn new(config: Config) -> Result<Client, ClientError> {
        let ca_err = |detail: String| ClientError::Ca {
            path: config.ca_path.clone(),
            detail,
        };
        let pem = std::fs::read(&config.ca_path).map_err(|e| ca_err(e.to_string()))?;
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.map_err(|e| ca_err(e.to_string()))?;
            roots.add(cert).map_err(|e| ca_err(e.to_string()))?;
        }
        if roots.is_empty() {
            return Err(ca_err("no certificate in the file".to_owned()));
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| ca_err(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let server_name = ServerName::try_from(config.api_host.clone())
            .map_err(|_| ClientError::ServerName(config.api_host.clone()))?;
        Ok(Client {
            config: Arc::new(config),
            tls: TlsConnector::from(Arc::new(tls)),
            server_name,
        })
    }

    /// The configuration the client was built with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The merge patch setting label `key` to `value`, or removing it (`None`).
    pub fn patch_body(key: &str, value: Option<&str>) -> Vec<u8> {
        let mut labels = serde_json::Map::new();
        labels.insert(
            key.to_owned(),
            value.map_or(serde_json::Value::Null, |v| v.into()),
        );
        serde_json::json!({ "metadata": { "labels": labels } })
            .to_string()
            .into_bytes()
    }

    /// Reads the token file (again: projected tokens rotate).
    async fn token(&self) -> Result<String, ClientError> {
        let path = &self.config.token_path;
        let err = |detail: String| ClientError::Token {
            path: path.clone(),
            detail,
        };
        let raw = tokio::fs::read_to_string(path)
            .await
            .map_err(|e| err(e.to_string()))?;
        let token = raw.trim();
        if token.is_empty() {
            return Err(err("empty".to_owned()));
        }
        Ok(token.to_owned())
    }

    /// `PATCH /api/v1/namespaces/{ns}/pods/{name}` setting (or removing) one label.
    pub async fn patch_label(
        &self,
        key: &str,
        value: Option<&str>,
    ) -> Result<PatchReply, ClientError> {
        let token = self.token().await?;
        let body = Client::patch_body(key, value);
        let req = Request::patch(self.config.pod_path())
            .header(CONTENT_TYPE, "application/merge-patch+json")
            .body(Full::new(Bytes::from(body)));
        self.send(&token, req).await
    }

    /// `PATCH /api/v1/namespaces/{ns}/pods/{name}` of another pod `name` in this pod's namespace,
    /// setting (or removing) one label: the group's new leader removing a leader label its old
    /// leader could not (see `warren`'s `k8s_role`).
    pub async fn patch_label_of(
        &self,
        name: &str,
        key: &str,
        value: Option<&str>,
    ) -> Result<PatchReply, ClientError> {
        if !is_pod_name(name) {
            return Err(ClientError::PodName(name.to_owned()));
        }
        let token = self.token().await?;
        let body = Client::patch_body(key, value);
        let req = Request::patch(self.config.pod_path_of(name))
            .header(CONTENT_TYPE, "application/merge-patch+json")
            .body(Full::new(Bytes::from(body)));
        self.send(&token, req).await
    }

    /// `GET /api/v1/namespaces/{ns}/pods/{name}`: pod `name` in this pod's namespace. The reply's
    /// status says whether it exists (200) or not (404), and [`ApiReply::labels`] holds its
    /// labels; nothing else of the pod is decoded.
    pub async fn get_pod(&self, name: &str) -> Result<ApiReply, ClientError> {
        if !is_pod_name(name) {
            return Err(ClientError::PodName(name.to_owned()));
        }
        let token = self.token().await?;
        let req = Request::get(self.config.pod_path_of(name)).body(Full::new(Bytes::new()));
        self.send(&token, req).await
    }

    async fn send(
        &self,
        token: &str,
        req: Result<Request<Full<Bytes>>, hyper::http::Error>,
    ) -> Result<ApiReply, ClientError> {
        let mut req = req.map_err(|e| self.conn_err(format!("request: {e}")))?;
        let headers = req.headers_mut();
        for (name, value) in [
            (HOST, self.config.authority()),
            (AUTHORIZATION, format!("Bearer {token}")),
            (ACCEPT, "application/json".to_owned()),
        ] {
            let value = HeaderValue::try_from(value)
                .map_err(|e| self.conn_err(format!("request header {name}: {e}")))?;
            headers.insert(name, value);
        }
        match tokio::time::timeout(REQUEST_TIMEOUT, self.exchange(req)).await {
            Ok(reply) => reply,
            Err(_) => Err(self.conn_err(format!("no reply within {REQUEST_TIMEOUT:?}"))),
        }
    }

    fn conn_err(&self, detail: String) -> ClientError {
        ClientError::Connection {
            addr: self.config.authority(),
            detail,
        }
    }

    async fn exchange(&self, req: Request<Full<Bytes>>) -> Result<ApiReply, ClientError> {
        let tcp = TcpStream::connect((self.config.api_host.as_str(), self.config.api_port))
            .await
            .map_err(|e| self.conn_err(format!("connect: {e}")))?;
        let tls = self
            .tls
            .connect(self.server_name.clone(), tcp)
            .await
            .map_err(|e| self.conn_err(format!("TLS: {e}")))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| self.conn_err(format!("HTTP: {e}")))?;
        let driver = tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "API server connection closed with an error");
            }
        });
        let result = async {
            let resp = sender
                .send_request(req)
                .await
                .map_err(|e| self.conn_err(format!("HTTP: {e}")))?;
            let status = resp.status().as_u16();
            let retry_after = resp
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let body = http_body_util::Limited::new(resp.into_body(), MAX_REPLY)
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let doc = serde_json::from_slice::<serde_json::Value>(&body).ok();
            let message = doc
                .as_ref()
                .and_then(|v| v.get("message")?.as_str().map(str::to_owned));
            let labels = doc
                .as_ref()
                .and_then(|v| v.get("metadata")?.get("labels")?.as_object().cloned())
                .map(|m| {
                    m.into_iter()
                        .filter_map(|(k, v)| Some((k, v.as_str()?.to_owned())))
                        .collect()
                })
                .unwrap_or_default();
            Ok(ApiReply {
                status,
                retry_after,
                message,
                labels,
            })
        }
        .await;
        driver.abort();
        result
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn bodies() {
        assert_eq!(
            Client::patch_body("role", Some("leader")),
            br#"{"metadata":{"labels":{"role":"leader"}}}"#
        );
        assert_eq!(
            Client::patch_body("role", None),
            br#"{"metadata":{"labels":{"role":null}}}"#
        );
    }

    #[test]
    fn pod_names() {
        for ok in [
            "warren-0",
            "redis-7c9f8-x2b4q",
            "a",
            "a.b-c.d",
            &"x".repeat(63),
        ] {
            assert!(is_pod_name(ok), "{ok}");
        }
        let long = format!("{}.{}", "x".repeat(200), "y".repeat(60));
        for bad in [
            "",
            "Warren-0",
            "../secrets/x",
            "a/b",
            "a?watch=1",
            "-a",
            "a-",
            "a..b",
            ".a",
            "a b",
            "a%2Fb",
            &"x".repeat(64),
            &long,
        ] {
            assert!(!is_pod_name(bad), "{bad:?}");
        }
    }
}
