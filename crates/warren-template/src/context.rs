//! The render context: the data a template sees, under exactly Habitat's key names (spec §8.2,
//! census members as in §7.3).
//!
//! The input types ([`SysInfo`], [`PkgInfo`], [`CensusGroup`], [`CensusMember`]) are plain data
//! that the service layer fills from the ring and the plan; this module only derives the views
//! templates expect (`svc.members` = active members, `svc.first` = leader or first member,
//! `bind.<name>` = `{first, leader, members}`) and serializes them with Habitat's key names and
//! order. It does not decide membership, elections, binds or configuration layering.
//!
//! `cfg` tables are `toml::Table`s because configuration and exports are TOML everywhere else in
//! Habitat. They reach templates as JSON, with one deliberate difference from Habitat: a TOML
//! datetime becomes its TOML text (`1979-05-27T07:32:00Z`) instead of serde's private wrapper
//! object, which rendered as `[object]`.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

/// A package identifier, `origin/name[/version[/release]]`.
///
/// Serializes as Habitat's `{origin, name, version, release}` object (absent parts are `null`);
/// `Display` gives the slash-separated form used by `pkg.ident` and a member's `package`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct PackageIdent {
    /// Origin, e.g. `core`.
    pub origin: String,
    /// Package name, e.g. `redis`.
    pub name: String,
    /// Version, e.g. `7.2.4`, if known.
    pub version: Option<String>,
    /// Release timestamp, e.g. `20240101000000`, if known.
    pub release: Option<String>,
}

impl PackageIdent {
    /// A fully qualified identifier.
    pub fn new(origin: &str, name: &str, version: &str, release: &str) -> Self {
        PackageIdent {
            origin: origin.to_owned(),
            name: name.to_owned(),
            version: Some(version.to_owned()),
            release: Some(release.to_owned()),
        }
    }

    /// Parses `origin/name`, `origin/name/version` or `origin/name/version/release`.
    /// Returns `None` for anything else (fewer than two or more than four parts, an empty part).
    pub fn parse(s: &str) -> Option<Self> {
        let parts: Vec<&str> = s.split('/').collect();
        if !(2..=4).contains(&parts.len()) || parts.iter().any(|p| p.is_empty()) {
            return None;
        }
        let part = |i: usize| parts.get(i).map(|p| (*p).to_owned());
        Some(PackageIdent {
            origin: part(0)?,
            name: part(1)?,
            version: part(2),
            release: part(3),
        })
    }

    /// Whether this identifier satisfies `wanted`: same origin and name, and the same version and
    /// release wherever `wanted` names one (Habitat's `satisfies`).
    pub fn satisfies(&self, wanted: &PackageIdent) -> bool {
        fn part_ok(have: &Option<String>, want: &Option<String>) -> bool {
            want.is_none() || have == want
        }
        self.origin == wanted.origin
            && self.name == wanted.name
            && part_ok(&self.version, &wanted.version)
            && part_ok(&self.release, &wanted.release)
    }

    /// Where the package is installed: `<fs_root>/hab/pkgs/<origin>/<name>/<version>/<release>`
    /// (only the parts this identifier has).
    pub fn install_path(&self, fs_root: &Path) -> PathBuf {
        let mut path = fs_root.join("hab/pkgs").join(&self.origin).join(&self.name);
        if let Some(v) = &self.version {
            path.push(v);
            if let Some(r) = &self.release {
                path.push(r);
            }
        }
        path
    }
}

impl fmt::Display for PackageIdent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.origin, self.name)?;
        if let Some(v) = &self.version {
            write!(f, "/{v}")?;
            if let Some(r) = &self.release {
                write!(f, "/{r}")?;
            }
        }
        Ok(())
    }
}

/// The supervisor itself: the top-level `sys` key.
///
/// The `*_ip` fields are listen addresses (so often `0.0.0.0`), as in Habitat.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SysInfo {
    /// Supervisor version string.
    pub version: String,
    /// This supervisor's member id.
    pub member_id: String,
    /// The address services advertise (`--sys-ip-address` or the detected outbound address).
    pub ip: IpAddr,
    /// Host name.
    pub hostname: String,
    /// Gossip listen address.
    pub gossip_ip: IpAddr,
    /// Gossip listen port.
    pub gossip_port: u16,
    /// HTTP gateway listen address.
    pub http_gateway_ip: IpAddr,
    /// HTTP gateway listen port.
    pub http_gateway_port: u16,
    /// Control gateway listen address.
    pub ctl_gateway_ip: IpAddr,
    /// Control gateway listen port.
    pub ctl_gateway_port: u16,
    /// Whether this supervisor is a permanent peer.
    pub permanent: bool,
}

impl Default for SysInfo {
    /// Habitat's defaults: listeners on 9638 (gossip), 9631 (HTTP) and 127.0.0.1:9632
    /// (control), `ip` 127.0.0.1, host name `localhost`, empty version and member id.
    fn default() -> Self {
        let any = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
        let local = IpAddr::V4(Ipv4Addr::LOCALHOST);
        SysInfo {
            version: String::new(),
            member_id: String::new(),
            ip: local,
            hostname: "localhost".to_owned(),
            gossip_ip: any,
            gossip_port: 9638,
            http_gateway_ip: any,
            http_gateway_port: 9631,
            ctl_gateway_ip: local,
            ctl_gateway_port: 9632,
            permanent: false,
        }
    }
}

