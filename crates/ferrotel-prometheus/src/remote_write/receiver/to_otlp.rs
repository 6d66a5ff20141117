//! Decoded remote write series → OTLP metrics, per the spec's Prometheus → OTLP rules:
//! `job`/`instance` → `service.name` (with `service.namespace` from `ns/name`) and
//! `service.instance.id`; `target_info` → the resource's attributes; counters → cumulative
//! monotonic sums; gauges and series without type metadata → gauges; classic histogram and
//! summary families (known from metadata) reassembled from their `_bucket`/`_sum`/`_count`
//! and quantile series; native histograms → exponential histograms; staleness markers → the
//! no-recorded-value flag.

use std::collections::HashMap;

use ferrotel_pdata::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use ferrotel_pdata::proto::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use ferrotel_pdata::proto::metrics::v1::{
    AggregationTemporality, Exemplar, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge,
    Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
    Summary, SummaryDataPoint, exemplar, exponential_histogram_data_point::Buckets, metric::Data,
    number_data_point, summary_data_point::ValueAtQuantile,
};
use ferrotel_pdata::proto::resource::v1::Resource;

use super::decode::{Meta, Series};
use crate::naming::ucum_unit;
use crate::remote_write::proto::{self, MetricType};
use crate::series::STALE_NAN;

const SCOPE_NAME: &str = "ferrotel/prometheusremotewritereceiver";
const NO_RECORDED_VALUE: u32 = 1;

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.to_owned())),
        }),
        ..Default::default()
    }
}

fn ns(ms: i64) -> u64 {
    (ms.max(0) as u64).saturating_mul(1_000_000)
}

fn is_stale(v: f64) -> bool {
    v.to_bits() == STALE_NAN
}

/// The family a series belongs to and its metadata: the exact name, or the name without a
/// histogram/summary/counter suffix when metadata says the base is such a family.
fn family<'a>(
    name: &'a str,
    own: Option<&'a Meta>,
    cache: &'a HashMap<String, Meta>,
) -> (&'a str, Option<&'a Meta>) {
    if let Some(m) = own {
        return (name, Some(m));
    }
    if let Some(m) = cache.get(name) {
        return (name, Some(m));
    }
    for suffix in ["_bucket", "_sum", "_count", "_total", "_created"] {
        if let Some(base) = name.strip_suffix(suffix)
            && let Some(m) = cache.get(base)
        {
            return (base, Some(m));
        }
    }
    (name, None)
}

/// (resource, scope, family, is a summary, attributes, time) of a classic histogram or summary point.
type PartialKey = (usize, String, String, bool, String, i64);

/// A classic histogram or summary point being put together from its series.
#[derive(Default)]
struct Partial {
    attrs: Vec<(String, String)>,
    time_ms: i64,
    buckets: Vec<(f64, f64)>,
    sum: Option<f64>,
    count: Option<f64>,
    stale: bool,
}

#[derive(Default)]
struct Out {
    /// (job, instance) → resource index.
    resources: HashMap<(String, String), usize>,
    rms: Vec<ResourceMetrics>,
    /// (resource, scope name, scope version) → scope index.
    scopes: HashMap<(usize, String, String), usize>,
    /// (resource, scope, metric name) → metric index.
    metrics: HashMap<(usize, usize, String), usize>,
}

impl Out {
    fn resource(&mut self, job: &str, instance: &str) -> usize {
        let key = (job.to_owned(), instance.to_owned());
        if let Some(i) = self.resources.get(&key) {
            return *i;
        }
        let mut attrs = Vec::new();
        if !job.is_empty() {
            match job.split_once('/') {
                Some((n, name)) => {
                    attrs.push(kv("service.namespace", n));
                    attrs.push(kv("service.name", name));
                }
                None => attrs.push(kv("service.name", job)),
            }
        }
        if !instance.is_empty() {
            attrs.push(kv("service.instance.id", instance));
        }
        self.rms.push(ResourceMetrics {
            resource: Some(Resource {
                attributes: attrs,
                ..Default::default()
            }),
            ..Default::default()
        });
        self.resources.insert(key, self.rms.len() - 1);
        self.rms.len() - 1
    }

