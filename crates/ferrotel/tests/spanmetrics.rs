//! The `spanmetrics` connector in the real `ferrotel` binary: the Python OpenTelemetry SDK sends
//! spans with fixed durations over OTLP/HTTP; the traces pipeline exports to `spanmetrics`, whose
//! metrics pipeline writes to a file exporter. Calls, histogram buckets and exemplars (trace and
//! span ids of the spans sent) are checked against values worked out by hand.

mod interop_support;

use std::process::Command;
use std::time::Duration;

use ferrotel_pdata::proto::metrics::v1::{Metric, exemplar, metric::Data, number_data_point};
use interop_support::*;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn status_of(attrs: &[ferrotel_pdata::proto::common::v1::KeyValue]) -> String {
    attrs_json(attrs)["status.code"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn spans_in_metrics_out() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let http = free_port();
    let config = format!(
        r#"
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:{http}
connectors:
  spanmetrics:
    metrics_flush_interval: 200ms
    exemplars: {{enabled: true}}
    histogram:
      explicit:
        buckets: [2ms, 5ms, 100ms]
exporters:
  file:
    path: {d}/metrics.bin
    format: proto
    flush_interval: 50ms
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [spanmetrics]
    metrics:
      receivers: [spanmetrics]
      exporters: [file]
"#
    );
    let mut collector = Collector::start("spanmetrics", dir.path(), &config, None);
    let sent = run_client(
        Command::new("python3")
            .arg(repo_root().join("tests/interop/send_timed_spans.py"))
            .arg("--endpoint")
            .arg(format!("127.0.0.1:{http}")),
        PIP_HINT,
    );
    let path = dir.path().join("metrics.bin");
    let calls_total = |m: &Metric| -> i64 {
        let Some(Data::Sum(s)) = &m.data else {
            return 0;
        };
        s.data_points
            .iter()
            .map(|p| match p.value {
                Some(number_data_point::Value::AsInt(n)) => n,
                _ => 0,
            })
            .sum()
    };
    // The first flush whose calls count all five spans (they arrive in one request; later
    // cumulative flushes repeat the counts without exemplars, which belong to one interval).
    let find = || {
        metrics(&path).into_iter().find(|r| {
            r.resource_metrics
                .iter()
                .flat_map(|rm| &rm.scope_metrics)
                .flat_map(|sm| &sm.metrics)
                .any(|m| m.name == "traces.span.metrics.calls" && calls_total(m) == 5)
        })
    };
    wait_for(Duration::from_secs(20), "span metrics in the file", || {
        find().is_some()
    });
    collector.terminate();
    let got = find().unwrap();
    assert_eq!(got.resource_metrics.len(), 1);
    let rm = &got.resource_metrics[0];
    assert_eq!(
        attrs_json(&rm.resource.as_ref().unwrap().attributes)["service.name"],
        "checkout"
    );
    let metrics = &rm.scope_metrics[0].metrics;
    let calls = metrics
        .iter()
        .find(|m| m.name == "traces.span.metrics.calls")
        .unwrap();
    let Some(Data::Sum(sum)) = &calls.data else {
        panic!("calls is a sum")
    };
    assert!(sum.is_monotonic);
    assert_eq!(sum.aggregation_temporality, 2);
    let mut points: Vec<(serde_json::Value, i64)> = sum
        .data_points
        .iter()
        .map(|p| {
            let Some(number_data_point::Value::AsInt(n)) = p.value else {
                panic!("int")
            };
            (attrs_json(&p.attributes), n)
        })
        .collect();
    points.sort_by_key(|(a, _)| a["span.name"].as_str().unwrap().to_string());
    assert_eq!(
        points,
        vec![
            (
                serde_json::json!({"service.name": "checkout", "span.name": "GET /cart",
                    "span.kind": "SPAN_KIND_SERVER", "status.code": "STATUS_CODE_UNSET"}),
                4
            ),
            (
                serde_json::json!({"service.name": "checkout", "span.name": "charge",
                    "span.kind": "SPAN_KIND_CLIENT", "status.code": "STATUS_CODE_ERROR"}),
                1
            ),
        ]
    );

    let duration = metrics
        .iter()
        .find(|m| m.name == "traces.span.metrics.duration")
        .unwrap();
    assert_eq!(duration.unit, "ms");
    let Some(Data::Histogram(h)) = &duration.data else {
        panic!("explicit histogram")
    };
    let cart = h
        .data_points
        .iter()
        .find(|p| status_of(&p.attributes) == "STATUS_CODE_UNSET")
        .unwrap();
    // 1 ms, 3 ms, 3 ms, 120 ms against bounds 2, 5, 100.
    assert_eq!(cart.explicit_bounds, vec![2.0, 5.0, 100.0]);
    assert_eq!(cart.bucket_counts, vec![1, 2, 0, 1]);
    assert_eq!(cart.count, 4);
    assert_eq!(cart.sum, Some(127.0));
    let charge = h
        .data_points
        .iter()
        .find(|p| status_of(&p.attributes) == "STATUS_CODE_ERROR")
        .unwrap();
    assert_eq!(charge.bucket_counts, vec![0, 0, 1, 0]);

    // Exemplars: the trace and span ids of the spans the SDK sent, with their durations.
    let spans = sent["spans"].as_array().unwrap();
    let charge_sent = spans.iter().find(|s| s["name"] == "charge").unwrap();
    assert_eq!(charge.exemplars.len(), 1);
    let ex = &charge.exemplars[0];
    assert_eq!(hex(&ex.trace_id), charge_sent["trace_id"].as_str().unwrap());
    assert_eq!(hex(&ex.span_id), charge_sent["span_id"].as_str().unwrap());
    assert_eq!(ex.value, Some(exemplar::Value::AsDouble(7.0)));
    let mut cart_ids: Vec<String> = spans
        .iter()
        .filter(|s| s["name"] == "GET /cart")
        .map(|s| s["span_id"].as_str().unwrap().to_string())
        .collect();
    let mut ex_ids: Vec<String> = cart.exemplars.iter().map(|e| hex(&e.span_id)).collect();
    cart_ids.sort();
    ex_ids.sort();
    assert_eq!(ex_ids, cart_ids);
}
