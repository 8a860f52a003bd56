//! Departing members whose pods are gone (`warren run --kubernetes-depart-gone[=SECS]`).
//!
//! The rule: while this member leads a service group (census: election finished, leader is
//! us), it looks at every other member of that group that is Suspect or Confirmed (never an
//! Alive one), reads the pod named by the member's `sys.hostname` in this pod's namespace
//! through `warren-k8s`, and departs the member — a Departure rumor, exactly what `warren sup
//! depart` publishes — once both have held for `SECS` (default 30): the member has not been
//! Alive, and every read of its pod said 404 (a read that finds the pod starts the count
//! again; an error says nothing either way). One line is logged per departure, with a running
//! count. Reads are at most one per member every `SECS / 3` (1 s to 10 s), and none after a 403
//! (logged once by `warren-k8s`).
//!
//! Why it is safe: a pod that no longer exists has no process left that could speak for that
//! member id (the kubelet stops a pod's containers before the object goes, unless it was
//! force-deleted: see ARCHITECTURE.md; a replacement pod is a new object), and the leader acts only with quorum and its lease, so at most one
//! member per group makes these calls and a leader cut off from the rest makes none. The 404
//! must last `SECS` because a StatefulSet deletes a pod before it creates its replacement under
//! the same name: a replacement that comes back on its volume keeps its member id, and a
//! departed id would be refused by the ring (exit 86) until its tombstone is collected.
//!
//! With the flag, this member also publishes its pod's name (`POD_NAME`, else `HOSTNAME`) as
//! `sys.hostname`, so that the leader of its group reads the right pod: it is the pod's hostname
//! anyway unless `spec.hostname` is set, or the name is longer than 63 characters.
//!
//! What it does not do: depart anyone while the group has no leader (a group that lost a
//! majority at once still needs `warren sup depart`: no member may then claim to speak for the
//! group), read pods of another namespace (a group with members in another namespace or outside
//! Kubernetes must not use the flag: their pods read as 404), watch or list pods, or wait on the
//! API anywhere but in its own task (the ring and the services never wait for it).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};
use warren_k8s::{Client, Config, PodReader, PodState};
use warren_net::RingCommand;
use warren_ring::census::{CensusElectionStatus, CensusRing};
use warren_ring::{MemberId, Rumor};

/// How often the task looks at the census (reads are rate-limited per member on top).
const TICK: Duration = Duration::from_millis(500);

/// How long a member must have been down, and its pod gone, before it is departed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timing {
    /// Not Alive for this long, and every read of its pod 404 for this long.
    pub after: Duration,
    /// At most one read of a member's pod per this interval; also the delay before the first.
    pub recheck: Duration,
}

impl Timing {
    /// The timing for `--kubernetes-depart-gone=SECS`.
    pub(crate) fn from_secs(secs: u64) -> Timing {
        let after = Duration::from_secs(secs);
        Timing {
            after,
            recheck: (after / 3).clamp(Duration::from_secs(1), Duration::from_secs(10)),
        }
    }
}

/// What is known of one member that is down.
#[derive(Debug, Clone)]
struct Down {
    /// Its pod's name (its `sys.hostname`).
    pod: String,
    /// When this leader first saw it not Alive (continuously since).
    since: Instant,
    /// No read before this.
    next_read: Instant,
    /// The first of an unbroken run of 404 reads.
    gone_since: Option<Instant>,
}

/// The bookkeeping of the rule, without I/O: which pods to read now, and what a read means.
/// Time is passed in.
#[derive(Debug)]
pub(crate) struct Tracker {
    timing: Timing,
    down: HashMap<MemberId, Down>,
    /// Departed by us; not considered again while the census still shows them.
    departed: HashSet<MemberId>,
}

/// The members of groups we lead that are down (Suspect or Confirmed, not Departed), with their
/// pod names. A member in several such groups appears once.
pub(crate) fn down_members(census: &CensusRing) -> HashMap<MemberId, String> {
    let mut out = HashMap::new();
    for g in census.census_groups.values() {
        let leading = g.election_status == CensusElectionStatus::ElectionFinished
            && g.leader_id.as_ref() == Some(&g.local_member_id);
        if !leading {
            continue;
        }
        for (id, m) in &g.population {
            let down = (m.suspect || m.confirmed) && !m.alive && !m.departed;
            if down && *id != g.local_member_id && *id != census.local_member_id {
                out.insert(id.clone(), m.sys.hostname.clone());
            }
        }
    }
    out
}

