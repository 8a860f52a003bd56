//! Scenarios: a ring formed in the simulator, a fault applied, and the numbers that matter.
//!
//! Each scenario returns a flat JSON object (see `report` in `main.rs`). They measure the ring the
//! way the design's targets are stated: a crash is "detected" at an observer when that observer
//! holds the member Confirmed (or Departed); false verdicts are counted against ground truth, which
//! only the simulator knows. Scenarios never read a real clock except `wall_s`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use warren_ring::{
    Config, Health, Profile, Rumor, RumorKey, Service, ServiceConfig, SysInfo, Time,
};

use crate::network::{NetConfig, Sim, Slowness};

/// Parameters shared by every scenario.
#[derive(Clone, Debug)]
pub struct Params {
    /// Ring size.
    pub nodes: usize,
    /// Seed of every random choice.
    pub seed: u64,
    /// Timing profile.
    pub profile: Profile,
    /// Simulated seconds of the measured phase (scenario default when `None`).
    pub seconds: Option<f64>,
    /// Datagram loss during the measured phase.
    pub loss: f64,
    /// Election scenarios: members of the service group.
    pub group_size: usize,
    /// Election scenarios: trials or randomized runs (0 = the scenario's default).
    pub runs: usize,
    /// `election-fuzz`: split the ring again without waiting for the group to agree after the
    /// previous heal.
    pub partition_storm: bool,
    /// election-fuzz: membership churn (unloads and reloads, resolver and reconnect delays).
    pub churn: bool,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            nodes: 50,
            seed: 1,
            profile: Profile::Default,
            seconds: None,
            loss: 0.0,
            group_size: 5,
            runs: 0,
            partition_storm: false,
            churn: false,
        }
    }
}

impl Params {
    fn seconds_or(&self, default: f64) -> Duration {
        Duration::from_secs_f64(self.seconds.unwrap_or(default).max(0.0))
    }

    pub(crate) fn profile_name(&self) -> &'static str {
        match self.profile {
            Profile::Default => "default",
            Profile::Habitat => "habitat",
        }
    }
}

/// A scenario failed to set itself up (for example the ring never formed).
#[derive(Debug)]
pub struct ScenarioError(pub String);

impl std::fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ScenarioError {}

pub(crate) type Result<T> = std::result::Result<T, ScenarioError>;

/// The names `run` accepts.
pub const SCENARIOS: &[&str] = &[
    "converge",
    "crash",
    "scale",
    "steady",
    "loss",
    "slow",
    "rumor",
    "join",
    "churn",
    "election",
    "election-fuzz",
    "graceful",
    "replace",
    "restart-cut",
];

/// Runs the scenario called `name`.
pub fn run(name: &str, p: &Params) -> Result<Value> {
    let wall = Instant::now();
    let mut v = match name {
        "converge" => converge(p)?,
        "crash" => crash(p)?,
        "scale" => scale(p)?,
        "steady" => steady(p)?,
        "loss" => loss(p)?,
        "slow" => slow(p)?,
        "rumor" => rumor(p)?,
        "join" => join(p)?,
        "churn" => churn(p)?,
        "election" => crate::elections::election(p)?,
        "election-fuzz" => crate::elections::election_fuzz(p)?,
        "graceful" => crate::elections::graceful(p)?,
        "replace" => crate::elections::replace(p)?,
        "restart-cut" => crate::elections::restart_cut(p)?,
        other => {
            return Err(ScenarioError(format!(
                "unknown scenario {other:?}; expected one of {}",
                SCENARIOS.join(", ")
            )));
        }
    };
    if let Value::Object(m) = &mut v {
        m.insert("wall_s".into(), json!(round3(wall.elapsed().as_secs_f64())));
    }
    Ok(v)
}

pub(crate) fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Nearest-rank percentile of sorted seconds.
pub fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted.get(rank.min(sorted.len()) - 1).copied()
}

