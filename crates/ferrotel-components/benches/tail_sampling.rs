//! `tail_sampling` cost (issue 18): CPU per span and memory per buffered span.
//!
//! - `buffer`: consuming 1000-span requests (100 traces × 10 spans, HTTP-server-like spans of
//!   ≈ 300 encoded bytes) into a processor with `num_traces: 100000`: the wire split by trace
//!   id and the table insert, per request;
//! - `buffer_and_decide`: the whole life of 10 000 spans (1000 traces): buffering, then the
//!   decision (one decode per trace, four policies: status_code, latency, probabilistic, regex
//!   string_attribute) and the sampled traces' hand-off as encoded bytes;
//! - `buffer_500_spans_split_over_5_requests`: 100 traces whose 5 spans come in 5 requests,
//!   so each trace's pieces are coalesced as they arrive (the resource and scope held once).
//!
//! Before criterion runs, the bench fills `num_traces: 100000` traces and prints the heap
//! bytes held per buffered span (a counting allocator) next to the spans' encoded size, for
//! two arrival shapes: each trace's 10 spans in one request, and each of a trace's 5 spans in
//! a different request (the resource and scope are then held once per span).
//!
//! Run: `cargo bench -p ferrotel-components --bench tail_sampling -- --warm-up-time 1 --measurement-time 3`

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, Ordering};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use ferrotel_components::processors::tail_sampling::TailSamplingFactory;
use ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_pdata::proto::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use ferrotel_pdata::proto::resource::v1::Resource;
use ferrotel_pdata::proto::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use ferrotel_pdata::{Payload, Request, Signal};
use ferrotel_runtime::*;

/// Heap bytes currently allocated.
struct Counting;
static HELD: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        HELD.fetch_add(l.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        HELD.fetch_sub(l.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        HELD.fetch_add(new as isize - l.size() as isize, Ordering::Relaxed);
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn s(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

fn int(k: &str, v: i64) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(v)),
        }),
        ..Default::default()
    }
}

fn trace_id(t: u64) -> Vec<u8> {
    let a = t.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    [a.to_be_bytes(), t.to_be_bytes()].concat()
}

/// An HTTP server span as an instrumentation sends it.
fn span(t: u64, i: u64) -> Span {
    Span {
        trace_id: trace_id(t).into(),
        span_id: (t * 16 + i + 1).to_be_bytes().to_vec().into(),
        parent_span_id: if i == 0 {
            Default::default()
        } else {
            (t * 16 + 1).to_be_bytes().to_vec().into()
        },
        name: format!("GET /api/v1/orders/{{id}}/items/{i}"),
        kind: 2,
        start_time_unix_nano: 1_700_000_000_000_000_000 + i * 1_000_000,
        end_time_unix_nano: 1_700_000_000_000_000_000 + i * 1_000_000 + 12_345_678,
        flags: 0x101,
        status: Some(Status {
            code: if t.is_multiple_of(50) { 2 } else { 0 },
            ..Default::default()
        }),
        attributes: vec![
            s("http.request.method", "GET"),
            s("http.route", "/api/v1/orders/{id}/items"),
            s("url.path", "/api/v1/orders/12345/items"),
            s("url.scheme", "https"),
            int("http.response.status_code", 200),
            s("server.address", "orders.internal.example.com"),
            int("server.port", 8443),
            s("user_agent.original", "Mozilla/5.0 (X11; Linux x86_64)"),
        ],
        ..Default::default()
    }
}

/// A request carrying `spans_per_trace` spans (from `first_span`) of each of `traces`.
fn request(traces: std::ops::Range<u64>, first_span: u64, spans_per_trace: u64) -> Payload {
    let spans = traces
        .flat_map(|t| (first_span..first_span + spans_per_trace).map(move |i| span(t, i)))
        .collect();
    let req = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    s("service.name", "orders"),
                    s("service.version", "1.42.0"),
                    s("deployment.environment.name", "production"),
                    s("host.name", "orders-7d9f8b6c5-x2x9z"),
                    s("telemetry.sdk.language", "rust"),
                ],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "opentelemetry-http".into(),
                    version: "0.27.0".into(),
                    ..Default::default()
                }),
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    Payload::from_proto(Signal::Traces, Request::Traces(req).encode_proto()).unwrap()
}

struct Sink;
impl Consumer for Sink {
    fn consume(&self, _p: Payload, _c: Context) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async { Ok(()) })
    }
}

const POLICIES: &str = r#"
decision_wait: 10s
num_traces: 100000
policies:
  - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}
  - {name: slow, type: latency, latency: {threshold_ms: 5000}}
  - {name: ten-percent, type: probabilistic, probabilistic: {sampling_percentage: 10}}
  - {name: orders, type: string_attribute, string_attribute: {key: http.route, values: ["^/api/v2/.*"], enabled_regex_matching: true}}
"#;

