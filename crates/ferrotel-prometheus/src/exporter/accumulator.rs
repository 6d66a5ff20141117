//! The pull exporter's state: the latest value of every series, delta sums and histograms
//! accumulated into cumulative ones, series expired after `metric_expiration` without update.
//! Series keep their label text rendered once, so a scrape only concatenates.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ferrotel_pdata::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use ferrotel_pdata::proto::metrics::v1::{
    Exemplar, ExponentialHistogramDataPoint, HistogramDataPoint, Metric, NumberDataPoint, exemplar,
    exponential_histogram_data_point, metric::Data, number_data_point,
};

use crate::naming::{MetricKind, MetricNamer, prometheus_unit};
use crate::series::{LabelOptions, Labels, base_labels, point_labels, target_info_labels};

/// What a family is served as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FamilyKind {
    Gauge,
    Counter,
    Histogram,
    Summary,
    /// `target_info` (OpenMetrics `info`, a gauge in the text format).
    Info,
}

/// One exemplar, ready to print.
#[derive(Debug, Clone, PartialEq)]
pub struct Ex {
    /// `trace_id="…",span_id="…",…` (OpenMetrics limits the set to 128 characters).
    pub labels: String,
    pub value: f64,
    /// Seconds since the epoch, if the exemplar had a time.
    pub time: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Number(f64),
    /// Classic buckets, per-bucket (not cumulative) counts; `counts.len() == bounds.len() + 1`.
    Histogram {
        bounds: Vec<f64>,
        counts: Vec<u64>,
        sum: f64,
        count: u64,
        /// Per bucket, the latest exemplar that fell into it.
        exemplars: Vec<Option<Ex>>,
        /// An exponential histogram's own buckets, for the protobuf exposition (native
        /// histograms); the classic buckets above are derived from them for the text formats.
        native: Option<Box<Native>>,
    },
    Summary {
        count: u64,
        sum: f64,
        quantiles: Vec<(f64, f64)>,
    },
}

/// Exponential buckets as OTLP has them: dense counts from an offset, per sign.
#[derive(Debug, Clone, PartialEq)]
pub struct Native {
    /// Prometheus's schema: OTLP scales above 8 are reduced to 8 on the way in.
    pub scale: i32,
    pub zero_threshold: f64,
    pub zero_count: u64,
    pub positive: (i32, Vec<u64>),
    pub negative: (i32, Vec<u64>),
}

/// Prometheus's native histogram schemas.
const MAX_SCALE: i32 = 8;
const MIN_SCALE: i32 = -4;

/// Buckets at scale `s` as buckets at scale `s - by` (each bucket merges into bucket
/// `index >> by`, the floor of `index / 2^by`).
fn downscale(b: &(i32, Vec<u64>), by: u32) -> (i32, Vec<u64>) {
    if by == 0 || b.1.is_empty() {
        return b.clone();
    }
    let first = b.0 >> by;
    let last = (b.0 + b.1.len() as i32 - 1) >> by;
    let mut counts = vec![0u64; (last - first + 1) as usize];
    for (j, c) in b.1.iter().enumerate() {
        counts[((b.0 + j as i32) >> by) as usize - first as usize] += c;
    }
    (first, counts)
}

/// The sum of two bucket runs at the same scale.
fn add_buckets(a: &(i32, Vec<u64>), b: &(i32, Vec<u64>)) -> (i32, Vec<u64>) {
    if a.1.is_empty() {
        return b.clone();
    }
    if b.1.is_empty() {
        return a.clone();
    }
    let first = a.0.min(b.0);
    let end = (a.0 + a.1.len() as i32).max(b.0 + b.1.len() as i32);
    let mut counts = vec![0u64; (end - first) as usize];
    for run in [a, b] {
        for (j, c) in run.1.iter().enumerate() {
            counts[(run.0 - first) as usize + j] += c;
        }
    }
    (first, counts)
}

impl Native {
    /// `None` for a scale below Prometheus's lowest schema (served as classic buckets only).
    fn from_point(p: &ExponentialHistogramDataPoint) -> Option<Native> {
        if p.scale < MIN_SCALE {
            return None;
        }
        let by = (p.scale - MAX_SCALE).max(0) as u32;
        let run = |b: &Option<exponential_histogram_data_point::Buckets>| {
            b.as_ref().map_or((0, Vec::new()), |b| {
                downscale(&(b.offset, b.bucket_counts.clone()), by)
            })
        };
        Some(Native {
            scale: p.scale.min(MAX_SCALE),
            zero_threshold: p.zero_threshold.max(0.0),
            zero_count: p.zero_count,
            positive: run(&p.positive),
            negative: run(&p.negative),
        })
    }

