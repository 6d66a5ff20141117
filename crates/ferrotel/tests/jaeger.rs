//! The `jaeger` receiver in the real `ferrotel` binary, fed by real Jaeger clients: the Jaeger
//! Python client (agent UDP, Thrift compact), the OpenTelemetry Python SDK's Jaeger Thrift
//! exporter (agent UDP and collector HTTP) and its Jaeger protobuf exporter (gRPC PostSpans).
//! Every span is checked field by field at a file exporter (ids, times, names, kinds,
//! attributes with their types, events, links, status, scope, resource). Bad UDP packets are
//! dropped while other senders go on being served.

mod interop_support;

use std::net::UdpSocket;
use std::process::Command;
use std::time::Duration;

use ferrotel_pdata::proto::common::v1::{InstrumentationScope, KeyValue, any_value::Value};
use ferrotel_pdata::proto::trace::v1::{Span, span, status};
use interop_support::*;
use serde_json::json;

const VENV_HINT: &str =
    "run .ci/run's pip steps (the Jaeger clients' venv, tests/interop/.venv-jaeger)";

struct Ports {
    compact: u16,
    binary: u16,
    http: u16,
    grpc: u16,
}

fn start(dir: &std::path::Path) -> (Collector, Ports) {
    let p = Ports {
        compact: free_port(),
        binary: free_port(),
        http: free_port(),
        grpc: free_port(),
    };
    let d = dir.display();
    let config = format!(
        r#"
receivers:
  jaeger:
    protocols:
      thrift_compact:
        endpoint: 127.0.0.1:{}
        max_packet_size: 65000
      thrift_binary:
        endpoint: 127.0.0.1:{}
      thrift_http:
        endpoint: 127.0.0.1:{}
      grpc:
        endpoint: 127.0.0.1:{}
exporters:
  file:
    path: {d}/traces.bin
    format: proto
    flush_interval: 50ms
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [jaeger]
      exporters: [file]
"#,
        p.compact, p.binary, p.http, p.grpc
    );
    (Collector::start("jaeger", dir, &config, None), p)
}

type Got = (Vec<KeyValue>, Option<InstrumentationScope>, Span);

fn all_spans(path: &std::path::Path) -> Vec<Got> {
    traces(path)
        .into_iter()
        .flat_map(|r| r.resource_spans)
        .flat_map(|rs| {
            let res = rs.resource.map(|r| r.attributes).unwrap_or_default();
            rs.scope_spans.into_iter().flat_map(move |ss| {
                let res = res.clone();
                ss.spans
                    .into_iter()
                    .map(move |s| (res.clone(), ss.scope.clone(), s))
            })
        })
        .collect()
}

/// An attribute as `[type, value]`, the script's notation.
fn typed(kv: &KeyValue) -> serde_json::Value {
    match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
        Some(Value::StringValue(s)) => json!(["str", s]),
        Some(Value::BoolValue(b)) => json!(["bool", b]),
        Some(Value::IntValue(i)) => json!(["int", i]),
        Some(Value::DoubleValue(d)) => json!(["double", d]),
        other => json!(["other", format!("{other:?}")]),
    }
}

