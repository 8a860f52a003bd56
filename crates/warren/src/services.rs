//! The services of `warren run PLAN_DIR…`: reads each plan (or installed package) at start,
//! turns the load flags into a [`ServiceSpec`], bridges the service supervisor to the ring
//! (Service rumors, elections, the census) and spawns one supervisor task per service.
//!
//! It holds no service logic (that is `warren-service`), only wiring.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use warren_net::RingCommand;
use warren_process::Reaper;
use warren_ring::{CensusRing, ElectionKind, MemberId};
use warren_service::backoff::BackoffConfig;
use warren_service::census_view::Bind;
use warren_service::ident::PlanArg;
use warren_service::spec::{BindingMode, HookTimeouts, ServiceSpec, Topology};
use warren_service::spec_file::{SpecFile, spec_path};
use warren_service::supervisor::{
    DesiredState, RingPort, ServiceHandle, ServiceStatus, Shared, SignalForwarder,
};
use warren_service::{Package, supervisor};

use crate::cli::{BindingModeArg, LoadArgs, RunArgs, StrategyArg, TopologyArg};

/// What a `warren run` / `warren svc load` argument names, resolved: the directory to load and,
/// when the argument was a package identifier, that identifier (for the spec file). A path that
/// exists as a directory is a directory; otherwise `ORIGIN/NAME[/VERSION[/RELEASE]]` (no leading
/// `/` or `.`) is the newest installed package under `pkgs_root` that satisfies it
/// (`warren_service::ident`).
pub(crate) fn resolve_plan(arg: &Path, pkgs_root: &Path) -> Result<(PathBuf, Option<String>)> {
    match PlanArg::classify(arg) {
        PlanArg::Dir(dir) => Ok((dir, None)),
        PlanArg::Ident(ident) => {
            let dir = warren_service::ident::resolve(pkgs_root, &ident)
                .map_err(|e| anyhow!("{e} (not a directory either: {})", arg.display()))?;
            Ok((dir, Some(ident.to_string())))
        }
    }
}

/// Reads a plan directory, or an installed package directory (it has an `IDENT` file).
pub(crate) fn read_package(dir: &Path) -> Result<Package> {
    if !dir.is_dir() {
        return Err(anyhow!("plan directory {} does not exist", dir.display()));
    }
    let pkg = if dir.join("IDENT").is_file() {
        Package::from_installed(dir)
    } else {
        Package::from_plan_dir(dir)
    };
    pkg.map_err(|e| anyhow!("{e}"))
}

/// The [`ServiceSpec`] of `pkg` under the load flags.
pub(crate) fn spec(pkg: Package, load: &LoadArgs, org: Option<&str>) -> Result<ServiceSpec> {
    let mut spec = ServiceSpec::new(pkg);
    spec.group.clone_from(&load.group);
    spec.org = org.map(str::to_owned);
    spec.topology = match load.topology {
        TopologyArg::Standalone => Topology::Standalone,
        TopologyArg::Leader => Topology::Leader,
    };
    if load.strategy != StrategyArg::None {
        tracing::warn!(
            "--strategy: plans are not built packages, so there is nothing to update; ignored"
        );
    }
    spec.binds = load
        .binds
        .iter()
        .map(|b| Bind::parse(b).map_err(|e| anyhow!("--bind: {e}")))
        .collect::<Result<_>>()?;
    spec.binding_mode = match load.binding_mode {
        BindingModeArg::Strict => BindingMode::Strict,
        BindingModeArg::Relaxed => BindingMode::Relaxed,
    };
    if load.health_check_interval == 0 {
        return Err(anyhow!("--health-check-interval must be at least 1 second"));
    }
    spec.health_check_interval = Duration::from_secs(load.health_check_interval);
    spec.shutdown_timeout = load.shutdown_timeout.map(Duration::from_secs);
    spec.hook_timeouts = HookTimeouts {
        default: Duration::from_secs(load.hook_timeout.max(1)),
        ..HookTimeouts::default()
    };
    spec.backoff = backoff(load);
    spec.config_from.clone_from(&load.config_from);
    Ok(spec)
}

/// The restart backoff the load flags ask for.
pub(crate) fn backoff(load: &LoadArgs) -> BackoffConfig {
    BackoffConfig {
        min: Duration::from_secs(load.service_min_backoff_period),
        max: Duration::from_secs(
            load.service_max_backoff_period
                .max(load.service_min_backoff_period),
        ),
        cooldown: Duration::from_secs(load.service_restart_cooldown_period),
    }
}

/// Reads every plan of `args` and checks its flags; the first problem stops the start.
pub(crate) fn specs(args: &RunArgs) -> Result<Vec<(ServiceSpec, PathBuf)>> {
    let specs: Vec<(ServiceSpec, PathBuf)> = args
        .plans
        .iter()
        .map(|arg| {
            let (dir, ident) = resolve_plan(arg, &args.fs_root.join("hab/pkgs"))?;
            let pkg = read_package(&dir)?;
            let mut spec = spec(pkg, &args.load, args.org.as_deref())
                .with_context(|| format!("loading {}", dir.display()))?;
            spec.requested_ident = ident;
            Ok((spec, dir))
        })
        .collect::<Result<_>>()?;
    for (i, (s, _)) in specs.iter().enumerate() {
        if specs[..i]
            .iter()
            .any(|(o, _)| o.package.name() == s.package.name())
        {
            return Err(anyhow!(
                "service {} is given twice (one service per package name)",
                s.package.name()
            ));
        }
        s.checked_binds().map_err(|e| anyhow!("{e}"))?;
    }
    Ok(specs)
}

