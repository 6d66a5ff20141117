//! One scrape's samples → OTLP metrics, per the specification's Prometheus compatibility rules:
//! counters → cumulative monotonic sums, gauges and untyped → gauges, classic histograms and
//! summaries, info/stateset → non-monotonic sums, `target_info` → resource attributes.
//!
//! [`SeriesTracker`] keeps, per target, what start times and staleness need between scrapes:
//! one small entry per data point (not per sample), created when the series first appears.

use std::borrow::Cow;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::{BuildHasher, Hasher};

use bytes::Bytes;
use ferrotel_pdata::proto::common::v1::{AnyValue, KeyValue, any_value};
use ferrotel_pdata::proto::metrics::v1::{
    AggregationTemporality, DataPointFlags, Exemplar as OtlpExemplar, Gauge, Histogram,
    HistogramDataPoint, Metric, NumberDataPoint, Sum, Summary, SummaryDataPoint, exemplar, metric,
    number_data_point, summary_data_point::ValueAtQuantile,
};

use super::fast::SeriesCache;
use super::parse::{Exposition, Family, Label, MetricType, Sample};
use super::relabel::{Labels, Rule, relabel};

pub fn kv(k: impl Into<String>, v: impl Into<String>) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

/// What stays constant for one target's scrapes.
#[derive(Debug, Clone)]
pub struct TargetContext {
    /// Target labels after relabeling, `job` and `instance` included.
    pub labels: Labels,
    pub honor_labels: bool,
    pub honor_timestamps: bool,
    pub trim_metric_suffixes: bool,
    /// 0: unlimited.
    pub sample_limit: u64,
    pub metric_relabel: Vec<Rule>,
}

impl TargetContext {
    /// Target labels that become data point attributes (all but `job` and `instance`, which
    /// are the resource's).
    fn point_labels(&self) -> impl Iterator<Item = (&str, &str)> {
        self.labels
            .iter()
            .filter(|(k, _)| *k != "job" && *k != "instance")
    }
}

/// Series state kept between scrapes of one target.
#[derive(Debug, Default)]
pub struct SeriesTracker {
    /// Fixed seed: staleness points come out in the same order for the same history.
    points: HashMap<u64, PointState, foldhash::fast::FixedState>,
    pub(super) generation: u64,
    /// The fast path's state (targets without metric relabeling): it keeps its points' start
    /// times itself, so `points` stays empty while it is used.
    pub(super) cache: SeriesCache,
}

#[derive(Debug)]
struct PointState {
    start_ns: u64,
    /// Counter value, or histogram/summary count: a decrease is a reset.
    last: f64,
    generation: u64,
    /// What a staleness point needs: the metric it belongs to and its attributes.
    template: Box<StaleTemplate>,
}

#[derive(Debug)]
struct StaleTemplate {
    metric: String,
    kind: MetricType,
    attrs: Vec<KeyValue>,
    /// From `otel_scope_name`/`otel_scope_version`; `None`: the receiver's scope.
    scope: Option<ScopeKey>,
}

/// An instrumentation scope named by a series' `otel_scope_name` and `otel_scope_version`
/// labels (the spec: those labels become the scope and leave the attributes).
pub type ScopeKey = (String, String);

pub(super) fn is_scope_label(name: &str) -> bool {
    matches!(name, "otel_scope_name" | "otel_scope_version")
}

