//! Warren in real containers (runs only with `WARREN_DOCKER=1`; `.ci/run` sets it whenever
//! `docker info` succeeds, and then it must not skip): the images of `deploy/container/build.sh`
//! on a user-defined Docker network, each container with its own address.
//!
//! The run follows what a Kubernetes user does, in the order Kubernetes does it:
//! 1. three `warren-redis` members (`--topology leader --kubernetes-role-label role`, peering
//!    the ring by the network alias `ring`) start before the ring, so the name resolves to
//!    nothing at first; then three `warren` management-ring members in empty mode. The ring
//!    forms; the group elects one leader, its redis is the master, the two others replicate,
//!    and the fake Kubernetes API (on the host, HTTPS, reached through the network's gateway)
//!    holds `role=leader` / `role=follower` on the three pods;
//! 2. `docker kill` of the leader: a new leader, its pod labelled, the follower re-pointed, a
//!    write on the new leader read on the follower; the killed container started again follows;
//! 3. a ring member disconnected from the network for 30 s is suspected, and Alive again after
//!    reconnecting, without a restart;
//! 4. the leader's container cut off: it stops saying it leads before the majority's new leader
//!    says it does (no moment with two members each saying so), and the new leader removes the
//!    cut one's stale `role=leader` label (it cannot reach the API itself); after the heal, one
//!    leader;
//! 5. rolling replacement, one member at a time, 3 rounds each of graceful stop or SIGKILL with a
//!    fresh identity (a new pod, a new volume) or the identity kept (the pod's volume re-used):
//!    after every step one leader, replication, and never two members saying they lead;
//! 6. every container stops with exit code 0 on `docker stop` with no zombie left inside (an
//!    orphan made inside is reaped by Warren as PID 1), and the empty-mode members' resident
//!    memory is measured.
//!
//! The timings are printed as one JSON object and written to `target/docker-e2e.json`.
//! Containers, the network and the volumes carry the label `warren-e2e=<run>` and are removed
//! when the test ends, failed or not. Not covered here: Kubernetes itself (no cluster); the
//! manifests are checked by `scripts/check-manifests.py`.

#[path = "../../crates/warren-k8s/tests/support/fake.rs"]
#[allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]
mod fake;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use warren_e2e::{http_get, repo_path, state_dir, wait_until};

const SWITCH: &str = "WARREN_DOCKER";
const NS: &str = "warren-e2e";
const GROUP: &str = "redis.default";
const LABEL: &str = "warren-e2e";
/// Loose bounds for real time on a shared 2-core machine; the targets are half of these, and the
/// measured values are in the summary.
const ELECT: Duration = Duration::from_secs(60);
const FAILOVER_BOUND: Duration = Duration::from_secs(20);

