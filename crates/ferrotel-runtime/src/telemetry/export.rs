//! Pushing the collector's own telemetry over OTLP: the resource it carries, the metrics
//! snapshot as an `ExportMetricsServiceRequest`, and the periodic readers
//! (`service::telemetry::metrics::readers[]::periodic`).
//!
//! The runtime builds the payloads and keeps the schedule; sending is behind
//! [`TelemetrySender`], which the binary implements over ferrotel-otlp's clients, so the runtime
//! carries no transport. The counters stay plain atomics: a push reads them once per interval.

use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ferrotel_pdata::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use ferrotel_pdata::proto::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use ferrotel_pdata::proto::metrics::v1::{
    AggregationTemporality, Gauge, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics,
    ScopeMetrics, Sum, metric, number_data_point,
};
use ferrotel_pdata::{Payload, Request, Signal};
use futures::future::BoxFuture;
use tokio::sync::watch;

use super::{MetricType, Telemetry, server};
use crate::config::TelemetryConfig;
use crate::config::telemetry::{OtlpExporterConfig, PeriodicReader};

/// Sends one payload of the collector's own telemetry; `Err` is a message to log.
pub trait TelemetrySender: Send + Sync + 'static {
    fn send(&self, payload: Payload) -> BoxFuture<'static, Result<(), String>>;
}

/// Builds a sender for one configured exporter and the signal it will carry.
pub type SenderFactory = Arc<
    dyn Fn(&OtlpExporterConfig, Signal) -> Result<Arc<dyn TelemetrySender>, String> + Send + Sync,
>;

/// The tracing target of the export loops' own messages: the log exporter skips it, so a
/// failing log endpoint does not feed its failures back into its queue.
pub const EXPORT_LOG_TARGET: &str = "ferrotel_telemetry_export";

/// When the process started (pinned by the first [`Telemetry`]): counters' start time.
pub(super) fn process_start() -> (Instant, SystemTime) {
    static START: OnceLock<(Instant, SystemTime)> = OnceLock::new();
    *START.get_or_init(|| (Instant::now(), SystemTime::now()))
}

pub(super) fn unix_nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// `service.instance.id`: a random (version 4) UUID, one per process, as the Go Collector.
pub fn instance_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let mut b: [u8; 16] = rand::random();
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
        format!(
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        )
    })
}

/// The resource of everything the collector exports about itself.
#[derive(Debug, Clone, PartialEq)]
pub struct OwnResource {
    pub attributes: Vec<(String, String)>,
    pub schema_url: String,
}

impl OwnResource {
    /// The defaults (`service.name` ferrotel, `service.version`, `service.instance.id`) with
    /// `service::telemetry::resource` over them; a null value there removes a default.
    pub fn new(cfg: &TelemetryConfig) -> Self {
        let mut attributes: Vec<(String, String)> = vec![
            ("service.name".into(), "ferrotel".into()),
            ("service.version".into(), env!("CARGO_PKG_VERSION").into()),
            ("service.instance.id".into(), instance_id().into()),
        ];
        for (k, v) in &cfg.resource {
            attributes.retain(|(a, _)| a != k);
            if let Some(v) = v {
                attributes.push((k.clone(), v.clone()));
            }
        }
        OwnResource {
            attributes,
            schema_url: cfg.resource_schema_url.clone().unwrap_or_default(),
        }
    }

    pub fn to_proto(&self) -> ferrotel_pdata::proto::resource::v1::Resource {
        ferrotel_pdata::proto::resource::v1::Resource {
            attributes: self
                .attributes
                .iter()
                .map(|(k, v)| string_kv(k, v))
                .collect(),
            ..Default::default()
        }
    }
}

pub(super) fn string_kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.to_owned())),
        }),
        ..Default::default()
    }
}

pub(super) fn scope() -> InstrumentationScope {
    InstrumentationScope {
        name: "ferrotel".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        ..Default::default()
    }
}

fn point(
    attributes: Vec<KeyValue>,
    value: number_data_point::Value,
    start: u64,
    now: u64,
) -> NumberDataPoint {
    NumberDataPoint {
        attributes,
        start_time_unix_nano: start,
        time_unix_nano: now,
        value: Some(value),
        ..Default::default()
    }
}

fn cumulative(points: Vec<NumberDataPoint>) -> metric::Data {
    metric::Data::Sum(Sum {
        data_points: points,
        aggregation_temporality: AggregationTemporality::Cumulative as i32,
        is_monotonic: true,
    })
}

