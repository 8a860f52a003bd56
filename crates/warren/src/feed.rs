//! What the HTTP gateway and the metrics are fed: the loaded services as Habitat's
//! `ServiceQueryModel` views (rebuilt when a service's status changes), the ring's counters and
//! elections as metrics, and the services' hook runs and restarts as metrics.
//!
//! Conversion only: it reads state others own and publishes documents; it decides nothing.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;
use warren_gateway::{
    FsCfg, HealthReport, HookTable, HookView, PkgBind, PkgView, ProcessView, RestartConfig,
    ServiceDocs, ServiceView, Snapshot, SupervisorSys, SupervisorView,
};
use warren_metrics::{
    Dropped, ElectionKind as MElectionKind, ElectionState, GossipTotals, HookOutcome, MemberHealth,
    Metrics, RingTotals,
};
use warren_net::Counters;
use warren_ring::{ElectionKind, ElectionStatus, Health, PackageIdent, Ring};
use warren_service::hooks::{HealthStatus, HookExit, HookKind, HookRun};
use warren_service::spec::{BindingMode, Topology};
use warren_service::supervisor::{DesiredState, ProcessState, ServiceObserver, ServiceStatus};

use crate::services::{LoadedView, Registry, views};

/// This supervisor as `/services` describes it.
pub(crate) fn supervisor_view(sys: &warren_template::SysInfo, sup_root: &Path) -> SupervisorView {
    SupervisorView {
        sys: SupervisorSys {
            version: sys.version.clone(),
            member_id: sys.member_id.clone(),
            ip: sys.ip.to_string(),
            hostname: sys.hostname.clone(),
            gossip_ip: sys.gossip_ip.to_string(),
            gossip_port: sys.gossip_port,
            ctl_gateway_ip: sys.ctl_gateway_ip.to_string(),
            ctl_gateway_port: sys.ctl_gateway_port,
            http_gateway_ip: sys.http_gateway_ip.to_string(),
            http_gateway_port: sys.http_gateway_port,
            permanent: sys.permanent,
        },
        fs: FsCfg::new(sup_root),
        redact: false,
    }
}

fn epoch_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// One loaded service as Habitat's `ServiceQueryModel` sees it.
pub(crate) fn service_view(
    view: &LoadedView,
    status: &ServiceStatus,
    fs_root: &Path,
) -> ServiceView {
    let spec = &view.spec;
    let pkg = &spec.package;
    let svc_path = fs_root.join("hab/svc").join(pkg.name());
    let ident = PackageIdent::parse(&status.pkg).unwrap_or_else(|| PackageIdent {
        origin: pkg.ident.origin.clone(),
        name: pkg.ident.name.clone(),
        version: pkg.ident.version.clone(),
        release: pkg.ident.release.clone(),
    });
    let mut pv = PkgView::new(ident, pkg.dir.clone(), svc_path.clone());
    pv.env = pkg.runtime_environment.clone();
    pv.exposes = pkg.exposes.clone();
    pv.exports = pkg.exports.clone();
    pv.svc_user = pkg.svc_user.clone();
    pv.svc_group = pkg.svc_group.clone();
    pv.shutdown_signal = pkg.shutdown_signal.clone();
    pv.shutdown_timeout = spec.shutdown_timeout();
    let mut sv = ServiceView::new(status.service_group.clone(), pv);
    sv.spec_file = view.spec_file.clone().unwrap_or_default();
    sv.topology = match spec.topology {
        Topology::Standalone => warren_gateway::Topology::Standalone,
        Topology::Leader => warren_gateway::Topology::Leader,
    };
    sv.binding_mode = match spec.binding_mode {
        BindingMode::Strict => warren_gateway::BindingMode::Strict,
        BindingMode::Relaxed => warren_gateway::BindingMode::Relaxed,
    };
    sv.binds = spec
        .binds
        .iter()
        .map(|b| format!("{}:{}", b.name, b.service_group))
        .collect();
    sv.all_pkg_binds = pkg
        .binds
        .iter()
        .chain(pkg.binds_optional.iter())
        .map(|(name, exports)| PkgBind {
            service: name.clone(),
            exports: exports.clone(),
        })
        .collect();
    sv.config_from.clone_from(&spec.config_from);
    sv.desired_state = match status.desired {
        DesiredState::Up => warren_gateway::DesiredState::Up,
        DesiredState::Down => warren_gateway::DesiredState::Down,
    };
    sv.process = ProcessView {
        pid: status.pid,
        state: match status.process {
            ProcessState::Up => warren_gateway::ProcessState::Up,
            ProcessState::Down => warren_gateway::ProcessState::Down,
        },
        state_entered: epoch_secs(status.since),
    };
    sv.health = HealthReport {
        status: match status.health {
            HealthStatus::Ok => warren_gateway::Health::Ok,
            HealthStatus::Warning => warren_gateway::Health::Warning,
            HealthStatus::Critical => warren_gateway::Health::Critical,
            HealthStatus::Unknown => warren_gateway::Health::Unknown,
        },
        stdout: status.health_output.0.clone(),
        stderr: status.health_output.1.clone(),
    };
    sv.health_check_interval = spec.health_check_interval;
    sv.initialized = status.initialized;
    sv.last_election_status = status.election;
    sv.restart_count = u64::from(status.restart_count);
    sv.next_restart_at = status.next_restart_at.map(epoch_secs);
    sv.restart_config = RestartConfig {
        min_backoff_period: spec.backoff.min,
        max_backoff_period: spec.backoff.max,
        cooldown_period: spec.backoff.cooldown,
    };
    let hook = |kind: HookKind| {
        svc_path
            .join("hooks")
            .join(kind.file_name())
            .is_file()
            .then(|| HookView::at(&svc_path, kind.file_name()))
    };
    sv.hooks = HookTable {
        health_check: hook(HookKind::HealthCheck),
        init: hook(HookKind::Init),
        file_updated: hook(HookKind::FileUpdated),
        reconfigure: hook(HookKind::Reconfigure),
        suitability: hook(HookKind::Suitability),
        run: hook(HookKind::Run),
        post_run: hook(HookKind::PostRun),
        post_stop: hook(HookKind::PostStop),
    };
    sv.cfg = status.cfg.clone();
    sv.user_config_updated = status.user_config;
    sv
}

