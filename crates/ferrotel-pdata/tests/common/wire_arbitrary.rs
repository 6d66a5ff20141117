//! Random OTLP requests of all four signals for the wire-module property tests.
//!
//! Small on purpose (few resources, scopes and items) so that split boundaries fall inside
//! resources, scopes and metrics often, while covering every field kind the validator checks.
#![allow(dead_code)]

use ferrotel_pdata::proto::collector::logs::v1::ExportLogsServiceRequest;
use ferrotel_pdata::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use ferrotel_pdata::proto::collector::profiles::v1development::ExportProfilesServiceRequest;
use ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_pdata::proto::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value,
};
use ferrotel_pdata::proto::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use ferrotel_pdata::proto::metrics::v1::{
    Exemplar, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram,
    HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, Summary,
    SummaryDataPoint, exponential_histogram_data_point::Buckets, metric, number_data_point,
    summary_data_point::ValueAtQuantile,
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

fn text() -> impl Strategy<Value = String> {
    prop_oneof![Just(String::new()), "[a-z.]{1,8}", "\\PC{0,6}"]
}

fn id(n: usize) -> impl Strategy<Value = bytes::Bytes> {
    prop_oneof![
        1 => Just(bytes::Bytes::new()),
        4 => vec(any::<u8>(), n..=n).prop_map(bytes::Bytes::from),
    ]
}

fn any_value() -> impl Strategy<Value = AnyValue> {
    use any_value::Value;
    let leaf = option::of(prop_oneof![
        text().prop_map(Value::StringValue),
        any::<bool>().prop_map(Value::BoolValue),
        any::<i64>().prop_map(Value::IntValue),
        any::<f64>().prop_map(Value::DoubleValue),
        vec(any::<u8>(), 0..6).prop_map(|b| Value::BytesValue(b.into())),
    ])
    .prop_map(|value| AnyValue { value });
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..3).prop_map(|values| AnyValue {
                value: Some(any_value::Value::ArrayValue(ArrayValue { values })),
            }),
            vec((text(), inner), 0..3).prop_map(|kvs| AnyValue {
                value: Some(any_value::Value::KvlistValue(KeyValueList {
                    values: kvs
                        .into_iter()
                        .map(|(key, v)| KeyValue {
                            key,
                            value: Some(v),
                            ..Default::default()
                        })
                        .collect(),
                })),
            }),
        ]
    })
}

fn attrs() -> impl Strategy<Value = Vec<KeyValue>> {
    vec(
        (text(), option::of(any_value())).prop_map(|(key, value)| KeyValue {
            key,
            value,
            ..Default::default()
        }),
        0..3,
    )
}

fn resource() -> impl Strategy<Value = Option<Resource>> {
    option::of(
        (attrs(), any::<u32>()).prop_map(|(attributes, dropped)| Resource {
            attributes,
            dropped_attributes_count: dropped,
            ..Default::default()
        }),
    )
}

fn scope() -> impl Strategy<Value = Option<InstrumentationScope>> {
    option::of(
        (text(), text(), attrs()).prop_map(|(name, version, attributes)| InstrumentationScope {
            name,
            version,
            attributes,
            dropped_attributes_count: 0,
        }),
    )
}

fn span() -> impl Strategy<Value = Span> {
    let event = (any::<u64>(), text(), attrs()).prop_map(|(t, name, attributes)| span::Event {
        time_unix_nano: t,
        name,
        attributes,
        dropped_attributes_count: 1,
    });
    let link = (id(16), id(8), text(), attrs(), any::<u32>()).prop_map(
        |(trace_id, span_id, trace_state, attributes, flags)| span::Link {
            trace_id,
            span_id,
            trace_state,
            attributes,
            dropped_attributes_count: 0,
            flags,
        },
    );
    (
        (id(16), id(8), text(), id(8), text(), 0..6i32),
        (
            any::<u64>(),
            any::<u64>(),
            attrs(),
            vec(event, 0..2),
            vec(link, 0..2),
        ),
        (option::of((text(), 0..3i32)), any::<u32>()),
    )
        .prop_map(
            |(
                (trace_id, span_id, trace_state, parent_span_id, name, kind),
                (start, end, attributes, events, links),
                (status, flags),
            )| Span {
                trace_id,
                span_id,
                trace_state,
                parent_span_id,
                name,
                kind,
                start_time_unix_nano: start,
                end_time_unix_nano: end,
                attributes,
                events,
                links,
                status: status.map(|(message, code)| Status { message, code }),
                flags,
                ..Default::default()
            },
        )
}

