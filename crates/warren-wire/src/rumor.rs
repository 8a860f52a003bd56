//! Rumor frames: `butterfly.newscast.Rumor` in a `Wire`, to and from [`warren_ring::Rumor`].
//!
//! The envelope follows spec §5.2: `from_id` is the sender for Member rumors, the owner for
//! Service, the candidate for Election and ElectionUpdate (whose candidate is read back from
//! `from_id`, not from the payload), and `"butterflyclient"` for ServiceConfig, ServiceFile and
//! Departure. ElectionUpdate (type 8) travels in the `election` field. Decoding enforces the
//! required-on-decode fields and type/payload agreement, rejects `Fake`/`Fake2`, and never
//! panics. This module does not frame rumors for ZeroMQ and does not merge them.

use std::sync::Arc;

use prost::Message;
use warren_proto::newscast as pb;
use warren_ring::rumor::{MAX_COMMITTED, MAX_VOTES};
use warren_ring::{
    Committed, Departure, Election, ElectionStatus, MemberId, Rumor, Service, ServiceConfig,
    ServiceFile, SysInfo, WITHDRAWN_TAG,
};

use crate::envelope;
use crate::error::WireError;
use crate::key::RingKey;
use crate::swim::{membership_from_proto, membership_to_proto};

/// The `from_id` Habitat's client puts on ServiceConfig, ServiceFile and Departure rumors.
pub const BUTTERFLY_CLIENT: &str = "butterflyclient";

/// Decodes one rumor frame, opening it with `key` when one is configured.
pub fn decode_rumor(bytes: &[u8], key: Option<&RingKey>) -> Result<Rumor, WireError> {
    let payload = envelope::open(bytes, key)?;
    from_proto(pb::Rumor::decode(payload.as_slice())?)
}

/// Encodes `rumor` as one rumor frame, sealed with `key` when there is one.
pub fn encode_rumor(rumor: &Rumor, key: Option<&RingKey>) -> Vec<u8> {
    envelope::seal(&to_proto(rumor).encode_to_vec(), key)
}

/// Encodes `rumor` as a bare `butterfly.newscast.Rumor` (no `Wire` envelope, never encrypted),
/// as Habitat's rumor file stores it.
pub fn encode_rumor_record(rumor: &Rumor) -> Vec<u8> {
    to_proto(rumor).encode_to_vec()
}

/// Decodes a bare `butterfly.newscast.Rumor` (a rumor file record) with the same checks as
/// [`decode_rumor`].
pub fn decode_rumor_record(bytes: &[u8]) -> Result<Rumor, WireError> {
    from_proto(pb::Rumor::decode(bytes)?)
}

// ----- decoding ------------------------------------------------------------------------------

