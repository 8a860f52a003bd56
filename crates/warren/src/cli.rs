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
    /// Services of a running supervisor: load, unload, start, stop, status.
    Svc {
        /// What to do.
        #[command(subcommand)]
        command: SvcCommand,
    },
    /// Gossiped configuration.
    Config {
        /// What to do.
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Gossiped files.
    File {
        /// What to do.
        #[command(subcommand)]
        command: FileCommand,
    },
    /// The supervisor and the ring it is in.
    Sup {
        /// What to do.
        #[command(subcommand)]
        command: SupCommand,
    },
    /// Checks that ARGS parse as a `warren` command line, without running anything (for
    /// manifests: `warren check-args -- run --peer=ring ...`); exit 0 when they do.
    #[command(hide = true)]
    CheckArgs {
        /// The command line, without the program name.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Encryption (box) keys for gossiped config and files sent with `--user`.
    Key {
        /// What to do.
        #[command(subcommand)]
        command: BoxKeyCommand,
    },
    /// Local multi-node testing.
    Local {
        /// What to do.
        #[command(subcommand)]
        command: LocalCommand,
    },
}

/// `warren local …`
#[derive(Subcommand, Debug)]
pub(crate) enum LocalCommand {
    /// Start a ring of N supervisors on 127.0.0.1, each with its own ports and state, all
    /// loading the same plans (default: plans/hello with leader topology), and show it live
    /// until Ctrl-C. Member i listens on BASE+10i+8 (gossip), +1 (HTTP) and +2 (control).
    Up(LocalUpArgs),
    /// Benchmark real rings on loopback: formation from one seed, failure detection, config
    /// apply coverage, leader failover, per-member memory, idle CPU and gossip traffic, for each
    /// ring size; writes one JSON object per size and PNG plots to `--out`.
    Bench(LocalBenchArgs),
    /// SIGKILL a member and its services (a crashed host); `start` brings it back.
    Kill(LocalMemberArgs),
    /// Stop a member gracefully (SIGTERM: its services stop, it leaves the ring).
    Stop(LocalMemberArgs),
    /// Start a member that was killed or stopped, with its state.
    Start(LocalMemberArgs),
    /// Stop a member gracefully, then start it again.
    Restart(LocalMemberArgs),
    /// Cut the members given off from the rest of the ring (gossip both ways); replaces any
    /// earlier partition.
    Partition {
        /// Member numbers on one side of the cut.
        #[arg(required = true)]
        members: Vec<u16>,
        /// Which ring.
        #[command(flatten)]
        ring: LocalRing,
    },
    /// Remove every partition.
    Heal {
        /// Which ring.
        #[command(flatten)]
        ring: LocalRing,
    },
    /// The members of the running local ring: pid, ports, state directory.
    Status {
        /// Which ring.
        #[command(flatten)]
        ring: LocalRing,
    },
    /// Gossiped configuration, sent through one member of the local ring.
    Config {
        /// What to do.
        #[command(subcommand)]
        command: LocalConfigCommand,
    },
}

/// `warren local config …`
#[derive(Subcommand, Debug)]
pub(crate) enum LocalConfigCommand {
    /// As `warren config apply`, through member `--member` (default 0) of the local ring.
    Apply {
        /// `SERVICE.GROUP[@ORG]`.
        service_group: String,
        /// Version: must be higher than the group's current one.
        version: u64,
        /// The TOML file; `-` or nothing reads standard input.
        file: Option<PathBuf>,
        /// The member to send it through.
        #[arg(long, default_value_t = 0)]
        member: u16,
        /// Which ring.
        #[command(flatten)]
        ring: LocalRing,
    },
}

/// Which local ring a control command addresses.
#[derive(Args, Debug, Clone)]
pub(crate) struct LocalRing {
    /// The ring's state directory (default: the ring `warren local up` started last, named by
    /// `$XDG_RUNTIME_DIR/warren-local/current` or `/tmp/warren-local-<uid>/current`).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// `warren local kill|stop|start|restart` flags.
#[derive(Args, Debug)]
pub(crate) struct LocalMemberArgs {
    /// The member's number (0 for the first, as in `warren local status`).
    pub member: u16,
    /// Which ring.
    #[command(flatten)]
    pub ring: LocalRing,
}

/// `warren local up` flags.
#[derive(Args, Debug)]
pub(crate) struct LocalUpArgs {
    /// Plan directories every member loads (default: plans/hello, with `--topology leader`
    /// unless run flags are given).
    pub plans: Vec<PathBuf>,
    /// How many members.
    #[arg(short = 'n', long = "members", default_value_t = 3)]
    pub members: u16,
    /// First port of the range the members take.
    #[arg(long, default_value_t = 19600)]
    pub base_port: u16,
    /// Directory for the members' state and logs (default: a new temporary directory).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Keep the state directory after the ring stops (it is removed by default, unless `--dir`
    /// named a directory that already existed).
    #[arg(long)]
    pub keep: bool,
    /// Seconds a member has to stop after SIGTERM before it is killed.
    #[arg(long, value_name = "SECS", default_value_t = 20)]
    pub stop_timeout: u64,
    /// Plain timestamped lines even on a terminal (the default when stdout is not one).
    #[arg(long)]
    pub plain: bool,
    /// Seconds between two summaries in plain output.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub summary_every: u64,
    /// Further `warren run` flags for every member, after `--` (e.g. `-- --topology leader`).
    #[arg(last = true)]
    pub run_args: Vec<String>,
}

/// `warren local bench` flags.
#[derive(Args, Debug)]
pub(crate) struct LocalBenchArgs {
    /// Ring sizes, comma-separated.
    #[arg(
        short = 'n',
        long = "members",
        value_delimiter = ',',
        default_value = "10,25,50,100"
    )]
    pub members: Vec<u16>,
    /// SIGKILLs of a random member per ring size (detection latency).
    #[arg(long, default_value_t = 20)]
    pub trials: u32,
    /// SIGKILLs of the leader per ring size (default: half of --trials, at least 1).
    #[arg(long)]
    pub failover_trials: Option<u32>,
    /// `config apply`s per ring size (default: --trials).
    #[arg(long)]
    pub config_trials: Option<u32>,
    /// Seconds of the idle window (CPU, traffic) per ring size.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub idle_secs: u64,
    /// Where the JSON report and the plots go.
    #[arg(long, default_value = "target/local-bench")]
    pub out: PathBuf,
    /// First port of the range the members take (as `local up`).
    #[arg(long, default_value_t = 19600)]
    pub base_port: u16,
    /// Seed of the choice of victims.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The simulator to run at the same sizes (default: `warren-sim` beside this binary;
    /// `none` skips it).
    #[arg(long)]
    pub sim: Option<PathBuf>,
    /// The plan every member runs (leader topology).
    #[arg(long, default_value = "plans/hello")]
    pub plan: PathBuf,
    /// A TrueType font for the plots' text (default: DejaVu Sans from the usual system paths;
    /// without one no plots are drawn).
    #[arg(long)]
    pub font: Option<PathBuf>,
    /// Run nothing: draw the plots again from `<out>/report.json`.
    #[arg(long)]
    pub replot: bool,
}

