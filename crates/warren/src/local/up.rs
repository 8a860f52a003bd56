//! `warren local up`: starts N `warren run` members on loopback (own ports and `--fs-root`
//! under one directory, each given every other member as a peer, each watching its own cut file
//! for `warren local partition`), writes the ring's state file and pointer, and then owns the
//! members until SIGINT/SIGTERM: it polls their HTTP APIs, shows the ring (plain timestamped
//! lines when stdout is not a terminal, else the live view), carries out control requests from
//! its socket, and finally stops every member (SIGTERM, the stop budget, then SIGKILL, each
//! reported) and removes its directory unless `--keep`.
//!
//! One task owns the members and the board; pollers and socket connections send it messages.
//! It starts and signals processes; the members themselves are plain `warren run`.

use std::io::IsTerminal as _;
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, anyhow, bail};
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::sync::{mpsc, oneshot};

use super::board::Board;
use super::control::{self, Request};
use super::poll::{self, Observation};
use super::state::{self, MemberState, Ports, RingState};
use super::view;
use crate::cli::LocalUpArgs;

/// How often members' HTTP APIs are read.
const POLL_EVERY: Duration = Duration::from_millis(700);
/// How often processes are checked for exits and stop deadlines.
const TICK: Duration = Duration::from_millis(200);

/// Everything needed to (re)start member i.
pub(super) struct Spec {
    pub(super) exe: PathBuf,
    pub(super) plans: Vec<PathBuf>,
    pub(super) run_args: Vec<String>,
    pub(super) ports: Vec<Ports>,
    pub(super) dir: PathBuf,
    /// Give each member only member 0 as its peer (`local bench`'s formation from one seed),
    /// rather than every other member.
    pub(super) seed_only: bool,
}

impl Spec {
    pub(super) fn member_dir(&self, i: usize) -> PathBuf {
        self.dir.join(i.to_string())
    }

    fn cut_file(&self, i: usize) -> PathBuf {
        self.member_dir(i).join("cuts")
    }

    pub(super) fn spawn(&self, i: usize) -> Result<Child> {
        let p = self.ports.get(i).ok_or_else(|| anyhow!("no member {i}"))?;
        let root = self.member_dir(i);
        std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
        let log = |name: &str| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(root.join(name))
                .with_context(|| format!("opening {}", root.join(name).display()))
        };
        let mut cmd = Command::new(&self.exe);
        cmd.arg("run")
            .args(&self.plans)
            .arg("--listen-gossip")
            .arg(format!("127.0.0.1:{}", p.gossip))
            .arg("--listen-http")
            .arg(format!("127.0.0.1:{}", p.http))
            .arg("--listen-ctl")
            .arg(format!("127.0.0.1:{}", p.ctl))
            .arg("--fs-root")
            .arg(&root)
            .arg("--sys-ip-address")
            .arg("127.0.0.1")
            .arg("--no-color")
            .arg("--local-cut-file")
            .arg(self.cut_file(i));
        for (j, q) in self.ports.iter().enumerate() {
            if j != i && (!self.seed_only || j == 0 || (i == 0 && j == 1)) {
                cmd.arg("--peer").arg(format!("127.0.0.1:{}", q.gossip));
            }
        }
        cmd.args(&self.run_args)
            .stdin(Stdio::null())
            .stdout(log("service.log")?)
            .stderr(log("warren.log")?)
            // Its own process group: a Ctrl-C on the terminal reaches `warren local up` only,
            // which then stops the members in order.
            .process_group(0);
        cmd.spawn()
            .with_context(|| format!("starting member {i} ({})", self.exe.display()))
    }
}

/// A member's process and what is pending for it.
#[derive(Default)]
struct Member {
    child: Option<Child>,
    /// SIGTERM was sent: SIGKILL at this time if it still runs.
    kill_at: Option<Instant>,
    /// Start it again once it exited (`restart`).
    restart: bool,
}

