//! Per-span cost of the processors on a request of 100 resources × 10 spans with 10 attributes
//! each (≈ 300 bytes per span), as a receiver hands it over (validated protobuf bytes):
//!
//! - `attributes` with 3 actions and `resource` with 2, edited on the wire (`*_wire`: the
//!   path a pipeline takes), on an already decoded request (`*_decoded`: the path after a
//!   processor that decoded, decode not timed), and decode + edit + encode (`*_decode_encode`:
//!   what the wire path saves);
//! - `batch` on its own: 1000-span requests into 8192-span batches (merge and hand-off);
//! - every processor through `consume_*`: received bytes in, the protobuf encoding an exporter
//!   sends out (decode and re-encode included where the processor needs them);
//! - one upsert on log records of a 1 KiB body and 5 attributes (the least favourable shape
//!   for the wire edit's key search: many bytes per attribute);
//! - one upsert and one update on spans as an HTTP server instrumentation sends them
//!   (`*_full_spans`: parent id, kind, timestamps, flags, status, semantic-convention
//!   attributes; ≈ 440 bytes per span).
//!
//! Criterion reports time per 1000-span request; divide by 1000 for ns/span.
//!
//! Run: `cargo bench -p ferrotel-components --bench processors -- --warm-up-time 1 --measurement-time 3`

use std::sync::Arc;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use ferrotel_components::processors::attributes::{AttributesConfig, AttributesProcessor};
use ferrotel_components::processors::batch::{BatchConfig, BatchProcessorFactory};
use ferrotel_components::processors::filter::FilterProcessorFactory;
use ferrotel_components::processors::memory_limiter::MemoryLimiterFactory;
use ferrotel_components::processors::probabilistic_sampler::ProbabilisticSamplerFactory;
use ferrotel_components::processors::resource::{ResourceConfig, ResourceProcessor};
use ferrotel_components::processors::transform::TransformProcessorFactory;
use ferrotel_pdata::proto::collector::logs::v1::ExportLogsServiceRequest;
use ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_pdata::proto::common::v1::InstrumentationScope;
use ferrotel_pdata::proto::common::v1::{AnyValue, KeyValue, any_value};
use ferrotel_pdata::proto::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use ferrotel_pdata::proto::resource::v1::Resource;
use ferrotel_pdata::proto::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use ferrotel_pdata::{Payload, Request, Signal};
use ferrotel_runtime::*;

const RESOURCES: usize = 100;
const SPANS: usize = 10;

