//! One test per translation rule (docs/migration.md, "Jaeger", names each).

use ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_pdata::proto::common::v1::any_value::Value;
use ferrotel_pdata::proto::trace::v1::{Span as OtlpSpan, span::SpanKind, status::StatusCode};

use crate::model::*;

/// The reference translation, after checking that the direct path (`crate::direct`) agrees
/// on the batches Thrift can carry (a process, no span-level one).
fn to_otlp(batches: Vec<Batch>) -> ExportTraceServiceRequest {
    for b in &batches {
        if b.process.is_some() && b.spans.iter().all(|s| s.process.is_none()) {
            crate::direct_tests::agrees_everywhere(b);
        }
    }
    crate::to_otlp::to_otlp(batches)
}

const HIGH: u64 = 0x5af7183fb1d4cf5f;
const LOW: u64 = 0x0102030405060708;

fn span(tags: Vec<Tag>) -> Span {
    Span {
        trace_id_high: HIGH,
        trace_id_low: LOW,
        span_id: 0x352bff9a74ca9ad2,
        operation_name: "op".into(),
        start_unix_nano: 1_000_000,
        end_unix_nano: 3_000_000,
        tags,
        ..Default::default()
    }
}

fn process(name: &str, tags: Vec<Tag>) -> Option<Process> {
    Some(Process {
        service_name: name.into(),
        tags,
    })
}

fn one(s: Span) -> OtlpSpan {
    let req = to_otlp(vec![Batch {
        process: process("svc", vec![]),
        spans: vec![s],
    }]);
    req.resource_spans[0].scope_spans[0].spans[0].clone()
}

fn resource(req: &ExportTraceServiceRequest, i: usize) -> Vec<(String, Value)> {
    req.resource_spans[i]
        .resource
        .iter()
        .flat_map(|r| &r.attributes)
        .map(|kv| (kv.key.clone(), kv.value.clone().unwrap().value.unwrap()))
        .collect()
}

fn attrs(s: &OtlpSpan) -> Vec<(String, Value)> {
    s.attributes
        .iter()
        .map(|kv| (kv.key.clone(), kv.value.clone().unwrap().value.unwrap()))
        .collect()
}

fn s(v: &str) -> Value {
    Value::StringValue(v.into())
}

fn tag(key: &str, value: TagValue) -> Tag {
    Tag {
        key: key.into(),
        value,
    }
}

#[test]
fn service_name_and_process_tags_to_resource() {
    let req = to_otlp(vec![Batch {
        process: process(
            "api",
            vec![
                Tag::str("hostname", "h1"),
                Tag::str("jaeger.version", "Python-4.8.0"),
                tag("ip", TagValue::Str("10.0.0.1".into())),
                tag("n", TagValue::Long(3)),
            ],
        ),
        spans: vec![span(vec![])],
    }]);
    let mut got = resource(&req, 0);
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        got,
        vec![
            ("host.name".into(), s("h1")),
            ("ip".into(), s("10.0.0.1")),
            ("n".into(), Value::IntValue(3)),
            (
                "opencensus.exporterversion".into(),
                s("Jaeger-Python-4.8.0")
            ),
            ("service.name".into(), s("api")),
        ]
    );
}

#[test]
fn hostname_kept_when_host_name_present() {
    let req = to_otlp(vec![Batch {
        process: process(
            "",
            vec![Tag::str("host.name", "a"), Tag::str("hostname", "b")],
        ),
        spans: vec![],
    }]);
    assert_eq!(
        resource(&req, 0),
        vec![("host.name".into(), s("a")), ("hostname".into(), s("b"))]
    );
    // No service name and no tags: an empty resource, and no scope for no spans.
    let req = to_otlp(vec![Batch {
        process: process("", vec![]),
        spans: vec![],
    }]);
    assert!(resource(&req, 0).is_empty());
    assert!(req.resource_spans[0].scope_spans.is_empty());
}

