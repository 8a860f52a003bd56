//! `Metrics::encode` checked by a strict Prometheus text format 0.0.4 parser written here: every
//! line parses, every sample belongs to a family declared by a `# TYPE` line before it (counters
//! by their `_total` name, histograms by `_bucket` / `_sum` / `_count`), histogram buckets are
//! cumulative and end at `+Inf` = `_count`; and recorded values move.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use warren_metrics::{
    Dropped, ElectionKind, ElectionState, GossipTotals, HookOutcome, MemberHealth, Metrics,
    RingTotals, RumorKind,
};

type Labels = Vec<(String, String)>;

/// Parsed exposition: (metric name, sorted labels) → value.
#[derive(Debug, Default)]
struct Exposition {
    samples: BTreeMap<(String, Labels), f64>,
    types: HashMap<String, String>,
}

impl Exposition {
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let mut l: Labels = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        l.sort();
        self.samples.get(&(name.to_owned(), l)).copied()
    }
}

fn valid_name(n: &str) -> bool {
    let mut chars = n.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn parse_value(v: &str) -> Result<f64, String> {
    match v {
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ => v.parse().map_err(|e| format!("bad value {v:?}: {e}")),
    }
}

/// Parses `{a="x",b="y"}` (already stripped of braces); returns labels and rest-free.
fn parse_labels(s: &str) -> Result<Labels, String> {
    let mut out = Vec::new();
    let mut rest = s;
    while !rest.is_empty() {
        let (name, after) = rest.split_once("=\"").ok_or(format!("bad labels {s:?}"))?;
        if !valid_name(name) || name.starts_with("__") {
            return Err(format!("bad label name {name:?}"));
        }
        let mut value = String::new();
        let mut chars = after.char_indices();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, 'n')) => value.push('\n'),
                    other => return Err(format!("bad escape {other:?} in {s:?}")),
                },
                '"' => {
                    end = Some(i);
                    break;
                }
                c => value.push(c),
            }
        }
        let end = end.ok_or(format!("unterminated label value in {s:?}"))?;
        out.push((name.to_owned(), value));
        rest = &after[end + 1..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
    out.sort();
    Ok(out)
}

fn family_of<'a>(name: &'a str, types: &HashMap<String, String>) -> Option<&'a str> {
    if types.contains_key(name) {
        return Some(name);
    }
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix)
            && types
                .get(base)
                .is_some_and(|t| t == "histogram" || t == "summary")
        {
            return Some(base);
        }
    }
    None
}

fn parse(text: &str) -> Result<Exposition, String> {
    let mut exp = Exposition::default();
    let mut helps = HashMap::new();
    let mut seen_samples: HashMap<String, ()> = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let at = |e: String| format!("line {}: {e}: {line:?}", n + 1);
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap_or_default();
            if !valid_name(name) || helps.insert(name.to_owned(), ()).is_some() {
                return Err(at("bad or repeated HELP".into()));
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, ty) = rest.split_once(' ').ok_or(at("bad TYPE".into()))?;
            if !valid_name(name)
                || !["counter", "gauge", "histogram", "summary", "untyped"].contains(&ty)
            {
                return Err(at("bad TYPE".into()));
            }
            if seen_samples.contains_key(name)
                || exp.types.insert(name.to_owned(), ty.to_owned()).is_some()
            {
                return Err(at("TYPE repeated or after its samples".into()));
            }
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let (head, value) = match line.find('{') {
            Some(open) => {
                let close = line.rfind('}').ok_or(at("no closing brace".into()))?;
                (
                    (
                        &line[..open],
                        parse_labels(&line[open + 1..close]).map_err(at)?,
                    ),
                    line[close + 1..].trim(),
                )
            }
            None => {
                let (name, value) = line.split_once(' ').ok_or(at("no value".into()))?;
                ((name, Vec::new()), value)
            }
        };
        let (name, labels) = head;
        if !valid_name(name) {
            return Err(at("bad metric name".into()));
        }
        let mut parts = value.split(' ');
        let v = parse_value(parts.next().unwrap_or_default()).map_err(at)?;
        if let Some(ts) = parts.next() {
            ts.parse::<i64>()
                .map_err(|e| at(format!("bad timestamp: {e}")))?;
        }
        let family =
            family_of(name, &exp.types).ok_or(at("sample of an undeclared family".into()))?;
        if exp.types[family] == "counter" && !name.ends_with("_total") {
            return Err(at("counter sample without _total".into()));
        }
        seen_samples.insert(family.to_owned(), ());
        if exp.samples.insert((name.to_owned(), labels), v).is_some() {
            return Err(at("duplicate series".into()));
        }
    }
    check_histograms(&exp)?;
    Ok(exp)
}

