//! Learns a plan's variables the way Habitat's build does: `bash` sources `plan.sh`.
//!
//! Habitat's `hab-plan-build` sets a few variables (empty dependency arrays, `pkg_exports`,
//! `pkg_binds` and `pkg_binds_optional` declared associative, `pkg_svc_user=hab`, the
//! `pkg_svc_*_path` variables with an `@__pkg_name__@` placeholder), changes into the plan's
//! directory and runs `source plan.sh`; afterwards it replaces the placeholder in
//! `pkg_svc_run`. [`source`] does the same in a `bash` found on `PATH`, with a clean
//! environment (only a minimal `PATH`, `HOME` and `TMPDIR` in a fresh temporary directory, no
//! `STUDIO_TYPE` or other build-time variables), stdin and stdout closed to `/dev/null`, in its
//! own process group, and kills the group after [`TIMEOUT`]. Functions (`do_build`, ...) are
//! defined but never called; whatever the plan runs at its top level (`$(cat VERSION)`, a
//! `source` of a sibling plan, an `if`) runs as it would under Habitat.
//!
//! The variables come back as a dump that bash itself writes to a file of its own (so the
//! plan's output cannot corrupt it): NUL-separated records, each a kind (`s` scalar, `a`
//! indexed array, `A` associative array), the name, and for arrays a count then key/value
//! pairs (an indexed array's keys are its indices). Bash strings cannot hold NUL, so the
//! framing is exact; the dump ends with an `end` record, or a `fail` record carrying the
//! status `source` returned. The outcome is read from the dump, not from bash's exit status,
//! because inside `warren run` the process-wide reaper (`warren-process`) may reap bash first.
//!
//! What this does not do: it does not build anything, call `pkg_version()` or any other
//! function, resolve dependencies, or provide Habitat's build helpers (`pkg_path_for`,
//! `build_line`, ...) to the plan's top level; a plan that calls one there fails to load with
//! bash's message. A plan runs with the rights of the Warren process: it is code, just as it
//! is for `hab pkg build`.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// How long `plan.sh` may take to source before its process group is killed.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(10);

/// The most of bash's stderr an error quotes (its end, where the failure is).
const MAX_STDERR: usize = 4096;

/// How often the child is polled while it runs.
const POLL: Duration = Duration::from_millis(5);

/// A variable as bash left it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Value {
    /// `name=value`.
    Scalar(String),
    /// `name=(a b c)`: (index, element) in index order.
    Indexed(Vec<(String, String)>),
    /// `name=([k]=v ...)`: (key, value) in bash's order.
    Assoc(Vec<(String, String)>),
}

impl Value {
    /// What `$name` expands to in bash: a scalar's value, an array's element `0`.
    pub(crate) fn as_scalar(&self) -> Option<&str> {
        match self {
            Value::Scalar(s) => Some(s),
            Value::Indexed(pairs) | Value::Assoc(pairs) => pairs
                .iter()
                .find(|(k, _)| k == "0")
                .map(|(_, v)| v.as_str()),
        }
    }
}

/// Why a plan's variables could not be learnt.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BashError {
    /// No `bash` on `PATH`.
    #[error(
        "bash is not on PATH ({path}); Warren reads plan.sh by letting bash source it, as \
         Habitat does: install bash, or run a built package instead of a plan"
    )]
    NotFound {
        /// The `PATH` searched.
        path: String,
    },
    /// Bash could not be started, or its files not be read.
    #[error("cannot run bash: {0}")]
    Io(#[from] io::Error),
    /// `source plan.sh` failed or never finished.
    #[error("{what}{}", stderr_suffix(.stderr))]
    Failed {
        /// What happened ("source returned status 2", "timed out after 10s", ...).
        what: String,
        /// The end of bash's stderr.
        stderr: String,
    },
    /// The dump is not what the script writes (a bug, or a plan that tampered with it).
    #[error("unreadable variable dump from bash: {0}")]
    Dump(String),
}

fn stderr_suffix(stderr: &str) -> String {
    let trimmed = stderr.trim_end();
    if trimmed.is_empty() {
        " (bash printed nothing on stderr)".to_owned()
    } else {
        format!("; bash said:\n{trimmed}")
    }
}

