//! Warren as PID 1 of a PID namespace, as in a container (needs root and `unshare`; runs only
//! with `WARREN_ROOT_TESTS=1`): under `unshare --pid --fork --mount-proc`, `warren run` loads a
//! plan whose `init` hook leaves an orphan behind (`sh -c 'sleep 2 &'`: the inner shell exits at
//! once, so its background `sleep` is reparented to the namespace's init, Warren) and whose `run`
//! hook is `exec sleep 1000`. Warren must reap the orphan (no zombie child is left), and on
//! SIGTERM stop the service and exit 0 within the shutdown timeout.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use warren_e2e::{
    Proc, free_port, kill_pid, log_tail, proc_status_field, processes, state_dir, wait_until,
    warren_bin,
};

const SWITCH: &str = "WARREN_ROOT_TESTS";
/// The plan's `pkg_shutdown_timeout_sec`: Warren's budget for stopping the service.
const SHUTDOWN_TIMEOUT: u64 = 5;

/// `unshare` and the temp dir; dropping it SIGKILLs Warren (the namespace's init: the kernel then
/// kills everything in the namespace) and `unshare`, and removes the temp dir (kept, and named,
/// when the test failed).
struct Ns {
    unshare: Child,
    warren: Option<u32>,
    root: PathBuf,
}

