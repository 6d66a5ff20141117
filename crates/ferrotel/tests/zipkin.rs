//! The `zipkin` receiver and exporter in the real `ferrotel` binary: the Python OpenTelemetry
//! Zipkin exporters (JSON and protobuf) and py_zipkin (v1 JSON and Thrift, v2 JSON and protobuf) checked
//! field by field at a file exporter; a round
//! trip OTLP → zipkin exporter → zipkin receiver → OTLP; malformed and compressed bodies on
//! the wire (a bad body is a 400 naming what was wrong and the receiver keeps serving).

mod interop_support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::Duration;

use ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_pdata::proto::common::v1::{
    AnyValue, InstrumentationScope, KeyValue, any_value::Value,
};
use ferrotel_pdata::proto::resource::v1::Resource;
use ferrotel_pdata::proto::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};
use interop_support::*;
use serde_json::json;

fn config(
    dir: &std::path::Path,
    zipkin: u16,
    otlp: u16,
    zipkin_out: Option<(u16, &str)>,
) -> String {
    let d = dir.display();
    let mut c = format!(
        r#"
receivers:
  zipkin:
    endpoint: 127.0.0.1:{zipkin}
    parse_string_tags: true
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:{otlp}
exporters:
  file:
    path: {d}/traces.bin
    format: proto
    flush_interval: 50ms
"#
    );
    if let Some((port, format)) = zipkin_out {
        c.push_str(&format!(
            "  zipkin:\n    endpoint: http://127.0.0.1:{port}/api/v2/spans\n    format: {format}\n"
        ));
    }
    c.push_str(&format!("service:\n  telemetry:\n    metrics:\n      address: 127.0.0.1:{}\n  pipelines:\n    traces/in:\n      receivers: [zipkin]\n      exporters: [file]\n", free_port()));
    if zipkin_out.is_some() {
        c.push_str("    traces/out:\n      receivers: [otlp]\n      exporters: [zipkin]\n");
    }
    c
}

