//! ferrotel and a real Prometheus (Debian's `prometheus`, started here on loopback with a
//! generated config and a temporary TSDB): Prometheus scrapes ferrotel's `prometheus`
//! exporter, ferrotel remote-writes into Prometheus, Prometheus remote-writes into ferrotel;
//! each time the values are read back through Prometheus's HTTP API and compared.
//!
//! Needs `/usr/bin/prometheus` (`apt-get install -y prometheus`; `.ci/run` installs it), or
//! `PROMETHEUS=/path/to/prometheus`.

mod interop_support;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ferrotel_pdata::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use ferrotel_pdata::proto::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use ferrotel_pdata::proto::metrics::v1::*;
use ferrotel_pdata::proto::resource::v1::Resource;
use interop_support::*;
use prost::Message;
use serde_json::Value;

/// A Prometheus server; killed when dropped.
struct Prometheus {
    child: Child,
    addr: SocketAddr,
}

impl Prometheus {
    fn start(dir: &Path, config: &str, port: u16) -> Prometheus {
        Self::start_with(dir, config, port, &[])
    }

    fn start_with(dir: &Path, config: &str, port: u16, flags: &[&str]) -> Prometheus {
        let bin = std::env::var_os("PROMETHEUS")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/usr/bin/prometheus"));
        assert!(
            bin.exists(),
            "{} is missing: apt-get install -y prometheus (or set PROMETHEUS)",
            bin.display()
        );
        let cfg = dir.join("prometheus.yml");
        std::fs::write(&cfg, config).unwrap();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
        let child = Command::new(bin)
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .arg("--web.enable-remote-write-receiver")
            .args(flags)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn prometheus");
        let p = Prometheus { child, addr };
        wait_for(Duration::from_secs(30), "Prometheus ready", || {
            get(addr, "/-/ready").is_some_and(|(s, _)| s == 200)
        });
        p
    }

    /// `/api/v1/query` → (labels, value) per series.
    fn query(&self, expr: &str, time: Option<f64>) -> Vec<(BTreeMap<String, String>, f64)> {
        let mut path = format!("/api/v1/query?query={}", urlencode(expr));
        if let Some(t) = time {
            path.push_str(&format!("&time={t:.3}"));
        }
        let (status, body) = get(self.addr, &path).expect("query Prometheus");
        assert_eq!(status, 200, "{expr}: {body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        v["data"]["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let labels = r["metric"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                    .collect();
                (labels, r["value"][1].as_str().unwrap().parse().unwrap())
            })
            .collect()
    }

    /// The single value of `expr`, waiting up to 30 s for it to exist.
    fn value(&self, expr: &str) -> f64 {
        let mut got = Vec::new();
        wait_for(
            Duration::from_secs(30),
            &format!("Prometheus to have {expr}"),
            || {
                got = self.query(expr, None);
                !got.is_empty()
            },
        );
        assert_eq!(got.len(), 1, "{expr}: {got:?}");
        got[0].1
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A plain HTTP/1.0 GET: (status, body).
fn get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let status = out.split_whitespace().nth(1)?.parse().ok()?;
    Some((
        status,
        out.split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default(),
    ))
}

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

/// A counter, a gauge and a histogram of service `svc`, instance `inst1`, at `t`.
fn otlp_metrics(t: u64) -> ExportMetricsServiceRequest {
    let start = t - 60_000_000_000;
    let number = |v: f64, attrs: Vec<KeyValue>| NumberDataPoint {
        attributes: attrs,
        start_time_unix_nano: start,
        time_unix_nano: t,
        value: Some(number_data_point::Value::AsDouble(v)),
        ..Default::default()
    };
    let metric = |name: &str, unit: &str, data| Metric {
        name: name.into(),
        description: format!("{name} for the test"),
        unit: unit.into(),
        data: Some(data),
        ..Default::default()
    };
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", "svc"),
                    kv("service.instance.id", "inst1"),
                    kv("host.name", "h1"),
                ],
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: "prom-test".into(),
                    ..Default::default()
                }),
                metrics: vec![
                    metric(
                        "test.requests",
                        "",
                        metric::Data::Sum(Sum {
                            data_points: vec![number(42.0, vec![kv("method", "GET")])],
                            aggregation_temporality: 2,
                            is_monotonic: true,
                        }),
                    ),
                    metric(
                        "test.temperature",
                        "Cel",
                        metric::Data::Gauge(Gauge {
                            data_points: vec![number(21.5, vec![])],
                        }),
                    ),
                    metric(
                        "test.latency",
                        "s",
                        metric::Data::Histogram(Histogram {
                            data_points: vec![HistogramDataPoint {
                                start_time_unix_nano: start,
                                time_unix_nano: t,
                                count: 6,
                                sum: Some(7.5),
                                bucket_counts: vec![1, 2, 3],
                                explicit_bounds: vec![0.1, 1.0],
                                ..Default::default()
                            }],
                            aggregation_temporality: 2,
                        }),
                    ),
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

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

/// A CA and a server certificate for 127.0.0.1, written to `dir`: (ca, cert, key).
fn test_pki(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "ferrotel test CA");
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let paths = (
        dir.join("ca.crt"),
        dir.join("server.crt"),
        dir.join("server.key"),
    );
    std::fs::write(&paths.0, ca.pem()).unwrap();
    std::fs::write(&paths.1, cert.pem()).unwrap();
    std::fs::write(&paths.2, key.serialize_pem()).unwrap();
    paths
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
