//! `warren local bench`: a benchmark of real `warren run` processes on loopback, one ring per
//! size given (`-n 10,25,50,100`), each member running the plan (default `plans/hello`) with
//! leader topology, as `warren local up` starts them but every member given only member 0 as
//! its peer (member 0 is given member 1, so it can come back after a restart).
//!
//! For each size it measures, in this order: formation (start → every member counts N alive
//! on `/metrics`); the first leader (one member's rendered config says `role = "leader"`, all
//! others `follower`); an idle window (CPU from `/proc/PID/stat`, VmRSS from
//! `/proc/PID/status`, Pss and Anonymous from `/proc/PID/smaps_rollup`, gossip bytes and datagrams from `/metrics`, with nothing polled in
//! between); SIGKILLs of a random member (never member 0 nor the leader) → every survivor's
//! `/metrics` counts it Confirmed; `warren config apply` through a random member → every
//! member's rendered config carries the new value (read from the files, so no HTTP load); and
//! SIGKILLs of the leader → a survivor's rendered config says leader, then every survivor's
//! `/census` names it. After each kill the member is started again with its state and the ring
//! waits until everyone counts N alive (and, after a failover, until the roles settle again).
//!
//! Resolution: HTTP rounds every 100 ms (each round reads the members not yet done, all at
//! once), files every 20 ms; each time is taken when the answer arrives, so it is an upper
//! bound late by at most one round. Times are wall-clock seconds from the SIGKILL, or from
//! starting the `warren config apply` process.
//!
//! Every member is stopped and the ring's directory removed when a size is done, on error and
//! on Ctrl-C/SIGTERM (the [`Ring`]'s `Drop`). It writes `<out>/n<N>.json` per size,
//! `<out>/report.json` (every size, the simulator at the same sizes, the machine) and the
//! plots (`plot.rs`). It asserts nothing about speed: the targets are compared in
//! BENCHMARKS.md.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, anyhow, bail};
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use rand::{Rng as _, SeedableRng as _};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde_json::{Value, json};

use super::poll;
use super::state;
use super::up::{Spec, parent_of};
use crate::cli::LocalBenchArgs;

/// Between two rounds of HTTP reads.
const ROUND: Duration = Duration::from_millis(100);
/// Between two reads of the members' rendered files.
const FILE_ROUND: Duration = Duration::from_millis(20);
/// Linux reports CPU time in USER_HZ ticks, 100 a second on every architecture's ABI.
const TICKS_PER_S: f64 = 100.0;
/// How long any one phase may take before the benchmark gives up on the size.
const PHASE_LIMIT: Duration = Duration::from_secs(180);

