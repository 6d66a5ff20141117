//! Jaeger Thrift straight to OTLP protobuf bytes: the UDP and thrift_http receivers' fast path.
//!
//! The reference path ([`crate::thrift::jaeger`] into [`crate::model`], then
//! [`crate::to_otlp`], then a prost encode when the batch is exported) owns a `String` per tag
//! key and value and builds a prost struct per attribute. Here spans are read with the same
//! bounded Thrift reader, strings borrowed from the packet, into per-span scratch that is
//! reused, and each span's OTLP bytes are written into its scope group's buffer by the same
//! rules (`to_otlp`'s `status`, `take_count`, `parent_rule`, `kind_of`, `link_ref_type`; the
//! attribute order follows pdata's swap-removal exactly, as [`Attrs`] below mirrors).
//!
//! As the Zipkin direct path does, it refuses (`None`) rather than decide anything unusual,
//! and the caller runs the reference path, whose result or error stands: any decode error (so
//! error messages are the reference's), invalid UTF-8 (the reference replaces it), a key
//! given twice in one list, a tag type Thrift does not define, a list of the wrong element
//! type, a field given twice where the reference keeps the last, the process after the spans,
//! and more than [`MAX_SCOPES`] scopes. [`check_agrees`] (tests and the fuzz target) checks
//! that where it answers, its bytes are the reference's prost encoding.

use ferrotel_pdata::proto::common::v1::KeyValue;
use ferrotel_pdata::wire::write::{
    Val, field_len, put_bytes, put_fixed64, put_kv, put_len, put_nonempty, put_uint,
};
use prost::Message;

use crate::model::{Process, SpanRef, micros_to_nanos};
use crate::thrift::{Protocol, Reader, Type};
use crate::to_otlp::{
    self as rules, DROPPED_ATTRIBUTES, DROPPED_EVENTS, DROPPED_LINKS, EVENT_MESSAGE, EVENT_NAME,
    LIBRARY_NAME, LIBRARY_VERSION, REF_TYPE, RuleAttrs, SCOPE_NAME, SCOPE_VERSION, SPAN_KIND, Seen,
    TRACE_STATE,
};

/// Past this many scopes in one batch the linear group lookup would cost more than the
/// reference path's hash map.
const MAX_SCOPES: usize = 64;
/// Past this many tags in one list the duplicate-key check (quadratic) would cost more than
/// the reference's indexed one.
const MAX_TAGS: usize = 32;

/// The fast path leaves this input to the reference path.
struct Refused;

type Res<T> = Result<T, Refused>;

impl From<crate::thrift::DecodeError> for Refused {
    fn from(_: crate::thrift::DecodeError) -> Self {
        Refused
    }
}

/// An agent UDP packet (`emitBatch`): the OTLP `ExportTraceServiceRequest` bytes and span
/// count, or `None` where the reference path must decide.
pub fn translate_agent(packet: &[u8], protocol: Protocol) -> Option<(Vec<u8>, usize)> {
    let mut r = Reader::new(packet, protocol);
    let header = r.message_begin().ok()?;
    if (header.kind != 1 && header.kind != 4) || header.name != "emitBatch" {
        return None;
    }
    let mut out = None;
    r.struct_begin().ok()?;
    while let Some((t, id)) = r.field_begin().ok()? {
        match (id, t) {
            // Given twice, the reference keeps the second.
            (1, Type::Struct) if out.is_none() => out = Some(batch(&mut r).ok()?),
            (1, Type::Struct) => return None,
            _ => r.skip(t).ok()?,
        }
    }
    out
}

/// A thrift_http body (a bare `Batch`), as [`translate_agent`].
pub fn translate_batch(body: &[u8], protocol: Protocol) -> Option<(Vec<u8>, usize)> {
    batch(&mut Reader::new(body, protocol)).ok()
}

