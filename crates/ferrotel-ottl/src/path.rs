//! Path resolution: which field of which context a path's parts name.

use crate::context::Ctx;

/// A field of some context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Attributes,
    DroppedAttributesCount,
    Name,
    Version,
    TraceId,
    TraceIdString,
    SpanId,
    SpanIdString,
    ParentSpanId,
    TraceState,
    Kind,
    StartTimeUnixNano,
    EndTimeUnixNano,
    StartTime,
    EndTime,
    TimeUnixNano,
    ObservedTimeUnixNano,
    Time,
    ObservedTime,
    StatusCode,
    StatusMessage,
    Flags,
    SeverityNumber,
    SeverityText,
    Body,
    EventName,
    Description,
    Unit,
    Type,
    AggregationTemporality,
    IsMonotonic,
    ValueDouble,
    ValueInt,
    Count,
    Sum,
    Cache,
    SchemaUrl,
    KindString,
    KindDeprecatedString,
    ParentSpanIdString,
    DroppedEventsCount,
    DroppedLinksCount,
    BodyString,
    Scale,
    ZeroCount,
    BucketCounts,
    ExplicitBounds,
    PositiveOffset,
    PositiveBucketCounts,
    NegativeOffset,
    NegativeBucketCounts,
}

fn field_of(ctx: Ctx, parts: &[String]) -> Option<Field> {
    use Field::*;
    let p: Vec<&str> = parts.iter().map(String::as_str).collect();
    Some(match (ctx, p.as_slice()) {
        (_, ["attributes"]) => Attributes,
        (_, ["dropped_attributes_count"]) => DroppedAttributesCount,
        (Ctx::Scope | Ctx::Span | Ctx::SpanEvent | Ctx::Metric, ["name"]) => Name,
        (Ctx::Scope, ["version"]) => Version,
        (Ctx::Span | Ctx::Log, ["trace_id"]) => TraceId,
        (Ctx::Span | Ctx::Log, ["trace_id", "string"]) => TraceIdString,
        (Ctx::Span | Ctx::Log, ["span_id"]) => SpanId,
        (Ctx::Span | Ctx::Log, ["span_id", "string"]) => SpanIdString,
        (Ctx::Span, ["parent_span_id"]) => ParentSpanId,
        (Ctx::Span, ["trace_state"]) => TraceState,
        (Ctx::Span, ["kind"]) => Kind,
        (Ctx::Span | Ctx::DataPoint, ["start_time_unix_nano"]) => StartTimeUnixNano,
        (Ctx::Span, ["end_time_unix_nano"]) => EndTimeUnixNano,
        (Ctx::Span | Ctx::DataPoint, ["start_time"]) => StartTime,
        (Ctx::Span, ["end_time"]) => EndTime,
        (Ctx::SpanEvent | Ctx::Log | Ctx::DataPoint, ["time_unix_nano"]) => TimeUnixNano,
        (Ctx::Log, ["observed_time_unix_nano"]) => ObservedTimeUnixNano,
        (Ctx::SpanEvent | Ctx::Log | Ctx::DataPoint, ["time"]) => Time,
        (Ctx::Log, ["observed_time"]) => ObservedTime,
        (Ctx::Span, ["status", "code"]) => StatusCode,
        (Ctx::Span, ["status", "message"]) => StatusMessage,
        (Ctx::Span | Ctx::Log | Ctx::DataPoint, ["flags"]) => Flags,
        (Ctx::Log, ["severity_number"]) => SeverityNumber,
        (Ctx::Log, ["severity_text"]) => SeverityText,
        (Ctx::Log, ["body"]) => Body,
        (Ctx::Log, ["event_name"]) => EventName,
        (Ctx::Metric, ["description"]) => Description,
        (Ctx::Metric, ["unit"]) => Unit,
        (Ctx::Metric, ["type"]) => Type,
        (Ctx::Metric, ["aggregation_temporality"]) => AggregationTemporality,
        (Ctx::Metric, ["is_monotonic"]) => IsMonotonic,
        (Ctx::DataPoint, ["value_double"]) => ValueDouble,
        (Ctx::DataPoint, ["value_int"]) => ValueInt,
        (Ctx::DataPoint, ["count"]) => Count,
        (Ctx::DataPoint, ["sum"]) => Sum,
        (Ctx::Resource | Ctx::Scope, ["schema_url"]) => SchemaUrl,
        (Ctx::Span, ["kind", "string"]) => KindString,
        (Ctx::Span, ["kind", "deprecated_string"]) => KindDeprecatedString,
        (Ctx::Span, ["parent_span_id", "string"]) => ParentSpanIdString,
        (Ctx::Span, ["dropped_events_count"]) => DroppedEventsCount,
        (Ctx::Span, ["dropped_links_count"]) => DroppedLinksCount,
        (Ctx::Log, ["body", "string"]) => BodyString,
        (Ctx::DataPoint, ["scale"]) => Scale,
        (Ctx::DataPoint, ["zero_count"]) => ZeroCount,
        (Ctx::DataPoint, ["bucket_counts"]) => BucketCounts,
        (Ctx::DataPoint, ["explicit_bounds"]) => ExplicitBounds,
        (Ctx::DataPoint, ["positive", "offset"]) => PositiveOffset,
        (Ctx::DataPoint, ["positive", "bucket_counts"]) => PositiveBucketCounts,
        (Ctx::DataPoint, ["negative", "offset"]) => NegativeOffset,
        (Ctx::DataPoint, ["negative", "bucket_counts"]) => NegativeBucketCounts,
        _ => return None,
    })
}

/// Resolves path parts in statement context `stmt`. Errors are messages without position.
pub fn resolve(stmt: Ctx, parts: &[String]) -> Result<(Ctx, Field), String> {
    let full = parts.join(".");
    if parts[0] == "cache" && parts.len() == 1 {
        return Ok((stmt, Field::Cache));
    }
    let (ctx, rest) = match Ctx::parse(&parts[0]) {
        Some(c) if parts.len() > 1 => (c, &parts[1..]),
        _ => (stmt, parts),
    };
    if !stmt.can_see(ctx) {
        return Err(format!(
            "path \"{full}\" is not available in the {} context",
            stmt.as_str()
        ));
    }
    if rest.len() == 1 && rest[0] == "cache" {
        return Ok((ctx, Field::Cache));
    }
    field_of(ctx, rest)
        .map(|f| (ctx, f))
        .ok_or_else(|| format!("unknown path \"{full}\" in the {} context", ctx.as_str()))
}
