//! Instructions per span of the receiver's decode, reference path against the direct path,
//! on a request shaped like the benchmark load generator's (100 spans of one service: nine
//! resource attributes copied onto every span as tags by the zipkin exporter, a server root
//! with HTTP attributes, client children, an event on one span in five, a link on one in
//! ten, five 20-character attributes on each). Run under callgrind twice and subtract (docs/benchmarks.md, "Zipkin ingest"):
//!
//!     valgrind --tool=callgrind target/release/examples/decode_cost json direct 1
//!     valgrind --tool=callgrind target/release/examples/decode_cost json direct 101

use ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_pdata::proto::common::v1::{AnyValue, KeyValue, any_value::Value};
use ferrotel_pdata::proto::resource::v1::Resource;
use ferrotel_pdata::proto::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};
use ferrotel_zipkin::receiver::{Format, decode, decode_payload};
use ferrotel_zipkin::to_otlp::Options;
use ferrotel_zipkin::{from_otlp, json, proto};

fn kv(k: &str, v: Value) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

fn s(k: &str, v: &str) -> KeyValue {
    kv(k, Value::StringValue(v.into()))
}

fn request() -> ExportTraceServiceRequest {
    let resource = [
        ("service.name", "loadgen-service-3"),
        ("service.namespace", "ferrotel-bench"),
        ("service.version", "1.4.2"),
        ("service.instance.id", "instance-0003"),
        ("host.name", "host-3"),
        ("deployment.environment.name", "benchmark"),
        ("telemetry.sdk.name", "opentelemetry"),
        ("telemetry.sdk.language", "rust"),
        ("telemetry.sdk.version", "0.30.0"),
    ];
    let spans = (0..100u64)
        .map(|k| {
            let root = k % 8 == 0;
            let mut attributes = if root {
                vec![
                    s("http.request.method", "GET"),
                    s("url.path", &format!("/api/v1/items/{}", 1000 + k)),
                    kv("http.response.status_code", Value::IntValue(200)),
                ]
            } else {
                vec![s("db.system.name", "postgresql")]
            };
            // The load generator's five `attr.N` of 20 random characters.
            for a in 0..5u64 {
                let text: String = (0..20u64)
                    .map(|c| char::from(b'a' + ((k * 7 + a * 3 + c) % 26) as u8))
                    .collect();
                attributes.push(s(&format!("attr.{a}"), &text));
            }
            let start = 1_733_550_000_000_000_000 + k * 20_000;
            let events = if k % 5 == 0 {
                vec![span::Event {
                    time_unix_nano: start + 1000,
                    name: "cache miss".into(),
                    attributes: vec![kv("cache.entries", Value::IntValue(k as i64))],
                    ..Default::default()
                }]
            } else {
                Vec::new()
            };
            let links = if k % 10 == 3 {
                vec![span::Link {
                    trace_id: vec![7; 16].into(),
                    span_id: vec![9; 8].into(),
                    attributes: vec![s("link.reason", "batch")],
                    ..Default::default()
                }]
            } else {
                Vec::new()
            };
            Span {
                trace_id: [[1u8; 8], (k / 8 + 1).to_be_bytes()].concat().into(),
                span_id: (k + 1).to_be_bytes().to_vec().into(),
                parent_span_id: if root {
                    Default::default()
                } else {
                    (k - k % 8 + 1).to_be_bytes().to_vec().into()
                },
                name: if root {
                    "GET /api/v1/items/{id}"
                } else {
                    "SELECT items"
                }
                .into(),
                kind: if root { 2 } else { 3 },
                start_time_unix_nano: start,
                end_time_unix_nano: start + 2_000_000,
                attributes,
                events,
                links,
                status: root.then(|| Status {
                    code: 1,
                    ..Default::default()
                }),
                ..Default::default()
            }
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: resource.iter().map(|(k, v)| s(k, v)).collect(),
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (format, path, n) = match args.as_slice() {
        [_, f, p, n] => (f.as_str(), p.as_str(), n.parse::<usize>().expect("a count")),
        _ => panic!("usage: decode_cost json|proto direct|reference ITERATIONS"),
    };
    let spans = from_otlp::from_otlp(&request(), "loadgen");
    let (format, body) = match format {
        "json" => (Format::V2Json, json::encode(&spans)),
        _ => (Format::V2Proto, proto::encode(&spans)),
    };
    let opts = Options::default();
    let mut items = 0;
    for _ in 0..n {
        items += match path {
            "direct" => decode_payload(format, &body, &opts)
                .expect("decodes")
                .items(),
            _ => {
                let r = decode(format, &body, &opts).expect("decodes");
                // What the receiver did with it: a payload, whose bytes the exporter sends.
                let p = ferrotel_pdata::Payload::from_request(ferrotel_pdata::Request::Traces(r));
                std::hint::black_box(p.to_proto());
                p.items()
            }
        };
    }
    println!("{} bytes, {items} spans", body.len());
}
