//! `warren-metrics`: the Prometheus metric families of a Warren supervisor, and their text
//! exposition for `GET /metrics`.
//!
//! [`Metrics`] is a handle: the composition root creates one with [`Metrics::new`] and gives a
//! clone to every subsystem (the gossip shell, the service supervisors, the HTTP gateway). Each
//! records through its own group of methods ([`Metrics::ring`], [`Metrics::gossip`],
//! [`Metrics::elections`], [`Metrics::services`], [`Metrics::hooks`], [`Metrics::http`],
//! [`Metrics::k8s`]);
//! [`Metrics::encode`] renders everything as Prometheus text format 0.0.4 (Habitat's, and what
//! a scraper gets unless it asks otherwise), [`Metrics::encode_openmetrics`] as OpenMetrics for
//! a scraper whose `Accept` header prefers it ([`wants_openmetrics`]). Recording is a few
//! atomic operations (a short lock for histograms and for a label set seen for the first time),
//! so it is safe on hot paths and from any thread; nothing here blocks on I/O.
//!
//! What it does **not** do: decide *when* to record (the callers do), serve HTTP (the gateway
//! does), or know Warren's other crates: label values are this crate's own small enums or
//! strings the caller passes, so every crate can depend on it without new edges in the graph.
//!
//! # Metric families
//!
//! Counters are exposed with the `_total` suffix; every name is prefixed `warren_`.
//!
//! | family | type | labels | recorded by |
//! |---|---|---|---|
//! | `warren_ring_members` | gauge | `health` (`alive`, `suspect`, `confirmed`, `departed`) | [`RingMetrics::members_set`] |
//! | `warren_ring_local_health` | gauge | | [`RingMetrics::local_health_set`] |
//! | `warren_ring_probes_total` | counter | | [`RingMetrics::record`] |
//! | `warren_ring_ping_reqs_total` | counter | | [`RingMetrics::record`] |
//! | `warren_ring_suspicions_raised_total` | counter | | [`RingMetrics::record`] |
//! | `warren_ring_refutations_total` | counter | | [`RingMetrics::record`] |
//! | `warren_gossip_rumors_sent_total` | counter | `kind` ([`RumorKind`]) | [`GossipMetrics::rumor_sent`] |
//! | `warren_gossip_rumors_received_total` | counter | `kind` | [`GossipMetrics::rumor_received`] |
//! | `warren_gossip_sent_bytes_total` | counter | | [`GossipMetrics::bytes_sent`], [`GossipMetrics::record`] |
//! | `warren_gossip_sent_datagrams_total` | counter | | [`GossipMetrics::record`] |
//! | `warren_gossip_received_bytes_total` | counter | | [`GossipMetrics::bytes_received`], [`GossipMetrics::record`] |
//! | `warren_gossip_dropped_total` | counter | `what` (`datagram`, `rumor`), `reason` | [`GossipMetrics::dropped`], [`GossipMetrics::record`] |
//! | `warren_elections` | gauge (1 for the current status, 0 for the others) | `service_group`, `kind` (`leader`, `update`), `status` (`running`, `no_quorum`, `finished`) | [`ElectionMetrics::set`] |
//! | `warren_election_restarts_total` | counter | | [`ElectionMetrics::restarted`], [`ElectionMetrics::record_restarts`] |
//! | `warren_service_restarts_total` | counter | `service_group` | [`ServiceMetrics::restarted`] |
//! | `warren_hook_runs_total` | counter | `service_group`, `hook`, `outcome` ([`HookOutcome`]) | [`HookMetrics::observe`] |
//! | `warren_hook_duration_seconds` | histogram | `hook` | [`HookMetrics::observe`] |
//! | `warren_http_requests_total` | counter | `route` (the route pattern), `status` | [`HttpMetrics::observe`] |
//! | `warren_http_request_duration_seconds` | histogram | `route` | [`HttpMetrics::observe`] |
//! | `warren_k8s_label_patches_total` | counter | `service_group`, `outcome` ([`LabelPatchOutcome`]: `ok`, `retried`, `forbidden`, `not_found`, `failed`) | [`K8sMetrics::record_label_patches`] |
//!
//! `warren_k8s_label_patches_total` has samples only while a pod role labeler runs
//! (`warren run --kubernetes-role-label`): all five outcomes of its service group appear at 0
//! when it starts; without a labeler the family has no samples, so a supervisor outside
//! Kubernetes exports no Kubernetes series.
//!
//! Label values are bounded by construction: enums, route patterns, hook names, reasons that
//! are `&'static str` in the caller's code, and the service groups of this ring.
//!
//! # Two ways to feed a counter
//!
//! Event-style methods (`rumor_sent`, `restarted`, …) add one. Totals-style methods
//! (`RingMetrics::record`, `GossipMetrics::record`, `ElectionMetrics::record_restarts`) copy a
//! cumulative count kept elsewhere (the ring's `Stats`, the shell's `Counters`) and never move a
//! counter backwards. Feed each counter one way only.