/// Runs `warren local up`; returns the exit code.
pub(crate) fn up(args: LocalUpArgs) -> ExitCode {
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("warren: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(mut args: LocalUpArgs) -> Result<()> {
    if args.members == 0 {
        bail!("-n must be at least 1");
    }
    if args.plans.is_empty() {
        let hello = PathBuf::from("plans/hello");
        if !hello.is_dir() {
            bail!("no plan given and ./plans/hello does not exist: give PLAN_DIR…");
        }
        args.plans.push(hello);
        if args.run_args.is_empty() {
            args.run_args = vec!["--topology".into(), "leader".into()];
        }
    }
    for p in &args.plans {
        crate::services::read_package(p)?;
    }
    let plans = args
        .plans
        .iter()
        .map(|p| std::path::absolute(p).with_context(|| format!("resolving {}", p.display())))
        .collect::<Result<Vec<_>>>()?;
    let (dir, remove) = match &args.dir {
        Some(d) => {
            let existed = d.exists();
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
            (std::path::absolute(d)?, !existed && !args.keep)
        }
        None => (
            tempfile::Builder::new()
                .prefix("warren-local.")
                .tempdir()
                .context("creating a directory for the members")?
                .keep(),
            !args.keep,
        ),
    };
    let sock = dir.join(state::SOCKET);
    if control::is_live(&sock) {
        bail!(
            "a local ring is already running in {} (its control socket answers)",
            dir.display()
        );
    }
    let _ = std::fs::remove_file(&sock);
    let ports = (0..args.members)
        .map(|i| state::ports(args.base_port, i))
        .collect::<Result<Vec<_>>>()?;
    let spec = Spec {
        exe: std::env::current_exe().context("finding the warren binary")?,
        plans,
        run_args: args.run_args.clone(),
        ports,
        dir: dir.clone(),
        seed_only: false,
    };
    // Services of a killed member are reparented to us rather than to init, so that they die
    // with it (see `Owner::reap_orphans`) instead of running on unseen.
    if let Err(e) = nix::sys::prctl::set_child_subreaper(true) {
        eprintln!(
            "warren: cannot become a child subreaper ({e}): services of killed members may outlive them"
        );
    }
    let live = !args.plain && std::io::stdout().is_terminal();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let mut owner = Owner {
        members: (0..spec.ports.len()).map(|_| Member::default()).collect(),
        board: Board::new(spec.ports.len()),
        stop_budget: Duration::from_secs(args.stop_timeout),
        live,
        output_gone: false,
        spec,
    };
    let outcome = rt.block_on(owner.run(Duration::from_secs(args.summary_every.max(1))));
    owner.stop_all();
    let _ = std::fs::remove_file(&sock);
    state::clear_current(&dir);
    if remove {
        std::fs::remove_dir_all(&dir)
            .with_context(|| format!("removing the ring's directory {}", dir.display()))?;
        owner.say(format!("removed {}", dir.display()));
    } else {
        owner.say(format!("kept {} (logs and state)", dir.display()));
    }
    outcome
}

/// The task that owns the members and the board.
struct Owner {
    spec: Spec,
    members: Vec<Member>,
    board: Board,
    stop_budget: Duration,
    /// The terminal view, rather than plain lines.
    live: bool,
    /// Standard output is closed: stop the ring.
    output_gone: bool,
}

impl Owner {
    /// Prints (plain) or records (live view) one event.
    fn say(&mut self, event: String) {
        let line = format!("{} {event}", hms(SystemTime::now()));
        if !self.live {
            self.print(&line);
        }
        self.board.push(line);
    }

    /// Writes one line to stdout. A reader that went away (EPIPE) must not kill this process
    /// and orphan the members (as `println!` would by panicking): it is noted, and the run
    /// loop then stops the ring.
    fn print(&mut self, line: &str) {
        use std::io::Write as _;
        if self.output_gone {
            return;
        }
        let mut out = std::io::stdout().lock();
        if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
            self.output_gone = true;
        }
    }

    fn write_state(&self) {
        let s = RingState {
            pid: std::process::id(),
            dir: self.spec.dir.clone(),
            members: self
                .spec
                .ports
                .iter()
                .enumerate()
                .map(|(i, p)| MemberState {
                    pid: self
                        .members
                        .get(i)
                        .and_then(|m| m.child.as_ref())
                        .map(Child::id),
                    ports: *p,
                    dir: self.spec.member_dir(i),
                })
                .collect(),
        };
        if let Err(e) = s.write() {
            eprintln!("warren: {e:#}");
        }
    }

    fn start(&mut self, i: usize) -> Result<String> {
        let m = self
            .members
            .get_mut(i)
            .ok_or_else(|| anyhow!("no member {i}"))?;
        if m.child.is_some() {
            bail!("member {i} is running");
        }
        let child = self.spec.spawn(i)?;
        let pid = child.id();
        m.child = Some(child);
        if let Some(r) = self.board.rows.get_mut(i) {
            r.pid = Some(pid);
            r.starts += 1;
        }
        self.write_state();
        Ok(format!("member {i} started (pid {pid})"))
    }

    fn pid(&self, i: usize) -> Result<Pid> {
        let child = self
            .members
            .get(i)
            .ok_or_else(|| anyhow!("no member {i}"))?
            .child
            .as_ref()
            .ok_or_else(|| anyhow!("member {i} is not running"))?;
        i32::try_from(child.id())
            .map(Pid::from_raw)
            .map_err(|_| anyhow!("member {i} has an odd pid"))
    }

    /// SIGKILL member i and its services' process groups (as last seen on its HTTP API).
    fn kill(&mut self, i: usize) -> Result<String> {
        let pid = self.pid(i)?;
        kill(pid, Signal::SIGKILL).with_context(|| format!("killing member {i}"))?;
        let services: Vec<u64> = self
            .board
            .rows
            .get(i)
            .and_then(|r| r.obs.as_ref())
            .map(|o| o.services.values().filter_map(|s| s.pid).collect())
            .unwrap_or_default();
        for s in &services {
            if let Ok(p) = i32::try_from(*s) {
                let _ = killpg(Pid::from_raw(p), Signal::SIGKILL);
            }
        }
        // Reap it before answering (SIGKILL takes milliseconds), so that `warren local kill 1
        // && warren local start 1` finds it stopped rather than "running".
        if let Some(child) = self.members.get_mut(i).and_then(|m| m.child.as_mut()) {
            let deadline = Instant::now() + Duration::from_secs(2);
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        self.reap();
        Ok(format!(
            "member {i} killed (SIGKILL to pid {pid} and {} service process group(s))",
            services.len()
        ))
    }

    fn stop(&mut self, i: usize, restart: bool) -> Result<String> {
        let pid = self.pid(i)?;
        kill(pid, Signal::SIGTERM).with_context(|| format!("stopping member {i}"))?;
        let budget = self.stop_budget;
        if let Some(m) = self.members.get_mut(i) {
            m.kill_at = Some(Instant::now() + budget);
            m.restart = restart;
        }
        Ok(format!(
            "member {i} stopping (SIGTERM to pid {pid}){}",
            if restart {
                "; it starts again once stopped"
            } else {
                ""
            }
        ))
    }

    fn partition(&mut self, side: &[usize]) -> Result<String> {
        let n = self.spec.ports.len();
        if let Some(bad) = side.iter().find(|i| **i >= n) {
            bail!("no member {bad} (members are 0 to {})", n - 1);
        }
        if side.len() == n {
            bail!("a partition needs members on both sides");
        }
        let gossip: Vec<u16> = self.spec.ports.iter().map(|p| p.gossip).collect();
        for (i, text) in control::cut_files(&gossip, side).iter().enumerate() {
            state::write_atomic(&self.spec.cut_file(i), text)?;
            if let Some(r) = self.board.rows.get_mut(i) {
                r.cut = side.contains(&i);
            }
        }
        Ok(if side.is_empty() {
            "healed: no cuts".into()
        } else {
            let ms: Vec<String> = side.iter().map(usize::to_string).collect();
            format!(
                "partition: member(s) {} cut off from the rest",
                ms.join(", ")
            )
        })
    }

    fn handle(&mut self, req: &Request) -> Result<String> {
        match req {
            Request::Kill(i) => self.kill(*i),
            Request::Stop(i) => self.stop(*i, false),
            Request::Restart(i) => self.stop(*i, true),
            Request::Start(i) => self.start(*i),
            Request::Partition(side) => self.partition(side),
            Request::Heal => self.partition(&[]),
        }
    }

    /// SIGKILLs and reaps every process reparented to us: the services of a member that died
    /// without stopping them (each in its own process group, which goes too). Our own
    /// children, the members, are left to `reap`.
    fn reap_orphans(&mut self) {
        let me = std::process::id();
        let members: Vec<u32> = self
            .members
            .iter()
            .filter_map(|m| m.child.as_ref().map(Child::id))
            .collect();
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return;
        };
        let mut killed = 0;
        for e in entries.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            if members.contains(&pid) || parent_of(pid) != Some(me) {
                continue;
            }
            let Ok(raw) = i32::try_from(pid) else {
                continue;
            };
            let _ = killpg(Pid::from_raw(raw), Signal::SIGKILL);
            let _ = kill(Pid::from_raw(raw), Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(Pid::from_raw(raw), None);
            killed += 1;
        }
        if killed > 0 {
            self.say(format!(
                "killed {killed} service process(es) left behind by a dead member"
            ));
        }
    }

    /// Reads the `MEMBER_ID` file of each member whose id the board does not know yet.
    fn learn_ids(&mut self) {
        for i in 0..self.board.rows.len() {
            if self.board.knows(i) {
                continue;
            }
            let file = self.spec.member_dir(i).join("hab/sup/default/MEMBER_ID");
            if let Ok(id) = std::fs::read_to_string(file) {
                let id = id.trim();
                if !id.is_empty() {
                    self.board.learn(i, id);
                }
            }
        }
    }

    /// Notices members that exited, SIGKILLs those past their stop budget, restarts.
    fn reap(&mut self) {
        let mut events = Vec::new();
        let mut restart = Vec::new();
        for (i, m) in self.members.iter_mut().enumerate() {
            let Some(child) = &mut m.child else { continue };
            match child.try_wait() {
                Ok(Some(status)) => {
                    events.push(format!("member {i} exited ({status})"));
                    // A failure exit nobody asked for (a port in use, a bad flag): say why.
                    if status.code().is_some_and(|c| c != 0) && m.kill_at.is_none() {
                        let log = self.spec.member_dir(i).join("warren.log");
                        for line in tail(&log, 3) {
                            events.push(format!("member {i} log: {line}"));
                        }
                    }
                    m.child = None;
                    m.kill_at = None;
                    if std::mem::take(&mut m.restart) {
                        restart.push(i);
                    }
                    if let Some(r) = self.board.rows.get_mut(i) {
                        r.pid = None;
                    }
                }
                Ok(None) if m.kill_at.is_some_and(|t| Instant::now() >= t) => {
                    let _ = child.kill();
                    m.kill_at = None;
                    events.push(format!(
                        "member {i} did not stop within {} s: killed",
                        self.stop_budget.as_secs()
                    ));
                }
                Ok(None) | Err(_) => {}
            }
        }
        let changed = !events.is_empty();
        for e in events {
            self.say(e);
        }
        for i in restart {
            let e = self
                .start(i)
                .unwrap_or_else(|e| format!("member {i}: {e:#}"));
            self.say(e);
        }
        if changed {
            self.write_state();
        }
    }

    async fn run(&mut self, summary_every: Duration) -> Result<()> {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
        let mut int = signal(SignalKind::interrupt()).context("SIGINT handler")?;
        let sock = self.spec.dir.join(state::SOCKET);
        let listener = tokio::net::UnixListener::bind(&sock)
            .with_context(|| format!("listening on {}", sock.display()))?;
        let (req_tx, mut req_rx) = mpsc::channel::<(String, oneshot::Sender<String>)>(16);
        tokio::spawn(accept(listener, req_tx));

        self.say(format!(
            "starting {} members in {} (logs: <member dir>/warren.log, service.log)",
            self.spec.ports.len(),
            self.spec.dir.display()
        ));
        for i in 0..self.spec.ports.len() {
            let e = self.start(i)?;
            let p = self.spec.ports.get(i).copied();
            if let Some(p) = p {
                self.say(format!(
                    "{e}: gossip 127.0.0.1:{} http 127.0.0.1:{} ctl 127.0.0.1:{} dir {}",
                    p.gossip,
                    p.http,
                    p.ctl,
                    self.spec.member_dir(i).display()
                ));
            }
        }
        state::set_current(&self.spec.dir)?;
        self.say(
            "controls: warren local kill|stop|start|restart MEMBER, partition MEMBER…, heal, \
             config apply; Ctrl-C stops the ring"
                .into(),
        );

        let (obs_tx, mut obs_rx) = mpsc::channel::<(usize, Option<Observation>)>(64);
        for (i, p) in self.spec.ports.iter().enumerate() {
            let http = std::net::SocketAddr::from(([127, 0, 0, 1], p.http));
            tokio::spawn(poll::poll(i, http, POLL_EVERY, obs_tx.clone()));
        }
        drop(obs_tx);
        let mut screen = if self.live {
            Some(view::Screen::open()?)
        } else {
            None
        };
        let mut tick = tokio::time::interval(TICK);
        let mut summary = tokio::time::interval(summary_every);
        summary.tick().await;
        let outcome = loop {
            tokio::select! {
                _ = term.recv() => break Ok(()),
                _ = int.recv() => break Ok(()),
                Some((i, obs)) = obs_rx.recv() => {
                    for e in self.board.observe(i, obs) {
                        self.say(e);
                    }
                }
                Some((line, reply)) = req_rx.recv() => {
                    let answer = match Request::parse(&line).and_then(|r| self.handle(&r)) {
                        Ok(a) => { self.say(a.clone()); a }
                        Err(e) => format!("error: {e:#}"),
                    };
                    let _ = reply.send(answer);
                }
                _ = tick.tick() => {
                    if self.output_gone {
                        break Err(anyhow!("standard output was closed; stopping the ring"));
                    }
                    self.reap();
                    self.reap_orphans();
                    self.learn_ids();
                    if let Some(s) = &mut screen {
                        match s.draw(&self.board) {
                            Ok(true) => {}
                            Ok(false) => break Ok(()),
                            Err(e) => break Err(e),
                        }
                    }
                }
                _ = summary.tick(), if !self.live => {
                    let t = hms(SystemTime::now());
                    for i in 0..self.board.rows.len() {
                        let line = format!("{t} summary {}", self.board.summary(i));
                        self.print(&line);
                    }
                }
            }
        };
        drop(screen);
        outcome
    }

    /// SIGTERM to every member, the stop budget, then SIGKILL (reported).
    fn stop_all(&mut self) {
        let running = self.members.iter().filter(|m| m.child.is_some()).count();
        self.say(format!(
            "stopping {running} members (SIGTERM; SIGKILL after {} s)",
            self.stop_budget.as_secs()
        ));
        for i in 0..self.members.len() {
            if let Ok(pid) = self.pid(i) {
                let _ = kill(pid, Signal::SIGTERM);
            }
        }
        let deadline = Instant::now() + self.stop_budget;
        let mut events = Vec::new();
        for (i, m) in self.members.iter_mut().enumerate() {
            let Some(child) = &mut m.child else { continue };
            loop {
                match child.try_wait() {
                    Ok(Some(status)) => {
                        events.push(format!("member {i} stopped ({status})"));
                        break;
                    }
                    Ok(None) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(50));
                    }
                    Ok(None) | Err(_) => {
                        let _ = child.kill();
                        let _ = child.wait();
                        events.push(format!(
                            "member {i} did not stop within {} s: killed (SIGKILL)",
                            self.stop_budget.as_secs()
                        ));
                        break;
                    }
                }
            }
            m.child = None;
        }
        for e in events {
            self.say(e);
        }
        self.reap_orphans();
    }
}

