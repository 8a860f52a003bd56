//! The shapes of Habitat's `/services`, `/census` and `/butterfly` JSON, as JSON-schema subsets
//! for [`super::schema::check`]: every key Habitat's published schemas
//! (`components/sup/doc/http_gateway_*_schema.json`) require, with their types and enum
//! spellings, written out for Warren's tests (Habitat's files are not copied here).
//!
//! [`habitat_files`] loads Habitat's own schema files instead when
//! `WARREN_HABITAT_SCHEMA_DIR` names a directory holding them (a checkout's
//! `components/sup/doc`), so the same tests can be run against the originals.

use std::collections::HashMap;
use std::path::PathBuf;

use serde_json::{Value, json};

use super::schema::Schemas;

fn t(ty: &str) -> Value {
    json!({ "type": ty })
}

fn ts(tys: &[&str]) -> Value {
    json!({ "type": tys })
}

fn en(values: &[&str]) -> Value {
    json!({ "enum": values })
}

fn arr(items: Value) -> Value {
    json!({ "type": "array", "items": items })
}

/// An object whose every value has shape `v`.
fn map_of(v: Value) -> Value {
    json!({ "type": "object", "additionalProperties": v })
}

/// An object with `props`, of which `required` must be present.
fn obj(required: &[&str], props: Value) -> Value {
    json!({ "type": "object", "required": required, "properties": props })
}

/// Strings for every key, all required.
fn strings(keys: &[&str]) -> Value {
    let props: serde_json::Map<String, Value> = keys
        .iter()
        .map(|k| ((*k).to_owned(), t("string")))
        .collect();
    obj(keys, Value::Object(props))
}

fn package_identifier() -> Value {
    let mut p = strings(&["origin", "name", "version", "release"]);
    p["additionalProperties"] = json!(false);
    p
}

fn cfg_table(nullable: bool) -> Value {
    let mut values = vec!["boolean", "string", "integer", "array", "object"];
    if nullable {
        values.insert(0, "null");
    }
    let mut top = vec!["object"];
    if nullable {
        top.insert(0, "null");
    }
    json!({ "type": top, "additionalProperties": { "type": values } })
}

fn sys_basic() -> Value {
    obj(
        &[
            "ctl_gateway_ip",
            "ctl_gateway_port",
            "gossip_ip",
            "gossip_port",
            "hostname",
            "http_gateway_ip",
            "http_gateway_port",
            "ip",
        ],
        json!({
            "ctl_gateway_ip": t("string"), "ctl_gateway_port": t("integer"),
            "gossip_ip": t("string"), "gossip_port": t("integer"),
            "hostname": t("string"),
            "http_gateway_ip": t("string"), "http_gateway_port": t("integer"),
            "ip": t("string"),
        }),
    )
}