/// Runs `warren local bench`; returns the exit code.
pub(crate) fn bench(args: LocalBenchArgs) -> ExitCode {
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("warren: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &LocalBenchArgs) -> Result<()> {
    if args.replot {
        return replot(args);
    }
    if args.members.is_empty() {
        bail!("-n needs at least one ring size");
    }
    if let Some(n) = args.members.iter().find(|n| **n < 3) {
        bail!("-n {n}: a ring needs at least 3 members (a seed, a leader and a victim)");
    }
    if args.trials == 0 {
        bail!("--trials must be at least 1");
    }
    let pkg = crate::services::read_package(&args.plan)?;
    let plan = std::path::absolute(&args.plan)
        .with_context(|| format!("resolving {}", args.plan.display()))?;
    let exe = std::env::current_exe().context("finding the warren binary")?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    if let Err(e) = nix::sys::prctl::set_child_subreaper(true) {
        eprintln!("warren: cannot become a child subreaper ({e}): services may outlive members");
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let stop = Arc::new(AtomicBool::new(false));
    let mut sizes = Vec::new();
    let mut sims = Vec::new();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(args.seed);
    rt.block_on(async {
        tokio::spawn(watch_signals(Arc::clone(&stop)));
        for &n in &args.members {
            say(&format!("ring of {n}: starting"));
            let b = Bench {
                n: usize::from(n),
                args,
                service_group: format!("{}.default", pkg.name()),
                stop: Arc::clone(&stop),
            };
            let report = b.run(&exe, &plan, &mut rng).await?;
            let file = args.out.join(format!("n{n}.json"));
            std::fs::write(&file, format!("{report:#}\n"))
                .with_context(|| format!("writing {}", file.display()))?;
            say(&format!("ring of {n}: done, {}", file.display()));
            sizes.push(report);
            // The report and plots so far: an interrupted run keeps the sizes it finished.
            sims.push(sim_one(args, &exe, n));
            finish(args, sizes.clone(), &sims)?;
        }
        Ok::<(), anyhow::Error>(())
    })
}

/// `--replot`: the plots again from `<out>/report.json`, or, without one (a run stopped
/// before its first size was written into it), a report assembled from `<out>/n<N>.json` of
/// the sizes given, with the simulator run again.
fn replot(args: &LocalBenchArgs) -> Result<()> {
    let file = args.out.join("report.json");
    if file.is_file() {
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("reading {}", file.display()))?;
        let report: Value =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", file.display()))?;
        for f in super::plot::draw(&report, &args.out, args.font.as_deref())? {
            say(&format!("plot: {}", f.display()));
        }
        return Ok(());
    }
    let exe = std::env::current_exe().context("finding the warren binary")?;
    let mut sizes = Vec::new();
    let mut sims = Vec::new();
    for &n in &args.members {
        let f = args.out.join(format!("n{n}.json"));
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        sizes.push(
            serde_json::from_str::<Value>(&text)
                .with_context(|| format!("parsing {}", f.display()))?,
        );
        sims.push(sim_one(args, &exe, n));
    }
    if sizes.is_empty() {
        bail!("neither {} nor any n<N>.json there", file.display());
    }
    finish(args, sizes, &sims)
}

/// Writes `<out>/report.json` with `sizes` and the simulator's reports, and draws the plots.
fn finish(args: &LocalBenchArgs, sizes: Vec<Value>, sims: &[Value]) -> Result<()> {
    let report = json!({
        "command": std::env::args().collect::<Vec<_>>().join(" "),
        "unix_time": SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        "machine": machine(),
        "resolution": {
            "http_round_ms": ROUND.as_millis(),
            "file_round_ms": FILE_ROUND.as_millis(),
            "note": "times are taken when an answer arrives: upper bounds, late by at most one round plus its reads",
        },
        "sizes": sizes,
        "sim": {"sizes": sims},
    });
    let file = args.out.join("report.json");
    std::fs::write(&file, format!("{report:#}\n"))
        .with_context(|| format!("writing {}", file.display()))?;
    say(&format!("report: {}", file.display()));
    match super::plot::draw(&report, &args.out, args.font.as_deref()) {
        Ok(files) => {
            for f in files {
                say(&format!("plot: {}", f.display()));
            }
        }
        Err(e) => eprintln!("warren: no plots: {e:#}"),
    }
    Ok(())
}

/// Sets `stop` on SIGINT or SIGTERM; the phases check it and the ring is dropped (stopped).
async fn watch_signals(stop: Arc<AtomicBool>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    stop.store(true, Ordering::SeqCst);
}

fn say(line: &str) {
    eprintln!("{} {line}", super::up::hms(SystemTime::now()));
}

/// The members of one ring and their processes; stops them and removes the directory when
/// dropped.
struct Ring {
    spec: Spec,
    children: Vec<Option<Child>>,
    ids: Vec<String>,
}

impl Ring {
    fn new(spec: Spec) -> Self {
        let n = spec.ports.len();
        Ring {
            spec,
            children: (0..n).map(|_| None).collect(),
            ids: vec![String::new(); n],
        }
    }

    fn n(&self) -> usize {
        self.children.len()
    }

    fn http(&self, i: usize) -> SocketAddr {
        let port = self.spec.ports.get(i).map_or(0, |p| p.http);
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    fn pid(&self, i: usize) -> Option<u32> {
        self.children.get(i)?.as_ref().map(Child::id)
    }

    fn start(&mut self, i: usize) -> Result<()> {
        let child = self.spec.spawn(i)?;
        if let Some(c) = self.children.get_mut(i) {
            *c = Some(child);
        }
        Ok(())
    }

    /// SIGKILL member i and its services (its children, each a process group of its own).
    fn kill(&mut self, i: usize) -> Result<()> {
        let pid = self
            .pid(i)
            .ok_or_else(|| anyhow!("member {i} is not running"))?;
        let services = children_of(pid);
        let raw = i32::try_from(pid).map_err(|_| anyhow!("member {i} has an odd pid"))?;
        kill(Pid::from_raw(raw), Signal::SIGKILL).with_context(|| format!("killing member {i}"))?;
        for s in services {
            if let Ok(p) = i32::try_from(s) {
                let _ = killpg(Pid::from_raw(p), Signal::SIGKILL);
            }
        }
        if let Some(mut c) = self.children.get_mut(i).and_then(Option::take) {
            let _ = c.wait();
        }
        self.reap_orphans();
        Ok(())
    }

    /// SIGKILLs and reaps processes reparented to this one that are not members.
    fn reap_orphans(&self) {
        let me = std::process::id();
        let members: Vec<u32> = (0..self.n()).filter_map(|i| self.pid(i)).collect();
        for pid in children_of(me) {
            if members.contains(&pid) {
                continue;
            }
            if let Ok(raw) = i32::try_from(pid) {
                let _ = killpg(Pid::from_raw(raw), Signal::SIGKILL);
                let _ = kill(Pid::from_raw(raw), Signal::SIGKILL);
                let _ = nix::sys::wait::waitpid(Pid::from_raw(raw), None);
            }
        }
    }

    /// The rendered config of member i's service.
    fn rendered(&self, i: usize, pkg: &str) -> Option<String> {
        let f = self
            .spec
            .member_dir(i)
            .join(format!("hab/svc/{pkg}/config/{pkg}.conf"));
        std::fs::read_to_string(f).ok()
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        for i in 0..self.n() {
            if let Some(pid) = self.pid(i).and_then(|p| i32::try_from(p).ok()) {
                let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
            }
        }
        let deadline = Instant::now() + Duration::from_secs(15);
        for c in self.children.iter_mut() {
            let Some(child) = c else { continue };
            loop {
                match child.try_wait() {
                    Ok(Some(_)) => break,
                    Ok(None) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(50));
                    }
                    Ok(None) | Err(_) => {
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                }
            }
            *c = None;
        }
        self.reap_orphans();
        if let Err(e) = std::fs::remove_dir_all(&self.spec.dir) {
            eprintln!(
                "warren: removing the ring's directory {}: {e}",
                self.spec.dir.display()
            );
        }
    }
}

/// Processes whose parent is `pid` (from `/proc`).
fn children_of(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| parent_of(*p) == Some(pid))
        .collect()
}

