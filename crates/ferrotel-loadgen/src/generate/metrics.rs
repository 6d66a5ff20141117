//! Metrics of every common kind: monotonic sums, gauges, histograms and exponential
//! histograms, up to four data points (attribute sets) each.

use ferrotel_pdata::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use ferrotel_pdata::proto::common::v1::KeyValue;
use ferrotel_pdata::proto::metrics::v1::exponential_histogram_data_point::Buckets;
use ferrotel_pdata::proto::metrics::v1::{
    AggregationTemporality, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram,
    HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, metric,
    number_data_point,
};
use rand::Rng;
use rand::rngs::StdRng;

use super::template::{seq_placeholder, ts};
use super::{Shape, extra_attributes, i, resource, s, scope};
use crate::ids::SEQ_KEY;

const POINTS_PER_METRIC: usize = 4;
const CUMULATIVE: i32 = AggregationTemporality::Cumulative as i32;

/// A request of `items` data points.
pub fn request(
    shape: &Shape,
    service: usize,
    items: usize,
    rng: &mut StdRng,
) -> ExportMetricsServiceRequest {
    let mut metrics = Vec::new();
    let mut k = 0;
    while k < items {
        let n = POINTS_PER_METRIC.min(items - k);
        metrics.push(metric(shape, rng, metrics.len(), k, n));
        k += n;
    }
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(resource(service)),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(scope()),
                metrics,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

fn attributes(shape: &Shape, rng: &mut StdRng, k: usize, p: usize) -> Vec<KeyValue> {
    let mut a = vec![s(SEQ_KEY, seq_placeholder(k))];
    a.extend(extra_attributes(shape, rng));
    a.push(i("cpu", p as i64));
    a
}

fn metric(shape: &Shape, rng: &mut StdRng, m: usize, first: usize, n: usize) -> Metric {
    let (start, time) = (ts(0), ts(1_000_000));
    let (name, unit, data) = match m % 4 {
        0 => (
            "http.server.request.count",
            "{request}",
            metric::Data::Sum(Sum {
                data_points: (0..n)
                    .map(|p| NumberDataPoint {
                        attributes: attributes(shape, rng, first + p, p),
                        start_time_unix_nano: start,
                        time_unix_nano: time,
                        value: Some(number_data_point::Value::AsInt(
                            rng.random_range(0..1 << 20),
                        )),
                        ..Default::default()
                    })
                    .collect(),
                aggregation_temporality: CUMULATIVE,
                is_monotonic: true,
            }),
        ),
        1 => (
            "system.memory.utilization",
            "1",
            metric::Data::Gauge(Gauge {
                data_points: (0..n)
                    .map(|p| NumberDataPoint {
                        attributes: attributes(shape, rng, first + p, p),
                        time_unix_nano: time,
                        value: Some(number_data_point::Value::AsDouble(rng.random())),
                        ..Default::default()
                    })
                    .collect(),
            }),
        ),
        2 => (
            "http.server.request.duration",
            "s",
            metric::Data::Histogram(Histogram {
                data_points: (0..n)
                    .map(|p| {
                        let bucket_counts: Vec<u64> =
                            (0..9).map(|_| rng.random_range(0..500)).collect();
                        HistogramDataPoint {
                            attributes: attributes(shape, rng, first + p, p),
                            start_time_unix_nano: start,
                            time_unix_nano: time,
                            count: bucket_counts.iter().sum(),
                            sum: Some(rng.random_range(0.0..5000.0)),
                            bucket_counts,
                            explicit_bounds: vec![0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0],
                            min: Some(0.001),
                            max: Some(2.5),
                            ..Default::default()
                        }
                    })
                    .collect(),
                aggregation_temporality: CUMULATIVE,
            }),
        ),
        _ => (
            "rpc.server.duration",
            "ms",
            metric::Data::ExponentialHistogram(ExponentialHistogram {
                data_points: (0..n)
                    .map(|p| {
                        let counts: Vec<u64> = (0..8).map(|_| rng.random_range(0..200)).collect();
                        ExponentialHistogramDataPoint {
                            attributes: attributes(shape, rng, first + p, p),
                            start_time_unix_nano: start,
                            time_unix_nano: time,
                            count: counts.iter().sum::<u64>() + 3,
                            sum: Some(rng.random_range(0.0..9000.0)),
                            scale: 3,
                            zero_count: 3,
                            positive: Some(Buckets {
                                offset: 2,
                                bucket_counts: counts,
                            }),
                            min: Some(0.0),
                            max: Some(40.0),
                            ..Default::default()
                        }
                    })
                    .collect(),
                aggregation_temporality: CUMULATIVE,
            }),
        ),
    };
    Metric {
        name: name.into(),
        description: String::new(),
        unit: unit.into(),
        data: Some(data),
        ..Default::default()
    }
}
