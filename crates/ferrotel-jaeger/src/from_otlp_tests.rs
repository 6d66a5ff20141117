//! OTLP → Jaeger: one test per rule (docs/migration.md, "OTLP → Jaeger", names
//! each), the protobuf JSON form, and round trips both ways as properties.

use ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_pdata::proto::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value::Value,
};
use ferrotel_pdata::proto::resource::v1::Resource;
use ferrotel_pdata::proto::trace::v1::{
    ResourceSpans, ScopeSpans, Span as OtlpSpan, Status, span, span::SpanKind, status::StatusCode,
};
use proptest::prelude::*;

use crate::from_otlp::from_otlp;
use crate::model::*;
use crate::to_otlp::to_otlp;
use crate::{jsonpb, proto};

const TRACE: [u8; 16] = [
    0x5a, 0xf7, 0x18, 0x3f, 0xb1, 0xd4, 0xcf, 0x5f, 1, 2, 3, 4, 5, 6, 7, 8,
];
const HIGH: u64 = 0x5af7183fb1d4cf5f;
const LOW: u64 = 0x0102030405060708;

fn kv(k: &str, v: Value) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

fn sv(s: &str) -> Value {
    Value::StringValue(s.into())
}

fn otlp_span() -> OtlpSpan {
    OtlpSpan {
        trace_id: TRACE.to_vec().into(),
        span_id: 0x352bff9a74ca9ad2u64.to_be_bytes().to_vec().into(),
        name: "op".into(),
        start_time_unix_nano: 1_700_000_000_000_000_123,
        end_time_unix_nano: 1_700_000_000_500_000_000,
        ..Default::default()
    }
}

fn request(
    resource: Vec<KeyValue>,
    scope: (&str, &str),
    spans: Vec<OtlpSpan>,
) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: resource,
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: scope.0.into(),
                    version: scope.1.into(),
                    ..Default::default()
                }),
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// The one span of a one-span request under service `svc`.
fn one(s: OtlpSpan) -> Span {
    let b = from_otlp(&request(
        vec![kv("service.name", sv("svc"))],
        ("", ""),
        vec![s],
    ));
    b[0].spans[0].clone()
}

fn tags(s: &Span) -> Vec<(String, TagValue)> {
    s.tags
        .iter()
        .map(|t| (t.key.clone(), t.value.clone()))
        .collect()
}

fn st(k: &str, v: &str) -> (String, TagValue) {
    (k.into(), TagValue::Str(v.into()))
}

#[test]
fn resource_to_process() {
    let b = from_otlp(&request(
        vec![
            kv("host.name", sv("h1")),
            kv("service.name", sv("api")),
            kv("n", Value::IntValue(3)),
        ],
        ("", ""),
        vec![otlp_span()],
    ));
    let p = b[0].process.clone().unwrap();
    assert_eq!(p.service_name, "api");
    assert_eq!(
        p.tags,
        vec![
            Tag::str("host.name", "h1"),
            Tag {
                key: "n".into(),
                value: TagValue::Long(3)
            }
        ]
    );
    assert!(b[0].spans[0].process.is_none());
    // No attributes: Go's OTLPResourceNoServiceName; attributes without service.name: "".
    let b = from_otlp(&request(vec![], ("", ""), vec![otlp_span()]));
    assert_eq!(
        b[0].process.as_ref().unwrap().service_name,
        "OTLPResourceNoServiceName"
    );
    let b = from_otlp(&request(vec![kv("k", sv("v"))], ("", ""), vec![]));
    assert_eq!(b[0].process.as_ref().unwrap().service_name, "");
    assert!(b[0].spans.is_empty());
    // Neither attributes nor scopes: no batch.
    let mut req = request(vec![], ("", ""), vec![]);
    req.resource_spans[0].scope_spans.clear();
    assert!(from_otlp(&req).is_empty());
}

#[test]
fn ids_times_and_name() {
    let s = one(otlp_span());
    assert_eq!((s.trace_id_high, s.trace_id_low), (HIGH, LOW));
    assert_eq!(s.span_id, 0x352bff9a74ca9ad2);
    assert_eq!(s.operation_name, "op");
    let p = proto::span_to_proto(&s, None);
    assert_eq!(p.trace_id, TRACE);
    let start = p.start_time.unwrap();
    assert_eq!((start.seconds, start.nanos), (1_700_000_000, 123));
    let d = p.duration.unwrap();
    assert_eq!((d.seconds, d.nanos), (0, 499_999_877));
    // An end before the start is a negative duration, both fields negative.
    let mut neg = otlp_span();
    neg.end_time_unix_nano = neg.start_time_unix_nano - 1_500_000_000;
    let d = proto::span_to_proto(&one(neg), None).duration.unwrap();
    assert_eq!((d.seconds, d.nanos), (-1, -500_000_000));
}

