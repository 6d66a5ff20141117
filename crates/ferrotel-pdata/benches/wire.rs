//! Shallow protobuf operations against prost on a realistic traces request:
//! 100 resources × 10 spans × 10 attributes, with events and links.

use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_pdata::proto::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use ferrotel_pdata::proto::resource::v1::Resource;
use ferrotel_pdata::proto::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};
use ferrotel_pdata::{Signal, wire};
use prost::Message;

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn request() -> ExportTraceServiceRequest {
    use any_value::Value::*;
    let resource_spans = (0..100u64)
        .map(|r| ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", StringValue(format!("service-{}", r % 7))),
                    kv("service.instance.id", StringValue(format!("{r:032x}"))),
                    kv(
                        "host.name",
                        StringValue(format!("host-{r}.example.internal")),
                    ),
                    kv("k8s.pod.name", StringValue(format!("pod-{r}-abcde"))),
                ],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "io.opentelemetry.http".into(),
                    version: "1.2.3".into(),
                    ..Default::default()
                }),
                spans: (0..10u64)
                    .map(|s| {
                        let t = 1_700_000_000_000_000_000 + r * 1000 + s;
                        Span {
                            trace_id: Bytes::from((r * 10 + s / 3).to_be_bytes().repeat(2)),
                            span_id: Bytes::from((r * 10 + s).to_be_bytes().to_vec()),
                            parent_span_id: Bytes::from((r * 10).to_be_bytes().to_vec()),
                            name: format!("GET /api/v1/items/{s}"),
                            kind: 2,
                            start_time_unix_nano: t,
                            end_time_unix_nano: t + 1_234_567,
                            attributes: vec![
                                kv("http.request.method", StringValue("GET".into())),
                                kv("http.route", StringValue("/api/v1/items/{id}".into())),
                                kv("http.response.status_code", IntValue(200)),
                                kv("url.full", StringValue(format!("https://x.test/items/{s}"))),
                                kv("server.address", StringValue("x.test".into())),
                                kv("server.port", IntValue(443)),
                                kv("network.protocol.version", StringValue("1.1".into())),
                                kv("user_agent.original", StringValue("curl/8.5.0".into())),
                                kv("sampled", BoolValue(true)),
                                kv("duration_ratio", DoubleValue(0.25)),
                            ],
                            events: vec![span::Event {
                                time_unix_nano: t + 10,
                                name: "exception".into(),
                                attributes: vec![
                                    kv("exception.type", StringValue("IOError".into())),
                                    kv("exception.message", StringValue("reset".into())),
                                ],
                                ..Default::default()
                            }],
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
            schema_url: "https://opentelemetry.io/schemas/1.26.0".into(),
        })
        .collect();
    ExportTraceServiceRequest { resource_spans }
}

fn bench(c: &mut Criterion) {
    let req = request();
    let bytes = Bytes::from(req.encode_to_vec());
    let items = 1000u64;
    let mut g = c.benchmark_group("wire");
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("prost_decode", |b| {
        b.iter(|| ExportTraceServiceRequest::decode(black_box(bytes.clone())).unwrap())
    });
    g.bench_function("prost_encode", |b| {
        b.iter(|| black_box(&req).encode_to_vec())
    });
    g.bench_function("validate", |b| {
        b.iter(|| wire::validate(Signal::Traces, black_box(&bytes)).unwrap())
    });
    g.bench_function("count", |b| {
        b.iter(|| wire::count(Signal::Traces, black_box(&bytes)).unwrap())
    });
    g.bench_function("split_512", |b| {
        b.iter(|| wire::split(Signal::Traces, black_box(&bytes), 512).unwrap())
    });
    g.bench_function("for_each_trace_id", |b| {
        b.iter(|| {
            let mut x = 0u8;
            wire::for_each_trace_id(black_box(&bytes), |id| x ^= id[15]).unwrap();
            x
        })
    });
    g.bench_function("split_by_trace_id", |b| {
        b.iter(|| wire::split_by_trace_id(black_box(&bytes)).unwrap())
    });
    // Merging 10 requests: throughput counts the input bytes of all ten.
    let parts = vec![bytes.clone(); 10];
    g.throughput(Throughput::Bytes(bytes.len() as u64 * 10));
    g.bench_function("merge_10", |b| {
        b.iter(|| wire::merge(Signal::Traces, black_box(&parts)).unwrap())
    });
    g.finish();

    let mut g = c.benchmark_group("wire_items");
    g.throughput(Throughput::Elements(items));
    g.bench_function("prost_decode", |b| {
        b.iter(|| ExportTraceServiceRequest::decode(black_box(bytes.clone())).unwrap())
    });
    g.bench_function("validate", |b| {
        b.iter(|| wire::validate(Signal::Traces, black_box(&bytes)).unwrap())
    });
    g.bench_function("count", |b| {
        b.iter(|| wire::count(Signal::Traces, black_box(&bytes)).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