/// A random traces request.
pub fn arb_traces() -> impl Strategy<Value = ExportTraceServiceRequest> {
    let ss =
        (scope(), vec(span(), 0..5), text()).prop_map(|(scope, spans, schema_url)| ScopeSpans {
            scope,
            spans,
            schema_url,
        });
    let rs = (resource(), vec(ss, 0..3), text()).prop_map(|(resource, scope_spans, schema_url)| {
        ResourceSpans {
            resource,
            scope_spans,
            schema_url,
        }
    });
    vec(rs, 0..4).prop_map(|resource_spans| ExportTraceServiceRequest { resource_spans })
}

fn log_record() -> impl Strategy<Value = LogRecord> {
    (
        (any::<u64>(), any::<u64>(), 0..25i32, text()),
        (option::of(any_value()), attrs(), any::<u32>()),
        (id(16), id(8), text()),
    )
        .prop_map(
            |(
                (t, ot, sev, sev_text),
                (body, attributes, flags),
                (trace_id, span_id, event_name),
            )| {
                LogRecord {
                    time_unix_nano: t,
                    observed_time_unix_nano: ot,
                    severity_number: sev,
                    severity_text: sev_text,
                    body,
                    attributes,
                    dropped_attributes_count: 0,
                    flags,
                    trace_id,
                    span_id,
                    event_name,
                }
            },
        )
}

/// A random logs request.
pub fn arb_logs() -> impl Strategy<Value = ExportLogsServiceRequest> {
    let sl =
        (scope(), vec(log_record(), 0..5), text()).prop_map(|(scope, log_records, schema_url)| {
            ScopeLogs {
                scope,
                log_records,
                schema_url,
            }
        });
    let rl = (resource(), vec(sl, 0..3), text()).prop_map(|(resource, scope_logs, schema_url)| {
        ResourceLogs {
            resource,
            scope_logs,
            schema_url,
        }
    });
    vec(rl, 0..4).prop_map(|resource_logs| ExportLogsServiceRequest { resource_logs })
}

fn exemplar() -> impl Strategy<Value = Exemplar> {
    (attrs(), any::<u64>(), any::<f64>(), id(8), id(16)).prop_map(
        |(filtered_attributes, t, v, span_id, trace_id)| Exemplar {
            filtered_attributes,
            time_unix_nano: t,
            span_id,
            trace_id,
            value: Some(ferrotel_pdata::proto::metrics::v1::exemplar::Value::AsDouble(v)),
        },
    )
}

fn number_dp() -> impl Strategy<Value = NumberDataPoint> {
    (
        attrs(),
        any::<u64>(),
        any::<i64>(),
        vec(exemplar(), 0..2),
        any::<bool>(),
    )
        .prop_map(|(attributes, t, v, exemplars, as_int)| NumberDataPoint {
            attributes,
            time_unix_nano: t,
            start_time_unix_nano: t / 2,
            exemplars,
            flags: 1,
            value: Some(if as_int {
                number_data_point::Value::AsInt(v)
            } else {
                number_data_point::Value::AsDouble(v as f64)
            }),
        })
}

fn histogram_dp() -> impl Strategy<Value = HistogramDataPoint> {
    (
        attrs(),
        vec(any::<u64>(), 0..4),
        vec(any::<f64>(), 0..3),
        vec(exemplar(), 0..2),
        option::of(any::<f64>()),
    )
        .prop_map(
            |(attributes, bucket_counts, explicit_bounds, exemplars, sum)| HistogramDataPoint {
                attributes,
                count: 3,
                sum,
                bucket_counts,
                explicit_bounds,
                exemplars,
                min: sum,
                ..Default::default()
            },
        )
}

fn exp_histogram_dp() -> impl Strategy<Value = ExponentialHistogramDataPoint> {
    let buckets =
        (any::<i32>(), vec(any::<u64>(), 0..4)).prop_map(|(offset, bucket_counts)| Buckets {
            offset,
            bucket_counts,
        });
    (
        attrs(),
        any::<i32>(),
        option::of(buckets.clone()),
        option::of(buckets),
    )
        .prop_map(
            |(attributes, scale, positive, negative)| ExponentialHistogramDataPoint {
                attributes,
                scale,
                positive,
                negative,
                zero_threshold: 0.5,
                ..Default::default()
            },
        )
}

fn summary_dp() -> impl Strategy<Value = SummaryDataPoint> {
    (attrs(), vec((any::<f64>(), any::<f64>()), 0..3)).prop_map(|(attributes, qs)| {
        SummaryDataPoint {
            attributes,
            count: 1,
            quantile_values: qs
                .into_iter()
                .map(|(quantile, value)| ValueAtQuantile { quantile, value })
                .collect(),
            ..Default::default()
        }
    })
}

