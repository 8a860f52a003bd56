//! The gossip task on its own OS thread, with its own current-thread tokio runtime.
//!
//! The ring reads a timer it handles more than 100 ms late as "this member is slow" (Lifeguard
//! local health) and stretches its probe timeouts, so nothing else may share the ring's thread:
//! a service rendering templates or reading files on the same runtime would make the member
//! think itself slow, or make others suspect it. [`GossipThread::bind`] starts a thread named
//! `warren-gossip`, builds a runtime there, binds the sockets on it (tokio sockets belong to the
//! runtime that creates them) and hands back what the rest of the process needs: the bound
//! address and the [`RingCommand`] sender. [`GossipThread::run`] then gives the thread its
//! [`Hooks`] and the shutdown token and waits for [`Gossip::run`] to return. Until then the ring
//! does not start, so commands sent meanwhile are applied before its first packet, as with
//! [`Gossip`] itself.
//!
//! Hooks cross threads: everything they do must be a non-blocking send (tokio `mpsc` and
//! `watch` channels work across runtimes).

use std::net::SocketAddr;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::shell::{Exit, Gossip, GossipConfig, Hooks, NetError, RingCommand};

/// How long the gossip runtime waits for its blocking tasks (DNS look-ups) once the ring stopped.
const RUNTIME_SHUTDOWN: Duration = Duration::from_secs(1);

/// A gossip endpoint bound on its own thread, waiting for [`GossipThread::run`].
pub struct GossipThread<H> {
    local: SocketAddr,
    commands: mpsc::UnboundedSender<RingCommand>,
    start: oneshot::Sender<(H, CancellationToken)>,
    done: oneshot::Receiver<Result<Exit, NetError>>,
}

impl<H> std::fmt::Debug for GossipThread<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GossipThread")
            .field("local", &self.local)
            .finish_non_exhaustive()
    }
}

impl<H: Hooks + 'static> GossipThread<H> {
    /// Starts the gossip thread and binds the UDP socket and the TCP (ZMTP PULL) listener there,
    /// as [`Gossip::bind`]. A bind failure is returned here, as from [`Gossip::bind`]. Dropping
    /// the result without running it closes the sockets and ends the thread.
    pub async fn bind(cfg: GossipConfig) -> Result<GossipThread<H>, NetError> {
        let (ready_tx, ready_rx) = oneshot::channel();
        let (start_tx, start_rx) = oneshot::channel::<(H, CancellationToken)>();
        let (done_tx, done_rx) = oneshot::channel();
        std::thread::Builder::new()
            .name("warren-gossip".to_owned())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(NetError::Thread(format!(
                            "cannot start its runtime: {e}"
                        ))));
                        return;
                    }
                };
                let result = rt.block_on(async move {
                    let gossip = match Gossip::bind(cfg).await {
                        Ok(g) => g,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                            return None;
                        }
                    };
                    let bound = (gossip.local_addr(), gossip.commands());
                    if ready_tx.send(Ok(bound)).is_err() {
                        return None;
                    }
                    // The owner gave up before running the ring (a later start-up error).
                    let (hooks, shutdown) = start_rx.await.ok()?;
                    Some(gossip.run(hooks, shutdown).await)
                });
                // Sockets and the ring's helper tasks are gone before the owner hears the end.
                rt.shutdown_timeout(RUNTIME_SHUTDOWN);
                if let Some(result) = result {
                    let _ = done_tx.send(result);
                }
            })
            .map_err(|e| NetError::Thread(format!("cannot spawn it: {e}")))?;
        let (local, commands) = ready_rx
            .await
            .map_err(|_| NetError::Thread("it stopped while binding".to_owned()))??;
        Ok(GossipThread {
            local,
            commands,
            start: start_tx,
            done: done_rx,
        })
    }

    /// The bound address (UDP and TCP share its port).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// A sender of [`RingCommand`]s to the ring (see [`Gossip::commands`]).
    pub fn commands(&self) -> mpsc::UnboundedSender<RingCommand> {
        self.commands.clone()
    }

    /// Runs the ring on its thread (see [`Gossip::run`]) and waits, without blocking this
    /// thread, until it stopped and its runtime is shut down. Returns why it stopped.
    pub async fn run(self, hooks: H, shutdown: CancellationToken) -> Result<Exit, NetError> {
        if self.start.send((hooks, shutdown)).is_err() {
            return Err(NetError::Thread(
                "it stopped before the ring ran".to_owned(),
            ));
        }
        self.done
            .await
            .map_err(|_| NetError::Thread("it stopped without a result (a panic?)".to_owned()))?
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use std::net::{IpAddr, Ipv4Addr};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use warren_ring::{Config, Event, MemberId, Ring, Time};

    use crate::shell::Counters;

    #[derive(Default)]
    struct Recorder {
        thread_name: Arc<std::sync::Mutex<Option<String>>>,
        persisted: Arc<AtomicBool>,
    }

    impl Hooks for Recorder {
        fn incarnation_changed(&mut self, _incarnation: u64) {}
        fn event(&mut self, _event: &Event) {}
        fn snapshot(&mut self, _ring: &Ring, _counters: &Counters, _now: Time) {
            if let Ok(mut n) = self.thread_name.lock() {
                *n = std::thread::current().name().map(str::to_owned);
            }
        }
        fn persist(&mut self, _ring: &Ring) {
            self.persisted.store(true, Ordering::SeqCst);
        }
    }

    fn config(listen: SocketAddr) -> GossipConfig {
        GossipConfig {
            listen,
            advertise_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            peers: Vec::new(),
            peer_watch_file: None,
            cut_file: None,
            saved_peers: false,
            persistent: false,
            ring_key: None,
            ring: Config::default(),
            member_id: MemberId::from("0123456789abcdef0123456789abcdef"),
            incarnation: 0,
            initial_members: Vec::new(),
            initial_rumors: Vec::new(),
            initial_agreed: Vec::new(),
            services: Vec::new(),
            snapshot_interval: Duration::from_millis(10),
            persist_interval: Duration::from_secs(30),
            leave_linger: Duration::from_millis(10),
        }
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    }

    #[test]
    fn the_ring_runs_on_its_own_thread_and_stops_on_shutdown() {
        runtime().block_on(async {
            let listen: SocketAddr = "127.0.0.1:0".parse().expect("addr");
            let gossip = GossipThread::bind(config(listen)).await.expect("bind");
            assert_ne!(gossip.local_addr().port(), 0);
            let hooks = Recorder::default();
            let (name, persisted) = (Arc::clone(&hooks.thread_name), Arc::clone(&hooks.persisted));
            let shutdown = CancellationToken::new();
            shutdown.cancel();
            let exit = gossip.run(hooks, shutdown).await.expect("run");
            assert_eq!(exit, Exit::Shutdown);
            assert!(
                persisted.load(Ordering::SeqCst),
                "state persisted at the end"
            );
            let name = name.lock().expect("lock").clone();
            assert_eq!(name.as_deref(), Some("warren-gossip"));
        });
    }

    #[test]
    fn a_port_in_use_is_a_bind_error() {
        runtime().block_on(async {
            let taken = std::net::UdpSocket::bind("127.0.0.1:0").expect("udp");
            let addr = taken.local_addr().expect("addr");
            let err = GossipThread::<Recorder>::bind(config(addr))
                .await
                .expect_err("port in use");
            assert!(matches!(err, NetError::BindUdp { .. }), "{err}");
        });
    }
}
