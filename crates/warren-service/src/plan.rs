//! Plans and packages: what Warren needs to know about the software it supervises, read from
//! a plan directory (`plan.sh` sourced by `bash` as Habitat's build sources it, in the private
//! module `plan::bash`; `default.toml`, `config/`, `hooks/`) or from an installed Habitat
//! package directory (`/hab/pkgs/<origin>/<name>/<version>/<release>` and its metafiles
//! `IDENT`, `EXPORTS`, `BINDS`, ...). Both give the same [`Package`].
//!
//! A plan or package with errors is refused with a [`PlanError`] naming the file (and, for a
//! metafile, the line; bash does not say which line set a variable).
//!
//! A plan variable is read as Habitat's build reads it: a scalar where Habitat writes `$name`
//! (so `pkg_svc_user=(hab)` gives `hab`, element 0), `"${name[@]}"` for lists, and the
//! associative arrays `pkg_exports`, `pkg_binds`, `pkg_binds_optional`. An empty value counts
//! as unset where Habitat's default is an empty string (`pkg_origin`, `pkg_svc_run`).
//!
//! What this module does not do: it does not build packages, resolve dependencies, render
//! templates, run hooks or check binds against the census. Runtime environment settings a plan
//! makes in its functions (`do_setup_environment`) only exist in a built package's
//! `RUNTIME_ENVIRONMENT`; a plan directory has none.

mod bash;

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use warren_template::{PackageIdent, PkgInfo};

use crate::config::{TomlSyntax, parse_table};
use bash::Value;

/// Habitat's default service user and group (`pkg_svc_user`, `pkg_svc_group`).
pub const DEFAULT_SVC_USER: &str = "hab";
/// Habitat's default service group.
pub const DEFAULT_SVC_GROUP: &str = "hab";
/// Habitat's default shutdown signal (`pkg_shutdown_signal`), without the `SIG` prefix.
pub const DEFAULT_SHUTDOWN_SIGNAL: &str = "TERM";
/// Habitat's default time between the shutdown signal and `KILL` (`pkg_shutdown_timeout_sec`).
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(8);
/// How long `bash` may take to source a `plan.sh` before it is killed.
pub const PLAN_SOURCE_TIMEOUT: Duration = bash::TIMEOUT;

/// The plan variables Warren reads; the bash reader dumps only these.
const PLAN_VARIABLES: [&str; 12] = [
    "pkg_name",
    "pkg_origin",
    "pkg_version",
    "pkg_svc_run",
    "pkg_exports",
    "pkg_exposes",
    "pkg_binds",
    "pkg_binds_optional",
    "pkg_svc_user",
    "pkg_svc_group",
    "pkg_shutdown_signal",
    "pkg_shutdown_timeout_sec",
];

/// The origin of a plan that does not set `pkg_origin` (Habitat's build would need
/// `HAB_ORIGIN`; Warren runs the plan as a local one).
pub const DEFAULT_PLAN_ORIGIN: &str = "local";

/// Signal names a package may ask to be stopped with (POSIX and Linux; no `SIG` prefix).
const SIGNALS: [&str; 31] = [
    "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2",
    "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG",
    "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS",
];

/// Where a [`Package`] was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PackageSource {
    /// A plan directory (`plan.sh`); never built, so it has no release.
    PlanDir,
    /// An installed Habitat package (`IDENT` and the other metafiles).
    Installed,
}

/// A package as the supervisor sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Package {
    /// `origin/name/version/release`. A plan has no release, and no version if it computes
    /// `pkg_version` in a function.
    pub ident: PackageIdent,
    /// Plan directory or installed package.
    pub source: PackageSource,
    /// The directory the package was read from (for a plan, the one holding `plan.sh`).
    pub dir: PathBuf,
    /// `pkg_svc_run`: the command that runs the service when there is no `run` hook.
    pub svc_run: Option<String>,
    /// An installed package's `run` file (rendered from `pkg_svc_run` at build time).
    pub run_file: Option<PathBuf>,
    /// Exports: export key → dotted path into the configuration (`pkg_exports`, `EXPORTS`).
    pub exports: BTreeMap<String, String>,
    /// Exposed ports (`EXPOSES`; for a plan, `pkg_exposes` export keys looked up in
    /// `default.toml`, as Habitat's build does).
    pub exposes: Vec<String>,
    /// Required binds: bind name → export keys the bound group must provide.
    pub binds: BTreeMap<String, Vec<String>>,
    /// Optional binds, same shape.
    pub binds_optional: BTreeMap<String, Vec<String>>,
    /// User the service runs as.
    pub svc_user: String,
    /// Group the service runs as.
    pub svc_group: String,
    /// Signal that stops the service, without `SIG` (e.g. `TERM`).
    pub shutdown_signal: String,
    /// How long to wait after the shutdown signal before `KILL`.
    pub shutdown_timeout: Duration,
    /// Runtime environment (`RUNTIME_ENVIRONMENT`, including `PATH`); empty for a plan.
    pub runtime_environment: BTreeMap<String, String>,
    /// `default.toml`, if the package has one.
    pub default_toml: Option<PathBuf>,
    /// `config/` (configuration templates), if present.
    pub config_dir: Option<PathBuf>,
    /// `hooks/` (hook templates), if present.
    pub hooks_dir: Option<PathBuf>,
    /// The parsed `default.toml` (empty without one): the lowest configuration layer.
    pub default_cfg: toml::Table,
}

