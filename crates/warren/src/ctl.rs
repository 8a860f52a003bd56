//! The control API's server side in `warren run`: implements `warren_ctl::ControlHandler` over
//! the loaded services (load, unload, start, stop, status), the census (current versions of
//! gossiped config and files) and the ring (config, files and departures are published as
//! rumors). Every request is checked before anything changes.
//!
//! It holds no protocol (that is `warren-ctl`) and no service logic (`warren-service`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Mutex, mpsc, watch};
use warren_ctl::{
    ConfigApplyRequest, CtlError, DepartRequest, FileUploadRequest, LoadRequest, Reply,
    StartRequest, StatusRequest, StopRequest, UnloadRequest, UpdateRequest,
};
use warren_net::RingCommand;
use warren_ring::{CensusRing, MemberId, Rumor, ServiceGroup};
use warren_service::backoff::BackoffConfig;
use warren_service::census_view::Bind;
use warren_service::spec::{BindingMode, ServiceSpec, Topology};
use warren_service::supervisor::{DesiredState, ProcessState};

use crate::services::{Services, read_package};

/// The control handler of one supervisor.
pub(crate) struct Ctl {
    pub services: Arc<Mutex<Services>>,
    pub commands: mpsc::UnboundedSender<RingCommand>,
    pub census: watch::Receiver<Option<Arc<CensusRing>>>,
    pub org: Option<String>,
    pub backoff: BackoffConfig,
    pub hook_timeout: Duration,
    pub member_id: MemberId,
    /// `<fs_root>/hab/pkgs`: where Habitat's `SvcLoad` finds a package by its identifier.
    pub pkgs_root: PathBuf,
    /// Habitat's `SupRestart`: set, then the stop begins; `run` re-executes the binary at the
    /// end of a stop it finds set.
    pub restart: Arc<std::sync::atomic::AtomicBool>,
    /// Cancelled to stop the services and then the ring (the path of SIGTERM).
    pub stop: tokio_util::sync::CancellationToken,
}

/// How long `SupRestart` waits before stopping, so its reply reaches the client first.
const RESTART_REPLY_GRACE: Duration = Duration::from_millis(200);

impl Ctl {
    /// The spec a load request asks for, and the directory it loads from: the request's
    /// `ident` resolved under `hab/pkgs`, else its `plan_path`. Resolving reads directories and
    /// reading a plan runs `bash` (plan.sh is sourced): both off the async threads.
    async fn spec(&self, req: &LoadRequest) -> Result<(ServiceSpec, PathBuf), CtlError> {
        let pkgs_root = self.pkgs_root.clone();
        let (ident, plan_path) = (req.ident.clone(), req.plan_path.clone());
        let (pkg, dir) = blocking(move || {
            let dir = match ident {
                Some(ident) => installed_package(&pkgs_root, &ident)?,
                None => plan_path,
            };
            let pkg =
                read_package(&dir).map_err(|e| CtlError::InvalidArgument(format!("{e:#}")))?;
            Ok((pkg, dir))
        })
        .await?;
        let mut spec = ServiceSpec::new(pkg);
        spec.requested_ident.clone_from(&req.ident);
        spec.group.clone_from(&req.group);
        spec.org = req.org.clone().or_else(|| self.org.clone());
        spec.topology = match req.topology {
            warren_ctl::Topology::Standalone => Topology::Standalone,
            warren_ctl::Topology::Leader => Topology::Leader,
        };
        spec.binding_mode = match req.binding_mode {
            warren_ctl::BindingMode::Strict => BindingMode::Strict,
            warren_ctl::BindingMode::Relaxed => BindingMode::Relaxed,
        };
        spec.binds = req
            .binds
            .iter()
            .map(|b| Bind::parse(&format!("{}:{}", b.name, b.service_group)))
            .collect::<Result<_, _>>()
            .map_err(CtlError::InvalidArgument)?;
        spec.health_check_interval = Duration::from_secs(req.health_check_interval_secs.max(1));
        spec.shutdown_timeout = req
            .shutdown_timeout_secs
            .map(|s| Duration::from_secs(u64::from(s)));
        spec.config_from.clone_from(&req.config_from);
        spec.backoff = self.backoff;
        spec.hook_timeouts.default = self.hook_timeout;
        spec.checked_binds().map_err(CtlError::InvalidArgument)?;
        Ok((spec, dir))
    }

