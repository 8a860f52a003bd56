//! End-to-end tests: a real server on 127.0.0.1:0 with a fake handler that records its calls,
//! driven by the real [`CtlClient`] and, for what the client refuses to send, by the raw
//! generated client.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request, Status};

use crate::proto;
use crate::proto::control_client::ControlClient;
use crate::*;

#[derive(Clone, Debug, PartialEq)]
enum Call {
    Load(LoadRequest),
    Unload(UnloadRequest),
    Start(StartRequest),
    Stop(StopRequest),
    Status(StatusRequest),
    ConfigApply(ConfigApplyRequest),
    FileUpload(FileUploadRequest),
    Depart(DepartRequest),
}

/// Records every call; answers with `fail` if set, else a reply naming the call.
#[derive(Default)]
struct Fake {
    calls: Mutex<Vec<Call>>,
    fail: Mutex<Option<CtlError>>,
    statuses: Vec<ServiceStatus>,
}

impl Fake {
    /// Every call from now on fails with `error`.
    fn fail_with(&self, error: CtlError) {
        *self.fail.lock().unwrap() = Some(error);
    }

    fn record(&self, call: Call, name: &str) -> Result<Reply, CtlError> {
        self.calls.lock().unwrap().push(call);
        match self.fail.lock().unwrap().clone() {
            Some(e) => Err(e),
            None => Ok(Reply::new(format!("{name} done"))),
        }
    }

    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }
}

#[async_trait]
impl ControlHandler for Fake {
    async fn load(&self, req: LoadRequest) -> Result<Reply, CtlError> {
        self.record(Call::Load(req), "load")
    }
    async fn unload(&self, req: UnloadRequest) -> Result<Reply, CtlError> {
        self.record(Call::Unload(req), "unload")
    }
    async fn start(&self, req: StartRequest) -> Result<Reply, CtlError> {
        self.record(Call::Start(req), "start")
    }
    async fn stop(&self, req: StopRequest) -> Result<Reply, CtlError> {
        self.record(Call::Stop(req), "stop")
    }
    async fn status(&self, req: StatusRequest) -> Result<Vec<ServiceStatus>, CtlError> {
        self.record(Call::Status(req), "status")?;
        Ok(self.statuses.clone())
    }
    async fn config_apply(&self, req: ConfigApplyRequest) -> Result<Reply, CtlError> {
        self.record(Call::ConfigApply(req), "config apply")
    }
    async fn file_upload(&self, req: FileUploadRequest) -> Result<Reply, CtlError> {
        self.record(Call::FileUpload(req), "file upload")
    }
    async fn depart(&self, req: DepartRequest) -> Result<Reply, CtlError> {
        self.record(Call::Depart(req), "depart")
    }
}

struct Harness {
    addr: String,
    fake: Arc<Fake>,
    secret: CtlSecret,
    shutdown: CancellationToken,
    task: JoinHandle<Result<(), ServeError>>,
}

impl Harness {
    async fn start(fake: Fake) -> Harness {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let fake = Arc::new(fake);
        let secret = CtlSecret::generate().unwrap();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(serve(
            listener,
            fake.clone(),
            secret.clone(),
            shutdown.clone(),
        ));
        Harness {
            addr,
            fake,
            secret,
            shutdown,
            task,
        }
    }

    async fn client(&self) -> CtlClient {
        CtlClient::connect(&self.addr, self.secret.clone())
            .await
            .unwrap()
    }

    /// The generated client, sending `authorization` only when `auth` is given.
    async fn raw(&self) -> ControlClient<Channel> {
        let channel = Endpoint::from_shared(format!("http://{}", self.addr))
            .unwrap()
            .connect()
            .await
            .unwrap();
        ControlClient::new(channel)
    }

    fn authed<T>(&self, msg: T) -> Request<T> {
        with_auth(msg, Some(&format!("Bearer {}", self.secret.expose())))
    }

