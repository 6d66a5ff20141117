//! OTLP → Jaeger (the `jaeger.api_v2` shape: one batch per resource, the parent as the first
//! CHILD_OF reference), per the OpenTelemetry specification's Jaeger mapping and the Go
//! Collector's `traces_to_jaegerproto.go` where the specification leaves room. Each rule and
//! its test are in docs/migration.md, "OTLP → Jaeger"; where we differ from Go it is
//! said there and below. The output reads back through [`crate::to_otlp`] to the same OTLP
//! for everything Jaeger carries (`from_otlp_tests.rs`, the round-trip properties).

use ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_pdata::proto::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use ferrotel_pdata::proto::resource::v1::Resource;
use ferrotel_pdata::proto::trace::v1::{Span as OtlpSpan, span, status::StatusCode};

use crate::model::{Batch, CHILD_OF, FOLLOWS_FROM, Log, Process, Span, SpanRef, Tag, TagValue};
use crate::to_otlp::*;

/// One batch per resource (Go skips a resource with neither attributes nor scopes); its spans
/// carry no process of their own.
pub fn from_otlp(req: &ExportTraceServiceRequest) -> Vec<Batch> {
    let mut out = Vec::with_capacity(req.resource_spans.len());
    for rs in &req.resource_spans {
        let no_attrs = rs.resource.as_ref().is_none_or(|r| r.attributes.is_empty());
        if no_attrs && rs.scope_spans.is_empty() {
            continue;
        }
        let n = rs.scope_spans.iter().map(|ss| ss.spans.len()).sum();
        let mut spans = Vec::with_capacity(n);
        for ss in &rs.scope_spans {
            for s in &ss.spans {
                spans.push(span_from_otlp(s, ss.scope.as_ref()));
            }
        }
        out.push(Batch {
            process: Some(process(rs.resource.as_ref())),
            spans,
        });
    }
    out
}

/// `service.name` names the process; the other attributes are its tags. No attributes at all
/// is Go's `OTLPResourceNoServiceName` (which the way back reads as "no resource"); attributes
/// without `service.name` leave the name empty, as Go (the specification would have the SDK's
/// default `unknown_service` here, which a collector cannot know).
fn process(resource: Option<&Resource>) -> Process {
    let attrs = resource.map_or(&[][..], |r| &r.attributes[..]);
    if attrs.is_empty() {
        return Process {
            service_name: NO_SERVICE_NAME.into(),
            tags: Vec::new(),
        };
    }
    let mut p = Process {
        service_name: String::new(),
        tags: Vec::with_capacity(attrs.len()),
    };
    for kv in attrs {
        if kv.key == SERVICE_NAME {
            p.service_name = str_value(kv.value.as_ref()).to_owned();
        } else {
            p.tags.push(tag(kv));
        }
    }
    p
}

fn str_value(v: Option<&AnyValue>) -> &str {
    match v.and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s,
        _ => "",
    }
}

/// An attribute as a tag of the same type; arrays and maps as JSON strings (the
/// specification; Go's `AsString`).
fn tag(kv: &KeyValue) -> Tag {
    use any_value::Value as V;
    let value = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
        None => TagValue::Str(String::new()),
        Some(V::StringValue(s)) => TagValue::Str(s.clone()),
        Some(V::BoolValue(b)) => TagValue::Bool(*b),
        Some(V::IntValue(i)) => TagValue::Long(*i),
        Some(V::DoubleValue(d)) => TagValue::Double(*d),
        Some(V::BytesValue(b)) => TagValue::Binary(b.to_vec()),
        Some(other) => TagValue::Str(ferrotel_pdata::text::json_text(other)),
    };
    Tag {
        key: kv.key.clone(),
        value,
    }
}

fn tag_str(key: &str, v: &str) -> Tag {
    Tag::str(key, v)
}

/// Big-endian halves of a 16-byte trace id; anything else (pdata refuses it) is zero.
fn trace_id(id: &[u8]) -> (u64, u64) {
    match <[u8; 16]>::try_from(id) {
        Ok(a) => (
            u64::from_be_bytes(a[..8].try_into().unwrap_or_default()),
            u64::from_be_bytes(a[8..].try_into().unwrap_or_default()),
        ),
        Err(_) => (0, 0),
    }
}

fn span_id(id: &[u8]) -> u64 {
    <[u8; 8]>::try_from(id).map_or(0, u64::from_be_bytes)
}

fn span_from_otlp(s: &OtlpSpan, scope: Option<&InstrumentationScope>) -> Span {
    let (high, low) = trace_id(&s.trace_id);
    Span {
        trace_id_high: high,
        trace_id_low: low,
        span_id: span_id(&s.span_id),
        parent_span_id: 0,
        operation_name: s.name.clone(),
        references: references(s, high, low),
        // Go sets no flags either: OTLP's sampled bit is not read on either side.
        flags: 0,
        start_unix_nano: s.start_time_unix_nano,
        end_unix_nano: s.end_time_unix_nano,
        tags: span_tags(s, scope),
        logs: s.events.iter().map(log).collect(),
        process: None,
    }
}

