//! Census: the service groups this member knows, shaped as Habitat's census (spec §7.2, §7.3,
//! §10.4), built from one ring member's member list and rumor store.
//!
//! Data only: field names are Habitat's JSON keys so the HTTP API and the template context can
//! expose them unchanged, but this module serializes nothing (the edges convert, and parse each
//! member's `cfg` TOML), renders nothing and decides nothing. Where Habitat has a quirk the
//! census keeps it and says so (`persistent`, `sys.gossip_*`).

use std::collections::BTreeMap;

use crate::election::{ElectionKind, QuorumGap};
use crate::member::{Health, MemberId};
use crate::ring::Ring;
use crate::rumor::{ElectionStatus, Rumor, RumorKey, SysInfo};
use crate::time::Time;

/// A service group's election state as the census shows it (Habitat's `ElectionStatus`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CensusElectionStatus {
    /// No election stored.
    #[default]
    None,
    /// Running (or finished but not yet acted on, under Warren's rules).
    ElectionInProgress,
    /// The candidate lacks quorum.
    ElectionNoQuorum,
    /// Finished: the group has a leader.
    ElectionFinished,
}

impl CensusElectionStatus {
    /// The spelling of `/census` JSON (`"ElectionFinished"`).
    pub fn as_json(self) -> &'static str {
        match self {
            CensusElectionStatus::None => "None",
            CensusElectionStatus::ElectionInProgress => "ElectionInProgress",
            CensusElectionStatus::ElectionNoQuorum => "ElectionNoQuorum",
            CensusElectionStatus::ElectionFinished => "ElectionFinished",
        }
    }

    /// The spelling of logs and `last_election_status` displays (`"finished"`).
    pub fn as_display(self) -> &'static str {
        match self {
            CensusElectionStatus::None => "none",
            CensusElectionStatus::ElectionInProgress => "in-progress",
            CensusElectionStatus::ElectionNoQuorum => "no-quorum",
            CensusElectionStatus::ElectionFinished => "finished",
        }
    }
}

/// A package identifier `origin/name[/version[/release]]`, as a Service rumor carries it.
///
/// `warren_template::PackageIdent` is the same four fields with the render context's
/// serialization and install paths; the sans-IO core keeps its own so that it depends on no
/// rendering crate (the census view converts at the edge).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PackageIdent {
    /// Origin.
    pub origin: String,
    /// Name.
    pub name: String,
    /// Version, if given.
    pub version: Option<String>,
    /// Release, if given.
    pub release: Option<String>,
}

impl PackageIdent {
    /// Parses `origin/name[/version[/release]]`; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        let parts: Vec<&str> = s.split('/').collect();
        if !(2..=4).contains(&parts.len()) || parts.iter().any(|p| p.is_empty()) {
            return None;
        }
        Some(PackageIdent {
            origin: parts[0].to_owned(),
            name: parts[1].to_owned(),
            version: parts.get(2).map(|v| (*v).to_owned()),
            release: parts.get(3).map(|v| (*v).to_owned()),
        })
    }
}

impl std::fmt::Display for PackageIdent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.origin, self.name)?;
        if let Some(v) = &self.version {
            write!(f, "/{v}")?;
        }
        if let Some(r) = &self.release {
            write!(f, "/{r}")?;
        }
        Ok(())
    }
}

/// A parsed service group `service.group[@org]` (spec §7.1).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServiceGroup {
    /// The service (package) name.
    pub service: String,
    /// The group.
    pub group: String,
    /// The organization, if any.
    pub org: Option<String>,
}

impl ServiceGroup {
    /// Parses `[app_env#]service.group[@org]`; the legacy `app_env#` prefix is accepted and
    /// dropped. `None` when the text does not match.
    pub fn parse(s: &str) -> Option<Self> {
        let s = match s.split_once('#') {
            Some((env, rest)) if !env.is_empty() && !env.contains('@') => rest,
            Some(_) => return None,
            None => s,
        };
        let (sg, org) = match s.split_once('@') {
            Some((sg, org)) => (sg, Some(org)),
            None => (s, None),
        };
        let (service, group) = sg.split_once('.')?;
        let bad = |p: &str| p.is_empty() || p.contains(['#', '@', '.']);
        if bad(service) || bad(group) || org.is_some_and(bad) {
            return None;
        }
        Some(ServiceGroup {
            service: service.to_owned(),
            group: group.to_owned(),
            org: org.map(str::to_owned),
        })
    }
}

