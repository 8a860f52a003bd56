//! Sending elections to the group: the stored election pushed straight to a few reachable group
//! members (Warren) or to one member that is behind, and the group leader's extra probe.
//!
//! Not here: dissemination through gossip rounds (the ring's, from [`super::Output::Hot`]), and
//! the sending itself (the ring turns [`super::Output::Transmit`] into transmits).

use rand::seq::IndexedRandom;

use super::{ElectionCtx, Elections, Output, RingView};
use crate::election::{ElectionKind, ElectionRules};
use crate::member::{Health, Member, MemberId};
use crate::message::Transmit;
use crate::rumor::ElectionStatus;
use crate::time::Time;

impl Elections {
    /// Sends the stored election to one member, if it is reachable.
    pub(super) fn send_election(
        &self,
        cx: &mut ElectionCtx<'_>,
        kind: ElectionKind,
        sg: &str,
        to: &MemberId,
    ) {
        let Some(rumor) = cx.store.get(&kind.key(sg)).map(|e| e.rumor.clone()) else {
            return;
        };
        if let Some(m) = cx
            .members
            .get(to)
            .filter(|r| r.health <= Health::Suspect)
            .map(|r| r.member.clone())
        {
            cx.out.push(Output::Transmit(Transmit::Rumors {
                to: m.gossip_addr(),
                to_id: m.id,
                rumors: vec![rumor],
            }));
        }
    }

    /// Warren: sends the stored election straight to the group's reachable members.
    pub(super) fn push_to_group(
        &mut self,
        cx: &mut ElectionCtx<'_>,
        kind: ElectionKind,
        sg: &str,
        now: Time,
    ) {
        if cx.cfg.election.rules != ElectionRules::Warren {
            return;
        }
        let Some(rumor) = cx.store.get(&kind.key(sg)).map(|e| e.rumor.clone()) else {
            return;
        };
        let peers: Vec<Member> = cx
            .view()
            .group_owners(sg)
            .iter()
            .filter_map(|id| cx.members.get(id))
            .filter(|r| r.health <= Health::Suspect)
            .map(|r| r.member.clone())
            .collect();
        let chosen: Vec<Member> = peers
            .choose_multiple(&mut *cx.rng, cx.cfg.election.direct_fanout)
            .cloned()
            .collect();
        for m in chosen {
            cx.out.push(Output::Transmit(Transmit::Rumors {
                to: m.gossip_addr(),
                to_id: m.id.clone(),
                rumors: vec![rumor.clone()],
            }));
        }
        if let Some(g) = self.groups.get_mut(&(kind, sg.to_owned())) {
            g.next_check = now + cx.cfg.election.check_interval;
        }
    }

    /// Warren: the leader of one of my groups, when I have not probed it for
    /// `ElectionConfig::leader_probe_interval` (marked probed now). SWIM's round-robin probes a
    /// given member about once a second across the ring but with an exponential tail (several
    /// seconds now and then); a group notices its leader's death sooner when its members also
    /// probe the leader on their own.
    pub(crate) fn leader_to_probe(&mut self, rv: RingView<'_>, now: Time) -> Option<Member> {
        if rv.cfg.election.rules != ElectionRules::Warren {
            return None;
        }
        let every = rv.cfg.election.leader_probe_interval;
        let leaders: Vec<MemberId> = self
            .groups
            .keys()
            .filter(|(_, sg)| rv.in_group(sg))
            .filter_map(|(kind, sg)| rv.election(sg, *kind))
            .filter(|e| e.status == ElectionStatus::Finished && e.member_id != rv.me.id)
            .map(|e| e.member_id.clone())
            .collect();
        for id in leaders {
            let due = self
                .leader_probed_at
                .get(&id)
                .is_none_or(|t| now >= *t + every);
            let member = rv
                .members
                .get(&id)
                .filter(|r| r.health <= Health::Suspect)
                .map(|r| r.member.clone());
            if let (true, Some(m)) = (due, member) {
                self.leader_probed_at.retain(|_, t| now < *t + every);
                self.leader_probed_at.insert(id, now);
                return Some(m);
            }
        }
        None
    }
}
