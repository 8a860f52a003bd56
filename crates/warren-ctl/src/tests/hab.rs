//! Habitat's control protocol against the same server and fake handler: a client built from the
//! frame codec speaks to the port that also serves gRPC.

use std::sync::Arc;

use prost::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{Call, Fake, Harness, sample_statuses};
use crate::hab::frame::{self, Frame, Txn};
use crate::hab::proto::{ctl, net, types};
use crate::*;

struct HabClient {
    stream: TcpStream,
}

/// A reply: its message id, body and transaction.
#[derive(Debug)]
struct Got {
    id: String,
    body: Vec<u8>,
    txn: Txn,
}

impl Got {
    fn err(&self) -> (net::ErrCode, String) {
        assert_eq!(self.id, "NetErr", "{self:?}");
        let e = net::NetErr::decode(self.body.as_slice()).unwrap();
        (e.code(), e.msg)
    }
}

impl HabClient {
    async fn connect(h: &Harness) -> HabClient {
        HabClient {
            stream: TcpStream::connect(&h.addr).await.unwrap(),
        }
    }

    /// Connected and past the handshake.
    async fn ready(h: &Harness) -> HabClient {
        let mut c = HabClient::connect(h).await;
        let reply = c.handshake(h.secret.expose()).await;
        assert_eq!(reply.id, "NetOk");
        assert!(reply.txn.is_response && reply.txn.is_complete);
        c
    }

    async fn handshake(&mut self, secret: &str) -> Got {
        let hs = ctl::Handshake {
            secret_key: Some(secret.to_owned()),
        };
        self.send(0, "Handshake", &hs.encode_to_vec()).await;
        self.recv().await.unwrap()
    }

    async fn send(&mut self, txn: u32, id: &str, body: &[u8]) {
        let f = Frame::new(Some(Txn::request(txn)), id, body.to_vec());
        self.stream.write_all(&f.encode().unwrap()).await.unwrap();
    }

    /// The next frame, or `None` if the server closed the connection.
    async fn recv(&mut self) -> Option<Got> {
        let mut head = [0u8; 4];
        if self.stream.read_exact(&mut head).await.is_err() {
            return None;
        }
        let mut buf = vec![0u8; frame::frame_len(head)];
        buf[..4].copy_from_slice(&head);
        self.stream.read_exact(&mut buf[4..]).await.unwrap();
        let f = frame::decode(&buf).unwrap();
        Some(Got {
            id: f.message_id,
            body: f.body,
            txn: f.txn.unwrap(),
        })
    }

    /// Sends a request with txn 1 and collects the replies up to the complete one.
    async fn request(&mut self, id: &str, msg: &impl Message) -> Vec<Got> {
        self.send(1, id, &msg.encode_to_vec()).await;
        let mut out = Vec::new();
        loop {
            let got = self.recv().await.expect("a reply before the close");
            assert_eq!(got.txn.id, 1);
            assert!(got.txn.is_response);
            let done = got.txn.is_complete;
            out.push(got);
            if done {
                return out;
            }
        }
    }

    async fn closed(&mut self) -> bool {
        let mut b = [0u8; 1];
        matches!(
            tokio::time::timeout(std::time::Duration::from_secs(5), self.stream.read(&mut b)).await,
            Ok(Ok(0) | Err(_))
        )
    }
}

fn sg(service: &str, group: &str) -> Option<types::ServiceGroup> {
    Some(types::ServiceGroup {
        service: service.to_owned(),
        group: group.to_owned(),
        organization: None,
    })
}

fn ident(origin: &str, name: &str) -> Option<types::PackageIdent> {
    Some(types::PackageIdent {
        origin: origin.to_owned(),
        name: name.to_owned(),
        version: None,
        release: None,
    })
}

