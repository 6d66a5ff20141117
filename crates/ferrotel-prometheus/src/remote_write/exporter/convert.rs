//! OTLP metrics → remote-write 1.0 time series, as the Go exporter and the spec do: counters
//! `_total`, classic histograms as `_bucket{le}`/`_sum`/`_count`, summaries as quantile series,
//! exponential histograms as native histograms, `target_info` per resource, no-recorded-value
//! points as staleness markers. Samples of one series from several points are merged into one
//! series, in time order, as Prometheus requires.

use std::collections::HashMap;

use ferrotel_pdata::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use ferrotel_pdata::proto::metrics::v1::{
    ExponentialHistogramDataPoint, metric::Data, number_data_point,
};
use prost::Message;

use crate::naming::{MetricKind, MetricNamer};
use crate::remote_write::proto::{self, BucketSpan, Label, Sample, TimeSeries, WriteRequest};
use crate::series::{
    LabelOptions, Labels, STALE_NAN, base_labels, point_labels, target_info_labels,
};

const CUMULATIVE: i32 = 2;
const NO_RECORDED_VALUE: u32 = 1;

#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub namer: MetricNamer,
    pub labels: LabelOptions,
    pub external_labels: Vec<(String, String)>,
    pub target_info: bool,
}

/// The series of one request, and what could not be converted.
#[derive(Debug, Default)]
pub struct Converted {
    pub series: Vec<TimeSeries>,
    /// Points dropped, with why (delta temporality, unusable histogram scale).
    pub dropped: usize,
    pub reasons: Vec<String>,
}

#[derive(Default)]
struct Builder {
    /// Series by a hash of their labels (collisions resolved by comparing): no label set is
    /// copied or SipHashed to find a series, which dominated the conversion's cost.
    index: HashMap<u64, Vec<usize>>,
    series: Vec<TimeSeries>,
}

