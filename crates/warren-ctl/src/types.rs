//! The plain Rust requests and replies of the control API, and their conversion to and from the
//! generated protobuf types.
//!
//! These are what [`ControlHandler`](crate::ControlHandler) receives and
//! [`CtlClient`](crate::CtlClient) returns; the prost types stay private to this crate.
//! Conversions from the wire check what the wire cannot (an unknown enum number, a relative
//! path, a missing name) and say which field was wrong; checks that need the supervisor's state
//! (does the service exist, is the version new) are the handler's. Nothing here does I/O.

use std::fmt;
use std::path::PathBuf;

use crate::error::CtlError;
use crate::proto;

/// Service topology (`-t/--topology`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Topology {
    /// Every member runs on its own.
    #[default]
    Standalone,
    /// One elected leader, the rest followers.
    Leader,
}

/// Update strategy (`-s/--strategy`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum UpdateStrategy {
    /// No updates.
    #[default]
    None,
    /// Every member at once.
    AtOnce,
    /// One member at a time.
    Rolling,
}

/// Whether a service waits for its binds (`--binding-mode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum BindingMode {
    /// Start only once every bind is satisfied (Habitat's default).
    #[default]
    Strict,
    /// Start regardless.
    Relaxed,
}

/// What the supervisor wants a service to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DesiredState {
    /// Running.
    Up,
    /// Stopped.
    Down,
}

/// Whether a service's process runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProcessState {
    /// Running.
    Up,
    /// Not running.
    Down,
}

/// The last health check result (Habitat's `health_check` exit codes 0–3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Health {
    /// Exit code 0.
    Ok,
    /// Exit code 1.
    Warning,
    /// Exit code 2.
    Critical,
    /// Exit code 3, any other outcome, or no check yet.
    #[default]
    Unknown,
}

impl fmt::Display for Topology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Topology::Standalone => "standalone",
            Topology::Leader => "leader",
        })
    }
}

impl fmt::Display for UpdateStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UpdateStrategy::None => "none",
            UpdateStrategy::AtOnce => "at-once",
            UpdateStrategy::Rolling => "rolling",
        })
    }
}

impl fmt::Display for BindingMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BindingMode::Strict => "strict",
            BindingMode::Relaxed => "relaxed",
        })
    }
}

impl fmt::Display for DesiredState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DesiredState::Up => "up",
            DesiredState::Down => "down",
        })
    }
}

impl fmt::Display for ProcessState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProcessState::Up => "up",
            ProcessState::Down => "down",
        })
    }
}

impl fmt::Display for Health {
    /// Lowercase, as the other columns of the status table.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Health::Ok => "ok",
            Health::Warning => "warning",
            Health::Critical => "critical",
            Health::Unknown => "unknown",
        })
    }
}

/// A bind, `NAME:SERVICE.GROUP[@ORG]`.
///
/// Not parsed or checked here beyond non-empty parts: the CLI parses the flag (for example with
/// `warren_service::census_view::Bind::parse`) and the handler checks it against the package.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Bind {
    /// The bind's name (`bind.<name>` in templates).
    pub name: String,
    /// The bound service group, `SERVICE.GROUP[@ORG]`.
    pub service_group: String,
}

/// `warren svc load` (and the load flags of design §3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadRequest {
    /// A plan directory or installed package directory **on the supervisor's host**. The server
    /// refuses a relative path; [`CtlClient::load`](crate::CtlClient::load) makes a relative path
    /// absolute against the client's working directory before sending it.
    pub plan_path: PathBuf,
    /// Service group name (`--group`, default `default`).
    pub group: String,
    /// Organization (`--org`).
    pub org: Option<String>,
    /// `-t/--topology`.
    pub topology: Topology,
    /// `-s/--strategy`.
    pub strategy: UpdateStrategy,
    /// `--bind`, repeatable.
    pub binds: Vec<Bind>,
    /// `--binding-mode`.
    pub binding_mode: BindingMode,
    /// `--health-check-interval` in seconds (default 30; never 0).
    pub health_check_interval_secs: u64,
    /// `--shutdown-timeout` in seconds; `None` keeps the plan's.
    pub shutdown_timeout_secs: Option<u32>,
    /// `--config-from DIR` on the supervisor's host (absolute on the wire, as `plan_path`).
    pub config_from: Option<PathBuf>,
    /// `-f/--force`: replace the service if it is loaded already.
    pub force: bool,
    /// A package identifier (`ORIGIN/NAME[/VERSION[/RELEASE]]`) the supervisor resolves under
    /// its `hab/pkgs`; when set, `plan_path` is not used (and may be empty).
    pub ident: Option<String>,
}