/// The script bash runs: `$1` plan.sh (its real path, so `BASH_SOURCE[0]` is too), `$2` the
/// dump file, `$3` `pkg_target`, then the names to dump. The prelude mirrors
/// `hab-plan-build` up to `source "$PLAN_CONTEXT/plan.sh"`; the epilogue mirrors its pass
/// over `pkg_svc_run`.
const SCRIPT: &str = r#"
if [ -z "${BASH_VERSION:-}" ] || [ "${BASH_VERSINFO:-0}" -lt 4 ]; then
  echo "the bash on PATH is not GNU bash 4.3 or later (BASH_VERSION=${BASH_VERSION:-none})" >&2
  exit 96
fi
__warren_dump=$2
__warren_names=("${@:4}")
readonly __warren_dump __warren_names
HAB_ROOT_PATH=/hab
HAB_CACHE_SRC_PATH=$HAB_ROOT_PATH/cache/src
HAB_PKG_PATH=$HAB_ROOT_PATH/pkgs
PLAN_CONTEXT=$(builtin cd "${1%/*}" && builtin pwd)
pkg_target=$3
pkg_origin=""
pkg_build_deps=()
pkg_deps=()
pkg_lib_dirs=()
pkg_bin_dirs=()
pkg_include_dirs=()
pkg_pconfig_dirs=()
pkg_svc_run=''
pkg_exposes=()
declare -A pkg_exports
declare -A pkg_binds
declare -A pkg_binds_optional
pkg_svc_user=hab
pkg_svc_group=$pkg_svc_user
pkg_svc_path="$HAB_ROOT_PATH/svc/@__pkg_name__@"
pkg_svc_data_path="$pkg_svc_path/data"
pkg_svc_files_path="$pkg_svc_path/files"
pkg_svc_var_path="$pkg_svc_path/var"
pkg_svc_config_path="$pkg_svc_path/config"
pkg_svc_config_install_path="$pkg_svc_path/config_install"
pkg_svc_static_path="$pkg_svc_path/static"
umask 0022
builtin cd "$PLAN_CONTEXT" || builtin exit 97
__warren_plan=$1
builtin set --
builtin source "$__warren_plan"
__warren_status=$?
builtin set +e +u
if [[ $__warren_status -ne 0 ]]; then
  builtin printf 'fail\0%s\0' "$__warren_status" > "$__warren_dump"
  builtin exit 0