#[test]
fn spans_with_own_process_regrouped() {
    let mut own = span(vec![]);
    own.process = process("other", vec![]);
    let req = to_otlp(vec![
        Batch {
            process: process("a", vec![]),
            spans: vec![span(vec![]), own],
        },
        Batch {
            process: process("a", vec![]),
            spans: vec![span(vec![])],
        },
    ]);
    assert_eq!(req.resource_spans.len(), 2);
    assert_eq!(resource(&req, 0), vec![("service.name".into(), s("a"))]);
    assert_eq!(req.resource_spans[0].scope_spans[0].spans.len(), 2);
    assert_eq!(resource(&req, 1), vec![("service.name".into(), s("other"))]);
}

#[test]
fn ids_times_name_and_128_bit_trace_id() {
    let o = one(span(vec![]));
    assert_eq!(
        &o.trace_id[..],
        &[
            0x5a, 0xf7, 0x18, 0x3f, 0xb1, 0xd4, 0xcf, 0x5f, 1, 2, 3, 4, 5, 6, 7, 8
        ]
    );
    assert_eq!(
        &o.span_id[..],
        &[0x35, 0x2b, 0xff, 0x9a, 0x74, 0xca, 0x9a, 0xd2]
    );
    assert_eq!(o.name, "op");
    assert_eq!(
        (o.start_time_unix_nano, o.end_time_unix_nano),
        (1_000_000, 3_000_000)
    );
    assert!(o.parent_span_id.is_empty());
}

#[test]
fn trace_id_64_bit_high_zero() {
    let mut sp = span(vec![]);
    sp.trace_id_high = 0;
    let o = one(sp);
    assert_eq!(&o.trace_id[..8], &[0; 8]);
    assert_eq!(&o.trace_id[8..], &LOW.to_be_bytes());
}

#[test]
fn thrift_parent_span_id_is_parent() {
    let mut sp = span(vec![]);
    sp.parent_span_id = 7;
    sp.references = vec![SpanRef {
        ref_type: CHILD_OF,
        trace_id_high: HIGH,
        trace_id_low: LOW,
        span_id: 7,
    }];
    let o = one(sp);
    assert_eq!(&o.parent_span_id[..], &7u64.to_be_bytes());
    // The CHILD_OF reference that is the parent is not also a link.
    assert!(o.links.is_empty());
}

#[test]
fn child_of_first_ref_is_parent_others_links() {
    let r = |t, hi, id| SpanRef {
        ref_type: t,
        trace_id_high: hi,
        trace_id_low: LOW,
        span_id: id,
    };
    let mut sp = span(vec![]);
    sp.references = vec![
        r(FOLLOWS_FROM, HIGH, 1),
        r(CHILD_OF, 99, 2), // another trace: never the parent
        r(CHILD_OF, HIGH, 3),
        r(CHILD_OF, HIGH, 4),
    ];
    let o = one(sp);
    assert_eq!(&o.parent_span_id[..], &3u64.to_be_bytes());
    let links: Vec<(u64, String)> = o
        .links
        .iter()
        .map(|l| {
            let id = u64::from_be_bytes(l.span_id[..].try_into().unwrap());
            let Some(Value::StringValue(t)) = l.attributes[0].value.clone().unwrap().value else {
                panic!()
            };
            assert_eq!(l.attributes[0].key, "opentracing.ref_type");
            (id, t)
        })
        .collect();
    assert_eq!(
        links,
        vec![
            (1, "follows_from".into()),
            (2, "child_of".into()),
            (4, "child_of".into())
        ]
    );
    assert_eq!(&o.links[1].trace_id[..8], &99u64.to_be_bytes());
}

#[test]
fn follows_from_is_parent_without_child_of() {
    let mut sp = span(vec![]);
    sp.references = vec![SpanRef {
        ref_type: FOLLOWS_FROM,
        trace_id_high: HIGH,
        trace_id_low: LOW,
        span_id: 5,
    }];
    let o = one(sp);
    assert_eq!(&o.parent_span_id[..], &5u64.to_be_bytes());
    // Go keeps a FOLLOWS_FROM parent as a link too (only CHILD_OF is excluded).
    assert_eq!(o.links.len(), 1);
}

