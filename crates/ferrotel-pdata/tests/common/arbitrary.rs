//! proptest strategies for random OTLP requests of all four signals.
//!
//! Every field of every message is exercised, with the awkward values codecs get wrong:
//! AnyValues of every kind nested a few levels deep, non-finite and negative-zero doubles,
//! extreme 64-bit integers, empty and full ids, strings with quotes, escapes, control
//! characters and non-ASCII text. Ids are always valid (empty or of the right length) and
//! NaNs are canonical (`f64::NAN`), so a lossless codec must reproduce the exact protobuf bytes.
//!
//! Include from a test crate with `#[path = "common/arbitrary.rs"] mod arbitrary;`.
#![allow(dead_code)]

use bytes::Bytes;
use ferrotel_pdata::proto::collector::logs::v1::ExportLogsServiceRequest;
use ferrotel_pdata::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use ferrotel_pdata::proto::collector::profiles::v1development::ExportProfilesServiceRequest;
use ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_pdata::proto::common::v1::{
    AnyValue, ArrayValue, EntityRef, InstrumentationScope, KeyValue, KeyValueList, any_value,
};
use ferrotel_pdata::proto::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use ferrotel_pdata::proto::metrics::v1::{
    Exemplar, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram,
    HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, Summary,
    SummaryDataPoint, exemplar, exponential_histogram_data_point::Buckets, metric,
    number_data_point, summary_data_point::ValueAtQuantile,
};
use ferrotel_pdata::proto::profiles::v1development::{
    Function, KeyValueAndUnit, Line, Link as ProfileLink, Location, Mapping, Profile,
    ProfilesDictionary, ResourceProfiles, Sample, ScopeProfiles, Stack, ValueType,
};
use ferrotel_pdata::proto::resource::v1::Resource;
use ferrotel_pdata::proto::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};
use ferrotel_pdata::{Request, Signal};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

/// Deepest AnyValue nesting generated (well under the decoders' limits).
pub const MAX_DEPTH: u32 = 4;

/// Short strings: empty, plain, or anything printable plus JSON's troublemakers.
pub fn arb_string() -> BoxedStrategy<String> {
    prop_oneof![
        2 => Just(String::new()),
        3 => "[a-z.]{1,10}",
        2 => "\\PC{0,8}",
        1 => "[\"\\\\/\u{0}-\u{1f}\u{7f}\u{2028}é😀]{1,6}",
    ]
    .boxed()
}

/// Any double, including ±0, ±infinity and (canonical) NaN.
pub fn arb_f64() -> BoxedStrategy<f64> {
    prop_oneof![
        4 => any::<f64>().prop_map(|f| if f.is_nan() { f64::NAN } else { f }),
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
        1 => Just(-0.0),
        1 => Just(0.0),
        2 => (-1000i32..1000).prop_map(|i| f64::from(i) / 8.0),
    ]
    .boxed()
}

/// Any u64, biased towards zero and the extremes.
pub fn arb_u64() -> BoxedStrategy<u64> {
    prop_oneof![Just(0), Just(u64::MAX), any::<u64>(), 0..1000u64].boxed()
}

/// Any i64, biased towards zero and the extremes.
pub fn arb_i64() -> BoxedStrategy<i64> {
    prop_oneof![
        Just(0),
        Just(i64::MIN),
        Just(i64::MAX),
        any::<i64>(),
        -100..100i64
    ]
    .boxed()
}

/// Small or extreme u32 (counts, flags).
pub fn arb_u32() -> BoxedStrategy<u32> {
    prop_oneof![Just(0), 0..10u32, any::<u32>()].boxed()
}

/// Small or extreme i32 (indices, enums, scale).
pub fn arb_i32() -> BoxedStrategy<i32> {
    prop_oneof![Just(0), -3..10i32, any::<i32>()].boxed()
}

/// An id of `n` bytes, or empty.
pub fn arb_id(n: usize) -> BoxedStrategy<Bytes> {
    prop_oneof![
        1 => Just(Bytes::new()),
        4 => vec(any::<u8>(), n..=n).prop_map(Bytes::from),
    ]
    .boxed()
}

