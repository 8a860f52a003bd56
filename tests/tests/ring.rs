//! Real processes on loopback: a 5-member ring forms from one seed; SIGKILL is Confirmed by all
//! within 8 s and a restart rejoins with a higher incarnation; SIGSTOP past the suspicion timeout
//! then SIGCONT refutes; SIGTERM departs and exits 0; a member with another ring key is rejected;
//! a bad key file fails at start with one line. Each test uses its own ports and state dirs.

use std::path::Path;
use std::time::{Duration, Instant};

use warren_e2e::{Sup, held_port, http_status, state_dir, wait_until};

fn ring(test: &str, n: usize, extra: &[&str]) -> Vec<Sup> {
    ring_env(test, n, extra, |_| Vec::new())
}

/// Starts `n` supervisors joining through the first, each with the environment `env` gives for
/// its state directory, and waits until every one holds every other Alive.
fn ring_env(
    test: &str,
    n: usize,
    extra: &[&str],
    env: impl Fn(&Path) -> Vec<(String, String)>,
) -> Vec<Sup> {
    let mut sups: Vec<Sup> = Vec::new();
    for i in 0..n {
        let dir = state_dir(test, i);
        let vars = env(&dir);
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let peers: Vec<_> = sups.first().map(|s| s.gossip).into_iter().collect();
        sups.push(Sup::start_env(&dir, &peers, extra, &vars));
    }
    let formed = wait_until(Duration::from_secs(20), || all_alive(&sups));
    assert!(formed, "{test}: the ring of {n} did not form");
    sups
}

/// Whether every supervisor holds every other as Alive (`/butterfly` lists peers only).
fn all_alive(sups: &[Sup]) -> bool {
    let ids: Vec<String> = sups.iter().map(Sup::id).collect();
    sups.iter().all(|s| {
        let me = s.id();
        ids.iter()
            .filter(|id| **id != me)
            .all(|id| s.health_of(id).as_deref() == Some("Alive"))
    })
}

/// Waits until every other supervisor holds `id` Alive at an incarnation above `before`.
fn alive_everywhere_above(sups: &[Sup], id: &str, before: u64) -> bool {
    wait_until(Duration::from_secs(15), || {
        sups.iter().filter(|s| s.id() != id).all(|s| {
            s.health_of(id).as_deref() == Some("Alive")
                && s.incarnation_of(id).unwrap_or(0) > before
        })
    })
}

#[test]
fn five_members_form_a_ring_and_a_crash_is_confirmed_then_rejoins() {
    let mut sups = ring("crash", 5, &[]);
    let victim = sups[3].id();
    let before = sups[0].incarnation_of(&victim).unwrap_or(0);
    sups[3].signal("KILL");
    let t0 = Instant::now();
    let confirmed = wait_until(Duration::from_secs(8), || {
        sups.iter()
            .enumerate()
            .filter(|(i, _)| *i != 3)
            .all(|(_, s)| {
                matches!(
                    s.health_of(&victim).as_deref(),
                    Some("Confirmed" | "Departed")
                )
            })
    });
    assert!(
        confirmed,
        "SIGKILLed member not Confirmed by all within 8 s"
    );
    eprintln!(
        "crash confirmed by all 4 survivors after {:?}",
        t0.elapsed()
    );
    sups[3].restart();
    let back = alive_everywhere_above(&sups, &victim, before);
    assert!(
        back,
        "restarted member not Alive everywhere with a higher incarnation"
    );
}

#[test]
fn a_stopped_member_is_confirmed_then_refutes_after_sigcont() {
    let sups = ring("stop", 4, &[]);
    let victim = sups[1].id();
    let before = sups[0].incarnation_of(&victim).unwrap_or(0);
    sups[1].signal("STOP");
    let confirmed = wait_until(Duration::from_secs(12), || {
        sups[0].health_of(&victim).as_deref() == Some("Confirmed")
    });
    sups[1].signal("CONT");
    assert!(confirmed, "stopped member never Confirmed");
    let refuted = alive_everywhere_above(&sups, &victim, before);
    assert!(
        refuted,
        "member did not refute and come back Alive after SIGCONT"
    );
}

#[test]
fn sigterm_departs_and_exits_zero() {
    let mut sups = ring("term", 3, &[]);
    let leaver = sups[2].id();
    sups[2].signal("TERM");
    let code = sups[2].wait_exit(Duration::from_secs(5));
    assert_eq!(code, Some(0), "SIGTERM did not exit 0");
    let departed = wait_until(Duration::from_secs(5), || {
        sups[..2]
            .iter()
            .all(|s| s.health_of(&leaver).as_deref() == Some("Departed"))
    });
    assert!(departed, "others did not see the graceful departure");
}

