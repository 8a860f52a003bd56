//! The control API end to end: the `warren` CLI against running supervisors on loopback. A ring
//! of three runs `plans/hello`; the CLI applies gossiped config (seen rendered by every member),
//! refuses invalid TOML and stale versions, uploads a file, stops and starts, loads and unloads a
//! second plan (with its spec file), refuses a wrong secret, and departs a member.

use std::path::Path;
use std::time::{Duration, Instant};

use warren_e2e::{Sup, repo_path, state_dir, wait_until};

fn hello_conf(sup: &Sup) -> String {
    std::fs::read_to_string(sup.root.join("hab/svc/hello/config/hello.conf")).unwrap_or_default()
}

fn start_ring(test: &str) -> Vec<Sup> {
    let plan = repo_path("plans/hello");
    let plan = plan.to_string_lossy().into_owned();
    let mut sups: Vec<Sup> = Vec::new();
    for i in 0..3 {
        let peers: Vec<_> = sups.iter().map(|s| s.gossip).collect();
        sups.push(Sup::start(&state_dir(test, i), &peers, &[plan.as_str()]));
    }
    let all_rendered = wait_until(Duration::from_secs(30), || {
        sups.iter()
            .all(|s| hello_conf(s).contains("Hello from Warren"))
    });
    assert!(all_rendered, "{test}: hello never rendered everywhere");
    // Every member must know the group before a config change can be judged by its census.
    let all_see_three = wait_until(Duration::from_secs(30), || {
        sups.iter().all(|s| {
            s.census().and_then(|c| {
                c["census_groups"]["hello.default"]["population"]
                    .as_object()
                    .map(|p| p.len())
            }) == Some(3)
        })
    });
    assert!(all_see_three, "{test}: the census never showed 3 members");
    sups
}