#[tokio::test]
async fn svc_status_streams_each_service_and_grpc_still_works_on_the_port() {
    let h = Harness::start(Fake {
        statuses: sample_statuses(),
        ..Fake::default()
    })
    .await;
    let mut c = HabClient::ready(&h).await;
    let replies = c
        .request("SvcStatus", &ctl::SvcStatus { ident: None })
        .await;
    assert_eq!(replies.len(), 2);
    assert!(!replies[0].txn.is_complete && replies[1].txn.is_complete);
    let first = types::ServiceStatus::decode(replies[0].body.as_slice()).unwrap();
    assert_eq!(replies[0].id, "ServiceStatus");
    assert_eq!(first.ident.origin, "core");
    assert_eq!(first.ident.name, "redis");
    assert_eq!(first.ident.version.as_deref(), Some("4.0.14"));
    assert_eq!(first.ident.release.as_deref(), Some("20190319155852"));
    let p = first.process.unwrap();
    assert_eq!(
        (p.pid, p.elapsed, p.state()),
        (Some(4242), Some(123), types::ProcessState::Up)
    );
    assert_eq!(first.desired_state(), types::DesiredState::DesiredUp);
    let second = types::ServiceStatus::decode(replies[1].body.as_slice()).unwrap();
    assert_eq!(second.service_group.service, "hello");
    assert_eq!(second.service_group.group, "prod");
    assert_eq!(second.service_group.organization.as_deref(), Some("acme"));
    assert_eq!(second.process.unwrap().pid, None);

    // One service by ident: the handler sees its name.
    let replies = c
        .request(
            "SvcStatus",
            &ctl::SvcStatus {
                ident: ident("core", "redis"),
            },
        )
        .await;
    assert_eq!(replies.len(), 2);
    assert_eq!(
        h.fake.calls().last(),
        Some(&Call::Status(StatusRequest {
            service: Some("redis".to_owned())
        }))
    );

    // Warren's own client on the same port.
    let rows = h
        .client()
        .await
        .status(StatusRequest::default())
        .await
        .unwrap();
    assert_eq!(rows, sample_statuses());
    h.stop().await;
}

#[tokio::test]
async fn no_services_is_a_bare_net_ok_and_unknown_service_is_not_found() {
    let h = Harness::start(Fake::default()).await;
    let mut c = HabClient::ready(&h).await;
    let replies = c
        .request("SvcStatus", &ctl::SvcStatus { ident: None })
        .await;
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].id, "NetOk");
    h.fake
        .fail_with(CtlError::NotFound("service nope is not loaded".into()));
    let replies = c
        .request(
            "SvcStatus",
            &ctl::SvcStatus {
                ident: ident("core", "nope"),
            },
        )
        .await;
    assert_eq!(
        replies[0].err(),
        (
            net::ErrCode::NotFound,
            "service nope is not loaded".to_owned()
        )
    );
    // A refused request leaves the session open.
    assert!(
        !c.request(
            "SvcStart",
            &ctl::SvcStart {
                ident: ident("core", "nope")
            }
        )
        .await
        .is_empty()
    );
    h.stop().await;
}

#[tokio::test]
async fn a_wrong_secret_is_unauthorized_and_closed() {
    let h = Harness::start(Fake::default()).await;
    let mut c = HabClient::connect(&h).await;
    let reply = c.handshake("not the secret").await;
    assert_eq!(
        reply.err(),
        (net::ErrCode::Unauthorized, "secret key mismatch".to_owned())
    );
    assert!(reply.txn.is_complete);
    assert!(c.closed().await);

    // A request before the handshake is refused the same way.
    let mut c = HabClient::connect(&h).await;
    c.send(1, "SvcStatus", &[]).await;
    assert_eq!(c.recv().await.unwrap().err().0, net::ErrCode::Unauthorized);
    assert!(c.closed().await);
    assert!(h.fake.calls().is_empty());
    h.stop().await;
}

