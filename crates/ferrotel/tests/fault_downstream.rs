//! The downstream of an `otlp_grpc` exporter is down for a while and comes back (a second
//! ferrotel started late). Within queue capacity nothing is lost; beyond it, exactly the
//! refused requests are missing and `otelcol_exporter_enqueue_failed_spans` counts them.

mod interop_support;

use std::time::Duration;

use interop_support::*;

fn front(http: u16, m: u16, sink_grpc: u16, queue_size: u64, consumers: u64) -> String {
    format!(
        r#"
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:{http}
exporters:
  otlp_grpc/down:
    endpoint: 127.0.0.1:{sink_grpc}
    tls: {{insecure: true}}
    timeout: 2s
    sending_queue:
      queue_size: {queue_size}
      num_consumers: {consumers}
    retry_on_failure:
      initial_interval: 100ms
      max_interval: 300ms
      max_elapsed_time: 0s
service:
  telemetry:
    metrics:
      address: 127.0.0.1:{m}
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [otlp_grpc/down]
"#
    )
}

/// Sends `n` one-span requests named `<prefix>-<i>`; returns (accepted names, refused names).
fn send(port: u16, prefix: &str, n: usize) -> (Vec<String>, Vec<String>) {
    let (mut ok, mut refused) = (Vec::new(), Vec::new());
    for i in 0..n {
        let name = format!("{prefix}-{i:04}");
        let body = spans_request("fault", std::slice::from_ref(&name));
        match post_otlp(port, "/v1/traces", &body) {
            Ok(200) => ok.push(name),
            Ok(503) => refused.push(name),
            other => panic!("unexpected answer for {name}: {other:?}"),
        }
    }
    (ok, refused)
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
fn outage_within_queue_capacity_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (fh, fm, sg, sh, sm) = (
        free_port(),
        free_port(),
        free_port(),
        free_port(),
        free_port(),
    );
    let f = Collector::start("front", dir.path(), &front(fh, fm, sg, 100, 2), Some(fm));
    let (ok, refused) = send(fh, "within", 40);
    assert_eq!((ok.len(), refused.len()), (40, 0));
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(f.metric("otelcol_exporter_sent_spans_total", &[]), 0.0);
    // The downstream comes back.
    let _sink = Collector::start(
        "sink",
        dir.path(),
        &file_sink_config(dir.path(), sg, sh, sm),
        Some(sm),
    );
    let path = dir.path().join("traces.bin");
    wait_for(Duration::from_secs(10), "40 spans at the sink", || {
        span_names(&path).len() >= 40
    });
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        sorted(span_names(&path)),
        sorted(ok),
        "each accepted span exactly once"
    );
    assert_eq!(
        f.metric(
            "otelcol_exporter_sent_spans_total",
            &[("exporter", "otlp_grpc/down")]
        ),
        40.0
    );
    assert_eq!(
        f.metric("otelcol_exporter_enqueue_failed_spans_total", &[]),
        0.0
    );
    assert_eq!(
        f.metric("otelcol_exporter_send_failed_spans_total", &[]),
        0.0
    );
    assert_eq!(f.metric("otelcol_exporter_queue_size", &[]), 0.0);
}

#[test]
fn outage_beyond_queue_capacity_drops_exactly_the_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (fh, fm, sg, sh, sm) = (
        free_port(),
        free_port(),
        free_port(),
        free_port(),
        free_port(),
    );
    // One consumer holds the first request (retrying); the queue holds 10 more.
    let f = Collector::start("front", dir.path(), &front(fh, fm, sg, 10, 1), Some(fm));
    let (ok, refused) = send(fh, "beyond", 25);
    assert_eq!(
        ok.len(),
        11,
        "queue_size 10 + 1 in flight; refused: {refused:?}"
    );
    assert_eq!(refused.len(), 14);
    assert_eq!(
        f.metric(
            "otelcol_exporter_queue_size",
            &[("exporter", "otlp_grpc/down")]
        ),
        10.0
    );
    assert_eq!(
        f.metric(
            "otelcol_exporter_queue_capacity",
            &[("exporter", "otlp_grpc/down")]
        ),
        10.0
    );
    assert_eq!(
        f.metric(
            "otelcol_exporter_enqueue_failed_spans_total",
            &[("exporter", "otlp_grpc/down")]
        ),
        14.0
    );
    let _sink = Collector::start(
        "sink",
        dir.path(),
        &file_sink_config(dir.path(), sg, sh, sm),
        Some(sm),
    );
    let path = dir.path().join("traces.bin");
    wait_for(Duration::from_secs(10), "11 spans at the sink", || {
        span_names(&path).len() >= 11
    });
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(sorted(span_names(&path)), sorted(ok));
    assert_eq!(f.metric("otelcol_exporter_sent_spans_total", &[]), 11.0);
    assert_eq!(
        f.metric("otelcol_exporter_send_failed_spans_total", &[]),
        0.0
    );
}