impl SeriesTracker {
    pub fn len(&self) -> usize {
        self.points.len() + self.cache.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The fast path's state, [`super::fast`]; the reference path's is dropped (a target
    /// switching paths loses its start times rather than mixing two states).
    pub(crate) fn fast(&mut self) -> &mut SeriesCache {
        self.points.clear();
        &mut self.cache
    }

    /// Every tracked series as a staleness point at `now_ns` (a failed scrape: Prometheus
    /// marks everything the target exposed stale), and forgets them.
    pub fn all_stale(&mut self, now_ns: u64) -> (Vec<Metric>, Vec<(ScopeKey, Vec<Metric>)>) {
        let mut out = MetricsOut::default();
        for (_, st) in self.points.drain() {
            out.stale(&st, now_ns);
        }
        let mut cached = Vec::new();
        self.cache.all_stale(now_ns, &mut cached);
        for (scope, m) in cached {
            match scope {
                None => out.metrics.push(m),
                Some(s) => out.scoped_mut(&s).push(m),
            }
        }
        (out.metrics, out.scoped)
    }
}

/// The result of one successful scrape.
#[derive(Debug, Default)]
pub struct Converted {
    /// Metrics of the receiver's scope.
    pub metrics: Vec<Metric>,
    /// Metrics of scopes named by `otel_scope_name`/`otel_scope_version` labels.
    pub scoped: Vec<(ScopeKey, Vec<Metric>)>,
    /// Labels of `target_info` (minus job/instance), for the resource.
    pub resource_attrs: Vec<KeyValue>,
    pub samples_scraped: u64,
    pub samples_post_relabel: u64,
    pub series_added: u64,
}

/// Why the samples were refused as a whole.
#[derive(Debug, Clone, PartialEq)]
pub enum ConvertError {
    SampleLimit { limit: u64 },
}

impl std::fmt::Display for ConvertError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConvertError::SampleLimit { limit } => {
                write!(
                    f,
                    "sample_limit exceeded: more than {limit} samples after metric relabeling"
                )
            }
        }
    }
}

/// How a sample contributes to its data point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Role {
    Value,
    Created,
    Sum,
    Count,
    Bucket,
    Quantile,
}

pub(super) fn role(kind: MetricType, suffix: &str) -> Role {
    match (kind, suffix) {
        (MetricType::Counter | MetricType::Histogram | MetricType::Summary, "_created") => {
            Role::Created
        }
        (MetricType::Histogram | MetricType::Summary, "_sum") => Role::Sum,
        (MetricType::Histogram | MetricType::Summary, "_count") => Role::Count,
        (MetricType::Histogram, "_bucket") => Role::Bucket,
        (MetricType::Summary, "") => Role::Quantile,
        _ => Role::Value,
    }
}

/// A data point being assembled from its samples.
pub(super) struct PointAcc {
    /// The tracker's key.
    pub key: u64,
    pub attrs: Vec<KeyValue>,
    pub ts_ms: i64,
    pub value: f64,
    pub created: Option<f64>,
    pub sum: Option<f64>,
    pub count: Option<f64>,
    pub buckets: Vec<(f64, f64)>,
    pub quantiles: Vec<(f64, f64)>,
    pub exemplars: Vec<OtlpExemplar>,
    pub samples: u64,
}

impl PointAcc {
    /// One sample's contribution.
    pub fn add(&mut self, role: Role, bound: Option<f64>, value: f64, ts_ms: i64) {
        self.samples += 1;
        match role {
            Role::Value => self.value = value,
            Role::Created => self.created = Some(value),
            Role::Sum => self.sum = Some(value),
            Role::Count => {
                self.count = Some(value);
                // The count's timestamp is the point's (it is the one required sample).
                self.ts_ms = ts_ms;
            }
            Role::Bucket => {
                if let Some(b) = bound {
                    self.buckets.push((b, value));
                }
            }
            Role::Quantile => {
                if let Some(q) = bound {
                    self.quantiles.push((q, value));
                }
            }
        }
    }
}

pub(super) struct MetricAcc<'e> {
    pub name: Cow<'e, str>,
    pub kind: MetricType,
    /// Index into this scrape's scopes; `None`: the receiver's scope.
    pub scope: Option<usize>,
    pub help: Option<&'e str>,
    pub unit: Option<&'e str>,
    pub points: Vec<PointAcc>,
    pub by_key: HashMap<u64, usize>,
}

pub(super) fn ms_to_ns(ms: i64) -> u64 {
    u64::try_from(ms).unwrap_or(0).saturating_mul(1_000_000)
}

