//! Loopback tests of the tokio transport: our Pusher against our PullListener, and raw
//! hand-written peers that misbehave. Timeouts are short real times (paused tokio time
//! auto-advances while sockets wait in the kernel, which would fire timeouts spuriously).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep, timeout};
use tokio_util::sync::CancellationToken;
use warren_zmtp::codec::{self, Decoder, Event, SocketType};
use warren_zmtp::{
    Overflow, PullConfig, PullListener, PushConfig, Pusher, RateLimit, Received, SendError,
};

const LOCALHOST: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 0);

async fn listener(
    config: PullConfig,
) -> (PullListener, mpsc::Receiver<Received>, CancellationToken) {
    let token = CancellationToken::new();
    let (listener, rx) = PullListener::bind(LOCALHOST, config, &token).await.unwrap();
    (listener, rx, token)
}

fn fast_push() -> PushConfig {
    PushConfig {
        reconnect_min: Duration::from_millis(20),
        reconnect_max: Duration::from_millis(100),
        ..PushConfig::default()
    }
}

/// Polls `cond` every 10 ms for up to `within`.
async fn eventually(within: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        sleep(Duration::from_millis(10)).await;
    }
    cond()
}

/// What our PULL listener sends first: greeting + READY(PULL).
fn pull_hello() -> Vec<u8> {
    let mut b = Vec::new();
    codec::encode_greeting(&mut b);
    codec::encode_ready(&mut b, SocketType::Pull, None).unwrap();
    b
}

/// Connects as a hand-written peer announcing `as_type` and reads the listener's hello.
async fn raw_peer(addr: SocketAddr, as_type: SocketType) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut hello = Vec::new();
    codec::encode_greeting(&mut hello);
    codec::encode_ready(&mut hello, as_type, None).unwrap();
    stream.write_all(&hello).await.unwrap();
    let mut got = vec![0u8; pull_hello().len()];
    timeout(Duration::from_secs(2), stream.read_exact(&mut got))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, pull_hello());
    stream
}

/// Reads until EOF or reset; returns what was read and how long it took.
async fn read_to_close(stream: &mut TcpStream, within: Duration) -> (Vec<u8>, Duration) {
    let start = Instant::now();
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match timeout(within, stream.read(&mut buf)).await {
            Err(_) => panic!("connection still open after {within:?}"),
            Ok(Ok(0)) | Ok(Err(_)) => return (all, start.elapsed()),
            Ok(Ok(n)) => all.extend_from_slice(&buf[..n]),
        }
    }
}

fn message(i: usize) -> Vec<u8> {
    let len = (i * 37) % 700;
    let mut m = format!("{i}:").into_bytes();
    m.extend((0..len).map(|k| (i + k) as u8));
    m
}

#[tokio::test]
async fn push_to_pull_delivers_many_messages_in_order() {
    let (listener, mut rx, token) = listener(PullConfig {
        rate_limit: None,
        ..PullConfig::default()
    })
    .await;
    let to = listener.local_addr();
    let pusher = Pusher::new(
        PushConfig {
            queue_capacity: 10_000,
            ..fast_push()
        },
        &token,
    )
    .unwrap();
    const N: usize = 3000;
    for i in 0..N {
        pusher.send(to, message(i)).unwrap();
    }
    for i in 0..N {
        let (peer, m) = timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("timed out waiting for messages")
            .unwrap();
        assert!(peer.ip().is_loopback());
        assert_eq!(m, message(i), "message {i}");
    }
    assert!(
        eventually(Duration::from_secs(2), || pusher
            .stats()
            .snapshot()
            .messages_sent
            == N as u64)
        .await
    );
    let push = pusher.stats().snapshot();
    assert_eq!(push.connects, 1);
    assert_eq!(push.dropped_queue_full + push.dropped_send_failed, 0);
    let pull = listener.stats().snapshot();
    assert_eq!(pull.messages_received, N as u64);
    assert_eq!(pull.handshakes_completed, 1);
    assert_eq!(pull.connections_active, 1);

    token.cancel();
    timeout(Duration::from_secs(2), listener.join())
        .await
        .unwrap();
    timeout(Duration::from_secs(2), pusher.join())
        .await
        .unwrap();
    assert_eq!(rx.recv().await, None, "channel closes after shutdown");
    assert_eq!(pusher.send(to, b"late".to_vec()), Err(SendError::Shutdown));
}

