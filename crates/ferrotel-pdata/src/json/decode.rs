//! OTLP/JSON → prost structs, one function per message, driven by [`Reader`].
//!
//! Keys are matched in lowerCamelCase only. The OTLP specification says: "Original field
//! names are not valid to use as keys for JSON objects" — unlike plain protobuf JSON, whose
//! parsers also accept `snake_case`. A `snake_case` key is therefore an unknown field, and
//! the specification requires unknown fields to be ignored, so it is skipped like any other.

use crate::proto::collector::logs::v1::ExportLogsServiceRequest;
use crate::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use crate::proto::collector::profiles::v1development::ExportProfilesServiceRequest;
use crate::proto::collector::trace::v1::ExportTraceServiceRequest;
use crate::proto::common::v1::{
    AnyValue, ArrayValue, EntityRef, InstrumentationScope, KeyValue, KeyValueList, any_value,
};
use crate::proto::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use crate::proto::metrics::v1::{
    Exemplar, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram,
    HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, Summary,
    SummaryDataPoint, exemplar, exponential_histogram_data_point::Buckets, metric,
    number_data_point, summary_data_point::ValueAtQuantile,
};
use crate::proto::profiles::v1development as prof;
use crate::proto::resource::v1::Resource;
use crate::proto::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};

use super::MAX_ANY_VALUE_DEPTH;
use super::read::{Reader, Res};

const TRACE_ID: usize = 16;
const SPAN_ID: usize = 8;
const PROFILE_ID: usize = 16;

/// Decodes one message: `$msg` starts at default, each listed key's value is decoded by its
/// expression (with `r` the reader and `m` the message), anything else is skipped.
macro_rules! message {
    ($r:expr, $ty:ty, |$rr:ident, $m:ident| { $($key:literal => $e:expr,)* }) => {{
        let mut $m = <$ty>::default();
        $r.object(|$rr, key| {
            match key {
                $($key => $e,)*
                _ => $rr.skip()?,
            }
            Ok(())
        })?;
        let done: Res<$ty> = Ok($m);
        done
    }};
}

// ---- requests ------------------------------------------------------------------------------

pub(crate) fn traces(r: &mut Reader) -> Res<ExportTraceServiceRequest> {
    message!(r, ExportTraceServiceRequest, |r, m| {
        "resourceSpans" => m.resource_spans = r.vec(resource_spans)?,
    })
}

pub(crate) fn metrics(r: &mut Reader) -> Res<ExportMetricsServiceRequest> {
    message!(r, ExportMetricsServiceRequest, |r, m| {
        "resourceMetrics" => m.resource_metrics = r.vec(resource_metrics)?,
    })
}

pub(crate) fn logs(r: &mut Reader) -> Res<ExportLogsServiceRequest> {
    message!(r, ExportLogsServiceRequest, |r, m| {
        "resourceLogs" => m.resource_logs = r.vec(resource_logs)?,
    })
}

pub(crate) fn profiles(r: &mut Reader) -> Res<ExportProfilesServiceRequest> {
    message!(r, ExportProfilesServiceRequest, |r, m| {
        "resourceProfiles" => m.resource_profiles = r.vec(resource_profiles)?,
        "dictionary" => m.dictionary = Some(dictionary(r)?),
    })
}

/// `(rejected, errorMessage)` of an `Export*ServiceResponse`; `rejected_key` is the
/// signal's `rejectedSpans`, `rejectedDataPoints`, ...
pub(crate) fn export_response(r: &mut Reader, rejected_key: &str) -> Res<(i64, String)> {
    let mut out = (0, String::new());
    r.object(|r, key| {
        if key == "partialSuccess" {
            r.object(|r, key| {
                if key == rejected_key {
                    out.0 = r.int()?;
                } else if key == "errorMessage" {
                    out.1 = r.owned_string()?;
                } else {
                    r.skip()?;
                }
                Ok(())
            })
        } else {
            r.skip()
        }
    })?;
    Ok(out)
}

