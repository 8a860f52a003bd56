//! Real children through one process-wide Reaper: exit statuses, process groups, the stop
//! sequence, output and users. SIGCHLD handling is process-wide, so every test in this binary
//! shares one runtime and one Reaper.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tokio::runtime::Runtime;
use warren_process::{
    Child, ExitStatus, MAX_LINE, Reaper, Signal, SpawnSpec, UserIds, for_each_line, is_root,
    lookup_user,
};

/// Generous bound so a broken reaper fails the test instead of hanging it.
const LIMIT: Duration = Duration::from_secs(10);

fn shared() -> &'static (Runtime, Reaper) {
    static SHARED: OnceLock<(Runtime, Reaper)> = OnceLock::new();
    SHARED.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let reaper = rt.block_on(async { Reaper::install() }).unwrap();
        (rt, reaper)
    })
}

fn run<F: Future>(f: impl FnOnce(Reaper) -> F) -> F::Output {
    let (rt, reaper) = shared();
    rt.block_on(async {
        tokio::time::timeout(LIMIT, f(reaper.clone()))
            .await
            .expect("timed out")
    })
}

fn sh(script: &str) -> Command {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", script]);
    cmd
}

fn spawn(reaper: &Reaper, script: &str) -> Child {
    reaper.spawn(sh(script), &SpawnSpec::default()).unwrap()
}

/// All of the child's stdout lines, until EOF.
async fn stdout_lines(child: &mut Child) -> Vec<String> {
    let mut lines = Vec::new();
    for_each_line(child.take_stdout().unwrap(), |l| lines.push(l.to_owned())).await;
    lines
}

/// Waits (up to 3 s) until `pid` no longer exists: neither running nor a zombie.
async fn gone(pid: u32) -> bool {
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

/// Process group of `pid`, from /proc/<pid>/stat (field 5).
fn pgrp(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_comm = &stat[stat.rfind(')')? + 2..];
    after_comm.split(' ').nth(2)?.parse().ok()
}

#[test]
fn exit_codes_and_signals_are_delivered() {
    run(|reaper| async move {
        let mut child = spawn(&reaper, "exit 3");
        assert_eq!(child.wait().await, ExitStatus::Exited(3));
        let mut child = spawn(&reaper, "kill -TERM $$");
        assert_eq!(child.wait().await, ExitStatus::Signaled(15));
        let mut child = spawn(&reaper, "exit 0");
        assert!(child.wait().await.success());
    });
}

#[test]
fn a_status_that_arrives_before_wait_is_kept() {
    run(|reaper| async move {
        let mut child = spawn(&reaper, "exit 7");
        let pid = child.pid;
        assert!(gone(pid).await, "child {pid} was not reaped");
        assert_eq!(child.try_wait(), Some(ExitStatus::Exited(7)));
        assert!(!reaper.running().contains(&pid));
        assert_eq!(child.wait().await, ExitStatus::Exited(7));
        assert_eq!(child.wait().await, ExitStatus::Exited(7), "second wait");
    });
}

#[test]
fn wait_is_cancel_safe_and_running_lists_the_child() {
    run(|reaper| async move {
        let mut child = spawn(&reaper, "sleep 0.3; exit 4");
        assert!(reaper.running().contains(&child.pid));
        assert_eq!(child.try_wait(), None);
        let early = tokio::time::timeout(Duration::from_millis(50), child.wait()).await;
        assert!(
            early.is_err(),
            "wait returned before the child exited: {early:?}"
        );
        assert_eq!(child.wait().await, ExitStatus::Exited(4));
        assert!(!reaper.running().contains(&child.pid));
    });
}

#[test]
fn many_concurrent_children_all_get_their_status() {
    run(|reaper| async move {
        let tasks: Vec<_> = (0..50)
            .map(|i| {
                let reaper = reaper.clone();
                tokio::spawn(async move {
                    let mut child = spawn(&reaper, &format!("exit {i}"));
                    (i, child.wait().await)
                })
            })
            .collect();
        for task in tasks {
            let (i, status) = task.await.unwrap();
            assert_eq!(status, ExitStatus::Exited(i), "child {i}");
        }
    });
}

#[test]
fn stop_signals_the_whole_process_group() {
    run(|reaper| async move {
        let mut child = spawn(
            &reaper,
            // The sleeps must not hold stdout open, or reading it would never end.
            "sleep 100 >/dev/null & echo $!; sleep 100 >/dev/null & echo $!; exec 1>&-; wait",
        );
        let grandchildren: Vec<u32> = stdout_lines(&mut child)
            .await
            .iter()
            .map(|l| l.parse().unwrap())
            .collect();
        assert_eq!(grandchildren.len(), 2);
        for &pid in &grandchildren {
            assert_eq!(
                pgrp(pid),
                Some(child.pid),
                "grandchild {pid} in the child's group"
            );
        }
        let (status, killed) = child.stop(Signal::SIGTERM, Duration::from_secs(2)).await;
        assert_eq!((status, killed), (ExitStatus::Signaled(15), false));
        for pid in grandchildren {
            assert!(gone(pid).await, "grandchild {pid} survived stop");
        }
    });
}

#[test]
fn stop_escalates_to_sigkill() {
    run(|reaper| async move {
        // The ignored TERM is inherited by `sleep` too, so the whole group ignores it.
        let mut child = spawn(&reaper, "trap '' TERM; echo ready; sleep 100");
        // Only signal once the trap is set.
        let mut stdout = child.take_stdout().unwrap();
        let mut first = [0u8; 6];
        tokio::io::AsyncReadExt::read_exact(&mut stdout, &mut first)
            .await
            .unwrap();
        let started = Instant::now();
        let (status, killed) = child
            .stop(Signal::SIGTERM, Duration::from_millis(300))
            .await;
        assert_eq!((status, killed), (ExitStatus::Signaled(9), true));
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(300),
            "killed before the timeout: {took:?}"
        );
        assert!(took < Duration::from_secs(2), "stop took {took:?}");
        // Stopping again returns the same status without signalling.
        assert_eq!(
            child.stop(Signal::SIGTERM, Duration::ZERO).await,
            (status, false)
        );
    });
}

