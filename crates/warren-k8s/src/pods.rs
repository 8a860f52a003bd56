//! Whether a pod still exists: [`PodReader`] reads pods by name in this pod's namespace and
//! says [`PodState::Exists`], [`PodState::Gone`] (404) or that it cannot tell.
//!
//! Only a 404 from the API server is read as "gone". Every other outcome — a connection error,
//! a timeout, 401, 429, 5xx, a name that is not a pod name — is [`PodState::Unknown`]: the
//! caller asks again later and must not act. A 403 means the service account may not `get`
//! `pods`: it is logged once, with the verb and resource the Role lacks, and from then on the
//! reader answers [`PodState::Forbidden`] without sending anything (the Role is not re-checked:
//! a restart picks up a fixed Role).
//!
//! What it does not do: decide anything about members (that is the caller's), cache answers,
//! retry on its own, watch or list pods, or read any other namespace.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::client::{ApiReply, Client};

/// What one read of a pod came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodState {
    /// The API server returned the pod (200).
    Exists,
    /// The API server said there is no such pod (404).
    Gone,
    /// No answer that says either (connection error, 401, 429, 5xx, another status, a name
    /// that is not a pod name): ask again later.
    Unknown,
    /// 403: the service account may not read pods; this reader sends no more requests.
    Forbidden,
}

/// Counters of pod reads by outcome (monotonic).
#[derive(Debug, Default)]
pub struct PodStats {
    exists: AtomicU64,
    gone: AtomicU64,
    unknown: AtomicU64,
    forbidden: AtomicU64,
}

/// A copy of [`PodStats`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PodStatsSnapshot {
    /// Reads answered 200.
    pub exists: u64,
    /// Reads answered 404.
    pub gone: u64,
    /// Reads that told nothing (see [`PodState::Unknown`]).
    pub unknown: u64,
    /// Reads answered 403 (at most one: the reader stops after it).
    pub forbidden: u64,
}

impl PodStats {
    /// The counters now.
    pub fn snapshot(&self) -> PodStatsSnapshot {
        PodStatsSnapshot {
            exists: self.exists.load(Ordering::Relaxed),
            gone: self.gone.load(Ordering::Relaxed),
            unknown: self.unknown.load(Ordering::Relaxed),
            forbidden: self.forbidden.load(Ordering::Relaxed),
        }
    }
}

/// Reads pods by name through a [`Client`]; one request per [`PodReader::read`], none after a
/// 403. Owned by one task (it is `&mut self`), so no state is shared but the counters.
#[derive(Debug)]
pub struct PodReader {
    client: Client,
    stats: Arc<PodStats>,
    forbidden: bool,
}

impl PodReader {
    /// A reader using `client` (pods are read in `client.config().namespace`).
    pub fn new(client: Client) -> PodReader {
        PodReader {
            client,
            stats: Arc::default(),
            forbidden: false,
        }
    }

    /// The counters.
    pub fn stats(&self) -> &Arc<PodStats> {
        &self.stats
    }

    /// Whether a 403 stopped this reader.
    pub fn is_forbidden(&self) -> bool {
        self.forbidden
    }

    /// Reads pod `name`: one `GET`, unless a 403 was seen before.
    pub async fn read(&mut self, name: &str) -> PodState {
        if self.forbidden {
            return PodState::Forbidden;
        }
        let reply = self.client.get_pod(name).await;
        let count = |c: &AtomicU64| c.fetch_add(1, Ordering::Relaxed);
        let state = match reply {
            Ok(ApiReply { status: 200, .. }) => PodState::Exists,
            Ok(ApiReply { status: 404, .. }) => PodState::Gone,
            Ok(ApiReply {
                status: 403,
                message,
                ..
            }) => {
                self.forbidden = true;
                tracing::warn!(
                    namespace = %self.client.config().namespace,
                    api_message = message.as_deref().unwrap_or(""),
                    "reading pods: forbidden: the pod's service account needs a Role granting \
                     verb \"get\" on resource \"pods\" (apiGroup \"\") in its namespace; no more \
                     pods are read, so no member is departed for its pod being gone"
                );
                PodState::Forbidden
            }
            Ok(ApiReply {
                status, message, ..
            }) => {
                tracing::debug!(pod = name, status, ?message, "reading a pod: no answer");
                PodState::Unknown
            }
            Err(e) => {
                tracing::debug!(pod = name, error = %e, "reading a pod failed");
                PodState::Unknown
            }
        };
        count(match state {
            PodState::Exists => &self.stats.exists,
            PodState::Gone => &self.stats.gone,
            PodState::Unknown => &self.stats.unknown,
            PodState::Forbidden => &self.stats.forbidden,
        });
        state
    }
}