/// Habitat's default `--health-check-interval`, in seconds.
pub const DEFAULT_HEALTH_CHECK_INTERVAL_SECS: u64 = 30;

/// Habitat's default service group name.
pub const DEFAULT_GROUP: &str = "default";

impl LoadRequest {
    /// A request with Habitat's defaults for every flag.
    pub fn new(plan_path: impl Into<PathBuf>) -> Self {
        LoadRequest {
            plan_path: plan_path.into(),
            group: DEFAULT_GROUP.to_owned(),
            org: None,
            topology: Topology::default(),
            strategy: UpdateStrategy::default(),
            binds: Vec::new(),
            binding_mode: BindingMode::default(),
            health_check_interval_secs: DEFAULT_HEALTH_CHECK_INTERVAL_SECS,
            shutdown_timeout_secs: None,
            config_from: None,
            force: false,
            ident: None,
        }
    }
}

/// `warren svc unload SVC`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnloadRequest {
    /// The service name (the package name, e.g. `redis`).
    pub service: String,
    /// `--shutdown-timeout` in seconds; `None` keeps the plan's.
    pub shutdown_timeout_secs: Option<u32>,
}

/// `warren svc start SVC`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartRequest {
    /// The service name.
    pub service: String,
}

/// `warren svc stop SVC`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StopRequest {
    /// The service name.
    pub service: String,
    /// `--shutdown-timeout` in seconds; `None` keeps the plan's.
    pub shutdown_timeout_secs: Option<u32>,
}

/// `warren svc status [SVC]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatusRequest {
    /// One service by name, or `None` for all. An unknown name is the handler's
    /// [`CtlError::NotFound`], as Habitat.
    pub service: Option<String>,
}

/// One service's status: a row of `warren svc status`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceStatus {
    /// Package identifier, `ORIGIN/NAME/VERSION/RELEASE` (shorter for a plan without a release).
    pub package: String,
    /// `SERVICE.GROUP[@ORG]`.
    pub service_group: String,
    /// The service's topology. Habitat's `type` column always says `standalone`; Warren prints
    /// this.
    pub topology: Topology,
    /// Desired state.
    pub desired: DesiredState,
    /// Process state.
    pub process: ProcessState,
    /// Seconds since the process entered its current state, if known.
    pub elapsed_secs: Option<u64>,
    /// Process id while running.
    pub pid: Option<u32>,
    /// Last health check result.
    pub health: Health,
}

/// `warren config apply SVC.GROUP VERSION FILE`: gossip a configuration change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigApplyRequest {
    /// `SERVICE.GROUP[@ORG]`. Its syntax is checked by the handler.
    pub service_group: String,
    /// Becomes the rumor's incarnation; the handler refuses one not higher than the group's
    /// current gossiped config incarnation ([`CtlError::stale_version`]).
    pub version: u64,
    /// The TOML document. Checked on both sides with [`validate_toml`](crate::validate_toml)
    /// and the [`MAX_PAYLOAD_BYTES`](crate::MAX_PAYLOAD_BYTES) limit; a handler receives only
    /// valid UTF-8 TOML, or with `encrypted` a BOX-1 text ([`validate_box`](crate::validate_box)).
    pub toml: Vec<u8>,
    /// `toml` is a BOX-1 box (`--user`).
    pub encrypted: bool,
}

/// `warren file upload SVC.GROUP VERSION FILE`: gossip a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileUploadRequest {
    /// `SERVICE.GROUP[@ORG]`. Its syntax is checked by the handler.
    pub service_group: String,
    /// Becomes the rumor's incarnation.
    pub version: u64,
    /// A plain file name (checked on both sides with
    /// [`validate_filename`](crate::validate_filename)).
    pub filename: String,
    /// At most [`MAX_PAYLOAD_BYTES`](crate::MAX_PAYLOAD_BYTES).
    pub content: Vec<u8>,
    /// `content` is a BOX-1 box (`--user`).
    pub encrypted: bool,
}

/// `warren sup depart MEMBER_ID`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DepartRequest {
    /// The member to depart. Its format is the handler's to check.
    pub member_id: String,
}

