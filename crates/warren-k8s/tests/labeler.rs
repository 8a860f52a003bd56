//! The role labeler against the fake API server: the request it sends, when it sends one, and
//! what it does with each kind of answer.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use support::fake::Scripted;
use support::{Env, NS, POD, opts, wait_until};
use warren_k8s::{Role, RoleLabeler, StatsSnapshot};

const STOP: Duration = Duration::from_secs(5);

#[tokio::test]
async fn patch_method_path_content_type_and_body() {
    let env = Env::start().await;
    let h = RoleLabeler::new(env.client(), opts()).spawn();
    h.set_role(Role::Leader);
    wait_until("leader label", || env.role().as_deref() == Some("leader")).await;
    let reqs = env.fake.requests();
    assert_eq!(reqs.len(), 1, "{reqs:?}");
    let r = &reqs[0];
    assert_eq!(r.method, "PATCH");
    assert_eq!(r.path, format!("/api/v1/namespaces/{NS}/pods/{POD}"));
    assert_eq!(
        r.content_type.as_deref(),
        Some("application/merge-patch+json")
    );
    assert_eq!(r.authorization.as_deref(), Some("Bearer tok-1"));
    assert_eq!(r.body, r#"{"metadata":{"labels":{"role":"leader"}}}"#);
    assert_eq!(r.status, 200);
    assert!(h.remove_and_stop(STOP).await);
}

#[tokio::test]
async fn label_follows_leader_follower_leader_with_custom_values() {
    let env = Env::start().await;
    let mut o = opts();
    o.leader_value = "primary".to_owned();
    let h = RoleLabeler::new(env.client(), o).spawn();
    h.set_role(Role::Leader);
    wait_until("leader", || env.role().as_deref() == Some("primary")).await;
    h.set_role(Role::Follower);
    wait_until("follower", || env.role().as_deref() == Some("follower")).await;
    h.set_role(Role::Leader);
    wait_until("leader again", || env.role().as_deref() == Some("primary")).await;
    let bodies: Vec<String> = env.fake.requests().into_iter().map(|r| r.body).collect();
    assert_eq!(
        bodies,
        [
            r#"{"metadata":{"labels":{"role":"primary"}}}"#,
            r#"{"metadata":{"labels":{"role":"follower"}}}"#,
            r#"{"metadata":{"labels":{"role":"primary"}}}"#,
        ]
    );
    // The fake applies a patch before the labeler reads its answer and counts it.
    wait_until("three patches counted", || h.stats().snapshot().ok == 3).await;
}

#[tokio::test]
async fn no_patch_when_the_role_did_not_change() {
    let env = Env::start().await;
    let h = RoleLabeler::new(env.client(), opts()).spawn();
    h.set_role(Role::Follower);
    wait_until("follower", || env.role().as_deref() == Some("follower")).await;
    for _ in 0..5 {
        h.set_role(Role::Follower);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Follower -> Leader -> Follower before the labeler wakes: it ends where it was acked.
    h.set_role(Role::Leader);
    h.set_role(Role::Follower);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(env.fake.requests().len(), 1, "{:?}", env.fake.requests());
    // None removes the label once; asking again sends nothing.
    h.set_role(Role::None);
    wait_until("removed", || env.role().is_none()).await;
    h.set_role(Role::None);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(env.fake.requests().len(), 2);
    // Stopping with the label already absent sends nothing more.
    assert!(h.remove_and_stop(STOP).await);
    assert_eq!(env.fake.requests().len(), 2);
}

#[tokio::test]
async fn graceful_stop_removes_the_label() {
    let env = Env::start().await;
    let h = RoleLabeler::new(env.client(), opts()).spawn();
    h.set_role(Role::Leader);
    wait_until("leader", || env.role().as_deref() == Some("leader")).await;
    assert!(h.remove_and_stop(STOP).await);
    assert_eq!(env.role(), None);
    assert_eq!(env.fake.labels(NS, POD).unwrap().len(), 0);
    let reqs = env.fake.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[1].body, r#"{"metadata":{"labels":{"role":null}}}"#);
}

#[tokio::test]
async fn retries_with_backoff_on_500_and_409_then_succeeds() {
    let env = Env::start().await;
    env.fake.script([
        Scripted::code(500),
        Scripted::code(409),
        Scripted::code(503),
    ]);
    let h = RoleLabeler::new(env.client(), opts()).spawn();
    h.set_role(Role::Leader);
    wait_until("leader", || env.role().as_deref() == Some("leader")).await;
    assert_eq!(env.statuses(), [500, 409, 503, 200]);
    let at: Vec<_> = env.fake.requests().iter().map(|r| r.at).collect();
    // Backoff 20, 40, 80 ms with equal jitter: at least 10, 20, 40 ms apart.
    for (i, min_ms) in [10u64, 20, 40].into_iter().enumerate() {
        let gap = at[i + 1] - at[i];
        assert!(gap >= Duration::from_millis(min_ms), "gap {i}: {gap:?}");
    }
    // The label shows before the labeler has read the 200 and counted it.
    wait_until("the 200 counted", || h.stats().snapshot().ok == 1).await;
    assert_eq!(
        h.stats().snapshot(),
        StatsSnapshot {
            ok: 1,
            retried: 3,
            ..StatsSnapshot::default()
        }
    );
}

#[tokio::test]
async fn honours_retry_after_on_429() {
    let env = Env::start().await;
    env.fake.script([Scripted {
        code: 429,
        retry_after: Some(1),
    }]);
    let h = RoleLabeler::new(env.client(), opts()).spawn();
    h.set_role(Role::Leader);
    wait_until("leader", || env.role().as_deref() == Some("leader")).await;
    let reqs = env.fake.requests();
    assert_eq!(env.statuses(), [429, 200]);
    let gap = reqs[1].at - reqs[0].at;
    assert!(gap >= Duration::from_secs(1), "retried after {gap:?}");
    assert!(gap < Duration::from_secs(2), "retried after {gap:?}");
}

#[tokio::test]
async fn a_newer_role_supersedes_a_value_being_retried() {
    let env = Env::start().await;
    env.fake.script([Scripted {
        code: 503,
        retry_after: Some(30),
    }]);
    let h = RoleLabeler::new(env.client(), opts()).spawn();
    h.set_role(Role::Leader);
    wait_until("first attempt", || env.fake.requests().len() == 1).await;
    h.set_role(Role::Follower);
    wait_until("follower", || env.role().as_deref() == Some("follower")).await;
    assert_eq!(env.statuses(), [503, 200]);
    assert!(env.fake.requests()[1].body.contains("follower"));
}

#[tokio::test]
async fn unauthorized_then_success_once_the_token_file_changes() {
    let env = Env::start().await;
    // The API server now wants a rotated token the client's file does not hold yet.
    std::fs::write(&env.server_token, "tok-2").unwrap();
    let mut o = opts();
    o.backoff_base = Duration::from_millis(300);
    o.backoff_cap = Duration::from_millis(300);
    let h = RoleLabeler::new(env.client(), o).spawn();
    h.set_role(Role::Leader);
    wait_until("three 401s", || env.fake.requests().len() >= 3).await;
    assert_eq!(env.role(), None);
    // The kubelet rewrites the projected token: the next attempt reads it.
    std::fs::write(&env.client_token, "tok-2\n").unwrap();
    wait_until("leader", || env.role().as_deref() == Some("leader")).await;
    let reqs = env.fake.requests();
    let (last, failed) = reqs.split_last().unwrap();
    assert_eq!(last.authorization.as_deref(), Some("Bearer tok-2"));
    assert!(
        failed
            .iter()
            .all(|r| r.status == 401 && r.authorization.as_deref() == Some("Bearer tok-1")),
        "{reqs:?}"
    );
    // The first 401 is retried at once (the token re-read); later ones back off (>= 150 ms).
    let gap = |i: usize| reqs[i + 1].at - reqs[i].at;
    assert!(gap(0) < Duration::from_millis(150), "{:?}", gap(0));
    assert!(gap(1) >= Duration::from_millis(150), "{:?}", gap(1));
    assert!(h.remove_and_stop(STOP).await);
}

#[tokio::test]
async fn not_found_stops_the_labeler() {
    let env = Env::start().await;
    env.fake.delete_pod(NS, POD);
    let h = RoleLabeler::new(env.client(), opts()).spawn();
    h.set_role(Role::Leader);
    wait_until("task ended", || h.is_finished()).await;
    h.set_role(Role::Follower);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(env.statuses(), [404]);
    assert_eq!(h.stats().snapshot().gone, 1);
    // Stopping a labeler that has already ended returns at once, sending nothing.
    assert!(h.remove_and_stop(STOP).await);
    assert_eq!(env.statuses(), [404]);
}

#[tokio::test]
async fn another_rejection_is_counted_as_failed_and_not_retried() {
    let env = Env::start().await;
    env.fake.script([Scripted::code(422)]);
    let h = RoleLabeler::new(env.client(), opts()).spawn();
    h.set_role(Role::Leader);
    wait_until("422", || h.stats().snapshot().failed == 1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(env.statuses(), [422]);
    h.set_role(Role::Follower);
    wait_until("follower", || env.role().as_deref() == Some("follower")).await;
}
