//! The pod role label (`warren run PLAN --topology leader --kubernetes-role-label KEY`): follows
//! this member's role in its service group from the census and has `warren-k8s` label the pod
//! (`KEY=leader`, `KEY=follower`, no label while the group has no leader), and removes the label
//! first on a graceful stop, so a stopping leader stops getting traffic before its service stops.
//! The labeler's patch counters are copied into the metrics
//! (`warren_k8s_label_patches_total{service_group,outcome}`) when it starts (all zero), every
//! [`METRICS_EVERY`] while it runs, and once more after the label's removal.
//!
//! **A stale leader label.** A leader cut off from the network steps down (its lease) but
//! cannot reach the API server to remove its label, so once another member becomes leader two
//! pods would say `KEY=leader`. A member that becomes leader therefore reads the pods of the
//! group's other members (named by their `sys.hostname`, the pod name in Kubernetes) and removes
//! `KEY` from any that still says `leader` ([`demote_stale_leaders`]); each member's own labeler
//! sets its label again from its role once it can. The lease makes this safe: an old leader
//! stops acting before another member can be elected, so the label removed is never that of a
//! member still acting as leader. It needs `get` and `patch` on pods, which the Role grants.
//!
//! It does not decide anything about elections, and it never blocks the ring or the service:
//! the labeler is a task of its own fed the latest role. Outside a pod (no in-cluster
//! configuration) it logs one line and does nothing.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};
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
    let demoter = client.clone();
    let opts = LabelerOptions::new(key);
    let demote_label = (opts.key.clone(), opts.leader_value.clone());
    let labeler = RoleLabeler::new(client, opts).spawn();
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
        let mut leading = false;
        loop {
            if let Some(c) = census.borrow_and_update().clone() {
                let role = role_in(&c, &service_group);
                labeler.set_role(role);
                let now_leading = role == Role::Leader;
                if now_leading && !leading {
                    let pods = other_pods(&c, &service_group);
                    tokio::spawn(demote_stale_leaders(
                        demoter.clone(),
                        demote_label.clone(),
                        pods,
                        stop.clone(),
                    ));
                }
                leading = now_leading;
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

/// The pod names (`sys.hostname`) of the other members of `service_group` in the census.
fn other_pods(census: &CensusRing, service_group: &str) -> Vec<String> {
    let Some(g) = census.census_groups.get(service_group) else {
        return Vec::new();
    };
    g.population
        .values()
        .filter(|m| m.member_id != g.local_member_id)
        .map(|m| m.sys.hostname.clone())
        .filter(|h| warren_k8s::is_pod_name(h))
        .collect()
}

/// How often a pod that could not be read or patched is tried again, and how many times.
const DEMOTE_RETRY: Duration = Duration::from_secs(1);
const DEMOTE_ATTEMPTS: u32 = 10;

/// Removes label `key` from each of `pods` whose label still says `leader` (the label's
/// leader value; see the module docs). Gives up on a pod after [`DEMOTE_ATTEMPTS`] failed tries,
/// or at once on 403 / 404.
async fn demote_stale_leaders(
    client: Client,
    (key, leader): (String, String),
    pods: Vec<String>,
    stop: CancellationToken,
) {
    for pod in pods {
        for _ in 0..DEMOTE_ATTEMPTS {
            if stop.is_cancelled() {
                return;
            }
            match demote(&client, &key, &leader, &pod).await {
                Demote::Done => break,
                Demote::Retry(why) => {
                    tracing::debug!(%pod, %why, "could not check the pod's role label yet");
                    tokio::time::sleep(DEMOTE_RETRY).await;
                }
            }
        }
    }
}

enum Demote {
    Done,
    Retry(String),
}

async fn demote(client: &Client, key: &str, leader: &str, pod: &str) -> Demote {
    let reply = match client.get_pod(pod).await {
        Ok(r) => r,
        Err(e) => return Demote::Retry(e.to_string()),
    };
    match reply.status {
        200 if reply.labels.get(key).map(String::as_str) == Some(leader) => {}
        200 | 403 | 404 => return Demote::Done,
        s => return Demote::Retry(format!("GET answered {s}")),
    }
    match client.patch_label_of(pod, key, None).await {
        Ok(r) if (200..300).contains(&r.status) => {
            warn!(%pod, label = %key, "removed a stale leader label from the pod of a former leader");
            Demote::Done
        }
        Ok(r) if matches!(r.status, 403 | 404) => Demote::Done,
        Ok(r) => Demote::Retry(format!("PATCH answered {}", r.status)),
        Err(e) => Demote::Retry(e.to_string()),
    }
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
