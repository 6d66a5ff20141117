use super::*;
use ferrotel_pdata::proto::collector::logs::v1::ExportLogsServiceRequest;
use ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_pdata::proto::common::v1::{AnyValue, KeyValue, any_value};
use ferrotel_pdata::proto::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use ferrotel_pdata::proto::resource::v1::Resource;
use ferrotel_pdata::proto::trace::v1::{ResourceSpans, ScopeSpans, Span};
use ferrotel_runtime::config::testdata;

fn load(yaml: &str) -> KafkaExporterConfig {
    testdata::load(yaml).unwrap()
}

fn str_kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

/// Spans `(trace byte, name)` under one resource per service.
fn traces(services: &[(&str, &[(u8, &str)])]) -> Payload {
    let req = ExportTraceServiceRequest {
        resource_spans: services
            .iter()
            .map(|(svc, spans)| ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![str_kv("service.name", svc)],
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    spans: spans
                        .iter()
                        .enumerate()
                        .map(|(i, (t, name))| Span {
                            trace_id: vec![*t; 16].into(),
                            span_id: vec![i as u8 + 1; 8].into(),
                            name: name.to_string(),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect(),
    };
    Payload::from_request(Request::Traces(req))
}

fn span_names(signal: Signal, value: &[u8]) -> Vec<String> {
    let Request::Traces(t) = Payload::from_proto(signal, Bytes::copy_from_slice(value))
        .unwrap()
        .into_request()
        .unwrap()
    else {
        unreachable!()
    };
    t.resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans)
        .map(|s| s.name.clone())
        .collect()
}

#[test]
fn config_testdata() {
    testdata::check::<KafkaExporterConfig>(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/exporter/testdata"),
    );
    let c = load("brokers: [k:9092]\n");
    assert_eq!(c.topic(Signal::Traces), "otlp_spans");
    assert_eq!(c.topic(Signal::Metrics), "otlp_metrics");
    assert_eq!(c.topic(Signal::Logs), "otlp_logs");
    assert_eq!(c.encoding(Signal::Logs).unwrap(), Encoding::OtlpProto);
    assert_eq!(c.producer.max_message_bytes, 1_000_000);
    assert_eq!(c.producer.required_acks, 1);
    // The old keys are defaults the per-signal sections override.
    let c = load("topic: all\nencoding: raw\ntraces: {topic: spans}\n");
    assert_eq!(c.topic(Signal::Traces), "spans");
    assert_eq!(c.topic(Signal::Logs), "all");
    assert_eq!(c.encoding(Signal::Logs).unwrap(), Encoding::Raw);
    assert_eq!(c.encoding(Signal::Traces).unwrap(), Encoding::OtlpProto);
    let e = testdata::load::<KafkaExporterConfig>("traces: {encoding: raw}\n").unwrap_err();
    assert_eq!(e.path, "traces::encoding");
    assert!(e.message.contains("not an encoding of traces"), "{e}");
    let e = testdata::load::<KafkaExporterConfig>("producer: {compression: brotli}\n").unwrap_err();
    assert_eq!(e.path, "producer::compression");
}

#[test]
fn one_message_per_trace_keyed_by_hex_trace_id() {
    let s = KafkaSender::new(&load("partition_traces_by_id: true\n")).unwrap();
    let p = traces(&[
        ("a", &[(1, "a1"), (2, "a2"), (1, "a3")]),
        ("b", &[(2, "b1")]),
    ]);
    let m = s.messages(&p).unwrap();
    assert_eq!(m.len(), 2);
    assert_eq!(m[0].key.as_deref(), Some("01".repeat(16).as_str()));
    assert_eq!(span_names(Signal::Traces, &m[0].value), ["a1", "a3"]);
    assert_eq!(m[1].key.as_deref(), Some("02".repeat(16).as_str()));
    assert_eq!(span_names(Signal::Traces, &m[1].value), ["a2", "b1"]);
    // Without partitioning: the request's own bytes, one message, no key.
    let s = KafkaSender::new(&load("{}\n")).unwrap();
    let m = s.messages(&p).unwrap();
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].key, None);
    assert_eq!(m[0].value, p.to_proto());
}