/// Habitat's `SvcUpdate` (`hab svc update`): change some spec fields of a loaded service.
/// Every field left `None` keeps the service's current value (Habitat's `merge_svc_update`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UpdateRequest {
    /// The service name (the package name).
    pub service: String,
    /// `--group`.
    pub group: Option<String>,
    /// `-t/--topology`.
    pub topology: Option<Topology>,
    /// `-s/--strategy`.
    pub strategy: Option<UpdateStrategy>,
    /// `--bind`: the whole list, replacing the current one.
    pub binds: Option<Vec<Bind>>,
    /// `--binding-mode`.
    pub binding_mode: Option<BindingMode>,
    /// `--health-check-interval` in seconds (never 0).
    pub health_check_interval_secs: Option<u64>,
    /// `--shutdown-timeout` in seconds.
    pub shutdown_timeout_secs: Option<u32>,
}

/// The outcome of a request that changes something.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reply {
    /// A line for the operator (the CLI prints it when non-empty), e.g. `Loaded redis.default`.
    pub message: String,
}

impl Reply {
    /// A reply carrying `message`.
    pub fn new(message: impl Into<String>) -> Self {
        Reply {
            message: message.into(),
        }
    }
}

// ---- conversions: Rust → wire (infallible; the client checks paths before) ----

impl From<Topology> for proto::Topology {
    fn from(t: Topology) -> Self {
        match t {
            Topology::Standalone => proto::Topology::Standalone,
            Topology::Leader => proto::Topology::Leader,
        }
    }
}

impl From<UpdateStrategy> for proto::UpdateStrategy {
    fn from(s: UpdateStrategy) -> Self {
        match s {
            UpdateStrategy::None => proto::UpdateStrategy::None,
            UpdateStrategy::AtOnce => proto::UpdateStrategy::AtOnce,
            UpdateStrategy::Rolling => proto::UpdateStrategy::Rolling,
        }
    }
}

impl From<BindingMode> for proto::BindingMode {
    fn from(m: BindingMode) -> Self {
        match m {
            BindingMode::Strict => proto::BindingMode::Strict,
            BindingMode::Relaxed => proto::BindingMode::Relaxed,
        }
    }
}

impl From<DesiredState> for proto::DesiredState {
    fn from(s: DesiredState) -> Self {
        match s {
            DesiredState::Up => proto::DesiredState::Up,
            DesiredState::Down => proto::DesiredState::Down,
        }
    }
}

impl From<ProcessState> for proto::ProcessState {
    fn from(s: ProcessState) -> Self {
        match s {
            ProcessState::Up => proto::ProcessState::Up,
            ProcessState::Down => proto::ProcessState::Down,
        }
    }
}

impl From<Health> for proto::Health {
    fn from(h: Health) -> Self {
        match h {
            Health::Ok => proto::Health::Ok,
            Health::Warning => proto::Health::Warning,
            Health::Critical => proto::Health::Critical,
            Health::Unknown => proto::Health::Unknown,
        }
    }
}

impl From<ServiceStatus> for proto::ServiceStatus {
    fn from(s: ServiceStatus) -> Self {
        proto::ServiceStatus {
            package: s.package,
            service_group: s.service_group,
            topology: proto::Topology::from(s.topology).into(),
            desired: proto::DesiredState::from(s.desired).into(),
            process: proto::ProcessState::from(s.process).into(),
            elapsed_secs: s.elapsed_secs,
            pid: s.pid,
            health: proto::Health::from(s.health).into(),
        }
    }
}

impl From<Reply> for proto::Reply {
    fn from(r: Reply) -> Self {
        proto::Reply { message: r.message }
    }
}

impl From<proto::Reply> for Reply {
    fn from(r: proto::Reply) -> Self {
        Reply { message: r.message }
    }
}

/// A path as it travels: UTF-8 text. `what` names the field in the error.
pub(crate) fn path_to_wire(path: &std::path::Path, what: &str) -> Result<String, String> {
    path.to_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("the {what} {} is not valid UTF-8", path.display()))
}

