//! The collector's own telemetry: counters, gauges and histograms, served as Prometheus text and pushed as
//! OTLP ([`export`]), and logs.
//!
//! Hand-written rather than the `prometheus`/`metrics` crates: every series is created once at
//! build time and updated through an `Arc<AtomicU64>`, so the hot path is one relaxed atomic add
//! with no label lookup, lock or allocation.

pub mod export;
pub mod logs;
pub mod obs;
pub mod server;
pub mod zap_json;

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// A monotonically increasing count.
#[derive(Clone, Default, Debug)]
pub struct Counter(Arc<AtomicU64>);

impl Counter {
    #[inline]
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A value that goes up and down.
#[derive(Clone, Default, Debug)]
pub struct Gauge(Arc<AtomicU64>);

impl Gauge {
    #[inline]
    pub fn set(&self, v: u64) {
        self.0.store(v, Ordering::Relaxed);
    }
    #[inline]
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    #[inline]
    pub fn sub(&self, n: u64) {
        self.0.fetch_sub(n, Ordering::Relaxed);
    }
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A distribution over fixed explicit buckets (OTLP's explicit-bucket histogram, cumulative),
/// for the Go Collector's histograms of its own metrics. Integer values, as Go records them.
#[derive(Clone, Debug)]
pub struct Histogram(Arc<HistogramCell>);

#[derive(Debug)]
struct HistogramCell {
    /// Upper bounds, ascending; bucket `i` holds values in `(bounds[i-1], bounds[i]]`, the
    /// last one everything above the last bound.
    bounds: &'static [u64],
    counts: Box<[AtomicU64]>,
    sum: AtomicU64,
}

/// The OpenTelemetry SDKs' default explicit bounds, which Go uses when a histogram names none.
pub const DEFAULT_BOUNDS: &[u64] = &[
    0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000,
];

impl Histogram {
    #[inline]
    pub fn record(&self, v: u64) {
        let c = &self.0;
        let i = c.bounds.partition_point(|b| *b < v);
        c.counts[i].fetch_add(1, Ordering::Relaxed);
        c.sum.fetch_add(v, Ordering::Relaxed);
    }

    /// Values recorded so far.
    pub fn count(&self) -> u64 {
        self.bucket_counts().iter().sum()
    }

    pub fn sum(&self) -> u64 {
        self.0.sum.load(Ordering::Relaxed)
    }

    /// Per-bucket counts (not cumulative), one more than the bounds.
    pub fn bucket_counts(&self) -> Vec<u64> {
        self.0
            .counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect()
    }

    pub fn bounds(&self) -> &'static [u64] {
        self.0.bounds
    }
}

struct HistogramSeries {
    name: &'static str,
    help: &'static str,
    unit: &'static str,
    labels: Vec<(&'static str, String)>,
    value: Histogram,
}

/// Prometheus' unit suffix for the units histograms use here (as the Go exporter adds).
fn unit_suffix(unit: &str) -> &'static str {
    match unit {
        "s" => "_seconds",
        "ms" => "_milliseconds",
        "us" | "µs" => "_microseconds",
        "By" => "_bytes",
        _ => "",
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum MetricType {
    Counter,
    Gauge,
}

struct Series {
    name: &'static str,
    help: &'static str,
    kind: MetricType,
    labels: Vec<(&'static str, String)>,
    value: Arc<AtomicU64>,
}

/// The registry of the collector's own metrics. Cheap to clone.
#[derive(Clone, Default)]
pub struct Telemetry {
    series: Arc<Mutex<Vec<Series>>>,
    histograms: Arc<Mutex<Vec<HistogramSeries>>>,
}

impl Telemetry {
    pub fn new() -> Self {
        // Pins the process start: the start time of every pushed counter.
        export::process_start();
        Telemetry::default()
    }

    fn register(
        &self,
        name: &'static str,
        help: &'static str,
        kind: MetricType,
        labels: &[(&'static str, &str)],
    ) -> Arc<AtomicU64> {
        let labels: Vec<(&'static str, String)> =
            labels.iter().map(|(k, v)| (*k, v.to_string())).collect();
        let mut series = self.series.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = series.iter().find(|s| s.name == name && s.labels == labels) {
            return s.value.clone();
        }
        let value = Arc::new(AtomicU64::new(0));
        series.push(Series {
            name,
            help,
            kind,
            labels,
            value: value.clone(),
        });
        value
    }

    /// A counter; the same name and labels give the same counter. `name` without `_total`.
    pub fn counter(
        &self,
        name: &'static str,
        help: &'static str,
        labels: &[(&'static str, &str)],
    ) -> Counter {
        Counter(self.register(name, help, MetricType::Counter, labels))
    }

    pub fn gauge(
        &self,
        name: &'static str,
        help: &'static str,
        labels: &[(&'static str, &str)],
    ) -> Gauge {
        Gauge(self.register(name, help, MetricType::Gauge, labels))
    }

    /// A histogram with explicit `bounds` (ascending); the same name and labels give the same
    /// histogram. `unit` is UCUM (`s`, `ms`, `us`), exported as is and as the Prometheus suffix.
    pub fn histogram(
        &self,
        name: &'static str,
        help: &'static str,
        unit: &'static str,
        bounds: &'static [u64],
        labels: &[(&'static str, &str)],
    ) -> Histogram {
        debug_assert!(bounds.windows(2).all(|w| w[0] < w[1]), "{name}: bounds");
        let labels: Vec<(&'static str, String)> =
            labels.iter().map(|(k, v)| (*k, v.to_string())).collect();
        let mut all = self.histograms.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(h) = all.iter().find(|h| h.name == name && h.labels == labels) {
            return h.value.clone();
        }
        let value = Histogram(Arc::new(HistogramCell {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0),
        }));
        all.push(HistogramSeries {
            name,
            help,
            unit,
            labels,
            value: value.clone(),
        });
        value
    }

    /// The histogram of `name` with all of `labels`, for tests.
    pub fn histogram_of(&self, name: &str, labels: &[(&str, &str)]) -> Option<Histogram> {
        let all = self.histograms.lock().unwrap_or_else(|e| e.into_inner());
        all.iter()
            .find(|h| {
                h.name == name
                    && labels
                        .iter()
                        .all(|(k, v)| h.labels.iter().any(|(hk, hv)| hk == k && hv == v))
            })
            .map(|h| h.value.clone())
    }

    /// The value of a series, for tests and `ferrotel` status lines.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<u64> {
        let series = self.series.lock().unwrap_or_else(|e| e.into_inner());
        series
            .iter()
            .find(|s| {
                s.name == name
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.iter().any(|(sk, sv)| sk == k && sv == v))
            })
            .map(|s| s.value.load(Ordering::Relaxed))
    }

    /// Sum over all series of `name` matching `labels`.
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        let series = self.series.lock().unwrap_or_else(|e| e.into_inner());
        series
            .iter()
            .filter(|s| {
                s.name == name
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.iter().any(|(sk, sv)| sk == k && sv == v))
            })
            .map(|s| s.value.load(Ordering::Relaxed))
            .sum()
    }

    /// Renders the Prometheus text exposition format (counters get the `_total` suffix, as
    /// the Go Collector's Prometheus reader writes them).
    pub fn render_prometheus(&self) -> String {
        let series = self.series.lock().unwrap_or_else(|e| e.into_inner());
        let mut names: Vec<&'static str> = series.iter().map(|s| s.name).collect();
        names.sort_unstable();
        names.dedup();
        let mut out = String::with_capacity(4096);
        for name in names {
            let mut first = true;
            for s in series.iter().filter(|s| s.name == name) {
                let full = match s.kind {
                    MetricType::Counter => format!("{name}_total"),
                    MetricType::Gauge => name.to_string(),
                };
                if first {
                    let t = if s.kind == MetricType::Counter {
                        "counter"
                    } else {
                        "gauge"
                    };
                    let _ = writeln!(out, "# HELP {full} {}\n# TYPE {full} {t}", s.help);
                    first = false;
                }
                out.push_str(&full);
                if !s.labels.is_empty() {
                    out.push('{');
                    out.push_str(&label_text(&s.labels));
                    out.push('}');
                }
                let _ = writeln!(out, " {}", s.value.load(Ordering::Relaxed));
            }
        }
        drop(series);
        self.render_histograms(&mut out);
        out
    }

    /// Histograms as Prometheus text: cumulative `_bucket{le}` series, `_sum` and `_count`.
    fn render_histograms(&self, out: &mut String) {
        let all = self.histograms.lock().unwrap_or_else(|e| e.into_inner());
        let mut names: Vec<&'static str> = all.iter().map(|h| h.name).collect();
        names.sort_unstable();
        names.dedup();
        for name in names {
            let mut first = true;
            for h in all.iter().filter(|h| h.name == name) {
                let full = format!("{name}{}", unit_suffix(h.unit));
                if first {
                    let _ = writeln!(out, "# HELP {full} {}\n# TYPE {full} histogram", h.help);
                    first = false;
                }
                let labels = label_text(&h.labels);
                let sep = if labels.is_empty() { "" } else { "," };
                let mut cumulative = 0;
                let counts = h.value.bucket_counts();
                for (i, n) in counts.iter().enumerate() {
                    cumulative += n;
                    let le = match h.value.bounds().get(i) {
                        Some(b) => b.to_string(),
                        None => "+Inf".to_string(),
                    };
                    let _ = writeln!(
                        out,
                        "{full}_bucket{{{labels}{sep}le=\"{le}\"}} {cumulative}"
                    );
                }
                let braces = |l: &str| {
                    if l.is_empty() {
                        String::new()
                    } else {
                        format!("{{{l}}}")
                    }
                };
                let _ = writeln!(out, "{full}_sum{} {}", braces(&labels), h.value.sum());
                // The +Inf bucket, so the two agree even while values are being recorded.
                let _ = writeln!(out, "{full}_count{} {cumulative}", braces(&labels));
            }
        }
    }
}

/// `k="v",…` with Prometheus escaping.
fn label_text(labels: &[(&'static str, String)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let v = v
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n");
        let _ = write!(out, "{k}=\"{v}\"");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let t = Telemetry::new();
        let c = t.counter(
            "otelcol_receiver_accepted_spans",
            "Spans accepted.",
            &[("receiver", "otlp"), ("transport", "grpc")],
        );
        c.add(3);
        t.counter(
            "otelcol_receiver_accepted_spans",
            "Spans accepted.",
            &[("receiver", "otlp"), ("transport", "grpc")],
        )
        .add(2);
        t.gauge(
            "otelcol_exporter_queue_size",
            "Queue size.",
            &[("exporter", "otlp\"x")],
        )
        .set(7);
        let text = t.render_prometheus();
        assert!(
            text.contains("# TYPE otelcol_receiver_accepted_spans_total counter\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "otelcol_receiver_accepted_spans_total{receiver=\"otlp\",transport=\"grpc\"} 5\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("otelcol_exporter_queue_size{exporter=\"otlp\\\"x\"} 7\n"),
            "{text}"
        );
    }

    #[test]
    fn renders_histograms_with_unit_suffix_and_cumulative_buckets() {
        let t = Telemetry::new();
        let h = t.histogram(
            "otelcol_processor_x_latency",
            "Latency.",
            "ms",
            &[5, 50],
            &[("processor", "p")],
        );
        // The same name and labels give the same histogram.
        let again = t.histogram(
            "otelcol_processor_x_latency",
            "Latency.",
            "ms",
            &[5, 50],
            &[("processor", "p")],
        );
        h.record(5);
        again.record(6);
        h.record(500);
        let text = t.render_prometheus();
        let want = "# HELP otelcol_processor_x_latency_milliseconds Latency.\n\
            # TYPE otelcol_processor_x_latency_milliseconds histogram\n\
            otelcol_processor_x_latency_milliseconds_bucket{processor=\"p\",le=\"5\"} 1\n\
            otelcol_processor_x_latency_milliseconds_bucket{processor=\"p\",le=\"50\"} 2\n\
            otelcol_processor_x_latency_milliseconds_bucket{processor=\"p\",le=\"+Inf\"} 3\n\
            otelcol_processor_x_latency_milliseconds_sum{processor=\"p\"} 511\n\
            otelcol_processor_x_latency_milliseconds_count{processor=\"p\"} 3\n";
        assert!(text.contains(want), "{text}");
        let got = t
            .histogram_of("otelcol_processor_x_latency", &[("processor", "p")])
            .unwrap();
        assert_eq!((got.count(), got.sum()), (3, 511));
        assert_eq!(got.bucket_counts(), [1, 1, 1]);
    }
}