#![forbid(unsafe_code)]

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// The content type of [`Metrics::encode`]'s output (Prometheus text format 0.0.4).
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The content type of [`Metrics::encode_openmetrics`]'s output (OpenMetrics 1.0.0).
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Whether a scraper's `Accept` header prefers OpenMetrics (`application/openmetrics-text`)
/// to the Prometheus text format: OpenMetrics is listed with a quality above 0 and at least
/// that of `text/plain` (and of `*/*` when `text/plain` is not named). Prometheus itself sends
/// `application/openmetrics-text;version=1.0.0,…,text/plain;version=0.0.4;q=0.5,*/*;q=0.1`.
/// No header, or one that does not name OpenMetrics, keeps the Prometheus text format.
pub fn wants_openmetrics(accept: &str) -> bool {
    let mut open: Option<f32> = None;
    let mut plain: Option<f32> = None;
    let mut any: Option<f32> = None;
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|v| v.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        let slot = match media.as_str() {
            "application/openmetrics-text" => &mut open,
            "text/plain" => &mut plain,
            "*/*" | "text/*" => &mut any,
            _ => continue,
        };
        *slot = Some(slot.map_or(q, |old| old.max(q)));
    }
    match open {
        Some(q) if q > 0.0 => q >= plain.or(any).unwrap_or(0.0),
        _ => false,
    }
}

