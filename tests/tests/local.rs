//! `warren local`: README's first command (`warren local up`, run from the repository with no
//! arguments but its ports and directory: 3 members running `plans/hello` with leader topology)
//! prints plain timestamped lines when stdout is not a terminal; `warren local kill`, `start`,
//! `partition`, `heal` and `config apply` from "another terminal" show up there as detection,
//! new leaders and applied config;
//! SIGINT stops every member and removes the ring's directory.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use warren_e2e::{http_get, repo_path, state_dir, wait_until};

/// The lines `warren local up` printed so far.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<String>>>);

impl Lines {
    fn all(&self) -> Vec<String> {
        self.0.lock().map(|l| l.clone()).unwrap_or_default()
    }

    fn since(&self, from: usize) -> Vec<String> {
        self.all().into_iter().skip(from).collect()
    }

    fn len(&self) -> usize {
        self.0.lock().map(|l| l.len()).unwrap_or(0)
    }

    /// The leader member `i` reported last, among lines from `from` on.
    fn leader_of(&self, i: usize, from: usize) -> Option<usize> {
        let prefix = format!("member {i}: hello.default ");
        let mut leader = None;
        for l in self.since(from) {
            let Some(rest) = l.split_once(' ').map(|x| x.1) else {
                continue;
            };
            if let Some(ev) = rest.strip_prefix(&prefix) {
                if let Some(m) = ev.strip_prefix("new leader member ") {
                    leader = m.trim().parse().ok();
                } else if ev == "has no leader" {
                    leader = None;
                }
            }
        }
        leader
    }

    fn has(&self, from: usize, needle: &str) -> bool {
        self.since(from).iter().any(|l| l.contains(needle))
    }

    fn dump(&self) -> String {
        self.all().join("\n")
    }
}

fn local(dir: Option<&Path>, args: &[&str]) -> Output {
    let mut cmd = Command::new(warren_e2e::warren_bin());
    cmd.arg("local").args(args);
    if let Some(d) = dir {
        cmd.arg("--dir").arg(d);
    }
    let out = cmd.output().unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.status.success(),
        "warren local {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Stops `warren local up` if the test ends early (a failed assertion), so no ring is left
/// running: SIGINT, then SIGKILL after 30 s.
struct Ring(std::process::Child);

impl Drop for Ring {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = Command::new("kill")
                .args(["-INT", &self.0.id().to_string()])
                .status();
            let stopped = wait_until(Duration::from_secs(30), || {
                self.0.try_wait().ok().flatten().is_some()
            });
            if !stopped {
                let _ = self.0.kill();
                let _ = self.0.wait();
            }
        }
    }
}

/// The leader all three members reported last, if they agree.
fn agreed_leader(lines: &Lines) -> Option<usize> {
    let ls: Vec<_> = (0..3).map(|i| lines.leader_of(i, 0)).collect();
    ls[0].filter(|_| ls.iter().all(|l| *l == ls[0]))
}

/// Whether every member holds the group's election as a Finished result of one term (from each
/// member's `/butterfly`): the group is at rest. While a leader re-runs its result to take in a
/// member that came back, every member names it (it acts through the re-run), but the change is
/// not committed yet: the group's committed voters are still the two that elected it, and cutting
/// the leader off then leaves one of those two, which waits for a departure by design.
fn at_rest(dir: &Path) -> bool {
    let v = ring_state(dir);
    let Some(members) = v["members"].as_array() else {
        return false;
    };
    let mut terms = Vec::new();
    for m in members {
        let Some(addr) = m["http"].as_str().and_then(|a| a.parse().ok()) else {
            return false;
        };
        let Some(body) = http_get(addr, "/butterfly") else {
            return false;
        };
        let b: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        let e = &b["election"]["list"]["hello.default"]["election"];
        if e["status"].as_str() != Some("Finished") {
            return false;
        }
        terms.push(e["term"].as_u64());
    }
    !terms.is_empty() && terms.iter().all(|t| t.is_some() && *t == terms[0])
}

/// The ring's state file (`local.json`: each member's pid and addresses), or `null`.
fn ring_state(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("local.json")).unwrap_or_default();
    serde_json::from_str(&text).unwrap_or_default()
}