/// How a control command reaches its supervisor.
#[derive(Args, Debug, Clone)]
pub(crate) struct Remote {
    /// The supervisor's control address, `HOST[:PORT]` (port 9632 by default).
    #[arg(
        short = 'r',
        long = "remote-sup",
        env = "HAB_REMOTE_SUP",
        default_value = "127.0.0.1:9632"
    )]
    pub remote_sup: String,
    /// Where the local supervisor keeps its state, for its `CTL_SECRET` when `HAB_CTL_SECRET`
    /// is not set.
    #[arg(long, default_value = "/", env = "FS_ROOT")]
    pub fs_root: PathBuf,
}

/// `warren svc …`
#[derive(Subcommand, Debug)]
pub(crate) enum SvcCommand {
    /// Load a plan (or installed package directory) into a running supervisor and start it; it
    /// is reloaded when the supervisor restarts.
    Load {
        /// The plan directory, as the supervisor's host sees it, or an installed package's
        /// identifier `ORIGIN/NAME[/VERSION[/RELEASE]]` (newest under its hab/pkgs; a path
        /// that exists as a directory is a directory).
        plan: PathBuf,
        /// Organization part of the service group.
        #[arg(long)]
        org: Option<String>,
        /// Unload the service first if it is already loaded.
        #[arg(short, long)]
        force: bool,
        /// Load flags.
        #[command(flatten)]
        load: LoadArgs,
        /// The supervisor.
        #[command(flatten)]
        remote: Remote,
    },
    /// Stop and unload a service.
    Unload {
        /// The service (package name).
        service: String,
        /// Seconds between the shutdown signal and SIGKILL.
        #[arg(long, value_name = "SECS")]
        shutdown_timeout: Option<u32>,
        /// The supervisor.
        #[command(flatten)]
        remote: Remote,
    },
    /// Start a loaded service that was stopped.
    Start {
        /// The service (package name).
        service: String,
        /// The supervisor.
        #[command(flatten)]
        remote: Remote,
    },
    /// Stop a service; it stays loaded.
    Stop {
        /// The service (package name).
        service: String,
        /// Seconds between the shutdown signal and SIGKILL.
        #[arg(long, value_name = "SECS")]
        shutdown_timeout: Option<u32>,
        /// The supervisor.
        #[command(flatten)]
        remote: Remote,
    },
    /// The loaded services: package, type, desired and actual state, elapsed, pid, group, health.
    Status {
        /// Only this service.
        service: Option<String>,
        /// The supervisor.
        #[command(flatten)]
        remote: Remote,
    },
}