    async fn stop(self) {
        self.shutdown.cancel();
        let result = tokio::time::timeout(Duration::from_secs(3), self.task)
            .await
            .expect("serve returns promptly after shutdown")
            .unwrap();
        assert!(result.is_ok(), "{result:?}");
    }
}

fn with_auth<T>(msg: T, header: Option<&str>) -> Request<T> {
    let mut req = Request::new(msg);
    if let Some(h) = header {
        req.metadata_mut()
            .insert("authorization", h.parse().unwrap());
    }
    req
}

fn sample_statuses() -> Vec<ServiceStatus> {
    vec![
        ServiceStatus {
            package: "core/redis/4.0.14/20190319155852".to_owned(),
            service_group: "redis.default".to_owned(),
            topology: Topology::Leader,
            desired: DesiredState::Up,
            process: ProcessState::Up,
            elapsed_secs: Some(123),
            pid: Some(4242),
            health: Health::Critical,
        },
        ServiceStatus {
            package: "warren/hello/0.1.0".to_owned(),
            service_group: "hello.prod@acme".to_owned(),
            topology: Topology::Standalone,
            desired: DesiredState::Down,
            process: ProcessState::Down,
            elapsed_secs: None,
            pid: None,
            health: Health::Warning,
        },
    ]
}

fn full_load() -> LoadRequest {
    LoadRequest {
        ident: None,
        plan_path: PathBuf::from("/plans/redis"),
        group: "prod".to_owned(),
        org: Some("acme".to_owned()),
        topology: Topology::Leader,
        strategy: UpdateStrategy::Rolling,
        binds: vec![
            Bind {
                name: "backend".to_owned(),
                service_group: "db.prod@acme".to_owned(),
            },
            Bind {
                name: "cache".to_owned(),
                service_group: "redis.default".to_owned(),
            },
        ],
        binding_mode: BindingMode::Relaxed,
        health_check_interval_secs: 7,
        shutdown_timeout_secs: Some(12),
        config_from: Some(PathBuf::from("/src/redis")),
        force: true,
    }
}

/// Calls every RPC through `raw` with valid requests; returns each one's status code (`Ok` on
/// success).
async fn every_raw_rpc(
    raw: &mut ControlClient<Channel>,
    header: Option<&str>,
) -> Vec<(&'static str, Code)> {
    fn code<T>(r: Result<T, Status>) -> Code {
        r.map_or_else(|s| s.code(), |_| Code::Ok)
    }
    let load = full_load().to_wire().unwrap();
    vec![
        ("load", code(raw.load(with_auth(load, header)).await)),
        (
            "unload",
            code(
                raw.unload(with_auth(
                    proto::UnloadRequest {
                        service: "redis".into(),
                        shutdown_timeout_secs: None,
                    },
                    header,
                ))
                .await,
            ),
        ),
        (
            "start",
            code(
                raw.start(with_auth(
                    proto::StartRequest {
                        service: "redis".into(),
                    },
                    header,
                ))
                .await,
            ),
        ),
        (
            "stop",
            code(
                raw.stop(with_auth(
                    proto::StopRequest {
                        service: "redis".into(),
                        shutdown_timeout_secs: Some(1),
                    },
                    header,
                ))
                .await,
            ),
        ),
        (
            "status",
            code(
                raw.status(with_auth(proto::StatusRequest { service: None }, header))
                    .await,
            ),
        ),
        (
            "config_apply",
            code(
                raw.config_apply(with_auth(
                    proto::ConfigApplyRequest {
                        encrypted: false,
                        service_group: "redis.default".into(),
                        version: 2,
                        toml: b"port = 1".to_vec(),
                    },
                    header,
                ))
                .await,
            ),
        ),
        (
            "file_upload",
            code(
                raw.file_upload(with_auth(
                    proto::FileUploadRequest {
                        encrypted: false,
                        service_group: "redis.default".into(),
                        version: 2,
                        filename: "a.txt".into(),
                        content: b"x".to_vec(),
                    },
                    header,
                ))
                .await,
            ),
        ),
        (
            "depart",
            code(
                raw.depart(with_auth(
                    proto::DepartRequest {
                        member_id: "abc".into(),
                    },
                    header,
                ))
                .await,
            ),
        ),
    ]
}