// ---- common --------------------------------------------------------------------------------

fn resource(r: &mut Reader) -> Res<Resource> {
    message!(r, Resource, |r, m| {
        "attributes" => m.attributes = attributes(r)?,
        "droppedAttributesCount" => m.dropped_attributes_count = r.int()?,
        "entityRefs" => m.entity_refs = r.vec(entity_ref)?,
    })
}

fn entity_ref(r: &mut Reader) -> Res<EntityRef> {
    message!(r, EntityRef, |r, m| {
        "schemaUrl" => m.schema_url = r.owned_string()?,
        "type" => m.r#type = r.owned_string()?,
        "idKeys" => m.id_keys = r.vec(Reader::owned_string)?,
        "descriptionKeys" => m.description_keys = r.vec(Reader::owned_string)?,
    })
}

fn scope(r: &mut Reader) -> Res<InstrumentationScope> {
    message!(r, InstrumentationScope, |r, m| {
        "name" => m.name = r.owned_string()?,
        "version" => m.version = r.owned_string()?,
        "attributes" => m.attributes = attributes(r)?,
        "droppedAttributesCount" => m.dropped_attributes_count = r.int()?,
    })
}

fn attributes(r: &mut Reader) -> Res<Vec<KeyValue>> {
    r.vec(|r| key_value(r, 1))
}

/// `depth` is the nesting depth of the AnyValue this KeyValue holds (1 for attributes).
fn key_value(r: &mut Reader, depth: usize) -> Res<KeyValue> {
    message!(r, KeyValue, |r, m| {
        "key" => m.key = r.owned_string()?,
        "value" => m.value = Some(any_value(r, depth)?),
        "keyStrindex" => m.key_strindex = r.int()?,
    })
}

/// An AnyValue at nesting `depth` (1 = outermost). Depth is bounded so hostile input cannot
/// exhaust the stack, here or in whatever later decodes the protobuf form of this data.
fn any_value(r: &mut Reader, depth: usize) -> Res<AnyValue> {
    if depth > MAX_ANY_VALUE_DEPTH {
        return Err(r.err(format!(
            "AnyValue nesting exceeds the maximum depth of {MAX_ANY_VALUE_DEPTH}"
        )));
    }
    use any_value::Value;
    message!(r, AnyValue, |r, m| {
        "stringValue" => m.value = Some(Value::StringValue(r.owned_string()?)),
        "boolValue" => m.value = Some(Value::BoolValue(r.bool()?)),
        "intValue" => m.value = Some(Value::IntValue(r.int()?)),
        "doubleValue" => m.value = Some(Value::DoubleValue(r.f64()?)),
        "bytesValue" => m.value = Some(Value::BytesValue(r.base64()?)),
        "arrayValue" => m.value = Some(Value::ArrayValue(message!(r, ArrayValue, |r, a| {
            "values" => a.values = r.vec(|r| any_value(r, depth + 1))?,
        })?)),
        "kvlistValue" => m.value = Some(Value::KvlistValue(message!(r, KeyValueList, |r, l| {
            "values" => l.values = r.vec(|r| key_value(r, depth + 1))?,
        })?)),
        "stringValueStrindex" => m.value = Some(Value::StringValueStrindex(r.int()?)),
    })
}

// ---- traces --------------------------------------------------------------------------------

fn resource_spans(r: &mut Reader) -> Res<ResourceSpans> {
    message!(r, ResourceSpans, |r, m| {
        "resource" => m.resource = Some(resource(r)?),
        "scopeSpans" => m.scope_spans = r.vec(scope_spans)?,
        "schemaUrl" => m.schema_url = r.owned_string()?,
    })
}

fn scope_spans(r: &mut Reader) -> Res<ScopeSpans> {
    message!(r, ScopeSpans, |r, m| {
        "scope" => m.scope = Some(scope(r)?),
        "spans" => m.spans = r.vec(span)?,
        "schemaUrl" => m.schema_url = r.owned_string()?,
    })
}

