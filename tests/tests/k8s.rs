//! `warren run --kubernetes-role-label role` and `--kubernetes-depart-gone` against a fake
//! Kubernetes API server (the one of `warren-k8s`'s tests, HTTPS with a test CA and a bearer
//! token). Role label: three members of a leader group label their pods `role=leader` /
//! `role=follower`; after the leader is killed the new leader's pod says `leader`; a gracefully
//! stopped leader removes its label before it exits; each member's `/metrics` counts its
//! acknowledged patches (`warren_k8s_label_patches_total{outcome="ok"}`) and `/census` has no
//! trace of the labeler. Departures: of two killed followers, the
//! leader departs the one whose pod was deleted and keeps the other, whose pod still exists,
//! until its pod is deleted too.

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

/// The fake API server (on its own runtime, kept alive by the caller), and the service-account
/// directory and API port the members are given.
struct Api {
    _rt: tokio::runtime::Runtime,
    fake: fake::Fake,
    sa_dir: String,
    port: String,
}

impl Api {
    fn start(test: &str) -> Api {
        let rt = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("{e}"));
        let sa = state_dir(test, 99).join("serviceaccount");
        std::fs::create_dir_all(&sa).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(sa.join("token"), "tok\n").unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(sa.join("namespace"), NS).unwrap_or_else(|e| panic!("{e}"));
        let server_token = sa.join("server-token");
        std::fs::write(&server_token, "tok").unwrap_or_else(|e| panic!("{e}"));
        let fake = rt.block_on(fake::Fake::start(server_token));
        std::fs::write(sa.join("ca.crt"), &fake.ca_pem).unwrap_or_else(|e| panic!("{e}"));
        Api {
            port: fake.addr.port().to_string(),
            fake,
            sa_dir: sa.to_string_lossy().into_owned(),
            _rt: rt,
        }
    }

    /// The environment of the member in pod `pod`.
    fn env<'a>(&'a self, pod: &'a str) -> [(&'a str, &'a str); 4] {
        [
            ("POD_NAME", pod),
            ("KUBERNETES_SERVICE_HOST", "127.0.0.1"),
            ("KUBERNETES_SERVICE_PORT", self.port.as_str()),
            ("WARREN_K8S_SERVICE_ACCOUNT_DIR", self.sa_dir.as_str()),
        ]
    }
}

#[test]
fn the_pod_label_follows_the_role_and_goes_on_stop() {
    let test = "k8s-role";
    let started = Api::start(test);
    let api = &started.fake;
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
        let peers: Vec<_> = sups.iter().map(|s| s.gossip).collect();
        let env = started.env(pod);
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

/// The fake's answers to reads of `pod`, in order.
fn reads(api: &fake::Fake, pod: &str) -> Vec<u16> {
    let path = format!("/api/v1/namespaces/{NS}/pods/{pod}");
    api.requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path == path)
        .map(|r| r.status)
        .collect()
}