fn check_histograms(exp: &Exposition) -> Result<(), String> {
    for (family, ty) in &exp.types {
        if ty != "histogram" {
            continue;
        }
        let bucket = format!("{family}_bucket");
        // Group buckets by their labels without `le`.
        let mut series: BTreeMap<Labels, Vec<(f64, f64)>> = BTreeMap::new();
        for ((name, labels), v) in &exp.samples {
            if *name != bucket {
                continue;
            }
            let le = labels
                .iter()
                .find(|(k, _)| k == "le")
                .ok_or(format!("{bucket} without le"))?;
            let rest: Labels = labels.iter().filter(|(k, _)| k != "le").cloned().collect();
            series
                .entry(rest)
                .or_default()
                .push((parse_value(&le.1)?, *v));
        }
        for (labels, mut buckets) in series {
            buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
            if buckets.windows(2).any(|w| w[1].1 < w[0].1) {
                return Err(format!("{family}{labels:?}: buckets not cumulative"));
            }
            let last = buckets.last().ok_or("no buckets")?;
            let count = exp
                .samples
                .get(&(format!("{family}_count"), labels.clone()));
            if last.0 != f64::INFINITY || Some(&last.1) != count {
                return Err(format!("{family}{labels:?}: +Inf bucket is not _count"));
            }
        }
    }
    Ok(())
}

#[test]
fn the_parser_rejects_what_it_should() {
    assert!(
        parse("# TYPE a counter\na 1\n").is_err(),
        "counter without _total"
    );
    assert!(parse("b 1\n").is_err(), "undeclared family");
    assert!(
        parse("# TYPE c gauge\nc{x=\"1} 1\n").is_err(),
        "unterminated label"
    );
    assert!(
        parse("# TYPE d gauge\nd 1\n# TYPE d gauge\n").is_err(),
        "repeated TYPE"
    );
    assert!(parse("# TYPE e gauge\ne one\n").is_err(), "bad value");
    assert!(
        parse("# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n")
            .is_err(),
        "decreasing buckets"
    );
    assert!(parse("# TYPE f gauge\nf{a=\"x\",b=\"y\\\"z\"} 1.5 123\n").is_ok());
}

#[test]
fn a_fresh_registry_encodes_and_parses() {
    let m = Metrics::new();
    let text = m.encode();
    let exp = parse(&text).unwrap();
    assert_eq!(exp.get("warren_ring_probes_total", &[]), Some(0.0));
    assert_eq!(exp.types["warren_ring_probes_total"], "counter");
    // Labelled families appear with their first series.
    assert!(
        !exp.types.contains_key("warren_http_requests_total"),
        "{text}"
    );
}