fn span(r: &mut Reader) -> Res<Span> {
    message!(r, Span, |r, m| {
        "traceId" => m.trace_id = r.hex_id(TRACE_ID)?,
        "spanId" => m.span_id = r.hex_id(SPAN_ID)?,
        "traceState" => m.trace_state = r.owned_string()?,
        "parentSpanId" => m.parent_span_id = r.hex_id(SPAN_ID)?,
        "flags" => m.flags = r.int()?,
        "name" => m.name = r.owned_string()?,
        "kind" => m.kind = r.enumeration()?,
        "startTimeUnixNano" => m.start_time_unix_nano = r.int()?,
        "endTimeUnixNano" => m.end_time_unix_nano = r.int()?,
        "attributes" => m.attributes = attributes(r)?,
        "droppedAttributesCount" => m.dropped_attributes_count = r.int()?,
        "events" => m.events = r.vec(event)?,
        "droppedEventsCount" => m.dropped_events_count = r.int()?,
        "links" => m.links = r.vec(link)?,
        "droppedLinksCount" => m.dropped_links_count = r.int()?,
        "status" => m.status = Some(status(r)?),
    })
}

fn event(r: &mut Reader) -> Res<span::Event> {
    message!(r, span::Event, |r, m| {
        "timeUnixNano" => m.time_unix_nano = r.int()?,
        "name" => m.name = r.owned_string()?,
        "attributes" => m.attributes = attributes(r)?,
        "droppedAttributesCount" => m.dropped_attributes_count = r.int()?,
    })
}

fn link(r: &mut Reader) -> Res<span::Link> {
    message!(r, span::Link, |r, m| {
        "traceId" => m.trace_id = r.hex_id(TRACE_ID)?,
        "spanId" => m.span_id = r.hex_id(SPAN_ID)?,
        "traceState" => m.trace_state = r.owned_string()?,
        "attributes" => m.attributes = attributes(r)?,
        "droppedAttributesCount" => m.dropped_attributes_count = r.int()?,
        "flags" => m.flags = r.int()?,
    })
}

fn status(r: &mut Reader) -> Res<Status> {
    message!(r, Status, |r, m| {
        "message" => m.message = r.owned_string()?,
        "code" => m.code = r.enumeration()?,
    })
}

// ---- metrics -------------------------------------------------------------------------------

fn resource_metrics(r: &mut Reader) -> Res<ResourceMetrics> {
    message!(r, ResourceMetrics, |r, m| {
        "resource" => m.resource = Some(resource(r)?),
        "scopeMetrics" => m.scope_metrics = r.vec(scope_metrics)?,
        "schemaUrl" => m.schema_url = r.owned_string()?,
    })
}

fn scope_metrics(r: &mut Reader) -> Res<ScopeMetrics> {
    message!(r, ScopeMetrics, |r, m| {
        "scope" => m.scope = Some(scope(r)?),
        "metrics" => m.metrics = r.vec(metric)?,
        "schemaUrl" => m.schema_url = r.owned_string()?,
    })
}

fn metric(r: &mut Reader) -> Res<Metric> {
    use metric::Data;
    message!(r, Metric, |r, m| {
        "name" => m.name = r.owned_string()?,
        "description" => m.description = r.owned_string()?,
        "unit" => m.unit = r.owned_string()?,
        "metadata" => m.metadata = attributes(r)?,
        "gauge" => m.data = Some(Data::Gauge(message!(r, Gauge, |r, g| {
            "dataPoints" => g.data_points = r.vec(number_point)?,
        })?)),
        "sum" => m.data = Some(Data::Sum(message!(r, Sum, |r, s| {
            "dataPoints" => s.data_points = r.vec(number_point)?,
            "aggregationTemporality" => s.aggregation_temporality = r.enumeration()?,
            "isMonotonic" => s.is_monotonic = r.bool()?,
        })?)),
        "histogram" => m.data = Some(Data::Histogram(message!(r, Histogram, |r, h| {
            "dataPoints" => h.data_points = r.vec(histogram_point)?,
            "aggregationTemporality" => h.aggregation_temporality = r.enumeration()?,
        })?)),
        "exponentialHistogram" => m.data = Some(Data::ExponentialHistogram(
            message!(r, ExponentialHistogram, |r, h| {
                "dataPoints" => h.data_points = r.vec(exp_histogram_point)?,
                "aggregationTemporality" => h.aggregation_temporality = r.enumeration()?,
            })?,
        )),
        "summary" => m.data = Some(Data::Summary(message!(r, Summary, |r, s| {
            "dataPoints" => s.data_points = r.vec(summary_point)?,
        })?)),
    })
}

