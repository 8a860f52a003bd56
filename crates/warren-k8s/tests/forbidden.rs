//! 403: one clear warning naming the verb and resource the Role lacks, logged once per
//! labeler, and the value given up rather than retried forever. In a binary of its own because
//! it installs a tracing subscriber.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::fake::Scripted;
use support::warnings::Warnings;
use support::{Env, opts, wait_until};
use warren_k8s::{Role, RoleLabeler};

#[tokio::test(flavor = "current_thread")]
async fn forbidden_is_logged_once_and_not_retried_forever() {
    let warnings = Arc::new(Mutex::new(Vec::new()));
    let _guard = tracing::subscriber::set_default(Warnings(warnings.clone()));

    let env = Env::start().await;
    env.fake.script([Scripted::code(403), Scripted::code(403)]);
    let h = RoleLabeler::new(env.client(), opts()).spawn();
    h.set_role(Role::Leader);
    wait_until("403", || h.stats().snapshot().forbidden == 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(env.statuses(), [403], "a forbidden value is not retried");

    // A new value is tried (and forbidden again), but the warning is not repeated.
    h.set_role(Role::Follower);
    wait_until("second 403", || h.stats().snapshot().forbidden == 2).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(env.statuses(), [403, 403]);

    let logged = warnings.lock().unwrap().clone();
    assert_eq!(logged.len(), 1, "{logged:#?}");
    assert!(
        logged[0].contains("\\\"patch\\\"") || logged[0].contains("\"patch\""),
        "{}",
        logged[0]
    );
    assert!(logged[0].contains("pods"), "{}", logged[0]);

    // Once the Role is fixed, the next change goes through.
    h.set_role(Role::Leader);
    wait_until("leader", || env.role().as_deref() == Some("leader")).await;
    assert_eq!(h.stats().snapshot().retried, 0);
}