#[test]
fn span_kind_tag_to_kind() {
    for (k, want) in [
        ("client", SpanKind::Client),
        ("server", SpanKind::Server),
        ("producer", SpanKind::Producer),
        ("consumer", SpanKind::Consumer),
        ("internal", SpanKind::Internal),
        ("SERVER", SpanKind::Unspecified),
    ] {
        let o = one(span(vec![Tag::str("span.kind", k)]));
        assert_eq!(o.kind, want as i32, "{k}");
        assert!(o.attributes.is_empty());
    }
}

#[test]
fn tag_types_to_attribute_types() {
    let o = one(span(vec![
        Tag::str("s", "x"),
        tag("d", TagValue::Double(1.5)),
        tag("b", TagValue::Bool(true)),
        tag("l", TagValue::Long(-3)),
        tag("bin", TagValue::Binary(vec![1, 2])),
        tag("u", TagValue::Unknown("<UNSET>".into())),
        Tag::str("s", "replaced"),
    ]));
    assert_eq!(
        attrs(&o),
        vec![
            ("s".into(), s("replaced")),
            ("d".into(), Value::DoubleValue(1.5)),
            ("b".into(), Value::BoolValue(true)),
            ("l".into(), Value::IntValue(-3)),
            ("bin".into(), Value::BytesValue(vec![1, 2].into())),
            ("u".into(), s("<Unknown Jaeger TagType \"<UNSET>\">")),
        ]
    );
}

#[test]
fn status_from_otel_status_code() {
    let o = one(span(vec![
        Tag::str("otel.status_code", "error"),
        Tag::str("otel.status_description", "boom"),
        Tag::str("k", "v"),
    ]));
    let st = o.status.clone().unwrap();
    assert_eq!(
        (st.code, st.message.as_str()),
        (StatusCode::Error as i32, "boom")
    );
    assert_eq!(attrs(&o), vec![("k".into(), s("v"))]);
    let o = one(span(vec![Tag::str("otel.status_code", "OK")]));
    assert_eq!(o.status.unwrap().code, StatusCode::Ok as i32);
    assert!(o.attributes.is_empty());
}

#[test]
fn error_tag_true_wins_over_status_code() {
    let o = one(span(vec![
        tag("error", TagValue::Bool(true)),
        Tag::str("otel.status_code", "OK"),
        Tag::str("http.status_message", "Bad Gateway"),
    ]));
    let st = o.status.clone().unwrap();
    assert_eq!(
        (st.code, st.message.as_str()),
        (StatusCode::Error as i32, "Bad Gateway")
    );
    // otel.status_code always goes; the HTTP message stays an attribute.
    assert_eq!(
        attrs(&o),
        vec![("http.status_message".into(), s("Bad Gateway"))]
    );
}

#[test]
fn error_tag_not_bool_or_false_stays_attribute() {
    let o = one(span(vec![Tag::str("error", "true")]));
    assert!(o.status.is_none());
    assert_eq!(attrs(&o), vec![("error".into(), s("true"))]);
    let o = one(span(vec![tag("error", TagValue::Bool(false))]));
    assert!(o.status.is_none());
    assert_eq!(attrs(&o), vec![("error".into(), Value::BoolValue(false))]);
}

#[test]
fn http_status_code_fallback() {
    let code = |kind: &str, http: TagValue| {
        one(span(vec![
            Tag::str("span.kind", kind),
            tag("http.status_code", http),
        ]))
        .status
        .map(|s| s.code)
    };
    let err = Some(StatusCode::Error as i32);
    assert_eq!(code("client", TagValue::Long(404)), err);
    assert_eq!(code("server", TagValue::Long(404)), None);
    assert_eq!(code("server", TagValue::Str("503".into())), err);
    assert_eq!(code("server", TagValue::Long(200)), None);
    assert_eq!(code("server", TagValue::Long(399)), err);
    assert_eq!(code("server", TagValue::Double(500.0)), None);
}