    fn service_group(text: &str) -> Result<ServiceGroup, CtlError> {
        ServiceGroup::parse(text).ok_or_else(|| {
            CtlError::InvalidArgument(format!(
                "{text:?} is not a service group (SERVICE.GROUP[@ORG])"
            ))
        })
    }

    fn publish(&self, rumor: Rumor) -> Result<(), CtlError> {
        self.commands
            .send(RingCommand::Publish(rumor))
            .map_err(|_| CtlError::Internal("the ring has stopped".to_owned()))
    }
}

fn secs(s: Option<u32>) -> Option<Duration> {
    s.map(|s| Duration::from_secs(u64::from(s)))
}

fn not_loaded(e: anyhow::Error) -> CtlError {
    CtlError::NotFound(format!("{e:#}"))
}

#[warren_ctl::async_trait]
impl warren_ctl::ControlHandler for Ctl {
    async fn load(&self, req: LoadRequest) -> Result<Reply, CtlError> {
        let (spec, dir) = self.spec(&req).await?;
        let name = spec.package.name().to_owned();
        let sg = spec.service_group();
        let mut services = self.services.lock().await;
        if services.is_loaded(&name) {
            if !req.force {
                return Err(CtlError::AlreadyExists(format!(
                    "service {name} is already loaded (use --force to reload it)"
                )));
            }
            services.unload(&name, None).await.map_err(not_loaded)?;
        }
        services
            .load(spec, &dir, true, DesiredState::Up)
            .map_err(|e| CtlError::InvalidArgument(format!("{e:#}")))?;
        Ok(Reply::new(format!("loaded {name} as {sg}")))
    }

    async fn unload(&self, req: UnloadRequest) -> Result<Reply, CtlError> {
        let mut services = self.services.lock().await;
        services
            .unload(&req.service, secs(req.shutdown_timeout_secs))
            .await
            .map_err(not_loaded)?;
        Ok(Reply::new(format!("unloaded {}", req.service)))
    }

    async fn start(&self, req: StartRequest) -> Result<Reply, CtlError> {
        let mut services = self.services.lock().await;
        services
            .set_desired(&req.service, DesiredState::Up, None)
            .map_err(not_loaded)?;
        Ok(Reply::new(format!("starting {}", req.service)))
    }

    async fn stop(&self, req: StopRequest) -> Result<Reply, CtlError> {
        let mut services = self.services.lock().await;
        services
            .set_desired(
                &req.service,
                DesiredState::Down,
                secs(req.shutdown_timeout_secs),
            )
            .map_err(not_loaded)?;
        Ok(Reply::new(format!("stopping {}", req.service)))
    }

    async fn status(&self, req: StatusRequest) -> Result<Vec<warren_ctl::ServiceStatus>, CtlError> {
        let registry = self.services.lock().await.registry();
        let views: Vec<_> = crate::services::views(&registry);
        if let Some(name) = &req.service
            && !views.iter().any(|(n, _)| n == name)
        {
            return Err(CtlError::NotFound(format!("service {name} is not loaded")));
        }
        Ok(views
            .into_iter()
            .filter(|(name, _)| req.service.as_ref().is_none_or(|s| s == name))
            .map(|(_, view)| {
                let status = view.status.borrow().clone();
                let up = status.process == ProcessState::Up;
                warren_ctl::ServiceStatus {
                    package: status.pkg.clone(),
                    service_group: status.service_group.clone(),
                    topology: match view.spec.topology {
                        Topology::Standalone => warren_ctl::Topology::Standalone,
                        Topology::Leader => warren_ctl::Topology::Leader,
                    },
                    desired: match status.desired {
                        DesiredState::Up => warren_ctl::DesiredState::Up,
                        DesiredState::Down => warren_ctl::DesiredState::Down,
                    },
                    process: if up {
                        warren_ctl::ProcessState::Up
                    } else {
                        warren_ctl::ProcessState::Down
                    },
                    elapsed_secs: status.since.elapsed().ok().map(|d| d.as_secs()),
                    pid: status.pid,
                    health: match status.health {
                        warren_service::hooks::HealthStatus::Ok => warren_ctl::Health::Ok,
                        warren_service::hooks::HealthStatus::Warning => warren_ctl::Health::Warning,
                        warren_service::hooks::HealthStatus::Critical => {
                            warren_ctl::Health::Critical
                        }
                        warren_service::hooks::HealthStatus::Unknown => warren_ctl::Health::Unknown,
                    },
                }
            })
            .collect())
    }