/// `/services`.
pub fn services() -> Value {
    let hook = json!({ "oneOf": [
        { "type": "null" },
        obj(&[], json!({
            "render_pair": t("string"),
            "stdout_log_path": t("string"),
            "stderr_log_path": t("string"),
        })),
    ]});
    let hooks: serde_json::Map<String, Value> = [
        "file_updated",
        "health_check",
        "init",
        "post_run",
        "post_stop",
        "reconfigure",
        "reload",
        "run",
        "smoke_test",
        "suitability",
    ]
    .iter()
    .map(|k| ((*k).to_owned(), hook.clone()))
    .collect();
    let pkg_strings = [
        "ident",
        "name",
        "origin",
        "path",
        "release",
        "svc_config_path",
        "svc_data_path",
        "svc_files_path",
        "svc_group",
        "svc_path",
        "svc_pid_file",
        "svc_run",
        "svc_static_path",
        "svc_user",
        "svc_var_path",
        "version",
    ];
    let mut pkg = strings(&pkg_strings);
    let mut required: Vec<&str> = pkg_strings.to_vec();
    required.extend(["deps", "env", "exports", "exposes"]);
    required.sort_unstable();
    pkg["required"] = json!(required);
    pkg["properties"]["deps"] = arr(package_identifier());
    pkg["properties"]["dependencies"] = arr(t("string"));
    pkg["properties"]["env"] = map_of(t("string"));
    pkg["properties"]["exports"] = map_of(t("string"));
    pkg["properties"]["exposes"] = arr(t("string"));
    let mut sys = sys_basic();
    sys["required"].as_array_mut().unwrap().extend([
        json!("member_id"),
        json!("permanent"),
        json!("version"),
    ]);
    sys["properties"]["member_id"] = t("string");
    sys["properties"]["permanent"] = t("boolean");
    sys["properties"]["version"] = t("string");
    let item = obj(
        &[
            "all_pkg_binds",
            "binding_mode",
            "binds",
            "bldr_url",
            "channel",
            "config_from",
            "desired_state",
            "health_check",
            "hooks",
            "initialized",
            "last_election_status",
            "manager_fs_cfg",
            "pkg",
            "process",
            "service_group",
            "spec_file",
            "spec_ident",
            "sys",
            "topology",
            "update_strategy",
            "user_config_updated",
        ],
        json!({
            "all_pkg_binds": arr(obj(&["exports", "service"], json!({
                "exports": arr(t("string")), "service": t("string"),
            }))),
            "binding_mode": en(&["strict", "relaxed"]),
            "binds": arr(t("string")),
            "bldr_url": t("string"),
            "cfg": cfg_table(true),
            "channel": t("string"),
            "config_from": ts(&["null", "string"]),
            "desired_state": en(&["Up", "Down"]),
            "health_check": en(&["Ok", "Warning", "Critical", "Unknown"]),
            "hooks": { "type": "object", "properties": hooks },
            "initialized": t("boolean"),
            "last_election_status": t("string"),
            "manager_fs_cfg": strings(&[
                "data_path", "member_id_file", "proc_lock_file", "specs_path", "sup_root",
            ]),
            "pkg": pkg,
            "process": obj(&["pid", "state", "state_entered"], json!({
                "pid": ts(&["null", "integer"]),
                "state": en(&["up", "down"]),
                "state_entered": t("integer"),
            })),
            "service_group": t("string"),
            "spec_file": t("string"),
            "spec_ident": package_identifier(),
            "spec_identifier": t("string"),
            "svc_encrypted_password": ts(&["null", "string"]),
            "sys": sys,
            "topology": en(&["standalone", "leader"]),
            "update_strategy": en(&["none", "at-once", "rolling"]),
            "user_config_updated": t("boolean"),
        }),
    );
    arr(item)
}

/// `/census`.
pub fn census() -> Value {
    let booleans = [
        "alive",
        "confirmed",
        "departed",
        "election_is_finished",
        "election_is_no_quorum",
        "election_is_running",
        "follower",
        "leader",
        "persistent",
        "suspect",
        "update_election_is_finished",
        "update_election_is_no_quorum",
        "update_election_is_running",
        "update_follower",
        "update_leader",
    ];
    let mut member_props: serde_json::Map<String, Value> = booleans
        .iter()
        .map(|k| ((*k).to_owned(), t("boolean")))
        .collect();
    for k in ["group", "member_id", "package", "service"] {
        member_props.insert(k.to_owned(), t("string"));
    }
    member_props.insert("org".into(), ts(&["null", "string"]));
    member_props.insert("cfg".into(), cfg_table(false));
    member_props.insert("pkg".into(), package_identifier());
    member_props.insert("sys".into(), sys_basic());
    let group = obj(
        &[
            "changed_service_files",
            "election_status",
            "leader_id",
            "local_member_id",
            "population",
            "service_config",
            "service_files",
            "service_group",
            "update_election_status",
            "update_leader_id",
        ],
        json!({
            "changed_service_files": arr(t("string")),
            "election_status": t("string"),
            "leader_id": ts(&["string", "null"]),
            "local_member_id": t("string"),
            "population": map_of(json!({ "type": "object", "properties": member_props })),
            "service_config": {
                "type": ["null", "object"],
                "required": ["incarnation", "value"],
                "properties": { "incarnation": t("integer"), "value": cfg_table(false) },
            },
            "service_files": {
                "type": ["null", "object"],
                "additionalProperties": obj(&[], json!({
                    "filename": t("string"), "incarnation": t("integer"),
                    "body": arr(t("integer")),
                })),
            },
            "service_group": t("string"),
            "update_election_status": t("string"),
            "update_leader_id": ts(&["null", "string"]),
        }),
    );
    obj(
        &["census_groups", "local_member_id"],
        json!({
            "census_groups": map_of(group),
            "changed": t("boolean"),
            "last_election_counter": t("integer"),
            "last_election_update_counter": t("integer"),
            "last_membership_counter": t("integer"),
            "last_service_config_counter": t("integer"),
            "last_service_counter": t("integer"),
            "last_service_file_counter": t("integer"),
            "local_member_id": t("string"),
        }),
    )
}