#[test]
fn a_member_with_another_ring_key_is_rejected() {
    let keys = state_dir("keys", 0);
    let make_key = |name: &str| {
        let out = std::process::Command::new(warren_e2e::warren_bin())
            .args(["ring", "key", "generate", name, "--cache-key-path"])
            .arg(&keys)
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(out.status.success(), "key generate failed: {out:?}");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let good = make_key("good");
    let bad = make_key("bad");
    let good_args = ["--ring-key-file", good.as_str()];
    let sups = ring("keyed", 2, &good_args);
    let intruder = Sup::start(
        &state_dir("keyed", 9),
        &[sups[0].gossip],
        &["--ring-key-file", bad.as_str()],
    );
    let intruder_id = intruder.id();
    std::thread::sleep(Duration::from_secs(4));
    for s in &sups {
        assert_eq!(
            s.health_of(&intruder_id),
            None,
            "a member with the wrong key was let in"
        );
    }
    let b = intruder.butterfly().unwrap_or_default();
    // `/butterfly` lists peers only, as Habitat's does.
    let known = b["membership"].as_object().map_or(usize::MAX, |m| m.len());
    assert_eq!(known, 0, "the intruder learned of the ring: {b}");
    // The seed received the intruder's pings and says why it dropped them.
    let log = std::fs::read_to_string(sups[0].root.join("warren.log")).unwrap_or_default();
    assert!(
        log.contains("decrypt"),
        "no log line about the undecryptable messages: {log}"
    );
}

#[test]
fn a_bad_key_file_fails_at_start_with_one_line() {
    let dir = state_dir("badkey", 0);
    let bad = dir.join("bad.key");
    std::fs::write(&bad, "SYM-SEC-1\nnot-a-revision\n\nAAAA\n").unwrap_or_else(|e| panic!("{e}"));
    let out = std::process::Command::new(warren_e2e::warren_bin())
        .args([
            "run",
            "--listen-gossip",
            "127.0.0.1:0",
            "--http-disable",
            "--fs-root",
        ])
        .arg(&dir)
        .arg("--ring-key-file")
        .arg(&bad)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one line, got: {err}");
    assert!(
        lines[0].contains("bad.key"),
        "the line does not name the file: {err}"
    );
}

#[test]
fn ten_percent_datagram_loss_kills_nobody() {
    // Needs the binary built with `--features fault-injection` (.ci/run does).
    let drop = |_: &Path| vec![("WARREN_FAULT_DROP".to_owned(), "0.1".to_owned())];
    let sups = ring_env("lossy", 4, &[], drop);
    let ids: Vec<String> = sups.iter().map(Sup::id).collect();
    let log = std::fs::read_to_string(sups[0].root.join("warren.log")).unwrap_or_default();
    assert!(
        log.contains("fault injection is on"),
        "binary built without fault-injection?"
    );
    let end = Instant::now() + Duration::from_secs(20);
    while Instant::now() < end {
        for s in &sups {
            for id in &ids {
                let h = s.health_of(id);
                assert!(
                    !matches!(h.as_deref(), Some("Confirmed" | "Departed")),
                    "{id} declared {h:?} under 10% loss"
                );
            }
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn a_corrupt_rumor_file_is_set_aside_and_the_member_still_starts() {
    let root = state_dir("corrupt", 0);
    // First run creates MEMBER_ID; then a garbage .rst appears under that id.
    let mut first = Sup::start(&root, &[], &[]);
    let id = first.id();
    first.signal("TERM");
    assert_eq!(first.wait_exit(Duration::from_secs(5)), Some(0));
    let rst = root.join(format!("hab/sup/default/data/{id}.rst"));
    std::fs::write(&rst, b"\x07garbage that is not a rumor file").unwrap_or_else(|e| panic!("{e}"));
    first.restart();
    let census = first.census().unwrap_or_default();
    assert_eq!(
        census["local_member_id"].as_str(),
        Some(id.as_str()),
        "did not come up as itself: {census}"
    );
    let data = root.join("hab/sup/default/data");
    let set_aside = std::fs::read_dir(&data)
        .map(|d| {
            d.flatten()
                .any(|e| e.file_name().to_string_lossy().contains(".corrupt"))
        })
        .unwrap_or(false);
    assert!(
        set_aside,
        "the corrupt file was not set aside in {}",
        data.display()
    );
    let log = std::fs::read_to_string(root.join("warren.log")).unwrap_or_default();
    assert!(
        log.contains("set aside"),
        "no log line about the corrupt file: {log}"
    );
}

#[test]
fn the_peer_watch_file_is_reread_when_it_changes() {
    let seed = Sup::start(&state_dir("watch", 0), &[], &[]);
    let dir = state_dir("watch", 1);
    let watch = dir.join("peers");
    std::fs::write(&watch, "# no peers yet\n").unwrap_or_else(|e| panic!("{e}"));
    let w = watch.to_string_lossy().into_owned();
    let joiner = Sup::start(&dir, &[], &["--peer-watch-file", w.as_str()]);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        seed.health_of(&joiner.id()),
        None,
        "joined without any peer"
    );
    // A different length guarantees a different modification time is not needed to notice.
    std::fs::write(&watch, format!("# the seed\n{}\n", seed.gossip))
        .unwrap_or_else(|e| panic!("{e}"));
    let joined = wait_until(Duration::from_secs(10), || {
        seed.health_of(&joiner.id()).as_deref() == Some("Alive")
            && joiner.health_of(&seed.id()).as_deref() == Some("Alive")
    });
    assert!(
        joined,
        "the member did not join after its peer-watch file named the seed"
    );
}

#[test]
fn json_logging_prints_one_json_object_per_line() {
    let root = state_dir("json", 0);
    let mut s = Sup::start(&root, &[], &["--json-logging"]);
    s.signal("TERM");
    assert_eq!(s.wait_exit(Duration::from_secs(5)), Some(0));
    let log = std::fs::read_to_string(root.join("warren.log")).unwrap_or_default();
    assert!(log.lines().count() >= 2, "{log}");
    for line in log.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(v.get("level").is_some(), "{line}");
    }
}

#[test]
fn a_partition_is_detected_and_heals() {
    // Needs the binary built with `--features fault-injection` (.ci/run does).
    let fault_file = |dir: &Path| dir.join("faults").to_string_lossy().into_owned();
    let env = |dir: &Path| vec![("WARREN_FAULT_FILE".to_owned(), fault_file(dir))];
    let sups = ring_env("partition", 4, &[], env);
    let ids: Vec<String> = sups.iter().map(Sup::id).collect();
    let fault_files: Vec<String> = sups.iter().map(|s| fault_file(&s.root)).collect();
    // Cut {0, 1} from {2, 3}, both ways.
    for (i, f) in fault_files.iter().enumerate() {
        let other: &[usize] = if i < 2 { &[2, 3] } else { &[0, 1] };
        let text: String = other
            .iter()
            .map(|&j| format!("block={}\n", sups[j].gossip))
            .collect();
        std::fs::write(f, text).unwrap_or_else(|e| panic!("{e}"));
    }
    let split = wait_until(Duration::from_secs(20), || {
        sups[0].health_of(&ids[2]).as_deref() == Some("Confirmed")
            && sups[3].health_of(&ids[1]).as_deref() == Some("Confirmed")
            && sups[0].health_of(&ids[1]).as_deref() == Some("Alive")
    });
    assert!(split, "the partition was not detected on both sides");
    for f in &fault_files {
        std::fs::write(f, "# healed\n").unwrap_or_else(|e| panic!("{e}"));
    }
    let healed = wait_until(Duration::from_secs(40), || all_alive(&sups));
    assert!(
        healed,
        "the ring did not re-form after the partition healed"
    );
}

#[test]
fn a_second_supervisor_on_the_same_state_directory_is_refused() {
    let root = state_dir("lock", 0);
    let _first = Sup::start(&root, &[], &[]);
    let out = std::process::Command::new(warren_e2e::warren_bin())
        .args([
            "run",
            "--listen-gossip",
            "127.0.0.1:0",
            "--http-disable",
            "--fs-root",
        ])
        .arg(&root)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!out.status.success(), "second supervisor started");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("LOCK") && err.lines().count() == 1, "{err}");
}

