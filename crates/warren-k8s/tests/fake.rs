//! The fake API server itself answers like the real one: `Status` objects for a missing or
//! wrong token, a wrong content type and an unknown pod, and merge-patch semantics (`null`
//! removes a label, other labels are kept). Requests are sent raw here, not through the
//! crate's client, so a wrong header can be sent on purpose.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use support::{Env, NS, POD};

async fn send(
    env: &Env,
    path: &str,
    content_type: &str,
    token: &str,
    body: &str,
) -> (u16, serde_json::Value) {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(env.fake.ca_pem.as_bytes()).unwrap())
        .unwrap();
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(env.fake.addr).await.unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(cfg))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = hyper::Request::patch(path)
        .header("Host", "localhost")
        .header("Content-Type", content_type)
        .header("Authorization", format!("Bearer {token}"))
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&body).unwrap())
}

const MERGE: &str = "application/merge-patch+json";

#[tokio::test]
async fn answers_like_the_api_server() {
    let env = Env::start().await;
    let pod = format!("/api/v1/namespaces/{NS}/pods/{POD}");
    let set = |v: &str| format!(r#"{{"metadata":{{"labels":{{"role":{v},"app":"warren"}}}}}}"#);

    let (code, st) = send(&env, &pod, MERGE, "wrong", &set("\"leader\"")).await;
    assert_eq!(
        (code, st["kind"].as_str(), st["code"].as_u64()),
        (401, Some("Status"), Some(401))
    );
    assert_eq!(st["status"], "Failure");
    assert_eq!(st["reason"], "Unauthorized");

    let (code, st) = send(&env, &pod, "application/json", "tok-1", &set("\"leader\"")).await;
    assert_eq!(
        (code, st["reason"].as_str()),
        (415, Some("UnsupportedMediaType"))
    );

    let other = format!("/api/v1/namespaces/{NS}/pods/nope");
    let (code, st) = send(&env, &other, MERGE, "tok-1", &set("\"leader\"")).await;
    assert_eq!((code, st["reason"].as_str()), (404, Some("NotFound")));
    assert!(st["message"].as_str().unwrap().contains("nope"));

    let (code, pod_json) = send(&env, &pod, MERGE, "tok-1", &set("\"leader\"")).await;
    assert_eq!(code, 200);
    assert_eq!(pod_json["metadata"]["labels"]["role"], "leader");
    let remove = r#"{"metadata":{"labels":{"role":null}}}"#;
    let (code, _) = send(&env, &pod, MERGE, "tok-1", remove).await;
    assert_eq!(code, 200);
    let labels = env.fake.labels(NS, POD).unwrap();
    assert_eq!(labels.get("role"), None);
    assert_eq!(labels.get("app").map(String::as_str), Some("warren"));

    env.fake.script([support::fake::Scripted {
        code: 429,
        retry_after: Some(3),
    }]);
    let (code, st) = send(&env, &pod, MERGE, "tok-1", remove).await;
    assert_eq!(
        (code, st["reason"].as_str()),
        (429, Some("TooManyRequests"))
    );
    assert_eq!(env.fake.requests().len(), 6);
}
