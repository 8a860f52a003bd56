//! The HTTP gateway of a running supervisor with a service: Habitat's service routes and their
//! status codes, `/metrics` as Prometheus text, and bearer auth (`HAB_SUP_GATEWAY_AUTH_TOKEN`)
//! that guards everything but `/healthz` and `/readyz`.

use std::time::Duration;

use warren_e2e::{Sup, http_status, repo_path, state_dir, wait_until};

const TOKEN: &str = "s3cret-token";

#[test]
fn service_routes_metrics_and_auth() {
    let test = "gateway";
    let plan = repo_path("plans/hello");
    let plan = plan.to_string_lossy().into_owned();
    let sup = Sup::start_env(
        &state_dir(test, 0),
        &[],
        &[plan.as_str()],
        &[("HAB_SUP_GATEWAY_AUTH_TOKEN", TOKEN)],
    );
    let auth = format!("Authorization: Bearer {TOKEN}");
    let get = |path: &str| http_status(sup.http, path, &[auth.as_str()]);

    // Open routes, and ready once the service is up and healthy.
    assert_eq!(
        http_status(sup.http, "/healthz", &[]).map(|r| r.0),
        Some(200)
    );
    let ready = wait_until(Duration::from_secs(20), || {
        http_status(sup.http, "/readyz", &[]).map(|r| r.0) == Some(200)
    });
    assert!(ready, "{test}: /readyz never 200 with a healthy service");

    // Guarded routes: 401 without the token (or with a wrong one), 200 with it.
    for path in ["/census", "/butterfly", "/services", "/metrics"] {
        assert_eq!(
            http_status(sup.http, path, &[]).map(|r| r.0),
            Some(401),
            "{path}"
        );
        assert_eq!(
            http_status(sup.http, path, &["Authorization: Bearer wrong"]).map(|r| r.0),
            Some(401),
            "{path}"
        );
        assert_eq!(get(path).map(|r| r.0), Some(200), "{path}");
    }

    let (code, body) = get("/services").unwrap_or_default();
    assert_eq!(code, 200);
    let list: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    assert_eq!(list[0]["service_group"], "hello.default", "{body}");
    assert_eq!(list[0]["process"]["state"], "up", "{body}");
    assert_eq!(list[0]["pkg"]["name"], "hello", "{body}");

    let (code, body) = get("/services/hello/default").unwrap_or_default();
    assert_eq!(code, 200, "{body}");
    let (code, body) = get("/services/hello/default/config").unwrap_or_default();
    assert_eq!(code, 200);
    let cfg: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    assert_eq!(cfg["message"], "Hello from Warren", "{body}");
    let (code, body) = get("/services/hello/default/health").unwrap_or_default();
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("\"status\":\"OK\""), "{body}");
    assert_eq!(get("/services/nope/default").map(|r| r.0), Some(404));
    assert_eq!(get("/services/nope/default/health").map(|r| r.0), Some(404));
    assert_eq!(get("/services/hel%40lo/default").map(|r| r.0), Some(400));
    assert_eq!(get("/no/such/route").map(|r| r.0), Some(404));

    // /metrics: every sample line is `name{labels} value`, and the service's hooks are there.
    let (_, metrics) = get("/metrics").unwrap_or_default();
    let mut samples = 0;
    for line in metrics
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (name, value) = line.rsplit_once(' ').unwrap_or(("", ""));
        assert!(value.parse::<f64>().is_ok(), "not a sample: {line}");
        assert!(name.starts_with("warren_"), "not a Warren metric: {line}");
        samples += 1;
    }
    assert!(samples > 10, "{metrics}");
    assert!(
        metrics.contains("warren_hook_runs_total{service_group=\"hello.default\""),
        "{metrics}"
    );
    assert!(metrics.contains("warren_http_requests_total"), "{metrics}");
}