/// `/readyz` of a member given peers: not ready while none answers, ready after the start-up
/// grace (the first member of a fresh ring, whose peers are the pods not started yet); a member
/// whose peer answers is ready at once, long before its grace.
#[test]
fn readyz_waits_for_a_peer_or_the_start_up_grace() {
    let test = "readyz";
    let ready = |s: &Sup| http_status(s.http, "/readyz", &[]).map(|r| r.0) == Some(200);
    let (_hold, absent) = held_port();
    let lonely = Sup::start(&state_dir(test, 0), &[absent], &["--ready-grace", "6"]);
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(4) {
        assert!(
            !ready(&lonely),
            "{test}: ready {:.1} s after start with no peer answering",
            t0.elapsed().as_secs_f64()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let ok = wait_until(Duration::from_secs(10), || ready(&lonely));
    assert!(ok, "{test}: never ready after its grace");
    let joined = Sup::start(
        &state_dir(test, 1),
        &[lonely.gossip],
        &["--ready-grace", "600"],
    );
    let t1 = Instant::now();
    let ok = wait_until(Duration::from_secs(10), || ready(&joined));
    assert!(ok, "{test}: a member whose peer answered is not ready");
    eprintln!(
        "{test}: ready {:.1} s after start with its peer answering",
        t1.elapsed().as_secs_f64()
    );
}
