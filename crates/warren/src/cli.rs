//! Command-line flags (clap). Parsing only: `run.rs` resolves them into subsystem configs.
//! Names, defaults and environment variables follow Habitat's so Warren is a drop-in.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Warren: a Habitat-compatible supervisor.
#[derive(Parser, Debug)]
#[command(name = "warren", version, about, propagate_version = true)]
pub(crate) struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Start a supervisor (with no plan it runs empty: a gossip ring member and its HTTP API).
    Run(Box<RunArgs>),
    /// Plans: check what a plan renders to, without running anything.
    Plan {
        /// What to do with the plan.
        #[command(subcommand)]
        command: PlanCommand,
    },
    /// Ring management.
    Ring {
        /// What to do with the ring.
        #[command(subcommand)]
        command: RingCommand,
    },
}

/// `warren ring …`
#[derive(Subcommand, Debug)]
pub(crate) enum RingCommand {
    /// Ring keys.
    Key {
        /// What to do with ring keys.
        #[command(subcommand)]
        command: KeyCommand,
    },
}

/// `warren plan …`
#[derive(Subcommand, Debug)]
pub(crate) enum PlanCommand {
    /// Render a plan's config/ and hooks/ templates as a supervisor alone in its group would
    /// (the only member, leader after a finished election) into DIR/config and DIR/hooks.
    Render(PlanRenderArgs),
}

/// `warren plan render` flags.
#[derive(Args, Debug)]
pub(crate) struct PlanRenderArgs {
    /// The plan directory (holding plan.sh, default.toml, config/, hooks/).
    pub plan: PathBuf,
    /// Output directory (default: a new temporary directory, whose path is printed).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// A user.toml layered over default.toml and the HAB_<PKG> environment variable.
    #[arg(long, value_name = "FILE")]
    pub user_toml: Option<PathBuf>,
    /// A JSON object overriding the lone member: any of the sys keys (version, member_id, ip,
    /// hostname, gossip_ip, gossip_port, http_gateway_ip, http_gateway_port, ctl_gateway_ip,
    /// ctl_gateway_port, permanent), which svc.me.sys follows, and group (default "default").
    #[arg(long, value_name = "FILE")]
    pub member_json: Option<PathBuf>,
    /// A reference to a value missing from the context is an error naming it (Habitat renders
    /// it empty).
    #[arg(long)]
    pub strict: bool,
}

/// `warren ring key …`
#[derive(Subcommand, Debug)]
pub(crate) enum KeyCommand {
    /// Write a new ring key (Habitat's SYM-SEC-1 format) into the key cache.
    Generate {
        /// The ring's name.
        name: String,
        /// Prefix for every /hab path.
        #[arg(long, default_value = "/", env = "FS_ROOT")]
        fs_root: PathBuf,
        /// Key cache directory (default: <fs-root>/hab/cache/keys).
        #[arg(long)]
        cache_key_path: Option<PathBuf>,
    },
}

/// Topology of a service group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum TopologyArg {
    /// Every member runs on its own.
    Standalone,
    /// The group elects a leader.
    Leader,
}

/// Timing profile of the gossip protocol.
/// `--binding-mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum BindingModeArg {
    /// Start only once every bind is satisfied.
    Strict,
    /// Start regardless of binds.
    Relaxed,
}

/// `--strategy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum StrategyArg {
    /// Never update.
    None,
    /// Every member updates on its own.
    AtOnce,
    /// One member at a time, led by the update leader.
    Rolling,
}