pub(crate) fn header(name: &str, p: &Params, sim: &Sim) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert("scenario".into(), json!(name));
    m.insert("nodes".into(), json!(p.nodes));
    m.insert("seed".into(), json!(p.seed));
    m.insert("profile".into(), json!(p.profile_name()));
    m.insert("sim_s".into(), json!(round3(sim.now.as_secs_f64())));
    m.insert("events".into(), json!(sim.events_processed()));
    m
}

/// Builds a simulation of `p.nodes` members, all joining through member 0 within the first second,
/// and runs it until every member holds every other as Alive.
pub fn form_ring(p: &Params, cfg: Config) -> Result<(Sim, f64)> {
    form_ring_within(p, cfg, Duration::from_secs(120))
}

/// [`form_ring`], giving up after `limit` of simulated time.
pub fn form_ring_within(p: &Params, cfg: Config, limit: Duration) -> Result<(Sim, f64)> {
    let mut sim = Sim::new(cfg, NetConfig::default(), p.seed);
    // Debugging aid: WARREN_SIM_TRACE=3,17 prints every verdict about members 3 and 17.
    if let Ok(list) = std::env::var("WARREN_SIM_TRACE") {
        sim.trace = list
            .split(',')
            .filter_map(|x| x.trim().parse().ok())
            .collect();
    }
    for _ in 0..p.nodes.max(1) {
        sim.add_node();
    }
    sim.start(0, &[]);
    let mut offsets: Vec<(Time, usize)> = (1..p.nodes)
        .map(|i| {
            let ms = sim.random_index(1000) as u64;
            (Time::from_millis(ms), i)
        })
        .collect();
    offsets.sort();
    for (at, i) in offsets {
        sim.run_until(at);
        sim.start(i, &[0]);
    }
    let formed = sim.run_until_cond(Duration::from_millis(50), limit, fast_converged);
    if !formed || !sim.converged() {
        return Err(ScenarioError(format!(
            "seed {}: the ring of {} did not converge within {limit:?} ({})",
            p.seed,
            p.nodes,
            shortfall(&sim)
        )));
    }
    let formed_at = sim.now.as_secs_f64();
    Ok((sim, formed_at))
}

/// What a ring that did not converge lacks: how many members miss a record, the records missing
/// in all, and the Suspect and Confirmed records held (a forming ring has no dead member, so
/// these are false suspicions).
fn shortfall(sim: &Sim) -> String {
    let live = sim.live();
    let want = live.len().saturating_sub(1);
    let (mut short, mut missing, mut suspect, mut confirmed) = (0, 0, 0, 0);
    for &i in &live {
        let Some(r) = sim.nodes[i].ring.as_ref() else {
            short += 1;
            continue;
        };
        let m = r.members();
        let alive = m.count(Health::Alive);
        if alive < want {
            short += 1;
        }
        let (s, c) = (m.count(Health::Suspect), m.count(Health::Confirmed));
        suspect += s;
        confirmed += c;
        missing += want.saturating_sub(alive + s + c);
    }
    format!(
        "{short} members short; {missing} records missing, {suspect} Suspect, {confirmed} Confirmed"
    )
}

/// Cheap convergence check: every live member counts as many Alive members as there are others.
pub fn fast_converged(sim: &Sim) -> bool {
    let live = sim.live();
    let want = live.len().saturating_sub(1);
    live.iter().all(|&i| {
        sim.nodes[i]
            .ring
            .as_ref()
            .is_some_and(|r| r.members().count(Health::Alive) >= want)
    })
}

/// Runs until no member has anything left to disseminate (or `limit` passes).
pub fn settle(sim: &mut Sim, limit: Duration) {
    sim.run_until_cond(Duration::from_millis(100), limit, |s| {
        s.nodes
            .iter()
            .all(|n| n.ring.as_ref().is_none_or(|r| r.hot_rumors() == 0))
    });
}

fn traffic(sim: &Sim, since: Time, m: &mut serde_json::Map<String, Value>) {
    let secs = sim.now.saturating_since(since).as_secs_f64().max(1e-9);
    let n = sim.live().len().max(1) as f64;
    m.insert(
        "bytes_per_member_per_s".into(),
        json!(round3(sim.total_bytes() as f64 / n / secs)),
    );
    m.insert(
        "msgs_per_member_per_s".into(),
        json!(round3(sim.total_msgs() as f64 / n / secs)),
    );
}