fn metric() -> impl Strategy<Value = Metric> {
    let data = option::of(prop_oneof![
        vec(number_dp(), 0..4).prop_map(|data_points| metric::Data::Gauge(Gauge { data_points })),
        (vec(number_dp(), 0..4), 0..3i32, any::<bool>()).prop_map(|(data_points, t, m)| {
            metric::Data::Sum(Sum {
                data_points,
                aggregation_temporality: t,
                is_monotonic: m,
            })
        }),
        vec(histogram_dp(), 0..4).prop_map(|data_points| metric::Data::Histogram(Histogram {
            data_points,
            aggregation_temporality: 2,
        })),
        vec(exp_histogram_dp(), 0..4).prop_map(|data_points| {
            metric::Data::ExponentialHistogram(ExponentialHistogram {
                data_points,
                aggregation_temporality: 1,
            })
        }),
        vec(summary_dp(), 0..4)
            .prop_map(|data_points| metric::Data::Summary(Summary { data_points })),
    ]);
    (text(), text(), text(), data, attrs()).prop_map(|(name, description, unit, data, metadata)| {
        Metric {
            name,
            description,
            unit,
            data,
            metadata,
        }
    })
}

/// A random metrics request.
pub fn arb_metrics() -> impl Strategy<Value = ExportMetricsServiceRequest> {
    let sm = (scope(), vec(metric(), 0..4), text()).prop_map(|(scope, metrics, schema_url)| {
        ScopeMetrics {
            scope,
            metrics,
            schema_url,
        }
    });
    let rm =
        (resource(), vec(sm, 0..3), text()).prop_map(|(resource, scope_metrics, schema_url)| {
            ResourceMetrics {
                resource,
                scope_metrics,
                schema_url,
            }
        });
    vec(rm, 0..3).prop_map(|resource_metrics| ExportMetricsServiceRequest { resource_metrics })
}

fn profile() -> impl Strategy<Value = Profile> {
    let sample = (
        0..10i32,
        vec(0..10i32, 0..3),
        vec(any::<i64>(), 0..3),
        vec(any::<u64>(), 0..3),
    )
        .prop_map(|(stack_index, attribute_indices, values, ts)| Sample {
            stack_index,
            attribute_indices,
            link_index: 0,
            values,
            timestamps_unix_nano: ts,
        });
    (
        vec(sample, 0..3),
        any::<u64>(),
        vec(any::<u8>(), 0..17),
        text(),
        vec(0..5i32, 0..3),
    )
        .prop_map(|(samples, t, pid, fmt, attribute_indices)| Profile {
            sample_type: Some(ValueType {
                type_strindex: 1,
                unit_strindex: 2,
            }),
            samples,
            time_unix_nano: t,
            duration_nano: t / 3,
            period: -5,
            profile_id: pid.into(),
            original_payload_format: fmt,
            attribute_indices,
            ..Default::default()
        })
}

fn dictionary() -> impl Strategy<Value = Option<ProfilesDictionary>> {
    option::of(
        (
            vec(text(), 0..4),
            vec((id(16), id(8)), 0..3),
            vec(option::of(any_value()), 0..3),
            vec(vec(0..9i32, 0..4), 0..3),
        )
            .prop_map(|(string_table, links, values, stacks)| ProfilesDictionary {
                mapping_table: vec![Mapping {
                    memory_start: 1,
                    memory_limit: 1 << 40,
                    file_offset: 3,
                    filename_strindex: 1,
                    attribute_indices: vec![0, 1],
                }],
                location_table: vec![Location {
                    mapping_index: 0,
                    address: 0xdead,
                    lines: vec![Line {
                        function_index: 0,
                        line: 12,
                        column: -1,
                    }],
                    attribute_indices: vec![2],
                }],
                function_table: vec![Function {
                    name_strindex: 1,
                    system_name_strindex: 2,
                    filename_strindex: 3,
                    start_line: 4,
                }],
                link_table: links
                    .into_iter()
                    .map(|(trace_id, span_id)| ProfileLink { trace_id, span_id })
                    .collect(),
                string_table,
                attribute_table: values
                    .into_iter()
                    .map(|value| KeyValueAndUnit {
                        key_strindex: 1,
                        value,
                        unit_strindex: 0,
                    })
                    .collect(),
                stack_table: stacks
                    .into_iter()
                    .map(|location_indices| Stack { location_indices })
                    .collect(),
            }),
    )
}

/// A random profiles request.
pub fn arb_profiles() -> impl Strategy<Value = ExportProfilesServiceRequest> {
    let sp = (scope(), vec(profile(), 0..4), text()).prop_map(|(scope, profiles, schema_url)| {
        ScopeProfiles {
            scope,
            profiles,
            schema_url,
        }
    });
    let rp =
        (resource(), vec(sp, 0..3), text()).prop_map(|(resource, scope_profiles, schema_url)| {
            ResourceProfiles {
                resource,
                scope_profiles,
                schema_url,
            }
        });
    (vec(rp, 0..3), dictionary()).prop_map(|(resource_profiles, dictionary)| {
        ExportProfilesServiceRequest {
            resource_profiles,
            dictionary,
        }
    })
}

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
