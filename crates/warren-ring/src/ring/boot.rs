//! How a member starts: the one order in which the shell (`warren-net`) and the simulator
//! (`warren-sim`) assemble a [`Ring`], so the simulator can never test an order the binary does
//! not run.
//!
//! The order is the binary's: restore the election results saved before a restart, restore the
//! rumor file (members, then rumors; this member's own elections are dropped and its own Service
//! rumors set aside), publish the services this member runs (above any incarnation it published
//! before) and take part in their elections, withdraw the services it ran before but does not run
//! now. Joining peers comes later, when the shell's resolver (or the simulator's DNS) has
//! addresses: [`Ring::join`]. A member that was given peers says so here
//! ([`Boot::peers_expected`]), so that nothing it does before meeting them can elect it.
//!
//! Nothing here reads a file or a clock: the caller loads the state and passes `now`.

use std::sync::Arc;

use super::{Identity, Ring};
use crate::config::Config;
use crate::election::{AgreedResult, ElectionKind};
use crate::member::Membership;
use crate::rumor::{Rumor, Service};
use crate::time::Time;

/// A service this member runs: its Service rumor (`member_id` and `incarnation` are filled in
/// by the ring) and the elections it takes part in, with its suitability in each.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalService {
    /// The rumor to publish.
    pub service: Service,
    /// Elections of the service's group to take part in.
    pub elections: Vec<(ElectionKind, u64)>,
}

/// What a member starts with.
#[derive(Clone, Debug, Default)]
pub struct Boot {
    /// Election results saved before a restart ([`Ring::agreed_results`]).
    pub agreed: Vec<AgreedResult>,
    /// Member records from the rumor file.
    pub members: Vec<Membership>,
    /// Rumors from the rumor file.
    pub rumors: Vec<Rumor>,
    /// The services this member runs from the start.
    pub services: Vec<LocalService>,
    /// Peers were configured (whether or not they resolve yet), or the saved state of a restart
    /// names other members: see [`Ring::expect_peers`].
    pub peers_expected: bool,
    /// Where this member's `Time::ZERO` falls on a clock the ring's members share (the shell:
    /// the Unix time at its origin; the simulator: its virtual clock). Scheduled probes
    /// ([`Config::scheduled_probes`]) number their rounds on it, so that members agree on
    /// which round is under way; a skew between members of a few milliseconds costs nothing
    /// but a rare repeated or skipped round.
    pub clock_phase: std::time::Duration,
}

impl Ring {
    /// Builds a member and brings it to the point where it can join: see the module docs for the
    /// order. Transmits and events it produced wait in the ring as after any other input.
    pub fn boot(cfg: Config, identity: Identity, seed: u64, now: Time, boot: Boot) -> Ring {
        let mut ring = Ring::new(cfg, identity, seed, now);
        ring.clock_phase = boot.clock_phase;
        if boot.peers_expected {
            ring.expect_peers();
        }
        ring.restore_agreed(boot.agreed, now);
        ring.restore(boot.members, boot.rumors, now);
        for svc in boot.services {
            ring.load_service(svc, now);
        }
        ring.withdraw_restored(now);
        ring
    }

    /// Publishes a service this member runs and takes part in its elections (at start, or when
    /// a service is loaded later).
    pub fn load_service(&mut self, svc: LocalService, now: Time) {
        self.saw(now);
        let sg = svc.service.service_group.clone();
        self.publish_service(svc.service, now);
        for (kind, suitability) in svc.elections {
            self.start_election(&sg, kind, suitability, now);
        }
    }

    /// Withdraws the services this member ran in its previous life and has not published again:
    /// a member that no longer runs a service must not count (or be elected) in its group.
    fn withdraw_restored(&mut self, now: Time) {
        let restored = std::mem::take(&mut self.restored_own);
        for (_, old) in restored {
            let mut s = Arc::unwrap_or_clone(old);
            s.member_id = self.me.id.clone();
            s.incarnation = s.incarnation.saturating_add(1);
            s.withdrawn = true;
            self.publish(Rumor::Service(Arc::new(s)), now);
        }
    }
}