impl std::fmt::Display for ServiceGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.service, self.group)?;
        if let Some(o) = &self.org {
            write!(f, "@{o}")?;
        }
        Ok(())
    }
}

/// One member of a service group (Habitat's `CensusMember`; also `svc.me`, `svc.members[]` and
/// `bind.<name>.members[]` in templates).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CensusMember {
    /// Member id.
    pub member_id: MemberId,
    /// The package, when its ident parses.
    pub pkg: Option<PackageIdent>,
    /// Rolling-update counter.
    pub pkg_incarnation: u64,
    /// The package ident as sent.
    pub package: String,
    /// Service name.
    pub service: String,
    /// Group.
    pub group: String,
    /// Organization.
    pub org: Option<String>,
    /// Habitat quirk: true for every member found in the member list.
    pub persistent: bool,
    /// Leads the topology election.
    pub leader: bool,
    /// Follows a topology leader.
    pub follower: bool,
    /// Leads the update election.
    pub update_leader: bool,
    /// Follows an update leader.
    pub update_follower: bool,
    /// The group's topology election is running.
    pub election_is_running: bool,
    /// The group's topology election lacks quorum.
    pub election_is_no_quorum: bool,
    /// The group's topology election finished.
    pub election_is_finished: bool,
    /// The group's update election is running.
    pub update_election_is_running: bool,
    /// The group's update election lacks quorum.
    pub update_election_is_no_quorum: bool,
    /// The group's update election finished.
    pub update_election_is_finished: bool,
    /// System information; `gossip_ip` and `gossip_port` come from the member list (Habitat).
    pub sys: SysInfo,
    /// Health flags (exactly one is set for a known member; none for an unknown one).
    pub alive: bool,
    /// Suspect.
    pub suspect: bool,
    /// Confirmed.
    pub confirmed: bool,
    /// Departed.
    pub departed: bool,
    /// The member's exported configuration, as the TOML text it gossips.
    pub cfg: String,
}

/// The gossiped configuration of a group (`service_config`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CensusServiceConfig {
    /// Its version.
    pub incarnation: u64,
    /// TOML text (or a BOX-1 text when encrypted).
    pub value: String,
    /// `value` is a BOX-1 box for the service's key (spec §5.2).
    pub encrypted: bool,
}

/// A gossiped file of a group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CensusServiceFile {
    /// File name.
    pub filename: String,
    /// Its version.
    pub incarnation: u64,
    /// Contents (or a BOX-1 text when encrypted).
    pub body: Vec<u8>,
    /// `body` is a BOX-1 box for the service's key (spec §5.2).
    pub encrypted: bool,
}

/// One service group (Habitat's `CensusGroup`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CensusGroup {
    /// `service.group[@org]`.
    pub service_group: String,
    /// Topology election state.
    pub election_status: CensusElectionStatus,
    /// Update election state.
    pub update_election_status: CensusElectionStatus,
    /// Largest `pkg_incarnation` among the members.
    pub pkg_incarnation: u64,
    /// The topology leader, once the election finished.
    pub leader_id: Option<MemberId>,
    /// The gossiped configuration.
    pub service_config: Option<CensusServiceConfig>,
    /// This member's id.
    pub local_member_id: MemberId,
    /// Every member with a Service rumor in the group.
    pub population: BTreeMap<MemberId, CensusMember>,
    /// The update leader, once the update election finished.
    pub update_leader_id: Option<MemberId>,
    /// Files whose version changed since the previous census.
    pub changed_service_files: Vec<String>,
    /// Gossiped files by name.
    pub service_files: BTreeMap<String, CensusServiceFile>,
    /// Warren: why the topology election has no quorum, for a group this member belongs to.
    pub election_quorum: Option<QuorumGap>,
}

impl CensusGroup {
    /// This member's entry, if it belongs to the group.
    pub fn me(&self) -> Option<&CensusMember> {
        self.population.get(&self.local_member_id)
    }

    /// The leader's entry.
    pub fn leader(&self) -> Option<&CensusMember> {
        self.leader_id
            .as_ref()
            .and_then(|id| self.population.get(id))
    }

    /// Alive or suspect members, in member-id order.
    pub fn active_members(&self) -> impl Iterator<Item = &CensusMember> {
        self.population.values().filter(|m| m.alive || m.suspect)
    }
}