fn all_spans(path: &std::path::Path) -> Vec<(Vec<KeyValue>, Option<InstrumentationScope>, Span)> {
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

fn attr(kvs: &[KeyValue], key: &str) -> serde_json::Value {
    kvs.iter()
        .find(|kv| kv.key == key)
        .map_or(serde_json::Value::Null, |kv| json_of(&kv.value))
}

fn python(format: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (zp, op) = (free_port(), free_port());
    let _c = Collector::start(
        "zipkin",
        dir.path(),
        &config(dir.path(), zp, op, None),
        None,
    );
    // The protobuf exporter pins protobuf 3, so .ci/run gives it a venv of its own.
    let python = if format == "proto" {
        repo_root().join("tests/interop/.venv-zipkin-proto/bin/python")
    } else {
        "python3".into()
    };
    let mut cmd = Command::new(python);
    cmd.arg(repo_root().join("tests/interop/send_zipkin.py"))
        .args(["--format", format, "--endpoint"])
        .arg(format!("http://127.0.0.1:{zp}/api/v2/spans"));
    let sent = run_client(
        &mut cmd,
        "run .ci/run's pip steps (tests/interop/requirements.txt; the Zipkin protobuf exporter's venv tests/interop/.venv-zipkin-proto)",
    );
    let sent = sent.as_array().unwrap();
    let path = dir.path().join("traces.bin");
    wait_for(
        Duration::from_secs(10),
        "spans in the file exporter",
        || all_spans(&path).len() >= sent.len(),
    );
    let got = all_spans(&path);
    assert_eq!(got.len(), sent.len());
    for want in sent {
        let (res, scope, s) = got
            .iter()
            .find(|(_, _, s)| hex(&s.span_id) == want["span_id"].as_str().unwrap())
            .unwrap_or_else(|| panic!("span {} not received", want["name"]));
        let name = want["name"].as_str().unwrap();
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
        assert_eq!(s.name, name);
        // Zipkin has no internal kind: the SDK sends none, which reads as unspecified.
        let kind = match want["kind"].as_str().unwrap() {
            "INTERNAL" => "SPAN_KIND_UNSPECIFIED".to_string(),
            k => format!("SPAN_KIND_{k}"),
        };
        assert_eq!(
            span::SpanKind::try_from(s.kind).unwrap().as_str_name(),
            kind,
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
        // parse_string_tags gives the attributes their types back.
        for (k, v) in want["attributes"].as_object().unwrap() {
            assert_eq!(
                norm(&attr(&s.attributes, k)),
                norm(v),
                "{name}: attribute {k}"
            );
        }
        assert_eq!(
            s.attributes.len(),
            want["attributes"].as_object().unwrap().len(),
            "{name}: {:?}",
            s.attributes
        );
        let events = want["events"].as_array().unwrap();
        assert_eq!(s.events.len(), events.len(), "{name}");
        for (e, w) in s.events.iter().zip(events) {
            assert_eq!(e.name, w["name"].as_str().unwrap());
            assert_eq!(e.time_unix_nano, w["time"].as_u64().unwrap());
            for (k, v) in w["attributes"].as_object().unwrap() {
                assert_eq!(
                    norm(&attr(&e.attributes, k)),
                    norm(v),
                    "{name}: event attribute {k}"
                );
            }
            assert_eq!(
                e.attributes.len(),
                w["attributes"].as_object().unwrap().len()
            );
        }
        let st = s.status.clone().unwrap_or_default();
        assert_eq!(
            (
                format!(
                    "{:?}",
                    ferrotel_pdata::proto::trace::v1::status::StatusCode::try_from(st.code)
                        .unwrap()
                )
                .to_uppercase(),
                st.message.as_str()
            ),
            (
                want["status"].as_str().unwrap().to_string(),
                want["status_message"].as_str().unwrap()
            ),
            "{name}"
        );
        assert_eq!(attr(res, "service.name"), want["service"], "{name}");
        assert_eq!(attr(res, "deployment.environment"), json!("test"));
        assert_eq!(attr(res, "telemetry.sdk.language"), json!("python"));
        let scope = scope.clone().unwrap();
        assert_eq!(json!([scope.name, scope.version]), want["scope"], "{name}");
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn python_zipkin_json_exporter() {
    python("json");
}

#[test]
fn python_zipkin_proto_exporter() {
    python("proto");
}

/// py_zipkin (Yelp's client, the one Python services instrumented before OpenTelemetry use)
/// in one of its encodings, posted to the v1 or v2 endpoint as its users do.
fn py_zipkin(encoding: &str, path: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (zp, op) = (free_port(), free_port());
    let _c = Collector::start(
        "zipkin",
        dir.path(),
        &config(dir.path(), zp, op, None),
        None,
    );
    // py_zipkin 1.2.7 dropped Thrift: .ci/run gives 1.2.5 a venv of its own.
    let (python, hint) = if encoding == "V1_THRIFT" {
        (
            repo_root().join("tests/interop/.venv-py-zipkin-thrift/bin/python"),
            "run .ci/run's pip step for py_zipkin 1.2.5 (venv tests/interop/.venv-py-zipkin-thrift)",
        )
    } else {
        (
            "python3".into(),
            "run .ci/run's pip step (tests/interop/requirements.txt)",
        )
    };
    let mut cmd = Command::new(python);
    cmd.arg(repo_root().join("tests/interop/send_py_zipkin.py"))
        .args(["--encoding", encoding, "--url"])
        .arg(format!("http://127.0.0.1:{zp}{path}"));
    let sent = run_client(&mut cmd, hint);
    let sent = sent.as_array().unwrap();
    let file = dir.path().join("traces.bin");
    wait_for(
        Duration::from_secs(10),
        "spans in the file exporter",
        || all_spans(&file).len() >= sent.len(),
    );
    let got = all_spans(&file);
    assert_eq!(got.len(), sent.len(), "{encoding}: {got:?}");
    for want in sent {
        let name = want["name"].as_str().unwrap();
        let (res, _, s) = got
            .iter()
            .find(|(_, _, s)| hex(&s.span_id) == want["span_id"].as_str().unwrap())
            .unwrap_or_else(|| panic!("{encoding}: span {name} not received"));
        // 64-bit trace ids are left-padded to 128 bits.
        assert_eq!(
            hex(&s.trace_id),
            format!("{:0>32}", want["trace_id"].as_str().unwrap()),
            "{encoding} {name}"
        );
        assert_eq!(
            hex(&s.parent_span_id),
            want["parent_id"].as_str().unwrap_or(""),
            "{encoding} {name}"
        );
        assert_eq!(s.name, name, "{encoding}");
        let kind = match want["kind"].as_str().unwrap() {
            // Zipkin's local spans carry no kind.
            "LOCAL" => "SPAN_KIND_UNSPECIFIED".to_string(),
            k => format!("SPAN_KIND_{k}"),
        };
        assert_eq!(
            span::SpanKind::try_from(s.kind).unwrap().as_str_name(),
            kind,
            "{encoding} {name}"
        );
        match (want["start_us"].as_u64(), want["duration_us"].as_u64()) {
            (Some(start), Some(duration)) => {
                assert_eq!(s.start_time_unix_nano, start * 1000, "{encoding} {name}");
                assert_eq!(
                    s.end_time_unix_nano,
                    (start + duration) * 1000,
                    "{encoding} {name}"
                );
            }
            // Stamped by py_zipkin's clock: only sane.
            _ => assert!(
                s.start_time_unix_nano > 1_600_000_000_000_000_000
                    && s.end_time_unix_nano >= s.start_time_unix_nano,
                "{encoding} {name}: {} .. {}",
                s.start_time_unix_nano,
                s.end_time_unix_nano
            ),
        }
        for (k, v) in want["tags"].as_object().unwrap() {
            assert_eq!(attr(&s.attributes, k), *v, "{encoding} {name}: tag {k}");
        }
        // Besides the tags, only the local endpoint's address.
        for a in &s.attributes {
            assert!(
                want["tags"].get(&a.key).is_some() || a.key == "network.local.address",
                "{encoding} {name}: unexpected attribute {a:?}"
            );
        }
        // py_zipkin's v1 local spans carry no annotation, so no endpoint: no service, no address.
        let endpoint = !(encoding.starts_with("V1_") && want["kind"] == "LOCAL");
        let (address, service) = if endpoint {
            (json!("127.0.0.1"), want["service"].clone())
        } else {
            (serde_json::Value::Null, serde_json::Value::Null)
        };
        assert_eq!(
            attr(&s.attributes, "network.local.address"),
            address,
            "{encoding} {name}"
        );
        let notes = want["annotations"].as_object().unwrap();
        assert_eq!(
            s.events.len(),
            notes.len(),
            "{encoding} {name}: {:?}",
            s.events
        );
        for e in &s.events {
            assert_eq!(
                Some(e.time_unix_nano),
                notes[&e.name].as_u64().map(|us| us * 1000),
                "{encoding} {name}: event {}",
                e.name
            );
        }
        assert_eq!(attr(res, "service.name"), service, "{encoding} {name}");
    }
}

#[test]
fn py_zipkin_v1_json() {
    py_zipkin("V1_JSON", "/api/v1/spans");
}

#[test]
fn py_zipkin_v1_thrift() {
    py_zipkin("V1_THRIFT", "/api/v1/spans");
}

#[test]
fn py_zipkin_v2_json() {
    py_zipkin("V2_JSON", "/api/v2/spans");
}

#[test]
fn py_zipkin_v2_proto3() {
    py_zipkin("V2_PROTO3", "/api/v2/spans");
}

fn kv(k: &str, v: Value) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

/// Everything Zipkin can carry survives OTLP → zipkin exporter → zipkin receiver → OTLP.
fn round_trip(format: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (zp, op) = (free_port(), free_port());
    let _c = Collector::start(
        "zipkin",
        dir.path(),
        &config(dir.path(), zp, op, Some((zp, format))),
        None,
    );
    let t0 = 1_700_000_000_000_000_000u64;
    let spans = vec![
        Span {
            trace_id: vec![0xab; 16].into(),
            span_id: vec![1, 2, 3, 4, 5, 6, 7, 8].into(),
            trace_state: "k=v".into(),
            name: "server".into(),
            kind: span::SpanKind::Server as i32,
            start_time_unix_nano: t0,
            end_time_unix_nano: t0 + 5_000_000,
            attributes: vec![
                kv("http.method", Value::StringValue("GET".into())),
                kv("http.status_code", Value::IntValue(500)),
                kv("ratio", Value::DoubleValue(0.5)),
                kv("ok", Value::BoolValue(false)),
                kv(
                    "network.local.address",
                    Value::StringValue("10.1.1.1".into()),
                ),
                kv("network.local.port", Value::IntValue(8080)),
            ],
            dropped_attributes_count: 2,
            events: vec![
                span::Event {
                    time_unix_nano: t0 + 1000,
                    name: "plain".into(),
                    ..Default::default()
                },
                span::Event {
                    time_unix_nano: t0 + 2000,
                    name: "with attrs".into(),
                    attributes: vec![
                        kv("n", Value::IntValue(7)),
                        kv("s", Value::StringValue("x".into())),
                    ],
                    ..Default::default()
                },
            ],
            dropped_events_count: 3,
            links: vec![span::Link {
                trace_id: vec![0xcd; 16].into(),
                span_id: vec![9; 8].into(),
                trace_state: "l=1".into(),
                attributes: vec![kv("link.kind", Value::StringValue("batch".into()))],
                dropped_attributes_count: 1,
                ..Default::default()
            }],
            status: Some(Status {
                code: 2,
                message: "boom".into(),
            }),
            ..Default::default()
        },
        Span {
            trace_id: vec![0xab; 16].into(),
            span_id: vec![2; 8].into(),
            parent_span_id: vec![1, 2, 3, 4, 5, 6, 7, 8].into(),
            name: "client".into(),
            kind: span::SpanKind::Client as i32,
            start_time_unix_nano: t0 + 1_000_000,
            end_time_unix_nano: t0 + 2_000_000,
            attributes: vec![
                kv("peer.service", Value::StringValue("db".into())),
                kv(
                    "network.peer.address",
                    Value::StringValue("2001:db8::1".into()),
                ),
                kv("network.peer.port", Value::IntValue(5432)),
                kv("zipkin.shared", Value::BoolValue(true)),
            ],
            status: Some(Status {
                code: 1,
                message: String::new(),
            }),
            ..Default::default()
        },
        Span {
            trace_id: [[0u8; 8], [0x11; 8]].concat().into(),
            span_id: vec![3; 8].into(),
            name: "internal 64-bit".into(),
            kind: span::SpanKind::Internal as i32,
            start_time_unix_nano: t0,
            end_time_unix_nano: t0 + 1000,
            ..Default::default()
        },
    ];
    let req = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", Value::StringValue("checkout".into())),
                    kv("host.name", Value::StringValue("h1".into())),
                ],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "lib".into(),
                    version: "2.0".into(),
                    ..Default::default()
                }),
                spans: spans.clone(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let body = ferrotel_pdata::Request::Traces(req).encode_proto();
    assert_eq!(post_otlp(op, "/v1/traces", &body).unwrap(), 200);
    let path = dir.path().join("traces.bin");
    wait_for(Duration::from_secs(15), "round-tripped spans", || {
        all_spans(&path).len() >= 3
    });
    let got = all_spans(&path);
    assert_eq!(got.len(), 3);
    for want in &spans {
        let (res, scope, s) = got
            .iter()
            .find(|(_, _, s)| s.span_id == want.span_id)
            .unwrap();
        assert_eq!(attr(res, "service.name"), json!("checkout"));
        assert_eq!(attr(res, "host.name"), json!("h1"));
        assert_eq!(
            scope
                .as_ref()
                .map(|s| (s.name.as_str(), s.version.as_str())),
            Some(("lib", "2.0"))
        );
        let mut s = s.clone();
        // Attribute order is the translation's; compare as sets.
        let mut a = s.attributes.clone();
        let mut b = want.attributes.clone();
        a.sort_by(|x, y| x.key.cmp(&y.key));
        b.sort_by(|x, y| x.key.cmp(&y.key));
        assert_eq!(a, b, "{}", want.name);
        s.attributes = want.attributes.clone();
        assert_eq!(&s, want, "{}", want.name);
    }
}

#[test]
fn round_trip_json() {
    round_trip("json");
}

#[test]
fn round_trip_proto() {
    round_trip("proto");
}

fn post(port: u16, path: &str, headers: &str, body: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect_timeout(
        &SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_secs(2),
    )
    .unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: x\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out.split_whitespace().nth(1).unwrap().parse().unwrap();
    (
        status,
        out.split("\r\n\r\n").nth(1).unwrap_or_default().to_string(),
    )
}

/// Bad bodies on the wire: 400/413/415 naming the problem; good ones (plain, gzip, zstd, v1)
/// before and after are served.
#[test]
fn bad_and_compressed_bodies_on_the_wire() {
    let dir = tempfile::tempdir().unwrap();
    let (zp, op) = (free_port(), free_port());
    let _c = Collector::start(
        "zipkin",
        dir.path(),
        &config(dir.path(), zp, op, None),
        None,
    );
    wait_for(Duration::from_secs(10), "the zipkin receiver", || {
        TcpStream::connect(("127.0.0.1", zp)).is_ok()
    });
    let span = |id: u8| {
        format!(
            r#"[{{"traceId":"00000000000000aa","id":"00000000000000{id:02x}","name":"s{id}","timestamp":1700000000000000,"duration":5,"localEndpoint":{{"serviceName":"svc"}}}}]"#
        )
    };
    let json = "Content-Type: application/json\r\n";
    assert_eq!(post(zp, "/api/v2/spans", json, span(1).as_bytes()).0, 202);
    let bad: &[(&str, &str, &[u8], u16, &str)] = &[
        ("/api/v2/spans", json, b"[{", 400, "invalid Zipkin JSON"),
        (
            "/api/v2/spans",
            json,
            br#"[{"traceId":"zz","id":"0000000000000001"}]"#,
            400,
            "span[0]: traceId \"zz\"",
        ),
        (
            "/api/v2/spans",
            "Content-Type: application/x-protobuf\r\n",
            b"\x0a\x03\x0a\x01\x01",
            400,
            "trace_id has 1 bytes",
        ),
        (
            "/api/v2/spans",
            "Content-Type: application/json\r\nContent-Encoding: gzip\r\n",
            b"not gzip",
            400,
            "decompressing the gzip body",
        ),
        (
            "/api/v2/spans",
            "Content-Type: application/json\r\nContent-Encoding: br\r\n",
            b"x",
            415,
            "unsupported Content-Encoding",
        ),
        (
            "/api/v1/spans",
            "Content-Type: application/x-thrift\r\n",
            b"x",
            400,
            "invalid Zipkin Thrift: unknown binary type 120",
        ),
        (
            "/api/v1/spans",
            "Content-Type: application/x-thrift\r\n",
            b"\x0c\x7f\xff\xff\xff\x0a",
            400,
            "declared list size 2147483647 is past the end",
        ),
        (
            "/api/v1/spans",
            "Content-Type: application/x-thrift\r\n",
            b"\x0c\x00\x00\x00\x01\x0a\x00\x01\x00\x00",
            400,
            "span[0]: truncated",
        ),
        (
            "/api/v2/spans",
            "Content-Type: application/x-thrift\r\n",
            b"x",
            415,
            "Zipkin v2 has no Thrift encoding",
        ),
        ("/api/v3/spans", json, b"[]", 404, "served on /api/v2/spans"),
    ];
    for (path, headers, body, status, msg) in bad {
        let (got, text) = post(zp, path, headers, body);
        assert_eq!(got, *status, "{path} {headers:?}: {text}");
        assert!(text.contains(msg), "{text:?} lacks {msg:?}");
    }
    // A gzip bomb is refused at the size limit (20 MiB), not expanded.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&vec![b' '; 64 << 20]).unwrap();
    let bomb = gz.finish().unwrap();
    let (status, text) = post(
        zp,
        "/api/v2/spans",
        "Content-Type: application/json\r\nContent-Encoding: gzip\r\n",
        &bomb,
    );
    assert_eq!(status, 413, "{text}");
    // Still serving: gzip, zstd and v1 bodies.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(span(2).as_bytes()).unwrap();
    assert_eq!(
        post(
            zp,
            "/api/v2/spans",
            "Content-Type: application/json\r\nContent-Encoding: gzip\r\n",
            &gz.finish().unwrap()
        )
        .0,
        202
    );
    let z = zstd::encode_all(span(3).as_bytes(), 1).unwrap();
    assert_eq!(
        post(
            zp,
            "/api/v2/spans",
            "Content-Type: application/json\r\nContent-Encoding: zstd\r\n",
            &z
        )
        .0,
        202
    );
    let v1 = r#"[{"traceId":"00000000000000aa","id":"0000000000000004","name":"s4","annotations":[{"timestamp":1700000000000000,"value":"sr","endpoint":{"serviceName":"svc"}},{"timestamp":1700000000000010,"value":"ss","endpoint":{"serviceName":"svc"}}]}]"#;
    assert_eq!(post(zp, "/api/v1/spans", json, v1.as_bytes()).0, 202);
    let path = dir.path().join("traces.bin");
    wait_for(Duration::from_secs(10), "four spans", || {
        all_spans(&path).len() >= 4
    });
    let mut names: Vec<String> = all_spans(&path)
        .into_iter()
        .map(|(_, _, s)| s.name)
        .collect();
    names.sort();
    assert_eq!(names, ["s1", "s2", "s3", "s4"]);
    let s4 = all_spans(&path)
        .into_iter()
        .find(|(_, _, s)| s.name == "s4")
        .unwrap()
        .2;
    assert_eq!(
        (s4.kind, s4.end_time_unix_nano - s4.start_time_unix_nano),
        (span::SpanKind::Server as i32, 10_000)
    );
}