fn typed_map(kvs: &[KeyValue]) -> serde_json::Value {
    serde_json::Value::Object(kvs.iter().map(|kv| (kv.key.clone(), typed(kv))).collect())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn send(client: &str, target: String) -> Vec<serde_json::Value> {
    let python = repo_root().join("tests/interop/.venv-jaeger/bin/python");
    let mut cmd = Command::new(python);
    cmd.args(["-W", "ignore::DeprecationWarning"])
        .arg(repo_root().join("tests/interop/send_jaeger.py"))
        .args(["--client", client, "--target", &target]);
    run_client(&mut cmd, VENV_HINT).as_array().unwrap().clone()
}

/// Every span the client sent arrives once, exactly as the translation rules say.
fn check(sent: &[serde_json::Value], path: &std::path::Path) {
    wait_for(
        Duration::from_secs(10),
        "spans in the file exporter",
        || all_spans(path).len() >= sent.len(),
    );
    let got = all_spans(path);
    assert_eq!(got.len(), sent.len());
    for want in sent {
        let name = want["name"].as_str().unwrap();
        let (res, scope, s) = got
            .iter()
            .find(|(_, _, s)| hex(&s.span_id) == want["span_id"].as_str().unwrap())
            .unwrap_or_else(|| panic!("span {name} not received"));
        assert_eq!(s.name, name);
        assert_eq!(
            hex(&s.trace_id),
            want["trace_id"].as_str().unwrap(),
            "{name}"
        );
        assert_eq!(
            hex(&s.parent_span_id),
            want["parent_id"].as_str().unwrap(),
            "{name}"
        );
        assert_eq!(
            span::SpanKind::try_from(s.kind).unwrap().as_str_name(),
            format!("SPAN_KIND_{}", want["kind"].as_str().unwrap()),
            "{name}"
        );
        assert_eq!(
            s.start_time_unix_nano,
            want["start"].as_u64().unwrap(),
            "{name}"
        );
        assert_eq!(
            s.end_time_unix_nano,
            want["end"].as_u64().unwrap(),
            "{name}"
        );
        assert_eq!(
            typed_map(&s.attributes),
            want["attributes"],
            "{name}: attributes"
        );
        let events: Vec<_> = s
            .events
            .iter()
            .map(|e| json!({"name": e.name, "time": e.time_unix_nano, "attributes": typed_map(&e.attributes)}))
            .collect();
        assert_eq!(json!(events), want["events"], "{name}: events");
        let links: Vec<_> = s
            .links
            .iter()
            .map(|l| {
                assert_eq!(l.attributes.len(), 1, "{name}: link attributes");
                assert_eq!(l.attributes[0].key, "opentracing.ref_type");
                json!({"trace_id": hex(&l.trace_id), "span_id": hex(&l.span_id), "ref_type": typed(&l.attributes[0])[1]})
            })
            .collect();
        assert_eq!(json!(links), want["links"], "{name}: links");
        let st = s.status.clone().unwrap_or_default();
        let code = status::StatusCode::try_from(st.code).unwrap().as_str_name();
        assert_eq!(
            json!([code.trim_start_matches("STATUS_CODE_"), st.message]),
            want["status"],
            "{name}: status"
        );
        for (k, v) in want["resource"].as_object().unwrap() {
            let kv = res.iter().find(|kv| &kv.key == k);
            assert_eq!(kv.map(typed), Some(v.clone()), "{name}: resource {k}");
        }
        let scope = scope.clone().unwrap_or_default();
        assert_eq!(
            json!([scope.name, scope.version]),
            want["scope"],
            "{name}: scope"
        );
    }
}

#[test]
fn python_jaeger_client_agent_udp_compact() {
    let dir = tempfile::tempdir().unwrap();
    let (c, p) = start(dir.path());
    let sent = send("jaeger-client", p.compact.to_string());
    assert_eq!(sent.len(), 4);
    check(&sent, &dir.path().join("traces.bin"));
    // The Jaeger client's process tags: hostname became host.name.
    let got = all_spans(&dir.path().join("traces.bin"));
    assert!(
        got[0].0.iter().any(|kv| kv.key == "host.name"),
        "{:?}",
        got[0].0
    );
    drop(c);
}

#[test]
fn python_otel_jaeger_thrift_exporter_agent_udp() {
    let dir = tempfile::tempdir().unwrap();
    let (_c, p) = start(dir.path());
    let sent = send("otel-agent", p.compact.to_string());
    check(&sent, &dir.path().join("traces.bin"));
}

#[test]
fn python_otel_jaeger_thrift_exporter_collector_http() {
    let dir = tempfile::tempdir().unwrap();
    let (_c, p) = start(dir.path());
    let sent = send(
        "otel-http",
        format!("http://127.0.0.1:{}/api/traces", p.http),
    );
    check(&sent, &dir.path().join("traces.bin"));
}

#[test]
fn python_otel_jaeger_proto_exporter_grpc() {
    let dir = tempfile::tempdir().unwrap();
    let (_c, p) = start(dir.path());
    let sent = send("otel-grpc", format!("127.0.0.1:{}", p.grpc));
    check(&sent, &dir.path().join("traces.bin"));
}

/// Packets over max_packet_size, garbage and truncated packets are dropped; the Jaeger client
/// sending next to them is served in full, and the collector keeps running.
#[test]
fn bad_udp_packets_dropped_other_senders_served() {
    let dir = tempfile::tempdir().unwrap();
    let (mut c, p) = start(dir.path());
    let bad = UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = ("127.0.0.1", p.compact);
    // Over max_packet_size (65000): the kernel delivers it whole to our larger buffer.
    bad.send_to(&vec![0x82; 65_001], to).unwrap();
    bad.send_to(b"\x82\x81\x01\x09emitBatch\x1c\xff\xff", to)
        .unwrap();
    bad.send_to(b"not thrift at all", to).unwrap();
    bad.send_to(&[0x82, 0x81, 0x01, 0x09], ("127.0.0.1", p.binary))
        .unwrap();
    let sent = send("jaeger-client", p.compact.to_string());
    check(&sent, &dir.path().join("traces.bin"));
    let _ = c.terminate();
    assert!(!c.log().contains("panicked"), "{}", c.log());
    assert!(c.log().contains("dropped a Jaeger packet"), "{}", c.log());
}