/// The ring, as the service supervisor sees it: commands to the gossip task.
struct RingCommands(mpsc::UnboundedSender<RingCommand>);

impl RingPort for RingCommands {
    fn publish(&self, service: warren_ring::Service) {
        let _ = self.0.send(RingCommand::PublishService(Box::new(service)));
    }

    fn start_election(&self, service_group: &str, kind: ElectionKind, suitability: u64) {
        let _ = self.0.send(RingCommand::StartElection {
            service_group: service_group.to_owned(),
            kind,
            suitability,
        });
    }

    fn set_suitability(&self, service_group: &str, kind: ElectionKind, suitability: u64) {
        let _ = self.0.send(RingCommand::SetSuitability {
            service_group: service_group.to_owned(),
            kind,
            suitability,
        });
    }

    fn leave_group(&self, service_group: &str) {
        let _ = self.0.send(RingCommand::WithdrawService {
            service_group: service_group.to_owned(),
        });
    }
}

/// Everything `Shared` needs from `warren run`.
pub(crate) struct SupervisorInfo<'a> {
    pub args: &'a RunArgs,
    pub member_id: &'a MemberId,
    pub advertise: IpAddr,
    pub hostname: String,
    pub reaper: Reaper,
    pub commands: mpsc::UnboundedSender<RingCommand>,
    pub census: watch::Receiver<Option<Arc<CensusRing>>>,
    pub observer: Arc<dyn warren_service::supervisor::ServiceObserver>,
}

/// What every service of this supervisor shares.
pub(crate) fn shared(info: SupervisorInfo<'_>) -> Shared {
    let args = info.args;
    let sys = warren_template::SysInfo {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        member_id: info.member_id.to_string(),
        ip: info.advertise,
        hostname: info.hostname.clone(),
        gossip_ip: args.listen_gossip.ip(),
        gossip_port: args.listen_gossip.port(),
        http_gateway_ip: args.listen_http.ip(),
        http_gateway_port: args.listen_http.port(),
        permanent: args.permanent_peer,
        ..warren_template::SysInfo::default()
    };
    let member_sys = warren_ring::SysInfo {
        ip: info.advertise.to_string(),
        hostname: info.hostname,
        gossip_ip: args.listen_gossip.ip().to_string(),
        gossip_port: u32::from(args.listen_gossip.port()),
        http_gateway_ip: args.listen_http.ip().to_string(),
        http_gateway_port: u32::from(args.listen_http.port()),
        ctl_gateway_ip: sys.ctl_gateway_ip.to_string(),
        ctl_gateway_port: u32::from(sys.ctl_gateway_port),
    };
    Shared {
        fs_root: args.fs_root.clone(),
        sys,
        member_sys,
        reaper: info.reaper,
        ring: Arc::new(RingCommands(info.commands)),
        census: info.census,
        env: Arc::new(|name: &str| std::env::var(name).ok()),
        observer: info.observer,
    }
}

/// A loaded service as the gateway and the control API see it.
#[derive(Clone, Debug)]
pub(crate) struct LoadedView {
    pub spec: Arc<ServiceSpec>,
    pub plan_path: PathBuf,
    pub spec_file: Option<PathBuf>,
    pub status: watch::Receiver<ServiceStatus>,
}

/// Loaded services by name, readable without waiting (the gateway snapshot reads it from the
/// gossip task).
pub(crate) type Registry = Arc<std::sync::Mutex<BTreeMap<String, LoadedView>>>;

struct Loaded {
    handle: ServiceHandle,
}

/// The loaded services: load, unload, start, stop. One task per service does the work; this
/// only keeps the handles, the spec files and the registry.
pub(crate) struct Services {
    shared: Shared,
    stop: CancellationToken,
    specs_dir: PathBuf,
    loaded: BTreeMap<String, Loaded>,
    registry: Registry,
}

impl Services {
    /// No services yet; spec files go to `specs_dir`; every service stops when `stop` is
    /// cancelled.
    pub(crate) fn new(shared: Shared, stop: CancellationToken, specs_dir: PathBuf) -> Self {
        Services {
            shared,
            stop,
            specs_dir,
            loaded: BTreeMap::new(),
            registry: Registry::default(),
        }
    }

    /// The registry of loaded services.
    pub(crate) fn registry(&self) -> Registry {
        Arc::clone(&self.registry)
    }

    /// Whether a service of that name is loaded.
    pub(crate) fn is_loaded(&self, name: &str) -> bool {
        self.loaded.contains_key(name)
    }

