//! The service supervisor: one tokio task per loaded service that renders its templates from
//! the census, publishes its Service rumor, runs its hooks and keeps its `run` process up.
//!
//! Each task reacts to: a new census (re-render; gossiped config; election and bind gates), a
//! changed `user.toml` (watched with inotify, `crate::user_watch`), its process exiting (restart with backoff), its
//! timers (start after backoff, health checks), a forwarded signal, and shutdown (the stop
//! sequence). Hooks that run beside the process (`post-run`, `health-check`, `reconfigure`,
//! `suitability`, `file-updated`) run as their own tasks, so a slow hook delays nothing but
//! itself; `init` and `post-stop` are steps of the start and stop sequences.
//!
//! Leader topology follows Habitat (spec §6.6): the service starts only once its group's
//! election has finished; while a later election runs, a running process is kept but neither
//! restarted, reconfigured nor health-checked. Strict binds hold the start until satisfied.
//!
//! Gossiped config and files sent encrypted (`encrypted = true`, a BOX-1 box) are opened with
//! the service's secret key and the sender's public key from `<fs_root>/hab/cache/keys` before
//! they are parsed or written; one that does not open is logged once (naming the missing key)
//! and nothing changes: the configuration in force stays, no file is written.
//!
//! What this module does not do: build the census or talk to sockets (the ring does, through
//! [`RingPort`] and the census channel), decide restart versus reconfigure (that is
//! [`crate::decision`]), or spawn processes itself (`warren-process`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use nix::sys::signal::Signal;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};
use warren_process::{Child, ExitStatus, Reaper, UserIds};
use warren_ring::{CensusElectionStatus, CensusRing, ElectionKind, MemberId};
use warren_template as tpl;

use crate::backoff::Backoff;
use crate::census_view::{Bind, BindStatus, bind_contexts, bind_status, template_group};
use crate::config::{ConfigError, ConfigLayers, exports, user_toml_path};
use crate::decision::{Action, Changes, decide};
use crate::hooks::{HealthStatus, HookKind, HookRun, HookRunner, Verdict, copy_lines, verdict};
use crate::plan::{DEFAULT_SVC_USER, Package};
use crate::render::{PlanRenderer, RenderError, write_outputs};
use crate::spec::{BindingMode, ServiceSpec, Topology};
use crate::user_watch::UserTomlWatch;

/// When the health check after the first OK one runs: a point in `(0, interval]` picked by
/// `r` (Habitat schedules it at a random point of the interval, then every interval).
pub(crate) fn splay(interval: Duration, r: u64) -> Duration {
    let ms = u64::try_from(interval.as_millis())
        .unwrap_or(u64::MAX)
        .max(1);
    Duration::from_millis(1 + r % ms)
}

/// A random number without an RNG to carry: std's `RandomState` is seeded from the OS once
/// per thread and moves on with every instance, which is enough to spread health checks.
fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.finish()
}

/// How long the loop sleeps when no timer is due (it wakes for its inputs anyway).
const IDLE_WAKE: Duration = Duration::from_secs(60);
/// Pause between `post-run` attempts (Habitat retries without one).
const POST_RUN_RETRY: Duration = Duration::from_secs(1);
/// Longest wait after a failed health check (spec §9).
const UNHEALTHY_RECHECK: Duration = Duration::from_secs(30);

/// What the supervisor asks of the ring. Every call returns at once.
pub trait RingPort: Send + Sync + 'static {
    /// Publish (or re-publish) a Service rumor.
    fn publish(&self, service: warren_ring::Service);
    /// Join a service group's election.
    fn start_election(&self, service_group: &str, kind: ElectionKind, suitability: u64);
    /// Change our suitability in an election.
    fn set_suitability(&self, service_group: &str, kind: ElectionKind, suitability: u64);
    /// Leave a service group (the service was unloaded): withdraw this member's Service rumor
    /// and stop taking part in the group's elections.
    fn leave_group(&self, service_group: &str);
}

/// Told what services do, for metrics. Every call returns at once.
pub trait ServiceObserver: Send + Sync + 'static {
    /// A hook finished (or could not start, or was stopped).
    fn hook_ran(&self, service_group: &str, hook: HookKind, run: &HookRun) {
        let _ = (service_group, hook, run);
    }
    /// The service's process failed and will be started again.
    fn restarted(&self, service_group: &str) {
        let _ = service_group;
    }
    /// The service's status may have changed (see [`ServiceHandle::status`]).
    fn status_changed(&self, service_group: &str) {
        let _ = service_group;
    }
}

/// An observer that ignores everything.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoObserver;

impl ServiceObserver for NoObserver {}

/// Looks up an environment variable.
pub type EnvLookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// What every service of one supervisor shares.
#[derive(Clone)]
pub struct Shared {
    /// Prefix of every `/hab/...` path.
    pub fs_root: PathBuf,
    /// This supervisor as templates see it (`sys`).
    pub sys: tpl::SysInfo,
    /// This supervisor as its Service rumors describe it.
    pub member_sys: warren_ring::SysInfo,
    /// Reaps and spawns every child.
    pub reaper: Reaper,
    /// The ring.
    pub ring: Arc<dyn RingPort>,
    /// The newest census (`None` until the ring built one).
    pub census: watch::Receiver<Option<Arc<CensusRing>>>,
    /// Looks up an environment variable (`HAB_<PKG>`).
    pub env: EnvLookup,
    /// Told about hooks and restarts.
    pub observer: Arc<dyn ServiceObserver>,
}

/// Whether the service's process is running.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ProcessState {
    /// Not running.
    #[default]
    Down,
    /// Running.
    Up,
}

/// Whether the operator wants the service running (`warren svc start` / `stop`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DesiredState {
    /// Keep it running.
    #[default]
    Up,
    /// Keep it stopped (loaded, rendered, not running).
    Down,
}

/// What a service task is asked while it runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Control {
    /// The desired state, and for `Down` the stop budget if not the spec's.
    Desired(DesiredState, Option<Duration>),
    Signal(Signal),
}