/// Accepts control connections: one request line each, answered with one line.
async fn accept(
    listener: tokio::net::UnixListener,
    tx: mpsc::Sender<(String, oneshot::Sender<String>)>,
) {
    while let Ok((conn, _)) = listener.accept().await {
        let tx = tx.clone();
        tokio::spawn(async move {
            let (r, mut w) = conn.into_split();
            let mut line = String::new();
            let mut r = BufReader::new(r);
            let read = r.read_line(&mut line);
            if tokio::time::timeout(Duration::from_secs(5), read)
                .await
                .is_err()
            {
                return;
            }
            let (reply_tx, reply_rx) = oneshot::channel();
            if tx.send((line.trim().to_owned(), reply_tx)).await.is_err() {
                return;
            }
            if let Ok(answer) = reply_rx.await {
                let _ = w.write_all(format!("{answer}\n").as_bytes()).await;
            }
        });
    }
}

/// The last `n` lines of a log file (none if it cannot be read).
fn tail(path: &std::path::Path, n: usize) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| (*l).to_owned())
        .collect()
}

/// The parent of `pid` from `/proc/PID/stat` (the field after the parenthesized name).
pub(super) fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, after) = stat.rsplit_once(')')?;
    after.split_whitespace().nth(1)?.parse().ok()
}

/// `HH:MM:SS` (UTC) of `t`.
pub(crate) fn hms(t: SystemTime) -> String {
    let s = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        % 86_400;
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parent_of_this_process_is_read_from_proc() {
        let me = std::process::id();
        assert_eq!(
            parent_of(me),
            Some(std::os::unix::process::parent_id()),
            "{me}"
        );
        assert_eq!(parent_of(u32::MAX), None);
    }

    #[test]
    fn times_print_as_utc_clock() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(86_400 * 3 + 3600 * 13 + 61);
        assert_eq!(hms(t), "13:01:01");
    }
}