    /// Adds a later delta: both at the lower of the two scales.
    fn add(&self, d: &Native) -> Native {
        let scale = self.scale.min(d.scale);
        let (a, b) = ((self.scale - scale) as u32, (d.scale - scale) as u32);
        Native {
            scale,
            zero_threshold: self.zero_threshold.max(d.zero_threshold),
            zero_count: self.zero_count + d.zero_count,
            positive: add_buckets(&downscale(&self.positive, a), &downscale(&d.positive, b)),
            negative: add_buckets(&downscale(&self.negative, a), &downscale(&d.negative, b)),
        }
    }

    /// As an OTLP point, for the classic conversion.
    fn to_point(&self, p: &ExponentialHistogramDataPoint) -> ExponentialHistogramDataPoint {
        let buckets = |b: &(i32, Vec<u64>)| {
            Some(exponential_histogram_data_point::Buckets {
                offset: b.0,
                bucket_counts: b.1.clone(),
            })
        };
        ExponentialHistogramDataPoint {
            scale: self.scale,
            zero_threshold: self.zero_threshold,
            zero_count: self.zero_count,
            positive: buckets(&self.positive),
            negative: buckets(&self.negative),
            attributes: Vec::new(),
            exemplars: Vec::new(),
            ..p.clone()
        }
    }
}

#[derive(Debug, Clone)]
pub struct Series {
    /// `a="b",c="d"`, sorted by name, escaped.
    pub labels: String,
    pub value: Value,
    /// The point's time in milliseconds (`send_timestamps`).
    pub time_ms: i64,
    /// The point's time in nanoseconds, to ignore out-of-order cumulative points.
    time_ns: u64,
    start_ns: u64,
    /// A counter's latest exemplar.
    pub exemplar: Option<Ex>,
    updated: Instant,
}

#[derive(Debug)]
pub struct Family {
    pub kind: FamilyKind,
    pub help: String,
    /// The Prometheus unit (`seconds`), empty for none.
    pub unit: String,
    pub series: HashMap<String, Series>,
}

/// How points become series.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub namer: MetricNamer,
    pub labels: LabelOptions,
    pub const_labels: Vec<(String, String)>,
    pub target_info: bool,
    pub expiration: Duration,
}

/// Every family by name.
#[derive(Debug)]
pub struct Accumulator {
    pub settings: Settings,
    pub families: HashMap<String, Family>,
}

const DELTA: i32 = 1;
const NO_RECORDED_VALUE: u32 = 1;

/// Label text `a="b",c="d"` with the exposition formats' escaping. Names are escaped as values
/// are: under the UTF-8 strategies they may hold any character, and escaped they never contain
/// `="`, so [`label_parts`] can split the text again.
pub fn label_text(labels: &Labels) -> String {
    let mut s = String::with_capacity(labels.iter().map(|(k, v)| k.len() + v.len() + 4).sum());
    for (i, (k, v)) in labels.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        escape_into(&mut s, k);
        s.push_str("=\"");
        escape_into(&mut s, v);
        s.push('"');
    }
    s
}

/// The (name, value) pairs of a [`label_text`], both still escaped.
pub fn label_parts(text: &str) -> impl Iterator<Item = (&str, &str)> {
    let mut rest = text;
    std::iter::from_fn(move || {
        let (name, after) = rest.split_once("=\"")?;
        let mut end = after.len();
        let mut chars = after.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    chars.next();
                }
                '"' => {
                    end = i;
                    break;
                }
                _ => {}
            }
        }
        rest = after.get(end + 1..).unwrap_or("");
        rest = rest.strip_prefix(',').unwrap_or(rest);
        Some((name, &after[..end]))
    })
}

/// The reverse of the exposition escaping (`\\`, `\"`, `\n`), appended to `out`.
pub fn unescape_into(out: &mut String, s: &str) {
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('n') => out.push('\n'),
                Some(c) => out.push(c),
                None => {}
            },
            c => out.push(c),
        }
    }
}

