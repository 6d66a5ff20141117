//! OTLP spans as the Jaeger UI's JSON model (Jaeger's `uimodel`), mapped the way Jaeger's own
//! OTLP translator maps them, after the query service's attribute sorting:
//! - a resource becomes a process: `service.name` is its `serviceName` (absent: the store's
//!   `unknown_service`), its other attributes its tags; equal processes share one id, `p1`,
//!   `p2`... in order of first appearance;
//! - span tags are the scope's `otel.scope.name`/`otel.scope.version`, the span's attributes
//!   sorted by key, then `span.kind`, `otel.status_code`, `error` (true, when the status is
//!   error), `otel.status_description`, `w3c.tracestate`;
//! - the parent is the first reference (`CHILD_OF`), then links (`FOLLOWS_FROM`, or
//!   `CHILD_OF` when the link's `opentracing.ref_type` is `child_of`); a root has `[]`;
//! - events become logs (by time), with an `event` field carrying the name unless an
//!   attribute already has that key;
//! - values: strings `string`, booleans `bool`, integers `int64` (a string value beyond
//!   JavaScript's safe integers), doubles `float64`, bytes `binary` (base64), arrays and maps
//!   `string` holding their JSON.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::Serialize;
use serde_json::Value;

use ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_pdata::proto::common::v1::{AnyValue, KeyValue, any_value};
use ferrotel_pdata::proto::trace::v1::Span;