#[tokio::test]
async fn every_rpc_round_trips_its_fields() {
    let h = Harness::start(Fake {
        statuses: sample_statuses(),
        ..Fake::default()
    })
    .await;
    let c = h.client().await;

    let load = full_load();
    assert_eq!(c.load(load.clone()).await.unwrap().message, "load done");
    // Defaults travel too (and a relative plan path arrives absolute).
    let minimal = LoadRequest::new("relative/plan");
    c.load(minimal.clone()).await.unwrap();
    let unload = UnloadRequest {
        service: "redis".into(),
        shutdown_timeout_secs: Some(9),
    };
    assert_eq!(
        c.unload(unload.clone()).await.unwrap().message,
        "unload done"
    );
    let unload_default = UnloadRequest {
        service: "hello".into(),
        shutdown_timeout_secs: None,
    };
    c.unload(unload_default.clone()).await.unwrap();
    let start = StartRequest {
        service: "redis".into(),
    };
    c.start(start.clone()).await.unwrap();
    let stop = StopRequest {
        service: "redis".into(),
        shutdown_timeout_secs: Some(3),
    };
    c.stop(stop.clone()).await.unwrap();
    let all = StatusRequest { service: None };
    assert_eq!(c.status(all.clone()).await.unwrap(), sample_statuses());
    let one = StatusRequest {
        service: Some("redis".into()),
    };
    c.status(one.clone()).await.unwrap();
    let cfg = ConfigApplyRequest {
        encrypted: false,
        service_group: "redis.default@acme".into(),
        version: u64::MAX,
        toml: b"port = 6380\n[tls]\nenabled = true\n".to_vec(),
    };
    c.config_apply(cfg.clone()).await.unwrap();
    let file = FileUploadRequest {
        encrypted: false,
        service_group: "redis.default".into(),
        version: 42,
        filename: "ca.pem".into(),
        content: (0..=255u8).collect(),
    };
    c.file_upload(file.clone()).await.unwrap();
    let depart = DepartRequest {
        member_id: "0123456789abcdef0123456789abcdef".into(),
    };
    assert_eq!(
        c.depart(depart.clone()).await.unwrap().message,
        "depart done"
    );

    let mut minimal_seen = minimal;
    minimal_seen.plan_path = std::env::current_dir().unwrap().join("relative/plan");
    assert_eq!(
        h.fake.calls(),
        vec![
            Call::Load(load),
            Call::Load(minimal_seen),
            Call::Unload(unload),
            Call::Unload(unload_default),
            Call::Start(start),
            Call::Stop(stop),
            Call::Status(all),
            Call::Status(one),
            Call::ConfigApply(cfg),
            Call::FileUpload(file),
            Call::Depart(depart),
        ]
    );
    h.stop().await;
}