pub fn escape_into(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn exemplar(e: &Exemplar, settings: &Settings) -> Ex {
    let mut labels: Labels = Vec::new();
    if !e.trace_id.is_empty() {
        labels.push(("trace_id".into(), hex(&e.trace_id)));
    }
    if !e.span_id.is_empty() {
        labels.push(("span_id".into(), hex(&e.span_id)));
    }
    let mut text = label_text(&labels);
    // OpenMetrics caps an exemplar's label set at 128 characters: the ids always fit, other
    // attributes only while they do.
    for kv in &e.filtered_attributes {
        let one = label_text(&vec![(
            crate::naming::label_name(&kv.key, settings.namer.strategy).into_owned(),
            crate::series::value_text(kv.value.as_ref()),
        )]);
        if text.len() + one.len() < 128 {
            if !text.is_empty() {
                text.push(',');
            }
            text.push_str(&one);
        }
    }
    let value = match e.value {
        Some(exemplar::Value::AsDouble(d)) => d,
        Some(exemplar::Value::AsInt(i)) => i as f64,
        None => 0.0,
    };
    Ex {
        labels: text,
        value,
        time: (e.time_unix_nano > 0).then(|| e.time_unix_nano as f64 / 1e9),
    }
}

fn number(p: &NumberDataPoint) -> f64 {
    match p.value {
        Some(number_data_point::Value::AsDouble(d)) => d,
        Some(number_data_point::Value::AsInt(i)) => i as f64,
        None => 0.0,
    }
}

/// An exponential histogram as classic buckets: each exponential bucket's upper bound becomes
/// an `le` bound (negative buckets, the zero bucket, positive buckets), as the spec allows when
/// native histograms cannot be served.
pub fn exponential_to_classic(p: &ExponentialHistogramDataPoint) -> (Vec<f64>, Vec<u64>) {
    let scale = p.scale.clamp(-10, 20);
    let base = 2f64.powf(2f64.powi(-scale));
    let mut bounds = Vec::new();
    let mut counts = Vec::new();
    // Buckets past f64's range have no finite bound: their counts join the neighbouring
    // bucket (the lowest finite one, or +Inf).
    let mut carry = 0u64;
    if let Some(neg) = &p.negative {
        // Bucket i holds (-base^(i+1), -base^i]: highest index first, so bounds ascend.
        for (j, c) in neg.bucket_counts.iter().enumerate().rev() {
            let bound = -base.powf(neg.offset as f64 + j as f64);
            if bound.is_finite() {
                bounds.push(bound);
                counts.push(c + std::mem::take(&mut carry));
            } else {
                carry += c;
            }
        }
    }
    let zero_bound = p.zero_threshold.max(0.0);
    bounds.push(zero_bound);
    counts.push(p.zero_count + std::mem::take(&mut carry));
    let mut overflow = 0u64;
    if let Some(pos) = &p.positive {
        for (j, c) in pos.bucket_counts.iter().enumerate() {
            let upper = base.powf(pos.offset as f64 + j as f64 + 1.0);
            if !upper.is_finite() {
                overflow += c;
            } else if upper > zero_bound {
                bounds.push(upper);
                counts.push(*c);
            } else if let Some(last) = counts.last_mut() {
                *last += c;
            }
        }
    }
    // The +Inf bucket: what lies past the last finite bound.
    counts.push(overflow);
    (bounds, counts)
}

impl Accumulator {
    pub fn new(settings: Settings) -> Self {
        Accumulator {
            settings,
            families: HashMap::new(),
        }
    }

    /// Number of series held.
    pub fn len(&self) -> usize {
        self.families.values().map(|f| f.series.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops series not updated within the expiration, and families left empty.
    pub fn expire(&mut self, now: Instant) {
        let ttl = self.settings.expiration;
        if ttl.is_zero() {
            return;
        }
        self.families.retain(|_, f| {
            f.series.retain(|_, s| now.duration_since(s.updated) < ttl);
            !f.series.is_empty()
        });
    }

    /// Takes in one request's metrics. Returns how many points were dropped (with why).
    pub fn ingest(&mut self, req: &ExportMetricsServiceRequest, now: Instant) -> Vec<String> {
        let mut problems = Vec::new();
        for rm in &req.resource_metrics {
            let resource = rm.resource.as_ref();
            if self.settings.target_info
                && let Some(l) = target_info_labels(
                    resource,
                    self.settings.namer.strategy,
                    &self.settings.const_labels,
                )
            {
                let family = self.family(
                    "target_info",
                    FamilyKind::Info,
                    "Target metadata",
                    "",
                    &mut problems,
                );
                if let Some(family) = family {
                    let text = label_text(&l);
                    family.series.insert(
                        text.clone(),
                        Series {
                            labels: text,
                            value: Value::Number(1.0),
                            time_ms: 0,
                            time_ns: 0,
                            start_ns: 0,
                            exemplar: None,
                            updated: now,
                        },
                    );
                }
            }
            for sm in &rm.scope_metrics {
                let base = base_labels(
                    resource,
                    sm.scope.as_ref(),
                    &self.settings.labels,
                    &self.settings.const_labels,
                );
                for m in &sm.metrics {
                    self.metric(m, &base, now, &mut problems);
                }
            }
        }
        problems
    }

    fn family(
        &mut self,
        name: &str,
        kind: FamilyKind,
        help: &str,
        unit: &str,
        problems: &mut Vec<String>,
    ) -> Option<&mut Family> {
        let f = self
            .families
            .entry(name.to_owned())
            .or_insert_with(|| Family {
                kind,
                help: help.to_owned(),
                unit: unit.to_owned(),
                series: HashMap::new(),
            });
        if f.kind != kind {
            // One name, two types: Prometheus cannot take both; the newer type wins.
            problems.push(format!(
                "metric {name:?} changed type from {:?} to {kind:?}: its old series are dropped",
                f.kind
            ));
            f.kind = kind;
            f.series.clear();
        }
        if !help.is_empty() {
            help.clone_into(&mut f.help);
        }
        unit.clone_into(&mut f.unit);
        Some(f)
    }

    fn metric(&mut self, m: &Metric, base: &Labels, now: Instant, problems: &mut Vec<String>) {
        let Some(data) = &m.data else { return };
        let strategy = self.settings.namer.strategy;
        let (kind, family_kind) = match data {
            Data::Gauge(_) => (MetricKind::Gauge, FamilyKind::Gauge),
            Data::Sum(s) if s.is_monotonic => (MetricKind::MonotonicCounter, FamilyKind::Counter),
            Data::Sum(_) => (MetricKind::NonMonotonicCounter, FamilyKind::Gauge),
            Data::Histogram(_) => (MetricKind::Histogram, FamilyKind::Histogram),
            Data::ExponentialHistogram(_) => {
                (MetricKind::ExponentialHistogram, FamilyKind::Histogram)
            }
            Data::Summary(_) => (MetricKind::Summary, FamilyKind::Summary),
        };
        let name = self.settings.namer.build(&m.name, &m.unit, kind);
        let unit = if strategy.adds_suffixes() {
            prometheus_unit(&m.unit)
        } else {
            String::new()
        };
        let settings = self.settings.clone();
        let Some(family) = self.family(&name, family_kind, &m.description, &unit, problems) else {
            return;
        };
        match data {
            Data::Gauge(g) => {
                for p in &g.data_points {
                    number_point(family, &settings, base, p, false, now);
                }
            }
            Data::Sum(s) => {
                for p in &s.data_points {
                    number_point(
                        family,
                        &settings,
                        base,
                        p,
                        s.aggregation_temporality == DELTA,
                        now,
                    );
                }
            }
            Data::Histogram(h) => {
                for p in &h.data_points {
                    histogram_point(
                        family,
                        &settings,
                        base,
                        p,
                        h.aggregation_temporality == DELTA,
                        now,
                        None,
                    );
                }
            }
            Data::ExponentialHistogram(h) => {
                let delta = h.aggregation_temporality == DELTA;
                for p in &h.data_points {
                    let labels =
                        label_text(&point_labels(base, &p.attributes, settings.namer.strategy));
                    // Deltas add up in native form; the classic buckets follow from the sum.
                    let mut native = Native::from_point(p);
                    let mut count = p.count;
                    let mut sum = p.sum.unwrap_or(0.0);
                    if delta
                        && p.flags & NO_RECORDED_VALUE == 0
                        && let Some(Series {
                            value:
                                Value::Histogram {
                                    native: Some(old),
                                    count: oc,
                                    sum: os,
                                    ..
                                },
                            time_ns,
                            ..
                        }) = family.series.get(&labels)
                        && (p.start_time_unix_nano == 0 || p.start_time_unix_nano >= *time_ns)
                        && let Some(n) = &native
                    {
                        native = Some(old.add(n));
                        count += oc;
                        sum += os;
                    }
                    let merged = match &native {
                        Some(n) => ExponentialHistogramDataPoint {
                            count,
                            sum: Some(sum),
                            ..n.to_point(p)
                        },
                        None => p.clone(),
                    };
                    let (bounds, counts) = exponential_to_classic(&merged);
                    let classic = HistogramDataPoint {
                        attributes: p.attributes.clone(),
                        start_time_unix_nano: p.start_time_unix_nano,
                        time_unix_nano: p.time_unix_nano,
                        count,
                        sum: Some(sum),
                        bucket_counts: counts,
                        explicit_bounds: bounds,
                        exemplars: p.exemplars.clone(),
                        flags: p.flags,
                        min: p.min,
                        max: p.max,
                    };
                    histogram_point(
                        family,
                        &settings,
                        base,
                        &classic,
                        false,
                        now,
                        native.map(Box::new),
                    );
                }
            }
            Data::Summary(s) => {
                for p in &s.data_points {
                    let labels = label_text(&point_labels(base, &p.attributes, strategy));
                    if p.flags & NO_RECORDED_VALUE != 0 {
                        family.series.remove(&labels);
                        continue;
                    }
                    let value = Value::Summary {
                        count: p.count,
                        sum: p.sum,
                        quantiles: p
                            .quantile_values
                            .iter()
                            .map(|q| (q.quantile, q.value))
                            .collect(),
                    };
                    upsert(
                        family,
                        labels,
                        value,
                        p.time_unix_nano,
                        p.start_time_unix_nano,
                        None,
                        now,
                    );
                }
            }
        }
    }
}

/// Replaces a series' value if the point is not older than what is held.
fn upsert(
    family: &mut Family,
    labels: String,
    value: Value,
    time_ns: u64,
    start_ns: u64,
    exemplar: Option<Ex>,
    now: Instant,
) {
    match family.series.get_mut(&labels) {
        Some(s) if time_ns != 0 && time_ns < s.time_ns => {}
        Some(s) => {
            s.value = value;
            s.time_ns = time_ns;
            s.time_ms = (time_ns / 1_000_000) as i64;
            s.start_ns = start_ns;
            if exemplar.is_some() {
                s.exemplar = exemplar;
            }
            s.updated = now;
        }
        None => {
            family.series.insert(
                labels.clone(),
                Series {
                    labels,
                    value,
                    time_ms: (time_ns / 1_000_000) as i64,
                    time_ns,
                    start_ns,
                    exemplar,
                    updated: now,
                },
            );
        }
    }
}

fn number_point(
    family: &mut Family,
    settings: &Settings,
    base: &Labels,
    p: &NumberDataPoint,
    delta: bool,
    now: Instant,
) {
    let labels = label_text(&point_labels(base, &p.attributes, settings.namer.strategy));
    if p.flags & NO_RECORDED_VALUE != 0 {
        family.series.remove(&labels);
        return;
    }
    let ex = p.exemplars.last().map(|e| exemplar(e, settings));
    let mut v = number(p);
    if delta {
        // A delta continues the held total when it starts where the last one ended (or the
        // sender does not say); otherwise the stream restarted and the total starts over.
        if let Some(s) = family.series.get(&labels)
            && let Value::Number(old) = s.value
            && (p.start_time_unix_nano == 0 || p.start_time_unix_nano >= s.time_ns)
        {
            v += old;
        }
    }
    upsert(
        family,
        labels,
        Value::Number(v),
        p.time_unix_nano,
        p.start_time_unix_nano,
        ex,
        now,
    );
}

fn histogram_point(
    family: &mut Family,
    settings: &Settings,
    base: &Labels,
    p: &HistogramDataPoint,
    delta: bool,
    now: Instant,
    native: Option<Box<Native>>,
) {
    let labels = label_text(&point_labels(base, &p.attributes, settings.namer.strategy));
    if p.flags & NO_RECORDED_VALUE != 0 {
        family.series.remove(&labels);
        return;
    }
    let mut bounds = p.explicit_bounds.clone();
    let mut counts = p.bucket_counts.clone();
    // A malformed point (counts not one more than bounds) is served as count and sum only.
    if counts.len() != bounds.len() + 1 {
        bounds.clear();
        counts = vec![p.count];
    }
    let mut exemplars: Vec<Option<Ex>> = vec![None; counts.len()];
    for e in &p.exemplars {
        let ex = exemplar(e, settings);
        let i = bounds
            .iter()
            .position(|b| ex.value <= *b)
            .unwrap_or(bounds.len());
        exemplars[i] = Some(ex);
    }
    let mut count = p.count;
    let mut sum = p.sum.unwrap_or(0.0);
    if delta
        && let Some(Series {
            value:
                Value::Histogram {
                    bounds: ob,
                    counts: oc,
                    sum: os,
                    count: ocount,
                    ..
                },
            time_ns,
            ..
        }) = family.series.get(&labels)
        && *ob == bounds
        && (p.start_time_unix_nano == 0 || p.start_time_unix_nano >= *time_ns)
    {
        for (c, o) in counts.iter_mut().zip(oc) {
            *c += o;
        }
        count += ocount;
        sum += os;
    }
    let value = Value::Histogram {
        bounds,
        counts,
        sum,
        count,
        exemplars,
        native,
    };
    upsert(
        family,
        labels,
        value,
        p.time_unix_nano,
        p.start_time_unix_nano,
        None,
        now,
    );
}
