//! Metric definitions (name, unit, type, enabled by default, as each Go scraper's
//! `metadata.yaml` declares them) and the builder that turns recorded values into OTLP.

use ferrotel_pdata::proto::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use ferrotel_pdata::proto::metrics::v1::{
    AggregationTemporality, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
    metric, number_data_point,
};
use ferrotel_pdata::proto::resource::v1::Resource;

/// The OTLP shape of a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Cumulative sum; `true` when monotonic.
    Sum(bool),
    Gauge,
}

/// One metric a scraper can emit.
#[derive(Debug)]
pub struct MetricDef {
    pub name: &'static str,
    pub description: &'static str,
    pub unit: &'static str,
    pub kind: Kind,
    /// Emitted unless the config's `metrics:` map says otherwise.
    pub default_enabled: bool,
}

pub const fn def(
    name: &'static str,
    description: &'static str,
    unit: &'static str,
    kind: Kind,
    default_enabled: bool,
) -> MetricDef {
    MetricDef {
        name,
        description,
        unit,
        kind,
        default_enabled,
    }
}

/// A data point value: the Go receiver types each metric as int or double.
#[derive(Debug, Clone, Copy)]
pub enum Value {
    Int(i64),
    Double(f64),
}

pub fn kv(key: &str, value: impl Into<String>) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

pub fn kv_int(key: &str, value: i64) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(value)),
        }),
        ..Default::default()
    }
}

/// Collects one scrape's points for one scraper's metric table, then builds the OTLP
/// metrics in table order (metrics without points are left out, as the Go builder does).
pub struct Recorder {
    defs: &'static [MetricDef],
    enabled: Vec<bool>,
    points: Vec<Vec<NumberDataPoint>>,
    pub now_ns: u64,
    pub start_ns: u64,
}

impl Recorder {
    pub fn new(defs: &'static [MetricDef], enabled: Vec<bool>) -> Self {
        debug_assert_eq!(defs.len(), enabled.len());
        Recorder {
            defs,
            points: defs.iter().map(|_| Vec::new()).collect(),
            enabled,
            now_ns: 0,
            start_ns: 0,
        }
    }

    /// Whether metric `i` of the table is enabled (check before reading what only it needs).
    pub fn on(&self, i: usize) -> bool {
        self.enabled[i]
    }

    /// Records one point of metric `i` with string attributes.
    pub fn record(&mut self, i: usize, value: Value, attrs: &[(&str, &str)]) {
        if !self.enabled[i] {
            return;
        }
        let start = match self.defs[i].kind {
            Kind::Sum(_) => self.start_ns,
            Kind::Gauge => 0,
        };
        self.points[i].push(NumberDataPoint {
            attributes: attrs.iter().map(|(k, v)| kv(k, *v)).collect(),
            start_time_unix_nano: start,
            time_unix_nano: self.now_ns,
            value: Some(match value {
                Value::Int(v) => number_data_point::Value::AsInt(v),
                Value::Double(v) => number_data_point::Value::AsDouble(v),
            }),
            ..Default::default()
        });
    }

    /// Moves the recorded points out as OTLP metrics, leaving the recorder empty for reuse.
    pub fn take_metrics(&mut self) -> Vec<Metric> {
        let mut out = Vec::new();
        for (def, points) in self.defs.iter().zip(self.points.iter_mut()) {
            if points.is_empty() {
                continue;
            }
            let data_points = std::mem::take(points);
            let data = match def.kind {
                Kind::Sum(monotonic) => metric::Data::Sum(Sum {
                    data_points,
                    aggregation_temporality: AggregationTemporality::Cumulative as i32,
                    is_monotonic: monotonic,
                }),
                Kind::Gauge => metric::Data::Gauge(Gauge { data_points }),
            };
            out.push(Metric {
                name: def.name.into(),
                description: def.description.into(),
                unit: def.unit.into(),
                data: Some(data),
                ..Default::default()
            });
        }
        out
    }
}

/// The scope the Go receiver gives each scraper: its import path.
pub fn scope(scraper: &str) -> InstrumentationScope {
    InstrumentationScope {
        name: format!(
            "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/hostmetricsreceiver/internal/scraper/{scraper}scraper"
        ),
        version: env!("CARGO_PKG_VERSION").into(),
        ..Default::default()
    }
}

/// One resource's metrics from one scraper.
pub fn resource_metrics(
    scraper: &str,
    resource_attrs: Vec<KeyValue>,
    metrics: Vec<Metric>,
) -> ResourceMetrics {
    ResourceMetrics {
        resource: Some(Resource {
            attributes: resource_attrs,
            ..Default::default()
        }),
        scope_metrics: vec![ScopeMetrics {
            scope: Some(scope(scraper)),
            metrics,
            ..Default::default()
        }],
        ..Default::default()
    }
}
