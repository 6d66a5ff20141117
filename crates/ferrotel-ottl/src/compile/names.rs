//! The names this build knows: converters, metric editors and enums.

/// The converters this build knows.
pub const CONVERTERS: &[&str] = &[
    "IsMatch",
    "Concat",
    "Split",
    "ConvertCase",
    "Int",
    "Double",
    "String",
    "IsString",
    "IsInt",
    "IsDouble",
    "IsBool",
    "IsMap",
    "IsList",
    "Len",
    "ParseJSON",
    "SHA256",
    "SpanID",
    "TraceID",
    "Substring",
    "Time",
    "Duration",
    "UnixNano",
    "Now",
    "TruncateTime",
    "SHA1",
    "SHA512",
    "MD5",
    "FNV",
    "Murmur3Hash",
    "Murmur3Hash128",
    "ToLowerCase",
    "ToUpperCase",
    "ToSnakeCase",
    "ToCamelCase",
    "Base64Decode",
    "Decode",
    "Hex",
    "Bool",
    "Log",
    "HasPrefix",
    "HasSuffix",
    "TrimPrefix",
    "TrimSuffix",
    "ExtractPatterns",
    "URL",
    "Keys",
    "Values",
    "Format",
    "Year",
    "Month",
    "Day",
    "Hour",
    "Minute",
    "Second",
    "Nanosecond",
    "Weekday",
    "UnixSeconds",
    "UnixMilli",
    "UnixMicro",
    "Hours",
    "Minutes",
    "Seconds",
    "Milliseconds",
    "Microseconds",
    "Nanoseconds",
    "Unix",
    "FormatTime",
];

pub(super) fn converter_name(n: &str) -> bool {
    CONVERTERS.contains(&n)
}

/// Metric-only editors (the metric context only).
pub(super) fn metric_editor(n: &str) -> bool {
    matches!(
        n,
        "convert_sum_to_gauge"
            | "convert_gauge_to_sum"
            | "extract_sum_metric"
            | "extract_count_metric"
    )
}
/// Enum names OTTL knows.
pub fn enum_value(name: &str) -> Option<i64> {
    Some(match name {
        "SPAN_KIND_UNSPECIFIED" => 0,
        "SPAN_KIND_INTERNAL" => 1,
        "SPAN_KIND_SERVER" => 2,
        "SPAN_KIND_CLIENT" => 3,
        "SPAN_KIND_PRODUCER" => 4,
        "SPAN_KIND_CONSUMER" => 5,
        "STATUS_CODE_UNSET" => 0,
        "STATUS_CODE_OK" => 1,
        "STATUS_CODE_ERROR" => 2,
        "METRIC_DATA_TYPE_NONE" => 0,
        "METRIC_DATA_TYPE_GAUGE" => 1,
        "METRIC_DATA_TYPE_SUM" => 2,
        "METRIC_DATA_TYPE_HISTOGRAM" => 3,
        "METRIC_DATA_TYPE_EXPONENTIAL_HISTOGRAM" => 4,
        "METRIC_DATA_TYPE_SUMMARY" => 5,
        "AGGREGATION_TEMPORALITY_UNSPECIFIED" => 0,
        "AGGREGATION_TEMPORALITY_DELTA" => 1,
        "AGGREGATION_TEMPORALITY_CUMULATIVE" => 2,
        "FLAG_NONE" => 0,
        "FLAG_NO_RECORDED_VALUE" => 1,
        _ => {
            let rest = name.strip_prefix("SEVERITY_NUMBER_")?;
            let levels = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];
            if rest == "UNSPECIFIED" {
                return Some(0);
            }
            let (base, n) = match rest.find(|c: char| c.is_ascii_digit()) {
                Some(i) => (&rest[..i], rest[i..].parse::<i64>().ok()?),
                None => (rest, 1),
            };
            let idx = levels.iter().position(|l| *l == base)? as i64;
            if !(1..=4).contains(&n) {
                return None;
            }
            idx * 4 + n
        }
    })
}
