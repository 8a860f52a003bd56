//! The `warren` binary: parses the command line, sets up logging and runs the command.
//! The composition root for `warren run` is `run.rs`; this file holds no subsystem logic.

#![forbid(unsafe_code)]

mod cli;
mod ctl;
mod ctl_cli;
mod faults;
mod feed;
mod k8s_departs;
mod k8s_role;
mod keys;
mod local;
mod plan_render;
mod run;
mod services;

use std::process::ExitCode;

use clap::Parser;
use cli::{BoxKeyCommand, BoxKeyKind, Cli, Command, KeyCommand, PlanCommand, RingCommand};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => run::main(*args),
        Command::Plan {
            command: PlanCommand::Render(args),
        } => plan_render::main(&args),
        Command::Svc { command } => ctl_cli::main(ctl_cli::CtlCommand::Svc(command)),
        Command::Config { command } => ctl_cli::main(ctl_cli::CtlCommand::Config(command)),
        Command::File { command } => ctl_cli::main(ctl_cli::CtlCommand::File(command)),
        Command::Sup { command } => ctl_cli::main(ctl_cli::CtlCommand::Sup(command)),
        Command::Local { command } => local::main(command),
        Command::CheckArgs { args } => {
            match Cli::try_parse_from(std::iter::once("warren".to_owned()).chain(args)) {
                Ok(_) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("{e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Key {
            command: BoxKeyCommand::Generate { kind },
        } => match generate_box_key(kind) {
            Ok(paths) => {
                for p in paths {
                    println!("{}", p.display());
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("warren: {e:#}");
                ExitCode::FAILURE
            }
        },
        Command::Ring {
            command: RingCommand::Key { command },
        } => match command {
            KeyCommand::Generate {
                name,
                fs_root,
                cache_key_path,
            } => {
                let cache = cache_key_path.unwrap_or_else(|| fs_root.join("hab/cache/keys"));
                match generate_key(&name, &cache) {
                    Ok(path) => {
                        println!("{}", path.display());
                        ExitCode::SUCCESS
                    }
                    Err(e) => {
                        eprintln!("warren: {e:#}");
                        ExitCode::FAILURE
                    }
                }
            }
        },
    }
}

/// Runs `f` on a single-threaded tokio runtime; a start-up failure or an error from `f` is one
/// line on stderr and exit code 1.
pub(crate) fn block_on(f: impl std::future::Future<Output = anyhow::Result<ExitCode>>) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("warren: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(f) {
        Ok(code) => code,
        Err(e) => {
            // One line, naming the thing and the problem.
            eprintln!("warren: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn generate_key(name: &str, cache: &std::path::Path) -> anyhow::Result<std::path::PathBuf> {
    let key = warren_wire::RingKey::generate(name, &keys::revision_now(), &mut OsRandom)
        .map_err(|e| anyhow::anyhow!("ring key {name}: {e}"))?;
    keys::write(cache, &key)
}

/// `warren key generate user NAME` / `service SERVICE.GROUP ORG`: both halves, public first.
fn generate_box_key(kind: BoxKeyKind) -> anyhow::Result<Vec<std::path::PathBuf>> {
    let (name, cache) = match kind {
        BoxKeyKind::User { name, cache } => (name, cache),
        BoxKeyKind::Service {
            service_group,
            org,
            cache,
        } => {
            let sg = warren_ring::ServiceGroup::parse(&service_group)
                .filter(|sg| sg.org.is_none())
                .ok_or_else(|| {
                    anyhow::anyhow!("{service_group:?} is not SERVICE.GROUP (give ORG apart)")
                })?;
            (
                warren_wire::box_key::service_key_name(&sg.to_string(), &org),
                cache,
            )
        }
    };
    let dir = cache
        .cache_key_path
        .unwrap_or_else(|| cache.fs_root.join("hab/cache/keys"));
    let (public, secret) =
        warren_wire::box_key::BoxKey::generate_pair(&name, &keys::revision_now(), &mut OsRandom)
            .map_err(|e| anyhow::anyhow!("box key {name}: {e}"))?;
    let cache = warren_wire::box_key::KeyCache::new(dir);
    Ok(vec![
        cache.write(&public).map_err(|e| anyhow::anyhow!("{e}"))?,
        cache.write(&secret).map_err(|e| anyhow::anyhow!("{e}"))?,
    ])
}

/// The operating system's random generator, for key material (not the seeded PRNG).
pub(crate) struct OsRandom;

impl rand::RngCore for OsRandom {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }

    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }

    fn fill_bytes(&mut self, dst: &mut [u8]) {
        // Start-up invariant: the OS RNG works. Without it no key may be made, so stop here.
        if let Err(e) = getrandom::getrandom(dst) {
            eprintln!("warren: no OS randomness for key material: {e}");
            std::process::exit(1);
        }
    }
}
