//! Election scenarios: leader failover after a crash (`election`), after a graceful stop
//! (`graceful`), and randomized fault schedules that look for hung elections and split brains
//! (`election-fuzz`).
//!
//! A group "agrees" when every live member of it holds the same Finished election, at the same
//! term, whose leader is live. A run is **stuck** when a group with every member running and the
//! network healed does not agree within a bound. **Dual leaders with quorum** is counted whenever,
//! at one instant, two live members both hold a Finished election of the same term naming
//! themselves and both judge they have quorum: the safety property of the election.
//!
//! Ground truth (who is live) only the simulator knows; the members never see it.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};
use warren_ring::{
    Config, ElectionKind, ElectionStatus, LocalService, MemberId, Service, SysInfo, Time,
};

use crate::network::{NetConfig, Sim};
use crate::scenario::{Params, Result, ScenarioError, form_ring, header, percentile, round3};

/// The service group every election scenario uses.
pub const GROUP: &str = "redis.default";

/// The stand-in service of member `i` with a leader election (what `warren run --topology
/// leader` runs).
pub fn service(sim: &Sim, i: usize) -> LocalService {
    let id = sim.nodes[i].id.clone();
    let svc = Service {
        incarnation: 1,
        member_id: id,
        service_group: GROUP.into(),
        pkg: "core/redis/7.2.4/20260101000000".into(),
        pkg_incarnation: 0,
        initialized: false,
        withdrawn: false,
        cfg: b"port = 6379\n".to_vec(),
        sys: SysInfo::default(),
    };
    LocalService {
        service: svc,
        elections: vec![(ElectionKind::Leader, 0)],
    }
}

/// Loads the stand-in service at member `i` (running or not): from now on it publishes its
/// Service rumor and takes part in the group's leader election, now if it runs and at every
/// start (`warren svc load`, or the plan given to `warren run`).
pub fn load(sim: &mut Sim, i: usize) {
    let svc = service(sim, i);
    if sim.nodes[i].services.contains(&svc) {
        return;
    }
    sim.load_service(i, svc);
}

/// The agreed leader of the group (index, term), if the live members of `group` agree.
pub fn agreed_leader(sim: &Sim, group: &[usize]) -> Option<(usize, u64)> {
    let mut agreed: Option<(MemberId, u64)> = None;
    let mut any = false;
    for &i in group {
        if !sim.is_live(i) {
            continue;
        }
        any = true;
        let r = sim.ring(i)?;
        let e = r.election(GROUP, ElectionKind::Leader)?;
        let leader = r.leader(GROUP, ElectionKind::Leader, sim.now)?;
        match &agreed {
            None => agreed = Some((leader.clone(), e.term)),
            Some((id, term)) if id == leader && *term == e.term => {}
            Some(_) => return None,
        }
    }
    let (id, term) = agreed.filter(|_| any)?;
    let idx = sim.index_of(&id)?;
    sim.is_live(idx).then_some((idx, term))
}

/// The agreed leader of `group` (index), if the live members agree on it and each holds the
/// result itself (Finished, not the leader's re-run of it) with quorum: a group at rest, with
/// nothing under way. A member that rejoined is not settled until it can vote.
pub fn settled_leader(sim: &Sim, group: &[usize]) -> Option<usize> {
    let (leader, _) = agreed_leader(sim, group)?;
    let at_rest = group.iter().filter(|&&i| sim.is_live(i)).all(|&i| {
        sim.ring(i).is_some_and(|r| {
            r.election(GROUP, ElectionKind::Leader)
                .is_some_and(|e| e.status == ElectionStatus::Finished)
                && r.electorate(GROUP, ElectionKind::Leader)
                    .is_some_and(|v| v.quorum)
        })
    });
    at_rest.then_some(leader)
}

/// The live members of `group` that act as its leader right now (`Ring::leader` names
/// themselves), whatever their term: what a service such as Redis follows.
pub fn acting_leaders(sim: &Sim, group: &[usize]) -> Vec<usize> {
    group
        .iter()
        .copied()
        .filter(|&i| sim.is_live(i))
        .filter(|&i| {
            sim.ring(i).is_some_and(|r| {
                r.election_groups()
                    .any(|(k, sg)| k == ElectionKind::Leader && sg == GROUP)
                    && r.leader(GROUP, ElectionKind::Leader, sim.now) == Some(&r.myself().id)
            })
        })
        .collect()
}

