//! Helpers for multi-process tests: start `warren run` supervisors on 127.0.0.1 with their own
//! ports and state directories, read their `/butterfly`, signal them, and wait for conditions.
//!
//! The binary under test is `target/<profile>/warren` (or `$WARREN_BIN`); `.ci/run` builds
//! it with the `fault-injection` feature first. Nothing here talks to anything but loopback.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The `warren` binary to test.
pub fn warren_bin() -> PathBuf {
    if let Ok(p) = std::env::var("WARREN_BIN") {
        return PathBuf::from(p);
    }
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let bin = target.join(profile).join("warren");
    assert!(
        bin.exists(),
        "{} is missing: build it first with `cargo build -p warren --features fault-injection{}`",
        bin.display(),
        if profile == "release" {
            " --release"
        } else {
            ""
        }
    );
    bin
}

/// A free port on 127.0.0.1 for both UDP and TCP (best effort: probed, then released).
pub fn free_port() -> u16 {
    for _ in 0..100 {
        let Ok(u) = UdpSocket::bind("127.0.0.1:0") else {
            continue;
        };
        let Ok(addr) = u.local_addr() else { continue };
        if std::net::TcpListener::bind(addr).is_ok() {
            return addr.port();
        }
    }
    panic!("no free port on 127.0.0.1");
}

/// A running supervisor.
pub struct Sup {
    /// The process.
    pub child: Child,
    /// Gossip address.
    pub gossip: SocketAddr,
    /// HTTP address.
    pub http: SocketAddr,
    /// Its `--fs-root`.
    pub root: PathBuf,
    /// Extra arguments it was started with (reused on restart).
    pub extra: Vec<String>,
    /// Extra environment (reused on restart).
    pub env: Vec<(String, String)>,
}

impl Sup {
    /// Starts a supervisor with its own ports under `root`, joining through `peers`.
    pub fn start(root: &Path, peers: &[SocketAddr], extra: &[&str]) -> Sup {
        Sup::start_env(root, peers, extra, &[])
    }

    /// As [`Sup::start`], with environment variables.
    pub fn start_env(
        root: &Path,
        peers: &[SocketAddr],
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Sup {
        let gossip: SocketAddr = format!("127.0.0.1:{}", free_port())
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        let http: SocketAddr = format!("127.0.0.1:{}", free_port())
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        let mut extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        for p in peers {
            extra.push("--peer".into());
            extra.push(p.to_string());
        }
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut s = Sup {
            child: spawn(root, gossip, http, &extra, &env),
            gossip,
            http,
            root: root.to_path_buf(),
            extra,
            env,
        };
        s.wait_http();
        s
    }

    /// Restarts a killed supervisor with the same ports, state and arguments.
    pub fn restart(&mut self) {
        let _ = self.child.wait();
        self.child = spawn(&self.root, self.gossip, self.http, &self.extra, &self.env);
        self.wait_http();
    }

    fn wait_http(&mut self) {
        let ok = wait_until(Duration::from_secs(10), || {
            http_get(self.http, "/healthz").is_some()
        });
        assert!(ok, "supervisor on {} never answered /healthz", self.http);
    }

    /// Its member id (from `MEMBER_ID`).
    pub fn id(&self) -> String {
        std::fs::read_to_string(self.root.join("hab/sup/default/MEMBER_ID"))
            .unwrap_or_default()
            .trim()
            .to_owned()
    }

    /// Its `/butterfly` document.
    pub fn butterfly(&self) -> Option<Value> {
        http_get(self.http, "/butterfly").and_then(|b| serde_json::from_str(&b).ok())
    }

    /// Its `/census` document.
    pub fn census(&self) -> Option<Value> {
        http_get(self.http, "/census").and_then(|b| serde_json::from_str(&b).ok())
    }

    /// The leader of `group` this supervisor reports, once the group's election finished.
    pub fn leader_of(&self, group: &str) -> Option<String> {
        let c = self.census()?;
        let g = &c["census_groups"][group];
        if g["election_status"] != "ElectionFinished" {
            return None;
        }
        g["leader_id"].as_str().map(str::to_owned)
    }

    /// The health this supervisor holds for `id` (`"Alive"`, …).
    pub fn health_of(&self, id: &str) -> Option<String> {
        let b = self.butterfly()?;
        b["membership"][id]["health"].as_str().map(str::to_owned)
    }

    /// The incarnation this supervisor holds for `id`.
    pub fn incarnation_of(&self, id: &str) -> Option<u64> {
        self.butterfly()?["membership"][id]["incarnation"].as_u64()
    }

    /// Sends a signal (`"KILL"`, `"TERM"`, `"STOP"`, `"CONT"`).
    pub fn signal(&self, sig: &str) {
        let _ = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status();
    }

    /// Waits for the process to exit; returns its code.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            if let Ok(Some(st)) = self.child.try_wait() {
                return st.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Sup {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(
    root: &Path,
    gossip: SocketAddr,
    http: SocketAddr,
    extra: &[String],
    env: &[(String, String)],
) -> Child {
    let log = std::fs::File::create(root.join("warren.log")).ok();
    let mut cmd = Command::new(warren_bin());
    cmd.arg("run")
        .arg("--listen-gossip")
        .arg(gossip.to_string())
        .arg("--listen-http")
        .arg(http.to_string())
        .arg("--fs-root")
        .arg(root)
        .arg("--sys-ip-address")
        .arg("127.0.0.1")
        .arg("--no-color")
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    match log {
        Some(f) => cmd.stderr(f),
        None => cmd.stderr(Stdio::null()),
    };
    cmd.spawn()
        .unwrap_or_else(|e| panic!("cannot start warren: {e}"))
}

/// A fresh state directory for one supervisor of one test.
pub fn state_dir(test: &str, n: usize) -> PathBuf {
    let d = std::env::temp_dir().join(format!("warren-e2e-{}-{test}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display()));
    d
}

/// Polls `cond` every 100 ms until it holds or `limit` passes.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A minimal HTTP/1.1 GET on loopback; the body, if the status is 200.
pub fn http_get(addr: SocketAddr, path: &str) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut resp = String::new();
    s.read_to_string(&mut resp).ok()?;
    let (head, body) = resp.split_once("\r\n\r\n")?;
    if !head.starts_with("HTTP/1.1 200") {
        return None;
    }
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        return Some(dechunk(body));
    }
    Some(body.to_owned())
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}