/// A service's state as the gateway and the control API report it.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceStatus {
    /// `service.group[@org]`.
    pub service_group: String,
    /// The package ident.
    pub pkg: String,
    /// Process state.
    pub process: ProcessState,
    /// The run process's pid.
    pub pid: Option<u32>,
    /// When the process state last changed.
    pub since: SystemTime,
    /// Latest health.
    pub health: HealthStatus,
    /// `init` succeeded for the current run.
    pub initialized: bool,
    /// Why the service is not started, if it is waiting.
    pub waiting: Option<String>,
    /// What the operator asked for.
    pub desired: DesiredState,
    /// Restarts after failures since load.
    pub restart_count: u32,
    /// When a failed service starts again, if it is waiting to.
    pub next_restart_at: Option<SystemTime>,
    /// The merged configuration in force.
    pub cfg: toml::Table,
    /// Output of the last health check (stdout, stderr), as its log files hold it.
    pub health_output: (String, String),
    /// The topology election's status in the census (`None` for standalone).
    pub election: CensusElectionStatus,
    /// `user.toml` is present and in force.
    pub user_config: bool,
}

/// Why a service cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The plan or `--config-from` directory is unusable.
    #[error(transparent)]
    Plan(#[from] crate::plan::PlanError),
    /// A template does not parse.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// Binds do not match the package.
    #[error("{0}")]
    Binds(String),
    /// `HAB_<PKG>` is not valid TOML or JSON.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The package has neither a run hook nor a run command.
    #[error(
        "{0} has nothing to run: give the plan a hooks/run or a pkg_svc_run (an installed package a run file)"
    )]
    NothingToRun(String),
    /// The service user does not exist.
    #[error("{0}")]
    User(String),
}

/// A loaded service's task.
#[derive(Debug)]
pub struct ServiceHandle {
    /// `service.group[@org]`.
    pub service_group: String,
    status: watch::Receiver<ServiceStatus>,
    control: mpsc::UnboundedSender<Control>,
    task: tokio::task::JoinHandle<()>,
    shutdown: CancellationToken,
}

impl ServiceHandle {
    /// The newest status.
    pub fn status(&self) -> ServiceStatus {
        self.status.borrow().clone()
    }

    /// A receiver of status changes.
    pub fn watch_status(&self) -> watch::Receiver<ServiceStatus> {
        self.status.clone()
    }

    /// Sends `sig` to the service's process group (if running).
    pub fn forward_signal(&self, sig: Signal) {
        let _ = self.control.send(Control::Signal(sig));
    }

    /// Start (`Up`) or stop (`Down`) the service; it stays loaded either way.
    pub fn set_desired(&self, desired: DesiredState) {
        let _ = self.control.send(Control::Desired(desired, None));
    }

    /// Stops the service (it stays loaded), allowing `timeout` between the shutdown signal and
    /// SIGKILL instead of the spec's.
    pub fn stop_within(&self, timeout: Duration) {
        let _ = self
            .control
            .send(Control::Desired(DesiredState::Down, Some(timeout)));
    }

    /// A handle that forwards signals to the service, usable after this one is consumed.
    pub fn signal_forwarder(&self) -> SignalForwarder {
        SignalForwarder(self.control.clone())
    }

    /// Unloads the service: stops it (the full stop sequence), waits for its task, and leaves
    /// its group (its elections, and its Service rumor is withdrawn).
    pub async fn unload(self, ring: &dyn RingPort, timeout: Option<Duration>) {
        let sg = self.service_group.clone();
        if let Some(t) = timeout {
            self.stop_within(t);
        }
        self.shutdown.cancel();
        self.join().await;
        ring.leave_group(&sg);
    }

    /// Waits until the task ended (after its shutdown token was cancelled).
    pub async fn join(self) {
        if let Err(e) = self.task.await {
            error!(service_group = %self.service_group, error = %e, "service task failed");
        }
    }
}

/// Forwards signals to one service's process group.
#[derive(Clone, Debug)]
pub struct SignalForwarder(mpsc::UnboundedSender<Control>);

impl SignalForwarder {
    /// Sends `sig` to the service's process group (if running).
    pub fn forward(&self, sig: Signal) {
        let _ = self.0.send(Control::Signal(sig));
    }
}