fn converge(p: &Params) -> Result<Value> {
    let (sim, formed) = form_ring(p, Config::profile(p.profile))?;
    let mut m = header("converge", p, &sim);
    m.insert("converged_s".into(), json!(round3(formed)));
    Ok(Value::Object(m))
}

/// One member is killed; every survivor's time to hold it Confirmed.
pub fn crash(p: &Params) -> Result<Value> {
    let (mut sim, formed) = form_ring(p, Config::profile(p.profile))?;
    settle(&mut sim, Duration::from_secs(20));
    sim.run_for(Duration::from_secs(2));
    let live = sim.live();
    let victim = live[1 + sim.random_index(live.len().saturating_sub(1))];
    sim.watch.insert(victim);
    sim.reset_traffic();
    let t0 = sim.now;
    sim.crash(victim);
    let survivors: Vec<usize> = sim.live();
    let limit = p.seconds_or(60.0);
    sim.run_until_cond(Duration::from_millis(100), limit, |s| {
        survivors
            .iter()
            .all(|&o| s.obs.confirmed_at.contains_key(&(o, victim)))
    });
    if p.seconds.is_some() {
        // An explicit duration is simulated in full (it is also the simulator's speed benchmark).
        sim.run_until(t0 + limit);
    }
    let mut times: Vec<f64> = survivors
        .iter()
        .filter_map(|&o| sim.obs.confirmed_at.get(&(o, victim)))
        .map(|t| t.saturating_since(t0).as_secs_f64())
        .collect();
    times.sort_by(f64::total_cmp);
    let mut m = header("crash", p, &sim);
    m.insert("formed_s".into(), json!(round3(formed)));
    m.insert(
        "detect_p50_s".into(),
        json!(percentile(&times, 0.5).map(round3)),
    );
    m.insert(
        "detect_p99_s".into(),
        json!(percentile(&times, 0.99).map(round3)),
    );
    m.insert(
        "detect_max_s".into(),
        json!(times.last().copied().map(round3)),
    );
    m.insert(
        "completeness".into(),
        json!(round3(times.len() as f64 / survivors.len().max(1) as f64)),
    );
    m.insert("false_deaths".into(), json!(sim.obs.false_deaths));
    traffic(&sim, t0, &mut m);
    Ok(Value::Object(m))
}

/// The smallest ring [`scale`] measures.
const SCALE_FIRST: usize = 125;