/// Prints every member's election state (for `WARREN_SIM_TRACE_ELECTIONS`), and with
/// `WARREN_SIM_TRACE_SERVICES` the group's Service rumors and the member list each one holds.
fn trace_group(sim: &Sim, group: &[usize], what: &str) {
    eprintln!("t={:.3} {what}:", sim.now.as_secs_f64());
    for &i in group {
        if let Some(r) = sim.ring(i) {
            let e = r.election(GROUP, ElectionKind::Leader);
            let v = r.electorate(GROUP, ElectionKind::Leader);
            eprintln!(
                "  {i} live={} acting={} e={:?} pop={:?} el={:?} q={:?} agreed={:?}",
                sim.is_live(i),
                r.leader(GROUP, ElectionKind::Leader, sim.now) == Some(&r.myself().id),
                e.map(|e| (
                    sim.index_of(&e.member_id),
                    e.term,
                    e.suitability,
                    e.status,
                    e.votes
                        .iter()
                        .filter_map(|v| sim.index_of(v))
                        .collect::<Vec<_>>()
                )),
                v.map(|v| v
                    .population
                    .iter()
                    .filter_map(|m| sim.index_of(m))
                    .collect::<Vec<_>>()),
                v.map(|v| v
                    .electorate
                    .iter()
                    .filter_map(|m| sim.index_of(m))
                    .collect::<Vec<_>>()),
                v.map(|v| v.quorum),
                v.map(|v| v
                    .agreed
                    .iter()
                    .filter_map(|m| sim.index_of(m))
                    .collect::<Vec<_>>()),
            );
            if std::env::var_os("WARREN_SIM_TRACE_SERVICES").is_some() {
                let svcs: Vec<_> = r
                    .rumors()
                    .services_in(GROUP)
                    .map(|id| (sim.index_of(id), r.members().health(id)))
                    .collect();
                let mem: Vec<_> = r
                    .members()
                    .iter()
                    .map(|m| (sim.index_of(&m.member.id), m.health, m.member.incarnation))
                    .collect();
                eprintln!("     svcs={svcs:?}\n     members={mem:?}");
            }
        }
    }
}

/// Whether two live members both lead with quorum in the same term right now.
pub fn dual_leaders(sim: &Sim, group: &[usize]) -> bool {
    let mut by_term: BTreeMap<u64, usize> = BTreeMap::new();
    for &i in group {
        let Some(r) = sim.ring(i).filter(|_| sim.is_live(i)) else {
            continue;
        };
        let Some(e) = r.election(GROUP, ElectionKind::Leader) else {
            continue;
        };
        let quorum = r
            .electorate(GROUP, ElectionKind::Leader)
            .is_some_and(|v| v.quorum);
        let leads = r.leader(GROUP, ElectionKind::Leader, sim.now) == Some(&r.myself().id);
        if leads && quorum {
            *by_term.entry(e.term).or_default() += 1;
        }
    }
    let dual = by_term.values().any(|&n| n > 1);
    if dual && std::env::var_os("WARREN_SIM_TRACE_ELECTIONS").is_some() {
        eprintln!("t={:.3} dual leaders:", sim.now.as_secs_f64());
        for &i in group {
            if let Some(r) = sim.ring(i) {
                eprintln!(
                    "  {i} live={} svcs={} members={} {:?} view={:?}",
                    sim.is_live(i),
                    r.rumors().services_in(GROUP).count(),
                    r.members().len(),
                    r.election(GROUP, ElectionKind::Leader),
                    r.electorate(GROUP, ElectionKind::Leader)
                );
            }
        }
    }
    dual
}

/// Runs until the group agrees (checking every 50 ms, sampling the safety property as it goes);
/// returns the seconds it took, or `None` after `limit`.
fn until_agreed(
    sim: &mut Sim,
    group: &[usize],
    limit: Duration,
    dual: &mut u64,
    not: Option<usize>,
) -> Option<f64> {
    let t0 = sim.now;
    let trace = std::env::var_os("WARREN_SIM_TRACE_ELECTIONS").is_some();
    let mut last_print = t0;
    let done = sim.run_until_cond(Duration::from_millis(50), limit, |s| {
        if dual_leaders(s, group) {
            *dual += 1;
        }
        if trace && s.now.saturating_since(last_print) >= Duration::from_secs(1) {
            last_print = s.now;
            eprintln!("t={:.2}", s.now.as_secs_f64());
            for &i in group {
                if let Some(r) = s.ring(i) {
                    let e = r.election(GROUP, ElectionKind::Leader);
                    let v = r.electorate(GROUP, ElectionKind::Leader);
                    eprintln!(
                        "  {i} live={} e={:?} pop={} el={} q={:?} agreed={:?}",
                        s.is_live(i),
                        e.map(|e| (
                            s.index_of(&e.member_id),
                            e.term,
                            e.suitability,
                            e.status,
                            e.votes
                                .iter()
                                .filter_map(|v| s.index_of(v))
                                .collect::<Vec<_>>()
                        )),
                        v.map_or(0, |v| v.population.len()),
                        v.map_or(0, |v| v.electorate.len()),
                        v.map(|v| v.quorum),
                        v.map(|v| v
                            .agreed
                            .iter()
                            .filter_map(|a| s.index_of(a))
                            .collect::<Vec<_>>()),
                    );
                }
            }
        }
        agreed_leader(s, group).is_some_and(|(l, _)| Some(l) != not)
    });
    done.then(|| sim.now.saturating_since(t0).as_secs_f64())
}