/// Loads `spec` and spawns its task on the current runtime; the task runs until `shutdown`
/// (or [`ServiceHandle::unload`]), then stops the service (signal, timeout, SIGKILL,
/// `post-stop`) and ends. `desired` is the initial desired state. Everything that
/// can be checked before running (plan, templates, binds, `HAB_<PKG>`, user) is checked here.
pub fn spawn(
    spec: ServiceSpec,
    shared: Shared,
    shutdown: CancellationToken,
    desired: DesiredState,
) -> Result<ServiceHandle, LoadError> {
    let shutdown = shutdown.child_token();
    let pkg = spec.effective_package()?;
    let binds = spec.checked_binds().map_err(LoadError::Binds)?;
    let mut renderer = PlanRenderer::new(&pkg, &shared.fs_root, false)?;
    let sg = spec.service_group();
    let has_run = renderer
        .templates()
        .hooks
        .iter()
        .any(|t| t.output == Path::new("run"))
        || pkg.svc_run.is_some()
        || pkg.run_file.is_some();
    if !has_run {
        return Err(LoadError::NothingToRun(pkg.ident.to_string()));
    }
    let mut layers = ConfigLayers::for_package(&pkg, &shared.fs_root);
    if let Some(value) = (shared.env)(layers.env_var()) {
        layers.set_env(&value)?;
    }
    let user = service_user(&pkg)?;
    let svc_path = shared.fs_root.join("hab/svc").join(pkg.name());
    let hooks = HookRunner::new(
        shared.reaper.clone(),
        sg.clone(),
        &svc_path,
        pkg.runtime_environment
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        user,
    );
    let status = ServiceStatus {
        service_group: sg.clone(),
        pkg: fully_qualified(&pkg),
        process: ProcessState::Down,
        pid: None,
        since: SystemTime::now(),
        health: HealthStatus::Unknown,
        initialized: false,
        waiting: None,
        desired,
        restart_count: 0,
        next_restart_at: None,
        cfg: layers.merged().clone(),
        health_output: (String::new(), String::new()),
        election: CensusElectionStatus::None,
        user_config: false,
    };
    let (status_tx, status_rx) = watch::channel(status);
    let (control_tx, control_rx) = mpsc::unbounded_channel();
    let census = shared.census.clone();
    for w in renderer.take_warnings() {
        warn!(service_group = %sg, "{w}");
    }
    let mut svc = Service {
        backoff: Backoff::new(spec.backoff),
        user_toml_path: user_toml_path(&shared.fs_root, pkg.name()),
        spec,
        pkg,
        sg: sg.clone(),
        layers,
        renderer,
        hooks,
        binds,
        user,
        svc_path,
        shared,
        user_toml: None,
        published: None,
        initialized: false,
        proc: None,
        rendered: false,
        pending: Changes::default(),
        next_start: None,
        health: HealthStatus::Unknown,
        next_health: None,
        first_ok_pending: false,
        in_flight: JoinSet::new(),
        busy: BTreeSet::new(),
        census: None,
        files: BTreeMap::new(),
        refused_config: None,
        waiting: None,
        status: status_tx,
        stopping: shutdown.child_token(),
        gate_was_open: false,
        desired,
        restart_count: 0,
    };
    // The Service rumor, then the election, are sent before this returns: a supervisor that
    // loads its services before its ring runs has them in the ring before the first packet
    // (the ring counts a member in a group's election only once its Service rumor is there,
    // and a restarted member must not stand in the group's election before it is one).
    svc.publish();
    if svc.spec.topology == Topology::Leader {
        svc.shared
            .ring
            .start_election(&svc.sg, ElectionKind::Leader, 0);
    }
    let task = tokio::spawn(svc.run(census, control_rx, shutdown.clone()));
    Ok(ServiceHandle {
        service_group: sg,
        status: status_rx,
        control: control_tx,
        task,
        shutdown,
    })
}

/// `origin/name/version/release`; a plan has no release (`0`).
fn fully_qualified(pkg: &Package) -> String {
    let id = &pkg.ident;
    format!(
        "{}/{}/{}/{}",
        id.origin,
        id.name,
        id.version.as_deref().unwrap_or("0.0.0"),
        id.release.as_deref().unwrap_or("0")
    )
}

/// The user hooks and the process run as: the package's when Warren runs as root (Habitat's
/// default `hab` falls back to root when that user does not exist), Warren's own otherwise.
fn service_user(pkg: &Package) -> Result<Option<UserIds>, LoadError> {
    if !warren_process::is_root() {
        return Ok(None);
    }
    match warren_process::lookup_user(&pkg.svc_user, &pkg.svc_group) {
        Ok(ids) => Ok(Some(ids)),
        Err(e) if pkg.svc_user == DEFAULT_SVC_USER => {
            warn!(
                "{}: {e}; running its hooks as the supervisor's user",
                pkg.ident
            );
            Ok(None)
        }
        Err(e) => Err(LoadError::User(format!("{}: {e}", pkg.ident))),
    }
}

/// The supervised process.
struct Running {
    child: Child,
    started: Instant,
}

/// One service's state, owned by its task.
struct Service {
    spec: ServiceSpec,
    pkg: Package,
    sg: String,
    layers: ConfigLayers,
    renderer: PlanRenderer,
    hooks: HookRunner,
    binds: Vec<(Bind, Vec<String>)>,
    user: Option<UserIds>,
    svc_path: PathBuf,
    shared: Shared,
    user_toml_path: PathBuf,
    /// The `user.toml` text in force (`None`: no file).
    user_toml: Option<String>,
    /// Exported cfg and `initialized` last published.
    published: Option<(toml::Table, bool)>,
    /// The service has started once (its init hook succeeded and its run hook was spawned).
    initialized: bool,
    proc: Option<Running>,
    /// Templates were rendered at least once.
    rendered: bool,
    /// Changes not acted on yet (the gate was closed).
    pending: Changes,
    backoff: Backoff,
    /// When a failed service may start again.
    next_start: Option<Instant>,
    health: HealthStatus,
    next_health: Option<Instant>,
    /// The next OK health check is the first since the process started: the one after it is
    /// splayed ([`splay`]).
    first_ok_pending: bool,
    in_flight: JoinSet<(HookKind, Option<HookRun>)>,
    busy: BTreeSet<HookKind>,
    census: Option<Arc<CensusRing>>,
    /// Gossiped files written (or refused): name → incarnation.
    files: BTreeMap<String, u64>,
    /// The gossiped config incarnation last refused (bad TOML, a box that does not open): it is
    /// reported once, and the configuration in force stays.
    refused_config: Option<u64>,
    waiting: Option<String>,
    status: watch::Sender<ServiceStatus>,
    /// Cancelled when the service stops: hooks in flight are stopped.
    stopping: CancellationToken,
    gate_was_open: bool,
    desired: DesiredState,
    restart_count: u32,
}

