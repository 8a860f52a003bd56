//! The `/census` document: a [`CensusRing`] in the JSON shape of Habitat's census (spec §7.2,
//! §7.3, §10.4).
//!
//! It only converts: the census is built by `warren-ring` and each member's exported `cfg`
//! TOML becomes a JSON table here. Key names, nesting and enum spellings are Habitat's
//! (`"ElectionFinished"`, byte bodies as arrays of numbers, absent values as `null`).

use serde_json::{Map, Value, json};
use warren_ring::{CensusGroup, CensusMember, CensusRing, PackageIdent};

use crate::butterfly::{cfg_json, sys_json};

/// The whole `/census` document.
pub fn render(census: &CensusRing) -> Value {
    let groups: Map<String, Value> = census
        .census_groups
        .iter()
        .map(|(sg, g)| (sg.clone(), group(g)))
        .collect();
    let c = &census.counters;
    json!({
        "changed": census.changed,
        "census_groups": groups,
        "local_member_id": census.local_member_id.as_str(),
        "last_service_counter": c.last_service_counter,
        "last_election_counter": c.last_election_counter,
        "last_election_update_counter": c.last_election_update_counter,
        "last_membership_counter": c.last_membership_counter,
        "last_service_config_counter": c.last_service_config_counter,
        "last_service_file_counter": c.last_service_file_counter,
    })
}

/// One `CensusGroup`.
pub fn group(g: &CensusGroup) -> Value {
    let population: Map<String, Value> = g
        .population
        .iter()
        .map(|(id, m)| (id.as_str().to_owned(), member(m)))
        .collect();
    let files: Map<String, Value> = g
        .service_files
        .iter()
        .map(|(name, f)| {
            (
                name.clone(),
                json!({ "filename": f.filename, "incarnation": f.incarnation, "body": f.body }),
            )
        })
        .collect();
    let mut out = json!({
        "service_group": g.service_group,
        "election_status": g.election_status.as_json(),
        "update_election_status": g.update_election_status.as_json(),
        "pkg_incarnation": g.pkg_incarnation,
        "leader_id": g.leader_id.as_ref().map(|id| id.as_str()),
        "service_config": g.service_config.as_ref().map(|c| json!({
            "incarnation": c.incarnation,
            "value": c.value,
        })),
        "local_member_id": g.local_member_id.as_str(),
        "population": population,
        "update_leader_id": g.update_leader_id.as_ref().map(|id| id.as_str()),
        "changed_service_files": g.changed_service_files,
        "service_files": files,
    });
    // Warren: why the election has no quorum, in words and in parts. Only while it has none, so
    // the document keeps exactly Habitat's keys otherwise.
    if let (Some(q), Some(map)) = (&g.election_quorum, out.as_object_mut()) {
        map.insert(
            "election_quorum".into(),
            json!({
                "met_ring": q.met_ring,
                "alive": q.alive,
                "counted": q.counted,
                "missing": q.missing.iter().map(|m| json!({
                    "member_id": m.id.as_str(),
                    "health": m.health.map(|h| format!("{h:?}")),
                    "for_s": m.for_how_long.as_secs(),
                })).collect::<Vec<_>>(),
                "reason": q.to_string(),
            }),
        );
    }
    out
}

/// One `CensusMember` (also the shape of `svc.me` in templates).
pub fn member(m: &CensusMember) -> Value {
    json!({
        "member_id": m.member_id.as_str(),
        "pkg": m.pkg.as_ref().map(pkg),
        "pkg_incarnation": m.pkg_incarnation,
        "package": m.package,
        "service": m.service,
        "group": m.group,
        "org": m.org,
        "persistent": m.persistent,
        "leader": m.leader,
        "follower": m.follower,
        "update_leader": m.update_leader,
        "update_follower": m.update_follower,
        "election_is_running": m.election_is_running,
        "election_is_no_quorum": m.election_is_no_quorum,
        "election_is_finished": m.election_is_finished,
        "update_election_is_running": m.update_election_is_running,
        "update_election_is_no_quorum": m.update_election_is_no_quorum,
        "update_election_is_finished": m.update_election_is_finished,
        "sys": sys_json(&m.sys),
        "alive": m.alive,
        "suspect": m.suspect,
        "confirmed": m.confirmed,
        "departed": m.departed,
        "cfg": cfg_json(m.cfg.as_bytes()),
    })
}

