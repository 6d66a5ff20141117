//! End-to-end: the `ferrotel` binary on loopback ports.

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::*;
use ferrotel_otlp::client::{ClientSettings, OtlpClient, Protocol};

/// SIGTERM while requests are in flight: every span whose request was acknowledged is in the
/// file afterwards (the batch processor holds them when the signal arrives), and ferrotel exits 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_every_acknowledged_item() {
    let dir = tempfile::tempdir().unwrap();
    let (grpc, http) = (free_port(), free_port());
    let yaml = format!(
        r#"
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc}"}}
      http: {{endpoint: "127.0.0.1:{http}"}}
processors:
  batch: {{send_batch_size: 1000000, timeout: 60s}}
exporters:
  file: {{path: ./out/traces.jsonl}}
service:
  telemetry: {{metrics: {{level: none}}}}
  pipelines:
    traces: {{receivers: [otlp], processors: [batch], exporters: [file]}}
"#
    );
    let mut collector = Collector::start(dir.path(), &yaml);
    let acked = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut senders = Vec::new();
    for (w, protocol, endpoint) in [
        (0u64, Protocol::Grpc, format!("http://127.0.0.1:{grpc}")),
        (
            1,
            Protocol::HttpProtobuf,
            format!("http://127.0.0.1:{http}"),
        ),
        (2, Protocol::HttpJson, format!("http://127.0.0.1:{http}")),
    ] {
        let (acked, stop) = (acked.clone(), stop.clone());
        senders.push(tokio::spawn(async move {
            let client = OtlpClient::new(ClientSettings {
                protocol,
                endpoint,
                timeout: Duration::from_secs(5),
                ..Default::default()
            })
            .unwrap();
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let p = spans(&format!("w{w}"), i * 10, 10);
                if client.export(&p).await.is_ok() {
                    acked
                        .lock()
                        .unwrap()
                        .extend((i * 10..i * 10 + 10).map(|k| format!("w{w}-{k}")));
                }
                i += 1;
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    collector.signal("TERM");
    // Keep sending through the drain: late requests must be refused, never acknowledged and lost.
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    for s in senders {
        s.await.unwrap();
    }
    let code = tokio::task::spawn_blocking(move || collector.wait(Duration::from_secs(20)))
        .await
        .unwrap();
    assert_eq!(code, Some(0));
    let written: HashSet<String> = span_names_in(&dir.path().join("out/traces.jsonl"))
        .into_iter()
        .collect();
    let acked = acked.lock().unwrap();
    assert!(
        acked.len() >= 100,
        "the test must have had data in flight; acknowledged only {}",
        acked.len()
    );
    let missing: Vec<&String> = acked.iter().filter(|n| !written.contains(*n)).collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged spans missing, e.g. {:?}",
        missing.len(),
        acked.len(),
        &missing[..missing.len().min(5)]
    );
}

/// An exporter whose backend never answers fills its own queue; its sibling keeps getting data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocked_exporter_does_not_stall_its_sibling() {
    let dir = tempfile::tempdir().unwrap();
    // A backend that accepts connections and never answers.
    let blackhole = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hole = blackhole.local_addr().unwrap();
    let http = free_port();
    let yaml = format!(
        r#"
receivers:
  otlp:
    protocols:
      http: {{endpoint: "127.0.0.1:{http}"}}
exporters:
  otlp_http/stuck:
    endpoint: http://{hole}
    timeout: 30s
    sending_queue: {{num_consumers: 1, queue_size: 5}}
  file: {{path: ./out/traces.jsonl, flush_interval: 100ms}}
service:
  telemetry: {{metrics: {{level: none}}}}
  pipelines:
    traces: {{receivers: [otlp], exporters: [otlp_http/stuck, file]}}
"#
    );
    let _collector = Collector::start(dir.path(), &yaml);
    let client = OtlpClient::new(ClientSettings {
        protocol: Protocol::HttpProtobuf,
        endpoint: format!("http://127.0.0.1:{http}"),
        ..Default::default()
    })
    .unwrap();
    let started = std::time::Instant::now();
    for i in 0..50u64 {
        // Once the stuck exporter's queue is full the request is refused (retryable) — but the
        // file exporter has the data either way.
        let _ = tokio::time::timeout(Duration::from_secs(2), client.export(&spans("s", i, 1)))
            .await
            .expect("a request hung behind the stuck exporter");
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    let written = span_names_in(&dir.path().join("out/traces.jsonl"));
    assert_eq!(written.len(), 50, "the file exporter got every request");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    drop(blackhole);
}

/// The embedded default config validates and `components` lists what the registry has.
#[test]
fn cli_validate_and_components() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ferrotel"))
        .arg("components")
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "receivers:",
        "  otlp ",
        "batch",
        "otlp_grpc",
        "(alias: otlp)",
        "forward",
        "health_check",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ferrotel"))
        .arg("validate")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "receivers: {otlp: {protocols: {grpc: }}}\nexporters: {debug: }\nservice: {pipelines: {traces: {receivers: [otlp], exporters: [debug, otlp/2]}}}\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ferrotel"))
        .args(["validate", "--config"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "error: service::pipelines::traces::exporters[1]: exporter \"otlp/2\" is not defined"
        ),
        "{err}"
    );
}