fn group_of(p: &Params, nodes: usize) -> Vec<usize> {
    // Spread the group over the ring, leaving out the seed member 0.
    let g = p.group_size.clamp(1, nodes.saturating_sub(1).max(1));
    (0..g).map(|k| 1 + k * (nodes - 1).max(1) / g).collect()
}

/// How the leader goes away in a failover trial.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stop {
    /// SIGKILL: the process and its state in memory are gone.
    Crash,
    /// A clean stop: `warren` leaves the ring, then exits a second later.
    Graceful,
}

/// `election`: a leader-topology group of `--group-size` in a ring of `--nodes`; the leader is
/// killed `--runs` times (default 20), each time restarted after the failover.
pub fn election(p: &Params) -> Result<Value> {
    failover_trials("election", p, Stop::Crash)
}

/// `graceful`: the leader stops cleanly (`warren` on SIGTERM: leave, then exit) `--runs` times
/// (default 20); the time until the rest of the group agrees on a new leader.
pub fn graceful(p: &Params) -> Result<Value> {
    failover_trials("graceful", p, Stop::Graceful)
}

fn failover_trials(name: &str, p: &Params, stop: Stop) -> Result<Value> {
    let (mut sim, _) = form_ring(p, Config::profile(p.profile))?;
    sim.persist = true;
    let group = group_of(p, sim.nodes.len());
    for &i in &group {
        load(&mut sim, i);
    }
    let mut dual = 0;
    let limit = Duration::from_secs(60);
    let first = until_agreed(&mut sim, &group, limit, &mut dual, None).ok_or_else(|| {
        ScenarioError(format!(
            "seed {}: the first election never finished",
            p.seed
        ))
    })?;
    let trials = if p.runs == 0 { 20 } else { p.runs };
    let mut failovers = Vec::new();
    let mut stuck = 0u64;
    for _ in 0..trials {
        sim.run_for(Duration::from_secs(3));
        let Some((leader, _)) = agreed_leader(&sim, &group) else {
            stuck += 1;
            continue;
        };
        if std::env::var_os("WARREN_SIM_TRACE_ELECTIONS").is_some() {
            eprintln!("t={:.3} {stop:?} leader {leader}", sim.now.as_secs_f64());
        }
        match stop {
            Stop::Crash => sim.crash(leader),
            Stop::Graceful => sim.leave(leader),
        }
        match until_agreed(&mut sim, &group, limit, &mut dual, Some(leader)) {
            Some(s) => failovers.push(s),
            None => stuck += 1,
        }
        if stop == Stop::Graceful {
            sim.run_for(Duration::from_secs(1));
            sim.crash(leader);
        }
        // The old leader comes back with its id and rejoins as a follower; the next trial
        // starts from a group at rest (the leader's re-run for the returning member finished).
        sim.start(leader, &[0]);
        load(&mut sim, leader);
        if until_agreed(&mut sim, &group, limit, &mut dual, None).is_none()
            || !sim.run_until_cond(Duration::from_millis(50), limit, |s| {
                settled_leader(s, &group).is_some()
            })
        {
            stuck += 1;
        }
    }
    let in_order: Vec<f64> = failovers.iter().map(|s| round3(*s)).collect();
    failovers.sort_by(f64::total_cmp);
    let mut m = header(name, p, &sim);
    m.insert("failovers_s".into(), json!(in_order));
    m.insert("group_size".into(), json!(group.len()));
    m.insert("trials".into(), json!(trials));
    m.insert("first_election_s".into(), json!(round3(first)));
    m.insert(
        "failover_p50_s".into(),
        json!(percentile(&failovers, 0.5).map(round3)),
    );
    m.insert(
        "failover_p99_s".into(),
        json!(percentile(&failovers, 0.99).map(round3)),
    );
    m.insert(
        "failover_max_s".into(),
        json!(failovers.last().copied().map(round3)),
    );
    m.insert("stuck".into(), json!(stuck));
    m.insert("dual_leaders_with_quorum".into(), json!(dual));
    Ok(Value::Object(m))
}

