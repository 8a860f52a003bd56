//! `warren run`: the composition root. Resolves flags into each subsystem's config (state files,
//! ring key, gossip, HTTP), builds them, spawns them, and owns shutdown: SIGTERM or SIGINT makes
//! the gossip task leave the ring gracefully, then everything stops and the process exits 0.
//! A Departure rumor naming this member exits with Habitat's code 86. Start-up errors (port in
//! use, bad key file, unreadable state) print one line and exit 1.
//!
//! Threads: the gossip task runs on its own thread and runtime ([`GossipThread`]), so that the
//! services' file I/O and hooks, the HTTP gateway and the control API (all on this
//! current-thread runtime) can never make the ring's timers late; the two sides talk only
//! through channels (`RingCommand`s in; census, snapshots and state writes out).

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};
use warren_gateway::butterfly::UpdateCounters;
use warren_gateway::server::Snapshot;
use warren_net::{Counters, GossipConfig, GossipThread, Hooks};
use warren_persist::{Incarnation, MemberIdFile};
use warren_ring::{CensusRing, Config, Event, Health, Membership, Profile, Ring, RumorKey, Time};
use warren_wire::RingKey;

use crate::cli::{ProfileArg, RunArgs};
use crate::keys;

/// Exit code Habitat uses when the ring departed this member.
const EXIT_DEPARTED: u8 = 86;

/// Runs `warren run`; returns the process exit code.
pub(crate) fn main(args: RunArgs) -> ExitCode {
    init_logging(&args);
    crate::block_on(run(args))
}

fn init_logging(args: &RunArgs) {
    use tracing_subscriber::EnvFilter;
    let default = match args.verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if args.json_logging {
        builder.json().init();
    } else {
        builder.with_ansi(!args.no_color).init();
    }
}

/// Paths under `--fs-root`.
struct Layout {
    sup_root: PathBuf,
    key_cache: PathBuf,
}

impl Layout {
    fn new(fs_root: &Path) -> Self {
        Layout {
            sup_root: fs_root.join("hab/sup/default"),
            key_cache: fs_root.join("hab/cache/keys"),
        }
    }
}

fn ring_key(args: &RunArgs, layout: &Layout) -> Result<Option<RingKey>> {
    if let Some(path) = &args.ring_key_file {
        return keys::load_file(path).map(Some);
    }
    if let Some(text) = &args.ring_key {
        let key = RingKey::parse(text).map_err(|e| anyhow!("HAB_RING_KEY: {e}"))?;
        if let Err(e) = keys::write(&layout.key_cache, &key) {
            warn!(error = %e, "could not store HAB_RING_KEY in the key cache");
        }
        return Ok(Some(key));
    }
    if let Some(name) = &args.ring {
        return keys::load_newest(&layout.key_cache, name).map(Some);
    }
    Ok(None)
}

/// `--key` and `--certs` (both or neither): HTTPS for the gateway; with `--ca-certs`, client
/// certificates are required.
fn tls_config(args: &RunArgs) -> Result<Option<warren_gateway::TlsConfig>> {
    use warren_gateway::TlsConfig;
    match (&args.key, &args.certs) {
        (Some(key), Some(certs)) => match &args.ca_certs {
            Some(ca) => TlsConfig::from_pem_files_verifying_clients(key, certs, ca),
            None => TlsConfig::from_pem_files(key, certs),
        }
        .map(Some)
        .map_err(|e| anyhow!("HTTP gateway TLS: {e}")),
        (None, None) => Ok(None),
        _ => bail!("--key and --certs go together (the private key and its certificate chain)"),
    }
}