#[test]
fn config_apply_reaches_every_member_and_bad_input_is_refused() {
    let test = "ctl-config";
    let sups = start_ring(test);
    let dir = state_dir(test, 9);
    let good = dir.join("new.toml");
    std::fs::write(&good, "message = \"applied by the CLI\"\n").unwrap_or_else(|e| panic!("{e}"));

    let start = Instant::now();
    let good_path = good.to_str().unwrap_or_default();
    let (ok, out, err) = sups[0].ctl(&["config", "apply", "hello.default", "2", good_path]);
    assert!(ok, "config apply failed: {out} {err}");
    let everywhere = wait_until(Duration::from_secs(10), || {
        sups.iter()
            .all(|s| hello_conf(s).contains("applied by the CLI"))
    });
    let took = start.elapsed();
    assert!(everywhere, "{test}: not every member re-rendered");
    println!(
        "{test}: config apply rendered on all 3 members in {:.2} s",
        took.as_secs_f64()
    );
    assert!(
        took <= Duration::from_millis(1500),
        "{test}: re-render took {took:?} (target 1.5 s)"
    );

    // Invalid TOML: refused by the CLI with the parser's message, nothing gossiped.
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "message = \n").unwrap_or_else(|e| panic!("{e}"));
    let (ok, _, err) = sups[1].ctl(&[
        "config",
        "apply",
        "hello.default",
        "3",
        bad.to_str().unwrap_or_default(),
    ]);
    assert!(!ok, "invalid TOML was accepted");
    assert!(err.contains("TOML") && err.contains("line 1"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    // Stale version: refused by the supervisor.
    let (ok, _, err) = sups[1].ctl(&[
        "config",
        "apply",
        "hello.default",
        "2",
        good.to_str().unwrap_or_default(),
    ]);
    assert!(!ok && err.contains('2'), "stale version accepted: {err}");
    std::thread::sleep(Duration::from_millis(1500));
    for s in &sups {
        let c = s.census().unwrap_or_default();
        assert_eq!(
            c["census_groups"]["hello.default"]["service_config"]["incarnation"], 2,
            "{test}: a refused config changed the gossiped version"
        );
    }

    // A file reaches every member's files/ directory.
    let file = dir.join("motd.txt");
    std::fs::write(&file, "hello, files\n").unwrap_or_else(|e| panic!("{e}"));
    let (ok, out, err) = sups[2].ctl(&[
        "file",
        "upload",
        "hello.default",
        "1",
        file.to_str().unwrap_or_default(),
    ]);
    assert!(ok, "file upload failed: {out} {err}");
    let files = wait_until(Duration::from_secs(10), || {
        sups.iter().all(|s| {
            std::fs::read_to_string(s.root.join("hab/svc/hello/files/motd.txt"))
                .ok()
                .as_deref()
                == Some("hello, files\n")
        })
    });
    assert!(
        files,
        "{test}: the uploaded file did not reach every member"
    );
    let big = dir.join("big.bin");
    std::fs::write(&big, vec![b'x'; 65 * 1024]).unwrap_or_else(|e| panic!("{e}"));
    let (ok, _, err) = sups[2].ctl(&[
        "file",
        "upload",
        "hello.default",
        "2",
        big.to_str().unwrap_or_default(),
    ]);
    assert!(
        !ok && err.to_lowercase().contains("kib"),
        "oversized upload: {err}"
    );
}

#[test]
fn services_are_driven_by_the_cli_and_the_secret_is_required() {
    let test = "ctl-svc";
    let mut sups = start_ring(test);

    let s = &sups[0];
    let (ok, out, err) = s.ctl(&["svc", "status"]);
    assert!(ok, "{err}");
    assert!(out.contains("hello.default") && out.contains("up"), "{out}");
    assert!(
        out.lines().next().is_some_and(|l| l.starts_with("package")),
        "{out}"
    );

    let (ok, _, err) = s.ctl(&["svc", "stop", "hello"]);
    assert!(ok, "{err}");
    let down = wait_until(Duration::from_secs(15), || {
        let (_, out, _) = s.ctl(&["svc", "status", "hello"]);
        out.lines()
            .nth(1)
            .is_some_and(|l| l.contains("down") && !l.contains(" up "))
    });
    assert!(down, "{test}: hello did not stop");
    let (ok, _, err) = s.ctl(&["svc", "start", "hello"]);
    assert!(ok, "{err}");
    let up = wait_until(Duration::from_secs(15), || {
        let (_, out, _) = s.ctl(&["svc", "status", "hello"]);
        out.lines()
            .nth(1)
            .is_some_and(|l| l.matches("up").count() >= 2)
    });
    assert!(up, "{test}: hello did not start again");

    // Load a second plan at runtime; its spec file persists; unload removes both.
    let plan = state_dir(test, 8).join("extra");
    write_plan(&plan);
    let (ok, out, err) = s.ctl(&["svc", "load", plan.to_str().unwrap_or_default()]);
    assert!(ok, "load failed: {out} {err}");
    let spec = s.root.join("hab/sup/default/specs/extra.spec");
    assert!(spec.exists(), "no spec file");
    let running = wait_until(Duration::from_secs(15), || {
        s.root.join("hab/svc/extra/PID").exists()
    });
    assert!(running, "{test}: the loaded plan did not start");
    let (ok, _, err) = s.ctl(&["svc", "load", plan.to_str().unwrap_or_default()]);
    assert!(!ok && err.contains("already loaded"), "{err}");
    // The spec file brings it back when the supervisor restarts.
    s.signal("TERM");
    assert_eq!(sups[0].wait_exit(Duration::from_secs(30)), Some(0));
    assert!(!sups[0].root.join("hab/svc/extra/PID").exists());
    sups[0].restart();
    let s = &sups[0];
    let back = wait_until(Duration::from_secs(20), || {
        s.root.join("hab/svc/extra/PID").exists()
    });
    assert!(
        back,
        "{test}: the spec file did not reload the service after a restart"
    );
    let (ok, _, err) = s.ctl(&["svc", "unload", "extra"]);
    assert!(ok, "{err}");
    assert!(!spec.exists(), "spec file left behind");
    let (ok, _, err) = s.ctl(&["svc", "status", "extra"]);
    assert!(!ok && err.contains("not loaded"), "{err}");
    let (ok, _, err) = s.ctl(&["svc", "stop", "nope"]);
    assert!(!ok && err.contains("not loaded"), "{err}");

    // Without the right secret every command is refused.
    for args in [
        &["svc", "status"][..],
        &["svc", "stop", "hello"],
        &["svc", "unload", "hello"],
        &["sup", "depart", "abc"],
    ] {
        let out = std::process::Command::new(warren_e2e::warren_bin())
            .args(args)
            .arg("-r")
            .arg(s.ctl.to_string())
            .env("HAB_CTL_SECRET", "d3Jvbmc=")
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} accepted a wrong secret");
        assert!(err.contains("secret"), "{args:?}: {err}");
    }

    // Depart the third member: it is told, and exits with Habitat's code 86.
    let victim = sups[2].id();
    let (ok, _, err) = sups[0].ctl(&["sup", "depart", &victim]);
    assert!(ok, "{err}");
    let code = sups[2].wait_exit(Duration::from_secs(20));
    assert_eq!(
        code,
        Some(86),
        "{test}: the departed member did not exit 86"
    );
}

fn write_plan(dir: &Path) {
    std::fs::create_dir_all(dir.join("hooks")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        dir.join("plan.sh"),
        "pkg_origin=test\npkg_name=extra\npkg_version=0.1.0\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.join("hooks/run"), "#!/bin/sh\nexec sleep 1000\n")
        .unwrap_or_else(|e| panic!("{e}"));
}