/// `restart-cut`: every member of the ring (`--nodes`, 3 on a local ring) runs the group. Its
/// leader is killed, comes back on its state after a random 0.5–3.5 s (often before the others
/// confirmed it dead) and is cut off from the rest 0–4 s later, `--runs` times (default 50),
/// healing and settling 12 s between rounds: the rest of the group must agree on another leader
/// within 40 s. A local ring found this sequence (`warren local kill`, `start`, `partition`):
/// the member that came back last held the previous result without its own vote, judged the
/// committed electorate by the voters it held, and the group stayed leaderless.
pub fn restart_cut(p: &Params) -> Result<Value> {
    let (mut sim, _) = form_ring(p, Config::profile(p.profile))?;
    sim.persist = true;
    // The whole ring, as on a local ring.
    let group: Vec<usize> = (0..sim.nodes.len()).collect();
    for &i in &group {
        load(&mut sim, i);
    }
    let mut dual = 0;
    let limit = Duration::from_secs(40);
    until_agreed(&mut sim, &group, Duration::from_secs(60), &mut dual, None).ok_or_else(|| {
        ScenarioError(format!(
            "seed {}: the first election never finished",
            p.seed
        ))
    })?;
    let trials = if p.runs == 0 { 50 } else { p.runs };
    let mut failovers = Vec::new();
    let mut stuck = 0u64;
    let mut stuck_rounds = Vec::new();
    for round in 0..trials {
        sim.heal();
        // Settle; traced like the failovers.
        for _ in 0..24 {
            sim.run_for(Duration::from_millis(500));
            if std::env::var_os("WARREN_SIM_TRACE_ELECTIONS").is_some() {
                trace_group(&sim, &group, "settle");
            }
        }
        let Some((leader, _)) = agreed_leader(&sim, &group) else {
            stuck += 1;
            stuck_rounds.push(round);
            continue;
        };
        let back_after = Duration::from_millis(500 + sim.random_index(3000) as u64);
        if std::env::var_os("WARREN_SIM_TRACE_ELECTIONS").is_some() {
            eprintln!(
                "t={:.3} round {round}: kill leader {leader}",
                sim.now.as_secs_f64()
            );
        }
        let cut_after = Duration::from_millis(sim.random_index(4000) as u64);
        sim.crash(leader);
        sim.run_for(back_after);
        let peers: Vec<usize> = group.iter().copied().filter(|&i| i != leader).collect();
        sim.start(leader, &peers);
        load(&mut sim, leader);
        sim.run_for(cut_after);
        sim.isolate(leader);
        let rest: Vec<usize> = peers;
        match until_agreed(&mut sim, &rest, limit, &mut dual, Some(leader)) {
            Some(s) => failovers.push(s),
            None => {
                stuck += 1;
                stuck_rounds.push(round);
            }
        }
    }
    failovers.sort_by(f64::total_cmp);
    let mut m = header("restart-cut", p, &sim);
    m.insert("group_size".into(), json!(group.len()));
    m.insert("trials".into(), json!(trials));
    m.insert(
        "failover_p50_s".into(),
        json!(percentile(&failovers, 0.5).map(round3)),
    );
    m.insert(
        "failover_max_s".into(),
        json!(failovers.last().copied().map(round3)),
    );
    m.insert("stuck".into(), json!(stuck));
    m.insert("stuck_rounds".into(), json!(stuck_rounds));
    m.insert("dual_leaders_with_quorum".into(), json!(dual));
    Ok(Value::Object(m))
}

/// How a member is replaced in the `replace` scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Replacement {
    /// SIGTERM (it leaves the ring), and a new member with a fresh identity (a new pod without
    /// a volume).
    GracefulFresh,
    /// SIGTERM, and the same member back on its state (a StatefulSet pod on its volume).
    GracefulKept,
    /// SIGKILL (a lost node), and a new member with a fresh identity.
    KillFresh,
    /// SIGKILL, and the same member back on its state.
    KillKept,
}

