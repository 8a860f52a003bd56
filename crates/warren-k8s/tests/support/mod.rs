//! Shared by the test binaries: the fake API server and a harness around it.

#![allow(dead_code, unreachable_pub)]

pub mod fake;
pub mod warnings;

use std::path::PathBuf;
use std::time::Duration;

use warren_k8s::{Client, Config, LabelerOptions};

pub const NS: &str = "ring";
pub const POD: &str = "warren-0";

/// A fake API server with one pod, and a client configuration pointing at it. The client's
/// token file and the server's (the token it accepts) are separate so tests can rotate either.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub client_token: PathBuf,
    pub server_token: PathBuf,
    pub fake: fake::Fake,
    pub config: Config,
}

impl Env {
    pub async fn start() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let client_token = dir.path().join("token");
        let server_token = dir.path().join("server-token");
        std::fs::write(&client_token, "tok-1\n").unwrap();
        std::fs::write(&server_token, "tok-1").unwrap();
        let fake = fake::Fake::start(server_token.clone()).await;
        let ca_path = dir.path().join("ca.crt");
        std::fs::write(&ca_path, &fake.ca_pem).unwrap();
        fake.add_pod(NS, POD);
        let config = Config {
            api_host: "127.0.0.1".to_owned(),
            api_port: fake.addr.port(),
            namespace: NS.to_owned(),
            pod_name: POD.to_owned(),
            token_path: client_token.clone(),
            ca_path,
        };
        Env {
            dir,
            client_token,
            server_token,
            fake,
            config,
        }
    }

    pub fn client(&self) -> Client {
        Client::new(self.config.clone()).unwrap()
    }

    /// The `role` label on the pod (`None`: absent).
    pub fn role(&self) -> Option<String> {
        self.fake
            .labels(NS, POD)
            .and_then(|l| l.get("role").cloned())
    }

    /// The statuses the fake answered, in order.
    pub fn statuses(&self) -> Vec<u16> {
        self.fake.requests().iter().map(|r| r.status).collect()
    }
}

/// Fast retries for tests: 20 ms doubling up to 80 ms.
pub fn opts() -> LabelerOptions {
    let mut o = LabelerOptions::new("role");
    o.backoff_base = Duration::from_millis(20);
    o.backoff_cap = Duration::from_millis(80);
    o.jitter_seed = 1;
    o
}

/// Polls `cond` every 5 ms for up to 5 s.
pub async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A local TCP port nothing listens on (bound, then released).
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}
