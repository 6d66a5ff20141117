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
            let key = sample_key(&exp, s);
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

/// Whether Debian's `prometheus` and `prometheus-node-exporter` are installed. With `CI` set
/// their absence FAILS the test (`.ci/run` installs them: a silent pass would hide that nothing
/// was compared); elsewhere the skip is loud.
fn have_binaries() -> bool {
    let missing: Vec<&str> = [PROMETHEUS, NODE_EXPORTER]
        .into_iter()
        .filter(|p| !std::path::Path::new(p).exists())
        .collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set but {missing:?} are not installed (.ci/run installs Debian's prometheus and prometheus-node-exporter)"
    );
    eprintln!(
        "\n*** SKIPPED: {missing:?} not installed; install Debian's prometheus and prometheus-node-exporter (.ci/run does) ***\n"
    );
    false
}

const PROMETHEUS: &str = "/usr/bin/prometheus";
const NODE_EXPORTER: &str = "/usr/bin/prometheus-node-exporter";

/// Sorted `name=value` pairs of a sample's labels, without `le`/`quantile`.
fn sample_key(
    exp: &ferrotel_prometheus::scrape::Exposition<'_>,
    s: &ferrotel_prometheus::scrape::parse::Sample<'_>,
) -> String {
    let mut attrs: Vec<String> = exp
        .labels_of(&s.labels)
        .iter()
        .filter(|l| !matches!(l.name, "le" | "quantile"))
        .map(|l| format!("{}={}", l.name, l.value))
        .collect();
    attrs.sort();
    attrs.join(",")
}

/// Counter values of an exposition: (sample name, label key) → value.
fn counters(body: &[u8], content_type: &str) -> BTreeMap<(String, String), f64> {
    let exp = parse(body, Format::from_content_type(Some(content_type))).unwrap();
    let mut out = BTreeMap::new();
    for f in exp
        .families
        .iter()
        .filter(|f| f.kind == MetricType::Counter)
    {
        for s in &exp.samples[f.samples.clone()] {
            // The value sample: the family's name (text) or with `_total` (OpenMetrics); the
            // OTLP metric is named as that sample.
            if s.name == f.name || s.name.strip_suffix("_total") == Some(f.name) {
                out.insert((s.name.to_string(), sample_key(&exp, s)), s.value);
            }
        }
    }
    out
}

/// ferrotel's monotonic-sum points of one instance: (metric, label key, time ns, value).
fn counter_points(
    reqs: &[ExportMetricsServiceRequest],
    inst: &str,
) -> Vec<(String, String, u64, f64)> {
    let mut out = Vec::new();
    for rm in reqs.iter().flat_map(|r| &r.resource_metrics) {
        let res = rm
            .resource
            .as_ref()
            .map(|r| r.attributes.as_slice())
            .unwrap_or(&[]);
        if attr(res, "service.instance.id") != Some(inst) {
            continue;
        }
        for m in rm.scope_metrics.iter().flat_map(|sm| &sm.metrics) {
            if let Some(metric::Data::Sum(s)) = &m.data
                && s.is_monotonic
            {
                for p in s.data_points.iter().filter(|p| p.flags == 0) {
                    out.push((
                        m.name.clone(),
                        label_key(&p.attributes),
                        p.time_unix_nano,
                        num(&p.value),
                    ));
                }
            }
        }
    }
    out
}

fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

/// Every counter point ferrotel scraped between two fetches of the same target by the test
/// lies between the values of those fetches (counters only grow): real values, not just
/// names. Returns how many points were checked.
fn counters_bracketed(
    reqs: &[ExportMetricsServiceRequest],
    inst: &str,
    (a, a_done): (&BTreeMap<(String, String), f64>, u64),
    (b, b_start): (&BTreeMap<(String, String), f64>, u64),
) -> usize {
    let mut checked = 0;
    for (name, key, t, v) in counter_points(reqs, inst) {
        // Scraped after fetch A answered, and answered (scrape_timeout 1 s) before B asked.
        if t < a_done || t + 1_000_000_000 > b_start {
            continue;
        }
        // /proc/stat's iowait is known to step backwards; not a counter in practice.
        if key.contains("mode=iowait") {
            continue;
        }
        let k = (name.clone(), key.clone());
        let (Some(lo), Some(hi)) = (a.get(&k), b.get(&k)) else {
            continue;
        };
        assert!(
            *lo <= v && v <= *hi,
            "{inst} {name}{{{key}}}: {v} outside [{lo}, {hi}]"
        );
        checked += 1;
    }
    checked
}

