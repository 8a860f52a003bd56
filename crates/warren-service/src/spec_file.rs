//! Service spec files (spec §12.4): `<sup_root>/specs/<name>.spec`, TOML in Habitat's format,
//! written atomically by `warren svc load` and read back at start, so loaded services survive a
//! restart of the supervisor.
//!
//! Habitat's keys are kept with Habitat's spellings and defaults. Warren adds one key,
//! `plan_path`: the plan (or installed package) directory the service was loaded from, since a
//! plan is not in a package store that `ident` could be resolved against. A service loaded by
//! identifier has no `plan_path`: its `ident` is the one the user gave, resolved again under
//! `hab/pkgs` at each start (as a spec file Habitat wrote is). Unknown keys are
//! ignored, as Habitat ignores them.
//!
//! What this module does not do: watch the directory (Habitat does; Warren reloads specs at
//! start and changes them through the control API), or read the package (the caller does).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::backoff::BackoffConfig;
use crate::census_view::Bind;
use crate::plan::Package;
use crate::spec::{BindingMode, ServiceSpec, Topology};
use crate::supervisor::DesiredState;

/// `{secs, nanos}`, Habitat's serialization of a duration.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpecDuration {
    /// Whole seconds.
    pub secs: u64,
    /// Nanoseconds.
    #[serde(default)]
    pub nanos: u32,
}

/// One spec file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpecFile {
    /// `origin/name[/version[/release]]` (required).
    pub ident: String,
    /// Service group name.
    #[serde(default = "default_group")]
    pub group: String,
    /// Habitat's Builder URL (unused by Warren; kept for compatibility).
    #[serde(default = "default_bldr_url")]
    pub bldr_url: String,
    /// Habitat's channel (unused by Warren; kept for compatibility).
    #[serde(default = "default_channel")]
    pub channel: String,
    /// `standalone` or `leader`.
    #[serde(default = "default_topology")]
    pub topology: String,
    /// `none`, `at-once` or `rolling`.
    #[serde(default = "default_update_strategy")]
    pub update_strategy: String,
    /// `latest` or `track-channel`.
    #[serde(default = "default_update_condition")]
    pub update_condition: String,
    /// Binds, `name:service.group[@org]`.
    #[serde(default)]
    pub binds: Vec<String>,
    /// `strict` or `relaxed`.
    #[serde(default = "default_binding_mode")]
    pub binding_mode: String,
    /// `--config-from`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_from: Option<PathBuf>,
    /// `up` or `down`.
    #[serde(default = "default_desired_state")]
    pub desired_state: String,
    /// Seconds between the shutdown signal and SIGKILL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shutdown_timeout: Option<u32>,
    /// Health check interval.
    #[serde(default = "default_health_check_interval")]
    pub health_check_interval: SpecDuration,
    /// Warren: the directory the service was loaded from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_path: Option<PathBuf>,
}

fn default_group() -> String {
    "default".to_owned()
}
fn default_bldr_url() -> String {
    "https://bldr.habitat.sh".to_owned()
}
fn default_channel() -> String {
    "stable".to_owned()
}
fn default_topology() -> String {
    "standalone".to_owned()
}
fn default_update_strategy() -> String {
    "none".to_owned()
}
fn default_update_condition() -> String {
    "latest".to_owned()
}
fn default_binding_mode() -> String {
    "strict".to_owned()
}
fn default_desired_state() -> String {
    "up".to_owned()
}
fn default_health_check_interval() -> SpecDuration {
    SpecDuration { secs: 30, nanos: 0 }
}

/// A spec file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SpecFileError {
    /// Not readable or writable.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// Not valid TOML or missing `ident`.
    #[error("{}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// `<sup_root>/specs`.
pub fn specs_dir(sup_root: &Path) -> PathBuf {
    sup_root.join("specs")
}

/// `<specs_dir>/<name>.spec`.
pub fn spec_path(specs_dir: &Path, name: &str) -> PathBuf {
    specs_dir.join(format!("{name}.spec"))
}

