//! Habitat's control protocol end to end: a client written here from the spec (§11.2 frame,
//! §11.3 session, §11.4 messages; nothing shared with the server's code) drives a running
//! `warren run plans/hello` through the same port as Warren's gRPC: status, config, files,
//! stop/start, default config and load by identifier, unload and depart, and the refusals (wrong secret, unknown
//! service, oversized file, an existing service without force, a malformed frame); `SvcUpdate`
//! and `SupRestart`; and the control port under TLS (certificates made here with rcgen), for
//! Habitat's protocol and Warren's gRPC alike.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use prost::Message;
use warren_e2e::{Sup, log_tail, repo_path, state_dir, wait_until};

// ---- the messages, from the spec's tables ----

#[derive(Clone, PartialEq, Message)]
struct Handshake {
    #[prost(string, optional, tag = "1")]
    secret_key: Option<String>,
}

#[derive(Clone, PartialEq, Message)]
struct PackageIdent {
    #[prost(string, required, tag = "1")]
    origin: String,
    #[prost(string, required, tag = "2")]
    name: String,
    #[prost(string, optional, tag = "3")]
    version: Option<String>,
    #[prost(string, optional, tag = "4")]
    release: Option<String>,
}

#[derive(Clone, PartialEq, Message)]
struct ServiceGroup {
    #[prost(string, required, tag = "1")]
    service: String,
    #[prost(string, required, tag = "2")]
    group: String,
    #[prost(string, optional, tag = "4")]
    organization: Option<String>,
}

#[derive(Clone, PartialEq, Message)]
struct ProcessStatus {
    #[prost(uint64, optional, tag = "1")]
    elapsed: Option<u64>,
    #[prost(uint32, optional, tag = "2")]
    pid: Option<u32>,
    #[prost(int32, required, tag = "3")]
    state: i32,
}

#[derive(Clone, PartialEq, Message)]
struct ServiceStatus {
    #[prost(message, required, tag = "1")]
    ident: PackageIdent,
    #[prost(message, optional, tag = "2")]
    process: Option<ProcessStatus>,
    #[prost(message, required, tag = "3")]
    service_group: ServiceGroup,
    #[prost(int32, optional, tag = "5")]
    desired_state: Option<i32>,
}

#[derive(Clone, PartialEq, Message)]
struct IdentOnly {
    #[prost(message, optional, tag = "1")]
    ident: Option<PackageIdent>,
}

#[derive(Clone, PartialEq, Message)]
struct SvcLoad {
    #[prost(message, optional, tag = "1")]
    ident: Option<PackageIdent>,
    #[prost(bool, optional, tag = "9")]
    force: Option<bool>,
    #[prost(string, optional, tag = "10")]
    group: Option<String>,
}

#[derive(Clone, PartialEq, Message)]
struct SvcSetCfg {
    #[prost(message, optional, tag = "1")]
    service_group: Option<ServiceGroup>,
    #[prost(bytes = "vec", optional, tag = "2")]
    cfg: Option<Vec<u8>>,
    #[prost(uint64, optional, tag = "3")]
    version: Option<u64>,
    #[prost(bool, optional, tag = "4")]
    is_encrypted: Option<bool>,
}

#[derive(Clone, PartialEq, Message)]
struct SvcFilePut {
    #[prost(message, optional, tag = "1")]
    service_group: Option<ServiceGroup>,
    #[prost(bytes = "vec", optional, tag = "2")]
    content: Option<Vec<u8>>,
    #[prost(string, optional, tag = "3")]
    filename: Option<String>,
    #[prost(uint64, optional, tag = "4")]
    version: Option<u64>,
}

#[derive(Clone, PartialEq, Message)]
struct SupDepart {
    #[prost(string, optional, tag = "1")]
    member_id: Option<String>,
}

#[derive(Clone, PartialEq, Message)]
struct ConsoleLine {
    #[prost(string, required, tag = "1")]
    line: String,
    #[prost(string, optional, tag = "2")]
    color: Option<String>,
    #[prost(bool, required, tag = "3")]
    bold: bool,
}

#[derive(Clone, PartialEq, Message)]
struct ServiceCfg {
    #[prost(int32, optional, tag = "1")]
    format: Option<i32>,
    #[prost(string, optional, tag = "2")]
    default: Option<String>,
}