use crate::params::{hex, span_kind_name};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tag {
    pub key: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reference {
    #[serde(rename = "refType")]
    pub ref_type: &'static str,
    #[serde(rename = "traceID")]
    pub trace_id: String,
    #[serde(rename = "spanID")]
    pub span_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Log {
    pub timestamp: u64,
    pub fields: Vec<Tag>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JaegerSpan {
    #[serde(rename = "traceID")]
    pub trace_id: String,
    #[serde(rename = "spanID")]
    pub span_id: String,
    #[serde(rename = "operationName")]
    pub operation_name: String,
    pub references: Vec<Reference>,
    #[serde(rename = "startTime")]
    pub start_time: u64,
    pub duration: u64,
    pub tags: Vec<Tag>,
    pub logs: Vec<Log>,
    #[serde(rename = "processID")]
    pub process_id: String,
    pub warnings: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Process {
    #[serde(rename = "serviceName")]
    pub service_name: String,
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JaegerTrace {
    #[serde(rename = "traceID")]
    pub trace_id: String,
    pub spans: Vec<JaegerSpan>,
    /// Keys sort as strings (`p1`, `p10`, `p2`), as Go's encoder writes a map.
    pub processes: BTreeMap<String, Process>,
    pub warnings: Option<Vec<String>>,
}

/// JavaScript's largest exact integer: Jaeger sends larger int64 values as strings.
const JS_MAX_SAFE: i64 = (1 << 53) - 1;

/// Jaeger's trace id text: 16 hex digits when the high half is zero, else 32.
pub fn trace_id_text(id: &[u8]) -> String {
    match id.len() {
        16 if id[..8].iter().all(|b| *b == 0) => hex(&id[8..]),
        _ => hex(id),
    }
}

fn value_json(v: &AnyValue) -> Value {
    use any_value::Value as V;
    match &v.value {
        None => Value::Null,
        Some(V::StringValue(s)) => Value::String(s.clone()),
        Some(V::StringValueStrindex(i)) => Value::from(*i),
        Some(V::BoolValue(b)) => Value::Bool(*b),
        Some(V::IntValue(i)) => Value::from(*i),
        Some(V::DoubleValue(d)) => serde_json::Number::from_f64(*d)
            .map(Value::Number)
            .unwrap_or_else(|| Value::String(d.to_string())),
        Some(V::BytesValue(b)) => {
            Value::String(base64::engine::general_purpose::STANDARD.encode(b))
        }
        Some(V::ArrayValue(a)) => Value::Array(a.values.iter().map(value_json).collect()),
        Some(V::KvlistValue(kv)) => Value::Object(
            kv.values
                .iter()
                .map(|kv| {
                    (
                        kv.key.clone(),
                        kv.value.as_ref().map(value_json).unwrap_or(Value::Null),
                    )
                })
                .collect(),
        ),
    }
}

fn tag_of(key: &str, v: Option<&AnyValue>) -> Tag {
    use any_value::Value as V;
    let (kind, value) = match v.and_then(|v| v.value.as_ref()) {
        None => ("string", Value::String(String::new())),
        Some(V::StringValue(s)) => ("string", Value::String(s.clone())),
        Some(V::BoolValue(b)) => ("bool", Value::Bool(*b)),
        Some(V::IntValue(i)) if (-JS_MAX_SAFE..=JS_MAX_SAFE).contains(i) => {
            ("int64", Value::from(*i))
        }
        Some(V::IntValue(i)) => ("int64", Value::String(i.to_string())),
        Some(V::DoubleValue(d)) => (
            "float64",
            serde_json::Number::from_f64(*d)
                .map(Value::Number)
                .unwrap_or_else(|| Value::String(d.to_string())),
        ),
        Some(V::BytesValue(b)) => (
            "binary",
            Value::String(base64::engine::general_purpose::STANDARD.encode(b)),
        ),
        Some(V::StringValueStrindex(i)) => ("string", Value::String(format!("#{i}"))),
        Some(other) => (
            "string",
            Value::String(
                value_json(&AnyValue {
                    value: Some(other.clone()),
                })
                .to_string(),
            ),
        ),
    };
    Tag {
        key: key.to_string(),
        kind,
        value,
    }
}

fn string_tag(key: &str, value: &str) -> Tag {
    Tag {
        key: key.to_string(),
        kind: "string",
        value: Value::String(value.to_string()),
    }
}

/// Attributes sorted by key (stable, as Jaeger's query service sorts them), as tags.
fn sorted_tags(out: &mut Vec<Tag>, attributes: &[KeyValue]) {
    let mut sorted: Vec<&KeyValue> = attributes.iter().collect();
    sorted.sort_by(|a, b| a.key.cmp(&b.key));
    out.extend(
        sorted
            .into_iter()
            .map(|kv| tag_of(&kv.key, kv.value.as_ref())),
    );
}

fn is_zero(id: &[u8]) -> bool {
    id.iter().all(|b| *b == 0)
}

fn span_tags(span: &Span, scope_tags: &[Tag]) -> Vec<Tag> {
    let mut tags = Vec::with_capacity(scope_tags.len() + span.attributes.len() + 4);
    tags.extend_from_slice(scope_tags);
    sorted_tags(&mut tags, &span.attributes);
    let kind = span_kind_name(span.kind);
    if !kind.is_empty() {
        tags.push(string_tag("span.kind", kind));
    }
    if let Some(status) = &span.status {
        match status.code {
            1 => tags.push(string_tag("otel.status_code", "OK")),
            2 => {
                tags.push(string_tag("otel.status_code", "ERROR"));
                tags.push(Tag {
                    key: "error".into(),
                    kind: "bool",
                    value: Value::Bool(true),
                });
            }
            _ => {}
        }
        if !status.message.is_empty() {
            tags.push(string_tag("otel.status_description", &status.message));
        }
    }
    if !span.trace_state.is_empty() {
        tags.push(string_tag("w3c.tracestate", &span.trace_state));
    }
    tags
}

fn references(span: &Span, trace_id: &str) -> Vec<Reference> {
    let mut refs = Vec::with_capacity(span.links.len() + 1);
    if !span.parent_span_id.is_empty() && !is_zero(&span.parent_span_id) {
        refs.push(Reference {
            ref_type: "CHILD_OF",
            trace_id: trace_id.to_string(),
            span_id: hex(&span.parent_span_id),
        });
    }
    for link in &span.links {
        let child_of = link.attributes.iter().any(|kv| {
            kv.key == "opentracing.ref_type"
                && matches!(
                    kv.value.as_ref().and_then(|v| v.value.as_ref()),
                    Some(any_value::Value::StringValue(s)) if s == "child_of"
                )
        });
        refs.push(Reference {
            ref_type: if child_of { "CHILD_OF" } else { "FOLLOWS_FROM" },
            trace_id: trace_id_text(&link.trace_id),
            span_id: hex(&link.span_id),
        });
    }
    refs
}

fn logs(span: &Span) -> Vec<Log> {
    let mut events: Vec<_> = span.events.iter().collect();
    events.sort_by_key(|e| e.time_unix_nano);
    events
        .into_iter()
        .map(|e| {
            let mut fields = Vec::with_capacity(e.attributes.len() + 1);
            if !e.name.is_empty() && !e.attributes.iter().any(|kv| kv.key == "event") {
                fields.push(string_tag("event", &e.name));
            }
            sorted_tags(&mut fields, &e.attributes);
            Log {
                timestamp: e.time_unix_nano / 1000,
                fields,
            }
        })
        .collect()
}

/// One OTLP trace as Jaeger's JSON trace; `None` when it has no spans.
pub fn to_jaeger(request: &ExportTraceServiceRequest) -> Option<JaegerTrace> {
    let mut processes: Vec<Process> = Vec::new();
    let mut spans = Vec::new();
    let mut trace_id = None;
    for rs in &request.resource_spans {
        let attributes = rs
            .resource
            .as_ref()
            .map(|r| &r.attributes[..])
            .unwrap_or(&[]);
        let service_name = attributes
            .iter()
            .find(|kv| kv.key == "service.name")
            .map(
                |kv| match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                    Some(any_value::Value::StringValue(s)) => s.clone(),
                    _ => tag_of("", kv.value.as_ref()).value.to_string(),
                },
            )
            .unwrap_or_else(|| "unknown_service".into());
        let others: Vec<KeyValue> = attributes
            .iter()
            .filter(|kv| kv.key != "service.name")
            .cloned()
            .collect();
        let mut tags = Vec::new();
        sorted_tags(&mut tags, &others);
        let process = Process { service_name, tags };
        // Resources per trace are few: a linear search keeps the first-seen order.
        let index = match processes.iter().position(|p| *p == process) {
            Some(i) => i,
            None => {
                processes.push(process);
                processes.len() - 1
            }
        };
        let process_id = format!("p{}", index + 1);
        for ss in &rs.scope_spans {
            let mut scope_tags = Vec::new();
            if let Some(scope) = &ss.scope {
                if !scope.name.is_empty() {
                    scope_tags.push(string_tag("otel.scope.name", &scope.name));
                }
                if !scope.version.is_empty() {
                    scope_tags.push(string_tag("otel.scope.version", &scope.version));
                }
            }
            for span in &ss.spans {
                let tid = trace_id_text(&span.trace_id);
                trace_id.get_or_insert_with(|| tid.clone());
                spans.push(JaegerSpan {
                    references: references(span, &tid),
                    trace_id: tid,
                    span_id: hex(&span.span_id),
                    operation_name: span.name.clone(),
                    start_time: span.start_time_unix_nano / 1000,
                    duration: span
                        .end_time_unix_nano
                        .saturating_sub(span.start_time_unix_nano)
                        / 1000,
                    tags: span_tags(span, &scope_tags),
                    logs: logs(span),
                    process_id: process_id.clone(),
                    warnings: None,
                });
            }
        }
    }
    Some(JaegerTrace {
        trace_id: trace_id?,
        spans,
        processes: processes
            .into_iter()
            .enumerate()
            .map(|(i, p)| (format!("p{}", i + 1), p))
            .collect(),
        warnings: None,
    })
}