fn batch(r: &mut Reader<'_>) -> Res<(Vec<u8>, usize)> {
    let mut process: Option<Process> = None;
    let mut b: Option<Builder<'_>> = None;
    r.struct_begin()?;
    while let Some((t, id)) = r.field_begin()? {
        match (id, t) {
            (1, Type::Struct) if process.is_none() => {
                process = Some(crate::thrift::jaeger::process(r)?);
            }
            // The spans are written as they are read, so the process must come first (it
            // does from every client); a second process or span list is the reference's.
            (2, Type::List) if process.is_some() && b.is_none() => {
                let mut builder = Builder::default();
                builder.spans(r)?;
                b = Some(builder);
            }
            (1 | 2, _) => return Err(Refused),
            _ => r.skip(t)?,
        }
    }
    r.struct_end();
    let (Some(process), Some(b)) = (process, b) else {
        return Err(Refused);
    };
    Ok(b.finish(rules::resource_attributes(process)))
}

/// A tag's value, borrowed.
#[derive(Clone, Copy)]
enum Value<'a> {
    Str(&'a str),
    Double(f64),
    Bool(bool),
    Long(i64),
    Binary(&'a [u8]),
}

impl<'a> Value<'a> {
    fn seen(self) -> Seen<'a> {
        match self {
            Value::Str(s) => Seen::Str(s),
            Value::Long(i) => Seen::Int(i),
            Value::Bool(b) => Seen::Bool(b),
            Value::Double(_) | Value::Binary(_) => Seen::Other,
        }
    }

    /// As pdata's `Str()` reads it.
    fn str(self) -> &'a str {
        match self {
            Value::Str(s) => s,
            _ => "",
        }
    }

    fn val(self) -> Val<'a> {
        match self {
            Value::Str(s) => Val::Str(s),
            Value::Double(d) => Val::Double(d),
            Value::Bool(b) => Val::Bool(b),
            Value::Long(i) => Val::Int(i),
            Value::Binary(b) => Val::Bytes(b),
        }
    }
}

type Tag<'a> = (&'a str, Value<'a>);

/// Attributes with the reference's `Attrs` semantics (no repeated keys here: those are
/// refused), so removals reorder exactly as pdata's swap-removal does.
#[derive(Default)]
struct Attrs<'a>(Vec<Tag<'a>>);

impl<'a> Attrs<'a> {
    fn position(&self, key: &str) -> Option<usize> {
        self.0.iter().position(|(k, _)| *k == key)
    }

    fn remove(&mut self, key: &str) -> Option<Value<'a>> {
        let i = self.position(key)?;
        Some(self.0.swap_remove(i).1)
    }

    /// Fills from `tags`, refusing a repeated key (the reference replaces in place).
    fn fill(&mut self, tags: &[Tag<'a>]) -> Res<()> {
        if tags.len() > MAX_TAGS {
            return Err(Refused);
        }
        self.0.clear();
        for (i, t) in tags.iter().enumerate() {
            if tags[..i].iter().any(|u| u.0 == t.0) {
                return Err(Refused);
            }
            self.0.push(*t);
        }
        Ok(())
    }

    fn write(&self, buf: &mut Vec<u8>, field: u8) {
        for (k, v) in &self.0 {
            put_kv(buf, field, k, v.val());
        }
    }
}

impl RuleAttrs for Attrs<'_> {
    fn seen(&self, key: &str) -> Option<Seen<'_>> {
        let i = self.position(key)?;
        Some(self.0[i].1.seen())
    }

    fn remove_key(&mut self, key: &str) {
        self.remove(key);
    }
}

struct ScopeGroup<'a> {
    name: &'a str,
    version: &'a str,
    /// Encoded `ScopeSpans.spans` fields.
    spans: Vec<u8>,
}

/// One span as read: strings borrowed, lists in the builder's scratch.
#[derive(Default)]
struct SpanIn<'a> {
    trace_id_low: Option<i64>,
    trace_id_high: Option<i64>,
    span_id: Option<i64>,
    parent_span_id: Option<i64>,
    operation_name: Option<&'a str>,
    flags: Option<i32>,
    start_time: Option<i64>,
    duration: Option<i64>,
}

