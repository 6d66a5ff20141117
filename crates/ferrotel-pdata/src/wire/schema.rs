//! The OTLP message schemas as static tables, for the table-driven validator.
//!
//! Each message lists its known fields by number with their OTLP/JSON name (used in error
//! paths) and what the validator must check. Tables are dense arrays indexed by field number,
//! so a field lookup is one bounds-checked load.

/// How a known field is checked.
#[derive(Clone, Copy)]
pub(crate) enum Kind {
    /// Any varint (int32/int64/uint32/uint64/sint32/bool/enum).
    Varint,
    /// fixed32.
    Fixed32,
    /// fixed64, sfixed64, double.
    Fixed64,
    /// UTF-8 string.
    Str,
    /// Opaque bytes.
    Bytes,
    /// Bytes that must be empty or exactly this long (trace and span ids).
    Id(u8),
    /// A nested message.
    Msg(&'static Msg),
    /// A nested message that is one telemetry item (span, data point, log record, profile).
    Item(&'static Msg),
    /// repeated varint scalar: packed or not.
    PackedVarint,
    /// repeated fixed64/double: packed or not.
    PackedFixed64,
}

/// One known field.
#[derive(Clone, Copy)]
pub(crate) struct Field {
    pub(crate) json: &'static str,
    pub(crate) kind: Kind,
    pub(crate) repeated: bool,
    /// Member of a oneof whose variants hold items (Metric.data): only the last run of one
    /// variant counts, because prost keeps the last variant and merges repeats of it.
    pub(crate) oneof_items: bool,
}

/// One message type.
pub(crate) struct Msg {
    /// Indexed by field number; `None` for unknown numbers.
    pub(crate) fields: &'static [Option<Field>],
    /// This is an AnyValue: entering it spends one level of the AnyValue nesting budget.
    pub(crate) any_value: bool,
}

const fn f(json: &'static str, kind: Kind) -> Field {
    Field {
        json,
        kind,
        repeated: false,
        oneof_items: false,
    }
}

const fn r(json: &'static str, kind: Kind) -> Field {
    Field {
        json,
        kind,
        repeated: true,
        oneof_items: false,
    }
}

const fn o(json: &'static str, kind: Kind) -> Field {
    Field {
        json,
        kind,
        repeated: false,
        oneof_items: true,
    }
}

/// Builds a dense table of `N` slots from `(number, field)` pairs.
const fn dense<const N: usize>(fields: &[(usize, Field)]) -> [Option<Field>; N] {
    let mut out = [None; N];
    let mut i = 0;
    while i < fields.len() {
        out[fields[i].0] = Some(fields[i].1);
        i += 1;
    }
    out
}

macro_rules! msg {
    ($name:ident, $n:literal, any = $any:expr, [$($num:literal => $field:expr),* $(,)?]) => {
        pub(crate) static $name: Msg = Msg {
            fields: {
                static T: [Option<Field>; $n] = dense(&[$(($num, $field)),*]);
                &T
            },
            any_value: $any,
        };
    };
    ($name:ident, $n:literal, [$($num:literal => $field:expr),* $(,)?]) => {
        msg!($name, $n, any = false, [$($num => $field),*]);
    };
}

use Kind::*;

// common.proto
msg!(ANY_VALUE, 9, any = true, [
    1 => f("stringValue", Str),
    2 => f("boolValue", Varint),
    3 => f("intValue", Varint),
    4 => f("doubleValue", Fixed64),
    5 => f("arrayValue", Msg(&ARRAY_VALUE)),
    6 => f("kvlistValue", Msg(&KEY_VALUE_LIST)),
    7 => f("bytesValue", Bytes),
    8 => f("stringValueStrindex", Varint),
]);
msg!(ARRAY_VALUE, 2, [1 => r("values", Msg(&ANY_VALUE))]);
msg!(KEY_VALUE_LIST, 2, [1 => r("values", Msg(&KEY_VALUE))]);
msg!(KEY_VALUE, 4, [
    1 => f("key", Str),
    2 => f("value", Msg(&ANY_VALUE)),
    3 => f("keyStrindex", Varint),
]);
msg!(SCOPE, 5, [
    1 => f("name", Str),
    2 => f("version", Str),
    3 => r("attributes", Msg(&KEY_VALUE)),
    4 => f("droppedAttributesCount", Varint),
]);
msg!(ENTITY_REF, 5, [
    1 => f("schemaUrl", Str),
    2 => f("type", Str),
    3 => r("idKeys", Str),
    4 => r("descriptionKeys", Str),
]);
// resource.proto
msg!(RESOURCE, 4, [
    1 => r("attributes", Msg(&KEY_VALUE)),
    2 => f("droppedAttributesCount", Varint),
    3 => r("entityRefs", Msg(&ENTITY_REF)),
]);

// trace.proto
msg!(TRACES_REQUEST, 2, [1 => r("resourceSpans", Msg(&RESOURCE_SPANS))]);
msg!(RESOURCE_SPANS, 4, [
    1 => f("resource", Msg(&RESOURCE)),
    2 => r("scopeSpans", Msg(&SCOPE_SPANS)),
    3 => f("schemaUrl", Str),
]);
msg!(SCOPE_SPANS, 4, [
    1 => f("scope", Msg(&SCOPE)),
    2 => r("spans", Item(&SPAN)),
    3 => f("schemaUrl", Str),
]);
msg!(SPAN, 17, [
    1 => f("traceId", Id(16)),
    2 => f("spanId", Id(8)),
    3 => f("traceState", Str),
    4 => f("parentSpanId", Id(8)),
    5 => f("name", Str),
    6 => f("kind", Varint),
    7 => f("startTimeUnixNano", Fixed64),
    8 => f("endTimeUnixNano", Fixed64),
    9 => r("attributes", Msg(&KEY_VALUE)),
    10 => f("droppedAttributesCount", Varint),
    11 => r("events", Msg(&SPAN_EVENT)),
    12 => f("droppedEventsCount", Varint),
    13 => r("links", Msg(&SPAN_LINK)),
    14 => f("droppedLinksCount", Varint),
    15 => f("status", Msg(&STATUS)),
    16 => f("flags", Fixed32),
]);
msg!(SPAN_EVENT, 5, [
    1 => f("timeUnixNano", Fixed64),
    2 => f("name", Str),
    3 => r("attributes", Msg(&KEY_VALUE)),
    4 => f("droppedAttributesCount", Varint),
]);
msg!(SPAN_LINK, 7, [
    1 => f("traceId", Id(16)),
    2 => f("spanId", Id(8)),
    3 => f("traceState", Str),
    4 => r("attributes", Msg(&KEY_VALUE)),
    5 => f("droppedAttributesCount", Varint),
    6 => f("flags", Fixed32),
]);
msg!(STATUS, 4, [2 => f("message", Str), 3 => f("code", Varint)]);

// logs.proto
msg!(LOGS_REQUEST, 2, [1 => r("resourceLogs", Msg(&RESOURCE_LOGS))]);
msg!(RESOURCE_LOGS, 4, [
    1 => f("resource", Msg(&RESOURCE)),
    2 => r("scopeLogs", Msg(&SCOPE_LOGS)),
    3 => f("schemaUrl", Str),
]);
msg!(SCOPE_LOGS, 4, [
    1 => f("scope", Msg(&SCOPE)),
    2 => r("logRecords", Item(&LOG_RECORD)),
    3 => f("schemaUrl", Str),
]);
msg!(LOG_RECORD, 13, [
    1 => f("timeUnixNano", Fixed64),
    2 => f("severityNumber", Varint),
    3 => f("severityText", Str),
    5 => f("body", Msg(&ANY_VALUE)),
    6 => r("attributes", Msg(&KEY_VALUE)),
    7 => f("droppedAttributesCount", Varint),
    8 => f("flags", Fixed32),
    9 => f("traceId", Id(16)),
    10 => f("spanId", Id(8)),
    11 => f("observedTimeUnixNano", Fixed64),
    12 => f("eventName", Str),
]);

// metrics.proto
msg!(METRICS_REQUEST, 2, [1 => r("resourceMetrics", Msg(&RESOURCE_METRICS))]);
msg!(RESOURCE_METRICS, 4, [
    1 => f("resource", Msg(&RESOURCE)),
    2 => r("scopeMetrics", Msg(&SCOPE_METRICS)),
    3 => f("schemaUrl", Str),
]);
msg!(SCOPE_METRICS, 4, [
    1 => f("scope", Msg(&SCOPE)),
    2 => r("metrics", Msg(&METRIC)),
    3 => f("schemaUrl", Str),
]);
msg!(METRIC, 13, [
    1 => f("name", Str),
    2 => f("description", Str),
    3 => f("unit", Str),
    5 => o("gauge", Msg(&GAUGE)),
    7 => o("sum", Msg(&SUM)),
    9 => o("histogram", Msg(&HISTOGRAM)),
    10 => o("exponentialHistogram", Msg(&EXP_HISTOGRAM)),
    11 => o("summary", Msg(&SUMMARY)),
    12 => r("metadata", Msg(&KEY_VALUE)),
]);
msg!(GAUGE, 2, [1 => r("dataPoints", Item(&NUMBER_DP))]);
msg!(SUM, 4, [
    1 => r("dataPoints", Item(&NUMBER_DP)),
    2 => f("aggregationTemporality", Varint),
    3 => f("isMonotonic", Varint),
]);
msg!(HISTOGRAM, 3, [
    1 => r("dataPoints", Item(&HISTOGRAM_DP)),
    2 => f("aggregationTemporality", Varint),
]);
msg!(EXP_HISTOGRAM, 3, [
    1 => r("dataPoints", Item(&EXP_HISTOGRAM_DP)),
    2 => f("aggregationTemporality", Varint),
]);
msg!(SUMMARY, 2, [1 => r("dataPoints", Item(&SUMMARY_DP))]);
msg!(NUMBER_DP, 9, [
    2 => f("startTimeUnixNano", Fixed64),
    3 => f("timeUnixNano", Fixed64),
    4 => f("asDouble", Fixed64),
    5 => r("exemplars", Msg(&EXEMPLAR)),
    6 => f("asInt", Fixed64),
    7 => r("attributes", Msg(&KEY_VALUE)),
    8 => f("flags", Varint),
]);
msg!(HISTOGRAM_DP, 13, [
    2 => f("startTimeUnixNano", Fixed64),
    3 => f("timeUnixNano", Fixed64),
    4 => f("count", Fixed64),
    5 => f("sum", Fixed64),
    6 => r("bucketCounts", PackedFixed64),
    7 => r("explicitBounds", PackedFixed64),
    8 => r("exemplars", Msg(&EXEMPLAR)),
    9 => r("attributes", Msg(&KEY_VALUE)),
    10 => f("flags", Varint),
    11 => f("min", Fixed64),
    12 => f("max", Fixed64),
]);
msg!(EXP_HISTOGRAM_DP, 15, [
    1 => r("attributes", Msg(&KEY_VALUE)),
    2 => f("startTimeUnixNano", Fixed64),
    3 => f("timeUnixNano", Fixed64),
    4 => f("count", Fixed64),
    5 => f("sum", Fixed64),
    6 => f("scale", Varint),
    7 => f("zeroCount", Fixed64),
    8 => f("positive", Msg(&BUCKETS)),
    9 => f("negative", Msg(&BUCKETS)),
    10 => f("flags", Varint),
    11 => r("exemplars", Msg(&EXEMPLAR)),
    12 => f("min", Fixed64),
    13 => f("max", Fixed64),
    14 => f("zeroThreshold", Fixed64),
]);
msg!(BUCKETS, 3, [
    1 => f("offset", Varint),
    2 => r("bucketCounts", PackedVarint),
]);
msg!(SUMMARY_DP, 9, [
    2 => f("startTimeUnixNano", Fixed64),
    3 => f("timeUnixNano", Fixed64),
    4 => f("count", Fixed64),
    5 => f("sum", Fixed64),
    6 => r("quantileValues", Msg(&QUANTILE)),
    7 => r("attributes", Msg(&KEY_VALUE)),
    8 => f("flags", Varint),
]);
msg!(QUANTILE, 3, [1 => f("quantile", Fixed64), 2 => f("value", Fixed64)]);
msg!(EXEMPLAR, 8, [
    2 => f("timeUnixNano", Fixed64),
    3 => f("asDouble", Fixed64),
    4 => f("spanId", Id(8)),
    5 => f("traceId", Id(16)),
    6 => f("asInt", Fixed64),
    7 => r("filteredAttributes", Msg(&KEY_VALUE)),
]);

// profiles.proto
msg!(PROFILES_REQUEST, 3, [
    1 => r("resourceProfiles", Msg(&RESOURCE_PROFILES)),
    2 => f("dictionary", Msg(&DICTIONARY)),
]);
msg!(DICTIONARY, 8, [
    1 => r("mappingTable", Msg(&MAPPING)),
    2 => r("locationTable", Msg(&LOCATION)),
    3 => r("functionTable", Msg(&FUNCTION)),
    4 => r("linkTable", Msg(&PROFILE_LINK)),
    5 => r("stringTable", Str),
    6 => r("attributeTable", Msg(&KEY_VALUE_AND_UNIT)),
    7 => r("stackTable", Msg(&STACK)),
]);
msg!(RESOURCE_PROFILES, 4, [
    1 => f("resource", Msg(&RESOURCE)),
    2 => r("scopeProfiles", Msg(&SCOPE_PROFILES)),
    3 => f("schemaUrl", Str),
]);
msg!(SCOPE_PROFILES, 4, [
    1 => f("scope", Msg(&SCOPE)),
    2 => r("profiles", Item(&PROFILE)),
    3 => f("schemaUrl", Str),
]);
msg!(PROFILE, 12, [
    1 => f("sampleType", Msg(&VALUE_TYPE)),
    2 => r("samples", Msg(&SAMPLE)),
    3 => f("timeUnixNano", Fixed64),
    4 => f("durationNano", Varint),
    5 => f("periodType", Msg(&VALUE_TYPE)),
    6 => f("period", Varint),
    7 => f("profileId", Bytes),
    8 => f("droppedAttributesCount", Varint),
    9 => f("originalPayloadFormat", Str),
    10 => f("originalPayload", Bytes),
    11 => r("attributeIndices", PackedVarint),
]);
msg!(PROFILE_LINK, 3, [1 => f("traceId", Id(16)), 2 => f("spanId", Id(8))]);
msg!(VALUE_TYPE, 3, [1 => f("typeStrindex", Varint), 2 => f("unitStrindex", Varint)]);
msg!(SAMPLE, 6, [
    1 => f("stackIndex", Varint),
    2 => r("attributeIndices", PackedVarint),
    3 => f("linkIndex", Varint),
    4 => r("values", PackedVarint),
    5 => r("timestampsUnixNano", PackedFixed64),
]);
msg!(MAPPING, 6, [
    1 => f("memoryStart", Varint),
    2 => f("memoryLimit", Varint),
    3 => f("fileOffset", Varint),
    4 => f("filenameStrindex", Varint),
    5 => r("attributeIndices", PackedVarint),
]);
msg!(STACK, 2, [1 => r("locationIndices", PackedVarint)]);
msg!(LOCATION, 5, [
    1 => f("mappingIndex", Varint),
    2 => f("address", Varint),
    3 => r("lines", Msg(&LINE)),
    4 => r("attributeIndices", PackedVarint),
]);
msg!(LINE, 4, [
    1 => f("functionIndex", Varint),
    2 => f("line", Varint),
    3 => f("column", Varint),
]);
msg!(FUNCTION, 5, [
    1 => f("nameStrindex", Varint),
    2 => f("systemNameStrindex", Varint),
    3 => f("filenameStrindex", Varint),
    4 => f("startLine", Varint),
]);
msg!(KEY_VALUE_AND_UNIT, 4, [
    1 => f("keyStrindex", Varint),
    2 => f("value", Msg(&ANY_VALUE)),
    3 => f("unitStrindex", Varint),
]);
