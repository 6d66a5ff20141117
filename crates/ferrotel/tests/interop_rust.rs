//! opentelemetry-rust's own OTLP exporters (`opentelemetry-otlp`: gRPC over tonic, HTTP/protobuf
//! over reqwest) sending traces, metrics and logs to the `ferrotel` binary, checked item by
//! item in what its `file` exporters wrote.
//!
//! The data is recorded by the SDK into its in-memory exporters, then handed to the OTLP
//! exporter in one `export` call per signal, so a failed export fails the test.

mod interop_support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use interop_support::*;
use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, LoggerProvider as _, Severity};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::{Span as _, TraceContextExt as _, Tracer as _, TracerProvider as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::logs::{InMemoryLogExporter, LogBatch, LogExporter as _, SdkLoggerProvider};
use opentelemetry_sdk::metrics::exporter::PushMetricExporter as _;
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanExporter as _};
use serde_json::{Value, json};

const T0: u64 = 1_700_000_000_000_000_000;

fn at(nanos: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(nanos)
}

fn send(protocol: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (g, h, m) = (free_port(), free_port(), free_port());
    let _sink = Collector::start(
        "sink",
        dir.path(),
        &file_sink_config(dir.path(), g, h, m),
        Some(m),
    );
    let run = format!("rust-{protocol}");
    let resource = Resource::builder_empty()
        .with_attributes([
            KeyValue::new("service.name", format!("{run}-svc")),
            KeyValue::new("interop.client", "rust"),
        ])
        .build();
    let mut expected = json!({"resource": {"service.name": format!("{run}-svc")}, "spans": [], "logs": [], "metrics": []});

    // Traces: a root and two children with explicit times and typed attributes.
    let mem = InMemorySpanExporter::default();
    let tp = SdkTracerProvider::builder()
        .with_resource(resource.clone())
        .with_simple_exporter(mem.clone())
        .build();
    let tracer = tp.tracer("interop.rust");
    let mut root = tracer
        .span_builder(format!("{run}-root"))
        .with_start_time(at(T0))
        .with_attributes([KeyValue::new("i", 0i64), KeyValue::new("client", "rust")])
        .start(&tracer);
    let root_ctx = root.span_context().clone();
    let cx = Context::new().with_remote_span_context(root_ctx.clone());
    for i in 1..=2i64 {
        let mut child = tracer
            .span_builder(format!("{run}-child-{i}"))
            .with_start_time(at(T0 + i as u64 * 1000))
            .with_attributes([
                KeyValue::new("i", i),
                KeyValue::new("ok", i % 2 == 1),
                KeyValue::new("ratio", i as f64 / 4.0),
                KeyValue::new("tag", format!("t{i}")),
            ])
            .start_with_context(&tracer, &cx);
        child.end_with_timestamp(at(T0 + i as u64 * 1000 + 500));
    }
    root.end_with_timestamp(at(T0 + 10_000));
    let spans = mem.get_finished_spans().unwrap();
    for s in &spans {
        let nanos = |t: SystemTime| t.duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64;
        let parent = if s.parent_span_id == opentelemetry::trace::SpanId::INVALID {
            String::new()
        } else {
            s.parent_span_id.to_string()
        };
        expected["spans"].as_array_mut().unwrap().push(json!({
            "name": s.name,
            "trace_id": s.span_context.trace_id().to_string(),
            "span_id": s.span_context.span_id().to_string(),
            "parent_span_id": parent,
            "start": nanos(s.start_time),
            "end": nanos(s.end_time),
            "attributes": Value::Object(s.attributes.iter().map(|kv| {
                let v = match &kv.value {
                    opentelemetry::Value::I64(i) => json!(i),
                    opentelemetry::Value::F64(f) => json!(f),
                    opentelemetry::Value::Bool(b) => json!(b),
                    v => json!(v.as_str()),
                };
                (kv.key.to_string(), v)
            }).collect()),
        }));
    }

    // Metrics: a counter with two attribute sets and a histogram.
    let mmem = InMemoryMetricExporter::default();
    let mp = SdkMeterProvider::builder()
        .with_resource(resource.clone())
        .with_reader(PeriodicReader::builder(mmem.clone()).build())
        .build();
    let meter = mp.meter("interop.rust");
    let c = meter.u64_counter(format!("{run}.requests")).build();
    c.add(3, &[KeyValue::new("route", "/a")]);
    c.add(4, &[KeyValue::new("route", "/b")]);
    let hist = meter.f64_histogram(format!("{run}.latency")).build();
    hist.record(1.5, &[KeyValue::new("route", "/a")]);
    hist.record(2.5, &[KeyValue::new("route", "/a")]);
    mp.force_flush().unwrap();
    let rms = mmem.get_finished_metrics().unwrap();
    expected["metrics"] = json!([
        {"name": format!("{run}.requests"), "kind": "sum",
         "points": [{"attributes": {"route": "/a"}, "value": 3}, {"attributes": {"route": "/b"}, "value": 4}]},
        {"name": format!("{run}.latency"), "kind": "histogram",
         "points": [{"attributes": {"route": "/a"}, "count": 2, "sum": 4.0}]},
    ]);

    // Logs: two records, the second correlated with the root span.
    let lmem = InMemoryLogExporter::default();
    let lp = SdkLoggerProvider::builder()
        .with_resource(resource.clone())
        .with_simple_exporter(lmem.clone())
        .build();
    let logger = lp.logger("interop.rust");
    for i in 0..2u64 {
        let mut r = logger.create_log_record();
        r.set_timestamp(at(T0 + i));
        r.set_observed_timestamp(at(T0 + i + 5));
        r.set_severity_number(if i == 1 {
            Severity::Warn
        } else {
            Severity::Info
        });
        r.set_body(AnyValue::from(format!("{run} log {i}")));
        r.add_attribute("i", i as i64);
        r.add_attribute("client", "rust");
        if i == 1 {
            r.set_trace_context(root_ctx.trace_id(), root_ctx.span_id(), None);
        }
        logger.emit(r);
        expected["logs"].as_array_mut().unwrap().push(json!({
            "body": format!("{run} log {i}"),
            "time": T0 + i,
            "severity_number": if i == 1 { 13 } else { 9 },
            "trace_id": if i == 1 { root_ctx.trace_id().to_string() } else { String::new() },
            "attributes": {"i": i, "client": "rust"},
        }));
    }
    let logs_data = lmem.get_emitted_logs().unwrap();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (mut se, me, mut le) = if protocol == "grpc" {
            let url = format!("http://127.0.0.1:{g}");
            (
                opentelemetry_otlp::SpanExporter::builder()
                    .with_tonic()
                    .with_endpoint(&url)
                    .build()
                    .unwrap(),
                opentelemetry_otlp::MetricExporter::builder()
                    .with_tonic()
                    .with_endpoint(&url)
                    .build()
                    .unwrap(),
                opentelemetry_otlp::LogExporter::builder()
                    .with_tonic()
                    .with_endpoint(&url)
                    .build()
                    .unwrap(),
            )
        } else {
            let url = format!("http://127.0.0.1:{h}");
            (
                opentelemetry_otlp::SpanExporter::builder()
                    .with_http()
                    .with_endpoint(format!("{url}/v1/traces"))
                    .build()
                    .unwrap(),
                opentelemetry_otlp::MetricExporter::builder()
                    .with_http()
                    .with_endpoint(format!("{url}/v1/metrics"))
                    .build()
                    .unwrap(),
                opentelemetry_otlp::LogExporter::builder()
                    .with_http()
                    .with_endpoint(format!("{url}/v1/logs"))
                    .build()
                    .unwrap(),
            )
        };
        se.set_resource(&resource);
        se.export(spans).await.expect("span export");
        for rm in &rms {
            me.export(rm).await.expect("metric export");
        }
        le.set_resource(&resource);
        let batch: Vec<_> = logs_data
            .iter()
            .map(|l| (&l.record, &l.instrumentation))
            .collect();
        le.export(LogBatch::new(&batch)).await.expect("log export");
    });

    let d = dir.path();
    wait_for(
        Duration::from_secs(10),
        "data in the file exporters",
        || {
            span_names(&d.join("traces.bin")).len() >= 3
                && !metrics(&d.join("metrics.bin")).is_empty()
                && !logs(&d.join("logs.bin")).is_empty()
        },
    );
    check_spans(&expected, &traces(&d.join("traces.bin")));
    check_metrics(&expected, &metrics(&d.join("metrics.bin")));
    check_logs(&expected, &logs(&d.join("logs.bin")));
}

#[test]
fn opentelemetry_rust_grpc() {
    send("grpc");
}

#[test]
fn opentelemetry_rust_http_protobuf() {
    send("http");
}