#[tokio::test]
async fn wrong_or_missing_secret_is_unauthenticated_for_every_rpc() {
    let h = Harness::start(Fake::default()).await;

    // The real client with another secret.
    let wrong = CtlClient::connect(&h.addr, CtlSecret::generate().unwrap())
        .await
        .unwrap();
    let results: Vec<Result<(), ClientError>> = vec![
        wrong.load(full_load()).await.map(drop),
        wrong
            .unload(UnloadRequest {
                service: "x".into(),
                shutdown_timeout_secs: None,
            })
            .await
            .map(drop),
        wrong
            .start(StartRequest {
                service: "x".into(),
            })
            .await
            .map(drop),
        wrong
            .stop(StopRequest {
                service: "x".into(),
                shutdown_timeout_secs: None,
            })
            .await
            .map(drop),
        wrong.status(StatusRequest::default()).await.map(drop),
        wrong
            .config_apply(ConfigApplyRequest {
                encrypted: false,
                service_group: "x.y".into(),
                version: 1,
                toml: vec![],
            })
            .await
            .map(drop),
        wrong
            .file_upload(FileUploadRequest {
                encrypted: false,
                service_group: "x.y".into(),
                version: 1,
                filename: "f".into(),
                content: vec![],
            })
            .await
            .map(drop),
        wrong
            .depart(DepartRequest {
                member_id: "m".into(),
            })
            .await
            .map(drop),
    ];
    assert_eq!(results.len(), 8);
    for r in results {
        let e = r.unwrap_err();
        assert!(matches!(e, ClientError::Unauthenticated { .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            format!(
                "the supervisor at {} refused the request: the control secret does not match; \
                 set HAB_CTL_SECRET or run on the supervisor's host",
                h.addr
            )
        );
    }

    // The raw client: no header, a wrong scheme, a prefix of the secret, the secret bare.
    let mut raw = h.raw().await;
    let good = h.secret.expose().to_owned();
    let prefix = format!("Bearer {}", &good[..good.len() - 1]);
    let basic = format!("Basic {good}");
    for header in [
        None,
        Some(basic.as_str()),
        Some(prefix.as_str()),
        Some(good.as_str()),
    ] {
        let codes = every_raw_rpc(&mut raw, header).await;
        assert_eq!(codes.len(), 8);
        for (rpc, code) in codes {
            assert_eq!(code, Code::Unauthenticated, "{rpc} with {header:?}");
        }
    }
    let status = raw
        .status(Request::new(proto::StatusRequest { service: None }))
        .await
        .unwrap_err();
    assert_eq!(status.message(), UNAUTHENTICATED_MESSAGE);
    assert!(
        h.fake.calls().is_empty(),
        "the handler saw {:?}",
        h.fake.calls()
    );

    // The right secret, raw, for contrast: every RPC passes.
    let auth = format!("Bearer {good}");
    for (rpc, code) in every_raw_rpc(&mut raw, Some(&auth)).await {
        assert_eq!(code, Code::Ok, "{rpc}");
    }
    assert_eq!(h.fake.calls().len(), 8);
    h.stop().await;
}

#[tokio::test]
async fn oversized_uploads_are_refused_by_client_and_server() {
    let h = Harness::start(Fake::default()).await;
    let c = h.client().await;
    let upload = |len: usize| FileUploadRequest {
        encrypted: false,
        service_group: "redis.default".into(),
        version: 2,
        filename: "big.bin".into(),
        content: vec![7; len],
    };

    // The client does not send 65 KiB.
    let e = c.file_upload(upload(65 * 1024)).await.unwrap_err();
    assert!(matches!(e, ClientError::Invalid(_)), "{e:?}");
    assert!(e.to_string().contains("66560 bytes"), "{e}");

    // Sent anyway, the server refuses it: RESOURCE_EXHAUSTED below the decoding limit…
    let mut raw = h.raw().await;
    let wire = proto::FileUploadRequest {
        encrypted: false,
        service_group: "redis.default".into(),
        version: 2,
        filename: "big.bin".into(),
        content: vec![7; 65 * 1024],
    };
    let s = raw.file_upload(h.authed(wire)).await.unwrap_err();
    assert_eq!(s.code(), Code::ResourceExhausted, "{s:?}");
    assert!(s.message().contains("65536"), "{s:?}");
    // …OUT_OF_RANGE above it, the same for a config.
    let wire = proto::ConfigApplyRequest {
        encrypted: false,
        service_group: "redis.default".into(),
        version: 2,
        toml: vec![b' '; MAX_REQUEST_BYTES + 1],
    };
    let s = raw.config_apply(h.authed(wire)).await.unwrap_err();
    assert_eq!(s.code(), Code::OutOfRange, "{s:?}");
    let wire = proto::ConfigApplyRequest {
        encrypted: false,
        service_group: "redis.default".into(),
        version: 2,
        toml: vec![b' '; MAX_PAYLOAD_BYTES + 1],
    };
    let s = raw.config_apply(h.authed(wire)).await.unwrap_err();
    assert_eq!(s.code(), Code::ResourceExhausted, "{s:?}");
    assert!(h.fake.calls().is_empty());

    // Exactly 64 KiB passes.
    c.file_upload(upload(MAX_PAYLOAD_BYTES)).await.unwrap();
    assert_eq!(h.fake.calls().len(), 1);
    h.stop().await;
}

#[tokio::test]
async fn invalid_toml_is_refused_with_the_parsers_message_on_both_sides() {
    let h = Harness::start(Fake::default()).await;
    let c = h.client().await;
    let bad = b"port = 6379\nname = bare word\n".to_vec();
    let expected = validate_toml(&bad).unwrap_err();
    assert!(
        expected.starts_with("invalid TOML at line 2, column 8: "),
        "{expected}"
    );

    let e = c
        .config_apply(ConfigApplyRequest {
            encrypted: false,
            service_group: "redis.default".into(),
            version: 2,
            toml: bad.clone(),
        })
        .await
        .unwrap_err();
    assert!(matches!(e, ClientError::Invalid(_)), "{e:?}");
    assert_eq!(e.to_string(), expected);

    let mut raw = h.raw().await;
    for (toml, message) in [
        (bad, expected),
        (
            b"a = \"\xff\"".to_vec(),
            "the configuration is not UTF-8 (invalid byte at offset 5)".to_owned(),
        ),
    ] {
        let s = raw
            .config_apply(h.authed(proto::ConfigApplyRequest {
                encrypted: false,
                service_group: "redis.default".into(),
                version: 2,
                toml,
            }))
            .await
            .unwrap_err();
        assert_eq!(s.code(), Code::InvalidArgument, "{s:?}");
        assert_eq!(s.message(), message);
    }
    assert!(h.fake.calls().is_empty(), "nothing reaches the handler");
    h.stop().await;
}

#[tokio::test]
async fn malformed_requests_are_invalid_argument() {
    let h = Harness::start(Fake::default()).await;
    let mut raw = h.raw().await;

    let mut relative = full_load().to_wire().unwrap();
    relative.plan_path = "plans/redis".into();
    let mut bad_enum = full_load().to_wire().unwrap();
    bad_enum.topology = 99;
    let mut zero_interval = full_load().to_wire().unwrap();
    zero_interval.health_check_interval_secs = Some(0);
    let mut empty_bind = full_load().to_wire().unwrap();
    empty_bind.binds[0].service_group = String::new();
    let mut relative_config = full_load().to_wire().unwrap();
    relative_config.config_from = Some("cfg".into());
    for (wire, needle) in [
        (relative, "relative"),
        (bad_enum, "unknown topology value 99"),
        (zero_interval, "health check interval"),
        (empty_bind, "the bind \"backend\" has no service group"),
        (relative_config, "--config-from"),
    ] {
        let s = raw.load(h.authed(wire)).await.unwrap_err();
        assert_eq!(s.code(), Code::InvalidArgument, "{s:?}");
        assert!(s.message().contains(needle), "{needle}: {s:?}");
    }

    // Unspecified enums and absent optional fields take Habitat's defaults.
    let wire = proto::LoadRequest {
        plan_path: "/plans/hello".into(),
        ..Default::default()
    };
    raw.load(h.authed(wire)).await.unwrap();
    assert_eq!(
        h.fake.calls(),
        vec![Call::Load(LoadRequest::new("/plans/hello"))]
    );

    let s = raw
        .start(h.authed(proto::StartRequest {
            service: String::new(),
        }))
        .await
        .unwrap_err();
    assert_eq!(
        (s.code(), s.message()),
        (Code::InvalidArgument, "the request has no service name")
    );
    let s = raw
        .depart(h.authed(proto::DepartRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::InvalidArgument);

    for name in ["../etc/passwd", "a/b", "..", ""] {
        let s = raw
            .file_upload(h.authed(proto::FileUploadRequest {
                encrypted: false,
                service_group: "redis.default".into(),
                version: 1,
                filename: name.into(),
                content: vec![],
            }))
            .await
            .unwrap_err();
        assert_eq!(s.code(), Code::InvalidArgument, "{name}: {s:?}");
    }
    // The client refuses to send such a name.
    let e = h
        .client()
        .await
        .file_upload(FileUploadRequest {
            encrypted: false,
            service_group: "redis.default".into(),
            version: 1,
            filename: "a/b".into(),
            content: vec![],
        })
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "the file name \"a/b\" contains a path separator; give a plain file name"
    );
    assert_eq!(h.fake.calls().len(), 1, "only the valid load got through");
    h.stop().await;
}

#[tokio::test]
async fn handler_errors_reach_the_client_with_their_code() {
    let h = Harness::start(Fake::default()).await;
    let c = h.client().await;
    let mut raw = h.raw().await;
    let cases = [
        (
            CtlError::NotFound("redis is not loaded".into()),
            Code::NotFound,
        ),
        (
            CtlError::InvalidArgument("bad group".into()),
            Code::InvalidArgument,
        ),
        (
            CtlError::stale_version("redis.default", "config", 2, 5),
            Code::FailedPrecondition,
        ),
        (
            CtlError::AlreadyExists("redis is loaded; use --force".into()),
            Code::AlreadyExists,
        ),
        (
            CtlError::TooLarge("too big".into()),
            Code::ResourceExhausted,
        ),
        (CtlError::Internal("disk full".into()), Code::Internal),
    ];
    for (error, code) in cases {
        h.fake.fail_with(error.clone());
        let e = c
            .start(StartRequest {
                service: "redis".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(e.refusal(), Some(&error), "{e:?}");
        assert_eq!(e.to_string(), error.to_string());
        let e = c.status(StatusRequest::default()).await.unwrap_err();
        assert_eq!(e.refusal(), Some(&error));
        let s = raw
            .stop(h.authed(proto::StopRequest {
                service: "redis".into(),
                shutdown_timeout_secs: None,
            }))
            .await
            .unwrap_err();
        assert_eq!((s.code(), s.message()), (code, error.message()));
    }
    assert_eq!(
        CtlError::stale_version("redis.default", "config", 2, 5).to_string(),
        "redis.default: config version 2 is not higher than the current version 5; use a \
         version above 5"
    );
    h.stop().await;
}

#[tokio::test]
async fn a_bad_status_reply_is_a_protocol_error() {
    // A handler cannot produce one through the plain types, so check the conversion.
    let wire = proto::ServiceStatus {
        package: "a/b".into(),
        service_group: "b.default".into(),
        desired: 0,
        process: 1,
        topology: 1,
        ..Default::default()
    };
    let e = ServiceStatus::try_from(wire).unwrap_err();
    assert_eq!(e, "the status of b.default has a bad desired state (0)");
}

#[tokio::test]
async fn shutdown_closes_the_listener() {
    let h = Harness::start(Fake::default()).await;
    let c = h.client().await;
    c.status(StatusRequest::default()).await.unwrap();
    let addr = h.addr.clone();
    let secret = h.secret.clone();
    h.stop().await;
    let e = CtlClient::connect(&addr, secret).await.unwrap_err();
    assert!(matches!(e, ClientError::Unreachable { .. }), "{e:?}");
    // The old connection's next call fails as unreachable too, not as a refusal.
    let e = c.status(StatusRequest::default()).await.unwrap_err();
    assert!(matches!(e, ClientError::Unreachable { .. }), "{e:?}");
}

/// Habitat's protocol on the same port.
mod hab;