const TEXT_FORMAT: &str = "text/plain; version=0.0.4";
const OPENMETRICS_FORMAT: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Serves `body` as text 0.0.4 on every request, from a thread.
fn serve_text(listener: TcpListener, body: &'static str) {
    serve_as(listener, body, TEXT_FORMAT);
}

/// Serves `body` with `content_type` on every request, from a thread.
fn serve_as(listener: TcpListener, body: &'static str, content_type: &'static str) {
    std::thread::spawn(move || {
        for mut s in listener.incoming().map_while(Result::ok) {
            let mut buf = [0u8; 2048];
            let _ = s.read(&mut buf);
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
}

#[test]
fn scrapes_prometheus_and_node_exporter() {
    if !have_binaries() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (prom, node, garbage, metrics_port) = (free_port(), free_port(), free_port(), free_port());
    std::fs::write(dir.path().join("prom.yml"), "scrape_configs: []\n").unwrap();
    let _prom = spawn(
        Command::new(PROMETHEUS)
            .arg(format!("--config.file={}/prom.yml", dir.path().display()))
            .arg(format!("--storage.tsdb.path={}/data", dir.path().display()))
            .arg(format!("--web.listen-address=127.0.0.1:{prom}")),
    );
    let _node = spawn(
        Command::new(NODE_EXPORTER)
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
    serve_text(
        TcpListener::bind(("127.0.0.1", garbage)).unwrap(),
        "# TYPE ok gauge\nok 1\nbroken{label=\"unterminated",
    );
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
    let a_done = now_ns();
    // ferrotel scrapes each target about four times before the second fetch.
    std::thread::sleep(Duration::from_millis(4500));
    let b_start = now_ns();
    let (prom_ct_b, prom_body_b) = fetch(prom, "/metrics").unwrap();
    let (node_ct_b, node_body_b) = fetch(node, "/metrics").unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let reqs = metrics(&bin);
    let seen = collect(&reqs);
    for (port, (ct, body), (ct_b, body_b)) in [
        (prom, (&prom_ct, &prom_body), (&prom_ct_b, &prom_body_b)),
        (node, (&node_ct, &node_body), (&node_ct_b, &node_body_b)),
    ] {
        let checked = counters_bracketed(
            &reqs,
            &format!("127.0.0.1:{port}"),
            (&counters(body, ct), a_done),
            (&counters(body_b, ct_b), b_start),
        );
        assert!(
            checked > 20,
            "only {checked} counter points of 127.0.0.1:{port} checked"
        );
    }

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

/// A fixed exposition: every type, escaped label values, extreme values.
const STATIC: &str = r#"# HELP http_requests_total Requests.
# TYPE http_requests_total counter
http_requests_total{method="post",code="200"} 1027
http_requests_total{method="get",code="400"} 3
# TYPE big_total counter
big_total 1.5e+300
# TYPE temperature_celsius gauge
temperature_celsius{room="a \"quoted\" \\ back\nslash"} -3.25
temperature_celsius{room="b"} 1e-07
# TYPE rpc_duration_seconds histogram
rpc_duration_seconds_bucket{le="0.05",svc="x"} 24
rpc_duration_seconds_bucket{le="0.5",svc="x"} 129
rpc_duration_seconds_bucket{le="+Inf",svc="x"} 144
rpc_duration_seconds_sum{svc="x"} 53.4
rpc_duration_seconds_count{svc="x"} 144
# TYPE gc_seconds summary
gc_seconds{quantile="0.5"} 0.0002
gc_seconds{quantile="0.99"} 0.0151
gc_seconds_sum 1.75
gc_seconds_count 412
untyped_thing{x="1"} 12345678901234
"#;

/// STATIC as OpenMetrics: counter families without `_total` (their samples carry it), a
/// `# UNIT`; Prometheus stores the sample names. (No info family: Prometheus stores `x_info`
/// where the Go receiver, and ferrotel, name the metric `x`.)
const STATIC_OPENMETRICS: &str = r#"# HELP http_requests Requests.
# TYPE http_requests counter
http_requests_total{method="post",code="200"} 1027
http_requests_total{method="get",code="400"} 3
# TYPE big counter
big_total 1.5e+300
# TYPE temperature_celsius gauge
# UNIT temperature_celsius celsius
temperature_celsius{room="a \"quoted\" \\ back\nslash"} -3.25
temperature_celsius{room="b"} 1e-07
# TYPE rpc_duration_seconds histogram
rpc_duration_seconds_bucket{le="0.05",svc="x"} 24
rpc_duration_seconds_bucket{le="0.5",svc="x"} 129
rpc_duration_seconds_bucket{le="+Inf",svc="x"} 144
rpc_duration_seconds_sum{svc="x"} 53.4
rpc_duration_seconds_count{svc="x"} 144
# TYPE gc_seconds summary
gc_seconds{quantile="0.5"} 0.0002
gc_seconds{quantile="0.99"} 0.0151
gc_seconds_sum 1.75
gc_seconds_count 412
# TYPE untyped_thing unknown
untyped_thing{x="1"} 12345678901234
# EOF
"#;

/// (sample name, sorted `name=value` labels) → value.
type Samples = BTreeMap<(String, String), f64>;

fn key_of(labels: impl Iterator<Item = (String, String)>) -> String {
    let mut v: Vec<String> = labels.map(|(k, v)| format!("{k}={v}")).collect();
    v.sort();
    v.join(",")
}

/// ferrotel's OTLP mapped back to Prometheus samples by the spec's rules (the last scrape of
/// `inst`): job/instance from `service.name`/`service.instance.id`, histograms to cumulative
/// `_bucket{le}` plus `_sum`/`_count`, summaries to `{quantile}` plus `_sum`/`_count`.
fn as_prometheus(reqs: &[ExportMetricsServiceRequest], inst: &str) -> Samples {
    let mut out = Samples::new();
    for rm in reqs.iter().flat_map(|r| &r.resource_metrics) {
        let res = rm
            .resource
            .as_ref()
            .map(|r| r.attributes.as_slice())
            .unwrap_or(&[]);
        if attr(res, "service.instance.id") != Some(inst) {
            continue;
        }
        let base = |attrs: &[KeyValue]| {
            let mut l: Vec<(String, String)> = attrs
                .iter()
                .map(|a| (a.key.clone(), attr(attrs, &a.key).unwrap_or("").to_string()))
                .collect();
            l.push((
                "job".to_string(),
                attr(res, "service.name").unwrap_or("").to_string(),
            ));
            l.push(("instance".to_string(), inst.to_string()));
            l
        };
        let mut put = |name: String,
                       mut labels: Vec<(String, String)>,
                       extra: Option<(&str, String)>,
                       v: f64| {
            labels.extend(extra.map(|(k, v)| (k.to_string(), v)));
            out.insert((name, key_of(labels.into_iter())), v);
        };
        for m in rm.scope_metrics.iter().flat_map(|sm| &sm.metrics) {
            let name = m.name.clone();
            match &m.data {
                Some(metric::Data::Gauge(metric_data)) => {
                    for p in metric_data.data_points.iter().filter(|p| p.flags == 0) {
                        put(name.clone(), base(&p.attributes), None, num(&p.value));
                    }
                }
                Some(metric::Data::Sum(sum)) => {
                    for p in sum.data_points.iter().filter(|p| p.flags == 0) {
                        put(name.clone(), base(&p.attributes), None, num(&p.value));
                    }
                }
                Some(metric::Data::Histogram(h)) => {
                    for p in h.data_points.iter().filter(|p| p.flags == 0) {
                        let mut cumulative = 0u64;
                        for (i, c) in p.bucket_counts.iter().enumerate() {
                            cumulative += c;
                            let le = p
                                .explicit_bounds
                                .get(i)
                                .map_or("+Inf".to_string(), |b| b.to_string());
                            put(
                                format!("{name}_bucket"),
                                base(&p.attributes),
                                Some(("le", le)),
                                cumulative as f64,
                            );
                        }
                        put(
                            format!("{name}_count"),
                            base(&p.attributes),
                            None,
                            p.count as f64,
                        );
                        if let Some(sum) = p.sum {
                            put(format!("{name}_sum"), base(&p.attributes), None, sum);
                        }
                    }
                }
                Some(metric::Data::Summary(s)) => {
                    for p in s.data_points.iter().filter(|p| p.flags == 0) {
                        for q in &p.quantile_values {
                            put(
                                name.clone(),
                                base(&p.attributes),
                                Some(("quantile", q.quantile.to_string())),
                                q.value,
                            );
                        }
                        put(
                            format!("{name}_count"),
                            base(&p.attributes),
                            None,
                            p.count as f64,
                        );
                        put(format!("{name}_sum"), base(&p.attributes), None, p.sum);
                    }
                }
                _ => {}
            }
        }
    }
    out
}

/// What Prometheus stored for `job`, through its query API: the latest sample of each series.
fn prometheus_samples(port: u16, job: &str) -> Samples {
    let Some((_, body)) = fetch(
        port,
        &format!("/api/v1/query?query=%7Bjob%3D%22{job}%22%7D"),
    ) else {
        return Samples::new();
    };
    let v: serde_json::Value = serde_json::from_slice(&body).expect("query API JSON");
    let mut out = Samples::new();
    for r in v["data"]["result"].as_array().into_iter().flatten() {
        let labels = r["metric"].as_object().unwrap();
        let name = labels["__name__"].as_str().unwrap().to_string();
        let key = key_of(
            labels
                .iter()
                .filter(|(k, _)| *k != "__name__")
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string())),
        );
        let value: f64 = r["value"][1].as_str().unwrap().parse().unwrap();
        out.insert((name, key), value);
    }
    out
}

/// One static target scraped by Debian's Prometheus and by ferrotel in the same run: every
/// sample Prometheus stored (its query API) equals ferrotel's OTLP mapped back by the spec's
/// rules — names, full label sets (job/instance from the resource), values bit for bit —
/// and `up`/`scrape_samples_*` agree too. Only `scrape_duration_seconds` and
/// `scrape_series_added` (which differ by nature) are left out.
#[test]
fn static_target_same_samples_as_prometheus() {
    same_samples_as_prometheus(STATIC, TEXT_FORMAT);
}

/// The same in OpenMetrics: counters keep their exposed `_total` names.
#[test]
fn openmetrics_target_same_samples_as_prometheus() {
    same_samples_as_prometheus(STATIC_OPENMETRICS, OPENMETRICS_FORMAT);
}

fn same_samples_as_prometheus(body: &'static str, content_type: &'static str) {
    if !have_binaries() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let target = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = target.local_addr().unwrap();
    serve_as(target, body, content_type);
    let (prom, metrics_port) = (free_port(), free_port());
    let job = format!(
        "- job_name: static\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  static_configs: [{{targets: [\"{addr}\"], labels: {{env: test}}}}]\n"
    );
    std::fs::write(
        dir.path().join("prom.yml"),
        format!("scrape_configs:\n{job}"),
    )
    .unwrap();
    let _prom = spawn(
        Command::new(PROMETHEUS)
            .arg(format!("--config.file={}/prom.yml", dir.path().display()))
            .arg(format!("--storage.tsdb.path={}/data", dir.path().display()))
            .arg(format!("--web.listen-address=127.0.0.1:{prom}")),
    );
    let d = dir.path().display();
    let indented: String = job.lines().map(|l| format!("        {l}\n")).collect();
    let config = format!(
        "receivers:\n  prometheus:\n    config:\n      scrape_configs:\n{indented}exporters:\n  file:\n    path: {d}/metrics.bin\n    format: proto\n    flush_interval: 50ms\nservice:\n  telemetry:\n    metrics:\n      address: 127.0.0.1:{metrics_port}\n  pipelines:\n    metrics:\n      receivers: [prometheus]\n      exporters: [file]\n"
    );
    let _collector = Collector::start("promstatic", dir.path(), &config, Some(metrics_port));
    let bin = dir.path().join("metrics.bin");
    let inst = addr.to_string();
    // 15 exposed samples; up and 4 scrape_* series come with them.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let (mut theirs, mut ours) = (Samples::new(), Samples::new());
    while std::time::Instant::now() < deadline && (theirs.len() < 20 || ours.len() < 20) {
        std::thread::sleep(Duration::from_millis(200));
        theirs = prometheus_samples(prom, "static");
        ours = as_prometheus(&metrics(&bin), &inst);
    }
    let skip = |k: &(String, String)| {
        matches!(
            k.0.as_str(),
            "scrape_duration_seconds" | "scrape_series_added"
        )
    };
    theirs.retain(|k, _| !skip(k));
    ours.retain(|k, _| !skip(k));
    let names = |s: &Samples| s.keys().cloned().collect::<Vec<_>>();
    assert_eq!(
        names(&ours),
        names(&theirs),
        "series differ:\nferrotel {ours:#?}\nPrometheus {theirs:#?}"
    );
    for (k, v) in &theirs {
        assert_eq!(
            ours[k].to_bits(),
            v.to_bits(),
            "{} {{{}}}: ferrotel {} vs Prometheus {v}",
            k.0,
            k.1,
            ours[k]
        );
    }
    assert_eq!(theirs.len(), 18, "{theirs:?}");
}