/// The control port's TLS (`--ctl-server-certificate`, `--ctl-server-key`,
/// `--ctl-client-ca-certificate`): on when the certificate or the key is given; a flag given
/// without a value, or left out beside the other, means Habitat's directory under `--fs-root`.
fn ctl_tls_config(args: &RunArgs) -> Result<Option<warren_ctl::CtlTls>> {
    let default = args.fs_root.join(warren_ctl::DEFAULT_CTL_KEYS_DIR);
    let resolve = |p: &Option<std::path::PathBuf>| {
        p.as_ref().map(|p| {
            if p.as_os_str() == crate::cli::CTL_KEYS_DEFAULT {
                default.clone()
            } else {
                p.clone()
            }
        })
    };
    let (cert, key, ca) = (
        resolve(&args.ctl_server_certificate),
        resolve(&args.ctl_server_key),
        resolve(&args.ctl_client_ca_certificate),
    );
    if cert.is_none() && key.is_none() {
        if ca.is_some() {
            bail!(
                "--ctl-client-ca-certificate needs TLS on the control port: give --ctl-server-key \
                 and --ctl-server-certificate too"
            );
        }
        return Ok(None);
    }
    let cert = cert.unwrap_or_else(|| default.clone());
    let key = key.unwrap_or_else(|| default.clone());
    warren_ctl::CtlTls::load(&cert, &key, ca.as_deref())
        .map(Some)
        .map_err(|e| anyhow!("control port TLS: {e}"))
}

/// Habitat's feature flag `HAB_FEAT_REDACT_HTTP` (set, whatever its value): the HTTP gateway
/// closes `/butterfly`, `/census` and `…/config`, and leaves `cfg` out of service objects.
fn redact_http() -> bool {
    std::env::var_os("HAB_FEAT_REDACT_HTTP").is_some()
}

/// The restart backoff of the load flags (also used for services loaded from spec files).
fn backoff_config(load: &crate::cli::LoadArgs) -> warren_service::backoff::BackoffConfig {
    crate::services::backoff(load)
}

/// This host's name (for `sys.hostname`).
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// The address other members should use: `--sys-ip-address`, else the listen IP if specific,
/// else the first non-loopback address the host name resolves to, else 127.0.0.1.
async fn advertise_ip(args: &RunArgs) -> IpAddr {
    if let Some(ip) = args.sys_ip_address {
        return ip;
    }
    let listen = args.listen_gossip.ip();
    if !listen.is_unspecified() {
        return listen;
    }
    if let Ok(host) = std::fs::read_to_string("/etc/hostname")
        && let Ok(addrs) = tokio::net::lookup_host((host.trim(), 0)).await
        && let Some(a) = addrs
            .map(|a| a.ip())
            .find(|ip| !ip.is_loopback() && ip.is_ipv4())
    {
        return a;
    }
    IpAddr::V4(Ipv4Addr::LOCALHOST)
}

