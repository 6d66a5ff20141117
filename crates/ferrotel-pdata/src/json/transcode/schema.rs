//! The OTLP messages as the transcoder sees them: for each JSON key, the protobuf field
//! number, the scalar type (which fixes both how the JSON value is read and how it is
//! written) and the cardinality (which fixes when a zero value is still written).
//!
//! The wire validator has its own tables (`wire/schema.rs`), indexed by field number and
//! without value types; these are keyed by JSON name, in the order SDKs usually write the
//! keys, because lookup is a linear scan that should stop early.

/// The type of a field's value, in protobuf terms.
#[derive(Clone, Copy)]
pub(super) enum Kind {
    Str,
    /// `bytes` in base64.
    Base64,
    /// `bytes` holding a trace, span or profile id of this many bytes, in hex.
    HexId(usize),
    Bool,
    Enum,
    Int32,
    UInt32,
    Int64,
    UInt64,
    SInt32,
    Fixed32,
    Fixed64,
    SFixed64,
    Double,
    Msg(&'static Msg),
}

/// How often a field occurs, and so when prost writes it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Card {
    /// Plain proto3 field: prost omits the default value (0, "", false, ±0.0).
    Singular,
    /// `optional` scalar: written whenever present, even when zero.
    Optional,
    /// Member of the message's oneof: written whenever present. OTLP messages have at most
    /// one oneof each.
    Oneof,
    /// `repeated`: scalars packed, strings and messages one field per element.
    Repeated,
}

#[derive(Clone, Copy)]
pub(super) struct Field {
    pub(super) json: &'static str,
    pub(super) number: u32,
    pub(super) kind: Kind,
    pub(super) card: Card,
}

pub(super) struct Msg {
    pub(super) fields: &'static [Field],
    /// This is an AnyValue: entering it spends one level of `MAX_ANY_VALUE_DEPTH`.
    pub(super) any_value: bool,
    /// Bytes reserved for this message's length prefix before its body is written: 2 for
    /// messages that are usually 128 bytes to 16 KiB long (spans and the lists above them),
    /// so that their bodies rarely need moving once the length is known; 1 for the rest.
    pub(super) len_bytes: usize,
}

/// Field constructors by cardinality: `f` plain, `opt` optional, `one` oneof, `rep` repeated.
macro_rules! field_fns {
    ($($name:ident => $card:ident),*) => {$(
        const fn $name(json: &'static str, number: u32, kind: Kind) -> Field {
            Field { json, number, kind, card: Card::$card }
        }
    )*};
}
field_fns!(f => Singular, opt => Optional, one => Oneof, rep => Repeated);

/// A message table: `msg! {NAME, [fields]}`, optionally with `any_value` or `len_bytes = 2`.
/// (Braces keep rustfmt from spreading the tables over one line per token.)
macro_rules! msg {
    ($name:ident, any_value, [$($field:expr),* $(,)?]) => {
        pub(super) static $name: Msg = Msg { fields: &[$($field),*], any_value: true, len_bytes: 1 };
    };
    ($name:ident, len_bytes = $n:literal, [$($field:expr),* $(,)?]) => {
        pub(super) static $name: Msg = Msg { fields: &[$($field),*], any_value: false, len_bytes: $n };
    };
    ($name:ident, [$($field:expr),* $(,)?]) => {
        pub(super) static $name: Msg = Msg { fields: &[$($field),*], any_value: false, len_bytes: 1 };
    };
}

use Kind::*;

const TRACE_ID: Kind = HexId(16);
const SPAN_ID: Kind = HexId(8);

