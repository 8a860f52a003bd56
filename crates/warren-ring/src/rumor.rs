//! Rumors: the replicated values of the ring, their keys and their merge rules.
//!
//! Each rumor kind is keyed as Habitat keys it (spec §5.2) and merged by a pure function
//! ([`merge_versioned`], [`merge_election`]). Where Habitat's rule leaves the outcome to arrival order (two different values at
//! the same incarnation), Warren breaks the tie on content so every member ends with the same value;
//! a Habitat peer never sees the difference because an owner never sends two values at one
//! incarnation. This module stores nothing and sends nothing: see `store.rs` and
//! `dissemination.rs`.

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::sync::Arc;

use crate::member::{MemberId, Membership};

/// System information carried by a Service rumor (Habitat's `SysInfo`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SysInfo {
    /// `sys.ip`.
    pub ip: String,
    /// `sys.hostname`.
    pub hostname: String,
    /// Gossip listen IP.
    pub gossip_ip: String,
    /// Gossip listen port.
    pub gossip_port: u32,
    /// HTTP gateway IP.
    pub http_gateway_ip: String,
    /// HTTP gateway port.
    pub http_gateway_port: u32,
    /// Control gateway IP.
    pub ctl_gateway_ip: String,
    /// Control gateway port.
    pub ctl_gateway_port: u32,
}

impl Default for SysInfo {
    fn default() -> Self {
        SysInfo {
            ip: "127.0.0.1".into(),
            hostname: "localhost".into(),
            gossip_ip: "127.0.0.1".into(),
            gossip_port: 9638,
            http_gateway_ip: "127.0.0.1".into(),
            http_gateway_port: 9631,
            ctl_gateway_ip: "127.0.0.1".into(),
            ctl_gateway_port: 9632,
        }
    }
}

/// A member's running service (Habitat's `Service` rumor). Field order is the merge order:
/// incarnation first, then content as a deterministic tie-break.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Service {
    /// Raised by the owner on every change.
    pub incarnation: u64,
    /// The owner.
    pub member_id: MemberId,
    /// `service.group[@org]`.
    pub service_group: String,
    /// Fully qualified package ident `origin/name/version/release`.
    pub pkg: String,
    /// Rolling-update counter.
    pub pkg_incarnation: u64,
    /// Habitat always sends false.
    pub initialized: bool,
    /// UTF-8 TOML of the exported configuration.
    pub cfg: Vec<u8>,
    /// System information.
    pub sys: SysInfo,
    /// Warren: the owner no longer runs the service (it was unloaded, or the member restarted
    /// without it). A withdrawn Service rumor takes the member out of the group for every Warren
    /// peer (population, electorate, census) and is collected after the GC age. On the wire it is
    /// an ordinary Service rumor plus the envelope tag [`WITHDRAWN_TAG`], which Habitat ignores.
    pub withdrawn: bool,
}

/// The Rumor envelope tag that marks a withdrawn Service rumor (Habitat sends no tags and reads
/// none).
pub const WITHDRAWN_TAG: &str = "warren:withdrawn";

/// A gossiped configuration for a service group (`hab config apply`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServiceConfig {
    /// Version; higher wins.
    pub incarnation: u64,
    /// The group it applies to.
    pub service_group: String,
    /// Whether `config` is a BOX-1 sealed box.
    pub encrypted: bool,
    /// TOML, or a BOX-1 string.
    pub config: Vec<u8>,
}

/// A gossiped file for a service group (`hab file upload`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServiceFile {
    /// Version; higher wins.
    pub incarnation: u64,
    /// The group it applies to.
    pub service_group: String,
    /// File name inside the service's `files/` directory.
    pub filename: String,
    /// Whether `body` is a BOX-1 sealed box.
    pub encrypted: bool,
    /// Raw bytes, or a BOX-1 string.
    pub body: Vec<u8>,
}

/// Status of an election.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ElectionStatus {
    /// Votes are being collected.
    Running,
    /// The candidate's view lacks quorum.
    NoQuorum,
    /// The candidate has every electorate vote and quorum.
    Finished,
}