#[tokio::test]
async fn oversized_frame_closes_the_connection() {
    let (listener, mut rx, _token) = listener(PullConfig {
        max_frame_size: 1024,
        ..PullConfig::default()
    })
    .await;
    let mut peer = raw_peer(listener.local_addr(), SocketType::Push).await;
    let mut frames = Vec::new();
    codec::encode_message(&mut frames, &[1u8; 1024]);
    // A long frame header announcing 1 TiB: rejected from the header alone.
    frames.push(codec::FLAG_LONG);
    frames.extend_from_slice(&(1u64 << 40).to_be_bytes());
    frames.extend_from_slice(&[0u8; 100]);
    peer.write_all(&frames).await.unwrap();
    let (rest, _) = read_to_close(&mut peer, Duration::from_secs(2)).await;
    assert!(rest.is_empty());
    let (_, m) = rx.recv().await.unwrap();
    assert_eq!(m.len(), 1024);
    assert!(rx.try_recv().is_err());
    let stats = listener.stats().snapshot();
    assert_eq!(stats.closed_frame_too_large, 1);
    assert_eq!(stats.messages_received, 1);
}

#[tokio::test]
async fn silent_peer_is_dropped_after_the_handshake_timeout() {
    let (listener, _rx, _token) = listener(PullConfig {
        handshake_timeout: Duration::from_millis(200),
        ..PullConfig::default()
    })
    .await;
    let mut silent = TcpStream::connect(listener.local_addr()).await.unwrap();
    // A slow peer that sends only half a greeting fares no better.
    let mut slow = TcpStream::connect(listener.local_addr()).await.unwrap();
    slow.write_all(&codec::greeting_bytes()[..20])
        .await
        .unwrap();
    let (bytes, took) = read_to_close(&mut silent, Duration::from_secs(3)).await;
    assert_eq!(bytes, pull_hello(), "we still greet first");
    assert!(
        took >= Duration::from_millis(150),
        "closed too early: {took:?}"
    );
    read_to_close(&mut slow, Duration::from_secs(3)).await;
    assert!(
        eventually(Duration::from_secs(1), || {
            listener.stats().snapshot().closed_handshake_timeout == 2
        })
        .await
    );
    assert_eq!(listener.stats().snapshot().connections_active, 0);
}

#[tokio::test]
async fn idle_connection_is_closed() {
    let (listener, _rx, _token) = listener(PullConfig {
        idle_timeout: Duration::from_millis(200),
        ..PullConfig::default()
    })
    .await;
    let mut peer = raw_peer(listener.local_addr(), SocketType::Push).await;
    let (_, took) = read_to_close(&mut peer, Duration::from_secs(3)).await;
    assert!(
        took >= Duration::from_millis(150),
        "closed too early: {took:?}"
    );
    assert!(
        eventually(Duration::from_secs(1), || listener
            .stats()
            .snapshot()
            .closed_idle_timeout
            == 1)
        .await
    );
}

#[tokio::test]
async fn flood_is_rate_limited() {
    let (listener, mut rx, _token) = listener(PullConfig {
        rate_limit: Some(RateLimit {
            messages_per_sec: 100,
            message_burst: 50,
            bytes_per_sec: 1 << 30,
            byte_burst: 1 << 30,
        }),
        ..PullConfig::default()
    })
    .await;
    let mut peer = raw_peer(listener.local_addr(), SocketType::Push).await;
    const FLOOD: u64 = 5000;
    let mut frames = Vec::new();
    for i in 0..FLOOD {
        codec::encode_message(&mut frames, &i.to_be_bytes());
    }
    let start = Instant::now();
    peer.write_all(&frames).await.unwrap();
    assert!(
        eventually(Duration::from_secs(5), || {
            let s = listener.stats().snapshot();
            s.messages_received + s.dropped_rate_limited == FLOOD
        })
        .await
    );
    let elapsed = start.elapsed().as_secs_f64();
    let s = listener.stats().snapshot();
    let allowed = 50.0 + 100.0 * elapsed + 5.0;
    assert!(s.messages_received >= 50, "{s:?}");
    assert!(
        (s.messages_received as f64) <= allowed,
        "{s:?} after {elapsed}s"
    );
    // The first burst is delivered in order, the connection stays open.
    for i in 0..50u64 {
        assert_eq!(rx.recv().await.unwrap().1, i.to_be_bytes());
    }
    let mut one = Vec::new();
    codec::encode_message(&mut one, b"still open");
    peer.write_all(&one).await.unwrap();
    assert_eq!(s.closed_protocol_error + s.closed_by_peer, 0);
}