#[derive(Default)]
struct Builder<'a> {
    scopes: Vec<ScopeGroup<'a>>,
    spans: usize,
    // Per-span scratch, reused.
    tags: Vec<Tag<'a>>,
    refs: Vec<SpanRef>,
    /// (timestamp in ns, range of `fields`).
    logs: Vec<(u64, std::ops::Range<usize>)>,
    fields: Vec<Tag<'a>>,
    attrs: Attrs<'a>,
    event_attrs: Attrs<'a>,
    span: Vec<u8>,
    event: Vec<u8>,
}

fn str<'a>(r: &mut Reader<'a>) -> Res<&'a str> {
    let b = r.bytes()?;
    // Tag keys and values are short and nearly always ASCII: a plain scan costs less than
    // `from_utf8`'s set-up on short inputs (callgrind, 2026-12-07).
    if b.is_ascii() {
        // SAFETY: ASCII is valid UTF-8.
        return Ok(unsafe { std::str::from_utf8_unchecked(b) });
    }
    std::str::from_utf8(b).map_err(|_| Refused)
}

/// A list header whose elements must be structs.
fn struct_list(r: &mut Reader<'_>) -> Res<usize> {
    match r.list_begin()? {
        (Type::Struct, n) => Ok(n),
        _ => Err(Refused),
    }
}

/// A jaeger.thrift `Tag`, appended to `out`.
fn tag<'a>(r: &mut Reader<'a>, out: &mut Vec<Tag<'a>>) -> Res<()> {
    let mut key = None;
    let mut v_type = None;
    let (mut v_str, mut v_double, mut v_bool, mut v_long, mut v_binary) =
        (None, None, None, None, None);
    r.struct_begin()?;
    while let Some((t, id)) = r.field_begin()? {
        match (id, t) {
            (1, Type::Binary) => key = Some(str(r)?),
            (2, Type::I32) => v_type = Some(r.i32()?),
            (3, Type::Binary) => v_str = Some(str(r)?),
            (4, Type::Double) => v_double = Some(r.double()?),
            (5, Type::Bool) => v_bool = Some(r.bool()?),
            (6, Type::I64) => v_long = Some(r.i64()?),
            (7, Type::Binary) => v_binary = Some(r.bytes()?),
            _ => r.skip(t)?,
        }
    }
    r.struct_end();
    // An absent value reads as its type's zero, as in the reference.
    let value = match v_type.ok_or(Refused)? {
        0 => Value::Str(v_str.unwrap_or_default()),
        1 => Value::Double(v_double.unwrap_or_default()),
        2 => Value::Bool(v_bool.unwrap_or_default()),
        3 => Value::Long(v_long.unwrap_or_default()),
        4 => Value::Binary(v_binary.unwrap_or_default()),
        _ => return Err(Refused),
    };
    out.push((key.ok_or(Refused)?, value));
    Ok(())
}

fn tags<'a>(r: &mut Reader<'a>, out: &mut Vec<Tag<'a>>) -> Res<()> {
    out.clear();
    for _ in 0..struct_list(r)? {
        tag(r, out)?;
    }
    r.list_end();
    Ok(())
}

impl<'a> Builder<'a> {
    /// Reads the `spans` list, translating each span into its scope group.
    fn spans(&mut self, r: &mut Reader<'a>) -> Res<()> {
        for _ in 0..struct_list(r)? {
            self.span_in(r)?;
        }
        r.list_end();
        Ok(())
    }