/// `docker ARGS`: stdout (trimmed) when it exits 0, else stderr.
fn docker(args: &[&str]) -> Result<String, String> {
    let out = Command::new("docker")
        .args(args)
        .output()
        .map_err(|e| format!("docker: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(format!(
            "docker {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn must(args: &[&str]) -> String {
    docker(args).unwrap_or_else(|e| panic!("{e}"))
}

/// One container: a member of the ring or of the redis group.
#[derive(Clone, Debug)]
struct Node {
    /// The container's name.
    name: String,
    /// Its host name: the pod name the labeler patches.
    pod: String,
    ip: Ipv4Addr,
    /// The volume mounted at `/hab` (its identity), for redis members.
    volume: Option<String>,
}

impl Node {
    fn http(&self) -> SocketAddr {
        SocketAddr::new(IpAddr::V4(self.ip), 9631)
    }

    /// `/census` over the network.
    fn census(&self) -> Option<Value> {
        http_get(self.http(), "/census").and_then(|b| serde_json::from_str(&b).ok())
    }

    /// `/census` from inside the container (works while it is cut off from the network).
    fn census_inside(&self) -> Option<Value> {
        let body = docker(&[
            "exec",
            &self.name,
            // busybox's `wget -T` crashes (1.35, static); its `timeout` bounds the request.
            "timeout",
            "3",
            "wget",
            "-q",
            "-O",
            "-",
            "http://127.0.0.1:9631/census",
        ])
        .ok()?;
        serde_json::from_str(&body).ok()
    }

    fn butterfly(&self) -> Option<Value> {
        http_get(self.http(), "/butterfly").and_then(|b| serde_json::from_str(&b).ok())
    }

    /// `redis-cli ARGS` against this member's redis, from the host.
    fn redis(&self, args: &[&str]) -> Option<Vec<String>> {
        let out = Command::new("timeout")
            .arg("3")
            .arg("redis-cli")
            .args(["-h", &self.ip.to_string(), "-p", "6379"])
            .args(args)
            .output()
            .ok()?;
        out.status.success().then(|| {
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(|l| l.trim().to_owned())
                .collect()
        })
    }

    fn is_master(&self) -> bool {
        self.redis(&["ROLE"])
            .is_some_and(|r| r.first().map(String::as_str) == Some("master"))
    }

    fn replicates_from(&self, leader: &Node) -> bool {
        self.redis(&["ROLE"]).is_some_and(|r| {
            r.len() >= 4 && r[0] == "slave" && r[1] == leader.ip.to_string() && r[3] == "connected"
        })
    }
}

/// The member id a census is from.
fn local_id(c: &Value) -> Option<String> {
    c["local_member_id"].as_str().map(str::to_owned)
}

/// The leader a census names for the group, once its election finished.
fn leader_in(c: &Value) -> Option<String> {
    let g = &c["census_groups"][GROUP];
    (g["election_status"] == "ElectionFinished")
        .then(|| g["leader_id"].as_str().map(str::to_owned))
        .flatten()
}

/// The census says that its own member leads the group.
fn claims(c: &Value) -> bool {
    leader_in(c).is_some() && leader_in(c) == local_id(c)
}

/// One sweep over `nodes`: the indices of those whose census says that they lead.
fn claimers(nodes: &[Node]) -> Vec<usize> {
    nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| n.census().is_some_and(|c| claims(&c)))
        .map(|(i, _)| i)
        .collect()
}

/// The index of the member all of `nodes` agree leads, if they do.
fn agreed(nodes: &[Node]) -> Option<usize> {
    let censuses: Vec<Value> = nodes.iter().map(Node::census).collect::<Option<_>>()?;
    let leader = leader_in(&censuses[0])?;
    if !censuses
        .iter()
        .all(|c| leader_in(c).as_deref() == Some(&leader))
    {
        return None;
    }
    censuses
        .iter()
        .position(|c| local_id(c).as_deref() == Some(&leader))
}

/// Whatever the run made; dropping it removes the containers, volumes and network.
struct Run {
    id: String,
    net: String,
    subnet: [u8; 3],
    gateway: Ipv4Addr,
    next_host: u8,
    next_pod: usize,
    sa_dir: PathBuf,
    api_port: u16,
}

impl Drop for Run {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for name in docker(&[
                "ps",
                "-aq",
                "--filter",
                &format!("label={LABEL}={}", self.id),
            ])
            .unwrap_or_default()
            .lines()
            {
                let logs = Command::new("docker")
                    .args(["logs", "--tail", "30", name])
                    .output()
                    .map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
                    .unwrap_or_default();
                eprintln!("--- container {name}, last lines:\n{logs}");
            }
        }
        remove_everything(&format!("{LABEL}={}", self.id));
    }
}