#[tokio::test]
async fn byte_rate_is_limited() {
    let (listener, _rx, _token) = listener(PullConfig {
        max_frame_size: 1000,
        rate_limit: Some(RateLimit {
            messages_per_sec: 1_000_000,
            message_burst: 1_000_000,
            bytes_per_sec: 1000,
            byte_burst: 10_000,
        }),
        ..PullConfig::default()
    })
    .await;
    let mut peer = raw_peer(listener.local_addr(), SocketType::Push).await;
    let mut frames = Vec::new();
    for _ in 0..100 {
        codec::encode_message(&mut frames, &[0u8; 1000]);
    }
    peer.write_all(&frames).await.unwrap();
    assert!(
        eventually(Duration::from_secs(5), || {
            let s = listener.stats().snapshot();
            s.messages_received + s.dropped_rate_limited == 100
        })
        .await
    );
    let s = listener.stats().snapshot();
    assert!((10..=13).contains(&s.messages_received), "{s:?}");
}

#[tokio::test]
async fn pull_rejects_a_pull_peer_with_an_error_command() {
    let (listener, _rx, _token) = listener(PullConfig::default()).await;
    let mut peer = TcpStream::connect(listener.local_addr()).await.unwrap();
    let mut hello = Vec::new();
    codec::encode_greeting(&mut hello);
    codec::encode_ready(&mut hello, SocketType::Pull, None).unwrap();
    peer.write_all(&hello).await.unwrap();
    let (bytes, _) = read_to_close(&mut peer, Duration::from_secs(2)).await;
    // Read it as a PUSH would: greeting, READY(PULL), then ERROR naming the problem.
    let mut d = Decoder::new(SocketType::Push);
    d.feed(&bytes);
    assert!(matches!(d.next_event(), Ok(Some(Event::Greeting(_)))));
    assert!(matches!(d.next_event(), Ok(Some(Event::Ready { .. }))));
    match d.next_event() {
        Ok(Some(Event::Error { reason })) => assert!(reason.contains("PULL"), "{reason}"),
        other => panic!("expected ERROR, got {other:?}"),
    }
    assert!(
        eventually(Duration::from_secs(1), || listener
            .stats()
            .snapshot()
            .closed_wrong_socket_type
            == 1)
        .await
    );
}

#[tokio::test]
async fn pusher_refuses_a_push_peer() {
    let fake = TcpListener::bind(LOCALHOST).await.unwrap();
    let to = fake.local_addr().unwrap();
    let server = tokio::spawn(async move {
        // Accepts once, claims to be PUSH, and reports whether any message frame arrived.
        let (mut s, _) = fake.accept().await.unwrap();
        let mut hello = Vec::new();
        codec::encode_greeting(&mut hello);
        codec::encode_ready(&mut hello, SocketType::Push, None).unwrap();
        s.write_all(&hello).await.unwrap();
        let mut got = Vec::new();
        let _ = timeout(Duration::from_secs(2), s.read_to_end(&mut got)).await;
        got
    });
    let token = CancellationToken::new();
    let pusher = Pusher::new(
        PushConfig {
            reconnect_min: Duration::from_secs(10),
            ..fast_push()
        },
        &token,
    )
    .unwrap();
    pusher.send(to, b"secret rumor".to_vec()).unwrap();
    assert!(
        eventually(Duration::from_secs(2), || pusher
            .stats()
            .snapshot()
            .handshake_failures
            == 1)
        .await
    );
    let got = server.await.unwrap();
    // Our greeting, our READY(PUSH), maybe an ERROR; never the message.
    assert!(!got.windows(12).any(|w| w == b"secret rumor"));
    let mut d = Decoder::new(SocketType::Pull);
    d.feed(&got);
    assert!(matches!(d.next_event(), Ok(Some(Event::Greeting(_)))));
    assert!(matches!(
        d.next_event(),
        Ok(Some(Event::Ready {
            socket_type: SocketType::Push,
            ..
        }))
    ));
    assert!(matches!(d.next_event(), Ok(Some(Event::Error { .. }))));
    assert_eq!(pusher.stats().snapshot().messages_sent, 0);
    token.cancel();
}