    fn logs(&mut self, r: &mut Reader<'a>) -> Res<()> {
        self.logs.clear();
        self.fields.clear();
        for _ in 0..struct_list(r)? {
            let mut timestamp = None;
            let mut fields = None;
            r.struct_begin()?;
            while let Some((t, id)) = r.field_begin()? {
                match (id, t) {
                    (1, Type::I64) => timestamp = Some(r.i64()?),
                    (2, Type::List) if fields.is_none() => {
                        let from = self.fields.len();
                        for _ in 0..struct_list(r)? {
                            tag(r, &mut self.fields)?;
                        }
                        r.list_end();
                        fields = Some(from..self.fields.len());
                    }
                    (2, _) => return Err(Refused),
                    _ => r.skip(t)?,
                }
            }
            r.struct_end();
            let ts = micros_to_nanos(timestamp.ok_or(Refused)?);
            self.logs.push((ts, fields.ok_or(Refused)?));
        }
        r.list_end();
        Ok(())
    }

    fn span_in(&mut self, r: &mut Reader<'a>) -> Res<()> {
        let mut s = SpanIn::default();
        self.tags.clear();
        self.refs.clear();
        self.logs.clear();
        self.fields.clear();
        let mut lists = [false; 3];
        // A list given twice: the reference keeps the second, as the clears here would.
        let mut once = |i: usize| {
            let first = !lists[i];
            lists[i] = true;
            first
        };
        r.struct_begin()?;
        while let Some((t, id)) = r.field_begin()? {
            match (id, t) {
                (1, Type::I64) => s.trace_id_low = Some(r.i64()?),
                (2, Type::I64) => s.trace_id_high = Some(r.i64()?),
                (3, Type::I64) => s.span_id = Some(r.i64()?),
                (4, Type::I64) => s.parent_span_id = Some(r.i64()?),
                (5, Type::Binary) => s.operation_name = Some(str(r)?),
                (6, Type::List) if once(0) => {
                    for _ in 0..struct_list(r)? {
                        // No strings in a reference: the reference decoder's read serves.
                        self.refs.push(crate::thrift::jaeger::span_ref(r)?);
                    }
                    r.list_end();
                }
                (7, Type::I32) => s.flags = Some(r.i32()?),
                (8, Type::I64) => s.start_time = Some(r.i64()?),
                (9, Type::I64) => s.duration = Some(r.i64()?),
                (10, Type::List) if once(1) => tags(r, &mut self.tags)?,
                (11, Type::List) if once(2) => self.logs(r)?,
                (6 | 10 | 11, Type::List) => return Err(Refused),
                _ => r.skip(t)?,
            }
        }
        r.struct_end();
        self.add(&s)
    }

