//! The `/services` documents: Habitat's `ServiceQueryModel` (spec §10.3), each service's merged
//! configuration and its health report, built from plain view types and serialized **once per
//! snapshot** into [`ServiceDocs`].
//!
//! The producer (the binary, which owns the service supervisors) describes every loaded service
//! as a [`ServiceView`] and the supervisor as a [`SupervisorView`], calls [`ServiceDocs::build`]
//! and publishes the result with [`crate::Snapshot::with_services`]. Requests then only look up
//! pre-serialized bytes.
//!
//! Key names, nesting and enum spellings follow Habitat's `ServiceQueryModel` and
//! `components/sup/doc/http_gateway_services_schema.json`: `desired_state` `"Up"`/`"Down"`,
//! `health_check` `"Ok"`/`"Warning"`/`"Critical"`/`"Unknown"`, `process.state` `"up"`/`"down"`,
//! `topology` `"standalone"`/`"leader"`, `update_strategy` `"none"`/`"at-once"`/`"rolling"`,
//! `update_condition` `"latest"`/`"track-channel"`, `binding_mode` `"strict"`/`"relaxed"`,
//! `last_election_status` as the census spells it (`"ElectionFinished"`), durations as
//! `{secs, nanos}`, timestamps as epoch seconds, paths as strings.
//!
//! What it does **not** do: read any service's state (the producer fills the views), or serve
//! Windows' `svc_encrypted_password` beyond passing it through. With
//! [`SupervisorView::redact`] (`HAB_FEAT_REDACT_HTTP`) service objects leave out `cfg`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};
use warren_ring::{CensusElectionStatus, PackageIdent};

use crate::butterfly::table_json;

/// Habitat's default Builder URL (`bldr_url` of a spec loaded without `--url`).
pub const DEFAULT_BLDR_URL: &str = "https://bldr.habitat.sh";
/// Habitat's default channel.
pub const DEFAULT_CHANNEL: &str = "stable";

/// What the supervisor is, shared by all its services (`sys` and `manager_fs_cfg`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SupervisorView {
    /// `sys` of every ServiceQueryModel.
    pub sys: SupervisorSys,
    /// `manager_fs_cfg` of every ServiceQueryModel.
    pub fs: FsCfg,
    /// `HAB_FEAT_REDACT_HTTP`: service objects leave out `cfg` (pair it with
    /// [`crate::ServerConfig::redact`], which closes the routes that show it).
    pub redact: bool,
}

/// The supervisor's `sys` (Habitat's `Sys`; schema `sys_extended`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SupervisorSys {
    /// Supervisor version (`0.1.0/20260101000000` style).
    pub version: String,
    /// This member's id.
    pub member_id: String,
    /// The IP services advertise.
    pub ip: String,
    /// Host name.
    pub hostname: String,
    /// Gossip listen IP.
    pub gossip_ip: String,
    /// Gossip listen port.
    pub gossip_port: u16,
    /// Control gateway IP.
    pub ctl_gateway_ip: String,
    /// Control gateway port.
    pub ctl_gateway_port: u16,
    /// HTTP gateway IP.
    pub http_gateway_ip: String,
    /// HTTP gateway port.
    pub http_gateway_port: u16,
    /// Started as a permanent peer (`-I`).
    pub permanent: bool,
}

impl Default for SupervisorSys {
    /// Habitat's defaults: listeners on `0.0.0.0:9638` (gossip), `0.0.0.0:9631` (HTTP) and
    /// `127.0.0.1:9632` (control), `ip` 127.0.0.1, host name `localhost`, empty version and
    /// member id, not permanent.
    fn default() -> Self {
        SupervisorSys {
            version: String::new(),
            member_id: String::new(),
            ip: "127.0.0.1".into(),
            hostname: "localhost".into(),
            gossip_ip: "0.0.0.0".into(),
            gossip_port: 9638,
            ctl_gateway_ip: "127.0.0.1".into(),
            ctl_gateway_port: 9632,
            http_gateway_ip: "0.0.0.0".into(),
            http_gateway_port: 9631,
            permanent: false,
        }
    }
}

