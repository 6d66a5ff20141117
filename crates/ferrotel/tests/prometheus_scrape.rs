//! ferrotel's `prometheus` receiver against the real thing (Debian's `prometheus` and
//! `prometheus-node-exporter`, started here on loopback): it scrapes Prometheus's own
//! `/metrics` and a node exporter, and the OTLP written by a `file` exporter matches the
//! exposition fetched by the test at nearly the same time — series names, labels and types
//! sample by sample, values of stable gauges. A garbage target gives `up` 0 and a log line
//! naming it and the line, while the others keep being scraped.

mod interop_support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ferrotel_pdata::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use ferrotel_pdata::proto::common::v1::{KeyValue, any_value};
use ferrotel_pdata::proto::metrics::v1::{metric, number_data_point};
use ferrotel_prometheus::scrape::parse::{ACCEPT, MetricType};
use ferrotel_prometheus::scrape::{Format, parse};
use interop_support::*;

struct Proc(Child);
impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(cmd: &mut Command) -> Proc {
    Proc(
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn"),
    )
}

/// GET with Prometheus's Accept header; returns (content-type, body).
fn fetch(port: u16, path: &str) -> Option<(String, Vec<u8>)> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept: {ACCEPT}\r\n\r\n"
    )
    .ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).ok()?;
    let split = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&buf[..split]).to_string();
    if !head.starts_with("HTTP/1.1 200") && !head.starts_with("HTTP/1.0 200") {
        return None;
    }
    let ct = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-type")
                .then(|| v.trim().to_string())
        })
        .unwrap_or_default();
    Some((ct, buf[split + 4..].to_vec()))
}

fn attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|k| k.key == key)
        .and_then(|k| match k.value.as_ref()?.value.as_ref()? {
            any_value::Value::StringValue(s) => Some(s.as_str()),
            _ => None,
        })
}

/// Per service.instance.id: metric name → (kind, series label sets → last value).
type Seen = BTreeMap<String, BTreeMap<String, (String, BTreeMap<String, f64>)>>;

fn label_key(attrs: &[KeyValue]) -> String {
    let mut v: Vec<String> = attrs
        .iter()
        .map(|k| format!("{}={}", k.key, attr(attrs, &k.key).unwrap_or("")))
        .collect();
    v.sort();
    v.join(",")
}

fn collect(reqs: &[ExportMetricsServiceRequest]) -> Seen {
    let mut seen = Seen::new();
    for r in reqs {
        for rm in &r.resource_metrics {
            let res = rm
                .resource
                .as_ref()
                .map(|r| r.attributes.as_slice())
                .unwrap_or(&[]);
            let inst = attr(res, "service.instance.id").unwrap_or("").to_string();
            for sm in &rm.scope_metrics {
                for m in &sm.metrics {
                    let (kind, points): (&str, Vec<(String, f64)>) = match &m.data {
                        Some(metric::Data::Sum(s)) => (
                            if s.is_monotonic { "counter" } else { "sum" },
                            s.data_points
                                .iter()
                                .filter(|p| p.flags == 0)
                                .map(|p| (label_key(&p.attributes), num(&p.value)))
                                .collect(),
                        ),
                        Some(metric::Data::Gauge(g)) => (
                            "gauge",
                            g.data_points
                                .iter()
                                .filter(|p| p.flags == 0)
                                .map(|p| (label_key(&p.attributes), num(&p.value)))
                                .collect(),
                        ),
                        Some(metric::Data::Histogram(h)) => (
                            "histogram",
                            h.data_points
                                .iter()
                                .map(|p| (label_key(&p.attributes), p.count as f64))
                                .collect(),
                        ),
                        Some(metric::Data::Summary(s)) => (
                            "summary",
                            s.data_points
                                .iter()
                                .map(|p| (label_key(&p.attributes), p.count as f64))
                                .collect(),
                        ),
                        _ => ("other", vec![]),
                    };
                    let e = seen
                        .entry(inst.clone())
                        .or_default()
                        .entry(m.name.clone())
                        .or_insert_with(|| (kind.to_string(), BTreeMap::new()));
                    for (k, v) in points {
                        e.1.insert(k, v);
                    }
                }
            }
        }
    }
    seen
}

