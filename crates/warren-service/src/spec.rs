//! What a loaded service is asked to be: the load flags of `warren run PLAN_DIR…` and
//! `warren svc load` (spec §11.7, design §3), resolved and checked against the package.
//!
//! Data and checks only; nothing here runs.

use std::path::PathBuf;
use std::time::Duration;

use crate::backoff::BackoffConfig;
use crate::census_view::Bind;
use crate::plan::Package;

/// Service topology.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Topology {
    /// Every member runs on its own.
    #[default]
    Standalone,
    /// One elected leader, the rest followers; hooks wait for the election.
    Leader,
}

/// Whether a service waits for its binds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BindingMode {
    /// Start only once every bind is satisfied (Habitat's default).
    #[default]
    Strict,
    /// Start regardless.
    Relaxed,
}

/// How long each hook may run before it is stopped (Habitat has no limits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HookTimeouts {
    /// `init`, `post-run`, `reconfigure`, `file-updated`, `post-stop`.
    pub default: Duration,
    /// `suitability` (an election waits for nobody: keep it short).
    pub suitability: Duration,
}

impl Default for HookTimeouts {
    fn default() -> Self {
        HookTimeouts {
            default: Duration::from_secs(300),
            suitability: Duration::from_secs(10),
        }
    }
}

/// A service to load.
#[derive(Clone, Debug)]
pub struct ServiceSpec {
    /// The package (plan directory or installed package).
    pub package: Package,
    /// Service group name (`--group`, default `default`).
    pub group: String,
    /// Organization (`--org`).
    pub org: Option<String>,
    /// `--topology`.
    pub topology: Topology,
    /// `--bind`s.
    pub binds: Vec<Bind>,
    /// `--binding-mode`.
    pub binding_mode: BindingMode,
    /// `--health-check-interval` (default 30 s).
    pub health_check_interval: Duration,
    /// `--shutdown-timeout`; the package's `SHUTDOWN_TIMEOUT` otherwise.
    pub shutdown_timeout: Option<Duration>,
    /// Hook time limits.
    pub hook_timeouts: HookTimeouts,
    /// Restart backoff.
    pub backoff: BackoffConfig,
    /// `--config-from DIR`: `default.toml`, `config/` and `hooks/` from DIR instead of the
    /// package's (for developing a plan against an installed package).
    pub config_from: Option<PathBuf>,
    /// The package identifier the service was loaded by (`warren run core/redis`), as the user
    /// gave it: the spec file records it, as Habitat's does. `None` for a directory.
    pub requested_ident: Option<String>,
}

impl ServiceSpec {
    /// A spec with the defaults of every flag.
    pub fn new(package: Package) -> Self {
        ServiceSpec {
            package,
            group: "default".to_owned(),
            org: None,
            topology: Topology::Standalone,
            binds: Vec::new(),
            binding_mode: BindingMode::Strict,
            health_check_interval: Duration::from_secs(30),
            shutdown_timeout: None,
            hook_timeouts: HookTimeouts::default(),
            backoff: BackoffConfig::default(),
            config_from: None,
            requested_ident: None,
        }
    }

    /// `service.group[@org]`.
    pub fn service_group(&self) -> String {
        let sg = format!("{}.{}", self.package.name(), self.group);
        match &self.org {
            Some(org) => format!("{sg}@{org}"),
            None => sg,
        }
    }

    /// The stop budget: `--shutdown-timeout`, else the package's.
    pub fn shutdown_timeout(&self) -> Duration {
        self.shutdown_timeout
            .unwrap_or(self.package.shutdown_timeout)
    }

