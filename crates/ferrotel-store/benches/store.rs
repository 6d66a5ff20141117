//! The local store's issue 19 targets on 1 M spans shaped like `ferrotel-loadgen`'s (one
//! service per request, traces of 1–8 spans, ~10 attributes per span, 500 spans a request):
//! ingest rate, `trace(id)`, `find_traces` by service + operation + min duration + attribute,
//! bytes held and RSS. Prints a figures block, then criterion measures the queries.
//!
//! `cargo bench -p ferrotel-store --bench store` (STORE_BENCH_SPANS overrides 1 000 000).

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_pdata::proto::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use ferrotel_pdata::proto::resource::v1::Resource;
use ferrotel_pdata::proto::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use ferrotel_pdata::{Payload, Request, Signal};
use ferrotel_store::{Store, StoreConfig, TelemetryStore, TraceId, TraceQuery};

const SERVICES: usize = 8;
const PER_REQUEST: usize = 500;
const CHILD_OPS: [(&str, i32); 4] = [
    ("SELECT items", 3),
    ("render", 1),
    ("publish orders", 4),
    ("process orders", 5),
];

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn text(&mut self, n: usize) -> String {
        const C: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        (0..n)
            .map(|_| C[self.below(C.len() as u64) as usize] as char)
            .collect()
    }
}

fn s(k: &str, v: String) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v)),
        }),
        ..Default::default()
    }
}

fn i(k: &str, v: i64) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(v)),
        }),
        ..Default::default()
    }
}

/// One request of `PER_REQUEST` spans for `service`; pushes its trace ids to `ids`.
fn request(rng: &mut Rng, service: usize, t0: u64, ids: &mut Vec<TraceId>) -> Payload {
    let mut spans = Vec::with_capacity(PER_REQUEST);
    while spans.len() < PER_REQUEST {
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&rng.next().to_le_bytes());
        id[8..].copy_from_slice(&rng.next().to_le_bytes());
        ids.push(id);
        let size = (1 + rng.below(8) as usize).min(PER_REQUEST - spans.len());
        let root = spans.len();
        for k in 0..size {
            let mut attributes: Vec<KeyValue> = (0..5)
                .map(|n| s(&format!("attr.{n}"), rng.text(20)))
                .collect();
            let (name, kind, start, duration) = if k == 0 {
                attributes.push(s("http.request.method", "GET".into()));
                attributes.push(s(
                    "url.path",
                    format!("/api/v1/items/{}", rng.below(10_000)),
                ));
                attributes.push(i("http.response.status_code", 200));
                ("GET /api/v1/items/{id}", 2, 0, 5_000_000)
            } else {
                let (op, kind) = CHILD_OPS[k % 4];
                if kind == 3 {
                    attributes.push(s("db.system.name", "postgresql".into()));
                }
                (op, kind, 20_000 * k as u64, 10_000 + rng.below(2_000_000))
            };
            attributes.push(s("code.function.name", "handle_request".into()));
            attributes.push(i("thread.id", rng.below(64) as i64));
            let error = rng.below(16) == 0;
            spans.push(Span {
                trace_id: id.to_vec().into(),
                span_id: rng.next().to_le_bytes().to_vec().into(),
                parent_span_id: if k == 0 {
                    Default::default()
                } else {
                    let p: &Span = &spans[root];
                    p.span_id.clone()
                },
                flags: 0x101,
                name: name.into(),
                kind,
                start_time_unix_nano: t0 + start,
                end_time_unix_nano: t0 + start + duration,
                attributes,
                status: error.then(|| Status {
                    message: "upstream returned 503".into(),
                    code: 2,
                }),
                ..Default::default()
            });
        }
    }
    let req = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    s("service.name", format!("loadgen-service-{service}")),
                    s("service.namespace", "ferrotel-bench".into()),
                    s("service.version", "1.4.2".into()),
                    s("host.name", format!("host-{}", service % 16)),
                ],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "ferrotel-loadgen".into(),
                    version: "0.1.0".into(),
                    ..Default::default()
                }),
                spans,
                schema_url: "https://opentelemetry.io/schemas/1.26.0".into(),
            }],
            schema_url: String::new(),
        }],
    };
    Payload::from_proto(Signal::Traces, Request::Traces(req).encode_proto()).expect("valid")
}

fn workload(spans: usize) -> (Vec<Payload>, Vec<TraceId>) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut ids = Vec::new();
    let payloads = (0..spans / PER_REQUEST)
        .map(|r| {
            request(
                &mut rng,
                r % SERVICES,
                1_700_000_000_000_000_000 + r as u64 * 1_000_000,
                &mut ids,
            )
        })
        .collect();
    (payloads, ids)
}

fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn ingest(payloads: &[Payload], config: StoreConfig) -> (Arc<Store>, Duration) {
    let store = Store::open(config).expect("open");
    let t = Instant::now();
    for p in payloads {
        store.append(p).expect("append");
    }
    (store, t.elapsed())
}

fn mean_ms(runs: usize, mut f: impl FnMut(usize)) -> f64 {
    let t = Instant::now();
    for k in 0..runs {
        f(k);
    }
    t.elapsed().as_secs_f64() * 1000.0 / runs as f64
}