#[test]
fn resource_keys_ignore_attribute_order() {
    let s = KafkaSender::new(&load("partition_logs_by_resource_attributes: true\n")).unwrap();
    let res = |attrs: Vec<KeyValue>| ResourceLogs {
        resource: Some(Resource {
            attributes: attrs,
            ..Default::default()
        }),
        scope_logs: vec![ScopeLogs {
            log_records: vec![LogRecord::default()],
            ..Default::default()
        }],
        ..Default::default()
    };
    let p = Payload::from_request(Request::Logs(ExportLogsServiceRequest {
        resource_logs: vec![
            res(vec![str_kv("a", "1"), str_kv("b", "2")]),
            res(vec![str_kv("b", "2"), str_kv("a", "1")]),
            res(vec![str_kv("a", "12")]),
            res(vec![str_kv("a", "1"), str_kv("b", "2"), str_kv("c", "")]),
        ],
    }));
    let m = s.messages(&p).unwrap();
    assert_eq!(m.len(), 4);
    assert_eq!(m[0].key, m[1].key);
    assert_ne!(m[0].key, m[2].key);
    assert_ne!(m[0].key, m[3].key);
    for x in &m {
        assert_eq!(wire::count(Signal::Logs, &x.value).unwrap(), 1);
    }
}

#[test]
fn too_large_messages_are_split_or_refused() {
    let names: Vec<String> = (0..200)
        .map(|i| format!("span-{i:04}-{}", "x".repeat(40)))
        .collect();
    let spans: Vec<(u8, &str)> = names.iter().map(|n| (9, n.as_str())).collect();
    let p = traces(&[("svc", &spans)]);
    assert!(p.to_proto().len() > 10_000);
    for enc in ["otlp_proto", "otlp_json"] {
        let s = KafkaSender::new(&load(&format!(
            "producer: {{max_message_bytes: 2000}}\ntraces: {{encoding: {enc}}}\n"
        )))
        .unwrap();
        let m = s.messages(&p).unwrap();
        assert!(m.len() > 5, "{enc}: {}", m.len());
        let mut got = Vec::new();
        for x in &m {
            assert!(x.value.len() <= 2000, "{enc}: {}", x.value.len());
            got.extend(if enc == "otlp_proto" {
                span_names(Signal::Traces, &x.value)
            } else {
                let Request::Traces(t) =
                    ferrotel_pdata::json::decode(Signal::Traces, &x.value).unwrap()
                else {
                    unreachable!()
                };
                t.resource_spans[0].scope_spans[0]
                    .spans
                    .iter()
                    .map(|s| s.name.clone())
                    .collect()
            });
        }
        assert_eq!(got, names, "{enc}: every span once, in order");
    }
    // One span alone over the limit: refused, permanently, before anything is sent.
    let big = "y".repeat(3000);
    let s = KafkaSender::new(&load("producer: {max_message_bytes: 2000}\n")).unwrap();
    let e = s
        .messages(&traces(&[("svc", &[(1, "small"), (1, big.as_str())])]))
        .unwrap_err();
    assert!(!e.retryable);
    assert!(
        e.message
            .contains("over producer::max_message_bytes (2000)"),
        "{}",
        e.message
    );
}

#[test]
fn raw_log_bodies() {
    let body = |v| Some(AnyValue { value: Some(v) });
    let p = Payload::from_request(Request::Logs(ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![
                    LogRecord {
                        body: body(any_value::Value::StringValue("hello".into())),
                        ..Default::default()
                    },
                    LogRecord {
                        body: body(any_value::Value::BytesValue(vec![0, 1, 2].into())),
                        ..Default::default()
                    },
                    LogRecord {
                        body: body(any_value::Value::IntValue(42)),
                        ..Default::default()
                    },
                    LogRecord::default(),
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }));
    let s = KafkaSender::new(&load("logs: {encoding: raw}\n")).unwrap();
    let m = s.messages(&p).unwrap();
    let values: Vec<&[u8]> = m.iter().map(|m| &m.value[..]).collect();
    assert_eq!(values, [&b"hello"[..], &[0, 1, 2], b"42", b""]);
}

