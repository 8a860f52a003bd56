//! The reaping task, spawning, and a spawned child.
//!
//! Ownership: the registry (pid → status sender) lives in [`Shared`], held by every [`Reaper`]
//! clone, every [`Child`] and the reaping task. Lock order is trivial: one `std` mutex, held
//! only across `Command::spawn` and across one non-blocking `waitpid` loop.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::Signal;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use tokio::net::unix::pipe;
use tokio::signal::unix::SignalKind;
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

use crate::signal::signal_group;
use crate::{ExitStatus, UserIds};

/// Safety net for SIGCHLDs the kernel coalesced while a reap was running (each SIGCHLD reaps
/// every exited child, so this only matters for a signal lost outright).
const TICK: Duration = Duration::from_secs(5);

/// Set while a reaper is installed: two reaping tasks would steal each other's children.
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// The process's one reaper: it spawns children and reaps every child and orphan.
///
/// Cheap to clone (an `Arc` inside). Create it once with [`Reaper::install`] inside the tokio
/// runtime that will run the reaping task; the task lives as long as that runtime.
#[derive(Clone)]
pub struct Reaper {
    shared: Arc<Shared>,
}

/// How a child is spawned.
#[derive(Clone, Debug, Default)]
pub struct SpawnSpec {
    /// Run as this user and group (needs root); `None` runs as ourselves.
    pub user: Option<UserIds>,
}

struct Shared {
    /// Status senders of children spawned through `Reaper::spawn` and not reaped yet.
    children: Mutex<HashMap<i32, watch::Sender<Option<ExitStatus>>>>,
    orphans: AtomicU64,
    /// The runtime the reaper was installed in: output pipes register with its reactor.
    runtime: tokio::runtime::Handle,
}

impl Reaper {
    /// Makes this process a child subreaper (so orphaned grandchildren are reparented to us
    /// rather than to init; failure is only warned about), installs the SIGCHLD stream and
    /// spawns the reaping task on the current tokio runtime.
    ///
    /// On every SIGCHLD, and on a 1 s tick in case signals were coalesced, the task calls
    /// `waitpid(-1, WNOHANG)` until no child is left to reap, delivers each status to the
    /// [`Child`] spawned with that pid and counts the rest as orphans.
    ///
    /// Errors: not inside a tokio runtime (`Other`), a reaper already installed in this process
    /// (`AlreadyExists`: clone that one), or the SIGCHLD handler could not be installed.
    pub fn install() -> io::Result<Reaper> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|e| {
            io::Error::other(format!(
                "Reaper::install must run inside a tokio runtime: {e}"
            ))
        })?;
        if INSTALLED.swap(true, Ordering::SeqCst) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "a Reaper is already installed in this process (one per process: clone it)",
            ));
        }
        let sigchld = match tokio::signal::unix::signal(SignalKind::child()) {
            Ok(s) => s,
            Err(e) => {
                INSTALLED.store(false, Ordering::SeqCst);
                return Err(e);
            }
        };
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if let Err(e) = nix::sys::prctl::set_child_subreaper(true) {
            tracing::warn!(error = %e, "cannot become a child subreaper: orphaned grandchildren go to init");
        }
        let shared = Arc::new(Shared {
            children: Mutex::new(HashMap::new()),
            orphans: AtomicU64::new(0),
            runtime: runtime.clone(),
        });
        runtime.spawn(reap_loop(Arc::clone(&shared), sigchld));
        Ok(Reaper { shared })
    }

    /// Spawns `cmd` with stdin from `/dev/null`, stdout and stderr piped, in a new process group
    /// whose id is the child's pid, as `spec.user` when given.
    ///
    /// The pid is registered before the reaping task can reap it, so no exit is lost. Errors
    /// are `Command::spawn`'s (e.g. program not found, permission denied), or registering the
    /// output pipes with the runtime (the child is then killed).
    pub fn spawn(&self, mut cmd: Command, spec: &SpawnSpec) -> io::Result<Child> {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        if let Some(user) = spec.user {
            cmd.uid(user.uid).gid(user.gid);
        }
        let (mut std_child, status) = {
            // Held across the fork: the reaping task cannot reap the pid before it is in the map.
            // (`Command::spawn` also waits for a child whose exec failed; holding the lock keeps
            // the reaping task from stealing that one too.)
            let mut children = self.shared.children();
            let std_child = cmd.spawn()?;
            let (tx, rx) = watch::channel(None);
            children.insert(std_child.id() as i32, tx);
            (std_child, rx)
        };
        let pid = std_child.id();
        let (stdout, stderr) = (std_child.stdout.take(), std_child.stderr.take());
        // Never `wait` on the std handle: the reaping task owns waiting. Dropping it does neither.
        drop(std_child);

        let pipes = {
            let _runtime = self.shared.runtime.enter();
            receiver(stdout).and_then(|out| Ok((out, receiver(stderr)?)))
        };
        let (stdout, stderr) = match pipes {
            Ok(pipes) => pipes,
            Err(e) => {
                let _ = signal_group(pid, Signal::SIGKILL);
                return Err(e);
            }
        };
        tracing::debug!(pid, "spawned child");
        Ok(Child {
            pid,
            status,
            stdout,
            stderr,
            _shared: Arc::clone(&self.shared),
        })
    }

    /// Orphans reaped so far: processes that were not spawned by [`Reaper::spawn`] (reparented
    /// grandchildren, or children someone spawned around the reaper).
    pub fn orphans_reaped(&self) -> u64 {
        self.shared.orphans.load(Ordering::Relaxed)
    }

    /// Pids of children spawned through [`Reaper::spawn`] that have not been reaped yet.
    pub fn running(&self) -> Vec<u32> {
        let mut pids: Vec<u32> = self.shared.children().keys().map(|&p| p as u32).collect();
        pids.sort_unstable();
        pids
    }
}

