//! prost structs → OTLP/JSON, written straight into a `Vec<u8>`.
//!
//! Follows proto3 JSON: fields at their default value and empty repeated fields are omitted,
//! but members of a oneof and `optional` fields are written whenever set (their presence is
//! information). 64-bit integers are decimal strings, enums integers, ids lowercase hex.

use base64::Engine as _;

use crate::proto::collector::logs::v1::ExportLogsServiceRequest;
use crate::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use crate::proto::collector::profiles::v1development::ExportProfilesServiceRequest;
use crate::proto::collector::trace::v1::ExportTraceServiceRequest;
use crate::proto::common::v1::{AnyValue, EntityRef, InstrumentationScope, KeyValue, any_value};
use crate::proto::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use crate::proto::metrics::v1::{
    Exemplar, ExponentialHistogramDataPoint, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, SummaryDataPoint, exemplar,
    exponential_histogram_data_point::Buckets, metric, number_data_point,
};
use crate::proto::profiles::v1development as prof;
use crate::proto::resource::v1::Resource;
use crate::proto::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};

/// Writes one JSON object, tracking whether a comma is due.
struct Obj<'o> {
    out: &'o mut Vec<u8>,
    first: bool,
}

impl<'o> Obj<'o> {
    fn new(out: &'o mut Vec<u8>) -> Self {
        out.push(b'{');
        Obj { out, first: true }
    }

    fn end(self) {
        self.out.push(b'}');
    }

    /// Writes `"name":` (keys are ASCII identifiers, no escaping needed).
    fn key(&mut self, name: &str) -> &mut Vec<u8> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.out
    }

    fn str(&mut self, name: &str, v: &str) {
        if !v.is_empty() {
            write_str(self.key(name), v);
        }
    }

    fn bool(&mut self, name: &str, v: bool) {
        if v {
            self.key(name).extend_from_slice(b"true");
        }
    }

    /// 32-bit integers are plain JSON numbers.
    fn i32(&mut self, name: &str, v: i32) {
        if v != 0 {
            write_i64(self.key(name), v.into());
        }
    }

    fn u32(&mut self, name: &str, v: u32) {
        if v != 0 {
            write_u64(self.key(name), v.into());
        }
    }

    /// 64-bit integers are decimal strings: JSON numbers lose precision past 2^53 in many
    /// parsers.
    fn u64(&mut self, name: &str, v: u64) {
        if v != 0 {
            write_u64_str(self.key(name), v);
        }
    }

    fn i64(&mut self, name: &str, v: i64) {
        if v != 0 {
            write_i64_str(self.key(name), v);
        }
    }

    fn f64(&mut self, name: &str, v: f64) {
        // -0.0 == 0.0, so negative zero is omitted too, exactly as the protobuf encoder does.
        if v != 0.0 {
            write_f64(self.key(name), v);
        }
    }

    fn opt_f64(&mut self, name: &str, v: Option<f64>) {
        if let Some(v) = v {
            write_f64(self.key(name), v);
        }
    }

    fn hex(&mut self, name: &str, v: &[u8]) {
        if !v.is_empty() {
            write_hex(self.key(name), v);
        }
    }

    fn base64(&mut self, name: &str, v: &[u8]) {
        if !v.is_empty() {
            let out = self.key(name);
            out.push(b'"');
            let s = base64::engine::general_purpose::STANDARD.encode(v);
            out.extend_from_slice(s.as_bytes());
            out.push(b'"');
        }
    }

    /// A repeated field: omitted when empty, else `[f(item),...]`.
    fn arr<T>(&mut self, name: &str, items: &[T], f: impl Fn(&mut Vec<u8>, &T)) {
        if items.is_empty() {
            return;
        }
        let out = self.key(name);
        out.push(b'[');
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            f(out, item);
        }
        out.push(b']');
    }

    /// A singular message field: written when present, even if empty.
    fn msg<T>(&mut self, name: &str, v: &Option<T>, f: impl Fn(&mut Vec<u8>, &T)) {
        if let Some(v) = v {
            f(self.key(name), v);
        }
    }
}

// ---- scalars -------------------------------------------------------------------------------