// common.proto
msg! {ANY_VALUE, any_value, [
    one("stringValue", 1, Str),
    one("intValue", 3, Int64),
    one("boolValue", 2, Bool),
    one("doubleValue", 4, Double),
    one("arrayValue", 5, Msg(&ARRAY_VALUE)),
    one("kvlistValue", 6, Msg(&KEY_VALUE_LIST)),
    one("bytesValue", 7, Base64),
    one("stringValueStrindex", 8, Int32),
]}
msg! {ARRAY_VALUE, [rep("values", 1, Msg(&ANY_VALUE))]}
msg! {KEY_VALUE_LIST, [rep("values", 1, Msg(&KEY_VALUE))]}
msg! {KEY_VALUE, [
    f("key", 1, Str),
    f("value", 2, Msg(&ANY_VALUE)),
    f("keyStrindex", 3, Int32),
]}
msg! {SCOPE, [
    f("name", 1, Str),
    f("version", 2, Str),
    rep("attributes", 3, Msg(&KEY_VALUE)),
    f("droppedAttributesCount", 4, UInt32),
]}
msg! {ENTITY_REF, [
    f("schemaUrl", 1, Str),
    f("type", 2, Str),
    rep("idKeys", 3, Str),
    rep("descriptionKeys", 4, Str),
]}
msg! {RESOURCE, [
    rep("attributes", 1, Msg(&KEY_VALUE)),
    f("droppedAttributesCount", 2, UInt32),
    rep("entityRefs", 3, Msg(&ENTITY_REF)),
]}

// trace.proto
msg! {TRACES_REQUEST, [rep("resourceSpans", 1, Msg(&RESOURCE_SPANS))]}
msg! {RESOURCE_SPANS, len_bytes = 2, [
    f("resource", 1, Msg(&RESOURCE)),
    rep("scopeSpans", 2, Msg(&SCOPE_SPANS)),
    f("schemaUrl", 3, Str),
]}
msg! {SCOPE_SPANS, len_bytes = 2, [
    f("scope", 1, Msg(&SCOPE)),
    rep("spans", 2, Msg(&SPAN)),
    f("schemaUrl", 3, Str),
]}
msg! {SPAN, len_bytes = 2, [
    f("traceId", 1, TRACE_ID),
    f("spanId", 2, SPAN_ID),
    f("parentSpanId", 4, SPAN_ID),
    f("name", 5, Str),
    f("kind", 6, Enum),
    f("startTimeUnixNano", 7, Fixed64),
    f("endTimeUnixNano", 8, Fixed64),
    rep("attributes", 9, Msg(&KEY_VALUE)),
    f("status", 15, Msg(&STATUS)),
    f("traceState", 3, Str),
    f("flags", 16, Fixed32),
    f("droppedAttributesCount", 10, UInt32),
    rep("events", 11, Msg(&SPAN_EVENT)),
    f("droppedEventsCount", 12, UInt32),
    rep("links", 13, Msg(&SPAN_LINK)),
    f("droppedLinksCount", 14, UInt32),
]}
msg! {SPAN_EVENT, [
    f("timeUnixNano", 1, Fixed64),
    f("name", 2, Str),
    rep("attributes", 3, Msg(&KEY_VALUE)),
    f("droppedAttributesCount", 4, UInt32),
]}
msg! {SPAN_LINK, [
    f("traceId", 1, TRACE_ID),
    f("spanId", 2, SPAN_ID),
    f("traceState", 3, Str),
    rep("attributes", 4, Msg(&KEY_VALUE)),
    f("droppedAttributesCount", 5, UInt32),
    f("flags", 6, Fixed32),
]}
msg! {STATUS, [f("code", 3, Enum), f("message", 2, Str)]}

// logs.proto
msg! {LOGS_REQUEST, [rep("resourceLogs", 1, Msg(&RESOURCE_LOGS))]}
msg! {RESOURCE_LOGS, len_bytes = 2, [
    f("resource", 1, Msg(&RESOURCE)),
    rep("scopeLogs", 2, Msg(&SCOPE_LOGS)),
    f("schemaUrl", 3, Str),
]}
msg! {SCOPE_LOGS, len_bytes = 2, [
    f("scope", 1, Msg(&SCOPE)),
    rep("logRecords", 2, Msg(&LOG_RECORD)),
    f("schemaUrl", 3, Str),
]}
msg! {LOG_RECORD, len_bytes = 2, [
    f("timeUnixNano", 1, Fixed64),
    f("observedTimeUnixNano", 11, Fixed64),
    f("severityNumber", 2, Enum),
    f("severityText", 3, Str),
    f("body", 5, Msg(&ANY_VALUE)),
    rep("attributes", 6, Msg(&KEY_VALUE)),
    f("droppedAttributesCount", 7, UInt32),
    f("flags", 8, Fixed32),
    f("traceId", 9, TRACE_ID),
    f("spanId", 10, SPAN_ID),
    f("eventName", 12, Str),
]}