#[tokio::test]
async fn connection_limit_is_enforced() {
    let (listener, _rx, _token) = listener(PullConfig {
        max_connections: 2,
        ..PullConfig::default()
    })
    .await;
    let addr = listener.local_addr();
    let _a = raw_peer(addr, SocketType::Push).await;
    let _b = raw_peer(addr, SocketType::Push).await;
    let mut c = TcpStream::connect(addr).await.unwrap();
    let (bytes, _) = read_to_close(&mut c, Duration::from_secs(2)).await;
    assert!(bytes.is_empty(), "the rejected peer gets no greeting");
    let s = listener.stats().snapshot();
    assert_eq!((s.connections_accepted, s.connections_rejected), (2, 1));
    drop(_a);
    assert!(
        eventually(Duration::from_secs(1), || listener
            .stats()
            .snapshot()
            .connections_active
            == 1)
        .await
    );
    let _d = raw_peer(addr, SocketType::Push).await;
}

#[tokio::test]
async fn listener_answers_ping_with_pong() {
    let (listener, _rx, _token) = listener(PullConfig::default()).await;
    let mut peer = raw_peer(listener.local_addr(), SocketType::Push).await;
    let mut ping = Vec::new();
    codec::encode_ping(&mut ping, 10, b"ctx").unwrap();
    peer.write_all(&ping).await.unwrap();
    let mut pong = Vec::new();
    codec::encode_pong(&mut pong, b"ctx").unwrap();
    let mut got = vec![0u8; pong.len()];
    timeout(Duration::from_secs(2), peer.read_exact(&mut got))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, pong);
}

#[tokio::test]
async fn shutdown_closes_sessions() {
    let (listener, mut rx, token) = listener(PullConfig::default()).await;
    let mut peer = raw_peer(listener.local_addr(), SocketType::Push).await;
    token.cancel();
    read_to_close(&mut peer, Duration::from_secs(2)).await;
    timeout(Duration::from_secs(2), listener.join())
        .await
        .unwrap();
    assert_eq!(rx.recv().await, None);
}

#[tokio::test]
async fn pusher_reconnects_after_the_target_comes_back() {
    // Find a free port, then leave it closed for a while.
    let probe = std::net::TcpListener::bind(LOCALHOST).unwrap();
    let to = probe.local_addr().unwrap();
    drop(probe);
    let token = CancellationToken::new();
    let pusher = Pusher::new(fast_push(), &token).unwrap();
    pusher.send(to, b"first".to_vec()).unwrap();
    assert!(
        eventually(Duration::from_secs(2), || pusher
            .stats()
            .snapshot()
            .connect_failures
            >= 2)
        .await
    );
    assert_eq!(pusher.queued(to), 1, "kept while retrying");
    let (listener, mut rx) = PullListener::bind(to, PullConfig::default(), &token)
        .await
        .unwrap();
    pusher.send(to, b"second".to_vec()).unwrap();
    for want in [&b"first"[..], b"second"] {
        let (_, got) = timeout(Duration::from_secs(3), rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got, want);
    }
    assert_eq!(pusher.stats().snapshot().connects, 1);
    drop(listener);
}

#[tokio::test]
async fn pusher_gives_up_on_an_unreachable_target() {
    let probe = std::net::TcpListener::bind(LOCALHOST).unwrap();
    let to = probe.local_addr().unwrap();
    drop(probe);
    let token = CancellationToken::new();
    let pusher = Pusher::new(
        PushConfig {
            give_up_after: Duration::from_millis(200),
            ..fast_push()
        },
        &token,
    )
    .unwrap();
    for i in 0..3u8 {
        pusher.send(to, vec![i]).unwrap();
    }
    assert!(
        eventually(Duration::from_secs(3), || pusher
            .stats()
            .snapshot()
            .dropped_unreachable
            == 3)
        .await
    );
    assert_eq!(pusher.queued(to), 0);
}