/// Why a plan or package could not be loaded. Every variant names the file; those that can
/// name a line do (1-based).
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// A file or directory could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// What was being read.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// `bash` could not source `plan.sh` (missing bash, a syntax error, a non-zero status,
    /// the timeout); the message quotes bash's stderr.
    #[error("{}: cannot load the plan: {message}", path.display())]
    Source {
        /// The file.
        path: PathBuf,
        /// What went wrong, with bash's stderr.
        message: String,
    },
    /// A plan variable is set but wrong (a bad name, an exposed key that is not exported, ...).
    #[error("{}: {message}", path.display())]
    PlanValue {
        /// The file (`plan.sh`).
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A metafile value is present but wrong (a bad IDENT, a malformed line, ...).
    #[error("{}:{line}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// Something required is absent (`pkg_name` in `plan.sh`, the `IDENT` file).
    #[error("{}: {what}", path.display())]
    Missing {
        /// The file (or directory).
        path: PathBuf,
        /// What is missing.
        what: String,
    },
    /// `default.toml` is not valid TOML.
    #[error("{}: invalid TOML {syntax}", path.display())]
    DefaultToml {
        /// The file.
        path: PathBuf,
        /// Where and what, from the TOML parser.
        syntax: TomlSyntax,
    },
}

impl Package {
    /// Reads a plan directory: `DIR/plan.sh` (or `DIR/habitat/plan.sh`, Habitat's other
    /// accepted place; the plan's files are then next to it), `default.toml`, `config/`,
    /// `hooks/`. `plan.sh` is sourced by `bash` (see the module docs): this blocks for as
    /// long as that takes, at most [`PLAN_SOURCE_TIMEOUT`].
    pub fn from_plan_dir(dir: &Path) -> Result<Package, PlanError> {
        // `pkg.path` (and every path derived from it) is absolute, as an installed package's is:
        // a hook rendered from `warren plan render ./plan` runs from the service's directory.
        let absolute = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
        let dir = absolute.as_path();
        let mut plan_dir = dir.to_path_buf();
        if !plan_dir.join("plan.sh").is_file() && dir.join("habitat/plan.sh").is_file() {
            plan_dir = dir.join("habitat");
        }
        let plan_sh = plan_dir.join("plan.sh");
        if !plan_sh.is_file() {
            // Read it for the error Habitat's users expect (no such file, permission, ...).
            read(&plan_sh)?;
        }
        let vars = bash::source(&plan_sh, &PLAN_VARIABLES).map_err(|e| PlanError::Source {
            path: plan_sh.clone(),
            message: e.to_string(),
        })?;
        let plan = PlanVars {
            path: &plan_sh,
            vars: &vars,
        };

        let Some(name) = plan.scalar("pkg_name") else {
            return Err(PlanError::Missing {
                path: plan_sh,
                what: "pkg_name is not set".to_owned(),
            });
        };
        plan.check(check_ident_part("pkg_name", &name))?;
        let origin = match plan.scalar("pkg_origin") {
            Some(origin) => {
                plan.check(check_ident_part("pkg_origin", &origin))?;
                origin
            }
            None => DEFAULT_PLAN_ORIGIN.to_owned(),
        };
        // Unset (or computed by a `pkg_version()` function, which Warren does not call): the
        // plan runs without a version, as Habitat's build would before `update_pkg_version`.
        let version = match plan.scalar("pkg_version") {
            Some(version) => {
                if version.contains(['/', ' ', '\t', '\n']) {
                    return Err(plan.invalid(format!(
                        "pkg_version must be a value without `/` or spaces, not {version:?}"
                    )));
                }
                Some(version)
            }
            None => None,
        };

        let exports: BTreeMap<String, String> = match plan.assoc("pkg_exports")? {
            Some(pairs) => {
                for (key, path) in &pairs {
                    if key.is_empty() || path.is_empty() {
                        return Err(plan.invalid(format!(
                            "pkg_exports entry [{key}]={path} needs a key and a path"
                        )));
                    }
                }
                pairs.into_iter().collect()
            }
            None => BTreeMap::new(),
        };
        let binds = plan.binds("pkg_binds")?;
        let binds_optional = plan.binds("pkg_binds_optional")?;

        let svc_user = plan
            .scalar("pkg_svc_user")
            .unwrap_or_else(|| DEFAULT_SVC_USER.to_owned());
        let svc_group = plan
            .scalar("pkg_svc_group")
            .unwrap_or_else(|| DEFAULT_SVC_GROUP.to_owned());
        let shutdown_signal = match plan.scalar("pkg_shutdown_signal") {
            Some(sig) => plan.check(parse_signal(&sig))?,
            None => DEFAULT_SHUTDOWN_SIGNAL.to_owned(),
        };
        let shutdown_timeout = match plan.scalar("pkg_shutdown_timeout_sec") {
            Some(secs) => plan.check(parse_timeout(&secs))?,
            None => DEFAULT_SHUTDOWN_TIMEOUT,
        };
        let svc_run = plan.scalar("pkg_svc_run");

        let files = PackageFiles::find(&plan_dir)?;

        // Habitat's build writes EXPOSES from pkg_exposes: each entry is an export key, and the
        // exposed port is that export's value in default.toml.
        let mut exposes = Vec::new();
        for key in plan.list("pkg_exposes")? {
            let Some(cfg_path) = exports.get(&key) else {
                return Err(plan.invalid(format!(
                    "pkg_exposes names `{key}`, which is not a key of pkg_exports"
                )));
            };
            let one: BTreeMap<String, String> = [(key.clone(), cfg_path.clone())].into();
            let found = warren_template::exported_cfg(&one, &files.default_cfg);
            let Some(value) = found.get(&key) else {
                return Err(plan.invalid(format!(
                    "pkg_exposes names `{key}`, but default.toml has no value at \
                     `{cfg_path}` to expose"
                )));
            };
            exposes.push(match value {
                toml::Value::String(s) => s.clone(),
                other => other.to_string(),
            });
        }

        Ok(Package {
            ident: PackageIdent {
                origin,
                name,
                version,
                release: None,
            },
            source: PackageSource::PlanDir,
            dir: plan_dir,
            svc_run,
            run_file: None,
            exports,
            exposes,
            binds,
            binds_optional,
            svc_user,
            svc_group,
            shutdown_signal,
            shutdown_timeout,
            runtime_environment: BTreeMap::new(),
            default_toml: files.default_toml,
            config_dir: files.config_dir,
            hooks_dir: files.hooks_dir,
            default_cfg: files.default_cfg,
        })
    }