/// Habitat's load flags (shared by `warren run PLAN_DIR…` and `warren svc load`).
#[derive(Args, Debug, Clone)]
pub(crate) struct LoadArgs {
    /// Service group of the plans given (`SERVICE.GROUP`).
    #[arg(long, default_value = "default")]
    pub group: String,
    /// Topology of the plans given.
    #[arg(short = 't', long, value_enum, default_value = "standalone")]
    pub topology: TopologyArg,
    /// Update strategy. Plans are not built packages, so only `none` does anything today.
    #[arg(short = 's', long, value_enum, default_value = "none")]
    pub strategy: StrategyArg,
    /// A bind, `NAME:SERVICE.GROUP[@ORG]` (repeatable).
    #[arg(long = "bind", value_name = "NAME:SERVICE.GROUP[@ORG]")]
    pub binds: Vec<String>,
    /// Whether the service waits for its binds.
    #[arg(long, value_enum, default_value = "strict")]
    pub binding_mode: BindingModeArg,
    /// Seconds between health checks.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub health_check_interval: u64,
    /// Seconds between the shutdown signal and SIGKILL (default: the package's, else 8).
    #[arg(long, value_name = "SECS")]
    pub shutdown_timeout: Option<u64>,
    /// Take `default.toml`, `config/` and `hooks/` from this directory instead.
    #[arg(long, value_name = "DIR")]
    pub config_from: Option<std::path::PathBuf>,
    /// Seconds any hook but `run` may take before it is stopped (Habitat has no limit).
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub hook_timeout: u64,
    /// Seconds before the first restart of a failing service (Habitat: 0).
    #[arg(long, value_name = "SECS", default_value_t = 1)]
    pub service_min_backoff_period: u64,
    /// Longest wait between restarts of a failing service (Habitat: 0).
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub service_max_backoff_period: u64,
    /// Seconds a service must run for its failures to be forgotten.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub service_restart_cooldown_period: u64,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum ProfileArg {
    /// Warren's (Lifeguard, 1 s probes).
    Default,
    /// Habitat 2.1.78's timings.
    Habitat,
}

/// `warren run` flags.
#[derive(Args, Debug)]
pub(crate) struct RunArgs {
    /// Plan directories (or installed Habitat package directories) to load and run; none runs
    /// the supervisor empty (a management ring member).
    pub plans: Vec<PathBuf>,
    /// How the plans given are loaded.
    #[command(flatten)]
    pub load: LoadArgs,
    /// Organization part of service groups (`service.group@org`).
    #[arg(long)]
    pub org: Option<String>,
    /// Gossip listen address (UDP for SWIM, TCP for rumors, same port).
    #[arg(long, env = "HAB_LISTEN_GOSSIP", default_value = "0.0.0.0:9638")]
    pub listen_gossip: SocketAddr,
    /// HTTP gateway listen address.
    #[arg(long, env = "HAB_LISTEN_HTTP", default_value = "0.0.0.0:9631")]
    pub listen_http: SocketAddr,
    /// Do not start the HTTP gateway.
    #[arg(short = 'D', long)]
    pub http_disable: bool,
    /// A peer to join through, HOST[:PORT] (repeatable; a DNS name means all its addresses).
    #[arg(long = "peer", value_name = "HOST[:PORT]")]
    pub peers: Vec<String>,
    /// A file of peers, one HOST[:PORT] per line, re-read whenever it changes.
    #[arg(long)]
    pub peer_watch_file: Option<PathBuf>,
    /// This member is a permanent peer (always pinged, even when Confirmed).
    #[arg(short = 'I', long)]
    pub permanent_peer: bool,
    /// Ring name: use the newest key of that name in <fs-root>/hab/cache/keys.
    #[arg(short = 'r', long, env = "HAB_RING")]
    pub ring: Option<String>,
    /// Ring key file to use.
    #[arg(long, conflicts_with = "ring")]
    pub ring_key_file: Option<PathBuf>,
    /// The full text of a ring key (written into the key cache).
    #[arg(long, env = "HAB_RING_KEY", hide = true, hide_env_values = true)]
    pub ring_key: Option<String>,
    /// Prefix for every /hab path (state, keys).
    #[arg(long, default_value = "/")]
    pub fs_root: PathBuf,
    /// The IP address other members and templates see for this member.
    #[arg(long)]
    pub sys_ip_address: Option<IpAddr>,
    /// Gossip timing profile.
    #[arg(long, value_enum, default_value = "default")]
    pub gossip_profile: ProfileArg,
    /// Log as JSON lines.
    #[arg(long)]
    pub json_logging: bool,
    /// Plain (uncoloured) logs.
    #[arg(long)]
    pub no_color: bool,
    /// More logging (-v debug, -vv trace).
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
}