fn from_proto(msg: pb::Rumor) -> Result<Rumor, WireError> {
    use pb::rumor::{Payload as P, Type as T};
    let declared = msg.r#type;
    let ty = T::try_from(declared).map_err(|_| WireError::UnknownEnum {
        field: "rumor.type",
        value: declared,
    })?;
    if matches!(ty, T::Fake | T::Fake2) {
        return Err(WireError::FakeRumor(declared));
    }
    let payload = msg
        .payload
        .ok_or(WireError::MissingField("rumor.payload"))?;
    let name = match &payload {
        P::Member(_) => "member",
        P::Service(_) => "service",
        P::ServiceConfig(_) => "service_config",
        P::ServiceFile(_) => "service_file",
        P::Election(_) => "election",
        P::Departure(_) => "departure",
    };
    let from_id = msg.from_id;
    let withdrawn = msg.tag.iter().any(|t| t == WITHDRAWN_TAG);
    let committed = msg
        .tag
        .iter()
        .find_map(|t| Committed::from_tag(t, MAX_COMMITTED));
    match (ty, payload) {
        (T::Member, P::Member(m)) => Ok(Rumor::Member {
            from: required_id("rumor.from_id", from_id)?,
            membership: membership_from_proto("rumor.member", m)?,
        }),
        (T::Service, P::Service(s)) => Ok(Rumor::Service(Arc::new(service(s, withdrawn)?))),
        (T::ServiceConfig, P::ServiceConfig(c)) => {
            from_id.ok_or(WireError::MissingField("rumor.from_id"))?;
            Ok(Rumor::ServiceConfig(Arc::new(ServiceConfig {
                incarnation: c.incarnation.unwrap_or(0),
                service_group: required("service_config.service_group", c.service_group)?,
                encrypted: c.encrypted.unwrap_or(false),
                config: c.config.unwrap_or_default(),
            })))
        }
        (T::ServiceFile, P::ServiceFile(f)) => {
            from_id.ok_or(WireError::MissingField("rumor.from_id"))?;
            Ok(Rumor::ServiceFile(Arc::new(ServiceFile {
                incarnation: f.incarnation.unwrap_or(0),
                service_group: required("service_file.service_group", f.service_group)?,
                filename: required("service_file.filename", f.filename)?,
                encrypted: f.encrypted.unwrap_or(false),
                body: f.body.unwrap_or_default(),
            })))
        }
        (T::Election, P::Election(e)) => {
            Ok(Rumor::Election(Arc::new(election(from_id, e, committed)?)))
        }
        (T::ElectionUpdate, P::Election(e)) => Ok(Rumor::ElectionUpdate(Arc::new(election(
            from_id, e, committed,
        )?))),
        (T::Departure, P::Departure(d)) => Ok(Rumor::Departure(Arc::new(Departure {
            member_id: required_id("departure.member_id", d.member_id)?,
        }))),
        _ => Err(WireError::TypeMismatch {
            declared,
            payload: name,
        }),
    }
}

fn required(field: &'static str, value: Option<String>) -> Result<String, WireError> {
    value.ok_or(WireError::MissingField(field))
}

fn required_id(field: &'static str, value: Option<String>) -> Result<MemberId, WireError> {
    let id = required(field, value)?;
    if id.is_empty() {
        return Err(WireError::EmptyId(field));
    }
    Ok(MemberId::new(id))
}

fn service(s: pb::Service, withdrawn: bool) -> Result<Service, WireError> {
    let member_id = required_id("service.member_id", s.member_id)?;
    let service_group = required("service.service_group", s.service_group)?;
    if !is_service_group(&service_group) {
        return Err(WireError::BadServiceGroup(service_group));
    }
    let pkg = required("service.pkg", s.pkg)?;
    let sys = s.sys.ok_or(WireError::MissingField("service.sys"))?;
    let sys_ip = sys.ip.clone().ok_or(WireError::MissingField("sys.ip"))?;
    let sys_hostname = sys
        .hostname
        .clone()
        .ok_or(WireError::MissingField("sys.hostname"))?;
    Ok(Service {
        incarnation: s.incarnation.unwrap_or(0),
        member_id,
        service_group,
        pkg,
        pkg_incarnation: s.pkg_incarnation.unwrap_or(0),
        initialized: s.initialized.unwrap_or(false),
        cfg: s.cfg.unwrap_or_default(),
        sys: SysInfo {
            ip: sys_ip,
            hostname: sys_hostname,
            gossip_ip: sys.gossip_ip().to_owned(),
            gossip_port: sys.gossip_port(),
            http_gateway_ip: sys.http_gateway_ip().to_owned(),
            http_gateway_port: sys.http_gateway_port(),
            ctl_gateway_ip: sys.ctl_gateway_ip().to_owned(),
            ctl_gateway_port: sys.ctl_gateway_port(),
        },
        withdrawn,
    })
}