#[tokio::test]
async fn malformed_frames_and_unknown_messages_get_net_err_and_a_close() {
    let h = Harness::start(Fake::default()).await;
    // Unknown message id.
    let mut c = HabClient::ready(&h).await;
    let replies = c.request("SvcExplode", &ctl::SupRestart {}).await;
    assert_eq!(replies[0].err().0, net::ErrCode::NotSupported);
    assert!(c.closed().await);
    // A body that is not the message it claims (a truncated varint).
    let mut c = HabClient::ready(&h).await;
    c.send(1, "SvcStatus", &[0x0a, 0xff]).await;
    assert_eq!(c.recv().await.unwrap().err().0, net::ErrCode::BadPayload);
    assert!(c.closed().await);
    // A header with an empty message id.
    let mut c = HabClient::ready(&h).await;
    c.stream
        .write_all(&[0x80, 0, 0, 0, 0, 0, 0, 1])
        .await
        .unwrap();
    assert_eq!(c.recv().await.unwrap().err().0, net::ErrCode::BadPayload);
    assert!(c.closed().await);
    // Garbage in place of a handshake: a message id of one control byte.
    let mut c = HabClient::connect(&h).await;
    c.stream
        .write_all(&[0x80, 0x10, 0, 0, 0, 0, 0, 0, 0x01])
        .await
        .unwrap();
    assert_eq!(c.recv().await.unwrap().err().0, net::ErrCode::BadPayload);
    assert!(c.closed().await);
    assert!(h.fake.calls().is_empty());
    h.stop().await;
}

#[tokio::test]
async fn set_cfg_and_file_put_reach_the_handler_with_their_checks() {
    let h = Harness::start(Fake::default()).await;
    let mut c = HabClient::ready(&h).await;
    let set = ctl::SvcSetCfg {
        service_group: sg("redis", "default"),
        cfg: Some(b"port = 6380\n".to_vec()),
        version: Some(4),
        is_encrypted: None,
    };
    let replies = c.request("SvcSetCfg", &set).await;
    assert_eq!(replies.len(), 2);
    assert_eq!(replies[0].id, "ConsoleLine");
    let line = ctl::ConsoleLine::decode(replies[0].body.as_slice()).unwrap();
    assert_eq!(line.line, "config apply done\n");
    assert_eq!(replies[1].id, "NetOk");
    assert_eq!(
        h.fake.calls().last(),
        Some(&Call::ConfigApply(ConfigApplyRequest {
            encrypted: false,
            service_group: "redis.default".to_owned(),
            version: 4,
            toml: b"port = 6380\n".to_vec(),
        }))
    );
    let validate = ctl::SvcValidateCfg {
        service_group: sg("redis", "default"),
        format: None,
        cfg: Some(b"port = \n".to_vec()),
    };
    assert_eq!(
        c.request("SvcValidateCfg", &validate).await[0].err().0,
        net::ErrCode::BadPayload
    );
    let missing = ctl::SvcSetCfg {
        version: None,
        ..set.clone()
    };
    assert_eq!(
        c.request("SvcSetCfg", &missing).await[0].err().0,
        net::ErrCode::UpdateClient
    );
    // Encrypted (`hab config apply --user`): the BOX-1 text passes through, flagged; anything
    // else flagged encrypted is refused.
    let boxed =
        b"BOX-1\nalice-20260101000000\nredis.default@acme-20260101000000\nAAAA\nAAAA".to_vec();
    let sealed = ctl::SvcSetCfg {
        cfg: Some(boxed.clone()),
        is_encrypted: Some(true),
        version: Some(5),
        ..set.clone()
    };
    assert_eq!(
        c.request("SvcSetCfg", &sealed).await.last().unwrap().id,
        "NetOk"
    );
    assert_eq!(
        h.fake.calls().last(),
        Some(&Call::ConfigApply(ConfigApplyRequest {
            encrypted: true,
            service_group: "redis.default".to_owned(),
            version: 5,
            toml: boxed,
        }))
    );
    let not_a_box = ctl::SvcSetCfg {
        is_encrypted: Some(true),
        ..set.clone()
    };
    assert_eq!(
        c.request("SvcSetCfg", &not_a_box).await[0].err().0,
        net::ErrCode::BadPayload
    );
    let big = ctl::SvcSetCfg {
        cfg: Some(vec![b' '; MAX_PAYLOAD_BYTES + 1]),
        ..set.clone()
    };
    assert_eq!(
        c.request("SvcSetCfg", &big).await[0].err().0,
        net::ErrCode::EntityTooLarge
    );

    let put = ctl::SvcFilePut {
        service_group: sg("redis", "default"),
        content: Some(b"hello".to_vec()),
        filename: Some("motd".to_owned()),
        version: Some(2),
        is_encrypted: Some(false),
    };
    let replies = c.request("SvcFilePut", &put).await;
    assert_eq!(replies.last().unwrap().id, "NetOk");
    assert_eq!(
        h.fake.calls().last(),
        Some(&Call::FileUpload(FileUploadRequest {
            encrypted: false,
            service_group: "redis.default".to_owned(),
            version: 2,
            filename: "motd".to_owned(),
            content: b"hello".to_vec(),
        }))
    );
    let big = ctl::SvcFilePut {
        content: Some(vec![0; MAX_PAYLOAD_BYTES + 1]),
        ..put.clone()
    };
    assert_eq!(
        c.request("SvcFilePut", &big).await[0].err().0,
        net::ErrCode::EntityTooLarge
    );
    let calls = h.fake.calls().len();
    let depart = ctl::SupDepart {
        member_id: Some("abc".to_owned()),
    };
    assert_eq!(
        c.request("SupDepart", &depart).await.last().unwrap().id,
        "NetOk"
    );
    assert_eq!(
        h.fake.calls().last(),
        Some(&Call::Depart(DepartRequest {
            member_id: "abc".to_owned()
        }))
    );
    assert_eq!(h.fake.calls().len(), calls + 1);
    h.stop().await;
}