/// Every metric family of one supervisor. Cheap to clone: clones share the same series.
#[derive(Clone)]
pub struct Metrics {
    /// Membership and failure detection.
    pub ring: RingMetrics,
    /// Rumor traffic, bytes and drops.
    pub gossip: GossipMetrics,
    /// Elections and their restarts.
    pub elections: ElectionMetrics,
    /// Service restarts.
    pub services: ServiceMetrics,
    /// Hook runs and their durations.
    pub hooks: HookMetrics,
    /// HTTP gateway requests.
    pub http: HttpMetrics,
    /// Kubernetes API calls (the pod role label).
    pub k8s: K8sMetrics,
    registry: Arc<Registry>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// A fresh set of families, every counter at zero and every gauge absent until set.
    pub fn new() -> Self {
        let mut r = Registry::default();

        let ring = RingMetrics {
            members: Family::default(),
            local_health: Gauge::default(),
            probes: Counter::default(),
            ping_reqs: Counter::default(),
            suspicions: Counter::default(),
            refutations: Counter::default(),
        };
        r.register(
            "warren_ring_members",
            "Members of the ring by health, this member included",
            ring.members.clone(),
        );
        r.register(
            "warren_ring_local_health",
            "Lifeguard local health multiplier of this member (0 = healthy; raised by timers it \
             handled late and by suspicions of it it had to refute, it stretches probe timeouts)",
            ring.local_health.clone(),
        );
        r.register(
            "warren_ring_probes",
            "Probes (Pings) this member started",
            ring.probes.clone(),
        );
        r.register(
            "warren_ring_ping_reqs",
            "Probes that needed indirect PingReqs through helpers",
            ring.ping_reqs.clone(),
        );
        r.register(
            "warren_ring_suspicions_raised",
            "Members this member marked Suspect on its own evidence",
            ring.suspicions.clone(),
        );
        r.register(
            "warren_ring_refutations",
            "Suspicions about this member that it refuted",
            ring.refutations.clone(),
        );

        let gossip = GossipMetrics {
            rumors_sent: Family::default(),
            rumors_received: Family::default(),
            bytes_sent: Counter::default(),
            datagrams_sent: Counter::default(),
            bytes_received: Counter::default(),
            dropped: Family::default(),
        };
        r.register(
            "warren_gossip_rumors_sent",
            "Rumors queued for sending, by kind",
            gossip.rumors_sent.clone(),
        );
        r.register(
            "warren_gossip_rumors_received",
            "Rumors received, by kind",
            gossip.rumors_received.clone(),
        );
        r.register(
            "warren_gossip_sent_bytes",
            "SWIM bytes sent in UDP datagrams (rumor pushes over TCP are counted in warren_gossip_rumors_sent_total, not here)",
            gossip.bytes_sent.clone(),
        );
        r.register(
            "warren_gossip_sent_datagrams",
            "SWIM datagrams sent (UDP)",
            gossip.datagrams_sent.clone(),
        );
        r.register(
            "warren_gossip_received_bytes",
            "SWIM bytes received in UDP datagrams (rumors over TCP are counted in warren_gossip_rumors_received_total, not here)",
            gossip.bytes_received.clone(),
        );
        r.register(
            "warren_gossip_dropped",
            "Datagrams and rumors dropped, by reason",
            gossip.dropped.clone(),
        );

        let elections = ElectionMetrics {
            state: Family::default(),
            restarts: Counter::default(),
        };
        r.register(
            "warren_elections",
            "Election status per service group: 1 for the current status, 0 for the others",
            elections.state.clone(),
        );
        r.register(
            "warren_election_restarts",
            "Elections this member restarted (leader gone, candidate gone, quorum lost)",
            elections.restarts.clone(),
        );

        let services = ServiceMetrics {
            restarts: Family::default(),
        };
        r.register(
            "warren_service_restarts",
            "Restarts of a service's process after it failed, by service group",
            services.restarts.clone(),
        );

        let hooks = HookMetrics {
            runs: Family::default(),
            duration: Family::new_with_constructor(hook_histogram),
        };
        r.register(
            "warren_hook_runs",
            "Hook runs by service group, hook and outcome (exit code, timeout, signal, error)",
            hooks.runs.clone(),
        );
        r.register(
            "warren_hook_duration_seconds",
            "How long hooks ran, by hook",
            hooks.duration.clone(),
        );

        let http = HttpMetrics {
            requests: Family::default(),
            duration: Family::new_with_constructor(http_histogram),
        };
        r.register(
            "warren_http_requests",
            "HTTP gateway requests by route pattern and status code",
            http.requests.clone(),
        );
        r.register(
            "warren_http_request_duration_seconds",
            "HTTP gateway request handling time by route pattern",
            http.duration.clone(),
        );

        let k8s = K8sMetrics {
            label_patches: Family::default(),
        };
        r.register(
            "warren_k8s_label_patches",
            "Patches of the pod's role label by service group and outcome (ok: acknowledged; \
             retried: failed and retried; forbidden: 403, the Role lacks patch on pods; \
             not_found: 404, the pod is gone; failed: other errors, not retried)",
            k8s.label_patches.clone(),
        );

        Metrics {
            ring,
            gossip,
            elections,
            services,
            hooks,
            http,
            k8s,
            registry: Arc::new(r),
        }
    }

    /// Every family in OpenMetrics text 1.0.0, as `prometheus-client` writes it natively (serve
    /// it with [`OPENMETRICS_CONTENT_TYPE`] to a scraper that asked for it,
    /// [`wants_openmetrics`]).
    pub fn encode_openmetrics(&self) -> String {
        let mut open = String::with_capacity(8 * 1024);
        // The registry, then the `# EOF` line OpenMetrics ends with.
        if prometheus_client::encoding::text::encode(&mut open, &self.registry).is_err() {
            return String::new();
        }
        open
    }

    /// Every family in Prometheus text format 0.0.4 (serve it with [`CONTENT_TYPE`]).
    ///
    /// `prometheus-client` writes OpenMetrics; this converts the two places where the formats
    /// differ for the families above: a counter's `# HELP` / `# TYPE` lines name the sample
    /// (`…_total`), and there is no `# EOF` line.
    pub fn encode(&self) -> String {
        let mut open = String::with_capacity(8 * 1024);
        // Writing into a String cannot fail, and every family here encodes (classic histograms).
        if prometheus_client::encoding::text::encode_registry(&mut open, &self.registry).is_err() {
            return String::new();
        }
        openmetrics_to_prometheus(&open)
    }
}

