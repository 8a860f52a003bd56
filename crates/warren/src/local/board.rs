//! The local ring as the live view shows it: per member its process (running, pid, starts, cut
//! off), the last observation of its HTTP API, and the events found by comparing each new
//! observation with the one before (health changes as each member sees its peers, new leaders,
//! election status, applied config, service state and restarts). Both outputs, the plain lines
//! and the terminal view, render from this one model.
//!
//! Pure: no I/O, no clock. The owner feeds it observations and process changes.

use std::collections::{BTreeMap, VecDeque};

use super::poll::Observation;

/// How many events the board keeps for the terminal view.
const KEEP_EVENTS: usize = 200;

/// One member of the ring.
#[derive(Clone, Debug, Default)]
pub(crate) struct Row {
    /// The last observation of its HTTP API (kept while it does not answer).
    pub obs: Option<Observation>,
    /// Whether the last poll answered.
    pub answering: bool,
    /// Its process, while one runs.
    pub pid: Option<u32>,
    /// How many times `warren local` started it.
    pub starts: u32,
    /// Cut off by `warren local partition`.
    pub cut: bool,
}

/// The whole ring.
#[derive(Clone, Debug, Default)]
pub(crate) struct Board {
    pub rows: Vec<Row>,
    /// Member ids learnt from the members themselves, to name members by number.
    ids: BTreeMap<String, usize>,
    /// The latest events, newest last.
    pub events: VecDeque<String>,
}

impl Board {
    pub(crate) fn new(n: usize) -> Self {
        Board {
            rows: vec![Row::default(); n],
            ..Board::default()
        }
    }

    /// `member N` for a member of this ring, else the id's first 8 characters.
    pub(crate) fn name(&self, id: &str) -> String {
        match self.ids.get(id) {
            Some(i) => format!("member {i}"),
            None => id.chars().take(8).collect(),
        }
    }

    /// Whether member `i`'s id is known.
    pub(crate) fn knows(&self, i: usize) -> bool {
        self.ids.values().any(|j| *j == i)
    }

    /// Learns member `i`'s id before its own API answers (from its `MEMBER_ID` file), so that
    /// others' reports of it name it by number from the start.
    pub(crate) fn learn(&mut self, i: usize, id: &str) {
        self.ids.insert(id.to_owned(), i);
    }

    /// Records an event line for the terminal view.
    pub(crate) fn push(&mut self, line: String) {
        if self.events.len() == KEEP_EVENTS {
            self.events.pop_front();
        }
        self.events.push_back(line);
    }

    /// Takes a new observation of member `i` (`None`: it did not answer) and returns the events
    /// it shows, oldest first (the caller records them with [`Board::push`], timestamped).
    pub(crate) fn observe(&mut self, i: usize, obs: Option<Observation>) -> Vec<String> {
        let Some(row) = self.rows.get(i) else {
            return Vec::new();
        };
        let was_answering = row.answering;
        let mut out = Vec::new();
        let Some(new) = obs else {
            if was_answering {
                out.push(format!("member {i}: HTTP API not answering"));
            }
            if let Some(r) = self.rows.get_mut(i) {
                r.answering = false;
            }
            return out;
        };
        self.ids.insert(new.id.clone(), i);
        let old = self
            .rows
            .get(i)
            .and_then(|r| r.obs.clone())
            .unwrap_or_default();
        if !was_answering {
            out.push(format!(
                "member {i}: answering (member id {})",
                new.id.chars().take(8).collect::<String>()
            ));
        }
        for (id, health) in &new.peers {
            let before = old.peers.get(id);
            if before != Some(health) {
                let mut e = format!(
                    "member {i} sees {} {}",
                    self.name(id),
                    health.to_lowercase()
                );
                if let Some(b) = before {
                    e.push_str(&format!(" (was {})", b.to_lowercase()));
                }
                out.push(e);
            }
        }
        for (name, g) in &new.groups {
            let before = old.groups.get(name);
            if before.map(|b| &b.leader) != Some(&g.leader) {
                out.push(match &g.leader {
                    Some(l) => format!("member {i}: {name} new leader {}", self.name(l)),
                    None if before.is_some() => format!("member {i}: {name} has no leader"),
                    None => continue,
                });
            }
            let status_before = before.map_or("None", |b| b.status.as_str());
            if status_before != g.status {
                out.push(format!("member {i}: {name} election {}", g.status));
            }
            if let Some(c) = g.config
                && before.and_then(|b| b.config) != Some(c)
            {
                out.push(format!("member {i}: {name} config incarnation {c} applied"));
            }
        }
        for (name, s) in &new.services {
            let before = old.services.get(name);
            if before.map(|b| &b.state) != Some(&s.state) {
                out.push(format!("member {i}: {name} service {}", s.state));
            }
            if before.is_some_and(|b| b.restarts < s.restarts) {
                out.push(format!(
                    "member {i}: {name} service restarted ({} restarts)",
                    s.restarts
                ));
            }
        }
        if let Some(r) = self.rows.get_mut(i) {
            r.obs = Some(new);
            r.answering = true;
        }
        out
    }

