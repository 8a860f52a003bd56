//! Installed packages by identifier and encrypted gossip, end to end with real `warren run`
//! processes:
//!
//! - `warren run test/web` (with `--fs-root`) starts the newest of several installed versions and
//!   releases, laid out as Habitat lays out `/hab/pkgs`, in Habitat's version order;
//!   `warren svc load test/db` records the identifier as given in the spec file, and an
//!   identifier with nothing installed is refused with a list of what is.
//! - `warren config apply --user` / `warren file upload --user` encrypt (BOX-1) with keys made by
//!   `warren key generate`; the service renders the config and writes the file in clear while
//!   its secret key is in the key cache, and refuses both, changing nothing, once it is not.

use std::path::Path;
use std::time::Duration;

use warren_e2e::{Sup, state_dir, wait_until};

fn write(path: &Path, text: &str) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    }
    std::fs::write(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// Installs `origin/name/version/release` under `<root>/hab/pkgs` with Habitat's metafiles, a
/// `run` file, hooks, a config template that shows which one runs, and `default.toml`.
fn install(root: &Path, origin: &str, name: &str, version: &str, release: &str) {
    let dir = root
        .join("hab/pkgs")
        .join(origin)
        .join(name)
        .join(version)
        .join(release);
    let ident = format!("{origin}/{name}/{version}/{release}");
    write(&dir.join("IDENT"), &format!("{ident}\n"));
    write(&dir.join("TARGET"), "x86_64-linux\n");
    write(&dir.join("PATH"), &format!("{}/bin\n", dir.display()));
    write(&dir.join("SVC_USER"), "hab\n");
    write(&dir.join("SVC_GROUP"), "hab\n");
    write(&dir.join("EXPORTS"), "port=port\n");
    write(&dir.join("EXPOSES"), "8080\n");
    write(&dir.join("BINDS"), "");
    write(&dir.join("BINDS_OPTIONAL"), "backend=port\n");
    write(&dir.join("run"), "#!/bin/sh\nexec sleep 1000\n");
    write(
        &dir.join("hooks/init"),
        "#!/bin/sh\necho init {{pkg.version}}\n",
    );
    write(&dir.join("default.toml"), "port = 8080\n");
    write(
        &dir.join(format!("config/{name}.conf")),
        "ident={{pkg.origin}}/{{pkg.name}}/{{pkg.version}}/{{pkg.release}}\nport={{cfg.port}}\n",
    );
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[test]
fn run_and_load_by_identifier_take_the_newest_installed_release() {
    let test = "pkg-ident";
    let root = state_dir(test, 0);
    for (v, r) in [
        ("1.9.0", "20250101000000"),
        ("1.10.0", "20200101000000"),
        ("1.10.0", "20200202000000"),
        ("1.10", "20200101120000"),
        ("1.10.0-rc1", "20240101000000"),
        ("1.2.10", "20260101000000"),
    ] {
        install(&root, "test", "web", v, r);
    }
    for (v, r) in [("0.9", "20200101000000"), ("0.10", "20190101000000")] {
        install(&root, "test", "db", v, r);
    }
    let sup = Sup::start(&root, &[], &["test/web"]);
    let conf = root.join("hab/svc/web/config/web.conf");
    let rendered = wait_until(Duration::from_secs(30), || {
        read(&conf).contains("ident=test/web/")
    });
    assert!(rendered, "{test}: web never rendered: {}", read(&conf));
    assert!(
        read(&conf).contains("ident=test/web/1.10.0/20200202000000\n"),
        "{test}: not the newest: {}",
        read(&conf)
    );
    let started = wait_until(Duration::from_secs(15), || {
        root.join("hab/svc/web/PID").exists()
    });
    assert!(started, "{test}: web never started");

    // `warren svc load` by identifier: the newest, and the spec records the identifier.
    let (ok, out, err) = sup.ctl(&["svc", "load", "test/db"]);
    assert!(ok, "{test}: svc load test/db: {out} {err}");
    let db_conf = root.join("hab/svc/db/config/db.conf");
    let rendered = wait_until(Duration::from_secs(30), || {
        read(&db_conf).contains("ident=test/db/0.10/20190101000000")
    });
    assert!(rendered, "{test}: db: {}", read(&db_conf));
    let spec = read(&root.join("hab/sup/default/specs/db.spec"));
    assert!(spec.contains("ident = \"test/db\""), "{test}: {spec}");
    assert!(!spec.contains("plan_path"), "{test}: {spec}");

    // Nothing installed that matches: the error lists what is.
    let (ok, out, err) = sup.ctl(&["svc", "load", "test/web/3.0"]);
    assert!(!ok, "{test}: {out}");
    assert!(
        err.contains("test/web/1.10.0/20200202000000") && err.contains("test/web/1.9.0"),
        "{test}: {err}"
    );
    let (ok, _, err) = sup.ctl(&["svc", "load", "test/nothing"]);
    assert!(!ok);
    assert!(
        err.contains("no release of test/nothing is installed"),
        "{test}: {err}"
    );
}

#[test]
fn warren_run_by_identifier_with_nothing_installed_says_so() {
    let root = state_dir("pkg-ident-none", 0);
    let out = std::process::Command::new(warren_e2e::warren_bin())
        .args(["run", "--listen-gossip", "127.0.0.1:0", "--fs-root"])
        .arg(&root)
        .arg("test/absent")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no release of test/absent is installed"),
        "{err}"
    );
}

#[test]
fn encrypted_config_and_files_open_only_with_the_service_key() {
    let test = "pkg-box";
    let root = state_dir(test, 0);
    install(&root, "test", "web", "1.0.0", "20260101000000");
    let keys = root.join("hab/cache/keys");
    let keygen = |args: &[&str]| {
        let out = std::process::Command::new(warren_e2e::warren_bin())
            .args(["key", "generate"])
            .args(args)
            .arg("--fs-root")
            .arg(&root)
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let user = keygen(&["user", "alice"]);
    assert!(
        user.contains("alice-") && user.contains(".box.key"),
        "{user}"
    );
    let service = keygen(&["service", "web.default", "acme"]);
    let service_secret = service
        .lines()
        .find(|l| l.ends_with(".box.key"))
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("{service}"));
    assert!(service_secret.contains("web.default@acme-"), "{service}");
    assert!(read(Path::new(&service_secret)).starts_with("BOX-SEC-1\nweb.default@acme-"));

    let sup = Sup::start(&root, &[], &["test/web", "--org", "acme"]);
    let conf = root.join("hab/svc/web/config/web.conf");
    let rendered = wait_until(Duration::from_secs(30), || {
        read(&conf).contains("port=8080")
    });
    assert!(rendered, "{test}: web never rendered: {}", read(&conf));

    // With the service's secret key: rendered and written in clear.
    let cfg = root.join("port.toml");
    write(&cfg, "port = 9999\n");
    let cfg_s = cfg.to_string_lossy().into_owned();
    let (ok, out, err) = sup.ctl(&[
        "config",
        "apply",
        "web.default",
        "2",
        &cfg_s,
        "--user",
        "alice",
        "--org",
        "acme",
    ]);
    assert!(ok, "{test}: config apply --user: {out} {err}");
    let applied = wait_until(Duration::from_secs(15), || {
        read(&conf).contains("port=9999")
    });
    assert!(
        applied,
        "{test}: encrypted config not rendered: {}",
        read(&conf)
    );
    let secret_file = root.join("secret.txt");
    write(&secret_file, "s3cret\n");
    let file_s = secret_file.to_string_lossy().into_owned();
    let (ok, out, err) = sup.ctl(&[
        "file",
        "upload",
        "web.default@acme",
        "2",
        &file_s,
        "--user",
        "alice",
    ]);
    assert!(ok, "{test}: file upload --user: {out} {err}");
    let written = root.join("hab/svc/web/files/secret.txt");
    let ok = wait_until(Duration::from_secs(15), || read(&written) == "s3cret\n");
    assert!(
        ok,
        "{test}: encrypted file not written in clear: {:?}",
        read(&written)
    );

    // Without --org or @ORG, --user is refused before anything is sent.
    let (ok, _, err) = sup.ctl(&[
        "config",
        "apply",
        "web.default",
        "5",
        &cfg_s,
        "--user",
        "alice",
    ]);
    assert!(!ok && err.contains("SERVICE.GROUP@ORG"), "{test}: {err}");

    // The service's secret key gone: refused, named, nothing changes.
    std::fs::remove_file(&service_secret).unwrap_or_else(|e| panic!("{e}"));
    write(&cfg, "port = 7777\n");
    let (ok, out, err) = sup.ctl(&[
        "config",
        "apply",
        "web.default@acme",
        "3",
        &cfg_s,
        "--user",
        "alice",
    ]);
    assert!(ok, "{test}: {out} {err}");
    write(&secret_file, "other\n");
    let (ok, out, err) = sup.ctl(&[
        "file",
        "upload",
        "web.default@acme",
        "3",
        &file_s,
        "--user",
        "alice",
    ]);
    assert!(ok, "{test}: {out} {err}");
    let key_name = Path::new(&service_secret)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let logged = wait_until(Duration::from_secs(15), || {
        let log = read(&root.join("warren.log"));
        log.contains("gossiped configuration refused")
            && log.contains("gossiped file refused")
            && log.contains(&key_name)
    });
    assert!(
        logged,
        "{test}: no refusal naming {key_name}: {}",
        warren_e2e::log_tail(&root, 30)
    );
    assert!(read(&conf).contains("port=9999"), "{test}: {}", read(&conf));
    assert_eq!(read(&written), "s3cret\n");
    assert!(keys.is_dir());
}
