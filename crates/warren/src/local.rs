//! `warren local up`: a local ring of N `warren run` supervisors on loopback, one command. Each
//! member gets its own ports and `--fs-root` under one directory, all join through the first,
//! and all load the same plans (`plans/hello` by default). It prints where everything is, then
//! waits for Ctrl-C or SIGTERM and stops the members (each stops its services and leaves the
//! ring gracefully).
//!
//! It only starts and stops processes; each member is a plain `warren run`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

use crate::cli::LocalUpArgs;

struct Member {
    child: Child,
    dir: PathBuf,
}

/// Runs `warren local up`; returns the exit code.
pub(crate) fn up(args: LocalUpArgs) -> ExitCode {
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("warren: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn ports(base: u16, i: u16) -> Result<(u16, u16, u16)> {
    let at = |off: u16| {
        i.checked_mul(10)
            .and_then(|x| base.checked_add(x))
            .and_then(|x| x.checked_add(off))
            .ok_or_else(|| anyhow!("--base-port {base} leaves no room for member {i}"))
    };
    Ok((at(8)?, at(1)?, at(2)?))
}

fn run(args: LocalUpArgs) -> Result<()> {
    if args.members == 0 {
        bail!("-n must be at least 1");
    }
    let plans = if args.plans.is_empty() {
        let hello = PathBuf::from("plans/hello");
        if !hello.is_dir() {
            bail!("no plan given and ./plans/hello does not exist: give PLAN_DIR…");
        }
        vec![hello]
    } else {
        args.plans.clone()
    };
    for p in &plans {
        crate::services::read_package(p)?;
    }
    let dir = match &args.dir {
        Some(d) => d.clone(),
        None => tempfile::Builder::new()
            .prefix("warren-local.")
            .tempdir()
            .context("creating a directory for the members")?
            .keep(),
    };
    let exe = std::env::current_exe().context("finding the warren binary")?;
    let (seed, _, _) = ports(args.base_port, 0)?;
    let mut members: Vec<Member> = Vec::new();
    println!(
        "{:<7} {:<16} {:<16} {:<16} fs-root",
        "member", "gossip", "http", "ctl"
    );
    for i in 0..args.members {
        let (gossip, http, ctl) = ports(args.base_port, i)?;
        let root = dir.join(i.to_string());
        std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
        let out = std::fs::File::create(root.join("service.log"))?;
        let err = std::fs::File::create(root.join("warren.log"))?;
        let mut cmd = Command::new(&exe);
        cmd.arg("run")
            .args(&plans)
            .arg("--listen-gossip")
            .arg(format!("127.0.0.1:{gossip}"))
            .arg("--listen-http")
            .arg(format!("127.0.0.1:{http}"))
            .arg("--listen-ctl")
            .arg(format!("127.0.0.1:{ctl}"))
            .arg("--fs-root")
            .arg(&root)
            .arg("--sys-ip-address")
            .arg("127.0.0.1")
            .arg("--no-color")
            .args(&args.run_args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        if i > 0 {
            cmd.arg("--peer").arg(format!("127.0.0.1:{seed}"));
        }
        let child = cmd.spawn().context("starting warren run")?;
        println!(
            "{:<7} {:<16} {:<16} {:<16} {}",
            i,
            format!("127.0.0.1:{gossip}"),
            format!("127.0.0.1:{http}"),
            format!("127.0.0.1:{ctl}"),
            root.display()
        );
        members.push(Member { child, dir: root });
    }
    println!(
        "logs: <fs-root>/warren.log (supervisor) and service.log (services); \
         e.g. `warren svc status -r 127.0.0.1:{} --fs-root {}`",
        ports(args.base_port, 0)?.2,
        dir.join("0").display()
    );
    println!("Ctrl-C stops the ring");
    let outcome = wait(&mut members);
    stop(&mut members);
    outcome
}

/// Waits for SIGINT/SIGTERM, or for a member to exit on its own (an error).
fn wait(members: &mut [Member]) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    rt.block_on(async {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
        let mut int = signal(SignalKind::interrupt()).context("SIGINT handler")?;
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        loop {
            tokio::select! {
                _ = term.recv() => return Ok(()),
                _ = int.recv() => return Ok(()),
                _ = tick.tick() => {
                    for (i, m) in members.iter_mut().enumerate() {
                        if let Ok(Some(status)) = m.child.try_wait() {
                            return Err(anyhow!(
                                "member {i} exited ({status}); its log: {}\n{}",
                                m.dir.join("warren.log").display(),
                                tail(&m.dir.join("warren.log"), 5)
                            ));
                        }
                    }
                }
            }
        }
    })
}

/// SIGTERM to every member, then up to 30 s for them to finish (services stop first), then
/// SIGKILL.
fn stop(members: &mut [Member]) {
    println!("stopping {} members", members.len());
    for m in members.iter() {
        if let Ok(pid) = i32::try_from(m.child.id()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    for m in members.iter_mut() {
        loop {
            match m.child.try_wait() {
                Ok(Some(_)) | Err(_) => break,
                Ok(None) if Instant::now() >= deadline => {
                    let _ = m.child.kill();
                    let _ = m.child.wait();
                    break;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }
}

fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