fn election(
    from_id: Option<String>,
    e: pb::Election,
    committed: Option<Committed>,
) -> Result<Election, WireError> {
    let member_id = required_id("rumor.from_id", from_id)?;
    let status = match e.status {
        None => ElectionStatus::Running,
        Some(s) => match pb::election::Status::try_from(s) {
            Ok(pb::election::Status::Running) => ElectionStatus::Running,
            Ok(pb::election::Status::NoQuorum) => ElectionStatus::NoQuorum,
            Ok(pb::election::Status::Finished) => ElectionStatus::Finished,
            Err(_) => {
                return Err(WireError::UnknownEnum {
                    field: "election.status",
                    value: s,
                });
            }
        },
    };
    if e.votes.len() > MAX_VOTES {
        return Err(WireError::TooManyVotes {
            len: e.votes.len(),
            max: MAX_VOTES,
        });
    }
    Ok(Election {
        member_id,
        service_group: required("election.service_group", e.service_group)?,
        term: e.term.unwrap_or(0),
        suitability: e.suitability.unwrap_or(0),
        status,
        votes: e.votes.into_iter().map(MemberId::new).collect(),
        committed,
    })
}

/// Whether `s` is `[app_env#]service.group[@org]` (spec §7.1).
pub fn is_service_group(s: &str) -> bool {
    let rest = match s.split_once('#') {
        Some((app_env, rest)) => {
            if app_env.is_empty() || app_env.contains('@') {
                return false;
            }
            rest
        }
        None => s,
    };
    let (sg, org) = match rest.split_once('@') {
        Some((sg, org)) => (sg, Some(org)),
        None => (rest, None),
    };
    let part = |p: &str| !p.is_empty() && !p.contains(['#', '@', '.']);
    if org.is_some_and(|o| !part(o)) {
        return false;
    }
    match sg.split_once('.') {
        Some((service, group)) => part(service) && part(group),
        None => false,
    }
}

// ----- encoding ------------------------------------------------------------------------------

pub(crate) fn to_proto(rumor: &Rumor) -> pb::Rumor {
    use pb::rumor::{Payload as P, Type as T};
    let (ty, from_id, payload) = match rumor {
        Rumor::Member { from, membership } => (
            T::Member,
            from.as_str().to_owned(),
            P::Member(membership_to_proto(membership)),
        ),
        Rumor::Service(s) => (
            T::Service,
            s.member_id.as_str().to_owned(),
            P::Service(service_to_proto(s)),
        ),
        Rumor::ServiceConfig(c) => (
            T::ServiceConfig,
            BUTTERFLY_CLIENT.to_owned(),
            P::ServiceConfig(pb::ServiceConfig {
                service_group: Some(c.service_group.clone()),
                incarnation: Some(c.incarnation),
                encrypted: Some(c.encrypted),
                config: Some(c.config.clone()),
            }),
        ),
        Rumor::ServiceFile(f) => (
            T::ServiceFile,
            BUTTERFLY_CLIENT.to_owned(),
            P::ServiceFile(pb::ServiceFile {
                service_group: Some(f.service_group.clone()),
                incarnation: Some(f.incarnation),
                encrypted: Some(f.encrypted),
                filename: Some(f.filename.clone()),
                body: Some(f.body.clone()),
            }),
        ),
        Rumor::Election(e) => (
            T::Election,
            e.member_id.as_str().to_owned(),
            P::Election(election_to_proto(e)),
        ),
        Rumor::ElectionUpdate(e) => (
            T::ElectionUpdate,
            e.member_id.as_str().to_owned(),
            P::Election(election_to_proto(e)),
        ),
        Rumor::Departure(d) => (
            T::Departure,
            BUTTERFLY_CLIENT.to_owned(),
            P::Departure(pb::Departure {
                member_id: Some(d.member_id.as_str().to_owned()),
            }),
        ),
    };
    // Habitat sends no tags and ignores them; Warren marks a withdrawn Service rumor with one,
    // and an election with the committed electorate its candidate stood under.
    let tag = match rumor {
        Rumor::Service(s) if s.withdrawn => vec![WITHDRAWN_TAG.to_owned()],
        Rumor::Election(e) | Rumor::ElectionUpdate(e) => {
            e.committed.iter().map(Committed::to_tag).collect()
        }
        _ => Vec::new(),
    };
    pb::Rumor {
        r#type: ty as i32,
        tag,
        from_id: Some(from_id),
        payload: Some(payload),
    }
}

