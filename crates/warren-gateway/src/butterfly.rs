//! Habitat's `/butterfly` document (spec §10.5), rendered from a [`Ring`].
//!
//! [`render`] reads the ring's member list and rumor store once and builds a
//! [`serde_json::Value`]; the caller (the shell's main loop) serializes it into a
//! [`crate::Snapshot`]. This module does no I/O, holds no state between calls and never mutates
//! the ring. It does not decrypt BOX-1 payloads; redaction (`HAB_FEAT_REDACT_HTTP`) closes the
//! route in the server instead.
//!
//! # Shapes
//! Top-level keys and the Service / Election objects follow spec §10.5. The inner shapes below
//! follow Habitat's `components/sup/doc/http_gateway_butterfly_schema.json` as read while writing
//! this module; **verify them against that schema (and a live Habitat) before relying on them**:
//! - `member.members[id]`: `{id, incarnation, address, swim_port, gossip_port, persistent,
//!   departed}`; `member.health[id]`: `"Alive" | "Suspect" | "Confirmed" | "Departed"`.
//! - `membership[id]`: `{address, gossip_port, incarnation, persistent, swim_port, health}`.
//! - `service.list` and `services`: `{sg → {member id → Service}}`; Service adds
//!   `package_incarnation` (Warren carries it; the schema does not list it).
//! - `service_config.list` and `latest_service_config`: `{sg → {"service_config": {service_group,
//!   incarnation, encrypted, config, from_id}}}`, `config` as an array of byte values (as the
//!   schema says), `from_id` always `"butterflyclient"` (spec §5.2).
//! - `service_file.list` and `service_files`: `{sg → {filename → {service_group, incarnation,
//!   encrypted, filename, body, from_id}}}`, `body` as an array of byte values.
//! - `election.list` / `election_update.list`: `{sg → {"election": Election}}`;
//!   `latest_election` / `latest_election_update`: `{sg → Election}`. Election JSON carries
//!   `from_id` (= `member_id`, the candidate) in addition to the six keys of spec §10.5.
//! - `departure`: `{list: {"departure": {member id → {member_id}}}, update_counter}`;
//!   `departed_members`: array of member ids, sorted.
//!
//! # Update counters
//! Habitat's `update_counter`s count changes to each store. The ring keeps no such counter, so
//! [`render`] reports 0 everywhere; a shell that wants real values counts the ring's events with
//! [`UpdateCounters::observe`] and calls [`render_with`].
//!
//! # The local member
//! It is not listed in `member` or `membership`: Habitat's supervisor never holds itself in its
//! member list, and tools that count peers from these maps would be off by one. (Its own
//! Service rumors are listed under `service`, as Habitat's are.)

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use warren_ring::{
    Departure, Election, ElectionStatus, Event, Health, Member, MemberId, Ring, Rumor, RumorKey,
    Service, ServiceConfig, ServiceFile, SysInfo,
};

/// `from_id` Habitat puts on client-originated rumors (config, files, departures).
const BUTTERFLY_CLIENT: &str = "butterflyclient";

/// Habitat's per-store `update_counter`s: how many times each store changed.
///
/// Feed it every [`Event`] drained from the ring ([`UpdateCounters::observe`]). Counters only
/// grow (wrapping is not a concern at one increment per change).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UpdateCounters {
    /// Member list changes (including this member's own incarnation).
    pub member: u64,
    /// Service rumor changes.
    pub service: u64,
    /// ServiceConfig rumor changes.
    pub service_config: u64,
    /// ServiceFile rumor changes.
    pub service_file: u64,
    /// Election rumor changes.
    pub election: u64,
    /// ElectionUpdate rumor changes.
    pub election_update: u64,
    /// Departure rumor changes.
    pub departure: u64,
}

impl UpdateCounters {
    /// Counts one ring event against the store it changed.
    pub fn observe(&mut self, event: &Event) {
        let counter = match event {
            Event::MemberChanged { .. }
            | Event::MemberRemoved(_)
            | Event::IncarnationChanged(_) => &mut self.member,
            Event::RumorChanged(key) | Event::RumorRemoved(key) => match key {
                RumorKey::Member(_) => &mut self.member,
                RumorKey::Service(..) => &mut self.service,
                RumorKey::ServiceConfig(_) => &mut self.service_config,
                RumorKey::ServiceFile(..) => &mut self.service_file,
                RumorKey::Election(_) => &mut self.election,
                RumorKey::ElectionUpdate(_) => &mut self.election_update,
                RumorKey::Departure(_) => &mut self.departure,
            },
            Event::DepartedByRing | Event::QuorumChanged { .. } => return,
        };
        *counter = counter.saturating_add(1);
    }
}