#[tokio::test]
async fn pusher_queue_overflow_policies() {
    let probe = std::net::TcpListener::bind(LOCALHOST).unwrap();
    let to = probe.local_addr().unwrap();
    drop(probe);
    let token = CancellationToken::new();
    let slow_retry = PushConfig {
        queue_capacity: 3,
        reconnect_min: Duration::from_secs(10),
        ..PushConfig::default()
    };
    let newest = Pusher::new(slow_retry.clone(), &token).unwrap();
    let results: Vec<_> = (0..5u8).map(|i| newest.send(to, vec![i])).collect();
    assert_eq!(results[..3], [Ok(()), Ok(()), Ok(())]);
    assert_eq!(
        results[3..],
        [Err(SendError::QueueFull), Err(SendError::QueueFull)]
    );
    assert_eq!(newest.stats().snapshot().dropped_queue_full, 2);

    let oldest = Pusher::new(
        PushConfig {
            overflow: Overflow::DropOldest,
            ..slow_retry
        },
        &token,
    )
    .unwrap();
    for i in 0..5u8 {
        oldest.send(to, vec![i]).unwrap();
    }
    assert_eq!(oldest.queued(to), 3);
    assert_eq!(oldest.stats().snapshot().dropped_queue_full, 2);

    assert_eq!(
        oldest.send(to, vec![0; 2 << 20]),
        Err(SendError::TooLarge {
            len: 2 << 20,
            max: 1 << 20
        })
    );
    token.cancel();
    timeout(Duration::from_secs(2), oldest.join())
        .await
        .unwrap();
}

#[tokio::test]
async fn idle_push_connection_is_closed_and_reopened() {
    let (listener, mut rx, token) = listener(PullConfig::default()).await;
    let to = listener.local_addr();
    let pusher = Pusher::new(
        PushConfig {
            idle_timeout: Duration::from_millis(150),
            ..fast_push()
        },
        &token,
    )
    .unwrap();
    pusher.send(to, b"one".to_vec()).unwrap();
    assert_eq!(rx.recv().await.unwrap().1, b"one");
    assert!(
        eventually(Duration::from_secs(2), || listener
            .stats()
            .snapshot()
            .closed_by_peer
            == 1)
        .await
    );
    pusher.send(to, b"two".to_vec()).unwrap();
    assert_eq!(rx.recv().await.unwrap().1, b"two");
    assert_eq!(pusher.stats().snapshot().connects, 2);
}

#[tokio::test]
async fn pusher_keeps_at_most_max_targets_evicting_the_least_recently_used_idle_one() {
    const CAP: usize = 3;
    let token = CancellationToken::new();
    let mut pulls = Vec::new();
    for _ in 0..2 * CAP + 1 {
        let (l, rx) = PullListener::bind(LOCALHOST, PullConfig::default(), &token)
            .await
            .unwrap();
        pulls.push((l, rx));
    }
    let pusher = Pusher::new(
        PushConfig {
            max_targets: CAP,
            ..fast_push()
        },
        &token,
    )
    .unwrap();
    let mut deliver = async |pusher: &Pusher, i: usize| {
        let (l, rx) = &mut pulls[i];
        pusher.send(l.local_addr(), message(i)).unwrap();
        let (_, m) = timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("timed out waiting for a message")
            .unwrap();
        assert_eq!(m, message(i));
        assert!(pusher.targets() <= CAP, "{} targets", pusher.targets());
    };
    // Twice the cap, one after the other: each new target evicts the oldest idle one.
    for i in 0..2 * CAP {
        deliver(&pusher, i).await;
    }
    assert_eq!(pusher.targets(), CAP);
    assert_eq!(pusher.stats().snapshot().targets_evicted, CAP as u64);
    // Kept: CAP..2·CAP. Using CAP again makes CAP + 1 the least recently used.
    deliver(&pusher, CAP).await;
    deliver(&pusher, 2 * CAP).await;
    let stats = pusher.stats().snapshot();
    assert_eq!(stats.targets_evicted, CAP as u64 + 1);
    assert_eq!(stats.dropped_too_many_targets, 0);
    assert_eq!(stats.messages_sent, 2 * CAP as u64 + 2);
    // The evicted targets' workers ended and closed their connections; the kept ones did not.
    let closed = |i: usize| pulls[i].0.stats().snapshot().closed_by_peer;
    let evicted: Vec<usize> = (0..CAP).chain([CAP + 1]).collect();
    assert!(
        eventually(Duration::from_secs(5), || evicted
            .iter()
            .all(|&i| closed(i) == 1))
        .await
    );
    for i in [CAP, CAP + 2, 2 * CAP] {
        assert_eq!(closed(i), 0, "target {i} was closed");
    }

    // Every kept target busy (unreachable, messages waiting): a new target is refused.
    let busy = Pusher::new(
        PushConfig {
            max_targets: 2,
            reconnect_min: Duration::from_secs(10),
            ..PushConfig::default()
        },
        &token,
    )
    .unwrap();
    let closed_ports: Vec<SocketAddr> = (0..3)
        .map(|_| {
            let probe = std::net::TcpListener::bind(LOCALHOST).unwrap();
            probe.local_addr().unwrap()
        })
        .collect();
    busy.send(closed_ports[0], vec![0]).unwrap();
    busy.send(closed_ports[1], vec![1]).unwrap();
    assert_eq!(
        busy.send(closed_ports[2], vec![2]),
        Err(SendError::TooManyTargets)
    );
    assert_eq!(busy.targets(), 2);
    assert_eq!(busy.stats().snapshot().dropped_too_many_targets, 1);
    token.cancel();
    timeout(Duration::from_secs(2), pusher.join())
        .await
        .unwrap();
    timeout(Duration::from_secs(2), busy.join()).await.unwrap();
}

