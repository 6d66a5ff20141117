//! The series spanmetrics keeps between flushes, per resource: calls and events sums and the
//! duration histogram, keyed by their attribute values; and the metrics built from them.

use std::collections::HashMap;

use ferrotel_pdata::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_pdata::proto::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use ferrotel_pdata::proto::metrics::v1::{
    AggregationTemporality, Exemplar, ExponentialHistogram, ExponentialHistogramDataPoint,
    Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
    exemplar, metric::Data, number_data_point,
};
use ferrotel_pdata::proto::resource::v1::Resource;
use ferrotel_pdata::proto::trace::v1::Span;

use super::config::*;
use super::exphist::ExpHistogram;

/// The attribute of the series that takes what is past `aggregation_cardinality_limit`.
pub const OVERFLOW_KEY: &str = "otel.metric.overflow";

/// One data point's running values.
struct Series<V> {
    attributes: Vec<KeyValue>,
    value: V,
    exemplars: Vec<Exemplar>,
    last_updated: u64,
}

enum HistValue {
    Explicit {
        counts: Vec<u64>,
        count: u64,
        sum: f64,
    },
    Exponential(ExpHistogram),
}

type SeriesMap<V> = HashMap<String, Series<V>>;

struct ResourceEntry {
    attributes: Vec<KeyValue>,
    /// Start of the cumulative series of this resource.
    start: u64,
    last_used: u64,
    calls: SeriesMap<u64>,
    duration: SeriesMap<HistValue>,
    events: SeriesMap<u64>,
}

/// Everything between two flushes (cumulative: since the resource was first seen).
pub struct Aggregator {
    config: SpanMetricsConfig,
    bounds: Vec<f64>,
    resources: HashMap<String, ResourceEntry>,
    /// Monotonic use counter for least-recently-used eviction of resources.
    tick: u64,
    /// When the previous flush happened: the start of delta points.
    last_flush: u64,
    calls_name: String,
    duration_name: String,
    events_name: String,
}

fn str_value(v: &AnyValue) -> String {
    match &v.value {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

fn find<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a AnyValue> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
}

pub fn span_kind_str(kind: i32) -> &'static str {
    match kind {
        1 => "SPAN_KIND_INTERNAL",
        2 => "SPAN_KIND_SERVER",
        3 => "SPAN_KIND_CLIENT",
        4 => "SPAN_KIND_PRODUCER",
        5 => "SPAN_KIND_CONSUMER",
        _ => "SPAN_KIND_UNSPECIFIED",
    }
}

pub fn status_code_str(code: i32) -> &'static str {
    match code {
        1 => "STATUS_CODE_OK",
        2 => "STATUS_CODE_ERROR",
        _ => "STATUS_CODE_UNSET",
    }
}

/// Attributes and their key, built dimension by dimension.
#[derive(Default, Clone)]
struct KeyBuilder {
    key: String,
    attrs: Vec<KeyValue>,
}

impl KeyBuilder {
    fn push(&mut self, key: &str, value: AnyValue) {
        self.key.push_str(key);
        self.key.push('\u{1}');
        self.key.push_str(&str_value(&value));
        self.key.push('\u{0}');
        self.attrs.push(KeyValue {
            key: key.into(),
            value: Some(value),
            ..Default::default()
        });
    }

    /// Extra dimensions, looked up in `sources` in order, else their default.
    fn dims(&mut self, dims: &[Dimension], sources: &[&[KeyValue]]) {
        for d in dims {
            let found = sources.iter().find_map(|s| find(s, &d.name));
            match (found, &d.default) {
                (Some(v), _) => self.push(&d.name, v.clone()),
                (None, Some(def)) => self.push(
                    &d.name,
                    AnyValue {
                        value: Some(any_value::Value::StringValue(def.clone())),
                    },
                ),
                (None, None) => {}
            }
        }
    }
}

/// Finds or creates the series of `key` in `map`, diverting a new series past the cardinality
/// limit into the overflow series.
fn series<V>(
    map: &mut SeriesMap<V>,
    kb: KeyBuilder,
    limit: usize,
    new: impl FnOnce() -> V,
) -> &mut Series<V> {
    let (key, attrs) = if limit > 0 && map.len() >= limit && !map.contains_key(&kb.key) {
        let kv = KeyValue {
            key: OVERFLOW_KEY.into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::BoolValue(true)),
            }),
            ..Default::default()
        };
        ("\u{2}overflow".to_string(), vec![kv])
    } else {
        (kb.key, kb.attrs)
    };
    map.entry(key).or_insert_with(|| Series {
        attributes: attrs,
        value: new(),
        exemplars: Vec::new(),
        last_updated: 0,
    })
}