fn service_to_proto(s: &Service) -> pb::Service {
    let sys = &s.sys;
    pb::Service {
        member_id: Some(s.member_id.as_str().to_owned()),
        service_group: Some(s.service_group.clone()),
        incarnation: Some(s.incarnation),
        initialized: Some(s.initialized),
        pkg: Some(s.pkg.clone()),
        pkg_incarnation: Some(s.pkg_incarnation),
        cfg: Some(s.cfg.clone()),
        sys: Some(pb::SysInfo {
            ip: Some(sys.ip.clone()),
            hostname: Some(sys.hostname.clone()),
            gossip_ip: Some(sys.gossip_ip.clone()),
            gossip_port: Some(sys.gossip_port),
            http_gateway_ip: Some(sys.http_gateway_ip.clone()),
            http_gateway_port: Some(sys.http_gateway_port),
            ctl_gateway_ip: Some(sys.ctl_gateway_ip.clone()),
            ctl_gateway_port: Some(sys.ctl_gateway_port),
        }),
    }
}

fn election_to_proto(e: &Election) -> pb::Election {
    let status = match e.status {
        ElectionStatus::Running => pb::election::Status::Running,
        ElectionStatus::NoQuorum => pb::election::Status::NoQuorum,
        ElectionStatus::Finished => pb::election::Status::Finished,
    };
    pb::Election {
        member_id: Some(e.member_id.as_str().to_owned()),
        service_group: Some(e.service_group.clone()),
        term: Some(e.term),
        suitability: Some(e.suitability),
        status: Some(status as i32),
        votes: e.votes.iter().map(|v| v.as_str().to_owned()).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::is_service_group;

    #[test]
    fn service_groups() {
        for ok in [
            "redis.default",
            "redis.default@acme",
            "app.env#redis.default",
            "a-b.c_d@o",
        ] {
            assert!(is_service_group(ok), "{ok}");
        }
        for bad in [
            "", "redis", "redis.", ".default", "a.b.c", "a.b@", "a.b@o.x", "#a.b", "a@x#b.c",
            "a.b@o@p", "a#b#c.d",
        ] {
            assert!(!is_service_group(bad), "{bad}");
        }
    }

    #[test]
    #[allow(clippy::unwrap_used)]
    fn an_election_with_more_than_max_votes_is_refused() {
        use super::*;
        let election = |votes: usize| {
            Rumor::Election(Arc::new(Election {
                member_id: MemberId::new("c".repeat(32)),
                service_group: "redis.default".into(),
                term: 1,
                suitability: 1,
                status: ElectionStatus::Running,
                votes: (0..votes)
                    .map(|n| MemberId::new(format!("{n:032x}")))
                    .collect(),
                committed: Some(Committed {
                    term: 0,
                    voters: (0..MAX_COMMITTED)
                        .map(|n| MemberId::new(format!("{n:032x}")))
                        .collect(),
                }),
            }))
        };
        let full = encode_rumor(&election(MAX_VOTES), None);
        // The bound keeps a full list inside the 256 KiB frame a Warren member accepts.
        assert!(full.len() < 256 * 1024, "{} bytes", full.len());
        assert_eq!(decode_rumor(&full, None).unwrap(), election(MAX_VOTES));
        let over = encode_rumor(&election(MAX_VOTES + 1), None);
        assert_eq!(
            decode_rumor(&over, None),
            Err(WireError::TooManyVotes {
                len: MAX_VOTES + 1,
                max: MAX_VOTES
            })
        );
    }
}
