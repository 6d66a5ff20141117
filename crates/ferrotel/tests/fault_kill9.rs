//! `kill -9` of a ferrotel whose exporter has a persistent queue (`file_storage`), under load,
//! while its downstream is away: after a restart every request the receiver acknowledged
//! (HTTP 200) reaches the downstream — counted exactly, by span name. Requests in flight at
//! the kill (no answer) may or may not arrive; duplicates are reported, not failed on (the
//! queue delivers at least once). The same with exporter-side batching
//! (`sending_queue::batch`), which batches after the persistent queue.

mod interop_support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use interop_support::*;

/// `batch`: the `sending_queue::batch` section's lines, indented for it, or "".
fn front(dir: &std::path::Path, http: u16, m: u16, sink_grpc: u16, batch: &str) -> String {
    format!(
        r#"
extensions:
  file_storage/q:
    directory: {storage}
    create_directory: true
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:{http}
exporters:
  otlp_grpc/sink:
    endpoint: 127.0.0.1:{sink_grpc}
    tls: {{insecure: true}}
    timeout: 2s
    sending_queue:
      storage: file_storage/q
      queue_size: 100000
      num_consumers: 4
{batch}
    retry_on_failure:
      initial_interval: 50ms
      max_interval: 200ms
      max_elapsed_time: 0s
service:
  extensions: [file_storage/q]
  telemetry:
    metrics:
      address: 127.0.0.1:{m}
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [otlp_grpc/sink]
"#,
        storage = dir.join("storage").display()
    )
}

/// The sink appends, so its restarts keep what it wrote before.
fn sink(dir: &std::path::Path, grpc: u16, http: u16, m: u16) -> String {
    file_sink_config(dir, grpc, http, m).replace("format: proto", "format: proto\n    append: true")
}

#[test]
fn kill9_under_load_loses_no_acknowledged_request() {
    kill9_under_load("");
}

#[test]
fn kill9_with_exporter_batching_loses_no_acknowledged_request() {
    let names = kill9_under_load(
        "      batch:\n        flush_timeout: 100ms\n        min_size: 20\n        max_size: 50",
    );
    assert!(names > 0);
}