/// `replace`: rolling replacement of a leader-topology group of `--group-size` (3 or 5) in a ring
/// of `--nodes`: `--runs` rounds (default 3) of each kind of replacement (graceful or SIGKILL,
/// fresh or kept identity), back to back on the same group, one member at a time (the leader
/// among them), the next only once the group agreed again and `--seconds` (default 15) passed,
/// with `--loss`. Reports, for each kind, the longest time no member acted as the group's leader
/// during a replacement (sampled every 50 ms), the longest until the whole group, newcomer
/// included, agreed on one leader, stuck steps, and instants with two members acting as leader.
pub fn replace(p: &Params) -> Result<Value> {
    let net = NetConfig {
        loss: p.loss,
        ..NetConfig::default()
    };
    let mut sim = Sim::new(Config::profile(p.profile), net, p.seed);
    sim.persist = true;
    let size = p.group_size.clamp(1, 9);
    let spare = 4 * p.runs.max(3) * size + 8;
    let n = p.nodes.max(size + 1);
    for _ in 0..n + spare {
        sim.add_node();
    }
    sim.start(0, &[]);
    for i in 1..n {
        let pause = Duration::from_millis(sim.random_index(300) as u64);
        sim.run_for(pause);
        sim.start(i, &[0]);
    }
    let mut group: Vec<usize> = (1..=size).collect();
    for &i in &group {
        load(&mut sim, i);
    }
    let mut dual = 0;
    if until_agreed(&mut sim, &group, Duration::from_secs(60), &mut dual, None).is_none() {
        return Err(ScenarioError(format!("seed {}: no first election", p.seed)));
    }
    let rounds = if p.runs == 0 { 3 } else { p.runs };
    let gap = Duration::from_secs_f64(p.seconds.unwrap_or(15.0).max(0.0));
    let mut next_new = n;
    let mut out = serde_json::Map::new();
    let mut stuck_total = 0u64;
    let mut overlap_total = 0u64;
    let mut worst: f64 = 0.0;
    for kind in [
        Replacement::GracefulFresh,
        Replacement::GracefulKept,
        Replacement::KillFresh,
        Replacement::KillKept,
    ] {
        let mut leaderless_s: Vec<f64> = Vec::new();
        let mut agreed_s: Vec<f64> = Vec::new();
        let mut stuck = 0u64;
        for r in 0..rounds * group.len() {
            // The leader first in each round, then the others.
            let leader = agreed_leader(&sim, &group).map(|(l, _)| l);
            let victim = match (r % group.len(), leader) {
                (0, Some(l)) => l,
                _ => group[(r + 1) % group.len()],
            };
            let t0 = sim.now;
            if std::env::var_os("WARREN_SIM_TRACE_ELECTIONS").is_some() {
                trace_group(&sim, &group, &format!("{kind:?} step {r}, victim {victim}"));
            }
            // Time without any member acting as leader, sampled every 50 ms from the victim's
            // stop until the group (newcomer included) agrees again.
            let tick = Duration::from_millis(50);
            let mut leaderless = Duration::ZERO;
            let mut sample = |s: &mut Sim, overlap: &mut u64, span: Duration| {
                let end = s.now + span;
                while s.now < end {
                    s.run_for(tick);
                    match acting_leaders(s, &group).len() {
                        0 => leaderless += tick,
                        1 => {}
                        _ => *overlap += 1,
                    }
                }
            };
            let mut overlap = 0u64;
            match kind {
                Replacement::GracefulFresh | Replacement::GracefulKept => {
                    sim.leave(victim);
                    sample(&mut sim, &mut overlap, Duration::from_millis(800));
                    sim.crash(victim);
                }
                Replacement::KillFresh | Replacement::KillKept => sim.crash(victim),
            }
            // The replacement pod starts a few seconds later and peers through the ring.
            let later = Duration::from_millis(1000 + sim.random_index(3000) as u64);
            sample(&mut sim, &mut overlap, later);
            let newcomer = match kind {
                Replacement::GracefulFresh | Replacement::KillFresh => {
                    let i = next_new;
                    next_new += 1;
                    group.retain(|&g| g != victim);
                    group.push(i);
                    i
                }
                Replacement::GracefulKept | Replacement::KillKept => victim,
            };
            load(&mut sim, newcomer);
            let peers = sim.live();
            sim.start(newcomer, &peers);
            // Until the group is at rest again with the newcomer in it: it agrees on a leader,
            // and the leader's re-runs for the newcomer and the member gone have finished.
            let ok = sim.run_until_cond(tick, Duration::from_secs(60), |s| {
                match acting_leaders(s, &group).len() {
                    0 => leaderless += tick,
                    1 => {}
                    _ => overlap += 1,
                }
                settled_leader(s, &group).is_some()
            });
            overlap_total += overlap;
            if !ok {
                if std::env::var_os("WARREN_SIM_TRACE_ELECTIONS").is_some() {
                    trace_group(&sim, &group, &format!("{kind:?} stuck, victim {victim}"));
                }
                stuck += 1;
                continue;
            }
            leaderless_s.push(leaderless.as_secs_f64());
            agreed_s.push(sim.now.saturating_since(t0).as_secs_f64());
            sim.run_for(gap);
            if acting_leaders(&sim, &group).len() > 1 {
                overlap_total += 1;
            }
        }
        let max = leaderless_s.iter().copied().fold(0.0, f64::max);
        let agreed_max = agreed_s.iter().copied().fold(0.0, f64::max);
        worst = worst.max(max);
        stuck_total += stuck;
        out.insert(
            format!("{kind:?}"),
            json!({
                "steps": leaderless_s.len() as u64 + stuck,
                "stuck": stuck,
                "max_leaderless_s": round3(max),
                "max_until_newcomer_agrees_s": round3(agreed_max),
            }),
        );
    }
    let mut m = header("replace", p, &sim);
    m.insert("group_size".into(), json!(size));
    m.insert("rounds".into(), json!(rounds));
    m.insert("kinds".into(), Value::Object(out));
    m.insert("stuck".into(), json!(stuck_total));
    m.insert(
        "instants_with_two_acting_leaders".into(),
        json!(overlap_total + dual),
    );
    m.insert("max_leaderless_s".into(), json!(round3(worst)));
    Ok(Value::Object(m))
}

