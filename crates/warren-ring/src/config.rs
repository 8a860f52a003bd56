//! Timing and sizing of the ring: the `default` (Warren, Lifeguard) and `habitat` profiles.
//!
//! Every number the protocol uses is here, so the simulator can compare profiles and tests can
//! shrink them. Nothing here reads the environment or a file; the shell builds a [`Config`].

use std::time::Duration;

use crate::election::{ElectionConfig, ElectionRules};

/// A named set of timings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    /// Warren's: 1 s probes, 500 ms timeout, Lifeguard suspicion, 200 ms gossip rounds.
    Default,
    /// Habitat 2.1.78's: 1 s ping + 2.1 s ping-req per member, fixed 9.3 s suspicion, 1 s gossip.
    Habitat,
}

impl std::str::FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "default" => Ok(Profile::Default),
            "habitat" => Ok(Profile::Habitat),
            other => Err(format!(
                "unknown profile {other:?}: expected default or habitat"
            )),
        }
    }
}

/// Configuration of one ring member. Build it with [`Config::default`] or [`Config::profile`],
/// then adjust fields.
#[derive(Clone, Debug)]
pub struct Config {
    /// Time between the starts of two probes.
    pub probe_interval: Duration,
    /// How long to wait for a direct Ack before asking helpers.
    pub probe_timeout: Duration,
    /// Probe targets follow a schedule the ring shares (its members and its clock: see
    /// [`crate::Boot::clock_phase`]), so that each member is probed once per probe interval
    /// (`ring/probe.rs`). Off: SWIM's shuffled round-robin, where a member goes unprobed for
    /// `t` intervals with probability about e^−t (Habitat's, kept by its profile).
    pub scheduled_probes: bool,
    /// How long to wait for an indirect Ack after sending PingReqs.
    pub indirect_timeout: Duration,
    /// Number of helpers asked to ping a target indirectly.
    pub indirect_probes: usize,
    /// Lifeguard local health: the largest multiplier applied to probe timeouts (0 disables it).
    pub max_local_health: u32,
    /// A timer handled this much later than its deadline counts as a sign that this member is slow.
    pub late_timer_threshold: Duration,
    /// Suspicion: the smallest timeout is `suspicion_min_mult × max(1, log10 N) × probe_interval`.
    pub suspicion_min_mult: f64,
    /// Suspicion: the timeout starts at `suspicion_max_mult ×` the minimum.
    pub suspicion_max_mult: f64,
    /// Suspicion: independent confirmations that bring the timeout down to its minimum.
    pub suspicion_confirmations: u32,
    /// A fixed suspicion timeout instead of Lifeguard's (Habitat's 9.3 s).
    pub fixed_suspicion_timeout: Option<Duration>,
    /// How long a ProbePing waits for its Ack before a Confirmed verdict is adopted.
    pub probe_ping_timeout: Duration,
    /// A Confirmed verdict on a member this one already suspects at the verdict's incarnation
    /// is checked with a ProbePing too (Habitat's way). Off: it is adopted at once, as this
    /// member's own suspicion would soon have done; a verdict on a member this one holds Alive
    /// is always checked.
    pub probe_ping_when_suspected: bool,
    /// Time between two rumor push rounds.
    pub gossip_interval: Duration,
    /// Members pushed to per round.
    pub gossip_fanout: usize,
    /// Sends of each update by each member: `retransmit_mult × ceil(log10(N + 1))`.
    pub retransmit_mult: u32,
    /// At most this many rumors go to one member in one push.
    pub max_rumors_per_push: usize,
    /// At most this many membership records ride on one SWIM message.
    pub max_piggyback: usize,
    /// Largest encoded SWIM datagram, including envelope and encryption (Habitat's buffer: 1024).
    pub max_datagram: usize,
    /// Anti-entropy push to one random member this often.
    pub sync_interval: Duration,
    /// A periodic anti-entropy push carries everything this member holds while that fits in
    /// `sync_window_mult × ceil(log10(N + 1))` records (member records and rumors together);
    /// beyond, it carries what changed in the last two `sync_interval`s and the next window of a
    /// rotation through everything, so its size grows as log N, not N. A member new to us,
    /// restarted or back from Confirmed is still sent everything.
    pub sync_window_mult: u32,
    /// Ping one random Confirmed member (and unanswered initial peers) this often, so that
    /// partitions heal.
    pub reconnect_interval: Duration,
    /// A member Confirmed this long becomes Departed.
    pub departure_timeout: Duration,
    /// Departed members, departure tombstones and the rumors of gone members are dropped after this.
    /// Gossiped config and files are dropped once unchanged this long and their group has had no
    /// live member (a Service rumor of ours, or of an Alive or Suspect member) for this long;
    /// only the newest per group (and per file name) is ever held.
    pub gc_age: Duration,
    /// How often garbage collection and the Confirmed → Departed expiry run.
    pub gc_interval: Duration,
    /// Members sent the departure Ack on a graceful leave.
    pub departure_fanout: usize,
    /// How this member takes part in elections.
    pub election: ElectionConfig,
    /// Most member records held (this member not counted). Without a ring key anyone who can
    /// send a datagram is a peer, so the list must not grow with every id a flood invents. When a
    /// newcomer would exceed it, Departed records are forgotten first, then Confirmed ones (oldest
    /// health change first); permanent peers and members of our own service groups are kept
    /// (a Departed group member goes last, a Confirmed one never: it still counts in elections).
    /// If only live members remain, the newcomer is refused (`Stats::members_refused`).
    ///
    /// 10 000 is several times the largest Habitat rings reported (hundreds to a few thousand
    /// supervisors), yet keeps the list (a few MB) and a full-state sync (≈ 1.5 MB of member
    /// records) bounded. The `habitat` profile keeps it.
    pub max_members: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            probe_interval: Duration::from_millis(1000),
            probe_timeout: Duration::from_millis(500),
            scheduled_probes: true,
            indirect_timeout: Duration::from_millis(500),
            indirect_probes: 3,
            max_local_health: 8,
            late_timer_threshold: Duration::from_millis(100),
            suspicion_min_mult: 1.5,
            suspicion_max_mult: 3.0,
            suspicion_confirmations: 3,
            fixed_suspicion_timeout: None,
            probe_ping_timeout: Duration::from_millis(500),
            probe_ping_when_suspected: false,
            gossip_interval: Duration::from_millis(200),
            gossip_fanout: 3,
            retransmit_mult: 4,
            max_rumors_per_push: 256,
            max_piggyback: 16,
            max_datagram: 1024,
            sync_interval: Duration::from_secs(30),
            sync_window_mult: 48,
            reconnect_interval: Duration::from_secs(10),
            departure_timeout: Duration::from_secs(3600),
            gc_age: Duration::from_secs(3600),
            gc_interval: Duration::from_secs(10),
            departure_fanout: 10,
            election: ElectionConfig::default(),
            max_members: 10_000,
        }
    }
}