/// `/butterfly`.
pub fn butterfly() -> Value {
    let status = en(&["Running", "NoQuorum", "Finished"]);
    let health = en(&["Alive", "Suspect", "Confirmed", "Departed"]);
    let election = obj(
        &[],
        json!({
            "from_id": t("string"), "member_id": t("string"), "service_group": t("string"),
            "status": status, "suitability": t("integer"), "term": t("integer"),
            "votes": arr(t("string")),
        }),
    );
    let listed = |v: Value| {
        obj(
            &["list"],
            json!({ "list": v, "update_counter": t("integer") }),
        )
    };
    let service = obj(
        &[
            "cfg",
            "incarnation",
            "initialized",
            "member_id",
            "package",
            "service_group",
            "sys",
        ],
        json!({
            "cfg": cfg_table(false), "incarnation": t("integer"), "initialized": t("boolean"),
            "member_id": t("string"), "package": t("string"), "service_group": t("string"),
            "sys": sys_basic(),
        }),
    );
    let service_config = obj(
        &[],
        json!({
            "service_config": obj(
                &["config", "encrypted", "from_id", "incarnation", "service_group"],
                json!({
                    "config": t("array"), "encrypted": t("boolean"), "from_id": t("string"),
                    "incarnation": t("integer"), "service_group": t("string"),
                }),
            ),
        }),
    );
    let file = obj(
        &[
            "encrypted",
            "filename",
            "from_id",
            "incarnation",
            "service_group",
        ],
        json!({
            "body": arr(t("integer")), "encrypted": t("boolean"), "filename": t("string"),
            "from_id": t("string"), "incarnation": t("integer"), "service_group": t("string"),
        }),
    );
    let member = obj(
        &[
            "address",
            "departed",
            "gossip_port",
            "id",
            "incarnation",
            "persistent",
            "swim_port",
        ],
        json!({
            "address": t("string"), "departed": t("boolean"), "gossip_port": t("integer"),
            "id": t("string"), "incarnation": t("integer"), "persistent": t("boolean"),
            "swim_port": t("integer"),
        }),
    );
    json!({
        "type": "object",
        "properties": {
            "departed_members": arr(t("string")),
            "departure": obj(&[], json!({
                "list": obj(&[], json!({
                    "departure": map_of(obj(&[], json!({ "member_id": t("string") }))),
                })),
                "update_counter": t("integer"),
            })),
            "election": listed(map_of(obj(&[], json!({ "election": election.clone() })))),
            "election_update": listed(map_of(obj(&[], json!({ "election": election.clone() })))),
            "latest_election": map_of(election.clone()),
            "latest_election_update": map_of(election),
            "latest_service_config": map_of(service_config.clone()),
            "member": obj(&["health", "members"], json!({
                "health": map_of(health.clone()),
                "members": map_of(member),
                "update_counter": t("integer"),
            })),
            "membership": map_of(obj(&[], json!({
                "address": t("string"), "gossip_port": t("integer"), "health": health,
                "incarnation": t("integer"), "persistent": t("boolean"),
                "swim_port": t("integer"),
            }))),
            "service": listed(map_of(map_of(service.clone()))),
            "service_config": listed(map_of(service_config)),
            "service_file": listed(map_of(map_of(file.clone()))),
            "service_files": map_of(map_of(file)),
            "services": map_of(map_of(service)),
        },
    })
}

/// Habitat's own schema files, when `WARREN_HABITAT_SCHEMA_DIR` is set: (route schemas by
/// route, every file for `$ref`s).
pub fn habitat_files() -> Option<(HashMap<&'static str, Value>, Schemas)> {
    let dir = PathBuf::from(std::env::var_os("WARREN_HABITAT_SCHEMA_DIR")?);
    let load = |name: &str| -> Value {
        let path = dir.join(name);
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    let names = [
        ("/services", "http_gateway_services_schema.json"),
        ("/census", "http_gateway_census_schema.json"),
        ("/butterfly", "http_gateway_butterfly_schema.json"),
    ];
    let mut files = HashMap::new();
    let mut routes = HashMap::new();
    for (route, name) in names {
        let v = load(name);
        routes.insert(route, v.clone());
        files.insert(name.to_owned(), v);
    }
    files.insert(
        "render_context_schema.json".to_owned(),
        load("render_context_schema.json"),
    );
    Some((
        routes,
        Schemas {
            files,
            fallback: Some("render_context_schema.json".to_owned()),
        },
    ))
}