/// Starts node `i` as a new member of the group: it joins through every running member, as
/// `--peer` naming a headless service does, and loads the group's service.
fn join_group(sim: &mut Sim, i: usize, group: &mut Vec<usize>) {
    let peers = sim.live();
    sim.start(i, &peers);
    load(sim, i);
    group.push(i);
}

/// Whether leader `l`, on `side` of a split, has at most half of the voters of the result it
/// leads there alive (the committed electorate: members that joined the group since and are not
/// voters yet do not make a side large, and cannot elect without the voters either).
fn on_small_side(sim: &Sim, l: usize, side: &[usize]) -> bool {
    let Some(voters) = sim
        .ring(l)
        .and_then(|r| r.electorate(GROUP, ElectionKind::Leader))
        .map(|v| &v.agreed)
        .filter(|v| !v.is_empty())
    else {
        return false;
    };
    let with = voters
        .iter()
        .filter_map(|v| sim.index_of(v))
        .filter(|i| side.contains(i) && sim.is_live(*i))
        .count();
    2 * with <= voters.len()
}

/// What one fuzz run found.
#[derive(Clone, Debug, Default)]
pub struct FuzzRun {
    /// The group did not agree after the final heal and restarts.
    pub stuck: bool,
    /// Instants with two leaders holding quorum in one term.
    pub dual: u64,
    /// The longest stretch (seconds, sampled every 100 ms) during which two members of the
    /// group each acted as its leader, whatever their terms.
    pub max_overlap_s: f64,
    /// The longest time (seconds) a leader cut off on the small side of a split kept acting as
    /// leader after the split.
    pub max_minority_acting_s: f64,
    /// The longest time from a leader's crash to a new agreed leader (seconds).
    pub max_failover_s: f64,
    /// Faults applied.
    pub faults: u32,
}