/// `validate` lists every error in one run: one in the telemetry section does not hide those
/// of the components and pipelines (issue 23: it used to stop at the first section).
#[test]
fn cli_validate_lists_errors_of_every_section() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "receivers: {otlp: {protocols: {grpc: }}, nosuch: }\n\
         processors: {batch: {timeout: soon}}\n\
         exporters: {debug: }\n\
         service:\n  telemetry: {metrics: {level: loud}, logs: {level: chatty}}\n\
         \x20 pipelines: {traces: {receivers: [otlp], processors: [batch], exporters: [debug, otlp/2]}}\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ferrotel"))
        .args(["validate", "--config"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "error: service::telemetry::metrics::level: invalid level \"loud\"",
        "error: service::telemetry::logs::level: invalid level \"chatty\"",
        "error: receivers::nosuch: unknown receiver type \"nosuch\"",
        "error: processors::batch::timeout:",
        "error: service::pipelines::traces::exporters[1]: exporter \"otlp/2\" is not defined",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in:\n{err}");
    }
}

/// GET a loopback URL; (status, body).
async fn http_get(port: u16, path: &str) -> (u16, String) {
    let (status, _, body) = http_get_raw(port, path).await;
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// GET a loopback URL: (status, head, body bytes).
async fn http_get_raw(port: u16, path: &str) -> (u16, String, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(buf.len());
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let status = head[9..12].parse().unwrap();
    (status, head, buf[(end + 4).min(buf.len())..].to_vec())
}

/// Own metrics count what was accepted and sent; health_check says 200 while running; zpages
/// lists the pipelines and extensions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_metrics_health_check_and_zpages() {
    let dir = tempfile::tempdir().unwrap();
    let (grpc, metrics, health, zpages) = (free_port(), free_port(), free_port(), free_port());
    let yaml = format!(
        r#"
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc}"}}
exporters:
  file: {{path: ./out.jsonl}}
processors:
  batch:
extensions:
  health_check: {{endpoint: "127.0.0.1:{health}"}}
  zpages: {{endpoint: "127.0.0.1:{zpages}"}}
service:
  extensions: [health_check, zpages]
  telemetry: {{metrics: {{address: "127.0.0.1:{metrics}"}}}}
  pipelines:
    traces: {{receivers: [otlp], exporters: [file]}}
    logs/2: {{receivers: [otlp], processors: [batch], exporters: [file]}}
"#
    );
    let mut collector = Collector::start(dir.path(), &yaml);
    let (status, body) = http_get(health, "/").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"status\":\"Server available\""), "{body}");
    let (status, page) = http_get(zpages, "/debug/pipelinez").await;
    assert_eq!(status, 200, "{page}");
    for row in [
        "<tr><td>traces</td><td>otlp</td><td><em>none</em></td><td>file</td><td>Ready</td></tr>",
        "<tr><td>logs/2</td><td>otlp</td><td>batch</td><td>file</td><td>Ready</td></tr>",
    ] {
        assert!(page.contains(row), "missing {row:?} in:\n{page}");
    }
    let (_, page) = http_get(zpages, "/debug/extensionz").await;
    assert!(
        page.contains("<tr><td>zpages</td><td>Ready</td></tr>"),
        "{page}"
    );
    let (_, page) = http_get(zpages, "/debug/servicez").await;
    assert!(
        page.contains("<tr><td>Pipelines</td><td>2</td></tr>"),
        "{page}"
    );
    assert!(
        page.contains("<tr><td>processors</td><td>batch</td></tr>"),
        "{page}"
    );
    assert_eq!(http_get(zpages, "/debug/tracez").await.0, 200);
    assert_eq!(http_get(zpages, "/debug/featurez").await.0, 200);
    assert_eq!(http_get(zpages, "/debug/nosuch").await.0, 404);
    let client = OtlpClient::new(ClientSettings {
        protocol: Protocol::Grpc,
        endpoint: format!("http://127.0.0.1:{grpc}"),
        ..Default::default()
    })
    .unwrap();
    for i in 0..3 {
        client.export(&spans("m", i * 5, 5)).await.unwrap();
    }
    let (_, text) = http_get(metrics, "/metrics").await;
    for line in [
        "otelcol_receiver_accepted_spans_total{receiver=\"otlp\",transport=\"grpc\"} 15",
        "otelcol_exporter_sent_spans_total{exporter=\"file\"} 15",
        "# TYPE otelcol_process_memory_rss_bytes gauge",
        "# TYPE otelcol_process_cpu_seconds_total counter",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    collector.signal("TERM");
    assert_eq!(
        tokio::task::spawn_blocking(move || collector.wait(Duration::from_secs(20)))
            .await
            .unwrap(),
        Some(0)
    );
}