    fn metric(
        &mut self,
        r: usize,
        scope: (&str, &str),
        name: &str,
        meta: Option<&Meta>,
        data: impl FnOnce() -> Data,
    ) -> &mut Metric {
        let skey = (r, scope.0.to_owned(), scope.1.to_owned());
        let s = match self.scopes.get(&skey) {
            Some(s) => *s,
            None => {
                let sms = &mut self.rms[r].scope_metrics;
                sms.push(ScopeMetrics {
                    scope: Some(InstrumentationScope {
                        name: scope.0.to_owned(),
                        version: scope.1.to_owned(),
                        ..Default::default()
                    }),
                    ..Default::default()
                });
                self.scopes.insert(skey, sms.len() - 1);
                sms.len() - 1
            }
        };
        let mkey = (r, s, name.to_owned());
        let metrics = &mut self.rms[r].scope_metrics[s].metrics;
        let m = match self.metrics.get(&mkey) {
            Some(m) => *m,
            None => {
                metrics.push(Metric {
                    name: name.to_owned(),
                    description: meta.map(|m| m.help.clone()).unwrap_or_default(),
                    unit: meta
                        .filter(|m| !m.unit.is_empty())
                        .map(|m| ucum_unit(&m.unit).into_owned())
                        .unwrap_or_default(),
                    data: Some(data()),
                    ..Default::default()
                });
                self.metrics.insert(mkey, metrics.len() - 1);
                metrics.len() - 1
            }
        };
        &mut metrics[m]
    }
}

/// Labels split into what they become: (name, job, instance, scope name, scope version, attributes).
struct Split<'a> {
    name: &'a str,
    job: &'a str,
    instance: &'a str,
    scope_name: &'a str,
    scope_version: &'a str,
    attrs: Vec<(String, String)>,
}

fn split(labels: &[(String, String)]) -> Split<'_> {
    let mut s = Split {
        name: "",
        job: "",
        instance: "",
        scope_name: SCOPE_NAME,
        scope_version: "",
        attrs: Vec::new(),
    };
    for (k, v) in labels {
        match k.as_str() {
            "__name__" => s.name = v,
            "job" => s.job = v,
            "instance" => s.instance = v,
            "otel_scope_name" => s.scope_name = v,
            "otel_scope_version" => s.scope_version = v,
            _ => s.attrs.push((k.clone(), v.clone())),
        }
    }
    s
}

fn attributes(attrs: &[(String, String)]) -> Vec<KeyValue> {
    attrs.iter().map(|(k, v)| kv(k, v)).collect()
}

fn exemplars(ex: &[super::decode::Exemplar]) -> Vec<Exemplar> {
    ex.iter()
        .map(|(labels, value, ts)| {
            let mut e = Exemplar {
                time_unix_nano: ns(*ts),
                value: Some(exemplar::Value::AsDouble(*value)),
                ..Default::default()
            };
            for (k, v) in labels {
                let hex = (v.len() % 2 == 0)
                    .then(|| {
                        (0..v.len())
                            .step_by(2)
                            .map(|i| u8::from_str_radix(v.get(i..i + 2)?, 16).ok())
                            .collect::<Option<Vec<u8>>>()
                    })
                    .flatten();
                match (k.as_str(), hex) {
                    ("trace_id", Some(b)) if b.len() == 16 => e.trace_id = b.into(),
                    ("span_id", Some(b)) if b.len() == 8 => e.span_id = b.into(),
                    _ => e.filtered_attributes.push(kv(k, v)),
                }
            }
            e
        })
        .collect()
}

/// A native histogram as an exponential histogram point; `None` for custom-bucket schemas.
fn exponential(
    h: &proto::Histogram,
    attrs: &[(String, String)],
    start_ms: i64,
) -> Option<ExponentialHistogramDataPoint> {
    if !(-4..=8).contains(&h.schema) {
        return None;
    }
    let float = matches!(h.count, Some(proto::histogram::Count::CountFloat(_)));
    let buckets =
        |spans: &[proto::BucketSpan], deltas: &[i64], counts: &[f64]| -> Option<Buckets> {
            // The spans must account for exactly the counts sent; checked first so a tiny
            // body cannot claim billions of buckets.
            let total: u64 = spans.iter().map(|s| s.length as u64).sum();
            let sent = if float { counts.len() } else { deltas.len() } as u64;
            if total != sent || total > 1 << 16 {
                return None;
            }
            // Absolute counts by Prometheus index (delta-coded for integer histograms).
            let mut out: Vec<(i64, u64)> = Vec::with_capacity(total as usize);
            let mut idx = 0i64;
            let mut k = 0usize;
            let mut prev = 0i64;
            for span in spans {
                idx += span.offset as i64;
                for _ in 0..span.length {
                    let c = if float {
                        counts.get(k).copied().unwrap_or(0.0).max(0.0).round() as u64
                    } else {
                        prev = prev.saturating_add(deltas.get(k).copied().unwrap_or(0));
                        prev.max(0) as u64
                    };
                    out.push((idx, c));
                    idx += 1;
                    k += 1;
                }
            }
            let first = out.first()?.0;
            let last = out.last()?.0;
            if last - first > 1 << 16 {
                return None;
            }
            let mut dense = vec![0u64; (last - first + 1) as usize];
            for (i, c) in out {
                dense[(i - first) as usize] += c;
            }
            // Prometheus bucket i is OTLP bucket i - 1.
            Some(Buckets {
                offset: (first - 1) as i32,
                bucket_counts: dense,
            })
        };
    let count = match h.count {
        Some(proto::histogram::Count::CountInt(c)) => c,
        Some(proto::histogram::Count::CountFloat(c)) => c.max(0.0).round() as u64,
        None => 0,
    };
    let zero_count = match h.zero_count {
        Some(proto::histogram::ZeroCount::ZeroCountInt(c)) => c,
        Some(proto::histogram::ZeroCount::ZeroCountFloat(c)) => c.max(0.0).round() as u64,
        None => 0,
    };
    let stale = is_stale(h.sum);
    Some(ExponentialHistogramDataPoint {
        attributes: attributes(attrs),
        start_time_unix_nano: ns(start_ms),
        time_unix_nano: ns(h.timestamp),
        count,
        sum: (!stale).then_some(h.sum),
        scale: h.schema,
        zero_count,
        positive: buckets(&h.positive_spans, &h.positive_deltas, &h.positive_counts),
        negative: buckets(&h.negative_spans, &h.negative_deltas, &h.negative_counts),
        flags: if stale { NO_RECORDED_VALUE } else { 0 },
        zero_threshold: h.zero_threshold,
        ..Default::default()
    })
}