#[test]
fn zipkin_encodings() {
    let p = traces(&[("svc", &[(3, "op")])]);
    let s = KafkaSender::new(&load("traces: {encoding: zipkin_json}\n")).unwrap();
    let m = s.messages(&p).unwrap();
    let spans = ferrotel_zipkin::json::decode(&m[0].value).unwrap();
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].name, "op");
}

/// Go's jaeger marshaler: one message per span with its process, keyed by the trace id as
/// Jaeger writes it (16 hex digits for a zero high half), whatever the partitioning setting;
/// the receiver's decoding of the same encoding gives the spans back.
#[test]
fn jaeger_encodings_one_message_per_span() {
    use ferrotel_jaeger::{jsonpb, proto};
    let mut p = traces(&[("a", &[(1, "a1"), (2, "a2")]), ("b", &[(1, "b1")])]);
    // A 64-bit trace id (high half zero) for b1.
    if let Request::Traces(mut t) = p.clone().into_request().unwrap() {
        t.resource_spans[1].scope_spans[0].spans[0].trace_id = [[0; 8], [7; 8]].concat().into();
        p = Payload::from_request(Request::Traces(t));
    }
    for enc in ["jaeger_proto", "jaeger_json"] {
        let c = load(&format!(
            "partition_traces_by_id: true\ntraces: {{encoding: {enc}}}\n"
        ));
        let m = KafkaSender::new(&c).unwrap().messages(&p).unwrap();
        let keys: Vec<&str> = m.iter().map(|m| m.key.as_deref().unwrap()).collect();
        assert_eq!(
            keys,
            ["01".repeat(16), "02".repeat(16), "07".repeat(8)],
            "{enc}"
        );
        let got: Vec<(String, String)> = m
            .iter()
            .map(|m| {
                let b = if enc == "jaeger_proto" {
                    proto::decode_span(&m.value).unwrap()
                } else {
                    jsonpb::decode_span(&m.value)
                        .and_then(proto::span_batch)
                        .unwrap()
                };
                (
                    b.process.unwrap().service_name,
                    b.spans[0].operation_name.clone(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [("a", "a1"), ("a", "a2"), ("b", "b1")].map(|(s, n)| (s.into(), n.into()))
        );
        // What the receiver makes of each message is that span under its resource.
        let rc = crate::receiver::Encoding::parse(enc, Signal::Traces).unwrap();
        let back = crate::receiver::decode(Signal::Traces, rc, Some(&m[2].value)).unwrap();
        assert_eq!(span_names(Signal::Traces, &back.to_proto()), ["b1"]);
    }
    // One span over the limit refuses the request.
    let big = "y".repeat(3000);
    let c = load("producer: {max_message_bytes: 2000}\ntraces: {encoding: jaeger_json}\n");
    let e = KafkaSender::new(&c)
        .unwrap()
        .messages(&traces(&[("svc", &[(1, big.as_str())])]))
        .unwrap_err();
    assert!(!e.retryable);
    assert!(e.message.contains("one span encodes to"), "{}", e.message);
    // Traces only; the old top-level key applies them to traces alone.
    let e = testdata::load::<KafkaExporterConfig>("logs: {encoding: jaeger_proto}\n").unwrap_err();
    assert!(e.message.contains("not an encoding of logs"), "{e}");
    let c = load("encoding: jaeger_json\n");
    assert_eq!(c.encoding(Signal::Traces).unwrap(), Encoding::JaegerJson);
    assert_eq!(c.encoding(Signal::Metrics).unwrap(), Encoding::OtlpProto);
}