/// The supervisor's state paths (Habitat's `FsCfg`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FsCfg {
    /// `/hab/sup/default`.
    pub sup_root: PathBuf,
    /// `<sup_root>/data`.
    pub data_path: PathBuf,
    /// `<sup_root>/specs`.
    pub specs_path: PathBuf,
    /// `<sup_root>/MEMBER_ID`.
    pub member_id_file: PathBuf,
    /// `<sup_root>/LOCK`.
    pub proc_lock_file: PathBuf,
}

impl FsCfg {
    /// Habitat's layout under `sup_root` (`<fs-root>/hab/sup/default`).
    pub fn new(sup_root: impl Into<PathBuf>) -> Self {
        let sup_root = sup_root.into();
        FsCfg {
            data_path: sup_root.join("data"),
            specs_path: sup_root.join("specs"),
            member_id_file: sup_root.join("MEMBER_ID"),
            proc_lock_file: sup_root.join("LOCK"),
            sup_root,
        }
    }
}

/// The package a service runs (Habitat's `PkgQueryModel`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PkgView {
    /// `origin/name[/version[/release]]`; a plan directory has no release.
    pub ident: PackageIdent,
    /// Runtime dependencies (fully qualified).
    pub deps: Vec<PackageIdent>,
    /// Runtime environment.
    pub env: BTreeMap<String, String>,
    /// Exposed ports.
    pub exposes: Vec<String>,
    /// Export key → configuration path.
    pub exports: BTreeMap<String, String>,
    /// Where the package (or plan) is on disk.
    pub path: PathBuf,
    /// `/hab/svc/<name>`; the `svc_*` paths are derived from it as Habitat does.
    pub svc_path: PathBuf,
    /// User the service runs as.
    pub svc_user: String,
    /// Group the service runs as.
    pub svc_group: String,
    /// Signal that stops the service, without `SIG` (`TERM`).
    pub shutdown_signal: String,
    /// Stop budget before `KILL` (serialized in whole seconds, as Habitat).
    pub shutdown_timeout: Duration,
}

impl PkgView {
    /// A package with Habitat's defaults: no deps, env, exposes or exports; user and group
    /// `hab`; `TERM` with 8 s.
    pub fn new(
        ident: PackageIdent,
        path: impl Into<PathBuf>,
        svc_path: impl Into<PathBuf>,
    ) -> Self {
        PkgView {
            ident,
            deps: Vec::new(),
            env: BTreeMap::new(),
            exposes: Vec::new(),
            exports: BTreeMap::new(),
            path: path.into(),
            svc_path: svc_path.into(),
            svc_user: "hab".to_owned(),
            svc_group: "hab".to_owned(),
            shutdown_signal: "TERM".to_owned(),
            shutdown_timeout: Duration::from_secs(8),
        }
    }
}

/// Service topology (`topology`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Topology {
    /// `"standalone"`.
    #[default]
    Standalone,
    /// `"leader"`.
    Leader,
}

/// Update strategy (`update_strategy`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UpdateStrategy {
    /// `"none"`.
    #[default]
    None,
    /// `"at-once"`.
    AtOnce,
    /// `"rolling"`.
    Rolling,
}

/// Update condition (`update_condition`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UpdateCondition {
    /// `"latest"`.
    #[default]
    Latest,
    /// `"track-channel"`.
    TrackChannel,
}

/// Binding mode (`binding_mode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BindingMode {
    /// `"strict"`.
    #[default]
    Strict,
    /// `"relaxed"`.
    Relaxed,
}

/// What the operator wants (`desired_state`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DesiredState {
    /// `"Up"`.
    #[default]
    Up,
    /// `"Down"`.
    Down,
}

/// Whether the run process is running (`process.state`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ProcessState {
    /// `"down"`.
    #[default]
    Down,
    /// `"up"`.
    Up,
}

/// A service's health.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Health {
    /// Healthy.
    Ok,
    /// Degraded.
    Warning,
    /// Failing.
    Critical,
    /// Not known (no check yet, or the check could not run).
    #[default]
    Unknown,
}