    async fn config_apply(&self, req: ConfigApplyRequest) -> Result<Reply, CtlError> {
        let sg = Self::service_group(&req.service_group)?;
        let sg_text = sg.to_string();
        if req.encrypted {
            warren_ctl::validate_box(&req.toml).map_err(CtlError::InvalidArgument)?;
        } else {
            warren_ctl::validate_toml(&req.toml).map_err(CtlError::InvalidArgument)?;
        }
        let current = self
            .census
            .borrow()
            .as_ref()
            .and_then(|c| c.census_groups.get(&sg_text))
            .and_then(|g| g.service_config.as_ref())
            .map_or(0, |c| c.incarnation);
        if req.version <= current {
            return Err(CtlError::stale_version(
                &sg_text,
                "configuration",
                req.version,
                current,
            ));
        }
        self.publish(Rumor::ServiceConfig(Arc::new(warren_ring::ServiceConfig {
            incarnation: req.version,
            service_group: sg_text.clone(),
            encrypted: req.encrypted,
            config: req.toml,
        })))?;
        Ok(Reply::new(format!(
            "applied configuration version {} to {sg_text}",
            req.version
        )))
    }

    async fn file_upload(&self, req: FileUploadRequest) -> Result<Reply, CtlError> {
        let sg = Self::service_group(&req.service_group)?;
        let sg_text = sg.to_string();
        warren_ctl::validate_filename(&req.filename).map_err(CtlError::InvalidArgument)?;
        let current = self
            .census
            .borrow()
            .as_ref()
            .and_then(|c| c.census_groups.get(&sg_text))
            .and_then(|g| g.service_files.get(&req.filename))
            .map_or(0, |f| f.incarnation);
        if req.version <= current {
            return Err(CtlError::stale_version(
                &sg_text,
                &format!("file {}", req.filename),
                req.version,
                current,
            ));
        }
        self.publish(Rumor::ServiceFile(Arc::new(warren_ring::ServiceFile {
            incarnation: req.version,
            service_group: sg_text.clone(),
            filename: req.filename.clone(),
            encrypted: req.encrypted,
            body: req.content,
        })))?;
        Ok(Reply::new(format!(
            "uploaded {} version {} to {sg_text}",
            req.filename, req.version
        )))
    }

    async fn depart(&self, req: DepartRequest) -> Result<Reply, CtlError> {
        let id = req.member_id.trim();
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(CtlError::InvalidArgument(format!(
                "{id:?} is not a member id"
            )));
        }
        if id == self.member_id.to_string() {
            return Err(CtlError::FailedPrecondition(
                "a supervisor cannot depart itself; stop it, or ask another member".to_owned(),
            ));
        }
        self.publish(Rumor::Departure(Arc::new(warren_ring::Departure {
            member_id: MemberId::new(id),
        })))?;
        Ok(Reply::new(format!("departing member {id}")))
    }

    async fn update(&self, req: UpdateRequest) -> Result<Reply, CtlError> {
        let name = req.service.clone();
        let registry = self.services.lock().await.registry();
        let Some((_, view)) = crate::services::views(&registry)
            .into_iter()
            .find(|(n, _)| *n == name)
        else {
            return Err(CtlError::NotFound(format!("service {name} is not loaded")));
        };
        let spec = updated_spec(&view.spec, &req)?;
        let desired = view.status.borrow().desired;
        let persist = view.spec_file.is_some();
        let services = Arc::clone(&self.services);
        // Habitat queues the update for its main loop and replies at once; the service is
        // stopped (within its shutdown budget) and started again with the new spec.
        tokio::spawn(async move {
            let mut services = services.lock().await;
            if let Err(e) = services.unload(&name, None).await {
                tracing::warn!(service = %name, "update: {e:#}");
                return;
            }
            match services.load(spec, &view.plan_path, persist, desired) {
                Ok(()) => tracing::info!(service = %name, "updated"),
                Err(e) => tracing::error!(service = %name, "update: cannot load again: {e:#}"),
            }
        });
        Ok(Reply::new(format!("updating {}", req.service)))
    }

    async fn restart(&self) -> Result<Reply, CtlError> {
        self.restart
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let stop = self.stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(RESTART_REPLY_GRACE).await;
            tracing::info!("restart requested: stopping, then starting again");
            stop.cancel();
        });
        Ok(Reply::new(
            "restarting the supervisor: services stop, then everything starts again",
        ))
    }

    async fn package_dir(&self, ident: &str) -> Result<PathBuf, CtlError> {
        let (root, ident) = (self.pkgs_root.clone(), ident.to_owned());
        blocking(move || installed_package(&root, &ident)).await
    }
}

