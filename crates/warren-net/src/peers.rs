//! Peer addresses: `HOST[:PORT]` strings resolved to every address they name, and the
//! peer-watch file (one peer per line, `#` comments) re-read when it changes.
//!
//! Resolution failures are reported, never fatal: a peer that does not resolve now may later.
//! When to resolve again is not decided here: the gossip task's resolver (`resolver.rs`) has
//! the schedule and uses [`split_host_port`] and [`read_watch_file`].

use std::net::SocketAddr;
use std::path::Path;

use tracing::warn;

/// Habitat's default gossip port.
pub const DEFAULT_PORT: u16 = 9638;

/// Splits `HOST[:PORT]` (IPv6 as `[addr]:port` or a bare address) into host and port.
pub fn split_host_port(peer: &str) -> (String, u16) {
    let peer = peer.trim();
    if let Ok(sa) = peer.parse::<SocketAddr>() {
        return (sa.ip().to_string(), sa.port());
    }
    if peer.parse::<std::net::IpAddr>().is_ok() {
        return (peer.to_owned(), DEFAULT_PORT);
    }
    match peer.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => match port.parse() {
            Ok(p) => (host.to_owned(), p),
            Err(_) => (peer.to_owned(), DEFAULT_PORT),
        },
        _ => (peer.trim_matches(['[', ']']).to_owned(), DEFAULT_PORT),
    }
}

/// Resolves every peer to all of its addresses; unresolvable peers are logged and skipped.
pub async fn resolve(peers: &[String]) -> Vec<SocketAddr> {
    let mut out = Vec::new();
    for p in peers {
        let (host, port) = split_host_port(p);
        match tokio::net::lookup_host((host.as_str(), port)).await {
            Ok(addrs) => {
                for a in addrs {
                    if !out.contains(&a) {
                        out.push(a);
                    }
                }
            }
            Err(e) => warn!(peer = %p, error = %e, "peer does not resolve (will retry)"),
        }
    }
    out
}

/// Reads a peer-watch file: one `HOST[:PORT]` per line; blank lines and `#` comments ignored.
pub fn read_watch_file(path: &Path) -> std::io::Result<Vec<String>> {
    let text = std::fs::read_to_string(path)?;
    Ok(text
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_forms() {
        assert_eq!(split_host_port("10.0.0.1"), ("10.0.0.1".into(), 9638));
        assert_eq!(split_host_port("10.0.0.1:9000"), ("10.0.0.1".into(), 9000));
        assert_eq!(
            split_host_port("ring.default.svc"),
            ("ring.default.svc".into(), 9638)
        );
        assert_eq!(split_host_port("ring:1234"), ("ring".into(), 1234));
        assert_eq!(split_host_port("[::1]:77"), ("::1".into(), 77));
        assert_eq!(split_host_port("::1"), ("::1".into(), 9638));
    }
}