/// Change counters of the stores the census is built from (Habitat's `last_*_counter`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CensusCounters {
    /// Service rumors.
    pub last_service_counter: u64,
    /// Election rumors.
    pub last_election_counter: u64,
    /// ElectionUpdate rumors.
    pub last_election_update_counter: u64,
    /// Member records.
    pub last_membership_counter: u64,
    /// ServiceConfig rumors.
    pub last_service_config_counter: u64,
    /// ServiceFile rumors.
    pub last_service_file_counter: u64,
}

/// Every service group this member knows (Habitat's `CensusRing`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CensusRing {
    /// Whether anything changed since the previous census.
    pub changed: bool,
    /// Groups by name.
    pub census_groups: BTreeMap<String, CensusGroup>,
    /// This member's id.
    pub local_member_id: MemberId,
    /// Store counters when it was built.
    pub counters: CensusCounters,
}

fn status_of(ring: &Ring, sg: &str, kind: ElectionKind, now: Time) -> CensusElectionStatus {
    // A leader acting through its own re-run (a change of the electorate being committed) is
    // still the group's leader.
    if ring.leader(sg, kind, now).is_some() {
        return CensusElectionStatus::ElectionFinished;
    }
    match ring.election(sg, kind).map(|e| e.status) {
        None => CensusElectionStatus::None,
        Some(ElectionStatus::Running) => CensusElectionStatus::ElectionInProgress,
        Some(ElectionStatus::NoQuorum) => CensusElectionStatus::ElectionNoQuorum,
        // A result whose leader does not act yet (Warren's confirmation) is still in progress.
        Some(ElectionStatus::Finished) => match ring.leader(sg, kind, now) {
            Some(_) => CensusElectionStatus::ElectionFinished,
            None => CensusElectionStatus::ElectionInProgress,
        },
    }
}