/// A 16-byte trace id or empty.
pub fn arb_trace_id() -> BoxedStrategy<Bytes> {
    arb_id(16)
}

/// An 8-byte span id or empty.
pub fn arb_span_id() -> BoxedStrategy<Bytes> {
    arb_id(8)
}

/// Arbitrary bytes (base64 in JSON).
pub fn arb_bytes() -> BoxedStrategy<Bytes> {
    vec(any::<u8>(), 0..8).prop_map(Bytes::from).boxed()
}

/// An AnyValue of every kind (or empty), nested up to [`MAX_DEPTH`] levels.
pub fn arb_any_value() -> BoxedStrategy<AnyValue> {
    use any_value::Value;
    let leaf = option::of(prop_oneof![
        arb_string().prop_map(Value::StringValue),
        any::<bool>().prop_map(Value::BoolValue),
        arb_i64().prop_map(Value::IntValue),
        arb_f64().prop_map(Value::DoubleValue),
        arb_bytes().prop_map(Value::BytesValue),
        arb_i32().prop_map(Value::StringValueStrindex),
    ])
    .prop_map(|value| AnyValue { value });
    leaf.prop_recursive(MAX_DEPTH, 24, 3, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..3).prop_map(|values| AnyValue {
                value: Some(Value::ArrayValue(ArrayValue { values })),
            }),
            vec(
                (arb_string(), option::of(inner), arb_i32()).prop_map(
                    |(key, value, key_strindex)| KeyValue {
                        key,
                        value,
                        key_strindex,
                    }
                ),
                0..3
            )
            .prop_map(|values| AnyValue {
                value: Some(Value::KvlistValue(KeyValueList { values })),
            }),
        ]
    })
    .boxed()
}

/// A KeyValue with any value (possibly absent).
pub fn arb_key_value() -> BoxedStrategy<KeyValue> {
    (arb_string(), option::of(arb_any_value()), arb_i32())
        .prop_map(|(key, value, key_strindex)| KeyValue {
            key,
            value,
            key_strindex,
        })
        .boxed()
}

/// Up to three attributes.
pub fn arb_attributes() -> BoxedStrategy<Vec<KeyValue>> {
    vec(arb_key_value(), 0..3).boxed()
}

pub fn arb_entity_ref() -> BoxedStrategy<EntityRef> {
    (
        arb_string(),
        arb_string(),
        vec(arb_string(), 0..3),
        vec(arb_string(), 0..3),
    )
        .prop_map(
            |(schema_url, r#type, id_keys, description_keys)| EntityRef {
                schema_url,
                r#type,
                id_keys,
                description_keys,
            },
        )
        .boxed()
}

pub fn arb_resource() -> BoxedStrategy<Resource> {
    (arb_attributes(), arb_u32(), vec(arb_entity_ref(), 0..2))
        .prop_map(
            |(attributes, dropped_attributes_count, entity_refs)| Resource {
                attributes,
                dropped_attributes_count,
                entity_refs,
            },
        )
        .boxed()
}

pub fn arb_scope() -> BoxedStrategy<InstrumentationScope> {
    (arb_string(), arb_string(), arb_attributes(), arb_u32())
        .prop_map(
            |(name, version, attributes, dropped_attributes_count)| InstrumentationScope {
                name,
                version,
                attributes,
                dropped_attributes_count,
            },
        )
        .boxed()
}

// ---- traces --------------------------------------------------------------------------------