/// The simulator's own cost as the ring grows, in one run: for 125 members, doubling up to
/// `--nodes` (1000), wall time per event and per message delivered while the ring forms (every
/// member joining within a second, until every member holds every other and nothing is hot) and
/// then in the formed ring (a member crashes; `--seconds`, 20, simulated). Forming moves N·N
/// records (each member must learn every other, each record about `budget` times), so its
/// messages per event grow with N; the formed ring's do not.
pub fn scale(p: &Params) -> Result<Value> {
    let top = p.nodes.max(SCALE_FIRST);
    let mut sizes = Vec::new();
    let mut n = SCALE_FIRST;
    while n < top {
        sizes.push(n);
        n *= 2;
    }
    sizes.push(top);
    let seconds = p.seconds_or(20.0);
    let mut m = serde_json::Map::new();
    m.insert("scenario".into(), json!("scale"));
    m.insert("nodes".into(), json!(top));
    m.insert("seed".into(), json!(p.seed));
    m.insert("profile".into(), json!(p.profile_name()));
    m.insert("sizes".into(), json!(sizes));
    let mut firsts: Option<(f64, f64, f64)> = None;
    for &n in &sizes {
        let q = Params {
            nodes: n,
            ..p.clone()
        };
        let t = Instant::now();
        let (mut sim, _) = form_ring(&q, Config::profile(p.profile))?;
        settle(&mut sim, Duration::from_secs(20));
        let form_wall = t.elapsed().as_secs_f64();
        let (form_events, form_msgs) = (sim.events_processed(), sim.messages_delivered());
        let formed_rss = proc_status_kib("VmRSS");
        let t = Instant::now();
        let live = sim.live();
        let victim = live[1 + sim.random_index(live.len().saturating_sub(1))];
        sim.crash(victim);
        sim.run_for(seconds);
        let ring_wall = t.elapsed().as_secs_f64();
        let ring_events = sim.events_processed() - form_events;
        let ring_msgs = sim.messages_delivered() - form_msgs;
        let us = |wall: f64, count: u64| wall * 1e6 / count.max(1) as f64;
        let costs = (
            us(form_wall, form_events),
            us(form_wall, form_msgs),
            us(ring_wall, ring_events),
        );
        let mut put = |k: &str, v: Value| m.insert(format!("{k}_{n}"), v);
        put("form_events", json!(form_events));
        put(
            "form_msgs_per_event",
            json!(round3(form_msgs as f64 / form_events.max(1) as f64)),
        );
        put("form_us_per_event", json!(round3(costs.0)));
        put("form_us_per_msg", json!(round3(costs.1)));
        put("ring_events", json!(ring_events));
        put(
            "ring_msgs_per_event",
            json!(round3(ring_msgs as f64 / ring_events.max(1) as f64)),
        );
        put("ring_us_per_event", json!(round3(costs.2)));
        put(
            "ring_events_per_s",
            json!(round3(ring_events as f64 / ring_wall.max(1e-9))),
        );
        // The process's resident memory after forming, per (member, record) pair: an upper bound
        // on the core's memory per record (it also counts the simulator's own structures and
        // what the smaller rings measured before left with the allocator).
        put(
            "formed_bytes_per_pair",
            json!(
                formed_rss
                    .map(|k| (k * 1024) as f64 / (n * n) as f64)
                    .map(round3)
            ),
        );
        let first = *firsts.get_or_insert(costs);
        if n == top {
            let ratio = |a: f64, b: f64| round3(a / b.max(1e-9));
            m.insert(
                "form_us_per_event_ratio".into(),
                json!(ratio(costs.0, first.0)),
            );
            m.insert(
                "form_us_per_msg_ratio".into(),
                json!(ratio(costs.1, first.1)),
            );
            m.insert(
                "ring_us_per_event_ratio".into(),
                json!(ratio(costs.2, first.2)),
            );
        }
    }
    m.insert(
        "peak_rss_mib".into(),
        json!(proc_status_kib("VmHWM").map(|k| round3(k as f64 / 1024.0))),
    );
    Ok(Value::Object(m))
}

/// A `kB` line of `/proc/self/status` (`VmRSS`, `VmHWM`); `None` where there is no procfs.
fn proc_status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// An idle ring once every record is old news: what each member sends per second (probes and
/// their piggyback, anti-entropy pushes), over `--seconds` (60) after three sync intervals.
pub fn steady(p: &Params) -> Result<Value> {
    let cfg = Config::profile(p.profile);
    let warmup = cfg.sync_interval * 3;
    let (mut sim, formed) = form_ring(p, cfg)?;
    settle(&mut sim, Duration::from_secs(20));
    sim.run_for(warmup);
    let syncs = |sim: &Sim| {
        (
            stat_sum(sim, |s| s.syncs),
            stat_sum(sim, |s| s.windowed_syncs),
        )
    };
    let before = syncs(&sim);
    sim.reset_traffic();
    let t0 = sim.now;
    sim.run_for(p.seconds_or(60.0));
    let after = syncs(&sim);
    let mut m = header("steady", p, &sim);
    m.insert("formed_s".into(), json!(round3(formed)));
    m.insert("syncs".into(), json!(after.0 - before.0));
    m.insert("windowed_syncs".into(), json!(after.1 - before.1));
    m.insert("converged_at_end".into(), json!(sim.converged()));
    traffic(&sim, t0, &mut m);
    Ok(Value::Object(m))
}