#[tokio::test]
async fn load_of_a_loaded_service_without_force_is_a_conflict() {
    let h = Harness::start(Fake::default()).await;
    let mut c = HabClient::ready(&h).await;
    let load = ctl::SvcLoad {
        ident: ident("core", "redis"),
        ..Default::default()
    };
    // The fake answers every status, so every service is "loaded".
    assert_eq!(
        c.request("SvcLoad", &load).await[0].err().0,
        net::ErrCode::Conflict
    );
    let forced = ctl::SvcLoad {
        force: Some(true),
        ..load
    };
    // With force, the default handler has no installed packages.
    let (code, msg) = c.request("SvcLoad", &forced).await[0].err();
    assert_eq!(code, net::ErrCode::NotFound);
    assert!(msg.contains("core/redis"), "{msg}");
    let stop = ctl::SvcStop {
        ident: ident("core", "redis"),
        timeout_in_seconds: Some(9),
    };
    assert_eq!(
        c.request("SvcStop", &stop).await.last().unwrap().id,
        "NetOk"
    );
    assert_eq!(
        h.fake.calls().last(),
        Some(&Call::Stop(StopRequest {
            service: "redis".to_owned(),
            shutdown_timeout_secs: Some(9)
        }))
    );
    assert_eq!(
        c.request(
            "SvcUnload",
            &ctl::SvcUnload {
                ident: None,
                timeout_in_seconds: None
            }
        )
        .await[0]
            .err()
            .0,
        net::ErrCode::UpdateClient
    );
    h.stop().await;
}

/// A handler whose one installed package is `dir`.
struct Installed {
    dir: std::path::PathBuf,
}

#[async_trait]
impl ControlHandler for Installed {
    async fn load(&self, _: LoadRequest) -> Result<Reply, CtlError> {
        Ok(Reply::default())
    }
    async fn unload(&self, _: UnloadRequest) -> Result<Reply, CtlError> {
        Ok(Reply::default())
    }
    async fn start(&self, _: StartRequest) -> Result<Reply, CtlError> {
        Ok(Reply::default())
    }
    async fn stop(&self, _: StopRequest) -> Result<Reply, CtlError> {
        Ok(Reply::default())
    }
    async fn status(&self, _: StatusRequest) -> Result<Vec<ServiceStatus>, CtlError> {
        Err(CtlError::NotFound("none".into()))
    }
    async fn config_apply(&self, _: ConfigApplyRequest) -> Result<Reply, CtlError> {
        Ok(Reply::default())
    }
    async fn file_upload(&self, _: FileUploadRequest) -> Result<Reply, CtlError> {
        Ok(Reply::default())
    }
    async fn depart(&self, _: DepartRequest) -> Result<Reply, CtlError> {
        Ok(Reply::default())
    }
    async fn package_dir(&self, ident: &str) -> Result<std::path::PathBuf, CtlError> {
        if ident == "core/redis" {
            Ok(self.dir.clone())
        } else {
            Err(CtlError::NotFound(format!("{ident} is not installed")))
        }
    }
}