/// Runs the scenario; returns how many spans the sink received.
fn kill9_under_load(batch: &str) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (fh, fm, sg, sh, sm) = (
        free_port(),
        free_port(),
        free_port(),
        free_port(),
        free_port(),
    );
    let mut s = Collector::start("sink", d, &sink(d, sg, sh, sm), Some(sm));
    let mut f = Collector::start("front", d, &front(d, fh, fm, sg, batch), Some(fm));

    // Load: 3 senders, each request one span with a unique name; record what was acknowledged.
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let unanswered = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut senders = Vec::new();
    for t in 0..3 {
        let (acked, unanswered, stop) = (acked.clone(), unanswered.clone(), stop.clone());
        senders.push(std::thread::spawn(move || {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let name = format!("k{t}-{i:06}");
                i += 1;
                let body = spans_request("kill9", std::slice::from_ref(&name));
                match post_otlp(fh, "/v1/traces", &body) {
                    Ok(200) => acked.lock().unwrap().push(name),
                    Ok(code) => panic!("unexpected HTTP {code} for {name}"),
                    // The collector died with the request in flight: not acknowledged.
                    Err(_) => {
                        unanswered.lock().unwrap().push(name);
                        break;
                    }
                }
            }
        }));
    }
    // Delivering normally for a while, then the sink goes away (gracefully, so it keeps what
    // it acknowledged) and the backlog builds up on disk.
    std::thread::sleep(Duration::from_millis(1200));
    s.terminate();
    std::thread::sleep(Duration::from_millis(1200));
    let before_kill = acked.lock().unwrap().len();
    let backlog = f.metric(
        "otelcol_exporter_queue_size",
        &[("exporter", "otlp_grpc/sink")],
    );
    f.kill9();
    let front1_log = f.log();
    let sink1_log = s.log();
    stop.store(true, Ordering::Relaxed);
    for t in senders {
        t.join().unwrap();
    }
    let acked: BTreeSet<String> = acked.lock().unwrap().iter().cloned().collect();
    let unanswered = unanswered.lock().unwrap().clone();
    assert!(
        before_kill > 50,
        "load too light to mean anything: {before_kill}"
    );

    // Everything comes back; the front replays its queue.
    let _s = Collector::start("sink2", d, &sink(d, sg, sh, sm), Some(sm));
    let f = Collector::start("front2", d, &front(d, fh, fm, sg, batch), Some(fm));
    let path = d.join("traces.bin");
    let start = Instant::now();
    let mut missing: Vec<String> = Vec::new();
    while start.elapsed() < Duration::from_secs(15) {
        let got: BTreeSet<String> = span_names(&path).into_iter().collect();
        missing = acked.difference(&got).cloned().collect();
        if missing.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let names = span_names(&path);
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for n in &names {
        *counts.entry(n).or_default() += 1;
    }
    let duplicates = counts.values().filter(|c| **c > 1).count();
    let unacked_delivered = counts.keys().filter(|n| !acked.contains(**n)).count();
    eprintln!(
        "kill -9 with {backlog} requests queued on disk: {} acknowledged, {} in flight at the kill, {} received ({} distinct), {} duplicated, {} unacknowledged but delivered",
        acked.len(),
        unanswered.len(),
        names.len(),
        counts.len(),
        duplicates,
        unacked_delivered
    );
    assert!(
        missing.is_empty(),
        "{} acknowledged requests lost, e.g. {:?}\nfront log before the kill:\n{}\nsink log before it stopped:\n{}\nfront log after the restart:\n{}",
        missing.len(),
        &missing[..missing.len().min(5)],
        front1_log,
        sink1_log,
        f.log()
    );
    // Only requests without an answer may arrive without having been acknowledged.
    assert!(unacked_delivered <= unanswered.len());
    if !batch.is_empty() {
        // Every request that reached the sink is a batch within max_size.
        let sizes: Vec<usize> = traces(&path)
            .iter()
            .map(|r| {
                r.resource_spans
                    .iter()
                    .flat_map(|r| &r.scope_spans)
                    .map(|s| s.spans.len())
                    .sum()
            })
            .collect();
        assert!(
            sizes.iter().all(|&n| n <= 50),
            "batch over max_size: {sizes:?}"
        );
        assert!(
            sizes.iter().any(|&n| n >= 20),
            "no batch reached min_size: {sizes:?}"
        );
    }
    names.len()
}

/// 1-span requests reach the sink in batches of min_size..=max_size, and a short one after
/// flush_timeout.
#[test]
fn exporter_batching_sends_min_size_batches_then_by_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (fh, fm, sg, sh, sm) = (
        free_port(),
        free_port(),
        free_port(),
        free_port(),
        free_port(),
    );
    let _s = Collector::start("sink", d, &sink(d, sg, sh, sm), Some(sm));
    let batch =
        "      batch:\n        flush_timeout: 2s\n        min_size: 10\n        max_size: 15";
    let f = Collector::start("front", d, &front(d, fh, fm, sg, batch), Some(fm));
    let start = Instant::now();
    for i in 0..25 {
        let body = spans_request("batching", &[format!("b{i:02}")]);
        assert_eq!(post_otlp(fh, "/v1/traces", &body).unwrap(), 200);
    }
    let path = d.join("traces.bin");
    let sizes = || -> Vec<usize> {
        traces(&path)
            .iter()
            .map(|r| {
                r.resource_spans
                    .iter()
                    .flat_map(|r| &r.scope_spans)
                    .map(|s| s.spans.len())
                    .sum()
            })
            .collect()
    };
    wait_for(Duration::from_secs(10), "two batches", || {
        sizes().len() >= 2
    });
    assert_eq!(
        sizes(),
        vec![10, 10],
        "full batches go at min_size:\n{}",
        f.log()
    );
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "full batches did not wait"
    );
    wait_for(
        Duration::from_secs(10),
        "the rest after flush_timeout",
        || sizes().len() == 3,
    );
    assert!(
        start.elapsed() >= Duration::from_secs(2),
        "the short batch waits flush_timeout"
    );
    assert_eq!(sizes(), vec![10, 10, 5]);
    let mut names = span_names(&path);
    names.sort();
    assert_eq!(
        names,
        (0..25).map(|i| format!("b{i:02}")).collect::<Vec<_>>()
    );
}