/// Rewrites OpenMetrics text (as `prometheus-client` writes it) into Prometheus text 0.0.4.
fn openmetrics_to_prometheus(open: &str) -> String {
    let mut out = String::with_capacity(open.len() + 256);
    let mut help: Option<(&str, &str)> = None; // (family name, help text) awaiting its TYPE
    for line in open.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            if let Some((name, text)) = help.take() {
                let _ = writeln!(out, "# HELP {name} {text}");
            }
            help = Some(rest.split_once(' ').unwrap_or((rest, "")));
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, "untyped"));
            let suffix = if kind == "counter" { "_total" } else { "" };
            if let Some((help_name, text)) = help.take() {
                let _ = writeln!(out, "# HELP {help_name}{suffix} {text}");
            }
            let kind = if kind == "unknown" { "untyped" } else { kind };
            let _ = writeln!(out, "# TYPE {name}{suffix} {kind}");
            continue;
        }
        if line.starts_with("# UNIT ") || line == "# EOF" {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    if let Some((name, text)) = help {
        let _ = writeln!(out, "# HELP {name} {text}");
    }
    out
}

fn hook_histogram() -> Histogram {
    Histogram::new([
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
    ])
}

fn http_histogram() -> Histogram {
    Histogram::new([
        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    ])
}

/// Raises `counter` to `total` (a cumulative count kept elsewhere); never lowers it.
fn raise_to(counter: &Counter, total: u64) {
    counter.inner().fetch_max(total, Ordering::Relaxed);
}

/// Saturating `u64` → `i64` for gauges.
fn gauge_value(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

// ---------------------------------------------------------------------------------------------
// Ring
// ---------------------------------------------------------------------------------------------

/// A member's health, as the `health` label spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MemberHealth {
    /// `alive`.
    Alive,
    /// `suspect`.
    Suspect,
    /// `confirmed`.
    Confirmed,
    /// `departed`.
    Departed,
}

impl MemberHealth {
    /// Every health, in Habitat's order.
    pub const ALL: [MemberHealth; 4] = [
        MemberHealth::Alive,
        MemberHealth::Suspect,
        MemberHealth::Confirmed,
        MemberHealth::Departed,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            MemberHealth::Alive => "alive",
            MemberHealth::Suspect => "suspect",
            MemberHealth::Confirmed => "confirmed",
            MemberHealth::Departed => "departed",
        }
    }
}

impl EncodeLabelValue for MemberHealth {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> Result<(), std::fmt::Error> {
        encoder.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct HealthLabel {
    health: MemberHealth,
}

/// Cumulative counts of the ring's failure detector (copy them from `warren_ring::Stats`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RingTotals {
    /// Probes started (`Stats::probes`).
    pub probes: u64,
    /// Probes that needed PingReqs (`Stats::indirect_probes`).
    pub ping_reqs: u64,
    /// Suspicions raised on own evidence (`Stats::suspicions_raised`).
    pub suspicions_raised: u64,
    /// Suspicions about this member refuted (`Stats::refutations`).
    pub refutations: u64,
}

/// Membership and failure-detection metrics.
#[derive(Clone, Debug)]
pub struct RingMetrics {
    members: Family<HealthLabel, Gauge>,
    local_health: Gauge,
    probes: Counter,
    ping_reqs: Counter,
    suspicions: Counter,
    refutations: Counter,
}

impl RingMetrics {
    /// Sets how many members currently have `health` (this member included).
    pub fn members_set(&self, health: MemberHealth, count: u64) {
        self.members
            .get_or_create(&HealthLabel { health })
            .set(gauge_value(count));
    }

    /// Sets this member's Lifeguard local health multiplier (`Ring::local_health`).
    pub fn local_health_set(&self, multiplier: u32) {
        self.local_health.set(i64::from(multiplier));
    }

    /// Copies the ring's cumulative counts (call it whenever the shell publishes a snapshot).
    pub fn record(&self, totals: &RingTotals) {
        raise_to(&self.probes, totals.probes);
        raise_to(&self.ping_reqs, totals.ping_reqs);
        raise_to(&self.suspicions, totals.suspicions_raised);
        raise_to(&self.refutations, totals.refutations);
    }
}

// ---------------------------------------------------------------------------------------------
// Gossip
// ---------------------------------------------------------------------------------------------

/// A rumor's kind, as the `kind` label spells it (Habitat's rumor types).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RumorKind {
    /// `member`.
    Member,
    /// `service`.
    Service,
    /// `service_config`.
    ServiceConfig,
    /// `service_file`.
    ServiceFile,
    /// `election`.
    Election,
    /// `election_update`.
    ElectionUpdate,
    /// `departure`.
    Departure,
}