impl SysInfo {
    /// This supervisor as it appears in its own Service rumor (a member's `sys`).
    pub fn member_sys(&self) -> MemberSys {
        MemberSys {
            ip: self.ip.to_string(),
            hostname: self.hostname.clone(),
            gossip_ip: self.gossip_ip.to_string(),
            gossip_port: u32::from(self.gossip_port),
            http_gateway_ip: self.http_gateway_ip.to_string(),
            http_gateway_port: u32::from(self.http_gateway_port),
            ctl_gateway_ip: self.ctl_gateway_ip.to_string(),
            ctl_gateway_port: u32::from(self.ctl_gateway_port),
        }
    }
}

/// A census member's `sys`, as carried by its Service rumor (strings and `u32`s, as on the wire).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MemberSys {
    /// Advertised address.
    pub ip: String,
    /// Host name.
    pub hostname: String,
    /// Gossip address (Habitat overwrites it from the member list).
    pub gossip_ip: String,
    /// Gossip port (Habitat overwrites it from the member list).
    pub gossip_port: u32,
    /// HTTP gateway address.
    pub http_gateway_ip: String,
    /// HTTP gateway port.
    pub http_gateway_port: u32,
    /// Control gateway address.
    pub ctl_gateway_ip: String,
    /// Control gateway port.
    pub ctl_gateway_port: u32,
}

/// The running package: the top-level `pkg` key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PkgInfo {
    /// Fully qualified identifier; gives `ident`, `origin`, `name`, `version`, `release`.
    pub ident: PackageIdent,
    /// Transitive runtime dependencies (what `pkgPathFor` searches).
    pub deps: Vec<PackageIdent>,
    /// Runtime environment, including `PATH`.
    pub env: BTreeMap<String, String>,
    /// Exposed ports (`pkg_exposes`).
    pub exposes: Vec<String>,
    /// Exports: export key → dotted path into the configuration (`pkg_exports`).
    pub exports: BTreeMap<String, String>,
    /// Install directory.
    pub path: PathBuf,
    /// `/hab/svc/<name>`.
    pub svc_path: PathBuf,
    /// `/hab/svc/<name>/config`.
    pub svc_config_path: PathBuf,
    /// `/hab/svc/<name>/data`.
    pub svc_data_path: PathBuf,
    /// `/hab/svc/<name>/files`.
    pub svc_files_path: PathBuf,
    /// `/hab/svc/<name>/static`.
    pub svc_static_path: PathBuf,
    /// `/hab/svc/<name>/var`.
    pub svc_var_path: PathBuf,
    /// `/hab/svc/<name>/PID`.
    pub svc_pid_file: PathBuf,
    /// `/hab/svc/<name>/run`.
    pub svc_run: PathBuf,
    /// User the service runs as.
    pub svc_user: String,
    /// Group the service runs as.
    pub svc_group: String,
    /// `/hab/svc/<name>/config_install`: present only in the install-hook context.
    pub svc_config_install_path: Option<PathBuf>,
}

impl PkgInfo {
    /// A package with Habitat's standard paths under `fs_root` (`/` on a normal host), user and
    /// group `hab`, and no dependencies, environment, exposes or exports.
    pub fn new(ident: PackageIdent, fs_root: &Path) -> Self {
        let svc_path = fs_root.join("hab/svc").join(&ident.name);
        PkgInfo {
            path: ident.install_path(fs_root),
            svc_config_path: svc_path.join("config"),
            svc_data_path: svc_path.join("data"),
            svc_files_path: svc_path.join("files"),
            svc_static_path: svc_path.join("static"),
            svc_var_path: svc_path.join("var"),
            svc_pid_file: svc_path.join("PID"),
            svc_run: svc_path.join("run"),
            svc_path,
            svc_user: "hab".to_owned(),
            svc_group: "hab".to_owned(),
            ident,
            deps: Vec::new(),
            env: BTreeMap::new(),
            exposes: Vec::new(),
            exports: BTreeMap::new(),
            svc_config_install_path: None,
        }
    }
}

