//! The supervisor task with real processes and a fake ring: the census is built by the test
//! from what the service publishes, with an election status the test sets. Hooks write marker
//! files, so each test reads what ran, in which order, with which pid.
//!
//! SIGCHLD handling is process-wide, so every test shares one runtime and one reaper.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio::runtime::Runtime;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use warren_process::Reaper;
use warren_ring::census::{CensusCounters, CensusServiceConfig};
use warren_ring::{
    CensusElectionStatus, CensusGroup, CensusMember, CensusRing, ElectionKind, MemberId, Service,
    ServiceGroup,
};
use warren_service::backoff::BackoffConfig;
use warren_service::hooks::HealthStatus;
use warren_service::spec::{ServiceSpec, Topology};
use warren_service::supervisor::{
    self, DesiredState, ProcessState, RingPort, ServiceHandle, Shared,
};
use warren_service::{Package, supervisor::ServiceStatus};

const ME: &str = "0123456789abcdef0123456789abcdef";
const LIMIT: Duration = Duration::from_secs(20);

fn shared_rt() -> &'static (Runtime, Reaper) {
    static SHARED: OnceLock<(Runtime, Reaper)> = OnceLock::new();
    SHARED.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let reaper = rt.block_on(async { Reaper::install() }).unwrap();
        (rt, reaper)
    })
}

fn run<F: Future>(f: impl FnOnce(Reaper) -> F) -> F::Output {
    let (rt, reaper) = shared_rt();
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(60), f(reaper.clone()))
            .await
            .expect("test timed out")
    })
}

/// What the service told the ring, and the census the test shows it.
#[derive(Default)]
struct FakeState {
    published: Vec<Service>,
    elections: Vec<String>,
    suitability: Vec<u64>,
    status: CensusElectionStatus,
    service_config: Option<CensusServiceConfig>,
    /// Other groups in the census (bound services).
    others: Vec<CensusGroup>,
}

struct FakeRing {
    state: Mutex<FakeState>,
    census: watch::Sender<Option<Arc<CensusRing>>>,
}

impl FakeRing {
    fn new() -> Arc<FakeRing> {
        Arc::new(FakeRing {
            state: Mutex::new(FakeState::default()),
            census: watch::channel(None).0,
        })
    }

    fn set_status(&self, status: CensusElectionStatus) {
        self.state.lock().unwrap().status = status;
        self.rebuild();
    }

    fn gossip_config(&self, incarnation: u64, value: &str) {
        self.state.lock().unwrap().service_config = Some(CensusServiceConfig {
            incarnation,
            value: value.to_owned(),
            encrypted: false,
        });
        self.rebuild();
    }

    fn add_group(&self, group: CensusGroup) {
        self.state.lock().unwrap().others.push(group);
        self.rebuild();
    }

    fn published(&self) -> Vec<Service> {
        self.state.lock().unwrap().published.clone()
    }

    /// The census as a ring would build it from our own last Service rumor.
    fn rebuild(&self) {
        let st = self.state.lock().unwrap();
        let Some(svc) = st.published.last() else {
            return;
        };
        let sg = ServiceGroup::parse(&svc.service_group).unwrap();
        let finished = st.status == CensusElectionStatus::ElectionFinished;
        let member = CensusMember {
            member_id: MemberId::new(ME),
            pkg: warren_ring::PackageIdent::parse(&svc.pkg),
            pkg_incarnation: 0,
            package: svc.pkg.clone(),
            service: sg.service.clone(),
            group: sg.group.clone(),
            org: sg.org.clone(),
            persistent: true,
            leader: finished,
            follower: false,
            update_leader: false,
            update_follower: false,
            election_is_running: st.status == CensusElectionStatus::ElectionInProgress,
            election_is_no_quorum: st.status == CensusElectionStatus::ElectionNoQuorum,
            election_is_finished: finished,
            update_election_is_running: false,
            update_election_is_no_quorum: false,
            update_election_is_finished: false,
            sys: svc.sys.clone(),
            alive: true,
            suspect: false,
            confirmed: false,
            departed: false,
            cfg: String::from_utf8(svc.cfg.clone()).unwrap(),
        };
        let group = CensusGroup {
            service_group: svc.service_group.clone(),
            election_status: st.status,
            update_election_status: CensusElectionStatus::None,
            pkg_incarnation: 0,
            leader_id: finished.then(|| MemberId::new(ME)),
            service_config: st.service_config.clone(),
            local_member_id: MemberId::new(ME),
            population: BTreeMap::from([(MemberId::new(ME), member)]),
            update_leader_id: None,
            changed_service_files: Vec::new(),
            service_files: BTreeMap::new(),
            election_quorum: None,
        };
        let mut groups = BTreeMap::from([(svc.service_group.clone(), group)]);
        for other in &st.others {
            groups.insert(other.service_group.clone(), other.clone());
        }
        let census = CensusRing {
            changed: true,
            census_groups: groups,
            local_member_id: MemberId::new(ME),
            counters: CensusCounters::default(),
        };
        self.census.send_replace(Some(Arc::new(census)));
    }
}