/// Seconds (a `_created` value) → ns. Whole seconds and the fraction apart: `s * 1e9` in one
/// f64 rounds `1600000000.25` to `...249999872`.
pub(super) fn secs_to_ns(s: f64) -> u64 {
    if s.is_finite() && s > 0.0 {
        let whole = s.trunc();
        (whole as u64)
            .saturating_mul(1_000_000_000)
            .saturating_add(((s - whole) * 1e9).round() as u64)
    } else {
        0
    }
}

fn hash_str(h: &mut impl Hasher, s: &str) {
    h.write(s.as_bytes());
    h.write_u8(0xff);
}

/// Order-independent hash of a label set (a sum of per-label hashes): exposed labels come in
/// any order, and sorting them per sample would cost more than this. Fixed-seed foldhash:
/// the same label set hashes the same in every scrape.
pub(super) fn label_hash<'a>(labels: impl Iterator<Item = (&'a str, &'a str)>) -> u64 {
    let state = foldhash::fast::FixedState::with_seed(0x5eed_0f5e_71e5);
    let mut acc = 0u64;
    for (k, v) in labels {
        let mut h = state.build_hasher();
        hash_str(&mut h, k);
        hash_str(&mut h, v);
        acc = acc.wrapping_add(h.finish());
    }
    acc
}

/// The part of a data point's tracker key that names its metric family and type: a family
/// that changes type is a new series (new start time), as the fast path's cache keys it.
fn family_key(fam_name: &str, kind: MetricType) -> u64 {
    label_hash([("\0family", fam_name), ("\0type", kind.as_str())].into_iter())
}

/// `target_info` (text: a gauge named target_info; OpenMetrics: info family "target").
pub(super) fn is_target_info(fam: &Family<'_>) -> bool {
    (fam.name == "target_info" && fam.kind != MetricType::Info)
        || (fam.name == "target" && fam.kind == MetricType::Info)
}

/// Converts one parsed exposition into pdata metrics. `scrape_ms` is the scrape's start (ms
/// since the epoch). The scraper uses it for targets with metric relabeling; without, the
/// encoding fast path ([`super::fast`]), which this is the reference of.
pub fn convert(
    exp: &Exposition<'_>,
    target: &TargetContext,
    tracker: &mut SeriesTracker,
    scrape_ms: i64,
) -> Result<Converted, ConvertError> {
    convert_reference(exp, target, tracker, scrape_ms)
}