pub fn arb_span() -> BoxedStrategy<Span> {
    let ids = (
        arb_trace_id(),
        arb_span_id(),
        arb_string(),
        arb_span_id(),
        arb_u32(),
    );
    let main = (
        arb_string(),
        0..6i32,
        arb_u64(),
        arb_u64(),
        arb_attributes(),
        arb_u32(),
    );
    let event = (arb_u64(), arb_string(), arb_attributes(), arb_u32()).prop_map(
        |(time_unix_nano, name, attributes, dropped_attributes_count)| span::Event {
            time_unix_nano,
            name,
            attributes,
            dropped_attributes_count,
        },
    );
    let link = (
        arb_trace_id(),
        arb_span_id(),
        arb_string(),
        arb_attributes(),
        arb_u32(),
        arb_u32(),
    )
        .prop_map(
            |(trace_id, span_id, trace_state, attributes, dropped_attributes_count, flags)| {
                span::Link {
                    trace_id,
                    span_id,
                    trace_state,
                    attributes,
                    dropped_attributes_count,
                    flags,
                }
            },
        );
    let status =
        option::of((arb_string(), 0..3i32).prop_map(|(message, code)| Status { message, code }));
    let rest = (
        vec(event, 0..2),
        arb_u32(),
        vec(link, 0..2),
        arb_u32(),
        status,
    );
    (ids, main, rest)
        .prop_map(
            |(
                (trace_id, span_id, trace_state, parent_span_id, flags),
                (
                    name,
                    kind,
                    start_time_unix_nano,
                    end_time_unix_nano,
                    attributes,
                    dropped_attributes_count,
                ),
                (events, dropped_events_count, links, dropped_links_count, status),
            )| Span {
                trace_id,
                span_id,
                trace_state,
                parent_span_id,
                flags,
                name,
                kind,
                start_time_unix_nano,
                end_time_unix_nano,
                attributes,
                dropped_attributes_count,
                events,
                dropped_events_count,
                links,
                dropped_links_count,
                status,
            },
        )
        .boxed()
}

pub fn arb_traces() -> BoxedStrategy<ExportTraceServiceRequest> {
    let scope_spans = (option::of(arb_scope()), vec(arb_span(), 0..4), arb_string()).prop_map(
        |(scope, spans, schema_url)| ScopeSpans {
            scope,
            spans,
            schema_url,
        },
    );
    let resource_spans = (
        option::of(arb_resource()),
        vec(scope_spans, 0..4),
        arb_string(),
    )
        .prop_map(|(resource, scope_spans, schema_url)| ResourceSpans {
            resource,
            scope_spans,
            schema_url,
        });
    vec(resource_spans, 0..4)
        .prop_map(|resource_spans| ExportTraceServiceRequest { resource_spans })
        .boxed()
}

// ---- metrics -------------------------------------------------------------------------------

pub fn arb_exemplar() -> BoxedStrategy<Exemplar> {
    let value = option::of(prop_oneof![
        arb_f64().prop_map(exemplar::Value::AsDouble),
        arb_i64().prop_map(exemplar::Value::AsInt),
    ]);
    (
        arb_attributes(),
        arb_u64(),
        value,
        arb_span_id(),
        arb_trace_id(),
    )
        .prop_map(
            |(filtered_attributes, time_unix_nano, value, span_id, trace_id)| Exemplar {
                filtered_attributes,
                time_unix_nano,
                span_id,
                trace_id,
                value,
            },
        )
        .boxed()
}

pub fn arb_number_point() -> BoxedStrategy<NumberDataPoint> {
    let value = option::of(prop_oneof![
        arb_f64().prop_map(number_data_point::Value::AsDouble),
        arb_i64().prop_map(number_data_point::Value::AsInt),
    ]);
    (
        arb_attributes(),
        arb_u64(),
        arb_u64(),
        vec(arb_exemplar(), 0..2),
        arb_u32(),
        value,
    )
        .prop_map(
            |(attributes, start_time_unix_nano, time_unix_nano, exemplars, flags, value)| {
                NumberDataPoint {
                    attributes,
                    start_time_unix_nano,
                    time_unix_nano,
                    exemplars,
                    flags,
                    value,
                }
            },
        )
        .boxed()
}