fn processor() -> Arc<dyn Processor> {
    let node = ferrotel_runtime::config::node::parse_yaml(POLICIES, "bench.yaml").unwrap();
    let cfg = ferrotel_runtime::config::decode(&node).unwrap();
    let ctx = CreateContext {
        id: "tail_sampling".parse().unwrap(),
        kind: Kind::Processor,
        pipeline: Some("traces".parse().unwrap()),
        telemetry: Telemetry::new(),
        extensions: Arc::new(Vec::new()),
    };
    TailSamplingFactory
        .create(ctx, cfg, Signal::Traces, Arc::new(Sink))
        .unwrap()
}

/// Fills 100 000 traces and prints the heap held per buffered span.
fn memory_per_span(rt: &tokio::runtime::Runtime) {
    const TRACES: u64 = 100_000;
    for (shape, spans_per_trace, per_request) in [
        ("10 spans of a trace per request", 10u64, false),
        ("each span of a trace in another request", 5u64, true),
    ] {
        let p = processor();
        let before = HELD.load(Ordering::Relaxed);
        let mut encoded = 0usize;
        let mut spans = 0usize;
        rt.block_on(async {
            if per_request {
                for round in 0..spans_per_trace {
                    for first in (0..TRACES).step_by(100) {
                        let r = request(first..first + 100, round, 1);
                        encoded += r.to_proto().len();
                        spans += r.items();
                        p.consume(r, Context::default()).await.unwrap();
                    }
                }
            } else {
                for first in (0..TRACES).step_by(100) {
                    let r = request(first..first + 100, 0, spans_per_trace);
                    encoded += r.to_proto().len();
                    spans += r.items();
                    p.consume(r, Context::default()).await.unwrap();
                }
            }
        });
        let held = HELD.load(Ordering::Relaxed) - before;
        println!(
            "tail_sampling memory, num_traces {TRACES}, {shape}: {spans} spans buffered, \
             {:.0} encoded bytes/span as received (requests of 100 traces), \
             {:.0} heap bytes held/span ({:.2}x)",
            encoded as f64 / spans as f64,
            held as f64 / spans as f64,
            held as f64 / encoded as f64,
        );
        drop(p);
    }
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    memory_per_span(&rt);

    let mut g = c.benchmark_group("tail_sampling");
    let one = request(0..100, 0, 10);
    g.throughput(Throughput::Elements(one.items() as u64));
    // Buffering into a table that keeps filling (it holds 100 000 traces; older ones are
    // pushed out once it is full, as in steady state).
    let p = processor();
    let mut next = 0u64;
    let requests: Vec<Payload> = (0..200)
        .map(|i| request(i * 100..i * 100 + 100, 0, 10))
        .collect();
    g.bench_function("buffer_1000_spans", |b| {
        b.iter_batched(
            || {
                next += 1;
                // Fresh trace ids each time: new traces, as in steady state.
                let base = 1_000_000 + next * 100;
                request(base..base + 100, 0, 10)
            },
            |r| rt.block_on(p.consume(r, Context::default())).unwrap(),
            BatchSize::SmallInput,
        )
    });
    // Each of 100 traces' 5 spans in another request: the pieces of a trace are coalesced
    // (resource and scope held once) as they arrive.
    g.throughput(Throughput::Elements(500));
    g.bench_function("buffer_500_spans_split_over_5_requests", |b| {
        b.iter_batched(
            || {
                next += 1;
                let base = 1_000_000 + next * 100;
                (0..5)
                    .map(|round| request(base..base + 100, round, 1))
                    .collect::<Vec<_>>()
            },
            |rs| {
                rt.block_on(async {
                    for r in rs {
                        p.consume(r, Context::default()).await.unwrap();
                    }
                })
            },
            BatchSize::SmallInput,
        )
    });
    // Writing a trace again at its decision, alone: each of 100 traces has 5 runs of one
    // span, cut from 5 requests, written as one request with the resource and scope once.
    let traces: Vec<Vec<ferrotel_pdata::wire::TraceRun>> = {
        let mut by_trace: std::collections::BTreeMap<[u8; 16], Vec<_>> = Default::default();
        for round in 0..5 {
            let r = request(0..100, round, 1).to_proto();
            for piece in ferrotel_pdata::wire::split_trace_runs(&r).unwrap() {
                by_trace
                    .entry(piece.trace_id)
                    .or_default()
                    .extend(piece.runs);
            }
        }
        by_trace.into_values().collect()
    };
    g.bench_function("encode_100_traces_of_5_runs", |b| {
        b.iter(|| {
            for runs in &traces {
                std::hint::black_box(ferrotel_pdata::wire::encode_runs(runs));
            }
        })
    });
    g.throughput(Throughput::Elements(10_000));
    g.bench_function("buffer_and_decide_10000_spans", |b| {
        b.iter_batched(
            processor,
            |p| {
                rt.block_on(async {
                    for r in &requests[..10] {
                        p.consume(r.clone(), Context::default()).await.unwrap();
                    }
                    // Shutdown decides every pending trace.
                    p.shutdown().await.unwrap();
                })
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