fn number_point(r: &mut Reader) -> Res<NumberDataPoint> {
    use number_data_point::Value;
    message!(r, NumberDataPoint, |r, m| {
        "attributes" => m.attributes = attributes(r)?,
        "startTimeUnixNano" => m.start_time_unix_nano = r.int()?,
        "timeUnixNano" => m.time_unix_nano = r.int()?,
        "asDouble" => m.value = Some(Value::AsDouble(r.f64()?)),
        "asInt" => m.value = Some(Value::AsInt(r.int()?)),
        "exemplars" => m.exemplars = r.vec(exemplar)?,
        "flags" => m.flags = r.int()?,
    })
}

fn histogram_point(r: &mut Reader) -> Res<HistogramDataPoint> {
    message!(r, HistogramDataPoint, |r, m| {
        "attributes" => m.attributes = attributes(r)?,
        "startTimeUnixNano" => m.start_time_unix_nano = r.int()?,
        "timeUnixNano" => m.time_unix_nano = r.int()?,
        "count" => m.count = r.int()?,
        "sum" => m.sum = Some(r.f64()?),
        "bucketCounts" => m.bucket_counts = r.vec(Reader::int)?,
        "explicitBounds" => m.explicit_bounds = r.vec(Reader::f64)?,
        "exemplars" => m.exemplars = r.vec(exemplar)?,
        "flags" => m.flags = r.int()?,
        "min" => m.min = Some(r.f64()?),
        "max" => m.max = Some(r.f64()?),
    })
}

fn exp_histogram_point(r: &mut Reader) -> Res<ExponentialHistogramDataPoint> {
    message!(r, ExponentialHistogramDataPoint, |r, m| {
        "attributes" => m.attributes = attributes(r)?,
        "startTimeUnixNano" => m.start_time_unix_nano = r.int()?,
        "timeUnixNano" => m.time_unix_nano = r.int()?,
        "count" => m.count = r.int()?,
        "sum" => m.sum = Some(r.f64()?),
        "scale" => m.scale = r.int()?,
        "zeroCount" => m.zero_count = r.int()?,
        "positive" => m.positive = Some(buckets(r)?),
        "negative" => m.negative = Some(buckets(r)?),
        "flags" => m.flags = r.int()?,
        "exemplars" => m.exemplars = r.vec(exemplar)?,
        "min" => m.min = Some(r.f64()?),
        "max" => m.max = Some(r.f64()?),
        "zeroThreshold" => m.zero_threshold = r.f64()?,
    })
}

fn buckets(r: &mut Reader) -> Res<Buckets> {
    message!(r, Buckets, |r, m| {
        "offset" => m.offset = r.int()?,
        "bucketCounts" => m.bucket_counts = r.vec(Reader::int)?,
    })
}

fn summary_point(r: &mut Reader) -> Res<SummaryDataPoint> {
    message!(r, SummaryDataPoint, |r, m| {
        "attributes" => m.attributes = attributes(r)?,
        "startTimeUnixNano" => m.start_time_unix_nano = r.int()?,
        "timeUnixNano" => m.time_unix_nano = r.int()?,
        "count" => m.count = r.int()?,
        "sum" => m.sum = r.f64()?,
        "quantileValues" => m.quantile_values = r.vec(|r| message!(r, ValueAtQuantile, |r, q| {
            "quantile" => q.quantile = r.f64()?,
            "value" => q.value = r.f64()?,
        }))?,
        "flags" => m.flags = r.int()?,
    })
}

