//! Every route and status code over real loopback HTTP/1.1: Habitat's service routes (200,
//! 400, 404, and 200/503/500 by health), 405, unknown paths, bearer auth on and off (401 with
//! an empty body; `/healthz` and `/readyz` always open), malformed and oversized requests,
//! `/readyz` following the services, and `/metrics` counting requests by route pattern.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::SocketAddr;
use std::sync::Arc;

use support::fixtures;
use support::http::{self, Reply};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use warren_gateway::{
    AuthToken, Health, ProcessState, ServerConfig, ServiceDocs, Snapshot, serve_with,
};

struct Gateway {
    addr: SocketAddr,
    tx: watch::Sender<Arc<Snapshot>>,
    stop: CancellationToken,
    task: JoinHandle<std::io::Result<()>>,
}

impl Gateway {
    async fn start(snap: Snapshot, cfg: ServerConfig) -> Gateway {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = watch::channel(Arc::new(snap));
        let stop = CancellationToken::new();
        let task = tokio::spawn(serve_with(listener, rx, stop.clone(), cfg));
        Gateway {
            addr,
            tx,
            stop,
            task,
        }
    }

    async fn get(&self, path: &str) -> Reply {
        http::get(self.addr, "GET", path, &[]).await
    }

    async fn stop(self) {
        self.stop.cancel();
        self.task.await.unwrap().unwrap();
    }
}

fn error_body(r: &Reply) -> String {
    assert_eq!(
        r.header("content-type"),
        Some("application/json"),
        "{}",
        r.head
    );
    r.json()["error"]
        .as_str()
        .expect("an error string")
        .to_owned()
}

#[tokio::test]
async fn every_route_answers() {
    let g = Gateway::start(fixtures::snapshot(), ServerConfig::default()).await;
    for path in [
        "/healthz",
        "/readyz",
        "/butterfly",
        "/census",
        "/services",
        "/services/redis/default",
        "/services/redis/default/config",
        "/services/redis/default/health",
        "/metrics",
        "/census?pretty=1",
    ] {
        let r = g.get(path).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text());
    }
    let r = g.get("/metrics").await;
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let r = g.get("/services/redis/default/health").await;
    assert_eq!(r.json()["status"], "OK");
    g.stop().await;
}

#[tokio::test]
async fn health_status_sets_the_http_status() {
    let cases = [
        (Health::Ok, 200, "OK"),
        (Health::Warning, 200, "WARNING"),
        (Health::Critical, 503, "CRITICAL"),
        (Health::Unknown, 500, "UNKNOWN"),
    ];
    let g = Gateway::start(Snapshot::default(), ServerConfig::default()).await;
    for (health, status, text) in cases {
        let mut v = fixtures::redis_view();
        v.service_group = "redis.default@acme".into();
        v.health.status = health;
        v.health.stderr = "boom".into();
        let docs = ServiceDocs::build(&fixtures::supervisor(), &[v]);
        g.tx.send_replace(Arc::new(Snapshot::default().with_services(docs)));
        let r = g.get("/services/redis/default/acme/health").await;
        assert_eq!(r.status, status, "{health:?}");
        let body = r.json();
        assert_eq!(body["status"], text);
        assert_eq!(body["stderr"], "boom");
        assert_eq!(body["stdout"], "PONG\n");
        // The org is part of the name: without it, the group is not loaded.
        assert_eq!(g.get("/services/redis/default/health").await.status, 404);
        assert_eq!(g.get("/services/redis/default/acme").await.status, 200);
        assert_eq!(
            g.get("/services/redis/default/acme/config").await.status,
            200
        );
    }
    g.stop().await;
}

#[tokio::test]
async fn malformed_unknown_and_wrong_method() {
    let g = Gateway::start(fixtures::snapshot(), ServerConfig::default()).await;
    for path in [
        "/services/re.dis/default",
        "/services/redis/def@ult",
        "/services/redis/def%23ult",
        "/services/redis/%2e%2e",
        "/services/../census",
        "/services/redis/..",
        "/services/redis/%2Fetc",
        "/services/redis/bad%zz",
        "/services/redis/%ff",
        "/services//default",
        "/services/redis/default/a.b/health",
        "/services/redis/%0a/config",
    ] {
        let r = g.get(path).await;
        assert_eq!(r.status, 400, "{path}: {}", r.text());
        assert!(error_body(&r).contains("malformed service group"), "{path}");
    }
    for path in [
        "/services/redis/prod",
        "/services/redis/prod/config",
        "/services/redis/prod/health",
        "/services/redis/default/acme",
    ] {
        let r = g.get(path).await;
        assert_eq!(r.status, 404, "{path}");
        assert!(error_body(&r).contains("is not loaded"), "{path}");
    }
    for path in [
        "/nope",
        "/services/redis",
        "/services/a/b/c/d",
        "/services/",
        "/",
    ] {
        let r = g.get(path).await;
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(error_body(&r), "not found");
    }
    for (method, path) in [
        ("POST", "/services"),
        ("PUT", "/services/redis/default"),
        ("DELETE", "/census"),
        ("POST", "/metrics"),
    ] {
        let r = http::get(g.addr, method, path, &["Content-Length: 0"]).await;
        assert_eq!(r.status, 405, "{method} {path}");
        assert_eq!(r.header("allow"), Some("GET, HEAD"));
        error_body(&r);
    }
    let full = g.get("/services").await;
    let head = http::get(g.addr, "HEAD", "/services", &[]).await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(
        head.header("content-length"),
        Some(full.body.len().to_string().as_str())
    );
    g.stop().await;
}