impl Service {
    async fn run(
        mut self,
        mut census: watch::Receiver<Option<Arc<CensusRing>>>,
        mut control: mpsc::UnboundedReceiver<Control>,
        shutdown: CancellationToken,
    ) {
        info!(service_group = %self.sg, pkg = %fully_qualified(&self.pkg), "service loaded");
        if let Err(e) = self.prepare_dirs() {
            error!(service_group = %self.sg, error = %e, "cannot create the service directories");
        }
        // Watched before the first read, so a change in between is not missed.
        let mut user_toml = UserTomlWatch::new(&self.user_toml_path);
        tracing::debug!(service_group = %self.sg, inotify = user_toml.is_notify(), "watching user.toml");
        self.read_user_toml();
        self.census = census.borrow_and_update().clone();
        self.refresh();
        loop {
            self.act(&shutdown).await;
            if shutdown.is_cancelled() {
                break;
            }
            // With no timer due, the loop waits for its other inputs alone.
            let deadline = [self.next_start, self.next_health]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or_else(|| Instant::now() + IDLE_WAKE);
            tokio::select! {
                _ = shutdown.cancelled() => break,
                changed = census.changed() => {
                    if changed.is_ok() {
                        self.census = census.borrow_and_update().clone();
                        self.refresh();
                    } else {
                        // The ring stopped; shutdown follows.
                        shutdown.cancelled().await;
                    }
                }
                status = wait_running(&mut self.proc) => self.on_exit(status),
                Some(done) = self.in_flight.join_next(), if !self.in_flight.is_empty() => {
                    match done {
                        Ok((kind, run)) => self.on_hook(kind, run),
                        Err(e) => error!(service_group = %self.sg, error = %e, "hook task failed"),
                    }
                }
                Some(cmd) = control.recv() => match cmd {
                    Control::Signal(sig) => self.forward(sig),
                    Control::Desired(desired, timeout) => {
                        self.desired = desired;
                        info!(service_group = %self.sg, ?desired, "desired state");
                        if desired == DesiredState::Down {
                            let spec_timeout = self.spec.shutdown_timeout;
                            if timeout.is_some() {
                                self.spec.shutdown_timeout = timeout;
                            }
                            self.stop("it was asked to stop").await;
                            self.spec.shutdown_timeout = spec_timeout;
                            self.next_start = None;
                            self.backoff.reset();
                        }
                        self.publish_status();
                    }
                },
                () = user_toml.changed() => {
                    if self.read_user_toml() {
                        self.refresh();
                    }
                }
                _ = sleep_until(deadline) => {}
            }
        }
        self.stop("the supervisor is stopping").await;
        info!(service_group = %self.sg, "service stopped");
    }

    // ---- configuration and rendering ----

    /// Re-reads `user.toml`; returns whether the configuration changed. Invalid TOML is
    /// reported once per content and the previous good configuration stays in force.
    fn read_user_toml(&mut self) -> bool {
        let text = std::fs::read_to_string(&self.user_toml_path).ok();
        if text == self.user_toml {
            return false;
        }
        self.user_toml = text.clone();
        let result = match &text {
            Some(t) => self.layers.set_user_toml(t),
            None => self.layers.clear_user_toml(),
        };
        match result {
            Ok(changed) => {
                if changed {
                    info!(service_group = %self.sg, file = %self.user_toml_path.display(), "user.toml changed");
                }
                changed
            }
            Err(e) => {
                error!(service_group = %self.sg, "{e}; the previous configuration stays in force");
                false
            }
        }
    }

    /// Applies gossiped config and files from the census, publishes the Service rumor when its
    /// content changed, and re-renders.
    fn refresh(&mut self) {
        let census = self.census.clone();
        if let Some(group) = census.as_ref().and_then(|c| c.census_groups.get(&self.sg))
            && let Some(sc) = &group.service_config
            && sc.incarnation > self.layers.gossip_incarnation()
            && self.refused_config != Some(sc.incarnation)
        {
            let applied = self
                .open_gossiped(sc.encrypted, sc.value.as_bytes())
                .and_then(|bytes| {
                    let text = String::from_utf8(bytes)
                        .map_err(|_| "the decrypted configuration is not UTF-8".to_owned())?;
                    self.layers
                        .apply_gossip(sc.incarnation, &text)
                        .map_err(|e| e.to_string())
                });
            match applied {
                Ok(_) => {
                    info!(service_group = %self.sg, incarnation = sc.incarnation, encrypted = sc.encrypted, "gossiped configuration applied")
                }
                Err(e) => {
                    self.refused_config = Some(sc.incarnation);
                    error!(service_group = %self.sg, incarnation = sc.incarnation, "gossiped configuration refused: {e}; the previous configuration stays in force")
                }
            }
        }
        if let Some(group) = census.as_ref().and_then(|c| c.census_groups.get(&self.sg)) {
            self.write_gossiped_files(group);
        }
        self.publish();
        self.render();
        self.publish_status();
    }

    /// Publishes the Service rumor when the exported cfg changed (spec §8.6) or the service
    /// became initialized (its first start): peers' census shows `initialized` once it is true.
    /// Re-publishing is safe for elections: a member's Service rumor says nothing about its
    /// candidacies (a restarted member never acts on its previous life's, see `warren-ring`).
    fn publish(&mut self) {
        let exported = exports(&self.pkg, self.layers.merged());
        let initialized = self.initialized;
        if self
            .published
            .as_ref()
            .is_some_and(|(e, i)| *e == exported && *i == initialized)
        {
            return;
        }
        self.published = Some((exported.clone(), initialized));
        let service = warren_ring::Service {
            incarnation: 0,
            member_id: MemberId::new(self.shared.sys.member_id.as_str()),
            service_group: self.sg.clone(),
            pkg: fully_qualified(&self.pkg),
            pkg_incarnation: 0,
            initialized,
            cfg: toml::to_string(&exported).unwrap_or_default().into_bytes(),
            sys: self.shared.member_sys.clone(),
            withdrawn: false,
        };
        self.shared.ring.publish(service);
    }