impl CensusRing {
    /// Builds the census of `ring` at `now`. With the `previous` census, `changed` and each
    /// group's `changed_service_files` say what moved since.
    pub fn build(ring: &Ring, now: Time, previous: Option<&CensusRing>) -> CensusRing {
        let me = ring.myself();
        let counters = CensusCounters {
            last_service_counter: ring.rumors().counter("service"),
            last_election_counter: ring.rumors().counter("election"),
            last_election_update_counter: ring.rumors().counter("election_update"),
            last_membership_counter: ring.members().update_counter(),
            last_service_config_counter: ring.rumors().counter("service_config"),
            last_service_file_counter: ring.rumors().counter("service_file"),
        };
        let mut groups: BTreeMap<String, CensusGroup> = BTreeMap::new();
        for (key, entry) in ring.rumors().iter() {
            let sg = match key {
                RumorKey::Service(sg, _)
                | RumorKey::ServiceConfig(sg)
                | RumorKey::ServiceFile(sg, _)
                | RumorKey::Election(sg)
                | RumorKey::ElectionUpdate(sg) => sg,
                _ => continue,
            };
            let group = groups.entry(sg.clone()).or_insert_with(|| {
                let leader_id = ring.leader(sg, ElectionKind::Leader, now).cloned();
                let update_leader_id = ring.leader(sg, ElectionKind::Update, now).cloned();
                CensusGroup {
                    service_group: sg.clone(),
                    election_status: status_of(ring, sg, ElectionKind::Leader, now),
                    update_election_status: status_of(ring, sg, ElectionKind::Update, now),
                    pkg_incarnation: 0,
                    leader_id,
                    service_config: None,
                    local_member_id: me.id.clone(),
                    population: BTreeMap::new(),
                    update_leader_id,
                    changed_service_files: Vec::new(),
                    service_files: BTreeMap::new(),
                    election_quorum: ring.quorum_gap(sg, ElectionKind::Leader, now),
                }
            });
            match &entry.rumor {
                // A withdrawn service is no longer part of the group.
                Rumor::Service(s) if s.withdrawn => {}
                Rumor::Service(s) => {
                    let parsed = ServiceGroup::parse(&s.service_group);
                    let (health, known) = if s.member_id == me.id {
                        let h = if me.departed {
                            Health::Departed
                        } else {
                            Health::Alive
                        };
                        (Some(h), Some(me))
                    } else {
                        match ring.members().get(&s.member_id) {
                            Some(r) => (Some(r.health), Some(&r.member)),
                            None => (None, None),
                        }
                    };
                    let mut sys = s.sys.clone();
                    if let Some(m) = known {
                        sys.gossip_ip = m.address.to_string();
                        sys.gossip_port = u32::from(m.gossip_port);
                    }
                    let es = group.election_status;
                    let us = group.update_election_status;
                    let leader = group.leader_id.as_ref() == Some(&s.member_id);
                    let update_leader = group.update_leader_id.as_ref() == Some(&s.member_id);
                    group.pkg_incarnation = group.pkg_incarnation.max(s.pkg_incarnation);
                    group.population.insert(
                        s.member_id.clone(),
                        CensusMember {
                            member_id: s.member_id.clone(),
                            pkg: PackageIdent::parse(&s.pkg),
                            pkg_incarnation: s.pkg_incarnation,
                            package: s.pkg.clone(),
                            service: parsed
                                .as_ref()
                                .map(|p| p.service.clone())
                                .unwrap_or_default(),
                            group: parsed.as_ref().map(|p| p.group.clone()).unwrap_or_default(),
                            org: parsed.and_then(|p| p.org),
                            persistent: known.is_some(),
                            leader,
                            follower: group.leader_id.is_some() && !leader,
                            update_leader,
                            update_follower: group.update_leader_id.is_some() && !update_leader,
                            election_is_running: es == CensusElectionStatus::ElectionInProgress,
                            election_is_no_quorum: es == CensusElectionStatus::ElectionNoQuorum,
                            election_is_finished: es == CensusElectionStatus::ElectionFinished,
                            update_election_is_running: us
                                == CensusElectionStatus::ElectionInProgress,
                            update_election_is_no_quorum: us
                                == CensusElectionStatus::ElectionNoQuorum,
                            update_election_is_finished: us
                                == CensusElectionStatus::ElectionFinished,
                            sys,
                            alive: health == Some(Health::Alive),
                            suspect: health == Some(Health::Suspect),
                            confirmed: health == Some(Health::Confirmed),
                            departed: health == Some(Health::Departed),
                            cfg: String::from_utf8_lossy(&s.cfg).into_owned(),
                        },
                    );
                }
                Rumor::ServiceConfig(c) => {
                    group.service_config = Some(CensusServiceConfig {
                        incarnation: c.incarnation,
                        value: String::from_utf8_lossy(&c.config).into_owned(),
                        encrypted: c.encrypted,
                    });
                }
                Rumor::ServiceFile(f) => {
                    let before = previous
                        .and_then(|p| p.census_groups.get(sg))
                        .and_then(|g| g.service_files.get(&f.filename))
                        .map(|f| f.incarnation);
                    if before != Some(f.incarnation) {
                        group.changed_service_files.push(f.filename.clone());
                    }
                    group.service_files.insert(
                        f.filename.clone(),
                        CensusServiceFile {
                            filename: f.filename.clone(),
                            incarnation: f.incarnation,
                            body: f.body.clone(),
                            encrypted: f.encrypted,
                        },
                    );
                }
                _ => {}
            }
        }
        let mut census = CensusRing {
            changed: true,
            census_groups: groups,
            local_member_id: me.id.clone(),
            counters,
        };
        if let Some(p) = previous {
            census.changed = p.census_groups != census.census_groups;
        }
        census
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_groups_parse_as_habitat_writes_them() {
        let sg = ServiceGroup::parse("redis.default").unwrap_or_else(|| panic!("parse"));
        assert_eq!(
            (sg.service.as_str(), sg.group.as_str(), sg.org),
            ("redis", "default", None)
        );
        let sg =
            ServiceGroup::parse("app.prod#redis.default@acme").unwrap_or_else(|| panic!("parse"));
        assert_eq!(sg.to_string(), "redis.default@acme");
        for bad in [
            "redis", "redis.", ".default", "a.b.c", "a.b@", "a.b@c.d", "#a.b", "a@b#c.d",
        ] {
            assert_eq!(ServiceGroup::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn package_idents_parse_and_print() {
        let p = PackageIdent::parse("core/redis/7.2.4/20260101000000").unwrap_or_default();
        assert_eq!(p.name, "redis");
        assert_eq!(p.to_string(), "core/redis/7.2.4/20260101000000");
        assert_eq!(PackageIdent::parse("core"), None);
        assert_eq!(PackageIdent::parse("a/b/c/d/e"), None);
        assert_eq!(PackageIdent::parse("a//c"), None);
    }

    #[test]
    fn status_spellings() {
        assert_eq!(
            CensusElectionStatus::ElectionFinished.as_json(),
            "ElectionFinished"
        );
        assert_eq!(
            CensusElectionStatus::ElectionNoQuorum.as_display(),
            "no-quorum"
        );
        assert_eq!(
            CensusElectionStatus::ElectionInProgress.as_display(),
            "in-progress"
        );
        assert_eq!(CensusElectionStatus::None.as_display(), "none");
    }
}