#[derive(Clone, PartialEq, Message)]
struct NetErr {
    #[prost(int32, required, tag = "1")]
    code: i32,
    #[prost(string, required, tag = "2")]
    msg: String,
}

const INTERNAL: i32 = 0;
const NOT_FOUND: i32 = 2;
const CONFLICT: i32 = 3;
const UNAUTHORIZED: i32 = 4;
const BAD_PAYLOAD: i32 = 6;
const ENTITY_TOO_LARGE: i32 = 8;
const UPDATE_CLIENT: i32 = 9;

// ---- the frame and the session ----

/// A frame: message id, body, and (is_response, is_complete, txn_id).
#[derive(Debug)]
struct Frame {
    id: String,
    body: Vec<u8>,
    response: bool,
    complete: bool,
    txn: u32,
}

impl Frame {
    fn net_err(&self) -> (i32, String) {
        assert_eq!(self.id, "NetErr", "expected NetErr: {self:?}");
        let e = NetErr::decode(self.body.as_slice()).unwrap_or_else(|e| panic!("{e}"));
        (e.code, e.msg)
    }
}

fn encode_request(txn: u32, id: &str, body: &[u8]) -> Vec<u8> {
    let header: u32 = (1 << 31) | ((id.len() as u32) << 20) | body.len() as u32;
    let mut out = header.to_be_bytes().to_vec();
    out.extend_from_slice(&txn.to_be_bytes());
    out.extend_from_slice(id.as_bytes());
    out.extend_from_slice(body);
    out
}

/// A byte stream both ways: plain TCP, or TLS over it.
trait Stream: Read + Write {}
impl<T: Read + Write> Stream for T {}

struct Client {
    stream: Box<dyn Stream>,
}

impl Client {
    fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("{addr}: {e}"));
        stream
            .set_read_timeout(Some(Duration::from_secs(15)))
            .unwrap_or_else(|e| panic!("{e}"));
        Client {
            stream: Box::new(stream),
        }
    }

    /// Connected with TLS (trusting `ca`, presenting `identity` if given) and past the handshake.
    fn tls_session(
        addr: SocketAddr,
        secret: &str,
        ca: &rcgen::Certificate,
        identity: Option<(&rcgen::Certificate, &rcgen::KeyPair)>,
    ) -> Result<Client, String> {
        let tcp = TcpStream::connect(addr).map_err(|e| e.to_string())?;
        tcp.set_read_timeout(Some(Duration::from_secs(15)))
            .map_err(|e| e.to_string())?;
        let name =
            rustls::pki_types::ServerName::try_from("localhost").map_err(|e| e.to_string())?;
        let conn = rustls::ClientConnection::new(client_tls(ca, identity), name)
            .map_err(|e| e.to_string())?;
        let mut c = Client {
            stream: Box::new(rustls::StreamOwned::new(conn, tcp)),
        };
        let hs = Handshake {
            secret_key: Some(secret.to_owned()),
        };
        c.stream
            .write_all(&encode_request(0, "Handshake", &hs.encode_to_vec()))
            .map_err(|e| e.to_string())?;
        let reply = c
            .read()
            .ok_or("no handshake reply (the TLS handshake failed?)")?;
        if reply.id != "NetOk" {
            return Err(format!("{reply:?}"));
        }
        Ok(c)
    }

    /// Connected and past the handshake.
    fn session(addr: SocketAddr, secret: &str) -> Client {
        let mut c = Client::connect(addr);
        let reply = c.handshake(secret);
        assert_eq!(reply.id, "NetOk", "{reply:?}");
        assert!(reply.response && reply.complete && reply.txn == 0);
        c
    }

    fn handshake(&mut self, secret: &str) -> Frame {
        let hs = Handshake {
            secret_key: Some(secret.to_owned()),
        };
        self.write(&encode_request(0, "Handshake", &hs.encode_to_vec()));
        self.read().unwrap_or_else(|| panic!("no handshake reply"))
    }

    fn write(&mut self, bytes: &[u8]) {
        self.stream
            .write_all(bytes)
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// The next frame; `None` once the server closed the connection.
    fn read(&mut self) -> Option<Frame> {
        let mut head = [0u8; 4];
        self.stream.read_exact(&mut head).ok()?;
        let header = u32::from_be_bytes(head);
        let mut txn_word = [0u8; 4];
        if header & (1 << 31) != 0 {
            self.stream.read_exact(&mut txn_word).ok()?;
        }
        let txn_word = u32::from_be_bytes(txn_word);
        let mut id = vec![0u8; ((header >> 20) & 0x3f) as usize];
        self.stream.read_exact(&mut id).ok()?;
        let mut body = vec![0u8; (header & 0xfffff) as usize];
        self.stream.read_exact(&mut body).ok()?;
        Some(Frame {
            id: String::from_utf8(id).unwrap_or_default(),
            body,
            response: txn_word & (1 << 31) != 0,
            complete: txn_word & (1 << 30) != 0,
            txn: txn_word & ((1 << 30) - 1),
        })
    }

    /// One request with txn 1; every reply up to the complete one.
    fn request(&mut self, id: &str, msg: &impl Message) -> Vec<Frame> {
        self.write(&encode_request(1, id, &msg.encode_to_vec()));
        let mut replies = Vec::new();
        loop {
            let f = self
                .read()
                .unwrap_or_else(|| panic!("{id}: closed before the complete reply: {replies:?}"));
            assert!(f.response && f.txn == 1, "{f:?}");
            let done = f.complete;
            replies.push(f);
            if done {
                return replies;
            }
        }
    }

    fn closed(&mut self) -> bool {
        let mut b = [0u8; 1];
        matches!(self.stream.read(&mut b), Ok(0) | Err(_))
    }
}