#[tokio::test]
async fn bulk_larger_than_a_queue_arrives_whole_and_paced_under_the_pull_limit() {
    // The listener keeps its default per-connection rate limit: an unpaced burst of this size
    // would be partly dropped by it.
    let (listener, mut rx, token) = listener(PullConfig::default()).await;
    let to = listener.local_addr();
    let pusher = Pusher::new(
        PushConfig {
            queue_capacity: 100,
            ..fast_push()
        },
        &token,
    )
    .unwrap();
    const N: usize = 2500;
    pusher.send_bulk(to, (0..N).map(message).collect()).unwrap();
    // Ordinary messages still go (first), beside the bulk lane.
    pusher.send(to, b"ordinary".to_vec()).unwrap();
    let mut bulk = Vec::with_capacity(N);
    let mut ordinary = 0;
    while bulk.len() < N {
        let (_, m) = timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("timed out waiting for bulk messages")
            .unwrap();
        if m == b"ordinary" {
            ordinary += 1;
        } else {
            bulk.push(m);
        }
    }
    assert_eq!(ordinary, 1);
    assert!(bulk.iter().enumerate().all(|(i, m)| *m == message(i)));
    let push = pusher.stats().snapshot();
    assert_eq!(push.bulk_queued, N as u64);
    assert_eq!(
        push.dropped_queue_full + push.dropped_bulk_full + push.dropped_send_failed,
        0
    );
    assert_eq!(listener.stats().snapshot().dropped_rate_limited, 0);
    assert_eq!(pusher.queued(to), 0);
    token.cancel();
}

#[tokio::test]
async fn bulk_lanes_are_bounded_in_bytes() {
    let probe = std::net::TcpListener::bind(LOCALHOST).unwrap();
    let to = probe.local_addr().unwrap();
    drop(probe);
    let token = CancellationToken::new();
    let pusher = Pusher::new(
        PushConfig {
            bulk_capacity: 1000,
            reconnect_min: Duration::from_secs(10),
            ..PushConfig::default()
        },
        &token,
    )
    .unwrap();
    let hundred = |n: usize| vec![vec![7u8; 100]; n];
    assert_eq!(
        pusher.send_bulk(to, hundred(25)),
        Err(SendError::BulkFull { dropped: 15 })
    );
    assert_eq!(pusher.queued(to), 10);
    // The capacity is shared: another target gets nothing either.
    let other = SocketAddr::new(to.ip(), to.port().wrapping_add(1));
    assert_eq!(
        pusher.send_bulk(other, hundred(1)),
        Err(SendError::BulkFull { dropped: 1 })
    );
    let stats = pusher.stats().snapshot();
    assert_eq!((stats.bulk_queued, stats.dropped_bulk_full), (10, 16));
    // Ordinary sends are not affected.
    pusher.send(to, vec![1]).unwrap();
    assert_eq!(pusher.queued(to), 11);
    token.cancel();
    timeout(Duration::from_secs(2), pusher.join())
        .await
        .unwrap();
}