/// The conversion sample by sample, with metric relabeling; the fast path's reference.
pub fn convert_reference(
    exp: &Exposition<'_>,
    target: &TargetContext,
    tracker: &mut SeriesTracker,
    scrape_ms: i64,
) -> Result<Converted, ConvertError> {
    // The cache would go stale while this path runs.
    tracker.cache.clear();
    let mut out = Converted {
        samples_scraped: exp.samples.len() as u64,
        ..Default::default()
    };
    let mut metrics: Vec<MetricAcc<'_>> = Vec::new();
    let mut by_name: HashMap<(Cow<'_, str>, MetricType, Option<usize>), usize> = HashMap::new();
    let mut scopes: Vec<ScopeKey> = Vec::new();
    let mut scratch = Labels::new();
    let relabeling = !target.metric_relabel.is_empty();

    for fam in &exp.families {
        let is_target_info = is_target_info(fam);
        for s in &exp.samples[fam.samples.clone()] {
            if is_target_info && !relabeling {
                for l in exp.labels_of(&s.labels) {
                    if l.name != "job" && l.name != "instance" {
                        out.resource_attrs.push(kv(l.name, l.value.as_ref()));
                    }
                }
                out.samples_post_relabel += 1;
                continue;
            }
            let sample_labels = exp.labels_of(&s.labels);
            // The relabeled view of this sample, when metric_relabel_configs exist.
            let (name, fam_name, kind, labels_view): (Cow<'_, str>, Cow<'_, str>, MetricType, _) =
                if relabeling {
                    scratch = merged_labels(s, sample_labels, target);
                    if !relabel(&target.metric_relabel, &mut scratch) {
                        continue;
                    }
                    let new_name = scratch.get("__name__").unwrap_or("").to_string();
                    if new_name.is_empty() {
                        continue;
                    }
                    let (fam_name, kind) = renamed_family(fam, s.name, &new_name);
                    (Cow::Owned(new_name), Cow::Owned(fam_name), kind, None)
                } else {
                    (
                        Cow::Borrowed(s.name),
                        Cow::Borrowed(fam.name),
                        fam.kind,
                        Some(sample_labels),
                    )
                };
            out.samples_post_relabel += 1;
            if target.sample_limit > 0 && out.samples_post_relabel > target.sample_limit {
                return Err(ConvertError::SampleLimit {
                    limit: target.sample_limit,
                });
            }
            if relabeling && is_target_info {
                for (k, v) in scratch.iter() {
                    if !matches!(k, "job" | "instance" | "__name__") {
                        out.resource_attrs.push(kv(k, v));
                    }
                }
                continue;
            }
            // The spec's "Dropped Types" (Stable): GaugeHistograms MUST be dropped. Their
            // samples still count as scraped and against `sample_limit`, as in Prometheus.
            if kind == MetricType::GaugeHistogram {
                continue;
            }
            let suffix = name.strip_prefix(fam_name.as_ref()).unwrap_or("");
            let role = role(kind, suffix);
            let skip = |n: &str| {
                (role == Role::Bucket && n == "le") || (role == Role::Quantile && n == "quantile")
            };
            // Scope labels are part of the series' identity but not of its attributes.
            let skip_attr = |n: &str| skip(n) || is_scope_label(n);
            let scope = match labels_view {
                Some(ls) => scope_of(ls.iter().map(|l| (l.name, l.value.as_ref())), &mut scopes),
                None => scope_of(scratch.iter(), &mut scopes),
            };
            let total = kind == MetricType::Counter
                && (suffix == "_total" || (fam.total && fam_name == fam.name));
            let mi = match by_name.entry((fam_name.clone(), kind, scope)) {
                Entry::Occupied(e) => {
                    let mi = *e.get();
                    if total && metrics[mi].name == fam_name {
                        metrics[mi].name = Cow::Owned(counter_name(&fam_name, true));
                    }
                    mi
                }
                Entry::Vacant(e) => {
                    metrics.push(MetricAcc {
                        name: match total {
                            true => Cow::Owned(counter_name(&fam_name, true)),
                            false => fam_name.clone(),
                        },
                        kind,
                        scope,
                        help: fam.help.as_deref(),
                        unit: fam.unit,
                        points: Vec::new(),
                        by_key: HashMap::new(),
                    });
                    *e.insert(metrics.len() - 1)
                }
            };
            let m = &mut metrics[mi];
            // The data point's identity: its labels without le/quantile.
            let (key, bound) = match labels_view {
                Some(ls) => (
                    label_hash(
                        ls.iter()
                            .filter(|l| !skip(l.name))
                            .map(|l| (l.name, l.value.as_ref())),
                    ),
                    bound_of(ls.iter().map(|l| (l.name, l.value.as_ref())), role),
                ),
                None => (
                    label_hash(scratch.iter().filter(|(k, _)| !skip(k) && *k != "__name__")),
                    bound_of(scratch.iter(), role),
                ),
            };
            let ts_ms = match s.timestamp_ms {
                Some(t) if target.honor_timestamps => t,
                _ => scrape_ms,
            };
            let pi = match m.by_key.entry(key) {
                Entry::Occupied(e) => *e.get(),
                Entry::Vacant(e) => {
                    let attrs = match labels_view {
                        Some(ls) => point_attrs(ls, target, &skip_attr),
                        // job/instance are the resource's; one that is not the target's
                        // (honored, or relabeled) stays for the scraper to give the series a
                        // resource of its own (`resources::split_by_job_instance`).
                        None => scratch
                            .iter()
                            .filter(|(k, v)| {
                                !skip_attr(k)
                                    && *k != "__name__"
                                    && !(matches!(*k, "job" | "instance")
                                        && target.labels.get(k) == Some(*v))
                            })
                            .map(|(k, v)| kv(k, v))
                            .collect(),
                    };
                    m.points.push(PointAcc {
                        key: key ^ family_key(&fam_name, kind),
                        attrs,
                        ts_ms,
                        value: 0.0,
                        created: None,
                        sum: None,
                        count: None,
                        buckets: Vec::new(),
                        quantiles: Vec::new(),
                        exemplars: Vec::new(),
                        samples: 0,
                    });
                    *e.insert(m.points.len() - 1)
                }
            };
            let p = &mut m.points[pi];
            p.add(role, bound, s.value, ts_ms);
            if let Some(e) = &s.exemplar {
                p.exemplars.push(to_exemplar(
                    exp.labels_of(&e.labels),
                    e.value,
                    e.timestamp_ms,
                ));
            }
        }
    }
    finish(metrics, scopes, target, tracker, scrape_ms, &mut out);
    Ok(out)
}

/// The per-point step both paths share: start times and resets from the tracker, OTLP data
/// points, staleness points for series that went away.
pub(super) fn finish(
    metrics: Vec<MetricAcc<'_>>,
    scopes: Vec<ScopeKey>,
    target: &TargetContext,
    tracker: &mut SeriesTracker,
    scrape_ms: i64,
    out: &mut Converted,
) {
    tracker.generation += 1;
    let generation = tracker.generation;
    let mut mo = MetricsOut::default();
    for m in metrics {
        let name = if target.trim_metric_suffixes {
            trimmed_name(&m.name, m.kind, m.unit).to_owned()
        } else {
            m.name.into_owned()
        };
        let unit = m
            .unit
            .map(|u| crate::naming::ucum_unit(u).into_owned())
            .unwrap_or_default();
        let help = m.help.unwrap_or("").to_string();
        let mut metric = Metric {
            name,
            description: help,
            unit,
            metadata: vec![kv("prometheus.type", m.kind.as_str())],
            data: None,
        };
        let cumulative = matches!(
            m.kind,
            MetricType::Counter | MetricType::Histogram | MetricType::Summary
        );
        let mut numbers = Vec::new();
        let mut hists = Vec::new();
        let mut sums = Vec::new();
        for p in m.points {
            let time_ns = ms_to_ns(p.ts_ms);
            let observed = match m.kind {
                // "If `_count` is not present, the metric MUST be dropped" (the spec's
                // Prometheus histograms and summaries), as the Go receiver drops the point.
                MetricType::Histogram | MetricType::Summary => match p.count {
                    Some(c) => c,
                    None => continue,
                },
                _ => p.value,
            };
            let start_ns = match tracker.points.entry(p.key) {
                Entry::Vacant(e) => {
                    out.series_added += p.samples;
                    let start = if cumulative {
                        p.created
                            .map(secs_to_ns)
                            .filter(|c| *c > 0)
                            .unwrap_or(time_ns)
                    } else {
                        0
                    };
                    e.insert(PointState {
                        start_ns: start,
                        last: observed,
                        generation,
                        template: Box::new(StaleTemplate {
                            metric: metric.name.clone(),
                            kind: m.kind,
                            attrs: p.attrs.clone(),
                            scope: m.scope.map(|i| scopes[i].clone()),
                        }),
                    });
                    start
                }
                Entry::Occupied(mut e) => {
                    let st = e.get_mut();
                    if cumulative {
                        if let Some(c) = p.created.map(secs_to_ns).filter(|c| *c > 0) {
                            st.start_ns = c;
                        } else if observed < st.last {
                            // A reset: the counter restarted since the last scrape.
                            st.start_ns = time_ns;
                        }
                    }
                    st.last = observed;
                    st.generation = generation;
                    st.start_ns
                }
            };
            match m.kind {
                MetricType::Histogram => hists.push(histogram_point(p, start_ns, time_ns)),
                MetricType::Summary => sums.push(summary_point(p, start_ns, time_ns)),
                _ => numbers.push(NumberDataPoint {
                    attributes: p.attrs,
                    start_time_unix_nano: start_ns,
                    time_unix_nano: time_ns,
                    exemplars: p.exemplars,
                    flags: 0,
                    value: Some(number_data_point::Value::AsDouble(p.value)),
                }),
            }
        }
        if numbers.is_empty() && hists.is_empty() && sums.is_empty() {
            continue;
        }
        metric.data = Some(data_for(m.kind, numbers, hists, sums));
        match m.scope {
            None => mo.metrics.push(metric),
            Some(i) => mo.scoped_mut(&scopes[i]).push(metric),
        }
    }
    // Series seen before but not in this scrape: a staleness point each, then forgotten.
    let now_ns = ms_to_ns(scrape_ms);
    tracker.points.retain(|_, st| {
        if st.generation == generation {
            return true;
        }
        mo.stale(st, now_ns);
        false
    });
    out.metrics = mo.metrics;
    out.scoped = mo.scoped;
}

fn data_for(
    kind: MetricType,
    numbers: Vec<NumberDataPoint>,
    hists: Vec<HistogramDataPoint>,
    sums: Vec<SummaryDataPoint>,
) -> metric::Data {
    let cumulative = AggregationTemporality::Cumulative as i32;
    match kind {
        MetricType::Counter => metric::Data::Sum(Sum {
            data_points: numbers,
            aggregation_temporality: cumulative,
            is_monotonic: true,
        }),
        MetricType::Info | MetricType::StateSet => metric::Data::Sum(Sum {
            data_points: numbers,
            aggregation_temporality: cumulative,
            is_monotonic: false,
        }),
        MetricType::Histogram => metric::Data::Histogram(Histogram {
            data_points: hists,
            aggregation_temporality: cumulative,
        }),
        MetricType::Summary => metric::Data::Summary(Summary { data_points: sums }),
        _ => metric::Data::Gauge(Gauge {
            data_points: numbers,
        }),
    }
}

/// The scope a series' labels name (interned in `scopes`), if any.
pub(super) fn scope_of<'a>(
    labels: impl Iterator<Item = (&'a str, &'a str)>,
    scopes: &mut Vec<ScopeKey>,
) -> Option<usize> {
    let (mut name, mut version) = (None, None);
    for (k, v) in labels {
        match k {
            "otel_scope_name" => name = Some(v),
            "otel_scope_version" => version = Some(v),
            _ => {}
        }
    }
    if name.is_none() && version.is_none() {
        return None;
    }
    let (name, version) = (name.unwrap_or(""), version.unwrap_or(""));
    Some(
        match scopes.iter().position(|(n, v)| n == name && v == version) {
            Some(i) => i,
            None => {
                scopes.push((name.to_owned(), version.to_owned()));
                scopes.len() - 1
            }
        },
    )
}