    /// Reads an installed package directory (`/hab/pkgs/<origin>/<name>/<version>/<release>`).
    /// `IDENT` is required; every other metafile is optional and defaults as in Habitat.
    pub fn from_installed(dir: &Path) -> Result<Package, PlanError> {
        let ident_path = dir.join("IDENT");
        let Some(ident_text) = read_optional(&ident_path)? else {
            return Err(PlanError::Missing {
                path: dir.to_path_buf(),
                what: "no IDENT file: not an installed Habitat package".to_owned(),
            });
        };
        let ident_line = ident_text.trim();
        let ident = PackageIdent::parse(ident_line)
            .filter(|i| i.release.is_some())
            .ok_or_else(|| PlanError::Invalid {
                path: ident_path.clone(),
                line: 1,
                message: format!("expected origin/name/version/release, found {ident_line:?}"),
            })?;

        let exports = Metafile::read(dir, "EXPORTS")?
            .map(|m| m.key_values())
            .transpose()?
            .unwrap_or_default()
            .into_iter()
            .collect();
        let binds = Metafile::read(dir, "BINDS")?
            .map(|m| m.binds())
            .transpose()?
            .unwrap_or_default();
        let binds_optional = Metafile::read(dir, "BINDS_OPTIONAL")?
            .map(|m| m.binds())
            .transpose()?
            .unwrap_or_default();
        let exposes = Metafile::read(dir, "EXPOSES")?
            .map(|m| m.text.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default();
        let svc_user = Metafile::read(dir, "SVC_USER")?
            .and_then(|m| m.single_value())
            .unwrap_or_else(|| DEFAULT_SVC_USER.to_owned());
        let svc_group = Metafile::read(dir, "SVC_GROUP")?
            .and_then(|m| m.single_value())
            .unwrap_or_else(|| DEFAULT_SVC_GROUP.to_owned());
        let shutdown_signal = match Metafile::read(dir, "SHUTDOWN_SIGNAL")? {
            Some(m) => match m.single_value() {
                Some(sig) => parse_signal(&sig).map_err(|message| m.invalid(1, message))?,
                None => DEFAULT_SHUTDOWN_SIGNAL.to_owned(),
            },
            None => DEFAULT_SHUTDOWN_SIGNAL.to_owned(),
        };
        let shutdown_timeout = match Metafile::read(dir, "SHUTDOWN_TIMEOUT")? {
            Some(m) => match m.single_value() {
                Some(secs) => parse_timeout(&secs).map_err(|message| m.invalid(1, message))?,
                None => DEFAULT_SHUTDOWN_TIMEOUT,
            },
            None => DEFAULT_SHUTDOWN_TIMEOUT,
        };
        let runtime_environment = Metafile::read(dir, "RUNTIME_ENVIRONMENT")?
            .map(|m| m.key_values())
            .transpose()?
            .unwrap_or_default()
            .into_iter()
            .collect();
        let files = PackageFiles::find(dir)?;
        let run = dir.join("run");

        Ok(Package {
            ident,
            source: PackageSource::Installed,
            dir: dir.to_path_buf(),
            svc_run: None,
            run_file: run.is_file().then_some(run),
            exports,
            exposes,
            binds,
            binds_optional,
            svc_user,
            svc_group,
            shutdown_signal,
            shutdown_timeout,
            runtime_environment,
            default_toml: files.default_toml,
            config_dir: files.config_dir,
            hooks_dir: files.hooks_dir,
            default_cfg: files.default_cfg,
        })
    }

    /// `--config-from DIR`: takes `default.toml`, `config/` and `hooks/` from `dir` instead
    /// (each only if `dir` has it; Habitat's behaviour). A bad `default.toml` there is refused.
    pub fn apply_config_from(&mut self, dir: &Path) -> Result<(), PlanError> {
        let files = PackageFiles::find(dir)?;
        if files.default_toml.is_some() {
            self.default_toml = files.default_toml;
            self.default_cfg = files.default_cfg;
        }
        if files.config_dir.is_some() {
            self.config_dir = files.config_dir;
        }
        if files.hooks_dir.is_some() {
            self.hooks_dir = files.hooks_dir;
        }
        Ok(())
    }

    /// The package name (the service name).
    pub fn name(&self) -> &str {
        &self.ident.name
    }

    /// The `pkg` part of the render context, with Habitat's standard paths under `fs_root`;
    /// for a plan directory, `path` is that directory (there is no install path). Dependencies
    /// are left empty: this module does not resolve them.
    pub fn pkg_info(&self, fs_root: &Path) -> PkgInfo {
        let mut info = PkgInfo::new(self.ident.clone(), fs_root);
        if self.source == PackageSource::PlanDir {
            info.path = self.dir.clone();
        }
        info.env = self.runtime_environment.clone();
        info.exposes = self.exposes.clone();
        info.exports = self.exports.clone();
        info.svc_user = self.svc_user.clone();
        info.svc_group = self.svc_group.clone();
        info
    }
}

/// The package's `default.toml`, `config/` and `hooks/`.
struct PackageFiles {
    default_toml: Option<PathBuf>,
    config_dir: Option<PathBuf>,
    hooks_dir: Option<PathBuf>,
    default_cfg: toml::Table,
}

impl PackageFiles {
    fn find(dir: &Path) -> Result<PackageFiles, PlanError> {
        let path = dir.join("default.toml");
        let (default_toml, default_cfg) = match read_optional(&path)? {
            Some(text) => {
                let cfg = parse_table(&text).map_err(|syntax| PlanError::DefaultToml {
                    path: path.clone(),
                    syntax,
                })?;
                (Some(path), cfg)
            }
            None => (None, toml::Table::new()),
        };
        let existing = |name: &str| Some(dir.join(name)).filter(|p| p.is_dir());
        Ok(PackageFiles {
            default_toml,
            config_dir: existing("config"),
            hooks_dir: existing("hooks"),
            default_cfg,
        })
    }
}

/// An associative array's entries, in bash's order.
type Pairs = Vec<(String, String)>;

/// The variables `plan.sh` left set, asked for as Habitat's build asks for them.
struct PlanVars<'a> {
    path: &'a Path,
    vars: &'a HashMap<String, Value>,
}

