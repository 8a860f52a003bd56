//! A fake Kubernetes API server for the tests: in-process HTTPS (a test CA made with rcgen),
//! bearer token checked against the current contents of a token file (so tests can rotate
//! it), one resource — `/api/v1/namespaces/{ns}/pods/{name}` — answering `PATCH` with JSON
//! merge patch semantics on a stored label map and `GET` with the Pod (name, namespace,
//! labels), `Status` objects on errors like the real API (404 for a pod never added or
//! deleted by the test), and a queue of scripted failures (403 / 409 / 429 with `Retry-After` /
//! 500 ...). Every request is recorded.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use rustls::pki_types::PrivateKeyDer;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// One request as the fake saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub content_type: Option<String>,
    pub authorization: Option<String>,
    pub body: String,
    /// The status the fake answered.
    pub status: u16,
    pub at: Instant,
}

/// A failure to answer instead of handling the next authenticated request.
#[derive(Debug, Clone, Copy)]
pub struct Scripted {
    pub code: u16,
    pub retry_after: Option<u64>,
}

impl Scripted {
    pub fn code(code: u16) -> Scripted {
        Scripted {
            code,
            retry_after: None,
        }
    }
}

#[derive(Default)]
struct State {
    pods: HashMap<(String, String), BTreeMap<String, String>>,
    script: VecDeque<Scripted>,
    requests: Vec<Recorded>,
}

pub struct Fake {
    pub addr: SocketAddr,
    /// The test CA (PEM), to write where the client expects `ca.crt`.
    pub ca_pem: String,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn reason(code: u16) -> &'static str {
    match code {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        409 => "Conflict",
        415 => "UnsupportedMediaType",
        429 => "TooManyRequests",
        _ => "InternalError",
    }
}

fn status(code: u16, message: &str, retry_after: Option<u64>) -> Response<Full<Bytes>> {
    let body = serde_json::json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason(code),
        "code": code,
    });
    let mut resp = Response::builder()
        .status(code)
        .header("Content-Type", "application/json");
    if let Some(secs) = retry_after {
        resp = resp.header("Retry-After", secs.to_string());
    }
    resp.body(Full::new(Bytes::from(body.to_string()))).unwrap()
}

impl Fake {
    /// Starts the fake on loopback; `token_file` holds the token it accepts (read for each
    /// request).
    pub async fn start(token_file: PathBuf) -> Fake {
        Fake::start_on(token_file, std::net::Ipv4Addr::LOCALHOST.into()).await
    }

    /// Starts the fake on `ip` (an address containers can reach, for the Docker end-to-end
    /// run); its certificate names that address.
    pub async fn start_on(token_file: PathBuf, ip: std::net::IpAddr) -> Fake {
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "fake kubernetes CA");
        let ca =
            rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().unwrap())
                .unwrap();
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let leaf = rcgen::CertificateParams::new(vec!["localhost".into(), ip.to_string()])
            .unwrap()
            .signed_by(&leaf_key, &ca)
            .unwrap();
        let key = PrivateKeyDer::try_from(leaf_key.serialize_der()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![leaf.der().clone()], key)
            .unwrap();
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        let acceptor = TlsAcceptor::from(Arc::new(cfg));

        let listener = TcpListener::bind((ip, 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State::default()));
        let st = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let acceptor = acceptor.clone();
                let st = st.clone();
                let token_file = token_file.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let svc = hyper::service::service_fn(move |req| {
                        let st = st.clone();
                        let token_file = token_file.clone();
                        async move {
                            Ok::<_, std::convert::Infallible>(handle(req, &st, &token_file).await)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), svc)
                        .await;
                });
            }
        });
        Fake {
            addr,
            ca_pem: ca.pem(),
            state,
            task,
        }
    }

    pub fn add_pod(&self, ns: &str, name: &str) {
        let mut st = self.state.lock().unwrap();
        st.pods.insert((ns.into(), name.into()), BTreeMap::new());
    }

    pub fn delete_pod(&self, ns: &str, name: &str) {
        let mut st = self.state.lock().unwrap();
        st.pods.remove(&(ns.into(), name.into()));
    }

    /// The pod's labels, `None` if there is no such pod.
    pub fn labels(&self, ns: &str, name: &str) -> Option<BTreeMap<String, String>> {
        let st = self.state.lock().unwrap();
        st.pods.get(&(ns.into(), name.into())).cloned()
    }

    pub fn script(&self, failures: impl IntoIterator<Item = Scripted>) {
        self.state.lock().unwrap().script.extend(failures);
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().requests.clone()
    }
}

