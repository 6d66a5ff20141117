//! The issue's hot path: JSON lines through json_parser with embedded time and severity
//! parsing, per line; and the same plus conversion to OTLP for a batch of 100.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ferrotel_stanza::{Entry, OperatorsConfig, Pipeline, into_resource_logs};

const LINE: &str = r#"{"time":"2024-01-02T03:04:05.123456Z","level":"info","msg":"request handled","status":200,"path":"/api/v1/users","latency_ms":12.5,"user":"alice"}"#;

fn pipeline() -> Pipeline {
    let cfg: OperatorsConfig = serde_json::from_value(serde_json::json!([{
        "type": "json_parser",
        "timestamp": {"parse_from": "attributes.time", "layout": "%Y-%m-%dT%H:%M:%S.%fZ"},
        "severity": {"parse_from": "attributes.level"}
    }]))
    .expect("config");
    Pipeline::build(&cfg).expect("builds")
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("stanza");
    g.throughput(Throughput::Elements(1));
    let mut p = pipeline();
    let mut out = Vec::with_capacity(1);
    g.bench_function("json_time_severity_per_line", |b| {
        b.iter(|| {
            out.clear();
            p.process(Entry::from_line(LINE.to_string(), 1), &mut out);
            assert_eq!(out.len(), 1);
        })
    });
    g.throughput(Throughput::Elements(100));
    let mut p = pipeline();
    g.bench_function("json_time_severity_to_otlp_batch_100", |b| {
        b.iter(|| {
            let mut out = Vec::with_capacity(100);
            for _ in 0..100 {
                p.process(Entry::from_line(LINE.to_string(), 1), &mut out);
            }
            into_resource_logs(out)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
