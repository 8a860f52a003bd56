//! The control commands of the CLI (`warren svc …`, `warren config apply`, `warren file upload`,
//! `warren sup depart`): each builds a request, sends it with `warren_ctl::CtlClient` to the
//! supervisor at `-r/--remote-sup`, and prints one line (or the status table). Every failure is
//! one line on stderr and exit code 1.

use std::io::Read as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow};
use warren_ctl::{
    ConfigApplyRequest, CtlClient, CtlSecret, DepartRequest, FileUploadRequest, LoadRequest,
    StartRequest, StatusRequest, StopRequest, UnloadRequest,
};

use crate::cli::{
    BindingModeArg, ConfigCommand, FileCommand, LoadArgs, Remote, SealArgs, StrategyArg,
    SupCommand, SvcCommand, TopologyArg,
};

/// A control command, parsed.
pub(crate) enum CtlCommand {
    Svc(SvcCommand),
    Config(ConfigCommand),
    File(FileCommand),
    Sup(SupCommand),
}

/// Runs a control command; returns the exit code.
pub(crate) fn main(cmd: CtlCommand) -> ExitCode {
    crate::block_on(async move { run(cmd).await.map(|()| ExitCode::SUCCESS) })
}

async fn connect(remote: &Remote) -> Result<CtlClient> {
    let secret = CtlSecret::for_client(&remote.fs_root).map_err(|e| anyhow!("{e}"))?;
    CtlClient::connect(&remote.remote_sup, secret)
        .await
        .map_err(|e| anyhow!("{e}"))
}

fn say(reply: warren_ctl::Reply) {
    if !reply.message.is_empty() {
        println!("{}", reply.message);
    }
}

async fn run(cmd: CtlCommand) -> Result<()> {
    match cmd {
        CtlCommand::Svc(SvcCommand::Load {
            plan,
            org,
            force,
            load,
            remote,
        }) => {
            // An identifier is resolved by the supervisor, under its own hab/pkgs.
            let req = match warren_service::ident::PlanArg::classify(&plan) {
                warren_service::ident::PlanArg::Ident(ident) => LoadRequest {
                    ident: Some(ident.to_string()),
                    ..load_request(Path::new(""), org, force, &load)?
                },
                warren_service::ident::PlanArg::Dir(dir) => {
                    let plan = std::path::absolute(&dir)
                        .with_context(|| format!("resolving {}", dir.display()))?;
                    load_request(&plan, org, force, &load)?
                }
            };
            say(connect(&remote)
                .await?
                .load(req)
                .await
                .map_err(|e| anyhow!("{e}"))?);
        }
        CtlCommand::Svc(SvcCommand::Unload {
            service,
            shutdown_timeout,
            remote,
        }) => say(connect(&remote)
            .await?
            .unload(UnloadRequest {
                service,
                shutdown_timeout_secs: shutdown_timeout,
            })
            .await
            .map_err(|e| anyhow!("{e}"))?),
        CtlCommand::Svc(SvcCommand::Start { service, remote }) => say(connect(&remote)
            .await?
            .start(StartRequest { service })
            .await
            .map_err(|e| anyhow!("{e}"))?),
        CtlCommand::Svc(SvcCommand::Stop {
            service,
            shutdown_timeout,
            remote,
        }) => say(connect(&remote)
            .await?
            .stop(StopRequest {
                service,
                shutdown_timeout_secs: shutdown_timeout,
            })
            .await
            .map_err(|e| anyhow!("{e}"))?),
        CtlCommand::Svc(SvcCommand::Status { service, remote }) => {
            let rows = connect(&remote)
                .await?
                .status(StatusRequest { service })
                .await
                .map_err(|e| anyhow!("{e}"))?;
            print!("{}", warren_ctl::format_status_table(&rows));
        }
        CtlCommand::Config(ConfigCommand::Apply {
            service_group,
            version,
            file,
            seal,
            remote,
        }) => {
            let toml = read_input(file.as_deref())?;
            // Checked here first: an invalid file is refused before anything is sent.
            warren_ctl::validate_toml(&toml).map_err(|e| {
                anyhow!(
                    "{}: {e}; nothing was applied",
                    file.as_deref()
                        .map_or_else(|| "standard input".to_owned(), |p| p.display().to_string())
                )
            })?;
            let sealed = Sealing::new(&service_group, seal, &remote)?;
            let (service_group, toml, encrypted) = sealed.apply(toml)?;
            say(connect(&remote)
                .await?
                .config_apply(ConfigApplyRequest {
                    encrypted,
                    service_group,
                    version,
                    toml,
                })
                .await
                .map_err(|e| anyhow!("{e}"))?);
        }
        CtlCommand::File(FileCommand::Upload {
            service_group,
            version,
            file,
            seal,
            remote,
        }) => {
            let filename = file
                .file_name()
                .and_then(|n| n.to_str())
                .ok_or_else(|| anyhow!("{}: not a file name", file.display()))?
                .to_owned();
            let content =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let sealed = Sealing::new(&service_group, seal, &remote)?;
            let (service_group, content, encrypted) = sealed.apply(content)?;
            say(connect(&remote)
                .await?
                .file_upload(FileUploadRequest {
                    encrypted,
                    service_group,
                    version,
                    filename,
                    content,
                })
                .await
                .map_err(|e| anyhow!("{e}"))?);
        }
        CtlCommand::Sup(SupCommand::Depart { member_id, remote }) => say(connect(&remote)
            .await?
            .depart(DepartRequest { member_id })
            .await
            .map_err(|e| anyhow!("{e}"))?),
    }
    Ok(())
}