// metrics.proto
msg! {METRICS_REQUEST, [rep("resourceMetrics", 1, Msg(&RESOURCE_METRICS))]}
msg! {RESOURCE_METRICS, len_bytes = 2, [
    f("resource", 1, Msg(&RESOURCE)),
    rep("scopeMetrics", 2, Msg(&SCOPE_METRICS)),
    f("schemaUrl", 3, Str),
]}
msg! {SCOPE_METRICS, len_bytes = 2, [
    f("scope", 1, Msg(&SCOPE)),
    rep("metrics", 2, Msg(&METRIC)),
    f("schemaUrl", 3, Str),
]}
msg! {METRIC, [
    f("name", 1, Str),
    f("description", 2, Str),
    f("unit", 3, Str),
    one("gauge", 5, Msg(&GAUGE)),
    one("sum", 7, Msg(&SUM)),
    one("histogram", 9, Msg(&HISTOGRAM)),
    one("exponentialHistogram", 10, Msg(&EXP_HISTOGRAM)),
    one("summary", 11, Msg(&SUMMARY)),
    rep("metadata", 12, Msg(&KEY_VALUE)),
]}
msg! {GAUGE, [rep("dataPoints", 1, Msg(&NUMBER_DP))]}
msg! {SUM, [
    rep("dataPoints", 1, Msg(&NUMBER_DP)),
    f("aggregationTemporality", 2, Enum),
    f("isMonotonic", 3, Bool),
]}
msg! {HISTOGRAM, [
    rep("dataPoints", 1, Msg(&HISTOGRAM_DP)),
    f("aggregationTemporality", 2, Enum),
]}
msg! {EXP_HISTOGRAM, [
    rep("dataPoints", 1, Msg(&EXP_HISTOGRAM_DP)),
    f("aggregationTemporality", 2, Enum),
]}
msg! {SUMMARY, [rep("dataPoints", 1, Msg(&SUMMARY_DP))]}
msg! {NUMBER_DP, [
    rep("attributes", 7, Msg(&KEY_VALUE)),
    f("startTimeUnixNano", 2, Fixed64),
    f("timeUnixNano", 3, Fixed64),
    one("asDouble", 4, Double),
    one("asInt", 6, SFixed64),
    rep("exemplars", 5, Msg(&EXEMPLAR)),
    f("flags", 8, UInt32),
]}
msg! {HISTOGRAM_DP, [
    rep("attributes", 9, Msg(&KEY_VALUE)),
    f("startTimeUnixNano", 2, Fixed64),
    f("timeUnixNano", 3, Fixed64),
    f("count", 4, Fixed64),
    opt("sum", 5, Double),
    rep("bucketCounts", 6, Fixed64),
    rep("explicitBounds", 7, Double),
    rep("exemplars", 8, Msg(&EXEMPLAR)),
    f("flags", 10, UInt32),
    opt("min", 11, Double),
    opt("max", 12, Double),
]}
msg! {EXP_HISTOGRAM_DP, [
    rep("attributes", 1, Msg(&KEY_VALUE)),
    f("startTimeUnixNano", 2, Fixed64),
    f("timeUnixNano", 3, Fixed64),
    f("count", 4, Fixed64),
    opt("sum", 5, Double),
    f("scale", 6, SInt32),
    f("zeroCount", 7, Fixed64),
    f("positive", 8, Msg(&BUCKETS)),
    f("negative", 9, Msg(&BUCKETS)),
    f("flags", 10, UInt32),
    rep("exemplars", 11, Msg(&EXEMPLAR)),
    opt("min", 12, Double),
    opt("max", 13, Double),
    f("zeroThreshold", 14, Double),
]}
msg! {BUCKETS, [f("offset", 1, SInt32), rep("bucketCounts", 2, UInt64)]}
msg! {SUMMARY_DP, [
    rep("attributes", 7, Msg(&KEY_VALUE)),
    f("startTimeUnixNano", 2, Fixed64),
    f("timeUnixNano", 3, Fixed64),
    f("count", 4, Fixed64),
    f("sum", 5, Double),
    rep("quantileValues", 6, Msg(&QUANTILE)),
    f("flags", 8, UInt32),
]}
msg! {QUANTILE, [f("quantile", 1, Double), f("value", 2, Double)]}
msg! {EXEMPLAR, [
    rep("filteredAttributes", 7, Msg(&KEY_VALUE)),
    f("timeUnixNano", 2, Fixed64),
    one("asDouble", 3, Double),
    one("asInt", 6, SFixed64),
    f("spanId", 4, SPAN_ID),
    f("traceId", 5, TRACE_ID),
]}