#[test]
fn scope_from_otel_scope_tags() {
    let req = to_otlp(vec![Batch {
        process: process("svc", vec![]),
        spans: vec![
            span(vec![
                Tag::str("otel.scope.name", "lib"),
                Tag::str("otel.scope.version", "1.2"),
                Tag::str("otel.library.name", "lib"),
                Tag::str("otel.library.version", "1.2"),
            ]),
            span(vec![Tag::str("otel.library.name", "old")]),
            span(vec![]),
        ],
    }]);
    let scopes: Vec<(String, String, usize)> = req.resource_spans[0]
        .scope_spans
        .iter()
        .map(|ss| {
            let sc = ss.scope.clone().unwrap();
            assert!(ss.spans.iter().all(|s| s.attributes.is_empty()));
            (sc.name, sc.version, ss.spans.len())
        })
        .collect();
    assert_eq!(
        scopes,
        vec![
            ("lib".into(), "1.2".into(), 1),
            ("old".into(), "".into(), 1),
            ("".into(), "".into(), 1)
        ]
    );
}

#[test]
fn w3c_tracestate_tag_to_trace_state() {
    let o = one(span(vec![Tag::str("w3c.tracestate", "a=1,b=2")]));
    assert_eq!(o.trace_state, "a=1,b=2");
    assert!(o.attributes.is_empty());
}

#[test]
fn dropped_count_tags_to_counts() {
    let o = one(span(vec![
        tag("otel.dropped_attributes_count", TagValue::Long(3)),
        Tag::str("otel.dropped_events_count", "4"),
        tag("otel.dropped_links_count", TagValue::Long(5)),
    ]));
    assert_eq!(
        (
            o.dropped_attributes_count,
            o.dropped_events_count,
            o.dropped_links_count
        ),
        (3, 4, 5)
    );
    assert!(o.attributes.is_empty());
    let o = one(span(vec![Tag::str("otel.dropped_links_count", "many")]));
    assert_eq!(o.dropped_links_count, 0);
    assert_eq!(attrs(&o).len(), 1);
}

#[test]
fn logs_to_events() {
    let mut sp = span(vec![]);
    sp.logs = vec![
        Log {
            timestamp_unix_nano: 2_000_000,
            fields: vec![Tag::str("event", "retry"), tag("n", TagValue::Long(2))],
        },
        Log {
            timestamp_unix_nano: 2_500_000,
            fields: vec![
                Tag::str("message", "exception"),
                tag("otel.dropped_attributes_count", TagValue::Long(1)),
            ],
        },
        Log {
            timestamp_unix_nano: 2_600_000,
            fields: vec![Tag::str("event", "e"), Tag::str("message", "stays")],
        },
        Log {
            timestamp_unix_nano: 2_700_000,
            fields: vec![],
        },
    ];
    let o = one(sp);
    let got: Vec<(u64, String, usize, u32)> = o
        .events
        .iter()
        .map(|e| {
            (
                e.time_unix_nano,
                e.name.clone(),
                e.attributes.len(),
                e.dropped_attributes_count,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (2_000_000, "retry".into(), 1, 0),
            (2_500_000, "exception".into(), 0, 1),
            (2_600_000, "e".into(), 1, 0),
            (2_700_000, "".into(), 0, 0),
        ]
    );
    assert_eq!(o.events[0].attributes[0].key, "n");
    assert_eq!(o.events[2].attributes[0].key, "message");
}

#[test]
fn blank_spans_skipped() {
    let req = to_otlp(vec![Batch {
        process: process("svc", vec![]),
        spans: vec![Span::default(), span(vec![])],
    }]);
    assert_eq!(req.resource_spans[0].scope_spans[0].spans.len(), 1);
}

#[test]
fn microsecond_times_to_nanoseconds() {
    use crate::thrift::{Protocol, encode, jaeger::decode_batch};
    let mut sp = span(vec![]);
    sp.start_unix_nano = 1_700_000_000_123_456_000;
    sp.end_unix_nano = 1_700_000_000_123_999_000;
    let b = Batch {
        process: process("svc", vec![]),
        spans: vec![sp],
    };
    let back = decode_batch(&encode::batch(&b, Protocol::Compact), Protocol::Compact).unwrap();
    let o = one(back.spans[0].clone());
    assert_eq!(o.start_time_unix_nano, 1_700_000_000_123_456_000);
    assert_eq!(o.end_time_unix_nano, 1_700_000_000_123_999_000);
}