impl Health {
    /// The `/health` route's spelling: `OK`, `WARNING`, `CRITICAL`, `UNKNOWN`.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Ok => "OK",
            Health::Warning => "WARNING",
            Health::Critical => "CRITICAL",
            Health::Unknown => "UNKNOWN",
        }
    }

    /// The ServiceQueryModel's spelling (`health_check`): `Ok`, `Warning`, `Critical`,
    /// `Unknown`.
    pub fn as_model(self) -> &'static str {
        match self {
            Health::Ok => "Ok",
            Health::Warning => "Warning",
            Health::Critical => "Critical",
            Health::Unknown => "Unknown",
        }
    }

    /// The `/health` route's HTTP status: 200 for OK and WARNING, 503 for CRITICAL, 500 for
    /// UNKNOWN.
    pub fn http_status(self) -> u16 {
        match self {
            Health::Ok | Health::Warning => 200,
            Health::Critical => 503,
            Health::Unknown => 500,
        }
    }
}

/// The last health check (`/services/…/health`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HealthReport {
    /// The verdict.
    pub status: Health,
    /// What the `health-check` hook printed on stdout.
    pub stdout: String,
    /// What it printed on stderr.
    pub stderr: String,
}

/// The run process (`process`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProcessView {
    /// Its pid while running.
    pub pid: Option<u32>,
    /// Running or not.
    pub state: ProcessState,
    /// When it entered `state`, in seconds since the Unix epoch.
    pub state_entered: u64,
}

/// Why the last process ended (`last_process_state`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LastProcessState {
    /// Its pid.
    pub pid: Option<u32>,
    /// Habitat's reason (`run_hook_failed`, `app_config_updated`, `package_updated`, …).
    pub termination_reason: String,
    /// When, in seconds since the Unix epoch.
    pub terminated_at: u64,
}

/// Restart backoff (`restart_config`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RestartConfig {
    /// First backoff.
    pub min_backoff_period: Duration,
    /// Largest backoff.
    pub max_backoff_period: Duration,
    /// Time up after which the backoff resets.
    pub cooldown_period: Duration,
}

impl Default for RestartConfig {
    /// Habitat's defaults: 0, 0 and 300 s.
    fn default() -> Self {
        RestartConfig {
            min_backoff_period: Duration::ZERO,
            max_backoff_period: Duration::ZERO,
            cooldown_period: Duration::from_secs(300),
        }
    }
}

/// A package's declared bind (`all_pkg_binds[]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PkgBind {
    /// The bind name.
    pub service: String,
    /// Export keys the bound group must provide.
    pub exports: Vec<String>,
}

/// One hook as loaded (`hooks.<name>`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HookView {
    /// Where the rendered hook is (`/hab/svc/<name>/hooks/<hook>`).
    pub render_pair: PathBuf,
    /// `/hab/svc/<name>/logs/<hook>.stdout.log`.
    pub stdout_log_path: PathBuf,
    /// `/hab/svc/<name>/logs/<hook>.stderr.log`.
    pub stderr_log_path: PathBuf,
}

impl HookView {
    /// The standard paths of hook `file_name` (e.g. `health-check`) under `svc_path`.
    pub fn at(svc_path: &Path, file_name: &str) -> Self {
        let logs = svc_path.join("logs");
        HookView {
            render_pair: svc_path.join("hooks").join(file_name),
            stdout_log_path: logs.join(format!("{file_name}.stdout.log")),
            stderr_log_path: logs.join(format!("{file_name}.stderr.log")),
        }
    }
}

/// The hooks a service has (`hooks`); `None` is JSON `null`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HookTable {
    /// `health_check`.
    pub health_check: Option<HookView>,
    /// `init`.
    pub init: Option<HookView>,
    /// `file_updated`.
    pub file_updated: Option<HookView>,
    /// `reconfigure`.
    pub reconfigure: Option<HookView>,
    /// `suitability`.
    pub suitability: Option<HookView>,
    /// `run`.
    pub run: Option<HookView>,
    /// `post_run`.
    pub post_run: Option<HookView>,
    /// `post_stop`.
    pub post_stop: Option<HookView>,
}