    /// Loads and starts `spec` (from `plan_path`); with `persist`, writes its spec file so a
    /// restarted supervisor loads it again.
    pub(crate) fn load(
        &mut self,
        spec: ServiceSpec,
        plan_path: &Path,
        persist: bool,
        desired: DesiredState,
    ) -> Result<()> {
        let name = spec.package.name().to_owned();
        if self.loaded.contains_key(&name) {
            return Err(anyhow!("service {name} is already loaded"));
        }
        spec.checked_binds().map_err(|e| anyhow!("{e}"))?;
        let spec_file = if persist {
            let path = spec_path(&self.specs_dir, &name);
            SpecFile::from_spec(&spec, desired, plan_path)
                .write(&path)
                .map_err(|e| anyhow!("{e}"))?;
            Some(path)
        } else {
            None
        };
        let spec = Arc::new(spec);
        let handle = supervisor::spawn(
            (*spec).clone(),
            self.shared.clone(),
            self.stop.clone(),
            desired,
        )
        .map_err(|e| {
            if let Some(p) = &spec_file {
                let _ = std::fs::remove_file(p);
            }
            anyhow!("loading {name}: {e}")
        })?;
        let view = LoadedView {
            spec,
            plan_path: plan_path.to_owned(),
            spec_file,
            status: handle.watch_status(),
        };
        lock(&self.registry).insert(name.clone(), view);
        self.loaded.insert(name, Loaded { handle });
        Ok(())
    }

    /// Stops and unloads `name` (within `timeout` if given), and removes its spec file.
    pub(crate) async fn unload(&mut self, name: &str, timeout: Option<Duration>) -> Result<()> {
        let loaded = self
            .loaded
            .remove(name)
            .ok_or_else(|| anyhow!("service {name} is not loaded"))?;
        let view = lock(&self.registry).remove(name);
        loaded.handle.unload(&*self.shared.ring, timeout).await;
        if let Some(path) = view.and_then(|v| v.spec_file) {
            let _ = std::fs::remove_file(path);
        }
        Ok(())
    }

    /// Starts (`Up`) or stops (`Down`) `name` without unloading it; a persisted spec records
    /// it.
    pub(crate) fn set_desired(
        &mut self,
        name: &str,
        desired: DesiredState,
        timeout: Option<Duration>,
    ) -> Result<()> {
        let loaded = self
            .loaded
            .get(name)
            .ok_or_else(|| anyhow!("service {name} is not loaded"))?;
        match (desired, timeout) {
            (DesiredState::Down, Some(t)) => loaded.handle.stop_within(t),
            _ => loaded.handle.set_desired(desired),
        }
        if let Some(view) = lock(&self.registry).get(name)
            && let Some(path) = &view.spec_file
        {
            SpecFile::from_spec(&view.spec, desired, &view.plan_path)
                .write(path)
                .map_err(|e| anyhow!("{e}"))?;
        }
        Ok(())
    }

    /// Forwarders for every loaded service's process group.
    pub(crate) fn forwarders(&self) -> Vec<SignalForwarder> {
        self.loaded
            .values()
            .map(|l| l.handle.signal_forwarder())
            .collect()
    }

    /// Loads every spec file (services loaded by `warren svc load` before a restart), except
    /// services already loaded; a broken spec is reported and skipped.
    /// A spec without `plan_path` (loaded by identifier, or written by Habitat) loads the newest
    /// installed package under `pkgs_root` that satisfies its `ident`.
    pub(crate) fn load_spec_files(
        &mut self,
        org: Option<&str>,
        backoff: BackoffConfig,
        pkgs_root: &Path,
    ) {
        for (path, spec) in SpecFile::read_dir(&self.specs_dir) {
            let loaded = spec.map_err(|e| anyhow!("{e}")).and_then(|file| {
                let (plan, asked) = match &file.plan_path {
                    Some(p) => (p.clone(), None),
                    None => (
                        warren_service::ident::resolve_text(pkgs_root, &file.ident)
                            .map_err(|e| anyhow!("{e}"))?,
                        Some(file.ident.clone()),
                    ),
                };
                let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
                if self.is_loaded(name) {
                    tracing::info!(spec = %path.display(), "already loaded from the command line; the spec file is not used");
                    return Ok(());
                }
                let pkg = read_package(&plan)?;
                let mut spec = file
                    .to_spec(pkg, org.map(str::to_owned), backoff)
                    .map_err(|e| anyhow!("{e}"))?;
                spec.requested_ident = asked;
                self.load(spec, &plan, true, file.desired())
            });
            if let Err(e) = loaded {
                tracing::error!(spec = %path.display(), "cannot load: {e:#}");
            }
        }
    }

    /// Stops every service (each within its shutdown budget, all at once) and waits.
    pub(crate) async fn stop_all(&mut self) {
        self.stop.cancel();
        let handles: Vec<_> = std::mem::take(&mut self.loaded).into_values().collect();
        lock(&self.registry).clear();
        for l in handles {
            l.handle.join().await;
        }
    }
}

/// A copy of the registry's entries, by name.
pub(crate) fn views(registry: &Registry) -> Vec<(String, LoadedView)> {
    lock(registry)
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn lock(registry: &Registry) -> std::sync::MutexGuard<'_, BTreeMap<String, LoadedView>> {
    registry
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