/// The pprof extension answers a CPU profile taken under load: a gzipped pprof Profile whose
/// samples name ferrotel's own functions; its index and heap pages answer too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pprof_cpu_profile_under_load() {
    use ferrotel_components::extensions::pprof::profile::Profile;
    use prost::Message;
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let (grpc, pprof) = (free_port(), free_port());
    let yaml = format!(
        r#"
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc}"}}
processors:
  batch:
exporters:
  file: {{path: ./out.jsonl}}
extensions:
  pprof: {{endpoint: "127.0.0.1:{pprof}"}}
service:
  extensions: [pprof]
  telemetry: {{metrics: {{level: none}}}}
  pipelines:
    traces: {{receivers: [otlp], processors: [batch], exporters: [file]}}
"#
    );
    let mut collector = Collector::start(dir.path(), &yaml);
    let (status, index) = http_get(pprof, "/debug/pprof/").await;
    assert_eq!(status, 200, "{index}");
    assert!(index.contains("profile?seconds=30"), "{index}");
    // Load until the profile is back: on a busy machine the collector may get little CPU in
    // any one second, and the profiler samples CPU time.
    let stop = Arc::new(AtomicBool::new(false));
    let stop_load = stop.clone();
    let load = tokio::spawn(async move {
        let client = OtlpClient::new(ClientSettings {
            protocol: Protocol::Grpc,
            endpoint: format!("http://127.0.0.1:{grpc}"),
            ..Default::default()
        })
        .unwrap();
        let mut i = 0;
        while !stop_load.load(Ordering::Relaxed) {
            client.export(&spans("p", i * 100, 100)).await.unwrap();
            i += 1;
        }
    });
    let body = http_get_bytes(pprof, "/debug/pprof/profile?seconds=2").await;
    stop.store(true, Ordering::Relaxed);
    load.await.unwrap();
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(&body[..])
        .read_to_end(&mut raw)
        .expect("a gzipped profile");
    let p = Profile::decode(&raw[..]).expect("a pprof Profile");
    assert!(!p.sample.is_empty(), "no samples");
    let names: Vec<&str> = p
        .function
        .iter()
        .map(|f| p.string_table[f.name as usize].as_str())
        .collect();
    assert!(
        names.iter().any(|n| n.contains("ferrotel")),
        "no ferrotel function among {names:?}"
    );
    assert_eq!(
        http_get(pprof, "/debug/pprof/profile?seconds=0").await.0,
        400
    );
    assert_eq!(http_get(pprof, "/debug/pprof/nosuch").await.0, 404);
    assert!(!http_get_bytes(pprof, "/debug/pprof/heap").await.is_empty());
    collector.signal("TERM");
    assert_eq!(
        tokio::task::spawn_blocking(move || collector.wait(Duration::from_secs(20)))
            .await
            .unwrap(),
        Some(0)
    );
}