    /// Habitat's load-time check of binds: every required bind given, no unknown bind name,
    /// no name twice. Returns each bind with the exports it needs.
    pub fn checked_binds(&self) -> Result<Vec<(Bind, Vec<String>)>, String> {
        let pkg = &self.package;
        let mut out: Vec<(Bind, Vec<String>)> = Vec::new();
        for bind in &self.binds {
            let wanted = pkg
                .binds
                .get(&bind.name)
                .or_else(|| pkg.binds_optional.get(&bind.name))
                .ok_or_else(|| {
                    let known: Vec<&str> = pkg
                        .binds
                        .keys()
                        .chain(pkg.binds_optional.keys())
                        .map(String::as_str)
                        .collect();
                    format!(
                        "{} has no bind named `{}` (its binds: {})",
                        pkg.ident,
                        bind.name,
                        if known.is_empty() {
                            "none".to_owned()
                        } else {
                            known.join(", ")
                        }
                    )
                })?;
            if out.iter().any(|(b, _)| b.name == bind.name) {
                return Err(format!("bind `{}` is given twice", bind.name));
            }
            out.push((bind.clone(), wanted.clone()));
        }
        let missing: Vec<&str> = pkg
            .binds
            .keys()
            .filter(|name| !out.iter().any(|(b, _)| &b.name == *name))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "{} needs the bind(s) {}: give --bind NAME:SERVICE.GROUP for each",
                pkg.ident,
                missing.join(", ")
            ));
        }
        Ok(out)
    }

    /// The package with `--config-from` applied.
    pub fn effective_package(&self) -> Result<Package, crate::plan::PlanError> {
        let mut pkg = self.package.clone();
        if let Some(dir) = &self.config_from {
            pkg.apply_config_from(dir)?;
        }
        Ok(pkg)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::collections::BTreeMap;

    use super::*;

    fn package(binds: &[(&str, &[&str])], optional: &[(&str, &[&str])]) -> Package {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.path().join("plan.sh"), "pkg_name=app\npkg_origin=t\n")
            .unwrap_or_else(|e| panic!("{e}"));
        let mut pkg = Package::from_plan_dir(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let map = |list: &[(&str, &[&str])]| -> BTreeMap<String, Vec<String>> {
            list.iter()
                .map(|(k, v)| ((*k).to_owned(), v.iter().map(|s| (*s).to_owned()).collect()))
                .collect()
        };
        pkg.binds = map(binds);
        pkg.binds_optional = map(optional);
        pkg
    }

    fn bind(text: &str) -> Bind {
        Bind::parse(text).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn binds_are_checked_as_habitat_does() {
        let pkg = package(&[("db", &["port"])], &[("cache", &["host", "port"])]);
        let mut spec = ServiceSpec::new(pkg);
        let err = spec.checked_binds().unwrap_err();
        assert!(err.contains("needs the bind(s) db"), "{err}");
        spec.binds = vec![bind("db:pg.default")];
        let ok = spec.checked_binds().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ok[0].1, vec!["port".to_owned()]);
        spec.binds.push(bind("cache:redis.default@acme"));
        assert_eq!(
            spec.checked_binds().unwrap_or_else(|e| panic!("{e}"))[1].1,
            vec!["host".to_owned(), "port".to_owned()]
        );
        spec.binds.push(bind("nope:x.y"));
        let err = spec.checked_binds().unwrap_err();
        assert!(err.contains("no bind named `nope`"), "{err}");
        spec.binds = vec![bind("db:pg.default"), bind("db:pg.other")];
        assert!(spec.checked_binds().unwrap_err().contains("twice"));
    }

    #[test]
    fn service_group_and_timeouts() {
        let mut spec = ServiceSpec::new(package(&[], &[]));
        assert_eq!(spec.service_group(), "app.default");
        spec.org = Some("acme".into());
        spec.group = "prod".into();
        assert_eq!(spec.service_group(), "app.prod@acme");
        assert_eq!(spec.shutdown_timeout(), Duration::from_secs(8));
        spec.shutdown_timeout = Some(Duration::from_secs(2));
        assert_eq!(spec.shutdown_timeout(), Duration::from_secs(2));
    }
}
