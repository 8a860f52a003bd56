//! Which ring events the gossip task publishes to the services without the snapshot interval's
//! wait.
//!
//! A config or file pushed to a group is urgent (`config apply` reaches every member's hook one
//! rumor-coverage time later, not up to half a second after it). So is an election, but only
//! when what the services see of it moves: its term, its status, its candidate, or the leader
//! this member acts on (a result starts to count once it has stood `ElectionConfig::confirm`,
//! which the ring announces as a change of the election). A vote that changes none of these is
//! not: in a group of a hundred members every member hears a hundred votes per election, and a
//! snapshot (census, documents, every service's render check) for each one kept a 2-core
//! machine running 100 members saturated. A member declared failed or gone, or back from that,
//! is urgent too: services bound to its group re-render on it, and `/butterfly`, `/census` and
//! `/metrics` are how an operator sees detection (they lagged it by up to the snapshot interval
//! when something else had just been published). Joins and suspicions are not: a forming ring
//! has as many joins as members, and a suspicion changes nothing a service acts on.
//!
//! Not here: when the snapshot is taken (`shell.rs`), what it holds (the caller's hooks).

use std::collections::HashMap;

use warren_ring::{
    Election, ElectionKind, ElectionStatus, Event, Health, MemberId, Ring, RumorKey, Time,
};

/// What the services see of one election.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Face {
    term: u64,
    status: ElectionStatus,
    candidate: MemberId,
    /// The leader this member acts on, if any.
    leader: Option<MemberId>,
}

impl Face {
    fn of(e: &Election, leader: Option<&MemberId>) -> Self {
        Face {
            term: e.term,
            status: e.status,
            candidate: e.member_id.clone(),
            leader: leader.cloned(),
        }
    }
}

/// Decides whether an event is urgent; remembers the last face of each election it was told of.
#[derive(Debug, Default)]
pub(crate) struct Urgency {
    faces: HashMap<(ElectionKind, String), Face>,
}

impl Urgency {
    /// Whether `ev` changes something the member's services act on. `ring` is read (at `now`)
    /// for the election an election event is about.
    pub(crate) fn urgent(&mut self, ev: &Event, ring: &Ring, now: Time) -> bool {
        let (kind, sg) = match ev {
            Event::RumorChanged(RumorKey::ServiceConfig(_) | RumorKey::ServiceFile(..)) => {
                return true;
            }
            Event::MemberChanged {
                health, previous, ..
            } => return failed_or_back(*previous, *health),
            Event::RumorChanged(RumorKey::Election(sg))
            | Event::RumorRemoved(RumorKey::Election(sg)) => (ElectionKind::Leader, sg),
            Event::RumorChanged(RumorKey::ElectionUpdate(sg))
            | Event::RumorRemoved(RumorKey::ElectionUpdate(sg)) => (ElectionKind::Update, sg),
            _ => return false,
        };
        let face = ring
            .election(sg, kind)
            .map(|e| Face::of(e, ring.leader(sg, kind, now)));
        self.election(kind, sg, face)
    }

    /// Records the face of `sg`'s election as it is now; whether it changed.
    fn election(&mut self, kind: ElectionKind, sg: &str, face: Option<Face>) -> bool {
        let key = (kind, sg.to_owned());
        match face {
            Some(face) => self.faces.insert(key, face.clone()) != Some(face),
            None => self.faces.remove(&key).is_some(),
        }
    }
}

/// Whether a member's health moved into or out of failed (Confirmed, Departed).
fn failed_or_back(previous: Option<Health>, health: Health) -> bool {
    let failed = |h: Health| matches!(h, Health::Confirmed | Health::Departed);
    match previous {
        Some(p) => p != health && (failed(p) || failed(health)),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn election(term: u64, status: ElectionStatus, candidate: &str, votes: &[&str]) -> Election {
        Election {
            member_id: MemberId::from(candidate),
            service_group: "hello.default".into(),
            term,
            suitability: 0,
            status,
            votes: votes.iter().map(|v| MemberId::from(*v)).collect(),
            committed: None,
        }
    }

    #[test]
    fn a_member_failed_gone_or_back_is_urgent_a_join_or_suspicion_is_not() {
        use Health::{Alive, Confirmed, Departed, Suspect};
        assert!(!failed_or_back(None, Alive), "a join");
        assert!(
            !failed_or_back(None, Confirmed),
            "first heard of already failed"
        );
        assert!(!failed_or_back(Some(Alive), Suspect));
        assert!(!failed_or_back(Some(Suspect), Alive), "a suspicion refuted");
        assert!(!failed_or_back(Some(Alive), Alive), "a new incarnation");
        assert!(failed_or_back(Some(Suspect), Confirmed));
        assert!(
            failed_or_back(Some(Alive), Confirmed),
            "a verdict heard first"
        );
        assert!(failed_or_back(Some(Alive), Departed), "left");
        assert!(!failed_or_back(Some(Confirmed), Confirmed));
        assert!(failed_or_back(Some(Confirmed), Departed));
        assert!(failed_or_back(Some(Confirmed), Alive), "back");
        assert!(failed_or_back(Some(Departed), Alive), "back");
    }

    fn face(e: &Election) -> Option<Face> {
        Some(Face::of(e, None))
    }

    #[test]
    fn a_vote_is_not_urgent_a_new_face_is() {
        let mut u = Urgency::default();
        let sg = "hello.default";
        let k = ElectionKind::Leader;
        let running = |votes: &[&str]| election(1, ElectionStatus::Running, "b", votes);
        assert!(u.election(k, sg, face(&running(&["a"]))), "first heard");
        assert!(
            !u.election(k, sg, face(&running(&["a", "c"]))),
            "one more vote"
        );
        assert!(!u.election(k, sg, face(&running(&["a", "c", "d"]))));
        assert!(
            u.election(
                k,
                sg,
                face(&election(1, ElectionStatus::Running, "c", &["a"]))
            ),
            "another candidate"
        );
        let finished = election(1, ElectionStatus::Finished, "c", &["a"]);
        assert!(u.election(k, sg, face(&finished)), "finished");
        let c = MemberId::from("c");
        assert!(
            u.election(k, sg, Some(Face::of(&finished, Some(&c)))),
            "its leader acts: the result has stood long enough"
        );
        assert!(
            !u.election(k, sg, Some(Face::of(&finished, Some(&c)))),
            "nothing new"
        );
        assert!(
            u.election(
                k,
                sg,
                face(&election(2, ElectionStatus::Finished, "c", &["a"]))
            ),
            "a new term"
        );
        assert!(
            u.election(ElectionKind::Update, sg, face(&running(&["a"]))),
            "the update election is another face"
        );
        assert!(u.election(k, sg, None), "gone");
        assert!(!u.election(k, sg, None), "already gone");
    }
}