async fn run(args: RunArgs) -> Result<ExitCode> {
    let specs = crate::services::specs(&args)?;
    let role_label_groups: Vec<String> = specs.iter().map(|(s, _)| s.service_group()).collect();
    if args.kubernetes_role_label.is_some() && role_label_groups.len() != 1 {
        return Err(anyhow!(
            "--kubernetes-role-label labels the pod with the role of one service: give exactly \
             one plan (got {})",
            role_label_groups.len()
        ));
    }
    // Every child of this process is spawned and reaped through the reaper; as PID 1 (or a
    // child subreaper) it also reaps orphans.
    let reaper =
        warren_process::Reaper::install().map_err(|e| anyhow!("cannot reap children: {e}"))?;
    if warren_process::is_pid1() {
        info!(
            "running as PID 1: reaping orphans, forwarding SIGHUP to services, SIGTERM/SIGINT stop everything"
        );
    }
    let layout = Layout::new(&args.fs_root);
    let key = ring_key(&args, &layout)?;
    let data = warren_persist::data_dir(&layout.sup_root);
    std::fs::create_dir_all(&data).with_context(|| format!("creating {}", data.display()))?;
    // One supervisor per state directory: the lock lives as long as the process.
    let _lock = lock(&layout.sup_root)?;
    if let Err(e) = warren_persist::clean_temp_files(&data) {
        warn!(error = %e, "could not clean temporary files");
    }
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed).map_err(|e| anyhow!("no OS randomness: {e}"))?;
    let mut rng = <rand_xoshiro::Xoshiro256PlusPlus as rand::SeedableRng>::from_seed(seed);
    let restart = MemberIdFile::load(&layout.sup_root)?.is_some();
    let member_id = MemberIdFile::load_or_create(&layout.sup_root, &mut rng)?;
    let stored_inc = Incarnation::load(&data)?;
    let rst = warren_persist::rumor_file_path(&data, &member_id);
    let (loaded, set_aside) = warren_persist::load_rumors_or_set_aside(&rst);
    let agreed = match warren_persist::elections::load(&data) {
        Ok((agreed, 0)) => agreed,
        Ok((agreed, skipped)) => {
            warn!(
                skipped,
                "some lines of the election results file were unreadable"
            );
            agreed
        }
        Err(e) => {
            warn!(error = %e, "the election results file is unreadable; peers will tell us again");
            Vec::new()
        }
    };
    if let Some(s) = set_aside {
        warn!(file = %rst.display(), reason = %s.reason, moved_to = ?s.moved_to, "rumor file was unreadable and was set aside");
    }
    // A restart announces itself with a higher incarnation (Habitat keeps it; only the owner
    // raises it, so peers accept either).
    let incarnation = if restart { stored_inc + 1 } else { stored_inc };
    Incarnation::store(&data, incarnation)?;

    let profile = match args.gossip_profile {
        ProfileArg::Default => Profile::Default,
        ProfileArg::Habitat => Profile::Habitat,
    };
    let advertise = advertise_ip(&args).await;
    let cut_file = local_cut_file(&args)?;
    let cfg = GossipConfig {
        listen: args.listen_gossip,
        advertise_ip: advertise,
        services: Vec::new(),
        peers: args.peers.clone(),
        peer_watch_file: args.peer_watch_file.clone(),
        cut_file,
        saved_peers: restart
            && (loaded.members.iter().any(|m| m.member.id != member_id)
                || agreed
                    .iter()
                    .any(|a| a.voters.iter().any(|v| *v != member_id))),
        persistent: args.permanent_peer,
        ring_key: key,
        ring: Config::profile(profile),
        member_id: member_id.clone(),
        incarnation,
        initial_members: loaded
            .members
            .into_iter()
            .filter(|m| m.member.id != member_id)
            .collect(),
        initial_rumors: loaded.rumors,
        initial_agreed: agreed,
        snapshot_interval: Duration::from_millis(500),
        persist_interval: Duration::from_secs(30),
        leave_linger: Duration::from_millis(800),
    };
    // Bound on its own thread; the ring starts at `gossip.run`, after the services loaded.
    let gossip = GossipThread::bind(cfg).await?;
    info!(member_id = %member_id, incarnation, gossip = %gossip.local_addr(), "warren started");
    crate::faults::stall_this_runtime();

    let shutdown = CancellationToken::new();
    let services_stop = CancellationToken::new();
    let (census_tx, census_rx) = watch::channel(None);
    let census_watch = census_rx.clone();
    let metrics = warren_metrics::Metrics::new();
    let status_changed = Arc::new(tokio::sync::Notify::new());
    let shared = crate::services::shared(crate::services::SupervisorInfo {
        args: &args,
        member_id: &member_id,
        advertise,
        hostname: args
            .kubernetes_depart_gone
            .and_then(|_| crate::k8s_departs::sys_hostname())
            .unwrap_or_else(hostname),
        reaper,
        commands: gossip.commands(),
        census: census_rx,
        observer: Arc::new(crate::feed::Observer {
            metrics: metrics.clone(),
            status_changed: Arc::clone(&status_changed),
        }),
    });
    let mut sup_view = crate::feed::supervisor_view(&shared.sys, &layout.sup_root);
    sup_view.redact = redact_http();
    let mut services = crate::services::Services::new(
        shared,
        services_stop.clone(),
        warren_service::spec_file::specs_dir(&layout.sup_root),
    );
    for (spec, dir) in specs {
        // Plans given on the command line are given again at the next start: no spec file.
        services.load(
            spec,
            &dir,
            false,
            warren_service::supervisor::DesiredState::Up,
        )?;
    }
    services.load_spec_files(
        args.org.as_deref(),
        backoff_config(&args.load),
        &args.fs_root.join("hab/pkgs"),
    );
    let services_registry = services.registry();
    let services = Arc::new(tokio::sync::Mutex::new(services));

    // Habitat's `SupRestart` sets it; the stop that follows ends in a re-exec.
    let restart_requested = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // The control API: authenticated with CTL_SECRET (created on first run).
    let secret = warren_ctl::CtlSecret::load_or_create(&layout.sup_root)
        .map_err(|e| anyhow!("control secret: {e}"))?;
    let ctl_tls = ctl_tls_config(&args)?;
    let ctl_listener = tokio::net::TcpListener::bind(args.listen_ctl)
        .await
        .map_err(|e| anyhow!("cannot bind the control API {}: {e}", args.listen_ctl))?;
    info!(ctl = %args.listen_ctl, "control API listening");
    let ctl = crate::ctl::Ctl {
        services: Arc::clone(&services),
        commands: gossip.commands(),
        census: census_watch.clone(),
        org: args.org.clone(),
        backoff: backoff_config(&args.load),
        hook_timeout: Duration::from_secs(args.load.hook_timeout.max(1)),
        member_id: member_id.clone(),
        pkgs_root: args.fs_root.join("hab/pkgs"),
        restart: Arc::clone(&restart_requested),
        stop: services_stop.clone(),
    };
    let ctl_task = tokio::spawn(warren_ctl::serve_with(
        ctl_listener,
        Arc::new(ctl),
        secret,
        shutdown.child_token(),
        ctl_tls,
    ));
    let (snap_tx, snap_rx) = watch::channel(Arc::new(Snapshot::default()));
    let http = if args.http_disable {
        None
    } else {
        let listener = tokio::net::TcpListener::bind(args.listen_http)
            .await
            .map_err(|e| anyhow!("cannot bind the HTTP gateway {}: {e}", args.listen_http))?;
        info!(http = %args.listen_http, "HTTP gateway listening");
        let token = shutdown.child_token();
        let cfg = warren_gateway::ServerConfig {
            auth_token: std::env::var(warren_gateway::auth::AUTH_TOKEN_ENV)
                .ok()
                .and_then(|t| warren_gateway::AuthToken::new(&t)),
            tls: tls_config(&args)?,
            redact: redact_http(),
            metrics: metrics.clone(),
            ..warren_gateway::ServerConfig::default()
        };
        Some(tokio::spawn(warren_gateway::serve_with(
            listener, snap_rx, token, cfg,
        )))
    };
    tokio::spawn(crate::feed::feed_services(
        services_registry,
        sup_view,
        args.fs_root.clone(),
        snap_tx.clone(),
        status_changed,
        shutdown.child_token(),
    ));

    // Services stop first (within their shutdown budgets) while the ring still runs; then the
    // ring is left gracefully.
    let stopping = services_stop.clone();
    let hup_services = Arc::clone(&services);
    tokio::spawn(async move {
        wait_for_stop_signal(&hup_services).await;
        info!("stopping");
        stopping.cancel();
        // A second signal while stopping means: stop now.
        wait_for_stop_signal(&hup_services).await;
        eprintln!("warren: second signal, exiting at once");
        std::process::exit(1);
    });
    // The pod role label goes first on a graceful stop: a stopping leader stops getting traffic
    // before its service stops.
    let labels: Vec<tokio::task::JoinHandle<()>> = match &args.kubernetes_role_label {
        Some(key) => role_label_groups
            .iter()
            .filter_map(|sg| {
                crate::k8s_role::spawn(
                    key.clone(),
                    sg.clone(),
                    census_watch.clone(),
                    services_stop.clone(),
                    metrics.clone(),
                )
            })
            .collect(),
        None => Vec::new(),
    };
    if let Some(secs) = args.kubernetes_depart_gone {
        // Ends by itself on a stop; nothing to wait for (a departure is one message).
        let _ = crate::k8s_departs::spawn(
            crate::k8s_departs::Timing::from_secs(secs),
            census_watch.clone(),
            gossip.commands(),
            services_stop.clone(),
        );
    }
    let ring_stop = shutdown.clone();
    let services_stopped = services_stop.clone();
    let all = Arc::clone(&services);
    let services_done = tokio::spawn(async move {
        services_stopped.cancelled().await;
        for l in labels {
            let _ = l.await;
        }
        all.lock().await.stop_all().await;
        ring_stop.cancel();
    });

    let (writer, jobs) = tokio::sync::mpsc::unbounded_channel();
    let writer_task = tokio::spawn(write_state(data.clone(), rst, jobs));
    let hooks = StateHooks {
        writer,
        metrics,
        snapshots: snap_tx,
        counters: UpdateCounters::default(),
        census: None,
        census_tx,
        readiness: Readiness {
            peers_given: !args.peers.is_empty() || args.peer_watch_file.is_some(),
            met: false,
            ready_from: Some(std::time::Instant::now() + Duration::from_secs(args.ready_grace)),
        },
    };
    let exit = gossip.run(hooks, shutdown.clone()).await?;
    // Departed by the ring: the services stop too, before the process exits.
    services_stop.cancel();
    let _ = services_done.await;
    shutdown.cancel();
    if let Ok(Ok(Err(e))) = tokio::time::timeout(Duration::from_secs(6), ctl_task).await {
        error!(error = %e, "control API failed");
    }
    // The hooks are gone with the gossip task: the writer finishes what is queued, then ends.
    let _ = writer_task.await;
    shutdown.cancel();
    if let Some(h) = http
        && let Ok(Ok(Err(e))) = tokio::time::timeout(Duration::from_secs(2), h).await
    {
        error!(error = %e, "HTTP gateway failed");
    }
    match exit {
        warren_net::Exit::Shutdown
            if restart_requested.load(std::sync::atomic::Ordering::SeqCst) =>
        {
            Err(reexec())
        }
        warren_net::Exit::Shutdown => {
            info!("stopped");
            Ok(ExitCode::SUCCESS)
        }
        warren_net::Exit::DepartedByRing => Ok(ExitCode::from(EXIT_DEPARTED)),
    }
}