impl Drop for Ns {
    fn drop(&mut self) {
        if let Some(pid) = self.warren {
            kill_pid(pid, "KILL");
        }
        let _ = self.unshare.kill();
        let _ = self.unshare.wait();
        if std::thread::panicking() {
            eprintln!("pid1 test: state and log kept in {}", self.root.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}

fn write(path: &Path, text: &str, exec: bool) {
    use std::os::unix::fs::PermissionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    }
    std::fs::write(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if exec {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

/// The plan `test/orphan/0.1.0`, run as root (the test is root; no `hab` user needed).
fn write_plan(dir: &Path) {
    write(
        &dir.join("plan.sh"),
        &format!(
            "pkg_origin=test\npkg_name=orphan\npkg_version=0.1.0\npkg_svc_user=root\n\
             pkg_svc_group=root\npkg_shutdown_timeout_sec={SHUTDOWN_TIMEOUT}\n"
        ),
        false,
    );
    write(
        &dir.join("hooks/init"),
        "#!/bin/sh\n# The inner shell exits at once; its background sleep is orphaned.\n\
         sh -c 'sleep 2 >/dev/null 2>&1 &'\nexit 0\n",
        true,
    );
    write(&dir.join("hooks/run"), "#!/bin/sh\nexec sleep 1000\n", true);
}

/// This process's effective uid (`Uid:` in `/proc/self/status`: real, effective, …).
fn euid() -> Option<u32> {
    let uid = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = uid.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// Whether `pid` descends from `ancestor` in `procs`.
fn descends(procs: &[Proc], mut pid: u32, ancestor: u32) -> bool {
    for _ in 0..64 {
        let Some(p) = procs.iter().find(|p| p.pid == pid) else {
            return false;
        };
        if p.ppid == ancestor {
            return true;
        }
        if p.ppid <= 1 {
            return false;
        }
        pid = p.ppid;
    }
    false
}

fn is_sleep(p: &Proc, arg: &str) -> bool {
    p.cmdline.len() == 2
        && Path::new(&p.cmdline[0])
            .file_name()
            .and_then(|n| n.to_str())
            == Some("sleep")
        && p.cmdline[1] == arg
}

/// Warren's processes, for failure messages.
fn tree(warren: u32) -> String {
    let procs = processes();
    procs
        .iter()
        .filter(|p| p.pid == warren || descends(&procs, p.pid, warren))
        .map(|p| format!("  {} ppid {} {} {:?}", p.pid, p.ppid, p.state, p.cmdline))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Zombies whose parent is `warren`.
fn zombies_of(warren: u32) -> Vec<u32> {
    processes()
        .iter()
        .filter(|p| p.ppid == warren && p.state == 'Z')
        .map(|p| p.pid)
        .collect()
}

#[test]
fn warren_as_pid1_reaps_orphans_and_stops_on_sigterm() {
    if std::env::var(SWITCH).as_deref() != Ok("1") {
        eprintln!("skipped: set {SWITCH}=1 (needs root and unshare)");
        return;
    }
    assert_eq!(euid(), Some(0), "{SWITCH}=1 but this test is not root");
    let probe = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "true"])
        .output();
    match &probe {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!(
            "{SWITCH}=1 but `unshare --pid --fork --mount-proc true` failed ({}): {}",
            o.status,
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Err(e) => panic!("{SWITCH}=1 but unshare cannot run: {e}"),
    }

    let root = state_dir("pid1", 0);
    let plan = root.join("plan");
    write_plan(&plan);
    let fs_root = root.join("fs");
    std::fs::create_dir_all(&fs_root).unwrap_or_else(|e| panic!("{e}"));
    let log_file = File::create(root.join("warren.log")).unwrap_or_else(|e| panic!("{e}"));
    let log_out = log_file.try_clone().unwrap_or_else(|e| panic!("{e}"));
    let unshare = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc"])
        .arg(warren_bin())
        .arg("run")
        .arg(&plan)
        .arg("--fs-root")
        .arg(&fs_root)
        .arg("--listen-gossip")
        .arg(format!("127.0.0.1:{}", free_port()))
        .arg("--listen-http")
        .arg(format!("127.0.0.1:{}", free_port()))
        .arg("--listen-ctl")
        .arg(format!("127.0.0.1:{}", free_port()))
        .arg("--sys-ip-address")
        .arg("127.0.0.1")
        .arg("--no-color")
        .stdin(Stdio::null())
        .stdout(log_out)
        .stderr(log_file)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start unshare: {e}"));
    let mut ns = Ns {
        unshare,
        warren: None,
        root: root.clone(),
    };
    let unshare_pid = ns.unshare.id();

    // Warren is unshare's child (--fork) and PID 1 of the new namespace.
    let mut warren = None;
    wait_until(Duration::from_secs(10), || {
        warren = processes()
            .iter()
            .find(|p| p.ppid == unshare_pid)
            .map(|p| p.pid);
        warren.is_some()
    });
    let Some(warren) = warren else {
        panic!(
            "unshare (pid {unshare_pid}) started no child within 10 s; log:\n{}",
            log_tail(&root, 30)
        );
    };
    ns.warren = Some(warren);
    let nspid = proc_status_field(warren, "NSpid").unwrap_or_default();
    assert_eq!(
        nspid.split_whitespace().last(),
        Some("1"),
        "warren (host pid {warren}) is not PID 1 of its namespace: NSpid {nspid:?}"
    );

    // The run hook's `sleep 1000` runs under Warren; watch the init hook's orphan on the way.
    let mut orphan_seen = false;
    let mut service = None;
    wait_until(Duration::from_secs(60), || {
        let procs = processes();
        orphan_seen |= procs
            .iter()
            .any(|p| p.ppid == warren && is_sleep(p, "2") && p.state != 'Z');
        service = procs
            .iter()
            .find(|p| is_sleep(p, "1000") && descends(&procs, p.pid, warren))
            .map(|p| p.pid);
        service.is_some()
    });
    let Some(service) = service else {
        panic!(
            "the run hook's `sleep 1000` never ran under warren (pid {warren}) within 60 s\n\
             processes under warren:\n{}\nlog:\n{}",
            tree(warren),
            log_tail(&root, 40)
        );
    };
    eprintln!(
        "pid1: service `sleep 1000` is pid {service}; the init hook's orphan was {}seen \
         reparented to warren",
        if orphan_seen { "" } else { "not " }
    );

    // The orphan (`sleep 2`) has exited by now: Warren, its new parent, must have reaped it. A
    // zombie must show in two scans 0.5 s apart (a child that exits just as we look is not one).
    std::thread::sleep(Duration::from_secs(3));
    let first = zombies_of(warren);
    std::thread::sleep(Duration::from_millis(500));
    let lasting: Vec<u32> = zombies_of(warren)
        .into_iter()
        .filter(|z| first.contains(z))
        .collect();
    assert!(
        lasting.is_empty(),
        "warren (PID 1) left zombie children {lasting:?} unreaped\nprocesses under warren:\n{}",
        tree(warren)
    );

    // SIGTERM stops the service and Warren exits 0 (unshare exits with its child's status).
    assert!(
        kill_pid(warren, "TERM"),
        "cannot SIGTERM warren pid {warren}"
    );
    let limit = Duration::from_secs(SHUTDOWN_TIMEOUT + 5);
    let t0 = Instant::now();
    let mut status = None;
    while t0.elapsed() < limit {
        if let Ok(Some(st)) = ns.unshare.try_wait() {
            status = Some(st);
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let Some(status) = status else {
        panic!(
            "warren did not exit within {limit:?} of SIGTERM\nprocesses under warren:\n{}\nlog:\n{}",
            tree(warren),
            log_tail(&root, 40)
        );
    };
    eprintln!(
        "pid1: warren exited {status} {:.1} s after SIGTERM",
        t0.elapsed().as_secs_f64()
    );
    assert_eq!(
        status.code(),
        Some(0),
        "warren exited {status} on SIGTERM; log:\n{}",
        log_tail(&root, 40)
    );
    ns.warren = None;
    assert!(
        !Path::new(&format!("/proc/{service}")).exists(),
        "the service `sleep 1000` (pid {service}) outlived warren"
    );
}
