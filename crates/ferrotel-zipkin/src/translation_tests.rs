//! One test per translation rule (docs/migration.md, "Zipkin", names each).

use ferrotel_pdata::proto::common::v1::any_value::Value;
use ferrotel_pdata::proto::trace::v1::{Span as OtlpSpan, span::SpanKind, status::StatusCode};

use crate::from_otlp::from_otlp;
use crate::model::Span;
use crate::to_otlp::{Options, to_otlp};
use crate::{json, proto, v1};

/// Resource attributes, the span, and its scope (name, version).
type Decoded = (Vec<(String, Value)>, OtlpSpan, Option<(String, String)>);

fn decode_one(body: &str, parse: bool) -> Decoded {
    let spans = json::decode(body.as_bytes()).expect("decodes");
    let req = to_otlp(
        spans,
        &Options {
            parse_string_tags: parse,
        },
    );
    assert_eq!(req.resource_spans.len(), 1);
    let rs = &req.resource_spans[0];
    let res = rs
        .resource
        .iter()
        .flat_map(|r| &r.attributes)
        .map(|kv| (kv.key.clone(), kv.value.clone().unwrap().value.unwrap()))
        .collect();
    let ss = &rs.scope_spans[0];
    let scope = ss
        .scope
        .as_ref()
        .map(|s| (s.name.clone(), s.version.clone()));
    (res, ss.spans[0].clone(), scope)
}

fn attr<'a>(s: &'a OtlpSpan, key: &str) -> Option<&'a Value> {
    s.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
}

fn str_v(s: &str) -> Value {
    Value::StringValue(s.into())
}

const IDS: &str = r#""traceId":"5af7183fb1d4cf5f","id":"352bff9a74ca9ad2""#;

#[test]
fn service_name_from_local_endpoint() {
    let (res, _, _) = decode_one(
        &format!(
            r#"[{{{IDS},"localEndpoint":{{"serviceName":"api"}},"tags":{{"service.name":"other","host.name":"h1","http.method":"GET"}}}}]"#
        ),
        false,
    );
    assert_eq!(
        res,
        vec![
            ("host.name".into(), str_v("h1")),
            ("service.name".into(), str_v("api")),
        ]
    );
}

