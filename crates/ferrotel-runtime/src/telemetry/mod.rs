//! The collector's own telemetry: counters and gauges, served as Prometheus text and pushed as
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
                    for (i, (k, v)) in s.labels.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        let v = v
                            .replace('\\', "\\\\")
                            .replace('"', "\\\"")
                            .replace('\n', "\\n");
                        let _ = write!(out, "{k}=\"{v}\"");
                    }
                    out.push('}');
                }
                let _ = writeln!(out, " {}", s.value.load(Ordering::Relaxed));
            }
        }
        out
    }
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
}