fn attr(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

fn request() -> Request {
    let attrs = |prefix: &str| -> Vec<KeyValue> {
        (0..10)
            .map(|i| attr(&format!("{prefix}.attr.{i}"), &format!("value-{i}")))
            .collect()
    };
    Request::Traces(ExportTraceServiceRequest {
        resource_spans: (0..RESOURCES)
            .map(|r| ResourceSpans {
                resource: Some(Resource {
                    attributes: attrs("res"),
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    spans: (0..SPANS)
                        .map(|s| Span {
                            trace_id: vec![r as u8; 16].into(),
                            span_id: vec![s as u8 + 1; 8].into(),
                            name: format!("span-{s}"),
                            attributes: attrs("span"),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect(),
    })
}

/// The next stage: accepts and drops (only the batch bench hands data on).
struct Sink;
impl Consumer for Sink {
    fn consume(&self, _p: Payload, _c: Context) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async { Ok(()) })
    }
}

fn ctx(id: &str) -> CreateContext {
    CreateContext {
        id: id.parse().unwrap(),
        kind: Kind::Processor,
        pipeline: Some("traces".parse().unwrap()),
        telemetry: Telemetry::new(),
        extensions: Arc::new(Vec::new()),
    }
}

fn yaml<T: serde::de::DeserializeOwned>(text: &str) -> T {
    let node = ferrotel_runtime::config::node::parse_yaml(text, "bench.yaml").unwrap();
    ferrotel_runtime::config::decode(&node).unwrap()
}

fn bench(c: &mut Criterion) {
    let spans = (RESOURCES * SPANS) as u64;
    let mut g = c.benchmark_group("processors");
    g.throughput(Throughput::Elements(spans));

    // Three actions: an update of an existing key, an insert of a new one, a delete.
    let cfg: AttributesConfig = yaml(
        "actions:\n  - {key: span.attr.3, value: redacted, action: update}\n  - {key: env, value: prod, action: insert}\n  - {key: span.attr.7, action: delete}\n",
    );
    let attributes =
        AttributesProcessor::build(&ctx("attributes"), cfg, Signal::Traces, Arc::new(Sink))
            .unwrap();
    // Each iteration edits a request decoded from the wire, as the processor gets it in a
    // pipeline (decoding is setup, not timed). Decoded vectors have prost's growth capacity,
    // unlike a `clone()`, whose exact-fit vectors would make every insert reallocate.
    let wire = request().encode_proto();
    let input = || Request::decode_proto(Signal::Traces, wire.clone()).unwrap();
    let no_client = Context::default();
    let received = Payload::from_proto(Signal::Traces, wire.clone()).unwrap();
    g.bench_function("attributes_3_actions_wire", |b| {
        b.iter_batched_ref(
            || received.clone(),
            |p| assert!(attributes.apply_encoded(p, &no_client)),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("attributes_3_actions_decode_encode", |b| {
        b.iter(|| {
            let mut req = Request::decode_proto(Signal::Traces, wire.clone()).unwrap();
            attributes.apply(&mut req, &no_client);
            req.encode_proto()
        })
    });
    g.bench_function("attributes_3_actions_decoded", |b| {
        b.iter_batched_ref(
            input,
            |req| attributes.apply(req, &no_client),
            BatchSize::LargeInput,
        )
    });

    // Two actions on resource attributes: an upsert and a delete.
    let cfg: ResourceConfig = yaml(
        "attributes:\n  - {key: deployment.environment, value: prod, action: upsert}\n  - {key: res.attr.2, action: delete}\n",
    );
    let resource =
        ResourceProcessor::build(&ctx("resource"), cfg, Signal::Traces, Arc::new(Sink)).unwrap();
    g.bench_function("resource_2_actions_wire", |b| {
        b.iter_batched_ref(
            || received.clone(),
            |p| assert!(resource.apply_encoded(p, &no_client)),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("resource_2_actions_decoded", |b| {
        b.iter_batched_ref(
            input,
            |req| resource.apply(req, &no_client),
            BatchSize::LargeInput,
        )
    });

    // batch alone: requests go into the pending batch; every ninth completes 8192 spans and
    // is merged (one copy) and handed to the next stage. No timer runs (not started).
    let batch = BatchProcessorFactory
        .create(
            ctx("batch"),
            yaml::<BatchConfig>("send_batch_size: 8192\n"),
            Signal::Traces,
            Arc::new(Sink),
        )
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    g.bench_function("batch_8192", |b| {
        b.iter(|| {
            rt.block_on(batch.consume(received.clone(), Context::default()))
                .unwrap()
        })
    });

    // Every processor through `consume`, from the received bytes to what the next stage gets,
    // which here encodes it as an exporter would (free for a payload still encoded): the
    // per-span cost a pipeline pays for the processor, decode and re-encode included.
    let consume_cases: Vec<(&str, Arc<dyn Processor>)> = vec![
        (
            "attributes_3_actions",
            Arc::new(
                AttributesProcessor::build(
                    &ctx("attributes"),
                    yaml("actions:\n  - {key: span.attr.3, value: redacted, action: update}\n  - {key: env, value: prod, action: insert}\n  - {key: span.attr.7, action: delete}\n"),
                    Signal::Traces,
                    Arc::new(EncodingSink),
                )
                .unwrap(),
            ),
        ),
        (
            // The most common edit: one key set on every span.
            "attributes_1_upsert",
            Arc::new(
                AttributesProcessor::build(
                    &ctx("attributes"),
                    yaml("actions:\n  - {key: env, value: prod, action: upsert}\n"),
                    Signal::Traces,
                    Arc::new(EncodingSink),
                )
                .unwrap(),
            ),
        ),
        (
            // One key every span has: each span is walked to find it.
            "attributes_1_update",
            Arc::new(
                AttributesProcessor::build(
                    &ctx("attributes"),
                    yaml("actions:\n  - {key: span.attr.3, value: redacted, action: update}\n"),
                    Signal::Traces,
                    Arc::new(EncodingSink),
                )
                .unwrap(),
            ),
        ),
        (
            // A pattern makes every key a candidate: each attribute is parsed and matched.
            "attributes_pattern_delete",
            Arc::new(
                AttributesProcessor::build(
                    &ctx("attributes"),
                    yaml("actions:\n  - {pattern: '^span\\.attr\\.[37]$', action: delete}\n"),
                    Signal::Traces,
                    Arc::new(EncodingSink),
                )
                .unwrap(),
            ),
        ),
        (
            "resource_2_actions",
            Arc::new(
                ResourceProcessor::build(
                    &ctx("resource"),
                    yaml("attributes:\n  - {key: deployment.environment, value: prod, action: upsert}\n  - {key: res.attr.2, action: delete}\n"),
                    Signal::Traces,
                    Arc::new(EncodingSink),
                )
                .unwrap(),
            ),
        ),
        (
            "memory_limiter",
            create(
                MemoryLimiterFactory,
                "memory_limiter",
                "check_interval: 1s\nlimit_mib: 4000\n",
            ),
        ),
        (
            "filter_ottl_span_condition",
            create(
                FilterProcessorFactory,
                "filter",
                "error_mode: ignore\ntraces:\n  span:\n    - 'attributes[\"span.attr.3\"] == \"drop-me\"'\n",
            ),
        ),
        (
            "transform_set_attribute",
            create(
                TransformProcessorFactory,
                "transform",
                "trace_statements:\n  - 'set(span.attributes[\"env\"], \"prod\")'\n",
            ),
        ),
        (
            "probabilistic_sampler_50pct",
            create(
                ProbabilisticSamplerFactory,
                "probabilistic_sampler",
                "sampling_percentage: 50\n",
            ),
        ),
    ];
    for (name, p) in &consume_cases {
        rt.block_on(p.start()).unwrap();
        g.bench_function(format!("consume_{name}"), |b| {
            b.iter(|| {
                rt.block_on(p.consume(received.clone(), Context::default()))
                    .unwrap()
            })
        });
    }

    // Spans with every field an HTTP server instrumentation sets: the walk to an attribute
    // passes more fields than in the request above.
    let full = Payload::from_proto(Signal::Traces, full_spans_request().encode_proto()).unwrap();
    for (name, actions) in [
        (
            "upsert",
            "actions:\n  - {key: env, value: prod, action: upsert}\n",
        ),
        (
            "update",
            "actions:\n  - {key: url.path, value: redacted, action: update}\n",
        ),
    ] {
        let p = AttributesProcessor::build(
            &ctx("attributes"),
            yaml(actions),
            Signal::Traces,
            Arc::new(EncodingSink),
        )
        .unwrap();
        g.bench_function(format!("consume_attributes_1_{name}_full_spans"), |b| {
            b.iter(|| {
                rt.block_on(p.consume(full.clone(), Context::default()))
                    .unwrap()
            })
        });
    }

    // Log records of a 1 KiB body and 5 attributes: many bytes per attribute, the least
    // favourable shape for the key search that lets items without the key skip the walk.
    let logs = Payload::from_proto(Signal::Logs, logs_request().encode_proto()).unwrap();
    let upsert_logs = AttributesProcessor::build(
        &ctx("attributes"),
        yaml("actions:\n  - {key: env, value: prod, action: upsert}\n"),
        Signal::Logs,
        Arc::new(EncodingSink),
    )
    .unwrap();
    g.bench_function("consume_attributes_1_upsert_logs_1kib_body", |b| {
        b.iter(|| {
            rt.block_on(upsert_logs.consume(logs.clone(), Context::default()))
                .unwrap()
        })
    });
    g.finish();
}

/// 100 resources × 10 spans as an HTTP server instrumentation sends them: ids, parent,
/// kind, timestamps, flags, 10 semantic-convention attributes (strings and ints), status.
fn full_spans_request() -> Request {
    let int = |k: &str, v: i64| KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(v)),
        }),
        ..Default::default()
    };
    Request::Traces(ExportTraceServiceRequest {
        resource_spans: (0..RESOURCES)
            .map(|r| ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![
                        attr("service.name", "checkout"),
                        attr("service.version", "1.4.2"),
                        attr("service.instance.id", &format!("checkout-{r}")),
                        attr("deployment.environment.name", "production"),
                        attr("telemetry.sdk.name", "opentelemetry"),
                        attr("telemetry.sdk.language", "go"),
                        attr("telemetry.sdk.version", "1.32.0"),
                        attr("host.name", &format!("node-{r}.cluster.local")),
                    ],
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
                            .into(),
                        version: "0.57.0".into(),
                        ..Default::default()
                    }),
                    spans: (0..SPANS)
                        .map(|s| {
                            let start = 1_732_500_000_000_000_000 + (r * SPANS + s) as u64 * 1_000;
                            Span {
                                trace_id: vec![r as u8 + 1; 16].into(),
                                span_id: vec![s as u8 + 1; 8].into(),
                                parent_span_id: vec![s as u8 + 2; 8].into(),
                                name: "GET /api/v1/orders/{id}".into(),
                                kind: 2,
                                start_time_unix_nano: start,
                                end_time_unix_nano: start + 1_250_000,
                                flags: 0x100,
                                attributes: vec![
                                    attr("http.request.method", "GET"),
                                    attr("http.route", "/api/v1/orders/{id}"),
                                    attr("url.path", &format!("/api/v1/orders/{}", 40_000 + s)),
                                    attr("url.scheme", "https"),
                                    int("http.response.status_code", 200),
                                    attr("server.address", "checkout.example.com"),
                                    int("server.port", 443),
                                    attr("network.protocol.version", "1.1"),
                                    attr("client.address", "10.1.2.3"),
                                    attr("user_agent.original", "Mozilla/5.0 (X11; Linux x86_64)"),
                                ],
                                status: Some(Status {
                                    code: 1,
                                    ..Default::default()
                                }),
                                ..Default::default()
                            }
                        })
                        .collect(),
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect(),
    })
}

/// 100 resources × 10 log records, each a 1 KiB string body and 5 attributes.
fn logs_request() -> Request {
    let body = "lorem ipsum dolor sit amet ".repeat(38);
    Request::Logs(ExportLogsServiceRequest {
        resource_logs: (0..RESOURCES)
            .map(|_| ResourceLogs {
                scope_logs: vec![ScopeLogs {
                    log_records: (0..SPANS)
                        .map(|i| LogRecord {
                            time_unix_nano: 1_700_000_000_000_000_000 + i as u64,
                            severity_number: 9,
                            body: Some(AnyValue {
                                value: Some(any_value::Value::StringValue(body[..1024].into())),
                            }),
                            attributes: (0..5)
                                .map(|a| attr(&format!("log.attr.{a}"), &format!("value-{a}")))
                                .collect(),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect(),
    })
}

/// The next stage as an exporter sees it: the request's protobuf encoding is produced.
struct EncodingSink;
impl Consumer for EncodingSink {
    fn consume(&self, p: Payload, _c: Context) -> BoxFuture<'_, Result<(), ConsumeError>> {
        std::hint::black_box(p.to_proto());
        Box::pin(async { Ok(()) })
    }
}

fn create<F: ProcessorFactory>(factory: F, id: &str, config: &str) -> Arc<dyn Processor> {
    factory
        .create(
            ctx(id),
            yaml(config),
            Signal::Traces,
            Arc::new(EncodingSink),
        )
        .unwrap()
}

criterion_group!(benches, bench);
criterion_main!(benches);