impl Serialize for PkgInfo {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("ident", &self.ident.to_string())?;
        map.serialize_entry("origin", &self.ident.origin)?;
        map.serialize_entry("name", &self.ident.name)?;
        map.serialize_entry("version", self.ident.version.as_deref().unwrap_or(""))?;
        map.serialize_entry("release", self.ident.release.as_deref().unwrap_or(""))?;
        map.serialize_entry("deps", &self.deps)?;
        map.serialize_entry("env", &self.env)?;
        map.serialize_entry("exposes", &self.exposes)?;
        map.serialize_entry("exports", &self.exports)?;
        map.serialize_entry("path", &self.path)?;
        map.serialize_entry("svc_path", &self.svc_path)?;
        map.serialize_entry("svc_config_path", &self.svc_config_path)?;
        if let Some(p) = &self.svc_config_install_path {
            map.serialize_entry("svc_config_install_path", p)?;
        }
        map.serialize_entry("svc_data_path", &self.svc_data_path)?;
        map.serialize_entry("svc_files_path", &self.svc_files_path)?;
        map.serialize_entry("svc_static_path", &self.svc_static_path)?;
        map.serialize_entry("svc_var_path", &self.svc_var_path)?;
        map.serialize_entry("svc_pid_file", &self.svc_pid_file)?;
        map.serialize_entry("svc_run", &self.svc_run)?;
        map.serialize_entry("svc_user", &self.svc_user)?;
        map.serialize_entry("svc_group", &self.svc_group)?;
        map.end()
    }
}

/// A member's health as the failure detector sees it; templates get four booleans.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Health {
    /// Answering probes.
    #[default]
    Alive,
    /// Not answering; not yet confirmed dead.
    Suspect,
    /// Confirmed dead.
    Confirmed,
    /// Departed from the ring for good.
    Departed,
}

impl Health {
    /// Alive or suspect: the members `svc.members` and `bind.<name>.members` list.
    pub fn is_active(self) -> bool {
        matches!(self, Health::Alive | Health::Suspect)
    }
}

/// State of an election as the census sees it; templates get three booleans
/// (`*_is_running`, `*_is_no_quorum`, `*_is_finished`), all false for `None`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ElectionStatus {
    /// No election (standalone topology, or none started yet).
    #[default]
    None,
    /// Votes are being gathered.
    Running,
    /// Stalled: not enough members for a quorum.
    NoQuorum,
    /// A leader was elected.
    Finished,
}

impl ElectionStatus {
    fn flags(self) -> (bool, bool, bool) {
        (
            self == ElectionStatus::Running,
            self == ElectionStatus::NoQuorum,
            self == ElectionStatus::Finished,
        )
    }
}

/// One member of a service group (§7.3): the shape of `svc.me`, every `svc.members[]` element,
/// `svc.leader`, `svc.first`, `svc.update_leader` and the members of a bind.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CensusMember {
    /// Member id.
    pub member_id: String,
    /// Package the member runs (from its Service rumor).
    pub pkg: Option<PackageIdent>,
    /// `pkg_incarnation` from the Service rumor (rolling updates).
    pub pkg_incarnation: u64,
    /// Service part of the service group.
    pub service: String,
    /// Group part of the service group.
    pub group: String,
    /// Organization part of the service group, if any.
    pub org: Option<String>,
    /// Habitat sets this for every member found in the member list (a quirk, §7.3).
    pub persistent: bool,
    /// Topology leader.
    pub leader: bool,
    /// Topology follower.
    pub follower: bool,
    /// Update (rolling) leader.
    pub update_leader: bool,
    /// Update (rolling) follower.
    pub update_follower: bool,
    /// Topology election state, as this member's census entry records it.
    pub election: ElectionStatus,
    /// Update election state, as this member's census entry records it.
    pub update_election: ElectionStatus,
    /// Addresses and ports from the Service rumor.
    pub sys: MemberSys,
    /// Health flags.
    pub health: Health,
    /// The member's exported configuration.
    pub cfg: toml::Table,
}

impl Serialize for CensusMember {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // The field order is Habitat's; serde_json sorts keys anyway, other formats may not.
        #[derive(Serialize)]
        struct View<'a> {
            member_id: &'a str,
            pkg: &'a Option<PackageIdent>,
            pkg_incarnation: u64,
            package: Option<String>,
            service: &'a str,
            group: &'a str,
            org: &'a Option<String>,
            persistent: bool,
            leader: bool,
            follower: bool,
            update_leader: bool,
            update_follower: bool,
            election_is_running: bool,
            election_is_no_quorum: bool,
            election_is_finished: bool,
            update_election_is_running: bool,
            update_election_is_no_quorum: bool,
            update_election_is_finished: bool,
            sys: &'a MemberSys,
            alive: bool,
            suspect: bool,
            confirmed: bool,
            departed: bool,
            cfg: TomlTable<'a>,
        }
        let (running, no_quorum, finished) = self.election.flags();
        let (u_running, u_no_quorum, u_finished) = self.update_election.flags();
        View {
            member_id: &self.member_id,
            pkg: &self.pkg,
            pkg_incarnation: self.pkg_incarnation,
            package: self.pkg.as_ref().map(ToString::to_string),
            service: &self.service,
            group: &self.group,
            org: &self.org,
            persistent: self.persistent,
            leader: self.leader,
            follower: self.follower,
            update_leader: self.update_leader,
            update_follower: self.update_follower,
            election_is_running: running,
            election_is_no_quorum: no_quorum,
            election_is_finished: finished,
            update_election_is_running: u_running,
            update_election_is_no_quorum: u_no_quorum,
            update_election_is_finished: u_finished,
            sys: &self.sys,
            alive: self.health == Health::Alive,
            suspect: self.health == Health::Suspect,
            confirmed: self.health == Health::Confirmed,
            departed: self.health == Health::Departed,
            cfg: TomlTable(&self.cfg, KeyOrder::Stored),
        }
        .serialize(serializer)
    }
}

