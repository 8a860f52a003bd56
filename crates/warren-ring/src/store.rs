//! The rumor store: one value per [`RumorKey`], merged with Habitat's rules.
//!
//! The store only keeps values and the time each last changed; it knows nothing of members,
//! dissemination or garbage-collection policy (the ring decides what to drop and calls
//! [`RumorStore::remove`]). Member records are not stored here: they live in the member list.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::member::MemberId;
use crate::rumor::{Merged, Rumor, RumorKey, Service, merge_election, merge_versioned};
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
    counters: BTreeMap<&'static str, u64>,
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
            *self.counters.entry(key.kind()).or_default() += 1;
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
                *self.counters.entry(key.kind()).or_default() += 1;
                Outcome::Changed
            }
        }
    }

    /// Sets `key`'s value without merging: for a member's own authoritative change of a value it
    /// owns (a candidate finishing its election). Returns whether the value differed.
    pub fn set(&mut self, rumor: Rumor, now: Time) -> bool {
        let key = rumor.key();
        let kind = key.kind();
        match self.entries.get_mut(&key) {
            Some(e) if e.rumor == rumor => false,
            Some(e) => {
                e.rumor = rumor;
                e.changed_at = now;
                *self.counters.entry(kind).or_default() += 1;
                true
            }
            None => {
                *self.counters.entry(kind).or_default() += 1;
                self.entries.insert(
                    key,
                    Entry {
                        rumor,
                        changed_at: now,
                    },
                );
                true
            }
        }
    }

    /// The owners of the Service rumors stored for `service_group`, in member-id order; withdrawn
    /// services (`Service::withdrawn`) are not members of the group and are left out.
    pub fn services_in<'a>(&'a self, service_group: &str) -> impl Iterator<Item = &'a MemberId> {
        let sg = service_group.to_owned();
        let from = RumorKey::Service(sg.clone(), MemberId::new(""));
        self.entries
            .range(from..)
            .map_while(move |(k, e)| match k {
                RumorKey::Service(g, id) if *g == sg => Some((id, e)),
                _ => None,
            })
            .filter(|(_, e)| !matches!(&e.rumor, Rumor::Service(s) if s.withdrawn))
            .map(|(id, _)| id)
    }

    /// The Service rumor `owner` holds in `service_group`, withdrawn or not.
    pub fn service(&self, service_group: &str, owner: &MemberId) -> Option<&Service> {
        match &self
            .entries
            .get(&RumorKey::Service(service_group.to_owned(), owner.clone()))?
            .rumor
        {
            Rumor::Service(s) => Some(s),
            _ => None,
        }
    }

    /// The stored value for `key`.
    pub fn get(&self, key: &RumorKey) -> Option<&Entry> {
        self.entries.get(key)
    }

    /// Removes `key`; returns whether it was there.
    pub fn remove(&mut self, key: &RumorKey) -> bool {
        let removed = self.entries.remove(key).is_some();
        if removed {
            *self.counters.entry(key.kind()).or_default() += 1;
        }
        removed
    }

    /// How many times rumors of `kind` ([`RumorKey::kind`]) were added, replaced or removed.
    pub fn counter(&self, kind: &str) -> u64 {
        self.counters.get(kind).copied().unwrap_or(0)
    }

    /// How many times Service rumors were added, replaced or removed: what a judgement of a
    /// group's members compares to know that none changed.
    pub fn service_changes(&self) -> u64 {
        self.counter("service")
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