impl Aggregator {
    pub fn new(config: SpanMetricsConfig, now: u64) -> Self {
        Aggregator {
            bounds: config.explicit_bounds(),
            calls_name: config.metric_name("calls"),
            duration_name: config.metric_name("duration"),
            events_name: config.metric_name("events"),
            config,
            resources: HashMap::new(),
            tick: 0,
            last_flush: now,
        }
    }

    /// Number of series held (all metrics, all resources).
    pub fn series_count(&self) -> usize {
        self.resources
            .values()
            .map(|r| r.calls.len() + r.duration.len() + r.events.len())
            .sum()
    }

    fn resource_key(&self, attrs: &[KeyValue]) -> String {
        let mut parts: Vec<(String, String)> = attrs
            .iter()
            .filter(|kv| {
                self.config.resource_metrics_key_attributes.is_empty()
                    || self
                        .config
                        .resource_metrics_key_attributes
                        .contains(&kv.key)
            })
            .map(|kv| {
                (
                    kv.key.clone(),
                    kv.value.as_ref().map(str_value).unwrap_or_default(),
                )
            })
            .collect();
        parts.sort();
        let mut key = String::new();
        for (k, v) in parts {
            key.push_str(&k);
            key.push('\u{1}');
            key.push_str(&v);
            key.push('\u{0}');
        }
        key
    }

    /// The entry of a resource, evicting the least recently used one past the cache size.
    fn resource_entry(&mut self, resource: Option<&Resource>, now: u64) -> &mut ResourceEntry {
        let attrs: &[KeyValue] = resource.map(|r| r.attributes.as_slice()).unwrap_or(&[]);
        let key = self.resource_key(attrs);
        self.tick += 1;
        let cap = self.config.resource_metrics_cache_size.max(1) as usize;
        if !self.resources.contains_key(&key)
            && self.resources.len() >= cap
            && let Some(oldest) = self
                .resources
                .iter()
                .min_by_key(|(_, r)| r.last_used)
                .map(|(k, _)| k.clone())
        {
            self.resources.remove(&oldest);
        }
        let tick = self.tick;
        let entry = self.resources.entry(key).or_insert_with(|| ResourceEntry {
            attributes: attrs.to_vec(),
            start: now,
            last_used: tick,
            calls: HashMap::new(),
            duration: HashMap::new(),
            events: HashMap::new(),
        });
        entry.last_used = tick;
        entry
    }