/// An election (or update election) rumor for one service group.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Election {
    /// The candidate (on the wire: the envelope's `from_id`).
    pub member_id: MemberId,
    /// The group.
    pub service_group: String,
    /// Election term.
    pub term: u64,
    /// The candidate's suitability; higher wins.
    pub suitability: u64,
    /// Status as the candidate last judged it.
    pub status: ElectionStatus,
    /// Member ids that vote for the candidate, in arrival order.
    pub votes: Vec<MemberId>,
    /// Warren: the committed electorate the candidacy was stood under (the term and voters of
    /// the last finished result its candidate held), so that a member that joined the group after
    /// that result judges quorum against it rather than against every member it has heard of. On
    /// the wire it is the envelope tag [`Committed::to_tag`], which Habitat ignores (and drops
    /// when it forwards the rumor). On a Finished result a Warren winner replaces it with the
    /// result's own electorate, at the result's own term: the seal ([`Election::seal`]).
    pub committed: Option<Committed>,
}

impl Election {
    /// The electorate a Warren winner sealed its Finished result with (`committed` at the
    /// result's own term), if it carries one.
    pub fn seal(&self) -> Option<&Committed> {
        self.committed
            .as_ref()
            .filter(|c| self.status == ElectionStatus::Finished && c.term == self.term)
    }
}

/// The term and voters of a finished election: who a group was when it last agreed on a leader.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Committed {
    /// The finished result's term.
    pub term: u64,
    /// Its voters.
    pub voters: Vec<MemberId>,
}

/// At most this many voters travel in [`Election::committed`]: a group larger than this carries
/// none and its newcomers judge as Habitat's would (every member heard of counts). It keeps an
/// election with [`MAX_VOTES`] votes and a full committed electorate inside one 256 KiB frame.
pub const MAX_COMMITTED: usize = 1024;

/// The prefix of the Rumor envelope tag that carries [`Election::committed`].
pub const COMMITTED_TAG: &str = "warren:committed:";

impl Committed {
    /// The envelope tag: `warren:committed:<term>:<id>,<id>,...`.
    pub fn to_tag(&self) -> String {
        let mut tag = format!("{COMMITTED_TAG}{}:", self.term);
        for (i, v) in self.voters.iter().enumerate() {
            if i > 0 {
                tag.push(',');
            }
            tag.push_str(v.as_str());
        }
        tag
    }

    /// Reads a tag written by [`Committed::to_tag`]; `None` for any other tag, and for a
    /// malformed one (no term, an empty id, or more than `max_voters` voters): the tag is advice,
    /// and an election without it is judged as Habitat's would be.
    pub fn from_tag(tag: &str, max_voters: usize) -> Option<Committed> {
        let rest = tag.strip_prefix(COMMITTED_TAG)?;
        let (term, ids) = rest.split_once(':')?;
        let term = term.parse().ok()?;
        let mut voters = Vec::new();
        for id in ids.split(',') {
            if id.is_empty() || voters.len() == max_voters {
                return None;
            }
            voters.push(MemberId::new(id));
        }
        Some(Committed { term, voters })
    }
}

/// A request to depart a member from the ring (`hab sup depart`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Departure {
    /// The member to depart.
    pub member_id: MemberId,
}

/// A rumor as it travels on the rumor channel.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Rumor {
    /// A membership record; `from` is the member that sent it.
    Member {
        /// Sender of the rumor (Habitat's envelope `from_id`).
        from: MemberId,
        /// The record.
        membership: Membership,
    },
    /// A member's service.
    Service(Arc<Service>),
    /// Gossiped configuration.
    ServiceConfig(Arc<ServiceConfig>),
    /// Gossiped file.
    ServiceFile(Arc<ServiceFile>),
    /// Topology election.
    Election(Arc<Election>),
    /// Rolling-update election.
    ElectionUpdate(Arc<Election>),
    /// Departure request.
    Departure(Arc<Departure>),
}

/// Where a rumor is stored: one value per key (spec §5.2).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RumorKey {
    /// A membership record, keyed by member id (lives in the member list, not the rumor store).
    Member(MemberId),
    /// (service group, member id).
    Service(String, MemberId),
    /// (service group).
    ServiceConfig(String),
    /// (service group, file name).
    ServiceFile(String, String),
    /// (service group).
    Election(String),
    /// (service group), separate from `Election`.
    ElectionUpdate(String),
    /// (member id).
    Departure(MemberId),
}

impl RumorKey {
    /// A short name of the key's kind, for metrics and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            RumorKey::Member(_) => "member",
            RumorKey::Service(..) => "service",
            RumorKey::ServiceConfig(_) => "service_config",
            RumorKey::ServiceFile(..) => "service_file",
            RumorKey::Election(_) => "election",
            RumorKey::ElectionUpdate(_) => "election_update",
            RumorKey::Departure(_) => "departure",
        }
    }
}