/// A one-member group of another service exporting `cfg`.
fn other_group(service_group: &str, member_id: &str, cfg: &str) -> CensusGroup {
    let sg = ServiceGroup::parse(service_group).unwrap();
    let member = CensusMember {
        member_id: MemberId::new(member_id),
        pkg: None,
        pkg_incarnation: 0,
        package: String::new(),
        service: sg.service.clone(),
        group: sg.group.clone(),
        org: sg.org.clone(),
        persistent: true,
        leader: false,
        follower: false,
        update_leader: false,
        update_follower: false,
        election_is_running: false,
        election_is_no_quorum: false,
        election_is_finished: false,
        update_election_is_running: false,
        update_election_is_no_quorum: false,
        update_election_is_finished: false,
        sys: warren_ring::SysInfo::default(),
        alive: true,
        suspect: false,
        confirmed: false,
        departed: false,
        cfg: cfg.to_owned(),
    };
    CensusGroup {
        service_group: service_group.to_owned(),
        election_status: CensusElectionStatus::None,
        update_election_status: CensusElectionStatus::None,
        pkg_incarnation: 0,
        leader_id: None,
        service_config: None,
        local_member_id: MemberId::new(ME),
        population: BTreeMap::from([(MemberId::new(member_id), member)]),
        update_leader_id: None,
        changed_service_files: Vec::new(),
        service_files: BTreeMap::new(),
        election_quorum: None,
    }
}

impl RingPort for FakeRing {
    fn publish(&self, service: Service) {
        self.state.lock().unwrap().published.push(service);
        self.rebuild();
    }

    fn start_election(&self, service_group: &str, kind: ElectionKind, _suitability: u64) {
        assert_eq!(kind, ElectionKind::Leader);
        let mut st = self.state.lock().unwrap();
        st.elections.push(service_group.to_owned());
        if st.status == CensusElectionStatus::None {
            st.status = CensusElectionStatus::ElectionInProgress;
        }
        drop(st);
        // As a ring would: the census shows the election once it has started.
        self.rebuild();
    }

    fn set_suitability(&self, _service_group: &str, _kind: ElectionKind, suitability: u64) {
        self.state.lock().unwrap().suitability.push(suitability);
    }

    fn leave_group(&self, service_group: &str) {
        self.state
            .lock()
            .unwrap()
            .elections
            .retain(|g| g != service_group);
    }
}

/// A plan in a temporary directory; hooks get `@M@` replaced by the markers directory.
struct Fixture {
    _dir: tempfile::TempDir,
    plan: PathBuf,
    fs_root: PathBuf,
    markers: PathBuf,
}