// profiles.proto
msg! {PROFILES_REQUEST, [
    rep("resourceProfiles", 1, Msg(&RESOURCE_PROFILES)),
    f("dictionary", 2, Msg(&DICTIONARY)),
]}
msg! {RESOURCE_PROFILES, len_bytes = 2, [
    f("resource", 1, Msg(&RESOURCE)),
    rep("scopeProfiles", 2, Msg(&SCOPE_PROFILES)),
    f("schemaUrl", 3, Str),
]}
msg! {SCOPE_PROFILES, len_bytes = 2, [
    f("scope", 1, Msg(&SCOPE)),
    rep("profiles", 2, Msg(&PROFILE)),
    f("schemaUrl", 3, Str),
]}
msg! {PROFILE, [
    f("sampleType", 1, Msg(&VALUE_TYPE)),
    rep("samples", 2, Msg(&SAMPLE)),
    f("timeUnixNano", 3, Fixed64),
    f("durationNano", 4, UInt64),
    f("periodType", 5, Msg(&VALUE_TYPE)),
    f("period", 6, Int64),
    f("profileId", 7, HexId(16)),
    f("droppedAttributesCount", 8, UInt32),
    f("originalPayloadFormat", 9, Str),
    f("originalPayload", 10, Base64),
    rep("attributeIndices", 11, Int32),
]}
msg! {VALUE_TYPE, [f("typeStrindex", 1, Int32), f("unitStrindex", 2, Int32)]}
msg! {SAMPLE, [
    f("stackIndex", 1, Int32),
    rep("attributeIndices", 2, Int32),
    f("linkIndex", 3, Int32),
    rep("values", 4, Int64),
    rep("timestampsUnixNano", 5, Fixed64),
]}
msg! {DICTIONARY, [
    rep("mappingTable", 1, Msg(&MAPPING)),
    rep("locationTable", 2, Msg(&LOCATION)),
    rep("functionTable", 3, Msg(&FUNCTION)),
    rep("linkTable", 4, Msg(&PROFILE_LINK)),
    rep("stringTable", 5, Str),
    rep("attributeTable", 6, Msg(&KEY_VALUE_AND_UNIT)),
    rep("stackTable", 7, Msg(&STACK)),
]}
msg! {MAPPING, [
    f("memoryStart", 1, UInt64),
    f("memoryLimit", 2, UInt64),
    f("fileOffset", 3, UInt64),
    f("filenameStrindex", 4, Int32),
    rep("attributeIndices", 5, Int32),
]}
msg! {LOCATION, [
    f("mappingIndex", 1, Int32),
    f("address", 2, UInt64),
    rep("lines", 3, Msg(&LINE)),
    rep("attributeIndices", 4, Int32),
]}
msg! {LINE, [
    f("functionIndex", 1, Int32),
    f("line", 2, Int64),
    f("column", 3, Int64),
]}
msg! {FUNCTION, [
    f("nameStrindex", 1, Int32),
    f("systemNameStrindex", 2, Int32),
    f("filenameStrindex", 3, Int32),
    f("startLine", 4, Int64),
]}
msg! {PROFILE_LINK, [f("traceId", 1, TRACE_ID), f("spanId", 2, SPAN_ID)]}
msg! {KEY_VALUE_AND_UNIT, [
    f("keyStrindex", 1, Int32),
    f("value", 2, Msg(&ANY_VALUE)),
    f("unitStrindex", 3, Int32),
]}
msg! {STACK, [rep("locationIndices", 1, Int32)]}
