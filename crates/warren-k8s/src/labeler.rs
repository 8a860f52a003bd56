//! The logic: which patch to send when, and what to do with the answer.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rand::{Rng, SeedableRng, rngs::SmallRng};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::client::{Client, PatchReply};

/// The election role to publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// This member leads its service group.
    Leader,
    /// This member follows.
    Follower,
    /// No role: the label is removed.
    None,
}

/// How the labeler labels and retries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelerOptions {
    /// The label key, e.g. `role` (a prefixed key such as `warren.habitat.sh/role` works too).
    pub key: String,
    /// The value for [`Role::Leader`] (default `leader`).
    pub leader_value: String,
    /// The value for [`Role::Follower`] (default `follower`).
    pub follower_value: String,
    /// The first retry delay (default 200 ms); doubled each attempt, up to `backoff_cap`.
    pub backoff_base: Duration,
    /// The longest retry delay (default 10 s), before jitter.
    pub backoff_cap: Duration,
    /// Seed of the jitter's RNG (any value; fixed in tests).
    pub jitter_seed: u64,
}

impl LabelerOptions {
    /// The defaults with label key `key`.
    pub fn new(key: impl Into<String>) -> LabelerOptions {
        LabelerOptions {
            key: key.into(),
            leader_value: "leader".to_owned(),
            follower_value: "follower".to_owned(),
            backoff_base: Duration::from_millis(200),
            backoff_cap: Duration::from_secs(10),
            jitter_seed: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64),
        }
    }

    fn value(&self, role: Role) -> Option<String> {
        match role {
            Role::Leader => Some(self.leader_value.clone()),
            Role::Follower => Some(self.follower_value.clone()),
            Role::None => None,
        }
    }

    /// The delay before retry number `attempt` (0-based): `min(cap, base * 2^attempt)`, of
    /// which the upper half is random ("equal jitter"), so the delay is never below half.
    fn backoff(&self, attempt: u32, rng: &mut SmallRng) -> Duration {
        let exp = self
            .backoff_base
            .saturating_mul(1u32 << attempt.min(20))
            .min(self.backoff_cap);
        let half = exp / 2;
        let jitter = rng.random_range(0..=half.as_micros() as u64);
        half + Duration::from_micros(jitter)
    }
}

/// Counters of patches by outcome (monotonic; `warren` exports them as
/// `warren_k8s_label_patches_total`).
#[derive(Debug, Default)]
pub struct Stats {
    ok: AtomicU64,
    retried: AtomicU64,
    forbidden: AtomicU64,
    gone: AtomicU64,
    failed: AtomicU64,
}

/// A copy of [`Stats`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Patches acknowledged (2xx).
    pub ok: u64,
    /// Attempts that failed and were retried (connection error, 401, 409, 429, 5xx).
    pub retried: u64,
    /// 403 answers (the value is then given up).
    pub forbidden: u64,
    /// 404 answers (the labeler then stops).
    pub gone: u64,
    /// Other failures not retried (another 4xx, a bad CA or host name).
    pub failed: u64,
}

impl Stats {
    /// The counters now.
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            ok: self.ok.load(Ordering::Relaxed),
            retried: self.retried.load(Ordering::Relaxed),
            forbidden: self.forbidden.load(Ordering::Relaxed),
            gone: self.gone.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
        }
    }
}

/// What the task is asked to do; the last value wins.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Command {
    /// Nothing asked yet.
    Idle,
    /// Publish this role.
    Role(Role),
    /// Remove the label, then end.
    Stop,
}

/// What one attempt came to.
enum Attempt {
    Acked,
    Retry(Duration),
    RetryNow,
    Forbidden,
    Gone,
    Failed,
}

/// The labeler: owns the client, the last acknowledged value and the retry state. Run it with
/// [`RoleLabeler::spawn`]; talk to it through the [`LabelerHandle`].
#[derive(Debug)]
pub struct RoleLabeler {
    client: Client,
    opts: LabelerOptions,
    stats: Arc<Stats>,
    rng: SmallRng,
    /// The last value the API acknowledged: `None` unknown, `Some(None)` no label.
    acked: Option<Option<String>>,
    /// A value given up (403 or another non-retryable answer) until the desired value changes.
    given_up: Option<Option<String>>,
    warned_forbidden: bool,
}

