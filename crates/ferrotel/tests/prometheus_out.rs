//! ferrotel and a real Prometheus (Debian's `prometheus`, started here on loopback with a
//! generated config and a temporary TSDB): Prometheus scrapes ferrotel's `prometheus`
//! exporter, ferrotel remote-writes into Prometheus, Prometheus remote-writes into ferrotel;
//! each time the values are read back through Prometheus's HTTP API and compared.
//!
//! Needs `/usr/bin/prometheus` (`apt-get install -y prometheus`; `.ci/run` installs it), or
//! `PROMETHEUS=/path/to/prometheus`.

mod interop_support;
mod prometheus_support;

use std::time::Duration;

use ferrotel_pdata::proto::common::v1::{KeyValue, any_value};
use ferrotel_pdata::proto::metrics::v1::*;
use interop_support::*;
use prometheus_support::*;
use prost::Message;

/// What Prometheus must hold for [`otlp_metrics`], queried by series selector.
fn check_sent_values(p: &Prometheus) {
    check_sent_values_le(p, "1")
}

/// The same, with the `le` of the bucket bounded by 1 as Prometheus spells it: "1" from the
/// text formats, "1.0" from protobuf (its parser writes bounds in OpenMetrics' float form).
fn check_sent_values_le(p: &Prometheus, le_one: &str) {
    let sel = r#"job="svc",instance="inst1""#;
    assert_eq!(
        p.value(&format!(r#"test_requests_total{{{sel},method="GET"}}"#)),
        42.0
    );
    assert_eq!(p.value(&format!("test_temperature_celsius{{{sel}}}")), 21.5);
    for (le, want) in [("0.1", 1.0), (le_one, 3.0), ("+Inf", 6.0)] {
        assert_eq!(
            p.value(&format!(
                r#"test_latency_seconds_bucket{{{sel},le="{le}"}}"#
            )),
            want,
            "le={le}"
        );
    }
    assert_eq!(p.value(&format!("test_latency_seconds_sum{{{sel}}}")), 7.5);
    assert_eq!(
        p.value(&format!("test_latency_seconds_count{{{sel}}}")),
        6.0
    );
    assert_eq!(
        p.value(&format!(r#"target_info{{{sel},host_name="h1"}}"#)),
        1.0
    );
}

#[test]
fn prometheus_scrapes_the_exporter() {
    let dir = tempfile::tempdir().unwrap();
    let (otlp, exporter, own, prom) = (free_port(), free_port(), free_port(), free_port());
    let _collector = Collector::start(
        "scraped",
        dir.path(),
        &format!(
            r#"
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:{otlp}
exporters:
  prometheus:
    endpoint: 127.0.0.1:{exporter}
    enable_open_metrics: true
service:
  telemetry:
    metrics:
      address: 127.0.0.1:{own}
  pipelines:
    metrics:
      receivers: [otlp]
      exporters: [prometheus]
"#
        ),
        Some(own),
    );
    let body = otlp_metrics(now_ns()).encode_to_vec();
    assert_eq!(post_otlp(otlp, "/v1/metrics", &body).unwrap(), 200);
    let p = Prometheus::start(
        dir.path(),
        &format!(
            r#"
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: ferrotel
    honor_labels: true
    static_configs:
      - targets: ["127.0.0.1:{exporter}"]
"#
        ),
        prom,
    );
    check_sent_values(&p);
    // The scrape itself succeeded (OpenMetrics negotiated and parsed).
    assert_eq!(p.value(r#"up{job="ferrotel"}"#), 1.0);
}

/// With native histograms enabled Prometheus prefers the protobuf exposition: every family
/// comes through it, and an exponential histogram arrives as a native histogram whose count
/// and sum are what was sent.
#[test]
fn prometheus_scrapes_native_histograms_over_protobuf() {
    let dir = tempfile::tempdir().unwrap();
    let (otlp, exporter, own, prom) = (free_port(), free_port(), free_port(), free_port());
    let _collector = Collector::start(
        "native",
        dir.path(),
        &format!(
            r#"
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:{otlp}
exporters:
  prometheus:
    endpoint: 127.0.0.1:{exporter}
    enable_open_metrics: true
service:
  telemetry:
    metrics:
      address: 127.0.0.1:{own}
  pipelines:
    metrics:
      receivers: [otlp]
      exporters: [prometheus]
"#
        ),
        Some(own),
    );
    let t = now_ns();
    let mut req = otlp_metrics(t);
    req.resource_metrics[0].scope_metrics[0]
        .metrics
        .push(Metric {
            name: "test.sizes".into(),
            description: "sizes".into(),
            unit: "By".into(),
            data: Some(metric::Data::ExponentialHistogram(ExponentialHistogram {
                data_points: vec![ExponentialHistogramDataPoint {
                    start_time_unix_nano: t - 60_000_000_000,
                    time_unix_nano: t,
                    count: 9,
                    sum: Some(30.5),
                    scale: 2,
                    zero_count: 2,
                    positive: Some(exponential_histogram_data_point::Buckets {
                        offset: -1,
                        bucket_counts: vec![1, 2, 3],
                    }),
                    negative: Some(exponential_histogram_data_point::Buckets {
                        offset: 0,
                        bucket_counts: vec![1],
                    }),
                    ..Default::default()
                }],
                aggregation_temporality: 2,
            })),
            ..Default::default()
        });
    assert_eq!(
        post_otlp(otlp, "/v1/metrics", &req.encode_to_vec()).unwrap(),
        200
    );
    let p = Prometheus::start_with(
        dir.path(),
        &format!(
            r#"
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: ferrotel
    honor_labels: true
    static_configs:
      - targets: ["127.0.0.1:{exporter}"]
"#
        ),
        prom,
        &["--enable-feature=native-histograms"],
    );
    let sel = r#"job="svc",instance="inst1""#;
    assert_eq!(
        p.value(&format!("histogram_count(test_sizes_bytes{{{sel}}})")),
        9.0
    );
    assert_eq!(
        p.value(&format!("histogram_sum(test_sizes_bytes{{{sel}}})")),
        30.5
    );
    // Native, not classic: no `_bucket` series were made of it.
    assert!(
        p.query(&format!("test_sizes_bytes_bucket{{{sel}}}"), None)
            .is_empty()
    );
    // Counters, gauges, classic histograms and target_info came through protobuf as well.
    check_sent_values_le(&p, "1.0");
    assert_eq!(p.value(r#"up{job="ferrotel"}"#), 1.0);
}

#[test]
fn ferrotel_remote_writes_into_prometheus() {
    let dir = tempfile::tempdir().unwrap();
    let (otlp, own, prom) = (free_port(), free_port(), free_port());
    let p = Prometheus::start(dir.path(), "global:\n  scrape_interval: 15s\n", prom);
    let _collector = Collector::start(
        "writer",
        dir.path(),
        &format!(
            r#"
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:{otlp}
exporters:
  prometheusremotewrite:
    endpoint: http://127.0.0.1:{prom}/api/v1/write
    external_labels:
      cluster: test
service:
  telemetry:
    metrics:
      address: 127.0.0.1:{own}
  pipelines:
    metrics:
      receivers: [otlp]
      exporters: [prometheusremotewrite]
"#
        ),
        Some(own),
    );
    let body = otlp_metrics(now_ns()).encode_to_vec();
    assert_eq!(post_otlp(otlp, "/v1/metrics", &body).unwrap(), 200);
    check_sent_values(&p);
    assert_eq!(p.value(r#"test_requests_total{cluster="test"}"#), 42.0);
}

#[test]
fn prometheus_remote_writes_into_ferrotel() {
    let dir = tempfile::tempdir().unwrap();
    let (receiver, own, prom) = (free_port(), free_port(), free_port());
    let d = dir.path().display();
    let collector = Collector::start(
        "receiver",
        dir.path(),
        &format!(
            r#"
receivers:
  prometheusremotewrite:
    endpoint: 127.0.0.1:{receiver}
exporters:
  file:
    path: {d}/metrics.bin
    format: proto
    flush_interval: 50ms
service:
  telemetry:
    metrics:
      address: 127.0.0.1:{own}
  pipelines:
    metrics:
      receivers: [prometheusremotewrite]
      exporters: [file]
"#
        ),
        Some(own),
    );
    // Prometheus scrapes itself and remote-writes everything, metadata every second.
    let p = Prometheus::start(
        dir.path(),
        &format!(
            r#"
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: prom
    static_configs:
      - targets: ["127.0.0.1:{prom}"]
remote_write:
  - url: http://127.0.0.1:{receiver}/api/v1/write
    queue_config:
      batch_send_deadline: 1s
    metadata_config:
      send_interval: 1s
"#
        ),
        prom,
    );
    let file = dir.path().join("metrics.bin");
    let name = "prometheus_http_requests_total";
    // Once metadata has arrived, the counter comes as a cumulative monotonic sum.
    let mut found: Option<(ResourceMetrics, NumberDataPoint)> = None;
    wait_for(
        Duration::from_secs(60),
        "a remote-written counter as a sum",
        || {
            for req in metrics(&file).into_iter().rev() {
                for rm in req.resource_metrics {
                    for sm in &rm.scope_metrics {
                        for m in &sm.metrics {
                            if let (true, Some(metric::Data::Sum(s))) = (m.name == name, &m.data) {
                                assert!(s.is_monotonic && s.aggregation_temporality == 2);
                                if let Some(dp) = s.data_points.last() {
                                    found = Some((rm.clone(), dp.clone()));
                                    return true;
                                }
                            }
                        }
                    }
                }
            }
            false
        },
    );
    let (rm, dp) = found.unwrap();
    let res = &rm.resource.as_ref().unwrap().attributes;
    let attr = |kvs: &[KeyValue], k: &str| {
        kvs.iter()
            .find(|a| a.key == k)
            .and_then(|a| match a.value.as_ref()?.value.as_ref()? {
                any_value::Value::StringValue(s) => Some(s.clone()),
                _ => None,
            })
    };
    assert_eq!(attr(res, "service.name").as_deref(), Some("prom"));
    assert_eq!(
        attr(res, "service.instance.id"),
        Some(format!("127.0.0.1:{prom}"))
    );
    // The same series at the same instant in Prometheus's own TSDB has the same value.
    let mut selector: Vec<String> = dp
        .attributes
        .iter()
        .map(|a| {
            format!(
                "{}=\"{}\"",
                a.key,
                attr(std::slice::from_ref(a), &a.key).unwrap_or_default()
            )
        })
        .collect();
    selector.push(r#"job="prom""#.into());
    let expr = format!("{name}{{{}}}", selector.join(","));
    let t = dp.time_unix_nano as f64 / 1e9;
    let got = p.query(&expr, Some(t));
    assert_eq!(got.len(), 1, "{expr} at {t}: {got:?}");
    let value = match dp.value {
        Some(number_data_point::Value::AsDouble(v)) => v,
        Some(number_data_point::Value::AsInt(v)) => v as f64,
        None => f64::NAN,
    };
    assert_eq!(got[0].1, value, "{expr} at {t}");
    // And a gauge without suffix games: `up` is 1 on both sides.
    let up = metrics(&file).iter().flat_map(|r| r.resource_metrics.iter()).flat_map(|rm| rm.scope_metrics.iter()).flat_map(|sm| sm.metrics.iter()).any(|m| {
        m.name == "up" && matches!(&m.data, Some(metric::Data::Gauge(g)) if g.data_points.iter().all(|p| p.value == Some(number_data_point::Value::AsDouble(1.0))))
    });
    assert!(up, "up arrived as a gauge of 1");
    assert!(
        collector.metric(
            "otelcol_receiver_accepted_metric_points_total",
            &[("receiver", "prometheusremotewrite")]
        ) > 0.0
    );
}

/// TLS on both of ferrotel's servers, with Prometheus as the client verifying the test CA:
/// it scrapes the exporter over https and remote-writes into the receiver over https; a
/// plain-HTTP scrape of the TLS endpoint fails.
#[test]
fn tls_on_the_exporter_and_the_remote_write_receiver() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = test_pki(dir.path());
    let (otlp, exporter, receiver, own, prom) = (
        free_port(),
        free_port(),
        free_port(),
        free_port(),
        free_port(),
    );
    let (ca, cert, key) = (ca.display(), cert.display(), key.display());
    let d = dir.path().display();
    let _collector = Collector::start(
        "tls",
        dir.path(),
        &format!(
            r#"
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:{otlp}
  prometheusremotewrite:
    endpoint: 127.0.0.1:{receiver}
    tls:
      cert_file: {cert}
      key_file: {key}
exporters:
  prometheus:
    endpoint: 127.0.0.1:{exporter}
    tls:
      cert_file: {cert}
      key_file: {key}
  file:
    path: {d}/metrics.bin
    format: proto
    flush_interval: 50ms
service:
  telemetry:
    metrics:
      address: 127.0.0.1:{own}
  pipelines:
    metrics/out:
      receivers: [otlp]
      exporters: [prometheus]
    metrics/in:
      receivers: [prometheusremotewrite]
      exporters: [file]
"#
        ),
        Some(own),
    );
    let body = otlp_metrics(now_ns()).encode_to_vec();
    assert_eq!(post_otlp(otlp, "/v1/metrics", &body).unwrap(), 200);
    let p = Prometheus::start(
        dir.path(),
        &format!(
            r#"
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: ferrotel
    honor_labels: true
    scheme: https
    tls_config:
      ca_file: {ca}
    static_configs:
      - targets: ["127.0.0.1:{exporter}"]
  - job_name: plain
    static_configs:
      - targets: ["127.0.0.1:{exporter}"]
remote_write:
  - url: https://127.0.0.1:{receiver}/api/v1/write
    tls_config:
      ca_file: {ca}
    queue_config:
      batch_send_deadline: 1s
"#
        ),
        prom,
    );
    check_sent_values(&p);
    assert_eq!(p.value(r#"up{job="ferrotel"}"#), 1.0);
    assert_eq!(p.value(r#"up{job="plain"}"#), 0.0);
    // What Prometheus scraped over https came back over https.
    let file = dir.path().join("metrics.bin");
    wait_for(
        Duration::from_secs(60),
        "test_temperature_celsius remote-written over TLS",
        || {
            metrics(&file)
                .iter()
                .flat_map(|r| &r.resource_metrics)
                .flat_map(|rm| &rm.scope_metrics)
                .flat_map(|sm| &sm.metrics)
                .any(|m| {
                    m.name == "test_temperature_celsius"
                        && matches!(&m.data, Some(metric::Data::Gauge(g))
                            if g.data_points.iter().any(|p| p.value == Some(number_data_point::Value::AsDouble(21.5))))
                })
        },
    );
}

/// The remote-write exporter's client settings against a Prometheus that serves https and
/// demands basic auth (`--web.config.file`): credentials from the `basicauth` extension or
/// from `headers`, the server verified with `tls::ca_file`, are accepted and queryable; no
/// credentials (401) and no trusted CA (TLS failure) are send failures. A bearer token from
/// `bearertokenauth` and custom `headers` are checked at a recording endpoint.
#[test]
fn remote_write_auth_tls_and_headers() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = test_pki(dir.path());
    let (otlp, own, prom) = (free_port(), free_port(), free_port());
    let (recorder, heads) = header_recorder();
    let p = Prometheus::start_secured(
        dir.path(),
        "global:\n  scrape_interval: 15s\n",
        prom,
        (&ca, &cert, &key),
    );
    let ca = ca.display();
    let url = format!("https://127.0.0.1:{prom}/api/v1/write");
    let collector = Collector::start(
        "rw-auth",
        dir.path(),
        &format!(
            r#"
extensions:
  basicauth/client:
    client_auth: {{username: {WEB_USER}, password: {WEB_PASSWORD}}}
  bearertokenauth/client:
    token: s3cr3t-token
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:{otlp}
exporters:
  prometheusremotewrite/extension:
    endpoint: {url}
    tls: {{ca_file: {ca}}}
    auth: {{authenticator: basicauth/client}}
    external_labels: {{via: extension}}
  prometheusremotewrite/headers:
    endpoint: {url}
    tls: {{ca_file: {ca}}}
    # base64("writer:ferrotel-pw")
    headers: {{Authorization: "Basic d3JpdGVyOmZlcnJvdGVsLXB3"}}
    external_labels: {{via: headers}}
  prometheusremotewrite/anonymous:
    endpoint: {url}
    tls: {{ca_file: {ca}}}
    external_labels: {{via: anonymous}}
    retry_on_failure: {{enabled: false}}
  prometheusremotewrite/untrusted:
    endpoint: {url}
    auth: {{authenticator: basicauth/client}}
    external_labels: {{via: untrusted}}
    retry_on_failure: {{enabled: false}}
  prometheusremotewrite/bearer:
    endpoint: http://127.0.0.1:{recorder}/api/v1/write
    auth: {{authenticator: bearertokenauth/client}}
    headers: {{X-Scope-OrgID: tenant-1}}
service:
  extensions: [basicauth/client, bearertokenauth/client]
  telemetry:
    metrics:
      address: 127.0.0.1:{own}
  pipelines:
    metrics:
      receivers: [otlp]
      exporters: [prometheusremotewrite/extension, prometheusremotewrite/headers,
                  prometheusremotewrite/anonymous, prometheusremotewrite/untrusted,
                  prometheusremotewrite/bearer]
"#
        ),
        Some(own),
    );
    let body = otlp_metrics(now_ns()).encode_to_vec();
    assert_eq!(post_otlp(otlp, "/v1/metrics", &body).unwrap(), 200);
    for via in ["extension", "headers"] {
        assert_eq!(
            p.value(&format!(r#"test_temperature_celsius{{via="{via}"}}"#)),
            21.5,
            "{via}"
        );
    }
    let failed = |exporter: &str| {
        collector.metric(
            "otelcol_exporter_send_failed_metric_points_total",
            &[("exporter", exporter)],
        )
    };
    wait_for(
        Duration::from_secs(30),
        "the two refused exporters to fail",
        || {
            failed("prometheusremotewrite/anonymous") > 0.0
                && failed("prometheusremotewrite/untrusted") > 0.0
        },
    );
    assert!(
        p.query(r#"{via=~"anonymous|untrusted"}"#, None).is_empty(),
        "nothing got in without credentials or trust"
    );
    let log = collector.log();
    assert!(log.contains("401"), "the 401 is logged: {log}");
    assert_eq!(failed("prometheusremotewrite/extension"), 0.0);
    // Bearer token and custom headers, with the protocol's own headers beside them.
    wait_for(Duration::from_secs(30), "a request at the recorder", || {
        !heads.lock().unwrap().is_empty()
    });
    let head = heads.lock().unwrap()[0].clone();
    for h in [
        "authorization: Bearer s3cr3t-token\r\n",
        "x-scope-orgid: tenant-1\r\n",
        "content-encoding: snappy\r\n",
        "x-prometheus-remote-write-version: 0.1.0\r\n",
    ] {
        assert!(head.contains(h), "{h:?} in {head}");
    }
}