/// Converts one request's series. `metadata` is what 1.0 senders sent so far (by family).
pub fn to_otlp(series: &[Series], metadata: &HashMap<String, Meta>) -> ExportMetricsServiceRequest {
    let mut out = Out::default();
    // target_info first, so its attributes land on the resources the other series make.
    let mut info: Vec<&Series> = Vec::new();
    let mut partials: HashMap<PartialKey, Partial> = HashMap::new();
    let mut partial_order = Vec::new();
    for s in series {
        let sp = split(&s.labels);
        if sp.name == "target_info" {
            info.push(s);
            continue;
        }
        if sp.name.is_empty() {
            continue;
        }
        let r = out.resource(sp.job, sp.instance);
        let scope = (sp.scope_name, sp.scope_version);
        let (fam, meta) = family(sp.name, s.meta.as_ref(), metadata);
        let kind = meta.and_then(|m| m.kind);
        if !s.histograms.is_empty() {
            let start = s.created_ms;
            let points: Vec<_> = s
                .histograms
                .iter()
                .filter_map(|h| exponential(h, &sp.attrs, start))
                .collect();
            if let Some(Data::ExponentialHistogram(e)) = &mut out
                .metric(r, scope, sp.name, meta, || {
                    Data::ExponentialHistogram(ExponentialHistogram {
                        data_points: Vec::new(),
                        aggregation_temporality: if kind == Some(MetricType::GaugeHistogram) {
                            AggregationTemporality::Delta as i32
                        } else {
                            AggregationTemporality::Cumulative as i32
                        },
                    })
                })
                .data
            {
                e.data_points.extend(points);
            }
            continue;
        }
        // Classic histograms and summaries: gather their series into points.
        let classic = matches!(
            kind,
            Some(MetricType::Histogram | MetricType::Summary | MetricType::GaugeHistogram)
        ) && fam != sp.name
            || (kind == Some(MetricType::Summary) && sp.attrs.iter().any(|(k, _)| k == "quantile"));
        if classic {
            let suffix = &sp.name[fam.len()..];
            let mut attrs = sp.attrs.clone();
            let bound_label = if kind == Some(MetricType::Summary) {
                "quantile"
            } else {
                "le"
            };
            let bound = attrs
                .iter()
                .position(|(k, _)| k == bound_label)
                .map(|i| attrs.remove(i).1);
            attrs.sort();
            let attrs_key = attrs
                .iter()
                .map(|(k, v)| format!("{k}\u{1}{v}\u{2}"))
                .collect::<String>();
            for smp in &s.samples {
                let key = (
                    r,
                    format!("{}\u{1}{}", scope.0, scope.1),
                    fam.to_owned(),
                    kind == Some(MetricType::Summary),
                    attrs_key.clone(),
                    smp.timestamp,
                );
                let p = partials.entry(key.clone()).or_insert_with(|| {
                    partial_order.push(key);
                    Partial {
                        attrs: attrs.clone(),
                        time_ms: smp.timestamp,
                        ..Default::default()
                    }
                });
                p.stale |= is_stale(smp.value);
                match (suffix, &bound) {
                    ("_sum", _) => p.sum = Some(smp.value),
                    ("_count", _) => p.count = Some(smp.value),
                    (_, Some(b)) => {
                        let b = match b.as_str() {
                            "+Inf" | "Inf" | "inf" => f64::INFINITY,
                            other => other.parse().unwrap_or(f64::NAN),
                        };
                        if !b.is_nan() {
                            p.buckets.push((b, smp.value));
                        }
                    }
                    _ => {}
                }
            }
            continue;
        }
        let counter = kind == Some(MetricType::Counter);
        let start = ns(s.created_ms);
        let points: Vec<NumberDataPoint> = s
            .samples
            .iter()
            .map(|smp| NumberDataPoint {
                attributes: attributes(&sp.attrs),
                start_time_unix_nano: if counter { start } else { 0 },
                time_unix_nano: ns(smp.timestamp),
                flags: if is_stale(smp.value) {
                    NO_RECORDED_VALUE
                } else {
                    0
                },
                value: Some(number_data_point::Value::AsDouble(smp.value)),
                ..Default::default()
            })
            .collect();
        let ex = exemplars(&s.exemplars);
        let m = out.metric(r, scope, sp.name, meta, || {
            if counter {
                Data::Sum(Sum {
                    data_points: Vec::new(),
                    aggregation_temporality: AggregationTemporality::Cumulative as i32,
                    is_monotonic: true,
                })
            } else {
                Data::Gauge(Gauge {
                    data_points: Vec::new(),
                })
            }
        });
        let dps = match &mut m.data {
            Some(Data::Sum(x)) => &mut x.data_points,
            Some(Data::Gauge(x)) => &mut x.data_points,
            _ => continue,
        };
        let first_new = dps.len();
        dps.extend(points);
        if let Some(last) = dps.get_mut(first_new..).and_then(|p| p.last_mut()) {
            last.exemplars = ex;
        }
    }
    for key in partial_order {
        let Some(p) = partials.remove(&key) else {
            continue;
        };
        let (r, scope, fam, summary, _, _) = key;
        let (scope_name, scope_version) = scope.split_once('\u{1}').unwrap_or((SCOPE_NAME, ""));
        let meta = family(&fam, None, metadata).1;
        let count = p.count.unwrap_or_else(|| {
            p.buckets
                .iter()
                .filter(|b| b.0.is_infinite())
                .map(|b| b.1)
                .next()
                .unwrap_or(0.0)
        });
        let flags = if p.stale { NO_RECORDED_VALUE } else { 0 };
        if summary {
            let mut q = p.buckets.clone();
            q.sort_by(|a, b| a.0.total_cmp(&b.0));
            let point = SummaryDataPoint {
                attributes: attributes(&p.attrs),
                time_unix_nano: ns(p.time_ms),
                count: count.max(0.0) as u64,
                sum: p.sum.unwrap_or(0.0),
                quantile_values: q
                    .into_iter()
                    .map(|(quantile, value)| ValueAtQuantile { quantile, value })
                    .collect(),
                flags,
                ..Default::default()
            };
            if let Some(Data::Summary(s)) = &mut out
                .metric(r, (scope_name, scope_version), &fam, meta, || {
                    Data::Summary(Summary {
                        data_points: Vec::new(),
                    })
                })
                .data
            {
                s.data_points.push(point);
            }
        } else {
            let mut b = p.buckets.clone();
            b.sort_by(|a, b| a.0.total_cmp(&b.0));
            b.dedup_by(|a, b| a.0 == b.0);
            let mut bounds = Vec::new();
            let mut counts = Vec::new();
            let mut prev = 0.0;
            for (le, c) in &b {
                if le.is_infinite() {
                    continue;
                }
                bounds.push(*le);
                counts.push((c - prev).max(0.0) as u64);
                prev = *c;
            }
            counts.push((count - prev).max(0.0) as u64);
            let point = HistogramDataPoint {
                attributes: attributes(&p.attrs),
                time_unix_nano: ns(p.time_ms),
                count: count.max(0.0) as u64,
                sum: p.sum,
                bucket_counts: counts,
                explicit_bounds: bounds,
                flags,
                ..Default::default()
            };
            if let Some(Data::Histogram(h)) = &mut out
                .metric(r, (scope_name, scope_version), &fam, meta, || {
                    Data::Histogram(Histogram {
                        data_points: Vec::new(),
                        aggregation_temporality: AggregationTemporality::Cumulative as i32,
                    })
                })
                .data
            {
                h.data_points.push(point);
            }
        }
    }
    for s in info {
        let sp = split(&s.labels);
        let r = out.resource(sp.job, sp.instance);
        if let Some(res) = &mut out.rms[r].resource {
            for (k, v) in &sp.attrs {
                if !res.attributes.iter().any(|a| &a.key == k) {
                    res.attributes.push(kv(k, v));
                }
            }
        }
    }
    // A resource only target_info spoke of carries no metrics: leave it out.
    out.rms.retain(|rm| !rm.scope_metrics.is_empty());
    ExportMetricsServiceRequest {
        resource_metrics: out.rms,
    }
}