impl fmt::Debug for Reaper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reaper")
            .field("running", &self.running())
            .field("orphans_reaped", &self.orphans_reaped())
            .finish()
    }
}

fn receiver(out: Option<impl Into<OwnedFd>>) -> io::Result<Option<pipe::Receiver>> {
    out.map(|o| pipe::Receiver::from_owned_fd(o.into()))
        .transpose()
}

impl Shared {
    fn children(&self) -> MutexGuard<'_, HashMap<i32, watch::Sender<Option<ExitStatus>>>> {
        // The map stays consistent even if a holder panicked: every operation is one insert
        // or remove.
        self.children.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reaps every child that has exited, without blocking.
    fn reap_all(&self) {
        let mut children = self.children();
        loop {
            let (pid, status) = match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) => (pid, ExitStatus::Exited(code)),
                Ok(WaitStatus::Signaled(pid, sig, _core)) => {
                    (pid, ExitStatus::Signaled(sig as i32))
                }
                Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return,
                Err(Errno::EINTR) => continue,
                // Stop and continue reports were not asked for (no WUNTRACED / WCONTINUED).
                Ok(other) => {
                    tracing::debug!(?other, "ignoring wait status");
                    continue;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "waitpid failed");
                    return;
                }
            };
            let pid = pid.as_raw();
            match children.remove(&pid) {
                Some(tx) => {
                    tracing::debug!(pid, %status, "child exited");
                    // Kept in the channel even when no one is waiting yet (or ever).
                    tx.send_replace(Some(status));
                }
                None => {
                    self.orphans.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(pid, %status, "reaped orphan");
                }
            }
        }
    }
}

/// The reaping task. Ends when the runtime shuts down; children exiting after that stay
/// zombies until the process exits.
async fn reap_loop(shared: Arc<Shared>, mut sigchld: tokio::signal::unix::Signal) {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        // The first tick is immediate: children that exited before installation are reaped.
        tokio::select! {
            got = sigchld.recv() => if got.is_none() { return },
            _ = tick.tick() => {}
        }
        shared.reap_all();
    }
}

/// A child spawned by [`Reaper::spawn`]: the leader of its own process group (pgid == pid).
///
/// Dropping it neither kills nor leaks the process: it keeps running and is reaped when it exits.
pub struct Child {
    /// Process id, also the process group id.
    pub pid: u32,
    status: watch::Receiver<Option<ExitStatus>>,
    stdout: Option<pipe::Receiver>,
    stderr: Option<pipe::Receiver>,
    /// Keeps the registry, and so this child's status sender, alive.
    _shared: Arc<Shared>,
}

impl Child {
    /// The child's stdout, once (`None` after the first call).
    pub fn take_stdout(&mut self) -> Option<pipe::Receiver> {
        self.stdout.take()
    }

    /// The child's stderr, once (`None` after the first call).
    pub fn take_stderr(&mut self) -> Option<pipe::Receiver> {
        self.stderr.take()
    }

    /// Waits for the child to exit. Cancel-safe; after it has returned, every call returns the
    /// same status at once.
    pub async fn wait(&mut self) -> ExitStatus {
        let status = self
            .status
            .wait_for(Option::is_some)
            .await
            .ok()
            .and_then(|s| *s);
        match status {
            Some(status) => status,
            // Unreachable: the sender lives in the registry, which `_shared` keeps alive, and is
            // only dropped after sending. Never resolving is the honest answer if it were not.
            None => std::future::pending().await,
        }
    }

    /// The exit status if the child has exited and been reaped, without waiting.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        *self.status.borrow()
    }

    /// Sends `sig` to the child's whole process group. A group that is already gone is not an
    /// error.
    ///
    /// Once the child has been reaped and every other member of its group has exited, the
    /// group id may be reused; signal a group only while you know it is in use.
    pub fn signal_group(&self, sig: Signal) -> io::Result<()> {
        signal_group(self.pid, sig)
    }

    /// The stop sequence: `sig` to the group, wait up to `timeout` for the child, then SIGKILL
    /// to the group and wait. Returns the exit status and whether SIGKILL was needed.
    ///
    /// A child that has already exited is not signalled (its group id may have been reused).
    /// Only the child is waited for: other members of the group that survive `sig` are not.
    pub async fn stop(&mut self, sig: Signal, timeout: Duration) -> (ExitStatus, bool) {
        if let Some(status) = self.try_wait() {
            return (status, false);
        }
        if let Err(e) = self.signal_group(sig) {
            tracing::warn!(pid = self.pid, signal = sig.as_str(), error = %e, "signalling child");
        }
        if let Ok(status) = tokio::time::timeout(timeout, self.wait()).await {
            return (status, false);
        }
        tracing::info!(
            pid = self.pid,
            ?timeout,
            "child did not stop in time: sending SIGKILL"
        );
        if let Err(e) = self.signal_group(Signal::SIGKILL) {
            tracing::warn!(pid = self.pid, error = %e, "killing child");
        }
        (self.wait().await, true)
    }
}

impl fmt::Debug for Child {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Child")
            .field("pid", &self.pid)
            .field("status", &*self.status.borrow())
            .finish_non_exhaustive()
    }
}