/// Waits for SIGTERM or SIGINT; SIGHUPs meanwhile are forwarded to every service's process
/// group (as Habitat's launcher passes signals on to services).
async fn wait_for_stop_signal(services: &tokio::sync::Mutex<crate::services::Services>) {
    use tokio::signal::unix::{SignalKind, signal};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    let hup = signal(SignalKind::hangup());
    match (term, int, hup) {
        (Ok(mut term), Ok(mut int), Ok(mut hup)) => loop {
            tokio::select! {
                _ = term.recv() => return,
                _ = int.recv() => return,
                _ = hup.recv() => {
                    // Never wait on the lock: a control request may hold it while a service
                    // stops; the signal is then not forwarded, and that is logged.
                    match services.try_lock() {
                        Ok(s) => {
                            let forwarders = s.forwarders();
                            info!(services = forwarders.len(), "SIGHUP: forwarding to services");
                            for f in forwarders {
                                f.forward(nix::sys::signal::Signal::SIGHUP);
                            }
                        }
                        Err(_) => warn!("SIGHUP: services are busy (a load or unload is running); not forwarded"),
                    }
                }
            }
        },
        _ => {
            // Start-up invariant: signal handlers install on Unix; fall back to Ctrl-C only.
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Takes `<sup_root>/LOCK` for the life of the process, or says who holds it.
fn lock(sup_root: &Path) -> Result<std::fs::File> {
    let path = sup_root.join("LOCK");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    if file.try_lock().is_err() {
        bail!(
            "another supervisor is running with this state directory ({} is locked)",
            path.display()
        );
    }
    Ok(file)
}

/// A state write for the writer task.
enum StateJob {
    Incarnation(u64),
    Rumors(
        Vec<Membership>,
        Vec<warren_ring::Rumor>,
        Vec<warren_ring::AgreedResult>,
    ),
}

/// Writes state files off the gossip task (each write fsyncs), newest job of a kind first.
async fn write_state(
    data: PathBuf,
    rst: PathBuf,
    mut jobs: tokio::sync::mpsc::UnboundedReceiver<StateJob>,
) {
    while let Some(first) = jobs.recv().await {
        let (mut inc, mut rumors) = (None, None);
        let mut take = |job| match job {
            StateJob::Incarnation(i) => inc = Some(i),
            StateJob::Rumors(m, r, a) => rumors = Some((m, r, a)),
        };
        take(first);
        while let Ok(job) = jobs.try_recv() {
            take(job);
        }
        let (data, rst) = (data.clone(), rst.clone());
        let done = tokio::task::spawn_blocking(move || {
            if let Some(i) = inc
                && let Err(e) = Incarnation::store(&data, i)
            {
                error!(error = %e, "cannot persist the incarnation");
            }
            if let Some((members, rumors, agreed)) = rumors {
                if let Err(e) = warren_persist::write_rumors(&rst, &members, &rumors) {
                    error!(file = %rst.display(), error = %e, "cannot write the rumor file");
                }
                if let Err(e) = warren_persist::elections::store(&data, &agreed) {
                    error!(error = %e, "cannot write the election results");
                }
            }
        })
        .await;
        if let Err(e) = done {
            error!(error = %e, "state writer failed");
        }
    }
}

/// What the gossip task asks of the rest: state files (through the writer task) and HTTP
/// snapshots. Every call returns at once.
struct StateHooks {
    writer: tokio::sync::mpsc::UnboundedSender<StateJob>,
    metrics: warren_metrics::Metrics,
    snapshots: watch::Sender<Arc<Snapshot>>,
    counters: UpdateCounters,
    census: Option<CensusRing>,
    /// The census for the service supervisors, sent when it changed.
    census_tx: watch::Sender<Option<Arc<CensusRing>>>,
    /// Readiness (`/readyz`): with peers given, gossip is ready once one of them answered (a
    /// member other than this one is Alive), or from `ready_from` (`--ready-grace` after start).
    readiness: Readiness,
}

/// What `/readyz` needs from the ring.
struct Readiness {
    /// Peers were given: wait for one to answer.
    peers_given: bool,
    /// A peer answered (for good).
    met: bool,
    /// The start-up grace's end.
    ready_from: Option<std::time::Instant>,
}

impl Readiness {
    fn gossip_ready(&mut self, ring: &Ring) -> bool {
        self.met |= ring.heard_from_a_peer();
        !self.peers_given || self.met
    }
}

impl StateHooks {
    /// Renders the ring's documents around `census` (built from `ring` just now) and publishes
    /// them, with the census, the metrics and `ready` (gossip readiness, just computed).
    fn publish(&mut self, ring: &Ring, counters: &Counters, census: CensusRing, ready: bool) {
        let snap = Snapshot::from_census(ring, &self.counters, ready, &census)
            .with_ready_from(self.readiness.ready_from);
        if census.changed || self.census_tx.borrow().is_none() {
            self.census_tx.send_replace(Some(Arc::new(census.clone())));
        }
        self.census = Some(census);
        crate::feed::record_ring(&self.metrics, ring, counters);
        // The ring's documents are new; the services' are the feed task's.
        self.snapshots
            .send_modify(|s| *s = Arc::new(snap.with_services(Arc::clone(&s.services))));
    }
}

impl Hooks for StateHooks {
    fn incarnation_changed(&mut self, incarnation: u64) {
        let _ = self.writer.send(StateJob::Incarnation(incarnation));
    }

    fn event(&mut self, event: &Event) {
        self.counters.observe(event);
    }

    fn snapshot(&mut self, ring: &Ring, counters: &Counters, now: Time) {
        let census = CensusRing::build(ring, now, self.census.as_ref());
        let ready = self.readiness.gossip_ready(ring);
        self.publish(ring, counters, census, ready);
    }

    /// A quiet ring: the metrics take the counters; the documents are rebuilt only when the
    /// census moved with time (a lease ran out) or readiness came, since rendering `/butterfly`
    /// and `/census` every second was most of an idle member's CPU.
    fn refresh(&mut self, ring: &Ring, counters: &Counters, now: Time) {
        let was_ready = self.snapshots.borrow().gossip_ready;
        let census = CensusRing::build(ring, now, self.census.as_ref());
        let ready = self.readiness.gossip_ready(ring);
        if census.changed || ready != was_ready {
            self.publish(ring, counters, census, ready);
            return;
        }
        crate::feed::record_ring(&self.metrics, ring, counters);
    }

    fn persist(&mut self, ring: &Ring) {
        let mut members: Vec<Membership> = ring
            .members()
            .iter()
            .map(|r| Membership {
                member: r.member.clone(),
                health: r.health,
            })
            .collect();
        let me = ring.myself().clone();
        let health = if me.departed {
            Health::Departed
        } else {
            Health::Alive
        };
        members.push(Membership { member: me, health });
        let rumors: Vec<_> = ring
            .rumors()
            .iter()
            .filter(|(k, _)| !matches!(k, RumorKey::Member(_)))
            .map(|(_, e)| e.rumor.clone())
            .collect();
        let _ = self
            .writer
            .send(StateJob::Rumors(members, rumors, ring.agreed_results()));
    }
}

/// `--local-cut-file`, which only `warren local` passes: partitions and loss on a local ring.
/// Refused unless the member gossips on a loopback address, so a production member cannot be
/// told to drop its peers' traffic.
fn local_cut_file(args: &RunArgs) -> Result<Option<PathBuf>> {
    match &args.local_cut_file {
        Some(path) if !args.listen_gossip.ip().is_loopback() => Err(anyhow!(
            "--local-cut-file {} is for local rings (`warren local`) only; --listen-gossip {} \
             is not a loopback address",
            path.display(),
            args.listen_gossip
        )),
        other => Ok(other.clone()),
    }
}

/// Habitat's `SupRestart`: everything has stopped (services, ring left, state written); the
/// same binary is executed again with the same arguments, in this process (the PID stays, so
/// as PID 1 the container lives on). Returns only if the exec failed.
fn reexec() -> anyhow::Error {
    use std::os::unix::process::CommandExt;
    info!("stopped; restarting");
    let mut args = std::env::args_os();
    let argv0 = args.next().unwrap_or_else(|| "warren".into());
    let err = std::process::Command::new("/proc/self/exe")
        .arg0(argv0)
        .args(args)
        .exec();
    anyhow!("restart: cannot execute the supervisor again: {err}")
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;
    use crate::cli::{Cli, Command};

    fn run_args(args: &[&str]) -> RunArgs {
        let argv = ["warren", "run"].iter().chain(args).copied();
        match Cli::try_parse_from(argv).unwrap().command {
            Command::Run(a) => *a,
            _ => panic!("not a run command"),
        }
    }

    #[test]
    fn the_local_cut_file_is_refused_off_loopback() {
        let off = run_args(&[
            "--local-cut-file",
            "/x/cuts",
            "--listen-gossip",
            "0.0.0.0:9638",
        ]);
        assert!(local_cut_file(&off).is_err());
        let on = run_args(&[
            "--local-cut-file",
            "/x/cuts",
            "--listen-gossip",
            "127.0.0.1:9638",
        ]);
        assert_eq!(local_cut_file(&on).unwrap(), Some(PathBuf::from("/x/cuts")));
        assert_eq!(local_cut_file(&run_args(&[])).unwrap(), None);
    }
}
