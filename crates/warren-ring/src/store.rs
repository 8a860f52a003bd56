//! The rumor store: one value per [`RumorKey`], merged with Habitat's rules.
//!
//! The store only keeps values and the time each last changed; it knows nothing of members,
//! dissemination or garbage-collection policy (the ring decides what to drop and calls
//! [`RumorStore::remove`]). Member records are not stored here: they live in the member list.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::rumor::{Merged, Rumor, RumorKey, merge_election, merge_versioned};
use crate::time::Time;

/// What a merge did to the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A new key, or a new value under a known key.
    Changed,
    /// Nothing changed, but the stored value should be shared again.
    KeepSharing,
    /// Nothing changed.
    Unchanged,
}

/// A stored value and when it last changed.
#[derive(Clone, Debug)]
pub struct Entry {
    /// The value.
    pub rumor: Rumor,
    /// When it was last replaced (or first stored).
    pub changed_at: Time,
}

/// Every non-member rumor this member holds.
#[derive(Clone, Debug, Default)]
pub struct RumorStore {
    entries: BTreeMap<RumorKey, Entry>,
}

impl RumorStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Merges `rumor` in. Member rumors are not stored here and return `Unchanged`.
    pub fn merge(&mut self, rumor: Rumor, now: Time) -> Outcome {
        if matches!(rumor, Rumor::Member { .. }) {
            return Outcome::Unchanged;
        }
        let key = rumor.key();
        let Some(entry) = self.entries.get_mut(&key) else {
            self.entries.insert(
                key,
                Entry {
                    rumor,
                    changed_at: now,
                },
            );
            return Outcome::Changed;
        };
        let merged = match (&entry.rumor, &rumor) {
            (Rumor::Service(s), Rumor::Service(r)) => {
                merge_versioned(s.as_ref(), r.as_ref()).map(|v| Rumor::Service(Arc::new(v)))
            }
            (Rumor::ServiceConfig(s), Rumor::ServiceConfig(r)) => {
                merge_versioned(s.as_ref(), r.as_ref()).map(|v| Rumor::ServiceConfig(Arc::new(v)))
            }
            (Rumor::ServiceFile(s), Rumor::ServiceFile(r)) => {
                merge_versioned(s.as_ref(), r.as_ref()).map(|v| Rumor::ServiceFile(Arc::new(v)))
            }
            (Rumor::Election(s), Rumor::Election(r)) => {
                merge_election(s, r).map(|v| Rumor::Election(Arc::new(v)))
            }
            (Rumor::ElectionUpdate(s), Rumor::ElectionUpdate(r)) => {
                merge_election(s, r).map(|v| Rumor::ElectionUpdate(Arc::new(v)))
            }
            // A departure is never replaced; other pairs cannot share a key.
            _ => Merged::Unchanged,
        };
        match merged {
            Merged::Unchanged => Outcome::Unchanged,
            Merged::KeepSharing => Outcome::KeepSharing,
            Merged::Replaced(v) => {
                entry.rumor = v;
                entry.changed_at = now;
                Outcome::Changed
            }
        }
    }

    /// The stored value for `key`.
    pub fn get(&self, key: &RumorKey) -> Option<&Entry> {
        self.entries.get(key)
    }

    /// Removes `key`; returns whether it was there.
    pub fn remove(&mut self, key: &RumorKey) -> bool {
        self.entries.remove(key).is_some()
    }

    /// Every entry, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&RumorKey, &Entry)> {
        self.entries.iter()
    }

    /// Number of stored rumors.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl<T> Merged<T> {
    fn map<U>(self, f: impl FnOnce(T) -> U) -> Merged<U> {
        match self {
            Merged::Unchanged => Merged::Unchanged,
            Merged::KeepSharing => Merged::KeepSharing,
            Merged::Replaced(v) => Merged::Replaced(f(v)),
        }
    }
}
