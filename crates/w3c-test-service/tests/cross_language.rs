//! Cross-language propagation: a Python OpenTelemetry SDK service (tests/interop/
//! propagation_service.py) calls `w3c-test-service`, which calls back into Python; a ferrotel
//! collector (the workspace's `ferrotel` binary, file exporter) receives one trace whose
//! parent/child links, tracestate and baggage are intact across every hop, the Rust spans
//! carrying `telemetry.sdk.language=rust`.

mod support;

use bytes::Bytes;
use ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_pdata::proto::common::v1::{KeyValue, any_value};
use ferrotel_pdata::{Payload, Request, Signal};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::{Service, free_port, repo_root, require_python};

/// The `ferrotel` binary beside ours: `cargo test --workspace` builds it for its own crate's
/// tests (CARGO_BIN_EXE_ferrotel exists only there).
fn ferrotel_bin() -> PathBuf {
    let ours = Path::new(env!("CARGO_BIN_EXE_w3c-test-service"));
    let bin = ours.with_file_name(format!("ferrotel{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} not built: run `cargo build -p ferrotel` (or `cargo test --workspace`)",
        bin.display()
    );
    bin
}

struct Collector(Child);

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_collector(dir: &Path, http: u16, grpc: u16, metrics: u16) -> Collector {
    let config = format!(
        r#"
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{grpc}
      http:
        endpoint: 127.0.0.1:{http}
exporters:
  file/traces:
    path: {d}/traces.bin
    format: proto
    flush_interval: 50ms
service:
  telemetry:
    metrics:
      address: 127.0.0.1:{metrics}
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [file/traces]
"#,
        d = dir.display()
    );
    let path = dir.join("collector.yaml");
    std::fs::write(&path, config).unwrap();
    let mut child = Command::new(ferrotel_bin())
        .arg("--config")
        .arg(&path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ferrotel");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains(" ready in ") {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(30))
        .expect("ferrotel collector not ready");
    Collector(child)
}

/// What a `format: proto` file exporter wrote: 4-byte big-endian length, then protobuf.
fn read_traces(path: &Path) -> Vec<ExportTraceServiceRequest> {
    let data = std::fs::read(path).unwrap_or_default();
    let mut out = Vec::new();
    let mut off = 0;
    while data.len() - off >= 4 {
        let len = u32::from_be_bytes(data[off..off + 4].try_into().unwrap()) as usize;
        if data.len() - off - 4 < len {
            break;
        }
        let body = Bytes::copy_from_slice(&data[off + 4..off + 4 + len]);
        if let Ok(Request::Traces(t)) = Payload::from_proto(Signal::Traces, body)
            .unwrap()
            .into_request()
        {
            out.push(t);
        }
        off += 4 + len;
    }
    out
}

fn attr<'a>(kvs: &'a [KeyValue], key: &str) -> Option<&'a any_value::Value> {
    kvs.iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

fn str_attr(kvs: &[KeyValue], key: &str) -> Option<String> {
    match attr(kvs, key) {
        Some(any_value::Value::StringValue(s)) => Some(s.clone()),
        _ => None,
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[derive(Debug, Clone)]
struct Got {
    name: String,
    kind: i32,
    span_id: String,
    parent: String,
    trace_state: String,
    language: Option<String>,
    service: Option<String>,
    environment: Option<String>,
    attrs: Vec<KeyValue>,
}

#[test]
fn python_rust_python_one_trace() {
    require_python("opentelemetry.exporter.otlp.proto.http");
    let dir = tempfile::tempdir().unwrap();
    let (http, grpc, metrics) = (free_port(), free_port(), free_port());
    let _collector = start_collector(dir.path(), http, grpc, metrics);
    let endpoint = format!("http://127.0.0.1:{http}");
    let mut service = Service::start(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.clone()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf".to_owned()),
        ("OTEL_SERVICE_NAME", "rust-propagation".to_owned()),
        (
            "OTEL_RESOURCE_ATTRIBUTES",
            "deployment.environment.name=test".to_owned(),
        ),
        ("OTEL_BSP_SCHEDULE_DELAY", "100".to_owned()),
    ]);
    let out = Command::new("python3")
        .arg(repo_root().join("tests/interop/propagation_service.py"))
        .arg(&service.url)
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "python failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: serde_json::Value = serde_json::from_str(stdout.trim().lines().last().unwrap())
        .unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(result["status"], 200, "{result}");
    let trace_id = result["trace_id"].as_str().unwrap().to_owned();
    // What the Python callback received from Rust.
    let received = &result["received"];
    assert!(
        received["traceparent"]
            .as_str()
            .unwrap()
            .contains(&trace_id),
        "{result}"
    );
    assert_eq!(
        received["tracestate"],
        "congo=t61rcWkgMzE,rojo@tenant=00f067aa0ba902b7"
    );
    assert_eq!(received["baggage"], "user=alice");
    // Rust flushes on SIGTERM and exits 0.
    let status = service.terminate();
    assert!(status.success(), "exit after SIGTERM: {status}");

    let path = dir.path().join("traces.bin");
    let start = Instant::now();
    let spans = loop {
        let mut spans = Vec::new();
        for req in read_traces(&path) {
            for rs in &req.resource_spans {
                let res = rs
                    .resource
                    .as_ref()
                    .map(|r| r.attributes.as_slice())
                    .unwrap_or(&[]);
                let language = str_attr(res, "telemetry.sdk.language");
                let service_name = str_attr(res, "service.name");
                for ss in &rs.scope_spans {
                    for s in &ss.spans {
                        if hex(&s.trace_id) != trace_id {
                            continue;
                        }
                        spans.push(Got {
                            name: s.name.clone(),
                            kind: s.kind,
                            span_id: hex(&s.span_id),
                            parent: hex(&s.parent_span_id),
                            trace_state: s.trace_state.clone(),
                            language: language.clone(),
                            service: service_name.clone(),
                            environment: str_attr(res, "deployment.environment.name"),
                            attrs: s.attributes.clone(),
                        });
                    }
                }
            }
        }
        if spans.len() >= 5 || start.elapsed() > Duration::from_secs(20) {
            break spans;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let find = |name: &str| -> Got {
        spans
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no span {name:?} in {spans:#?}"))
            .clone()
    };
    assert_eq!(spans.len(), 5, "{spans:#?}");
    let root = find("py root");
    let py_client = find("py client");
    let rust_server = find("POST /test");
    let rust_client = find("POST");
    let callback = find("py callback");
    // Parent/child links across every hop.
    assert_eq!(root.parent, "");
    assert_eq!(py_client.parent, root.span_id);
    assert_eq!(rust_server.parent, py_client.span_id);
    assert_eq!(rust_client.parent, rust_server.span_id);
    assert_eq!(callback.parent, rust_client.span_id);
    // SpanKind: SERVER = 2, CLIENT = 3.
    assert_eq!((rust_server.kind, rust_client.kind), (2, 3));
    // The tracestate travels unchanged.
    for s in [&root, &py_client, &rust_server, &rust_client, &callback] {
        assert_eq!(
            s.trace_state, "congo=t61rcWkgMzE,rojo@tenant=00f067aa0ba902b7",
            "{}",
            s.name
        );
    }
    // Baggage set in Python arrived back in Python through Rust.
    assert_eq!(
        str_attr(&callback.attrs, "received.baggage.user").as_deref(),
        Some("alice")
    );
    // The Rust spans: language, resource from the environment, HTTP attributes.
    for s in [&rust_server, &rust_client] {
        assert_eq!(s.language.as_deref(), Some("rust"), "{}", s.name);
        assert_eq!(s.service.as_deref(), Some("rust-propagation"));
        assert_eq!(s.environment.as_deref(), Some("test"));
        assert_eq!(
            str_attr(&s.attrs, "http.request.method").as_deref(),
            Some("POST")
        );
        assert!(
            matches!(
                attr(&s.attrs, "http.response.status_code"),
                Some(any_value::Value::IntValue(200))
            ),
            "{s:?}"
        );
    }
    assert_eq!(
        str_attr(&rust_server.attrs, "url.path").as_deref(),
        Some("/test")
    );
    assert!(
        str_attr(&rust_client.attrs, "url.full")
            .unwrap()
            .ends_with("/callback")
    );
    assert_eq!(root.language.as_deref(), Some("python"));
}