fn pkg(p: &PackageIdent) -> Value {
    json!({ "origin": p.origin, "name": p.name, "version": p.version, "release": p.release })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use warren_ring::{CensusElectionStatus, MemberId, SysInfo, census::CensusCounters};

    use super::*;

    fn keys(v: &Value) -> Vec<&str> {
        let mut k: Vec<&str> = v
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        k.sort_unstable();
        k
    }

    #[test]
    fn census_keys_are_habitats() {
        let id = MemberId::from("a");
        let m = CensusMember {
            member_id: id.clone(),
            pkg: PackageIdent::parse("core/redis/7.2.4/20260101000000"),
            pkg_incarnation: 0,
            package: "core/redis/7.2.4/20260101000000".into(),
            service: "redis".into(),
            group: "default".into(),
            org: None,
            persistent: true,
            leader: true,
            follower: false,
            update_leader: false,
            update_follower: false,
            election_is_running: false,
            election_is_no_quorum: false,
            election_is_finished: true,
            update_election_is_running: false,
            update_election_is_no_quorum: false,
            update_election_is_finished: false,
            sys: SysInfo::default(),
            alive: true,
            suspect: false,
            confirmed: false,
            departed: false,
            cfg: "port = 6379\n".into(),
        };
        let g = CensusGroup {
            service_group: "redis.default".into(),
            election_status: CensusElectionStatus::ElectionFinished,
            update_election_status: CensusElectionStatus::None,
            pkg_incarnation: 0,
            leader_id: Some(id.clone()),
            service_config: None,
            local_member_id: id.clone(),
            population: BTreeMap::from([(id.clone(), m)]),
            update_leader_id: None,
            changed_service_files: Vec::new(),
            service_files: BTreeMap::new(),
            election_quorum: None,
        };
        let ring = CensusRing {
            changed: true,
            census_groups: BTreeMap::from([("redis.default".to_owned(), g)]),
            local_member_id: id,
            counters: CensusCounters::default(),
        };
        let v = render(&ring);
        assert_eq!(
            keys(&v),
            [
                "census_groups",
                "changed",
                "last_election_counter",
                "last_election_update_counter",
                "last_membership_counter",
                "last_service_config_counter",
                "last_service_counter",
                "last_service_file_counter",
                "local_member_id"
            ]
        );
        let g = &v["census_groups"]["redis.default"];
        assert_eq!(
            keys(g),
            [
                "changed_service_files",
                "election_status",
                "leader_id",
                "local_member_id",
                "pkg_incarnation",
                "population",
                "service_config",
                "service_files",
                "service_group",
                "update_election_status",
                "update_leader_id"
            ]
        );
        assert_eq!(g["election_status"], "ElectionFinished");
        let m = &g["population"]["a"];
        assert_eq!(keys(m).len(), 24);
        assert_eq!(m["cfg"]["port"], 6379);
        assert_eq!(m["pkg"]["name"], "redis");
        assert_eq!(keys(&m["sys"]).len(), 8);

        // Without quorum, Warren says why.
        let mut lost = ring.census_groups["redis.default"].clone();
        lost.election_status = CensusElectionStatus::ElectionNoQuorum;
        lost.election_quorum = Some(warren_ring::QuorumGap {
            met_ring: true,
            alive: 1,
            counted: 3,
            missing: vec![warren_ring::MissingVoter {
                id: MemberId::from("b"),
                health: Some(warren_ring::Health::Confirmed),
                for_how_long: std::time::Duration::from_secs(42),
            }],
        });
        let v = group(&lost);
        let q = &v["election_quorum"];
        assert_eq!(q["missing"][0]["member_id"], "b");
        assert_eq!(q["missing"][0]["health"], "Confirmed");
        assert_eq!(q["missing"][0]["for_s"], 42);
        let reason = q["reason"].as_str().unwrap_or_default();
        assert!(
            reason.contains("1 of 3") && reason.contains("b (Confirmed for 42 s)"),
            "{reason}"
        );
    }
}