/// The parent first, as CHILD_OF in the span's own trace (the specification: backends look
/// for it there); then one reference per link, FOLLOWS_FROM unless the link's
/// `opentracing.ref_type` says `child_of`. A link to the parent itself only sets the
/// parent's type (Go), so a FOLLOWS_FROM parent comes back as one.
fn references(s: &OtlpSpan, high: u64, low: u64) -> Vec<SpanRef> {
    let parent = span_id(&s.parent_span_id);
    let mut refs = Vec::with_capacity(s.links.len() + usize::from(parent != 0));
    if parent != 0 {
        refs.push(SpanRef {
            ref_type: CHILD_OF,
            trace_id_high: high,
            trace_id_low: low,
            span_id: parent,
        });
    }
    for l in &s.links {
        let ref_type = match l.attributes.iter().find(|kv| kv.key == REF_TYPE) {
            Some(kv) if str_value(kv.value.as_ref()) == "child_of" => CHILD_OF,
            _ => FOLLOWS_FROM,
        };
        let (lh, ll) = trace_id(&l.trace_id);
        let id = span_id(&l.span_id);
        if parent != 0 && (lh, ll, id) == (high, low, parent) {
            refs[0].ref_type = ref_type;
            continue;
        }
        refs.push(SpanRef {
            ref_type,
            trace_id_high: lh,
            trace_id_low: ll,
            span_id: id,
        });
    }
    refs
}

/// Tags in Go's order: scope, attributes, kind, status, trace state; then the dropped counts
/// (the specification's generic mapping; Go writes none).
fn span_tags(s: &OtlpSpan, scope: Option<&InstrumentationScope>) -> Vec<Tag> {
    let mut tags = Vec::with_capacity(s.attributes.len() + 4);
    if let Some(sc) = scope {
        if !sc.name.is_empty() {
            tags.push(tag_str(SCOPE_NAME, &sc.name));
        }
        if !sc.version.is_empty() {
            tags.push(tag_str(SCOPE_VERSION, &sc.version));
        }
    }
    tags.extend(s.attributes.iter().map(tag));
    if let Some(kind) = kind_tag(s.kind) {
        tags.push(tag_str(SPAN_KIND, kind));
    }
    let (code, message) = s
        .status
        .as_ref()
        .map_or((0, ""), |st| (st.code, st.message.as_str()));
    if code == StatusCode::Ok as i32 {
        tags.push(tag_str(STATUS_CODE, "OK"));
    } else if code == StatusCode::Error as i32 {
        tags.push(tag_str(STATUS_CODE, "ERROR"));
        tags.push(Tag {
            key: ERROR.into(),
            value: TagValue::Bool(true),
        });
    }
    // Differs from Go, which writes a description even for UNSET: the specification reports
    // no status at all then (and the way back would keep it as a plain attribute).
    if !message.is_empty() && (code == StatusCode::Ok as i32 || code == StatusCode::Error as i32) {
        tags.push(tag_str(STATUS_DESCRIPTION, message));
    }
    if !s.trace_state.is_empty() {
        tags.push(tag_str(TRACE_STATE, &s.trace_state));
    }
    push_count(&mut tags, DROPPED_ATTRIBUTES, s.dropped_attributes_count);
    push_count(&mut tags, DROPPED_EVENTS, s.dropped_events_count);
    push_count(&mut tags, DROPPED_LINKS, s.dropped_links_count);
    tags
}

/// Go writes `internal` too (the specification says it SHOULD NOT); the way back reads it, so
/// INTERNAL survives a round trip, which it would not without the tag.
fn kind_tag(kind: i32) -> Option<&'static str> {
    use span::SpanKind::*;
    Some(match span::SpanKind::try_from(kind).ok()? {
        Client => "client",
        Server => "server",
        Producer => "producer",
        Consumer => "consumer",
        Internal => "internal",
        Unspecified => return None,
    })
}

fn push_count(tags: &mut Vec<Tag>, key: &str, n: u32) {
    if n != 0 {
        tags.push(Tag {
            key: key.into(),
            value: TagValue::Long(i64::from(n)),
        });
    }
}

/// An event as a log: the name as the `event` field unless an attribute of that name takes
/// precedence (the specification), the attributes, then a non-zero dropped count.
fn log(e: &span::Event) -> Log {
    let mut fields = Vec::with_capacity(e.attributes.len() + 1);
    if !e.name.is_empty() && !e.attributes.iter().any(|kv| kv.key == EVENT_NAME) {
        fields.push(tag_str(EVENT_NAME, &e.name));
    }
    fields.extend(e.attributes.iter().map(tag));
    push_count(&mut fields, DROPPED_ATTRIBUTES, e.dropped_attributes_count);
    Log {
        timestamp_unix_nano: e.time_unix_nano,
        fields,
    }
}