pub fn arb_histogram_point() -> BoxedStrategy<HistogramDataPoint> {
    (
        (
            arb_attributes(),
            arb_u64(),
            arb_u64(),
            arb_u64(),
            option::of(arb_f64()),
        ),
        (
            vec(arb_u64(), 0..4),
            vec(arb_f64(), 0..4),
            vec(arb_exemplar(), 0..2),
            arb_u32(),
            option::of(arb_f64()),
            option::of(arb_f64()),
        ),
    )
        .prop_map(
            |(
                (attributes, start_time_unix_nano, time_unix_nano, count, sum),
                (bucket_counts, explicit_bounds, exemplars, flags, min, max),
            )| HistogramDataPoint {
                attributes,
                start_time_unix_nano,
                time_unix_nano,
                count,
                sum,
                bucket_counts,
                explicit_bounds,
                exemplars,
                flags,
                min,
                max,
            },
        )
        .boxed()
}

pub fn arb_buckets() -> BoxedStrategy<Buckets> {
    (arb_i32(), vec(arb_u64(), 0..4))
        .prop_map(|(offset, bucket_counts)| Buckets {
            offset,
            bucket_counts,
        })
        .boxed()
}

pub fn arb_exp_histogram_point() -> BoxedStrategy<ExponentialHistogramDataPoint> {
    (
        (
            arb_attributes(),
            arb_u64(),
            arb_u64(),
            arb_u64(),
            option::of(arb_f64()),
            arb_i32(),
            arb_u64(),
        ),
        (
            option::of(arb_buckets()),
            option::of(arb_buckets()),
            arb_u32(),
            vec(arb_exemplar(), 0..2),
            option::of(arb_f64()),
            option::of(arb_f64()),
            arb_f64(),
        ),
    )
        .prop_map(
            |(
                (attributes, start_time_unix_nano, time_unix_nano, count, sum, scale, zero_count),
                (positive, negative, flags, exemplars, min, max, zero_threshold),
            )| ExponentialHistogramDataPoint {
                attributes,
                start_time_unix_nano,
                time_unix_nano,
                count,
                sum,
                scale,
                zero_count,
                positive,
                negative,
                flags,
                exemplars,
                min,
                max,
                zero_threshold,
            },
        )
        .boxed()
}

pub fn arb_summary_point() -> BoxedStrategy<SummaryDataPoint> {
    let quantile =
        (arb_f64(), arb_f64()).prop_map(|(quantile, value)| ValueAtQuantile { quantile, value });
    (
        arb_attributes(),
        arb_u64(),
        arb_u64(),
        arb_u64(),
        arb_f64(),
        vec(quantile, 0..3),
        arb_u32(),
    )
        .prop_map(
            |(
                attributes,
                start_time_unix_nano,
                time_unix_nano,
                count,
                sum,
                quantile_values,
                flags,
            )| {
                SummaryDataPoint {
                    attributes,
                    start_time_unix_nano,
                    time_unix_nano,
                    count,
                    sum,
                    quantile_values,
                    flags,
                }
            },
        )
        .boxed()
}

pub fn arb_metric() -> BoxedStrategy<Metric> {
    use metric::Data;
    let data = option::of(prop_oneof![
        vec(arb_number_point(), 0..3).prop_map(|data_points| Data::Gauge(Gauge { data_points })),
        (vec(arb_number_point(), 0..3), 0..3i32, any::<bool>()).prop_map(
            |(data_points, aggregation_temporality, is_monotonic)| Data::Sum(Sum {
                data_points,
                aggregation_temporality,
                is_monotonic,
            })
        ),
        (vec(arb_histogram_point(), 0..3), 0..3i32).prop_map(
            |(data_points, aggregation_temporality)| Data::Histogram(Histogram {
                data_points,
                aggregation_temporality,
            })
        ),
        (vec(arb_exp_histogram_point(), 0..3), 0..3i32).prop_map(
            |(data_points, aggregation_temporality)| {
                Data::ExponentialHistogram(ExponentialHistogram {
                    data_points,
                    aggregation_temporality,
                })
            }
        ),
        vec(arb_summary_point(), 0..3)
            .prop_map(|data_points| Data::Summary(Summary { data_points })),
    ]);
    (
        arb_string(),
        arb_string(),
        arb_string(),
        arb_attributes(),
        data,
    )
        .prop_map(|(name, description, unit, metadata, data)| Metric {
            name,
            description,
            unit,
            metadata,
            data,
        })
        .boxed()
}