fn num(v: &Option<number_data_point::Value>) -> f64 {
    match v {
        Some(number_data_point::Value::AsDouble(d)) => *d,
        Some(number_data_point::Value::AsInt(i)) => *i as f64,
        None => f64::NAN,
    }
}

fn expected_kind(k: MetricType) -> &'static str {
    match k {
        MetricType::Counter => "counter",
        MetricType::Histogram => "histogram",
        MetricType::Summary => "summary",
        MetricType::Info | MetricType::StateSet => "sum",
        _ => "gauge",
    }
}

/// Checks one target's OTLP output against its exposition, family by family and series by
/// series; returns how many series were compared.
fn compare(
    exposition: &[u8],
    content_type: &str,
    got: &BTreeMap<String, (String, BTreeMap<String, f64>)>,
) -> usize {
    let format = Format::from_content_type(Some(content_type));
    let exp = parse(exposition, format).expect("the target's exposition parses");
    let mut compared = 0;
    for f in &exp.families {
        if f.samples.is_empty() || f.name == "target_info" {
            continue;
        }
        let (kind, series) = got.get(f.name).unwrap_or_else(|| {
            panic!(
                "family {} ({:?}) missing from the OTLP output",
                f.name, f.kind
            )
        });
        assert_eq!(kind, expected_kind(f.kind), "type of {}", f.name);
        let mut wanted = BTreeSet::new();
        for s in &exp.samples[f.samples.clone()] {
            let mut attrs: Vec<String> = exp
                .labels_of(&s.labels)
                .iter()
                .filter(|l| !matches!(l.name, "le" | "quantile"))
                .map(|l| format!("{}={}", l.name, l.value))
                .collect();
            attrs.sort();
            let key = attrs.join(",");
            if matches!(kind.as_str(), "gauge" | "sum") && s.name == f.name {
                // Stable values: build/config info gauges do not change between two fetches.
                if f.name.ends_with("_info") || f.name.contains("build") {
                    assert_eq!(
                        series.get(&key).copied(),
                        Some(s.value),
                        "{} {{{key}}}",
                        f.name
                    );
                }
            }
            wanted.insert(key);
        }
        for k in &wanted {
            // Series that come and go between two fetches (per-request gauges) are rare;
            // everything present in both must match.
            assert!(
                series.contains_key(k),
                "series {}{{{k}}} missing from the OTLP output",
                f.name
            );
        }
        compared += wanted.len();
    }
    compared
}