/// Removes the containers, network and volumes labelled `label` (`key=value`, or `key` for
/// what any run left behind).
fn remove_everything(label: &str) {
    let filter = format!("label={label}");
    let ids = docker(&["ps", "-aq", "--filter", &filter]).unwrap_or_default();
    let ids: Vec<&str> = ids.lines().collect();
    if !ids.is_empty() {
        let mut args = vec!["rm", "-f", "-v"];
        args.extend(ids);
        let _ = docker(&args);
    }
    for kind in ["network", "volume"] {
        let names = docker(&[kind, "ls", "-q", "--filter", &filter]).unwrap_or_default();
        for n in names.lines() {
            let _ = docker(&[kind, "rm", n]);
        }
    }
}

impl Run {
    fn new(api_dir: PathBuf) -> Run {
        remove_everything(LABEL);
        let id = format!("we{}", std::process::id());
        let net = format!("{id}-net");
        // A /24 of our own, so that every container keeps its address across a disconnect.
        let mut chosen = None;
        for second in 200..=250u8 {
            let subnet = [10, second, (std::process::id() % 250) as u8];
            let cidr = format!("{}.{}.{}.0/24", subnet[0], subnet[1], subnet[2]);
            if docker(&[
                "network",
                "create",
                "--label",
                &format!("{LABEL}={id}"),
                "--subnet",
                &cidr,
                &net,
            ])
            .is_ok()
            {
                chosen = Some(subnet);
                break;
            }
        }
        let subnet = chosen.unwrap_or_else(|| panic!("no free /24 for the test network"));
        let gateway = Ipv4Addr::new(subnet[0], subnet[1], subnet[2], 1);
        Run {
            id,
            net,
            subnet,
            gateway,
            next_host: 10,
            next_pod: 0,
            sa_dir: api_dir,
            api_port: 0,
        }
    }

    fn next_ip(&mut self) -> Ipv4Addr {
        self.next_host += 1;
        Ipv4Addr::new(
            self.subnet[0],
            self.subnet[1],
            self.subnet[2],
            self.next_host,
        )
    }

    fn new_pod(&mut self) -> String {
        self.next_pod += 1;
        format!("redis-{}", self.next_pod - 1)
    }

    /// Starts a management-ring member (empty mode).
    fn start_ring(&mut self, i: usize) -> Node {
        let node = Node {
            name: format!("{}-ring-{i}", self.id),
            pod: format!("ring-{i}"),
            ip: self.next_ip(),
            volume: None,
        };
        let ip = node.ip.to_string();
        must(&[
            "run",
            "-d",
            "--name",
            &node.name,
            "--hostname",
            &node.pod,
            "--label",
            &format!("{LABEL}={}", self.id),
            "--network",
            &self.net,
            "--ip",
            &ip,
            "--network-alias",
            "ring",
            "warren:local",
            "run",
            "--peer",
            "ring",
        ]);
        node
    }

    /// Starts a redis member on pod `pod` with the volume `volume` (created if new).
    fn start_redis(&mut self, pod: &str, volume: &str, generation: usize) -> Node {
        let label = format!("{LABEL}={}", self.id);
        if docker(&["volume", "inspect", volume]).is_err() {
            must(&["volume", "create", "--label", &label, volume]);
        }
        let node = Node {
            name: format!("{}-{pod}-g{generation}", self.id),
            pod: pod.to_owned(),
            ip: self.next_ip(),
            volume: Some(volume.to_owned()),
        };
        let ip = node.ip.to_string();
        let mount = format!("{volume}:/hab");
        let sa = format!(
            "{}:/var/run/secrets/kubernetes.io/serviceaccount:ro",
            self.sa_dir.display()
        );
        let env = [
            format!("POD_NAME={pod}"),
            format!("POD_NAMESPACE={NS}"),
            format!("KUBERNETES_SERVICE_HOST={}", self.gateway),
            format!("KUBERNETES_SERVICE_PORT={}", self.api_port),
        ];
        let mut args = vec![
            "run",
            "-d",
            "--name",
            &node.name,
            "--hostname",
            pod,
            "--label",
            &label,
            "--network",
            &self.net,
            "--ip",
            &ip,
            "-v",
            &mount,
            "-v",
            &sa,
        ];
        for e in &env {
            args.extend(["-e", e.as_str()]);
        }
        args.extend([
            "warren-redis:local",
            "run",
            "/plans/redis",
            "--topology",
            "leader",
            "--kubernetes-role-label",
            "role",
            "--peer",
            "ring",
        ]);
        must(&args);
        node
    }
}