impl Tracker {
    pub(crate) fn new(timing: Timing) -> Tracker {
        Tracker {
            timing,
            down: HashMap::new(),
            departed: HashSet::new(),
        }
    }

    /// Takes in the census at `now` and returns the pods to read now, as (member, pod). A
    /// member no longer down in a group we lead (Alive again, departed, or we stopped leading)
    /// is forgotten, so its clocks start again if it goes down again.
    pub(crate) fn due(&mut self, census: &CensusRing, now: Instant) -> Vec<(MemberId, String)> {
        let down = down_members(census);
        self.down.retain(|id, d| down.get(id) == Some(&d.pod));
        self.departed.retain(|id| down.contains_key(id));
        let mut due = Vec::new();
        for (id, pod) in down {
            if self.departed.contains(&id) {
                continue;
            }
            let d = self.down.entry(id.clone()).or_insert_with(|| Down {
                pod: pod.clone(),
                since: now,
                next_read: now + self.timing.recheck,
                gone_since: None,
            });
            if now >= d.next_read {
                d.next_read = now + self.timing.recheck;
                due.push((id, pod));
            }
        }
        due.sort();
        due
    }

    /// Records what a read of `id`'s pod said at `now`; `true` when the member is to be
    /// departed now (the caller checks the census once more first, and then calls
    /// [`Tracker::departed`]).
    pub(crate) fn record(&mut self, id: &MemberId, state: PodState, now: Instant) -> bool {
        let Some(d) = self.down.get_mut(id) else {
            return false;
        };
        match state {
            PodState::Gone => {
                let gone_since = *d.gone_since.get_or_insert(now);
                // The second condition follows from the first (reads start after `since`); it is
                // kept so the rule reads as documented if the first read comes sooner one day.
                now.duration_since(gone_since) >= self.timing.after
                    && now.duration_since(d.since) >= self.timing.after
            }
            PodState::Exists => {
                d.gone_since = None;
                false
            }
            PodState::Unknown | PodState::Forbidden => false,
        }
    }

    /// `id` was departed: it is not read again.
    pub(crate) fn departed(&mut self, id: &MemberId) {
        self.down.remove(id);
        self.departed.insert(id.clone());
    }

    /// How long `id` has been down and its pod gone, for the log.
    fn ages(&self, id: &MemberId, now: Instant) -> (Duration, Duration) {
        self.down
            .get(id)
            .map_or((Duration::ZERO, Duration::ZERO), |d| {
                (
                    now.duration_since(d.since),
                    d.gone_since
                        .map_or(Duration::ZERO, |g| now.duration_since(g)),
                )
            })
    }
}

/// The pod name to publish as `sys.hostname` with `--kubernetes-depart-gone`: this pod's name
/// from the in-cluster configuration; `None` outside a pod (the failure is logged by
/// [`spawn`]).
pub(crate) fn sys_hostname() -> Option<String> {
    Config::in_cluster().ok().map(|c| c.pod_name)
}