/// Everything the gateway reports about one loaded service.
///
/// Build it with [`ServiceView::new`] (Habitat's defaults) and set what the service runtime
/// knows. Every field maps to one ServiceQueryModel key of the same name unless its doc says
/// otherwise.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceView {
    /// `service.group[@org]`: also the key of `/services/{svc}/{group}[/{org}]`.
    pub service_group: String,
    /// `pkg`.
    pub pkg: PkgView,
    /// `spec_ident` and `spec_identifier`: the ident the service was loaded as.
    pub spec_ident: PackageIdent,
    /// `spec_file`: `<specs_path>/<name>.spec`.
    pub spec_file: PathBuf,
    /// `topology`.
    pub topology: Topology,
    /// `update_strategy`.
    pub update_strategy: UpdateStrategy,
    /// `update_condition`.
    pub update_condition: UpdateCondition,
    /// `binding_mode`.
    pub binding_mode: BindingMode,
    /// `binds`: `"name:service.group[@org]"`.
    pub binds: Vec<String>,
    /// `all_pkg_binds`: the package's required and optional binds.
    pub all_pkg_binds: Vec<PkgBind>,
    /// `bldr_url`.
    pub bldr_url: String,
    /// `channel`.
    pub channel: String,
    /// `config_from`.
    pub config_from: Option<PathBuf>,
    /// `desired_state`.
    pub desired_state: DesiredState,
    /// `process`.
    pub process: ProcessView,
    /// `last_process_state`.
    pub last_process_state: Option<LastProcessState>,
    /// `health_check` (the status) and the `/health` route (all three fields).
    pub health: HealthReport,
    /// `health_check_interval`.
    pub health_check_interval: Duration,
    /// `initialized`.
    pub initialized: bool,
    /// `last_election_status`.
    pub last_election_status: CensusElectionStatus,
    /// `restart_count`.
    pub restart_count: u64,
    /// `next_restart_at`, in seconds since the Unix epoch.
    pub next_restart_at: Option<u64>,
    /// `restart_config`.
    pub restart_config: RestartConfig,
    /// `hooks`.
    pub hooks: HookTable,
    /// `cfg` and the `/config` route: the merged configuration in force.
    pub cfg: toml::Table,
    /// `user_config_updated`.
    pub user_config_updated: bool,
    /// `svc_encrypted_password` (Windows only in Habitat).
    pub svc_encrypted_password: Option<String>,
}

impl ServiceView {
    /// A service of `pkg` in `service_group` with Habitat's defaults: standalone, strict,
    /// no binds, the default Builder URL and channel, desired Up, process down, health
    /// Unknown, a 30 s health-check interval, not initialized, no election, default restart
    /// config, no hooks, empty cfg; `spec_ident` is `pkg.ident` and `spec_file` is empty.
    pub fn new(service_group: impl Into<String>, pkg: PkgView) -> Self {
        ServiceView {
            service_group: service_group.into(),
            spec_ident: pkg.ident.clone(),
            spec_file: PathBuf::new(),
            pkg,
            topology: Topology::Standalone,
            update_strategy: UpdateStrategy::None,
            update_condition: UpdateCondition::Latest,
            binding_mode: BindingMode::Strict,
            binds: Vec::new(),
            all_pkg_binds: Vec::new(),
            bldr_url: DEFAULT_BLDR_URL.to_owned(),
            channel: DEFAULT_CHANNEL.to_owned(),
            config_from: None,
            desired_state: DesiredState::Up,
            process: ProcessView::default(),
            last_process_state: None,
            health: HealthReport::default(),
            health_check_interval: Duration::from_secs(30),
            initialized: false,
            last_election_status: CensusElectionStatus::None,
            restart_count: 0,
            next_restart_at: None,
            restart_config: RestartConfig::default(),
            hooks: HookTable::default(),
            cfg: toml::Table::new(),
            user_config_updated: false,
            svc_encrypted_password: None,
        }
    }