/// Output metrics per scope; staleness points are added one metric per (scope, name, kind)
/// in order of first appearance.
#[derive(Default)]
struct MetricsOut {
    metrics: Vec<Metric>,
    scoped: Vec<(ScopeKey, Vec<Metric>)>,
    stale_index: HashMap<(Option<ScopeKey>, String, MetricType), usize>,
}

impl MetricsOut {
    fn scoped_mut(&mut self, scope: &ScopeKey) -> &mut Vec<Metric> {
        let i = match self.scoped.iter().position(|(s, _)| s == scope) {
            Some(i) => i,
            None => {
                self.scoped.push((scope.clone(), Vec::new()));
                self.scoped.len() - 1
            }
        };
        &mut self.scoped[i].1
    }

    fn stale(&mut self, st: &PointState, now_ns: u64) {
        let t = &st.template;
        let flags = DataPointFlags::NoRecordedValueMask as u32;
        let key = (t.scope.clone(), t.metric.clone(), t.kind);
        let idx = match self.stale_index.get(&key) {
            Some(i) => *i,
            None => {
                let list = match &t.scope {
                    None => &mut self.metrics,
                    Some(s) => self.scoped_mut(s),
                };
                list.push(Metric {
                    name: t.metric.clone(),
                    description: String::new(),
                    unit: String::new(),
                    metadata: vec![kv("prometheus.type", t.kind.as_str())],
                    data: Some(data_for(t.kind, vec![], vec![], vec![])),
                });
                let idx = list.len() - 1;
                self.stale_index.insert(key, idx);
                idx
            }
        };
        let start = st.start_ns;
        let list = match &t.scope {
            None => &mut self.metrics,
            Some(s) => self.scoped_mut(s),
        };
        match list[idx].data.as_mut() {
            Some(metric::Data::Histogram(h)) => h.data_points.push(HistogramDataPoint {
                attributes: t.attrs.clone(),
                start_time_unix_nano: start,
                time_unix_nano: now_ns,
                flags,
                ..Default::default()
            }),
            Some(metric::Data::Summary(s)) => s.data_points.push(SummaryDataPoint {
                attributes: t.attrs.clone(),
                start_time_unix_nano: start,
                time_unix_nano: now_ns,
                flags,
                ..Default::default()
            }),
            Some(metric::Data::Sum(Sum { data_points, .. }))
            | Some(metric::Data::Gauge(Gauge { data_points })) => {
                data_points.push(NumberDataPoint {
                    attributes: t.attrs.clone(),
                    start_time_unix_nano: start,
                    time_unix_nano: now_ns,
                    flags,
                    value: None,
                    ..Default::default()
                })
            }
            _ => {}
        }
    }
}