    /// Renders with the current census; needs our own Service rumor in it.
    fn render(&mut self) {
        let Some(census) = self.census.clone() else {
            return;
        };
        let Some(group) = census.census_groups.get(&self.sg) else {
            return;
        };
        let member_id = self.shared.sys.member_id.clone();
        let svc = match tpl::SvcContext::new(&template_group(group), &member_id) {
            Ok(svc) => svc,
            Err(_) => return, // our rumor is not in the census yet
        };
        let ctx = tpl::RenderContext {
            sys: self.shared.sys.clone(),
            pkg: self.pkg.pkg_info(&self.shared.fs_root),
            cfg: self.layers.merged().clone(),
            svc,
            bind: bind_contexts(&census, &self.binds),
        };
        let files = match self.renderer.render(&ctx) {
            Ok(files) => files,
            Err(e) => {
                error!(service_group = %self.sg, "{e}; the files rendered before stay in place");
                return;
            }
        };
        match write_outputs(&self.svc_path, &files) {
            Ok(written) => {
                let changes = Changes::from_written(&written);
                if changes.any() {
                    info!(service_group = %self.sg, ?changes, "rendered files changed");
                }
                self.pending.config |= changes.config;
                self.pending.process_hooks |= changes.process_hooks;
                self.pending.reconfigure_hook |= changes.reconfigure_hook;
                if let Err(e) = self.write_run_file().and_then(|()| self.chown_config()) {
                    error!(service_group = %self.sg, error = %e, "cannot prepare the run file");
                }
                self.rendered = true;
            }
            Err(e) => error!(service_group = %self.sg, "{e}"),
        }
    }

    /// `<svc>/run`: the rendered run hook, else `exec <pkg_svc_run>`, else the package's run
    /// file.
    fn write_run_file(&self) -> std::io::Result<()> {
        let target = self.svc_path.join("run");
        let content = if self.hooks.exists(HookKind::Run) {
            std::fs::read(self.hooks.path(HookKind::Run))?
        } else if let Some(cmd) = &self.pkg.svc_run {
            format!("#!/bin/sh\nexec {cmd} 2>&1\n").into_bytes()
        } else if let Some(file) = &self.pkg.run_file {
            std::fs::read(file)?
        } else {
            return Ok(());
        };
        if std::fs::read(&target).ok().as_deref() == Some(content.as_slice()) {
            return Ok(());
        }
        let tmp = self.svc_path.join(".run.tmp");
        std::fs::write(&tmp, &content)?;
        set_mode(&tmp, 0o755)?;
        std::fs::rename(&tmp, &target)
    }

    fn chown_config(&self) -> std::io::Result<()> {
        let Some(user) = self.user else {
            return Ok(());
        };
        chown_tree(&self.svc_path.join("config"), user)
    }

    /// A gossiped payload in clear: as is, or, when `encrypted`, its BOX-1 box opened with this
    /// service's secret key and the sender's public key from `<fs_root>/hab/cache/keys`. The
    /// error names the missing key (or says the box does not open).
    fn open_gossiped(&self, encrypted: bool, payload: &[u8]) -> Result<Vec<u8>, String> {
        if !encrypted {
            return Ok(payload.to_vec());
        }
        warren_wire::box_key::KeyCache::new(self.shared.fs_root.join("hab/cache/keys"))
            .open(payload)
            .map_err(|e| format!("encrypted payload: {e}"))
    }

    fn write_gossiped_files(&mut self, group: &warren_ring::CensusGroup) {
        let dir = self.svc_path.join("files");
        for (name, file) in &group.service_files {
            if self
                .files
                .get(name)
                .is_some_and(|inc| *inc >= file.incarnation)
            {
                continue;
            }
            // A file name is a name, never a path.
            if name.contains('/') || name == ".." || name == "." || name.is_empty() {
                warn!(service_group = %self.sg, file = %name, "gossiped file name refused");
                self.files.insert(name.clone(), file.incarnation);
                continue;
            }
            let body = match self.open_gossiped(file.encrypted, &file.body) {
                Ok(body) => body,
                Err(e) => {
                    // Nothing is written; a later version of the file is tried again.
                    error!(service_group = %self.sg, file = %name, incarnation = file.incarnation, "gossiped file refused: {e}");
                    self.files.insert(name.clone(), file.incarnation);
                    continue;
                }
            };
            let path = dir.join(name);
            let tmp = dir.join(format!(".{name}.tmp"));
            let written = std::fs::write(&tmp, &body)
                .and_then(|()| set_mode(&tmp, 0o640))
                .and_then(|()| match self.user {
                    Some(u) => std::os::unix::fs::chown(&tmp, Some(u.uid), Some(u.gid)),
                    None => Ok(()),
                })
                .and_then(|()| std::fs::rename(&tmp, &path));
            match written {
                Ok(()) => {
                    info!(service_group = %self.sg, file = %name, incarnation = file.incarnation, "gossiped file written");
                    self.files.insert(name.clone(), file.incarnation);
                    if self.proc.is_some() {
                        self.spawn_hook(HookKind::FileUpdated, Duration::ZERO);
                    }
                }
                Err(e) => {
                    error!(service_group = %self.sg, file = %path.display(), error = %e, "cannot write a gossiped file")
                }
            }
        }
    }

    // ---- gates ----

    /// Why the service may not start or be acted on now, if it may not.
    fn gate(&self) -> Option<String> {
        if self.desired == DesiredState::Down {
            return Some("stopped (desired state down)".to_owned());
        }
        let Some(census) = self.census.as_ref() else {
            return Some("waiting for the census".to_owned());
        };
        if !self.rendered {
            return Some("waiting for its own Service rumor in the census".to_owned());
        }
        if self.spec.topology == Topology::Leader {
            let status = census
                .census_groups
                .get(&self.sg)
                .map(|g| g.election_status)
                .unwrap_or_default();
            match status {
                CensusElectionStatus::ElectionFinished => {}
                CensusElectionStatus::None => {
                    return Some("Waiting to execute hooks; election hasn't started".to_owned());
                }
                CensusElectionStatus::ElectionInProgress => {
                    return Some("Waiting to execute hooks; election in progress.".to_owned());
                }
                CensusElectionStatus::ElectionNoQuorum => {
                    return Some(
                        "Waiting to execute hooks; election in progress, and we have no quorum."
                            .to_owned(),
                    );
                }
            }
        }
        if self.spec.binding_mode == BindingMode::Strict {
            let unsatisfied: Vec<String> = self
                .binds
                .iter()
                .filter_map(|(bind, wanted)| match bind_status(census, bind, wanted) {
                    BindStatus::Satisfied => None,
                    other => Some(format!("{} ({:?})", bind.name, other)),
                })
                .collect();
            if !unsatisfied.is_empty() && self.proc.is_none() {
                return Some(format!(
                    "Waiting for service binds... {}",
                    unsatisfied.join(", ")
                ));
            }
        }
        None
    }