/// GET a loopback URL's body as bytes (200 expected, not chunked).
async fn http_get_bytes(port: u16, path: &str) -> Vec<u8> {
    let (status, head, body) = http_get_raw(port, path).await;
    assert_eq!(status, 200, "{head}");
    assert!(
        !head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "{head}"
    );
    body
}

/// A memory_limiter over its limit refuses before the body is read: HTTP 503 + Retry-After,
/// gRPC Unavailable (retryable), nothing reaches the exporter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_limiter_refuses_before_reading_the_body() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let (grpc, http) = (free_port(), free_port());
    // 2 MiB with a 1 MiB spike allowance: any real process is over the soft limit.
    let yaml = format!(
        r#"
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc}"}}
      http: {{endpoint: "127.0.0.1:{http}"}}
processors:
  memory_limiter: {{check_interval: 100ms, limit_mib: 2, spike_limit_mib: 1}}
exporters:
  file: {{path: ./out.jsonl}}
service:
  telemetry: {{metrics: {{level: none}}}}
  pipelines:
    traces: {{receivers: [otlp], processors: [memory_limiter], exporters: [file]}}
"#
    );
    let _collector = Collector::start(dir.path(), &yaml);
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Announce a large body and send none of it: the answer must come anyway.
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", http))
        .await
        .unwrap();
    s.write_all(b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nContent-Length: 10000000\r\n\r\n").await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .expect("answered without reading the body")
        .unwrap();
    let head = String::from_utf8_lossy(&buf[..n]).to_lowercase();
    assert!(head.starts_with("http/1.1 503"), "{head}");
    assert!(head.contains("retry-after:"), "{head}");
    let client = OtlpClient::new(ClientSettings {
        protocol: Protocol::Grpc,
        endpoint: format!("http://127.0.0.1:{grpc}"),
        ..Default::default()
    })
    .unwrap();
    let e = client.export(&spans("x", 0, 1)).await.unwrap_err();
    assert!(e.retryable && e.status == "gRPC Unavailable", "{e:?}");
    assert!(span_names_in(&dir.path().join("out.jsonl")).is_empty());
}

/// An OTLP sink (gRPC or HTTP) keeping every request it gets.
struct OtlpSink {
    requests: Arc<std::sync::Mutex<Vec<(std::time::Instant, ferrotel_pdata::Request)>>>,
    _server: ferrotel_otlp::server::ServerHandle,
    port: u16,
}

struct SinkHandler(Arc<std::sync::Mutex<Vec<(std::time::Instant, ferrotel_pdata::Request)>>>);

impl ferrotel_otlp::server::ExportHandler for SinkHandler {
    fn export(
        &self,
        req: ferrotel_otlp::server::ExportRequest,
    ) -> futures::future::BoxFuture<
        'static,
        Result<ferrotel_otlp::server::PartialSuccess, ferrotel_otlp::server::ExportError>,
    > {
        let requests = self.0.clone();
        Box::pin(async move {
            let r = req.payload.into_request().unwrap();
            requests
                .lock()
                .unwrap()
                .push((std::time::Instant::now(), r));
            Ok(Default::default())
        })
    }
}

