//! Lifecycle hooks (spec §9): which hooks exist, what their exit codes mean, and running one.
//!
//! [`HookRunner::run`] executes a rendered hook file the way Habitat does (stdin null, its own
//! process group, as the service user when Warren may switch to it, with the supervisor's
//! environment plus the package's runtime environment), copies every output line to the log
//! prefixed `<svc.group> hook[<name>]:` and to `logs/<hook>.stdout.log` / `.stderr.log`
//! (truncated at each run), and, unlike Habitat, gives up after a timeout: the hook's process
//! group gets SIGTERM, then SIGKILL. The supervised `run` process is not a hook run here; the
//! supervisor spawns it (with [`HookRunner::command`]) and keeps it.
//!
//! What this module does not do: decide when a hook runs (the supervisor does) or render
//! hooks (that is [`crate::render`]).

use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use nix::sys::signal::Signal;
use tokio_util::sync::CancellationToken;
use tracing::warn;
use warren_process::{ExitStatus, Reaper, SpawnSpec, UserIds};

/// Every hook Warren runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HookKind {
    /// Once per start, before `run`.
    Init,
    /// The supervised process.
    Run,
    /// After `run` started; retried until it succeeds.
    PostRun,
    /// Periodically while running: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
    HealthCheck,
    /// Configuration changed and the process keeps running.
    Reconfigure,
    /// Prints this member's suitability for leadership (last line of stdout, a u64).
    Suitability,
    /// A gossiped service file changed.
    FileUpdated,
    /// After the service stopped.
    PostStop,
}

impl HookKind {
    /// Every hook, in lifecycle order.
    pub const ALL: [HookKind; 8] = [
        HookKind::Init,
        HookKind::Run,
        HookKind::PostRun,
        HookKind::HealthCheck,
        HookKind::Reconfigure,
        HookKind::Suitability,
        HookKind::FileUpdated,
        HookKind::PostStop,
    ];

    /// The hook's file name under `hooks/`.
    pub fn file_name(self) -> &'static str {
        match self {
            HookKind::Init => "init",
            HookKind::Run => "run",
            HookKind::PostRun => "post-run",
            HookKind::HealthCheck => "health-check",
            HookKind::Reconfigure => "reconfigure",
            HookKind::Suitability => "suitability",
            HookKind::FileUpdated => "file-updated",
            HookKind::PostStop => "post-stop",
        }
    }

    /// The hook a file under `hooks/` is, if any.
    pub fn from_file_name(name: &str) -> Option<HookKind> {
        HookKind::ALL.into_iter().find(|h| h.file_name() == name)
    }
}

/// A service's health (spec §9, §10.2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum HealthStatus {
    /// Healthy (exit 0).
    Ok,
    /// Degraded (exit 1).
    Warning,
    /// Failing (exit 2).
    Critical,
    /// Not known (exit 3, any other exit, a signal, a timeout, or no check yet).
    #[default]
    Unknown,
}

impl HealthStatus {
    /// Habitat's reading of a `health-check` result: the exit code when the hook exited, `None`
    /// when it could not run, was killed or timed out.
    pub fn from_exit_code(code: Option<i32>) -> HealthStatus {
        match code {
            Some(0) => HealthStatus::Ok,
            Some(1) => HealthStatus::Warning,
            Some(2) => HealthStatus::Critical,
            _ => HealthStatus::Unknown,
        }
    }

    /// Habitat's spelling (`OK`, `WARNING`, `CRITICAL`, `UNKNOWN`).
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Ok => "OK",
            HealthStatus::Warning => "WARNING",
            HealthStatus::Critical => "CRITICAL",
            HealthStatus::Unknown => "UNKNOWN",
        }
    }

    /// The HTTP status of `/services/<svc>/<group>/health`: 200 for OK and WARNING, 503 for
    /// CRITICAL, 500 for UNKNOWN.
    pub fn http_status(self) -> u16 {
        match self {
            HealthStatus::Ok | HealthStatus::Warning => 200,
            HealthStatus::Critical => 503,
            HealthStatus::Unknown => 500,
        }
    }
}

/// Habitat's reading of a `suitability` hook: on exit 0, the last line of its stdout as a u64;
/// anything else gives no suitability.
pub fn parse_suitability(exit_code: Option<i32>, last_stdout_line: Option<&str>) -> Option<u64> {
    if exit_code != Some(0) {
        return None;
    }
    last_stdout_line.and_then(|l| l.trim().parse().ok())
}