fn exemplar(r: &mut Reader) -> Res<Exemplar> {
    use exemplar::Value;
    message!(r, Exemplar, |r, m| {
        "filteredAttributes" => m.filtered_attributes = attributes(r)?,
        "timeUnixNano" => m.time_unix_nano = r.int()?,
        "asDouble" => m.value = Some(Value::AsDouble(r.f64()?)),
        "asInt" => m.value = Some(Value::AsInt(r.int()?)),
        "spanId" => m.span_id = r.hex_id(SPAN_ID)?,
        "traceId" => m.trace_id = r.hex_id(TRACE_ID)?,
    })
}

// ---- logs ----------------------------------------------------------------------------------

fn resource_logs(r: &mut Reader) -> Res<ResourceLogs> {
    message!(r, ResourceLogs, |r, m| {
        "resource" => m.resource = Some(resource(r)?),
        "scopeLogs" => m.scope_logs = r.vec(scope_logs)?,
        "schemaUrl" => m.schema_url = r.owned_string()?,
    })
}

fn scope_logs(r: &mut Reader) -> Res<ScopeLogs> {
    message!(r, ScopeLogs, |r, m| {
        "scope" => m.scope = Some(scope(r)?),
        "logRecords" => m.log_records = r.vec(log_record)?,
        "schemaUrl" => m.schema_url = r.owned_string()?,
    })
}

fn log_record(r: &mut Reader) -> Res<LogRecord> {
    message!(r, LogRecord, |r, m| {
        "timeUnixNano" => m.time_unix_nano = r.int()?,
        "observedTimeUnixNano" => m.observed_time_unix_nano = r.int()?,
        "severityNumber" => m.severity_number = r.enumeration()?,
        "severityText" => m.severity_text = r.owned_string()?,
        "body" => m.body = Some(any_value(r, 1)?),
        "attributes" => m.attributes = attributes(r)?,
        "droppedAttributesCount" => m.dropped_attributes_count = r.int()?,
        "flags" => m.flags = r.int()?,
        "traceId" => m.trace_id = r.hex_id(TRACE_ID)?,
        "spanId" => m.span_id = r.hex_id(SPAN_ID)?,
        "eventName" => m.event_name = r.owned_string()?,
    })
}

// ---- profiles ------------------------------------------------------------------------------

fn resource_profiles(r: &mut Reader) -> Res<prof::ResourceProfiles> {
    message!(r, prof::ResourceProfiles, |r, m| {
        "resource" => m.resource = Some(resource(r)?),
        "scopeProfiles" => m.scope_profiles = r.vec(scope_profiles)?,
        "schemaUrl" => m.schema_url = r.owned_string()?,
    })
}

fn scope_profiles(r: &mut Reader) -> Res<prof::ScopeProfiles> {
    message!(r, prof::ScopeProfiles, |r, m| {
        "scope" => m.scope = Some(scope(r)?),
        "profiles" => m.profiles = r.vec(profile)?,
        "schemaUrl" => m.schema_url = r.owned_string()?,
    })
}

fn profile(r: &mut Reader) -> Res<prof::Profile> {
    message!(r, prof::Profile, |r, m| {
        "sampleType" => m.sample_type = Some(value_type(r)?),
        "samples" => m.samples = r.vec(sample)?,
        "timeUnixNano" => m.time_unix_nano = r.int()?,
        "durationNano" => m.duration_nano = r.int()?,
        "periodType" => m.period_type = Some(value_type(r)?),
        "period" => m.period = r.int()?,
        "profileId" => m.profile_id = r.hex_id(PROFILE_ID)?,
        "droppedAttributesCount" => m.dropped_attributes_count = r.int()?,
        "originalPayloadFormat" => m.original_payload_format = r.owned_string()?,
        "originalPayload" => m.original_payload = r.base64()?,
        "attributeIndices" => m.attribute_indices = r.vec(Reader::int)?,
    })
}