impl PlanVars<'_> {
    fn invalid(&self, message: String) -> PlanError {
        PlanError::PlanValue {
            path: self.path.to_path_buf(),
            message,
        }
    }

    fn check<T>(&self, checked: Result<T, String>) -> Result<T, PlanError> {
        checked.map_err(|m| self.invalid(m))
    }

    /// `$name` as bash expands it (an array's element 0); `None` when unset or empty.
    fn scalar(&self, name: &str) -> Option<String> {
        self.vars
            .get(name)
            .and_then(Value::as_scalar)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    }

    /// `"${name[@]}"`: an indexed array's elements, a scalar as one element (none if unset).
    fn list(&self, name: &str) -> Result<Vec<String>, PlanError> {
        match self.vars.get(name) {
            None => Ok(Vec::new()),
            Some(Value::Scalar(s)) => Ok(vec![s.clone()]),
            Some(Value::Indexed(items)) => Ok(items.iter().map(|(_, v)| v.clone()).collect()),
            Some(Value::Assoc(_)) => Err(self.invalid(format!(
                "{name} must be an array such as (a b), not an associative array"
            ))),
        }
    }

    /// An associative array (`name=([key]=value ...)`); Habitat's build declares
    /// `pkg_exports`, `pkg_binds` and `pkg_binds_optional` so, and the prelude does too.
    fn assoc(&self, name: &str) -> Result<Option<Pairs>, PlanError> {
        match self.vars.get(name) {
            None => Ok(None),
            Some(Value::Assoc(pairs)) => Ok(Some(pairs.clone())),
            Some(_) => Err(self.invalid(format!(
                "{name} must be an associative array such as ( [key]=value ) (was it \
                 redeclared with declare -a?)"
            ))),
        }
    }

    /// `pkg_binds` / `pkg_binds_optional`: bind name → space-separated export keys. An empty
    /// list is kept (core-plans' storm has `[zookeeper]=""`; Habitat's build writes it as
    /// `zookeeper=` in BINDS).
    fn binds(&self, name: &str) -> Result<BTreeMap<String, Vec<String>>, PlanError> {
        let Some(pairs) = self.assoc(name)? else {
            return Ok(BTreeMap::new());
        };
        let mut out = BTreeMap::new();
        for (bind, exports) in pairs {
            if bind.is_empty() {
                return Err(self.invalid(format!(
                    "{name} entry [{bind}]=\"{exports}\" needs a bind name"
                )));
            }
            let keys: Vec<String> = exports.split_whitespace().map(str::to_owned).collect();
            out.insert(bind, keys);
        }
        Ok(out)
    }
}

/// One metafile of an installed package.
struct Metafile {
    path: PathBuf,
    text: String,
}

impl Metafile {
    fn read(dir: &Path, name: &str) -> Result<Option<Metafile>, PlanError> {
        let path = dir.join(name);
        Ok(read_optional(&path)?.map(|text| Metafile { path, text }))
    }

    fn invalid(&self, line: usize, message: String) -> PlanError {
        PlanError::Invalid {
            path: self.path.clone(),
            line,
            message,
        }
    }

    /// The first line, trimmed; `None` when empty.
    fn single_value(&self) -> Option<String> {
        let value = self.text.lines().next().unwrap_or_default().trim();
        (!value.is_empty()).then(|| value.to_owned())
    }

    /// Non-empty lines `key=value` (the value may hold further `=`).
    fn lines(&self) -> impl Iterator<Item = (usize, &str)> {
        self.text
            .lines()
            .enumerate()
            .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
            .filter(|(_, l)| !l.trim().is_empty())
    }