/// `warren config …`
#[derive(Subcommand, Debug)]
pub(crate) enum ConfigCommand {
    /// Gossip a configuration to every member of a service group (the highest layer over
    /// default.toml, HAB_<PKG> and user.toml). The TOML is checked first; nothing is sent if it
    /// is invalid.
    Apply {
        /// `SERVICE.GROUP[@ORG]`.
        service_group: String,
        /// Version: must be higher than the group's current one.
        version: u64,
        /// The TOML file; `-` or nothing reads standard input.
        file: Option<PathBuf>,
        /// Encryption and organization.
        #[command(flatten)]
        seal: SealArgs,
        /// The supervisor.
        #[command(flatten)]
        remote: Remote,
    },
}

/// `warren file …`
#[derive(Subcommand, Debug)]
pub(crate) enum FileCommand {
    /// Gossip a file (at most 64 KiB) to every member of a service group, into
    /// `/hab/svc/<service>/files/`.
    Upload {
        /// `SERVICE.GROUP[@ORG]`.
        service_group: String,
        /// Version: must be higher than the file's current one.
        version: u64,
        /// The file; its name is the name members write it under.
        file: PathBuf,
        /// Encryption and organization.
        #[command(flatten)]
        seal: SealArgs,
        /// The supervisor.
        #[command(flatten)]
        remote: Remote,
    },
}

/// `--user`, `--org`, `--cache-key-path` of `warren config apply` and `warren file upload`.
#[derive(Args, Debug, Default)]
pub(crate) struct SealArgs {
    /// Encrypt it (BOX-1) from this user's newest secret box key to the service group's newest
    /// public key, `SERVICE.GROUP@ORG` (as `hab … --user`); only members holding the service's
    /// secret key can read it.
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Organization, when SERVICE.GROUP does not name one (`@ORG`).
    #[arg(long)]
    pub org: Option<String>,
    /// Key cache for --user (default: <fs-root>/hab/cache/keys).
    #[arg(long, value_name = "DIR")]
    pub cache_key_path: Option<PathBuf>,
}