pub fn arb_metrics() -> BoxedStrategy<ExportMetricsServiceRequest> {
    let scope_metrics = (
        option::of(arb_scope()),
        vec(arb_metric(), 0..4),
        arb_string(),
    )
        .prop_map(|(scope, metrics, schema_url)| ScopeMetrics {
            scope,
            metrics,
            schema_url,
        });
    let resource_metrics = (
        option::of(arb_resource()),
        vec(scope_metrics, 0..4),
        arb_string(),
    )
        .prop_map(|(resource, scope_metrics, schema_url)| ResourceMetrics {
            resource,
            scope_metrics,
            schema_url,
        });
    vec(resource_metrics, 0..4)
        .prop_map(|resource_metrics| ExportMetricsServiceRequest { resource_metrics })
        .boxed()
}

// ---- logs ----------------------------------------------------------------------------------

pub fn arb_log_record() -> BoxedStrategy<LogRecord> {
    (
        (
            arb_u64(),
            arb_u64(),
            0..25i32,
            arb_string(),
            option::of(arb_any_value()),
        ),
        (
            arb_attributes(),
            arb_u32(),
            arb_u32(),
            arb_trace_id(),
            arb_span_id(),
            arb_string(),
        ),
    )
        .prop_map(
            |(
                (time_unix_nano, observed_time_unix_nano, severity_number, severity_text, body),
                (attributes, dropped_attributes_count, flags, trace_id, span_id, event_name),
            )| LogRecord {
                time_unix_nano,
                observed_time_unix_nano,
                severity_number,
                severity_text,
                body,
                attributes,
                dropped_attributes_count,
                flags,
                trace_id,
                span_id,
                event_name,
            },
        )
        .boxed()
}

pub fn arb_logs() -> BoxedStrategy<ExportLogsServiceRequest> {
    let scope_logs = (
        option::of(arb_scope()),
        vec(arb_log_record(), 0..4),
        arb_string(),
    )
        .prop_map(|(scope, log_records, schema_url)| ScopeLogs {
            scope,
            log_records,
            schema_url,
        });
    let resource_logs = (
        option::of(arb_resource()),
        vec(scope_logs, 0..4),
        arb_string(),
    )
        .prop_map(|(resource, scope_logs, schema_url)| ResourceLogs {
            resource,
            scope_logs,
            schema_url,
        });
    vec(resource_logs, 0..4)
        .prop_map(|resource_logs| ExportLogsServiceRequest { resource_logs })
        .boxed()
}

// ---- profiles ------------------------------------------------------------------------------

fn arb_value_type() -> BoxedStrategy<ValueType> {
    (arb_i32(), arb_i32())
        .prop_map(|(type_strindex, unit_strindex)| ValueType {
            type_strindex,
            unit_strindex,
        })
        .boxed()
}

fn arb_indices() -> BoxedStrategy<Vec<i32>> {
    vec(arb_i32(), 0..4).boxed()
}

pub fn arb_profile() -> BoxedStrategy<Profile> {
    let sample = (
        arb_i32(),
        arb_indices(),
        arb_i32(),
        vec(arb_i64(), 0..3),
        vec(arb_u64(), 0..3),
    )
        .prop_map(
            |(stack_index, attribute_indices, link_index, values, timestamps_unix_nano)| Sample {
                stack_index,
                attribute_indices,
                link_index,
                values,
                timestamps_unix_nano,
            },
        );
    (
        (
            option::of(arb_value_type()),
            vec(sample, 0..3),
            arb_u64(),
            arb_u64(),
            option::of(arb_value_type()),
            arb_i64(),
        ),
        (
            arb_id(16),
            arb_u32(),
            arb_string(),
            arb_bytes(),
            arb_indices(),
        ),
    )
        .prop_map(
            |(
                (sample_type, samples, time_unix_nano, duration_nano, period_type, period),
                (
                    profile_id,
                    dropped_attributes_count,
                    original_payload_format,
                    original_payload,
                    attribute_indices,
                ),
            )| Profile {
                sample_type,
                samples,
                time_unix_nano,
                duration_nano,
                period_type,
                period,
                profile_id,
                dropped_attributes_count,
                original_payload_format,
                original_payload,
                attribute_indices,
            },
        )
        .boxed()
}