impl Telemetry {
    /// Every series as OTLP, under the names the pull endpoint serves without Prometheus'
    /// `_total`: counters as monotonic cumulative Sums, gauges as Gauges, labels as attributes;
    /// plus the process metrics (`otelcol_process_uptime`, `_cpu_seconds`, `_memory_rss`, the
    /// Go Collector's OTLP names).
    pub fn metrics_request(&self, resource: &OwnResource) -> Payload {
        let (started, start_time) = process_start();
        let start = unix_nanos(start_time);
        let now = unix_nanos(SystemTime::now());
        let mut metrics = Vec::new();
        {
            let series = self.series.lock().unwrap_or_else(|e| e.into_inner());
            let mut names: Vec<&'static str> = series.iter().map(|s| s.name).collect();
            names.sort_unstable();
            names.dedup();
            for name in names {
                let mut kind = MetricType::Counter;
                let mut help = "";
                let points: Vec<NumberDataPoint> = series
                    .iter()
                    .filter(|s| s.name == name)
                    .map(|s| {
                        (kind, help) = (s.kind, s.help);
                        let attrs = s.labels.iter().map(|(k, v)| string_kv(k, v)).collect();
                        let v = s.value.load(Ordering::Relaxed) as i64;
                        point(attrs, number_data_point::Value::AsInt(v), start, now)
                    })
                    .collect();
                metrics.push(Metric {
                    name: name.to_owned(),
                    description: help.to_owned(),
                    data: Some(match kind {
                        MetricType::Counter => cumulative(points),
                        MetricType::Gauge => metric::Data::Gauge(Gauge {
                            data_points: points,
                        }),
                    }),
                    ..Default::default()
                });
            }
        }
        self.push_histograms(&mut metrics, start, now);
        let seconds = |name: &str, help: &str, v: f64| Metric {
            name: name.into(),
            description: help.into(),
            unit: "s".into(),
            data: Some(cumulative(vec![point(
                Vec::new(),
                number_data_point::Value::AsDouble(v),
                start,
                now,
            )])),
            ..Default::default()
        };
        metrics.push(seconds(
            "otelcol_process_uptime",
            "Uptime of the process.",
            started.elapsed().as_secs_f64(),
        ));
        if let Some(cpu) = server::process_cpu_seconds() {
            metrics.push(seconds(
                "otelcol_process_cpu_seconds",
                "Total CPU user and system time in seconds.",
                cpu,
            ));
        }
        if let Some(rss) = server::process_rss_bytes() {
            metrics.push(Metric {
                name: "otelcol_process_memory_rss".into(),
                description: "Total physical memory (resident set size).".into(),
                unit: "By".into(),
                data: Some(metric::Data::Gauge(Gauge {
                    data_points: vec![point(
                        Vec::new(),
                        number_data_point::Value::AsInt(rss as i64),
                        start,
                        now,
                    )],
                })),
                ..Default::default()
            });
        }
        Payload::from_request(Request::Metrics(ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: Some(resource.to_proto()),
                scope_metrics: vec![ScopeMetrics {
                    scope: Some(scope()),
                    metrics,
                    ..Default::default()
                }],
                schema_url: resource.schema_url.clone(),
            }],
        }))
    }
}

impl Telemetry {
    /// Histograms as cumulative OTLP histograms, one metric per name.
    fn push_histograms(&self, metrics: &mut Vec<Metric>, start: u64, now: u64) {
        let all = self.histograms.lock().unwrap_or_else(|e| e.into_inner());
        let mut names: Vec<&'static str> = all.iter().map(|h| h.name).collect();
        names.sort_unstable();
        names.dedup();
        for name in names {
            let mut meta = ("", "");
            let data_points = all
                .iter()
                .filter(|h| h.name == name)
                .map(|h| {
                    meta = (h.help, h.unit);
                    let bucket_counts = h.value.bucket_counts();
                    HistogramDataPoint {
                        attributes: h.labels.iter().map(|(k, v)| string_kv(k, v)).collect(),
                        start_time_unix_nano: start,
                        time_unix_nano: now,
                        count: bucket_counts.iter().sum(),
                        sum: Some(h.value.sum() as f64),
                        bucket_counts,
                        explicit_bounds: h.value.bounds().iter().map(|b| *b as f64).collect(),
                        ..Default::default()
                    }
                })
                .collect();
            metrics.push(Metric {
                name: name.to_owned(),
                description: meta.0.to_owned(),
                unit: meta.1.to_owned(),
                data: Some(metric::Data::Histogram(
                    ferrotel_pdata::proto::metrics::v1::Histogram {
                        data_points,
                        aggregation_temporality: AggregationTemporality::Cumulative as i32,
                    },
                )),
                ..Default::default()
            });
        }
    }
}