fi
if [[ -n "${pkg_svc_run+xxx}" ]]; then
  pkg_svc_run="$(builtin echo $pkg_svc_run)"
  pkg_svc_run=${pkg_svc_run//@__pkg_name__@/$pkg_name}
fi
__warren_emit() {
  builtin local __n=$1 __d __k
  __d=$(builtin declare -p "$__n" 2>/dev/null) || builtin return 0
  if [[ $__d =~ ^declare\ -[^\ ]*A ]]; then
    builtin local -n __r=$__n
    builtin printf 'A\0%s\0%s\0' "$__n" "${#__r[@]}"
    for __k in "${!__r[@]}"; do builtin printf '%s\0%s\0' "$__k" "${__r[$__k]}"; done
  elif [[ $__d =~ ^declare\ -[^\ ]*a ]]; then
    builtin local -n __r=$__n
    builtin printf 'a\0%s\0%s\0' "$__n" "${#__r[@]}"
    for __k in "${!__r[@]}"; do builtin printf '%s\0%s\0' "$__k" "${__r[$__k]}"; done
  elif [[ -n "${!__n+set}" ]]; then
    builtin printf 's\0%s\0%s\0' "$__n" "${!__n}"
  fi
}
{
  for __warren_n in "${__warren_names[@]}"; do __warren_emit "$__warren_n"; done
  builtin printf 'end\0'
} > "$__warren_dump"
"#;

/// Sources `plan_sh` in bash as described in the module docs and returns the variables in
/// `names` that are set (an unset one is absent from the map).
pub(crate) fn source(plan_sh: &Path, names: &[&str]) -> Result<HashMap<String, Value>, BashError> {
    source_within(plan_sh, names, TIMEOUT)
}

/// [`source`] with another timeout (tests use a short one).
fn source_within(
    plan_sh: &Path,
    names: &[&str],
    timeout: Duration,
) -> Result<HashMap<String, Value>, BashError> {
    let bash = find_bash()?;
    let plan_sh = std::fs::canonicalize(plan_sh)?;
    let scratch = tempfile::Builder::new().prefix("warren-plan-").tempdir()?;
    let home = scratch.path().join("home");
    std::fs::create_dir(&home)?;
    let dump = scratch.path().join("dump");
    let stderr_path = scratch.path().join("stderr");
    let stderr = File::create(&stderr_path)?;

    let mut path = OsString::from("/usr/local/bin:/usr/bin:/bin");
    if let Some(dir) = bash
        .parent()
        .filter(|d| !["/usr/bin", "/bin"].contains(&d.to_str().unwrap_or("")))
    {
        path.push(":");
        path.push(dir);
    }
    let mut cmd = Command::new(&bash);
    cmd.arg("--noprofile")
        .arg("--norc")
        .arg("-c")
        .arg(SCRIPT)
        .arg("warren-plan")
        .arg(&plan_sh)
        .arg(&dump)
        .arg(pkg_target())
        .args(names)
        .env_clear()
        .env("PATH", path)
        .env("HOME", &home)
        .env("TMPDIR", scratch.path())
        .current_dir(scratch.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .process_group(0);
    let mut child = cmd.spawn()?;

    let started = Instant::now();
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() >= timeout => {
                // Still ours (not yet reaped), so its pid is still its process group's id.
                if let Ok(pid) = i32::try_from(child.id()) {
                    let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
                }
                timed_out = true;
                break child.wait().ok();
            }
            Ok(None) => std::thread::sleep(POLL),
            // Reaped by someone else (Warren's reaper): the dump tells the outcome.
            Err(_) => break None,
        }
    };

    let stderr = read_tail(&stderr_path);
    if timed_out {
        return Err(BashError::Failed {
            what: format!(
                "sourcing plan.sh did not finish within {}s; its processes were killed",
                timeout.as_secs_f32()
            ),
            stderr,
        });
    }
    let bytes = match std::fs::read(&dump) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let how = match status {
                Some(s) => format!("bash ended ({s}) before plan.sh finished sourcing"),
                None => "bash ended before plan.sh finished sourcing".to_owned(),
            };
            let hint = if stderr.contains("is not GNU bash") {
                ""
            } else {
                " (does it call `exit`?)"
            };
            return Err(BashError::Failed {
                what: format!("{how}{hint}"),
                stderr,
            });
        }
        Err(e) => return Err(e.into()),
    };
    match parse_dump(&bytes, names)? {
        Outcome::Vars(vars) => {
            // bash reports a syntax error before the last line and goes on, and `source` can
            // still return 0: the variables after it are missing, which nothing else would say.
            if stderr.contains("syntax error") {
                tracing::warn!(
                    plan = %plan_sh.display(),
                    "plan.sh has a syntax error; variables after it are missing: {}",
                    stderr.trim_end()
                );
            }
            Ok(vars)
        }
        Outcome::Failed(code) => Err(BashError::Failed {
            what: format!("`source plan.sh` returned status {code}"),
            stderr,
        }),
    }
}

/// Habitat's target of this machine (`x86_64-linux`, `aarch64-linux`).
fn pkg_target() -> String {
    format!("{}-{}", std::env::consts::ARCH, std::env::consts::OS)
}

/// `bash` on this process's `PATH`.
fn find_bash() -> Result<PathBuf, BashError> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let candidate = dir.join("bash");
        if is_executable(&candidate) {
            return Ok(candidate);
        }
    }
    Err(BashError::NotFound {
        path: path.to_string_lossy().into_owned(),
    })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn read_tail(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_default();
    let start = bytes.len().saturating_sub(MAX_STDERR);
    let text = String::from_utf8_lossy(&bytes[start..]).into_owned();
    if start > 0 {
        format!("...{text}")
    } else {
        text
    }
}

