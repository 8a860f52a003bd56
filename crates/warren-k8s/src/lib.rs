//! Publishes this pod's election role as a label on its own Pod, and tells whether other pods
//! of its namespace still exist.
//!
//! A [`RoleLabeler`] runs as a tokio task: the caller hands it the desired [`Role`] (never
//! blocking), and it sends `PATCH /api/v1/namespaces/{ns}/pods/{name}` (a JSON merge patch
//! setting or removing one label) to the API server whenever the desired value differs from the
//! last one the API acknowledged. Failures are retried with capped exponential backoff and
//! jitter; 401 re-reads the service-account token, 403 is logged once (the Role lacks
//! `patch` on `pods`), 404 (the pod is gone) stops the labeler. A graceful stop removes the label.
//!
//! A [`PodReader`] reads pods by name (`GET /api/v1/namespaces/{ns}/pods/{name}`, in this
//! pod's namespace) and says whether each exists, is gone (404) or cannot be told; 403 is logged
//! once (the Role lacks `get` on `pods`) and stops it. `warren run --kubernetes-depart-gone`
//! uses it to depart members whose pods are gone.
//!
//! What it deliberately does not do: it does not watch or list pods, and the labeler does not
//! read its own pod (the last acknowledged value is the only state it keeps, so a label changed
//! by someone else is not restored until the role changes); it makes no other API call; it
//! decides nothing about members; it has no Kubernetes client library behind it (one HTTPS
//! connection per request over hyper and rustls).
//!
//! Pieces: [`Config`] (pod identity, API server address, the token and CA files; all
//! injectable, [`Config::in_cluster`] reads the usual environment and files), [`Client`] (the two
//! requests), [`RoleLabeler`] / [`LabelerHandle`] (the labeler's logic and its task), [`Stats`]
//! (its counters by outcome; the binary copies them into `warren_k8s_label_patches_total`), [`PodReader`] and [`PodStats`] (pod reads and their counters).
//! The tests drive it against an in-process fake API server (`tests/support/fake.rs`).

mod client;
mod config;
mod labeler;
mod pods;

pub use client::{ApiReply, Client, ClientError, PatchReply, is_pod_name};
pub use config::{Config, ConfigError, SERVICE_ACCOUNT_DIR, SERVICE_ACCOUNT_DIR_ENV};
pub use labeler::{LabelerHandle, LabelerOptions, Role, RoleLabeler, Stats, StatsSnapshot};
pub use pods::{PodReader, PodState, PodStats, PodStatsSnapshot};