/// A service group as the census knows it: the input from which `svc` and `bind.<name>` are
/// derived.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CensusGroup {
    /// Service part of the group name.
    pub service: String,
    /// Group part of the group name.
    pub group: String,
    /// Organization, if any.
    pub org: Option<String>,
    /// Topology election state.
    pub election: ElectionStatus,
    /// Update election state.
    pub update_election: ElectionStatus,
    /// Topology leader's member id (Habitat sets it only once the election finished).
    pub leader_id: Option<String>,
    /// Update leader's member id (likewise).
    pub update_leader_id: Option<String>,
    /// Every member the census knows, in any order and of any health.
    pub population: Vec<CensusMember>,
}

impl CensusGroup {
    /// A group whose only member is this supervisor, elected leader (election finished), with no
    /// update election: what a supervisor alone in its group sees. The member exports
    /// `pkg.exports` taken from `cfg`.
    pub fn lone(sys: &SysInfo, pkg: &PkgInfo, cfg: &toml::Table, group: &str) -> Self {
        Self::lone_with(lone_member(sys, pkg, cfg, group))
    }

    fn lone_with(me: CensusMember) -> Self {
        CensusGroup {
            service: me.service.clone(),
            group: me.group.clone(),
            org: None,
            election: ElectionStatus::Finished,
            update_election: ElectionStatus::None,
            leader_id: Some(me.member_id.clone()),
            update_leader_id: None,
            population: vec![me],
        }
    }

    /// `service.group` or `service.group@org`.
    pub fn name(&self) -> String {
        match &self.org {
            Some(org) => format!("{}.{}@{org}", self.service, self.group),
            None => format!("{}.{}", self.service, self.group),
        }
    }

    /// The member with this id.
    pub fn member(&self, member_id: &str) -> Option<&CensusMember> {
        self.population.iter().find(|m| m.member_id == member_id)
    }

    /// The topology leader, whatever its health.
    pub fn leader(&self) -> Option<&CensusMember> {
        self.leader_id.as_deref().and_then(|id| self.member(id))
    }

    /// The update leader, whatever its health.
    pub fn update_leader(&self) -> Option<&CensusMember> {
        self.update_leader_id
            .as_deref()
            .and_then(|id| self.member(id))
    }

    /// Every member in member-id order.
    pub fn members_by_id(&self) -> Vec<&CensusMember> {
        let mut all: Vec<&CensusMember> = self.population.iter().collect();
        all.sort_by(|a, b| a.member_id.cmp(&b.member_id));
        all
    }

    /// Alive or suspect members, in member-id order.
    pub fn active_members(&self) -> Vec<&CensusMember> {
        let mut active = self.members_by_id();
        active.retain(|m| m.health.is_active());
        active
    }

    /// Habitat's `first`: the leader if there is one, otherwise the first member in member-id
    /// order, which may not be alive.
    pub fn first(&self) -> Option<&CensusMember> {
        self.leader()
            .or_else(|| self.members_by_id().into_iter().next())
    }
}

/// This supervisor as the only, elected member of `group`.
fn lone_member(sys: &SysInfo, pkg: &PkgInfo, cfg: &toml::Table, group: &str) -> CensusMember {
    CensusMember {
        member_id: sys.member_id.clone(),
        pkg: Some(pkg.ident.clone()),
        pkg_incarnation: 0,
        service: pkg.ident.name.clone(),
        group: group.to_owned(),
        org: None,
        persistent: true,
        leader: true,
        follower: false,
        update_leader: false,
        update_follower: false,
        election: ElectionStatus::Finished,
        update_election: ElectionStatus::None,
        sys: sys.member_sys(),
        health: Health::Alive,
        cfg: exported_cfg(&pkg.exports, cfg),
    }
}

/// Why a context could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    /// `svc.me` must exist: the supervisor's own member is missing from its group's census.
    #[error(
        "member {member_id} is not in the census of {group}; a service's own Service rumor must \
         be in the census before its templates are rendered"
    )]
    MissingMe {
        /// The member id that was looked for.
        member_id: String,
        /// The service group, `service.group[@org]`.
        group: String,
    },
}

/// The `svc` key: the service's own group.
#[derive(Clone, Debug, PartialEq)]
pub struct SvcContext {
    /// Service name.
    pub service: String,
    /// Group name.
    pub group: String,
    /// Organization, if any.
    pub org: Option<String>,
    /// Topology election state.
    pub election: ElectionStatus,
    /// Update election state.
    pub update_election: ElectionStatus,
    /// This supervisor's member.
    pub me: CensusMember,
    /// Active (alive or suspect) members in member-id order.
    pub members: Vec<CensusMember>,
    /// The topology leader, if one is elected.
    pub leader: Option<CensusMember>,
    /// The leader if there is one, otherwise the first member in member-id order.
    pub first: CensusMember,
    /// The update leader, if one is elected.
    pub update_leader: Option<CensusMember>,
}

