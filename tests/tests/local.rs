//! `warren local up`: one command starts a ring of members on loopback, each running the plan;
//! SIGTERM stops them all and the command exits 0.

use std::process::{Command, Stdio};
use std::time::Duration;

use warren_e2e::{http_get, repo_path, state_dir, wait_until};

#[test]
fn local_up_starts_a_ring_and_stops_it() {
    let dir = state_dir("local-up", 0).join("ring");
    // A base port unlikely to collide with the other tests' (which take ephemeral ports).
    let base = 20000 + (std::process::id() % 400) as u16 * 20;
    let mut child = Command::new(warren_e2e::warren_bin())
        .args([
            "local",
            "up",
            "-n",
            "2",
            "--base-port",
            &base.to_string(),
            "--dir",
        ])
        .arg(&dir)
        .arg(repo_path("plans/hello"))
        .args(["--", "--topology", "leader"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let http = |i: u16| -> std::net::SocketAddr {
        format!("127.0.0.1:{}", base + 10 * i + 1)
            .parse()
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let leader_everywhere = wait_until(Duration::from_secs(30), || {
        (0..2).all(|i| {
            http_get(http(i), "/census").is_some_and(|c| {
                let c: serde_json::Value = serde_json::from_str(&c).unwrap_or_default();
                c["census_groups"]["hello.default"]["leader_id"].is_string()
            })
        })
    });
    assert!(leader_everywhere, "the local ring never elected a leader");
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let mut status = None;
    let done = wait_until(Duration::from_secs(30), || {
        status = child.try_wait().ok().flatten();
        status.is_some()
    });
    assert!(done, "warren local up did not stop");
    assert_eq!(status.and_then(|s| s.code()), Some(0));
    assert!(
        http_get(http(0), "/healthz").is_none(),
        "a member is still up"
    );
}