#[test]
fn every_method_moves_its_series() {
    let m = Metrics::new();
    let clone = m.clone();
    clone.ring.members_set(MemberHealth::Alive, 3);
    clone.ring.members_set(MemberHealth::Suspect, 1);
    clone.ring.local_health_set(2);
    clone.ring.record(&RingTotals {
        probes: 12,
        ping_reqs: 2,
        suspicions_raised: 1,
        refutations: 4,
    });
    clone.gossip.rumor_sent(RumorKind::Service);
    clone.gossip.rumor_sent(RumorKind::Service);
    clone.gossip.rumor_received(RumorKind::ElectionUpdate);
    clone.gossip.bytes_sent(100);
    clone.gossip.bytes_received(70);
    clone.gossip.dropped(Dropped::Datagram, "decrypt");
    clone.gossip.record(&GossipTotals {
        bytes_sent: 150,
        datagrams_sent: 4,
        bytes_received: 10,
        dropped: vec![(Dropped::Rumor, "protobuf", 5)],
        rumors_sent: vec![(RumorKind::Service, 7), (RumorKind::Departure, 1)],
        rumors_received: vec![],
    });
    clone.elections.set(
        "redis.default",
        ElectionKind::Leader,
        Some(ElectionState::NoQuorum),
    );
    clone.elections.restarted();
    clone.elections.record_restarts(3);
    clone.services.restarted("redis.default");
    clone.hooks.observe(
        "redis.default",
        "health-check",
        HookOutcome::Exited(2),
        Duration::from_millis(30),
    );
    clone.hooks.observe(
        "redis.default",
        "init",
        HookOutcome::TimedOut,
        Duration::from_secs(400),
    );
    m.http.observe("/healthz", 200, Duration::from_micros(80));
    m.http.observe("/healthz", 200, Duration::from_millis(3));
    m.http
        .observe("/services/{svc}/{group}", 404, Duration::from_micros(200));

    let text = m.encode();
    let exp = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(
        exp.types["warren_http_request_duration_seconds"],
        "histogram"
    );
    assert_eq!(exp.types["warren_ring_members"], "gauge");
    assert_eq!(exp.types["warren_hook_runs_total"], "counter");
    let v = |name: &str, labels: &[(&str, &str)]| {
        exp.get(name, labels)
            .unwrap_or_else(|| panic!("{name}{labels:?} missing in\n{text}"))
    };
    assert_eq!(v("warren_ring_members", &[("health", "alive")]), 3.0);
    assert_eq!(v("warren_ring_members", &[("health", "suspect")]), 1.0);
    assert_eq!(v("warren_ring_local_health", &[]), 2.0);
    assert_eq!(exp.types["warren_ring_local_health"], "gauge");
    assert_eq!(v("warren_ring_probes_total", &[]), 12.0);
    assert_eq!(v("warren_ring_ping_reqs_total", &[]), 2.0);
    assert_eq!(v("warren_ring_suspicions_raised_total", &[]), 1.0);
    assert_eq!(v("warren_ring_refutations_total", &[]), 4.0);
    // Two increments, then a total of 7 from the shell: the counter follows the total.
    assert_eq!(
        v("warren_gossip_rumors_sent_total", &[("kind", "service")]),
        7.0
    );
    assert_eq!(
        v("warren_gossip_rumors_sent_total", &[("kind", "departure")]),
        1.0
    );
    assert_eq!(
        v(
            "warren_gossip_rumors_received_total",
            &[("kind", "election_update")]
        ),
        1.0
    );
    // Totals raise, never lower: 100 sent then a total of 150; 70 received then a total of 10.
    assert_eq!(v("warren_gossip_sent_bytes_total", &[]), 150.0);
    assert_eq!(v("warren_gossip_sent_datagrams_total", &[]), 4.0);
    assert_eq!(v("warren_gossip_received_bytes_total", &[]), 70.0);
    assert_eq!(
        v(
            "warren_gossip_dropped_total",
            &[("what", "datagram"), ("reason", "decrypt")]
        ),
        1.0
    );
    assert_eq!(
        v(
            "warren_gossip_dropped_total",
            &[("what", "rumor"), ("reason", "protobuf")]
        ),
        5.0
    );
    let eg = |status| {
        v(
            "warren_elections",
            &[
                ("service_group", "redis.default"),
                ("kind", "leader"),
                ("status", status),
            ],
        )
    };
    assert_eq!(
        (eg("running"), eg("no_quorum"), eg("finished")),
        (0.0, 1.0, 0.0)
    );
    assert_eq!(v("warren_election_restarts_total", &[]), 3.0);
    assert_eq!(
        v(
            "warren_service_restarts_total",
            &[("service_group", "redis.default")]
        ),
        1.0
    );
    assert_eq!(
        v(
            "warren_hook_runs_total",
            &[
                ("service_group", "redis.default"),
                ("hook", "health-check"),
                ("outcome", "2")
            ]
        ),
        1.0
    );
    assert_eq!(
        v(
            "warren_hook_runs_total",
            &[
                ("service_group", "redis.default"),
                ("hook", "init"),
                ("outcome", "timeout")
            ]
        ),
        1.0
    );
    assert_eq!(
        v("warren_hook_duration_seconds_count", &[("hook", "init")]),
        1.0
    );
    // 400 s is past the last bucket (300 s): only +Inf holds it.
    assert_eq!(
        v(
            "warren_hook_duration_seconds_bucket",
            &[("hook", "init"), ("le", "300.0")]
        ),
        0.0
    );
    assert_eq!(
        v(
            "warren_http_requests_total",
            &[("route", "/healthz"), ("status", "200")]
        ),
        2.0
    );
    assert_eq!(
        v(
            "warren_http_requests_total",
            &[("route", "/services/{svc}/{group}"), ("status", "404")]
        ),
        1.0
    );
    assert_eq!(
        v(
            "warren_http_request_duration_seconds_bucket",
            &[("route", "/healthz"), ("le", "0.0001")]
        ),
        1.0
    );
    assert_eq!(
        v(
            "warren_http_request_duration_seconds_count",
            &[("route", "/healthz")]
        ),
        2.0
    );
    let sum = v(
        "warren_http_request_duration_seconds_sum",
        &[("route", "/healthz")],
    );
    assert!((sum - 0.00308).abs() < 1e-9, "{sum}");
    assert!(!text.contains("# EOF"));
}