/// One ring size's benchmark.
struct Bench<'a> {
    n: usize,
    args: &'a LocalBenchArgs,
    service_group: String,
    stop: Arc<AtomicBool>,
}

/// A member's role as its rendered config says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Leader,
    Follower,
    Other,
}

fn role_of(conf: &str) -> Role {
    if conf.contains("role = \"leader\"") {
        Role::Leader
    } else if conf.contains("role = \"follower\"") {
        Role::Follower
    } else {
        Role::Other
    }
}

impl Bench<'_> {
    fn pkg(&self) -> &str {
        self.service_group
            .split_once('.')
            .map_or(self.service_group.as_str(), |(p, _)| p)
    }

    fn check(&self, since: Instant, what: &str) -> Result<()> {
        if self.stop.load(Ordering::SeqCst) {
            bail!("interrupted");
        }
        if since.elapsed() > PHASE_LIMIT {
            bail!(
                "ring of {}: {what} took over {} s",
                self.n,
                PHASE_LIMIT.as_secs()
            );
        }
        Ok(())
    }

    async fn run(&self, exe: &Path, plan: &Path, rng: &mut Xoshiro256PlusPlus) -> Result<Value> {
        let n = self.n;
        let dir = tempfile::Builder::new()
            .prefix("warren-bench.")
            .tempdir()
            .context("creating a directory for the members")?
            .keep();
        let ports = (0..n)
            .map(|i| {
                let i = u16::try_from(i).map_err(|_| anyhow!("too many members"))?;
                state::ports(self.args.base_port, i)
            })
            .collect::<Result<Vec<_>>>()?;
        let mut ring = Ring::new(Spec {
            exe: exe.to_path_buf(),
            plans: vec![plan.to_path_buf()],
            run_args: vec!["--topology".into(), "leader".into()],
            ports,
            dir,
            seed_only: true,
        });

        // Formation from one seed.
        let t0 = Instant::now();
        for i in 0..n {
            ring.start(i)?;
        }
        let spawned_s = secs(t0.elapsed());
        let everyone: Vec<usize> = (0..n).collect();
        let formed = self
            .until_metric(&ring, &everyone, t0, "formation", |m| {
                metric(m, "warren_ring_members", "alive").is_some_and(|a| a >= n as f64)
            })
            .await?;
        let formation_s = formed.iter().copied().fold(0.0, f64::max);
        say(&format!("ring of {n}: formed in {formation_s:.2} s"));
        for (i, id) in ring.ids.iter_mut().enumerate() {
            let f = ring.spec.member_dir(i).join("hab/sup/default/MEMBER_ID");
            *id = std::fs::read_to_string(&f)
                .with_context(|| format!("reading {}", f.display()))?
                .trim()
                .to_owned();
        }
        let (mut leader, _) = self.settled_roles(&ring, t0).await?;
        let first_leader_s = secs(t0.elapsed());
        say(&format!(
            "ring of {n}: member {leader} leads, {first_leader_s:.2} s after start"
        ));

        let idle = self.idle(&ring).await?;
        say(&format!("ring of {n}: idle {idle}"));

        // Failure detection.
        let mut detect = Vec::new();
        let mut detect_curves = Vec::new();
        let mut rejoin = Vec::new();
        // The member restarted last, and when: a config trial's slowest member is reported with
        // how long before the trial it was restarted, if it was that one.
        let mut restarted: Option<(usize, Instant)> = None;
        for t in 0..self.args.trials {
            let victim = loop {
                let v = rng.random_range(1..n);
                if v != leader {
                    break v;
                }
            };
            let survivors: Vec<usize> = (0..n).filter(|i| *i != victim).collect();
            let t_kill = Instant::now();
            ring.kill(victim)?;
            let seen = self
                .until_metric(&ring, &survivors, t_kill, "detection", |m| {
                    metric(m, "warren_ring_members", "confirmed").is_some_and(|c| c >= 1.0)
                })
                .await?;
            let worst = seen.iter().copied().fold(0.0, f64::max);
            say(&format!(
                "ring of {n}: trial {t}: member {victim} Confirmed everywhere in {worst:.2} s"
            ));
            detect.push(worst);
            detect_curves.push(sorted(seen));
            let t_start = Instant::now();
            ring.start(victim)?;
            restarted = Some((victim, t_start));
            self.until_metric(&ring, &everyone, t_start, "rejoin", |m| {
                metric(m, "warren_ring_members", "alive").is_some_and(|a| a >= n as f64)
                    && metric(m, "warren_ring_members", "confirmed").unwrap_or(0.0) < 1.0
            })
            .await?;
            rejoin.push(secs(t_start.elapsed()));
        }

        // Config apply.
        let mut config = Vec::new();
        let mut config_curves = Vec::new();
        let mut config_slowest = Vec::new();
        let config_trials = self.args.config_trials.unwrap_or(self.args.trials);
        for t in 0..config_trials {
            let via = rng.random_range(0..n);
            let token = format!("bench-{n}-{t}");
            let file = ring.spec.dir.join("bench-config.toml");
            std::fs::write(&file, format!("message = \"{token}\"\n"))
                .with_context(|| format!("writing {}", file.display()))?;
            let t_apply = Instant::now();
            self.config_apply(&ring, exe, via, u64::from(t) + 1, &file)?;
            let cli_s = secs(t_apply.elapsed());
            let seen = self
                .until_files(&ring, &everyone, t_apply, "config apply", |c| {
                    c.contains(&token)
                })
                .await?;
            let worst = seen.iter().copied().fold(0.0, f64::max);
            let slowest = seen
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map_or(0, |(i, _)| i);
            let restarted_s = restarted
                .filter(|(m, _)| *m == slowest)
                .map(|(_, at)| secs(t_apply.duration_since(at)));
            say(&format!(
                "ring of {n}: config {t} through member {via}: rendered everywhere in {worst:.2} s, last by member {slowest}{} (the CLI took {cli_s:.2} s)",
                restarted_s.map_or(String::new(), |s| format!(", restarted {s:.2} s before"))
            ));
            config_slowest.push(json!({ "member": slowest, "restarted_before_s": restarted_s }));
            config.push(worst);
            config_curves.push(sorted(seen));
        }

        // Leader failover.
        let mut failover = Vec::new();
        let mut agreed = Vec::new();
        let failover_trials = self
            .args
            .failover_trials
            .unwrap_or((self.args.trials / 2).max(1));
        for t in 0..failover_trials {
            let old = leader;
            let survivors: Vec<usize> = (0..n).filter(|i| *i != old).collect();
            let t_kill = Instant::now();
            ring.kill(old)?;
            let (new, acting_s) = self.first_leader(&ring, &survivors, t_kill).await?;
            let new_id = ring.ids.get(new).cloned().unwrap_or_default();
            say(&format!(
                "ring of {n}: failover {t}: member {new} ({new_id}) renders leader after {acting_s:.2} s; waiting for every census"
            ));
            let sg = self.service_group.clone();
            self.until_json(&ring, &survivors, t_kill, "/census", "agreement", |c| {
                c["census_groups"][&sg]["leader_id"].as_str() == Some(new_id.as_str())
            })
            .await?;
            let agreed_s = secs(t_kill.elapsed());
            say(&format!(
                "ring of {n}: failover {t}: member {new} leads {acting_s:.2} s after the SIGKILL of member {old}; all agree at {agreed_s:.2} s"
            ));
            failover.push(acting_s);
            agreed.push(agreed_s);
            let t_start = Instant::now();
            ring.start(old)?;
            self.until_metric(&ring, &everyone, t_start, "rejoin", |m| {
                metric(m, "warren_ring_members", "alive").is_some_and(|a| a >= n as f64)
                    && metric(m, "warren_ring_members", "confirmed").unwrap_or(0.0) < 1.0
            })
            .await?;
            (leader, _) = self.settled_roles(&ring, t_start).await?;
        }

        Ok(json!({
            "n": n,
            "spawned_s": spawned_s,
            "formation_s": formation_s,
            "formation_per_member_s": sorted(formed),
            "first_leader_s": first_leader_s,
            "idle": idle,
            "detection_s": summary(&detect),
            "detection_trials_s": detect,
            "detection_coverage_s": detect_curves,
            "rejoin_s": summary(&rejoin),
            "config_apply_s": summary(&config),
            "config_apply_trials_s": config,
            "config_apply_coverage_s": config_curves,
            "config_apply_slowest": config_slowest,
            "failover_s": summary(&failover),
            "failover_trials_s": failover,
            "failover_agreed_s": summary(&agreed),
        }))
    }

    /// Reads `/metrics` of `members` in rounds until `done` holds for each; the seconds from
    /// `since` at which each did, in the order of `members`.
    async fn until_metric(
        &self,
        ring: &Ring,
        members: &[usize],
        since: Instant,
        what: &str,
        done: impl Fn(&str) -> bool,
    ) -> Result<Vec<f64>> {
        self.until_http(ring, members, since, "/metrics", what, done)
            .await
    }

    /// Reads `path` of `members` in rounds until `done` holds for the body of each.
    async fn until_http(
        &self,
        ring: &Ring,
        members: &[usize],
        since: Instant,
        path: &'static str,
        what: &str,
        done: impl Fn(&str) -> bool,
    ) -> Result<Vec<f64>> {
        let mut arrivals = Arrivals::new(members, since);
        loop {
            self.check(since, what)
                .map_err(|e| e.context(arrivals.pending()))?;
            let mut set = tokio::task::JoinSet::new();
            for (k, i) in arrivals.waiting() {
                let addr = ring.http(i);
                set.spawn(async move { (k, poll::get_text(addr, path).await) });
            }
            while let Some(r) = set.join_next().await {
                if let Ok((k, Some(text))) = r
                    && done(&text)
                {
                    arrivals.arrived(k);
                }
            }
            if let Some(times) = arrivals.all() {
                return Ok(times);
            }
            tokio::time::sleep(ROUND).await;
        }
    }

    /// As [`Self::until_metric`], with a JSON document.
    async fn until_json(
        &self,
        ring: &Ring,
        members: &[usize],
        since: Instant,
        path: &'static str,
        what: &str,
        done: impl Fn(&Value) -> bool,
    ) -> Result<Vec<f64>> {
        self.until_http(ring, members, since, path, what, |text| {
            serde_json::from_str::<Value>(text).is_ok_and(|v| done(&v))
        })
        .await
    }

    /// Reads the rendered config of `members` until `done` holds for each.
    async fn until_files(
        &self,
        ring: &Ring,
        members: &[usize],
        since: Instant,
        what: &str,
        done: impl Fn(&str) -> bool,
    ) -> Result<Vec<f64>> {
        let mut arrivals = Arrivals::new(members, since);
        loop {
            self.check(since, what)
                .map_err(|e| e.context(arrivals.pending()))?;
            for (k, i) in arrivals.waiting() {
                if ring.rendered(i, self.pkg()).is_some_and(|c| done(&c)) {
                    arrivals.arrived(k);
                }
            }
            if let Some(times) = arrivals.all() {
                return Ok(times);
            }
            tokio::time::sleep(FILE_ROUND).await;
        }
    }

    /// The first of `members` whose rendered config says leader, and when.
    async fn first_leader(
        &self,
        ring: &Ring,
        members: &[usize],
        since: Instant,
    ) -> Result<(usize, f64)> {
        loop {
            self.check(since, "failover")?;
            if let Some(i) = members.iter().find(|i| {
                ring.rendered(**i, self.pkg())
                    .is_some_and(|c| role_of(&c) == Role::Leader)
            }) {
                return Ok((*i, secs(since.elapsed())));
            }
            tokio::time::sleep(FILE_ROUND).await;
        }
    }

    /// Waits until exactly one member's rendered config says leader and every other's says
    /// follower; the leader.
    async fn settled_roles(&self, ring: &Ring, since: Instant) -> Result<(usize, f64)> {
        loop {
            self.check(since, "an election")?;
            let roles: Vec<Role> = (0..ring.n())
                .map(|i| {
                    ring.rendered(i, self.pkg())
                        .map_or(Role::Other, |c| role_of(&c))
                })
                .collect();
            let leaders: Vec<usize> = (0..ring.n())
                .filter(|i| roles.get(*i) == Some(&Role::Leader))
                .collect();
            if let [l] = leaders.as_slice()
                && roles.iter().filter(|r| **r == Role::Follower).count() + 1 == ring.n()
            {
                return Ok((*l, secs(since.elapsed())));
            }
            tokio::time::sleep(ROUND).await;
        }
    }

    /// `warren config apply` through member `via`.
    fn config_apply(
        &self,
        ring: &Ring,
        exe: &Path,
        via: usize,
        version: u64,
        file: &Path,
    ) -> Result<()> {
        let ctl = ring.spec.ports.get(via).map_or(0, |p| p.ctl);
        let out = Command::new(exe)
            .args(["config", "apply", &self.service_group, &version.to_string()])
            .arg(file)
            .arg("-r")
            .arg(format!("127.0.0.1:{ctl}"))
            .arg("--fs-root")
            .arg(ring.spec.member_dir(via))
            .stdin(Stdio::null())
            .output()
            .context("running warren config apply")?;
        if !out.status.success() {
            bail!(
                "warren config apply through member {via} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(())
    }

    /// CPU, memory and gossip traffic of every member over the idle window (after 5 s for the
    /// ring to settle); nothing reads the members in between.
    async fn idle(&self, ring: &Ring) -> Result<Value> {
        tokio::time::sleep(Duration::from_secs(5)).await;
        let window = Duration::from_secs(self.args.idle_secs.max(1));
        let before = self.sample(ring, Read::MetricsFirst).await;
        let t = Instant::now();
        let mut left = window;
        while !left.is_zero() {
            self.check(t, "the idle window")?;
            let step = left.min(Duration::from_millis(500));
            tokio::time::sleep(step).await;
            left = window.saturating_sub(t.elapsed());
        }
        let after = self.sample(ring, Read::ProcFirst).await;
        let secs_ = t.elapsed().as_secs_f64();
        let mut cpu = Vec::new();
        let mut bytes = Vec::new();
        let mut datagrams = Vec::new();
        let mut rss = Vec::new();
        let mut pss = Vec::new();
        let mut anon = Vec::new();
        for (b, a) in before.iter().zip(&after) {
            if let (Some(b), Some(a)) = (b, a) {
                cpu.push((a.ticks.saturating_sub(b.ticks)) as f64 / TICKS_PER_S / secs_ * 100.0);
                bytes.push((a.bytes - b.bytes) / secs_);
                datagrams.push((a.datagrams - b.datagrams) / secs_);
                rss.push(a.rss_kib as f64 / 1024.0);
                pss.push(a.pss_kib as f64 / 1024.0);
                anon.push(a.anon_kib as f64 / 1024.0);
            }
        }
        if cpu.len() != ring.n() {
            bail!(
                "ring of {}: only {} of the members could be read in the idle window",
                self.n,
                cpu.len()
            );
        }
        Ok(json!({
            "window_s": secs_,
            "cpu_percent_of_core": summary(&cpu),
            "rss_mib": summary(&rss),
            "pss_mib": summary(&pss),
            "anon_mib": summary(&anon),
            "sent_bytes_per_s": summary(&bytes),
            "sent_datagrams_per_s": summary(&datagrams),
        }))
    }

    /// Reads every member's counters. The CPU read and the `/metrics` read are ordered by
    /// `read` so that the window between two samples holds neither of the two `/metrics`
    /// answers (each costs the member a request's work).
    async fn sample(&self, ring: &Ring, read: Read) -> Vec<Option<Sample>> {
        let mut out = Vec::new();
        for i in 0..ring.n() {
            let Some(pid) = ring.pid(i) else {
                out.push(None);
                continue;
            };
            let early_ticks = (read == Read::ProcFirst).then(|| cpu_ticks(pid));
            let m = poll::get_text(ring.http(i), "/metrics")
                .await
                .unwrap_or_default();
            let ticks = early_ticks.unwrap_or_else(|| cpu_ticks(pid));
            let (pss_kib, anon_kib) = pss_anon_kib(pid).unwrap_or((0, 0));
            out.push(Some(Sample {
                ticks: ticks.unwrap_or(0),
                rss_kib: rss_kib(pid).unwrap_or(0),
                pss_kib,
                anon_kib,
                bytes: metric(&m, "warren_gossip_sent_bytes_total", "").unwrap_or(0.0),
                datagrams: metric(&m, "warren_gossip_sent_datagrams_total", "").unwrap_or(0.0),
            }));
        }
        out
    }
}

/// Which a sample reads first of a member: its `/metrics` (before the idle window) or its CPU
/// time (after it).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Read {
    MetricsFirst,
    ProcFirst,
}