fn ident(origin: &str, name: &str) -> Option<PackageIdent> {
    Some(PackageIdent {
        origin: origin.to_owned(),
        name: name.to_owned(),
        version: None,
        release: None,
    })
}

fn hello_group() -> Option<ServiceGroup> {
    Some(ServiceGroup {
        service: "hello".to_owned(),
        group: "default".to_owned(),
        organization: None,
    })
}

fn statuses(c: &mut Client, name: Option<&str>) -> Vec<ServiceStatus> {
    let replies = c.request(
        "SvcStatus",
        &IdentOnly {
            ident: name.and_then(|n| ident("any", n)),
        },
    );
    replies
        .iter()
        .filter(|f| f.id == "ServiceStatus")
        .map(|f| ServiceStatus::decode(f.body.as_slice()).unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

fn ok_with_line(replies: &[Frame]) -> String {
    let last = replies.last().unwrap_or_else(|| panic!("no reply"));
    assert_eq!(last.id, "NetOk", "{replies:?}");
    replies
        .iter()
        .filter(|f| f.id == "ConsoleLine")
        .map(|f| {
            ConsoleLine::decode(f.body.as_slice())
                .unwrap_or_else(|e| panic!("{e}"))
                .line
        })
        .collect()
}

/// Lays out `test/extra/0.1.0/<release>` as Habitat installs a package.
fn install_extra(root: &std::path::Path) {
    let dir = root.join("hab/pkgs/test/extra/0.1.0/20260101000000");
    std::fs::create_dir_all(dir.join("hooks")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.join("IDENT"), "test/extra/0.1.0/20260101000000\n")
        .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.join("hooks/run"), "#!/bin/sh\nexec sleep 1000\n")
        .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.join("default.toml"), "size = 3\n").unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn habitat_clients_drive_warren_on_the_control_port() {
    let test = "hab-ctl";
    let root = state_dir(test, 0);
    install_extra(&root);
    let plan = repo_path("plans/hello");
    let sup = Sup::start(&root, &[], &[plan.to_str().unwrap_or_default()]);
    let conf = root.join("hab/svc/hello/config/hello.conf");
    let rendered = wait_until(Duration::from_secs(30), || {
        std::fs::read_to_string(&conf).is_ok_and(|c| c.contains("Hello from Warren"))
    });
    assert!(rendered, "{test}: hello never rendered");
    let secret = std::fs::read_to_string(root.join("hab/sup/default/CTL_SECRET"))
        .unwrap_or_else(|e| panic!("{e}"));
    let secret = secret.trim();

    // A wrong secret: Unauthorized, then the connection closes.
    let mut c = Client::connect(sup.ctl);
    let (code, msg) = c.handshake("bm90IHRoZSBzZWNyZXQ=").net_err();
    assert_eq!(code, UNAUTHORIZED, "{msg}");
    assert!(c.closed(), "still open after a wrong secret");

    let mut c = Client::session(sup.ctl, secret);
    // Status: one service, the last (only) reply complete.
    let up = wait_until(Duration::from_secs(15), || {
        statuses(&mut c, None)
            .first()
            .and_then(|s| s.process.as_ref())
            .is_some_and(|p| p.state == 1 && p.pid.is_some())
    });
    assert!(up, "{test}: hello never reported up");
    let all = statuses(&mut c, None);
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0].ident.name, "hello");
    assert_eq!(all[0].service_group.service, "hello");
    assert_eq!(all[0].service_group.group, "default");
    assert_eq!(all[0].desired_state, Some(1));
    let (code, _) = c.request(
        "SvcStatus",
        &IdentOnly {
            ident: ident("core", "nope"),
        },
    )[0]
    .net_err();
    assert_eq!(code, NOT_FOUND);

    // Config: validated, then gossiped and rendered.
    let set = SvcSetCfg {
        service_group: hello_group(),
        cfg: Some(b"message = \"applied by hab\"\n".to_vec()),
        version: Some(2),
        is_encrypted: None,
    };
    let line = ok_with_line(&c.request("SvcSetCfg", &set));
    assert!(line.contains("hello.default"), "{line}");
    let applied = wait_until(Duration::from_secs(10), || {
        std::fs::read_to_string(&conf).is_ok_and(|c| c.contains("applied by hab"))
    });
    assert!(applied, "{test}: the config was not rendered");
    let missing = SvcSetCfg {
        version: None,
        ..set.clone()
    };
    assert_eq!(
        c.request("SvcSetCfg", &missing)[0].net_err().0,
        UPDATE_CLIENT
    );

    // Files: uploaded, and refused over 64 KiB.
    let put = SvcFilePut {
        service_group: hello_group(),
        content: Some(b"from hab\n".to_vec()),
        filename: Some("motd.txt".to_owned()),
        version: Some(1),
    };
    ok_with_line(&c.request("SvcFilePut", &put));
    let file = root.join("hab/svc/hello/files/motd.txt");
    let written = wait_until(Duration::from_secs(10), || {
        std::fs::read_to_string(&file).is_ok_and(|c| c == "from hab\n")
    });
    assert!(written, "{test}: the file was not written");
    let big = SvcFilePut {
        content: Some(vec![b'x'; 64 * 1024 + 1]),
        version: Some(2),
        ..put
    };
    assert_eq!(
        c.request("SvcFilePut", &big)[0].net_err().0,
        ENTITY_TOO_LARGE
    );

    // Stop, start.
    ok_with_line(&c.request(
        "SvcStop",
        &IdentOnly {
            ident: ident("warren", "hello"),
        },
    ));
    let down = wait_until(Duration::from_secs(15), || {
        statuses(&mut c, Some("hello")).first().is_some_and(|s| {
            s.desired_state == Some(0) && s.process.as_ref().is_some_and(|p| p.state == 0)
        })
    });
    assert!(down, "{test}: hello did not stop");
    ok_with_line(&c.request(
        "SvcStart",
        &IdentOnly {
            ident: ident("warren", "hello"),
        },
    ));
    let up = wait_until(Duration::from_secs(15), || {
        statuses(&mut c, Some("hello"))
            .first()
            .is_some_and(|s| s.process.as_ref().is_some_and(|p| p.state == 1))
    });
    assert!(up, "{test}: hello did not start again");

    // Load: an existing service without force conflicts; an installed package loads by name.
    let again = SvcLoad {
        ident: ident("warren", "hello"),
        force: None,
        group: None,
    };
    assert_eq!(c.request("SvcLoad", &again)[0].net_err().0, CONFLICT);
    let absent = SvcLoad {
        ident: ident("test", "absent"),
        ..again.clone()
    };
    assert_eq!(c.request("SvcLoad", &absent)[0].net_err().0, NOT_FOUND);
    let extra = SvcLoad {
        ident: ident("test", "extra"),
        ..again
    };
    // Its default configuration, as `hab svc config` asks for it.
    let cfg = c.request(
        "SvcGetDefaultCfg",
        &IdentOnly {
            ident: ident("test", "extra"),
        },
    );
    assert_eq!(cfg.len(), 1);
    assert_eq!(cfg[0].id, "ServiceCfg", "{cfg:?}");
    let cfg = ServiceCfg::decode(cfg[0].body.as_slice()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.default.as_deref(), Some("size = 3\n"));
    ok_with_line(&c.request("SvcLoad", &extra));
    let running = wait_until(Duration::from_secs(15), || {
        root.join("hab/svc/extra/PID").exists()
    });
    assert!(running, "{test}: the installed package did not start");
    assert!(root.join("hab/sup/default/specs/extra.spec").exists());
    let all = statuses(&mut c, None);
    assert_eq!(all.len(), 2, "{all:?}");
    // Warren's own CLI, on the same port, sees it too.
    let (ok, out, err) = sup.ctl(&["svc", "status"]);
    assert!(
        ok && out.contains("extra") && out.contains("hello.default"),
        "{out} {err}"
    );

    ok_with_line(&c.request(
        "SvcUnload",
        &IdentOnly {
            ident: ident("test", "extra"),
        },
    ));
    assert!(!root.join("hab/sup/default/specs/extra.spec").exists());
    assert_eq!(
        c.request(
            "SvcUnload",
            &IdentOnly {
                ident: ident("test", "extra")
            }
        )[0]
        .net_err()
        .0,
        INTERNAL,
        "Habitat refuses unloading what is not loaded with Internal"
    );

    // Depart a member (unknown to this ring; the rumor is made all the same).
    let depart = SupDepart {
        member_id: Some("0123456789abcdef0123456789abcdef".to_owned()),
    };
    ok_with_line(&c.request("SupDepart", &depart));

    // A malformed frame (a message id of one control byte): NetErr, then a close.
    c.write(&[0x80, 0x10, 0, 0, 0, 0, 0, 1, 0x01]);
    let f = c
        .read()
        .unwrap_or_else(|| panic!("no reply to a malformed frame"));
    assert_eq!(f.net_err().0, BAD_PAYLOAD);
    assert!(c.closed(), "still open after a malformed frame");

    // The supervisor is still serving.
    let mut c = Client::session(sup.ctl, secret);
    assert_eq!(statuses(&mut c, None).len(), 1);
}

