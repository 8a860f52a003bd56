//! Snapshot tests (expect-test) of `/services`, `/census` and `/butterfly` for a three-member
//! ring whose `redis.default` group has leader topology and an elected leader: any change in
//! the JSON shows up as a reviewed diff in `tests/snapshots/*.json`
//! (`UPDATE_EXPECT=1 cargo test -p warren-gateway --test json_snapshots` to accept one).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;

use expect_test::expect_file;
use serde_json::Value;
use support::{fixtures, http};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

async fn served(routes: &[&str]) -> Vec<Value> {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (_tx, rx) = watch::channel(Arc::new(fixtures::snapshot()));
    let stop = CancellationToken::new();
    let task = tokio::spawn(warren_gateway::serve(listener, rx, stop.clone()));
    let mut out = Vec::new();
    for route in routes {
        let r = http::get(addr, "GET", route, &[]).await;
        assert_eq!(r.status, 200, "{route}: {}", r.text());
        assert_eq!(r.header("content-type"), Some("application/json"));
        out.push(r.json());
    }
    stop.cancel();
    task.await.unwrap().unwrap();
    out
}

fn pretty(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap();
    s.push('\n');
    s
}

#[tokio::test]
async fn services_json() {
    let docs = served(&["/services", "/services/redis/default"]).await;
    expect_file!["snapshots/services.json"].assert_eq(&pretty(&docs[0]));
    assert_eq!(
        docs[0][0], docs[1],
        "/services[0] is /services/redis/default"
    );
}

#[tokio::test]
async fn census_json() {
    let docs = served(&["/census"]).await;
    let g = &docs[0]["census_groups"]["redis.default"];
    assert_eq!(g["leader_id"], "bbbb");
    assert_eq!(g["population"]["aaaa"]["follower"], true);
    assert_eq!(g["population"]["bbbb"]["leader"], true);
    expect_file!["snapshots/census.json"].assert_eq(&pretty(&docs[0]));
}

#[tokio::test]
async fn butterfly_json() {
    let docs = served(&["/butterfly"]).await;
    assert_eq!(
        docs[0]["latest_election"]["redis.default"]["status"],
        "Finished"
    );
    expect_file!["snapshots/butterfly.json"].assert_eq(&pretty(&docs[0]));
}

#[tokio::test]
async fn config_and_health_json() {
    let docs = served(&[
        "/services/redis/default/config",
        "/services/redis/default/health",
    ])
    .await;
    expect_file!["snapshots/config.json"].assert_eq(&pretty(&docs[0]));
    expect_file!["snapshots/health.json"].assert_eq(&pretty(&docs[1]));
}