/// What the dump says.
#[derive(Debug, PartialEq)]
enum Outcome {
    Vars(HashMap<String, Value>),
    Failed(String),
}

/// Parses the dump strictly: every record complete, names among `names` and not repeated,
/// counts matching, UTF-8 throughout, and an `end` (or `fail`) record last.
fn parse_dump(bytes: &[u8], names: &[&str]) -> Result<Outcome, BashError> {
    let bad = |m: String| BashError::Dump(m);
    let Some(body) = bytes.strip_suffix(b"\0") else {
        return Err(bad(
            "it does not end with NUL (bash ended mid-write?)".to_owned()
        ));
    };
    let mut fields = body.split(|b| *b == 0).map(|f| {
        std::str::from_utf8(f).map_err(|_| {
            bad(format!(
                "a value is not UTF-8: {:?}",
                String::from_utf8_lossy(f)
            ))
        })
    });
    let mut next = |what: &str| {
        fields
            .next()
            .ok_or_else(|| bad(format!("it ends before {what}")))?
    };
    let mut vars = HashMap::new();
    loop {
        let kind = next("the `end` record")?;
        match kind {
            "end" => break,
            "fail" => return Ok(Outcome::Failed(next("the status")?.to_owned())),
            "s" | "a" | "A" => {}
            other => return Err(bad(format!("unknown record kind {other:?}"))),
        }
        let name = next("a name")?;
        if !names.contains(&name) || vars.contains_key(name) {
            return Err(bad(format!("unexpected or repeated variable {name:?}")));
        }
        let value = if kind == "s" {
            Value::Scalar(next("a value")?.to_owned())
        } else {
            let count = next("a count")?;
            let count: usize = count
                .parse()
                .map_err(|_| bad(format!("{name}: count {count:?} is not a number")))?;
            let mut pairs = Vec::with_capacity(count.min(1024));
            for _ in 0..count {
                let key = next("a key")?.to_owned();
                let value = next("a value")?.to_owned();
                pairs.push((key, value));
            }
            if kind == "a" {
                Value::Indexed(pairs)
            } else {
                Value::Assoc(pairs)
            }
        };
        vars.insert(name.to_owned(), value);
    }
    if fields.next().is_some() {
        return Err(bad("data after the `end` record".to_owned()));
    }
    Ok(Outcome::Vars(vars))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    const NAMES: [&str; 6] = ["one", "arr", "map", "empty_map", "unset_one", "declared"];

    /// Sources `plan` (written as `plan.sh` in a fresh directory, next to `files`).
    fn run(plan: &str, files: &[(&str, &str)]) -> Result<HashMap<String, Value>, BashError> {
        run_within(plan, files, TIMEOUT)
    }

    fn run_within(
        plan: &str,
        files: &[(&str, &str)],
        timeout: Duration,
    ) -> Result<HashMap<String, Value>, BashError> {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        std::fs::write(dir.path().join("plan.sh"), plan).unwrap();
        source_within(&dir.path().join("plan.sh"), &NAMES, timeout)
    }

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn kinds_come_back_exactly() {
        let vars = run(
            concat!(
                "one=$'tab\\there\\nnewline \"quoted\" \\\\ back'\n",
                "arr=(a 'b c' '')\narr[5]=sparse\n",
                "declare -A map=([k]='v w' ['odd key']=\"=\")\n",
                "declare -A empty_map\n",
                "declare declared\n",
                "echo 'noise on stdout'; echo 'noise on stderr' >&2\n",
                // Functions shadowing the commands the dump uses change nothing.
                "local() { :; }; printf() { :; }; declare() { :; }; echo() { :; }\n",
            ),
            &[],
        )
        .unwrap();
        assert_eq!(
            vars["one"],
            Value::Scalar("tab\there\nnewline \"quoted\" \\ back".to_owned())
        );
        assert_eq!(
            vars["arr"],
            Value::Indexed(pairs(&[
                ("0", "a"),
                ("1", "b c"),
                ("2", ""),
                ("5", "sparse")
            ]))
        );
        let Value::Assoc(mut map) = vars["map"].clone() else {
            panic!("{:?}", vars["map"]);
        };
        map.sort();
        assert_eq!(map, pairs(&[("k", "v w"), ("odd key", "=")]));
        assert_eq!(vars["empty_map"], Value::Assoc(Vec::new()));
        assert!(!vars.contains_key("unset_one"));
        assert!(
            !vars.contains_key("declared"),
            "declared without a value is unset"
        );
        assert_eq!(vars["arr"].as_scalar(), Some("a"));
    }

    #[test]
    fn failures_quote_bash() {
        let cases: [(&str, &str); 4] = [
            ("one=1\nif then\n", "syntax error"),
            ("one=1\nfalse\n", "returned status 1"),
            (
                "echo bye >&2\nexit 3\n",
                "bash ended (exit status: 3) before plan.sh finished",
            ),
            (
                "no_such_command_here\n",
                "no_such_command_here: command not found",
            ),
        ];
        for (plan, want) in cases {
            let err = run(plan, &[]).unwrap_err().to_string();
            assert!(err.contains(want), "{plan:?}\n got: {err}\nwant: {want}");
        }
        let err = run("echo bye >&2\nexit 3\n", &[]).unwrap_err().to_string();
        assert!(err.contains("bash said:\nbye"), "{err}");
    }

    #[test]
    fn the_environment_is_clean_and_the_directory_is_the_plans() {
        let vars = run(
            "one=\"${STUDIO_TYPE:-unset}|${CARGO:-unset}|$(cat VERSION)|${BASH_SOURCE[0]##*/}\"\n",
            &[("VERSION", "1.2.3\n")],
        )
        .unwrap();
        assert_eq!(
            vars["one"],
            Value::Scalar("unset|unset|1.2.3|plan.sh".to_owned())
        );
    }

    #[test]
    fn a_shell_that_is_not_bash_is_refused_clearly() {
        // The guard runs first, so even a POSIX shell reports it.
        let out = std::process::Command::new("sh")
            .args([
                "-c",
                SCRIPT,
                "warren-plan",
                "/nonexistent/plan.sh",
                "/nonexistent/dump",
            ])
            .env_remove("BASH_VERSION")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        if std::fs::canonicalize("/bin/sh").is_ok_and(|p| p.ends_with("bash")) {
            return; // sh is bash here: nothing to show.
        }
        assert_eq!(out.status.code(), Some(96), "{stderr}");
        assert!(stderr.contains("is not GNU bash 4.3 or later"), "{stderr}");
    }

    #[test]
    fn a_plan_that_hangs_is_killed() {
        let started = Instant::now();
        let timeout = Duration::from_millis(500);
        let err = run_within("sleep 600 &\nsleep 600\n", &[], timeout)
            .unwrap_err()
            .to_string();
        assert!(err.contains("did not finish within 0.5s"), "{err}");
        assert!(started.elapsed() < timeout + Duration::from_secs(5));
    }

    #[test]
    fn dumps_are_parsed_strictly() {
        let names = ["x", "y"];
        let ok = parse_dump(b"s\0x\0v\0a\0y\x002\x000\0p\x001\0q\0end\0", &names).unwrap();
        let Outcome::Vars(vars) = ok else { panic!() };
        assert_eq!(vars["x"], Value::Scalar("v".to_owned()));
        assert_eq!(vars["y"], Value::Indexed(pairs(&[("0", "p"), ("1", "q")])));
        assert_eq!(
            parse_dump(b"fail\x002\0", &names).unwrap(),
            Outcome::Failed("2".to_owned())
        );
        let bad: [&[u8]; 8] = [
            b"",
            b"s\0x\0v\0",
            b"s\0x\0v\0end",
            b"s\0z\0v\0end\0",
            b"s\0x\0v\0s\0x\0w\0end\0",
            b"a\0y\x003\x000\0p\0end\0",
            b"q\0x\0end\0",
            b"end\0s\0x\0v\0",
        ];
        for dump in bad {
            assert!(
                matches!(parse_dump(dump, &names), Err(BashError::Dump(_))),
                "{:?}",
                String::from_utf8_lossy(dump)
            );
        }
        assert!(parse_dump(b"s\0x\0\xff\0end\0", &names).is_err());
    }
}