    // ---- acting ----

    async fn act(&mut self, shutdown: &CancellationToken) {
        let gate = self.gate();
        if gate != self.waiting {
            if let Some(why) = &gate {
                info!(service_group = %self.sg, "{why}");
            }
            self.waiting = gate.clone();
            self.publish_status();
        }
        if gate.is_some() {
            self.gate_was_open = false;
            return;
        }
        if !self.gate_was_open && self.proc.is_some() {
            // An election finished again: check health at once.
            self.next_health = Some(Instant::now());
        }
        self.gate_was_open = true;
        if self.proc.is_some() {
            match decide(self.pending, self.hooks.exists(HookKind::Reconfigure)) {
                Action::Restart => {
                    self.pending = Changes::default();
                    self.stop("its configuration or hooks changed").await;
                    self.backoff.reset();
                    self.next_start = None;
                }
                Action::Reconfigure => {
                    self.pending = Changes::default();
                    self.spawn_hook(HookKind::Reconfigure, Duration::ZERO);
                }
                Action::Nothing => self.pending = Changes::default(),
            }
        }
        if self.proc.is_none() && self.next_start.is_none_or(|t| Instant::now() >= t) {
            self.pending = Changes::default();
            self.start(shutdown).await;
        }
        if self.proc.is_some()
            && self.next_health.is_some_and(|t| Instant::now() >= t)
            && !self.busy.contains(&HookKind::HealthCheck)
        {
            self.next_health = None;
            if self.hooks.exists(HookKind::HealthCheck) {
                self.spawn_hook(HookKind::HealthCheck, Duration::ZERO);
            } else {
                self.set_health(HealthStatus::Ok);
                self.next_health = Some(Instant::now() + self.spec.health_check_interval);
            }
        }
    }

    async fn start(&mut self, shutdown: &CancellationToken) {
        if let Err(e) = self.prepare_dirs() {
            error!(service_group = %self.sg, error = %e, "cannot create the service directories");
        }
        self.stopping = shutdown.child_token();
        let timeout = self.spec.hook_timeouts.default;
        let init = self
            .hooks
            .run(HookKind::Init, timeout, &self.stopping)
            .await;
        self.observe(HookKind::Init, init.as_ref());
        if let Some(run) = init
            && verdict(HookKind::Init, &run) != Verdict::Proceed
        {
            if shutdown.is_cancelled() {
                return;
            }
            let delay = self.backoff.failed(Duration::ZERO);
            error!(service_group = %self.sg, "init {}; starting again in {delay:?}", run.exit);
            self.next_start = Some(Instant::now() + delay);
            return;
        }
        let run_file = self.svc_path.join("run");
        let child = self
            .shared
            .reaper
            .spawn(self.hooks.command(&run_file), &self.hooks.spawn_spec());
        let mut child = match child {
            Ok(c) => c,
            Err(e) => {
                let delay = self.backoff.failed(Duration::ZERO);
                error!(service_group = %self.sg, "cannot start {}: {e}; trying again in {delay:?}", run_file.display());
                self.next_start = Some(Instant::now() + delay);
                return;
            }
        };
        let pid = child.pid;
        info!(service_group = %self.sg, pid, "service started");
        for (stream, tag) in [(child.take_stdout(), "O"), (child.take_stderr(), "E")] {
            if let Some(r) = stream {
                tokio::spawn(copy_lines(r, format!("{}({tag}):", self.sg), None));
            }
        }
        if let Err(e) = std::fs::write(self.svc_path.join("PID"), format!("{pid}\n")) {
            warn!(service_group = %self.sg, error = %e, "cannot write the PID file");
        }
        self.proc = Some(Running {
            child,
            started: Instant::now(),
        });
        if !self.initialized {
            self.initialized = true;
            self.publish();
        }
        self.next_start = None;
        self.next_health = Some(Instant::now());
        self.first_ok_pending = true;
        self.publish_status();
        self.spawn_hook(HookKind::PostRun, Duration::ZERO);
        if self.spec.topology == Topology::Leader {
            self.spawn_hook(HookKind::Suitability, Duration::ZERO);
        }
    }

    /// The stop sequence: shutdown signal to the process group, wait the shutdown timeout,
    /// SIGKILL, then `post-stop`. Hooks in flight are stopped first.
    async fn stop(&mut self, why: &str) {
        self.stopping.cancel();
        while let Some(done) = self.in_flight.join_next().await {
            if let Ok((kind, _)) = done {
                self.busy.remove(&kind);
            }
        }
        self.busy.clear();
        let Some(mut running) = self.proc.take() else {
            return;
        };
        let signal =
            warren_process::parse_signal(&self.pkg.shutdown_signal).unwrap_or(Signal::SIGTERM);
        let timeout = self.spec.shutdown_timeout();
        info!(service_group = %self.sg, pid = running.child.pid, ?signal, ?timeout, "stopping: {why}");
        let (status, killed) = running.child.stop(signal, timeout).await;
        // Whatever else is left of its process group (a forked helper that ignored the
        // signal) goes too; the group id cannot be reused while any member lives.
        let _ = running.child.signal_group(Signal::SIGKILL);
        if killed {
            warn!(service_group = %self.sg, "did not stop within {timeout:?}; killed");
        }
        info!(service_group = %self.sg, "run {status}");
        let _ = std::fs::remove_file(self.svc_path.join("PID"));
        self.set_health(HealthStatus::Unknown);
        self.publish_status();
        // post-stop runs to completion (bounded by its timeout) even during shutdown.
        let never = CancellationToken::new();
        let post_stop = self
            .hooks
            .run(HookKind::PostStop, self.spec.hook_timeouts.default, &never)
            .await;
        self.observe(HookKind::PostStop, post_stop.as_ref());
        if let Some(run) = post_stop
            && !run.exit.success()
        {
            warn!(service_group = %self.sg, "post-stop {}", run.exit);
        }
    }