/// `warren sup …`
#[derive(Subcommand, Debug)]
pub(crate) enum SupCommand {
    /// Depart a member from the ring for good (it is told to stop, and every member forgets it).
    Depart {
        /// The member id.
        member_id: String,
        /// The supervisor.
        #[command(flatten)]
        remote: Remote,
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
    /// (the only member, leader after a finished election) into DIR/config and DIR/hooks; or,
    /// given a template file, Habitat's `hab plan render TEMPLATE`: that one template with
    /// `cfg` from default.toml and user.toml, merged with the mock data, written to
    /// RENDER_DIR/<its file name>.
    Render(PlanRenderArgs),
}

/// `warren plan render` flags: Warren's form (a plan directory; `--out`, `--member-json`,
/// `--strict`) and Habitat's form (a template file; `-d`, `-m`, `-p`, `-r`, `-n`, `-q`), which
/// share `-u/--user-toml`.
#[derive(Args, Debug)]
pub(crate) struct PlanRenderArgs {
    /// A plan directory (holding plan.sh, default.toml, config/, hooks/), or a template file
    /// for Habitat's form.
    #[arg(value_name = "PLAN_DIR|TEMPLATE")]
    pub plan: PathBuf,
    /// Output directory (default: a new temporary directory, whose path is printed).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// A user.toml layered over default.toml (in Warren's form, also over the HAB_<PKG>
    /// environment variable).
    #[arg(short = 'u', long, value_name = "FILE")]
    pub user_toml: Option<PathBuf>,
    /// Habitat's form: default.toml, under `cfg`.
    #[arg(
        short = 'd',
        long,
        value_name = "FILE",
        default_value = "./default.toml"
    )]
    pub default_toml: PathBuf,
    /// Habitat's form: a JSON file merged over `{"cfg": ...}` (objects key by key; anything
    /// else replaces), e.g. with `sys`, `svc`, `pkg` or `bind` data.
    #[arg(short = 'm', long, value_name = "FILE")]
    pub mock_data: Option<PathBuf>,
    /// Habitat's form: print the rendered template on stdout.
    #[arg(short = 'p', long)]
    pub print: bool,
    /// Habitat's form: where the rendered file is written.
    #[arg(short = 'r', long, value_name = "DIR", default_value = "./results")]
    pub render_dir: PathBuf,
    /// Habitat's form: write nothing (ignores --render-dir).
    #[arg(short = 'n', long)]
    pub no_render: bool,
    /// Habitat's form: no helper messages (with --print, only the rendered text).
    #[arg(short = 'q', long, visible_alias = "no-verbose")]
    pub quiet: bool,
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

/// `warren key …`
#[derive(Subcommand, Debug)]
pub(crate) enum BoxKeyCommand {
    /// Write a new box key pair in Habitat's format (`<name>-<rev>.pub`, BOX-PUB-1, and
    /// `<name>-<rev>.box.key`, BOX-SEC-1) into the key cache; prints both paths.
    Generate {
        /// Whose key.
        #[command(subcommand)]
        kind: BoxKeyKind,
    },
}

/// `warren key generate user|service`.
#[derive(Subcommand, Debug)]
pub(crate) enum BoxKeyKind {
    /// A user key (`NAME`), used to send with `--user NAME`; its public half goes to every
    /// supervisor that should accept what the user sends.
    User {
        /// The user's name.
        name: String,
        /// Where.
        #[command(flatten)]
        cache: KeyCacheArgs,
    },
    /// A service key, named `SERVICE.GROUP@ORG`; its secret half goes to the supervisors
    /// running that service group, its public half to the users who send to it.
    Service {
        /// `SERVICE.GROUP`.
        service_group: String,
        /// The organization.
        org: String,
        /// Where.
        #[command(flatten)]
        cache: KeyCacheArgs,
    },
}

