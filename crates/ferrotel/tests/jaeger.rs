//! The `jaeger` receiver in the real `ferrotel` binary, fed by real Jaeger clients: the Jaeger
//! Python client (agent UDP, Thrift compact), the Node Jaeger client (agent UDP and collector
//! HTTP, Thrift binary), the OpenTelemetry Python SDK's Jaeger Thrift exporter (agent UDP and
//! collector HTTP) and its Jaeger protobuf exporter (gRPC PostSpans).
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

/// The Node Jaeger client (`jaeger-client` on npm) through `sender` (`udp` or `http`).
fn send_node(sender: &str, target: String) -> Vec<serde_json::Value> {
    let mut cmd = Command::new("node");
    cmd.arg(repo_root().join("tests/interop/send_jaeger_node.js"))
        .args([sender, &target]);
    run_client(&mut cmd, NPM_HINT).as_array().unwrap().clone()
}

/// A client's `["double", 3]` is the double 3.0 the attribute holds (JSON does not say which).
fn doubles_as_f64(v: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        J::Array(a) if a.len() == 2 && a[0] == "double" => json!(["double", a[1].as_f64()]),
        J::Array(a) => J::Array(a.iter().map(doubles_as_f64).collect()),
        J::Object(o) => J::Object(
            o.iter()
                .map(|(k, v)| (k.clone(), doubles_as_f64(v)))
                .collect(),
        ),
        other => other.clone(),
    }
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
            doubles_as_f64(&want["attributes"]),
            "{name}: attributes"
        );
        let events: Vec<_> = s
            .events
            .iter()
            .map(|e| json!({"name": e.name, "time": e.time_unix_nano, "attributes": typed_map(&e.attributes)}))
            .collect();
        assert_eq!(
            json!(events),
            doubles_as_f64(&want["events"]),
            "{name}: events"
        );
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

/// The Node client's UDP sender speaks Thrift binary (thriftrw has no compact protocol), so it
/// goes to the thrift_binary port, as to a Jaeger agent's 6832.
#[test]
fn node_jaeger_client_agent_udp_binary() {
    let dir = tempfile::tempdir().unwrap();
    let (_c, p) = start(dir.path());
    let sent = send_node("udp", p.binary.to_string());
    assert_eq!(sent.len(), 4);
    check(&sent, &dir.path().join("traces.bin"));
}

#[test]
fn node_jaeger_client_collector_http() {
    let dir = tempfile::tempdir().unwrap();
    let (_c, p) = start(dir.path());
    let sent = send_node("http", format!("http://127.0.0.1:{}/api/traces", p.http));
    assert_eq!(sent.len(), 4);
    check(&sent, &dir.path().join("traces.bin"));
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

/// A span as one JSON value for comparing two collectors' output: resource and span
/// attributes typed, events and links in order.
fn view((res, scope, s): &Got) -> serde_json::Value {
    let scope = scope.clone().unwrap_or_default();
    let st = s.status.clone().unwrap_or_default();
    json!({
        "trace_id": hex(&s.trace_id), "span_id": hex(&s.span_id),
        "parent_id": hex(&s.parent_span_id), "trace_state": s.trace_state,
        "name": s.name, "kind": s.kind, "start": s.start_time_unix_nano, "end": s.end_time_unix_nano,
        "attributes": typed_map(&s.attributes), "resource": typed_map(res),
        "events": s.events.iter().map(|e| json!({
            "name": e.name, "time": e.time_unix_nano, "attributes": typed_map(&e.attributes),
        })).collect::<Vec<_>>(),
        "links": s.links.iter().map(|l| json!({
            "trace_id": hex(&l.trace_id), "span_id": hex(&l.span_id),
            "trace_state": l.trace_state, "attributes": typed_map(&l.attributes),
        })).collect::<Vec<_>>(),
        "status": [st.code, st.message],
        "scope": [scope.name, scope.version],
        "dropped": [s.dropped_attributes_count, s.dropped_events_count, s.dropped_links_count],
    })
}

/// Jaeger → OTLP → Zipkin → OTLP: the Python Jaeger client sends to collector A (jaeger
/// receiver; a file exporter, and a zipkin exporter to B), B (zipkin receiver with
/// `parse_string_tags`) writes what arrives. Every span B wrote equals A's except for what
/// Zipkin cannot carry, which the test names and checks exactly:
/// - resource attributes outside the resource conventions that Zipkin tags are read back into
///   (`opencensus.exporterversion`, `ip`) come back as span attributes, with their types;
/// - an `error` attribute on a span whose status is not ERROR (Zipkin's `error` tag is the
///   status; the Python client's `error=False` tag).
#[test]
fn round_trip_jaeger_otlp_zipkin_otlp() {
    const MOVED_TO_SPAN: &[&str] = &["ip", "opencensus.exporterversion"];
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let zipkin_b = free_port();
    let (da, db) = (dir_a.path().display(), dir_b.path().display());
    let _b = Collector::start(
        "zipkin-b",
        dir_b.path(),
        &format!(
            r#"
receivers:
  zipkin:
    endpoint: 127.0.0.1:{zipkin_b}
    parse_string_tags: true
exporters:
  file:
    path: {db}/traces.bin
    format: proto
    flush_interval: 50ms
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [zipkin]
      exporters: [file]
"#
        ),
        None,
    );
    let compact = free_port();
    let _a = Collector::start(
        "jaeger-a",
        dir_a.path(),
        &format!(
            r#"
receivers:
  jaeger:
    protocols:
      thrift_compact:
        endpoint: 127.0.0.1:{compact}
exporters:
  file:
    path: {da}/traces.bin
    format: proto
    flush_interval: 50ms
  zipkin:
    endpoint: http://127.0.0.1:{zipkin_b}/api/v2/spans
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    traces/otlp:
      receivers: [jaeger]
      exporters: [file]
    traces/zipkin:
      receivers: [jaeger]
      exporters: [zipkin]
"#
        ),
        None,
    );
    let sent = send("jaeger-client", compact.to_string());
    // A itself is checked against the client, as the other tests do.
    check(&sent, &dir_a.path().join("traces.bin"));
    let path_b = dir_b.path().join("traces.bin");
    wait_for(Duration::from_secs(10), "spans at B", || {
        all_spans(&path_b).len() >= sent.len()
    });
    let (a, b) = (
        all_spans(&dir_a.path().join("traces.bin")),
        all_spans(&path_b),
    );
    assert_eq!(b.len(), a.len());
    for got_a in &a {
        let mut want = view(got_a);
        let got_b = b
            .iter()
            .find(|g| g.2.span_id == got_a.2.span_id)
            .unwrap_or_else(|| panic!("{} did not reach B", got_a.2.name));
        let got = view(got_b);
        // What Zipkin cannot carry: resource attributes outside Zipkin's resource conventions
        // move to the span.
        let res_b = got["resource"].as_object().unwrap();
        let res_a = want["resource"].as_object().unwrap().clone();
        let moved: Vec<&String> = res_a.keys().filter(|k| !res_b.contains_key(*k)).collect();
        assert_eq!(moved, MOVED_TO_SPAN, "{}", got_a.2.name);
        for k in moved {
            want["attributes"][k] = res_a[k].clone();
            want["resource"].as_object_mut().unwrap().remove(k);
        }
        // Zipkin's `error` tag is the status: an `error` attribute on a span whose status is not
        // ERROR has no place (the exporter drops it, as Go and the specification do).
        if want["status"][0] != 2 {
            want["attributes"].as_object_mut().unwrap().remove("error");
        }
        assert_eq!(got, want, "{}", got_a.2.name);
    }
}