/// `--user` / `--org` of `config apply` and `file upload`: the service group to send to and, with
/// a user, the keys to encrypt with (Habitat's: the user's newest secret box key and the newest
/// public key named `SERVICE.GROUP@ORG`, from the local key cache).
struct Sealing {
    service_group: String,
    keys: Option<(warren_wire::box_key::BoxKey, warren_wire::box_key::BoxKey)>,
}

impl Sealing {
    fn new(service_group: &str, seal: SealArgs, remote: &Remote) -> Result<Sealing> {
        let SealArgs {
            user,
            org,
            cache_key_path,
        } = seal;
        use warren_wire::box_key::{Half, KeyCache};
        let service_group = match (service_group.contains('@'), org) {
            (false, Some(org)) => format!("{service_group}@{org}"),
            (true, Some(_)) => {
                return Err(anyhow!(
                    "{service_group} names its organization already; drop --org"
                ));
            }
            (_, None) => service_group.to_owned(),
        };
        let Some(user) = user else {
            return Ok(Sealing {
                service_group,
                keys: None,
            });
        };
        if !service_group.contains('@') {
            return Err(anyhow!(
                "--user: the service key is named SERVICE.GROUP@ORG; give {service_group}@ORG \
                 or --org ORG; nothing was sent"
            ));
        }
        let cache =
            KeyCache::new(cache_key_path.unwrap_or_else(|| remote.fs_root.join("hab/cache/keys")));
        let user_key = cache
            .newest(&user, Half::Secret)
            .map_err(|e| anyhow!("--user {user}: {e}; nothing was sent"))?;
        let service_key = cache
            .newest(&service_group, Half::Public)
            .map_err(|e| anyhow!("service key {service_group}: {e}; nothing was sent"))?;
        Ok(Sealing {
            service_group,
            keys: Some((user_key, service_key)),
        })
    }

    /// The service group, the payload to send and whether it is encrypted.
    fn apply(self, payload: Vec<u8>) -> Result<(String, Vec<u8>, bool)> {
        match &self.keys {
            None => Ok((self.service_group, payload, false)),
            Some((user, service)) => {
                let sealed =
                    warren_wire::box_key::seal(&payload, user, service, &mut crate::OsRandom)
                        .map_err(|e| anyhow!("encrypting: {e}"))?;
                eprintln!(
                    "encrypting as {} for {}",
                    user.name_with_rev(),
                    service.name_with_rev()
                );
                Ok((self.service_group, sealed.into_bytes(), true))
            }
        }
    }
}

fn read_input(file: Option<&Path>) -> Result<Vec<u8>> {
    match file {
        Some(p) if p != Path::new("-") => {
            std::fs::read(p).with_context(|| format!("reading {}", p.display()))
        }
        _ => {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .context("reading standard input")?;
            Ok(buf)
        }
    }
}

fn load_request(
    plan: &Path,
    org: Option<String>,
    force: bool,
    load: &LoadArgs,
) -> Result<LoadRequest> {
    let binds = load
        .binds
        .iter()
        .map(|b| {
            let bind =
                warren_service::census_view::Bind::parse(b).map_err(|e| anyhow!("--bind: {e}"))?;
            Ok(warren_ctl::Bind {
                name: bind.name,
                service_group: bind.service_group,
            })
        })
        .collect::<Result<_>>()?;
    Ok(LoadRequest {
        group: load.group.clone(),
        org,
        topology: match load.topology {
            TopologyArg::Standalone => warren_ctl::Topology::Standalone,
            TopologyArg::Leader => warren_ctl::Topology::Leader,
        },
        strategy: match load.strategy {
            StrategyArg::None => warren_ctl::UpdateStrategy::None,
            StrategyArg::AtOnce => warren_ctl::UpdateStrategy::AtOnce,
            StrategyArg::Rolling => warren_ctl::UpdateStrategy::Rolling,
        },
        binds,
        binding_mode: match load.binding_mode {
            BindingModeArg::Strict => warren_ctl::BindingMode::Strict,
            BindingModeArg::Relaxed => warren_ctl::BindingMode::Relaxed,
        },
        health_check_interval_secs: load.health_check_interval,
        shutdown_timeout_secs: load
            .shutdown_timeout
            .map(|s| u32::try_from(s).unwrap_or(u32::MAX)),
        config_from: load.config_from.clone(),
        force,
        ..LoadRequest::new(plan)
    })
}