async fn handle(
    req: Request<Incoming>,
    st: &Mutex<State>,
    token_file: &std::path::Path,
) -> Response<Full<Bytes>> {
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let content_type = header("content-type");
    let authorization = header("authorization");
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let body = String::from_utf8_lossy(&body).into_owned();
    let token = std::fs::read_to_string(token_file).unwrap_or_default();
    let expected = format!("Bearer {}", token.trim());

    let mut st = st.lock().unwrap();
    let resp = answer(
        &mut st,
        &method,
        &path,
        content_type.as_deref(),
        authorization.as_deref(),
        &expected,
        &body,
    );
    st.requests.push(Recorded {
        method,
        path,
        content_type,
        authorization,
        body,
        status: resp.status().as_u16(),
        at: Instant::now(),
    });
    resp
}

fn answer(
    st: &mut State,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    authorization: Option<&str>,
    expected: &str,
    body: &str,
) -> Response<Full<Bytes>> {
    if authorization != Some(expected) {
        return status(401, "Unauthorized", None);
    }
    if let Some(s) = st.script.pop_front() {
        let verb = method.to_ascii_lowercase();
        let msg = match s.code {
            403 => format!(
                "pods \"x\" is forbidden: User \"system:serviceaccount:ring:warren\" cannot {verb} resource \"pods\" in API group \"\" in the namespace \"ring\""
            ),
            409 => "Operation cannot be fulfilled on pods \"x\": the object has been modified"
                .to_owned(),
            429 => "Too many requests, please try again later.".to_owned(),
            c => format!("scripted failure {c}"),
        };
        return status(s.code, &msg, s.retry_after);
    }
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (ns, name) = match parts.as_slice() {
        ["api", "v1", "namespaces", ns, "pods", name] => (ns.to_string(), name.to_string()),
        _ => {
            return status(
                404,
                "the server could not find the requested resource",
                None,
            );
        }
    };
    if method == "GET" {
        let Some(labels) = st.pods.get(&(ns.clone(), name.clone())) else {
            return status(404, &format!("pods \"{name}\" not found"), None);
        };
        return pod_reply(&ns, &name, labels);
    }
    if method != "PATCH" {
        return status(
            405,
            &format!("{method} is not supported by this fake"),
            None,
        );
    }
    if content_type != Some("application/merge-patch+json") {
        return status(
            415,
            &format!(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got {content_type:?})"
            ),
            None,
        );
    }
    let Some(labels) = st.pods.get_mut(&(ns.clone(), name.clone())) else {
        return status(404, &format!("pods \"{name}\" not found"), None);
    };
    let Ok(patch) = serde_json::from_str::<serde_json::Value>(body) else {
        return status(400, "error decoding patch", None);
    };
    if let Some(map) = patch
        .pointer("/metadata/labels")
        .and_then(|v| v.as_object())
    {
        for (k, v) in map {
            match v {
                serde_json::Value::Null => {
                    labels.remove(k);
                }
                serde_json::Value::String(s) => {
                    labels.insert(k.clone(), s.clone());
                }
                _ => return status(422, "label values must be strings", None),
            }
        }
    }
    pod_reply(&ns, &name, labels)
}

fn pod_reply(ns: &str, name: &str, labels: &BTreeMap<String, String>) -> Response<Full<Bytes>> {
    let pod = serde_json::json!({
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": { "name": name, "namespace": ns, "labels": labels },
    });
    Response::builder()
        .status(200)
        .header("Content-Type", "application/json")
        .body(Full::new(Bytes::from(pod.to_string())))
        .unwrap()
}
