//! `warren plan render` as a user runs it: the built binary on the repository's plans and on a
//! broken one.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn warren(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_warren"))
        .args(args)
        .env_remove("HAB_HELLO")
        .output()
        .unwrap()
}

fn plans() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../plans")
}

#[test]
fn renders_hello_into_the_given_directory() {
    let out = tempfile::tempdir().unwrap();
    let plan = plans().join("hello");
    let result = warren(&[
        "plan".as_ref(),
        "render".as_ref(),
        plan.as_os_str(),
        "--out".as_ref(),
        out.path().as_os_str(),
    ]);
    let stdout = String::from_utf8_lossy(&result.stdout);
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(result.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.starts_with("rendered warren/hello/0.1.0 into "),
        "{stdout}"
    );
    assert!(stdout.contains("config/hello.conf"), "{stdout}");
    let conf = fs::read_to_string(out.path().join("config/hello.conf")).unwrap();
    assert!(conf.contains("role = \"leader\""), "{conf}");
    assert!(out.path().join("hooks/run").is_file());
    assert!(out.path().join("hooks/health-check").is_file());
}

#[test]
fn a_broken_template_fails_with_its_file_and_line() {
    let plan = tempfile::tempdir().unwrap();
    fs::write(plan.path().join("plan.sh"), "pkg_name=broken\n").unwrap();
    fs::create_dir(plan.path().join("config")).unwrap();
    fs::write(
        plan.path().join("config/app.conf"),
        "ok\n{{#if cfg.x}}\n{{/each}}\n",
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let result = warren(&[
        "plan".as_ref(),
        "render".as_ref(),
        plan.path().as_os_str(),
        "--out".as_ref(),
        out.path().as_os_str(),
    ]);
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(!result.status.success());
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("config/app.conf:3:"), "{stderr}");
}

#[test]
fn a_missing_plan_fails_naming_plan_sh() {
    let dir = tempfile::tempdir().unwrap();
    let result = warren(&["plan".as_ref(), "render".as_ref(), dir.path().as_os_str()]);
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(!result.status.success());
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("plan.sh"), "{stderr}");
    // Without --out a temporary directory is made, and removed again when the render fails.
    assert!(!stderr.contains("warren-render-"), "{stderr}");
}