#[test]
fn scope_to_otel_scope_tags() {
    let b = from_otlp(&request(vec![], ("lib", "1.2"), vec![otlp_span()]));
    assert_eq!(
        tags(&b[0].spans[0]),
        vec![
            st("otel.scope.name", "lib"),
            st("otel.scope.version", "1.2")
        ]
    );
    assert!(one(otlp_span()).tags.is_empty());
}

#[test]
fn kind_to_span_kind_tag() {
    for (k, want) in [
        (SpanKind::Client, Some("client")),
        (SpanKind::Server, Some("server")),
        (SpanKind::Producer, Some("producer")),
        (SpanKind::Consumer, Some("consumer")),
        (SpanKind::Internal, Some("internal")),
        (SpanKind::Unspecified, None),
    ] {
        let mut s = otlp_span();
        s.kind = k as i32;
        let got = tags(&one(s));
        assert_eq!(
            got,
            want.map(|w| st("span.kind", w))
                .into_iter()
                .collect::<Vec<_>>()
        );
    }
}

#[test]
fn status_to_tags() {
    let with = |code: StatusCode, message: &str| {
        let mut s = otlp_span();
        s.status = Some(Status {
            code: code as i32,
            message: message.into(),
        });
        tags(&one(s))
    };
    assert_eq!(
        with(StatusCode::Error, "boom"),
        vec![
            st("otel.status_code", "ERROR"),
            ("error".into(), TagValue::Bool(true)),
            st("otel.status_description", "boom"),
        ]
    );
    assert_eq!(with(StatusCode::Ok, ""), vec![st("otel.status_code", "OK")]);
    // UNSET reports nothing, its message neither (the specification; Go writes the message).
    assert!(with(StatusCode::Unset, "ignored").is_empty());
}