fn histogram_point(mut p: PointAcc, start_ns: u64, time_ns: u64) -> HistogramDataPoint {
    p.buckets
        .sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
    // Points without `_count` were dropped before.
    let count = p.count.unwrap_or(0.0);
    let mut bounds = Vec::with_capacity(p.buckets.len());
    let mut counts = Vec::with_capacity(p.buckets.len() + 1);
    let mut prev = 0.0;
    for (le, cum) in &p.buckets {
        if *le == f64::INFINITY {
            continue;
        }
        bounds.push(*le);
        // Cumulative → per-bucket; a non-monotonic exposition is clamped rather than wrapped.
        counts.push((cum - prev).max(0.0) as u64);
        prev = prev.max(*cum);
    }
    if !p.buckets.is_empty() {
        counts.push((count - prev).max(0.0) as u64);
    }
    HistogramDataPoint {
        attributes: p.attrs,
        start_time_unix_nano: start_ns,
        time_unix_nano: time_ns,
        count: count.max(0.0) as u64,
        sum: p.sum,
        bucket_counts: counts,
        explicit_bounds: bounds,
        exemplars: p.exemplars,
        flags: 0,
        min: None,
        max: None,
    }
}

fn summary_point(mut p: PointAcc, start_ns: u64, time_ns: u64) -> SummaryDataPoint {
    p.quantiles
        .sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
    SummaryDataPoint {
        attributes: p.attrs,
        start_time_unix_nano: start_ns,
        time_unix_nano: time_ns,
        count: p.count.unwrap_or(0.0).max(0.0) as u64,
        sum: p.sum.unwrap_or(0.0),
        quantile_values: p
            .quantiles
            .into_iter()
            .map(|(quantile, value)| ValueAtQuantile { quantile, value })
            .collect(),
        flags: 0,
    }
}