#[tokio::test]
async fn oversized_request_heads_are_refused() {
    let g = Gateway::start(fixtures::snapshot(), ServerConfig::default()).await;
    let big = format!("X-Big: {}", "a".repeat(20 * 1024));
    let r = http::get(g.addr, "GET", "/healthz", &[&big]).await;
    assert_eq!(r.status, 431);
    let long_path = format!("/services/{}/default", "r".repeat(20 * 1024));
    let r = g.get(&long_path).await;
    assert_eq!(r.status, 431);
    // Still serving afterwards.
    assert_eq!(g.get("/healthz").await.status, 200);
    g.stop().await;
}

#[tokio::test]
async fn garbage_gets_400_and_the_server_lives_on() {
    let g = Gateway::start(Snapshot::default(), ServerConfig::default()).await;
    let mut s = TcpStream::connect(g.addr).await.unwrap();
    s.write_all(b"\x00\x01 not http at all\r\n\r\n")
        .await
        .unwrap();
    let r = http::exchange(s, b"").await;
    assert_eq!(r.status, 400);
    assert_eq!(g.get("/healthz").await.status, 200);
    g.stop().await;
}

#[tokio::test]
async fn bearer_auth_on() {
    let cfg = ServerConfig {
        auth_token: AuthToken::new("s3cret-token"),
        ..ServerConfig::default()
    };
    let g = Gateway::start(fixtures::snapshot(), cfg).await;
    let ok = "Authorization: Bearer s3cret-token";
    for path in ["/healthz", "/readyz"] {
        assert_eq!(g.get(path).await.status, 200, "{path} must stay open");
    }
    for path in [
        "/census",
        "/butterfly",
        "/services",
        "/services/redis/default",
        "/services/redis/default/health",
        "/metrics",
        "/nope",
    ] {
        let r = g.get(path).await;
        assert_eq!(r.status, 401, "{path}");
        assert!(r.body.is_empty(), "{path}: 401 has an empty body");
        assert_eq!(r.header("www-authenticate"), Some("Bearer"));
        for wrong in [
            "Authorization: Bearer s3cret-tokem",
            "Authorization: Bearer s3cret-token2",
            "Authorization: Basic s3cret-token",
            "Authorization: s3cret-token",
        ] {
            let r = http::get(g.addr, "GET", path, &[wrong]).await;
            assert_eq!(r.status, 401, "{path} with {wrong}");
        }
    }
    for path in [
        "/census",
        "/butterfly",
        "/services",
        "/services/redis/default/health",
    ] {
        let r = http::get(g.addr, "GET", path, &[ok]).await;
        assert_eq!(r.status, 200, "{path}");
    }
    assert_eq!(http::get(g.addr, "GET", "/nope", &[ok]).await.status, 404);
    g.stop().await;
}

#[tokio::test]
async fn bearer_auth_off() {
    let g = Gateway::start(fixtures::snapshot(), ServerConfig::default()).await;
    assert_eq!(g.get("/census").await.status, 200);
    // A header is ignored when no token is configured.
    let r = http::get(
        g.addr,
        "GET",
        "/census",
        &["Authorization: Bearer whatever"],
    )
    .await;
    assert_eq!(r.status, 200);
    g.stop().await;
}