/// Renders the `/butterfly` document with every `update_counter` at 0.
pub fn render(ring: &Ring) -> Value {
    render_with(ring, &UpdateCounters::default())
}

/// Renders the `/butterfly` document with the given update counters.
pub fn render_with(ring: &Ring, counters: &UpdateCounters) -> Value {
    let mut members = Map::new();
    let mut health = Map::new();
    let mut membership = Map::new();
    // The member's peers only, as Habitat lists them: a supervisor's member list never holds
    // itself, and tools count peers from these maps.
    let me = &ring.myself().id;
    let peers = ring
        .members()
        .iter()
        .filter(|r| r.member.id != *me)
        .map(|r| (&r.member, r.health));
    for (m, h) in peers {
        let id = m.id.to_string();
        members.insert(id.clone(), member_json(m));
        health.insert(id.clone(), Value::from(h.as_str()));
        membership.insert(id, membership_json(m, h));
    }

    let mut services: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    let mut configs = Map::new();
    let mut files: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    let mut elections = Map::new();
    let mut latest_elections = Map::new();
    let mut election_updates = Map::new();
    let mut latest_election_updates = Map::new();
    let mut departures = Map::new();
    let mut departed_members = Vec::new();
    for (_, entry) in ring.rumors().iter() {
        match &entry.rumor {
            // Member records live in the member list, never in the store.
            Rumor::Member { .. } => {}
            Rumor::Service(s) => {
                services
                    .entry(s.service_group.clone())
                    .or_default()
                    .insert(s.member_id.to_string(), service_json(s));
            }
            Rumor::ServiceConfig(c) => {
                configs.insert(
                    c.service_group.clone(),
                    json!({ "service_config": service_config_json(c) }),
                );
            }
            Rumor::ServiceFile(f) => {
                files
                    .entry(f.service_group.clone())
                    .or_default()
                    .insert(f.filename.clone(), service_file_json(f));
            }
            Rumor::Election(e) => {
                let v = election_json(e);
                elections.insert(e.service_group.clone(), json!({ "election": v.clone() }));
                latest_elections.insert(e.service_group.clone(), v);
            }
            Rumor::ElectionUpdate(e) => {
                let v = election_json(e);
                election_updates.insert(e.service_group.clone(), json!({ "election": v.clone() }));
                latest_election_updates.insert(e.service_group.clone(), v);
            }
            Rumor::Departure(d) => {
                departures.insert(d.member_id.to_string(), departure_json(d));
                departed_members.push(Value::from(d.member_id.as_str()));
            }
        }
    }

    let services = nested(services);
    let files = nested(files);
    json!({
        "member": {
            "members": members,
            "health": health,
            "update_counter": counters.member,
        },
        "membership": membership,
        "service": { "list": services.clone(), "update_counter": counters.service },
        "services": services,
        "service_config": {
            "list": configs.clone(),
            "update_counter": counters.service_config,
        },
        "latest_service_config": configs,
        "service_file": { "list": files.clone(), "update_counter": counters.service_file },
        "service_files": files,
        "election": { "list": elections, "update_counter": counters.election },
        "latest_election": latest_elections,
        "election_update": {
            "list": election_updates,
            "update_counter": counters.election_update,
        },
        "latest_election_update": latest_election_updates,
        "departure": {
            "list": { "departure": departures },
            "update_counter": counters.departure,
        },
        "departed_members": departed_members,
    })
}

/// Nested `{outer → {inner → value}}` maps, as a JSON object.
fn nested(map: BTreeMap<String, Map<String, Value>>) -> Value {
    Value::Object(
        map.into_iter()
            .map(|(k, v)| (k, Value::Object(v)))
            .collect(),
    )
}

fn member_json(m: &Member) -> Value {
    json!({
        "id": m.id.as_str(),
        "incarnation": m.incarnation,
        "address": m.address.to_string(),
        "swim_port": m.swim_port,
        "gossip_port": m.gossip_port,
        "persistent": m.persistent,
        "departed": m.departed,
    })
}

fn membership_json(m: &Member, h: Health) -> Value {
    json!({
        "address": m.address.to_string(),
        "gossip_port": m.gossip_port,
        "incarnation": m.incarnation,
        "persistent": m.persistent,
        "swim_port": m.swim_port,
        "health": h.as_str(),
    })
}