/// The caller's side of a running labeler. Never blocks: [`LabelerHandle::set_role`] only
/// stores the desired role. Dropping the handle without [`LabelerHandle::remove_and_stop`]
/// ends the task at its next wait and leaves the label as it is.
#[derive(Debug)]
pub struct LabelerHandle {
    tx: watch::Sender<Command>,
    task: JoinHandle<()>,
    stats: Arc<Stats>,
}

impl LabelerHandle {
    /// Asks for `role` to be published (supersedes any role not yet acknowledged).
    pub fn set_role(&self, role: Role) {
        self.tx.send_if_modified(|cmd| {
            if *cmd == Command::Stop || *cmd == Command::Role(role) {
                return false;
            }
            *cmd = Command::Role(role);
            true
        });
    }

    /// The patch counters.
    pub fn stats(&self) -> &Arc<Stats> {
        &self.stats
    }

    /// Whether the task has ended (stopped, or the pod is gone).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Graceful stop: removes the label (retrying as usual) and ends the task, waiting at most
    /// `timeout`. Returns `true` if the task ended in time (the label was removed, or could not
    /// be: see the counters and logs), `false` if it was cut short.
    pub async fn remove_and_stop(self, timeout: Duration) -> bool {
        self.tx.send_replace(Command::Stop);
        let mut task = self.task;
        match tokio::time::timeout(timeout, &mut task).await {
            Ok(_) => true,
            Err(_) => {
                tracing::warn!(
                    ?timeout,
                    "role label: not removed within the stop timeout; giving up"
                );
                task.abort();
                false
            }
        }
    }
}

impl RoleLabeler {
    /// A labeler patching through `client`.
    pub fn new(client: Client, opts: LabelerOptions) -> RoleLabeler {
        RoleLabeler {
            client,
            rng: SmallRng::seed_from_u64(opts.jitter_seed),
            opts,
            stats: Arc::default(),
            acked: None,
            given_up: None,
            warned_forbidden: false,
        }
    }

    /// Starts the task (on the current tokio runtime). Nothing is patched until the first
    /// [`LabelerHandle::set_role`].
    pub fn spawn(self) -> LabelerHandle {
        let (tx, rx) = watch::channel(Command::Idle);
        let stats = self.stats.clone();
        let pod = self.client.config().pod_path();
        let task = tokio::spawn(tracing::Instrument::instrument(
            self.run(rx),
            tracing::info_span!("role_label", %pod),
        ));
        LabelerHandle { tx, task, stats }
    }

    async fn run(mut self, mut rx: watch::Receiver<Command>) {
        // The value being tried and how many times it failed.
        let mut trying: Option<Option<String>> = None;
        let mut attempt: u32 = 0;
        let mut auth_retried = false;
        loop {
            let cmd = rx.borrow_and_update().clone();
            let stopping = cmd == Command::Stop;
            let target = match cmd {
                Command::Idle => None,
                Command::Role(role) => Some(self.opts.value(role)),
                // Remove the label unless it is known to be absent.
                Command::Stop => Some(None),
            };
            let needed = match &target {
                Some(t) => self.acked.as_ref() != Some(t) && self.given_up.as_ref() != Some(t),
                None => false,
            };
            let Some(target) = target.filter(|_| needed) else {
                if stopping || rx.changed().await.is_err() {
                    return;
                }
                continue;
            };
            if trying.as_ref() != Some(&target) {
                trying = Some(target.clone());
                attempt = 0;
                auth_retried = false;
                self.given_up = None;
            }
            match self
                .attempt(target.as_deref(), attempt, &mut auth_retried)
                .await
            {
                Attempt::Acked => {
                    self.acked = Some(target);
                    trying = None;
                }
                Attempt::RetryNow => {}
                Attempt::Retry(delay) => {
                    attempt = attempt.saturating_add(1);
                    tokio::select! {
                        () = tokio::time::sleep(delay) => {}
                        changed = rx.changed() => {
                            // A newer desired role (or a stop) supersedes this value now; a
                            // dropped handle ends the task.
                            if changed.is_err() {
                                return;
                            }
                        }
                    }
                }
                Attempt::Forbidden | Attempt::Failed => {
                    self.given_up = Some(target);
                    trying = None;
                }
                Attempt::Gone => return,
            }
        }
    }