fn write_str(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let b = s.as_bytes();
    let mut start = 0;
    for (i, &c) in b.iter().enumerate() {
        let esc: &[u8] = match c {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1F => b"",
            _ => continue,
        };
        out.extend_from_slice(&b[start..i]);
        if esc.is_empty() {
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(c >> 4) as usize],
                HEX[(c & 0xF) as usize],
            ]);
        } else {
            out.extend_from_slice(esc);
        }
        start = i + 1;
    }
    out.extend_from_slice(&b[start..]);
    out.push(b'"');
}

fn write_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

fn write_i64(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    write_u64(out, v.unsigned_abs());
}

fn write_u64_str(out: &mut Vec<u8>, v: u64) {
    out.push(b'"');
    write_u64(out, v);
    out.push(b'"');
}

fn write_i64_str(out: &mut Vec<u8>, v: i64) {
    out.push(b'"');
    write_i64(out, v);
    out.push(b'"');
}

/// Finite doubles as the shortest JSON number that round-trips; non-finite ones as the
/// strings protobuf JSON defines for them.
fn write_f64(out: &mut Vec<u8>, v: f64) {
    if v.is_nan() {
        out.extend_from_slice(b"\"NaN\"");
    } else if v == f64::INFINITY {
        out.extend_from_slice(b"\"Infinity\"");
    } else if v == f64::NEG_INFINITY {
        out.extend_from_slice(b"\"-Infinity\"");
    } else {
        // serde_json formats finite floats with ryu: shortest round-trip, valid JSON.
        // Writing into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, &v);
    }
}

fn write_hex(out: &mut Vec<u8>, v: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.reserve(v.len() * 2 + 2);
    out.push(b'"');
    for &b in v {
        out.push(HEX[(b >> 4) as usize]);
        out.push(HEX[(b & 0xF) as usize]);
    }
    out.push(b'"');
}

// ---- requests ------------------------------------------------------------------------------

pub(crate) fn traces(out: &mut Vec<u8>, m: &ExportTraceServiceRequest) {
    let mut o = Obj::new(out);
    o.arr("resourceSpans", &m.resource_spans, resource_spans);
    o.end();
}

pub(crate) fn metrics(out: &mut Vec<u8>, m: &ExportMetricsServiceRequest) {
    let mut o = Obj::new(out);
    o.arr("resourceMetrics", &m.resource_metrics, resource_metrics);
    o.end();
}

pub(crate) fn logs(out: &mut Vec<u8>, m: &ExportLogsServiceRequest) {
    let mut o = Obj::new(out);
    o.arr("resourceLogs", &m.resource_logs, resource_logs);
    o.end();
}

pub(crate) fn profiles(out: &mut Vec<u8>, m: &ExportProfilesServiceRequest) {
    let mut o = Obj::new(out);
    o.arr("resourceProfiles", &m.resource_profiles, resource_profiles);
    o.msg("dictionary", &m.dictionary, dictionary);
    o.end();
}

pub(crate) fn export_response(
    out: &mut Vec<u8>,
    rejected_key: &str,
    rejected: i64,
    error_message: &str,
) {
    let mut o = Obj::new(out);
    // Full success leaves partialSuccess unset, as the specification requires.
    if rejected != 0 || !error_message.is_empty() {
        let mut p = Obj::new(o.key("partialSuccess"));
        p.i64(rejected_key, rejected);
        p.str("errorMessage", error_message);
        p.end();
    }
    o.end();
}

// ---- common --------------------------------------------------------------------------------

fn resource(out: &mut Vec<u8>, m: &Resource) {
    let mut o = Obj::new(out);
    o.arr("attributes", &m.attributes, key_value);
    o.u32("droppedAttributesCount", m.dropped_attributes_count);
    o.arr("entityRefs", &m.entity_refs, entity_ref);
    o.end();
}