/// A `SysInfo` as Habitat's JSON.
pub(crate) fn sys_json(s: &SysInfo) -> Value {
    json!({
        "ip": s.ip,
        "hostname": s.hostname,
        "gossip_ip": s.gossip_ip,
        "gossip_port": s.gossip_port,
        "http_gateway_ip": s.http_gateway_ip,
        "http_gateway_port": s.http_gateway_port,
        "ctl_gateway_ip": s.ctl_gateway_ip,
        "ctl_gateway_port": s.ctl_gateway_port,
    })
}

fn service_json(s: &Service) -> Value {
    json!({
        "member_id": s.member_id.as_str(),
        "service_group": s.service_group,
        "package": s.pkg,
        "package_incarnation": s.pkg_incarnation,
        "incarnation": s.incarnation,
        "cfg": cfg_json(&s.cfg),
        "sys": sys_json(&s.sys),
        "initialized": s.initialized,
    })
}

fn service_config_json(c: &ServiceConfig) -> Value {
    json!({
        "service_group": c.service_group,
        "incarnation": c.incarnation,
        "encrypted": c.encrypted,
        "config": c.config,
        "from_id": BUTTERFLY_CLIENT,
    })
}

fn service_file_json(f: &ServiceFile) -> Value {
    json!({
        "service_group": f.service_group,
        "incarnation": f.incarnation,
        "encrypted": f.encrypted,
        "filename": f.filename,
        "body": f.body,
        "from_id": BUTTERFLY_CLIENT,
    })
}

fn election_json(e: &Election) -> Value {
    json!({
        "member_id": e.member_id.as_str(),
        "from_id": e.member_id.as_str(),
        "service_group": e.service_group,
        "term": e.term,
        "suitability": e.suitability,
        "status": status_str(e.status),
        "votes": e.votes.iter().map(MemberId::as_str).collect::<Vec<_>>(),
    })
}

fn departure_json(d: &Departure) -> Value {
    json!({ "member_id": d.member_id.as_str() })
}

/// Habitat's spelling of an election status.
pub fn status_str(s: ElectionStatus) -> &'static str {
    match s {
        ElectionStatus::Running => "Running",
        ElectionStatus::NoQuorum => "NoQuorum",
        ElectionStatus::Finished => "Finished",
    }
}

/// A Service's `cfg` bytes as a JSON object: UTF-8 TOML parsed as a table, or `{}` when it is
/// not valid UTF-8 TOML. TOML datetimes become their RFC 3339 strings; non-finite floats become
/// `null` (JSON has no NaN or infinity).
pub fn cfg_json(cfg: &[u8]) -> Value {
    let table = std::str::from_utf8(cfg)
        .ok()
        .and_then(|s| toml::from_str::<toml::Table>(s).ok())
        .unwrap_or_default();
    table_json(&table)
}

/// A TOML table as a JSON object (see [`cfg_json`] for datetimes and non-finite floats).
pub(crate) fn table_json(t: &toml::Table) -> Value {
    Value::Object(t.iter().map(|(k, v)| (k.clone(), toml_json(v))).collect())
}

fn toml_json(v: &toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::from(s.as_str()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) => {
            serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number)
        }
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.iter().map(toml_json).collect()),
        toml::Value::Table(t) => table_json(t),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cfg_parses_toml_and_falls_back_to_empty() {
        let v = cfg_json(b"port = 6379\nname = \"r\"\n[tls]\non = true\nxs = [1.5, 2]\n");
        assert_eq!(
            v,
            json!({"port": 6379, "name": "r", "tls": {"on": true, "xs": [1.5, 2]}})
        );
        assert_eq!(cfg_json(b"not = = toml"), json!({}));
        assert_eq!(cfg_json(&[0xff, 0xfe]), json!({}));
        assert_eq!(cfg_json(b""), json!({}));
        assert_eq!(cfg_json(b"x = nan"), json!({"x": null}));
        assert_eq!(
            cfg_json(b"t = 1979-05-27T07:32:00Z"),
            json!({"t": "1979-05-27T07:32:00Z"})
        );
    }

    #[test]
    fn counters_follow_events() {
        let mut c = UpdateCounters::default();
        c.observe(&Event::RumorChanged(RumorKey::ServiceConfig("a.b".into())));
        c.observe(&Event::RumorChanged(RumorKey::Election("a.b".into())));
        c.observe(&Event::RumorRemoved(RumorKey::Departure("x".into())));
        c.observe(&Event::MemberRemoved("x".into()));
        c.observe(&Event::DepartedByRing);
        assert_eq!(
            c,
            UpdateCounters {
                member: 1,
                service_config: 1,
                election: 1,
                departure: 1,
                ..UpdateCounters::default()
            }
        );
    }
}