    /// Adds the spans of a request.
    pub fn add(&mut self, req: &ExportTraceServiceRequest, now: u64) {
        let c = &self.config;
        let excluded = |d: &str| c.exclude_dimensions.iter().any(|x| x == d);
        let (no_service, no_name, no_kind, no_status) = (
            excluded(SERVICE_NAME),
            excluded(SPAN_NAME),
            excluded(SPAN_KIND),
            excluded(STATUS_CODE),
        );
        let limit = c.aggregation_cardinality_limit as usize;
        let unit = c.histogram.unit;
        let histogram = !c.histogram.disable;
        let exp_size = c
            .histogram
            .exponential
            .as_ref()
            .map(|e| e.max_size as usize);
        let n_bounds = self.bounds.len();
        for rs in &req.resource_spans {
            let res_attrs: &[KeyValue] = rs
                .resource
                .as_ref()
                .map(|r| r.attributes.as_slice())
                .unwrap_or(&[]);
            // As in Go: spans of a resource without service.name are not counted.
            let Some(service) = find(res_attrs, SERVICE_NAME).cloned() else {
                continue;
            };
            let config = self.config.clone();
            let bounds = self.bounds.clone();
            let exemplars_on = config.exemplars.enabled;
            let max_ex = config.exemplars.max_per_data_point;
            let room = move |e: &[Exemplar]| {
                exemplars_on && max_ex.is_none_or(|max| (e.len() as i64) < max)
            };
            let entry = self.resource_entry(rs.resource.as_ref(), now);
            for ss in &rs.scope_spans {
                // include_instrumentation_scope: a named scope listed there (as Go, an unnamed
                // scope never is). Unlike Go, the scope is part of the series key too, so spans
                // of other scopes do not share (and mislabel) its series.
                let scope = ss.scope.as_ref().filter(|sc| {
                    !sc.name.is_empty() && config.include_instrumentation_scope.contains(&sc.name)
                });
                for span in &ss.spans {
                    let mut base = KeyBuilder::default();
                    if !no_service {
                        base.push(SERVICE_NAME, service.clone());
                    }
                    let s = |v: &str| AnyValue {
                        value: Some(any_value::Value::StringValue(v.into())),
                    };
                    if !no_name {
                        base.push(SPAN_NAME, s(&span.name));
                    }
                    if !no_kind {
                        base.push(SPAN_KIND, s(span_kind_str(span.kind)));
                    }
                    if !no_status {
                        let code = span.status.as_ref().map_or(0, |st| st.code);
                        base.push(STATUS_CODE, s(status_code_str(code)));
                    }
                    base.dims(&config.dimensions, &[&span.attributes, res_attrs]);
                    if let Some(sc) = scope {
                        base.push(SCOPE_NAME, s(&sc.name));
                        if !sc.version.is_empty() {
                            base.push(SCOPE_VERSION, s(&sc.version));
                        }
                    }
                    let nanos = span
                        .end_time_unix_nano
                        .saturating_sub(span.start_time_unix_nano);
                    let duration = unit.of_nanos(nanos);
                    let exemplar = exemplar_of(span, duration);

                    let mut calls_key = base.clone();
                    calls_key.dims(&config.calls_dimensions, &[&span.attributes, res_attrs]);
                    let sc = series(&mut entry.calls, calls_key, limit, || 0);
                    sc.value += 1;
                    sc.last_updated = now;
                    if room(&sc.exemplars)
                        && let Some(e) = &exemplar
                    {
                        sc.exemplars.push(e.clone());
                    }

                    if histogram {
                        let mut hist_key = base.clone();
                        hist_key.dims(&config.histogram.dimensions, &[&span.attributes, res_attrs]);
                        let sh = series(&mut entry.duration, hist_key, limit, || match exp_size {
                            Some(n) => HistValue::Exponential(ExpHistogram::new(n)),
                            None => HistValue::Explicit {
                                counts: vec![0; n_bounds + 1],
                                count: 0,
                                sum: 0.0,
                            },
                        });
                        match &mut sh.value {
                            HistValue::Explicit { counts, count, sum } => {
                                // Upper bounds are inclusive: the first bound >= the value.
                                let i = bounds.partition_point(|b| *b < duration);
                                counts[i] += 1;
                                *count += 1;
                                *sum += duration;
                            }
                            HistValue::Exponential(h) => h.record(duration),
                        }
                        sh.last_updated = now;
                        if room(&sh.exemplars)
                            && let Some(e) = &exemplar
                        {
                            sh.exemplars.push(e.clone());
                        }
                    }

                    if config.events.enabled {
                        for ev in &span.events {
                            let mut ek = base.clone();
                            ek.dims(
                                &config.events.dimensions,
                                &[&ev.attributes, &span.attributes, res_attrs],
                            );
                            let se = series(&mut entry.events, ek, limit, || 0);
                            se.value += 1;
                            se.last_updated = now;
                        }
                    }
                }
            }
        }
    }