#[tokio::test]
async fn default_cfg_is_the_packages_default_toml() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("default.toml"), "port = 6379\n").unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let secret = CtlSecret::generate().unwrap();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let handler = Arc::new(Installed {
        dir: dir.path().to_path_buf(),
    });
    let task = tokio::spawn(serve(listener, handler, secret.clone(), shutdown.clone()));
    let mut c = HabClient {
        stream: TcpStream::connect(&addr).await.unwrap(),
    };
    assert_eq!(c.handshake(secret.expose()).await.id, "NetOk");
    let get = ctl::SvcGetDefaultCfg {
        ident: ident("core", "redis"),
    };
    let replies = c.request("SvcGetDefaultCfg", &get).await;
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].id, "ServiceCfg");
    let cfg = types::ServiceCfg::decode(replies[0].body.as_slice()).unwrap();
    assert_eq!(cfg.default.as_deref(), Some("port = 6379\n"));
    std::fs::remove_file(dir.path().join("default.toml")).unwrap();
    assert_eq!(c.request("SvcGetDefaultCfg", &get).await[0].id, "NetOk");
    let other = ctl::SvcGetDefaultCfg {
        ident: ident("core", "nope"),
    };
    assert_eq!(
        c.request("SvcGetDefaultCfg", &other).await[0].err().0,
        net::ErrCode::NotFound
    );
    shutdown.cancel();
    assert!(task.await.unwrap().is_ok());
}

#[tokio::test(start_paused = true)]
async fn a_silent_client_gets_unauthorized_after_the_handshake_timeout() {
    let (mut client, server) = tokio::io::duplex(4096);
    let session = crate::hab::session::Session::new(
        server,
        Arc::new(Fake::default()),
        Arc::new(CtlSecret::generate().unwrap()),
        "test".to_owned(),
    );
    let started = tokio::time::Instant::now();
    let task = tokio::spawn(session.run(tokio_util::sync::CancellationToken::new()));
    let mut head = [0u8; 4];
    client.read_exact(&mut head).await.unwrap();
    let waited = started.elapsed();
    let mut buf = vec![0u8; frame::frame_len(head)];
    buf[..4].copy_from_slice(&head);
    client.read_exact(&mut buf[4..]).await.unwrap();
    let f = frame::decode(&buf).unwrap();
    let e = net::NetErr::decode(f.body.as_slice()).unwrap();
    assert_eq!(e.code(), net::ErrCode::Unauthorized);
    assert!(
        waited >= crate::hab::session::HANDSHAKE_TIMEOUT,
        "answered after {waited:?}"
    );
    assert!(waited < crate::hab::session::HANDSHAKE_TIMEOUT + std::time::Duration::from_secs(1));
    task.await.unwrap();
    // The session is over: the server side is closed.
    assert_eq!(client.read(&mut head).await.unwrap(), 0);
}

#[tokio::test]
async fn unloading_what_is_not_loaded_is_internal_as_in_habitat_but_stopping_it_is_not_found() {
    let h = Harness::start(Fake::default()).await;
    let mut c = HabClient::ready(&h).await;
    h.fake
        .fail_with(CtlError::NotFound("service nope is not loaded".into()));
    let unload = ctl::SvcUnload {
        ident: ident("core", "nope"),
        timeout_in_seconds: None,
    };
    assert_eq!(
        c.request("SvcUnload", &unload).await[0].err(),
        (
            net::ErrCode::Internal,
            "service nope is not loaded".to_owned()
        )
    );
    let stop = ctl::SvcStop {
        ident: ident("core", "nope"),
        timeout_in_seconds: None,
    };
    assert_eq!(
        c.request("SvcStop", &stop).await[0].err().0,
        net::ErrCode::NotFound
    );
    // Any other refusal keeps its own code.
    h.fake.fail_with(CtlError::Internal("disk full".into()));
    assert_eq!(
        c.request("SvcUnload", &unload).await[0].err().0,
        net::ErrCode::Internal
    );
    h.fake.fail_with(CtlError::InvalidArgument("bad".into()));
    assert_eq!(
        c.request("SvcUnload", &unload).await[0].err().0,
        net::ErrCode::InvalidPayload
    );
    h.stop().await;
}
