//! `warren run --kubernetes-role-label role` against a fake Kubernetes API server (the one of
//! `warren-k8s`'s tests, HTTPS with a test CA and a bearer token): three members of a leader
//! group label their pods `role=leader` / `role=follower`; after the leader is killed the new
//! leader's pod says `leader`; a gracefully stopped leader removes its label before it exits.
//! Each member's `/metrics` counts its acknowledged patches
//! (`warren_k8s_label_patches_total{outcome="ok"}`); `/census` has no trace of the labeler.

#[path = "../../crates/warren-k8s/tests/support/fake.rs"]
#[allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]
mod fake;

use std::time::Duration;

use warren_e2e::{Sup, repo_path, state_dir, wait_until};

const NS: &str = "ring";
const GROUP: &str = "hello.default";

fn leader_of(s: &Sup) -> Option<String> {
    s.leader_of(GROUP)
}

#[test]
fn the_pod_label_follows_the_role_and_goes_on_stop() {
    let test = "k8s-role";
    let rt = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("{e}"));
    let sa = state_dir(test, 99).join("serviceaccount");
    std::fs::create_dir_all(&sa).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(sa.join("token"), "tok\n").unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(sa.join("namespace"), NS).unwrap_or_else(|e| panic!("{e}"));
    let server_token = sa.join("server-token");
    std::fs::write(&server_token, "tok").unwrap_or_else(|e| panic!("{e}"));
    let api = rt.block_on(fake::Fake::start(server_token));
    std::fs::write(sa.join("ca.crt"), &api.ca_pem).unwrap_or_else(|e| panic!("{e}"));
    let port = api.addr.port().to_string();
    let sa_dir = sa.to_string_lossy().into_owned();
    let plan = repo_path("plans/hello").to_string_lossy().into_owned();
    let args = [
        plan.as_str(),
        "--topology",
        "leader",
        "--kubernetes-role-label",
        "role",
    ];
    let pods = ["pod-0", "pod-1", "pod-2"];
    let mut sups: Vec<Sup> = Vec::new();
    for (i, pod) in pods.iter().enumerate() {
        api.add_pod(NS, pod);
        let env = [
            ("POD_NAME", *pod),
            ("KUBERNETES_SERVICE_HOST", "127.0.0.1"),
            ("KUBERNETES_SERVICE_PORT", port.as_str()),
            ("WARREN_K8S_SERVICE_ACCOUNT_DIR", sa_dir.as_str()),
        ];
        let peers: Vec<_> = sups.iter().map(|s| s.gossip).collect();
        sups.push(Sup::start_env(&state_dir(test, i), &peers, &args, &env));
    }
    let role = |pod: &str| api.labels(NS, pod).and_then(|l| l.get("role").cloned());
    let labelled = |leader: usize, live: &[usize]| {
        live.iter().all(|&i| {
            let want = if i == leader { "leader" } else { "follower" };
            role(pods[i]).as_deref() == Some(want)
        })
    };
    let agreed = |live: &[usize]| -> Option<usize> {
        let l = leader_of(&sups[live[0]])?;
        live.iter()
            .all(|&i| leader_of(&sups[i]).as_deref() == Some(l.as_str()))
            .then(|| sups.iter().position(|s| s.id() == l))
            .flatten()
    };
    let all = [0, 1, 2];
    let mut leader = None;
    let ok = wait_until(Duration::from_secs(40), || {
        leader = agreed(&all);
        leader.is_some_and(|l| labelled(l, &all))
    });
    assert!(
        ok,
        "{test}: pods not labelled after the election: leader {leader:?}, labels {:?}",
        pods.map(role),
    );
    let first = leader.unwrap_or(0);

    // The patches are counted on /metrics (copied every second), every outcome present.
    let series = |outcome: &str| {
        format!("warren_k8s_label_patches_total{{service_group=\"{GROUP}\",outcome=\"{outcome}\"}}")
    };
    let ok = wait_until(Duration::from_secs(5), || {
        all.iter()
            .all(|&i| sups[i].metric(&series("ok")).is_some_and(|n| n >= 1.0))
    });
    assert!(
        ok,
        "{test}: ok patches not counted: {:?}",
        all.map(|i| sups[i].metric(&series("ok")))
    );
    for outcome in ["retried", "forbidden", "not_found", "failed"] {
        assert_eq!(
            sups[first].metric(&series(outcome)),
            Some(0.0),
            "{test}: {outcome} patches"
        );
    }
    let census = sups[first]
        .census()
        .map(|c| c.to_string())
        .unwrap_or_default();
    assert!(
        !census.contains("label_patches"),
        "{test}: the census mentions the labeler: {census}"
    );

    // The leader is killed: the new leader's pod is labelled leader, the other follower.
    sups[first].signal("KILL");
    let rest: Vec<usize> = all.iter().copied().filter(|&i| i != first).collect();
    let mut next = None;
    let ok = wait_until(Duration::from_secs(30), || {
        next = agreed(&rest).filter(|&n| n != first);
        next.is_some_and(|n| labelled(n, &rest))
    });
    assert!(
        ok,
        "{test}: labels after failover: leader {next:?}, labels {:?}",
        pods.map(role)
    );
    let next = next.unwrap_or(0);

    // A graceful stop removes the label before the process exits.
    sups[next].signal("TERM");
    let code = sups[next].wait_exit(Duration::from_secs(15));
    assert_eq!(code, Some(0), "{test}: SIGTERM did not exit 0");
    assert_eq!(
        role(pods[next]),
        None,
        "{test}: the stopped leader's pod still has its label"
    );
    let patches = api
        .requests()
        .iter()
        .filter(|r| r.method == "PATCH")
        .count();
    eprintln!("{test}: {patches} patches in all");
}