impl SvcContext {
    /// The view of `group` from the member `me`.
    pub fn new(group: &CensusGroup, me: &str) -> Result<Self, ContextError> {
        let me = group
            .member(me)
            .ok_or_else(|| ContextError::MissingMe {
                member_id: me.to_owned(),
                group: group.name(),
            })?
            .clone();
        Ok(Self::with_me(group, me))
    }

    /// `me` must belong to `group`'s population.
    fn with_me(group: &CensusGroup, me: CensusMember) -> Self {
        // `me` is in the population, so `first` always exists; the fallback is never taken.
        let first = group.first().cloned().unwrap_or_else(|| me.clone());
        SvcContext {
            service: group.service.clone(),
            group: group.group.clone(),
            org: group.org.clone(),
            election: group.election,
            update_election: group.update_election,
            members: group.active_members().into_iter().cloned().collect(),
            leader: group.leader().cloned(),
            update_leader: group.update_leader().cloned(),
            first,
            me,
        }
    }
}

impl Serialize for SvcContext {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (running, no_quorum, finished) = self.election.flags();
        let (u_running, u_no_quorum, u_finished) = self.update_election.flags();
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("service", &self.service)?;
        map.serialize_entry("group", &self.group)?;
        map.serialize_entry("org", &self.org)?;
        map.serialize_entry("election_is_running", &running)?;
        map.serialize_entry("election_is_no_quorum", &no_quorum)?;
        map.serialize_entry("election_is_finished", &finished)?;
        map.serialize_entry("update_election_is_running", &u_running)?;
        map.serialize_entry("update_election_is_no_quorum", &u_no_quorum)?;
        map.serialize_entry("update_election_is_finished", &u_finished)?;
        map.serialize_entry("me", &self.me)?;
        map.serialize_entry("members", &self.members)?;
        map.serialize_entry("leader", &self.leader)?;
        map.serialize_entry("first", &self.first)?;
        map.serialize_entry("update_leader", &self.update_leader)?;
        map.end()
    }
}

/// One `bind.<name>` entry: the bound group's leader, first member and active members.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BindContext {
    /// The leader if there is one, otherwise the first member in member-id order.
    pub first: Option<CensusMember>,
    /// The topology leader, if one is elected.
    pub leader: Option<CensusMember>,
    /// Active (alive or suspect) members in member-id order.
    pub members: Vec<CensusMember>,
}

impl BindContext {
    /// The view of a bound group. Only satisfied binds belong in the context (§7.5); choosing
    /// them is the caller's job.
    pub fn new(group: &CensusGroup) -> Self {
        BindContext {
            first: group.first().cloned(),
            leader: group.leader().cloned(),
            members: group.active_members().into_iter().cloned().collect(),
        }
    }
}

/// Everything a template sees. Serializes to exactly the top-level keys `sys`, `pkg`, `cfg`,
/// `svc` and `bind`.
#[derive(Clone, Debug, PartialEq)]
pub struct RenderContext {
    /// This supervisor.
    pub sys: SysInfo,
    /// The running package.
    pub pkg: PkgInfo,
    /// The merged configuration (§8.3).
    pub cfg: toml::Table,
    /// The service's own group.
    pub svc: SvcContext,
    /// Satisfied binds by bind name.
    pub bind: BTreeMap<String, BindContext>,
}

impl RenderContext {
    /// The context of a supervisor alone in the group `default`: one member, itself, leader
    /// after a finished election, no binds. This is what `warren plan render` shows.
    pub fn lone(sys: SysInfo, pkg: PkgInfo, cfg: toml::Table) -> Self {
        let me = lone_member(&sys, &pkg, &cfg, "default");
        let svc = SvcContext::with_me(&CensusGroup::lone_with(me.clone()), me);
        RenderContext {
            sys,
            pkg,
            cfg,
            svc,
            bind: BTreeMap::new(),
        }
    }

    /// The context as the JSON value templates are rendered against.
    pub fn to_json(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::to_value(self)
    }
}

impl Serialize for RenderContext {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(5))?;
        map.serialize_entry("sys", &self.sys)?;
        map.serialize_entry("pkg", &self.pkg)?;
        map.serialize_entry("cfg", &TomlTable(&self.cfg, KeyOrder::CfgRoot))?;
        map.serialize_entry("svc", &self.svc)?;
        map.serialize_entry("bind", &self.bind)?;
        map.end()
    }
}

/// The exported configuration (§7.4): each export key mapped to the value at its dotted path in
/// `cfg`; keys whose path is missing are left out.
pub fn exported_cfg(exports: &BTreeMap<String, String>, cfg: &toml::Table) -> toml::Table {
    let mut out = toml::Table::new();
    for (key, path) in exports {
        let mut parts = path.split('.');
        let mut value = parts.next().and_then(|first| cfg.get(first));
        for part in parts {
            value = value.and_then(|v| v.as_table()).and_then(|t| t.get(part));
        }
        if let Some(v) = value {
            out.insert(key.clone(), v.clone());
        }
    }
    out
}