impl SpecFile {
    /// The spec of a loaded service, with the desired state and the directory it came from.
    pub fn from_spec(spec: &ServiceSpec, desired: DesiredState, plan_path: &Path) -> SpecFile {
        let id = &spec.package.ident;
        let mut ident = format!("{}/{}", id.origin, id.name);
        if let Some(v) = &id.version {
            ident = format!("{ident}/{v}");
            if let Some(r) = &id.release {
                ident = format!("{ident}/{r}");
            }
        }
        // Loaded by identifier: Habitat's spec records the identifier as given, and the newest
        // installed package satisfying it is found again at the next start (no `plan_path`).
        let plan_path = match &spec.requested_ident {
            Some(asked) => {
                ident.clone_from(asked);
                None
            }
            None => Some(plan_path.to_owned()),
        };
        SpecFile {
            ident,
            group: spec.group.clone(),
            bldr_url: default_bldr_url(),
            channel: default_channel(),
            topology: match spec.topology {
                Topology::Standalone => "standalone",
                Topology::Leader => "leader",
            }
            .to_owned(),
            update_strategy: default_update_strategy(),
            update_condition: default_update_condition(),
            binds: spec
                .binds
                .iter()
                .map(|b| format!("{}:{}", b.name, b.service_group))
                .collect(),
            binding_mode: match spec.binding_mode {
                BindingMode::Strict => "strict",
                BindingMode::Relaxed => "relaxed",
            }
            .to_owned(),
            config_from: spec.config_from.clone(),
            desired_state: match desired {
                DesiredState::Up => "up",
                DesiredState::Down => "down",
            }
            .to_owned(),
            shutdown_timeout: spec
                .shutdown_timeout
                .map(|t| u32::try_from(t.as_secs()).unwrap_or(u32::MAX)),
            health_check_interval: SpecDuration {
                secs: spec.health_check_interval.as_secs(),
                nanos: spec.health_check_interval.subsec_nanos(),
            },
            plan_path,
        }
    }

    /// Parses a spec file's text (`path` names it in errors).
    pub fn parse(path: &Path, text: &str) -> Result<SpecFile, SpecFileError> {
        toml::from_str(text).map_err(|e| SpecFileError::Invalid {
            path: path.to_owned(),
            message: e.to_string(),
        })
    }

