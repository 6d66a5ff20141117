//! OTLP/JSON decode and encode throughput on a realistic trace request:
//! 100 resource spans × 10 spans × 10 attributes (≈1 MB of JSON), and JSON → protobuf
//! (decode + prost encode against `json::transcode`) on the same request.

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_pdata::proto::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use ferrotel_pdata::proto::resource::v1::Resource;
use ferrotel_pdata::proto::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use ferrotel_pdata::{Request, Signal, json};
use std::hint::black_box;

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value: Some(value) }),
        key_strindex: 0,
    }
}

/// A trace request shaped like real SDK output: string-heavy attributes, a few ints,
/// doubles and bools, hex ids and nanosecond timestamps.
fn request() -> Request {
    use any_value::Value::*;
    let resource_spans = (0..100u64)
        .map(|r| ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", StringValue(format!("service-{r}"))),
                    kv("service.version", StringValue("1.4.2".into())),
                    kv(
                        "host.name",
                        StringValue(format!("host-{}.example.internal", r % 7)),
                    ),
                ],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "io.opentelemetry.http".into(),
                    version: "2.1.0".into(),
                    ..Default::default()
                }),
                spans: (0..10u64)
                    .map(|s| {
                        let n = r * 10 + s;
                        Span {
                            trace_id: (n as u128 * 0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835)
                                .to_be_bytes()
                                .to_vec()
                                .into(),
                            span_id: (n * 0x9E37_79B9_7F4A_7C15).to_be_bytes().to_vec().into(),
                            parent_span_id: (n * 0x2545_F491_4F6C_DD1D)
                                .to_be_bytes()
                                .to_vec()
                                .into(),
                            name: format!("GET /api/v1/items/{s}"),
                            kind: 2,
                            start_time_unix_nano: 1_700_000_000_000_000_000 + n * 1_000_000,
                            end_time_unix_nano: 1_700_000_000_000_000_000 + n * 1_000_000 + 250_000,
                            attributes: vec![
                                kv("http.request.method", StringValue("GET".into())),
                                kv("url.path", StringValue(format!("/api/v1/items/{s}"))),
                                kv("url.scheme", StringValue("https".into())),
                                kv("http.response.status_code", IntValue(200)),
                                kv("server.address", StringValue("api.example.com".into())),
                                kv("server.port", IntValue(443)),
                                kv("network.protocol.version", StringValue("1.1".into())),
                                kv(
                                    "user_agent.original",
                                    StringValue("Mozilla/5.0 (X11; Linux x86_64) \"bench\"".into()),
                                ),
                                kv("app.cache_hit", BoolValue(s % 2 == 0)),
                                kv("app.score", DoubleValue(0.125 * s as f64 + 3.7)),
                            ],
                            status: Some(Status {
                                message: String::new(),
                                code: 1,
                            }),
                            ..Default::default()
                        }
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        })
        .collect();
    Request::Traces(ExportTraceServiceRequest { resource_spans })
}

/// JSON → protobuf through the prost structs (dropped before returning). Not inlined, so
/// callgrind can attribute instructions to it (scripts/json-instructions).
#[inline(never)]
fn via_structs(json: &[u8]) -> Bytes {
    json::decode(Signal::Traces, json).unwrap().encode_proto()
}

/// JSON → protobuf with the transcoder. Not inlined, like [`via_structs`].
#[inline(never)]
fn direct(json: &[u8]) -> Bytes {
    json::transcode(Signal::Traces, json).unwrap()
}

fn bench(c: &mut Criterion) {
    let request = request();
    let encoded = json::encode(&request);
    assert_eq!(json::decode(Signal::Traces, &encoded).unwrap(), request);

    let mut group = c.benchmark_group("json_traces_1000_spans");
    group.throughput(Throughput::Bytes(encoded.len() as u64));
    group.bench_function("decode", |b| {
        b.iter(|| json::decode(Signal::Traces, black_box(&encoded)).unwrap())
    });
    group.bench_function("encode", |b| b.iter(|| json::encode(black_box(&request))));
    group.finish();

    // JSON in, protobuf out, as the OTLP/HTTP receiver does it: the old way (decode into the
    // prost structs, then encode) against the direct transcoder. Throughput in elements, so
    // criterion reports spans/s; time per span = time per iteration / 1000.
    let transcoded = json::transcode(Signal::Traces, &encoded).unwrap();
    assert_eq!(
        Request::decode_proto(Signal::Traces, transcoded).unwrap(),
        request
    );
    let mut group = c.benchmark_group("json_to_proto_1000_spans");
    group.throughput(Throughput::Elements(request.item_count() as u64));
    group.bench_function("decode_encode", |b| {
        b.iter(|| via_structs(black_box(&encoded)))
    });
    group.bench_function("transcode", |b| b.iter(|| direct(black_box(&encoded))));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