/// `f` on tokio's blocking pool (it reads the file system or runs a child process).
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, CtlError> + Send + 'static,
) -> Result<T, CtlError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| CtlError::Internal(format!("a blocking task failed: {e}")))?
}

/// `spec` with the fields of `req` that are given (Habitat's `merge_svc_update`).
fn updated_spec(spec: &ServiceSpec, req: &UpdateRequest) -> Result<ServiceSpec, CtlError> {
    let mut spec = spec.clone();
    if let Some(g) = &req.group {
        spec.group.clone_from(g);
    }
    if let Some(t) = req.topology {
        spec.topology = match t {
            warren_ctl::Topology::Standalone => Topology::Standalone,
            warren_ctl::Topology::Leader => Topology::Leader,
        };
    }
    if let Some(m) = req.binding_mode {
        spec.binding_mode = match m {
            warren_ctl::BindingMode::Strict => BindingMode::Strict,
            warren_ctl::BindingMode::Relaxed => BindingMode::Relaxed,
        };
    }
    if let Some(binds) = &req.binds {
        spec.binds = binds
            .iter()
            .map(|b| Bind::parse(&format!("{}:{}", b.name, b.service_group)))
            .collect::<Result<_, _>>()
            .map_err(CtlError::InvalidArgument)?;
    }
    if let Some(s) = req.health_check_interval_secs {
        spec.health_check_interval = Duration::from_secs(s.max(1));
    }
    if let Some(s) = req.shutdown_timeout_secs {
        spec.shutdown_timeout = Some(Duration::from_secs(u64::from(s)));
    }
    spec.checked_binds().map_err(CtlError::InvalidArgument)?;
    Ok(spec)
}

/// The installed package directory for `ORIGIN/NAME[/VERSION[/RELEASE]]` under `pkgs_root`:
/// the newest that satisfies it in Habitat's order (`warren_service::ident`).
fn installed_package(pkgs_root: &Path, ident: &str) -> Result<PathBuf, CtlError> {
    use warren_service::ident::IdentError;
    warren_service::ident::resolve_text(pkgs_root, ident).map_err(|e| match e {
        IdentError::Invalid(_) => CtlError::InvalidArgument(e.to_string()),
        IdentError::NotInstalled { .. } => CtlError::NotFound(e.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installed_package_picks_the_newest_version_and_release() {
        let root = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        for (v, r) in [
            ("1.10.0-rc1", "20220101000000"),
            ("1.9.0", "20200101000000"),
            ("1.10.0", "20190101000000"),
            ("1.10.0", "20210101000000"),
        ] {
            let d = root.path().join("core/redis").join(v).join(r);
            std::fs::create_dir_all(&d).unwrap_or_else(|e| panic!("{e}"));
            std::fs::write(d.join("IDENT"), format!("core/redis/{v}/{r}"))
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let got = installed_package(root.path(), "core/redis");
        assert_eq!(
            got,
            Ok(root.path().join("core/redis/1.10.0/20210101000000"))
        );
        let got = installed_package(root.path(), "core/redis/1.9.0");
        assert_eq!(got, Ok(root.path().join("core/redis/1.9.0/20200101000000")));
        assert!(matches!(
            installed_package(root.path(), "core/nope"),
            Err(CtlError::NotFound(_))
        ));
        assert!(matches!(
            installed_package(root.path(), "core/../x"),
            Err(CtlError::InvalidArgument(_))
        ));
    }
}
