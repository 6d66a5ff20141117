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
    spans: Vec<Box<SpanData>>,
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

fn span(s: Box<SpanData>) -> pt::Span {
    let s = *s;
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
        attributes: s
            .shared_attributes
            .iter()
            .chain(s.inline_attributes.iter())
            .chain(s.attributes)
            .map(owned_key_value)
            .collect(),
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

/// Finished spans straight to the protobuf bytes of an `ExportTraceServiceRequest`, without
/// the owned pdata structs (an allocation per string and attribute) in between: what the OTLP
/// exporter sends over gRPC and HTTP/protobuf. The bytes decode to what [`request`] builds.
pub mod proto {
    use std::time::SystemTime;

    use opentelemetry::trace::{SpanId, Status};
    use opentelemetry::{Array, InstrumentationScope, KeyValue, Value};

    use super::{HAS_IS_REMOTE, IS_REMOTE, nanos};
    use crate::inline::InlineValue;
    use crate::resource::Resource;
    use crate::span::SpanData;

    const VARINT: u32 = 0;
    const FIXED64: u32 = 1;
    const LEN: u32 = 2;
    const FIXED32: u32 = 5;

    use ferrotel_pdata::wire::{put_varint as varint, varint_len};

    #[inline]
    fn key(out: &mut Vec<u8>, field: u32, wire_type: u32) {
        varint(out, u64::from(field << 3 | wire_type));
    }

    #[inline]
    fn bytes(out: &mut Vec<u8>, field: u32, b: &[u8]) {
        key(out, field, LEN);
        varint(out, b.len() as u64);
        out.extend_from_slice(b);
    }

    /// A string or bytes field, left out when empty (proto3's default).
    #[inline]
    fn bytes_opt(out: &mut Vec<u8>, field: u32, b: &[u8]) {
        if !b.is_empty() {
            bytes(out, field, b);
        }
    }

    #[inline]
    fn uint_opt(out: &mut Vec<u8>, field: u32, v: u64) {
        if v != 0 {
            key(out, field, VARINT);
            varint(out, v);
        }
    }

    #[inline]
    fn fixed64(out: &mut Vec<u8>, field: u32, v: u64) {
        key(out, field, FIXED64);
        out.extend_from_slice(&v.to_le_bytes());
    }

    #[inline]
    fn fixed32(out: &mut Vec<u8>, field: u32, v: u32) {
        key(out, field, FIXED32);
        out.extend_from_slice(&v.to_le_bytes());
    }

    /// A nested message: `body` writes it after a length prefix of `guess` bytes, moved if the
    /// length needs another size (a shift of the message's bytes, rare with a fitting guess).
    #[inline]
    fn message(out: &mut Vec<u8>, field: u32, guess: usize, body: impl FnOnce(&mut Vec<u8>)) {
        key(out, field, LEN);
        let at = out.len();
        out.resize(at + guess, 0);
        body(out);
        let len = out.len() - at - guess;
        let need = varint_len(len as u64);
        if need > guess {
            let extra = need - guess;
            let end = out.len();
            out.resize(end + extra, 0);
            out.copy_within(at + guess..end, at + need);
        } else if need < guess {
            out.copy_within(at + guess.., at + need);
            out.truncate(out.len() - (guess - need));
        }
        let mut v = len as u64;
        for b in &mut out[at..at + need] {
            *b = v as u8 & 0x7f | 0x80;
            v >>= 7;
        }
        out[at + need - 1] &= 0x7f;
    }

    fn time(t: SystemTime) -> u64 {
        nanos(t)
    }

    /// An `AnyValue` (the oneof always written, even a default value, as prost does).
    fn any_value(out: &mut Vec<u8>, v: &Value) {
        match v {
            Value::Bool(b) => {
                key(out, 2, VARINT);
                out.push(u8::from(*b));
            }
            Value::I64(i) => {
                key(out, 3, VARINT);
                varint(out, *i as u64);
            }
            Value::F64(f) => fixed64(out, 4, f.to_bits()),
            Value::String(s) => bytes(out, 1, s.as_str().as_bytes()),
            Value::Array(a) => message(out, 5, 1, |out| match a {
                Array::Bool(v) => v
                    .iter()
                    .for_each(|b| message(out, 1, 1, |out| any_value(out, &Value::Bool(*b)))),
                Array::I64(v) => v
                    .iter()
                    .for_each(|i| message(out, 1, 1, |out| any_value(out, &Value::I64(*i)))),
                Array::F64(v) => v
                    .iter()
                    .for_each(|f| message(out, 1, 1, |out| any_value(out, &Value::F64(*f)))),
                Array::String(v) => v
                    .iter()
                    .for_each(|s| message(out, 1, 1, |out| bytes(out, 1, s.as_str().as_bytes()))),
                // A future array kind: its display form rather than nothing.
                other => message(out, 1, 1, |out| bytes(out, 1, other.to_string().as_bytes())),
            }),
            other => bytes(out, 1, other.as_str().as_bytes()),
        }
    }

    fn key_values<'a>(out: &mut Vec<u8>, field: u32, kvs: impl IntoIterator<Item = &'a KeyValue>) {
        kvs.into_iter().for_each(|kv| key_value(out, field, kv));
    }

    fn key_value(out: &mut Vec<u8>, field: u32, kv: &KeyValue) {
        message(out, field, 1, |out| {
            bytes_opt(out, 1, kv.key.as_str().as_bytes());
            message(out, 2, 1, |out| any_value(out, &kv.value));
        });
    }

    /// A `Resource` message's body, encoded once per exporter.
    pub fn resource(r: &Resource) -> Vec<u8> {
        let mut out = Vec::new();
        key_values(&mut out, 1, r.attributes().iter());
        out
    }

    fn scope(out: &mut Vec<u8>, sc: &InstrumentationScope) {
        message(out, 1, 1, |out| {
            bytes_opt(out, 1, sc.name().as_bytes());
            bytes_opt(out, 2, sc.version().unwrap_or_default().as_bytes());
            key_values(out, 3, sc.attributes());
        });
    }

    fn span(out: &mut Vec<u8>, s: &SpanData) {
        let sc = &s.span_context;
        bytes(out, 1, &sc.trace_id().to_bytes());
        bytes(out, 2, &sc.span_id().to_bytes());
        let trace_state = sc.trace_state().header();
        bytes_opt(out, 3, trace_state.as_bytes());
        if s.parent_span_id != SpanId::INVALID {
            bytes(out, 4, &s.parent_span_id.to_bytes());
        }
        bytes_opt(out, 5, s.name.as_bytes());
        uint_opt(out, 6, super::kind(&s.kind) as u64);
        fixed64(out, 7, time(s.start_time));
        fixed64(out, 8, time(s.end_time));
        s.shared_attributes
            .iter()
            .for_each(|kv| key_value(out, 9, &kv));
        for (k, v) in s.inline_attributes.entries() {
            message(out, 9, 1, |out| {
                bytes_opt(out, 1, k.as_bytes());
                message(out, 2, 1, |out| match v {
                    // Borrowed: no `Value` (and no string copy) to build.
                    InlineValue::Str(st) => bytes(out, 1, st.as_str().as_bytes()),
                    v => any_value(out, &v.to_value()),
                });
            });
        }
        key_values(out, 9, s.attributes.iter());
        uint_opt(out, 10, u64::from(s.dropped_attributes_count));
        for e in &s.events {
            message(out, 11, 1, |out| {
                fixed64(out, 1, time(e.timestamp));
                bytes_opt(out, 2, e.name.as_bytes());
                key_values(out, 3, e.attributes.iter());
                uint_opt(out, 4, u64::from(e.dropped_attributes_count));
            });
        }
        uint_opt(out, 12, u64::from(s.dropped_events_count));
        for l in &s.links {
            message(out, 13, 1, |out| {
                let lc = &l.span_context;
                bytes(out, 1, &lc.trace_id().to_bytes());
                bytes(out, 2, &lc.span_id().to_bytes());
                bytes_opt(out, 3, lc.trace_state().header().as_bytes());
                key_values(out, 4, l.attributes.iter());
                uint_opt(out, 5, u64::from(l.dropped_attributes_count));
                let remote = if lc.is_remote() { IS_REMOTE } else { 0 };
                fixed32(
                    out,
                    6,
                    u32::from(lc.trace_flags().to_u8()) | HAS_IS_REMOTE | remote,
                );
            });
        }
        uint_opt(out, 14, u64::from(s.dropped_links_count));
        match &s.status {
            Status::Unset => {}
            Status::Ok => message(out, 15, 1, |out| uint_opt(out, 3, 1)),
            Status::Error { description } => message(out, 15, 1, |out| {
                bytes_opt(out, 2, description.as_bytes());
                uint_opt(out, 3, 2);
            }),
        }
        // Field 16 (added to the schema last): written last, as prost orders fields by tag.
        let remote = if s.parent_is_remote { IS_REMOTE } else { 0 };
        fixed32(
            out,
            16,
            u32::from(sc.trace_flags().to_u8()) | HAS_IS_REMOTE | remote,
        );
    }

    /// The request for `spans` (grouped by scope in order of first appearance) appended to
    /// `out`; `resource` is [`resource`]'s encoding.
    pub fn request(
        out: &mut Vec<u8>,
        resource: &[u8],
        schema_url: Option<&str>,
        spans: &[Box<SpanData>],
    ) {
        // Few scopes per batch: a linear search by address beats hashing.
        let mut scopes: Vec<&'static InstrumentationScope> = Vec::new();
        for s in spans {
            if !scopes.iter().any(|sc| std::ptr::eq(*sc, s.scope)) {
                scopes.push(s.scope);
            }
        }
        message(out, 1, 3, |out| {
            message(out, 1, 1, |out| out.extend_from_slice(resource));
            for sc in &scopes {
                message(out, 2, 3, |out| {
                    scope(out, sc);
                    for s in spans.iter().filter(|s| std::ptr::eq(s.scope, *sc)) {
                        message(out, 2, 2, |out| span(out, s));
                    }
                    bytes_opt(out, 3, sc.schema_url().unwrap_or_default().as_bytes());
                });
            }
            bytes_opt(out, 3, schema_url.unwrap_or_default().as_bytes());
        });
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::time::Duration;

    use ferrotel_pdata::{Payload, Request, Signal};
    use opentelemetry::trace::{
        Event, Link, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
    };
    use opentelemetry::{Array, InstrumentationScope, KeyValue, StringValue, Value};

    use super::*;
    use crate::span::{Attributes, SpanData};

    fn leak(scope: InstrumentationScope) -> &'static InstrumentationScope {
        Box::leak(Box::new(scope))
    }

    fn ctx(t: u128, s: u64, flags: u8, remote: bool, state: &str) -> SpanContext {
        SpanContext::new(
            TraceId::from(t),
            SpanId::from(s),
            TraceFlags::new(flags),
            remote,
            TraceState::from_key_value(
                state
                    .split(',')
                    .filter(|e| !e.is_empty())
                    .filter_map(|e| e.split_once('='))
                    .map(|(k, v)| (k.to_owned(), v.to_owned())),
            )
            .unwrap_or_default(),
        )
    }

    fn span(scope: &'static InstrumentationScope, n: u64) -> Box<SpanData> {
        let t0 = UNIX_EPOCH + Duration::from_nanos(1_700_000_000_123_456_789 + n);
        let mut attributes = Attributes::new();
        attributes.extend([
            KeyValue::new("b", n.is_multiple_of(2)),
            KeyValue::new("i", -(n as i64) - 1),
            KeyValue::new("zero", 0i64),
            KeyValue::new("f", 1.5 * n as f64),
            KeyValue::new("s", format!("value {n} ü")),
            KeyValue::new("empty", ""),
            KeyValue::new("long", "x".repeat(200 + 50 * n as usize)),
            KeyValue::new("", "empty key"),
            KeyValue::new("ab", Value::Array(Array::Bool(vec![true, false]))),
            KeyValue::new("ai", Value::Array(Array::I64(vec![1, -2, 0]))),
            KeyValue::new("af", Value::Array(Array::F64(vec![0.0, 2.5]))),
            KeyValue::new(
                "as",
                Value::Array(Array::String(vec![StringValue::from("x"), "".into()])),
            ),
        ]);
        let status = match n % 3 {
            0 => Status::Unset,
            1 => Status::Ok,
            _ => Status::error(if n.is_multiple_of(2) { "" } else { "boom" }),
        };
        Box::new(SpanData {
            span_context: ctx(
                0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10 + u128::from(n),
                0x1112_1314_1516_1718 + n,
                if n.is_multiple_of(2) { 0x03 } else { 0x01 },
                false,
                if n.is_multiple_of(2) {
                    "ot=th:8,vendor=v1"
                } else {
                    ""
                },
            ),
            parent_span_id: if n.is_multiple_of(3) {
                SpanId::INVALID
            } else {
                SpanId::from(77 + n)
            },
            parent_is_remote: n % 4 == 1,
            kind: [
                SpanKind::Internal,
                SpanKind::Server,
                SpanKind::Client,
                SpanKind::Producer,
                SpanKind::Consumer,
            ][n as usize % 5]
                .clone(),
            name: if n == 3 {
                Cow::Borrowed("")
            } else {
                Cow::Owned(format!("span {n}"))
            },
            start_time: t0,
            end_time: t0 + Duration::from_micros(n),
            attributes,
            shared_attributes: Default::default(),
            inline_attributes: Default::default(),
            dropped_attributes_count: n as u32,
            events: (0..n % 3)
                .map(|i| {
                    Event::new(
                        format!("event {i}"),
                        t0 + Duration::from_nanos(i),
                        vec![KeyValue::new("k", i as i64)],
                        i as u32,
                    )
                })
                .collect(),
            dropped_events_count: (n % 2) as u32,
            links: (0..n % 2 + 1)
                .map(|i| {
                    Link::new(
                        ctx(99 + u128::from(i), 5 + i, 1, i == 0, "a=b"),
                        vec![KeyValue::new("link", "attr")],
                        i as u32,
                    )
                })
                .collect(),
            dropped_links_count: 300,
            status,
            scope,
        })
    }

    /// Both encodings decode to the same request: the direct one is what gRPC and
    /// HTTP/protobuf send, the struct one what HTTP/JSON is encoded from.
    #[test]
    fn direct_protobuf_matches_the_pdata_structs() {
        let plain = leak(InstrumentationScope::builder("plain").build());
        let full = leak(
            InstrumentationScope::builder("full")
                .with_version("1.2.3")
                .with_schema_url("https://opentelemetry.io/schemas/1.30.0")
                .with_attributes([KeyValue::new("scope.attr", 7)])
                .build(),
        );
        let res = Resource::new([
            KeyValue::new("service.name", "svc"),
            KeyValue::new("big", "r".repeat(20_000)),
        ]);
        for spans in [
            vec![],
            vec![span(plain, 0)],
            (0..40u64)
                .map(|n| span(if n.is_multiple_of(3) { full } else { plain }, n))
                .collect::<Vec<_>>(),
        ] {
            for schema in [None, Some("https://example.com/schema")] {
                let expected = Request::Traces(request(&resource(&res), schema, spans.clone()));
                let mut out = Vec::new();
                proto::request(&mut out, &proto::resource(&res), schema, &spans);
                let got = Payload::from_proto(Signal::Traces, out.clone().into())
                    .expect("valid OTLP")
                    .into_request()
                    .expect("decodes");
                assert!(got == expected, "the direct encoding decodes differently");
                let prost = expected.encode_proto().to_vec();
                let first_diff = out.iter().zip(&prost).position(|(a, b)| a != b);
                assert!(
                    out.len() == prost.len() && first_diff.is_none(),
                    "not byte for byte as prost: lengths {} and {}, first difference at {first_diff:?}: {:?} vs {:?}",
                    out.len(),
                    prost.len(),
                    first_diff.map(|i| &out[i.saturating_sub(8)..(i + 8).min(out.len())]),
                    first_diff.map(|i| &prost[i.saturating_sub(8)..(i + 8).min(prost.len())]),
                );
            }
        }
    }
}