/// Steady state at `--loss`: false suspicions, false deaths and refutations.
pub fn loss(p: &Params) -> Result<Value> {
    let (mut sim, _) = form_ring(p, Config::profile(p.profile))?;
    settle(&mut sim, Duration::from_secs(20));
    let refuted_before: u64 = refutations(&sim);
    sim.obs = Default::default();
    sim.reset_traffic();
    sim.net.loss = p.loss;
    let t0 = sim.now;
    sim.run_for(p.seconds_or(600.0));
    let mut m = header("loss", p, &sim);
    m.insert("loss".into(), json!(p.loss));
    m.insert("false_suspicions".into(), json!(sim.obs.false_suspicions));
    m.insert("false_deaths".into(), json!(sim.obs.false_deaths));
    m.insert("refuted".into(), json!(refutations(&sim) - refuted_before));
    let mut dead: Vec<usize> = sim.obs.false_deaths_of.keys().copied().collect();
    dead.sort_unstable();
    m.insert("falsely_dead_members".into(), json!(dead));
    m.insert(
        "confirmed_by_timeout".into(),
        json!(stat_sum(&sim, |s| s.confirmed_by_timeout)),
    );
    m.insert(
        "confirmed_by_probe_ping".into(),
        json!(stat_sum(&sim, |s| s.confirmed_by_probe_ping)),
    );
    m.insert("converged_at_end".into(), json!(sim.converged()));
    traffic(&sim, t0, &mut m);
    Ok(Value::Object(m))
}

fn refutations(sim: &Sim) -> u64 {
    stat_sum(sim, |s| s.refutations)
}

/// One counter of [`warren_ring::Stats`], summed over every member that has a ring.
fn stat_sum(sim: &Sim, f: fn(&warren_ring::Stats) -> u64) -> u64 {
    sim.nodes
        .iter()
        .filter_map(|n| n.ring.as_ref())
        .map(|r| f(r.stats()))
        .sum()
}

/// One member paused 300 ms of every second: does anyone healthy die because of it?
pub fn slow(p: &Params) -> Result<Value> {
    let (mut sim, _) = form_ring(p, Config::profile(p.profile))?;
    settle(&mut sim, Duration::from_secs(20));
    sim.obs = Default::default();
    let live = sim.live();
    let slow = live[1 + sim.random_index(live.len().saturating_sub(1))];
    sim.set_slow(
        slow,
        Some(Slowness {
            period: Duration::from_secs(1),
            pause: Duration::from_millis(300),
            offset: Duration::ZERO,
        }),
    );
    sim.run_for(p.seconds_or(300.0));
    let of_slow = sim.obs.false_deaths_of.get(&slow).copied().unwrap_or(0);
    let mut m = header("slow", p, &sim);
    m.insert(
        "false_deaths_caused_by_slow_member".into(),
        json!(sim.obs.false_deaths - of_slow),
    );
    m.insert("false_deaths_of_slow_member".into(), json!(of_slow));
    m.insert("false_suspicions".into(), json!(sim.obs.false_suspicions));
    m.insert(
        "slow_member_local_health".into(),
        json!(sim.nodes[slow].ring.as_ref().map(|r| r.local_health())),
    );
    Ok(Value::Object(m))
}

fn config_rumor(group: &str, incarnation: u64) -> Rumor {
    Rumor::ServiceConfig(Arc::new(ServiceConfig {
        incarnation,
        service_group: group.into(),
        encrypted: false,
        config: b"[redis]\nmaxmemory = \"1gb\"\n".to_vec(),
    }))
}