#[test]
fn the_leader_departs_a_member_whose_pod_is_gone() {
    let test = "k8s-depart";
    let started = Api::start(test);
    let api = &started.fake;
    let plan = repo_path("plans/hello").to_string_lossy().into_owned();
    // Down and gone for 3 s before a departure; pods read every second.
    let args = [
        plan.as_str(),
        "--topology",
        "leader",
        "--kubernetes-depart-gone=3",
    ];
    // Five members, so that two killed at once leave a majority (and so a leader).
    let pods = ["pod-0", "pod-1", "pod-2", "pod-3", "pod-4"];
    let mut sups: Vec<Sup> = Vec::new();
    for (i, pod) in pods.iter().enumerate() {
        api.add_pod(NS, pod);
        let peers: Vec<_> = sups.iter().map(|s| s.gossip).collect();
        let env = started.env(pod);
        sups.push(Sup::start_env(&state_dir(test, i), &peers, &args, &env));
    }
    let agreed = |live: &[usize]| -> Option<usize> {
        let l = leader_of(&sups[live[0]])?;
        live.iter()
            .all(|&i| leader_of(&sups[i]).as_deref() == Some(l.as_str()))
            .then(|| sups.iter().position(|s| s.id() == l))
            .flatten()
    };
    let all = [0, 1, 2, 3, 4];
    let mut leader = None;
    let ok = wait_until(Duration::from_secs(60), || {
        leader = agreed(&all);
        leader.is_some()
    });
    assert!(ok, "{test}: no agreed leader");
    let leader = leader.unwrap_or(0);
    // The pod name is published as sys.hostname (the leader reads pods by it).
    let census = sups[leader].census().unwrap_or_default();
    let host = &census["census_groups"][GROUP]["population"][sups[leader].id()]["sys"]["hostname"];
    assert_eq!(host.as_str(), Some(pods[leader]), "{test}: sys.hostname");
    let followers: Vec<usize> = all.iter().copied().filter(|&i| i != leader).collect();
    let (gone, kept) = (followers[0], followers[1]);
    let live: Vec<usize> = followers[2..].iter().copied().chain([leader]).collect();
    let (gone_id, kept_id) = (sups[gone].id(), sups[kept].id());

    sups[gone].signal("KILL");
    sups[kept].signal("KILL");
    api.delete_pod(NS, pods[gone]);
    let killed = std::time::Instant::now();
    let health = |id: &str| sups[leader].health_of(id);
    let ok = wait_until(Duration::from_secs(30), || {
        health(&gone_id).as_deref() == Some("Departed")
    });
    assert!(
        ok,
        "{test}: the member whose pod is gone was not departed: {:?}; reads of its pod {:?}",
        health(&gone_id),
        reads(api, pods[gone])
    );
    eprintln!("{test}: departed {:?} after the kill", killed.elapsed());
    // Everyone alive hears of it (it is a Departure rumor).
    let ok = wait_until(Duration::from_secs(10), || {
        live.iter()
            .all(|&i| sups[i].health_of(&gone_id).as_deref() == Some("Departed"))
    });
    assert!(ok, "{test}: the departure did not reach every member");
    assert_eq!(reads(api, pods[gone]).last(), Some(&404));

    // The member whose pod still exists is read, found, and kept, down as it is, for longer
    // than it took to depart the other.
    std::thread::sleep(Duration::from_secs(8));
    let h = health(&kept_id);
    assert!(
        matches!(h.as_deref(), Some("Suspect" | "Confirmed")),
        "{test}: the member whose pod exists is {h:?}"
    );
    let kept_reads = reads(api, pods[kept]);
    assert!(
        kept_reads.len() >= 3 && kept_reads.iter().all(|&s| s == 200),
        "{test}: reads of the kept member's pod: {kept_reads:?}"
    );
    assert_eq!(
        agreed(&live),
        Some(leader),
        "{test}: the group lost its leader: {:?}",
        live.iter()
            .map(|&i| leader_of(&sups[i]))
            .collect::<Vec<_>>()
    );

    // Its pod deleted now, it is departed as well.
    api.delete_pod(NS, pods[kept]);
    let ok = wait_until(Duration::from_secs(30), || {
        health(&kept_id).as_deref() == Some("Departed")
    });
    assert!(
        ok,
        "{test}: not departed after its pod was deleted: {:?}; reads {:?}",
        health(&kept_id),
        reads(api, pods[kept])
    );
    let log = std::fs::read_to_string(sups[leader].root.join("warren.log")).unwrap_or_default();
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("no longer exists"))
        .collect();
    assert_eq!(lines.len(), 2, "{test}: departure log lines: {lines:#?}");
    assert!(
        lines[0].contains(&gone_id) && lines[0].contains(pods[gone]),
        "{}",
        lines[0]
    );
    let gets = api.requests().iter().filter(|r| r.method == "GET").count();
    eprintln!("{test}: {gets} pod reads in all");
}