    /// Translates one span (as `to_otlp::span_to_otlp`) into its scope group.
    fn add(&mut self, s: &SpanIn<'a>) -> Res<()> {
        let start = s.start_time.ok_or(Refused)?;
        let duration = s.duration.ok_or(Refused)?;
        let low = s.trace_id_low.ok_or(Refused)? as u64;
        let high = s.trace_id_high.ok_or(Refused)? as u64;
        let span_id = s.span_id.ok_or(Refused)? as u64;
        let parent_span_id = s.parent_span_id.ok_or(Refused)? as u64;
        let name = s.operation_name.ok_or(Refused)?;
        let flags = s.flags.ok_or(Refused)?;
        let start_ns = micros_to_nanos(start);
        let end_ns = micros_to_nanos(start.wrapping_add(duration));
        // A span with nothing set, which the reference skips.
        if low == 0
            && high == 0
            && span_id == 0
            && parent_span_id == 0
            && name.is_empty()
            && flags == 0
            && start_ns == 0
            && end_ns == 0
            && self.refs.is_empty()
            && self.tags.is_empty()
            && self.logs.is_empty()
        {
            return Ok(());
        }
        // Attributes: the tags less the scope's (`take_scope`: order kept), then the rules'
        // removals, in the reference's order.
        self.attrs.fill(&self.tags)?;
        let scope = self.take_scope();
        let kind = self
            .attrs
            .remove(SPAN_KIND)
            .map_or(0, |k| rules::kind_of(k.str()) as i32);
        let status = rules::status(&mut self.attrs, kind);
        let trace_state = self.attrs.remove(TRACE_STATE).map_or("", Value::str);
        let dropped_attributes = rules::take_count(&mut self.attrs, DROPPED_ATTRIBUTES);
        let dropped_events = rules::take_count(&mut self.attrs, DROPPED_EVENTS);
        let dropped_links = rules::take_count(&mut self.attrs, DROPPED_LINKS);
        let parent = rules::parent_rule(parent_span_id, high, low, &self.refs);

        let b = &mut self.span;
        b.clear();
        let mut trace_id = [0u8; 16];
        trace_id[..8].copy_from_slice(&high.to_be_bytes());
        trace_id[8..].copy_from_slice(&low.to_be_bytes());
        put_bytes(b, 1, &trace_id);
        put_bytes(b, 2, &span_id.to_be_bytes());
        put_nonempty(b, 3, trace_state.as_bytes());
        if parent != 0 {
            put_bytes(b, 4, &parent.to_be_bytes());
        }
        put_nonempty(b, 5, name.as_bytes());
        put_uint(b, 6, kind as u64);
        put_fixed64(b, 7, start_ns);
        put_fixed64(b, 8, end_ns);
        self.attrs.write(b, 9);
        put_uint(b, 10, u64::from(dropped_attributes));
        for (time, range) in &self.logs {
            // `to_otlp::event`: `event`, else `message`, names it.
            self.event_attrs.fill(&self.fields[range.clone()])?;
            let event_name = self
                .event_attrs
                .remove(EVENT_NAME)
                .or_else(|| self.event_attrs.remove(EVENT_MESSAGE))
                .map_or("", Value::str);
            let dropped = rules::take_count(&mut self.event_attrs, DROPPED_ATTRIBUTES);
            let e = &mut self.event;
            e.clear();
            put_fixed64(e, 1, *time);
            put_nonempty(e, 2, event_name.as_bytes());
            self.event_attrs.write(e, 3);
            put_uint(e, 4, u64::from(dropped));
            put_bytes(b, 11, e);
        }
        put_uint(b, 12, u64::from(dropped_events));
        for r in &self.refs {
            let Some(ref_type) = rules::link_ref_type(r, parent) else {
                continue;
            };
            let mut id = [0u8; 16];
            id[..8].copy_from_slice(&r.trace_id_high.to_be_bytes());
            id[8..].copy_from_slice(&r.trace_id_low.to_be_bytes());
            let attr_len = {
                let v = Val::Str(ref_type).encoded_len();
                field_len(field_len(REF_TYPE.len()) + field_len(v))
            };
            put_len(b, 13, field_len(16) + field_len(8) + attr_len);
            put_bytes(b, 1, &id);
            put_bytes(b, 2, &r.span_id.to_be_bytes());
            put_kv(b, 4, REF_TYPE, Val::Str(ref_type));
        }
        put_uint(b, 14, u64::from(dropped_links));
        if let Some((code, message)) = status {
            let code_len = if code != 0 { 2 } else { 0 };
            let msg_len = if message.is_empty() {
                0
            } else {
                field_len(message.len())
            };
            put_len(b, 15, msg_len + code_len);
            put_nonempty(b, 2, message.as_bytes());
            put_uint(b, 3, code as u64);
        }
        let i = self.scope(scope)?;
        put_bytes(&mut self.scopes[i].spans, 2, &self.span);
        self.spans += 1;
        Ok(())
    }

    /// `to_otlp::take_scope` on the attributes: `otel.scope.*`, else the older
    /// `otel.library.*`, removed in order (not swapped) as the reference removes tags.
    fn take_scope(&mut self) -> (&'a str, &'a str) {
        let mut take = |key: &str| {
            let i = self.attrs.position(key)?;
            Some(self.attrs.0.remove(i).1.str())
        };
        let lib_name = take(LIBRARY_NAME);
        let lib_version = take(LIBRARY_VERSION);
        match take(SCOPE_NAME) {
            Some(name) => (name, take(SCOPE_VERSION).unwrap_or_default()),
            None => match lib_name {
                Some(name) => (name, lib_version.unwrap_or_default()),
                None => ("", ""),
            },
        }
    }