    /// Ready for `/readyz`: the process is up and health is OK or WARNING.
    pub fn is_ready(&self) -> bool {
        self.process.state == ProcessState::Up
            && matches!(self.health.status, Health::Ok | Health::Warning)
    }
}

/// Habitat's `ServiceQueryModel` JSON for one service.
pub fn query_model(sup: &SupervisorView, s: &ServiceView) -> Value {
    let process = &s.process;
    json!({
        "all_pkg_binds": s.all_pkg_binds.iter().map(|b| json!({
            "service": b.service,
            "exports": b.exports,
        })).collect::<Vec<_>>(),
        "binding_mode": match s.binding_mode {
            BindingMode::Strict => "strict",
            BindingMode::Relaxed => "relaxed",
        },
        "binds": s.binds,
        "bldr_url": s.bldr_url,
        "cfg": table_json(&s.cfg),
        "channel": s.channel,
        "config_from": s.config_from.as_deref().map(path_str),
        "desired_state": match s.desired_state {
            DesiredState::Up => "Up",
            DesiredState::Down => "Down",
        },
        "health_check": s.health.status.as_model(),
        "hooks": hooks_json(&s.hooks),
        "initialized": s.initialized,
        "last_election_status": s.last_election_status.as_json(),
        "manager_fs_cfg": {
            "sup_root": path_str(&sup.fs.sup_root),
            "data_path": path_str(&sup.fs.data_path),
            "specs_path": path_str(&sup.fs.specs_path),
            "member_id_file": path_str(&sup.fs.member_id_file),
            "proc_lock_file": path_str(&sup.fs.proc_lock_file),
        },
        "pkg": pkg_json(&s.pkg),
        "process": {
            "pid": process.pid,
            "state": match process.state {
                ProcessState::Up => "up",
                ProcessState::Down => "down",
            },
            "state_entered": process.state_entered,
        },
        "last_process_state": s.last_process_state.as_ref().map(|l| json!({
            "pid": l.pid,
            "termination_reason": l.termination_reason,
            "terminated_at": l.terminated_at,
        })),
        "next_restart_at": s.next_restart_at,
        "restart_count": s.restart_count,
        "restart_config": {
            "min_backoff_period": duration_json(s.restart_config.min_backoff_period),
            "max_backoff_period": duration_json(s.restart_config.max_backoff_period),
            "cooldown_period": duration_json(s.restart_config.cooldown_period),
        },
        "service_group": s.service_group,
        "spec_file": path_str(&s.spec_file),
        "spec_ident": ident_json(&s.spec_ident),
        "spec_identifier": s.spec_ident.to_string(),
        "svc_encrypted_password": s.svc_encrypted_password,
        "health_check_interval": duration_json(s.health_check_interval),
        "sys": {
            "version": sup.sys.version,
            "member_id": sup.sys.member_id,
            "ip": sup.sys.ip,
            "hostname": sup.sys.hostname,
            "gossip_ip": sup.sys.gossip_ip,
            "gossip_port": sup.sys.gossip_port,
            "ctl_gateway_ip": sup.sys.ctl_gateway_ip,
            "ctl_gateway_port": sup.sys.ctl_gateway_port,
            "http_gateway_ip": sup.sys.http_gateway_ip,
            "http_gateway_port": sup.sys.http_gateway_port,
            "permanent": sup.sys.permanent,
        },
        "topology": match s.topology {
            Topology::Standalone => "standalone",
            Topology::Leader => "leader",
        },
        "update_strategy": match s.update_strategy {
            UpdateStrategy::None => "none",
            UpdateStrategy::AtOnce => "at-once",
            UpdateStrategy::Rolling => "rolling",
        },
        "update_condition": match s.update_condition {
            UpdateCondition::Latest => "latest",
            UpdateCondition::TrackChannel => "track-channel",
        },
        "user_config_updated": s.user_config_updated,
    })
}

/// The `/services/…/health` body: `{"status", "stdout", "stderr"}`.
pub fn health_json(h: &HealthReport) -> Value {
    json!({ "status": h.status.as_str(), "stdout": h.stdout, "stderr": h.stderr })
}

