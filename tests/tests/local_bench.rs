//! `warren local bench` at its smallest setting (one ring of 3, one trial of each kind, no
//! simulator): the JSON report has one object per ring size with every measurement, and at
//! the end no member runs and no ring directory is left. Behaviour only: no time is bounded
//! (the numbers are BENCHMARKS.md's business, on a machine chosen for it).

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use warren_e2e::{repo_path, state_dir};

/// Processes whose command line mentions `needle`.
fn processes_mentioning(needle: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter_map(|e| {
            let raw = std::fs::read(e.path().join("cmdline")).ok()?;
            let cmd = String::from_utf8_lossy(&raw).replace('\0', " ");
            cmd.contains(needle).then_some(cmd)
        })
        .collect()
}

fn number(v: &Value, path: &[&str]) -> f64 {
    let mut x = v;
    for k in path {
        x = &x[*k];
    }
    x.as_f64()
        .unwrap_or_else(|| panic!("{} is not a number in {v:#}", path.join(".")))
}

#[test]
fn a_tiny_bench_reports_every_measurement_and_leaves_nothing_behind() {
    let root = state_dir("local-bench", 0);
    let tmp = root.join("tmp");
    let out = root.join("out");
    std::fs::create_dir_all(&tmp).unwrap_or_else(|e| panic!("{e}"));
    // Three members take 30 ports: a step of 40 keeps two test runs apart, and 28200..32200
    // stays clear of `local up`'s test (20000..28000) and of ephemeral ports (32768 up).
    let base = 28200 + (std::process::id() % 100) as u16 * 40;
    let result = Command::new(warren_e2e::warren_bin())
        .current_dir(repo_path(""))
        // The ring's directory is made under TMPDIR: here, so the test can see it is gone.
        .env("TMPDIR", &tmp)
        .args([
            "local",
            "bench",
            "-n",
            "3",
            "--trials",
            "1",
            "--idle-secs",
            "1",
            "--sim",
            "none",
            "--base-port",
            &base.to_string(),
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(
        result.status.success(),
        "warren local bench failed:\n{stderr}"
    );

    // Nothing left: no ring directory, no member.
    let left: Vec<_> = std::fs::read_dir(&tmp)
        .unwrap_or_else(|e| panic!("{e}"))
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}\n{stderr}");
    let running = processes_mentioning(&tmp.to_string_lossy());
    assert!(running.is_empty(), "still running: {running:?}");

    // One object per size, every measurement in it.
    let text = std::fs::read_to_string(out.join("report.json")).unwrap_or_else(|e| panic!("{e}"));
    let report: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    let sizes = report["sizes"]
        .as_array()
        .unwrap_or_else(|| panic!("{report:#}"));
    assert_eq!(sizes.len(), 1, "{report:#}");
    let s = &sizes[0];
    assert_eq!(s["n"], 3);
    assert!(number(s, &["formation_s"]) > 0.0);
    assert!(number(s, &["first_leader_s"]) > 0.0);
    for (key, count) in [
        ("detection_s", 1),
        ("config_apply_s", 1),
        ("failover_s", 1),
        ("failover_agreed_s", 1),
    ] {
        assert_eq!(s[key]["count"], count, "{key}: {s:#}");
        assert!(number(s, &[key, "p50"]) > 0.0, "{key}: {s:#}");
        assert!(
            number(s, &[key, "max"]) >= number(s, &[key, "p50"]),
            "{key}"
        );
    }
    // Every survivor's time is kept for the coverage curves.
    assert_eq!(
        s["detection_coverage_s"][0].as_array().map(Vec::len),
        Some(2)
    );
    assert_eq!(
        s["config_apply_coverage_s"][0].as_array().map(Vec::len),
        Some(3)
    );
    for key in [
        "cpu_percent_of_core",
        "rss_mib",
        "sent_bytes_per_s",
        "sent_datagrams_per_s",
    ] {
        assert_eq!(s["idle"][key]["count"], 3, "{key}: {s:#}");
    }
    assert!(number(s, &["idle", "rss_mib", "min"]) > 0.0);
    assert!(number(s, &["idle", "sent_bytes_per_s", "mean"]) > 0.0);
    assert!(number(s, &["idle", "sent_datagrams_per_s", "mean"]) > 0.0);
    assert!(
        report["sim"]["sizes"][0]["skipped"].is_string(),
        "{report:#}"
    );
    let per_size: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("n3.json")).unwrap_or_else(|e| panic!("{e}")),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(&per_size, s);

    // Plots when a font is there (the report is complete either way).
    if stderr.contains("plot: ") {
        for f in [
            "detection-vs-n.png",
            "config-coverage.png",
            "bytes-per-member-vs-n.png",
        ] {
            let png = std::fs::read(out.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
            assert!(png.starts_with(b"\x89PNG"), "{f}");
        }
    } else {
        assert!(stderr.contains("no plots"), "{stderr}");
    }
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn a_bench_with_a_ring_too_small_is_refused() {
    let out = state_dir("local-bench-refused", 0);
    let result = Command::new(warren_e2e::warren_bin())
        .current_dir(repo_path(""))
        .args(["local", "bench", "-n", "2", "--out"])
        .arg(&out)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!result.status.success());
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(stderr.contains("at least 3 members"), "{stderr}");
    assert!(!Path::new(&out).join("report.json").exists());
    let _ = std::fs::remove_dir_all(&out);
}