/// Milliseconds since `t0`, as seconds with two decimals (for the summary).
fn secs(d: Duration) -> f64 {
    (d.as_secs_f64() * 100.0).round() / 100.0
}

fn role_label(api: &fake::Fake, pod: &str) -> Option<String> {
    api.labels(NS, pod).and_then(|l| l.get("role").cloned())
}

/// The group agrees on one leader: its redis is the master, every other member replicates from
/// it, a key written on it is read on each follower, and the pods are labelled accordingly.
fn check_group(api: &fake::Fake, nodes: &[Node], what: &str) -> usize {
    let mut leader = None;
    assert!(
        wait_until(ELECT, || {
            leader = agreed(nodes);
            leader.is_some()
        }),
        "{what}: no leader agreed by {:?}: {:?}",
        nodes.iter().map(|n| &n.name).collect::<Vec<_>>(),
        nodes
            .iter()
            .map(|n| n.census().map(|c| c["census_groups"][GROUP].clone()))
            .collect::<Vec<_>>()
    );
    let l = leader.unwrap_or_default();
    let lead = &nodes[l];
    assert!(
        wait_until(Duration::from_secs(30), || lead.is_master()
            && nodes
                .iter()
                .enumerate()
                .all(|(i, n)| i == l || n.replicates_from(lead))),
        "{what}: replication: {:?}",
        nodes.iter().map(|n| n.redis(&["ROLE"])).collect::<Vec<_>>()
    );
    let value = format!("{what}-{}", std::process::id());
    let mut reply = None;
    assert!(
        wait_until(Duration::from_secs(10), || {
            reply = lead.redis(&["SET", "warren-e2e", &value]);
            reply.as_ref().and_then(|r| r.first()).map(String::as_str) == Some("OK")
        }),
        "{what}: SET on the leader {}: {reply:?}",
        lead.name
    );
    for (i, n) in nodes.iter().enumerate() {
        if i != l {
            assert!(
                wait_until(Duration::from_secs(10), || n
                    .redis(&["GET", "warren-e2e"])
                    .is_some_and(|r| r.first() == Some(&value))),
                "{what}: {} does not read the leader's write",
                n.name
            );
        }
    }
    assert!(
        wait_until(Duration::from_secs(20), || nodes
            .iter()
            .enumerate()
            .all(|(i, n)| role_label(api, &n.pod).as_deref()
                == Some(if i == l { "leader" } else { "follower" }))),
        "{what}: pod labels {:?}",
        nodes
            .iter()
            .map(|n| (n.pod.clone(), role_label(api, &n.pod)))
            .collect::<Vec<_>>()
    );
    l
}