pub fn arb_dictionary() -> BoxedStrategy<ProfilesDictionary> {
    let mapping = (arb_u64(), arb_u64(), arb_u64(), arb_i32(), arb_indices()).prop_map(
        |(memory_start, memory_limit, file_offset, filename_strindex, attribute_indices)| Mapping {
            memory_start,
            memory_limit,
            file_offset,
            filename_strindex,
            attribute_indices,
        },
    );
    let line = (arb_i32(), arb_i64(), arb_i64()).prop_map(|(function_index, line, column)| Line {
        function_index,
        line,
        column,
    });
    let location = (arb_i32(), arb_u64(), vec(line, 0..3), arb_indices()).prop_map(
        |(mapping_index, address, lines, attribute_indices)| Location {
            mapping_index,
            address,
            lines,
            attribute_indices,
        },
    );
    let function = (arb_i32(), arb_i32(), arb_i32(), arb_i64()).prop_map(
        |(name_strindex, system_name_strindex, filename_strindex, start_line)| Function {
            name_strindex,
            system_name_strindex,
            filename_strindex,
            start_line,
        },
    );
    let link = (arb_trace_id(), arb_span_id())
        .prop_map(|(trace_id, span_id)| ProfileLink { trace_id, span_id });
    let attribute = (arb_i32(), option::of(arb_any_value()), arb_i32()).prop_map(
        |(key_strindex, value, unit_strindex)| KeyValueAndUnit {
            key_strindex,
            value,
            unit_strindex,
        },
    );
    let stack = arb_indices().prop_map(|location_indices| Stack { location_indices });
    (
        vec(mapping, 0..3),
        vec(location, 0..3),
        vec(function, 0..3),
        vec(link, 0..3),
        vec(arb_string(), 0..4),
        vec(attribute, 0..3),
        vec(stack, 0..3),
    )
        .prop_map(
            |(
                mapping_table,
                location_table,
                function_table,
                link_table,
                string_table,
                attribute_table,
                stack_table,
            )| ProfilesDictionary {
                mapping_table,
                location_table,
                function_table,
                link_table,
                string_table,
                attribute_table,
                stack_table,
            },
        )
        .boxed()
}

pub fn arb_profiles() -> BoxedStrategy<ExportProfilesServiceRequest> {
    let scope_profiles = (
        option::of(arb_scope()),
        vec(arb_profile(), 0..4),
        arb_string(),
    )
        .prop_map(|(scope, profiles, schema_url)| ScopeProfiles {
            scope,
            profiles,
            schema_url,
        });
    let resource_profiles = (
        option::of(arb_resource()),
        vec(scope_profiles, 0..4),
        arb_string(),
    )
        .prop_map(|(resource, scope_profiles, schema_url)| ResourceProfiles {
            resource,
            scope_profiles,
            schema_url,
        });
    (vec(resource_profiles, 0..4), option::of(arb_dictionary()))
        .prop_map(
            |(resource_profiles, dictionary)| ExportProfilesServiceRequest {
                resource_profiles,
                dictionary,
            },
        )
        .boxed()
}

// ---- requests ------------------------------------------------------------------------------

/// A random request of `signal`.
pub fn arb_request(signal: Signal) -> BoxedStrategy<Request> {
    match signal {
        Signal::Traces => arb_traces().prop_map(Request::Traces).boxed(),
        Signal::Metrics => arb_metrics().prop_map(Request::Metrics).boxed(),
        Signal::Logs => arb_logs().prop_map(Request::Logs).boxed(),
        Signal::Profiles => arb_profiles().prop_map(Request::Profiles).boxed(),
    }
}

/// A random request of a random signal.
pub fn arb_any_request() -> BoxedStrategy<Request> {
    prop_oneof![
        arb_request(Signal::Traces),
        arb_request(Signal::Metrics),
        arb_request(Signal::Logs),
        arb_request(Signal::Profiles),
    ]
    .boxed()
}
