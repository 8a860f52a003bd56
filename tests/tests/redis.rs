//! The redis plan under real supervisors (needs `redis-server` and `redis-cli`; runs only with
//! `WARREN_E2E_REDIS=1`): three `warren run plans/redis --topology leader` members on loopback,
//! each with its own `--fs-root` and its own redis port (set in its `user.toml`, as three redis
//! servers on one host cannot share 6379), elect a leader; the leader's redis is a master and the
//! two others replicate from it (`replicaof` the leader's `sys.ip` and exported `port`); a key
//! written on the leader is read on both followers. Then the leader's supervisor and its redis
//! are SIGKILLed: the survivors elect a new leader, whose redis becomes a master, the remaining
//! follower replicates from it, and the key is still there.
//!
//! Always run (it needs only `/bin/sh`): the run hook's `kubectl label pod` (the seed's way of
//! publishing the role) is called with the rendered role when `kubectl` is on `PATH` and
//! `POD_NAME` is set, and not otherwise; redis-server is exec'd either way.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use warren_e2e::{
    Sup, free_port, have_command, kill_pid, kill_processes_under, log_tail, repo_path, state_dir,
    wait_until, warren_bin, write_user_toml,
};

const GROUP: &str = "redis.default";
const SWITCH: &str = "WARREN_E2E_REDIS";
const NEEDS: &str = "needs redis-server; scripts/setup.sh installs it";
const KEY: &str = "warren-e2e-key";
const LIMIT: Duration = Duration::from_secs(60);

/// One member: its supervisor and the port its redis listens on.
struct Member {
    sup: Sup,
    port: u16,
}

/// The group; dropping it kills the supervisors, whatever they left running (redis outlives a
/// SIGKILLed supervisor), and removes the state directories (kept, and named, when the test
/// failed).
struct Group {
    members: Vec<Member>,
    roots: Vec<PathBuf>,
}

impl Drop for Group {
    fn drop(&mut self) {
        for m in &mut self.members {
            let _ = m.sup.child.kill();
            let _ = m.sup.child.wait();
            if let Some(pid) = redis_pid(m.port) {
                kill_pid(pid, "KILL");
            }
        }
        for root in &self.roots {
            kill_processes_under(root);
            kill_processes_under(root);
        }
        if std::thread::panicking() {
            for root in &self.roots {
                eprintln!("redis test: state and logs kept in {}", root.display());
            }
        } else {
            for root in &self.roots {
                let _ = std::fs::remove_dir_all(root);
            }
        }
    }
}