/// One rumor published: time until each member holds it.
pub fn rumor(p: &Params) -> Result<Value> {
    let (mut sim, _) = form_ring(p, Config::profile(p.profile))?;
    settle(&mut sim, Duration::from_secs(20));
    let live = sim.live();
    let origin = live[sim.random_index(live.len())];
    let r = config_rumor("redis.default", 2);
    let key = r.key();
    sim.watch_rumors.insert(key.clone());
    sim.reset_traffic();
    let t0 = sim.now;
    sim.publish(origin, r);
    let limit = p.seconds_or(60.0);
    let k = key.clone();
    sim.run_until_cond(Duration::from_millis(10), limit, |s| {
        live.iter()
            .all(|&o| s.obs.rumor_at.contains_key(&(o, k.clone())))
    });
    let mut times: Vec<f64> = live
        .iter()
        .filter_map(|&o| sim.obs.rumor_at.get(&(o, key.clone())))
        .map(|t| t.saturating_since(t0).as_secs_f64())
        .collect();
    times.sort_by(f64::total_cmp);
    let mut m = header("rumor", p, &sim);
    m.insert(
        "coverage_p50_s".into(),
        json!(percentile(&times, 0.5).map(round3)),
    );
    m.insert(
        "coverage_p99_s".into(),
        json!(percentile(&times, 0.99).map(round3)),
    );
    m.insert(
        "coverage_max_s".into(),
        json!(times.last().copied().map(round3)),
    );
    m.insert(
        "coverage".into(),
        json!(round3(times.len() as f64 / live.len().max(1) as f64)),
    );
    traffic(&sim, t0, &mut m);
    Ok(Value::Object(m))
}

fn service_rumor(sim: &Sim, owner: usize, group: &str, incarnation: u64) -> Rumor {
    Rumor::Service(Arc::new(Service {
        incarnation,
        member_id: sim.nodes[owner].id.clone(),
        service_group: group.into(),
        pkg: "core/redis/7.2.4/20240101000000".into(),
        pkg_incarnation: 0,
        initialized: false,
        withdrawn: false,
        cfg: b"port = 6379\n".to_vec(),
        sys: SysInfo {
            ip: sim.nodes[owner].addr.to_string(),
            ..SysInfo::default()
        },
    }))
}

fn count_services(sim: &Sim, i: usize) -> usize {
    sim.nodes[i].ring.as_ref().map_or(0, |r| {
        r.rumors()
            .iter()
            .filter(|(k, _)| matches!(k, RumorKey::Service(..)))
            .count()
    })
}

/// One member joins a ring holding 100 service rumors: bytes until everyone knows it and it holds
/// every rumor.
pub fn join(p: &Params) -> Result<Value> {
    const RUMORS: usize = 100;
    let (mut sim, _) = form_ring(p, Config::profile(p.profile))?;
    let live = sim.live();
    for k in 0..RUMORS {
        let owner = live[k % live.len()];
        let group = format!("svc{k}.default");
        let r = service_rumor(&sim, owner, &group, 1);
        sim.publish(owner, r);
    }
    let spread = sim.run_until_cond(Duration::from_millis(100), Duration::from_secs(120), |s| {
        live.iter().all(|&i| count_services(s, i) >= RUMORS)
    });
    if !spread {
        return Err(ScenarioError(format!(
            "seed {}: the 100 rumors did not spread",
            p.seed
        )));
    }
    settle(&mut sim, Duration::from_secs(30));
    let joiner = sim.add_node();
    sim.reset_traffic();
    let t0 = sim.now;
    sim.start(joiner, &[0]);
    let joiner_id = sim.nodes[joiner].id.clone();
    let n = live.len();
    let done = |s: &Sim| {
        count_services(s, joiner) >= RUMORS
            && s.nodes[joiner]
                .ring
                .as_ref()
                .is_some_and(|r| r.members().count(Health::Alive) >= n)
            && live.iter().all(|&i| {
                s.nodes[i]
                    .ring
                    .as_ref()
                    .is_some_and(|r| r.members().health(&joiner_id) == Some(Health::Alive))
            })
    };
    let complete = sim.run_until_cond(Duration::from_millis(10), p.seconds_or(60.0), done);
    let mut m = header("join", p, &sim);
    m.insert("complete".into(), json!(complete));
    m.insert(
        "joiner_complete_s".into(),
        json!(round3(sim.now.saturating_since(t0).as_secs_f64())),
    );
    m.insert("total_bytes".into(), json!(sim.total_bytes()));
    m.insert("total_msgs".into(), json!(sim.total_msgs()));
    m.insert("rumors".into(), json!(RUMORS));
    Ok(Value::Object(m))
}