    /// The scope group's index, in first-seen order.
    fn scope(&mut self, (name, version): (&'a str, &'a str)) -> Res<usize> {
        if let Some(i) = self
            .scopes
            .iter()
            .rposition(|g| g.name == name && g.version == version)
        {
            return Ok(i);
        }
        if self.scopes.len() == MAX_SCOPES {
            return Err(Refused);
        }
        self.scopes.push(ScopeGroup {
            name,
            version,
            spans: Vec::new(),
        });
        Ok(self.scopes.len() - 1)
    }

    /// The request: one resource (the batch's process) with its scopes in first-seen order.
    fn finish(self, resource: Vec<KeyValue>) -> (Vec<u8>, usize) {
        let resource_len: usize = resource.iter().map(|kv| field_len(kv.encoded_len())).sum();
        // `InstrumentationScope` is always set, even empty, as the reference sets it.
        let part = |x: &str| if x.is_empty() { 0 } else { field_len(x.len()) };
        let scope_len = |g: &ScopeGroup<'_>| part(g.name) + part(g.version);
        let scope_spans_len = |g: &ScopeGroup<'_>| field_len(scope_len(g)) + g.spans.len();
        let len = field_len(resource_len)
            + self
                .scopes
                .iter()
                .map(|g| field_len(scope_spans_len(g)))
                .sum::<usize>();
        let mut out = Vec::with_capacity(field_len(len));
        put_len(&mut out, 1, len);
        put_len(&mut out, 1, resource_len);
        for kv in &resource {
            put_len(&mut out, 1, kv.encoded_len());
            kv.encode_raw(&mut out);
        }
        for g in &self.scopes {
            put_len(&mut out, 2, scope_spans_len(g));
            put_len(&mut out, 1, scope_len(g));
            put_nonempty(&mut out, 1, g.name.as_bytes());
            put_nonempty(&mut out, 2, g.version.as_bytes());
            out.extend_from_slice(&g.spans);
        }
        (out, self.spans)
    }
}

/// Checks the direct path against the reference on one input (an agent message if `agent`,
/// else a bare `Batch`), for the tests and the fuzz target: where the direct path answers,
/// the reference accepts the input and its prost encoding is byte for byte the direct path's
/// bytes, with the same span count. `Ok(false)`: the direct path refused.
#[doc(hidden)]
pub fn check_agrees(input: &[u8], protocol: Protocol, agent: bool) -> Result<bool, String> {
    use crate::thrift::jaeger::{AgentMessage, decode_agent_message, decode_batch};
    let (direct, reference) = if agent {
        (
            translate_agent(input, protocol),
            decode_agent_message(input, protocol).map(|AgentMessage::EmitBatch(b)| b),
        )
    } else {
        (
            translate_batch(input, protocol),
            decode_batch(input, protocol),
        )
    };
    let Some((bytes, spans)) = direct else {
        return Ok(false);
    };
    let batch =
        reference.map_err(|e| format!("direct path accepted what the reference refuses: {e}"))?;
    let want = rules::to_otlp(vec![batch]);
    if bytes != want.encode_to_vec() {
        let got = ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest::decode(
            bytes.as_slice(),
        );
        return Err(format!(
            "direct and reference bytes differ\n direct:    {got:?}\n reference: {want:?}"
        ));
    }
    let count: usize = want
        .resource_spans
        .iter()
        .flat_map(|rs| &rs.scope_spans)
        .map(|ss| ss.spans.len())
        .sum();
    if spans != count {
        return Err(format!(
            "direct path counted {spans} spans, the reference {count}"
        ));
    }
    Ok(true)
}
