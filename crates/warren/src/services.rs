//! The services of `warren run PLAN_DIR…`: reads each plan (or installed package) at start,
//! turns the load flags into a [`ServiceSpec`], bridges the service supervisor to the ring
//! (Service rumors, elections, the census) and spawns one supervisor task per service.
//!
//! It holds no service logic (that is `warren-service`), only wiring.

use std::net::IpAddr;
use std::path::Path;
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
use warren_service::spec::{BindingMode, HookTimeouts, ServiceSpec, Topology};
use warren_service::supervisor::{DesiredState, RingPort, ServiceHandle, Shared};
use warren_service::{Package, supervisor};

use crate::cli::{BindingModeArg, LoadArgs, RunArgs, StrategyArg, TopologyArg};

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
    spec.backoff = BackoffConfig {
        min: Duration::from_secs(load.service_min_backoff_period),
        max: Duration::from_secs(
            load.service_max_backoff_period
                .max(load.service_min_backoff_period),
        ),
        cooldown: Duration::from_secs(load.service_restart_cooldown_period),
    };
    spec.config_from.clone_from(&load.config_from);
    Ok(spec)
}

/// Reads every plan of `args` and checks its flags; the first problem stops the start.
pub(crate) fn specs(args: &RunArgs) -> Result<Vec<ServiceSpec>> {
    let specs: Vec<ServiceSpec> = args
        .plans
        .iter()
        .map(|dir| {
            let pkg = read_package(dir)?;
            spec(pkg, &args.load, args.org.as_deref())
                .with_context(|| format!("loading {}", dir.display()))
        })
        .collect::<Result<_>>()?;
    for (i, s) in specs.iter().enumerate() {
        if specs[..i]
            .iter()
            .any(|o| o.package.name() == s.package.name())
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
}

/// Spawns a supervisor task for every spec.
pub(crate) fn spawn_all(
    specs: Vec<ServiceSpec>,
    info: SupervisorInfo<'_>,
    shutdown: &CancellationToken,
) -> Result<Vec<ServiceHandle>> {
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
    let shared = Shared {
        fs_root: args.fs_root.clone(),
        sys,
        member_sys,
        reaper: info.reaper,
        ring: Arc::new(RingCommands(info.commands)),
        census: info.census,
        env: Arc::new(|name: &str| std::env::var(name).ok()),
    };
    specs
        .into_iter()
        .map(|spec| {
            let name = spec.package.name().to_owned();
            supervisor::spawn(spec, shared.clone(), shutdown.clone(), DesiredState::Up)
                .map_err(|e| anyhow!("loading {name}: {e}"))
        })
        .collect()
}
