//! The gateway server on 127.0.0.1 with an ephemeral port, driven by raw HTTP/1.1 over TCP.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;
use warren_gateway::{ServerConfig, Snapshot, serve, serve_with};

const BODY: &[u8] = br#"{"member":{"members":{}}}"#;
const WAIT: Duration = Duration::from_secs(5);

struct Gateway {
    addr: std::net::SocketAddr,
    tx: watch::Sender<Arc<Snapshot>>,
    stop: CancellationToken,
    task: JoinHandle<std::io::Result<()>>,
}

async fn start(cfg: Option<ServerConfig>) -> Gateway {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = watch::channel(Arc::new(Snapshot {
        butterfly: Bytes::from_static(BODY),
        ..Snapshot::default()
    }));
    let stop = CancellationToken::new();
    let task = match cfg {
        None => tokio::spawn(serve(listener, rx, stop.clone())),
        Some(cfg) => tokio::spawn(serve_with(listener, rx, stop.clone(), cfg)),
    };
    Gateway {
        addr,
        tx,
        stop,
        task,
    }
}

struct Reply {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

fn parse(raw: &[u8]) -> Reply {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header terminator");
    let head = String::from_utf8(raw[..split].to_vec()).unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    Reply {
        status,
        head,
        body: raw[split + 4..].to_vec(),
    }
}

/// One request on a fresh connection with `Connection: close`; reads to EOF.
async fn request(g: &Gateway, method: &str, path: &str) -> Reply {
    let mut s = TcpStream::connect(g.addr).await.unwrap();
    let req = format!("{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    timeout(WAIT, s.read_to_end(&mut raw))
        .await
        .unwrap()
        .unwrap();
    parse(&raw)
}

/// Reads one response with a `content-length` from a keep-alive connection.
async fn read_response(s: &mut TcpStream) -> Reply {
    let mut raw = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        let n = s.read(&mut buf).await.unwrap();
        assert!(n > 0, "connection closed early");
        raw.extend_from_slice(&buf[..n]);
        if let Some(p) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let r = parse(&raw);
            let len: usize = r.header("content-length").unwrap().parse().unwrap();
            if raw.len() >= p + 4 + len {
                return r;
            }
        }
    }
}

async fn stop(g: Gateway) {
    g.stop.cancel();
    timeout(WAIT, g.task).await.unwrap().unwrap().unwrap();
}

#[tokio::test]
async fn routes_and_statuses() {
    let g = start(None).await;

    let r = request(&g, "GET", "/healthz").await;
    assert_eq!((r.status, r.body.as_slice()), (200, &b"ok\n"[..]));

    let r = request(&g, "GET", "/butterfly").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.body, BODY);

    let r = request(&g, "GET", "/butterfly?x=1").await;
    assert_eq!(r.status, 200);

    let r = request(&g, "HEAD", "/butterfly").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some(&*BODY.len().to_string()));
    assert!(r.body.is_empty());

    let r = request(&g, "GET", "/nope").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert!(v["error"].is_string());

    let r = request(&g, "POST", "/butterfly").await;
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD"));
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert!(v["error"].is_string());

    stop(g).await;
}

#[tokio::test]
async fn readyz_follows_the_snapshot() {
    let g = start(None).await;
    assert_eq!(request(&g, "GET", "/readyz").await.status, 503);
    g.tx.send_replace(Arc::new(Snapshot {
        butterfly: Bytes::from_static(b"{\"v\":2}"),
        census: Bytes::from_static(b"{\"c\":3}"),
        gossip_ready: true,
        ..Snapshot::default()
    }));
    assert_eq!(request(&g, "GET", "/readyz").await.status, 200);
    assert_eq!(request(&g, "GET", "/butterfly").await.body, b"{\"v\":2}");
    assert_eq!(request(&g, "GET", "/census").await.body, b"{\"c\":3}");
    g.tx.send_replace(Arc::new(Snapshot::default()));
    assert_eq!(request(&g, "GET", "/readyz").await.status, 503);
    stop(g).await;
}

#[tokio::test]
async fn shutdown_completes_with_an_idle_keep_alive_connection() {
    let g = start(None).await;
    let mut s = TcpStream::connect(g.addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(read_response(&mut s).await.status, 200);
    let addr = g.addr;
    stop(g).await;
    // The idle connection was closed and the listener is gone.
    let mut rest = Vec::new();
    let n = timeout(WAIT, s.read_to_end(&mut rest))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, 0);
    assert!(TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn slow_headers_are_cut_off() {
    let g = start(Some(ServerConfig {
        header_read_timeout: Duration::from_millis(200),
        ..ServerConfig::default()
    }))
    .await;
    let mut s = TcpStream::connect(g.addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost:")
        .await
        .unwrap();
    let mut rest = Vec::new();
    // The server gives up on us (it may answer 408 first); we never finish the headers.
    timeout(WAIT, s.read_to_end(&mut rest))
        .await
        .unwrap()
        .unwrap();
    assert!(rest.is_empty() || rest.starts_with(b"HTTP/1.1 408"));

    // An idle keep-alive connection is closed by the same timer.
    let mut s = TcpStream::connect(g.addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(read_response(&mut s).await.status, 200);
    let mut rest = Vec::new();
    timeout(WAIT, s.read_to_end(&mut rest))
        .await
        .unwrap()
        .unwrap();
    stop(g).await;
}

#[tokio::test]
async fn connections_beyond_the_limit_wait() {
    let g = start(Some(ServerConfig {
        max_connections: 1,
        ..ServerConfig::default()
    }))
    .await;
    let mut first = TcpStream::connect(g.addr).await.unwrap();
    first
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(read_response(&mut first).await.status, 200);

    let mut second = TcpStream::connect(g.addr).await.unwrap();
    second
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let early = timeout(Duration::from_millis(300), second.read(&mut buf)).await;
    assert!(
        early.is_err(),
        "second connection served while the first held the only slot"
    );

    drop(first);
    let mut raw = Vec::new();
    timeout(WAIT, second.read_to_end(&mut raw))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(parse(&raw).status, 200);
    stop(g).await;
}