#[test]
fn output_is_forwarded_line_by_line() {
    run(|reaper| async move {
        let script = "printf 'one\\ntwo\\n'; head -c 102400 /dev/zero | tr '\\0' x; echo; \
                      echo oops >&2; printf 'last'";
        let mut child = spawn(&reaper, script);
        let mut stderr = child.take_stderr().unwrap();
        let errs = tokio::spawn(async move {
            let mut lines = Vec::new();
            for_each_line(&mut stderr, |l| lines.push(l.to_owned())).await;
            lines
        });
        let lines = stdout_lines(&mut child).await;
        assert_eq!(
            lines.len(),
            5,
            "{:?}",
            lines.iter().map(String::len).collect::<Vec<_>>()
        );
        assert_eq!(lines[..2], ["one", "two"]);
        assert_eq!(lines[2], "x".repeat(MAX_LINE));
        assert_eq!(lines[3], "x".repeat(102400 - MAX_LINE));
        assert_eq!(lines[4], "last");
        assert_eq!(errs.await.unwrap(), ["oops"]);
        assert!(child.take_stdout().is_none());
        assert!(child.wait().await.success());
    });
}

#[test]
fn children_run_as_the_given_user() {
    if !is_root() {
        println!("skipped running as nobody: not root");
        return;
    }
    let user = lookup_user("nobody", "nogroup")
        .or_else(|_| lookup_user("nobody", "nobody"))
        .unwrap();
    run(|reaper| async move {
        let mut child = reaper
            .spawn(sh("id -u; id -g"), &SpawnSpec { user: Some(user) })
            .unwrap();
        let ids = stdout_lines(&mut child).await;
        assert_eq!(ids, [user.uid.to_string(), user.gid.to_string()]);
        assert!(child.wait().await.success());
    });
}

#[test]
fn a_second_install_is_refused() {
    run(|_reaper| async move {
        let err = Reaper::install().unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
    });
}

#[test]
fn a_failed_exec_is_an_error_and_does_not_race_the_reaper() {
    // With a uid and gid set, std forks and then waits for the child whose exec failed itself;
    // were the reaper to reap that child first, std would panic. Our own ids are always allowed.
    let me = UserIds {
        uid: nix::unistd::getuid().as_raw(),
        gid: nix::unistd::getgid().as_raw(),
    };
    run(|reaper| async move {
        for _ in 0..100 {
            let spec = SpawnSpec { user: Some(me) };
            let err = reaper
                .spawn(Command::new("/nonexistent/warren-test"), &spec)
                .unwrap_err();
            assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
        }
        let mut child = reaper
            .spawn(sh("exit 5"), &SpawnSpec { user: Some(me) })
            .unwrap();
        assert_eq!(child.wait().await, ExitStatus::Exited(5));
    });
}