/// How a hook run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HookExit {
    /// The hook exited (or was killed by a signal it did not get from us).
    Exited(ExitStatus),
    /// It ran past its timeout and was stopped.
    TimedOut(Duration),
    /// It could not be started.
    SpawnFailed(String),
    /// The service was stopping; the hook was stopped.
    Cancelled,
}

impl HookExit {
    /// The exit code, when the hook exited normally.
    pub fn code(&self) -> Option<i32> {
        match self {
            HookExit::Exited(status) => status.code(),
            _ => None,
        }
    }

    /// Exited with code 0.
    pub fn success(&self) -> bool {
        self.code() == Some(0)
    }
}

impl std::fmt::Display for HookExit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HookExit::Exited(status) => write!(f, "{status}"),
            HookExit::TimedOut(t) => write!(f, "timed out after {t:?} and was stopped"),
            HookExit::SpawnFailed(e) => write!(f, "could not start: {e}"),
            HookExit::Cancelled => write!(f, "was stopped because the service is stopping"),
        }
    }
}

/// A finished hook run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HookRun {
    /// How it ended.
    pub exit: HookExit,
    /// The last non-empty line it printed on stdout (what `suitability` answers).
    pub last_stdout_line: Option<String>,
    /// How long it ran.
    pub duration: Duration,
}

/// What a finished hook means for its service (spec §9), hook by hook.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Go on (`init` or `post-run` exited 0).
    Proceed,
    /// The start failed: restart with backoff (`init` not 0; `run` exiting at all).
    Failed,
    /// Run it again (`post-run` not 0: Habitat retries until it succeeds).
    Retry,
    /// The service's health (`health-check`).
    Health(HealthStatus),
    /// This member's suitability (`suitability`); `None` counts as 0.
    Suitability(Option<u64>),
    /// Logged only (`reconfigure`, `file-updated`, `post-stop`): whether it exited 0.
    Logged(bool),
}

/// Habitat's reading of hook `kind` ending with `exit` (and printing `last_stdout_line`).
pub fn verdict(kind: HookKind, run: &HookRun) -> Verdict {
    let code = run.exit.code();
    match kind {
        HookKind::Init if run.exit.success() => Verdict::Proceed,
        HookKind::Init | HookKind::Run => Verdict::Failed,
        HookKind::PostRun if run.exit.success() => Verdict::Proceed,
        HookKind::PostRun => Verdict::Retry,
        HookKind::HealthCheck => Verdict::Health(HealthStatus::from_exit_code(code)),
        HookKind::Suitability => {
            Verdict::Suitability(parse_suitability(code, run.last_stdout_line.as_deref()))
        }
        HookKind::Reconfigure | HookKind::FileUpdated | HookKind::PostStop => {
            Verdict::Logged(run.exit.success())
        }
    }
}

/// How long a stopped hook gets between SIGTERM and SIGKILL.
const HOOK_KILL_GRACE: Duration = Duration::from_secs(2);

/// Runs one service's hooks.
#[derive(Clone, Debug)]
pub struct HookRunner {
    reaper: Reaper,
    label: String,
    hooks_dir: PathBuf,
    logs_dir: PathBuf,
    cwd: PathBuf,
    env: Vec<(String, String)>,
    user: Option<UserIds>,
}

impl HookRunner {
    /// Hooks of the service `label` (`svc.group`) rendered in `hooks_dir`, logging to
    /// `logs_dir`, run from `cwd` with `env` added to the supervisor's environment, as `user`.
    pub fn new(
        reaper: Reaper,
        label: String,
        svc_path: &Path,
        env: Vec<(String, String)>,
        user: Option<UserIds>,
    ) -> Self {
        HookRunner {
            reaper,
            label,
            hooks_dir: svc_path.join("hooks"),
            logs_dir: svc_path.join("logs"),
            cwd: svc_path.to_owned(),
            env,
            user,
        }
    }

    /// The `svc.group` label of log lines.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The reaper children are spawned with.
    pub fn reaper(&self) -> &Reaper {
        &self.reaper
    }

    /// The rendered file of `kind`.
    pub fn path(&self, kind: HookKind) -> PathBuf {
        self.hooks_dir.join(kind.file_name())
    }

    /// Whether the package has (rendered) this hook.
    pub fn exists(&self, kind: HookKind) -> bool {
        self.path(kind).is_file()
    }