#[test]
fn warren_in_containers_elects_fails_over_and_replaces_members() {
    if std::env::var_os(SWITCH).is_none() {
        eprintln!(
            "skipped: set {SWITCH}=1 (needs Docker Engine; .ci/run sets it when `docker info` succeeds)"
        );
        return;
    }
    must(&["info", "--format", "{{.ServerVersion}}"]);
    // The images hold the shipping build (`--profile dist`), which the script builds (a no-op
    // when `.ci/run` built it already); the resident-memory target is the shipping build's.
    let build = Command::new("bash")
        .arg(repo_path("deploy/container/build.sh"))
        .output()
        .unwrap_or_else(|e| panic!("deploy/container/build.sh: {e}"));
    assert!(
        build.status.success(),
        "deploy/container/build.sh failed:\n{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let image_sizes = String::from_utf8_lossy(&build.stdout).trim().to_owned();
    let mut summary = serde_json::Map::new();
    summary.insert(
        "images".into(),
        json!(image_sizes.lines().collect::<Vec<_>>()),
    );

    // The fake API server listens on the network's gateway; its service-account directory is
    // mounted read-only into each redis container where in-cluster clients look for it.
    let sa = state_dir("docker", 0).join("serviceaccount");
    std::fs::create_dir_all(&sa).unwrap_or_else(|e| panic!("{e}"));
    let mut run = Run::new(sa.clone());
    std::fs::write(sa.join("token"), "e2e-token\n").unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(sa.join("namespace"), NS).unwrap_or_else(|e| panic!("{e}"));
    let server_token = state_dir("docker", 1).join("server-token");
    std::fs::write(&server_token, "e2e-token").unwrap_or_else(|e| panic!("{e}"));
    let rt = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("{e}"));
    let api = rt.block_on(fake::Fake::start_on(server_token, run.gateway.into()));
    std::fs::write(sa.join("ca.crt"), &api.ca_pem).unwrap_or_else(|e| panic!("{e}"));
    run.api_port = api.addr.port();

    // 1. Kubernetes order: the redis members first, then the ring.
    let mut redis: Vec<Node> = Vec::new();
    for _ in 0..3 {
        let pod = run.new_pod();
        api.add_pod(NS, &pod);
        let volume = format!("{}-{pod}", run.id);
        redis.push(run.start_redis(&pod, &volume, 0));
    }
    std::thread::sleep(Duration::from_secs(2));
    let ring_start = Instant::now();
    let ring: Vec<Node> = (0..3).map(|i| run.start_ring(i)).collect();
    let everyone: Vec<Node> = ring.iter().chain(&redis).cloned().collect();
    let whole = |n: &Node| {
        n.butterfly().is_some_and(|b| {
            b["membership"]
                .as_object()
                .is_some_and(|m| m.values().filter(|v| v["health"] == "Alive").count() >= 5)
        })
    };
    assert!(
        wait_until(ELECT, || everyone.iter().all(whole)),
        "the ring of 6 did not form: {:?}",
        everyone.iter().map(Node::butterfly).collect::<Vec<_>>()
    );
    let formed = ring_start.elapsed();
    summary.insert("ring_formed_s".into(), json!(secs(formed)));
    // The peer name is re-resolved every ≤ 2 s while it resolves to nothing (it was 30 s).
    assert!(
        formed < Duration::from_secs(15),
        "ring formed only after {formed:?}"
    );
    let l = check_group(&api, &redis, "start");
    summary.insert("first_leader_s".into(), json!(secs(ring_start.elapsed())));

    // 2. SIGKILL of the leader.
    let killed = redis[l].clone();
    let t_kill = Instant::now();
    must(&["kill", &killed.name]);
    let survivors: Vec<Node> = redis
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != l)
        .map(|(_, n)| n.clone())
        .collect();
    let mut new_pod = None;
    assert!(
        wait_until(Duration::from_secs(60), || {
            new_pod = survivors
                .iter()
                .find(|n| role_label(&api, &n.pod).as_deref() == Some("leader"))
                .map(|n| n.pod.clone());
            new_pod.is_some()
        }),
        "no survivor labelled leader after the kill"
    );
    let kill_to_label = t_kill.elapsed();
    summary.insert(
        "kill_to_new_leader_label_s".into(),
        json!(secs(kill_to_label)),
    );
    assert!(
        kill_to_label < FAILOVER_BOUND,
        "new leader labelled {kill_to_label:?} after the kill"
    );
    check_group(&api, &survivors, "after-kill");
    must(&["start", &killed.name]);
    check_group(&api, &redis, "killed-leader-back");

    // 3. A ring member cut off for 30 s, then back, without a restart.
    let cut = &ring[1];
    let cut_id = cut
        .census()
        .and_then(|c| local_id(&c))
        .unwrap_or_else(|| panic!("no census from {}", cut.name));
    let started_at = must(&["inspect", "-f", "{{.State.StartedAt}}", &cut.name]);
    let t_cut = Instant::now();
    must(&["network", "disconnect", &run.net, &cut.name]);
    let health_of = |n: &Node| {
        n.butterfly().and_then(|b| {
            b["membership"][&cut_id]["health"]
                .as_str()
                .map(str::to_owned)
        })
    };
    let mut suspected = None;
    assert!(
        wait_until(Duration::from_secs(30), || {
            let h = health_of(&ring[0]);
            let gone = matches!(h.as_deref(), Some("Suspect" | "Confirmed"));
            if gone && suspected.is_none() {
                suspected = Some(t_cut.elapsed());
            }
            gone
        }),
        "the cut ring member was never suspected"
    );
    let rest = Duration::from_secs(30).saturating_sub(t_cut.elapsed());
    std::thread::sleep(rest);
    let was = health_of(&ring[0]);
    let cut_ip = cut.ip.to_string();
    must(&[
        "network", "connect", "--ip", &cut_ip, "--alias", "ring", &run.net, &cut.name,
    ]);
    let t_back = Instant::now();
    assert!(
        wait_until(Duration::from_secs(30), || health_of(&ring[0]).as_deref()
            == Some("Alive")
            && health_of(&ring[2]).as_deref() == Some("Alive")),
        "the reconnected ring member is not Alive again: {:?}",
        health_of(&ring[0])
    );
    assert_eq!(
        must(&["inspect", "-f", "{{.State.StartedAt}}", &cut.name]),
        started_at,
        "the cut member was restarted"
    );
    summary.insert(
        "ring_member_cut".into(),
        json!({
            "suspected_after_s": suspected.map(secs),
            "health_after_30s": was,
            "alive_again_after_reconnect_s": secs(t_back.elapsed()),
            "restarted": false,
        }),
    );

    // 4. The leader's container cut off from the network.
    let l = agreed(&redis).unwrap_or_else(|| panic!("no agreed leader before the partition"));
    let (cut, majority): (Vec<Node>, Vec<Node>) = {
        let mut c = Vec::new();
        let mut m = Vec::new();
        for (i, n) in redis.iter().enumerate() {
            if i == l {
                c.push(n.clone())
            } else {
                m.push(n.clone())
            }
        }
        (c, m)
    };
    let cut = &cut[0];
    let t_part = Instant::now();
    must(&["network", "disconnect", &run.net, &cut.name]);
    let mut last_cut_claim = Duration::ZERO;
    let mut first_new_claim = None;
    let mut stepped_down = None;
    let end = Instant::now() + Duration::from_secs(60);
    while Instant::now() < end && (first_new_claim.is_none() || stepped_down.is_none()) {
        let before = t_part.elapsed();
        let inside = cut.census_inside();
        if inside.as_ref().is_some_and(claims) {
            last_cut_claim = t_part.elapsed();
        } else if inside.is_some() && stepped_down.is_none() {
            stepped_down = Some(before);
        }
        if first_new_claim.is_none() && !claimers(&majority).is_empty() {
            first_new_claim = Some(before);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let first_new_claim =
        first_new_claim.unwrap_or_else(|| panic!("the majority elected no leader in 60 s"));
    let stepped_down =
        stepped_down.unwrap_or_else(|| panic!("the cut leader never stopped saying it leads"));
    summary.insert(
        "leader_cut".into(),
        json!({
            "cut_leader_stepped_down_s": secs(stepped_down),
            "last_seen_claiming_s": secs(last_cut_claim),
            "majority_new_leader_s": secs(first_new_claim),
        }),
    );
    assert!(
        last_cut_claim < first_new_claim,
        "two leaders: the cut leader still said it led at {last_cut_claim:?}, the majority's new \
         leader said so from {first_new_claim:?}"
    );
    // The cut leader cannot reach the API to remove its label; the new leader removes it, so
    // that a Service selecting the leader label routes to one pod only.
    let leader_pods = || {
        redis
            .iter()
            .filter(|n| role_label(&api, &n.pod).as_deref() == Some("leader"))
            .map(|n| n.pod.clone())
            .collect::<Vec<_>>()
    };
    assert!(
        wait_until(Duration::from_secs(20), || {
            let pods = leader_pods();
            pods.len() == 1 && pods[0] != cut.pod
        }),
        "while the old leader is cut off, pods labelled leader: {:?}",
        leader_pods()
    );
    summary.insert(
        "cut_leader_label_removed_s".into(),
        json!(secs(t_part.elapsed())),
    );
    let cut_ip = cut.ip.to_string();
    must(&["network", "connect", "--ip", &cut_ip, &run.net, &cut.name]);
    check_group(&api, &redis, "after-heal");

    // 5. Rolling replacement: graceful / SIGKILL × fresh / kept identity, 3 rounds each.
    let mut replacements = Vec::new();
    let mut generation = 1;
    let mut next = 0;
    for (kind, graceful, fresh) in [
        ("graceful_fresh", true, true),
        ("graceful_kept", true, false),
        ("kill_fresh", false, true),
        ("kill_kept", false, false),
    ] {
        for round in 0..3 {
            let step_start = Instant::now();
            let i = next % redis.len();
            next += 1;
            let old = redis[i].clone();
            let rest: Vec<Node> = redis
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, n)| n.clone())
                .collect();
            let was_leader = old.census().is_some_and(|c| claims(&c));
            let t0 = Instant::now();
            if graceful {
                must(&["stop", "-t", "20", &old.name]);
                let code = must(&["inspect", "-f", "{{.State.ExitCode}}", &old.name]);
                assert_eq!(
                    code, "0",
                    "{kind} round {round}: {} exited {code}",
                    old.name
                );
                assert_eq!(
                    role_label(&api, &old.pod),
                    None,
                    "{kind} round {round}: the stopped member's pod keeps its role label"
                );
            } else {
                must(&["kill", &old.name]);
            }
            must(&["rm", "-f", &old.name]);
            let (pod, volume) = if fresh {
                api.delete_pod(NS, &old.pod);
                if let Some(v) = &old.volume {
                    let _ = docker(&["volume", "rm", v]);
                }
                let pod = run.new_pod();
                api.add_pod(NS, &pod);
                let volume = format!("{}-{pod}", run.id);
                (pod, volume)
            } else {
                (old.pod.clone(), old.volume.clone().unwrap_or_default())
            };
            let newcomer = run.start_redis(&pod, &volume, generation);
            generation += 1;
            redis[i] = newcomer;
            // Sample who says it leads until all three agree again.
            let mut leaderless = Duration::ZERO;
            let mut dual = 0;
            // From the stop on: the time the docker commands take counts when nobody leads.
            let mut last = t0;
            let done = Instant::now() + Duration::from_secs(90);
            let mut agreed_after = None;
            while Instant::now() < done {
                let live: Vec<Node> = rest.iter().chain([&redis[i]]).cloned().collect();
                let c = claimers(&live);
                let now = Instant::now();
                if c.is_empty() {
                    leaderless += now - last;
                    if std::env::var_os("WARREN_DOCKER_TRACE").is_some() {
                        let views: Vec<String> = live
                            .iter()
                            .map(|n| {
                                n.census().map_or("-".into(), |c| {
                                    let g = &c["census_groups"][GROUP];
                                    format!(
                                        "{}:{}:{}",
                                        n.pod,
                                        g["election_status"].as_str().unwrap_or("?"),
                                        g["leader_id"]
                                            .as_str()
                                            .unwrap_or("-")
                                            .get(..6)
                                            .unwrap_or("-")
                                    )
                                })
                            })
                            .collect();
                        eprintln!(
                            "{kind} {round} +{:.2}s leaderless: {views:?}",
                            t0.elapsed().as_secs_f64()
                        );
                    }
                }
                if c.len() > 1 {
                    dual += 1;
                }
                last = now;
                if c.len() == 1 && agreed(&redis).is_some() {
                    agreed_after = Some(t0.elapsed());
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let agreed_after = agreed_after
                .unwrap_or_else(|| panic!("{kind} round {round}: no leader agreed in 90 s"));
            assert_eq!(dual, 0, "{kind} round {round}: two members said they led");
            assert!(
                leaderless < FAILOVER_BOUND,
                "{kind} round {round}: {leaderless:?} without a leader"
            );
            check_group(&api, &redis, &format!("{kind}-{round}"));
            replacements.push(json!({
                "kind": kind,
                "round": round,
                "replaced_the_leader": was_leader,
                "leaderless_s": secs(leaderless),
                "all_agree_s": secs(agreed_after),
            }));
            // The next replacement after the group has a leader and 15 s have passed.
            std::thread::sleep(Duration::from_secs(15).saturating_sub(step_start.elapsed()));
        }
    }
    let worst: BTreeMap<&str, f64> = ["graceful_fresh", "graceful_kept", "kill_fresh", "kill_kept"]
        .into_iter()
        .map(|k| {
            let w = replacements
                .iter()
                .filter(|r| r["kind"] == k)
                .filter_map(|r| r["leaderless_s"].as_f64())
                .fold(0.0, f64::max);
            (k, w)
        })
        .collect();
    summary.insert("replacements".into(), json!(replacements));
    summary.insert("worst_leaderless_s".into(), json!(worst));

    // 6. Memory, orphans, and stops.
    let rss_kib: Vec<u64> = ring
        .iter()
        .map(|n| {
            must(&["exec", &n.name, "cat", "/proc/1/status"])
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                .unwrap_or(0)
        })
        .collect();
    summary.insert("empty_member_rss_kib".into(), json!(rss_kib));
    let mut stops = Vec::new();
    for n in ring.iter().chain(&redis) {
        // An orphan: the shell exits at once, its sleep is re-parented to PID 1 (Warren).
        must(&["exec", &n.name, "sh", "-c", "sleep 1 & exit 0"]);
        std::thread::sleep(Duration::from_millis(1500));
        let ps = must(&["exec", &n.name, "ps", "-o", "pid,stat,comm"]);
        assert!(
            !ps.lines().skip(1).any(|l| l
                .split_whitespace()
                .nth(1)
                .is_some_and(|s| s.starts_with('Z'))),
            "{}: a zombie is left:\n{ps}",
            n.name
        );
        let t = Instant::now();
        must(&["stop", "-t", "20", &n.name]);
        let took = t.elapsed();
        let code = must(&["inspect", "-f", "{{.State.ExitCode}}", &n.name]);
        assert_eq!(code, "0", "{} exited {code} on docker stop", n.name);
        if n.volume.is_some() {
            assert_eq!(
                role_label(&api, &n.pod),
                None,
                "{}: the role label outlives docker stop",
                n.name
            );
        }
        stops.push(json!({ "container": n.pod, "exit_code": 0, "stop_s": secs(took) }));
    }
    summary.insert("stops".into(), json!(stops));
    let doc = Value::Object(summary);
    let text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    let _ = std::fs::write(repo_path("target/docker-e2e.json"), &text);
    println!("{text}");
    let max_rss = rss_kib.iter().copied().max().unwrap_or(0);
    assert!(
        max_rss <= 10 * 1024,
        "an empty-mode member holds {max_rss} KiB resident (target ≤ 10 MiB); if build.sh \
         warned that crates/warren/hot-code.txt is stale, run deploy/container/hot-code.sh"
    );
    drop(run);
}
