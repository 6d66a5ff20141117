//! Finished spans to the OTLP request (prost types of ferrotel-pdata): one `ResourceSpans`
//! for the provider's resource, one `ScopeSpans` per instrumentation scope.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_pdata::proto::common::v1 as pc;
use ferrotel_pdata::proto::resource::v1 as pr;
use ferrotel_pdata::proto::trace::v1 as pt;
use opentelemetry::trace::{SpanContext, SpanKind, Status};
use opentelemetry::{Array, InstrumentationScope, KeyValue, Value};

use crate::resource::Resource;
use crate::span::SpanData;

/// Span and link `flags` bits: the parent's (link's) remoteness is known (bit 8) and remote
/// (bit 9), on top of the W3C trace flags in bits 0-7.
const HAS_IS_REMOTE: u32 = 0x100;
const IS_REMOTE: u32 = 0x200;

/// The resource in OTLP form (built once per exporter).
pub fn resource(r: &Resource) -> pr::Resource {
    pr::Resource {
        attributes: r.attributes().iter().map(key_value).collect(),
        ..Default::default()
    }
}

/// The export request for `spans`, grouped by scope in order of first appearance.
pub fn request(
    resource: &pr::Resource,
    schema_url: Option<&str>,
    spans: Vec<SpanData>,
) -> ExportTraceServiceRequest {
    let mut scopes: Vec<(&'static InstrumentationScope, Vec<pt::Span>)> = Vec::new();
    for s in spans {
        let scope = s.scope;
        let span = span(s);
        // Few scopes per batch: a linear search by address beats hashing.
        match scopes.iter_mut().find(|(sc, _)| std::ptr::eq(*sc, scope)) {
            Some((_, v)) => v.push(span),
            None => scopes.push((scope, vec![span])),
        }
    }
    ExportTraceServiceRequest {
        resource_spans: vec![pt::ResourceSpans {
            resource: Some(resource.clone()),
            scope_spans: scopes
                .into_iter()
                .map(|(sc, spans)| pt::ScopeSpans {
                    scope: Some(pc::InstrumentationScope {
                        name: sc.name().to_owned(),
                        version: sc.version().unwrap_or_default().to_owned(),
                        attributes: sc.attributes().map(key_value).collect(),
                        dropped_attributes_count: 0,
                    }),
                    spans,
                    schema_url: sc.schema_url().unwrap_or_default().to_owned(),
                })
                .collect(),
            schema_url: schema_url.unwrap_or_default().to_owned(),
        }],
    }
}

fn nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos().min(u128::from(u64::MAX)) as u64)
        .unwrap_or(0)
}

fn kind(k: &SpanKind) -> i32 {
    (match k {
        SpanKind::Internal => pt::span::SpanKind::Internal,
        SpanKind::Server => pt::span::SpanKind::Server,
        SpanKind::Client => pt::span::SpanKind::Client,
        SpanKind::Producer => pt::span::SpanKind::Producer,
        SpanKind::Consumer => pt::span::SpanKind::Consumer,
    }) as i32
}

fn flags(sc: &SpanContext, remote: bool) -> u32 {
    u32::from(sc.trace_flags().to_u8()) | HAS_IS_REMOTE | if remote { IS_REMOTE } else { 0 }
}

fn span(s: SpanData) -> pt::Span {
    let sc = &s.span_context;
    let parent = if s.parent_span_id == opentelemetry::trace::SpanId::INVALID {
        Bytes::new()
    } else {
        Bytes::copy_from_slice(&s.parent_span_id.to_bytes())
    };
    pt::Span {
        trace_id: Bytes::copy_from_slice(&sc.trace_id().to_bytes()),
        span_id: Bytes::copy_from_slice(&sc.span_id().to_bytes()),
        trace_state: sc.trace_state().header(),
        parent_span_id: parent,
        flags: flags(sc, s.parent_is_remote),
        name: s.name.into_owned(),
        kind: kind(&s.kind),
        start_time_unix_nano: nanos(s.start_time),
        end_time_unix_nano: nanos(s.end_time),
        attributes: s.attributes.into_iter().map(owned_key_value).collect(),
        dropped_attributes_count: s.dropped_attributes_count,
        events: s
            .events
            .into_iter()
            .map(|e| pt::span::Event {
                time_unix_nano: nanos(e.timestamp),
                name: e.name.into_owned(),
                attributes: e.attributes.into_iter().map(owned_key_value).collect(),
                dropped_attributes_count: e.dropped_attributes_count,
            })
            .collect(),
        dropped_events_count: s.dropped_events_count,
        links: s
            .links
            .into_iter()
            .map(|l| pt::span::Link {
                trace_id: Bytes::copy_from_slice(&l.span_context.trace_id().to_bytes()),
                span_id: Bytes::copy_from_slice(&l.span_context.span_id().to_bytes()),
                trace_state: l.span_context.trace_state().header(),
                flags: flags(&l.span_context, l.span_context.is_remote()),
                attributes: l.attributes.into_iter().map(owned_key_value).collect(),
                dropped_attributes_count: l.dropped_attributes_count,
            })
            .collect(),
        dropped_links_count: s.dropped_links_count,
        status: match s.status {
            Status::Unset => None,
            Status::Ok => Some(pt::Status {
                message: String::new(),
                code: pt::status::StatusCode::Ok as i32,
            }),
            Status::Error { description } => Some(pt::Status {
                message: description.into_owned(),
                code: pt::status::StatusCode::Error as i32,
            }),
        },
    }
}

fn key_value(kv: &KeyValue) -> pc::KeyValue {
    owned_key_value(kv.clone())
}

fn owned_key_value(kv: KeyValue) -> pc::KeyValue {
    pc::KeyValue {
        key: String::from(kv.key),
        value: Some(any_value(kv.value)),
        ..Default::default()
    }
}

fn any_value(v: Value) -> pc::AnyValue {
    use pc::any_value::Value as V;
    let value = match v {
        Value::Bool(b) => V::BoolValue(b),
        Value::I64(i) => V::IntValue(i),
        Value::F64(f) => V::DoubleValue(f),
        Value::String(s) => V::StringValue(String::from(s)),
        Value::Array(a) => V::ArrayValue(pc::ArrayValue {
            values: match a {
                Array::Bool(v) => v.into_iter().map(|b| wrap(V::BoolValue(b))).collect(),
                Array::I64(v) => v.into_iter().map(|i| wrap(V::IntValue(i))).collect(),
                Array::F64(v) => v.into_iter().map(|f| wrap(V::DoubleValue(f))).collect(),
                Array::String(v) => v
                    .into_iter()
                    .map(|s| wrap(V::StringValue(String::from(s))))
                    .collect(),
                // A future array kind: its display form rather than nothing.
                other => vec![wrap(V::StringValue(other.to_string()))],
            },
        }),
        other => V::StringValue(other.as_str().into_owned()),
    };
    wrap(value)
}

fn wrap(v: pc::any_value::Value) -> pc::AnyValue {
    pc::AnyValue { value: Some(v) }
}
