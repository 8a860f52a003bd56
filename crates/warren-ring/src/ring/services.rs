//! This member's own Service rumors: publishing one (which makes it a member of the group, and
//! so of the group's elections), withdrawing one when a service is unloaded (which also takes it
//! out of the group's elections), and refuting one heard above what it publishes now.
//!
//! Not here: the elections themselves (`crate::elections`), Service rumors of other members
//! (merged like any rumor by the ring).

use std::sync::Arc;

use super::Ring;
use crate::rumor::{Rumor, Service};
use crate::store::Outcome;
use crate::time::Time;

impl Ring {
    /// Publishes this member's own Service rumor for its group: its incarnation becomes one more
    /// than the one this member last published (a restarted member's rumor file still holds it;
    /// a newer one peers still hold from before the restart is refuted when heard), so every
    /// member takes the new value (spec §5.2).
    pub fn publish_service(&mut self, mut service: Service, now: Time) -> Outcome {
        self.saw(now);
        service.member_id = self.me.id.clone();
        service.withdrawn = false;
        let stored = self
            .store
            .service(&service.service_group, &self.me.id)
            .map_or(0, |s| s.incarnation);
        let restored = self
            .restored_own
            .remove(&service.service_group)
            .map_or(0, |s| s.incarnation);
        service.incarnation = stored.max(restored).saturating_add(1);
        self.publish(Rumor::Service(Arc::new(service)), now)
    }

    /// Withdraws this member from `service_group` (the service was unloaded): its Service rumor
    /// is re-published withdrawn (see `Service::withdrawn`), so every Warren member drops it from
    /// the group's population, electorate and census, and this member stops taking part in the
    /// group's elections. A Habitat peer keeps counting it (Habitat has no way to leave a group
    /// but departing the ring).
    pub fn withdraw_service(&mut self, service_group: &str, now: Time) {
        self.saw(now);
        self.el.withdraw(service_group);
        let Some(mut s) = self
            .store
            .service(service_group, &self.me.id)
            .filter(|s| !s.withdrawn)
            .cloned()
        else {
            return;
        };
        s.incarnation = s.incarnation.saturating_add(1);
        s.withdrawn = true;
        self.publish(Rumor::Service(Arc::new(s)), now);
    }

    /// A Service rumor of mine heard from someone: refuted, as a member refutes a record about
    /// itself. What peers hold of my previous life (a rumor file on disk can be a write interval
    /// older than what I last published) must not win over what I publish now: my current value
    /// (or, for a service I no longer run, its withdrawal) goes out above their incarnation.
    pub(super) fn about_my_service(&mut self, heard: Arc<Service>, now: Time) {
        let mine = self
            .store
            .service(&heard.service_group, &self.me.id)
            .cloned();
        let answer = match mine {
            Some(m) => {
                // A Habitat peer drops the withdrawn tag when it passes my rumor on; the same
                // value without it is not news. A withdrawal of a service I run again is.
                let same = if m.withdrawn && !heard.withdrawn {
                    Service {
                        withdrawn: true,
                        ..(*heard).clone()
                    } == m
                } else {
                    *heard == m
                };
                let newer = heard.incarnation > m.incarnation;
                (newer || (heard.incarnation == m.incarnation && !same)).then_some(m)
            }
            // A service I do not run: its withdrawal stands, anything else is withdrawn.
            None if heard.withdrawn => None,
            None => Some(Service {
                withdrawn: true,
                ..(*heard).clone()
            }),
        };
        match answer {
            Some(mut r) => {
                self.stats.service_refutations += 1;
                r.incarnation = heard.incarnation.saturating_add(1);
                r.member_id = self.me.id.clone();
                self.merge_rumor(Rumor::Service(Arc::new(r)), None, now);
            }
            None => {
                self.merge_rumor(Rumor::Service(heard), None, now);
            }
        }
    }
}