    fn on_exit(&mut self, status: ExitStatus) {
        let Some(running) = self.proc.take() else {
            return;
        };
        let ran = running.started.elapsed();
        let _ = std::fs::remove_file(self.svc_path.join("PID"));
        self.stopping.cancel();
        let delay = self.backoff.failed(ran);
        self.restart_count = self.restart_count.saturating_add(1);
        self.shared.observer.restarted(&self.sg);
        error!(service_group = %self.sg, "run {status} after {ran:?}; restarting in {delay:?}");
        self.next_start = Some(Instant::now() + delay);
        self.set_health(if self.hooks.exists(HookKind::HealthCheck) {
            HealthStatus::Unknown
        } else {
            HealthStatus::Critical
        });
        self.publish_status();
    }

    fn forward(&mut self, sig: Signal) {
        if let Some(running) = &self.proc
            && let Err(e) = running.child.signal_group(sig)
        {
            warn!(service_group = %self.sg, ?sig, error = %e, "cannot forward the signal");
        }
    }

    // ---- hooks beside the process ----

    fn spawn_hook(&mut self, kind: HookKind, delay: Duration) {
        if !self.hooks.exists(kind) || !self.busy.insert(kind) {
            return;
        }
        let hooks = self.hooks.clone();
        let cancel = self.stopping.clone();
        let timeout = match kind {
            HookKind::Suitability => self.spec.hook_timeouts.suitability,
            HookKind::HealthCheck => self
                .spec
                .health_check_interval
                .min(self.spec.hook_timeouts.default),
            _ => self.spec.hook_timeouts.default,
        };
        self.in_flight.spawn(async move {
            if !delay.is_zero() {
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = cancel.cancelled() => return (kind, None),
                }
            }
            (kind, hooks.run(kind, timeout, &cancel).await)
        });
    }

    fn observe(&self, kind: HookKind, run: Option<&HookRun>) {
        if let Some(run) = run {
            self.shared.observer.hook_ran(&self.sg, kind, run);
        }
    }

    fn on_hook(&mut self, kind: HookKind, run: Option<HookRun>) {
        self.busy.remove(&kind);
        self.observe(kind, run.as_ref());
        let Some(run) = run else { return };
        if self.proc.is_none() {
            return;
        }
        match verdict(kind, &run) {
            Verdict::Retry => {
                warn!(service_group = %self.sg, "post-run {}; retrying", run.exit);
                self.spawn_hook(HookKind::PostRun, POST_RUN_RETRY);
            }
            Verdict::Health(health) => {
                let output = (
                    read_capped(&self.svc_path.join("logs/health-check.stdout.log")),
                    read_capped(&self.svc_path.join("logs/health-check.stderr.log")),
                );
                self.status.send_modify(|s| s.health_output = output);
                self.set_health(health);
                let interval = self.spec.health_check_interval;
                let next = if health == HealthStatus::Ok && self.first_ok_pending {
                    // Habitat's splay: services started together (a ring's members, a
                    // restarted supervisor's services) do not check their health in step.
                    self.first_ok_pending = false;
                    splay(interval, random_u64())
                } else if health == HealthStatus::Ok {
                    interval
                } else {
                    interval.min(UNHEALTHY_RECHECK)
                };
                self.next_health = Some(Instant::now() + next);
            }
            Verdict::Suitability(value) => {
                let value = value.unwrap_or(0);
                info!(service_group = %self.sg, suitability = value, "suitability");
                self.shared
                    .ring
                    .set_suitability(&self.sg, ElectionKind::Leader, value);
            }
            Verdict::Logged(ok) => {
                if !ok {
                    warn!(service_group = %self.sg, "{} {}", kind.file_name(), run.exit);
                }
                if kind == HookKind::Reconfigure {
                    self.next_health = Some(Instant::now());
                }
            }
            Verdict::Proceed | Verdict::Failed => {}
        }
    }

    // ---- status and files ----

    fn set_health(&mut self, health: HealthStatus) {
        if health != self.health {
            info!(service_group = %self.sg, health = health.as_str(), "health changed");
            self.health = health;
            self.publish_status();
        }
    }

    fn publish_status(&self) {
        self.shared.observer.status_changed(&self.sg);
        let (process, pid) = match &self.proc {
            Some(r) => (ProcessState::Up, Some(r.child.pid)),
            None => (ProcessState::Down, None),
        };
        let election = self
            .census
            .as_ref()
            .and_then(|c| c.census_groups.get(&self.sg))
            .map(|g| g.election_status)
            .unwrap_or_default();
        let next_restart_at = self
            .next_start
            .map(|t| SystemTime::now() + t.saturating_duration_since(Instant::now()));
        self.status.send_modify(|s| {
            if s.process != process {
                s.since = SystemTime::now();
            }
            s.process = process;
            s.pid = pid;
            s.health = self.health;
            s.initialized = self.proc.is_some();
            s.waiting = self.waiting.clone();
            s.desired = self.desired;
            s.restart_count = self.restart_count;
            s.next_restart_at = next_restart_at;
            if &s.cfg != self.layers.merged() {
                s.cfg = self.layers.merged().clone();
            }
            s.election = election;
            s.user_config = self.user_toml.is_some();
        });
    }

    /// Habitat's service directories (spec §12.2): data directories belong to the service
    /// user (0770), `hooks/` and `logs/` to the supervisor (0755); existing ones are left as
    /// they are.
    fn prepare_dirs(&self) -> std::io::Result<()> {
        create_dir(&self.svc_path, 0o755, None)?;
        for dir in ["config", "data", "files", "var", "static"] {
            create_dir(&self.svc_path.join(dir), 0o770, self.user)?;
        }
        for dir in ["hooks", "logs"] {
            create_dir(&self.svc_path.join(dir), 0o755, None)?;
        }
        Ok(())
    }
}

/// How much of a health check's output is reported: the last 64 KiB of each log.
const HEALTH_OUTPUT_CAP: u64 = 64 * 1024;

