//! The protobuf writing of the fast path: OTLP metrics fields from pre-encoded attributes,
//! without pdata structs. Field numbers are opentelemetry-proto's metrics/v1.

use ferrotel_pdata::proto::metrics::v1::{DataPointFlags, Exemplar as OtlpExemplar};
use prost::Message;
use prost::encoding::{WireType, encode_key, encode_varint, encoded_len_varint};

use crate::scrape::parse::MetricType;

pub(super) fn put_len_field(buf: &mut Vec<u8>, tag: u32, len: usize) {
    encode_key(tag, WireType::LengthDelimited, buf);
    encode_varint(len as u64, buf);
}

pub(super) fn put_fixed64(buf: &mut Vec<u8>, tag: u32, v: u64) {
    encode_key(tag, WireType::SixtyFourBit, buf);
    buf.extend_from_slice(&v.to_le_bytes());
}

pub(super) fn put_double(buf: &mut Vec<u8>, tag: u32, v: f64) {
    put_fixed64(buf, tag, v.to_bits());
}

pub(super) fn put_message(buf: &mut Vec<u8>, tag: u32, m: &impl Message) {
    put_len_field(buf, tag, m.encoded_len());
    m.encode_raw(buf);
}

pub(super) fn key_len(tag: u32) -> usize {
    prost::encoding::key_len(tag)
}

/// Histogram/summary/`_created`/exemplar state, for the points that have any.
#[derive(Debug, Default)]
pub(super) struct Extra {
    pub created: Option<f64>,
    pub sum: Option<f64>,
    pub count: Option<f64>,
    pub buckets: Vec<(f64, f64)>,
    pub quantiles: Vec<(f64, f64)>,
    pub exemplars: Vec<OtlpExemplar>,
}

impl Extra {
    pub(super) fn reset(&mut self) {
        (self.created, self.sum, self.count) = (None, None, None);
        self.buckets.clear();
        self.quantiles.clear();
        self.exemplars.clear();
    }
}

/// Metric.data's field number for `kind`, and whether it carries cumulative temporality and
/// `is_monotonic: true` (two bytes each).
pub(super) fn data_shape(kind: MetricType) -> (u32, bool, bool) {
    match kind {
        MetricType::Counter => (7, true, true),
        MetricType::Info | MetricType::StateSet => (7, true, false),
        MetricType::Histogram => (9, true, false),
        MetricType::Summary => (11, false, false),
        _ => (5, false, false),
    }
}

pub(super) fn data_len(kind: MetricType, points: usize) -> usize {
    let (_, temporality, monotonic) = data_shape(kind);
    points + 2 * temporality as usize + 2 * monotonic as usize
}

/// Appends the data field (gauge, sum, histogram or summary) holding `points` (encoded
/// `data_points` fields).
pub(super) fn put_data(buf: &mut Vec<u8>, kind: MetricType, points: &[u8]) {
    let (tag, temporality, monotonic) = data_shape(kind);
    put_len_field(buf, tag, data_len(kind, points.len()));
    buf.extend_from_slice(points);
    if temporality {
        buf.extend_from_slice(&[0x10, 2]); // aggregation_temporality: CUMULATIVE
    }
    if monotonic {
        buf.extend_from_slice(&[0x18, 1]); // is_monotonic: true
    }
}

/// A staleness data point (no value, the no-recorded-value flag) as a `data_points` field.
pub(super) fn encode_stale(
    buf: &mut Vec<u8>,
    kind: MetricType,
    attrs: &[u8],
    start_ns: u64,
    now_ns: u64,
) {
    let flags_tag = match kind {
        MetricType::Histogram => 10,
        _ => 8,
    };
    let len = attrs.len()
        + if start_ns != 0 { 9 } else { 0 }
        + if now_ns != 0 { 9 } else { 0 }
        + key_len(flags_tag)
        + 1;
    put_len_field(buf, 1, len);
    buf.extend_from_slice(attrs);
    if start_ns != 0 {
        put_fixed64(buf, 2, start_ns);
    }
    if now_ns != 0 {
        put_fixed64(buf, 3, now_ns);
    }
    encode_key(flags_tag, WireType::Varint, buf);
    buf.push(DataPointFlags::NoRecordedValueMask as u8);
}