pub(super) fn bound_of<'a>(
    mut labels: impl Iterator<Item = (&'a str, &'a str)>,
    role: Role,
) -> Option<f64> {
    let want = match role {
        Role::Bucket => "le",
        Role::Quantile => "quantile",
        _ => return None,
    };
    labels
        .find(|(k, _)| *k == want)
        .and_then(|(_, v)| v.parse::<f64>().ok())
}

/// Sample labels plus target labels, conflicts resolved as `honor_labels` says (false: the
/// scraped label is kept as `exported_<name>`).
pub(super) fn point_attrs(
    ls: &[Label<'_>],
    target: &TargetContext,
    skip: &dyn Fn(&str) -> bool,
) -> Vec<KeyValue> {
    let mut attrs: Vec<KeyValue> = Vec::with_capacity(ls.len() + 2);
    for l in ls {
        if skip(l.name) {
            continue;
        }
        let conflicts = target.labels.get(l.name).is_some();
        if conflicts && !target.honor_labels {
            attrs.push(kv(format!("exported_{}", l.name), l.value.as_ref()));
        } else {
            attrs.push(kv(l.name, l.value.as_ref()));
        }
    }
    for (k, v) in target.point_labels() {
        if target.honor_labels && ls.iter().any(|l| l.name == k) {
            continue;
        }
        attrs.push(kv(k, v));
    }
    attrs
}

/// The label set metric relabeling sees: `__name__`, the sample's labels and the target's.
fn merged_labels(s: &Sample<'_>, ls: &[Label<'_>], target: &TargetContext) -> Labels {
    let mut out = Labels::new();
    for l in ls {
        let conflicts = target.labels.get(l.name).is_some();
        if conflicts && !target.honor_labels {
            out.set(&format!("exported_{}", l.name), l.value.to_string());
        } else {
            out.set(l.name, l.value.to_string());
        }
    }
    for (k, v) in target.labels.iter() {
        if target.honor_labels && out.get(k).is_some() {
            continue;
        }
        out.set(k, v.to_string());
    }
    out.set("__name__", s.name.to_string());
    out
}