/// The order in which Habitat hands a TOML table's keys to templates. Habitat keeps every
/// table in document order (its `toml` and `serde_json` are built with `preserve_order`), but
/// its serializers move some kinds of value to the back; `{{#each}}`, `toJson`, `toToml` and
/// `toYaml` see the result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyOrder {
    /// As stored (a gossiped member's `cfg` at its top level).
    Stored,
    /// The `toml` crate's own rule for a table value: plain values and arrays without tables
    /// first, then arrays holding tables, then tables; each group in stored order.
    ValuesFirst,
    /// The rule of the supervisor's merged `cfg` root: values that are neither arrays nor
    /// tables, then every array, then tables.
    CfgRoot,
}

/// `table`'s entries in `order`.
pub fn ordered_entries(table: &toml::Table, order: KeyOrder) -> Vec<(&String, &toml::Value)> {
    let holds_table = |v: &toml::Value| {
        v.as_array()
            .is_some_and(|a| a.iter().any(toml::Value::is_table))
    };
    let group = |v: &toml::Value| -> u8 {
        match order {
            KeyOrder::Stored => 0,
            KeyOrder::ValuesFirst if v.is_table() => 2,
            KeyOrder::ValuesFirst if holds_table(v) => 1,
            KeyOrder::ValuesFirst => 0,
            KeyOrder::CfgRoot if v.is_table() => 2,
            KeyOrder::CfgRoot if v.is_array() => 1,
            KeyOrder::CfgRoot => 0,
        }
    };
    let mut entries: Vec<_> = table.iter().collect();
    // A stable sort keeps the stored order inside each group.
    entries.sort_by_key(|(_, v)| group(v));
    entries
}

/// Serializes a TOML table for templates in Habitat's key order (the root in `.1`, nested
/// tables [`KeyOrder::ValuesFirst`]), except that datetimes become their TOML text.
struct TomlTable<'a>(&'a toml::Table, KeyOrder);

struct TomlValue<'a>(&'a toml::Value);

impl Serialize for TomlTable<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(
            ordered_entries(self.0, self.1)
                .into_iter()
                .map(|(k, v)| (k, TomlValue(v))),
        )
    }
}

impl Serialize for TomlValue<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            toml::Value::String(s) => serializer.serialize_str(s),
            toml::Value::Integer(i) => serializer.serialize_i64(*i),
            toml::Value::Float(f) => serializer.serialize_f64(*f),
            toml::Value::Boolean(b) => serializer.serialize_bool(*b),
            toml::Value::Datetime(d) => serializer.collect_str(d),
            toml::Value::Array(a) => serializer.collect_seq(a.iter().map(TomlValue)),
            toml::Value::Table(t) => TomlTable(t, KeyOrder::ValuesFirst).serialize(serializer),
        }
    }
}

/// A TOML document as `hab plan render` turns it into JSON: every table in
/// [`KeyOrder::ValuesFirst`], datetimes as the `toml` crate serializes them.
pub fn toml_document_to_json(table: &toml::Table) -> Result<serde_json::Value, serde_json::Error> {
    serde_json::to_value(DocTable(table))
}

struct DocTable<'a>(&'a toml::Table);

struct DocValue<'a>(&'a toml::Value);

impl Serialize for DocTable<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(
            ordered_entries(self.0, KeyOrder::ValuesFirst)
                .into_iter()
                .map(|(k, v)| (k, DocValue(v))),
        )
    }
}

