//! CPU per span of the `spanmetrics` connector: a request of 10 resources × 100 spans (20 span
//! names, 3 kinds, 1 in 10 with an error status, 5 attributes, 2 of them configured as
//! dimensions), as a receiver hands it over (protobuf bytes), decoded and aggregated — what
//! `consume` does per payload. Variants: defaults (explicit histogram); with exemplars;
//! exponential histogram. Flushing is outside the loop (it runs once per flush interval).
//!
//! Criterion reports time per 1000-span request; divide by 1000 for ns/span.
//!
//! Run: `cargo bench -p ferrotel-components --bench connectors -- --warm-up-time 1 --measurement-time 3`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ferrotel_components::connectors::spanmetrics::{Aggregator, SpanMetricsConfig};
use ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_pdata::proto::common::v1::{AnyValue, KeyValue, any_value};
use ferrotel_pdata::proto::resource::v1::Resource;
use ferrotel_pdata::proto::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use ferrotel_pdata::{Payload, Request, Signal};

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

fn request() -> bytes::Bytes {
    let resource_spans = (0..10)
        .map(|r| ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", &format!("service-{r}")),
                    kv("host.name", &format!("host-{r}")),
                ],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: (0..100u64)
                    .map(|i| Span {
                        trace_id: vec![(i % 251) as u8 + 1; 16].into(),
                        span_id: vec![(i % 251) as u8 + 1; 8].into(),
                        name: format!("operation-{}", i % 20),
                        kind: (i % 3) as i32 + 1,
                        start_time_unix_nano: 1_700_000_000_000_000_000,
                        end_time_unix_nano: 1_700_000_000_000_000_000
                            + (i * 7919 % 2000) * 1_000_000,
                        status: Some(Status {
                            code: if i % 10 == 0 { 2 } else { 0 },
                            ..Default::default()
                        }),
                        attributes: vec![
                            kv("http.method", if i % 2 == 0 { "GET" } else { "POST" }),
                            kv("http.route", &format!("/api/{}", i % 20)),
                            kv("http.status_code", if i % 10 == 0 { "500" } else { "200" }),
                            kv("user_agent.original", "Mozilla/5.0 (X11; Linux x86_64)"),
                            kv("net.peer.name", "db.internal"),
                        ],
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        })
        .collect();
    Request::Traces(ExportTraceServiceRequest { resource_spans }).encode_proto()
}

fn config(yaml: &str) -> SpanMetricsConfig {
    let node = ferrotel_runtime::config::node::parse_yaml(yaml, "bench.yaml").unwrap();
    ferrotel_runtime::config::decode(&node).unwrap()
}

fn bench(c: &mut Criterion) {
    let bytes = request();
    let mut g = c.benchmark_group("spanmetrics");
    g.throughput(Throughput::Elements(1000));
    let dims = "dimensions: [{name: http.method}, {name: http.status_code}]";
    for (name, yaml) in [
        ("defaults", dims.to_string()),
        (
            "exemplars",
            format!("{dims}\nexemplars: {{enabled: true, max_per_data_point: 5}}"),
        ),
        (
            "exponential",
            format!("{dims}\nhistogram: {{exponential: {{max_size: 160}}}}"),
        ),
    ] {
        let mut agg = Aggregator::new(config(&yaml), 0);
        g.bench_function(name, |b| {
            b.iter(|| {
                let p = Payload::from_proto(Signal::Traces, bytes.clone()).unwrap();
                let Request::Traces(t) = p.into_request().unwrap() else {
                    unreachable!()
                };
                agg.add(&t, 1);
            })
        });
        // Every series created by the loop is reported by one flush.
        assert!(agg.flush(2).is_some());
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
