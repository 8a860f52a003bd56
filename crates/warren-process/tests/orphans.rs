//! Orphans: a grandchild whose parent exits is reparented to us (a child subreaper) and reaped.
//! Its own binary, so the orphan count is this test's alone.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::Duration;

use warren_process::{ExitStatus, Reaper, SpawnSpec, for_each_line};

/// `(pid, state, ppid)` of every process, from /proc/*/stat.
fn processes() -> Vec<(u32, char, u32)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue; // exited meanwhile
        };
        // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let mut fields = stat[close + 2..].split(' ');
        let state = fields.next().and_then(|s| s.chars().next()).unwrap_or('?');
        let ppid = fields.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        out.push((pid, state, ppid));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphaned_grandchildren_are_reparented_to_us_and_reaped() {
    let reaper = Reaper::install().unwrap();
    let me = std::process::id();
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "(sleep 0.3 >/dev/null & echo $!); exit 0"]);
    let mut child = reaper.spawn(cmd, &SpawnSpec::default()).unwrap();
    let mut lines = Vec::new();
    for_each_line(child.take_stdout().unwrap(), |l| lines.push(l.to_owned())).await;
    let orphan: u32 = lines[0].parse().unwrap();
    assert_eq!(child.wait().await, ExitStatus::Exited(0));

    // Its parent subshell has exited: the sleep is ours now, not init's.
    let parent = processes().into_iter().find(|p| p.0 == orphan).map(|p| p.2);
    assert_eq!(parent, Some(me), "orphan {orphan} not reparented to us");

    tokio::time::sleep(Duration::from_millis(1000)).await;
    let zombies: Vec<_> = processes()
        .into_iter()
        .filter(|p| p.1 == 'Z' && p.2 == me)
        .collect();
    assert!(zombies.is_empty(), "zombie children left: {zombies:?}");
    assert!(!std::path::Path::new(&format!("/proc/{orphan}")).exists());
    assert!(
        reaper.orphans_reaped() >= 1,
        "orphans reaped: {}",
        reaper.orphans_reaped()
    );
    assert!(reaper.running().is_empty(), "{:?}", reaper.running());
}
