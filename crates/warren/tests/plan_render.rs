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

/// `warren plan render PLAN --out OUT`.
fn render_into(plan: &Path, out: &Path) -> Output {
    warren(&[
        "plan".as_ref(),
        "render".as_ref(),
        plan.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ])
}

fn plans() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../plans")
}

#[test]
fn renders_hello_into_the_given_directory() {
    let out = tempfile::tempdir().unwrap();
    let plan = plans().join("hello");
    let result = render_into(&plan, out.path());
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
    let result = render_into(plan.path(), out.path());
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

/// Habitat's form: `hab plan render TEMPLATE -d -u -m -r`, then `-p -q -n`.
#[test]
fn habitats_form_renders_one_template_with_cfg_and_mock_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name);
    fs::write(path("default.toml"), "port = 1\n[tls]\nport = 2\n").unwrap();
    fs::write(path("user.toml"), "port = 3\n").unwrap();
    fs::write(
        path("mock.json"),
        r#"{"cfg": {"tls": {"on": true}}, "sys": {"ip": "10.1.2.3"}}"#,
    )
    .unwrap();
    fs::write(
        path("app.conf"),
        "port={{cfg.port}} tls={{cfg.tls.port}}/{{cfg.tls.on}} ip={{sys.ip}} pkg=[{{pkg.name}}]",
    )
    .unwrap();
    let want = "port=3 tls=2/true ip=10.1.2.3 pkg=[]";
    let out = path("results");
    let args = |extra: &[&str]| -> Vec<std::ffi::OsString> {
        let mut v: Vec<std::ffi::OsString> = ["plan", "render"].map(Into::into).to_vec();
        v.push(path("app.conf").into());
        for (flag, file) in [
            ("-d", "default.toml"),
            ("-u", "user.toml"),
            ("-m", "mock.json"),
        ] {
            v.push(flag.into());
            v.push(path(file).into());
        }
        v.extend(extra.iter().map(Into::into));
        v
    };
    let os = |v: &[std::ffi::OsString]| -> Output {
        warren(&v.iter().map(|s| s.as_os_str()).collect::<Vec<_>>())
    };

    let mut written = args(&[]);
    written.push("-r".into());
    written.push(out.clone().into());
    let result = os(&written);
    let stdout = String::from_utf8_lossy(&result.stdout);
    assert!(result.status.success(), "{stdout}");
    assert!(stdout.contains("Importing override file:"), "{stdout}");
    assert_eq!(fs::read_to_string(out.join("app.conf")).unwrap(), want);

    let printed = os(&args(&["-p", "-q", "-n"]));
    assert!(printed.status.success());
    assert_eq!(
        String::from_utf8_lossy(&printed.stdout),
        format!("{want}\n")
    );

    let mixed = os(&args(&["--strict"]));
    assert!(!mixed.status.success());
    assert!(String::from_utf8_lossy(&mixed.stderr).contains("--strict"));
    let plan_with_p = warren(&[
        "plan".as_ref(),
        "render".as_ref(),
        plans().join("hello").as_os_str(),
        "-p".as_ref(),
    ]);
    assert!(!plan_with_p.status.success());
    assert!(
        String::from_utf8_lossy(&plan_with_p.stderr).contains("-p/--print is for Habitat's form")
    );
}

#[test]
fn a_plan_that_bash_cannot_source_fails_quoting_bash() {
    let plan = tempfile::tempdir().unwrap();
    fs::write(plan.path().join("plan.sh"), "pkg_name=x\nif then\n").unwrap();
    let result = warren(&["plan".as_ref(), "render".as_ref(), plan.path().as_os_str()]);
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(!result.status.success());
    assert!(stderr.contains("plan.sh: cannot load the plan"), "{stderr}");
    assert!(stderr.contains("syntax error"), "{stderr}");
}

/// bash goes on after a syntax error that is not on the last line, and `source` may return 0;
/// the plan loads as Habitat's build would take it, but the user is told what bash said.
#[test]
fn a_syntax_error_bash_goes_past_is_reported_as_a_warning() {
    let plan = tempfile::tempdir().unwrap();
    fs::write(
        plan.path().join("plan.sh"),
        "pkg_name=midway\npkg_origin=me\npkg_exports=(\n  [port]=port\npkg_exposes=(port)\npkg_version=1.0\n",
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let result = render_into(plan.path(), out.path());
    let stdout = String::from_utf8_lossy(&result.stdout);
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(result.status.success(), "{stdout}\n{stderr}");
    assert!(stderr.contains("plan.sh has a syntax error"), "{stderr}");
    assert!(stderr.contains("unexpected token"), "{stderr}");
}