/// A running periodic reader: pushes every interval, and once more when shut down.
pub struct PeriodicPusher {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl PeriodicPusher {
    /// Starts the schedule; the first push comes one interval from now, as the SDK's reader.
    pub fn start(
        index: usize,
        reader: &PeriodicReader,
        sender: Arc<dyn TelemetrySender>,
        telemetry: Telemetry,
        resource: Arc<OwnResource>,
    ) -> PeriodicPusher {
        let (stop, mut stopped) = watch::channel(false);
        let (interval, timeout) = (reader.interval, reader.timeout);
        let endpoint = reader.exporter.endpoint.clone();
        let task = tokio::spawn(async move {
            let push = || async {
                let payload = telemetry.metrics_request(&resource);
                let result = match tokio::time::timeout(timeout, sender.send(payload)).await {
                    Ok(r) => r,
                    Err(_) => Err(format!("no answer within {timeout:?}")),
                };
                if let Err(e) = result {
                    tracing::warn!(
                        target: EXPORT_LOG_TARGET,
                        reader = index,
                        endpoint = %endpoint,
                        error = %e,
                        "service::telemetry::metrics::readers: push failed"
                    );
                }
            };
            let mut ticks =
                tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = ticks.tick() => push().await,
                    _ = stopped.changed() => break,
                }
            }
            // The final values, counted through the drain.
            push().await;
        });
        PeriodicPusher { stop, task }
    }

    /// Pushes the last values and stops.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// Waits for a payload to be sent, within `timeout`, logging a failure (for the log export,
/// under [`EXPORT_LOG_TARGET`]).
pub(super) async fn send_logged(
    sender: &dyn TelemetrySender,
    payload: Payload,
    timeout: Duration,
    what: &str,
) {
    let result = match tokio::time::timeout(timeout, sender.send(payload)).await {
        Ok(r) => r,
        Err(_) => Err(format!("no answer within {timeout:?}")),
    };
    if let Err(e) = result {
        tracing::warn!(target: EXPORT_LOG_TARGET, error = %e, "{what}: export failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_request_mirrors_the_registry() {
        let t = Telemetry::new();
        t.counter(
            "otelcol_receiver_accepted_spans",
            "Spans.",
            &[("receiver", "otlp"), ("transport", "grpc")],
        )
        .add(5);
        t.gauge(
            "otelcol_exporter_queue_size",
            "Queue.",
            &[("exporter", "otlp")],
        )
        .set(3);
        let cfg = TelemetryConfig {
            resource: vec![
                ("service.version".into(), None),
                ("deployment".into(), Some("eu".into())),
            ],
            ..Default::default()
        };
        let resource = OwnResource::new(&cfg);
        let keys: Vec<&str> = resource
            .attributes
            .iter()
            .map(|(k, _)| k.as_str())
            .collect();
        assert_eq!(keys, ["service.name", "service.instance.id", "deployment"]);
        let Request::Metrics(req) = t.metrics_request(&resource).into_request().unwrap() else {
            unreachable!()
        };
        let metrics = &req.resource_metrics[0].scope_metrics[0].metrics;
        let accepted = metrics
            .iter()
            .find(|m| m.name == "otelcol_receiver_accepted_spans")
            .unwrap();
        let Some(metric::Data::Sum(sum)) = &accepted.data else {
            panic!("{accepted:?}")
        };
        assert!(sum.is_monotonic);
        assert_eq!(
            sum.aggregation_temporality,
            AggregationTemporality::Cumulative as i32
        );
        assert_eq!(
            sum.data_points[0].value,
            Some(number_data_point::Value::AsInt(5))
        );
        assert_eq!(sum.data_points[0].attributes.len(), 2);
        let queue = metrics
            .iter()
            .find(|m| m.name == "otelcol_exporter_queue_size")
            .unwrap();
        assert!(
            matches!(&queue.data, Some(metric::Data::Gauge(g)) if g.data_points[0].value == Some(number_data_point::Value::AsInt(3)))
        );
        assert!(metrics.iter().any(|m| m.name == "otelcol_process_uptime"));
    }

    #[test]
    fn histograms_are_cumulative_explicit_bucket_histograms() {
        let t = Telemetry::new();
        let h = t.histogram("otelcol_x_age", "Age.", "s", &[1, 10], &[("p", "a")]);
        for v in [0, 1, 2, 10, 11, 50] {
            h.record(v);
        }
        let Request::Metrics(req) = t
            .metrics_request(&OwnResource::new(&TelemetryConfig::default()))
            .into_request()
            .unwrap()
        else {
            unreachable!()
        };
        let m = req.resource_metrics[0].scope_metrics[0]
            .metrics
            .iter()
            .find(|m| m.name == "otelcol_x_age")
            .unwrap();
        assert_eq!((m.unit.as_str(), m.description.as_str()), ("s", "Age."));
        let Some(metric::Data::Histogram(hist)) = &m.data else {
            panic!("{m:?}")
        };
        assert_eq!(
            hist.aggregation_temporality,
            AggregationTemporality::Cumulative as i32
        );
        let p = &hist.data_points[0];
        assert_eq!(p.explicit_bounds, [1.0, 10.0]);
        // (−∞, 1], (1, 10], (10, +∞)
        assert_eq!(p.bucket_counts, [2, 2, 2]);
        assert_eq!((p.count, p.sum), (6, Some(74.0)));
        assert_eq!(p.attributes, [string_kv("p", "a")]);
    }

    #[test]
    fn instance_id_is_a_v4_uuid() {
        let id = instance_id();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"), "{id}");
        assert_eq!(id, instance_id());
    }
}