/// One randomized run: a small ring where every member is in the group, a schedule of leader
/// crashes, restarts (from state files up to a write interval old, some in the middle of an
/// election, with their peers' rumors delayed by pusher reconnects), new members (found by their
/// resolver up to 2 s after they boot), services unloaded and loaded again, and partitions with
/// heals; then everything heals and restarts and the group must agree.
///
/// With `storm`, splits follow each other without waiting for the group to agree in between.
/// With `churn`, services are also unloaded and loaded again, dead members are replaced by new
/// ones (and never come back), and members are found by their resolver and hear rumors after
/// delays; without it, members join and hear rumors at once.
pub fn fuzz_run(seed: u64, cfg: &Config, storm: bool, churn: bool) -> FuzzRun {
    let net = if churn {
        NetConfig {
            join_delay_max: Duration::from_secs(2),
            reconnect_delay_max: Duration::from_secs(5),
            ..NetConfig::default()
        }
    } else {
        NetConfig::default()
    };
    let mut sim = Sim::new(cfg.clone(), net, seed);
    sim.persist = true;
    let start_n = 3 + sim.random_index(5);
    for _ in 0..start_n + 3 {
        sim.add_node();
    }
    let mut group: Vec<usize> = (0..start_n).collect();
    sim.start(0, &[]);
    load(&mut sim, 0);
    for i in 1..start_n {
        let pause = Duration::from_millis(sim.random_index(300) as u64);
        sim.run_for(pause);
        sim.start(i, &[0]);
        load(&mut sim, i);
    }
    let mut run = FuzzRun::default();
    let mut dual = 0;
    // Faults start on a formed group: its first election has finished (the scenarios above
    // measure the first election; here it is the starting point).
    if until_agreed(&mut sim, &group, Duration::from_secs(30), &mut dual, None).is_none() {
        run.stuck = true;
        return run;
    }
    let mut next_new = start_n;
    let mut leader_crashed_at: Option<(usize, Time)> = None;
    let mut overlap_since: Option<Time> = None;
    // A leader on the small side of the current split, and when the split began.
    let mut minority_leader: Option<(usize, Time, Vec<usize>)> = None;
    let mut unloaded: Vec<usize> = Vec::new();
    // Members replaced by new ones (`churn`): never started again.
    let mut lost: Vec<usize> = Vec::new();
    let faults = 4 + sim.random_index(6);
    for _ in 0..faults {
        let wait = Duration::from_millis(500 + sim.random_index(8000) as u64);
        let step = Duration::from_millis(100);
        let end = sim.now + wait;
        while sim.now < end {
            sim.run_for(step);
            if dual_leaders(&sim, &group) {
                dual += 1;
            }
            if acting_leaders(&sim, &group).len() > 1 {
                if std::env::var_os("WARREN_SIM_TRACE_ELECTIONS").is_some() {
                    trace_group(&sim, &group, "acting overlap");
                }
                let since = *overlap_since.get_or_insert(sim.now);
                let s = sim.now.saturating_since(since).as_secs_f64() + 0.1;
                run.max_overlap_s = run.max_overlap_s.max(s);
            } else {
                overlap_since = None;
            }
            if let Some((l, at, side)) = &minority_leader {
                // Still on the small side? (A member restarted on its side can make it the
                // majority: then acting is right.)
                let (l, at) = (*l, *at);
                if on_small_side(&sim, l, side) && acting_leaders(&sim, &group).contains(&l) {
                    let s = sim.now.saturating_since(at).as_secs_f64();
                    if s > 2.5 && std::env::var_os("WARREN_SIM_TRACE_ELECTIONS").is_some() {
                        trace_group(&sim, &group, "minority leader acting");
                    }
                    run.max_minority_acting_s = run.max_minority_acting_s.max(s);
                } else {
                    minority_leader = None;
                }
            }
            if let Some((old, at)) = leader_crashed_at
                && agreed_leader(&sim, &group).is_some_and(|(l, _)| l != old)
            {
                let s = sim.now.saturating_since(at).as_secs_f64();
                run.max_failover_s = run.max_failover_s.max(s);
                leader_crashed_at = None;
            }
        }
        run.faults += 1;
        if std::env::var_os("WARREN_SIM_TRACE_ELECTIONS").is_some() {
            trace_group(&sim, &group, "before a fault");
        }
        let live: Vec<usize> = group.iter().copied().filter(|&i| sim.is_live(i)).collect();
        let dead: Vec<usize> = group.iter().copied().filter(|&i| !sim.is_live(i)).collect();
        let choices = if churn { 7 } else { 6 };
        match sim.random_index(choices) {
            // Kill the leader (or anyone when there is none), never more than a minority.
            0 | 1 if dead.len() + 1 < group.len().div_ceil(2) || dead.is_empty() => {
                let victim = match agreed_leader(&sim, &group) {
                    Some((l, _)) => {
                        leader_crashed_at = Some((l, sim.now));
                        l
                    }
                    None => live[sim.random_index(live.len())],
                };
                sim.crash(victim);
            }
            // Unload the service from a live member (its leader sometimes), or load it back.
            5 if churn && !unloaded.is_empty() && sim.random_index(2) == 0 => {
                let i = unloaded.remove(sim.random_index(unloaded.len()));
                load(&mut sim, i);
                group.push(i);
            }
            5 if churn && live.len() > 2 && dead.is_empty() => {
                let i = live[sim.random_index(live.len())];
                sim.unload_service(i, GROUP);
                group.retain(|&g| g != i);
                unloaded.push(i);
            }
            // A dead member is lost for good (a node gone with its pod's volume) and a new
            // member takes its place, once the rest of the group is at rest on a result none of
            // whose voters is lost already and of whose voters it is a minority: losing more is
            // losing a majority of the committed electorate (one of a result of two), which
            // waits for a departure (`sup depart`) by design.
            6 if churn && dead.len() == 1 && next_new < sim.nodes.len() && {
                let lost_ids: Vec<MemberId> =
                    lost.iter().map(|&i| sim.nodes[i].id.clone()).collect();
                let gone = &sim.nodes[dead[0]].id;
                settled_leader(&sim, &group).is_some_and(|l| {
                    sim.ring(l)
                        .and_then(|r| r.election(GROUP, ElectionKind::Leader))
                        .is_some_and(|e| {
                            !e.votes.iter().any(|v| lost_ids.contains(v))
                                && 2 * usize::from(e.votes.contains(gone)) < e.votes.len()
                        })
                })
            } =>
            {
                let gone = dead[0];
                group.retain(|&g| g != gone);
                lost.push(gone);
                join_group(&mut sim, next_new, &mut group);
                next_new += 1;
            }
            // Restart a dead member with its old id; sometimes kill it again mid-election.
            2 if !dead.is_empty() => {
                let i = dead[sim.random_index(dead.len())];
                let peers = sim.live();
                sim.start(i, &peers);
                load(&mut sim, i);
                if sim.random_index(3) == 0 {
                    let pause = Duration::from_millis(sim.random_index(1500) as u64);
                    sim.run_for(pause);
                    sim.crash(i);
                }
            }
            // A new member joins the group.
            3 if next_new < sim.nodes.len() => {
                join_group(&mut sim, next_new, &mut group);
                next_new += 1;
            }
            // Split the ring (and the group) cleanly in two, replacing any earlier split. Cuts
            // that add up to non-transitive reachability (A↔B, B↔C, A↮C) are another fault model:
            // see ARCHITECTURE.md on what the election promises there.
            4 => {
                sim.heal();
                if !storm {
                    // A new split only once the group agrees again after the last one: the
                    // promise is about one split at a time (see `--partition-storm`).
                    until_agreed(&mut sim, &group, Duration::from_secs(20), &mut dual, None);
                }
                let mut all: Vec<usize> = (0..sim.nodes.len()).collect();
                let cut = 1 + sim.random_index(all.len().saturating_sub(1).max(1));
                for k in (1..all.len()).rev() {
                    let j = sim.random_index(k + 1);
                    all.swap(k, j);
                }
                let (a, b) = all.split_at(cut.min(all.len()));
                if std::env::var_os("WARREN_SIM_TRACE_ELECTIONS").is_some() {
                    eprintln!("t={:.3} split {a:?} | {b:?}", sim.now.as_secs_f64());
                }
                sim.partition(&[a.to_vec(), b.to_vec()]);
                minority_leader = agreed_leader(&sim, &group).and_then(|(l, _)| {
                    let side = if a.contains(&l) { a } else { b };
                    on_small_side(&sim, l, side).then_some((l, sim.now, side.to_vec()))
                });
            }
            _ => {
                sim.heal();
                minority_leader = None;
            }
        }
    }
    // Everything heals and every member runs again: the group must agree.
    sim.heal();
    for i in std::mem::take(&mut unloaded) {
        load(&mut sim, i);
        group.push(i);
    }
    for &i in &group {
        if !sim.is_live(i) {
            let peers = sim.live();
            sim.start(i, &peers);
            load(&mut sim, i);
        }
    }
    run.stuck = until_agreed(&mut sim, &group, Duration::from_secs(60), &mut dual, None).is_none();
    run.dual = dual;
    run
}