impl Serialize for DocValue<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            toml::Value::Array(a) => serializer.collect_seq(a.iter().map(DocValue)),
            toml::Value::Table(t) => DocTable(t).serialize(serializer),
            leaf => leaf.serialize(serializer),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use serde_json::Value;

    fn keys(v: &Value) -> Vec<&str> {
        let mut k: Vec<&str> = v
            .as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect();
        k.sort_unstable();
        k
    }

    fn sorted(mut k: Vec<&'static str>) -> Vec<&'static str> {
        k.sort_unstable();
        k
    }

    fn redis_pkg() -> PkgInfo {
        let mut pkg = PkgInfo::new(
            PackageIdent::new("core", "redis", "7.2.4", "20240101000000"),
            Path::new("/"),
        );
        pkg.exports.insert("port".into(), "port".into());
        pkg.exports.insert("missing".into(), "no.such.key".into());
        pkg
    }

    fn member(id: &str, health: Health) -> CensusMember {
        CensusMember {
            member_id: id.into(),
            service: "redis".into(),
            group: "default".into(),
            health,
            ..CensusMember::default()
        }
    }

    #[test]
    fn context_key_sets_are_habitats() {
        let cfg: toml::Table = toml::from_str("port = 6379\n[tls]\nenabled = false\n").unwrap();
        let ctx = RenderContext::lone(SysInfo::default(), redis_pkg(), cfg);
        let json = ctx.to_json().unwrap();

        assert_eq!(
            keys(&json),
            sorted(vec!["sys", "pkg", "cfg", "svc", "bind"])
        );
        assert_eq!(
            keys(&json["sys"]),
            sorted(vec![
                "version",
                "member_id",
                "ip",
                "hostname",
                "gossip_ip",
                "gossip_port",
                "http_gateway_ip",
                "http_gateway_port",
                "ctl_gateway_ip",
                "ctl_gateway_port",
                "permanent",
            ])
        );
        assert_eq!(
            keys(&json["pkg"]),
            sorted(vec![
                "ident",
                "origin",
                "name",
                "version",
                "release",
                "deps",
                "env",
                "exposes",
                "exports",
                "path",
                "svc_path",
                "svc_config_path",
                "svc_data_path",
                "svc_files_path",
                "svc_static_path",
                "svc_var_path",
                "svc_pid_file",
                "svc_run",
                "svc_user",
                "svc_group",
            ])
        );
        assert_eq!(
            keys(&json["svc"]),
            sorted(vec![
                "service",
                "group",
                "org",
                "election_is_running",
                "election_is_no_quorum",
                "election_is_finished",
                "update_election_is_running",
                "update_election_is_no_quorum",
                "update_election_is_finished",
                "me",
                "members",
                "leader",
                "first",
                "update_leader",
            ])
        );
        let member_keys = sorted(vec![
            "member_id",
            "pkg",
            "pkg_incarnation",
            "package",
            "service",
            "group",
            "org",
            "persistent",
            "leader",
            "follower",
            "update_leader",
            "update_follower",
            "election_is_running",
            "election_is_no_quorum",
            "election_is_finished",
            "update_election_is_running",
            "update_election_is_no_quorum",
            "update_election_is_finished",
            "sys",
            "alive",
            "suspect",
            "confirmed",
            "departed",
            "cfg",
        ]);
        for path in ["me", "first", "leader"] {
            assert_eq!(keys(&json["svc"][path]), member_keys, "svc.{path}");
        }
        assert_eq!(keys(&json["svc"]["members"][0]), member_keys);
        assert_eq!(
            keys(&json["svc"]["me"]["pkg"]),
            sorted(vec!["origin", "name", "version", "release"])
        );
        assert_eq!(
            keys(&json["svc"]["me"]["sys"]),
            sorted(vec![
                "ip",
                "hostname",
                "gossip_ip",
                "gossip_port",
                "http_gateway_ip",
                "http_gateway_port",
                "ctl_gateway_ip",
                "ctl_gateway_port",
            ])
        );
        assert_eq!(json["bind"], serde_json::json!({}));
    }

    #[test]
    fn lone_supervisor_is_an_elected_leader_exporting_its_cfg() {
        let cfg: toml::Table = toml::from_str("port = 6379\nbind = \"0.0.0.0\"\n").unwrap();
        let json = RenderContext::lone(SysInfo::default(), redis_pkg(), cfg)
            .to_json()
            .unwrap();
        let svc = &json["svc"];
        assert_eq!(svc["election_is_finished"], true);
        assert_eq!(svc["election_is_running"], false);
        assert_eq!(svc["update_election_is_finished"], false);
        assert_eq!(svc["me"]["leader"], true);
        assert_eq!(svc["me"]["follower"], false);
        assert_eq!(svc["me"]["alive"], true);
        assert_eq!(svc["me"]["package"], "core/redis/7.2.4/20240101000000");
        assert_eq!(svc["leader"]["member_id"], svc["me"]["member_id"]);
        assert_eq!(svc["first"]["member_id"], svc["me"]["member_id"]);
        assert_eq!(svc["update_leader"], Value::Null);
        assert_eq!(svc["members"].as_array().map(Vec::len), Some(1));
        assert_eq!(svc["group"], "default");
        assert_eq!(svc["service"], "redis");
        // Only exported keys, and only those whose path exists.
        assert_eq!(svc["me"]["cfg"], serde_json::json!({ "port": 6379 }));
        assert_eq!(json["cfg"]["bind"], "0.0.0.0");
        assert_eq!(json["pkg"]["ident"], "core/redis/7.2.4/20240101000000");
        assert_eq!(json["pkg"]["svc_config_path"], "/hab/svc/redis/config");
        assert_eq!(
            json["pkg"]["path"],
            "/hab/pkgs/core/redis/7.2.4/20240101000000"
        );
        assert_eq!(json["sys"]["gossip_port"], 9638);
        assert_eq!(json["sys"]["ip"], "127.0.0.1");
    }

    #[test]
    fn svc_members_are_active_only_and_first_falls_back_to_member_id_order() {
        let group = CensusGroup {
            service: "redis".into(),
            group: "default".into(),
            population: vec![
                member("c", Health::Alive),
                member("a", Health::Confirmed),
                member("d", Health::Departed),
                member("b", Health::Suspect),
            ],
            ..CensusGroup::default()
        };
        let svc = SvcContext::new(&group, "c").unwrap();
        let ids: Vec<&str> = svc.members.iter().map(|m| m.member_id.as_str()).collect();
        assert_eq!(ids, ["b", "c"]);
        // No leader: first is the lowest member id, even though it is confirmed dead.
        assert_eq!(svc.first.member_id, "a");
        assert_eq!(svc.leader, None);

        let led = CensusGroup {
            leader_id: Some("c".into()),
            election: ElectionStatus::Finished,
            ..group.clone()
        };
        let svc = SvcContext::new(&led, "b").unwrap();
        assert_eq!(svc.first.member_id, "c");
        assert_eq!(svc.leader.map(|m| m.member_id), Some("c".to_owned()));

        let bind = BindContext::new(&group);
        assert_eq!(bind.first.map(|m| m.member_id), Some("a".to_owned()));
        assert_eq!(bind.members.len(), 2);

        let err = SvcContext::new(&group, "zz").unwrap_err();
        assert!(err.to_string().contains("zz"), "{err}");
        assert!(err.to_string().contains("redis.default"), "{err}");
    }

    #[test]
    fn health_and_election_flags_are_exclusive() {
        for (health, flag) in [
            (Health::Alive, "alive"),
            (Health::Suspect, "suspect"),
            (Health::Confirmed, "confirmed"),
            (Health::Departed, "departed"),
        ] {
            let json = serde_json::to_value(member("a", health)).unwrap();
            for other in ["alive", "suspect", "confirmed", "departed"] {
                assert_eq!(json[other], other == flag, "{health:?} {other}");
            }
        }
        let m = CensusMember {
            election: ElectionStatus::NoQuorum,
            update_election: ElectionStatus::Running,
            ..member("a", Health::Alive)
        };
        let json = serde_json::to_value(m).unwrap();
        assert_eq!(json["election_is_no_quorum"], true);
        assert_eq!(json["election_is_running"], false);
        assert_eq!(json["update_election_is_running"], true);
        assert_eq!(json["package"], Value::Null);
    }

    #[test]
    fn cfg_datetimes_render_as_toml_text() {
        let cfg: toml::Table =
            toml::from_str("when = 1979-05-27T07:32:00Z\n[a]\nb = [1.5]\n").unwrap();
        let json = serde_json::to_value(TomlTable(&cfg, KeyOrder::CfgRoot)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({ "when": "1979-05-27T07:32:00Z", "a": { "b": [1.5] } })
        );
    }

    fn object_keys(v: &Value) -> Vec<&str> {
        v.as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect()
    }

    /// A made-up document whose keys are out of alphabetical order and mix plain values,
    /// plain arrays, arrays of tables and tables.
    const MIXED: &str = "zeta = 1\n\
        [mid]\nq = 2\nb = 1\n\
        [[rows]]\nn = 1\n";

    fn mixed() -> toml::Table {
        let mut t: toml::Table = toml::from_str(MIXED).unwrap();
        // Keys added after the tables, as a later layer would add them.
        t.insert("list".into(), toml::Value::Array(vec![1.into()]));
        t.insert("alpha".into(), "x".into());
        t
    }

    #[test]
    fn the_cfg_root_puts_values_then_arrays_then_tables_each_in_stored_order() {
        let json = serde_json::to_value(TomlTable(&mixed(), KeyOrder::CfgRoot)).unwrap();
        assert_eq!(object_keys(&json), ["zeta", "alpha", "rows", "list", "mid"]);
        assert_eq!(object_keys(&json["mid"]), ["q", "b"]);
    }

    #[test]
    fn a_toml_document_puts_plain_arrays_with_values_and_tables_last() {
        let json = toml_document_to_json(&mixed()).unwrap();
        assert_eq!(object_keys(&json), ["zeta", "list", "alpha", "rows", "mid"]);
    }

    #[test]
    fn a_member_cfg_root_keeps_its_stored_order() {
        let json = serde_json::to_value(TomlTable(&mixed(), KeyOrder::Stored)).unwrap();
        assert_eq!(object_keys(&json), ["zeta", "mid", "rows", "list", "alpha"]);
    }

    #[test]
    fn the_document_form_keeps_the_toml_crate_datetime_shape() {
        let cfg: toml::Table = toml::from_str("when = 1979-05-27\n").unwrap();
        let json = toml_document_to_json(&cfg).unwrap();
        assert!(json["when"].is_object(), "{json}");
    }

    #[test]
    fn package_idents_parse_and_satisfy() {
        let full = PackageIdent::new("core", "acl", "2.2.52", "20161208223311");
        assert_eq!(
            PackageIdent::parse("core/acl/2.2.52/20161208223311"),
            Some(full.clone())
        );
        let wanted = PackageIdent::parse("core/acl").unwrap();
        assert!(full.satisfies(&wanted));
        assert!(full.satisfies(&PackageIdent::parse("core/acl/2.2.52").unwrap()));
        assert!(!full.satisfies(&PackageIdent::parse("core/acl/2.3").unwrap()));
        assert!(!full.satisfies(&PackageIdent::parse("other/acl").unwrap()));
        for bad in ["", "core", "core/", "/acl", "a/b/c/d/e"] {
            assert_eq!(PackageIdent::parse(bad), None, "{bad:?}");
        }
        assert_eq!(
            full.install_path(Path::new("/root")),
            PathBuf::from("/root/hab/pkgs/core/acl/2.2.52/20161208223311")
        );
        assert_eq!(wanted.to_string(), "core/acl");
    }
}
