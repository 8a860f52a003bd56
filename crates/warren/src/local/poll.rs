//! Reading a member's HTTP API: one tokio task per member GETs `/census`, `/butterfly` and
//! `/services` every interval and sends what it found (or `None` when the member does not
//! answer) to the task that owns the [`super::board::Board`]. Parsing keeps only what the
//! live view shows. It never changes a member and never decides what an observation means.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

/// A service group as one member's census sees it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct GroupView {
    /// The leader's member id.
    pub leader: Option<String>,
    /// The census's election status (`ElectionFinished`, `ElectionInProgress`, …).
    pub status: String,
    /// The incarnation of the gossiped config, if any was applied.
    pub config: Option<u64>,
}

/// A member's own service (from `/services`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ServiceView {
    /// `up` or `down`.
    pub state: String,
    /// The service process.
    pub pid: Option<u64>,
    /// Restarts of the service by its supervisor.
    pub restarts: u64,
    /// The last health check (`Ok`, `Warning`, `Critical`, `Unknown`).
    pub health: String,
}

/// What one poll of a member found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Observation {
    /// The member's own id.
    pub id: String,
    /// Every other member it knows, by id: `Alive`, `Suspect`, `Confirmed`, `Departed`.
    pub peers: BTreeMap<String, String>,
    /// Service groups in its census, by name.
    pub groups: BTreeMap<String, GroupView>,
    /// Its own services, by service group.
    pub services: BTreeMap<String, ServiceView>,
}

/// Builds an observation from the three documents; `None` if the census has no member id.
pub(crate) fn parse(census: &Value, butterfly: &Value, services: &Value) -> Option<Observation> {
    let id = census["local_member_id"].as_str()?.to_owned();
    let peers = butterfly["membership"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| **k != id)
                .map(|(k, v)| (k.clone(), v["health"].as_str().unwrap_or("?").to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let groups = census["census_groups"]
        .as_object()
        .map(|g| {
            g.iter()
                .map(|(name, g)| {
                    (
                        name.clone(),
                        GroupView {
                            leader: g["leader_id"].as_str().map(str::to_owned),
                            status: g["election_status"].as_str().unwrap_or("None").to_owned(),
                            config: g["service_config"]["incarnation"].as_u64(),
                        },
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let services = services
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|s| {
                    Some((
                        s["service_group"].as_str()?.to_owned(),
                        ServiceView {
                            state: s["process"]["state"].as_str().unwrap_or("?").to_owned(),
                            pid: s["process"]["pid"].as_u64(),
                            restarts: s["restart_count"].as_u64().unwrap_or(0),
                            health: s["health_check"].as_str().unwrap_or("?").to_owned(),
                        },
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    Some(Observation {
        id,
        peers,
        groups,
        services,
    })
}

/// Polls member `i` at `http` every `every` until the receiver is gone.
pub(crate) async fn poll(
    i: usize,
    http: SocketAddr,
    every: Duration,
    tx: mpsc::Sender<(usize, Option<Observation>)>,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let obs = observe(http).await;
        if tx.send((i, obs)).await.is_err() {
            return;
        }
    }
}

async fn observe(http: SocketAddr) -> Option<Observation> {
    let census = get_json(http, "/census").await?;
    let butterfly = get_json(http, "/butterfly").await?;
    let services = get_json(http, "/services").await.unwrap_or(Value::Null);
    parse(&census, &butterfly, &services)
}

/// `GET path` over HTTP/1.1 with `Connection: close`, the body parsed as JSON; `None` on any
/// failure, a non-200 status or after 2 s.
async fn get_json(addr: SocketAddr, path: &str) -> Option<Value> {
    serde_json::from_str(&get_text(addr, path).await?).ok()
}

/// `GET path` over HTTP/1.1 with `Connection: close`, the body as text; `None` on any
/// failure, a non-200 status or after 2 s.
pub(crate) async fn get_text(addr: SocketAddr, path: &str) -> Option<String> {
    let fetch = async {
        let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
        let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await.ok()?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await.ok()?;
        Some(buf)
    };
    let buf = tokio::time::timeout(Duration::from_secs(2), fetch)
        .await
        .ok()??;
    let text = String::from_utf8_lossy(&buf);
    let (head, body) = text.split_once("\r\n\r\n")?;
    if !head.starts_with("HTTP/1.1 200") {
        return None;
    }
    Some(
        if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(body)
        } else {
            body.to_owned()
        },
    )
}

/// Joins the chunks of a chunked body (sizes in hex, each chunk followed by CRLF).
fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_observation_keeps_peers_groups_and_services() {
        let census = json!({
            "local_member_id": "aa",
            "census_groups": {"hello.default": {
                "leader_id": "bb", "election_status": "ElectionFinished",
                "service_config": {"incarnation": 3, "value": ""}
            }}
        });
        let butterfly = json!({"membership": {
            "aa": {"health": "Alive"}, "bb": {"health": "Suspect"}
        }});
        let services = json!([{
            "service_group": "hello.default", "process": {"pid": 12, "state": "up"},
            "restart_count": 1, "health_check": "Ok"
        }]);
        let o = parse(&census, &butterfly, &services).unwrap();
        assert_eq!(o.id, "aa");
        assert_eq!(o.peers.len(), 1);
        assert_eq!(o.peers["bb"], "Suspect");
        let g = &o.groups["hello.default"];
        assert_eq!(
            (g.leader.as_deref(), g.status.as_str(), g.config),
            (Some("bb"), "ElectionFinished", Some(3))
        );
        assert_eq!(o.services["hello.default"].pid, Some(12));
        assert!(parse(&json!({}), &butterfly, &services).is_none());
    }

    #[test]
    fn chunked_bodies_are_joined() {
        assert_eq!(dechunk("3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"), "abcde");
    }
}