/// Spawns the task; it ends when `stop` is cancelled, the census channel closes, or a 403 says
/// that pods may not be read. `None` outside a pod (logged).
pub(crate) fn spawn(
    timing: Timing,
    mut census: watch::Receiver<Option<Arc<CensusRing>>>,
    commands: mpsc::UnboundedSender<RingCommand>,
    stop: CancellationToken,
) -> Option<JoinHandle<()>> {
    let client = match Config::in_cluster()
        .map_err(|e| e.to_string())
        .and_then(|c| Client::new(c).map_err(|e| e.to_string()))
    {
        Ok(c) => c,
        Err(e) => {
            error!("not departing members whose pods are gone: {e}");
            return None;
        }
    };
    let namespace = client.config().namespace.clone();
    info!(
        %namespace,
        after = ?timing.after,
        "departing members of groups this member leads once down and their pods gone for {:?}",
        timing.after
    );
    let mut pods = PodReader::new(client);
    let mut tracker = Tracker::new(timing);
    let mut count: u64 = 0;
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                changed = census.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
                () = stop.cancelled() => return,
            }
            let Some(c) = census.borrow_and_update().clone() else {
                continue;
            };
            for (id, pod) in tracker.due(&c, Instant::now()) {
                let state = tokio::select! {
                    s = pods.read(&pod) => s,
                    () = stop.cancelled() => return,
                };
                if state == PodState::Forbidden {
                    return;
                }
                let now = Instant::now();
                if !tracker.record(&id, state, now) {
                    continue;
                }
                // The read took time: act only if the latest census still says we lead a
                // group in which the member is down.
                let still = census
                    .borrow()
                    .as_ref()
                    .is_some_and(|c| down_members(c).get(&id) == Some(&pod));
                if !still {
                    continue;
                }
                let (down_for, gone_for) = tracker.ages(&id, now);
                let departure = Rumor::Departure(Arc::new(warren_ring::Departure {
                    member_id: id.clone(),
                }));
                if commands.send(RingCommand::Publish(departure)).is_err() {
                    return;
                }
                tracker.departed(&id);
                count += 1;
                warn!(
                    member_id = %id,
                    pod = %format!("{namespace}/{pod}"),
                    ?down_for,
                    ?gone_for,
                    departed_so_far = count,
                    "departing member {id}: its pod {namespace}/{pod} no longer exists"
                );
            }
        }
    }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::collections::BTreeMap;

    use warren_ring::census::{CensusCounters, CensusGroup, CensusMember};

    use super::*;

    const SG: &str = "redis.default";

    #[derive(Clone, Copy)]
    enum H {
        Alive,
        Suspect,
        Confirmed,
        Departed,
    }

    fn member(id: &str, h: H) -> CensusMember {
        let sys = warren_ring::SysInfo {
            hostname: format!("pod-{id}"),
            ..warren_ring::SysInfo::default()
        };
        CensusMember {
            member_id: MemberId::from(id),
            pkg: None,
            pkg_incarnation: 0,
            package: String::new(),
            service: "redis".into(),
            group: "default".into(),
            org: None,
            persistent: true,
            leader: false,
            follower: false,
            update_leader: false,
            update_follower: false,
            election_is_running: false,
            election_is_no_quorum: false,
            election_is_finished: true,
            update_election_is_running: false,
            update_election_is_no_quorum: false,
            update_election_is_finished: false,
            sys,
            alive: matches!(h, H::Alive),
            suspect: matches!(h, H::Suspect),
            confirmed: matches!(h, H::Confirmed),
            departed: matches!(h, H::Departed),
            cfg: String::new(),
        }
    }

    fn census(leader: Option<&str>, members: &[(&str, H)]) -> CensusRing {
        let me = MemberId::from("me");
        let mut population: BTreeMap<MemberId, CensusMember> = members
            .iter()
            .map(|&(id, h)| (MemberId::from(id), member(id, h)))
            .collect();
        population.insert(me.clone(), member("me", H::Alive));
        let g = CensusGroup {
            service_group: SG.into(),
            election_status: if leader.is_some() {
                CensusElectionStatus::ElectionFinished
            } else {
                CensusElectionStatus::ElectionNoQuorum
            },
            update_election_status: CensusElectionStatus::None,
            pkg_incarnation: 0,
            leader_id: leader.map(MemberId::from),
            service_config: None,
            local_member_id: me.clone(),
            population,
            update_leader_id: None,
            changed_service_files: Vec::new(),
            service_files: BTreeMap::new(),
            election_quorum: None,
        };
        CensusRing {
            changed: true,
            census_groups: BTreeMap::from([(SG.to_owned(), g)]),
            local_member_id: me,
            counters: CensusCounters::default(),
        }
    }

    fn timing() -> Timing {
        Timing::from_secs(30)
    }

    fn ids(due: &[(MemberId, String)]) -> Vec<String> {
        due.iter().map(|(id, _)| id.to_string()).collect()
    }

    #[test]
    fn timing_from_secs() {
        assert_eq!(Timing::from_secs(30).recheck, Duration::from_secs(10));
        assert_eq!(Timing::from_secs(300).recheck, Duration::from_secs(10));
        assert_eq!(Timing::from_secs(6).recheck, Duration::from_secs(2));
        assert_eq!(Timing::from_secs(0).recheck, Duration::from_secs(1));
    }

    #[test]
    fn only_down_members_of_groups_we_lead() {
        let all = [
            ("a", H::Alive),
            ("s", H::Suspect),
            ("c", H::Confirmed),
            ("d", H::Departed),
        ];
        let mut down: Vec<_> = down_members(&census(Some("me"), &all))
            .into_iter()
            .collect();
        down.sort();
        assert_eq!(
            down,
            [
                (MemberId::from("c"), "pod-c".to_owned()),
                (MemberId::from("s"), "pod-s".to_owned()),
            ]
        );
        // A follower, or a member of a group without a leader, departs nobody.
        assert!(down_members(&census(Some("a"), &all)).is_empty());
        assert!(down_members(&census(None, &all)).is_empty());
    }

    #[test]
    fn departs_after_down_and_gone_for_the_whole_time() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut tr = Tracker::new(timing());
        let c = census(Some("me"), &[("x", H::Confirmed), ("y", H::Suspect)]);
        let (x, y) = (MemberId::from("x"), MemberId::from("y"));
        // First sight: no read before `recheck`.
        assert!(tr.due(&c, t0).is_empty());
        assert!(tr.due(&c, at(9)).is_empty());
        assert_eq!(ids(&tr.due(&c, at(10))), ["x", "y"]);
        // At most one read per member per `recheck`.
        assert!(tr.due(&c, at(15)).is_empty());
        assert!(!tr.record(&x, PodState::Gone, at(10)));
        assert!(!tr.record(&y, PodState::Exists, at(10)));
        assert_eq!(ids(&tr.due(&c, at(20))), ["x", "y"]);
        assert!(!tr.record(&x, PodState::Gone, at(20)));
        assert!(!tr.record(&y, PodState::Gone, at(20)));
        assert_eq!(ids(&tr.due(&c, at(30))), ["x", "y"]);
        // An error says nothing: the run of 404s goes on.
        assert!(!tr.record(&x, PodState::Unknown, at(30)));
        assert!(!tr.record(&y, PodState::Gone, at(30)));
        assert_eq!(ids(&tr.due(&c, at(40))), ["x", "y"]);
        // x: down since 0 and gone since 10, both 30 s by 40. y's pod was found at 10.
        assert!(tr.record(&x, PodState::Gone, at(40)));
        assert!(!tr.record(&y, PodState::Gone, at(40)));
        tr.departed(&x);
        assert_eq!(ids(&tr.due(&c, at(50))), ["y"]);
        assert!(tr.record(&y, PodState::Gone, at(50)));
    }

    #[test]
    fn a_pod_found_again_starts_the_count_again() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut tr = Tracker::new(Timing::from_secs(30));
        let c = census(Some("me"), &[("x", H::Confirmed)]);
        let x = MemberId::from("x");
        tr.due(&c, t0);
        for s in [10, 20, 30] {
            tr.due(&c, at(s));
            assert!(!tr.record(&x, PodState::Gone, at(s)));
        }
        // Recreated under the same name (a StatefulSet) before the 404 lasted 30 s.
        tr.due(&c, at(40));
        assert!(!tr.record(&x, PodState::Exists, at(40)));
        for s in [50, 60, 70] {
            tr.due(&c, at(s));
            assert!(!tr.record(&x, PodState::Gone, at(s)), "{s}");
        }
        tr.due(&c, at(80));
        assert!(tr.record(&x, PodState::Gone, at(80)));
    }

    #[test]
    fn alive_again_or_not_leading_forgets_the_member() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut tr = Tracker::new(timing());
        let x = MemberId::from("x");
        let down = census(Some("me"), &[("x", H::Confirmed)]);
        tr.due(&down, t0);
        tr.due(&down, at(10));
        assert!(!tr.record(&x, PodState::Gone, at(10)));
        // Alive at 15: never departed, whatever the API said; its clocks start again.
        assert!(
            tr.due(&census(Some("me"), &[("x", H::Alive)]), at(15))
                .is_empty()
        );
        assert!(!tr.record(&x, PodState::Gone, at(15)));
        tr.due(&down, at(16));
        for s in [26, 36] {
            assert_eq!(ids(&tr.due(&down, at(s))), ["x"]);
            assert!(!tr.record(&x, PodState::Gone, at(s)), "{s}");
        }
        // We stop leading at 40: the member is forgotten, no read is due.
        assert!(
            tr.due(&census(Some("y"), &[("x", H::Confirmed)]), at(46))
                .is_empty()
        );
        assert!(!tr.record(&x, PodState::Gone, at(56)));
        assert!(
            tr.due(&census(None, &[("x", H::Confirmed)]), at(60))
                .is_empty()
        );
    }
}