impl Fixture {
    fn new(default_toml: &str, config: &str, hooks: &[(&str, &str)]) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let plan = dir.path().join("plan");
        let markers = dir.path().join("markers");
        std::fs::create_dir_all(plan.join("hooks")).unwrap();
        std::fs::create_dir_all(plan.join("config")).unwrap();
        std::fs::create_dir_all(&markers).unwrap();
        std::fs::write(
            plan.join("plan.sh"),
            "pkg_origin=test\npkg_name=app\npkg_version=1.0.0\npkg_exports=(\n  [port]=port\n)\n",
        )
        .unwrap();
        std::fs::write(plan.join("default.toml"), default_toml).unwrap();
        std::fs::write(plan.join("config/app.conf"), config).unwrap();
        for (name, body) in hooks {
            let body = body.replace("@M@", &markers.display().to_string());
            std::fs::write(
                plan.join("hooks").join(name),
                format!("#!/bin/sh\n{body}\n"),
            )
            .unwrap();
        }
        Fixture {
            fs_root: dir.path().join("root"),
            _dir: dir,
            plan,
            markers,
        }
    }

    fn spec(&self) -> ServiceSpec {
        let mut spec = ServiceSpec::new(Package::from_plan_dir(&self.plan).unwrap());
        spec.health_check_interval = Duration::from_secs(1);
        spec.backoff = BackoffConfig {
            min: Duration::from_millis(200),
            max: Duration::from_millis(400),
            cooldown: Duration::from_secs(300),
        };
        spec.shutdown_timeout = Some(Duration::from_secs(3));
        spec
    }

    fn marker(&self, name: &str) -> String {
        std::fs::read_to_string(self.markers.join(name)).unwrap_or_default()
    }

    fn count(&self, name: &str) -> usize {
        self.marker(name).lines().count()
    }

    fn user_toml(&self, text: &str) {
        let dir = self.fs_root.join("hab/user/app/config");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("user.toml"), text).unwrap();
    }

    fn start(
        &self,
        spec: ServiceSpec,
        reaper: Reaper,
        ring: &Arc<FakeRing>,
    ) -> (ServiceHandle, CancellationToken) {
        let shared = Shared {
            fs_root: self.fs_root.clone(),
            sys: warren_template::SysInfo {
                member_id: ME.to_owned(),
                ..warren_template::SysInfo::default()
            },
            member_sys: warren_ring::SysInfo::default(),
            reaper,
            ring: Arc::clone(ring) as Arc<dyn RingPort>,
            census: ring.census.subscribe(),
            env: Arc::new(|_: &str| None),
            observer: Arc::new(supervisor::NoObserver),
        };
        let shutdown = CancellationToken::new();
        let handle = supervisor::spawn(spec, shared, shutdown.clone(), DesiredState::Up).unwrap();
        (handle, shutdown)
    }
}