/// A live data point's own fields.
pub(super) struct PointFields<'a> {
    /// Encoded attribute fields.
    pub attrs: &'a [u8],
    pub value: f64,
    pub start_ns: u64,
    pub time_ns: u64,
}

/// One live data point as a `data_points` field (`tmp`: scratch for its body).
pub(super) fn encode_point(
    buf: &mut Vec<u8>,
    tmp: &mut Vec<u8>,
    kind: MetricType,
    f: PointFields<'_>,
    extra: Option<&mut Extra>,
) {
    let PointFields {
        attrs,
        value,
        start_ns,
        time_ns,
    } = f;
    let ts_len = if start_ns != 0 { 9 } else { 0 } + if time_ns != 0 { 9 } else { 0 };
    let put_times = |b: &mut Vec<u8>| {
        if start_ns != 0 {
            put_fixed64(b, 2, start_ns);
        }
        if time_ns != 0 {
            put_fixed64(b, 3, time_ns);
        }
    };
    let Some(e) = extra else {
        // The common case, written straight: attributes, times, the value.
        put_len_field(buf, 1, attrs.len() + ts_len + 9);
        buf.extend_from_slice(attrs);
        put_times(buf);
        put_double(buf, 4, value);
        return;
    };
    tmp.clear();
    tmp.extend_from_slice(attrs);
    put_times(tmp);
    match kind {
        MetricType::Histogram => {
            e.buckets
                .sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
            let count = e
                .count
                .or_else(|| {
                    e.buckets
                        .last()
                        .filter(|b| b.0 == f64::INFINITY)
                        .map(|b| b.1)
                })
                .unwrap_or(0.0);
            let count_u = count.max(0.0) as u64;
            if count_u != 0 {
                put_fixed64(tmp, 4, count_u);
            }
            if let Some(sum) = e.sum {
                put_double(tmp, 5, sum);
            }
            if !e.buckets.is_empty() {
                // Cumulative → per-bucket; a non-monotonic exposition is clamped.
                let finite = e.buckets.iter().filter(|b| b.0 != f64::INFINITY).count();
                put_len_field(tmp, 6, 8 * (finite + 1));
                let mut prev = 0.0f64;
                for (le, cum) in &e.buckets {
                    if *le == f64::INFINITY {
                        continue;
                    }
                    tmp.extend_from_slice(&(((cum - prev).max(0.0)) as u64).to_le_bytes());
                    prev = prev.max(*cum);
                }
                tmp.extend_from_slice(&(((count - prev).max(0.0)) as u64).to_le_bytes());
                if finite > 0 {
                    put_len_field(tmp, 7, 8 * finite);
                    for (le, _) in e.buckets.iter().filter(|b| b.0 != f64::INFINITY) {
                        tmp.extend_from_slice(&le.to_bits().to_le_bytes());
                    }
                }
            }
            for x in &e.exemplars {
                put_message(tmp, 8, x);
            }
        }
        MetricType::Summary => {
            e.quantiles
                .sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
            let count = e.count.unwrap_or(0.0).max(0.0) as u64;
            if count != 0 {
                put_fixed64(tmp, 4, count);
            }
            let sum = e.sum.unwrap_or(0.0);
            if sum != 0.0 {
                put_double(tmp, 5, sum);
            }
            for (q, v) in &e.quantiles {
                let len = if *q != 0.0 { 9 } else { 0 } + if *v != 0.0 { 9 } else { 0 };
                put_len_field(tmp, 6, len);
                if *q != 0.0 {
                    put_double(tmp, 1, *q);
                }
                if *v != 0.0 {
                    put_double(tmp, 2, *v);
                }
            }
        }
        _ => {
            put_double(tmp, 4, value);
            for x in &e.exemplars {
                put_message(tmp, 5, x);
            }
        }
    }
    put_len_field(buf, 1, tmp.len());
    buf.extend_from_slice(tmp);
}

/// A `ScopeMetrics.metrics` field: the metric's head fields and its data holding `points`.
pub(super) fn write_metric(dst: &mut Vec<u8>, head: &[u8], kind: MetricType, points: &[u8]) {
    let (tag, ..) = data_shape(kind);
    let len = data_len(kind, points.len());
    put_len_field(
        dst,
        2,
        head.len() + key_len(tag) + encoded_len_varint(len as u64) + len,
    );
    dst.extend_from_slice(head);
    put_data(dst, kind, points);
}