fn mean_live(sim: &Sim, f: impl Fn(&warren_ring::Ring) -> usize) -> f64 {
    let live = sim.live();
    let sum: usize = live
        .iter()
        .filter_map(|&i| sim.nodes[i].ring.as_ref())
        .map(f)
        .sum();
    sum as f64 / live.len().max(1) as f64
}

/// 10 000 join/leave events (members come and go for good); then the GC age passes.
pub fn churn(p: &Params) -> Result<Value> {
    const EVENTS: usize = 10_000;
    let cfg = Config::profile(p.profile);
    let (gc_age, departure) = (cfg.gc_age, cfg.departure_timeout);
    let (mut sim, _) = form_ring(p, cfg)?;
    for i in sim.live() {
        let r = service_rumor(&sim, i, "app.default", 1);
        sim.publish(i, r);
    }
    settle(&mut sim, Duration::from_secs(60));
    sim.run_for(Duration::from_secs(5));
    let before = mean_live(&sim, |r| r.rumors().len());
    let members_before = mean_live(&sim, |r| r.members().len());
    let mut peak = before;
    let mut leaving: Vec<usize> = Vec::new();
    let interval = Duration::from_millis(250);
    for e in 0..EVENTS {
        // The previous leaver's process ends after spreading its departure.
        for i in leaving.drain(..) {
            sim.crash(i);
        }
        let live = sim.live();
        let candidates: Vec<usize> = live.into_iter().filter(|&i| i != 0).collect();
        if let Some(&out) = candidates.get(sim.random_index(candidates.len())) {
            if sim.random_index(5) == 0 {
                sim.crash(out);
            } else {
                sim.leave(out);
                leaving.push(out);
            }
        }
        let newcomer = sim.add_node();
        sim.start(newcomer, &[0]);
        let r = service_rumor(&sim, newcomer, "app.default", 1);
        sim.publish(newcomer, r);
        sim.run_for(interval);
        if e % 100 == 0 {
            peak = peak.max(mean_live(&sim, |r| r.rumors().len()));
        }
    }
    for i in leaving.drain(..) {
        sim.crash(i);
    }
    let churn_end = sim.now;
    let during = mean_live(&sim, |r| r.rumors().len());
    // Crashed members: Confirmed → Departed after the departure timeout, then collected after the
    // GC age; wait for both plus a few GC sweeps.
    sim.run_for(departure + gc_age + Duration::from_secs(60));
    let after = mean_live(&sim, |r| r.rumors().len());
    let members_after = mean_live(&sim, |r| r.members().len());
    let mut m = header("churn", p, &sim);
    m.insert("events".into(), json!(EVENTS));
    m.insert("churn_s".into(), json!(round3(churn_end.as_secs_f64())));
    m.insert("rumor_store_entries_before".into(), json!(round3(before)));
    m.insert("rumor_store_entries_peak".into(), json!(round3(peak)));
    m.insert(
        "rumor_store_entries_at_churn_end".into(),
        json!(round3(during)),
    );
    m.insert("rumor_store_entries_after".into(), json!(round3(after)));
    m.insert(
        "members_tracked_before".into(),
        json!(round3(members_before)),
    );
    m.insert("members_tracked_after".into(), json!(round3(members_after)));
    m.insert("live_members_after".into(), json!(sim.live().len()));
    m.insert("gc_age_s".into(), json!(gc_age.as_secs()));
    Ok(Value::Object(m))
}

/// Convenience for tests: a partition of the ring in two halves, healed after `cut`; returns how
/// long the ring took to re-converge after the heal (`None` if it did not within `limit`).
pub fn partition_heal(sim: &mut Sim, cut: Duration, limit: Duration) -> Option<f64> {
    let live = sim.live();
    let (a, b) = live.split_at(live.len() / 2);
    sim.partition(&[a.to_vec(), b.to_vec()]);
    sim.run_for(cut);
    sim.heal();
    let t0 = sim.now;
    let ok = sim.run_until_cond(Duration::from_millis(100), limit, |s| s.converged());
    ok.then(|| sim.now.saturating_since(t0).as_secs_f64())
}