#[test]
fn attribute_types_to_tag_types() {
    let mut s = otlp_span();
    s.attributes = vec![
        kv("s", sv("x")),
        kv("b", Value::BoolValue(true)),
        kv("i", Value::IntValue(-7)),
        kv("d", Value::DoubleValue(2.5)),
        kv("bin", Value::BytesValue(vec![0, 255].into())),
        kv(
            "arr",
            Value::ArrayValue(ArrayValue {
                values: vec![
                    AnyValue {
                        value: Some(sv("a")),
                    },
                    AnyValue {
                        value: Some(Value::IntValue(1)),
                    },
                ],
            }),
        ),
        kv(
            "map",
            Value::KvlistValue(KeyValueList {
                values: vec![kv("z", Value::BoolValue(false)), kv("a", sv("<"))],
            }),
        ),
        KeyValue {
            key: "empty".into(),
            ..Default::default()
        },
    ];
    assert_eq!(
        tags(&one(s)),
        vec![
            st("s", "x"),
            ("b".into(), TagValue::Bool(true)),
            ("i".into(), TagValue::Long(-7)),
            ("d".into(), TagValue::Double(2.5)),
            ("bin".into(), TagValue::Binary(vec![0, 255])),
            st("arr", r#"["a",1]"#),
            st("map", r#"{"a":"\u003c","z":false}"#),
            st("empty", ""),
        ]
    );
}

#[test]
fn parent_first_then_links() {
    let link = |trace: [u8; 16], id: u64, ref_type: Option<&str>| span::Link {
        trace_id: trace.to_vec().into(),
        span_id: id.to_be_bytes().to_vec().into(),
        attributes: ref_type
            .map(|t| kv("opentracing.ref_type", sv(t)))
            .into_iter()
            .chain([kv("lost", sv("x"))])
            .collect(),
        ..Default::default()
    };
    let mut s = otlp_span();
    s.parent_span_id = 7u64.to_be_bytes().to_vec().into();
    s.links = vec![
        link([9; 16], 1, None),
        link([9; 16], 2, Some("child_of")),
        link([9; 16], 3, Some("follows_from")),
    ];
    let refs: Vec<(i32, u64, u64)> = one(s.clone())
        .references
        .iter()
        .map(|r| (r.ref_type, r.trace_id_low, r.span_id))
        .collect();
    let other = u64::from_be_bytes([9; 8]);
    assert_eq!(
        refs,
        vec![
            (CHILD_OF, LOW, 7),
            (FOLLOWS_FROM, other, 1),
            (CHILD_OF, other, 2),
            (FOLLOWS_FROM, other, 3)
        ]
    );
    // A link to the parent itself sets the parent's type (a FOLLOWS_FROM parent), no new ref.
    s.links = vec![link(TRACE, 7, Some("follows_from"))];
    let sp = one(s);
    assert_eq!(sp.references.len(), 1);
    assert_eq!(sp.references[0].ref_type, FOLLOWS_FROM);
}

#[test]
fn events_to_logs() {
    let mut s = otlp_span();
    s.events = vec![
        span::Event {
            time_unix_nano: 5,
            name: "retry".into(),
            attributes: vec![kv("n", Value::IntValue(2))],
            dropped_attributes_count: 3,
        },
        span::Event {
            time_unix_nano: 6,
            name: "shadowed".into(),
            attributes: vec![kv("event", sv("wins"))],
            ..Default::default()
        },
        span::Event {
            time_unix_nano: 7,
            ..Default::default()
        },
    ];
    let logs: Vec<(u64, Vec<Tag>)> = one(s)
        .logs
        .into_iter()
        .map(|l| (l.timestamp_unix_nano, l.fields))
        .collect();
    assert_eq!(
        logs,
        vec![
            (
                5,
                vec![
                    Tag::str("event", "retry"),
                    Tag {
                        key: "n".into(),
                        value: TagValue::Long(2)
                    },
                    Tag {
                        key: "otel.dropped_attributes_count".into(),
                        value: TagValue::Long(3)
                    },
                ]
            ),
            (6, vec![Tag::str("event", "wins")]),
            (7, vec![]),
        ]
    );
}

#[test]
fn trace_state_and_dropped_counts_to_tags() {
    let mut s = otlp_span();
    s.trace_state = "a=1".into();
    s.dropped_attributes_count = 1;
    s.dropped_links_count = 3;
    assert_eq!(
        tags(&one(s)),
        vec![
            st("w3c.tracestate", "a=1"),
            ("otel.dropped_attributes_count".into(), TagValue::Long(1)),
            ("otel.dropped_links_count".into(), TagValue::Long(3)),
        ]
    );
}

/// A span as Go's jsonpb writes it: the fixture was checked field by field against gogo's
/// `jsonpb.Marshaler` rules (see the module comment of `jsonpb`).
#[test]
fn jsonpb_form() {
    let mut s = otlp_span();
    s.kind = SpanKind::Server as i32;
    s.parent_span_id = 1u64.to_be_bytes().to_vec().into();
    s.links = vec![span::Link {
        trace_id: TRACE.to_vec().into(),
        span_id: 2u64.to_be_bytes().to_vec().into(),
        ..Default::default()
    }];
    s.attributes = vec![
        kv("i", Value::IntValue(53931)),
        kv("d", Value::DoubleValue(129.8)),
        kv("b", Value::BoolValue(true)),
        kv("x", Value::BytesValue(vec![1, 2].into())),
    ];
    s.events = vec![span::Event {
        time_unix_nano: 1_700_000_000_100_000_000,
        ..Default::default()
    }];
    let b = from_otlp(&request(
        vec![kv("service.name", sv("svc"))],
        ("", ""),
        vec![s],
    ));
    let p = proto::span_to_proto(&b[0].spans[0], b[0].process.as_ref());
    let json = jsonpb::encode_span(&p);
    assert_eq!(
        json,
        concat!(
            r#"{"traceId":"WvcYP7HUz18BAgMEBQYHCA==","spanId":"NSv/mnTKmtI=","operationName":"op","#,
            r#""references":[{"traceId":"WvcYP7HUz18BAgMEBQYHCA==","spanId":"AAAAAAAAAAE="},"#,
            r#"{"traceId":"WvcYP7HUz18BAgMEBQYHCA==","spanId":"AAAAAAAAAAI=","refType":"FOLLOWS_FROM"}],"#,
            r#""startTime":"2023-11-14T22:13:20.000000123Z","duration":"0.499999877s","#,
            r#""tags":[{"key":"i","vType":"INT64","vInt64":"53931"},{"key":"d","vType":"FLOAT64","vFloat64":129.8},"#,
            r#"{"key":"b","vType":"BOOL","vBool":true},{"key":"x","vType":"BINARY","vBinary":"AQI="},"#,
            r#"{"key":"span.kind","vStr":"server"}],"#,
            r#""logs":[{"timestamp":"2023-11-14T22:13:20.100Z","fields":[]}],"#,
            r#""process":{"serviceName":"svc"}}"#
        )
    );
    assert_eq!(jsonpb::decode_span(json.as_bytes()).unwrap(), p);
}

#[test]
fn jsonpb_reads_go_variants_and_names_bad_fields() {
    let p = jsonpb::decode_span(
        br#"{"trace_id":"AAAAAAAAAABSlpqJVVcaPw==","spanId":"AAAAAABkfZg=",
            "references":[{"refType":0,"traceId":"AAAAAAAAAABSlpqJVVcaPw==","spanId":"AAAAAABoxOM="}],
            "startTime":"2017-01-26T16:46:31.639875-05:00","duration":"-1.5s",
            "tags":[{"key":"n","vType":2,"vInt64":53931},{"key":"f","vType":"FLOAT64","vFloat64":"NaN"}],
            "process":null}"#,
    )
    .unwrap();
    let b = proto::span_batch(p).unwrap();
    let s = &b.spans[0];
    assert_eq!(s.trace_id_low, 0x52969a8955571a3f);
    assert_eq!(s.references[0].span_id, 0x68c4e3);
    assert_eq!(s.start_unix_nano, 1_485_467_191_639_875_000);
    assert_eq!(s.end_unix_nano, 1_485_467_190_139_875_000);
    assert_eq!(s.tags[0].value, TagValue::Long(53931));
    assert!(matches!(s.tags[1].value, TagValue::Double(d) if d.is_nan()));
    for (body, want) in [
        (
            &br#"{"traceId":"AAA","bogus":1}"#[..],
            "span: unknown field \"bogus\"",
        ),
        (
            br#"{"traceId":"AAAA"}"#,
            "span.trace_id has 3 bytes, not 16",
        ),
        (
            br#"{"tags":[{"vType":"TEXT"}]}"#,
            "span.tags[0].vType: unknown value \"TEXT\"",
        ),
        (
            br#"{"duration":"5m"}"#,
            "span.duration: invalid duration \"5m\"",
        ),
        (
            br#"{"startTime":"yesterday"}"#,
            "span.startTime: invalid timestamp",
        ),
        (b"[1", "invalid JSON"),
    ] {
        let e = jsonpb::decode_span(body)
            .and_then(proto::span_batch)
            .unwrap_err();
        assert!(e.starts_with(want), "{e} / {want}");
    }
}

// ---- round trips ----

fn sorted(mut tags: Vec<Tag>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = tags
        .drain(..)
        .map(|t| (t.key, format!("{:?}", t.value)))
        .collect();
    out.sort();
    out
}

/// A process's name and sorted tags; a batch's spans, each written out with sorted tags.
type NormalBatch = (Option<(String, Vec<(String, String)>)>, Vec<String>);

/// A Jaeger batch with order-free parts (tags, fields, spans) sorted, for comparison.
fn normal(batches: Vec<Batch>) -> Vec<NormalBatch> {
    batches
        .into_iter()
        .map(|b| {
            let mut spans: Vec<String> = b
                .spans
                .into_iter()
                .map(|mut s| {
                    let tags = sorted(std::mem::take(&mut s.tags));
                    let logs: Vec<_> = s
                        .logs
                        .drain(..)
                        .map(|l| (l.timestamp_unix_nano, sorted(l.fields)))
                        .collect();
                    format!("{s:?} {tags:?} {logs:?}")
                })
                .collect();
            spans.sort();
            (b.process.map(|p| (p.service_name, sorted(p.tags))), spans)
        })
        .collect()
}

fn tag_value() -> impl Strategy<Value = TagValue> {
    prop_oneof![
        "[a-z0-9 ]{0,6}".prop_map(TagValue::Str),
        any::<bool>().prop_map(TagValue::Bool),
        any::<i64>().prop_map(TagValue::Long),
        (-1e12f64..1e12).prop_map(TagValue::Double),
        proptest::collection::vec(any::<u8>(), 0..4).prop_map(TagValue::Binary),
    ]
}

/// Tags with distinct keys none of the translation reads.
fn plain_tags(prefix: &'static str) -> impl Strategy<Value = Vec<Tag>> {
    proptest::collection::btree_map("[a-z]{1,3}", tag_value(), 0..4).prop_map(move |m| {
        m.into_iter()
            .map(|(k, value)| Tag {
                key: format!("{prefix}{k}"),
                value,
            })
            .collect()
    })
}

/// A Jaeger span as OTLP can carry it: the parent (if any) the first reference, other
/// references in other traces, status tags as the way back writes them, logs named by
/// `event`, protobuf's shape (no Thrift parentSpanId, no flags).
fn jaeger_span(id: u64) -> impl Strategy<Value = Span> {
    (
        (any::<u64>(), 1..u64::MAX, "[a-z]{0,5}"),
        (
            proptest::option::of((0..2i32, 1..u64::MAX)),
            proptest::collection::vec((0..2i32, 1..u64::MAX, 1..u64::MAX), 0..3),
        ),
        (any::<u32>(), any::<u32>(), plain_tags("t.")),
        (
            proptest::option::of(prop_oneof![
                Just("client"),
                Just("server"),
                Just("producer"),
                Just("consumer"),
                Just("internal")
            ]),
            0..3u8,
            "[a-z]{0,4}",
            proptest::option::of(("[a-z]{1,4}", "[a-z0-9.]{0,3}")),
            proptest::option::of("[a-z]=[0-9]"),
            (0..3u32, 0..3u32, 0..3u32),
        ),
        proptest::collection::vec(
            (
                any::<u32>(),
                proptest::option::of("[a-z]{1,5}"),
                plain_tags("f."),
                0..2u32,
            ),
            0..3,
        ),
    )
        .prop_map(
            move |((high, low, name), (parent, others), (start, len, mut tags), special, logs)| {
                let (kind, status, desc, scope, state, (da, de, dl)) = special;
                let mut references = Vec::new();
                if let Some((t, p)) = parent {
                    references.push(SpanRef {
                        ref_type: t,
                        trace_id_high: high,
                        trace_id_low: low,
                        span_id: p,
                    });
                }
                for (t, oh, os) in others {
                    // Another trace: never taken for the parent.
                    references.push(SpanRef {
                        ref_type: t,
                        trace_id_high: high ^ 1,
                        trace_id_low: oh,
                        span_id: os,
                    });
                }
                if let Some(k) = kind {
                    tags.push(Tag::str("span.kind", k));
                }
                if status > 0 {
                    tags.push(Tag::str(
                        "otel.status_code",
                        if status == 1 { "OK" } else { "ERROR" },
                    ));
                    if status == 2 {
                        tags.push(Tag {
                            key: "error".into(),
                            value: TagValue::Bool(true),
                        });
                    }
                    if !desc.is_empty() {
                        tags.push(Tag::str("otel.status_description", desc));
                    }
                }
                if let Some((n, v)) = scope {
                    tags.push(Tag::str("otel.scope.name", n));
                    if !v.is_empty() {
                        tags.push(Tag::str("otel.scope.version", v));
                    }
                }
                if let Some(s) = state {
                    tags.push(Tag::str("w3c.tracestate", s));
                }
                for (k, n) in [
                    ("otel.dropped_attributes_count", da),
                    ("otel.dropped_events_count", de),
                    ("otel.dropped_links_count", dl),
                ] {
                    if n > 0 {
                        tags.push(Tag {
                            key: k.into(),
                            value: TagValue::Long(n.into()),
                        });
                    }
                }
                let start = u64::from(start) * 1000 + 1_600_000_000_000_000_000;
                Span {
                    trace_id_high: high,
                    trace_id_low: low,
                    span_id: id,
                    parent_span_id: 0,
                    operation_name: name,
                    references,
                    flags: 0,
                    start_unix_nano: start,
                    end_unix_nano: start + u64::from(len),
                    tags,
                    logs: logs
                        .into_iter()
                        .map(|(t, event, mut fields, dropped)| {
                            if let Some(e) = event {
                                fields.insert(0, Tag::str("event", e));
                            }
                            if dropped > 0 {
                                fields.push(Tag {
                                    key: "otel.dropped_attributes_count".into(),
                                    value: TagValue::Long(dropped.into()),
                                });
                            }
                            Log {
                                timestamp_unix_nano: u64::from(t),
                                fields,
                            }
                        })
                        .collect(),
                    process: None,
                }
            },
        )
}

fn jaeger_batches() -> impl Strategy<Value = Vec<Batch>> {
    proptest::collection::vec(
        (
            plain_tags("p."),
            proptest::collection::vec(jaeger_span(0), 0..4),
        ),
        1..3,
    )
    .prop_map(|bs| {
        let mut id = 0;
        bs.into_iter()
            .enumerate()
            .map(|(i, (tags, mut spans))| {
                for s in &mut spans {
                    id += 1;
                    s.span_id = id;
                }
                Batch {
                    // Distinct services: equal processes would merge into one resource.
                    process: Some(Process {
                        service_name: format!("svc{i}"),
                        tags,
                    }),
                    spans,
                }
            })
            .collect()
    })
}

/// OTLP as Jaeger carries it: what `to_otlp` makes of [`jaeger_batches`] covers ids, times,
/// kinds, status, scopes, attributes of every primitive type, events, links with their
/// `opentracing.ref_type`, trace state and dropped counts.
fn otlp_request() -> impl Strategy<Value = ExportTraceServiceRequest> {
    jaeger_batches().prop_map(to_otlp)
}

/// Attributes sorted by key: removing a tag moves the last attribute into its place (pdata's
/// `Remove`, which `to_otlp` follows), so their order is not kept.
fn sort_attrs(mut req: ExportTraceServiceRequest) -> ExportTraceServiceRequest {
    let sort = |a: &mut Vec<KeyValue>| a.sort_by(|x, y| x.key.cmp(&y.key));
    for rs in &mut req.resource_spans {
        if let Some(r) = &mut rs.resource {
            sort(&mut r.attributes);
        }
        for s in rs.scope_spans.iter_mut().flat_map(|ss| &mut ss.spans) {
            sort(&mut s.attributes);
            s.events.iter_mut().for_each(|e| sort(&mut e.attributes));
            s.links.iter_mut().for_each(|l| sort(&mut l.attributes));
        }
    }
    req
}

proptest! {
    #[test]
    fn jaeger_to_otlp_to_jaeger(batches in jaeger_batches()) {
        let back = from_otlp(&to_otlp(batches.clone()));
        prop_assert_eq!(normal(back.clone()), normal(batches));
        // And through the protobuf and JSON forms a kafka message carries.
        for b in &back {
            for s in &b.spans {
                let p = proto::span_to_proto(s, b.process.as_ref());
                let via_json = jsonpb::decode_span(jsonpb::encode_span(&p).as_bytes()).unwrap();
                prop_assert_eq!(proto::span_batch(via_json), proto::span_batch(p.clone()));
                let bytes = prost::Message::encode_to_vec(&p);
                let one = proto::decode_span(&bytes).unwrap();
                let mut want = s.clone();
                want.process = None;
                prop_assert_eq!(&one.spans[0], &want);
                prop_assert_eq!(&one.process, &b.process);
            }
        }
    }

    /// A Kafka record's JSON with one byte changed: an error naming the field, or a span.
    #[test]
    fn mutated_json_records_never_panic(seed in jaeger_span(1), at in any::<usize>(), byte in any::<u8>()) {
        let mut json = jsonpb::encode_span(&proto::span_to_proto(&seed, None)).into_bytes();
        let at = at % json.len();
        json[at] = byte;
        crate::fuzz_decode(&json);
    }

    #[test]
    fn otlp_to_jaeger_to_otlp(req in otlp_request()) {
        let back = to_otlp(from_otlp(&req));
        prop_assert_eq!(sort_attrs(back), sort_attrs(req));
    }
}

/// Protobuf has no parent field: a Thrift `parentSpanId` not among the references becomes the
/// first CHILD_OF one; one already listed is not repeated.
#[test]
fn thrift_parent_becomes_first_reference() {
    let mut s = one(otlp_span());
    s.parent_span_id = 9;
    s.references = vec![SpanRef {
        ref_type: FOLLOWS_FROM,
        trace_id_high: 1,
        trace_id_low: 2,
        span_id: 3,
    }];
    let refs = |s: &Span| -> Vec<(i32, Vec<u8>)> {
        proto::span_to_proto(s, None)
            .references
            .into_iter()
            .map(|r| (r.ref_type, r.span_id))
            .collect()
    };
    assert_eq!(
        refs(&s),
        vec![
            (CHILD_OF, 9u64.to_be_bytes().to_vec()),
            (FOLLOWS_FROM, 3u64.to_be_bytes().to_vec())
        ]
    );
    s.references[0] = SpanRef {
        ref_type: CHILD_OF,
        trace_id_high: HIGH,
        trace_id_low: LOW,
        span_id: 9,
    };
    assert_eq!(refs(&s).len(), 1);
}