    /// Reads one spec file.
    pub fn read(path: &Path) -> Result<SpecFile, SpecFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| SpecFileError::Io {
            path: path.to_owned(),
            source,
        })?;
        SpecFile::parse(path, &text)
    }

    /// Writes it atomically (temporary file, fsync, rename) to `path`.
    pub fn write(&self, path: &Path) -> Result<(), SpecFileError> {
        let io = |source| SpecFileError::Io {
            path: path.to_owned(),
            source,
        };
        let text = toml::to_string(self).map_err(|e| SpecFileError::Invalid {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(io)?;
        let tmp = path.with_extension("spec.tmp");
        {
            use std::io::Write as _;
            let mut f = std::fs::File::create(&tmp).map_err(io)?;
            f.write_all(text.as_bytes()).map_err(io)?;
            f.sync_all().map_err(io)?;
        }
        std::fs::rename(&tmp, path).map_err(io)
    }

    /// Every `*.spec` in `dir` (sorted by name), each parsed or with its error; a missing
    /// directory has none.
    pub fn read_dir(dir: &Path) -> Vec<(PathBuf, Result<SpecFile, SpecFileError>)> {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        let mut paths: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "spec"))
            .collect();
        paths.sort();
        paths
            .into_iter()
            .map(|p| {
                let r = SpecFile::read(&p);
                (p, r)
            })
            .collect()
    }

    /// The desired state it records (anything but `down` is up).
    pub fn desired(&self) -> DesiredState {
        if self.desired_state == "down" {
            DesiredState::Down
        } else {
            DesiredState::Up
        }
    }

    /// The [`ServiceSpec`] it describes, for `package` (read by the caller from
    /// [`SpecFile::plan_path`]); the backoff and hook timeouts are the supervisor's.
    pub fn to_spec(
        &self,
        package: Package,
        org: Option<String>,
        backoff: BackoffConfig,
    ) -> Result<ServiceSpec, String> {
        let mut spec = ServiceSpec::new(package);
        spec.group.clone_from(&self.group);
        spec.org = org;
        spec.topology = match self.topology.as_str() {
            "standalone" => Topology::Standalone,
            "leader" => Topology::Leader,
            other => return Err(format!("unknown topology {other:?}")),
        };
        spec.binding_mode = match self.binding_mode.as_str() {
            "strict" => BindingMode::Strict,
            "relaxed" => BindingMode::Relaxed,
            other => return Err(format!("unknown binding mode {other:?}")),
        };
        spec.binds = self
            .binds
            .iter()
            .map(|b| Bind::parse(b))
            .collect::<Result<_, _>>()?;
        spec.config_from.clone_from(&self.config_from);
        spec.shutdown_timeout = self
            .shutdown_timeout
            .map(|s| Duration::from_secs(u64::from(s)));
        let interval = Duration::new(
            self.health_check_interval.secs,
            self.health_check_interval.nanos,
        );
        if !interval.is_zero() {
            spec.health_check_interval = interval;
        }
        spec.backoff = backoff;
        Ok(spec)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn habitat_spec_with_defaults_parses() {
        let path = Path::new("/hab/sup/default/specs/redis.spec");
        let spec = SpecFile::parse(path, "ident = \"core/redis\"\n").unwrap();
        assert_eq!(spec.group, "default");
        assert_eq!(spec.topology, "standalone");
        assert_eq!(spec.binding_mode, "strict");
        assert_eq!(spec.desired(), DesiredState::Up);
        assert_eq!(spec.health_check_interval.secs, 30);
        let full = "ident = \"core/redis/7.0.0/20240101\"\ngroup = \"prod\"\nbldr_url = \"x\"\n\
                    channel = \"stable\"\ntopology = \"leader\"\nupdate_strategy = \"none\"\n\
                    update_condition = \"latest\"\nbinds = [\"db:pg.app@acme\"]\n\
                    binding_mode = \"relaxed\"\ndesired_state = \"down\"\nshutdown_timeout = 8\n\
                    unknown_key = 1\n[health_check_interval]\nsecs = 5\nnanos = 0\n";
        let spec = SpecFile::parse(path, full).unwrap();
        assert_eq!(spec.binds, ["db:pg.app@acme"]);
        assert_eq!(spec.desired(), DesiredState::Down);
        let err = SpecFile::parse(path, "group = \"x\"\n").unwrap_err();
        assert!(err.to_string().contains("ident"), "{err}");
        assert!(err.to_string().contains("redis.spec"), "{err}");
    }

    #[test]
    fn round_trips_through_a_service_spec() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("plan.sh"),
            "pkg_origin=t\npkg_name=app\npkg_version=1.2.3\npkg_binds=(\n  [db]=\"port\"\n)\n",
        )
        .unwrap();
        let pkg = Package::from_plan_dir(dir.path()).unwrap();
        let mut spec = ServiceSpec::new(pkg.clone());
        spec.group = "prod".into();
        spec.topology = Topology::Leader;
        spec.binds = vec![Bind::parse("db:pg.default").unwrap()];
        spec.shutdown_timeout = Some(Duration::from_secs(4));
        spec.health_check_interval = Duration::from_secs(7);
        let file = SpecFile::from_spec(&spec, DesiredState::Down, dir.path());
        let path = spec_path(&dir.path().join("specs"), "app");
        file.write(&path).unwrap();
        let back = SpecFile::read(&path).unwrap();
        assert_eq!(back, file);
        assert_eq!(back.ident, "t/app/1.2.3");
        let again = back.to_spec(pkg, None, BackoffConfig::default()).unwrap();
        assert_eq!(again.group, "prod");
        assert_eq!(again.topology, Topology::Leader);
        assert_eq!(again.binds, spec.binds);
        assert_eq!(again.shutdown_timeout, Some(Duration::from_secs(4)));
        assert_eq!(again.health_check_interval, Duration::from_secs(7));
        let listed = SpecFile::read_dir(&dir.path().join("specs"));
        assert_eq!(listed.len(), 1);
        assert!(listed[0].1.is_ok());
        assert_eq!(back.plan_path.as_deref(), Some(dir.path()));

        // Loaded by identifier: the identifier as asked, and no plan_path (found again at start).
        spec.requested_ident = Some("t/app".to_owned());
        let file = SpecFile::from_spec(&spec, DesiredState::Up, dir.path());
        assert_eq!(file.ident, "t/app");
        assert_eq!(file.plan_path, None);
    }
}