impl OtlpSink {
    async fn start(grpc: bool) -> OtlpSink {
        use ferrotel_otlp::server::{
            GrpcServerSettings, HttpServerSettings, start_grpc, start_http,
        };
        let requests = Arc::new(std::sync::Mutex::new(Vec::new()));
        let handler = Arc::new(SinkHandler(requests.clone()));
        let endpoint = "127.0.0.1:0".parse().unwrap();
        let server = if grpc {
            start_grpc(
                GrpcServerSettings {
                    endpoint,
                    ..Default::default()
                },
                handler,
            )
            .await
        } else {
            start_http(
                HttpServerSettings {
                    endpoint,
                    ..Default::default()
                },
                handler,
            )
            .await
        }
        .unwrap();
        OtlpSink {
            requests,
            port: server.local_addr().port(),
            _server: server,
        }
    }

    /// The metrics requests received, with when.
    fn metrics(
        &self,
    ) -> Vec<(
        std::time::Instant,
        ferrotel_pdata::proto::collector::metrics::v1::ExportMetricsServiceRequest,
    )> {
        let requests = self.requests.lock().unwrap();
        requests
            .iter()
            .filter_map(|(t, r)| match r {
                ferrotel_pdata::Request::Metrics(m) => Some((*t, m.clone())),
                _ => None,
            })
            .collect()
    }

    /// Bodies of the log records received, with their resource attributes.
    fn log_bodies(&self) -> Vec<(String, Vec<(String, String)>)> {
        let requests = self.requests.lock().unwrap();
        let mut out = Vec::new();
        for (_, r) in requests.iter() {
            let ferrotel_pdata::Request::Logs(l) = r else {
                continue;
            };
            for rl in &l.resource_logs {
                let attrs = resource_attrs(rl.resource.as_ref());
                for sl in &rl.scope_logs {
                    for rec in &sl.log_records {
                        out.push((any_string(rec.body.as_ref()), attrs.clone()));
                    }
                }
            }
        }
        out
    }
}

fn any_string(v: Option<&ferrotel_pdata::proto::common::v1::AnyValue>) -> String {
    use ferrotel_pdata::proto::common::v1::any_value::Value;
    match v.and_then(|v| v.value.as_ref()) {
        Some(Value::StringValue(s)) => s.clone(),
        other => format!("{other:?}"),
    }
}

fn resource_attrs(
    r: Option<&ferrotel_pdata::proto::resource::v1::Resource>,
) -> Vec<(String, String)> {
    r.map(|r| {
        r.attributes
            .iter()
            .map(|kv| (kv.key.clone(), any_string(kv.value.as_ref())))
            .collect()
    })
    .unwrap_or_default()
}

/// One pushed request's `otelcol_*` series as the pull endpoint writes them:
/// `name_total{k="v",...} value` for counters, `name{...} value` for gauges (process metrics
/// left out: they change between a push and a scrape).
fn as_prometheus_lines(
    req: &ferrotel_pdata::proto::collector::metrics::v1::ExportMetricsServiceRequest,
) -> Vec<String> {
    use ferrotel_pdata::proto::metrics::v1::{metric::Data, number_data_point::Value};
    let mut lines = Vec::new();
    for m in &req.resource_metrics[0].scope_metrics[0].metrics {
        if m.name.starts_with("otelcol_process_") {
            continue;
        }
        let (suffix, points) = match &m.data {
            Some(Data::Sum(s)) => {
                assert!(s.is_monotonic && s.aggregation_temporality == 2, "{m:?}");
                ("_total", &s.data_points)
            }
            Some(Data::Gauge(g)) => ("", &g.data_points),
            other => panic!("unexpected {other:?}"),
        };
        for p in points {
            let labels: Vec<String> = p
                .attributes
                .iter()
                .map(|kv| format!("{}=\"{}\"", kv.key, any_string(kv.value.as_ref())))
                .collect();
            let labels = if labels.is_empty() {
                String::new()
            } else {
                format!("{{{}}}", labels.join(","))
            };
            let Some(Value::AsInt(v)) = p.value else {
                panic!("{p:?}")
            };
            lines.push(format!("{}{suffix}{labels} {v}", m.name));
        }
    }
    lines
}