fn pkg_json(p: &PkgView) -> Value {
    let svc = |sub: &str| path_str(&p.svc_path.join(sub));
    json!({
        "ident": p.ident.to_string(),
        "origin": p.ident.origin,
        "name": p.ident.name,
        "version": p.ident.version.as_deref().unwrap_or_default(),
        "release": p.ident.release.as_deref().unwrap_or_default(),
        "deps": p.deps.iter().map(ident_json).collect::<Vec<_>>(),
        "dependencies": p.deps.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "env": p.env,
        "exposes": p.exposes,
        "exports": p.exports,
        "path": path_str(&p.path),
        "svc_path": path_str(&p.svc_path),
        "svc_config_path": svc("config"),
        "svc_config_install_path": svc("config_install"),
        "svc_data_path": svc("data"),
        "svc_files_path": svc("files"),
        "svc_static_path": svc("static"),
        "svc_var_path": svc("var"),
        "svc_pid_file": svc("PID"),
        "svc_run": svc("run"),
        "svc_user": p.svc_user,
        "svc_group": p.svc_group,
        "shutdown_signal": p.shutdown_signal,
        "shutdown_timeout": p.shutdown_timeout.as_secs(),
    })
}

fn hooks_json(h: &HookTable) -> Value {
    let hook = |v: &Option<HookView>| {
        v.as_ref().map_or(Value::Null, |v| {
            json!({
                "render_pair": path_str(&v.render_pair),
                "stdout_log_path": path_str(&v.stdout_log_path),
                "stderr_log_path": path_str(&v.stderr_log_path),
            })
        })
    };
    json!({
        "health_check": hook(&h.health_check),
        "init": hook(&h.init),
        "file_updated": hook(&h.file_updated),
        "reconfigure": hook(&h.reconfigure),
        "suitability": hook(&h.suitability),
        "run": hook(&h.run),
        "post_run": hook(&h.post_run),
        "post_stop": hook(&h.post_stop),
    })
}

fn ident_json(i: &PackageIdent) -> Value {
    json!({ "origin": i.origin, "name": i.name, "version": i.version, "release": i.release })
}

fn duration_json(d: Duration) -> Value {
    json!({ "secs": d.as_secs(), "nanos": d.subsec_nanos() })
}

fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// One service's pre-serialized documents.
#[derive(Clone, Debug)]
pub(crate) struct ServiceDoc {
    /// The ServiceQueryModel.
    pub(crate) model: Bytes,
    /// The merged configuration.
    pub(crate) config: Bytes,
    /// `{"status","stdout","stderr"}`.
    pub(crate) health: Bytes,
    /// The `/health` route's HTTP status.
    pub(crate) health_status: u16,
}

/// Every service's documents, serialized once: what [`crate::Snapshot::services`] holds.
///
/// The default has no services and is ready.
#[derive(Clone, Debug)]
pub struct ServiceDocs {
    list: Bytes,
    by_group: HashMap<String, ServiceDoc>,
    ready: bool,
}

impl Default for ServiceDocs {
    fn default() -> Self {
        ServiceDocs {
            list: Bytes::from_static(b"[]"),
            by_group: HashMap::new(),
            ready: true,
        }
    }
}

impl ServiceDocs {
    /// Serializes every service (in the order given, which is the order of `/services`). A
    /// service group given twice is listed twice, and its own routes serve the last one.
    pub fn build(sup: &SupervisorView, services: &[ServiceView]) -> Self {
        let mut list = Vec::with_capacity(services.len());
        let mut by_group = HashMap::with_capacity(services.len());
        for s in services {
            let mut model = query_model(sup, s);
            if sup.redact
                && let Some(m) = model.as_object_mut()
            {
                m.remove("cfg");
            }
            by_group.insert(
                s.service_group.clone(),
                ServiceDoc {
                    model: to_bytes(&model),
                    config: to_bytes(&table_json(&s.cfg)),
                    health: to_bytes(&health_json(&s.health)),
                    health_status: s.health.status.http_status(),
                },
            );
            list.push(model);
        }
        ServiceDocs {
            list: to_bytes(&Value::Array(list)),
            by_group,
            ready: services.iter().all(ServiceView::is_ready),
        }
    }