impl Config {
    /// A leader's lease (`ElectionConfig::lease`, else derived). After the rest of a group last
    /// heard from its leader, the earliest it can act on another is: a probe of the leader
    /// failing (at least `probe_timeout`), the shortest suspicion timeout (Lifeguard's floor,
    /// `suspicion_min_mult × probe_interval`, or the fixed timeout), then the new result standing
    /// `ElectionConfig::confirm`. The lease is three quarters of that; the last quarter (0.7 s at
    /// the default timings) is the margin for scheduling delays and clock-rate drift. A leader
    /// counts its lease from what it last heard, which is never later than what the others last
    /// heard from it, so it stops before they can start.
    pub fn leader_lease(&self) -> Duration {
        self.lease_base().mul_f64(0.75)
    }

    /// The other half of the lease: a member that heard from its leader directly less than this
    /// ago neither starts nor joins a term that replaces it (unless the leader itself voted in
    /// it, or departed). About a quarter longer than [`Config::leader_lease`]: whichever member of
    /// the new term's voters the leader last counted in its lease, the leader's lease ran out
    /// before that member could vote, whatever it heard from others (a suspicion started long
    /// ago, a Confirmed verdict gossiped by someone else).
    pub fn follower_guard(&self) -> Duration {
        self.lease_base().mul_f64(0.95)
    }

    fn lease_base(&self) -> Duration {
        if let Some(lease) = self.election.lease {
            return lease.mul_f64(1.0 / 0.75);
        }
        let suspicion = self
            .fixed_suspicion_timeout
            .unwrap_or_else(|| self.probe_interval.mul_f64(self.suspicion_min_mult));
        self.probe_timeout + suspicion + self.election.confirm
    }

    /// The configuration of a named profile.
    pub fn profile(profile: Profile) -> Self {
        match profile {
            Profile::Default => Config::default(),
            Profile::Habitat => Config {
                probe_interval: Duration::from_millis(3100),
                probe_timeout: Duration::from_millis(1000),
                scheduled_probes: false,
                indirect_timeout: Duration::from_millis(2100),
                indirect_probes: 5,
                max_local_health: 0,
                fixed_suspicion_timeout: Some(Duration::from_millis(9300)),
                probe_ping_timeout: Duration::from_millis(1000),
                probe_ping_when_suspected: true,
                gossip_interval: Duration::from_millis(1000),
                gossip_fanout: 5,
                max_piggyback: 5,
                election: ElectionConfig {
                    rules: ElectionRules::Habitat,
                    ..ElectionConfig::default()
                },
                ..Config::default()
            },
        }
    }
}
