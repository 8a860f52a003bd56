//! Habitat's control protocol end to end: a client written here from the spec (§11.2 frame,
//! §11.3 session, §11.4 messages; nothing shared with the server's code) drives a running
//! `warren run plans/hello` through the same port as Warren's gRPC: status, config, files,
//! stop/start, default config and load by identifier, unload and depart, and the refusals (wrong secret, unknown
//! service, oversized file, an existing service without force, a malformed frame).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use prost::Message;
use warren_e2e::{Sup, repo_path, state_dir, wait_until};

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

struct Client {
    stream: TcpStream,
}

impl Client {
    fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("{addr}: {e}"));
        stream
            .set_read_timeout(Some(Duration::from_secs(15)))
            .unwrap_or_else(|e| panic!("{e}"));
        Client { stream }
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
        NOT_FOUND
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