/// When each of some members got somewhere, counted from one instant.
struct Arrivals<'a> {
    members: &'a [usize],
    since: Instant,
    at: Vec<Option<f64>>,
}

impl<'a> Arrivals<'a> {
    fn new(members: &'a [usize], since: Instant) -> Self {
        Arrivals {
            members,
            since,
            at: vec![None; members.len()],
        }
    }

    /// `(k, member)` of those not there yet (`k` is the member's place in `members`).
    fn waiting(&self) -> Vec<(usize, usize)> {
        self.members
            .iter()
            .zip(&self.at)
            .enumerate()
            .filter(|(_, (_, a))| a.is_none())
            .map(|(k, (i, _))| (k, *i))
            .collect()
    }

    /// The `k`th member is there now (the first time counts).
    fn arrived(&mut self, k: usize) {
        if let Some(slot @ None) = self.at.get_mut(k) {
            *slot = Some(secs(self.since.elapsed()));
        }
    }

    /// Every member's time, once all are there.
    fn all(&self) -> Option<Vec<f64>> {
        self.at.iter().copied().collect()
    }

    fn pending(&self) -> String {
        let left: Vec<String> = self.waiting().iter().map(|(_, i)| i.to_string()).collect();
        format!("still waiting for member(s) {}", left.join(", "))
    }
}