/// The query: service + operation + min duration + one attribute. `url.path` is
/// rare (1 root in 10 000 has a given value), so every candidate's attributes are read.
fn selective_query() -> TraceQuery {
    TraceQuery {
        service: Some("loadgen-service-3".into()),
        operation: Some("GET /api/v1/items/{id}".into()),
        min_duration: Some(Duration::from_millis(4)),
        tags: vec![("url.path".into(), "/api/v1/items/42".into())],
        ..Default::default()
    }
}

/// The same shape with a common attribute: the newest 20 traces are found at once.
fn common_query() -> TraceQuery {
    TraceQuery {
        service: Some("loadgen-service-3".into()),
        operation: Some("SELECT items".into()),
        min_duration: Some(Duration::from_millis(1)),
        tags: vec![("db.system.name".into(), "postgresql".into())],
        ..Default::default()
    }
}

fn bench(c: &mut Criterion) {
    let n: usize = std::env::var("STORE_BENCH_SPANS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let (payloads, ids) = workload(n);
    let encoded: usize = payloads.iter().map(|p| p.to_proto().len()).sum();
    let rss0 = rss_mib();
    let config = StoreConfig {
        max_bytes: 4 << 30,
        ..Default::default()
    };
    let (store, took) = ingest(&payloads, config.clone());
    let st = store.stats();
    let rss = rss_mib();
    println!(
        "== local store, {n} spans in {} requests of {PER_REQUEST}, {} traces, {:.0} MiB encoded",
        payloads.len(),
        ids.len(),
        encoded as f64 / 1048576.0
    );
    println!(
        "ingest (memory):   {:.0} spans/s ({:.2} s)",
        n as f64 / took.as_secs_f64(),
        took.as_secs_f64()
    );
    println!(
        "bytes held:        {:.0} MiB (stats().bytes; encoded OTLP {:.0} MiB + indexes)",
        st.bytes as f64 / 1048576.0,
        encoded as f64 / 1048576.0
    );
    println!(
        "RSS:               {:.0} MiB after ingest ({:.0} MiB before, payloads pre-generated and shared with the store)",
        rss, rss0
    );
    let trace_ms = mean_ms(10_000, |k| {
        let id = &ids[(k * 7919) % ids.len()];
        assert!(store.trace(id).is_some());
    });
    println!("trace(id):         {trace_ms:.4} ms mean over 10 000 ids");
    let q = selective_query();
    let sel_ms = mean_ms(20, |_| {
        store.find_traces(&q);
    });
    println!(
        "find_traces (service+op+min duration+rare attribute):   {sel_ms:.2} ms, {} found",
        store.find_traces(&q).len()
    );
    let q = common_query();
    let com_ms = mean_ms(20, |_| {
        store.find_traces(&q);
    });
    println!(
        "find_traces (service+op+min duration+common attribute): {com_ms:.2} ms, {} found",
        store.find_traces(&q).len()
    );
    let all = TraceQuery::default();
    let all_ms = mean_ms(5, |_| {
        store.find_traces(&all);
    });
    println!("find_traces (no criteria, newest 20):                   {all_ms:.2} ms");

    // Persistence: the same load written to segment files, then reopened (index rebuild).
    let dir = tempfile::tempdir().expect("tempdir");
    let disk = StoreConfig {
        directory: Some(dir.path().join("data")),
        ..config.clone()
    };
    let (on_disk, took) = ingest(&payloads, disk.clone());
    on_disk.close().expect("close");
    drop(on_disk);
    println!(
        "ingest (directory): {:.0} spans/s ({:.2} s)",
        n as f64 / took.as_secs_f64(),
        took.as_secs_f64()
    );
    let t = Instant::now();
    let reopened = Store::open(disk).expect("reopen");
    println!(
        "reopen (read segments + rebuild indexes): {:.2} s, {} spans",
        t.elapsed().as_secs_f64(),
        reopened.stats().spans
    );
    drop(reopened);

    let mut g = c.benchmark_group("store_ingest");
    let batch = &payloads[..payloads.len().min(200)];
    g.throughput(Throughput::Elements((batch.len() * PER_REQUEST) as u64));
    g.sample_size(10);
    g.bench_function("append_100k_spans", |b| {
        b.iter_batched(
            || Store::open(config.clone()).expect("open"),
            |s| {
                for p in batch {
                    s.append(p).expect("append");
                }
                s
            },
            criterion::BatchSize::PerIteration,
        )
    });
    g.finish();
    let mut g = c.benchmark_group("store_query_1M");
    let mut k = 0;
    g.bench_function("trace_by_id", |b| {
        b.iter(|| {
            k = (k + 7919) % ids.len();
            store.trace(&ids[k])
        })
    });
    let q = selective_query();
    g.bench_function("find_traces_rare_attribute", |b| {
        b.iter(|| store.find_traces(&q))
    });
    let q = common_query();
    g.bench_function("find_traces_common_attribute", |b| {
        b.iter(|| store.find_traces(&q))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));
    targets = bench
}
criterion_main!(benches);
