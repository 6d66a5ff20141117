//! The protobuf exposition (`io.prometheus.client.MetricFamily`, length-delimited), served when
//! the scraper asks for it: the only format that carries native histograms, so exponential
//! histograms reach Prometheus (`--enable-feature=native-histograms`) without being cut into
//! classic buckets. Messages are prost structs written by hand after prometheus/client_model
//! `io/prometheus/client/metrics.proto` (proto2: every field optional).

use prost::Message;

use super::accumulator::{
    Accumulator, Family, FamilyKind, Native, Value, label_parts, unescape_into,
};
use crate::naming::{is_valid_label_name, is_valid_metric_name, push_underscore_escaped};

pub const CONTENT_TYPE: &str =
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";

#[derive(Clone, PartialEq, prost::Message)]
pub struct MetricFamily {
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
    #[prost(string, optional, tag = "2")]
    pub help: Option<String>,
    /// COUNTER 0, GAUGE 1, SUMMARY 2, UNTYPED 3, HISTOGRAM 4.
    #[prost(int32, optional, tag = "3")]
    pub r#type: Option<i32>,
    #[prost(message, repeated, tag = "4")]
    pub metric: Vec<PbMetric>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct PbMetric {
    #[prost(message, repeated, tag = "1")]
    pub label: Vec<LabelPair>,
    #[prost(message, optional, tag = "2")]
    pub gauge: Option<SimpleValue>,
    #[prost(message, optional, tag = "3")]
    pub counter: Option<SimpleValue>,
    #[prost(message, optional, tag = "4")]
    pub summary: Option<PbSummary>,
    #[prost(int64, optional, tag = "6")]
    pub timestamp_ms: Option<i64>,
    #[prost(message, optional, tag = "7")]
    pub histogram: Option<PbHistogram>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct LabelPair {
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
    #[prost(string, optional, tag = "2")]
    pub value: Option<String>,
}

/// `Gauge` and `Counter` (both `double value = 1`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct SimpleValue {
    #[prost(double, optional, tag = "1")]
    pub value: Option<f64>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Quantile {
    #[prost(double, optional, tag = "1")]
    pub quantile: Option<f64>,
    #[prost(double, optional, tag = "2")]
    pub value: Option<f64>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct PbSummary {
    #[prost(uint64, optional, tag = "1")]
    pub sample_count: Option<u64>,
    #[prost(double, optional, tag = "2")]
    pub sample_sum: Option<f64>,
    #[prost(message, repeated, tag = "3")]
    pub quantile: Vec<Quantile>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Bucket {
    #[prost(uint64, optional, tag = "1")]
    pub cumulative_count: Option<u64>,
    #[prost(double, optional, tag = "2")]
    pub upper_bound: Option<f64>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct BucketSpan {
    #[prost(sint32, optional, tag = "1")]
    pub offset: Option<i32>,
    #[prost(uint32, optional, tag = "2")]
    pub length: Option<u32>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct PbHistogram {
    #[prost(uint64, optional, tag = "1")]
    pub sample_count: Option<u64>,
    #[prost(double, optional, tag = "2")]
    pub sample_sum: Option<f64>,
    #[prost(message, repeated, tag = "3")]
    pub bucket: Vec<Bucket>,
    #[prost(sint32, optional, tag = "5")]
    pub schema: Option<i32>,
    #[prost(double, optional, tag = "6")]
    pub zero_threshold: Option<f64>,
    #[prost(uint64, optional, tag = "7")]
    pub zero_count: Option<u64>,
    #[prost(message, repeated, tag = "9")]
    pub negative_span: Vec<BucketSpan>,
    #[prost(sint64, repeated, packed = "false", tag = "10")]
    pub negative_delta: Vec<i64>,
    #[prost(message, repeated, tag = "12")]
    pub positive_span: Vec<BucketSpan>,
    #[prost(sint64, repeated, packed = "false", tag = "13")]
    pub positive_delta: Vec<i64>,
}

/// Whether `accept` prefers the delimited protobuf exposition over the text formats (the
/// highest `q` wins; Prometheus with native histograms enabled sends protobuf at q=0.5 ahead
/// of OpenMetrics at 0.4).
pub fn preferred(accept: &str) -> bool {
    let mut best_pb = None::<f32>;
    let mut best_text = None::<f32>;
    for part in accept.split(',') {
        let mut params = part.split(';').map(str::trim);
        let media = params.next().unwrap_or("");
        let (mut q, mut proto_ok, mut delimited) = (1.0f32, false, false);
        for p in params {
            match p.split_once('=') {
                Some(("q", v)) => q = v.trim().parse().unwrap_or(0.0),
                Some(("proto", v)) => proto_ok = v == "io.prometheus.client.MetricFamily",
                Some(("encoding", v)) => delimited = v == "delimited",
                _ => {}
            }
        }
        let slot = match media {
            "application/vnd.google.protobuf" if proto_ok && delimited => &mut best_pb,
            "application/vnd.google.protobuf" => continue,
            _ => &mut best_text,
        };
        *slot = Some(slot.map_or(q, |b| b.max(q)));
    }
    match (best_pb, best_text) {
        (Some(p), Some(t)) => p > 0.0 && p >= t,
        (Some(p), None) => p > 0.0,
        _ => false,
    }
}

/// `a="b",c="d"` (the accumulator's escaped label text) back into pairs; names under the
/// `underscores` scheme unless the scraper takes UTF-8 names.
fn label_pairs(text: &str, utf8: bool) -> Vec<LabelPair> {
    label_parts(text)
        .map(|(name, value)| {
            let mut n = String::with_capacity(name.len());
            unescape_into(&mut n, name);
            if !utf8 && !is_valid_label_name(&n) {
                let raw = std::mem::take(&mut n);
                push_underscore_escaped(&mut n, &raw, true);
            }
            let mut v = String::with_capacity(value.len());
            unescape_into(&mut v, value);
            LabelPair {
                name: Some(n),
                value: Some(v),
            }
        })
        .collect()
}

/// Dense OTLP buckets (offset, counts) as one span and delta-encoded counts. Prometheus's
/// bucket `i` is (base^(i-1), base^i], OTLP's is (base^i, base^(i+1)]: the offset moves by one.
fn spans(offset: i32, counts: &[u64]) -> (Vec<BucketSpan>, Vec<i64>) {
    if counts.is_empty() {
        return (Vec::new(), Vec::new());
    }
    let mut prev = 0i64;
    let deltas = counts
        .iter()
        .map(|c| {
            let c = *c as i64;
            let d = c - prev;
            prev = c;
            d
        })
        .collect();
    (
        vec![BucketSpan {
            offset: Some(offset + 1),
            length: Some(counts.len() as u32),
        }],
        deltas,
    )
}

fn native_histogram(n: &Native, count: u64, sum: f64) -> PbHistogram {
    let (mut positive_span, positive_delta) = spans(n.positive.0, &n.positive.1);
    let (negative_span, negative_delta) = spans(n.negative.0, &n.negative.1);
    if positive_span.is_empty() && negative_span.is_empty() {
        // No buckets yet: an empty span still marks the histogram native (newer Prometheus
        // looks for spans, older for a zero threshold; both are set).
        positive_span.push(BucketSpan {
            offset: Some(0),
            length: Some(0),
        });
    }
    PbHistogram {
        sample_count: Some(count),
        sample_sum: Some(sum),
        bucket: Vec::new(),
        schema: Some(n.scale),
        // Prometheus tells a native histogram from a classic one by a non-zero threshold (or
        // buckets); OTLP's exact-zero bucket is near enough to the smallest positive double.
        zero_threshold: Some(n.zero_threshold.max(f64::MIN_POSITIVE)),
        zero_count: Some(n.zero_count),
        negative_span,
        negative_delta,
        positive_span,
        positive_delta,
    }
}

fn family(name: &str, f: &Family, timestamps: bool, utf8: bool, out: &mut Vec<u8>) {
    if f.series.is_empty() {
        return;
    }
    let kind = match f.kind {
        FamilyKind::Counter => 0,
        FamilyKind::Gauge | FamilyKind::Info => 1,
        FamilyKind::Summary => 2,
        FamilyKind::Histogram => 4,
    };
    let mut series: Vec<_> = f.series.values().collect();
    series.sort_unstable_by(|a, b| a.labels.cmp(&b.labels));
    let metric = series
        .into_iter()
        .map(|s| {
            let mut m = PbMetric {
                label: label_pairs(&s.labels, utf8),
                timestamp_ms: (timestamps && s.time_ms != 0).then_some(s.time_ms),
                ..Default::default()
            };
            match &s.value {
                Value::Number(v) if f.kind == FamilyKind::Counter => {
                    m.counter = Some(SimpleValue { value: Some(*v) })
                }
                Value::Number(v) => m.gauge = Some(SimpleValue { value: Some(*v) }),
                Value::Histogram {
                    native: Some(n),
                    count,
                    sum,
                    ..
                } => m.histogram = Some(native_histogram(n, *count, *sum)),
                Value::Histogram {
                    bounds,
                    counts,
                    sum,
                    count,
                    ..
                } => {
                    let mut cumulative = 0u64;
                    m.histogram = Some(PbHistogram {
                        sample_count: Some(*count),
                        sample_sum: Some(*sum),
                        bucket: bounds
                            .iter()
                            .zip(counts)
                            .map(|(b, c)| {
                                cumulative = cumulative.saturating_add(*c);
                                Bucket {
                                    cumulative_count: Some(cumulative),
                                    upper_bound: Some(*b),
                                }
                            })
                            .collect(),
                        ..Default::default()
                    })
                }
                Value::Summary {
                    count,
                    sum,
                    quantiles,
                } => {
                    m.summary = Some(PbSummary {
                        sample_count: Some(*count),
                        sample_sum: Some(*sum),
                        quantile: quantiles
                            .iter()
                            .map(|(q, v)| Quantile {
                                quantile: Some(*q),
                                value: Some(*v),
                            })
                            .collect(),
                    })
                }
            }
            m
        })
        .collect();
    let name = if utf8 || is_valid_metric_name(name) {
        name.to_owned()
    } else {
        let mut n = String::with_capacity(name.len());
        push_underscore_escaped(&mut n, name, false);
        n
    };
    let mf = MetricFamily {
        name: Some(name),
        help: (!f.help.is_empty()).then(|| f.help.clone()),
        r#type: Some(kind),
        metric,
    };
    // Encoding into a Vec cannot fail.
    let _ = mf.encode_length_delimited(out);
}

/// The delimited protobuf exposition of everything held, families in name order. `utf8`:
/// names may leave as they are (the scraper asked for `escaping=allow-utf-8`, or the
/// strategy made them valid legacy names already).
pub fn render(acc: &Accumulator, timestamps: bool, utf8: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(acc.len() * 64 + 256);
    let mut names: Vec<&String> = acc.families.keys().collect();
    names.sort_unstable();
    for name in names {
        family(name, &acc.families[name], timestamps, utf8, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_follows_q() {
        let prom = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.5,application/openmetrics-text;version=1.0.0;q=0.4,application/openmetrics-text;version=0.0.1;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1";
        assert!(preferred(prom));
        assert!(!preferred(
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
        ));
        assert!(!preferred(
            "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text"
        ));
        assert!(!preferred(""));
    }

    #[test]
    fn label_text_round_trips() {
        let pairs = label_pairs(r#"a="x",b="q\"uo\\te\nnl",c="",d\"x.y="z""#, true);
        let got: Vec<_> = pairs
            .iter()
            .map(|p| (p.name.clone().unwrap(), p.value.clone().unwrap()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("a".into(), "x".into()),
                ("b".into(), "q\"uo\\te\nnl".into()),
                ("c".into(), String::new()),
                ("d\"x.y".into(), "z".into()),
            ]
        );
        let escaped = label_pairs(r#"http.method="GET",2xx="1",ok="y""#, false);
        let names: Vec<_> = escaped.iter().map(|p| p.name.clone().unwrap()).collect();
        assert_eq!(names, ["http_method", "_xx", "ok"]);
    }

    #[test]
    fn spans_shift_the_offset_and_delta_encode() {
        let (s, d) = spans(-2, &[3, 0, 5]);
        assert_eq!(
            s,
            vec![BucketSpan {
                offset: Some(-1),
                length: Some(3)
            }]
        );
        assert_eq!(d, vec![3, -3, 5]);
    }
}