/// A periodic reader pushes over OTLP/gRPC every 500 ms the very series the pull endpoint
/// serves (names, labels, values), with the collector's resource; SIGTERM makes a last push.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_metrics_pushed_by_a_periodic_reader() {
    let sink = OtlpSink::start(true).await;
    let dir = tempfile::tempdir().unwrap();
    let (grpc, metrics) = (free_port(), free_port());
    let yaml = format!(
        r#"
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc}"}}
exporters:
  file: {{path: ./out.jsonl}}
service:
  telemetry:
    resource: {{deployment.environment: e2e, service.version: null}}
    metrics:
      readers:
        - pull: {{exporter: {{prometheus: {{host: 127.0.0.1, port: {metrics}}}}}}}
        - periodic:
            interval: 500
            exporter: {{otlp: {{protocol: grpc, endpoint: "http://127.0.0.1:{sink}"}}}}
  pipelines:
    traces: {{receivers: [otlp], exporters: [file]}}
"#,
        sink = sink.port
    );
    let mut collector = Collector::start(dir.path(), &yaml);
    let client = OtlpClient::new(ClientSettings {
        protocol: Protocol::Grpc,
        endpoint: format!("http://127.0.0.1:{grpc}"),
        ..Default::default()
    })
    .unwrap();
    for i in 0..3 {
        client.export(&spans("m", i * 5, 5)).await.unwrap();
    }
    let accepted = "otelcol_receiver_accepted_spans_total{receiver=\"otlp\",transport=\"grpc\"} 15";
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let lines = loop {
        let pushed = sink.metrics();
        if let Some((_, last)) = pushed.last() {
            let lines = as_prometheus_lines(last);
            if lines.iter().any(|l| l == accepted) {
                break lines;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no push with {accepted:?}; {} pushes so far",
            pushed.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let (_, text) = http_get(metrics, "/metrics").await;
    assert!(lines.len() > 10, "{lines:?}");
    for line in &lines {
        assert!(
            text.lines().any(|l| l == line),
            "pushed {line:?} is not served:\n{text}"
        );
    }
    assert!(lines.contains(&"otelcol_exporter_sent_spans_total{exporter=\"file\"} 15".to_string()));
    let served = text
        .lines()
        .filter(|l| l.starts_with("otelcol_") && !l.starts_with("otelcol_process_"))
        .count();
    assert_eq!(
        served,
        lines.len(),
        "every served series is pushed:\n{text}"
    );
    let (_, last) = sink.metrics().pop().unwrap();
    let attrs = resource_attrs(last.resource_metrics[0].resource.as_ref());
    let get = |k: &str| attrs.iter().find(|(a, _)| a == k).map(|(_, v)| v.clone());
    assert_eq!(get("service.name").as_deref(), Some("ferrotel"));
    assert_eq!(get("deployment.environment").as_deref(), Some("e2e"));
    assert_eq!(get("service.version"), None, "removed by a null");
    assert_eq!(get("service.instance.id").map(|s| s.len()), Some(36));
    // The last push happens at shutdown, with what came in just before.
    client.export(&spans("late", 100, 5)).await.unwrap();
    let signalled = std::time::Instant::now();
    collector.signal("TERM");
    assert_eq!(
        tokio::task::spawn_blocking(move || collector.wait(Duration::from_secs(20)))
            .await
            .unwrap(),
        Some(0)
    );
    let (at, last) = sink.metrics().pop().unwrap();
    assert!(at > signalled, "no push after SIGTERM");
    assert!(
        as_prometheus_lines(&last).contains(
            &"otelcol_receiver_accepted_spans_total{receiver=\"otlp\",transport=\"grpc\"} 20"
                .to_string()
        ),
        "{:?}",
        as_prometheus_lines(&last)
    );
}

/// A batch log processor sends ferrotel's own log records over OTLP/HTTP with the same
/// resource, the last ones at shutdown; a periodic reader whose interval never elapses still
/// pushes once, at shutdown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_logs_exported_by_a_batch_processor() {
    let sink = OtlpSink::start(false).await;
    let dir = tempfile::tempdir().unwrap();
    let grpc = free_port();
    let yaml = format!(
        r#"
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc}"}}
exporters:
  file: {{path: ./out.jsonl}}
service:
  telemetry:
    logs:
      processors:
        - batch:
            schedule_delay: 200
            exporter: {{otlp: {{protocol: http/protobuf, endpoint: "http://127.0.0.1:{sink}"}}}}
    metrics:
      readers:
        - periodic:
            interval: 600000
            exporter: {{otlp: {{protocol: http/protobuf, endpoint: "http://127.0.0.1:{sink}/v1/metrics"}}}}
  pipelines:
    traces: {{receivers: [otlp], exporters: [file]}}
"#,
        sink = sink.port
    );
    let mut collector = Collector::start(dir.path(), &yaml);
    let ready = "Everything is ready. Begin running and processing data.";
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !sink.log_bodies().iter().any(|(b, _)| b == ready) {
        assert!(
            std::time::Instant::now() < deadline,
            "{ready:?} never arrived: {:?}",
            sink.log_bodies()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, attrs) = sink
        .log_bodies()
        .into_iter()
        .find(|(b, _)| b == ready)
        .unwrap();
    assert!(
        attrs.contains(&("service.name".into(), "ferrotel".into())),
        "{attrs:?}"
    );
    assert!(sink.metrics().is_empty(), "pushed before its interval");
    collector.signal("TERM");
    assert_eq!(
        tokio::task::spawn_blocking(move || collector.wait(Duration::from_secs(20)))
            .await
            .unwrap(),
        Some(0)
    );
    let bodies: Vec<String> = sink.log_bodies().into_iter().map(|(b, _)| b).collect();
    assert!(
        bodies.iter().any(|b| b == "shutdown complete"),
        "the last records are flushed at shutdown: {bodies:?}"
    );
    let pushed = sink.metrics();
    assert_eq!(pushed.len(), 1, "one push, at shutdown");
    let metric_attrs = resource_attrs(pushed[0].1.resource_metrics[0].resource.as_ref());
    assert_eq!(
        metric_attrs, attrs,
        "logs and metrics carry the same resource"
    );
}

/// `resource_detection` in the binary: `env` (OTEL_RESOURCE_ATTRIBUTES set on the child) and
/// `system` values equal what the test reads from the machine itself; cloud detectors whose
/// metadata services never answer (pointed at a loopback black hole through the variables the
/// Go SDKs honour, so the test never reaches a real one) are skipped within `timeout`, and data
/// flows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_detection_env_system_and_silent_clouds() {
    let dir = tempfile::tempdir().unwrap();
    // Accepts connections and never answers: the worst case for a metadata probe.
    let blackhole = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hole = blackhole.local_addr().unwrap().to_string();
    let http = free_port();
    let yaml = format!(
        r#"
receivers:
  otlp:
    protocols:
      http: {{endpoint: "127.0.0.1:{http}"}}
processors:
  resourcedetection:
    detectors: [env, system, ec2, gcp]
    timeout: 1s
    system:
      hostname_sources: [os]
      resource_attributes:
        host.id: {{enabled: true}}
        host.arch: {{enabled: true}}
exporters:
  file: {{path: ./out/traces.jsonl, flush_interval: 100ms}}
service:
  telemetry: {{metrics: {{level: none}}}}
  pipelines:
    traces: {{receivers: [otlp], processors: [resourcedetection], exporters: [file]}}
"#
    );
    let ec2_endpoint = format!("http://{hole}");
    let collector = Collector::start_with_env(
        dir.path(),
        &yaml,
        &[
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "deployment.environment=e2e, team=obs%20team",
            ),
            ("AWS_EC2_METADATA_SERVICE_ENDPOINT", &ec2_endpoint),
            ("GCE_METADATA_HOST", &hole),
        ],
    );
    // The reader thread signals readiness before it appends the line.
    let mut log = String::new();
    for _ in 0..100 {
        log = collector.stderr.lock().unwrap().clone();
        if log.contains(" ready in ") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let ready_ms: u64 = log
        .split(" ready in ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no ready line:\n{log}"));
    assert!(
        (900..3000).contains(&ready_ms),
        "detection waits for the silent services up to timeout (1s), not past it: ready in {ready_ms} ms"
    );
    assert!(log.contains("detector skipped"), "{log}");

    let client = OtlpClient::new(ClientSettings {
        protocol: Protocol::HttpProtobuf,
        endpoint: format!("http://127.0.0.1:{http}"),
        ..Default::default()
    })
    .unwrap();
    client.export(&spans("rd", 0, 3)).await.unwrap();
    let path = dir.path().join("out/traces.jsonl");
    let mut text = String::new();
    for _ in 0..100 {
        text = std::fs::read_to_string(&path).unwrap_or_default();
        if !text.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let line = text.lines().next().expect("nothing exported");
    let ferrotel_pdata::Request::Traces(req) =
        ferrotel_pdata::json::decode(ferrotel_pdata::Signal::Traces, line.as_bytes()).unwrap()
    else {
        unreachable!()
    };
    let attrs: std::collections::HashMap<String, String> = req.resource_spans[0]
        .resource
        .as_ref()
        .unwrap()
        .attributes
        .iter()
        .map(|kv| {
            let v = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(ferrotel_pdata::proto::common::v1::any_value::Value::StringValue(s)) => {
                    s.clone()
                }
                other => format!("{other:?}"),
            };
            (kv.key.clone(), v)
        })
        .collect();
    // What the test reads itself: the kernel's host name, the machine id, the architecture.
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    assert_eq!(attrs["deployment.environment"], "e2e");
    assert_eq!(attrs["team"], "obs team");
    assert_eq!(attrs["host.name"], hostname.trim());
    assert_eq!(attrs["os.type"], "linux");
    assert_eq!(attrs["host.arch"], arch);
    if let Ok(id) = std::fs::read_to_string("/etc/machine-id") {
        assert_eq!(attrs["host.id"], id.trim());
    }
    assert!(!attrs.contains_key("cloud.provider"), "{attrs:?}");
    drop(blackhole);
}

