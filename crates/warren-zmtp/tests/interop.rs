//! Interop with real libzmq through pyzmq (`tests/interop.py`), in both directions.
//!
//! Runs only with `WARREN_INTEROP=1` and `python3` with pyzmq installed
//! (`python3 -m pip install pyzmq==27.3.0`); otherwise each test prints that it was skipped.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;
use warren_zmtp::{PullConfig, PullListener, PushConfig, Pusher};

const N: usize = 200;
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop.py");
const PIP: &str = "python3 -m pip install pyzmq==27.3.0";

/// `true` if interop tests should run; otherwise prints a visible skip notice.
fn enabled(test: &str) -> bool {
    if std::env::var("WARREN_INTEROP").is_ok_and(|v| v == "1") {
        return true;
    }
    // Written straight to stderr so the test harness does not capture it.
    let notice = format!(
        "SKIPPED interop::{test}: set WARREN_INTEROP=1 to run against libzmq (needs `{PIP}`)\n"
    );
    let _ = std::io::stderr().lock().write_all(notice.as_bytes());
    false
}

/// Must match `message` in interop.py.
fn message(i: usize) -> Vec<u8> {
    let len = if i == 5 { 70_000 } else { (i * 37) % 700 };
    let mut m = format!("{i}:").into_bytes();
    m.extend((0..len).map(|k| ((i + k) % 256) as u8));
    m
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The python child, killed (by its own pid) if the test ends early.
struct Python {
    child: Child,
    lines: mpsc::UnboundedReceiver<String>,
}

impl Python {
    fn spawn(args: &[&str]) -> Python {
        let mut child = Command::new("python3")
            .arg(SCRIPT)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run python3 ({e}); install python3 and `{PIP}`"));
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.starts_with('#') {
                    let note = format!("interop.py: {line}\n");
                    let _ = std::io::stderr().lock().write_all(note.as_bytes());
                    continue;
                }
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Python { child, lines }
    }

    async fn line(&mut self) -> String {
        match timeout(Duration::from_secs(15), self.lines.recv()).await {
            Ok(Some(line)) => line,
            Ok(None) => panic!("interop.py exited early; is pyzmq installed? ({PIP})"),
            Err(_) => panic!("interop.py said nothing for 15 s"),
        }
    }

    fn wait_success(mut self) {
        let status = self.child.wait().unwrap();
        assert!(status.success(), "interop.py failed: {status}");
    }
}

impl Drop for Python {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[tokio::test]
async fn libzmq_pull_receives_from_our_pusher() {
    if !enabled("libzmq_pull_receives_from_our_pusher") {
        return;
    }
    let mut py = Python::spawn(&["pull", &N.to_string()]);
    let port_line = py.line().await;
    let port: u16 = port_line
        .strip_prefix("PORT ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line {port_line:?}"));
    let to = SocketAddr::from((Ipv4Addr::LOCALHOST, port));

    let token = CancellationToken::new();
    let pusher = Pusher::new(PushConfig::default(), &token).unwrap();
    for i in 0..N {
        pusher.send(to, message(i)).unwrap();
    }
    for i in 0..N {
        assert_eq!(py.line().await, hex(&message(i)), "message {i}");
    }
    assert_eq!(py.line().await, "DONE");
    py.wait_success();
    let stats = pusher.stats().snapshot();
    assert_eq!(stats.messages_sent, N as u64);
    assert_eq!(stats.connects, 1);
    token.cancel();
}

#[tokio::test]
async fn our_pull_receives_from_libzmq_push() {
    if !enabled("our_pull_receives_from_libzmq_push") {
        return;
    }
    let token = CancellationToken::new();
    let (listener, mut rx) = PullListener::bind(
        SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        PullConfig::default(),
        &token,
    )
    .await
    .unwrap();
    let port = listener.local_addr().port().to_string();
    let mut py = Python::spawn(&["push", &port, &N.to_string()]);
    for i in 0..N {
        let (peer, got) = timeout(Duration::from_secs(15), rx.recv())
            .await
            .expect("timed out waiting for libzmq's messages")
            .unwrap();
        assert!(peer.ip().is_loopback());
        assert_eq!(got, message(i), "message {i}");
    }
    assert_eq!(py.line().await, "DONE");
    py.wait_success();
    let stats = listener.stats().snapshot();
    assert_eq!(stats.handshakes_completed, 1);
    assert_eq!(stats.messages_received, N as u64);
    assert_eq!(stats.dropped_rate_limited, 0);
    token.cancel();
}
