//! [`Stats`], the ring's counters (the elections component counts in them too). Only the
//! counters: what they count is decided where it happens.

/// Counters of what the ring did and dropped; all monotonic.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Probes started.
    pub probes: u64,
    /// Probes that needed helpers.
    pub indirect_probes: u64,
    /// Probes that failed entirely.
    pub failed_probes: u64,
    /// Members this member marked Suspect on its own evidence.
    pub suspicions_raised: u64,
    /// Suspicions about this member it refuted.
    pub refutations: u64,
    /// Members this member marked Confirmed by suspicion timeout.
    pub confirmed_by_timeout: u64,
    /// Confirmed verdicts adopted after an unanswered ProbePing.
    pub confirmed_by_probe_ping: u64,
    /// Confirmed verdicts rejected because the member answered our ProbePing.
    pub confirmations_refuted: u64,
    /// Anti-entropy pushes sent (full or windowed).
    pub syncs: u64,
    /// Of those, windowed ones (`Config::sync_window_mult`): what this member holds did not fit
    /// one window.
    pub windowed_syncs: u64,
    /// SWIM messages dropped (from myself, unknown PingReq target, after leaving).
    pub dropped_datagrams: u64,
    /// Rumors received that changed nothing.
    pub stale_rumors: u64,
    /// Rumors received that changed the store.
    pub new_rumors: u64,
    /// Entries removed by garbage collection (members and rumors).
    pub collected: u64,
    /// Candidacies this member started (first starts, restarts, joins of a newer term).
    pub elections_started: u64,
    /// Elections this member restarted because the leader (or candidate) was gone or it lost
    /// quorum as leader.
    pub elections_restarted: u64,
    /// Election rumors ignored under Habitat's rules (a newer term from a bystander).
    pub elections_ignored: u64,
    /// Service rumors of this member's, heard from others above what it publishes now (a
    /// previous life's), answered with its current value at a higher incarnation.
    pub service_refutations: u64,
    /// Times this member stopped acting as a group's leader because its lease ran out (it
    /// had not heard from a quorum of the group for the lease time).
    pub leases_lost: u64,
    /// New members refused because the list was full of live (and protected) members
    /// (`Config::max_members`).
    pub members_refused: u64,
    /// Dead member records forgotten early to make room for a new member.
    pub members_evicted: u64,
}