#[tokio::test]
async fn readyz_follows_gossip_and_services() {
    let snap = fixtures::snapshot();
    let g = Gateway::start(snap.clone(), ServerConfig::default()).await;
    assert_eq!(g.get("/readyz").await.status, 200);

    let with = |edit: &dyn Fn(&mut warren_gateway::ServiceView)| {
        let mut v = fixtures::redis_view();
        edit(&mut v);
        Arc::new(
            snap.clone()
                .with_services(ServiceDocs::build(&fixtures::supervisor(), &[v])),
        )
    };
    g.tx.send_replace(with(&|v| v.health.status = Health::Critical));
    assert_eq!(g.get("/readyz").await.status, 503);
    g.tx.send_replace(with(&|v| v.health.status = Health::Warning));
    assert_eq!(g.get("/readyz").await.status, 200);
    g.tx.send_replace(with(&|v| v.process.state = ProcessState::Down));
    assert_eq!(g.get("/readyz").await.status, 503);
    // Gossip not ready: not ready, whatever the services.
    g.tx.send_replace(Arc::new(Snapshot {
        gossip_ready: false,
        ..snap.clone()
    }));
    assert_eq!(g.get("/readyz").await.status, 503);
    g.stop().await;
}

#[tokio::test]
async fn metrics_are_openmetrics_only_for_a_scraper_that_prefers_it() {
    let g = Gateway::start(fixtures::snapshot(), ServerConfig::default()).await;
    let plain = g.get("/metrics").await;
    assert_eq!(plain.status, 200);
    assert_eq!(
        plain.header("content-type"),
        Some(warren_metrics::CONTENT_TYPE)
    );
    assert!(!plain.text().contains("# EOF"));
    let accept = "Accept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    let open = http::get(g.addr, "GET", "/metrics", &[accept]).await;
    assert_eq!(open.status, 200);
    assert_eq!(
        open.header("content-type"),
        Some(warren_metrics::OPENMETRICS_CONTENT_TYPE)
    );
    assert!(open.text().ends_with("# EOF\n"), "{}", open.text());
    // A scraper preferring the text format keeps it.
    let prom = http::get(
        g.addr,
        "GET",
        "/metrics",
        &["Accept: text/plain;version=0.0.4,application/openmetrics-text;q=0.1"],
    )
    .await;
    assert_eq!(
        prom.header("content-type"),
        Some(warren_metrics::CONTENT_TYPE)
    );
    g.stop().await;
}

#[tokio::test]
async fn requests_are_counted_by_route_pattern() {
    let metrics = warren_metrics::Metrics::new();
    let cfg = ServerConfig {
        metrics: metrics.clone(),
        ..ServerConfig::default()
    };
    let g = Gateway::start(fixtures::snapshot(), cfg).await;
    g.get("/services/redis/prod").await;
    g.get("/services/redis/prod").await;
    g.get("/services/redis/default/health").await;
    g.get("/nope/deeper").await;
    let text = g.get("/metrics").await.text();
    assert!(
        text.contains(
            "warren_http_requests_total{route=\"/services/{svc}/{group}\",status=\"404\"} 2"
        ),
        "{text}"
    );
    assert!(text.contains(
        "warren_http_requests_total{route=\"/services/{svc}/{group}/health\",status=\"200\"} 1"
    ));
    assert!(text.contains("warren_http_requests_total{route=\"unmatched\",status=\"404\"} 1"));
    assert!(!text.contains("prod"), "raw paths never become labels");
    assert!(text.contains(
        "warren_http_request_duration_seconds_count{route=\"/services/{svc}/{group}\"} 2"
    ));
    // The handle given in the config is the one recorded into.
    assert!(metrics.encode().contains("route=\"unmatched\""));
    g.stop().await;
}

#[tokio::test]
async fn redaction_closes_the_ring_documents_and_leaves_cfg_out() {
    let mut sup = fixtures::supervisor();
    sup.redact = true;
    let snap =
        fixtures::snapshot().with_services(ServiceDocs::build(&sup, &[fixtures::redis_view()]));
    let g = Gateway::start(
        snap,
        ServerConfig {
            redact: true,
            ..ServerConfig::default()
        },
    )
    .await;
    for path in ["/butterfly", "/census", "/services/redis/default/config"] {
        assert_eq!(g.get(path).await.status, 404, "{path}");
    }
    for path in [
        "/services",
        "/services/redis/default",
        "/services/redis/default/health",
    ] {
        let r = g.get(path).await;
        assert_eq!(r.status, 200, "{path}");
        assert!(
            !String::from_utf8_lossy(&r.body).contains("\"cfg\""),
            "{path} shows cfg"
        );
    }
    g.stop().await;
    // Without it, the same documents show cfg.
    let g = Gateway::start(fixtures::snapshot(), ServerConfig::default()).await;
    assert_eq!(g.get("/census").await.status, 200);
    let r = g.get("/services/redis/default").await;
    assert!(String::from_utf8_lossy(&r.body).contains("\"cfg\""));
    g.stop().await;
}