impl LoadRequest {
    /// The wire form; `Err` names a path that is not UTF-8.
    pub(crate) fn to_wire(&self) -> Result<proto::LoadRequest, String> {
        Ok(proto::LoadRequest {
            plan_path: if self.ident.is_some() {
                String::new()
            } else {
                path_to_wire(&self.plan_path, "plan path")?
            },
            ident: self.ident.clone(),
            group: Some(self.group.clone()),
            org: self.org.clone(),
            topology: proto::Topology::from(self.topology).into(),
            strategy: proto::UpdateStrategy::from(self.strategy).into(),
            binds: self
                .binds
                .iter()
                .map(|b| proto::Bind {
                    name: b.name.clone(),
                    service_group: b.service_group.clone(),
                })
                .collect(),
            binding_mode: proto::BindingMode::from(self.binding_mode).into(),
            health_check_interval_secs: Some(self.health_check_interval_secs),
            shutdown_timeout_secs: self.shutdown_timeout_secs,
            config_from: self
                .config_from
                .as_deref()
                .map(|p| path_to_wire(p, "--config-from directory"))
                .transpose()?,
            force: self.force,
        })
    }
}

// ---- conversions: wire → Rust, server side (requests; errors are InvalidArgument) ----

fn invalid(msg: String) -> CtlError {
    CtlError::InvalidArgument(msg)
}

fn required(value: String, field: &str) -> Result<String, CtlError> {
    if value.trim().is_empty() {
        Err(invalid(format!("the request has no {field}")))
    } else {
        Ok(value)
    }
}

fn absolute(path: String, field: &str) -> Result<PathBuf, CtlError> {
    let path = PathBuf::from(required(path, field)?);
    if path.is_absolute() {
        Ok(path)
    } else {
        Err(invalid(format!(
            "the {field} {} is relative; give an absolute path on the supervisor's host",
            path.display()
        )))
    }
}

fn enum_value<E: TryFrom<i32>>(raw: i32, field: &str) -> Result<E, CtlError> {
    E::try_from(raw).map_err(|_| invalid(format!("unknown {field} value {raw}")))
}

impl TryFrom<proto::LoadRequest> for LoadRequest {
    type Error = CtlError;

    fn try_from(r: proto::LoadRequest) -> Result<Self, CtlError> {
        let topology = match enum_value(r.topology, "topology")? {
            proto::Topology::Unspecified | proto::Topology::Standalone => Topology::Standalone,
            proto::Topology::Leader => Topology::Leader,
        };
        let strategy = match enum_value(r.strategy, "update strategy")? {
            proto::UpdateStrategy::Unspecified | proto::UpdateStrategy::None => {
                UpdateStrategy::None
            }
            proto::UpdateStrategy::AtOnce => UpdateStrategy::AtOnce,
            proto::UpdateStrategy::Rolling => UpdateStrategy::Rolling,
        };
        let binding_mode = match enum_value(r.binding_mode, "binding mode")? {
            proto::BindingMode::Unspecified | proto::BindingMode::Strict => BindingMode::Strict,
            proto::BindingMode::Relaxed => BindingMode::Relaxed,
        };
        let health_check_interval_secs = match r.health_check_interval_secs {
            None => DEFAULT_HEALTH_CHECK_INTERVAL_SECS,
            Some(0) => {
                return Err(invalid(
                    "the health check interval must be at least 1 second".to_owned(),
                ));
            }
            Some(n) => n,
        };
        let group = match r.group {
            None => DEFAULT_GROUP.to_owned(),
            Some(g) => required(g, "service group name")?,
        };
        let binds = r
            .binds
            .into_iter()
            .map(|b| {
                let name = required(b.name, "bind name")?;
                let service_group = required(b.service_group, "bind service group")
                    .map_err(|_| invalid(format!("the bind {name:?} has no service group")))?;
                Ok(Bind {
                    name,
                    service_group,
                })
            })
            .collect::<Result<Vec<_>, CtlError>>()?;
        let ident = r.ident.filter(|i| !i.trim().is_empty());
        Ok(LoadRequest {
            plan_path: if ident.is_some() {
                PathBuf::from(r.plan_path)
            } else {
                absolute(r.plan_path, "plan path")?
            },
            ident,
            group,
            org: r.org.filter(|o| !o.is_empty()),
            topology,
            strategy,
            binds,
            binding_mode,
            health_check_interval_secs,
            shutdown_timeout_secs: r.shutdown_timeout_secs,
            config_from: r
                .config_from
                .map(|p| absolute(p, "--config-from directory"))
                .transpose()?,
            force: r.force,
        })
    }
}

impl TryFrom<proto::UnloadRequest> for UnloadRequest {
    type Error = CtlError;

    fn try_from(r: proto::UnloadRequest) -> Result<Self, CtlError> {
        Ok(UnloadRequest {
            service: required(r.service, "service name")?,
            shutdown_timeout_secs: r.shutdown_timeout_secs,
        })
    }
}