/// The family a relabeled sample belongs to: a renamed `foo_bucket` → `bar_bucket` keeps its
/// histogram under `bar`; a name that no longer fits becomes untyped.
/// The OTLP name of a counter family: with `_total` when its samples carry it (see
/// [`Family::total`]), as exposed.
pub(super) fn counter_name(fam_name: &str, total: bool) -> String {
    if total {
        format!("{fam_name}_total")
    } else {
        fam_name.to_owned()
    }
}

fn renamed_family(fam: &Family<'_>, old: &str, new: &str) -> (String, MetricType) {
    if old == new {
        return (fam.name.to_string(), fam.kind);
    }
    let suffix = old.strip_prefix(fam.name).unwrap_or("");
    match new.strip_suffix(suffix) {
        Some(base) if !base.is_empty() => (base.to_string(), fam.kind),
        _ => (new.to_string(), MetricType::Unknown),
    }
}

pub(super) fn to_exemplar(labels: &[Label<'_>], value: f64, ts_ms: Option<i64>) -> OtlpExemplar {
    let mut e = OtlpExemplar {
        value: Some(exemplar::Value::AsDouble(value)),
        time_unix_nano: ts_ms.map(ms_to_ns).unwrap_or(0),
        ..Default::default()
    };
    for l in labels {
        match l.name {
            "trace_id" => {
                if let Some(b) = hex_id::<16>(&l.value) {
                    e.trace_id = Bytes::copy_from_slice(&b);
                    continue;
                }
            }
            "span_id" => {
                if let Some(b) = hex_id::<8>(&l.value) {
                    e.span_id = Bytes::copy_from_slice(&b);
                    continue;
                }
            }
            _ => {}
        }
        e.filtered_attributes.push(kv(l.name, l.value.as_ref()));
    }
    e
}

/// A hex id, left-padded with zeros to N bytes (shorter ids are common in the wild).
fn hex_id<const N: usize>(s: &str) -> Option<[u8; N]> {
    if s.is_empty() || s.len() > N * 2 || !s.len().is_multiple_of(2) {
        return None;
    }
    let mut out = [0u8; N];
    let off = N - s.len() / 2;
    for (i, pair) in s.as_bytes().chunks(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        out[off + i] = (hi * 16 + lo) as u8;
    }
    Some(out)
}

/// `trim_metric_suffixes`: the one `naming::trim_suffixes` (the Go receiver's
/// `TrimPromSuffixes`: `_total` of counters, then the `# UNIT` suffix, token-wise), with the
/// family's type mapped to the OTLP kind it becomes.
pub fn trimmed_name<'a>(name: &'a str, kind: MetricType, unit: Option<&str>) -> &'a str {
    let kind = if kind == MetricType::Counter {
        crate::naming::MetricKind::MonotonicCounter
    } else {
        crate::naming::MetricKind::Gauge
    };
    crate::naming::trim_suffixes(name, kind, unit.unwrap_or(""))
}