    fn key_values(self) -> Result<Vec<(String, String)>, PlanError> {
        let mut out = Vec::new();
        for (line, text) in self.lines() {
            match text.split_once('=') {
                Some((key, value)) if !key.trim().is_empty() => {
                    out.push((key.trim().to_owned(), value.to_owned()));
                }
                _ => {
                    return Err(PlanError::Invalid {
                        path: self.path.clone(),
                        line,
                        message: format!("expected `key=value`, found {text:?}"),
                    });
                }
            }
        }
        Ok(out)
    }

    fn binds(self) -> Result<BTreeMap<String, Vec<String>>, PlanError> {
        let mut out = BTreeMap::new();
        for (line, text) in self.lines() {
            let parsed = text.split_once('=').and_then(|(name, exports)| {
                let keys: Vec<String> = exports.split_whitespace().map(str::to_owned).collect();
                (!name.trim().is_empty()).then(|| (name.trim(), keys))
            });
            let Some((name, keys)) = parsed else {
                return Err(PlanError::Invalid {
                    path: self.path.clone(),
                    line,
                    message: format!("expected `bind=export1 export2 ...`, found {text:?}"),
                });
            };
            out.insert(name.to_owned(), keys);
        }
        Ok(out)
    }
}

fn read(path: &Path) -> Result<String, PlanError> {
    std::fs::read_to_string(path).map_err(|source| PlanError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn read_optional(path: &Path) -> Result<Option<String>, PlanError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(PlanError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Habitat's rule for origins and names: letters, digits, `_` and `-`.
fn check_ident_part(key: &str, value: &str) -> Result<(), String> {
    if !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Ok(());
    }
    Err(format!(
        "{key} may hold only letters, digits, `_` and `-`, not {value:?}"
    ))
}

fn parse_signal(value: &str) -> Result<String, String> {
    let upper = value.trim().to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if SIGNALS.contains(&name) {
        return Ok(name.to_owned());
    }
    let mut message = format!("unknown shutdown signal {value:?}; one of");
    for s in SIGNALS {
        let _ = write!(message, " {s}");
    }
    Err(message)
}

fn parse_timeout(value: &str) -> Result<Duration, String> {
    value
        .trim()
        .parse::<u32>()
        .map(|secs| Duration::from_secs(u64::from(secs)))
        .map_err(|e| format!("shutdown timeout must be whole seconds, not {value:?} ({e})"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn testdata(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata")
            .join(name)
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    /// A plan directory holding only `plan.sh` (and optionally `default.toml`).
    fn plan(plan_sh: &str, default_toml: Option<&str>) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("plan.sh"), plan_sh).unwrap();
        if let Some(text) = default_toml {
            std::fs::write(dir.path().join("default.toml"), text).unwrap();
        }
        dir
    }

    fn load_err(plan_sh: &str, default_toml: Option<&str>) -> String {
        let dir = plan(plan_sh, default_toml);
        Package::from_plan_dir(dir.path()).unwrap_err().to_string()
    }

    #[test]
    fn redis_like_plan() {
        let dir = testdata("redis");
        let pkg = Package::from_plan_dir(&dir).unwrap();
        assert_eq!(pkg.ident.to_string(), "core/redis/7.2.4");
        assert_eq!(pkg.ident.release, None);
        assert_eq!(pkg.source, PackageSource::PlanDir);
        assert_eq!(
            pkg.svc_run.as_deref(),
            Some("redis-server /hab/svc/redis/config/redis.config")
        );
        assert_eq!(
            pkg.exports,
            BTreeMap::from([
                ("port".to_owned(), "port".to_owned()),
                ("host".to_owned(), "bind".to_owned()),
            ])
        );
        assert_eq!(pkg.exposes, strings(&["6379"]));
        assert!(pkg.binds.is_empty());
        assert!(pkg.binds_optional.is_empty());
        assert_eq!(pkg.svc_user, "hab");
        assert_eq!(pkg.svc_group, "hab");
        assert_eq!(pkg.shutdown_signal, "TERM");
        assert_eq!(pkg.shutdown_timeout, Duration::from_secs(8));
        assert!(pkg.runtime_environment.is_empty());
        assert_eq!(pkg.default_toml, Some(dir.join("default.toml")));
        assert_eq!(pkg.config_dir, Some(dir.join("config")));
        assert_eq!(pkg.hooks_dir, Some(dir.join("hooks")));
        assert_eq!(pkg.default_cfg["port"].as_integer(), Some(6379));
        assert_eq!(pkg.name(), "redis");
    }

    #[test]
    fn nginx_like_plan_with_binds_user_and_shutdown() {
        let dir = testdata("nginx");
        let pkg = Package::from_plan_dir(&dir).unwrap();
        assert_eq!(pkg.ident.to_string(), "acme/nginx-proxy/1.25.3");
        assert_eq!(
            pkg.svc_run.as_deref(),
            Some("nginx -c /hab/svc/nginx-proxy/config/nginx.conf -g 'daemon off;'")
        );
        assert_eq!(
            pkg.exports,
            BTreeMap::from([
                ("port".to_owned(), "http.listen.port".to_owned()),
                ("ssl-port".to_owned(), "http.listen.ssl_port".to_owned()),
                ("server".to_owned(), "http.server_name".to_owned()),
            ])
        );
        assert_eq!(pkg.exposes, strings(&["8080", "8443"]));
        assert_eq!(
            pkg.binds,
            BTreeMap::from([("backend".to_owned(), strings(&["port", "host"]))])
        );
        assert_eq!(
            pkg.binds_optional,
            BTreeMap::from([
                ("cache".to_owned(), strings(&["port"])),
                ("metrics".to_owned(), strings(&["port", "path"])),
            ])
        );
        assert_eq!(pkg.svc_user, "root");
        assert_eq!(pkg.svc_group, "nginx");
        assert_eq!(pkg.shutdown_signal, "QUIT");
        assert_eq!(pkg.shutdown_timeout, Duration::from_secs(30));
        assert_eq!(pkg.config_dir, None);
        assert_eq!(pkg.hooks_dir, None);
    }

    #[test]
    fn plan_in_a_habitat_subdirectory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("habitat")).unwrap();
        std::fs::write(
            dir.path().join("habitat/plan.sh"),
            "pkg_name=app\npkg_origin=me\npkg_version=0.1.0\n",
        )
        .unwrap();
        let pkg = Package::from_plan_dir(dir.path()).unwrap();
        assert_eq!(pkg.dir, dir.path().join("habitat"));
        assert_eq!(pkg.ident.to_string(), "me/app/0.1.0");
        assert_eq!(pkg.default_cfg, toml::Table::new());
    }

    #[test]
    fn minimal_plan_gets_habitats_defaults() {
        let dir = plan("pkg_name=hello\n", None);
        let pkg = Package::from_plan_dir(dir.path()).unwrap();
        assert_eq!(pkg.ident.origin, "local");
        assert_eq!(pkg.ident.version, None);
        assert_eq!(pkg.svc_run, None);
        assert_eq!(pkg.default_toml, None);
        assert!(pkg.exports.is_empty() && pkg.exposes.is_empty());
    }

    #[test]
    fn plan_errors_name_the_file_and_quote_bash() {
        let cases: [(&str, Option<&str>, &str); 11] = [
            (
                "pkg_name=x\nif then\n",
                None,
                "plan.sh: cannot load the plan: `source plan.sh` returned status 2; bash said:",
            ),
            (
                "pkg_name=x\npkg_exports=(\n  [port]=\"port\n)\n",
                None,
                "unexpected EOF while looking for matching `\"'",
            ),
            (
                "pkg_name=x\npkg_path_for core/glibc\n",
                None,
                "pkg_path_for: command not found",
            ),
            ("pkg_origin=core\n", None, "plan.sh: pkg_name is not set"),
            (
                "pkg_name='my app'\n",
                None,
                "plan.sh: pkg_name may hold only letters",
            ),
            (
                "pkg_name=x\npkg_exports=( [port]=port )\npkg_exposes=(port ssl)\n",
                Some("port = 1\n"),
                "plan.sh: pkg_exposes names `ssl`, which is not a key of pkg_exports",
            ),
            (
                "pkg_name=x\npkg_exports=( [port]=net.port )\npkg_exposes=(port)\n",
                Some("port = 1\n"),
                "plan.sh: pkg_exposes names `port`, but default.toml has no value at `net.port`",
            ),
            (
                "pkg_name=x\nunset pkg_exports\npkg_exports=(port)\n",
                None,
                "plan.sh: pkg_exports must be an associative array",
            ),
            (
                "pkg_name=x\npkg_shutdown_timeout_sec=soon\n",
                None,
                "plan.sh: shutdown timeout must be whole seconds",
            ),
            (
                "pkg_name=x\npkg_version='1.0 beta'\n",
                None,
                "plan.sh: pkg_version must be a value without",
            ),
            (
                "pkg_name=x\n",
                Some("a = 1\nb = = 2\n"),
                "default.toml: invalid TOML at line 2, column",
            ),
        ];
        for (plan_sh, default_toml, want) in cases {
            let err = load_err(plan_sh, default_toml);
            assert!(err.contains(want), "{plan_sh:?}\n got: {err}\nwant: {want}");
        }
        let err = Package::from_plan_dir(Path::new("/no/such/plan"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/no/such/plan/plan.sh"), "{err}");
    }

    /// Plans written the way Habitat's core-plans are: what bash makes of each is what
    /// Warren reads.
    #[test]
    fn plans_shaped_like_core_plans_load() {
        struct Case {
            what: &'static str,
            plan: &'static str,
            /// Other files of the plan directory (relative to it; `../x` for siblings).
            files: &'static [(&'static str, &'static str)],
            check: fn(&Package),
        }
        let cases = [
            Case {
                what: "a sibling plan sourced through BASH_SOURCE (redis4, prometheus2)",
                plan: concat!(
                    "source \"$(dirname \"${BASH_SOURCE[0]}\")/../redis/plan.sh\"\n",
                    "pkg_name=redis4\npkg_version=4.0.14\n",
                ),
                files: &[(
                    "../redis/plan.sh",
                    concat!(
                        "pkg_name=redis\npkg_origin=core\npkg_version=7.2.4\n",
                        "pkg_svc_run=\"redis-server ${pkg_svc_config_path}/redis.config\"\n",
                        "pkg_exports=([port]=port)\npkg_svc_user=redis\n",
                        "do_build() { make; }\n",
                    ),
                )],
                check: |p| {
                    assert_eq!(p.ident.to_string(), "core/redis4/4.0.14");
                    // The placeholder is replaced after the plan is loaded, so the final name wins.
                    assert_eq!(
                        p.svc_run.as_deref(),
                        Some("redis-server /hab/svc/redis4/config/redis.config")
                    );
                    assert_eq!(p.exports["port"], "port");
                    assert_eq!(p.svc_user, "redis");
                },
            },
            Case {
                what: "a sibling sourced relative to the plan's directory (core-plans' redis4)",
                plan: "source '../redis/plan.sh'\npkg_name=redis4\npkg_version=\"4.0.10\"\n",
                files: &[(
                    "../redis/plan.sh",
                    "pkg_name=redis\npkg_origin=core\npkg_expose=(6379)\n\
                     pkg_svc_run=\"bin/redis-server $pkg_svc_config_path/redis.config\"\n",
                )],
                check: |p| {
                    assert_eq!(p.ident.to_string(), "core/redis4/4.0.10");
                    assert_eq!(
                        p.svc_run.as_deref(),
                        Some("bin/redis-server /hab/svc/redis4/config/redis.config")
                    );
                },
            },
            Case {
                what: "a top-level STUDIO_TYPE conditional (diffutils, make)",
                plan: concat!(
                    "pkg_name=diffutils\npkg_origin=core\npkg_version=3.10\n",
                    "if [[ \"$STUDIO_TYPE\" = \"stage1\" ]]; then\n",
                    "  pkg_build_deps=(core/gcc)\n  pkg_svc_user=stage1\n",
                    "else\n  pkg_deps=(core/glibc)\nfi\n",
                ),
                files: &[],
                check: |p| assert_eq!(p.svc_user, "hab"),
            },
            Case {
                what: "a bind with an empty export list (storm)",
                plan: concat!(
                    "pkg_name=storm\npkg_binds=(\n\t[zookeeper]=\"\"\n)\n",
                    "pkg_binds_optional=([x]='a  b')\npkg_exports=()\npkg_exposes=()\n",
                ),
                files: &[],
                check: |p| {
                    assert_eq!(p.binds, BTreeMap::from([("zookeeper".to_owned(), vec![])]));
                    assert_eq!(p.binds_optional["x"], strings(&["a", "b"]));
                },
            },
            Case {
                what: "pkg_svc_user given as an array (varnish)",
                plan: "pkg_name=varnish\npkg_svc_user=(\"root\")\npkg_svc_group=($pkg_svc_user)\n",
                files: &[],
                check: |p| {
                    assert_eq!(p.svc_user, "root");
                    assert_eq!(p.svc_group, "root");
                },
            },
            Case {
                what: "a version read at the top level, $pkg_name inside other variables",
                plan: concat!(
                    "pkg_name=app\npkg_version=$(cat VERSION)\n",
                    "pkg_svc_run=\"bin/${pkg_name}   --config  $pkg_svc_config_path/${pkg_name}.toml\"\n",
                    "declare -A pkg_exports\npkg_exports[port]=\"${pkg_name}.port\"\n",
                    "pkg_exports+=([\"ssl-port\"]=ssl.port)\n",
                    "pkg_exposes=(port)\npkg_exposes+=(ssl-port)\n",
                ),
                files: &[
                    ("VERSION", "2.5.1\n"),
                    ("default.toml", "[app]\nport = 80\n[ssl]\nport = 443\n"),
                ],
                check: |p| {
                    assert_eq!(p.ident.version.as_deref(), Some("2.5.1"));
                    // Habitat's `echo $pkg_svc_run` collapses runs of blanks.
                    assert_eq!(
                        p.svc_run.as_deref(),
                        Some("bin/app --config /hab/svc/app/config/app.toml")
                    );
                    assert_eq!(p.exports["port"], "app.port");
                    assert_eq!(p.exposes, strings(&["80", "443"]));
                },
            },
            Case {
                what: "functions are defined, not called; pkg_version() leaves no version",
                plan: concat!(
                    "pkg_name=lazy\npkg_origin=core\n",
                    "pkg_version() { cat VERSION; }\n",
                    "do_before() { update_pkg_version; }\n",
                    "do_build() { touch \"$PLAN_CONTEXT/built\"; exit 1; }\n",
                    "echo 'plans may print' ; echo 'and warn' >&2\n",
                ),
                files: &[("VERSION", "9.9.9\n")],
                check: |p| {
                    assert_eq!(p.ident.to_string(), "core/lazy");
                    assert!(!p.dir.join("built").exists());
                },
            },
        ];
        for case in cases {
            let root = tempfile::tempdir().unwrap();
            let dir = root.path().join("plan");
            std::fs::create_dir(&dir).unwrap();
            for (name, text) in case.files {
                let path = dir.join(name);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(path, text).unwrap();
            }
            std::fs::write(dir.join("plan.sh"), case.plan).unwrap();
            let pkg = Package::from_plan_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", case.what));
            (case.check)(&pkg);
        }
    }

    #[test]
    fn the_repositorys_plans_load() {
        let plans = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../plans");
        let hello = Package::from_plan_dir(&plans.join("hello")).unwrap();
        assert_eq!(hello.ident.to_string(), "warren/hello/0.1.0");
        assert_eq!(hello.exposes.len(), 1);
        let redis = Package::from_plan_dir(&plans.join("redis")).unwrap();
        assert_eq!(redis.ident.to_string(), "warren/redis/7.2.4");
        assert_eq!(redis.svc_run, None);
    }

    #[test]
    fn shell_only_variables_that_warren_does_not_read_are_fine() {
        let dir = plan(
            "pkg_name=x\npkg_description=\"$(cat README 2>/dev/null)\"\npkg_dirname=${pkg_name}-$(uname)\n",
            None,
        );
        assert!(Package::from_plan_dir(dir.path()).is_ok());
    }

    #[test]
    fn installed_package() {
        let dir = testdata("installed/core/redis/7.2.4/20240101000000");
        let pkg = Package::from_installed(&dir).unwrap();
        assert_eq!(
            pkg.ident,
            PackageIdent::new("core", "redis", "7.2.4", "20240101000000")
        );
        assert_eq!(pkg.source, PackageSource::Installed);
        assert_eq!(pkg.run_file, Some(dir.join("run")));
        assert_eq!(pkg.svc_run, None);
        assert_eq!(
            pkg.exports,
            BTreeMap::from([
                ("port".to_owned(), "port".to_owned()),
                ("tls-port".to_owned(), "tls.port".to_owned()),
            ])
        );
        assert_eq!(pkg.exposes, strings(&["6379", "6380"]));
        assert_eq!(
            pkg.binds,
            BTreeMap::from([("sentinel".to_owned(), strings(&["port", "quorum"]))])
        );
        assert_eq!(
            pkg.binds_optional,
            BTreeMap::from([("backup".to_owned(), strings(&["url"]))])
        );
        assert_eq!(pkg.svc_user, "redis");
        assert_eq!(pkg.svc_group, "hab");
        assert_eq!(pkg.shutdown_signal, "INT");
        assert_eq!(pkg.shutdown_timeout, Duration::from_secs(15));
        assert_eq!(
            pkg.runtime_environment.get("PATH").map(String::as_str),
            Some(
                "/hab/pkgs/core/redis/7.2.4/20240101000000/bin:/hab/pkgs/core/glibc/2.36/20230101000000/bin"
            )
        );
        assert_eq!(
            pkg.runtime_environment
                .get("REDIS_OPTS")
                .map(String::as_str),
            Some("--a=b")
        );
        assert_eq!(pkg.default_cfg["port"].as_integer(), Some(6379));
        assert_eq!(pkg.config_dir, Some(dir.join("config")));
        assert_eq!(pkg.hooks_dir, None);

        let info = pkg.pkg_info(Path::new("/"));
        assert_eq!(info.path, dir_for_info());
        assert_eq!(info.exports, pkg.exports);
        assert_eq!(info.svc_user, "redis");
        assert_eq!(info.env, pkg.runtime_environment);
    }

    fn dir_for_info() -> PathBuf {
        PathBuf::from("/hab/pkgs/core/redis/7.2.4/20240101000000")
    }

    #[test]
    fn installed_package_defaults_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let err = Package::from_installed(dir.path()).unwrap_err().to_string();
        assert!(err.contains("no IDENT file"), "{err}");

        std::fs::write(dir.path().join("IDENT"), "core/redis/7.2.4\n").unwrap();
        let err = Package::from_installed(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("IDENT:1: expected origin/name/version/release"),
            "{err}"
        );

        std::fs::write(
            dir.path().join("IDENT"),
            "core/hello/1.0.0/20240101000000\n",
        )
        .unwrap();
        let pkg = Package::from_installed(dir.path()).unwrap();
        assert_eq!(pkg.svc_user, "hab");
        assert_eq!(pkg.svc_group, "hab");
        assert_eq!(pkg.shutdown_signal, "TERM");
        assert_eq!(pkg.shutdown_timeout, Duration::from_secs(8));
        assert_eq!(pkg.run_file, None);
        assert!(pkg.exports.is_empty() && pkg.binds.is_empty() && pkg.exposes.is_empty());

        // Habitat's build writes a bind with no exports (storm's zookeeper) as `name=`.
        std::fs::write(
            dir.path().join("BINDS"),
            "zookeeper=
",
        )
        .unwrap();
        let pkg = Package::from_installed(dir.path()).unwrap();
        assert_eq!(
            pkg.binds,
            BTreeMap::from([("zookeeper".to_owned(), vec![])])
        );

        let bad: [(&str, &str, &str); 5] = [
            (
                "EXPORTS",
                "port=port\n\nnonsense\n",
                "EXPORTS:3: expected `key=value`",
            ),
            (
                "BINDS",
                "db=port\n=port\n",
                "BINDS:2: expected `bind=export1",
            ),
            (
                "SHUTDOWN_TIMEOUT",
                "-1\n",
                "SHUTDOWN_TIMEOUT:1: shutdown timeout",
            ),
            (
                "SHUTDOWN_SIGNAL",
                "SIGNOPE\n",
                "SHUTDOWN_SIGNAL:1: unknown shutdown signal",
            ),
            (
                "RUNTIME_ENVIRONMENT",
                "PATH=/bin\n=x\n",
                "RUNTIME_ENVIRONMENT:2:",
            ),
        ];
        for (file, text, want) in bad {
            let d = tempfile::tempdir().unwrap();
            std::fs::write(d.path().join("IDENT"), "core/hello/1.0.0/20240101000000").unwrap();
            std::fs::write(d.path().join(file), text).unwrap();
            let err = Package::from_installed(d.path()).unwrap_err().to_string();
            assert!(err.contains(want), "{file}: {err}");
        }
    }

    #[test]
    fn signals_accept_the_sig_prefix_and_any_case() {
        assert_eq!(parse_signal("SIGTERM").unwrap(), "TERM");
        assert_eq!(parse_signal("hup").unwrap(), "HUP");
        assert!(parse_signal("").is_err());
    }
}