    /// How the other answering members see member `i`: `alive`, or each health with how many
    /// members see it (`confirmed by 2`), or `unknown` before anyone has.
    pub(crate) fn seen_by_others(&self, i: usize) -> String {
        let Some(id) = self.rows.get(i).and_then(|r| r.obs.as_ref()).map(|o| &o.id) else {
            return "unknown".into();
        };
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for (j, r) in self.rows.iter().enumerate() {
            if j == i || !r.answering {
                continue;
            }
            if let Some(h) = r.obs.as_ref().and_then(|o| o.peers.get(id)) {
                *counts.entry(h.to_lowercase()).or_default() += 1;
            }
        }
        match counts.len() {
            0 => "unknown".into(),
            1 => counts.into_keys().next().unwrap_or_default(),
            _ => counts
                .iter()
                .map(|(h, n)| format!("{h} by {n}"))
                .collect::<Vec<_>>()
                .join(", "),
        }
    }

    /// The role of member `i` in `group` as its census says: `leader`, `follower` or `-`.
    pub(crate) fn role(&self, i: usize, group: &str) -> &'static str {
        let Some(o) = self.rows.get(i).and_then(|r| r.obs.as_ref()) else {
            return "-";
        };
        match o.groups.get(group).and_then(|g| g.leader.as_deref()) {
            Some(l) if l == o.id => "leader",
            Some(_) => "follower",
            None => "-",
        }
    }

    /// One line about member `i`, for the periodic summary.
    pub(crate) fn summary(&self, i: usize) -> String {
        let Some(row) = self.rows.get(i) else {
            return String::new();
        };
        let process = match row.pid {
            Some(p) => format!("pid {p}"),
            None => "not running".into(),
        };
        let mut line = format!(
            "member {i} ({process}{}{}): seen by others {}",
            if row.cut { ", cut off" } else { "" },
            if row.answering { "" } else { ", not answering" },
            self.seen_by_others(i)
        );
        if let Some(o) = &row.obs {
            if !row.answering {
                line.push_str("; last seen");
            }
            for (name, g) in &o.groups {
                let svc = o.services.get(name);
                line.push_str(&format!(
                    "; {name}: {} {}, leader {}, {}, config {}, restarts {}",
                    svc.map_or("-", |s| s.state.as_str()),
                    self.role(i, name),
                    g.leader.as_deref().map_or("none".into(), |l| self.name(l)),
                    g.status,
                    g.config.map_or("-".into(), |c| c.to_string()),
                    svc.map_or(0, |s| s.restarts),
                ));
            }
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::poll::GroupView;

    fn obs(id: &str, peers: &[(&str, &str)], leader: Option<&str>) -> Observation {
        let mut o = Observation {
            id: id.into(),
            ..Observation::default()
        };
        for (p, h) in peers {
            o.peers.insert((*p).into(), (*h).into());
        }
        o.groups.insert(
            "hello.default".into(),
            GroupView {
                leader: leader.map(str::to_owned),
                status: "ElectionFinished".into(),
                config: None,
            },
        );
        o
    }

    #[test]
    fn health_changes_and_new_leaders_are_events() {
        let mut b = Board::new(2);
        b.observe(1, Some(obs("bb", &[("aa", "Alive")], Some("bb"))));
        let first = b.observe(0, Some(obs("aa", &[("bb", "Alive")], Some("bb"))));
        assert!(
            first.contains(&"member 0 sees member 1 alive".to_owned()),
            "{first:?}"
        );
        assert!(first.contains(&"member 0: hello.default new leader member 1".to_owned()));
        let later = b.observe(0, Some(obs("aa", &[("bb", "Confirmed")], Some("aa"))));
        assert_eq!(
            later,
            [
                "member 0 sees member 1 confirmed (was alive)",
                "member 0: hello.default new leader member 0"
            ]
        );
        assert!(
            b.observe(0, Some(obs("aa", &[("bb", "Confirmed")], Some("aa"))))
                .is_empty()
        );
        assert_eq!(b.seen_by_others(1), "confirmed");
        assert_eq!(b.role(0, "hello.default"), "leader");
        assert_eq!(b.role(1, "hello.default"), "leader");
        assert_eq!(b.observe(0, None), ["member 0: HTTP API not answering"]);
        // A member that does not answer has no say in how others are seen.
        assert_eq!(b.seen_by_others(1), "unknown");
        assert!(b.summary(0).contains("not answering"));
    }

    #[test]
    fn a_learnt_id_names_a_member_before_it_answers() {
        let mut b = Board::new(2);
        assert!(!b.knows(1));
        b.learn(1, "bb");
        assert!(b.knows(1));
        let events = b.observe(0, Some(obs("aa", &[("bb", "Alive")], None)));
        assert!(
            events.contains(&"member 0 sees member 1 alive".to_owned()),
            "{events:?}"
        );
    }
}