/// `election-fuzz`: `--runs` randomized runs (default 1000), seeds `--seed`, `--seed` + 1, ….
pub fn election_fuzz(p: &Params) -> Result<Value> {
    let cfg = Config::profile(p.profile);
    let runs = if p.runs == 0 { 1000 } else { p.runs };
    let mut stuck = Vec::new();
    let mut dual = Vec::new();
    let mut overlap = Vec::new();
    let mut max_overlap: f64 = 0.0;
    let mut max_minority: f64 = 0.0;
    let mut max_minority_seed = None;
    let mut max_failover: f64 = 0.0;
    let mut faults = 0u64;
    for k in 0..runs as u64 {
        let seed = p.seed.wrapping_add(k);
        let r = fuzz_run(seed, &cfg, p.partition_storm, p.churn);
        if r.stuck {
            stuck.push(seed);
        }
        if r.dual > 0 {
            dual.push(seed);
        }
        if r.max_overlap_s > 0.0 {
            overlap.push(seed);
        }
        max_overlap = max_overlap.max(r.max_overlap_s);
        if r.max_minority_acting_s > max_minority {
            max_minority = r.max_minority_acting_s;
            max_minority_seed = Some(seed);
        }
        max_failover = max_failover.max(r.max_failover_s);
        faults += u64::from(r.faults);
    }
    let mut m = serde_json::Map::new();
    m.insert("scenario".into(), json!("election-fuzz"));
    m.insert("seed".into(), json!(p.seed));
    m.insert("runs".into(), json!(runs));
    m.insert("profile".into(), json!(p.profile_name()));
    m.insert("partition_storm".into(), json!(p.partition_storm));
    m.insert("churn".into(), json!(p.churn));
    m.insert("faults".into(), json!(faults));
    m.insert("stuck".into(), json!(stuck.len()));
    m.insert("dual_leaders_with_quorum".into(), json!(dual.len()));
    m.insert("max_failover_s".into(), json!(round3(max_failover)));
    // Two members each acting as leader at one sampled instant (100 ms), any terms.
    m.insert("runs_with_overlap".into(), json!(overlap.len()));
    m.insert("max_overlap_s".into(), json!(round3(max_overlap)));
    m.insert("max_minority_acting_s".into(), json!(round3(max_minority)));
    m.insert("max_minority_acting_seed".into(), json!(max_minority_seed));
    // The seeds to replay (`--seed S --runs 1`), a few of each.
    stuck.truncate(10);
    dual.truncate(10);
    overlap.truncate(10);
    m.insert("stuck_seeds".into(), json!(stuck));
    m.insert("dual_seeds".into(), json!(dual));
    m.insert("overlap_seeds".into(), json!(overlap));
    Ok(Value::Object(m))
}