/// One member at one instant.
struct Sample {
    ticks: u64,
    rss_kib: u64,
    pss_kib: u64,
    anon_kib: u64,
    bytes: f64,
    datagrams: f64,
}

/// utime + stime of `pid` in ticks (`/proc/PID/stat` fields 14 and 15).
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, after) = stat.rsplit_once(')')?;
    let f: Vec<&str> = after.split_whitespace().collect();
    // After the name: state is field 3, so utime (14) and stime (15) are at 11 and 12.
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// VmRSS of `pid` in KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Pss and Anonymous of `pid` in KiB (`/proc/PID/smaps_rollup`): the resident set counts
/// the binary's code pages in full in every member, although the members share them; Pss
/// divides shared pages among their users and Anonymous is the member's own memory.
fn pss_anon_kib(pid: u32) -> Option<(u64, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    let field = |name: &str| -> Option<u64> {
        text.lines()
            .find_map(|l| l.strip_prefix(name))?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    };
    Some((field("Pss:")?, field("Anonymous:")?))
}

/// The value of Prometheus sample `name` (with `health="<label>"` when `label` is not
/// empty) in a text exposition.
fn metric(text: &str, name: &str, label: &str) -> Option<f64> {
    let key = if label.is_empty() {
        name.to_owned()
    } else {
        format!("{name}{{health=\"{label}\"}}")
    };
    text.lines().find_map(|l| {
        let (k, v) = l.rsplit_once(' ')?;
        (k == key).then(|| v.parse().ok()).flatten()
    })
}