#[test]
fn scrapes_prometheus_and_node_exporter() {
    if !std::path::Path::new("/usr/bin/prometheus").exists()
        || !std::path::Path::new("/usr/bin/prometheus-node-exporter").exists()
    {
        eprintln!(
            "skipped: install Debian's prometheus and prometheus-node-exporter (.ci/run does)"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (prom, node, garbage, metrics_port) = (free_port(), free_port(), free_port(), free_port());
    std::fs::write(dir.path().join("prom.yml"), "scrape_configs: []\n").unwrap();
    let _prom = spawn(
        Command::new("/usr/bin/prometheus")
            .arg(format!("--config.file={}/prom.yml", dir.path().display()))
            .arg(format!("--storage.tsdb.path={}/data", dir.path().display()))
            .arg(format!("--web.listen-address=127.0.0.1:{prom}")),
    );
    let _node = spawn(
        Command::new("/usr/bin/prometheus-node-exporter")
            .arg(format!("--web.listen-address=127.0.0.1:{node}"))
            // Only collectors that need no special host access, to keep the test portable.
            .args([
                "--collector.disable-defaults",
                "--collector.cpu",
                "--collector.meminfo",
                "--collector.loadavg",
                "--collector.time",
                "--collector.uname",
            ]),
    );
    // A target that answers 200 with garbage (a truncated exposition).
    let listener = TcpListener::bind(("127.0.0.1", garbage)).unwrap();
    std::thread::spawn(move || {
        for mut s in listener.incoming().map_while(Result::ok) {
            let mut buf = [0u8; 2048];
            let _ = s.read(&mut buf);
            let body = "# TYPE ok gauge\nok 1\nbroken{label=\"unterminated";
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    wait_for(
        Duration::from_secs(30),
        "prometheus and node exporter up",
        || fetch(prom, "/metrics").is_some() && fetch(node, "/metrics").is_some(),
    );
    let d = dir.path().display();
    let config = format!(
        r#"
receivers:
  prometheus:
    config:
      global: {{scrape_interval: 1s, scrape_timeout: 1s}}
      scrape_configs:
        - job_name: prometheus
          static_configs: [{{targets: ["127.0.0.1:{prom}"]}}]
        - job_name: node
          static_configs: [{{targets: ["127.0.0.1:{node}"]}}]
        - job_name: garbage
          static_configs: [{{targets: ["127.0.0.1:{garbage}"]}}]
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
      receivers: [prometheus]
      exporters: [file]
"#
    );
    let collector = Collector::start("promscrape", dir.path(), &config, Some(metrics_port));
    let bin = dir.path().join("metrics.bin");
    // Three scrapes of each target.
    wait_for(Duration::from_secs(30), "three scrapes per target", || {
        read_proto_file(&bin, ferrotel_pdata::Signal::Metrics).len() >= 9
    });
    let (prom_ct, prom_body) = fetch(prom, "/metrics").unwrap();
    let (node_ct, node_body) = fetch(node, "/metrics").unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let reqs = metrics(&bin);
    let seen = collect(&reqs);

    let n_prom = compare(&prom_body, &prom_ct, &seen[&format!("127.0.0.1:{prom}")]);
    let n_node = compare(&node_body, &node_ct, &seen[&format!("127.0.0.1:{node}")]);
    assert!(
        n_prom > 100 && n_node > 20,
        "compared {n_prom} and {n_node} series"
    );

    // up: 1 for the real targets, 0 for the garbage one; scrape_* metrics present.
    let up = |inst: String| seen[&inst]["up"].1.values().next().copied();
    assert_eq!(up(format!("127.0.0.1:{prom}")), Some(1.0));
    assert_eq!(up(format!("127.0.0.1:{node}")), Some(1.0));
    assert_eq!(up(format!("127.0.0.1:{garbage}")), Some(0.0));
    for m in [
        "scrape_duration_seconds",
        "scrape_samples_scraped",
        "scrape_samples_post_metric_relabeling",
        "scrape_series_added",
    ] {
        assert!(seen[&format!("127.0.0.1:{node}")].contains_key(m), "{m}");
    }
    // Resource attributes per the spec.
    let rm = reqs
        .iter()
        .flat_map(|r| &r.resource_metrics)
        .find(|rm| attr(&rm.resource.as_ref().unwrap().attributes, "service.name") == Some("node"))
        .unwrap();
    let res = &rm.resource.as_ref().unwrap().attributes;
    assert_eq!(
        attr(res, "service.instance.id"),
        Some(format!("127.0.0.1:{node}").as_str())
    );
    assert_eq!(attr(res, "server.address"), Some("127.0.0.1"));
    assert_eq!(attr(res, "server.port"), Some(node.to_string().as_str()));
    assert_eq!(attr(res, "url.scheme"), Some("http"));
    // Cumulative points carry a start time at or before their time.
    let counter = rm.scope_metrics[0]
        .metrics
        .iter()
        .find_map(|m| match &m.data {
            Some(metric::Data::Sum(s)) if s.is_monotonic => s.data_points.first().cloned(),
            _ => None,
        })
        .expect("a counter from the node exporter");
    assert!(
        counter.start_time_unix_nano > 0 && counter.start_time_unix_nano <= counter.time_unix_nano
    );

    let log = collector.log();
    let line = log
        .lines()
        .find(|l| l.contains("scrape failed") && l.contains(&format!("127.0.0.1:{garbage}")))
        .unwrap_or_else(|| panic!("no log line for the garbage target:\n{log}"));
    assert!(line.contains("line 3"), "{line}");
}

/// A target found through file_sd that answers gzip (as exporters do when asked): its values
/// come through decompressed; when the file drops it, its series and `up` get staleness
/// markers (the no-recorded-value flag), as Prometheus writes them for a vanished target.
#[test]
fn gzip_target_from_file_sd_goes_stale_when_dropped() {
    use flate2::{Compression, write::GzEncoder};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let dir = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let target = listener.local_addr().unwrap();
    let gzipped = Arc::new(AtomicUsize::new(0));
    let g = gzipped.clone();
    std::thread::spawn(move || {
        for mut s in listener.incoming().map_while(Result::ok) {
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).unwrap_or(0);
            let head = String::from_utf8_lossy(&buf[..n]).to_ascii_lowercase();
            let body = "# TYPE zipped_temperature gauge\nzipped_temperature{room=\"a\"} 21.5\n";
            let (enc, body) = if head.contains("accept-encoding: gzip") {
                g.fetch_add(1, Ordering::SeqCst);
                let mut e = GzEncoder::new(Vec::new(), Compression::default());
                e.write_all(body.as_bytes()).unwrap();
                ("Content-Encoding: gzip\r\n", e.finish().unwrap())
            } else {
                ("", body.as_bytes().to_vec())
            };
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n{enc}Content-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(&body);
        }
    });
    let sd = dir.path().join("targets.json");
    std::fs::write(&sd, format!(r#"[{{"targets": ["{target}"]}}]"#)).unwrap();
    let (d, metrics_port) = (dir.path().display(), free_port());
    let config = format!(
        r#"
receivers:
  prometheus:
    config:
      scrape_configs:
        - job_name: sd
          scrape_interval: 1s
          scrape_timeout: 1s
          file_sd_configs:
            - files: ["{d}/targets.json"]
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
      receivers: [prometheus]
      exporters: [file]
"#
    );
    let _collector = Collector::start("promsd", dir.path(), &config, Some(metrics_port));
    let bin = dir.path().join("metrics.bin");
    let points = |name: &str| -> Vec<(u32, f64)> {
        metrics(&bin)
            .iter()
            .flat_map(|r| &r.resource_metrics)
            .flat_map(|rm| &rm.scope_metrics)
            .flat_map(|sm| &sm.metrics)
            .filter(|m| m.name == name)
            .flat_map(|m| match &m.data {
                Some(metric::Data::Gauge(g)) => g
                    .data_points
                    .iter()
                    .map(|p| (p.flags, num(&p.value)))
                    .collect(),
                _ => vec![],
            })
            .collect()
    };
    wait_for(Duration::from_secs(30), "two scrapes of the target", || {
        points("zipped_temperature").len() >= 2
    });
    assert!(gzipped.load(Ordering::SeqCst) >= 2, "gzip was asked for");
    assert!(points("zipped_temperature").iter().all(|p| *p == (0, 21.5)));
    // Dropped from discovery: staleness markers, and no more scrapes.
    std::fs::write(&sd, "[]").unwrap();
    wait_for(Duration::from_secs(30), "staleness markers", || {
        points("zipped_temperature").iter().any(|p| p.0 == 1)
            && points("up").iter().any(|p| p.0 == 1)
    });
    let stale = points("zipped_temperature");
    assert_eq!(stale.last().unwrap().0, 1, "the marker is the last point");
    assert!(stale.last().unwrap().1.is_nan(), "and carries no value");
}