    /// One patch and its classification (counters and logs included).
    async fn attempt(
        &mut self,
        value: Option<&str>,
        attempt: u32,
        auth_retried: &mut bool,
    ) -> Attempt {
        let key = self.opts.key.as_str();
        let reply = self.client.patch_label(key, value).await;
        let backoff = self.opts.backoff(attempt, &mut self.rng);
        let stats = &self.stats;
        let count = |c: &AtomicU64| c.fetch_add(1, Ordering::Relaxed);
        match reply {
            Err(e) if e.is_transient() => {
                count(&stats.retried);
                tracing::debug!(error = %e, ?backoff, "role label: patch failed; retrying");
                Attempt::Retry(backoff)
            }
            Err(e) => {
                count(&stats.failed);
                tracing::warn!(error = %e, "role label: cannot patch the pod; giving up this value");
                Attempt::Failed
            }
            Ok(PatchReply { status, .. }) if (200..300).contains(&status) => {
                count(&stats.ok);
                tracing::debug!(label = key, ?value, "role label: patched");
                Attempt::Acked
            }
            Ok(PatchReply {
                status: 401,
                message,
                ..
            }) => {
                count(&stats.retried);
                if *auth_retried {
                    tracing::debug!(?message, ?backoff, "role label: 401 again; backing off");
                    Attempt::Retry(backoff)
                } else {
                    // The token is re-read for every request: retry once at once.
                    *auth_retried = true;
                    tracing::debug!(?message, "role label: 401; re-reading the token");
                    Attempt::RetryNow
                }
            }
            Ok(PatchReply {
                status: 403,
                message,
                ..
            }) => {
                count(&stats.forbidden);
                if !self.warned_forbidden {
                    self.warned_forbidden = true;
                    tracing::warn!(
                        api_message = message.as_deref().unwrap_or(""),
                        "role label: forbidden: the pod's service account needs a Role granting \
                         verb \"patch\" on resource \"pods\" (apiGroup \"\") in its namespace; \
                         the label is not published"
                    );
                }
                Attempt::Forbidden
            }
            Ok(PatchReply { status: 404, .. }) => {
                count(&stats.gone);
                tracing::info!("role label: the pod is gone (404); no more patches");
                Attempt::Gone
            }
            Ok(PatchReply {
                status,
                retry_after,
                message,
                ..
            }) if status == 409 || status == 429 || status >= 500 => {
                count(&stats.retried);
                let delay = retry_after.map_or(backoff, |ra| ra.max(backoff));
                tracing::debug!(
                    status,
                    ?message,
                    ?delay,
                    "role label: patch refused; retrying"
                );
                Attempt::Retry(delay)
            }
            Ok(PatchReply {
                status, message, ..
            }) => {
                count(&stats.failed);
                tracing::warn!(
                    status,
                    api_message = message.as_deref().unwrap_or(""),
                    "role label: patch rejected; giving up this value"
                );
                Attempt::Failed
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_capped_and_jittered() {
        let mut opts = LabelerOptions::new("role");
        opts.backoff_base = Duration::from_millis(200);
        opts.backoff_cap = Duration::from_secs(10);
        let mut rng = SmallRng::seed_from_u64(7);
        for attempt in 0..40 {
            let exp = Duration::from_millis(200)
                .saturating_mul(1 << attempt.min(20))
                .min(Duration::from_secs(10));
            let d = opts.backoff(attempt, &mut rng);
            assert!(
                d >= exp / 2 && d <= exp,
                "attempt {attempt}: {d:?} vs {exp:?}"
            );
        }
        let spread: std::collections::HashSet<_> =
            (0..20).map(|_| opts.backoff(10, &mut rng)).collect();
        assert!(spread.len() > 1, "no jitter");
    }
}