impl Rumor {
    /// The key this rumor is stored under.
    pub fn key(&self) -> RumorKey {
        match self {
            Rumor::Member { membership, .. } => RumorKey::Member(membership.member.id.clone()),
            Rumor::Service(s) => RumorKey::Service(s.service_group.clone(), s.member_id.clone()),
            Rumor::ServiceConfig(c) => RumorKey::ServiceConfig(c.service_group.clone()),
            Rumor::ServiceFile(f) => {
                RumorKey::ServiceFile(f.service_group.clone(), f.filename.clone())
            }
            Rumor::Election(e) => RumorKey::Election(e.service_group.clone()),
            Rumor::ElectionUpdate(e) => RumorKey::ElectionUpdate(e.service_group.clone()),
            Rumor::Departure(d) => RumorKey::Departure(d.member_id.clone()),
        }
    }
}

/// The result of merging an incoming value into a stored one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Merged<T> {
    /// The stored value stands; nothing to share.
    Unchanged,
    /// The stored value stands but should keep being shared (Habitat's election rule 4: the sender
    /// holds an older term and needs ours).
    KeepSharing,
    /// The stored value becomes this one.
    Replaced(T),
}

/// Merges an incoming versioned value (Service, ServiceConfig, ServiceFile, Departure): the
/// greater one under the type's order wins, incarnation first.
///
/// Habitat replaces only when the incoming incarnation is greater; Warren agrees with it whenever
/// the incarnations differ and, on equal incarnations with different content, keeps the greater
/// content so the final state does not depend on arrival order.
pub fn merge_versioned<T: Ord + Clone>(stored: &T, incoming: &T) -> Merged<T> {
    match incoming.cmp(stored) {
        Ordering::Greater => Merged::Replaced(incoming.clone()),
        Ordering::Equal | Ordering::Less => Merged::Unchanged,
    }
}

/// Most votes an election keeps. A group that elects a leader has a handful of members; 4096
/// member ids (about 35 bytes each on the wire, some 140 KiB) keep an Election rumor well inside
/// the 256 KiB frame a Warren member accepts, so a merged list can always be sent on. The codec
/// (`warren_wire`) refuses a received list longer than this, and a merge never grows a list
/// past it (votes beyond it are left out, the existing ones kept).
pub const MAX_VOTES: usize = 4096;

/// Habitat's election merge (spec §6.3), applied to stored `s` and received `r`.
///
/// Rules in order: equal → no change; both finished in the same term → the better candidate
/// (higher suitability, then greater member id) stays, where Habitat takes the later arrival; `r`
/// finished at a term ≥ ours → take it; same term and ours finished → absorb `r`'s votes; our term newer → keep and keep sharing;
/// otherwise the higher suitability wins, ties to the greater member id, and the winner absorbs the
/// loser's votes (set union, existing order kept, at most [`MAX_VOTES`]; O((n + m) log(n + m))),
/// except that `r` winning at a newer term takes none of ours (Warren; Habitat hands them over).
pub fn merge_election(s: &Election, r: &Election) -> Merged<Election> {
    if s == r {
        return Merged::Unchanged;
    }
    let finished = ElectionStatus::Finished;
    if r.status == finished && s.status == finished && r.term == s.term {
        // Two results of one term (possible only after a split). Habitat takes whichever arrived
        // last, so two members can swap results forever; Warren keeps the better candidate.
        // Copies of the same result differ only in votes (a member that came back after the
        // result finished votes into it) and in whether they carry the winner's seal. Take the
        // union, so every holder ends with the same votes, and keep the seal: Warren members
        // judge the committed electorate by the seal (`Election::seal`), and by the votes only
        // for a result without one (a Habitat leader's), where a holder left with fewer votes
        // would lose quorum for good when one of them died (a member killed, back on its state
        // before it was confirmed dead, then cut off: `warren-sim restart-cut`).
        return match (r.suitability, &r.member_id).cmp(&(s.suitability, &s.member_id)) {
            Ordering::Greater => Merged::Replaced(r.clone()),
            Ordering::Less => Merged::KeepSharing,
            // A copy sealed by its winner meets one a Habitat peer forwarded without the tag.
            Ordering::Equal if s.seal().is_none() && r.seal().is_some() => {
                let mut merged = r.clone();
                union_votes(&mut merged.votes, &s.votes, MAX_VOTES);
                Merged::Replaced(merged)
            }
            Ordering::Equal => absorb_votes(s, r),
        };
    }
    if r.term >= s.term && r.status == finished {
        return Merged::Replaced(r.clone());
    }
    if r.term == s.term && s.status == finished {
        return absorb_votes(s, r);
    }
    if s.term > r.term {
        return Merged::KeepSharing;
    }
    let s_wins = match s.suitability.cmp(&r.suitability) {
        Ordering::Greater => true,
        Ordering::Less => false,
        Ordering::Equal => s.member_id >= r.member_id,
    };
    if s_wins {
        absorb_votes(s, r)
    } else if r.term > s.term {
        // Warren: a candidacy of a newer term does not take the votes of an older one. Habitat
        // hands them over, so a member that voted in term t (or a relay holding that result)
        // "votes" for whoever stands in t + 1 without judging it: a follower that still hears its
        // leader, and so must not vote, is counted for its rival (run 219920 of `election-fuzz
        // --partition-storm --churn`: two members acting as leader for 0.5 s).
        Merged::Replaced(r.clone())
    } else {
        let mut winner = r.clone();
        union_votes(&mut winner.votes, &s.votes, MAX_VOTES);
        Merged::Replaced(winner)
    }
}