/// A log file's text, at most its last [`HEALTH_OUTPUT_CAP`] bytes, read with a seek: a hook's
/// log is rewritten on each run but holds all it printed, however much that is.
fn read_capped(path: &Path) -> String {
    let Ok(mut file) = std::fs::File::open(path) else {
        return String::new();
    };
    let bytes = read_tail(&mut file, HEALTH_OUTPUT_CAP).unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The last `cap` bytes of `r` (all of it if shorter), reading at most `cap` bytes. A tail that
/// starts inside a UTF-8 character loses that character's continuation bytes.
fn read_tail<R: std::io::Read + std::io::Seek>(r: &mut R, cap: u64) -> std::io::Result<Vec<u8>> {
    use std::io::{Read as _, SeekFrom};
    let len = r.seek(SeekFrom::End(0))?;
    let start = len.saturating_sub(cap);
    r.seek(SeekFrom::Start(start))?;
    let mut out = Vec::with_capacity(usize::try_from(len - start).unwrap_or(0));
    // The file may grow meanwhile: never read more than `cap`.
    r.take(cap).read_to_end(&mut out)?;
    if start > 0 {
        let partial = out
            .iter()
            .take(3)
            .take_while(|b| **b & 0xC0 == 0x80)
            .count();
        out.drain(..partial);
    }
    Ok(out)
}

async fn wait_running(proc: &mut Option<Running>) -> ExitStatus {
    match proc {
        Some(r) => r.child.wait().await,
        None => std::future::pending().await,
    }
}

fn create_dir(path: &Path, mode: u32, owner: Option<UserIds>) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    if path.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(path)?;
    set_mode(path, mode)?;
    if let Some(u) = owner {
        std::os::unix::fs::chown(path, Some(u.uid), Some(u.gid))?;
    }
    Ok(())
}

fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

fn chown_tree(path: &Path, user: UserIds) -> std::io::Result<()> {
    std::os::unix::fs::chown(path, Some(user.uid), Some(user.gid))?;
    if path.is_dir() {
        for entry in std::fs::read_dir(path)? {
            chown_tree(&entry?.path(), user)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Read, Seek, SeekFrom, Write as _};

    use std::time::Duration;

    use super::{HEALTH_OUTPUT_CAP, random_u64, read_capped, read_tail, splay};

    #[test]
    fn the_check_after_the_first_ok_is_splayed_within_the_interval() {
        let interval = Duration::from_secs(30);
        for r in [0, 1, 29_999, 30_000, u64::MAX] {
            let d = splay(interval, r);
            assert!(d > Duration::ZERO && d <= interval, "{r}: {d:?}");
        }
        assert_eq!(splay(interval, 0), Duration::from_millis(1));
        assert_eq!(splay(interval, 29_999), interval);
        // Random draws spread over the interval rather than all landing on its end.
        let draws: Vec<Duration> = (0..64).map(|_| splay(interval, random_u64())).collect();
        assert!(draws.iter().any(|d| *d < interval / 2), "{draws:?}");
        assert!(draws.iter().any(|d| *d > interval / 2), "{draws:?}");
        // A zero interval (never configured so, but never a panic).
        assert_eq!(splay(Duration::ZERO, 7), Duration::from_millis(1));
    }

    /// A reader that counts the bytes read through it.
    struct Counting<R> {
        inner: R,
        read: u64,
    }

    impl<R: Read> Read for Counting<R> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.inner.read(buf)?;
            self.read += n as u64;
            Ok(n)
        }
    }

    impl<R: Seek> Seek for Counting<R> {
        fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
            self.inner.seek(pos)
        }
    }

    /// 50 MiB of numbered lines.
    fn big_log() -> Vec<u8> {
        let mut log = Vec::with_capacity(50 << 20);
        let mut i = 0u64;
        while log.len() < 50 << 20 {
            log.extend_from_slice(format!("line {i}\n").as_bytes());
            i += 1;
        }
        log
    }

    #[test]
    fn the_tail_of_a_huge_log_is_read_with_a_seek() {
        let log = big_log();
        let tail_len = usize::try_from(HEALTH_OUTPUT_CAP).unwrap_or(usize::MAX);
        let mut r = Counting {
            inner: Cursor::new(log.as_slice()),
            read: 0,
        };
        let tail = read_tail(&mut r, HEALTH_OUTPUT_CAP).unwrap_or_default();
        assert_eq!(r.read, HEALTH_OUTPUT_CAP, "read more than the tail");
        assert_eq!(tail, log[log.len() - tail_len..]);
        // A short file is read whole.
        let mut r = Counting {
            inner: Cursor::new(&b"ok\n"[..]),
            read: 0,
        };
        assert_eq!(
            read_tail(&mut r, HEALTH_OUTPUT_CAP).unwrap_or_default(),
            b"ok\n"
        );
        assert_eq!(r.read, 3);
    }

    #[test]
    fn read_capped_returns_the_tail_of_a_50_mib_file() {
        let log = big_log();
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("health-check.stdout.log");
        let mut f = std::fs::File::create(&path).unwrap_or_else(|e| panic!("{e}"));
        f.write_all(&log).unwrap_or_else(|e| panic!("{e}"));
        drop(f);
        let tail_len = usize::try_from(HEALTH_OUTPUT_CAP).unwrap_or(usize::MAX);
        let text = read_capped(&path);
        assert_eq!(text.as_bytes(), &log[log.len() - tail_len..]);
        assert!(text.ends_with("\n"));
        assert_eq!(read_capped(&dir.path().join("missing.log")), "");
    }

    #[test]
    fn a_tail_never_starts_inside_a_character() {
        // "é" is two bytes; cut so the tail would start on its second byte.
        let text = "aé".repeat(10);
        let mut r = Cursor::new(text.as_bytes());
        let tail = read_tail(&mut r, 4).unwrap_or_default();
        assert_eq!(String::from_utf8(tail).unwrap_or_default(), "aé");
    }
}