    /// The metrics to export now; delta series are reset, cumulative ones expire after
    /// `metrics_expiration` without updates.
    pub fn flush(&mut self, now: u64) -> Option<ExportMetricsServiceRequest> {
        let delta = self.config.is_delta();
        let temporality = if delta {
            AggregationTemporality::Delta
        } else {
            AggregationTemporality::Cumulative
        } as i32;
        let expiration = self.config.metrics_expiration.as_nanos() as u64;
        let mut out = Vec::new();
        let mut keys: Vec<&String> = self.resources.keys().collect();
        keys.sort();
        let keys: Vec<String> = keys.into_iter().cloned().collect();
        for key in keys {
            let entry = self.resources.get_mut(&key).expect("listed");
            if expiration > 0 {
                let fresh = |t: u64| now.saturating_sub(t) < expiration;
                entry.calls.retain(|_, s| fresh(s.last_updated));
                entry.duration.retain(|_, s| fresh(s.last_updated));
                entry.events.retain(|_, s| fresh(s.last_updated));
            }
            let start = if delta { self.last_flush } else { entry.start };
            let mut metrics = Vec::new();
            if !entry.calls.is_empty() {
                metrics.push(sum_metric(
                    &self.calls_name,
                    "",
                    &mut entry.calls,
                    start,
                    now,
                    temporality,
                ));
            }
            if !entry.duration.is_empty() {
                let points = sorted(&mut entry.duration);
                let unit = self.config.histogram.unit.as_str().to_string();
                let data = if self.config.histogram.exponential.is_some() {
                    let data_points = points
                        .into_iter()
                        .map(|s| {
                            let mut dp = ExponentialHistogramDataPoint {
                                attributes: s.attributes.clone(),
                                start_time_unix_nano: start,
                                time_unix_nano: now,
                                exemplars: std::mem::take(&mut s.exemplars),
                                ..Default::default()
                            };
                            if let HistValue::Exponential(h) = &s.value {
                                h.fill(&mut dp);
                            }
                            dp
                        })
                        .collect();
                    Data::ExponentialHistogram(ExponentialHistogram {
                        data_points,
                        aggregation_temporality: temporality,
                    })
                } else {
                    let data_points = points
                        .into_iter()
                        .map(|s| {
                            let mut dp = HistogramDataPoint {
                                attributes: s.attributes.clone(),
                                start_time_unix_nano: start,
                                time_unix_nano: now,
                                explicit_bounds: self.bounds.clone(),
                                exemplars: std::mem::take(&mut s.exemplars),
                                ..Default::default()
                            };
                            if let HistValue::Explicit { counts, count, sum } = &s.value {
                                dp.bucket_counts = counts.clone();
                                dp.count = *count;
                                dp.sum = Some(*sum);
                            }
                            dp
                        })
                        .collect();
                    Data::Histogram(Histogram {
                        data_points,
                        aggregation_temporality: temporality,
                    })
                };
                metrics.push(Metric {
                    name: self.duration_name.clone(),
                    unit,
                    data: Some(data),
                    ..Default::default()
                });
            }
            if !entry.events.is_empty() {
                metrics.push(sum_metric(
                    &self.events_name,
                    "",
                    &mut entry.events,
                    start,
                    now,
                    temporality,
                ));
            }
            if delta {
                entry.calls.clear();
                entry.duration.clear();
                entry.events.clear();
            }
            if metrics.is_empty() {
                continue;
            }
            out.push(ResourceMetrics {
                resource: Some(Resource {
                    attributes: entry.attributes.clone(),
                    ..Default::default()
                }),
                scope_metrics: vec![ScopeMetrics {
                    scope: Some(InstrumentationScope {
                        name: "spanmetricsconnector".into(),
                        ..Default::default()
                    }),
                    metrics,
                    ..Default::default()
                }],
                ..Default::default()
            });
        }
        self.resources
            .retain(|_, r| !(r.calls.is_empty() && r.duration.is_empty() && r.events.is_empty()));
        self.last_flush = now;
        (!out.is_empty()).then_some(ExportMetricsServiceRequest {
            resource_metrics: out,
        })
    }
}

fn exemplar_of(span: &Span, value: f64) -> Option<Exemplar> {
    if span.trace_id.iter().all(|b| *b == 0) {
        return None;
    }
    Some(Exemplar {
        time_unix_nano: span.end_time_unix_nano,
        span_id: span.span_id.clone(),
        trace_id: span.trace_id.clone(),
        value: Some(exemplar::Value::AsDouble(value)),
        ..Default::default()
    })
}

fn sorted<V>(map: &mut SeriesMap<V>) -> Vec<&mut Series<V>> {
    let mut v: Vec<(&String, &mut Series<V>)> = map.iter_mut().collect();
    v.sort_by(|a, b| a.0.cmp(b.0));
    v.into_iter().map(|(_, s)| s).collect()
}

fn sum_metric(
    name: &str,
    unit: &str,
    map: &mut SeriesMap<u64>,
    start: u64,
    now: u64,
    temporality: i32,
) -> Metric {
    let data_points = sorted(map)
        .into_iter()
        .map(|s| NumberDataPoint {
            attributes: s.attributes.clone(),
            start_time_unix_nano: start,
            time_unix_nano: now,
            exemplars: std::mem::take(&mut s.exemplars),
            value: Some(number_data_point::Value::AsInt(s.value as i64)),
            ..Default::default()
        })
        .collect();
    Metric {
        name: name.into(),
        unit: unit.into(),
        data: Some(Data::Sum(Sum {
            data_points,
            aggregation_temporality: temporality,
            is_monotonic: true,
        })),
        ..Default::default()
    }
}