fn value_type(r: &mut Reader) -> Res<prof::ValueType> {
    message!(r, prof::ValueType, |r, m| {
        "typeStrindex" => m.type_strindex = r.int()?,
        "unitStrindex" => m.unit_strindex = r.int()?,
    })
}

fn sample(r: &mut Reader) -> Res<prof::Sample> {
    message!(r, prof::Sample, |r, m| {
        "stackIndex" => m.stack_index = r.int()?,
        "attributeIndices" => m.attribute_indices = r.vec(Reader::int)?,
        "linkIndex" => m.link_index = r.int()?,
        "values" => m.values = r.vec(Reader::int)?,
        "timestampsUnixNano" => m.timestamps_unix_nano = r.vec(Reader::int)?,
    })
}

fn dictionary(r: &mut Reader) -> Res<prof::ProfilesDictionary> {
    message!(r, prof::ProfilesDictionary, |r, m| {
        "mappingTable" => m.mapping_table = r.vec(mapping)?,
        "locationTable" => m.location_table = r.vec(location)?,
        "functionTable" => m.function_table = r.vec(function)?,
        "linkTable" => m.link_table = r.vec(profile_link)?,
        "stringTable" => m.string_table = r.vec(Reader::owned_string)?,
        "attributeTable" => m.attribute_table = r.vec(key_value_and_unit)?,
        "stackTable" => m.stack_table = r.vec(|r| message!(r, prof::Stack, |r, s| {
            "locationIndices" => s.location_indices = r.vec(Reader::int)?,
        }))?,
    })
}

fn mapping(r: &mut Reader) -> Res<prof::Mapping> {
    message!(r, prof::Mapping, |r, m| {
        "memoryStart" => m.memory_start = r.int()?,
        "memoryLimit" => m.memory_limit = r.int()?,
        "fileOffset" => m.file_offset = r.int()?,
        "filenameStrindex" => m.filename_strindex = r.int()?,
        "attributeIndices" => m.attribute_indices = r.vec(Reader::int)?,
    })
}

fn location(r: &mut Reader) -> Res<prof::Location> {
    message!(r, prof::Location, |r, m| {
        "mappingIndex" => m.mapping_index = r.int()?,
        "address" => m.address = r.int()?,
        "lines" => m.lines = r.vec(|r| message!(r, prof::Line, |r, l| {
            "functionIndex" => l.function_index = r.int()?,
            "line" => l.line = r.int()?,
            "column" => l.column = r.int()?,
        }))?,
        "attributeIndices" => m.attribute_indices = r.vec(Reader::int)?,
    })
}

fn function(r: &mut Reader) -> Res<prof::Function> {
    message!(r, prof::Function, |r, m| {
        "nameStrindex" => m.name_strindex = r.int()?,
        "systemNameStrindex" => m.system_name_strindex = r.int()?,
        "filenameStrindex" => m.filename_strindex = r.int()?,
        "startLine" => m.start_line = r.int()?,
    })
}

fn profile_link(r: &mut Reader) -> Res<prof::Link> {
    message!(r, prof::Link, |r, m| {
        "traceId" => m.trace_id = r.hex_id(TRACE_ID)?,
        "spanId" => m.span_id = r.hex_id(SPAN_ID)?,
    })
}

fn key_value_and_unit(r: &mut Reader) -> Res<prof::KeyValueAndUnit> {
    message!(r, prof::KeyValueAndUnit, |r, m| {
        "keyStrindex" => m.key_strindex = r.int()?,
        "value" => m.value = Some(any_value(r, 1)?),
        "unitStrindex" => m.unit_strindex = r.int()?,
    })
}