/// The Go Collector's documented `transport: unix` receiver config, through the binary: curl
/// posts OTLP/JSON over the socket, the span reaches the file exporter, and the socket file is
/// gone after SIGTERM.
#[test]
fn otlp_receiver_on_unix_sockets() {
    let dir = tempfile::tempdir().unwrap();
    let (grpc_sock, http_sock) = (dir.path().join("grpc.sock"), dir.path().join("http.sock"));
    let yaml = format!(
        r#"
receivers:
  otlp:
    protocols:
      grpc: {{transport: unix, endpoint: "{}"}}
      http: {{transport: unix, endpoint: "{}"}}
exporters:
  file: {{path: ./out/traces.jsonl, flush_interval: 10ms}}
service:
  telemetry: {{metrics: {{level: none}}}}
  pipelines:
    traces: {{receivers: [otlp], exporters: [file]}}
"#,
        grpc_sock.display(),
        http_sock.display()
    );
    let mut collector = Collector::start(dir.path(), &yaml);
    assert!(grpc_sock.exists() && http_sock.exists());
    let body = r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"over-a-unix-socket","startTimeUnixNano":"1","endTimeUnixNano":"2"}]}]}]}"#;
    let out = std::process::Command::new("curl")
        .args([
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--unix-socket",
        ])
        .arg(&http_sock)
        .args(["-H", "content-type: application/json", "-d", body])
        .arg("http://localhost/v1/traces")
        .output()
        .expect("curl runs");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "200");
    let path = dir.path().join("out/traces.jsonl");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&path).is_ok_and(|t| t.contains("over-a-unix-socket")) {
        assert!(std::time::Instant::now() < deadline, "span not exported");
        std::thread::sleep(Duration::from_millis(20));
    }
    collector.signal("TERM");
    assert_eq!(collector.wait(Duration::from_secs(10)), Some(0));
    assert!(
        !grpc_sock.exists() && !http_sock.exists(),
        "sockets removed"
    );
}
