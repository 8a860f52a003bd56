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
    /// Control API address.
    pub ctl: SocketAddr,
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
        Sup::start_on(root, gossip, peers, extra, env)
    }

    /// As [`Sup::start_env`], listening for gossip on `gossip` (an address another member was
    /// already told to join through, say).
    pub fn start_on(
        root: &Path,
        gossip: SocketAddr,
        peers: &[SocketAddr],
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Sup {
        let http: SocketAddr = format!("127.0.0.1:{}", free_port())
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        let ctl: SocketAddr = format!("127.0.0.1:{}", free_port())
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
            child: spawn(root, [gossip, http, ctl], &extra, &env),
            gossip,
            http,
            ctl,
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
        self.child = spawn(
            &self.root,
            [self.gossip, self.http, self.ctl],
            &self.extra,
            &self.env,
        );
        self.wait_http();
    }

    fn wait_http(&mut self) {
        let ok = wait_until(Duration::from_secs(10), || {
            http_get(self.http, "/healthz").is_some()
        });
        assert!(ok, "supervisor on {} never answered /healthz", self.http);
    }

    /// Runs a control command (`["svc", "status"]`, …) of the CLI against this supervisor;
    /// returns (exit success, stdout, stderr).
    pub fn ctl(&self, args: &[&str]) -> (bool, String, String) {
        let out = Command::new(warren_bin())
            .args(args)
            .arg("-r")
            .arg(self.ctl.to_string())
            .arg("--fs-root")
            .arg(&self.root)
            .env_remove("HAB_CTL_SECRET")
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("running warren {args:?}: {e}"));
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
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

    /// A sample of its `/metrics`, by series as the exposition writes it (`warren_ring_probes_total`,
    /// `warren_ring_members{health="suspect"}`).
    pub fn metric(&self, series: &str) -> Option<f64> {
        let text = http_get(self.http, "/metrics")?;
        text.lines().find_map(|l| {
            let (name, value) = l.rsplit_once(' ')?;
            (name == series).then(|| value.parse().ok())?
        })
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
    [gossip, http, ctl]: [SocketAddr; 3],
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
        .arg("--listen-ctl")
        .arg(ctl.to_string())
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

/// `GET path` with extra header lines; returns the status code and the body.
pub fn http_status(addr: SocketAddr, path: &str, headers: &[&str]) -> Option<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let mut extra = String::new();
    for h in headers {
        extra.push_str(h);
        extra.push_str("\r\n");
    }
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{extra}Connection: close\r\n\r\n"
    )
    .ok()?;
    let mut resp = String::new();
    s.read_to_string(&mut resp).ok()?;
    let (head, body) = resp.split_once("\r\n\r\n")?;
    let code = head.split_whitespace().nth(1)?.parse().ok()?;
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Some((code, body))
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

/// A path in the repository, e.g. `repo_path("plans/redis")`.
pub fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

/// Writes a member's `user.toml` for service `svc` under its `--fs-root` (at
/// `<root>/hab/user/<svc>/config/user.toml`, layered over the plan's `default.toml`); call it
/// before [`Sup::start`] so the service's first render sees it.
pub fn write_user_toml(root: &Path, svc: &str, toml: &str) -> PathBuf {
    let dir = root.join("hab/user").join(svc).join("config");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let file = dir.join("user.toml");
    std::fs::write(&file, toml).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    file
}

/// Whether `cmd --version` runs and succeeds (the command is on `PATH`).
pub fn have_command(cmd: &str) -> bool {
    Command::new(cmd)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The last `n` lines of a supervisor's `warren.log` (its stderr), for failure messages.
pub fn log_tail(root: &Path, n: usize) -> String {
    let log = std::fs::read_to_string(root.join("warren.log")).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// One process as `/proc` shows it.
#[derive(Clone, Debug)]
pub struct Proc {
    /// Its pid (in this test's PID namespace).
    pub pid: u32,
    /// Its parent's pid.
    pub ppid: u32,
    /// Its state letter (`R`, `S`, `Z`, …).
    pub state: char,
    /// Its command line (empty for a zombie).
    pub cmdline: Vec<String>,
    /// Its working directory, if readable.
    pub cwd: Option<PathBuf>,
}

/// A field of `/proc/<pid>/status` (`"PPid"`, `"State"`, `"NSpid"`, …), its value trimmed.
pub fn proc_status_field(pid: u32, field: &str) -> Option<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k == field).then(|| v.trim().to_owned())
    })
}

/// Every process `/proc` lists now (those that vanish while being read are left out).
pub fn processes() -> Vec<Proc> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Some(ppid) = proc_status_field(pid, "PPid").and_then(|v| v.parse().ok()) else {
            continue;
        };
        let state = proc_status_field(pid, "State")
            .and_then(|v| v.chars().next())
            .unwrap_or('?');
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|b| {
                b.split(|c| *c == 0)
                    .filter(|a| !a.is_empty())
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect()
            })
            .unwrap_or_default();
        let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).ok();
        out.push(Proc {
            pid,
            ppid,
            state,
            cmdline,
            cwd,
        });
    }
    out
}

/// Sends `sig` (`"KILL"`, `"TERM"`, …) to `pid`; whether `kill` succeeded.
pub fn kill_pid(pid: u32, sig: &str) -> bool {
    Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// SIGKILLs every live process whose working directory or a command-line argument lies under
/// `root`, other than this one: what a SIGKILLed supervisor with that `--fs-root` left behind (its
/// hooks, and services such as redis, which chdir into their data directory). Returns the pids.
pub fn kill_processes_under(root: &Path) -> Vec<u32> {
    let me = std::process::id();
    // `/proc/<pid>/cwd` is canonical; command lines hold the path as given.
    let canonical = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    let is_under = |p: &Path| p.starts_with(root) || p.starts_with(&canonical);
    let mut killed = Vec::new();
    for p in processes() {
        if p.pid == me || p.state == 'Z' {
            continue;
        }
        let under = p.cwd.as_deref().is_some_and(is_under)
            || p.cmdline.iter().any(|a| is_under(Path::new(a)));
        if under && kill_pid(p.pid, "KILL") {
            killed.push(p.pid);
        }
    }
    killed
}

/// A UDP socket bound to a port of 127.0.0.1 that is free for TCP too, and its address.
pub fn held_port() -> (UdpSocket, SocketAddr) {
    for _ in 0..100 {
        let Ok(u) = UdpSocket::bind("127.0.0.1:0") else {
            continue;
        };
        let Ok(addr) = u.local_addr() else { continue };
        if std::net::TcpListener::bind(addr).is_ok() {
            return (u, addr);
        }
    }
    panic!("no free port on 127.0.0.1");
}
