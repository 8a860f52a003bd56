//! The pod role label (`warren run PLAN --topology leader --kubernetes-role-label KEY`): follows
//! this member's role in its service group from the census and has `warren-k8s` label the pod
//! (`KEY=leader`, `KEY=follower`, no label while the group has no leader), and removes the label
//! first on a graceful stop, so a stopping leader stops getting traffic before its service stops.
//! The labeler's patch counters are copied into the metrics
//! (`warren_k8s_label_patches_total{service_group,outcome}`) when it starts (all zero), every
//! [`METRICS_EVERY`] while it runs, and once more after the label's removal.
//!
//! It does not decide anything about elections, and it never blocks the ring or the service:
//! the labeler is a task of its own fed the latest role. Outside a pod (no in-cluster
//! configuration) it logs one line and does nothing.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{error, info};
use warren_k8s::{Client, Config, LabelerOptions, Role, RoleLabeler, Stats};
use warren_metrics::{LabelPatchTotals, Metrics};
use warren_ring::census::CensusRing;

/// How long a graceful stop waits for the label's removal.
const REMOVE_BUDGET: Duration = Duration::from_secs(3);
/// How often the labeler's counters are copied into the metrics.
const METRICS_EVERY: Duration = Duration::from_secs(1);

/// The labeler's counters as the metrics name them.
fn totals(stats: &Stats) -> LabelPatchTotals {
    let s = stats.snapshot();
    LabelPatchTotals {
        ok: s.ok,
        retried: s.retried,
        forbidden: s.forbidden,
        not_found: s.gone,
        failed: s.failed,
    }
}

/// This member's role in `service_group` as the census says.
pub(crate) fn role_in(census: &CensusRing, service_group: &str) -> Role {
    let Some(g) = census.census_groups.get(service_group) else {
        return Role::None;
    };
    match &g.leader_id {
        Some(l) if *l == g.local_member_id => Role::Leader,
        Some(_) => Role::Follower,
        None => Role::None,
    }
}

/// Spawns the labeler for `service_group` with label `key`; the task ends (label removed) once
/// `stop` is cancelled; its counters go to `metrics`. `None` outside a pod (logged).
pub(crate) fn spawn(
    key: String,
    service_group: String,
    mut census: watch::Receiver<Option<Arc<CensusRing>>>,
    stop: CancellationToken,
    metrics: Metrics,
) -> Option<JoinHandle<()>> {
    let client = match Config::in_cluster()
        .map_err(|e| e.to_string())
        .and_then(|c| Client::new(c).map_err(|e| e.to_string()))
    {
        Ok(c) => c,
        Err(e) => {
            error!(%service_group, label = %key, "not labelling the pod with its role: {e}");
            return None;
        }
    };
    info!(%service_group, label = %key, "labelling the pod with its role in the group");
    let service_group_m = service_group.clone();
    let labeler = RoleLabeler::new(client, LabelerOptions::new(key)).spawn();
    let stats = Arc::clone(labeler.stats());
    let record = move || {
        metrics
            .k8s
            .record_label_patches(&service_group_m, &totals(&stats))
    };
    record();
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(METRICS_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            if let Some(c) = census.borrow_and_update().clone() {
                labeler.set_role(role_in(&c, &service_group));
            }
            tokio::select! {
                changed = census.changed() => {
                    if changed.is_err() {
                        break;
                    }
                }
                () = stop.cancelled() => break,
                _ = tick.tick() => record(),
            }
        }
        if !labeler.remove_and_stop(REMOVE_BUDGET).await {
            error!(%service_group, "the role label was not removed within {REMOVE_BUDGET:?}");
        }
        record();
    }))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use warren_ring::MemberId;
    use warren_ring::census::{CensusCounters, CensusElectionStatus, CensusGroup};

    use super::*;

    fn census(leader: Option<&str>) -> CensusRing {
        let me = MemberId::from("me");
        let g = CensusGroup {
            service_group: "redis.default".into(),
            election_status: CensusElectionStatus::ElectionFinished,
            update_election_status: CensusElectionStatus::None,
            pkg_incarnation: 0,
            leader_id: leader.map(MemberId::from),
            service_config: None,
            local_member_id: me.clone(),
            population: BTreeMap::new(),
            update_leader_id: None,
            changed_service_files: Vec::new(),
            service_files: BTreeMap::new(),
            election_quorum: None,
        };
        CensusRing {
            changed: true,
            census_groups: BTreeMap::from([("redis.default".to_owned(), g)]),
            local_member_id: me,
            counters: CensusCounters::default(),
        }
    }

    #[test]
    fn the_role_follows_the_census() {
        assert_eq!(role_in(&census(Some("me")), "redis.default"), Role::Leader);
        assert_eq!(
            role_in(&census(Some("other")), "redis.default"),
            Role::Follower
        );
        assert_eq!(role_in(&census(None), "redis.default"), Role::None);
        assert_eq!(role_in(&census(Some("me")), "other.default"), Role::None);
    }
}