impl RumorKind {
    /// The kind a label value names (`member`, `service_config`, …), if any.
    pub fn from_name(name: &str) -> Option<RumorKind> {
        [
            RumorKind::Member,
            RumorKind::Service,
            RumorKind::ServiceConfig,
            RumorKind::ServiceFile,
            RumorKind::Election,
            RumorKind::ElectionUpdate,
            RumorKind::Departure,
        ]
        .into_iter()
        .find(|k| k.as_str() == name)
    }

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            RumorKind::Member => "member",
            RumorKind::Service => "service",
            RumorKind::ServiceConfig => "service_config",
            RumorKind::ServiceFile => "service_file",
            RumorKind::Election => "election",
            RumorKind::ElectionUpdate => "election_update",
            RumorKind::Departure => "departure",
        }
    }
}

impl EncodeLabelValue for RumorKind {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> Result<(), std::fmt::Error> {
        encoder.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct KindLabel {
    kind: RumorKind,
}

/// What was dropped: a SWIM datagram (UDP) or a rumor (ZMTP).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dropped {
    /// `datagram`.
    Datagram,
    /// `rumor`.
    Rumor,
}

impl EncodeLabelValue for Dropped {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> Result<(), std::fmt::Error> {
        encoder.write_str(match self {
            Dropped::Datagram => "datagram",
            Dropped::Rumor => "rumor",
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct DropLabels {
    what: Dropped,
    reason: &'static str,
}

/// Cumulative gossip counts kept by the shell (copy them from `warren_net::Counters`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GossipTotals {
    /// Bytes sent.
    pub bytes_sent: u64,
    /// SWIM datagrams sent.
    pub datagrams_sent: u64,
    /// Bytes received.
    pub bytes_received: u64,
    /// Drops: (what, reason, count so far).
    pub dropped: Vec<(Dropped, &'static str, u64)>,
    /// Rumors sent so far, by kind.
    pub rumors_sent: Vec<(RumorKind, u64)>,
    /// Rumors received so far, by kind.
    pub rumors_received: Vec<(RumorKind, u64)>,
}

/// Rumor traffic, bytes and drops.
#[derive(Clone, Debug)]
pub struct GossipMetrics {
    rumors_sent: Family<KindLabel, Counter>,
    rumors_received: Family<KindLabel, Counter>,
    bytes_sent: Counter,
    datagrams_sent: Counter,
    bytes_received: Counter,
    dropped: Family<DropLabels, Counter>,
}

impl GossipMetrics {
    /// One rumor of `kind` queued for sending.
    pub fn rumor_sent(&self, kind: RumorKind) {
        self.rumors_sent.get_or_create(&KindLabel { kind }).inc();
    }

    /// One rumor of `kind` received.
    pub fn rumor_received(&self, kind: RumorKind) {
        self.rumors_received
            .get_or_create(&KindLabel { kind })
            .inc();
    }

    /// `n` more bytes sent.
    pub fn bytes_sent(&self, n: u64) {
        self.bytes_sent.inc_by(n);
    }

    /// `n` more bytes received.
    pub fn bytes_received(&self, n: u64) {
        self.bytes_received.inc_by(n);
    }

    /// One datagram or rumor dropped for `reason` (a fixed string such as `"decrypt"`).
    pub fn dropped(&self, what: Dropped, reason: &'static str) {
        self.dropped
            .get_or_create(&DropLabels { what, reason })
            .inc();
    }

    /// Copies the shell's cumulative counts (bytes, drops, rumors by kind).
    pub fn record(&self, totals: &GossipTotals) {
        raise_to(&self.bytes_sent, totals.bytes_sent);
        raise_to(&self.datagrams_sent, totals.datagrams_sent);
        raise_to(&self.bytes_received, totals.bytes_received);
        for &(kind, n) in &totals.rumors_sent {
            raise_to(&self.rumors_sent.get_or_create(&KindLabel { kind }), n);
        }
        for &(kind, n) in &totals.rumors_received {
            raise_to(&self.rumors_received.get_or_create(&KindLabel { kind }), n);
        }
        for &(what, reason, n) in &totals.dropped {
            raise_to(&self.dropped.get_or_create(&DropLabels { what, reason }), n);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Elections
// ---------------------------------------------------------------------------------------------

/// Which election of a service group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ElectionKind {
    /// The topology (leader) election: `leader`.
    Leader,
    /// The rolling-update election: `update`.
    Update,
}

impl EncodeLabelValue for ElectionKind {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> Result<(), std::fmt::Error> {
        encoder.write_str(match self {
            ElectionKind::Leader => "leader",
            ElectionKind::Update => "update",
        })
    }
}

/// An election's status, as the `status` label spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ElectionState {
    /// `running`.
    Running,
    /// `no_quorum`.
    NoQuorum,
    /// `finished`.
    Finished,
}

impl ElectionState {
    /// Every status.
    pub const ALL: [ElectionState; 3] = [
        ElectionState::Running,
        ElectionState::NoQuorum,
        ElectionState::Finished,
    ];
}

impl EncodeLabelValue for ElectionState {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> Result<(), std::fmt::Error> {
        encoder.write_str(match self {
            ElectionState::Running => "running",
            ElectionState::NoQuorum => "no_quorum",
            ElectionState::Finished => "finished",
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ElectionLabels {
    service_group: String,
    kind: ElectionKind,
    status: ElectionState,
}

/// Elections by service group, and restarts.
#[derive(Clone, Debug)]
pub struct ElectionMetrics {
    state: Family<ElectionLabels, Gauge>,
    restarts: Counter,
}

impl ElectionMetrics {
    /// Sets the status of `service_group`'s `kind` election: the `status` series becomes 1 and
    /// the other statuses 0. `None` (no election stored any more) removes the group's series.
    pub fn set(&self, service_group: &str, kind: ElectionKind, status: Option<ElectionState>) {
        for s in ElectionState::ALL {
            let labels = ElectionLabels {
                service_group: service_group.to_owned(),
                kind,
                status: s,
            };
            match status {
                Some(current) => {
                    self.state
                        .get_or_create(&labels)
                        .set(i64::from(current == s));
                }
                None => {
                    self.state.remove(&labels);
                }
            }
        }
    }

    /// One election restarted by this member.
    pub fn restarted(&self) {
        self.restarts.inc();
    }

    /// Copies the ring's cumulative restart count (`Stats::elections_restarted`).
    pub fn record_restarts(&self, total: u64) {
        raise_to(&self.restarts, total);
    }
}

// ---------------------------------------------------------------------------------------------
// Services and hooks
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct GroupLabel {
    service_group: String,
}

/// Service process restarts.
#[derive(Clone, Debug)]
pub struct ServiceMetrics {
    restarts: Family<GroupLabel, Counter>,
}

impl ServiceMetrics {
    /// The service of `service_group` was restarted after its process failed.
    pub fn restarted(&self, service_group: &str) {
        self.restarts
            .get_or_create(&GroupLabel {
                service_group: service_group.to_owned(),
            })
            .inc();
    }
}

/// How a hook run ended, as the `outcome` label spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HookOutcome {
    /// It exited with this code: the label is the code in decimal (`0`, `1`, …).
    Exited(i32),
    /// It was killed by a signal it did not get from the supervisor: `signal`.
    Signaled,
    /// It ran past its timeout and was stopped: `timeout`.
    TimedOut,
    /// It could not be started: `spawn_error`.
    SpawnFailed,
    /// The service was stopping and the hook was stopped: `cancelled`.
    Cancelled,
}

impl EncodeLabelValue for HookOutcome {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> Result<(), std::fmt::Error> {
        match self {
            HookOutcome::Exited(code) => write!(encoder, "{code}"),
            HookOutcome::Signaled => encoder.write_str("signal"),
            HookOutcome::TimedOut => encoder.write_str("timeout"),
            HookOutcome::SpawnFailed => encoder.write_str("spawn_error"),
            HookOutcome::Cancelled => encoder.write_str("cancelled"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct HookRunLabels {
    service_group: String,
    hook: String,
    outcome: HookOutcome,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct HookLabel {
    hook: String,
}

/// Hook runs and durations.
#[derive(Clone, Debug)]
pub struct HookMetrics {
    runs: Family<HookRunLabels, Counter>,
    duration: Family<HookLabel, Histogram, fn() -> Histogram>,
}

impl HookMetrics {
    /// One run of `hook` (its file name, e.g. `health-check`) for `service_group`, which ended
    /// with `outcome` after `duration`.
    pub fn observe(
        &self,
        service_group: &str,
        hook: &str,
        outcome: HookOutcome,
        duration: Duration,
    ) {
        self.runs
            .get_or_create(&HookRunLabels {
                service_group: service_group.to_owned(),
                hook: hook.to_owned(),
                outcome,
            })
            .inc();
        self.duration
            .get_or_create(&HookLabel {
                hook: hook.to_owned(),
            })
            .observe(duration.as_secs_f64());
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RequestLabels {
    route: &'static str,
    status: u16,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RouteLabel {
    route: &'static str,
}

/// HTTP gateway requests.
#[derive(Clone, Debug)]
pub struct HttpMetrics {
    requests: Family<RequestLabels, Counter>,
    duration: Family<RouteLabel, Histogram, fn() -> Histogram>,
}

impl HttpMetrics {
    /// One request to `route` (the route *pattern*, e.g. `/services/{svc}/{group}`, never the
    /// raw path) answered with `status` after `duration`.
    pub fn observe(&self, route: &'static str, status: u16, duration: Duration) {
        self.requests
            .get_or_create(&RequestLabels { route, status })
            .inc();
        self.duration
            .get_or_create(&RouteLabel { route })
            .observe(duration.as_secs_f64());
    }
}

// ---------------------------------------------------------------------------------------------
// Kubernetes
// ---------------------------------------------------------------------------------------------

/// How one patch of the pod role label ended, as the `outcome` label spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LabelPatchOutcome {
    /// Acknowledged (2xx): `ok`.
    Ok,
    /// Failed and retried (connection error, 401, 409, 429, 5xx): `retried`.
    Retried,
    /// 403, the value given up: `forbidden`.
    Forbidden,
    /// 404, the pod is gone and the labeler stopped: `not_found`.
    NotFound,
    /// Any other failure, not retried: `failed`.
    Failed,
}

impl LabelPatchOutcome {
    /// Every outcome.
    pub const ALL: [LabelPatchOutcome; 5] = [
        LabelPatchOutcome::Ok,
        LabelPatchOutcome::Retried,
        LabelPatchOutcome::Forbidden,
        LabelPatchOutcome::NotFound,
        LabelPatchOutcome::Failed,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            LabelPatchOutcome::Ok => "ok",
            LabelPatchOutcome::Retried => "retried",
            LabelPatchOutcome::Forbidden => "forbidden",
            LabelPatchOutcome::NotFound => "not_found",
            LabelPatchOutcome::Failed => "failed",
        }
    }
}

impl EncodeLabelValue for LabelPatchOutcome {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> Result<(), std::fmt::Error> {
        encoder.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct LabelPatchLabels {
    service_group: String,
    outcome: LabelPatchOutcome,
}

/// Cumulative label patch counts of one labeler, by outcome (copied from `warren_k8s::Stats`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LabelPatchTotals {
    /// `ok`.
    pub ok: u64,
    /// `retried`.
    pub retried: u64,
    /// `forbidden`.
    pub forbidden: u64,
    /// `not_found`.
    pub not_found: u64,
    /// `failed`.
    pub failed: u64,
}

impl LabelPatchTotals {
    fn get(&self, outcome: LabelPatchOutcome) -> u64 {
        match outcome {
            LabelPatchOutcome::Ok => self.ok,
            LabelPatchOutcome::Retried => self.retried,
            LabelPatchOutcome::Forbidden => self.forbidden,
            LabelPatchOutcome::NotFound => self.not_found,
            LabelPatchOutcome::Failed => self.failed,
        }
    }
}

/// Calls to the Kubernetes API.
#[derive(Clone, Debug)]
pub struct K8sMetrics {
    label_patches: Family<LabelPatchLabels, Counter>,
}

impl K8sMetrics {
    /// Copies the cumulative patch counts of `service_group`'s role labeler (totals-style: a
    /// counter never moves backwards). Creates every outcome's series, so the first call (with
    /// zeros, when the labeler starts) makes all five appear.
    pub fn record_label_patches(&self, service_group: &str, totals: &LabelPatchTotals) {
        for outcome in LabelPatchOutcome::ALL {
            let labels = LabelPatchLabels {
                service_group: service_group.to_owned(),
                outcome,
            };
            raise_to(
                &self.label_patches.get_or_create(&labels),
                totals.get(outcome),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn openmetrics_is_served_only_when_the_scraper_prefers_it() {
        // Prometheus 2.x/3.x with OpenMetrics negotiation on.
        assert!(wants_openmetrics(
            "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
        ));
        assert!(wants_openmetrics(
            "Application/OpenMetrics-Text; version=1.0.0"
        ));
        // Prometheus with it off, curl, a browser, nothing at all.
        assert!(!wants_openmetrics("text/plain;version=0.0.4;q=1,*/*;q=0.1"));
        assert!(!wants_openmetrics("*/*"));
        assert!(!wants_openmetrics("text/html,application/xhtml+xml"));
        assert!(!wants_openmetrics(""));
        // Named but refused, or below text/plain.
        assert!(!wants_openmetrics("application/openmetrics-text;q=0"));
        assert!(!wants_openmetrics(
            "application/openmetrics-text;q=0.2,text/plain;q=0.9"
        ));
        // Garbage does not panic.
        assert!(!wants_openmetrics(";;;,q=,=;"));
    }

    #[test]
    fn the_openmetrics_exposition_is_native_and_ends_with_eof() {
        let m = Metrics::new();
        m.ring.local_health_set(2);
        let open = m.encode_openmetrics();
        assert!(open.ends_with("# EOF\n"), "{open}");
        assert!(
            open.contains("# TYPE warren_ring_local_health gauge"),
            "{open}"
        );
        // Counters keep OpenMetrics' family name (no `_total` on TYPE), unlike encode().
        assert!(open.contains("# TYPE warren_ring_probes counter"), "{open}");
        let prom = m.encode();
        assert!(
            prom.contains("# TYPE warren_ring_probes_total counter"),
            "{prom}"
        );
        assert!(!prom.contains("# EOF"), "{prom}");
    }

    #[test]
    fn openmetrics_counters_become_prometheus_counters() {
        let open = "# HELP a_b Some help.\n# TYPE a_b counter\na_b_total 3\n\
                    # HELP g Gauge.\n# TYPE g gauge\ng{x=\"1\"} 2\n# EOF\n";
        assert_eq!(
            openmetrics_to_prometheus(open),
            "# HELP a_b_total Some help.\n# TYPE a_b_total counter\na_b_total 3\n\
             # HELP g Gauge.\n# TYPE g gauge\ng{x=\"1\"} 2\n"
        );
    }

    #[test]
    fn election_set_keeps_one_status_at_one_and_none_removes() {
        let m = Metrics::new();
        m.elections.set(
            "redis.default",
            ElectionKind::Leader,
            Some(ElectionState::Running),
        );
        m.elections.set(
            "redis.default",
            ElectionKind::Leader,
            Some(ElectionState::Finished),
        );
        let text = m.encode();
        assert!(text.contains(
            "warren_elections{service_group=\"redis.default\",kind=\"leader\",status=\"finished\"} 1"
        ));
        assert!(text.contains(
            "warren_elections{service_group=\"redis.default\",kind=\"leader\",status=\"running\"} 0"
        ));
        m.elections.set("redis.default", ElectionKind::Leader, None);
        assert!(!m.encode().contains("service_group=\"redis.default\""));
    }

    #[test]
    fn totals_never_move_a_counter_backwards() {
        let m = Metrics::new();
        m.ring.record(&RingTotals {
            probes: 10,
            ..RingTotals::default()
        });
        m.ring.record(&RingTotals {
            probes: 7,
            ..RingTotals::default()
        });
        assert!(m.encode().contains("\nwarren_ring_probes_total 10\n"));
    }

    #[test]
    fn label_patches_appear_with_a_labeler_only() {
        let m = Metrics::new();
        assert!(!m.encode().contains("\nwarren_k8s_label_patches_total{"));
        m.k8s
            .record_label_patches("redis.default", &LabelPatchTotals::default());
        let text = m.encode();
        assert!(text.contains("# TYPE warren_k8s_label_patches_total counter\n"));
        for outcome in ["ok", "retried", "forbidden", "not_found", "failed"] {
            assert!(
                text.contains(&format!(
                    "warren_k8s_label_patches_total{{service_group=\"redis.default\",\
                     outcome=\"{outcome}\"}} 0\n"
                )),
                "{outcome} missing in\n{text}"
            );
        }
        m.k8s.record_label_patches(
            "redis.default",
            &LabelPatchTotals {
                ok: 3,
                not_found: 1,
                ..LabelPatchTotals::default()
            },
        );
        let text = m.encode();
        assert!(text.contains(
            "warren_k8s_label_patches_total{service_group=\"redis.default\",outcome=\"ok\"} 3\n"
        ));
        assert!(text.contains(
            "warren_k8s_label_patches_total{service_group=\"redis.default\",outcome=\"not_found\"} 1\n"
        ));
    }
}