#[test]
fn trace_id_64_bit_left_padded() {
    let (_, s, _) = decode_one(&format!("[{{{IDS}}}]"), false);
    assert_eq!(
        &s.trace_id[..],
        &[
            0, 0, 0, 0, 0, 0, 0, 0, 0x5a, 0xf7, 0x18, 0x3f, 0xb1, 0xd4, 0xcf, 0x5f
        ]
    );
    assert_eq!(
        &s.span_id[..],
        &[0x35, 0x2b, 0xff, 0x9a, 0x74, 0xca, 0x9a, 0xd2]
    );
    // And back: 16 hex characters again.
    let back = from_otlp(
        &to_otlp(
            json::decode(format!("[{{{IDS}}}]").as_bytes()).unwrap(),
            &Options::default(),
        ),
        "x",
    );
    let text = String::from_utf8(json::encode(&back)).unwrap();
    assert!(text.contains(r#""traceId":"5af7183fb1d4cf5f""#), "{text}");
}

#[test]
fn timestamps_microseconds_to_nanoseconds() {
    let (_, s, _) = decode_one(
        &format!(r#"[{{{IDS},"timestamp":1700000000123456,"duration":250}}]"#),
        false,
    );
    assert_eq!(s.start_time_unix_nano, 1_700_000_000_123_456_000);
    assert_eq!(s.end_time_unix_nano, 1_700_000_000_123_706_000);
    // Back: whole microseconds, truncated (the specification's 1234 ns → 1 µs).
    let mut o = s.clone();
    o.end_time_unix_nano = o.start_time_unix_nano + 1234;
    let z = span_back(o);
    assert_eq!(
        (z.timestamp, z.duration),
        (Some(1_700_000_000_123_456), Some(1))
    );
}

#[test]
fn absent_timestamp_kept_absent() {
    let (_, s, _) = decode_one(&format!(r#"[{{{IDS},"duration":7}}]"#), false);
    assert_eq!((s.start_time_unix_nano, s.end_time_unix_nano), (0, 7000));
    assert_eq!(
        attr(&s, "otel.zipkin.absentField.startTime"),
        Some(&Value::BoolValue(true))
    );
    let z = span_back(s);
    assert_eq!((z.timestamp, z.duration), (None, Some(7)));
}

fn span_back(s: OtlpSpan) -> Span {
    use ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest;
    use ferrotel_pdata::proto::trace::v1::{ResourceSpans, ScopeSpans};
    let req = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![s],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    from_otlp(&req, "<missing service name>").remove(0)
}

fn tag<'a>(z: &'a Span, key: &str) -> Option<&'a str> {
    z.tags
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

#[test]
fn span_kinds_both_ways() {
    for (zk, ok) in [
        ("CLIENT", SpanKind::Client),
        ("SERVER", SpanKind::Server),
        ("PRODUCER", SpanKind::Producer),
        ("CONSUMER", SpanKind::Consumer),
    ] {
        let (_, s, _) = decode_one(&format!(r#"[{{{IDS},"kind":"{zk}"}}]"#), false);
        assert_eq!(s.kind, ok as i32);
        assert_eq!(span_back(s).kind.map(|k| k.as_str()), Some(zk));
    }
    // INTERNAL: no Zipkin kind (the specification), the Go exporter's span.kind tag.
    let (_, s, _) = decode_one(&format!(r#"[{{{IDS},"kind":null}}]"#), false);
    assert_eq!(s.kind, SpanKind::Unspecified as i32);
    let mut s = s;
    s.kind = SpanKind::Internal as i32;
    let z = span_back(s);
    assert_eq!((z.kind, tag(&z, "span.kind")), (None, Some("internal")));
    let (_, s, _) = decode_one(
        &format!(r#"[{{{IDS},"tags":{{"span.kind":"internal"}}}}]"#),
        false,
    );
    assert_eq!(s.kind, SpanKind::Internal as i32);
}

#[test]
fn annotations_to_events() {
    let (_, s, _) = decode_one(
        &format!(
            r#"[{{{IDS},"annotations":[{{"timestamp":5,"value":"plain"}},{{"timestamp":6,"value":"{{\"retry\": {{\"attempt\": 2, \"why\": \"timeout\", \"ok\": false, \"ratio\": 0.5}}}}"}},{{"timestamp":7,"value":"go|{{\"k\":\"v\"}}|3"}}]}}]"#
        ),
        false,
    );
    assert_eq!(s.events.len(), 3);
    assert_eq!(
        (s.events[0].name.as_str(), s.events[0].time_unix_nano),
        ("plain", 5000)
    );
    assert_eq!(s.events[1].name, "retry");
    let a: Vec<_> = s.events[1]
        .attributes
        .iter()
        .map(|kv| (kv.key.as_str(), kv.value.clone().unwrap().value.unwrap()))
        .collect();
    assert_eq!(
        a,
        vec![
            ("attempt", Value::IntValue(2)),
            ("ok", Value::BoolValue(false)),
            ("ratio", Value::DoubleValue(0.5)),
            ("why", str_v("timeout")),
        ]
    );
    assert_eq!(
        (
            s.events[2].name.as_str(),
            s.events[2].dropped_attributes_count
        ),
        ("go", 3)
    );
    // Back: the specification's `"name": {attributes}` form.
    let z = span_back(s);
    assert_eq!(z.annotations[0].value, "plain");
    assert_eq!(
        z.annotations[1].value,
        r#"{"retry":{"attempt":2,"ok":false,"ratio":0.5,"why":"timeout"}}"#
    );
    assert_eq!(z.annotations[1].timestamp, 6);
}

#[test]
fn tags_to_attributes_and_parse_string_tags() {
    let body = format!(r#"[{{{IDS},"tags":{{"b":"true","i":"123","f":"1.5","s":"x1","n":42}}}}]"#);
    let (_, s, _) = decode_one(&body, false);
    assert_eq!(attr(&s, "b"), Some(&str_v("true")));
    assert_eq!(attr(&s, "n"), Some(&str_v("42")));
    let (_, s, _) = decode_one(&body, true);
    assert_eq!(attr(&s, "b"), Some(&Value::BoolValue(true)));
    assert_eq!(attr(&s, "i"), Some(&Value::IntValue(123)));
    assert_eq!(attr(&s, "f"), Some(&Value::DoubleValue(1.5)));
    assert_eq!(attr(&s, "s"), Some(&str_v("x1")));
    // Back: text, booleans lower-case, arrays as JSON lists.
    let mut s = s;
    s.attributes.push(crate::to_otlp::kv(
        "arr",
        Value::ArrayValue(ferrotel_pdata::proto::common::v1::ArrayValue {
            values: vec![
                ferrotel_pdata::proto::common::v1::AnyValue {
                    value: Some(Value::IntValue(1)),
                },
                ferrotel_pdata::proto::common::v1::AnyValue {
                    value: Some(str_v("a")),
                },
            ],
        }),
    ));
    let z = span_back(s);
    assert_eq!(
        (tag(&z, "b"), tag(&z, "i"), tag(&z, "f"), tag(&z, "arr")),
        (Some("true"), Some("123"), Some("1.5"), Some(r#"[1,"a"]"#))
    );
}

#[test]
fn status_from_tags() {
    let cases = [
        (
            r#"{"otel.status_code":"ERROR","error":"boom"}"#,
            StatusCode::Error,
            "boom",
        ),
        (r#"{"otel.status_code":"OK"}"#, StatusCode::Ok, ""),
        (r#"{"error":"true"}"#, StatusCode::Error, ""),
        (r#"{"error":"db down"}"#, StatusCode::Error, "db down"),
        (r#"{"error":"false"}"#, StatusCode::Unset, ""),
        (
            r#"{"otel.status_code":"ERROR","error":""}"#,
            StatusCode::Error,
            "",
        ),
    ];
    for (tags, code, msg) in cases {
        let (_, s, _) = decode_one(&format!(r#"[{{{IDS},"tags":{tags}}}]"#), false);
        let st = s.status.clone().unwrap_or_default();
        assert_eq!((st.code, st.message.as_str()), (code as i32, msg), "{tags}");
        assert!(attr(&s, "error").is_none() && attr(&s, "otel.status_code").is_none());
        // Back (the specification): code unless UNSET, `error` = description for ERROR only.
        let z = span_back(s);
        match code {
            StatusCode::Error => {
                assert_eq!(
                    (tag(&z, "otel.status_code"), tag(&z, "error")),
                    (Some("ERROR"), Some(msg))
                )
            }
            StatusCode::Ok => assert_eq!(
                (tag(&z, "otel.status_code"), tag(&z, "error")),
                (Some("OK"), None)
            ),
            StatusCode::Unset => assert_eq!(
                (tag(&z, "otel.status_code"), tag(&z, "error")),
                (None, None)
            ),
        }
    }
}

#[test]
fn scope_from_tags() {
    let (_, s, scope) = decode_one(
        &format!(
            r#"[{{{IDS},"timestamp":1,"tags":{{"otel.scope.name":"lib","otel.scope.version":"1.2","otel.library.name":"old"}}}}]"#
        ),
        false,
    );
    assert_eq!(scope, Some(("lib".into(), "1.2".into())));
    assert!(s.attributes.is_empty(), "{:?}", s.attributes);
    let (_, _, scope) = decode_one(
        &format!(r#"[{{{IDS},"tags":{{"otel.library.name":"old"}}}}]"#),
        false,
    );
    assert_eq!(scope, Some(("old".into(), "".into())));
}

#[test]
fn remote_endpoint_to_peer_attributes() {
    let (_, s, _) = decode_one(
        &format!(
            r#"[{{{IDS},"kind":"CLIENT","remoteEndpoint":{{"serviceName":"db","ipv4":"10.0.0.7","port":5432}},"localEndpoint":{{"serviceName":"api","ipv6":"::1","port":8080}}}}]"#
        ),
        false,
    );
    assert_eq!(attr(&s, "peer.service"), Some(&str_v("db")));
    assert_eq!(attr(&s, "network.peer.address"), Some(&str_v("10.0.0.7")));
    assert_eq!(attr(&s, "network.peer.port"), Some(&Value::IntValue(5432)));
    assert_eq!(attr(&s, "network.local.address"), Some(&str_v("::1")));
    assert_eq!(attr(&s, "network.local.port"), Some(&Value::IntValue(8080)));
    let z = span_back(s);
    let r = z.remote_endpoint.clone().unwrap();
    assert_eq!(
        (
            r.service_name.as_str(),
            r.ipv4.map(|a| a.to_string()),
            r.port
        ),
        ("db", Some("10.0.0.7".into()), 5432)
    );
    assert!(tag(&z, "peer.service").is_none() && tag(&z, "network.peer.address").is_none());
    let l = z.local_endpoint.unwrap();
    assert_eq!(
        (l.ipv6.map(|a| a.to_string()), l.port),
        (Some("::1".into()), 8080)
    );
}

#[test]
fn remote_endpoint_from_server_address_and_legacy_net_peer() {
    let (_, mut s, _) = decode_one(&format!(r#"[{{{IDS},"kind":"CLIENT"}}]"#), false);
    s.attributes = vec![
        crate::to_otlp::kv("server.address", str_v("db.local")),
        crate::to_otlp::kv("net.peer.ip", str_v("192.0.2.1")),
        crate::to_otlp::kv("net.peer.port", Value::IntValue(3306)),
    ];
    let z = span_back(s);
    let r = z.remote_endpoint.clone().unwrap();
    assert_eq!(
        (
            r.service_name.as_str(),
            r.ipv4.map(|a| a.to_string()),
            r.port
        ),
        ("db.local", Some("192.0.2.1".into()), 3306)
    );
    assert_eq!(tag(&z, "server.address"), Some("db.local"));
    // In again: server.address stays what it was, no invented peer.service.
    let back = to_otlp(vec![z], &Options::default());
    let s = &back.resource_spans[0].scope_spans[0].spans[0];
    assert!(attr(s, "peer.service").is_none());
    assert_eq!(attr(s, "network.peer.address"), Some(&str_v("192.0.2.1")));
}

#[test]
fn shared_flag() {
    let (_, s, _) = decode_one(
        &format!(r#"[{{{IDS},"kind":"SERVER","shared":true}}]"#),
        false,
    );
    assert_eq!(attr(&s, "zipkin.shared"), Some(&Value::BoolValue(true)));
    let z = span_back(s);
    assert!(z.shared && tag(&z, "zipkin.shared").is_none());
}

#[test]
fn dropped_counts_tags() {
    let (_, s, _) = decode_one(
        &format!(
            r#"[{{{IDS},"timestamp":1,"tags":{{"otel.dropped_attributes_count":"3","otel.dropped_events_count":"4","otel.dropped_links_count":"5"}}}}]"#
        ),
        false,
    );
    assert_eq!(
        (
            s.dropped_attributes_count,
            s.dropped_events_count,
            s.dropped_links_count
        ),
        (3, 4, 5)
    );
    assert!(s.attributes.is_empty());
    let z = span_back(s);
    assert_eq!(
        (
            tag(&z, "otel.dropped_attributes_count"),
            tag(&z, "otel.dropped_events_count"),
            tag(&z, "otel.dropped_links_count")
        ),
        (Some("3"), Some("4"), Some("5"))
    );
}

#[test]
fn trace_state_links_and_parent() {
    let (_, s, _) = decode_one(
        &format!(
            r#"[{{{IDS},"parentId":"0000000000000001","tags":{{"w3c.tracestate":"a=1","otlp.link.0":"0af7651916cd43dd8448eb211c80319c|b7ad6b7169203331|x=y|{{\"k\":\"v\"}}|2"}}}}]"#
        ),
        false,
    );
    assert_eq!(s.trace_state, "a=1");
    assert_eq!(&s.parent_span_id[..], &[0, 0, 0, 0, 0, 0, 0, 1]);
    assert_eq!(s.links.len(), 1);
    assert_eq!(
        (
            s.links[0].trace_state.as_str(),
            s.links[0].dropped_attributes_count
        ),
        ("x=y", 2)
    );
    let z = span_back(s);
    assert_eq!(tag(&z, "w3c.tracestate"), Some("a=1"));
    assert_eq!(
        tag(&z, "otlp.link.0"),
        Some(r#"0af7651916cd43dd8448eb211c80319c|b7ad6b7169203331|x=y|{"k":"v"}|2"#)
    );
}

#[test]
fn default_service_name_when_resource_has_none() {
    let (_, mut s, _) = decode_one(&format!("[{{{IDS}}}]"), false);
    s.attributes.clear();
    assert_eq!(
        span_back(s).local_endpoint.unwrap().service_name,
        "<missing service name>"
    );
}

#[test]
fn service_name_fallbacks_and_their_source_tag_round_trip() {
    use ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest;
    use ferrotel_pdata::proto::common::v1::{AnyValue, KeyValue};
    use ferrotel_pdata::proto::resource::v1::Resource;
    use ferrotel_pdata::proto::trace::v1::{ResourceSpans, ScopeSpans};
    let (_, s, _) = decode_one(&format!("[{{{IDS}}}]"), false);
    let request = |attrs: &[(&str, &str)]| ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: attrs
                    .iter()
                    .map(|(k, v)| KeyValue {
                        key: (*k).into(),
                        value: Some(AnyValue {
                            value: Some(str_v(v)),
                        }),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: vec![s.clone()],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    // The Go translator's order: service.name, faas.name, k8s.deployment.name,
    // process.executable.name; an empty service.name does not count.
    for (attrs, name, source) in [
        (
            vec![("service.name", "api"), ("faas.name", "f")],
            "api",
            None,
        ),
        (
            vec![
                ("service.name", ""),
                ("faas.name", "f"),
                ("k8s.deployment.name", "d"),
            ],
            "f",
            Some("faas.name"),
        ),
        (
            vec![
                ("k8s.deployment.name", "d"),
                ("process.executable.name", "p"),
            ],
            "d",
            Some("k8s.deployment.name"),
        ),
        (
            vec![("process.executable.name", "p")],
            "p",
            Some("process.executable.name"),
        ),
        (vec![("host.name", "h")], "<missing service name>", None),
    ] {
        let z = from_otlp(&request(&attrs), "<missing service name>").remove(0);
        assert_eq!(
            z.local_endpoint.as_ref().unwrap().service_name,
            name,
            "{attrs:?}"
        );
        assert_eq!(tag(&z, "otlp.service.name.source"), source, "{attrs:?}");
        assert_eq!(tag(&z, source.unwrap_or("service.name")), None, "{attrs:?}");
        // Back to OTLP: the name returns under the attribute it came from.
        let back = to_otlp(vec![z], &Options::default());
        let res: Vec<(String, Value)> = back.resource_spans[0]
            .resource
            .iter()
            .flat_map(|r| &r.attributes)
            .map(|kv| (kv.key.clone(), kv.value.clone().unwrap().value.unwrap()))
            .collect();
        if name != "<missing service name>" {
            let key = source.unwrap_or("service.name");
            assert!(
                res.contains(&(key.to_owned(), str_v(name))),
                "{attrs:?} -> {res:?}"
            );
        }
        assert!(
            !back.resource_spans[0].scope_spans[0].spans[0]
                .attributes
                .iter()
                .any(|kv| kv.key == "otlp.service.name.source"),
            "the source tag is consumed"
        );
    }
}

#[test]
fn proto_and_json_agree() {
    let body = format!(
        r#"[{{{IDS},"parentId":"0000000000000002","kind":"CLIENT","name":"get","timestamp":10,"duration":5,"localEndpoint":{{"serviceName":"a","ipv4":"1.2.3.4"}},"remoteEndpoint":{{"serviceName":"b","port":80}},"annotations":[{{"timestamp":11,"value":"x"}}],"tags":{{"k":"v"}},"shared":true,"debug":true}}]"#
    );
    let spans = json::decode(body.as_bytes()).unwrap();
    let via_proto = proto::decode(&proto::encode(&spans)).unwrap();
    assert_eq!(spans, via_proto);
    let via_json = json::decode(&json::encode(&spans)).unwrap();
    assert_eq!(spans, via_json);
}

#[test]
fn v1_client_and_server_halves() {
    let body = r#"[{"traceId":"5af7183fb1d4cf5f","id":"352bff9a74ca9ad2","name":"get",
      "annotations":[
        {"timestamp":100,"value":"cs","endpoint":{"serviceName":"front","ipv4":"10.0.0.1"}},
        {"timestamp":110,"value":"sr","endpoint":{"serviceName":"back","ipv4":"10.0.0.2"}},
        {"timestamp":150,"value":"ss","endpoint":{"serviceName":"back","ipv4":"10.0.0.2"}},
        {"timestamp":160,"value":"cr","endpoint":{"serviceName":"front","ipv4":"10.0.0.1"}},
        {"timestamp":120,"value":"cache miss","endpoint":{"serviceName":"back"}}],
      "binaryAnnotations":[{"key":"http.path","value":"/a","endpoint":{"serviceName":"front"}},
        {"key":"sa","value":true,"endpoint":{"serviceName":"back","port":9000}}]}]"#;
    let spans = v1::decode(body.as_bytes()).unwrap();
    assert_eq!(spans.len(), 2);
    let (c, s) = (&spans[0], &spans[1]);
    assert_eq!(
        (c.kind, c.timestamp, c.duration, c.shared),
        (Some(crate::model::Kind::Client), Some(100), Some(60), false)
    );
    assert_eq!(c.local_endpoint.as_ref().unwrap().service_name, "front");
    assert_eq!(c.remote_endpoint.as_ref().unwrap().port, 9000);
    assert_eq!(c.tags, vec![("http.path".to_string(), "/a".to_string())]);
    assert_eq!(
        (s.kind, s.timestamp, s.duration, s.shared),
        (Some(crate::model::Kind::Server), Some(110), Some(40), true)
    );
    assert_eq!(s.local_endpoint.as_ref().unwrap().service_name, "back");
    assert_eq!(s.id, c.id);
}