/// `redis-cli -h 127.0.0.1 -p <port> <args>` (at most 5 s): its stdout, lines trimmed, if it
/// exited 0.
fn redis_cli(port: u16, args: &[&str]) -> Option<Vec<String>> {
    let out = Command::new("timeout")
        .arg("5")
        .arg("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Some(text.lines().map(|l| l.trim().to_owned()).collect())
}

/// `ROLE` of the redis on `port`: `["master", offset, …]` or
/// `["slave", leader_host, leader_port, state, offset]`.
fn role(port: u16) -> Option<Vec<String>> {
    redis_cli(port, &["ROLE"]).filter(|r| !r.is_empty())
}

/// The pid of the redis-server on `port` (`INFO server`'s `process_id`).
fn redis_pid(port: u16) -> Option<u32> {
    redis_cli(port, &["INFO", "server"])?
        .iter()
        .find_map(|l| l.strip_prefix("process_id:")?.parse().ok())
}

fn is_master(port: u16) -> bool {
    role(port).is_some_and(|r| r[0] == "master")
}

/// The redis on `port` is a replica of the one on `leader_port`, connected.
fn replicates_from(port: u16, leader_port: u16) -> bool {
    role(port).is_some_and(|r| {
        r.len() >= 4 && r[0] == "slave" && r[2] == leader_port.to_string() && r[3] == "connected"
    })
}

/// The leader every member in `members` reports, if they all agree.
fn agreed(members: &[&Member]) -> Option<String> {
    let first = members.first()?.sup.leader_of(GROUP)?;
    members
        .iter()
        .all(|m| m.sup.leader_of(GROUP).as_deref() == Some(first.as_str()))
        .then_some(first)
}

/// A member's view of the group, one line per member: election status, leader, and each
/// member's role, liveness, address and exported `cfg` (which gives followers the leader's port).
fn group_view(sup: &Sup) -> String {
    let Some(census) = sup.census() else {
        return "(no answer)".into();
    };
    let g = &census["census_groups"][GROUP];
    let mut out = format!("{} leader {}", g["election_status"], g["leader_id"]);
    if let Some(pop) = g["population"].as_object() {
        for (id, m) in pop {
            let role = if m["leader"] == true {
                "leader"
            } else if m["follower"] == true {
                "follower"
            } else {
                "-"
            };
            out.push_str(&format!(
                "\n    {id} {role} alive={} ip={} cfg={}",
                m["alive"], m["sys"]["ip"], m["cfg"]
            ));
        }
    }
    out
}

/// What every member in `idx` shows: its id, its view of the group, its redis's ROLE and the end
/// of its log.
fn report(g: &Group, idx: &[usize]) -> String {
    let mut out = String::new();
    for &i in idx {
        let m = &g.members[i];
        out.push_str(&format!(
            "\n--- member {i} ({}), redis port {}\ncensus {GROUP}: {}\nROLE: {:?}\n\
             warren.log (tail):\n{}\n",
            m.sup.id(),
            m.port,
            group_view(&m.sup),
            role(m.port),
            log_tail(&m.sup.root, 30),
        ));
    }
    out
}

fn start_group() -> Group {
    let plan = repo_path("plans/redis").to_string_lossy().into_owned();
    let args = [plan.as_str(), "--topology", "leader"];
    let mut g = Group {
        members: Vec::new(),
        roots: Vec::new(),
    };
    for i in 0..3 {
        let root = state_dir("redis", i);
        g.roots.push(root.clone());
        let port = free_port();
        // Loopback only, and a port of its own: three members share this host.
        write_user_toml(
            &root,
            "redis",
            &format!("port = {port}\nbind = \"127.0.0.1\"\n"),
        );
        let peers: Vec<_> = g.members.iter().map(|m| m.sup.gossip).collect();
        g.members.push(Member {
            sup: Sup::start(&root, &peers, &args),
            port,
        });
    }
    g
}

/// Waits until `members` agree on a leader other than `not`; its index in `g`.
fn wait_leader(g: &Group, idx: &[usize], not: Option<&str>, until: Instant) -> Option<usize> {
    let members: Vec<&Member> = idx.iter().map(|&i| &g.members[i]).collect();
    let mut leader = None;
    wait_until(until.saturating_duration_since(Instant::now()), || {
        leader = agreed(&members).filter(|l| Some(l.as_str()) != not);
        leader.is_some()
    });
    let leader = leader?;
    idx.iter()
        .copied()
        .find(|&i| g.members[i].sup.id() == leader)
}

/// Waits until the leader's redis is a master and every follower's replicates from it.
fn wait_replication(g: &Group, leader: usize, followers: &[usize], until: Instant) -> bool {
    let lp = g.members[leader].port;
    wait_until(until.saturating_duration_since(Instant::now()), || {
        is_master(lp)
            && followers
                .iter()
                .all(|&f| replicates_from(g.members[f].port, lp))
    })
}

/// Waits (10 s at most) until `GET KEY` on `port` answers `value`.
fn reads(port: u16, value: &str) -> bool {
    wait_until(Duration::from_secs(10), || {
        redis_cli(port, &["GET", KEY]).is_some_and(|r| r.first().map(String::as_str) == Some(value))
    })
}

#[test]
fn three_redis_members_replicate_from_the_leader_and_fail_over() {
    if std::env::var(SWITCH).as_deref() != Ok("1") {
        eprintln!("skipped: set {SWITCH}=1 ({NEEDS})");
        return;
    }
    assert!(
        have_command("redis-server") && have_command("redis-cli"),
        "{SWITCH}=1 but redis-server or redis-cli is not on PATH ({NEEDS})"
    );
    let mut g = start_group();
    let all = [0, 1, 2];

    // 1. One agreed leader; its redis is the master the two others replicate from.
    let until = Instant::now() + LIMIT;
    let Some(l) = wait_leader(&g, &all, None, until) else {
        panic!(
            "no leader agreed by all three within {LIMIT:?}:{}",
            report(&g, &all)
        );
    };
    let leader_id = g.members[l].sup.id();
    let followers: Vec<usize> = all.iter().copied().filter(|&i| i != l).collect();
    let t0 = Instant::now();
    let until = t0 + LIMIT;
    assert!(
        wait_replication(&g, l, &followers, until),
        "within {LIMIT:?} of the election, member {l}'s redis (port {}) is not a master with \
         the two others replicating from it:{}",
        g.members[l].port,
        report(&g, &all)
    );
    eprintln!(
        "redis: leader is member {l} (port {}); replication up {:.1} s after the election",
        g.members[l].port,
        t0.elapsed().as_secs_f64()
    );

    // 2. A write on the leader reaches both followers.
    let value = format!("v{}", std::process::id());
    let set = redis_cli(g.members[l].port, &["SET", KEY, &value]);
    assert_eq!(
        set.as_ref().and_then(|r| r.first()).map(String::as_str),
        Some("OK"),
        "SET on the leader: {set:?}"
    );
    for &f in &followers {
        assert!(
            reads(g.members[f].port, &value),
            "member {f} (port {}) never read {KEY}={value} written on the leader:{}",
            g.members[f].port,
            report(&g, &all)
        );
    }

    // 3. The leader's supervisor and its redis die.
    let Some(redis) = redis_pid(g.members[l].port) else {
        panic!(
            "no process_id in INFO server of the leader's redis:{}",
            report(&g, &[l])
        );
    };
    g.members[l].sup.signal("KILL");
    let _ = g.members[l].sup.child.wait();
    assert!(kill_pid(redis, "KILL"), "cannot SIGKILL redis pid {redis}");
    // Whatever else that supervisor left running (a hook, a restarted redis).
    kill_processes_under(&g.members[l].sup.root);
    let t0 = Instant::now();
    let until = t0 + LIMIT;

    // 4. A new leader among the survivors, a master that the other follows; the key is there.
    let Some(n) = wait_leader(&g, &followers, Some(&leader_id), until) else {
        panic!(
            "the two survivors agreed on no new leader within {LIMIT:?} of the SIGKILL:{}",
            report(&g, &followers)
        );
    };
    let other: Vec<usize> = followers.iter().copied().filter(|&i| i != n).collect();
    assert!(
        wait_replication(&g, n, &other, until),
        "within {LIMIT:?} of the SIGKILL, the new leader {n}'s redis (port {}) is not a master \
         with member {other:?} replicating from it:{}",
        g.members[n].port,
        report(&g, &followers)
    );
    eprintln!(
        "redis: failover to member {n} (port {}) replicated {:.1} s after the SIGKILL",
        g.members[n].port,
        t0.elapsed().as_secs_f64()
    );
    for &i in &followers {
        assert!(
            reads(g.members[i].port, &value),
            "after the failover, member {i} (port {}) does not read {KEY}={value}:{}",
            g.members[i].port,
            report(&g, &followers)
        );
    }
}

/// Writes an executable `/bin/sh` script.
fn script(path: &std::path::Path, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn the_run_hook_labels_the_pod_only_with_kubectl_and_pod_name() {
    let root = state_dir("redis-hook", 0);
    let _ = std::fs::remove_dir_all(&root);
    let svc = root.join("svc");
    let rendered = Command::new(warren_bin())
        .args(["plan", "render"])
        .arg(repo_path("plans/redis"))
        .arg("--out")
        .arg(&svc)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(rendered.status.success(), "{rendered:?}");
    // The hook names the supervisor's paths; point them at the rendered copy.
    let hook_text = std::fs::read_to_string(svc.join("hooks/run"))
        .unwrap_or_else(|e| panic!("{e}"))
        .replace("/hab/svc/redis/", &format!("{}/", svc.display()));
    let hook = root.join("run");
    std::fs::write(&hook, hook_text).unwrap_or_else(|e| panic!("{e}"));
    // Fakes that record their arguments; `tools` holds what the hook needs besides them.
    let (with_kubectl, without, tools) = (root.join("bin"), root.join("bin2"), root.join("tools"));
    for d in [&with_kubectl, &without, &tools] {
        std::fs::create_dir_all(d).unwrap_or_else(|e| panic!("{e}"));
    }
    for tool in ["sed", "mkdir"] {
        let real = ["/usr/bin", "/bin"]
            .iter()
            .map(|d| std::path::Path::new(d).join(tool))
            .find(|p| p.exists())
            .unwrap_or_else(|| panic!("no {tool}"));
        std::os::unix::fs::symlink(real, tools.join(tool)).unwrap_or_else(|e| panic!("{e}"));
    }
    let log = root.join("log");
    script(
        &with_kubectl.join("kubectl"),
        &format!("echo \"$*\" >> {}/kubectl", log.display()),
    );
    for bin in [&with_kubectl, &without] {
        script(
            &bin.join("redis-server"),
            &format!("echo \"$*\" > {}/redis-server", log.display()),
        );
    }
    let run = |bin: &std::path::Path, pod: Option<&str>| -> (Option<String>, Option<String>) {
        let _ = std::fs::remove_dir_all(&log);
        std::fs::create_dir_all(&log).unwrap_or_else(|e| panic!("{e}"));
        let mut cmd = Command::new("/bin/sh");
        cmd.arg(&hook)
            .env_clear()
            .env("PATH", format!("{}:{}", bin.display(), tools.display()))
            .env("POD_NAMESPACE", "apps");
        if let Some(pod) = pod {
            cmd.env("POD_NAME", pod);
        }
        let out = cmd.output().unwrap_or_else(|e| panic!("{e}"));
        assert!(out.status.success(), "{out:?}");
        let read = |name: &str| {
            std::fs::read_to_string(log.join(name))
                .ok()
                .map(|s| s.trim().to_owned())
        };
        (read("kubectl"), read("redis-server"))
    };
    let conf = format!("{}/config/redis.conf", svc.display());
    assert_eq!(
        run(&with_kubectl, Some("redis-1")),
        (
            Some(
                "label pod --overwrite --request-timeout=5s --namespace=apps redis-1 role=leader"
                    .to_owned()
            ),
            Some(conf.clone())
        ),
        "kubectl and POD_NAME: the pod is labelled, then redis starts"
    );
    assert_eq!(
        run(&with_kubectl, None),
        (None, Some(conf.clone())),
        "no POD_NAME: no kubectl call"
    );
    assert_eq!(
        run(&without, Some("redis-1")),
        (None, Some(conf)),
        "no kubectl on PATH: nothing extra"
    );
    let _ = std::fs::remove_dir_all(&root);
}
