//! The ring's census as a service's templates see it: converts `warren-ring`'s census group
//! into `warren-template`'s render context (`svc`, `bind`), and judges binds (spec §7.5).
//!
//! Pure conversion: it reads a census and answers; it neither builds the census (the ring
//! does) nor renders.

use std::collections::BTreeMap;

use warren_ring::{CensusElectionStatus, CensusGroup, CensusMember, CensusRing};
use warren_template as tpl;

/// A `--bind NAME:SVC.GROUP[@ORG]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bind {
    /// The bind's name (`bind.<name>` in templates).
    pub name: String,
    /// The bound service group.
    pub service_group: String,
}

impl Bind {
    /// Parses `name:service.group[@org]` (exactly one `:`; the group by Habitat's syntax).
    pub fn parse(text: &str) -> Result<Bind, String> {
        let mut parts = text.split(':');
        let (Some(name), Some(group), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format!(
                "invalid bind {text:?}: expected NAME:SERVICE.GROUP[@ORG] with exactly one ':'"
            ));
        };
        if name.is_empty() {
            return Err(format!("invalid bind {text:?}: the name is empty"));
        }
        let sg = warren_ring::ServiceGroup::parse(group).ok_or_else(|| {
            format!("invalid bind {text:?}: {group:?} is not SERVICE.GROUP[@ORG]")
        })?;
        Ok(Bind {
            name: name.to_owned(),
            service_group: sg.to_string(),
        })
    }
}

/// A bind's state (spec §7.5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BindStatus {
    /// The bound group is not in the census.
    NotPresent,
    /// The group has no active member.
    Empty,
    /// The group's leader (or first active member) does not export these keys.
    Unsatisfied(Vec<String>),
    /// Usable.
    Satisfied,
}

/// Judges `bind` against `census`, requiring the exports `wanted` (from the package's
/// `BINDS`/`BINDS_OPTIONAL`).
pub fn bind_status(census: &CensusRing, bind: &Bind, wanted: &[String]) -> BindStatus {
    let Some(group) = census.census_groups.get(&bind.service_group) else {
        return BindStatus::NotPresent;
    };
    let source = group
        .leader()
        .filter(|m| m.alive || m.suspect)
        .or_else(|| group.active_members().next());
    let Some(member) = source else {
        return BindStatus::Empty;
    };
    let cfg = member_cfg(member);
    let missing: Vec<String> = wanted
        .iter()
        .filter(|k| !cfg.contains_key(k.as_str()))
        .cloned()
        .collect();
    if missing.is_empty() {
        BindStatus::Satisfied
    } else {
        BindStatus::Unsatisfied(missing)
    }
}

/// The election status as templates see it.
pub fn election_status(status: CensusElectionStatus) -> tpl::ElectionStatus {
    match status {
        CensusElectionStatus::None => tpl::ElectionStatus::None,
        CensusElectionStatus::ElectionInProgress => tpl::ElectionStatus::Running,
        CensusElectionStatus::ElectionNoQuorum => tpl::ElectionStatus::NoQuorum,
        CensusElectionStatus::ElectionFinished => tpl::ElectionStatus::Finished,
    }
}

/// A census group as the template context's group.
pub fn template_group(group: &CensusGroup) -> tpl::CensusGroup {
    let sg = warren_ring::ServiceGroup::parse(&group.service_group);
    let (service, name, org) = match sg {
        Some(sg) => (sg.service, sg.group, sg.org),
        None => (group.service_group.clone(), String::new(), None),
    };
    tpl::CensusGroup {
        service,
        group: name,
        org,
        election: election_status(group.election_status),
        update_election: election_status(group.update_election_status),
        leader_id: group.leader_id.as_ref().map(|id| id.to_string()),
        update_leader_id: group.update_leader_id.as_ref().map(|id| id.to_string()),
        population: group.population.values().map(template_member).collect(),
    }
}

/// One census member as templates see it.
pub fn template_member(m: &CensusMember) -> tpl::CensusMember {
    let election = flags_status(
        m.election_is_running,
        m.election_is_no_quorum,
        m.election_is_finished,
    );
    let update_election = flags_status(
        m.update_election_is_running,
        m.update_election_is_no_quorum,
        m.update_election_is_finished,
    );
    let health = if m.departed {
        tpl::Health::Departed
    } else if m.confirmed {
        tpl::Health::Confirmed
    } else if m.suspect {
        tpl::Health::Suspect
    } else {
        tpl::Health::Alive
    };
    tpl::CensusMember {
        member_id: m.member_id.to_string(),
        pkg: m.pkg.as_ref().map(|p| tpl::PackageIdent {
            origin: p.origin.clone(),
            name: p.name.clone(),
            version: p.version.clone(),
            release: p.release.clone(),
        }),
        pkg_incarnation: m.pkg_incarnation,
        service: m.service.clone(),
        group: m.group.clone(),
        org: m.org.clone(),
        persistent: m.persistent,
        leader: m.leader,
        follower: m.follower,
        update_leader: m.update_leader,
        update_follower: m.update_follower,
        election,
        update_election,
        sys: tpl::MemberSys {
            ip: m.sys.ip.clone(),
            hostname: m.sys.hostname.clone(),
            gossip_ip: m.sys.gossip_ip.clone(),
            gossip_port: m.sys.gossip_port,
            http_gateway_ip: m.sys.http_gateway_ip.clone(),
            http_gateway_port: m.sys.http_gateway_port,
            ctl_gateway_ip: m.sys.ctl_gateway_ip.clone(),
            ctl_gateway_port: m.sys.ctl_gateway_port,
        },
        health,
        cfg: member_cfg(m),
    }
}

fn flags_status(running: bool, no_quorum: bool, finished: bool) -> tpl::ElectionStatus {
    if finished {
        tpl::ElectionStatus::Finished
    } else if no_quorum {
        tpl::ElectionStatus::NoQuorum
    } else if running {
        tpl::ElectionStatus::Running
    } else {
        tpl::ElectionStatus::None
    }
}

/// A member's exported cfg (TOML text in its Service rumor); unreadable text is an empty table.
fn member_cfg(m: &CensusMember) -> toml::Table {
    m.cfg.parse::<toml::Table>().unwrap_or_default()
}

/// The `bind` map of a render context: every satisfied bind by name (unsatisfied ones are
/// left out, as Habitat does).
pub fn bind_contexts(
    census: &CensusRing,
    binds: &[(Bind, Vec<String>)],
) -> BTreeMap<String, tpl::BindContext> {
    binds
        .iter()
        .filter(|(bind, wanted)| bind_status(census, bind, wanted) == BindStatus::Satisfied)
        .filter_map(|(bind, _)| {
            let group = census.census_groups.get(&bind.service_group)?;
            Some((
                bind.name.clone(),
                tpl::BindContext::new(&template_group(group)),
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn bind_syntax() {
        let b = Bind::parse("db:postgres.app@acme").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(b.name, "db");
        assert_eq!(b.service_group, "postgres.app@acme");
        for bad in [
            "db",
            "db:postgres",
            ":postgres.app",
            "a:b:c.d",
            "db:pg.app.x",
        ] {
            assert!(Bind::parse(bad).is_err(), "{bad}");
        }
    }
}
