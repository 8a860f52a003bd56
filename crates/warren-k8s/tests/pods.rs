//! Reading pods against the fake API server: the request sent, a pod that exists, one deleted
//! (404: the only "gone"), answers that tell nothing, a name that is refused before anything is
//! sent, and 403 logged once naming `get` on `pods`, after which nothing more is sent. In a
//! binary of its own because it installs a tracing subscriber.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::{Arc, Mutex};

use support::fake::Scripted;
use support::warnings::Warnings;
use support::{Env, NS, POD};
use warren_k8s::{PodReader, PodState, PodStatsSnapshot};

#[tokio::test(flavor = "current_thread")]
async fn exists_then_gone_after_deletion() {
    let env = Env::start().await;
    env.fake.add_pod(NS, "warren-1");
    let mut pods = PodReader::new(env.client());
    assert_eq!(pods.read("warren-1").await, PodState::Exists);
    assert_eq!(pods.read(POD).await, PodState::Exists);
    env.fake.delete_pod(NS, "warren-1");
    assert_eq!(pods.read("warren-1").await, PodState::Gone);
    assert_eq!(pods.read("never-was").await, PodState::Gone);

    let reqs = env.fake.requests();
    assert_eq!(reqs.len(), 4, "{reqs:?}");
    assert_eq!(reqs[0].method, "GET");
    assert_eq!(
        reqs[0].path,
        format!("/api/v1/namespaces/{NS}/pods/warren-1")
    );
    assert_eq!(reqs[0].authorization.as_deref(), Some("Bearer tok-1"));
    assert_eq!(reqs[0].body, "");
    assert_eq!(env.statuses(), [200, 200, 404, 404]);
    assert_eq!(
        pods.stats().snapshot(),
        PodStatsSnapshot {
            exists: 2,
            gone: 2,
            ..PodStatsSnapshot::default()
        }
    );
}

#[tokio::test(flavor = "current_thread")]
async fn only_404_is_gone() {
    let env = Env::start().await;
    let mut pods = PodReader::new(env.client());
    for code in [500, 503, 429, 409, 401] {
        env.fake.script([Scripted::code(code)]);
        assert_eq!(pods.read(POD).await, PodState::Unknown, "{code}");
    }
    // A wrong token: 401 from the fake's own check, still not "gone".
    std::fs::write(&env.client_token, "wrong").unwrap();
    assert_eq!(pods.read("nope").await, PodState::Unknown);
    std::fs::write(&env.client_token, "tok-1").unwrap();
    // An API server that does not answer at all.
    let mut cfg = env.config.clone();
    cfg.api_port = support::closed_port();
    let mut unreachable = PodReader::new(warren_k8s::Client::new(cfg).unwrap());
    assert_eq!(unreachable.read(POD).await, PodState::Unknown);
    // Names that are not pod names are never sent: no path can be smuggled in.
    let before = env.fake.requests().len();
    for bad in ["../../secrets/token", "a/b", "Warren-0", "x?watch=1", ""] {
        assert_eq!(pods.read(bad).await, PodState::Unknown, "{bad:?}");
    }
    assert_eq!(env.fake.requests().len(), before);
    assert_eq!(pods.read(POD).await, PodState::Exists);
    assert_eq!(pods.stats().snapshot().gone, 0);
}

#[tokio::test(flavor = "current_thread")]
async fn forbidden_is_logged_once_and_stops_reading() {
    let warnings = Arc::new(Mutex::new(Vec::new()));
    let _guard = tracing::subscriber::set_default(Warnings(warnings.clone()));
    let env = Env::start().await;
    env.fake.script([Scripted::code(403)]);
    let mut pods = PodReader::new(env.client());
    assert_eq!(pods.read(POD).await, PodState::Forbidden);
    assert!(pods.is_forbidden());
    for _ in 0..3 {
        assert_eq!(pods.read(POD).await, PodState::Forbidden);
    }
    assert_eq!(env.statuses(), [403], "nothing is sent after a 403");
    assert_eq!(pods.stats().snapshot().forbidden, 1);
    let logged = warnings.lock().unwrap().clone();
    assert_eq!(logged.len(), 1, "{logged:#?}");
    assert!(
        logged[0].contains("verb \"get\" on resource \"pods\""),
        "{}",
        logged[0]
    );
}
