//! The Prometheus components' hot paths at 100 k series: the pull exporter's render (text and
//! OpenMetrics) and ingest, remote write out (OTLP → series → protobuf → snappy) and in
//! (snappy → protobuf → OTLP), and the scrape receiver's parse + convert of a 100 k-series
//! text exposition (the side-by-side run against Prometheus is `ferrotel-bench
//! --prometheus-scrape`). `cargo bench -p ferrotel-prometheus --bench exposition`;
//! figures in docs/benchmarks.md.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ferrotel_pdata::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use ferrotel_pdata::proto::common::v1::{AnyValue, KeyValue, any_value};
use ferrotel_pdata::proto::metrics::v1::*;
use ferrotel_pdata::proto::resource::v1::Resource;
use ferrotel_prometheus::exporter::{PrometheusExporter, PrometheusExporterConfig};
use ferrotel_prometheus::remote_write::exporter::convert;
use ferrotel_prometheus::remote_write::receiver::{decode, to_otlp};
use ferrotel_prometheus::scrape::convert::{SeriesTracker, TargetContext, convert};
use ferrotel_prometheus::scrape::relabel::Labels;
use ferrotel_prometheus::scrape::{Format, parse};
use prost::Message;

const SERIES: usize = 100_000;
const T: u64 = 1_700_000_000_000_000_000;

fn kv(k: &str, v: String) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v)),
        }),
        ..Default::default()
    }
}

/// 100 metrics (half counters, half gauges) × 1000 attribute sets of three labels.
fn request() -> ExportMetricsServiceRequest {
    let metrics = (0..100)
        .map(|m| {
            let points = (0..SERIES / 100)
                .map(|i| NumberDataPoint {
                    attributes: vec![
                        kv("http.route", format!("/api/v1/items/{}", i % 50)),
                        kv("http.status_code", format!("{}", 200 + i / 50)),
                        kv("pod", format!("pod-{i}")),
                    ],
                    start_time_unix_nano: T - 60_000_000_000,
                    time_unix_nano: T,
                    value: Some(number_data_point::Value::AsDouble(i as f64 * 1.5)),
                    ..Default::default()
                })
                .collect();
            Metric {
                name: format!("app.metric_{m}"),
                description: "a benchmark metric".into(),
                unit: "By".into(),
                data: Some(if m % 2 == 0 {
                    metric::Data::Sum(Sum {
                        data_points: points,
                        aggregation_temporality: 2,
                        is_monotonic: true,
                    })
                } else {
                    metric::Data::Gauge(Gauge {
                        data_points: points,
                    })
                }),
                ..Default::default()
            }
        })
        .collect();
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", "bench".into()),
                    kv("service.instance.id", "i-1".into()),
                ],
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn bench(c: &mut Criterion) {
    let req = request();
    let config: PrometheusExporterConfig =
        serde_json::from_str(r#"{"endpoint": "127.0.0.1:0", "enable_open_metrics": true}"#)
            .unwrap();
    let exporter = PrometheusExporter::new("prometheus", config);
    exporter.ingest(&req);
    let text = exporter.scrape(false);
    eprintln!("exposition: {} series, text {} bytes", SERIES, text.len());

    let mut g = c.benchmark_group("prometheus_100k_series");
    g.sample_size(10);
    g.throughput(Throughput::Elements(SERIES as u64));
    g.bench_function("render_text", |b| b.iter(|| exporter.scrape(false)));
    g.bench_function("render_openmetrics", |b| b.iter(|| exporter.scrape(true)));
    g.bench_function("ingest_update", |b| b.iter(|| exporter.ingest(&req)));

    let settings = convert::Settings::default();
    g.bench_function("remote_write_out", |b| {
        b.iter(|| {
            let out = convert::convert(&req, &settings);
            convert::batches(out.series, 3_000_000)
                .into_iter()
                .map(|w| {
                    snap::raw::Encoder::new()
                        .compress_vec(&w.encode_to_vec())
                        .unwrap()
                        .len()
                })
                .sum::<usize>()
        })
    });
    let bodies: Vec<Vec<u8>> =
        convert::batches(convert::convert(&req, &settings).series, 3_000_000)
            .into_iter()
            .map(|w| {
                snap::raw::Encoder::new()
                    .compress_vec(&w.encode_to_vec())
                    .unwrap()
            })
            .collect();
    let metadata = Default::default();
    g.bench_function("remote_write_in", |b| {
        b.iter(|| {
            bodies
                .iter()
                .map(|body| {
                    let d = decode::decode_body(body, decode::Version::V1, 256 << 20).unwrap();
                    to_otlp::to_otlp(&d.series, &metadata)
                        .resource_metrics
                        .len()
                })
                .sum::<usize>()
        })
    });

    // The prometheus receiver's per-scrape work on the exposition `ferrotel-bench
    // --prometheus-scrape` serves (series known from the previous scrape, values changed).
    let scrape_body = |n: usize| {
        let mut s = String::new();
        for m in 0..100 {
            let (name, kind) = if m % 2 == 0 {
                (format!("bench_metric_{m}_total"), "counter")
            } else {
                (format!("bench_metric_{m}"), "gauge")
            };
            s.push_str(&format!(
                "# HELP {name} A benchmark metric.\n# TYPE {name} {kind}\n"
            ));
            for i in 0..SERIES / 100 {
                s.push_str(&format!(
                    "{name}{{route=\"/api/v1/items/{}\",status=\"{}\",pod=\"pod-{i}\"}} {}\n",
                    i % 50,
                    200 + i / 50,
                    (i * 3 + n) as f64
                ));
            }
        }
        s
    };
    let bodies = [scrape_body(1), scrape_body(2)];
    let target = TargetContext {
        labels: Labels::from_pairs([("job", "bench"), ("instance", "127.0.0.1:9100")]),
        honor_labels: false,
        honor_timestamps: true,
        trim_metric_suffixes: false,
        sample_limit: 0,
        metric_relabel: Vec::new(),
    };
    let mut tracker = SeriesTracker::default();
    let mut n = 0i64;
    g.bench_function("scrape_parse_convert", |b| {
        b.iter(|| {
            n += 1;
            let body = &bodies[(n % 2) as usize];
            let exp = parse(body.as_bytes(), Format::Text).unwrap();
            convert(&exp, &target, &mut tracker, 1_700_000_000_000 + n * 5000)
                .unwrap()
                .metrics
                .len()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
