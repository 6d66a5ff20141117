//! The `prometheus` (pull) exporter's settings, each through the collector: a config, the
//! running binary fed over OTLP, HTTP scrapes of its endpoints, and the Debian `prometheus`
//! server scraping them with the values read back through its HTTP API.
//!
//! Needs `/usr/bin/prometheus` (`apt-get install -y prometheus`), or `PROMETHEUS=…`.

mod interop_support;
mod prometheus_support;

use std::time::{Duration, Instant};

use interop_support::*;
use prometheus_support::*;
use prost::Message;
use serde_json::Value;

const OPENMETRICS: &str =
    "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5";

/// One collector, one exporter per setting under test (`const_labels: {exporter: …}` keeps
/// their series apart in the one Prometheus that scrapes four of them):
/// - a: `namespace`, `const_labels`, `resource_to_telemetry_conversion`, `send_timestamps`,
///   `enable_open_metrics`;
/// - b: `translation_strategy: NoUTF8EscapingWithSuffixes` (UTF-8 names kept; Prometheus
///   2.42 does not ask for them and gets them escaped);
/// - c: `NoTranslation`; d: `UnderscoreEscapingWithoutSuffixes`;
/// - e: `metric_expiration: 3s`, OpenMetrics off.
#[test]
fn exporter_settings_seen_by_prometheus() {
    let dir = tempfile::tempdir().unwrap();
    let (otlp, own, prom) = (free_port(), free_port(), free_port());
    let [a, b, c, d, e] = [(); 5].map(|_| free_port());
    let _collector = Collector::start(
        "exporters",
        dir.path(),
        &format!(
            r#"
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:{otlp}
exporters:
  prometheus/a:
    endpoint: 127.0.0.1:{a}
    namespace: app
    const_labels: {{exporter: a, env: prod}}
    resource_to_telemetry_conversion: {{enabled: true}}
    send_timestamps: true
    enable_open_metrics: true
  prometheus/b:
    endpoint: 127.0.0.1:{b}
    const_labels: {{exporter: b}}
    resource_to_telemetry_conversion: {{enabled: true}}
    translation_strategy: NoUTF8EscapingWithSuffixes
  prometheus/c:
    endpoint: 127.0.0.1:{c}
    const_labels: {{exporter: c}}
    translation_strategy: NoTranslation
  prometheus/d:
    endpoint: 127.0.0.1:{d}
    const_labels: {{exporter: d}}
    translation_strategy: UnderscoreEscapingWithoutSuffixes
  prometheus/e:
    endpoint: 127.0.0.1:{e}
    const_labels: {{exporter: e}}
    metric_expiration: 3s
service:
  telemetry:
    metrics:
      address: 127.0.0.1:{own}
  pipelines:
    metrics:
      receivers: [otlp]
      exporters: [prometheus/a, prometheus/b, prometheus/c, prometheus/d, prometheus/e]
"#
        ),
        Some(own),
    );
    // Ten seconds old, so a sent timestamp is told from a scrape's.
    let t = now_ns() - 10_000_000_000;
    let mut req = otlp_metrics(t);
    // `http.method` rather than `method`: a label name the strategies treat differently.
    match &mut req.resource_metrics[0].scope_metrics[0].metrics[0].data {
        Some(ferrotel_pdata::proto::metrics::v1::metric::Data::Sum(s)) => {
            s.data_points[0].attributes = vec![kv("http.method", "GET")]
        }
        _ => unreachable!("otlp_metrics starts with the counter"),
    }
    let sent = Instant::now();
    assert_eq!(
        post_otlp(otlp, "/v1/metrics", &req.encode_to_vec()).unwrap(),
        200
    );
    let addr = |port: u16| format!("127.0.0.1:{port}").parse().unwrap();
    let scrape = |port: u16, accept: &str| get_accept(addr(port), "/metrics", accept).unwrap();

    // metric_expiration: e serves the series now and drops them 3 s after the last update.
    let (status, _, body) = scrape(e, "text/plain");
    assert_eq!(status, 200);
    assert!(body.contains("test_temperature_celsius{"), "{body}");
    // enable_open_metrics off: OpenMetrics asked for, the text format served.
    let (_, ct, body) = scrape(e, OPENMETRICS);
    assert!(
        ct.starts_with("text/plain; version=0.0.4") && !body.contains("# EOF"),
        "{ct}"
    );
    // enable_open_metrics on: `# UNIT`, `# EOF`, timestamps in seconds (send_timestamps).
    let (_, ct, body) = scrape(a, OPENMETRICS);
    assert!(ct.starts_with("application/openmetrics-text"), "{ct}");
    assert!(body.ends_with("# EOF\n"), "{body}");
    assert!(
        body.contains(
            "# TYPE app_test_latency_seconds histogram\n# UNIT app_test_latency_seconds seconds\n"
        ),
        "{body}"
    );
    let t_ms = t / 1_000_000;
    let om_time = format!(" 42 {}.{:03}\n", t_ms / 1000, t_ms % 1000);
    assert!(body.contains(&om_time), "{om_time:?} in {body}");
    // The UTF-8 strategy with a scraper that takes UTF-8 names: quoted, as they are.
    let (_, ct, body) = scrape(b, "text/plain;version=1.0.0;escaping=allow-utf-8");
    assert!(ct.contains("escaping=allow-utf-8"), "{ct}");
    assert!(
        body.contains(r#"{"test.requests_total",exporter="b","host.name"="h1","http.method"="GET",instance="inst1",job="svc",otel_scope_name="prom-test","service.instance.id"="inst1","service.name"="svc"} 42"#),
        "{body}"
    );

    let p = Prometheus::start(
        dir.path(),
        &format!(
            r#"
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: a
    honor_labels: true
    static_configs: [{{targets: ["127.0.0.1:{a}"]}}]
  - job_name: b
    honor_labels: true
    static_configs: [{{targets: ["127.0.0.1:{b}"]}}]
  - job_name: c
    honor_labels: true
    static_configs: [{{targets: ["127.0.0.1:{c}"]}}]
  - job_name: d
    honor_labels: true
    static_configs: [{{targets: ["127.0.0.1:{d}"]}}]
"#
        ),
        prom,
    );
    let sel = r#"job="svc",instance="inst1""#;
    // a: the namespace prefixes every name, const and resource labels are on every series.
    let a_sel = format!(
        r#"{sel},exporter="a",env="prod",host_name="h1",service_name="svc",service_instance_id="inst1""#
    );
    assert_eq!(
        p.value(&format!(
            r#"app_test_requests_total{{{a_sel},http_method="GET"}}"#
        )),
        42.0
    );
    assert_eq!(
        p.value(&format!("app_test_temperature_celsius{{{a_sel}}}")),
        21.5
    );
    assert_eq!(
        p.value(&format!(
            r#"app_test_latency_seconds_bucket{{{a_sel},le="1"}}"#
        )),
        3.0
    );
    assert_eq!(
        p.value(r#"target_info{exporter="a",env="prod",host_name="h1"}"#),
        1.0
    );
    // send_timestamps: Prometheus stored the point's own time; b's is the scrape's.
    let stored = p.value(r#"timestamp(app_test_temperature_celsius{exporter="a"})"#);
    assert!(
        (stored - t_ms as f64 / 1000.0).abs() < 1e-3,
        "{stored} vs {t_ms} ms"
    );
    let scraped = p.value(r#"timestamp(test_temperature_celsius{exporter="b"})"#);
    assert!(
        scraped > t_ms as f64 / 1000.0 + 5.0,
        "{scraped} vs {t_ms} ms"
    );
    // b: NoUTF8EscapingWithSuffixes, read by a scraper without UTF-8: escaped names, suffixes.
    assert_eq!(
        p.value(&format!(
            r#"test_requests_total{{{sel},exporter="b",http_method="GET",host_name="h1"}}"#
        )),
        42.0
    );
    // c: NoTranslation: no suffixes at all; d: escaped, no suffixes.
    for x in ["c", "d"] {
        assert_eq!(
            p.value(&format!(
                r#"test_requests{{{sel},exporter="{x}",http_method="GET"}}"#
            )),
            42.0
        );
        assert_eq!(
            p.value(&format!(r#"test_temperature{{{sel},exporter="{x}"}}"#)),
            21.5
        );
        assert_eq!(
            p.value(&format!(
                r#"test_latency_bucket{{{sel},exporter="{x}",le="+Inf"}}"#
            )),
            6.0
        );
        assert!(
            p.query(
                &format!(
                    r#"{{__name__=~"test_requests_total|test_temperature_celsius",exporter="{x}"}}"#
                ),
                None
            )
            .is_empty()
        );
    }
    for job in ["a", "b", "c", "d"] {
        assert_eq!(p.value(&format!(r#"up{{job="{job}"}}"#)), 1.0, "job {job}");
    }
    // OpenMetrics reached Prometheus from a only: the unit it read from `# UNIT`.
    assert_eq!(unit(&p, "a", "app_test_latency_seconds"), "seconds");
    assert_eq!(unit(&p, "d", "test_latency"), "");

    // metric_expiration: gone from e once 3 s passed without an update, still on a (5 m).
    wait_for(Duration::from_secs(20), "e to expire its series", || {
        !scrape(e, "text/plain")
            .2
            .contains("test_temperature_celsius{")
    });
    assert!(
        sent.elapsed() >= Duration::from_millis(2900),
        "expired early"
    );
    assert!(
        scrape(a, "text/plain")
            .2
            .contains("app_test_temperature_celsius{")
    );
}

/// The unit Prometheus holds for `metric` of job `job` (`/api/v1/targets/metadata`).
fn unit(p: &Prometheus, job: &str, metric: &str) -> String {
    let path = format!(
        "/api/v1/targets/metadata?metric={metric}&match_target={}",
        urlencode(&format!(r#"{{job="{job}"}}"#))
    );
    let mut got = String::new();
    wait_for(
        Duration::from_secs(20),
        &format!("metadata of {metric}"),
        || {
            let Some((200, body)) = p.api(&path) else {
                return false;
            };
            let v: Value = serde_json::from_str(&body).unwrap();
            match v["data"].as_array().and_then(|a| a.first()) {
                Some(m) => {
                    got = m["unit"].as_str().unwrap_or_default().to_owned();
                    true
                }
                None => false,
            }
        },
    );
    got
}