fn entity_ref(out: &mut Vec<u8>, m: &EntityRef) {
    let mut o = Obj::new(out);
    o.str("schemaUrl", &m.schema_url);
    o.str("type", &m.r#type);
    o.arr("idKeys", &m.id_keys, |out, s| write_str(out, s));
    o.arr("descriptionKeys", &m.description_keys, |out, s| {
        write_str(out, s)
    });
    o.end();
}

fn scope(out: &mut Vec<u8>, m: &InstrumentationScope) {
    let mut o = Obj::new(out);
    o.str("name", &m.name);
    o.str("version", &m.version);
    o.arr("attributes", &m.attributes, key_value);
    o.u32("droppedAttributesCount", m.dropped_attributes_count);
    o.end();
}

fn key_value(out: &mut Vec<u8>, m: &KeyValue) {
    let mut o = Obj::new(out);
    o.str("key", &m.key);
    o.msg("value", &m.value, any_value);
    o.i32("keyStrindex", m.key_strindex);
    o.end();
}

fn any_value(out: &mut Vec<u8>, m: &AnyValue) {
    use any_value::Value;
    let mut o = Obj::new(out);
    // A oneof member is written even at its default value: `{"intValue":"0"}` is not `{}`.
    match &m.value {
        None => {}
        Some(Value::StringValue(s)) => write_str(o.key("stringValue"), s),
        Some(Value::BoolValue(b)) => {
            o.key("boolValue")
                .extend_from_slice(if *b { b"true" } else { b"false" })
        }
        Some(Value::IntValue(v)) => write_i64_str(o.key("intValue"), *v),
        Some(Value::DoubleValue(v)) => write_f64(o.key("doubleValue"), *v),
        Some(Value::ArrayValue(a)) => {
            let mut a_o = Obj::new(o.key("arrayValue"));
            a_o.arr("values", &a.values, any_value);
            a_o.end();
        }
        Some(Value::KvlistValue(l)) => {
            let mut l_o = Obj::new(o.key("kvlistValue"));
            l_o.arr("values", &l.values, key_value);
            l_o.end();
        }
        Some(Value::BytesValue(b)) => {
            let out = o.key("bytesValue");
            out.push(b'"');
            let s = base64::engine::general_purpose::STANDARD.encode(b);
            out.extend_from_slice(s.as_bytes());
            out.push(b'"');
        }
        Some(Value::StringValueStrindex(v)) => write_i64(o.key("stringValueStrindex"), (*v).into()),
    }
    o.end();
}

// ---- traces --------------------------------------------------------------------------------

fn resource_spans(out: &mut Vec<u8>, m: &ResourceSpans) {
    let mut o = Obj::new(out);
    o.msg("resource", &m.resource, resource);
    o.arr("scopeSpans", &m.scope_spans, scope_spans);
    o.str("schemaUrl", &m.schema_url);
    o.end();
}

fn scope_spans(out: &mut Vec<u8>, m: &ScopeSpans) {
    let mut o = Obj::new(out);
    o.msg("scope", &m.scope, scope);
    o.arr("spans", &m.spans, span);
    o.str("schemaUrl", &m.schema_url);
    o.end();
}

fn span(out: &mut Vec<u8>, m: &Span) {
    let mut o = Obj::new(out);
    o.hex("traceId", &m.trace_id);
    o.hex("spanId", &m.span_id);
    o.str("traceState", &m.trace_state);
    o.hex("parentSpanId", &m.parent_span_id);
    o.u32("flags", m.flags);
    o.str("name", &m.name);
    o.i32("kind", m.kind);
    o.u64("startTimeUnixNano", m.start_time_unix_nano);
    o.u64("endTimeUnixNano", m.end_time_unix_nano);
    o.arr("attributes", &m.attributes, key_value);
    o.u32("droppedAttributesCount", m.dropped_attributes_count);
    o.arr("events", &m.events, event);
    o.u32("droppedEventsCount", m.dropped_events_count);
    o.arr("links", &m.links, link);
    o.u32("droppedLinksCount", m.dropped_links_count);
    o.msg("status", &m.status, status);
    o.end();
}

fn event(out: &mut Vec<u8>, m: &span::Event) {
    let mut o = Obj::new(out);
    o.u64("timeUnixNano", m.time_unix_nano);
    o.str("name", &m.name);
    o.arr("attributes", &m.attributes, key_value);
    o.u32("droppedAttributesCount", m.dropped_attributes_count);
    o.end();
}

fn link(out: &mut Vec<u8>, m: &span::Link) {
    let mut o = Obj::new(out);
    o.hex("traceId", &m.trace_id);
    o.hex("spanId", &m.span_id);
    o.str("traceState", &m.trace_state);
    o.arr("attributes", &m.attributes, key_value);
    o.u32("droppedAttributesCount", m.dropped_attributes_count);
    o.u32("flags", m.flags);
    o.end();
}

fn status(out: &mut Vec<u8>, m: &Status) {
    let mut o = Obj::new(out);
    o.str("message", &m.message);
    o.i32("code", m.code);
    o.end();
}

// ---- metrics -------------------------------------------------------------------------------

fn resource_metrics(out: &mut Vec<u8>, m: &ResourceMetrics) {
    let mut o = Obj::new(out);
    o.msg("resource", &m.resource, resource);
    o.arr("scopeMetrics", &m.scope_metrics, scope_metrics);
    o.str("schemaUrl", &m.schema_url);
    o.end();
}

fn scope_metrics(out: &mut Vec<u8>, m: &ScopeMetrics) {
    let mut o = Obj::new(out);
    o.msg("scope", &m.scope, scope);
    o.arr("metrics", &m.metrics, metric);
    o.str("schemaUrl", &m.schema_url);
    o.end();
}

fn metric(out: &mut Vec<u8>, m: &Metric) {
    use metric::Data;
    let mut o = Obj::new(out);
    o.str("name", &m.name);
    o.str("description", &m.description);
    o.str("unit", &m.unit);
    o.arr("metadata", &m.metadata, key_value);
    match &m.data {
        None => {}
        Some(Data::Gauge(g)) => {
            let mut d = Obj::new(o.key("gauge"));
            d.arr("dataPoints", &g.data_points, number_point);
            d.end();
        }
        Some(Data::Sum(s)) => {
            let mut d = Obj::new(o.key("sum"));
            d.arr("dataPoints", &s.data_points, number_point);
            d.i32("aggregationTemporality", s.aggregation_temporality);
            d.bool("isMonotonic", s.is_monotonic);
            d.end();
        }
        Some(Data::Histogram(h)) => {
            let mut d = Obj::new(o.key("histogram"));
            d.arr("dataPoints", &h.data_points, histogram_point);
            d.i32("aggregationTemporality", h.aggregation_temporality);
            d.end();
        }
        Some(Data::ExponentialHistogram(h)) => {
            let mut d = Obj::new(o.key("exponentialHistogram"));
            d.arr("dataPoints", &h.data_points, exp_histogram_point);
            d.i32("aggregationTemporality", h.aggregation_temporality);
            d.end();
        }
        Some(Data::Summary(s)) => {
            let mut d = Obj::new(o.key("summary"));
            d.arr("dataPoints", &s.data_points, summary_point);
            d.end();
        }
    }
    o.end();
}

fn number_point(out: &mut Vec<u8>, m: &NumberDataPoint) {
    use number_data_point::Value;
    let mut o = Obj::new(out);
    o.arr("attributes", &m.attributes, key_value);
    o.u64("startTimeUnixNano", m.start_time_unix_nano);
    o.u64("timeUnixNano", m.time_unix_nano);
    match m.value {
        None => {}
        Some(Value::AsDouble(v)) => write_f64(o.key("asDouble"), v),
        Some(Value::AsInt(v)) => write_i64_str(o.key("asInt"), v),
    }
    o.arr("exemplars", &m.exemplars, exemplar);
    o.u32("flags", m.flags);
    o.end();
}

fn histogram_point(out: &mut Vec<u8>, m: &HistogramDataPoint) {
    let mut o = Obj::new(out);
    o.arr("attributes", &m.attributes, key_value);
    o.u64("startTimeUnixNano", m.start_time_unix_nano);
    o.u64("timeUnixNano", m.time_unix_nano);
    o.u64("count", m.count);
    o.opt_f64("sum", m.sum);
    o.arr("bucketCounts", &m.bucket_counts, |out, v| {
        write_u64_str(out, *v)
    });
    o.arr("explicitBounds", &m.explicit_bounds, |out, v| {
        write_f64(out, *v)
    });
    o.arr("exemplars", &m.exemplars, exemplar);
    o.u32("flags", m.flags);
    o.opt_f64("min", m.min);
    o.opt_f64("max", m.max);
    o.end();
}

fn exp_histogram_point(out: &mut Vec<u8>, m: &ExponentialHistogramDataPoint) {
    let mut o = Obj::new(out);
    o.arr("attributes", &m.attributes, key_value);
    o.u64("startTimeUnixNano", m.start_time_unix_nano);
    o.u64("timeUnixNano", m.time_unix_nano);
    o.u64("count", m.count);
    o.opt_f64("sum", m.sum);
    o.i32("scale", m.scale);
    o.u64("zeroCount", m.zero_count);
    o.msg("positive", &m.positive, buckets);
    o.msg("negative", &m.negative, buckets);
    o.u32("flags", m.flags);
    o.arr("exemplars", &m.exemplars, exemplar);
    o.opt_f64("min", m.min);
    o.opt_f64("max", m.max);
    o.f64("zeroThreshold", m.zero_threshold);
    o.end();
}

fn buckets(out: &mut Vec<u8>, m: &Buckets) {
    let mut o = Obj::new(out);
    o.i32("offset", m.offset);
    o.arr("bucketCounts", &m.bucket_counts, |out, v| {
        write_u64_str(out, *v)
    });
    o.end();
}

fn summary_point(out: &mut Vec<u8>, m: &SummaryDataPoint) {
    let mut o = Obj::new(out);
    o.arr("attributes", &m.attributes, key_value);
    o.u64("startTimeUnixNano", m.start_time_unix_nano);
    o.u64("timeUnixNano", m.time_unix_nano);
    o.u64("count", m.count);
    o.f64("sum", m.sum);
    o.arr("quantileValues", &m.quantile_values, |out, q| {
        let mut o = Obj::new(out);
        o.f64("quantile", q.quantile);
        o.f64("value", q.value);
        o.end();
    });
    o.u32("flags", m.flags);
    o.end();
}

fn exemplar(out: &mut Vec<u8>, m: &Exemplar) {
    use exemplar::Value;
    let mut o = Obj::new(out);
    o.arr("filteredAttributes", &m.filtered_attributes, key_value);
    o.u64("timeUnixNano", m.time_unix_nano);
    match m.value {
        None => {}
        Some(Value::AsDouble(v)) => write_f64(o.key("asDouble"), v),
        Some(Value::AsInt(v)) => write_i64_str(o.key("asInt"), v),
    }
    o.hex("spanId", &m.span_id);
    o.hex("traceId", &m.trace_id);
    o.end();
}

// ---- logs ----------------------------------------------------------------------------------

fn resource_logs(out: &mut Vec<u8>, m: &ResourceLogs) {
    let mut o = Obj::new(out);
    o.msg("resource", &m.resource, resource);
    o.arr("scopeLogs", &m.scope_logs, scope_logs);
    o.str("schemaUrl", &m.schema_url);
    o.end();
}

fn scope_logs(out: &mut Vec<u8>, m: &ScopeLogs) {
    let mut o = Obj::new(out);
    o.msg("scope", &m.scope, scope);
    o.arr("logRecords", &m.log_records, log_record);
    o.str("schemaUrl", &m.schema_url);
    o.end();
}

fn log_record(out: &mut Vec<u8>, m: &LogRecord) {
    let mut o = Obj::new(out);
    o.u64("timeUnixNano", m.time_unix_nano);
    o.u64("observedTimeUnixNano", m.observed_time_unix_nano);
    o.i32("severityNumber", m.severity_number);
    o.str("severityText", &m.severity_text);
    o.msg("body", &m.body, any_value);
    o.arr("attributes", &m.attributes, key_value);
    o.u32("droppedAttributesCount", m.dropped_attributes_count);
    o.u32("flags", m.flags);
    o.hex("traceId", &m.trace_id);
    o.hex("spanId", &m.span_id);
    o.str("eventName", &m.event_name);
    o.end();
}

// ---- profiles ------------------------------------------------------------------------------

fn resource_profiles(out: &mut Vec<u8>, m: &prof::ResourceProfiles) {
    let mut o = Obj::new(out);
    o.msg("resource", &m.resource, resource);
    o.arr("scopeProfiles", &m.scope_profiles, scope_profiles);
    o.str("schemaUrl", &m.schema_url);
    o.end();
}

fn scope_profiles(out: &mut Vec<u8>, m: &prof::ScopeProfiles) {
    let mut o = Obj::new(out);
    o.msg("scope", &m.scope, scope);
    o.arr("profiles", &m.profiles, profile);
    o.str("schemaUrl", &m.schema_url);
    o.end();
}

fn int_list(out: &mut Vec<u8>, v: &i32) {
    write_i64(out, (*v).into());
}

fn profile(out: &mut Vec<u8>, m: &prof::Profile) {
    let mut o = Obj::new(out);
    o.msg("sampleType", &m.sample_type, value_type);
    o.arr("samples", &m.samples, sample);
    o.u64("timeUnixNano", m.time_unix_nano);
    o.u64("durationNano", m.duration_nano);
    o.msg("periodType", &m.period_type, value_type);
    o.i64("period", m.period);
    o.hex("profileId", &m.profile_id);
    o.u32("droppedAttributesCount", m.dropped_attributes_count);
    o.str("originalPayloadFormat", &m.original_payload_format);
    o.base64("originalPayload", &m.original_payload);
    o.arr("attributeIndices", &m.attribute_indices, int_list);
    o.end();
}

fn value_type(out: &mut Vec<u8>, m: &prof::ValueType) {
    let mut o = Obj::new(out);
    o.i32("typeStrindex", m.type_strindex);
    o.i32("unitStrindex", m.unit_strindex);
    o.end();
}

fn sample(out: &mut Vec<u8>, m: &prof::Sample) {
    let mut o = Obj::new(out);
    o.i32("stackIndex", m.stack_index);
    o.arr("attributeIndices", &m.attribute_indices, int_list);
    o.i32("linkIndex", m.link_index);
    o.arr("values", &m.values, |out, v| write_i64_str(out, *v));
    o.arr("timestampsUnixNano", &m.timestamps_unix_nano, |out, v| {
        write_u64_str(out, *v)
    });
    o.end();
}

fn dictionary(out: &mut Vec<u8>, m: &prof::ProfilesDictionary) {
    let mut o = Obj::new(out);
    o.arr("mappingTable", &m.mapping_table, mapping);
    o.arr("locationTable", &m.location_table, location);
    o.arr("functionTable", &m.function_table, function);
    o.arr("linkTable", &m.link_table, profile_link);
    o.arr("stringTable", &m.string_table, |out, s| write_str(out, s));
    o.arr("attributeTable", &m.attribute_table, key_value_and_unit);
    o.arr("stackTable", &m.stack_table, |out, s| {
        let mut o = Obj::new(out);
        o.arr("locationIndices", &s.location_indices, int_list);
        o.end();
    });
    o.end();
}

fn mapping(out: &mut Vec<u8>, m: &prof::Mapping) {
    let mut o = Obj::new(out);
    o.u64("memoryStart", m.memory_start);
    o.u64("memoryLimit", m.memory_limit);
    o.u64("fileOffset", m.file_offset);
    o.i32("filenameStrindex", m.filename_strindex);
    o.arr("attributeIndices", &m.attribute_indices, int_list);
    o.end();
}

fn location(out: &mut Vec<u8>, m: &prof::Location) {
    let mut o = Obj::new(out);
    o.i32("mappingIndex", m.mapping_index);
    o.u64("address", m.address);
    o.arr("lines", &m.lines, |out, l| {
        let mut o = Obj::new(out);
        o.i32("functionIndex", l.function_index);
        o.i64("line", l.line);
        o.i64("column", l.column);
        o.end();
    });
    o.arr("attributeIndices", &m.attribute_indices, int_list);
    o.end();
}

fn function(out: &mut Vec<u8>, m: &prof::Function) {
    let mut o = Obj::new(out);
    o.i32("nameStrindex", m.name_strindex);
    o.i32("systemNameStrindex", m.system_name_strindex);
    o.i32("filenameStrindex", m.filename_strindex);
    o.i64("startLine", m.start_line);
    o.end();
}

fn profile_link(out: &mut Vec<u8>, m: &prof::Link) {
    let mut o = Obj::new(out);
    o.hex("traceId", &m.trace_id);
    o.hex("spanId", &m.span_id);
    o.end();
}

fn key_value_and_unit(out: &mut Vec<u8>, m: &prof::KeyValueAndUnit) {
    let mut o = Obj::new(out);
    o.i32("keyStrindex", m.key_strindex);
    o.msg("value", &m.value, any_value);
    o.i32("unitStrindex", m.unit_strindex);
    o.end();
}
