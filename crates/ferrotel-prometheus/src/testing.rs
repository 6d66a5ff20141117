//! Builders of OTLP metrics for the unit tests.

use ferrotel_pdata::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use ferrotel_pdata::proto::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use ferrotel_pdata::proto::metrics::v1::*;
use ferrotel_pdata::proto::resource::v1::Resource;

pub fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

pub const T0: u64 = 1_700_000_000_000_000_000;

pub fn number(attrs: Vec<KeyValue>, v: f64, t: u64) -> NumberDataPoint {
    NumberDataPoint {
        attributes: attrs,
        start_time_unix_nano: T0,
        time_unix_nano: t,
        value: Some(number_data_point::Value::AsDouble(v)),
        ..Default::default()
    }
}

pub fn metric(name: &str, unit: &str, data: metric::Data) -> Metric {
    Metric {
        name: name.into(),
        description: format!("{name} help"),
        unit: unit.into(),
        data: Some(data),
        ..Default::default()
    }
}

pub fn sum(points: Vec<NumberDataPoint>, temporality: i32, monotonic: bool) -> metric::Data {
    metric::Data::Sum(Sum {
        data_points: points,
        aggregation_temporality: temporality,
        is_monotonic: monotonic,
    })
}

pub fn gauge(points: Vec<NumberDataPoint>) -> metric::Data {
    metric::Data::Gauge(Gauge {
        data_points: points,
    })
}

pub fn histogram(
    attrs: Vec<KeyValue>,
    bounds: Vec<f64>,
    counts: Vec<u64>,
    sum: f64,
    t: u64,
) -> metric::Data {
    metric::Data::Histogram(Histogram {
        data_points: vec![HistogramDataPoint {
            attributes: attrs,
            start_time_unix_nano: T0,
            time_unix_nano: t,
            count: counts.iter().sum(),
            sum: Some(sum),
            bucket_counts: counts,
            explicit_bounds: bounds,
            ..Default::default()
        }],
        aggregation_temporality: 2,
    })
}

pub fn request(resource: Vec<KeyValue>, metrics: Vec<Metric>) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: resource,
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: "test".into(),
                    ..Default::default()
                }),
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}