fn absorb_votes(s: &Election, r: &Election) -> Merged<Election> {
    let mut merged = s.clone();
    if union_votes(&mut merged.votes, &r.votes, MAX_VOTES) {
        Merged::Replaced(merged)
    } else {
        Merged::Unchanged
    }
}

/// Appends the votes of `from` missing in `into`, in `from`'s order, while `into` holds fewer
/// than `limit`; returns whether any was added. One ordered set of the ids seen, so two lists of
/// n and m votes cost O((n + m) log(n + m)) comparisons, not the O(n · m) of a `contains` per
/// vote (two 100 000-vote lists, measured once: 36 s before, 50 ms now).
fn union_votes<T: Ord + Clone>(into: &mut Vec<T>, from: &[T], limit: usize) -> bool {
    let room = limit.saturating_sub(into.len());
    if room == 0 || from.is_empty() {
        return false;
    }
    let mut seen: BTreeSet<&T> = into.iter().collect();
    let mut added = Vec::new();
    for v in from {
        if added.len() == room {
            break;
        }
        if seen.insert(v) {
            added.push(v.clone());
        }
    }
    drop(seen);
    let changed = !added.is_empty();
    into.extend(added);
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn election(
        id: &str,
        term: u64,
        suit: u64,
        status: ElectionStatus,
        votes: &[&str],
    ) -> Election {
        Election {
            member_id: id.into(),
            service_group: "redis.default".into(),
            term,
            suitability: suit,
            status,
            votes: votes.iter().map(|v| MemberId::from(*v)).collect(),
            committed: None,
        }
    }

    #[test]
    fn a_committed_electorate_reads_back_from_its_tag() {
        let c = Committed {
            term: 42,
            voters: vec![MemberId::from("a1"), MemberId::from("b2")],
        };
        let tag = c.to_tag();
        assert_eq!(tag, "warren:committed:42:a1,b2");
        assert_eq!(Committed::from_tag(&tag, 2), Some(c));
        for bad in [
            "warren:withdrawn",
            "warren:committed:",
            "warren:committed:x:a",
            "warren:committed:1:",
            "warren:committed:1:a,,b",
            "warren:committed:-1:a",
        ] {
            assert_eq!(Committed::from_tag(bad, 2), None, "{bad}");
        }
        assert_eq!(
            Committed::from_tag("warren:committed:1:a,b,c", 2),
            None,
            "more voters than allowed"
        );
    }

    #[test]
    fn higher_suitability_wins_and_absorbs_votes() {
        let s = election("a", 0, 1, ElectionStatus::Running, &["a"]);
        let r = election("b", 0, 5, ElectionStatus::Running, &["b"]);
        let Merged::Replaced(m) = merge_election(&s, &r) else {
            panic!("expected replace")
        };
        assert_eq!(m.member_id.as_str(), "b");
        assert_eq!(m.votes, vec![MemberId::from("b"), MemberId::from("a")]);
    }

    /// Run 219920 of `election-fuzz --partition-storm --churn`: Habitat hands a newer term's
    /// winning candidacy the older term's votes, so members that voted in term 1 counted as votes
    /// for a rival in term 2 they never judged. Warren keeps votes within their term.
    #[test]
    fn a_newer_term_does_not_take_the_votes_of_an_older_one() {
        let s = election("a", 1, 0, ElectionStatus::Finished, &["a", "b", "c"]);
        let r = election("z", 2, 0, ElectionStatus::Running, &["z"]);
        assert_eq!(merge_election(&s, &r), Merged::Replaced(r.clone()));
        // Within one term the winner still absorbs the loser's votes.
        let same = election("z", 1, 0, ElectionStatus::Running, &["z"]);
        let older = election("a", 1, 0, ElectionStatus::Running, &["a", "b"]);
        let Merged::Replaced(m) = merge_election(&older, &same) else {
            panic!("expected replace")
        };
        assert_eq!(m.votes.len(), 3);
    }

    #[test]
    fn tie_goes_to_greater_id() {
        let s = election("b", 0, 0, ElectionStatus::Running, &["b"]);
        let r = election("a", 0, 0, ElectionStatus::Running, &["a"]);
        let Merged::Replaced(m) = merge_election(&s, &r) else {
            panic!("expected vote absorb")
        };
        assert_eq!(m.member_id.as_str(), "b");
        assert_eq!(m.votes.len(), 2);
    }

    #[test]
    fn finished_at_newer_or_equal_term_wins() {
        let s = election("z", 1, 9, ElectionStatus::Running, &["z"]);
        let r = election("a", 1, 0, ElectionStatus::Finished, &["a"]);
        assert_eq!(merge_election(&s, &r), Merged::Replaced(r.clone()));
    }

    #[test]
    fn copies_of_one_result_converge_on_the_union_of_their_votes() {
        let fewer = election("a", 3, 0, ElectionStatus::Finished, &["a", "b"]);
        let more = election("a", 3, 0, ElectionStatus::Finished, &["a", "b", "c"]);
        let Merged::Replaced(m) = merge_election(&fewer, &more) else {
            panic!("the holder with fewer votes must take the missing one")
        };
        assert_eq!(m.votes, more.votes);
        assert_eq!(merge_election(&more, &fewer), Merged::Unchanged);
        // Votes in another order are the same voters: nothing to change either way.
        let reordered = election("a", 3, 0, ElectionStatus::Finished, &["c", "a", "b"]);
        assert_eq!(merge_election(&more, &reordered), Merged::Unchanged);
        assert_eq!(merge_election(&reordered, &more), Merged::Unchanged);
    }

    #[test]
    fn a_sealed_result_keeps_its_seal_whatever_copy_it_meets() {
        let seal = Committed {
            term: 3,
            voters: vec![MemberId::from("a"), MemberId::from("b")],
        };
        let mut sealed = election("a", 3, 0, ElectionStatus::Finished, &["a", "b"]);
        sealed.committed = Some(seal.clone());
        // A copy a Habitat peer forwarded (no tag) with a vote absorbed since.
        let bare = election("a", 3, 0, ElectionStatus::Finished, &["a", "b", "c"]);
        let Merged::Replaced(m) = merge_election(&bare, &sealed) else {
            panic!("the bare copy takes the seal")
        };
        assert_eq!(m.committed.as_ref(), Some(&seal));
        assert_eq!(m.votes.len(), 3, "and keeps the union of the votes");
        let Merged::Replaced(m) = merge_election(&sealed, &bare) else {
            panic!("the sealed copy takes the absorbed vote")
        };
        assert_eq!(
            m.committed.as_ref(),
            Some(&seal),
            "but not a new electorate"
        );
        // A stale candidacy of the same term absorbed into the result changes votes, never the
        // seal.
        let stale = election("d", 3, 0, ElectionStatus::Running, &["d", "e"]);
        let Merged::Replaced(m) = merge_election(&sealed, &stale) else {
            panic!("Habitat's rule: a finished result absorbs the votes")
        };
        assert_eq!(m.committed.as_ref(), Some(&seal));
    }

    #[test]
    fn older_term_is_kept_and_shared() {
        let s = election("a", 2, 0, ElectionStatus::Running, &["a"]);
        let r = election("z", 1, 9, ElectionStatus::Running, &["z"]);
        assert_eq!(merge_election(&s, &r), Merged::KeepSharing);
    }

    fn ids(range: std::ops::Range<u32>) -> Vec<MemberId> {
        range.map(|n| MemberId::new(format!("{n:032x}"))).collect()
    }

    #[test]
    fn union_of_two_100_000_vote_lists_keeps_order_and_drops_duplicates() {
        // 0..100 000 and 50 000..150 000: half of the second list is new.
        let mut into = ids(0..100_000);
        let from = ids(50_000..150_000);
        assert!(union_votes(&mut into, &from, usize::MAX));
        assert_eq!(into, ids(0..150_000));
        // Nothing new: unchanged.
        assert!(!union_votes(&mut into, &from, usize::MAX));
        assert_eq!(into.len(), 150_000);
        // Duplicates inside the incoming list count once, in first-seen order.
        let mut into = ids(0..2);
        let dup: Vec<MemberId> = ids(2..4).into_iter().chain(ids(1..4)).collect();
        assert!(union_votes(&mut into, &dup, usize::MAX));
        assert_eq!(into, ids(0..4));
    }

    #[test]
    fn merging_elections_caps_the_vote_list() {
        let mut s = election("a", 1, 1, ElectionStatus::Running, &[]);
        s.votes = ids(0..100_000);
        let mut r = election("b", 1, 5, ElectionStatus::Running, &[]);
        r.votes = ids(50_000..150_000);
        // r wins and absorbs s's votes up to the cap; its own list (longer than the cap, as no
        // decoded list can be) is kept as it is.
        let Merged::Replaced(m) = merge_election(&s, &r) else {
            panic!("expected replace")
        };
        assert_eq!(m.votes, r.votes);
        let mut r = election("b", 1, 5, ElectionStatus::Running, &[]);
        r.votes = ids(0..10);
        let Merged::Replaced(m) = merge_election(&s, &r) else {
            panic!("expected replace")
        };
        assert_eq!(m.votes, ids(0..MAX_VOTES as u32));
    }

    /// An id that counts the comparisons made on it.
    #[derive(Clone, Debug)]
    struct Counted(u32, std::rc::Rc<std::cell::Cell<u64>>);

    impl PartialEq for Counted {
        fn eq(&self, other: &Self) -> bool {
            self.1.set(self.1.get() + 1);
            self.0 == other.0
        }
    }
    impl Eq for Counted {}
    impl PartialOrd for Counted {
        fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
            Some(self.cmp(other))
        }
    }
    impl Ord for Counted {
        fn cmp(&self, other: &Self) -> Ordering {
            self.1.set(self.1.get() + 1);
            self.0.cmp(&other.0)
        }
    }

    #[test]
    fn vote_union_makes_far_fewer_comparisons_than_contains() {
        // Deterministic stand-in for a benchmark: comparisons, not time. Two 10 000-vote lists,
        // half overlapping, merged by the old `contains` loop and by `union_votes`.
        let n = 10_000u32;
        let count = std::rc::Rc::new(std::cell::Cell::new(0));
        let list = |r: std::ops::Range<u32>| -> Vec<Counted> {
            r.map(|v| Counted(v, count.clone())).collect()
        };
        let (a, b) = (list(0..n), list(n / 2..n + n / 2));

        let mut naive = a.clone();
        count.set(0);
        for v in &b {
            if !naive.contains(v) {
                naive.push(v.clone());
            }
        }
        let naive_cmps = count.get();

        let mut fast = a.clone();
        count.set(0);
        union_votes(&mut fast, &b, usize::MAX);
        let fast_cmps = count.get();

        let key = |v: &[Counted]| v.iter().map(|c| c.0).collect::<Vec<_>>();
        assert_eq!(key(&fast), key(&naive));
        // contains: 1e8 here; an ordered set: about 3e5.
        assert!(
            naive_cmps > 100 * fast_cmps,
            "naive {naive_cmps} comparisons, union_votes {fast_cmps}"
        );
    }

    #[test]
    fn versioned_merge_prefers_incarnation_then_content() {
        let a = ServiceConfig {
            incarnation: 2,
            service_group: "x.y".into(),
            encrypted: false,
            config: b"a=1".to_vec(),
        };
        let mut b = a.clone();
        b.incarnation = 3;
        assert_eq!(merge_versioned(&a, &b), Merged::Replaced(b.clone()));
        assert_eq!(merge_versioned(&b, &a), Merged::Unchanged);
        let mut c = a.clone();
        c.config = b"a=2".to_vec();
        assert_eq!(merge_versioned(&a, &c), Merged::Replaced(c.clone()));
        assert_eq!(merge_versioned(&c, &a), Merged::Unchanged);
    }
}