#[derive(Clone, PartialEq, Message)]
struct HealthCheckInterval {
    #[prost(uint64, required, tag = "1")]
    seconds: u64,
}

#[derive(Clone, PartialEq, Message)]
struct SvcUpdate {
    #[prost(message, optional, tag = "1")]
    ident: Option<PackageIdent>,
    #[prost(string, optional, tag = "6")]
    group: Option<String>,
    #[prost(int32, optional, tag = "8")]
    topology: Option<i32>,
    #[prost(message, optional, tag = "10")]
    health_check_interval: Option<HealthCheckInterval>,
    #[prost(uint32, optional, tag = "11")]
    shutdown_timeout: Option<u32>,
}

#[derive(Clone, PartialEq, Message)]
struct SupRestart {}

/// The member's own incarnation as it saved it.
fn incarnation(root: &std::path::Path) -> Option<u64> {
    std::fs::read_to_string(root.join("hab/sup/default/data/INCARNATION"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

#[test]
fn svc_update_rewrites_the_spec_and_sup_restart_restarts() {
    let test = "hab-ctl-update";
    let root = state_dir(test, 0);
    install_extra(&root);
    let mut sup = Sup::start(&root, &[], &[]);
    let secret = std::fs::read_to_string(root.join("hab/sup/default/CTL_SECRET"))
        .unwrap_or_else(|e| panic!("{e}"));
    let secret = secret.trim();
    let mut c = Client::session(sup.ctl, secret);
    let load = SvcLoad {
        ident: ident("test", "extra"),
        force: None,
        group: None,
    };
    ok_with_line(&c.request("SvcLoad", &load));
    let spec = root.join("hab/sup/default/specs/extra.spec");
    assert!(spec.exists());

    // Not loaded: refused.
    let nope = SvcUpdate {
        ident: ident("test", "nope"),
        ..SvcUpdate::default()
    };
    // Habitat's code for updating what is not loaded is Internal, not NotFound.
    assert_eq!(c.request("SvcUpdate", &nope)[0].net_err().0, INTERNAL);
    // No ident: an outdated client.
    assert_eq!(
        c.request("SvcUpdate", &SvcUpdate::default())[0].net_err().0,
        UPDATE_CLIENT
    );

    // The group and health-check interval change; the topology is left alone.
    let update = SvcUpdate {
        ident: ident("test", "extra"),
        group: Some("blue".to_owned()),
        health_check_interval: Some(HealthCheckInterval { seconds: 7 }),
        ..SvcUpdate::default()
    };
    let line = ok_with_line(&c.request("SvcUpdate", &update));
    assert!(line.contains("Updating test/extra"), "{line}");
    let regrouped = wait_until(Duration::from_secs(20), || {
        statuses(&mut c, Some("extra")).first().is_some_and(|s| {
            s.service_group.group == "blue" && s.process.as_ref().is_some_and(|p| p.state == 1)
        })
    });
    assert!(regrouped, "{test}: extra is not running as extra.blue");
    let text = std::fs::read_to_string(&spec).unwrap_or_else(|e| panic!("{e}"));
    assert!(text.contains("blue"), "{text}");
    assert!(text.contains('7'), "{text}");
    let in_census = wait_until(Duration::from_secs(10), || {
        sup.census()
            .and_then(|c| c["census_groups"].as_object().cloned())
            .is_some_and(|g| g.contains_key("extra.blue"))
    });
    assert!(in_census, "{test}: extra.blue not in the census");

    // SupRestart: no reply, as Habitat's; the connection ends with the restart. Then the same
    // process starts again (the PID stays: a re-exec) with the member's incarnation one higher
    // and the service loaded again from its spec.
    let id = sup.id();
    let before = incarnation(&root);
    let pid = sup.child.id();
    c.write(&encode_request(
        1,
        "SupRestart",
        &SupRestart {}.encode_to_vec(),
    ));
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let ended_silently = loop {
        let mut b = [0u8; 1];
        match c.stream.read(&mut b) {
            Ok(0) => break true,
            Ok(_) => break false,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) && std::time::Instant::now() < deadline =>
            {
                continue;
            }
            // A reset ends it too; still no reply.
            Err(_) => break true,
        }
    };
    assert!(
        ended_silently,
        "{test}: SupRestart got a reply (Habitat sends none) or the connection never ended"
    );
    // One up for leaving the ring, one more for starting again.
    let target = before.unwrap_or(0) + 2;
    let restarted = wait_until(Duration::from_secs(30), || {
        incarnation(&root).is_some_and(|i| i >= target)
            && warren_e2e::http_get(sup.http, "/healthz").is_some()
    });
    assert!(
        restarted,
        "{test}: no restart seen (incarnation {before:?}); {}",
        log_tail(&root, 30)
    );
    assert_eq!(sup.child.id(), pid);
    assert!(
        sup.child.try_wait().ok().flatten().is_none(),
        "{test}: the supervisor exited"
    );
    assert_eq!(sup.id(), id, "{test}: a new member id after the restart");
    let mut c = Client::session(sup.ctl, secret);
    let back = wait_until(Duration::from_secs(20), || {
        statuses(&mut c, Some("extra")).first().is_some_and(|s| {
            s.service_group.group == "blue" && s.process.as_ref().is_some_and(|p| p.state == 1)
        })
    });
    assert!(
        back,
        "{test}: extra.blue did not come back after the restart"
    );
    let _ = &mut sup;
}

/// A certificate for `name` issued by the CA of `ca_params`, with its key.
fn issue(
    ca_params: &rcgen::CertificateParams,
    ca_key: &rcgen::KeyPair,
    name: &str,
) -> (rcgen::Certificate, rcgen::KeyPair) {
    let key = rcgen::KeyPair::generate().unwrap_or_else(|e| panic!("{e}"));
    let mut params =
        rcgen::CertificateParams::new(vec![name.to_owned()]).unwrap_or_else(|e| panic!("{e}"));
    params.is_ca = rcgen::IsCa::NoCa;
    let issuer = rcgen::Issuer::from_params(ca_params, ca_key);
    let cert = params
        .signed_by(&key, &issuer)
        .unwrap_or_else(|e| panic!("{e}"));
    (cert, key)
}

/// A self-signed CA: its certificate, key and parameters.
fn make_ca() -> (rcgen::Certificate, rcgen::KeyPair, rcgen::CertificateParams) {
    let key = rcgen::KeyPair::generate().unwrap_or_else(|e| panic!("{e}"));
    let mut params =
        rcgen::CertificateParams::new(Vec::<String>::new()).unwrap_or_else(|e| panic!("{e}"));
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "warren test ca");
    let cert = params.self_signed(&key).unwrap_or_else(|e| panic!("{e}"));
    (cert, key, params)
}

fn client_tls(
    ca: &rcgen::Certificate,
    identity: Option<(&rcgen::Certificate, &rcgen::KeyPair)>,
) -> std::sync::Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(ca.der().clone())
        .unwrap_or_else(|e| panic!("{e}"));
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap_or_else(|e| panic!("{e}"))
        .with_root_certificates(roots);
    let cfg = match identity {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => builder
            .with_client_auth_cert(
                vec![cert.der().clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(
                    rustls::pki_types::PrivatePkcs8KeyDer::from(key.serialize_der()),
                ),
            )
            .unwrap_or_else(|e| panic!("{e}")),
    };
    std::sync::Arc::new(cfg)
}

#[test]
fn the_control_port_speaks_tls_with_client_certificates() {
    let test = "hab-ctl-tls";
    let root = state_dir(test, 0);
    // Habitat's default directory: the flags are given without values.
    let dir = root.join("hab/cache/keys/ctl");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let (ca, ca_key, ca_params) = make_ca();
    let (server, server_key) = issue(&ca_params, &ca_key, "localhost");
    let (client, client_key) = issue(&ca_params, &ca_key, "client");
    let write =
        |n: &str, s: String| std::fs::write(dir.join(n), s).unwrap_or_else(|e| panic!("{e}"));
    write("ctl-gateway-20260101000000.crt.pem", server.pem());
    write(
        "ctl-gateway-20260101000000.key.pem",
        server_key.serialize_pem(),
    );
    write("ca.pem", ca.pem());
    let sup = Sup::start(
        &root,
        &[],
        &[
            "--ctl-server-certificate",
            "--ctl-server-key",
            "--ctl-client-ca-certificate",
        ],
    );
    let secret = std::fs::read_to_string(root.join("hab/sup/default/CTL_SECRET"))
        .unwrap_or_else(|e| panic!("{e}"));
    let secret = secret.trim();

    // Habitat's protocol over TLS, with a client certificate.
    let mut c = Client::tls_session(sup.ctl, secret, &ca, Some((&client, &client_key)))
        .unwrap_or_else(|e| panic!("{test}: {e}"));
    let replies = c.request("SvcStatus", &IdentOnly { ident: None });
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].id, "NetOk", "{replies:?}");

    // Without a client certificate: refused in the TLS handshake.
    let refused = Client::tls_session(sup.ctl, secret, &ca, None);
    assert!(
        refused.is_err(),
        "{test}: served a client without a certificate"
    );

    // Plain text on a TLS port: no Habitat session.
    let mut plain = Client::connect(sup.ctl);
    plain.write(&encode_request(
        0,
        "Handshake",
        &Handshake {
            secret_key: Some(secret.to_owned()),
        }
        .encode_to_vec(),
    ));
    let reply = plain.read();
    assert!(
        reply.as_ref().is_none_or(|f| f.id != "NetOk"),
        "{test}: a plain-text session was served: {reply:?}"
    );

    // Warren's gRPC on the same port through TLS: the demultiplexer reads the decrypted byte.
    let mut cfg = (*client_tls(&ca, Some((&client, &client_key)))).clone();
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    let name =
        rustls::pki_types::ServerName::try_from("localhost").unwrap_or_else(|e| panic!("{e}"));
    let conn = rustls::ClientConnection::new(std::sync::Arc::new(cfg), name)
        .unwrap_or_else(|e| panic!("{e}"));
    let tcp = TcpStream::connect(sup.ctl).unwrap_or_else(|e| panic!("{e}"));
    tcp.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut h2 = rustls::StreamOwned::new(conn, tcp);
    // The client preface, then an empty SETTINGS frame.
    let preface = h2
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .and_then(|()| h2.write_all(&[0, 0, 0, 4, 0, 0, 0, 0, 0]))
        .and_then(|()| {
            let mut head = [0u8; 9];
            h2.read_exact(&mut head).map(|()| head)
        })
        .ok();
    // The server's HTTP/2 SETTINGS frame (type 4): tonic is answering.
    let head = preface.unwrap_or_else(|| panic!("{test}: no HTTP/2 answer through TLS"));
    assert_eq!(head[3], 4, "{test}: not a SETTINGS frame: {head:?}");
}