/// Keeps the gateway's services documents current: whenever a service says its status
/// changed (gathered for 100 ms), if any status or the set of services really changed,
/// serializes them once and publishes them. Idle services cost no wakeups.
pub(crate) async fn feed_services(
    registry: Registry,
    sup: SupervisorView,
    fs_root: std::path::PathBuf,
    snapshots: watch::Sender<Arc<Snapshot>>,
    changed: Arc<Notify>,
    shutdown: CancellationToken,
) {
    let mut last: Option<Vec<(String, ServiceStatus)>> = None;
    let mut first = true;
    loop {
        if !first {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = changed.notified() => {}
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        first = false;
        let loaded = views(&registry);
        let now: Vec<(String, ServiceStatus)> = loaded
            .iter()
            .map(|(name, v)| (name.clone(), v.status.borrow().clone()))
            .collect();
        if last.as_ref() == Some(&now) {
            continue;
        }
        let services: Vec<ServiceView> = loaded
            .iter()
            .zip(&now)
            .map(|((_, v), (_, s))| service_view(v, s, &fs_root))
            .collect();
        let docs = ServiceDocs::build(&sup, &services);
        snapshots.send_modify(|s| *s = Arc::new((**s).clone().with_services(docs)));
        last = Some(now);
    }
}

/// Service events: hook runs and restarts as metrics; status changes wake the gateway feed.
pub(crate) struct Observer {
    pub metrics: Metrics,
    pub status_changed: Arc<Notify>,
}

impl ServiceObserver for Observer {
    fn status_changed(&self, _service_group: &str) {
        self.status_changed.notify_one();
    }

    fn hook_ran(&self, service_group: &str, hook: HookKind, run: &HookRun) {
        let outcome = match &run.exit {
            HookExit::Exited(status) => match status.code() {
                Some(code) => HookOutcome::Exited(code),
                None => HookOutcome::Signaled,
            },
            HookExit::TimedOut(_) => HookOutcome::TimedOut,
            HookExit::SpawnFailed(_) => HookOutcome::SpawnFailed,
            HookExit::Cancelled => HookOutcome::Cancelled,
        };
        self.metrics
            .hooks
            .observe(service_group, hook.file_name(), outcome, run.duration);
    }

    fn restarted(&self, service_group: &str) {
        self.metrics.services.restarted(service_group);
    }
}

fn by_kind(
    counts: &std::collections::BTreeMap<&'static str, u64>,
) -> Vec<(warren_metrics::RumorKind, u64)> {
    counts
        .iter()
        .filter_map(|(k, n)| warren_metrics::RumorKind::from_name(k).map(|k| (k, *n)))
        .collect()
}

/// Copies the ring's state and the gossip task's counters into the metrics.
pub(crate) fn record_ring(metrics: &Metrics, ring: &Ring, counters: &Counters) {
    let mut by_health = [0u64; 4];
    for record in ring.members().iter() {
        let i = match record.health {
            Health::Alive => 0,
            Health::Suspect => 1,
            Health::Confirmed => 2,
            Health::Departed => 3,
        };
        by_health[i] += 1;
    }
    // This member counts as alive.
    by_health[0] += 1;
    for (health, n) in [
        MemberHealth::Alive,
        MemberHealth::Suspect,
        MemberHealth::Confirmed,
        MemberHealth::Departed,
    ]
    .into_iter()
    .zip(by_health)
    {
        metrics.ring.members_set(health, n);
    }
    metrics.ring.local_health_set(ring.local_health());
    let st = ring.stats();
    metrics.ring.record(&RingTotals {
        probes: st.probes,
        ping_reqs: st.indirect_probes,
        suspicions_raised: st.suspicions_raised,
        refutations: st.refutations,
    });
    metrics.gossip.record(&GossipTotals {
        bytes_sent: counters.bytes_out,
        datagrams_sent: counters.datagrams_out,
        bytes_received: counters.bytes_in,
        dropped: counters
            .dropped
            .iter()
            .map(|(reason, n)| {
                // Drops named after the rumor path are rumors; the rest are datagrams.
                let what = if reason.contains("rumor") || reason.contains("push") {
                    Dropped::Rumor
                } else {
                    Dropped::Datagram
                };
                (what, *reason, *n)
            })
            .collect(),
        rumors_sent: by_kind(&counters.rumors_out_by_kind),
        rumors_received: by_kind(&counters.rumors_in_by_kind),
    });
    metrics.elections.record_restarts(st.elections_restarted);
    for (kind, sg) in ring.election_groups() {
        let state = ring.election(sg, kind).map(|e| match e.status {
            ElectionStatus::Running => ElectionState::Running,
            ElectionStatus::NoQuorum => ElectionState::NoQuorum,
            ElectionStatus::Finished => ElectionState::Finished,
        });
        let k = match kind {
            ElectionKind::Leader => MElectionKind::Leader,
            ElectionKind::Update => MElectionKind::Update,
        };
        metrics.elections.set(sg, k, state);
    }
}