    /// Every service is up with health OK or WARNING (true when there are none).
    pub fn is_ready(&self) -> bool {
        self.ready
    }

    /// How many distinct service groups are loaded.
    pub fn len(&self) -> usize {
        self.by_group.len()
    }

    /// No service is loaded.
    pub fn is_empty(&self) -> bool {
        self.by_group.is_empty()
    }

    /// The `/services` array.
    pub(crate) fn list(&self) -> &Bytes {
        &self.list
    }

    /// One service's documents.
    pub(crate) fn get(&self, service_group: &str) -> Option<&ServiceDoc> {
        self.by_group.get(service_group)
    }
}

/// Serializes a document; a `Value` always serializes, but never panic: fall back to `null`.
pub(crate) fn to_bytes(doc: &Value) -> Bytes {
    serde_json::to_vec(doc).map_or_else(
        |e| {
            tracing::error!(error = %e, "cannot serialize a gateway document");
            Bytes::from_static(b"null")
        },
        Bytes::from,
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn keys(v: &Value) -> Vec<&str> {
        let mut k: Vec<&str> = v
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        k.sort_unstable();
        k
    }

    fn sup() -> SupervisorView {
        SupervisorView {
            sys: SupervisorSys {
                version: "0.1.0".into(),
                member_id: "m".into(),
                ip: "10.0.0.1".into(),
                hostname: "h".into(),
                ..SupervisorSys::default()
            },
            fs: FsCfg::new("/hab/sup/default"),
            redact: false,
        }
    }

    fn view() -> ServiceView {
        let ident = PackageIdent::parse("core/redis/7.2.4/20240101000000").unwrap();
        ServiceView::new(
            "redis.default",
            PkgView::new(
                ident,
                "/hab/pkgs/core/redis/7.2.4/20240101000000",
                "/hab/svc/redis",
            ),
        )
    }

    #[test]
    fn model_has_habitats_keys() {
        let v = query_model(&sup(), &view());
        assert_eq!(
            keys(&v),
            [
                "all_pkg_binds",
                "binding_mode",
                "binds",
                "bldr_url",
                "cfg",
                "channel",
                "config_from",
                "desired_state",
                "health_check",
                "health_check_interval",
                "hooks",
                "initialized",
                "last_election_status",
                "last_process_state",
                "manager_fs_cfg",
                "next_restart_at",
                "pkg",
                "process",
                "restart_config",
                "restart_count",
                "service_group",
                "spec_file",
                "spec_ident",
                "spec_identifier",
                "svc_encrypted_password",
                "sys",
                "topology",
                "update_condition",
                "update_strategy",
                "user_config_updated",
            ]
        );
        assert_eq!(v["bldr_url"], DEFAULT_BLDR_URL);
        assert_eq!(v["channel"], DEFAULT_CHANNEL);
        assert_eq!(v["pkg"]["svc_pid_file"], "/hab/svc/redis/PID");
        assert_eq!(
            v["manager_fs_cfg"]["member_id_file"],
            "/hab/sup/default/MEMBER_ID"
        );
        assert_eq!(
            v["restart_config"]["cooldown_period"],
            json!({"secs": 300, "nanos": 0})
        );
        assert_eq!(keys(&v["hooks"]).len(), 8);
    }

    #[test]
    fn readiness_needs_every_service_up_and_healthy() {
        let mut up = view();
        up.process.state = ProcessState::Up;
        up.health.status = Health::Warning;
        assert!(ServiceDocs::build(&sup(), &[up.clone()]).is_ready());
        let mut down = up.clone();
        down.process.state = ProcessState::Down;
        assert!(!ServiceDocs::build(&sup(), &[up.clone(), down]).is_ready());
        let mut critical = up.clone();
        critical.health.status = Health::Critical;
        assert!(!ServiceDocs::build(&sup(), &[critical]).is_ready());
        assert!(ServiceDocs::build(&sup(), &[]).is_ready());
        assert!(ServiceDocs::default().is_ready());
    }
}