impl TryFrom<proto::StartRequest> for StartRequest {
    type Error = CtlError;

    fn try_from(r: proto::StartRequest) -> Result<Self, CtlError> {
        Ok(StartRequest {
            service: required(r.service, "service name")?,
        })
    }
}

impl TryFrom<proto::StopRequest> for StopRequest {
    type Error = CtlError;

    fn try_from(r: proto::StopRequest) -> Result<Self, CtlError> {
        Ok(StopRequest {
            service: required(r.service, "service name")?,
            shutdown_timeout_secs: r.shutdown_timeout_secs,
        })
    }
}

impl TryFrom<proto::StatusRequest> for StatusRequest {
    type Error = CtlError;

    fn try_from(r: proto::StatusRequest) -> Result<Self, CtlError> {
        Ok(StatusRequest {
            service: r.service.map(|s| required(s, "service name")).transpose()?,
        })
    }
}

impl TryFrom<proto::ConfigApplyRequest> for ConfigApplyRequest {
    type Error = CtlError;

    fn try_from(r: proto::ConfigApplyRequest) -> Result<Self, CtlError> {
        let service_group = required(r.service_group, "service group")?;
        crate::validate::check_payload_size(r.toml.len(), "configuration")
            .map_err(CtlError::TooLarge)?;
        if r.encrypted {
            crate::validate::validate_box(&r.toml).map_err(CtlError::InvalidArgument)?;
        } else {
            crate::validate::validate_toml(&r.toml).map_err(CtlError::InvalidArgument)?;
        }
        Ok(ConfigApplyRequest {
            service_group,
            version: r.version,
            toml: r.toml,
            encrypted: r.encrypted,
        })
    }
}

impl TryFrom<proto::FileUploadRequest> for FileUploadRequest {
    type Error = CtlError;

    fn try_from(r: proto::FileUploadRequest) -> Result<Self, CtlError> {
        let service_group = required(r.service_group, "service group")?;
        crate::validate::validate_filename(&r.filename).map_err(CtlError::InvalidArgument)?;
        crate::validate::check_payload_size(r.content.len(), "file").map_err(CtlError::TooLarge)?;
        if r.encrypted {
            crate::validate::validate_box(&r.content).map_err(CtlError::InvalidArgument)?;
        }
        Ok(FileUploadRequest {
            service_group,
            version: r.version,
            filename: r.filename,
            content: r.content,
            encrypted: r.encrypted,
        })
    }
}

impl TryFrom<proto::DepartRequest> for DepartRequest {
    type Error = CtlError;

    fn try_from(r: proto::DepartRequest) -> Result<Self, CtlError> {
        Ok(DepartRequest {
            member_id: required(r.member_id, "member id")?,
        })
    }
}

// ---- conversions: wire → Rust, client side (replies; errors describe a bad reply) ----

impl TryFrom<proto::ServiceStatus> for ServiceStatus {
    type Error = String;

    fn try_from(s: proto::ServiceStatus) -> Result<Self, String> {
        let what = s.service_group.clone();
        let bad = |field: &str, raw: i32| format!("the status of {what} has a bad {field} ({raw})");
        let topology = match proto::Topology::try_from(s.topology) {
            Ok(proto::Topology::Standalone) => Topology::Standalone,
            Ok(proto::Topology::Leader) => Topology::Leader,
            _ => return Err(bad("topology", s.topology)),
        };
        let desired = match proto::DesiredState::try_from(s.desired) {
            Ok(proto::DesiredState::Up) => DesiredState::Up,
            Ok(proto::DesiredState::Down) => DesiredState::Down,
            _ => return Err(bad("desired state", s.desired)),
        };
        let process = match proto::ProcessState::try_from(s.process) {
            Ok(proto::ProcessState::Up) => ProcessState::Up,
            Ok(proto::ProcessState::Down) => ProcessState::Down,
            _ => return Err(bad("process state", s.process)),
        };
        // Health is informational: a value this client does not know reads as unknown.
        let health = match proto::Health::try_from(s.health) {
            Ok(proto::Health::Ok) => Health::Ok,
            Ok(proto::Health::Warning) => Health::Warning,
            Ok(proto::Health::Critical) => Health::Critical,
            _ => Health::Unknown,
        };
        Ok(ServiceStatus {
            package: s.package,
            service_group: s.service_group,
            topology,
            desired,
            process,
            elapsed_secs: s.elapsed_secs,
            pid: s.pid,
            health,
        })
    }
}