fn secs(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}

/// Nearest-rank percentile of sorted `v` (`q` in 0..=1).
fn percentile(v: &[f64], q: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let rank = (q * v.len() as f64).ceil().max(1.0) as usize;
    v.get(rank.min(v.len()) - 1).copied()
}

/// Count, p50, p99, max and mean of `v`.
fn summary(v: &[f64]) -> Value {
    let s = sorted(v.to_vec());
    let mean = if s.is_empty() {
        None
    } else {
        Some(s.iter().sum::<f64>() / s.len() as f64)
    };
    json!({
        "count": s.len(),
        "min": s.first(),
        "p50": percentile(&s, 0.5),
        "p99": percentile(&s, 0.99),
        "max": s.last(),
        "mean": mean,
    })
}

/// The machine: CPUs, memory, load when the report is written.
fn machine() -> Value {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let cpus = read("/proc/cpuinfo")
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count();
    let model = read("/proc/cpuinfo")
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned());
    let mem = read("/proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .map(|l| l.trim().to_owned());
    json!({
        "cpus": cpus,
        "cpu_model": model,
        "mem_total": mem,
        "loadavg": read("/proc/loadavg").trim(),
        "kernel": read("/proc/sys/kernel/osrelease").trim(),
    })
}

/// The simulator's crash and rumor scenarios at size `n` (`--json`), or a note why not.
fn sim_one(args: &LocalBenchArgs, exe: &Path, n: u16) -> Value {
    let sim = match &args.sim {
        Some(p) if p.as_os_str() == "none" => return json!({"n": n, "skipped": "--sim none"}),
        Some(p) => p.clone(),
        None => exe.with_file_name("warren-sim"),
    };
    if !sim.is_file() {
        return json!({"n": n, "skipped": format!("{} not found (cargo build --release -p warren-sim)", sim.display())});
    }
    let mut one = json!({"n": n, "binary": sim});
    for scenario in ["crash", "rumor"] {
        let out = Command::new(&sim)
            .args([scenario, "--nodes", &n.to_string(), "--json"])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output();
        one[scenario] = match out {
            Ok(o) if o.status.success() => serde_json::from_slice(&o.stdout)
                .unwrap_or_else(|e| json!({"error": format!("not JSON: {e}")})),
            Ok(o) => json!({"error": format!("exit {}", o.status)}),
            Err(e) => json!({"error": e.to_string()}),
        };
    }
    say(&format!("simulator at {n}: done"));
    one
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_are_read_by_name_and_health() {
        let text = "# HELP x\nwarren_ring_members{health=\"alive\"} 49\n\
                    warren_ring_members{health=\"confirmed\"} 1\n\
                    warren_gossip_sent_bytes_total 1234\n";
        assert_eq!(metric(text, "warren_ring_members", "alive"), Some(49.0));
        assert_eq!(metric(text, "warren_ring_members", "confirmed"), Some(1.0));
        assert_eq!(metric(text, "warren_ring_members", "suspect"), None);
        assert_eq!(
            metric(text, "warren_gossip_sent_bytes_total", ""),
            Some(1234.0)
        );
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(percentile(&v, 0.5), Some(10.0));
        assert_eq!(percentile(&v, 0.99), Some(20.0));
        assert_eq!(percentile(&[], 0.5), None);
        let s = summary(&[3.0, 1.0, 2.0]);
        assert_eq!(s["p50"], json!(2.0));
        assert_eq!(s["max"], json!(3.0));
        assert_eq!(s["count"], json!(3));
    }

    #[test]
    fn roles_come_from_the_rendered_config() {
        assert_eq!(role_of("x\nrole = \"leader\"\n"), Role::Leader);
        assert_eq!(role_of("role = \"follower\""), Role::Follower);
        assert_eq!(role_of("role = \"standalone\""), Role::Other);
    }

    #[test]
    fn cpu_and_memory_of_this_process_are_read_from_proc() {
        let me = std::process::id();
        assert!(cpu_ticks(me).is_some());
        assert!(rss_kib(me).is_some_and(|k| k > 0));
        assert!(pss_anon_kib(me).is_some_and(|(p, a)| p > 0 && a > 0));
        assert_eq!(cpu_ticks(u32::MAX), None);
    }
}