/// FNV-1a over the label pairs, with separators so ("ab","c") and ("a","bc") differ.
fn label_hash(labels: &[(&str, &str)]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (k, v) in labels {
        for b in k.bytes().chain([0xff]).chain(v.bytes()).chain([0xfe]) {
            h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

impl Builder {
    fn series(
        &mut self,
        name: &str,
        labels: &Labels,
        extra: Option<(&str, String)>,
    ) -> &mut TimeSeries {
        let mut l: Vec<(&str, &str)> = Vec::with_capacity(labels.len() + 2);
        l.push(("__name__", name));
        l.extend(labels.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        if let Some((k, v)) = &extra {
            l.push((k, v.as_str()));
        }
        l.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let h = label_hash(&l);
        let candidates = self.index.entry(h).or_default();
        let found = candidates.iter().copied().find(|&i| {
            let have = &self.series[i].labels;
            have.len() == l.len()
                && have
                    .iter()
                    .zip(&l)
                    .all(|(a, b)| a.name == b.0 && a.value == b.1)
        });
        let i = match found {
            Some(i) => i,
            None => {
                candidates.push(self.series.len());
                self.series.push(TimeSeries {
                    labels: l
                        .iter()
                        .map(|(k, v)| Label {
                            name: (*k).to_owned(),
                            value: (*v).to_owned(),
                        })
                        .collect(),
                    ..Default::default()
                });
                self.series.len() - 1
            }
        };
        &mut self.series[i]
    }

    fn sample(
        &mut self,
        name: &str,
        labels: &Labels,
        extra: Option<(&str, String)>,
        value: f64,
        t_ms: i64,
    ) {
        self.series(name, labels, extra).samples.push(Sample {
            value,
            timestamp: t_ms,
        });
    }
}

fn ms(ns: u64) -> i64 {
    (ns / 1_000_000) as i64
}

fn stale_or(flags: u32, v: f64) -> f64 {
    if flags & NO_RECORDED_VALUE != 0 {
        f64::from_bits(STALE_NAN)
    } else {
        v
    }
}

fn float_text(v: f64) -> String {
    let mut s = String::new();
    crate::exporter::render::write_float(&mut s, v);
    s
}

fn exemplars(ex: &[ferrotel_pdata::proto::metrics::v1::Exemplar]) -> Vec<proto::Exemplar> {
    ex.iter()
        .map(|e| {
            let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
            let mut labels = Vec::new();
            if !e.trace_id.is_empty() {
                labels.push(Label {
                    name: "trace_id".into(),
                    value: hex(&e.trace_id),
                });
            }
            if !e.span_id.is_empty() {
                labels.push(Label {
                    name: "span_id".into(),
                    value: hex(&e.span_id),
                });
            }
            let value = match e.value {
                Some(ferrotel_pdata::proto::metrics::v1::exemplar::Value::AsDouble(d)) => d,
                Some(ferrotel_pdata::proto::metrics::v1::exemplar::Value::AsInt(i)) => i as f64,
                None => 0.0,
            };
            proto::Exemplar {
                labels,
                value,
                timestamp: ms(e.time_unix_nano),
            }
        })
        .collect()
}

/// An exponential histogram point as a native histogram: OTLP scale is the schema (scales above
/// 8 are merged down to 8); OTLP bucket `i` (base^i, base^(i+1)] is Prometheus bucket `i + 1`.
pub fn native_histogram(p: &ExponentialHistogramDataPoint) -> Result<proto::Histogram, String> {
    if p.scale < -4 {
        return Err(format!(
            "exponential histogram scale {} is below native histograms' -4",
            p.scale
        ));
    }
    let shift = (p.scale - 8).max(0) as u32;
    let schema = p.scale.min(8);
    let buckets = |b: &Option<
        ferrotel_pdata::proto::metrics::v1::exponential_histogram_data_point::Buckets,
    >| {
        let mut spans = Vec::new();
        let mut deltas = Vec::new();
        let Some(b) = b else { return (spans, deltas) };
        // Merge down to the target schema: index >> shift (arithmetic: floors negatives).
        let mut merged: Vec<(i64, u64)> = Vec::new();
        for (j, c) in b.bucket_counts.iter().enumerate() {
            let idx = (b.offset as i64 + j as i64) >> shift;
            match merged.last_mut() {
                Some((last, n)) if *last == idx => *n += c,
                _ => merged.push((idx, *c)),
            }
        }
        let Some(&(first, _)) = merged.first() else {
            return (spans, deltas);
        };
        let len = (merged.last().map_or(first, |l| l.0) - first + 1) as u32;
        spans.push(BucketSpan {
            offset: (first + 1) as i32,
            length: len,
        });
        let mut prev = 0i64;
        let mut k = 0;
        for idx in first..first + len as i64 {
            let c = if k < merged.len() && merged[k].0 == idx {
                k += 1;
                merged[k - 1].1 as i64
            } else {
                0
            };
            deltas.push(c - prev);
            prev = c;
        }
        (spans, deltas)
    };
    let (positive_spans, positive_deltas) = buckets(&p.positive);
    let (negative_spans, negative_deltas) = buckets(&p.negative);
    let stale = p.flags & NO_RECORDED_VALUE != 0;
    Ok(proto::Histogram {
        count: Some(proto::histogram::Count::CountInt(p.count)),
        sum: if stale {
            f64::from_bits(STALE_NAN)
        } else {
            p.sum.unwrap_or(0.0)
        },
        schema,
        zero_threshold: p.zero_threshold,
        zero_count: Some(proto::histogram::ZeroCount::ZeroCountInt(p.zero_count)),
        negative_spans,
        negative_deltas,
        negative_counts: Vec::new(),
        positive_spans,
        positive_deltas,
        positive_counts: Vec::new(),
        reset_hint: proto::histogram::ResetHint::Unknown as i32,
        timestamp: ms(p.time_unix_nano),
        custom_values: Vec::new(),
    })
}

/// Converts one request.
pub fn convert(req: &ExportMetricsServiceRequest, s: &Settings) -> Converted {
    let mut b = Builder::default();
    let mut out = Converted::default();
    let strategy = s.namer.strategy;
    for rm in &req.resource_metrics {
        let resource = rm.resource.as_ref();
        let mut latest = 0u64;
        for sm in &rm.scope_metrics {
            let base = base_labels(resource, sm.scope.as_ref(), &s.labels, &s.external_labels);
            for m in &sm.metrics {
                let Some(data) = &m.data else { continue };
                let kind = match data {
                    Data::Gauge(_) => MetricKind::Gauge,
                    Data::Sum(x) if x.is_monotonic => MetricKind::MonotonicCounter,
                    Data::Sum(_) => MetricKind::NonMonotonicCounter,
                    Data::Histogram(_) => MetricKind::Histogram,
                    Data::ExponentialHistogram(_) => MetricKind::ExponentialHistogram,
                    Data::Summary(_) => MetricKind::Summary,
                };
                let name = s.namer.build(&m.name, &m.unit, kind);
                let temporality = match data {
                    Data::Sum(x) => x.aggregation_temporality,
                    Data::Histogram(x) => x.aggregation_temporality,
                    Data::ExponentialHistogram(x) => x.aggregation_temporality,
                    _ => CUMULATIVE,
                };
                // Prometheus holds cumulative series only; monotonic deltas would read as
                // resets. (A deltatocumulative processor in front converts them.)
                if temporality != CUMULATIVE {
                    let n = ferrotel_pdata::payload::metric_point_count(m);
                    out.dropped += n;
                    out.reasons.push(format!("metric {:?}: delta temporality is not supported by remote write ({n} points dropped)", m.name));
                    continue;
                }
                match data {
                    Data::Gauge(g) => number_points(
                        &mut b,
                        &name,
                        &base,
                        &g.data_points,
                        strategy,
                        &mut latest,
                        false,
                    ),
                    Data::Sum(x) => number_points(
                        &mut b,
                        &name,
                        &base,
                        &x.data_points,
                        strategy,
                        &mut latest,
                        x.is_monotonic,
                    ),
                    Data::Histogram(h) => {
                        for p in &h.data_points {
                            latest = latest.max(p.time_unix_nano);
                            let labels = point_labels(&base, &p.attributes, strategy);
                            let t = ms(p.time_unix_nano);
                            let ok = p.bucket_counts.len() == p.explicit_bounds.len() + 1;
                            let mut cumulative = 0u64;
                            let mut ex = exemplars(&p.exemplars);
                            if ok {
                                for (i, c) in p.bucket_counts.iter().enumerate() {
                                    cumulative = cumulative.saturating_add(*c);
                                    let (le, v) = match p.explicit_bounds.get(i) {
                                        Some(bound) => (float_text(*bound), cumulative),
                                        None => ("+Inf".to_owned(), p.count),
                                    };
                                    let ts = b.series(
                                        &format!("{name}_bucket"),
                                        &labels,
                                        Some(("le", le)),
                                    );
                                    ts.samples.push(Sample {
                                        value: stale_or(p.flags, v as f64),
                                        timestamp: t,
                                    });
                                    // Each exemplar goes with the first bucket that holds it.
                                    let upper =
                                        p.explicit_bounds.get(i).copied().unwrap_or(f64::INFINITY);
                                    let (mine, rest): (Vec<_>, Vec<_>) =
                                        ex.into_iter().partition(|e| e.value <= upper);
                                    ts.exemplars.extend(mine);
                                    ex = rest;
                                }
                            } else {
                                b.sample(
                                    &format!("{name}_bucket"),
                                    &labels,
                                    Some(("le", "+Inf".into())),
                                    stale_or(p.flags, p.count as f64),
                                    t,
                                );
                            }
                            if let Some(sum) = p.sum {
                                b.sample(
                                    &format!("{name}_sum"),
                                    &labels,
                                    None,
                                    stale_or(p.flags, sum),
                                    t,
                                );
                            }
                            b.sample(
                                &format!("{name}_count"),
                                &labels,
                                None,
                                stale_or(p.flags, p.count as f64),
                                t,
                            );
                        }
                    }
                    Data::ExponentialHistogram(h) => {
                        for p in &h.data_points {
                            latest = latest.max(p.time_unix_nano);
                            match native_histogram(p) {
                                Ok(nh) => {
                                    let labels = point_labels(&base, &p.attributes, strategy);
                                    let ts = b.series(&name, &labels, None);
                                    ts.histograms.push(nh);
                                    ts.exemplars.extend(exemplars(&p.exemplars));
                                }
                                Err(e) => {
                                    out.dropped += 1;
                                    out.reasons.push(format!("metric {:?}: {e}", m.name));
                                }
                            }
                        }
                    }
                    Data::Summary(x) => {
                        for p in &x.data_points {
                            latest = latest.max(p.time_unix_nano);
                            let labels = point_labels(&base, &p.attributes, strategy);
                            let t = ms(p.time_unix_nano);
                            for q in &p.quantile_values {
                                b.sample(
                                    &name,
                                    &labels,
                                    Some(("quantile", float_text(q.quantile))),
                                    stale_or(p.flags, q.value),
                                    t,
                                );
                            }
                            b.sample(
                                &format!("{name}_sum"),
                                &labels,
                                None,
                                stale_or(p.flags, p.sum),
                                t,
                            );
                            b.sample(
                                &format!("{name}_count"),
                                &labels,
                                None,
                                stale_or(p.flags, p.count as f64),
                                t,
                            );
                        }
                    }
                }
            }
        }
        if s.target_info
            && latest > 0
            && let Some(l) = target_info_labels(resource, strategy, &s.external_labels)
        {
            b.sample("target_info", &l, None, 1.0, ms(latest));
        }
    }
    for ts in &mut b.series {
        ts.samples.sort_by_key(|s| s.timestamp);
        ts.samples.dedup_by_key(|s| s.timestamp);
        ts.histograms.sort_by_key(|h| h.timestamp);
    }
    out.series = b.series;
    out
}

fn number_points(
    b: &mut Builder,
    name: &str,
    base: &Labels,
    points: &[ferrotel_pdata::proto::metrics::v1::NumberDataPoint],
    strategy: crate::naming::TranslationStrategy,
    latest: &mut u64,
    counter: bool,
) {
    for p in points {
        *latest = (*latest).max(p.time_unix_nano);
        let labels = point_labels(base, &p.attributes, strategy);
        let v = match p.value {
            Some(number_data_point::Value::AsDouble(d)) => d,
            Some(number_data_point::Value::AsInt(i)) => i as f64,
            None => 0.0,
        };
        let ts = b.series(name, &labels, None);
        ts.samples.push(Sample {
            value: stale_or(p.flags, v),
            timestamp: ms(p.time_unix_nano),
        });
        if counter {
            ts.exemplars.extend(exemplars(&p.exemplars));
        }
    }
}

/// Splits series into write requests of at most `max_bytes` encoded (a single larger series
/// goes alone: it cannot be split without splitting its samples).
pub fn batches(series: Vec<TimeSeries>, max_bytes: usize) -> Vec<WriteRequest> {
    let mut out = Vec::new();
    let mut cur = WriteRequest::default();
    let mut size = 0usize;
    for ts in series {
        let n = ts.encoded_len();
        // Field tag and length prefix of the repeated message.
        let n = n + 1 + prost::length_delimiter_len(n);
        if size + n > max_bytes && !cur.timeseries.is_empty() {
            out.push(std::mem::take(&mut cur));
            size = 0;
        }
        size += n;
        cur.timeseries.push(ts);
    }
    if !cur.timeseries.is_empty() {
        out.push(cur);
    }
    out
}