fn pids(dir: &Path) -> Vec<u64> {
    ring_state(dir)["members"]
        .as_array()
        .map(|ms| ms.iter().filter_map(|m| m["pid"].as_u64()).collect())
        .unwrap_or_default()
}

#[test]
fn local_up_shows_kills_and_partitions_and_stops_cleanly() {
    let dir = state_dir("local-up", 0).join("ring");
    // Three members take 30 ports (10 each): a step of 40 keeps rings of two test runs apart,
    // below 28000 (local_bench.rs takes 28200..32200) and the ephemeral range (32768 up).
    let base = 20000 + (std::process::id() % 200) as u16 * 40;
    let child = Command::new(warren_e2e::warren_bin())
        .current_dir(repo_path(""))
        .args([
            "local",
            "up",
            "--base-port",
            &base.to_string(),
            "--summary-every",
            "3",
            "--dir",
        ])
        .arg(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut ring = Ring(child);
    let lines = Lines::default();
    let stdout = ring.0.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let sink = lines.clone();
    std::thread::spawn(move || {
        for l in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Ok(mut v) = sink.0.lock() {
                v.push(l);
            }
        }
    });
    let mut seen_pids = Vec::new();

    // Three members, one leader that all of them agree on.
    let mut leader = None;
    let agreed = wait_until(Duration::from_secs(40), || {
        leader = agreed_leader(&lines);
        leader.is_some()
    });
    assert!(agreed, "no agreed leader in the output:\n{}", lines.dump());
    let leader = leader.unwrap_or_default();
    for i in 0..3 {
        assert!(
            lines.has(0, &format!("summary member {i} (pid")),
            "no summary of member {i}:\n{}",
            lines.dump()
        );
    }
    seen_pids.extend(pids(&dir));
    assert_eq!(seen_pids.len(), 3, "{}", dir.display());
    let status = local(Some(&dir), &["status"]);
    assert_eq!(String::from_utf8_lossy(&status.stdout).lines().count(), 4);

    // Kill the leader: both others detect it and agree on a new one.
    let mark = lines.len();
    let out = local(Some(&dir), &["kill", &leader.to_string()]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("killed"));
    let others: Vec<usize> = (0..3).filter(|i| *i != leader).collect();
    let mut new_leader = None;
    let failover = wait_until(Duration::from_secs(30), || {
        let detected = others
            .iter()
            .all(|o| lines.has(mark, &format!("member {o} sees member {leader} confirmed")));
        let ls: Vec<_> = others.iter().map(|o| lines.leader_of(*o, mark)).collect();
        new_leader = ls[0];
        detected && new_leader.is_some_and(|l| l != leader) && ls.iter().all(|l| *l == new_leader)
    });
    assert!(
        failover,
        "no detection and new leader after the kill:\n{}",
        lines.dump()
    );
    assert!(new_leader.is_some());

    // Start it again: it answers, and all three agree on a leader again (its return can start
    // another election).
    let mark = lines.len();
    local(Some(&dir), &["start", &leader.to_string()]);
    let mut new_leader = None;
    let back = wait_until(Duration::from_secs(30), || {
        new_leader = agreed_leader(&lines);
        lines.has(mark, &format!("member {leader}: answering")) && new_leader.is_some()
    });
    assert!(
        back,
        "the ring did not agree on a leader again:\n{}",
        lines.dump()
    );
    let new_leader = new_leader.unwrap_or_default();
    seen_pids.extend(pids(&dir));
    assert!(
        wait_until(Duration::from_secs(30), || at_rest(&dir)),
        "the group did not come to rest (one Finished result everywhere):\n{}",
        lines.dump()
    );

    // Cut the new leader off: the other side sees it confirmed and elects another.
    let mark = lines.len();
    local(Some(&dir), &["partition", &new_leader.to_string()]);
    let rest: Vec<usize> = (0..3).filter(|i| *i != new_leader).collect();
    let cut = wait_until(Duration::from_secs(40), || {
        let detected = rest.iter().all(|o| {
            lines.has(
                mark,
                &format!("member {o} sees member {new_leader} confirmed"),
            )
        });
        let ls: Vec<_> = rest.iter().map(|o| lines.leader_of(*o, mark)).collect();
        detected && ls[0].is_some_and(|l| l != new_leader) && ls.iter().all(|l| *l == ls[0])
    });
    assert!(
        cut,
        "no detection and new leader after the partition:\n{}",
        lines.dump()
    );

    // Heal (through the pointer to the ring started last, as README's commands do).
    let mark = lines.len();
    local(None, &["heal"]);
    let healed = wait_until(Duration::from_secs(40), || {
        rest.iter()
            .all(|o| lines.has(mark, &format!("member {o} sees member {new_leader} alive")))
    });
    assert!(healed, "the partition did not heal:\n{}", lines.dump());

    // Gossiped config through member 1, without its port or secret: every member applies it.
    let mark = lines.len();
    let toml = dir.join("new.toml");
    std::fs::write(&toml, "message = \"hello from the test\"\n").unwrap_or_else(|e| panic!("{e}"));
    let toml = toml.to_string_lossy().into_owned();
    local(
        Some(&dir),
        &[
            "config",
            "apply",
            "hello.default",
            "2",
            &toml,
            "--member",
            "1",
        ],
    );
    let applied = wait_until(Duration::from_secs(20), || {
        (0..3).all(|i| {
            lines.has(
                mark,
                &format!("member {i}: hello.default config incarnation 2 applied"),
            )
        })
    });
    assert!(
        applied,
        "the config was not applied everywhere:\n{}",
        lines.dump()
    );

    // A graceful restart: the member stops (exit 0) and comes back on its own.
    let mark = lines.len();
    local(Some(&dir), &["restart", "0"]);
    let restarted = wait_until(Duration::from_secs(30), || {
        lines.has(mark, "member 0 exited (exit status: 0)")
            && lines.has(mark, "member 0 started (pid")
            && lines.has(mark, "member 0: answering")
    });
    assert!(restarted, "member 0 did not restart:\n{}", lines.dump());
    seen_pids.extend(pids(&dir));

    // `kill` answers once the member is gone, so a `start` right after it succeeds.
    let mark = lines.len();
    let out = local(Some(&dir), &["kill", "2"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("killed"));
    let out = local(Some(&dir), &["start", "2"]);
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("member 2 started"),
        "start right after kill: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // (Back within one poll of the view, it may never be seen "not answering": no new
    // "answering" line is owed.)
    let http2: std::net::SocketAddr = format!("127.0.0.1:{}", base + 21)
        .parse()
        .unwrap_or_else(|e| panic!("{e}"));
    let back = wait_until(Duration::from_secs(20), || {
        lines.has(mark, "member 2 exited")
            && lines.has(mark, "member 2 started (pid")
            && http_get(http2, "/healthz").is_some()
    });
    assert!(back, "member 2 did not come back:\n{}", lines.dump());
    seen_pids.extend(pids(&dir));

    // Ctrl-C: every member stops, the directory goes.
    let _ = Command::new("kill")
        .args(["-INT", &ring.0.id().to_string()])
        .status();
    let mut status = None;
    let done = wait_until(Duration::from_secs(40), || {
        status = ring.0.try_wait().ok().flatten();
        status.is_some()
    });
    assert!(done, "warren local up did not stop:\n{}", lines.dump());
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{}", lines.dump());
    std::thread::sleep(Duration::from_millis(200));
    for i in 0..3 {
        assert!(
            lines.has(0, &format!("member {i} stopped (exit status: 0)")),
            "member {i} did not stop cleanly:\n{}",
            lines.dump()
        );
    }
    assert!(!dir.exists(), "{} is still there", dir.display());
    if let Some(parent) = dir.parent() {
        let _ = std::fs::remove_dir_all(parent);
    }
    for pid in seen_pids {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "member process {pid} is still there"
        );
    }
    // Nor any service of theirs (their command lines name the ring's directory).
    let ring_dir = dir.to_string_lossy().into_owned();
    let left: Vec<String> = std::fs::read_dir("/proc")
        .map(|es| {
            es.flatten()
                .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
                .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
                .filter(|c| c.contains(&ring_dir))
                .collect()
        })
        .unwrap_or_default();
    assert!(left.is_empty(), "processes left behind: {left:?}");
    let http: std::net::SocketAddr = format!("127.0.0.1:{}", base + 1)
        .parse()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(http_get(http, "/healthz").is_none(), "a member is still up");
}