    /// A command that executes `program` the way hooks are executed (environment, working
    /// directory); spawn it with [`HookRunner::spawn_spec`].
    pub fn command(&self, program: &Path) -> Command {
        let mut cmd = Command::new(program);
        cmd.current_dir(&self.cwd);
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    /// How children of this service are spawned (its user).
    pub fn spawn_spec(&self) -> SpawnSpec {
        SpawnSpec { user: self.user }
    }

    /// Runs hook `kind` to completion, until `timeout`, or until `cancel`; a hook the package
    /// lacks is `None`.
    pub async fn run(
        &self,
        kind: HookKind,
        timeout: Duration,
        cancel: &CancellationToken,
    ) -> Option<HookRun> {
        let path = self.path(kind);
        if !path.is_file() {
            return None;
        }
        let name = kind.file_name();
        let started = std::time::Instant::now();
        let mut child = match self.reaper.spawn(self.command(&path), &self.spawn_spec()) {
            Ok(child) => child,
            Err(e) => {
                warn!(
                    "{} hook[{name}]: cannot start {}: {e}",
                    self.label,
                    path.display()
                );
                return Some(HookRun {
                    exit: HookExit::SpawnFailed(e.to_string()),
                    last_stdout_line: None,
                    duration: started.elapsed(),
                });
            }
        };
        let prefix = format!("{} hook[{name}]:", self.label);
        let stdout = child.take_stdout().map(|r| {
            tokio::spawn(copy_lines(
                r,
                prefix.clone(),
                Some(self.log_file(name, "stdout")),
            ))
        });
        let stderr = child
            .take_stderr()
            .map(|r| tokio::spawn(copy_lines(r, prefix, Some(self.log_file(name, "stderr")))));
        let exit = tokio::select! {
            waited = tokio::time::timeout(timeout, child.wait()) => match waited {
                Ok(status) => HookExit::Exited(status),
                Err(_) => {
                    warn!(
                        "{} hook[{name}]: still running after {timeout:?}; stopping it",
                        self.label
                    );
                    child.stop(Signal::SIGTERM, HOOK_KILL_GRACE).await;
                    HookExit::TimedOut(timeout)
                }
            },
            _ = cancel.cancelled() => {
                child.stop(Signal::SIGTERM, HOOK_KILL_GRACE).await;
                HookExit::Cancelled
            }
        };
        // The pipes close when the hook's process group is gone; a grandchild that keeps them
        // open must not hold the supervisor, so output collection gets a short grace.
        let last_stdout_line = match stdout {
            Some(task) => match tokio::time::timeout(Duration::from_secs(1), task).await {
                Ok(Ok(last)) => last,
                _ => None,
            },
            None => None,
        };
        if let Some(task) = stderr {
            let _ = tokio::time::timeout(Duration::from_secs(1), task).await;
        }
        Some(HookRun {
            exit,
            last_stdout_line,
            duration: started.elapsed(),
        })
    }

    fn log_file(&self, hook: &str, stream: &str) -> PathBuf {
        self.logs_dir.join(format!("{hook}.{stream}.log"))
    }
}

/// Copies lines from a child's pipe to the supervisor's stdout with `prefix` and, when given
/// and it can be created, to `log` (truncated first). Returns the last non-empty line.
pub async fn copy_lines(
    reader: impl tokio::io::AsyncRead + Unpin,
    prefix: String,
    log: Option<PathBuf>,
) -> Option<String> {
    let mut file = log.and_then(|log| match File::create(&log) {
        Ok(f) => Some(BufWriter::new(f)),
        Err(e) => {
            warn!(file = %log.display(), error = %e, "cannot write the hook log");
            None
        }
    });
    let mut last = None;
    warren_process::for_each_line(reader, |line| {
        println!("{prefix} {line}");
        if let Some(f) = file.as_mut() {
            let _ = writeln!(f, "{line}");
        }
        if !line.trim().is_empty() {
            last = Some(line.to_owned());
        }
    })
    .await;
    if let Some(mut f) = file {
        let _ = f.flush();
    }
    last
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn names_round_trip() {
        for kind in HookKind::ALL {
            assert_eq!(HookKind::from_file_name(kind.file_name()), Some(kind));
        }
        assert_eq!(HookKind::from_file_name("install"), None);
        assert_eq!(HookKind::from_file_name("Run"), None);
    }

    #[test]
    fn health_check_exit_codes() {
        let cases = [
            (Some(0), HealthStatus::Ok, 200),
            (Some(1), HealthStatus::Warning, 200),
            (Some(2), HealthStatus::Critical, 503),
            (Some(3), HealthStatus::Unknown, 500),
            (Some(4), HealthStatus::Unknown, 500),
            (Some(-1), HealthStatus::Unknown, 500),
            (Some(127), HealthStatus::Unknown, 500),
            (None, HealthStatus::Unknown, 500),
        ];
        for (code, status, http) in cases {
            assert_eq!(HealthStatus::from_exit_code(code), status, "{code:?}");
            assert_eq!(status.http_status(), http);
        }
        assert_eq!(HealthStatus::Critical.as_str(), "CRITICAL");
    }

    #[test]
    fn every_hook_exit_is_read_as_habitat_reads_it() {
        let run = |code: Option<i32>, line: Option<&str>| HookRun {
            exit: match code {
                Some(c) => HookExit::Exited(ExitStatus::Exited(c)),
                None => HookExit::TimedOut(Duration::from_secs(1)),
            },
            last_stdout_line: line.map(str::to_owned),
            duration: Duration::ZERO,
        };
        let killed = HookRun {
            exit: HookExit::Exited(ExitStatus::Signaled(9)),
            last_stdout_line: Some("5".into()),
            duration: Duration::ZERO,
        };
        use HookKind::*;
        let cases = [
            (Init, run(Some(0), None), Verdict::Proceed),
            (Init, run(Some(1), None), Verdict::Failed),
            (Init, run(None, None), Verdict::Failed),
            (Init, killed.clone(), Verdict::Failed),
            (Run, run(Some(0), None), Verdict::Failed),
            (Run, run(Some(3), None), Verdict::Failed),
            (PostRun, run(Some(0), None), Verdict::Proceed),
            (PostRun, run(Some(1), None), Verdict::Retry),
            (PostRun, run(None, None), Verdict::Retry),
            (
                HealthCheck,
                run(Some(0), None),
                Verdict::Health(HealthStatus::Ok),
            ),
            (
                HealthCheck,
                run(Some(1), None),
                Verdict::Health(HealthStatus::Warning),
            ),
            (
                HealthCheck,
                run(Some(2), None),
                Verdict::Health(HealthStatus::Critical),
            ),
            (
                HealthCheck,
                run(Some(3), None),
                Verdict::Health(HealthStatus::Unknown),
            ),
            (
                HealthCheck,
                run(Some(9), None),
                Verdict::Health(HealthStatus::Unknown),
            ),
            (
                HealthCheck,
                run(None, None),
                Verdict::Health(HealthStatus::Unknown),
            ),
            (
                HealthCheck,
                killed.clone(),
                Verdict::Health(HealthStatus::Unknown),
            ),
            (
                Suitability,
                run(Some(0), Some("12")),
                Verdict::Suitability(Some(12)),
            ),
            (
                Suitability,
                run(Some(1), Some("12")),
                Verdict::Suitability(None),
            ),
            (Suitability, killed.clone(), Verdict::Suitability(None)),
            (Reconfigure, run(Some(0), None), Verdict::Logged(true)),
            (Reconfigure, run(Some(4), None), Verdict::Logged(false)),
            (FileUpdated, run(Some(0), None), Verdict::Logged(true)),
            (FileUpdated, run(None, None), Verdict::Logged(false)),
            (PostStop, run(Some(0), None), Verdict::Logged(true)),
            (PostStop, killed, Verdict::Logged(false)),
        ];
        for (kind, r, want) in cases {
            assert_eq!(verdict(kind, &r), want, "{kind:?} {r:?}");
        }
        let cancelled = HookRun {
            exit: HookExit::Cancelled,
            last_stdout_line: None,
            duration: Duration::ZERO,
        };
        assert_eq!(verdict(Init, &cancelled), Verdict::Failed);
        let unstartable = HookRun {
            exit: HookExit::SpawnFailed("Permission denied".into()),
            last_stdout_line: None,
            duration: Duration::ZERO,
        };
        assert_eq!(
            verdict(HealthCheck, &unstartable),
            Verdict::Health(HealthStatus::Unknown)
        );
    }

    #[test]
    fn suitability_is_the_last_line_on_success() {
        assert_eq!(parse_suitability(Some(0), Some("42")), Some(42));
        assert_eq!(parse_suitability(Some(0), Some(" 7 \n")), Some(7));
        assert_eq!(parse_suitability(Some(1), Some("42")), None);
        assert_eq!(parse_suitability(None, Some("42")), None);
        assert_eq!(parse_suitability(Some(0), Some("high")), None);
        assert_eq!(parse_suitability(Some(0), Some("-1")), None);
        assert_eq!(parse_suitability(Some(0), None), None);
        assert_eq!(
            parse_suitability(Some(0), Some("18446744073709551615")),
            Some(u64::MAX)
        );
    }
}