/// Where keys are written.
#[derive(Args, Debug)]
pub(crate) struct KeyCacheArgs {
    /// Prefix for every /hab path.
    #[arg(long, default_value = "/", env = "FS_ROOT")]
    pub fs_root: PathBuf,
    /// Key cache directory (default: <fs-root>/hab/cache/keys).
    #[arg(long)]
    pub cache_key_path: Option<PathBuf>,
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

/// What the control TLS flags mean without a value: Habitat's directory, below `--fs-root`.
pub(crate) const CTL_KEYS_DEFAULT: &str = "/hab/cache/keys/ctl";

/// `warren run` flags.
#[derive(Args, Debug)]
pub(crate) struct RunArgs {
    /// Plan directories (or installed Habitat package directories), or package identifiers
    /// `ORIGIN/NAME[/VERSION[/RELEASE]]` (the newest installed under <fs-root>/hab/pkgs; a path
    /// that exists as a directory is a directory), to load and run; none runs the supervisor
    /// empty (a management ring member).
    pub plans: Vec<PathBuf>,
    /// How the plans given are loaded.
    #[command(flatten)]
    pub load: LoadArgs,
    /// Organization part of service groups (`service.group@org`).
    #[arg(long)]
    pub org: Option<String>,
    /// HTTPS for the HTTP gateway: the private key (PKCS#8 PEM); needs `--certs`.
    #[arg(long, value_name = "PEM", requires = "certs")]
    pub key: Option<PathBuf>,
    /// HTTPS for the HTTP gateway: the certificate chain (PEM); needs `--key`.
    #[arg(long, value_name = "PEM", requires = "key")]
    pub certs: Option<PathBuf>,
    /// HTTPS for the HTTP gateway: only clients with a certificate issued by one of these
    /// authorities (PEM) are served; needs `--key` and `--certs`.
    #[arg(long, value_name = "PEM", requires = "key")]
    pub ca_certs: Option<PathBuf>,
    /// TLS for the control port (Habitat's flag): the server's certificate chain, a PEM file or
    /// a directory (its newest `*.crt.pem`); without a value `<fs-root>/hab/cache/keys/ctl`.
    /// With `--ctl-server-key` or alone (the key then from the same default directory).
    #[arg(long, value_name = "PATH", num_args = 0..=1, default_missing_value = CTL_KEYS_DEFAULT)]
    pub ctl_server_certificate: Option<PathBuf>,
    /// TLS for the control port: the server's private key, a PEM file or a directory (its
    /// newest `*.key.pem`); without a value `<fs-root>/hab/cache/keys/ctl`.
    #[arg(long, value_name = "PATH", num_args = 0..=1, default_missing_value = CTL_KEYS_DEFAULT)]
    pub ctl_server_key: Option<PathBuf>,
    /// TLS for the control port: only clients with a certificate issued by these authorities
    /// (a PEM file, or every `*.pem` of a directory) are served; without a value
    /// `<fs-root>/hab/cache/keys/ctl`. Needs the server's certificate or key.
    #[arg(long, value_name = "PATH", num_args = 0..=1, default_missing_value = CTL_KEYS_DEFAULT)]
    pub ctl_client_ca_certificate: Option<PathBuf>,
    /// Control API listen address (gRPC; `warren svc …`, `warren config apply`, …).
    #[arg(long, env = "HAB_LISTEN_CTL", default_value = "127.0.0.1:9632")]
    pub listen_ctl: SocketAddr,
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
    /// With peers given (`--peer`, `--peer-watch-file`): `/readyz` waits until one answers, or
    /// this many seconds after start, so that the first member of a fresh ring becomes ready.
    #[arg(long, value_name = "SECS", default_value_t = 15)]
    pub ready_grace: u64,
    /// Inside a Kubernetes pod: label the pod `KEY=leader` or `KEY=follower` after each election
    /// of the plan's group (leader topology), and remove the label first on a graceful stop.
    /// Needs `patch` on `pods` for the pod's service account.
    #[arg(long, value_name = "KEY")]
    pub kubernetes_role_label: Option<String>,
    /// Inside a Kubernetes pod: while this member leads its group, depart (as `warren sup
    /// depart` does) a member of the group that has not been Alive for SECS (default 30) and
    /// whose pod, named by its sys.hostname in this pod's namespace, has read 404 for as long.
    /// Publishes this pod's name as sys.hostname. Needs `get` on `pods`. Give it as
    /// `--kubernetes-depart-gone` or `--kubernetes-depart-gone=SECS`.
    #[arg(
        long,
        value_name = "SECS",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "30",
        value_parser = clap::value_parser!(u64).range(1..=86_400)
    )]
    pub kubernetes_depart_gone: Option<u64>,
    /// A file of peers, one HOST[:PORT] per line, re-read whenever it changes.
    #[arg(long)]
    pub peer_watch_file: Option<PathBuf>,
    /// Local rings only (set by `warren local up`; needs a loopback --listen-gossip): a file of
    /// `block=IP:PORT` / `drop=P` / `delay_ms=N` lines this member applies to its gossip traffic
    /// whenever the file changes (`warren local partition`, `heal`).
    #[arg(long, value_name = "FILE", hide = true)]
    pub local_cut_file: Option<PathBuf>,
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