async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < LIMIT, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn wait_status(
    handle: &ServiceHandle,
    what: &str,
    mut cond: impl FnMut(&ServiceStatus) -> bool,
) {
    let start = Instant::now();
    loop {
        let status = handle.status();
        if cond(&status) {
            return;
        }
        assert!(
            start.elapsed() < LIMIT,
            "timed out waiting for {what}; status {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn alive(pid: u32) -> bool {
    // A zombie has no cmdline; a reaped process has no /proc entry.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.contains(") Z "))
        .unwrap_or(false)
}

const RUN: &str = "echo $$ >> @M@/run\nexec sleep 1000";

#[test]
fn standalone_lifecycle_restart_on_config_change_and_stop() {
    let fx = Fixture::new(
        "port = 1234\nmessage = \"one\"\n",
        "message={{cfg.message}}\n",
        &[
            ("init", "echo init >> @M@/init"),
            ("run", RUN),
            ("post-run", "echo post-run >> @M@/post-run"),
            (
                "health-check",
                "exit $(cat @M@/health-code 2>/dev/null || echo 0)",
            ),
            ("post-stop", "echo post-stop >> @M@/post-stop"),
        ],
    );
    run(|reaper| async move {
        let ring = FakeRing::new();
        let (handle, shutdown) = fx.start(fx.spec(), reaper, &ring);
        wait_status(&handle, "up and healthy", |s| {
            s.process == ProcessState::Up && s.health == HealthStatus::Ok
        })
        .await;
        let first = handle.status().pid.unwrap();
        assert_eq!(fx.count("init"), 1);
        wait_for("post-run", || fx.count("post-run") == 1).await;
        let conf = fx.fs_root.join("hab/svc/app/config/app.conf");
        assert_eq!(std::fs::read_to_string(&conf).unwrap(), "message=one\n");
        assert_eq!(fx.marker("run").trim(), first.to_string());
        // The Service rumor carries the exports; it was published at load (before the start,
        // not initialized) and once more at the first start (initialized), and no more.
        let published = ring.published();
        assert_eq!(published.len(), 2);
        assert!(!published[0].initialized);
        let last = published.last().cloned().unwrap();
        assert_eq!(String::from_utf8(last.cfg).unwrap().trim(), "port = 1234");
        assert!(last.initialized);

        // health-check exit codes reach the status.
        std::fs::write(fx.markers.join("health-code"), "2").unwrap();
        wait_status(&handle, "critical", |s| s.health == HealthStatus::Critical).await;
        std::fs::write(fx.markers.join("health-code"), "1").unwrap();
        wait_status(&handle, "warning", |s| s.health == HealthStatus::Warning).await;
        std::fs::write(fx.markers.join("health-code"), "0").unwrap();

        // Config changes and there is no reconfigure hook: restart.
        fx.user_toml("message = \"two\"\n");
        wait_status(&handle, "a new process", |s| {
            s.process == ProcessState::Up && s.pid.is_some_and(|p| p != first)
        })
        .await;
        assert_eq!(std::fs::read_to_string(&conf).unwrap(), "message=two\n");
        assert_eq!(fx.count("init"), 2);
        assert_eq!(fx.count("post-stop"), 1);
        assert!(!alive(first), "the old process is gone");

        // Invalid user.toml: reported, previous config stays, nothing restarts.
        let second = handle.status().pid.unwrap();
        fx.user_toml("message = \n");
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert_eq!(handle.status().pid, Some(second));
        assert_eq!(std::fs::read_to_string(&conf).unwrap(), "message=two\n");

        shutdown.cancel();
        let status = handle.watch_status();
        handle.join().await;
        assert_eq!(status.borrow().process, ProcessState::Down);
        assert_eq!(fx.count("post-stop"), 2);
        assert!(!alive(second));
    });
}

#[test]
fn reconfigure_hook_keeps_the_process() {
    let fx = Fixture::new(
        "port = 1\nmessage = \"one\"\n",
        "message={{cfg.message}}\n",
        &[
            ("run", RUN),
            (
                "reconfigure",
                "cat {{pkg.svc_config_path}}/app.conf >> @M@/reconfigure",
            ),
        ],
    );
    run(|reaper| async move {
        let ring = FakeRing::new();
        let (handle, shutdown) = fx.start(fx.spec(), reaper, &ring);
        wait_status(&handle, "up", |s| s.process == ProcessState::Up).await;
        let pid = handle.status().pid;
        // Gossiped config (the highest layer) changes the rendered file.
        ring.gossip_config(1, "message = \"gossiped\"\n");
        wait_for("reconfigure", || {
            fx.marker("reconfigure") == "message=gossiped\n"
        })
        .await;
        assert_eq!(handle.status().pid, pid, "reconfigure does not restart");
        // An older gossiped config is ignored.
        ring.gossip_config(1, "message = \"older\"\n");
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(fx.count("reconfigure"), 1);
        shutdown.cancel();
        handle.join().await;
    });
}

#[test]
fn leader_topology_waits_for_the_election_and_reports_suitability() {
    let fx = Fixture::new(
        "port = 1\n",
        "leader={{svc.me.leader}}\n",
        &[("run", RUN), ("suitability", "echo starting\necho 7")],
    );
    run(|reaper| async move {
        let ring = FakeRing::new();
        let mut spec = fx.spec();
        spec.topology = Topology::Leader;
        let (handle, shutdown) = fx.start(spec, reaper, &ring);
        wait_status(&handle, "waiting for the election", |s| {
            s.waiting
                .as_deref()
                .is_some_and(|w| w.contains("election in progress"))
        })
        .await;
        tokio::time::sleep(Duration::from_millis(800)).await;
        assert_eq!(handle.status().process, ProcessState::Down);
        assert_eq!(fx.count("run"), 0);
        assert_eq!(ring.state.lock().unwrap().elections, ["app.default"]);

        ring.set_status(CensusElectionStatus::ElectionFinished);
        wait_status(&handle, "started", |s| s.process == ProcessState::Up).await;
        let conf = fx.fs_root.join("hab/svc/app/config/app.conf");
        assert_eq!(std::fs::read_to_string(conf).unwrap(), "leader=true\n");
        wait_for("suitability", || {
            ring.state.lock().unwrap().suitability == [7]
        })
        .await;

        // A new election keeps the process but nothing restarts it while it runs.
        let pid = handle.status().pid.unwrap();
        ring.set_status(CensusElectionStatus::ElectionInProgress);
        wait_status(&handle, "waiting again", |s| s.waiting.is_some()).await;
        assert_eq!(handle.status().pid, Some(pid));
        shutdown.cancel();
        handle.join().await;
    });
}

#[test]
fn failing_run_restarts_with_backoff_and_failing_init_blocks_run() {
    let fx = Fixture::new(
        "port = 1\n",
        "x\n",
        &[("run", "echo $$ >> @M@/run\nexit 1")],
    );
    run(|reaper| async move {
        let ring = FakeRing::new();
        let (handle, shutdown) = fx.start(fx.spec(), reaper.clone(), &ring);
        let start = Instant::now();
        wait_for("three runs", || fx.count("run") >= 3).await;
        // 200 ms, then 400 ms (the cap) between runs: not faster than the backoff allows.
        assert!(
            start.elapsed() >= Duration::from_millis(550),
            "{:?}",
            start.elapsed()
        );
        shutdown.cancel();
        handle.join().await;

        let fx = Fixture::new(
            "port = 1\n",
            "x\n",
            &[("init", "echo init >> @M@/init\nexit 3"), ("run", RUN)],
        );
        let ring = FakeRing::new();
        let (handle, shutdown) = fx.start(fx.spec(), reaper, &ring);
        wait_for("init retried", || fx.count("init") >= 3).await;
        assert_eq!(fx.count("run"), 0, "run never starts after a failed init");
        assert_eq!(handle.status().process, ProcessState::Down);
        let logs = fx.fs_root.join("hab/svc/app/logs/init.stdout.log");
        assert_eq!(std::fs::read_to_string(logs).unwrap(), "");
        shutdown.cancel();
        handle.join().await;
    });
}

#[test]
fn slow_hooks_time_out_and_stubborn_processes_are_killed() {
    let fx = Fixture::new(
        "port = 1\n",
        "x\n",
        &[
            (
                "run",
                "trap '' TERM\necho $$ >> @M@/run\nwhile :; do sleep 0.1; done",
            ),
            ("health-check", "echo checking\nexec sleep 100"),
            ("post-stop", "echo done >> @M@/post-stop"),
        ],
    );
    run(|reaper| async move {
        let ring = FakeRing::new();
        let mut spec = fx.spec();
        spec.shutdown_timeout = Some(Duration::from_millis(300));
        let (handle, shutdown) = fx.start(spec, reaper, &ring);
        wait_status(&handle, "up", |s| s.process == ProcessState::Up).await;
        // The health check outlives its 1 s limit: UNKNOWN, and the check goes on.
        tokio::time::sleep(Duration::from_millis(3500)).await;
        assert_eq!(handle.status().health, HealthStatus::Unknown);
        let log = fx.fs_root.join("hab/svc/app/logs/health-check.stdout.log");
        assert_eq!(std::fs::read_to_string(log).unwrap(), "checking\n");
        let pid = handle.status().pid.unwrap();
        let start = Instant::now();
        shutdown.cancel();
        handle.join().await;
        // SIGTERM ignored: SIGKILL after 300 ms, then post-stop.
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
        assert!(!alive(pid));
        assert_eq!(fx.count("post-stop"), 1);
    });
}

#[test]
fn load_errors_are_clear() {
    run(|reaper| async move {
        let ring = FakeRing::new();
        let fx = Fixture::new("port = 1\n", "x\n", &[]);
        let shared = || Shared {
            fs_root: fx.fs_root.clone(),
            sys: warren_template::SysInfo::default(),
            member_sys: warren_ring::SysInfo::default(),
            reaper: reaper.clone(),
            ring: Arc::clone(&ring) as Arc<dyn RingPort>,
            census: ring.census.subscribe(),
            env: Arc::new(|_: &str| Some("not = [valid".to_owned())),
            observer: Arc::new(supervisor::NoObserver),
        };
        let load_error = || {
            supervisor::spawn(
                fx.spec(),
                shared(),
                CancellationToken::new(),
                DesiredState::Up,
            )
            .unwrap_err()
            .to_string()
        };
        let err = load_error();
        assert!(err.contains("nothing to run"), "{err}");
        std::fs::write(fx.plan.join("hooks/run"), "#!/bin/sh\nexec sleep 1\n").unwrap();
        let err = load_error();
        assert!(err.contains("HAB_APP"), "{err}");
        std::fs::write(fx.plan.join("config/bad.conf"), "{{#if}}\n").unwrap();
        let err = load_error();
        assert!(err.contains("bad.conf"), "{err}");
    });
}

#[test]
fn strict_binds_wait_and_render_the_bound_group() {
    let fx = Fixture::new(
        "port = 1\n",
        "db={{bind.db.first.sys.ip}}:{{bind.db.first.cfg.port}}\n",
        &[("run", RUN)],
    );
    let mut plan = std::fs::read_to_string(fx.plan.join("plan.sh")).unwrap();
    plan.push_str("pkg_binds=(\n  [db]=\"port\"\n)\n");
    std::fs::write(fx.plan.join("plan.sh"), plan).unwrap();
    run(|reaper| async move {
        let ring = FakeRing::new();
        let mut spec = fx.spec();
        spec.binds = vec![warren_service::census_view::Bind::parse("db:pg.default").unwrap()];
        let (handle, shutdown) = fx.start(spec, reaper, &ring);
        wait_status(&handle, "waiting for binds", |s| {
            s.waiting.as_deref().is_some_and(|w| {
                w.contains("Waiting for service binds") && w.contains("NotPresent")
            })
        })
        .await;
        // Present but without the export: still waiting.
        ring.add_group(other_group("pg.default", "aa", "other = 1\n"));
        wait_status(&handle, "unsatisfied", |s| {
            s.waiting
                .as_deref()
                .is_some_and(|w| w.contains("Unsatisfied"))
        })
        .await;
        assert_eq!(handle.status().process, ProcessState::Down);
        ring.add_group(other_group("pg.default", "bb", "port = 5432\n"));
        // The census keeps the newest group of that name (the fake replaces it).
        wait_status(&handle, "started", |s| s.process == ProcessState::Up).await;
        let conf = fx.fs_root.join("hab/svc/app/config/app.conf");
        assert_eq!(
            std::fs::read_to_string(conf).unwrap(),
            "db=127.0.0.1:5432\n"
        );
        shutdown.cancel();
        handle.join().await;
    });
}

#[test]
fn desired_state_and_forwarded_signals() {
    let fx = Fixture::new(
        "port = 1\n",
        "x\n",
        &[(
            "run",
            "trap 'echo hup >> @M@/hup' HUP\necho $$ >> @M@/run\nwhile :; do sleep 0.1; done",
        )],
    );
    run(|reaper| async move {
        let ring = FakeRing::new();
        let (handle, shutdown) = fx.start(fx.spec(), reaper, &ring);
        wait_status(&handle, "up", |s| s.process == ProcessState::Up).await;
        wait_for("run hook", || fx.count("run") == 1).await;
        handle.forward_signal(nix::sys::signal::Signal::SIGHUP);
        wait_for("SIGHUP in the service", || fx.count("hup") >= 1).await;
        assert_eq!(handle.status().restart_count, 0);

        let pid = handle.status().pid.unwrap();
        handle.set_desired(DesiredState::Down);
        wait_status(&handle, "down", |s| {
            s.process == ProcessState::Down && s.desired == DesiredState::Down
        })
        .await;
        assert!(!alive(pid));
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(handle.status().process, ProcessState::Down, "stays down");
        handle.set_desired(DesiredState::Up);
        wait_status(&handle, "up again", |s| s.process == ProcessState::Up).await;
        assert_eq!(fx.count("run"), 2);
        assert_eq!(
            handle.status().restart_count,
            0,
            "operator stops are not failures"
        );
        handle.unload(&*ring, None).await;
        shutdown.cancel();
    });
}
