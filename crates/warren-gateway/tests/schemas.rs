//! `/services`, `/census` and `/butterfly` of a three-member leader-topology ring, served by the
//! gateway, checked against the shapes of Habitat's published JSON schemas (required keys,
//! types, enum spellings; see `support/habitat.rs`), and against Habitat's own schema files
//! when `WARREN_HABITAT_SCHEMA_DIR` points at them. Also checks that the checker catches
//! drift.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;

use serde_json::{Value, json};
use support::schema::{Schemas, check};
use support::{fixtures, habitat, http};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

async fn fetch_all() -> [(&'static str, Value); 3] {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (_tx, rx) = watch::channel(Arc::new(fixtures::snapshot()));
    let stop = CancellationToken::new();
    let task = tokio::spawn(warren_gateway::serve(listener, rx, stop.clone()));
    let mut out = Vec::new();
    for route in ["/services", "/census", "/butterfly"] {
        let r = http::get(addr, "GET", route, &[]).await;
        assert_eq!(r.status, 200, "{route}");
        out.push((route, r.json()));
    }
    stop.cancel();
    task.await.unwrap().unwrap();
    out.try_into().unwrap()
}

fn shape(route: &str) -> Value {
    match route {
        "/services" => habitat::services(),
        "/census" => habitat::census(),
        _ => habitat::butterfly(),
    }
}

#[tokio::test]
async fn routes_match_habitats_shapes() {
    for (route, doc) in fetch_all().await {
        let errs = check(&shape(route), &doc, &Schemas::none());
        assert!(errs.is_empty(), "{route}: {errs:#?}");
    }
}

#[tokio::test]
async fn routes_validate_against_habitats_schema_files_when_given() {
    let Some((schemas, ext)) = habitat::habitat_files() else {
        eprintln!("WARREN_HABITAT_SCHEMA_DIR not set: Habitat's own files not checked");
        return;
    };
    for (route, doc) in fetch_all().await {
        let errs = check(&schemas[route], &doc, &ext);
        assert!(errs.is_empty(), "{route}: {errs:#?}");
    }
}

/// Each a route's JSON with one thing Habitat's schemas forbid.
async fn drifted() -> Vec<(&'static str, Value)> {
    let [(_, services), (_, census), (_, butterfly)] = fetch_all().await;
    let broken = |mut doc: Value, edit: &dyn Fn(&mut Value)| {
        edit(&mut doc);
        doc
    };
    vec![
        (
            "/services",
            broken(services.clone(), &|d| {
                d[0].as_object_mut().unwrap().remove("spec_file");
            }),
        ),
        (
            "/services",
            broken(services.clone(), &|d| d[0]["topology"] = json!("Leader")),
        ),
        (
            "/services",
            broken(services.clone(), &|d| {
                d[0]["process"]["pid"] = json!("4242")
            }),
        ),
        (
            "/services",
            broken(services.clone(), &|d| d[0]["hooks"]["run"] = json!(7)),
        ),
        (
            "/services",
            broken(services, &|d| {
                d[0]["sys"].as_object_mut().unwrap().remove("permanent");
            }),
        ),
        (
            "/census",
            broken(census.clone(), &|d| {
                d["census_groups"]["redis.default"]
                    .as_object_mut()
                    .unwrap()
                    .remove("leader_id");
            }),
        ),
        (
            "/census",
            broken(census, &|d| {
                d["census_groups"]["redis.default"]["population"]["aaaa"]["pkg"]["extra"] =
                    json!("x");
            }),
        ),
        (
            "/butterfly",
            broken(butterfly.clone(), &|d| {
                d["latest_election"]["redis.default"]["status"] = json!("finished");
            }),
        ),
        (
            "/butterfly",
            broken(butterfly, &|d| {
                d["member"]["health"]["aaaa"] = json!("alive");
            }),
        ),
    ]
}

#[tokio::test]
async fn the_checker_catches_drift() {
    for (i, (route, doc)) in drifted().await.iter().enumerate() {
        let errs = check(&shape(route), doc, &Schemas::none());
        assert!(!errs.is_empty(), "case {i} on {route} went unnoticed");
    }
}

/// The same drift is caught by Habitat's own files, so a pass against them is not vacuous
/// (an unread keyword or an unresolved `$ref` would let it through).
#[tokio::test]
async fn habitats_schema_files_catch_the_same_drift_when_given() {
    let Some((schemas, ext)) = habitat::habitat_files() else {
        eprintln!("WARREN_HABITAT_SCHEMA_DIR not set: Habitat's own files not checked");
        return;
    };
    for (i, (route, doc)) in drifted().await.iter().enumerate() {
        let errs = check(&schemas[route], doc, &ext);
        assert!(
            !errs.is_empty(),
            "case {i} on {route} went unnoticed by Habitat's file"
        );
    }
}
